/*
 * proto_wire.h — the bytes of the Kafka protocol: a bounds-checked reader, a bounded writer,
 * the primitive types, and the per-request arena that decoded messages live in.
 *
 * Reader: never reads past the end. The first failure sets a sticky error (-EBADMSG for
 * malformed or truncated input, -ENOMEM when the arena is exhausted); every later read
 * returns a zero value and leaves the error in place, so decoders can read a whole struct and
 * check once. Writer: appends into memory from io_alloc, growing by doubling up to a
 * byte limit; past the limit it sets a sticky -EMSGSIZE and writes nothing more. A writer can
 * also wrap a caller's fixed buffer (io NULL): it then never grows.
 *
 * Arena: every allocation of one decode (strings, arrays) comes from chunks obtained with
 * io_alloc and is released at once with proto_arena_reset()/proto_arena_destroy(). The total
 * is bounded by `limit_bytes`, so a hostile frame cannot make us allocate more than that.
 *
 * Strings and byte fields in decoded messages are COPIED into the arena (strings are also
 * NUL-terminated); record sets (type "records") are NOT copied: they point into the frame
 * buffer, which must therefore outlive the decoded message. This keeps a 1 MiB produce
 * request from being copied before the log stores it as received.
 */
#ifndef TRIAL_PROTO_WIRE_H
#define TRIAL_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io;

/* A Kafka string: len -1 with str NULL means null. Decoded strings are NUL-terminated. */
struct proto_string {
    const char *str; /* Not owned; NULL iff len == -1. */
    int32_t len;     /* Byte length, or -1 for null. */
};

/* Kafka bytes or records: len -1 with data NULL means null. */
struct proto_bytes {
    const uint8_t *data; /* Not owned; NULL iff len == -1 (or len == 0, may be NULL). */
    int32_t len;         /* Byte length, or -1 for null. */
};

/* A 16-byte UUID as on the wire (big-endian halves). */
struct proto_uuid {
    uint8_t bytes[16];
};

/* Typed array layout used by every message struct: items then count (-1 = null array).
 * The generic codec relies on this exact layout (pointer first, then int32 count). */
#define PROTO_ARRAY(type)                                                                      \
    struct {                                                                                   \
        type *items;                                                                           \
        int32_t count;                                                                         \
    }

/* Helpers to build values by hand (tests, clients). PROTO_STR takes a string LITERAL only
 * (it uses sizeof); use proto_string_from() for a char pointer. */
#define PROTO_STR(s) ((struct proto_string){.str = (s), .len = (int32_t)(sizeof(s) - 1)})
#define PROTO_STR_NULL ((struct proto_string){.str = NULL, .len = -1})
struct proto_string proto_string_from(const char *s); /* NULL -> null string. */
bool proto_string_eq(struct proto_string a, const char *s); /* s NULL matches null. */

/* --- Arena ----------------------------------------------------------------------------- */

struct proto_arena_chunk;
struct proto_arena {
    struct io *io;                   /* Where chunks come from. */
    struct proto_arena_chunk *chunks; /* Singly linked, newest first. */
    size_t used_bytes;               /* Bytes handed out plus chunk overhead. */
    size_t limit_bytes;              /* Upper bound on used_bytes. */
};

void proto_arena_init(struct proto_arena *arena, struct io *io, size_t limit_bytes);
/* Returns zeroed, 8-byte aligned memory, or NULL when the limit would be exceeded. */
void *proto_arena_alloc(struct proto_arena *arena, size_t size);
/* Releases everything allocated so far; the arena can be used again. One standard chunk is
 * kept for the next request (so a small request costs no io_alloc); destroy frees all. */
void proto_arena_reset(struct proto_arena *arena);
void proto_arena_destroy(struct proto_arena *arena);

/* --- Reader ---------------------------------------------------------------------------- */

struct proto_reader {
    const uint8_t *buf; /* Not owned. */
    size_t len;         /* Bytes in buf. */
    size_t pos;         /* Next byte to read; pos <= len always. */
    int error;          /* 0, or the first error (sticky). */
};

void proto_reader_init(struct proto_reader *r, const void *buf, size_t len);
static inline size_t proto_reader_remaining(const struct proto_reader *r) {
    return r->len - r->pos;
}
void proto_reader_fail(struct proto_reader *r, int error); /* Keeps the first error. */

