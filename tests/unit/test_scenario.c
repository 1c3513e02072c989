/*
 * test_scenario.c — proves the scenario language parser and printer (sim/scenario):
 *  - every statement and option lands in the right field with the right units;
 *  - scn_parse(scn_print(s)) == s (scn_equal) for a scenario using every fault kind, for a
 *    scenario built in code, for 500 random scenarios, and for every bundled scenarios/NAME.scn
 * file, and the printed form is a fixed point (print(parse(print(s))) == print(s) byte for byte);
 *  - bad input is refused with the file name, the right line number and a message saying
 *    what was expected; bounds are enforced with -E2BIG rather than silent truncation;
 *  - invariant names are checked against docs/INVARIANTS.md's families;
 *  - the examples in docs/SCENARIOS.md parse and round-trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "sim/scenario/scenario.h"

static const char full_text[] =
    "# Every statement once.\n"
    "scenario everything   # trailing comment\n"
    "seed 18446744073709551615\n"
    "duration 2m\n"
    "cluster brokers 3 controllers 3\n"
    "broker all log.flush.interval.messages=1 min.insync.replicas=2\n"
    "broker n2 unclean.leader.election.enable=true\n"
    "topic orders partitions 6 replication 3 retention.ms=60000\n"
    "topic audit\n"
    "producer p1 topic orders acks all rate 500/s count 10000 keys 10 value-bytes 100 "
    "idempotent transactional tx-1 start 1s stop 90s\n"
    "producer p2 topic audit acks 1 rate 20\n"
    "consumer c1 topic orders group g1 isolation read_committed\n"
    "consumer c2 topic orders assign 0,2,5 start 1500ms\n"
    "\n"
    "at 5s crash n1\n"
    "at 5s crash n2 torn\n"
    "at 6s restart n1\n"
    "at 7s pause n3\n"
    "at 8s resume n3\n"
    "at 9s partition n1 n2\n"
    "at 9s partition n2 -> q1\n"
    "at 10s isolate n3\n"
    "at 11s heal n1 n2\n"
    "at 11s heal n3\n"
    "at 12s heal all\n"
    "at 13s slow c1 latency 2s\n"
    "at 13s slow n1 n2 latency 250us bandwidth 100000\n"
    "at 14s disk n1 fsync eio\n"
    "at 14s disk n2 write enospc times 3\n"
    "at 15s disk n1 clear\n"
    "at 16s clock n1 skew -200ms\n"
    "at 16s clock n2 jump +5s\n"
    "at 17s crash n3 lose-unsynced\n"
    "at 17s crash n3 keep-unsynced\n"
    "check I-REPL-1 I-REPL-2\n"
    "check I-LOG-1 I-LOG-2 I-GRP-4\n"
    "expect violation I-REPL-1\n"
    "catches ack-before-flush I-REPL-1\n"
    "catches truncate-to-hw I-REPL-2\n";

static char print_buf[64 * 1024];
static char print_buf2[64 * 1024];

static void parse_ok(const char *text, struct scenario *s) {
    char err[256];
    int rc = scn_parse(text, strlen(text), "t.scn", s, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "unexpected error: %s\n", err);
    assert_int_equal(rc, 0);
}

/* parse(print(s)) == s and the printed form is a fixed point. */
static void assert_round_trip(const struct scenario *s) {
    size_t n = scn_print(s, print_buf, sizeof(print_buf));
    assert_true(n < sizeof(print_buf));
    assert_int_equal(n, strlen(print_buf));
    static struct scenario back;
    char err[256];
    int rc = scn_parse(print_buf, n, "printed.scn", &back, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "%s\n--- printed:\n%s", err, print_buf);
    assert_int_equal(rc, 0);
    assert_true(scn_equal(s, &back));
    size_t n2 = scn_print(&back, print_buf2, sizeof(print_buf2));
    assert_int_equal(n, n2);
    assert_string_equal(print_buf, print_buf2);
}

