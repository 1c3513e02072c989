/*
 * test_broker_fake_io.c — the controlled io world of test_broker_fake_io.h.
 */
#include "test_broker_fake_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

#define FIO(ctx) ((struct fake_io *)(ctx))

static uint64_t f_monotonic_ns(void *ctx) { return FIO(ctx)->now_ns; }
static int64_t f_wall_ms(void *ctx) { return FIO(ctx)->wall_ms + (int64_t)(FIO(ctx)->now_ns / 1000000); }

static io_timer_id f_timer_start(void *ctx, uint64_t deadline_ns, io_timer_cb cb, void *arg) {
    struct fake_io *fio = ctx;
    for (int i = 0; i < FAKE_IO_TIMERS_MAX; i++) {
        if (fio->timers[i].used) continue;
        fio->timers[i].used = true;
        fio->timers[i].id = ++fio->next_timer_id;
        fio->timers[i].deadline_ns = deadline_ns;
        fio->timers[i].cb = cb;
        fio->timers[i].arg = arg;
        return fio->timers[i].id;
    }
    abort();
}

static void f_timer_cancel(void *ctx, io_timer_id id) {
    struct fake_io *fio = ctx;
    for (int i = 0; i < FAKE_IO_TIMERS_MAX; i++) {
        if (fio->timers[i].used && fio->timers[i].id == id) fio->timers[i].used = false;
    }
}

static int f_listen(void *ctx, const char *host, uint16_t port, io_accept_cb cb, void *arg,
                    struct io_listener **out) {
    FIO(ctx)->accept_cb = cb;
    FIO(ctx)->accept_arg = arg;
    *out = (struct io_listener *)ctx;
    return 0;
}
static uint16_t f_listener_port(void *ctx, struct io_listener *l) { return 9092; }
static void f_listener_close(void *ctx, struct io_listener *l) { FIO(ctx)->accept_cb = NULL; }
static int f_connect(void *ctx, const char *host, uint16_t port, io_connect_cb cb, void *arg) {
    return -ECONNREFUSED;
}

static void append(uint8_t **buf, size_t *len, const void *data, size_t n) {
    *buf = realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, data, n);
    *len += n;
}

static void f_stream_start(void *ctx, struct io_stream *stream, io_read_cb read_cb,
                           io_drain_cb drain_cb, void *arg) {
    struct fake_stream *fs = (struct fake_stream *)stream;
    fs->read_cb = read_cb;
    fs->drain_cb = drain_cb;
    fs->arg = arg;
    fs->started = true;
}

static void deliver_inbox(struct fake_io *fio, struct fake_stream *fs) {
    /* Deliver in small chunks so frame reassembly across reads is always exercised. */
    while (fs->started && !fs->paused && !fs->closed_by_owner && fs->inbox_len > 0) {
        size_t n = fs->inbox_len < 7 ? fs->inbox_len : 7;
        uint8_t chunk[7];
        memcpy(chunk, fs->inbox, n);
        memmove(fs->inbox, fs->inbox + n, fs->inbox_len - n);
        fs->inbox_len -= n;
        fs->read_cb(fs->arg, (struct io_stream *)fs, chunk, n, 0);
    }
}

static void f_stream_pause(void *ctx, struct io_stream *stream, bool paused) {
    struct fake_stream *fs = (struct fake_stream *)stream;
    fs->paused = paused;
}

static int f_stream_write(void *ctx, struct io_stream *stream, const void *data, size_t len) {
    struct fake_stream *fs = (struct fake_stream *)stream;
    if (fs->ended) return -EPIPE;
    append(&fs->queued, &fs->queued_len, data, len);
    return 0;
}

/* A "file" here is just memory: the io_file pointer addresses the bytes (tests only). */
static int f_stream_sendfile(void *ctx, struct io_stream *stream, struct io_file *file,
                             uint64_t offset, size_t len) {
    struct fake_stream *fs = (struct fake_stream *)stream;
    if (fs->ended) return -EPIPE;
    fs->sendfile_calls++;
    append(&fs->queued, &fs->queued_len, (const uint8_t *)file + offset, len);
    return 0;
}
static size_t f_stream_queued(void *ctx, struct io_stream *stream) {
    return ((struct fake_stream *)stream)->queued_len;
}
static void f_stream_close(void *ctx, struct io_stream *stream) {
    struct fake_stream *fs = (struct fake_stream *)stream;
    ASSERT(!fs->closed_by_owner);
    fs->closed_by_owner = true;
}
static const char *f_stream_peer(void *ctx, struct io_stream *stream) { return "127.0.0.1:5555"; }

