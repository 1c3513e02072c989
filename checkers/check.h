/*
 * check.h — checkers v1: invariants of docs/INVARIANTS.md judged over the client history,
 * the trace and the disk images, each returning pass or a violation with its evidence.
 *
 *   I-REPL-1  no acked loss: an acks=all record, once acked, is at its offset with its value
 *             in every later read that covers that offset.
 *   I-REPL-2  one value per offset: no (topic, partition, offset) reads as two values.
 *   I-LOG-1   offsets strictly increase within and across segments; segment files are named
 *             by their base offset in 20 digits; index entries point at or before their
 *             target; the time index is non-decreasing.
 *   I-LOG-2   after a crash the recovered log is a CRC-valid prefix of what was appended and
 *             holds everything fsynced; recovery point <= LEO; HW checkpoint <= LEO.
 *   I-GRP-4   within one assignment a consumer's successive polls on a partition neither
 *             skip a record known to exist nor go back.
 *
 * The multi-node ones (check_cluster.c) read the trace events of docs/REPLICATION.md:
 *   I-REPL-3  log matching: two replicas' disk images hold the same batches below the
 *             smaller of their final HWs (each node's last `hw` event for the partition; the
 *             HW checkpoint if the node crashed after it); and after every crash, the log
 *             recovery left, below the HW the node had before the crash, matches every
 *             other replica's final image (skipped once an unclean election is traced).
 *   I-REPL-4  leader completeness: `become_leader`'s leo >= the highest HW any leader of the
 *             partition exposed before (`hw` with leader=1), reset by an `unclean_election`.
 *   I-REPL-5  no read above HW: `fetch_served` to a consumer (replica -1) ends at or below
 *             the serving replica's HW.
 *   I-REPL-6  monotonic HW: a leader's `hw` events never decrease within one leader epoch;
 *             and no replica truncates (`log_truncate`) below the last HW it applied unless
 *             it crashed or an unclean election came between (HW applied before truncating,
 *             KAFKA-14704).
 *   I-CTRL-1  one leader per (topic, partition, leader_epoch) over every node's
 *             `metadata_partition`; one state per partition epoch; leader epochs never
 *             decrease as the partition epoch rises.
 *   I-CTRL-2  one `raft_leader` per epoch; one `raft_vote` candidate per (voter, epoch).
 *   I-CTRL-3  `metadata_apply`: one (crc, epoch, type) per offset on every node.
 *
 * Every checker is a pure function of its input, deterministic (ties broken by op, event
 * or batch index, never by pointer), and reports the FIRST violation in a stable order
 * plus how many there were. Evidence cites history ops by index, trace events by index and
 * batches by (segment, position), with one-line descriptions reports print as they are.
 */
#ifndef TRIAL_CHECKERS_CHECK_H
#define TRIAL_CHECKERS_CHECK_H

#include "checkers/history.h"
#include "checkers/log_image.h"
#include "checkers/trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECK_EVIDENCE_MAX 16
#define CHECK_TEXT_MAX     320

enum check_evidence_kind {
    CHECK_EV_OP = 0, /* `index` is a history op index. */
    CHECK_EV_EVENT,  /* `index` is a trace event index. */
    CHECK_EV_BATCH,  /* `index` is a batch index across the log's segments. */
    CHECK_EV_NOTE,   /* Free text only. */
};

struct check_evidence {
    enum check_evidence_kind kind;
    size_t index;
    char text[CHECK_TEXT_MAX];
};

struct check_result {
    char invariant[16]; /* "I-REPL-1". */
    bool violated;
    size_t violation_count;           /* Distinct violations found; evidence is for the first. */
    size_t allowed_count;             /* Losses excused by an allowed unclean election. */
    size_t checked_count;             /* Items examined (acked records, offsets, batches, polls). */
    char summary[2 * CHECK_TEXT_MAX]; /* One or two sentences; "" on pass. */
    /* Where, when known ("" / -1 otherwise). */
    char node[LOG_IMAGE_NAME_MAX];
    char topic[LOG_IMAGE_NAME_MAX];
    int32_t partition;
    int64_t offset;
    uint64_t time_ns; /* Virtual time the violation was observed; 0 if unknown. */
    struct check_evidence evidence[CHECK_EVIDENCE_MAX];
    size_t evidence_count;
};

