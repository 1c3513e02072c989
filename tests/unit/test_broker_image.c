/*
 * test_broker_image.c — the broker driven by a metadata image, without Raft: two brokers in
 * the simulated world get their roles from an image the test edits (through the fake quorum
 * client, tests/unit/fake_quorum_client.c). Proves: the leader takes Produce and the
 * follower refuses it (NOT_LEADER_OR_FOLLOWER) and refuses consumer fetches; the follower's
 * fetcher copies the leader's log, the leader proposes the caught-up follower into the ISR
 * (AlterPartition) and applies the committed ISR; acks=all is answered once the ISR has the
 * batch; after a leader change in the image the new leader serves every acknowledged record,
 * the old one refuses Produce, and a stale or future current_leader_epoch is fenced
 * (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH, I-REPL-10) in Fetch and ListOffsets v4, and
 * Metadata v7 reports the image's leader epoch; with min.insync.replicas=2 and
 * an ISR of one, acks=all is refused with NOT_ENOUGH_REPLICAS (I-REPL-9) while acks=1 is
 * taken; Metadata lists the image's brokers and leaders; a topic recreated under a new id
 * while a node was down is not served from that node's old directory (partition.metadata).
 * A broker with no replica of a topic still describes its configs and answers Produce and
 * Fetch with NOT_LEADER_OR_FOLLOWER. A parked acks=all produce is answered
 * NOT_LEADER_OR_FOLLOWER when leadership moves, and completes once a cut-off follower has
 * been dropped from the ISR after replica.lag.time.max.ms. A restarted leader starts its
 * HW from replication-offset-checkpoint (periodic and clean-stop writes). Both brokers stop
 * freeing every byte.
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
#include "controller/metadata.h"
#include "proto/proto.h"
#include "sim/sim.h"
#include "tests/unit/fake_quorum_client.h"

#define TOPIC "t"
#define NODES 2

struct node_state {
    struct broker_config config;
    struct broker *broker;
    struct sim_node *node;
};

static struct node_state nodes[NODES];
static struct sim_world *world;
static struct sim_node *client_node;

/* The image every broker sees. */
static struct metadata_broker img_brokers[NODES];
static struct metadata_partition img_partition;
static struct metadata_topic img_topic;
static struct metadata_image img;

static void broker_main(struct io *io, void *arg) {
    struct node_state *n = arg;
    n->broker = NULL;
    assert_int_equal(broker_start(io, &n->config, &n->broker), 0);
}

struct call {
    bool done;
    int status;
    int16_t error;
    int64_t offset;
    int64_t high_watermark;
    int records;
    int32_t brokers;
    int32_t leader;
    int32_t leader_epoch;
    int32_t node_id;
    char value[32];
};

static bool count_record(void *arg, int64_t offset, int64_t ts, const uint8_t *key,
                         int32_t key_len, const uint8_t *value, int32_t value_len) {
    struct call *c = arg;
    assert_int_equal(offset, c->records); /* Consecutive from 0. */
    c->records++;
    return true;
}

