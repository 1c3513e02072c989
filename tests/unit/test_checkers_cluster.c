/*
 * test_checkers_cluster.c — proves the multi-node checkers (checkers/check_cluster.c) tell
 * valid traces and disk images from violating ones, each from the event fields of
 * docs/REPLICATION.md's table alone:
 *  - I-REPL-3 fails when two replicas hold different batches (or one lacks a batch) below
 *    the smaller of their final HWs, and passes when they differ only above it, or when a
 *    node crashed after its last `hw` event and its HW checkpoint is lower; a log recovered
 *    after a crash fails when it differs from another replica below its pre-crash HW (or
 *    holds a bad-CRC batch there), passes when it is merely shorter, and is not judged
 *    after an unclean election;
 *  - I-REPL-4 fails when a new leader's LEO is below a HW an earlier leader exposed, and
 *    passes when it is not, or when an unclean election came between;
 *  - I-REPL-5 fails when a consumer fetch ends above the HW; follower fetches may;
 *  - I-REPL-6 fails when a leader's HW goes back within an epoch, not across epochs and not
 *    for followers; and when a replica truncates below the HW it applied (KAFKA-14704),
 *    unless it crashed or an unclean election came between;
 *  - I-CTRL-1 fails on two leaders in one leader epoch, on one partition epoch read two
 *    ways, and on a leader epoch that goes back as the partition epoch rises;
 *  - I-CTRL-2 fails on two Raft leaders in one epoch and on a voter voting twice;
 *  - I-CTRL-3 fails when one metadata offset is applied with two CRCs;
 *  - every checker passes on an empty trace and is reachable through check_run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "checkers/check.h"

#define MS 1000000ULL

static uint64_t clock_ms;

/* Adds an event with fields given as "key=value" strings: ints when the value parses as one
 * (a leading digit or '-'), strings otherwise, and strings always for topic and isr. */
static size_t ev(struct trace *t, const char *node, const char *name, const char *spec) {
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", spec);
    struct io_trace_field f[16];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok != NULL && n < 16;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        const char *v = eq + 1;
        bool str = strcmp(tok, "topic") == 0 || strcmp(tok, "isr") == 0 ||
                   strcmp(tok, "kind") == 0 || strcmp(tok, "target") == 0;
        if (str) {
            f[n++] = IO_TF_S(tok, v);
        } else {
            f[n++] = IO_TF_I(tok, strtoll(v, NULL, 10));
        }
    }
    clock_ms++;
    return trace_add(t, clock_ms * MS, node, name, f, n);
}

static struct check_result run(const char *inv, const struct trace *t, const struct li_log *logs,
                               size_t log_count) {
    struct check_input in = {.trace = t, .logs = logs, .log_count = log_count};
    struct check_result r;
    assert_int_equal(check_run(inv, &in, &r), 0);
    assert_string_equal(r.invariant, inv);
    assert_true(r.violated == (r.violation_count > 0));
    return r;
}

static bool cites_event(const struct check_result *r, size_t index) {
    for (size_t i = 0; i < r->evidence_count; i++) {
        if (r->evidence[i].kind == CHECK_EV_EVENT && r->evidence[i].index == index) return true;
    }
    return false;
}

/* --- I-REPL-3 ---------------------------------------------------------------------------- */

struct replica {
    struct li_batch batches[4];
    struct li_segment seg;
    struct li_log log;
};

/* A replica of t1-0 with batches [0..9], [10..19], [20..29], [30..39], the last two with
 * the given epochs and CRCs (to make two replicas diverge there). */
static void replica_init(struct replica *r, const char *node, uint32_t crc2, uint32_t crc3) {
    memset(r, 0, sizeof(*r));
    uint32_t crcs[4] = {0x1000, 0x2000, crc2, crc3};
    for (int i = 0; i < 4; i++) {
        r->batches[i] = (struct li_batch){.base_offset = 10 * i,
                                          .last_offset = 10 * i + 9,
                                          .epoch = 1,
                                          .crc_valid = true,
                                          .position = 100u * (unsigned)i,
                                          .size_bytes = 100,
                                          .content_crc = crcs[i]};
    }
    snprintf(r->seg.file_name, sizeof(r->seg.file_name), "00000000000000000000.log");
    r->seg.batches = r->batches;
    r->seg.batch_count = 4;
    snprintf(r->log.node, sizeof(r->log.node), "%s", node);
    snprintf(r->log.topic, sizeof(r->log.topic), "t1");
    r->log.segments = &r->seg;
    r->log.segment_count = 1;
    r->log.recovery_point = -1;
    r->log.hw_checkpoint = -1;
    r->log.hw = -1;
    r->log.leo = -1;
}

