/*
 * bench_harness.c — how fast the harness runs real scenarios (the broker, clients, faults,
 * checkers): BENCHMARKS.md P7 (simulated seconds per wall second) and P8 (swarm seeds per
 * hour per core, 30-simulated-second runs). One core: everything runs in this process,
 * one scenario after another. Five rounds; the median is printed, one figure per line:
 *   name value unit target T ratio R
 *
 * P7 is measured as BENCHMARKS.md defines it: 3 brokers that are also the 3 controller
 * voters (`cluster brokers 3`), a topic with RF=3, one producer at 1000 records/s acks=all
 * and a consumer, 60 simulated seconds, no faults. The same workload with a 3-node dedicated
 * quorum (`cluster brokers 3 controllers 3`) and on a single broker (RF=1) are printed as
 * same-run references, so a change in the harness shows up apart from a change in the
 * cluster code. P8 draws swarm scenarios (sim/harness/swarm.h), stretches each to 30
 * simulated seconds, and runs each in a child process as `trial swarm` does.
 *
 *   bench_harness [p8_seeds]      (default 20; 0 skips P8)
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/harness/harness.h"
#include "sim/harness/swarm.h"
#include "sim/scenario/scenario.h"

#define ROUNDS   5
#define NS_PER_S 1000000000ULL

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The three P7 workloads differ only in the cluster line and the replication factor. */
#define P7_BODY(cluster, rf, isr)                                                                \
    "seed 1\n"                                                                                \
    "duration 60s\n" cluster "\n"                                                             \
    "broker all min.insync.replicas=" isr "\n"                                               \
    "topic t1 partitions 3 replication " rf "\n"                                              \
    "producer p1 topic t1 acks all rate 1000/s keys 64 value-bytes 100\n"                     \
    "consumer c1 topic t1 assign 0,1,2\n"                                                     \
    "expect pass\n"

enum { P7_COMBINED, P7_DEDICATED, P7_SINGLE, P7_COUNT };

static const char *const p7_texts[P7_COUNT] = {
    "scenario bench-p7-combined\n" P7_BODY("cluster brokers 3", "3", "2"),
    "scenario bench-p7-dedicated\n" P7_BODY("cluster brokers 3 controllers 3", "3", "2"),
    "scenario bench-p7-single\n" P7_BODY("cluster brokers 1", "1", "1"),
};

static const char *const p7_names[P7_COUNT] = {"3brokers_combined_quorum_rf3",
                                               "3brokers_3controllers_rf3", "1broker_rf1"};

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv) {
    int seeds = argc > 1 ? atoi(argv[1]) : 20;
    if (seeds < 0 || seeds > 100000) {
        fprintf(stderr, "usage: bench_harness [p8_seeds 0..100000]\n");
        return 2;
    }
    struct scenario p7[P7_COUNT];
    for (int k = 0; k < P7_COUNT; k++) {
        char err[512];
        if (scn_parse(p7_texts[k], strlen(p7_texts[k]), "bench-p7", &p7[k], err, sizeof(err)) !=
            0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    }
    double sim_per_wall[P7_COUNT][ROUNDS], events_per_s[P7_COUNT][ROUNDS];
    double seeds_per_hour[ROUNDS];
    uint64_t events[P7_COUNT] = {0};
    int failures = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < P7_COUNT; k++) {
            struct harness_options o = {.quiet = true};
            struct harness_result r;
            double t0 = now_s();
            if (harness_run(&p7[k], &o, &r) != HARNESS_EXIT_PASS) failures++;
            double el = now_s() - t0;
            sim_per_wall[k][round] = (double)r.virtual_ns / 1e9 / el;
            events_per_s[k][round] = (double)r.events / el;
            events[k] = r.events;
        }
        if (seeds == 0) {
            seeds_per_hour[round] = 0;
            continue;
        }
        double t0 = now_s();
        for (int i = 0; i < seeds; i++) {
            struct scenario s;
            struct harness_result r;
            swarm_generate((uint64_t)(round * seeds + i + 1), &s);
            s.duration_ns = 30 * NS_PER_S; /* Faults stay inside: they were drawn for less. */
            struct harness_options so = {.quiet = true};
            /* In a child: a seed that crashes the system (a bug the swarm finds) must not
             * end the benchmark. The fork is part of what a swarm seed costs. */
            if (harness_run_isolated(&s, &so, &r) != HARNESS_EXIT_PASS) failures++;
        }
        double el = now_s() - t0;
        seeds_per_hour[round] = (double)seeds / el * 3600.0;
    }
    double ref = median(sim_per_wall[P7_SINGLE], ROUNDS);
    for (int k = 0; k < P7_COUNT; k++) {
        double v = median(sim_per_wall[k], ROUNDS);
        if (k == P7_SINGLE)
            printf("harness_p7_sim_s_per_wall_s_%s %.1f x target 200 ratio %.2f\n", p7_names[k], v,
                   v / 200.0);
        else
            printf("harness_p7_sim_s_per_wall_s_%s %.1f x target 200 ratio %.2f ref "
                   "1broker_rf1 %.1f ratio %.2f\n",
                   p7_names[k], v, v / 200.0, ref, v / ref);
    }
    for (int k = 0; k < P7_COUNT; k++)
        printf("harness_p7_events_per_wall_s_%s %.0f events/s (%" PRIu64 " events per run)\n",
               p7_names[k], median(events_per_s[k], ROUNDS), events[k]);
    if (seeds > 0) {
        double v = median(seeds_per_hour, ROUNDS);
        printf("harness_p8_seeds_per_hour_one_core_30s %.0f seeds/h target 3600 ratio %.2f\n", v,
               v / 3600.0);
    }
    if (failures > 0) printf("harness_runs_failed %d (the numbers above include them)\n", failures);
    return 0;
}
