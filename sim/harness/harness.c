/*
 * harness.c — one scenario run: world setup, workloads, faults, heal, final read, checkers,
 * verdict and report (see harness.h).
 *
 * Node programs here (brokers, admin, workloads, verifier) run inside the simulated world
 * and talk only through their io; the harness's own bookkeeping (history, trace, images)
 * lives outside the nodes and uses the C allocator. Every decision that reaches the
 * trace comes from the scenario, the seed's PRNG streams or the virtual clock.
 */
#include "sim/harness/harness.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "broker/broker.h"
#include "checkers/check.h"
#include "checkers/history.h"
#include "checkers/log_image.h"
#include "checkers/trace.h"
#include "client/client.h"
#include "client/consumer.h"
#include "client/group_consumer.h"
#include "client/producer.h"
#include "controller/controller.h"
#include "proto/proto.h"
#include "reports/report.h"
#include "sim/harness/image.h"
#include "sim/disk.h"
#include "sim/sim.h"

#define NS_PER_MS              1000000ULL
#define NS_PER_S               1000000000ULL
#define HARNESS_PORT           9092
#define HARNESS_CTL_PORT       9093
#define HARNESS_QUIET_NS       (5 * NS_PER_S)  /* After healing, before the final read. */
#define HARNESS_NODES_MAX      (SCN_BROKERS_MAX + SCN_CONTROLLERS_MAX)
#define HARNESS_VOTERS_MAX     9
#define HARNESS_VERIFY_NS      (30 * NS_PER_S) /* Bound on the final read (I-LIVE-2). */
#define HARNESS_RECOVERIES_MAX 1024
#define HARNESS_RESULTS_MAX    (SCN_CHECKS_MAX + 2)

struct harness;

/* A server node: a broker n<i> (maybe combined with a controller) or a dedicated
 * controller q<j> (`controller_only`, started with controller_start). */
struct h_broker {
    struct harness *h;
    char name[8];
    struct sim_node *node;
    struct broker_config config;
    bool controller_only;
    struct broker *broker; /* NULL while down or when start failed. */
    struct controller *controller; /* controller_only: NULL while down or failed. */
    bool running; /* Started successfully since the last crash. */
    int start_rc;
    bool crashed;
    /* Open crash (for I-LOG-2): trace index of its fault event, and its time. */
    size_t crash_event;
    uint64_t crash_ns;
};

struct h_workload {
    struct harness *h;
    const struct scn_workload *w;
    int32_t process;
    struct sim_node *node;
    struct io *io;
    struct producer *producer;
    struct consumer *consumer;
    struct group_consumer *gc; /* Group mode (`consumer ... group G`). */
    uint32_t assignment;       /* Bumps on every assignment the group hands out. */
    uint64_t seq;
    bool stopped;
    size_t fetch_op;
    int32_t partitions[SCN_PARTITIONS_MAX];
    size_t partition_count;
    char topic[SCN_NAME_MAX];
    bool verifier;
};

struct harness {
    struct scenario scn;
    const struct harness_options *options;
    struct sim_world *world;
    struct history hist;
    struct trace trace;
    struct h_broker brokers[HARNESS_NODES_MAX]; /* n1..nN, then q1..qM. */
    int32_t node_count;                         /* N + M. */
    char bootstrap[SCN_BROKERS_MAX * 16];       /* "n1:9092,n2:9092,...". */
    uint64_t quiet_ns;                          /* After the final heal, before verifying. */
    struct h_workload workloads[SCN_WORKLOADS_MAX];
    struct h_workload verifiers[SCN_TOPICS_MAX];
    size_t verifier_count;
    const char *process_names[SCN_WORKLOADS_MAX + SCN_TOPICS_MAX];
    size_t process_count;
    struct sim_node *admin;
    bool topics_ready;
    bool ending;
    bool verifying;
    bool system_crash;
    char crash_text[HARNESS_TEXT_MAX];
    struct image_pool pool;
    struct check_recovery recoveries[HARNESS_RECOVERIES_MAX];
    size_t recovery_count;
    bool paused[SIM_NODES_MAX];
};

const char *harness_exit_name(enum harness_exit code) {
    switch (code) {
    case HARNESS_EXIT_PASS:
        return "pass";
    case HARNESS_EXIT_SAFETY:
        return "safety violation";
    case HARNESS_EXIT_LIVENESS:
        return "liveness violation";
    case HARNESS_EXIT_CRASH:
        return "system crash";
    case HARNESS_EXIT_MISSED:
        return "expected violation missed";
    case HARNESS_EXIT_CANNOT_RUN:
        return "cannot run";
    }
    return "?";
}

static uint64_t now_ns(struct harness *h) { return sim_world_now_ns(h->world); }

/* --- Trace ------------------------------------------------------------------------------ */

static void on_trace(void *arg, struct sim_node *node, uint64_t now, const char *event,
                     const struct io_trace_field *fields, size_t count) {
    struct harness *h = arg;
    trace_add(&h->trace, now, sim_node_name(node), event, fields, MIN(count, TRACE_FIELDS_MAX));
}

static size_t trace_fault(struct harness *h, const char *kind, const char *target,
                          const char *text) {
    struct io_trace_field f[3] = {IO_TF_S("kind", kind), IO_TF_S("target", target),
                                  IO_TF_S("text", text)};
    return trace_add(&h->trace, now_ns(h), "sim", "fault", f, 3);
}

/* --- Brokers ---------------------------------------------------------------------------- */

static void broker_main(struct io *io, void *arg) {
    struct h_broker *b = arg;
    b->broker = NULL;
    b->running = false;
    if (b->controller_only) {
        b->controller = NULL;
        b->start_rc = controller_start(io, &b->config, &b->controller);
        if (b->start_rc < 0) b->controller = NULL;
    } else {
        b->start_rc = broker_start(io, &b->config, &b->broker);
        if (b->start_rc < 0) b->broker = NULL;
    }
    b->running = b->start_rc >= 0;
}

static void config_warn(void *arg, const char *message) {
    (void)arg;
    (void)message; /* Unknown keys are Kafka's warnings; the scenario may set any. */
}

/* Whether the scenario is one broker and no controllers: the configuration stays the
 * single-node one of before the quorum existed (the node is its own one-voter quorum). */
static bool single_node(const struct scenario *scn) {
    return scn->brokers == 1 && scn->controllers == 0;
}

/* controller.quorum.voters per REPLICATION.md "Roles": with no dedicated controllers the
 * first min(N, 3) brokers are combined voters, else q1..qM (ids 1000 + j). */
