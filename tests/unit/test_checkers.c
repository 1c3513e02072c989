/*
 * test_checkers.c — proves checkers v1 (checkers/check.h) tell valid runs from violating
 * ones, for every invariant they implement:
 *  - I-REPL-1 fails when a later read covering an acked (acks=all) offset shows another
 *    value or skips it, names the offset and cites the produce and the fetch; passes when
 *    reads agree, when the read began before the ack, when the loss is outside the read's
 *    span, for acks=1, and (counted as allowed) after a permitted unclean election;
 *  - I-REPL-2 fails when two fetches read one offset as two values;
 *  - I-IDEM-2 fails when an idempotent producer's record is read at two offsets (a retry
 *    stored twice) and cites the produce and both fetches; the same for a producer without
 *    idempotence is not judged, nor is one record read twice at one offset;
 *  - I-LOG-1 fails on a misnamed segment, offsets that do not increase across segments, an
 *    index entry pointing past its target, and a time index that goes back;
 *  - I-LOG-2 fails when a fsynced batch is lost, a bad-CRC batch survives recovery, the
 *    recovered content differs from what was appended, or a checkpoint exceeds the LEO;
 *    its input can be rebuilt from the log's trace events (appends, flushes, truncations
 *    to a batch boundary, recovery);
 *  - I-GRP-4 fails when a consumer goes back or skips a record known to exist within one
 *    assignment, and passes over holes nobody saw a record in and across reassignments;
 *  - the registry runs checkers by name and refuses names it does not implement;
 *  - the verdict ranks unexpected safety over liveness violations and insists that an
 *    expected violation happens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "checkers/check.h"

#define MS NS_PER_MS

static size_t produce(struct history *h, uint64_t t_ms, int32_t partition, const char *value,
                      int32_t acks, int64_t offset) {
    size_t op = history_produce_invoke(h, 1, t_ms * MS, "t1", partition, NULL, value, acks, false);
    history_produce_complete(h, op, HIST_OK, (t_ms + 1) * MS, acks == 0 ? -1 : offset, 0);
    return op;
}

/* A fetch of partition 0 returning offsets[i] -> values[i]. */
static size_t fetch(struct history *h, int32_t process, uint64_t t_ms, uint32_t assignment,
                    const int64_t *offsets, const char *const *values, size_t n) {
    struct hist_record recs[16];
    ASSERT(n <= 16);
    for (size_t i = 0; i < n; i++) {
        recs[i] =
            (struct hist_record){.partition = 0, .offset = offsets[i], .value = (char *)values[i]};
    }
    size_t op = history_fetch_invoke(h, process, t_ms * MS, "t1", assignment, false);
    history_fetch_complete(h, op, HIST_OK, (t_ms + 1) * MS, recs, n, 0);
    return op;
}

static const char *const V[] = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7"};
static const int64_t OFF[] = {0, 1, 2, 3, 4, 5, 6, 7};

/* Five acks=all records at offsets 0..4, acked by t=6ms. */
static void five_acked(struct history *h) {
    for (int i = 0; i < 5; i++)
        produce(h, 1 + (uint64_t)i, 0, V[i], -1, i);
}

static struct check_input input_of(const struct history *h, const struct trace *t) {
    return (struct check_input){.history = h, .trace = t};
}

static bool evidence_has_op(const struct check_result *r, size_t op) {
    for (size_t i = 0; i < r->evidence_count; i++) {
        if (r->evidence[i].kind == CHECK_EV_OP && r->evidence[i].index == op) return true;
    }
    return false;
}

/* --- I-REPL-1 ------------------------------------------------------------------------------ */

