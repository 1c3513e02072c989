/*
 * test_replication.c — three brokers with real controllers in the simulated world (the
 * whole stack: Raft, controller, quorum clients, fetchers, the broker's data path).
 * Proves: a topic created with replication factor 3 through any broker gets three
 * replicas; an acks=all produce is answered and then every replica's high watermark covers
 * it (a follower's HW never passes its own log end, so each log holds the records); when the
 * leader crashes the controller elects another and it serves every acknowledged record; a
 * stale current_leader_epoch is fenced (FENCED_LEADER_EPOCH) and the old leader's epoch is
 * gone; consumers never read at or above the HW (I-REPL-5, from the fetch_served trace);
 * the crashed leader restarts as a follower and catches up; a topic deleted through a
 * follower is gone from every broker; with min.insync.replicas=2 and two replicas down,
 * acks=all is refused with NOT_ENOUGH_REPLICAS (I-REPL-9) while acks=1 is still taken; a
 * controlled shutdown moves the leadership before the broker stops, and a plain broker_stop
 * moves it before the session timeout (a last want_shut_down heartbeat); the same seed gives
 * the same trace hash.
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
#include "proto/proto.h"
#include "sim/sim.h"

#define NODES 3
#define MS 1000000ULL

struct node_state {
    struct broker_config config;
    struct broker *broker;
    struct sim_node *node;
    int64_t hw[4]; /* Highest traced HW per test topic ("t", "m"). */
};

static struct node_state nodes[NODES];
static int consumer_fetches_served; /* fetch_served events with replica -1 and records. */
static struct sim_world *world;
static struct sim_node *client_node;

static void broker_main(struct io *io, void *arg) {
    struct node_state *n = arg;
    n->broker = NULL;
    assert_int_equal(broker_start(io, &n->config, &n->broker), 0);
}

static void on_trace(void *arg, struct sim_node *node, uint64_t now_ns, const char *event,
                     const struct io_trace_field *fields, size_t count) {
    (void)arg;
    (void)now_ns;
    if (strcmp(event, "fetch_served") == 0) {
        /* I-REPL-5: a consumer never gets a record at or above the HW. */
        int64_t end = -1, hw = -1, replica = 0, offset = -1;
        for (size_t i = 0; i < count; i++) {
            if (strcmp(fields[i].key, "end") == 0) end = fields[i].i;
            if (strcmp(fields[i].key, "hw") == 0) hw = fields[i].i;
            if (strcmp(fields[i].key, "replica") == 0) replica = fields[i].i;
            if (strcmp(fields[i].key, "offset") == 0) offset = fields[i].i;
        }
        if (replica == -1) {
            assert_true(end <= hw);
            if (end > offset) consumer_fetches_served++;
        }
        return;
    }
    if (strcmp(event, "hw") != 0) return;
    const char *topic = NULL;
    int64_t hw = -1;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(fields[i].key, "topic") == 0) topic = fields[i].s;
        if (strcmp(fields[i].key, "hw") == 0) hw = fields[i].i;
    }
    if (topic == NULL) return;
    int slot = strcmp(topic, "t") == 0 ? 0 : strcmp(topic, "m") == 0 ? 1 : -1;
    if (slot < 0) return;
    for (int i = 0; i < NODES; i++) {
        if (nodes[i].node == node && hw > nodes[i].hw[slot]) nodes[i].hw[slot] = hw;
    }
}

struct call {
    bool done;
    int status;
    int16_t error;
    int64_t offset;
    int records;
    int32_t brokers;
    int32_t leader;
    int32_t offline; /* Offline replicas of partition 0. */
};

static bool count_record(void *arg, int64_t offset, int64_t ts, const uint8_t *key,
                         int32_t key_len, const uint8_t *value, int32_t value_len) {
    struct call *c = arg;
    assert_int_equal(offset, c->records);
    c->records++;
    return true;
}

