/*
 * test_partition.c — proves the replica state of system/partition on the in-memory disk:
 *  - without a role (today's callers) an append moves the HW to the LEO at once, untraced;
 *  - a reopened replica's first role starts its HW at the restored checkpoint capped at the
 *    LEO, or at the log start without one;
 *  - a leader's HW is the minimum LEO over its ISR (its own included), waits for members
 *    whose LEO is unknown, and never moves backwards (I-REPL-6), also when a follower's
 *    fetch offset goes down or the ISR changes; each move is traced as `hw`;
 *  - a follower not caught up for replica.lag.time.max.ms leaves the proposed ISR, one kept
 *    busy by a moving LEO does not (Kafka's previous-fetch rule), the leader never leaves;
 *  - the I-REPL-8 join rule: a caught-up follower is refused while the HW is below the start
 *    of the leader's epoch and admitted once it reaches it; the mutant
 *    isr-join-ignores-epoch-start admits it early;
 *  - min.insync.replicas; partition_set_isr traces `isr` ("1,2,3") on the leader;
 *  - becoming leader records the epoch start at the LEO in the epoch cache (KIP-279), so
 *    OffsetForLeaderEpoch of the old epoch answers that LEO;
 *  - a follower appends the leader's bytes unchanged, applies the leader's HW capped at its
 *    own LEO and never backwards, takes the leader's log start, and rebuilds idempotent
 *    producer state from appended batches; truncation cuts the log, caps the HW and forgets
 *    producer batches above the cut;
 *  - random appends, fetches (also backwards), ISR changes and proposals agree with a model
 *    of the HW after every step, and every proposal obeys the join and leave rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/base.h"
#include "log/log.h"
#include "partition/partition.h"
#include "test_log_memio.h"

#define TRACE_MAX 256

/* Trace events seen (event name and a few int fields) and the mutant switch. */
struct seen {
    char event[32];
    int64_t hw, epoch, leo, leader;
    char isr[64];
};
static struct seen g_seen[TRACE_MAX];
static size_t g_seen_count;
static bool g_mutant_join;

static void rec_trace(void *ctx, const char *event, const struct io_trace_field *fields,
                      size_t count) {
    (void)ctx;
    if (g_seen_count == TRACE_MAX) return;
    struct seen *s = &g_seen[g_seen_count++];
    memset(s, 0, sizeof *s);
    snprintf(s->event, sizeof s->event, "%s", event);
    for (size_t i = 0; i < count; i++) {
        const struct io_trace_field *f = &fields[i];
        if (strcmp(f->key, "hw") == 0) s->hw = f->i;
        if (strcmp(f->key, "epoch") == 0) s->epoch = f->i;
        if (strcmp(f->key, "leo") == 0) s->leo = f->i;
        if (strcmp(f->key, "leader") == 0) s->leader = f->i;
        if (strcmp(f->key, "isr") == 0) snprintf(s->isr, sizeof s->isr, "%s", f->s);
    }
}

static bool rec_mutant(void *ctx, const char *name) {
    (void)ctx;
    return g_mutant_join && strcmp(name, "isr-join-ignores-epoch-start") == 0;
}

static struct io_vtable g_vtable;

static struct memio *world(void) {
    struct memio *m = memio_create(7);
    g_vtable = memio_vtable;
    g_vtable.trace = rec_trace;
    g_vtable.mutant = rec_mutant;
    m->io.vtable = &g_vtable;
    g_seen_count = 0;
    g_mutant_join = false;
    return m;
}

static size_t count_events(const char *event) {
    size_t n = 0;
    for (size_t i = 0; i < g_seen_count; i++) n += strcmp(g_seen[i].event, event) == 0;
    return n;
}

static const struct seen *last_event(const char *event) {
    for (size_t i = g_seen_count; i > 0; i--) {
        if (strcmp(g_seen[i - 1].event, event) == 0) return &g_seen[i - 1];
    }
    return NULL;
}

