/*
 * proto_schema.c — the one generic encoder/decoder behind every Kafka message.
 *
 * It walks a schema's field table in wire order. Nested structs (arrays of structs) recurse
 * one level per schema level; the depth is fixed by the static tables and asserted against
 * PROTO_SCHEMA_DEPTH_MAX, so the recursion is bounded by construction, not by input.
 * Input can only make loops longer through array counts, and those are checked against the
 * bytes left (every element takes at least one byte) before anything is allocated.
 */
#include "proto/proto_schema.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"

static const char empty_string[1] = "";

size_t proto_field_elem_size(const struct proto_field *f) {
    switch (f->type) {
    case PROTO_T_ARRAY_INT32: return sizeof(int32_t);
    case PROTO_T_ARRAY_INT64: return sizeof(int64_t);
    case PROTO_T_ARRAY_STRING: return sizeof(struct proto_string);
    case PROTO_T_ARRAY_STRUCT: ASSERT(f->elem != NULL); return f->elem->size;
    default: UNREACHABLE();
    }
}

static struct proto_array_raw get_array(const void *base, const struct proto_field *f) {
    struct proto_array_raw a;
    memcpy(&a, (const uint8_t *)base + f->offset, sizeof(a));
    return a;
}

static void set_array(void *base, const struct proto_field *f, void *items, int32_t count) {
    struct proto_array_raw a = {.items = items, .count = count};
    memcpy((uint8_t *)base + f->offset, &a, sizeof(a));
}

/* Stores an integer of the field's C width. */
static void set_int(void *base, const struct proto_field *f, int64_t v) {
    uint8_t *p = (uint8_t *)base + f->offset;
    switch (f->type) {
    case PROTO_T_BOOL: { bool b = v != 0; memcpy(p, &b, sizeof(b)); break; }
    case PROTO_T_INT8: { int8_t x = (int8_t)v; memcpy(p, &x, sizeof(x)); break; }
    case PROTO_T_INT16: { int16_t x = (int16_t)v; memcpy(p, &x, sizeof(x)); break; }
    case PROTO_T_INT32: { int32_t x = (int32_t)v; memcpy(p, &x, sizeof(x)); break; }
    case PROTO_T_INT64: memcpy(p, &v, sizeof(v)); break;
    default: UNREACHABLE();
    }
}

static void field_default(const struct proto_field *f, int16_t version, void *out) {
    uint8_t *p = (uint8_t *)out + f->offset;
    switch (f->type) {
    case PROTO_T_BOOL:
    case PROTO_T_INT8:
    case PROTO_T_INT16:
    case PROTO_T_INT32:
    case PROTO_T_INT64: set_int(out, f, f->def); break;
    case PROTO_T_UUID: memset(p, 0, sizeof(struct proto_uuid)); break;
    case PROTO_T_STRING: {
        /* Kafka's generated code defaults nullable strings to null, others to "". */
        struct proto_string s = f->nullable_min != PROTO_NEVER
                                    ? PROTO_STR_NULL
                                    : (struct proto_string){.str = empty_string, .len = 0};
        memcpy(p, &s, sizeof(s));
        break;
    }
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS: {
        struct proto_bytes b = f->nullable_min != PROTO_NEVER
                                   ? (struct proto_bytes){.data = NULL, .len = -1}
                                   : (struct proto_bytes){.data = NULL, .len = 0};
        memcpy(p, &b, sizeof(b));
        break;
    }
    case PROTO_T_ARRAY_INT32:
    case PROTO_T_ARRAY_INT64:
    case PROTO_T_ARRAY_STRING:
    case PROTO_T_ARRAY_STRUCT: set_array(out, f, NULL, 0); break;
    }
    (void)version;
}

void proto_schema_defaults(const struct proto_schema *schema, int16_t version, void *out) {
    ASSERT(schema != NULL && out != NULL);
    for (size_t i = 0; i < schema->field_count; i++) {
        field_default(&schema->fields[i], version, out);
    }
}

static void decode_struct(struct proto_reader *r, struct proto_arena *arena,
                          const struct proto_schema *schema, int16_t version, bool flexible,
                          void *out, unsigned depth);

