/*
 * test_sim_disk.c — proves the simulated disk keeps io.h's promises and the crash model's:
 * synced bytes survive a crash; unsynced writes are kept, dropped or torn per 512-byte
 * sector exactly as the model reports to its observer (each sector old or new, never other
 * bytes); metadata operations are durable on return; list_dir is sorted; the libfiu
 * sim/disk/... points and sim_disk_fail() inject -EIO / -ENOSPC; a crash frees node memory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <fiu-control.h>

#include "sim/sim.h"

static struct sim_world *world;
static struct sim_node *node;

static int setup(void **state) {
    (void)state;
    world = sim_world_create(42);
    node = sim_node_add(world, "disk", NULL, NULL);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sim_world_destroy(world);
    return 0;
}

static struct io_file *open_file(const char *path, int flags) {
    struct io_file *file = NULL;
    assert_int_equal(io_file_open(sim_node_io(node), path, flags, &file), 0);
    assert_non_null(file);
    return file;
}

static void crash_restart(void) {
    sim_node_crash(node);
    assert_null(sim_node_io(node));
    sim_node_restart(node);
    assert_non_null(sim_node_io(node));
}

static void test_synced_bytes_survive(void **state) {
    (void)state;
    struct io *io = sim_node_io(node);
    struct io_file *f = open_file("a.log", IO_OPEN_CREATE);
    uint8_t buf[3000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(io_file_pwrite(io, f, buf, sizeof(buf), 0), (int64_t)sizeof(buf));
    assert_int_equal(io_file_sync(io, f), 0);
    assert_int_equal(sim_disk_pending_count(node, "a.log"), 0);
    /* A model that drops everything still cannot take synced bytes. */
    struct sim_crash_model drop_all = {.keep_permille = 0, .drop_permille = 1000};
    sim_disk_set_crash_model(node, &drop_all);
    assert_int_equal(io_file_pwrite(io, f, "zzzz", 4, 10), 4);
    crash_restart();
    io = sim_node_io(node);
    f = open_file("a.log", IO_OPEN_READ);
    uint8_t back[4000];
    assert_int_equal(io_file_size(io, f), (int64_t)sizeof(buf));
    assert_int_equal(io_file_pread(io, f, back, sizeof(back), 0), (int64_t)sizeof(buf));
    assert_memory_equal(back, buf, sizeof(buf));
    io_file_close(io, f);
}

static void test_keep_and_drop_models(void **state) {
    (void)state;
    struct io *io = sim_node_io(node);
    struct sim_crash_model keep_all = {.keep_permille = 1000};
    sim_disk_set_crash_model(node, &keep_all);
    struct io_file *f = open_file("k", IO_OPEN_CREATE);
    assert_int_equal(io_file_pwrite(io, f, "hello", 5, 0), 5);
    crash_restart();
    assert_int_equal(sim_disk_file_size(node, "k"), 5);

    io = sim_node_io(node);
    struct sim_crash_model drop_all = {.drop_permille = 1000};
    sim_disk_set_crash_model(node, &drop_all);
    f = open_file("d", IO_OPEN_CREATE);
    assert_int_equal(io_file_pwrite(io, f, "hello", 5, 0), 5);
    assert_int_equal(io_file_pwrite(io, f, "world", 5, 5), 5);
    assert_int_equal(sim_disk_pending_count(node, "d"), 2);
    crash_restart();
    /* Creation is metadata (durable); the contents were never synced. */
    assert_int_equal(sim_disk_file_size(node, "d"), 0);
}

struct decision {
    uint64_t offset;
    uint64_t len;
    bool kept;
};
struct decisions {
    struct decision d[64];
    size_t count;
};

static void record_decision(void *arg, struct sim_node *n, const char *path, bool is_truncate,
                            uint64_t offset, uint64_t len, bool kept) {
    struct decisions *ds = arg;
    (void)n;
    assert_string_equal(path, "t");
    assert_false(is_truncate);
    /* A piece never spans a sector boundary. */
    assert_true(len > 0 && offset / 512 == (offset + len - 1) / 512);
    assert_true(ds->count < 64);
    ds->d[ds->count++] = (struct decision){offset, len, kept};
}

