/*
 * proto_schema.h — declarative message descriptions and the generic codec they drive.
 *
 * Each Kafka message (a request or response body, or a struct nested in one) is described
 * ONCE by a `struct proto_schema`: the C struct's size and a table of fields. A field says
 * its wire type, the versions it is present in, from which version it may be null, where it
 * lives in the C struct (offsetof) and, for arrays of structs, the element's schema. One
 * encoder and one decoder walk these tables for any version, so adding a version is editing
 * version ranges, not writing code (see docs/PROTOCOL_CODEC.md).
 *
 * Flexible versions (KIP-482, from the message's `flexible_min`) switch strings, bytes and
 * arrays to their compact forms and end every struct with a tagged-field section. We write
 * an empty section and skip unknown tags on read; no field of the surface-v1 versions is
 * tagged.
 *
 * A field absent from a version decodes to its default (`def` for numbers and bools, ""
 * or null for strings, empty for arrays) and is not written when encoding.
 */
#ifndef TRIAL_PROTO_SCHEMA_H
#define TRIAL_PROTO_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "proto/proto_wire.h"

/* "Present in every later version" upper bound. */
#define PROTO_V_MAX INT16_MAX
/* "Never nullable" marker for proto_field.nullable_min. */
#define PROTO_NEVER INT16_MAX

enum proto_type {
    PROTO_T_BOOL = 1,    /* bool */
    PROTO_T_INT8,        /* int8_t */
    PROTO_T_INT16,       /* int16_t */
    PROTO_T_INT32,       /* int32_t */
    PROTO_T_INT64,       /* int64_t */
    PROTO_T_UUID,        /* struct proto_uuid */
    PROTO_T_STRING,      /* struct proto_string */
    PROTO_T_BYTES,       /* struct proto_bytes (copied into the arena) */
    PROTO_T_RECORDS,     /* struct proto_bytes (points into the frame; see proto_wire.h) */
    PROTO_T_ARRAY_INT32, /* PROTO_ARRAY(int32_t) */
    PROTO_T_ARRAY_INT64, /* PROTO_ARRAY(int64_t) */
    PROTO_T_ARRAY_STRING, /* PROTO_ARRAY(struct proto_string) */
    PROTO_T_ARRAY_STRUCT, /* PROTO_ARRAY(struct <elem>) described by `elem` */
};

struct proto_schema;

struct proto_field {
    const char *name;                /* Kafka's field name, for diagnostics and docs. */
    enum proto_type type;            /* Wire and C type. */
    int16_t version_min;             /* First version with this field. */
    int16_t version_max;             /* Last version with it, PROTO_V_MAX = open. */
    int16_t nullable_min;            /* First version where null is allowed, or PROTO_NEVER. */
    uint16_t offset;                 /* offsetof() in the C struct. */
    int64_t def;                     /* Default of numbers/bools when absent. */
    const struct proto_schema *elem; /* Element schema of PROTO_T_ARRAY_STRUCT. */
};

struct proto_schema {
    const char *name;                /* C struct name without the prefix. */
    size_t size;                     /* sizeof the C struct. */
    const struct proto_field *fields; /* In wire order. */
    size_t field_count;
};

/* The nesting of message structs is at most this deep (the codec recurses per level). */
#define PROTO_SCHEMA_DEPTH_MAX 6

/*
 * Decodes one struct of `schema` at `version` into `out` (schema->size bytes, zeroed by the
 * caller or not — every field is written). Allocations come from `arena`. Errors stay in
 * r->error (-EBADMSG, -ENOMEM).
 */
void proto_schema_decode(struct proto_reader *r, struct proto_arena *arena,
                         const struct proto_schema *schema, int16_t version, bool flexible,
                         void *out);
/* Encodes one struct; errors stay in w->error (-EMSGSIZE, -EINVAL for a null that the
 * version does not allow). */
void proto_schema_encode(struct proto_writer *w, const struct proto_schema *schema,
                         int16_t version, bool flexible, const void *in);
/* Sets every field of `out` to its default for `version` (absent fields included). */
void proto_schema_defaults(const struct proto_schema *schema, int16_t version, void *out);

static inline bool proto_field_present(const struct proto_field *f, int16_t version) {
    return version >= f->version_min && version <= f->version_max;
}
static inline bool proto_field_nullable(const struct proto_field *f, int16_t version) {
    return f->nullable_min != PROTO_NEVER && version >= f->nullable_min;
}

/* Generic array access (the PROTO_ARRAY layout). */
struct proto_array_raw {
    void *items;
    int32_t count;
};

/* Size in the C struct of one element of an array field. */
size_t proto_field_elem_size(const struct proto_field *f);

#endif /* TRIAL_PROTO_SCHEMA_H */
