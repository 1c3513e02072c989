/*
 * io.h — THE seam between Trial's system code and the world it runs in.
 *
 * Everything in system/ reaches time, timers, the network, files, randomness, memory,
 * tracing and fault injection only through a `struct io` handed to it at start. Two
 * implementations exist: system/io/io_posix.c (epoll, POSIX files, real clocks, getrandom,
 * libfiu fault points) and sim/io_sim.c (one per simulated node: virtual clock with skew,
 * simulated network and disk, seeded PRNG, per-node memory that a crash frees wholesale).
 *
 * Contract shared by both worlds (the libuv rules):
 *  - Errors are negative errno values (-EIO, -ENOSPC, -ECONNRESET, ...); 0 or a count is
 *    success.
 *  - A call that fails synchronously never calls its callback.
 *  - No callback ever runs before the call that registered it has returned. Callbacks run
 *    from the event loop (io_posix) or the scheduler (sim), one at a time, on one thread.
 *  - Handles (streams, listeners, files) stay valid until the owner closes them; after
 *    close no callback for that handle runs again.
 *  - File operations are synchronous: they complete (or fail) before returning, in both
 *    worlds. Durability is only promised by io_file_sync(): in the simulation a crash may
 *    drop or tear any write not yet synced (see sim/disk.h for the crash model).
 *  - Directory metadata (create, rename, unlink) is durable when the call returns. This is
 *    stronger than POSIX without a directory fsync; io_posix therefore fsyncs the parent
 *    directory inside io_rename/io_unlink/io_file_open(IO_CREATE) so both worlds agree.
 *
 * The handle is a table of function pointers plus an opaque context; the static inline
 * wrappers below are what callers use. No implementation keeps global state that another
 * handle can see: several nodes live in one process.
 */
#ifndef TRIAL_IO_H
#define TRIAL_IO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io;
struct io_stream;   /* A connected, ordered, reliable byte stream (TCP-like). */
struct io_listener; /* A listening endpoint that accepts streams. */
struct io_file;     /* An open file. */

typedef uint64_t io_timer_id; /* 0 is never a valid id. */

/* Log levels for io_log(). */
enum io_log_level { IO_LOG_DEBUG = 0, IO_LOG_INFO = 1, IO_LOG_WARN = 2, IO_LOG_ERROR = 3 };

/* Flags for io_file_open(). */
enum io_open_flags {
    IO_OPEN_READ = 0,        /* Read only. */
    IO_OPEN_WRITE = 1 << 0,  /* Read and write. */
    IO_OPEN_CREATE = 1 << 1, /* Create if missing (implies IO_OPEN_WRITE). */
    IO_OPEN_EXCL = 1 << 2,   /* With CREATE: fail with -EEXIST if it exists. */
    IO_OPEN_TRUNC = 1 << 3,  /* Truncate to zero when opening; implies IO_OPEN_WRITE. */
};

/* A typed field of a trace event. Use the IO_TF_* macros to build them. */
enum io_trace_type { IO_TRACE_INT = 0, IO_TRACE_STR = 1 };
struct io_trace_field {
    const char *key;         /* Static string, e.g. "offset". */
    enum io_trace_type type; /* Which of the two values below is meaningful. */
    int64_t i;               /* IO_TRACE_INT value. */
    const char *s;           /* IO_TRACE_STR value; copied by the implementation. */
};
#define IO_TF_I(k, v) ((struct io_trace_field){.key = (k), .type = IO_TRACE_INT, .i = (int64_t)(v)})
#define IO_TF_S(k, v) ((struct io_trace_field){.key = (k), .type = IO_TRACE_STR, .s = (v)})

/* Timer fired. Runs at or after its deadline, never before. */
typedef void (*io_timer_cb)(void *arg);
/* A listener accepted a stream. The receiver owns `stream` and must eventually close it. */
typedef void (*io_accept_cb)(void *arg, struct io_stream *stream);
/* An outgoing connection finished: status 0 and a stream, or status < 0 and NULL. */
typedef void (*io_connect_cb)(void *arg, struct io_stream *stream, int status);
/*
 * Bytes arrived (len > 0, status 0) or the stream ended: status -ECONNRESET, -ETIMEDOUT,
 * ... or 0 with len 0 for an orderly EOF. After an end the stream delivers nothing more;
 * the owner must still io_stream_close() it. `data` is valid only during the call.
 */
