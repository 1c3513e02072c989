/*
 * test_offsets_commit.c — proves committed offsets: a commit is visible to OffsetFetch only
 * once the log made it durable and is answered only then (I-GRP-1); commits from stale
 * generations, unknown members, or during CompletingRebalance are refused and not written
 * (I-GRP-2); per-partition errors (metadata too large, bad partition) and log failures map
 * to Kafka's codes; the records written are Kafka's formats (key v1, value v3, or v1 with an
 * explicit retention); replaying the log into a fresh coordinator rebuilds exactly the
 * same groups, members, assignments and offsets, tombstones included; and offset retention
 * follows KIP-211 (standalone groups from the commit, Empty groups from when they emptied,
 * live groups never), turning an Empty group without offsets Dead; and TxnOffsetCommit
 * offsets stay invisible until their transaction's COMMIT marker (dropped on ABORT), never
 * overwrite a plain commit written after them, and replay (pending or not) to the same
 * state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/test_group_fake_io.c"

#define PARTITIONS 3
#define MINUTE_MS  (60 * 1000ULL)

struct world {
    struct fake_io *fio;
    struct fake_log *log;
    struct group_coordinator *co;
    struct group_config config;
};

struct commit_result {
    int calls;
    size_t count;
    int16_t errors[8];
};

static void on_commit(void *arg, const int16_t *errors, size_t count) {
    struct commit_result *out = arg;
    out->calls++;
    out->count = count;
    for (size_t i = 0; i < count && i < 8; i++)
        out->errors[i] = errors[i];
}

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
    w->config.offsets_retention_ms = 60 * MINUTE_MS;
    w->config.retention_check_interval_ms = 10 * MINUTE_MS;
    w->co = coordinator_new(w);
    for (int32_t p = 0; p < PARTITIONS; p++)
        fake_log_replay(w->log, w->co, p);
    return w;
}

static void world_free(struct world *w) {
    fake_log_complete(w->log, 0);
    group_coordinator_destroy(w->co);
    assert_int_equal(w->fio->live_bytes, 0);
    assert_int_equal(fake_timers_live(w->fio), 0);
    fake_log_free(w->log);
    free(w->fio);
    free(w);
}

static void commit(struct world *w, const char *group, int32_t generation, const char *member,
                   const char *topic, int32_t partition, int64_t offset,
                   struct commit_result *out) {
    memset(out, 0, sizeof(*out));
    struct group_commit_partition p = {.topic = topic,
                                       .partition = partition,
                                       .offset = offset,
                                       .leader_epoch = 4,
                                       .commit_timestamp_ms = -1,
                                       .metadata = "m"};
    struct group_commit_request req = {.group_id = group,
                                       .generation_id = generation,
                                       .member_id = member,
                                       .retention_ms = -1,
                                       .partitions = &p,
                                       .partition_count = 1};
    group_commit(w->co, &req, on_commit, out);
}

static int64_t fetch(struct world *w, const char *group, const char *topic, int32_t partition) {
    struct group_offset o;
    assert_int_equal(group_offset_fetch(w->co, group, topic, partition, &o), GROUP_ERR_NONE);
    return o.offset;
}

/* Minimal membership driver: one member joins "g" and the group becomes Stable. */
struct member_ref {
    char id[160];
    int32_t generation;
    int calls;
};

static void on_join(void *arg, const struct group_join_response *r) {
    struct member_ref *m = arg;
    m->calls++;
    snprintf(m->id, sizeof(m->id), "%s", r->member_id);
    m->generation = r->generation_id;
}

static void on_sync(void *arg, const struct group_sync_response *r) {
    int *calls = arg;
    (*calls)++;
    ASSERT(r->error_code == GROUP_ERR_NONE);
}

static const struct group_protocol RANGE[] = {
    {.name = "range", .metadata = (const uint8_t *)"sub", .metadata_len = 3}};

static void join_one(struct world *w, const char *group, const char *member_id,
                     struct member_ref *m) {
    struct group_join_request req = {.api_version = 3,
                                     .group_id = group,
                                     .member_id = member_id,
                                     .client_id = "c",
                                     .client_host = "/10.0.0.1",
                                     .session_timeout_ms = 10000,
                                     .rebalance_timeout_ms = 20000,
                                     .protocol_type = "consumer",
                                     .protocols = RANGE,
                                     .protocol_count = 1};
    m->calls = 0;
    group_join(w->co, &req, on_join, m);
}