static void test_repl1_valid_history_passes(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 100);
    five_acked(&h);
    fetch(&h, 2, 10, 1, OFF, V, 5);
    /* A read covering only part of the log says nothing about the rest. */
    fetch(&h, 2, 20, 1, OFF, V, 2);
    /* A read that began before the ack may legitimately miss it. */
    size_t late = produce(&h, 30, 0, "v5", -1, 5);
    (void)late;
    static const int64_t skip_off[] = {4, 6};
    static const char *const skip_val[] = {"v4", "v6"};
    fetch(&h, 2, 30, 1, skip_off, skip_val, 2); /* invoked at 30ms, ack at 31ms */
    /* acks=1 records carry no I-REPL-1 promise. */
    produce(&h, 40, 0, "w7", 1, 7);
    static const int64_t o7[] = {6, 7, 8};
    static const char *const v7[] = {"v6", "other", "v8"};
    fetch(&h, 2, 50, 1, o7, v7, 3);
    struct check_input in = input_of(&h, NULL);
    struct check_result r;
    check_no_acked_loss(&in, &r);
    assert_false(r.violated);
    assert_int_equal(r.violation_count, 0);
    assert_int_equal(r.checked_count, 6);
    assert_string_equal(r.invariant, "I-REPL-1");
    history_free(&h);
}

static void test_repl1_overwritten_record_fails(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 100);
    five_acked(&h);
    static const char *const vals[] = {"v0", "v1", "v2", "intruder", "v4"};
    size_t f = fetch(&h, 2, 10, 1, OFF, vals, 5);
    struct check_input in = input_of(&h, NULL);
    struct check_result r;
    check_no_acked_loss(&in, &r);
    assert_true(r.violated);
    assert_int_equal(r.violation_count, 1);
    assert_string_equal(r.topic, "t1");
    assert_int_equal(r.partition, 0);
    assert_int_equal(r.offset, 3);
    assert_true(r.time_ns == 11 * MS);
    assert_non_null(strstr(r.summary, "overwritten"));
    assert_non_null(strstr(r.summary, "intruder"));
    assert_true(evidence_has_op(&r, 3)); /* The produce of v3. */
    assert_true(evidence_has_op(&r, f));
    history_free(&h);
}

static void test_repl1_skipped_record_fails_first_reported(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 100);
    five_acked(&h);
    static const int64_t offs[] = {0, 1, 2, 4};
    static const char *const vals[] = {"v0", "v1", "v2", "v4"};
    size_t f1 = fetch(&h, 2, 10, 1, offs, vals, 4);
    static const int64_t offs2[] = {0, 2};
    static const char *const vals2[] = {"v0", "v2"};
    fetch(&h, 3, 20, 1, offs2, vals2, 2);
    struct check_input in = input_of(&h, NULL);
    struct check_result r;
    check_no_acked_loss(&in, &r);
    assert_true(r.violated);
    assert_int_equal(r.violation_count, 2);
    /* The earliest observation is the one reported. */
    assert_int_equal(r.offset, 3);
    assert_true(evidence_has_op(&r, f1));
    assert_non_null(strstr(r.summary, "missing"));
    history_free(&h);
}

static void test_repl1_unclean_election_allowed_only_when_permitted(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 100);
    five_acked(&h);
    static const char *const vals[] = {"v0", "v1", "v2", "new3", "new4"};
    fetch(&h, 2, 10, 1, OFF, vals, 5);
    struct trace t;
    trace_init(&t, 10);
    trace_add(&t, 8 * MS, "n2", "unclean_election",
              (struct io_trace_field[]){IO_TF_S("topic", "t1"), IO_TF_I("partition", 0)}, 2);
    struct check_input in = input_of(&h, &t);
    struct check_result r;
    in.unclean_allowed = true;
    check_no_acked_loss(&in, &r);
    assert_false(r.violated);
    assert_int_equal(r.allowed_count, 2);
    in.unclean_allowed = false;
    check_no_acked_loss(&in, &r);
    assert_true(r.violated);
    assert_int_equal(r.violation_count, 2);
    trace_free(&t);
    history_free(&h);
}

/* Topics are told apart: equal offsets in two topics are different records, and a loss in
 * one topic is reported against that topic only. */
