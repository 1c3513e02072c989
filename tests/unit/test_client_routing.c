/*
 * test_client_routing.c — the clients route by partition leader (system/client/cluster.h),
 * against two fake brokers in the simulated world (broker/connection.h + the codec; they
 * answer Metadata, Produce, ListOffsets and Fetch from a table the test controls).
 *
 * Proves:
 *  - bootstrap lists parse (spaces, default port, bad ports, too many entries);
 *  - a producer bootstrapped on node 1 alone learns node 2 from Metadata and sends
 *    partition 1's batches to node 2 (its leader) and partition 0's to node 1, never the
 *    other way round; every record is acked once, offsets consecutive;
 *  - when node 2 answers NOT_LEADER_OR_FOLLOWER and Metadata moves the leadership to node 1,
 *    the refused records are retried on node 1 and acked exactly once (each appended once);
 *  - when the leader's connection dies with records in flight, they are retried on the
 *    leader fresh Metadata names and acked; a first bootstrap entry nobody listens on is
 *    skipped;
 *  - result semantics: a record whose request was sent and never answered ends UNKNOWN, a
 *    record never sent (its partition has no leader) ends FAILED;
 *  - the assign-mode consumer fetches each partition from its leader (no Fetch for a
 *    partition reaches a broker that does not lead it) and, after NOT_LEADER_OR_FOLLOWER
 *    and a leadership move, continues from the same position on the new leader: every
 *    record read once, in order;
 *  - destroying the producer or the consumer frees every byte the client node allocated
 *    (connections, metadata, batches).
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
#include "broker/connection.h"
#include "client/client.h"
#include "client/cluster.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "proto/proto.h"
#include "sim/sim.h"

#define RECORDS_MAX    256
#define PARTITIONS     2
#define BROKERS        2
#define LOG_MAX        512
#define ERR_NOT_LEADER 6

/* --- The fake cluster --------------------------------------------------------------------- */

struct world;

struct fake_broker {
    struct world *w;
    int32_t node_id; /* 1 or 2; host "b<id>", port 9092. */
    struct io *io;
    struct io_listener *listener;
};

struct world {
    struct sim_world *sim;
    struct sim_node *nodes[BROKERS];
    struct sim_node *client_node;
    struct fake_broker brokers[BROKERS];
    /* The cluster as Metadata describes it. */
    int32_t leader[PARTITIONS]; /* -1: leaderless. */
    /* Behaviour switches. */
    bool refuse_moves;  /* A Produce for a partition node 2 leads: answer 6, move it to 1. */
    bool swallow;       /* Node 2 never answers Produce. */
    int32_t crash_after; /* Node 2 crashes once it has answered this many Produce (-1 never). */
    bool refuse_fetch_moves; /* A Fetch to node 2: answer 6 and move its partitions to 1. */
    /* What the brokers saw. */
    int produce_parts[BROKERS + 1][PARTITIONS]; /* Produce partition entries by node. */
    int fetch_parts[BROKERS + 1][PARTITIONS];
    int produce_answered[BROKERS + 1];
    int refused[BROKERS + 1]; /* Partition answers NOT_LEADER_OR_FOLLOWER, by node. */
    int appended[RECORDS_MAX]; /* Times record i was appended by a leader. */
    /* Each partition's log: record values, shared by both brokers (as if replicated). */
    int log[PARTITIONS][LOG_MAX];
    int64_t log_end[PARTITIONS];
    /* Producer results. */
    int results[RECORDS_MAX];
    enum producer_status status[RECORDS_MAX];
    int64_t offset[RECORDS_MAX];
    int32_t result_partition[RECORDS_MAX];
    /* Consumer reads. */
    int read_count[PARTITIONS];
    int64_t read_next[PARTITIONS];
    bool read_out_of_order;
};

