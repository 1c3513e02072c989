/*
 * check_cluster.c — the multi-node invariants: I-REPL-3 (log matching), I-REPL-4 (leader
 * completeness), I-REPL-5 (no read above HW), I-REPL-6 (monotonic HW), I-CTRL-1 (one leader
 * per partition and leader epoch), I-CTRL-2 (one Raft leader per epoch) and I-CTRL-3 (every
 * node applies the same committed metadata log).
 *
 * They read only what docs/REPLICATION.md's trace-event table promises (raft_leader,
 * raft_vote, metadata_apply, metadata_partition, unclean_election, become_leader, hw,
 * fetch_served) plus the disk images, never a broker's private state: the checkers must not
 * share the system's bugs. Each collects the events it needs into a flat array, sorts it by
 * a key that ends in the event index (so ties never depend on anything but trace order),
 * and reports the first violation in that order plus how many there were.
 */
#include "checkers/check.h"

#include "base/base.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Shared helpers ------------------------------------------------------------------------ */

static int64_t ev_int(const struct trace_event *e, const char *key, int64_t missing) {
    int64_t v;
    return trace_get_int(e, key, &v) ? v : missing;
}

static const char *ev_str(const struct trace_event *e, const char *key) {
    const char *s = trace_get_str(e, key);
    return s != NULL ? s : "";
}

static bool ev_is(const struct trace_event *e, const char *name) {
    return strcmp(e->name, name) == 0;
}

static void cite_event(struct check_result *r, const struct trace_event *e) {
    char text[CHECK_TEXT_MAX];
    trace_describe_event(e, text, sizeof(text));
    check_add_evidence(r, CHECK_EV_EVENT, e->index, "%s", text);
}

static void set_where(struct check_result *r, const struct trace_event *e, const char *topic,
                      int32_t partition, int64_t offset) {
    snprintf(r->node, sizeof(r->node), "%s", e->node);
    snprintf(r->topic, sizeof(r->topic), "%s", topic);
    r->partition = partition;
    r->offset = offset;
    r->time_ns = e->time_ns;
}

/* The events named `name`, in trace order (a malloc'd array of pointers; *count set). */
static const struct trace_event **collect(const struct trace *t, const char *name, size_t *count) {
    *count = 0;
    if (t == NULL || t->count == 0) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        n += ev_is(&t->events[i], name) ? 1 : 0;
    if (n == 0) return NULL;
    const struct trace_event **out = malloc(n * sizeof(*out));
    ASSERT(out != NULL);
    size_t k = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (ev_is(&t->events[i], name)) out[k++] = &t->events[i];
    }
    ASSERT(k == n);
    *count = n;
    return out;
}

/* --- I-REPL-3: log matching ------------------------------------------------------------------ */

/* The final HW of `node` for the partition: its last `hw` event, unless the node crashed
 * after it (then the HW checkpoint on disk, the only HW that survived), else -1. */
static int64_t final_hw(const struct trace *t, const struct li_log *log) {
    int64_t hw = -1;
    bool stale = false;
    for (size_t i = 0; t != NULL && i < t->count; i++) {
        const struct trace_event *e = &t->events[i];
        if (ev_is(e, "hw") && strcmp(e->node, log->node) == 0 &&
            strcmp(ev_str(e, "topic"), log->topic) == 0 &&
            ev_int(e, "partition", -1) == log->partition) {
            hw = ev_int(e, "hw", -1);
            stale = false;
        } else if (ev_is(e, "fault") && strcmp(ev_str(e, "kind"), "crash") == 0 &&
                   strcmp(ev_str(e, "target"), log->node) == 0) {
            stale = true;
        }
    }
    if (stale || hw < 0) return log->hw_checkpoint;
    return hw;
}

static bool same_batch(const struct li_batch *a, const struct li_batch *b) {
    /* A batch whose CRC fails is not the batch its header claims to be. */
    return a->crc_valid && b->crc_valid && a->base_offset == b->base_offset &&
           a->last_offset == b->last_offset && a->epoch == b->epoch &&
           a->content_crc == b->content_crc &&
           (a->size_bytes == 0 || b->size_bytes == 0 || a->size_bytes == b->size_bytes);
}

