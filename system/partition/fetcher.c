/*
 * fetcher.c — a follower's replica fetcher over client.c (see fetcher.h).
 *
 * One request is in flight at a time. Each step (a zero-delay timer, so no callback ever
 * runs inside a fetcher_* call) sends, in this order of preference:
 *   1. OffsetForLeaderEpoch for every partition that must still find its divergence point
 *      (just added, or sent back there by a fetch that no longer fits the leader's log);
 *   2. one Fetch covering every partition ready to fetch, in add order, grouped by topic in
 *      order of first appearance (deterministic: no pointer or hash order).
 * Partitions are identified in a request by a per-add serial number, so a partition
 * removed (or removed and re-added in a new epoch) while its request is in flight simply
 * has its answer dropped. FENCED_LEADER_EPOCH parks a partition until the broker re-adds
 * it; other partition errors retry that partition after replica.fetch.backoff.ms; connection
 * failures and request timeouts back off as long and reconnect. The fetcher never frees
 * itself inside a callback of its client: a destroy from inside waits for a zero-delay timer.
 *
 * Mutants (simulation builds only, base/mutant.h):
 *   truncate-to-hw      skips OffsetForLeaderEpoch and truncates to the local HW (the
 *                       pre-KIP-101 rule: loses committed data or keeps divergent data);
 *   hw-before-truncate  applies the new leader's HW to the untruncated log first and only
 *                       then truncates (KAFKA-14704: a HW above data that is then cut).
 */
#include "partition/fetcher.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/mutant.h"
#include "client/client.h"
#include "log/batch.h"
#include "proto/proto.h"
#include "proto/proto_messages.h"

#define FETCHER_PARTITIONS_MAX 65536
#define FETCHER_HOST_MAX 256
#define FETCHER_FETCH_VERSION 11
#define FETCHER_OFFSET_FOR_EPOCH_VERSION 3
#define FETCHER_REQUEST_TIMEOUT_MS 30000 /* Beyond max_wait: the leader is presumed gone. */
#define FETCHER_IDLE_DELAY_MS 10         /* After an answer that moved nothing (no spin). */

/* Kafka error codes the fetcher tells apart. */
enum {
    FERR_NONE = 0,
    FERR_OFFSET_OUT_OF_RANGE = 1,
    FERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    FERR_NOT_LEADER_OR_FOLLOWER = 6,
    FERR_FENCED_LEADER_EPOCH = 74,
    FERR_UNKNOWN_LEADER_EPOCH = 75,
};

enum fetcher_part_state {
    FETCHER_TRUNCATING = 0, /* Must ask OffsetForLeaderEpoch before fetching. */
    FETCHER_FETCHING = 1,
    FETCHER_PARKED = 2,     /* Fenced or not the leader's: waits for the broker. */
};

struct fetcher_part {
    struct partition *partition;
    int32_t leader_epoch;
    uint64_t serial;            /* Unique per fetcher_add(): matches answers to adds. */
    enum fetcher_part_state state;
    int64_t fetch_floor;        /* Fetch from max(LEO, floor): set by a log-start reset. */
    bool mutant_hw_applied;     /* hw-before-truncate: the early HW was applied. */
    uint64_t delay_until_ns;    /* Not asked about before then (an error's backoff). */
};

enum fetcher_request { FETCHER_REQ_NONE = 0, FETCHER_REQ_OFFSETS = 1, FETCHER_REQ_FETCH = 2 };

struct fetcher {
    struct io *io;
    int32_t node_id;
    int32_t leader_id;
    char host[FETCHER_HOST_MAX];
    uint16_t port;
    int32_t fetch_wait_max_ms;
    int32_t fetch_min_bytes;
    int32_t fetch_max_bytes;
    int64_t fetch_backoff_ms;
    struct fetcher_callbacks callbacks;
    struct client *client;
    bool client_failed;         /* Recreate the client at the next step. */
    struct fetcher_part *parts; /* In add order. */
    uint32_t part_count, part_cap;
    uint64_t next_serial;
    enum fetcher_request in_flight;
    uint64_t *request_serials;  /* The parts in the request in flight. */
    uint32_t request_count, request_cap;
    io_timer_id step_timer;
    io_timer_id timeout_timer;
    bool destroying;
    bool busy;                  /* In a response or step: a destroy waits for its end. */
    bool destroy_pending;
};