static void test_parse_every_statement(void **state) {
    (void)state;
    static struct scenario s;
    parse_ok(full_text, &s);
    assert_string_equal(s.name, "everything");
    assert_true(s.has_seed);
    assert_true(s.seed == UINT64_MAX);
    assert_true(s.duration_ns == 120 * NS_PER_S);
    assert_int_equal(s.brokers, 3);
    assert_int_equal(s.controllers, 3);
    assert_int_equal(s.config_count, 3);
    assert_string_equal(s.configs[0].node, "all");
    assert_string_equal(s.configs[0].kv.key, "log.flush.interval.messages");
    assert_string_equal(s.configs[0].kv.value, "1");
    assert_string_equal(s.configs[2].node, "n2");
    /* Per-broker settings override "all"; unknown keys fall back to NULL (the default). */
    assert_string_equal(scn_broker_config(&s, "n1", "min.insync.replicas"), "2");
    assert_null(scn_broker_config(&s, "n1", "unclean.leader.election.enable"));
    assert_string_equal(scn_broker_config(&s, "n2", "unclean.leader.election.enable"), "true");
    assert_null(scn_broker_config(&s, "n3", "log.retention.ms"));
    assert_non_null(scn_topic_find(&s, "audit"));
    assert_null(scn_topic_find(&s, "nope"));
    assert_int_equal(s.topic_count, 2);
    assert_int_equal(s.topics[0].partitions, 6);
    assert_int_equal(s.topics[0].replication, 3);
    assert_int_equal(s.topics[0].config_count, 1);
    assert_string_equal(s.topics[0].configs[0].value, "60000");
    assert_int_equal(s.topics[1].partitions, 1);

    assert_int_equal(s.workload_count, 4);
    const struct scn_workload *p1 = &s.workloads[0];
    assert_int_equal(p1->kind, SCN_PRODUCER);
    assert_int_equal(p1->acks, -1);
    assert_int_equal(p1->rate_per_s, 500);
    assert_true(p1->count == 10000);
    assert_int_equal(p1->keys, 10);
    assert_int_equal(p1->value_bytes, 100);
    assert_true(p1->idempotent);
    assert_string_equal(p1->transactional_id, "tx-1");
    assert_true(p1->start_ns == NS_PER_S && p1->stop_ns == 90 * NS_PER_S);
    const struct scn_workload *p2 = &s.workloads[1];
    assert_int_equal(p2->acks, 1);
    assert_int_equal(p2->rate_per_s, 20);
    assert_int_equal(p2->keys, 0);
    assert_false(p2->idempotent);
    const struct scn_workload *c1 = &s.workloads[2];
    assert_int_equal(c1->kind, SCN_CONSUMER);
    assert_string_equal(c1->group, "g1");
    assert_int_equal(c1->isolation, SCN_READ_COMMITTED);
    const struct scn_workload *c2 = &s.workloads[3];
    assert_int_equal(c2->assign_count, 3);
    assert_int_equal(c2->assign[2], 5);
    assert_true(c2->start_ns == 1500 * NS_PER_MS);
    assert_int_equal(c2->isolation, SCN_READ_UNCOMMITTED);

    assert_int_equal(s.fault_count, 20);
    assert_int_equal(s.faults[0].kind, SCN_FAULT_CRASH);
    assert_int_equal(s.faults[0].crash_mode, SCN_CRASH_SEEDED);
    assert_true(s.faults[0].at_ns == 5 * NS_PER_S);
    assert_int_equal(s.faults[1].crash_mode, SCN_CRASH_TORN);
    assert_int_equal(s.faults[2].kind, SCN_FAULT_RESTART);
    assert_int_equal(s.faults[3].kind, SCN_FAULT_PAUSE);
    assert_int_equal(s.faults[4].kind, SCN_FAULT_RESUME);
    assert_int_equal(s.faults[5].kind, SCN_FAULT_PARTITION);
    assert_false(s.faults[5].one_way);
    assert_string_equal(s.faults[5].b, "n2");
    assert_true(s.faults[6].one_way);
    assert_string_equal(s.faults[6].a, "n2");
    assert_string_equal(s.faults[6].b, "q1");
    assert_int_equal(s.faults[7].kind, SCN_FAULT_ISOLATE);
    assert_int_equal(s.faults[8].kind, SCN_FAULT_HEAL);
    assert_string_equal(s.faults[9].b, "");
    assert_string_equal(s.faults[10].a, "all");
    assert_int_equal(s.faults[11].kind, SCN_FAULT_SLOW);
    assert_string_equal(s.faults[11].a, "c1");
    assert_true(s.faults[11].latency_ns == 2 * NS_PER_S);
    assert_true(s.faults[12].latency_ns == 250 * NS_PER_US);
    assert_true(s.faults[12].bandwidth_bps == 100000);
    assert_int_equal(s.faults[13].kind, SCN_FAULT_DISK);
    assert_int_equal(s.faults[13].disk_op, SCN_DISK_FSYNC);
    assert_int_equal(s.faults[13].disk_error, SCN_DISK_EIO);
    assert_int_equal(s.faults[13].disk_times, 0);
    assert_int_equal(s.faults[14].disk_error, SCN_DISK_ENOSPC);
    assert_int_equal(s.faults[14].disk_times, 3);
    assert_int_equal(s.faults[15].kind, SCN_FAULT_DISK_CLEAR);
    assert_int_equal(s.faults[16].kind, SCN_FAULT_CLOCK_SKEW);
    assert_true(s.faults[16].clock_ns == -200 * (int64_t)NS_PER_MS);
    assert_int_equal(s.faults[17].kind, SCN_FAULT_CLOCK_JUMP);
    assert_true(s.faults[17].clock_ns == 5 * (int64_t)NS_PER_S);
    assert_int_equal(s.faults[18].crash_mode, SCN_CRASH_LOSE);
    assert_int_equal(s.faults[19].crash_mode, SCN_CRASH_KEEP);

    assert_int_equal(s.check_count, 5);
    assert_string_equal(s.checks[4], "I-GRP-4");
    assert_int_equal(s.expect, SCN_EXPECT_VIOLATION);
    assert_string_equal(s.expect_invariant, "I-REPL-1");
    assert_int_equal(s.catch_count, 2);
    assert_string_equal(s.catches[0].mutant, "ack-before-flush");
    assert_string_equal(s.catches[1].invariant, "I-REPL-2");
}

