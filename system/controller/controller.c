/*
 * controller.c — one voter of the metadata quorum and, while it is the Raft leader, the
 * active controller (controller.h, docs/REPLICATION.md).
 *
 * Two images: `committed` is what the committed log says (every voter keeps it, from
 * raft's on_commit); `working` exists only while active and is `committed` plus the records
 * this controller appended and that are not committed yet. Decisions (does the topic exist?
 * what is the partition epoch?) are made on `working`, so two requests in flight see each
 * other's effects, like Kafka's timeline data structures. A request that appended records
 * is parked until the high watermark passes its last record, then answered with the body
 * built when it was decided. If leadership is lost first, the connections holding parked
 * requests are closed: the client retries against the new controller.
 *
 * Broker sessions (heartbeat deadlines) live in memory only. On becoming active every
 * registered broker gets a fresh deadline (KIP-631), so a failover does not fence brokers
 * that simply talked to the old controller.
 */
#include "controller/controller.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/mutant.h"
#include "broker/connection.h"
#include "controller/metadata.h"
#include "controller/metadata_records.h"
#include "controller/raft.h"
#include "log/batch.h"
#include "proto/proto.h"

/* Kafka error codes used here. */
#define KERR_NONE                       0
#define KERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define KERR_INVALID_TOPIC              17
#define KERR_TOPIC_ALREADY_EXISTS       36
#define KERR_INVALID_PARTITIONS         37
#define KERR_INVALID_REPLICATION_FACTOR 38
#define KERR_INVALID_REPLICA_ASSIGNMENT 39
#define KERR_INVALID_CONFIG             40
#define KERR_NOT_CONTROLLER             41
#define KERR_INVALID_REQUEST            42
#define KERR_FENCED_LEADER_EPOCH        74
#define KERR_STALE_BROKER_EPOCH         77
#define KERR_INVALID_UPDATE_VERSION     95
#define KERR_BROKER_ID_NOT_REGISTERED   102
#define KERR_INELIGIBLE_REPLICA         107

#define CTL_SESSIONS_MAX       1024
#define CTL_RECORDS_MAX        1024  /* Records appended by one request (one raft batch). */
#define CTL_PARTITIONS_MAX     10000 /* Partitions of one topic created in one request. */
#define CTL_ARENA_BYTES_MIN    (64u << 10)
#define CTL_RESPONSE_BYTES_MAX (16u << 20)
#define CTL_OUTPUT_BYTES_MAX   (64u << 20)
#define CTL_TICK_MS_MAX        100

struct ctl_session {
    int32_t id;
    int64_t epoch;        /* Registration offset the deadline belongs to. */
    uint64_t deadline_ns; /* Fenced once io_now_ns passes this. */
    uint8_t incarnation_id[16];
    bool shutting_down; /* Asked for a controlled shutdown: leads nothing, joins no ISR. */
};

/* A decoded request; parked ones wait for `wait_offset` to commit. */
struct ctl_request {
    struct controller *ctl;
    struct broker_conn *conn;
    uint32_t slot;
    struct proto_arena arena;
    struct proto_request_header header;
    void *body;
    const void *response; /* Built at decision time, sent at commit. */
    int64_t wait_offset;
    struct ctl_request *next; /* Parked list, in append (offset) order. */
};

struct ctl_conn {
    struct broker_conn *conn;
    struct ctl_conn *prev, *next;
};

struct controller {
    struct io *io;
    struct broker_config config;
    struct raft *raft;
    struct io_listener *listener;
    uint16_t port;
    struct metadata_image committed;
    struct metadata_image working; /* Valid while active. */
    bool active;
    int32_t active_epoch;
    struct ctl_session sessions[CTL_SESSIONS_MAX]; /* Sorted by id. */
    uint32_t session_count;
    struct ctl_request *parked_head, *parked_tail;
    struct ctl_conn *conns;
    io_timer_id tick;
    uint64_t last_tick_ns; /* When ctl_tick last ran (0 before the first). */
    bool stopping;
    /* Scratch for building one batch of records (values back to back). */
    struct raft_record records[CTL_RECORDS_MAX];
    uint8_t keys[CTL_RECORDS_MAX][METADATA_RECORD_KEY_BYTES];
    uint8_t *values; /* CTL_RECORDS_MAX * METADATA_RECORD_VALUE_MAX bytes. */
    struct metadata_record pending[CTL_RECORDS_MAX];
    uint32_t record_count;
};

/* --- Small helpers -------------------------------------------------------------------- */

static uint64_t ms_to_ns(int64_t ms) { return ms <= 0 ? 0 : (uint64_t)ms * NS_PER_MS; }

static void str_copy(char *dst, size_t size, struct proto_string s) {
    ASSERT(size > 0);
    size_t n = s.str == NULL || s.len < 0 ? 0 : MIN((size_t)s.len, size - 1);
    if (n > 0) memcpy(dst, s.str, n);
    dst[n] = '\0';
}

static bool str_fits(struct proto_string s, size_t max) {
    return s.str != NULL && s.len >= 0 && (size_t)s.len <= max &&
           memchr(s.str, 0, (size_t)s.len) == NULL;
}

