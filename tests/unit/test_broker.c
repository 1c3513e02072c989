/*
 * test_broker.c — the broker end to end in the simulated world (deterministic):
 * a client node talks to a broker node over the simulated network and disk through our
 * own client library. Proves: CreateTopics creates (and refuses a duplicate), Metadata
 * lists it, Produce with acks=-1 assigns consecutive offsets, Fetch returns every record in
 * order, a long-poll Fetch parks and is completed early by a Produce from another
 * connection, an unsatisfied Fetch answers empty at max_wait, responses on one connection
 * keep request order even when the earlier request (a parked Fetch) finishes last,
 * ListOffsets earliest/latest are right, and with log.flush.interval.messages=1 every acked
 * record survives a crash of the broker node (whose unsynced writes the simulated disk may
 * drop). Running the same seed twice gives the same trace hash. Also: produce to an unknown
 * topic and fetches outside [log start, log end] get their Kafka errors, and the
 * housekeeping timer applies time retention (the log start moves past expired segments).
 * Idempotent producers: retries get the original offsets, sequence gaps, unknown producers
 * and fenced epochs get their errors, and the state survives a crash (rebuilt from the log).
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
#include "broker/broker.h"
#include "client/client.h"
#include "log/batch.h"
#include "proto/proto.h"
#include "sim/sim.h"

#define TOPIC "t"

struct world_state {
    struct sim_world *world;
    struct sim_node *broker_node;
    struct sim_node *client_node;
    struct broker_config config;
    struct broker *broker;
};

static void broker_main(struct io *io, void *arg) {
    struct world_state *ws = arg;
    ws->broker = NULL;
    assert_int_equal(broker_start(io, &ws->config, &ws->broker), 0);
}

/* One outstanding call's result. */
struct call {
    bool done;
    int status;
    int order;
    int16_t error;
    int64_t offset;
    int64_t high_watermark;
    int64_t next_offset;
    int records;
    int32_t partitions;
    char first_value[32];
    uint64_t done_ns;
    struct world_state *ws;
};

static int done_sequence;

static bool count_record(void *arg, int64_t offset, int64_t ts, const uint8_t *key,
                         int32_t key_len, const uint8_t *value, int32_t value_len) {
    struct call *c = arg;
    char expect[32];
    snprintf(expect, sizeof(expect), "value-%lld", (long long)offset);
    assert_int_equal(value_len, (int32_t)strlen(expect));
    assert_memory_equal(value, expect, (size_t)value_len);
    if (c->records == 0) memcpy(c->first_value, value, (size_t)value_len);
    c->records++;
    return true;
}

static void on_done(void *arg, int status, const void *body, int16_t api) {
    struct call *c = arg;
    c->done = true;
    c->status = status;
    c->order = done_sequence++;
    c->done_ns = sim_world_now_ns(c->ws->world);
    if (status < 0) return;
    if (api == PROTO_API_CREATE_TOPICS) {
        const struct proto_create_topics_response *r = body;
        c->error = r->topics.items[0].error_code;
    } else if (api == PROTO_API_METADATA) {
        const struct proto_metadata_response *r = body;
        c->error = r->topics.count == 1 ? r->topics.items[0].error_code : -1;
        c->partitions = r->topics.count == 1 ? r->topics.items[0].partitions.count : -1;
    } else if (api == PROTO_API_PRODUCE) {
        const struct proto_produce_response *r = body;
        c->error = r->responses.items[0].partition_responses.items[0].error_code;
        c->offset = r->responses.items[0].partition_responses.items[0].base_offset;
    } else if (api == PROTO_API_FETCH) {
        const struct proto_fetch_response *r = body;
        const struct proto_fetch_response_partition *p = &r->responses.items[0].partitions.items[0];
        c->error = p->error_code;
        c->high_watermark = p->high_watermark;
        if (p->records.len > 0) {
            c->next_offset = client_walk_records(p->records.data, (size_t)p->records.len,
                                                 c->next_offset, count_record, c);
        }
    } else if (api == PROTO_API_OFFSET_FOR_LEADER_EPOCH) {
        const struct proto_offset_for_leader_epoch_response *r = body;
        c->error = r->topics.items[0].partitions.items[0].error_code;
        c->offset = r->topics.items[0].partitions.items[0].end_offset;
        c->partitions = r->topics.items[0].partitions.items[0].leader_epoch;
    } else if (api == PROTO_API_LIST_OFFSETS) {
        const struct proto_list_offsets_response *r = body;
        c->error = r->topics.items[0].partitions.items[0].error_code;
        c->offset = r->topics.items[0].partitions.items[0].offset;
    }
}