/* The `hw` events never go down (I-REPL-6, as a checker would read them). */
static void assert_hw_trace_monotonic(void) {
    int64_t last = -1;
    for (size_t i = 0; i < g_seen_count; i++) {
        if (strcmp(g_seen[i].event, "hw") != 0) continue;
        assert_true(g_seen[i].hw >= last);
        last = g_seen[i].hw;
    }
}

static struct partition *open_in(struct memio *m, const char *dir, int32_t node) {
    assert_int_equal(io_mkdir(&m->io, dir), 0);
    struct log_config c;
    log_config_default(&c);
    c.segment_bytes = 4096;
    struct partition *p = NULL;
    assert_int_equal(partition_open(&m->io, dir, &c, 0, 1, node, 0, &p), 0);
    p->topic = "t";
    return p;
}

/* One batch of n records; producer_id < 0 for a plain one. */
static size_t build(uint8_t *buf, size_t cap, int n, int64_t producer_id, int32_t sequence) {
    struct batch_record_in recs[16];
    ASSERT(n <= 16);
    for (int i = 0; i < n; i++) {
        recs[i] = (struct batch_record_in){.offset_delta = i, .timestamp = 1000 + i,
                                           .key = (const uint8_t *)"k", .key_len = 1,
                                           .value = (const uint8_t *)"value", .value_len = 5};
    }
    struct batch_build_params params = {.base_offset = 0, .partition_leader_epoch = 0,
                                        .producer_id = producer_id, .producer_epoch = 0,
                                        .base_sequence = producer_id < 0 ? -1 : sequence};
    int64_t len = batch_build(buf, cap, &params, recs, (size_t)n);
    assert_true(len > 0);
    return (size_t)len;
}

static void append(struct partition *p, int n) {
    uint8_t buf[2048];
    size_t len = build(buf, sizeof buf, n, -1, 0);
    struct log_append_info info;
    assert_int_equal(partition_append(p, buf, len, 0, &info), 0);
}

static const int32_t R123[] = {1, 2, 3};

static void test_no_role_hw_follows_leo(void **state) {
    (void)state;
    struct memio *m = world();
    struct partition *p = open_in(m, "p", 1);
    assert_int_equal(p->role, PARTITION_ROLE_NONE);
    append(p, 3);
    append(p, 2);
    assert_int_equal(p->high_watermark, 5);
    assert_int_equal(partition_log_end(p), 5);
    assert_int_equal(count_events("hw"), 0); /* Today's single-node output is unchanged. */
    partition_close(p);
    /* Reopened without a role: everything on disk is committed, as before. */
    p = NULL;
    struct log_config c;
    log_config_default(&c);
    c.segment_bytes = 4096;
    assert_int_equal(partition_open(&m->io, "p", &c, 0, 1, 1, 0, &p), 0);
    assert_int_equal(p->high_watermark, 5);
    partition_close(p);
    memio_destroy(m);
}

/* A reopened replica's first role starts its HW at the checkpointed HW capped at the LEO
 * (replication-offset-checkpoint), not at the LEO guessed at open nor at the log start. */
static void reopen_with_checkpoint(struct memio *m, int64_t checkpoint, int64_t want_hw) {
    struct log_config c;
    log_config_default(&c);
    c.segment_bytes = 4096;
    struct partition *p = NULL;
    assert_int_equal(partition_open(&m->io, "p", &c, 0, 1, 1, 0, &p), 0);
    p->topic = "t";
    assert_int_equal(p->high_watermark, 5); /* The guess before any role. */
    if (checkpoint >= 0) partition_restore_hw(p, checkpoint);
    assert_int_equal(partition_checkpoint_hw(p), want_hw); /* What would be written now. */
    assert_int_equal(partition_become_leader(p, 2, 2, R123, 3, R123, 3, 0), 0);
    assert_int_equal(p->high_watermark, want_hw);
    assert_int_equal(partition_checkpoint_hw(p), want_hw);
    partition_close(p);
}

