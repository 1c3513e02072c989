/*
 * test_group_batch.c — proves the bridge between the coordinator and the partition log:
 * the records the coordinator appends, packed into record batches v2 by
 * group_batch_build() (one batch per append, small and > 64 records), stamped with offsets
 * as the log would, and replayed with group_batch_replay() into a fresh coordinator, give
 * exactly the live state, transactional batches and markers included (pending offsets
 * stay pending, markers commit or abort them); group_batch_size() is an upper bound of what
 * is built; a corrupt batch stops the replay at the last good batch (-EBADMSG) with
 * everything before it applied.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "coordinator/group_batch.h"
#include "log/batch.h"
#include "tests/unit/test_group_fake_io.c"

#define PARTITIONS 2
#define LOG_BYTES  (1 << 20)

struct world {
    struct fake_io *fio;
    struct fake_log *log;
    struct group_coordinator *co;
    struct group_config config;
};

static struct group_coordinator *coordinator_new(struct world *w) {
    struct group_log seam = fake_log_seam(w->log);
    return group_coordinator_create(&w->fio->io, &w->config, &seam);
}

static struct world *world_new(void) {
    struct world *w = calloc(1, sizeof(*w));
    w->fio = fake_io_new();
    w->log = fake_log_new();
    group_config_default(&w->config);
    w->config.offsets_partitions = PARTITIONS;
    w->co = coordinator_new(w);
    for (int32_t p = 0; p < PARTITIONS; p++) {
        group_coordinator_load_begin(w->co, p);
        group_coordinator_load_end(w->co, p);
    }
    return w;
}

static void world_free(struct world *w) {
    fake_log_complete(w->log, 0);
    group_coordinator_destroy(w->co);
    assert_int_equal(w->fio->live_bytes, 0);
    fake_log_free(w->log);
    free(w->fio);
    free(w);
}

static void on_join(void *arg, const struct group_join_response *r) {
    char *member = arg;
    snprintf(member, 160, "%s", r->member_id);
}
static void on_sync(void *arg, const struct group_sync_response *r) {
    (void)arg;
    ASSERT(r->error_code == GROUP_ERR_NONE);
}
static void on_commit(void *arg, const int16_t *errors, size_t count) {
    (void)arg;
    for (size_t i = 0; i < count; i++)
        ASSERT(errors[i] == GROUP_ERR_NONE);
}

/* A Stable group, a 100-partition commit (one append of 100 records), single commits. */
static void build_history(struct world *w) {
    static const struct group_protocol range[] = {
        {.name = "range", .metadata = (const uint8_t *)"sub", .metadata_len = 3}};
    char member[160];
    struct group_join_request jr = {.api_version = 3,
                                    .group_id = "g",
                                    .member_id = "",
                                    .client_id = "c",
                                    .client_host = "/h",
                                    .session_timeout_ms = 10000,
                                    .rebalance_timeout_ms = 10000,
                                    .protocol_type = "consumer",
                                    .protocols = range,
                                    .protocol_count = 1};
    group_join(w->co, &jr, on_join, member);
    fake_io_advance_ms(w->fio, 3000);
    struct group_assignment asg = {
        .member_id = member, .assignment = (const uint8_t *)"A", .assignment_len = 1};
    struct group_sync_request sr = {.group_id = "g",
                                    .generation_id = 1,
                                    .member_id = member,
                                    .assignments = &asg,
                                    .assignment_count = 1};
    group_sync(w->co, &sr, on_sync, NULL);
    fake_log_complete(w->log, 0);

    struct group_commit_partition many[100];
    for (int i = 0; i < 100; i++) {
        many[i] = (struct group_commit_partition){.topic = i % 2 ? "odd" : "even",
                                                  .partition = i,
                                                  .offset = 1000 + i,
                                                  .leader_epoch = 3,
                                                  .commit_timestamp_ms = -1,
                                                  .metadata = "m"};
    }
    struct group_commit_request cr = {.group_id = "g",
                                      .generation_id = 1,
                                      .member_id = member,
                                      .retention_ms = -1,
                                      .partitions = many,
                                      .partition_count = 100};
    group_commit(w->co, &cr, on_commit, NULL);
    struct group_commit_request solo = {.group_id = "solo",
                                        .generation_id = -1,
                                        .member_id = "",
                                        .retention_ms = -1,
                                        .partitions = many,
                                        .partition_count = 1};
    group_commit(w->co, &solo, on_commit, NULL);
    fake_log_complete(w->log, 0);

    /* Transactions: one committed, one aborted, one still open (pending). */
    int32_t p = group_record_partition_for("g", PARTITIONS);
    for (int64_t pid = 7; pid <= 9; pid++) {
        struct group_commit_partition tx = {.topic = "txn",
                                            .partition = (int32_t)pid,
                                            .offset = 5000 + pid,
                                            .leader_epoch = -1,
                                            .commit_timestamp_ms = -1,
                                            .metadata = ""};
        struct group_txn_commit_request tr = {.group_id = "g",
                                              .producer_id = pid,
                                              .producer_epoch = 0,
                                              .generation_id = -1,
                                              .member_id = "",
                                              .partitions = &tx,
                                              .partition_count = 1};
        group_txn_commit(w->co, &tr, on_commit, NULL);
        fake_log_complete(w->log, 0);
    }
    fake_log_marker(w->log, w->co, p, 7, true);
    fake_log_marker(w->log, w->co, p, 8, false);
}