/* Kafka's legal topic names: [a-zA-Z0-9._-], 1..249 characters, not "." or "..". */
static bool topic_name_valid(struct proto_string s) {
    if (s.str == NULL || s.len <= 0 || s.len > METADATA_TOPIC_NAME_MAX) return false;
    if ((s.len == 1 && s.str[0] == '.') || (s.len == 2 && s.str[0] == '.' && s.str[1] == '.')) {
        return false;
    }
    for (int32_t i = 0; i < s.len; i++) {
        char c = s.str[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

static void sort_ids(int32_t *ids, uint32_t count) {
    for (uint32_t i = 1; i < count; i++) {
        int32_t v = ids[i];
        uint32_t j = i;
        while (j > 0 && ids[j - 1] > v) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = v;
    }
}

static struct ctl_session *session_find(struct controller *ctl, int32_t id) {
    for (uint32_t i = 0; i < ctl->session_count; i++) {
        if (ctl->sessions[i].id == id) return &ctl->sessions[i];
    }
    return NULL;
}

static struct ctl_session *session_upsert(struct controller *ctl, int32_t id) {
    struct ctl_session *s = session_find(ctl, id);
    if (s != NULL) return s;
    if (ctl->session_count >= CTL_SESSIONS_MAX) return NULL;
    uint32_t at = 0;
    while (at < ctl->session_count && ctl->sessions[at].id < id)
        at++;
    memmove(&ctl->sessions[at + 1], &ctl->sessions[at],
            (ctl->session_count - at) * sizeof(ctl->sessions[0]));
    ctl->session_count++;
    memset(&ctl->sessions[at], 0, sizeof(ctl->sessions[at]));
    ctl->sessions[at].id = id;
    return &ctl->sessions[at];
}

static void session_refresh(struct controller *ctl, struct ctl_session *s) {
    s->deadline_ns = io_now_ns(ctl->io) + ms_to_ns(ctl->config.broker_session_timeout_ms);
}

/* --- Applying committed records ------------------------------------------------------- */

/* Applies every record of `batches` above the image's offset; traces each (all voters). */
static void apply_batches(struct controller *ctl, const uint8_t *batches, size_t len) {
    size_t pos = 0;
    for (uint32_t guard = 0; pos < len && guard < 1000000; guard++) {
        struct batch_header h;
        int rc = batch_check(batches + pos, len - pos, len - pos, &h);
        if (rc < 0) {
            io_log(ctl->io, IO_LOG_ERROR, "controller: bad committed batch at byte %zu: %d", pos,
                   rc);
            return;
        }
        size_t total = batch_total_bytes(&h);
        if (!batch_is_control(&h) && batch_last_offset(&h) > ctl->committed.offset) {
            struct batch_record_iter it;
            if (batch_records_begin(batches + pos, total, &it) == 0) {
                struct batch_record rec;
                while (batch_records_next(&it, &rec) == 1) {
                    int64_t offset = h.base_offset + rec.offset_delta;
                    if (offset <= ctl->committed.offset) continue;
                    struct metadata_record decoded;
                    struct metadata_record *mr = &decoded;
                    if (rec.key_len < 0 || rec.value_len < 0 ||
                        metadata_record_decode(rec.key, (size_t)rec.key_len, rec.value,
                                               (size_t)rec.value_len, mr) < 0) {
                        io_log(ctl->io, IO_LOG_ERROR, "controller: undecodable record at %lld",
                               (long long)offset);
                        continue;
                    }
                    int arc =
                        metadata_image_apply(&ctl->committed, offset, h.partition_leader_epoch, mr);
                    if (arc < 0) {
                        io_log(ctl->io, IO_LOG_WARN, "controller: record %s at %lld skipped",
                               metadata_record_type_name(mr->type), (long long)offset);
                    }
                    metadata_record_trace(ctl->io, offset, h.partition_leader_epoch, mr, rec.value,
                                          (size_t)rec.value_len, arc == 0);
                }
            }
        }
        pos += total;
    }
}

static void request_free(struct ctl_request *req) {
    proto_arena_destroy(&req->arena);
    io_free(req->ctl->io, req, sizeof(*req));
}

static void respond_body(struct ctl_request *req, int16_t api_key, int16_t version,
                         const void *body) {
    struct proto_writer w;
    proto_writer_init(&w, req->ctl->io, CTL_RESPONSE_BYTES_MAX);
    struct proto_response_header rh = {.correlation_id = req->header.correlation_id};
    int rc = proto_response_encode(&w, api_key, version, &rh, body);
    if (rc == 0) {
        broker_conn_respond(req->conn, req->slot, w.buf, w.len, NULL, 0);
    } else {
        io_log(req->ctl->io, IO_LOG_ERROR, "controller: cannot encode api %d v%d: %d", api_key,
               version, rc);
        broker_conn_close(req->conn, rc); /* Before the answer, which may free it. */
        broker_conn_respond_none(req->conn, req->slot);
    }
    proto_writer_destroy(&w);
}

/* Answers parked requests whose records are committed (offset < hw). */
static void answer_committed(struct controller *ctl, int64_t high_watermark) {
    while (ctl->parked_head != NULL && ctl->parked_head->wait_offset < high_watermark) {
        struct ctl_request *req = ctl->parked_head;
        ctl->parked_head = req->next;
        if (ctl->parked_head == NULL) ctl->parked_tail = NULL;
        respond_body(req, req->header.api_key, req->header.api_version, req->response);
        request_free(req);
    }
}

/* Leadership lost (or stopping): parked answers can no longer be promised. */
static void drop_parked(struct controller *ctl) {
    while (ctl->parked_head != NULL) {
        struct ctl_request *req = ctl->parked_head;
        ctl->parked_head = req->next;
        /* Close first: the connection lives while this slot is unanswered, and answering
         * the last slot of a closed connection frees it. */
        broker_conn_close(req->conn, -ECONNABORTED);
        broker_conn_respond_none(req->conn, req->slot);
        request_free(req);
    }
    ctl->parked_tail = NULL;
}

static void ctl_on_commit(void *arg, const uint8_t *batches, size_t len, int64_t base_offset,
                          int64_t high_watermark) {
    struct controller *ctl = arg;
    (void)base_offset;
    apply_batches(ctl, batches, len);
    answer_committed(ctl, high_watermark);
}

static void ctl_on_become_leader(void *arg, int32_t epoch) {
    struct controller *ctl = arg;
    ASSERT(!ctl->active || ctl->active_epoch < epoch);
    metadata_image_copy(&ctl->working, &ctl->committed);
    ctl->active = true;
    ctl->active_epoch = epoch;
    /* Every registered broker gets a full session from now (KIP-631). */
    for (uint32_t i = 0; i < ctl->committed.broker_count; i++) {
        const struct metadata_broker *b = &ctl->committed.brokers[i];
        struct ctl_session *s = session_upsert(ctl, b->id);
        if (s == NULL) continue;
        s->epoch = b->epoch;
        session_refresh(ctl, s);
    }
    io_log(ctl->io, IO_LOG_INFO, "controller %d: active in epoch %d", ctl->config.node_id, epoch);
}

static void ctl_on_resign(void *arg, int32_t epoch) {
    struct controller *ctl = arg;
    if (!ctl->active) return;
    io_log(ctl->io, IO_LOG_INFO, "controller %d: no longer active (epoch %d)", ctl->config.node_id,
           epoch);
    ctl->active = false;
    metadata_image_free(&ctl->working);
    metadata_image_init(&ctl->working, ctl->io);
    drop_parked(ctl);
}

/* --- Appending records ---------------------------------------------------------------- */

static void batch_reset(struct controller *ctl) { ctl->record_count = 0; }

/* Adds a record to the batch being built; false when the batch is full. */
static bool batch_add(struct controller *ctl, const struct metadata_record *r) {
    if (ctl->record_count >= CTL_RECORDS_MAX) return false;
    ctl->pending[ctl->record_count] = *r;
    ctl->record_count++;
    return true;
}

/*
 * Appends the built batch through raft and applies it to the working image. Returns the
 * last offset (>= 0), or -1 when nothing was built, or a negative error below -1 (lost
 * leadership: the caller answers NOT_CONTROLLER).
 */
static int64_t batch_commit(struct controller *ctl, int *error) {
    *error = 0;
    if (ctl->record_count == 0) return -1;
    uint32_t n = ctl->record_count;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *value = ctl->values + (size_t)i * METADATA_RECORD_VALUE_MAX;
        int len = metadata_record_encode(&ctl->pending[i], value, METADATA_RECORD_VALUE_MAX);
        ASSERT(len > 0);
        metadata_record_key_encode(&ctl->pending[i], ctl->keys[i]);
        ctl->records[i] = (struct raft_record){.key = ctl->keys[i],
                                               .key_len = METADATA_RECORD_KEY_BYTES,
                                               .value = value,
                                               .value_len = len};
    }
    int64_t last = -1;
    int rc = raft_append(ctl->raft, ctl->records, n, &last);
    ctl->record_count = 0;
    if (rc < 0) {
        *error = rc;
        return -1;
    }
    ASSERT(last >= (int64_t)n - 1);
    for (uint32_t i = 0; i < n; i++) {
        int64_t offset = last - (int64_t)(n - 1 - i);
        int arc = metadata_image_apply(&ctl->working, offset, ctl->active_epoch, &ctl->pending[i]);
        /* Decisions are made on the working image: what we append must apply. */
        ASSERT(arc == 0);
        if (ctl->pending[i].type == METADATA_RECORD_REGISTER_BROKER) {
            struct ctl_session *s = session_find(ctl, ctl->pending[i].broker_id);
            if (s != NULL) s->epoch = offset;
        }
    }
    return last;
}

static void park(struct controller *ctl, struct ctl_request *req, int64_t offset,
                 const void *response) {
    /* Answers go out in append order; a request waiting on an older offset (a retried
     * registration) simply waits for the tail too, which keeps the list sorted. */
    if (ctl->parked_tail != NULL) offset = MAX(offset, ctl->parked_tail->wait_offset);
    req->wait_offset = offset;
    req->response = response;
    req->next = NULL;
    if (ctl->parked_tail != NULL) {
        ASSERT(ctl->parked_tail->wait_offset <= offset);
        ctl->parked_tail->next = req;
    } else {
        ctl->parked_head = req;
    }
    ctl->parked_tail = req;
}

/* Answers now (nothing appended) or parks until `last` commits. Returns 1 when parked. */
static int finish(struct ctl_request *req, int64_t last, const void *response) {
    if (last >= 0) {
        park(req->ctl, req, last, response);
        return 1;
    }
    respond_body(req, req->header.api_key, req->header.api_version, response);
    return 0;
}

static void *arena_array(struct ctl_request *req, size_t count, size_t size) {
    void *p = proto_arena_alloc(&req->arena, (count == 0 ? 1 : count) * size);
    ASSERT(p != NULL);
    return p;
}

/* --- Partition leadership ------------------------------------------------------------- */

static bool broker_usable(const struct metadata_image *image, int32_t id) {
    const struct metadata_broker *b = metadata_broker_find(image, id);
    return b != NULL && !b->fenced;
}

/* Unfenced and not on its way out (controlled shutdown). */
static bool ctl_usable(struct controller *ctl, int32_t id) {
    const struct ctl_session *s = session_find(ctl, id);
    return broker_usable(&ctl->working, id) && (s == NULL || !s->shutting_down);
}

/* Small sorted id-set helpers for ISR / ELR arrays. */
static bool ids_has(const int32_t *ids, uint32_t count, int32_t id) {
    for (uint32_t i = 0; i < count; i++) {
        if (ids[i] == id) return true;
    }
    return false;
}

static void ids_remove(int32_t *ids, uint32_t *count, int32_t id) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < *count; i++) {
        if (ids[i] != id) ids[n++] = ids[i];
    }
    *count = n;
}