static void test_restored_hw_starts_first_role(void **state) {
    (void)state;
    struct memio *m = world();
    struct partition *p = open_in(m, "p", 1);
    append(p, 5);
    partition_close(p);
    reopen_with_checkpoint(m, 3, 3);
    reopen_with_checkpoint(m, 9, 5); /* Above the LEO (lost tail): capped. */
    reopen_with_checkpoint(m, -1, 0); /* No entry: the log start. */
    memio_destroy(m);
}

static void test_leader_hw_is_min_isr_leo(void **state) {
    (void)state;
    struct memio *m = world();
    struct partition *p = open_in(m, "p", 1);
    assert_int_equal(partition_become_leader(p, 1, 1, R123, 3, R123, 3, 100), 0);
    assert_true(partition_is_leader(p));
    append(p, 10);
    assert_int_equal(p->high_watermark, 0); /* Followers' LEOs unknown: the HW waits. */
    assert_false(partition_follower_fetched(p, 2, 6, 110));
    assert_int_equal(p->high_watermark, 0);
    assert_true(partition_follower_fetched(p, 3, 4, 120));
    assert_int_equal(p->high_watermark, 4); /* min(10, 6, 4) */
    assert_true(partition_follower_fetched(p, 3, 10, 130));
    assert_int_equal(p->high_watermark, 6);
    assert_true(partition_follower_fetched(p, 2, 10, 140));
    assert_int_equal(p->high_watermark, 10);
    /* Never backwards: a follower that restarted fetches from lower down. */
    assert_false(partition_follower_fetched(p, 2, 3, 150));
    assert_int_equal(p->high_watermark, 10);
    append(p, 5);
    assert_false(partition_follower_fetched(p, 3, 15, 160)); /* 2 is at 3: held. */
    assert_int_equal(p->high_watermark, 10);
    /* The ISR shrinks to {1,3}: the HW moves to 15 and the isr trace says so. */
    const int32_t isr13[] = {3, 1};
    partition_set_isr(p, isr13, 2, 2, 170);
    assert_int_equal(p->isr_count, 2);
    assert_int_equal(p->isr[0], 1);
    assert_int_equal(p->isr[1], 3);
    assert_int_equal(p->high_watermark, 15);
    assert_string_equal(last_event("isr")->isr, "1,3");
    /* Growing back with the slow member does not lower it. */
    partition_set_isr(p, R123, 3, 3, 180);
    assert_int_equal(p->high_watermark, 15);
    assert_string_equal(last_event("isr")->isr, "1,2,3");
    /* An unknown replica's fetch changes nothing. */
    assert_false(partition_follower_fetched(p, 9, 15, 190));
    const struct seen *h = last_event("hw");
    assert_int_equal(h->hw, 15);
    assert_int_equal(h->leader, 1);
    assert_int_equal(h->epoch, 1);
    assert_hw_trace_monotonic();
    partition_close(p);
    memio_destroy(m);
}

