/*
 * test_group_coordinator.c — proves the group membership state machine: every state
 * transition (Empty -> PreparingRebalance -> CompletingRebalance -> Stable, back to
 * PreparingRebalance on join/leave/expiry/leader rejoin, to Empty when the last member goes),
 * MEMBER_ID_REQUIRED for JoinGroup v4+, the initial rebalance delay and its extension,
 * rebalance and session timeouts, leader = first joiner and its re-election, protocol
 * selection by votes, the refusals of stale generations and unknown members (I-GRP-2),
 * NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS, that every waiting callback is answered
 * exactly once, that no memory or timer is left behind, and that a run is deterministic.
 * Time and timers come from a fake io (test_group_fake_io.c) driven by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/test_group_fake_io.c"

#define PARTITIONS 4

struct world {
    struct fake_io *fio;
    struct fake_log *log;
    struct group_coordinator *co;
    struct group_config config;
};

struct join_result {
    int calls;
    int16_t error;
    int32_t generation;
    char member_id[160];
    char leader[160];
    char protocol[32];
    size_t member_count;
    char members[8][160];
};

struct sync_result {
    int calls;
    int16_t error;
    char assignment[64];
};

static const struct group_protocol RANGE[] = {
    {.name = "range", .metadata = (const uint8_t *)"s1", .metadata_len = 2}};
static const struct group_protocol RANGE_RR[] = {
    {.name = "range", .metadata = (const uint8_t *)"a", .metadata_len = 1},
    {.name = "roundrobin", .metadata = (const uint8_t *)"b", .metadata_len = 1}};
static const struct group_protocol RR_RANGE[] = {
    {.name = "roundrobin", .metadata = (const uint8_t *)"b", .metadata_len = 1},
    {.name = "range", .metadata = (const uint8_t *)"a", .metadata_len = 1}};
static const struct group_protocol RR[] = {
    {.name = "roundrobin", .metadata = (const uint8_t *)"b", .metadata_len = 1}};
static const struct group_protocol STICKY[] = {
    {.name = "sticky", .metadata = (const uint8_t *)"c", .metadata_len = 1}};

static void on_join(void *arg, const struct group_join_response *r) {
    struct join_result *out = arg;
    out->calls++;
    out->error = r->error_code;
    out->generation = r->generation_id;
    snprintf(out->member_id, sizeof(out->member_id), "%s", r->member_id);
    snprintf(out->leader, sizeof(out->leader), "%s", r->leader_id);
    snprintf(out->protocol, sizeof(out->protocol), "%s",
             r->protocol_name == NULL ? "" : r->protocol_name);
    out->member_count = r->member_count;
    for (size_t i = 0; i < r->member_count && i < 8; i++) {
        snprintf(out->members[i], sizeof(out->members[i]), "%s", r->members[i].member_id);
    }
}

static void on_sync(void *arg, const struct group_sync_response *r) {
    struct sync_result *out = arg;
    out->calls++;
    out->error = r->error_code;
    memset(out->assignment, 0, sizeof(out->assignment));
    ASSERT(r->assignment_len < sizeof(out->assignment));
    if (r->assignment_len > 0) memcpy(out->assignment, r->assignment, r->assignment_len);
}

static struct world *world_new(void) {
    struct world *w = calloc(1, sizeof(*w));
    w->fio = fake_io_new();
    w->log = fake_log_new();
    group_config_default(&w->config);
    w->config.offsets_partitions = PARTITIONS;
    w->config.group_members_max = 8;
    struct group_log seam = fake_log_seam(w->log);
    w->co = group_coordinator_create(&w->fio->io, &w->config, &seam);
    for (int32_t p = 0; p < PARTITIONS; p++) {
        group_coordinator_load_begin(w->co, p);
        group_coordinator_load_end(w->co, p);
    }
    return w;
}

/* Tears down and proves nothing leaked: no bytes, no timers, no appends in flight. */
static void world_free(struct world *w) {
    fake_log_complete(w->log, 0);
    assert_int_equal(group_coordinator_appends(w->co), 0);
    group_coordinator_destroy(w->co);
    assert_int_equal(w->fio->live_bytes, 0);
    assert_int_equal(w->fio->live_allocs, 0);
    assert_int_equal(fake_timers_live(w->fio), 0);
    fake_log_free(w->log);
    free(w->fio);
    free(w);
}

static void join_full(struct world *w, int16_t version, const char *group, const char *member_id,
                      const char *client, const struct group_protocol *protocols, size_t count,
                      int32_t rebalance_timeout_ms, struct join_result *out) {
    memset(out, 0, sizeof(*out));
    struct group_join_request req = {
        .api_version = version,
        .group_id = group,
        .member_id = member_id,
        .client_id = client,
        .client_host = "/127.0.0.1",
        .session_timeout_ms = 10000,
        .rebalance_timeout_ms = rebalance_timeout_ms,
        .protocol_type = "consumer",
        .protocols = protocols,
        .protocol_count = count,
    };
    group_join(w->co, &req, on_join, out);
}

static void join(struct world *w, const char *member_id, const char *client,
                 struct join_result *out) {
    join_full(w, 3, "g", member_id, client, RANGE, 1, 30000, out);
}

static void sync_group(struct world *w, int32_t generation, const char *member_id,
                       const struct group_assignment *asg, size_t count, struct sync_result *out) {
    memset(out, 0, sizeof(*out));
    struct group_sync_request req = {.group_id = "g",
                                     .generation_id = generation,
                                     .member_id = member_id,
                                     .assignments = asg,
                                     .assignment_count = count};
    group_sync(w->co, &req, on_sync, out);
}

struct describe_result {
    char state[32];
    char protocol[32];
    size_t member_count;
    char members[8][160];
    char assignments[8][32];
};