static void make_stable(struct world *w, const char *group, struct member_ref *m) {
    join_one(w, group, "", m);
    fake_io_advance_ms(w->fio, w->config.initial_rebalance_delay_ms);
    assert_int_equal(m->calls, 1);
    int calls = 0;
    struct group_assignment asg = {
        .member_id = m->id, .assignment = (const uint8_t *)"tp0", .assignment_len = 3};
    struct group_sync_request req = {.group_id = group,
                                     .generation_id = m->generation,
                                     .member_id = m->id,
                                     .assignments = &asg,
                                     .assignment_count = 1};
    group_sync(w->co, &req, on_sync, &calls);
    fake_log_complete(w->log, 0);
    assert_int_equal(calls, 1);
}

static void test_commit_visible_only_when_durable(void **state) {
    (void)state;
    struct world *w = world_new();
    struct commit_result r;
    /* generation -1: a group that only stores offsets (assign() consumers, tools). */
    commit(w, "solo", -1, "", "t", 0, 42, &r);
    assert_int_equal(r.calls, 0);
    assert_int_equal(fetch(w, "solo", "t", 0), -1);
    assert_int_equal(fake_log_complete(w->log, 0), 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.errors[0], GROUP_ERR_NONE);
    assert_int_equal(fetch(w, "solo", "t", 0), 42);
    struct group_offset o;
    group_offset_fetch(w->co, "solo", "t", 0, &o);
    assert_int_equal(o.leader_epoch, 4);
    assert_string_equal(o.metadata, "m");
    assert_int_equal(o.commit_timestamp_ms, w->fio->wall_ms);
    assert_int_equal(fetch(w, "solo", "t", 1), -1);
    assert_int_equal(fetch(w, "nobody", "t", 0), -1);

    /* The record is Kafka's: key v1 (group, topic, partition), value v3. */
    assert_int_equal(w->log->record_count, 1);
    const struct fake_record *rec = &w->log->records[0];
    assert_int_equal(rec->partition, group_record_partition_for("solo", PARTITIONS));
    struct group_record_key key;
    assert_int_equal(group_record_key_decode(rec->key, rec->key_len, &key), 0);
    assert_int_equal(key.version, 1);
    assert_true(group_str_eq(key.group, "solo"));
    assert_true(group_str_eq(key.topic, "t"));
    assert_int_equal(key.partition, 0);
    struct group_offset_value v;
    assert_int_equal(group_record_offset_value_decode(rec->value, rec->value_len, &v), 0);
    assert_int_equal(v.version, 3);
    assert_int_equal(v.offset, 42);
    assert_int_equal(v.leader_epoch, 4);

    /* A later commit wins. */
    commit(w, "solo", -1, "", "t", 0, 50, &r);
    fake_log_complete(w->log, 0);
    assert_int_equal(fetch(w, "solo", "t", 0), 50);
    world_free(w);
}

