/*
 * quorum_client.c — a broker's link to the controller quorum (quorum_client.h).
 *
 * It talks to one voter at a time (`target`), over two client connections: one for the
 * metadata Fetch long poll, one for everything else (registration, heartbeats,
 * AlterPartition, forwarded admin requests), so a heartbeat never waits behind a parked
 * Fetch (responses on one connection come back in order). Any sign that the target is not
 * the leader — a disconnect, NOT_LEADER_OR_FOLLOWER on the Fetch, NOT_CONTROLLER on a
 * request — rotates to the next voter after a short backoff: both connections are dropped
 * and every in-flight request is sent again to the new target. A generation number makes
 * answers from a dropped connection harmless.
 *
 * The image only ever receives records below the fetched high watermark: those are
 * committed and never truncated (Raft's commit rule), so an observer never has to undo
 * anything, whatever leader it talks to next.
 */
#include "controller/quorum_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "client/client.h"
#include "controller/metadata_records.h"
#include "controller/raft.h"
#include "log/batch.h"
#include "proto/proto.h"

#define KERR_NOT_LEADER_OR_FOLLOWER   6
#define KERR_REQUEST_TIMED_OUT        7
#define KERR_NOT_CONTROLLER           41
#define KERR_INVALID_REQUEST          42
#define KERR_STALE_BROKER_EPOCH       77
#define KERR_BROKER_ID_NOT_REGISTERED 102

#define QC_OPS_MAX           4096
#define QC_ROTATE_BACKOFF_MS 50
#define QC_FETCH_MAX_WAIT_MS 500
#define QC_FETCH_MAX_BYTES   (8 << 20)

enum qc_op_kind { QC_OP_ALTER, QC_OP_FORWARD };

/* A queued AlterPartition or forwarded admin request, resent until answered or expired. */
struct qc_op {
    enum qc_op_kind kind;
    bool in_flight;
    uint64_t deadline_ns;
    /* Forward. */
    int16_t api_key;
    int16_t version;
    const void *request;
    quorum_forward_fn forward_done;
    /* AlterPartition. */
    char topic[METADATA_TOPIC_NAME_MAX + 1];
    int32_t partition;
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t isr[METADATA_REPLICAS_MAX];
    uint32_t isr_count;
    quorum_alter_partition_fn alter_done;
    void *arg;
    struct qc_op *next;
};

enum qc_call_kind { QC_CALL_FETCH, QC_CALL_REGISTER, QC_CALL_HEARTBEAT, QC_CALL_OP };

/* One request on the wire; its answer is ignored if the generation moved on. */
struct qc_call {
    struct quorum_client *qc;
    uint64_t gen;
    enum qc_call_kind kind;
    struct qc_op *op;
};

struct quorum_client {
    struct io *io;
    struct broker_config config;
    char advertised_host[BROKER_CONFIG_HOST_MAX];
    uint16_t advertised_port;
    uint8_t incarnation_id[16];
    quorum_update_fn on_update;
    void *arg;

    uint32_t target; /* Index into config.voters. */
    uint64_t gen;    /* Bumped at every rotation. */
    struct client *fetch_client;
    struct client *ctl_client;
    int32_t controller_id;
    bool stopping;

    struct metadata_image image;
    struct metadata_image before; /* Image as of the last on_update. */
    int64_t fetch_offset;
    bool fetch_in_flight;

    int64_t broker_epoch; /* -1 until registered. */
    bool register_in_flight;
    bool heartbeat_in_flight;
    bool fenced;
    bool caught_up;
    int64_t hb_reported_offset; /* current_metadata_offset of the last heartbeat sent. */
    bool want_shut_down;        /* quorum_client_shutdown was called. */
    quorum_shutdown_fn shutdown_done;
    void *shutdown_arg;
    uint64_t shutdown_deadline_ns;

    struct qc_op *ops_head, *ops_tail;
    uint32_t op_count;
    io_timer_id heartbeat_timer;
    io_timer_id rotate_timer;
    io_timer_id pump_timer;
    io_timer_id watchdog_timer;
    io_timer_id retry_timer;
    uint64_t fetch_ok_gen;  /* Generation in which the target last answered a Fetch. */
    uint64_t fetch_sent_ns; /* When the Fetch in flight was sent. */
    uint64_t ctl_sent_ns;   /* When the oldest unanswered control request was sent. */
    uint32_t ctl_in_flight; /* Control requests without an answer. */
};

static void qc_pump(struct quorum_client *qc);

static uint64_t ms_to_ns(int64_t ms) { return ms <= 0 ? 0 : (uint64_t)ms * NS_PER_MS; }

static const struct broker_voter *qc_voter(const struct quorum_client *qc) {
    ASSERT(qc->target < qc->config.voter_count);
    return &qc->config.voters[qc->target];
}

