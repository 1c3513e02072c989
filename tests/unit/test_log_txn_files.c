/*
 * test_log_txn_files.c — proves the .txnindex entry is 34 big-endian bytes in Kafka's field
 * order and round-trips, and that producer-state snapshots round-trip through io, carry
 * a CRC-32C over everything after the CRC field that catches any flipped bit, and refuse
 * wrong versions and counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log/batch.h"
#include "log/txn_files.h"
#include "test_log_memio.h"

static void test_txn_index_entry(void **state) {
    (void)state;
    struct log_aborted_txn t = {0x0102030405060708ll, 100, 250, 90};
    uint8_t b[LOG_TXN_INDEX_ENTRY_BYTES];
    log_txn_index_encode(b, &t);
    assert_int_equal(batch_be16(b), 0);
    assert_int_equal(b[2], 0x01);
    assert_int_equal(b[9], 0x08);
    assert_int_equal(batch_be64(b + 10), 100);
    assert_int_equal(batch_be64(b + 18), 250);
    assert_int_equal(batch_be64(b + 26), 90);
    struct log_aborted_txn back;
    assert_int_equal(log_txn_index_decode(b, &back), 0);
    assert_memory_equal(&back, &t, sizeof t);
    b[1] = 1;
    assert_int_equal(log_txn_index_decode(b, &back), -EBADMSG);
}

static void test_snapshot_roundtrip_and_crc(void **state) {
    (void)state;
    struct memio *m = memio_create(1);
    assert_int_equal(io_mkdir(&m->io, "p"), 0);
    struct log_producer_entry e[3] = {
        {1000, 3, 41, 500, 4, 1700000000000ll, 7, -1},
        {1001, 0, 0, 501, 0, 1700000000001ll, -1, 480},
        {1002, 9, 2147483647, 777, 9, 5, 2, 700},
    };
    assert_int_equal(log_snapshot_write(&m->io, "p", 778, e, 3), 0);
    struct memio_file_state *f = memio_file(m, "p/00000000000000000778.snapshot");
    assert_non_null(f);
    assert_int_equal(f->cur_len, LOG_SNAPSHOT_HEADER_BYTES + 3 * LOG_SNAPSHOT_ENTRY_BYTES);
    assert_int_equal(batch_be16(f->cur), 1);
    struct log_producer_entry back[4];
    size_t count;
    assert_int_equal(log_snapshot_read(&m->io, "p", 778, back, 4, &count), 0);
    assert_int_equal(count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(back[i].producer_id, e[i].producer_id);
        assert_int_equal(back[i].producer_epoch, e[i].producer_epoch);
        assert_int_equal(back[i].last_sequence, e[i].last_sequence);
        assert_int_equal(back[i].current_txn_first_offset, e[i].current_txn_first_offset);
    }
    /* Every single-bit flip is caught (by the CRC, or the version/count checks). */
    uint8_t buf[256];
    int64_t n = log_snapshot_encode(buf, sizeof buf, e, 3);
    for (int64_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1 << bit);
            assert_int_not_equal(log_snapshot_decode(buf, (size_t)n, back, 4, &count), 0);
            buf[i] ^= (uint8_t)(1 << bit);
        }
    }
    assert_int_equal(log_snapshot_decode(buf, (size_t)n, back, 2, &count), -ENOSPC);
    assert_int_equal(log_snapshot_decode(buf, (size_t)n - 1, back, 4, &count), -EBADMSG);
    assert_int_equal(log_snapshot_encode(buf, 20, e, 3), -ENOSPC);
    memio_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_txn_index_entry),
        cmocka_unit_test(test_snapshot_roundtrip_and_crc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