static void on_describe(void *arg, const struct group_description *d) {
    struct describe_result *out = arg;
    memset(out, 0, sizeof(*out));
    snprintf(out->state, sizeof(out->state), "%s", d->state);
    snprintf(out->protocol, sizeof(out->protocol), "%s", d->protocol);
    out->member_count = d->member_count;
    for (size_t i = 0; i < d->member_count && i < 8; i++) {
        snprintf(out->members[i], sizeof(out->members[i]), "%s", d->members[i].member_id);
        ASSERT(d->members[i].assignment_len < sizeof(out->assignments[i]));
        if (d->members[i].assignment_len > 0) {
            memcpy(out->assignments[i], d->members[i].assignment, d->members[i].assignment_len);
        }
    }
}

static const char *state_of(struct world *w, const char *group) {
    static struct describe_result d; /* Test code only: system code has no statics. */
    group_describe(w->co, group, on_describe, &d);
    return d.state;
}

/* Brings "g" to Stable with members joined in order (v3 joins), leader assigning each
 * member "asg-<index>". Results land in joins[]. */
static void make_stable(struct world *w, size_t n, struct join_result *joins) {
    char client[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(client, sizeof(client), "c%zu", i);
        join(w, "", client, &joins[i]);
    }
    /* KIP-134: each arrival during the initial delay extends it by one more delay. */
    fake_io_advance_ms(w->fio, w->config.initial_rebalance_delay_ms * (n > 1 ? 2 : 1));
    struct group_assignment asg[8];
    char bytes[8][32];
    struct sync_result syncs[8];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(joins[i].calls, 1);
        assert_int_equal(joins[i].error, GROUP_ERR_NONE);
        snprintf(bytes[i], sizeof(bytes[i]), "asg-%zu", i);
        asg[i] = (struct group_assignment){.member_id = joins[i].member_id,
                                           .assignment = (const uint8_t *)bytes[i],
                                           .assignment_len = strlen(bytes[i])};
    }
    for (size_t i = n; i > 0; i--) {
        sync_group(w, joins[i - 1].generation, joins[i - 1].member_id, asg, i == 1 ? n : 0,
                   &syncs[i - 1]);
    }
    fake_log_complete(w->log, 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(syncs[i].calls, 1);
        assert_int_equal(syncs[i].error, GROUP_ERR_NONE);
        assert_string_equal(syncs[i].assignment, bytes[i]);
    }
    assert_string_equal(state_of(w, "g"), "Stable");
}

static void test_member_id_required_then_join(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result r;
    join_full(w, 4, "g", "", "client-a", RANGE, 1, 30000, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.error, GROUP_ERR_MEMBER_ID_REQUIRED);
    assert_int_equal(r.generation, -1);
    assert_true(strncmp(r.member_id, "client-a-", 9) == 0);
    assert_string_equal(state_of(w, "g"), "Empty");

    char id[160];
    snprintf(id, sizeof(id), "%s", r.member_id);
    join_full(w, 4, "g", id, "client-a", RANGE, 1, 30000, &r);
    assert_int_equal(r.calls, 0); /* Waits for the rebalance. */
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    fake_io_advance_ms(w->fio, 2999);
    assert_int_equal(r.calls, 0); /* The initial delay never ends early. */
    fake_io_advance_ms(w->fio, 1);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.error, GROUP_ERR_NONE);
    assert_int_equal(r.generation, 1);
    assert_string_equal(r.member_id, id);
    assert_string_equal(r.leader, id);
    assert_string_equal(r.protocol, "range");
    assert_int_equal(r.member_count, 1);
    assert_string_equal(state_of(w, "g"), "CompletingRebalance");
    world_free(w);
}

static void test_two_members_reach_stable(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result a, b;
    join(w, "", "a", &a);
    join(w, "", "b", &b);
    assert_int_equal(a.calls + b.calls, 0);
    fake_io_advance_ms(w->fio, 3000);
    /* b arrived during the initial delay: one more delay, in case more are coming. */
    assert_int_equal(a.calls + b.calls, 0);
    fake_io_advance_ms(w->fio, 3000);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a.generation, 1);
    assert_int_equal(b.generation, 1);
    assert_string_equal(a.leader, a.member_id); /* First joiner leads. */
    assert_string_equal(b.leader, a.member_id);
    assert_int_equal(a.member_count, 2); /* Only the leader sees the members. */
    assert_string_equal(a.members[0], a.member_id);
    assert_string_equal(a.members[1], b.member_id);
    assert_int_equal(b.member_count, 0);

    struct sync_result sa, sb;
    sync_group(w, 1, b.member_id, NULL, 0, &sb);
    assert_int_equal(sb.calls, 0); /* The follower waits for the leader. */
    struct group_assignment asg[] = {
        {.member_id = a.member_id, .assignment = (const uint8_t *)"A", .assignment_len = 1},
        {.member_id = b.member_id, .assignment = (const uint8_t *)"B", .assignment_len = 1},
        {.member_id = "stranger", .assignment = (const uint8_t *)"X", .assignment_len = 1}};
    sync_group(w, 1, a.member_id, asg, 3, &sa);
    assert_int_equal(sa.calls, 0); /* Not before the assignment is durable. */
    assert_string_equal(state_of(w, "g"), "CompletingRebalance");
    assert_int_equal(w->log->append_count, 1);
    assert_int_equal(fake_log_complete(w->log, 0), 1);
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sb.calls, 1);
    assert_int_equal(sa.error, GROUP_ERR_NONE);
    assert_string_equal(sa.assignment, "A");
    assert_string_equal(sb.assignment, "B");
    assert_string_equal(state_of(w, "g"), "Stable");

    /* Stable: heartbeats succeed, a repeated SyncGroup gets the same assignment at once. */
    assert_int_equal(group_heartbeat(w->co, "g", 1, a.member_id), GROUP_ERR_NONE);
    sync_group(w, 1, b.member_id, NULL, 0, &sb);
    assert_int_equal(sb.calls, 1);
    assert_string_equal(sb.assignment, "B");

    struct describe_result d;
    group_describe(w->co, "g", on_describe, &d);
    assert_string_equal(d.protocol, "range");
    assert_int_equal(d.member_count, 2);
    assert_string_equal(d.members[0], a.member_id);
    assert_string_equal(d.assignments[1], "B");
    world_free(w);
}