static void test_commit_fencing(void **state) {
    (void)state;
    struct world *w = world_new();
    struct member_ref m;
    make_stable(w, "g", &m);
    size_t appends = w->log->appends_total;
    struct commit_result r;
    /* I-GRP-2: refused at once, nothing written. */
    commit(w, "g", m.generation - 1, m.id, "t", 0, 1, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.errors[0], GROUP_ERR_ILLEGAL_GENERATION);
    commit(w, "g", m.generation + 1, m.id, "t", 0, 1, &r);
    assert_int_equal(r.errors[0], GROUP_ERR_ILLEGAL_GENERATION);
    commit(w, "g", m.generation, "ghost", "t", 0, 1, &r);
    assert_int_equal(r.errors[0], GROUP_ERR_UNKNOWN_MEMBER_ID);
    commit(w, "g", -1, "", "t", 0, 1, &r); /* No simple commits into a live group. */
    assert_int_equal(r.errors[0], GROUP_ERR_UNKNOWN_MEMBER_ID);
    commit(w, "missing", 3, "x", "t", 0, 1, &r);
    assert_int_equal(r.errors[0], GROUP_ERR_ILLEGAL_GENERATION);
    assert_int_equal(w->log->appends_total, appends);
    assert_int_equal(fetch(w, "g", "t", 0), -1);

    /* The current member and generation commit fine, in Stable... */
    commit(w, "g", m.generation, m.id, "t", 0, 7, &r);
    fake_log_complete(w->log, 0);
    assert_int_equal(r.errors[0], GROUP_ERR_NONE);
    assert_int_equal(fetch(w, "g", "t", 0), 7);
    /* ...and in PreparingRebalance (the generation is still current there)... */
    struct member_ref other;
    join_one(w, "g", "", &other);
    commit(w, "g", m.generation, m.id, "t", 0, 8, &r);
    fake_log_complete(w->log, 0);
    assert_int_equal(r.errors[0], GROUP_ERR_NONE);
    assert_int_equal(fetch(w, "g", "t", 0), 8);
    /* ...but not in CompletingRebalance, whose generation has no assignment yet. */
    struct member_ref again;
    join_one(w, "g", m.id, &again);
    assert_int_equal(again.calls, 1);
    commit(w, "g", again.generation, m.id, "t", 0, 9, &r);
    assert_int_equal(r.errors[0], GROUP_ERR_REBALANCE_IN_PROGRESS);
    /* And the old generation is now stale. */
    commit(w, "g", m.generation, m.id, "t", 0, 9, &r);
    assert_int_equal(r.errors[0], GROUP_ERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(fetch(w, "g", "t", 0), 8);
    world_free(w);
}

static void test_partition_errors_and_log_failures(void **state) {
    (void)state;
    struct world *w = world_new();
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct group_commit_partition ps[] = {
        {.topic = "t",
         .partition = 0,
         .offset = 5,
         .leader_epoch = -1,
         .commit_timestamp_ms = -1,
         .metadata = NULL},
        {.topic = "t",
         .partition = 1,
         .offset = 6,
         .leader_epoch = -1,
         .commit_timestamp_ms = -1,
         .metadata = big},
        {.topic = "",
         .partition = 2,
         .offset = 7,
         .leader_epoch = -1,
         .commit_timestamp_ms = -1,
         .metadata = ""},
        {.topic = "u",
         .partition = 0,
         .offset = 8,
         .leader_epoch = -1,
         .commit_timestamp_ms = 1234,
         .metadata = "keep"},
    };
    struct group_commit_request req = {.group_id = "solo",
                                       .generation_id = -1,
                                       .member_id = "",
                                       .retention_ms = -1,
                                       .partitions = ps,
                                       .partition_count = 4};
    struct commit_result r = {0};
    group_commit(w->co, &req, on_commit, &r);
    fake_log_complete(w->log, 0);
    assert_int_equal(r.count, 4);
    assert_int_equal(r.errors[0], GROUP_ERR_NONE);
    assert_int_equal(r.errors[1], GROUP_ERR_OFFSET_METADATA_TOO_LARGE);
    assert_int_equal(r.errors[2], 3); /* UNKNOWN_TOPIC_OR_PARTITION */
    assert_int_equal(r.errors[3], GROUP_ERR_NONE);
    assert_int_equal(fetch(w, "solo", "t", 0), 5);
    assert_int_equal(fetch(w, "solo", "t", 1), -1);
    struct group_offset o;
    group_offset_fetch(w->co, "solo", "u", 0, &o);
    assert_int_equal(o.commit_timestamp_ms, 1234); /* OffsetCommit v1's own timestamp. */
    assert_string_equal(o.metadata, "keep");

    /* Log failures: nothing applied, Kafka's codes. */
    struct {
        int status;
        int16_t want;
    } cases[] = {
        {-ESTALE, GROUP_ERR_NOT_COORDINATOR},
        {-EIO, GROUP_ERR_NOT_COORDINATOR},
        {-EMSGSIZE, GROUP_ERR_INVALID_COMMIT_OFFSET_SIZE},
        {-ETIMEDOUT, GROUP_ERR_COORDINATOR_NOT_AVAILABLE},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        commit(w, "solo", -1, "", "t", 0, 100 + (int64_t)i, &r);
        fake_log_complete(w->log, cases[i].status);
        assert_int_equal(r.calls, 1);
        assert_int_equal(r.errors[0], cases[i].want);
        assert_int_equal(fetch(w, "solo", "t", 0), 5);
    }
    w->log->fail_sync = -ENOSPC;
    commit(w, "solo", -1, "", "t", 0, 200, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.errors[0], GROUP_ERR_COORDINATOR_NOT_AVAILABLE);
    w->log->fail_sync = 0;
    assert_int_equal(group_coordinator_appends(w->co), 0);

    /* Not our partition: NOT_COORDINATOR, at once. */
    group_coordinator_unload(w->co, group_record_partition_for("solo", PARTITIONS));
    commit(w, "solo", -1, "", "t", 0, 300, &r);
    assert_int_equal(r.errors[0], GROUP_ERR_NOT_COORDINATOR);
    struct group_offset out;
    assert_int_equal(group_offset_fetch(w->co, "solo", "t", 0, &out), GROUP_ERR_NOT_COORDINATOR);
    world_free(w);
}

struct visit {
    size_t count;
    char keys[8][32];
};

static void on_visit(void *arg, const char *topic, int32_t partition,
                     const struct group_offset *offset) {
    struct visit *v = arg;
    ASSERT(v->count < 8);
    snprintf(v->keys[v->count++], sizeof(v->keys[0]), "%s/%d=%lld", topic, partition,
             (long long)offset->offset);
}

static void test_fetch_all_in_order(void **state) {
    (void)state;
    struct world *w = world_new();
    struct commit_result r;
    commit(w, "solo", -1, "", "b", 1, 11, &r);
    commit(w, "solo", -1, "", "a", 10, 12, &r);
    commit(w, "solo", -1, "", "a", 2, 13, &r);
    fake_log_complete(w->log, 0);
    struct visit v = {0};
    assert_int_equal(group_offset_fetch_all(w->co, "solo", on_visit, &v), GROUP_ERR_NONE);
    assert_int_equal(v.count, 3);
    assert_string_equal(v.keys[0], "a/2=13");
    assert_string_equal(v.keys[1], "a/10=12");
    assert_string_equal(v.keys[2], "b/1=11");
    world_free(w);
}

/* Advances time in 5 s steps, heartbeating the members that must stay alive. */
static void tick(struct world *w, uint64_t ms, struct member_ref *const *alive, size_t n) {
    while (ms > 0) {
        uint64_t step = ms < 5000 ? ms : 5000;
        fake_io_advance_ms(w->fio, step);
        ms -= step;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(group_heartbeat(w->co, "g", alive[i]->generation, alive[i]->id),
                             GROUP_ERR_NONE);
        }
    }
}