static void test_torn_writes_per_sector(void **state) {
    (void)state;
    struct sim_crash_model tear = {.tear_keep_permille = 500};
    sim_disk_set_crash_model(node, &tear);
    bool saw_mixed = false;
    for (int round = 0; round < 20; round++) {
        struct io *io = sim_node_io(node);
        struct io_file *f = open_file("t", IO_OPEN_CREATE | IO_OPEN_TRUNC);
        uint8_t old[4096];
        memset(old, 0xAA, sizeof(old));
        assert_int_equal(io_file_pwrite(io, f, old, sizeof(old), 0), 4096);
        assert_int_equal(io_file_sync(io, f), 0);
        /* An unaligned write across 5 sectors: pieces 100..511, 512..1023, ..., ..2199. */
        uint8_t fresh[2100];
        memset(fresh, 0x55, sizeof(fresh));
        assert_int_equal(io_file_pwrite(io, f, fresh, sizeof(fresh), 100), 2100);
        struct decisions ds = {.count = 0};
        sim_disk_set_crash_observer(node, record_decision, &ds);
        crash_restart();
        sim_disk_set_crash_observer(node, NULL, NULL);
        assert_int_equal(ds.count, 5);
        uint8_t back[4096];
        assert_int_equal(sim_disk_read_file(node, "t", back, sizeof(back), 0), 4096);
        size_t kept = 0;
        for (size_t i = 0; i < ds.count; i++) {
            uint8_t want = ds.d[i].kept ? 0x55 : 0xAA;
            for (uint64_t b = ds.d[i].offset; b < ds.d[i].offset + ds.d[i].len; b++) {
                assert_int_equal(back[b], want);
            }
            kept += ds.d[i].kept;
        }
        /* Bytes outside the write are untouched. */
        for (size_t b = 0; b < 100; b++)
            assert_int_equal(back[b], 0xAA);
        for (size_t b = 2200; b < 4096; b++)
            assert_int_equal(back[b], 0xAA);
        if (kept > 0 && kept < ds.count) saw_mixed = true;
    }
    assert_true(saw_mixed);
}

static void test_truncate_and_extension(void **state) {
    (void)state;
    struct sim_crash_model keep_all = {.keep_permille = 1000};
    sim_disk_set_crash_model(node, &keep_all);
    struct io *io = sim_node_io(node);
    struct io_file *f = open_file("x", IO_OPEN_CREATE);
    assert_int_equal(io_file_pwrite(io, f, "abcdef", 6, 0), 6);
    assert_int_equal(io_file_truncate(io, f, 3), 0);
    assert_int_equal(io_file_size(io, f), 3);
    assert_int_equal(io_file_pwrite(io, f, "Z", 1, 5), 1);
    uint8_t back[8];
    assert_int_equal(io_file_pread(io, f, back, sizeof(back), 0), 6);
    assert_memory_equal(back, "abc\0\0Z", 6);
    assert_int_equal(io_file_sync(io, f), 0);
    crash_restart();
    assert_int_equal(sim_disk_read_file(node, "x", back, sizeof(back), 0), 6);
    assert_memory_equal(back, "abc\0\0Z", 6);
}

static void collect(void *arg, const char *name, bool is_dir) {
    char *out = arg;
    strcat(out, name);
    strcat(out, is_dir ? "/ " : " ");
}