static void done_any(void *arg, int status, const void *body, int16_t api) {
    struct call *c = arg;
    c->done = true;
    c->status = status;
    if (status < 0) return;
    if (api == PROTO_API_PRODUCE) {
        const struct proto_produce_response *r = body;
        c->error = r->responses.items[0].partition_responses.items[0].error_code;
        c->offset = r->responses.items[0].partition_responses.items[0].base_offset;
    } else if (api == PROTO_API_FETCH) {
        const struct proto_fetch_response_partition *p =
            &((const struct proto_fetch_response *)body)->responses.items[0].partitions.items[0];
        c->error = p->error_code;
        if (p->records.len > 0) {
            client_walk_records(p->records.data, (size_t)p->records.len, 0, count_record, c);
        }
    } else if (api == PROTO_API_METADATA) {
        const struct proto_metadata_response *r = body;
        c->brokers = r->brokers.count;
        c->error = r->topics.count > 0 ? r->topics.items[0].error_code : -1;
        c->leader = r->topics.count > 0 && r->topics.items[0].partitions.count > 0
                        ? r->topics.items[0].partitions.items[0].leader_id : -1;
        c->offline = r->topics.count > 0 && r->topics.items[0].partitions.count > 0
                         ? r->topics.items[0].partitions.items[0].offline_replicas.count : -1;
    } else if (api == PROTO_API_CREATE_TOPICS) {
        c->error = ((const struct proto_create_topics_response *)body)->topics.items[0].error_code;
    } else if (api == PROTO_API_DELETE_TOPICS) {
        c->error =
            ((const struct proto_delete_topics_response *)body)->responses.items[0].error_code;
    }
}

#define DONE_FN(name, api)                                                                     \
    static void name(void *arg, int status, const void *body) { done_any(arg, status, body, api); }
DONE_FN(done_produce, PROTO_API_PRODUCE)
DONE_FN(done_fetch, PROTO_API_FETCH)
DONE_FN(done_metadata, PROTO_API_METADATA)
DONE_FN(done_create, PROTO_API_CREATE_TOPICS)
DONE_FN(done_delete, PROTO_API_DELETE_TOPICS)

static void run_ms(uint64_t ms) { sim_world_run_until(world, sim_world_now_ns(world) + ms * MS); }

/* Sends through a fresh client to node `id` and runs until answered (false: no answer). */
static bool call(int32_t id, int16_t api, int16_t version, const void *req, client_done_fn done,
                 struct call *c, uint64_t limit_ms) {
    char host[8];
    snprintf(host, sizeof(host), "n%d", id);
    memset(c, 0, sizeof(*c));
    struct client *cl = client_create(sim_node_io(client_node), host, 9092, "test");
    assert_int_equal(client_send(cl, api, version, req, done, c), 0);
    uint64_t deadline = sim_world_now_ns(world) + limit_ms * MS;
    while (!c->done && sim_world_now_ns(world) < deadline) {
        if (!sim_world_step(world)) break;
    }
    client_destroy(cl);
    return c->done && c->status == 0;
}

static bool metadata(int32_t id, const char *topic, struct call *c) {
    struct proto_metadata_request_topic t = {.name = proto_string_from(topic)};
    struct proto_metadata_request req = {.allow_auto_topic_creation = false};
    req.topics.items = &t;
    req.topics.count = 1;
    return call(id, PROTO_API_METADATA, 5, &req, done_metadata, c, 2000);
}

static bool create(int32_t id, const char *topic, const char *min_insync, struct call *c) {
    struct proto_create_topics_request_config cfg = {.name = PROTO_STR("min.insync.replicas"),
                                                     .value = proto_string_from(min_insync)};
    struct proto_create_topics_request_topic t = {.name = proto_string_from(topic),
                                                  .num_partitions = 1, .replication_factor = 3};
    t.configs.items = &cfg;
    t.configs.count = min_insync != NULL ? 1 : 0;
    struct proto_create_topics_request req = {.timeout_ms = 5000};
    req.topics.items = &t;
    req.topics.count = 1;
    return call(id, PROTO_API_CREATE_TOPICS, 2, &req, done_create, c, 10000);
}

static bool delete_topic(int32_t id, const char *topic, struct call *c) {
    struct proto_string name = proto_string_from(topic);
    struct proto_delete_topics_request req = {.timeout_ms = 5000};
    req.topic_names.items = &name;
    req.topic_names.count = 1;
    return call(id, PROTO_API_DELETE_TOPICS, 1, &req, done_delete, c, 10000);
}

