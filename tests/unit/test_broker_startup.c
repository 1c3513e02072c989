/*
 * test_broker_startup.c — a single combined node with no controller.quorum.voters through
 * the real controller and quorum client (the one-voter quorum on an ephemeral port): proves
 * it becomes ready (first request answered) within a bounded virtual time, creates a topic
 * through the controller (answered only once its own image shows it), and stops freeing
 * every byte, also with a second create still in flight.
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

static struct broker_config config;
static struct broker *broker;

static void broker_main(struct io *io, void *arg) {
    (void)arg;
    assert_int_equal(broker_start(io, &config, &broker), 0);
}

struct call {
    bool done;
    int status;
    int16_t error;
    int32_t partitions;
    uint64_t done_ns;
};

static struct sim_world *world;

static void done_create(void *arg, int status, const void *body) {
    struct call *c = arg;
    c->done = true;
    c->status = status;
    c->done_ns = sim_world_now_ns(world);
    if (status == 0) {
        c->error = ((const struct proto_create_topics_response *)body)->topics.items[0].error_code;
    }
}

static void done_metadata(void *arg, int status, const void *body) {
    struct call *c = arg;
    c->done = true;
    c->status = status;
    c->done_ns = sim_world_now_ns(world);
    if (status == 0) {
        const struct proto_metadata_response *r = body;
        c->error = r->topics.items[0].error_code;
        c->partitions = r->topics.items[0].partitions.count;
    }
}

/* A moment, varied by seed, at which the second create is still being handled. */
static uint64_t stop_at_ns(uint64_t seed) {
    return sim_world_now_ns(world) + (seed % 4) * 1000000ULL + 200000ULL;
}

static void run_until_done(struct call *c, uint64_t limit_ms) {
    uint64_t deadline = sim_world_now_ns(world) + limit_ms * 1000000ULL;
    while (!c->done && sim_world_now_ns(world) < deadline) {
        if (!sim_world_step(world)) break;
    }
    assert_true(c->done);
    assert_int_equal(c->status, 0);
}

static void single_voter_start(uint64_t seed) {
    const char *props = "listeners=PLAINTEXT://:9092\nlog.dirs=/data\n"
                        "auto.create.topics.enable=false\nlog.flush.interval.messages=1\n";
    char error[BROKER_CONFIG_ERROR_MAX];
    broker = NULL;
    broker_config_defaults(&config);
    assert_int_equal(broker_config_parse(&config, props, strlen(props), NULL, NULL, error), 0);
    world = sim_world_create(seed);
    if (getenv("TRIAL_VERBOSE") != NULL) sim_world_set_verbose(world, true);
    struct sim_node *node = sim_node_add(world, "broker", broker_main, NULL);
    struct sim_node *client_node = sim_node_add(world, "client", NULL, NULL);
    sim_world_run_until(world, 10 * 1000000ULL);
    assert_non_null(broker);
    struct client *cl = client_create(sim_node_io(client_node), "broker", 9092, "c");
    struct proto_create_topics_request_topic t = {.name = PROTO_STR("t"), .num_partitions = 2,
                                                  .replication_factor = 1};
    struct proto_create_topics_request req = {.timeout_ms = 5000};
    req.topics.items = &t;
    req.topics.count = 1;
    struct call c = {0};
    assert_int_equal(client_send(cl, PROTO_API_CREATE_TOPICS, 2, &req, done_create, &c), 0);
    run_until_done(&c, 10000);
    if (getenv("TRIAL_VERBOSE") != NULL) {
        fprintf(stderr, "seed %llu: create answered at %llu ms: %d\n", (unsigned long long)seed,
                (unsigned long long)(c.done_ns / 1000000ULL), c.error);
    }
    assert_int_equal(c.error, 0);
    assert_true(c.done_ns < 1000ULL * 1000000ULL);
    struct proto_metadata_request_topic mt = {.name = PROTO_STR("t")};
    struct proto_metadata_request mr = {.allow_auto_topic_creation = false};
    mr.topics.items = &mt;
    mr.topics.count = 1;
    memset(&c, 0, sizeof(c));
    assert_int_equal(client_send(cl, PROTO_API_METADATA, 4, &mr, done_metadata, &c), 0);
    run_until_done(&c, 1000);
    assert_int_equal(c.error, 0);
    assert_int_equal(c.partitions, 2);
    /* A second create left in flight (at the controller, or waiting for the image) when the
     * broker stops: the stop answers or frees it, leaving no byte behind. */
    struct proto_create_topics_request_topic t2 = {.name = PROTO_STR("u"), .num_partitions = 1,
                                                   .replication_factor = 1};
    req.topics.items = &t2;
    memset(&c, 0, sizeof(c));
    assert_int_equal(client_send(cl, PROTO_API_CREATE_TOPICS, 2, &req, done_create, &c), 0);
    uint64_t stop_ns = stop_at_ns(seed);
    int steps = 0;
    while (!c.done && sim_world_now_ns(world) < stop_ns && steps++ < 1000) {
        if (!sim_world_step(world)) break;
    }
    if (getenv("TRIAL_VERBOSE") != NULL) fprintf(stderr, "second create answered: %d\n", c.done);
    client_destroy(cl);
    assert_int_equal(broker_stop(broker), 0);
    assert_int_equal(sim_node_live_bytes(node), 0);
    sim_world_destroy(world);
}

/* Several seeds: start-up must not depend on a lucky interleaving (registration, the first
 * heartbeat and the metadata fetch race each other). */
static void test_single_voter_start(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 8; seed++) single_voter_start(seed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_voter_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