#define DONE_FN(name, api)                                                                     \
    static void name(void *arg, int status, const void *body) { on_done(arg, status, body, api); }
DONE_FN(done_create, PROTO_API_CREATE_TOPICS)
DONE_FN(done_metadata, PROTO_API_METADATA)
DONE_FN(done_produce, PROTO_API_PRODUCE)
DONE_FN(done_fetch, PROTO_API_FETCH)
DONE_FN(done_list, PROTO_API_LIST_OFFSETS)
DONE_FN(done_epoch, PROTO_API_OFFSET_FOR_LEADER_EPOCH)

static void send_epoch(struct client *cl, struct call *c, int32_t epoch) {
    struct proto_offset_for_leader_epoch_request_partition p = {
        .partition = 0, .current_leader_epoch = 0, .leader_epoch = epoch};
    struct proto_offset_for_leader_epoch_request_topic t = {.topic = PROTO_STR(TOPIC)};
    t.partitions.items = &p;
    t.partitions.count = 1;
    struct proto_offset_for_leader_epoch_request req = {.replica_id = -1};
    req.topics.items = &t;
    req.topics.count = 1;
    assert_int_equal(client_send(cl, PROTO_API_OFFSET_FOR_LEADER_EPOCH, 3, &req, done_epoch, c), 0);
}

static void run_until_done(struct world_state *ws, struct call *c, uint64_t limit_ns) {
    uint64_t deadline = sim_world_now_ns(ws->world) + limit_ns;
    while (!c->done && sim_world_now_ns(ws->world) < deadline) {
        if (!sim_world_step(ws->world)) break;
    }
    assert_true(c->done);
    assert_int_equal(c->status, 0);
}

static void send_create(struct client *cl, struct call *c) {
    struct proto_create_topics_request_topic t = {.name = PROTO_STR(TOPIC), .num_partitions = 1,
                                                  .replication_factor = 1};
    t.assignments.count = 0;
    t.configs.count = 0;
    struct proto_create_topics_request req = {.timeout_ms = 1000};
    req.topics.items = &t;
    req.topics.count = 1;
    assert_int_equal(client_send(cl, PROTO_API_CREATE_TOPICS, 2, &req, done_create, c), 0);
}

static void send_create_compacted(struct client *cl, struct call *c) {
    struct proto_create_topics_request_config configs[2] = {
        {.name = PROTO_STR("cleanup.policy"), .value = PROTO_STR("compact")},
        {.name = PROTO_STR("segment.bytes"), .value = PROTO_STR("1024")},
    };
    struct proto_create_topics_request_topic t = {.name = PROTO_STR(TOPIC), .num_partitions = 1,
                                                  .replication_factor = 1};
    t.assignments.count = 0;
    t.configs.items = configs;
    t.configs.count = 2;
    struct proto_create_topics_request req = {.timeout_ms = 1000};
    req.topics.items = &t;
    req.topics.count = 1;
    assert_int_equal(client_send(cl, PROTO_API_CREATE_TOPICS, 2, &req, done_create, c), 0);
}

static void send_metadata(struct client *cl, struct call *c) {
    struct proto_metadata_request_topic t = {.name = PROTO_STR(TOPIC)};
    struct proto_metadata_request req = {.allow_auto_topic_creation = false};
    req.topics.items = &t;
    req.topics.count = 1;
    assert_int_equal(client_send(cl, PROTO_API_METADATA, 4, &req, done_metadata, c), 0);
}

static int produce_key_mod; /* 0: null keys; else key "k<offset % mod>". */

