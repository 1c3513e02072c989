/*
 * test_log_memio.h — a small in-memory io.h for the log's unit tests, with the simulated
 * disk's crash model (sim/disk.h): every file has a durable image and a current image;
 * writes and truncates since the last sync are pending; a crash resolves each pending
 * write as kept, dropped or torn at 512-byte sectors (each piece kept or dropped) and each
 * pending truncate as kept or dropped, by a seeded choice, and frees all node memory.
 * Directory operations (create, rename, unlink) are durable at once, as io.h promises.
 *
 * Tests use it so they run in microseconds, deterministically, without sim/ (which other
 * engineers are writing in parallel). Header-only; test code may use malloc.
 */
#ifndef TEST_LOG_MEMIO_H
#define TEST_LOG_MEMIO_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

#define MEMIO_FILES_MAX 4096
#define MEMIO_PATH_MAX 512
#define MEMIO_SECTOR 512

struct memio_op {
    int is_truncate;
    uint64_t offset; /* Write offset, or truncate size. */
    uint8_t *data;
    size_t len;
};

struct memio_file_state {
    char path[MEMIO_PATH_MAX];
    int exists;
    uint8_t *cur;
    size_t cur_len, cur_cap;
    uint8_t *dur;
    size_t dur_len;
    struct memio_op *ops;
    size_t op_count, op_cap;
};

struct io_file {
    struct memio_file_state *state;
    int writable;
    struct io_file *next_open;
};

struct memio_alloc_hdr {
    struct memio_alloc_hdr *prev, *next;
    size_t size;
    size_t pad;
};

struct memio {
    struct io io;
    struct memio_file_state *files[MEMIO_FILES_MAX];
    size_t file_count;
    char dirs[64][MEMIO_PATH_MAX];
    size_t dir_count;
    struct io_file *open_files;
    struct memio_alloc_hdr allocs; /* Sentinel of the live-allocation list. */
    size_t live_bytes;
    uint64_t rng;
    uint64_t now_ns;
    int64_t wall_ms;
    uint32_t keep_permille, drop_permille;
    uint64_t syncs;
};

