/*
 * test_sim_trace.c — proves the trace store (checkers/trace.c) records what it was given
 * although it interns strings and remembers recent caller pointers:
 *  - equal strings share one stored copy; a caller buffer reused with new content (the same
 *    pointer) records the new content, not the remembered one;
 *  - thousands of distinct strings (the intern table grows, the pointer hints are dropped)
 *    all read back exactly, and field lookup still works;
 *  - the hash is a function of the events: the same events give the same hash, a changed
 *    value, key, node or time gives another;
 *  - past events_max, events are dropped but still change the hash, and overflow is set.
 *
 * Registered by sim/CMakeLists.txt or checkers/CMakeLists.txt as
 *   trial_add_test(test_sim_trace unit tests/unit/test_sim_trace.c trial_checkers)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "checkers/trace.h"

static void add_msg(struct trace *t, uint64_t time_ns, const char *node, int64_t msg,
                    const char *to) {
    const struct io_trace_field f[] = {IO_TF_I("msg", msg), IO_TF_S("to", to)};
    assert_int_not_equal(trace_add(t, time_ns, node, "net_send", f, 2), TRACE_NONE);
}

static void test_interned_and_reused_buffers(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100);
    char buf[32];
    snprintf(buf, sizeof(buf), "n2");
    add_msg(&t, 1, "n1", 7, buf);
    snprintf(buf, sizeof(buf), "n3"); /* same pointer, new content */
    add_msg(&t, 2, "n1", 8, buf);
    snprintf(buf, sizeof(buf), "n"); /* a prefix of the remembered string */
    add_msg(&t, 3, "n1", 9, buf);
    snprintf(buf, sizeof(buf), "n22"); /* an extension of it */
    add_msg(&t, 4, "n1", 10, buf);
    assert_int_equal(t.count, 4);
    assert_string_equal(trace_get_str(&t.events[0], "to"), "n2");
    assert_string_equal(trace_get_str(&t.events[1], "to"), "n3");
    assert_string_equal(trace_get_str(&t.events[2], "to"), "n");
    assert_string_equal(trace_get_str(&t.events[3], "to"), "n22");
    int64_t v = 0;
    assert_true(trace_get_int(&t.events[1], "msg", &v));
    assert_int_equal(v, 8);
    /* One stored copy per distinct string, whoever passed it. */
    char other[8] = "n1";
    add_msg(&t, 5, other, 11, "n2");
    assert_ptr_equal(t.events[0].node, t.events[4].node);
    assert_ptr_equal(t.events[0].name, t.events[4].name);
    assert_ptr_equal(trace_get_str(&t.events[0], "to"), trace_get_str(&t.events[4], "to"));
    assert_ptr_not_equal(trace_get_str(&t.events[0], "to"), trace_get_str(&t.events[1], "to"));
    trace_free(&t);
}

static void test_many_distinct_strings(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 100000);
    char buf[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof(buf), "value-%d-%s", i, i % 3 == 0 ? "with-a-longer-tail" : "x");
        add_msg(&t, (uint64_t)i, i % 2 ? "n1" : "n2", i, buf);
    }
    assert_int_equal(t.count, 5000);
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof(buf), "value-%d-%s", i, i % 3 == 0 ? "with-a-longer-tail" : "x");
        assert_string_equal(trace_get_str(&t.events[i], "to"), buf);
        assert_string_equal(t.events[i].node, i % 2 ? "n1" : "n2");
        assert_int_equal(t.events[i].index, (size_t)i);
        assert_int_equal(t.events[i].time_ns, (uint64_t)i);
    }
    trace_free(&t);
}

static uint64_t hash_of(uint64_t time_ns, const char *node, int64_t msg, const char *to,
                        const char *key) {
    struct trace t;
    trace_init(&t, 10);
    add_msg(&t, 1, "n1", 1, "n2");
    const struct io_trace_field f[] = {IO_TF_I(key, msg), IO_TF_S("to", to)};
    trace_add(&t, time_ns, node, "net_send", f, 2);
    uint64_t h = t.hash;
    trace_free(&t);
    return h;
}

static void test_hash_is_a_function_of_the_events(void **state) {
    (void)state;
    uint64_t base = hash_of(5, "n1", 3, "n2", "msg");
    assert_int_equal(hash_of(5, "n1", 3, "n2", "msg"), base);
    assert_int_not_equal(hash_of(6, "n1", 3, "n2", "msg"), base);
    assert_int_not_equal(hash_of(5, "n3", 3, "n2", "msg"), base);
    assert_int_not_equal(hash_of(5, "n1", 4, "n2", "msg"), base);
    assert_int_not_equal(hash_of(5, "n1", 3, "n22", "msg"), base);
    assert_int_not_equal(hash_of(5, "n1", 3, "n2", "msh"), base);
}

static void test_overflow_drops_but_hashes(void **state) {
    (void)state;
    struct trace t;
    trace_init(&t, 2);
    add_msg(&t, 1, "n1", 1, "n2");
    add_msg(&t, 2, "n1", 2, "n2");
    uint64_t before = t.hash;
    const struct io_trace_field f[] = {IO_TF_S("to", "a-string-never-seen")};
    assert_int_equal(trace_add(&t, 3, "n1", "net_send", f, 1), TRACE_NONE);
    assert_true(t.overflow);
    assert_int_equal(t.count, 2);
    assert_int_not_equal(t.hash, before);
    trace_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interned_and_reused_buffers),
        cmocka_unit_test(test_many_distinct_strings),
        cmocka_unit_test(test_hash_is_a_function_of_the_events),
        cmocka_unit_test(test_overflow_drops_but_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