/* Packs each partition's durable records into batches of at most `per_batch` records (a run
 * of one producer's transactional records shares a batch; a marker is a control batch),
 * stamped with consecutive offsets, as the log would hold them. Returns bytes used. */
static size_t pack(struct world *w, int32_t partition, size_t per_batch, uint8_t *out, size_t cap,
                   size_t *batches) {
    size_t used = 0;
    int64_t next_offset = 0;
    *batches = 0;
    struct group_record chunk[128];
    size_t n = 0;
    int64_t chunk_pid = -1;
    for (size_t i = 0; i <= w->log->record_count; i++) {
        const struct fake_record *r = i < w->log->record_count ? &w->log->records[i] : NULL;
        if (r != NULL && r->partition != partition) continue;
        bool flush = r == NULL || n == per_batch || r->marker != 0 || r->producer_id != chunk_pid;
        if (flush && n > 0) {
            size_t bound = group_batch_size(chunk, n);
            int64_t size = group_batch_build(&w->fio->io, out + used, cap - used, chunk, n,
                                             w->fio->wall_ms, chunk_pid, 0);
            assert_true(size > 0);
            assert_true((size_t)size <= bound);
            batch_stamp(out + used, next_offset, 0);
            next_offset += (int64_t)n;
            used += (size_t)size;
            (*batches)++;
            n = 0;
        }
        if (r == NULL) break;
        if (r->marker != 0) {
            int64_t size = batch_build_control(
                out + used, cap - used, next_offset, r->producer_id, 0,
                r->marker == 1 ? BATCH_CONTROL_COMMIT : BATCH_CONTROL_ABORT, 0, w->fio->wall_ms);
            assert_true(size > 0);
            next_offset++;
            used += (size_t)size;
            (*batches)++;
            continue;
        }
        chunk_pid = r->producer_id;
        chunk[n++] = (struct group_record){
            .key = r->key, .key_len = r->key_len, .value = r->value, .value_len = r->value_len};
    }
    return used;
}

