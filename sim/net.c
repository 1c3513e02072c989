/*
 * net.c — the simulated network: TCP-like ordered byte streams between named nodes.
 *
 * A connection has two ends (client side 0, server side 1) and two pipes, one per
 * direction. A write appends to the sender's send queue; the pump cuts the queue into
 * segments while the window (bytes in flight plus bytes unread at the receiver) has room,
 * stamps each with an arrival time (link serialization at the link's bandwidth, then a
 * latency drawn from the link's range plus any spike, never earlier than the segment before
 * it) and queues it on the pipe. One world event per pipe delivers the head segment when it
 * is due. If the link is blocked (a partition) the head stalls; a pipe stalled longer than
 * the stall timeout resets the connection with -ETIMEDOUT at both ends; healing lets it
 * move again. Deliveries are "kernel" work (world events, not delayed by a node pause);
 * read, drain, accept and connect callbacks are node events (delayed by a pause).
 *
 * A node's close sends FIN behind its in-flight bytes (the peer reads EOF); data that
 * reaches a closed end resets the sender (-ECONNRESET), as a real RST would. A crash sends
 * RST behind the crashed node's in-flight bytes and discards everything headed to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"

#define SIM_NET_SEGMENT_BYTES_MAX    65536
#define SIM_NET_WINDOW_BYTES         1048576
#define SIM_NET_SEND_QUEUE_BYTES_MAX (256u << 20)
#define SIM_NET_SYN_RETRY_NS         (200 * NS_PER_MS)
#define SIM_NET_READ_SPLIT_PERMILLE  250

static void pipe_schedule(struct sim_world *world, struct sim_pipe *pipe);
static void stream_schedule_read(struct io_stream *stream);
static void pump(struct sim_world *world, struct sim_conn *conn, int from);

/* --- Links ------------------------------------------------------------------------------ */

static struct sim_link *link_of(struct sim_world *world, struct sim_node *from,
                                struct sim_node *to) {
    return &world->links[from->index][to->index];
}

void sim_net_set_link(struct sim_world *world, struct sim_node *from, struct sim_node *to,
                      const struct sim_link_config *config) {
    ASSERT(config->latency_min_ns <= config->latency_max_ns);
    for (size_t a = 0; a < SIM_NODES_MAX; a++) {
        if (from != NULL && a != from->index) continue;
        for (size_t b = 0; b < SIM_NODES_MAX; b++) {
            if (to != NULL && b != to->index) continue;
            world->links[a][b].config = *config;
        }
    }
}

bool sim_net_is_blocked(struct sim_world *world, struct sim_node *from, struct sim_node *to) {
    return link_of(world, from, to)->blocked;
}

void sim_net_partition(struct sim_world *world, struct sim_node *a, struct sim_node *b,
                       bool one_way) {
    ASSERT(a != b);
    link_of(world, a, b)->blocked = true;
    if (!one_way) link_of(world, b, a)->blocked = true;
    sim_hash_u64(world, 0x9A27000000000000ULL | ((uint64_t)a->index << 16) | b->index |
                            (one_way ? 0x100000000ULL : 0));
}

static void kick_stalled(struct sim_world *world) {
    /* Connection order is creation order: deterministic. */
    for (struct sim_conn *c = world->conns_head; c != NULL; c = c->next) {
        for (int d = 0; d < 2; d++) {
            struct sim_pipe *pipe = &c->pipes[d];
            if (pipe->stalled && pipe->deliver_event == NULL) {
                /* A fresh attempt: a later stall starts a fresh timeout. */
                pipe->stalled = false;
                pipe_schedule(world, pipe);
            }
        }
    }
}

void sim_net_heal(struct sim_world *world, struct sim_node *a, struct sim_node *b) {
    link_of(world, a, b)->blocked = false;
    link_of(world, b, a)->blocked = false;
    sim_hash_u64(world, 0x4EA1000000000000ULL | ((uint64_t)a->index << 16) | b->index);
    kick_stalled(world);
}