static void quorum_voters(const struct scenario *scn, char *out, size_t out_len) {
    size_t n = 0;
    out[0] = '\0';
    int32_t voters = scn->controllers > 0 ? scn->controllers : MIN(scn->brokers, 3);
    for (int32_t i = 1; i <= voters && n < out_len; i++) {
        if (scn->controllers > 0) {
            n += (size_t)snprintf(out + n, out_len - n, "%s%d@q%d:%d", i > 1 ? "," : "",
                                  1000 + i, i, HARNESS_CTL_PORT);
        } else {
            n += (size_t)snprintf(out + n, out_len - n, "%s%d@n%d:%d", i > 1 ? "," : "", i, i,
                                  HARNESS_CTL_PORT);
        }
    }
}

static bool is_voter(const struct scenario *scn, const struct h_broker *b, int32_t id) {
    if (b->controller_only) return true;
    return scn->controllers == 0 && id <= MIN(scn->brokers, 3);
}

static int broker_configure(struct harness *h, struct h_broker *b, int32_t id, char *err,
                            size_t err_len) {
    char text[16384];
    size_t n = 0;
    if (single_node(&h->scn)) {
        n = (size_t)snprintf(text, sizeof(text),
                             "node.id=%d\nlisteners=PLAINTEXT://:%d\n"
                             "advertised.listeners=PLAINTEXT://%s:%d\nlog.dirs=/data\n"
                             "auto.create.topics.enable=false\n",
                             id, HARNESS_PORT, b->name, HARNESS_PORT);
    } else {
        char voters[HARNESS_VOTERS_MAX * 24];
        quorum_voters(&h->scn, voters, sizeof(voters));
        bool voter = is_voter(&h->scn, b, id);
        const char *roles = b->controller_only ? "controller"
                            : voter            ? "broker,controller"
                                               : "broker";
        /* controller.listener.names only where that listener exists (a broker-only node
         * reaches the voters through controller.quorum.voters). */
        n = (size_t)snprintf(text, sizeof(text),
                             "node.id=%d\nprocess.roles=%s\ncontroller.quorum.voters=%s\n"
                             "%slog.dirs=/data\nauto.create.topics.enable=false\n",
                             id, roles, voters,
                             voter ? "controller.listener.names=CONTROLLER\n" : "");
        if (b->controller_only) {
            n += (size_t)snprintf(text + n, sizeof(text) - n, "listeners=CONTROLLER://:%d\n",
                                  HARNESS_CTL_PORT);
        } else {
            char ctl[32] = "";
            if (voter) snprintf(ctl, sizeof(ctl), ",CONTROLLER://:%d", HARNESS_CTL_PORT);
            n += (size_t)snprintf(text + n, sizeof(text) - n,
                                  "listeners=PLAINTEXT://:%d%s\n"
                                  "advertised.listeners=PLAINTEXT://%s:%d\n",
                                  HARNESS_PORT, ctl, b->name, HARNESS_PORT);
        }
    }
    for (size_t i = 0; i < h->scn.config_count && n < sizeof(text); i++) {
        const struct scn_broker_config *c = &h->scn.configs[i];
        if (strcmp(c->node, "all") != 0) continue;
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s=%s\n", c->kv.key, c->kv.value);
    }
    for (size_t i = 0; i < h->scn.config_count && n < sizeof(text); i++) {
        const struct scn_broker_config *c = &h->scn.configs[i];
        if (strcmp(c->node, b->name) != 0) continue;
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s=%s\n", c->kv.key, c->kv.value);
    }
    if (n >= sizeof(text)) {
        snprintf(err, err_len, "broker %s: configuration too long", b->name);
        return -E2BIG;
    }
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    broker_config_defaults(&b->config);
    int rc = broker_config_parse(&b->config, text, n, config_warn, NULL, error);
    if (rc < 0) snprintf(err, err_len, "broker %s: %s", b->name, error);
    return rc;
}

/* --- Admin: create the topics ----------------------------------------------------------- */

struct admin {
    struct harness *h;
    struct io *io;
    struct client *client;
    int32_t target; /* Broker index the client talks to; moves on after a failure. */
    size_t next_topic;
    bool in_flight;
    io_timer_id timeout; /* Multi-node: gives up on an unanswered CreateTopics. */
};

#define ADMIN_TIMEOUT_NS (7 * NS_PER_S) /* The request's own timeout_ms is 5 s. */

/* After a failure: drop the connection and try the next broker (any broker forwards
 * CreateTopics to the active controller, which may not be elected yet). */
static void admin_rotate(struct admin *a) {
    if (a->client != NULL) client_destroy(a->client);
    a->client = NULL;
    a->target = (a->target + 1) % MAX(a->h->scn.brokers, 1);
}

static void admin_step(void *arg);

static void admin_done(void *arg, int status, const void *body) {
    struct admin *a = arg;
    a->in_flight = false;
    if (a->timeout != 0) io_timer_cancel(a->io, a->timeout);
    a->timeout = 0;
    bool ok = false;
    if (status == 0) {
        const struct proto_create_topics_response *r = body;
        int16_t error = r->topics.count == 1 ? r->topics.items[0].error_code : -1;
        ok = error == 0 || error == 36 /* TOPIC_ALREADY_EXISTS */;
        if (ok) a->next_topic++;
    }
    if (a->next_topic == a->h->scn.topic_count) {
        a->h->topics_ready = true;
        return; /* The admin node stays idle; its client closes with the world. */
    }
    uint64_t delay_ns = status == 0 ? 0 : 100 * NS_PER_MS;
    if (!single_node(&a->h->scn) && !ok) {
        /* No quorum yet, too few registered brokers for the replication factor, or a
         * broker that is down: back off and ask another one. Not from inside the client's
         * own callback (admin_rotate destroys it): admin_step does it. */
        delay_ns = 200 * NS_PER_MS;
        a->target = -1 - a->target; /* Marks "rotate first"; decoded in admin_step. */
    }
    io_timer_start(a->io, io_now_ns(a->io) + delay_ns, admin_step, a);
}

/* A broker that took the request and never answered (it lost its controller, or was cut
 * off): drop the connection; its pending request completes with -ECANCELED, and admin_done
 * moves on to the next broker. */
static void admin_timeout(void *arg) {
    struct admin *a = arg;
    a->timeout = 0;
    if (!a->in_flight || a->client == NULL) return;
    struct client *c = a->client;
    a->client = NULL; /* Detached first: admin_done runs from inside client_destroy. */
    client_destroy(c);
}

