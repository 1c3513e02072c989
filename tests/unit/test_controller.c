/*
 * test_controller.c — proves the controller quorum and the brokers' quorum clients work
 * together in the simulated world: three controller voters (q1..q3) and two quorum
 * clients (b11, b12, brokers without a data path). Both brokers register and become ready
 * (registered, unfenced, caught up); a topic created through one broker appears with the
 * same assignment in both images (round-robin over the live brokers, leader = first
 * replica, ISR = replicas); a replication factor above the live brokers is refused (38);
 * AlterPartition is accepted with current epochs and refused with a stale partition epoch
 * (95) or leader epoch (74); a broker that goes silent is fenced and loses every
 * leadership; and when the active controller crashes the clients find the new one, the
 * state is intact and new topics can still be created. Forwarded CreateTopics (with a
 * config), CreatePartitions, AlterConfigs (replacing the override set) and DeleteTopics
 * reach both images; raw requests get STALE_BROKER_EPOCH (77), BROKER_ID_NOT_REGISTERED
 * (102) and, from a voter that is not active, NOT_CONTROLLER (41); a fenced or foreign
 * replica cannot join an ISR (107). A leader whose ISR is only itself crashes: without
 * unclean election the partition is leaderless with the last ISR member kept, and leads
 * again (epoch + 1) when that broker re-registers and is unfenced; with it, the other
 * replica leads (ISR = itself, `unclean_election` traced once). With min.insync.replicas 2,
 * replicas leaving a too-small ISR become eligible leaders (KIP-966), lead cleanly when the
 * leader dies, and leave the ELR when they restart. An active controller that stood still
 * longer than a session renews the sessions instead of fencing every broker. A controlled
 * shutdown moves a broker's leaderships and ISR places before it goes. Runs are
 * seeded and
 * deterministic: the same seed gives the same trace hash.
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
#include "broker/config.h"
#include "client/client.h"
#include "controller/controller.h"
#include "controller/metadata.h"
#include "controller/quorum_client.h"
#include "proto/proto.h"
#include "sim/sim.h"

#define VOTERS  3
#define BROKERS 2

struct node_state {
    struct world_state *ws;
    char name[16];
    int32_t id;
    bool voter;
    struct broker_config config;
    struct controller *ctl;
    struct quorum_client *qc;
    struct sim_node *node;
    int updates;
};

struct world_state {
    struct sim_world *world;
    struct node_state voters[VOTERS];
    struct node_state brokers[BROKERS];
};

static const char *VOTER_LIST = "1@q1:9093,2@q2:9093,3@q3:9093";

static void on_update(void *arg, const struct metadata_image *before,
                      const struct metadata_image *after) {
    struct node_state *ns = arg;
    assert_true(after->offset > before->offset);
    ns->updates++;
}

static void voter_main(struct io *io, void *arg) {
    struct node_state *ns = arg;
    ns->ctl = NULL;
    assert_int_equal(controller_start(io, &ns->config, &ns->ctl), 0);
}

static void broker_main(struct io *io, void *arg) {
    struct node_state *ns = arg;
    struct quorum_client_config qcc = {
        .broker = &ns->config,
        .advertised_host = ns->name,
        .advertised_port = 9092,
        .on_update = on_update,
        .arg = ns,
    };
    for (int i = 0; i < 2; i++) {
        uint64_t r = io_random_u64(io);
        memcpy(qcc.incarnation_id + 8 * i, &r, 8);
    }
    ns->qc = NULL;
    assert_int_equal(quorum_client_start(io, &qcc, &ns->qc), 0);
}

static void configure(struct node_state *ns, const char *extra) {
    char text[2048];
    if (ns->voter) {
        snprintf(text, sizeof(text),
                 "node.id=%d\nprocess.roles=controller\ncontroller.quorum.voters=%s\n"
                 "controller.listener.names=CONTROLLER\nlisteners=CONTROLLER://:9093\n"
                 "log.dirs=/data\nbroker.session.timeout.ms=3000\n%s",
                 ns->id, VOTER_LIST, extra);
    } else {
        snprintf(text, sizeof(text),
                 "node.id=%d\nprocess.roles=broker\ncontroller.quorum.voters=%s\n"
                 "listeners=PLAINTEXT://:9092\n"
                 "advertised.listeners=PLAINTEXT://%s:9092\nlog.dirs=/data\n"
                 "broker.heartbeat.interval.ms=500\nbroker.session.timeout.ms=3000\n%s",
                 ns->id, VOTER_LIST, ns->name, extra);
    }
    char error[BROKER_CONFIG_ERROR_MAX];
    broker_config_defaults(&ns->config);
    int rc = broker_config_parse(&ns->config, text, strlen(text), NULL, NULL, error);
    if (rc != 0) fail_msg("config of %s: %s", ns->name, error);
}

/* TRIAL_TEST_LOG=1 prints every node's log lines (debugging aid; off in CI). */
static void print_log(void *arg, struct sim_node *node, uint64_t now_ns, enum io_log_level level,
                      const char *message) {
    (void)arg;
    (void)level;
    fprintf(stderr, "%10.3f %s %s\n", (double)now_ns / 1e6, sim_node_name(node), message);
}

