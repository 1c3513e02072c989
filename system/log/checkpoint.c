/*
 * checkpoint.c — the text checkpoint files (see checkpoint.h for the format).
 *
 * The parser is strict: a version other than 0, a count that disagrees with the lines, a
 * non-numeric field or a missing final newline is -EBADMSG. A checkpoint is written whole
 * and renamed into place, so a malformed one means a bug or bit rot, never a torn write.
 */
#include "log/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "io/io.h"

int log_checkpoint_write_text(struct io *io, const char *path, const char *text, size_t len) {
    char tmp[1024];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof tmp) return -ENAMETOOLONG;
    struct io_file *f;
    int rc = io_file_open(io, tmp, IO_OPEN_CREATE | IO_OPEN_TRUNC, &f);
    if (rc < 0) return rc;
    int64_t w = len ? io_file_pwrite(io, f, text, len, 0) : 0;
    rc = w < 0 ? (int)w : io_file_sync(io, f);
    io_file_close(io, f);
    if (rc < 0) return rc;
    return io_rename(io, tmp, path);
}

/* Appends formatted text at *pos; -ENOSPC when it does not fit. */
static int append(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t cap, size_t *pos, const char *fmt, ...) {
    ASSERT(*pos <= cap);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *pos) return -ENOSPC;
    *pos += (size_t)n;
    return 0;
}

int64_t log_checkpoint_format_epochs(char *buf, size_t cap, const struct log_epoch_entry *e,
                                     size_t count) {
    size_t pos = 0;
    if (append(buf, cap, &pos, "%d\n%zu\n", LOG_CHECKPOINT_VERSION, count) < 0) return -ENOSPC;
    for (size_t i = 0; i < count; i++) {
        if (append(buf, cap, &pos, "%" PRId32 " %" PRId64 "\n", e[i].epoch, e[i].start_offset) <
            0) {
            return -ENOSPC;
        }
    }
    return (int64_t)pos;
}

int64_t log_checkpoint_format_offsets(char *buf, size_t cap,
                                      const struct log_partition_offset *e, size_t count) {
    size_t pos = 0;
    if (append(buf, cap, &pos, "%d\n%zu\n", LOG_CHECKPOINT_VERSION, count) < 0) return -ENOSPC;
    for (size_t i = 0; i < count; i++) {
        ASSERT(strlen(e[i].topic) > 0 && strchr(e[i].topic, ' ') == NULL);
        if (append(buf, cap, &pos, "%s %" PRId32 " %" PRId64 "\n", e[i].topic, e[i].partition,
                   e[i].offset) < 0) {
            return -ENOSPC;
        }
    }
    return (int64_t)pos;
}

/* A cursor over the text: tokens separated by one space, lines by '\n'. */
struct cursor {
    const char *p;
    const char *end;
};

/* Reads a token up to ' ' or '\n' (not consumed). Empty tokens are malformed. */
static int token(struct cursor *c, const char **start, size_t *len) {
    *start = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\n') c->p++;
    *len = (size_t)(c->p - *start);
    return *len ? 0 : -EBADMSG;
}

static int expect(struct cursor *c, char ch) {
    if (c->p >= c->end || *c->p != ch) return -EBADMSG;
    c->p++;
    return 0;
}

static int number(struct cursor *c, int64_t min, int64_t max, int64_t *out) {
    const char *s;
    size_t len;
    if (token(c, &s, &len) < 0 || len > 20) return -EBADMSG;
    bool neg = s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == len) return -EBADMSG;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -EBADMSG;
        if (v > (UINT64_MAX - 9) / 10) return -EBADMSG;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX) return -EBADMSG;
    int64_t x = neg ? -(int64_t)v : (int64_t)v;
    if (x < min || x > max) return -EBADMSG;
    *out = x;
    return 0;
}

static int header(struct cursor *c, size_t max, size_t *count) {
    int64_t version, n;
    if (number(c, 0, 0, &version) < 0 || expect(c, '\n') < 0) return -EBADMSG;
    if (number(c, 0, INT32_MAX, &n) < 0 || expect(c, '\n') < 0) return -EBADMSG;
    if ((size_t)n > max) return -ENOSPC;
    *count = (size_t)n;
    return 0;
}

int log_checkpoint_parse_epochs(const char *text, size_t len, struct log_epoch_entry *out,
                                size_t max, size_t *count) {
    struct cursor c = {text, text + len};
    size_t n;
    int rc = header(&c, max, &n);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n; i++) {
        int64_t epoch, offset;
        if (number(&c, 0, INT32_MAX, &epoch) < 0 || expect(&c, ' ') < 0 ||
            number(&c, 0, INT64_MAX, &offset) < 0 || expect(&c, '\n') < 0) {
            return -EBADMSG;
        }
        out[i].epoch = (int32_t)epoch;
        out[i].start_offset = offset;
    }
    if (c.p != c.end) return -EBADMSG;
    *count = n;
    return 0;
}