static void test_initial_delay_extends_while_members_arrive(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result a, b;
    join_full(w, 3, "g", "", "a", RANGE, 1, 10000, &a);
    fake_io_advance_ms(w->fio, 2000);
    join_full(w, 3, "g", "", "b", RANGE, 1, 10000, &b);
    fake_io_advance_ms(w->fio, 1000); /* First delay over, but b arrived: wait again. */
    assert_int_equal(a.calls, 0);
    fake_io_advance_ms(w->fio, 2999);
    assert_int_equal(a.calls, 0);
    fake_io_advance_ms(w->fio, 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(a.generation, 1);
    assert_int_equal(a.member_count, 2);
    world_free(w);
}

static void test_initial_delay_bounded_by_rebalance_timeout(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result r[4];
    /* Rebalance timeout 5000: one delay of 3000, then at most 2000 more, however many
     * members keep arriving. */
    join_full(w, 3, "g", "", "a", RANGE, 1, 5000, &r[0]);
    fake_io_advance_ms(w->fio, 2500);
    join_full(w, 3, "g", "", "b", RANGE, 1, 5000, &r[1]);
    fake_io_advance_ms(w->fio, 2000);
    join_full(w, 3, "g", "", "c", RANGE, 1, 5000, &r[2]);
    fake_io_advance_ms(w->fio, 499);
    assert_int_equal(r[0].calls, 0);
    fake_io_advance_ms(w->fio, 1);
    assert_int_equal(r[0].calls, 1);
    assert_int_equal(r[0].member_count, 3);
    world_free(w);
}

static void test_new_member_rebalances_stable_group(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[3];
    make_stable(w, 2, j);
    size_t appends_before = w->log->appends_total;
    join(w, "", "c", &j[2]);
    assert_int_equal(j[2].calls, 0);
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    /* Members learn of the rebalance from their heartbeat, and must rejoin. */
    assert_int_equal(group_heartbeat(w->co, "g", 1, j[0].member_id),
                     GROUP_ERR_REBALANCE_IN_PROGRESS);
    char a[160], b[160];
    snprintf(a, sizeof(a), "%s", j[0].member_id);
    snprintf(b, sizeof(b), "%s", j[1].member_id);
    join(w, b, "b", &j[1]);
    assert_int_equal(j[1].calls, 0);
    join(w, a, "a", &j[0]);
    /* All three joined: completes at once, no initial delay outside Empty. */
    assert_int_equal(j[0].calls, 1);
    assert_int_equal(j[1].calls, 1);
    assert_int_equal(j[2].calls, 1);
    assert_int_equal(j[0].generation, 2);
    assert_string_equal(j[0].leader, a);
    assert_int_equal(j[0].member_count, 3);
    assert_string_equal(state_of(w, "g"), "CompletingRebalance");
    assert_int_equal(w->log->appends_total, appends_before);
    world_free(w);
}

static void test_rebalance_timeout_drops_members_that_did_not_rejoin(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[3];
    make_stable(w, 2, j);
    char a[160], b[160];
    snprintf(a, sizeof(a), "%s", j[0].member_id);
    snprintf(b, sizeof(b), "%s", j[1].member_id);
    join(w, "", "c", &j[2]);
    join(w, a, "a", &j[0]);
    /* b keeps heartbeating but never rejoins: the rebalance timeout (30 s) ends it. */
    for (int i = 0; i < 5; i++) {
        fake_io_advance_ms(w->fio, 5000);
        assert_int_equal(group_heartbeat(w->co, "g", 1, b), GROUP_ERR_REBALANCE_IN_PROGRESS);
    }
    assert_int_equal(j[0].calls, 0);
    fake_io_advance_ms(w->fio, 5000);
    assert_int_equal(j[0].calls, 1);
    assert_int_equal(j[2].calls, 1);
    assert_int_equal(j[0].generation, 2);
    assert_int_equal(j[0].member_count, 2);
    assert_string_equal(j[0].members[0], a);
    assert_string_equal(j[0].members[1], j[2].member_id);
    assert_int_equal(group_heartbeat(w->co, "g", 2, b), GROUP_ERR_UNKNOWN_MEMBER_ID);
    world_free(w);
}

static void test_leader_leaves_and_is_rechosen(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[3];
    make_stable(w, 3, j);
    char b[160], c[160];
    snprintf(b, sizeof(b), "%s", j[1].member_id);
    snprintf(c, sizeof(c), "%s", j[2].member_id);
    const char *leaving[] = {j[0].member_id, "nobody"};
    int16_t errors[2];
    assert_int_equal(group_leave(w->co, "g", leaving, 2, errors), GROUP_ERR_NONE);
    assert_int_equal(errors[0], GROUP_ERR_NONE);
    assert_int_equal(errors[1], GROUP_ERR_UNKNOWN_MEMBER_ID);
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    join(w, c, "c", &j[2]);
    join(w, b, "b", &j[1]);
    assert_int_equal(j[1].calls, 1);
    assert_int_equal(j[1].generation, 2);
    /* The earliest remaining joiner leads, not the first to rejoin. */
    assert_string_equal(j[1].leader, b);
    assert_int_equal(j[1].member_count, 2);
    assert_int_equal(j[2].member_count, 0);
    world_free(w);
}

static void test_session_timeout_expires_member(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[2];
    make_stable(w, 2, j);
    char a[160], b[160];
    snprintf(a, sizeof(a), "%s", j[0].member_id);
    snprintf(b, sizeof(b), "%s", j[1].member_id);
    /* b heartbeats every 4 s; a falls silent; the session is 10 s. */
    for (int i = 0; i < 2; i++) {
        fake_io_advance_ms(w->fio, 4000);
        assert_int_equal(group_heartbeat(w->co, "g", 1, b), GROUP_ERR_NONE);
    }
    assert_string_equal(state_of(w, "g"), "Stable");
    fake_io_advance_ms(w->fio, 2000);
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    assert_int_equal(group_heartbeat(w->co, "g", 1, a), GROUP_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(group_heartbeat(w->co, "g", 1, b), GROUP_ERR_REBALANCE_IN_PROGRESS);
    join(w, b, "b", &j[1]);
    assert_int_equal(j[1].calls, 1);
    assert_int_equal(j[1].generation, 2);
    assert_string_equal(j[1].leader, b);
    world_free(w);
}

static void test_waiting_member_is_not_expired(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result a;
    /* A member waiting for its SyncGroup answer stays alive past its session timeout. */
    join_full(w, 3, "g", "", "a", RANGE, 1, 60000, &a);
    fake_io_advance_ms(w->fio, 3000);
    assert_int_equal(a.calls, 1);
    struct sync_result s;
    sync_group(w, 1, a.member_id, NULL, 0, &s);
    assert_int_equal(s.calls, 0);
    fake_io_advance_ms(w->fio, 25000); /* The append is slow; the session is 10 s. */
    assert_string_equal(state_of(w, "g"), "CompletingRebalance");
    fake_log_complete(w->log, 0);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.error, GROUP_ERR_NONE);
    assert_string_equal(state_of(w, "g"), "Stable");
    world_free(w);
}

static void test_last_member_leaving_empties_group(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[1];
    make_stable(w, 1, j);
    size_t records_before = w->log->record_count;
    const char *ids[] = {j[0].member_id};
    int16_t errors[1];
    assert_int_equal(group_leave(w->co, "g", ids, 1, errors), GROUP_ERR_NONE);
    assert_int_equal(errors[0], GROUP_ERR_NONE);
    assert_string_equal(state_of(w, "g"), "Empty");
    /* The empty group is written (generation 2, no members) so a reload agrees. */
    fake_log_complete(w->log, 0);
    assert_int_equal(w->log->record_count, records_before + 1);
    const struct fake_record *r = &w->log->records[w->log->record_count - 1];
    struct group_metadata_value v;
    assert_int_equal(group_record_group_value_decode(r->value, r->value_len, &v), 0);
    assert_int_equal(v.generation, 2);
    assert_int_equal(v.member_count, 0);
    assert_int_equal(v.protocol.len, -1);
    /* A new member starts over: Empty -> PreparingRebalance with the initial delay. */
    struct join_result n;
    join(w, "", "n", &n);
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    fake_io_advance_ms(w->fio, 3000);
    assert_int_equal(n.generation, 3);
    world_free(w);
}

static void test_protocol_selection_by_votes(void **state) {
    (void)state;
    struct {
        const struct group_protocol *p[3];
        size_t n[3];
        const char *want;
    } cases[] = {
        /* roundrobin is the only protocol all support. */
        {{RANGE_RR, RR_RANGE, RR}, {2, 2, 1}, "roundrobin"},
        /* Both are candidates; two members prefer roundrobin. */
        {{RANGE_RR, RR_RANGE, RR_RANGE}, {2, 2, 2}, "roundrobin"},
        /* Two members prefer range. */
        {{RANGE_RR, RANGE_RR, RR_RANGE}, {2, 2, 2}, "range"},
    };
    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        struct world *w = world_new();
        struct join_result r[3];
        for (size_t i = 0; i < 3; i++) {
            join_full(w, 3, "g", "", "c", cases[c].p[i], cases[c].n[i], 30000, &r[i]);
        }
        fake_io_advance_ms(w->fio, 6000);
        for (size_t i = 0; i < 3; i++)
            assert_string_equal(r[i].protocol, cases[c].want);
        world_free(w);
    }
    /* A tie goes to the first member's preference (Kafka leaves it to hash order). */
    struct world *w = world_new();
    struct join_result r[2];
    join_full(w, 3, "g", "", "c", RR_RANGE, 2, 30000, &r[0]);
    join_full(w, 3, "g", "", "c", RANGE_RR, 2, 30000, &r[1]);
    fake_io_advance_ms(w->fio, 6000);
    assert_string_equal(r[0].protocol, "roundrobin");
    world_free(w);
}

