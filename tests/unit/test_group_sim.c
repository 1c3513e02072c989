/*
 * test_group_sim.c — proves the coordinator runs in the simulated world and keeps I-GRP-1
 * across crashes: one simulated node runs a coordinator whose append seam writes each
 * append to a file and fsyncs it before acknowledging (a stand-in for the partition log);
 * clients commit increasing offsets every few milliseconds; appends are written at once and
 * fsynced together 1 ms later (then acknowledged); the node's disk fails some fsyncs and
 * the node crashes at a random time (the sim's crash model keeps, drops or tears the
 * unsynced writes) and restarts, rebuilding its state by replaying the file and cutting a
 * damaged tail. For every seed:
 * after the restart OffsetFetch returns at least the last acknowledged offset (an
 * unacknowledged later one may have survived too, never an unissued one), failed writes are
 * never acknowledged, the run is deterministic (same seed, same trace hash), and an
 * ASSERT anywhere aborts the test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "coordinator/group_coordinator.h"
#include "coordinator/group_records.h"
#include "sim/sim.h"

#define PARTITIONS     3
#define FILE_PATH      "offsets.log"
#define FILE_BYTES_MAX (4u << 20)
#define SEEDS          40

#define WAITING_MAX 4096

struct waiting {
    group_append_cb done;
    void *arg;
};

/* The test's view of the node (test memory, not node memory: it survives crashes). */
struct node_state {
    struct io *io;
    struct group_coordinator *co;
    struct io_file *file;
    uint64_t file_size;    /* Durable end. */
    uint64_t written_size; /* End of what was written, synced or not. */
    io_timer_id sync_timer;
    struct waiting waiting[WAITING_MAX]; /* Appends waiting for the next fsync. */
    size_t waiting_count;
    bool up;
    uint32_t records_replayed;
    uint32_t torn_tails; /* Restarts that found a damaged tail and cut it. */
};

#define COMMITS_MAX 65536

struct commit_arg {
    struct run *run;
    int64_t offset;
};

struct run {
    struct sim_world *world;
    struct sim_node *node;
    struct node_state state;
    int64_t next_offset; /* Offsets are issued 1, 2, 3, ... */
    int64_t issued_max;
    int64_t acked_max; /* Highest acknowledged commit. */
    uint32_t acked, refused, crashes;
    /* Callback args of commits in flight live here: a crash drops callbacks unanswered. */
    struct commit_arg commits[COMMITS_MAX];
    size_t commit_count;
};

/* --- The file log: [u32 length][u32 checksum][record]*, record = key, value -------------- */

