/*
 * test_checker_random.c — proves the history checkers on many generated histories, not just
 * hand-written ones: for 300 seeds a model partition log (records and holes such as
 * transaction markers) is produced with acks=all and read by three consumers in chunks,
 * with reassignments that rewind, plus a final full read. Then:
 *  - the faithful history passes I-REPL-1, I-REPL-2 and I-GRP-4 (no false alarms);
 *  - overwriting one value in one poll makes I-REPL-1 and I-REPL-2 fail;
 *  - dropping one record from the middle of a poll makes I-REPL-1 and I-GRP-4 fail;
 *  - swapping two records of a poll makes I-GRP-4 fail;
 * and every failure names the offset that was tampered with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "checkers/check.h"

#define LOG_MAX   400
#define CHUNK_MAX 16

enum mutation { MUT_NONE = 0, MUT_OVERWRITE, MUT_DROP, MUT_SWAP };

static uint64_t rng_next(uint64_t *x) {
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ULL;
}
static uint64_t rng_below(uint64_t *x, uint64_t n) { return rng_next(x) % n; }

struct model {
    bool is_record[LOG_MAX]; /* False: a hole (marker) that no fetch returns. */
    size_t size;
};

/*
 * Builds the history of one seed. The `target`-th poll that returns at least three
 * records gets the mutation; *tampered is the offset it affects (or -1 if no poll
 * qualified).
 */
static void generate(uint64_t seed, enum mutation mutation, struct history *h, int64_t *tampered) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 7;
    struct model m = {.size = 100 + rng_below(&x, LOG_MAX - 100)};
    for (size_t i = 0; i < m.size; i++)
        m.is_record[i] = rng_below(&x, 10) != 0;
    size_t target = rng_below(&x, 5);
    size_t eligible = 0;
    *tampered = -1;
    history_init(h, 100000);

    size_t produced = 0; /* Offsets [0, produced) are acked. */
    uint64_t now = 1000;
    int64_t position[3] = {0, 0, 0};
    uint32_t assignment[3] = {1, 1, 1};
    while (produced < m.size) {
        now += 1 + rng_below(&x, 1000);
        if (rng_below(&x, 3) != 0) {
            /* Produce the next record (holes are written by no producer). */
            if (m.is_record[produced]) {
                char value[32];
                snprintf(value, sizeof(value), "s%" PRIu64 "-v%zu", seed, produced);
                size_t op = history_produce_invoke(h, 9, now, "t", 0, NULL, value, -1, false);
                history_produce_complete(h, op, HIST_OK, now + 1, (int64_t)produced, 0);
                now += 2;
            }
            produced++;
            continue;
        }
        /* A poll by one consumer of up to CHUNK_MAX records below the acked end. */
        size_t c = rng_below(&x, 3);
        if (rng_below(&x, 20) == 0 && position[c] > 0) {
            assignment[c]++; /* Rebalance: the new assignment may rewind. */
            position[c] = (int64_t)rng_below(&x, (uint64_t)position[c]);
        }
        struct hist_record recs[CHUNK_MAX];
        char values[CHUNK_MAX][32];
        size_t n = 0;
        size_t want = 1 + rng_below(&x, CHUNK_MAX);
        int64_t o = position[c];
        while (n < want && o < (int64_t)produced) {
            if (m.is_record[o]) {
                snprintf(values[n], sizeof(values[n]), "s%" PRIu64 "-v%" PRId64, seed, o);
                recs[n] = (struct hist_record){.partition = 0, .offset = o, .value = values[n]};
                n++;
            }
            o++;
        }
        position[c] = o;
        if (n >= 3 && mutation != MUT_NONE && *tampered < 0 && eligible++ == target) {
            size_t mid = 1 + rng_below(&x, n - 2);
            *tampered = recs[mid].offset;
            if (mutation == MUT_OVERWRITE) {
                snprintf(values[mid], sizeof(values[mid]), "forged");
            } else if (mutation == MUT_DROP) {
                memmove(&recs[mid], &recs[mid + 1], (n - mid - 1) * sizeof(recs[0]));
                n--;
            } else {
                struct hist_record tmp = recs[mid];
                recs[mid] = recs[mid + 1];
                recs[mid + 1] = tmp;
                *tampered = recs[mid + 1].offset; /* Skipped over, then read late. */
            }
        }
        size_t op = history_fetch_invoke(h, (int32_t)c, now, "t", assignment[c], false);
        history_fetch_complete(h, op, HIST_OK, now + 1, recs, n, 0);
        now += 2;
    }
    /* The final full read, by a verifier process, in chunks. */
    int64_t o = 0;
    while (o < (int64_t)m.size) {
        struct hist_record recs[CHUNK_MAX];
        char values[CHUNK_MAX][32];
        size_t n = 0;
        while (n < CHUNK_MAX && o < (int64_t)m.size) {
            if (m.is_record[o]) {
                snprintf(values[n], sizeof(values[n]), "s%" PRIu64 "-v%" PRId64, seed, o);
                recs[n] = (struct hist_record){.partition = 0, .offset = o, .value = values[n]};
                n++;
            }
            o++;
        }
        now += 10;
        size_t op = history_fetch_invoke(h, 8, now, "t", 1, false);
        history_fetch_complete(h, op, HIST_OK, now + 1, recs, n, 0);
    }
}

static void run_checks(const struct history *h, struct check_result r[3]) {
    struct check_input in = {.history = h};
    check_no_acked_loss(&in, &r[0]);
    check_one_value_per_offset(&in, &r[1]);
    check_monotonic_reads(&in, &r[2]);
}

static void test_faithful_histories_pass(void **state) {
    (void)state;
    size_t checked = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        struct history h;
        int64_t tampered;
        generate(seed, MUT_NONE, &h, &tampered);
        struct check_result r[3];
        run_checks(&h, r);
        for (int i = 0; i < 3; i++) {
            if (r[i].violated) fprintf(stderr, "seed %" PRIu64 ": %s\n", seed, r[i].summary);
            assert_false(r[i].violated);
        }
        checked += r[0].checked_count;
        history_free(&h);
    }
    assert_true(checked > 300 * 50); /* Real work was checked, not empty histories. */
}

static void test_mutations_are_caught(void **state) {
    (void)state;
    size_t caught[4] = {0};
    for (uint64_t seed = 1; seed <= 300; seed++) {
        for (enum mutation m = MUT_OVERWRITE; m <= MUT_SWAP; m++) {
            struct history h;
            int64_t tampered;
            generate(seed, m, &h, &tampered);
            if (tampered < 0) {
                history_free(&h);
                continue;
            }
            struct check_result r[3];
            run_checks(&h, r);
            bool want[3] = {m != MUT_SWAP, m == MUT_OVERWRITE, m != MUT_OVERWRITE};
            for (int i = 0; i < 3; i++) {
                if (!want[i]) continue;
                if (!r[i].violated || r[i].offset != tampered) {
                    fprintf(stderr,
                            "seed %" PRIu64 " mutation %d checker %s: violated=%d "
                            "offset %" PRId64 " want %" PRId64 " (%s)\n",
                            seed, (int)m, r[i].invariant, r[i].violated, r[i].offset, tampered,
                            r[i].summary);
                }
                assert_true(r[i].violated);
                assert_int_equal(r[i].offset, tampered);
                assert_true(r[i].evidence_count >= 2);
            }
            caught[m]++;
            history_free(&h);
        }
    }
    for (enum mutation m = MUT_OVERWRITE; m <= MUT_SWAP; m++)
        assert_true(caught[m] > 200);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faithful_histories_pass),
        cmocka_unit_test(test_mutations_are_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
