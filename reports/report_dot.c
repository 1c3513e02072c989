/*
 * report_dot.c — the Graphviz pictures of a report, and running `dot` to render them.
 *
 * Space-time diagram: a grid of invisible points, one column per lane (node or client) and
 * one row per moment, chained top to bottom with heavy edges so dot keeps every lane a
 * straight vertical line and every row level. Items (trace events, client operations,
 * faults) replace grid points; messages are blue arrows from the send to the receive that
 * share a "msg" id; faults are red; the evidence the checker cited is yellow. Time runs
 * downwards and the left column prints it.
 *
 * Log picture: one HTML-like table per replica log: a cell per batch (offset range and
 * leader epoch, coloured by epoch, red if its CRC fails), a row of marks under it showing
 * where the HW falls, and the log start / HW / LEO / checkpoints at the end.
 */
#include "reports/report_internal.h"

#include "base/base.h"

#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

/* Writes s as the inside of a DOT "quoted string". */
static void dot_quoted(FILE *f, const char *s) {
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if (*s == '\n') {
            fputs("\\n", f);
            continue;
        }
        fputc(*s, f);
    }
}

static bool item_is_evidence(const struct report_input *in, const struct ritem *it) {
    const struct check_result *r = in->result;
    for (size_t i = 0; i < r->evidence_count; i++) {
        const struct check_evidence *e = &r->evidence[i];
        if (e->index != it->index) continue;
        if (e->kind == CHECK_EV_OP &&
            (it->kind == RITEM_OP_INVOKE || it->kind == RITEM_OP_COMPLETE)) {
            return true;
        }
        if (e->kind == CHECK_EV_EVENT && it->kind == RITEM_EVENT) return true;
    }
    return false;
}

/* The short label of an item (at most a few dozen characters). */
static void item_label(const struct report_input *in, const struct ritem *it, char *buf,
                       size_t len) {
    switch (it->kind) {
    case RITEM_FAULT: {
        char text[128];
        scn_fault_describe(&in->scenario->faults[it->index], text, sizeof(text));
        snprintf(buf, len, "FAULT %s", text);
        return;
    }
    case RITEM_EVENT: {
        const struct trace_event *e = &in->trace->events[it->index];
        const char *peer = NULL;
        if (strcmp(e->name, "net_send") == 0) peer = trace_get_str(e, "to");
        if (strcmp(e->name, "net_recv") == 0) peer = trace_get_str(e, "from");
        const char *api = trace_get_str(e, "api");
        if (peer != NULL) {
            snprintf(buf, len, "%s %s%s%s",
                     strcmp(e->name, "net_send") == 0 ? "send to" : "recv from", peer,
                     api != NULL ? " " : "", api != NULL ? api : "");
            return;
        }
        size_t used = (size_t)snprintf(buf, len, "%s", e->name);
        for (size_t i = 0; i < e->field_count && i < 3 && used < len; i++) {
            int n;
            if (e->fields[i].type == IO_TRACE_INT) {
                n = snprintf(buf + used, len - used, " %s=%" PRId64, e->fields[i].key,
                             e->fields[i].i);
            } else {
                n = snprintf(buf + used, len - used, " %s=%s", e->fields[i].key, e->fields[i].s);
            }
            if (n < 0) break;
            used += (size_t)n;
        }
        return;
    }
    case RITEM_OP_INVOKE: {
        const struct hist_op *op = &in->history->ops[it->index];
        if (op->type == HIST_PRODUCE) {
            snprintf(buf, len, "#%zu produce %s -> %s/%d acks=%s", op->index, op->value, op->topic,
                     (int)op->partition,
                     op->acks == -1  ? "all"
                     : op->acks == 0 ? "0"
                                     : "1");
        } else if (op->type == HIST_FETCH) {
            snprintf(buf, len, "#%zu fetch %s", op->index, op->topic);
        } else {
            snprintf(buf, len, "#%zu %s %s/%d", op->index, hist_op_type_name(op->type), op->topic,
                     (int)op->partition);
        }
        return;
    }
    case RITEM_OP_COMPLETE: {
        const struct hist_op *op = &in->history->ops[it->index];
        if (op->type == HIST_PRODUCE && op->status == HIST_OK && op->offset >= 0) {
            snprintf(buf, len, "#%zu ok offset %" PRId64, op->index, op->offset);
        } else if (op->type == HIST_FETCH && op->status == HIST_OK && op->record_count > 0) {
            snprintf(buf, len, "#%zu ok %zu recs %" PRId64 "..%" PRId64, op->index,
                     op->record_count, op->records[0].offset,
                     op->records[op->record_count - 1].offset);
        } else {
            snprintf(buf, len, "#%zu %s", op->index, hist_status_name(op->status));
        }
        return;
    }
    }
    UNREACHABLE();
}

