/*
 * test_reports.c — proves reports v1 (reports/report.h) turn a real checker violation into
 * a directory a person and a tool can act on:
 *  - report.txt, report.json, report.html, spacetime.svg, logs.svg and scenario.scn exist;
 *  - they carry the key facts: invariant name, summary, offset, seed, the reproduction
 *    command, the faults, the leadership (Raft leaders, the leaders of the violation's
 *    partition and no other), the log state (offsets, epochs, HW/LEO) and the trace excerpt;
 *  - report.json is well-formed JSON (checked here by a small strict validator, and again
 *    by Python's json.tool in the ctest test_reports_json_tool), even with quotes,
 *    backslashes and newlines in the data;
 *  - the HTML embeds both SVGs inline, and the space-time diagram draws the lanes, the
 *    fault, the evidence and the messages around the violation;
 *  - scenario.scn parses back to the scenario that was given;
 *  - the same input gives byte-identical txt, json and dot files (deterministic);
 *  - without Graphviz the report is still written and says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "checkers/check.h"
#include "reports/report.h"
#include "sim/scenario/scenario.h"

#define MS NS_PER_MS

static char *slurp(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* --- A strict JSON validator: iterative, bounded depth ------------------------------------ */

static const char *json_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static const char *json_string(const char *p) {
    if (*p != '"') return NULL;
    for (p++; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++) {
                    if (!isxdigit((unsigned char)p[i])) return NULL;
                }
                p += 4;
            } else if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0') {
                return NULL;
            }
        }
    }
    return p + 1;
}

static const char *json_number(const char *p) {
    if (*p == '-') p++;
    if (*p == '0')
        p++;
    else if (isdigit((unsigned char)*p))
        while (isdigit((unsigned char)*p))
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return p;
}

static bool json_valid(const char *p) {
    enum { VALUE, AFTER, OBJ_FIRST, KEY, COLON, ARR_FIRST } state = VALUE;
    char stack[64];
    int depth = 0;
    for (;;) {
        p = json_ws(p);
        switch (state) {
        case VALUE:
            if (*p == '{' || *p == '[') {
                if (depth == (int)sizeof(stack)) return false;
                stack[depth++] = *p;
                state = *p == '{' ? OBJ_FIRST : ARR_FIRST;
                p++;
            } else if (*p == '"') {
                if ((p = json_string(p)) == NULL) return false;
                state = AFTER;
            } else if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0) {
                p += 4;
                state = AFTER;
            } else if (strncmp(p, "false", 5) == 0) {
                p += 5;
                state = AFTER;
            } else {
                if ((p = json_number(p)) == NULL) return false;
                state = AFTER;
            }
            break;
        case OBJ_FIRST:
            if (*p == '}') {
                depth--;
                p++;
                state = AFTER;
                break;
            }
            /* fall through */
        case KEY:
            if ((p = json_string(p)) == NULL) return false;
            state = COLON;
            break;
        case COLON:
            if (*p++ != ':') return false;
            state = VALUE;
            break;
        case ARR_FIRST:
            if (*p == ']') {
                depth--;
                p++;
                state = AFTER;
            } else {
                state = VALUE;
            }
            break;
        case AFTER:
            if (depth == 0) return *p == '\0';
            if (*p == ',')
                state = stack[depth - 1] == '{' ? KEY : VALUE;
            else if ((*p == '}' && stack[depth - 1] == '{') ||
                     (*p == ']' && stack[depth - 1] == '['))
                depth--;
            else
                return false;
            p++;
            break;
        }
    }
}

static void test_json_validator_itself(void **state) {
    (void)state;
    assert_true(
        json_valid("{\"a\": [1, -2.5e3, true, null, {\"b\": \"x\\\"\\n\\u00e9\"}], \"c\": {}}"));
    assert_true(json_valid("[]"));
    assert_false(json_valid("{\"a\": 1,}"));
    assert_false(json_valid("{\"a\" 1}"));
    assert_false(json_valid("[1, 2"));
    assert_false(json_valid("{\"a\": \"tab\there\"}"));
    assert_false(json_valid("{\"a\": 01}"));
    assert_false(json_valid("{} {}"));
}

