/*
 * check_repl.c — I-REPL-1 (no acked loss) and I-REPL-2 (one value per offset) over the
 * client history, plus the shared result helpers and the checker registry.
 *
 * Both work on a flat array of every record any successful fetch returned, sorted so that
 * the records of one (topic, partition) are together. I-REPL-1 groups them by fetch: the
 * offsets a fetch returned for a partition span [lo, hi], and every record acked with
 * acks=all before that fetch began, at an offset inside [lo, hi], must be in it with its
 * value — absent means it was skipped or truncated, different means it was overwritten.
 * I-REPL-2 groups them by offset: all values at one offset must be equal.
 *
 * Cost: O(R log R + A log A) for R records read and A acked records, plus the acked
 * records inside each fetch's span; no quadratic scans.
 */
#include "checkers/check.h"

#include "base/base.h"
#include "checkers/check_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Result helpers -------------------------------------------------------------------- */

void check_result_init(struct check_result *r, const char *invariant) {
    ASSERT(r != NULL && invariant != NULL);
    memset(r, 0, sizeof(*r));
    snprintf(r->invariant, sizeof(r->invariant), "%s", invariant);
    r->partition = -1;
    r->offset = -1;
}

void check_add_evidence(struct check_result *r, enum check_evidence_kind kind, size_t index,
                        const char *fmt, ...) {
    ASSERT(r != NULL && fmt != NULL);
    if (r->evidence_count == CHECK_EVIDENCE_MAX) return; /* Enough to act on. */
    struct check_evidence *e = &r->evidence[r->evidence_count++];
    e->kind = kind;
    e->index = index;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
}

static void check_add_op(struct check_result *r, const struct hist_op *op) {
    char text[CHECK_TEXT_MAX];
    history_describe_op(op, text, sizeof(text));
    check_add_evidence(r, CHECK_EV_OP, op->index, "%s", text);
}

/* --- Records read ------------------------------------------------------------------------ */

struct repl_read {
    uint32_t topic_rank; /* Orders like the topic name (check_internal.h). */
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *value;
    size_t op;       /* Fetch op index. */
    size_t position; /* Index within the fetch's records. */
};

static int repl_cmp_tp(const struct repl_read *a, const struct repl_read *b) {
    if (a->topic_rank != b->topic_rank) return a->topic_rank < b->topic_rank ? -1 : 1;
    return (a->partition > b->partition) - (a->partition < b->partition);
}

/* (topic, partition, op, offset, position): one fetch's records of a partition together. */
static int repl_cmp_by_fetch(const void *x, const void *y) {
    const struct repl_read *a = x, *b = y;
    int c = repl_cmp_tp(a, b);
    if (c != 0) return c;
    if (a->op != b->op) return a->op < b->op ? -1 : 1;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    return (a->position > b->position) - (a->position < b->position);
}

/* (topic, partition, offset, op, position): every read of one offset together. */
static int repl_cmp_by_offset(const void *x, const void *y) {
    const struct repl_read *a = x, *b = y;
    int c = repl_cmp_tp(a, b);
    if (c != 0) return c;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    if (a->op != b->op) return a->op < b->op ? -1 : 1;
    return (a->position > b->position) - (a->position < b->position);
}

/* Every record of every successful fetch; *count set. NULL when there are none. */
static struct repl_read *repl_collect_reads(const struct history *h, struct topic_ranks *ranks,
                                            size_t *count) {
    size_t n = 0;
    for (size_t i = 0; h != NULL && i < h->count; i++) {
        if (h->ops[i].type == HIST_FETCH && h->ops[i].status == HIST_OK) {
            n += h->ops[i].record_count;
        }
    }
    *count = n;
    if (n == 0) return NULL;
    struct repl_read *reads = malloc(n * sizeof(*reads));
    ASSERT(reads != NULL);
    size_t k = 0;
    for (size_t i = 0; i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        if (op->type != HIST_FETCH || op->status != HIST_OK) continue;
        uint32_t rank = op->record_count > 0 ? topic_rank(ranks, op->topic) : 0;
        for (size_t j = 0; j < op->record_count; j++) {
            reads[k++] = (struct repl_read){.topic_rank = rank,
                                            .topic = op->topic,
                                            .partition = op->records[j].partition,
                                            .offset = op->records[j].offset,
                                            .value = op->records[j].value,
                                            .op = i,
                                            .position = j};
        }
    }
    ASSERT(k == n);
    return reads;
}