static void decode_array(struct proto_reader *r, struct proto_arena *arena,
                         const struct proto_field *f, int16_t version, bool flexible, void *out,
                         unsigned depth) {
    bool nullable = proto_field_nullable(f, version);
    int32_t count = proto_read_array_len(r, flexible, nullable);
    if (r->error != 0) return;
    if (count <= 0) {
        set_array(out, f, NULL, count);
        return;
    }
    size_t elem_size = proto_field_elem_size(f);
    ASSERT((size_t)count <= proto_reader_remaining(r));
    if ((size_t)count > SIZE_MAX / elem_size) {
        proto_reader_fail(r, -EBADMSG);
        return;
    }
    uint8_t *items = proto_arena_alloc(arena, (size_t)count * elem_size);
    if (items == NULL) {
        proto_reader_fail(r, -ENOMEM);
        return;
    }
    set_array(out, f, items, count);
    for (int32_t i = 0; i < count && r->error == 0; i++) {
        uint8_t *item = items + (size_t)i * elem_size;
        switch (f->type) {
        case PROTO_T_ARRAY_INT32: {
            int32_t v = proto_read_i32(r);
            memcpy(item, &v, sizeof(v));
            break;
        }
        case PROTO_T_ARRAY_INT64: {
            int64_t v = proto_read_i64(r);
            memcpy(item, &v, sizeof(v));
            break;
        }
        case PROTO_T_ARRAY_STRING: {
            /* Elements of string arrays are never nullable in any Kafka schema. */
            struct proto_string s = proto_read_string(r, arena, flexible, false);
            memcpy(item, &s, sizeof(s));
            break;
        }
        case PROTO_T_ARRAY_STRUCT:
            decode_struct(r, arena, f->elem, version, flexible, item, depth + 1);
            break;
        default: UNREACHABLE();
        }
    }
    if (r->error != 0) set_array(out, f, NULL, 0); /* Never expose half-read items. */
}

static void decode_struct(struct proto_reader *r, struct proto_arena *arena,
                          const struct proto_schema *schema, int16_t version, bool flexible,
                          void *out, unsigned depth) {
    ASSERT(depth < PROTO_SCHEMA_DEPTH_MAX);
    for (size_t i = 0; i < schema->field_count; i++) {
        const struct proto_field *f = &schema->fields[i];
        uint8_t *p = (uint8_t *)out + f->offset;
        if (!proto_field_present(f, version) || r->error != 0) {
            field_default(f, version, out);
            continue;
        }
        bool nullable = proto_field_nullable(f, version);
        switch (f->type) {
        case PROTO_T_BOOL: set_int(out, f, proto_read_bool(r)); break;
        case PROTO_T_INT8: set_int(out, f, proto_read_i8(r)); break;
        case PROTO_T_INT16: set_int(out, f, proto_read_i16(r)); break;
        case PROTO_T_INT32: set_int(out, f, proto_read_i32(r)); break;
        case PROTO_T_INT64: set_int(out, f, proto_read_i64(r)); break;
        case PROTO_T_UUID: proto_read_uuid(r, (struct proto_uuid *)(void *)p); break;
        case PROTO_T_STRING: {
            struct proto_string s = proto_read_string(r, arena, flexible, nullable);
            memcpy(p, &s, sizeof(s));
            break;
        }
        case PROTO_T_BYTES:
        case PROTO_T_RECORDS: {
            /* Records stay in the frame (arena NULL): the log stores them as received. */
            struct proto_bytes b = proto_read_bytes(
                r, f->type == PROTO_T_BYTES ? arena : NULL, flexible, nullable);
            memcpy(p, &b, sizeof(b));
            break;
        }
        case PROTO_T_ARRAY_INT32:
        case PROTO_T_ARRAY_INT64:
        case PROTO_T_ARRAY_STRING:
        case PROTO_T_ARRAY_STRUCT: decode_array(r, arena, f, version, flexible, out, depth); break;
        }
    }
    if (flexible && r->error == 0) proto_skip_tagged_fields(r);
}

void proto_schema_decode(struct proto_reader *r, struct proto_arena *arena,
                         const struct proto_schema *schema, int16_t version, bool flexible,
                         void *out) {
    ASSERT(r != NULL && arena != NULL && schema != NULL && out != NULL);
    decode_struct(r, arena, schema, version, flexible, out, 0);
}

