/*
 * io_sim.c — io.h for a simulated node: every vtable entry forwards to the world (clocks,
 * timers, memory, trace), the node's disk (disk.c) or the simulated network (net.c).
 *
 * The context of each handle is the node itself. Every entry checks that the node is up
 * and that no other node's callback is calling it: a node may only touch its own io.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sim/sim_internal.h"

#define SIM_LOG_LINE_MAX   1024
#define SIM_SENDFILE_CHUNK 65536

static struct sim_node *node_of(void *ctx) {
    struct sim_node *node = ctx;
    sim_node_check_caller(node);
    return node;
}

static uint64_t io_sim_monotonic_ns(void *ctx) { return sim_node_mono_ns(node_of(ctx)); }
static int64_t io_sim_wall_ms(void *ctx) { return sim_node_wall_ms(node_of(ctx)); }

static io_timer_id io_sim_timer_start(void *ctx, uint64_t deadline_ns, io_timer_cb cb, void *arg) {
    return sim_node_timer_start(node_of(ctx), deadline_ns, cb, arg);
}

static void io_sim_timer_cancel(void *ctx, io_timer_id id) {
    sim_node_timer_cancel(node_of(ctx), id);
}

static int io_sim_listen(void *ctx, const char *host, uint16_t port, io_accept_cb cb, void *arg,
                         struct io_listener **out) {
    return sim_net_listen(node_of(ctx), host, port, cb, arg, out);
}

static uint16_t io_sim_listener_port(void *ctx, struct io_listener *listener) {
    struct sim_node *node = node_of(ctx);
    ASSERT(listener->node == node);
    return listener->port;
}

static void io_sim_listener_close(void *ctx, struct io_listener *listener) {
    sim_net_listener_close(node_of(ctx), listener);
}

static int io_sim_connect(void *ctx, const char *host, uint16_t port, io_connect_cb cb, void *arg) {
    return sim_net_connect(node_of(ctx), host, port, cb, arg);
}

static void io_sim_stream_start(void *ctx, struct io_stream *stream, io_read_cb read_cb,
                                io_drain_cb drain_cb, void *arg) {
    struct sim_node *node = node_of(ctx);
    ASSERT(stream->node == node);
    sim_net_stream_start(stream, read_cb, drain_cb, arg);
}

static void io_sim_stream_pause(void *ctx, struct io_stream *stream, bool paused) {
    struct sim_node *node = node_of(ctx);
    ASSERT(stream->node == node);
    sim_net_stream_pause(stream, paused);
}

static int io_sim_stream_write(void *ctx, struct io_stream *stream, const void *data, size_t len) {
    struct sim_node *node = node_of(ctx);
    ASSERT(stream->node == node);
    return sim_net_stream_write(stream, data, len);
}

static int io_sim_stream_sendfile(void *ctx, struct io_stream *stream, struct io_file *file,
                                  uint64_t offset, size_t len) {
    struct sim_node *node = node_of(ctx);
    ASSERT(stream->node == node && file->node == node);
    /* The sim reads now and queues a copy; bounded chunks keep the stack small. */
    uint8_t chunk[SIM_SENDFILE_CHUNK];
    size_t done = 0;
    while (done < len) {
        size_t want = MIN(len - done, sizeof(chunk));
        int64_t n = sim_disk_pread(node, file, chunk, want, offset + done);
        if (n < 0) return (int)n;
        if (n == 0) return -EINVAL; /* asked for bytes past the end of the file */
        int rc = sim_net_stream_write(stream, chunk, (size_t)n);
        if (rc < 0) return rc;
        done += (size_t)n;
    }
    return 0;
}

static size_t io_sim_stream_queued(void *ctx, struct io_stream *stream) {
    struct sim_node *node = node_of(ctx);
    ASSERT(stream->node == node);
    return stream->slen;
}

static void io_sim_stream_close(void *ctx, struct io_stream *stream) {
    struct sim_node *node = node_of(ctx);
    ASSERT(stream->node == node);
    sim_net_stream_close(stream);
}

static const char *io_sim_stream_peer(void *ctx, struct io_stream *stream) {
    struct sim_node *node = node_of(ctx);
    ASSERT(stream->node == node);
    return stream->peer;
}

static int io_sim_file_open(void *ctx, const char *path, int flags, struct io_file **out) {
    return sim_disk_open(node_of(ctx), path, flags, out);
}

static int64_t io_sim_file_pread(void *ctx, struct io_file *file, void *buf, size_t len,
                                 uint64_t offset) {
    return sim_disk_pread(node_of(ctx), file, buf, len, offset);
}