int8_t proto_read_i8(struct proto_reader *r);
int16_t proto_read_i16(struct proto_reader *r);
int32_t proto_read_i32(struct proto_reader *r);
int64_t proto_read_i64(struct proto_reader *r);
uint32_t proto_read_u32(struct proto_reader *r);
bool proto_read_bool(struct proto_reader *r);
uint32_t proto_read_uvarint(struct proto_reader *r);  /* Unsigned LEB128, at most 5 bytes. */
uint64_t proto_read_uvarlong(struct proto_reader *r); /* Unsigned LEB128, at most 10 bytes. */
int32_t proto_read_varint(struct proto_reader *r);    /* Zigzag. */
int64_t proto_read_varlong(struct proto_reader *r);   /* Zigzag. */
void proto_read_uuid(struct proto_reader *r, struct proto_uuid *out);
/* Returns a pointer to `len` bytes inside the buffer and advances, or NULL on error. */
const uint8_t *proto_read_raw(struct proto_reader *r, size_t len);
void proto_skip(struct proto_reader *r, size_t len);
/*
 * Strings/bytes: `compact` selects the KIP-482 form (unsigned varint length + 1, 0 = null)
 * over the classic int16 (strings) / int32 (bytes) length, -1 = null. A null where
 * `nullable` is false is an error. Strings and bytes are copied into `arena`; with arena NULL
 * they point into the buffer (and strings are then not NUL-terminated).
 */
struct proto_string proto_read_string(struct proto_reader *r, struct proto_arena *arena,
                                      bool compact, bool nullable);
struct proto_bytes proto_read_bytes(struct proto_reader *r, struct proto_arena *arena,
                                    bool compact, bool nullable);
/* Array length: classic int32 (-1 null) or compact uvarint (0 null). Returns -1 for null.
 * Rejects counts larger than the bytes left (every element takes at least one byte). */
int32_t proto_read_array_len(struct proto_reader *r, bool compact, bool nullable);
/* Skips a tagged-field section (KIP-482): count, then (tag, size, bytes) each. */
void proto_skip_tagged_fields(struct proto_reader *r);

/* --- Writer ---------------------------------------------------------------------------- */

struct proto_writer {
    struct io *io;   /* NULL: fixed buffer supplied by the caller, never grown. */
    uint8_t *buf;    /* Owned when io != NULL. */
    size_t len;      /* Bytes written. */
    size_t cap;      /* Bytes allocated. */
    size_t max_bytes; /* Growth bound. */
    int error;       /* 0, or the first error (sticky): -EMSGSIZE, -EINVAL. */
};

/* Growable writer; memory from io, at most max_bytes. Free with proto_writer_destroy(). */
void proto_writer_init(struct proto_writer *w, struct io *io, size_t max_bytes);
/* Writer over a caller buffer of `cap` bytes. */
void proto_writer_init_fixed(struct proto_writer *w, void *buf, size_t cap);
void proto_writer_destroy(struct proto_writer *w);
void proto_writer_reset(struct proto_writer *w); /* len = 0, error = 0; keeps memory. */
void proto_writer_fail(struct proto_writer *w, int error);

void proto_write_raw(struct proto_writer *w, const void *data, size_t len);
void proto_write_i8(struct proto_writer *w, int8_t v);
void proto_write_i16(struct proto_writer *w, int16_t v);
void proto_write_i32(struct proto_writer *w, int32_t v);
void proto_write_i64(struct proto_writer *w, int64_t v);
void proto_write_u32(struct proto_writer *w, uint32_t v);
void proto_write_bool(struct proto_writer *w, bool v);
void proto_write_uvarint(struct proto_writer *w, uint32_t v);
void proto_write_uvarlong(struct proto_writer *w, uint64_t v);
void proto_write_varint(struct proto_writer *w, int32_t v);
void proto_write_varlong(struct proto_writer *w, int64_t v);
void proto_write_uuid(struct proto_writer *w, const struct proto_uuid *v);
/* A null value where `nullable` is false sets -EINVAL (a programmer error upstream, but we
 * report rather than put bytes on the wire that the peer would misparse). */
void proto_write_string(struct proto_writer *w, struct proto_string s, bool compact,
                        bool nullable);
void proto_write_bytes(struct proto_writer *w, struct proto_bytes b, bool compact, bool nullable);
void proto_write_array_len(struct proto_writer *w, int32_t count, bool compact, bool nullable);
/* Patches a big-endian int32 at `pos` (used for the frame size prefix). */
void proto_writer_patch_i32(struct proto_writer *w, size_t pos, int32_t v);

/* Sizes of the variable-length integer encodings (for the record-batch codec and tests). */
size_t proto_uvarint_size(uint64_t v);
static inline uint32_t proto_zigzag32(int32_t v) {
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
static inline uint64_t proto_zigzag64(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

#endif /* TRIAL_PROTO_WIRE_H */