static void test_inconsistent_protocol_refused(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[1], r;
    make_stable(w, 1, j);
    join_full(w, 3, "g", "", "x", STICKY, 1, 30000, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.error, GROUP_ERR_INCONSISTENT_GROUP_PROTOCOL);
    /* A different protocol type is refused too. */
    struct group_join_request req = {.api_version = 3,
                                     .group_id = "g",
                                     .member_id = "",
                                     .client_id = "x",
                                     .session_timeout_ms = 10000,
                                     .rebalance_timeout_ms = 10000,
                                     .protocol_type = "connect",
                                     .protocols = RANGE,
                                     .protocol_count = 1};
    memset(&r, 0, sizeof(r));
    group_join(w->co, &req, on_join, &r);
    assert_int_equal(r.error, GROUP_ERR_INCONSISTENT_GROUP_PROTOCOL);
    /* As is an empty protocol list on an empty group. */
    memset(&r, 0, sizeof(r));
    req.group_id = "other";
    req.protocol_count = 0;
    group_join(w->co, &req, on_join, &r);
    assert_int_equal(r.error, GROUP_ERR_INCONSISTENT_GROUP_PROTOCOL);
    assert_string_equal(state_of(w, "g"), "Stable");
    world_free(w);
}

static void test_stale_generation_and_unknown_member_refused(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[2], r;
    make_stable(w, 2, j);
    const char *a = j[0].member_id;
    struct sync_result s;
    /* I-GRP-2 for the membership APIs. */
    assert_int_equal(group_heartbeat(w->co, "g", 0, a), GROUP_ERR_ILLEGAL_GENERATION);
    assert_int_equal(group_heartbeat(w->co, "g", 2, a), GROUP_ERR_ILLEGAL_GENERATION);
    assert_int_equal(group_heartbeat(w->co, "g", 1, "ghost"), GROUP_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(group_heartbeat(w->co, "nogroup", 1, a), GROUP_ERR_UNKNOWN_MEMBER_ID);
    sync_group(w, 0, a, NULL, 0, &s);
    assert_int_equal(s.error, GROUP_ERR_ILLEGAL_GENERATION);
    sync_group(w, 1, "ghost", NULL, 0, &s);
    assert_int_equal(s.error, GROUP_ERR_UNKNOWN_MEMBER_ID);
    join(w, "ghost", "x", &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.error, GROUP_ERR_UNKNOWN_MEMBER_ID);
    join_full(w, 3, "nogroup", "ghost", "x", RANGE, 1, 30000, &r);
    assert_int_equal(r.error, GROUP_ERR_UNKNOWN_MEMBER_ID);
    /* None of this disturbed the group. */
    assert_string_equal(state_of(w, "g"), "Stable");
    /* SyncGroup during a rebalance is told so. */
    join(w, "", "c", &r);
    sync_group(w, 1, a, NULL, 0, &s);
    assert_int_equal(s.error, GROUP_ERR_REBALANCE_IN_PROGRESS);
    world_free(w);
}

static void test_rebalance_interrupts_completing(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result a, b, c;
    join(w, "", "a", &a);
    join(w, "", "b", &b);
    fake_io_advance_ms(w->fio, 6000);
    struct sync_result sb, sa;
    sync_group(w, 1, b.member_id, NULL, 0, &sb);
    assert_int_equal(sb.calls, 0);
    /* A heartbeat in CompletingRebalance is fine (clients send them after the join). */
    assert_int_equal(group_heartbeat(w->co, "g", 1, b.member_id), GROUP_ERR_NONE);
    join(w, "", "c", &c);
    /* The waiting follower is told to rejoin. */
    assert_int_equal(sb.calls, 1);
    assert_int_equal(sb.error, GROUP_ERR_REBALANCE_IN_PROGRESS);
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    /* A leader assignment for the old generation is refused now. */
    sync_group(w, 1, a.member_id, NULL, 0, &sa);
    assert_int_equal(sa.error, GROUP_ERR_REBALANCE_IN_PROGRESS);
    world_free(w);
}

/* CompletingRebalance -> PreparingRebalance when the leader leaves before its SyncGroup (the
 * waiting follower is told to rejoin), and when the only member's session ends before it
 * syncs; with nobody left the group ends Empty. */
static void test_completing_back_to_preparing_on_leave_and_expiry(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result a, b;
    join(w, "", "a", &a);
    join(w, "", "b", &b);
    fake_io_advance_ms(w->fio, 6000);
    assert_string_equal(state_of(w, "g"), "CompletingRebalance");
    char aid[160], bid[160];
    snprintf(aid, sizeof(aid), "%s", a.member_id);
    snprintf(bid, sizeof(bid), "%s", b.member_id);
    struct sync_result sb;
    sync_group(w, 1, bid, NULL, 0, &sb);
    assert_int_equal(sb.calls, 0);
    const char *ids[] = {aid};
    int16_t errors[1];
    assert_int_equal(group_leave(w->co, "g", ids, 1, errors), GROUP_ERR_NONE);
    assert_int_equal(errors[0], GROUP_ERR_NONE);
    assert_int_equal(sb.calls, 1);
    assert_int_equal(sb.error, GROUP_ERR_REBALANCE_IN_PROGRESS);
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    join(w, bid, "b", &b);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.generation, 2);
    assert_string_equal(b.leader, bid);
    assert_string_equal(state_of(w, "g"), "CompletingRebalance");
    /* b never syncs nor heartbeats: after its 10 s session it is removed. */
    fake_io_advance_ms(w->fio, 9000);
    assert_string_equal(state_of(w, "g"), "CompletingRebalance");
    fake_io_advance_ms(w->fio, 1001);
    assert_string_equal(state_of(w, "g"), "Empty");
    assert_int_equal(group_heartbeat(w->co, "g", 2, bid), GROUP_ERR_UNKNOWN_MEMBER_ID);
    world_free(w);
}