static void test_isr_shrinks_after_lag(void **state) {
    (void)state;
    struct memio *m = world();
    struct partition *p = open_in(m, "p", 1);
    assert_int_equal(partition_become_leader(p, 1, 1, R123, 3, R123, 3, 0), 0);
    int32_t isr[PARTITION_REPLICAS_MAX];
    uint32_t isr_count = 0;
    /* Fresh leader: everyone counts as caught up now. */
    assert_false(partition_isr_proposal(p, 0, 1000, isr, &isr_count));
    /* Follower 2 keeps up with a moving LEO (always at the previous fetch's LEO, never at
     * the current one); follower 3 never fetches. */
    for (int64_t t = 100; t <= 2000; t += 100) {
        int64_t before = partition_log_end(p);
        append(p, 1);
        partition_follower_fetched(p, 2, before, t);
    }
    assert_false(partition_isr_proposal(p, 900, 1000, isr, &isr_count));
    assert_true(partition_isr_proposal(p, 2000, 1000, isr, &isr_count));
    assert_int_equal(isr_count, 2);
    assert_int_equal(isr[0], 1);
    assert_int_equal(isr[1], 2);
    /* Even the leader's ISR of {1} alone is never proposed without itself. */
    const int32_t only1[] = {1};
    partition_set_isr(p, only1, 1, 2, 2000);
    assert_int_equal(p->high_watermark, partition_log_end(p));
    partition_follower_fetched(p, 2, partition_log_end(p), 2000);
    assert_true(partition_isr_proposal(p, 2000, 1000, isr, &isr_count)); /* 2 joins. */
    assert_int_equal(isr_count, 2);
    assert_int_equal(isr[0], 1);
    assert_int_equal(isr[1], 2);
    partition_close(p);
    memio_destroy(m);
}

static void test_isr_join_rule(void **state) {
    (void)state;
    for (int mutant = 0; mutant <= 1; mutant++) {
        struct memio *m = world();
        g_mutant_join = mutant == 1;
        struct partition *p = open_in(m, "p", 1);
        /* Epoch 1: data written while ISR = {1,3} and 3 has fetched only 4 of 10. */
        const int32_t isr13[] = {1, 3};
        assert_int_equal(partition_become_leader(p, 1, 1, R123, 3, isr13, 2, 0), 0);
        append(p, 10);
        partition_follower_fetched(p, 3, 4, 10);
        assert_int_equal(p->high_watermark, 4);
        /* Epoch 2 (say after a controller bump): the epoch starts at 10, HW still 4. */
        assert_int_equal(partition_become_leader(p, 2, 2, R123, 3, isr13, 2, 20), 0);
        assert_int_equal(partition_leader_epoch_start(p), 10);
        assert_int_equal(p->high_watermark, 4);
        /* Follower 2 is caught up with the HW (LEO 4 >= HW 4) but the HW is below 10. */
        partition_follower_fetched(p, 2, 4, 30);
        int32_t isr[PARTITION_REPLICAS_MAX];
        uint32_t isr_count = 0;
        bool proposed = partition_isr_proposal(p, 30, 10000, isr, &isr_count);
        if (mutant) {
            assert_true(proposed); /* KAFKA-7128: joins too early. */
            assert_int_equal(isr_count, 3);
        } else {
            assert_false(proposed);
            /* 3 catches up: the HW reaches the epoch start, and 2 (LEO 10) may join. */
            assert_true(partition_follower_fetched(p, 3, 10, 40));
            assert_int_equal(p->high_watermark, 10);
            partition_follower_fetched(p, 2, 6, 40);
            assert_false(partition_isr_proposal(p, 40, 10000, isr, &isr_count)); /* 6 < HW */
            partition_follower_fetched(p, 2, 10, 50);
            assert_true(partition_isr_proposal(p, 50, 10000, isr, &isr_count));
            assert_int_equal(isr_count, 3);
            assert_int_equal(isr[0], 1);
            assert_int_equal(isr[1], 2);
            assert_int_equal(isr[2], 3);
        }
        partition_close(p);
        memio_destroy(m);
    }
}

static bool not_three(void *arg, int32_t id) {
    (void)arg;
    return id != 3;
}

/* KIP-841: the broker's filter keeps a fenced follower out even when its LEO looks caught up;
 * Kafka's caught-up rule keeps one that lagged long ago out until it reaches the LEO. */