void sim_net_heal_all(struct sim_world *world) {
    for (size_t a = 0; a < SIM_NODES_MAX; a++) {
        for (size_t b = 0; b < SIM_NODES_MAX; b++)
            world->links[a][b].blocked = false;
    }
    sim_hash_u64(world, 0x4EA1FFFFFFFFFFFFULL);
    kick_stalled(world);
}

void sim_net_spike(struct sim_world *world, struct sim_node *a, struct sim_node *b,
                   uint64_t extra_ns, uint64_t duration_ns) {
    struct sim_link *links[2] = {link_of(world, a, b), link_of(world, b, a)};
    for (int i = 0; i < 2; i++) {
        links[i]->spike_extra_ns = extra_ns;
        links[i]->spike_until_ns = world->now_ns + duration_ns;
    }
    sim_hash_u64(world, extra_ns ^ duration_ns);
}

void sim_net_set_timeout(struct sim_world *world, uint64_t timeout_ns) {
    ASSERT(timeout_ns > 0);
    world->net_timeout_ns = timeout_ns;
}

static uint64_t link_latency(struct sim_world *world, struct sim_node *from, struct sim_node *to) {
    struct sim_link *link = link_of(world, from, to);
    uint64_t span = link->config.latency_max_ns - link->config.latency_min_ns;
    uint64_t latency = link->config.latency_min_ns;
    struct sim_rng *rng = &world->rngs[SIM_STREAM_NETWORK];
    if (span > 0) latency += sim_rng_below(rng, span + 1);
    if (link->config.tail_permille > 0 && sim_rng_chance(rng, link->config.tail_permille)) {
        latency += sim_rng_below(rng, link->config.tail_extra_ns + 1);
    }
    if (world->now_ns < link->spike_until_ns) latency += link->spike_extra_ns;
    return latency;
}

/* --- Connections ------------------------------------------------------------------------ */

static void node_stream_link(struct sim_node *node, struct io_stream *s) {
    s->prev = NULL;
    s->next = node->streams;
    if (node->streams != NULL) node->streams->prev = s;
    node->streams = s;
}

static void node_stream_unlink(struct sim_node *node, struct io_stream *s) {
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        ASSERT(node->streams == s);
        node->streams = s->next;
    }
    if (s->next != NULL) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static struct io_stream *stream_new(struct sim_conn *conn, int side) {
    struct io_stream *s = sim_xmalloc(sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->conn = conn;
    s->side = side;
    s->node = conn->nodes[side];
    struct sim_node *peer = conn->nodes[1 - side];
    snprintf(s->peer, sizeof(s->peer), "%s:%u", peer->name, (unsigned)conn->ports[1 - side]);
    node_stream_link(s->node, s);
    return s;
}

static void segments_free(struct sim_pipe *pipe) {
    struct sim_segment *seg = pipe->head;
    while (seg != NULL) {
        struct sim_segment *next = seg->next;
        free(seg);
        seg = next;
    }
    pipe->head = pipe->tail = NULL;
    pipe->inflight_bytes = 0;
}

static void pipe_clear(struct sim_world *world, struct sim_pipe *pipe) {
    segments_free(pipe);
    sim_event_cancel(world, pipe->deliver_event);
    pipe->deliver_event = NULL;
    sim_event_cancel(world, pipe->timeout_event);
    pipe->timeout_event = NULL;
    pipe->stalled = false;
}

static void conn_maybe_free(struct sim_world *world, struct sim_conn *conn) {
    if (conn->ends[0] != NULL || conn->ends[1] != NULL) return;
    /* No end left to tell: whatever is in flight has nowhere to go. */
    pipe_clear(world, &conn->pipes[0]);
    pipe_clear(world, &conn->pipes[1]);
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        world->conns_head = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    } else {
        world->conns_tail = conn->prev;
    }
    free(conn);
}

static void stream_free(struct io_stream *s) {
    struct sim_world *world = s->node->world;
    sim_event_cancel(world, s->read_event);
    sim_event_cancel(world, s->drain_event);
    sim_event_cancel(world, s->connected_event);
    node_stream_unlink(s->node, s);
    free(s->rbuf);
    free(s->sbuf);
    free(s);
}