/* Combined nodes are voters: their broker side reads as a plain reader (replica -1) so
 * that it never counts as its own voter's fetch position in the majority. */
static int32_t qc_fetch_replica_id(const struct quorum_client *qc) {
    for (uint32_t i = 0; i < qc->config.voter_count; i++) {
        if (qc->config.voters[i].id == qc->config.node_id) return -1;
    }
    return qc->config.node_id;
}

static void qc_clients_open(struct quorum_client *qc) {
    if (qc->fetch_client != NULL) return;
    const struct broker_voter *v = qc_voter(qc);
    qc->fetch_client = client_create(qc->io, v->host, v->port, "trial-quorum-fetch");
    qc->ctl_client = client_create(qc->io, v->host, v->port, "trial-quorum");
}

static void qc_clients_close(struct quorum_client *qc) {
    /* Answers of the old generation (client_destroy fails them at once) are ignored. */
    qc->gen++;
    qc->fetch_in_flight = false;
    qc->register_in_flight = false;
    qc->heartbeat_in_flight = false;
    qc->ctl_in_flight = 0;
    for (struct qc_op *op = qc->ops_head; op != NULL; op = op->next)
        op->in_flight = false;
    struct client *f = qc->fetch_client;
    struct client *c = qc->ctl_client;
    qc->fetch_client = NULL;
    qc->ctl_client = NULL;
    if (f != NULL) client_destroy(f);
    if (c != NULL) client_destroy(c);
}

static void qc_rotate_now(void *arg) {
    struct quorum_client *qc = arg;
    qc->rotate_timer = 0;
    if (qc->stopping) return;
    qc_clients_close(qc);
    qc->target = (qc->target + 1) % qc->config.voter_count;
    qc_pump(qc);
}

/* The target is not (or no longer) the leader: try the next voter after a short pause.
 * Never destroys a client from inside its own callback: a timer does it. */
static void qc_rotate(struct quorum_client *qc) {
    qc->controller_id = -1;
    if (qc->rotate_timer != 0 || qc->stopping) return;
    qc->rotate_timer = io_timer_start(qc->io, io_now_ns(qc->io) + ms_to_ns(QC_ROTATE_BACKOFF_MS),
                                      qc_rotate_now, qc);
}

static void qc_retry_now(void *arg) {
    struct quorum_client *qc = arg;
    qc->retry_timer = 0;
    qc_pump(qc);
}

/*
 * NOT_CONTROLLER. A voter that serves our metadata Fetch is the Raft leader, just not
 * active yet (its leader-change record is not committed): ask it again shortly instead of
 * wandering off to voters that will only send us back. Anything else: look elsewhere.
 */
static void qc_not_controller(struct quorum_client *qc) {
    if (qc->fetch_ok_gen != qc->gen) {
        qc_rotate(qc);
        return;
    }
    if (qc->retry_timer == 0 && !qc->stopping) {
        qc->retry_timer = io_timer_start(qc->io, io_now_ns(qc->io) + ms_to_ns(QC_ROTATE_BACKOFF_MS),
                                         qc_retry_now, qc);
    }
}

static struct qc_call *qc_call_new(struct quorum_client *qc, enum qc_call_kind kind,
                                   struct qc_op *op) {
    struct qc_call *call = io_calloc(qc->io, 1, sizeof(*call));
    call->qc = qc;
    call->gen = qc->gen;
    call->kind = kind;
    call->op = op;
    if (kind != QC_CALL_FETCH) {
        if (qc->ctl_in_flight == 0) qc->ctl_sent_ns = io_now_ns(qc->io);
        qc->ctl_in_flight++;
    } else {
        qc->fetch_sent_ns = io_now_ns(qc->io);
    }
    return call;
}

/* A call that was never sent (client_send failed). */
static void qc_call_unsent(struct qc_call *call) {
    struct quorum_client *qc = call->qc;
    if (call->kind != QC_CALL_FETCH && qc->ctl_in_flight > 0) qc->ctl_in_flight--;
    io_free(qc->io, call, sizeof(*call));
}

/* Frees the call; true if its answer still matters. */
static bool qc_call_end(struct qc_call *call) {
    struct quorum_client *qc = call->qc;
    bool current = call->gen == qc->gen && !qc->stopping;
    if (current && call->kind != QC_CALL_FETCH && qc->ctl_in_flight > 0) {
        qc->ctl_in_flight--;
        /* The connection answers in order: the next one was sent no earlier than now-ish;
         * restarting the clock is conservative enough for a liveness watchdog. */
        qc->ctl_sent_ns = io_now_ns(qc->io);
    }
    io_free(qc->io, call, sizeof(*call));
    return current;
}

/* --- Metadata fetch ------------------------------------------------------------------- */