static void step(void *arg);

static void schedule_step(struct fetcher *f, int64_t delay_ms) {
    if (f->step_timer != 0) io_timer_cancel(f->io, f->step_timer);
    f->step_timer = io_timer_start(f->io, io_now_ns(f->io) + (uint64_t)delay_ms * NS_PER_MS,
                                   step, f);
}

static struct fetcher_part *part_by_serial(struct fetcher *f, uint64_t serial) {
    for (uint32_t i = 0; i < f->part_count; i++) {
        if (f->parts[i].serial == serial) return &f->parts[i];
    }
    return NULL;
}

static struct fetcher_part *part_by_partition(struct fetcher *f, const struct partition *p) {
    for (uint32_t i = 0; i < f->part_count; i++) {
        if (f->parts[i].partition == p) return &f->parts[i];
    }
    return NULL;
}

/* The part of the request in flight answering for (topic, index), or NULL (dropped). */
static struct fetcher_part *request_part(struct fetcher *f, struct proto_string topic,
                                         int32_t index) {
    for (uint32_t i = 0; i < f->request_count; i++) {
        struct fetcher_part *fp = part_by_serial(f, f->request_serials[i]);
        if (fp == NULL || fp->partition->index != index) continue;
        if (proto_string_eq(topic, fp->partition->topic)) return fp;
    }
    return NULL;
}

int fetcher_create(struct io *io, const struct broker_config *config, int32_t leader_id,
                   const char *host, uint16_t port, const struct fetcher_callbacks *callbacks,
                   struct fetcher **out) {
    if (strlen(host) >= FETCHER_HOST_MAX) return -ENAMETOOLONG;
    struct fetcher *f = io_calloc(io, 1, sizeof(*f));
    f->io = io;
    f->node_id = config->node_id;
    f->leader_id = leader_id;
    snprintf(f->host, sizeof f->host, "%s", host);
    f->port = port;
    f->fetch_wait_max_ms = config->replica_fetch_wait_max_ms;
    f->fetch_min_bytes = config->replica_fetch_min_bytes;
    f->fetch_max_bytes = config->replica_fetch_max_bytes;
    f->fetch_backoff_ms = config->replica_fetch_backoff_ms;
    f->callbacks = *callbacks;
    f->next_serial = 1;
    *out = f;
    return 0;
}

static void fetcher_free(struct fetcher *f) {
    f->destroying = true;
    if (f->step_timer != 0) io_timer_cancel(f->io, f->step_timer);
    if (f->timeout_timer != 0) io_timer_cancel(f->io, f->timeout_timer);
    /* Pending requests complete with -ECANCELED from here; `destroying` makes them no-ops. */
    if (f->client != NULL) client_destroy(f->client);
    if (f->parts != NULL) io_free(f->io, f->parts, f->part_cap * sizeof(*f->parts));
    if (f->request_serials != NULL) {
        io_free(f->io, f->request_serials, f->request_cap * sizeof(*f->request_serials));
    }
    io_free(f->io, f, sizeof(*f));
}

void fetcher_destroy(struct fetcher *fetcher) {
    if (fetcher->busy) {
        fetcher->destroy_pending = true; /* Freed after the response handler unwinds. */
        return;
    }
    fetcher_free(fetcher);
}

static void free_later_cb(void *arg) {
    struct fetcher *f = arg;
    f->step_timer = 0;
    fetcher_free(f);
}

/* A destroy asked for from a callback inside a response: the client is still inside its
 * read callback, so it may not be destroyed now; a zero-delay timer frees everything. */
