/*
 * test_group_consumer.c — the group consumer (system/client/group_consumer) against a real
 * broker in the simulated world (deterministic). Proves: Kafka's ConsumerProtocol
 * subscription/assignment bytes round-trip and match the schema byte for byte; the range
 * assignor splits like Kafka's (7 partitions over 3 members = 3+2+2, per topic) and
 * round-robin deals partitions in turn, skipping members not subscribed; a member joins
 * (MEMBER_ID_REQUIRED handled) and gets all 6 partitions; a second member makes the group
 * rebalance into 3+3 with every record read exactly once across the handover (auto-commit
 * on revocation); when one member closes (LeaveGroup) the other takes all 6 and reads what
 * follows; a commit under the generation before a rebalance is refused with
 * ILLEGAL_GENERATION while one under the current generation is accepted; committed offsets
 * are where a restarted member resumes — no record skipped or read twice; a broker crash
 * and restart under a member is survived (coordinator found again, rejoin, resume at the
 * auto-committed offsets, exactly once); under seeded faults (a member cut off from the
 * broker or paused past its session, connections reset) no partition has two owners in one
 * generation (I-GRP-3) and the group settles with every record delivered at least once;
 * a silent (never reset) connection to the coordinator is given up after a session; and
 * one seed gives one trace hash.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "broker/broker.h"
#include "client/client.h"
#include "client/group_consumer.h"
#include "proto/proto.h"
#include "sim/sim.h"

#define TOPIC      "t"
#define PARTITIONS 6
#define SEEN_MAX   64 /* Offsets per partition tracked. */

struct world {
    struct sim_world *world;
    struct sim_node *broker_node;
    struct broker_config config;
    struct broker *broker;
};

static void broker_main(struct io *io, void *arg) {
    struct world *w = arg;
    assert_int_equal(broker_start(io, &w->config, &w->broker), 0);
}

/* What one test observed, over every member. */
struct seen {
    int reads[PARTITIONS][SEEN_MAX]; /* How many times each offset was delivered. */
    int total;
    int assigned_calls;
    int revoked_calls;
};

struct member {
    struct group_consumer *gc;
    struct seen *seen;
    bool closed;
    int close_result;
    int commit_result;
    bool commit_done;
};

static void on_record(void *arg, const char *topic, int32_t partition, int64_t offset,
                      const uint8_t *key, int32_t key_len, const uint8_t *value,
                      int32_t value_len) {
    (void)key, (void)key_len;
    struct member *m = arg;
    assert_string_equal(topic, TOPIC);
    assert_true(partition >= 0 && partition < PARTITIONS);
    assert_true(offset >= 0 && offset < SEEN_MAX);
    char expect[32];
    snprintf(expect, sizeof(expect), "p%d-%d", partition, (int)offset);
    assert_int_equal(value_len, (int32_t)strlen(expect));
    assert_memory_equal(value, expect, (size_t)value_len);
    m->seen->reads[partition][offset]++;
    m->seen->total++;
}

static void on_assigned(void *arg, const struct group_consumer_partition *parts, size_t count,
                        int32_t generation) {
    (void)parts, (void)count, (void)generation;
    struct member *m = arg;
    m->seen->assigned_calls++;
}

static void on_revoked(void *arg, const struct group_consumer_partition *parts, size_t count,
                       int32_t generation) {
    (void)parts, (void)count, (void)generation;
    struct member *m = arg;
    m->seen->revoked_calls++;
}

static void on_closed(void *arg, int result) {
    struct member *m = arg;
    m->closed = true;
    m->close_result = result;
}

static void on_committed(void *arg, int result) {
    struct member *m = arg;
    m->commit_done = true;
    m->commit_result = result;
}