static void admin_step(void *arg) {
    struct admin *a = arg;
    if (a->in_flight) return;
    if (a->target < 0) {
        a->target = -1 - a->target;
        admin_rotate(a);
    }
    const struct scn_topic *t = &a->h->scn.topics[a->next_topic];
    struct proto_create_topics_request_config configs[SCN_TOPIC_CONFIGS_MAX];
    for (size_t i = 0; i < t->config_count; i++) {
        configs[i] = (struct proto_create_topics_request_config){
            .name = proto_string_from(t->configs[i].key),
            .value = proto_string_from(t->configs[i].value)};
    }
    struct proto_create_topics_request_topic rt = {.name = proto_string_from(t->name),
                                                   .num_partitions = t->partitions,
                                                   .replication_factor = (int16_t)t->replication};
    rt.assignments.count = 0;
    rt.configs.items = configs;
    rt.configs.count = (int32_t)t->config_count;
    struct proto_create_topics_request req = {.timeout_ms = 5000};
    req.topics.items = &rt;
    req.topics.count = 1;
    if (a->client == NULL) {
        a->client =
            client_create(a->io, a->h->brokers[a->target].name, HARNESS_PORT, "trial-admin");
    }
    int rc = client_send(a->client, PROTO_API_CREATE_TOPICS, 2, &req, admin_done, a);
    if (rc < 0) {
        admin_rotate(a);
        io_timer_start(a->io, io_now_ns(a->io) + 100 * NS_PER_MS, admin_step, a);
        return;
    }
    a->in_flight = true;
    if (!single_node(&a->h->scn)) {
        a->timeout = io_timer_start(a->io, io_now_ns(a->io) + ADMIN_TIMEOUT_NS, admin_timeout, a);
    }
}

static void admin_main(struct io *io, void *arg) {
    struct harness *h = arg;
    struct admin *a = io_calloc(io, 1, sizeof(*a));
    a->h = h;
    a->io = io;
    if (h->scn.topic_count == 0) {
        h->topics_ready = true;
        return;
    }
    io_timer_start(io, io_now_ns(io) + 10 * NS_PER_MS, admin_step, a);
}

/* --- Producer workloads ----------------------------------------------------------------- */

static void on_produce_result(void *arg, uint64_t token, enum producer_status status,
                              int32_t partition, int64_t offset, int16_t error) {
    struct h_workload *wl = arg;
    enum hist_status s = status == PRODUCER_OK       ? HIST_OK
                         : status == PRODUCER_FAILED ? HIST_FAILED
                                                     : HIST_UNKNOWN;
    history_produce_complete(&wl->h->hist, (size_t)token, s, now_ns(wl->h),
                             s == HIST_OK ? offset : -1, error);
}

static void producer_tick(void *arg);

static bool producer_should_stop(const struct h_workload *wl) {
    const struct scn_workload *w = wl->w;
    if (wl->h->ending) return true;
    if (w->count > 0 && wl->seq >= w->count) return true;
    return w->stop_ns > 0 && now_ns(wl->h) >= w->stop_ns;
}

static void producer_tick(void *arg) {
    struct h_workload *wl = arg;
    struct harness *h = wl->h;
    const struct scn_workload *w = wl->w;
    if (producer_should_stop(wl)) {
        wl->stopped = true;
        return; /* The producer lives on to finish its retries. */
    }
    char value[128];
    int vlen = snprintf(value, sizeof(value), "%s#%" PRIu64, w->name, wl->seq);
    char key[32];
    const char *k = NULL;
    if (w->keys > 0) {
        snprintf(key, sizeof(key), "k%" PRIu64, wl->seq % w->keys);
        k = key;
    }
    size_t op = history_produce_invoke(&h->hist, wl->process, now_ns(h), w->topic, -1, k, value,
                                       w->acks, false);
    if (op != HISTORY_NONE) h->hist.ops[op].idempotent = w->idempotent;
    /* The payload is the unique id padded with '~' to value-bytes; readers strip the pad. */
    size_t full = MAX((size_t)vlen, (size_t)w->value_bytes);
    uint8_t *big = malloc(full);
    ASSERT(big != NULL);
    memcpy(big, value, (size_t)vlen);
    memset(big + vlen, '~', full - (size_t)vlen);
    int32_t chosen = -1;
    int rc = op == HISTORY_NONE ? -ENOBUFS
                                : producer_send(wl->producer, (const uint8_t *)k,
                                                k != NULL ? (int32_t)strlen(k) : -1, big,
                                                (int32_t)full, -1, op, &chosen);
    free(big);
    if (op != HISTORY_NONE) {
        if (rc == 0) {
            h->hist.ops[op].partition = chosen;
        } else {
            history_produce_complete(&h->hist, op, HIST_FAILED, now_ns(h), -1, 0);
        }
    }
    wl->seq++;
    uint64_t interval = NS_PER_S / MAX(w->rate_per_s, 1u);
    io_timer_start(wl->io, io_now_ns(wl->io) + MAX(interval, 1u), producer_tick, wl);
}

static void producer_main(struct io *io, void *arg) {
    struct h_workload *wl = arg;
    wl->io = io;
    struct producer_config pc;
    producer_config_defaults(&pc);
    pc.host = "n1";
    pc.port = HARNESS_PORT;
    pc.bootstrap = single_node(&wl->h->scn) ? NULL : wl->h->bootstrap;
    pc.client_id = wl->w->name;
    pc.topic = wl->w->topic;
    pc.acks = (int16_t)wl->w->acks;
    pc.idempotent = wl->w->idempotent;
    pc.request_timeout_ms = 10000;
    pc.delivery_timeout_ms = 30000;
    pc.on_result = on_produce_result;
    pc.arg = wl;
    int rc = producer_create(io, &pc, &wl->producer);
    ASSERT(rc == 0);
    uint64_t now = now_ns(wl->h);
    uint64_t delay = wl->w->start_ns > now ? wl->w->start_ns - now : 0;
    io_timer_start(io, io_now_ns(io) + delay, producer_tick, wl);
}

/* --- Consumer workloads and the verifying read ------------------------------------------- */

static void on_fetch_start(void *arg, uint32_t generation) {
    struct h_workload *wl = arg;
    wl->fetch_op =
        history_fetch_invoke(&wl->h->hist, wl->process, now_ns(wl->h), wl->topic, generation,
                             wl->w != NULL && wl->w->isolation == SCN_READ_COMMITTED);
}

static void on_poll(void *arg, int status, const struct consumer_record *records, size_t count,
                    int16_t error, uint32_t generation) {
    struct h_workload *wl = arg;
    struct harness *h = wl->h;
    if (wl->fetch_op == HISTORY_NONE) return;
    size_t n = MIN(count, (size_t)HISTORY_RECORDS_PER_FETCH_MAX);
    struct hist_record *rs = calloc(MAX(n, 1u), sizeof(*rs));
    ASSERT(rs != NULL);
    for (size_t i = 0; i < n; i++) {
        int32_t len = MAX(records[i].value_len, 0);
        while (len > 0 && records[i].value[len - 1] == '~')
            len--;
        char *v = malloc((size_t)len + 1);
        ASSERT(v != NULL);
        if (len > 0) memcpy(v, records[i].value, (size_t)len);
        v[len] = '\0';
        rs[i] = (struct hist_record){
            .partition = records[i].partition, .offset = records[i].offset, .value = v};
    }
    history_fetch_complete(&h->hist, wl->fetch_op, status == 0 ? HIST_OK : HIST_FAILED, now_ns(h),
                           rs, n, error);
    for (size_t i = 0; i < n; i++)
        free(rs[i].value);
    free(rs);
    wl->fetch_op = HISTORY_NONE;
    (void)generation;
}

