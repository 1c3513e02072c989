/*
 * test_sim_world.c — proves the world's core contracts: the scheduler runs events by
 * (virtual time, sequence) and equal times in scheduling order; timers never fire early,
 * fire in deadline order, and cancel works; PRNG streams are independent (extra draws in
 * one stream leave another unchanged) and reproducible; node clocks drift and jump while
 * the monotonic clock never decreases; a paused node runs nothing until resumed; a crash
 * frees every allocation of the node and drops its timers; the trace hash is a function of
 * the seed and the run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim.h"

#define LOG_MAX 64

struct log {
    int items[LOG_MAX];
    uint64_t times[LOG_MAX];
    size_t count;
};

static struct sim_world *world;
static struct log events;

static void record(struct sim_world *w, void *arg) {
    assert_true(events.count < LOG_MAX);
    events.items[events.count] = (int)(intptr_t)arg;
    events.times[events.count] = sim_world_now_ns(w);
    events.count++;
}

static void test_scheduler_order(void **state) {
    (void)state;
    world = sim_world_create(1);
    memset(&events, 0, sizeof(events));
    sim_world_schedule(world, 300, record, (void *)3);
    sim_world_schedule(world, 100, record, (void *)1);
    sim_world_schedule(world, 200, record, (void *)2);
    sim_world_schedule(world, 200, record, (void *)22); /* same time: after 2 */
    uint64_t gone = sim_world_schedule(world, 150, record, (void *)99);
    sim_world_schedule(world, 100, record, (void *)11);
    sim_world_cancel(world, gone);
    while (sim_world_step(world)) {
    }
    int want[] = {1, 11, 2, 22, 3};
    uint64_t want_t[] = {100, 100, 200, 200, 300};
    assert_int_equal(events.count, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(events.items[i], want[i]);
        assert_int_equal(events.times[i], want_t[i]);
    }
    assert_false(sim_world_step(world));
    sim_world_run_until(world, 5000);
    assert_int_equal(sim_world_now_ns(world), 5000);
    sim_world_destroy(world);
}

struct timer_probe {
    struct io *io;
    uint64_t deadline_ns;
    int id;
};

static void on_timer(void *arg) {
    struct timer_probe *p = arg;
    uint64_t now = io_now_ns(p->io);
    assert_true(now >= p->deadline_ns); /* never early */
    assert_true(events.count < LOG_MAX);
    events.items[events.count++] = p->id;
}