static void commit_with_retention(struct world *w, const char *group, const char *topic,
                                  int64_t offset, int64_t retention_ms, struct commit_result *out) {
    memset(out, 0, sizeof(*out));
    struct group_commit_partition p = {.topic = topic,
                                       .partition = 0,
                                       .offset = offset,
                                       .leader_epoch = -1,
                                       .commit_timestamp_ms = -1,
                                       .metadata = ""};
    struct group_commit_request req = {.group_id = group,
                                       .generation_id = -1,
                                       .member_id = "",
                                       .retention_ms = retention_ms,
                                       .partitions = &p,
                                       .partition_count = 1};
    group_commit(w->co, &req, on_commit, out);
}

/* Builds varied state: a Stable group with an assignment and offsets, an Empty group that
 * had members, a standalone group, and a group whose offsets expired (deleted). */
static void build_history(struct world *w) {
    struct member_ref m, l;
    struct commit_result r;
    make_stable(w, "g", &m);
    commit(w, "g", m.generation, m.id, "t", 0, 10, &r);
    commit(w, "g", m.generation, m.id, "t", 1, 20, &r);
    commit(w, "g", m.generation, m.id, "t", 0, 11, &r);
    make_stable(w, "left", &l);
    commit(w, "left", l.generation, l.id, "t", 0, 5, &r);
    fake_log_complete(w->log, 0);
    const char *ids[] = {l.id};
    int16_t errors[1];
    group_leave(w->co, "left", ids, 1, errors);
    commit(w, "solo", -1, "", "x", 3, 99, &r);
    commit_with_retention(w, "gone", "x", 1, MINUTE_MS, &r);
    fake_log_complete(w->log, 0);
    struct member_ref *alive[] = {&m};
    tick(w, 2 * MINUTE_MS, alive, 1);
    commit(w, "solo", -1, "", "x", 3, 100, &r);
    assert_int_equal(group_coordinator_expire_offsets(w->co), 1); /* Only "gone". */
    fake_log_complete(w->log, 0);
    struct group_offset o;
    group_offset_fetch(w->co, "gone", "x", 0, &o);
    assert_int_equal(o.offset, -1);
}

static void test_replay_rebuilds_same_state(void **state) {
    (void)state;
    struct world *w = world_new();
    build_history(w);
    char live[8192], replayed[8192], reloaded[8192];
    size_t n = group_coordinator_dump(w->co, live, sizeof(live));
    assert_true(n > 0 && n < sizeof(live));
    assert_non_null(strstr(live, "group g "));
    assert_non_null(strstr(live, "state=Stable"));
    assert_non_null(strstr(live, "group left "));
    assert_non_null(strstr(live, "offset x/3=100"));
    assert_null(strstr(live, "group gone "));

    /* A fresh coordinator (a restart, or a failover to another broker) replays the log. */
    struct group_coordinator *fresh = coordinator_new(w);
    size_t replayed_records = 0;
    for (int32_t p = 0; p < PARTITIONS; p++)
        replayed_records += fake_log_replay(w->log, fresh, p);
    assert_true(replayed_records >= 10);
    group_coordinator_dump(fresh, replayed, sizeof(replayed));
    assert_string_equal(replayed, live);

    /* The replayed coordinator serves: the member's session was restarted at load... */
    struct group_offset o;
    assert_int_equal(group_offset_fetch(fresh, "g", "t", 0, &o), GROUP_ERR_NONE);
    assert_int_equal(o.offset, 11);
    group_coordinator_destroy(fresh);

    /* Unloading and reloading on the same coordinator gives the same state too. */
    for (int32_t p = 0; p < PARTITIONS; p++) {
        group_coordinator_unload(w->co, p);
        fake_log_replay(w->log, w->co, p);
    }
    group_coordinator_dump(w->co, reloaded, sizeof(reloaded));
    assert_string_equal(reloaded, live);
    world_free(w);
}