/* Compares two replicas below `bound` from `start`: returns true and *where on a mismatch. */
static bool logs_differ(const struct li_log *a, const struct li_log *b, int64_t start,
                        int64_t bound, int64_t *where, size_t *ia_out, size_t *ib_out) {
    size_t na = li_log_batch_count(a), nb = li_log_batch_count(b);
    size_t ia = 0, ib = 0;
    for (size_t guard = 0; guard <= na + nb; guard++) {
        while (ia < na && li_log_batch(a, ia)->base_offset < start)
            ia++;
        while (ib < nb && li_log_batch(b, ib)->base_offset < start)
            ib++;
        const struct li_batch *x = ia < na ? li_log_batch(a, ia) : NULL;
        const struct li_batch *y = ib < nb ? li_log_batch(b, ib) : NULL;
        bool x_in = x != NULL && x->last_offset < bound;
        bool y_in = y != NULL && y->last_offset < bound;
        if (!x_in && !y_in) return false;
        *ia_out = ia;
        *ib_out = ib;
        if (!x_in || !y_in || !same_batch(x, y)) {
            *where = x_in && y_in ? MIN(x->base_offset, y->base_offset)
                                  : (x_in ? x->base_offset : y->base_offset);
            return true;
        }
        ia++;
        ib++;
    }
    return false;
}

static int cmp_log_ptr(const void *x, const void *y) {
    const struct li_log *a = *(const struct li_log *const *)x;
    const struct li_log *b = *(const struct li_log *const *)y;
    int c = strcmp(a->topic, b->topic);
    if (c != 0) return c;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    return strcmp(a->node, b->node);
}

/* Whether an unclean election of the partition was traced: committed records may change. */
static bool unclean_any(const struct trace *t, const char *topic, int32_t partition) {
    for (size_t i = 0; t != NULL && i < t->count; i++) {
        const struct trace_event *e = &t->events[i];
        if (ev_is(e, "unclean_election") && strcmp(ev_str(e, "topic"), topic) == 0 &&
            ev_int(e, "partition", -1) == partition)
            return true;
    }
    return false;
}

/* The last `hw` of `node` for the partition before `before_ns`, or -1. */
static int64_t hw_before(const struct trace *t, const char *node, const char *topic,
                         int32_t partition, uint64_t before_ns) {
    int64_t hw = -1;
    for (size_t i = 0; t != NULL && i < t->count && t->events[i].time_ns < before_ns; i++) {
        const struct trace_event *e = &t->events[i];
        if (ev_is(e, "hw") && strcmp(e->node, node) == 0 &&
            strcmp(ev_str(e, "topic"), topic) == 0 && ev_int(e, "partition", -1) == partition) {
            hw = ev_int(e, "hw", -1);
        }
    }
    return hw;
}

/* Compares replicas a and b (of one partition, on two nodes) below min(hw_a, hw_b, their
 * LEOs) and records a violation; `when` says which state of `a` this is. */
static void match_pair(struct check_result *out, const struct li_log *a, int64_t hw_a,
                       const struct li_log *b, int64_t hw_b, const char *when) {
    int64_t bound = MIN(MIN(hw_a, hw_b), MIN(li_log_end_offset(a), li_log_end_offset(b)));
    int64_t start = MAX(a->log_start_offset, b->log_start_offset);
    if (bound <= start) return;
    out->checked_count++;
    int64_t where = -1;
    size_t ia = 0, ib = 0;
    if (!logs_differ(a, b, start, bound, &where, &ia, &ib)) return;
    out->violated = true;
    if (out->violation_count++ > 0) return;
    snprintf(out->node, sizeof(out->node), "%s", b->node);
    snprintf(out->topic, sizeof(out->topic), "%s", a->topic);
    out->partition = a->partition;
    out->offset = where;
    snprintf(out->summary, sizeof(out->summary),
             "Replicas %s (%s) and %s of %s-%d differ at offset %" PRId64
             ", below the smaller of their high watermarks (%" PRId64 ", %" PRId64
             "): committed data must be identical on every replica.",
             a->node, when, b->node, a->topic, a->partition, where, hw_a, hw_b);
    const struct li_log *sides[2] = {a, b};
    size_t idx[2] = {ia, ib};
    for (int s = 0; s < 2; s++) {
        const struct li_log *l = sides[s];
        if (idx[s] < li_log_batch_count(l)) {
            const struct li_batch *x = li_log_batch(l, idx[s]);
            check_add_evidence(
                out, CHECK_EV_BATCH, idx[s], "%s: batch %" PRId64 "..%" PRId64 " epoch %d crc %08x",
                l->node, x->base_offset, x->last_offset, (int)x->epoch, (unsigned)x->content_crc);
        } else {
            check_add_evidence(out, CHECK_EV_NOTE, 0, "%s: no batch there (LEO %" PRId64 ")",
                               l->node, li_log_end_offset(l));
        }
    }
}