static void consumer_start(void *arg) {
    struct h_workload *wl = arg;
    struct consumer_config cc;
    consumer_config_defaults(&cc);
    cc.host = "n1";
    cc.port = HARNESS_PORT;
    cc.bootstrap = single_node(&wl->h->scn) ? NULL : wl->h->bootstrap;
    cc.client_id = wl->verifier ? "trial-verifier" : wl->w->name;
    cc.topic = wl->topic;
    cc.partitions = wl->partitions;
    cc.partition_count = wl->partition_count;
    cc.reset_earliest = true;
    cc.read_committed = !wl->verifier && wl->w->isolation == SCN_READ_COMMITTED;
    cc.request_timeout_ms = 10000;
    cc.on_fetch_start = on_fetch_start;
    cc.on_poll = on_poll;
    cc.arg = wl;
    int rc = consumer_create(wl->io, &cc, &wl->consumer);
    ASSERT(rc == 0);
}

/* Group mode: the group consumer hands over records one by one; each becomes one fetch op
 * of one record under the member's current assignment (I-GRP-4 judges successive ones). */
static void on_group_record(void *arg, const char *topic, int32_t partition, int64_t offset,
                            const uint8_t *key, int32_t key_len, const uint8_t *value,
                            int32_t value_len) {
    struct h_workload *wl = arg;
    struct harness *h = wl->h;
    size_t op =
        history_fetch_invoke(&h->hist, wl->process, now_ns(h), topic, wl->assignment, false);
    if (op == HISTORY_NONE) return;
    int32_t len = MAX(value_len, 0);
    while (len > 0 && value[len - 1] == '~')
        len--;
    char *v = malloc((size_t)len + 1);
    ASSERT(v != NULL);
    if (len > 0) memcpy(v, value, (size_t)len);
    v[len] = '\0';
    struct hist_record r = {.partition = partition, .offset = offset, .value = v};
    history_fetch_complete(&h->hist, op, HIST_OK, now_ns(h), &r, 1, 0);
    free(v);
    (void)key, (void)key_len;
}

static void on_group_assigned(void *arg, const struct group_consumer_partition *parts, size_t count,
                              int32_t generation) {
    struct h_workload *wl = arg;
    wl->assignment++;
    (void)parts, (void)count, (void)generation;
}

static void group_start(void *arg) {
    struct h_workload *wl = arg;
    if (wl->stopped) return;
    struct group_consumer_config gc;
    group_consumer_config_defaults(&gc);
    gc.host = "n1";
    gc.port = HARNESS_PORT;
    gc.bootstrap = single_node(&wl->h->scn) ? NULL : wl->h->bootstrap;
    gc.client_id = wl->w->name;
    gc.group_id = wl->w->group;
    gc.topics[0] = wl->topic;
    gc.topic_count = 1;
    gc.reset_earliest = true;
    gc.auto_commit = true;
    gc.auto_commit_interval_ms = 1000;
    gc.on_record = on_group_record;
    gc.on_assigned = on_group_assigned;
    gc.arg = wl;
    int rc = group_consumer_create(wl->io, &gc, &wl->gc);
    ASSERT(rc == 0);
}

static void consumer_main(struct io *io, void *arg) {
    struct h_workload *wl = arg;
    wl->io = io;
    wl->fetch_op = HISTORY_NONE;
    uint64_t now = now_ns(wl->h);
    uint64_t delay = !wl->verifier && wl->w->start_ns > now ? wl->w->start_ns - now : 0;
    bool group = !wl->verifier && wl->w->group[0] != '\0';
    io_timer_start(io, io_now_ns(io) + delay, group ? group_start : consumer_start, wl);
}

static void group_destroy_cb(void *arg) {
    struct h_workload *wl = arg;
    if (wl->gc != NULL) group_consumer_destroy(wl->gc);
    wl->gc = NULL;
}

static void group_closed(void *arg, int result) {
    struct h_workload *wl = arg;
    (void)result;
    /* Not from inside the group consumer's own callback: on the next turn of the loop. */
    io_timer_start(wl->io, io_now_ns(wl->io), group_destroy_cb, wl);
}

static void consumer_stop_cb(struct sim_world *world, void *arg) {
    (void)world;
    struct h_workload *wl = arg;
    if (wl->consumer != NULL && !wl->stopped) {
        consumer_destroy(wl->consumer); /* A fetch in flight stays PENDING. */
        wl->consumer = NULL;
    }
    if (wl->gc != NULL && !wl->stopped) {
        /* A stopping workload leaves its group (LeaveGroup), so the others rebalance now
         * rather than after its session timeout; it is freed once the broker answered. */
        group_consumer_close(wl->gc, group_closed, wl);
    }
    wl->stopped = true;
}

/* --- Faults ----------------------------------------------------------------------------- */

struct h_fault_event {
    struct harness *h;
    const struct scn_fault *f;
};

static struct h_broker *broker_named(struct harness *h, const char *name) {
    for (int32_t i = 0; i < h->node_count; i++) {
        if (strcmp(h->brokers[i].name, name) == 0) return &h->brokers[i];
    }
    return NULL;
}

static struct sim_node *node_named(struct harness *h, const char *name) {
    if (name == NULL || name[0] == '\0') return NULL;
    return sim_node_find(h->world, name);
}

static void set_link_both(struct harness *h, struct sim_node *a, struct sim_node *b,
                          const struct sim_link_config *c) {
    sim_net_set_link(h->world, a, b, c);
    sim_net_set_link(h->world, b, a, c);
}

static const struct sim_link_config default_link = {.latency_min_ns = 100 * 1000,
                                                    .latency_max_ns = 2 * NS_PER_MS,
                                                    .bandwidth_bytes_per_s = 100ULL * 1000 * 1000};

static void snapshot_recovery(struct sim_world *world, void *arg);