static void test_batches_replay_to_same_state(void **state) {
    (void)state;
    struct world *w = world_new();
    build_history(w);
    char live[65536], replayed[65536];
    group_coordinator_dump(w->co, live, sizeof(live));
    assert_non_null(strstr(live, "offset odd/99=1099"));
    assert_non_null(strstr(live, "pending pid=9 txn/9=5009"));
    assert_non_null(strstr(live, "offset txn/7=5007"));
    assert_null(strstr(live, "offset txn/8="));

    size_t sizes[] = {1, 7, 100}; /* 100: batches of more than 64 records. */
    for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
        struct group_coordinator *fresh = coordinator_new(w);
        uint8_t *buf = malloc(LOG_BYTES);
        for (int32_t p = 0; p < PARTITIONS; p++) {
            size_t batches = 0;
            size_t len = pack(w, p, sizes[s], buf, LOG_BYTES, &batches);
            struct group_batch_stats stats;
            group_coordinator_load_begin(fresh, p);
            assert_int_equal(group_batch_replay(fresh, p, buf, len, &stats), 0);
            group_coordinator_load_end(fresh, p);
            assert_int_equal(stats.batches, batches);
            assert_int_equal(stats.records_refused, 0);
        }
        group_coordinator_dump(fresh, replayed, sizeof(replayed));
        assert_string_equal(replayed, live);
        group_coordinator_destroy(fresh);
        free(buf);
    }
    world_free(w);
}

static void test_skips_control_and_stops_at_corruption(void **state) {
    (void)state;
    struct world *w = world_new();
    build_history(w);
    int32_t p = group_record_partition_for("g", PARTITIONS);
    uint8_t *buf = malloc(LOG_BYTES);
    size_t batches = 0;
    size_t len = pack(w, p, 1, buf, LOG_BYTES, &batches);
    assert_true(batches >= 3);

    /* The open transaction's marker, appended after the history, commits it on replay. */
    int64_t next = 0;
    for (size_t at = 0; at < len;) {
        struct batch_header bh;
        assert_int_equal(batch_check(buf + at, len - at, len - at, &bh), 0);
        next = batch_last_offset(&bh) + 1;
        at += batch_total_bytes(&bh);
    }
    int64_t marker = batch_build_control(buf + len, LOG_BYTES - len, next, 9, 0,
                                         BATCH_CONTROL_COMMIT, 0, w->fio->wall_ms);
    assert_true(marker > 0);
    struct group_coordinator *fresh = coordinator_new(w);
    struct group_batch_stats stats;
    group_coordinator_load_begin(fresh, p);
    assert_int_equal(group_batch_replay(fresh, p, buf, len + (size_t)marker, &stats), 0);
    group_coordinator_load_end(fresh, p);
    assert_int_equal(stats.markers, 3);
    assert_int_equal(stats.next_offset, next + 1);
    struct group_offset o;
    assert_int_equal(group_offset_fetch(fresh, "g", "t", 0, &o), GROUP_ERR_NONE);
    char dump[65536];
    group_coordinator_dump(fresh, dump, sizeof(dump));
    assert_null(strstr(dump, "pending"));
    assert_non_null(strstr(dump, "offset txn/7=5007")); /* Committed before. */
    assert_null(strstr(dump, "offset txn/8="));         /* Aborted. */
    assert_non_null(strstr(dump, "offset txn/9=5009")); /* Committed by the new marker. */
    group_coordinator_destroy(fresh);

    /* A flipped byte in the second batch: the first is applied, then -EBADMSG. */
    struct batch_header h;
    assert_int_equal(batch_check(buf, len, len, &h), 0);
    size_t first = batch_total_bytes(&h);
    buf[first + 70] ^= 0x40;
    fresh = coordinator_new(w);
    group_coordinator_load_begin(fresh, p);
    assert_int_equal(group_batch_replay(fresh, p, buf, len, &stats), -EBADMSG);
    group_coordinator_load_end(fresh, p);
    assert_int_equal(stats.batches, 1);
    assert_int_equal(stats.next_offset, 1);
    /* A batch cut short is reported as such. */
    buf[first + 70] ^= 0x40;
    group_coordinator_unload(fresh, p);
    group_coordinator_load_begin(fresh, p);
    assert_int_equal(group_batch_replay(fresh, p, buf, first + 10, &stats), -ENODATA);
    group_coordinator_load_end(fresh, p);
    assert_int_equal(stats.batches, 1);
    group_coordinator_destroy(fresh);
    free(buf);
    world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_replay_to_same_state),
        cmocka_unit_test(test_skips_control_and_stops_at_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