static void world_start(struct world_state *ws, uint64_t seed, const char *extra) {
    memset(ws, 0, sizeof(*ws));
    ws->world = sim_world_create(seed);
    if (getenv("TRIAL_TEST_LOG") != NULL) sim_world_set_log_hook(ws->world, print_log, NULL);
    for (int i = 0; i < VOTERS; i++) {
        struct node_state *ns = &ws->voters[i];
        ns->ws = ws;
        ns->voter = true;
        ns->id = i + 1;
        snprintf(ns->name, sizeof(ns->name), "q%d", i + 1);
        configure(ns, extra);
        ns->node = sim_node_add(ws->world, ns->name, voter_main, ns);
    }
    for (int i = 0; i < BROKERS; i++) {
        struct node_state *ns = &ws->brokers[i];
        ns->ws = ws;
        ns->id = 11 + i;
        snprintf(ns->name, sizeof(ns->name), "b%d", 11 + i);
        configure(ns, extra);
        ns->node = sim_node_add(ws->world, ns->name, broker_main, ns);
    }
}

static void world_stop(struct world_state *ws) {
    for (int i = 0; i < BROKERS; i++) {
        struct node_state *ns = &ws->brokers[i];
        if (!sim_node_is_up(ns->node)) continue;
        quorum_client_stop(ns->qc);
        assert_int_equal(sim_node_live_bytes(ns->node), 0);
    }
    for (int i = 0; i < VOTERS; i++) {
        struct node_state *ns = &ws->voters[i];
        if (!sim_node_is_up(ns->node)) continue;
        assert_int_equal(controller_stop(ns->ctl), 0);
        /* Let the connections of raft's parked requests finish closing. */
        sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 10 * NS_PER_MS);
        assert_int_equal(sim_node_live_bytes(ns->node), 0);
    }
    sim_world_destroy(ws->world);
}

typedef bool (*world_pred)(struct world_state *ws, void *arg);

/* Steps the world until pred holds or `limit_ms` of virtual time passed. */
static bool run_until(struct world_state *ws, world_pred pred, void *arg, uint64_t limit_ms) {
    uint64_t deadline = sim_world_now_ns(ws->world) + limit_ms * NS_PER_MS;
    while (!pred(ws, arg)) {
        if (sim_world_now_ns(ws->world) >= deadline) return false;
        if (!sim_world_step(ws->world)) return false;
    }
    return true;
}

static bool all_ready(struct world_state *ws, void *arg) {
    (void)arg;
    for (int i = 0; i < BROKERS; i++) {
        struct node_state *ns = &ws->brokers[i];
        if (sim_node_is_up(ns->node) && (ns->qc == NULL || !quorum_client_ready(ns->qc))) {
            return false;
        }
    }
    return true;
}

/* --- Forwarded admin requests --------------------------------------------------------- */

struct admin_call {
    bool done;
    int status;
    int16_t error;
};

static void create_done(void *arg, int status, const void *response) {
    struct admin_call *c = arg;
    c->done = true;
    c->status = status;
    if (status == 0) {
        const struct proto_create_topics_response *r = response;
        assert_int_equal(r->topics.count, 1);
        c->error = r->topics.items[0].error_code;
    }
}

static bool call_done(struct world_state *ws, void *arg) {
    (void)ws;
    return ((struct admin_call *)arg)->done;
}

/* Creates a topic through broker `b`'s quorum client and waits for the answer. */
static int16_t create_topic(struct world_state *ws, int b, const char *name, int32_t partitions,
                            int16_t rf) {
    struct proto_create_topics_request_topic t;
    memset(&t, 0, sizeof(t));
    t.name = proto_string_from(name);
    t.num_partitions = partitions;
    t.replication_factor = rf;
    struct proto_create_topics_request req;
    memset(&req, 0, sizeof(req));
    req.topics.items = &t;
    req.topics.count = 1;
    req.timeout_ms = 30000;
    struct admin_call c = {0};
    assert_int_equal(
        quorum_client_forward(ws->brokers[b].qc, PROTO_API_CREATE_TOPICS, 5, &req, create_done, &c),
        0);
    assert_false(c.done); /* Never from inside the call. */
    assert_true(run_until(ws, call_done, &c, 40000));
    assert_int_equal(c.status, 0);
    return c.error;
}

struct topic_wait {
    const char *name;
    int32_t partitions;
};

static bool topic_everywhere(struct world_state *ws, void *arg) {
    struct topic_wait *tw = arg;
    for (int i = 0; i < BROKERS; i++) {
        const struct metadata_topic *t =
            metadata_topic_find(quorum_client_image(ws->brokers[i].qc), tw->name);
        if (t == NULL || t->partition_count != tw->partitions) return false;
    }
    return true;
}