static int f_file_open(void *ctx, const char *path, int flags, struct io_file **out) { return -ENOENT; }
/* Reads the memory "file" (see f_stream_sendfile); counted, or fails with file_pread_error. */
static int64_t f_pread(void *ctx, struct io_file *f, void *b, size_t l, uint64_t o) {
    FIO(ctx)->file_pread_calls++;
    if (FIO(ctx)->file_pread_error != 0) return FIO(ctx)->file_pread_error;
    if (l > 0) memcpy(b, (const uint8_t *)f + o, l);
    return (int64_t)l;
}
static int64_t f_pwrite(void *ctx, struct io_file *f, const void *b, size_t l, uint64_t o) { return -EIO; }
static int f_sync(void *ctx, struct io_file *f) { return -EIO; }
static int f_truncate(void *ctx, struct io_file *f, uint64_t s) { return -EIO; }
static int64_t f_size(void *ctx, struct io_file *f) { return -EIO; }
static void f_close(void *ctx, struct io_file *f) {}
static int f_rename(void *ctx, const char *a, const char *b) { return -EIO; }
static int f_unlink(void *ctx, const char *p) { return -ENOENT; }
static int f_mkdir(void *ctx, const char *p) { return -EIO; }
static int f_rmdir(void *ctx, const char *p) { return -EIO; }
static int f_list_dir(void *ctx, const char *p, io_dir_entry_cb cb, void *arg) { return -ENOENT; }
static int f_exists(void *ctx, const char *p, bool *d) { return -ENOENT; }