static void test_replayed_member_session_expires(void **state) {
    (void)state;
    struct world *w = world_new();
    struct member_ref m;
    make_stable(w, "g", &m);
    int32_t p = group_record_partition_for("g", PARTITIONS);
    group_coordinator_unload(w->co, p);
    fake_log_replay(w->log, w->co, p);
    /* The loaded member may heartbeat with its old generation... */
    assert_int_equal(group_heartbeat(w->co, "g", m.generation, m.id), GROUP_ERR_NONE);
    /* ...and if it is really gone, its session ends and the group empties. */
    fake_io_advance_ms(w->fio, 10000);
    struct group_offset o;
    group_offset_fetch(w->co, "g", "t", 0, &o);
    char dump[2048];
    group_coordinator_dump(w->co, dump, sizeof(dump));
    assert_non_null(strstr(dump, "state=Empty gen=2"));
    world_free(w);
}

/* Replay reads bytes from disk: mutated and truncated records must be refused or applied
 * sanely, never crash, never leak (run under ASan/valgrind to see the point). */
static void test_replay_survives_corrupt_records(void **state) {
    (void)state;
    struct world *w = world_new();
    build_history(w);
    uint64_t rng = 12345;
    size_t refused = 0, applied = 0;
    for (int round = 0; round < 40; round++) {
        for (int32_t p = 0; p < PARTITIONS; p++) {
            group_coordinator_unload(w->co, p);
            group_coordinator_load_begin(w->co, p);
            for (size_t i = 0; i < w->log->record_count; i++) {
                const struct fake_record *r = &w->log->records[i];
                if (r->partition != p) continue;
                uint8_t key[512], value[2048];
                ASSERT(r->key_len <= sizeof(key) && r->value_len <= sizeof(value));
                memcpy(key, r->key, r->key_len);
                size_t key_len = r->key_len, value_len = r->value_len;
                if (r->value != NULL) memcpy(value, r->value, r->value_len);
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                uint32_t what = (uint32_t)(rng >> 33) % 4;
                uint32_t where = (uint32_t)(rng >> 13);
                if (what == 0 && key_len > 0)
                    key[where % key_len] ^= (uint8_t)(1 + (rng >> 50) % 255);
                if (what == 1 && value_len > 0 && r->value != NULL) {
                    value[where % value_len] ^= (uint8_t)(1 + (rng >> 50) % 255);
                }
                if (what == 2 && value_len > 0) value_len = where % value_len;
                int rc = group_coordinator_replay(w->co, p, key, key_len,
                                                  r->value == NULL ? NULL : value, value_len);
                assert_true(rc == 0 || rc == -EINVAL || rc == -ENOTSUP || rc == -ENOSPC);
                if (rc == 0) {
                    applied++;
                } else {
                    refused++;
                }
            }
            group_coordinator_load_end(w->co, p);
        }
        /* Whatever got in is served without tripping an assertion. */
        char dump[16384];
        group_coordinator_dump(w->co, dump, sizeof(dump));
        fake_io_advance_ms(w->fio, 20000);
        group_coordinator_expire_offsets(w->co);
        fake_log_complete(w->log, 0);
    }
    assert_true(refused > 0);
    assert_true(applied > 0);
    world_free(w);
}

static void test_replay_rejects_bad_records(void **state) {
    (void)state;
    struct world *w = world_new();
    int32_t p = group_record_partition_for("solo", PARTITIONS);
    group_coordinator_unload(w->co, p);
    group_coordinator_load_begin(w->co, p);
    uint8_t key[64];
    size_t key_len = group_record_offset_key_encode(key, sizeof(key), "solo", "t", 0);
    const uint8_t junk[] = {0, 3, 1};
    assert_int_equal(group_coordinator_replay(w->co, p, key, key_len, junk, sizeof(junk)), -EINVAL);
    assert_int_equal(group_coordinator_replay(w->co, p, key, 3, NULL, 0), -EINVAL);
    /* A record for a group that belongs to another partition is not ours to load. */
    int32_t other = (p + 1) % PARTITIONS;
    assert_int_equal(group_coordinator_replay(w->co, p, key, key_len, NULL, 0), 0);
    group_coordinator_unload(w->co, other);
    group_coordinator_load_begin(w->co, other);
    uint8_t value[64];
    struct group_offset_value v = {.version = 3,
                                   .offset = 1,
                                   .leader_epoch = -1,
                                   .metadata = group_str_c(""),
                                   .commit_timestamp_ms = 1,
                                   .expire_timestamp_ms = -1};
    size_t value_len = group_record_offset_value_encode(value, sizeof(value), &v);
    assert_int_equal(group_coordinator_replay(w->co, other, key, key_len, value, value_len),
                     -EINVAL);
    group_coordinator_load_end(w->co, other);
    group_coordinator_load_end(w->co, p);
    assert_int_equal(fetch(w, "solo", "t", 0), -1);
    world_free(w);
}

