/*
 * purgatory.h — delayed operations: complete when ready, or when their timeout fires.
 *
 * Kafka parks requests that cannot be answered yet — a Fetch below min_bytes, a Produce
 * with acks=-1 waiting for the ISR — in a "purgatory". Each operation watches some keys
 * (usually partitions). When something changes for a key (an append, a HW move), the
 * owner calls purgatory_check(key): every operation watching that key is asked
 * try_complete(); those that answer true complete. An operation not completed by its
 * deadline completes as expired. Either way on_complete runs exactly once, and after it
 * the purgatory never touches the operation again (the owner may free it there).
 *
 * Timeouts live on a hierarchical timing wheel (timing_wheel.h) driven by a single io
 * timer. Memory: the purgatory allocates its key table and each operation's watch links
 * through io; the operation struct itself is the caller's.
 *
 * Callback rules: try_complete() must only look, not change the purgatory. on_complete()
 * runs from purgatory_add() (if ready at once), purgatory_check() or the io timer, never
 * while the purgatory is in the middle of a scan, so it may add, check and cancel freely.
 * Ordering is deterministic: watchers of a key are asked in the order they were added.
 */
#ifndef TRIAL_BROKER_PURGATORY_H
#define TRIAL_BROKER_PURGATORY_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/timing_wheel.h"
#include "io/io.h"

#define PURGATORY_KEYS_PER_OP_MAX 4096 /* Bound on watch keys per operation. */

struct purgatory;
struct purgatory_op;
struct purgatory_watch;

/* True if the operation can complete now. Must not modify the purgatory. */
typedef bool (*purgatory_try_complete_fn)(struct purgatory_op *op);
/* The operation completed: `expired` is true when its deadline passed first. */
typedef void (*purgatory_on_complete_fn)(struct purgatory_op *op, bool expired);

/* Embed in your operation; fill the two callbacks, then purgatory_add(). */
struct purgatory_op {
    purgatory_try_complete_fn try_complete;
    purgatory_on_complete_fn on_complete;
    /* Owned by the purgatory while the op is pending: */
    struct purgatory *purgatory;
    struct timing_wheel_task timer;
    struct purgatory_watch *watches; /* One link per watched key. */
    uint32_t watch_count;
    uint32_t watch_capacity;
    bool pending;
    struct purgatory_op *done_next; /* Queue of ops whose on_complete is due. */
    bool done_expired;
};

/* Creates a purgatory named `name` (for logs). */
struct purgatory *purgatory_create(struct io *io, const char *name);
/* Destroys it; every still-pending operation completes as expired first. */
void purgatory_destroy(struct purgatory *purgatory);

/*
 * Tries to complete `op` at once; otherwise watches `keys` (duplicates ignored) and arms a
 * timeout of timeout_ms. Returns true if on_complete already ran (from inside this call).
 */
bool purgatory_add(struct purgatory *purgatory, struct purgatory_op *op, const uint64_t *keys,
                   uint32_t key_count, uint64_t timeout_ms);

/* Asks every operation watching `key` whether it can complete. Returns how many did. */
uint32_t purgatory_check(struct purgatory *purgatory, uint64_t key);

/* Removes a pending op without calling on_complete (e.g. its connection closed). */
void purgatory_cancel(struct purgatory *purgatory, struct purgatory_op *op);

/* Runs the timeout logic for the current io time now (also done by the io timer). */
void purgatory_expire(struct purgatory *purgatory);

/* Pending operations, and how many watch links exist (for tests and metrics). */
uint64_t purgatory_pending(const struct purgatory *purgatory);
uint64_t purgatory_watch_count(const struct purgatory *purgatory, uint64_t key);

#endif /* TRIAL_BROKER_PURGATORY_H */