static void free_later(struct fetcher *f) {
    f->destroying = true; /* Nothing more runs: a late answer or timer is a no-op. */
    if (f->step_timer != 0) io_timer_cancel(f->io, f->step_timer);
    if (f->timeout_timer != 0) io_timer_cancel(f->io, f->timeout_timer);
    f->timeout_timer = 0;
    f->step_timer = io_timer_start(f->io, io_now_ns(f->io), free_later_cb, f);
}

int fetcher_add(struct fetcher *fetcher, struct partition *partition, int32_t leader_epoch) {
    struct fetcher *f = fetcher;
    if (partition->topic == NULL) return -EINVAL;
    if (part_by_partition(f, partition) != NULL) return -EEXIST;
    if (f->part_count == FETCHER_PARTITIONS_MAX) return -ENOSPC;
    if (f->part_count == f->part_cap) {
        uint32_t cap = f->part_cap == 0 ? 8 : f->part_cap * 2;
        f->parts = io_realloc(f->io, f->parts, f->part_cap * sizeof(*f->parts),
                              cap * sizeof(*f->parts));
        f->part_cap = cap;
    }
    f->parts[f->part_count++] = (struct fetcher_part){
        .partition = partition,
        .leader_epoch = leader_epoch,
        .serial = f->next_serial++,
        .state = FETCHER_TRUNCATING, /* KIP-101/279, and on every epoch (KAFKA-7164). */
        .fetch_floor = -1,
    };
    if (f->in_flight == FETCHER_REQ_NONE) schedule_step(f, 0);
    return 0;
}

void fetcher_remove(struct fetcher *fetcher, struct partition *partition) {
    struct fetcher *f = fetcher;
    for (uint32_t i = 0; i < f->part_count; i++) {
        if (f->parts[i].partition != partition) continue;
        memmove(&f->parts[i], &f->parts[i + 1], (f->part_count - i - 1) * sizeof(*f->parts));
        f->part_count--;
        return;
    }
}

uint32_t fetcher_partition_count(const struct fetcher *fetcher) { return fetcher->part_count; }

int32_t fetcher_leader_id(const struct fetcher *fetcher) { return fetcher->leader_id; }

static void request_clear(struct fetcher *f) {
    f->in_flight = FETCHER_REQ_NONE;
    f->request_count = 0;
    if (f->timeout_timer != 0) io_timer_cancel(f->io, f->timeout_timer);
    f->timeout_timer = 0;
}

static void request_note(struct fetcher *f, uint64_t serial) {
    if (f->request_count == f->request_cap) {
        uint32_t cap = f->request_cap == 0 ? 8 : f->request_cap * 2;
        f->request_serials = io_realloc(f->io, f->request_serials,
                                        f->request_cap * sizeof(*f->request_serials),
                                        cap * sizeof(*f->request_serials));
        f->request_cap = cap;
    }
    f->request_serials[f->request_count++] = serial;
}

/* A storage error: the part leaves and the broker hears of it. */
static void storage_error(struct fetcher *f, struct fetcher_part *fp, int error) {
    struct partition *p = fp->partition;
    io_log(f->io, IO_LOG_ERROR, "fetcher: %s-%d storage error %d", p->topic, (int)p->index,
           error);
    fetcher_remove(f, p);
    f->callbacks.on_storage_error(f->callbacks.arg, p, error);
}

/* Truncation to `offset` from the divergence point; false when the part is gone. */
static bool truncate_part(struct fetcher *f, struct fetcher_part *fp, int64_t offset) {
    int rc = partition_follower_truncate(fp->partition, MAX(offset, 0));
    if (rc < 0) {
        storage_error(f, fp, rc);
        return false;
    }
    return true;
}

/*
 * FENCED_LEADER_EPOCH means our metadata is behind: only the broker can fix that (it
 * re-adds the partition with the new epoch), so the partition parks. UNKNOWN_LEADER_EPOCH,
 * NOT_LEADER_OR_FOLLOWER and UNKNOWN_TOPIC_OR_PARTITION usually mean the *leader's*
 * metadata is behind ours: parking would wait forever for a change we already have, so, as
 * Kafka's fetcher does, the partition is asked about again after replica.fetch.backoff.ms
 * (a re-add with new metadata also restarts it at once). So do other errors.
 */