/* Marks the end of a stream: the status waits behind unread bytes (RST discards them). */
static void stream_end(struct io_stream *s, int status) {
    if (s->end_pending || s->end_delivered) return;
    if (status != 0) s->rlen = 0;
    s->end_pending = true;
    s->end_status = status;
    s->slen = 0; /* nothing more will be sent */
    stream_schedule_read(s);
}

static void pipe_append(struct sim_world *world, struct sim_pipe *pipe, enum sim_segment_kind kind,
                        const uint8_t *data, size_t len) {
    struct sim_conn *conn = pipe->conn;
    struct sim_node *from = conn->nodes[pipe->from];
    struct sim_node *to = conn->nodes[1 - pipe->from];
    struct sim_link *link = link_of(world, from, to);
    struct sim_segment *seg = sim_xmalloc(sizeof(*seg) + len);
    seg->next = NULL;
    seg->kind = kind;
    seg->len = len;
    seg->msg = 0;
    if (len > 0) memcpy(seg->data, data, len);
    if (world->net_trace && kind == SIM_SEG_DATA) {
        seg->msg = ++world->next_msg_id;
        const struct io_trace_field f[] = {IO_TF_I("msg", seg->msg), IO_TF_S("to", to->name),
                                           IO_TF_I("bytes", len)};
        sim_node_trace(from, "net_send", f, 3);
    }
    uint64_t depart = MAX(world->now_ns, pipe->link_free_ns);
    uint64_t serialize_ns = 0;
    if (link->config.bandwidth_bytes_per_s > 0) {
        serialize_ns = (uint64_t)len * NS_PER_S / link->config.bandwidth_bytes_per_s;
    }
    pipe->link_free_ns = depart + serialize_ns;
    uint64_t arrive = pipe->link_free_ns + link_latency(world, from, to);
    arrive = MAX(arrive, pipe->last_arrive_ns); /* a stream never reorders */
    pipe->last_arrive_ns = arrive;
    seg->arrive_ns = arrive;
    if (pipe->tail == NULL) {
        pipe->head = seg;
    } else {
        pipe->tail->next = seg;
    }
    pipe->tail = seg;
    pipe->inflight_bytes += len;
    if (pipe->deliver_event == NULL && !pipe->stalled) pipe_schedule(world, pipe);
}

static void stream_drain_event(struct sim_world *world, struct sim_event *ev) {
    struct io_stream *s = ev->p;
    (void)world;
    s->drain_event = NULL;
    if (s->drain_cb == NULL || s->closed || s->slen > 0) return;
    s->in_callback++;
    s->drain_cb(s->arg, s);
    s->in_callback--;
    if (s->closed && s->in_callback == 0) stream_free(s);
}

/* Moves bytes from side `from`'s send queue into its pipe while the window has room. */
static void pump(struct sim_world *world, struct sim_conn *conn, int from) {
    struct io_stream *s = conn->ends[from];
    if (s == NULL || s->slen == 0 || s->end_pending || s->end_delivered) return;
    struct sim_pipe *pipe = &conn->pipes[from];
    struct io_stream *peer = conn->ends[1 - from];
    size_t unread = peer == NULL ? 0 : peer->rlen;
    size_t sent = 0;
    for (int i = 0; i < 1024 && s->slen > sent; i++) {
        size_t used = pipe->inflight_bytes + unread;
        if (used >= SIM_NET_WINDOW_BYTES) break;
        size_t n = MIN(s->slen - sent, SIM_NET_WINDOW_BYTES - used);
        n = MIN(n, (size_t)SIM_NET_SEGMENT_BYTES_MAX);
        pipe_append(world, pipe, SIM_SEG_DATA, s->sbuf + sent, n);
        sent += n;
    }
    if (sent == 0) return;
    memmove(s->sbuf, s->sbuf + sent, s->slen - sent);
    s->slen -= sent;
    if (s->slen == 0 && s->drain_cb != NULL && s->drain_event == NULL && s->started) {
        s->drain_event =
            sim_event_new(world, s->node, SIM_EV_NET_DRAIN, world->now_ns, stream_drain_event);
        s->drain_event->p = s;
    }
}