struct alter_call {
    bool done;
    int16_t error;
    struct metadata_partition committed;
};

static void alter_done(void *arg, int16_t error_code, const struct metadata_partition *p) {
    struct alter_call *c = arg;
    c->done = true;
    c->error = error_code;
    if (p != NULL) c->committed = *p;
}

static bool alter_finished(struct world_state *ws, void *arg) {
    (void)ws;
    return ((struct alter_call *)arg)->done;
}

static struct node_state *broker_by_id(struct world_state *ws, int32_t id) {
    for (int i = 0; i < BROKERS; i++) {
        if (ws->brokers[i].id == id) return &ws->brokers[i];
    }
    return NULL;
}

static int16_t alter(struct world_state *ws, const char *topic, int32_t index, int32_t leader_epoch,
                     int32_t partition_epoch, const int32_t *isr, uint32_t isr_count,
                     int32_t leader, struct metadata_partition *out) {
    struct alter_call c = {0};
    struct node_state *ns = broker_by_id(ws, leader);
    assert_non_null(ns);
    assert_int_equal(quorum_client_alter_partition(ns->qc, topic, index, leader_epoch,
                                                   partition_epoch, isr, isr_count, alter_done, &c),
                     0);
    assert_true(run_until(ws, alter_finished, &c, 40000));
    if (out != NULL) *out = c.committed;
    return c.error;
}

/* --- Tests ---------------------------------------------------------------------------- */

static uint64_t scenario_basic(uint64_t seed) {
    struct world_state *ws = test_malloc(sizeof(*ws));
    world_start(ws, seed, "");
    assert_true(run_until(ws, all_ready, NULL, 30000));
    for (int i = 0; i < BROKERS; i++) {
        assert_true(quorum_client_broker_epoch(ws->brokers[i].qc) >= 0);
        assert_true(quorum_client_controller_id(ws->brokers[i].qc) >= 1);
        const struct metadata_image *image = quorum_client_image(ws->brokers[i].qc);
        assert_int_equal(image->broker_count, 2);
        const struct metadata_broker *b = metadata_broker_find(image, 11);
        assert_non_null(b);
        assert_string_equal(b->host, "b11");
        assert_int_equal(b->port, 9092);
        assert_false(b->fenced);
    }

    /* Topic creation: visible in both images with the same assignment. */
    assert_int_equal(create_topic(ws, 0, "orders", 4, 2), 0);
    struct topic_wait tw = {"orders", 4};
    assert_true(run_until(ws, topic_everywhere, &tw, 10000));
    const struct metadata_image *a = quorum_client_image(ws->brokers[0].qc);
    const struct metadata_image *b = quorum_client_image(ws->brokers[1].qc);
    const struct metadata_topic *ta = metadata_topic_find(a, "orders");
    const struct metadata_topic *tb = metadata_topic_find(b, "orders");
    assert_memory_equal(ta->id, tb->id, 16);
    int leaders[2] = {0, 0};
    for (int32_t i = 0; i < 4; i++) {
        const struct metadata_partition *p = &ta->partitions[i];
        assert_memory_equal(p, &tb->partitions[i], sizeof(*p));
        assert_int_equal(p->index, i);
        assert_int_equal(p->replica_count, 2);
        assert_int_not_equal(p->replicas[0], p->replicas[1]);
        assert_int_equal(p->leader, p->replicas[0]);
        assert_int_equal(p->leader_epoch, 0);
        assert_int_equal(p->partition_epoch, 0);
        assert_int_equal(p->isr_count, 2);
        assert_int_equal(p->isr[0], 11);
        assert_int_equal(p->isr[1], 12);
        leaders[p->leader - 11]++;
    }
    /* Round-robin: the leaders alternate between the two brokers. */
    assert_int_equal(leaders[0], 2);
    assert_int_equal(leaders[1], 2);

    assert_int_equal(create_topic(ws, 1, "orders", 1, 1), 36);
    assert_int_equal(create_topic(ws, 1, "wide", 1, 3), 38);
    assert_int_equal(create_topic(ws, 1, "bad/name", 1, 1), 17);

    /* AlterPartition: shrink the ISR of partition 0 to its leader. */
    const struct metadata_partition p0 = ta->partitions[0];
    int32_t only_leader[1] = {p0.leader};
    struct metadata_partition committed;
    assert_int_equal(alter(ws, "orders", 0, p0.leader_epoch, p0.partition_epoch, only_leader, 1,
                           p0.leader, &committed),
                     0);
    assert_int_equal(committed.partition_epoch, p0.partition_epoch + 1);
    assert_int_equal(committed.leader_epoch, p0.leader_epoch);
    assert_int_equal(committed.isr_count, 1);
    assert_int_equal(committed.isr[0], p0.leader);
    /* Stale partition epoch, stale leader epoch. */
    int32_t both[2] = {11, 12};
    assert_int_equal(
        alter(ws, "orders", 0, p0.leader_epoch, p0.partition_epoch, both, 2, p0.leader, NULL), 95);
    assert_int_equal(alter(ws, "orders", 0, p0.leader_epoch - 1, p0.partition_epoch + 1, both, 2,
                           p0.leader, NULL),
                     74);
    /* Grow back with the current epochs. */
    assert_int_equal(alter(ws, "orders", 0, p0.leader_epoch, p0.partition_epoch + 1, both, 2,
                           p0.leader, &committed),
                     0);
    assert_int_equal(committed.isr_count, 2);

    /* A silent broker is fenced and loses its leaderships. */
    struct node_state *gone = &ws->brokers[1];
    sim_node_crash(gone->node);
    struct node_state *alive = &ws->brokers[0];
    uint64_t crashed_at = sim_world_now_ns(ws->world);
    sim_world_run_until(ws->world, crashed_at + 8 * NS_PER_S);
    const struct metadata_image *img = quorum_client_image(alive->qc);
    const struct metadata_broker *fenced = metadata_broker_find(img, gone->id);
    assert_non_null(fenced);
    assert_true(fenced->fenced);
    assert_true(quorum_client_ready(alive->qc));
    const struct metadata_topic *t = metadata_topic_find(img, "orders");
    for (int32_t i = 0; i < t->partition_count; i++) {
        const struct metadata_partition *p = &t->partitions[i];
        assert_int_equal(p->leader, alive->id);
        assert_int_equal(p->isr_count, 1);
        assert_int_equal(p->isr[0], alive->id);
    }
    uint64_t hash = sim_world_trace_hash(ws->world);
    world_stop(ws);
    test_free(ws);
    return hash;
}