static bool error_parks(int16_t error) { return error == FERR_FENCED_LEADER_EPOCH; }

static void park(struct fetcher *f, struct fetcher_part *fp, int16_t error) {
    io_log(f->io, IO_LOG_INFO, "fetcher: %s-%d parked (error %d, epoch %d)",
           fp->partition->topic, (int)fp->partition->index, (int)error,
           (int)fp->leader_epoch);
    fp->state = FETCHER_PARKED;
}

static void delay(struct fetcher *f, struct fetcher_part *fp, int16_t error) {
    io_log(f->io, IO_LOG_INFO, "fetcher: %s-%d error %d (epoch %d), retrying later",
           fp->partition->topic, (int)fp->partition->index, (int)error,
           (int)fp->leader_epoch);
    fp->delay_until_ns = io_now_ns(f->io) + (uint64_t)f->fetch_backoff_ms * NS_PER_MS;
}

static bool part_ready(const struct fetcher *f, const struct fetcher_part *fp) {
    return fp->state != FETCHER_PARKED && io_now_ns(f->io) >= fp->delay_until_ns;
}

static bool offsets_wanted(const struct fetcher *f, const struct fetcher_part *fp) {
    return fp->state == FETCHER_TRUNCATING && part_ready(f, fp);
}

/* ---- OffsetForLeaderEpoch ------------------------------------------------------------ */

/*
 * KIP-279's rule: the leader answers its largest epoch <= ours and where it ends. If we know
 * that epoch too, the logs agree up to min(both ends of it); if we do not, we cut to our end
 * of the epoch just below it and ask again; an answer without an offset falls back to the HW.
 * Returns true when the part is ready to fetch.
 */
static bool apply_epoch_answer(struct fetcher *f, struct fetcher_part *fp,
                               const struct proto_offset_for_leader_epoch_response_partition *r) {
    struct partition *p = fp->partition;
    int64_t leo = partition_log_end(p);
    if (r->end_offset < 0) {
        return truncate_part(f, fp, MIN(p->high_watermark, leo));
    }
    if (r->leader_epoch < 0) return truncate_part(f, fp, MIN(r->end_offset, leo));
    int32_t local_epoch = -1;
    int64_t local_end = -1;
    log_end_offset_for_epoch(p->log, r->leader_epoch, &local_epoch, &local_end);
    if (local_epoch < 0 || local_end < 0) return truncate_part(f, fp, MIN(r->end_offset, leo));
    if (local_epoch == r->leader_epoch) {
        return truncate_part(f, fp, MIN(MIN(r->end_offset, local_end), leo));
    }
    /* We do not have the leader's epoch: cut to the end of our last epoch below it, then
     * ask again with that (older) epoch. */
    if (!truncate_part(f, fp, MIN(local_end, leo))) return false;
    fp->state = FETCHER_TRUNCATING;
    return false;
}

static void on_offsets(void *arg, int status, const void *body) {
    struct fetcher *f = arg;
    if (f->destroying) return;
    if (status < 0) {
        request_clear(f);
        f->client_failed = true;
        schedule_step(f, f->fetch_backoff_ms);
        return;
    }
    f->busy = true;
    const struct proto_offset_for_leader_epoch_response *resp = body;
    for (int32_t t = 0; t < resp->topics.count && !f->destroy_pending; t++) {
        const struct proto_offset_for_leader_epoch_response_topic *rt = &resp->topics.items[t];
        for (int32_t i = 0; i < rt->partitions.count && !f->destroy_pending; i++) {
            const struct proto_offset_for_leader_epoch_response_partition *r =
                &rt->partitions.items[i];
            struct fetcher_part *fp = request_part(f, rt->topic, r->partition);
            if (fp == NULL || fp->state != FETCHER_TRUNCATING) continue;
            if (error_parks(r->error_code)) {
                park(f, fp, r->error_code);
            } else if (r->error_code != FERR_NONE) {
                delay(f, fp, r->error_code);
            } else {
                uint64_t serial = fp->serial;
                bool ready = apply_epoch_answer(f, fp, r);
                fp = part_by_serial(f, serial); /* A storage error removed it. */
                if (ready && fp != NULL) fp->state = FETCHER_FETCHING;
            }
        }
    }
    f->busy = false;
    request_clear(f);
    if (f->destroy_pending) {
        free_later(f);
        return;
    }
    schedule_step(f, 0);
}

