/*
 * test_harness.c — the simulation harness (sim/harness) end to end, in-process.
 * Proves: a flushing single-broker scenario with a power-loss crash passes (exit 0) with a
 * non-trivial history, and the same seed gives the same trace hash while another seed
 * gives another; the same scenario with the mutant ack-before-flush is caught by I-REPL-1
 * (exit 1) and writes a report whose files exist; scenarios the harness cannot run yet
 * (several brokers, transactions, acks=0, unimplemented checks) are refused with a
 * message (exit 5); group consumers (system/client/group_consumer) consume through a
 * broker crash and their reads are judged; the swarm generator is deterministic per seed, varies
 * across seeds, round-trips through scn_print/scn_parse exactly, only draws runnable scenarios, and
 * only draws crashes that may lose unsynced writes when every message is flushed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim/harness/harness.h"
#include "sim/harness/swarm.h"
#include "sim/scenario/scenario.h"

static const char *const crash_flush =
    "scenario unit-crash-flush\n"
    "seed 3\n"
    "duration 8s\n"
    "cluster brokers 1\n"
    "broker all log.flush.interval.messages=1\n"
    "topic t1 partitions 2 replication 1\n"
    "producer p1 topic t1 acks all rate 200/s keys 4 value-bytes 40 stop 7s\n"
    "consumer c1 topic t1 assign 0,1\n"
    "at 3s crash n1 lose-unsynced\n"
    "at 3500ms restart n1\n"
    "at 5s crash n1 torn\n"
    "at 5200ms restart n1\n"
    "check I-REPL-1 I-REPL-2 I-LOG-1 I-LOG-2 I-GRP-4\n"
    "expect pass\n";

static void parse(const char *text, struct scenario *s) {
    char err[512];
    int rc = scn_parse(text, strlen(text), "unit.scn", s, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
}

static void test_pass_and_determinism(void **state) {
    (void)state;
    struct scenario s;
    parse(crash_flush, &s);
    struct harness_options o = {.quiet = true};
    struct harness_result a, b, c;
    assert_int_equal(harness_run(&s, &o, &a), HARNESS_EXIT_PASS);
    assert_int_equal(a.violations, 0);
    assert_true(a.ops > 1000); /* ~1400 produces plus polls and the final read. */
    assert_true(a.virtual_ns >= 8000000000ULL);
    assert_int_equal(harness_run(&s, &o, &b), HARNESS_EXIT_PASS);
    assert_int_equal(a.trace_hash, b.trace_hash);
    assert_int_equal(a.ops, b.ops);
    struct harness_options other = {.quiet = true, .seed = 99, .has_seed = true};
    assert_int_equal(harness_run(&s, &other, &c), HARNESS_EXIT_PASS);
    assert_int_not_equal(a.trace_hash, c.trace_hash);
}

static void test_mutant_caught_with_report(void **state) {
    (void)state;
    struct scenario s;
    parse(crash_flush, &s);
    char dir[256];
    snprintf(dir, sizeof(dir), "/tmp/trial-test-harness-%d", (int)getpid());
    struct harness_options o = {.quiet = true, .mutant = "ack-before-flush", .report_dir = dir};
    struct harness_result r;
    assert_int_equal(harness_run(&s, &o, &r), HARNESS_EXIT_SAFETY);
    assert_non_null(strstr(r.violated, "I-REPL-1"));
    assert_true(r.report_written);
    static const char *const files[] = {"report.txt", "report.json", "report.html", "scenario.scn",
                                        "replay.txt"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size > 0);
        unlink(path);
    }
    static const char *const extra[] = {"spacetime.dot", "spacetime.svg", "logs.dot", "logs.svg"};
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, extra[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void test_refuses_what_it_cannot_run(void **state) {
    (void)state;
    static const char *const texts[] = {
        ("scenario a\ncluster brokers 3\ntopic t partitions 1 replication 3\n"
         "producer p1 topic t\ncheck I-REPL-1\nexpect pass\n"),
        "scenario b\ntopic t\nproducer p1 topic t idempotent transactional tx\ncheck I-REPL-2\n"
        "expect pass\n",
        "scenario c\ntopic t\nproducer p1 topic t acks 0\ncheck I-REPL-2\nexpect pass\n",
        "scenario d\ntopic t\nproducer p1 topic t\ncheck I-REPL-7\nexpect pass\n",
    };
    static const char *const words[] = {"single-node", "transactional", "acks=0", "I-REPL-7"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct scenario s;
        parse(texts[i], &s);
        char why[512];
        assert_false(harness_supported(&s, why, sizeof(why)));
        assert_non_null(strstr(why, words[i]));
        struct harness_options o = {.quiet = true};
        struct harness_result r;
        assert_int_equal(harness_run(&s, &o, &r), HARNESS_EXIT_CANNOT_RUN);
        assert_non_null(strstr(r.summary, words[i]));
    }
}

static void test_group_consumers(void **state) {
    (void)state;
    struct scenario s;
    parse("scenario unit-group\n"
          "duration 30s\n"
          "broker all log.flush.interval.messages=1\n"
          "topic t1 partitions 4 replication 1\n"
          "producer p1 topic t1 acks all rate 200/s keys 16 stop 25s\n"
          "consumer c1 topic t1 group g1\n"
          "consumer c2 topic t1 group g1 start 3s stop 8s\n"
          "at 5s crash n1 torn\n"
          "at 6s restart n1\n"
          "check I-REPL-1 I-REPL-2 I-GRP-4\n"
          "expect pass\n",
          &s);
    struct harness_options o = {.quiet = true};
    struct harness_result r;
    assert_int_equal(harness_run(&s, &o, &r), HARNESS_EXIT_PASS);
    assert_true(r.produced_ok > 4500);
    assert_true(r.records_read > 4000); /* The group members really consumed. */
    assert_true(r.records_verified >= r.produced_ok);
}

static void test_swarm_generator(void **state) {
    (void)state;
    static char text[1 << 16];
    size_t differ = 0;
    struct scenario prev;
    memset(&prev, 0, sizeof(prev));
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct scenario a, b, back;
        swarm_generate(seed, &a);
        swarm_generate(seed, &b);
        assert_true(scn_equal(&a, &b));
        if (seed > 1 && !scn_equal(&a, &prev)) differ++;
        prev = a;
        size_t n = scn_print(&a, text, sizeof(text));
        assert_true(n < sizeof(text));
        char err[512];
        int rc = scn_parse(text, n, "swarm.scn", &back, err, sizeof(err));
        if (rc != 0) fprintf(stderr, "seed %llu: %s\n%s", (unsigned long long)seed, err, text);
        assert_int_equal(rc, 0);
        assert_true(scn_equal(&a, &back));
        char why[512];
        assert_true(harness_supported(&a, why, sizeof(why)));
        const char *flush = scn_broker_config(&a, "n1", "log.flush.interval.messages");
        bool every = flush != NULL && strcmp(flush, "1") == 0;
        for (size_t i = 0; i < a.fault_count; i++) {
            if (a.faults[i].kind != SCN_FAULT_CRASH) continue;
            assert_true(every || a.faults[i].crash_mode == SCN_CRASH_KEEP);
        }
    }
    assert_int_equal(differ, 299);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_and_determinism),
        cmocka_unit_test(test_mutant_caught_with_report),
        cmocka_unit_test(test_refuses_what_it_cannot_run),
        cmocka_unit_test(test_group_consumers),
        cmocka_unit_test(test_swarm_generator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