static void test_retention_rules(void **state) {
    (void)state;
    struct world *w = world_new();
    struct member_ref live, leaver;
    struct commit_result r;
    make_stable(w, "g", &live);
    commit(w, "g", live.generation, live.id, "t", 0, 1, &r);
    make_stable(w, "empty", &leaver);
    commit(w, "empty", leaver.generation, leaver.id, "t", 0, 2, &r);
    commit(w, "solo", -1, "", "t", 0, 3, &r);
    fake_log_complete(w->log, 0);
    struct member_ref *alive[] = {&live};

    /* t0 + 15 min: "empty" loses its member (it heartbeated until then). */
    for (int i = 0; i < 15 * 12; i++) {
        tick(w, 5000, alive, 1);
        assert_int_equal(group_heartbeat(w->co, "empty", leaver.generation, leaver.id),
                         GROUP_ERR_NONE);
    }
    const char *ids[] = {leaver.id};
    int16_t errors[1];
    group_leave(w->co, "empty", ids, 1, errors);
    fake_log_complete(w->log, 0);

    /* Retention is 60 minutes; the periodic check (every 10) runs all along. */
    tick(w, 45 * MINUTE_MS - 5000, alive, 1);
    assert_int_equal(group_coordinator_expire_offsets(w->co), 0);
    assert_int_equal(fetch(w, "solo", "t", 0), 3);
    tick(w, 10000, alive, 1);
    /* t0 + 60 min + 5 s: a standalone group's offset counts from its commit... */
    group_coordinator_expire_offsets(w->co);
    fake_log_complete(w->log, 0);
    assert_int_equal(fetch(w, "solo", "t", 0), -1);
    /* ...an Empty group's from when it became Empty (t0 + 15 min)... */
    assert_int_equal(fetch(w, "empty", "t", 0), 2);
    /* ...and a live group's offsets never expire. */
    assert_int_equal(fetch(w, "g", "t", 0), 1);
    tick(w, 15 * MINUTE_MS, alive, 1);
    group_coordinator_expire_offsets(w->co);
    fake_log_complete(w->log, 0);
    assert_int_equal(fetch(w, "empty", "t", 0), -1);
    assert_int_equal(fetch(w, "g", "t", 0), 1);
    char live_dump[4096];
    group_coordinator_dump(w->co, live_dump, sizeof(live_dump));
    /* Groups left Empty without offsets are Dead: gone from memory. */
    assert_null(strstr(live_dump, "group empty "));
    assert_null(strstr(live_dump, "group solo "));
    assert_non_null(strstr(live_dump, "group g "));
    /* Tombstones were written: a replay agrees nothing is left of those groups. */
    struct group_coordinator *fresh = coordinator_new(w);
    for (int32_t p = 0; p < PARTITIONS; p++)
        fake_log_replay(w->log, fresh, p);
    char replayed[4096];
    group_coordinator_dump(fresh, replayed, sizeof(replayed));
    assert_string_equal(replayed, live_dump);
    group_coordinator_destroy(fresh);
    world_free(w);
}

static void test_retention_timer_runs_by_itself(void **state) {
    (void)state;
    struct world *w = world_new();
    struct commit_result r;
    commit(w, "solo", -1, "", "t", 0, 3, &r);
    fake_log_complete(w->log, 0);
    /* No member to keep alive: just let time pass; the 10-minute check does the rest. */
    fake_io_advance_ms(w->fio, 70 * MINUTE_MS);
    assert_int_equal(fetch(w, "solo", "t", 0), -1);
    world_free(w);
}

static void test_explicit_retention(void **state) {
    (void)state;
    struct world *w = world_new();
    /* OffsetCommit v2-4 retention_time_ms: value v1 with an expire timestamp. */
    struct group_commit_partition p = {.topic = "t",
                                       .partition = 0,
                                       .offset = 9,
                                       .leader_epoch = -1,
                                       .commit_timestamp_ms = -1,
                                       .metadata = ""};
    struct group_commit_request req = {.group_id = "solo",
                                       .generation_id = -1,
                                       .member_id = "",
                                       .retention_ms = 5 * MINUTE_MS,
                                       .partitions = &p,
                                       .partition_count = 1};
    struct commit_result r = {0};
    group_commit(w->co, &req, on_commit, &r);
    fake_log_complete(w->log, 0);
    const struct fake_record *rec = &w->log->records[w->log->record_count - 1];
    struct group_offset_value v;
    assert_int_equal(group_record_offset_value_decode(rec->value, rec->value_len, &v), 0);
    assert_int_equal(v.version, 1);
    assert_int_equal(v.expire_timestamp_ms, v.commit_timestamp_ms + 5 * MINUTE_MS);
    fake_io_advance_ms(w->fio, 5 * MINUTE_MS - 1);
    assert_int_equal(group_coordinator_expire_offsets(w->co), 0);
    fake_io_advance_ms(w->fio, 1);
    assert_int_equal(group_coordinator_expire_offsets(w->co), 1);
    assert_int_equal(fetch(w, "solo", "t", 0), -1);
    world_free(w);
}

