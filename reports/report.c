/*
 * report.c — writes a violation report directory (see report.h): the selection of what to
 * show, then report.txt, report.json and report.html, the diagram sources and their SVGs.
 *
 * Selection happens once (report_select) so the three formats and the diagram agree: the
 * trace excerpt is the events just before and after the violation's virtual time; the
 * diagram adds the client operations of that window, pins the checker's evidence and the
 * scheduled faults up to that time, and keeps the REPORT_DIAGRAM_ITEMS_MAX items nearest
 * the violation. Every ordering is by (time, kind, index), never by pointer.
 */
#include "reports/report_internal.h"

#include "base/base.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPORT_PATH_MAX          4096
#define REPORT_FAULTS_PINNED_MAX 16
#define REPORT_CANDIDATES_MAX    (1u << 20) /* Bound on what selection even looks at. */

/* --- Selection ------------------------------------------------------------------------------ */

void report_process_name(const struct report_input *in, int32_t process, char *buf,
                         size_t buf_len) {
    if (process >= 0 && in->process_names != NULL && (size_t)process < in->process_name_count &&
        in->process_names[process] != NULL) {
        snprintf(buf, buf_len, "%s", in->process_names[process]);
    } else {
        snprintf(buf, buf_len, "proc%d", (int)process);
    }
}

static size_t sel_lane(struct rsel *sel, const char *name) {
    for (size_t l = 0; l < sel->lane_count; l++) {
        if (strcmp(sel->lanes[l], name) == 0) return l;
    }
    if (sel->lane_count == REPORT_LANES_MAX) return SIZE_MAX;
    snprintf(sel->lanes[sel->lane_count], REPORT_LANE_NAME_MAX, "%s", name);
    return sel->lane_count++;
}

struct rcand {
    struct ritem item;
    uint64_t distance_ns;
};

static int cand_cmp_keep(const void *x, const void *y) {
    const struct rcand *a = x, *b = y;
    if (a->item.pinned != b->item.pinned) return a->item.pinned ? -1 : 1;
    if (a->distance_ns != b->distance_ns) return a->distance_ns < b->distance_ns ? -1 : 1;
    if (a->item.time_ns != b->item.time_ns) return a->item.time_ns < b->item.time_ns ? -1 : 1;
    if (a->item.kind != b->item.kind) return a->item.kind < b->item.kind ? -1 : 1;
    return (a->item.index > b->item.index) - (a->item.index < b->item.index);
}