static int send_offsets(struct fetcher *f) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->part_count; i++) n += offsets_wanted(f, &f->parts[i]);
    ASSERT(n > 0);
    struct proto_offset_for_leader_epoch_request_topic *topics =
        io_calloc(f->io, n, sizeof(*topics));
    struct proto_offset_for_leader_epoch_request_partition *ps =
        io_calloc(f->io, n, sizeof(*ps));
    int32_t topic_count = 0;
    uint32_t used = 0;
    /* Group by topic in order of first appearance; partitions keep add order. */
    for (uint32_t i = 0; i < f->part_count; i++) {
        struct fetcher_part *fp = &f->parts[i];
        if (!offsets_wanted(f, fp)) continue;
        bool seen = false;
        for (int32_t t = 0; t < topic_count; t++) {
            seen |= proto_string_eq(topics[t].topic, fp->partition->topic);
        }
        if (seen) continue;
        struct proto_offset_for_leader_epoch_request_topic *rt = &topics[topic_count++];
        rt->topic = proto_string_from(fp->partition->topic);
        rt->partitions.items = &ps[used];
        rt->partitions.count = 0;
        for (uint32_t j = i; j < f->part_count; j++) {
            struct fetcher_part *q = &f->parts[j];
            if (!offsets_wanted(f, q) || strcmp(q->partition->topic,
                                                fp->partition->topic) != 0) {
                continue;
            }
            ps[used++] = (struct proto_offset_for_leader_epoch_request_partition){
                .partition = q->partition->index,
                .current_leader_epoch = q->leader_epoch,
                .leader_epoch = partition_latest_epoch(q->partition),
            };
            rt->partitions.count++;
            request_note(f, q->serial);
        }
    }
    ASSERT(used == n);
    struct proto_offset_for_leader_epoch_request req = {.replica_id = f->node_id};
    req.topics.items = topics;
    req.topics.count = topic_count;
    int rc = client_send(f->client, PROTO_API_OFFSET_FOR_LEADER_EPOCH,
                         FETCHER_OFFSET_FOR_EPOCH_VERSION, &req, on_offsets, f);
    io_free(f->io, ps, n * sizeof(*ps));
    io_free(f->io, topics, n * sizeof(*topics));
    if (rc == 0) f->in_flight = FETCHER_REQ_OFFSETS;
    return rc;
}

/* ---- Fetch --------------------------------------------------------------------------- */

/* Bytes of the whole batches at the start of `records` (a fetch may end mid-batch). */
static size_t whole_batches(const uint8_t *records, size_t len, int64_t from, size_t *skip) {
    size_t pos = 0;
    *skip = 0;
    while (len - pos >= BATCH_LOG_OVERHEAD + 4) {
        struct batch_header h;
        if (batch_header_decode(records + pos, len - pos, &h) < 0) break;
        if (h.batch_length < 0 || batch_total_bytes(&h) > len - pos) break;
        /* A batch wholly below our end (the leader sent from the batch holding `from`)
         * is skipped; whole batches only, so appends see clean boundaries. */
        if (batch_last_offset(&h) < from && pos == *skip) *skip = pos + batch_total_bytes(&h);
        pos += batch_total_bytes(&h);
    }
    return pos;
}