static inline uint64_t memio_rand(struct memio *m) {
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

static struct memio_file_state *memio_find(struct memio *m, const char *path) {
    for (size_t i = 0; i < m->file_count; i++) {
        if (m->files[i]->exists && strcmp(m->files[i]->path, path) == 0) return m->files[i];
    }
    return NULL;
}

static void memio_grow(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t n = *cap ? *cap : 4096;
    while (n < need) n *= 2;
    *buf = realloc(*buf, n);
    memset(*buf + *cap, 0, n - *cap);
    *cap = n;
}

static void memio_push_op(struct memio_file_state *f, int is_truncate, uint64_t off,
                          const void *data, size_t len) {
    if (f->op_count == f->op_cap) {
        f->op_cap = f->op_cap ? f->op_cap * 2 : 16;
        f->ops = realloc(f->ops, f->op_cap * sizeof *f->ops);
    }
    struct memio_op *op = &f->ops[f->op_count++];
    op->is_truncate = is_truncate;
    op->offset = off;
    op->len = len;
    op->data = NULL;
    if (len) {
        op->data = malloc(len);
        memcpy(op->data, data, len);
    }
}

static void memio_clear_ops(struct memio_file_state *f) {
    for (size_t i = 0; i < f->op_count; i++) free(f->ops[i].data);
    f->op_count = 0;
}

static uint64_t memio_monotonic_ns(void *ctx) { return ((struct memio *)ctx)->now_ns; }
static int64_t memio_wall_ms(void *ctx) { return ((struct memio *)ctx)->wall_ms; }

static int memio_file_open(void *ctx, const char *path, int flags, struct io_file **out) {
    struct memio *m = ctx;
    struct memio_file_state *f = memio_find(m, path);
    if (f && (flags & IO_OPEN_CREATE) && (flags & IO_OPEN_EXCL)) return -EEXIST;
    if (!f) {
        if (!(flags & IO_OPEN_CREATE)) return -ENOENT;
        if (m->file_count == MEMIO_FILES_MAX) return -ENOSPC;
        f = calloc(1, sizeof *f);
        snprintf(f->path, sizeof f->path, "%s", path);
        f->exists = 1;
        m->files[m->file_count++] = f;
    }
    if (flags & IO_OPEN_TRUNC) {
        f->cur_len = 0;
        memio_push_op(f, 1, 0, NULL, 0);
    }
    struct io_file *h = calloc(1, sizeof *h);
    h->state = f;
    h->writable = (flags & (IO_OPEN_WRITE | IO_OPEN_CREATE | IO_OPEN_TRUNC)) != 0;
    h->next_open = m->open_files;
    m->open_files = h;
    *out = h;
    return 0;
}

static int64_t memio_pread(void *ctx, struct io_file *h, void *buf, size_t len, uint64_t off) {
    struct memio_file_state *f = h->state;
    if (off >= f->cur_len) return 0;
    size_t n = f->cur_len - off < len ? f->cur_len - off : len;
    memcpy(buf, f->cur + off, n);
    return (int64_t)n;
}

static int64_t memio_pwrite(void *ctx, struct io_file *h, const void *buf, size_t len,
                            uint64_t off) {
    struct memio_file_state *f = h->state;
    if (!h->writable) return -EBADF;
    memio_grow(&f->cur, &f->cur_cap, off + len);
    if (off > f->cur_len) memset(f->cur + f->cur_len, 0, off - f->cur_len);
    memcpy(f->cur + off, buf, len);
    if (off + len > f->cur_len) f->cur_len = off + len;
    memio_push_op(f, 0, off, buf, len);
    return (int64_t)len;
}

static int memio_sync(void *ctx, struct io_file *h) {
    struct memio *m = ctx;
    struct memio_file_state *f = h->state;
    f->dur = realloc(f->dur, f->cur_len ? f->cur_len : 1);
    if (f->cur_len) memcpy(f->dur, f->cur, f->cur_len);
    f->dur_len = f->cur_len;
    memio_clear_ops(f);
    m->syncs++;
    return 0;
}

static int memio_truncate(void *ctx, struct io_file *h, uint64_t size) {
    struct memio_file_state *f = h->state;
    memio_grow(&f->cur, &f->cur_cap, size);
    if (size > f->cur_len) memset(f->cur + f->cur_len, 0, size - f->cur_len);
    f->cur_len = size;
    memio_push_op(f, 1, size, NULL, 0);
    return 0;
}

static int64_t memio_size(void *ctx, struct io_file *h) { return (int64_t)h->state->cur_len; }

static void memio_close(void *ctx, struct io_file *h) {
    struct memio *m = ctx;
    for (struct io_file **p = &m->open_files; *p; p = &(*p)->next_open) {
        if (*p == h) {
            *p = h->next_open;
            free(h);
            return;
        }
    }
    abort(); /* Closing a handle that is not open. */
}

static int memio_rename(void *ctx, const char *from, const char *to) {
    struct memio *m = ctx;
    struct memio_file_state *f = memio_find(m, from);
    if (!f) return -ENOENT;
    struct memio_file_state *t = memio_find(m, to);
    if (t) t->exists = 0;
    snprintf(f->path, sizeof f->path, "%s", to);
    return 0;
}

static int memio_unlink(void *ctx, const char *path) {
    struct memio_file_state *f = memio_find(ctx, path);
    if (!f) return -ENOENT;
    f->exists = 0;
    return 0;
}

static int memio_mkdir(void *ctx, const char *path) {
    struct memio *m = ctx;
    for (size_t i = 0; i < m->dir_count; i++) {
        if (strcmp(m->dirs[i], path) == 0) return -EEXIST;
    }
    if (m->dir_count == 64) return -ENOSPC;
    snprintf(m->dirs[m->dir_count++], MEMIO_PATH_MAX, "%s", path);
    return 0;
}

static int memio_rmdir(void *ctx, const char *path) { return -ENOTSUP; }

static int memio_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int memio_list_dir(void *ctx, const char *path, io_dir_entry_cb cb, void *arg) {
    struct memio *m = ctx;
    size_t plen = strlen(path);
    const char **names = malloc(m->file_count * sizeof *names + 1);
    size_t n = 0;
    for (size_t i = 0; i < m->file_count; i++) {
        struct memio_file_state *f = m->files[i];
        if (f->exists && strncmp(f->path, path, plen) == 0 && f->path[plen] == '/' &&
            strchr(f->path + plen + 1, '/') == NULL) {
            names[n++] = f->path + plen + 1;
        }
    }
    qsort(names, n, sizeof *names, memio_cmp);
    for (size_t i = 0; i < n; i++) cb(arg, names[i], false);
    free(names);
    return 0;
}

static int memio_exists(void *ctx, const char *path, bool *is_dir) {
    struct memio *m = ctx;
    if (memio_find(m, path)) {
        if (is_dir) *is_dir = false;
        return 0;
    }
    for (size_t i = 0; i < m->dir_count; i++) {
        if (strcmp(m->dirs[i], path) == 0) {
            if (is_dir) *is_dir = true;
            return 0;
        }
    }
    return -ENOENT;
}

static uint64_t memio_random(void *ctx) { return memio_rand(ctx); }

static void *memio_alloc(void *ctx, size_t size) {
    struct memio *m = ctx;
    struct memio_alloc_hdr *h = malloc(sizeof *h + size);
    if (!h) abort();
    h->size = size;
    h->next = m->allocs.next;
    h->prev = &m->allocs;
    m->allocs.next->prev = h;
    m->allocs.next = h;
    m->live_bytes += size;
    return h + 1;
}

static void memio_free(void *ctx, void *ptr, size_t size) {
    struct memio *m = ctx;
    if (!ptr) return;
    struct memio_alloc_hdr *h = (struct memio_alloc_hdr *)ptr - 1;
    if (h->size != size) abort(); /* Sized deallocation must match. */
    h->prev->next = h->next;
    h->next->prev = h->prev;
    m->live_bytes -= size;
    free(h);
}

static void *memio_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    void *n = memio_alloc(ctx, new_size);
    if (ptr) {
        memcpy(n, ptr, old_size < new_size ? old_size : new_size);
        memio_free(ctx, ptr, old_size);
    }
    return n;
}