static int item_cmp_time(const void *x, const void *y) {
    const struct ritem *a = x, *b = y;
    if (a->time_ns != b->time_ns) return a->time_ns < b->time_ns ? -1 : 1;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static bool op_is_evidence(const struct check_result *r, size_t op) {
    for (size_t i = 0; i < r->evidence_count; i++) {
        if (r->evidence[i].kind == CHECK_EV_OP && r->evidence[i].index == op) return true;
    }
    return false;
}

/* Leadership as the trace tells it (REPLICATION.md's events): every Raft leader, and who
 * led the violation's partition in which epoch, and unclean elections of it (of every
 * partition when the violation names none). */
static bool leadership_event(const struct trace_event *e, const struct check_result *r) {
    if (strcmp(e->name, "raft_leader") == 0) return true;
    if (strcmp(e->name, "become_leader") != 0 && strcmp(e->name, "unclean_election") != 0) {
        return false;
    }
    if (r->topic[0] == '\0' || r->partition < 0) return true;
    const char *topic = trace_get_str(e, "topic");
    int64_t p = -1;
    return topic != NULL && strcmp(topic, r->topic) == 0 && trace_get_int(e, "partition", &p) &&
           p == r->partition;
}

/* LEADERSHIP: the last REPORT_LEADERSHIP_MAX such events; nothing when the run had none
 * (a single broker without a quorum). */
static void leadership_section(FILE *f, const struct report_input *in) {
    const struct trace *t = in->trace;
    size_t count = 0;
    for (size_t i = 0; t != NULL && i < t->count; i++)
        count += leadership_event(&t->events[i], in->result) ? 1 : 0;
    if (count == 0) return;
    fprintf(f, "\nLEADERSHIP\n");
    size_t skip = count > REPORT_LEADERSHIP_MAX ? count - REPORT_LEADERSHIP_MAX : 0;
    if (skip > 0) fprintf(f, "  (%zu earlier)\n", skip);
    char line[1024];
    for (size_t i = 0, seen = 0; i < t->count; i++) {
        const struct trace_event *e = &t->events[i];
        if (!leadership_event(e, in->result) || seen++ < skip) continue;
        trace_describe_event(e, line, sizeof(line));
        fprintf(f, "  [event %zu] %s\n", i, line);
    }
}

static bool event_is_evidence(const struct check_result *r, size_t event) {
    for (size_t i = 0; i < r->evidence_count; i++) {
        if (r->evidence[i].kind == CHECK_EV_EVENT && r->evidence[i].index == event) return true;
    }
    return false;
}

static void cand_push(struct rcand **cands, size_t *count, size_t *cap, struct ritem item,
                      uint64_t center_ns) {
    if (*count == REPORT_CANDIDATES_MAX) return;
    if (*count == *cap) {
        *cap = *cap == 0 ? 256 : *cap * 2;
        *cands = realloc(*cands, *cap * sizeof(**cands));
        ASSERT(*cands != NULL);
    }
    uint64_t d = item.time_ns > center_ns ? item.time_ns - center_ns : center_ns - item.time_ns;
    (*cands)[(*count)++] = (struct rcand){.item = item, .distance_ns = d};
}

void report_select(const struct report_input *in, struct rsel *sel) {
    ASSERT(in != NULL && in->result != NULL && sel != NULL);
    memset(sel, 0, sizeof(*sel));
    const struct trace *t = in->trace;
    const struct history *h = in->history;
    const struct scenario *s = in->scenario;
    size_t n_excerpt = in->excerpt_events != 0 ? in->excerpt_events : REPORT_EXCERPT_EVENTS_DEFAULT;
    uint64_t center = in->result->time_ns;
    if (center == 0 && t != NULL && t->count > 0) center = t->events[t->count - 1].time_ns;
    sel->center_ns = center;

    /* Excerpt: three quarters before the violation, one quarter after. */
    if (t != NULL && t->count > 0) {
        size_t upto = 0;
        while (upto < t->count && t->events[upto].time_ns <= center)
            upto++;
        size_t before = n_excerpt - n_excerpt / 4;
        sel->excerpt_first = upto > before ? upto - before : 0;
        sel->excerpt_end = MIN(t->count, sel->excerpt_first + n_excerpt);
    }
    uint64_t lo, hi;
    if (sel->excerpt_end > sel->excerpt_first) {
        lo = MIN(t->events[sel->excerpt_first].time_ns, center);
        hi = MAX(t->events[sel->excerpt_end - 1].time_ns, center);
    } else {
        lo = center > 2 * NS_PER_S ? center - 2 * NS_PER_S : 0;
        hi = center + NS_PER_S / 2;
    }

    /* Lanes in a fixed order: brokers, controllers, workloads; others as met. */
    if (s != NULL) {
        char name[REPORT_LANE_NAME_MAX];
        for (int32_t b = 1; b <= s->brokers; b++) {
            snprintf(name, sizeof(name), "n%d", (int)b);
            sel_lane(sel, name);
        }
        for (int32_t q = 1; q <= s->controllers; q++) {
            snprintf(name, sizeof(name), "q%d", (int)q);
            sel_lane(sel, name);
        }
        for (size_t w = 0; w < s->workload_count; w++)
            sel_lane(sel, s->workloads[w].name);
    }

    struct rcand *cands = NULL;
    size_t count = 0, cap = 0;
    for (size_t i = sel->excerpt_first; i < sel->excerpt_end; i++) {
        struct ritem it = {.kind = RITEM_EVENT,
                           .index = i,
                           .time_ns = t->events[i].time_ns,
                           .pinned = event_is_evidence(in->result, i)};
        cand_push(&cands, &count, &cap, it, center);
    }
    for (size_t i = 0; h != NULL && i < h->count; i++) {
        const struct hist_op *op = &h->ops[i];
        bool pinned = op_is_evidence(in->result, i);
        if (pinned || (op->invoke_ns >= lo && op->invoke_ns <= hi)) {
            struct ritem it = {
                .kind = RITEM_OP_INVOKE, .index = i, .time_ns = op->invoke_ns, .pinned = pinned};
            cand_push(&cands, &count, &cap, it, center);
        }
        if (op->status != HIST_PENDING &&
            (pinned || (op->complete_ns >= lo && op->complete_ns <= hi))) {
            struct ritem it = {.kind = RITEM_OP_COMPLETE,
                               .index = i,
                               .time_ns = op->complete_ns,
                               .pinned = pinned};
            cand_push(&cands, &count, &cap, it, center);
        }
    }
    if (s != NULL) {
        /* The latest faults up to the end of the window: what led to the violation. */
        size_t last = 0;
        while (last < s->fault_count && s->faults[last].at_ns <= hi)
            last++;
        size_t first = last > REPORT_FAULTS_PINNED_MAX ? last - REPORT_FAULTS_PINNED_MAX : 0;
        for (size_t i = first; i < last; i++) {
            struct ritem it = {
                .kind = RITEM_FAULT, .index = i, .time_ns = s->faults[i].at_ns, .pinned = true};
            cand_push(&cands, &count, &cap, it, center);
        }
    }
    if (count > 0) qsort(cands, count, sizeof(*cands), cand_cmp_keep);
    for (size_t i = 0; i < count && sel->item_count < REPORT_DIAGRAM_ITEMS_MAX; i++) {
        sel->items[sel->item_count++] = cands[i].item;
    }
    free(cands);
    qsort(sel->items, sel->item_count, sizeof(sel->items[0]), item_cmp_time);

    /* Lanes of the chosen items; items whose lane does not fit are dropped. */
    size_t kept = 0;
    for (size_t i = 0; i < sel->item_count; i++) {
        struct ritem *it = &sel->items[i];
        char name[REPORT_LANE_NAME_MAX];
        switch (it->kind) {
        case RITEM_FAULT:
            snprintf(name, sizeof(name), "%s", s->faults[it->index].a);
            break;
        case RITEM_EVENT:
            snprintf(name, sizeof(name), "%s", t->events[it->index].node);
            break;
        default:
            report_process_name(in, h->ops[it->index].process, name, sizeof(name));
            break;
        }
        if (it->kind == RITEM_FAULT && strcmp(name, "all") == 0) {
            snprintf(name, sizeof(name), "sim");
        }
        size_t lane = sel_lane(sel, name);
        if (lane == SIZE_MAX) continue;
        it->lane = lane;
        sel->items[kept++] = *it;
    }
    sel->item_count = kept;

    /* Rows: items at one moment share a row unless their lane is already taken in it. */
    bool used[REPORT_LANES_MAX];
    memset(used, 0, sizeof(used));
    for (size_t i = 0; i < sel->item_count; i++) {
        struct ritem *it = &sel->items[i];
        bool new_row = i == 0 || it->time_ns != sel->items[i - 1].time_ns || used[it->lane];
        if (new_row) {
            if (i > 0) sel->row_count++;
            memset(used, 0, sizeof(used));
        }
        it->row = sel->row_count;
        used[it->lane] = true;
    }
    if (sel->item_count > 0) sel->row_count++;
}

/* --- Small writers ------------------------------------------------------------------------ */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Shared with report_dot.c: HTML and DOT's HTML-like labels escape the same four characters. */
void report_html_escape(FILE *f, const char *s) {
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static const char *evidence_kind_name(enum check_evidence_kind kind) {
    switch (kind) {
    case CHECK_EV_OP:
        return "op";
    case CHECK_EV_EVENT:
        return "event";
    case CHECK_EV_BATCH:
        return "batch";
    case CHECK_EV_NOTE:
        return "note";
    }
    UNREACHABLE();
}

static int report_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int report_fail(char *err, size_t err_len, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return rc;
}

static FILE *report_open(const char *dir, const char *name, char *path, size_t path_len) {
    snprintf(path, path_len, "%s/%s", dir, name);
    return fopen(path, "w");
}

static int report_close(FILE *f, const char *path, char *err, size_t err_len) {
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = true;
    if (bad) return report_fail(err, err_len, -EIO, "%s: write failed", path);
    return 0;
}

static void log_line(FILE *f, const struct li_log *log) {
    fprintf(f,
            "  %s %s/%d: log start %" PRId64 ", HW %" PRId64 ", LEO %" PRId64
            ", recovery point %" PRId64 ", HW checkpoint %" PRId64 "\n    ",
            log->node, log->topic, (int)log->partition, log->log_start_offset, log->hw,
            li_log_end_offset(log), log->recovery_point, log->hw_checkpoint);
    size_t count = li_log_batch_count(log);
    size_t first = count > REPORT_LOG_BATCHES_DRAWN_MAX ? count - REPORT_LOG_BATCHES_DRAWN_MAX : 0;
    if (first > 0) fprintf(f, "... (%zu earlier batches) | ", first);
    for (size_t b = first; b < count; b++) {
        const struct li_batch *batch = li_log_batch(log, b);
        fprintf(f, "%s%" PRId64 "..%" PRId64 " e%d%s", b == first ? "" : " | ", batch->base_offset,
                batch->last_offset, (int)batch->epoch, batch->crc_valid ? "" : " BADCRC");
    }
    fprintf(f, "%s\n", count == 0 ? "(empty)" : "");
}

/* True when item i is the first diagram item of its history op (ops appear twice: invoke
 * and complete), so lists name each op once, in time order. */
static bool report_first_mention(const struct rsel *sel, size_t i) {
    const struct ritem *it = &sel->items[i];
    for (size_t j = 0; j < i; j++) {
        const struct ritem *o = &sel->items[j];
        if ((o->kind == RITEM_OP_INVOKE || o->kind == RITEM_OP_COMPLETE) && o->index == it->index) {
            return false;
        }
    }
    return true;
}

/* --- report.txt ------------------------------------------------------------------------------ */

static void write_txt(FILE *f, const struct report_input *in, const struct rsel *sel) {
    const struct check_result *r = in->result;
    char t[32], line[1024];
    fprintf(f, "TRIAL %s REPORT\n\n", r->violated ? "VIOLATION" : "CHECK");
    fprintf(f, "invariant:  %s (%s; %zu violation(s), %zu allowed, %zu checked)\n", r->invariant,
            r->violated ? "VIOLATED" : "holds", r->violation_count, r->allowed_count,
            r->checked_count);
    fprintf(f, "summary:    %s\n", r->summary[0] != '\0' ? r->summary : "-");
    history_format_time(r->time_ns, t, sizeof(t));
    fprintf(f, "where:      node %s, %s/%d offset %" PRId64 ", at %s\n",
            r->node[0] != '\0' ? r->node : "-", r->topic[0] != '\0' ? r->topic : "-",
            (int)r->partition, r->offset, t);
    fprintf(f, "seed:       %" PRIu64 "\n", in->seed);
    fprintf(f, "reproduce:  %s\n", in->repro_command);
    if (in->scenario != NULL) {
        fprintf(f, "scenario:   %s (scenario.scn in this directory)\n", in->scenario->name);
    }
    if (in->trace != NULL) {
        fprintf(f, "trace:      %zu events, hash %016" PRIx64 "%s\n", in->trace->count,
                in->trace->hash, in->trace->overflow ? " (truncated)" : "");
    }
    if (in->history != NULL) {
        fprintf(f, "history:    %zu operations%s\n", in->history->count,
                in->history->overflow ? " (truncated)" : "");
    }
    fprintf(f, "\nEVIDENCE\n");
    for (size_t i = 0; i < r->evidence_count; i++) {
        const struct check_evidence *e = &r->evidence[i];
        if (e->kind == CHECK_EV_NOTE)
            fprintf(f, "  [note] %s\n", e->text);
        else
            fprintf(f, "  [%s %zu] %s\n", evidence_kind_name(e->kind), e->index, e->text);
    }
    if (r->evidence_count == 0) fprintf(f, "  (none)\n");
    fprintf(f, "\nFAULT SCHEDULE\n");
    size_t faults = in->scenario != NULL ? in->scenario->fault_count : 0;
    for (size_t i = 0; i < faults; i++) {
        char d[32];
        scn_duration_format(in->scenario->faults[i].at_ns, d, sizeof(d));
        scn_fault_describe(&in->scenario->faults[i], line, sizeof(line));
        fprintf(f, "  at %-8s %s\n", d, line);
    }
    if (faults == 0) fprintf(f, "  (none)\n");
    leadership_section(f, in);
    fprintf(f, "\nLOG STATE\n");
    for (size_t i = 0; i < in->log_count; i++)
        log_line(f, &in->logs[i]);
    if (in->log_count == 0) fprintf(f, "  (none recorded)\n");
    fprintf(f, "\nCLIENT OPERATIONS (in the diagram)\n");
    size_t ops = 0;
    for (size_t i = 0; i < sel->item_count; i++) {
        if (sel->items[i].kind != RITEM_OP_INVOKE && sel->items[i].kind != RITEM_OP_COMPLETE) {
            continue;
        }
        if (!report_first_mention(sel, i)) continue;
        history_describe_op(&in->history->ops[sel->items[i].index], line, sizeof(line));
        fprintf(f, "  %s\n", line);
        ops++;
    }
    if (ops == 0) fprintf(f, "  (none)\n");
    fprintf(f, "\nTRACE EXCERPT");
    if (sel->excerpt_end > sel->excerpt_first) {
        history_format_time(sel->center_ns, t, sizeof(t));
        fprintf(f, " (events %zu..%zu of %zu, around %s)\n", sel->excerpt_first,
                sel->excerpt_end - 1, in->trace->count, t);
        for (size_t i = sel->excerpt_first; i < sel->excerpt_end; i++) {
            trace_describe_event(&in->trace->events[i], line, sizeof(line));
            fprintf(f, "  #%-6zu %s\n", i, line);
        }
    } else {
        fprintf(f, "\n  (no trace events)\n");
    }
    fprintf(f, "\nPICTURES\n  report.html embeds spacetime.svg (%zu items) and logs.svg\n",
            sel->item_count);
}

/* --- report.json ------------------------------------------------------------------------------ */

static void json_log(FILE *f, const struct li_log *log) {
    fputs("{\"node\": ", f);
    json_str(f, log->node);
    fputs(", \"topic\": ", f);
    json_str(f, log->topic);
    fprintf(f,
            ", \"partition\": %d, \"log_start_offset\": %" PRId64 ", \"hw\": %" PRId64
            ", \"leo\": %" PRId64 ", \"recovery_point\": %" PRId64 ", \"hw_checkpoint\": %" PRId64
            ", \"batches\": [",
            (int)log->partition, log->log_start_offset, log->hw, li_log_end_offset(log),
            log->recovery_point, log->hw_checkpoint);
    size_t count = li_log_batch_count(log);
    for (size_t b = 0; b < count; b++) {
        const struct li_batch *batch = li_log_batch(log, b);
        fprintf(f,
                "%s{\"base_offset\": %" PRId64 ", \"last_offset\": %" PRId64
                ", \"epoch\": %d, \"crc_valid\": %s}",
                b == 0 ? "" : ", ", batch->base_offset, batch->last_offset, (int)batch->epoch,
                batch->crc_valid ? "true" : "false");
    }
    fputs("]}", f);
}

static void write_json(FILE *f, const struct report_input *in, const struct rsel *sel,
                       bool graphviz_ok) {
    const struct check_result *r = in->result;
    char buf[1024];
    fputs("{\n  \"format\": \"trial-report-1\",\n  \"invariant\": ", f);
    json_str(f, r->invariant);
    fprintf(f,
            ",\n  \"violated\": %s,\n  \"violation_count\": %zu,\n  \"allowed_count\": %zu,"
            "\n  \"checked_count\": %zu,\n  \"summary\": ",
            r->violated ? "true" : "false", r->violation_count, r->allowed_count, r->checked_count);
    json_str(f, r->summary);
    fputs(",\n  \"location\": {\"node\": ", f);
    json_str(f, r->node);
    fputs(", \"topic\": ", f);
    json_str(f, r->topic);
    fprintf(f, ", \"partition\": %d, \"offset\": %" PRId64 ", \"time_ns\": %" PRIu64 "},\n",
            (int)r->partition, r->offset, r->time_ns);
    /* The seed as a string too: JSON readers in JavaScript lose integers above 2^53. */
    fprintf(f, "  \"seed\": %" PRIu64 ",\n  \"seed_string\": \"%" PRIu64 "\",\n  \"repro\": ",
            in->seed, in->seed);
    json_str(f, in->repro_command);
    fputs(",\n  \"scenario\": ", f);
    if (in->scenario != NULL) {
        json_str(f, in->scenario->name);
        fputs(",\n  \"scenario_file\": \"scenario.scn\"", f);
    } else {
        fputs("null,\n  \"scenario_file\": null", f);
    }
    if (in->trace != NULL) {
        fprintf(f, ",\n  \"trace_events\": %zu,\n  \"trace_hash\": \"%016" PRIx64 "\"",
                in->trace->count, in->trace->hash);
    }
    fputs(",\n  \"evidence\": [", f);
    for (size_t i = 0; i < r->evidence_count; i++) {
        const struct check_evidence *e = &r->evidence[i];
        fprintf(f, "%s\n    {\"kind\": \"%s\", \"index\": %zu, \"text\": ", i == 0 ? "" : ",",
                evidence_kind_name(e->kind), e->index);
        json_str(f, e->text);
        fputs("}", f);
    }
    fputs("\n  ],\n  \"faults\": [", f);
    size_t faults = in->scenario != NULL ? in->scenario->fault_count : 0;
    for (size_t i = 0; i < faults; i++) {
        const struct scn_fault *fault = &in->scenario->faults[i];
        scn_fault_describe(fault, buf, sizeof(buf));
        fprintf(f,
                "%s\n    {\"at_ns\": %" PRIu64 ", \"kind\": \"%s\", \"node\": ", i == 0 ? "" : ",",
                fault->at_ns, scn_fault_kind_name(fault->kind));
        json_str(f, fault->a);
        fputs(", \"text\": ", f);
        json_str(f, buf);
        fputs("}", f);
    }
    fputs("\n  ],\n  \"logs\": [", f);
    for (size_t i = 0; i < in->log_count; i++) {
        fputs(i == 0 ? "\n    " : ",\n    ", f);
        json_log(f, &in->logs[i]);
    }
    fputs("\n  ],\n  \"operations\": [", f);
    bool first_op = true;
    for (size_t i = 0; i < sel->item_count; i++) {
        const struct ritem *it = &sel->items[i];
        if ((it->kind != RITEM_OP_INVOKE && it->kind != RITEM_OP_COMPLETE) ||
            !report_first_mention(sel, i)) {
            continue;
        }
        const struct hist_op *op = &in->history->ops[it->index];
        history_describe_op(op, buf, sizeof(buf));
        fprintf(f,
                "%s\n    {\"index\": %zu, \"process\": %d, \"type\": \"%s\", "
                "\"status\": \"%s\", \"text\": ",
                first_op ? "" : ",", op->index, (int)op->process, hist_op_type_name(op->type),
                hist_status_name(op->status));
        json_str(f, buf);
        fputs("}", f);
        first_op = false;
    }
    fputs("\n  ],\n  \"trace_excerpt\": [", f);
    for (size_t i = sel->excerpt_first; i < sel->excerpt_end; i++) {
        const struct trace_event *e = &in->trace->events[i];
        fprintf(f, "%s\n    {\"index\": %zu, \"time_ns\": %" PRIu64 ", \"node\": ",
                i == sel->excerpt_first ? "" : ",", i, e->time_ns);
        json_str(f, e->node);
        fputs(", \"event\": ", f);
        json_str(f, e->name);
        fputs(", \"fields\": {", f);
        for (size_t j = 0; j < e->field_count; j++) {
            fputs(j == 0 ? "" : ", ", f);
            json_str(f, e->fields[j].key);
            if (e->fields[j].type == IO_TRACE_INT) {
                fprintf(f, ": %" PRId64, e->fields[j].i);
            } else {
                fputs(": ", f);
                json_str(f, e->fields[j].s);
            }
        }
        fputs("}}", f);
    }
    fprintf(f, "\n  ],\n  \"diagrams\": {\"spacetime\": %s, \"logs\": %s, \"items\": %zu}\n}\n",
            graphviz_ok ? "\"spacetime.svg\"" : "null", graphviz_ok ? "\"logs.svg\"" : "null",
            sel->item_count);
}

/* --- report.html ------------------------------------------------------------------------------ */

/* Copies an SVG file inline, from its <svg element on (dropping the XML prolog). */
static void html_embed_svg(FILE *f, const char *svg_path, const char *dot_path) {
    FILE *svg = fopen(svg_path, "r");
    char chunk[4096];
    if (svg == NULL) {
        fputs("<p><em>Graphviz did not render this picture; its source:</em></p><pre>", f);
        FILE *dot = fopen(dot_path, "r");
        while (dot != NULL && fgets(chunk, sizeof(chunk), dot) != NULL)
            report_html_escape(f, chunk);
        if (dot != NULL) fclose(dot);
        fputs("</pre>\n", f);
        return;
    }
    bool started = false;
    while (fgets(chunk, sizeof(chunk), svg) != NULL) {
        if (!started) {
            char *at = strstr(chunk, "<svg");
            if (at == NULL) continue;
            started = true;
            fputs(at, f);
        } else {
            fputs(chunk, f);
        }
    }
    fclose(svg);
}

static void write_html(FILE *f, const struct report_input *in, const struct rsel *sel,
                       const char *dir) {
    const struct check_result *r = in->result;
    char t[32], line[1024], path[REPORT_PATH_MAX], dot_path[REPORT_PATH_MAX];
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", f);
    report_html_escape(f, r->invariant);
    fputs(" — Trial report</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:1400px}"
          "pre{background:#f4f4f4;padding:.6em;overflow-x:auto}td,th{padding:2px 8px;"
          "text-align:left;vertical-align:top}.bad{color:#b00}.svg{overflow-x:auto;border:1px "
          "solid #ddd}</style>\n</head><body>\n",
          f);
    fprintf(f, "<h1 class=\"%s\">", r->violated ? "bad" : "");
    report_html_escape(f, r->invariant);
    fprintf(f, " %s</h1>\n<p>", r->violated ? "violated" : "holds");
    report_html_escape(f, r->summary);
    history_format_time(r->time_ns, t, sizeof(t));
    fprintf(f,
            "</p>\n<table>\n<tr><th>violations</th><td>%zu (%zu allowed, %zu checked)</td></tr>\n"
            "<tr><th>where</th><td>node ",
            r->violation_count, r->allowed_count, r->checked_count);
    report_html_escape(f, r->node[0] != '\0' ? r->node : "-");
    fputs(", ", f);
    report_html_escape(f, r->topic[0] != '\0' ? r->topic : "-");
    fprintf(f,
            "/%d offset %" PRId64 " at %s</td></tr>\n<tr><th>seed</th><td>%" PRIu64 "</td></tr>\n",
            (int)r->partition, r->offset, t, in->seed);
    if (in->scenario != NULL) {
        fputs("<tr><th>scenario</th><td>", f);
        report_html_escape(f, in->scenario->name);
        fputs(" (<a href=\"scenario.scn\">scenario.scn</a>)</td></tr>\n", f);
    }
    if (in->trace != NULL) {
        fprintf(f, "<tr><th>trace</th><td>%zu events, hash %016" PRIx64 "</td></tr>\n",
                in->trace->count, in->trace->hash);
    }
    fputs("</table>\n<h2>Reproduce</h2>\n<pre>", f);
    report_html_escape(f, in->repro_command);
    fputs("</pre>\n<h2>Evidence</h2>\n<ul>\n", f);
    for (size_t i = 0; i < r->evidence_count; i++) {
        const struct check_evidence *e = &r->evidence[i];
        fprintf(f, "<li><b>%s", evidence_kind_name(e->kind));
        if (e->kind != CHECK_EV_NOTE) fprintf(f, " %zu", e->index);
        fputs("</b>: <code>", f);
        report_html_escape(f, e->text);
        fputs("</code></li>\n", f);
    }
    fputs("</ul>\n<h2>Fault schedule</h2>\n<table>\n", f);
    size_t faults = in->scenario != NULL ? in->scenario->fault_count : 0;
    for (size_t i = 0; i < faults; i++) {
        char d[32];
        scn_duration_format(in->scenario->faults[i].at_ns, d, sizeof(d));
        scn_fault_describe(&in->scenario->faults[i], line, sizeof(line));
        fprintf(f, "<tr><td>%s</td><td>", d);
        report_html_escape(f, line);
        fputs("</td></tr>\n", f);
    }
    if (faults == 0) fputs("<tr><td>(none)</td></tr>\n", f);
    fprintf(f,
            "</table>\n<h2>Space-time diagram</h2>\n<p>%zu items around the violation: "
            "lanes are nodes and clients, time runs down, blue arrows are messages, red boxes "
            "faults, yellow the evidence.</p>\n<div class=\"svg\">\n",
            sel->item_count);
    snprintf(path, sizeof(path), "%s/spacetime.svg", dir);
    snprintf(dot_path, sizeof(dot_path), "%s/spacetime.dot", dir);
    html_embed_svg(f, path, dot_path);
    fputs("</div>\n<h2>Log state</h2>\n<div class=\"svg\">\n", f);
    snprintf(path, sizeof(path), "%s/logs.svg", dir);
    snprintf(dot_path, sizeof(dot_path), "%s/logs.dot", dir);
    html_embed_svg(f, path, dot_path);
    fputs("</div>\n<pre>", f);
    for (size_t i = 0; i < in->log_count; i++) {
        const struct li_log *log = &in->logs[i];
        snprintf(line, sizeof(line),
                 "%s %s/%d: log start %" PRId64 ", HW %" PRId64 ", LEO %" PRId64 "\n", log->node,
                 log->topic, (int)log->partition, log->log_start_offset, log->hw,
                 li_log_end_offset(log));
        report_html_escape(f, line);
    }
    fputs("</pre>\n<h2>Client operations around the violation</h2>\n<pre>", f);
    for (size_t i = 0; i < sel->item_count; i++) {
        const struct ritem *it = &sel->items[i];
        if ((it->kind != RITEM_OP_INVOKE && it->kind != RITEM_OP_COMPLETE) ||
            !report_first_mention(sel, i)) {
            continue;
        }
        history_describe_op(&in->history->ops[it->index], line, sizeof(line));
        report_html_escape(f, line);
        fputc('\n', f);
    }
    fputs("</pre>\n<h2>Trace excerpt</h2>\n<pre>", f);
    for (size_t i = sel->excerpt_first; i < sel->excerpt_end; i++) {
        trace_describe_event(&in->trace->events[i], line, sizeof(line));
        fprintf(f, "#%-6zu ", i);
        report_html_escape(f, line);
        fputc('\n', f);
    }
    fputs("</pre>\n</body></html>\n", f);
}

/* --- Orchestration ------------------------------------------------------------------------ */

int report_write(const struct report_input *in, const char *dir, struct report_output *out,
                 char *err, size_t err_len) {
    ASSERT(in != NULL && in->result != NULL && in->repro_command != NULL);
    ASSERT(dir != NULL && err != NULL && err_len > 0);
    err[0] = '\0';
    if (strlen(dir) > REPORT_PATH_MAX - 32) {
        return report_fail(err, err_len, -ENAMETOOLONG, "report directory name too long");
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        int e = errno;
        return report_fail(err, err_len, -e, "%s: cannot create: %s", dir, strerror(e));
    }
    struct rsel *sel = malloc(sizeof(*sel));
    ASSERT(sel != NULL);
    report_select(in, sel);

    char path[REPORT_PATH_MAX], svg[REPORT_PATH_MAX];
    int rc = 0;
    bool graphviz_ok = true;
    /* Diagrams first: the HTML embeds their SVGs. */
    static const char *const names[2] = {"spacetime", "logs"};
    for (int d = 0; d < 2 && rc == 0; d++) {
        char file[32];
        snprintf(file, sizeof(file), "%s.dot", names[d]);
        FILE *f = report_open(dir, file, path, sizeof(path));
        if (f == NULL) {
            rc = report_fail(err, err_len, -errno, "%s: cannot write", path);
            break;
        }
        if (d == 0)
            report_write_spacetime_dot(in, sel, f);
        else
            report_write_logs_dot(in, f);
        rc = report_close(f, path, err, err_len);
        if (rc != 0) break;
        snprintf(svg, sizeof(svg), "%s/%s.svg", dir, names[d]);
        remove(svg); /* A stale SVG from an earlier report must not be embedded. */
        if (!report_run_dot(in->dot_program, path, svg)) graphviz_ok = false;
    }
    if (rc == 0 && in->scenario != NULL) {
        size_t need = scn_print(in->scenario, NULL, 0);
        char *text = malloc(need + 1);
        ASSERT(text != NULL);
        scn_print(in->scenario, text, need + 1);
        FILE *f = report_open(dir, "scenario.scn", path, sizeof(path));
        if (f == NULL) {
            rc = report_fail(err, err_len, -errno, "%s: cannot write", path);
        } else {
            fprintf(f, "# Scenario of this report; reproduce with: %s\n", in->repro_command);
            fputs(text, f);
            rc = report_close(f, path, err, err_len);
        }
        free(text);
    }
    for (int k = 0; k < 3 && rc == 0; k++) {
        static const char *const files[3] = {"report.txt", "report.json", "report.html"};
        FILE *f = report_open(dir, files[k], path, sizeof(path));
        if (f == NULL) {
            rc = report_fail(err, err_len, -errno, "%s: cannot write", path);
            break;
        }
        if (k == 0)
            write_txt(f, in, sel);
        else if (k == 1)
            write_json(f, in, sel, graphviz_ok);
        else
            write_html(f, in, sel, dir);
        rc = report_close(f, path, err, err_len);
    }
    if (out != NULL) {
        out->graphviz_ok = graphviz_ok;
        out->diagram_items = sel->item_count;
        out->excerpt_count = sel->excerpt_end - sel->excerpt_first;
    }
    free(sel);
    return rc;
}