static void start_member(struct world *w, struct member *m, const char *node_name,
                         struct seen *seen, bool auto_commit) {
    struct sim_node *node = sim_node_add(w->world, node_name, NULL, NULL);
    struct group_consumer_config c;
    group_consumer_config_defaults(&c);
    c.host = "broker";
    c.port = 9092;
    c.client_id = node_name;
    c.group_id = "g";
    c.topics[0] = TOPIC;
    c.topic_count = 1;
    c.auto_commit = auto_commit;
    c.auto_commit_interval_ms = 200;
    c.session_timeout_ms = 6000;
    c.rebalance_timeout_ms = 5000;
    c.heartbeat_interval_ms = 100;
    c.fetch_max_wait_ms = 100;
    c.on_record = on_record;
    c.on_assigned = on_assigned;
    c.on_revoked = on_revoked;
    c.arg = m;
    memset(m, 0, sizeof(*m));
    m->seen = seen;
    assert_int_equal(group_consumer_create(sim_node_io(node), &c, &m->gc), 0);
}

static size_t assigned(struct member *m, int32_t *out) {
    const struct group_consumer_partition *parts;
    size_t n = group_consumer_assignment(m->gc, &parts);
    for (size_t i = 0; i < n; i++)
        out[i] = parts[i].partition;
    return group_consumer_stable(m->gc) ? n : 0;
}

/* Runs the world in 10 ms steps until cond holds (or 30 virtual seconds pass). */
#define RUN_UNTIL(w, cond)                                                                         \
    do {                                                                                           \
        uint64_t limit_ = sim_world_now_ns((w)->world) + 30 * NS_PER_S;                            \
        while (!(cond) && sim_world_now_ns((w)->world) < limit_) {                                 \
            sim_world_run_until((w)->world, sim_world_now_ns((w)->world) + 10 * NS_PER_MS);        \
        }                                                                                          \
        assert_true(cond);                                                                         \
    } while (0)

/* --- A producer on its own node: creates the topic and writes "p<P>-<offset>" values. --- */

struct call {
    bool done;
    int16_t error;
};

static void on_create(void *arg, int status, const void *body) {
    struct call *c = arg;
    c->done = true;
    assert_int_equal(status, 0);
    c->error = ((const struct proto_create_topics_response *)body)->topics.items[0].error_code;
}

static void on_produce(void *arg, int status, const void *body) {
    struct call *c = arg;
    c->done = true;
    assert_int_equal(status, 0);
    const struct proto_produce_response *r = body;
    c->error = r->responses.items[0].partition_responses.items[0].error_code;
}

static void create_topic(struct world *w, struct client *cl) {
    struct proto_create_topics_request_topic t = {
        .name = PROTO_STR(TOPIC), .num_partitions = PARTITIONS, .replication_factor = 1};
    t.assignments.count = 0;
    t.configs.count = 0;
    struct proto_create_topics_request req = {.timeout_ms = 1000};
    req.topics.items = &t;
    req.topics.count = 1;
    struct call c = {0};
    assert_int_equal(client_send(cl, PROTO_API_CREATE_TOPICS, 2, &req, on_create, &c), 0);
    RUN_UNTIL(w, c.done);
    assert_int_equal(c.error, 0);
}

/* Appends offsets [first, first + count) to every partition. */
static void produce(struct world *w, struct client *cl, int first, int count) {
    static uint8_t buf[1 << 16];
    for (int32_t p = 0; p < PARTITIONS; p++) {
        char values[16][32];
        struct client_record records[16];
        assert_true(count <= 16);
        for (int i = 0; i < count; i++) {
            snprintf(values[i], sizeof(values[i]), "p%d-%d", p, first + i);
            records[i] = (struct client_record){.value = (const uint8_t *)values[i],
                                                .value_len = (int32_t)strlen(values[i]),
                                                .timestamp_ms = 1000};
        }
        int64_t size = client_build_batch(buf, sizeof(buf), records, (size_t)count);
        assert_true(size > 0);
        struct proto_produce_request_partition part = {
            .index = p, .records = {.data = buf, .len = (int32_t)size}};
        struct proto_produce_request_topic topic = {.name = PROTO_STR(TOPIC)};
        topic.partition_data.items = &part;
        topic.partition_data.count = 1;
        struct proto_produce_request req = {
            .transactional_id = PROTO_STR_NULL, .acks = -1, .timeout_ms = 1000};
        req.topic_data.items = &topic;
        req.topic_data.count = 1;
        struct call c = {0};
        assert_int_equal(client_send(cl, PROTO_API_PRODUCE, 3, &req, on_produce, &c), 0);
        RUN_UNTIL(w, c.done);
        assert_int_equal(c.error, 0);
    }
}