static void test_stale_assignment_write_is_ignored(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result a, b, c;
    join(w, "", "a", &a);
    join(w, "", "b", &b);
    fake_io_advance_ms(w->fio, 6000);
    struct sync_result sa;
    struct group_assignment asg[] = {
        {.member_id = a.member_id, .assignment = (const uint8_t *)"A", .assignment_len = 1}};
    sync_group(w, 1, a.member_id, asg, 1, &sa);
    join(w, "", "c", &c); /* A rebalance starts while the assignment is being written. */
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sa.error, GROUP_ERR_REBALANCE_IN_PROGRESS);
    fake_log_complete(w->log, 0);
    /* The durable-but-stale assignment does not make the group Stable. */
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    world_free(w);
}

static void test_assignment_write_failure(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result a, b;
    join(w, "", "a", &a);
    join(w, "", "b", &b);
    fake_io_advance_ms(w->fio, 6000);
    struct sync_result sa, sb;
    sync_group(w, 1, b.member_id, NULL, 0, &sb);
    sync_group(w, 1, a.member_id, NULL, 0, &sa);
    fake_log_complete(w->log, -ESTALE);
    assert_int_equal(sa.error, GROUP_ERR_NOT_COORDINATOR);
    assert_int_equal(sb.error, GROUP_ERR_NOT_COORDINATOR);
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    /* A synchronous refusal of the log is answered the same way (errno other than ESTALE
     * means "try again"). */
    struct join_result a2, b2;
    join(w, a.member_id, "a", &a2);
    join(w, b.member_id, "b", &b2);
    assert_int_equal(a2.generation, 2);
    w->log->fail_sync = -EAGAIN;
    sync_group(w, 2, a.member_id, NULL, 0, &sa);
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sa.error, GROUP_ERR_COORDINATOR_NOT_AVAILABLE);
    w->log->fail_sync = 0;
    world_free(w);
}