static void test_repl_topics_kept_apart(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 100);
    static const char *const topics[] = {"zeta", "alpha"}; /* Not in name order. */
    for (int i = 0; i < 4; i++) {
        for (int t = 0; t < 2; t++) {
            char value[16];
            snprintf(value, sizeof(value), "%s-%d", topics[t], i);
            size_t op = history_produce_invoke(&h, 1, (uint64_t)(10 * i + t) * MS, topics[t], 0,
                                               NULL, value, -1, false);
            history_produce_complete(&h, op, HIST_OK, (uint64_t)(10 * i + t + 1) * MS, i, 0);
        }
    }
    for (int t = 0; t < 2; t++) {
        struct hist_record recs[4];
        char values[4][16];
        for (int i = 0; i < 4; i++) {
            snprintf(values[i], sizeof(values[i]), "%s-%d", topics[t], i);
            if (t == 1 && i == 2) snprintf(values[i], sizeof(values[i]), "lost");
            recs[i] = (struct hist_record){.partition = 0, .offset = i, .value = values[i]};
        }
        size_t f = history_fetch_invoke(&h, 2 + t, 100 * MS, topics[t], 1, false);
        history_fetch_complete(&h, f, HIST_OK, 101 * MS, recs, 4, 0);
    }
    struct check_input in = input_of(&h, NULL);
    struct check_result r;
    check_no_acked_loss(&in, &r);
    assert_true(r.violated);
    assert_int_equal(r.violation_count, 1);
    assert_string_equal(r.topic, "alpha");
    assert_int_equal(r.offset, 2);
    check_one_value_per_offset(&in, &r);
    assert_false(r.violated); /* zeta/0@2 and alpha/0@2 are different offsets. */
    assert_int_equal(r.checked_count, 8);
    check_monotonic_reads(&in, &r);
    assert_false(r.violated);
    history_free(&h);
}

/* --- I-REPL-2 ------------------------------------------------------------------------------ */

static void test_repl2(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 100);
    five_acked(&h);
    fetch(&h, 2, 10, 1, OFF, V, 5);
    fetch(&h, 3, 11, 1, OFF + 2, V + 2, 3);
    struct check_input in = input_of(&h, NULL);
    struct check_result r;
    check_one_value_per_offset(&in, &r);
    assert_false(r.violated);
    assert_int_equal(r.checked_count, 5);

    static const char *const other[] = {"v2", "zz", "v4"};
    size_t bad = fetch(&h, 4, 12, 1, OFF + 2, other, 3);
    check_one_value_per_offset(&in, &r);
    assert_true(r.violated);
    assert_int_equal(r.violation_count, 1);
    assert_int_equal(r.offset, 3);
    assert_non_null(strstr(r.summary, "offset 3 read as two values: v3"));
    assert_non_null(strstr(r.summary, "zz"));
    assert_true(evidence_has_op(&r, 5)); /* The first fetch that read v3. */
    assert_true(evidence_has_op(&r, bad));
    assert_true(evidence_has_op(&r, 3)); /* The produce of v3. */
    history_free(&h);
}

/* --- I-IDEM-2 ------------------------------------------------------------------------------ */

static void test_idem2(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 100);
    for (int i = 0; i < 3; i++) {
        size_t op = produce(&h, 1 + (uint64_t)i, 0, V[i], -1, i);
        h.ops[op].idempotent = true;
    }
    produce(&h, 5, 0, V[3], -1, 3); /* Not idempotent. */
    fetch(&h, 2, 10, 1, OFF, V, 4);
    fetch(&h, 3, 11, 1, OFF, V, 4); /* The same records again, at the same offsets. */
    struct check_input in = input_of(&h, NULL);
    struct check_result r;
    check_idempotent_no_duplicates(&in, &r);
    assert_false(r.violated);
    assert_int_equal(r.checked_count, 3);

    /* v3 (no idempotence) appended twice by a retry: allowed, at-least-once. */
    static const int64_t at4[] = {4};
    fetch(&h, 2, 12, 1, at4, V + 3, 1);
    check_idempotent_no_duplicates(&in, &r);
    assert_false(r.violated);

    /* v1 (idempotent) appended again at offset 5: a duplicate. */
    static const int64_t at5[] = {5};
    size_t dup = fetch(&h, 2, 13, 1, at5, V + 1, 1);
    check_idempotent_no_duplicates(&in, &r);
    assert_true(r.violated);
    assert_int_equal(r.violation_count, 1);
    assert_int_equal(r.offset, 5);
    assert_non_null(strstr(r.summary, "v1 (idempotent producer) is stored twice"));
    assert_true(evidence_has_op(&r, 1)); /* The produce of v1. */
    assert_true(evidence_has_op(&r, dup));
    assert_int_equal(check_run("I-IDEM-2", &in, &r), 0);
    assert_true(r.violated);
    history_free(&h);
}