static void test_register_create_alter_fence(void **state) {
    (void)state;
    uint64_t h1 = scenario_basic(7);
    uint64_t h2 = scenario_basic(7);
    assert_true(h1 == h2);
}

static bool controller_moved(struct world_state *ws, void *arg) {
    int32_t old = *(int32_t *)arg;
    for (int i = 0; i < BROKERS; i++) {
        int32_t id = quorum_client_controller_id(ws->brokers[i].qc);
        if (id < 0 || id == old) return false;
    }
    return true;
}

static void test_controller_failover(void **state) {
    (void)state;
    struct world_state *ws = test_malloc(sizeof(*ws));
    world_start(ws, 11, "");
    assert_true(run_until(ws, all_ready, NULL, 30000));
    assert_int_equal(create_topic(ws, 0, "before", 3, 2), 0);
    struct topic_wait tw = {"before", 3};
    assert_true(run_until(ws, topic_everywhere, &tw, 10000));
    int32_t active = quorum_client_controller_id(ws->brokers[0].qc);
    assert_true(active >= 1 && active <= VOTERS);
    sim_node_crash(ws->voters[active - 1].node);

    /* Creating through the other broker finds the new controller within its timeout. */
    assert_int_equal(create_topic(ws, 1, "after", 2, 2), 0);
    struct topic_wait tw2 = {"after", 2};
    assert_true(run_until(ws, topic_everywhere, &tw2, 20000));
    assert_true(run_until(ws, controller_moved, &active, 20000));
    /* State intact: the old topic, both brokers registered and unfenced after a session. */
    sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 5 * NS_PER_S);
    for (int i = 0; i < BROKERS; i++) {
        const struct metadata_image *img = quorum_client_image(ws->brokers[i].qc);
        assert_non_null(metadata_topic_find(img, "before"));
        assert_non_null(metadata_topic_find(img, "after"));
        assert_int_equal(metadata_image_unfenced_count(img), 2);
        assert_true(quorum_client_ready(ws->brokers[i].qc));
    }
    world_stop(ws);
    test_free(ws);
}

/* --- Admin requests, raw controller errors ------------------------------------------- */

struct raw_call {
    bool done;
    int status;
    int16_t error;
    int64_t epoch;
};

static void raw_heartbeat_done(void *arg, int status, const void *body) {
    struct raw_call *c = arg;
    c->done = true;
    c->status = status;
    if (status == 0) c->error = ((const struct proto_broker_heartbeat_response *)body)->error_code;
}

static void raw_register_done(void *arg, int status, const void *body) {
    struct raw_call *c = arg;
    c->done = true;
    c->status = status;
    if (status == 0) {
        const struct proto_broker_registration_response *r = body;
        c->error = r->error_code;
        c->epoch = r->broker_epoch;
    }
}

static bool raw_done(struct world_state *ws, void *arg) {
    (void)ws;
    return ((struct raw_call *)arg)->done;
}