void check_log_matching(const struct check_input *in, struct check_result *out) {
    check_result_init(out, "I-REPL-3");
    if (in->logs == NULL || in->log_count == 0) return;
    const struct li_log **logs = malloc(in->log_count * sizeof(*logs));
    int64_t *hws = malloc(in->log_count * sizeof(*hws));
    ASSERT(logs != NULL && hws != NULL);
    for (size_t i = 0; i < in->log_count; i++)
        logs[i] = &in->logs[i];
    qsort(logs, in->log_count, sizeof(*logs), cmp_log_ptr);
    for (size_t i = 0; i < in->log_count; i++)
        hws[i] = final_hw(in->trace, logs[i]);
    /* At quiescence: every pair of final images. */
    for (size_t i = 0; i < in->log_count; i++) {
        for (size_t j = i + 1; j < in->log_count; j++) {
            const struct li_log *a = logs[i], *b = logs[j];
            if (strcmp(a->topic, b->topic) != 0 || a->partition != b->partition) break;
            if (strcmp(a->node, b->node) == 0) continue;
            match_pair(out, a, hws[i], b, hws[j], "final");
        }
    }
    /* After every crash: what recovery left below the HW the node had applied before the
     * crash against every other replica's final image (committed records never change). */
    for (size_t r = 0; r < in->recovery_count; r++) {
        const struct check_recovery *rec = &in->recoveries[r];
        const struct li_log *a = rec->recovered;
        if (a == NULL || unclean_any(in->trace, a->topic, a->partition)) continue;
        int64_t hw_a = hw_before(in->trace, a->node, a->topic, a->partition, rec->crash_ns);
        for (size_t j = 0; j < in->log_count; j++) {
            const struct li_log *b = logs[j];
            if (strcmp(a->topic, b->topic) != 0 || a->partition != b->partition) continue;
            if (strcmp(a->node, b->node) == 0) continue;
            match_pair(out, a, hw_a, b, hws[j], "recovered after its crash");
        }
    }
    free(hws);
    free(logs);
}

/* --- Events keyed by (topic, partition), in trace order --------------------------------------- */

struct tp_event {
    const char *topic;
    int32_t partition;
    int64_t key; /* Secondary key (epoch, offset, ...) or 0. */
    const struct trace_event *e;
};

/* (topic, partition, key, event index). */
static int cmp_tp_event(const void *x, const void *y) {
    const struct tp_event *a = x, *b = y;
    int c = strcmp(a->topic, b->topic);
    if (c != 0) return c;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->e->index > b->e->index) - (a->e->index < b->e->index);
}

static bool same_tp(const struct tp_event *a, const struct tp_event *b) {
    return a->partition == b->partition && strcmp(a->topic, b->topic) == 0;
}

/* --- I-REPL-4: leader completeness ---------------------------------------------------------- */

static bool is_repl4_event(const struct trace_event *e) {
    return ev_is(e, "become_leader") || ev_is(e, "unclean_election") ||
           (ev_is(e, "hw") && ev_int(e, "leader", 0) == 1);
}

