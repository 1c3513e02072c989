/*
 * io_posix.c — io.h for the real world: one epoll loop, non-blocking TCP, POSIX files,
 * the system clocks, getrandom and malloc.
 *
 * This is the ONLY file in system/ that touches the operating system (the determinism
 * lint in tests/lint/ enforces it). It keeps no global state: every loop is a
 * struct posix_ctx reached through its io handle, so tests can run several side by side.
 *
 * Shape of the loop (io_posix_run_once): epoll_wait with a timeout cut to the nearest
 * timer, dispatch socket readiness, fire due timers, then run "pending" notifications
 * (drain and end-of-stream callbacks that a call decided on but must not run before it
 * returns — the libuv rule of io.h), then free handles closed during the pass. Handles are
 * freed only at the end of a pass because an epoll batch may still name a handle that a
 * callback earlier in the same batch closed.
 *
 * Every file and socket call has a libfiu point (docs/FAULT_POINTS.md). A point that fires
 * fails the call with the errno given as the point's failinfo, or a default (EIO for files,
 * ECONNRESET for sockets), so EIO/ENOSPC/ECONNRESET can be injected into triald itself.
 */
#include "io/io_posix.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fiu.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

/* Bounds: every queue and loop has one. */
#define POSIX_EPOLL_BATCH       64           /* Events taken per epoll_wait. */
#define POSIX_READ_BUF_BYTES    (256 * 1024) /* One read() into the loop's buffer. */
#define POSIX_READS_PER_EVENT   16           /* Reads per readiness event (fairness). */
#define POSIX_ACCEPTS_PER_EVENT 64           /* Accepts per readiness event. */
#define POSIX_WRITES_PER_FLUSH  256          /* Send calls per flush before yielding. */
#define POSIX_IOV_MAX           64           /* Queue items gathered into one sendmsg. */
#define POSIX_QUEUE_BYTES_MAX   (1ULL << 30) /* Per-stream send queue; past it -ENOBUFS. */
#define POSIX_TIMERS_MAX        (1U << 20)   /* Pending timers per loop. */
#define POSIX_DIR_ENTRIES_MAX   (1U << 20)   /* Entries list_dir will sort. */
#define POSIX_PENDING_PASSES    64           /* Pending-list rounds per loop pass. */
#define POSIX_PATH_MAX          4096
#define POSIX_PEER_MAX          64

enum posix_kind { POSIX_STREAM = 1, POSIX_LISTENER = 2, POSIX_FILE = 3, POSIX_SIGNAL = 4 };

/* Common head of every handle: lets the loop find, and destroy free, what is open. */
struct posix_handle {
    enum posix_kind kind;
    int fd;                    /* -1 once closed. */
    bool closed;               /* Closed by the owner; freed at the end of the pass. */
    struct posix_handle *prev; /* Live list (open handles) or dead list (next only). */
    struct posix_handle *next;
};

/* One entry of a stream's send queue: a copied buffer or a range of an open file. */
struct posix_wq_item {
    struct posix_wq_item *next;
    struct io_file *file; /* NULL for a buffer; else the file to sendfile from (a reference). */
    uint64_t offset; /* File offset of the next byte (file items). */
    size_t len;      /* Total bytes of this item. */
    size_t sent;     /* Bytes already handed to the kernel. */
    uint8_t data[];  /* Buffer items only. */
};

/* Pending notification flags of a stream (run from the loop, never from the call). */
enum { POSIX_PENDING_DRAIN = 1u << 0, POSIX_PENDING_END = 1u << 1 };

struct io_stream {
    struct posix_handle h;
    struct posix_ctx *ctx;
    io_read_cb read_cb;
    io_drain_cb drain_cb;
    void *arg;
    io_connect_cb connect_cb; /* Only while connecting. */
    void *connect_arg;
    bool connecting;    /* Waiting for the non-blocking connect to finish. */
    bool started;       /* io_stream_start() was called. */
    bool paused;        /* Backpressure from the owner: no reads. */
    bool read_ended;    /* EOF or error seen: no more reads. */
    bool failed;        /* A socket error ended the stream both ways. */
    bool end_delivered; /* The read callback was told about the end. */
    bool reading;       /* Inside a read callback: writes queue, one flush after it. */
    bool flush_due;     /* Something was queued while reading. */
    int end_status;     /* 0 (EOF) or -errno to report with the end. */
    bool registered;    /* fd is in the epoll set. */
    uint32_t events;    /* Interest mask currently registered. */
    unsigned pending;   /* POSIX_PENDING_* flags waiting to run. */
    struct io_stream *pending_next;
    bool in_pending;
    struct posix_wq_item *wq_head;
    struct posix_wq_item *wq_tail;
    size_t queued_bytes;       /* Unsent bytes over all queue items. */
    char peer[POSIX_PEER_MAX]; /* "host:port". */
};

struct io_listener {
    struct posix_handle h;
    struct posix_ctx *ctx;
    io_accept_cb cb;
    void *arg;
    uint16_t port;
};

/* A file queued for sendfile holds one reference per queue item: io_file_close() by the
 * owner while ranges are still queued only marks it `orphaned` (the owner may not use it
 * again); the descriptor closes when the last item is sent or dropped. So a spliced range
 * always reads the file it was queued from, even if the owner closed (and unlinked) it, and
 * never a descriptor number the kernel has since reused. */
struct io_file {
    struct posix_handle h;
    size_t send_refs; /* Send-queue items that read from this file. */
    bool orphaned;    /* Closed by the owner; buried when send_refs reaches zero. */
};

/* The signalfd of io_posix_watch_signals(). */
struct posix_signal {
    struct posix_handle h;
    io_posix_signal_cb cb;
    void *arg;
};

struct posix_timer {
    uint64_t deadline_ns;
    io_timer_id id; /* Start order: ties on deadline fire in id order. */
    io_timer_cb cb;
    void *arg;
};

struct posix_ctx {
    struct io io; /* The handle given out; first so io->ctx == ctx. */
    int epoll_fd;
    bool stopping;
    enum io_log_level log_level;
    FILE *trace_file; /* NULL: trace events are dropped. */
    size_t allocated_bytes;
    struct posix_timer *timers; /* Binary min-heap on (deadline_ns, id). */
    size_t timer_count;
    size_t timer_capacity;
    io_timer_id timer_next_id;
    struct posix_handle *live;      /* Open handles, for destroy. */
    struct posix_handle *dead;      /* Closed this pass, freed at its end. */
    struct posix_signal *signal;    /* NULL unless io_posix_watch_signals() was called. */
    struct io_stream *pending_head; /* Streams with a notification due, in order. */
    struct io_stream *pending_tail;
    size_t pending_count;
    uint8_t read_buf[POSIX_READ_BUF_BYTES];
};