static void broker_crash(struct harness *h, struct h_broker *b, enum scn_crash_mode mode,
                         const char *text) {
    if (!sim_node_is_up(b->node)) return;
    struct sim_crash_model model = {
        .keep_permille = 300, .drop_permille = 300, .tear_keep_permille = 500};
    if (mode == SCN_CRASH_KEEP) model = (struct sim_crash_model){.keep_permille = 1000};
    if (mode == SCN_CRASH_LOSE) model = (struct sim_crash_model){.drop_permille = 1000};
    if (mode == SCN_CRASH_TORN) {
        model = (struct sim_crash_model){.tear_keep_permille = 500};
    }
    sim_disk_set_crash_model(b->node, &model);
    b->crash_event = trace_fault(h, "crash", b->name, text);
    b->crash_ns = now_ns(h);
    b->crashed = true;
    b->broker = NULL;
    b->controller = NULL;
    b->running = false;
    sim_node_crash(b->node);
}

static void broker_restart(struct harness *h, struct h_broker *b, const char *text) {
    if (sim_node_is_up(b->node)) return;
    trace_fault(h, "restart", b->name, text);
    sim_node_restart(b->node);
    /* Runs after the start event just scheduled (same instant, later sequence). */
    sim_world_schedule(h->world, now_ns(h), snapshot_recovery, b);
}

static void apply_fault(struct sim_world *world, void *arg) {
    (void)world;
    struct h_fault_event *fe = arg;
    struct harness *h = fe->h;
    const struct scn_fault *f = fe->f;
    char text[256];
    scn_fault_describe(f, text, sizeof(text));
    if (h->ending) return;
    struct sim_node *a = node_named(h, f->a);
    struct sim_node *b = node_named(h, f->b);
    struct h_broker *br = broker_named(h, f->a);
    switch (f->kind) {
    case SCN_FAULT_CRASH:
        if (br != NULL) broker_crash(h, br, f->crash_mode, text);
        return;
    case SCN_FAULT_RESTART:
        if (br != NULL) broker_restart(h, br, text);
        return;
    default:
        break;
    }
    trace_fault(h, scn_fault_kind_name(f->kind), f->a, text);
    switch (f->kind) {
    case SCN_FAULT_PAUSE:
        if (a != NULL && !sim_node_is_paused(a)) sim_node_pause(a);
        break;
    case SCN_FAULT_RESUME:
        if (a != NULL && sim_node_is_paused(a)) sim_node_resume(a);
        break;
    case SCN_FAULT_PARTITION:
        if (a != NULL && b != NULL) sim_net_partition(h->world, a, b, f->one_way);
        break;
    case SCN_FAULT_ISOLATE:
        for (size_t i = 0; i < sim_node_count(h->world) && a != NULL; i++) {
            struct sim_node *o = sim_node_at(h->world, i);
            if (o != a) sim_net_partition(h->world, a, o, false);
        }
        break;
    case SCN_FAULT_HEAL:
        if (strcmp(f->a, "all") == 0) {
            sim_net_heal_all(h->world);
            sim_net_set_link(h->world, NULL, NULL, &default_link);
        } else if (a != NULL && b != NULL) {
            sim_net_heal(h->world, a, b);
            set_link_both(h, a, b, &default_link);
        } else if (a != NULL) {
            for (size_t i = 0; i < sim_node_count(h->world); i++) {
                struct sim_node *o = sim_node_at(h->world, i);
                if (o != a) sim_net_heal(h->world, a, o);
            }
            set_link_both(h, a, NULL, &default_link);
        }
        break;
    case SCN_FAULT_SLOW: {
        struct sim_link_config c = default_link;
        c.latency_min_ns += f->latency_ns;
        c.latency_max_ns += f->latency_ns;
        if (f->bandwidth_bps > 0) c.bandwidth_bytes_per_s = f->bandwidth_bps;
        if (a != NULL) set_link_both(h, a, b, &c);
        break;
    }
    case SCN_FAULT_DISK: {
        int err = f->disk_error == SCN_DISK_ENOSPC ? ENOSPC : EIO;
        uint32_t times = f->disk_times == 0 ? UINT32_MAX : f->disk_times;
        static const enum sim_disk_op ops[] = {SIM_DISK_OPEN, SIM_DISK_READ, SIM_DISK_WRITE,
                                               SIM_DISK_SYNC, SIM_DISK_RENAME};
        for (size_t i = 0; i < ARRAY_LEN(ops) && a != NULL; i++) {
            bool hit = f->disk_op == SCN_DISK_ANY ||
                       (f->disk_op == SCN_DISK_OPEN && ops[i] == SIM_DISK_OPEN) ||
                       (f->disk_op == SCN_DISK_READ && ops[i] == SIM_DISK_READ) ||
                       (f->disk_op == SCN_DISK_WRITE && ops[i] == SIM_DISK_WRITE) ||
                       (f->disk_op == SCN_DISK_FSYNC && ops[i] == SIM_DISK_SYNC) ||
                       (f->disk_op == SCN_DISK_RENAME && ops[i] == SIM_DISK_RENAME);
            if (hit) sim_disk_fail(a, ops[i], err, times);
        }
        break;
    }
    case SCN_FAULT_DISK_CLEAR:
        for (int op = 0; op < SIM_DISK_OP_COUNT && a != NULL; op++) {
            sim_disk_fail(a, (enum sim_disk_op)op, EIO, 0);
        }
        break;
    case SCN_FAULT_CLOCK_SKEW:
        if (a != NULL) sim_node_set_clock(a, f->clock_ns / (int64_t)NS_PER_MS, 0);
        break;
    case SCN_FAULT_CLOCK_JUMP:
        if (a != NULL) sim_node_jump_wall(a, f->clock_ns / (int64_t)NS_PER_MS);
        break;
    default:
        break;
    }
}

/* --- Disk images ------------------------------------------------------------------------ */

static void snapshot_recovery(struct sim_world *world, void *arg) {
    (void)world;
    struct h_broker *b = arg;
    struct harness *h = b->h;
    if (!b->crashed || !sim_node_is_up(b->node)) return;
    b->crashed = false;
    if (b->controller_only) return; /* No partition logs: its metadata log is Raft's. */
    for (size_t t = 0; t < h->scn.topic_count; t++) {
        const struct scn_topic *topic = &h->scn.topics[t];
        for (int32_t p = 0; p < topic->partitions; p++) {
            if (h->recovery_count == HARNESS_RECOVERIES_MAX) return;
            struct li_log *img = image_pool_log(&h->pool);
            if (image_collect(&h->pool, b->node, b->name, topic->name, p, img) < 0) continue;
            struct check_recovery *r = &h->recoveries[h->recovery_count];
            /* As many batches as the log ever held, up to a bound: grow on -E2BIG. */
            int64_t n = -E2BIG;
            int64_t synced = 0;
            struct li_batch *appended = NULL;
            for (size_t cap = 1u << 12; n == -E2BIG && cap <= (1u << 22); cap *= 4) {
                appended = image_pool_alloc(&h->pool, cap * sizeof(*appended));
                n = li_log_from_trace(&h->trace, b->name, topic->name, p, b->crash_event,
                                      appended, cap, &synced);
            }
            if (n < 0) continue;
            *r = (struct check_recovery){.recovered = img,
                                         .appended = appended,
                                         .appended_count = (size_t)n,
                                         .synced_end_offset = synced,
                                         .crash_ns = b->crash_ns};
            h->recovery_count++;
        }
    }
}