static bool produce(int32_t id, const char *topic, int16_t acks, int count, struct call *c) {
    static uint8_t buf[1 << 14];
    struct client_record records[8];
    ASSERT(count <= 8);
    for (int i = 0; i < count; i++) {
        records[i] = (struct client_record){.value = (const uint8_t *)"v", .value_len = 1,
                                            .timestamp_ms = 1000};
    }
    int64_t size = client_build_batch(buf, sizeof(buf), records, (size_t)count);
    assert_true(size > 0);
    struct proto_produce_request_partition part = {.index = 0,
                                                   .records = {.data = buf, .len = (int32_t)size}};
    struct proto_produce_request_topic tp = {.name = proto_string_from(topic)};
    tp.partition_data.items = &part;
    tp.partition_data.count = 1;
    struct proto_produce_request req = {.transactional_id = PROTO_STR_NULL, .acks = acks,
                                        .timeout_ms = 5000};
    req.topic_data.items = &tp;
    req.topic_data.count = 1;
    return call(id, PROTO_API_PRODUCE, 3, &req, done_produce, c, 10000);
}

static bool fetch(int32_t id, const char *topic, int32_t epoch, struct call *c) {
    struct proto_fetch_request_partition p = {.partition = 0, .current_leader_epoch = epoch,
                                              .fetch_offset = 0, .log_start_offset = -1,
                                              .partition_max_bytes = 1 << 20};
    struct proto_fetch_request_topic t = {.topic = proto_string_from(topic)};
    t.partitions.items = &p;
    t.partitions.count = 1;
    struct proto_fetch_request req = {.replica_id = -1, .max_wait_ms = 0, .min_bytes = 1,
                                      .max_bytes = 1 << 24, .session_epoch = -1,
                                      .rack_id = PROTO_STR("")};
    req.topics.items = &t;
    req.topics.count = 1;
    return call(id, PROTO_API_FETCH, 11, &req, done_fetch, c, 5000);
}

/* The leader of topic-0 as some live broker's Metadata says, once it has one (else -1). */
static int32_t wait_leader(const char *topic, int32_t not_this, uint64_t limit_ms) {
    uint64_t deadline = sim_world_now_ns(world) + limit_ms * MS;
    while (sim_world_now_ns(world) < deadline) {
        for (int i = 0; i < NODES; i++) {
            struct call c;
            if (!sim_node_is_up(nodes[i].node)) continue;
            if (metadata(i + 1, topic, &c) && c.error == 0 && c.leader >= 1 &&
                c.leader != not_this && sim_node_is_up(nodes[c.leader - 1].node)) {
                return c.leader;
            }
        }
        run_ms(100);
    }
    return -1;
}

/* `voters` nodes are combined (controller + broker), the others brokers only. */
static void world_start(uint64_t seed, int voters) {
    memset(nodes, 0, sizeof(nodes));
    consumer_fetches_served = 0;
    world = sim_world_create(seed);
    if (getenv("TRIAL_VERBOSE") != NULL) sim_world_set_verbose(world, true);
    sim_world_set_trace_hook(world, on_trace, NULL);
    char voter_list[256] = "";
    for (int v = 0; v < voters; v++) {
        size_t len = strlen(voter_list);
        snprintf(voter_list + len, sizeof(voter_list) - len, "%s%d@n%d:9093", v ? "," : "",
                 v + 1, v + 1);
    }
    for (int i = 0; i < NODES; i++) {
        char props[1024], error[BROKER_CONFIG_ERROR_MAX], name[8];
        bool combined = i < voters;
        snprintf(props, sizeof(props),
                 "process.roles=%s\nnode.id=%d\ncontroller.quorum.voters=%s\n"
                 "listeners=PLAINTEXT://n%d:9092%s\n%s"
                 "log.dirs=/data\nlog.flush.interval.messages=1\n"
                 "broker.session.timeout.ms=3000\nbroker.heartbeat.interval.ms=500\n"
                 "replica.lag.time.max.ms=3000\nreplica.fetch.wait.max.ms=200\n",
                 combined ? "broker,controller" : "broker", i + 1, voter_list, i + 1,
                 combined ? ",CONTROLLER://:9093" : "",
                 combined ? "controller.listener.names=CONTROLLER\n" : "");
        broker_config_defaults(&nodes[i].config);
        int rc = broker_config_parse(&nodes[i].config, props, strlen(props), NULL, NULL, error);
        if (rc != 0) fprintf(stderr, "config: %s\n", error);
        assert_int_equal(rc, 0);
        snprintf(name, sizeof(name), "n%d", i + 1);
        nodes[i].node = sim_node_add(world, name, broker_main, &nodes[i]);
        for (int k = 0; k < 4; k++) nodes[i].hw[k] = -1;
    }
    client_node = sim_node_add(world, "client", NULL, NULL);
    /* Every broker registered and unfenced: Metadata lists all three. */
    uint64_t deadline = sim_world_now_ns(world) + 20000 * MS;
    struct call c = {0};
    while (sim_world_now_ns(world) < deadline) {
        if (metadata(1, "none", &c) && c.brokers == NODES) break;
        run_ms(100);
    }
    assert_int_equal(c.brokers, NODES);
}