static void send_produce(struct client *cl, struct call *c, int64_t first, int count) {
    static uint8_t buf[1 << 16];
    char values[16][32];
    char keys[16][16];
    struct client_record records[16];
    assert_true(count <= 16);
    for (int i = 0; i < count; i++) {
        snprintf(values[i], sizeof(values[i]), "value-%lld", (long long)(first + i));
        records[i] = (struct client_record){.key = NULL, .value = (const uint8_t *)values[i],
                                            .value_len = (int32_t)strlen(values[i]),
                                            .timestamp_ms = 1000 + first + i};
        if (produce_key_mod > 0) {
            snprintf(keys[i], sizeof(keys[i]), "k%lld", (long long)((first + i) % produce_key_mod));
            records[i].key = (const uint8_t *)keys[i];
            records[i].key_len = (int32_t)strlen(keys[i]);
        }
    }
    int64_t size = client_build_batch(buf, sizeof(buf), records, (size_t)count);
    assert_true(size > 0);
    struct proto_produce_request_partition part = {.index = 0,
                                                   .records = {.data = buf, .len = (int32_t)size}};
    struct proto_produce_request_topic topic = {.name = PROTO_STR(TOPIC)};
    topic.partition_data.items = &part;
    topic.partition_data.count = 1;
    struct proto_produce_request req = {.transactional_id = PROTO_STR_NULL, .acks = -1,
                                        .timeout_ms = 1000};
    req.topic_data.items = &topic;
    req.topic_data.count = 1;
    assert_int_equal(client_send(cl, PROTO_API_PRODUCE, 3, &req, done_produce, c), 0);
}

/* An idempotent batch of `count` records: producer (pid, epoch), first sequence `seq`. */
static void send_produce_idempotent(struct client *cl, struct call *c, int64_t pid, int16_t epoch,
                                    int32_t seq, int count) {
    static uint8_t buf[1 << 16];
    static const char value[] = "idem";
    struct batch_record_in in[16];
    assert_true(count <= 16);
    for (int i = 0; i < count; i++) {
        in[i] = (struct batch_record_in){.offset_delta = i, .timestamp = 5000, .key = NULL,
                                         .key_len = -1, .value = (const uint8_t *)value,
                                         .value_len = 4};
    }
    struct batch_build_params params = {.base_offset = 0, .partition_leader_epoch = -1,
                                        .producer_id = pid, .producer_epoch = epoch,
                                        .base_sequence = seq};
    int64_t size = batch_build(buf, sizeof(buf), &params, in, (size_t)count);
    assert_true(size > 0);
    struct proto_produce_request_partition part = {.index = 0,
                                                   .records = {.data = buf, .len = (int32_t)size}};
    struct proto_produce_request_topic topic = {.name = PROTO_STR(TOPIC)};
    topic.partition_data.items = &part;
    topic.partition_data.count = 1;
    struct proto_produce_request req = {.transactional_id = PROTO_STR_NULL, .acks = -1,
                                        .timeout_ms = 1000};
    req.topic_data.items = &topic;
    req.topic_data.count = 1;
    assert_int_equal(client_send(cl, PROTO_API_PRODUCE, 3, &req, done_produce, c), 0);
}

static void send_fetch(struct client *cl, struct call *c, int64_t offset, int32_t max_wait_ms) {
    c->next_offset = offset;
    struct proto_fetch_request_partition p = {.partition = 0, .current_leader_epoch = -1,
                                              .fetch_offset = offset, .log_start_offset = -1,
                                              .partition_max_bytes = 1 << 20};
    struct proto_fetch_request_topic t = {.topic = PROTO_STR(TOPIC)};
    t.partitions.items = &p;
    t.partitions.count = 1;
    struct proto_fetch_request req = {.replica_id = -1, .max_wait_ms = max_wait_ms,
                                      .min_bytes = 1, .max_bytes = 1 << 24,
                                      .isolation_level = 0, .session_epoch = -1,
                                      .rack_id = PROTO_STR("")};
    req.topics.items = &t;
    req.topics.count = 1;
    req.forgotten_topics_data.count = 0;
    assert_int_equal(client_send(cl, PROTO_API_FETCH, 4, &req, done_fetch, c), 0);
}

