/*
 * connection.c — framing, ordering, backpressure and idle timeout of one connection
 * (see connection.h).
 *
 * The ring `slots` holds one entry per outstanding request, in request order; a request's
 * slot number is its ring position (reused only after it was answered and sent); `head` is
 * the oldest. An answered slot keeps its response bytes until every earlier slot is
 * answered, then everything ready at the head goes to the stream at once. Reading is
 * paused whenever the ring is full or the stream holds more than max_output_bytes; frames
 * already in the input buffer wait there (they are not parsed while paused).
 */
#include "broker/connection.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"

enum slot_state { SLOT_FREE = 0, SLOT_WAITING, SLOT_READY };

struct conn_slot {
    enum slot_state state;
    uint8_t *bytes; /* io_alloc'd copy of the response, file ranges read in (NULL: none). */
    size_t len;
};

struct broker_conn {
    struct io *io;
    struct io_stream *stream; /* NULL once closed. */
    struct broker_conn_limits limits;
    broker_conn_request_fn on_request;
    broker_conn_close_fn on_close;
    void *arg;
    void *user;

    uint8_t *in;      /* Input buffer: unparsed bytes. */
    size_t in_len;
    size_t in_cap;

    struct conn_slot *slots; /* Ring of limits.max_inflight entries. */
    uint32_t head;           /* Ring position of the oldest outstanding slot. */
    uint32_t count;          /* Outstanding slots (waiting or ready, not yet written). */

    bool closed;
    bool paused;
    bool dispatching; /* Inside the parse loop: do not re-enter it. */
    uint64_t last_activity_ns;
    io_timer_id idle_timer;
    io_timer_id resume_timer; /* Parses buffered frames after an answer freed a slot. */
    bool splice_pending;      /* A file range was queued and the stream has not drained. */
};

static void conn_parse(struct broker_conn *conn);
static void conn_update_pause(struct broker_conn *conn);

static uint32_t slot_index(const struct broker_conn *conn, uint32_t slot) {
    return slot % conn->limits.max_inflight;
}

static void slot_release(struct broker_conn *conn, struct conn_slot *s) {
    if (s->bytes != NULL) io_free(conn->io, s->bytes, s->len);
    memset(s, 0, sizeof(*s));
}

static void conn_free(struct broker_conn *conn) {
    ASSERT(conn->closed && conn->count == 0 && conn->stream == NULL);
    ASSERT(conn->resume_timer == 0 && conn->idle_timer == 0);
    if (conn->in != NULL) io_free(conn->io, conn->in, conn->in_cap);
    io_free(conn->io, conn->slots, conn->limits.max_inflight * sizeof(struct conn_slot));
    io_free(conn->io, conn, sizeof(*conn));
}

void broker_conn_close(struct broker_conn *conn, int reason) {
    if (conn->closed) return;
    conn->closed = true;
    if (conn->idle_timer != 0) io_timer_cancel(conn->io, conn->idle_timer);
    conn->idle_timer = 0;
    if (conn->resume_timer != 0) io_timer_cancel(conn->io, conn->resume_timer);
    conn->resume_timer = 0;
    io_stream_close(conn->io, conn->stream);
    conn->stream = NULL;
    /* Ready answers will never be sent: drop them now; waiting slots stay counted until
     * their owner answers, which frees the struct at the last one. */
    uint32_t remaining = conn->count;
    for (uint32_t i = 0; i < remaining; i++) {
        struct conn_slot *s = &conn->slots[slot_index(conn, conn->head + i)];
        if (s->state != SLOT_READY) continue;
        slot_release(conn, s); /* Frees the bytes; the slot stays answered. */
        s->state = SLOT_READY;
    }
    if (conn->on_close != NULL) conn->on_close(conn->arg, conn, reason);
    /* Count the ready-but-unsent ones as done. */
    while (conn->count > 0 &&
           conn->slots[slot_index(conn, conn->head)].state == SLOT_READY) {
        conn->slots[slot_index(conn, conn->head)].state = SLOT_FREE;
        conn->head = slot_index(conn, conn->head + 1);
        conn->count--;
    }
    if (conn->count == 0 && !conn->dispatching) conn_free(conn);
}