static void memio_trace(void *ctx, const char *event, const struct io_trace_field *fields,
                        size_t count) {}
__attribute__((format(printf, 3, 0))) static void memio_log(void *ctx, enum io_log_level level,
                                                          const char *fmt, va_list ap) {
    if (getenv("MEMIO_VERBOSE")) {
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
}
static bool memio_buggify(void *ctx, const char *site) { return false; }

static const struct io_vtable memio_vtable = {
    .monotonic_ns = memio_monotonic_ns,
    .wall_ms = memio_wall_ms,
    .file_open = memio_file_open,
    .file_pread = memio_pread,
    .file_pwrite = memio_pwrite,
    .file_sync = memio_sync,
    .file_truncate = memio_truncate,
    .file_size = memio_size,
    .file_close = memio_close,
    .rename = memio_rename,
    .unlink = memio_unlink,
    .mkdir = memio_mkdir,
    .rmdir = memio_rmdir,
    .list_dir = memio_list_dir,
    .exists = memio_exists,
    .random_u64 = memio_random,
    .alloc = memio_alloc,
    .realloc = memio_realloc,
    .free = memio_free,
    .trace = memio_trace,
    .log = memio_log,
    .buggify = memio_buggify,
};

static inline struct memio *memio_create(uint64_t seed) {
    struct memio *m = calloc(1, sizeof *m);
    m->io.vtable = &memio_vtable;
    m->io.ctx = m;
    m->allocs.next = m->allocs.prev = &m->allocs;
    m->rng = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
    if (m->rng == 0) m->rng = 1;
    m->now_ns = 1000000000ull;
    m->wall_ms = 1700000000000ll;
    m->keep_permille = 300;
    m->drop_permille = 300;
    return m;
}

/* Frees all node memory and open handles; resolves pending ops per the crash model. */
static inline void memio_crash(struct memio *m) {
    while (m->open_files) {
        struct io_file *h = m->open_files;
        m->open_files = h->next_open;
        free(h);
    }
    while (m->allocs.next != &m->allocs) {
        struct memio_alloc_hdr *h = m->allocs.next;
        memio_free(m, h + 1, h->size);
    }
    for (size_t i = 0; i < m->file_count; i++) {
        struct memio_file_state *f = m->files[i];
        uint8_t *img = NULL;
        size_t len = f->dur_len, cap = 0;
        memio_grow(&img, &cap, len + 1);
        if (len) memcpy(img, f->dur, len);
        for (size_t k = 0; k < f->op_count; k++) {
            struct memio_op *op = &f->ops[k];
            uint32_t r = (uint32_t)(memio_rand(m) % 1000);
            if (op->is_truncate) {
                if (r < 500) {
                    memio_grow(&img, &cap, op->offset + 1);
                    if (op->offset > len) memset(img + len, 0, op->offset - len);
                    len = op->offset;
                }
                continue;
            }
            int fate = r < m->keep_permille ? 0 : r < m->keep_permille + m->drop_permille ? 1 : 2;
            if (fate == 1) continue;
            uint64_t pos = op->offset;
            while (pos < op->offset + op->len) {
                uint64_t piece_end = (pos / MEMIO_SECTOR + 1) * MEMIO_SECTOR;
                if (piece_end > op->offset + op->len) piece_end = op->offset + op->len;
                if (fate == 0 || memio_rand(m) % 2 == 0) {
                    memio_grow(&img, &cap, piece_end);
                    if (pos > len) memset(img + len, 0, pos - len);
                    memcpy(img + pos, op->data + (pos - op->offset), piece_end - pos);
                    if (piece_end > len) len = piece_end;
                }
                pos = piece_end;
            }
        }
        memio_clear_ops(f);
        free(f->dur);
        f->dur = malloc(len ? len : 1);
        if (len) memcpy(f->dur, img, len);
        f->dur_len = len;
        memio_grow(&f->cur, &f->cur_cap, len);
        if (len) memcpy(f->cur, img, len);
        f->cur_len = len;
        free(img);
    }
}

static inline void memio_destroy(struct memio *m) {
    memio_crash(m);
    for (size_t i = 0; i < m->file_count; i++) {
        free(m->files[i]->cur);
        free(m->files[i]->dur);
        free(m->files[i]->ops);
        free(m->files[i]);
    }
    free(m);
}

/* Test helpers: raw access to a file's current bytes. */
static inline struct memio_file_state *memio_file(struct memio *m, const char *path) {
    return memio_find(m, path);
}

#endif /* TEST_LOG_MEMIO_H */