void check_leader_completeness(const struct check_input *in, struct check_result *out) {
    check_result_init(out, "I-REPL-4");
    const struct trace *t = in->trace;
    if (t == NULL || t->count == 0) return;
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        n += is_repl4_event(&t->events[i]) ? 1 : 0;
    if (n == 0) return;
    struct tp_event *evs = malloc(n * sizeof(*evs));
    ASSERT(evs != NULL);
    size_t k = 0;
    for (size_t i = 0; i < t->count; i++) {
        const struct trace_event *e = &t->events[i];
        if (!is_repl4_event(e)) continue;
        evs[k++] = (struct tp_event){.topic = ev_str(e, "topic"),
                                     .partition = (int32_t)ev_int(e, "partition", -1),
                                     .key = 0,
                                     .e = e};
    }
    ASSERT(k == n);
    qsort(evs, n, sizeof(*evs), cmp_tp_event); /* Per partition, in trace order. */
    size_t first_bad = SIZE_MAX;
    int64_t first_true_hw = -1;
    size_t first_hw_event = SIZE_MAX;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int64_t true_hw = -1; /* The highest HW any leader exposed so far. */
        size_t true_hw_event = SIZE_MAX;
        for (; j < n && same_tp(&evs[i], &evs[j]); j++) {
            const struct trace_event *e = evs[j].e;
            if (ev_is(e, "unclean_election")) {
                /* An unclean leader may lack committed records: judge later leaders only
                 * against what was exposed after it. */
                out->allowed_count += true_hw > 0 ? 1 : 0;
                true_hw = -1;
                true_hw_event = SIZE_MAX;
            } else if (ev_is(e, "hw")) {
                int64_t hw = ev_int(e, "hw", -1);
                if (hw > true_hw) {
                    true_hw = hw;
                    true_hw_event = j;
                }
            } else {
                out->checked_count++;
                int64_t leo = ev_int(e, "leo", -1);
                if (leo >= true_hw) continue;
                out->violated = true;
                out->violation_count++;
                if (first_bad == SIZE_MAX || e->index < evs[first_bad].e->index) {
                    first_bad = j;
                    first_true_hw = true_hw;
                    first_hw_event = true_hw_event;
                }
            }
        }
        i = j;
    }
    if (first_bad != SIZE_MAX) {
        const struct tp_event *b = &evs[first_bad];
        int64_t leo = ev_int(b->e, "leo", -1);
        set_where(out, b->e, b->topic, b->partition, leo);
        snprintf(out->summary, sizeof(out->summary),
                 "%s became leader of %s-%d in epoch %" PRId64 " with log end offset %" PRId64
                 ", below the high watermark %" PRId64
                 " an earlier leader had exposed: committed records are missing from the new "
                 "leader.",
                 b->e->node, b->topic, b->partition, ev_int(b->e, "epoch", -1), leo, first_true_hw);
        cite_event(out, b->e);
        if (first_hw_event != SIZE_MAX) cite_event(out, evs[first_hw_event].e);
    }
    free(evs);
}

/* --- I-REPL-5: no read above HW ----------------------------------------------------------- */

void check_no_read_above_hw(const struct check_input *in, struct check_result *out) {
    check_result_init(out, "I-REPL-5");
    const struct trace *t = in->trace;
    for (size_t i = 0; t != NULL && i < t->count; i++) {
        const struct trace_event *e = &t->events[i];
        if (!ev_is(e, "fetch_served") || ev_int(e, "replica", -1) != -1) continue;
        out->checked_count++;
        int64_t offset = ev_int(e, "offset", -1), end = ev_int(e, "end", -1);
        int64_t hw = ev_int(e, "hw", -1);
        if (end <= offset || end <= hw) continue;
        out->violated = true;
        if (out->violation_count++ > 0) continue;
        const char *topic = ev_str(e, "topic");
        int32_t p = (int32_t)ev_int(e, "partition", -1);
        set_where(out, e, topic, p, hw);
        snprintf(out->summary, sizeof(out->summary),
                 "%s served a consumer %s-%d offsets %" PRId64 "..%" PRId64
                 " while its high watermark was %" PRId64
                 ": records at or above the high watermark are not committed and must not be "
                 "read.",
                 e->node, topic, p, offset, end - 1, hw);
        cite_event(out, e);
    }
}

/* --- I-REPL-6: monotonic HW on a leader within its epoch ----------------------------------- */

struct hw_event {
    const char *node;
    const char *topic;
    int32_t partition;
    int64_t epoch;
    const struct trace_event *e;
};

/* (node, topic, partition, epoch, event index). */
static int cmp_hw_event(const void *x, const void *y) {
    const struct hw_event *a = x, *b = y;
    int c = strcmp(a->node, b->node);
    if (c == 0) c = strcmp(a->topic, b->topic);
    if (c != 0) return c;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    if (a->epoch != b->epoch) return a->epoch < b->epoch ? -1 : 1;
    return (a->e->index > b->e->index) - (a->e->index < b->e->index);
}

static bool same_hw_key(const struct hw_event *a, const struct hw_event *b) {
    return a->partition == b->partition && a->epoch == b->epoch && strcmp(a->node, b->node) == 0 &&
           strcmp(a->topic, b->topic) == 0;
}