int report_write_spacetime_dot(const struct report_input *in, const struct rsel *sel, FILE *f) {
    ASSERT(in != NULL && sel != NULL && f != NULL);
    fputs("digraph spacetime {\n"
          "  newrank=true; rankdir=TB; nodesep=0.25; ranksep=0.18;\n"
          "  node [fontname=\"Helvetica\", fontsize=9];\n"
          "  edge [arrowsize=0.6];\n  labelloc=t; label=\"",
          f);
    dot_quoted(f, in->result->invariant);
    fputs(": ", f);
    dot_quoted(f, in->result->summary);
    fputs("\";\n", f);

    /* Header row: the time column, then one header per lane, kept in order. */
    fputs("  time_h [shape=plaintext, label=\"virtual time\"];\n", f);
    for (size_t l = 0; l < sel->lane_count; l++) {
        fprintf(f, "  lane%zu_h [shape=box, style=\"filled,bold\", fillcolor=\"#dde6f0\", label=\"",
                l);
        dot_quoted(f, sel->lanes[l]);
        fputs("\"];\n", f);
    }
    fputs("  { rank=same; time_h", f);
    for (size_t l = 0; l < sel->lane_count; l++)
        fprintf(f, "; lane%zu_h", l);
    fputs("; }\n  time_h", f);
    for (size_t l = 0; l < sel->lane_count; l++)
        fprintf(f, " -> lane%zu_h", l);
    fputs(" [style=invis];\n", f);

    /* Grid: every (lane, row) is a point unless an item sits there. */
    for (size_t r = 0; r < sel->row_count; r++) {
        uint64_t row_time = 0;
        for (size_t i = 0; i < sel->item_count; i++) {
            if (sel->items[i].row == r) {
                row_time = sel->items[i].time_ns;
                break;
            }
        }
        char t[32];
        history_format_time(row_time, t, sizeof(t));
        fprintf(f, "  time_%zu [shape=plaintext, label=\"%s\"];\n", r, t);
        for (size_t l = 0; l < sel->lane_count; l++) {
            const struct ritem *it = NULL;
            for (size_t i = 0; i < sel->item_count; i++) {
                if (sel->items[i].row == r && sel->items[i].lane == l) it = &sel->items[i];
            }
            if (it == NULL) {
                fprintf(f, "  g%zu_%zu [shape=point, width=0.01, height=0.01, label=\"\"];\n", l,
                        r);
                continue;
            }
            char label[192];
            item_label(in, it, label, sizeof(label));
            const char *style = "shape=box, style=\"rounded,filled\", fillcolor=white";
            if (it->kind == RITEM_FAULT) {
                style = "shape=box, style=\"filled,bold\", fillcolor=\"#f4b6b6\", color=red";
            } else if (item_is_evidence(in, it)) {
                style = "shape=box, style=\"rounded,filled,bold\", fillcolor=\"#fff3a0\"";
            } else if (it->kind == RITEM_OP_INVOKE || it->kind == RITEM_OP_COMPLETE) {
                style = "shape=box, style=\"rounded,filled\", fillcolor=\"#e8f4e8\"";
            }
            fprintf(f, "  g%zu_%zu [%s, label=\"", l, r, style);
            dot_quoted(f, label);
            fputs("\"];\n", f);
        }
        fprintf(f, "  { rank=same; time_%zu", r);
        for (size_t l = 0; l < sel->lane_count; l++)
            fprintf(f, "; g%zu_%zu", l, r);
        fputs("; }\n", f);
    }
    /* Lane lines and the time column, top to bottom. */
    for (size_t l = 0; l <= sel->lane_count; l++) {
        bool time_column = l == sel->lane_count;
        if (time_column)
            fputs("  time_h", f);
        else
            fprintf(f, "  lane%zu_h", l);
        for (size_t r = 0; r < sel->row_count; r++) {
            if (time_column)
                fprintf(f, " -> time_%zu", r);
            else
                fprintf(f, " -> g%zu_%zu", l, r);
        }
        fprintf(f, " [%s, weight=100];\n",
                time_column ? "style=invis" : "arrowhead=none, color=\"#9aa5b1\"");
    }
    /* Messages: a send and a receive that share "msg". */
    for (size_t i = 0; in->trace != NULL && i < sel->item_count; i++) {
        const struct ritem *s = &sel->items[i];
        if (s->kind != RITEM_EVENT) continue;
        const struct trace_event *se = &in->trace->events[s->index];
        int64_t msg;
        if (strcmp(se->name, "net_send") != 0 || !trace_get_int(se, "msg", &msg)) continue;
        for (size_t j = 0; j < sel->item_count; j++) {
            const struct ritem *r = &sel->items[j];
            if (r->kind != RITEM_EVENT) continue;
            const struct trace_event *re = &in->trace->events[r->index];
            int64_t rmsg;
            if (strcmp(re->name, "net_recv") == 0 && trace_get_int(re, "msg", &rmsg) &&
                rmsg == msg) {
                const char *api = trace_get_str(se, "api");
                fprintf(f, "  g%zu_%zu -> g%zu_%zu [constraint=false, color=\"#1f5fbf\"", s->lane,
                        s->row, r->lane, r->row);
                if (api != NULL) {
                    fputs(", fontsize=8, fontcolor=\"#1f5fbf\", label=\"", f);
                    dot_quoted(f, api);
                    fputs("\"", f);
                }
                fputs("];\n", f);
                break;
            }
        }
    }
    fputs("}\n", f);
    return ferror(f) ? -EIO : 0;
}

