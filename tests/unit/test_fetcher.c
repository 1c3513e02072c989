/*
 * test_fetcher.c — proves the replica fetcher in the simulated world (two nodes, real
 * simulated network and disks). The leader is a tiny fake server (broker/connection.h and
 * the codec) answering OffsetForLeaderEpoch and Fetch from a real partition log, with
 * Kafka's epoch fencing; the follower runs partition + fetcher. Proves:
 *  - a follower whose tail diverged (offsets 10..14 written in epoch 1 that the new leader
 *    of epoch 2 never had) truncates to the leader's end offset of epoch 1 (10) and then
 *    holds the leader's log byte for byte, with the leader's HW (which moved because the
 *    follower's fetches count in the leader's ISR);
 *  - when the leader answers an epoch the follower never had, the follower cuts to its own
 *    end of the epoch below and asks again (KIP-279's second round), ending equal;
 *  - a Fetch answer cut in the middle of a batch appends only the whole batches before the
 *    cut, and the rest arrives with the next fetch;
 *  - a fenced epoch (the follower's epoch is older than the leader's) parks the partition:
 *    no more requests, nothing appended; re-added with the current epoch it catches up;
 *  - a leader behind on metadata (UNKNOWN_LEADER_EPOCH) is asked again after the backoff,
 *    without a re-add, and the follower catches up once it knows the epoch;
 *  - a follower whose whole log lies below the leader's log start gets OFFSET_OUT_OF_RANGE
 *    and restarts at the leader's log start;
 *  - one Fetch carries every ready partition, grouped by topic in order of first addition;
 *    removed partitions drop out of it;
 *  - a leader that stops answering times the request out; the fetcher reconnects after
 *    its backoff and catches up;
 *  - a fetcher destroyed from its own progress callback stops and frees everything;
 *  - the same seed gives the same trace hash.
 * Built a second time as test_fetcher_mutants (linked with the simulator's mutant build of
 * the system libraries, TEST_FETCHER_MUTANTS) it also proves the two fetcher mutants do the
 * harm they name, and that without them the same worlds are clean:
 *  - hw-before-truncate: the new leader's HW lands on the untruncated divergent tail, so the
 *    follower's traced `hw` goes down when the tail is cut (KAFKA-14704, I-REPL-6);
 *  - truncate-to-hw: a follower whose log equals the leader's but whose HW lags cuts back
 *    to its HW (pre-KIP-101) instead of keeping the data OffsetForLeaderEpoch vouches for.
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
#include "broker/config.h"
#include "broker/connection.h"
#include "log/batch.h"
#include "partition/fetcher.h"
#include "partition/partition.h"
#include "proto/proto.h"
#include "proto/proto_messages.h"
#include "sim/sim.h"

#define TOPIC "t"
#define PORT 9092

/* ---- The fake leader ------------------------------------------------------------------ */

#define PARTS_MAX 4

struct leader {
    struct io *io;
    struct io_listener *listener;
    struct partition *partition;      /* parts[0]. */
    struct partition *parts[PARTS_MAX]; /* Found by (topic, index). */
    uint32_t part_count;
    int32_t epoch;
    size_t chop_bytes;      /* Cut the next data answer this many bytes short (once). */
    uint32_t offsets_requests;
    uint32_t fetch_requests;
    char last_fetch_order[128]; /* "topic-index,..." of the last Fetch, in request order. */
    uint32_t accepts;
};

static int16_t epoch_check(const struct leader *l, int32_t current) {
    if (current < 0) return 0;
    if (current < l->epoch) return 74; /* FENCED_LEADER_EPOCH */
    if (current > l->epoch) return 75; /* UNKNOWN_LEADER_EPOCH */
    return 0;
}

static struct partition *leader_find(struct leader *l, struct proto_string topic,
                                     int32_t index) {
    for (uint32_t i = 0; i < l->part_count; i++) {
        if (l->parts[i]->index == index && proto_string_eq(topic, l->parts[i]->topic)) {
            return l->parts[i];
        }
    }
    fail_msg("fetch for an unknown partition %.*s-%d", (int)topic.len, topic.str, (int)index);
    return NULL;
}

static void respond(struct leader *l, struct broker_conn *conn, uint32_t slot,
                    const struct proto_request_header *h, const void *body) {
    struct proto_writer w;
    proto_writer_init(&w, l->io, 1u << 24);
    struct proto_response_header rh = {.correlation_id = h->correlation_id};
    assert_int_equal(proto_response_encode(&w, h->api_key, h->api_version, &rh, body), 0);
    /* After a pause the follower may have given up on this connection: -EPIPE is fine. */
    int rc = broker_conn_respond(conn, slot, w.buf, w.len, NULL, 0);
    assert_true(rc == 0 || rc == -EPIPE || rc == -ECONNRESET);
    proto_writer_destroy(&w);
}

