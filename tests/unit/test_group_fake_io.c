/*
 * test_group_fake_io.c — a tiny deterministic world for the coordinator's unit tests,
 * #included by test_group_coordinator.c and test_offsets_commit.c (it is not a test of
 * its own). It provides:
 *  - fake_io: a struct io with a manual monotonic clock and wall clock, a timer list fired
 *    in (deadline, start order) by fake_io_advance_ms(), a fixed PRNG, and an allocator
 *    that counts live bytes so each test can prove the coordinator frees what it takes.
 *    Streams and files are not needed and abort if called.
 *  - fake_log: the coordinator's append seam over an in-memory __consumer_offsets. Appends
 *    are queued (never completed before append returns, like the real log) and completed
 *    by fake_log_complete(status); completed records are kept per partition for replay.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "coordinator/group_coordinator.h"
#include "coordinator/group_records.h"
#include "io/io.h"

#define FAKE_TIMERS_MAX  4096
#define FAKE_RECORDS_MAX 8192
#define FAKE_APPENDS_MAX 1024
#define FAKE_TRACES_MAX  64
#define FAKE_TRACE_BYTES 256

struct fake_timer {
    io_timer_id id;
    uint64_t deadline_ns;
    uint64_t seq;
    io_timer_cb cb;
    void *arg;
    bool live;
};

struct fake_io {
    struct io io;
    uint64_t now_ns;
    int64_t wall_ms;
    struct fake_timer timers[FAKE_TIMERS_MAX];
    uint64_t next_id;
    uint64_t rng;
    int64_t live_bytes;
    int64_t live_allocs;
    char traces[FAKE_TRACES_MAX][FAKE_TRACE_BYTES];
    size_t trace_count;
};

static struct fake_io *fake_of(void *ctx) { return ctx; }

static uint64_t fake_monotonic_ns(void *ctx) { return fake_of(ctx)->now_ns; }
static int64_t fake_wall_ms(void *ctx) { return fake_of(ctx)->wall_ms; }

static io_timer_id fake_timer_start(void *ctx, uint64_t deadline_ns, io_timer_cb cb, void *arg) {
    struct fake_io *f = fake_of(ctx);
    for (size_t i = 0; i < FAKE_TIMERS_MAX; i++) {
        if (f->timers[i].live) continue;
        f->next_id++;
        f->timers[i] = (struct fake_timer){.id = f->next_id,
                                           .deadline_ns = deadline_ns,
                                           .seq = f->next_id,
                                           .cb = cb,
                                           .arg = arg,
                                           .live = true};
        return f->next_id;
    }
    ASSERT(!"fake io: too many timers");
    return 0;
}

static void fake_timer_cancel(void *ctx, io_timer_id id) {
    struct fake_io *f = fake_of(ctx);
    if (id == 0) return;
    for (size_t i = 0; i < FAKE_TIMERS_MAX; i++) {
        if (f->timers[i].live && f->timers[i].id == id) f->timers[i].live = false;
    }
}

__attribute__((unused)) static size_t fake_timers_live(struct fake_io *f) {
    size_t n = 0;
    for (size_t i = 0; i < FAKE_TIMERS_MAX; i++)
        n += f->timers[i].live ? 1 : 0;
    return n;
}

/* Advances both clocks, firing every timer due on the way in deadline order. */
static void fake_io_advance_ms(struct fake_io *f, uint64_t ms) {
    uint64_t target_ns = f->now_ns + ms * NS_PER_MS;
    int64_t wall_base_ms = f->wall_ms;
    uint64_t base_ns = f->now_ns;
    for (;;) {
        struct fake_timer *next = NULL;
        for (size_t i = 0; i < FAKE_TIMERS_MAX; i++) {
            struct fake_timer *t = &f->timers[i];
            if (!t->live || t->deadline_ns > target_ns) continue;
            if (next == NULL || t->deadline_ns < next->deadline_ns ||
                (t->deadline_ns == next->deadline_ns && t->seq < next->seq)) {
                next = t;
            }
        }
        if (next == NULL) break;
        if (next->deadline_ns > f->now_ns) f->now_ns = next->deadline_ns;
        f->wall_ms = wall_base_ms + (int64_t)((f->now_ns - base_ns) / NS_PER_MS);
        next->live = false;
        next->cb(next->arg);
    }
    f->now_ns = target_ns;
    f->wall_ms = wall_base_ms + (int64_t)ms;
}

static void *fake_alloc(void *ctx, size_t size) {
    struct fake_io *f = fake_of(ctx);
    ASSERT(size > 0);
    void *p = malloc(size);
    ASSERT(p != NULL);
    f->live_bytes += (int64_t)size;
    f->live_allocs++;
    return p;
}