/* Applies the committed records of a Fetch answer; returns true if the image changed. */
static bool qc_apply_records(struct quorum_client *qc, const uint8_t *data, size_t len,
                             int64_t high_watermark) {
    bool changed = false;
    size_t pos = 0;
    for (uint32_t guard = 0; pos < len && guard < 1000000; guard++) {
        struct batch_header h;
        if (batch_check(data + pos, len - pos, len - pos, &h) < 0) break; /* Partial tail. */
        size_t total = batch_total_bytes(&h);
        if (h.base_offset >= high_watermark) break;
        if (batch_last_offset(&h) >= qc->fetch_offset) {
            if (batch_is_control(&h)) {
                qc->fetch_offset = MIN(batch_last_offset(&h) + 1, high_watermark);
            } else {
                struct batch_record_iter it;
                if (batch_records_begin(data + pos, total, &it) < 0) break;
                struct batch_record rec;
                while (batch_records_next(&it, &rec) == 1) {
                    int64_t offset = h.base_offset + rec.offset_delta;
                    if (offset < qc->fetch_offset) continue;
                    if (offset >= high_watermark) break;
                    struct metadata_record mr;
                    if (rec.key_len >= 0 && rec.value_len >= 0 &&
                        metadata_record_decode(rec.key, (size_t)rec.key_len, rec.value,
                                               (size_t)rec.value_len, &mr) == 0) {
                        int arc =
                            metadata_image_apply(&qc->image, offset, h.partition_leader_epoch, &mr);
                        if (arc < 0) {
                            io_log(qc->io, IO_LOG_WARN, "quorum client: record %s at %lld skipped",
                                   metadata_record_type_name(mr.type), (long long)offset);
                        }
                        metadata_record_trace(qc->io, offset, h.partition_leader_epoch, &mr,
                                              rec.value, (size_t)rec.value_len, arc == 0);
                        changed = true;
                    } else {
                        io_log(qc->io, IO_LOG_ERROR, "quorum client: bad record at %lld",
                               (long long)offset);
                    }
                    qc->fetch_offset = offset + 1;
                }
                if (batch_last_offset(&h) < high_watermark) {
                    qc->fetch_offset = MAX(qc->fetch_offset, batch_last_offset(&h) + 1);
                }
            }
        }
        pos += total;
    }
    return changed;
}

static void qc_send_heartbeat(struct quorum_client *qc);

/*
 * Hands the broker the image, once it has caught up with its own registration: before
 * that the replayed log describes the cluster as it was before this incarnation registered
 * (this node leading partitions it no longer leads), and acting on that would take back
 * what the real leaders did since. Kafka's brokers likewise start publishing metadata only
 * after the initial catch-up (KIP-631).
 */
static void qc_publish(struct quorum_client *qc) {
    if (qc->broker_epoch < 0 || qc->image.offset < qc->broker_epoch ||
        qc->image.offset <= qc->before.offset) {
        return;
    }
    qc->on_update(qc->arg, &qc->before, &qc->image);
    if (qc->stopping) return;
    metadata_image_copy(&qc->before, &qc->image);
}

static void qc_fetch_done(void *arg, int status, const void *body) {
    struct qc_call *call = arg;
    struct quorum_client *qc = call->qc;
    if (!qc_call_end(call)) return;
    qc->fetch_in_flight = false;
    if (status < 0) {
        qc_rotate(qc);
        return;
    }
    const struct proto_fetch_response *resp = body;
    const struct proto_fetch_response_partition *part = NULL;
    if (resp->error_code == 0 && resp->responses.count == 1 &&
        resp->responses.items[0].partitions.count == 1) {
        part = &resp->responses.items[0].partitions.items[0];
    }
    if (part == NULL || part->error_code != 0) {
        /* Not the leader (or it does not know): look elsewhere. */
        qc_rotate(qc);
        return;
    }
    qc->controller_id = qc_voter(qc)->id;
    qc->fetch_ok_gen = qc->gen;
    bool changed = false;
    if (part->records.data != NULL && part->records.len > 0) {
        changed = qc_apply_records(qc, part->records.data, (size_t)part->records.len,
                                   part->high_watermark);
    }
    if (changed) {
        qc_publish(qc);
        if (qc->stopping) return;
    }
    /* A fenced broker that just caught up says so now rather than at the next beat. */
    if (changed && qc->broker_epoch >= 0 && !quorum_client_ready(qc) &&
        qc->image.offset >= qc->broker_epoch && !qc->heartbeat_in_flight) {
        qc_send_heartbeat(qc);
    }
    qc_pump(qc);
}