/* True when the trace holds an event named `name` in (from, to) (indices) that matches:
 * a crash of `node` (name "fault"), or an unclean election of (topic, partition). */
static bool event_between(const struct trace_event **evs, size_t n, size_t from, size_t to,
                          const char *node, const char *topic, int32_t partition) {
    for (size_t i = 0; i < n; i++) {
        const struct trace_event *e = evs[i];
        if (e->index <= from || e->index >= to) continue;
        if (node != NULL && strcmp(ev_str(e, "kind"), "crash") == 0 &&
            strcmp(ev_str(e, "target"), node) == 0)
            return true;
        if (topic != NULL && strcmp(ev_str(e, "topic"), topic) == 0 &&
            ev_int(e, "partition", -1) == partition)
            return true;
    }
    return false;
}

/*
 * The follower half of I-REPL-6 (KAFKA-14704): a replica must truncate to its divergence
 * point before it applies a leader's HW. Committed records are on every later leader
 * (I-REPL-4), so a replica's divergence point is never below the HW it applied correctly:
 * a `log_truncate` below the node's last `hw` for the partition means that HW covered
 * records it then found divergent. A crash of the node in between (recovery may cut an
 * unsynced tail) or an unclean election of the partition excuses it.
 */
static void check_truncate_below_hw(const struct trace *t, struct check_result *out) {
    size_t nh = 0, nt = 0, nf = 0, nu = 0;
    const struct trace_event **hws = collect(t, "hw", &nh);
    const struct trace_event **truncs = collect(t, "log_truncate", &nt);
    const struct trace_event **faults = collect(t, "fault", &nf);
    const struct trace_event **uncleans = collect(t, "unclean_election", &nu);
    struct hw_event *evs = malloc(MAX(nh + nt, 1u) * sizeof(*evs));
    ASSERT(evs != NULL);
    size_t k = 0;
    const struct trace_event **lists[2] = {hws, truncs};
    size_t counts[2] = {nh, nt};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < counts[l]; i++) {
            const struct trace_event *e = lists[l][i];
            evs[k++] = (struct hw_event){.node = e->node,
                                         .topic = ev_str(e, "topic"),
                                         .partition = (int32_t)ev_int(e, "partition", -1),
                                         .epoch = 0,
                                         .e = e};
        }
    }
    qsort(evs, k, sizeof(*evs), cmp_hw_event); /* Per (node, partition), in trace order. */
    const struct trace_event *bad = NULL, *bad_hw = NULL;
    const struct trace_event *last_hw = NULL;
    for (size_t i = 0; i < k; i++) {
        if (i > 0 && !same_hw_key(&evs[i - 1], &evs[i])) last_hw = NULL;
        const struct trace_event *e = evs[i].e;
        if (ev_is(e, "hw")) {
            last_hw = e;
            continue;
        }
        if (last_hw == NULL) continue;
        out->checked_count++;
        int64_t to = ev_int(e, "offset", -1), hw = ev_int(last_hw, "hw", -1);
        if (to >= hw) continue;
        if (event_between(faults, nf, last_hw->index, e->index, e->node, NULL, 0) ||
            event_between(uncleans, nu, last_hw->index, e->index, NULL, evs[i].topic,
                          evs[i].partition)) {
            continue;
        }
        out->violated = true;
        out->violation_count++;
        if (bad == NULL || e->index < bad->index) bad = e, bad_hw = last_hw;
    }
    if (bad != NULL && out->violation_count > 0 && out->summary[0] == '\0') {
        const char *topic = ev_str(bad, "topic");
        int32_t p = (int32_t)ev_int(bad, "partition", -1);
        set_where(out, bad, topic, p, ev_int(bad, "offset", -1));
        snprintf(out->summary, sizeof(out->summary),
                 "%s truncated %s-%d to offset %" PRId64 ", below the high watermark %" PRId64
                 " it had applied: it took a leader's HW over records it had not yet "
                 "truncated (apply the HW only after truncating to the divergence point).",
                 bad->node, topic, p, ev_int(bad, "offset", -1), ev_int(bad_hw, "hw", -1));
        cite_event(out, bad_hw);
        cite_event(out, bad);
    }
    free(evs);
    free(uncleans);
    free(faults);
    free(truncs);
    free(hws);
}