static void on_done(void *arg, int status, const void *body, int16_t api) {
    struct call *c = arg;
    c->done = true;
    c->status = status;
    if (status < 0) return;
    if (api == PROTO_API_PRODUCE) {
        const struct proto_produce_response *r = body;
        c->error = r->responses.items[0].partition_responses.items[0].error_code;
        c->offset = r->responses.items[0].partition_responses.items[0].base_offset;
    } else if (api == PROTO_API_FETCH) {
        const struct proto_fetch_response *r = body;
        const struct proto_fetch_response_partition *p = &r->responses.items[0].partitions.items[0];
        c->error = p->error_code;
        c->high_watermark = p->high_watermark;
        if (p->records.len > 0) {
            client_walk_records(p->records.data, (size_t)p->records.len, 0, count_record, c);
        }
    } else if (api == PROTO_API_FIND_COORDINATOR) {
        const struct proto_find_coordinator_response *r = body;
        c->error = r->error_code;
        c->node_id = r->node_id;
    } else if (api == PROTO_API_DESCRIBE_CONFIGS) {
        const struct proto_describe_configs_response *r = body;
        c->error = r->results.items[0].error_code;
        if (c->error == 0 && r->results.items[0].configs.count == 1) {
            snprintf(c->value, sizeof(c->value), "%s",
                     r->results.items[0].configs.items[0].value.str);
        }
    } else if (api == PROTO_API_OFFSET_COMMIT) {
        const struct proto_offset_commit_response *r = body;
        c->error = r->topics.items[0].partitions.items[0].error_code;
    } else if (api == PROTO_API_OFFSET_FETCH) {
        const struct proto_offset_fetch_response *r = body;
        c->error = r->topics.items[0].partitions.items[0].error_code;
        c->offset = r->topics.items[0].partitions.items[0].committed_offset;
    } else if (api == PROTO_API_METADATA) {
        const struct proto_metadata_response *r = body;
        c->brokers = r->brokers.count;
        c->error = r->topics.items[0].error_code;
        c->leader = r->topics.items[0].partitions.count > 0
                        ? r->topics.items[0].partitions.items[0].leader_id : -2;
        c->leader_epoch = r->topics.items[0].partitions.count > 0
                              ? r->topics.items[0].partitions.items[0].leader_epoch : -2;
    } else if (api == PROTO_API_LIST_OFFSETS) {
        const struct proto_list_offsets_response *r = body;
        c->error = r->topics.items[0].partitions.items[0].error_code;
        c->offset = r->topics.items[0].partitions.items[0].offset;
        c->leader_epoch = r->topics.items[0].partitions.items[0].leader_epoch;
    }
}

#define DONE_FN(name, api)                                                                     \
    static void name(void *arg, int status, const void *body) { on_done(arg, status, body, api); }
DONE_FN(done_produce, PROTO_API_PRODUCE)
DONE_FN(done_fetch, PROTO_API_FETCH)
DONE_FN(done_metadata, PROTO_API_METADATA)
DONE_FN(done_list_offsets, PROTO_API_LIST_OFFSETS)
static void run_ms(uint64_t ms) {
    sim_world_run_until(world, sim_world_now_ns(world) + ms * 1000000ULL);
}

static void run_until_done(struct call *c, uint64_t limit_ms) {
    uint64_t deadline = sim_world_now_ns(world) + limit_ms * 1000000ULL;
    while (!c->done && sim_world_now_ns(world) < deadline) {
        if (!sim_world_step(world)) break;
    }
    assert_true(c->done);
    assert_int_equal(c->status, 0);
}

static struct client *connect_to(int32_t id) {
    char host[8];
    snprintf(host, sizeof(host), "n%d", id);
    return client_create(sim_node_io(client_node), host, 9092, "test");
}

static void produce(int32_t to, int16_t acks, int count, struct call *c) {
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
    struct proto_produce_request_topic topic = {.name = PROTO_STR(TOPIC)};
    topic.partition_data.items = &part;
    topic.partition_data.count = 1;
    struct proto_produce_request req = {.transactional_id = PROTO_STR_NULL, .acks = acks,
                                        .timeout_ms = 5000};
    req.topic_data.items = &topic;
    req.topic_data.count = 1;
    memset(c, 0, sizeof(*c));
    struct client *cl = connect_to(to);
    assert_int_equal(client_send(cl, PROTO_API_PRODUCE, 3, &req, done_produce, c), 0);
    run_until_done(c, 10000);
    client_destroy(cl);
}