static void txn_commit(struct world *w, const char *group, int64_t producer_id, int32_t partition,
                       int64_t offset, int32_t generation, const char *member,
                       struct commit_result *out) {
    memset(out, 0, sizeof(*out));
    struct group_commit_partition p = {.topic = "t",
                                       .partition = partition,
                                       .offset = offset,
                                       .leader_epoch = 2,
                                       .commit_timestamp_ms = -1,
                                       .metadata = "tx"};
    struct group_txn_commit_request req = {.transactional_id = "tid",
                                           .group_id = group,
                                           .producer_id = producer_id,
                                           .producer_epoch = 0,
                                           .generation_id = generation,
                                           .member_id = member,
                                           .partitions = &p,
                                           .partition_count = 1};
    group_txn_commit(w->co, &req, on_commit, out);
}

static void test_txn_offsets_visible_only_after_commit_marker(void **state) {
    (void)state;
    struct world *w = world_new();
    int32_t p = group_record_partition_for("eos", PARTITIONS);
    struct commit_result r, r2;
    txn_commit(w, "eos", 7, 0, 100, -1, "", &r);
    txn_commit(w, "eos", 8, 1, 200, -1, "", &r2);
    fake_log_complete(w->log, 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.errors[0], GROUP_ERR_NONE);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r2.errors[0], GROUP_ERR_NONE);
    /* Durable but pending: OffsetFetch does not see it (I-TXN-8). */
    assert_int_equal(fetch(w, "eos", "t", 0), -1);
    assert_int_equal(fetch(w, "eos", "t", 1), -1);
    /* The records went out as transactional batches of their producers. */
    assert_int_equal(w->log->records[w->log->record_count - 1].producer_id, 8);

    fake_log_marker(w->log, w->co, p, 7, true);
    assert_int_equal(fetch(w, "eos", "t", 0), 100);
    struct group_offset o;
    group_offset_fetch(w->co, "eos", "t", 0, &o);
    assert_int_equal(o.leader_epoch, 2);
    assert_string_equal(o.metadata, "tx");
    assert_int_equal(fetch(w, "eos", "t", 1), -1); /* Another producer's: still pending. */
    fake_log_marker(w->log, w->co, p, 8, false);
    assert_int_equal(fetch(w, "eos", "t", 1), -1); /* Aborted: gone. */
    char dump[4096];
    group_coordinator_dump(w->co, dump, sizeof(dump));
    assert_null(strstr(dump, "pending"));
    /* A second marker for the same producer changes nothing. */
    assert_int_equal(group_coordinator_txn_complete(w->co, p, 7, true), 0);
    world_free(w);
}

static void test_txn_offset_does_not_overwrite_a_later_commit(void **state) {
    (void)state;
    struct world *w = world_new();
    int32_t p = group_record_partition_for("eos", PARTITIONS);
    struct commit_result r;
    txn_commit(w, "eos", 7, 0, 100, -1, "", &r);
    fake_log_complete(w->log, 0);
    commit(w, "eos", -1, "", "t", 0, 150, &r); /* Written after the transactional record. */
    fake_log_complete(w->log, 0);
    assert_int_equal(fetch(w, "eos", "t", 0), 150);
    fake_log_marker(w->log, w->co, p, 7, true);
    assert_int_equal(fetch(w, "eos", "t", 0), 150); /* The later record wins, as in the log. */
    /* A transactional record written after a plain commit does win when committed. */
    txn_commit(w, "eos", 9, 0, 300, -1, "", &r);
    fake_log_complete(w->log, 0);
    fake_log_marker(w->log, w->co, p, 9, true);
    assert_int_equal(fetch(w, "eos", "t", 0), 300);
    world_free(w);
}