static void conn_reset(struct sim_world *world, struct sim_conn *conn, int status) {
    pipe_clear(world, &conn->pipes[0]);
    pipe_clear(world, &conn->pipes[1]);
    for (int side = 0; side < 2; side++) {
        if (conn->ends[side] != NULL) stream_end(conn->ends[side], status);
    }
    sim_hash_u64(world, 0xE5E7000000000000ULL | conn->id);
}

static void pipe_timeout_event(struct sim_world *world, struct sim_event *ev) {
    struct sim_pipe *pipe = ev->p;
    pipe->timeout_event = NULL;
    if (!pipe->stalled) return;
    if (world->now_ns - pipe->stalled_since_ns < world->net_timeout_ns) {
        pipe->timeout_event =
            sim_event_new(world, NULL, SIM_EV_NET_TIMEOUT,
                          pipe->stalled_since_ns + world->net_timeout_ns, pipe_timeout_event);
        pipe->timeout_event->p = pipe;
        return;
    }
    struct sim_conn *conn = pipe->conn;
    conn_reset(world, conn, -ETIMEDOUT);
}

static void deliver_data(struct sim_world *world, struct sim_pipe *pipe, struct sim_segment *seg) {
    struct sim_conn *conn = pipe->conn;
    struct io_stream *to = conn->ends[1 - pipe->from];
    struct io_stream *from = conn->ends[pipe->from];
    if (to == NULL) {
        /* The receiver closed or crashed: a real stack answers with RST. */
        if (from != NULL) stream_end(from, -ECONNRESET);
        return;
    }
    if (to->end_pending || to->end_delivered) return;
    if (seg->kind == SIM_SEG_FIN) {
        stream_end(to, 0);
        return;
    }
    if (seg->kind == SIM_SEG_RST) {
        stream_end(to, -ECONNRESET);
        return;
    }
    if (seg->msg != 0) {
        const struct io_trace_field f[] = {IO_TF_I("msg", seg->msg),
                                           IO_TF_S("from", conn->nodes[pipe->from]->name),
                                           IO_TF_I("bytes", seg->len)};
        sim_node_trace(conn->nodes[1 - pipe->from], "net_recv", f, 3);
    }
    size_t copies = 1;
    if (world->broken == SIM_BREAK_DUP_BYTES && !world->break_done && seg->len > 0) {
        copies = 2; /* deliberately broken: one segment arrives twice */
        world->break_done = true;
    }
    for (size_t c = 0; c < copies; c++) {
        if (to->rlen + seg->len > to->rcap) {
            size_t cap = to->rcap == 0 ? 4096 : to->rcap;
            while (cap < to->rlen + seg->len)
                cap *= 2;
            uint8_t *grown = realloc(to->rbuf, cap);
            if (grown == NULL) abort();
            to->rbuf = grown;
            to->rcap = cap;
        }
        memcpy(to->rbuf + to->rlen, seg->data, seg->len);
        to->rlen += seg->len;
    }
    stream_schedule_read(to);
}

static void pipe_deliver_event(struct sim_world *world, struct sim_event *ev) {
    struct sim_pipe *pipe = ev->p;
    struct sim_conn *conn = pipe->conn;
    pipe->deliver_event = NULL;
    struct sim_segment *seg = pipe->head;
    if (seg == NULL) return;
    struct sim_node *from = conn->nodes[pipe->from];
    struct sim_node *to = conn->nodes[1 - pipe->from];
    if (link_of(world, from, to)->blocked) {
        /* Partitioned: the bytes wait; heal kicks the pipe, the timeout resets it. */
        if (!pipe->stalled) {
            pipe->stalled = true;
            pipe->stalled_since_ns = world->now_ns;
        }
        if (pipe->timeout_event == NULL) {
            pipe->timeout_event =
                sim_event_new(world, NULL, SIM_EV_NET_TIMEOUT,
                              pipe->stalled_since_ns + world->net_timeout_ns, pipe_timeout_event);
            pipe->timeout_event->p = pipe;
        }
        return;
    }
    pipe->stalled = false;
    sim_event_cancel(world, pipe->timeout_event);
    pipe->timeout_event = NULL;
    pipe->head = seg->next;
    if (pipe->head == NULL) pipe->tail = NULL;
    ASSERT(pipe->inflight_bytes >= seg->len);
    pipe->inflight_bytes -= seg->len;
    sim_hash_u64(world, seg->len | ((uint64_t)seg->kind << 56));
    deliver_data(world, pipe, seg);
    free(seg);
    /* deliver_data may have ended streams but never frees the connection. */
    if (pipe->head != NULL && pipe->deliver_event == NULL) pipe_schedule(world, pipe);
    pump(world, conn, pipe->from); /* the window may have opened */
}

