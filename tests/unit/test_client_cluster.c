/*
 * test_client_cluster.c — the client library against three real brokers (combined
 * controller + broker nodes, Raft, replication) in the simulated world.
 *
 * Proves: an idempotent acks=all producer bootstrapped with a list of all three brokers
 * keeps producing while the leader of a partition crashes mid-run — every record ends with
 * exactly one result and every one is acked (the batches in flight to the dead leader are
 * retried on the leader the controller elects, within delivery.timeout.ms); afterwards an
 * assign-mode consumer bootstrapped through the list, whose first entry is the dead broker,
 * reads every partition from its (new) leader and finds each acknowledged record at the
 * offset its ack reported, and no record twice (the new leader kept the producer state).
 * A group consumer on the same list finds the coordinator FindCoordinator names (another
 * node than the one it asked, in general), fetches every partition from its leader, and
 * when the coordinator's node crashes finds the new coordinator and goes on: every record
 * produced before and after the crash is delivered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "broker/broker.h"
#include "client/client.h"
#include "client/consumer.h"
#include "client/group_consumer.h"
#include "client/producer.h"
#include "proto/proto.h"
#include "sim/sim.h"

#define NODES      3
#define PARTITIONS 3
#define RECORDS    300
#define READ_MAX   (4 * RECORDS)

struct node_state {
    struct broker_config config;
    struct broker *broker;
    struct sim_node *node;
};

struct world {
    struct sim_world *sim;
    struct node_state nodes[NODES];
    struct sim_node *client_node;
    struct io *io; /* The client node's. */
    struct producer *producer;
    int sent;
    io_timer_id send_timer;
    /* Producer results. */
    int results[RECORDS];
    enum producer_status status[RECORDS];
    int32_t partition[RECORDS];
    int64_t offset[RECORDS];
    int acked;
    /* Consumer reads. */
    int read_value[PARTITIONS][READ_MAX]; /* By offset; -1 = not read. */
    int64_t read_end[PARTITIONS];
    int reads;
    /* Raw requests of the test itself. */
    bool done;
    int status_raw;
    int16_t error;
    int32_t leader;
    int32_t coordinator;
    /* Group consumer deliveries, by record. */
    int delivered[2 * RECORDS];
};

static void broker_main(struct io *io, void *arg) {
    struct node_state *n = arg;
    n->broker = NULL;
    assert_int_equal(broker_start(io, &n->config, &n->broker), 0);
}

static void run_ms(struct world *w, uint64_t ms) {
    sim_world_run_until(w->sim, sim_world_now_ns(w->sim) + ms * NS_PER_MS);
}

static void on_raw(void *arg, int status, const void *body) {
    struct world *w = arg;
    w->done = true;
    w->status_raw = status;
    (void)body;
}

static void on_raw_metadata(void *arg, int status, const void *body) {
    struct world *w = arg;
    on_raw(arg, status, body);
    w->leader = -1;
    w->error = -1;
    if (status < 0) return;
    const struct proto_metadata_response *r = body;
    if (r->topics.count != 1) return;
    w->error = r->topics.items[0].error_code;
    for (int32_t i = 0; i < r->topics.items[0].partitions.count; i++) {
        const struct proto_metadata_response_partition *p = &r->topics.items[0].partitions.items[i];
        if (p->partition_index == 0 && p->error_code == 0) w->leader = p->leader_id;
    }
}

static void on_raw_create(void *arg, int status, const void *body) {
    struct world *w = arg;
    on_raw(arg, status, body);
    if (status == 0) {
        w->error = ((const struct proto_create_topics_response *)body)->topics.items[0].error_code;
    }
}