static void ids_add(int32_t *ids, uint32_t *count, int32_t id) {
    if (ids_has(ids, *count, id) || *count >= METADATA_REPLICAS_MAX) return;
    ids[(*count)++] = id;
    sort_ids(ids, *count);
}

/* min.insync.replicas of a topic: its override, else the cluster default. */
static int32_t topic_min_isr(const struct controller *ctl, const struct metadata_topic *topic) {
    int64_t v = ctl->config.min_insync_replicas;
    for (uint32_t i = 0; i < topic->config_count; i++) {
        if (strcmp(topic->configs[i].name, "min.insync.replicas") != 0) continue;
        const char *c = topic->configs[i].value;
        int64_t parsed = 0;
        bool ok = *c != '\0';
        for (; *c != '\0' && ok; c++) {
            ok = *c >= '0' && *c <= '9' && parsed < 1000000;
            parsed = parsed * 10 + (*c - '0');
        }
        if (ok) v = parsed;
    }
    return (int32_t)MAX(v, 1);
}

static bool partition_same(const struct metadata_partition *a, const struct metadata_partition *b) {
    return a->leader == b->leader && a->isr_count == b->isr_count && a->elr_count == b->elr_count &&
           a->unclean == b->unclean &&
           memcmp(a->isr, b->isr, a->isr_count * sizeof(int32_t)) == 0 &&
           memcmp(a->elr, b->elr, a->elr_count * sizeof(int32_t)) == 0;
}

/*
 * The new state of partition `p` when broker `gone` is fenced (gone >= 0), or when brokers
 * came back (gone = -1: try to give a leaderless partition a leader). `suspect` says `gone`
 * restarted (a new incarnation registered) and may have lost unsynced data: it leaves the
 * ELR and the ISR unless nobody else could ever lead (KIP-966's unclean-shutdown rule,
 * without the registration field: every restart is treated as possibly unclean).
 *
 * ISR/ELR rules (KIP-966): a fenced member leaves the ISR; if that leaves the ISR below
 * min.insync.replicas it joins the ELR (it has every committed record, because the HW
 * cannot advance while the ISR is below min ISR); the last ISR member stays (Kafka's
 * behaviour: it holds every committed record). A leader is chosen among live ISR members
 * in assignment order, then live ELR members (it moves into the ISR), then — only with
 * unclean.leader.election.enable — any live replica. Returns true when the state changed;
 * `unclean` reports an unclean election.
 */
static bool partition_reelect(struct controller *ctl, const struct metadata_topic *topic,
                              const struct metadata_partition *p, int32_t gone, bool suspect,
                              struct metadata_partition *out, bool *unclean) {
    /* Mutant: pre-KIP-966 Kafka — no eligible leader replicas, and a restarted broker is
     * trusted like one that never went away. */
    bool no_elr = MUTANT(ctl->io, "no-elr");
    if (no_elr) suspect = false;
    *out = *p;
    *unclean = false;
    if (no_elr) out->elr_count = 0;
    bool gone_in_isr = gone >= 0 && ids_has(p->isr, p->isr_count, gone);
    if (gone >= 0) {
        if (suspect) ids_remove(out->elr, &out->elr_count, gone);
        ids_remove(out->isr, &out->isr_count, gone);
    }
    /* The leader: the current one if still fine, else a live ISR member (assignment
     * order), else a live ELR member, else — only if allowed — any live replica. */
    int32_t leader = -1;
    bool from_elr = false;
    if (out->leader >= 0 && out->leader != gone && ctl_usable(ctl, out->leader) &&
        ids_has(out->isr, out->isr_count, out->leader)) {
        leader = out->leader;
    }
    for (uint32_t i = 0; i < p->replica_count && leader < 0; i++) {
        int32_t r = p->replicas[i];
        if (r != gone && ids_has(out->isr, out->isr_count, r) && ctl_usable(ctl, r)) {
            leader = r;
        }
    }
    for (uint32_t i = 0; i < p->replica_count && leader < 0; i++) {
        int32_t r = p->replicas[i];
        if (r != gone && ids_has(out->elr, out->elr_count, r) && ctl_usable(ctl, r)) {
            leader = r;
            from_elr = true;
        }
    }
    if (from_elr) {
        ids_remove(out->elr, &out->elr_count, leader);
        ids_add(out->isr, &out->isr_count, leader);
    }
    if (leader < 0 && ctl->config.unclean_leader_election_enable) {
        for (uint32_t i = 0; i < p->replica_count && leader < 0; i++) {
            int32_t r = p->replicas[i];
            if (r != gone && ctl_usable(ctl, r)) leader = r;
        }
        if (leader >= 0) {
            out->isr[0] = leader;
            out->isr_count = 1;
            out->elr_count = 0;
            *unclean = true;
        }
    }
    if (gone_in_isr && !*unclean) {
        if (out->isr_count == 0 && !(suspect && out->elr_count > 0)) {
            /* Kafka keeps the last ISR member even when it dies: it holds every committed
             * record. A restarted one is dropped only if an ELR member can take over. */
            ids_add(out->isr, &out->isr_count, gone);
        } else if (!suspect && !no_elr && (int32_t)out->isr_count < topic_min_isr(ctl, topic)) {
            /* Left an ISR below min ISR: it has everything committed (KIP-966). */
            ids_add(out->elr, &out->elr_count, gone);
        }
    }
    if (leader != out->leader) {
        out->leader = leader;
        out->leader_epoch = p->leader_epoch + 1;
        out->unclean = *unclean;
    }
    if (partition_same(out, p)) return false;
    out->partition_epoch = p->partition_epoch + 1;
    return true;
}