/* Returns true when the partition made progress (data or HW). */
static bool apply_fetch_answer(struct fetcher *f, struct fetcher_part *fp,
                               const struct proto_fetch_response_partition *r) {
    struct partition *p = fp->partition;
    if (fp->state == FETCHER_TRUNCATING) {
        /* Only the hw-before-truncate mutant fetches before truncating: it takes the HW
         * onto the untruncated log, then truncates (KAFKA-14704). */
        if (r->error_code == FERR_NONE && r->high_watermark >= 0) {
            int64_t before = p->high_watermark;
            int rc = partition_follower_append(p, NULL, 0, r->high_watermark, -1,
                                               io_wall_ms(f->io));
            if (rc < 0) {
                storage_error(f, fp, rc);
                return false;
            }
            fp->mutant_hw_applied = true;
            return p->high_watermark != before;
        }
        fp->mutant_hw_applied = true; /* No HW to take: go on to truncate. */
        return false;
    }
    if (r->error_code != FERR_NONE) {
        if (error_parks(r->error_code)) {
            park(f, fp, r->error_code);
        } else if (r->error_code == FERR_OFFSET_OUT_OF_RANGE) {
            int64_t leo = partition_log_end(p);
            if (r->log_start_offset >= 0 && leo < r->log_start_offset) {
                /* Everything we hold is below the leader's log start: start over there. */
                uint64_t serial = fp->serial;
                if (!truncate_part(f, fp, partition_log_start(p))) return false;
                fp = part_by_serial(f, serial);
                fp->fetch_floor = r->log_start_offset;
            } else {
                fp->state = FETCHER_TRUNCATING; /* Ahead of the leader: find the point. */
            }
        } else {
            delay(f, fp, r->error_code);
        }
        return false;
    }
    int64_t leo = partition_log_end(p);
    const uint8_t *records = r->records.len > 0 ? r->records.data : NULL;
    size_t len = r->records.len > 0 ? (size_t)r->records.len : 0;
    size_t skip = 0;
    size_t whole = records != NULL ? whole_batches(records, len, leo, &skip) : 0;
    int64_t hw_before = p->high_watermark;
    int rc = partition_follower_append(p, whole > skip ? records + skip : NULL, whole - skip,
                                       r->high_watermark, r->log_start_offset,
                                       io_wall_ms(f->io));
    if (rc == -EINVAL || rc == -EBADMSG) {
        /* Data that does not continue our log (or arrived corrupt): find the divergence
         * point again rather than trusting either copy. */
        io_log(f->io, IO_LOG_WARN, "fetcher: %s-%d append refused (%d), truncating again",
               p->topic, (int)p->index, rc);
        fp->state = FETCHER_TRUNCATING;
        return false;
    }
    if (rc < 0) {
        storage_error(f, fp, rc);
        return false;
    }
    bool hw_moved = p->high_watermark != hw_before;
    bool progress = whole > skip || hw_moved;
    if (progress) f->callbacks.on_progress(f->callbacks.arg, p, hw_moved);
    return progress;
}

static void on_fetch(void *arg, int status, const void *body) {
    struct fetcher *f = arg;
    if (f->destroying) return;
    if (status < 0) {
        request_clear(f);
        f->client_failed = true;
        schedule_step(f, f->fetch_backoff_ms);
        return;
    }
    f->busy = true;
    const struct proto_fetch_response *resp = body;
    bool progress = false;
    bool failed = resp->error_code != FERR_NONE;
    for (int32_t t = 0; t < resp->responses.count && !f->destroy_pending; t++) {
        const struct proto_fetch_response_topic *rt = &resp->responses.items[t];
        for (int32_t i = 0; i < rt->partitions.count && !f->destroy_pending; i++) {
            const struct proto_fetch_response_partition *r = &rt->partitions.items[i];
            struct fetcher_part *fp = request_part(f, rt->topic, r->partition_index);
            if (fp == NULL || fp->state == FETCHER_PARKED) continue;
            progress |= apply_fetch_answer(f, fp, r);
        }
    }
    f->busy = false;
    request_clear(f);
    if (f->destroy_pending) {
        free_later(f);
        return;
    }
    /* A leader answers an idle fetch only after max_wait; an answer that moved nothing
     * (a leader without a purgatory, an error) waits a little so virtual time advances. */
    schedule_step(f, failed ? f->fetch_backoff_ms : progress ? 0 : FETCHER_IDLE_DELAY_MS);
}

