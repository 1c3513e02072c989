/*
 * bench_sim.c — how fast the simulated world runs its own selftest workload (sim/selftest.h):
 * events per wall second and simulated seconds per wall second, the figures behind
 * BENCHMARKS.md's P7/P8. Runs seeds 1..N (default 8) five times and prints the median of
 * the five rounds, one figure per line: name value unit [target T ratio R].
 *
 *   bench_sim [seeds]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sim/selftest.h"

#define ROUNDS 5

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int seeds = argc > 1 ? atoi(argv[1]) : 8;
    if (seeds < 1 || seeds > 10000) {
        fprintf(stderr, "usage: bench_sim [seeds 1..10000]\n");
        return 2;
    }
    double events_per_s[ROUNDS];
    double sim_per_wall[ROUNDS];
    double seeds_per_hour[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t events = 0;
        uint64_t virtual_ns = 0;
        double start = now_s();
        for (int s = 1; s <= seeds; s++) {
            struct sim_selftest_options options = {.seed = (uint64_t)s, .quiet = true};
            struct sim_selftest_result result;
            if (sim_selftest_run(&options, &result) != 0) {
                fprintf(stderr, "bench_sim: selftest seed %d failed\n", s);
                return 1;
            }
            events += result.events;
            virtual_ns += result.virtual_ns;
        }
        double wall = now_s() - start;
        events_per_s[round] = (double)events / wall;
        sim_per_wall[round] = (double)virtual_ns / 1e9 / wall;
        seeds_per_hour[round] = (double)seeds / wall * 3600.0;
    }
    qsort(events_per_s, ROUNDS, sizeof(double), cmp_double);
    qsort(sim_per_wall, ROUNDS, sizeof(double), cmp_double);
    qsort(seeds_per_hour, ROUNDS, sizeof(double), cmp_double);
    int mid = ROUNDS / 2;
    printf("sim_selftest_events_per_s %.0f events/s\n", events_per_s[mid]);
    printf("sim_selftest_simulated_s_per_wall_s %.1f sim-s/s target 200 ratio %.2f\n",
           sim_per_wall[mid], sim_per_wall[mid] / 200.0);
    printf("sim_selftest_seeds_per_hour %.0f seeds/h target 3600 ratio %.2f\n", seeds_per_hour[mid],
           seeds_per_hour[mid] / 3600.0);
    return 0;
}