static void send_list(struct client *cl, struct call *c, int64_t timestamp) {
    struct proto_list_offsets_request_partition p = {.partition_index = 0, .timestamp = timestamp,
                                                     .max_num_offsets = 1};
    struct proto_list_offsets_request_topic t = {.name = PROTO_STR(TOPIC)};
    t.partitions.items = &p;
    t.partitions.count = 1;
    struct proto_list_offsets_request req = {.replica_id = -1};
    req.topics.items = &t;
    req.topics.count = 1;
    assert_int_equal(client_send(cl, PROTO_API_LIST_OFFSETS, 1, &req, done_list, c), 0);
}

static struct call *fresh(struct world_state *ws, struct call *c) {
    memset(c, 0, sizeof(*c));
    c->ws = ws;
    return c;
}

/* A world with the broker (configured by props) and a client node, run 10 ms so the broker
 * has started. broker_main gets ws as its node argument: it must outlive the world. */
static void world_start(struct world_state *ws, const char *props, uint64_t seed) {
    memset(ws, 0, sizeof(*ws));
    char error[BROKER_CONFIG_ERROR_MAX];
    broker_config_defaults(&ws->config);
    assert_int_equal(broker_config_parse(&ws->config, props, strlen(props), NULL, NULL, error), 0);
    ws->world = sim_world_create(seed);
    if (getenv("TRIAL_VERBOSE") != NULL) sim_world_set_verbose(ws->world, true);
    ws->broker_node = sim_node_add(ws->world, "broker", broker_main, ws);
    ws->client_node = sim_node_add(ws->world, "client", NULL, NULL);
    sim_world_run_until(ws->world, 10 * NS_PER_MS);
}

/* A clean stop that must free every byte the broker allocated, then the world. */
static void world_stop(struct world_state *ws) {
    assert_int_equal(broker_stop(ws->broker), 0);
    assert_int_equal(sim_node_live_bytes(ws->broker_node), 0);
    sim_world_destroy(ws->world);
}

static uint64_t run_scenario(uint64_t seed) {
    static struct world_state ws;
    const char *props = "listeners=PLAINTEXT://:9092\nlog.dirs=/data\n"
                        "log.flush.interval.messages=1\nauto.create.topics.enable=false\n";
    world_start(&ws, props, seed);
    assert_non_null(ws.broker);
    struct io *cio = sim_node_io(ws.client_node);
    struct client *a = client_create(cio, "broker", 9092, "a");
    struct client *b = client_create(cio, "broker", 9092, "b");
    struct call c1, c2;

    send_create(a, fresh(&ws, &c1));
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    send_create(a, fresh(&ws, &c1));
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 36); /* TOPIC_ALREADY_EXISTS */
    send_metadata(a, fresh(&ws, &c1));
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    assert_int_equal(c1.partitions, 1);

    for (int i = 0; i < 10; i++) {
        send_produce(a, fresh(&ws, &c1), i * 10, 10);
        run_until_done(&ws, &c1, NS_PER_S);
        assert_int_equal(c1.error, 0);
        assert_int_equal(c1.offset, i * 10);
    }
    send_fetch(a, fresh(&ws, &c1), 0, 0);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.records, 100);
    assert_int_equal(c1.high_watermark, 100);
    assert_int_equal(c1.next_offset, 100);

    /* Long poll at the end, completed early by a produce on another connection. */
    send_fetch(a, fresh(&ws, &c1), 100, 5000);
    uint64_t parked_at = sim_world_now_ns(ws.world);
    sim_world_run_until(ws.world, parked_at + 200 * NS_PER_MS);
    assert_false(c1.done);
    send_produce(b, fresh(&ws, &c2), 100, 5);
    run_until_done(&ws, &c2, NS_PER_S);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.records, 5);
    assert_string_equal(c1.first_value, "value-100");
    assert_true(c1.done_ns - parked_at < 1000 * NS_PER_MS);

    /* Nothing arrives: the fetch answers empty after max_wait, not before. */
    send_fetch(a, fresh(&ws, &c1), 105, 300);
    uint64_t sent_at = sim_world_now_ns(ws.world);
    run_until_done(&ws, &c1, 2 * NS_PER_S);
    assert_int_equal(c1.records, 0);
    assert_true(c1.done_ns - sent_at >= 300 * NS_PER_MS);

    /* Order on one connection: a parked fetch, then metadata; metadata may not overtake. */
    send_fetch(a, fresh(&ws, &c1), 105, 400);
    send_metadata(a, fresh(&ws, &c2));
    run_until_done(&ws, &c2, 2 * NS_PER_S);
    assert_true(c1.done);
    assert_true(c1.order < c2.order);

    send_list(a, fresh(&ws, &c1), -2);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.offset, 0);
    send_list(a, fresh(&ws, &c1), -1);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.offset, 105);
    send_list(a, fresh(&ws, &c1), 1000 + 42);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.offset, 42);
    /* OffsetForLeaderEpoch: epoch 0 is the current one, so it ends at the log end. */
    send_epoch(a, fresh(&ws, &c1), 0);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    assert_int_equal(c1.partitions, 0);
    assert_int_equal(c1.offset, 105);

    /* Crash the broker node: with flush every message, all 105 acked records survive. */
    client_destroy(a);
    client_destroy(b);
    sim_node_crash(ws.broker_node);
    ws.broker = NULL;
    sim_node_restart(ws.broker_node);
    sim_world_run_until(ws.world, sim_world_now_ns(ws.world) + 100 * NS_PER_MS);
    assert_non_null(ws.broker);
    a = client_create(cio, "broker", 9092, "a2");
    send_fetch(a, fresh(&ws, &c1), 0, 0);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    assert_int_equal(c1.records, 105);
    client_destroy(a);
    assert_int_equal(sim_node_live_bytes(ws.client_node), 0);

    /* A clean stop frees every byte the broker allocated. */
    struct io *bio = sim_node_io(ws.broker_node);
    (void)bio;
    assert_int_equal(broker_stop(ws.broker), 0);
    sim_world_run_until(ws.world, sim_world_now_ns(ws.world) + 10 * NS_PER_MS);
    assert_int_equal(sim_node_live_bytes(ws.broker_node), 0);
    uint64_t hash = sim_world_trace_hash(ws.world);
    sim_world_destroy(ws.world);
    return hash;
}

