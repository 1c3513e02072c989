/*
 * proto_wire.c — bounds-checked primitives of the Kafka protocol (see proto_wire.h).
 *
 * Every read checks the remaining length first and turns a shortfall into a sticky
 * -EBADMSG; every write checks capacity and grows within max_bytes or sets -EMSGSIZE. All
 * memory comes from the io handle.
 */
#include "proto/proto_wire.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "io/io.h"

/* --- Strings --------------------------------------------------------------------------- */

struct proto_string proto_string_from(const char *s) {
    if (s == NULL) return PROTO_STR_NULL;
    size_t len = strlen(s);
    ASSERT(len <= INT16_MAX);
    return (struct proto_string){.str = s, .len = (int32_t)len};
}

bool proto_string_eq(struct proto_string a, const char *s) {
    if (s == NULL) return a.len < 0;
    if (a.len < 0) return false;
    size_t len = strlen(s);
    return (size_t)a.len == len && memcmp(a.str, s, len) == 0;
}

/* --- Arena ----------------------------------------------------------------------------- */

/* Chunks are at least this big so that many small strings share one io_alloc. */
#define ARENA_CHUNK_BYTES_MIN 4096u

struct proto_arena_chunk {
    struct proto_arena_chunk *next;
    size_t size_bytes; /* Whole allocation, header included. */
    size_t used_bytes; /* Payload bytes handed out. */
    uint64_t payload[]; /* uint64_t for 8-byte alignment. */
};

void proto_arena_init(struct proto_arena *arena, struct io *io, size_t limit_bytes) {
    ASSERT(arena != NULL && io != NULL);
    arena->io = io;
    arena->chunks = NULL;
    arena->used_bytes = 0;
    arena->limit_bytes = limit_bytes;
}

void *proto_arena_alloc(struct proto_arena *arena, size_t size) {
    ASSERT(arena != NULL);
    size_t rounded = (size + 7u) & ~(size_t)7u;
    if (rounded < size) return NULL; /* Overflow. */
    struct proto_arena_chunk *c = arena->chunks;
    size_t payload_bytes = c ? c->size_bytes - sizeof(*c) : 0;
    if (c == NULL || payload_bytes - c->used_bytes < rounded) {
        size_t want = MAX((size_t)ARENA_CHUNK_BYTES_MIN, rounded + sizeof(*c));
        if (want < rounded) return NULL;
        if (arena->used_bytes > arena->limit_bytes ||
            want > arena->limit_bytes - arena->used_bytes) {
            return NULL;
        }
        c = io_alloc(arena->io, want);
        c->next = arena->chunks;
        c->size_bytes = want;
        c->used_bytes = 0;
        arena->chunks = c;
        arena->used_bytes += want;
    }
    uint8_t *p = (uint8_t *)c->payload + c->used_bytes;
    c->used_bytes += rounded;
    ASSERT(c->used_bytes <= c->size_bytes - sizeof(*c));
    memset(p, 0, size);
    return p;
}

/* Frees chunks newest first; with keep_one, the oldest standard-size chunk stays, emptied. */
static void arena_release(struct proto_arena *arena, bool keep_one) {
    ASSERT(arena != NULL);
    /* Bounded: each chunk accounts for at least ARENA_CHUNK_BYTES_MIN of limit_bytes. */
    while (arena->chunks != NULL) {
        struct proto_arena_chunk *c = arena->chunks;
        if (keep_one && c->next == NULL && c->size_bytes == ARENA_CHUNK_BYTES_MIN) {
            c->used_bytes = 0; /* Reused by the next request: no io_alloc per request. */
            break;
        }
        arena->chunks = c->next;
        ASSERT(arena->used_bytes >= c->size_bytes);
        arena->used_bytes -= c->size_bytes;
        io_free(arena->io, c, c->size_bytes);
    }
    ASSERT(arena->chunks != NULL || arena->used_bytes == 0);
}

void proto_arena_reset(struct proto_arena *arena) { arena_release(arena, true); }

void proto_arena_destroy(struct proto_arena *arena) { arena_release(arena, false); }

/* --- Reader ---------------------------------------------------------------------------- */

void proto_reader_init(struct proto_reader *r, const void *buf, size_t len) {
    ASSERT(r != NULL && (buf != NULL || len == 0));
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->error = 0;
}