/* --- I-LOG-1 ------------------------------------------------------------------------------- */

struct log_fixture {
    struct li_batch b0[2], b1[1];
    struct li_index_entry i0[2];
    struct li_time_entry t0[2];
    struct li_segment segs[2];
    struct li_log log;
};

static void log_fixture_init(struct log_fixture *f) {
    memset(f, 0, sizeof(*f));
    f->b0[0] = (struct li_batch){.base_offset = 0,
                                 .last_offset = 4,
                                 .epoch = 1,
                                 .crc_valid = true,
                                 .position = 0,
                                 .size_bytes = 100,
                                 .content_crc = 0xa0};
    f->b0[1] = (struct li_batch){.base_offset = 5,
                                 .last_offset = 9,
                                 .epoch = 1,
                                 .crc_valid = true,
                                 .position = 100,
                                 .size_bytes = 100,
                                 .content_crc = 0xa1};
    f->b1[0] = (struct li_batch){.base_offset = 10,
                                 .last_offset = 14,
                                 .epoch = 2,
                                 .crc_valid = true,
                                 .position = 0,
                                 .size_bytes = 100,
                                 .content_crc = 0xa2};
    f->i0[0] = (struct li_index_entry){.offset = 4, .position = 0};
    f->i0[1] = (struct li_index_entry){.offset = 9, .position = 100};
    f->t0[0] = (struct li_time_entry){.timestamp_ms = 1000, .offset = 4};
    f->t0[1] = (struct li_time_entry){.timestamp_ms = 1000, .offset = 9};
    struct li_segment *s0 = &f->segs[0], *s1 = &f->segs[1];
    snprintf(s0->file_name, sizeof(s0->file_name), "00000000000000000000.log");
    snprintf(s0->index_name, sizeof(s0->index_name), "00000000000000000000.index");
    snprintf(s0->time_index_name, sizeof(s0->time_index_name), "00000000000000000000.timeindex");
    s0->base_offset = 0;
    s0->batches = f->b0;
    s0->batch_count = 2;
    s0->index = f->i0;
    s0->index_count = 2;
    s0->time_index = f->t0;
    s0->time_index_count = 2;
    snprintf(s1->file_name, sizeof(s1->file_name), "00000000000000000010.log");
    s1->base_offset = 10;
    s1->batches = f->b1;
    s1->batch_count = 1;
    snprintf(f->log.node, sizeof(f->log.node), "n1");
    snprintf(f->log.topic, sizeof(f->log.topic), "t1");
    f->log.segments = f->segs;
    f->log.segment_count = 2;
    f->log.recovery_point = 10;
    f->log.hw_checkpoint = 12;
    f->log.hw = 12;
    f->log.leo = -1;
}

static void log1_expect(struct log_fixture *f, bool violated, const char *words) {
    struct check_input in = {.logs = &f->log, .log_count = 1};
    struct check_result r;
    check_log_well_formed(&in, &r);
    if (r.violated != violated || (words != NULL && strstr(r.summary, words) == NULL)) {
        fprintf(stderr, "I-LOG-1: violated=%d summary='%s', wanted '%s'\n", r.violated, r.summary,
                words != NULL ? words : "");
    }
    assert_int_equal(r.violated, violated);
    if (words != NULL) assert_non_null(strstr(r.summary, words));
    if (violated) assert_string_equal(r.node, "n1");
}