static int16_t raw_heartbeat(struct world_state *ws, int32_t voter, int32_t broker_id,
                             int64_t epoch) {
    struct io *io = sim_node_io(ws->brokers[0].node);
    struct client *cl = client_create(io, ws->voters[voter - 1].name, 9093, "raw");
    struct proto_broker_heartbeat_request req = {
        .broker_id = broker_id, .broker_epoch = epoch, .current_metadata_offset = 0};
    struct raw_call c = {0};
    assert_int_equal(client_send(cl, PROTO_API_BROKER_HEARTBEAT, 0, &req, raw_heartbeat_done, &c),
                     0);
    assert_true(run_until(ws, raw_done, &c, 5000));
    assert_int_equal(c.status, 0);
    client_destroy(cl);
    return c.error;
}

static int16_t raw_register(struct world_state *ws, int32_t voter, int32_t broker_id) {
    struct io *io = sim_node_io(ws->brokers[0].node);
    struct client *cl = client_create(io, ws->voters[voter - 1].name, 9093, "raw");
    struct proto_broker_registration_listener l = {
        .name = PROTO_STR("PLAINTEXT"), .host = PROTO_STR("x"), .port = 1};
    struct proto_broker_registration_request req = {
        .broker_id = broker_id, .cluster_id = PROTO_STR("trial"), .rack = PROTO_STR_NULL};
    req.listeners.items = &l;
    req.listeners.count = 1;
    struct raw_call c = {0};
    assert_int_equal(client_send(cl, PROTO_API_BROKER_REGISTRATION, 0, &req, raw_register_done, &c),
                     0);
    assert_true(run_until(ws, raw_done, &c, 5000));
    assert_int_equal(c.status, 0);
    client_destroy(cl);
    return c.error;
}

struct forward_call {
    bool done;
    int status;
    int16_t error;
};

static void forward_done(void *arg, int status, const void *response) {
    struct forward_call *c = arg;
    c->done = true;
    c->status = status;
    (void)response;
}

static bool forward_finished(struct world_state *ws, void *arg) {
    (void)ws;
    return ((struct forward_call *)arg)->done;
}

static void forward(struct world_state *ws, int16_t api_key, int16_t version, const void *req) {
    struct forward_call c = {0};
    assert_int_equal(
        quorum_client_forward(ws->brokers[0].qc, api_key, version, req, forward_done, &c), 0);
    assert_true(run_until(ws, forward_finished, &c, 40000));
    assert_int_equal(c.status, 0);
}

struct config_wait {
    const char *topic;
    const char *name;
    const char *value; /* NULL: must be absent. */
};

static bool config_everywhere(struct world_state *ws, void *arg) {
    struct config_wait *cw = arg;
    for (int i = 0; i < BROKERS; i++) {
        const struct metadata_topic *t =
            metadata_topic_find(quorum_client_image(ws->brokers[i].qc), cw->topic);
        if (t == NULL) return false;
        bool found = false;
        for (uint32_t k = 0; k < t->config_count; k++) {
            if (strcmp(t->configs[k].name, cw->name) != 0) continue;
            found = cw->value != NULL && strcmp(t->configs[k].value, cw->value) == 0;
            if (!found) return false;
        }
        if (found != (cw->value != NULL)) return false;
    }
    return true;
}

static bool topic_gone(struct world_state *ws, void *arg) {
    for (int i = 0; i < BROKERS; i++) {
        if (metadata_topic_find(quorum_client_image(ws->brokers[i].qc), arg) != NULL) return false;
    }
    return true;
}