static void pipe_schedule(struct sim_world *world, struct sim_pipe *pipe) {
    ASSERT(pipe->deliver_event == NULL);
    if (pipe->head == NULL) return;
    uint64_t at = MAX(world->now_ns, pipe->head->arrive_ns);
    pipe->deliver_event = sim_event_new(world, NULL, SIM_EV_NET_DELIVER, at, pipe_deliver_event);
    pipe->deliver_event->p = pipe;
}

/* --- Reading ---------------------------------------------------------------------------- */

static void stream_read_event(struct sim_world *world, struct sim_event *ev) {
    struct io_stream *s = ev->p;
    s->read_event = NULL;
    if (s->closed || !s->started || s->paused || s->end_delivered) return;
    if (s->rlen > 0) {
        /* Hand over everything, or now and then only a prefix, so that framing code sees
         * messages split at arbitrary byte boundaries. */
        size_t n = s->rlen;
        struct sim_rng *rng = &world->rngs[SIM_STREAM_NETWORK];
        if (n > 1 && sim_rng_chance(rng, SIM_NET_READ_SPLIT_PERMILLE)) {
            n = 1 + (size_t)sim_rng_below(rng, n - 1);
        }
        uint8_t *chunk = sim_xmalloc(n);
        memcpy(chunk, s->rbuf, n);
        memmove(s->rbuf, s->rbuf + n, s->rlen - n);
        s->rlen -= n;
        struct sim_conn *conn = s->conn;
        int side = s->side;
        s->in_callback++;
        s->read_cb(s->arg, s, chunk, n, 0);
        s->in_callback--;
        free(chunk);
        if (s->closed) {
            if (s->in_callback == 0) stream_free(s);
            return;
        }
        /* Room in the window: the peer may send more. */
        pump(world, conn, 1 - side);
        if (s->rlen > 0 || s->end_pending) stream_schedule_read(s);
        return;
    }
    if (s->end_pending) {
        s->end_pending = false;
        s->end_delivered = true;
        s->in_callback++;
        s->read_cb(s->arg, s, NULL, 0, s->end_status);
        s->in_callback--;
        if (s->closed && s->in_callback == 0) stream_free(s);
    }
}

static void stream_schedule_read(struct io_stream *s) {
    if (s->read_event != NULL || s->closed || !s->started || s->paused) return;
    if (s->rlen == 0 && !s->end_pending) return;
    if (!s->node->up) return;
    struct sim_world *world = s->node->world;
    s->read_event =
        sim_event_new(world, s->node, SIM_EV_NET_READ, world->now_ns, stream_read_event);
    s->read_event->p = s;
}

void sim_net_stream_start(struct io_stream *s, io_read_cb read_cb, io_drain_cb drain_cb,
                          void *arg) {
    ASSERT(read_cb != NULL);
    ASSERT(!s->closed);
    s->read_cb = read_cb;
    s->drain_cb = drain_cb;
    s->arg = arg;
    s->started = true;
    stream_schedule_read(s);
}

void sim_net_stream_pause(struct io_stream *s, bool paused) {
    ASSERT(!s->closed);
    s->paused = paused;
    if (paused) {
        sim_event_cancel(s->node->world, s->read_event);
        s->read_event = NULL;
    } else {
        stream_schedule_read(s);
    }
}