static void test_isr_join_filtered_and_caught_up(void **state) {
    (void)state;
    struct memio *m = world();
    struct partition *p = open_in(m, "p", 1);
    const int32_t only1[] = {1};
    assert_int_equal(partition_become_leader(p, 1, 1, R123, 3, only1, 1, 0), 0);
    append(p, 4);
    partition_follower_fetched(p, 2, 4, 10);
    partition_follower_fetched(p, 3, 4, 10);
    int32_t isr[PARTITION_REPLICAS_MAX];
    uint32_t n = 0;
    assert_true(partition_isr_proposal_filtered(p, 10, 1000, not_three, NULL, isr, &n));
    assert_int_equal(n, 2);
    assert_int_equal(isr[0], 1);
    assert_int_equal(isr[1], 2);
    partition_set_isr(p, isr, n, 2, 10);
    assert_false(partition_isr_proposal_filtered(p, 20, 1000, not_three, NULL, isr, &n));
    /* Unfiltered, 3 joins. */
    assert_true(partition_isr_proposal(p, 20, 1000, isr, &n));
    assert_int_equal(n, 3);
    /* Back to {1,2}; 3 stops fetching. Much later: 2 at the LEO (12) keeps up; 3 fetches
     * from 6 while the LEO moves to 20, then from 13: LEO 13 >= HW 12, but it was never at
     * the leader's LEO (nor its previous fetch's) since t=10, so it may not join yet. */
    const int32_t isr12[] = {1, 2};
    partition_set_isr(p, isr12, 2, 3, 20);
    append(p, 8);
    partition_follower_fetched(p, 2, 12, 3000);
    assert_int_equal(p->high_watermark, 12);
    append(p, 8);
    partition_follower_fetched(p, 3, 6, 3000);
    partition_follower_fetched(p, 3, 13, 3001);
    assert_false(partition_isr_proposal(p, 3001, 1000, isr, &n));
    /* At the leader's LEO it is caught up again. */
    partition_follower_fetched(p, 3, 20, 3002);
    assert_true(partition_isr_proposal(p, 3002, 1000, isr, &n));
    assert_int_equal(n, 3);
    partition_close(p);
    memio_destroy(m);
}

static void test_min_insync(void **state) {
    (void)state;
    struct memio *m = world();
    struct partition *p = open_in(m, "p", 1);
    const int32_t isr1[] = {1};
    assert_int_equal(partition_become_leader(p, 1, 1, R123, 3, isr1, 1, 0), 0);
    assert_true(partition_enough_replicas(p, 1));
    assert_false(partition_enough_replicas(p, 2));
    partition_set_isr(p, R123, 3, 2, 0);
    assert_true(partition_enough_replicas(p, 2));
    assert_true(partition_enough_replicas(p, 3));
    assert_false(partition_enough_replicas(p, 4));
    partition_close(p);
    memio_destroy(m);
}

static void test_become_leader_records_epoch_start(void **state) {
    (void)state;
    struct memio *m = world();
    struct partition *p = open_in(m, "p", 1);
    const int32_t isr1[] = {1};
    assert_int_equal(partition_become_leader(p, 1, 1, R123, 3, isr1, 1, 0), 0);
    append(p, 7);
    assert_int_equal(p->high_watermark, 7); /* ISR {1}: HW = LEO at once. */
    assert_int_equal(partition_become_leader(p, 3, 2, R123, 3, isr1, 1, 0), 0);
    assert_int_equal(partition_latest_epoch(p), 3);
    assert_int_equal(partition_leader_epoch_start(p), 7);
    int32_t epoch = -1;
    int64_t end = -1;
    log_end_offset_for_epoch(p->log, 1, &epoch, &end);
    assert_int_equal(epoch, 1);
    assert_int_equal(end, 7); /* Before epoch 3 wrote anything. */
    const struct seen *bl = last_event("become_leader");
    assert_non_null(bl);
    assert_int_equal(bl->epoch, 3);
    assert_int_equal(bl->leo, 7);
    assert_int_equal(bl->hw, 7);
    /* An older epoch is refused. */
    assert_int_equal(partition_become_leader(p, 2, 3, R123, 3, isr1, 1, 0), -EINVAL);
    append(p, 1);
    log_end_offset_for_epoch(p->log, 3, &epoch, &end);
    assert_int_equal(epoch, 3);
    assert_int_equal(end, 8);
    assert_hw_trace_monotonic();
    partition_close(p);
    memio_destroy(m);
}