static void test_repl3(void **state) {
    (void)state;
    struct replica a, b;
    struct li_log logs[2];
    /* Same below 20, different from 20: final HWs 20 and 40 -> the bound is 20: pass. */
    replica_init(&a, "n1", 0x3000, 0x4000);
    replica_init(&b, "n2", 0x3333, 0x4444);
    struct trace t;
    trace_init(&t, 100);
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=40 epoch=1 leader=1");
    size_t hw2 = ev(&t, "n2", "hw", "topic=t1 partition=0 hw=20 epoch=1 leader=0");
    logs[0] = a.log;
    logs[1] = b.log;
    struct check_result r = run("I-REPL-3", &t, logs, 2);
    assert_false(r.violated);
    assert_int_equal(r.checked_count, 1);

    /* n2's HW moves to 30: offsets 20..29 are committed on both and differ: fail. */
    ev(&t, "n2", "hw", "topic=t1 partition=0 hw=30 epoch=1 leader=0");
    r = run("I-REPL-3", &t, logs, 2);
    assert_true(r.violated);
    assert_int_equal(r.offset, 20);
    assert_int_equal(r.partition, 0);
    assert_string_equal(r.topic, "t1");
    assert_non_null(strstr(r.summary, "n1 (final) and n2"));
    assert_int_equal(r.evidence_count, 2);
    assert_int_equal(r.evidence[0].kind, CHECK_EV_BATCH);

    /* n2 crashed after that event: its HW is the checkpoint (20): pass again. */
    ev(&t, "sim", "fault", "kind=crash target=n2");
    logs[1].hw_checkpoint = 20;
    r = run("I-REPL-3", &t, logs, 2);
    assert_false(r.violated);
    (void)hw2;
    trace_free(&t);

    /* One replica lacks a committed batch entirely (a hole): fail at the missing batch. */
    replica_init(&a, "n1", 0x3000, 0x4000);
    replica_init(&b, "n3", 0x3000, 0x4000);
    b.batches[1] = b.batches[2]; /* n3: [0..9], [20..29], [20..29], [30..39] -> skip [10..19] */
    b.batches[2] = b.batches[3];
    b.seg.batch_count = 3;
    trace_init(&t, 100);
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=40 epoch=1 leader=1");
    ev(&t, "n3", "hw", "topic=t1 partition=0 hw=40 epoch=1 leader=0");
    logs[0] = b.log; /* Order does not matter: the checker sorts by node. */
    logs[1] = a.log;
    r = run("I-REPL-3", &t, logs, 2);
    assert_true(r.violated);
    assert_int_equal(r.offset, 10);
    /* Identical replicas pass. */
    replica_init(&b, "n3", 0x3000, 0x4000);
    logs[0] = b.log;
    r = run("I-REPL-3", &t, logs, 2);
    assert_false(r.violated);
    trace_free(&t);
}

static void test_repl3_after_crash(void **state) {
    (void)state;
    struct replica rec, other;
    replica_init(&rec, "n2", 0x3000, 0x4000);   /* What n2's recovery left. */
    replica_init(&other, "n1", 0x3000, 0x4000); /* n1's final image. */
    struct trace t;
    trace_init(&t, 100);
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=40 epoch=1 leader=1");
    ev(&t, "n2", "hw", "topic=t1 partition=0 hw=30 epoch=1 leader=0");
    uint64_t crash_ns = (clock_ms + 1) * MS;
    ev(&t, "sim", "fault", "kind=crash target=n2");
    ev(&t, "n2", "hw", "topic=t1 partition=0 hw=0 epoch=1 leader=0"); /* After restart. */
    struct check_recovery r = {.recovered = &rec.log, .crash_ns = crash_ns};
    struct check_input in = {
        .trace = &t, .logs = &other.log, .log_count = 1, .recoveries = &r, .recovery_count = 1};
    struct check_result out;
    /* Identical below 30: pass. A shorter recovered log (lost unsynced tail) passes too. */
    assert_int_equal(check_run("I-REPL-3", &in, &out), 0);
    assert_false(out.violated);
    assert_int_equal(out.checked_count, 1);
    rec.seg.batch_count = 1;
    assert_int_equal(check_run("I-REPL-3", &in, &out), 0);
    assert_false(out.violated);
    /* [10..19] kept with a failing CRC (recovery should have cut it): fail at 10. */
    rec.seg.batch_count = 4;
    rec.batches[1].crc_valid = false;
    assert_int_equal(check_run("I-REPL-3", &in, &out), 0);
    assert_true(out.violated);
    assert_int_equal(out.offset, 10);
    assert_non_null(strstr(out.summary, "recovered after its crash"));
    /* Different content at [20..29], below its pre-crash HW 30: fail at 20. */
    rec.batches[1].crc_valid = true;
    rec.batches[2].content_crc = 0x3333;
    assert_int_equal(check_run("I-REPL-3", &in, &out), 0);
    assert_true(out.violated);
    assert_int_equal(out.offset, 20);
    /* ... unless an unclean election of the partition was traced. */
    ev(&t, "q1", "unclean_election", "topic=t1 partition=0 leader=2 leader_epoch=2");
    assert_int_equal(check_run("I-REPL-3", &in, &out), 0);
    assert_false(out.violated);
    trace_free(&t);
}

