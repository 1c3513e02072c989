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

#define TRACE_HASH_SEED 0xcbf29ce484222325ULL

/* Interned strings live in blocks of TRACE_STR_BLOCK bytes (a longer string gets a block of
 * its own); fields in blocks of TRACE_FIELD_BLOCK. Blocks never move, so events may point
 * into them. The intern table is open addressing over content hashes: lookups depend on the
 * strings only, never on addresses, and nothing iterates it. */
#define TRACE_STR_BLOCK   (64u * 1024u)
#define TRACE_FIELD_BLOCK 8192u
#define TRACE_SLOTS_MIN   256u

struct trace_str_block {
    struct trace_str_block *next;
    size_t used;
    size_t capacity;
    char data[];
};

struct trace_field_block {
    struct trace_field_block *next;
    size_t used;
    struct trace_field data[TRACE_FIELD_BLOCK];
};

struct trace_slot {
    uint64_t hash; /* Content hash of str; a slot is used when str != NULL. */
    size_t len;
    char *str;
};

/* Recently interned strings by the caller's pointer: most callers pass the same literal or
 * node name again and again, so one strcmp against the remembered copy replaces strlen,
 * hashing and probing. Only a hint: a hit is confirmed by content, so what is interned never
 * depends on addresses. */
#define TRACE_RECENT 256u

struct trace_recent {
    const char *ptr;
    const struct trace_slot *slot;
};

struct trace_store {
    struct trace_recent recent[TRACE_RECENT];
    struct trace_slot *slots;
    size_t slot_count; /* Power of two. */
    size_t slot_used;  /* Kept at most 1/2 of slot_count. */
    struct trace_str_block *strs;
    struct trace_field_block *fields;
};

static struct trace_store *trace_store_create(void) {
    struct trace_store *st = calloc(1, sizeof(*st));
    ASSERT(st != NULL);
    st->slot_count = TRACE_SLOTS_MIN;
    st->slots = calloc(st->slot_count, sizeof(*st->slots));
    ASSERT(st->slots != NULL);
    return st;
}

static void trace_store_destroy(struct trace_store *st) {
    while (st->strs != NULL) {
        struct trace_str_block *b = st->strs;
        st->strs = b->next;
        free(b);
    }
    while (st->fields != NULL) {
        struct trace_field_block *b = st->fields;
        st->fields = b->next;
        free(b);
    }
    free(st->slots);
    free(st);
}

/* One multiply per 64-bit word (little endian, so the same on every host). The trace hash
 * folds these content hashes, so each string is hashed once, when it is interned. */
#define TRACE_HASH_MUL 0x9E3779B97F4A7C15ULL

static inline uint64_t trace_mix(uint64_t h, uint64_t v) {
    h ^= v;
    h *= TRACE_HASH_MUL;
    return h ^ (h >> 29);
}

/* n <= 8 bytes as a little-endian word (missing bytes are zero). A whole word is one
 * memcpy the compiler inlines; a tail is assembled byte by byte (a variable-length memcpy
 * would be a libc call per string). */