/* Copies the leader's whole log [from, end) as fetched bytes. */
static size_t leader_bytes(struct partition *leader, int64_t from, uint8_t *buf, size_t cap) {
    size_t len = 0;
    int64_t first = -1;
    assert_int_equal(log_read_copy(leader->log, from, cap, true, partition_log_end(leader), buf,
                                   cap, &len, &first),
                     0);
    return len;
}

static void test_follower_append_and_truncate(void **state) {
    (void)state;
    struct memio *m = world();
    struct partition *l = open_in(m, "lead", 1);
    struct partition *f = open_in(m, "follow", 2);
    const int32_t isr1[] = {1};
    assert_int_equal(partition_become_leader(l, 1, 1, R123, 3, isr1, 1, 0), 0);
    assert_int_equal(partition_become_follower(f, 1, 1, 1, R123, 3, isr1, 1), 0);
    assert_int_equal(last_event("become_follower")->leader, 1);
    /* Idempotent producer 42: sequences 0..3, 4..7; then a plain batch. */
    uint8_t buf[4096];
    struct log_append_info info;
    size_t n = build(buf, sizeof buf, 4, 42, 0);
    assert_int_equal(partition_append(l, buf, n, 0, &info), 0);
    n = build(buf, sizeof buf, 4, 42, 4);
    assert_int_equal(partition_append(l, buf, n, 0, &info), 0);
    append(l, 2);
    assert_int_equal(partition_log_end(l), 10);

    uint8_t got[8192];
    size_t len = leader_bytes(l, 0, got, sizeof got);
    /* Leader HW 100 (say): capped at the follower's LEO. */
    assert_int_equal(partition_follower_append(f, got, len, 100, 0, 0), 0);
    assert_int_equal(partition_log_end(f), 10);
    assert_int_equal(f->high_watermark, 10);
    assert_int_equal(last_event("hw")->leader, 0);
    /* Byte for byte the leader's log. */
    uint8_t again[8192];
    assert_int_equal(leader_bytes(f, 0, again, sizeof again), len);
    assert_memory_equal(again, got, len);
    /* Producer state came with the batches: 8..11 is next, 4..7 a duplicate. */
    struct batch_header h;
    struct partition_producer_batch dup;
    n = build(buf, sizeof buf, 4, 42, 8);
    batch_header_decode(buf, n, &h);
    assert_int_equal(partition_check_sequence(f, &h, &dup), PARTITION_SEQUENCE_APPEND);
    n = build(buf, sizeof buf, 4, 42, 4);
    batch_header_decode(buf, n, &h);
    assert_int_equal(partition_check_sequence(f, &h, &dup), PARTITION_SEQUENCE_DUPLICATE);
    assert_int_equal(dup.first_offset, 4);
    /* Never backwards: a lower leader HW (an older answer) changes nothing. */
    assert_int_equal(partition_follower_append(f, NULL, 0, 3, 0, 0), 0);
    assert_int_equal(f->high_watermark, 10);

    /* Truncation to 4 (below the HW: only an unclean election does that) caps the HW and
     * forgets producer batch 4..7, so sequence 4 is next again. */
    assert_int_equal(partition_follower_truncate(f, 4), 0);
    assert_int_equal(partition_log_end(f), 4);
    assert_int_equal(f->high_watermark, 4);
    assert_int_equal(partition_check_sequence(f, &h, &dup), PARTITION_SEQUENCE_APPEND);
    /* Truncating at or beyond the end is a no-op. */
    assert_int_equal(partition_follower_truncate(f, 9), 0);
    assert_int_equal(partition_log_end(f), 4);

    /* The leader's log start moved to 8 (DeleteRecords): the follower continues from there. */
    assert_int_equal(log_delete_records(l->log, 8), 0);
    len = leader_bytes(l, 8, got, sizeof got); /* Below 8 is gone. */
    assert_int_equal(partition_follower_append(f, got, len, 10, 8, 0), 0);
    assert_int_equal(partition_log_start(f), 8);
    assert_int_equal(partition_log_end(f), 10);
    /* Overlapping data (already there) is refused and leaves the log alone. */
    assert_true(partition_follower_append(f, got, len, 10, 8, 0) < 0);
    assert_int_equal(partition_log_end(f), 10);
    partition_close(l);
    partition_close(f);
    memio_destroy(m);
}