static bool fetch_wanted(struct fetcher *f, const struct fetcher_part *fp) {
    if (!part_ready(f, fp)) return false;
    if (fp->state == FETCHER_FETCHING) return true;
    return fp->state == FETCHER_TRUNCATING && !fp->mutant_hw_applied &&
           MUTANT(f->io, "hw-before-truncate");
}

static int send_fetch(struct fetcher *f) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->part_count; i++) n += fetch_wanted(f, &f->parts[i]);
    ASSERT(n > 0);
    struct proto_fetch_request_topic *topics = io_calloc(f->io, n, sizeof(*topics));
    struct proto_fetch_request_partition *ps = io_calloc(f->io, n, sizeof(*ps));
    int32_t topic_count = 0;
    uint32_t used = 0;
    for (uint32_t i = 0; i < f->part_count; i++) {
        struct fetcher_part *fp = &f->parts[i];
        if (!fetch_wanted(f, fp)) continue;
        bool seen = false;
        for (int32_t t = 0; t < topic_count; t++) {
            seen |= proto_string_eq(topics[t].topic, fp->partition->topic);
        }
        if (seen) continue;
        struct proto_fetch_request_topic *rt = &topics[topic_count++];
        rt->topic = proto_string_from(fp->partition->topic);
        rt->partitions.items = &ps[used];
        rt->partitions.count = 0;
        for (uint32_t j = i; j < f->part_count; j++) {
            struct fetcher_part *q = &f->parts[j];
            if (!fetch_wanted(f, q) || strcmp(q->partition->topic, fp->partition->topic) != 0) {
                continue;
            }
            struct partition *p = q->partition;
            /* The mutant's early fetch asks from its HW: the answer carries the new
             * leader's HW even when our tail is longer than the leader's log. */
            int64_t offset = q->state == FETCHER_TRUNCATING
                                 ? MIN(p->high_watermark, partition_log_end(p))
                                 : MAX(partition_log_end(p), q->fetch_floor);
            ps[used++] = (struct proto_fetch_request_partition){
                .partition = p->index,
                .current_leader_epoch = q->leader_epoch,
                .fetch_offset = offset,
                .log_start_offset = partition_log_start(p),
                .partition_max_bytes = f->fetch_max_bytes,
            };
            rt->partitions.count++;
            request_note(f, q->serial);
        }
    }
    ASSERT(used == n);
    struct proto_fetch_request req = {
        .replica_id = f->node_id,
        .max_wait_ms = f->fetch_wait_max_ms,
        .min_bytes = f->fetch_min_bytes,
        .max_bytes = f->fetch_max_bytes,
        .isolation_level = 0,
        .session_id = 0,
        .session_epoch = -1, /* Full fetch requests: no incremental sessions (KIP-227). */
        .rack_id = PROTO_STR(""),
    };
    req.topics.items = topics;
    req.topics.count = topic_count;
    req.forgotten_topics_data.count = 0;
    int rc = client_send(f->client, PROTO_API_FETCH, FETCHER_FETCH_VERSION, &req, on_fetch, f);
    io_free(f->io, ps, n * sizeof(*ps));
    io_free(f->io, topics, n * sizeof(*topics));
    if (rc == 0) f->in_flight = FETCHER_REQ_FETCH;
    return rc;
}

/* ---- The step ------------------------------------------------------------------------ */

