/*
 * batch.c — the record batch v2 codec (see batch.h for the layout and error codes).
 *
 * Every read is bounds-checked against the caller's length: these bytes come from the
 * network and from disks that may have torn writes, so nothing here may trust a size
 * field before checking it against what is actually there.
 */
#include "log/batch.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "log/crc32c.h"

int batch_varint_decode(const uint8_t *p, const uint8_t *end, int64_t *out) {
    uint64_t raw = 0;
    for (int i = 0; i < 10; i++) {
        if (p + i >= end) return -EBADMSG;
        uint8_t b = p[i];
        if (i == 9 && b > 1) return -EBADMSG; /* More than 64 bits. */
        raw |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = (int64_t)(raw >> 1) ^ -(int64_t)(raw & 1);
            return i + 1;
        }
    }
    return -EBADMSG;
}

size_t batch_varint_encode(int64_t v, uint8_t *out) {
    uint64_t raw = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (raw >= 0x80) {
        out[n++] = (uint8_t)(raw | 0x80);
        raw >>= 7;
    }
    out[n++] = (uint8_t)raw;
    ASSERT(n <= 10);
    return n;
}

static size_t varint_size(int64_t v) {
    uint8_t tmp[10];
    return batch_varint_encode(v, tmp);
}

int batch_header_decode(const uint8_t *buf, size_t len, struct batch_header *out) {
    if (len < BATCH_HEADER_BYTES) return -ENODATA;
    out->base_offset = (int64_t)batch_be64(buf + 0);
    out->batch_length = (int32_t)batch_be32(buf + 8);
    out->partition_leader_epoch = (int32_t)batch_be32(buf + 12);
    out->magic = (int8_t)buf[16];
    out->crc = batch_be32(buf + 17);
    out->attributes = (int16_t)batch_be16(buf + 21);
    out->last_offset_delta = (int32_t)batch_be32(buf + 23);
    out->base_timestamp = (int64_t)batch_be64(buf + 27);
    out->max_timestamp = (int64_t)batch_be64(buf + 35);
    out->producer_id = (int64_t)batch_be64(buf + 43);
    out->producer_epoch = (int16_t)batch_be16(buf + 51);
    out->base_sequence = (int32_t)batch_be32(buf + 53);
    out->records_count = (int32_t)batch_be32(buf + 57);
    return 0;
}

int batch_check(const uint8_t *buf, size_t len, size_t max_batch_bytes, struct batch_header *out) {
    struct batch_header h;
    int rc = batch_header_decode(buf, len, &h);
    if (rc < 0) return rc;
    if (h.magic != BATCH_MAGIC_V2) return -EINVAL;
    if (h.batch_length < (int32_t)(BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD)) return -EINVAL;
    size_t total = batch_total_bytes(&h);
    if (total > max_batch_bytes) return -EMSGSIZE;
    if (len < total) return -ENODATA;
    if (h.last_offset_delta < 0 || h.records_count < 0 || h.base_offset < 0) return -EINVAL;
    uint32_t crc = crc32c_update(0, buf + BATCH_CRC_START, total - BATCH_CRC_START);
    if (crc != h.crc) return -EBADMSG;
    *out = h;
    return 0;
}

int batch_records_begin(const uint8_t *batch, size_t len, struct batch_record_iter *it) {
    struct batch_header h;
    int rc = batch_header_decode(batch, len, &h);
    if (rc < 0) return rc;
    if (batch_compression(&h) != BATCH_COMPRESSION_NONE) return -ENOTSUP;
    size_t total = batch_total_bytes(&h);
    if (h.batch_length < (int32_t)(BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD) || total > len) {
        return -ENODATA;
    }
    if (h.records_count < 0) return -EBADMSG;
    it->pos = batch + BATCH_HEADER_BYTES;
    it->end = batch + total;
    it->remaining = h.records_count;
    return 0;
}

/* Reads a varint that must fit an int32 (and be >= min). */
static int read_int32(const uint8_t **p, const uint8_t *end, int32_t min, int32_t *out) {
    int64_t v;
    int n = batch_varint_decode(*p, end, &v);
    if (n < 0) return n;
    if (v < min || v > INT32_MAX) return -EBADMSG;
    *p += n;
    *out = (int32_t)v;
    return 0;
}

