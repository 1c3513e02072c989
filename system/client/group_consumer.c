/*
 * group_consumer.c — a group member over io (see group_consumer.h).
 *
 * The member is a small state machine driven by responses and three timers (heartbeat,
 * auto-commit, retry backoff):
 *
 *   FIND --FindCoordinator--> JOIN --JoinGroup--> SYNC --SyncGroup--> STABLE
 *     STABLE: OffsetFetch for the assignment, ListOffsets where nothing is committed, then
 *             one Fetch at a time, each to one partition leader for the assigned partitions
 *             it leads (leaders in turn); heartbeats on their timer.
 *     Any REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID -> (commit,
 *     revoke) -> JOIN again; coordinator errors -> FIND again after the backoff.
 *
 * Every request carries the member's `epoch` (bumped at each state change) in its context,
 * so an answer that arrives after the member moved on is dropped rather than acted upon.
 *
 * Connections: the coordinator's endpoint from FindCoordinator (its own connection, so a
 * long-poll Fetch never delays a heartbeat), and the cluster's (cluster.h) for the rest:
 * FindCoordinator and the leader's Metadata to any broker, ListOffsets and Fetch to each
 * partition's leader. The reap timer also drives the cluster (cluster_poll).
 */
#include "client/group_consumer.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "client/client.h"
#include "client/cluster.h"
#include "proto/proto.h"

#define GC_FETCH_PARTITION_BYTES (1u << 20)
#define GC_ASSIGNMENT_BYTES      8192
#define GC_COMMITS_MAX           16
#define GC_RETIRED_MAX           16

/* Kafka error codes this client reacts to. */
enum {
    GC_ERR_OFFSET_OUT_OF_RANGE = 1,
    GC_ERR_LOAD_IN_PROGRESS = 14,
    GC_ERR_COORDINATOR_NOT_AVAILABLE = 15,
    GC_ERR_NOT_COORDINATOR = 16,
    GC_ERR_ILLEGAL_GENERATION = 22,
    GC_ERR_UNKNOWN_MEMBER_ID = 25,
    GC_ERR_REBALANCE_IN_PROGRESS = 27,
    GC_ERR_MEMBER_ID_REQUIRED = 79,
};

enum gc_state { GC_FIND, GC_JOIN, GC_SYNC, GC_STABLE, GC_LEAVING, GC_CLOSED };

struct gc_part {
    struct group_consumer_partition tp;
    int64_t position;  /* Next offset to read; -1 until known. */
    int64_t committed; /* Last position committed by this member (-1: none). */
};

/* One request in flight: the member and the epoch it was sent in (an answer from an
 * older epoch is dropped), plus what a commit must report and record. A fixed pool: at
 * most one request of each kind is in flight, plus GC_COMMITS_MAX commits. */
#define GC_CTX_MAX (GC_COMMITS_MAX + 16)
struct gc_ctx {
    bool used;
    struct group_consumer *gc;
    uint32_t epoch;
    /* Commits. */
    group_consumer_done_fn done;
    void *arg;
    bool record; /* Record the offsets as committed positions when accepted. */
    size_t count;
    int64_t offsets[GROUP_CONSUMER_PARTITIONS_MAX];
};

struct group_consumer {
    struct io *io;
    struct group_consumer_config config;
    char topics[GROUP_CONSUMER_TOPICS_MAX][GROUP_CONSUMER_NAME_MAX];
    char client_id[GROUP_CONSUMER_NAME_MAX];
    char group_id[GROUP_CONSUMER_NAME_MAX];
    char host[GROUP_CONSUMER_NAME_MAX];
    struct cluster *cluster;
    struct cluster_route routes[GROUP_CONSUMER_PARTITIONS_MAX]; /* Scratch, per request. */
    size_t rotate;       /* Where the next leader search starts. */
    int32_t any_node;    /* Where the FindCoordinator / Metadata in flight went. */
    int32_t fetch_node;  /* Where the Fetch / ListOffsets in flight went. */
    int32_t coord_node;  /* The coordinator's broker id (from FindCoordinator). */
    struct client *coord;
    enum gc_state state;
    uint32_t epoch; /* Bumped whenever in-flight answers must be ignored. */
    char member_id[GROUP_CONSUMER_NAME_MAX];
    int32_t generation;
    char protocol[32];
    bool leader;
    /* Leader: the members of the join, kept until metadata for their topics arrives. */
    struct group_consumer_member_plan *plans;
    size_t plan_count;
    struct gc_part parts[GROUP_CONSUMER_PARTITIONS_MAX];
    size_t part_count;
    struct group_consumer_partition views[GROUP_CONSUMER_PARTITIONS_MAX];
    bool fetching;
    bool heartbeating;
    uint64_t heartbeat_sent_ns;
    uint64_t fetch_sent_ns;
    io_timer_id heartbeat_timer;
    io_timer_id commit_timer;
    io_timer_id retry_timer;
    struct gc_ctx ctx[GC_CTX_MAX];
    struct client *retired[GC_RETIRED_MAX]; /* Dropped clients, destroyed by reap_timer. */
    size_t retired_count;
    io_timer_id reap_timer;
    uint32_t commits_in_flight;
    group_consumer_done_fn close_done;
    void *close_arg;
};

static void gc_find(struct group_consumer *gc);
static void gc_join(struct group_consumer *gc);
static void gc_fetch(struct group_consumer *gc);
static void gc_leave(struct group_consumer *gc);

/* --- ConsumerProtocol bytes ------------------------------------------------------------- */

