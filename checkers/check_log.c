/*
 * check_log.c — I-LOG-1 (a well-formed log on disk) and I-LOG-2 (crash recovery keeps a
 * CRC-valid prefix holding everything fsynced) over disk-image descriptions (log_image.h).
 *
 * I-LOG-1 walks every log's segments and batches once, in order, carrying the previous
 * batch's last offset across segment boundaries. I-LOG-2 lines the recovered batches up
 * against the batches the log held just before the crash: the recovered log must be a
 * prefix of those (same offsets, epochs and content CRCs), every batch CRC-valid, reach at
 * least the last completed fsync, and its checkpoints must not point beyond its end.
 */
#include "checkers/check.h"

#include "base/base.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* --- log_image helpers ------------------------------------------------------------------- */

size_t li_log_batch_count(const struct li_log *log) {
    ASSERT(log != NULL);
    size_t n = 0;
    for (size_t s = 0; s < log->segment_count; s++)
        n += log->segments[s].batch_count;
    return n;
}

const struct li_batch *li_log_batch(const struct li_log *log, size_t i) {
    ASSERT(log != NULL);
    for (size_t s = 0; s < log->segment_count; s++) {
        if (i < log->segments[s].batch_count) return &log->segments[s].batches[i];
        i -= log->segments[s].batch_count;
    }
    UNREACHABLE();
}

int64_t li_log_end_offset(const struct li_log *log) {
    ASSERT(log != NULL);
    if (log->leo >= 0) return log->leo;
    for (size_t s = log->segment_count; s > 0; s--) {
        const struct li_segment *seg = &log->segments[s - 1];
        if (seg->batch_count > 0) return seg->batches[seg->batch_count - 1].last_offset + 1;
    }
    return log->log_start_offset;
}

/* --- I-LOG-1 --------------------------------------------------------------------------------- */

/* Records the first violation in a log (later ones only count). */
static bool log_violation(struct check_result *out, const struct li_log *log, int64_t offset) {
    out->violation_count++;
    if (out->violated) return false;
    out->violated = true;
    snprintf(out->node, sizeof(out->node), "%s", log->node);
    snprintf(out->topic, sizeof(out->topic), "%s", log->topic);
    out->partition = log->partition;
    out->offset = offset;
    return true;
}

static void log_batch_evidence(struct check_result *out, const struct li_segment *seg,
                               const struct li_batch *b, size_t global_index) {
    check_add_evidence(out, CHECK_EV_BATCH, global_index,
                       "%s @%" PRIu64 ": batch offsets %" PRId64 "..%" PRId64 " epoch %d crc %s",
                       seg->file_name, b->position, b->base_offset, b->last_offset, (int)b->epoch,
                       b->crc_valid ? "ok" : "BAD");
}

static bool log_name_matches(const char *name, int64_t base_offset, const char *suffix) {
    char want[LOG_IMAGE_NAME_MAX];
    snprintf(want, sizeof(want), "%020" PRId64 "%s", base_offset, suffix);
    return strcmp(name, want) == 0;
}