static struct client *setup(struct world *w, uint64_t seed) {
    memset(w, 0, sizeof(*w));
    char error[BROKER_CONFIG_ERROR_MAX];
    broker_config_defaults(&w->config);
    /* Flush every message: commits must survive the broker crash of test_broker_crash. */
    const char *props =
        "listeners=PLAINTEXT://:9092\nadvertised.listeners=PLAINTEXT://broker:9092\n"
        "log.dirs=/data\nauto.create.topics.enable=false\n"
        "group.initial.rebalance.delay.ms=0\nlog.flush.interval.messages=1\n";
    assert_int_equal(broker_config_parse(&w->config, props, strlen(props), NULL, NULL, error), 0);
    w->world = sim_world_create(seed);
    w->broker_node = sim_node_add(w->world, "broker", broker_main, w);
    struct sim_node *pn = sim_node_add(w->world, "producer", NULL, NULL);
    sim_world_run_until(w->world, 10 * NS_PER_MS);
    assert_non_null(w->broker);
    struct client *cl = client_create(sim_node_io(pn), "broker", 9092, "producer");
    create_topic(w, cl);
    return cl;
}

/* Every offset in [0, upto) of every partition read exactly once. */
static void assert_exactly_once(const struct seen *s, int upto) {
    for (int p = 0; p < PARTITIONS; p++) {
        for (int o = 0; o < SEEN_MAX; o++) {
            if (s->reads[p][o] != (o < upto ? 1 : 0)) {
                fail_msg("partition %d offset %d read %d times", p, o, s->reads[p][o]);
            }
        }
    }
    assert_int_equal(s->total, PARTITIONS * upto);
}

/* --- Pure parts ------------------------------------------------------------------------ */