/* Reads a nullable byte string: length varint (-1 null) then bytes. */
static int read_bytes(const uint8_t **p, const uint8_t *end, const uint8_t **data,
                      int32_t *len) {
    int rc = read_int32(p, end, -1, len);
    if (rc < 0) return rc;
    if (*len < 0) {
        *data = NULL;
        return 0;
    }
    if ((size_t)(end - *p) < (size_t)*len) return -EBADMSG;
    *data = *p;
    *p += *len;
    return 0;
}

int batch_records_next(struct batch_record_iter *it, struct batch_record *out) {
    if (it->remaining == 0) return it->pos == it->end ? 0 : -EBADMSG;
    ASSERT(it->remaining > 0);
    const uint8_t *start = it->pos;
    const uint8_t *p = it->pos;
    int32_t length;
    int rc = read_int32(&p, it->end, 0, &length);
    if (rc < 0) return rc;
    if ((size_t)(it->end - p) < (size_t)length) return -EBADMSG;
    const uint8_t *rec_end = p + length;
    if (length < 1) return -EBADMSG;
    out->attributes = (int8_t)*p++;
    int64_t v;
    int n = batch_varint_decode(p, rec_end, &v);
    if (n < 0) return n;
    p += n;
    out->timestamp_delta = v;
    rc = read_int32(&p, rec_end, 0, &out->offset_delta);
    if (rc < 0) return rc;
    rc = read_bytes(&p, rec_end, &out->key, &out->key_len);
    if (rc < 0) return rc;
    rc = read_bytes(&p, rec_end, &out->value, &out->value_len);
    if (rc < 0) return rc;
    rc = read_int32(&p, rec_end, 0, &out->header_count);
    if (rc < 0) return rc;
    out->headers = p;
    /* Walk the headers to prove they fit exactly; header keys may not be null. */
    for (int32_t i = 0; i < out->header_count; i++) {
        const uint8_t *d;
        int32_t l;
        rc = read_bytes(&p, rec_end, &d, &l);
        if (rc < 0) return rc;
        if (l < 0) return -EBADMSG;
        rc = read_bytes(&p, rec_end, &d, &l);
        if (rc < 0) return rc;
    }
    if (p != rec_end) return -EBADMSG;
    out->headers_len = (size_t)(p - out->headers);
    out->raw = start;
    out->raw_len = (size_t)(rec_end - start);
    it->pos = rec_end;
    it->remaining--;
    return 1;
}

int batch_validate_produce(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                           struct batch_header *out) {
    struct batch_header h;
    int rc = batch_check(buf, len, max_batch_bytes, &h);
    if (rc < 0) return rc;
    if (batch_is_control(&h)) return -EINVAL;
    if (h.records_count < 1 || h.last_offset_delta != h.records_count - 1) return -EINVAL;
    if (batch_compression(&h) > BATCH_COMPRESSION_ZSTD) return -EINVAL;
    if (batch_is_transactional(&h) && h.producer_id < 0) return -EINVAL;
    if (batch_compression(&h) == BATCH_COMPRESSION_NONE) {
        struct batch_record_iter it;
        rc = batch_records_begin(buf, len, &it);
        if (rc < 0) return rc;
        struct batch_record r;
        int32_t expect = 0;
        while ((rc = batch_records_next(&it, &r)) == 1) {
            if (r.offset_delta != expect) return -EINVAL;
            expect++;
        }
        if (rc < 0) return rc;
        ASSERT(expect == h.records_count);
    }
    *out = h;
    return 0;
}

int batch_validate_produce_set(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                               struct batch_set_info *info) {
    memset(info, 0, sizeof *info);
    info->max_timestamp = BATCH_NO_TIMESTAMP;
    if (len == 0) return -EINVAL;
    size_t pos = 0;
    struct batch_header first = {0};
    /* Bounded: every batch consumes at least BATCH_HEADER_BYTES. */
    while (pos < len) {
        struct batch_header h;
        int rc = batch_validate_produce(buf + pos, len - pos, max_batch_bytes, &h);
        if (rc == -ENODATA) return -EINVAL; /* A partial trailing batch from a client. */
        if (rc < 0) return rc;
        if (info->batch_count == 0) {
            first = h;
            info->producer_id = h.producer_id;
            info->compression = batch_compression(&h);
        } else if (h.producer_id != first.producer_id ||
                   h.producer_epoch != first.producer_epoch ||
                   batch_is_transactional(&h) != batch_is_transactional(&first)) {
            return -EINVAL;
        }
        info->batch_count++;
        info->record_count += (uint32_t)h.records_count;
        info->max_timestamp = MAX(info->max_timestamp, h.max_timestamp);
        info->transactional |= batch_is_transactional(&h);
        pos += batch_total_bytes(&h);
    }
    ASSERT(pos == len);
    return 0;
}

