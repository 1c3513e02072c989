/*
 * timing_wheel.c — hierarchical timing wheel (see timing_wheel.h for the design).
 *
 * Follows Kafka's TimingWheel/SystemTimer: a task lands in the finest level whose span
 * covers it; a bucket is queued (by its expiration) when it receives its first task of a
 * round; advancing pops expired buckets, moves every level's clock, and re-adds the
 * bucket's tasks, which then either fire or drop into a finer bucket.
 */
#include "broker/timing_wheel.h"

#include <string.h>

#include "base/base.h"

static bool bucket_before(const struct timing_wheel_bucket *a,
                          const struct timing_wheel_bucket *b) {
    if (a->expiration_ms != b->expiration_ms) return a->expiration_ms < b->expiration_ms;
    if (a->level != b->level) return a->level > b->level; /* Coarse first: it refills fine. */
    return a->slot < b->slot;
}

static void heap_swap(struct timing_wheel *wheel, uint32_t i, uint32_t j) {
    struct timing_wheel_bucket *t = wheel->heap[i];
    wheel->heap[i] = wheel->heap[j];
    wheel->heap[j] = t;
    wheel->heap[i]->heap_index = i;
    wheel->heap[j]->heap_index = j;
}

static void heap_up(struct timing_wheel *wheel, uint32_t i) {
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!bucket_before(wheel->heap[i], wheel->heap[parent])) break;
        heap_swap(wheel, i, parent);
        i = parent;
    }
}

static void heap_down(struct timing_wheel *wheel, uint32_t i) {
    for (;;) {
        uint32_t left = 2 * i + 1, right = left + 1, best = i;
        if (left < wheel->heap_count && bucket_before(wheel->heap[left], wheel->heap[best])) {
            best = left;
        }
        if (right < wheel->heap_count && bucket_before(wheel->heap[right], wheel->heap[best])) {
            best = right;
        }
        if (best == i) return;
        heap_swap(wheel, i, best);
        i = best;
    }
}

static void heap_push(struct timing_wheel *wheel, struct timing_wheel_bucket *bucket) {
    ASSERT(wheel->heap_count < ARRAY_LEN(wheel->heap));
    bucket->heap_index = wheel->heap_count;
    wheel->heap[wheel->heap_count++] = bucket;
    heap_up(wheel, bucket->heap_index);
}

static struct timing_wheel_bucket *heap_pop(struct timing_wheel *wheel) {
    ASSERT(wheel->heap_count > 0);
    struct timing_wheel_bucket *top = wheel->heap[0];
    wheel->heap_count--;
    if (wheel->heap_count > 0) {
        wheel->heap[0] = wheel->heap[wheel->heap_count];
        wheel->heap[0]->heap_index = 0;
        heap_down(wheel, 0);
    }
    top->expiration_ms = -1;
    return top;
}

static void bucket_init(struct timing_wheel_bucket *bucket, uint16_t level, uint16_t slot) {
    memset(bucket, 0, sizeof(*bucket));
    bucket->head.prev = &bucket->head;
    bucket->head.next = &bucket->head;
    bucket->expiration_ms = -1;
    bucket->level = level;
    bucket->slot = slot;
}

static void bucket_append(struct timing_wheel_bucket *bucket, struct timing_wheel_task *task) {
    ASSERT(task->bucket == NULL);
    task->prev = bucket->head.prev;
    task->next = &bucket->head;
    bucket->head.prev->next = task;
    bucket->head.prev = task;
    task->bucket = bucket;
    bucket->task_count++;
}

static void bucket_remove(struct timing_wheel_task *task) {
    struct timing_wheel_bucket *bucket = task->bucket;
    ASSERT(bucket != NULL && bucket->task_count > 0);
    task->prev->next = task->next;
    task->next->prev = task->prev;
    task->prev = task->next = NULL;
    task->bucket = NULL;
    bucket->task_count--;
}

static void level_init(struct timing_wheel_level *level, uint16_t index, uint64_t tick_ms,
                       uint64_t now_ms) {
    level->tick_ms = tick_ms;
    level->interval_ms = tick_ms * TIMING_WHEEL_SIZE;
    level->current_ms = now_ms - now_ms % tick_ms;
    for (uint16_t slot = 0; slot < TIMING_WHEEL_SIZE; slot++) {
        bucket_init(&level->buckets[slot], index, slot);
    }
}

void timing_wheel_init(struct timing_wheel *wheel, uint64_t tick_ms, uint64_t now_ms) {
    ASSERT(tick_ms >= 1);
    memset(wheel, 0, sizeof(*wheel));
    level_init(&wheel->levels[0], 0, tick_ms, now_ms);
    wheel->level_count = 1;
    bucket_init(&wheel->flushing, UINT16_MAX, 0);
}