static void test_protocol_bytes(void **state) {
    (void)state;
    uint8_t buf[256];
    const char *topics[] = {"ab", "c"};
    int64_t n = group_consumer_encode_subscription(buf, sizeof(buf), topics, 2);
    /* version 0, [2: "ab", "c"], user_data null. */
    const uint8_t want_sub[] = {0,   0, 0, 0,   0,    2,    0,    2,   'a',
                                'b', 0, 1, 'c', 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(n, sizeof(want_sub));
    assert_memory_equal(buf, want_sub, sizeof(want_sub));
    char got[4][GROUP_CONSUMER_NAME_MAX];
    assert_int_equal(group_consumer_decode_subscription(buf, (size_t)n, got, 4), 2);
    assert_string_equal(got[0], "ab");
    assert_string_equal(got[1], "c");
    assert_int_equal(group_consumer_decode_subscription(buf, 5, got, 4), -EPROTO);

    struct group_consumer_partition parts[3] = {{"t", 0}, {"t", 2}, {"u", 1}};
    n = group_consumer_encode_assignment(buf, sizeof(buf), parts, 3);
    const uint8_t want_asg[] = {0, 0, 0, 0, 0, 2, 0, 1, 't',  0,    0,    0,
                                2, 0, 0, 0, 0, 0, 0, 0, 2,    0,    1,    'u',
                                0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(n, sizeof(want_asg));
    assert_memory_equal(buf, want_asg, sizeof(want_asg));
    struct group_consumer_partition back[8];
    assert_int_equal(group_consumer_decode_assignment(buf, (size_t)n, back, 8), 3);
    assert_string_equal(back[2].topic, "u");
    assert_int_equal(back[1].partition, 2);
    assert_int_equal(group_consumer_decode_assignment(buf, 0, back, 8), 0);
    assert_int_equal(group_consumer_decode_assignment(buf, 9, back, 8), -EPROTO);
}

static void test_assignors(void **state) {
    (void)state;
    static struct group_consumer_member_plan m[3];
    memset(m, 0, sizeof(m));
    for (int i = 0; i < 3; i++) {
        snprintf(m[i].member_id, sizeof(m[i].member_id), "m%d", i);
        snprintf(m[i].topics[0], sizeof(m[i].topics[0]), "t");
        m[i].topic_count = 1;
    }
    snprintf(m[0].topics[1], sizeof(m[0].topics[1]), "u"); /* Only m0 reads u. */
    m[0].topic_count = 2;
    const char names[2][GROUP_CONSUMER_NAME_MAX] = {"u", "t"};
    const int32_t counts[2] = {2, 7};
    group_consumer_assign(GROUP_CONSUMER_RANGE, m, 3, names, counts, 2);
    /* t: 7 over 3 = 0-2, 3-4, 5-6; u: both to m0. */
    assert_int_equal(m[0].part_count, 5);
    assert_int_equal(m[1].part_count, 2);
    assert_int_equal(m[2].part_count, 2);
    assert_string_equal(m[0].parts[0].topic, "t");
    assert_int_equal(m[0].parts[2].partition, 2);
    assert_int_equal(m[1].parts[0].partition, 3);
    assert_int_equal(m[2].parts[1].partition, 6);
    assert_string_equal(m[0].parts[3].topic, "u");

    group_consumer_assign(GROUP_CONSUMER_ROUNDROBIN, m, 3, names, counts, 2);
    /* t0 m0, t1 m1, t2 m2, t3 m0, t4 m1, t5 m2, t6 m0; then u0 -> m1? no: m1, m2 skip to m0. */
    assert_int_equal(m[0].part_count, 5);
    assert_int_equal(m[1].part_count, 2);
    assert_int_equal(m[2].part_count, 2);
    assert_int_equal(m[0].parts[1].partition, 3);
    assert_int_equal(m[0].parts[2].partition, 6);
    assert_int_equal(m[1].parts[1].partition, 4);
    assert_string_equal(m[0].parts[3].topic, "u");
}

/* --- Against the broker ---------------------------------------------------------------- */

static uint64_t split_and_leave(uint64_t seed) {
    static struct world w;
    static struct seen seen;
    static struct member a, b;
    memset(&seen, 0, sizeof(seen));
    struct client *producer = setup(&w, seed);
    produce(&w, producer, 0, 10);

    int32_t pa[GROUP_CONSUMER_PARTITIONS_MAX], pb[GROUP_CONSUMER_PARTITIONS_MAX];
    start_member(&w, &a, "a", &seen, true);
    RUN_UNTIL(&w, assigned(&a, pa) == PARTITIONS && seen.total >= 30);
    int32_t gen1 = group_consumer_generation(a.gc);

    start_member(&w, &b, "b", &seen, true);
    RUN_UNTIL(&w, assigned(&a, pa) == 3 && assigned(&b, pb) == 3 &&
                      group_consumer_generation(a.gc) == group_consumer_generation(b.gc));
    int32_t gen2 = group_consumer_generation(a.gc);
    assert_true(gen2 > gen1);
    bool owned[PARTITIONS] = {false};
    for (int i = 0; i < 3; i++) {
        assert_false(owned[pa[i]]);
        owned[pa[i]] = true;
        assert_false(owned[pb[i]]);
        owned[pb[i]] = true;
    }
    RUN_UNTIL(&w, seen.total >= PARTITIONS * 10);
    sim_world_run_until(w.world, sim_world_now_ns(w.world) + 500 * NS_PER_MS);
    assert_exactly_once(&seen, 10); /* Revocation committed: nothing re-read by the new owner. */

    /* Stale generation fencing (I-GRP-2): a member still on gen1 is refused. */
    assert_int_equal(group_consumer_commit_as(a.gc, gen1, TOPIC, pa[0], 10, on_committed, &a), 0);
    RUN_UNTIL(&w, a.commit_done);
    assert_int_equal(a.commit_result, 22); /* ILLEGAL_GENERATION */
    a.commit_done = false;
    assert_int_equal(group_consumer_commit_as(a.gc, gen2, TOPIC, pa[0], 10, on_committed, &a), 0);
    RUN_UNTIL(&w, a.commit_done);
    assert_int_equal(a.commit_result, 0);

    /* b leaves: a takes all six and reads what comes next, still exactly once. */
    group_consumer_close(b.gc, on_closed, &b);
    RUN_UNTIL(&w, b.closed);
    assert_int_equal(b.close_result, 0);
    group_consumer_destroy(b.gc);
    RUN_UNTIL(&w, assigned(&a, pa) == PARTITIONS);
    assert_true(group_consumer_generation(a.gc) > gen2);
    produce(&w, producer, 10, 10);
    RUN_UNTIL(&w, seen.total >= PARTITIONS * 20);
    sim_world_run_until(w.world, sim_world_now_ns(w.world) + 500 * NS_PER_MS);
    assert_exactly_once(&seen, 20);
    assert_true(seen.revoked_calls >= 2 && seen.assigned_calls >= 4);

    group_consumer_close(a.gc, on_closed, &a);
    RUN_UNTIL(&w, a.closed);
    group_consumer_destroy(a.gc);
    client_destroy(producer);
    uint64_t hash = sim_world_trace_hash(w.world);
    sim_world_destroy(w.world);
    return hash;
}

static void test_split_and_leave(void **state) {
    (void)state;
    uint64_t h1 = split_and_leave(5);
    uint64_t h2 = split_and_leave(5);
    assert_true(h1 == h2);
    /* Other schedules (network latencies differ per seed) must hold the same properties. */
    for (uint64_t seed = 100; seed < 140; seed++)
        (void)split_and_leave(seed);
}

/* Manual commits: a member reads, commits, is closed; its successor starts exactly at the
 * committed offsets. A crashed member (destroyed without leaving) is replaced too, once its
 * session expires, and the successor resumes at the last commit, not at what was read. */
static void test_commit_resume(void **state) {
    (void)state;
    static struct world w;
    static struct seen seen;
    static struct member a, c, d;
    memset(&seen, 0, sizeof(seen));
    struct client *producer = setup(&w, 9);
    produce(&w, producer, 0, 10);
    start_member(&w, &a, "a", &seen, false);
    RUN_UNTIL(&w, seen.total == PARTITIONS * 10);
    assert_int_equal(group_consumer_position(a.gc, TOPIC, 0), 10);
    assert_int_equal(group_consumer_commit(a.gc, on_committed, &a), 0);
    RUN_UNTIL(&w, a.commit_done);
    assert_int_equal(a.commit_result, 0);
    group_consumer_close(a.gc, on_closed, &a);
    RUN_UNTIL(&w, a.closed);
    group_consumer_destroy(a.gc);

    produce(&w, producer, 10, 5);
    start_member(&w, &c, "c", &seen, false);
    RUN_UNTIL(&w, seen.total == PARTITIONS * 15);
    sim_world_run_until(w.world, sim_world_now_ns(w.world) + 300 * NS_PER_MS);
    assert_exactly_once(&seen, 15); /* Resumed at 10: nothing skipped, nothing re-read. */
    assert_int_equal(group_consumer_commit(c.gc, on_committed, &c), 0);
    RUN_UNTIL(&w, c.commit_done);
    assert_int_equal(c.commit_result, 0);

    /* c crashes after reading 15-19 without committing them: d re-reads exactly those. */
    produce(&w, producer, 15, 5);
    RUN_UNTIL(&w, seen.total == PARTITIONS * 20);
    group_consumer_destroy(c.gc);
    start_member(&w, &d, "d", &seen, false);
    RUN_UNTIL(&w, seen.total == PARTITIONS * 25);
    for (int p = 0; p < PARTITIONS; p++) {
        for (int o = 0; o < 20; o++)
            assert_int_equal(seen.reads[p][o], o >= 15 ? 2 : 1);
    }
    group_consumer_destroy(d.gc);
    client_destroy(producer);
    sim_world_destroy(w.world);
}

/* The broker (and so the coordinator) crashes and restarts under a stable member: the member
 * finds the coordinator again, rejoins, and resumes at its auto-committed offsets — nothing
 * read twice, nothing skipped. */
static void broker_crash(uint64_t seed) {
    static struct world w;
    static struct seen seen;
    static struct member a;
    memset(&seen, 0, sizeof(seen));
    struct client *producer = setup(&w, seed);
    produce(&w, producer, 0, 10);
    start_member(&w, &a, "a", &seen, true);
    RUN_UNTIL(&w, seen.total == PARTITIONS * 10);
    sim_world_run_until(w.world, sim_world_now_ns(w.world) + 500 * NS_PER_MS); /* Auto-commit. */
    int32_t gen = group_consumer_generation(a.gc);
    client_destroy(producer);
    sim_node_crash(w.broker_node);
    w.broker = NULL;
    sim_world_run_until(w.world, sim_world_now_ns(w.world) + 2 * NS_PER_S);
    assert_false(group_consumer_stable(a.gc));
    sim_node_restart(w.broker_node);
    sim_world_run_until(w.world, sim_world_now_ns(w.world) + 10 * NS_PER_MS);
    assert_non_null(w.broker);
    int32_t parts[GROUP_CONSUMER_PARTITIONS_MAX];
    RUN_UNTIL(&w, assigned(&a, parts) == PARTITIONS);
    assert_true(group_consumer_generation(a.gc) > gen);
    producer = client_create(sim_node_io(sim_node_find(w.world, "producer")), "broker", 9092, "p2");
    produce(&w, producer, 10, 5);
    RUN_UNTIL(&w, seen.total >= PARTITIONS * 15);
    sim_world_run_until(w.world, sim_world_now_ns(w.world) + 500 * NS_PER_MS);
    assert_exactly_once(&seen, 15);
    group_consumer_destroy(a.gc);
    client_destroy(producer);
    sim_world_destroy(w.world);
}

static void test_broker_crash(void **state) {
    (void)state;
    for (uint64_t seed = 21; seed < 41; seed++)
        broker_crash(seed);
}

/* No partition is owned by two members that both believe they are in the same generation
 * (I-GRP-3), checked after every 10 ms of virtual time. */
static void assert_no_double_owner(struct member *ms, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (!group_consumer_stable(ms[i].gc) || !group_consumer_stable(ms[j].gc)) continue;
            if (group_consumer_generation(ms[i].gc) != group_consumer_generation(ms[j].gc)) {
                continue;
            }
            int32_t pi[GROUP_CONSUMER_PARTITIONS_MAX], pj[GROUP_CONSUMER_PARTITIONS_MAX];
            size_t ni = assigned(&ms[i], pi), nj = assigned(&ms[j], pj);
            for (size_t x = 0; x < ni; x++) {
                for (size_t y = 0; y < nj; y++)
                    assert_int_not_equal(pi[x], pj[y]);
            }
        }
    }
}

