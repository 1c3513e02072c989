/*
 * test_producer.c — system/client/producer and consumer against the real broker in the
 * simulated world. Proves: murmur2 equals Kafka's (the test vectors of Kafka's UtilsTest,
 * also what kafka-python computes), keyed records land on (murmur2 & 0x7fffffff) % n;
 * the accumulator batches by linger.ms (records sent together become one batch) and by
 * batch.size (a tiny batch.size gives one record per batch); null keys stick to one
 * partition per batch; acks=all results carry consecutive offsets; a broker crash makes
 * in-flight records come back retried (acked once each, no record lost or duplicated with
 * idempotence); the assign-mode consumer reads every record back in order; a client
 * destroyed while connecting is freed once, by the late connect callback.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "client/client.h"
#include "client/consumer.h"
#include "client/producer.h"
#include "proto/proto.h"
#include "sim/sim.h"

#define NS_PER_MS   1000000ULL
#define RECORDS_MAX 512

static void test_murmur2_vectors(void **state) {
    (void)state;
    static const struct {
        const char *key;
        int32_t hash;
    } v[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
        {"", 275646681},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        int32_t len = (int32_t)strlen(v[i].key);
        assert_int_equal(producer_murmur2((const uint8_t *)v[i].key, len), v[i].hash);
        int32_t expect = (int32_t)(((uint32_t)v[i].hash & 0x7fffffffu) % 7u);
        assert_int_equal(producer_key_partition((const uint8_t *)v[i].key, len, 7), expect);
    }
}

/* --- A broker and one client node ----------------------------------------------------------- */

struct rec {
    bool done;
    enum producer_status status;
    int32_t partition;
    int64_t offset;
    int results;
};

struct world {
    struct sim_world *w;
    struct sim_node *broker_node;
    struct sim_node *client_node;
    struct broker_config config;
    struct broker *broker;
    struct rec recs[RECORDS_MAX];
    /* Log appends seen in the trace: records per batch, per partition. */
    int batches;
    int batch_records[RECORDS_MAX];
    int batch_partition[RECORDS_MAX];
    /* Consumer. */
    int64_t read_offsets[RECORDS_MAX];
    char read_values[RECORDS_MAX][16];
    int reads;
};

static void broker_main(struct io *io, void *arg) {
    struct world *ws = arg;
    assert_int_equal(broker_start(io, &ws->config, &ws->broker), 0);
}

static void on_trace(void *arg, struct sim_node *node, uint64_t now, const char *event,
                     const struct io_trace_field *f, size_t n) {
    struct world *ws = arg;
    if (strcmp(event, "log_append") != 0 || ws->batches == RECORDS_MAX) return;
    int64_t base = -1, last = -1, partition = -1;
    const char *topic = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].key, "base_offset") == 0) base = f[i].i;
        if (strcmp(f[i].key, "last_offset") == 0) last = f[i].i;
        if (strcmp(f[i].key, "partition") == 0) partition = f[i].i;
        if (strcmp(f[i].key, "topic") == 0) topic = f[i].s;
    }
    if (topic == NULL || strcmp(topic, "t") != 0) return;
    ws->batch_records[ws->batches] = (int)(last - base + 1);
    ws->batch_partition[ws->batches] = (int)partition;
    ws->batches++;
}

static void on_result(void *arg, uint64_t token, enum producer_status status, int32_t partition,
                      int64_t offset, int16_t error) {
    struct world *ws = arg;
    assert_true(token < RECORDS_MAX);
    struct rec *r = &ws->recs[token];
    r->done = true;
    r->status = status;
    r->partition = partition;
    r->offset = offset;
    r->results++;
}

static void world_start(struct world *ws, uint64_t seed, int partitions) {
    memset(ws, 0, sizeof(*ws));
    char error[BROKER_CONFIG_ERROR_MAX];
    char props[512];
    snprintf(props, sizeof(props),
             "listeners=PLAINTEXT://:9092\nadvertised.listeners=PLAINTEXT://n1:9092\n"
             "log.dirs=/data\nlog.flush.interval.messages=1\n"
             "num.partitions=%d\n",
             partitions);
    broker_config_defaults(&ws->config);
    assert_int_equal(broker_config_parse(&ws->config, props, strlen(props), NULL, NULL, error), 0);
    ws->w = sim_world_create(seed);
    sim_world_set_trace_hook(ws->w, on_trace, ws);
    ws->broker_node = sim_node_add(ws->w, "n1", broker_main, ws);
    ws->client_node = sim_node_add(ws->w, "c", NULL, NULL);
    sim_world_run_until(ws->w, 10 * NS_PER_MS);
}