static struct posix_ctx *posix_ctx_of(struct io *io) {
    ASSERT(io != NULL && io->ctx != NULL);
    struct posix_ctx *ctx = io->ctx;
    ASSERT(&ctx->io == io);
    return ctx;
}

/* The errno a fired fault point stands for: its failinfo if set, else the default. */
static int posix_fault_errno(int fallback) {
    intptr_t info = (intptr_t)fiu_failinfo();
    if (info > 0 && info < 4096) return (int)info;
    return fallback;
}

#define POSIX_FAULT(name, fallback)                                                                \
    do {                                                                                           \
        if (fiu_fail(name)) return -posix_fault_errno(fallback);                                   \
    } while (0)

/* --- Memory ---------------------------------------------------------------------------- */

static void *posix_alloc(void *vctx, size_t size) {
    struct posix_ctx *ctx = vctx;
    void *ptr = malloc(size == 0 ? 1 : size);
    if (ptr == NULL) {
        fprintf(stderr, "io_posix: out of memory allocating %zu bytes\n", size);
        abort();
    }
    ctx->allocated_bytes += size;
    return ptr;
}

static void *posix_realloc(void *vctx, void *ptr, size_t old_size, size_t new_size) {
    struct posix_ctx *ctx = vctx;
    ASSERT(ptr != NULL || old_size == 0);
    ASSERT(ctx->allocated_bytes >= old_size);
    void *out = realloc(ptr, new_size == 0 ? 1 : new_size);
    if (out == NULL) {
        fprintf(stderr, "io_posix: out of memory reallocating %zu bytes\n", new_size);
        abort();
    }
    ctx->allocated_bytes = ctx->allocated_bytes - old_size + new_size;
    return out;
}

static void posix_free(void *vctx, void *ptr, size_t size) {
    struct posix_ctx *ctx = vctx;
    if (ptr == NULL) return;
    ASSERT(ctx->allocated_bytes >= size);
    ctx->allocated_bytes -= size;
    free(ptr);
}

/* Internal allocations (handles, queue items, the heap) do not count toward the owner's
 * allocated_bytes: they are ours to free. */
static void *posix_xmalloc(size_t size) {
    void *ptr = malloc(size == 0 ? 1 : size);
    if (ptr == NULL) {
        fprintf(stderr, "io_posix: out of memory allocating %zu bytes\n", size);
        abort();
    }
    return ptr;
}

/* --- Clocks ---------------------------------------------------------------------------- */

static uint64_t posix_monotonic_ns(void *vctx) {
    (void)vctx;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
    ASSERT(rc == 0);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int64_t posix_wall_ms(void *vctx) {
    (void)vctx;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    ASSERT(rc == 0);
    return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
}

/* --- Timers: a binary min-heap ordered by (deadline, start order) ---------------------- */

static bool posix_timer_before(const struct posix_timer *a, const struct posix_timer *b) {
    if (a->deadline_ns != b->deadline_ns) return a->deadline_ns < b->deadline_ns;
    return a->id < b->id;
}

static void posix_heap_swap(struct posix_ctx *ctx, size_t i, size_t j) {
    struct posix_timer tmp = ctx->timers[i];
    ctx->timers[i] = ctx->timers[j];
    ctx->timers[j] = tmp;
}

static void posix_heap_up(struct posix_ctx *ctx, size_t i) {
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!posix_timer_before(&ctx->timers[i], &ctx->timers[parent])) break;
        posix_heap_swap(ctx, i, parent);
        i = parent;
    }
}

static void posix_heap_down(struct posix_ctx *ctx, size_t i) {
    for (;;) {
        size_t left = 2 * i + 1, right = left + 1, best = i;
        if (left < ctx->timer_count && posix_timer_before(&ctx->timers[left], &ctx->timers[best]))
            best = left;
        if (right < ctx->timer_count && posix_timer_before(&ctx->timers[right], &ctx->timers[best]))
            best = right;
        if (best == i) return;
        posix_heap_swap(ctx, i, best);
        i = best;
    }
}

static void posix_heap_remove_at(struct posix_ctx *ctx, size_t i) {
    ASSERT(i < ctx->timer_count);
    ctx->timer_count--;
    if (i == ctx->timer_count) return;
    ctx->timers[i] = ctx->timers[ctx->timer_count];
    posix_heap_down(ctx, i);
    posix_heap_up(ctx, i);
}

static io_timer_id posix_timer_start(void *vctx, uint64_t deadline_ns, io_timer_cb cb, void *arg) {
    struct posix_ctx *ctx = vctx;
    ASSERT(cb != NULL);
    ASSERT(ctx->timer_count < POSIX_TIMERS_MAX);
    if (ctx->timer_count == ctx->timer_capacity) {
        size_t cap = ctx->timer_capacity == 0 ? 64 : ctx->timer_capacity * 2;
        struct posix_timer *grown = realloc(ctx->timers, cap * sizeof(*grown));
        if (grown == NULL) {
            fprintf(stderr, "io_posix: out of memory growing the timer heap\n");
            abort();
        }
        ctx->timers = grown;
        ctx->timer_capacity = cap;
    }
    io_timer_id id = ctx->timer_next_id++;
    ASSERT(id != 0);
    ctx->timers[ctx->timer_count] =
        (struct posix_timer){.deadline_ns = deadline_ns, .id = id, .cb = cb, .arg = arg};
    ctx->timer_count++;
    posix_heap_up(ctx, ctx->timer_count - 1);
    return id;
}

/* O(pending timers): a linear scan, like Redis's ae. Cancels are rare next to the work a
 * timer guards; switch to an index map if a profile ever says otherwise. */
static void posix_timer_cancel(void *vctx, io_timer_id id) {
    struct posix_ctx *ctx = vctx;
    if (id == 0) return;
    for (size_t i = 0; i < ctx->timer_count; i++) {
        if (ctx->timers[i].id == id) {
            posix_heap_remove_at(ctx, i);
            return;
        }
    }
}

/* Fires timers that are due now and were started before this pass began, so a callback
 * re-arming itself at a past deadline cannot keep the loop here forever. */
static int posix_timers_fire(struct posix_ctx *ctx) {
    uint64_t now = posix_monotonic_ns(ctx);
    io_timer_id id_limit = ctx->timer_next_id;
    int fired = 0;
    while (ctx->timer_count > 0 && ctx->timers[0].deadline_ns <= now &&
           ctx->timers[0].id < id_limit) {
        struct posix_timer t = ctx->timers[0];
        posix_heap_remove_at(ctx, 0);
        t.cb(t.arg);
        fired++;
    }
    return fired;
}

/* --- Handles --------------------------------------------------------------------------- */