typedef void (*io_read_cb)(void *arg, struct io_stream *stream, const uint8_t *data, size_t len,
                           int status);
/* Every byte queued so far has left our send queue (handed to the kernel or the network). */
typedef void (*io_drain_cb)(void *arg, struct io_stream *stream);
/* One directory entry, in byte-wise ascending name order (deterministic in both worlds). */
typedef void (*io_dir_entry_cb)(void *arg, const char *name, bool is_dir);

struct io_vtable {
    /* Clocks. */
    uint64_t (*monotonic_ns)(void *ctx);
    int64_t (*wall_ms)(void *ctx);

    /* Timers. */
    io_timer_id (*timer_start)(void *ctx, uint64_t deadline_ns, io_timer_cb cb, void *arg);
    void (*timer_cancel)(void *ctx, io_timer_id id);

    /* Streams. */
    int (*listen)(void *ctx, const char *host, uint16_t port, io_accept_cb cb, void *arg,
                  struct io_listener **out);
    uint16_t (*listener_port)(void *ctx, struct io_listener *listener);
    void (*listener_close)(void *ctx, struct io_listener *listener);
    int (*connect)(void *ctx, const char *host, uint16_t port, io_connect_cb cb, void *arg);
    void (*stream_start)(void *ctx, struct io_stream *stream, io_read_cb read_cb,
                         io_drain_cb drain_cb, void *arg);
    void (*stream_pause)(void *ctx, struct io_stream *stream, bool paused);
    int (*stream_write)(void *ctx, struct io_stream *stream, const void *data, size_t len);
    int (*stream_sendfile)(void *ctx, struct io_stream *stream, struct io_file *file,
                           uint64_t offset, size_t len);
    size_t (*stream_queued)(void *ctx, struct io_stream *stream);
    void (*stream_close)(void *ctx, struct io_stream *stream);
    const char *(*stream_peer)(void *ctx, struct io_stream *stream);

    /* Files. */
    int (*file_open)(void *ctx, const char *path, int flags, struct io_file **out);
    int64_t (*file_pread)(void *ctx, struct io_file *file, void *buf, size_t len,
                          uint64_t offset);
    int64_t (*file_pwrite)(void *ctx, struct io_file *file, const void *buf, size_t len,
                           uint64_t offset);
    int (*file_sync)(void *ctx, struct io_file *file);
    int (*file_truncate)(void *ctx, struct io_file *file, uint64_t size);
    int64_t (*file_size)(void *ctx, struct io_file *file);
    void (*file_close)(void *ctx, struct io_file *file);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *path);
    int (*mkdir)(void *ctx, const char *path);
    int (*rmdir)(void *ctx, const char *path);
    int (*list_dir)(void *ctx, const char *path, io_dir_entry_cb cb, void *arg);
    int (*exists)(void *ctx, const char *path, bool *is_dir);

    /* Entropy, memory, observation, fault injection. */
    uint64_t (*random_u64)(void *ctx);
    void *(*alloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
    void (*free)(void *ctx, void *ptr, size_t size);
    void (*trace)(void *ctx, const char *event, const struct io_trace_field *fields,
                  size_t count);
    void (*log)(void *ctx, enum io_log_level level, const char *fmt, va_list ap);
    bool (*buggify)(void *ctx, const char *site);
    /* Added last (additive): is the named mutant (a deliberate protocol bug, see
     * system/base/mutant.h) switched on? NULL = never, as in io_posix. */
    bool (*mutant)(void *ctx, const char *name);
};

/* The handle: one per node. `ctx` belongs to the implementation. */
struct io {
    const struct io_vtable *vtable;
    void *ctx;
};

/* --- Clocks -------------------------------------------------------------------------- */

/* Monotonic nanoseconds since an arbitrary origin; never decreases on one node. */
static inline uint64_t io_now_ns(struct io *io) { return io->vtable->monotonic_ns(io->ctx); }
/* Wall-clock milliseconds since the Unix epoch; may jump in either direction. */
static inline int64_t io_wall_ms(struct io *io) { return io->vtable->wall_ms(io->ctx); }

/* --- Timers -------------------------------------------------------------------------- */