/* Kafka's TimingWheel.add: finest level that spans the expiration, else overflow. */
static bool wheel_insert(struct timing_wheel *wheel, struct timing_wheel_task *task) {
    uint64_t expiration_ms = task->expiration_ms;
    for (uint32_t index = 0; index < TIMING_WHEEL_LEVELS; index++) {
        if (index == wheel->level_count) {
            /* Open an overflow wheel: its tick is the whole span of the level below, and
             * its clock starts at that level's current time (as Kafka does). */
            const struct timing_wheel_level *below = &wheel->levels[index - 1];
            level_init(&wheel->levels[index], (uint16_t)index, below->interval_ms,
                       below->current_ms);
            wheel->level_count++;
        }
        struct timing_wheel_level *level = &wheel->levels[index];
        if (expiration_ms < level->current_ms + level->tick_ms) {
            ASSERT(index == 0); /* A coarser level is only reached past the finer span. */
            return false;
        }
        if (expiration_ms < level->current_ms + level->interval_ms) {
            uint64_t virtual_id = expiration_ms / level->tick_ms;
            struct timing_wheel_bucket *bucket = &level->buckets[virtual_id % TIMING_WHEEL_SIZE];
            bucket_append(bucket, task);
            int64_t bucket_expiration = (int64_t)(virtual_id * level->tick_ms);
            if (bucket->expiration_ms != bucket_expiration) {
                /* A bucket holds one round at a time: it was flushed (not queued) or empty. */
                ASSERT(bucket->expiration_ms == -1);
                bucket->expiration_ms = bucket_expiration;
                heap_push(wheel, bucket);
            }
            return true;
        }
    }
    UNREACHABLE();
}

bool timing_wheel_add(struct timing_wheel *wheel, struct timing_wheel_task *task,
                      uint64_t expiration_ms, timing_wheel_fire_fn fire) {
    ASSERT(task->bucket == NULL && fire != NULL);
    task->expiration_ms = expiration_ms;
    task->fire = fire;
    if (!wheel_insert(wheel, task)) return false;
    wheel->task_count++;
    return true;
}

void timing_wheel_cancel(struct timing_wheel *wheel, struct timing_wheel_task *task) {
    if (task->bucket == NULL) return;
    bucket_remove(task);
    ASSERT(wheel->task_count > 0);
    wheel->task_count--;
}

bool timing_wheel_pending(const struct timing_wheel_task *task) { return task->bucket != NULL; }

static void wheel_advance_clocks(struct timing_wheel *wheel, uint64_t time_ms) {
    for (uint32_t index = 0; index < wheel->level_count; index++) {
        struct timing_wheel_level *level = &wheel->levels[index];
        if (time_ms >= level->current_ms + level->tick_ms) {
            level->current_ms = time_ms - time_ms % level->tick_ms;
        }
    }
}

uint64_t timing_wheel_advance(struct timing_wheel *wheel, uint64_t now_ms) {
    uint64_t fired = 0;
    /* Bound: each popped bucket is either a level-0 bucket (its tasks fire) or moves its
     * tasks strictly down a level, so the loop ends; the heap is at most levels*size. */
    while (wheel->heap_count > 0 && (uint64_t)wheel->heap[0]->expiration_ms <= now_ms) {
        uint64_t bucket_expiration_ms = (uint64_t)wheel->heap[0]->expiration_ms;
        struct timing_wheel_bucket *bucket = heap_pop(wheel);
        wheel_advance_clocks(wheel, bucket_expiration_ms);
        /* Move the tasks to the flushing list so fire callbacks can cancel any of them. */
        struct timing_wheel_bucket *flushing = &wheel->flushing;
        ASSERT(flushing->task_count == 0);
        while (bucket->head.next != &bucket->head) {
            struct timing_wheel_task *task = bucket->head.next;
            bucket_remove(task);
            bucket_append(flushing, task);
        }
        while (flushing->head.next != &flushing->head) {
            struct timing_wheel_task *task = flushing->head.next;
            bucket_remove(task);
            if (!wheel_insert(wheel, task)) {
                wheel->task_count--;
                fired++;
                task->fire(task);
            }
        }
    }
    wheel_advance_clocks(wheel, now_ms);
    return fired;
}

bool timing_wheel_next_expiration(const struct timing_wheel *wheel, uint64_t *expiration_ms) {
    if (wheel->heap_count == 0) return false;
    *expiration_ms = (uint64_t)wheel->heap[0]->expiration_ms;
    return true;
}

uint64_t timing_wheel_count(const struct timing_wheel *wheel) { return wheel->task_count; }
