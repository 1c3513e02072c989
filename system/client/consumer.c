/*
 * consumer.c — the assign-mode consumer (see consumer.h): one request in flight at a time,
 * to one partition leader: either a ListOffsets that resets the unknown positions of the
 * partitions it leads, or a Fetch for the positioned partitions it leads; the next request
 * starts the leader search one partition further, so every leader gets its turn. A timer
 * bounds each request, paces retries and drives the cluster (metadata, reconnects).
 */
#include "client/consumer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/mutant.h"
#include "client/client.h"
#include "client/cluster.h"
#include "proto/proto.h"

#define ERR_OFFSET_OUT_OF_RANGE 1
#define CONSUMER_METADATA_WAIT_MS 5 /* Poll period while no leader is known. */

struct cons_partition {
    int32_t partition;
    int64_t position; /* -1 = reset needed. */
    int64_t high_watermark;
};

struct consumer {
    struct io *io;
    struct consumer_config config;
    char host[256];
    char client_id[64];
    char topic[256];
    struct cons_partition *parts;
    struct cluster_route *routes; /* One per partition, rebuilt for each request. */
    size_t count;
    struct cluster *cluster;
    int32_t request_node; /* The leader the request in flight went to. */
    size_t rotate;        /* Where the next leader search starts. */
    bool stale_leader;    /* The last answer said a leader moved: back off before the next. */
    bool in_flight;
    bool in_flight_fetch;
    uint32_t generation;
    io_timer_id timer;
    uint64_t request_deadline_ns;
    /* Records of the response being walked. */
    struct consumer_record *records;
    size_t record_count;
    size_t record_cap;
    int32_t walking_partition;
    bool destroying;
};

void consumer_config_defaults(struct consumer_config *c) {
    memset(c, 0, sizeof(*c));
    c->host = "localhost";
    c->port = 9092;
    c->client_id = "trial-consumer";
    c->reset_earliest = true;
    c->fetch_max_wait_ms = 500;
    c->fetch_max_bytes = 1u << 20;
    c->request_timeout_ms = 30000;
    c->retry_backoff_ms = 100;
    c->metadata_refresh_ms = 100;
}

static void on_timer(void *arg);

static void schedule(struct consumer *c, uint64_t delay_ns) {
    if (c->destroying) return;
    if (c->timer != 0) io_timer_cancel(c->io, c->timer);
    c->timer = io_timer_start(c->io, io_now_ns(c->io) + delay_ns, on_timer, c);
}

int consumer_create(struct io *io, const struct consumer_config *config, struct consumer **out) {
    if (config->topic == NULL || config->partition_count == 0 ||
        config->partition_count > CONSUMER_PARTITIONS_MAX || config->on_poll == NULL) {
        return -EINVAL;
    }
    struct cluster_config cc;
    cluster_config_init(&cc, config->bootstrap, config->host, config->port, config->client_id,
                        config->retry_backoff_ms);
    if (config->metadata_refresh_ms > 0) cc.metadata_refresh_ms = config->metadata_refresh_ms;
    struct cluster *cluster = NULL;
    int rc = cluster_create(io, &cc, &cluster);
    if (rc < 0) return rc;
    rc = cluster_add_topic(cluster, config->topic);
    if (rc < 0) {
        cluster_destroy(cluster);
        return rc;
    }
    struct consumer *c = io_calloc(io, 1, sizeof(*c));
    c->io = io;
    c->config = *config;
    c->cluster = cluster;
    c->request_node = CLUSTER_NO_LEADER;
    snprintf(c->host, sizeof(c->host), "%s", config->host != NULL ? config->host : "");
    snprintf(c->client_id, sizeof(c->client_id), "%s", config->client_id);
    snprintf(c->topic, sizeof(c->topic), "%s", config->topic);
    c->config.host = c->host;
    c->config.client_id = c->client_id;
    c->config.topic = c->topic;
    c->config.bootstrap = NULL; /* Parsed by the cluster; not kept. */
    c->config.partitions = NULL;
    c->count = config->partition_count;
    c->parts = io_calloc(io, c->count, sizeof(*c->parts));
    c->routes = io_calloc(io, c->count, sizeof(*c->routes));
    for (size_t i = 0; i < c->count; i++) {
        c->parts[i] = (struct cons_partition){
            .partition = config->partitions[i], .position = -1, .high_watermark = -1};
    }
    c->generation = 1;
    *out = c;
    schedule(c, 0);
    return 0;
}