static void *fake_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    struct fake_io *f = fake_of(ctx);
    void *p = realloc(ptr, new_size);
    ASSERT(p != NULL);
    f->live_bytes += (int64_t)new_size - (int64_t)old_size;
    return p;
}

static void fake_free(void *ctx, void *ptr, size_t size) {
    struct fake_io *f = fake_of(ctx);
    ASSERT(ptr != NULL);
    f->live_bytes -= (int64_t)size;
    f->live_allocs--;
    free(ptr);
}

static uint64_t fake_random_u64(void *ctx) {
    struct fake_io *f = fake_of(ctx);
    /* splitmix64: a fixed, seedable stream. */
    uint64_t z = (f->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Keeps the last FAKE_TRACES_MAX trace events as "event k=v k=v" lines. */
static void fake_trace(void *ctx, const char *event, const struct io_trace_field *fields,
                       size_t count) {
    struct fake_io *f = fake_of(ctx);
    char line[FAKE_TRACE_BYTES];
    size_t len = (size_t)snprintf(line, sizeof(line), "%s", event);
    for (size_t i = 0; i < count && len < sizeof(line); i++) {
        if (fields[i].type == IO_TRACE_INT) {
            len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%lld", fields[i].key,
                                    (long long)fields[i].i);
        } else {
            len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%s", fields[i].key,
                                    fields[i].s);
        }
    }
    if (f->trace_count == FAKE_TRACES_MAX) {
        memmove(f->traces[0], f->traces[1], sizeof(f->traces[0]) * (FAKE_TRACES_MAX - 1));
        f->trace_count--;
    }
    snprintf(f->traces[f->trace_count++], FAKE_TRACE_BYTES, "%s", line);
}

/* How many kept trace lines contain `needle`. */
__attribute__((unused)) static size_t fake_traces_matching(struct fake_io *f, const char *needle) {
    size_t n = 0;
    for (size_t i = 0; i < f->trace_count; i++)
        n += strstr(f->traces[i], needle) != NULL;
    return n;
}

static void fake_log_msg(void *ctx, enum io_log_level level, const char *fmt, va_list ap) {
    (void)ctx, (void)level, (void)fmt, (void)ap;
}

static bool fake_buggify(void *ctx, const char *site) {
    (void)ctx, (void)site;
    return false;
}

static const struct io_vtable fake_vtable = {
    .monotonic_ns = fake_monotonic_ns,
    .wall_ms = fake_wall_ms,
    .timer_start = fake_timer_start,
    .timer_cancel = fake_timer_cancel,
    .random_u64 = fake_random_u64,
    .alloc = fake_alloc,
    .realloc = fake_realloc,
    .free = fake_free,
    .trace = fake_trace,
    .log = fake_log_msg,
    .buggify = fake_buggify,
};

static struct fake_io *fake_io_new(void) {
    struct fake_io *f = calloc(1, sizeof(*f));
    ASSERT(f != NULL);
    f->io.vtable = &fake_vtable;
    f->io.ctx = f;
    f->now_ns = 1000 * NS_PER_S;
    f->wall_ms = 1700000000000LL;
    f->rng = 42;
    return f;
}

/* --- fake_log --------------------------------------------------------------------------- */

struct fake_record {
    int32_t partition;
    int64_t producer_id; /* >= 0: part of that producer's transaction. */
    int marker;          /* 1 COMMIT / 2 ABORT marker of producer_id (no key, no value). */
    uint8_t *key;
    size_t key_len;
    uint8_t *value; /* NULL: tombstone. */
    size_t value_len;
};

struct fake_append {
    int32_t partition;
    int64_t producer_id;
    size_t first; /* Index of its first record in pending_records. */
    size_t count;
    group_append_cb done;
    void *done_arg;
};

struct fake_log {
    struct fake_record records[FAKE_RECORDS_MAX]; /* Durable, in append order. */
    size_t record_count;
    struct fake_record pending_records[FAKE_RECORDS_MAX];
    size_t pending_record_count;
    struct fake_append appends[FAKE_APPENDS_MAX];
    size_t append_count;
    int fail_sync; /* If < 0, append() fails synchronously with this. */
    size_t appends_total;
};

static uint8_t *dup_bytes(const uint8_t *p, size_t len) {
    if (p == NULL) return NULL;
    uint8_t *copy = malloc(len > 0 ? len : 1);
    ASSERT(copy != NULL);
    if (len > 0) memcpy(copy, p, len);
    return copy;
}