int log_checkpoint_parse_offsets(const char *text, size_t len, struct log_partition_offset *out,
                                 size_t max, size_t *count) {
    struct cursor c = {text, text + len};
    size_t n;
    int rc = header(&c, max, &n);
    if (rc < 0) return rc;
    for (size_t i = 0; i < n; i++) {
        const char *topic;
        size_t topic_len;
        int64_t partition, offset;
        if (token(&c, &topic, &topic_len) < 0 || topic_len > LOG_TOPIC_NAME_MAX ||
            expect(&c, ' ') < 0 || number(&c, 0, INT32_MAX, &partition) < 0 ||
            expect(&c, ' ') < 0 || number(&c, -1, INT64_MAX, &offset) < 0 ||
            expect(&c, '\n') < 0) {
            return -EBADMSG;
        }
        memcpy(out[i].topic, topic, topic_len);
        out[i].topic[topic_len] = '\0';
        out[i].partition = (int32_t)partition;
        out[i].offset = offset;
    }
    if (c.p != c.end) return -EBADMSG;
    *count = n;
    return 0;
}

/* Reads a whole file into an io allocation of *cap bytes (caller frees). */
static int read_all(struct io *io, const char *path, char **buf, size_t *cap, size_t *len) {
    struct io_file *f;
    int rc = io_file_open(io, path, IO_OPEN_READ, &f);
    if (rc < 0) return rc;
    int64_t size = io_file_size(io, f);
    if (size < 0 || size > (int64_t)LOG_CHECKPOINT_BYTES_MAX) {
        io_file_close(io, f);
        return size < 0 ? (int)size : -EFBIG;
    }
    *cap = (size_t)size + 1;
    *buf = io_alloc(io, *cap);
    int64_t got = io_file_pread(io, f, *buf, (size_t)size, 0);
    io_file_close(io, f);
    if (got != size) {
        io_free(io, *buf, *cap);
        return got < 0 ? (int)got : -EIO;
    }
    *len = (size_t)size;
    return 0;
}

/* Formats with a growing io buffer, then writes atomically. */
typedef int64_t (*format_fn)(char *buf, size_t cap, const void *e, size_t count);

static int64_t fmt_epochs(char *buf, size_t cap, const void *e, size_t count) {
    return log_checkpoint_format_epochs(buf, cap, e, count);
}
static int64_t fmt_offsets(char *buf, size_t cap, const void *e, size_t count) {
    return log_checkpoint_format_offsets(buf, cap, e, count);
}

static int write_formatted(struct io *io, const char *path, format_fn fmt, const void *e,
                           size_t count, size_t per_entry_bytes) {
    size_t cap = 64 + count * per_entry_bytes;
    char *buf = io_alloc(io, cap);
    int64_t n = fmt(buf, cap, e, count);
    ASSERT(n != -ENOSPC); /* per_entry_bytes is a true upper bound. */
    int rc = n < 0 ? (int)n : log_checkpoint_write_text(io, path, buf, (size_t)n);
    io_free(io, buf, cap);
    return rc;
}

int log_checkpoint_write_epochs(struct io *io, const char *path, const struct log_epoch_entry *e,
                                size_t count) {
    return write_formatted(io, path, fmt_epochs, e, count, 11 + 1 + 20 + 1);
}

int log_checkpoint_write_offsets(struct io *io, const char *path,
                                 const struct log_partition_offset *e, size_t count) {
    return write_formatted(io, path, fmt_offsets, e, count,
                           LOG_TOPIC_NAME_MAX + 1 + 11 + 1 + 20 + 1);
}

int log_checkpoint_read_epochs(struct io *io, const char *path, struct log_epoch_entry *out,
                               size_t max, size_t *count) {
    char *buf = NULL; /* Initialised for gcc -O3, which cannot see read_all set them. */
    size_t cap = 0, len = 0;
    int rc = read_all(io, path, &buf, &cap, &len);
    if (rc < 0) return rc;
    rc = log_checkpoint_parse_epochs(buf, len, out, max, count);
    io_free(io, buf, cap);
    return rc;
}

int log_checkpoint_read_offsets(struct io *io, const char *path,
                                struct log_partition_offset *out, size_t max, size_t *count) {
    char *buf = NULL; /* Initialised for gcc -O3, which cannot see read_all set them. */
    size_t cap = 0, len = 0;
    int rc = read_all(io, path, &buf, &cap, &len);
    if (rc < 0) return rc;
    rc = log_checkpoint_parse_offsets(buf, len, out, max, count);
    io_free(io, buf, cap);
    return rc;
}