void check_monotonic_hw(const struct check_input *in, struct check_result *out) {
    check_result_init(out, "I-REPL-6");
    const struct trace *t = in->trace;
    size_t n = 0;
    const struct trace_event **hw = collect(t, "hw", &n);
    if (n == 0) return;
    struct hw_event *evs = malloc(n * sizeof(*evs));
    ASSERT(evs != NULL);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev_int(hw[i], "leader", 0) != 1) continue;
        evs[k++] = (struct hw_event){.node = hw[i]->node,
                                     .topic = ev_str(hw[i], "topic"),
                                     .partition = (int32_t)ev_int(hw[i], "partition", -1),
                                     .epoch = ev_int(hw[i], "epoch", -1),
                                     .e = hw[i]};
    }
    qsort(evs, k, sizeof(*evs), cmp_hw_event);
    size_t bad = SIZE_MAX, prev_of_bad = SIZE_MAX;
    for (size_t i = 0; i < k; i++) {
        out->checked_count++;
        if (i == 0 || !same_hw_key(&evs[i - 1], &evs[i])) continue;
        if (ev_int(evs[i].e, "hw", -1) >= ev_int(evs[i - 1].e, "hw", -1)) continue;
        out->violated = true;
        out->violation_count++;
        if (bad == SIZE_MAX || evs[i].e->index < evs[bad].e->index) {
            bad = i;
            prev_of_bad = i - 1;
        }
    }
    if (bad != SIZE_MAX) {
        const struct hw_event *b = &evs[bad];
        int64_t now = ev_int(b->e, "hw", -1), before = ev_int(evs[prev_of_bad].e, "hw", -1);
        set_where(out, b->e, b->topic, b->partition, now);
        snprintf(out->summary, sizeof(out->summary),
                 "Leader %s moved the high watermark of %s-%d back from %" PRId64 " to %" PRId64
                 " within leader epoch %" PRId64
                 ": a consumer may already have read the records it took back.",
                 b->node, b->topic, b->partition, before, now, b->epoch);
        cite_event(out, evs[prev_of_bad].e);
        cite_event(out, b->e);
    }
    free(evs);
    free(hw);
    check_truncate_below_hw(t, out);
}

/* --- I-CTRL-1: one leader per (partition, leader epoch); epochs never go back ------------- */