static void test_log1(void **state) {
    (void)state;
    struct log_fixture f;
    log_fixture_init(&f);
    log1_expect(&f, false, NULL);
    assert_int_equal(li_log_end_offset(&f.log), 15);
    assert_int_equal(li_log_batch_count(&f.log), 3);
    assert_int_equal(li_log_batch(&f.log, 2)->base_offset, 10);

    log_fixture_init(&f);
    snprintf(f.segs[1].file_name, sizeof(f.segs[1].file_name), "10.log");
    log1_expect(&f, true, "is not its base offset 10 in 20 digits");

    log_fixture_init(&f);
    f.b1[0].base_offset = 9; /* Overlaps the previous segment's last batch. */
    log1_expect(&f, true, "does not start above the previous batch");

    log_fixture_init(&f);
    f.b0[1].base_offset = 3; /* Goes back inside one segment. */
    log1_expect(&f, true, "batch 3..9");

    log_fixture_init(&f);
    f.i0[0].offset = 4;
    f.i0[0].position = 100; /* The batch at 100 starts at offset 5: past the target 4. */
    f.i0[1].offset = 9;
    f.i0[1].position = 200;
    log1_expect(&f, true, "index entry 0 (offset 4 -> position 100)");

    log_fixture_init(&f);
    f.t0[1].timestamp_ms = 999;
    log1_expect(&f, true, "time index entry 1");

    log_fixture_init(&f);
    snprintf(f.segs[0].index_name, sizeof(f.segs[0].index_name), "00000000000000000001.index");
    log1_expect(&f, true, "index files");
}

/* --- I-LOG-2 ------------------------------------------------------------------------------- */

static void log2_expect(struct log_fixture *f, const struct li_batch *appended, size_t n,
                        int64_t synced, bool violated, const char *words) {
    struct check_recovery rec = {.recovered = &f->log,
                                 .appended = appended,
                                 .appended_count = n,
                                 .synced_end_offset = synced,
                                 .crash_ns = 7 * NS_PER_S};
    struct check_input in = {.recoveries = &rec, .recovery_count = 1};
    struct check_result r;
    check_log_recovered(&in, &r);
    if (r.violated != violated || (words != NULL && strstr(r.summary, words) == NULL)) {
        fprintf(stderr, "I-LOG-2: violated=%d summary='%s', wanted '%s'\n", r.violated, r.summary,
                words != NULL ? words : "");
    }
    assert_int_equal(r.violated, violated);
    if (words != NULL) assert_non_null(strstr(r.summary, words));
    if (violated) {
        assert_true(r.time_ns == 7 * NS_PER_S);
        assert_non_null(strstr(r.summary, "after the crash at 7.000000s"));
    }
}

static void test_log2(void **state) {
    (void)state;
    struct log_fixture f;
    log_fixture_init(&f);
    struct li_batch appended[4];
    appended[0] = f.b0[0];
    appended[1] = f.b0[1];
    appended[2] = f.b1[0];
    appended[3] =
        (struct li_batch){.base_offset = 15, .last_offset = 19, .epoch = 2, .content_crc = 0xa3};
    /* A prefix holding everything fsynced (below 15): pass; the unsynced tail may go. */
    log2_expect(&f, appended, 4, 15, false, NULL);
    /* The fsynced batch 15..19 is gone. */
    log2_expect(&f, appended, 4, 20, true, "ends at 15 but offsets below 20 were fsynced");

    f.b1[0].crc_valid = false;
    log2_expect(&f, appended, 4, 0, true, "survived recovery with a bad CRC");

    log_fixture_init(&f);
    f.b0[1].content_crc = 0xee; /* Same offsets, other content. */
    log2_expect(&f, appended, 4, 0, true, "but 5..9 epoch 1 crc 000000a1 was appended there");

    log_fixture_init(&f);
    log2_expect(&f, appended, 2, 0, true, "was never appended");

    log_fixture_init(&f);
    f.log.hw_checkpoint = 16;
    log2_expect(&f, appended, 4, 0, true, "HW checkpoint 16 is beyond the LEO 15");

    log_fixture_init(&f);
    f.log.recovery_point = 20;
    log2_expect(&f, appended, 4, 0, true, "recovery point 20 is beyond the LEO 15");
}