void batch_stamp(uint8_t *batch, int64_t base_offset, int32_t partition_leader_epoch) {
    ASSERT(base_offset >= 0);
    batch_put64(batch + 0, (uint64_t)base_offset);
    batch_put32(batch + 12, (uint32_t)partition_leader_epoch);
}

void batch_crc_update(uint8_t *batch, size_t len) {
    ASSERT(len >= BATCH_HEADER_BYTES);
    batch_put32(batch + 17, crc32c_update(0, batch + BATCH_CRC_START, len - BATCH_CRC_START));
}

/* Writes the fixed header fields; batchLength, crc and recordsCount are filled by callers. */
static void put_header(uint8_t *buf, const struct batch_build_params *p, int32_t last_delta,
                       int64_t base_ts, int64_t max_ts) {
    batch_put64(buf + 0, (uint64_t)p->base_offset);
    batch_put32(buf + 12, (uint32_t)p->partition_leader_epoch);
    buf[16] = BATCH_MAGIC_V2;
    batch_put16(buf + 21, (uint16_t)p->attributes);
    batch_put32(buf + 23, (uint32_t)last_delta);
    batch_put64(buf + 27, (uint64_t)base_ts);
    batch_put64(buf + 35, (uint64_t)max_ts);
    batch_put64(buf + 43, (uint64_t)p->producer_id);
    batch_put16(buf + 51, (uint16_t)p->producer_epoch);
    batch_put32(buf + 53, (uint32_t)p->base_sequence);
}

static size_t record_body_size(const struct batch_record_in *r, int64_t base_ts) {
    size_t n = 1; /* attributes */
    n += varint_size(r->timestamp - base_ts);
    n += varint_size(r->offset_delta);
    n += varint_size(r->key ? r->key_len : -1) + (r->key ? (size_t)r->key_len : 0);
    n += varint_size(r->value ? r->value_len : -1) + (r->value ? (size_t)r->value_len : 0);
    n += 1; /* header count 0 */
    return n;
}

int64_t batch_build(uint8_t *buf, size_t cap, const struct batch_build_params *params,
                    const struct batch_record_in *records, size_t count) {
    ASSERT(count >= 1 && count <= INT32_MAX);
    ASSERT((params->attributes & BATCH_ATTR_COMPRESSION_MASK) == 0);
    int64_t base_ts = records[0].timestamp;
    int64_t max_ts = base_ts;
    size_t total = BATCH_HEADER_BYTES;
    for (size_t i = 0; i < count; i++) {
        ASSERT(i == 0 || records[i].offset_delta > records[i - 1].offset_delta);
        ASSERT(records[0].offset_delta >= 0);
        max_ts = MAX(max_ts, records[i].timestamp);
        size_t body = record_body_size(&records[i], base_ts);
        total += varint_size((int64_t)body) + body;
    }
    if (total > cap || total > INT32_MAX) return -ENOSPC;
    int64_t last_delta = records[count - 1].offset_delta;
    ASSERT(last_delta <= INT32_MAX);
    put_header(buf, params, (int32_t)last_delta, base_ts, max_ts);
    batch_put32(buf + 8, (uint32_t)(total - BATCH_LOG_OVERHEAD));
    batch_put32(buf + 57, (uint32_t)count);
    uint8_t *p = buf + BATCH_HEADER_BYTES;
    for (size_t i = 0; i < count; i++) {
        const struct batch_record_in *r = &records[i];
        size_t body = record_body_size(r, base_ts);
        p += batch_varint_encode((int64_t)body, p);
        uint8_t *body_start = p;
        *p++ = 0;
        p += batch_varint_encode(r->timestamp - base_ts, p);
        p += batch_varint_encode(r->offset_delta, p);
        p += batch_varint_encode(r->key ? r->key_len : -1, p);
        if (r->key) {
            memcpy(p, r->key, (size_t)r->key_len);
            p += r->key_len;
        }
        p += batch_varint_encode(r->value ? r->value_len : -1, p);
        if (r->value) {
            memcpy(p, r->value, (size_t)r->value_len);
            p += r->value_len;
        }
        *p++ = 0; /* No headers. */
        ASSERT((size_t)(p - body_start) == body);
    }
    ASSERT((size_t)(p - buf) == total);
    batch_crc_update(buf, total);
    return (int64_t)total;
}