static void test_round_trip_full(void **state) {
    (void)state;
    static struct scenario s;
    parse_ok(full_text, &s);
    assert_round_trip(&s);
}

/* What swarm does: build a scenario in code, print it, and get the same one back. */
static void test_round_trip_built_in_code(void **state) {
    (void)state;
    static struct scenario s;
    scn_defaults(&s);
    snprintf(s.name, sizeof(s.name), "swarm-seed-77");
    s.seed = 77;
    s.has_seed = true;
    s.duration_ns = 30 * NS_PER_S + 1; /* Not a whole unit: must print as ns. */
    s.brokers = 5;
    snprintf(s.topics[0].name, sizeof(s.topics[0].name), "t0");
    s.topics[0].partitions = 3;
    s.topics[0].replication = 3;
    s.topic_count = 1;
    struct scn_workload *w = &s.workloads[0];
    w->kind = SCN_PRODUCER;
    snprintf(w->name, sizeof(w->name), "p1");
    snprintf(w->topic, sizeof(w->topic), "t0");
    w->acks = 0;
    w->rate_per_s = 1;
    w->value_bytes = 8;
    s.workload_count = 1;
    for (size_t i = 0; i < SCN_FAULTS_MAX; i++) {
        struct scn_fault *f = &s.faults[i];
        f->at_ns = i * 7 * NS_PER_MS;
        f->kind = (enum scn_fault_kind)(i % SCN_FAULT_KIND_COUNT);
        snprintf(f->a, sizeof(f->a), "n%zu", 1 + i % 5);
        switch (f->kind) {
        case SCN_FAULT_CRASH:
            f->crash_mode = (enum scn_crash_mode)(i % 4);
            break;
        case SCN_FAULT_PARTITION:
            snprintf(f->b, sizeof(f->b), "p1");
            f->one_way = i % 2 == 0;
            break;
        case SCN_FAULT_HEAL:
            if (i % 3 == 0) snprintf(f->a, sizeof(f->a), "all");
            break;
        case SCN_FAULT_SLOW:
            f->latency_ns = 1 + i;
            f->bandwidth_bps = i % 2 ? 0 : 4096;
            break;
        case SCN_FAULT_DISK:
            f->disk_op = (enum scn_disk_op)(i % 6);
            f->disk_error = (enum scn_disk_error)(i % 2);
            f->disk_times = (uint32_t)(i % 3);
            break;
        case SCN_FAULT_CLOCK_SKEW:
        case SCN_FAULT_CLOCK_JUMP:
            f->clock_ns = (i % 2 ? -1 : 1) * (int64_t)((i * 1000 + 1) * NS_PER_MS);
            break;
        default:
            break;
        }
    }
    s.fault_count = SCN_FAULTS_MAX;
    snprintf(s.checks[0], SCN_NODE_MAX, "I-IDEM-2");
    s.check_count = 1;
    assert_round_trip(&s);
}

