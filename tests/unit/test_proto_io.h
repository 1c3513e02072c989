/*
 * test_proto_io.h — a minimal io handle for the proto tests: allocation through malloc with
 * exact size accounting (so tests can prove that an arena or writer returned every byte),
 * everything else unused and aborting if called.
 */
#ifndef TEST_PROTO_IO_H
#define TEST_PROTO_IO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

struct test_proto_io {
    struct io io;
    size_t live_bytes;  /* Allocated minus freed. */
    size_t alloc_count; /* Number of io_alloc/io_realloc calls. */
};

static void *tpio_alloc(void *ctx, size_t size) {
    struct test_proto_io *t = ctx;
    t->live_bytes += size;
    t->alloc_count++;
    void *p = malloc(size ? size : 1);
    if (p == NULL) abort();
    return p;
}
static void *tpio_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    struct test_proto_io *t = ctx;
    t->live_bytes = t->live_bytes - old_size + new_size;
    t->alloc_count++;
    void *p = realloc(ptr, new_size ? new_size : 1);
    if (p == NULL) abort();
    return p;
}
static void tpio_free(void *ctx, void *ptr, size_t size) {
    struct test_proto_io *t = ctx;
    if (size > t->live_bytes) abort();
    t->live_bytes -= size;
    free(ptr);
}
__attribute__((format(printf, 3, 0))) static void tpio_log(void *ctx, enum io_log_level level,
                                                        const char *fmt, va_list ap) {
    (void)ctx;
    (void)level;
    vfprintf(stderr, fmt, ap);
}

static const struct io_vtable tpio_vtable = {
    .alloc = tpio_alloc,
    .realloc = tpio_realloc,
    .free = tpio_free,
    .log = tpio_log,
};

static inline void test_proto_io_init(struct test_proto_io *t) {
    memset(t, 0, sizeof(*t));
    t->io.vtable = &tpio_vtable;
    t->io.ctx = t;
}

#endif /* TEST_PROTO_IO_H */
