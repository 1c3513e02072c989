/*
 * test_proto_util.h — shared by the proto tests: a seeded generator that fills any message
 * struct with random values valid for a given version (nulls only where the version allows
 * them), and a deep, schema-driven equality.
 */
#ifndef TEST_PROTO_UTIL_H
#define TEST_PROTO_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"

static uint64_t rng_state;
static inline uint32_t rnd(uint32_t n) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return n ? (uint32_t)((rng_state >> 33) % n) : 0;
}

static inline void fill_struct(struct proto_arena *a, const struct proto_schema *s, int16_t v,
                        void *out, int depth);

static inline struct proto_string rand_string(struct proto_arena *a, bool nullable) {
    if (nullable && rnd(4) == 0) return PROTO_STR_NULL;
    uint32_t len = rnd(9);
    char *p = proto_arena_alloc(a, len + 1);
    for (uint32_t i = 0; i < len; i++) p[i] = (char)('a' + rnd(26));
    return (struct proto_string){.str = p, .len = (int32_t)len};
}

static inline void fill_field(struct proto_arena *a, const struct proto_field *f, int16_t v, void *out,
                       int depth) {
    void *p = (uint8_t *)out + f->offset;
    bool nullable = proto_field_nullable(f, v);
    uint64_t r = ((uint64_t)rnd(UINT32_MAX) << 32) | rnd(UINT32_MAX);
    switch (f->type) {
    case PROTO_T_BOOL: *(bool *)p = rnd(2); break;
    case PROTO_T_INT8: *(int8_t *)p = (int8_t)r; break;
    case PROTO_T_INT16: *(int16_t *)p = (int16_t)r; break;
    case PROTO_T_INT32: *(int32_t *)p = (int32_t)r; break;
    case PROTO_T_INT64: *(int64_t *)p = (int64_t)r; break;
    case PROTO_T_UUID:
        for (int i = 0; i < 16; i++) ((struct proto_uuid *)p)->bytes[i] = (uint8_t)rnd(256);
        break;
    case PROTO_T_STRING: *(struct proto_string *)p = rand_string(a, nullable); break;
    case PROTO_T_BYTES:
    case PROTO_T_RECORDS: {
        if (nullable && rnd(4) == 0) {
            *(struct proto_bytes *)p = (struct proto_bytes){.data = NULL, .len = -1};
            break;
        }
        uint32_t len = rnd(70);
        uint8_t *d = proto_arena_alloc(a, len + 1);
        for (uint32_t i = 0; i < len; i++) d[i] = (uint8_t)rnd(256);
        *(struct proto_bytes *)p = (struct proto_bytes){.data = d, .len = (int32_t)len};
        break;
    }
    default: {
        struct proto_array_raw arr = {.items = NULL, .count = 0};
        if (nullable && rnd(4) == 0) {
            arr.count = -1;
        } else {
            arr.count = (int32_t)rnd(depth > 2 ? 2 : 4);
            size_t es = proto_field_elem_size(f);
            arr.items = arr.count ? proto_arena_alloc(a, es * (size_t)arr.count) : NULL;
            for (int32_t i = 0; i < arr.count; i++) {
                void *item = (uint8_t *)arr.items + es * (size_t)i;
                uint64_t x = ((uint64_t)rnd(UINT32_MAX) << 32) | rnd(UINT32_MAX);
                if (f->type == PROTO_T_ARRAY_INT32) *(int32_t *)item = (int32_t)x;
                else if (f->type == PROTO_T_ARRAY_INT64) *(int64_t *)item = (int64_t)x;
                else if (f->type == PROTO_T_ARRAY_STRING)
                    *(struct proto_string *)item = rand_string(a, false);
                else fill_struct(a, f->elem, v, item, depth + 1);
            }
        }
        memcpy(p, &arr, sizeof(arr));
        break;
    }
    }
}

static inline void fill_struct(struct proto_arena *a, const struct proto_schema *s, int16_t v,
                        void *out, int depth) {
    proto_schema_defaults(s, v, out);
    for (size_t i = 0; i < s->field_count; i++) {
        if (proto_field_present(&s->fields[i], v)) fill_field(a, &s->fields[i], v, out, depth);
    }
}

static inline bool str_eq(struct proto_string x, struct proto_string y) {
    if (x.len != y.len) return false;
    return x.len <= 0 || memcmp(x.str, y.str, (size_t)x.len) == 0;
}

/* Deep equality by schema; reports the first differing field. */
static inline bool struct_eq(const struct proto_schema *s, const void *x, const void *y) {
    for (size_t i = 0; i < s->field_count; i++) {
        const struct proto_field *f = &s->fields[i];
        const void *px = (const uint8_t *)x + f->offset;
        const void *py = (const uint8_t *)y + f->offset;
        bool eq = true;
        switch (f->type) {
        case PROTO_T_BOOL: eq = *(const bool *)px == *(const bool *)py; break;
        case PROTO_T_INT8: eq = *(const int8_t *)px == *(const int8_t *)py; break;
        case PROTO_T_INT16: eq = *(const int16_t *)px == *(const int16_t *)py; break;
        case PROTO_T_INT32: eq = *(const int32_t *)px == *(const int32_t *)py; break;
        case PROTO_T_INT64: eq = *(const int64_t *)px == *(const int64_t *)py; break;
        case PROTO_T_UUID: eq = memcmp(px, py, 16) == 0; break;
        case PROTO_T_STRING:
            eq = str_eq(*(const struct proto_string *)px, *(const struct proto_string *)py);
            break;
        case PROTO_T_BYTES:
        case PROTO_T_RECORDS: {
            const struct proto_bytes *bx = px, *by = py;
            eq = bx->len == by->len &&
                 (bx->len <= 0 || memcmp(bx->data, by->data, (size_t)bx->len) == 0);
            break;
        }
        default: {
            struct proto_array_raw ax, ay;
            memcpy(&ax, px, sizeof(ax));
            memcpy(&ay, py, sizeof(ay));
            eq = ax.count == ay.count;
            size_t es = proto_field_elem_size(f);
            for (int32_t k = 0; eq && k < ax.count; k++) {
                const void *ix = (const uint8_t *)ax.items + es * (size_t)k;
                const void *iy = (const uint8_t *)ay.items + es * (size_t)k;
                if (f->type == PROTO_T_ARRAY_STRING)
                    eq = str_eq(*(const struct proto_string *)ix,
                                *(const struct proto_string *)iy);
                else if (f->type == PROTO_T_ARRAY_STRUCT) eq = struct_eq(f->elem, ix, iy);
                else eq = memcmp(ix, iy, es) == 0;
            }
            break;
        }
        }
        if (!eq) {
            print_error("field %s.%s differs\n", s->name, f->name);
            return false;
        }
    }
    return true;
}

#endif /* TEST_PROTO_UTIL_H */
