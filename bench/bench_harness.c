/*
 * bench_harness.c — how fast the harness runs real scenarios (the broker, clients, faults,
 * checkers): BENCHMARKS.md P7 (simulated seconds per wall second) and P8 (swarm seeds per
 * hour per core, 30-simulated-second runs). One core: everything runs in this process,
 * one scenario after another. Five rounds; the median is printed, one figure per line:
 *   name value unit target T ratio R
 *
 * P7's target names 3 brokers and a controller quorum; the broker is single-node today, so
 * the P7 line measures 1 broker with a 1000 records/s producer and a consumer (the same
 * workload rate), and says so. P8 draws swarm scenarios (sim/harness/swarm.h), stretches
 * each to 30 simulated seconds, and runs each in a child process as `trial swarm` does.
 *
 *   bench_harness [p8_seeds]      (default 20)
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

static const char *const p7_text =
    "scenario bench-p7\n"
    "seed 1\n"
    "duration 30s\n"
    "cluster brokers 1\n"
    "broker all log.flush.interval.messages=1\n"
    "topic t1 partitions 3 replication 1\n"
    "producer p1 topic t1 acks all rate 1000/s keys 64 value-bytes 100\n"
    "consumer c1 topic t1 assign 0,1,2\n"
    "at 10s crash n1 torn\n"
    "at 11s restart n1\n"
    "check I-REPL-1 I-REPL-2 I-LOG-1 I-LOG-2 I-GRP-4\n"
    "expect pass\n";

int main(int argc, char **argv) {
    int seeds = argc > 1 ? atoi(argv[1]) : 20;
    if (seeds < 1 || seeds > 100000) {
        fprintf(stderr, "usage: bench_harness [p8_seeds 1..100000]\n");
        return 2;
    }
    struct scenario p7;
    char err[512];
    if (scn_parse(p7_text, strlen(p7_text), "bench-p7", &p7, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double sim_per_wall[ROUNDS], events_per_s[ROUNDS], seeds_per_hour[ROUNDS];
    int failures = 0;
    for (int round = 0; round < ROUNDS; round++) {
        struct harness_options o = {.quiet = true};
        struct harness_result r;
        double t0 = now_s();
        if (harness_run(&p7, &o, &r) != HARNESS_EXIT_PASS) failures++;
        double el = now_s() - t0;
        sim_per_wall[round] = (double)r.virtual_ns / 1e9 / el;
        events_per_s[round] = (double)r.events / el;

        t0 = now_s();
        for (int i = 0; i < seeds; i++) {
            struct scenario s;
            swarm_generate((uint64_t)(round * seeds + i + 1), &s);
            s.duration_ns = 30 * NS_PER_S; /* Faults stay inside: they were drawn for less. */
            struct harness_options so = {.quiet = true};
            /* In a child: a seed that crashes the system (a bug the swarm finds) must not
             * end the benchmark. The fork is part of what a swarm seed costs. */
            if (harness_run_isolated(&s, &so, &r) != HARNESS_EXIT_PASS) failures++;
        }
        el = now_s() - t0;
        seeds_per_hour[round] = (double)seeds / el * 3600.0;
    }
    qsort(sim_per_wall, ROUNDS, sizeof(double), cmp_double);
    qsort(events_per_s, ROUNDS, sizeof(double), cmp_double);
    qsort(seeds_per_hour, ROUNDS, sizeof(double), cmp_double);
    printf("harness_p7_sim_s_per_wall_s_1broker_1000rps %.1f x target 200 ratio %.2f\n",
           sim_per_wall[ROUNDS / 2], sim_per_wall[ROUNDS / 2] / 200.0);
    printf("harness_p7_events_per_wall_s %.0f events/s\n", events_per_s[ROUNDS / 2]);
    printf("harness_p8_seeds_per_hour_one_core_30s %.0f seeds/h target 3600 ratio %.2f\n",
           seeds_per_hour[ROUNDS / 2], seeds_per_hour[ROUNDS / 2] / 3600.0);
    if (failures > 0) printf("harness_runs_failed %d (the numbers above include them)\n", failures);
    return 0;
}