static void posix_handle_link(struct posix_ctx *ctx, struct posix_handle *h) {
    h->prev = NULL;
    h->next = ctx->live;
    if (ctx->live != NULL) ctx->live->prev = h;
    ctx->live = h;
}

static void posix_handle_unlink(struct posix_ctx *ctx, struct posix_handle *h) {
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        ctx->live = h->next;
    if (h->next != NULL) h->next->prev = h->prev;
    h->prev = h->next = NULL;
}

/* Moves a closed handle to the dead list; it is freed at the end of the loop pass. */
static void posix_handle_bury(struct posix_ctx *ctx, struct posix_handle *h) {
    ASSERT(!h->closed);
    posix_handle_unlink(ctx, h);
    h->closed = true;
    if (h->fd >= 0) {
        if (h->kind != POSIX_FILE) (void)epoll_ctl(ctx->epoll_fd, EPOLL_CTL_DEL, h->fd, NULL);
        (void)close(h->fd);
        h->fd = -1;
    }
    h->next = ctx->dead;
    ctx->dead = h;
}

static void posix_dead_free(struct posix_ctx *ctx) {
    while (ctx->dead != NULL) {
        struct posix_handle *h = ctx->dead;
        ctx->dead = h->next;
        ASSERT(h->closed && h->fd == -1);
        free(h);
    }
}

/* --- Addresses ------------------------------------------------------------------------- */

/* Resolves host:port. Numeric hosts never block; a name goes through getaddrinfo, which
 * may (acceptable for the bootstrap addresses triald connects to). */
static int posix_resolve(const char *host, uint16_t port, bool passive,
                         struct sockaddr_storage *out, socklen_t *out_len) {
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    const char *node = (host == NULL || host[0] == '\0') ? NULL : host;
    if (node != NULL && strcmp(node, "localhost") == 0) node = "127.0.0.1";
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(node, service, &hints, &res);
    if (rc != 0 || res == NULL) return -EADDRNOTAVAIL;
    ASSERT(res->ai_addrlen <= sizeof(*out));
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *out_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void posix_format_peer(const struct sockaddr_storage *addr, char *out, size_t cap) {
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, cap, "%s:%u", host, port);
}

/* --- Streams --------------------------------------------------------------------------- */

static struct io_stream *posix_stream_new(struct posix_ctx *ctx, int fd) {
    struct io_stream *s = posix_xmalloc(sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->h.kind = POSIX_STREAM;
    s->h.fd = fd;
    s->ctx = ctx;
    snprintf(s->peer, sizeof(s->peer), "?");
    posix_handle_link(ctx, &s->h);
    return s;
}

/* The epoll interest a stream needs now. Zero keeps the fd out of the set entirely, so a
 * hung-up socket nobody reads cannot make epoll report EPOLLHUP in a busy loop. */
static uint32_t posix_stream_wanted(const struct io_stream *s) {
    if (s->h.closed) return 0;
    if (s->connecting) return EPOLLOUT;
    uint32_t ev = 0;
    if (s->started && !s->paused && !s->read_ended) ev |= EPOLLIN;
    if (!s->failed && s->wq_head != NULL) ev |= EPOLLOUT;
    return ev;
}

static void posix_stream_rearm(struct io_stream *s) {
    if (s->h.closed) return;
    uint32_t want = posix_stream_wanted(s);
    struct epoll_event ev = {.events = want, .data.ptr = &s->h};
    int rc = 0;
    if (want == 0) {
        if (s->registered) rc = epoll_ctl(s->ctx->epoll_fd, EPOLL_CTL_DEL, s->h.fd, NULL);
        s->registered = false;
    } else if (!s->registered) {
        rc = epoll_ctl(s->ctx->epoll_fd, EPOLL_CTL_ADD, s->h.fd, &ev);
        s->registered = true;
    } else if (want != s->events) {
        rc = epoll_ctl(s->ctx->epoll_fd, EPOLL_CTL_MOD, s->h.fd, &ev);
    }
    ASSERT(rc == 0);
    s->events = want;
}

static void posix_pending_add(struct io_stream *s, unsigned flag) {
    s->pending |= flag;
    if (s->in_pending) return;
    s->in_pending = true;
    s->pending_next = NULL;
    s->ctx->pending_count++;
    if (s->ctx->pending_tail != NULL)
        s->ctx->pending_tail->pending_next = s;
    else
        s->ctx->pending_head = s;
    s->ctx->pending_tail = s;
}

/* Takes a closing stream off the pending list, so no later pass can touch it once freed.
 * O(pending streams); the list only holds streams with a notification due this pass. */
static void posix_pending_remove(struct io_stream *s) {
    if (!s->in_pending) return;
    struct posix_ctx *ctx = s->ctx;
    struct io_stream *prev = NULL;
    for (struct io_stream *it = ctx->pending_head; it != NULL; prev = it, it = it->pending_next) {
        if (it != s) continue;
        if (prev != NULL)
            prev->pending_next = s->pending_next;
        else
            ctx->pending_head = s->pending_next;
        if (ctx->pending_tail == s) ctx->pending_tail = prev;
        ctx->pending_count--;
        break;
    }
    s->in_pending = false;
    s->pending_next = NULL;
    s->pending = 0;
}

/* Frees one send-queue item, dropping its file reference (the last one of an orphaned
 * file closes the descriptor). */
static void posix_wq_item_free(struct posix_ctx *ctx, struct posix_wq_item *item) {
    struct io_file *f = item->file;
    free(item);
    if (f == NULL) return;
    ASSERT(f->send_refs > 0 && !f->h.closed);
    f->send_refs--;
    if (f->send_refs == 0 && f->orphaned) posix_handle_bury(ctx, &f->h);
}

static void posix_wq_free(struct io_stream *s) {
    while (s->wq_head != NULL) {
        struct posix_wq_item *item = s->wq_head;
        s->wq_head = item->next;
        posix_wq_item_free(s->ctx, item);
    }
    s->wq_tail = NULL;
    s->queued_bytes = 0;
}

/* A socket error ends the stream in both directions: drop the queue, remember the error
 * for the read callback (delivered from the pending list when the owner can take it). */
static void posix_stream_fail(struct io_stream *s, int err) {
    ASSERT(err > 0);
    if (s->failed) return;
    s->failed = true;
    posix_wq_free(s);
    if (!s->read_ended) {
        s->read_ended = true;
        s->end_status = -err;
        posix_pending_add(s, POSIX_PENDING_END);
    }
    posix_stream_rearm(s);
}

/* Hands queued bytes to the kernel until the queue empties, the socket would block, or the
 * bound on calls is hit. Runs no callback; an emptied queue schedules the drain callback. */
/* Marks n sent bytes off the front of the queue, freeing the items they complete. */
static void posix_wq_consume(struct io_stream *s, size_t n) {
    ASSERT(n <= s->queued_bytes);
    s->queued_bytes -= n;
    while (n > 0) {
        struct posix_wq_item *item = s->wq_head;
        ASSERT(item != NULL && item->sent < item->len);
        size_t take = MIN(n, item->len - item->sent);
        item->sent += take;
        item->offset += take;
        n -= take;
        if (item->sent == item->len) {
            s->wq_head = item->next;
            if (s->wq_head == NULL) s->wq_tail = NULL;
            posix_wq_item_free(s->ctx, item);
        }
    }
}

/* Sends the head file item with sendfile(2), or by copy where the file system lacks it. */
static ssize_t posix_send_file_item(struct io_stream *s, struct posix_wq_item *item) {
    size_t left = item->len - item->sent;
    off_t off = (off_t)item->offset;
    int file_fd = item->file->h.fd;
    ssize_t n = sendfile(s->h.fd, file_fd, &off, left);
    if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
        size_t chunk = MIN(left, sizeof(s->ctx->read_buf));
        ssize_t got = pread(file_fd, s->ctx->read_buf, chunk, (off_t)item->offset);
        n = got > 0 ? send(s->h.fd, s->ctx->read_buf, (size_t)got, MSG_NOSIGNAL) : got;
    }
    if (n == 0) {
        /* The file is shorter than the range promised: a bug of the caller or a truncation
         * under us; the peer would wait forever, so end the stream. */
        errno = EIO;
        return -1;
    }
    return n;
}