static void test_metadata_durable_and_sorted(void **state) {
    (void)state;
    struct io *io = sim_node_io(node);
    assert_int_equal(io_mkdir(io, "d"), 0);
    assert_int_equal(io_mkdir(io, "d"), -EEXIST);
    assert_int_equal(io_mkdir(io, "nope/x"), -ENOENT);
    struct io_file *f = NULL;
    assert_int_equal(io_file_open(io, "nope/f", IO_OPEN_CREATE, &f), -ENOENT);
    assert_int_equal(io_file_open(io, "d/missing", IO_OPEN_READ, &f), -ENOENT);
    const char *names[] = {"d/zeta", "d/alpha", "d/b.tmp", "d/b"};
    for (size_t i = 0; i < 4; i++)
        io_file_close(io, open_file(names[i], IO_OPEN_CREATE));
    assert_int_equal(io_mkdir(io, "d/sub"), 0);
    io_file_close(io, open_file("d/sub/inner", IO_OPEN_CREATE));
    assert_int_equal(io_file_open(io, "d/b", IO_OPEN_CREATE | IO_OPEN_EXCL, &f), -EEXIST);
    assert_int_equal(io_rename(io, "d/b.tmp", "d/c"), 0);
    assert_int_equal(io_unlink(io, "d/zeta"), 0);
    assert_int_equal(io_rmdir(io, "d/sub"), -ENOTEMPTY);
    crash_restart();
    io = sim_node_io(node);
    char listing[256] = "";
    assert_int_equal(io_list_dir(io, "d", collect, listing), 0);
    assert_string_equal(listing, "alpha b c sub/ ");
    bool is_dir = false;
    assert_int_equal(io_exists(io, "d/sub", &is_dir), 0);
    assert_true(is_dir);
    assert_int_equal(io_exists(io, "d/zeta", NULL), -ENOENT);
    /* Directory rename moves the subtree. */
    assert_int_equal(io_rename(io, "d", "e"), 0);
    assert_int_equal(io_exists(io, "e/sub/inner", NULL), 0);
    assert_int_equal(io_exists(io, "d", NULL), -ENOENT);
}

static void test_unlink_open_file(void **state) {
    (void)state;
    struct io *io = sim_node_io(node);
    struct io_file *f = open_file("u", IO_OPEN_CREATE);
    assert_int_equal(io_file_pwrite(io, f, "data", 4, 0), 4);
    assert_int_equal(io_unlink(io, "u"), 0);
    uint8_t back[4];
    assert_int_equal(io_file_pread(io, f, back, 4, 0), 4); /* still readable while open */
    assert_memory_equal(back, "data", 4);
    io_file_close(io, f);
    assert_int_equal(io_exists(io, "u", NULL), -ENOENT);
}

static void test_programmatic_faults(void **state) {
    (void)state;
    struct io *io = sim_node_io(node);
    struct io_file *f = open_file("f", IO_OPEN_CREATE);
    sim_disk_fail(node, SIM_DISK_WRITE, ENOSPC, 2);
    assert_int_equal(io_file_pwrite(io, f, "a", 1, 0), -ENOSPC);
    assert_int_equal(io_file_pwrite(io, f, "a", 1, 0), -ENOSPC);
    assert_int_equal(io_file_pwrite(io, f, "a", 1, 0), 1);
    sim_disk_fail(node, SIM_DISK_SYNC, EIO, 1);
    assert_int_equal(io_file_sync(io, f), -EIO);
    assert_int_equal(sim_disk_pending_count(node, "f"), 1); /* a failed sync promised nothing */
    assert_int_equal(io_file_sync(io, f), 0);
    sim_disk_fail(node, SIM_DISK_OPEN, EIO, 1);
    struct io_file *g = NULL;
    assert_int_equal(io_file_open(io, "f", IO_OPEN_READ, &g), -EIO);
    sim_disk_fail(node, SIM_DISK_READ, EIO, 1);
    uint8_t b;
    assert_int_equal(io_file_pread(io, f, &b, 1, 0), -EIO);
    sim_disk_fail(node, SIM_DISK_RENAME, EIO, 1);
    assert_int_equal(io_rename(io, "f", "g"), -EIO);
    assert_int_equal(io_exists(io, "f", NULL), 0);
}