static uint64_t f_random(void *ctx) {
    struct fake_io *fio = ctx;
    fio->random_state ^= fio->random_state << 13;
    fio->random_state ^= fio->random_state >> 7;
    fio->random_state ^= fio->random_state << 17;
    return fio->random_state;
}
static void *f_alloc(void *ctx, size_t size) {
    FIO(ctx)->bytes_allocated += (int64_t)size;
    void *p = calloc(1, size ? size : 1);
    ASSERT(p != NULL);
    return p;
}
static void *f_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    FIO(ctx)->bytes_allocated += (int64_t)new_size - (int64_t)old_size;
    void *p = realloc(ptr, new_size ? new_size : 1);
    ASSERT(p != NULL);
    return p;
}
static void f_free(void *ctx, void *ptr, size_t size) {
    if (ptr == NULL) return;
    FIO(ctx)->bytes_allocated -= (int64_t)size;
    free(ptr);
}
static void f_trace(void *ctx, const char *e, const struct io_trace_field *f, size_t n) {}
static void f_log(void *ctx, enum io_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void f_log(void *ctx, enum io_log_level level, const char *fmt, va_list ap) {
    if (level >= IO_LOG_WARN) FIO(ctx)->warnings++;
    if (getenv("FAKE_IO_VERBOSE") != NULL) {
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
}
static bool f_buggify(void *ctx, const char *site) { return false; }

static const struct io_vtable fake_vtable = {
    .monotonic_ns = f_monotonic_ns, .wall_ms = f_wall_ms, .timer_start = f_timer_start,
    .timer_cancel = f_timer_cancel, .listen = f_listen, .listener_port = f_listener_port,
    .listener_close = f_listener_close, .connect = f_connect, .stream_start = f_stream_start,
    .stream_pause = f_stream_pause, .stream_write = f_stream_write,
    .stream_sendfile = f_stream_sendfile, .stream_queued = f_stream_queued,
    .stream_close = f_stream_close, .stream_peer = f_stream_peer, .file_open = f_file_open,
    .file_pread = f_pread, .file_pwrite = f_pwrite, .file_sync = f_sync,
    .file_truncate = f_truncate, .file_size = f_size, .file_close = f_close,
    .rename = f_rename, .unlink = f_unlink, .mkdir = f_mkdir, .rmdir = f_rmdir,
    .list_dir = f_list_dir, .exists = f_exists, .random_u64 = f_random, .alloc = f_alloc,
    .realloc = f_realloc, .free = f_free, .trace = f_trace, .log = f_log,
    .buggify = f_buggify,
};

void fake_io_init(struct fake_io *fio) {
    memset(fio, 0, sizeof(*fio));
    fio->io.vtable = &fake_vtable;
    fio->io.ctx = fio;
    fio->now_ns = 1000 * NS_PER_S;
    fio->wall_ms = 1700000000000LL;
    fio->random_state = 0x9E3779B97F4A7C15ULL;
}

void fake_io_fini(struct fake_io *fio) {
    for (int i = 0; i < FAKE_IO_STREAMS_MAX; i++) {
        free(fio->streams[i].inbox);
        free(fio->streams[i].queued);
        free(fio->streams[i].sent);
    }
}

void fake_io_advance_ns(struct fake_io *fio, uint64_t delta_ns) {
    uint64_t target = fio->now_ns + delta_ns;
    for (;;) {
        int best = -1;
        for (int i = 0; i < FAKE_IO_TIMERS_MAX; i++) {
            if (!fio->timers[i].used || fio->timers[i].deadline_ns > target) continue;
            if (best < 0 || fio->timers[i].deadline_ns < fio->timers[best].deadline_ns ||
                (fio->timers[i].deadline_ns == fio->timers[best].deadline_ns &&
                 fio->timers[i].id < fio->timers[best].id)) {
                best = i;
            }
        }
        if (best < 0) break;
        if (fio->timers[best].deadline_ns > fio->now_ns) fio->now_ns = fio->timers[best].deadline_ns;
        fio->timers[best].used = false;
        fio->timers[best].cb(fio->timers[best].arg);
    }
    fio->now_ns = target;
}

int fake_io_timer_count(const struct fake_io *fio) {
    int n = 0;
    for (int i = 0; i < FAKE_IO_TIMERS_MAX; i++) n += fio->timers[i].used;
    return n;
}

struct fake_stream *fake_io_connect_client(struct fake_io *fio) {
    ASSERT(fio->accept_cb != NULL);
    for (int i = 0; i < FAKE_IO_STREAMS_MAX; i++) {
        struct fake_stream *fs = &fio->streams[i];
        if (fs->used) continue;
        memset(fs, 0, sizeof(*fs));
        fs->used = true;
        fio->accept_cb(fio->accept_arg, (struct io_stream *)fs);
        return fs;
    }
    abort();
}

void fake_stream_deliver(struct fake_io *fio, struct fake_stream *fs, const void *data,
                         size_t len) {
    append(&fs->inbox, &fs->inbox_len, data, len);
    deliver_inbox(fio, fs);
}

void fake_stream_end(struct fake_io *fio, struct fake_stream *fs, int status) {
    deliver_inbox(fio, fs);
    if (fs->closed_by_owner || fs->ended) return;
    fs->ended = true;
    fs->read_cb(fs->arg, (struct io_stream *)fs, NULL, 0, status);
}

void fake_stream_flush(struct fake_io *fio, struct fake_stream *fs) {
    if (fs->closed_by_owner) return;
    if (!fs->stall && fs->queued_len > 0) {
        append(&fs->sent, &fs->sent_len, fs->queued, fs->queued_len);
        fs->queued_len = 0;
        if (fs->drain_cb != NULL) fs->drain_cb(fs->arg, (struct io_stream *)fs);
    }
    deliver_inbox(fio, fs); /* A resumed stream gets its buffered bytes. */
}

size_t fake_stream_take(struct fake_stream *fs, void *out, size_t len) {
    size_t n = len < fs->sent_len ? len : fs->sent_len;
    if (n == 0) return 0; /* fs->sent may still be NULL. */
    memcpy(out, fs->sent, n);
    memmove(fs->sent, fs->sent + n, fs->sent_len - n);
    fs->sent_len -= n;
    return n;
}