static void test_timers(void **state) {
    (void)state;
    world = sim_world_create(2);
    memset(&events, 0, sizeof(events));
    struct sim_node *node = sim_node_add(world, "n", NULL, NULL);
    sim_node_set_clock(node, 0, 250000); /* runs 25% fast: deadlines come sooner */
    struct io *io = sim_node_io(node);
    uint64_t base = io_now_ns(io);
    static struct timer_probe probes[6];
    uint64_t offsets[6] = {5000, 1000, 3000, 3000, 2000, 4000};
    io_timer_id ids[6];
    for (int i = 0; i < 6; i++) {
        probes[i] = (struct timer_probe){io, base + offsets[i], i};
        ids[i] = io_timer_start(io, probes[i].deadline_ns, on_timer, &probes[i]);
        assert_true(ids[i] != 0);
    }
    io_timer_cancel(io, ids[5]);
    io_timer_cancel(io, ids[5]); /* twice is a no-op */
    io_timer_cancel(io, 0);
    /* The clock slows down halfway: pending timers must still not fire early. */
    sim_world_run_until(world, sim_world_now_ns(world) + 1500);
    sim_node_set_clock(node, 0, -200000);
    while (sim_world_step(world)) {
    }
    int want[] = {1, 4, 2, 3, 0};
    assert_int_equal(events.count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(events.items[i], want[i]);
    sim_world_destroy(world);
}

static void test_prng_streams(void **state) {
    (void)state;
    struct sim_world *a = sim_world_create(99);
    struct sim_world *b = sim_world_create(99);
    /* Extra draws from the workload stream of b leave its network stream untouched. */
    for (int i = 0; i < 1000; i++)
        sim_rng_next(sim_world_rng(b, SIM_STREAM_WORKLOAD));
    for (int i = 0; i < 100; i++) {
        assert_int_equal(sim_rng_next(sim_world_rng(a, SIM_STREAM_NETWORK)),
                         sim_rng_next(sim_world_rng(b, SIM_STREAM_NETWORK)));
    }
    /* Streams differ from each other, and seeds differ. */
    struct sim_rng r1, r2, r3;
    sim_rng_init(&r1, 5, 0);
    sim_rng_init(&r2, 5, 1);
    sim_rng_init(&r3, 6, 0);
    uint64_t x1 = sim_rng_next(&r1), x2 = sim_rng_next(&r2), x3 = sim_rng_next(&r3);
    assert_true(x1 != x2 && x1 != x3 && x2 != x3);
    /* Node entropy is per node and survives other nodes' draws. */
    struct sim_node *na = sim_node_add(a, "x", NULL, NULL);
    sim_node_add(a, "y", NULL, NULL);
    struct sim_node *nb = sim_node_add(b, "x", NULL, NULL);
    struct sim_node *yb = sim_node_add(b, "y", NULL, NULL);
    for (int i = 0; i < 50; i++)
        io_random_u64(sim_node_io(yb));
    for (int i = 0; i < 50; i++) {
        assert_int_equal(io_random_u64(sim_node_io(na)), io_random_u64(sim_node_io(nb)));
    }
    /* Bounded draws stay in range. */
    for (int i = 0; i < 1000; i++)
        assert_true(sim_rng_below(&r1, 7) < 7);
    sim_world_destroy(a);
    sim_world_destroy(b);
}

static void test_clocks(void **state) {
    (void)state;
    world = sim_world_create(3);
    struct sim_node *n = sim_node_add(world, "n", NULL, NULL);
    struct sim_node *m = sim_node_add(world, "m", NULL, NULL);
    struct io *io = sim_node_io(n);
    sim_node_set_clock(n, 0, 1000); /* +1000 ppm */
    uint64_t mono0 = io_now_ns(io);
    int64_t wall0 = io_wall_ms(io);
    sim_world_run_until(world, sim_world_now_ns(world) + 1000000000);
    uint64_t mono1 = io_now_ns(io);
    assert_int_equal(mono1 - mono0, 1001000000); /* 1 s of virtual time, 1.001 s of node time */
    assert_true(io_wall_ms(io) - wall0 >= 1000);
    /* A wall jump backwards moves the wall clock, never the monotonic clock. */
    sim_node_jump_wall(n, -60000);
    assert_true(io_wall_ms(io) < wall0);
    assert_true(io_now_ns(io) >= mono1);
    sim_node_set_clock(n, 5000, -300000);
    uint64_t prev = io_now_ns(io);
    for (int i = 0; i < 100; i++) {
        sim_world_run_until(world, sim_world_now_ns(world) + 1234567);
        uint64_t now = io_now_ns(io);
        assert_true(now >= prev);
        prev = now;
    }
    /* Nodes do not share a monotonic origin. */
    assert_true(io_now_ns(sim_node_io(m)) != io_now_ns(io));
    sim_world_destroy(world);
}

static int pause_fired;
static void pause_timer(void *arg) {
    (void)arg;
    pause_fired++;
}

static void test_pause(void **state) {
    (void)state;
    world = sim_world_create(4);
    struct sim_node *n = sim_node_add(world, "n", NULL, NULL);
    struct io *io = sim_node_io(n);
    pause_fired = 0;
    io_timer_start(io, io_now_ns(io) + 1000000, pause_timer, NULL);
    sim_node_pause(n);
    assert_true(sim_node_is_paused(n));
    sim_world_run_until(world, sim_world_now_ns(world) + 500000000);
    assert_int_equal(pause_fired, 0);
    sim_node_resume(n);
    sim_world_run_until(world, sim_world_now_ns(world));
    assert_int_equal(pause_fired, 1);
    sim_world_destroy(world);
}

struct crash_prog {
    int started;
    void *mem;
};

static void crash_timer(void *arg) {
    (void)arg;
    fail_msg("a crashed node's timer fired");
}

static void crash_start(struct io *io, void *arg) {
    struct crash_prog *p = arg;
    p->started++;
    p->mem = io_alloc(io, 4096);
    for (int i = 0; i < 10; i++)
        io_alloc(io, (size_t)(i + 1) * 10); /* "leaked" on purpose */
    io_timer_start(io, io_now_ns(io) + 1000000000, crash_timer, NULL);
    io_tracef(io, "started", IO_TF_I("count", p->started), IO_TF_S("who", "prog"));
}

static void test_crash_frees_and_restart(void **state) {
    (void)state;
    world = sim_world_create(5);
    struct crash_prog prog = {0};
    struct sim_node *n = sim_node_add(world, "n", crash_start, &prog);
    assert_int_equal(prog.started, 0); /* start runs from the scheduler */
    sim_world_run_until(world, 1000);
    assert_int_equal(prog.started, 1);
    assert_int_equal(sim_node_live_allocs(n), 11);
    sim_node_crash(n);
    assert_false(sim_node_is_up(n));
    assert_int_equal(sim_node_live_allocs(n), 0);
    assert_int_equal(sim_node_live_bytes(n), 0);
    sim_world_run_until(world, 5000000000ULL); /* the timer must not fire */
    sim_node_restart(n);
    sim_world_run_until(world, 5000001000ULL);
    assert_int_equal(prog.started, 2);
    assert_int_equal(sim_node_live_allocs(n), 11);
    sim_node_crash(n);
    sim_world_destroy(world);
}

static uint64_t run_for_hash(uint64_t seed) {
    struct sim_world *w = sim_world_create(seed);
    struct crash_prog prog = {0};
    struct sim_node *n = sim_node_add(w, "n", crash_start, &prog);
    sim_world_run_until(w, 1000);
    sim_node_crash(n);
    sim_node_restart(n);
    sim_world_run_until(w, 2000);
    uint64_t h = sim_world_trace_hash(w);
    sim_node_crash(n);
    sim_world_destroy(w);
    return h;
}

static void test_trace_hash(void **state) {
    (void)state;
    assert_int_equal(run_for_hash(10), run_for_hash(10));
    assert_true(run_for_hash(10) != run_for_hash(11));
}

struct hooks {
    size_t traces;
    size_t logs;
    char last_log[128];
    int64_t last_count;
};

static void trace_hook(void *arg, struct sim_node *node, uint64_t now_ns, const char *event,
                       const struct io_trace_field *fields, size_t count) {
    struct hooks *h = arg;
    (void)now_ns;
    assert_string_equal(sim_node_name(node), "n");
    assert_string_equal(event, "started");
    assert_int_equal(count, 2);
    assert_string_equal(fields[1].s, "prog");
    h->last_count = fields[0].i;
    h->traces++;
}

static void log_hook(void *arg, struct sim_node *node, uint64_t now_ns, enum io_log_level level,
                     const char *message) {
    struct hooks *h = arg;
    (void)node, (void)now_ns;
    assert_int_equal(level, IO_LOG_WARN);
    snprintf(h->last_log, sizeof(h->last_log), "%s", message);
    h->logs++;
}

static void test_hooks_and_buggify(void **state) {
    (void)state;
    world = sim_world_create(6);
    struct hooks h = {0};
    sim_world_set_trace_hook(world, trace_hook, &h);
    sim_world_set_log_hook(world, log_hook, &h);
    struct crash_prog prog = {0};
    struct sim_node *n = sim_node_add(world, "n", crash_start, &prog);
    sim_world_run_until(world, 1000);
    assert_int_equal(h.traces, 1);
    assert_int_equal(h.last_count, 1);
    io_log(sim_node_io(n), IO_LOG_WARN, "disk %s at %d%%", "full", 99);
    assert_int_equal(h.logs, 1);
    assert_string_equal(h.last_log, "disk full at 99%");
    /* Buggify: off by default; when on, some site fires sometimes, never always. */
    struct io *io = sim_node_io(n);
    for (int i = 0; i < 1000; i++)
        assert_false(io_buggify(io, "site"));
    sim_world_set_buggify(world, true);
    size_t fired = 0;
    char site[16];
    for (int s = 0; s < 40; s++) {
        snprintf(site, sizeof(site), "site-%d", s);
        for (int i = 0; i < 100; i++)
            fired += io_buggify(io, site);
    }
    assert_true(fired > 0 && fired < 4000 / 4);
    sim_node_crash(n);
    sim_world_destroy(world);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scheduler_order), cmocka_unit_test(test_timers),
        cmocka_unit_test(test_prng_streams),    cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_pause),           cmocka_unit_test(test_crash_frees_and_restart),
        cmocka_unit_test(test_trace_hash),      cmocka_unit_test(test_hooks_and_buggify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