static int64_t io_sim_file_pwrite(void *ctx, struct io_file *file, const void *buf, size_t len,
                                  uint64_t offset) {
    return sim_disk_pwrite(node_of(ctx), file, buf, len, offset);
}

static int io_sim_file_sync(void *ctx, struct io_file *file) {
    return sim_disk_sync(node_of(ctx), file);
}

static int io_sim_file_truncate(void *ctx, struct io_file *file, uint64_t size) {
    return sim_disk_truncate(node_of(ctx), file, size);
}

static int64_t io_sim_file_size(void *ctx, struct io_file *file) {
    return sim_disk_size(node_of(ctx), file);
}

static void io_sim_file_close(void *ctx, struct io_file *file) {
    sim_disk_close(node_of(ctx), file);
}

static int io_sim_rename(void *ctx, const char *from, const char *to) {
    return sim_disk_rename(node_of(ctx), from, to);
}

static int io_sim_unlink(void *ctx, const char *path) {
    return sim_disk_unlink(node_of(ctx), path);
}

static int io_sim_mkdir(void *ctx, const char *path) { return sim_disk_mkdir(node_of(ctx), path); }
static int io_sim_rmdir(void *ctx, const char *path) { return sim_disk_rmdir(node_of(ctx), path); }

static int io_sim_list_dir(void *ctx, const char *path, io_dir_entry_cb cb, void *arg) {
    return sim_disk_list_dir(node_of(ctx), path, cb, arg);
}

static int io_sim_exists(void *ctx, const char *path, bool *is_dir) {
    return sim_disk_exists(node_of(ctx), path, is_dir);
}

static uint64_t io_sim_random_u64(void *ctx) {
    struct sim_node *node = node_of(ctx);
    return sim_rng_next(&node->rng_entropy);
}

static void *io_sim_alloc(void *ctx, size_t size) { return sim_node_alloc(node_of(ctx), size); }

static void *io_sim_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    struct sim_node *node = node_of(ctx);
    void *fresh = sim_node_alloc(node, new_size);
    if (ptr != NULL) {
        memcpy(fresh, ptr, MIN(old_size, new_size));
        sim_node_free(node, ptr, old_size);
    }
    return fresh;
}

static void io_sim_free(void *ctx, void *ptr, size_t size) {
    sim_node_free(node_of(ctx), ptr, size);
}

static void io_sim_trace(void *ctx, const char *event, const struct io_trace_field *fields,
                         size_t count) {
    sim_node_trace(node_of(ctx), event, fields, count);
}

static void io_sim_log(void *ctx, enum io_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void io_sim_log(void *ctx, enum io_log_level level, const char *fmt, va_list ap) {
    struct sim_node *node = node_of(ctx);
    char line[SIM_LOG_LINE_MAX];
    vsnprintf(line, sizeof(line), fmt, ap);
    sim_node_log(node, level, line);
}

static bool io_sim_buggify(void *ctx, const char *site) {
    return sim_node_buggify(node_of(ctx), site);
}

static bool io_sim_mutant(void *ctx, const char *name) {
    return sim_node_mutant(node_of(ctx), name);
}

const struct io_vtable sim_io_vtable = {
    .monotonic_ns = io_sim_monotonic_ns,
    .wall_ms = io_sim_wall_ms,
    .timer_start = io_sim_timer_start,
    .timer_cancel = io_sim_timer_cancel,
    .listen = io_sim_listen,
    .listener_port = io_sim_listener_port,
    .listener_close = io_sim_listener_close,
    .connect = io_sim_connect,
    .stream_start = io_sim_stream_start,
    .stream_pause = io_sim_stream_pause,
    .stream_write = io_sim_stream_write,
    .stream_sendfile = io_sim_stream_sendfile,
    .stream_queued = io_sim_stream_queued,
    .stream_close = io_sim_stream_close,
    .stream_peer = io_sim_stream_peer,
    .file_open = io_sim_file_open,
    .file_pread = io_sim_file_pread,
    .file_pwrite = io_sim_file_pwrite,
    .file_sync = io_sim_file_sync,
    .file_truncate = io_sim_file_truncate,
    .file_size = io_sim_file_size,
    .file_close = io_sim_file_close,
    .rename = io_sim_rename,
    .unlink = io_sim_unlink,
    .mkdir = io_sim_mkdir,
    .rmdir = io_sim_rmdir,
    .list_dir = io_sim_list_dir,
    .exists = io_sim_exists,
    .random_u64 = io_sim_random_u64,
    .alloc = io_sim_alloc,
    .realloc = io_sim_realloc,
    .free = io_sim_free,
    .trace = io_sim_trace,
    .log = io_sim_log,
    .buggify = io_sim_buggify,
    .mutant = io_sim_mutant,
};
