/*
 * test_checker_log_parse.c — proves the checkers' independent reader of the on-disk log
 * format (checkers/log_image.h, log_parse.c):
 *  - its CRC-32C matches the standard check value, and batches built by system/log's own
 *    encoder (batch_build) parse with the right offsets, epochs, positions, sizes and a
 *    valid CRC — the independent reader and the real writer agree;
 *  - a flipped byte makes exactly that batch's CRC fail; a cut-off last batch is reported
 *    as a torn tail, not as a batch;
 *  - index and time-index entries, segment file names and Kafka's offset checkpoint text
 *    parse, and malformed ones are refused;
 *  - a parsed image passes I-LOG-1, and I-LOG-2 refuses a recovered log that kept a torn
 *    tail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "checkers/check.h"
#include "checkers/log_image.h"
#include "log/batch.h"

/* Three batches: offsets 0..2 (epoch 1), 3..4 (epoch 1), 5..8 (epoch 2). */
static size_t build_segment(uint8_t *buf, size_t cap, size_t *ends) {
    static const int64_t bases[3] = {0, 3, 5};
    static const size_t counts[3] = {3, 2, 4};
    static const int32_t epochs[3] = {1, 1, 2};
    size_t used = 0;
    for (int b = 0; b < 3; b++) {
        struct batch_record_in recs[4];
        char values[4][16];
        for (size_t r = 0; r < counts[b]; r++) {
            snprintf(values[r], sizeof(values[r]), "value-%d-%zu", b, r);
            recs[r] = (struct batch_record_in){.offset_delta = (int64_t)r,
                                               .timestamp = 1000 + b * 10 + (int64_t)r,
                                               .key = NULL,
                                               .key_len = -1,
                                               .value = (const uint8_t *)values[r],
                                               .value_len = (int32_t)strlen(values[r])};
        }
        struct batch_build_params params = {.base_offset = bases[b],
                                            .partition_leader_epoch = epochs[b],
                                            .attributes = 0,
                                            .producer_id = -1,
                                            .producer_epoch = -1,
                                            .base_sequence = -1};
        int64_t n = batch_build(buf + used, cap - used, &params, recs, counts[b]);
        assert_true(n > 0);
        used += (size_t)n;
        ends[b] = used;
    }
    return used;
}