/* Sends the run of buffer items at the head of the queue in one sendmsg (gather write). */
static ssize_t posix_send_buffers(struct io_stream *s) {
    struct iovec iov[POSIX_IOV_MAX];
    size_t count = 0;
    struct posix_wq_item *item = s->wq_head;
    for (; item != NULL && item->file == NULL && count < POSIX_IOV_MAX; item = item->next) {
        iov[count].iov_base = item->data + item->sent;
        iov[count].iov_len = item->len - item->sent;
        count++;
    }
    ASSERT(count > 0);
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    /* A file range follows (a fetch response's header before its records): MSG_MORE lets
     * the kernel put both in the same segments instead of pushing the small header alone
     * (TCP_NODELAY is on); the sendfile's last page pushes. */
    int flags = MSG_NOSIGNAL;
    if (item != NULL && item->file != NULL) flags |= MSG_MORE;
    return sendmsg(s->h.fd, &msg, flags);
}

/* Hands queued bytes to the kernel until the queue empties, the socket would block, or the
 * bound on calls is hit. Runs no callback; an emptied queue schedules the drain callback. */
static void posix_stream_flush(struct io_stream *s) {
    if (s->connecting || s->failed || s->h.closed) return;
    bool had_bytes = s->wq_head != NULL;
    for (int calls = 0; s->wq_head != NULL && calls < POSIX_WRITES_PER_FLUSH; calls++) {
        ssize_t n;
        if (fiu_fail("posix/net/write")) {
            n = -1;
            errno = posix_fault_errno(ECONNRESET);
        } else if (s->wq_head->file == NULL) {
            n = posix_send_buffers(s);
        } else {
            n = posix_send_file_item(s, s->wq_head);
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            posix_stream_fail(s, errno);
            return;
        }
        posix_wq_consume(s, (size_t)n);
    }
    if (had_bytes && s->wq_head == NULL) {
        ASSERT(s->queued_bytes == 0);
        posix_pending_add(s, POSIX_PENDING_DRAIN);
    }
    posix_stream_rearm(s);
}

/* Sends what a read callback queued in one go: pipelined requests answered from one read
 * leave in one sendmsg (and one TCP segment) instead of one each. Flushed after every read,
 * not after the whole loop, so an answer never waits for later reads. */
static void posix_stream_deliver(struct io_stream *s, const uint8_t *data, size_t len,
                                 int status) {
    s->reading = true;
    s->flush_due = false;
    s->read_cb(s->arg, s, data, len, status);
    s->reading = false;
    if (!s->h.closed && s->flush_due) posix_stream_flush(s);
}

static void posix_stream_readable(struct io_stream *s) {
    for (int i = 0; i < POSIX_READS_PER_EVENT; i++) {
        if (s->h.closed || s->paused || s->read_ended || !s->started) return;
        ssize_t n;
        if (fiu_fail("posix/net/read")) {
            n = -1;
            errno = posix_fault_errno(ECONNRESET);
        } else {
            n = read(s->h.fd, s->ctx->read_buf, sizeof(s->ctx->read_buf));
        }
        if (n > 0) {
            posix_stream_deliver(s, s->ctx->read_buf, (size_t)n, 0);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n == 0) {
            s->read_ended = true;
            s->end_status = 0;
        } else {
            int err = errno;
            s->failed = true;
            posix_wq_free(s);
            s->read_ended = true;
            s->end_status = -err;
        }
        s->end_delivered = true;
        posix_stream_rearm(s);
        s->read_cb(s->arg, s, NULL, 0, s->end_status);
        return;
    }
}

static void posix_connect_finish(struct io_stream *s) {
    struct posix_ctx *ctx = s->ctx;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s->h.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0 && fiu_fail("posix/net/connect")) err = posix_fault_errno(ECONNREFUSED);
    io_connect_cb cb = s->connect_cb;
    void *arg = s->connect_arg;
    s->connect_cb = NULL;
    s->connecting = false;
    if (err != 0) {
        /* The owner never saw this stream: it dies here. */
        posix_handle_bury(ctx, &s->h);
        cb(arg, NULL, -err);
        return;
    }
    posix_stream_rearm(s);
    cb(arg, s, 0);
}

static void posix_stream_event(struct io_stream *s, uint32_t events) {
    if (s->connecting) {
        posix_connect_finish(s);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (s->started && !s->paused && !s->read_ended) posix_stream_readable(s);
    }
    if (!s->h.closed && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
        if (s->wq_head != NULL) posix_stream_flush(s);
    }
    if (!s->h.closed && (events & (EPOLLHUP | EPOLLERR)) && s->wq_head == NULL &&
        (s->read_ended || !s->started || s->paused)) {
        /* Nothing to read or write now: stop listening so a dead socket cannot spin. */
        if (s->registered) (void)epoll_ctl(s->ctx->epoll_fd, EPOLL_CTL_DEL, s->h.fd, NULL);
        s->registered = false;
        s->events = 0;
    }
}

