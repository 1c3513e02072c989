/*
 * test_log_checkpoint.c — proves the checkpoint files are Kafka's text format byte for
 * byte ("0\n<count>\n" then "<epoch> <offset>" or "<topic> <partition> <offset>" lines),
 * round-trip through io, replace the old file atomically (a crash right after a write
 * leaves the old or the new file, whole), and that malformed text is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log/checkpoint.h"
#include "test_log_memio.h"

static void test_epoch_format_exact(void **state) {
    (void)state;
    struct log_epoch_entry e[] = {{0, 0}, {3, 120}, {7, 9000000000ll}};
    char buf[256];
    int64_t n = log_checkpoint_format_epochs(buf, sizeof buf, e, 3);
    const char *want = "0\n3\n0 0\n3 120\n7 9000000000\n";
    assert_int_equal(n, (int64_t)strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
    struct log_epoch_entry back[4];
    size_t count;
    assert_int_equal(log_checkpoint_parse_epochs(buf, (size_t)n, back, 4, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(back[2].epoch, 7);
    assert_true(back[2].start_offset == 9000000000ll);
    assert_int_equal(log_checkpoint_parse_epochs(buf, (size_t)n, back, 2, &count), -ENOSPC);
    assert_int_equal(log_checkpoint_format_epochs(buf, 10, e, 3), -ENOSPC);
}

static void test_offsets_format_exact(void **state) {
    (void)state;
    struct log_partition_offset e[2] = {{"orders", 0, 42}, {"__consumer_offsets", 17, 0}};
    char buf[256];
    int64_t n = log_checkpoint_format_offsets(buf, sizeof buf, e, 2);
    const char *want = "0\n2\norders 0 42\n__consumer_offsets 17 0\n";
    assert_int_equal(n, (int64_t)strlen(want));
    assert_memory_equal(buf, want, (size_t)n);
    struct log_partition_offset back[2];
    size_t count;
    assert_int_equal(log_checkpoint_parse_offsets(buf, (size_t)n, back, 2, &count), 0);
    assert_string_equal(back[1].topic, "__consumer_offsets");
    assert_int_equal(back[1].partition, 17);
    assert_int_equal(back[0].offset, 42);
}

static void test_malformed_refused(void **state) {
    (void)state;
    const char *bad[] = {
        "", "1\n0\n", "0\n1\n", "0\n1\n5 x\n", "0\n1\n5 10", "0\n1\n5  10\n", "0\n0\nextra",
        "0\n2\n1 5\n", "0\n-1\n", "0\n1\n-3 5\n",
    };
    struct log_epoch_entry e[4];
    size_t count;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(log_checkpoint_parse_epochs(bad[i], strlen(bad[i]), e, 4, &count),
                         -EBADMSG);
    }
    struct log_partition_offset o[2];
    const char *bad_off = "0\n1\ntopic x 5\n";
    assert_int_equal(log_checkpoint_parse_offsets(bad_off, strlen(bad_off), o, 2, &count),
                     -EBADMSG);
}

static void test_io_roundtrip_and_atomic_replace(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct memio *m = memio_create(seed);
        struct log_epoch_entry v1[] = {{1, 0}};
        struct log_epoch_entry v2[] = {{1, 0}, {2, 50}};
        assert_int_equal(log_checkpoint_write_epochs(&m->io, "/d/leader-epoch-checkpoint", v1, 1),
                         0);
        assert_int_equal(log_checkpoint_write_epochs(&m->io, "/d/leader-epoch-checkpoint", v2, 2),
                         0);
        memio_crash(m);
        struct log_epoch_entry back[4];
        size_t count = 0;
        assert_int_equal(
            log_checkpoint_read_epochs(&m->io, "/d/leader-epoch-checkpoint", back, 4, &count), 0);
        assert_int_equal(count, 2);
        assert_int_equal(back[1].start_offset, 50);
        assert_int_equal(io_exists(&m->io, "/d/leader-epoch-checkpoint.tmp", NULL), -ENOENT);
        assert_int_equal(log_checkpoint_read_epochs(&m->io, "/d/none", back, 4, &count), -ENOENT);
        memio_destroy(m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_format_exact),
        cmocka_unit_test(test_offsets_format_exact),
        cmocka_unit_test(test_malformed_refused),
        cmocka_unit_test(test_io_roundtrip_and_atomic_replace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