void consumer_destroy(struct consumer *c) {
    c->destroying = true;
    if (c->timer != 0) io_timer_cancel(c->io, c->timer);
    struct cluster *cluster = c->cluster;
    c->cluster = NULL;
    cluster_destroy(cluster); /* A request in flight comes back -ECANCELED (ignored). */
    if (c->records != NULL) io_free(c->io, c->records, c->record_cap * sizeof(*c->records));
    io_free(c->io, c->routes, c->count * sizeof(*c->routes));
    io_free(c->io, c->parts, c->count * sizeof(*c->parts));
    io_free(c->io, c, sizeof(*c));
}

int64_t consumer_position(const struct consumer *c, size_t i) {
    ASSERT(i < c->count);
    return c->parts[i].position;
}

int64_t consumer_high_watermark(const struct consumer *c, size_t i) {
    ASSERT(i < c->count);
    return c->parts[i].high_watermark;
}

bool consumer_caught_up(const struct consumer *c) {
    for (size_t i = 0; i < c->count; i++) {
        if (c->parts[i].position < 0 || c->parts[i].high_watermark < 0 ||
            c->parts[i].position < c->parts[i].high_watermark) {
            return false;
        }
    }
    return true;
}

static struct cons_partition *find(struct consumer *c, int32_t partition) {
    for (size_t i = 0; i < c->count; i++) {
        if (c->parts[i].partition == partition) return &c->parts[i];
    }
    return NULL;
}

static void request_done(struct consumer *c, int status) {
    c->in_flight = false;
    c->in_flight_fetch = false;
    if (c->destroying) return;
    /* A lost connection: leadership may have moved; the cluster reconnects after a backoff. */
    if (status < 0) cluster_node_failed(c->cluster, c->request_node);
    bool backoff = status < 0 || c->stale_leader;
    c->stale_leader = false;
    schedule(c, backoff ? (uint64_t)c->config.retry_backoff_ms * NS_PER_MS : 0);
}

/* A partition error other than OFFSET_OUT_OF_RANGE: the position stays; a stale leader
 * wants fresh metadata before the next request. */
static void partition_error(struct consumer *c, int16_t error) {
    if (cluster_error_stale_leader(error)) {
        cluster_refresh(c->cluster);
        c->stale_leader = true;
    }
}

static void on_list(void *arg, int status, const void *body) {
    struct consumer *c = arg;
    if (status == 0) {
        const struct proto_list_offsets_response *r = body;
        for (int32_t t = 0; t < r->topics.count; t++) {
            for (int32_t j = 0; j < r->topics.items[t].partitions.count; j++) {
                const struct proto_list_offsets_response_partition *rp =
                    &r->topics.items[t].partitions.items[j];
                struct cons_partition *cp = find(c, rp->partition_index);
                if (cp != NULL && rp->error_code == 0 && rp->offset >= 0) cp->position = rp->offset;
                if (cp != NULL && rp->error_code != 0 && !c->destroying) {
                    partition_error(c, rp->error_code);
                }
            }
        }
    }
    request_done(c, status);
}

static bool collect(void *arg, int64_t offset, int64_t ts, const uint8_t *key, int32_t key_len,
                    const uint8_t *value, int32_t value_len) {
    struct consumer *c = arg;
    if (c->record_count == c->record_cap) {
        size_t cap = c->record_cap == 0 ? 256 : 2 * c->record_cap;
        c->records = io_realloc(c->io, c->records, c->record_cap * sizeof(*c->records),
                                cap * sizeof(*c->records));
        c->record_cap = cap;
    }
    c->records[c->record_count++] = (struct consumer_record){.partition = c->walking_partition,
                                                             .offset = offset,
                                                             .key = key,
                                                             .key_len = key_len,
                                                             .value = value,
                                                             .value_len = value_len};
    return true;
}