/* Adds PartitionChange records for every partition affected by broker `gone` being fenced
 * or restarting (gone >= 0, see partition_reelect) or by brokers coming back (gone = -1). */
static void reelect_all(struct controller *ctl, int32_t gone, bool suspect) {
    const struct metadata_image *image = &ctl->working;
    for (uint32_t t = 0; t < image->topic_count; t++) {
        const struct metadata_topic *topic = &image->topics[t];
        for (int32_t i = 0; i < topic->partition_count; i++) {
            const struct metadata_partition *p = &topic->partitions[i];
            if (gone >= 0 && !metadata_partition_has_replica(p, gone)) continue;
            if (gone < 0 && p->leader >= 0) continue;
            struct metadata_partition np;
            bool unclean = false;
            if (!partition_reelect(ctl, topic, p, gone, suspect, &np, &unclean)) continue;
            struct metadata_record r;
            metadata_record_from_partition(&r, METADATA_RECORD_PARTITION_CHANGE, topic->name, &np);
            if (!batch_add(ctl, &r)) return;
            if (unclean) {
                io_tracef(ctl->io, "unclean_election", IO_TF_S("topic", topic->name),
                          IO_TF_I("partition", np.index), IO_TF_I("leader", np.leader),
                          IO_TF_I("leader_epoch", np.leader_epoch));
            }
        }
    }
}

/* Fences brokers whose session expired: FenceBroker + leadership moves, one batch each. */
static void expire_sessions(struct controller *ctl) {
    uint64_t now = io_now_ns(ctl->io);
    for (uint32_t i = 0; i < ctl->session_count && ctl->active; i++) {
        struct ctl_session *s = &ctl->sessions[i];
        const struct metadata_broker *b = metadata_broker_find(&ctl->working, s->id);
        if (b == NULL || b->fenced || now < s->deadline_ns) continue;
        io_log(ctl->io, IO_LOG_INFO, "controller: broker %d session expired; fencing", s->id);
        batch_reset(ctl);
        struct metadata_record r;
        memset(&r, 0, sizeof(r));
        r.type = METADATA_RECORD_FENCE_BROKER;
        r.broker_id = b->id;
        r.broker_epoch = b->epoch;
        int32_t gone = b->id;
        batch_add(ctl, &r);
        /* Apply the fence first so re-election sees the broker as unusable. */
        int error = 0;
        batch_commit(ctl, &error);
        if (error < 0) return;
        reelect_all(ctl, gone, false);
        batch_commit(ctl, &error);
        if (error < 0) return;
    }
}

static void ctl_tick(void *arg) {
    struct controller *ctl = arg;
    ctl->tick = 0;
    if (ctl->stopping) return;
    uint64_t now = io_now_ns(ctl->io);
    int64_t period_ms =
        MIN((int64_t)CTL_TICK_MS_MAX, MAX(ctl->config.broker_session_timeout_ms / 4, 1));
    /* A tick far later than planned means this node stood still (a pause, a starved
     * loop): the brokers could not reach us meanwhile, so their silence proves nothing.
     * Give everyone a fresh session rather than fencing the whole cluster at once. */
    bool stalled = ctl->last_tick_ns != 0 &&
                   now - ctl->last_tick_ns > ms_to_ns(ctl->config.broker_session_timeout_ms / 2);
    ctl->last_tick_ns = now;
    if (stalled) {
        io_log(ctl->io, IO_LOG_INFO, "controller %d: stalled; broker sessions renewed",
               ctl->config.node_id);
        for (uint32_t i = 0; i < ctl->session_count; i++) {
            session_refresh(ctl, &ctl->sessions[i]);
        }
    } else if (ctl->active && raft_is_leader(ctl->raft)) {
        expire_sessions(ctl);
    }
    ctl->tick = io_timer_start(ctl->io, now + ms_to_ns(period_ms), ctl_tick, ctl);
}

/* --- Handlers ------------------------------------------------------------------------- */

static int handle_api_versions(struct ctl_request *req) {
    struct proto_api_versions_response_key keys[64];
    struct proto_api_versions_response resp = {.error_code = 0};
    resp.api_keys.items = keys;
    resp.api_keys.count = (int32_t)proto_api_versions_fill(keys, ARRAY_LEN(keys));
    respond_body(req, req->header.api_key, req->header.api_version, &resp);
    return 0;
}

static int handle_registration(struct ctl_request *req) {
    struct controller *ctl = req->ctl;
    const struct proto_broker_registration_request *rq = req->body;
    struct proto_broker_registration_response *resp = arena_array(req, 1, sizeof(*resp));
    resp->broker_epoch = -1;
    if (!ctl->active) {
        resp->error_code = KERR_NOT_CONTROLLER;
        return finish(req, -1, resp);
    }
    if (rq->broker_id < 0 || rq->listeners.count < 1 ||
        !str_fits(rq->listeners.items[0].host, METADATA_HOST_MAX - 1)) {
        resp->error_code = KERR_INVALID_REQUEST;
        return finish(req, -1, resp);
    }
    struct ctl_session *s = session_upsert(ctl, rq->broker_id);
    if (s == NULL) {
        resp->error_code = KERR_INVALID_REQUEST;
        return finish(req, -1, resp);
    }
    const struct metadata_broker *b = metadata_broker_find(&ctl->working, rq->broker_id);
    if (b != NULL && memcmp(b->incarnation_id, rq->incarnation_id.bytes, 16) == 0) {
        /* A retry of the registration we already hold: same answer (KIP-631). */
        session_refresh(ctl, s);
        resp->broker_epoch = b->epoch;
        return finish(req, b->epoch < ctl->committed.offset + 1 ? -1 : b->epoch, resp);
    }
    struct metadata_record r;
    memset(&r, 0, sizeof(r));
    r.type = METADATA_RECORD_REGISTER_BROKER;
    r.broker_id = rq->broker_id;
    str_copy(r.host, sizeof(r.host), rq->listeners.items[0].host);
    r.port = (uint16_t)rq->listeners.items[0].port;
    memcpy(r.incarnation_id, rq->incarnation_id.bytes, 16);
    batch_reset(ctl);
    if (b != NULL) {
        /* A restarted broker: its new registration is fenced, so whatever it led moves,
         * and it may have lost unsynced data, so it leaves ISRs and ELRs where others can
         * lead. The moves come first in the batch, so a broker that has read up to its
         * own registration has also read them. */
        reelect_all(ctl, rq->broker_id, true);
    }
    batch_add(ctl, &r);
    memcpy(s->incarnation_id, rq->incarnation_id.bytes, 16);
    s->shutting_down = false;
    session_refresh(ctl, s);
    int error = 0;
    int64_t last = batch_commit(ctl, &error);
    if (error < 0) {
        resp->error_code = KERR_NOT_CONTROLLER;
        return finish(req, -1, resp);
    }
    resp->broker_epoch = last;
    return finish(req, last, resp);
}