static void qc_send_fetch(struct quorum_client *qc) {
    if (qc->fetch_in_flight || qc->fetch_client == NULL) return;
    struct proto_fetch_request_partition p = {
        .partition = 0,
        .current_leader_epoch = -1,
        .fetch_offset = qc->fetch_offset,
        .log_start_offset = -1,
        .partition_max_bytes = QC_FETCH_MAX_BYTES,
    };
    struct proto_fetch_request_topic t = {.topic = PROTO_STR(RAFT_TOPIC)};
    t.partitions.items = &p;
    t.partitions.count = 1;
    struct proto_fetch_request req = {
        .replica_id = qc_fetch_replica_id(qc),
        .max_wait_ms = QC_FETCH_MAX_WAIT_MS,
        .min_bytes = 1,
        .max_bytes = QC_FETCH_MAX_BYTES,
        .isolation_level = 0,
        .session_id = 0,
        .session_epoch = -1,
        .rack_id = PROTO_STR(""),
    };
    req.topics.items = &t;
    req.topics.count = 1;
    req.forgotten_topics_data.items = NULL;
    req.forgotten_topics_data.count = 0;
    struct qc_call *call = qc_call_new(qc, QC_CALL_FETCH, NULL);
    int rc = client_send(qc->fetch_client, PROTO_API_FETCH, 11, &req, qc_fetch_done, call);
    if (rc < 0) {
        qc_call_unsent(call);
        qc_rotate(qc);
        return;
    }
    qc->fetch_in_flight = true;
}

/* --- Registration and heartbeats ------------------------------------------------------ */

static void qc_register_done(void *arg, int status, const void *body) {
    struct qc_call *call = arg;
    struct quorum_client *qc = call->qc;
    if (!qc_call_end(call)) return;
    qc->register_in_flight = false;
    if (status < 0) {
        qc_rotate(qc);
        return;
    }
    const struct proto_broker_registration_response *resp = body;
    if (resp->error_code != 0 || resp->broker_epoch < 0) {
        if (resp->error_code != KERR_NOT_CONTROLLER) {
            io_log(qc->io, IO_LOG_WARN, "quorum client: registration refused: %d",
                   resp->error_code);
            qc_rotate(qc);
        } else {
            qc_not_controller(qc);
        }
        return;
    }
    qc->controller_id = qc_voter(qc)->id;
    qc->broker_epoch = resp->broker_epoch;
    qc->fenced = true;
    io_log(qc->io, IO_LOG_INFO, "broker %d registered with epoch %lld", qc->config.node_id,
           (long long)qc->broker_epoch);
    qc_send_heartbeat(qc);
    qc_publish(qc); /* The fetch may have applied our registration before this answer. */
    if (qc->stopping) return;
    qc_pump(qc);
}

static void qc_send_register(struct quorum_client *qc) {
    if (qc->register_in_flight || qc->ctl_client == NULL || qc->broker_epoch >= 0) return;
    struct proto_broker_registration_listener l = {
        .name = PROTO_STR("PLAINTEXT"),
        .host = proto_string_from(qc->advertised_host),
        .port = (int16_t)qc->advertised_port,
        .security_protocol = 0,
    };
    struct proto_broker_registration_request req = {
        .broker_id = qc->config.node_id,
        .cluster_id = PROTO_STR("trial"),
        .rack = PROTO_STR_NULL,
    };
    memcpy(req.incarnation_id.bytes, qc->incarnation_id, 16);
    req.listeners.items = &l;
    req.listeners.count = 1;
    req.features.items = NULL;
    req.features.count = 0;
    struct qc_call *call = qc_call_new(qc, QC_CALL_REGISTER, NULL);
    int rc =
        client_send(qc->ctl_client, PROTO_API_BROKER_REGISTRATION, 0, &req, qc_register_done, call);
    if (rc < 0) {
        qc_call_unsent(call);
        qc_rotate(qc);
        return;
    }
    qc->register_in_flight = true;
}

/* Reports the controlled shutdown's outcome once. */
static void qc_shutdown_finish(struct quorum_client *qc, bool granted) {
    quorum_shutdown_fn done = qc->shutdown_done;
    qc->shutdown_done = NULL;
    if (done != NULL) done(qc->shutdown_arg, granted);
}

static void qc_heartbeat_done(void *arg, int status, const void *body) {
    struct qc_call *call = arg;
    struct quorum_client *qc = call->qc;
    if (!qc_call_end(call)) return;
    qc->heartbeat_in_flight = false;
    if (status < 0) {
        qc_rotate(qc);
        return;
    }
    const struct proto_broker_heartbeat_response *resp = body;
    if (resp->error_code == KERR_STALE_BROKER_EPOCH ||
        resp->error_code == KERR_BROKER_ID_NOT_REGISTERED) {
        /* The controller lost or replaced our registration: register afresh. */
        qc->broker_epoch = -1;
        qc->fenced = true;
        qc_pump(qc);
        return;
    }
    if (resp->error_code != 0) {
        if (resp->error_code == KERR_NOT_CONTROLLER)
            qc_not_controller(qc);
        else
            qc_rotate(qc);
        return;
    }
    qc->controller_id = qc_voter(qc)->id;
    /* Readiness itself is read from the image (the committed UnfenceBroker), so it only
     * changes with an on_update; this is the controller's view, kept for the logs. */
    qc->fenced = resp->is_fenced;
    qc->caught_up = resp->is_caught_up;
    if (qc->want_shut_down && resp->should_shut_down) {
        qc_shutdown_finish(qc, true);
        if (qc->stopping) return;
    } else if (qc->shutdown_done != NULL) {
        qc_send_heartbeat(qc); /* That beat predates the request: ask now. */
    }
    /* Caught up while this beat was in flight (it reported an older offset): say so now,
     * or readiness would wait a whole heartbeat interval. */
    if (resp->is_fenced && qc->hb_reported_offset < qc->broker_epoch &&
        qc->image.offset >= qc->broker_epoch) {
        qc_send_heartbeat(qc);
    }
}