static void fetch(int32_t from, int32_t current_leader_epoch, struct call *c) {
    struct proto_fetch_request_partition p = {.partition = 0,
                                              .current_leader_epoch = current_leader_epoch,
                                              .fetch_offset = 0, .log_start_offset = -1,
                                              .partition_max_bytes = 1 << 20};
    struct proto_fetch_request_topic t = {.topic = PROTO_STR(TOPIC)};
    t.partitions.items = &p;
    t.partitions.count = 1;
    struct proto_fetch_request req = {.replica_id = -1, .max_wait_ms = 0, .min_bytes = 1,
                                      .max_bytes = 1 << 24, .isolation_level = 0,
                                      .session_epoch = -1, .rack_id = PROTO_STR("")};
    req.topics.items = &t;
    req.topics.count = 1;
    req.forgotten_topics_data.count = 0;
    memset(c, 0, sizeof(*c));
    struct client *cl = connect_to(from);
    assert_int_equal(client_send(cl, PROTO_API_FETCH, 11, &req, done_fetch, c), 0);
    run_until_done(c, 5000);
    client_destroy(cl);
}

static void metadata_v(int32_t from, int16_t version, struct call *c) {
    struct proto_metadata_request_topic t = {.name = PROTO_STR(TOPIC)};
    struct proto_metadata_request req = {.allow_auto_topic_creation = false};
    req.topics.items = &t;
    req.topics.count = 1;
    memset(c, 0, sizeof(*c));
    struct client *cl = connect_to(from);
    assert_int_equal(client_send(cl, PROTO_API_METADATA, version, &req, done_metadata, c), 0);
    run_until_done(c, 5000);
    client_destroy(cl);
}

static void metadata(int32_t from, struct call *c) { metadata_v(from, 4, c); }

/* ListOffsets v4 for the latest offset of t-0, fenced by `current_leader_epoch` (KIP-320). */
static void list_latest(int32_t from, int32_t current_leader_epoch, struct call *c) {
    struct proto_list_offsets_request_partition p = {
        .partition_index = 0, .current_leader_epoch = current_leader_epoch, .timestamp = -1};
    struct proto_list_offsets_request_topic t = {.name = PROTO_STR(TOPIC)};
    t.partitions.items = &p;
    t.partitions.count = 1;
    struct proto_list_offsets_request req = {.replica_id = -1, .isolation_level = 0};
    req.topics.items = &t;
    req.topics.count = 1;
    memset(c, 0, sizeof(*c));
    struct client *cl = connect_to(from);
    assert_int_equal(client_send(cl, PROTO_API_LIST_OFFSETS, 4, &req, done_list_offsets, c), 0);
    run_until_done(c, 5000);
    client_destroy(cl);
}

DONE_FN(done_find, PROTO_API_FIND_COORDINATOR)
DONE_FN(done_describe, PROTO_API_DESCRIBE_CONFIGS)

static void describe_retention(int32_t to, struct call *c) {
    struct proto_string key = PROTO_STR("retention.ms");
    struct proto_describe_configs_resource r = {.resource_type = 2,
                                                .resource_name = PROTO_STR(TOPIC)};
    r.configuration_keys.items = &key;
    r.configuration_keys.count = 1;
    struct proto_describe_configs_request req = {.include_synonyms = false};
    req.resources.items = &r;
    req.resources.count = 1;
    memset(c, 0, sizeof(*c));
    struct client *cl = connect_to(to);
    assert_int_equal(client_send(cl, PROTO_API_DESCRIBE_CONFIGS, 1, &req, done_describe, c), 0);
    run_until_done(c, 5000);
    client_destroy(cl);
}
DONE_FN(done_commit, PROTO_API_OFFSET_COMMIT)
DONE_FN(done_offset_fetch, PROTO_API_OFFSET_FETCH)

static void find_coordinator(int32_t to, struct call *c) {
    struct proto_find_coordinator_request req = {.key = PROTO_STR("g"), .key_type = 0};
    memset(c, 0, sizeof(*c));
    struct client *cl = connect_to(to);
    assert_int_equal(client_send(cl, PROTO_API_FIND_COORDINATOR, 1, &req, done_find, c), 0);
    run_until_done(c, 5000);
    client_destroy(cl);
}