static bool settled(struct member *ms, size_t n, const struct seen *seen, int produced) {
    bool owned[PARTITIONS] = {false};
    for (size_t i = 0; i < n; i++) {
        if (!group_consumer_stable(ms[i].gc)) return false;
        if (group_consumer_generation(ms[i].gc) != group_consumer_generation(ms[0].gc)) {
            return false;
        }
        int32_t parts[GROUP_CONSUMER_PARTITIONS_MAX];
        size_t k = assigned(&ms[i], parts);
        for (size_t x = 0; x < k; x++)
            owned[parts[x]] = true;
    }
    for (int p = 0; p < PARTITIONS; p++) {
        if (!owned[p]) return false;
        for (int o = 0; o < produced; o++) {
            if (seen->reads[p][o] == 0) return false;
        }
    }
    return true;
}

static void run_checked(struct world *w, struct member *ms, size_t n, uint64_t duration_ns) {
    uint64_t end = sim_world_now_ns(w->world) + duration_ns;
    while (sim_world_now_ns(w->world) < end) {
        sim_world_run_until(w->world, sim_world_now_ns(w->world) + 10 * NS_PER_MS);
        assert_no_double_owner(ms, n);
    }
}

/* Three auto-committing members under faults chosen by the seed — a member cut off from
 * the broker or paused past its session, connections reset — while records keep coming:
 * never two owners of a partition in one generation, and after each fault the group
 * settles (one generation, every partition owned) with every record delivered at least
 * once. */