static void test_admin_requests_and_errors(void **state) {
    (void)state;
    struct world_state *ws = test_malloc(sizeof(*ws));
    world_start(ws, 21, "");
    assert_true(run_until(ws, all_ready, NULL, 30000));

    /* CreateTopics with a config. */
    struct proto_create_topics_request_config cfg = {.name = PROTO_STR("retention.ms"),
                                                     .value = PROTO_STR("1000")};
    struct proto_create_topics_request_topic t;
    memset(&t, 0, sizeof(t));
    t.name = PROTO_STR("t");
    t.num_partitions = 2;
    t.replication_factor = 2;
    t.configs.items = &cfg;
    t.configs.count = 1;
    struct proto_create_topics_request creq;
    memset(&creq, 0, sizeof(creq));
    creq.topics.items = &t;
    creq.topics.count = 1;
    creq.timeout_ms = 30000;
    forward(ws, PROTO_API_CREATE_TOPICS, 4, &creq);
    struct config_wait cw = {"t", "retention.ms", "1000"};
    assert_true(run_until(ws, config_everywhere, &cw, 10000));

    /* CreatePartitions 2 -> 5, assigned over both brokers with the topic's RF. */
    struct proto_create_partitions_topic pt;
    memset(&pt, 0, sizeof(pt));
    pt.name = PROTO_STR("t");
    pt.count = 5;
    pt.assignments.count = -1;
    struct proto_create_partitions_request preq;
    memset(&preq, 0, sizeof(preq));
    preq.topics.items = &pt;
    preq.topics.count = 1;
    preq.timeout_ms = 30000;
    forward(ws, PROTO_API_CREATE_PARTITIONS, 1, &preq);
    struct topic_wait tw = {"t", 5};
    assert_true(run_until(ws, topic_everywhere, &tw, 10000));
    const struct metadata_topic *mt =
        metadata_topic_find(quorum_client_image(ws->brokers[1].qc), "t");
    for (int32_t i = 0; i < 5; i++)
        assert_int_equal(mt->partitions[i].replica_count, 2);

    /* AlterConfigs replaces the override set: retention.ms goes, cleanup.policy comes. */
    struct proto_alter_configs_config ac = {.name = PROTO_STR("cleanup.policy"),
                                            .value = PROTO_STR("compact")};
    struct proto_alter_configs_resource res = {.resource_type = 2, .resource_name = PROTO_STR("t")};
    res.configs.items = &ac;
    res.configs.count = 1;
    struct proto_alter_configs_request areq = {.validate_only = false};
    areq.resources.items = &res;
    areq.resources.count = 1;
    forward(ws, PROTO_API_ALTER_CONFIGS, 1, &areq);
    struct config_wait cw2 = {"t", "cleanup.policy", "compact"};
    struct config_wait cw3 = {"t", "retention.ms", NULL};
    assert_true(run_until(ws, config_everywhere, &cw2, 10000));
    assert_true(config_everywhere(ws, &cw3));

    /* DeleteTopics removes it everywhere. */
    struct proto_string name = PROTO_STR("t");
    struct proto_delete_topics_request dreq = {.timeout_ms = 30000};
    dreq.topic_names.items = &name;
    dreq.topic_names.count = 1;
    forward(ws, PROTO_API_DELETE_TOPICS, 4, &dreq);
    assert_true(run_until(ws, topic_gone, "t", 10000));

    /* Raw requests: a stale broker epoch (77), an unknown broker (102), a voter that is
     * not the active controller (41). */
    int32_t active = quorum_client_controller_id(ws->brokers[0].qc);
    int64_t epoch = quorum_client_broker_epoch(ws->brokers[0].qc);
    assert_int_equal(raw_heartbeat(ws, active, 11, epoch), 0);
    assert_int_equal(raw_heartbeat(ws, active, 11, epoch + 1000), 77);
    assert_int_equal(raw_heartbeat(ws, active, 99, 0), 102);
    int32_t other = active % VOTERS + 1;
    assert_int_equal(raw_heartbeat(ws, other, 11, epoch), 41);
    assert_int_equal(raw_register(ws, other, 50), 41);
    world_stop(ws);
    test_free(ws);
}

/* --- Fencing, unclean election, return of a broker ------------------------------------ */

static int unclean_events;

static void count_unclean(void *arg, struct sim_node *node, uint64_t now_ns, const char *event,
                          const struct io_trace_field *fields, size_t count) {
    (void)arg;
    (void)node;
    (void)now_ns;
    (void)fields;
    (void)count;
    if (strcmp(event, "unclean_election") == 0) unclean_events++;
}

static bool broker_fenced(struct world_state *ws, void *arg) {
    int32_t id = *(int32_t *)arg;
    for (int i = 0; i < BROKERS; i++) {
        if (ws->brokers[i].id == id || !sim_node_is_up(ws->brokers[i].node)) continue;
        const struct metadata_broker *b =
            metadata_broker_find(quorum_client_image(ws->brokers[i].qc), id);
        if (b == NULL || !b->fenced) return false;
    }
    return true;
}

/* One partition, RF 2, ISR shrunk to its leader, leader crashes: with unclean election
 * the other replica leads (ISR = itself, traced); without, the partition has no leader
 * until the old leader returns, re-registers and is unfenced. */