static const char *const epoch_colors[] = {"#cfe2f3", "#d9ead3", "#fff2cc", "#ead1dc",
                                           "#d0e0e3", "#fce5cd", "#d9d2e9", "#f4cccc"};

int report_write_logs_dot(const struct report_input *in, FILE *f) {
    ASSERT(in != NULL && f != NULL);
    fputs("digraph logs {\n  rankdir=TB; node [shape=plaintext, fontname=\"Helvetica\", "
          "fontsize=9];\n",
          f);
    if (in->log_count == 0) fputs("  empty [label=\"no log state recorded\"];\n", f);
    for (size_t i = 0; i < in->log_count; i++) {
        const struct li_log *log = &in->logs[i];
        size_t count = li_log_batch_count(log);
        size_t first =
            count > REPORT_LOG_BATCHES_DRAWN_MAX ? count - REPORT_LOG_BATCHES_DRAWN_MAX : 0;
        int64_t leo = li_log_end_offset(log);
        size_t columns = count - first + 2;
        fprintf(f,
                "  log%zu [label=<<table border=\"0\" cellborder=\"1\" cellspacing=\"0\" "
                "cellpadding=\"3\">\n    <tr><td colspan=\"%zu\" bgcolor=\"#dde6f0\"><b>",
                i, columns);
        report_html_escape(f, log->node);
        fputs(" ", f);
        report_html_escape(f, log->topic);
        fprintf(f, "/%d</b></td></tr>\n    <tr><td>%s</td>", (int)log->partition,
                first > 0 ? "&#8230;" : "start");
        for (size_t b = first; b < count; b++) {
            const struct li_batch *batch = li_log_batch(log, b);
            const char *color = epoch_colors[(uint32_t)batch->epoch % ARRAY_LEN(epoch_colors)];
            fprintf(f, "<td bgcolor=\"%s\"%s>%" PRId64 "..%" PRId64 "<br/>e%d%s</td>",
                    batch->crc_valid ? color : "#ff9999", batch->crc_valid ? "" : " color=\"red\"",
                    batch->base_offset, batch->last_offset, (int)batch->epoch,
                    batch->crc_valid ? "" : " CRC!");
        }
        fprintf(f, "<td>LEO %" PRId64 "</td></tr>\n    <tr><td>%" PRId64 "</td>", leo,
                log->log_start_offset);
        for (size_t b = first; b < count; b++) {
            const struct li_batch *batch = li_log_batch(log, b);
            bool hw_here = log->hw >= batch->base_offset && log->hw <= batch->last_offset;
            bool rp_here = log->recovery_point >= batch->base_offset &&
                           log->recovery_point <= batch->last_offset;
            fprintf(f, "<td>%s%s%s</td>", hw_here ? "<b>HW&#9656;</b>" : "",
                    hw_here && rp_here ? " " : "", rp_here ? "RP" : "");
        }
        fprintf(f, "<td>%s</td></tr>\n", log->hw == leo ? "<b>HW</b>" : "");
        fprintf(f,
                "    <tr><td colspan=\"%zu\" align=\"left\">log start %" PRId64
                " &#183; HW %" PRId64 " &#183; LEO %" PRId64 " &#183; recovery point %" PRId64
                " &#183; HW checkpoint %" PRId64 "</td></tr>\n  </table>>];\n",
                columns, log->log_start_offset, log->hw, leo, log->recovery_point,
                log->hw_checkpoint);
        if (i > 0) fprintf(f, "  log%zu -> log%zu [style=invis];\n", i - 1, i);
    }
    fputs("}\n", f);
    return ferror(f) ? -EIO : 0;
}

bool report_run_dot(const char *dot_program, const char *dot_path, const char *svg_path) {
    const char *program = dot_program != NULL ? dot_program : "dot";
    char *argv[] = {(char *)program,  (char *)"-Tsvg",  (char *)"-o",
                    (char *)svg_path, (char *)dot_path, NULL};
    pid_t pid;
    /* No shell: paths with spaces or quotes are passed as they are. */
    if (posix_spawnp(&pid, program, NULL, NULL, argv, environ) != 0) return false;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return false;
    }
    struct stat st;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && stat(svg_path, &st) == 0 &&
           st.st_size > 0;
}