static void answer_offsets(struct leader *l, struct broker_conn *conn, uint32_t slot,
                           const struct proto_request_header *h,
                           const struct proto_offset_for_leader_epoch_request *req) {
    l->offsets_requests++;
    assert_int_equal(req->replica_id, 2);
    assert_true(req->topics.count >= 1 && req->topics.count <= PARTS_MAX);
    struct proto_offset_for_leader_epoch_response_topic rts[PARTS_MAX];
    struct proto_offset_for_leader_epoch_response_partition ps[PARTS_MAX];
    uint32_t used = 0;
    for (int32_t t = 0; t < req->topics.count; t++) {
        const struct proto_offset_for_leader_epoch_request_topic *rt = &req->topics.items[t];
        rts[t] = (struct proto_offset_for_leader_epoch_response_topic){.topic = rt->topic};
        rts[t].partitions.items = &ps[used];
        rts[t].partitions.count = rt->partitions.count;
        for (int32_t i = 0; i < rt->partitions.count; i++) {
            const struct proto_offset_for_leader_epoch_request_partition *rp =
                &rt->partitions.items[i];
            assert_true(used < PARTS_MAX);
            struct proto_offset_for_leader_epoch_response_partition *p = &ps[used++];
            *p = (struct proto_offset_for_leader_epoch_response_partition){
                .partition = rp->partition, .leader_epoch = -1, .end_offset = -1};
            p->error_code = epoch_check(l, rp->current_leader_epoch);
            if (p->error_code == 0) {
                struct partition *part = leader_find(l, rt->topic, rp->partition);
                log_end_offset_for_epoch(part->log, rp->leader_epoch, &p->leader_epoch,
                                         &p->end_offset);
            }
        }
    }
    struct proto_offset_for_leader_epoch_response resp = {0};
    resp.topics.items = rts;
    resp.topics.count = req->topics.count;
    respond(l, conn, slot, h, &resp);
}

static void answer_fetch(struct leader *l, struct broker_conn *conn, uint32_t slot,
                         const struct proto_request_header *h,
                         const struct proto_fetch_request *req) {
    l->fetch_requests++;
    assert_int_equal(req->replica_id, 2);
    assert_true(req->topics.count >= 1 && req->topics.count <= PARTS_MAX);
    struct proto_fetch_response_topic rts[PARTS_MAX];
    struct proto_fetch_response_partition ps[PARTS_MAX];
    static uint8_t bufs[PARTS_MAX][1 << 16];
    uint32_t used = 0;
    size_t order_len = 0;
    l->last_fetch_order[0] = '\0';
    for (int32_t t = 0; t < req->topics.count; t++) {
        const struct proto_fetch_request_topic *rt = &req->topics.items[t];
        rts[t] = (struct proto_fetch_response_topic){.topic = rt->topic};
        rts[t].partitions.items = &ps[used];
        rts[t].partitions.count = rt->partitions.count;
        for (int32_t i = 0; i < rt->partitions.count; i++) {
            const struct proto_fetch_request_partition *rp = &rt->partitions.items[i];
            assert_true(used < PARTS_MAX);
            uint8_t *buf = bufs[used];
            struct proto_fetch_response_partition *p = &ps[used++];
            int n = snprintf(l->last_fetch_order + order_len,
                             sizeof l->last_fetch_order - order_len, "%s%.*s-%d",
                             order_len == 0 ? "" : ",", (int)rt->topic.len, rt->topic.str,
                             (int)rp->partition);
            assert_true(n > 0 && (size_t)n < sizeof l->last_fetch_order - order_len);
            order_len += (size_t)n;
            *p = (struct proto_fetch_response_partition){.partition_index = rp->partition,
                                                         .high_watermark = -1,
                                                         .last_stable_offset = -1,
                                                         .log_start_offset = -1,
                                                         .preferred_read_replica = -1};
            p->aborted_transactions.count = -1;
            p->records.len = 0;
            p->error_code = epoch_check(l, rp->current_leader_epoch);
            if (p->error_code != 0) continue;
            struct partition *part = leader_find(l, rt->topic, rp->partition);
            size_t len = 0;
            int64_t first = -1;
            int rc = log_read_copy(part->log, rp->fetch_offset,
                                   (size_t)rp->partition_max_bytes, true,
                                   partition_log_end(part), buf, sizeof bufs[0], &len, &first);
            if (rc == -ERANGE) {
                p->error_code = 1; /* OFFSET_OUT_OF_RANGE */
            } else {
                assert_int_equal(rc, 0);
                partition_follower_fetched(part, req->replica_id, rp->fetch_offset,
                                           io_wall_ms(l->io));
                if (len > 0 && l->chop_bytes > 0 && len > l->chop_bytes) {
                    len -= l->chop_bytes; /* A partial batch at the end, as max_bytes makes. */
                    l->chop_bytes = 0;
                }
                p->records.data = buf;
                p->records.len = (int32_t)len;
            }
            p->high_watermark = part->high_watermark;
            p->last_stable_offset = part->high_watermark;
            p->log_start_offset = partition_log_start(part);
        }
    }
    struct proto_fetch_response resp = {0};
    resp.responses.items = rts;
    resp.responses.count = req->topics.count;
    respond(l, conn, slot, h, &resp);
}