/* --- I-REPL-4 ---------------------------------------------------------------------------- */

static void test_repl4(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100);
    ev(&t, "n1", "become_leader", "topic=t1 partition=0 epoch=1 leo=0 hw=0");
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=50 epoch=1 leader=1");
    size_t hw80 = ev(&t, "n1", "hw", "topic=t1 partition=0 hw=80 epoch=1 leader=1");
    ev(&t, "n2", "hw", "topic=t1 partition=0 hw=90 epoch=1 leader=0");  /* Follower: ignored. */
    ev(&t, "n1", "hw", "topic=t2 partition=0 hw=500 epoch=1 leader=1"); /* Another topic. */
    ev(&t, "n2", "become_leader", "topic=t1 partition=0 epoch=2 leo=80 hw=70");
    struct check_result r = run("I-REPL-4", &t, NULL, 0);
    assert_false(r.violated);
    assert_int_equal(r.checked_count, 2);

    size_t bad = ev(&t, "n3", "become_leader", "topic=t1 partition=0 epoch=3 leo=79 hw=70");
    r = run("I-REPL-4", &t, NULL, 0);
    assert_true(r.violated);
    assert_string_equal(r.node, "n3");
    assert_int_equal(r.offset, 79);
    assert_true(cites_event(&r, bad));
    assert_true(cites_event(&r, hw80));
    assert_non_null(strstr(r.summary, "80"));
    trace_free(&t);

    /* An unclean election in between excuses the short leader. */
    trace_init(&t, 100);
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=80 epoch=1 leader=1");
    ev(&t, "q1", "unclean_election", "topic=t1 partition=0 leader=3 leader_epoch=2");
    ev(&t, "n3", "become_leader", "topic=t1 partition=0 epoch=2 leo=10 hw=0");
    r = run("I-REPL-4", &t, NULL, 0);
    assert_false(r.violated);
    assert_int_equal(r.allowed_count, 1);
    /* ... but the next leader is judged against what the unclean one exposed. */
    ev(&t, "n3", "hw", "topic=t1 partition=0 hw=10 epoch=2 leader=1");
    ev(&t, "n1", "become_leader", "topic=t1 partition=0 epoch=3 leo=5 hw=0");
    r = run("I-REPL-4", &t, NULL, 0);
    assert_true(r.violated);
    trace_free(&t);
}

/* --- I-REPL-5 ---------------------------------------------------------------------------- */

static void test_repl5(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100);
    ev(&t, "n1", "fetch_served", "topic=t1 partition=0 offset=0 end=10 hw=10 replica=-1 epoch=1");
    ev(&t, "n1", "fetch_served", "topic=t1 partition=0 offset=10 end=20 hw=10 replica=2 epoch=1");
    ev(&t, "n1", "fetch_served", "topic=t1 partition=0 offset=12 end=12 hw=10 replica=-1 epoch=1");
    struct check_result r = run("I-REPL-5", &t, NULL, 0);
    assert_false(r.violated);
    assert_int_equal(r.checked_count, 2);
    size_t bad = ev(&t, "n2", "fetch_served",
                    "topic=t1 partition=0 offset=5 end=11 hw=10 replica=-1 epoch=1");
    r = run("I-REPL-5", &t, NULL, 0);
    assert_true(r.violated);
    assert_string_equal(r.node, "n2");
    assert_int_equal(r.offset, 10);
    assert_true(cites_event(&r, bad));
    trace_free(&t);
}

/* --- I-REPL-6 ---------------------------------------------------------------------------- */