/* Hands one response (bytes with file ranges spliced in) to the stream. */
static int conn_send(struct broker_conn *conn, const uint8_t *bytes, size_t len,
                     const struct broker_conn_splice *splices, size_t splice_count) {
    int rc = 0;
    size_t pos = 0;
    for (size_t i = 0; i < splice_count && rc == 0; i++) {
        const struct broker_conn_splice *sp = &splices[i];
        ASSERT(sp->at >= pos && sp->at <= len);
        if (sp->at > pos) rc = io_stream_write(conn->io, conn->stream, bytes + pos, sp->at - pos);
        if (rc == 0 && sp->length > 0) {
            rc = io_stream_sendfile(conn->io, conn->stream, sp->file, sp->position, sp->length);
            conn->splice_pending = true;
        }
        pos = sp->at;
    }
    if (rc == 0 && pos < len) rc = io_stream_write(conn->io, conn->stream, bytes + pos, len - pos);
    return rc;
}

/* Writes every answered response at the head of the ring, in order. */
static int conn_flush(struct broker_conn *conn) {
    while (conn->count > 0) {
        struct conn_slot *s = &conn->slots[slot_index(conn, conn->head)];
        if (s->state != SLOT_READY) break;
        int rc = 0;
        if (!conn->closed && s->bytes != NULL) rc = conn_send(conn, s->bytes, s->len, NULL, 0);
        slot_release(conn, s);
        conn->head = slot_index(conn, conn->head + 1);
        conn->count--;
        if (rc < 0) return rc;
    }
    return 0;
}

static void conn_resume(void *arg) {
    struct broker_conn *conn = arg;
    conn->resume_timer = 0;
    ASSERT(!conn->closed);
    conn_update_pause(conn);
    if (!conn->paused && conn->in_len > 0) conn_parse(conn);
}

static void conn_after_answer(struct broker_conn *conn, int rc) {
    if (conn->closed) {
        if (conn->count == 0 && !conn->dispatching) conn_free(conn);
        return;
    }
    if (rc < 0) {
        broker_conn_close(conn, rc);
        return;
    }
    conn->last_activity_ns = io_now_ns(conn->io);
    conn_update_pause(conn);
    /* Buffered frames are parsed from a timer, not from here: the owner may be answering
     * from inside a callback of its own (a purgatory or coordinator completion) that must
     * not see a new request arrive underneath it. */
    if (!conn->paused && conn->in_len > 0 && conn->resume_timer == 0) {
        conn->resume_timer = io_timer_start(conn->io, io_now_ns(conn->io), conn_resume, conn);
    }
}

static struct conn_slot *conn_slot_for_answer(struct broker_conn *conn, uint32_t slot) {
    /* Slots are ring positions (so no counter can wrap); it must be an outstanding one. */
    ASSERT(slot < conn->limits.max_inflight);
    ASSERT((slot + conn->limits.max_inflight - conn->head) % conn->limits.max_inflight <
           conn->count);
    struct conn_slot *s = &conn->slots[slot_index(conn, slot)];
    ASSERT(s->state == SLOT_WAITING);
    return s;
}

/*
 * Keeps an answer that must wait behind an earlier one: the bytes, with its file ranges
 * read in now. A waiting answer holds no io_file: its owner may close the file (a deleted
 * topic, retention) before the answer reaches the stream. Rare (an earlier request parked
 * on the same connection), so the copy costs nothing in the common case.
 */
static int slot_fill(struct broker_conn *conn, struct conn_slot *s, const uint8_t *bytes,
                     size_t len, const struct broker_conn_splice *splices, size_t splice_count) {
    size_t total = len;
    for (size_t i = 0; i < splice_count; i++) total += splices[i].length;
    if (total == 0) return 0;
    uint8_t *buf = io_alloc(conn->io, total);
    size_t pos = 0, out = 0;
    for (size_t i = 0; i < splice_count; i++) {
        const struct broker_conn_splice *sp = &splices[i];
        ASSERT(sp->at >= pos && sp->at <= len);
        memcpy(buf + out, bytes + pos, sp->at - pos);
        out += sp->at - pos;
        pos = sp->at;
        if (sp->length == 0) continue;
        int64_t n = io_file_pread(conn->io, sp->file, buf + out, sp->length, sp->position);
        if (n != (int64_t)sp->length) {
            io_free(conn->io, buf, total);
            return n < 0 ? (int)n : -EIO;
        }
        out += sp->length;
    }
    memcpy(buf + out, bytes + pos, len - pos);
    ASSERT(out + len - pos == total);
    s->bytes = buf;
    s->len = total;
    return 0;
}