static int leader_on_request(void *arg, struct broker_conn *conn, uint32_t slot,
                             uint8_t *payload, size_t len) {
    struct leader *l = arg;
    struct proto_arena arena;
    proto_arena_init(&arena, l->io, 1u << 20);
    struct proto_request_header h;
    void *body = NULL;
    int rc = proto_request_decode(&arena, payload, len, &h, &body);
    assert_int_equal(rc, 0);
    if (h.api_key == PROTO_API_OFFSET_FOR_LEADER_EPOCH) {
        assert_int_equal(h.api_version, 3);
        answer_offsets(l, conn, slot, &h, body);
    } else {
        assert_int_equal(h.api_key, PROTO_API_FETCH);
        answer_fetch(l, conn, slot, &h, body);
    }
    proto_arena_destroy(&arena);
    return 0;
}

static void leader_on_close(void *arg, struct broker_conn *conn, int reason) {
    (void)arg;
    (void)conn;
    (void)reason;
}

static void leader_on_accept(void *arg, struct io_stream *stream) {
    struct leader *l = arg;
    l->accepts++;
    struct broker_conn_limits limits = {.max_frame_bytes = 1u << 24, .max_inflight = 16,
                                        .max_output_bytes = 1u << 24, .idle_ms = 600000};
    broker_conn_create(l->io, stream, &limits, leader_on_request, leader_on_close, l);
}

/* ---- The follower's callbacks --------------------------------------------------------- */

struct follower {
    struct fetcher **destroy_on_progress; /* Destroys this fetcher from the callback. */
    uint32_t progress;
    uint32_t hw_moves;
    uint32_t storage_errors;
};

static void on_progress(void *arg, struct partition *partition, bool hw_moved) {
    struct follower *f = arg;
    (void)partition;
    f->progress++;
    f->hw_moves += hw_moved;
    if (f->destroy_on_progress != NULL && *f->destroy_on_progress != NULL) {
        fetcher_destroy(*f->destroy_on_progress);
        *f->destroy_on_progress = NULL;
    }
}

static void on_storage_error(void *arg, struct partition *partition, int error) {
    struct follower *f = arg;
    (void)partition;
    (void)error;
    f->storage_errors++;
}

/* ---- Helpers -------------------------------------------------------------------------- */

static struct partition *open_partition(struct io *io, int32_t node, const char *topic,
                                        int32_t index) {
    bool is_dir = false;
    if (io_exists(io, "/data", &is_dir) != 0) assert_int_equal(io_mkdir(io, "/data"), 0);
    char dir[64];
    snprintf(dir, sizeof dir, "/data/%s-%d", topic, (int)index);
    assert_int_equal(io_mkdir(io, dir), 0);
    struct log_config c;
    log_config_default(&c);
    struct partition *p = NULL;
    assert_int_equal(partition_open(io, dir, &c, index, 1, node, 0, &p), 0);
    p->topic = topic;
    return p;
}

/* One batch of n records whose values say who wrote them. */
static size_t build(uint8_t *buf, size_t cap, int n, int64_t base, int32_t epoch,
                    const char *who) {
    struct batch_record_in recs[16];
    ASSERT(n <= 16);
    for (int i = 0; i < n; i++) {
        recs[i] = (struct batch_record_in){.offset_delta = i, .timestamp = 1000 + i,
                                           .key = (const uint8_t *)"k", .key_len = 1,
                                           .value = (const uint8_t *)who,
                                           .value_len = (int32_t)strlen(who)};
    }
    struct batch_build_params params = {.base_offset = base, .partition_leader_epoch = epoch,
                                        .producer_id = -1, .producer_epoch = -1,
                                        .base_sequence = -1};
    int64_t len = batch_build(buf, cap, &params, recs, (size_t)n);
    assert_true(len > 0);
    return (size_t)len;
}

static void leader_append(struct partition *p, int n) {
    uint8_t buf[4096];
    size_t len = build(buf, sizeof buf, n, 0, 0, "leader");
    struct log_append_info info;
    assert_int_equal(partition_append(p, buf, len, 0, &info), 0);
}

/* The whole log [log start, LEO) as bytes. */
static size_t log_bytes(struct partition *p, uint8_t *buf, size_t cap) {
    size_t len = 0;
    int64_t first = -1;
    if (partition_log_end(p) == partition_log_start(p)) return 0;
    assert_int_equal(log_read_copy(p->log, partition_log_start(p), cap, true,
                                   partition_log_end(p), buf, cap, &len, &first),
                     0);
    return len;
}

static void run_ms(struct sim_world *w, uint64_t ms) {
    sim_world_run_until(w, sim_world_now_ns(w) + ms * NS_PER_MS);
}

static const int32_t R12[] = {1, 2};