void check_one_leader_per_epoch(const struct check_input *in, struct check_result *out) {
    check_result_init(out, "I-CTRL-1");
    size_t n = 0;
    const struct trace_event **mp = collect(in->trace, "metadata_partition", &n);
    if (n == 0) return;
    struct tp_event *by_le = malloc(n * sizeof(*by_le));
    struct tp_event *by_pe = malloc(n * sizeof(*by_pe));
    ASSERT(by_le != NULL && by_pe != NULL);
    for (size_t i = 0; i < n; i++) {
        const char *topic = ev_str(mp[i], "topic");
        /* `partition` is an int in the event table; accept a string spelling too. */
        int64_t p = ev_int(mp[i], "partition", -1);
        if (p < 0 && trace_get_str(mp[i], "partition") != NULL)
            p = strtoll(trace_get_str(mp[i], "partition"), NULL, 10);
        by_le[i] = (struct tp_event){.topic = topic,
                                     .partition = (int32_t)p,
                                     .key = ev_int(mp[i], "leader_epoch", -1),
                                     .e = mp[i]};
        by_pe[i] = by_le[i];
        by_pe[i].key = ev_int(mp[i], "partition_epoch", -1);
    }
    qsort(by_le, n, sizeof(*by_le), cmp_tp_event);
    qsort(by_pe, n, sizeof(*by_pe), cmp_tp_event);
    const struct trace_event *first_a = NULL, *first_b = NULL;
    int first_kind = 0; /* 1 two leaders, 2 partition epoch disagrees, 3 epoch went back. */
    for (size_t i = 1; i < n; i++) {
        out->checked_count++;
        const struct tp_event *a = &by_le[i - 1], *b = &by_le[i];
        if (!same_tp(a, b) || a->key != b->key) continue;
        if (ev_int(a->e, "leader", -1) == ev_int(b->e, "leader", -1)) continue;
        out->violated = true;
        out->violation_count++;
        if (first_b == NULL || b->e->index < first_b->index) {
            first_a = a->e, first_b = b->e, first_kind = 1;
        }
    }
    /* The committed log orders a partition's records by partition epoch: the same partition
     * epoch must say the same thing everywhere, and leader epochs must not decrease along
     * it. Judged on the committed order, not per node, so a combined node's two appliers
     * (controller and broker) and replays after a restart do not confuse it. */
    for (size_t i = 1; i < n; i++) {
        const struct tp_event *a = &by_pe[i - 1], *b = &by_pe[i];
        if (!same_tp(a, b)) continue;
        int64_t lea = ev_int(a->e, "leader_epoch", -1), leb = ev_int(b->e, "leader_epoch", -1);
        int kind = 0;
        if (a->key == b->key) {
            if (lea != leb || ev_int(a->e, "leader", -1) != ev_int(b->e, "leader", -1) ||
                strcmp(ev_str(a->e, "isr"), ev_str(b->e, "isr")) != 0)
                kind = 2;
        } else if (leb < lea) {
            kind = 3;
        }
        if (kind == 0) continue;
        out->violated = true;
        out->violation_count++;
        if (first_b == NULL || b->e->index < first_b->index) {
            first_a = a->e, first_b = b->e, first_kind = kind;
        }
    }
    if (first_b != NULL) {
        const char *topic = ev_str(first_b, "topic");
        int32_t p = (int32_t)ev_int(first_b, "partition", -1);
        set_where(out, first_b, topic, p, -1);
        if (first_kind == 1) {
            snprintf(out->summary, sizeof(out->summary),
                     "Two leaders for %s-%d in leader epoch %" PRId64 ": %" PRId64 " (on %s) and "
                     "%" PRId64 " (on %s).",
                     topic, p, ev_int(first_b, "leader_epoch", -1), ev_int(first_a, "leader", -1),
                     first_a->node, ev_int(first_b, "leader", -1), first_b->node);
        } else if (first_kind == 2) {
            snprintf(out->summary, sizeof(out->summary),
                     "Partition epoch %" PRId64 " of %s-%d reads as two different states (on "
                     "%s and %s): the metadata log was applied differently.",
                     ev_int(first_b, "partition_epoch", -1), topic, p, first_a->node,
                     first_b->node);
        } else {
            snprintf(out->summary, sizeof(out->summary),
                     "The leader epoch of %s-%d went back from %" PRId64 " to %" PRId64
                     " as the partition epoch rose from %" PRId64 " to %" PRId64 ".",
                     topic, p, ev_int(first_a, "leader_epoch", -1),
                     ev_int(first_b, "leader_epoch", -1), ev_int(first_a, "partition_epoch", -1),
                     ev_int(first_b, "partition_epoch", -1));
        }
        cite_event(out, first_a);
        cite_event(out, first_b);
    }
    free(by_pe);
    free(by_le);
    free(mp);
}

/* --- I-CTRL-2: at most one Raft leader per epoch, one vote per voter and epoch ------------- */

struct epoch_event {
    const char *voter; /* The node (raft_vote: the voter). */
    int64_t epoch;
    int64_t value; /* raft_vote: the candidate. */
    const struct trace_event *e;
};

/* (epoch, voter, event index) for votes; (epoch, event index) for leaders. */
static int cmp_epoch_event(const void *x, const void *y) {
    const struct epoch_event *a = x, *b = y;
    if (a->epoch != b->epoch) return a->epoch < b->epoch ? -1 : 1;
    int c = strcmp(a->voter, b->voter);
    if (c != 0) return c;
    return (a->e->index > b->e->index) - (a->e->index < b->e->index);
}

static struct epoch_event *epoch_events(const struct trace_event **evs, size_t n, bool votes) {
    struct epoch_event *out = malloc(MAX(n, 1u) * sizeof(*out));
    ASSERT(out != NULL);
    for (size_t i = 0; i < n; i++) {
        out[i] = (struct epoch_event){.voter = votes ? evs[i]->node : "",
                                      .epoch = ev_int(evs[i], "epoch", -1),
                                      .value = votes ? ev_int(evs[i], "candidate", -1) : 0,
                                      .e = evs[i]};
    }
    qsort(out, n, sizeof(*out), cmp_epoch_event);
    return out;
}