static void test_follower_hw_not_from_open(void **state) {
    (void)state;
    struct memio *m = world();
    struct partition *p = open_in(m, "p", 2);
    append(p, 6); /* Written as a single node: HW 6, a guess once replicas exist. */
    assert_int_equal(p->high_watermark, 6);
    const int32_t isr12[] = {1, 2};
    assert_int_equal(partition_become_follower(p, 1, 1, 1, R123, 3, isr12, 2), 0);
    assert_int_equal(p->high_watermark, 0); /* Learned from the leader from now on. */
    assert_int_equal(partition_follower_append(p, NULL, 0, 5, 0, 0), 0);
    assert_int_equal(p->high_watermark, 5);
    assert_int_equal(partition_become_follower(p, 1, 0, 1, R123, 3, isr12, 2), -EINVAL);
    assert_int_equal(partition_become_follower(p, 2, 2, 1, R123, 3, isr12, 2), -EINVAL);
    partition_close(p);
    memio_destroy(m);
}

/* SplitMix64: the random test's seeded stream. */
static uint64_t rnd(uint64_t *s) {
    *s += 0x9E3779B97F4A7C15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/*
 * Random appends, follower fetches (also going backwards, as after a follower restart), ISR
 * changes (random, and the leader's own proposals) and time, against a model: after every
 * step the HW is exactly max(previous HW, min LEO over the ISR) when every member's LEO is
 * known and unchanged otherwise; proposals keep the leader, are sorted, admit only members
 * with LEO >= HW once HW >= the epoch start, and drop only members lagging too long.
 */
static void test_random_hw_and_isr_against_model(void **state) {
    (void)state;
    uint32_t joins = 0, leaves = 0, refused_early = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct memio *m = world();
        struct partition *p = open_in(m, "p", 1);
        uint64_t rs = seed;
        int64_t now = 0;
        const int64_t lag = 500;
        const int32_t r[] = {1, 2, 3, 4};
        /* History in an older epoch that follower 2 never fetched, so the new epoch starts
         * above the HW (0) and early joins are refused until the HW gets there. */
        const int32_t isr12[] = {1, 2};
        assert_int_equal(partition_become_leader(p, 1, 1, r, 4, isr12, 2, now), 0);
        append(p, (int)(rnd(&rs) % 8) + 1);
        assert_int_equal(partition_become_leader(p, 2, 2, r, 4, isr12, 2, now), 0);
        assert_int_equal(p->high_watermark, 0);
        int64_t start = partition_leader_epoch_start(p);
        int64_t model_leo[5] = {0, 0, -1, -1, -1};
        int64_t hw = p->high_watermark;
        for (int step = 0; step < 400; step++) {
            now += (int64_t)(rnd(&rs) % 100);
            int op = (int)(rnd(&rs) % 10);
            if (op < 3) {
                append(p, (int)(rnd(&rs) % 4) + 1);
            } else if (op < 7) {
                int32_t id = 2 + (int32_t)(rnd(&rs) % 3);
                int64_t leo = partition_log_end(p);
                /* Mostly near the end, sometimes anywhere (a restarted follower). */
                int64_t at = rnd(&rs) % 4 == 0 ? (int64_t)(rnd(&rs) % (uint64_t)(leo + 1))
                                               : leo - (int64_t)(rnd(&rs) % 3);
                if (at < 0) at = 0;
                partition_follower_fetched(p, id, at, now);
                model_leo[id] = at;
            } else if (op < 8) {
                int32_t isr[4] = {1};
                uint32_t n = 1;
                for (int32_t id = 2; id <= 4; id++) {
                    if (rnd(&rs) % 2) isr[n++] = id;
                }
                partition_set_isr(p, isr, n, p->partition_epoch + 1, now);
            } else {
                int32_t isr[PARTITION_REPLICAS_MAX];
                uint32_t n = 0;
                if (partition_isr_proposal(p, now, lag, isr, &n)) {
                    assert_true(n >= 1 && n <= 4);
                    bool self = false;
                    for (uint32_t i = 0; i < n; i++) {
                        self |= isr[i] == 1;
                        if (i > 0) assert_true(isr[i - 1] < isr[i]);
                        bool was = false;
                        for (uint32_t j = 0; j < p->isr_count; j++) was |= p->isr[j] == isr[i];
                        if (!was) { /* A join: I-REPL-8 and caught up. */
                            assert_true(p->high_watermark >= start);
                            assert_true(model_leo[isr[i]] >= p->high_watermark);
                            const struct partition_follower *f =
                                partition_follower_find(p, isr[i]);
                            assert_true(f->log_end_offset >= partition_log_end(p) ||
                                        now - f->last_caught_up_ms <= lag);
                            joins++;
                        }
                    }
                    assert_true(self);
                    for (uint32_t j = 0; j < p->isr_count; j++) { /* A leave: it lagged. */
                        bool kept = false;
                        for (uint32_t i = 0; i < n; i++) kept |= isr[i] == p->isr[j];
                        if (!kept) {
                            const struct partition_follower *f =
                                partition_follower_find(p, p->isr[j]);
                            assert_non_null(f);
                            assert_true(now - f->last_caught_up_ms > lag);
                            leaves++;
                        }
                    }
                    partition_set_isr(p, isr, n, p->partition_epoch + 1, now);
                }
                /* Caught-up outsiders while the HW is below the epoch start: refused. */
                for (int32_t id = 2; id <= 4 && p->high_watermark < start; id++) {
                    bool in = false;
                    for (uint32_t j = 0; j < p->isr_count; j++) in |= p->isr[j] == id;
                    if (!in && model_leo[id] >= p->high_watermark) refused_early++;
                }
            }
            /* The model's HW. */
            model_leo[1] = partition_log_end(p);
            bool known = true;
            int64_t min_leo = partition_log_end(p);
            for (uint32_t i = 0; i < p->isr_count; i++) {
                int64_t l = model_leo[p->isr[i]];
                if (l < 0) known = false;
                else if (l < min_leo) min_leo = l;
            }
            if (known && min_leo > hw) hw = min_leo;
            assert_int_equal(p->high_watermark, hw);
            assert_true(hw <= partition_log_end(p));
        }
        assert_hw_trace_monotonic();
        partition_close(p);
        memio_destroy(m);
    }
    /* The walk reached every rule. */
    assert_true(joins > 0);
    assert_true(leaves > 0);
    assert_true(refused_early > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_role_hw_follows_leo),
        cmocka_unit_test(test_restored_hw_starts_first_role),
        cmocka_unit_test(test_leader_hw_is_min_isr_leo),
        cmocka_unit_test(test_isr_shrinks_after_lag),
        cmocka_unit_test(test_isr_join_rule),
        cmocka_unit_test(test_isr_join_filtered_and_caught_up),
        cmocka_unit_test(test_min_insync),
        cmocka_unit_test(test_become_leader_records_epoch_start),
        cmocka_unit_test(test_follower_append_and_truncate),
        cmocka_unit_test(test_follower_hw_not_from_open),
        cmocka_unit_test(test_random_hw_and_isr_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