static int handle_heartbeat(struct ctl_request *req) {
    struct controller *ctl = req->ctl;
    const struct proto_broker_heartbeat_request *rq = req->body;
    struct proto_broker_heartbeat_response *resp = arena_array(req, 1, sizeof(*resp));
    resp->is_fenced = true;
    if (!ctl->active) {
        resp->error_code = KERR_NOT_CONTROLLER;
        return finish(req, -1, resp);
    }
    const struct metadata_broker *b = metadata_broker_find(&ctl->working, rq->broker_id);
    struct ctl_session *s = session_find(ctl, rq->broker_id);
    if (b == NULL || s == NULL) {
        resp->error_code = KERR_BROKER_ID_NOT_REGISTERED;
        return finish(req, -1, resp);
    }
    if (rq->broker_epoch != b->epoch) {
        resp->error_code = KERR_STALE_BROKER_EPOCH;
        return finish(req, -1, resp);
    }
    session_refresh(ctl, s);
    bool caught_up = rq->current_metadata_offset >= b->epoch;
    resp->is_caught_up = caught_up;
    resp->should_shut_down = rq->want_shut_down;
    int64_t last = -1;
    if (rq->want_shut_down && !b->fenced && !s->shutting_down) {
        /* Controlled shutdown: move its leaderships to other ISR members now (or leave
         * partitions without one leaderless) and take it out of ISRs, so the data path
         * does not wait a session timeout; the answer (should_shut_down) waits for the
         * moves to commit. Its session then lapses and fences it. */
        s->shutting_down = true;
        batch_reset(ctl);
        reelect_all(ctl, b->id, false);
        int error = 0;
        last = batch_commit(ctl, &error);
        if (error < 0) {
            resp->error_code = KERR_NOT_CONTROLLER;
            resp->should_shut_down = false;
            return finish(req, -1, resp);
        }
    }
    if (b->fenced && caught_up && !rq->want_fence && !rq->want_shut_down) {
        batch_reset(ctl);
        struct metadata_record r;
        memset(&r, 0, sizeof(r));
        r.type = METADATA_RECORD_UNFENCE_BROKER;
        r.broker_id = b->id;
        r.broker_epoch = b->epoch;
        batch_add(ctl, &r);
        int error = 0;
        last = batch_commit(ctl, &error);
        if (error < 0) {
            resp->error_code = KERR_NOT_CONTROLLER;
            return finish(req, -1, resp);
        }
        /* A returning broker may give leaderless partitions a leader again. */
        reelect_all(ctl, -1, false);
        int64_t more = batch_commit(ctl, &error);
        if (more > last) last = more;
    }
    b = metadata_broker_find(&ctl->working, rq->broker_id);
    resp->is_fenced = b->fenced;
    return finish(req, last, resp);
}

static int handle_alter_partition(struct ctl_request *req) {
    struct controller *ctl = req->ctl;
    const struct proto_alter_partition_request *rq = req->body;
    struct proto_alter_partition_response *resp = arena_array(req, 1, sizeof(*resp));
    if (!ctl->active) {
        resp->error_code = KERR_NOT_CONTROLLER;
        return finish(req, -1, resp);
    }
    const struct metadata_broker *b = metadata_broker_find(&ctl->working, rq->broker_id);
    if (b == NULL || (rq->broker_epoch != -1 && rq->broker_epoch != b->epoch)) {
        resp->error_code = KERR_STALE_BROKER_EPOCH;
        return finish(req, -1, resp);
    }
    int32_t tcount = MAX(rq->topics.count, 0);
    resp->topics.items = arena_array(req, (size_t)tcount, sizeof(*resp->topics.items));
    resp->topics.count = tcount;
    batch_reset(ctl);
    for (int32_t t = 0; t < tcount; t++) {
        const struct proto_alter_partition_request_topic *rt = &rq->topics.items[t];
        struct proto_alter_partition_response_topic *ot = &resp->topics.items[t];
        ot->topic_name = rt->topic_name;
        int32_t pcount = MAX(rt->partitions.count, 0);
        ot->partitions.items = arena_array(req, (size_t)pcount, sizeof(*ot->partitions.items));
        ot->partitions.count = pcount;
        char name[METADATA_TOPIC_NAME_MAX + 1];
        str_copy(name, sizeof(name), rt->topic_name);
        for (int32_t i = 0; i < pcount; i++) {
            const struct proto_alter_partition_request_partition *rp = &rt->partitions.items[i];
            struct proto_alter_partition_response_partition *op = &ot->partitions.items[i];
            op->partition_index = rp->partition_index;
            op->leader_id = -1;
            const struct metadata_partition *p =
                metadata_partition_find(&ctl->working, name, rp->partition_index);
            if (p == NULL) {
                op->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            if (p->leader != rq->broker_id || rp->leader_epoch != p->leader_epoch) {
                op->error_code = KERR_FENCED_LEADER_EPOCH;
                continue;
            }
            if (rp->partition_epoch != p->partition_epoch) {
                op->error_code = KERR_INVALID_UPDATE_VERSION;
                continue;
            }
            struct metadata_partition np = *p;
            int32_t n = rp->new_isr.count;
            if (n <= 0 || n > METADATA_REPLICAS_MAX) {
                op->error_code = KERR_INVALID_REQUEST;
                continue;
            }
            bool ok = true;
            bool has_leader = false;
            for (int32_t k = 0; k < n; k++) {
                int32_t id = rp->new_isr.items[k];
                has_leader = has_leader || id == p->leader;
                for (int32_t j = 0; j < k; j++)
                    ok = ok && rp->new_isr.items[j] != id;
                /* A new member must be a live replica; staying members are kept. */
                if (!metadata_partition_has_replica(p, id) ||
                    (!metadata_partition_in_isr(p, id) && !ctl_usable(ctl, id))) {
                    op->error_code = KERR_INELIGIBLE_REPLICA;
                }
                np.isr[k] = id;
            }
            if (op->error_code != 0) continue;
            if (!ok || !has_leader) {
                op->error_code = KERR_INVALID_REQUEST;
                continue;
            }
            np.isr_count = (uint32_t)n;
            sort_ids(np.isr, np.isr_count);
            /* KIP-966: members leaving an ISR that is below min.insync.replicas become
             * eligible leaders; an ISR at min ISR or above needs no ELR. */
            const struct metadata_topic *topic = metadata_topic_find(&ctl->working, name);
            for (uint32_t k = 0; k < np.isr_count; k++) {
                ids_remove(np.elr, &np.elr_count, np.isr[k]);
            }
            if (MUTANT(ctl->io, "no-elr")) {
                np.elr_count = 0;
            } else if ((int32_t)np.isr_count < topic_min_isr(ctl, topic)) {
                for (uint32_t k = 0; k < p->isr_count; k++) {
                    if (!ids_has(np.isr, np.isr_count, p->isr[k])) {
                        ids_add(np.elr, &np.elr_count, p->isr[k]);
                    }
                }
            } else {
                np.elr_count = 0;
            }
            bool same = partition_same(&np, p);
            if (!same) {
                np.partition_epoch = p->partition_epoch + 1;
                struct metadata_record r;
                metadata_record_from_partition(&r, METADATA_RECORD_PARTITION_CHANGE, name, &np);
                batch_add(ctl, &r);
            }
            op->leader_id = np.leader;
            op->leader_epoch = np.leader_epoch;
            op->partition_epoch = np.partition_epoch;
            op->isr.items = arena_array(req, np.isr_count, sizeof(int32_t));
            memcpy(op->isr.items, np.isr, np.isr_count * sizeof(int32_t));
            op->isr.count = (int32_t)np.isr_count;
        }
    }
    int error = 0;
    int64_t last = batch_commit(ctl, &error);
    if (error < 0) {
        resp->error_code = KERR_NOT_CONTROLLER;
        resp->topics.count = 0;
    }
    return finish(req, last, resp);
}

/* Replicas for `count` new partitions starting at index `first`: round-robin over the
 * unfenced brokers (sorted by id) from a seeded start, like Kafka's assignment. */
#define CTL_LIVE_BROKERS_MAX (METADATA_REPLICAS_MAX * 64)

/* Brokers new replicas may go to, sorted by id: unfenced and not shutting down. */
static uint32_t live_brokers(struct controller *ctl, int32_t *out) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < ctl->working.broker_count && n < CTL_LIVE_BROKERS_MAX; i++) {
        int32_t id = ctl->working.brokers[i].id;
        if (ctl_usable(ctl, id)) out[n++] = id;
    }
    return n;
}