/* Fires `cb(arg)` once at monotonic time >= deadline_ns. Returns a non-zero id. Timers
 * with equal deadlines fire in the order they were started. */
static inline io_timer_id io_timer_start(struct io *io, uint64_t deadline_ns, io_timer_cb cb,
                                         void *arg) {
    return io->vtable->timer_start(io->ctx, deadline_ns, cb, arg);
}
/* Cancels a pending timer. Cancelling a fired, cancelled or zero id is a no-op. */
static inline void io_timer_cancel(struct io *io, io_timer_id id) {
    io->vtable->timer_cancel(io->ctx, id);
}

/* --- Streams ------------------------------------------------------------------------- */

/* Listens on host:port (port 0 = any free port, see io_listener_port). */
static inline int io_listen(struct io *io, const char *host, uint16_t port, io_accept_cb cb,
                            void *arg, struct io_listener **out) {
    return io->vtable->listen(io->ctx, host, port, cb, arg, out);
}
static inline uint16_t io_listener_port(struct io *io, struct io_listener *listener) {
    return io->vtable->listener_port(io->ctx, listener);
}
/* Stops accepting; frees the listener. Accepted streams are unaffected. */
static inline void io_listener_close(struct io *io, struct io_listener *listener) {
    io->vtable->listener_close(io->ctx, listener);
}
/* Starts connecting; `cb` runs exactly once unless this returns an error. */
static inline int io_connect(struct io *io, const char *host, uint16_t port, io_connect_cb cb,
                             void *arg) {
    return io->vtable->connect(io->ctx, host, port, cb, arg);
}
/* Installs the callbacks and starts reading. Until called, arriving bytes are buffered. */
static inline void io_stream_start(struct io *io, struct io_stream *stream, io_read_cb read_cb,
                                   io_drain_cb drain_cb, void *arg) {
    io->vtable->stream_start(io->ctx, stream, read_cb, drain_cb, arg);
}
/* Backpressure: a paused stream delivers no read callbacks (the peer's sends stall). */
static inline void io_stream_pause(struct io *io, struct io_stream *stream, bool paused) {
    io->vtable->stream_pause(io->ctx, stream, paused);
}
/* Queues bytes (copied) for sending in order. -EPIPE/-ECONNRESET once the stream ended. */
static inline int io_stream_write(struct io *io, struct io_stream *stream, const void *data,
                                  size_t len) {
    return io->vtable->stream_write(io->ctx, stream, data, len);
}
/* Queues `len` bytes of `file` from `offset`, in order with writes. The file must stay open
 * until the drain callback; io_posix uses sendfile(2), the sim reads and copies. */
static inline int io_stream_sendfile(struct io *io, struct io_stream *stream,
                                     struct io_file *file, uint64_t offset, size_t len) {
    return io->vtable->stream_sendfile(io->ctx, stream, file, offset, len);
}
/* Bytes queued but not yet sent: the number to bound for backpressure. */
static inline size_t io_stream_queued(struct io *io, struct io_stream *stream) {
    return io->vtable->stream_queued(io->ctx, stream);
}
/* Closes and frees the stream; queued bytes are dropped. No callback runs after this. */
static inline void io_stream_close(struct io *io, struct io_stream *stream) {
    io->vtable->stream_close(io->ctx, stream);
}
/* "host:port" of the peer, valid while the stream is open. */
static inline const char *io_stream_peer(struct io *io, struct io_stream *stream) {
    return io->vtable->stream_peer(io->ctx, stream);
}

/* --- Files --------------------------------------------------------------------------- */