/* A simple (memberless) commit of offset `offset` for t-0 in group g. */
static void commit(int32_t to, int64_t offset, struct call *c) {
    struct proto_offset_commit_request_partition p = {.partition_index = 0,
                                                      .committed_offset = offset,
                                                      .committed_leader_epoch = -1,
                                                      .commit_timestamp = -1,
                                                      .committed_metadata = PROTO_STR("")};
    struct proto_offset_commit_request_topic t = {.name = PROTO_STR(TOPIC)};
    t.partitions.items = &p;
    t.partitions.count = 1;
    struct proto_offset_commit_request req = {.group_id = PROTO_STR("g"), .generation_id = -1,
                                              .member_id = PROTO_STR(""),
                                              .group_instance_id = PROTO_STR_NULL,
                                              .retention_time_ms = -1};
    req.topics.items = &t;
    req.topics.count = 1;
    memset(c, 0, sizeof(*c));
    struct client *cl = connect_to(to);
    assert_int_equal(client_send(cl, PROTO_API_OFFSET_COMMIT, 2, &req, done_commit, c), 0);
    run_until_done(c, 5000);
    client_destroy(cl);
}

static void offset_fetch(int32_t to, struct call *c) {
    int32_t partition = 0;
    struct proto_offset_fetch_request_topic t = {.name = PROTO_STR(TOPIC)};
    t.partition_indexes.items = &partition;
    t.partition_indexes.count = 1;
    struct proto_offset_fetch_request req = {.group_id = PROTO_STR("g")};
    req.topics.items = &t;
    req.topics.count = 1;
    memset(c, 0, sizeof(*c));
    struct client *cl = connect_to(to);
    assert_int_equal(client_send(cl, PROTO_API_OFFSET_FETCH, 1, &req, done_offset_fetch, c), 0);
    run_until_done(c, 5000);
    client_destroy(cl);
}

static void set_partition(int32_t leader, int32_t leader_epoch, const int32_t *isr,
                          uint32_t isr_count) {
    img_partition.leader = leader;
    img_partition.leader_epoch = leader_epoch;
    img_partition.partition_epoch++;
    memcpy(img_partition.isr, isr, isr_count * sizeof(int32_t));
    img_partition.isr_count = isr_count;
}

static void world_start(void) {
    memset(nodes, 0, sizeof(nodes));
    world = sim_world_create(7);
    memset(&img, 0, sizeof(img));
    memset(img_brokers, 0, sizeof(img_brokers));
    memset(&img_topic, 0, sizeof(img_topic));
    memset(&img_partition, 0, sizeof(img_partition));
    img.offset = -1;
    fake_qc_init(world, &img);
    for (int i = 0; i < NODES; i++) {
        char props[512], error[BROKER_CONFIG_ERROR_MAX], name[8];
        snprintf(props, sizeof(props),
                 "process.roles=broker\nnode.id=%d\ncontroller.quorum.voters=1@c1:9093\n"
                 "listeners=PLAINTEXT://n%d:9092\nlog.dirs=/data\n"
                 "replica.fetch.wait.max.ms=100\nlog.flush.interval.messages=1\n"
                 "replica.lag.time.max.ms=3000\n",
                 i + 1, i + 1);
        broker_config_defaults(&nodes[i].config);
        int rc = broker_config_parse(&nodes[i].config, props, strlen(props), NULL, NULL, error);
        if (rc != 0) fprintf(stderr, "config: %s\n", error);
        assert_int_equal(rc, 0);
        snprintf(name, sizeof(name), "n%d", i + 1);
        nodes[i].node = sim_node_add(world, name, broker_main, &nodes[i]);
        img_brokers[i] = (struct metadata_broker){.id = i + 1, .epoch = i, .port = 9092};
        snprintf(img_brokers[i].host, sizeof(img_brokers[i].host), "n%d", i + 1);
    }
    client_node = sim_node_add(world, "client", NULL, NULL);
    run_ms(10);
    img.brokers = img_brokers;
    img.broker_count = NODES;
    img.broker_cap = NODES;
    snprintf(img_topic.name, sizeof(img_topic.name), "%s", TOPIC);
    img_topic.id[0] = 1;
    img_topic.partitions = &img_partition;
    img_topic.partition_count = 1;
    img.topics = &img_topic;
    img.topic_count = 1;
    img.topic_cap = 1;
    img_partition.index = 0;
    img_partition.replicas[0] = 1;
    img_partition.replicas[1] = 2;
    img_partition.replica_count = 2;
}

