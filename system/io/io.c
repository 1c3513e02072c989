/*
 * io.c — the few io.h helpers that are the same in every world, built on the vtable.
 */
#include "io/io.h"

#include <string.h>

#include "base/base.h"

void *io_calloc(struct io *io, size_t count, size_t size) {
    ASSERT(size == 0 || count <= SIZE_MAX / size);
    size_t total = count * size;
    void *ptr = io_alloc(io, total);
    memset(ptr, 0, total);
    return ptr;
}

char *io_strdup(struct io *io, const char *s) {
    ASSERT(s != NULL);
    size_t len = strlen(s);
    char *copy = io_alloc(io, len + 1);
    memcpy(copy, s, len + 1);
    return copy;
}

void io_strfree(struct io *io, char *s) {
    if (s == NULL) return;
    io_free(io, s, strlen(s) + 1);
}

void io_log(struct io *io, enum io_log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    io->vtable->log(io->ctx, level, fmt, ap);
    va_end(ap);
}