struct world {
    struct sim_world *sim;
    struct sim_node *leader_node, *follower_node;
    struct leader leader;
    struct follower follower;
    struct partition *fp;
    struct fetcher *fetcher;
    struct broker_config config;
};

static void world_start(struct world *w, uint64_t seed) {
    memset(w, 0, sizeof *w);
    w->sim = sim_world_create(seed);
    w->leader_node = sim_node_add(w->sim, "leader", NULL, NULL);
    w->follower_node = sim_node_add(w->sim, "follower", NULL, NULL);
    run_ms(w->sim, 1);
    w->leader.io = sim_node_io(w->leader_node);
    w->leader.partition = open_partition(w->leader.io, 1, TOPIC, 0);
    w->leader.parts[0] = w->leader.partition;
    w->leader.part_count = 1;
    assert_int_equal(io_listen(w->leader.io, "0.0.0.0", PORT, leader_on_accept, &w->leader,
                               &w->leader.listener),
                     0);
    w->fp = open_partition(sim_node_io(w->follower_node), 2, TOPIC, 0);
    broker_config_defaults(&w->config);
    w->config.node_id = 2;
    w->config.replica_fetch_wait_max_ms = 500;
    w->config.replica_fetch_backoff_ms = 1000;
}

static void world_fetch(struct world *w, int32_t epoch) {
    struct fetcher_callbacks cb = {.on_progress = on_progress,
                                   .on_storage_error = on_storage_error,
                                   .arg = &w->follower};
    assert_int_equal(fetcher_create(sim_node_io(w->follower_node), &w->config, 1, "leader",
                                    PORT, &cb, &w->fetcher),
                     0);
    assert_int_equal(fetcher_leader_id(w->fetcher), 1);
    assert_int_equal(fetcher_add(w->fetcher, w->fp, epoch), 0);
    assert_int_equal(fetcher_add(w->fetcher, w->fp, epoch), -EEXIST);
    assert_int_equal(fetcher_partition_count(w->fetcher), 1);
}

static void world_stop(struct world *w) {
    fetcher_destroy(w->fetcher);
    assert_int_equal(partition_close(w->fp), 0);
    io_listener_close(w->leader.io, w->leader.listener);
    assert_int_equal(partition_close(w->leader.partition), 0);
    sim_world_destroy(w->sim);
}

/* ---- Tests ---------------------------------------------------------------------------- */