static void faults(uint64_t seed) {
    static struct world w;
    static struct seen seen;
    static struct member ms[3];
    memset(&seen, 0, sizeof(seen));
    struct client *producer = setup(&w, seed);
    const char *names[3] = {"m0", "m1", "m2"};
    for (size_t i = 0; i < 3; i++)
        start_member(&w, &ms[i], names[i], &seen, true);
    struct sim_rng *rng = sim_world_rng(w.world, SIM_STREAM_FAULTS);
    int produced = 0;
    for (int round = 0; round < 6; round++) {
        produce(&w, producer, produced, 5);
        produced += 5;
        struct sim_node *victim = sim_node_find(w.world, names[sim_rng_below(rng, 3)]);
        switch (sim_rng_below(rng, 4)) {
        case 0:
            break;
        case 1:
            sim_net_partition(w.world, victim, w.broker_node, false);
            run_checked(&w, ms, 3, 12 * NS_PER_S);
            sim_net_heal_all(w.world);
            break;
        case 2:
            sim_node_pause(victim);
            run_checked(&w, ms, 3, 12 * NS_PER_S);
            sim_node_resume(victim);
            break;
        default:
            (void)sim_net_reset(w.world, victim, w.broker_node);
            break;
        }
        uint64_t limit = sim_world_now_ns(w.world) + 60 * NS_PER_S;
        while (!settled(ms, 3, &seen, produced) && sim_world_now_ns(w.world) < limit) {
            run_checked(&w, ms, 3, 10 * NS_PER_MS);
        }
        if (!settled(ms, 3, &seen, produced))
            fail_msg("seed %llu round %d did not settle", (unsigned long long)seed, round);
    }
    for (size_t i = 0; i < 3; i++)
        group_consumer_destroy(ms[i].gc);
    client_destroy(producer);
    sim_world_destroy(w.world);
}