/* Runs drain and end notifications decided during the pass. */
static int posix_pending_run(struct posix_ctx *ctx) {
    int ran = 0;
    /* Only the entries present now: notifications added by these callbacks go to the tail
     * and run next round. Entries are popped one at a time (never detached as a chain) so
     * that a callback closing another pending stream can unlink it safely. */
    size_t due = ctx->pending_count;
    for (size_t i = 0; i < due && ctx->pending_head != NULL; i++) {
        struct io_stream *s = ctx->pending_head;
        ctx->pending_head = s->pending_next;
        if (ctx->pending_head == NULL) ctx->pending_tail = NULL;
        ctx->pending_count--;
        ASSERT(s->in_pending && !s->h.closed);
        s->in_pending = false;
        s->pending_next = NULL;
        unsigned flags = s->pending;
        s->pending = 0;
        if ((flags & POSIX_PENDING_DRAIN) && s->wq_head == NULL && s->drain_cb != NULL) {
            s->drain_cb(s->arg, s);
            ran++;
        }
        if (!s->h.closed && (flags & POSIX_PENDING_END) && !s->end_delivered) {
            if (s->started && !s->paused) {
                s->end_delivered = true;
                s->read_cb(s->arg, s, NULL, 0, s->end_status);
                ran++;
            }
            /* Otherwise held: io_stream_start()/resume re-queue it (a paused stream
             * delivers no reads). */
        }
    }
    return ran;
}

static void posix_stream_start(void *vctx, struct io_stream *s, io_read_cb read_cb,
                               io_drain_cb drain_cb, void *arg) {
    (void)vctx;
    ASSERT(s != NULL && !s->h.closed && !s->connecting);
    ASSERT(read_cb != NULL);
    s->read_cb = read_cb;
    s->drain_cb = drain_cb;
    s->arg = arg;
    s->started = true;
    if (s->read_ended && !s->end_delivered) posix_pending_add(s, POSIX_PENDING_END);
    posix_stream_rearm(s);
}

static void posix_stream_pause(void *vctx, struct io_stream *s, bool paused) {
    (void)vctx;
    ASSERT(s != NULL && !s->h.closed);
    s->paused = paused;
    if (!paused && s->read_ended && !s->end_delivered) posix_pending_add(s, POSIX_PENDING_END);
    posix_stream_rearm(s);
}

static int posix_stream_enqueue(struct io_stream *s, struct posix_wq_item *item) {
    item->next = NULL;
    if (s->wq_tail != NULL)
        s->wq_tail->next = item;
    else
        s->wq_head = item;
    s->wq_tail = item;
    s->queued_bytes += item->len;
    if (s->reading)
        s->flush_due = true;
    else
        posix_stream_flush(s);
    return 0;
}

static int posix_stream_write(void *vctx, struct io_stream *s, const void *data, size_t len) {
    (void)vctx;
    ASSERT(s != NULL && !s->h.closed);
    ASSERT(data != NULL || len == 0);
    if (s->failed) return s->end_status < 0 ? s->end_status : -EPIPE;
    if (len == 0) return 0;
    if (s->queued_bytes + len > POSIX_QUEUE_BYTES_MAX) return -ENOBUFS;
    struct posix_wq_item *item = posix_xmalloc(sizeof(*item) + len);
    item->file = NULL;
    item->offset = 0;
    item->len = len;
    item->sent = 0;
    memcpy(item->data, data, len);
    return posix_stream_enqueue(s, item);
}

static int posix_stream_sendfile(void *vctx, struct io_stream *s, struct io_file *file,
                                 uint64_t offset, size_t len) {
    (void)vctx;
    ASSERT(s != NULL && !s->h.closed);
    ASSERT(file != NULL && !file->h.closed && !file->orphaned);
    if (s->failed) return s->end_status < 0 ? s->end_status : -EPIPE;
    if (len == 0) return 0;
    if (s->queued_bytes + len > POSIX_QUEUE_BYTES_MAX) return -ENOBUFS;
    struct posix_wq_item *item = posix_xmalloc(sizeof(*item));
    item->file = file;
    file->send_refs++;
    item->offset = offset;
    item->len = len;
    item->sent = 0;
    return posix_stream_enqueue(s, item);
}

static size_t posix_stream_queued(void *vctx, struct io_stream *s) {
    (void)vctx;
    ASSERT(s != NULL && !s->h.closed);
    return s->queued_bytes;
}

static void posix_stream_close(void *vctx, struct io_stream *s) {
    struct posix_ctx *ctx = vctx;
    ASSERT(s != NULL && !s->h.closed);
    posix_wq_free(s);
    posix_pending_remove(s);
    s->registered = false;
    posix_handle_bury(ctx, &s->h);
}

static const char *posix_stream_peer(void *vctx, struct io_stream *s) {
    (void)vctx;
    ASSERT(s != NULL && !s->h.closed);
    return s->peer;
}

static void posix_socket_tune(int fd) {
    int one = 1;
    /* Kafka requests are small and latency-bound: never wait for Nagle. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int posix_connect(void *vctx, const char *host, uint16_t port, io_connect_cb cb, void *arg) {
    struct posix_ctx *ctx = vctx;
    ASSERT(cb != NULL);
    POSIX_FAULT("posix/net/connect", ECONNREFUSED);
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    socklen_t addr_len = 0;
    int rc = posix_resolve(host, port, false, &addr, &addr_len);
    if (rc < 0) return rc;
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    posix_socket_tune(fd);
    if (connect(fd, (struct sockaddr *)&addr, addr_len) < 0 && errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        return -err;
    }
    /* Even a connect that finished at once reports through the loop (EPOLLOUT is ready
     * immediately), so the callback never runs before this call returns. */
    struct io_stream *s = posix_stream_new(ctx, fd);
    s->connecting = true;
    s->connect_cb = cb;
    s->connect_arg = arg;
    posix_format_peer(&addr, s->peer, sizeof(s->peer));
    posix_stream_rearm(s);
    return 0;
}

/* --- Listeners ------------------------------------------------------------------------- */

static void posix_listener_event(struct io_listener *l) {
    struct posix_ctx *ctx = l->ctx;
    for (int i = 0; i < POSIX_ACCEPTS_PER_EVENT && !l->h.closed; i++) {
        struct sockaddr_storage addr;
        memset(&addr, 0, sizeof(addr));
        socklen_t addr_len = sizeof(addr);
        int fd =
            accept4(l->h.fd, (struct sockaddr *)&addr, &addr_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return; /* EAGAIN, or EMFILE & co.: the next readiness event retries. */
        }
        if (fiu_fail("posix/net/accept")) {
            /* An injected accept failure: the peer sees its connection closed. */
            close(fd);
            continue;
        }
        posix_socket_tune(fd);
        struct io_stream *s = posix_stream_new(ctx, fd);
        posix_format_peer(&addr, s->peer, sizeof(s->peer));
        l->cb(l->arg, s);
    }
}