/* One request to node n<id> through a fresh connection; false if unanswered in time. */
static bool call(struct world *w, int id, int16_t api, int16_t version, const void *req,
                 client_done_fn done) {
    char host[8];
    snprintf(host, sizeof(host), "n%d", id);
    w->done = false;
    struct client *c = client_create(w->io, host, 9092, "test");
    assert_int_equal(client_send(c, api, version, req, done, w), 0);
    for (int i = 0; i < 5000 && !w->done; i++)
        run_ms(w, 1);
    client_destroy(c);
    return w->done && w->status_raw == 0;
}

/* Partition 0's leader as live node `id` reports it, or -1. */
static int32_t leader_of_p0(struct world *w, int id) {
    struct proto_metadata_request_topic t = {.name = PROTO_STR("t")};
    struct proto_metadata_request req = {.allow_auto_topic_creation = false};
    req.topics.items = &t;
    req.topics.count = 1;
    if (!call(w, id, PROTO_API_METADATA, 4, &req, on_raw_metadata) || w->error != 0) return -1;
    return w->leader;
}

static void world_start(struct world *w, uint64_t seed) {
    memset(w, 0, sizeof(*w));
    w->sim = sim_world_create(seed);
    const char *voters = "1@n1:9093,2@n2:9093,3@n3:9093";
    for (int i = 0; i < NODES; i++) {
        char props[1024], error[BROKER_CONFIG_ERROR_MAX], name[8];
        snprintf(props, sizeof(props),
                 "process.roles=broker,controller\nnode.id=%d\ncontroller.quorum.voters=%s\n"
                 "listeners=PLAINTEXT://n%d:9092,CONTROLLER://:9093\n"
                 "controller.listener.names=CONTROLLER\nlog.dirs=/data\n"
                 "log.flush.interval.messages=1\nbroker.session.timeout.ms=3000\n"
                 "broker.heartbeat.interval.ms=500\nreplica.lag.time.max.ms=3000\n"
                 "replica.fetch.wait.max.ms=200\ngroup.initial.rebalance.delay.ms=0\n"
                 "offsets.topic.num.partitions=6\n",
                 i + 1, voters, i + 1);
        broker_config_defaults(&w->nodes[i].config);
        int rc = broker_config_parse(&w->nodes[i].config, props, strlen(props), NULL, NULL, error);
        if (rc != 0) fprintf(stderr, "config: %s\n", error);
        assert_int_equal(rc, 0);
        snprintf(name, sizeof(name), "n%d", i + 1);
        w->nodes[i].node = sim_node_add(w->sim, name, broker_main, &w->nodes[i]);
    }
    w->client_node = sim_node_add(w->sim, "client", NULL, NULL);
    w->io = sim_node_io(w->client_node);
    /* The topic, replicated three ways, once a controller takes it. */
    struct proto_create_topics_request_topic t = {.name = PROTO_STR("t"),
                                                  .num_partitions = PARTITIONS,
                                                  .replication_factor = 3};
    t.configs.count = 0;
    t.assignments.count = 0;
    struct proto_create_topics_request req = {.timeout_ms = 5000};
    req.topics.items = &t;
    req.topics.count = 1;
    bool created = false;
    for (int attempt = 0; attempt < 60 && !created; attempt++) {
        run_ms(w, 500);
        created = call(w, 1 + attempt % NODES, PROTO_API_CREATE_TOPICS, 2, &req, on_raw_create) &&
                  (w->error == 0 || w->error == 36 /* TOPIC_ALREADY_EXISTS */);
    }
    assert_true(created);
    int32_t leader = -1;
    for (int attempt = 0; attempt < 100 && leader < 1; attempt++) {
        run_ms(w, 100);
        leader = leader_of_p0(w, 1);
    }
    assert_true(leader >= 1 && leader <= NODES);
}

static void on_raw_find(void *arg, int status, const void *body) {
    struct world *w = arg;
    on_raw(arg, status, body);
    w->coordinator = -1;
    if (status == 0 && ((const struct proto_find_coordinator_response *)body)->error_code == 0) {
        w->coordinator = ((const struct proto_find_coordinator_response *)body)->node_id;
    }
}

