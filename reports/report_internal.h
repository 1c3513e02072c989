/*
 * report_internal.h — what report.c (text, JSON, HTML) and report_dot.c (Graphviz) share:
 * the selection of what to show around the violation, made once so every format agrees.
 */
#ifndef TRIAL_REPORTS_REPORT_INTERNAL_H
#define TRIAL_REPORTS_REPORT_INTERNAL_H

#include "reports/report.h"

#include <stdio.h>

#define REPORT_LANE_NAME_MAX 64

enum ritem_kind { RITEM_FAULT = 0, RITEM_EVENT, RITEM_OP_INVOKE, RITEM_OP_COMPLETE };

/* One thing drawn in the space-time diagram. */
struct ritem {
    enum ritem_kind kind;
    size_t index; /* Trace event, history op or scenario fault index. */
    uint64_t time_ns;
    size_t lane;
    size_t row;  /* Assigned after sorting by time. */
    bool pinned; /* Evidence or a fault: kept even when far from the violation. */
};

struct rsel {
    uint64_t center_ns;                /* Virtual time of the violation. */
    size_t excerpt_first, excerpt_end; /* Trace events [first, end) in the excerpt. */
    struct ritem items[REPORT_DIAGRAM_ITEMS_MAX];
    size_t item_count;
    size_t row_count;
    char lanes[REPORT_LANES_MAX][REPORT_LANE_NAME_MAX];
    size_t lane_count;
};

/* Chooses the excerpt, the diagram items, their lanes and rows. Deterministic. */
void report_select(const struct report_input *in, struct rsel *sel);

/* Lane name of a history process ("proc3" unless named). */
void report_process_name(const struct report_input *in, int32_t process, char *buf, size_t buf_len);

/* Writes s with < > & " as HTML entities (for HTML text and DOT HTML-like labels). */
void report_html_escape(FILE *f, const char *s);

/* Writes the two diagram sources. 0 or -errno. */
int report_write_spacetime_dot(const struct report_input *in, const struct rsel *sel, FILE *f);
int report_write_logs_dot(const struct report_input *in, FILE *f);

/* Runs `dot -Tsvg -o svg_path dot_path`; true when it exited 0 and wrote the file. */
bool report_run_dot(const char *dot_program, const char *dot_path, const char *svg_path);

#endif /* TRIAL_REPORTS_REPORT_INTERNAL_H */
