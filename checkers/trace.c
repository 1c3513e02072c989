/*
 * trace.c — the recorded trace (see trace.h): copying events, field lookup, the hash.
 */
#include "checkers/trace.h"

#include "base/base.h"
#include "checkers/history.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_FNV_OFFSET 0xcbf29ce484222325ULL
#define TRACE_FNV_PRIME  0x100000001b3ULL

static char *trace_strdup(const char *s) {
    ASSERT(s != NULL);
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    ASSERT(copy != NULL);
    memcpy(copy, s, n);
    return copy;
}

static uint64_t trace_hash_bytes(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= TRACE_FNV_PRIME;
    }
    return h;
}

/* Strings are hashed with their NUL so "ab"+"c" and "a"+"bc" differ. */
static uint64_t trace_hash_str(uint64_t h, const char *s) {
    return trace_hash_bytes(h, s, strlen(s) + 1);
}

/* Integers are hashed as little-endian bytes so the hash is the same on every host. */
static uint64_t trace_hash_u64(uint64_t h, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return trace_hash_bytes(h, b, sizeof(b));
}

void trace_init(struct trace *t, size_t events_max) {
    ASSERT(t != NULL && events_max > 0);
    memset(t, 0, sizeof(*t));
    t->events_max = events_max;
    t->hash = TRACE_FNV_OFFSET;
}

void trace_free(struct trace *t) {
    ASSERT(t != NULL);
    for (size_t i = 0; i < t->count; i++) {
        struct trace_event *e = &t->events[i];
        for (size_t j = 0; j < e->field_count; j++) {
            free(e->fields[j].key);
            free(e->fields[j].s);
        }
        free(e->fields);
        free(e->node);
        free(e->name);
    }
    free(t->events);
    memset(t, 0, sizeof(*t));
}

size_t trace_add(struct trace *t, uint64_t time_ns, const char *node, const char *name,
                 const struct io_trace_field *fields, size_t count) {
    ASSERT(t != NULL && node != NULL && name != NULL);
    ASSERT(count <= TRACE_FIELDS_MAX);
    ASSERT(count == 0 || fields != NULL);
    ASSERT(t->count == 0 || time_ns >= t->events[t->count - 1].time_ns);

    uint64_t h = trace_hash_u64(t->hash, time_ns);
    h = trace_hash_str(h, node);
    h = trace_hash_str(h, name);
    for (size_t i = 0; i < count; i++) {
        h = trace_hash_str(h, fields[i].key);
        h = trace_hash_u64(h, (uint64_t)fields[i].type);
        if (fields[i].type == IO_TRACE_INT)
            h = trace_hash_u64(h, (uint64_t)fields[i].i);
        else
            h = trace_hash_str(h, fields[i].s != NULL ? fields[i].s : "");
    }
    t->hash = h;

    ASSERT(t->count <= t->events_max);
    if (t->count == t->events_max) {
        t->overflow = true;
        return TRACE_NONE;
    }
    if (t->count == t->capacity) {
        size_t capacity = t->capacity == 0 ? 1024 : t->capacity * 2;
        if (capacity > t->events_max) capacity = t->events_max;
        struct trace_event *events = realloc(t->events, capacity * sizeof(*events));
        ASSERT(events != NULL);
        t->events = events;
        t->capacity = capacity;
    }
    struct trace_event *e = &t->events[t->count];
    e->index = t->count;
    e->time_ns = time_ns;
    e->node = trace_strdup(node);
    e->name = trace_strdup(name);
    e->field_count = count;
    e->fields = NULL;
    if (count > 0) {
        e->fields = calloc(count, sizeof(*e->fields));
        ASSERT(e->fields != NULL);
        for (size_t i = 0; i < count; i++) {
            ASSERT(fields[i].key != NULL);
            e->fields[i].key = trace_strdup(fields[i].key);
            e->fields[i].type = fields[i].type;
            e->fields[i].i = fields[i].i;
            if (fields[i].type == IO_TRACE_STR) {
                e->fields[i].s = trace_strdup(fields[i].s != NULL ? fields[i].s : "");
            }
        }
    }
    return t->count++;
}

bool trace_get_int(const struct trace_event *e, const char *key, int64_t *out) {
    ASSERT(e != NULL && key != NULL && out != NULL);
    for (size_t i = 0; i < e->field_count; i++) {
        if (e->fields[i].type == IO_TRACE_INT && strcmp(e->fields[i].key, key) == 0) {
            *out = e->fields[i].i;
            return true;
        }
    }
    return false;
}

const char *trace_get_str(const struct trace_event *e, const char *key) {
    ASSERT(e != NULL && key != NULL);
    for (size_t i = 0; i < e->field_count; i++) {
        if (e->fields[i].type == IO_TRACE_STR && strcmp(e->fields[i].key, key) == 0) {
            return e->fields[i].s;
        }
    }
    return NULL;
}

size_t trace_describe_event(const struct trace_event *e, char *buf, size_t buf_len) {
    ASSERT(e != NULL);
    char t[32];
    history_format_time(e->time_ns, t, sizeof(t));
    size_t used = 0;
    int n = snprintf(buf, buf_len, "%s %s %s", t, e->node, e->name);
    ASSERT(n >= 0);
    used = (size_t)n;
    for (size_t i = 0; i < e->field_count; i++) {
        char *dst = used < buf_len ? buf + used : NULL;
        size_t room = used < buf_len ? buf_len - used : 0;
        if (e->fields[i].type == IO_TRACE_INT) {
            n = snprintf(dst, room, " %s=%" PRId64, e->fields[i].key, e->fields[i].i);
        } else {
            n = snprintf(dst, room, " %s=%s", e->fields[i].key, e->fields[i].s);
        }
        ASSERT(n >= 0);
        used += (size_t)n;
    }
    return used;
}