int broker_conn_respond(struct broker_conn *conn, uint32_t slot, const uint8_t *bytes,
                        size_t len, const struct broker_conn_splice *splices,
                        size_t splice_count) {
    ASSERT(splice_count <= BROKER_CONN_SPLICES_MAX);
    struct conn_slot *s = conn_slot_for_answer(conn, slot);
    s->state = SLOT_READY;
    if (!conn->closed && slot == conn->head) {
        /* Nothing earlier is outstanding: straight to the stream (which copies), without
         * the copy into the slot that waiting behind an earlier answer needs. */
        int rc = len > 0 ? conn_send(conn, bytes, len, splices, splice_count) : 0;
        s->state = SLOT_FREE;
        conn->head = slot_index(conn, conn->head + 1);
        conn->count--;
        if (rc == 0) rc = conn_flush(conn);
        conn_after_answer(conn, rc);
        return rc;
    }
    int rc = 0;
    if (!conn->closed && len > 0) rc = slot_fill(conn, s, bytes, len, splices, splice_count);
    if (rc < 0) {
        /* The answer cannot be built: nothing may follow it on this connection. */
        io_log(conn->io, IO_LOG_WARN, "closing %s: cannot read a fetch range (%d)",
               io_stream_peer(conn->io, conn->stream), rc);
        broker_conn_close(conn, rc);
        return rc;
    }
    rc = conn_flush(conn);
    conn_after_answer(conn, rc);
    return rc;
}

void broker_conn_respond_none(struct broker_conn *conn, uint32_t slot) {
    struct conn_slot *s = conn_slot_for_answer(conn, slot);
    s->state = SLOT_READY;
    int rc = conn_flush(conn);
    conn_after_answer(conn, rc);
}

static void conn_update_pause(struct broker_conn *conn) {
    if (conn->closed) return;
    bool full = conn->count >= conn->limits.max_inflight ||
                io_stream_queued(conn->io, conn->stream) > conn->limits.max_output_bytes;
    if (full != conn->paused) {
        conn->paused = full;
        io_stream_pause(conn->io, conn->stream, full);
    }
}