/* Errors clients must see, and retention driven by the broker's housekeeping timer. */
static void test_broker_errors_and_retention(void **state) {
    static struct world_state ws;
    const char *props = "listeners=PLAINTEXT://:9092\nlog.dirs=/data\nlog.segment.bytes=1024\n"
                        "log.retention.ms=60000\nlog.retention.check.interval.ms=1000\n"
                        "auto.create.topics.enable=false\n";
    world_start(&ws, props, 7);
    struct client *a = client_create(sim_node_io(ws.client_node), "broker", 9092, "a");
    struct call c1;
    /* Unknown topic: no auto-creation here. */
    send_produce(a, fresh(&ws, &c1), 0, 1);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 3); /* UNKNOWN_TOPIC_OR_PARTITION */
    send_create(a, fresh(&ws, &c1));
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    /* Records stamped in 1970: older than retention.ms as soon as their segment rolls. */
    for (int i = 0; i < 20; i++) {
        send_produce(a, fresh(&ws, &c1), i * 10, 10);
        run_until_done(&ws, &c1, NS_PER_S);
        assert_int_equal(c1.error, 0);
    }
    send_fetch(a, fresh(&ws, &c1), 500, 0);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 1); /* OFFSET_OUT_OF_RANGE beyond the end */
    send_list(a, fresh(&ws, &c1), -2);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.offset, 0);
    sim_world_run_until(ws.world, sim_world_now_ns(ws.world) + 3 * NS_PER_S);
    send_list(a, fresh(&ws, &c1), -2);
    run_until_done(&ws, &c1, NS_PER_S);
    int64_t start = c1.offset;
    assert_true(start > 0 && start < 200); /* Old segments gone; the active one stays. */
    send_fetch(a, fresh(&ws, &c1), 0, 0);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 1); /* Below the new log start. */
    send_fetch(a, fresh(&ws, &c1), start, 0);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    assert_int_equal(c1.records, 200 - start);
    client_destroy(a);
    world_stop(&ws);
}

/* KIP-98 dedupe: retries answer the original offsets, gaps and fenced epochs are refused,
 * and the state is rebuilt from the log after a crash. */