static void test_pending_member_holds_rebalance_until_its_session_ends(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[1], p, r;
    make_stable(w, 1, j);
    char a[160];
    snprintf(a, sizeof(a), "%s", j[0].member_id);
    join(w, a, "a", &r); /* The leader rejoins: rebalance, but it is alone... */
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.generation, 2);
    /* ...now a v4 client asks for an id and never comes back. */
    join_full(w, 4, "g", "", "p", RANGE, 1, 30000, &p);
    assert_int_equal(p.error, GROUP_ERR_MEMBER_ID_REQUIRED);
    struct sync_result s;
    sync_group(w, 2, a, NULL, 0, &s);
    fake_log_complete(w->log, 0);
    assert_string_equal(state_of(w, "g"), "Stable"); /* A pending id does not rebalance. */
    join(w, a, "a", &r);                             /* Leader rejoin: rebalance. */
    assert_int_equal(r.calls, 0);                    /* Held: the pending member may still come. */
    fake_io_advance_ms(w->fio, 9999);
    assert_int_equal(r.calls, 0);
    fake_io_advance_ms(w->fio, 1); /* Its 10 s session ends: the join completes. */
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.generation, 3);
    assert_int_equal(r.member_count, 1);
    /* A pending id may also leave explicitly. */
    join_full(w, 4, "g", "", "q", RANGE, 1, 30000, &p);
    const char *ids[] = {p.member_id};
    int16_t errors[1];
    assert_int_equal(group_leave(w->co, "g", ids, 1, errors), GROUP_ERR_NONE);
    assert_int_equal(errors[0], GROUP_ERR_NONE);
    world_free(w);
}

static void test_follower_rejoin_without_change_keeps_generation(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[2], r;
    make_stable(w, 2, j);
    join(w, j[1].member_id, "b", &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.generation, 1);
    assert_string_equal(state_of(w, "g"), "Stable");
    /* With changed metadata it rebalances. */
    join_full(w, 3, "g", j[1].member_id, "b", RANGE_RR, 2, 30000, &r);
    assert_int_equal(r.calls, 0);
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    world_free(w);
}