/* Parses and dispatches whole frames from the input buffer while not paused. */
static void conn_parse(struct broker_conn *conn) {
    if (conn->dispatching) return; /* The outer loop picks up the rest. */
    conn->dispatching = true;
    size_t pos = 0;
    /* Bound: each iteration consumes one frame of >= 4 bytes, or stops. */
    while (!conn->closed && !conn->paused && conn->in_len - pos >= 4) {
        uint8_t *p = conn->in + pos;
        int32_t size = (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                                 ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
        if (size < 0 || (size_t)size > conn->limits.max_frame_bytes) {
            io_log(conn->io, IO_LOG_WARN, "closing %s: frame of %d bytes (limit %zu)",
                   io_stream_peer(conn->io, conn->stream), size, conn->limits.max_frame_bytes);
            broker_conn_close(conn, -EMSGSIZE);
            break;
        }
        if (conn->in_len - pos - 4 < (size_t)size) break; /* Incomplete. */
        uint32_t slot = slot_index(conn, conn->head + conn->count);
        struct conn_slot *s = &conn->slots[slot_index(conn, slot)];
        ASSERT(s->state == SLOT_FREE && conn->count < conn->limits.max_inflight);
        s->state = SLOT_WAITING;
        conn->count++;
        pos += 4 + (size_t)size;
        int rc = conn->on_request(conn->arg, conn, slot, p + 4, (size_t)size);
        if (rc < 0) {
            /* The owner did not take the slot: retire it, then close. */
            ASSERT(s->state == SLOT_WAITING);
            s->state = SLOT_READY;
            if (!conn->closed) {
                io_log(conn->io, IO_LOG_WARN, "closing %s: bad request (%d)",
                       io_stream_peer(conn->io, conn->stream), rc);
            }
            conn_flush(conn);
            broker_conn_close(conn, rc);
            break;
        }
        conn_update_pause(conn);
    }
    conn->dispatching = false;
    if (conn->closed) {
        if (conn->count == 0) conn_free(conn);
        return;
    }
    if (pos > 0) {
        memmove(conn->in, conn->in + pos, conn->in_len - pos);
        conn->in_len -= pos;
    }
}

static void conn_on_read(void *arg, struct io_stream *stream, const uint8_t *data, size_t len,
                         int status) {
    struct broker_conn *conn = arg;
    ASSERT(!conn->closed && stream == conn->stream);
    if (len == 0) {
        broker_conn_close(conn, status == 0 ? -ECONNRESET : status);
        return;
    }
    conn->last_activity_ns = io_now_ns(conn->io);
    size_t limit = conn->limits.max_frame_bytes + 4;
    if (conn->in_len + len > conn->in_cap) {
        /* Grow by doubling, never beyond one maximal frame plus what is already parsed
         * (a larger need means an oversized frame, refused by the parser below). */
        size_t need = conn->in_len + len;
        size_t cap = conn->in_cap == 0 ? 4096 : conn->in_cap;
        while (cap < need) cap *= 2;
        if (cap > limit && need <= limit) cap = limit;
        if (cap > limit) cap = need; /* Temporarily: the parser will close on the size. */
        conn->in = io_realloc(conn->io, conn->in, conn->in_cap, cap);
        conn->in_cap = cap;
    }
    memcpy(conn->in + conn->in_len, data, len);
    conn->in_len += len;
    conn_parse(conn);
}

static void conn_on_drain(void *arg, struct io_stream *stream) {
    struct broker_conn *conn = arg;
    if (conn->closed) return;
    if (io_stream_queued(conn->io, conn->stream) == 0) conn->splice_pending = false;
    conn_update_pause(conn);
    if (!conn->paused && conn->in_len > 0) conn_parse(conn);
}

static void conn_idle_check(void *arg) {
    struct broker_conn *conn = arg;
    conn->idle_timer = 0;
    if (conn->closed) return;
    uint64_t now = io_now_ns(conn->io);
    uint64_t idle_ns = conn->limits.idle_ms * NS_PER_MS;
    if (conn->count == 0 && now - conn->last_activity_ns >= idle_ns) {
        io_log(conn->io, IO_LOG_INFO, "closing idle connection %s",
               io_stream_peer(conn->io, conn->stream));
        broker_conn_close(conn, -ETIMEDOUT);
        return;
    }
    uint64_t deadline = (conn->count == 0 ? conn->last_activity_ns : now) + idle_ns;
    conn->idle_timer = io_timer_start(conn->io, deadline, conn_idle_check, conn);
}

struct broker_conn *broker_conn_create(struct io *io, struct io_stream *stream,
                                       const struct broker_conn_limits *limits,
                                       broker_conn_request_fn on_request,
                                       broker_conn_close_fn on_close, void *arg) {
    ASSERT(limits->max_inflight >= 1 && limits->max_inflight <= BROKER_CONN_INFLIGHT_MAX);
    ASSERT(limits->max_frame_bytes >= 64 && limits->idle_ms >= 1);
    struct broker_conn *conn = io_calloc(io, 1, sizeof(*conn));
    conn->io = io;
    conn->stream = stream;
    conn->limits = *limits;
    conn->on_request = on_request;
    conn->on_close = on_close;
    conn->arg = arg;
    conn->slots = io_calloc(io, limits->max_inflight, sizeof(struct conn_slot));
    conn->last_activity_ns = io_now_ns(io);
    conn->idle_timer = io_timer_start(io, conn->last_activity_ns + limits->idle_ms * NS_PER_MS,
                                      conn_idle_check, conn);
    io_stream_start(io, stream, conn_on_read, conn_on_drain, conn);
    return conn;
}

bool broker_conn_is_closed(const struct broker_conn *conn) { return conn->closed; }
bool broker_conn_splicing(const struct broker_conn *conn) {
    return !conn->closed && conn->splice_pending;
}
const char *broker_conn_peer(const struct broker_conn *conn) {
    return conn->closed ? "" : io_stream_peer(conn->io, conn->stream);
}
uint32_t broker_conn_inflight(const struct broker_conn *conn) { return conn->count; }
bool broker_conn_reading_paused(const struct broker_conn *conn) { return conn->paused; }
void broker_conn_set_user(struct broker_conn *conn, void *user) { conn->user = user; }
void *broker_conn_user(const struct broker_conn *conn) { return conn->user; }