static void encode_struct(struct proto_writer *w, const struct proto_schema *schema,
                          int16_t version, bool flexible, const void *in, unsigned depth);

static void encode_array(struct proto_writer *w, const struct proto_field *f, int16_t version,
                         bool flexible, const void *in, unsigned depth) {
    struct proto_array_raw a = get_array(in, f);
    int32_t count = a.count;
    if (count > 0 && a.items == NULL) {
        proto_writer_fail(w, -EINVAL);
        return;
    }
    proto_write_array_len(w, count < 0 ? -1 : count, flexible, proto_field_nullable(f, version));
    size_t elem_size = proto_field_elem_size(f);
    for (int32_t i = 0; i < count && w->error == 0; i++) {
        const uint8_t *item = (const uint8_t *)a.items + (size_t)i * elem_size;
        switch (f->type) {
        case PROTO_T_ARRAY_INT32: {
            int32_t v;
            memcpy(&v, item, sizeof(v));
            proto_write_i32(w, v);
            break;
        }
        case PROTO_T_ARRAY_INT64: {
            int64_t v;
            memcpy(&v, item, sizeof(v));
            proto_write_i64(w, v);
            break;
        }
        case PROTO_T_ARRAY_STRING: {
            struct proto_string s;
            memcpy(&s, item, sizeof(s));
            proto_write_string(w, s, flexible, false);
            break;
        }
        case PROTO_T_ARRAY_STRUCT:
            encode_struct(w, f->elem, version, flexible, item, depth + 1);
            break;
        default: UNREACHABLE();
        }
    }
}

static void encode_struct(struct proto_writer *w, const struct proto_schema *schema,
                          int16_t version, bool flexible, const void *in, unsigned depth) {
    ASSERT(depth < PROTO_SCHEMA_DEPTH_MAX);
    for (size_t i = 0; i < schema->field_count && w->error == 0; i++) {
        const struct proto_field *f = &schema->fields[i];
        if (!proto_field_present(f, version)) continue;
        const uint8_t *p = (const uint8_t *)in + f->offset;
        bool nullable = proto_field_nullable(f, version);
        switch (f->type) {
        case PROTO_T_BOOL: {
            bool v;
            memcpy(&v, p, sizeof(v));
            proto_write_bool(w, v);
            break;
        }
        case PROTO_T_INT8: proto_write_i8(w, *(const int8_t *)p); break;
        case PROTO_T_INT16: {
            int16_t v;
            memcpy(&v, p, sizeof(v));
            proto_write_i16(w, v);
            break;
        }
        case PROTO_T_INT32: {
            int32_t v;
            memcpy(&v, p, sizeof(v));
            proto_write_i32(w, v);
            break;
        }
        case PROTO_T_INT64: {
            int64_t v;
            memcpy(&v, p, sizeof(v));
            proto_write_i64(w, v);
            break;
        }
        case PROTO_T_UUID: proto_write_uuid(w, (const struct proto_uuid *)(const void *)p); break;
        case PROTO_T_STRING: {
            struct proto_string s;
            memcpy(&s, p, sizeof(s));
            proto_write_string(w, s, flexible, nullable);
            break;
        }
        case PROTO_T_BYTES:
        case PROTO_T_RECORDS: {
            struct proto_bytes b;
            memcpy(&b, p, sizeof(b));
            proto_write_bytes(w, b, flexible, nullable);
            break;
        }
        case PROTO_T_ARRAY_INT32:
        case PROTO_T_ARRAY_INT64:
        case PROTO_T_ARRAY_STRING:
        case PROTO_T_ARRAY_STRUCT: encode_array(w, f, version, flexible, in, depth); break;
        }
    }
    if (flexible) proto_write_uvarint(w, 0); /* No tagged fields. */
}

void proto_schema_encode(struct proto_writer *w, const struct proto_schema *schema,
                         int16_t version, bool flexible, const void *in) {
    ASSERT(w != NULL && schema != NULL && in != NULL);
    encode_struct(w, schema, version, flexible, in, 0);
}