static struct producer *make_producer(struct world *ws, uint32_t batch_size, uint32_t linger_ms,
                                      bool idempotent) {
    struct producer_config pc;
    producer_config_defaults(&pc);
    pc.host = "n1";
    pc.topic = "t";
    pc.batch_size = batch_size;
    pc.linger_ms = linger_ms;
    pc.idempotent = idempotent;
    pc.request_timeout_ms = 2000;
    pc.on_result = on_result;
    pc.arg = ws;
    struct producer *p = NULL;
    assert_int_equal(producer_create(sim_node_io(ws->client_node), &pc, &p), 0);
    return p;
}

/* Runs until the producer knows the topic (its Metadata auto-creates it on this broker). */
static void wait_metadata(struct world *ws, struct producer *p) {
    for (int i = 0; i < 1000 && producer_partition_count(p) == 0; i++) {
        sim_world_run_until(ws->w, sim_world_now_ns(ws->w) + NS_PER_MS);
    }
    assert_true(producer_partition_count(p) > 0);
}

static void send_n(struct producer *p, int first, int n, bool keyed) {
    for (int i = first; i < first + n; i++) {
        char value[16], key[16];
        snprintf(value, sizeof(value), "v%d", i);
        snprintf(key, sizeof(key), "k%d", i);
        int32_t chosen = -1;
        assert_int_equal(producer_send(p, keyed ? (const uint8_t *)key : NULL,
                                       keyed ? (int32_t)strlen(key) : -1, (const uint8_t *)value,
                                       (int32_t)strlen(value), -1, (uint64_t)i, &chosen),
                         0);
        if (keyed) {
            assert_int_equal(chosen,
                             producer_key_partition((const uint8_t *)key, (int32_t)strlen(key), 3));
        }
    }
}

static void run_ms(struct world *ws, uint64_t ms) {
    sim_world_run_until(ws->w, sim_world_now_ns(ws->w) + ms * NS_PER_MS);
}

static void test_linger_batches_and_offsets(void **state) {
    (void)state;
    static struct world ws;
    world_start(&ws, 1, 1);
    struct producer *p = make_producer(&ws, 16384, 50, false);
    wait_metadata(&ws, p);
    int before = ws.batches;
    send_n(p, 0, 10, false);
    run_ms(&ws, 500);
    for (int i = 0; i < 10; i++) {
        assert_true(ws.recs[i].done);
        assert_int_equal(ws.recs[i].status, PRODUCER_OK);
        assert_int_equal(ws.recs[i].results, 1);
        assert_int_equal(ws.recs[i].offset, ws.recs[0].offset + i);
    }
    /* Sent within linger.ms: one batch of ten. */
    assert_int_equal(ws.batches - before, 1);
    assert_int_equal(ws.batch_records[before], 10);
    producer_destroy(p);
    sim_world_destroy(ws.w);
}

static void test_batch_size_splits(void **state) {
    (void)state;
    static struct world ws;
    world_start(&ws, 2, 1);
    struct producer *p = make_producer(&ws, 1, 50, false); /* Every record fills a batch. */
    wait_metadata(&ws, p);
    int before = ws.batches;
    send_n(p, 0, 8, false);
    run_ms(&ws, 500);
    assert_int_equal(ws.batches - before, 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(ws.batch_records[before + i], 1);
        assert_int_equal(ws.recs[i].status, PRODUCER_OK);
        assert_int_equal(ws.recs[i].offset, ws.recs[0].offset + i); /* One in flight per
                                                                     * partition: in order. */
    }
    producer_destroy(p);
    sim_world_destroy(ws.w);
}

static void test_keys_and_sticky(void **state) {
    (void)state;
    static struct world ws;
    world_start(&ws, 3, 3);
    struct producer *p = make_producer(&ws, 16384, 20, false);
    wait_metadata(&ws, p);
    assert_int_equal(producer_partition_count(p), 3);
    send_n(p, 0, 30, true); /* send_n checks the murmur2 partition of each key. */
    run_ms(&ws, 300);
    for (int i = 0; i < 30; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(ws.recs[i].status, PRODUCER_OK);
        assert_int_equal(ws.recs[i].partition,
                         producer_key_partition((const uint8_t *)key, (int32_t)strlen(key), 3));
    }
    /* Null keys sent together stick to one partition (one batch). */
    send_n(p, 100, 20, false);
    run_ms(&ws, 300);
    for (int i = 100; i < 120; i++) {
        assert_int_equal(ws.recs[i].status, PRODUCER_OK);
        assert_int_equal(ws.recs[i].partition, ws.recs[100].partition);
    }
    producer_destroy(p);
    sim_world_destroy(ws.w);
}

