/*
 * test_checker_history.c — proves the models checkers read (checkers/history.h, trace.h):
 *  - the history records invocation and completion with their virtual times, copies every
 *    string and record list, describes ops in one line, and enforces its bound (dropped
 *    invocations return HISTORY_NONE, set overflow, and their completions are ignored);
 *  - the trace copies events and typed fields, finds fields by key and type, describes
 *    events, enforces its bound, and its hash is equal for equal traces and differs when
 *    any time, node, name, key or value differs (the determinism self-check relies on it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "base/base.h"
#include "checkers/history.h"
#include "checkers/trace.h"

static void test_history_records_and_copies(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 100);
    char value[16] = "v1";
    size_t p = history_produce_invoke(&h, 3, 1000, "t1", 0, NULL, value, -1, false);
    strcpy(value, "CLOBBERED"); /* The history must hold its own copy. */
    assert_int_equal(p, 0);
    assert_int_equal(h.ops[p].status, HIST_PENDING);
    history_produce_complete(&h, p, HIST_OK, 2000, 7, 0);

    char rv[2][8] = {"v1", "v2"};
    struct hist_record recs[2] = {{.partition = 0, .offset = 7, .value = rv[0]},
                                  {.partition = 0, .offset = 8, .value = rv[1]}};
    size_t f = history_fetch_invoke(&h, 4, 3000, "t1", 2, true);
    history_fetch_complete(&h, f, HIST_OK, 3500, recs, 2, 0);
    strcpy(rv[0], "XX");
    size_t c = history_commit_invoke(&h, 4, 4000, "g1", "t1", 0, 9, 5);
    history_commit_complete(&h, c, HIST_FAILED, 4100, 22);
    size_t o = history_offset_fetch_invoke(&h, 4, 5000, "g1", "t1", 0);
    history_offset_fetch_complete(&h, o, HIST_OK, 5100, 9, 0);

    assert_int_equal(h.count, 4);
    const struct hist_op *op = history_op(&h, p);
    assert_string_equal(op->value, "v1");
    assert_null(op->key);
    assert_int_equal(op->offset, 7);
    assert_true(op->invoke_ns == 1000 && op->complete_ns == 2000);
    op = history_op(&h, f);
    assert_int_equal(op->record_count, 2);
    assert_string_equal(op->records[0].value, "v1");
    assert_int_equal(op->assignment, 2);
    assert_true(op->read_committed);
    op = history_op(&h, c);
    assert_int_equal(op->status, HIST_FAILED);
    assert_int_equal(op->error_code, 22);
    assert_int_equal(op->generation, 5);
    assert_int_equal(history_op(&h, o)->offset, 9);

    char line[256];
    history_describe_op(history_op(&h, p), line, sizeof(line));
    assert_string_equal(line, "#0 proc3 produce t1/0 value=v1 acks=all -> ok offset 7 "
                              "[0.000001s..0.000002s]");
    history_describe_op(history_op(&h, f), line, sizeof(line));
    assert_non_null(strstr(line, "2 records (first 0@7, last 0@8)"));
    history_describe_op(history_op(&h, c), line, sizeof(line));
    assert_non_null(strstr(line, "commit group=g1 t1/0 offset 9 gen 5 -> failed (error 22)"));
    /* A failed produce reports no offset even if one was passed. */
    size_t p2 = history_produce_invoke(&h, 3, 6000, "t1", 0, "k", "v9", 1, false);
    history_produce_complete(&h, p2, HIST_UNKNOWN, 7000, 12, 7);
    assert_int_equal(history_op(&h, p2)->offset, -1);
    assert_string_equal(history_op(&h, p2)->key, "k");
    history_free(&h);
    assert_int_equal(h.count, 0);
}

static void test_history_bound(void **state) {
    (void)state;
    struct history h;
    history_init(&h, 2);
    size_t a = history_produce_invoke(&h, 1, 0, "t", 0, NULL, "a", -1, false);
    size_t b = history_produce_invoke(&h, 1, 0, "t", 0, NULL, "b", -1, false);
    size_t c = history_produce_invoke(&h, 1, 0, "t", 0, NULL, "c", -1, false);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_true(c == HISTORY_NONE);
    assert_true(h.overflow);
    history_produce_complete(&h, c, HIST_OK, 10, 0, 0); /* Ignored, no crash. */
    assert_int_equal(h.count, 2);
    history_free(&h);
}

static void add_sample(struct trace *t, int64_t offset, const char *node) {
    trace_add(t, 5, node, "append",
              (struct io_trace_field[]){IO_TF_S("topic", "t1"), IO_TF_I("offset", offset)}, 2);
}

static void test_trace_fields_and_describe(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 10);
    char topic[8] = "t1";
    struct io_trace_field fields[] = {IO_TF_S("topic", topic), IO_TF_I("partition", 3),
                                      IO_TF_I("offset", -5)};
    size_t i = trace_add(&t, 1500000000, "n1", "append", fields, ARRAY_LEN(fields));
    strcpy(topic, "zz");
    assert_int_equal(i, 0);
    const struct trace_event *e = &t.events[0];
    int64_t v;
    assert_true(trace_get_int(e, "partition", &v));
    assert_int_equal(v, 3);
    assert_true(trace_get_int(e, "offset", &v));
    assert_int_equal(v, -5);
    assert_false(trace_get_int(e, "topic", &v)); /* A string field is not an int. */
    assert_string_equal(trace_get_str(e, "topic"), "t1");
    assert_null(trace_get_str(e, "offset"));
    assert_null(trace_get_str(e, "missing"));
    char line[128];
    size_t n = trace_describe_event(e, line, sizeof(line));
    assert_string_equal(line, "1.500000s n1 append topic=t1 partition=3 offset=-5");
    assert_int_equal(n, strlen(line));
    /* Truncation still reports the full length. */
    char small[10];
    assert_int_equal(trace_describe_event(e, small, sizeof(small)), n);
    assert_int_equal(trace_add(&t, 1500000000, "sim", "tick", NULL, 0), 1);
    trace_free(&t);
}

static void test_trace_hash_and_bound(void **state) {
    (void)state;
    struct trace a, b, c, d;
    trace_init(&a, 100);
    trace_init(&b, 100);
    trace_init(&c, 100);
    trace_init(&d, 1);
    for (int64_t i = 0; i < 5; i++) {
        add_sample(&a, i, "n1");
        add_sample(&b, i, "n1");
        add_sample(&c, i, i == 3 ? "n2" : "n1");
        add_sample(&d, i, "n1");
    }
    assert_true(a.hash == b.hash);
    assert_true(a.hash != c.hash);
    /* The bound drops events but the hash still covers every event. */
    assert_int_equal(d.count, 1);
    assert_true(d.overflow);
    assert_true(d.hash == a.hash);
    struct trace e;
    trace_init(&e, 100);
    for (int64_t i = 0; i < 5; i++)
        add_sample(&e, i == 4 ? 40 : i, "n1");
    assert_true(e.hash != a.hash);
    trace_free(&a);
    trace_free(&b);
    trace_free(&c);
    trace_free(&d);
    trace_free(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_records_and_copies),
        cmocka_unit_test(test_history_bound),
        cmocka_unit_test(test_trace_fields_and_describe),
        cmocka_unit_test(test_trace_hash_and_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