/* --- A violating run ----------------------------------------------------------------------- */

static const char scenario_text[] = "scenario report-demo\n"
                                    "seed 42\n"
                                    "duration 20s\n"
                                    "cluster brokers 2\n"
                                    "topic t1 partitions 1 replication 2\n"
                                    "producer p1 topic t1 acks all rate 100/s\n"
                                    "consumer c1 topic t1 assign 0\n"
                                    "at 15ms crash n1 lose-unsynced\n"
                                    "at 18ms restart n1\n"
                                    "check I-REPL-1\n"
                                    "expect pass\n";

struct run {
    struct history h;
    struct trace t;
    struct scenario s;
    struct check_result r;
    struct li_batch batches[3];
    struct li_segment seg;
    struct li_log logs[2];
};

static void run_build(struct run *run, const char *odd_value) {
    memset(run, 0, sizeof(*run));
    char err[256];
    assert_int_equal(
        scn_parse(scenario_text, strlen(scenario_text), "demo.scn", &run->s, err, sizeof(err)), 0);
    history_init(&run->h, 1000);
    trace_init(&run->t, 1000);
    /* p1 (process 0) produces v0..v4 at offsets 0..4; n1 leads and appends them. */
    int64_t msg = 1;
    for (int i = 0; i < 5; i++) {
        char value[16];
        snprintf(value, sizeof(value), "v%d", i);
        uint64_t t0 = (1 + 2 * (uint64_t)i) * MS;
        size_t op = history_produce_invoke(&run->h, 0, t0, "t1", 0, NULL, value, -1, false);
        trace_add(&run->t, t0, "p1", "net_send",
                  (struct io_trace_field[]){IO_TF_I("msg", msg), IO_TF_S("to", "n1"),
                                            IO_TF_S("api", "Produce")},
                  3);
        trace_add(&run->t, t0 + MS / 2, "n1", "net_recv",
                  (struct io_trace_field[]){IO_TF_I("msg", msg), IO_TF_S("from", "p1"),
                                            IO_TF_S("api", "Produce")},
                  3);
        trace_add(&run->t, t0 + MS / 2, "n1", "append",
                  (struct io_trace_field[]){IO_TF_S("topic", "t1"), IO_TF_I("partition", 0),
                                            IO_TF_I("offset", i), IO_TF_I("epoch", 1)},
                  4);
        history_produce_complete(&run->h, op, HIST_OK, t0 + MS, i, 0);
        msg++;
    }
    trace_add(&run->t, 15 * MS, "sim", "fault",
              (struct io_trace_field[]){IO_TF_S("kind", "crash"), IO_TF_S("target", "n1")}, 2);
    trace_add(&run->t, 16 * MS, "n2", "leader_change",
              (struct io_trace_field[]){IO_TF_S("topic", "t1"), IO_TF_I("partition", 0),
                                        IO_TF_I("epoch", 2)},
              3);
    /* Leadership events (REPLICATION.md): the report lists the quorum's leaders and the
     * leaders of the violation's partition, not of other partitions. */
    trace_add(&run->t, 16 * MS, "q1", "raft_leader", (struct io_trace_field[]){IO_TF_I("epoch", 3)},
              1);
    trace_add(&run->t, 17 * MS, "n2", "become_leader",
              (struct io_trace_field[]){IO_TF_S("topic", "t1"), IO_TF_I("partition", 0),
                                        IO_TF_I("epoch", 2), IO_TF_I("leo", 3), IO_TF_I("hw", 3)},
              5);
    trace_add(&run->t, 17 * MS, "n3", "become_leader",
              (struct io_trace_field[]){IO_TF_S("topic", "t1"), IO_TF_I("partition", 1),
                                        IO_TF_I("epoch", 5), IO_TF_I("leo", 9), IO_TF_I("hw", 9)},
              5);
    /* c1 (process 1) reads offsets 0..4 from n2, which has another value at offset 3. */
    size_t f = history_fetch_invoke(&run->h, 1, 20 * MS, "t1", 1, false);
    trace_add(&run->t, 20 * MS, "c1", "net_send",
              (struct io_trace_field[]){IO_TF_I("msg", msg), IO_TF_S("to", "n2"),
                                        IO_TF_S("api", "Fetch")},
              3);
    trace_add(&run->t, 20 * MS + 300, "n2", "net_recv",
              (struct io_trace_field[]){IO_TF_I("msg", msg), IO_TF_S("from", "c1"),
                                        IO_TF_S("api", "Fetch")},
              3);
    char v[5][32] = {"v0", "v1", "v2", "", "v4"};
    snprintf(v[3], sizeof(v[3]), "%s", odd_value);
    struct hist_record recs[5];
    for (int i = 0; i < 5; i++)
        recs[i] = (struct hist_record){0, i, v[i]};
    history_fetch_complete(&run->h, f, HIST_OK, 21 * MS, recs, 5, 0);

    struct check_input in = {.history = &run->h, .trace = &run->t};
    check_no_acked_loss(&in, &run->r);
    assert_true(run->r.violated);

    run->batches[0] = (struct li_batch){0, 2, 1, true, 0, 120, 0, 0x11};
    run->batches[1] = (struct li_batch){3, 3, 2, true, 120, 70, 0, 0x22};
    run->batches[2] = (struct li_batch){4, 4, 2, false, 190, 70, 0, 0x33};
    snprintf(run->seg.file_name, sizeof(run->seg.file_name), "00000000000000000000.log");
    run->seg.batches = run->batches;
    run->seg.batch_count = 3;
    for (int i = 0; i < 2; i++) {
        struct li_log *log = &run->logs[i];
        snprintf(log->node, sizeof(log->node), "n%d", i + 1);
        snprintf(log->topic, sizeof(log->topic), "t1");
        log->segments = &run->seg;
        log->segment_count = i == 0 ? 0 : 1; /* n1 lost everything in the crash. */
        log->hw = i == 0 ? 0 : 3;
        log->leo = -1;
        log->recovery_point = 0;
        log->hw_checkpoint = -1;
    }
}