static void qc_send_heartbeat(struct quorum_client *qc) {
    if (qc->heartbeat_in_flight || qc->ctl_client == NULL || qc->broker_epoch < 0) return;
    struct proto_broker_heartbeat_request req = {
        .broker_id = qc->config.node_id,
        .broker_epoch = qc->broker_epoch,
        .current_metadata_offset = qc->image.offset,
        .want_fence = false,
        .want_shut_down = qc->want_shut_down,
    };
    struct qc_call *call = qc_call_new(qc, QC_CALL_HEARTBEAT, NULL);
    int rc =
        client_send(qc->ctl_client, PROTO_API_BROKER_HEARTBEAT, 0, &req, qc_heartbeat_done, call);
    if (rc < 0) {
        qc_call_unsent(call);
        qc_rotate(qc);
        return;
    }
    qc->heartbeat_in_flight = true;
    qc->hb_reported_offset = qc->image.offset;
}

static void qc_heartbeat_tick(void *arg) {
    struct quorum_client *qc = arg;
    qc->heartbeat_timer = 0;
    if (qc->stopping) return;
    qc_send_heartbeat(qc);
    qc_pump(qc);
    qc->heartbeat_timer = io_timer_start(
        qc->io, io_now_ns(qc->io) + ms_to_ns(qc->config.broker_heartbeat_interval_ms),
        qc_heartbeat_tick, qc);
}

/* --- Operations: AlterPartition and forwarded admin requests -------------------------- */

static void qc_op_unlink(struct quorum_client *qc, struct qc_op *op) {
    struct qc_op **at = &qc->ops_head;
    while (*at != NULL && *at != op)
        at = &(*at)->next;
    ASSERT(*at == op);
    *at = op->next;
    if (qc->ops_tail == op) {
        qc->ops_tail = NULL;
        for (struct qc_op *o = qc->ops_head; o != NULL; o = o->next)
            qc->ops_tail = o;
    }
    qc->op_count--;
}

/* Completes an op with an error (no controller in time) or a forwarded response. */
static void qc_op_finish(struct quorum_client *qc, struct qc_op *op, int status,
                         const void *response, int16_t alter_error,
                         const struct metadata_partition *committed) {
    qc_op_unlink(qc, op);
    if (op->kind == QC_OP_FORWARD) {
        op->forward_done(op->arg, status, response);
    } else {
        op->alter_done(op->arg, alter_error, committed);
    }
    io_free(qc->io, op, sizeof(*op));
}

/* True if the forwarded response says NOT_CONTROLLER anywhere (then it is resent). */
static bool forward_not_controller(int16_t api_key, const void *body) {
    switch (api_key) {
    case PROTO_API_CREATE_TOPICS: {
        const struct proto_create_topics_response *r = body;
        for (int32_t i = 0; i < r->topics.count; i++) {
            if (r->topics.items[i].error_code == KERR_NOT_CONTROLLER) return true;
        }
        return false;
    }
    case PROTO_API_DELETE_TOPICS: {
        const struct proto_delete_topics_response *r = body;
        for (int32_t i = 0; i < r->responses.count; i++) {
            if (r->responses.items[i].error_code == KERR_NOT_CONTROLLER) return true;
        }
        return false;
    }
    case PROTO_API_CREATE_PARTITIONS: {
        const struct proto_create_partitions_response *r = body;
        for (int32_t i = 0; i < r->results.count; i++) {
            if (r->results.items[i].error_code == KERR_NOT_CONTROLLER) return true;
        }
        return false;
    }
    case PROTO_API_ALTER_CONFIGS: {
        const struct proto_alter_configs_response *r = body;
        for (int32_t i = 0; i < r->responses.count; i++) {
            if (r->responses.items[i].error_code == KERR_NOT_CONTROLLER) return true;
        }
        return false;
    }
    default:
        return false;
    }
}

