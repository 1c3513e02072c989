/*
 * test_timing_wheel.c — proves the hierarchical timing wheel fires every task at or after
 * its expiration and no later than one tick after (after the owner advances to it), in
 * expiration order (FIFO within a tick), across overflow levels; that cancelled tasks never
 * fire; that already-expired adds are refused; that fire callbacks may add and cancel; and
 * that next_expiration never lies later than the earliest pending task.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/timing_wheel.h"

#define TASKS 2000

struct item {
    struct timing_wheel_task task;
    uint64_t due_ms;
    uint64_t fired_at_ms;
    int order;
    int id;
};

static uint64_t clock_ms;
static int fire_sequence;
static struct timing_wheel *current_wheel;
static struct item *cancel_target;
static struct item *readd_item;

static void on_fire(struct timing_wheel_task *task) {
    struct item *item = (struct item *)task;
    assert_int_equal(item->fired_at_ms, 0);
    item->fired_at_ms = clock_ms;
    item->order = fire_sequence++;
    if (cancel_target != NULL) {
        timing_wheel_cancel(current_wheel, &cancel_target->task);
        cancel_target = NULL;
    }
    if (readd_item != NULL && readd_item == item) {
        readd_item = NULL;
        item->fired_at_ms = 0;
        item->due_ms = clock_ms + 500;
        assert_true(timing_wheel_add(current_wheel, &item->task, item->due_ms, on_fire));
    }
}

/* Advances one ms at a time, as a timer-driven owner effectively does. */
static void run_until(struct timing_wheel *wheel, uint64_t end_ms) {
    while (clock_ms < end_ms) {
        clock_ms++;
        timing_wheel_advance(wheel, clock_ms);
    }
}

static void reset(struct timing_wheel *wheel, uint64_t start_ms) {
    clock_ms = start_ms;
    fire_sequence = 0;
    current_wheel = wheel;
    cancel_target = NULL;
    readd_item = NULL;
}

static void test_fires_in_order_across_levels(void **state) {
    static struct timing_wheel wheel;
    static struct item items[TASKS];
    reset(&wheel, 123457);
    timing_wheel_init(&wheel, 1, clock_ms);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < TASKS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memset(&items[i], 0, sizeof(items[i]));
        items[i].id = i;
        /* Delays from 1 ms to ~300 s: levels 0..3 of a 64-slot wheel. */
        uint64_t delay = 1 + x % (i % 4 == 0 ? 300000 : 5000);
        items[i].due_ms = clock_ms + delay;
        assert_true(timing_wheel_add(&wheel, &items[i].task, items[i].due_ms, on_fire));
    }
    assert_int_equal(timing_wheel_count(&wheel), TASKS);
    assert_true(wheel.level_count >= 3);
    run_until(&wheel, clock_ms + 300001);
    assert_int_equal(timing_wheel_count(&wheel), 0);
    for (int i = 0; i < TASKS; i++) {
        assert_true(items[i].fired_at_ms >= items[i].due_ms);
        assert_true(items[i].fired_at_ms <= items[i].due_ms + 1);
        for (int j = 0; j < TASKS; j += 97) {
            if (items[j].due_ms < items[i].due_ms) assert_true(items[j].order < items[i].order);
        }
    }
}

static void test_fifo_within_tick_and_big_jumps(void **state) {
    static struct timing_wheel wheel;
    static struct item items[10];
    reset(&wheel, 0);
    timing_wheel_init(&wheel, 10, clock_ms); /* 10 ms ticks. */
    for (int i = 0; i < 10; i++) {
        memset(&items[i], 0, sizeof(items[i]));
        items[i].due_ms = 100000 + (uint64_t)(i % 2); /* Same tick; beyond level 0. */
        assert_true(timing_wheel_add(&wheel, &items[i].task, items[i].due_ms, on_fire));
    }
    uint64_t next;
    assert_true(timing_wheel_next_expiration(&wheel, &next));
    assert_true(next <= 100000);
    /* One big jump (an owner woken late) still fires them all, in add order. */
    clock_ms = 250000;
    assert_int_equal(timing_wheel_advance(&wheel, clock_ms), 10);
    for (int i = 0; i < 10; i++) assert_int_equal(items[i].order, i);
    assert_false(timing_wheel_next_expiration(&wheel, &next));
}

static void test_cancel_and_expired_add(void **state) {
    static struct timing_wheel wheel;
    static struct item items[4];
    reset(&wheel, 1000);
    timing_wheel_init(&wheel, 1, clock_ms);
    memset(items, 0, sizeof(items));
    /* An expiration within the current tick is refused: the caller runs it now. */
    assert_false(timing_wheel_add(&wheel, &items[0].task, 1000, on_fire));
    assert_false(timing_wheel_add(&wheel, &items[0].task, 10, on_fire));
    assert_false(timing_wheel_pending(&items[0].task));
    assert_true(timing_wheel_add(&wheel, &items[1].task, 1050, on_fire));
    assert_true(timing_wheel_add(&wheel, &items[2].task, 90000, on_fire));
    assert_true(timing_wheel_pending(&items[2].task));
    timing_wheel_cancel(&wheel, &items[1].task);
    timing_wheel_cancel(&wheel, &items[2].task);
    timing_wheel_cancel(&wheel, &items[2].task); /* Twice is a no-op. */
    assert_int_equal(timing_wheel_count(&wheel), 0);
    run_until(&wheel, 100000);
    assert_int_equal(items[1].fired_at_ms, 0);
    assert_int_equal(items[2].fired_at_ms, 0);
    /* Slots are reusable after a cancel in a later round. */
    items[1].due_ms = clock_ms + 64;
    assert_true(timing_wheel_add(&wheel, &items[1].task, items[1].due_ms, on_fire));
    run_until(&wheel, clock_ms + 100);
    assert_int_equal(items[1].fired_at_ms, items[1].due_ms);
}

static void test_callbacks_add_and_cancel(void **state) {
    static struct timing_wheel wheel;
    static struct item items[3];
    reset(&wheel, 0);
    timing_wheel_init(&wheel, 1, clock_ms);
    memset(items, 0, sizeof(items));
    items[0].due_ms = 10;
    items[1].due_ms = 10; /* Same bucket: cancelled by items[0]'s callback. */
    items[2].due_ms = 20;
    for (int i = 0; i < 3; i++) {
        assert_true(timing_wheel_add(&wheel, &items[i].task, items[i].due_ms, on_fire));
    }
    cancel_target = &items[1];
    readd_item = &items[2];
    run_until(&wheel, 1000);
    assert_int_equal(items[0].fired_at_ms, 10);
    assert_int_equal(items[1].fired_at_ms, 0);
    assert_int_equal(items[2].fired_at_ms, 520); /* Re-added at 20 for +500. */
    assert_int_equal(timing_wheel_count(&wheel), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_in_order_across_levels),
        cmocka_unit_test(test_fifo_within_tick_and_big_jumps),
        cmocka_unit_test(test_cancel_and_expired_add),
        cmocka_unit_test(test_callbacks_add_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