static int record_index(const uint8_t *value, int32_t len) {
    char buf[16];
    assert_true(len > 1 && len < (int32_t)sizeof(buf) && value[0] == 'v');
    memcpy(buf, value + 1, (size_t)len - 1);
    buf[len - 1] = '\0';
    int i = atoi(buf);
    assert_true(i >= 0 && i < RECORDS_MAX);
    return i;
}

struct append_ctx {
    struct world *w;
    int32_t partition;
};

static bool append_record(void *arg, int64_t offset, int64_t ts, const uint8_t *key,
                          int32_t key_len, const uint8_t *value, int32_t value_len) {
    struct append_ctx *a = arg;
    (void)offset, (void)ts, (void)key, (void)key_len;
    int i = record_index(value, value_len);
    a->w->appended[i]++;
    assert_true(a->w->log_end[a->partition] < LOG_MAX);
    a->w->log[a->partition][a->w->log_end[a->partition]++] = i;
    return true;
}

static void respond(struct fake_broker *fb, struct broker_conn *conn, uint32_t slot,
                    const struct proto_request_header *h, const void *body) {
    struct proto_writer out;
    proto_writer_init(&out, fb->io, 1u << 20);
    struct proto_response_header rh = {.correlation_id = h->correlation_id};
    assert_int_equal(proto_response_encode(&out, h->api_key, h->api_version, &rh, body), 0);
    assert_int_equal(broker_conn_respond(conn, slot, out.buf, out.len, NULL, 0), 0);
    proto_writer_destroy(&out);
}

static void answer_metadata(struct fake_broker *fb, struct broker_conn *conn, uint32_t slot,
                            const struct proto_request_header *h,
                            const struct proto_metadata_request *req) {
    struct world *w = fb->w;
    struct proto_metadata_response_broker bs[BROKERS] = {
        {.node_id = 1, .host = PROTO_STR("b1"), .port = 9092, .rack = PROTO_STR_NULL},
        {.node_id = 2, .host = PROTO_STR("b2"), .port = 9092, .rack = PROTO_STR_NULL}};
    int32_t ids[PARTITIONS];
    struct proto_metadata_response_partition ps[PARTITIONS];
    for (int32_t p = 0; p < PARTITIONS; p++) {
        ids[p] = w->leader[p];
        ps[p] = (struct proto_metadata_response_partition){
            .error_code = w->leader[p] < 0 ? 5 : 0, .partition_index = p,
            .leader_id = w->leader[p]};
        ps[p].replica_nodes.items = &ids[p];
        ps[p].replica_nodes.count = w->leader[p] < 0 ? 0 : 1;
        ps[p].isr_nodes.items = ps[p].replica_nodes.items;
        ps[p].isr_nodes.count = ps[p].replica_nodes.count;
        ps[p].offline_replicas.count = 0;
    }
    struct proto_metadata_response_topic t = {.name = PROTO_STR("t")};
    t.partitions.items = ps;
    t.partitions.count = PARTITIONS;
    struct proto_metadata_response r = {.cluster_id = PROTO_STR("fake"), .controller_id = 1};
    r.brokers.items = bs;
    r.brokers.count = BROKERS;
    bool wants_t = false;
    for (int32_t i = 0; i < req->topics.count; i++)
        wants_t = wants_t || proto_string_eq(req->topics.items[i].name, "t");
    r.topics.items = &t;
    r.topics.count = wants_t ? 1 : 0;
    respond(fb, conn, slot, h, &r);
}

/* Node 2's refusals move the partition to node 1: the "controller" elected a new leader. */
static bool refuses(struct fake_broker *fb, int32_t partition, bool moves) {
    if (fb->w->leader[partition] != fb->node_id) return true;
    if (moves && fb->node_id == 2) {
        fb->w->leader[partition] = 1;
        return true;
    }
    return false;
}