/* A small deterministic PRNG (xorshift64*) for the randomized round trip. */
static uint64_t rng_next(uint64_t *x) {
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ULL;
}
static uint64_t rng_below(uint64_t *x, uint64_t n) { return rng_next(x) % n; }

static const char *const known_checks[] = {"I-REPL-1", "I-REPL-2", "I-LOG-1", "I-LOG-2",
                                           "I-GRP-4",  "I-IDEM-2", "I-TXN-1", "I-LIVE-3"};

/* A random scenario the language can express, as swarm would draw one. */
static void random_scenario(uint64_t seed, struct scenario *s) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    scn_defaults(s);
    snprintf(s->name, sizeof(s->name), "swarm-%" PRIu64, seed);
    s->has_seed = rng_below(&x, 2) == 0;
    if (s->has_seed) s->seed = rng_next(&x);
    static const uint64_t units[] = {1, NS_PER_US, NS_PER_MS, NS_PER_S};
    s->duration_ns = (1 + rng_below(&x, 600)) * units[rng_below(&x, 4)] * 1000;
    s->brokers = (int32_t)(1 + rng_below(&x, SCN_BROKERS_MAX));
    s->controllers = (int32_t)rng_below(&x, SCN_CONTROLLERS_MAX + 1);
    s->config_count = rng_below(&x, 6);
    for (size_t i = 0; i < s->config_count; i++) {
        struct scn_broker_config *c = &s->configs[i];
        if (rng_below(&x, 2))
            snprintf(c->node, sizeof(c->node), "all");
        else
            snprintf(c->node, sizeof(c->node), "n%d",
                     (int)(1 + rng_below(&x, (uint64_t)s->brokers)));
        snprintf(c->kv.key, sizeof(c->kv.key), "key.%d", (int)rng_below(&x, 5));
        snprintf(c->kv.value, sizeof(c->kv.value), "%" PRIu64, rng_below(&x, 100000));
    }
    s->topic_count = 1 + rng_below(&x, 4);
    for (size_t i = 0; i < s->topic_count; i++) {
        struct scn_topic *t = &s->topics[i];
        snprintf(t->name, sizeof(t->name), "topic-%zu", i);
        t->partitions = (int32_t)(1 + rng_below(&x, 64));
        t->replication = (int32_t)(1 + rng_below(&x, (uint64_t)s->brokers));
        t->config_count = rng_below(&x, 3);
        for (size_t j = 0; j < t->config_count; j++) {
            snprintf(t->configs[j].key, sizeof(t->configs[j].key), "cleanup.policy");
            snprintf(t->configs[j].value, sizeof(t->configs[j].value), "compact,delete");
        }
    }
    s->workload_count = 1 + rng_below(&x, 6);
    for (size_t i = 0; i < s->workload_count; i++) {
        struct scn_workload *w = &s->workloads[i];
        const struct scn_topic *t = &s->topics[rng_below(&x, s->topic_count)];
        snprintf(w->topic, sizeof(w->topic), "%s", t->name);
        w->kind = rng_below(&x, 2) ? SCN_PRODUCER : SCN_CONSUMER;
        snprintf(w->name, sizeof(w->name), "%s%u", w->kind == SCN_PRODUCER ? "p" : "c",
                 (unsigned)(i % 100)); /* i < 6: the modulo only tells gcc the width. */
        w->start_ns = rng_below(&x, 2) ? 0 : rng_below(&x, s->duration_ns);
        w->stop_ns = rng_below(&x, 2) ? 0 : w->start_ns + 1 + rng_below(&x, 1000);
        if (w->kind == SCN_PRODUCER) {
            w->acks = (int32_t)rng_below(&x, 3) - 1;
            w->rate_per_s = (uint32_t)(1 + rng_below(&x, 10000));
            w->count = rng_below(&x, 3) ? rng_below(&x, 100000) : 0;
            w->keys = (uint32_t)rng_below(&x, 100);
            w->value_bytes = (uint32_t)(8 + rng_below(&x, 4096));
            w->idempotent = rng_below(&x, 2);
            if (w->idempotent && rng_below(&x, 2)) {
                snprintf(w->transactional_id, sizeof(w->transactional_id), "tx-%zu", i);
            }
        } else {
            w->isolation = rng_below(&x, 2) ? SCN_READ_COMMITTED : SCN_READ_UNCOMMITTED;
            if (rng_below(&x, 2)) {
                snprintf(w->group, sizeof(w->group), "g%d", (int)rng_below(&x, 3));
            } else {
                w->assign_count = 1 + rng_below(&x, MIN((uint64_t)t->partitions, 8));
                for (size_t j = 0; j < w->assign_count; j++) {
                    w->assign[j] = (int32_t)rng_below(&x, (uint64_t)t->partitions);
                }
            }
        }
    }
    s->fault_count = rng_below(&x, 40);
    uint64_t at = 0;
    for (size_t i = 0; i < s->fault_count; i++) {
        struct scn_fault *f = &s->faults[i];
        at += rng_below(&x, s->duration_ns / 40 + 1);
        f->at_ns = MIN(at, s->duration_ns);
        f->kind = (enum scn_fault_kind)rng_below(&x, SCN_FAULT_KIND_COUNT);
        snprintf(f->a, sizeof(f->a), "n%d", (int)(1 + rng_below(&x, (uint64_t)s->brokers)));
        bool link = f->kind == SCN_FAULT_PARTITION || f->kind == SCN_FAULT_SLOW ||
                    f->kind == SCN_FAULT_HEAL || f->kind == SCN_FAULT_ISOLATE;
        if (link && rng_below(&x, 3) == 0) {
            snprintf(f->a, sizeof(f->a), "%s", s->workloads[rng_below(&x, s->workload_count)].name);
        }
        bool two_ends =
            f->kind == SCN_FAULT_PARTITION ||
            ((f->kind == SCN_FAULT_SLOW || f->kind == SCN_FAULT_HEAL) && rng_below(&x, 2));
        if (two_ends) {
            if (s->controllers > 0 && rng_below(&x, 2)) {
                snprintf(f->b, sizeof(f->b), "q%d",
                         (int)(1 + rng_below(&x, (uint64_t)s->controllers)));
            } else {
                snprintf(f->b, sizeof(f->b), "%s",
                         s->workloads[rng_below(&x, s->workload_count)].name);
            }
            if (strcmp(f->a, f->b) == 0) snprintf(f->a, sizeof(f->a), "n1");
            f->one_way = f->kind == SCN_FAULT_PARTITION && rng_below(&x, 2);
        }
        if (f->kind == SCN_FAULT_HEAL && !two_ends && rng_below(&x, 2)) {
            snprintf(f->a, sizeof(f->a), "all");
        }
        if (f->kind == SCN_FAULT_CRASH) f->crash_mode = (enum scn_crash_mode)rng_below(&x, 4);
        if (f->kind == SCN_FAULT_SLOW) {
            f->latency_ns = rng_below(&x, 2) ? 1 + rng_below(&x, 5 * NS_PER_S) : 0;
            f->bandwidth_bps =
                f->latency_ns == 0 || rng_below(&x, 2) ? 1 + rng_below(&x, 1u << 20) : 0;
        }
        if (f->kind == SCN_FAULT_DISK) {
            f->disk_op = (enum scn_disk_op)rng_below(&x, 6);
            f->disk_error = (enum scn_disk_error)rng_below(&x, 2);
            f->disk_times = (uint32_t)rng_below(&x, 4);
        }
        if (f->kind == SCN_FAULT_CLOCK_SKEW || f->kind == SCN_FAULT_CLOCK_JUMP) {
            f->clock_ns = (int64_t)(rng_below(&x, 10000) * NS_PER_MS) * (rng_below(&x, 2) ? 1 : -1);
        }
    }
    s->check_count = rng_below(&x, ARRAY_LEN(known_checks) + 1);
    for (size_t i = 0; i < s->check_count; i++) {
        snprintf(s->checks[i], SCN_NODE_MAX, "%s", known_checks[i]);
    }
    if (s->check_count > 0) {
        s->catch_count = rng_below(&x, SCN_CATCHES_MAX + 1);
        for (size_t i = 0; i < s->catch_count; i++) {
            snprintf(s->catches[i].mutant, sizeof(s->catches[i].mutant), "mutant-%zu", i);
            snprintf(s->catches[i].invariant, sizeof(s->catches[i].invariant), "%s",
                     s->checks[rng_below(&x, s->check_count)]);
        }
    }
    if (s->check_count > 0 && rng_below(&x, 2)) {
        s->expect = SCN_EXPECT_VIOLATION;
        snprintf(s->expect_invariant, sizeof(s->expect_invariant), "%s",
                 s->checks[rng_below(&x, s->check_count)]);
    }
}