static void qc_op_done(void *arg, int status, const void *body) {
    struct qc_call *call = arg;
    struct quorum_client *qc = call->qc;
    struct qc_op *op = call->op;
    if (!qc_call_end(call)) return;
    op->in_flight = false;
    if (status < 0) {
        qc_rotate(qc);
        return;
    }
    if (op->kind == QC_OP_FORWARD) {
        if (forward_not_controller(op->api_key, body)) {
            qc_not_controller(qc);
            return;
        }
        qc->controller_id = qc_voter(qc)->id;
        qc_op_finish(qc, op, 0, body, 0, NULL);
        return;
    }
    const struct proto_alter_partition_response *resp = body;
    if (resp->error_code == KERR_NOT_CONTROLLER) {
        qc_not_controller(qc);
        return;
    }
    qc->controller_id = qc_voter(qc)->id;
    int16_t err = resp->error_code;
    const struct proto_alter_partition_response_partition *rp = NULL;
    if (err == 0 && resp->topics.count == 1 && resp->topics.items[0].partitions.count == 1) {
        rp = &resp->topics.items[0].partitions.items[0];
        err = rp->error_code;
    } else if (err == 0) {
        err = KERR_NOT_CONTROLLER; /* Malformed answer: treat as no answer. */
    }
    if (err == KERR_NOT_CONTROLLER) {
        qc_not_controller(qc);
        return;
    }
    if (err != 0 || rp == NULL) {
        qc_op_finish(qc, op, 0, NULL, err, NULL);
        return;
    }
    struct metadata_partition committed;
    memset(&committed, 0, sizeof(committed));
    const struct metadata_partition *known =
        metadata_partition_find(&qc->image, op->topic, op->partition);
    if (known != NULL) committed = *known;
    committed.index = op->partition;
    committed.leader = rp->leader_id;
    committed.leader_epoch = rp->leader_epoch;
    committed.partition_epoch = rp->partition_epoch;
    committed.isr_count = (uint32_t)MIN(MAX(rp->isr.count, 0), METADATA_REPLICAS_MAX);
    memcpy(committed.isr, rp->isr.items, committed.isr_count * sizeof(int32_t));
    qc_op_finish(qc, op, 0, NULL, 0, &committed);
}

static void qc_send_op(struct quorum_client *qc, struct qc_op *op) {
    if (op->in_flight || qc->ctl_client == NULL) return;
    int rc;
    struct qc_call *call = qc_call_new(qc, QC_CALL_OP, op);
    if (op->kind == QC_OP_FORWARD) {
        rc = client_send(qc->ctl_client, op->api_key, op->version, op->request, qc_op_done, call);
    } else {
        if (qc->broker_epoch < 0) {
            qc_call_unsent(call);
            return; /* Sent once registered. */
        }
        struct proto_alter_partition_request_partition p = {
            .partition_index = op->partition,
            .leader_epoch = op->leader_epoch,
            .partition_epoch = op->partition_epoch,
        };
        p.new_isr.items = op->isr;
        p.new_isr.count = (int32_t)op->isr_count;
        struct proto_alter_partition_request_topic t = {.topic_name = proto_string_from(op->topic)};
        t.partitions.items = &p;
        t.partitions.count = 1;
        struct proto_alter_partition_request req = {
            .broker_id = qc->config.node_id,
            .broker_epoch = qc->broker_epoch,
        };
        req.topics.items = &t;
        req.topics.count = 1;
        rc = client_send(qc->ctl_client, PROTO_API_ALTER_PARTITION, 0, &req, qc_op_done, call);
    }
    if (rc < 0) {
        qc_call_unsent(call);
        if (rc == -ENOTCONN || rc == -EAGAIN) {
            qc_rotate(qc);
        } else {
            /* The request itself cannot be encoded: no voter will ever take it. */
            io_log(qc->io, IO_LOG_WARN, "quorum client: cannot send api %d: %d",
                   op->kind == QC_OP_FORWARD ? op->api_key : PROTO_API_ALTER_PARTITION, rc);
            qc_op_finish(qc, op, rc, NULL, KERR_INVALID_REQUEST, NULL);
        }
        return;
    }
    op->in_flight = true;
}

/* Fails ops whose deadline passed while no controller answered them. */
static void qc_expire_ops(struct quorum_client *qc) {
    uint64_t now = io_now_ns(qc->io);
    struct qc_op *op = qc->ops_head;
    while (op != NULL) {
        struct qc_op *next = op->next;
        if (!op->in_flight && now >= op->deadline_ns) {
            qc_op_finish(qc, op, -ETIMEDOUT, NULL, KERR_REQUEST_TIMED_OUT, NULL);
            if (qc->stopping) return;
        }
        op = next;
    }
}