static void answer_produce(struct fake_broker *fb, struct broker_conn *conn, uint32_t slot,
                           const struct proto_request_header *h,
                           const struct proto_produce_request *req) {
    struct world *w = fb->w;
    assert_int_equal(req->topic_data.count, 1);
    const struct proto_produce_request_topic *t = &req->topic_data.items[0];
    if (w->swallow && fb->node_id == 2) {
        /* Taken, never answered (nor appended): the slot stays open. */
        for (int32_t j = 0; j < t->partition_data.count; j++)
            w->produce_parts[2][t->partition_data.items[j].index]++;
        return;
    }
    struct proto_produce_response_partition ps[PARTITIONS];
    assert_true(t->partition_data.count <= PARTITIONS);
    for (int32_t j = 0; j < t->partition_data.count; j++) {
        const struct proto_produce_request_partition *pp = &t->partition_data.items[j];
        assert_true(pp->index >= 0 && pp->index < PARTITIONS);
        w->produce_parts[fb->node_id][pp->index]++;
        ps[j] = (struct proto_produce_response_partition){.index = pp->index,
                                                          .log_append_time_ms = -1,
                                                          .log_start_offset = 0};
        if (refuses(fb, pp->index, w->refuse_moves)) {
            w->refused[fb->node_id]++;
            ps[j].error_code = ERR_NOT_LEADER;
            ps[j].base_offset = -1;
            continue;
        }
        ps[j].base_offset = w->log_end[pp->index];
        struct append_ctx a = {.w = w, .partition = pp->index};
        (void)client_walk_records(pp->records.data, (size_t)pp->records.len, 0, append_record,
                                  &a);
    }
    struct proto_produce_response_topic rt = {.name = t->name};
    rt.partition_responses.items = ps;
    rt.partition_responses.count = t->partition_data.count;
    struct proto_produce_response r = {0};
    r.responses.items = &rt;
    r.responses.count = 1;
    w->produce_answered[fb->node_id]++;
    respond(fb, conn, slot, h, &r);
}

static void answer_list_offsets(struct fake_broker *fb, struct broker_conn *conn, uint32_t slot,
                                const struct proto_request_header *h,
                                const struct proto_list_offsets_request *req) {
    assert_int_equal(req->topics.count, 1);
    const struct proto_list_offsets_request_topic *t = &req->topics.items[0];
    struct proto_list_offsets_response_partition ps[PARTITIONS];
    assert_true(t->partitions.count <= PARTITIONS);
    for (int32_t j = 0; j < t->partitions.count; j++) {
        int32_t p = t->partitions.items[j].partition_index;
        bool led = fb->w->leader[p] == fb->node_id;
        int64_t ts = t->partitions.items[j].timestamp;
        ps[j] = (struct proto_list_offsets_response_partition){
            .partition_index = p, .error_code = led ? 0 : ERR_NOT_LEADER, .timestamp = -1,
            .offset = led ? (ts == -2 ? 0 : fb->w->log_end[p]) : -1, .leader_epoch = -1};
        ps[j].old_style_offsets.count = 0;
    }
    struct proto_list_offsets_response_topic rt = {.name = t->name};
    rt.partitions.items = ps;
    rt.partitions.count = t->partitions.count;
    struct proto_list_offsets_response r = {0};
    r.topics.items = &rt;
    r.topics.count = 1;
    respond(fb, conn, slot, h, &r);
}

