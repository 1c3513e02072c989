/*
 * check_grp.c — I-GRP-4: within one assignment, a consumer's successive polls on a
 * partition neither skip nor go back.
 *
 * "Go back" is exact: within one (process, assignment, topic, partition) the offsets a
 * consumer receives, poll after poll, must strictly increase. "Skip" needs care, because
 * Kafka offsets have legitimate holes (transaction markers, compacted or aborted records),
 * so a jump from offset a to b > a + 1 is a violation only if some offset in (a, b) is
 * KNOWN to hold a record the consumer should have seen: one that an acks=all produce was
 * acked at (for read_committed consumers only non-transactional ones), or that another
 * consumer with the same isolation level read.
 */
#include "checkers/check.h"

#include "base/base.h"
#include "checkers/check_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct grp_read {
    int32_t process;
    uint32_t assignment;
    uint32_t topic_rank; /* Orders like the topic name (check_internal.h). */
    const char *topic;
    int32_t partition;
    size_t op;
    size_t position;
    int64_t offset;
};

static int grp_cmp(const void *x, const void *y) {
    const struct grp_read *a = x, *b = y;
    if (a->process != b->process) return a->process < b->process ? -1 : 1;
    if (a->assignment != b->assignment) return a->assignment < b->assignment ? -1 : 1;
    if (a->topic_rank != b->topic_rank) return a->topic_rank < b->topic_rank ? -1 : 1;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    if (a->op != b->op) return a->op < b->op ? -1 : 1;
    return (a->position > b->position) - (a->position < b->position);
}

/* An offset known to hold a record, for one isolation level. */
struct grp_known {
    uint32_t topic_rank;
    int32_t partition;
    int64_t offset;
    bool read_committed;
    size_t op; /* The op that proves it. */
};

static int grp_known_cmp(const void *x, const void *y) {
    const struct grp_known *a = x, *b = y;
    if (a->read_committed != b->read_committed) return a->read_committed ? 1 : -1;
    if (a->topic_rank != b->topic_rank) return a->topic_rank < b->topic_rank ? -1 : 1;
    if (a->partition != b->partition) return a->partition < b->partition ? -1 : 1;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    return (a->op > b->op) - (a->op < b->op);
}

/* The first known offset strictly between lo and hi, or NULL. */
static const struct grp_known *grp_known_between(const struct grp_known *known, size_t count,
                                                 bool read_committed, uint32_t topic_rank,
                                                 int32_t partition, int64_t lo, int64_t hi) {
    struct grp_known key = {.topic_rank = topic_rank,
                            .partition = partition,
                            .offset = lo + 1,
                            .read_committed = read_committed,
                            .op = 0};
    size_t left = 0, right = count;
    while (left < right) {
        size_t mid = left + (right - left) / 2;
        if (grp_known_cmp(&known[mid], &key) < 0)
            left = mid + 1;
        else
            right = mid;
    }
    if (left == count) return NULL;
    const struct grp_known *k = &known[left];
    if (k->read_committed != read_committed || k->topic_rank != topic_rank ||
        k->partition != partition || k->offset >= hi) {
        return NULL;
    }
    return k;
}

/* Every offset known to hold a record, per isolation level, sorted for grp_known_between. */
static struct grp_known *grp_known_build(const struct history *h, struct topic_ranks *ranks,
                                         size_t read_count, size_t *count) {
    size_t cap = read_count;
    for (size_t i = 0; i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        if (op->type == HIST_PRODUCE && op->status == HIST_OK && op->acks == -1 &&
            op->offset >= 0) {
            cap += 2; /* Once per isolation level at most. */
        }
    }
    struct grp_known *known = malloc(cap * sizeof(*known));
    ASSERT(known != NULL);
    size_t k = 0;
    for (size_t i = 0; i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        if (op->type == HIST_FETCH && op->status == HIST_OK && op->record_count > 0) {
            uint32_t rank = topic_rank(ranks, op->topic);
            for (size_t j = 0; j < op->record_count; j++) {
                known[k++] = (struct grp_known){.topic_rank = rank,
                                                .partition = op->records[j].partition,
                                                .offset = op->records[j].offset,
                                                .read_committed = op->read_committed,
                                                .op = i};
            }
        } else if (op->type == HIST_PRODUCE && op->status == HIST_OK && op->acks == -1 &&
                   op->offset >= 0) {
            uint32_t rank = topic_rank(ranks, op->topic);
            known[k++] = (struct grp_known){.topic_rank = rank,
                                            .partition = op->partition,
                                            .offset = op->offset,
                                            .read_committed = false,
                                            .op = i};
            if (!op->transactional) {
                known[k++] = (struct grp_known){.topic_rank = rank,
                                                .partition = op->partition,
                                                .offset = op->offset,
                                                .read_committed = true,
                                                .op = i};
            }
        }
    }
    ASSERT(k <= cap);
    qsort(known, k, sizeof(*known), grp_known_cmp);
    *count = k;
    return known;
}