static int posix_listen(void *vctx, const char *host, uint16_t port, io_accept_cb cb, void *arg,
                        struct io_listener **out) {
    struct posix_ctx *ctx = vctx;
    ASSERT(cb != NULL && out != NULL);
    POSIX_FAULT("posix/net/listen", EADDRINUSE);
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    socklen_t addr_len = 0;
    int rc = posix_resolve(host, port, true, &addr, &addr_len);
    if (rc < 0) return rc;
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    /* A restarted broker must rebind its port while old connections sit in TIME_WAIT. */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0 || listen(fd, SOMAXCONN) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    struct sockaddr_storage bound;
    memset(&bound, 0, sizeof(bound));
    socklen_t bound_len = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    struct io_listener *l = posix_xmalloc(sizeof(*l));
    memset(l, 0, sizeof(*l));
    l->h.kind = POSIX_LISTENER;
    l->h.fd = fd;
    l->ctx = ctx;
    l->cb = cb;
    l->arg = arg;
    l->port = bound.ss_family == AF_INET6
                  ? ntohs(((struct sockaddr_in6 *)(void *)&bound)->sin6_port)
                  : ntohs(((struct sockaddr_in *)(void *)&bound)->sin_port);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->h};
    rc = epoll_ctl(ctx->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    ASSERT(rc == 0);
    posix_handle_link(ctx, &l->h);
    *out = l;
    return 0;
}

static uint16_t posix_listener_port(void *vctx, struct io_listener *l) {
    (void)vctx;
    ASSERT(l != NULL && !l->h.closed);
    return l->port;
}

static void posix_listener_close(void *vctx, struct io_listener *l) {
    ASSERT(l != NULL && !l->h.closed);
    posix_handle_bury(vctx, &l->h);
}

/* --- Files ----------------------------------------------------------------------------- */