static void test_faults(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++)
        faults(seed);
}

/* A silent network (no reset: the stall timeout is an hour) between a member and the
 * broker: the member gives up on its coordinator once a heartbeat has gone a session
 * without an answer, instead of believing forever that it owns its partitions; after the
 * heal it rejoins and reads on, nothing skipped. */
static void test_silent_coordinator(void **state) {
    (void)state;
    static struct world w;
    static struct seen seen;
    static struct member a;
    memset(&seen, 0, sizeof(seen));
    struct client *producer = setup(&w, 77);
    sim_net_set_timeout(w.world, 3600 * NS_PER_S);
    produce(&w, producer, 0, 5);
    start_member(&w, &a, "a", &seen, true);
    RUN_UNTIL(&w, seen.total == PARTITIONS * 5);
    struct sim_node *node = sim_node_find(w.world, "a");
    sim_net_partition(w.world, node, w.broker_node, false);
    sim_world_run_until(w.world, sim_world_now_ns(w.world) + 3 * NS_PER_S);
    assert_true(group_consumer_stable(a.gc)); /* Not yet: the session is 6 s. */
    sim_world_run_until(w.world, sim_world_now_ns(w.world) + 7 * NS_PER_S);
    assert_false(group_consumer_stable(a.gc));
    sim_net_heal_all(w.world);
    produce(&w, producer, 5, 5);
    int32_t parts[GROUP_CONSUMER_PARTITIONS_MAX];
    RUN_UNTIL(&w, assigned(&a, parts) == PARTITIONS && seen.total >= PARTITIONS * 10);
    for (int p = 0; p < PARTITIONS; p++) {
        for (int o = 0; o < 10; o++)
            assert_true(seen.reads[p][o] >= 1);
    }
    group_consumer_destroy(a.gc);
    client_destroy(producer);
    sim_world_destroy(w.world);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocol_bytes),     cmocka_unit_test(test_assignors),
        cmocka_unit_test(test_split_and_leave),    cmocka_unit_test(test_commit_resume),
        cmocka_unit_test(test_broker_crash),       cmocka_unit_test(test_faults),
        cmocka_unit_test(test_silent_coordinator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