static void log_event(struct trace *t, uint64_t ms, const char *node, const char *name, int64_t a,
                      int64_t b, int64_t epoch, int64_t crc) {
    if (strcmp(name, "log_append") == 0) {
        trace_add(t, ms * MS, node, name,
                  (struct io_trace_field[]){IO_TF_S("topic", "t1"), IO_TF_I("partition", 0),
                                            IO_TF_I("base_offset", a), IO_TF_I("last_offset", b),
                                            IO_TF_I("epoch", epoch), IO_TF_I("crc", crc)},
                  6);
    } else {
        trace_add(t, ms * MS, node, name,
                  (struct io_trace_field[]){IO_TF_S("topic", "t1"), IO_TF_I("partition", 0),
                                            IO_TF_I("offset", a)},
                  3);
    }
}

/* The appended side of I-LOG-2 rebuilt from the log's trace events. */
static void test_log_from_trace(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100);
    log_event(&t, 1, "n1", "log_append", 0, 2, 1, 0xa0);
    log_event(&t, 2, "n1", "log_append", 3, 4, 1, 0xa1);
    log_event(&t, 3, "n1", "log_flush", 5, 0, 0, 0);
    log_event(&t, 4, "n2", "log_append", 0, 9, 1, 0xff); /* Another node: ignored. */
    log_event(&t, 5, "n1", "log_append", 5, 8, 2, 0xa2);
    size_t crash_at = t.count;
    log_event(&t, 6, "n1", "log_recovered", 5, 0, 0, 0);
    log_event(&t, 7, "n1", "log_append", 5, 6, 3, 0xb0);
    log_event(&t, 8, "n1", "log_truncate", 4, 0, 0, 0); /* Inside batch 3..4: it goes whole. */
    struct li_batch out[8];
    int64_t synced;
    assert_int_equal(li_log_from_trace(&t, "n1", "t1", 0, crash_at, out, 8, &synced), 3);
    assert_int_equal(synced, 5);
    assert_int_equal(out[2].base_offset, 5);
    assert_int_equal(out[2].epoch, 2);
    assert_int_equal(out[2].content_crc, 0xa2);
    assert_int_equal(li_log_from_trace(&t, "n1", "t1", 0, crash_at, out, 2, &synced), -E2BIG);
    /* After recovery to 5, a new epoch-3 batch, then a truncation to 4. */
    assert_int_equal(li_log_from_trace(&t, "n1", "t1", 0, t.count, out, 8, &synced), 1);
    assert_int_equal(out[0].last_offset, 2);
    assert_int_equal(synced, 3); /* The log ends at 3, durably. */
    assert_int_equal(li_log_from_trace(&t, "n1", "t2", 0, t.count, out, 8, &synced), 0);
    assert_int_equal(synced, 0);

    /* Feeding it to I-LOG-2: a recovered log holding only 0..2 lost the fsynced 3..4. */
    struct li_segment seg = {
        .file_name = "00000000000000000000.log", .batches = out, .batch_count = 1};
    struct li_log log = {.node = "n1",
                         .topic = "t1",
                         .segments = &seg,
                         .segment_count = 1,
                         .recovery_point = -1,
                         .hw_checkpoint = -1,
                         .hw = -1,
                         .leo = -1};
    struct li_batch appended[8];
    int64_t n = li_log_from_trace(&t, "n1", "t1", 0, crash_at, appended, 8, &synced);
    struct check_recovery rec = {.recovered = &log,
                                 .appended = appended,
                                 .appended_count = (size_t)n,
                                 .synced_end_offset = 5};
    struct check_input in = {.recoveries = &rec, .recovery_count = 1};
    struct check_result r;
    check_log_recovered(&in, &r);
    assert_true(r.violated);
    assert_non_null(strstr(r.summary, "ends at 3 but offsets below 5 were fsynced"));
    trace_free(&t);
}

/* --- I-GRP-4 ------------------------------------------------------------------------------- */