static void test_duplicate_join_answers_the_older_request(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result first, second;
    join(w, "", "a", &first);
    char id[160];
    /* Learn the id from describe: the join is still waiting. */
    struct describe_result d;
    group_describe(w->co, "g", on_describe, &d);
    snprintf(id, sizeof(id), "%s", d.members[0]);
    join(w, id, "a", &second);
    assert_int_equal(first.calls, 1);
    assert_int_equal(first.error, GROUP_ERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(second.calls, 0);
    fake_io_advance_ms(w->fio, 3000);
    assert_int_equal(first.calls, 1);
    assert_int_equal(second.calls, 1);
    assert_int_equal(second.generation, 1);
    world_free(w);
}

static void test_not_coordinator_and_loading(void **state) {
    (void)state;
    struct world *w = world_new();
    int32_t p = group_coordinator_partition_for(w->co, "g");
    assert_int_equal(p, group_record_partition_for("g", PARTITIONS));
    struct join_result r;
    join(w, "", "a", &r);
    assert_int_equal(r.calls, 0);
    /* Losing the partition answers the waiting join. */
    group_coordinator_unload(w->co, p);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.error, GROUP_ERR_NOT_COORDINATOR);
    join(w, "", "a", &r);
    assert_int_equal(r.error, GROUP_ERR_NOT_COORDINATOR);
    assert_int_equal(group_heartbeat(w->co, "g", 1, "x"), GROUP_ERR_NOT_COORDINATOR);
    group_coordinator_load_begin(w->co, p);
    join(w, "", "a", &r);
    assert_int_equal(r.error, GROUP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    struct describe_result d;
    group_describe(w->co, "g", on_describe, &d);
    assert_int_equal(group_list(w->co, NULL, NULL), GROUP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    group_coordinator_load_end(w->co, p);
    join(w, "", "a", &r);
    assert_int_equal(r.calls, 0);
    join(w, "", "", &r);
    join_full(w, 3, "", "", "a", RANGE, 1, 30000, &r);
    assert_int_equal(r.error, GROUP_ERR_INVALID_GROUP_ID);
    world_free(w);
}

static void test_invalid_session_timeout_and_max_size(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result r;
    struct group_join_request req = {.api_version = 3,
                                     .group_id = "g",
                                     .member_id = "",
                                     .client_id = "x",
                                     .session_timeout_ms = 5999,
                                     .rebalance_timeout_ms = 10000,
                                     .protocol_type = "consumer",
                                     .protocols = RANGE,
                                     .protocol_count = 1};
    memset(&r, 0, sizeof(r));
    group_join(w->co, &req, on_join, &r);
    assert_int_equal(r.error, GROUP_ERR_INVALID_SESSION_TIMEOUT);
    req.session_timeout_ms = 1800001;
    group_join(w->co, &req, on_join, &r);
    assert_int_equal(r.error, GROUP_ERR_INVALID_SESSION_TIMEOUT);
    struct join_result many[9];
    for (size_t i = 0; i < 8; i++)
        join(w, "", "c", &many[i]);
    join(w, "", "c", &many[8]);
    assert_int_equal(many[8].calls, 1);
    assert_int_equal(many[8].error, GROUP_ERR_GROUP_MAX_SIZE_REACHED);
    fake_io_advance_ms(w->fio, 6000);
    assert_int_equal(many[0].member_count, 8);
    world_free(w);
}

struct list_result {
    size_t count;
    char ids[8][16];
    char states[8][32];
};

static void on_list(void *arg, const char *group_id, const char *protocol_type,
                    enum group_state state) {
    struct list_result *out = arg;
    (void)protocol_type;
    ASSERT(out->count < 8);
    snprintf(out->ids[out->count], sizeof(out->ids[0]), "%s", group_id);
    snprintf(out->states[out->count], sizeof(out->states[0]), "%s", group_state_name(state));
    out->count++;
}

static void test_list_and_describe(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result r[3];
    join_full(w, 3, "zeta", "", "a", RANGE, 1, 30000, &r[0]);
    join_full(w, 3, "alpha", "", "a", RANGE, 1, 30000, &r[1]);
    join_full(w, 3, "mid", "", "a", RANGE, 1, 30000, &r[2]);
    struct list_result l = {0};
    assert_int_equal(group_list(w->co, on_list, &l), GROUP_ERR_NONE);
    assert_int_equal(l.count, 3);
    assert_string_equal(l.ids[0], "alpha"); /* Sorted by id, whatever the join order. */
    assert_string_equal(l.ids[1], "mid");
    assert_string_equal(l.ids[2], "zeta");
    assert_string_equal(l.states[0], "PreparingRebalance");
    struct describe_result d;
    group_describe(w->co, "unknown", on_describe, &d);
    assert_string_equal(d.state, "Dead");
    assert_int_equal(d.member_count, 0);
    group_describe(w->co, "mid", on_describe, &d);
    assert_int_equal(d.member_count, 1);
    assert_string_equal(d.protocol, ""); /* Only Stable groups show their protocol. */
    world_free(w);
}

static void test_rejoin_while_completing(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result a, b, again;
    join(w, "", "a", &a);
    join(w, "", "b", &b);
    fake_io_advance_ms(w->fio, 6000);
    assert_string_equal(state_of(w, "g"), "CompletingRebalance");
    /* A member that missed its JoinGroup answer asks again: same generation, no rebalance;
     * the leader gets the member list again. */
    join(w, a.member_id, "a", &again);
    assert_int_equal(again.calls, 1);
    assert_int_equal(again.generation, 1);
    assert_int_equal(again.member_count, 2);
    assert_string_equal(state_of(w, "g"), "CompletingRebalance");
    /* With changed metadata it starts over, telling the waiting follower. */
    struct sync_result sb;
    sync_group(w, 1, b.member_id, NULL, 0, &sb);
    join_full(w, 3, "g", b.member_id, "b", RANGE_RR, 2, 30000, &again);
    assert_int_equal(sb.calls, 1);
    assert_int_equal(sb.error, GROUP_ERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(again.calls, 0);
    assert_string_equal(state_of(w, "g"), "PreparingRebalance");
    world_free(w);
}

static void test_leave_during_rebalance_completes_join(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[3];
    make_stable(w, 3, j);
    char a[160], c[160];
    snprintf(a, sizeof(a), "%s", j[0].member_id);
    snprintf(c, sizeof(c), "%s", j[2].member_id);
    join(w, a, "a", &j[0]); /* Leader rejoins: rebalance; b and c are expected. */
    join(w, c, "c", &j[2]);
    assert_int_equal(j[0].calls, 0);
    /* b leaves instead of rejoining: nobody else is awaited, the join completes now. */
    const char *ids[] = {j[1].member_id};
    int16_t errors[1];
    assert_int_equal(group_leave(w->co, "g", ids, 1, errors), GROUP_ERR_NONE);
    assert_int_equal(j[0].calls, 1);
    assert_int_equal(j[0].generation, 2);
    assert_int_equal(j[0].member_count, 2);
    /* A member waiting in a join that leaves gets its join answered UNKNOWN_MEMBER_ID. */
    struct join_result n, n2;
    join(w, "", "n", &n);
    join(w, j[0].member_id, "a", &n2);
    struct describe_result d;
    group_describe(w->co, "g", on_describe, &d);
    assert_int_equal(d.member_count, 3);
    const char *nid[] = {d.members[2]};
    assert_int_equal(group_leave(w->co, "g", nid, 1, errors), GROUP_ERR_NONE);
    assert_int_equal(n.calls, 1);
    assert_int_equal(n.error, GROUP_ERR_UNKNOWN_MEMBER_ID);
    world_free(w);
}

static void test_groups_max(void **state) {
    (void)state;
    struct world *w = world_new();
    group_coordinator_destroy(w->co);
    w->config.groups_max = 2;
    struct group_log seam = fake_log_seam(w->log);
    w->co = group_coordinator_create(&w->fio->io, &w->config, &seam);
    for (int32_t p = 0; p < PARTITIONS; p++) {
        group_coordinator_load_begin(w->co, p);
        group_coordinator_load_end(w->co, p);
    }
    struct join_result r[3];
    join_full(w, 3, "g1", "", "a", RANGE, 1, 30000, &r[0]);
    join_full(w, 3, "g2", "", "a", RANGE, 1, 30000, &r[1]);
    join_full(w, 3, "g3", "", "a", RANGE, 1, 30000, &r[2]);
    assert_int_equal(r[2].calls, 1);
    assert_int_equal(r[2].error, GROUP_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(r[0].calls, 0);
    world_free(w);
}

static void test_background_write_failure_is_survived(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result j[1];
    make_stable(w, 1, j);
    const char *ids[] = {j[0].member_id};
    int16_t errors[1];
    group_leave(w->co, "g", ids, 1, errors);
    assert_string_equal(state_of(w, "g"), "Empty");
    /* Writing the Empty group fails: logged, the group stays Empty and serves on. */
    assert_int_equal(fake_log_complete(w->log, -EIO), 1);
    assert_string_equal(state_of(w, "g"), "Empty");
    w->log->fail_sync = -EAGAIN;
    struct join_result r;
    join(w, "", "n", &r);
    fake_io_advance_ms(w->fio, 3000);
    assert_int_equal(r.generation, 3);
    const char *nid[] = {r.member_id};
    group_leave(w->co, "g", nid, 1, errors); /* Its Empty write fails synchronously. */
    assert_string_equal(state_of(w, "g"), "Empty");
    assert_int_equal(group_coordinator_appends(w->co), 0);
    w->log->fail_sync = 0;
    world_free(w);
}

static void test_consumer_assignment_traced(void **state) {
    (void)state;
    struct world *w = world_new();
    struct join_result a, b;
    join(w, "", "a", &a);
    join(w, "", "b", &b);
    fake_io_advance_ms(w->fio, 6000);
    /* ConsumerProtocolAssignment v0: a gets t/0 and t/2, b gets t/1 (and user data). */
    const uint8_t asg_a[] = {0, 0, 0, 0, 0, 1, 0, 1, 't',  0,    0,    0,   2,
                             0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff};
    const uint8_t asg_b[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 'u'};
    struct group_assignment asg[] = {
        {.member_id = a.member_id, .assignment = asg_a, .assignment_len = sizeof(asg_a)},
        {.member_id = b.member_id, .assignment = asg_b, .assignment_len = sizeof(asg_b)}};
    struct sync_result sa, sb;
    sync_group(w, 1, b.member_id, NULL, 0, &sb);
    sync_group(w, 1, a.member_id, asg, 2, &sa);
    assert_int_equal(fake_traces_matching(w->fio, "group_assignment"), 0); /* Not yet durable. */
    fake_log_complete(w->log, 0);
    assert_int_equal(fake_traces_matching(w->fio, "group_assignment"), 3);
    char want[256];
    snprintf(want, sizeof(want), "generation=1 member=%s topic=t partition=2", a.member_id);
    assert_int_equal(fake_traces_matching(w->fio, want), 1);
    snprintf(want, sizeof(want), "generation=1 member=%s topic=t partition=1", b.member_id);
    assert_int_equal(fake_traces_matching(w->fio, want), 1);
    assert_int_equal(fake_traces_matching(w->fio, "state=Stable generation=1"), 1);
    world_free(w);
}

/* Runs a fixed script and returns the coordinator's dump: the same script must give the
 * same bytes, member ids included. */
static size_t scripted_dump(char *out, size_t cap) {
    struct world *w = world_new();
    struct join_result j[3];
    make_stable(w, 3, j);
    const char *ids[] = {j[1].member_id};
    int16_t errors[1];
    group_leave(w->co, "g", ids, 1, errors);
    struct join_result r0, r2;
    join(w, j[0].member_id, "c0", &r0);
    join(w, j[2].member_id, "c2", &r2);
    size_t n = group_coordinator_dump(w->co, out, cap);
    world_free(w);
    return n;
}

static void test_deterministic(void **state) {
    (void)state;
    char a[4096], b[4096];
    size_t na = scripted_dump(a, sizeof(a));
    size_t nb = scripted_dump(b, sizeof(b));
    assert_true(na > 0 && na < sizeof(a));
    assert_int_equal(na, nb);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "state=CompletingRebalance gen=2"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_id_required_then_join),
        cmocka_unit_test(test_two_members_reach_stable),
        cmocka_unit_test(test_initial_delay_extends_while_members_arrive),
        cmocka_unit_test(test_initial_delay_bounded_by_rebalance_timeout),
        cmocka_unit_test(test_new_member_rebalances_stable_group),
        cmocka_unit_test(test_rebalance_timeout_drops_members_that_did_not_rejoin),
        cmocka_unit_test(test_leader_leaves_and_is_rechosen),
        cmocka_unit_test(test_session_timeout_expires_member),
        cmocka_unit_test(test_waiting_member_is_not_expired),
        cmocka_unit_test(test_last_member_leaving_empties_group),
        cmocka_unit_test(test_protocol_selection_by_votes),
        cmocka_unit_test(test_inconsistent_protocol_refused),
        cmocka_unit_test(test_stale_generation_and_unknown_member_refused),
        cmocka_unit_test(test_rebalance_interrupts_completing),
        cmocka_unit_test(test_completing_back_to_preparing_on_leave_and_expiry),
        cmocka_unit_test(test_stale_assignment_write_is_ignored),
        cmocka_unit_test(test_assignment_write_failure),
        cmocka_unit_test(test_pending_member_holds_rebalance_until_its_session_ends),
        cmocka_unit_test(test_follower_rejoin_without_change_keeps_generation),
        cmocka_unit_test(test_duplicate_join_answers_the_older_request),
        cmocka_unit_test(test_not_coordinator_and_loading),
        cmocka_unit_test(test_invalid_session_timeout_and_max_size),
        cmocka_unit_test(test_list_and_describe),
        cmocka_unit_test(test_rejoin_while_completing),
        cmocka_unit_test(test_leave_during_rebalance_completes_join),
        cmocka_unit_test(test_groups_max),
        cmocka_unit_test(test_background_write_failure_is_survived),
        cmocka_unit_test(test_consumer_assignment_traced),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