/* Sends whatever is due to the current target. */
static void qc_pump(struct quorum_client *qc) {
    if (qc->stopping || qc->rotate_timer != 0) return;
    qc_clients_open(qc);
    qc_expire_ops(qc);
    if (qc->stopping || qc->rotate_timer != 0) return;
    qc_send_register(qc);
    if (qc->shutdown_done != NULL) {
        if (qc->broker_epoch < 0 || io_now_ns(qc->io) >= qc->shutdown_deadline_ns) {
            qc_shutdown_finish(qc, false);
            if (qc->stopping) return;
        } else {
            qc_send_heartbeat(qc);
        }
    }
    struct qc_op *op = qc->ops_head;
    while (op != NULL && qc->rotate_timer == 0 && !qc->stopping) {
        struct qc_op *next = op->next; /* qc_send_op may finish (free) op. */
        qc_send_op(qc, op);
        op = next;
    }
    if (qc->stopping) return;
    if (qc->rotate_timer == 0) qc_send_fetch(qc);
}

/* A voter that stopped answering (partitioned, paused) is as bad as one that said no:
 * with nothing answered for controller.quorum.request.timeout.ms (plus the long poll's
 * wait for the Fetch), rotate. */
static void qc_watchdog(void *arg) {
    struct quorum_client *qc = arg;
    qc->watchdog_timer = 0;
    if (qc->stopping) return;
    uint64_t now = io_now_ns(qc->io);
    uint64_t timeout_ns = ms_to_ns(qc->config.quorum_request_timeout_ms);
    bool stuck = (qc->fetch_in_flight &&
                  now - qc->fetch_sent_ns > timeout_ns + ms_to_ns(QC_FETCH_MAX_WAIT_MS)) ||
                 (qc->ctl_in_flight > 0 && now - qc->ctl_sent_ns > timeout_ns);
    if (stuck) {
        io_log(qc->io, IO_LOG_INFO, "quorum client: voter %d silent; trying the next",
               qc_voter(qc)->id);
        qc_rotate(qc);
    } else {
        qc_pump(qc); /* Also expires ops that wait for a controller. */
    }
    uint64_t period_ns = MAX(timeout_ns / 4, 10 * NS_PER_MS);
    qc->watchdog_timer = io_timer_start(qc->io, now + period_ns, qc_watchdog, qc);
}

static void qc_pump_timer(void *arg) {
    struct quorum_client *qc = arg;
    qc->pump_timer = 0;
    qc_pump(qc);
}

/* Runs qc_pump from the loop: callbacks must not run inside the call that queued them. */
static void qc_pump_soon(struct quorum_client *qc) {
    if (qc->pump_timer == 0) {
        qc->pump_timer = io_timer_start(qc->io, io_now_ns(qc->io), qc_pump_timer, qc);
    }
}

static struct qc_op *qc_op_add(struct quorum_client *qc, int64_t timeout_ms) {
    if (qc->op_count >= QC_OPS_MAX) return NULL;
    struct qc_op *op = io_calloc(qc->io, 1, sizeof(*op));
    op->deadline_ns = io_now_ns(qc->io) + ms_to_ns(timeout_ms);
    if (qc->ops_tail != NULL)
        qc->ops_tail->next = op;
    else
        qc->ops_head = op;
    qc->ops_tail = op;
    qc->op_count++;
    return op;
}

int quorum_client_alter_partition(struct quorum_client *qc, const char *topic, int32_t partition,
                                  int32_t leader_epoch, int32_t partition_epoch, const int32_t *isr,
                                  uint32_t isr_count, quorum_alter_partition_fn done, void *arg) {
    if (strlen(topic) > METADATA_TOPIC_NAME_MAX || isr_count == 0 ||
        isr_count > METADATA_REPLICAS_MAX) {
        return -EINVAL;
    }
    struct qc_op *op = qc_op_add(qc, qc->config.request_timeout_ms);
    if (op == NULL) return -EAGAIN;
    op->kind = QC_OP_ALTER;
    snprintf(op->topic, sizeof(op->topic), "%s", topic);
    op->partition = partition;
    op->leader_epoch = leader_epoch;
    op->partition_epoch = partition_epoch;
    memcpy(op->isr, isr, isr_count * sizeof(int32_t));
    op->isr_count = isr_count;
    op->alter_done = done;
    op->arg = arg;
    qc_pump_soon(qc);
    return 0;
}