void proto_reader_fail(struct proto_reader *r, int error) {
    ASSERT(error < 0);
    if (r->error == 0) r->error = error;
}

/* Returns the next n bytes and advances, or NULL (and sets the error) if short. */
static const uint8_t *take(struct proto_reader *r, size_t n) {
    if (r->error != 0) return NULL;
    if (proto_reader_remaining(r) < n) {
        proto_reader_fail(r, -EBADMSG);
        return NULL;
    }
    const uint8_t *p = r->buf + r->pos;
    r->pos += n;
    ASSERT(r->pos <= r->len);
    return p;
}

int8_t proto_read_i8(struct proto_reader *r) {
    const uint8_t *p = take(r, 1);
    return p ? (int8_t)p[0] : 0;
}

int16_t proto_read_i16(struct proto_reader *r) {
    const uint8_t *p = take(r, 2);
    return p ? (int16_t)(uint16_t)(((uint16_t)p[0] << 8) | p[1]) : 0;
}

uint32_t proto_read_u32(struct proto_reader *r) {
    const uint8_t *p = take(r, 4);
    if (p == NULL) return 0;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int32_t proto_read_i32(struct proto_reader *r) { return (int32_t)proto_read_u32(r); }

int64_t proto_read_i64(struct proto_reader *r) {
    uint64_t hi = proto_read_u32(r);
    uint64_t lo = proto_read_u32(r);
    return (int64_t)((hi << 32) | lo);
}

bool proto_read_bool(struct proto_reader *r) { return proto_read_i8(r) != 0; }

uint64_t proto_read_uvarlong(struct proto_reader *r) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) { /* Bounded: 10 groups of 7 bits cover 64 bits. */
        const uint8_t *p = take(r, 1);
        if (p == NULL) return 0;
        if (i == 9 && (p[0] & 0xfe) != 0) break; /* Bits beyond 64: malformed. */
        v |= (uint64_t)(p[0] & 0x7f) << (7 * i);
        if ((p[0] & 0x80) == 0) return v;
    }
    proto_reader_fail(r, -EBADMSG);
    return 0;
}

uint32_t proto_read_uvarint(struct proto_reader *r) {
    uint32_t v = 0;
    for (unsigned i = 0; i < 5; i++) {
        const uint8_t *p = take(r, 1);
        if (p == NULL) return 0;
        if (i == 4 && (p[0] & 0xf0) != 0) break; /* Bits beyond 32: malformed. */
        v |= (uint32_t)(p[0] & 0x7f) << (7 * i);
        if ((p[0] & 0x80) == 0) return v;
    }
    proto_reader_fail(r, -EBADMSG);
    return 0;
}

int32_t proto_read_varint(struct proto_reader *r) {
    uint32_t u = proto_read_uvarint(r);
    return (int32_t)((u >> 1) ^ (0u - (u & 1u)));
}

int64_t proto_read_varlong(struct proto_reader *r) {
    uint64_t u = proto_read_uvarlong(r);
    return (int64_t)((u >> 1) ^ (0u - (u & 1u)));
}

void proto_read_uuid(struct proto_reader *r, struct proto_uuid *out) {
    const uint8_t *p = take(r, 16);
    if (p) memcpy(out->bytes, p, 16);
    else memset(out->bytes, 0, 16);
}

const uint8_t *proto_read_raw(struct proto_reader *r, size_t len) { return take(r, len); }

void proto_skip(struct proto_reader *r, size_t len) { (void)take(r, len); }

/* Reads a length prefix: compact (uvarint, 0 = null) or classic (int16/int32, -1 = null).
 * Returns -1 for null, -2 on error (already recorded). */
static int64_t read_len(struct proto_reader *r, bool compact, bool wide, bool nullable) {
    int64_t n;
    if (compact) {
        n = (int64_t)proto_read_uvarint(r) - 1;
    } else {
        n = wide ? proto_read_i32(r) : proto_read_i16(r);
    }
    if (r->error != 0) return -2;
    if (n < -1 || (n == -1 && !nullable)) {
        proto_reader_fail(r, -EBADMSG);
        return -2;
    }
    if (n > INT32_MAX || (n >= 0 && (uint64_t)n > proto_reader_remaining(r))) {
        proto_reader_fail(r, -EBADMSG);
        return -2;
    }
    return n;
}

