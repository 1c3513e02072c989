/*
 * log_parse.c — an independent reader of the on-disk log format for the I-LOG checkers
 * (see log_image.h). Kafka's layout: a .log file is record batches v2 back to back:
 *
 *   baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 (2) | crc u32 |
 *   attributes i16 | lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64 |
 *   producerId i64 | producerEpoch i16 | baseSequence i32 | recordCount i32 | records...
 *
 * all big-endian; batchLength counts the bytes after its own field, and the CRC-32C covers
 * everything from attributes to the end of the batch.
 */
#include "checkers/log_image.h"

#include "base/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LI_BATCH_HEADER_BYTES 61
#define LI_LOG_OVERHEAD_BYTES 12 /* baseOffset + batchLength. */
#define LI_CRC_START          21 /* Offset of attributes. */
#define LI_BATCH_BYTES_MAX    (64u << 20)

static uint64_t li_be(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

uint32_t li_crc32c(const uint8_t *data, size_t len) {
    ASSERT(data != NULL || len == 0);
    /* Bitwise with a per-call nibble table: small, no global state, fast enough for
     * checkers (segments are read once per check). */
    uint32_t table[16];
    for (uint32_t n = 0; n < 16; n++) {
        uint32_t c = n;
        for (int k = 0; k < 4; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[n] = c;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ table[crc & 15];
        crc = (crc >> 4) ^ table[crc & 15];
    }
    return crc ^ 0xFFFFFFFFu;
}

int li_parse_segment_name(const char *name, const char *suffix, int64_t *base_offset) {
    ASSERT(name != NULL && suffix != NULL && base_offset != NULL);
    size_t n = strlen(name), s = strlen(suffix);
    if (n != 20 + s || strcmp(name + 20, suffix) != 0) return -EINVAL;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return -EINVAL;
        if (v > (INT64_MAX - (name[i] - '0')) / 10) return -EINVAL;
        v = v * 10 + (name[i] - '0');
    }
    *base_offset = v;
    return 0;
}

int64_t li_parse_segment(const uint8_t *bytes, size_t len, struct li_batch *out, size_t out_max,
                         uint64_t *tail_bytes) {
    ASSERT(bytes != NULL || len == 0);
    ASSERT(tail_bytes != NULL);
    size_t pos = 0, count = 0;
    while (len - pos >= LI_BATCH_HEADER_BYTES) {
        const uint8_t *b = bytes + pos;
        uint64_t batch_length = li_be(b + 8, 4);
        uint64_t total = LI_LOG_OVERHEAD_BYTES + batch_length;
        /* A length that cannot be right or runs past the end: the rest is a torn tail. */
        if (batch_length > LI_BATCH_BYTES_MAX || total < LI_BATCH_HEADER_BYTES ||
            total > len - pos) {
            break;
        }
        if (count == out_max) return -E2BIG;
        struct li_batch *batch = &out[count++];
        batch->base_offset = (int64_t)li_be(b, 8);
        batch->epoch = (int32_t)(uint32_t)li_be(b + 12, 4);
        batch->content_crc = (uint32_t)li_be(b + 17, 4);
        batch->last_offset = batch->base_offset + (int32_t)(uint32_t)li_be(b + 23, 4);
        batch->max_timestamp_ms = (int64_t)li_be(b + 35, 8);
        batch->position = pos;
        batch->size_bytes = (uint32_t)total;
        batch->crc_valid =
            b[16] == 2 && li_crc32c(b + LI_CRC_START, total - LI_CRC_START) == batch->content_crc;
        pos += total;
    }
    *tail_bytes = len - pos;
    return (int64_t)count;
}

int64_t li_parse_offset_index(const uint8_t *bytes, size_t len, int64_t base_offset,
                              struct li_index_entry *out, size_t out_max) {
    ASSERT(bytes != NULL || len == 0);
    size_t n = len / 8;
    if (n > out_max) return -E2BIG;
    for (size_t i = 0; i < n; i++) {
        out[i].offset = base_offset + (int32_t)(uint32_t)li_be(bytes + 8 * i, 4);
        out[i].position = li_be(bytes + 8 * i + 4, 4);
    }
    return (int64_t)n;
}

int64_t li_parse_time_index(const uint8_t *bytes, size_t len, int64_t base_offset,
                            struct li_time_entry *out, size_t out_max) {
    ASSERT(bytes != NULL || len == 0);
    size_t n = len / 12;
    if (n > out_max) return -E2BIG;
    for (size_t i = 0; i < n; i++) {
        out[i].timestamp_ms = (int64_t)li_be(bytes + 12 * i, 8);
        out[i].offset = base_offset + (int32_t)(uint32_t)li_be(bytes + 12 * i + 8, 4);
    }
    return (int64_t)n;
}

/* Reads a decimal integer at *p up to a space or newline; false if malformed. */
static bool li_parse_int(const char **p, const char *end, int64_t *out) {
    const char *c = *p;
    bool negative = c < end && *c == '-';
    if (negative) c++;
    if (c >= end || *c < '0' || *c > '9') return false;
    int64_t v = 0;
    while (c < end && *c >= '0' && *c <= '9') {
        if (v > (INT64_MAX - (*c - '0')) / 10) return false;
        v = v * 10 + (*c - '0');
        c++;
    }
    *out = negative ? -v : v;
    *p = c;
    return true;
}

int li_parse_offset_checkpoint(const char *text, size_t len, const char *topic, int32_t partition,
                               int64_t *offset) {
    ASSERT(text != NULL || len == 0);
    ASSERT(topic != NULL && offset != NULL);
    const char *p = text, *end = text + len;
    int64_t version, count;
    if (!li_parse_int(&p, end, &version) || version != 0 || p >= end || *p++ != '\n') {
        return -EBADMSG;
    }
    if (!li_parse_int(&p, end, &count) || count < 0 || p >= end || *p++ != '\n') return -EBADMSG;
    size_t topic_len = strlen(topic);
    for (int64_t i = 0; i < count; i++) {
        const char *space = memchr(p, ' ', (size_t)(end - p));
        if (space == NULL) return -EBADMSG;
        bool same_topic = (size_t)(space - p) == topic_len && memcmp(p, topic, topic_len) == 0;
        p = space + 1;
        int64_t part, value;
        if (!li_parse_int(&p, end, &part) || p >= end || *p++ != ' ') return -EBADMSG;
        if (!li_parse_int(&p, end, &value) || p >= end || *p++ != '\n') return -EBADMSG;
        if (same_topic && part == partition) {
            *offset = value;
            return 0;
        }
    }
    return p == end ? -ENOENT : -EBADMSG;
}