static void test_repl6(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100);
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=10 epoch=1 leader=1");
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=20 epoch=1 leader=1");
    ev(&t, "n2", "hw", "topic=t1 partition=0 hw=5 epoch=1 leader=0");  /* A follower. */
    ev(&t, "n1", "hw", "topic=t1 partition=1 hw=3 epoch=1 leader=1");  /* Another partition. */
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=15 epoch=2 leader=1"); /* A new epoch. */
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=15 epoch=2 leader=1"); /* Equal is fine. */
    struct check_result r = run("I-REPL-6", &t, NULL, 0);
    assert_false(r.violated);
    size_t bad = ev(&t, "n1", "hw", "topic=t1 partition=0 hw=14 epoch=2 leader=1");
    r = run("I-REPL-6", &t, NULL, 0);
    assert_true(r.violated);
    assert_int_equal(r.violation_count, 1);
    assert_int_equal(r.offset, 14);
    assert_true(cites_event(&r, bad));
    assert_non_null(strstr(r.summary, "from 15 to 14"));
    trace_free(&t);
}

static void test_repl6_truncate_below_hw(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100);
    /* An ex-leader becomes follower: truncates to 40 first, then takes the leader's HW. */
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=40 epoch=1 leader=1");
    ev(&t, "n1", "log_truncate", "topic=t1 partition=0 offset=45");
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=45 epoch=2 leader=0");
    ev(&t, "n2", "log_truncate", "topic=t1 partition=0 offset=10"); /* No HW on n2 yet. */
    struct check_result r = run("I-REPL-6", &t, NULL, 0);
    assert_false(r.violated);
    /* A crash in between excuses a cut below the HW (recovery of an unsynced tail). */
    ev(&t, "sim", "fault", "kind=crash target=n1");
    ev(&t, "n1", "log_truncate", "topic=t1 partition=0 offset=30");
    r = run("I-REPL-6", &t, NULL, 0);
    assert_false(r.violated);
    /* The mutant's order: the HW from the first fetch (over the divergent tail), then the
     * truncation below it. */
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=60 epoch=3 leader=0");
    size_t bad = ev(&t, "n1", "log_truncate", "topic=t1 partition=0 offset=52");
    r = run("I-REPL-6", &t, NULL, 0);
    assert_true(r.violated);
    assert_int_equal(r.offset, 52);
    assert_true(cites_event(&r, bad));
    assert_non_null(strstr(r.summary, "below the high watermark 60"));
    trace_free(&t);
    /* An unclean election of the partition in between excuses it. */
    trace_init(&t, 100);
    ev(&t, "n1", "hw", "topic=t1 partition=0 hw=60 epoch=3 leader=0");
    ev(&t, "q1", "unclean_election", "topic=t1 partition=0 leader=2 leader_epoch=4");
    ev(&t, "n1", "log_truncate", "topic=t1 partition=0 offset=52");
    r = run("I-REPL-6", &t, NULL, 0);
    assert_false(r.violated);
    trace_free(&t);
}

/* --- I-CTRL-1 ---------------------------------------------------------------------------- */

static void test_ctrl1(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100);
    const char *p1 = "topic=t1 partition=0 leader=1 leader_epoch=1 partition_epoch=1 isr=1,2,3";
    const char *p2 = "topic=t1 partition=0 leader=1 leader_epoch=1 partition_epoch=2 isr=1,2";
    const char *p3 = "topic=t1 partition=0 leader=2 leader_epoch=2 partition_epoch=3 isr=2";
    const char *nodes[] = {"n1", "n2", "n3"};
    for (int n = 0; n < 3; n++) { /* Every node applies the same records. */
        ev(&t, nodes[n], "metadata_partition", p1);
        ev(&t, nodes[n], "metadata_partition", p2);
        ev(&t, nodes[n], "metadata_partition", p3);
    }
    ev(&t, "n1", "metadata_partition", p1); /* A replay after a restart. */
    struct check_result r = run("I-CTRL-1", &t, NULL, 0);
    assert_false(r.violated);
    trace_free(&t);

    /* Two leaders in leader epoch 2. */
    trace_init(&t, 100);
    ev(&t, "n1", "metadata_partition", p3);
    size_t bad = ev(&t, "n2", "metadata_partition",
                    "topic=t1 partition=0 leader=3 leader_epoch=2 partition_epoch=4 isr=3");
    r = run("I-CTRL-1", &t, NULL, 0);
    assert_true(r.violated);
    assert_true(cites_event(&r, bad));
    assert_non_null(strstr(r.summary, "Two leaders"));
    trace_free(&t);

    /* Partition epoch 3 read two ways (different ISR). */
    trace_init(&t, 100);
    ev(&t, "n1", "metadata_partition", p3);
    ev(&t, "n2", "metadata_partition",
       "topic=t1 partition=0 leader=2 leader_epoch=2 partition_epoch=3 isr=2,3");
    r = run("I-CTRL-1", &t, NULL, 0);
    assert_true(r.violated);
    assert_non_null(strstr(r.summary, "two different states"));
    trace_free(&t);

    /* Leader epoch back from 2 to 1 while the partition epoch rises. */
    trace_init(&t, 100);
    ev(&t, "n1", "metadata_partition", p3);
    ev(&t, "n1", "metadata_partition",
       "topic=t1 partition=0 leader=1 leader_epoch=1 partition_epoch=4 isr=1");
    r = run("I-CTRL-1", &t, NULL, 0);
    assert_true(r.violated);
    assert_non_null(strstr(r.summary, "went back"));
    trace_free(&t);
}