struct proto_string proto_read_string(struct proto_reader *r, struct proto_arena *arena,
                                      bool compact, bool nullable) {
    int64_t n = read_len(r, compact, false, nullable);
    if (n == -1) return PROTO_STR_NULL;
    if (n < 0 || n > INT16_MAX) {
        proto_reader_fail(r, -EBADMSG);
        return (struct proto_string){.str = "", .len = 0};
    }
    const uint8_t *p = take(r, (size_t)n);
    if (p == NULL) return (struct proto_string){.str = "", .len = 0};
    if (arena == NULL) return (struct proto_string){.str = (const char *)p, .len = (int32_t)n};
    char *copy = proto_arena_alloc(arena, (size_t)n + 1);
    if (copy == NULL) {
        proto_reader_fail(r, -ENOMEM);
        return (struct proto_string){.str = "", .len = 0};
    }
    memcpy(copy, p, (size_t)n);
    copy[n] = '\0';
    return (struct proto_string){.str = copy, .len = (int32_t)n};
}

struct proto_bytes proto_read_bytes(struct proto_reader *r, struct proto_arena *arena,
                                    bool compact, bool nullable) {
    int64_t n = read_len(r, compact, true, nullable);
    if (n == -1) return (struct proto_bytes){.data = NULL, .len = -1};
    if (n < 0 || n > INT32_MAX) {
        proto_reader_fail(r, -EBADMSG);
        return (struct proto_bytes){.data = NULL, .len = 0};
    }
    const uint8_t *p = take(r, (size_t)n);
    if (p == NULL) return (struct proto_bytes){.data = NULL, .len = 0};
    if (arena == NULL || n == 0) return (struct proto_bytes){.data = p, .len = (int32_t)n};
    uint8_t *copy = proto_arena_alloc(arena, (size_t)n);
    if (copy == NULL) {
        proto_reader_fail(r, -ENOMEM);
        return (struct proto_bytes){.data = NULL, .len = 0};
    }
    memcpy(copy, p, (size_t)n);
    return (struct proto_bytes){.data = copy, .len = (int32_t)n};
}

int32_t proto_read_array_len(struct proto_reader *r, bool compact, bool nullable) {
    int64_t n = read_len(r, compact, true, nullable);
    if (n == -2) return 0;
    return (int32_t)n;
}

void proto_skip_tagged_fields(struct proto_reader *r) {
    uint32_t count = proto_read_uvarint(r);
    if (count > proto_reader_remaining(r)) { /* Each field needs at least two bytes. */
        proto_reader_fail(r, -EBADMSG);
        return;
    }
    int64_t last_tag = -1;
    for (uint32_t i = 0; i < count && r->error == 0; i++) {
        uint32_t tag = proto_read_uvarint(r);
        uint32_t size = proto_read_uvarint(r);
        /* KIP-482: tags are strictly ascending within a section. */
        if ((int64_t)tag <= last_tag) proto_reader_fail(r, -EBADMSG);
        last_tag = tag;
        proto_skip(r, size);
    }
}

/* --- Writer ---------------------------------------------------------------------------- */

void proto_writer_init(struct proto_writer *w, struct io *io, size_t max_bytes) {
    ASSERT(w != NULL && io != NULL);
    w->io = io;
    w->buf = NULL;
    w->len = 0;
    w->cap = 0;
    w->max_bytes = max_bytes;
    w->error = 0;
}

void proto_writer_init_fixed(struct proto_writer *w, void *buf, size_t cap) {
    ASSERT(w != NULL && (buf != NULL || cap == 0));
    w->io = NULL;
    w->buf = buf;
    w->len = 0;
    w->cap = cap;
    w->max_bytes = cap;
    w->error = 0;
}

void proto_writer_destroy(struct proto_writer *w) {
    if (w->io != NULL && w->buf != NULL) io_free(w->io, w->buf, w->cap);
    w->buf = NULL;
    w->cap = 0;
    w->len = 0;
}

void proto_writer_reset(struct proto_writer *w) {
    w->len = 0;
    w->error = 0;
}

void proto_writer_fail(struct proto_writer *w, int error) {
    ASSERT(error < 0);
    if (w->error == 0) w->error = error;
}