static inline int io_file_open(struct io *io, const char *path, int flags,
                               struct io_file **out) {
    return io->vtable->file_open(io->ctx, path, flags, out);
}
/* Reads up to len bytes; fewer only at end of file. Returns the count or -errno. */
static inline int64_t io_file_pread(struct io *io, struct io_file *file, void *buf, size_t len,
                                    uint64_t offset) {
    return io->vtable->file_pread(io->ctx, file, buf, len, offset);
}
/* Writes all len bytes or fails (-EIO, -ENOSPC). Not durable until io_file_sync(). */
static inline int64_t io_file_pwrite(struct io *io, struct io_file *file, const void *buf,
                                     size_t len, uint64_t offset) {
    return io->vtable->file_pwrite(io->ctx, file, buf, len, offset);
}
/* Makes every completed write and truncate of this file durable. */
static inline int io_file_sync(struct io *io, struct io_file *file) {
    return io->vtable->file_sync(io->ctx, file);
}
static inline int io_file_truncate(struct io *io, struct io_file *file, uint64_t size) {
    return io->vtable->file_truncate(io->ctx, file, size);
}
static inline int64_t io_file_size(struct io *io, struct io_file *file) {
    return io->vtable->file_size(io->ctx, file);
}
static inline void io_file_close(struct io *io, struct io_file *file) {
    io->vtable->file_close(io->ctx, file);
}
/* Atomically replaces `to` with `from` (durable on return; see the header comment). */
static inline int io_rename(struct io *io, const char *from, const char *to) {
    return io->vtable->rename(io->ctx, from, to);
}
static inline int io_unlink(struct io *io, const char *path) {
    return io->vtable->unlink(io->ctx, path);
}
/* Creates one directory; -EEXIST if it exists. */
static inline int io_mkdir(struct io *io, const char *path) {
    return io->vtable->mkdir(io->ctx, path);
}
static inline int io_rmdir(struct io *io, const char *path) {
    return io->vtable->rmdir(io->ctx, path);
}
/* Calls cb for each entry except "." and "..", sorted by name. */
static inline int io_list_dir(struct io *io, const char *path, io_dir_entry_cb cb, void *arg) {
    return io->vtable->list_dir(io->ctx, path, cb, arg);
}
/* 0 if the path exists (is_dir may be NULL), -ENOENT if not. */
static inline int io_exists(struct io *io, const char *path, bool *is_dir) {
    return io->vtable->exists(io->ctx, path, is_dir);
}

/* --- Entropy, memory, observation ---------------------------------------------------- */

static inline uint64_t io_random_u64(struct io *io) { return io->vtable->random_u64(io->ctx); }

/* Allocation never returns NULL: running out of memory aborts the node. Every allocation
 * is tracked per node in the simulation, so a crash frees it without running node code.
 * The size passed to realloc/free must be the size allocated (sized deallocation lets the
 * sim check ownership and account memory). */
static inline void *io_alloc(struct io *io, size_t size) {
    return io->vtable->alloc(io->ctx, size);
}
void *io_calloc(struct io *io, size_t count, size_t size); /* Zeroed; overflow-checked. */
static inline void *io_realloc(struct io *io, void *ptr, size_t old_size, size_t new_size) {
    return io->vtable->realloc(io->ctx, ptr, old_size, new_size);
}
static inline void io_free(struct io *io, void *ptr, size_t size) {
    io->vtable->free(io->ctx, ptr, size);
}
/* Copies a NUL-terminated string into node memory; free with io_strfree(). */
char *io_strdup(struct io *io, const char *s);
void io_strfree(struct io *io, char *s);

/* Records a structured observation (see docs/INVARIANTS.md for the events checkers use). */
static inline void io_trace(struct io *io, const char *event, const struct io_trace_field *fields,
                            size_t count) {
    io->vtable->trace(io->ctx, event, fields, count);
}
/* Convenience: io_tracef(io, "append", IO_TF_S("topic", t), IO_TF_I("offset", o)). */
#define io_tracef(io, event, ...)                                                              \
    do {                                                                                       \
        const struct io_trace_field io__tf[] = {__VA_ARGS__};                                  \
        io_trace((io), (event), io__tf, sizeof(io__tf) / sizeof(io__tf[0]));                   \
    } while (0)

/* Human-readable diagnostics (stderr for triald; the trace log in the sim). */
void io_log(struct io *io, enum io_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True only in the simulation, now and then, to push rare paths (short reads, early
 * timeouts, slow paths). Always false in the real world. `site` names the call site. */
static inline bool io_buggify(struct io *io, const char *site) {
    return io->vtable->buggify(io->ctx, site);
}

/* True when the world switched on the deliberate bug `name` (simulation only). Callers use
 * MUTANT() from base/mutant.h, which is the constant false outside mutant builds. */
static inline bool io_mutant(struct io *io, const char *name) {
    return io->vtable->mutant != NULL && io->vtable->mutant(io->ctx, name);
}

#endif /* TRIAL_IO_H */