static void on_timeout(void *arg) {
    struct fetcher *f = arg;
    f->timeout_timer = 0;
    if (f->destroying || f->in_flight == FETCHER_REQ_NONE) return;
    io_log(f->io, IO_LOG_WARN, "fetcher: leader %d did not answer in time", (int)f->leader_id);
    /* Destroying the client fails the pending request (its callback clears the request
     * and schedules the retry after the backoff). */
    struct client *c = f->client;
    f->client = NULL;
    f->client_failed = false;
    client_destroy(c);
    if (f->in_flight != FETCHER_REQ_NONE) { /* Defensive: the callback did not run. */
        request_clear(f);
        schedule_step(f, f->fetch_backoff_ms);
    }
}

/*
 * Parts that truncate without OffsetForLeaderEpoch: all of them under the pre-KIP-101
 * mutant (to the local HW), and logs without any epoch, which cannot be asked about (the HW
 * is all they can trust, Kafka's fallback).
 */
static void truncate_without_asking(struct fetcher *f) {
    bool mutant_hw = MUTANT(f->io, "truncate-to-hw");
    uint32_t i = 0;
    while (i < f->part_count && !f->destroy_pending) {
        struct fetcher_part *fp = &f->parts[i];
        bool no_epoch = partition_latest_epoch(fp->partition) < 0 &&
                        !(MUTANT(f->io, "hw-before-truncate") && !fp->mutant_hw_applied);
        if (fp->state != FETCHER_TRUNCATING || !(mutant_hw || no_epoch)) {
            i++;
            continue;
        }
        uint64_t serial = fp->serial;
        if (truncate_part(f, fp, fp->partition->high_watermark)) {
            part_by_serial(f, serial)->state = FETCHER_FETCHING;
            i++;
        }
        /* Otherwise it was removed (storage error): slot i holds the next part, if any. */
    }
}

static void step(void *arg) {
    struct fetcher *f = arg;
    f->step_timer = 0;
    if (f->in_flight != FETCHER_REQ_NONE) return;
    /* Truncations without asking may report storage errors, whose callback may destroy
     * us: mark the fetcher busy so that waits for the end of this step. */
    f->busy = true;
    truncate_without_asking(f);
    f->busy = false;
    if (f->destroy_pending) {
        free_later(f);
        return;
    }
    bool truncating = false, fetching = false;
    uint64_t wake_ns = UINT64_MAX; /* The earliest delayed partition. */
    for (uint32_t i = 0; i < f->part_count; i++) {
        const struct fetcher_part *fp = &f->parts[i];
        truncating |= offsets_wanted(f, fp);
        fetching |= fetch_wanted(f, fp);
        if (fp->state != FETCHER_PARKED && !part_ready(f, fp)) {
            wake_ns = MIN(wake_ns, fp->delay_until_ns);
        }
    }
    if (!truncating && !fetching) {
        /* Idle until fetcher_add(), or until a delayed partition may be asked again. */
        if (wake_ns != UINT64_MAX) {
            f->step_timer = io_timer_start(f->io, wake_ns, step, f);
        }
        return;
    }
    if (f->client_failed && f->client != NULL) {
        client_destroy(f->client); /* Nothing pending on a failed client: no callbacks. */
        f->client = NULL;
    }
    f->client_failed = false;
    if (f->client == NULL) {
        char id[32];
        snprintf(id, sizeof id, "replica-%d", (int)f->node_id);
        f->client = client_create(f->io, f->host, f->port, id);
    }
    /* The mutant's early Fetch goes first; otherwise truncation before fetching. */
    bool mutant_fetch_first = false;
    for (uint32_t i = 0; i < f->part_count; i++) {
        mutant_fetch_first |= offsets_wanted(f, &f->parts[i]) && fetch_wanted(f, &f->parts[i]);
    }
    int rc = truncating && !mutant_fetch_first ? send_offsets(f) : send_fetch(f);
    if (rc < 0) {
        request_clear(f);
        f->client_failed = true;
        schedule_step(f, f->fetch_backoff_ms);
        return;
    }
    f->timeout_timer = io_timer_start(
        f->io,
        io_now_ns(f->io) +
            (uint64_t)(f->fetch_wait_max_ms + FETCHER_REQUEST_TIMEOUT_MS) * NS_PER_MS,
        on_timeout, f);
}