/* One crash to judge for I-LOG-2: the log recovered after it, and what preceded it. */
struct check_recovery {
    const struct li_log *recovered;
    const struct li_batch *appended; /* The log's batches just before the crash, in order. */
    size_t appended_count;
    int64_t synced_end_offset; /* Every offset below this was covered by a completed fsync. */
    uint64_t crash_ns;
};

/* Everything a run hands the checkers. Any pointer may be NULL when a run lacks it. */
struct check_input {
    const struct history *history;
    const struct trace *trace;
    const struct li_log *logs; /* Disk images for I-LOG-1 (every node, every partition). */
    size_t log_count;
    const struct check_recovery *recoveries; /* For I-LOG-2. */
    size_t recovery_count;
    bool unclean_allowed; /* The scenario set unclean.leader.election.enable=true. */
};

/* The checkers. Each fills *out completely (pass or violation). */
void check_no_acked_loss(const struct check_input *in, struct check_result *out);
void check_one_value_per_offset(const struct check_input *in, struct check_result *out);
/* I-IDEM-2: a record of an idempotent producer is read at one offset only (stored once). */
void check_idempotent_no_duplicates(const struct check_input *in, struct check_result *out);
void check_log_well_formed(const struct check_input *in, struct check_result *out);
void check_log_recovered(const struct check_input *in, struct check_result *out);
void check_monotonic_reads(const struct check_input *in, struct check_result *out);
void check_log_matching(const struct check_input *in, struct check_result *out);
void check_leader_completeness(const struct check_input *in, struct check_result *out);
void check_no_read_above_hw(const struct check_input *in, struct check_result *out);
void check_monotonic_hw(const struct check_input *in, struct check_result *out);
void check_one_leader_per_epoch(const struct check_input *in, struct check_result *out);
void check_one_raft_leader(const struct check_input *in, struct check_result *out);
void check_metadata_log_agrees(const struct check_input *in, struct check_result *out);

/* Runs the checker named `invariant`. 0, or -ENOENT when no checker implements it. */
int check_run(const char *invariant, const struct check_input *in, struct check_result *out);

/* The implemented invariant names, in a fixed order. */
size_t check_names(const char *const **names);
bool check_implemented(const char *invariant);

/* True for liveness invariants (I-LIVE-*), which `trial run` reports with their own exit
 * code; every other invariant is a safety property. */
bool check_is_liveness(const char *invariant);

/* How a run went against its scenario's expectation. */
enum check_verdict {
    CHECK_VERDICT_PASS = 0, /* As expected: nothing violated, or the expected violation. */
    CHECK_VERDICT_SAFETY,   /* A safety invariant was violated unexpectedly. */
    CHECK_VERDICT_LIVENESS, /* Only liveness invariants were violated unexpectedly. */
    CHECK_VERDICT_MISSED,   /* `expect violation X` but X held. */
};

/*
 * Judges the results of one run. `expected_violation` is NULL for `expect pass`, else the
 * invariant that must be violated (others may be violated too: a demonstration of one
 * failure often trips related invariants). *culprit gets the index of the result to report
 * (the first unexpected safety violation, else liveness, else the expected one), or
 * SIZE_MAX when there is none.
 */
enum check_verdict check_verdict(const struct check_result *results, size_t count,
                                 const char *expected_violation, size_t *culprit);

/* Helpers for the checkers (and tests): start a result, add evidence. */
void check_result_init(struct check_result *r, const char *invariant);
void check_add_evidence(struct check_result *r, enum check_evidence_kind kind, size_t index,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* TRIAL_CHECKERS_CHECK_H */