/* What swarm relies on, over many random scenarios: print, parse, get the same back. */
static void test_round_trip_random(void **state) {
    (void)state;
    static struct scenario s;
    size_t faults = 0;
    for (uint64_t seed = 1; seed <= 500; seed++) {
        random_scenario(seed, &s);
        assert_round_trip(&s);
        faults += s.fault_count;
    }
    assert_true(faults > 500 * 10); /* The generator really exercises the fault schedule. */
    if (getenv("SCN_PEEK") != NULL) fputs(print_buf, stderr);
}

/* Every bundled scenario parses and round-trips. */
static void test_bundled_scenarios(void **state) {
    (void)state;
    const char *dir_path = TRIAL_SOURCE_DIR "/scenarios";
    DIR *dir = opendir(dir_path);
    assert_non_null(dir);
    int files = 0;
    for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".scn") != 0) continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir_path, e->d_name);
        static struct scenario s;
        char err[256];
        int rc = scn_parse_file(path, &s, err, sizeof(err));
        if (rc != 0) fprintf(stderr, "%s\n", err);
        assert_int_equal(rc, 0);
        assert_true(s.check_count > 0);
        assert_round_trip(&s);
        files++;
    }
    closedir(dir);
    assert_true(files >= 5);
}

/* The examples in docs/SCENARIOS.md parse: the documentation cannot drift from the parser. */
static void test_doc_examples(void **state) {
    (void)state;
    FILE *f = fopen(TRIAL_SOURCE_DIR "/docs/SCENARIOS.md", "r");
    assert_non_null(f);
    static char block[16 * 1024];
    char line[1024];
    size_t used = 0;
    bool in_block = false;
    int examples = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "```", 3) == 0) {
            if (in_block && strncmp(block, "scenario ", 9) == 0) {
                static struct scenario s;
                char err[256];
                int rc = scn_parse(block, used, "SCENARIOS.md example", &s, err, sizeof(err));
                if (rc != 0) fprintf(stderr, "%s\n", err);
                assert_int_equal(rc, 0);
                assert_round_trip(&s);
                examples++;
            }
            in_block = !in_block;
            used = 0;
            block[0] = '\0';
            continue;
        }
        if (in_block) {
            size_t n = strlen(line);
            assert_true(used + n < sizeof(block));
            memcpy(block + used, line, n + 1);
            used += n;
        }
    }
    fclose(f);
    assert_true(examples >= 2);
}