/* --- End of the run: heal, quiet, verify -------------------------------------------------- */

static void end_of_run(struct sim_world *world, void *arg) {
    (void)world;
    struct harness *h = arg;
    h->ending = true;
    trace_fault(h, "heal", "all", "end of run: heal everything");
    for (size_t i = 0; i < h->scn.workload_count; i++) {
        struct h_workload *wl = &h->workloads[i];
        if (wl->w->kind == SCN_CONSUMER) consumer_stop_cb(world, wl);
    }
    if (h->options->no_heal) return;
    sim_net_heal_all(h->world);
    sim_net_set_link(h->world, NULL, NULL, &default_link);
    for (size_t i = 0; i < sim_node_count(h->world); i++) {
        struct sim_node *n = sim_node_at(h->world, i);
        if (sim_node_is_paused(n)) sim_node_resume(n);
        for (int op = 0; op < SIM_DISK_OP_COUNT; op++) {
            sim_disk_fail(n, (enum sim_disk_op)op, EIO, 0);
        }
    }
    for (int32_t i = 0; i < h->node_count; i++) {
        struct h_broker *b = &h->brokers[i];
        if (!sim_node_is_up(b->node)) broker_restart(h, b, "end of run: restart");
    }
}

static void start_verify(struct sim_world *world, void *arg) {
    (void)world;
    struct harness *h = arg;
    for (int32_t i = 0; i < h->node_count; i++) {
        struct h_broker *b = &h->brokers[i];
        if (!b->running && !h->system_crash) {
            h->system_crash = true;
            snprintf(h->crash_text, sizeof(h->crash_text),
                     "%s %s is not running after every fault healed (start: %s)",
                     b->controller_only ? "controller" : "broker", b->name,
                     strerror(b->start_rc < 0 ? -b->start_rc : 0));
        }
    }
    h->verifying = true;
    trace_fault(h, "verify", "all", "final verifying read of every partition");
    for (size_t t = 0; t < h->scn.topic_count; t++) {
        struct h_workload *v = &h->verifiers[h->verifier_count++];
        v->h = h;
        v->verifier = true;
        v->process = (int32_t)(h->scn.workload_count + t);
        snprintf(v->topic, sizeof(v->topic), "%s", h->scn.topics[t].name);
        v->partition_count = (size_t)h->scn.topics[t].partitions;
        for (size_t p = 0; p < v->partition_count; p++)
            v->partitions[p] = (int32_t)p;
        char name[SIM_NODE_NAME_MAX];
        snprintf(name, sizeof(name), "verify%zu", t + 1);
        v->node = sim_node_add(h->world, name, consumer_main, v);
    }
}

static bool verified(const struct harness *h) {
    if (!h->verifying) return false;
    for (size_t i = 0; i < h->verifier_count; i++) {
        const struct h_workload *v = &h->verifiers[i];
        if (v->consumer == NULL || !consumer_caught_up(v->consumer)) return false;
    }
    return true;
}

/* --- Checkers and verdict ----------------------------------------------------------------- */

/* The last `hw` trace event of `node` for the partition (REPLICATION.md), or -1. */
static int64_t last_traced_hw(const struct trace *t, const char *node, const char *topic,
                              int32_t partition) {
    for (size_t i = t->count; i > 0; i--) {
        const struct trace_event *e = &t->events[i - 1];
        if (strcmp(e->name, "hw") != 0 || strcmp(e->node, node) != 0) continue;
        const char *et = trace_get_str(e, "topic");
        int64_t p = -1, hw = -1;
        if (et == NULL || strcmp(et, topic) != 0) continue;
        if (!trace_get_int(e, "partition", &p) || p != partition) continue;
        return trace_get_int(e, "hw", &hw) ? hw : -1;
    }
    return -1;
}

static void collect_final_images(struct harness *h, struct li_log **logs, size_t *count) {
    size_t total = 0;
    for (size_t t = 0; t < h->scn.topic_count; t++)
        total += (size_t)h->scn.topics[t].partitions;
    total *= (size_t)h->scn.brokers;
    struct li_log *out = image_pool_alloc(&h->pool, MAX(total, 1u) * sizeof(*out));
    size_t n = 0;
    /* Partition-major, so the replicas of one partition sit together in the report. */
    for (size_t t = 0; t < h->scn.topic_count; t++) {
        for (int32_t p = 0; p < h->scn.topics[t].partitions; p++) {
            for (int32_t i = 0; i < h->scn.brokers; i++) {
                struct h_broker *b = &h->brokers[i];
                if (!sim_node_is_up(b->node)) continue;
                if (image_collect(&h->pool, b->node, b->name, h->scn.topics[t].name, p, &out[n]) <
                    0) {
                    continue;
                }
                /* The HW for the picture: what the verifying read was last told, or with
                 * replicas each node's own last traced HW. */
                const struct h_workload *v = t < h->verifier_count ? &h->verifiers[t] : NULL;
                if (!single_node(&h->scn)) {
                    out[n].hw = last_traced_hw(&h->trace, b->name, h->scn.topics[t].name, p);
                } else if (v != NULL && v->consumer != NULL) {
                    out[n].hw = consumer_high_watermark(v->consumer, (size_t)p);
                }
                n++;
            }
        }
    }
    *logs = out;
    *count = n;
}

bool harness_supported(const struct scenario *scn, char *why, size_t why_len) {
    for (size_t i = 0; i < scn->workload_count; i++) {
        const struct scn_workload *w = &scn->workloads[i];
        if (w->kind == SCN_PRODUCER && w->transactional_id[0] != '\0') {
            snprintf(why, why_len, "producer %s is transactional: not supported by the client yet",
                     w->name);
            return false;
        }
        if (w->kind == SCN_PRODUCER && w->acks == 0) {
            snprintf(why, why_len,
                     "producer %s uses acks=0: system/client matches responses in order and "
                     "acks=0 gets none",
                     w->name);
            return false;
        }
    }
    for (size_t i = 0; i < scn->fault_count; i++) {
        const struct scn_fault *f = &scn->faults[i];
        bool server = f->a[0] == 'n' || f->a[0] == 'q';
        if ((f->kind == SCN_FAULT_CRASH || f->kind == SCN_FAULT_RESTART) && !server) {
            snprintf(why, why_len, "fault %zu: only brokers and controllers can crash and restart",
                     i + 1);
            return false;
        }
    }
    for (size_t i = 0; i < scn->check_count; i++) {
        if (!check_implemented(scn->checks[i])) {
            snprintf(why, why_len, "no checker implements %s yet", scn->checks[i]);
            return false;
        }
    }
    return true;
}

