/*
 * test_log_epoch_cache.c — proves the leader-epoch cache keeps epochs and start offsets
 * strictly increasing under any assign sequence (I-REPL-7), answers OffsetsForLeaderEpoch
 * like Kafka (latest epoch -> LEO; an older epoch -> next epoch's start; unknown/newer ->
 * undefined; older than the first -> the first start offset), and truncates from either end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log/epoch_cache.h"
#include "test_log_memio.h"

static void test_end_offsets(void **state) {
    (void)state;
    struct memio *m = memio_create(1);
    struct log_epoch_cache c;
    log_epoch_cache_init(&c, &m->io);
    int32_t e;
    int64_t o;
    log_epoch_cache_end_offset(&c, 0, 10, &e, &o);
    assert_int_equal(e, -1);
    assert_int_equal(o, -1);
    assert_true(log_epoch_cache_assign(&c, 2, 0));
    assert_true(log_epoch_cache_assign(&c, 4, 100));
    assert_true(log_epoch_cache_assign(&c, 7, 250));
    assert_false(log_epoch_cache_assign(&c, 7, 300)); /* Same epoch: no-op. */
    assert_false(log_epoch_cache_assign(&c, 5, 400)); /* Older epoch: no-op. */
    log_epoch_cache_end_offset(&c, 7, 999, &e, &o);
    assert_int_equal(e, 7);
    assert_int_equal(o, 999);
    log_epoch_cache_end_offset(&c, 4, 999, &e, &o);
    assert_int_equal(e, 4);
    assert_int_equal(o, 250);
    log_epoch_cache_end_offset(&c, 5, 999, &e, &o); /* Unknown, between 4 and 7. */
    assert_int_equal(e, 4);
    assert_int_equal(o, 250);
    log_epoch_cache_end_offset(&c, 1, 999, &e, &o); /* Older than the first. */
    assert_int_equal(e, 1);
    assert_int_equal(o, 0);
    log_epoch_cache_end_offset(&c, 8, 999, &e, &o); /* Newer than the latest. */
    assert_int_equal(e, -1);
    assert_int_equal(o, -1);
    /* A new epoch at an offset at or below existing starts replaces them. */
    assert_true(log_epoch_cache_assign(&c, 9, 100));
    assert_int_equal(c.count, 2);
    assert_int_equal(c.entries[1].epoch, 9);
    log_epoch_cache_deinit(&c);
    memio_destroy(m);
}

static void test_truncation(void **state) {
    (void)state;
    struct memio *m = memio_create(1);
    struct log_epoch_cache c;
    log_epoch_cache_init(&c, &m->io);
    log_epoch_cache_assign(&c, 1, 0);
    log_epoch_cache_assign(&c, 2, 10);
    log_epoch_cache_assign(&c, 3, 20);
    assert_false(log_epoch_cache_truncate_from_end(&c, 25));
    assert_true(log_epoch_cache_truncate_from_end(&c, 20));
    assert_int_equal(log_epoch_cache_latest(&c), 2);
    assert_true(log_epoch_cache_truncate_from_start(&c, 15));
    assert_int_equal(c.count, 1);
    assert_int_equal(c.entries[0].epoch, 2);
    assert_int_equal(c.entries[0].start_offset, 15);
    assert_false(log_epoch_cache_truncate_from_start(&c, 15));
    assert_false(log_epoch_cache_truncate_from_start(&c, 3));
    log_epoch_cache_deinit(&c);
    memio_destroy(m);
}

static void test_random_sequences_stay_monotonic(void **state) {
    (void)state;
    struct memio *m = memio_create(7);
    struct log_epoch_cache c;
    log_epoch_cache_init(&c, &m->io);
    for (int i = 0; i < 20000; i++) {
        uint64_t r = memio_rand(m);
        int32_t epoch = (int32_t)(r % 64);
        int64_t off = (int64_t)((r >> 8) % 1000);
        switch ((r >> 20) % 4) {
        case 0: case 1: log_epoch_cache_assign(&c, epoch, off); break;
        case 2: log_epoch_cache_truncate_from_end(&c, off); break;
        default: log_epoch_cache_truncate_from_start(&c, off / 4); break;
        }
        for (size_t k = 1; k < c.count; k++) {
            assert_true(c.entries[k].epoch > c.entries[k - 1].epoch);
            assert_true(c.entries[k].start_offset > c.entries[k - 1].start_offset);
        }
        if (c.count > 50) log_epoch_cache_truncate_from_end(&c, 0);
    }
    struct log_epoch_entry bad[] = {{3, 10}, {2, 20}};
    assert_int_equal(log_epoch_cache_load(&c, bad, 2), -EBADMSG);
    assert_int_equal(c.count, 0);
    log_epoch_cache_deinit(&c);
    memio_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end_offsets),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_random_sequences_stay_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