static void on_fetch(void *arg, int status, const void *body) {
    struct consumer *c = arg;
    uint32_t generation = c->generation;
    c->record_count = 0;
    int16_t first_error = 0;
    if (status == 0) {
        const struct proto_fetch_response *r = body;
        for (int32_t t = 0; t < r->responses.count; t++) {
            const struct proto_fetch_response_topic *rt = &r->responses.items[t];
            for (int32_t j = 0; j < rt->partitions.count; j++) {
                const struct proto_fetch_response_partition *rp = &rt->partitions.items[j];
                struct cons_partition *cp = find(c, rp->partition_index);
                if (cp == NULL || cp->position < 0) continue;
                if (rp->error_code != 0) {
                    if (first_error == 0) first_error = rp->error_code;
                    if (rp->error_code == ERR_OFFSET_OUT_OF_RANGE) {
                        cp->position = -1; /* auto.offset.reset: a new assignment. */
                        c->generation++;
                    } else if (!c->destroying) {
                        partition_error(c, rp->error_code);
                    }
                    continue;
                }
                cp->high_watermark = rp->high_watermark;
                if (rp->records.len > 0) {
                    c->walking_partition = cp->partition;
                    size_t before = c->record_count;
                    cp->position = client_walk_records(rp->records.data, (size_t)rp->records.len,
                                                       cp->position, collect, c);
                    /* Mutant fetch-skips-record: the next fetch starts one record late. */
                    if (c->record_count > before && MUTANT(c->io, "fetch-skips-record")) {
                        cp->position++;
                    }
                }
            }
        }
    }
    if (!c->destroying) {
        c->config.on_poll(c->config.arg, status, c->records, c->record_count, first_error,
                          generation);
    }
    c->record_count = 0;
    request_done(c, status);
}

/* Marks the partitions of the next request: those with (reset) or without (fetch) an
 * unknown position, then keeps the ones one leader leads. Returns the leader or -1. */
static int32_t pick(struct consumer *c, bool resets) {
    for (size_t i = 0; i < c->count; i++) {
        c->routes[i] = (struct cluster_route){.topic = c->topic,
                                              .partition = c->parts[i].partition,
                                              .wanted = (c->parts[i].position < 0) == resets};
    }
    return cluster_pick_leader(c->cluster, c->routes, c->count, c->rotate);
}

