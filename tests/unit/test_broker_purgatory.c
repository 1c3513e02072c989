/*
 * test_broker_purgatory.c — proves delayed operations complete exactly once: at once when
 * ready, on a check of a watched key once ready (in the order they were added), or as
 * expired at their deadline through the io timer; that completing removes every watch;
 * that cancel suppresses the callback; that callbacks may free the op and add new ones;
 * and that destroy expires what is left and frees all memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "broker/purgatory.h"
#include "test_broker_fake_io.h"

struct fetch_op {
    struct purgatory_op op;
    int *available; /* Bytes available; ready when >= need. */
    int need;
    int completions;
    bool expired;
    int order;
};

static int completion_sequence;

static bool fetch_try(struct purgatory_op *op) {
    struct fetch_op *f = (struct fetch_op *)op;
    return *f->available >= f->need;
}

static void fetch_done(struct purgatory_op *op, bool expired) {
    struct fetch_op *f = (struct fetch_op *)op;
    f->completions++;
    f->expired = expired;
    f->order = completion_sequence++;
}

static void init_op(struct fetch_op *f, int *available, int need) {
    memset(f, 0, sizeof(*f));
    f->op.try_complete = fetch_try;
    f->op.on_complete = fetch_done;
    f->available = available;
    f->need = need;
}

static void test_complete_now_check_and_expire(void **state) {
    struct fake_io fio;
    fake_io_init(&fio);
    struct purgatory *p = purgatory_create(&fio.io, "fetch");
    int available = 0;
    struct fetch_op now, a, b, late;
    completion_sequence = 0;
    init_op(&now, &available, 0);
    assert_true(purgatory_add(p, &now.op, (uint64_t[]){1}, 1, 500));
    assert_int_equal(now.completions, 1);
    assert_false(now.expired);

    init_op(&a, &available, 10);
    init_op(&b, &available, 5);
    init_op(&late, &available, 1000);
    assert_false(purgatory_add(p, &a.op, (uint64_t[]){1, 2, 1}, 3, 500));
    assert_false(purgatory_add(p, &b.op, (uint64_t[]){2}, 1, 500));
    assert_false(purgatory_add(p, &late.op, (uint64_t[]){2}, 1, 300));
    assert_int_equal(purgatory_pending(p), 3);
    assert_int_equal(purgatory_watch_count(p, 1), 1); /* Duplicate key watched once. */
    assert_int_equal(purgatory_watch_count(p, 2), 3);
    assert_int_equal(fake_io_timer_count(&fio), 1); /* One io timer for the whole wheel. */

    available = 20;
    assert_int_equal(purgatory_check(p, 3), 0); /* Nobody watches key 3. */
    assert_int_equal(purgatory_check(p, 2), 2);
    assert_int_equal(a.completions, 1);
    assert_int_equal(b.completions, 1);
    assert_true(a.order < b.order); /* Added first, completed first. */
    assert_int_equal(purgatory_watch_count(p, 1), 0);
    assert_int_equal(purgatory_watch_count(p, 2), 1);
    assert_int_equal(late.completions, 0);

    fake_io_advance_ns(&fio, 299 * NS_PER_MS);
    assert_int_equal(late.completions, 0);
    fake_io_advance_ns(&fio, 2 * NS_PER_MS);
    assert_int_equal(late.completions, 1);
    assert_true(late.expired);
    assert_int_equal(purgatory_pending(p), 0);
    assert_int_equal(purgatory_watch_count(p, 2), 0);
    /* Nothing completes twice. */
    available = 5000;
    assert_int_equal(purgatory_check(p, 2), 0);
    fake_io_advance_ns(&fio, 10 * NS_PER_S);
    assert_int_equal(a.completions + b.completions + late.completions, 3);
    purgatory_destroy(p);
    assert_int_equal(fio.bytes_allocated, 0);
    assert_int_equal(fake_io_timer_count(&fio), 0);
    fake_io_fini(&fio);
}

/* A callback that frees its op and parks a new one. */
struct chain_op {
    struct purgatory_op op;
    struct purgatory *p;
    int *available;
    int *completed;
    int generation;
    struct fake_io *fio;
};

static bool chain_try(struct purgatory_op *op) { return *((struct chain_op *)op)->available > 0; }

static void chain_done(struct purgatory_op *op, bool expired) {
    struct chain_op *c = (struct chain_op *)op;
    (*c->completed)++;
    if (c->generation < 3) {
        struct chain_op *next = io_alloc(&c->fio->io, sizeof(*next));
        *next = *c;
        next->generation++;
        purgatory_add(c->p, &next->op, (uint64_t[]){7}, 1, 100);
    }
    io_free(&c->fio->io, c, sizeof(*c));
}

static void test_callbacks_free_and_add(void **state) {
    struct fake_io fio;
    fake_io_init(&fio);
    struct purgatory *p = purgatory_create(&fio.io, "chain");
    int available = 0, completed = 0;
    struct chain_op *c = io_alloc(&fio.io, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->op.try_complete = chain_try;
    c->op.on_complete = chain_done;
    c->p = p;
    c->available = &available;
    c->completed = &completed;
    c->fio = &fio;
    assert_false(purgatory_add(p, &c->op, (uint64_t[]){7}, 1, 100));
    /* Each expiry re-parks a successor; they all expire in turn. */
    fake_io_advance_ns(&fio, 1000 * NS_PER_MS);
    assert_int_equal(completed, 4);
    assert_int_equal(purgatory_pending(p), 0);
    purgatory_destroy(p);
    assert_int_equal(fio.bytes_allocated, 0);
    fake_io_fini(&fio);
}

static void test_cancel_and_destroy(void **state) {
    struct fake_io fio;
    fake_io_init(&fio);
    struct purgatory *p = purgatory_create(&fio.io, "x");
    int available = 0;
    struct fetch_op a, b;
    init_op(&a, &available, 1);
    init_op(&b, &available, 1);
    assert_false(purgatory_add(p, &a.op, (uint64_t[]){1}, 1, 1000));
    assert_false(purgatory_add(p, &b.op, (uint64_t[]){1}, 1, 60000));
    purgatory_cancel(p, &a.op);
    purgatory_cancel(p, &a.op);
    available = 1;
    assert_int_equal(purgatory_check(p, 1), 1);
    assert_int_equal(a.completions, 0);
    assert_int_equal(b.completions, 1);
    /* Many ops across keys; destroy expires the survivors, each exactly once. */
    enum { N = 300 };
    static struct fetch_op many[N];
    available = 0;
    for (int i = 0; i < N; i++) {
        init_op(&many[i], &available, 1);
        uint64_t keys[2] = {(uint64_t)i % 17, 1000 + (uint64_t)i};
        assert_false(purgatory_add(p, &many[i].op, keys, 2, 1000 + (uint64_t)i * 100));
    }
    fake_io_advance_ns(&fio, 1100 * NS_PER_MS); /* Expires the first ~2. */
    purgatory_destroy(p);
    for (int i = 0; i < N; i++) {
        assert_int_equal(many[i].completions, 1);
        assert_true(many[i].expired);
    }
    assert_int_equal(fio.bytes_allocated, 0);
    assert_int_equal(fake_io_timer_count(&fio), 0);
    fake_io_fini(&fio);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_now_check_and_expire),
        cmocka_unit_test(test_callbacks_free_and_add),
        cmocka_unit_test(test_cancel_and_destroy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