static void liveness_result(struct check_result *r, struct harness *h) {
    check_result_init(r, "I-LIVE-2");
    r->violated = true;
    r->violation_count = 1;
    r->time_ns = now_ns(h);
    snprintf(r->summary, sizeof(r->summary),
             "The final verifying read did not reach the high watermark of every partition "
             "within %" PRIu64 " s after every fault healed.",
             (uint64_t)(HARNESS_VERIFY_NS / NS_PER_S));
    for (size_t i = 0; i < h->verifier_count; i++) {
        const struct h_workload *v = &h->verifiers[i];
        for (size_t p = 0; v->consumer != NULL && p < v->partition_count; p++) {
            check_add_evidence(r, CHECK_EV_NOTE, 0,
                               "%s/%d: position %" PRId64 ", high watermark %" PRId64, v->topic,
                               v->partitions[p], consumer_position(v->consumer, p),
                               consumer_high_watermark(v->consumer, p));
        }
    }
}

static void write_report(struct harness *h, const struct check_result *culprit,
                         const struct li_log *logs, size_t log_count, uint64_t seed,
                         struct harness_result *result) {
    const struct harness_options *o = h->options;
    if (o->report_dir == NULL) return;
    char repro[HARNESS_TEXT_MAX];
    char path[256];
    snprintf(path, sizeof(path), "%s", o->scenario_path != NULL ? o->scenario_path : h->scn.name);
    int n = snprintf(repro, sizeof(repro), "trial run %s --seed %" PRIu64, path, seed);
    if (o->mutant != NULL && n > 0 && (size_t)n < sizeof(repro)) {
        snprintf(repro + n, sizeof(repro) - (size_t)n, " --mutant %s", o->mutant);
    }
    struct report_input in = {.result = culprit,
                              .history = &h->hist,
                              .trace = &h->trace,
                              .scenario = &h->scn,
                              .logs = logs,
                              .log_count = log_count,
                              .seed = seed,
                              .repro_command = repro,
                              .process_names = h->process_names,
                              .process_name_count = h->process_count};
    char err[256] = "";
    struct report_output out;
    int rc = report_write(&in, o->report_dir, &out, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "trial: report not written: %s\n", err);
        return;
    }
    /* What `trial replay` needs beyond scenario.scn: the seed, the mutant, the hash. */
    char replay[1024];
    snprintf(replay, sizeof(replay), "%s/replay.txt", o->report_dir);
    FILE *f = fopen(replay, "w");
    if (f != NULL) {
        fprintf(f, "seed %" PRIu64 "\nmutant %s\ntrace-hash %016" PRIx64 "\n", seed,
                o->mutant != NULL ? o->mutant : "-", result->trace_hash);
        fclose(f);
    }
    result->report_written = true;
    snprintf(result->report_dir, sizeof(result->report_dir), "%s", o->report_dir);
}