static void on_poll(void *arg, int status, const struct consumer_record *records, size_t count,
                    int16_t error, uint32_t generation) {
    struct world *ws = arg;
    for (size_t i = 0; i < count && ws->reads < RECORDS_MAX; i++) {
        ws->read_offsets[ws->reads] = records[i].offset;
        snprintf(ws->read_values[ws->reads], sizeof(ws->read_values[0]), "%.*s",
                 (int)records[i].value_len, (const char *)records[i].value);
        ws->reads++;
    }
}

static void test_crash_retry_idempotent_and_read_back(void **state) {
    (void)state;
    static struct world ws;
    world_start(&ws, 4, 1);
    struct producer *p = make_producer(&ws, 64, 5, true);
    wait_metadata(&ws, p);
    run_ms(&ws, 50); /* InitProducerId. */
    for (int i = 0; i < 200; i++) {
        send_n(p, i, 1, false);
        run_ms(&ws, 2);
        if (i == 100) {
            sim_node_crash(ws.broker_node);
            run_ms(&ws, 300);
            sim_node_restart(ws.broker_node);
        }
    }
    run_ms(&ws, 5000);
    for (int i = 0; i < 200; i++) {
        assert_true(ws.recs[i].done);
        assert_int_equal(ws.recs[i].results, 1);
    }
    int32_t parts[1] = {0};
    struct consumer_config cc;
    consumer_config_defaults(&cc);
    cc.host = "n1";
    cc.topic = "t";
    cc.partitions = parts;
    cc.partition_count = 1;
    cc.on_poll = on_poll;
    cc.arg = &ws;
    struct consumer *c = NULL;
    assert_int_equal(consumer_create(sim_node_io(ws.client_node), &cc, &c), 0);
    for (int i = 0; i < 100 && !consumer_caught_up(c); i++)
        run_ms(&ws, 50);
    assert_true(consumer_caught_up(c));
    int acked = 0;
    for (int i = 0; i < 200; i++)
        acked += ws.recs[i].status == PRODUCER_OK;
    assert_true(acked >= 190 && ws.reads >= acked);
    /* Offsets 0.. in order; every acked value read exactly once, at its acked offset. */
    for (int i = 0; i < ws.reads; i++)
        assert_int_equal(ws.read_offsets[i], i);
    for (int i = 0; i < 200; i++) {
        if (ws.recs[i].status != PRODUCER_OK) continue;
        char value[16];
        snprintf(value, sizeof(value), "v%d", i);
        int seen = 0;
        for (int j = 0; j < ws.reads; j++)
            seen += strcmp(ws.read_values[j], value) == 0;
        assert_int_equal(seen, 1);
        assert_string_equal(ws.read_values[ws.recs[i].offset], value);
    }
    consumer_destroy(c);
    producer_destroy(p);
    sim_world_destroy(ws.w);
}

static void never_done(void *arg, int status, const void *body) {
    int *calls = arg;
    (*calls)++;
    assert_int_equal(status, -ECANCELED); /* From client_destroy, never from the connect. */
}

/* client_destroy while its connect is in flight: the later connect callback must neither
 * touch freed memory nor leak it (found by the swarm: a timed-out client to a crashed
 * broker was destroyed before ECONNREFUSED came back). */
static void test_client_destroy_while_connecting(void **state) {
    (void)state;
    struct sim_world *w = sim_world_create(5);
    struct sim_node *c = sim_node_add(w, "c", NULL, NULL);
    struct sim_node *dead = sim_node_add(w, "dead", NULL, NULL);
    sim_node_crash(dead);
    sim_world_run_until(w, NS_PER_MS);
    struct io *io = sim_node_io(c);
    struct client *cl = client_create(io, "dead", 9092, "x");
    int calls = 0;
    struct proto_metadata_request req = {.allow_auto_topic_creation = false};
    req.topics.count = 0;
    assert_int_equal(client_send(cl, PROTO_API_METADATA, 4, &req, never_done, &calls), 0);
    client_destroy(cl);
    assert_int_equal(calls, 1);
    sim_world_run_until(w, 100 * NS_PER_MS); /* ECONNREFUSED arrives: frees the client. */
    assert_int_equal(sim_node_live_bytes(c), 0);
    sim_world_destroy(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2_vectors),
        cmocka_unit_test(test_linger_batches_and_offsets),
        cmocka_unit_test(test_batch_size_splits),
        cmocka_unit_test(test_keys_and_sticky),
        cmocka_unit_test(test_crash_retry_idempotent_and_read_back),
        cmocka_unit_test(test_client_destroy_while_connecting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