void check_monotonic_reads(const struct check_input *in, struct check_result *out) {
    ASSERT(in != NULL && out != NULL);
    check_result_init(out, "I-GRP-4");
    const struct history *h = in->history;
    if (h == NULL) return;

    size_t read_count = 0, known_count = 0;
    for (size_t i = 0; i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        if (op->type == HIST_FETCH && op->status == HIST_OK) read_count += op->record_count;
    }
    if (read_count == 0) return;
    struct grp_read *reads = malloc(read_count * sizeof(*reads));
    ASSERT(reads != NULL);
    struct topic_ranks ranks;
    topic_ranks_init(&ranks, h);
    size_t r = 0;
    for (size_t i = 0; i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        if (op->type != HIST_FETCH || op->status != HIST_OK || op->record_count == 0) continue;
        uint32_t rank = topic_rank(&ranks, op->topic);
        for (size_t j = 0; j < op->record_count; j++) {
            reads[r++] = (struct grp_read){.process = op->process,
                                           .assignment = op->assignment,
                                           .topic_rank = rank,
                                           .topic = op->topic,
                                           .partition = op->records[j].partition,
                                           .op = i,
                                           .position = j,
                                           .offset = op->records[j].offset};
        }
    }
    ASSERT(r == read_count);
    qsort(reads, read_count, sizeof(*reads), grp_cmp);
    /* The known-offsets index costs more than the rest; most runs read without gaps, so it
     * is built only when some poll sequence jumps. */
    bool any_gap = false;
    for (size_t i = 1; i < read_count && !any_gap; i++) {
        const struct grp_read *prev = &reads[i - 1], *cur = &reads[i];
        any_gap = prev->process == cur->process && prev->assignment == cur->assignment &&
                  prev->topic_rank == cur->topic_rank && prev->partition == cur->partition &&
                  cur->offset > prev->offset + 1;
    }
    struct grp_known *known = NULL;
    if (any_gap) known = grp_known_build(h, &ranks, read_count, &known_count);
    for (size_t i = 0; i < read_count; i++) {
        out->checked_count++;
        if (i == 0) continue;
        const struct grp_read *prev = &reads[i - 1], *cur = &reads[i];
        if (prev->process != cur->process || prev->assignment != cur->assignment ||
            prev->topic_rank != cur->topic_rank || prev->partition != cur->partition) {
            continue; /* A new (consumer, assignment, partition) sequence starts. */
        }
        const struct hist_op *cur_op = &h->ops[cur->op];
        const struct grp_known *skipped = NULL;
        bool back = cur->offset <= prev->offset;
        if (!back && cur->offset > prev->offset + 1 && known != NULL) {
            skipped = grp_known_between(known, known_count, cur_op->read_committed, cur->topic_rank,
                                        cur->partition, prev->offset, cur->offset);
        }
        if (!back && skipped == NULL) continue;
        out->violation_count++;
        if (out->violated) continue;
        out->violated = true;
        snprintf(out->topic, sizeof(out->topic), "%s", cur->topic);
        out->partition = cur->partition;
        out->offset = back ? cur->offset : skipped->offset;
        out->time_ns = cur_op->complete_ns;
        if (back) {
            snprintf(out->summary, sizeof(out->summary),
                     "consumer proc%d went back on %s/%d within assignment %u: offset %" PRId64
                     " (fetch #%zu) after %" PRId64 " (fetch #%zu)",
                     (int)cur->process, cur->topic, (int)cur->partition, cur->assignment,
                     cur->offset, cur->op, prev->offset, prev->op);
        } else {
            snprintf(out->summary, sizeof(out->summary),
                     "consumer proc%d skipped %s/%d offset %" PRId64
                     " within assignment %u: read %" PRId64 " (fetch #%zu) then %" PRId64
                     " (fetch #%zu), but op #%zu shows a record at %" PRId64,
                     (int)cur->process, cur->topic, (int)cur->partition, skipped->offset,
                     cur->assignment, prev->offset, prev->op, cur->offset, cur->op, skipped->op,
                     skipped->offset);
        }
        char text[CHECK_TEXT_MAX];
        history_describe_op(&h->ops[prev->op], text, sizeof(text));
        check_add_evidence(out, CHECK_EV_OP, prev->op, "%s", text);
        if (cur->op != prev->op) {
            history_describe_op(cur_op, text, sizeof(text));
            check_add_evidence(out, CHECK_EV_OP, cur->op, "%s", text);
        }
        if (skipped != NULL) {
            history_describe_op(&h->ops[skipped->op], text, sizeof(text));
            check_add_evidence(out, CHECK_EV_OP, skipped->op, "%s", text);
        }
    }
    free(reads);
    free(known);
    topic_ranks_free(&ranks);
}