/* Makes room for n more bytes; returns the write position or NULL (error set). */
static uint8_t *reserve(struct proto_writer *w, size_t n) {
    if (w->error != 0) return NULL;
    if (n > w->max_bytes || w->len > w->max_bytes - n) {
        proto_writer_fail(w, -EMSGSIZE);
        return NULL;
    }
    if (w->len + n > w->cap) {
        ASSERT(w->io != NULL); /* A fixed writer has cap == max_bytes. */
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        cap = MIN(cap, w->max_bytes);
        w->buf = w->buf ? io_realloc(w->io, w->buf, w->cap, cap) : io_alloc(w->io, cap);
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    ASSERT(w->len <= w->cap);
    return p;
}

void proto_write_raw(struct proto_writer *w, const void *data, size_t len) {
    if (len == 0) return;
    uint8_t *p = reserve(w, len);
    if (p) memcpy(p, data, len);
}

void proto_write_i8(struct proto_writer *w, int8_t v) {
    uint8_t *p = reserve(w, 1);
    if (p) p[0] = (uint8_t)v;
}

void proto_write_i16(struct proto_writer *w, int16_t v) {
    uint8_t *p = reserve(w, 2);
    if (p == NULL) return;
    p[0] = (uint8_t)((uint16_t)v >> 8);
    p[1] = (uint8_t)v;
}

void proto_write_u32(struct proto_writer *w, uint32_t v) {
    uint8_t *p = reserve(w, 4);
    if (p == NULL) return;
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void proto_write_i32(struct proto_writer *w, int32_t v) { proto_write_u32(w, (uint32_t)v); }

void proto_write_i64(struct proto_writer *w, int64_t v) {
    proto_write_u32(w, (uint32_t)((uint64_t)v >> 32));
    proto_write_u32(w, (uint32_t)(uint64_t)v);
}

void proto_write_bool(struct proto_writer *w, bool v) { proto_write_i8(w, v ? 1 : 0); }

void proto_write_uvarlong(struct proto_writer *w, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) { /* Bounded: at most 9 iterations for 64 bits. */
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    ASSERT(n <= sizeof(tmp));
    proto_write_raw(w, tmp, n);
}

void proto_write_uvarint(struct proto_writer *w, uint32_t v) { proto_write_uvarlong(w, v); }
void proto_write_varint(struct proto_writer *w, int32_t v) {
    proto_write_uvarlong(w, proto_zigzag32(v));
}
void proto_write_varlong(struct proto_writer *w, int64_t v) {
    proto_write_uvarlong(w, proto_zigzag64(v));
}

void proto_write_uuid(struct proto_writer *w, const struct proto_uuid *v) {
    proto_write_raw(w, v->bytes, 16);
}

size_t proto_uvarint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes a length prefix; false if nothing more should be written (null or error). */
static bool write_len(struct proto_writer *w, int64_t len, bool compact, bool wide,
                      bool nullable) {
    if (len < 0 && !nullable) {
        proto_writer_fail(w, -EINVAL);
        return false;
    }
    if (len < -1 || len > (wide ? INT32_MAX - 1 : INT16_MAX)) {
        proto_writer_fail(w, -EINVAL);
        return false;
    }
    if (compact) proto_write_uvarint(w, (uint32_t)(len + 1));
    else if (wide) proto_write_i32(w, (int32_t)len);
    else proto_write_i16(w, (int16_t)len);
    return len >= 0 && w->error == 0;
}

void proto_write_string(struct proto_writer *w, struct proto_string s, bool compact,
                        bool nullable) {
    ASSERT((s.len < 0) == (s.str == NULL) || s.len == 0);
    if (write_len(w, s.len, compact, false, nullable)) proto_write_raw(w, s.str, (size_t)s.len);
}

void proto_write_bytes(struct proto_writer *w, struct proto_bytes b, bool compact,
                       bool nullable) {
    if (write_len(w, b.len, compact, true, nullable)) proto_write_raw(w, b.data, (size_t)b.len);
}

void proto_write_array_len(struct proto_writer *w, int32_t count, bool compact, bool nullable) {
    (void)write_len(w, count, compact, true, nullable);
}

void proto_writer_patch_i32(struct proto_writer *w, size_t pos, int32_t v) {
    if (w->error != 0) return;
    ASSERT(pos + 4 <= w->len);
    uint32_t u = (uint32_t)v;
    w->buf[pos] = (uint8_t)(u >> 24);
    w->buf[pos + 1] = (uint8_t)(u >> 16);
    w->buf[pos + 2] = (uint8_t)(u >> 8);
    w->buf[pos + 3] = (uint8_t)u;
}