static void fence_and_return(bool unclean) {
    struct world_state *ws = test_malloc(sizeof(*ws));
    unclean_events = 0;
    world_start(ws, 31, unclean ? "unclean.leader.election.enable=true\n" : "");
    sim_world_set_trace_hook(ws->world, count_unclean, NULL);
    assert_true(run_until(ws, all_ready, NULL, 30000));
    assert_int_equal(create_topic(ws, 0, "u", 1, 2), 0);
    struct topic_wait tw = {"u", 1};
    assert_true(run_until(ws, topic_everywhere, &tw, 10000));
    struct metadata_partition p =
        *metadata_partition_find(quorum_client_image(ws->brokers[0].qc), "u", 0);
    int32_t leader = p.leader;
    int32_t only[1] = {leader};
    assert_int_equal(alter(ws, "u", 0, p.leader_epoch, p.partition_epoch, only, 1, leader, &p), 0);
    /* A fenced or foreign replica cannot join the ISR. */
    int32_t foreign[2] = {leader, 77};
    assert_int_equal(alter(ws, "u", 0, p.leader_epoch, p.partition_epoch, foreign, 2, leader, NULL),
                     107);

    struct node_state *dead = broker_by_id(ws, leader);
    struct node_state *live = broker_by_id(ws, leader == 11 ? 12 : 11);
    sim_node_crash(dead->node);
    dead->qc = NULL; /* Freed with the node's memory. */
    assert_true(run_until(ws, broker_fenced, &leader, 10000));
    sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 500 * NS_PER_MS);
    const struct metadata_partition *q =
        metadata_partition_find(quorum_client_image(live->qc), "u", 0);
    if (unclean) {
        assert_int_equal(q->leader, live->id);
        assert_int_equal(q->isr_count, 1);
        assert_int_equal(q->isr[0], live->id);
        assert_true(q->unclean);
        assert_int_equal(q->leader_epoch, 1);
        assert_int_equal(unclean_events, 1);
    } else {
        assert_int_equal(q->leader, -1);
        assert_int_equal(q->isr_count, 1);
        assert_int_equal(q->isr[0], leader); /* The last ISR member is kept (KIP-966). */
        assert_int_equal(q->leader_epoch, 1);
        assert_int_equal(unclean_events, 0);
    }
    assert_true(q->partition_epoch > p.partition_epoch);

    /* The crashed broker comes back: a new registration, unfenced once caught up. */
    int64_t old_epoch = metadata_broker_find(quorum_client_image(live->qc), leader)->epoch;
    sim_node_restart(dead->node);
    assert_true(run_until(ws, all_ready, NULL, 20000));
    sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 500 * NS_PER_MS);
    const struct metadata_image *img = quorum_client_image(live->qc);
    const struct metadata_broker *back = metadata_broker_find(img, leader);
    assert_false(back->fenced);
    assert_int_equal(back->epoch, quorum_client_broker_epoch(dead->qc));
    assert_true(back->epoch > old_epoch);
    q = metadata_partition_find(quorum_client_image(live->qc), "u", 0);
    if (unclean) {
        assert_int_equal(q->leader, live->id); /* Stays; the old one rejoins as follower. */
        assert_int_equal(q->leader_epoch, 1);
    } else {
        assert_int_equal(q->leader, leader); /* The only ISR member leads again. */
        assert_int_equal(q->leader_epoch, 2);
    }
    world_stop(ws);
    test_free(ws);
}

static void test_fence_clean_then_return(void **state) {
    (void)state;
    fence_and_return(false);
}

static void test_fence_unclean_election(void **state) {
    (void)state;
    fence_and_return(true);
}

/* KIP-966 with min.insync.replicas=2 and RF 2: the follower goes silent (paused past its
 * session) and becomes an eligible leader replica; back with the same incarnation it
 * stays eligible; when the leader then dies, the ELR member leads cleanly and the dead
 * leader becomes eligible in turn, until it restarts (a new incarnation may have lost
 * unsynced data) and leaves the ELR. */
static void test_eligible_leader_replicas(void **state) {
    (void)state;
    struct world_state *ws = test_malloc(sizeof(*ws));
    unclean_events = 0;
    world_start(ws, 41, "min.insync.replicas=2\n");
    sim_world_set_trace_hook(ws->world, count_unclean, NULL);
    assert_true(run_until(ws, all_ready, NULL, 30000));
    assert_int_equal(create_topic(ws, 0, "e", 1, 2), 0);
    struct topic_wait tw = {"e", 1};
    assert_true(run_until(ws, topic_everywhere, &tw, 10000));
    const struct metadata_partition *p =
        metadata_partition_find(quorum_client_image(ws->brokers[0].qc), "e", 0);
    int32_t leader = p->leader;
    struct node_state *lead = broker_by_id(ws, leader);
    struct node_state *follow = broker_by_id(ws, leader == 11 ? 12 : 11);
    int32_t follower = follow->id;

    sim_node_pause(follow->node);
    assert_true(run_until(ws, broker_fenced, &follower, 10000));
    sim_node_resume(follow->node);
    sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 2 * NS_PER_S);
    p = metadata_partition_find(quorum_client_image(lead->qc), "e", 0);
    assert_int_equal(p->leader, leader);
    assert_int_equal(p->isr_count, 1);
    assert_int_equal(p->isr[0], leader);
    assert_int_equal(p->elr_count, 1);
    assert_int_equal(p->elr[0], follower);
    assert_false(metadata_broker_find(quorum_client_image(lead->qc), follower)->fenced);
    int32_t epoch = p->leader_epoch;

    sim_node_crash(lead->node);
    lead->qc = NULL;
    assert_true(run_until(ws, broker_fenced, &leader, 10000));
    sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 500 * NS_PER_MS);
    p = metadata_partition_find(quorum_client_image(follow->qc), "e", 0);
    assert_int_equal(p->leader, follower);
    assert_int_equal(p->leader_epoch, epoch + 1);
    assert_false(p->unclean);
    assert_int_equal(p->isr_count, 1);
    assert_int_equal(p->isr[0], follower);
    assert_int_equal(p->elr_count, 1);
    assert_int_equal(p->elr[0], leader);
    assert_int_equal(unclean_events, 0);

    sim_node_restart(lead->node);
    assert_true(run_until(ws, all_ready, NULL, 20000));
    sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 500 * NS_PER_MS);
    p = metadata_partition_find(quorum_client_image(follow->qc), "e", 0);
    assert_int_equal(p->leader, follower);
    assert_int_equal(p->elr_count, 0);
    world_stop(ws);
    test_free(ws);
}