void check_one_raft_leader(const struct check_input *in, struct check_result *out) {
    check_result_init(out, "I-CTRL-2");
    size_t nl = 0, nv = 0;
    const struct trace_event **leaders = collect(in->trace, "raft_leader", &nl);
    const struct trace_event **votes = collect(in->trace, "raft_vote", &nv);
    struct epoch_event *l = epoch_events(leaders, nl, false);
    struct epoch_event *v = epoch_events(votes, nv, true);
    const struct trace_event *fa = NULL, *fb = NULL;
    bool vote_kind = false;
    for (size_t i = 0; i < nl; i++) {
        out->checked_count++;
        if (i == 0 || l[i - 1].epoch != l[i].epoch) continue;
        if (strcmp(l[i - 1].e->node, l[i].e->node) == 0) continue;
        out->violated = true;
        out->violation_count++;
        if (fb == NULL || l[i].e->index < fb->index) fa = l[i - 1].e, fb = l[i].e;
    }
    for (size_t i = 1; i < nv; i++) {
        if (v[i - 1].epoch != v[i].epoch || strcmp(v[i - 1].voter, v[i].voter) != 0) continue;
        if (v[i - 1].value == v[i].value) continue;
        out->violated = true;
        out->violation_count++;
        if (fb == NULL || v[i].e->index < fb->index) {
            fa = v[i - 1].e, fb = v[i].e, vote_kind = true;
        }
    }
    if (fb != NULL) {
        set_where(out, fb, "", -1, -1);
        if (vote_kind) {
            snprintf(out->summary, sizeof(out->summary),
                     "Voter %s granted two votes in epoch %" PRId64 " (to %" PRId64 " and %" PRId64
                     "): a second leader can be elected in that epoch.",
                     fb->node, ev_int(fb, "epoch", -1), ev_int(fa, "candidate", -1),
                     ev_int(fb, "candidate", -1));
        } else {
            snprintf(out->summary, sizeof(out->summary),
                     "Two active controllers in epoch %" PRId64 ": %s and %s both became Raft "
                     "leader (split brain).",
                     ev_int(fb, "epoch", -1), fa->node, fb->node);
        }
        cite_event(out, fa);
        cite_event(out, fb);
    }
    free(v);
    free(l);
    free(votes);
    free(leaders);
}

/* --- I-CTRL-3: the same committed metadata log on every node ------------------------------- */

void check_metadata_log_agrees(const struct check_input *in, struct check_result *out) {
    check_result_init(out, "I-CTRL-3");
    size_t n = 0;
    const struct trace_event **ma = collect(in->trace, "metadata_apply", &n);
    if (n == 0) return;
    struct tp_event *evs = malloc(n * sizeof(*evs));
    ASSERT(evs != NULL);
    for (size_t i = 0; i < n; i++) {
        evs[i] = (struct tp_event){
            .topic = "", .partition = 0, .key = ev_int(ma[i], "offset", -1), .e = ma[i]};
    }
    qsort(evs, n, sizeof(*evs), cmp_tp_event); /* By offset, then trace order. */
    size_t bad = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        out->checked_count++;
        if (i == 0 || evs[i - 1].key != evs[i].key) continue;
        const struct trace_event *a = evs[i - 1].e, *b = evs[i].e;
        if (ev_int(a, "crc", -1) == ev_int(b, "crc", -1) &&
            ev_int(a, "epoch", -1) == ev_int(b, "epoch", -1) &&
            ev_int(a, "type", -1) == ev_int(b, "type", -1))
            continue;
        out->violated = true;
        out->violation_count++;
        if (bad == SIZE_MAX || b->index < evs[bad].e->index) bad = i;
    }
    if (bad != SIZE_MAX) {
        const struct trace_event *a = evs[bad - 1].e, *b = evs[bad].e;
        set_where(out, b, "__cluster_metadata", 0, evs[bad].key);
        snprintf(out->summary, sizeof(out->summary),
                 "Metadata offset %" PRId64 " was applied as two different records: on %s "
                 "(epoch %" PRId64 ", crc %" PRId64 ") and on %s (epoch %" PRId64 ", crc %" PRId64
                 "): a node applied an uncommitted or diverged record.",
                 evs[bad].key, a->node, ev_int(a, "epoch", -1), ev_int(a, "crc", -1), b->node,
                 ev_int(b, "epoch", -1), ev_int(b, "crc", -1));
        cite_event(out, a);
        cite_event(out, b);
    }
    free(evs);
    free(ma);
}
