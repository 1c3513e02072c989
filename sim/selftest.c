/*
 * selftest.c — the world's stress workload and the harness that checks its contracts
 * (see selftest.h for the list).
 *
 * Two halves:
 *  - the node program (st_prog_*): ordinary "system" code that only uses its io handle and
 *    keeps its state in node memory, so a crash wipes it;
 *  - the harness (struct st): world-level truth kept outside node memory — tokens of
 *    streams and how many messages each sent, a mirror of each node's log file (current
 *    image, synced image, pending writes) — plus the fault schedule.
 * The program reports each successful write/sync/send to the harness; the harness predicts
 * the disk after each crash from the crash model's reported decisions and compares.
 */
#include "sim/selftest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

#define ST_NODES_MAX     8
#define ST_PORT          7000
#define ST_CONNS_MAX     32
#define ST_PAYLOAD_MAX   2000
#define ST_FRAME_MAGIC   0x54525354u /* "TRST" */
#define ST_RECORD_MAGIC  0x524C4F47u /* "RLOG" */
#define ST_FRAME_HEADER  28          /* magic, len, token, seq, check */
#define ST_RECORD_HEADER 20          /* magic, len, seq, check */
#define ST_LOG_BYTES_MAX (512 * 1024)
#define ST_LOG_PATH      "data/log"
#define ST_DECISIONS_MAX 200000
#define ST_TIMERS_MAX    8

/* --- Small helpers ---------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A multiply-mix hash over 8-byte words folded to 32 bits: plenty to catch torn, zeroed
 * or duplicated bytes, and cheap enough that the workload does not dominate the run. */
static uint32_t checksum(uint64_t a, uint64_t b, const uint8_t *data, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL ^ a ^ (b * 0x9e3779b97f4a7c15ULL) ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        h = (h ^ get64(data + i)) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    for (; i < len; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    h ^= h >> 29;
    return (uint32_t)(h ^ (h >> 32));
}

/* Fills buf with pseudo-random bytes from one seed word (xorshift64, 8 bytes a step). */
static void fill_bytes(uint8_t *buf, size_t len, uint64_t r) {
    r |= 1;
    for (size_t i = 0; i < len; i += 8) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        for (size_t k = 0; k < 8 && i + k < len; k++)
            buf[i + k] = (uint8_t)(r >> (8 * k));
    }
}

/* --- Harness state ---------------------------------------------------------------------- */

struct st_op {
    bool is_truncate;
    uint64_t offset; /* or new size */
    uint64_t len;
    uint8_t *data;
};

struct st_image {
    uint8_t *data;
    uint64_t size;
    uint64_t cap;
};

struct st_decision {
    bool is_truncate;
    uint64_t offset;
    uint64_t len;
    bool kept;
};

struct st;

struct st_node {
    struct st *st;
    struct sim_node *node;
    struct st_image cur;    /* what the program wrote */
    struct st_image synced; /* what it last synced */
    struct st_op *ops;      /* pending since the last sync, in order */
    size_t op_count;
    size_t op_cap;
    bool restart_pending;
    bool heard_after_heal;
    /* Log bytes the program synced itself, lowered only by a truncate that reached the
     * disk: recovery must find at least this many valid bytes. */
    uint64_t sync_floor;
};

struct st_token {
    uint32_t from;
    uint64_t sent;
    bool graceful;
};

struct st {
    struct sim_world *world;
    const struct sim_selftest_options *options;
    struct sim_selftest_result *result;
    uint32_t node_count;
    struct st_node nodes[ST_NODES_MAX];
    struct st_token *tokens;
    size_t token_count;
    size_t token_cap;
    struct st_decision *decisions;
    size_t decision_count;
    struct st_decision *kept; /* kept write pieces of the crash being checked, in order */
    size_t kept_count;
    bool failed;
    bool quiet_phase;
    uint64_t faulty_until_ns;
    uint64_t stats_pauses, stats_partitions, stats_clock, stats_spikes, stats_resets,
        stats_disk_faults, stats_eof, stats_errors;
};