static void test_crc_vector(void **state) {
    (void)state;
    assert_int_equal(li_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
    assert_int_equal(li_crc32c(NULL, 0), 0);
}

static void test_segment_from_system_log_encoder(void **state) {
    (void)state;
    uint8_t buf[4096];
    size_t ends[3];
    size_t len = build_segment(buf, sizeof(buf), ends);
    struct li_batch batches[8];
    uint64_t tail = 99;
    assert_int_equal(li_parse_segment(buf, len, batches, 8, &tail), 3);
    assert_int_equal(tail, 0);
    assert_int_equal(batches[0].base_offset, 0);
    assert_int_equal(batches[0].last_offset, 2);
    assert_int_equal(batches[1].base_offset, 3);
    assert_int_equal(batches[1].last_offset, 4);
    assert_int_equal(batches[2].base_offset, 5);
    assert_int_equal(batches[2].last_offset, 8);
    assert_int_equal(batches[2].epoch, 2);
    assert_int_equal(batches[0].position, 0);
    assert_int_equal(batches[1].position, ends[0]);
    assert_int_equal(batches[2].size_bytes, ends[2] - ends[1]);
    assert_int_equal(batches[2].max_timestamp_ms, 1023);
    for (int i = 0; i < 3; i++)
        assert_true(batches[i].crc_valid);

    /* Too small an output array is an error, not a silent cut. */
    assert_int_equal(li_parse_segment(buf, len, batches, 2, &tail), -E2BIG);

    /* A flipped byte in batch 1's records: only batch 1 fails its CRC. */
    buf[ends[1] - 3] ^= 0x40;
    assert_int_equal(li_parse_segment(buf, len, batches, 8, &tail), 3);
    assert_true(batches[0].crc_valid);
    assert_false(batches[1].crc_valid);
    assert_true(batches[2].crc_valid);
    buf[ends[1] - 3] ^= 0x40;

    /* The last batch cut mid-way (a torn tail write). */
    size_t cut = ends[1] + (ends[2] - ends[1]) / 2;
    assert_int_equal(li_parse_segment(buf, cut, batches, 8, &tail), 2);
    assert_int_equal(tail, cut - ends[1]);
    /* A length field that is garbage ends the parse there too. */
    memset(buf + ends[0] + 8, 0xFF, 4);
    assert_int_equal(li_parse_segment(buf, len, batches, 8, &tail), 1);
    assert_int_equal(tail, len - ends[0]);
}

static void test_indexes_names_checkpoints(void **state) {
    (void)state;
    /* Offset index: (rel 2, pos 0), (rel 8, pos 150) for base 100. */
    static const uint8_t idx[] = {0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 150, 0xAA};
    struct li_index_entry ie[4];
    assert_int_equal(li_parse_offset_index(idx, sizeof(idx), 100, ie, 4), 2);
    assert_int_equal(ie[0].offset, 102);
    assert_int_equal(ie[1].offset, 108);
    assert_int_equal(ie[1].position, 150);
    assert_int_equal(li_parse_offset_index(idx, sizeof(idx), 100, ie, 1), -E2BIG);
    static const uint8_t tix[] = {0, 0, 0, 0, 0, 0, 0x03, 0xE8, 0, 0, 0, 5};
    struct li_time_entry te[2];
    assert_int_equal(li_parse_time_index(tix, sizeof(tix), 10, te, 2), 1);
    assert_int_equal(te[0].timestamp_ms, 1000);
    assert_int_equal(te[0].offset, 15);

    int64_t base;
    assert_int_equal(li_parse_segment_name("00000000000000000042.log", ".log", &base), 0);
    assert_int_equal(base, 42);
    assert_int_equal(li_parse_segment_name("00000000000000000042.index", ".index", &base), 0);
    assert_int_equal(li_parse_segment_name("42.log", ".log", &base), -EINVAL);
    assert_int_equal(li_parse_segment_name("0000000000000000004x.log", ".log", &base), -EINVAL);
    assert_int_equal(li_parse_segment_name("00000000000000000042.log", ".index", &base), -EINVAL);

    static const char cp[] = "0\n3\nt1 0 42\nt1 1 7\nother 0 -1\n";
    int64_t off;
    assert_int_equal(li_parse_offset_checkpoint(cp, strlen(cp), "t1", 1, &off), 0);
    assert_int_equal(off, 7);
    assert_int_equal(li_parse_offset_checkpoint(cp, strlen(cp), "other", 0, &off), 0);
    assert_int_equal(off, -1);
    assert_int_equal(li_parse_offset_checkpoint(cp, strlen(cp), "t1", 2, &off), -ENOENT);
    assert_int_equal(li_parse_offset_checkpoint(cp, strlen(cp), "t", 0, &off), -ENOENT);
    static const char bad_version[] = "1\n0\n";
    assert_int_equal(li_parse_offset_checkpoint(bad_version, 4, "t1", 0, &off), -EBADMSG);
    static const char cut[] = "0\n2\nt1 0 42\nt1 1";
    assert_int_equal(li_parse_offset_checkpoint(cut, strlen(cut), "t1", 1, &off), -EBADMSG);
}

static void test_parsed_image_and_checkers(void **state) {
    (void)state;
    uint8_t buf[4096];
    size_t ends[3];
    size_t len = build_segment(buf, sizeof(buf), ends);
    struct li_batch batches[8];
    uint64_t tail;
    int64_t n = li_parse_segment(buf, len, batches, 8, &tail);
    assert_int_equal(n, 3);
    struct li_segment seg = {.file_name = "00000000000000000000.log",
                             .batches = batches,
                             .batch_count = (size_t)n,
                             .tail_bytes = tail};
    struct li_log log = {.node = "n1",
                         .topic = "t1",
                         .segments = &seg,
                         .segment_count = 1,
                         .recovery_point = 9,
                         .hw_checkpoint = 9,
                         .hw = 9,
                         .leo = -1};
    struct check_input in = {.logs = &log, .log_count = 1};
    struct check_result r;
    check_log_well_formed(&in, &r);
    assert_false(r.violated);
    assert_int_equal(r.checked_count, 3);

    /* The log before the crash held the same three batches; all fsynced. */
    struct check_recovery rec = {.recovered = &log,
                                 .appended = batches,
                                 .appended_count = 3,
                                 .synced_end_offset = 9,
                                 .crash_ns = 1};
    struct check_input in2 = {.recoveries = &rec, .recovery_count = 1};
    check_log_recovered(&in2, &r);
    assert_false(r.violated);
    /* Recovery that left a torn tail behind is a violation. */
    seg.tail_bytes = 17;
    check_log_recovered(&in2, &r);
    assert_true(r.violated);
    assert_non_null(strstr(r.summary, "a torn tail of 17 bytes survived recovery"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_vector),
        cmocka_unit_test(test_segment_from_system_log_encoder),
        cmocka_unit_test(test_indexes_names_checkpoints),
        cmocka_unit_test(test_parsed_image_and_checkers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