struct gc_reader {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static int16_t rd16(struct gc_reader *r) {
    if (r->left < 2) {
        r->bad = true;
        return 0;
    }
    int16_t v = (int16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    r->left -= 2;
    return v;
}

static int32_t rd32(struct gc_reader *r) {
    if (r->left < 4) {
        r->bad = true;
        return 0;
    }
    int32_t v = (int32_t)(((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) |
                          ((uint32_t)r->p[2] << 8) | r->p[3]);
    r->p += 4;
    r->left -= 4;
    return v;
}

/* Reads a non-null string into out (truncation = malformed for our bounds). */
static void rdstr(struct gc_reader *r, char *out, size_t cap) {
    int16_t len = rd16(r);
    if (r->bad || len < 0 || (size_t)len > r->left || (size_t)len >= cap) {
        r->bad = true;
        out[0] = '\0';
        return;
    }
    memcpy(out, r->p, (size_t)len);
    out[len] = '\0';
    r->p += len;
    r->left -= (size_t)len;
}

int64_t group_consumer_encode_subscription(uint8_t *buf, size_t cap, const char *const *topics,
                                           size_t count) {
    struct proto_writer w;
    proto_writer_init_fixed(&w, buf, cap);
    proto_write_i16(&w, 0);
    proto_write_i32(&w, (int32_t)count);
    for (size_t i = 0; i < count; i++) {
        proto_write_string(&w, proto_string_from(topics[i]), false, false);
    }
    proto_write_i32(&w, -1); /* user_data: null. */
    return w.error != 0 ? -ENOSPC : (int64_t)w.len;
}

int group_consumer_decode_subscription(const uint8_t *data, size_t len,
                                       char (*topics)[GROUP_CONSUMER_NAME_MAX], size_t max) {
    struct gc_reader r = {.p = data, .left = len};
    (void)rd16(&r);
    int32_t n = rd32(&r);
    if (r.bad || n < 0) return -EPROTO;
    size_t kept = 0;
    char scratch[GROUP_CONSUMER_NAME_MAX];
    for (int32_t i = 0; i < n && !r.bad; i++) {
        if (kept < max) {
            rdstr(&r, topics[kept], GROUP_CONSUMER_NAME_MAX);
            kept++;
        } else {
            rdstr(&r, scratch, sizeof(scratch));
        }
    }
    return r.bad ? -EPROTO : (int)kept;
}

int64_t group_consumer_encode_assignment(uint8_t *buf, size_t cap,
                                         const struct group_consumer_partition *parts,
                                         size_t count) {
    struct proto_writer w;
    proto_writer_init_fixed(&w, buf, cap);
    proto_write_i16(&w, 0);
    /* Topics in order of first appearance; each with its partitions. */
    int32_t topics = 0;
    for (size_t i = 0; i < count; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(parts[j].topic, parts[i].topic) == 0;
        if (!seen) topics++;
    }
    proto_write_i32(&w, topics);
    for (size_t i = 0; i < count; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(parts[j].topic, parts[i].topic) == 0;
        if (seen) continue;
        proto_write_string(&w, proto_string_from(parts[i].topic), false, false);
        int32_t n = 0;
        for (size_t j = i; j < count; j++)
            n += strcmp(parts[j].topic, parts[i].topic) == 0;
        proto_write_i32(&w, n);
        for (size_t j = i; j < count; j++) {
            if (strcmp(parts[j].topic, parts[i].topic) == 0)
                proto_write_i32(&w, parts[j].partition);
        }
    }
    proto_write_i32(&w, -1); /* user_data: null. */
    return w.error != 0 ? -ENOSPC : (int64_t)w.len;
}

int group_consumer_decode_assignment(const uint8_t *data, size_t len,
                                     struct group_consumer_partition *parts, size_t max) {
    if (len == 0) return 0;
    struct gc_reader r = {.p = data, .left = len};
    (void)rd16(&r);
    int32_t topics = rd32(&r);
    if (r.bad || topics < 0) return -EPROTO;
    size_t kept = 0;
    for (int32_t t = 0; t < topics && !r.bad; t++) {
        char name[GROUP_CONSUMER_NAME_MAX];
        rdstr(&r, name, sizeof(name));
        int32_t n = rd32(&r);
        if (r.bad || n < 0) return -EPROTO;
        for (int32_t i = 0; i < n && !r.bad; i++) {
            int32_t p = rd32(&r);
            if (!r.bad && kept < max) {
                snprintf(parts[kept].topic, sizeof(parts[kept].topic), "%s", name);
                parts[kept].partition = p;
                kept++;
            }
        }
    }
    return r.bad ? -EPROTO : (int)kept;
}

/* --- Assignors -------------------------------------------------------------------------- */

static bool plan_subscribes(const struct group_consumer_member_plan *m, const char *topic) {
    for (size_t i = 0; i < m->topic_count; i++) {
        if (strcmp(m->topics[i], topic) == 0) return true;
    }
    return false;
}

static void plan_add(struct group_consumer_member_plan *m, const char *topic, int32_t partition) {
    if (m->part_count == GROUP_CONSUMER_PARTITIONS_MAX) return;
    snprintf(m->parts[m->part_count].topic, GROUP_CONSUMER_NAME_MAX, "%s", topic);
    m->parts[m->part_count].partition = partition;
    m->part_count++;
}

/* Topic indexes sorted by name: the order both assignors walk topics in (Kafka's too). */
static void sorted_topics(const char (*topics)[GROUP_CONSUMER_NAME_MAX], size_t count,
                          size_t *order) {
    for (size_t i = 0; i < count; i++)
        order[i] = i;
    for (size_t i = 1; i < count; i++) {
        for (size_t j = i; j > 0 && strcmp(topics[order[j - 1]], topics[order[j]]) > 0; j--) {
            size_t tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    }
}

void group_consumer_assign(enum group_consumer_assignor assignor,
                           struct group_consumer_member_plan *members, size_t member_count,
                           const char (*topics)[GROUP_CONSUMER_NAME_MAX],
                           const int32_t *partition_counts, size_t topic_count) {
    ASSERT(topic_count <= GROUP_CONSUMER_TOPICS_MAX * GROUP_CONSUMER_MEMBERS_MAX);
    for (size_t m = 0; m < member_count; m++)
        members[m].part_count = 0;
    size_t order[GROUP_CONSUMER_TOPICS_MAX * GROUP_CONSUMER_MEMBERS_MAX];
    sorted_topics(topics, topic_count, order);
    if (assignor == GROUP_CONSUMER_RANGE) {
        /* Per topic: its subscribers in member order get consecutive ranges; the first
         * (partitions % subscribers) of them get one extra. */
        for (size_t k = 0; k < topic_count; k++) {
            size_t t = order[k];
            size_t subs[GROUP_CONSUMER_MEMBERS_MAX];
            size_t n = 0;
            for (size_t m = 0; m < member_count && n < ARRAY_LEN(subs); m++) {
                if (plan_subscribes(&members[m], topics[t])) subs[n++] = m;
            }
            if (n == 0 || partition_counts[t] <= 0) continue;
            int32_t per = partition_counts[t] / (int32_t)n;
            int32_t extra = partition_counts[t] % (int32_t)n;
            for (size_t i = 0; i < n; i++) {
                int32_t start = per * (int32_t)i + MIN((int32_t)i, extra);
                int32_t len = per + ((int32_t)i < extra ? 1 : 0);
                for (int32_t p = start; p < start + len; p++) {
                    plan_add(&members[subs[i]], topics[t], p);
                }
            }
        }
        return;
    }
    /* Round robin: every partition of every topic (topics sorted, partitions ascending) to
     * the next member, cycling, skipping members not subscribed to that topic. */
    size_t next = 0;
    for (size_t k = 0; k < topic_count; k++) {
        size_t t = order[k];
        for (int32_t p = 0; p < partition_counts[t]; p++) {
            for (size_t tries = 0; tries < member_count; tries++) {
                size_t m = next % member_count;
                next++;
                if (plan_subscribes(&members[m], topics[t])) {
                    plan_add(&members[m], topics[t], p);
                    break;
                }
            }
        }
    }
}

/* --- Helpers ---------------------------------------------------------------------------- */

static bool gc_current(struct group_consumer *gc, uint32_t epoch) {
    return gc->state != GC_CLOSED && epoch == gc->epoch;
}

static struct gc_ctx *gc_ctx_new(struct group_consumer *gc) {
    for (size_t i = 0; i < GC_CTX_MAX; i++) {
        if (!gc->ctx[i].used) {
            gc->ctx[i].used = true;
            gc->ctx[i].gc = gc;
            gc->ctx[i].epoch = gc->epoch;
            gc->ctx[i].done = NULL;
            gc->ctx[i].arg = NULL;
            gc->ctx[i].record = false;
            gc->ctx[i].count = 0;
            return &gc->ctx[i];
        }
    }
    return NULL;
}

/* Sends with a fresh context; on failure to queue, the context is released. */
static int gc_send(struct group_consumer *gc, struct client *client, int16_t api, int16_t version,
                   const void *body, client_done_fn done, struct gc_ctx **out) {
    struct gc_ctx *ctx = gc_ctx_new(gc);
    if (ctx == NULL) return -EAGAIN;
    int rc = client_send(client, api, version, body, done, ctx);
    if (rc < 0) {
        ctx->used = false;
        return rc;
    }
    if (out != NULL) *out = ctx;
    return 0;
}

/* Releases the context of an answer; returns the member if the answer is still wanted. */
static struct group_consumer *gc_answer(void *arg, uint32_t *epoch) {
    struct gc_ctx *ctx = arg;
    struct group_consumer *gc = ctx->gc;
    ctx->used = false;
    if (epoch != NULL) *epoch = ctx->epoch;
    return gc_current(gc, ctx->epoch) ? gc : NULL;
}

static void gc_timer_cancel(struct group_consumer *gc, io_timer_id *id) {
    if (*id != 0) io_timer_cancel(gc->io, *id);
    *id = 0;
}

static uint64_t gc_after(struct group_consumer *gc, uint32_t ms) {
    return io_now_ns(gc->io) + (uint64_t)ms * NS_PER_MS;
}

static void gc_retry_fire(void *arg) {
    struct group_consumer *gc = arg;
    gc->retry_timer = 0;
    if (gc->state == GC_FIND)
        gc_find(gc);
    else if (gc->state == GC_JOIN)
        gc_join(gc);
    else if (gc->state == GC_STABLE)
        gc_fetch(gc);
}

static void gc_kick(struct group_consumer *gc);

/* Every retry also polls the cluster (reaps failed connections, refreshes metadata). */
static void gc_retry_later(struct group_consumer *gc) {
    gc_kick(gc);
    gc_timer_cancel(gc, &gc->retry_timer);
    gc->retry_timer =
        io_timer_start(gc->io, gc_after(gc, gc->config.retry_backoff_ms), gc_retry_fire, gc);
}

/* A connection to any broker for a request that is not partition-routed; remembers the
 * node in *node. NULL while every node backs off. */
static struct client *gc_any(struct group_consumer *gc, int32_t *node) {
    *node = cluster_any_node(gc->cluster);
    return *node != CLUSTER_NO_LEADER ? cluster_connection(gc->cluster, *node) : NULL;
}

/* The node's connection failed or timed out: the cluster closes it on the next turn (the
 * reap timer), reconnects after a backoff and refreshes the metadata. */
static void gc_node_failed(struct group_consumer *gc, int32_t node) {
    cluster_node_failed(gc->cluster, node);
    gc_kick(gc);
}

/* A client that failed stays failed: drop it (its pending answers arrive now with
 * -ECANCELED) and make a fresh one for the next attempt. */
static void gc_reap(void *arg) {
    struct group_consumer *gc = arg;
    gc->reap_timer = 0;
    /* One at a time: destroying runs cancelled callbacks, which may retire more. */
    while (gc->retired_count > 0)
        client_destroy(gc->retired[--gc->retired_count]);
    /* Failed cluster connections close here too (cancelled callbacks again), and a wanted
     * metadata refresh goes out. */
    if (gc->cluster != NULL && gc->state != GC_CLOSED) cluster_poll(gc->cluster);
}

/* Runs the reap timer on the next turn of the loop (never from inside a client callback). */
static void gc_kick(struct group_consumer *gc) {
    if (gc->reap_timer == 0 && gc->state != GC_CLOSED)
        gc->reap_timer = io_timer_start(gc->io, io_now_ns(gc->io), gc_reap, gc);
}

static void gc_drop_client(struct group_consumer *gc, struct client **c) {
    if (*c == NULL) return;
    struct client *old = *c;
    *c = NULL;
    /* Usually called from one of this client's own callbacks, where destroying it would pull
     * the memory from under client.c: retire it and destroy it on the next turn. Each retire
     * is followed by a new connection only after an answer or a backoff, so the list drains
     * long before it could fill. */
    ASSERT(gc->retired_count < GC_RETIRED_MAX);
    gc->retired[gc->retired_count++] = old;
    if (gc->reap_timer == 0)
        gc->reap_timer = io_timer_start(gc->io, io_now_ns(gc->io), gc_reap, gc);
}

static bool gc_is_coordinator_error(int16_t e) {
    return e == GC_ERR_LOAD_IN_PROGRESS || e == GC_ERR_COORDINATOR_NOT_AVAILABLE ||
           e == GC_ERR_NOT_COORDINATOR;
}

static bool gc_name_eq(struct proto_string s, const char *name) {
    return s.len >= 0 && (size_t)s.len == strlen(name) && memcmp(s.str, name, (size_t)s.len) == 0;
}

static struct gc_part *gc_part_find(struct group_consumer *gc, struct proto_string topic,
                                    int32_t partition) {
    for (size_t i = 0; i < gc->part_count; i++) {
        if (gc->parts[i].tp.partition == partition && gc_name_eq(topic, gc->parts[i].tp.topic)) {
            return &gc->parts[i];
        }
    }
    return NULL;
}

static void gc_publish(struct group_consumer *gc, group_consumer_rebalance_fn fn) {
    for (size_t i = 0; i < gc->part_count; i++)
        gc->views[i] = gc->parts[i].tp;
    if (fn != NULL) fn(gc->config.arg, gc->views, gc->part_count, gc->generation);
}

/* --- Commits ---------------------------------------------------------------------------- */

static void gc_on_commit(void *arg, int status, const void *body) {
    struct gc_ctx *ctx = arg;
    struct group_consumer *gc = ctx->gc;
    struct gc_ctx copy = *ctx;
    ctx->used = false;
    gc->commits_in_flight--;
    int result = status;
    if (status == 0) {
        const struct proto_offset_commit_response *r = body;
        for (int32_t t = 0; t < r->topics.count && result == 0; t++) {
            for (int32_t p = 0; p < r->topics.items[t].partitions.count && result == 0; p++) {
                result = r->topics.items[t].partitions.items[p].error_code;
            }
        }
    }
    /* Recorded only if the assignment the offsets belong to is still ours. */
    if (result == 0 && copy.record && gc_current(gc, copy.epoch)) {
        for (size_t i = 0; i < copy.count && i < gc->part_count; i++) {
            gc->parts[i].committed = copy.offsets[i];
        }
    }
    if (copy.done != NULL) copy.done(copy.arg, result);
}

/* Sends one OffsetCommit for `count` (part, offset) pairs under `generation`. */
static int gc_send_commit(struct group_consumer *gc, int32_t generation,
                          const struct group_consumer_partition *tps, const int64_t *offsets,
                          size_t count, bool record, group_consumer_done_fn done, void *arg) {
    if (gc->coord == NULL || gc->state == GC_CLOSED) return -ENOTCONN;
    if (gc->commits_in_flight >= GC_COMMITS_MAX) return -EAGAIN;
    ASSERT(count <= GROUP_CONSUMER_PARTITIONS_MAX);
    struct proto_offset_commit_request_partition ps[GROUP_CONSUMER_PARTITIONS_MAX];
    struct proto_offset_commit_request_topic ts[GROUP_CONSUMER_PARTITIONS_MAX];
    size_t topic_count = 0;
    /* Partitions of one topic are contiguous (assignments are kept sorted). */
    for (size_t i = 0; i < count; i++) {
        if (topic_count == 0 || strcmp(tps[i - 1].topic, tps[i].topic) != 0) {
            ts[topic_count] =
                (struct proto_offset_commit_request_topic){.name = proto_string_from(tps[i].topic)};
            ts[topic_count].partitions.items = &ps[i];
            ts[topic_count].partitions.count = 0;
            topic_count++;
        }
        ps[i] = (struct proto_offset_commit_request_partition){.partition_index = tps[i].partition,
                                                               .committed_offset = offsets[i],
                                                               .committed_leader_epoch = -1,
                                                               .commit_timestamp = -1,
                                                               .committed_metadata = PROTO_STR("")};
        ts[topic_count - 1].partitions.count++;
    }
    struct proto_offset_commit_request req = {.group_id = proto_string_from(gc->group_id),
                                              .generation_id = generation,
                                              .member_id = proto_string_from(gc->member_id),
                                              .group_instance_id = PROTO_STR_NULL,
                                              .retention_time_ms = -1};
    req.topics.items = ts;
    req.topics.count = (int32_t)topic_count;
    struct gc_ctx *ctx = NULL;
    int rc = gc_send(gc, gc->coord, PROTO_API_OFFSET_COMMIT, 2, &req, gc_on_commit, &ctx);
    if (rc < 0) return rc;
    gc->commits_in_flight++;
    ctx->done = done;
    ctx->arg = arg;
    ctx->record = record;
    ctx->count = count;
    for (size_t i = 0; i < count; i++)
        ctx->offsets[i] = offsets[i];
    return 0;
}

/* Commits every known position (all of them, in assignment order, so the answer can be
 * recorded index by index). `only_dirty`: skip the request if nothing moved. */
static int gc_commit_positions(struct group_consumer *gc, bool only_dirty,
                               group_consumer_done_fn done, void *arg) {
    if (gc->state != GC_STABLE || gc->part_count == 0) return -ENOENT;
    int64_t offsets[GROUP_CONSUMER_PARTITIONS_MAX];
    bool dirty = false;
    for (size_t i = 0; i < gc->part_count; i++) {
        gc->views[i] = gc->parts[i].tp;
        /* Unknown position: re-commit what is committed (or nothing moved). */
        offsets[i] = gc->parts[i].position >= 0 ? gc->parts[i].position : gc->parts[i].committed;
        if (offsets[i] != gc->parts[i].committed) dirty = true;
        if (offsets[i] < 0) return -EAGAIN; /* Positions still being looked up. */
    }
    if (only_dirty && !dirty) return 0;
    return gc_send_commit(gc, gc->generation, gc->views, offsets, gc->part_count, true, done, arg);
}

static void gc_commit_fire(void *arg) {
    struct group_consumer *gc = arg;
    gc->commit_timer = 0;
    if (gc->state == GC_CLOSED || gc->state == GC_LEAVING) return;
    if (gc->state == GC_STABLE) (void)gc_commit_positions(gc, true, NULL, NULL);
    gc->commit_timer = io_timer_start(gc->io, gc_after(gc, gc->config.auto_commit_interval_ms),
                                      gc_commit_fire, gc);
}

/* --- Finding the coordinator ------------------------------------------------------------ */

static void gc_on_find(void *arg, int status, const void *body) {
    struct group_consumer *gc = gc_answer(arg, NULL);
    if (gc == NULL) return;
    if (status < 0) {
        gc_node_failed(gc, gc->any_node);
        gc_retry_later(gc);
        return;
    }
    const struct proto_find_coordinator_response *r = body;
    if (r->error_code != 0 || r->host.len <= 0 || (size_t)r->host.len >= sizeof(gc->host)) {
        gc_retry_later(gc); /* COORDINATOR_NOT_AVAILABLE (15) and the like: ask again. */
        return;
    }
    gc->coord_node = r->node_id;
    memcpy(gc->host, r->host.str, (size_t)r->host.len);
    gc->host[r->host.len] = '\0';
    gc_drop_client(gc, &gc->coord);
    gc->coord = client_create(gc->io, gc->host, (uint16_t)r->port, gc->client_id);
    gc_join(gc);
}

static void gc_find(struct group_consumer *gc) {
    gc->state = GC_FIND;
    gc->epoch++;
    struct proto_find_coordinator_request req = {.key = proto_string_from(gc->group_id),
                                                 .key_type = 0};
    struct client *c = gc_any(gc, &gc->any_node);
    if (c == NULL || gc_send(gc, c, PROTO_API_FIND_COORDINATOR, 1, &req, gc_on_find, NULL) < 0) {
        if (c != NULL) gc_node_failed(gc, gc->any_node);
        gc_retry_later(gc);
    }
}

/* Forgets the coordinator (it moved or failed) and looks it up again after the backoff. */
static void gc_refind(struct group_consumer *gc) {
    gc->epoch++;
    gc_timer_cancel(gc, &gc->heartbeat_timer);
    if (gc->part_count > 0) {
        gc_publish(gc, gc->config.on_revoked);
        gc->part_count = 0;
    }
    gc->state = GC_FIND;
    gc_drop_client(gc, &gc->coord);
    gc_retry_later(gc);
}

/* --- Join and sync ---------------------------------------------------------------------- */

static const char *gc_assignor_name(enum group_consumer_assignor a) {
    return a == GROUP_CONSUMER_ROUNDROBIN ? "roundrobin" : "range";
}

static void gc_on_join(void *arg, int status, const void *body);
static void gc_on_sync(void *arg, int status, const void *body);

static void gc_join(struct group_consumer *gc) {
    gc->state = GC_JOIN;
    gc->epoch++;
    gc_timer_cancel(gc, &gc->heartbeat_timer);
    if (gc->coord == NULL) {
        gc_find(gc);
        return;
    }
    uint8_t meta[GROUP_CONSUMER_TOPICS_MAX * (GROUP_CONSUMER_NAME_MAX + 2) + 16];
    const char *topics[GROUP_CONSUMER_TOPICS_MAX];
    for (size_t i = 0; i < gc->config.topic_count; i++)
        topics[i] = gc->topics[i];
    int64_t meta_len =
        group_consumer_encode_subscription(meta, sizeof(meta), topics, gc->config.topic_count);
    ASSERT(meta_len > 0);
    struct proto_join_group_request_protocol protocols[2];
    for (size_t i = 0; i < gc->config.assignor_count; i++) {
        protocols[i] = (struct proto_join_group_request_protocol){
            .name = proto_string_from(gc_assignor_name(gc->config.assignors[i])),
            .metadata = {.data = meta, .len = (int32_t)meta_len}};
    }
    struct proto_join_group_request req = {.group_id = proto_string_from(gc->group_id),
                                           .session_timeout_ms = gc->config.session_timeout_ms,
                                           .rebalance_timeout_ms = gc->config.rebalance_timeout_ms,
                                           .member_id = proto_string_from(gc->member_id),
                                           .group_instance_id = PROTO_STR_NULL,
                                           .protocol_type = PROTO_STR("consumer")};
    req.protocols.items = protocols;
    req.protocols.count = (int32_t)gc->config.assignor_count;
    if (gc_send(gc, gc->coord, PROTO_API_JOIN_GROUP, 5, &req, gc_on_join, NULL) < 0) {
        gc_refind(gc);
    }
}

/* Leaves the current generation: commit (auto-commit), revoke, then join again. */
static void gc_rejoin(struct group_consumer *gc, bool reset_member) {
    if (gc->state == GC_STABLE && gc->config.auto_commit) {
        /* Sent before the JoinGroup on the same connection: the coordinator sees it first,
         * still under the generation it belongs to. */
        (void)gc_commit_positions(gc, true, NULL, NULL);
    }
    if (gc->part_count > 0) {
        gc_publish(gc, gc->config.on_revoked);
        gc->part_count = 0;
    }
    if (reset_member) {
        gc->member_id[0] = '\0';
        gc->generation = -1;
    }
    gc_join(gc);
}

static void gc_send_sync(struct group_consumer *gc,
                         const struct proto_sync_group_request_assignment *assignments,
                         size_t count) {
    struct proto_sync_group_request req = {.group_id = proto_string_from(gc->group_id),
                                           .generation_id = gc->generation,
                                           .member_id = proto_string_from(gc->member_id),
                                           .group_instance_id = PROTO_STR_NULL};
    req.assignments.items = (struct proto_sync_group_request_assignment *)assignments;
    req.assignments.count = (int32_t)count;
    gc->state = GC_SYNC;
    if (gc_send(gc, gc->coord, PROTO_API_SYNC_GROUP, 3, &req, gc_on_sync, NULL) < 0) {
        gc_refind(gc);
    }
}

static void gc_free_plans(struct group_consumer *gc) {
    if (gc->plans == NULL) return;
    io_free(gc->io, gc->plans, GROUP_CONSUMER_MEMBERS_MAX * sizeof(*gc->plans));
    gc->plans = NULL;
    gc->plan_count = 0;
}

/* Leader: with every subscribed topic's partition count known, compute and send the plan. */
static void gc_on_leader_metadata(void *arg, int status, const void *body) {
    struct group_consumer *gc = gc_answer(arg, NULL);
    if (gc == NULL) return;
    if (status < 0) {
        gc_node_failed(gc, gc->any_node);
        gc_free_plans(gc);
        gc_rejoin(gc, false);
        return;
    }
    const struct proto_metadata_response *r = body;
    char(*names)[GROUP_CONSUMER_NAME_MAX] =
        io_alloc(gc->io, GROUP_CONSUMER_TOPICS_MAX * GROUP_CONSUMER_MEMBERS_MAX * sizeof(*names));
    int32_t counts[GROUP_CONSUMER_TOPICS_MAX * GROUP_CONSUMER_MEMBERS_MAX];
    size_t n = 0;
    for (int32_t t = 0; t < r->topics.count && n < ARRAY_LEN(counts); t++) {
        const struct proto_metadata_response_topic *mt = &r->topics.items[t];
        if (mt->error_code != 0 || mt->name.len <= 0 || mt->name.len >= GROUP_CONSUMER_NAME_MAX) {
            continue; /* An unknown topic gets no partitions (Kafka's assignors skip it). */
        }
        memcpy(names[n], mt->name.str, (size_t)mt->name.len);
        names[n][mt->name.len] = '\0';
        counts[n] = mt->partitions.count;
        n++;
    }
    enum group_consumer_assignor a =
        strcmp(gc->protocol, "roundrobin") == 0 ? GROUP_CONSUMER_ROUNDROBIN : GROUP_CONSUMER_RANGE;
    group_consumer_assign(a, gc->plans, gc->plan_count,
                          (const char(*)[GROUP_CONSUMER_NAME_MAX])names, counts, n);
    io_free(gc->io, names, GROUP_CONSUMER_TOPICS_MAX * GROUP_CONSUMER_MEMBERS_MAX * sizeof(*names));
    struct proto_sync_group_request_assignment assignments[GROUP_CONSUMER_MEMBERS_MAX];
    size_t bytes_each = GC_ASSIGNMENT_BYTES;
    uint8_t *blob = io_alloc(gc->io, gc->plan_count * bytes_each);
    size_t count = 0;
    for (size_t m = 0; m < gc->plan_count; m++) {
        uint8_t *buf = blob + m * bytes_each;
        int64_t len = group_consumer_encode_assignment(buf, bytes_each, gc->plans[m].parts,
                                                       gc->plans[m].part_count);
        ASSERT(len > 0);
        assignments[count++] = (struct proto_sync_group_request_assignment){
            .member_id = proto_string_from(gc->plans[m].member_id),
            .assignment = {.data = buf, .len = (int32_t)len}};
    }
    gc_send_sync(gc, assignments, count); /* Encoded (copied) before returning. */
    io_free(gc->io, blob, gc->plan_count * bytes_each);
    gc_free_plans(gc);
}

static int cmp_plans(const void *a, const void *b) {
    return strcmp(((const struct group_consumer_member_plan *)a)->member_id,
                  ((const struct group_consumer_member_plan *)b)->member_id);
}

static void gc_lead(struct group_consumer *gc, const struct proto_join_group_response *r) {
    gc_free_plans(gc);
    gc->plans = io_alloc(gc->io, GROUP_CONSUMER_MEMBERS_MAX * sizeof(*gc->plans));
    for (int32_t i = 0; i < r->members.count && gc->plan_count < GROUP_CONSUMER_MEMBERS_MAX; i++) {
        const struct proto_join_group_response_member *m = &r->members.items[i];
        struct group_consumer_member_plan *p = &gc->plans[gc->plan_count];
        memset(p, 0, sizeof(*p));
        if (m->member_id.len <= 0 || m->member_id.len >= GROUP_CONSUMER_NAME_MAX) continue;
        memcpy(p->member_id, m->member_id.str, (size_t)m->member_id.len);
        int n = group_consumer_decode_subscription(
            m->metadata.data, m->metadata.len > 0 ? (size_t)m->metadata.len : 0, p->topics,
            GROUP_CONSUMER_TOPICS_MAX);
        p->topic_count = n > 0 ? (size_t)n : 0;
        gc->plan_count++;
    }
    qsort(gc->plans, gc->plan_count, sizeof(*gc->plans), cmp_plans);
    /* Metadata for the union of the members' topics. */
    struct proto_metadata_request_topic
        topics[GROUP_CONSUMER_TOPICS_MAX * GROUP_CONSUMER_MEMBERS_MAX];
    size_t n = 0;
    for (size_t m = 0; m < gc->plan_count; m++) {
        for (size_t t = 0; t < gc->plans[m].topic_count; t++) {
            bool seen = false;
            for (size_t k = 0; k < n && !seen; k++)
                seen = strcmp(topics[k].name.str, gc->plans[m].topics[t]) == 0;
            if (!seen && n < ARRAY_LEN(topics)) {
                topics[n++].name = proto_string_from(gc->plans[m].topics[t]);
            }
        }
    }
    struct proto_metadata_request req = {.allow_auto_topic_creation = false};
    req.topics.items = topics;
    req.topics.count = (int32_t)n;
    struct client *c = gc_any(gc, &gc->any_node);
    if (c == NULL || gc_send(gc, c, PROTO_API_METADATA, 4, &req, gc_on_leader_metadata, NULL) < 0) {
        gc_free_plans(gc);
        if (c != NULL) gc_node_failed(gc, gc->any_node);
        gc_retry_later(gc); /* State JOIN: joins again. */
    }
}

static void gc_on_join(void *arg, int status, const void *body) {
    struct group_consumer *gc = gc_answer(arg, NULL);
    if (gc == NULL) return;
    if (status < 0) {
        gc_refind(gc);
        return;
    }
    const struct proto_join_group_response *r = body;
    int16_t e = r->error_code;
    if (e == GC_ERR_MEMBER_ID_REQUIRED || e == 0) {
        if (r->member_id.len <= 0 || r->member_id.len >= GROUP_CONSUMER_NAME_MAX) {
            gc_retry_later(gc);
            return;
        }
        memcpy(gc->member_id, r->member_id.str, (size_t)r->member_id.len);
        gc->member_id[r->member_id.len] = '\0';
    }
    if (e == GC_ERR_MEMBER_ID_REQUIRED) {
        gc_join(gc); /* KIP-394: join again with the id the coordinator handed out. */
        return;
    }
    if (e == GC_ERR_UNKNOWN_MEMBER_ID) {
        gc->member_id[0] = '\0';
        gc_join(gc);
        return;
    }
    if (gc_is_coordinator_error(e)) {
        gc_refind(gc);
        return;
    }
    if (e != 0) {
        gc_retry_later(gc); /* State JOIN: joins again after the backoff. */
        return;
    }
    gc->generation = r->generation_id;
    snprintf(gc->protocol, sizeof(gc->protocol), "%.*s",
             r->protocol_name.len > 0 ? r->protocol_name.len : 0, r->protocol_name.str);
    gc->leader = gc_name_eq(r->leader, gc->member_id);
    gc->state = GC_SYNC;
    if (gc->leader) {
        gc_lead(gc, r);
    } else {
        gc_send_sync(gc, NULL, 0);
    }
}

/* --- Stable: positions, fetching, heartbeats -------------------------------------------- */

static void gc_heartbeat_fire(void *arg);

static void gc_on_heartbeat(void *arg, int status, const void *body) {
    struct gc_ctx *ctx = arg;
    ctx->gc->heartbeating = false;
    struct group_consumer *gc = gc_answer(arg, NULL);
    if (gc == NULL || gc->state != GC_STABLE) return;
    if (status < 0) {
        gc_refind(gc);
        return;
    }
    int16_t e = ((const struct proto_heartbeat_response *)body)->error_code;
    if (e == GC_ERR_REBALANCE_IN_PROGRESS || e == GC_ERR_ILLEGAL_GENERATION)
        gc_rejoin(gc, false);
    else if (e == GC_ERR_UNKNOWN_MEMBER_ID)
        gc_rejoin(gc, true);
    else if (gc_is_coordinator_error(e))
        gc_refind(gc);
}

static void gc_heartbeat_fire(void *arg) {
    struct group_consumer *gc = arg;
    gc->heartbeat_timer = 0;
    if (gc->state != GC_STABLE) return;
    gc->heartbeat_timer = io_timer_start(gc->io, gc_after(gc, gc->config.heartbeat_interval_ms),
                                         gc_heartbeat_fire, gc);
    /* Request timeouts: a connection that stopped answering (no reset, just silence) would
     * otherwise hold the member forever. A heartbeat unanswered for a whole session means
     * the coordinator is gone for us; a fetch unanswered for its wait plus a session, that
     * the connection is. */
    uint64_t now = io_now_ns(gc->io);
    uint64_t session_ns = (uint64_t)gc->config.session_timeout_ms * NS_PER_MS;
    if (gc->fetching &&
        now - gc->fetch_sent_ns > session_ns + gc->config.fetch_max_wait_ms * NS_PER_MS) {
        gc_node_failed(gc, gc->fetch_node); /* Its fetch is cancelled; the answer refetches. */
    }
    if (gc->heartbeating) {
        if (now - gc->heartbeat_sent_ns > session_ns) gc_refind(gc);
        return;
    }
    struct proto_heartbeat_request req = {.group_id = proto_string_from(gc->group_id),
                                          .generation_id = gc->generation,
                                          .member_id = proto_string_from(gc->member_id),
                                          .group_instance_id = PROTO_STR_NULL};
    int rc = gc_send(gc, gc->coord, PROTO_API_HEARTBEAT, 3, &req, gc_on_heartbeat, NULL);
    if (rc == 0) {
        gc->heartbeating = true;
        gc->heartbeat_sent_ns = now;
    } else if (rc != -EAGAIN) {
        gc_refind(gc); /* The coordinator connection is gone. */
    }
}

struct gc_visit {
    struct group_consumer *gc;
    struct gc_part *part;
    uint32_t epoch;
};

static bool gc_visit_record(void *arg, int64_t offset, int64_t timestamp_ms, const uint8_t *key,
                            int32_t key_len, const uint8_t *value, int32_t value_len) {
    (void)timestamp_ms;
    struct gc_visit *v = arg;
    if (!gc_current(v->gc, v->epoch)) return false; /* The callback closed or rebalanced. */
    if (offset < v->part->position) return true;    /* Earlier records of the first batch. */
    v->part->position = offset + 1;
    v->gc->config.on_record(v->gc->config.arg, v->part->tp.topic, v->part->tp.partition, offset,
                            key, key_len, value, value_len);
    return gc_current(v->gc, v->epoch);
}

/* After a data answer: the next request at once, or after the backoff when a leader moved
 * (its metadata refresh needs the time; asking the old leader again would only repeat the
 * error). */
static void gc_fetch_next(struct group_consumer *gc, bool stale_leader) {
    if (stale_leader) {
        cluster_refresh(gc->cluster);
        gc_kick(gc);
        gc_retry_later(gc); /* State STABLE: fetches again. */
    } else {
        gc_fetch(gc);
    }
}

static void gc_on_fetch(void *arg, int status, const void *body) {
    struct gc_ctx *ctx = arg;
    ctx->gc->fetching = false;
    uint32_t epoch;
    struct group_consumer *gc = gc_answer(arg, &epoch);
    if (gc == NULL) {
        gc = ctx->gc;
        if (gc->state == GC_STABLE) gc_fetch(gc); /* A stale answer: fetch for the new plan. */
        return;
    }
    if (status < 0) {
        gc_node_failed(gc, gc->fetch_node);
        gc_retry_later(gc); /* State STABLE: fetches again. */
        return;
    }
    const struct proto_fetch_response *r = body;
    bool stale = false;
    for (int32_t t = 0; t < r->responses.count; t++) {
        const struct proto_fetch_response_topic *ft = &r->responses.items[t];
        for (int32_t p = 0; p < ft->partitions.count; p++) {
            const struct proto_fetch_response_partition *fp = &ft->partitions.items[p];
            struct gc_part *part = gc_part_find(gc, ft->topic, fp->partition_index);
            if (part == NULL || part->position < 0) continue;
            if (fp->error_code == GC_ERR_OFFSET_OUT_OF_RANGE) {
                part->position = -1; /* The next data request resets it. */
                continue;
            }
            /* NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH, ...: same position, the
             * leader the refreshed metadata names. */
            stale = stale || cluster_error_stale_leader(fp->error_code);
            if (fp->error_code != 0 || fp->records.len <= 0) continue;
            struct gc_visit v = {.gc = gc, .part = part, .epoch = epoch};
            (void)client_walk_records(fp->records.data, (size_t)fp->records.len, part->position,
                                      gc_visit_record, &v);
            if (!gc_current(gc, epoch)) return;
        }
    }
    gc_fetch_next(gc, stale);
}

/* Marks the assigned partitions with (resets = false) or without (true) a position, keeps
 * those one leader leads, and returns that leader (or CLUSTER_NO_LEADER). */
static int32_t gc_pick(struct group_consumer *gc, bool resets) {
    for (size_t i = 0; i < gc->part_count; i++) {
        gc->routes[i] = (struct cluster_route){.topic = gc->parts[i].tp.topic,
                                               .partition = gc->parts[i].tp.partition,
                                               .wanted = (gc->parts[i].position < 0) == resets};
    }
    return cluster_pick_leader(gc->cluster, gc->routes, gc->part_count, gc->rotate);
}

static void gc_on_list_offsets(void *arg, int status, const void *body);

/* Sends the data request (ListOffsets or Fetch) to the leader cluster_pick_leader chose;
 * it is the one in flight until its answer. */
static void gc_send_data(struct group_consumer *gc, int32_t leader, int16_t api, int16_t version,
                         const void *req, client_done_fn done) {
    struct client *c = cluster_connection(gc->cluster, leader);
    ASSERT(c != NULL); /* cluster_pick_leader only picks connectable leaders. */
    ASSERT(!gc->fetching);
    if (gc_send(gc, c, api, version, req, done, NULL) == 0) {
        gc->fetching = true;
        gc->fetch_node = leader;
        gc->fetch_sent_ns = io_now_ns(gc->io);
    } else {
        gc_node_failed(gc, leader);
        gc_retry_later(gc);
    }
}

/* auto.offset.reset: ListOffsets to one leader for the partitions without a position it
 * leads. The answer continues with gc_fetch (more resets, or fetches). */
static void gc_send_list_offsets(struct group_consumer *gc, int32_t leader) {
    struct proto_list_offsets_request_partition ps[GROUP_CONSUMER_PARTITIONS_MAX];
    struct proto_list_offsets_request_topic ts[GROUP_CONSUMER_PARTITIONS_MAX];
    size_t n = 0, topic_count = 0;
    const char *last = NULL;
    for (size_t i = 0; i < gc->part_count; i++) {
        const struct gc_part *part = &gc->parts[i];
        if (!gc->routes[i].wanted) continue;
        ASSERT(part->position < 0);
        /* Parts are sorted by topic, so a topic's partitions are contiguous. */
        if (last == NULL || strcmp(last, part->tp.topic) != 0) {
            ts[topic_count] = (struct proto_list_offsets_request_topic){
                .name = proto_string_from(part->tp.topic)};
            ts[topic_count].partitions.items = &ps[n];
            ts[topic_count].partitions.count = 0;
            topic_count++;
            last = part->tp.topic;
        }
        ps[n++] = (struct proto_list_offsets_request_partition){
            .partition_index = part->tp.partition,
            .current_leader_epoch = -1,
            .timestamp = gc->config.reset_earliest ? -2 : -1,
            .max_num_offsets = 1};
        ts[topic_count - 1].partitions.count++;
    }
    ASSERT(n > 0);
    struct proto_list_offsets_request req = {.replica_id = -1, .isolation_level = 0};
    req.topics.items = ts;
    req.topics.count = (int32_t)topic_count;
    gc_send_data(gc, leader, PROTO_API_LIST_OFFSETS, 1, &req, gc_on_list_offsets);
}

/* The next data request: resets for partitions without a position first (Kafka does not
 * fetch a partition before it has one), then a Fetch to one leader for the positioned
 * partitions it leads. One data request is in flight at a time. */
static void gc_fetch(struct group_consumer *gc) {
    if (gc->state != GC_STABLE || gc->fetching || gc->part_count == 0) return;
    gc->rotate = (gc->rotate + 1) % gc->part_count;
    int32_t leader = gc_pick(gc, true);
    if (leader != CLUSTER_NO_LEADER) {
        gc_send_list_offsets(gc, leader);
        return;
    }
    leader = gc_pick(gc, false);
    if (leader == CLUSTER_NO_LEADER) {
        /* Leaders unknown (or backing off): refresh and look again after the backoff. */
        cluster_refresh(gc->cluster);
        gc_kick(gc);
        gc_retry_later(gc);
        return;
    }
    struct proto_fetch_request_partition ps[GROUP_CONSUMER_PARTITIONS_MAX];
    struct proto_fetch_request_topic ts[GROUP_CONSUMER_PARTITIONS_MAX];
    size_t n = 0, topic_count = 0;
    const char *last = NULL;
    bool epochs = false;
    for (size_t i = 0; i < gc->part_count; i++) {
        const struct gc_part *part = &gc->parts[i];
        if (!gc->routes[i].wanted) continue;
        ASSERT(part->position >= 0);
        if (last == NULL || strcmp(last, part->tp.topic) != 0) {
            ts[topic_count] =
                (struct proto_fetch_request_topic){.topic = proto_string_from(part->tp.topic)};
            ts[topic_count].partitions.items = &ps[n];
            ts[topic_count].partitions.count = 0;
            topic_count++;
            last = part->tp.topic;
        }
        int32_t epoch = -1;
        (void)cluster_leader(gc->cluster, part->tp.topic, part->tp.partition, &epoch);
        epochs = epochs || epoch >= 0;
        ps[n++] =
            (struct proto_fetch_request_partition){.partition = part->tp.partition,
                                                   .current_leader_epoch = epoch,
                                                   .fetch_offset = part->position,
                                                   .log_start_offset = -1,
                                                   .partition_max_bytes = GC_FETCH_PARTITION_BYTES};
        ts[topic_count - 1].partitions.count++;
    }
    ASSERT(n > 0);
    struct proto_fetch_request req = {.replica_id = -1,
                                      .max_wait_ms = (int32_t)gc->config.fetch_max_wait_ms,
                                      .min_bytes = 1,
                                      .max_bytes = 16 << 20,
                                      .isolation_level = 0,
                                      .session_epoch = -1,
                                      .rack_id = PROTO_STR("")};
    req.topics.items = ts;
    req.topics.count = (int32_t)topic_count;
    req.forgotten_topics_data.count = 0;
    /* current_leader_epoch (KIP-320) is on the wire from Fetch v9. */
    gc_send_data(gc, leader, PROTO_API_FETCH, epochs ? 9 : 4, &req, gc_on_fetch);
}

static void gc_on_list_offsets(void *arg, int status, const void *body) {
    struct gc_ctx *ctx = arg;
    ctx->gc->fetching = false;
    struct group_consumer *gc = gc_answer(arg, NULL);
    if (gc == NULL) {
        gc = ctx->gc;
        if (gc->state == GC_STABLE) gc_fetch(gc); /* A stale answer: go on for the new plan. */
        return;
    }
    if (status < 0) {
        gc_node_failed(gc, gc->fetch_node);
        gc_retry_later(gc);
        return;
    }
    const struct proto_list_offsets_response *r = body;
    bool stale = false;
    for (int32_t t = 0; t < r->topics.count; t++) {
        const struct proto_list_offsets_response_topic *lt = &r->topics.items[t];
        for (int32_t p = 0; p < lt->partitions.count; p++) {
            const struct proto_list_offsets_response_partition *lp = &lt->partitions.items[p];
            struct gc_part *part = gc_part_find(gc, lt->name, lp->partition_index);
            if (part != NULL && lp->error_code == 0 && lp->offset >= 0) part->position = lp->offset;
            /* Still without a position (any error): back off before asking again. */
            stale = stale || (part != NULL && part->position < 0);
        }
    }
    gc_fetch_next(gc, stale);
}

static void gc_on_offset_fetch(void *arg, int status, const void *body) {
    struct group_consumer *gc = gc_answer(arg, NULL);
    if (gc == NULL) return;
    if (status < 0) {
        gc_refind(gc);
        return;
    }
    const struct proto_offset_fetch_response *r = body;
    if (gc_is_coordinator_error(r->error_code)) {
        gc_refind(gc);
        return;
    }
    for (int32_t t = 0; t < r->topics.count; t++) {
        const struct proto_offset_fetch_response_topic *ft = &r->topics.items[t];
        for (int32_t p = 0; p < ft->partitions.count; p++) {
            const struct proto_offset_fetch_response_partition *fp = &ft->partitions.items[p];
            struct gc_part *part = gc_part_find(gc, ft->name, fp->partition_index);
            if (part == NULL || fp->error_code != 0 || fp->committed_offset < 0) continue;
            part->position = fp->committed_offset;
            part->committed = fp->committed_offset;
        }
    }
    gc_fetch(gc); /* Resets where nothing is committed, then fetches. */
}

static int cmp_parts(const void *a, const void *b) {
    const struct gc_part *x = a, *y = b;
    int c = strcmp(x->tp.topic, y->tp.topic);
    if (c != 0) return c;
    return x->tp.partition < y->tp.partition ? -1 : x->tp.partition > y->tp.partition;
}

static void gc_on_sync(void *arg, int status, const void *body) {
    struct group_consumer *gc = gc_answer(arg, NULL);
    if (gc == NULL) return;
    if (status < 0) {
        gc_refind(gc);
        return;
    }
    const struct proto_sync_group_response *r = body;
    int16_t e = r->error_code;
    if (gc_is_coordinator_error(e)) {
        gc_refind(gc);
        return;
    }
    if (e != 0) {
        gc_rejoin(gc, e == GC_ERR_UNKNOWN_MEMBER_ID);
        return;
    }
    struct group_consumer_partition tps[GROUP_CONSUMER_PARTITIONS_MAX];
    int n = group_consumer_decode_assignment(r->assignment.data,
                                             r->assignment.len > 0 ? (size_t)r->assignment.len : 0,
                                             tps, ARRAY_LEN(tps));
    if (n < 0) n = 0;
    gc->part_count = 0;
    for (int i = 0; i < n; i++) {
        gc->parts[gc->part_count++] =
            (struct gc_part){.tp = tps[i], .position = -1, .committed = -1};
    }
    qsort(gc->parts, gc->part_count, sizeof(gc->parts[0]), cmp_parts);
    /* The leaders of every assigned topic (normally the subscription; bounded: a topic
     * beyond CLUSTER_TOPICS_MAX stays leaderless and is not fetched). */
    for (size_t i = 0; i < gc->part_count; i++)
        (void)cluster_add_topic(gc->cluster, gc->parts[i].tp.topic);
    gc->state = GC_STABLE;
    gc->epoch++;
    gc_timer_cancel(gc, &gc->heartbeat_timer);
    gc->heartbeat_timer = io_timer_start(gc->io, gc_after(gc, gc->config.heartbeat_interval_ms),
                                         gc_heartbeat_fire, gc);
    uint32_t epoch = gc->epoch;
    gc_publish(gc, gc->config.on_assigned);
    if (!gc_current(gc, epoch) || gc->part_count == 0) return;
    /* Positions: the group's committed offsets first. */
    struct proto_offset_fetch_request_topic ts[GROUP_CONSUMER_PARTITIONS_MAX];
    int32_t ids[GROUP_CONSUMER_PARTITIONS_MAX];
    size_t topic_count = 0;
    for (size_t i = 0; i < gc->part_count; i++) {
        ids[i] = gc->parts[i].tp.partition;
        if (i == 0 || strcmp(gc->parts[i - 1].tp.topic, gc->parts[i].tp.topic) != 0) {
            ts[topic_count] = (struct proto_offset_fetch_request_topic){
                .name = proto_string_from(gc->parts[i].tp.topic)};
            ts[topic_count].partition_indexes.items = &ids[i];
            ts[topic_count].partition_indexes.count = 0;
            topic_count++;
        }
        ts[topic_count - 1].partition_indexes.count++;
    }
    struct proto_offset_fetch_request req = {.group_id = proto_string_from(gc->group_id)};
    req.topics.items = ts;
    req.topics.count = (int32_t)topic_count;
    if (gc_send(gc, gc->coord, PROTO_API_OFFSET_FETCH, 2, &req, gc_on_offset_fetch, NULL) < 0) {
        gc_refind(gc);
    }
}

/* --- Public ----------------------------------------------------------------------------- */

void group_consumer_config_defaults(struct group_consumer_config *config) {
    memset(config, 0, sizeof(*config));
    config->client_id = "trial-group-consumer";
    config->assignors[0] = GROUP_CONSUMER_RANGE;
    config->assignors[1] = GROUP_CONSUMER_ROUNDROBIN;
    config->assignor_count = 2;
    config->reset_earliest = true;
    config->auto_commit = true;
    config->auto_commit_interval_ms = 5000;
    config->session_timeout_ms = 10000;
    config->rebalance_timeout_ms = 300000;
    config->heartbeat_interval_ms = 3000;
    config->fetch_max_wait_ms = 500;
    config->retry_backoff_ms = 100;
}

int group_consumer_create(struct io *io, const struct group_consumer_config *config,
                          struct group_consumer **out) {
    bool has_bootstrap = config->bootstrap != NULL && config->bootstrap[0] != '\0';
    if ((config->host == NULL && !has_bootstrap) || config->group_id == NULL ||
        config->on_record == NULL ||
        config->topic_count == 0 || config->topic_count > GROUP_CONSUMER_TOPICS_MAX ||
        config->assignor_count == 0 || config->assignor_count > 2 ||
        strlen(config->group_id) >= GROUP_CONSUMER_NAME_MAX ||
        (config->host != NULL && strlen(config->host) >= GROUP_CONSUMER_NAME_MAX) ||
        config->heartbeat_interval_ms == 0 ||
        config->auto_commit_interval_ms == 0) {
        return -EINVAL;
    }
    struct cluster_config cc;
    cluster_config_init(&cc, config->bootstrap, config->host, config->port,
                        config->client_id != NULL ? config->client_id : "trial-group-consumer",
                        config->retry_backoff_ms);
    struct cluster *cluster = NULL;
    int rc = cluster_create(io, &cc, &cluster);
    if (rc < 0) return rc;
    for (size_t i = 0; i < config->topic_count && rc == 0; i++) {
        rc = strlen(config->topics[i]) >= GROUP_CONSUMER_NAME_MAX
                 ? -EINVAL : cluster_add_topic(cluster, config->topics[i]);
    }
    if (rc < 0) {
        cluster_destroy(cluster);
        return -EINVAL;
    }
    struct group_consumer *gc = io_calloc(io, 1, sizeof(*gc));
    gc->io = io;
    gc->config = *config;
    gc->cluster = cluster;
    gc->any_node = CLUSTER_NO_LEADER;
    gc->fetch_node = CLUSTER_NO_LEADER;
    gc->coord_node = CLUSTER_NO_LEADER;
    gc->config.bootstrap = NULL; /* Parsed by the cluster; not kept. */
    for (size_t i = 0; i < config->topic_count; i++) {
        snprintf(gc->topics[i], sizeof(gc->topics[i]), "%s", config->topics[i]);
        gc->config.topics[i] = gc->topics[i];
    }
    snprintf(gc->client_id, sizeof(gc->client_id), "%s",
             config->client_id != NULL ? config->client_id : "trial-group-consumer");
    snprintf(gc->group_id, sizeof(gc->group_id), "%s", config->group_id);
    gc->config.client_id = gc->client_id;
    gc->config.group_id = gc->group_id;
    gc->generation = -1;
    if (config->auto_commit) {
        gc->commit_timer =
            io_timer_start(io, gc_after(gc, config->auto_commit_interval_ms), gc_commit_fire, gc);
    }
    gc_find(gc);
    *out = gc;
    return 0;
}

static void gc_on_leave(void *arg, int status, const void *body) {
    struct gc_ctx *ctx = arg;
    struct group_consumer *gc = ctx->gc;
    ctx->used = false;
    if (gc->state != GC_LEAVING) return;
    gc->state = GC_CLOSED;
    int result =
        status < 0 ? status : ((const struct proto_leave_group_response *)body)->error_code;
    if (gc->close_done != NULL) gc->close_done(gc->close_arg, result);
}

static void gc_close_now(void *arg) {
    struct group_consumer *gc = arg;
    gc->retry_timer = 0;
    gc->state = GC_CLOSED;
    if (gc->close_done != NULL) gc->close_done(gc->close_arg, 0);
}

void group_consumer_close(struct group_consumer *gc, group_consumer_done_fn done, void *arg) {
    ASSERT(gc->state != GC_LEAVING && gc->state != GC_CLOSED);
    gc->close_done = done;
    gc->close_arg = arg;
    if (gc->state == GC_STABLE && gc->config.auto_commit) {
        (void)gc_commit_positions(gc, true, NULL, NULL);
    }
    if (gc->part_count > 0) {
        gc_publish(gc, gc->config.on_revoked);
        gc->part_count = 0;
    }
    gc->epoch++;
    gc_timer_cancel(gc, &gc->heartbeat_timer);
    gc_timer_cancel(gc, &gc->commit_timer);
    gc_timer_cancel(gc, &gc->retry_timer);
    gc->state = GC_LEAVING;
    gc_leave(gc);
}

static void gc_leave(struct group_consumer *gc) {
    struct proto_leave_group_request req = {.group_id = proto_string_from(gc->group_id),
                                            .member_id = proto_string_from(gc->member_id)};
    req.members.count = 0;
    if (gc->coord == NULL || gc->member_id[0] == '\0' ||
        gc_send(gc, gc->coord, PROTO_API_LEAVE_GROUP, 1, &req, gc_on_leave, NULL) < 0) {
        /* Nothing to leave: report on the next turn of the loop (never from inside close). */
        gc->retry_timer = io_timer_start(gc->io, io_now_ns(gc->io), gc_close_now, gc);
    }
}

void group_consumer_destroy(struct group_consumer *gc) {
    gc->state = GC_CLOSED;
    gc->epoch++;
    gc_timer_cancel(gc, &gc->heartbeat_timer);
    gc_timer_cancel(gc, &gc->commit_timer);
    gc_timer_cancel(gc, &gc->retry_timer);
    gc->close_done = NULL;
    gc_timer_cancel(gc, &gc->reap_timer);
    gc_drop_client(gc, &gc->coord);
    gc_timer_cancel(gc, &gc->reap_timer);
    gc_reap(gc);
    struct cluster *cluster = gc->cluster;
    gc->cluster = NULL;
    cluster_destroy(cluster); /* Cancelled callbacks see GC_CLOSED. */
    /* Cancelled callbacks see GC_CLOSED and arm nothing; cancel anyway, to be sure. */
    gc_timer_cancel(gc, &gc->heartbeat_timer);
    gc_timer_cancel(gc, &gc->commit_timer);
    gc_timer_cancel(gc, &gc->retry_timer);
    gc_timer_cancel(gc, &gc->reap_timer);
    gc_free_plans(gc);
    io_free(gc->io, gc, sizeof(*gc));
}

int group_consumer_commit(struct group_consumer *gc, group_consumer_done_fn done, void *arg) {
    return gc_commit_positions(gc, false, done, arg);
}

int group_consumer_commit_as(struct group_consumer *gc, int32_t generation, const char *topic,
                             int32_t partition, int64_t offset, group_consumer_done_fn done,
                             void *arg) {
    struct group_consumer_partition tp;
    if (strlen(topic) >= sizeof(tp.topic)) return -EINVAL;
    snprintf(tp.topic, sizeof(tp.topic), "%s", topic);
    tp.partition = partition;
    return gc_send_commit(gc, generation, &tp, &offset, 1, false, done, arg);
}

bool group_consumer_stable(const struct group_consumer *gc) { return gc->state == GC_STABLE; }

int32_t group_consumer_generation(const struct group_consumer *gc) { return gc->generation; }

size_t group_consumer_assignment(const struct group_consumer *gc,
                                 const struct group_consumer_partition **parts) {
    struct group_consumer *m = (struct group_consumer *)gc;
    for (size_t i = 0; i < m->part_count; i++)
        m->views[i] = m->parts[i].tp;
    *parts = m->views;
    return m->part_count;
}

int64_t group_consumer_position(const struct group_consumer *gc, const char *topic,
                                int32_t partition) {
    for (size_t i = 0; i < gc->part_count; i++) {
        if (gc->parts[i].tp.partition == partition && strcmp(gc->parts[i].tp.topic, topic) == 0) {
            return gc->parts[i].position;
        }
    }
    return -1;
}