static uint32_t checksum(const uint8_t *p, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends write at once but are made durable by one fsync 1 ms later for all of them
 * (group commit, as a log with a flush interval does); only then are they acknowledged. A
 * crash in between leaves them pending in the sim's disk, to be kept, dropped or torn. */
static void sync_fire(void *arg) {
    struct node_state *st = arg;
    st->sync_timer = 0;
    int rc = io_file_sync(st->io, st->file);
    if (rc == 0) {
        st->file_size = st->written_size;
    } else {
        st->written_size = st->file_size; /* Rewrite from the last durable end. */
    }
    size_t count = st->waiting_count;
    struct waiting waiting[WAITING_MAX];
    memcpy(waiting, st->waiting, count * sizeof(waiting[0]));
    st->waiting_count = 0;
    for (size_t i = 0; i < count; i++)
        waiting[i].done(waiting[i].arg, rc);
}

static int file_append(void *ctx, int32_t partition, const struct group_record *records,
                       size_t count, group_append_cb done, void *done_arg) {
    struct node_state *st = ctx;
    if (st->waiting_count == WAITING_MAX) return -EAGAIN;
    uint64_t pos = st->written_size;
    for (size_t i = 0; i < count; i++) {
        size_t body = 4 + 4 + records[i].key_len + 4 + records[i].value_len;
        uint8_t frame[1024];
        ASSERT(8 + body <= sizeof(frame));
        put32(frame + 8, (uint32_t)partition);
        put32(frame + 12, (uint32_t)records[i].key_len);
        memcpy(frame + 16, records[i].key, records[i].key_len);
        uint8_t *v = frame + 16 + records[i].key_len;
        put32(v, records[i].value == NULL ? UINT32_MAX : (uint32_t)records[i].value_len);
        if (records[i].value != NULL) memcpy(v + 4, records[i].value, records[i].value_len);
        put32(frame, (uint32_t)body);
        put32(frame + 4, checksum(frame + 8, body));
        if (pos + 8 + body > FILE_BYTES_MAX) return -ENOSPC;
        int64_t rc = io_file_pwrite(st->io, st->file, frame, 8 + body, pos);
        if (rc < 0) return (int)rc;
        pos += 8 + body;
    }
    st->written_size = pos;
    st->waiting[st->waiting_count++] = (struct waiting){.done = done, .arg = done_arg};
    if (st->sync_timer == 0) {
        st->sync_timer = io_timer_start(st->io, io_now_ns(st->io) + NS_PER_MS, sync_fire, st);
    }
    return 0;
}

/* Reads the file and replays every intact record; a damaged tail is cut off. */
static void node_start(struct io *io, void *arg) {
    struct node_state *st = arg;
    st->io = io;
    ASSERT(io_file_open(io, FILE_PATH, IO_OPEN_CREATE, &st->file) == 0);
    int64_t size = io_file_size(io, st->file);
    ASSERT(size >= 0 && (uint64_t)size <= FILE_BYTES_MAX);
    uint8_t *buf = size > 0 ? io_alloc(io, (size_t)size) : NULL;
    if (size > 0) ASSERT(io_file_pread(io, st->file, buf, (size_t)size, 0) == size);

    struct group_config config;
    group_config_default(&config);
    config.offsets_partitions = PARTITIONS;
    struct group_log seam = {.append = file_append, .append_txn = NULL, .ctx = st};
    st->co = group_coordinator_create(io, &config, &seam);
    for (int32_t p = 0; p < PARTITIONS; p++)
        group_coordinator_load_begin(st->co, p);
    uint64_t pos = 0;
    while (pos + 8 <= (uint64_t)size) {
        uint32_t body = get32(buf + pos);
        if (body < 12 || pos + 8 + body > (uint64_t)size) break;
        if (checksum(buf + pos + 8, body) != get32(buf + pos + 4)) break;
        const uint8_t *r = buf + pos + 8;
        int32_t partition = (int32_t)get32(r);
        uint32_t key_len = get32(r + 4);
        if (partition < 0 || partition >= PARTITIONS || 12 + (uint64_t)key_len > body) break;
        uint32_t value_len = get32(r + 8 + key_len);
        const uint8_t *value = value_len == UINT32_MAX ? NULL : r + 12 + key_len;
        if (12 + (uint64_t)key_len + (value == NULL ? 0 : value_len) != body) break;
        ASSERT(group_coordinator_replay(st->co, partition, r + 8, key_len, value,
                                        value == NULL ? 0 : value_len) == 0);
        st->records_replayed++;
        pos += 8 + body;
    }
    if (pos != (uint64_t)size) {
        /* A torn or half-written tail: never acknowledged, so cut it (log recovery). */
        st->torn_tails++;
        ASSERT(io_file_truncate(io, st->file, pos) == 0);
        /* An injected fsync fault may still be armed from before the crash: retry. */
        int rc = -EIO;
        for (int i = 0; i < 3 && rc < 0; i++)
            rc = io_file_sync(io, st->file);
        ASSERT(rc == 0);
    }
    st->file_size = pos;
    st->written_size = pos;
    st->sync_timer = 0;
    st->waiting_count = 0;
    if (buf != NULL) io_free(io, buf, (size_t)size);
    for (int32_t p = 0; p < PARTITIONS; p++)
        group_coordinator_load_end(st->co, p);
    st->up = true;
}

/* --- Clients and faults, as world events -------------------------------------------------- */

static void on_commit(void *arg, const int16_t *errors, size_t count) {
    struct commit_arg *c = arg;
    assert_int_equal(count, 1);
    if (errors[0] == GROUP_ERR_NONE) {
        c->run->acked++;
        if (c->offset > c->run->acked_max) c->run->acked_max = c->offset;
    } else {
        c->run->refused++;
    }
}

static void client_commit(struct sim_world *world, void *arg) {
    struct run *run = arg;
    if (run->state.up) {
        ASSERT(run->commit_count < COMMITS_MAX);
        struct commit_arg *c = &run->commits[run->commit_count++];
        c->run = run;
        c->offset = run->next_offset++;
        run->issued_max = c->offset;
        struct group_commit_partition p = {.topic = "t",
                                           .partition = 0,
                                           .offset = c->offset,
                                           .leader_epoch = -1,
                                           .commit_timestamp_ms = -1,
                                           .metadata = ""};
        struct group_commit_request req = {.group_id = "g",
                                           .generation_id = -1,
                                           .member_id = "",
                                           .retention_ms = -1,
                                           .partitions = &p,
                                           .partition_count = 1};
        group_commit(run->state.co, &req, on_commit, c);
    }
    struct sim_rng *rng = sim_world_rng(world, SIM_STREAM_WORKLOAD);
    if (run->state.up && sim_rng_chance(rng, 100)) sim_disk_fail(run->node, SIM_DISK_SYNC, EIO, 1);
    sim_world_schedule(world, sim_world_now_ns(world) + (1 + sim_rng_below(rng, 5)) * NS_PER_MS,
                       client_commit, run);
}

static void check_recovered(struct run *run) {
    struct group_offset o;
    assert_int_equal(group_offset_fetch(run->state.co, "g", "t", 0, &o), GROUP_ERR_NONE);
    /* I-GRP-1: every acknowledged commit survived; nothing never issued appeared. */
    assert_true(o.offset >= run->acked_max);
    assert_true(o.offset <= run->issued_max);
}

static void restart(struct sim_world *world, void *arg) {
    struct run *run = arg;
    (void)world;
    sim_node_restart(run->node);
}

static void crash(struct sim_world *world, void *arg) {
    struct run *run = arg;
    /* Commits whose callbacks vanish with the node are simply never acknowledged. */
    sim_node_crash(run->node);
    run->state.up = false;
    run->state.co = NULL;
    run->state.waiting_count = 0; /* Their callbacks died with the node. */
    run->state.sync_timer = 0;
    run->crashes++;
    sim_world_schedule(world, sim_world_now_ns(world) + 50 * NS_PER_MS, restart, run);
}

static void verify(struct sim_world *world, void *arg) {
    struct run *run = arg;
    (void)world;
    assert_true(run->state.up);
    check_recovered(run);
}

static uint64_t run_seed(uint64_t seed, struct run *run) {
    memset(run, 0, sizeof(*run));
    run->next_offset = 1;
    run->world = sim_world_create(seed);
    run->node = sim_node_add(run->world, "n1", node_start, &run->state);
    sim_world_run_until(run->world, NS_PER_MS);
    assert_true(run->state.up);
    sim_world_schedule(run->world, sim_world_now_ns(run->world), client_commit, run);
    struct sim_rng *faults = sim_world_rng(run->world, SIM_STREAM_FAULTS);
    uint64_t crash_at =
        sim_world_now_ns(run->world) + (100 + sim_rng_below(faults, 400)) * NS_PER_MS;
    sim_world_schedule(run->world, crash_at, crash, run);
    /* The restart comes 50 ms after the crash; check right after its replay, before the
     * clients' new commits could hide a lost one. */
    sim_world_schedule(run->world, crash_at + 50 * NS_PER_MS + 1, verify, run);
    sim_world_run_until(run->world, crash_at + 50 * NS_PER_MS + 1);
    assert_true(run->state.up);
    check_recovered(run);
    sim_world_run_until(run->world, crash_at + 300 * NS_PER_MS);
    uint64_t hash = sim_world_trace_hash(run->world);
    sim_world_destroy(run->world);
    return hash;
}

static void test_offsets_survive_crashes(void **state) {
    (void)state;
    uint32_t acked = 0, refused = 0, torn = 0, replayed = 0;
    struct run *run = calloc(1, sizeof(*run));
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        run_seed(seed, run);
        acked += run->acked;
        refused += run->refused;
        torn += run->state.torn_tails;
        replayed += run->state.records_replayed;
        assert_int_equal(run->crashes, 1);
    }
    free(run);
    printf("%d seeds: %u commits acknowledged, %u refused (failed fsync), %u records "
           "replayed, %u torn tails cut\n",
           SEEDS, acked, refused, replayed, torn);
    assert_true(acked > 1000);
    assert_true(refused > 0); /* The disk faults fired and were answered, not acked. */
}

static void test_deterministic(void **state) {
    (void)state;
    struct run *a = calloc(1, sizeof(*a));
    struct run *b = calloc(1, sizeof(*b));
    uint64_t ha = run_seed(7, a);
    uint64_t hb = run_seed(7, b);
    assert_int_equal(ha, hb);
    assert_int_equal(a->acked, b->acked);
    assert_int_equal(a->acked_max, b->acked_max);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_survive_crashes),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