static bool assign_replicas(struct controller *ctl, int32_t rf, int32_t first, int32_t count,
                            const char *topic) {
    int32_t live[CTL_LIVE_BROKERS_MAX];
    uint32_t n = live_brokers(ctl, live);
    if (rf <= 0 || (uint32_t)rf > n || rf > METADATA_REPLICAS_MAX) return false;
    uint32_t start = (uint32_t)(io_random_u64(ctl->io) % n);
    for (int32_t p = first; p < first + count; p++) {
        struct metadata_partition mp;
        memset(&mp, 0, sizeof(mp));
        mp.index = p;
        for (int32_t r = 0; r < rf; r++) {
            mp.replicas[r] = live[(start + (uint32_t)p + (uint32_t)r) % n];
        }
        mp.replica_count = (uint32_t)rf;
        memcpy(mp.isr, mp.replicas, sizeof(mp.isr));
        mp.isr_count = (uint32_t)rf;
        sort_ids(mp.isr, mp.isr_count);
        mp.leader = mp.replicas[0];
        struct metadata_record r;
        metadata_record_from_partition(&r, METADATA_RECORD_PARTITION, topic, &mp);
        if (!batch_add(ctl, &r)) return false;
    }
    return true;
}

static int handle_create_topics(struct ctl_request *req) {
    struct controller *ctl = req->ctl;
    const struct proto_create_topics_request *rq = req->body;
    struct proto_create_topics_response *resp = arena_array(req, 1, sizeof(*resp));
    int32_t count = MAX(rq->topics.count, 0);
    resp->topics.items = arena_array(req, (size_t)count, sizeof(*resp->topics.items));
    resp->topics.count = count;
    batch_reset(ctl);
    for (int32_t i = 0; i < count; i++) {
        const struct proto_create_topics_request_topic *t = &rq->topics.items[i];
        struct proto_create_topics_response_topic *o = &resp->topics.items[i];
        o->name = t->name;
        o->error_message = PROTO_STR_NULL;
        if (!ctl->active) {
            o->error_code = KERR_NOT_CONTROLLER;
            continue;
        }
        if (!topic_name_valid(t->name)) {
            o->error_code = KERR_INVALID_TOPIC;
            continue;
        }
        char name[METADATA_TOPIC_NAME_MAX + 1];
        str_copy(name, sizeof(name), t->name);
        bool duplicate = metadata_topic_find(&ctl->working, name) != NULL;
        for (int32_t j = 0; j < i && !duplicate; j++) {
            duplicate = proto_string_eq(rq->topics.items[j].name, name);
        }
        if (duplicate) {
            o->error_code = KERR_TOPIC_ALREADY_EXISTS;
            continue;
        }
        int32_t partitions =
            t->num_partitions == -1 ? ctl->config.num_partitions : t->num_partitions;
        int32_t rf = t->replication_factor == -1 ? ctl->config.default_replication_factor
                                                 : t->replication_factor;
        if (t->assignments.count > 0) {
            o->error_code = KERR_INVALID_REPLICA_ASSIGNMENT; /* Not supported yet. */
            continue;
        }
        if (partitions <= 0 || partitions > CTL_PARTITIONS_MAX) {
            o->error_code = KERR_INVALID_PARTITIONS;
            continue;
        }
        int32_t live[CTL_LIVE_BROKERS_MAX];
        if (rf <= 0 || (uint32_t)rf > live_brokers(ctl, live) || rf > METADATA_REPLICAS_MAX) {
            o->error_code = KERR_INVALID_REPLICATION_FACTOR;
            continue;
        }
        int32_t config_count = MAX(t->configs.count, 0);
        bool configs_ok = config_count <= METADATA_CONFIGS_MAX;
        for (int32_t c = 0; c < config_count && configs_ok; c++) {
            const struct proto_create_topics_request_config *cf = &t->configs.items[c];
            configs_ok =
                str_fits(cf->name, METADATA_CONFIG_NAME_MAX - 1) && cf->name.len > 0 &&
                (cf->value.str == NULL || str_fits(cf->value, METADATA_CONFIG_VALUE_MAX - 1));
        }
        if (!configs_ok) {
            o->error_code = KERR_INVALID_CONFIG;
            continue;
        }
        if (rq->validate_only) continue;
        if (ctl->record_count + 1 + (uint32_t)partitions + (uint32_t)config_count >
            CTL_RECORDS_MAX) {
            o->error_code = KERR_INVALID_PARTITIONS; /* Too much for one request. */
            continue;
        }
        struct metadata_record r;
        memset(&r, 0, sizeof(r));
        r.type = METADATA_RECORD_TOPIC;
        snprintf(r.topic, sizeof(r.topic), "%s", name);
        uint64_t a = io_random_u64(ctl->io);
        uint64_t b = io_random_u64(ctl->io);
        memcpy(r.topic_id, &a, 8);
        memcpy(r.topic_id + 8, &b, 8);
        batch_add(ctl, &r);
        assign_replicas(ctl, rf, 0, partitions, name);
        for (int32_t c = 0; c < config_count; c++) {
            const struct proto_create_topics_request_config *cf = &t->configs.items[c];
            if (cf->value.str == NULL) continue;
            memset(&r, 0, sizeof(r));
            r.type = METADATA_RECORD_TOPIC_CONFIG;
            snprintf(r.topic, sizeof(r.topic), "%s", name);
            str_copy(r.config_name, sizeof(r.config_name), cf->name);
            str_copy(r.config_value, sizeof(r.config_value), cf->value);
            batch_add(ctl, &r);
        }
    }
    int error = 0;
    int64_t last = batch_commit(ctl, &error);
    if (error < 0) {
        for (int32_t i = 0; i < count; i++)
            resp->topics.items[i].error_code = KERR_NOT_CONTROLLER;
    }
    return finish(req, last, resp);
}