static void send_request(struct consumer *c) {
    size_t unknown = 0;
    for (size_t i = 0; i < c->count; i++)
        unknown += c->parts[i].position < 0;
    /* Resets first (as before: a partition without a position is not fetched), then
     * fetches; either kind only for partitions whose leader is known and reachable. */
    bool resets = unknown > 0;
    int32_t leader = resets ? pick(c, true) : CLUSTER_NO_LEADER;
    if (leader == CLUSTER_NO_LEADER && unknown < c->count) {
        resets = false;
        leader = pick(c, false);
    }
    if (leader == CLUSTER_NO_LEADER) {
        cluster_refresh(c->cluster);
        schedule(c, CONSUMER_METADATA_WAIT_MS * NS_PER_MS);
        return;
    }
    struct client *cl = cluster_connection(c->cluster, leader);
    ASSERT(cl != NULL); /* cluster_pick_leader only picks connectable leaders. */
    c->rotate = (c->rotate + 1) % c->count;
    int rc;
    if (resets) {
        struct proto_list_offsets_request_partition ps[CONSUMER_PARTITIONS_MAX];
        int32_t n = 0;
        for (size_t i = 0; i < c->count; i++) {
            if (!c->routes[i].wanted) continue;
            ASSERT(c->parts[i].position < 0);
            ps[n++] = (struct proto_list_offsets_request_partition){
                .partition_index = c->parts[i].partition,
                .current_leader_epoch = -1,
                .timestamp = c->config.reset_earliest ? -2 : -1,
                .max_num_offsets = 1};
        }
        struct proto_list_offsets_request_topic t = {.name = proto_string_from(c->topic)};
        t.partitions.items = ps;
        t.partitions.count = n;
        struct proto_list_offsets_request req = {.replica_id = -1};
        req.topics.items = &t;
        req.topics.count = 1;
        rc = client_send(cl, PROTO_API_LIST_OFFSETS, 1, &req, on_list, c);
    } else {
        struct proto_fetch_request_partition ps[CONSUMER_PARTITIONS_MAX];
        int32_t n = 0;
        bool epochs = false;
        for (size_t i = 0; i < c->count; i++) {
            if (!c->routes[i].wanted) continue;
            ASSERT(c->parts[i].position >= 0);
            int32_t epoch = -1;
            (void)cluster_leader(c->cluster, c->topic, c->parts[i].partition, &epoch);
            epochs = epochs || epoch >= 0;
            ps[n++] = (struct proto_fetch_request_partition){
                .partition = c->parts[i].partition,
                .current_leader_epoch = epoch,
                .fetch_offset = c->parts[i].position,
                .log_start_offset = -1,
                .partition_max_bytes = (int32_t)c->config.fetch_max_bytes};
        }
        struct proto_fetch_request_topic t = {.topic = proto_string_from(c->topic)};
        t.partitions.items = ps;
        t.partitions.count = n;
        struct proto_fetch_request req = {.replica_id = -1,
                                          .max_wait_ms = (int32_t)c->config.fetch_max_wait_ms,
                                          .min_bytes = 1,
                                          .max_bytes = (int32_t)c->config.fetch_max_bytes,
                                          .isolation_level = c->config.read_committed ? 1 : 0,
                                          .session_epoch = -1,
                                          .rack_id = PROTO_STR("")};
        req.topics.items = &t;
        req.topics.count = 1;
        req.forgotten_topics_data.count = 0;
        if (c->config.on_fetch_start != NULL)
            c->config.on_fetch_start(c->config.arg, c->generation);
        c->in_flight_fetch = true;
        /* current_leader_epoch (KIP-320) is on the wire from v9; without a known epoch v4
         * says the same thing in fewer bytes. */
        rc = client_send(cl, PROTO_API_FETCH, epochs ? 9 : 4, &req, on_fetch, c);
    }
    if (rc < 0) {
        /* The connection is dead (FAILED): the cluster replaces it after a backoff. */
        bool was_fetch = c->in_flight_fetch;
        c->in_flight_fetch = false;
        cluster_node_failed(c->cluster, leader);
        if (was_fetch) c->config.on_poll(c->config.arg, rc, NULL, 0, 0, c->generation);
        schedule(c, (uint64_t)c->config.retry_backoff_ms * NS_PER_MS);
        return;
    }
    c->in_flight = true;
    c->request_node = leader;
    c->request_deadline_ns = io_now_ns(c->io) + (uint64_t)c->config.request_timeout_ms * NS_PER_MS;
    schedule(c, (uint64_t)c->config.request_timeout_ms * NS_PER_MS);
}

static void on_timer(void *arg) {
    struct consumer *c = arg;
    c->timer = 0;
    if (c->in_flight) {
        if (io_now_ns(c->io) < c->request_deadline_ns) {
            schedule(c, c->request_deadline_ns - io_now_ns(c->io));
            return;
        }
        /* request.timeout.ms: the connection is presumed dead. cluster_poll closes it and
         * the pending request comes back with -ECANCELED, which reschedules. */
        cluster_node_failed(c->cluster, c->request_node);
        cluster_poll(c->cluster);
        return;
    }
    /* Closes failed connections and sends Metadata when wanted; nothing is in flight here,
     * so no callback of ours runs from it. */
    cluster_poll(c->cluster);
    send_request(c);
}