static void answer_fetch(struct fake_broker *fb, struct broker_conn *conn, uint32_t slot,
                         const struct proto_request_header *h,
                         const struct proto_fetch_request *req) {
    struct world *w = fb->w;
    assert_int_equal(req->topics.count, 1);
    const struct proto_fetch_request_topic *t = &req->topics.items[0];
    struct proto_fetch_response_partition ps[PARTITIONS];
    uint8_t bufs[PARTITIONS][4096];
    assert_true(t->partitions.count <= PARTITIONS);
    for (int32_t j = 0; j < t->partitions.count; j++) {
        const struct proto_fetch_request_partition *fp = &t->partitions.items[j];
        int32_t p = fp->partition;
        assert_true(p >= 0 && p < PARTITIONS);
        w->fetch_parts[fb->node_id][p]++;
        ps[j] = (struct proto_fetch_response_partition){
            .partition_index = p, .high_watermark = w->log_end[p],
            .last_stable_offset = w->log_end[p], .log_start_offset = 0,
            .preferred_read_replica = -1};
        ps[j].aborted_transactions.count = -1;
        if (refuses(fb, p, w->refuse_fetch_moves)) {
            w->refused[fb->node_id]++;
            ps[j].error_code = ERR_NOT_LEADER;
            ps[j].high_watermark = -1;
            continue;
        }
        /* Up to 4 records from the position: one batch whose base offset is the position. */
        int64_t from = fp->fetch_offset;
        int64_t n = MIN(w->log_end[p] - from, 4);
        if (n <= 0) continue;
        struct client_record rs[4];
        char values[4][16];
        for (int64_t k = 0; k < n; k++) {
            snprintf(values[k], sizeof(values[k]), "v%d", w->log[p][from + k]);
            rs[k] = (struct client_record){.value = (const uint8_t *)values[k],
                                           .value_len = (int32_t)strlen(values[k])};
        }
        int64_t size = client_build_batch(bufs[j], sizeof(bufs[j]), rs, (size_t)n);
        assert_true(size > 0);
        /* The base offset is the first 8 bytes, big-endian (client_build_batch wrote 0). */
        for (int b = 0; b < 8; b++)
            bufs[j][b] = (uint8_t)((uint64_t)from >> (56 - 8 * b));
        ps[j].records = (struct proto_bytes){.data = bufs[j], .len = (int32_t)size};
    }
    struct proto_fetch_response_topic rt = {.topic = t->topic};
    rt.partitions.items = ps;
    rt.partitions.count = t->partitions.count;
    struct proto_fetch_response r = {0};
    r.responses.items = &rt;
    r.responses.count = 1;
    respond(fb, conn, slot, h, &r);
}

static int on_request(void *arg, struct broker_conn *conn, uint32_t slot, uint8_t *payload,
                      size_t len) {
    struct fake_broker *fb = arg;
    struct proto_arena arena;
    proto_arena_init(&arena, fb->io, 8u << 20);
    struct proto_request_header h;
    void *body = NULL;
    int rc = proto_request_decode(&arena, payload, len, &h, &body);
    assert_int_equal(rc, 0);
    switch (h.api_key) {
    case PROTO_API_METADATA: answer_metadata(fb, conn, slot, &h, body); break;
    case PROTO_API_PRODUCE: answer_produce(fb, conn, slot, &h, body); break;
    case PROTO_API_LIST_OFFSETS: answer_list_offsets(fb, conn, slot, &h, body); break;
    case PROTO_API_FETCH: answer_fetch(fb, conn, slot, &h, body); break;
    default: fail_msg("unexpected api %d", h.api_key);
    }
    proto_arena_destroy(&arena);
    return 0;
}

static void on_close(void *arg, struct broker_conn *conn, int reason) {
    (void)arg, (void)conn, (void)reason;
}

static void on_accept(void *arg, struct io_stream *stream) {
    struct fake_broker *fb = arg;
    struct broker_conn_limits limits = {.max_frame_bytes = 1u << 20, .max_inflight = 64,
                                        .max_output_bytes = 1u << 20, .idle_ms = 600000};
    (void)broker_conn_create(fb->io, stream, &limits, on_request, on_close, fb);
}

static void broker_main(struct io *io, void *arg) {
    struct fake_broker *fb = arg;
    fb->io = io;
    assert_int_equal(io_listen(io, "0.0.0.0", 9092, on_accept, fb, &fb->listener), 0);
}