static void test_grp4(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 100);
    five_acked(&h);
    /* Offsets 5 and 6 are a hole nobody saw a record in (say, transaction markers). */
    fetch(&h, 2, 10, 1, OFF, V, 3);
    fetch(&h, 2, 11, 1, OFF + 3, V + 3, 2);
    static const int64_t after_hole[] = {7};
    static const char *const after_val[] = {"v7"};
    fetch(&h, 2, 12, 1, after_hole, after_val, 1);
    /* A new assignment may start anywhere, including before. */
    fetch(&h, 2, 13, 2, OFF, V, 2);
    struct check_input in = input_of(&h, NULL);
    struct check_result r;
    check_monotonic_reads(&in, &r);
    assert_false(r.violated);
    assert_int_equal(r.checked_count, 3 + 2 + 1 + 2);

    /* Going back within assignment 2. */
    size_t back = fetch(&h, 2, 14, 2, OFF + 1, V + 1, 1);
    check_monotonic_reads(&in, &r);
    assert_true(r.violated);
    assert_non_null(strstr(r.summary, "went back"));
    assert_int_equal(r.offset, 1);
    assert_true(evidence_has_op(&r, back));
    history_free(&h);

    /* Skipping offset 3, which an acks=all produce was acked at. */
    history_init(&h, 100);
    five_acked(&h);
    fetch(&h, 2, 10, 1, OFF, V, 3);
    size_t skip = fetch(&h, 2, 11, 1, OFF + 4, V + 4, 1);
    in = input_of(&h, NULL);
    check_monotonic_reads(&in, &r);
    assert_true(r.violated);
    assert_non_null(strstr(r.summary, "skipped t1/0 offset 3"));
    assert_int_equal(r.offset, 3);
    assert_true(evidence_has_op(&r, skip));
    assert_true(evidence_has_op(&r, 3)); /* The produce that proves offset 3 exists. */
    history_free(&h);
}

static void test_registry(void **state) {
    (void)state;
    const char *const *names;
    size_t n = check_names(&names);
    assert_int_equal(n, 13);
    struct history h;
    history_init(&h, 10);
    struct check_input in = input_of(&h, NULL);
    struct check_result r;
    for (size_t i = 0; i < n; i++) {
        assert_true(check_implemented(names[i]));
        assert_int_equal(check_run(names[i], &in, &r), 0);
        assert_string_equal(r.invariant, names[i]);
        assert_false(r.violated); /* Nothing happened: nothing violated. */
    }
    assert_int_equal(check_run("I-TXN-1", &in, &r), -ENOENT);
    assert_false(check_implemented("I-TXN-1"));
    history_free(&h);
}

static void test_verdict(void **state) {
    (void)state;
    struct check_result r[3];
    check_result_init(&r[0], "I-REPL-1");
    check_result_init(&r[1], "I-LIVE-2");
    check_result_init(&r[2], "I-REPL-2");
    size_t culprit;
    assert_int_equal(check_verdict(r, 3, NULL, &culprit), CHECK_VERDICT_PASS);
    assert_true(culprit == SIZE_MAX);
    assert_int_equal(check_verdict(r, 3, "I-REPL-2", &culprit), CHECK_VERDICT_MISSED);
    r[1].violated = true;
    assert_int_equal(check_verdict(r, 3, NULL, &culprit), CHECK_VERDICT_LIVENESS);
    assert_int_equal(culprit, 1);
    r[2].violated = true; /* Safety outranks liveness. */
    assert_int_equal(check_verdict(r, 3, NULL, &culprit), CHECK_VERDICT_SAFETY);
    assert_int_equal(culprit, 2);
    /* The expected violation happened; others tripping too is fine. */
    assert_int_equal(check_verdict(r, 3, "I-REPL-2", &culprit), CHECK_VERDICT_PASS);
    assert_int_equal(culprit, 2);
    assert_true(check_is_liveness("I-LIVE-1"));
    assert_false(check_is_liveness("I-LOG-1"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl1_valid_history_passes),
        cmocka_unit_test(test_repl1_overwritten_record_fails),
        cmocka_unit_test(test_repl1_skipped_record_fails_first_reported),
        cmocka_unit_test(test_repl1_unclean_election_allowed_only_when_permitted),
        cmocka_unit_test(test_repl_topics_kept_apart),
        cmocka_unit_test(test_repl2),
        cmocka_unit_test(test_idem2),
        cmocka_unit_test(test_log1),
        cmocka_unit_test(test_log2),
        cmocka_unit_test(test_log_from_trace),
        cmocka_unit_test(test_grp4),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