static void world_stop(void) {
    for (int i = 0; i < NODES; i++) {
        if (nodes[i].broker == NULL || !sim_node_is_up(nodes[i].node)) continue;
        assert_int_equal(broker_stop(nodes[i].broker), 0);
        assert_int_equal(sim_node_live_bytes(nodes[i].node), 0);
    }
    sim_world_destroy(world);
}

static void test_leader_follower_failover(void **state) {
    (void)state;
    world_start();
    const int32_t only1[] = {1};
    set_partition(1, 1, only1, 1);
    fake_qc_publish();
    run_ms(100);

    struct call c;
    metadata(2, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.brokers, 2);
    assert_int_equal(c.leader, 1);

    produce(1, -1, 3, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 0);
    produce(2, -1, 1, &c);
    assert_int_equal(c.error, 6); /* NOT_LEADER_OR_FOLLOWER */
    fetch(2, -1, &c);
    assert_int_equal(c.error, 6);

    /* The follower catches up and the leader asks for it to join the ISR. */
    run_ms(2000);
    assert_true(fake_qc_alters() >= 1);
    assert_int_equal(img_partition.isr_count, 2);

    /* acks=all now needs both replicas; it is answered once both have it. */
    produce(1, -1, 2, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 3);
    fetch(1, 1, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.records, 5);
    run_ms(1000);

    /* Leader change: node 2 leads in epoch 2 and has every acknowledged record. */
    const int32_t both[] = {1, 2};
    set_partition(2, 2, both, 2);
    fake_qc_publish();
    run_ms(1000);
    fetch(2, 2, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.records, 5);
    produce(1, 1, 1, &c);
    assert_int_equal(c.error, 6);
    fetch(2, 1, &c);
    assert_int_equal(c.error, 74); /* FENCED_LEADER_EPOCH */
    fetch(2, 3, &c);
    assert_int_equal(c.error, 75); /* UNKNOWN_LEADER_EPOCH */
    fetch(1, 2, &c);
    assert_int_equal(c.error, 6);
    /* Metadata v7 carries the image's leader epoch; v6 has no such field (-1). */
    metadata_v(1, 7, &c);
    assert_int_equal(c.leader, 2);
    assert_int_equal(c.leader_epoch, 2);
    metadata_v(1, 6, &c);
    assert_int_equal(c.leader_epoch, -1);
    /* ListOffsets v4: the same fencing as Fetch, and the leader's epoch in the answer. */
    list_latest(2, 2, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 5);
    assert_int_equal(c.leader_epoch, 2);
    list_latest(2, -1, &c);
    assert_int_equal(c.error, 0);
    list_latest(2, 1, &c);
    assert_int_equal(c.error, 74); /* FENCED_LEADER_EPOCH */
    list_latest(2, 3, &c);
    assert_int_equal(c.error, 75); /* UNKNOWN_LEADER_EPOCH */
    list_latest(1, 2, &c);
    assert_int_equal(c.error, 6);

    /* min.insync.replicas=2 with node 1 gone from the ISR: acks=all refused, acks=1 taken. */
    sim_node_crash(nodes[0].node);
    fake_qc_forget(1);
    img_topic.config_count = 1;
    snprintf(img_topic.configs[0].name, sizeof(img_topic.configs[0].name), "min.insync.replicas");
    snprintf(img_topic.configs[0].value, sizeof(img_topic.configs[0].value), "2");
    const int32_t only2[] = {2};
    set_partition(2, 2, only2, 1);
    fake_qc_publish();
    run_ms(100);
    produce(2, -1, 1, &c);
    assert_int_equal(c.error, 19); /* NOT_ENOUGH_REPLICAS */
    produce(2, 1, 1, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 5);
    world_stop();
}

/* The group coordinator lives on the leader of the group's __consumer_offsets partition:
 * FindCoordinator names it, and a new leader loads the groups its log replicated. */
