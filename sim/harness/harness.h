/*
 * harness.h — runs one scenario (sim/scenario) in the simulated world and judges it.
 *
 * harness_run() builds the world from the scenario: N brokers running system/broker (the
 * same code as triald) on sim nodes n1..nN, an admin node that creates the topics, one sim
 * node per workload (system/client/producer or consumer) recording every operation in a
 * history (checkers/history.h), and the fault schedule as world events on the virtual
 * clock. At `duration` the workloads stop and every fault heals (links, pauses, disk faults,
 * crashed brokers restart); after a quiet period a verifying consumer reads every partition
 * from its log start to its high watermark. Then the checkers the scenario names run over
 * the history, the trace (every io_trace of every node, plus the faults) and the brokers'
 * disk images, and the verdict is computed against the scenario's `expect`.
 *
 * Exit codes (harness_exit_code, `trial run`, docs/HARNESS.md):
 *   0  pass: nothing violated, or exactly the expected violation happened
 *   1  an unexpected safety violation
 *   2  a liveness violation (I-LIVE-*: e.g. the final read could not finish)
 *   3  the system crashed (an ASSERT/abort in node code, or a broker failed to start
 *      after every fault had healed)
 *   4  `expect violation X` but X held (the checkers missed it)
 *   5  the scenario cannot run (usage, parse error, a feature the harness lacks)
 *
 * Deterministic: one seed gives the same trace hash, history and report bytes. The harness
 * is not system code: it uses the C allocator and files (reports), never in node callbacks'
 * decisions.
 */
#ifndef TRIAL_SIM_HARNESS_H
#define TRIAL_SIM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/scenario/scenario.h"

enum harness_exit {
    HARNESS_EXIT_PASS = 0,
    HARNESS_EXIT_SAFETY = 1,
    HARNESS_EXIT_LIVENESS = 2,
    HARNESS_EXIT_CRASH = 3,
    HARNESS_EXIT_MISSED = 4,
    HARNESS_EXIT_CANNOT_RUN = 5,
};

struct harness_options {
    uint64_t seed;
    bool has_seed;             /* Else the scenario's seed (or 1). */
    const char *mutant;        /* Deliberate bug to switch on, or NULL. */
    const char *scenario_path; /* For the reproduction line; NULL = "<name>.scn". */
    const char *report_dir;    /* Where a violation's report goes; NULL = no report. */
    bool verbose;              /* io_log lines to stderr. */
    bool quiet;                /* No summary lines on stdout (swarm). */
    /* For the harness's own tests of its exit codes: */
    bool no_heal;           /* Skip the final heal (a fault can then outlive the run). */
    const char *trace_dump; /* Write every trace event, one line each, to this file. */
    int sim_break;          /* enum sim_break: a deliberately broken sim contract. */
};

#define HARNESS_TEXT_MAX 512

struct harness_result {
    enum harness_exit exit_code;
    uint64_t seed;
    uint64_t trace_hash;
    uint64_t virtual_ns;     /* Simulated time covered. */
    uint64_t events;         /* Scheduler events run. */
    size_t ops;              /* History operations. */
    size_t produced_ok;      /* Produce ops acked. */
    size_t records_read;     /* Records in fetch ops of the scenario's consumers. */
    size_t records_verified; /* Records the final verifying read saw. */
    size_t violations;       /* Checkers that reported a violation. */
    bool report_written;
    char violated[64]; /* Space-separated invariants that were violated. */
    /* Losses the checkers excused because the scenario allows unclean elections, e.g.
     * "I-REPL-1 12 I-REPL-2 1" (invariant, count); empty when none. */
    char allowed[64];
    char summary[HARNESS_TEXT_MAX];
    char report_dir[HARNESS_TEXT_MAX];
};

/* Runs the scenario. Returns the exit code (also in result->exit_code). */
enum harness_exit harness_run(const struct scenario *scn, const struct harness_options *options,
                              struct harness_result *result);

/* Whether the harness can run the scenario; if not, a message in why. */
bool harness_supported(const struct scenario *scn, char *why, size_t why_len);

const char *harness_exit_name(enum harness_exit code);

/* Creates `path` and its missing parents (mkdir -p). 0 or -errno. */
int harness_mkdir_p(const char *path);

#endif /* TRIAL_SIM_HARNESS_H */