int64_t batch_build_control(uint8_t *buf, size_t cap, int64_t base_offset, int64_t producer_id,
                            int16_t producer_epoch, enum batch_control_type type,
                            int32_t coordinator_epoch, int64_t timestamp) {
    uint8_t key[4];
    uint8_t value[6];
    batch_put16(key, 0); /* Control record key version. */
    batch_put16(key + 2, (uint16_t)type);
    batch_put16(value, 0); /* Marker value version. */
    batch_put32(value + 2, (uint32_t)coordinator_epoch);
    struct batch_record_in rec = {.offset_delta = 0, .timestamp = timestamp, .key = key,
                                  .key_len = 4, .value = value, .value_len = 6};
    struct batch_build_params params = {
        .base_offset = base_offset,
        .partition_leader_epoch = -1,
        .attributes = BATCH_ATTR_TRANSACTIONAL | BATCH_ATTR_CONTROL,
        .producer_id = producer_id,
        .producer_epoch = producer_epoch,
        .base_sequence = BATCH_NO_SEQUENCE,
    };
    return batch_build(buf, cap, &params, &rec, 1);
}

int batch_control_decode(const uint8_t *batch, size_t len, enum batch_control_type *type,
                         int32_t *coordinator_epoch) {
    struct batch_record_iter it;
    int rc = batch_records_begin(batch, len, &it);
    if (rc < 0) return rc;
    struct batch_record r;
    rc = batch_records_next(&it, &r);
    if (rc < 0) return rc;
    if (rc == 0 || r.key_len < 4 || r.value_len < 6) return -EBADMSG;
    uint16_t kind = batch_be16(r.key + 2);
    if (batch_be16(r.key) != 0 || kind > BATCH_CONTROL_COMMIT) return -EBADMSG;
    *type = (enum batch_control_type)kind;
    *coordinator_epoch = (int32_t)batch_be32(r.value + 2);
    return 0;
}

int64_t batch_filter(const uint8_t *batch, size_t len, const bool *keep, size_t keep_count,
                     uint8_t *out, size_t cap) {
    struct batch_record_iter it;
    int rc = batch_records_begin(batch, len, &it);
    if (rc < 0) return rc;
    if (cap < BATCH_HEADER_BYTES) return -ENOSPC;
    size_t pos = BATCH_HEADER_BYTES;
    int32_t kept = 0;
    size_t i = 0;
    struct batch_record r;
    while ((rc = batch_records_next(&it, &r)) == 1) {
        ASSERT(i < keep_count);
        if (keep[i]) {
            if (pos + r.raw_len > cap) return -ENOSPC;
            memcpy(out + pos, r.raw, r.raw_len);
            pos += r.raw_len;
            kept++;
        }
        i++;
    }
    if (rc < 0) return rc;
    ASSERT(i == keep_count);
    if (kept == 0) return 0;
    memcpy(out, batch, BATCH_HEADER_BYTES);
    batch_put32(out + 8, (uint32_t)(pos - BATCH_LOG_OVERHEAD));
    batch_put32(out + 57, (uint32_t)kept);
    batch_crc_update(out, pos);
    return (int64_t)pos;
}

int64_t batch_build_empty(const uint8_t *batch, size_t len, uint8_t *out, size_t cap) {
    if (len < BATCH_HEADER_BYTES) return -ENODATA;
    if (cap < BATCH_HEADER_BYTES) return -ENOSPC;
    memmove(out, batch, BATCH_HEADER_BYTES);
    batch_put32(out + 8, BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD);
    batch_put32(out + 57, 0);
    batch_crc_update(out, BATCH_HEADER_BYTES);
    return BATCH_HEADER_BYTES;
}