static void world_start(struct world *w, uint64_t seed) {
    memset(w, 0, sizeof(*w));
    w->crash_after = -1;
    w->leader[0] = 1;
    w->leader[1] = 2;
    w->sim = sim_world_create(seed);
    for (int i = 0; i < BROKERS; i++) {
        char name[8];
        snprintf(name, sizeof(name), "b%d", i + 1);
        w->brokers[i] = (struct fake_broker){.w = w, .node_id = i + 1};
        w->nodes[i] = sim_node_add(w->sim, name, broker_main, &w->brokers[i]);
    }
    w->client_node = sim_node_add(w->sim, "c", NULL, NULL);
    sim_world_run_until(w->sim, NS_PER_MS);
}

static void run_ms(struct world *w, uint64_t ms) {
    sim_world_run_until(w->sim, sim_world_now_ns(w->sim) + ms * NS_PER_MS);
}

/* --- Producer ----------------------------------------------------------------------------- */

static void on_result(void *arg, uint64_t token, enum producer_status status, int32_t partition,
                      int64_t offset, int16_t error) {
    struct world *w = arg;
    (void)error;
    assert_true(token < RECORDS_MAX);
    w->results[token]++;
    w->status[token] = status;
    w->offset[token] = offset;
    w->result_partition[token] = partition;
}

static struct producer *make_producer(struct world *w, const char *bootstrap) {
    struct producer_config pc;
    producer_config_defaults(&pc);
    pc.bootstrap = bootstrap;
    pc.topic = "t";
    pc.linger_ms = 1;
    pc.request_timeout_ms = 500;
    pc.delivery_timeout_ms = 5000;
    pc.retry_backoff_ms = 50;
    pc.metadata_refresh_ms = 20;
    pc.on_result = on_result;
    pc.arg = w;
    struct producer *p = NULL;
    assert_int_equal(producer_create(sim_node_io(w->client_node), &pc, &p), 0);
    for (int i = 0; i < 500 && producer_partition_count(p) == 0; i++)
        run_ms(w, 1);
    assert_int_equal(producer_partition_count(p), PARTITIONS);
    return p;
}

/* Records first..first+n-1 ("v<i>") alternate between the two partitions. */
static void send_range(struct producer *p, int first, int n) {
    for (int i = first; i < first + n; i++) {
        char value[16];
        snprintf(value, sizeof(value), "v%d", i);
        assert_int_equal(producer_send(p, NULL, -1, (const uint8_t *)value,
                                       (int32_t)strlen(value), i % PARTITIONS, (uint64_t)i, NULL),
                         0);
    }
}

static void run_until_resolved(struct world *w, struct producer *p) {
    for (int i = 0; i < 20000 && producer_outstanding(p) > 0; i++)
        run_ms(w, 1);
    assert_int_equal(producer_outstanding(p), 0);
}

/* Every record acked exactly once, appended exactly once, and each partition's offsets are
 * the records' places in its log. */
static void assert_acked_once(struct world *w, int n) {
    for (int i = 0; i < n; i++) {
        assert_int_equal(w->results[i], 1);
        assert_int_equal(w->status[i], PRODUCER_OK);
        assert_int_equal(w->appended[i], 1);
        assert_int_equal(w->result_partition[i], i % PARTITIONS);
        int32_t p = i % PARTITIONS;
        assert_true(w->offset[i] >= 0 && w->offset[i] < w->log_end[p]);
        assert_int_equal(w->log[p][w->offset[i]], i);
    }
}

static void test_parse_bootstrap(void **state) {
    (void)state;
    struct cluster_endpoint eps[3];
    assert_int_equal(cluster_parse_bootstrap("a:1, b ,c:65535", eps, 3), 3);
    assert_string_equal(eps[0].host, "a");
    assert_int_equal(eps[0].port, 1);
    assert_string_equal(eps[1].host, "b");
    assert_int_equal(eps[1].port, 9092);
    assert_int_equal(eps[2].port, 65535);
    assert_int_equal(cluster_parse_bootstrap("a:1,b:2,c:3,d:4", eps, 3), -E2BIG);
    assert_int_equal(cluster_parse_bootstrap("a:0", eps, 3), -EINVAL);
    assert_int_equal(cluster_parse_bootstrap("a:65536", eps, 3), -EINVAL);
    assert_int_equal(cluster_parse_bootstrap("a:x1", eps, 3), -EINVAL);
    assert_int_equal(cluster_parse_bootstrap("a:1,,b:2", eps, 3), -EINVAL);
    assert_int_equal(cluster_parse_bootstrap("", eps, 3), -EINVAL);
    assert_int_equal(cluster_parse_bootstrap(":9092", eps, 3), -EINVAL);
}