/* The group's coordinator as live node `id` reports it, or -1. */
static int32_t coordinator_of(struct world *w, int id, const char *group) {
    struct proto_find_coordinator_request req = {.key = proto_string_from(group), .key_type = 0};
    if (!call(w, id, PROTO_API_FIND_COORDINATOR, 1, &req, on_raw_find)) return -1;
    return w->coordinator;
}

/* --- Producing ----------------------------------------------------------------------------- */

static void on_result(void *arg, uint64_t token, enum producer_status status, int32_t partition,
                      int64_t offset, int16_t error) {
    struct world *w = arg;
    (void)error;
    assert_true(token < RECORDS);
    w->results[token]++;
    w->status[token] = status;
    w->partition[token] = partition;
    w->offset[token] = offset;
    if (status == PRODUCER_OK) w->acked++;
}

/* One record every 10 ms (virtual), round-robin over the partitions. */
static void send_tick(void *arg) {
    struct world *w = arg;
    w->send_timer = 0;
    if (w->sent == RECORDS) return;
    char value[16];
    snprintf(value, sizeof(value), "v%d", w->sent);
    int rc = producer_send(w->producer, NULL, -1, (const uint8_t *)value, (int32_t)strlen(value),
                           w->sent % PARTITIONS, (uint64_t)w->sent, NULL);
    if (rc == 0) w->sent++; /* -EAGAIN while the topic's metadata is pending: next tick. */
    w->send_timer = io_timer_start(w->io, io_now_ns(w->io) + 10 * NS_PER_MS, send_tick, w);
}

/* --- Reading back -------------------------------------------------------------------------- */

static void on_poll(void *arg, int status, const struct consumer_record *records, size_t count,
                    int16_t error, uint32_t generation) {
    struct world *w = arg;
    (void)status, (void)error, (void)generation;
    for (size_t i = 0; i < count; i++) {
        const struct consumer_record *r = &records[i];
        assert_true(r->partition >= 0 && r->partition < PARTITIONS);
        assert_true(r->offset >= 0 && r->offset < READ_MAX);
        char buf[16];
        assert_true(r->value_len > 1 && r->value_len < (int32_t)sizeof(buf));
        memcpy(buf, r->value, (size_t)r->value_len);
        buf[r->value_len] = '\0';
        w->read_value[r->partition][r->offset] = atoi(buf + 1);
        w->read_end[r->partition] = MAX(w->read_end[r->partition], r->offset + 1);
        w->reads++;
    }
}