/* fsyncs the directory holding `path`, making a create/rename/unlink in it durable. */
static int posix_sync_parent(const char *path) {
    char dir[POSIX_PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof(dir)) return -ENAMETOOLONG;
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        dir[0] = '.';
        dir[1] = '\0';
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
    if (fiu_fail("posix/file/sync")) return -posix_fault_errno(EIO);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int posix_file_open(void *vctx, const char *path, int flags, struct io_file **out) {
    struct posix_ctx *ctx = vctx;
    ASSERT(path != NULL && out != NULL);
    POSIX_FAULT("posix/file/open", EIO);
    int oflags = O_CLOEXEC;
    bool create = (flags & IO_OPEN_CREATE) != 0;
    bool writable = (flags & (IO_OPEN_WRITE | IO_OPEN_CREATE | IO_OPEN_TRUNC)) != 0;
    oflags |= writable ? O_RDWR : O_RDONLY;
    if (create) oflags |= O_CREAT;
    if (create && (flags & IO_OPEN_EXCL)) oflags |= O_EXCL;
    if (flags & IO_OPEN_TRUNC) oflags |= O_TRUNC;
    bool existed = true;
    if (create) {
        struct stat st;
        existed = stat(path, &st) == 0;
    }
    int fd;
    do {
        fd = open(path, oflags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return -errno;
    if (create && !existed) {
        /* io.h promises a created file's directory entry is durable on return. */
        int rc = posix_sync_parent(path);
        if (rc < 0) {
            close(fd);
            return rc;
        }
    }
    struct io_file *f = posix_xmalloc(sizeof(*f));
    memset(f, 0, sizeof(*f));
    f->h.kind = POSIX_FILE;
    f->h.fd = fd;
    posix_handle_link(ctx, &f->h);
    *out = f;
    return 0;
}

static int64_t posix_file_pread(void *vctx, struct io_file *f, void *buf, size_t len,
                                uint64_t offset) {
    (void)vctx;
    ASSERT(f != NULL && !f->h.closed && !f->orphaned);
    ASSERT(buf != NULL || len == 0);
    POSIX_FAULT("posix/file/read", EIO);
    size_t done = 0;
    /* Short reads happen (signals, large requests): loop until len or end of file. */
    while (done < len) {
        ssize_t n = pread(f->h.fd, (uint8_t *)buf + done, len - done, (off_t)(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) break;
        done += (size_t)n;
    }
    return (int64_t)done;
}

static int64_t posix_file_pwrite(void *vctx, struct io_file *f, const void *buf, size_t len,
                                 uint64_t offset) {
    (void)vctx;
    ASSERT(f != NULL && !f->h.closed && !f->orphaned);
    ASSERT(buf != NULL || len == 0);
    POSIX_FAULT("posix/file/write", EIO);
    size_t done = 0;
    while (done < len) {
        ssize_t n =
            pwrite(f->h.fd, (const uint8_t *)buf + done, len - done, (off_t)(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO; /* No progress and no error: do not spin. */
        done += (size_t)n;
    }
    return (int64_t)done;
}

static int posix_file_sync(void *vctx, struct io_file *f) {
    (void)vctx;
    ASSERT(f != NULL && !f->h.closed && !f->orphaned);
    POSIX_FAULT("posix/file/sync", EIO);
    /* fdatasync covers data and the size (the metadata needed to read it back). After an
     * fsync error the page cache state is unknown: the caller must treat the file as
     * suspect, not retry and carry on (the "fsyncgate" lesson). */
    int rc;
    do {
        rc = fdatasync(f->h.fd);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

static int posix_file_truncate(void *vctx, struct io_file *f, uint64_t size) {
    (void)vctx;
    ASSERT(f != NULL && !f->h.closed && !f->orphaned);
    POSIX_FAULT("posix/file/truncate", EIO);
    int rc;
    do {
        rc = ftruncate(f->h.fd, (off_t)size);
    } while (rc < 0 && errno == EINTR);
    return rc < 0 ? -errno : 0;
}

static int64_t posix_file_size(void *vctx, struct io_file *f) {
    (void)vctx;
    ASSERT(f != NULL && !f->h.closed && !f->orphaned);
    struct stat st;
    if (fstat(f->h.fd, &st) < 0) return -errno;
    return (int64_t)st.st_size;
}

static void posix_file_close(void *vctx, struct io_file *f) {
    ASSERT(f != NULL && !f->h.closed && !f->orphaned);
    if (f->send_refs > 0) {
        f->orphaned = true; /* Queued ranges still read it; the last one closes it. */
        return;
    }
    posix_handle_bury(vctx, &f->h);
}

static int posix_rename(void *vctx, const char *from, const char *to) {
    (void)vctx;
    ASSERT(from != NULL && to != NULL);
    POSIX_FAULT("posix/file/rename", EIO);
    if (rename(from, to) < 0) return -errno;
    int rc = posix_sync_parent(to);
    if (rc < 0) return rc;
    /* A move across directories changes two entries; both must be durable. */
    const char *fs = strrchr(from, '/'), *ts = strrchr(to, '/');
    size_t flen = fs == NULL ? 0 : (size_t)(fs - from), tlen = ts == NULL ? 0 : (size_t)(ts - to);
    if (flen != tlen || strncmp(from, to, flen) != 0) rc = posix_sync_parent(from);
    return rc;
}

static int posix_unlink(void *vctx, const char *path) {
    (void)vctx;
    ASSERT(path != NULL);
    POSIX_FAULT("posix/file/unlink", EIO);
    if (unlink(path) < 0) return -errno;
    return posix_sync_parent(path);
}

static int posix_mkdir(void *vctx, const char *path) {
    (void)vctx;
    ASSERT(path != NULL);
    POSIX_FAULT("posix/file/mkdir", EIO);
    if (mkdir(path, 0755) < 0) return -errno;
    return posix_sync_parent(path);
}

static int posix_rmdir(void *vctx, const char *path) {
    (void)vctx;
    ASSERT(path != NULL);
    POSIX_FAULT("posix/file/rmdir", EIO);
    if (rmdir(path) < 0) return -errno;
    return posix_sync_parent(path);
}

struct posix_dirent {
    char *name;
    bool is_dir;
};

static int posix_dirent_cmp(const void *a, const void *b) {
    const struct posix_dirent *x = a, *y = b;
    return strcmp(x->name, y->name); /* Byte-wise, like the simulated disk. */
}

static int posix_list_dir(void *vctx, const char *path, io_dir_entry_cb cb, void *arg) {
    (void)vctx;
    ASSERT(path != NULL && cb != NULL);
    POSIX_FAULT("posix/file/list_dir", EIO);
    DIR *dir = opendir(path);
    if (dir == NULL) return -errno;
    struct posix_dirent *entries = NULL;
    size_t count = 0, capacity = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) rc = -errno;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (count == POSIX_DIR_ENTRIES_MAX) {
            rc = -EFBIG;
            break;
        }
        if (count == capacity) {
            capacity = capacity == 0 ? 32 : capacity * 2;
            struct posix_dirent *grown = realloc(entries, capacity * sizeof(*grown));
            if (grown == NULL) {
                fprintf(stderr, "io_posix: out of memory listing %s\n", path);
                abort();
            }
            entries = grown;
        }
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = fstatat(dirfd(dir), de->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
        }
        size_t len = strlen(de->d_name);
        entries[count].name = posix_xmalloc(len + 1);
        memcpy(entries[count].name, de->d_name, len + 1);
        entries[count].is_dir = is_dir;
        count++;
    }
    closedir(dir);
    if (rc == 0 && count > 0) qsort(entries, count, sizeof(*entries), posix_dirent_cmp);
    for (size_t i = 0; i < count; i++) {
        if (rc == 0) cb(arg, entries[i].name, entries[i].is_dir);
        free(entries[i].name);
    }
    free(entries);
    return rc;
}

static int posix_exists(void *vctx, const char *path, bool *is_dir) {
    (void)vctx;
    ASSERT(path != NULL);
    struct stat st;
    if (stat(path, &st) < 0) return -errno;
    if (is_dir != NULL) *is_dir = S_ISDIR(st.st_mode);
    return 0;
}

/* --- Entropy, observation -------------------------------------------------------------- */

static uint64_t posix_random_u64(void *vctx) {
    (void)vctx;
    uint64_t value = 0;
    size_t got = 0;
    for (int tries = 0; got < sizeof(value) && tries < 100; tries++) {
        ssize_t n = getrandom((uint8_t *)&value + got, sizeof(value) - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        got += (size_t)n;
    }
    if (got != sizeof(value)) {
        fprintf(stderr, "io_posix: getrandom failed: %s\n", strerror(errno));
        abort();
    }
    return value;
}

static void posix_trace(void *vctx, const char *event, const struct io_trace_field *fields,
                        size_t count) {
    struct posix_ctx *ctx = vctx;
    ASSERT(event != NULL);
    ASSERT(fields != NULL || count == 0);
    if (ctx->trace_file == NULL) return;
    fprintf(ctx->trace_file, "%" PRId64 " %s", posix_wall_ms(ctx), event);
    for (size_t i = 0; i < count; i++) {
        if (fields[i].type == IO_TRACE_INT)
            fprintf(ctx->trace_file, " %s=%" PRId64, fields[i].key, fields[i].i);
        else
            fprintf(ctx->trace_file, " %s=\"%s\"", fields[i].key,
                    fields[i].s == NULL ? "" : fields[i].s);
    }
    fputc('\n', ctx->trace_file);
}

static const char *const posix_level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

__attribute__((format(printf, 3, 0))) static void posix_log(void *vctx, enum io_log_level level,
                                                            const char *fmt, va_list ap) {
    struct posix_ctx *ctx = vctx;
    ASSERT(level >= IO_LOG_DEBUG && level <= IO_LOG_ERROR);
    if (level < ctx->log_level) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    /* One fprintf per part but a single line; stderr is unbuffered so lines from several
     * processes may interleave, never within our own loop. */
    fprintf(stderr, "%s.%03ldZ %-5s ", stamp, ts.tv_nsec / 1000000, posix_level_names[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static bool posix_buggify(void *vctx, const char *site) {
    (void)vctx;
    (void)site;
    return false; /* The real world never buggifies. */
}

static const struct io_vtable posix_vtable = {
    .monotonic_ns = posix_monotonic_ns,
    .wall_ms = posix_wall_ms,
    .timer_start = posix_timer_start,
    .timer_cancel = posix_timer_cancel,
    .listen = posix_listen,
    .listener_port = posix_listener_port,
    .listener_close = posix_listener_close,
    .connect = posix_connect,
    .stream_start = posix_stream_start,
    .stream_pause = posix_stream_pause,
    .stream_write = posix_stream_write,
    .stream_sendfile = posix_stream_sendfile,
    .stream_queued = posix_stream_queued,
    .stream_close = posix_stream_close,
    .stream_peer = posix_stream_peer,
    .file_open = posix_file_open,
    .file_pread = posix_file_pread,
    .file_pwrite = posix_file_pwrite,
    .file_sync = posix_file_sync,
    .file_truncate = posix_file_truncate,
    .file_size = posix_file_size,
    .file_close = posix_file_close,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .mkdir = posix_mkdir,
    .rmdir = posix_rmdir,
    .list_dir = posix_list_dir,
    .exists = posix_exists,
    .random_u64 = posix_random_u64,
    .alloc = posix_alloc,
    .realloc = posix_realloc,
    .free = posix_free,
    .trace = posix_trace,
    .log = posix_log,
    .buggify = posix_buggify,
};

/* --- The loop -------------------------------------------------------------------------- */

/* --- Signals (programs only) ---------------------------------------------------------- */

static void posix_signal_event(struct posix_signal *sig) {
    for (int i = 0; i < 16 && !sig->h.closed; i++) {
        struct signalfd_siginfo info;
        ssize_t n = read(sig->h.fd, &info, sizeof(info));
        if (n < 0 && errno == EINTR) continue;
        if (n != (ssize_t)sizeof(info)) return; /* EAGAIN: drained. */
        sig->cb(sig->arg, (int)info.ssi_signo);
    }
}

int io_posix_watch_signals(struct io *io, const int *signals, size_t count, io_posix_signal_cb cb,
                           void *arg) {
    struct posix_ctx *ctx = posix_ctx_of(io);
    ASSERT(cb != NULL && (signals != NULL || count == 0));
    sigset_t mask;
    sigemptyset(&mask);
    for (size_t i = 0; i < count; i++) {
        if (sigaddset(&mask, signals[i]) < 0) return -EINVAL;
    }
    /* Blocked signals stay pending for the signalfd instead of running a handler. */
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) return -errno;
    if (ctx->signal != NULL) {
        posix_handle_bury(ctx, &ctx->signal->h);
        ctx->signal = NULL;
    }
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return -errno;
    struct posix_signal *sig = posix_xmalloc(sizeof(*sig));
    memset(sig, 0, sizeof(*sig));
    sig->h.kind = POSIX_SIGNAL;
    sig->h.fd = fd;
    sig->cb = cb;
    sig->arg = arg;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sig->h};
    int rc = epoll_ctl(ctx->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    ASSERT(rc == 0);
    posix_handle_link(ctx, &sig->h);
    ctx->signal = sig;
    return 0;
}

static enum io_log_level posix_level_from_env(void) {
    const char *v = getenv("TRIAL_LOG_LEVEL");
    if (v == NULL) return IO_LOG_INFO;
    if (strcmp(v, "debug") == 0) return IO_LOG_DEBUG;
    if (strcmp(v, "warn") == 0) return IO_LOG_WARN;
    if (strcmp(v, "error") == 0) return IO_LOG_ERROR;
    return IO_LOG_INFO;
}

struct io *io_posix_create(void) {
    /* Idempotent; makes the points controllable by fiu-run/fiu-ctrl. */
    fiu_init(0);
    /* sendfile(2) has no MSG_NOSIGNAL: a peer that vanished must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    struct posix_ctx *ctx = posix_xmalloc(sizeof(*ctx));
    memset(ctx, 0, sizeof(*ctx));
    ctx->io.vtable = &posix_vtable;
    ctx->io.ctx = ctx;
    ctx->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->epoll_fd < 0) {
        fprintf(stderr, "io_posix: epoll_create1: %s\n", strerror(errno));
        abort();
    }
    ctx->timer_next_id = 1;
    ctx->log_level = posix_level_from_env();
    const char *trace_path = getenv("TRIAL_TRACE_FILE");
    if (trace_path != NULL && trace_path[0] != '\0') {
        ctx->trace_file = fopen(trace_path, "a");
        if (ctx->trace_file == NULL)
            fprintf(stderr, "io_posix: cannot open TRIAL_TRACE_FILE %s: %s\n", trace_path,
                    strerror(errno));
    }
    return &ctx->io;
}

int io_posix_run_once(struct io *io, int timeout_ms) {
    struct posix_ctx *ctx = posix_ctx_of(io);
    int timeout = timeout_ms;
    if (ctx->pending_head != NULL) timeout = 0;
    if (ctx->timer_count > 0) {
        uint64_t now = posix_monotonic_ns(ctx);
        uint64_t due = ctx->timers[0].deadline_ns;
        uint64_t wait_ms = due <= now ? 0 : (due - now + NS_PER_MS - 1) / NS_PER_MS;
        if (wait_ms > INT32_MAX) wait_ms = INT32_MAX;
        if (timeout < 0 || (uint64_t)timeout > wait_ms) timeout = (int)wait_ms;
    }
    struct epoll_event events[POSIX_EPOLL_BATCH];
    int n = epoll_wait(ctx->epoll_fd, events, POSIX_EPOLL_BATCH, timeout);
    if (n < 0) {
        if (errno != EINTR) return -errno;
        n = 0;
    }
    int ran = 0;
    for (int i = 0; i < n; i++) {
        struct posix_handle *h = events[i].data.ptr;
        if (h->closed) continue; /* Closed by an earlier callback of this batch. */
        if (h->kind == POSIX_LISTENER) {
            posix_listener_event((struct io_listener *)(void *)h);
        } else if (h->kind == POSIX_SIGNAL) {
            posix_signal_event((struct posix_signal *)(void *)h);
        } else {
            ASSERT(h->kind == POSIX_STREAM);
            posix_stream_event((struct io_stream *)(void *)h, events[i].events);
        }
        ran++;
    }
    ran += posix_timers_fire(ctx);
    for (int round = 0; round < POSIX_PENDING_PASSES && ctx->pending_head != NULL; round++)
        ran += posix_pending_run(ctx);
    posix_dead_free(ctx);
    return ran;
}

int io_posix_run(struct io *io) {
    struct posix_ctx *ctx = posix_ctx_of(io);
    ctx->stopping = false;
    while (!ctx->stopping) {
        int rc = io_posix_run_once(io, -1);
        if (rc < 0) return rc;
    }
    return 0;
}

void io_posix_stop(struct io *io) { posix_ctx_of(io)->stopping = true; }

size_t io_posix_allocated_bytes(struct io *io) { return posix_ctx_of(io)->allocated_bytes; }

void io_posix_destroy(struct io *io) {
    if (io == NULL) return;
    struct posix_ctx *ctx = posix_ctx_of(io);
    size_t leaked = 0;
    /* Send queues first: dropping them closes the files only they still held open. */
    for (struct posix_handle *h = ctx->live; h != NULL; h = h->next) {
        if (h->kind == POSIX_STREAM) posix_wq_free((struct io_stream *)(void *)h);
    }
    while (ctx->live != NULL) {
        struct posix_handle *h = ctx->live;
        if (h->kind != POSIX_SIGNAL) leaked++; /* The signal watcher is the loop's own. */
        posix_handle_bury(ctx, h);
    }
    if (leaked > 0) {
        fprintf(stderr, "io_posix: destroy closed %zu handle(s) left open by their owner\n",
                leaked);
    }
    posix_dead_free(ctx);
    free(ctx->timers);
    if (ctx->trace_file != NULL) fclose(ctx->trace_file);
    close(ctx->epoll_fd);
    free(ctx);
}