static void log_check_one(const struct li_log *log, struct check_result *out) {
    const char *where = log->node;
    int64_t prev_last = -1;
    int64_t prev_base_segment = -1;
    size_t global = 0;
    for (size_t s = 0; s < log->segment_count; s++) {
        const struct li_segment *seg = &log->segments[s];
        if (seg->base_offset < 0 || !log_name_matches(seg->file_name, seg->base_offset, ".log")) {
            if (log_violation(out, log, seg->base_offset)) {
                snprintf(out->summary, sizeof(out->summary),
                         "%s %s/%d: segment file '%s' is not its base offset %" PRId64
                         " in 20 digits + .log",
                         where, log->topic, (int)log->partition, seg->file_name, seg->base_offset);
            }
        }
        if ((seg->index_name[0] != '\0' &&
             !log_name_matches(seg->index_name, seg->base_offset, ".index")) ||
            (seg->time_index_name[0] != '\0' &&
             !log_name_matches(seg->time_index_name, seg->base_offset, ".timeindex"))) {
            if (log_violation(out, log, seg->base_offset)) {
                snprintf(out->summary, sizeof(out->summary),
                         "%s %s/%d: index files '%s'/'%s' do not match segment %s", where,
                         log->topic, (int)log->partition, seg->index_name, seg->time_index_name,
                         seg->file_name);
            }
        }
        if (seg->base_offset <= prev_base_segment) {
            if (log_violation(out, log, seg->base_offset)) {
                snprintf(out->summary, sizeof(out->summary),
                         "%s %s/%d: segment %s does not start above the previous segment", where,
                         log->topic, (int)log->partition, seg->file_name);
            }
        }
        prev_base_segment = seg->base_offset;
        uint64_t prev_end_position = 0;
        for (size_t b = 0; b < seg->batch_count; b++, global++) {
            const struct li_batch *batch = &seg->batches[b];
            out->checked_count++;
            const char *problem = NULL;
            if (batch->last_offset < batch->base_offset)
                problem = "ends before it starts";
            else if (batch->base_offset <= prev_last)
                problem = "does not start above the previous batch";
            else if (batch->base_offset < seg->base_offset)
                problem = "starts below its segment's base offset";
            else if (s + 1 < log->segment_count &&
                     batch->last_offset >= log->segments[s + 1].base_offset) {
                problem = "reaches into the next segment's offsets";
            } else if (b > 0 && batch->position < prev_end_position) {
                problem = "overlaps the previous batch's bytes";
            }
            if (problem != NULL && log_violation(out, log, batch->base_offset)) {
                snprintf(out->summary, sizeof(out->summary),
                         "%s %s/%d: batch %" PRId64 "..%" PRId64 " in %s %s (previous last offset "
                         "%" PRId64 ")",
                         where, log->topic, (int)log->partition, batch->base_offset,
                         batch->last_offset, seg->file_name, problem, prev_last);
                if (b > 0) log_batch_evidence(out, seg, &seg->batches[b - 1], global - 1);
                log_batch_evidence(out, seg, batch, global);
            }
            if (batch->last_offset > prev_last) prev_last = batch->last_offset;
            prev_end_position = batch->position + batch->size_bytes;
        }
        /* Offset index: increasing entries, each pointing at a batch that starts at or
         * before the entry's offset (a lookup then scans forward to its target). */
        int64_t seg_last = seg->batch_count > 0 ? seg->batches[seg->batch_count - 1].last_offset
                                                : seg->base_offset;
        for (size_t i = 0; i < seg->index_count; i++) {
            const struct li_index_entry *e = &seg->index[i];
            const char *problem = NULL;
            if (i > 0 && (e->offset <= seg->index[i - 1].offset ||
                          e->position <= seg->index[i - 1].position)) {
                problem = "is not above the previous entry";
            } else if (e->offset < seg->base_offset || e->offset > seg_last) {
                problem = "is outside the segment's offsets";
            } else {
                const struct li_batch *at = NULL;
                for (size_t b = 0; b < seg->batch_count; b++) {
                    if (seg->batches[b].position == e->position) at = &seg->batches[b];
                }
                if (at == NULL)
                    problem = "points at no batch boundary";
                else if (at->base_offset > e->offset)
                    problem = "points past its target";
            }
            if (problem != NULL && log_violation(out, log, e->offset)) {
                snprintf(out->summary, sizeof(out->summary),
                         "%s %s/%d: index entry %zu (offset %" PRId64 " -> position %" PRIu64
                         ") of %s %s",
                         where, log->topic, (int)log->partition, i, e->offset, e->position,
                         seg->index_name[0] != '\0' ? seg->index_name : seg->file_name, problem);
            }
        }
        for (size_t i = 1; i < seg->time_index_count; i++) {
            const struct li_time_entry *e = &seg->time_index[i], *p = &seg->time_index[i - 1];
            if ((e->timestamp_ms < p->timestamp_ms || e->offset < p->offset) &&
                log_violation(out, log, e->offset)) {
                snprintf(out->summary, sizeof(out->summary),
                         "%s %s/%d: time index entry %zu (%" PRId64 " ms -> offset %" PRId64
                         ") of %s goes back from (%" PRId64 " ms -> offset %" PRId64 ")",
                         where, log->topic, (int)log->partition, i, e->timestamp_ms, e->offset,
                         seg->file_name, p->timestamp_ms, p->offset);
            }
        }
    }
}

void check_log_well_formed(const struct check_input *in, struct check_result *out) {
    ASSERT(in != NULL && out != NULL);
    check_result_init(out, "I-LOG-1");
    for (size_t i = 0; i < in->log_count; i++)
        log_check_one(&in->logs[i], out);
}

/* --- I-LOG-2 --------------------------------------------------------------------------------- */

static bool log_same_batch(const struct li_batch *a, const struct li_batch *b) {
    return a->base_offset == b->base_offset && a->last_offset == b->last_offset &&
           a->epoch == b->epoch && a->content_crc == b->content_crc;
}