static void test_coordinator_follows_offsets_leader(void **state) {
    (void)state;
    world_start();
    snprintf(img_topic.name, sizeof(img_topic.name), "__consumer_offsets");
    img_topic.config_count = 1;
    snprintf(img_topic.configs[0].name, sizeof(img_topic.configs[0].name), "cleanup.policy");
    snprintf(img_topic.configs[0].value, sizeof(img_topic.configs[0].value), "compact");
    const int32_t both[] = {1, 2};
    set_partition(1, 1, both, 2);
    fake_qc_publish();
    run_ms(100);

    struct call c;
    find_coordinator(2, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.node_id, 1);
    commit(1, 42, &c);
    assert_int_equal(c.error, 0);
    commit(2, 43, &c);
    assert_int_equal(c.error, 16); /* NOT_COORDINATOR: node 2 only follows. */
    run_ms(1000);

    set_partition(2, 2, both, 2);
    fake_qc_publish();
    run_ms(500);
    find_coordinator(1, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.node_id, 2);
    offset_fetch(2, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 42);
    commit(1, 44, &c);
    assert_int_equal(c.error, 16);
    world_stop();
}

/* A topic deleted and recreated (new id, same name) while a replica's node was down: at
 * restart the node finds its old directory's partition.metadata naming the old id, drops
 * it and starts the new topic's replica empty (KIP-516); the live node drops its replica
 * as soon as its image shows the new id. */
static void test_recreated_topic_while_down(void **state) {
    (void)state;
    world_start();
    const int32_t both[] = {1, 2};
    set_partition(1, 1, both, 2);
    fake_qc_publish();
    run_ms(100);
    struct call c;
    produce(1, -1, 3, &c);
    assert_int_equal(c.error, 0);
    run_ms(1000);

    sim_node_crash(nodes[1].node);
    fake_qc_forget(2);
    img_topic.id[0] = 2; /* Deleted and created again. */
    img_partition.partition_epoch = 0;
    set_partition(1, 1, both, 2);
    fake_qc_publish();
    run_ms(100);
    fetch(1, 1, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.records, 0);

    /* Node 2 leads the new topic from its first image: nothing truncates its old log for
     * it, only the id check can keep the old records out. */
    set_partition(2, 2, both, 2);
    fake_qc_publish();
    sim_node_restart(nodes[1].node);
    run_ms(1000);
    fetch(2, 2, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.records, 0);
    produce(2, 1, 1, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 0);
    world_stop();
}

/* The HW survives a restart (replication-offset-checkpoint): with the other ISR member
 * down nothing can move the HW after the restart, so what the leader shows is what it
 * read back — written every replica.high.watermark.checkpoint.interval.ms (here, a crash)
 * and at a clean stop — capped at the LEO, and never the LEO guessed at open. */
static void test_restart_keeps_hw(void **state) {
    (void)state;
    world_start();
    const int32_t both[] = {1, 2};
    set_partition(1, 1, both, 2);
    fake_qc_publish();
    run_ms(100);
    struct call c;
    produce(1, -1, 3, &c);
    assert_int_equal(c.error, 0);
    run_ms(6000); /* Past the 5000 ms checkpoint interval. */
    sim_node_crash(nodes[1].node);
    sim_node_crash(nodes[0].node);
    sim_node_restart(nodes[0].node);
    run_ms(1000);
    fetch(1, 1, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.high_watermark, 3);
    assert_int_equal(c.records, 3);

    /* acks=1 appends past the HW (node 2 never fetches it); a clean stop checkpoints 3. */
    produce(1, 1, 1, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.offset, 3);
    assert_int_equal(broker_stop(nodes[0].broker), 0);
    nodes[0].broker = NULL;
    sim_node_crash(nodes[0].node); /* Its program has ended. */
    sim_node_restart(nodes[0].node);
    run_ms(1000);
    fetch(1, 1, &c);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.high_watermark, 3);
    assert_int_equal(c.records, 3);
    world_stop();
}