static inline uint64_t trace_load_le64(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    if (n == 8) {
        memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        return v;
    }
    for (size_t k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static uint64_t trace_content_hash(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = trace_mix(TRACE_HASH_SEED, len);
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        h = trace_mix(h, trace_load_le64(p + i, 8));
    return trace_mix(h, trace_load_le64(p + i, len - i));
}

static char *trace_store_copy(struct trace_store *st, const char *s, size_t len) {
    size_t need = len + 1;
    struct trace_str_block *b = st->strs;
    if (b == NULL || b->capacity - b->used < need) {
        size_t capacity = need > TRACE_STR_BLOCK ? need : TRACE_STR_BLOCK;
        b = malloc(sizeof(*b) + capacity);
        ASSERT(b != NULL);
        b->used = 0;
        b->capacity = capacity;
        /* A big one-off block goes behind the current one, so the current keeps filling. */
        if (capacity > TRACE_STR_BLOCK && st->strs != NULL) {
            b->next = st->strs->next;
            st->strs->next = b;
        } else {
            b->next = st->strs;
            st->strs = b;
        }
    }
    char *copy = b->data + b->used;
    memcpy(copy, s, len);
    copy[len] = '\0';
    b->used += need;
    ASSERT(b->used <= b->capacity);
    return copy;
}

static void trace_store_grow(struct trace_store *st) {
    size_t count = st->slot_count * 2;
    ASSERT(count > st->slot_count);
    struct trace_slot *slots = calloc(count, sizeof(*slots));
    ASSERT(slots != NULL);
    for (size_t i = 0; i < st->slot_count; i++) {
        struct trace_slot *old = &st->slots[i];
        if (old->str == NULL) continue;
        size_t j = (size_t)old->hash & (count - 1);
        while (slots[j].str != NULL)
            j = (j + 1) & (count - 1);
        slots[j] = *old;
    }
    free(st->slots);
    st->slots = slots;
    st->slot_count = count;
    memset(st->recent, 0, sizeof(st->recent)); /* They pointed into the old table. */
}

static const struct trace_slot *trace_intern_slot(struct trace_store *st, const char *s) {
    ASSERT(s != NULL);
    size_t len = strlen(s);
    uint64_t h = trace_content_hash(s, len);
    size_t mask = st->slot_count - 1;
    size_t j = (size_t)h & mask;
    for (size_t probes = 0; probes <= mask; probes++) {
        struct trace_slot *slot = &st->slots[j];
        if (slot->str == NULL) break;
        if (slot->hash == h && slot->len == len && memcmp(slot->str, s, len) == 0) return slot;
        j = (j + 1) & mask;
    }
    if ((st->slot_used + 1) * 2 > st->slot_count) {
        trace_store_grow(st);
        mask = st->slot_count - 1;
        j = (size_t)h & mask;
        while (st->slots[j].str != NULL)
            j = (j + 1) & mask;
    }
    ASSERT(st->slots[j].str == NULL);
    st->slots[j] = (struct trace_slot){.hash = h, .len = len, .str = trace_store_copy(st, s, len)};
    st->slot_used++;
    return &st->slots[j];
}

/* The one stored copy of s; *hash_out gets its content hash. */
static char *trace_intern(struct trace_store *st, const char *s, uint64_t *hash_out) {
    ASSERT(s != NULL);
    struct trace_recent *r = &st->recent[((uintptr_t)s >> 3) & (TRACE_RECENT - 1)];
    if (r->ptr == s && strcmp(r->slot->str, s) == 0) {
        *hash_out = r->slot->hash;
        return r->slot->str;
    }
    const struct trace_slot *slot = trace_intern_slot(st, s);
    r = &st->recent[((uintptr_t)s >> 3) & (TRACE_RECENT - 1)]; /* grow may have cleared it */
    r->ptr = s;
    r->slot = slot;
    *hash_out = slot->hash;
    return slot->str;
}

/* Interns s when the event is kept; a dropped event's strings are only hashed, so a trace
 * past its bound stops growing. */
static char *trace_take(struct trace_store *st, bool keep, const char *s, uint64_t *hash_out) {
    if (keep) return trace_intern(st, s, hash_out);
    *hash_out = trace_content_hash(s, strlen(s));
    return NULL;
}

static struct trace_field *trace_store_fields(struct trace_store *st, size_t count) {
    ASSERT(count > 0 && count <= TRACE_FIELD_BLOCK);
    struct trace_field_block *b = st->fields;
    if (b == NULL || TRACE_FIELD_BLOCK - b->used < count) {
        b = malloc(sizeof(*b));
        ASSERT(b != NULL);
        b->used = 0;
        b->next = st->fields;
        st->fields = b;
    }
    struct trace_field *f = &b->data[b->used];
    b->used += count;
    return f;
}

void trace_init(struct trace *t, size_t events_max) {
    ASSERT(t != NULL && events_max > 0);
    memset(t, 0, sizeof(*t));
    t->events_max = events_max;
    t->hash = TRACE_HASH_SEED;
}

void trace_free(struct trace *t) {
    ASSERT(t != NULL);
    if (t->store != NULL) trace_store_destroy(t->store);
    free(t->events);
    memset(t, 0, sizeof(*t));
}

size_t trace_add(struct trace *t, uint64_t time_ns, const char *node, const char *name,
                 const struct io_trace_field *fields, size_t count) {
    ASSERT(t != NULL && node != NULL && name != NULL);
    ASSERT(count <= TRACE_FIELDS_MAX);
    ASSERT(count == 0 || fields != NULL);
    ASSERT(t->count == 0 || time_ns >= t->events[t->count - 1].time_ns);

    /* The hash covers dropped events too; it folds each string's content hash, which
     * interning computes anyway. */
    if (t->store == NULL) t->store = trace_store_create();
    struct trace_store *st = t->store;
    ASSERT(t->count <= t->events_max);
    bool keep = t->count < t->events_max;
    uint64_t sh;
    uint64_t h = trace_mix(t->hash, time_ns);
    char *node_copy = trace_take(st, keep, node, &sh);
    h = trace_mix(h, sh);
    char *name_copy = trace_take(st, keep, name, &sh);
    h = trace_mix(h, sh);
    struct trace_field copies[TRACE_FIELDS_MAX];
    for (size_t i = 0; i < count; i++) {
        ASSERT(fields[i].key != NULL);
        copies[i].key = trace_take(st, keep, fields[i].key, &sh);
        h = trace_mix(h, sh);
        copies[i].type = fields[i].type;
        h = trace_mix(h, (uint64_t)fields[i].type);
        copies[i].i = fields[i].i;
        copies[i].s = NULL;
        if (fields[i].type == IO_TRACE_INT) {
            h = trace_mix(h, (uint64_t)fields[i].i);
        } else {
            copies[i].s = trace_take(st, keep, fields[i].s != NULL ? fields[i].s : "", &sh);
            h = trace_mix(h, sh);
        }
    }
    t->hash = h;

    if (!keep) {
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
    e->node = node_copy;
    e->name = name_copy;
    e->field_count = count;
    e->fields = NULL;
    if (count > 0) {
        e->fields = trace_store_fields(st, count);
        memcpy(e->fields, copies, count * sizeof(*copies));
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