static uint64_t divergent_tail(uint64_t seed) {
    static struct world w;
    world_start(&w, seed);
    struct partition *lp = w.leader.partition;
    /* Epoch 1: offsets 0..9 on both (the follower got them from the old leader). */
    const int32_t only1[] = {1};
    assert_int_equal(partition_become_leader(lp, 1, 1, R12, 2, only1, 1, 0), 0);
    leader_append(lp, 4);
    leader_append(lp, 6);
    uint8_t a[1 << 16], b[1 << 16];
    size_t len = log_bytes(lp, a, sizeof a);
    assert_int_equal(partition_become_follower(w.fp, 1, 1, 1, R12, 2, only1, 1), 0);
    assert_int_equal(partition_follower_append(w.fp, a, len, 10, 0, 0), 0);
    /* The follower's divergent tail: 10..14 in epoch 1 that never reached the leader. */
    len = build(b, sizeof b, 5, 10, 1, "lost");
    assert_int_equal(partition_follower_append(w.fp, b, len, 10, 0, 0), 0);
    assert_int_equal(partition_log_end(w.fp), 15);
    /* Epoch 2: the leader writes 10..17 in three batches; the follower is in its ISR. */
    assert_int_equal(partition_become_leader(lp, 2, 2, R12, 2, R12, 2, 0), 0);
    leader_append(lp, 3);
    leader_append(lp, 3);
    leader_append(lp, 2);
    assert_int_equal(partition_log_end(lp), 18);
    assert_int_equal(lp->high_watermark, 10); /* Waits for the follower. */
    w.leader.epoch = 2;
    w.leader.chop_bytes = 7; /* The first data answer ends inside the last batch. */

    assert_int_equal(partition_become_follower(w.fp, 1, 2, 2, R12, 2, R12, 2), 0);
    world_fetch(&w, 2);
    run_ms(w.sim, 1);
    assert_int_equal(w.leader.offsets_requests, 0); /* Nothing runs inside fetcher_add. */
    run_ms(w.sim, 3000);

    assert_int_equal(w.leader.offsets_requests, 1);
    assert_true(w.leader.fetch_requests >= 3); /* 10 (cut), 16, then 18 for the HW. */
    assert_int_equal(w.follower.storage_errors, 0);
    assert_int_equal(partition_log_end(w.fp), 18);
    assert_int_equal(lp->high_watermark, 18);
    assert_int_equal(w.fp->high_watermark, 18);
    assert_true(w.follower.progress >= 2);
    assert_true(w.follower.hw_moves >= 1);
    /* Byte for byte the leader's log, epochs included. */
    size_t la = log_bytes(lp, a, sizeof a);
    size_t lb = log_bytes(w.fp, b, sizeof b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    int32_t e = -1;
    int64_t end = -1;
    log_end_offset_for_epoch(w.fp->log, 1, &e, &end);
    assert_int_equal(e, 1);
    assert_int_equal(end, 10);
    uint64_t hash = sim_world_trace_hash(w.sim);
    world_stop(&w);
    return hash;
}

static void test_divergent_tail_truncates_then_copies(void **state) {
    (void)state;
    uint64_t h1 = divergent_tail(11);
    uint64_t h2 = divergent_tail(11);
    assert_int_equal(h1, h2);
}

static void test_fenced_epoch_parks(void **state) {
    (void)state;
    static struct world w;
    world_start(&w, 5);
    struct partition *lp = w.leader.partition;
    assert_int_equal(partition_become_leader(lp, 3, 1, R12, 2, R12, 2, 0), 0);
    leader_append(lp, 5);
    w.leader.epoch = 3;
    /* The follower still believes in epoch 2: the leader fences it. */
    assert_int_equal(partition_become_follower(w.fp, 1, 2, 1, R12, 2, R12, 2), 0);
    world_fetch(&w, 2);
    run_ms(w.sim, 5000);
    /* An empty log has no epoch to ask about, so it fetches at once: one request only. */
    assert_int_equal(w.leader.offsets_requests + w.leader.fetch_requests, 1);
    assert_int_equal(partition_log_end(w.fp), 0);
    assert_int_equal(w.follower.progress, 0);
    assert_int_equal(fetcher_partition_count(w.fetcher), 1); /* Parked, not dropped. */
    /* The broker learns epoch 3 and re-adds it: it catches up. */
    fetcher_remove(w.fetcher, w.fp);
    assert_int_equal(fetcher_partition_count(w.fetcher), 0);
    assert_int_equal(partition_become_follower(w.fp, 1, 3, 2, R12, 2, R12, 2), 0);
    assert_int_equal(fetcher_add(w.fetcher, w.fp, 3), 0);
    run_ms(w.sim, 3000);
    assert_int_equal(partition_log_end(w.fp), 5);
    assert_int_equal(w.fp->high_watermark, 5);
    assert_int_equal(lp->high_watermark, 5);
    world_stop(&w);
}

/* An empty follower behind the leader's log start (DeleteRecords moved it to 8) gets
 * OFFSET_OUT_OF_RANGE, restarts at the leader's log start and copies from there. */
static void test_out_of_range_restarts_at_leader_log_start(void **state) {
    (void)state;
    static struct world w;
    world_start(&w, 9);
    struct partition *lp = w.leader.partition;
    assert_int_equal(partition_become_leader(lp, 1, 1, R12, 2, R12, 2, 0), 0);
    leader_append(lp, 8);
    leader_append(lp, 4);
    assert_int_equal(log_delete_records(lp->log, 8), 0);
    w.leader.epoch = 1;
    assert_int_equal(partition_become_follower(w.fp, 1, 1, 1, R12, 2, R12, 2), 0);
    world_fetch(&w, 1);
    run_ms(w.sim, 3000);
    assert_int_equal(w.follower.storage_errors, 0);
    assert_int_equal(partition_log_start(w.fp), 8);
    assert_int_equal(partition_log_end(w.fp), 12);
    assert_int_equal(w.fp->high_watermark, 12);
    uint8_t a[1 << 16], b[1 << 16];
    size_t la = log_bytes(lp, a, sizeof a);
    size_t lb = log_bytes(w.fp, b, sizeof b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    world_stop(&w);
}

/* A leader whose metadata is behind ours answers UNKNOWN_LEADER_EPOCH: the fetcher asks
 * again every replica.fetch.backoff.ms (not parked: we already have the newer metadata, no
 * re-add will come) and catches up once the leader knows the epoch. */
static void test_leader_behind_is_retried(void **state) {
    (void)state;
    static struct world w;
    world_start(&w, 23);
    struct partition *lp = w.leader.partition;
    assert_int_equal(partition_become_leader(lp, 2, 1, R12, 2, R12, 2, 0), 0);
    leader_append(lp, 6);
    w.leader.epoch = 1; /* The fake answers as if it had not heard of epoch 2 yet. */
    assert_int_equal(partition_become_follower(w.fp, 1, 2, 1, R12, 2, R12, 2), 0);
    world_fetch(&w, 2);
    run_ms(w.sim, 3500);
    uint32_t asked = w.leader.offsets_requests + w.leader.fetch_requests;
    assert_true(asked >= 3 && asked <= 5); /* About one per backoff (1 s), no spinning. */
    assert_int_equal(partition_log_end(w.fp), 0);
    w.leader.epoch = 2;
    run_ms(w.sim, 2000);
    assert_int_equal(partition_log_end(w.fp), 6);
    assert_int_equal(w.fp->high_watermark, 6);
    world_stop(&w);
}

/* KIP-279's second round: the follower (epochs 1 and 3) does not know the leader's answer
 * epoch 2, so it cuts to the end of its own epoch below (10) and asks again about epoch 1,
 * whose end on the leader (8) is the divergence point. Leader: 0..7 @1, 8..11 @2, 12..15 @4;
 * follower: 0..7 @1 (the same), 8..9 @1 and 10..14 @3 that the leader never had. */
static void test_unknown_epoch_second_round(void **state) {
    (void)state;
    static struct world w;
    world_start(&w, 29);
    struct partition *lp = w.leader.partition;
    uint8_t a[1 << 16], b[1 << 16];
    size_t n = build(a, sizeof a, 8, 0, 1, "common");
    assert_int_equal(partition_follower_append(lp, a, n, 0, 0, 0), 0);
    assert_int_equal(partition_follower_append(w.fp, a, n, 0, 0, 0), 0);
    n = build(a, sizeof a, 4, 8, 2, "epoch2");
    assert_int_equal(partition_follower_append(lp, a, n, 0, 0, 0), 0);
    assert_int_equal(partition_become_leader(lp, 4, 1, R12, 2, R12, 2, 0), 0);
    leader_append(lp, 4);
    assert_int_equal(partition_log_end(lp), 16);
    n = build(b, sizeof b, 2, 8, 1, "lost-1");
    assert_int_equal(partition_follower_append(w.fp, b, n, 0, 0, 0), 0);
    n = build(b, sizeof b, 5, 10, 3, "lost-3");
    assert_int_equal(partition_follower_append(w.fp, b, n, 0, 0, 0), 0);
    assert_int_equal(partition_latest_epoch(w.fp), 3);
    w.leader.epoch = 4;
    assert_int_equal(partition_become_follower(w.fp, 1, 4, 1, R12, 2, R12, 2), 0);
    world_fetch(&w, 4);
    run_ms(w.sim, 3000);
    assert_int_equal(w.leader.offsets_requests, 2);
    assert_int_equal(partition_log_end(w.fp), 16);
    size_t la = log_bytes(lp, a, sizeof a);
    size_t lb = log_bytes(w.fp, b, sizeof b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    int32_t e = -1;
    int64_t end = -1;
    log_end_offset_for_epoch(w.fp->log, 2, &e, &end);
    assert_int_equal(e, 2);
    assert_int_equal(end, 12);
    world_stop(&w);
}

/* Four partitions of two topics added as t-0, u-1, t-1, u-0: one Fetch carries them all,
 * grouped by topic in order of first appearance (t-0,t-1,u-1,u-0), and each follower copy
 * ends equal to its leader's. */
static void test_many_partitions_one_fetch(void **state) {
    (void)state;
    static struct world w;
    world_start(&w, 13);
    struct io *fio = sim_node_io(w.follower_node);
    const char *topics[] = {TOPIC, "u", TOPIC, "u"};
    const int32_t indexes[] = {0, 1, 1, 0};
    struct partition *lps[4], *fps[4];
    lps[0] = w.leader.partition;
    fps[0] = w.fp;
    for (int i = 1; i < 4; i++) {
        lps[i] = open_partition(w.leader.io, 1, topics[i], indexes[i]);
        fps[i] = open_partition(fio, 2, topics[i], indexes[i]);
        w.leader.parts[w.leader.part_count++] = lps[i];
    }
    w.leader.epoch = 1;
    struct fetcher_callbacks cb = {.on_progress = on_progress,
                                   .on_storage_error = on_storage_error,
                                   .arg = &w.follower};
    assert_int_equal(fetcher_create(fio, &w.config, 1, "leader", PORT, &cb, &w.fetcher), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(partition_become_leader(lps[i], 1, 1, R12, 2, R12, 2, 0), 0);
        for (int b = 0; b <= i; b++) leader_append(lps[i], 2 + i);
        assert_int_equal(partition_become_follower(fps[i], 1, 1, 1, R12, 2, R12, 2), 0);
        assert_int_equal(fetcher_add(w.fetcher, fps[i], 1), 0);
    }
    assert_int_equal(fetcher_partition_count(w.fetcher), 4);
    run_ms(w.sim, 3000);
    assert_string_equal(w.leader.last_fetch_order, "t-0,t-1,u-1,u-0");
    uint8_t a[1 << 16], b[1 << 16];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(partition_log_end(fps[i]), (i + 1) * (2 + i));
        assert_int_equal(fps[i]->high_watermark, partition_log_end(lps[i]));
        size_t la = log_bytes(lps[i], a, sizeof a);
        size_t lb = log_bytes(fps[i], b, sizeof b);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
    }
    /* Removing two leaves the other two fetching. */
    fetcher_remove(w.fetcher, fps[1]);
    fetcher_remove(w.fetcher, fps[2]);
    assert_int_equal(fetcher_partition_count(w.fetcher), 2);
    leader_append(lps[0], 1);
    leader_append(lps[3], 1);
    run_ms(w.sim, 2000);
    assert_string_equal(w.leader.last_fetch_order, "t-0,u-0");
    assert_int_equal(partition_log_end(fps[0]), partition_log_end(lps[0]));
    assert_int_equal(partition_log_end(fps[3]), partition_log_end(lps[3]));
    for (int i = 1; i < 4; i++) {
        if (i != 1 && i != 2) fetcher_remove(w.fetcher, fps[i]);
        assert_int_equal(partition_close(fps[i]), 0);
        assert_int_equal(partition_close(lps[i]), 0);
    }
    w.leader.part_count = 1;
    world_stop(&w);
}

static uint32_t g_timeouts_logged;

static void count_timeouts(void *arg, struct sim_node *node, uint64_t now_ns,
                           enum io_log_level level, const char *message) {
    (void)arg;
    (void)node;
    (void)now_ns;
    (void)level;
    if (strstr(message, "did not answer in time") != NULL) g_timeouts_logged++;
}

/* A leader that stops answering (a long pause) times the request out; the fetcher
 * reconnects after its backoff and catches up once the leader runs again. */
static void test_silent_leader_times_out_and_reconnects(void **state) {
    (void)state;
    static struct world w;
    world_start(&w, 17);
    g_timeouts_logged = 0;
    sim_world_set_log_hook(w.sim, count_timeouts, NULL);
    struct partition *lp = w.leader.partition;
    assert_int_equal(partition_become_leader(lp, 1, 1, R12, 2, R12, 2, 0), 0);
    leader_append(lp, 3);
    w.leader.epoch = 1;
    assert_int_equal(partition_become_follower(w.fp, 1, 1, 1, R12, 2, R12, 2), 0);
    world_fetch(&w, 1);
    run_ms(w.sim, 1000);
    assert_int_equal(partition_log_end(w.fp), 3);
    assert_int_equal(w.leader.accepts, 1);
    sim_node_pause(w.leader_node);
    leader_append(lp, 4); /* Written meanwhile; served only after the pause. */
    run_ms(w.sim, 40000);
    assert_int_equal(partition_log_end(w.fp), 3);
    sim_node_resume(w.leader_node);
    run_ms(w.sim, 5000);
    assert_int_equal(partition_log_end(w.fp), 7);
    assert_int_equal(w.fp->high_watermark, 7);
    assert_true(g_timeouts_logged >= 1);
    assert_true(w.leader.accepts >= 2); /* A new connection after the timeout. */
    assert_int_equal(w.follower.storage_errors, 0);
    world_stop(&w);
}

/* The broker may destroy a fetcher from its own callback (inside a response): nothing runs
 * afterwards, nothing leaks (the follower node's memory goes back to where it was). */
static void test_destroy_from_callback(void **state) {
    (void)state;
    static struct world w;
    world_start(&w, 19);
    struct partition *lp = w.leader.partition;
    assert_int_equal(partition_become_leader(lp, 1, 1, R12, 2, R12, 2, 0), 0);
    leader_append(lp, 3);
    w.leader.epoch = 1;
    assert_int_equal(partition_become_follower(w.fp, 1, 1, 1, R12, 2, R12, 2), 0);
    size_t before = sim_node_live_bytes(w.follower_node);
    world_fetch(&w, 1);
    w.follower.destroy_on_progress = &w.fetcher;
    run_ms(w.sim, 2000);
    assert_null(w.fetcher);
    assert_int_equal(w.follower.progress, 1);
    uint32_t fetches = w.leader.fetch_requests;
    leader_append(lp, 3);
    run_ms(w.sim, 2000);
    assert_int_equal(w.leader.fetch_requests, fetches); /* Nothing more was sent. */
    assert_int_equal(partition_log_end(w.fp), 3);
    /* Every byte the fetcher (and its client) allocated is back. */
    assert_int_equal(sim_node_live_bytes(w.follower_node), before);
    assert_int_equal(partition_close(w.fp), 0);
    io_listener_close(w.leader.io, w.leader.listener);
    assert_int_equal(partition_close(w.leader.partition), 0);
    sim_world_destroy(w.sim);
}

#ifdef TEST_FETCHER_MUTANTS
/* What the follower node traced: hw decreases and truncations. */
struct follower_watch {
    struct sim_node *node;
    int64_t last_hw;
    uint32_t hw_decreases;
    uint32_t truncations;
    int64_t truncated_to;
};

static void watch_trace(void *arg, struct sim_node *node, uint64_t now_ns, const char *event,
                        const struct io_trace_field *fields, size_t count) {
    struct follower_watch *fw = arg;
    (void)now_ns;
    if (node != fw->node) return;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(event, "hw") == 0 && strcmp(fields[i].key, "hw") == 0) {
            fw->hw_decreases += fields[i].i < fw->last_hw;
            fw->last_hw = fields[i].i;
        }
        if (strcmp(event, "log_truncate") == 0 && strcmp(fields[i].key, "offset") == 0) {
            fw->truncations++;
            fw->truncated_to = fields[i].i;
        }
    }
}

