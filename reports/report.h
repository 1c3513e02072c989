/*
 * report.h — violation reports: what a person (report.txt, report.html) or a tool
 * (report.json) needs to understand and reproduce a failed invariant.
 *
 * report_write() takes one checker result plus everything the run knows — the client
 * history, the trace, the scenario (its fault schedule), each node's log state, the seed and
 * the one-line reproduction command — and writes a directory:
 *
 *   report.txt      the violation, evidence, reproduction, fault schedule, leadership
 *                   (raft_leader, and become_leader / unclean_election of the partition), log
 *                   states and
 *                   a trace excerpt, for the terminal;
 *   report.json     the same facts for tools (docs/REPORTS.md describes every key);
 *   report.html     the same for people, with two Graphviz pictures embedded as inline SVG:
 *                   a space-time diagram (one lane per node or client, messages as arrows,
 *                   faults marked) of the events around the violation, and each node's log
 *                   (batches by offset range and leader epoch, HW/LEO marks);
 *   spacetime.dot, logs.dot (+ .svg)  the diagram sources and renderings;
 *   scenario.scn    the scenario as scn_print() writes it, when one was given, so the
 *                   report directory alone reproduces the run.
 *
 * Rendering runs `dot -Tsvg` as a child process (reports/ lives outside system/ and may use
 * POSIX and files directly). Without Graphviz the report is still written; the HTML then
 * shows the .dot source and `graphviz_ok` is false. Output is deterministic: the same input
 * gives byte-identical .txt, .json and .dot files.
 */
#ifndef TRIAL_REPORTS_REPORT_H
#define TRIAL_REPORTS_REPORT_H

#include "checkers/check.h"
#include "checkers/history.h"
#include "checkers/log_image.h"
#include "checkers/trace.h"
#include "sim/scenario/scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPORT_EXCERPT_EVENTS_DEFAULT 40 /* Trace events in the excerpt. */
#define REPORT_DIAGRAM_ITEMS_MAX      80 /* Events, ops and faults drawn in the diagram. */
#define REPORT_LOG_BATCHES_DRAWN_MAX  24 /* Batches per log in the picture (the last ones). */
#define REPORT_LANES_MAX              48
#define REPORT_LEADERSHIP_MAX         32 /* Leadership events listed in report.txt. */

struct report_input {
    const struct check_result *result; /* Required: the violation (or a pass, for tests). */
    const struct history *history;     /* May be NULL. */
    const struct trace *trace;         /* May be NULL. */
    const struct scenario *scenario;   /* May be NULL; gives the fault schedule and lanes. */
    const struct li_log *logs;         /* Each node's log state; may be NULL. */
    size_t log_count;
    uint64_t seed;
    const char *repro_command; /* Required: "trial run scenarios/x.scn --seed 42". */
    /* Lane names of history processes: process_names[p] for process p. NULL or a short
     * array falls back to "proc<p>". */
    const char *const *process_names;
    size_t process_name_count;
    size_t excerpt_events;   /* 0 = REPORT_EXCERPT_EVENTS_DEFAULT. */
    const char *dot_program; /* NULL = "dot" from PATH. */
};

struct report_output {
    bool graphviz_ok;     /* Both SVGs were rendered. */
    size_t diagram_items; /* Items drawn in the space-time diagram. */
    size_t excerpt_count; /* Trace events in the excerpt. */
};

/*
 * Writes the report into `dir` (created if missing; existing report files are replaced).
 * Returns 0, or a negative errno with a message in err when a file cannot be written.
 * Graphviz failing is not an error (see graphviz_ok). `out` may be NULL.
 */
int report_write(const struct report_input *in, const char *dir, struct report_output *out,
                 char *err, size_t err_len);

#endif /* TRIAL_REPORTS_REPORT_H */
