/*
 * timing_wheel.h — a hierarchical timing wheel, Kafka's purgatory timer design.
 *
 * Thousands of delayed operations (Fetch long-polls, Produce acks=-1 waits) each need a
 * timeout, and nearly all of them are cancelled before it fires. A wheel makes add and
 * cancel O(1): level 0 has `TIMING_WHEEL_SIZE` buckets of `tick_ms` each; a timeout beyond
 * the level's span goes to the next level, whose buckets are as wide as the whole level
 * below (an "overflow wheel"). When a higher-level bucket expires its tasks are re-added
 * and fall into finer buckets, or fire. Only buckets, not tasks, are kept ordered by
 * expiration (a small heap, like Kafka's DelayQueue of buckets), so the owner needs exactly
 * one io timer: at timing_wheel_next_expiration().
 *
 * Pure data structure: no io, no allocation (tasks are intrusive, levels are inline).
 * Determinism: tasks in one bucket fire in the order they were added; buckets with equal
 * expiration are ordered by (level, slot), never by address.
 */
#ifndef TRIAL_BROKER_TIMING_WHEEL_H
#define TRIAL_BROKER_TIMING_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMING_WHEEL_SIZE 64  /* Buckets per level. */
#define TIMING_WHEEL_LEVELS 8 /* 64^8 ticks: with 1 ms ticks, far beyond any int64 ms timeout. */

struct timing_wheel_bucket;
struct timing_wheel_task;

/* Called when a task's expiration has passed. The task is no longer in the wheel; the
 * callback may re-add it, add or cancel other tasks. */
typedef void (*timing_wheel_fire_fn)(struct timing_wheel_task *task);

/* Embed in your struct; the wheel owns the links while the task is added. */
struct timing_wheel_task {
    struct timing_wheel_task *prev;     /* Bucket list links (NULL when not in a bucket). */
    struct timing_wheel_task *next;
    struct timing_wheel_bucket *bucket; /* The bucket holding it, or NULL. */
    uint64_t expiration_ms;             /* Absolute, on the owner's ms clock. */
    timing_wheel_fire_fn fire;
};

struct timing_wheel_bucket {
    struct timing_wheel_task head; /* Sentinel of a circular list. */
    int64_t expiration_ms;         /* Start of the bucket's span; -1 while not in the heap. */
    uint32_t heap_index;           /* Position in the wheel's heap, when queued. */
    uint16_t level;                /* For tie-breaking and assertions. */
    uint16_t slot;
    uint32_t task_count;
};

struct timing_wheel_level {
    uint64_t tick_ms;     /* Width of one bucket. */
    uint64_t interval_ms; /* tick_ms * TIMING_WHEEL_SIZE: the span of this level. */
    uint64_t current_ms;  /* Rounded down to tick_ms; the start of the current bucket. */
    struct timing_wheel_bucket buckets[TIMING_WHEEL_SIZE];
};

struct timing_wheel {
    struct timing_wheel_level levels[TIMING_WHEEL_LEVELS];
    uint32_t level_count; /* Levels in use (overflow wheels are opened on demand). */
    struct timing_wheel_bucket *heap[TIMING_WHEEL_LEVELS * TIMING_WHEEL_SIZE];
    uint32_t heap_count;
    struct timing_wheel_bucket flushing; /* Holds a bucket's tasks while they are re-added. */
    uint64_t task_count;
};

/* Starts an empty wheel whose clock reads now_ms. tick_ms >= 1. */
void timing_wheel_init(struct timing_wheel *wheel, uint64_t tick_ms, uint64_t now_ms);

/*
 * Adds `task` to expire at expiration_ms. Returns false, without adding it, when that time
 * is already within the current tick (the caller should treat it as expired now).
 */
bool timing_wheel_add(struct timing_wheel *wheel, struct timing_wheel_task *task,
                      uint64_t expiration_ms, timing_wheel_fire_fn fire);

/* Removes a pending task; no-op if it is not in the wheel. */
void timing_wheel_cancel(struct timing_wheel *wheel, struct timing_wheel_task *task);

/* True if `task` is in the wheel. */
bool timing_wheel_pending(const struct timing_wheel_task *task);

/*
 * Moves the clock to now_ms and fires every task whose bucket expired, in bucket order.
 * Returns the number of tasks fired. Fire callbacks may add and cancel tasks.
 */
uint64_t timing_wheel_advance(struct timing_wheel *wheel, uint64_t now_ms);

/* The earliest bucket expiration, for arming the owner's one timer. False if empty. */
bool timing_wheel_next_expiration(const struct timing_wheel *wheel, uint64_t *expiration_ms);

/* Tasks currently in the wheel. */
uint64_t timing_wheel_count(const struct timing_wheel *wheel);

#endif /* TRIAL_BROKER_TIMING_WHEEL_H */