static void test_txn_replay_and_pending_across_failover(void **state) {
    (void)state;
    struct world *w = world_new();
    int32_t p = group_record_partition_for("eos", PARTITIONS);
    struct commit_result r;
    txn_commit(w, "eos", 7, 0, 100, -1, "", &r);
    fake_log_complete(w->log, 0);
    commit(w, "eos", -1, "", "t", 0, 150, &r);
    txn_commit(w, "eos", 8, 2, 250, -1, "", &r);
    fake_log_complete(w->log, 0);
    fake_log_marker(w->log, w->co, p, 7, true);
    txn_commit(w, "eos", 9, 3, 350, -1, "", &r); /* Still open at the failover. */
    fake_log_complete(w->log, 0);
    fake_log_marker(w->log, w->co, p, 8, true);
    char live[4096], replayed[4096];
    group_coordinator_dump(w->co, live, sizeof(live));
    assert_non_null(strstr(live, "pending pid=9 t/3=350"));
    assert_non_null(strstr(live, "offset t/0=150"));
    assert_non_null(strstr(live, "offset t/2=250"));

    /* The new leader replays: same committed offsets, same pending transaction. */
    struct group_coordinator *fresh = coordinator_new(w);
    for (int32_t q = 0; q < PARTITIONS; q++)
        fake_log_replay(w->log, fresh, q);
    group_coordinator_dump(fresh, replayed, sizeof(replayed));
    assert_string_equal(replayed, live);
    /* The open transaction's marker arrives at the new leader. */
    assert_int_equal(group_coordinator_txn_complete(fresh, p, 9, true), 1);
    struct group_offset o;
    group_offset_fetch(fresh, "eos", "t", 3, &o);
    assert_int_equal(o.offset, 350);
    group_coordinator_destroy(fresh);
    world_free(w);
}

static void test_txn_commit_fencing_and_limits(void **state) {
    (void)state;
    struct world *w = world_new();
    struct member_ref m;
    make_stable(w, "g", &m);
    struct commit_result r;
    /* v3+ (KIP-447) carries the member and generation: they are checked. */
    txn_commit(w, "g", 7, 0, 1, m.generation, "ghost", &r);
    assert_int_equal(r.errors[0], GROUP_ERR_UNKNOWN_MEMBER_ID);
    txn_commit(w, "g", 7, 0, 1, m.generation + 1, m.id, &r);
    assert_int_equal(r.errors[0], GROUP_ERR_ILLEGAL_GENERATION);
    txn_commit(w, "g", -1, 0, 1, -1, "", &r);
    assert_int_equal(r.errors[0], GROUP_ERR_INVALID_PRODUCER_ID_MAPPING);
    txn_commit(w, "g", 7, 0, 1, m.generation, m.id, &r);
    fake_log_complete(w->log, 0);
    assert_int_equal(r.errors[0], GROUP_ERR_NONE);
    /* An Empty group holding only pending offsets is not expired away. */
    const char *ids[] = {m.id};
    int16_t errors[1];
    group_leave(w->co, "g", ids, 1, errors);
    fake_log_complete(w->log, 0);
    fake_io_advance_ms(w->fio, 2 * 60 * MINUTE_MS);
    group_coordinator_expire_offsets(w->co);
    char dump[4096];
    group_coordinator_dump(w->co, dump, sizeof(dump));
    assert_non_null(strstr(dump, "pending pid=7"));
    /* Without a transactional append path the coordinator refuses. */
    struct group_log plain = {.append = fake_log_append, .append_txn = NULL, .ctx = w->log};
    struct group_coordinator *no_txn = group_coordinator_create(&w->fio->io, &w->config, &plain);
    int32_t p = group_record_partition_for("x", PARTITIONS);
    group_coordinator_load_begin(no_txn, p);
    group_coordinator_load_end(no_txn, p);
    struct group_commit_partition part = {
        .topic = "t", .partition = 0, .offset = 1, .leader_epoch = -1, .commit_timestamp_ms = -1};
    struct group_txn_commit_request req = {.group_id = "x",
                                           .producer_id = 1,
                                           .generation_id = -1,
                                           .member_id = "",
                                           .partitions = &part,
                                           .partition_count = 1};
    memset(&r, 0, sizeof(r));
    group_txn_commit(no_txn, &req, on_commit, &r);
    assert_int_equal(r.errors[0], GROUP_ERR_COORDINATOR_NOT_AVAILABLE);
    group_coordinator_destroy(no_txn);
    world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_visible_only_when_durable),
        cmocka_unit_test(test_commit_fencing),
        cmocka_unit_test(test_partition_errors_and_log_failures),
        cmocka_unit_test(test_fetch_all_in_order),
        cmocka_unit_test(test_replay_rebuilds_same_state),
        cmocka_unit_test(test_replayed_member_session_expires),
        cmocka_unit_test(test_replay_rejects_bad_records),
        cmocka_unit_test(test_replay_survives_corrupt_records),
        cmocka_unit_test(test_retention_rules),
        cmocka_unit_test(test_retention_timer_runs_by_itself),
        cmocka_unit_test(test_explicit_retention),
        cmocka_unit_test(test_txn_offsets_visible_only_after_commit_marker),
        cmocka_unit_test(test_txn_offset_does_not_overwrite_a_later_commit),
        cmocka_unit_test(test_txn_replay_and_pending_across_failover),
        cmocka_unit_test(test_txn_commit_fencing_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