static int fake_log_append_txn(void *ctx, int32_t partition, int64_t producer_id,
                               int16_t producer_epoch, const struct group_record *records,
                               size_t count, group_append_cb done, void *done_arg) {
    struct fake_log *l = ctx;
    (void)producer_epoch;
    if (l->fail_sync < 0) return l->fail_sync;
    ASSERT(l->append_count < FAKE_APPENDS_MAX);
    ASSERT(l->pending_record_count + count <= FAKE_RECORDS_MAX);
    l->appends[l->append_count++] = (struct fake_append){.partition = partition,
                                                         .producer_id = producer_id,
                                                         .first = l->pending_record_count,
                                                         .count = count,
                                                         .done = done,
                                                         .done_arg = done_arg};
    for (size_t i = 0; i < count; i++) {
        l->pending_records[l->pending_record_count++] = (struct fake_record){
            .partition = partition,
            .producer_id = producer_id,
            .key = dup_bytes(records[i].key, records[i].key_len),
            .key_len = records[i].key_len,
            .value = dup_bytes(records[i].value, records[i].value_len),
            .value_len = records[i].value_len,
        };
    }
    l->appends_total++;
    return 0;
}

static int fake_log_append(void *ctx, int32_t partition, const struct group_record *records,
                           size_t count, group_append_cb done, void *done_arg) {
    return fake_log_append_txn(ctx, partition, -1, -1, records, count, done, done_arg);
}

/* The transaction coordinator's marker for producer_id lands in `partition` (durable at
 * once); the broker then tells the group coordinator, as this does. */
__attribute__((unused)) static void fake_log_marker(struct fake_log *l,
                                                    struct group_coordinator *co, int32_t partition,
                                                    int64_t producer_id, bool commit) {
    ASSERT(l->record_count < FAKE_RECORDS_MAX);
    l->records[l->record_count++] = (struct fake_record){
        .partition = partition, .producer_id = producer_id, .marker = commit ? 1 : 2};
    group_coordinator_txn_complete(co, partition, producer_id, commit);
}

/* Completes every queued append (in order) with `status`; 0 keeps the records. Appends
 * issued by the completions themselves are completed too. Returns how many completed. */
static size_t fake_log_complete(struct fake_log *l, int status) {
    size_t done_count = 0;
    while (l->append_count > 0) {
        struct fake_append a = l->appends[0];
        memmove(&l->appends[0], &l->appends[1], (l->append_count - 1) * sizeof(l->appends[0]));
        l->append_count--;
        ASSERT(a.first == 0);
        for (size_t i = 0; i < a.count; i++) {
            struct fake_record *r = &l->pending_records[i];
            if (status == 0) {
                ASSERT(l->record_count < FAKE_RECORDS_MAX);
                l->records[l->record_count++] = *r;
            } else {
                free(r->key);
                free(r->value);
            }
        }
        memmove(&l->pending_records[0], &l->pending_records[a.count],
                (l->pending_record_count - a.count) * sizeof(l->pending_records[0]));
        l->pending_record_count -= a.count;
        for (size_t i = 0; i < l->append_count; i++)
            l->appends[i].first -= a.count;
        a.done(a.done_arg, status);
        done_count++;
    }
    return done_count;
}

static void fake_log_free(struct fake_log *l) {
    ASSERT(l->append_count == 0);
    for (size_t i = 0; i < l->record_count; i++) {
        free(l->records[i].key);
        free(l->records[i].value);
    }
    free(l);
}

static struct fake_log *fake_log_new(void) {
    struct fake_log *l = calloc(1, sizeof(*l));
    ASSERT(l != NULL);
    return l;
}

static struct group_log fake_log_seam(struct fake_log *l) {
    return (struct group_log){
        .append = fake_log_append, .append_txn = fake_log_append_txn, .ctx = l};
}

/* Feeds every durable record of `partition` to the coordinator, as the broker will at
 * leader election. Returns the number of records replayed. */
__attribute__((unused)) static size_t
fake_log_replay(struct fake_log *l, struct group_coordinator *co, int32_t partition) {
    size_t n = 0;
    group_coordinator_load_begin(co, partition);
    for (size_t i = 0; i < l->record_count; i++) {
        const struct fake_record *r = &l->records[i];
        if (r->partition != partition) continue;
        int rc = 0;
        if (r->marker != 0) {
            group_coordinator_txn_complete(co, partition, r->producer_id, r->marker == 1);
        } else if (r->producer_id >= 0) {
            rc = group_coordinator_replay_txn(co, partition, r->producer_id, r->key, r->key_len,
                                              r->value, r->value_len);
        } else {
            rc =
                group_coordinator_replay(co, partition, r->key, r->key_len, r->value, r->value_len);
        }
        ASSERT(rc == 0);
        n++;
    }
    group_coordinator_load_end(co, partition);
    return n;
}