static void test_broker_idempotence(void **state) {
    static struct world_state ws;
    const char *props = "listeners=PLAINTEXT://:9092\nlog.dirs=/data\n"
                        "log.flush.interval.messages=1\n";
    world_start(&ws, props, 11);
    struct client *a = client_create(sim_node_io(ws.client_node), "broker", 9092, "a");
    struct call c1;
    send_create(a, fresh(&ws, &c1));
    run_until_done(&ws, &c1, NS_PER_S);
    const int64_t pid = 4242;
    send_produce_idempotent(a, fresh(&ws, &c1), pid, 0, 0, 5);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    assert_int_equal(c1.offset, 0);
    send_produce_idempotent(a, fresh(&ws, &c1), pid, 0, 5, 5);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.offset, 5);
    /* A retry of the first batch: same offsets, nothing appended. */
    send_produce_idempotent(a, fresh(&ws, &c1), pid, 0, 0, 5);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    assert_int_equal(c1.offset, 0);
    send_list(a, fresh(&ws, &c1), -1);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.offset, 10);
    /* A gap, an unknown producer not at 0, a fenced epoch. */
    send_produce_idempotent(a, fresh(&ws, &c1), pid, 0, 20, 1);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 45); /* OUT_OF_ORDER_SEQUENCE_NUMBER */
    send_produce_idempotent(a, fresh(&ws, &c1), 777, 0, 3, 1);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 59); /* UNKNOWN_PRODUCER_ID */
    send_produce_idempotent(a, fresh(&ws, &c1), pid, 1, 0, 1);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    assert_int_equal(c1.offset, 10);
    send_produce_idempotent(a, fresh(&ws, &c1), pid, 0, 10, 1);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 47); /* INVALID_PRODUCER_EPOCH */
    /* After a crash the state comes back from the log: the last batch is still a retry. */
    client_destroy(a);
    sim_node_crash(ws.broker_node);
    ws.broker = NULL;
    sim_node_restart(ws.broker_node);
    sim_world_run_until(ws.world, sim_world_now_ns(ws.world) + 100 * NS_PER_MS);
    assert_non_null(ws.broker);
    a = client_create(sim_node_io(ws.client_node), "broker", 9092, "a2");
    send_produce_idempotent(a, fresh(&ws, &c1), pid, 1, 0, 1);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    assert_int_equal(c1.offset, 10);
    send_produce_idempotent(a, fresh(&ws, &c1), pid, 1, 1, 2);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.offset, 11);
    client_destroy(a);
    world_stop(&ws);
}

/* cleanup.policy=compact: the housekeeping pass compacts closed segments below the HW. */
static void test_broker_compaction(void **state) {
    static struct world_state ws;
    const char *props = "listeners=PLAINTEXT://:9092\nlog.dirs=/data\n"
                        "log.retention.check.interval.ms=1000\n";
    world_start(&ws, props, 13);
    struct client *a = client_create(sim_node_io(ws.client_node), "broker", 9092, "a");
    struct call c1;
    send_create_compacted(a, fresh(&ws, &c1));
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.error, 0);
    produce_key_mod = 5;
    for (int i = 0; i < 20; i++) {
        send_produce(a, fresh(&ws, &c1), i * 10, 10);
        run_until_done(&ws, &c1, NS_PER_S);
        assert_int_equal(c1.error, 0);
    }
    produce_key_mod = 0;
    send_fetch(a, fresh(&ws, &c1), 0, 0);
    run_until_done(&ws, &c1, NS_PER_S);
    assert_int_equal(c1.records, 200); /* Nothing compacted yet. */
    sim_world_run_until(ws.world, sim_world_now_ns(ws.world) + 3 * NS_PER_S);
    send_fetch(a, fresh(&ws, &c1), 0, 0);
    run_until_done(&ws, &c1, NS_PER_S);
    /* Offsets kept (values name their offset, checked per record); older duplicates of
     * the 5 keys are gone from the closed segments, the active segment is untouched. */
    assert_int_equal(c1.error, 0);
    assert_true(c1.records < 200);
    assert_true(c1.records >= 5);
    client_destroy(a);
    world_stop(&ws);
}

static void test_broker_in_sim(void **state) {
    uint64_t first = run_scenario(42);
    uint64_t second = run_scenario(42);
    assert_true(first == second);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_in_sim),
        cmocka_unit_test(test_broker_errors_and_retention),
        cmocka_unit_test(test_broker_idempotence),
        cmocka_unit_test(test_broker_compaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
