/*
 * test_log_util.h — shared helpers for the log tests: a seeded PRNG, batch builders for
 * random workloads, and a model of what was appended (batch bytes with their offsets) to
 * compare the log against.
 */
#ifndef TEST_LOG_UTIL_H
#define TEST_LOG_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/batch.h"
#include "log/log.h"

struct tl_rng {
    uint64_t s;
};

static inline uint64_t tl_next(struct tl_rng *r) {
    r->s += 0x9E3779B97F4A7C15ull; /* SplitMix64 */
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t tl_below(struct tl_rng *r, uint64_t n) { return tl_next(r) % n; }

/* One appended batch as the log should hold it. */
struct tl_batch {
    int64_t base, last;
    uint8_t *bytes;
    size_t len;
};

struct tl_model {
    struct tl_batch *b;
    size_t count, cap;
};

static inline void tl_model_push(struct tl_model *m, const uint8_t *bytes, size_t len) {
    if (m->count == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->b = realloc(m->b, m->cap * sizeof *m->b);
    }
    struct batch_header h;
    batch_header_decode(bytes, len, &h);
    struct tl_batch *t = &m->b[m->count++];
    t->base = h.base_offset;
    t->last = batch_last_offset(&h);
    t->len = len;
    t->bytes = malloc(len);
    memcpy(t->bytes, bytes, len);
}

/* Drops batches from index `keep` on. */
static inline void tl_model_cut(struct tl_model *m, size_t keep) {
    for (size_t i = keep; i < m->count; i++) free(m->b[i].bytes);
    if (keep < m->count) m->count = keep;
}

static inline void tl_model_free(struct tl_model *m) {
    tl_model_cut(m, 0);
    free(m->b);
    memset(m, 0, sizeof *m);
}

/*
 * Builds a batch of n records: key "k<r>" with r < key_space (or null key when key_space
 * is 0), value of random length (or a tombstone with probability tomb_permille),
 * timestamps ts_base + [0, ts_jitter). attrs/pid for transactional data.
 */
static inline int64_t tl_build(uint8_t *buf, size_t cap, struct tl_rng *r, int n,
                               uint32_t key_space, uint32_t tomb_permille, int64_t ts_base,
                               int64_t ts_jitter, int16_t attrs, int64_t pid) {
    static char keys[64][16];
    static uint8_t vals[64][300];
    struct batch_record_in recs[64];
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++) {
        uint32_t k = key_space ? (uint32_t)tl_below(r, key_space) : 0;
        snprintf(keys[i], sizeof keys[i], "k%u", k);
        int32_t vlen = (int32_t)tl_below(r, 300);
        for (int32_t j = 0; j < vlen; j++) vals[i][j] = (uint8_t)tl_next(r);
        bool tomb = tl_below(r, 1000) < tomb_permille;
        recs[i] = (struct batch_record_in){
            .offset_delta = i,
            .timestamp = ts_base + (ts_jitter ? (int64_t)tl_below(r, (uint64_t)ts_jitter) : 0),
            .key = key_space ? (const uint8_t *)keys[i] : NULL,
            .key_len = key_space ? (int32_t)strlen(keys[i]) : -1,
            .value = tomb ? NULL : vals[i],
            .value_len = tomb ? -1 : vlen,
        };
    }
    struct batch_build_params p = {.base_offset = 0, .partition_leader_epoch = -1,
                                   .attributes = attrs, .producer_id = pid,
                                   .producer_epoch = pid >= 0 ? 0 : -1,
                                   .base_sequence = pid >= 0 ? 0 : -1};
    return batch_build(buf, cap, &p, recs, (size_t)n);
}

/* Reads the whole log from `from` with copies; calls cb per batch. Returns batches seen. */
typedef void (*tl_batch_cb)(void *arg, const uint8_t *batch, size_t len);
static inline size_t tl_read_all(struct log *log, int64_t from, tl_batch_cb cb, void *arg) {
    size_t cap = 1 << 20, seen = 0;
    uint8_t *buf = malloc(cap);
    int64_t off = from;
    while (off < log_end_offset(log)) {
        size_t len = 0;
        int64_t first;
        int rc = log_read_copy(log, off, cap / 2, true, INT64_MAX, buf, cap, &len, &first);
        if (rc != 0) {
            fprintf(stderr, "read at %lld: %d\n", (long long)off, rc);
            abort();
        }
        if (len == 0) break;
        size_t pos = 0;
        while (pos < len) {
            struct batch_header h;
            if (batch_check(buf + pos, len - pos, LOG_BATCH_BYTES_MAX, &h) != 0) abort();
            cb(arg, buf + pos, batch_total_bytes(&h));
            seen++;
            off = batch_last_offset(&h) + 1;
            pos += batch_total_bytes(&h);
        }
    }
    free(buf);
    return seen;
}

#endif /* TEST_LOG_UTIL_H */