enum harness_exit harness_run(const struct scenario *scn_in, const struct harness_options *options,
                              struct harness_result *result) {
    memset(result, 0, sizeof(*result));
    struct harness *h = calloc(1, sizeof(*h));
    ASSERT(h != NULL);
    h->scn = *scn_in;
    h->options = options;
    uint64_t seed = options->has_seed ? options->seed : (h->scn.has_seed ? h->scn.seed : 1);
    result->seed = seed;
    if (!harness_supported(&h->scn, result->summary, sizeof(result->summary))) {
        free(h);
        result->exit_code = HARNESS_EXIT_CANNOT_RUN;
        return result->exit_code;
    }
    history_init(&h->hist, HISTORY_OPS_MAX_DEFAULT);
    trace_init(&h->trace, TRACE_EVENTS_MAX_DEFAULT);
    image_pool_init(&h->pool);
    h->world = sim_world_create(seed);
    sim_world_set_verbose(h->world, options->verbose);
    sim_world_set_mutant(h->world, options->mutant);
    sim_world_set_break(h->world, (enum sim_break)options->sim_break);
    sim_world_set_trace_hook(h->world, on_trace, h);
    sim_world_set_net_trace(h->world, true);
    /* Scenarios fail disks through sim_disk_fail, never through libfiu points: skip
     * libfiu's lookup on every disk operation (14% of a cluster run, bench_harness). */
    sim_world_set_disk_fiu(h->world, false);

    h->node_count = h->scn.brokers + h->scn.controllers;
    ASSERT(h->node_count <= HARNESS_NODES_MAX);
    h->quiet_ns = HARNESS_QUIET_NS;
    size_t bn = 0;
    for (int32_t i = 0; i < h->node_count; i++) {
        struct h_broker *b = &h->brokers[i];
        b->h = h;
        int32_t id = i + 1;
        if (i < h->scn.brokers) {
            snprintf(b->name, sizeof(b->name), "n%d", (int)((unsigned)(i + 1) % 100u));
            size_t room = sizeof(h->bootstrap) - MIN(bn, sizeof(h->bootstrap));
            bn += (size_t)snprintf(h->bootstrap + bn, room, "%s%s:%d", i > 0 ? "," : "", b->name,
                                   HARNESS_PORT);
            bn = MIN(bn, sizeof(h->bootstrap) - 1);
        } else {
            int32_t j = i - h->scn.brokers + 1;
            snprintf(b->name, sizeof(b->name), "q%d", (int)((unsigned)j % 10u));
            b->controller_only = true;
            id = 1000 + j;
        }
        if (broker_configure(h, b, id, result->summary, sizeof(result->summary)) < 0) {
            result->exit_code = HARNESS_EXIT_CANNOT_RUN;
            goto out;
        }
        if (!single_node(&h->scn)) {
            /* Long enough after the last heal for a fenced leader's session to expire and a
             * new leader to be elected and caught up: a few broker session timeouts. */
            uint64_t session_ns = (uint64_t)MAX(b->config.broker_session_timeout_ms, 0) * NS_PER_MS;
            h->quiet_ns = MAX(h->quiet_ns, HARNESS_QUIET_NS + 3 * session_ns);
        }
        b->node = sim_node_add(h->world, b->name, broker_main, b);
    }
    h->admin = sim_node_add(h->world, "admin", admin_main, h);
    for (size_t i = 0; i < h->scn.workload_count; i++) {
        struct h_workload *wl = &h->workloads[i];
        wl->h = h;
        wl->w = &h->scn.workloads[i];
        wl->process = (int32_t)i;
        wl->fetch_op = HISTORY_NONE;
        snprintf(wl->topic, sizeof(wl->topic), "%s", wl->w->topic);
        h->process_names[h->process_count++] = wl->w->name;
        if (wl->w->kind == SCN_PRODUCER) {
            wl->node = sim_node_add(h->world, wl->w->name, producer_main, wl);
        } else {
            wl->partition_count = wl->w->assign_count;
            for (size_t p = 0; p < wl->w->assign_count; p++)
                wl->partitions[p] = wl->w->assign[p];
            wl->node = sim_node_add(h->world, wl->w->name, consumer_main, wl);
            if (wl->w->stop_ns > 0)
                sim_world_schedule(h->world, wl->w->stop_ns, consumer_stop_cb, wl);
        }
    }
    static const char *const verify_names[SCN_TOPICS_MAX] = {
        "verify1",  "verify2",  "verify3",  "verify4",  "verify5",  "verify6",
        "verify7",  "verify8",  "verify9",  "verify10", "verify11", "verify12",
        "verify13", "verify14", "verify15", "verify16"};
    for (size_t t = 0; t < h->scn.topic_count; t++) {
        h->process_names[h->process_count++] = verify_names[t];
    }
    struct h_fault_event *fes = calloc(MAX(h->scn.fault_count, 1u), sizeof(*fes));
    ASSERT(fes != NULL);
    for (size_t i = 0; i < h->scn.fault_count; i++) {
        fes[i] = (struct h_fault_event){.h = h, .f = &h->scn.faults[i]};
        sim_world_schedule(h->world, h->scn.faults[i].at_ns, apply_fault, &fes[i]);
    }
    uint64_t end = h->scn.duration_ns;
    sim_world_schedule(h->world, end, end_of_run, h);
    sim_world_schedule(h->world, end + h->quiet_ns, start_verify, h);
    uint64_t deadline = end + h->quiet_ns + HARNESS_VERIFY_NS;
    while (!verified(h) && sim_world_now_ns(h->world) < deadline) {
        if (!sim_world_step(h->world)) sim_world_run_until(h->world, deadline);
    }
    bool live = verified(h);

    struct li_log *logs = NULL;
    size_t log_count = 0;
    collect_final_images(h, &logs, &log_count);
    struct check_input in = {.history = &h->hist,
                             .trace = &h->trace,
                             .logs = logs,
                             .log_count = log_count,
                             .recoveries = h->recoveries,
                             .recovery_count = h->recovery_count};
    /* n1's configuration as the broker parsed it (so the value means what it meant there). */
    in.unclean_allowed = h->brokers[0].config.unclean_leader_election_enable;
    struct check_result *results = calloc(HARNESS_RESULTS_MAX, sizeof(*results));
    ASSERT(results != NULL);
    size_t rn = 0;
    for (size_t i = 0; i < h->scn.check_count; i++) {
        int rc = check_run(h->scn.checks[i], &in, &results[rn]);
        ASSERT(rc == 0);
        rn++;
    }
    if (!live) liveness_result(&results[rn++], h);
    size_t culprit = SIZE_MAX;
    const char *expected = h->scn.expect == SCN_EXPECT_VIOLATION ? h->scn.expect_invariant : NULL;
    enum check_verdict verdict = check_verdict(results, rn, expected, &culprit);
    size_t vlen = 0;
    for (size_t i = 0; i < rn; i++) {
        if (!results[i].violated) continue;
        result->violations++;
        vlen += (size_t)snprintf(result->violated + vlen,
                                 sizeof(result->violated) - MIN(vlen, sizeof(result->violated)),
                                 "%s%s", vlen > 0 ? " " : "", results[i].invariant);
        vlen = MIN(vlen, sizeof(result->violated) - 1);
    }
    size_t alen = 0;
    for (size_t i = 0; i < rn; i++) {
        if (results[i].allowed_count == 0) continue;
        alen += (size_t)snprintf(result->allowed + alen,
                                 sizeof(result->allowed) - MIN(alen, sizeof(result->allowed)),
                                 "%s%s %zu", alen > 0 ? " " : "", results[i].invariant,
                                 results[i].allowed_count);
        alen = MIN(alen, sizeof(result->allowed) - 1);
    }
    result->trace_hash = sim_world_trace_hash(h->world);
    if (options->trace_dump != NULL) {
        FILE *f = fopen(options->trace_dump, "w");
        char line[1024];
        for (size_t i = 0; f != NULL && i < h->trace.count; i++) {
            trace_describe_event(&h->trace.events[i], line, sizeof(line));
            fprintf(f, "%s\n", line);
        }
        if (f != NULL) fclose(f);
    }
    result->virtual_ns = sim_world_now_ns(h->world);
    result->events = sim_world_events_run(h->world);
    result->ops = h->hist.count;
    for (size_t i = 0; i < h->hist.count; i++) {
        const struct hist_op *op = &h->hist.ops[i];
        if (op->type == HIST_PRODUCE && op->status == HIST_OK) result->produced_ok++;
        if (op->type != HIST_FETCH) continue;
        if (op->process >= (int32_t)h->scn.workload_count) {
            result->records_verified += op->record_count;
        } else {
            result->records_read += op->record_count;
        }
    }
    switch (verdict) {
    case CHECK_VERDICT_PASS:
        result->exit_code = HARNESS_EXIT_PASS;
        break;
    case CHECK_VERDICT_SAFETY:
        result->exit_code = HARNESS_EXIT_SAFETY;
        break;
    case CHECK_VERDICT_LIVENESS:
        result->exit_code = HARNESS_EXIT_LIVENESS;
        break;
    case CHECK_VERDICT_MISSED:
        result->exit_code = HARNESS_EXIT_MISSED;
        break;
    }
    if (h->system_crash && result->exit_code == HARNESS_EXIT_PASS) {
        result->exit_code = HARNESS_EXIT_CRASH;
    }
    if (h->system_crash) {
        snprintf(result->summary, sizeof(result->summary), "%s", h->crash_text);
    } else if (culprit != SIZE_MAX) {
        snprintf(result->summary, sizeof(result->summary), "%s: %.400s", results[culprit].invariant,
                 results[culprit].summary);
    } else if (verdict == CHECK_VERDICT_MISSED) {
        snprintf(result->summary, sizeof(result->summary),
                 "expected a violation of %s, but it held", expected);
    } else {
        snprintf(result->summary, sizeof(result->summary), "every checked invariant held");
    }
    if (culprit != SIZE_MAX && results[culprit].violated) {
        write_report(h, &results[culprit], logs, log_count, seed, result);
    }
    free(results);
    free(fes);
out:
    sim_world_destroy(h->world);
    history_free(&h->hist);
    trace_free(&h->trace);
    image_pool_free(&h->pool);
    free(h);
    return result->exit_code;
}