/* Leader: 0..9 in epoch 1 (both have them), 10..17 in epoch 2 with the ISR {leader}, so
 * its HW is 18. Follower: 0..9 plus a divergent 10..14 of epoch 1, HW 10. */
static void hw_before_truncate(const char *mutant, uint32_t expect_decreases) {
    static struct world w;
    world_start(&w, 21);
    struct follower_watch fw = {.node = w.follower_node, .last_hw = -1};
    sim_world_set_trace_hook(w.sim, watch_trace, &fw);
    sim_world_set_mutant(w.sim, mutant);
    struct partition *lp = w.leader.partition;
    const int32_t only1[] = {1};
    assert_int_equal(partition_become_leader(lp, 1, 1, R12, 2, only1, 1, 0), 0);
    leader_append(lp, 10);
    uint8_t a[1 << 16], b[1 << 16];
    size_t len = log_bytes(lp, a, sizeof a);
    assert_int_equal(partition_become_follower(w.fp, 1, 1, 1, R12, 2, only1, 1), 0);
    assert_int_equal(partition_follower_append(w.fp, a, len, 10, 0, 0), 0);
    len = build(b, sizeof b, 5, 10, 1, "lost");
    assert_int_equal(partition_follower_append(w.fp, b, len, 10, 0, 0), 0);
    assert_int_equal(partition_become_leader(lp, 2, 2, R12, 2, only1, 1, 0), 0);
    leader_append(lp, 8);
    assert_int_equal(lp->high_watermark, 18);
    w.leader.epoch = 2;
    assert_int_equal(partition_become_follower(w.fp, 1, 2, 2, R12, 2, only1, 1), 0);
    world_fetch(&w, 2);
    run_ms(w.sim, 3000);
    /* Either way the follower ends as a copy of the leader... */
    assert_int_equal(partition_log_end(w.fp), 18);
    assert_int_equal(w.fp->high_watermark, 18);
    size_t la = log_bytes(lp, a, sizeof a);
    size_t lb = log_bytes(w.fp, b, sizeof b);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    /* ...but with the mutant its HW went up to 15 over the lost tail and back to 10. */
    assert_int_equal(fw.hw_decreases, expect_decreases);
    world_stop(&w);
}