static void st_fail(struct st *st, const char *contract, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* With -v, the fault schedule is printed next to the nodes' io_log lines. */
static void st_note(struct st *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void st_note(struct st *st, const char *fmt, ...) {
    if (!st->options->verbose) return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%12.6f fault: %s\n", (double)sim_world_now_ns(st->world) / 1e9, line);
}

static void st_fail(struct st *st, const char *contract, const char *fmt, ...) {
    if (st->failed) return; /* the first failure is the one to report */
    st->failed = true;
    st->result->passed = false;
    snprintf(st->result->contract, sizeof(st->result->contract), "%s", contract);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->result->detail, sizeof(st->result->detail), fmt, ap);
    va_end(ap);
}

static void image_set(struct st_image *img, uint64_t offset, const uint8_t *data, uint64_t len) {
    uint64_t end = offset + len;
    if (end > img->cap) {
        uint64_t cap = img->cap < 4096 ? 4096 : img->cap;
        while (cap < end)
            cap *= 2;
        img->data = realloc(img->data, (size_t)cap);
        if (img->data == NULL) abort();
        img->cap = cap;
    }
    if (offset > img->size) memset(img->data + img->size, 0, (size_t)(offset - img->size));
    if (len > 0) memcpy(img->data + offset, data, (size_t)len);
    if (end > img->size) img->size = end;
}

static void image_truncate(struct st_image *img, uint64_t size) {
    if (size > img->size) {
        image_set(img, size, NULL, 0);
    } else {
        img->size = size;
    }
}

static void image_copy(struct st_image *dst, const struct st_image *src) {
    dst->size = 0;
    image_set(dst, 0, src->data, src->size);
}

static void ops_clear(struct st_node *sn) {
    for (size_t i = 0; i < sn->op_count; i++)
        free(sn->ops[i].data);
    sn->op_count = 0;
}

static void ops_push(struct st_node *sn, bool is_truncate, uint64_t offset, const uint8_t *data,
                     uint64_t len) {
    sn->ops = sim_grow(sn->ops, &sn->op_cap, sn->op_count, sizeof(*sn->ops));
    struct st_op *op = &sn->ops[sn->op_count++];
    op->is_truncate = is_truncate;
    op->offset = offset;
    op->len = len;
    op->data = NULL;
    if (len > 0) {
        op->data = sim_xmalloc((size_t)len);
        memcpy(op->data, data, (size_t)len);
    }
}

/* Reports from the program. */
static void st_on_write(struct st *st, uint32_t idx, uint64_t offset, const uint8_t *data,
                        uint64_t len) {
    struct st_node *sn = &st->nodes[idx];
    image_set(&sn->cur, offset, data, len);
    ops_push(sn, false, offset, data, len);
    st->result->records_appended++;
}

static void st_on_truncate(struct st *st, uint32_t idx, uint64_t size) {
    struct st_node *sn = &st->nodes[idx];
    image_truncate(&sn->cur, size);
    ops_push(sn, true, size, NULL, 0);
}

static void st_on_sync(struct st *st, uint32_t idx) {
    struct st_node *sn = &st->nodes[idx];
    /* Replay the pending ops onto the synced image (cheaper than copying the file). */
    for (size_t i = 0; i < sn->op_count; i++) {
        struct st_op *op = &sn->ops[i];
        if (op->is_truncate) {
            image_truncate(&sn->synced, op->offset);
        } else {
            image_set(&sn->synced, op->offset, op->data, op->len);
        }
    }
    ASSERT(sn->synced.size == sn->cur.size);
    ops_clear(sn);
    sn->sync_floor = sn->cur.size;
    st->result->syncs++;
}

static uint64_t st_token_new(struct st *st, uint32_t from) {
    st->tokens = sim_grow(st->tokens, &st->token_cap, st->token_count, sizeof(*st->tokens));
    st->tokens[st->token_count] = (struct st_token){.from = from, .sent = 0, .graceful = false};
    return st->token_count++;
}

/* --- The node program ------------------------------------------------------------------- */

struct st_prog;

struct st_conn {
    struct st_prog *prog;
    struct io_stream *stream;
    int peer; /* outgoing: the node we dialed; incoming: -1 */
    uint64_t token;
    uint64_t next_send_seq;
    bool have_peer_token;
    uint64_t peer_token;
    uint64_t next_recv_seq;
    uint8_t *rbuf;
    size_t rlen;
    size_t rcap;
};

struct st_dial {
    struct st_prog *prog;
    int peer;
};

/* Every timer of the program goes through this, so every firing is checked. */
struct st_timer {
    struct st_prog *prog;
    uint64_t deadline_ns;
    uint64_t serial;
    void (*fn)(struct st_prog *prog);
};

struct st_prog {
    struct io *io;
    struct st *st;
    uint32_t index;
    struct io_listener *listener;
    struct st_conn *conns[ST_CONNS_MAX];
    struct st_conn *out[ST_NODES_MAX];
    bool dialing[ST_NODES_MAX];
    uint64_t redial_at_ns[ST_NODES_MAX];
    struct io_file *log;
    uint64_t log_size;
    uint64_t next_record_seq;
    uint64_t timer_serial;
    uint64_t last_deadline_ns;
    uint64_t last_serial;
    io_timer_id cancellable[ST_TIMERS_MAX];
    bool broken_io;
};

static void st_request_restart(struct st *st, uint32_t idx);

static uint64_t prog_rand(struct st_prog *p, uint64_t bound) {
    return io_random_u64(p->io) % bound;
}

static void conn_free(struct st_prog *p, struct st_conn *c) {
    for (size_t i = 0; i < ST_CONNS_MAX; i++) {
        if (p->conns[i] == c) p->conns[i] = NULL;
    }
    if (c->peer >= 0 && p->out[c->peer] == c) {
        p->out[c->peer] = NULL;
        p->redial_at_ns[c->peer] = io_now_ns(p->io) + (50 + prog_rand(p, 200)) * NS_PER_MS;
    }
    if (c->rbuf != NULL) io_free(p->io, c->rbuf, c->rcap);
    io_free(p->io, c, sizeof(*c));
}

static void conn_close(struct st_prog *p, struct st_conn *c) {
    io_stream_close(p->io, c->stream);
    conn_free(p, c);
}

static bool send_frame(struct st_prog *p, struct st_conn *c, size_t len) {
    ASSERT(len <= ST_PAYLOAD_MAX);
    uint8_t frame[ST_FRAME_HEADER + ST_PAYLOAD_MAX];
    fill_bytes(frame + ST_FRAME_HEADER, len, io_random_u64(p->io));
    put32(frame, ST_FRAME_MAGIC);
    put32(frame + 4, (uint32_t)len);
    put64(frame + 8, c->token);
    put64(frame + 16, c->next_send_seq);
    put32(frame + 24, checksum(c->token, c->next_send_seq, frame + ST_FRAME_HEADER, len));
    int rc = io_stream_write(p->io, c->stream, frame, ST_FRAME_HEADER + len);
    if (rc < 0) return false; /* the stream ended; its read callback will say so */
    c->next_send_seq++;
    p->st->tokens[c->token].sent++;
    p->st->result->messages_sent++;
    return true;
}

static void on_frame(struct st_prog *p, struct st_conn *c, const uint8_t *f, size_t len) {
    struct st *st = p->st;
    uint64_t token = get64(f + 8);
    uint64_t seq = get64(f + 16);
    if (get32(f + 24) != checksum(token, seq, f + ST_FRAME_HEADER, len)) {
        st_fail(st, "stream-exactly-once",
                "node %u: frame checksum mismatch (token %" PRIu64 ", seq %" PRIu64 ")", p->index,
                token, seq);
        return;
    }
    if (!c->have_peer_token) {
        c->have_peer_token = true;
        c->peer_token = token;
    }
    if (token != c->peer_token || seq != c->next_recv_seq || token >= st->token_count ||
        seq >= st->tokens[token].sent) {
        st_fail(st, "stream-exactly-once",
                "node %u: got token %" PRIu64 " seq %" PRIu64 ", expected token %" PRIu64
                " seq %" PRIu64,
                p->index, token, seq, c->peer_token, c->next_recv_seq);
        return;
    }
    c->next_recv_seq++;
    st->result->messages_received++;
    if (st->quiet_phase) st->nodes[p->index].heard_after_heal = true;
    if (seq % 64 == 0) io_tracef(p->io, "recv", IO_TF_I("token", token), IO_TF_I("seq", seq));
}

static void on_read(void *arg, struct io_stream *stream, const uint8_t *data, size_t len,
                    int status) {
    struct st_conn *c = arg;
    struct st_prog *p = c->prog;
    struct st *st = p->st;
    ASSERT(c->stream == stream);
    if (len == 0) {
        if (status == 0) {
            /* EOF: the peer closed gracefully after everything it sent left its queue. */
            st->stats_eof++;
            if (c->rlen != 0 || !c->have_peer_token || !st->tokens[c->peer_token].graceful ||
                c->next_recv_seq != st->tokens[c->peer_token].sent) {
                st_fail(st, "stream-exactly-once",
                        "node %u: EOF after %" PRIu64 " of %" PRIu64 " messages (%zu stray bytes)",
                        p->index, c->next_recv_seq,
                        c->have_peer_token ? st->tokens[c->peer_token].sent : 0, c->rlen);
            }
        } else {
            st->stats_errors++;
            io_tracef(p->io, "stream_end", IO_TF_I("status", status));
        }
        conn_close(p, c);
        return;
    }
    if (c->rlen + len > c->rcap) {
        size_t cap = c->rcap == 0 ? 4096 : c->rcap;
        while (cap < c->rlen + len)
            cap *= 2;
        c->rbuf = io_realloc(p->io, c->rbuf, c->rcap, cap);
        c->rcap = cap;
    }
    memcpy(c->rbuf + c->rlen, data, len);
    c->rlen += len;
    size_t off = 0;
    for (int frames = 0; frames < 100000 && !st->failed; frames++) {
        if (c->rlen - off < ST_FRAME_HEADER) break;
        const uint8_t *f = c->rbuf + off;
        uint32_t flen = get32(f + 4);
        if (get32(f) != ST_FRAME_MAGIC || flen > ST_PAYLOAD_MAX) {
            st_fail(st, "stream-exactly-once", "node %u: garbage in stream at byte %zu", p->index,
                    off);
            break;
        }
        if (c->rlen - off < ST_FRAME_HEADER + flen) break;
        on_frame(p, c, f, flen);
        off += ST_FRAME_HEADER + flen;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
}

static struct st_conn *conn_new(struct st_prog *p, struct io_stream *stream, int peer) {
    size_t slot = ST_CONNS_MAX;
    for (size_t i = 0; i < ST_CONNS_MAX; i++) {
        if (p->conns[i] == NULL) {
            slot = i;
            break;
        }
    }
    if (slot == ST_CONNS_MAX) return NULL;
    struct st_conn *c = io_calloc(p->io, 1, sizeof(*c));
    c->prog = p;
    c->stream = stream;
    c->peer = peer;
    c->token = st_token_new(p->st, p->index);
    p->conns[slot] = c;
    io_stream_start(p->io, stream, on_read, NULL, c);
    send_frame(p, c, 0); /* hello: the peer learns our token first */
    return c;
}

static void on_accept(void *arg, struct io_stream *stream) {
    struct st_prog *p = arg;
    if (conn_new(p, stream, -1) == NULL) io_stream_close(p->io, stream);
}

static void on_connect(void *arg, struct io_stream *stream, int status) {
    struct st_dial *d = arg;
    struct st_prog *p = d->prog;
    int peer = d->peer;
    io_free(p->io, d, sizeof(*d));
    p->dialing[peer] = false;
    if (status < 0) {
        p->redial_at_ns[peer] = io_now_ns(p->io) + (100 + prog_rand(p, 200)) * NS_PER_MS;
        return;
    }
    struct st_conn *c = conn_new(p, stream, peer);
    if (c == NULL) {
        io_stream_close(p->io, stream);
        return;
    }
    p->out[peer] = c;
}

static void dial_missing(struct st_prog *p) {
    uint64_t now = io_now_ns(p->io);
    for (uint32_t j = 0; j < p->st->node_count; j++) {
        if (j == p->index || p->out[j] != NULL || p->dialing[j] || now < p->redial_at_ns[j]) {
            continue;
        }
        struct st_dial *d = io_alloc(p->io, sizeof(*d));
        d->prog = p;
        d->peer = (int)j;
        char host[16];
        snprintf(host, sizeof(host), "n%u", j);
        if (io_connect(p->io, host, ST_PORT, on_connect, d) == 0) {
            p->dialing[j] = true;
        } else {
            io_free(p->io, d, sizeof(*d));
        }
    }
}

static void log_append(struct st_prog *p) {
    if (p->log == NULL) return;
    uint8_t rec[ST_RECORD_HEADER + 600];
    size_t len = (size_t)prog_rand(p, 600);
    fill_bytes(rec + ST_RECORD_HEADER, len, io_random_u64(p->io));
    put32(rec, ST_RECORD_MAGIC);
    put32(rec + 4, (uint32_t)len);
    put64(rec + 8, p->next_record_seq);
    put32(rec + 16, checksum(p->next_record_seq, len, rec + ST_RECORD_HEADER, len));
    int64_t rc = io_file_pwrite(p->io, p->log, rec, ST_RECORD_HEADER + len, p->log_size);
    if (rc < 0) return; /* ENOSPC/EIO: nothing was written; try again later */
    st_on_write(p->st, p->index, p->log_size, rec, ST_RECORD_HEADER + len);
    p->log_size += ST_RECORD_HEADER + len;
    p->next_record_seq++;
    if (prog_rand(p, 3) == 0) {
        if (io_file_sync(p->io, p->log) == 0) {
            st_on_sync(p->st, p->index);
            io_tracef(p->io, "sync", IO_TF_I("size", p->log_size));
        }
        /* A failed fsync leaves the writes pending: the harness keeps them pending too. */
    }
}

static void timer_fired(void *arg) {
    struct st_timer *t = arg;
    struct st_prog *p = t->prog;
    uint64_t now = io_now_ns(p->io);
    if (now < t->deadline_ns) {
        st_fail(p->st, "timer-order", "node %u: timer fired %" PRIu64 " ns early", p->index,
                t->deadline_ns - now);
    }
    if (t->deadline_ns < p->last_deadline_ns ||
        (t->deadline_ns == p->last_deadline_ns && t->serial < p->last_serial)) {
        st_fail(p->st, "timer-order",
                "node %u: timer (deadline %" PRIu64 ") fired after one "
                "with deadline %" PRIu64,
                p->index, t->deadline_ns, p->last_deadline_ns);
    }
    p->last_deadline_ns = t->deadline_ns;
    p->last_serial = t->serial;
    void (*fn)(struct st_prog *) = t->fn;
    io_free(p->io, t, sizeof(*t));
    if (fn != NULL) fn(p);
}

static io_timer_id checked_timer(struct st_prog *p, uint64_t delay_ns,
                                 void (*fn)(struct st_prog *prog)) {
    struct st_timer *t = io_alloc(p->io, sizeof(*t));
    t->prog = p;
    t->deadline_ns = io_now_ns(p->io) + delay_ns;
    t->serial = ++p->timer_serial;
    t->fn = fn;
    return io_timer_start(p->io, t->deadline_ns, timer_fired, t);
}

static io_timer_id probe_timer(struct st_prog *p, uint64_t delay_ns) {
    return checked_timer(p, delay_ns, NULL);
}

static void tick(struct st_prog *p);

static void schedule_tick(struct st_prog *p) {
    checked_timer(p, (1 + prog_rand(p, 10)) * NS_PER_MS, tick);
}

static void tick(struct st_prog *p) {
    if (p->st->failed) return;
    dial_missing(p);
    uint64_t choice = prog_rand(p, 100);
    if (choice < 60) {
        size_t pick = (size_t)prog_rand(p, ST_CONNS_MAX);
        for (size_t i = 0; i < ST_CONNS_MAX; i++) {
            struct st_conn *c = p->conns[(pick + i) % ST_CONNS_MAX];
            if (c == NULL) continue;
            size_t len = (size_t)prog_rand(p, ST_PAYLOAD_MAX + 1);
            send_frame(p, c, len);
            break;
        }
    } else if (choice < 88) {
        log_append(p);
    } else if (choice < 90) {
        /* Close a stream gracefully, only with nothing queued, so that EOF means "all". */
        struct st_conn *c = p->conns[prog_rand(p, ST_CONNS_MAX)];
        if (c != NULL && io_stream_queued(p->io, c->stream) == 0) {
            p->st->tokens[c->token].graceful = true;
            io_tracef(p->io, "close", IO_TF_I("token", c->token));
            conn_close(p, c);
        }
    } else if (choice < 97) {
        /* Timer probes: some at equal deadlines, some cancelled. */
        uint64_t delay_ns = prog_rand(p, 4) * 250 * NS_PER_US;
        probe_timer(p, delay_ns);
        probe_timer(p, delay_ns);
        size_t slot = (size_t)prog_rand(p, ST_TIMERS_MAX);
        if (p->cancellable[slot] != 0) {
            /* The probe's memory stays allocated (freed by the next crash), so a cancelled
             * timer that fired anyway would be seen as a late, out-of-order firing or an
             * ASan report, never a use after free. */
            io_timer_cancel(p->io, p->cancellable[slot]);
        }
        p->cancellable[slot] = probe_timer(p, prog_rand(p, 50) * NS_PER_MS);
    } else if (p->log_size > ST_LOG_BYTES_MAX && p->log != NULL) {
        /* Rotate: start the log over, durably. */
        if (io_file_truncate(p->io, p->log, 0) == 0) {
            st_on_truncate(p->st, p->index, 0);
            p->log_size = 0;
            if (io_file_sync(p->io, p->log) == 0) st_on_sync(p->st, p->index);
        }
    }
    schedule_tick(p);
}

/* Reads the log, keeps the longest valid prefix, truncates the rest and syncs. */
static int recover(struct st_prog *p) {
    struct io *io = p->io;
    int rc = io_mkdir(io, "data");
    if (rc < 0 && rc != -EEXIST) return rc;
    rc = io_file_open(io, ST_LOG_PATH, IO_OPEN_CREATE, &p->log);
    if (rc < 0) {
        p->log = NULL;
        return rc;
    }
    int64_t size = io_file_size(io, p->log);
    ASSERT(size >= 0 && (uint64_t)size <= 4 * ST_LOG_BYTES_MAX);
    uint8_t *buf = io_alloc(io, (size_t)size + 1);
    int64_t n = size == 0 ? 0 : io_file_pread(io, p->log, buf, (size_t)size, 0);
    if (n < 0) {
        io_free(io, buf, (size_t)size + 1);
        return (int)n;
    }
    uint64_t off = 0;
    uint64_t first_seq = 0;
    uint64_t expect_seq = 0;
    while (off + ST_RECORD_HEADER <= (uint64_t)n) {
        const uint8_t *r = buf + off;
        uint32_t len = get32(r + 4);
        if (get32(r) != ST_RECORD_MAGIC || len > 600 ||
            off + ST_RECORD_HEADER + len > (uint64_t)n) {
            break;
        }
        uint64_t seq = get64(r + 8);
        if (get32(r + 16) != checksum(seq, len, r + ST_RECORD_HEADER, len)) break;
        if (off == 0) first_seq = expect_seq = seq;
        if (seq != expect_seq) break;
        expect_seq++;
        off += ST_RECORD_HEADER + len;
    }
    io_free(io, buf, (size_t)size + 1);
    (void)first_seq;
    /* Every synced record must have survived: the valid prefix covers the synced image. */
    struct st_node *sn = &p->st->nodes[p->index];
    if (off < sn->sync_floor) {
        st_fail(p->st, "fsync-durable",
                "node %u: recovered %" PRIu64 " valid log bytes, %" PRIu64 " were synced", p->index,
                off, sn->sync_floor);
    }
    if (off < (uint64_t)n) {
        rc = io_file_truncate(io, p->log, off);
        if (rc < 0) return rc;
        st_on_truncate(p->st, p->index, off);
    }
    rc = io_file_sync(io, p->log);
    if (rc < 0) return rc;
    st_on_sync(p->st, p->index);
    p->log_size = off;
    p->next_record_seq = expect_seq;
    io_tracef(io, "recovered", IO_TF_I("bytes", off), IO_TF_I("next_seq", expect_seq));
    io_log(io, IO_LOG_INFO,
           "recovered %" PRIu64 " log bytes (of %" PRId64 "), next record %" PRIu64, off, n,
           expect_seq);
    return 0;
}

static void st_prog_start(struct st *st, uint32_t idx, struct io *io) {
    struct st_prog *p = io_calloc(io, 1, sizeof(*p));
    p->io = io;
    p->st = st;
    p->index = idx;
    io_log(io, IO_LOG_INFO, "starting node %u", idx);
    int rc = recover(p);
    if (rc < 0) {
        io_log(io, IO_LOG_WARN, "recovery failed (%d): asking for a restart", rc);
        p->broken_io = true;
        st_request_restart(st, idx);
        return;
    }
    rc = io_listen(io, NULL, ST_PORT, on_accept, p, &p->listener);
    ASSERT(rc == 0);
    schedule_tick(p);
}

/* --- Harness: starting nodes, crashes, faults ------------------------------------------- */

static void st_node_start(struct io *io, void *arg) {
    struct st_node *sn = arg;
    st_prog_start(sn->st, sim_node_index(sn->node), io);
}

static void st_observe(void *arg, struct sim_node *node, const char *path, bool is_truncate,
                       uint64_t offset, uint64_t len, bool kept) {
    struct st *st = arg;
    (void)node;
    if (strcmp(path, ST_LOG_PATH) != 0) return;
    if (st->decision_count >= ST_DECISIONS_MAX) {
        st_fail(st, "crash-model", "too many crash decisions");
        return;
    }
    st->decisions[st->decision_count++] = (struct st_decision){
        .is_truncate = is_truncate, .offset = offset, .len = len, .kept = kept};
}

/* With bit flips on, a kept piece may differ from the written bytes in one bit, and nothing
 * else may differ. A byte belongs to the last kept piece that covers it. */
static void bitflips_check(struct st *st, uint32_t idx, const uint8_t *actual,
                           const uint8_t *expect, uint64_t size) {
    uint32_t *bits = calloc(st->kept_count + 1, sizeof(*bits));
    if (bits == NULL) abort();
    for (uint64_t at = 0; at < size && !st->failed; at++) {
        uint8_t diff = actual[at] ^ expect[at];
        if (diff == 0) continue;
        size_t owner = st->kept_count;
        for (size_t k = st->kept_count; k-- > 0;) {
            if (at >= st->kept[k].offset && at < st->kept[k].offset + st->kept[k].len) {
                owner = k;
                break;
            }
        }
        bits[owner] += (uint32_t)__builtin_popcount(diff);
        if (owner == st->kept_count || bits[owner] > 1) {
            st_fail(st, "crash-model",
                    "node %u: byte %" PRIu64 " differs by more than the one bit flip a kept "
                    "sector may suffer",
                    idx, at);
        } else {
            st->result->bits_flipped++;
        }
    }
    free(bits);
}

/* Crashes node idx and checks its disk against the model's decisions. */
static void st_crash(struct st *st, uint32_t idx) {
    struct st_node *sn = &st->nodes[idx];
    struct sim_node *node = sn->node;
    st->decision_count = 0;
    sim_node_crash(node);
    st->result->crashes++;
    st_note(st, "crash n%u", idx);
    if (sim_node_live_allocs(node) != 0) {
        st_fail(st, "crash-frees-memory", "node %u holds %zu allocations after a crash", idx,
                sim_node_live_allocs(node));
    }
    /* Predict: the synced image, then each pending op with the model's decisions. */
    struct st_image expect = {0};
    image_copy(&expect, &sn->synced);
    st->kept_count = 0;
    size_t d = 0;
    bool truncated = false;
    bool consistent = true;
    for (size_t i = 0; i < sn->op_count && consistent; i++) {
        struct st_op *op = &sn->ops[i];
        if (op->is_truncate) {
            if (d >= st->decision_count || !st->decisions[d].is_truncate ||
                st->decisions[d].offset != op->offset) {
                consistent = false;
                break;
            }
            if (st->decisions[d].kept) {
                image_truncate(&expect, op->offset);
                truncated = true;
                sn->sync_floor = MIN(sn->sync_floor, op->offset);
            }
            d++;
            continue;
        }
        uint64_t off = op->offset;
        uint64_t end = op->offset + op->len;
        while (off < end) {
            uint64_t piece_end =
                MIN(end, (off / SIM_DISK_SECTOR_BYTES + 1) * SIM_DISK_SECTOR_BYTES);
            struct st_decision *dec = d < st->decision_count ? &st->decisions[d] : NULL;
            if (dec == NULL || dec->is_truncate || dec->offset != off ||
                dec->len != piece_end - off) {
                consistent = false;
                break;
            }
            if (dec->kept) {
                image_set(&expect, off, op->data + (off - op->offset), piece_end - off);
                st->result->pieces_kept++;
                if (st->kept_count < ST_DECISIONS_MAX) st->kept[st->kept_count++] = *dec;
            } else {
                st->result->pieces_dropped++;
            }
            d++;
            off = piece_end;
        }
    }
    if (!consistent || d != st->decision_count) {
        st_fail(st, "crash-model",
                "node %u: the crash decisions do not match the %zu pending "
                "writes (%zu decisions)",
                idx, sn->op_count, st->decision_count);
    }
    int64_t size = sim_disk_file_size(node, ST_LOG_PATH);
    uint64_t actual_size = size < 0 ? 0 : (uint64_t)size;
    uint8_t *actual = sim_xmalloc((size_t)actual_size + 1);
    if (actual_size > 0) sim_disk_read_file(node, ST_LOG_PATH, actual, (size_t)actual_size, 0);
    /* Synced bytes first: they must all be there (unless a truncate was kept). */
    if (!truncated && sn->synced.size > 0 &&
        (actual_size < sn->synced.size ||
         memcmp(actual, sn->synced.data, (size_t)sn->synced.size) != 0)) {
        st_fail(st, "fsync-durable",
                "node %u: %" PRIu64 " synced bytes, disk has %" PRIu64 " and they differ", idx,
                sn->synced.size, actual_size);
    }
    if (st->options->bitflips && actual_size == expect.size) {
        bitflips_check(st, idx, actual, expect.data, actual_size);
    } else if (actual_size != expect.size ||
               (actual_size > 0 && memcmp(actual, expect.data, (size_t)actual_size) != 0)) {
        uint64_t at = 0;
        while (at < actual_size && at < expect.size && actual[at] == expect.data[at])
            at++;
        st_fail(st, "crash-model",
                "node %u: after the crash the log differs from what the crash model decided "
                "(first difference at byte %" PRIu64 ", sector %" PRIu64 "; size %" PRIu64
                ", expected %" PRIu64 ")",
                idx, at, at / SIM_DISK_SECTOR_BYTES, actual_size, expect.size);
    }
    /* The disk is now the truth for the next incarnation (with any bit flips). */
    sn->cur.size = 0;
    image_set(&sn->cur, 0, actual, actual_size);
    free(actual);
    image_copy(&sn->synced, &sn->cur);
    ops_clear(sn);
    free(expect.data);
}

static void st_restart_event(struct sim_world *world, void *arg) {
    struct st_node *sn = arg;
    (void)world;
    sn->restart_pending = false;
    if (!sim_node_is_up(sn->node)) {
        st_note(sn->st, "restart n%u", sim_node_index(sn->node));
        sim_node_restart(sn->node);
    }
}

static void st_crash_and_restart(struct st *st, uint32_t idx, uint64_t down_ns) {
    struct st_node *sn = &st->nodes[idx];
    if (!sim_node_is_up(sn->node) || sn->restart_pending) return;
    if (sim_node_is_paused(sn->node)) sim_node_resume(sn->node);
    st_crash(st, idx);
    sn->restart_pending = true;
    sim_world_schedule(st->world, sim_world_now_ns(st->world) + down_ns, st_restart_event, sn);
}

static void st_restart_request_event(struct sim_world *world, void *arg) {
    struct st_node *sn = arg;
    (void)world;
    sn->restart_pending = false;
    st_crash_and_restart(sn->st, sim_node_index(sn->node), 100 * NS_PER_MS);
}

static void st_request_restart(struct st *st, uint32_t idx) {
    struct st_node *sn = &st->nodes[idx];
    if (sn->restart_pending) return;
    sn->restart_pending = true;
    sim_world_schedule(st->world, sim_world_now_ns(st->world) + NS_PER_MS, st_restart_request_event,
                       sn);
}

static void st_resume_event(struct sim_world *world, void *arg) {
    struct sim_node *node = arg;
    (void)world;
    if (sim_node_is_up(node)) sim_node_resume(node);
}

static void st_heal_event(struct sim_world *world, void *arg) {
    struct st *st = arg;
    (void)world;
    sim_net_heal_all(st->world);
    st_note(st, "heal all links");
}

static void st_fault_event(struct sim_world *world, void *arg) {
    struct st *st = arg;
    struct sim_rng *rng = sim_world_rng(world, SIM_STREAM_FAULTS);
    uint64_t now = sim_world_now_ns(world);
    if (st->failed || now >= st->faulty_until_ns) return;
    uint32_t a = (uint32_t)sim_rng_below(rng, st->node_count);
    uint32_t b = (uint32_t)sim_rng_below(rng, st->node_count - 1);
    if (b >= a) b++;
    struct sim_node *na = st->nodes[a].node;
    struct sim_node *nb = st->nodes[b].node;
    switch (sim_rng_below(rng, 9)) {
    case 0:
    case 1:
        st_crash_and_restart(st, a, (20 + sim_rng_below(rng, 500)) * NS_PER_MS);
        break;
    case 2:
        sim_net_partition(world, na, nb, sim_rng_chance(rng, 300));
        st->stats_partitions++;
        st_note(st, "partition n%u %s n%u", a, sim_net_is_blocked(world, nb, na) ? "<->" : "->", b);
        sim_world_schedule(world, now + (50 + sim_rng_below(rng, 2500)) * NS_PER_MS, st_heal_event,
                           st);
        break;
    case 3:
        if (sim_node_is_up(na) && !sim_node_is_paused(na)) {
            sim_node_pause(na);
            st->stats_pauses++;
            st_note(st, "pause n%u", a);
            sim_world_schedule(world, now + (5 + sim_rng_below(rng, 800)) * NS_PER_MS,
                               st_resume_event, na);
        }
        break;
    case 4: {
        /* One draw per statement: the order of evaluation of arguments is unspecified in
         * C, and gcc and clang differ — two draws in one call would split the hash. */
        int64_t skew_ms = (int64_t)sim_rng_below(rng, 20001) - 10000;
        int32_t drift_ppm = (int32_t)sim_rng_below(rng, 401) - 200;
        sim_node_set_clock(na, skew_ms, drift_ppm);
        if (sim_rng_chance(rng, 500)) {
            int64_t jump_ms = (int64_t)sim_rng_below(rng, 60001) - 30000;
            sim_node_jump_wall(na, jump_ms);
        }
        st->stats_clock++;
        st_note(st, "clock n%u skew %" PRId64 " ms drift %d ppm", a, skew_ms, (int)drift_ppm);
        break;
    }
    case 5: {
        uint64_t extra_ns = sim_rng_below(rng, 300) * NS_PER_MS;
        uint64_t duration_ns = sim_rng_below(rng, 2000) * NS_PER_MS;
        sim_net_spike(world, na, nb, extra_ns, duration_ns);
        st->stats_spikes++;
        st_note(st, "latency spike n%u n%u +%" PRIu64 " ms", a, b,
                (uint64_t)(extra_ns / NS_PER_MS));
        break;
    }
    case 6:
        st->stats_resets += sim_net_reset(world, na, nb);
        st_note(st, "reset streams n%u n%u", a, b);
        break;
    case 7: {
        enum sim_disk_op op = sim_rng_chance(rng, 500) ? SIM_DISK_WRITE : SIM_DISK_SYNC;
        int err = sim_rng_chance(rng, 500) ? EIO : ENOSPC;
        sim_disk_fail(na, op, err, 1 + (uint32_t)sim_rng_below(rng, 3));
        st->stats_disk_faults++;
        st_note(st, "disk n%u: next %s fails with %s", a, op == SIM_DISK_WRITE ? "write" : "sync",
                err == EIO ? "EIO" : "ENOSPC");
        break;
    }
    default:
        break; /* a quiet moment */
    }
    uint64_t next_ns = now + (20 + sim_rng_below(rng, 200)) * NS_PER_MS;
    sim_world_schedule(world, next_ns, st_fault_event, st);
}

/* --- Running ---------------------------------------------------------------------------- */

static void run_until(struct st *st, uint64_t until_ns) {
    struct sim_world *world = st->world;
    while (!st->failed && sim_world_now_ns(world) < until_ns) {
        if (!sim_world_step(world)) break;
    }
}

int sim_selftest_run(const struct sim_selftest_options *options,
                     struct sim_selftest_result *result) {
    memset(result, 0, sizeof(*result));
    result->passed = true;
    struct st *st = sim_xmalloc(sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->options = options;
    st->result = result;
    st->decisions = sim_xmalloc(ST_DECISIONS_MAX * sizeof(*st->decisions));
    st->kept = sim_xmalloc(ST_DECISIONS_MAX * sizeof(*st->kept));
    struct sim_world *world = sim_world_create(options->seed);
    st->world = world;
    sim_world_set_verbose(world, options->verbose);
    sim_world_set_break(world, options->broken);
    sim_net_set_timeout(world, NS_PER_S);
    struct sim_rng *wl = sim_world_rng(world, SIM_STREAM_WORKLOAD);
    st->node_count = options->nodes != 0 ? options->nodes : 3 + (uint32_t)sim_rng_below(wl, 3);
    ASSERT(st->node_count >= 2 && st->node_count <= ST_NODES_MAX);
    uint64_t duration_ns = options->duration_ns != 0 ? options->duration_ns : 20 * NS_PER_S;
    struct sim_crash_model model = {.keep_permille = 300,
                                    .drop_permille = 300,
                                    .tear_keep_permille = 500,
                                    .bitflip_per_million = options->bitflips ? 100000 : 0};
    for (uint32_t i = 0; i < st->node_count; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%u", i);
        st->nodes[i].st = st;
        st->nodes[i].node = sim_node_add(world, name, st_node_start, &st->nodes[i]);
        sim_disk_set_crash_model(st->nodes[i].node, &model);
        sim_disk_set_crash_observer(st->nodes[i].node, st_observe, st);
        /* Separate statements: initializers are indeterminately sequenced. */
        struct sim_link_config link;
        link.latency_min_ns = (50 + sim_rng_below(wl, 200)) * NS_PER_US;
        link.latency_max_ns = (300 + sim_rng_below(wl, 3000)) * NS_PER_US;
        link.bandwidth_bytes_per_s = (10 + sim_rng_below(wl, 990)) * 1000 * 1000;
        link.tail_permille = (uint32_t)sim_rng_below(wl, 30);
        link.tail_extra_ns = sim_rng_below(wl, 50) * NS_PER_MS;
        sim_net_set_link(world, st->nodes[i].node, NULL, &link);
    }
    st->faulty_until_ns = duration_ns;
    sim_world_schedule(world, 100 * NS_PER_MS, st_fault_event, st);
    run_until(st, duration_ns);

    /* Quiet phase: heal everything, bring everyone back, and demand progress. */
    if (!st->failed) {
        sim_net_heal_all(world);
        for (uint32_t i = 0; i < st->node_count; i++) {
            struct sim_node *node = st->nodes[i].node;
            if (sim_node_is_up(node) && sim_node_is_paused(node)) sim_node_resume(node);
        }
        run_until(st, sim_world_now_ns(world) + 2 * NS_PER_S); /* pending restarts land */
        for (uint32_t i = 0; i < st->node_count; i++) {
            struct sim_node *node = st->nodes[i].node;
            if (!sim_node_is_up(node)) sim_node_restart(node);
            st->nodes[i].heard_after_heal = false;
        }
        sim_net_heal_all(world);
        st->quiet_phase = true;
        run_until(st, sim_world_now_ns(world) + 5 * NS_PER_S);
        for (uint32_t i = 0; i < st->node_count && !st->failed; i++) {
            if (!st->nodes[i].heard_after_heal) {
                st_fail(st, "liveness-after-heal",
                        "node %u received no message in 5 s after every fault healed", i);
            }
        }
    }
    /* A last crash of every node checks the disks once more. */
    for (uint32_t i = 0; i < st->node_count && !st->failed; i++) {
        if (sim_node_is_up(st->nodes[i].node)) st_crash(st, i);
    }

    result->trace_hash = sim_world_trace_hash(world);
    result->events = sim_world_events_run(world);
    result->virtual_ns = sim_world_now_ns(world);
    if (!options->quiet) {
        printf("selftest seed %" PRIu64 ": %u nodes, %.3f s simulated, %" PRIu64 " events\n",
               options->seed, st->node_count, (double)result->virtual_ns / 1e9, result->events);
        printf("  streams: %" PRIu64 " messages sent, %" PRIu64 " received; %" PRIu64
               " ended by EOF, %" PRIu64 " by error\n",
               result->messages_sent, result->messages_received, st->stats_eof, st->stats_errors);
        printf("  disk: %" PRIu64 " records appended, %" PRIu64 " syncs; %" PRIu64
               " crashes checked (%" PRIu64 " unsynced pieces kept, %" PRIu64 " dropped, %" PRIu64
               " bits flipped)\n",
               result->records_appended, result->syncs, result->crashes, result->pieces_kept,
               result->pieces_dropped, result->bits_flipped);
        printf("  faults: %" PRIu64 " partitions, %" PRIu64 " pauses, %" PRIu64
               " clock changes, %" PRIu64 " latency spikes, %" PRIu64 " resets, %" PRIu64
               " disk faults\n",
               st->stats_partitions, st->stats_pauses, st->stats_clock, st->stats_spikes,
               st->stats_resets, st->stats_disk_faults);
    }
    if (st->failed) {
        fflush(stdout);
        fprintf(stderr,
                "trial selftest: CONTRACT BROKEN: %s: %s\n"
                "trial selftest: seed %" PRIu64 "; reproduce with: trial selftest --seed %" PRIu64
                "%s%s\n",
                result->contract, result->detail, options->seed, options->seed,
                options->broken != SIM_BREAK_NONE ? " --break " : "",
                options->broken == SIM_BREAK_KEEP_UNSYNCED ? "keep-unsynced"
                : options->broken == SIM_BREAK_ASSERT      ? "assert"
                : options->broken == SIM_BREAK_DUP_BYTES   ? "dup-bytes"
                : options->broken == SIM_BREAK_EARLY_TIMER ? "early-timer"
                                                           : "");
    }

    sim_world_destroy(world);
    for (uint32_t i = 0; i < st->node_count; i++) {
        struct st_node *sn = &st->nodes[i];
        ops_clear(sn);
        free(sn->ops);
        free(sn->cur.data);
        free(sn->synced.data);
    }
    free(st->tokens);
    free(st->decisions);
    free(st->kept);
    free(st);
    return result->passed ? 0 : 1;
}