static int handle_delete_topics(struct ctl_request *req) {
    struct controller *ctl = req->ctl;
    const struct proto_delete_topics_request *rq = req->body;
    struct proto_delete_topics_response *resp = arena_array(req, 1, sizeof(*resp));
    int32_t count = MAX(rq->topic_names.count, 0);
    resp->responses.items = arena_array(req, (size_t)count, sizeof(*resp->responses.items));
    resp->responses.count = count;
    batch_reset(ctl);
    for (int32_t i = 0; i < count; i++) {
        struct proto_delete_topics_response_topic *o = &resp->responses.items[i];
        o->name = rq->topic_names.items[i];
        if (!ctl->active) {
            o->error_code = KERR_NOT_CONTROLLER;
            continue;
        }
        char name[METADATA_TOPIC_NAME_MAX + 1];
        bool duplicate = false;
        for (int32_t j = 0; j < i && !duplicate; j++) {
            duplicate = rq->topic_names.items[j].len == o->name.len && o->name.str != NULL &&
                        rq->topic_names.items[j].str != NULL &&
                        memcmp(rq->topic_names.items[j].str, o->name.str, (size_t)o->name.len) == 0;
        }
        if (!str_fits(o->name, METADATA_TOPIC_NAME_MAX) || duplicate) {
            o->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        str_copy(name, sizeof(name), o->name);
        if (metadata_topic_find(&ctl->working, name) == NULL) {
            o->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        struct metadata_record r;
        memset(&r, 0, sizeof(r));
        r.type = METADATA_RECORD_REMOVE_TOPIC;
        snprintf(r.topic, sizeof(r.topic), "%s", name);
        batch_add(ctl, &r);
    }
    int error = 0;
    int64_t last = batch_commit(ctl, &error);
    if (error < 0) {
        for (int32_t i = 0; i < count; i++)
            resp->responses.items[i].error_code = KERR_NOT_CONTROLLER;
    }
    return finish(req, last, resp);
}

static int handle_create_partitions(struct ctl_request *req) {
    struct controller *ctl = req->ctl;
    const struct proto_create_partitions_request *rq = req->body;
    struct proto_create_partitions_response *resp = arena_array(req, 1, sizeof(*resp));
    int32_t count = MAX(rq->topics.count, 0);
    resp->results.items = arena_array(req, (size_t)count, sizeof(*resp->results.items));
    resp->results.count = count;
    batch_reset(ctl);
    for (int32_t i = 0; i < count; i++) {
        const struct proto_create_partitions_topic *t = &rq->topics.items[i];
        struct proto_create_partitions_result *o = &resp->results.items[i];
        o->name = t->name;
        o->error_message = PROTO_STR_NULL;
        if (!ctl->active) {
            o->error_code = KERR_NOT_CONTROLLER;
            continue;
        }
        char name[METADATA_TOPIC_NAME_MAX + 1];
        if (!str_fits(t->name, METADATA_TOPIC_NAME_MAX)) {
            o->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        str_copy(name, sizeof(name), t->name);
        const struct metadata_topic *topic = metadata_topic_find(&ctl->working, name);
        if (topic == NULL) {
            o->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (t->count <= topic->partition_count || t->count > CTL_PARTITIONS_MAX ||
            ctl->record_count + (uint32_t)(t->count - topic->partition_count) > CTL_RECORDS_MAX) {
            o->error_code = KERR_INVALID_PARTITIONS;
            continue;
        }
        if (t->assignments.count > 0) {
            o->error_code = KERR_INVALID_REPLICA_ASSIGNMENT;
            continue;
        }
        int32_t rf = topic->partition_count > 0 ? (int32_t)topic->partitions[0].replica_count : 1;
        int32_t live[CTL_LIVE_BROKERS_MAX];
        if ((uint32_t)rf > live_brokers(ctl, live)) {
            o->error_code = KERR_INVALID_REPLICATION_FACTOR;
            continue;
        }
        if (rq->validate_only) continue;
        int32_t first = topic->partition_count;
        assign_replicas(ctl, rf, first, t->count - first, name);
    }
    int error = 0;
    int64_t last = batch_commit(ctl, &error);
    if (error < 0) {
        for (int32_t i = 0; i < count; i++)
            resp->results.items[i].error_code = KERR_NOT_CONTROLLER;
    }
    return finish(req, last, resp);
}

/* AlterConfigs (the legacy, non-incremental one) replaces a topic's whole override set. */
static int handle_alter_configs(struct ctl_request *req) {
    struct controller *ctl = req->ctl;
    const struct proto_alter_configs_request *rq = req->body;
    struct proto_alter_configs_response *resp = arena_array(req, 1, sizeof(*resp));
    int32_t count = MAX(rq->resources.count, 0);
    resp->responses.items = arena_array(req, (size_t)count, sizeof(*resp->responses.items));
    resp->responses.count = count;
    batch_reset(ctl);
    for (int32_t i = 0; i < count; i++) {
        const struct proto_alter_configs_resource *res = &rq->resources.items[i];
        struct proto_alter_configs_result *o = &resp->responses.items[i];
        o->resource_type = res->resource_type;
        o->resource_name = res->resource_name;
        o->error_message = PROTO_STR_NULL;
        if (!ctl->active) {
            o->error_code = KERR_NOT_CONTROLLER;
            continue;
        }
        if (res->resource_type != 2) {
            o->error_code = KERR_INVALID_REQUEST; /* Only topic configs live here. */
            continue;
        }
        char name[METADATA_TOPIC_NAME_MAX + 1];
        const struct metadata_topic *topic = NULL;
        if (str_fits(res->resource_name, METADATA_TOPIC_NAME_MAX)) {
            str_copy(name, sizeof(name), res->resource_name);
            topic = metadata_topic_find(&ctl->working, name);
        }
        if (topic == NULL) {
            o->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        int32_t n = MAX(res->configs.count, 0);
        bool ok = n <= METADATA_CONFIGS_MAX;
        for (int32_t c = 0; c < n && ok; c++) {
            ok = str_fits(res->configs.items[c].name, METADATA_CONFIG_NAME_MAX - 1) &&
                 res->configs.items[c].name.len > 0 &&
                 (res->configs.items[c].value.str == NULL ||
                  str_fits(res->configs.items[c].value, METADATA_CONFIG_VALUE_MAX - 1));
        }
        if (!ok || ctl->record_count + (uint32_t)n + topic->config_count > CTL_RECORDS_MAX) {
            o->error_code = KERR_INVALID_CONFIG;
            continue;
        }
        if (rq->validate_only) continue;
        struct metadata_record r;
        /* Overrides not named any more go away. */
        for (uint32_t k = 0; k < topic->config_count; k++) {
            bool named = false;
            for (int32_t c = 0; c < n && !named; c++) {
                named = proto_string_eq(res->configs.items[c].name, topic->configs[k].name) &&
                        res->configs.items[c].value.str != NULL;
            }
            if (named) continue;
            memset(&r, 0, sizeof(r));
            r.type = METADATA_RECORD_TOPIC_CONFIG;
            snprintf(r.topic, sizeof(r.topic), "%s", name);
            snprintf(r.config_name, sizeof(r.config_name), "%s", topic->configs[k].name);
            r.config_delete = true;
            batch_add(ctl, &r);
        }
        for (int32_t c = 0; c < n; c++) {
            if (res->configs.items[c].value.str == NULL) continue;
            memset(&r, 0, sizeof(r));
            r.type = METADATA_RECORD_TOPIC_CONFIG;
            snprintf(r.topic, sizeof(r.topic), "%s", name);
            str_copy(r.config_name, sizeof(r.config_name), res->configs.items[c].name);
            str_copy(r.config_value, sizeof(r.config_value), res->configs.items[c].value);
            batch_add(ctl, &r);
        }
    }
    int error = 0;
    int64_t last = batch_commit(ctl, &error);
    if (error < 0) {
        for (int32_t i = 0; i < count; i++)
            resp->responses.items[i].error_code = KERR_NOT_CONTROLLER;
    }
    return finish(req, last, resp);
}

/* raft answers its own APIs through this. */
static void raft_respond(void *arg, int16_t api_key, int16_t version, const void *body) {
    struct ctl_request *req = arg;
    respond_body(req, api_key, version, body);
    request_free(req);
}

/* --- Connections ---------------------------------------------------------------------- */

static int ctl_on_request(void *arg, struct broker_conn *conn, uint32_t slot, uint8_t *payload,
                          size_t len) {
    struct controller *ctl = arg;
    struct ctl_request *req = io_calloc(ctl->io, 1, sizeof(*req));
    req->ctl = ctl;
    req->conn = conn;
    req->slot = slot;
    proto_arena_init(&req->arena, ctl->io, MAX(CTL_ARENA_BYTES_MIN, 4 * len));
    int rc = proto_request_decode(&req->arena, payload, len, &req->header, &req->body);
    if (rc == PROTO_ERR_UNSUPPORTED && req->header.api_key == PROTO_API_API_VERSIONS) {
        struct proto_writer w;
        proto_writer_init(&w, ctl->io, 64u << 10);
        rc = proto_api_versions_unsupported_encode(&w, req->header.correlation_id);
        if (rc == 0) broker_conn_respond(conn, slot, w.buf, w.len, NULL, 0);
        proto_writer_destroy(&w);
        request_free(req);
        return rc;
    }
    if (rc < 0) {
        request_free(req);
        return rc;
    }
    switch (req->header.api_key) {
    case PROTO_API_API_VERSIONS:
        rc = handle_api_versions(req);
        break;
    case PROTO_API_BROKER_REGISTRATION:
        rc = handle_registration(req);
        break;
    case PROTO_API_BROKER_HEARTBEAT:
        rc = handle_heartbeat(req);
        break;
    case PROTO_API_ALTER_PARTITION:
        rc = handle_alter_partition(req);
        break;
    case PROTO_API_CREATE_TOPICS:
        rc = handle_create_topics(req);
        break;
    case PROTO_API_DELETE_TOPICS:
        rc = handle_delete_topics(req);
        break;
    case PROTO_API_CREATE_PARTITIONS:
        rc = handle_create_partitions(req);
        break;
    case PROTO_API_ALTER_CONFIGS:
        rc = handle_alter_configs(req);
        break;
    default:
        rc = raft_handle_request(ctl->raft, req->header.api_key, req->header.api_version, req->body,
                                 raft_respond, req);
        if (rc == 0) return 0; /* raft owns it until it responds. */
        io_log(ctl->io, IO_LOG_WARN, "controller: api %d not served; closing %s",
               req->header.api_key, broker_conn_peer(conn));
        request_free(req);
        return -ENOSYS;
    }
    if (rc == 1) return 0; /* Parked until its records commit. */
    request_free(req);
    return rc;
}

static void ctl_on_close(void *arg, struct broker_conn *conn, int reason) {
    struct controller *ctl = arg;
    (void)reason;
    struct ctl_conn *c = broker_conn_user(conn);
    if (c == NULL) return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ctl->conns = c->next;
    if (c->next != NULL) c->next->prev = c->prev;
    broker_conn_set_user(conn, NULL);
    io_free(ctl->io, c, sizeof(*c));
}

static void ctl_on_accept(void *arg, struct io_stream *stream) {
    struct controller *ctl = arg;
    struct broker_conn_limits limits = {
        .max_frame_bytes = (size_t)ctl->config.socket_request_max_bytes,
        .max_inflight = (uint32_t)MIN(ctl->config.queued_max_requests, BROKER_CONN_INFLIGHT_MAX),
        .max_output_bytes = CTL_OUTPUT_BYTES_MAX,
        .idle_ms = (uint64_t)ctl->config.connections_max_idle_ms,
    };
    struct ctl_conn *c = io_calloc(ctl->io, 1, sizeof(*c));
    c->conn = broker_conn_create(ctl->io, stream, &limits, ctl_on_request, ctl_on_close, ctl);
    broker_conn_set_user(c->conn, c);
    c->next = ctl->conns;
    if (ctl->conns != NULL) ctl->conns->prev = c;
    ctl->conns = c;
}

/* --- Lifecycle ------------------------------------------------------------------------ */

/* The controller listener: the first name of controller.listener.names, or with no
 * voters an ephemeral port on the client listener's host (docs/REPLICATION.md "Roles"). */
static int ctl_listen(struct controller *ctl) {
    const struct broker_config *config = &ctl->config;
    char name[BROKER_CONFIG_NAME_MAX] = {0};
    size_t n = strcspn(config->controller_listener_names, ",");
    if (n >= sizeof(name)) n = sizeof(name) - 1;
    memcpy(name, config->controller_listener_names, n);
    const struct broker_listener *l = n > 0 ? broker_config_listener(config, name) : NULL;
    const char *host = "0.0.0.0";
    uint16_t port = 0;
    if (l != NULL) {
        if (l->host[0] != '\0') host = l->host;
        port = l->port;
    } else if (config->voter_count == 0) {
        const struct broker_listener *client = broker_config_client_listener(config);
        if (client != NULL && client->host[0] != '\0') host = client->host;
    } else {
        /* Our own voter entry says where the others expect us. */
        for (uint32_t i = 0; i < config->voter_count; i++) {
            if (config->voters[i].id == config->node_id) port = config->voters[i].port;
        }
        if (port == 0) return -EINVAL;
    }
    int rc = io_listen(ctl->io, host, port, ctl_on_accept, ctl, &ctl->listener);
    if (rc < 0) return rc;
    ctl->port = io_listener_port(ctl->io, ctl->listener);
    return 0;
}

int controller_start(struct io *io, const struct broker_config *config, struct controller **out) {
    ASSERT(config->log_dir_count > 0);
    struct controller *ctl = io_calloc(io, 1, sizeof(*ctl));
    ctl->io = io;
    ctl->config = *config;
    ctl->values = io_alloc(io, (size_t)CTL_RECORDS_MAX * METADATA_RECORD_VALUE_MAX);
    metadata_image_init(&ctl->committed, io);
    metadata_image_init(&ctl->working, io);
    int rc = ctl_listen(ctl);
    if (rc < 0) {
        io_log(io, IO_LOG_ERROR, "controller %d: cannot listen: %d", config->node_id, rc);
    }
    if (rc == 0) {
        struct raft_callbacks cb = {.on_commit = ctl_on_commit,
                                    .on_become_leader = ctl_on_become_leader,
                                    .on_resign = ctl_on_resign,
                                    .arg = ctl};
        rc = raft_start(io, &ctl->config, config->log_dirs[0], &cb, &ctl->raft);
        if (rc < 0) io_log(io, IO_LOG_ERROR, "controller %d: raft: %d", config->node_id, rc);
    }
    if (rc < 0) {
        if (ctl->listener != NULL) io_listener_close(io, ctl->listener);
        metadata_image_free(&ctl->committed);
        io_free(io, ctl->values, (size_t)CTL_RECORDS_MAX * METADATA_RECORD_VALUE_MAX);
        io_free(io, ctl, sizeof(*ctl));
        return rc;
    }
    ctl_tick(ctl);
    *out = ctl;
    return 0;
}

uint16_t controller_port(const struct controller *ctl) { return ctl->port; }

int controller_stop(struct controller *ctl) {
    struct io *io = ctl->io;
    ctl->stopping = true;
    io_timer_cancel(io, ctl->tick);
    io_listener_close(io, ctl->listener);
    drop_parked(ctl);
    /* Close connections first: raft's parked fetches then answer into closed ones. */
    for (uint32_t guard = 0; ctl->conns != NULL && guard < 1000000; guard++) {
        broker_conn_close(ctl->conns->conn, -ECONNABORTED);
    }
    raft_stop(ctl->raft);
    metadata_image_free(&ctl->committed);
    metadata_image_free(&ctl->working);
    io_free(io, ctl->values, (size_t)CTL_RECORDS_MAX * METADATA_RECORD_VALUE_MAX);
    io_free(io, ctl, sizeof(*ctl));
    return 0;
}