static void test_libfiu_points(void **state) {
    (void)state;
    struct io *io = sim_node_io(node);
    struct io_file *f = open_file("fiu", IO_OPEN_CREATE);
    assert_int_equal(fiu_enable("sim/disk/write", 1, (void *)(intptr_t)ENOSPC, 0), 0);
    assert_int_equal(io_file_pwrite(io, f, "a", 1, 0), -ENOSPC);
    assert_int_equal(fiu_disable("sim/disk/write"), 0);
    assert_int_equal(io_file_pwrite(io, f, "a", 1, 0), 1);
    assert_int_equal(fiu_enable("sim/disk/sync", 1, NULL, 0), 0); /* no info: EIO */
    assert_int_equal(io_file_sync(io, f), -EIO);
    fiu_disable("sim/disk/sync");
    assert_int_equal(fiu_enable("sim/disk/open", 1, NULL, 0), 0);
    struct io_file *g = NULL;
    assert_int_equal(io_file_open(io, "fiu", IO_OPEN_READ, &g), -EIO);
    fiu_disable("sim/disk/open");
    assert_int_equal(fiu_enable("sim/disk/read", 1, NULL, 0), 0);
    uint8_t b;
    assert_int_equal(io_file_pread(io, f, &b, 1, 0), -EIO);
    fiu_disable("sim/disk/read");
    assert_int_equal(fiu_enable("sim/disk/rename", 1, NULL, 0), 0);
    assert_int_equal(io_rename(io, "fiu", "fiu2"), -EIO);
    fiu_disable("sim/disk/rename");
    assert_int_equal(io_rename(io, "fiu", "fiu2"), 0);
}

/* A world that switched the libfiu points off ignores an armed point (its hot path skips
 * libfiu's lock), while sim_disk_fail still injects; switching back on consults it again. */
static void test_libfiu_points_off(void **state) {
    (void)state;
    struct io *io = sim_node_io(node);
    struct io_file *f = open_file("nofiu", IO_OPEN_CREATE);
    assert_int_equal(fiu_enable("sim/disk/write", 1, (void *)(intptr_t)ENOSPC, 0), 0);
    sim_world_set_disk_fiu(world, false);
    assert_int_equal(io_file_pwrite(io, f, "a", 1, 0), 1);
    sim_disk_fail(node, SIM_DISK_WRITE, EIO, 1);
    assert_int_equal(io_file_pwrite(io, f, "a", 1, 0), -EIO);
    sim_world_set_disk_fiu(world, true);
    assert_int_equal(io_file_pwrite(io, f, "a", 1, 0), -ENOSPC);
    assert_int_equal(fiu_disable("sim/disk/write"), 0);
    assert_int_equal(io_file_pwrite(io, f, "a", 1, 0), 1);
}

static void test_crash_frees_memory(void **state) {
    (void)state;
    struct io *io = sim_node_io(node);
    void *a = io_alloc(io, 100);
    char *s = io_strdup(io, "hello");
    void *b = io_calloc(io, 10, 10);
    b = io_realloc(io, b, 100, 1000);
    memset(a, 1, 100);
    memset(b, 2, 1000);
    assert_int_equal(sim_node_live_allocs(node), 3);
    assert_int_equal(sim_node_live_bytes(node), 100 + 6 + 1000);
    io_strfree(io, s);
    assert_int_equal(sim_node_live_allocs(node), 2);
    (void)open_file("open-at-crash", IO_OPEN_CREATE);
    sim_node_crash(node);
    assert_int_equal(sim_node_live_allocs(node), 0);
    assert_int_equal(sim_node_live_bytes(node), 0);
    sim_node_restart(node);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_synced_bytes_survive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_and_drop_models, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_writes_per_sector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_and_extension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_durable_and_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unlink_open_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_programmatic_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_libfiu_points, setup, teardown),
        cmocka_unit_test_setup_teardown(test_libfiu_points_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_frees_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