int sim_net_stream_write(struct io_stream *s, const void *data, size_t len) {
    ASSERT(!s->closed);
    if (s->end_pending || s->end_delivered) {
        return s->end_status < 0 ? s->end_status : -EPIPE;
    }
    struct sim_conn *conn = s->conn;
    if (len == 0) return 0;
    /* io.h leaves bounding the queue to the caller (io_stream_queued); a queue this deep
     * means a caller forgot, and would otherwise eat the machine. */
    ASSERT(len <= SIM_NET_SEND_QUEUE_BYTES_MAX && s->slen <= SIM_NET_SEND_QUEUE_BYTES_MAX - len);
    if (s->slen + len > s->scap) {
        size_t cap = s->scap == 0 ? 4096 : s->scap;
        while (cap < s->slen + len)
            cap *= 2;
        uint8_t *grown = realloc(s->sbuf, cap);
        if (grown == NULL) abort();
        s->sbuf = grown;
        s->scap = cap;
    }
    memcpy(s->sbuf + s->slen, data, len);
    s->slen += len;
    pump(s->node->world, conn, s->side);
    return 0;
}

void sim_net_stream_close(struct io_stream *s) {
    ASSERT(!s->closed);
    struct sim_world *world = s->node->world;
    struct sim_conn *conn = s->conn;
    int side = s->side;
    s->closed = true;
    s->slen = 0; /* queued bytes are dropped (io.h) */
    conn->ends[side] = NULL;
    if (conn->ends[1 - side] != NULL && !s->end_delivered && !s->end_pending) {
        pipe_append(world, &conn->pipes[side], SIM_SEG_FIN, NULL, 0);
    }
    if (s->accept_listener == NULL && s->in_callback == 0) stream_free(s);
    conn_maybe_free(world, conn);
}

/* --- Listen and connect ----------------------------------------------------------------- */

static struct io_listener *listener_find(struct sim_node *node, uint16_t port) {
    for (struct io_listener *l = node->listeners; l != NULL; l = l->next) {
        if (l->port == port) return l;
    }
    return NULL;
}

static bool host_is_self(struct sim_node *node, const char *host) {
    return host == NULL || host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ||
           strcmp(host, "::") == 0 || strcmp(host, node->name) == 0;
}

int sim_net_listen(struct sim_node *node, const char *host, uint16_t port, io_accept_cb cb,
                   void *arg, struct io_listener **out) {
    ASSERT(cb != NULL && out != NULL);
    if (!host_is_self(node, host)) return -EADDRNOTAVAIL;
    if (port == 0) {
        for (int i = 0; i < 20000 && listener_find(node, node->next_ephemeral_port); i++) {
            node->next_ephemeral_port++;
        }
        port = node->next_ephemeral_port++;
    }
    if (listener_find(node, port) != NULL) return -EADDRINUSE;
    struct io_listener *l = sim_xmalloc(sizeof(*l));
    memset(l, 0, sizeof(*l));
    l->node = node;
    l->port = port;
    l->cb = cb;
    l->arg = arg;
    l->next = node->listeners;
    if (node->listeners != NULL) node->listeners->prev = l;
    node->listeners = l;
    *out = l;
    return 0;
}

static void listener_accept_event(struct sim_world *world, struct sim_event *ev) {
    struct io_listener *l = ev->p;
    (void)world;
    l->accept_event = NULL;
    /* One per event: the callback may close the listener. */
    struct io_stream *s = l->queue_head;
    if (s == NULL) return;
    l->queue_head = s->accept_next;
    if (l->queue_head == NULL) l->queue_tail = NULL;
    s->accept_next = NULL;
    s->accept_listener = NULL;
    s->handed_out = true;
    if (l->queue_head != NULL) {
        l->accept_event = sim_event_new(l->node->world, l->node, SIM_EV_NET_ACCEPT,
                                        l->node->world->now_ns, listener_accept_event);
        l->accept_event->p = l;
    }
    l->cb(l->arg, s);
}