static void test_produce_goes_to_leaders(void **state) {
    (void)state;
    struct world w;
    world_start(&w, 1);
    struct producer *p = make_producer(&w, "b1:9092"); /* Node 2 only through Metadata. */
    send_range(p, 0, 40);
    run_until_resolved(&w, p);
    assert_acked_once(&w, 40);
    assert_true(w.produce_parts[1][0] > 0 && w.produce_parts[2][1] > 0);
    assert_int_equal(w.produce_parts[1][1], 0); /* Partition 1 never to node 1... */
    assert_int_equal(w.produce_parts[2][0], 0); /* ...nor partition 0 to node 2. */
    producer_destroy(p);
    assert_int_equal(sim_node_live_allocs(w.client_node), 0); /* Everything freed. */
    sim_world_destroy(w.sim);
}

static void test_not_leader_moves_and_retries(void **state) {
    (void)state;
    struct world w;
    world_start(&w, 2);
    struct producer *p = make_producer(&w, "b1:9092,b2:9092");
    send_range(p, 0, 20);
    run_until_resolved(&w, p);
    assert_acked_once(&w, 20);
    assert_int_equal(w.produce_parts[1][1], 0);
    run_ms(&w, 200); /* The producer's metadata has long settled. */
    /* Node 2 stops leading partition 1: it refuses with NOT_LEADER_OR_FOLLOWER and the
     * metadata now names node 1. */
    w.refuse_moves = true;
    send_range(p, 20, 40);
    run_until_resolved(&w, p);
    assert_acked_once(&w, 60);
    assert_int_equal(w.leader[1], 1);
    assert_true(w.refused[2] > 0);          /* Node 2 did refuse some... */
    assert_true(w.produce_parts[1][1] > 0); /* ...and the retries went to the new leader. */
    producer_destroy(p);
    assert_int_equal(sim_node_live_allocs(w.client_node), 0); /* Everything freed. */
    sim_world_destroy(w.sim);
}

static void test_leader_crash_retries_elsewhere(void **state) {
    (void)state;
    struct world w;
    world_start(&w, 3);
    /* The first bootstrap entry has no listener: skipped. */
    struct producer *p = make_producer(&w, "nobody:9092,b1:9092");
    w.swallow = true; /* Node 2 takes the requests and never answers... */
    send_range(p, 0, 20);
    run_ms(&w, 20);
    assert_true(w.produce_parts[2][1] > 0);
    /* ...then crashes, and the controller moves partition 1 to node 1. */
    sim_node_crash(w.nodes[1]);
    w.leader[1] = 1;
    run_until_resolved(&w, p);
    assert_acked_once(&w, 20);
    producer_destroy(p);
    assert_int_equal(sim_node_live_allocs(w.client_node), 0); /* Everything freed. */
    sim_world_destroy(w.sim);
}

static void test_unknown_versus_failed(void **state) {
    (void)state;
    struct world w;
    world_start(&w, 4);
    w.leader[0] = -1; /* Partition 0 has no leader: its records are never sent. */
    struct producer *p = make_producer(&w, "b1:9092");
    w.swallow = true; /* Partition 1's requests go out and are never answered. */
    send_range(p, 0, 10);
    run_until_resolved(&w, p);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(w.results[i], 1);
        assert_int_equal(w.status[i], i % 2 == 1 ? PRODUCER_UNKNOWN : PRODUCER_FAILED);
        assert_int_equal(w.appended[i], 0);
    }
    assert_int_equal(w.produce_parts[1][0] + w.produce_parts[2][0], 0);
    producer_destroy(p);
    assert_int_equal(sim_node_live_allocs(w.client_node), 0); /* Everything freed. */
    sim_world_destroy(w.sim);
}