static void run_free(struct run *run) {
    history_free(&run->h);
    trace_free(&run->t);
}

static const char *const process_names[] = {"p1", "c1"};

static struct report_input input_of(const struct run *run) {
    return (struct report_input){.result = &run->r,
                                 .history = &run->h,
                                 .trace = &run->t,
                                 .scenario = &run->s,
                                 .logs = run->logs,
                                 .log_count = 2,
                                 .seed = 42,
                                 .repro_command = "trial run scenarios/report-demo.scn --seed 42",
                                 .process_names = process_names,
                                 .process_name_count = 2};
}

static void test_report_files_and_facts(void **state) {
    (void)state;
    static struct run run;
    run_build(&run, "intruder");
    struct report_input in = input_of(&run);
    const char *dir = TRIAL_REPORT_TEST_DIR "/violation";
    mkdir(TRIAL_REPORT_TEST_DIR, 0777);
    struct report_output out;
    char err[256];
    int rc = report_write(&in, dir, &out, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_true(out.graphviz_ok);
    assert_true(out.diagram_items > 10);
    assert_int_equal(out.excerpt_count, run.t.count); /* A short trace fits whole. */

    char *txt = slurp(dir, "report.txt");
    assert_non_null(txt);
    assert_non_null(strstr(txt, "invariant:  I-REPL-1 (VIOLATED; 1 violation(s)"));
    assert_non_null(strstr(txt, "t1/0 offset 3"));
    assert_non_null(strstr(txt, "intruder"));
    assert_non_null(strstr(txt, "seed:       42"));
    assert_non_null(strstr(txt, "reproduce:  trial run scenarios/report-demo.scn --seed 42"));
    assert_non_null(strstr(txt, "at 15ms     crash n1 lose-unsynced"));
    assert_non_null(strstr(txt, "n2 t1/0: log start 0, HW 3, LEO 5"));
    assert_non_null(strstr(txt, "0..2 e1 | 3..3 e2 | 4..4 e2 BADCRC"));
    assert_non_null(strstr(txt, "n2 leader_change topic=t1 partition=0 epoch=2"));
    char *lead = strstr(txt, "\nLEADERSHIP\n");
    assert_non_null(lead);
    char *log_state = strstr(txt, "\nLOG STATE\n");
    assert_true(log_state != NULL && log_state > lead);
    char *q1 = strstr(lead, "q1 raft_leader epoch=3");
    char *n2 = strstr(lead, "n2 become_leader topic=t1 partition=0 epoch=2 leo=3 hw=3");
    assert_true(q1 != NULL && q1 < log_state);
    assert_true(n2 != NULL && n2 < log_state);
    char *other = strstr(lead, "n3 become_leader");
    assert_true(other == NULL || other > log_state); /* Another partition: not listed. */
    assert_non_null(strstr(txt, "[op 3] #3 proc0 produce t1/0 value=v3"));
    /* The operations around the violation are listed once each, in time order. */
    const char *ops = strstr(txt, "CLIENT OPERATIONS");
    assert_non_null(ops);
    const char *op3 = strstr(ops, "\n  #3 proc0 produce");
    const char *op5 = strstr(ops, "\n  #5 proc1 fetch");
    assert_non_null(op3);
    assert_non_null(op5);
    assert_true(op3 < op5);
    assert_null(strstr(op3 + 1, "\n  #3 proc0 produce"));

    char *json = slurp(dir, "report.json");
    assert_non_null(json);
    assert_true(json_valid(json));
    assert_non_null(strstr(json, "\"invariant\": \"I-REPL-1\""));
    assert_non_null(strstr(json, "\"violated\": true"));
    assert_non_null(strstr(json, "\"offset\": 3"));
    assert_non_null(strstr(json, "\"repro\": \"trial run scenarios/report-demo.scn --seed 42\""));
    assert_non_null(strstr(json, "\"kind\": \"crash\""));
    assert_non_null(strstr(json, "{\"base_offset\": 4, \"last_offset\": 4, \"epoch\": 2, "
                                 "\"crc_valid\": false}"));
    assert_non_null(strstr(json, "\"spacetime\": \"spacetime.svg\""));
    assert_non_null(strstr(json, "{\"index\": 5, \"process\": 1, \"type\": \"fetch\", "
                                 "\"status\": \"ok\""));

    char *html = slurp(dir, "report.html");
    assert_non_null(html);
    assert_non_null(strstr(html, "<h1 class=\"bad\">I-REPL-1 violated</h1>"));
    assert_non_null(strstr(html, "trial run scenarios/report-demo.scn --seed 42"));
    assert_null(strstr(html, "<?xml")); /* SVG prologs dropped when inlining. */
    const char *first_svg = strstr(html, "<svg");
    assert_non_null(first_svg);
    assert_non_null(strstr(first_svg + 4, "<svg")); /* Both pictures. */
    assert_null(strstr(html, "Graphviz did not render"));

    char *st = slurp(dir, "spacetime.svg");
    assert_non_null(st);
    /* Lanes, the fault, the evidence and a message label are in the picture. */
    assert_non_null(strstr(st, ">n1<"));
    assert_non_null(strstr(st, ">n2<"));
    assert_non_null(strstr(st, ">p1<"));
    assert_non_null(strstr(st, ">c1<"));
    assert_non_null(strstr(st, "FAULT crash n1 lose&#45;unsynced"));
    assert_non_null(strstr(st, "#3 produce v3"));
    assert_non_null(strstr(st, ">Fetch<"));
    char *dot = slurp(dir, "spacetime.dot");
    assert_non_null(dot);
    assert_non_null(strstr(dot, "fillcolor=\"#fff3a0\""));               /* Evidence highlighted. */
    assert_non_null(strstr(dot, "constraint=false, color=\"#1f5fbf\"")); /* A message arrow. */
    char *logs = slurp(dir, "logs.svg");
    assert_non_null(logs);
    assert_non_null(strstr(logs, "LEO 5"));
    assert_non_null(strstr(logs, "HW"));
    assert_non_null(strstr(logs, "CRC!"));

    /* The scenario travels with the report and parses back to what was given. */
    char path[1024];
    snprintf(path, sizeof(path), "%s/scenario.scn", dir);
    static struct scenario back;
    assert_int_equal(scn_parse_file(path, &back, err, sizeof(err)), 0);
    assert_true(scn_equal(&back, &run.s));

    free(txt);
    free(json);
    free(html);
    free(st);
    free(dot);
    free(logs);
    run_free(&run);
}

static void test_report_deterministic_and_escaped(void **state) {
    (void)state;
    static struct run run;
    /* Quotes, a backslash, a newline and HTML specials in a value read back. */
    run_build(&run, "a\"b\\c\n<d>&");
    struct report_input in = input_of(&run);
    const char *dirs[2] = {TRIAL_REPORT_TEST_DIR "/det-a", TRIAL_REPORT_TEST_DIR "/det-b"};
    mkdir(TRIAL_REPORT_TEST_DIR, 0777);
    char err[256];
    for (int i = 0; i < 2; i++)
        assert_int_equal(report_write(&in, dirs[i], NULL, err, sizeof(err)), 0);
    static const char *const files[] = {"report.txt", "report.json", "spacetime.dot", "logs.dot",
                                        "scenario.scn"};
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        char *a = slurp(dirs[0], files[i]);
        char *b = slurp(dirs[1], files[i]);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    char *json = slurp(dirs[0], "report.json");
    assert_true(json_valid(json));
    assert_non_null(strstr(json, "a\\\"b\\\\c\\n<d>&"));
    free(json);
    char *html = slurp(dirs[0], "report.html");
    assert_non_null(strstr(html, "a&quot;b\\c\n&lt;d&gt;&amp;"));
    free(html);
    run_free(&run);
}

static void test_report_without_graphviz(void **state) {
    (void)state;
    static struct run run;
    run_build(&run, "intruder");
    struct report_input in = input_of(&run);
    in.dot_program = "/nonexistent/dot";
    in.scenario = NULL; /* Also: no scenario at all. */
    const char *dir = TRIAL_REPORT_TEST_DIR "/no-graphviz";
    mkdir(TRIAL_REPORT_TEST_DIR, 0777);
    struct report_output out;
    char err[256];
    assert_int_equal(report_write(&in, dir, &out, err, sizeof(err)), 0);
    assert_false(out.graphviz_ok);
    char *html = slurp(dir, "report.html");
    assert_non_null(strstr(html, "Graphviz did not render"));
    assert_non_null(strstr(html, "digraph spacetime"));
    char *json = slurp(dir, "report.json");
    assert_true(json_valid(json));
    assert_non_null(strstr(json, "\"spacetime\": null"));
    assert_non_null(strstr(json, "\"scenario\": null"));
    char *svg = slurp(dir, "spacetime.svg");
    assert_null(svg);
    free(html);
    free(json);

    /* An unwritable directory is an error with a message, not a crash. */
    assert_true(report_write(&in, "/proc/no/such/dir", NULL, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "/proc/no/such/dir"));
    run_free(&run);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_validator_itself),
        cmocka_unit_test(test_report_files_and_facts),
        cmocka_unit_test(test_report_deterministic_and_escaped),
        cmocka_unit_test(test_report_without_graphviz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