static void test_leader_crash_mid_production(void **state) {
    (void)state;
    static struct world w; /* Large: off the stack. */
    world_start(&w, 7);
    int32_t leader = leader_of_p0(&w, 1);

    struct producer_config pc;
    producer_config_defaults(&pc);
    pc.bootstrap = "n1:9092,n2:9092,n3:9092";
    pc.topic = "t";
    pc.acks = -1;
    pc.idempotent = true;
    pc.linger_ms = 5;
    pc.request_timeout_ms = 2000;
    pc.delivery_timeout_ms = 60000;
    pc.on_result = on_result;
    pc.arg = &w;
    assert_int_equal(producer_create(w.io, &pc, &w.producer), 0);
    send_tick(&w);
    for (int i = 0; i < 20000 && w.acked < RECORDS / 3; i++)
        run_ms(&w, 1);
    assert_true(w.acked >= RECORDS / 3);

    /* Partition 0's leader dies with records in flight. */
    int acked_at_crash = w.acked;
    sim_node_crash(w.nodes[leader - 1].node);
    w.nodes[leader - 1].broker = NULL;
    for (int i = 0; i < 120000 && (w.sent < RECORDS || producer_outstanding(w.producer) > 0); i++)
        run_ms(&w, 1);
    assert_int_equal(w.sent, RECORDS);
    assert_int_equal(producer_outstanding(w.producer), 0);
    for (int i = 0; i < RECORDS; i++) {
        assert_int_equal(w.results[i], 1);
        assert_int_equal(w.status[i], PRODUCER_OK);
        assert_int_equal(w.partition[i], i % PARTITIONS);
    }
    producer_destroy(w.producer);

    /* Read everything back, starting from the dead broker's entry of the list. */
    char bootstrap[64];
    snprintf(bootstrap, sizeof(bootstrap), "n%d:9092,n1:9092,n2:9092,n3:9092", leader);
    for (int p = 0; p < PARTITIONS; p++) {
        for (int k = 0; k < READ_MAX; k++)
            w.read_value[p][k] = -1;
    }
    struct consumer_config cc;
    consumer_config_defaults(&cc);
    cc.bootstrap = bootstrap;
    cc.topic = "t";
    int32_t parts[PARTITIONS] = {0, 1, 2};
    cc.partitions = parts;
    cc.partition_count = PARTITIONS;
    cc.fetch_max_wait_ms = 50;
    cc.on_poll = on_poll;
    cc.arg = &w;
    struct consumer *c = NULL;
    assert_int_equal(consumer_create(w.io, &cc, &c), 0);
    for (int i = 0; i < 60000 && !consumer_caught_up(c); i++)
        run_ms(&w, 1);
    assert_true(consumer_caught_up(c));
    consumer_destroy(c);
    if (getenv("TRIAL_VERBOSE") != NULL) {
        fprintf(stderr, "leader %d acked %d (%d at the crash) reads %d ends %lld %lld %lld "
                "at %llu ms\n",
                leader, w.acked, acked_at_crash, w.reads, (long long)w.read_end[0],
                (long long)w.read_end[1], (long long)w.read_end[2],
                (unsigned long long)(sim_world_now_ns(w.sim) / NS_PER_MS));
    }

    int seen[RECORDS] = {0};
    for (int p = 0; p < PARTITIONS; p++) {
        for (int64_t k = 0; k < w.read_end[p]; k++) {
            int v = w.read_value[p][k];
            if (v < 0) continue; /* A control batch's offset. */
            assert_true(v < RECORDS);
            seen[v]++;
        }
    }
    for (int i = 0; i < RECORDS; i++) {
        int32_t p = w.partition[i];
        assert_true(w.offset[i] >= 0 && w.offset[i] < w.read_end[p]);
        assert_int_equal(w.read_value[p][w.offset[i]], i); /* Acked where the ack said. */
        assert_int_equal(seen[i], 1);                       /* And nowhere else. */
    }
    for (int i = 0; i < NODES; i++) {
        if (w.nodes[i].broker != NULL) assert_int_equal(broker_stop(w.nodes[i].broker), 0);
    }
    sim_world_destroy(w.sim);
}

/* --- Group consumer ------------------------------------------------------------------------ */

static void on_group_record(void *arg, const char *topic, int32_t partition, int64_t offset,
                            const uint8_t *key, int32_t key_len, const uint8_t *value,
                            int32_t value_len) {
    struct world *w = arg;
    (void)topic, (void)partition, (void)offset, (void)key, (void)key_len;
    char buf[16];
    assert_true(value_len > 1 && value_len < (int32_t)sizeof(buf));
    memcpy(buf, value, (size_t)value_len);
    buf[value_len] = '\0';
    int v = atoi(buf + 1);
    assert_true(v >= 0 && v < 2 * RECORDS);
    w->delivered[v]++;
}

static int delivered_distinct(const struct world *w, int n) {
    int count = 0;
    for (int i = 0; i < n; i++)
        count += w->delivered[i] > 0;
    return count;
}