struct bad_case {
    const char *text;
    int rc;
    const char *message; /* Must appear in the error, which starts with "t.scn:LINE:". */
};

static void test_errors_name_the_line(void **state) {
    (void)state;
    static const struct bad_case cases[] = {
        {"scenario x\nfrobnicate\n", -EINVAL, "t.scn:2: unknown statement 'frobnicate'"},
        {"scenario x\nat 5 crash n1\n", -EINVAL, "t.scn:2: bad time '5'"},
        {"scenario x\nat 5s crsh n1\n", -EINVAL, "t.scn:2: unknown fault 'crsh'"},
        {"scenario x\nat 5s crash n2\n", -EINVAL, "t.scn:2: no node 'n2'"},
        {"scenario x\nat 5s crash n1 gently\n", -EINVAL, "t.scn:2: unknown crash mode 'gently'"},
        {"scenario x\nat 5s crash n1\nat 4s restart n1\n", -EINVAL,
         "t.scn:3: faults must be in time order"},
        {"scenario x\nduration 10s\n\nat 11s crash n1\n", -EINVAL,
         "t.scn:4: fault after the end of the run"},
        {"scenario x\nproducer p1 topic nope\n", -EINVAL, "t.scn:2: unknown topic 'nope'"},
        {"scenario x\ntopic t\nproducer p1 topic t acks 2\n", -EINVAL,
         "t.scn:3: acks must be all, -1, 0 or 1"},
        {"scenario x\ntopic t\nconsumer c1 topic t\n", -EINVAL,
         "t.scn:3: consumer 'c1' needs exactly one of"},
        {"scenario x\ntopic t partitions 2\nconsumer c1 topic t assign 0,2\n", -EINVAL,
         "t.scn:3: topic 't' has no partition 2"},
        {"scenario x\ntopic t\nproducer n1 topic t\n", -EINVAL, "t.scn:3: 'n1' is a node name"},
        {"scenario x\ntopic t replication 2\n", -EINVAL, "t.scn:2: replication 2 exceeds"},
        {"scenario x\ncheck I-REPL-12\n", -EINVAL, "t.scn:2: unknown invariant 'I-REPL-12'"},
        {"scenario x\ncheck I-REPL-1\nexpect violation I-LOG-2\n", -EINVAL,
         "t.scn:3: expects a violation of I-LOG-2 but no 'check' line runs it"},
        {"scenario x\nat 1s disk n1 fsync eagain\n", -EINVAL, "t.scn:2: unknown disk error"},
        {"scenario x\nat 1s clock n1 skew 5\n", -EINVAL, "t.scn:2: bad clock amount '5'"},
        {"scenario x\ncatches m1 I-LOG-1\ncheck I-REPL-1\n", -EINVAL,
         "t.scn:2: catches m1 by I-LOG-1 but no 'check' line runs it"},
        {"scenario x\ncheck I-LOG-1\ncatches m1 I-LOG-1\ncatches m1 I-LOG-1\n", -EINVAL,
         "t.scn:4: mutant 'm1' already listed on line 3"},
        {"scenario x\ncatches m1\n", -EINVAL, "t.scn:2: expected 'catches MUTANT I-XXX-N'"},
        {"scenario x\nat 1s clock n1 jump +1500us\n", -EINVAL,
         "t.scn:2: clock amount '+1500us' is not whole milliseconds"},
        {"scenario x\nat 1s slow n1\n", -EINVAL, "t.scn:2: 'slow' needs"},
        {"scenario x\nat 1s partition n1 n1\n", -EINVAL, "t.scn:2: a link needs two different"},
        {"scenario x\nbroker n1 flush\n", -EINVAL, "t.scn:2: expected key=value, got 'flush'"},
        {"seed 1\n", -EINVAL, "t.scn:1: missing 'scenario NAME' line"},
        {"scenario x\nscenario y\n", -EINVAL, "t.scn:2: second 'scenario' line"},
        {"scenario x\ncluster brokers 17\n", -EINVAL, "t.scn:2: brokers must be 1..16"},
        {"scenario x\ntopic t\nproducer p1 topic t transactional t1\n", -EINVAL,
         "t.scn:3: a transactional producer must also be 'idempotent'"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        static struct scenario s;
        char err[256];
        int rc = scn_parse(cases[i].text, strlen(cases[i].text), "t.scn", &s, err, sizeof(err));
        if (rc != cases[i].rc || strstr(err, cases[i].message) == NULL) {
            fprintf(stderr, "case %zu: rc %d, error '%s', wanted '%s'\n", i, rc, err,
                    cases[i].message);
        }
        assert_int_equal(rc, cases[i].rc);
        assert_non_null(strstr(err, cases[i].message));
    }
}

static void test_bounds_refused(void **state) {
    (void)state;
    /* One fault more than the bound. */
    size_t cap = 64 + (SCN_FAULTS_MAX + 1) * 24;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "scenario big\n");
    for (int i = 0; i <= SCN_FAULTS_MAX; i++) {
        n += (size_t)snprintf(text + n, cap - n, "at 1s crash n1\n");
    }
    static struct scenario s;
    char err[256];
    assert_int_equal(scn_parse(text, n, "big.scn", &s, err, sizeof(err)), -E2BIG);
    assert_non_null(strstr(err, "big.scn:258: more than 256 faults"));
    free(text);

    /* A line over the limit. */
    char line[SCN_LINE_MAX + 32];
    memset(line, 'a', sizeof(line));
    memcpy(line, "scenario x\n", 11);
    assert_int_equal(scn_parse(line, sizeof(line), "long.scn", &s, err, sizeof(err)), -E2BIG);
    assert_non_null(strstr(err, "long.scn:2: line longer than"));

    /* A tiny error buffer is still NUL-terminated. */
    char tiny[8];
    assert_int_equal(scn_parse("bogus\n", 6, "t.scn", &s, tiny, sizeof(tiny)), -EINVAL);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

static void test_missing_file(void **state) {
    (void)state;
    static struct scenario s;
    char err[256];
    assert_int_equal(scn_parse_file("/nonexistent/x.scn", &s, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/x.scn"));
}

static void test_invariant_names_and_durations(void **state) {
    (void)state;
    assert_true(scn_invariant_known("I-REPL-1"));
    assert_true(scn_invariant_known("I-REPL-11"));
    assert_false(scn_invariant_known("I-REPL-0"));
    assert_false(scn_invariant_known("I-REPL-12"));
    assert_true(scn_invariant_known("I-LIVE-3"));
    assert_false(scn_invariant_known("I-LIVE-4"));
    assert_false(scn_invariant_known("I-FOO-1"));
    assert_false(scn_invariant_known("REPL-1"));
    assert_false(scn_invariant_known("I-REPL-1x"));
    char d[32];
    scn_duration_format(0, d, sizeof(d));
    assert_string_equal(d, "0s");
    scn_duration_format(1500 * NS_PER_MS, d, sizeof(d));
    assert_string_equal(d, "1500ms");
    scn_duration_format(3 * NS_PER_S, d, sizeof(d));
    assert_string_equal(d, "3s");
    scn_duration_format(7, d, sizeof(d));
    assert_string_equal(d, "7ns");
    /* The printer's size contract: the needed length even when the buffer is short. */
    static struct scenario s;
    parse_ok(full_text, &s);
    size_t need = scn_print(&s, NULL, 0);
    char small[16];
    assert_int_equal(scn_print(&s, small, sizeof(small)), need);
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_every_statement),
        cmocka_unit_test(test_round_trip_full),
        cmocka_unit_test(test_round_trip_built_in_code),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_bundled_scenarios),
        cmocka_unit_test(test_doc_examples),
        cmocka_unit_test(test_errors_name_the_line),
        cmocka_unit_test(test_bounds_refused),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_invariant_names_and_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