static void log_recovery_one(const struct check_recovery *r, struct check_result *out) {
    const struct li_log *log = r->recovered;
    ASSERT(log != NULL);
    size_t count = li_log_batch_count(log);
    int64_t leo = li_log_end_offset(log);
    char problem[CHECK_TEXT_MAX] = "";
    size_t bad_batch = SIZE_MAX;

    /* Recovery must cut a torn tail, not keep it. */
    for (size_t s = 0; s < log->segment_count && problem[0] == '\0'; s++) {
        if (log->segments[s].tail_bytes > 0) {
            snprintf(problem, sizeof(problem),
                     "a torn tail of %" PRIu64 " bytes survived recovery at the end of %s",
                     log->segments[s].tail_bytes, log->segments[s].file_name);
        }
    }
    /* Align: the recovered log may start later than the appended list (retention). */
    size_t a = 0;
    if (count > 0) {
        int64_t first = li_log_batch(log, 0)->base_offset;
        while (a < r->appended_count && r->appended[a].last_offset < first)
            a++;
    }
    for (size_t i = 0; i < count && problem[0] == '\0'; i++, a++) {
        const struct li_batch *got = li_log_batch(log, i);
        out->checked_count++;
        if (!got->crc_valid) {
            snprintf(problem, sizeof(problem),
                     "batch %" PRId64 "..%" PRId64 " survived recovery with a bad CRC",
                     got->base_offset, got->last_offset);
            bad_batch = i;
        } else if (a >= r->appended_count) {
            snprintf(problem, sizeof(problem),
                     "batch %" PRId64 "..%" PRId64 " was never appended (recovered log is "
                     "longer than what was written)",
                     got->base_offset, got->last_offset);
            bad_batch = i;
        } else if (!log_same_batch(got, &r->appended[a])) {
            const struct li_batch *want = &r->appended[a];
            snprintf(problem, sizeof(problem),
                     "batch %zu is %" PRId64 "..%" PRId64 " epoch %d crc %08x but %" PRId64
                     "..%" PRId64 " epoch %d crc %08x was appended there",
                     i, got->base_offset, got->last_offset, (int)got->epoch, got->content_crc,
                     want->base_offset, want->last_offset, (int)want->epoch, want->content_crc);
            bad_batch = i;
        }
    }
    if (problem[0] == '\0' && leo < r->synced_end_offset) {
        snprintf(problem, sizeof(problem),
                 "recovered log ends at %" PRId64 " but offsets below %" PRId64
                 " were fsynced before the crash",
                 leo, r->synced_end_offset);
    }
    if (problem[0] == '\0' && log->recovery_point > leo) {
        snprintf(problem, sizeof(problem), "recovery point %" PRId64 " is beyond the LEO %" PRId64,
                 log->recovery_point, leo);
    }
    if (problem[0] == '\0' && log->hw_checkpoint > leo) {
        snprintf(problem, sizeof(problem), "HW checkpoint %" PRId64 " is beyond the LEO %" PRId64,
                 log->hw_checkpoint, leo);
    }
    if (problem[0] == '\0') return;
    out->violation_count++;
    if (out->violated) return;
    out->violated = true;
    snprintf(out->node, sizeof(out->node), "%s", log->node);
    snprintf(out->topic, sizeof(out->topic), "%s", log->topic);
    out->partition = log->partition;
    out->offset = bad_batch != SIZE_MAX ? li_log_batch(log, bad_batch)->base_offset : leo;
    out->time_ns = r->crash_ns;
    char at[32];
    history_format_time(r->crash_ns, at, sizeof(at));
    snprintf(out->summary, sizeof(out->summary), "%s %s/%d after the crash at %s: %s", log->node,
             log->topic, (int)log->partition, at, problem);
    if (bad_batch != SIZE_MAX) {
        size_t before = 0;
        for (size_t s = 0; s < log->segment_count; s++) {
            const struct li_segment *seg = &log->segments[s];
            if (bad_batch < before + seg->batch_count) {
                log_batch_evidence(out, seg, &seg->batches[bad_batch - before], bad_batch);
                break;
            }
            before += seg->batch_count;
        }
    }
    check_add_evidence(out, CHECK_EV_NOTE, 0,
                       "appended before the crash: %zu batches; fsynced below offset %" PRId64
                       "; recovered: %zu batches, LEO %" PRId64 ", recovery point %" PRId64
                       ", HW checkpoint %" PRId64,
                       r->appended_count, r->synced_end_offset, count, leo, log->recovery_point,
                       log->hw_checkpoint);
}

void check_log_recovered(const struct check_input *in, struct check_result *out) {
    ASSERT(in != NULL && out != NULL);
    check_result_init(out, "I-LOG-2");
    for (size_t i = 0; i < in->recovery_count; i++)
        log_recovery_one(&in->recoveries[i], out);
}