static void world_stop(void) {
    for (int i = 0; i < NODES; i++) {
        if (nodes[i].broker == NULL || !sim_node_is_up(nodes[i].node)) continue;
        assert_int_equal(broker_stop(nodes[i].broker), 0);
    }
    sim_world_destroy(world);
}

static void test_rf3_produce_failover_fencing(void **state) {
    (void)state;
    world_start(11, 3);
    struct call c;
    assert_true(create(2, "t", NULL, &c));
    assert_int_equal(c.error, 0);
    int32_t leader = wait_leader("t", -1, 10000);
    assert_true(leader >= 1);

    assert_true(produce(leader, "t", -1, 5, &c));
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 0);
    run_ms(2000);
    for (int i = 0; i < NODES; i++) assert_true(nodes[i].hw[0] >= 5);

    /* The leader dies: another takes over with every acknowledged record. */
    sim_node_crash(nodes[leader - 1].node);
    nodes[leader - 1].broker = NULL;
    int32_t next = wait_leader("t", leader, 20000);
    assert_true(next >= 1 && next != leader);
    assert_true(fetch(next, "t", -1, &c));
    assert_int_equal(c.error, 0);
    assert_int_equal(c.records, 5);
    /* The first leader's epoch (0 or 1) is stale now. */
    assert_true(fetch(next, "t", 0, &c));
    assert_int_equal(c.error, 74); /* FENCED_LEADER_EPOCH */
    assert_true(produce(next, "t", -1, 1, &c));
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 5);
    assert_true(consumer_fetches_served > 0);

    /* The old leader comes back as a follower and catches up (its HW reaches the new
     * record, which it can only apply once its log holds it). */
    nodes[leader - 1].hw[0] = -1;
    sim_node_restart(nodes[leader - 1].node);
    run_ms(5000);
    assert_true(nodes[leader - 1].hw[0] >= 6);

    /* Deleting through a follower: answered once that broker's image has no topic; every
     * broker then answers UNKNOWN_TOPIC_OR_PARTITION. */
    int32_t follower = next == 1 ? 2 : 1;
    assert_true(delete_topic(follower, "t", &c));
    assert_int_equal(c.error, 0);
    assert_true(metadata(follower, "t", &c));
    assert_int_equal(c.error, 3);
    run_ms(1000);
    for (int i = 0; i < NODES; i++) {
        assert_true(metadata(i + 1, "t", &c));
        assert_int_equal(c.error, 3);
    }
    assert_true(produce(next, "t", 1, 1, &c));
    assert_int_equal(c.error, 3);
    world_stop();
}

static void test_min_insync_two_down(void **state) {
    (void)state;
    world_start(12, 1); /* One voter (n1): the controller survives n2 and n3 going down. */
    struct call c;
    assert_true(create(1, "m", "2", &c));
    assert_int_equal(c.error, 0);
    int32_t leader = wait_leader("m", -1, 10000);
    assert_true(leader >= 1);
    assert_true(produce(leader, "m", -1, 1, &c));
    assert_int_equal(c.error, 0);
    sim_node_crash(nodes[1].node);
    sim_node_crash(nodes[2].node);
    nodes[1].broker = nodes[2].broker = NULL;
    /* Fenced after the session timeout: n1 leads alone with an ISR of one. */
    run_ms(10000);
    assert_int_equal(wait_leader("m", -1, 10000), 1);
    assert_true(metadata(1, "m", &c));
    assert_int_equal(c.offline, 2); /* Replicas on the fenced brokers. */
    assert_true(produce(1, "m", -1, 1, &c));
    assert_int_equal(c.error, 19); /* NOT_ENOUGH_REPLICAS */
    assert_true(produce(1, "m", 1, 1, &c));
    assert_int_equal(c.error, 0);
    world_stop();
}