/* Produces records first..first+n-1 ("v<i>", round-robin) and waits until all are acked. */
static void produce_acked(struct world *w, const char *bootstrap, int first, int n) {
    struct producer_config pc;
    producer_config_defaults(&pc);
    pc.bootstrap = bootstrap;
    pc.topic = "t";
    pc.linger_ms = 5;
    pc.on_result = on_result;
    pc.arg = w;
    assert_int_equal(producer_create(w->io, &pc, &w->producer), 0);
    int sent = first;
    for (int i = 0; i < 60000 && (sent < first + n || producer_outstanding(w->producer) > 0);
         i++) {
        char value[16];
        snprintf(value, sizeof(value), "v%d", sent);
        if (sent < first + n &&
            producer_send(w->producer, NULL, -1, (const uint8_t *)value, (int32_t)strlen(value),
                          sent % PARTITIONS, (uint64_t)(sent % RECORDS), NULL) == 0) {
            sent++;
        }
        run_ms(w, 1);
    }
    assert_int_equal(sent, first + n);
    assert_int_equal(producer_outstanding(w->producer), 0);
    producer_destroy(w->producer);
    w->producer = NULL;
}

static void test_group_consumer_coordinator_crash(void **state) {
    (void)state;
    static struct world w;
    world_start(&w, 8);
    const char *bootstrap = "n1:9092,n2:9092,n3:9092";
    produce_acked(&w, bootstrap, 0, RECORDS / 2);

    struct group_consumer_config gc;
    group_consumer_config_defaults(&gc);
    gc.bootstrap = bootstrap;
    gc.group_id = "g";
    gc.topics[0] = "t";
    gc.topic_count = 1;
    gc.reset_earliest = true;
    gc.auto_commit = true;
    gc.auto_commit_interval_ms = 500;
    gc.session_timeout_ms = 6000;
    gc.heartbeat_interval_ms = 500;
    gc.fetch_max_wait_ms = 100;
    gc.on_record = on_group_record;
    gc.arg = &w;
    struct group_consumer *g = NULL;
    assert_int_equal(group_consumer_create(w.io, &gc, &g), 0);
    for (int i = 0; i < 60000 && delivered_distinct(&w, RECORDS / 2) < RECORDS / 2; i++)
        run_ms(&w, 1);
    assert_int_equal(delivered_distinct(&w, RECORDS / 2), RECORDS / 2);
    run_ms(&w, 1000); /* An auto-commit of the positions. */

    /* The coordinator's node crashes; another broker takes the group's offsets partition. */
    int32_t coordinator = coordinator_of(&w, 1, "g");
    assert_true(coordinator >= 1 && coordinator <= NODES);
    sim_node_crash(w.nodes[coordinator - 1].node);
    w.nodes[coordinator - 1].broker = NULL;
    char rest[64] = "";
    for (int i = 1; i <= NODES; i++) {
        size_t len = strlen(rest);
        if (i != coordinator) snprintf(rest + len, sizeof(rest) - len, "%sn%d:9092",
                                       len > 0 ? "," : "", i);
    }
    produce_acked(&w, rest, RECORDS / 2, RECORDS / 2);
    for (int i = 0; i < 90000 && delivered_distinct(&w, RECORDS) < RECORDS; i++)
        run_ms(&w, 1);
    assert_int_equal(delivered_distinct(&w, RECORDS), RECORDS); /* At least once each. */
    assert_true(group_consumer_stable(g));
    int32_t now_coordinator = coordinator_of(&w, coordinator == 1 ? 2 : 1, "g");
    assert_true(now_coordinator >= 1 && now_coordinator != coordinator);
    if (getenv("TRIAL_VERBOSE") != NULL) {
        fprintf(stderr, "coordinator %d then %d, generation %d\n", coordinator, now_coordinator,
                group_consumer_generation(g));
    }
    group_consumer_destroy(g);
    for (int i = 0; i < NODES; i++) {
        if (w.nodes[i].broker != NULL) assert_int_equal(broker_stop(w.nodes[i].broker), 0);
    }
    sim_world_destroy(w.sim);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_crash_mid_production),
        cmocka_unit_test(test_group_consumer_coordinator_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