static void listener_free(struct sim_node *node, struct io_listener *l, bool crash) {
    struct sim_world *world = node->world;
    sim_event_cancel(world, l->accept_event);
    /* Streams accepted by the stack but not yet by the program are closed. */
    while (l->queue_head != NULL) {
        struct io_stream *s = l->queue_head;
        l->queue_head = s->accept_next;
        s->accept_listener = NULL;
        if (!crash) sim_net_stream_close(s);
    }
    if (l->prev != NULL) {
        l->prev->next = l->next;
    } else {
        node->listeners = l->next;
    }
    if (l->next != NULL) l->next->prev = l->prev;
    free(l);
}

void sim_net_listener_close(struct sim_node *node, struct io_listener *l) {
    ASSERT(l->node == node);
    listener_free(node, l, false);
}

static void connect_unlink(struct sim_node *node, struct sim_connect *c) {
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        node->connects = c->next;
    }
    if (c->next != NULL) c->next->prev = c->prev;
}

static void connect_fail_event(struct sim_world *world, struct sim_event *ev) {
    struct sim_connect *c = ev->p;
    (void)world;
    int status = (int)(int64_t)ev->u;
    io_connect_cb cb = c->cb;
    void *arg = c->arg;
    connect_unlink(c->node, c);
    free(c);
    cb(arg, NULL, status);
}

static void connected_event(struct sim_world *world, struct sim_event *ev) {
    struct io_stream *s = ev->p;
    struct sim_connect *c = ev->q;
    (void)world;
    s->connected_event = NULL;
    s->handed_out = true;
    io_connect_cb cb = c->cb;
    void *arg = c->arg;
    connect_unlink(c->node, c);
    free(c);
    cb(arg, s, 0);
}

static void connect_finish(struct sim_world *world, struct sim_connect *c, int status,
                           uint64_t at) {
    c->event = sim_event_new(world, c->node, SIM_EV_NET_CONNECTED, at, connect_fail_event);
    c->event->p = c;
    c->event->u = (uint64_t)(int64_t)status;
}

static void syn_event(struct sim_world *world, struct sim_event *ev) {
    struct sim_connect *c = ev->p;
    c->event = NULL;
    struct sim_node *a = c->node;
    struct sim_node *b = c->target;
    if (sim_net_is_blocked(world, a, b) || sim_net_is_blocked(world, b, a)) {
        /* SYN or SYN-ACK lost: retransmit until the connect timeout. */
        if (world->now_ns - c->started_ns >= world->net_timeout_ns) {
            connect_finish(world, c, -ETIMEDOUT, world->now_ns);
            return;
        }
        c->event = sim_event_new(world, NULL, SIM_EV_NET_SYN, world->now_ns + SIM_NET_SYN_RETRY_NS,
                                 syn_event);
        c->event->p = c;
        return;
    }
    struct io_listener *l = b->up ? listener_find(b, c->port) : NULL;
    uint64_t back = world->now_ns + link_latency(world, b, a);
    if (l == NULL) {
        connect_finish(world, c, -ECONNREFUSED, back);
        return;
    }
    struct sim_conn *conn = sim_xmalloc(sizeof(*conn));
    memset(conn, 0, sizeof(*conn));
    conn->id = world->next_conn_id++;
    conn->nodes[0] = a;
    conn->nodes[1] = b;
    conn->ports[1] = c->port;
    conn->ports[0] = a->next_ephemeral_port++;
    if (a->next_ephemeral_port < 40000) a->next_ephemeral_port = 40000;
    for (int d = 0; d < 2; d++) {
        conn->pipes[d].conn = conn;
        conn->pipes[d].from = d;
    }
    conn->prev = world->conns_tail;
    if (world->conns_tail != NULL) {
        world->conns_tail->next = conn;
    } else {
        world->conns_head = conn;
    }
    world->conns_tail = conn;
    struct io_stream *client = stream_new(conn, 0);
    struct io_stream *server = stream_new(conn, 1);
    conn->ends[0] = client;
    conn->ends[1] = server;
    /* Server side: queue on the listener; the program accepts in a node event. */
    server->accept_listener = l;
    if (l->queue_tail == NULL) {
        l->queue_head = server;
    } else {
        l->queue_tail->accept_next = server;
    }
    l->queue_tail = server;
    if (l->accept_event == NULL) {
        l->accept_event =
            sim_event_new(world, b, SIM_EV_NET_ACCEPT, world->now_ns, listener_accept_event);
        l->accept_event->p = l;
    }
    /* Client side: the connect callback runs when the SYN-ACK arrives. */
    client->connected_event = sim_event_new(world, a, SIM_EV_NET_CONNECTED, back, connected_event);
    client->connected_event->p = client;
    client->connected_event->q = c;
    sim_hash_u64(world, 0xC044000000000000ULL | conn->id);
}