/* --- A stalled controller does not fence everyone --------------------------------------- */

static int fence_applies;

static void count_fences(void *arg, struct sim_node *node, uint64_t now_ns, const char *event,
                         const struct io_trace_field *fields, size_t count) {
    (void)arg;
    (void)node;
    (void)now_ns;
    if (strcmp(event, "metadata_apply") != 0) return;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(fields[i].key, "type") == 0 && fields[i].i == 2) fence_applies++;
    }
}

/* The active controller stands still longer than a broker session (its Raft term survives:
 * the fetch timeout is longer still). The brokers could not reach it, so on resuming it
 * renews their sessions instead of fencing them all. */
static void test_stalled_controller_renews_sessions(void **state) {
    (void)state;
    struct world_state *ws = test_malloc(sizeof(*ws));
    fence_applies = 0;
    world_start(ws, 51, "controller.quorum.fetch.timeout.ms=20000\n");
    sim_world_set_trace_hook(ws->world, count_fences, NULL);
    assert_true(run_until(ws, all_ready, NULL, 60000));
    int32_t active = quorum_client_controller_id(ws->brokers[0].qc);
    assert_true(active >= 1 && active <= VOTERS);
    sim_node_pause(ws->voters[active - 1].node);
    sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 5 * NS_PER_S);
    sim_node_resume(ws->voters[active - 1].node);
    sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 2 * NS_PER_S);
    assert_int_equal(fence_applies, 0);
    assert_true(run_until(ws, all_ready, NULL, 10000));
    for (int i = 0; i < BROKERS; i++) {
        assert_int_equal(metadata_image_unfenced_count(quorum_client_image(ws->brokers[i].qc)), 2);
    }
    world_stop(ws);
    test_free(ws);
}

/* --- Controlled shutdown ------------------------------------------------------------- */

struct shutdown_call {
    bool done;
    bool granted;
};

static void shutdown_done(void *arg, bool granted) {
    struct shutdown_call *c = arg;
    c->done = true;
    c->granted = granted;
}

static bool shutdown_finished(struct world_state *ws, void *arg) {
    (void)ws;
    return ((struct shutdown_call *)arg)->done;
}

/* A broker asking for a controlled shutdown loses its leaderships and ISR places before it
 * is told to go, so no partition waits for its session to lapse. */
static void test_controlled_shutdown(void **state) {
    (void)state;
    struct world_state *ws = test_malloc(sizeof(*ws));
    world_start(ws, 61, "");
    assert_true(run_until(ws, all_ready, NULL, 30000));
    assert_int_equal(create_topic(ws, 0, "s", 4, 2), 0);
    struct topic_wait tw = {"s", 4};
    assert_true(run_until(ws, topic_everywhere, &tw, 10000));
    struct node_state *going = &ws->brokers[0];
    struct node_state *staying = &ws->brokers[1];
    struct shutdown_call c = {0};
    assert_int_equal(quorum_client_shutdown(going->qc, shutdown_done, &c), 0);
    assert_int_equal(quorum_client_shutdown(going->qc, shutdown_done, &c), -EALREADY);
    assert_false(c.done);
    assert_true(run_until(ws, shutdown_finished, &c, 10000));
    assert_true(c.granted);
    sim_world_run_until(ws->world, sim_world_now_ns(ws->world) + 200 * NS_PER_MS);
    const struct metadata_topic *t = metadata_topic_find(quorum_client_image(staying->qc), "s");
    for (int32_t i = 0; i < t->partition_count; i++) {
        const struct metadata_partition *p = &t->partitions[i];
        assert_int_equal(p->leader, staying->id);
        assert_false(metadata_partition_in_isr(p, going->id));
    }
    /* Not fenced yet: it still heartbeats until it stops. */
    assert_false(metadata_broker_find(quorum_client_image(staying->qc), going->id)->fenced);
    quorum_client_stop(going->qc);
    going->qc = NULL;
    assert_int_equal(sim_node_live_bytes(going->node), 0);
    sim_node_crash(going->node); /* Gone for good (world_stop skips it). */
    int32_t id = going->id;
    assert_true(run_until(ws, broker_fenced, &id, 10000));
    world_stop(ws);
    test_free(ws);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_create_alter_fence),
        cmocka_unit_test(test_controller_failover),
        cmocka_unit_test(test_admin_requests_and_errors),
        cmocka_unit_test(test_fence_clean_then_return),
        cmocka_unit_test(test_fence_unclean_election),
        cmocka_unit_test(test_eligible_leader_replicas),
        cmocka_unit_test(test_stalled_controller_renews_sessions),
        cmocka_unit_test(test_controlled_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