/* The same seed gives the same run: three brokers, a topic, a produce and a failover leave
 * the same trace hash twice (no pointer order, wall clock or hash order reaches it). */
static uint64_t short_run(uint64_t seed) {
    world_start(seed, 3);
    struct call c;
    assert_true(create(1, "t", NULL, &c));
    int32_t leader = wait_leader("t", -1, 10000);
    assert_true(leader >= 1);
    assert_true(produce(leader, "t", -1, 3, &c));
    sim_node_crash(nodes[leader - 1].node);
    nodes[leader - 1].broker = NULL;
    assert_true(wait_leader("t", leader, 20000) >= 1);
    uint64_t hash = sim_world_trace_hash(world);
    world_stop();
    return hash;
}

static void test_same_seed_same_trace(void **state) {
    (void)state;
    uint64_t a = short_run(21);
    uint64_t b = short_run(21);
    assert_true(a == b);
}

struct shutdown_result {
    bool done;
    bool granted;
};

static void on_shutdown(void *arg, bool granted) {
    struct shutdown_result *r = arg;
    r->done = true;
    r->granted = granted;
}

/* Controlled shutdown: the leader asks first, the controller moves its leadership to
 * another ISR member, and only then does it stop — acks=all keeps working throughout. */
static void test_controlled_shutdown(void **state) {
    (void)state;
    world_start(31, 3);
    struct call c;
    assert_true(create(1, "t", NULL, &c));
    int32_t leader = wait_leader("t", -1, 10000);
    assert_true(leader >= 1);
    assert_true(produce(leader, "t", -1, 2, &c));
    assert_int_equal(c.error, 0);
    run_ms(1000);
    struct shutdown_result r = {0};
    assert_int_equal(broker_shutdown(nodes[leader - 1].broker, on_shutdown, &r), 0);
    uint64_t deadline = sim_world_now_ns(world) + 5000 * MS;
    while (!r.done && sim_world_now_ns(world) < deadline) {
        if (!sim_world_step(world)) break;
    }
    assert_true(r.done);
    assert_true(r.granted);
    int32_t other = leader == 1 ? 2 : 1;
    assert_true(metadata(other, "t", &c));
    assert_int_equal(c.error, 0);
    assert_true(c.leader >= 1 && c.leader != leader);
    assert_int_equal(broker_stop(nodes[leader - 1].broker), 0);
    nodes[leader - 1].broker = NULL;
    sim_node_crash(nodes[leader - 1].node); /* Its program has ended. */
    assert_true(produce(c.leader, "t", -1, 1, &c));
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 2);
    world_stop();
}

/* A plain broker_stop (no broker_shutdown first) still tells the controller: leadership
 * moves well inside broker.session.timeout.ms (3000 here), where without that last
 * want_shut_down heartbeat the stopped leader would stay the leader until fenced. */
static void test_stop_tells_controller(void **state) {
    (void)state;
    world_start(37, 1); /* One controller, on n1: stop a leader that is not n1. */
    struct call c;
    const char *topics[] = {"a", "b", "c"};
    const char *topic = NULL;
    int32_t leader = -1;
    for (int i = 0; i < 3; i++) assert_true(create(1, topics[i], NULL, &c));
    for (int i = 0; i < 3 && topic == NULL; i++) {
        int32_t l = wait_leader(topics[i], -1, 10000);
        if (l > 1) {
            topic = topics[i];
            leader = l;
        }
    }
    assert_non_null(topic);
    assert_true(produce(leader, topic, -1, 2, &c));
    assert_int_equal(c.error, 0);
    run_ms(1000);
    assert_int_equal(broker_stop(nodes[leader - 1].broker), 0);
    nodes[leader - 1].broker = NULL;
    sim_node_crash(nodes[leader - 1].node);
    run_ms(1000);
    assert_true(metadata(1, topic, &c));
    assert_int_equal(c.error, 0);
    assert_true(c.leader >= 1 && c.leader != leader);
    int32_t next = c.leader;
    assert_true(produce(next, topic, -1, 1, &c));
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 2);
    world_stop();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_tells_controller),
        cmocka_unit_test(test_controlled_shutdown),
        cmocka_unit_test(test_same_seed_same_trace),
        cmocka_unit_test(test_rf3_produce_failover_fencing),
        cmocka_unit_test(test_min_insync_two_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