int sim_net_connect(struct sim_node *node, const char *host, uint16_t port, io_connect_cb cb,
                    void *arg) {
    struct sim_world *world = node->world;
    ASSERT(cb != NULL);
    if (host == NULL) return -EINVAL;
    struct sim_node *target = sim_node_find(world, host);
    if (target == NULL && (strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0)) {
        target = node;
    }
    if (target == NULL) return -EHOSTUNREACH;
    if (port == 0) return -EINVAL;
    struct sim_connect *c = sim_xmalloc(sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->node = node;
    c->target = target;
    c->port = port;
    c->cb = cb;
    c->arg = arg;
    c->started_ns = world->now_ns;
    c->next = node->connects;
    if (node->connects != NULL) node->connects->prev = c;
    node->connects = c;
    c->event = sim_event_new(world, NULL, SIM_EV_NET_SYN,
                             world->now_ns + link_latency(world, node, target), syn_event);
    c->event->p = c;
    return 0;
}

/* --- Crash and teardown ----------------------------------------------------------------- */

void sim_net_node_crash(struct sim_node *node) {
    struct sim_world *world = node->world;
    while (node->listeners != NULL)
        listener_free(node, node->listeners, true);
    while (node->connects != NULL) {
        struct sim_connect *c = node->connects;
        /* The SYN (a world event) dies with its sender; a node-owned completion event is
         * dropped with the node's events, but cancel it here to free it now. */
        sim_event_cancel(world, c->event);
        connect_unlink(node, c);
        free(c);
    }
    while (node->streams != NULL) {
        struct io_stream *s = node->streams;
        struct sim_conn *conn = s->conn;
        int side = s->side;
        if (s->connected_event != NULL) {
            /* Its sim_connect was freed above. */
            sim_event_cancel(world, s->connected_event);
            s->connected_event = NULL;
        }
        conn->ends[side] = NULL;
        struct io_stream *peer = conn->ends[1 - side];
        if (peer != NULL) {
            /* Nothing reaches the dead node any more; the peer learns by an RST that
             * travels (and stalls) like any other segment. */
            struct sim_pipe *in = &conn->pipes[1 - side];
            segments_free(in);
            sim_event_cancel(world, in->deliver_event);
            in->deliver_event = NULL;
            sim_event_cancel(world, in->timeout_event);
            in->timeout_event = NULL;
            in->stalled = false;
            if (!peer->end_pending && !peer->end_delivered) {
                pipe_append(world, &conn->pipes[side], SIM_SEG_RST, NULL, 0);
            }
        }
        stream_free(s);
        conn_maybe_free(world, conn);
    }
}

void sim_net_destroy(struct sim_world *world) {
    /* Nodes are down by now; any connection left has no ends. */
    while (world->conns_head != NULL) {
        struct sim_conn *conn = world->conns_head;
        ASSERT(conn->ends[0] == NULL && conn->ends[1] == NULL);
        conn_maybe_free(world, conn);
    }
}

size_t sim_net_reset(struct sim_world *world, struct sim_node *a, struct sim_node *b) {
    size_t count = 0;
    for (struct sim_conn *c = world->conns_head; c != NULL; c = c->next) {
        bool match =
            (c->nodes[0] == a && c->nodes[1] == b) || (c->nodes[0] == b && c->nodes[1] == a);
        if (!match) continue;
        if ((c->ends[0] == NULL || c->ends[0]->end_delivered || c->ends[0]->end_pending) &&
            (c->ends[1] == NULL || c->ends[1]->end_delivered || c->ends[1]->end_pending)) {
            continue;
        }
        conn_reset(world, c, -ECONNRESET);
        count++;
    }
    return count;
}