/* True when the trace shows an unclean election of (topic, partition) in [from_ns, to_ns]. */
static bool repl_unclean_between(const struct trace *t, const char *topic, int32_t partition,
                                 uint64_t from_ns, uint64_t to_ns, size_t *event) {
    for (size_t i = 0; t != NULL && i < t->count; i++) {
        const struct trace_event *e = &t->events[i];
        if (e->time_ns > to_ns) break; /* Events are in time order. */
        if (e->time_ns < from_ns || strcmp(e->name, "unclean_election") != 0) continue;
        const char *et = trace_get_str(e, "topic");
        int64_t ep;
        if (et != NULL && strcmp(et, topic) == 0 && trace_get_int(e, "partition", &ep) &&
            ep == partition) {
            *event = i;
            return true;
        }
    }
    return false;
}

/* --- I-REPL-1 ------------------------------------------------------------------------------ */

struct repl_acked {
    const struct hist_op *op;
    uint32_t topic_rank;
};

static int repl_cmp_acked(const void *x, const void *y) {
    const struct repl_acked *ax = x, *ay = y;
    if (ax->topic_rank != ay->topic_rank) return ax->topic_rank < ay->topic_rank ? -1 : 1;
    const struct hist_op *a = ax->op, *b = ay->op;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* A candidate violation; the one with the smallest key is reported. */
struct repl_loss {
    bool found;
    uint64_t time_ns; /* Completion of the fetch that exposed it. */
    size_t fetch;
    int64_t offset;
    const struct hist_op *produce;
    const char *seen; /* The value at that offset in the fetch, or NULL if absent. */
};

static bool repl_loss_before(const struct repl_loss *a, const struct repl_loss *b) {
    if (!b->found) return true;
    if (a->time_ns != b->time_ns) return a->time_ns < b->time_ns;
    if (a->fetch != b->fetch) return a->fetch < b->fetch;
    return a->offset < b->offset;
}

void check_no_acked_loss(const struct check_input *in, struct check_result *out) {
    ASSERT(in != NULL && out != NULL);
    check_result_init(out, "I-REPL-1");
    const struct history *h = in->history;
    if (h == NULL) return;

    size_t acked_count = 0;
    for (size_t i = 0; i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        /* acks=all, non-transactional: the records I-REPL-1 promises. Transactional records
         * may be aborted legitimately; their guarantees are I-TXN's. */
        if (op->type == HIST_PRODUCE && op->status == HIST_OK && op->acks == -1 &&
            !op->transactional && op->offset >= 0) {
            acked_count++;
        }
    }
    out->checked_count = acked_count;
    struct topic_ranks ranks;
    topic_ranks_init(&ranks, h);
    size_t read_count = 0;
    struct repl_read *reads = repl_collect_reads(h, &ranks, &read_count);
    if (acked_count == 0 || read_count == 0) {
        free(reads);
        topic_ranks_free(&ranks);
        return;
    }
    struct repl_acked *acked = malloc(acked_count * sizeof(*acked));
    ASSERT(acked != NULL);
    size_t k = 0;
    for (size_t i = 0; i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        if (op->type == HIST_PRODUCE && op->status == HIST_OK && op->acks == -1 &&
            !op->transactional && op->offset >= 0) {
            acked[k].op = op;
            acked[k++].topic_rank = topic_rank(&ranks, op->topic);
        }
    }
    qsort(acked, acked_count, sizeof(*acked), repl_cmp_acked);
    qsort(reads, read_count, sizeof(*reads), repl_cmp_by_fetch);

    struct repl_loss first = {0};
    size_t group_start = 0;
    while (group_start < read_count) {
        /* One fetch's records of one partition: reads[group_start, group_end). */
        size_t group_end = group_start + 1;
        while (group_end < read_count && repl_cmp_tp(&reads[group_end], &reads[group_start]) == 0 &&
               reads[group_end].op == reads[group_start].op) {
            group_end++;
        }
        const struct repl_read *g = &reads[group_start];
        const struct hist_op *fetch = &h->ops[g->op];
        int64_t lo = g->offset, hi = reads[group_end - 1].offset;
        /* First acked record of this partition at offset >= lo (binary search). */
        size_t left = 0, right = acked_count;
        while (left < right) {
            size_t mid = left + (right - left) / 2;
            const struct hist_op *m = acked[mid].op;
            int c =
                (acked[mid].topic_rank > g->topic_rank) - (acked[mid].topic_rank < g->topic_rank);
            if (c == 0) c = (m->partition > g->partition) - (m->partition < g->partition);
            if (c == 0) c = (m->offset > lo) - (m->offset < lo);
            if (c < 0)
                left = mid + 1;
            else
                right = mid;
        }
        size_t cursor = group_start;
        for (size_t a = left; a < acked_count; a++) {
            const struct hist_op *p = acked[a].op;
            if (acked[a].topic_rank != g->topic_rank || p->partition != g->partition ||
                p->offset > hi) {
                break;
            }
            /* Only acks the client had seen before this read began. */
            if (p->complete_ns > fetch->invoke_ns) continue;
            while (cursor < group_end && reads[cursor].offset < p->offset)
                cursor++;
            const char *seen = cursor < group_end && reads[cursor].offset == p->offset
                                   ? reads[cursor].value
                                   : NULL;
            if (seen != NULL && strcmp(seen, p->value) == 0) continue;
            size_t unclean_event;
            if (in->unclean_allowed &&
                repl_unclean_between(in->trace, p->topic, p->partition, p->complete_ns,
                                     fetch->complete_ns, &unclean_event)) {
                out->allowed_count++;
                continue;
            }
            out->violation_count++;
            struct repl_loss loss = {.found = true,
                                     .time_ns = fetch->complete_ns,
                                     .fetch = fetch->index,
                                     .offset = p->offset,
                                     .produce = p,
                                     .seen = seen};
            if (repl_loss_before(&loss, &first)) first = loss;
        }
        group_start = group_end;
    }

    if (first.found) {
        const struct hist_op *p = first.produce;
        const struct hist_op *fetch = &h->ops[first.fetch];
        char acked_at[32];
        history_format_time(p->complete_ns, acked_at, sizeof(acked_at));
        out->violated = true;
        snprintf(out->topic, sizeof(out->topic), "%s", p->topic);
        out->partition = p->partition;
        out->offset = p->offset;
        out->time_ns = fetch->complete_ns;
        if (first.seen != NULL) {
            snprintf(out->summary, sizeof(out->summary),
                     "acked record %s (acks=all, acked at %s) at %s/%d offset %" PRId64
                     " was overwritten: fetch #%zu read %s at that offset",
                     p->value, acked_at, p->topic, (int)p->partition, p->offset, fetch->index,
                     first.seen);
        } else {
            snprintf(out->summary, sizeof(out->summary),
                     "acked record %s (acks=all, acked at %s) at %s/%d offset %" PRId64
                     " is missing: fetch #%zu covered that offset but did not return it",
                     p->value, acked_at, p->topic, (int)p->partition, p->offset, fetch->index);
        }
        check_add_op(out, p);
        check_add_op(out, fetch);
        check_add_evidence(out, CHECK_EV_NOTE, 0,
                           "at %s/%d offset %" PRId64 ": expected %s, read %s", p->topic,
                           (int)p->partition, p->offset, p->value,
                           first.seen != NULL ? first.seen : "nothing (offset skipped)");
    }
    free(acked);
    free(reads);
    topic_ranks_free(&ranks);
}

/* --- I-REPL-2 ------------------------------------------------------------------------------ */

void check_one_value_per_offset(const struct check_input *in, struct check_result *out) {
    ASSERT(in != NULL && out != NULL);
    check_result_init(out, "I-REPL-2");
    struct topic_ranks ranks;
    topic_ranks_init(&ranks, in->history);
    size_t read_count = 0;
    struct repl_read *reads = repl_collect_reads(in->history, &ranks, &read_count);
    topic_ranks_free(&ranks); /* Reads carry their ranks now. */
    if (reads == NULL) return;
    qsort(reads, read_count, sizeof(*reads), repl_cmp_by_offset);
    const struct history *h = in->history;

    size_t start = 0;
    bool reported = false;
    while (start < read_count) {
        size_t end = start + 1;
        while (end < read_count && repl_cmp_tp(&reads[end], &reads[start]) == 0 &&
               reads[end].offset == reads[start].offset) {
            end++;
        }
        out->checked_count++;
        /* The first read that disagrees with the earliest read of this offset. */
        size_t differs = SIZE_MAX;
        for (size_t i = start + 1; i < end; i++) {
            if (strcmp(reads[i].value, reads[start].value) != 0) {
                differs = i;
                break;
            }
        }
        if (differs != SIZE_MAX) {
            const struct repl_read *a = &reads[start], *b = &reads[differs];
            const struct hist_op *first_op = &h->ops[a->op], *later_op = &h->ops[b->op];
            size_t unclean_event;
            if (in->unclean_allowed &&
                repl_unclean_between(in->trace, a->topic, a->partition, first_op->invoke_ns,
                                     later_op->complete_ns, &unclean_event)) {
                out->allowed_count++;
            } else {
                out->violation_count++;
                /* Sorted by (tp, offset): the first one met is the lowest offset. */
                if (!reported) {
                    reported = true;
                    out->violated = true;
                    snprintf(out->topic, sizeof(out->topic), "%s", a->topic);
                    out->partition = a->partition;
                    out->offset = a->offset;
                    out->time_ns = later_op->complete_ns;
                    snprintf(out->summary, sizeof(out->summary),
                             "%s/%d offset %" PRId64 " read as two values: %s (fetch #%zu) and "
                             "%s (fetch #%zu)",
                             a->topic, (int)a->partition, a->offset, a->value, a->op, b->value,
                             b->op);
                    check_add_op(out, first_op);
                    check_add_op(out, later_op);
                    /* Which produces wrote them, when the history knows. */
                    for (size_t i = 0; i < h->count; i++) {
                        const struct hist_op *p = &h->ops[i];
                        if (p->type == HIST_PRODUCE &&
                            (strcmp(p->value, a->value) == 0 || strcmp(p->value, b->value) == 0)) {
                            check_add_op(out, p);
                        }
                    }
                }
            }
        }
        start = end;
    }
    free(reads);
}

/* --- I-IDEM-2 ------------------------------------------------------------------------------ */

/* Reads ordered by value (values are unique per produce, so a value's reads sit together),
 * then by partition and offset. */
static int repl_cmp_by_value(const void *a, const void *b) {
    const struct repl_read *x = a, *y = b;
    int c = strcmp(x->value, y->value);
    if (c != 0) return c;
    c = repl_cmp_tp(x, y);
    if (c != 0) return c;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return (x->op > y->op) - (x->op < y->op);
}

static int repl_cmp_op_value(const void *a, const void *b) {
    return strcmp((*(const struct hist_op *const *)a)->value,
                  (*(const struct hist_op *const *)b)->value);
}

/* A retry that the broker appended again shows as one value at two offsets (or two
 * partitions): for an idempotent producer that is a duplicate (I-IDEM-2); without
 * idempotence it is Kafka's documented at-least-once behaviour and not judged. */
void check_idempotent_no_duplicates(const struct check_input *in, struct check_result *out) {
    ASSERT(in != NULL && out != NULL);
    check_result_init(out, "I-IDEM-2");
    const struct history *h = in->history;
    size_t idem_count = 0;
    for (size_t i = 0; h != NULL && i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        idem_count += op->type == HIST_PRODUCE && op->idempotent && op->value != NULL;
    }
    if (idem_count == 0) return;
    const struct hist_op **idem = malloc(idem_count * sizeof(*idem));
    ASSERT(idem != NULL);
    size_t k = 0;
    for (size_t i = 0; i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        if (op->type == HIST_PRODUCE && op->idempotent && op->value != NULL) idem[k++] = op;
    }
    qsort(idem, idem_count, sizeof(*idem), repl_cmp_op_value);

    struct topic_ranks ranks;
    topic_ranks_init(&ranks, h);
    size_t read_count = 0;
    struct repl_read *reads = repl_collect_reads(h, &ranks, &read_count);
    topic_ranks_free(&ranks);
    if (reads != NULL) qsort(reads, read_count, sizeof(*reads), repl_cmp_by_value);
    size_t start = 0;
    while (start < read_count) {
        size_t end = start + 1;
        while (end < read_count && strcmp(reads[end].value, reads[start].value) == 0)
            end++;
        struct hist_op key_op = {.value = (char *)reads[start].value};
        const struct hist_op *key = &key_op;
        const struct hist_op *const *found =
            bsearch(&key, idem, idem_count, sizeof(*idem), repl_cmp_op_value);
        if (found != NULL) {
            out->checked_count++;
            /* Sorted by partition and offset: a second place differs from the first. */
            const struct repl_read *a = &reads[start], *b = &reads[end - 1];
            if (repl_cmp_tp(a, b) != 0 || a->offset != b->offset) {
                out->violation_count++;
                if (!out->violated) {
                    out->violated = true;
                    snprintf(out->topic, sizeof(out->topic), "%s", b->topic);
                    out->partition = b->partition;
                    out->offset = b->offset;
                    out->time_ns = h->ops[b->op].complete_ns;
                    snprintf(out->summary, sizeof(out->summary),
                             "%s (idempotent producer) is stored twice: read at %s/%d offset "
                             "%" PRId64 " (fetch #%zu) and at %s/%d offset %" PRId64
                             " (fetch #%zu)",
                             a->value, a->topic, (int)a->partition, a->offset, a->op, b->topic,
                             (int)b->partition, b->offset, b->op);
                    check_add_op(out, *found);
                    check_add_op(out, &h->ops[a->op]);
                    check_add_op(out, &h->ops[b->op]);
                }
            }
        }
        start = end;
    }
    free(reads);
    free(idem);
}

/* --- Registry and verdict ------------------------------------------------------------------ */

static const char *const check_name_table[] = {
    "I-REPL-1", "I-REPL-2", "I-LOG-1",  "I-LOG-2",  "I-GRP-4",  "I-REPL-3",
    "I-REPL-4", "I-REPL-5", "I-REPL-6", "I-CTRL-1", "I-CTRL-2", "I-CTRL-3", "I-IDEM-2"};
typedef void (*check_fn)(const struct check_input *, struct check_result *);
static const check_fn check_fn_table[] = {
    check_no_acked_loss,       check_one_value_per_offset, check_log_well_formed,
    check_log_recovered,       check_monotonic_reads,      check_log_matching,
    check_leader_completeness, check_no_read_above_hw,     check_monotonic_hw,
    check_one_leader_per_epoch, check_one_raft_leader,     check_metadata_log_agrees,
    check_idempotent_no_duplicates};

size_t check_names(const char *const **names) {
    _Static_assert(ARRAY_LEN(check_name_table) == ARRAY_LEN(check_fn_table), "tables");
    *names = check_name_table;
    return ARRAY_LEN(check_name_table);
}

bool check_implemented(const char *invariant) {
    for (size_t i = 0; i < ARRAY_LEN(check_name_table); i++) {
        if (strcmp(check_name_table[i], invariant) == 0) return true;
    }
    return false;
}

int check_run(const char *invariant, const struct check_input *in, struct check_result *out) {
    ASSERT(invariant != NULL && in != NULL && out != NULL);
    for (size_t i = 0; i < ARRAY_LEN(check_name_table); i++) {
        if (strcmp(check_name_table[i], invariant) == 0) {
            check_fn_table[i](in, out);
            ASSERT(strcmp(out->invariant, invariant) == 0);
            ASSERT(out->violated == (out->violation_count > 0));
            return 0;
        }
    }
    check_result_init(out, invariant);
    return -ENOENT;
}

bool check_is_liveness(const char *invariant) {
    ASSERT(invariant != NULL);
    return strncmp(invariant, "I-LIVE-", 7) == 0;
}

enum check_verdict check_verdict(const struct check_result *results, size_t count,
                                 const char *expected_violation, size_t *culprit) {
    ASSERT(results != NULL || count == 0);
    ASSERT(culprit != NULL);
    *culprit = SIZE_MAX;
    if (expected_violation != NULL) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(results[i].invariant, expected_violation) == 0 && results[i].violated) {
                *culprit = i;
                return CHECK_VERDICT_PASS;
            }
        }
        return CHECK_VERDICT_MISSED;
    }
    size_t liveness = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        if (!results[i].violated) continue;
        if (!check_is_liveness(results[i].invariant)) {
            *culprit = i;
            return CHECK_VERDICT_SAFETY;
        }
        if (liveness == SIZE_MAX) liveness = i;
    }
    *culprit = liveness;
    return liveness == SIZE_MAX ? CHECK_VERDICT_PASS : CHECK_VERDICT_LIVENESS;
}