/* --- Consumer ----------------------------------------------------------------------------- */

static void on_poll(void *arg, int status, const struct consumer_record *records, size_t count,
                    int16_t error, uint32_t generation) {
    struct world *w = arg;
    (void)status, (void)error, (void)generation;
    for (size_t i = 0; i < count; i++) {
        int32_t p = records[i].partition;
        assert_true(p >= 0 && p < PARTITIONS);
        if (records[i].offset != w->read_next[p]) w->read_out_of_order = true;
        int idx = record_index(records[i].value, records[i].value_len);
        assert_int_equal(w->log[p][records[i].offset], idx);
        w->read_next[p] = records[i].offset + 1;
        w->read_count[p]++;
    }
}

static void test_consumer_fetches_from_leaders(void **state) {
    (void)state;
    struct world w;
    world_start(&w, 5);
    for (int i = 0; i < 12; i++)
        w.log[0][w.log_end[0]++] = 100 + i;
    for (int i = 0; i < 6; i++)
        w.log[1][w.log_end[1]++] = 120 + i;
    struct consumer_config cc;
    consumer_config_defaults(&cc);
    cc.bootstrap = "b2:9092";
    cc.topic = "t";
    int32_t parts[PARTITIONS] = {0, 1};
    cc.partitions = parts;
    cc.partition_count = PARTITIONS;
    cc.fetch_max_wait_ms = 10;
    cc.retry_backoff_ms = 20;
    cc.metadata_refresh_ms = 20;
    cc.on_poll = on_poll;
    cc.arg = &w;
    struct consumer *c = NULL;
    assert_int_equal(consumer_create(sim_node_io(w.client_node), &cc, &c), 0);
    for (int i = 0; i < 5000 && !(w.read_count[0] == 12 && w.read_count[1] == 6); i++)
        run_ms(&w, 1);
    assert_int_equal(w.read_count[1], 6);
    run_ms(&w, 200); /* Caught up; the consumer's metadata has long settled. */
    /* Node 2 gives partition 1 up (the controller moves it to node 1) and 6 more records
     * arrive: only a metadata refresh after NOT_LEADER_OR_FOLLOWER finds them. */
    w.refuse_fetch_moves = true;
    for (int i = 6; i < 12; i++)
        w.log[1][w.log_end[1]++] = 120 + i;
    for (int i = 0; i < 5000 && w.read_count[1] < 12; i++)
        run_ms(&w, 1);
    assert_int_equal(w.read_count[0], 12);
    assert_int_equal(w.read_count[1], 12); /* Each record once: same position, new leader. */
    assert_false(w.read_out_of_order);
    assert_int_equal(w.leader[1], 1);
    assert_int_equal(w.fetch_parts[2][0], 0); /* Node 2 never led partition 0. */
    assert_true(w.fetch_parts[2][1] > 0 && w.fetch_parts[1][1] > 0);
    assert_true(w.refused[2] > 0); /* The move was seen as NOT_LEADER_OR_FOLLOWER. */
    consumer_destroy(c);
    assert_int_equal(sim_node_live_allocs(w.client_node), 0);
    sim_world_destroy(w.sim);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_bootstrap),
        cmocka_unit_test(test_produce_goes_to_leaders),
        cmocka_unit_test(test_not_leader_moves_and_retries),
        cmocka_unit_test(test_leader_crash_retries_elsewhere),
        cmocka_unit_test(test_unknown_versus_failed),
        cmocka_unit_test(test_consumer_fetches_from_leaders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