/* --- I-CTRL-2 ---------------------------------------------------------------------------- */

static void test_ctrl2(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100);
    ev(&t, "q2", "raft_vote", "epoch=1 candidate=1001");
    ev(&t, "q1", "raft_leader", "epoch=1");
    ev(&t, "q3", "raft_vote", "epoch=2 candidate=1002");
    ev(&t, "q3", "raft_vote", "epoch=2 candidate=1002"); /* The same vote again is fine. */
    ev(&t, "q2", "raft_leader", "epoch=2");
    struct check_result r = run("I-CTRL-2", &t, NULL, 0);
    assert_false(r.violated);
    assert_int_equal(r.checked_count, 2);
    size_t bad = ev(&t, "q3", "raft_leader", "epoch=2");
    r = run("I-CTRL-2", &t, NULL, 0);
    assert_true(r.violated);
    assert_true(cites_event(&r, bad));
    assert_non_null(strstr(r.summary, "q2 and q3"));
    trace_free(&t);

    trace_init(&t, 100);
    ev(&t, "q3", "raft_vote", "epoch=4 candidate=1001");
    bad = ev(&t, "q3", "raft_vote", "epoch=4 candidate=1002");
    r = run("I-CTRL-2", &t, NULL, 0);
    assert_true(r.violated);
    assert_true(cites_event(&r, bad));
    assert_non_null(strstr(r.summary, "two votes"));
    trace_free(&t);
}

/* --- I-CTRL-3 ---------------------------------------------------------------------------- */

static void test_ctrl3(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100);
    ev(&t, "q1", "metadata_apply", "offset=0 epoch=1 type=0 crc=111");
    ev(&t, "q1", "metadata_apply", "offset=1 epoch=1 type=2 crc=222");
    ev(&t, "n1", "metadata_apply", "offset=0 epoch=1 type=0 crc=111");
    ev(&t, "n1", "metadata_apply", "offset=1 epoch=1 type=2 crc=222");
    struct check_result r = run("I-CTRL-3", &t, NULL, 0);
    assert_false(r.violated);
    size_t bad = ev(&t, "n2", "metadata_apply", "offset=1 epoch=2 type=2 crc=999");
    r = run("I-CTRL-3", &t, NULL, 0);
    assert_true(r.violated);
    assert_int_equal(r.offset, 1);
    assert_string_equal(r.node, "n2");
    assert_true(cites_event(&r, bad));
    trace_free(&t);
}

static void test_empty_inputs_pass(void **state) {
    (void)state;
    static const char *const names[] = {"I-REPL-3", "I-REPL-4", "I-REPL-5", "I-REPL-6",
                                        "I-CTRL-1", "I-CTRL-2", "I-CTRL-3"};
    struct trace t;
    trace_init(&t, 10);
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        assert_true(check_implemented(names[i]));
        struct check_result r = run(names[i], NULL, NULL, 0);
        assert_false(r.violated);
        r = run(names[i], &t, NULL, 0);
        assert_false(r.violated);
    }
    trace_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl3), cmocka_unit_test(test_repl3_after_crash),
        cmocka_unit_test(test_repl4), cmocka_unit_test(test_repl5),
        cmocka_unit_test(test_repl6), cmocka_unit_test(test_repl6_truncate_below_hw),
        cmocka_unit_test(test_ctrl1), cmocka_unit_test(test_ctrl2),
        cmocka_unit_test(test_ctrl3), cmocka_unit_test(test_empty_inputs_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