int quorum_client_forward(struct quorum_client *qc, int16_t api_key, int16_t version,
                          const void *request, quorum_forward_fn done, void *arg) {
    int64_t timeout_ms = 0;
    switch (api_key) {
    case PROTO_API_CREATE_TOPICS:
        timeout_ms = ((const struct proto_create_topics_request *)request)->timeout_ms;
        break;
    case PROTO_API_DELETE_TOPICS:
        timeout_ms = ((const struct proto_delete_topics_request *)request)->timeout_ms;
        break;
    case PROTO_API_CREATE_PARTITIONS:
        timeout_ms = ((const struct proto_create_partitions_request *)request)->timeout_ms;
        break;
    case PROTO_API_ALTER_CONFIGS:
        break;
    default:
        return -ENOTSUP;
    }
    if (timeout_ms <= 0) timeout_ms = qc->config.request_timeout_ms;
    /* The bodies are one struct for every version: ask the controller at a version the
     * codec speaks (a client may have used a newer one than we encode). */
    const struct proto_api *api = proto_api_find(api_key);
    if (api == NULL || version < api->version_min) return -ENOTSUP;
    if (version > api->version_max) version = api->version_max;
    struct qc_op *op = qc_op_add(qc, timeout_ms);
    if (op == NULL) return -EAGAIN;
    op->kind = QC_OP_FORWARD;
    op->api_key = api_key;
    op->version = version;
    op->request = request;
    op->forward_done = done;
    op->arg = arg;
    qc_pump_soon(qc);
    return 0;
}

int quorum_client_shutdown(struct quorum_client *qc, quorum_shutdown_fn done, void *arg) {
    if (qc->want_shut_down) return -EALREADY;
    qc->want_shut_down = true;
    qc->shutdown_done = done;
    qc->shutdown_arg = arg;
    qc->shutdown_deadline_ns = io_now_ns(qc->io) + ms_to_ns(qc->config.quorum_request_timeout_ms);
    qc_pump_soon(qc);
    return 0;
}

int quorum_client_shutdown_now(struct quorum_client *qc) {
    if (qc->ctl_client == NULL || qc->broker_epoch < 0) return -ENOTCONN;
    qc->want_shut_down = true;
    qc->heartbeat_in_flight = false; /* Its answer is dropped by the stop that follows. */
    qc_send_heartbeat(qc);
    return qc->heartbeat_in_flight ? 0 : -ENOTCONN;
}

/* --- Lifecycle and queries ------------------------------------------------------------ */

int quorum_client_start(struct io *io, const struct quorum_client_config *config,
                        struct quorum_client **out) {
    ASSERT(config->broker != NULL && config->on_update != NULL);
    if (config->broker->voter_count == 0) return -EINVAL;
    struct quorum_client *qc = io_calloc(io, 1, sizeof(*qc));
    qc->io = io;
    qc->config = *config->broker;
    snprintf(qc->advertised_host, sizeof(qc->advertised_host), "%s",
             config->advertised_host != NULL ? config->advertised_host : "");
    qc->advertised_port = config->advertised_port;
    memcpy(qc->incarnation_id, config->incarnation_id, 16);
    qc->on_update = config->on_update;
    qc->arg = config->arg;
    qc->controller_id = -1;
    qc->broker_epoch = -1;
    qc->fenced = true;
    qc->gen = 1; /* fetch_ok_gen 0: no voter has answered a Fetch yet. */
    metadata_image_init(&qc->image, io);
    metadata_image_init(&qc->before, io);
    /* Start at a voter of our own choosing (seeded) so brokers spread their first tries. */
    qc->target = (uint32_t)(io_random_u64(io) % qc->config.voter_count);
    qc_pump_soon(qc);
    qc->watchdog_timer = io_timer_start(io, io_now_ns(io) + 10 * NS_PER_MS, qc_watchdog, qc);
    qc->heartbeat_timer =
        io_timer_start(io, io_now_ns(io) + ms_to_ns(qc->config.broker_heartbeat_interval_ms),
                       qc_heartbeat_tick, qc);
    *out = qc;
    return 0;
}

void quorum_client_stop(struct quorum_client *qc) {
    struct io *io = qc->io;
    qc->stopping = true;
    io_timer_cancel(io, qc->heartbeat_timer);
    io_timer_cancel(io, qc->rotate_timer);
    io_timer_cancel(io, qc->pump_timer);
    io_timer_cancel(io, qc->watchdog_timer);
    io_timer_cancel(io, qc->retry_timer);
    qc_clients_close(qc);
    /* Callbacks never run after the stop: the ops are dropped silently. */
    while (qc->ops_head != NULL) {
        struct qc_op *op = qc->ops_head;
        qc->ops_head = op->next;
        io_free(io, op, sizeof(*op));
    }
    metadata_image_free(&qc->image);
    metadata_image_free(&qc->before);
    io_free(io, qc, sizeof(*qc));
}

const struct metadata_image *quorum_client_image(const struct quorum_client *qc) {
    return &qc->image;
}

int64_t quorum_client_broker_epoch(const struct quorum_client *qc) { return qc->broker_epoch; }

bool quorum_client_ready(const struct quorum_client *qc) {
    if (qc->broker_epoch < 0 || qc->image.offset < qc->broker_epoch) return false;
    const struct metadata_broker *b = metadata_broker_find(&qc->image, qc->config.node_id);
    return b != NULL && b->epoch == qc->broker_epoch && !b->fenced;
}

int32_t quorum_client_controller_id(const struct quorum_client *qc) { return qc->controller_id; }
