/*
 * swarm.h — swarm testing: each seed draws a whole scenario (cluster shape, broker configs,
 * topics, workloads, fault schedule) and runs it; every failing seed is written out as a
 * standalone .scn that reproduces it without the generator, plus its report.
 *
 * Also here: running one scenario in a child process (harness_run_isolated), so an ASSERT
 * or crash inside the system under test becomes exit code 3 for that run instead of
 * killing the runner, and `trial mutants` (the mutant registry and its table).
 */
#ifndef TRIAL_SIM_HARNESS_SWARM_H
#define TRIAL_SIM_HARNESS_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/harness/harness.h"
#include "sim/scenario/scenario.h"

/* Runs harness_run in a forked child; a child killed by a signal is HARNESS_EXIT_CRASH. */
enum harness_exit harness_run_isolated(const struct scenario *scn,
                                       const struct harness_options *options,
                                       struct harness_result *result);

/* Draws the scenario of `seed` (deterministic: same seed, same scenario). The generator
 * only draws scenarios the system must pass: crashes that may lose unsynced writes only
 * when the flush policy syncs every message. */
void swarm_generate(uint64_t seed, struct scenario *out);

/* Which cluster shapes a seed may draw. ANY: one broker, or (once the harness runs
 * multi-node, about half the seeds) 2..5 brokers with 0 or 3 dedicated controllers,
 * replication 1..min(3, N), sometimes min.insync.replicas=2, quicker sessions or (rarely)
 * unclean elections, and faults on any server. SINGLE: always one broker. MULTI: always a
 * cluster. A seed that draws one broker draws the same scenario under ANY and SINGLE. */
enum swarm_shape { SWARM_SHAPE_ANY = 0, SWARM_SHAPE_SINGLE, SWARM_SHAPE_MULTI };
void swarm_generate_shaped(uint64_t seed, enum swarm_shape shape, struct scenario *out);

struct swarm_options {
    uint64_t first_seed;
    uint64_t last_seed;  /* Inclusive. */
    const char *out_dir; /* Failing seeds: DIR/seed-N.scn and DIR/seed-N/ (report). */
    unsigned jobs;       /* Child processes at once (>= 1). */
    bool progress;       /* A progress line on stderr. */
    const char *mutant;  /* Run every seed with this mutant on (NULL: none). */
    enum swarm_shape shape;
};

struct swarm_summary {
    uint64_t seeds;
    uint64_t failures;
    uint64_t by_exit[6];
    double wall_s;
    double virtual_s;
};

/* Runs every seed; returns 0 when all passed, else the number of failures. */
uint64_t swarm_run(const struct swarm_options *options, struct swarm_summary *summary);

/* --- Mutants ------------------------------------------------------------------------------ */

struct mutant_info {
    const char *name;
    const char *site;        /* Where the bug lives. */
    const char *description; /* What it breaks. */
};
/* The registry: every MUTANT() name in the system code. */
size_t mutants_registry(const struct mutant_info **out);

/* `trial mutants`: for each mutant, every scenario in the directories `dirs` with a
 * `catches` line for it, run with the mutant (must violate the named invariant) and
 * without (must pass). Prints a table to `out`. Returns the number of mutants that
 * survived or rows that failed. */
int mutants_run(const char *const *dirs, size_t dir_count, FILE *out);

#endif /* TRIAL_SIM_HARNESS_SWARM_H */