static void test_mutant_hw_before_truncate(void **state) {
    (void)state;
    hw_before_truncate("", 0);
    hw_before_truncate("hw-before-truncate", 1);
}

/* Both logs are 0..14 of epoch 1; the leader moved to epoch 2; the follower's HW is 10. */
static void truncate_to_hw(const char *mutant, uint32_t expect_truncations) {
    static struct world w;
    world_start(&w, 22);
    struct follower_watch fw = {.node = w.follower_node, .last_hw = -1};
    sim_world_set_trace_hook(w.sim, watch_trace, &fw);
    sim_world_set_mutant(w.sim, mutant);
    struct partition *lp = w.leader.partition;
    const int32_t only1[] = {1};
    assert_int_equal(partition_become_leader(lp, 1, 1, R12, 2, only1, 1, 0), 0);
    leader_append(lp, 10);
    leader_append(lp, 5);
    uint8_t a[1 << 16];
    size_t len = log_bytes(lp, a, sizeof a);
    assert_int_equal(partition_become_follower(w.fp, 1, 1, 1, R12, 2, only1, 1), 0);
    assert_int_equal(partition_follower_append(w.fp, a, len, 10, 0, 0), 0);
    assert_int_equal(w.fp->high_watermark, 10);
    assert_int_equal(partition_become_leader(lp, 2, 2, R12, 2, only1, 1, 0), 0);
    w.leader.epoch = 2;
    assert_int_equal(partition_become_follower(w.fp, 1, 2, 2, R12, 2, only1, 1), 0);
    world_fetch(&w, 2);
    run_ms(w.sim, 3000);
    assert_int_equal(partition_log_end(w.fp), 15);
    assert_int_equal(fw.truncations, expect_truncations);
    if (expect_truncations > 0) assert_int_equal(fw.truncated_to, 10);
    world_stop(&w);
}

static void test_mutant_truncate_to_hw(void **state) {
    (void)state;
    truncate_to_hw("", 0);
    truncate_to_hw("truncate-to-hw", 1);
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_divergent_tail_truncates_then_copies),
        cmocka_unit_test(test_fenced_epoch_parks),
        cmocka_unit_test(test_out_of_range_restarts_at_leader_log_start),
        cmocka_unit_test(test_leader_behind_is_retried),
        cmocka_unit_test(test_unknown_epoch_second_round),
        cmocka_unit_test(test_many_partitions_one_fetch),
        cmocka_unit_test(test_silent_leader_times_out_and_reconnects),
        cmocka_unit_test(test_destroy_from_callback),
#ifdef TEST_FETCHER_MUTANTS
        cmocka_unit_test(test_mutant_hw_before_truncate),
        cmocka_unit_test(test_mutant_truncate_to_hw),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