/* A broker holding no replica of a topic still knows it: DescribeConfigs answers from the
 * image's overrides, Produce and Fetch answer NOT_LEADER_OR_FOLLOWER (not UNKNOWN). */
static void test_topic_known_without_replica(void **state) {
    (void)state;
    world_start();
    img_partition.replica_count = 1; /* Only node 1. */
    img_topic.config_count = 1;
    snprintf(img_topic.configs[0].name, sizeof(img_topic.configs[0].name), "retention.ms");
    snprintf(img_topic.configs[0].value, sizeof(img_topic.configs[0].value), "1234");
    const int32_t only1[] = {1};
    set_partition(1, 1, only1, 1);
    fake_qc_publish();
    run_ms(100);
    struct call c;
    describe_retention(2, &c);
    assert_int_equal(c.error, 0);
    assert_string_equal(c.value, "1234");
    produce(2, 1, 1, &c);
    assert_int_equal(c.error, 6);
    fetch(2, -1, &c);
    assert_int_equal(c.error, 6);
    world_stop();
}

/* acks=all parked while the follower is cut off: a leadership move answers it
 * NOT_LEADER_OR_FOLLOWER; back as leader, the lagging follower leaves the ISR after
 * replica.lag.time.max.ms (AlterPartition from the housekeeping) and the produce completes. */
static void test_isr_shrink_and_parked_produce(void **state) {
    (void)state;
    world_start();
    const int32_t both[] = {1, 2};
    set_partition(1, 1, both, 2);
    fake_qc_publish();
    run_ms(500);
    struct call c;
    produce(1, -1, 1, &c);
    assert_int_equal(c.error, 0);

    sim_net_partition(world, nodes[0].node, nodes[1].node, false);
    static uint8_t buf[256];
    struct client_record record = {.value = (const uint8_t *)"v", .value_len = 1,
                                   .timestamp_ms = 1000};
    int64_t size = client_build_batch(buf, sizeof(buf), &record, 1);
    struct proto_produce_request_partition part = {.index = 0,
                                                   .records = {.data = buf, .len = (int32_t)size}};
    struct proto_produce_request_topic topic = {.name = PROTO_STR(TOPIC)};
    topic.partition_data.items = &part;
    topic.partition_data.count = 1;
    struct proto_produce_request req = {.transactional_id = PROTO_STR_NULL, .acks = -1,
                                        .timeout_ms = 20000};
    req.topic_data.items = &topic;
    req.topic_data.count = 1;
    memset(&c, 0, sizeof(c));
    struct client *cl = connect_to(1);
    assert_int_equal(client_send(cl, PROTO_API_PRODUCE, 3, &req, done_produce, &c), 0);
    run_ms(1000);
    assert_false(c.done); /* Parked: the follower cannot fetch it. */
    set_partition(2, 2, both, 2);
    fake_qc_publish();
    run_until_done(&c, 1000);
    assert_int_equal(c.error, 6);

    set_partition(1, 3, both, 2);
    fake_qc_publish();
    run_ms(100);
    memset(&c, 0, sizeof(c));
    assert_int_equal(client_send(cl, PROTO_API_PRODUCE, 3, &req, done_produce, &c), 0);
    run_until_done(&c, 15000);
    assert_int_equal(c.error, 0);
    assert_int_equal(img_partition.isr_count, 1);
    assert_int_equal(img_partition.isr[0], 1);
    client_destroy(cl);
    /* Healed before stopping: a client destroyed mid-connect frees itself only when its
     * connect completes (client.c), which a stalled link would put after the leak check. */
    sim_net_heal_all(world);
    run_ms(500);
    world_stop();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isr_shrink_and_parked_produce),
        cmocka_unit_test(test_topic_known_without_replica),
        cmocka_unit_test(test_recreated_topic_while_down),
        cmocka_unit_test(test_restart_keeps_hw),
        cmocka_unit_test(test_leader_follower_failover),
        cmocka_unit_test(test_coordinator_follows_offsets_leader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
