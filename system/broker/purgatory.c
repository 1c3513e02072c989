/*
 * purgatory.c — delayed operations over a timing wheel (see purgatory.h).
 *
 * Watch lists: an open-addressing table from key to a doubly linked list of watch links.
 * Keys are never removed from the table (a key is a partition or a group; their number is
 * bounded by the metadata), which keeps probing simple; empty lists cost 32 bytes.
 * Completion is two-phase: a scan or timer pass first unlinks every op that is done and
 * queues it, then runs the queued on_complete callbacks, so callbacks never observe or
 * disturb a scan in progress.
 */
#include "broker/purgatory.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"

struct purgatory_watch {
    struct purgatory_op *op;
    struct purgatory_watch *prev;
    struct purgatory_watch *next;
    uint32_t slot; /* Index of the key's list in the table. */
};

struct purgatory_list {
    uint64_t key;
    bool used;
    uint32_t count;
    struct purgatory_watch *head;
    struct purgatory_watch *tail;
};

struct purgatory {
    struct io *io;
    char name[32];
    struct timing_wheel wheel;
    io_timer_id timer;
    uint64_t timer_deadline_ms; /* What the armed io timer is for (valid if timer != 0). */
    struct purgatory_list *lists;
    uint32_t list_capacity; /* Power of two. */
    uint32_t list_used;
    uint64_t pending;
    struct purgatory_op *done_head; /* FIFO of ops whose on_complete is due. */
    struct purgatory_op *done_tail;
    bool draining;
};

static uint64_t purgatory_now_ms(struct purgatory *purgatory) {
    return io_now_ns(purgatory->io) / NS_PER_MS;
}

static uint64_t key_hash(uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return key;
}

static struct purgatory_list *list_lookup(struct purgatory *purgatory, uint64_t key,
                                          bool create);

static void table_grow(struct purgatory *purgatory) {
    struct purgatory_list *old = purgatory->lists;
    uint32_t old_capacity = purgatory->list_capacity;
    uint32_t capacity = old_capacity == 0 ? 64 : old_capacity * 2;
    ASSERT(capacity > old_capacity);
    purgatory->lists = io_calloc(purgatory->io, capacity, sizeof(struct purgatory_list));
    purgatory->list_capacity = capacity;
    purgatory->list_used = 0;
    for (uint32_t i = 0; i < old_capacity; i++) {
        if (!old[i].used) continue;
        struct purgatory_list *list = list_lookup(purgatory, old[i].key, true);
        *list = old[i];
        uint32_t slot = (uint32_t)(list - purgatory->lists);
        for (struct purgatory_watch *w = list->head; w != NULL; w = w->next) w->slot = slot;
    }
    if (old != NULL) io_free(purgatory->io, old, old_capacity * sizeof(struct purgatory_list));
}

static struct purgatory_list *list_lookup(struct purgatory *purgatory, uint64_t key,
                                          bool create) {
    if (create && (purgatory->list_used + 1) * 4 > purgatory->list_capacity * 3) {
        table_grow(purgatory);
    }
    if (purgatory->list_capacity == 0) return NULL;
    uint32_t mask = purgatory->list_capacity - 1;
    uint32_t index = (uint32_t)key_hash(key) & mask;
    for (uint32_t probes = 0; probes < purgatory->list_capacity; probes++) {
        struct purgatory_list *list = &purgatory->lists[index];
        if (list->used && list->key == key) return list;
        if (!list->used) {
            if (!create) return NULL;
            list->used = true;
            list->key = key;
            purgatory->list_used++;
            return list;
        }
        index = (index + 1) & mask;
    }
    UNREACHABLE();
}

static void unwatch_all(struct purgatory *purgatory, struct purgatory_op *op) {
    for (uint32_t i = 0; i < op->watch_count; i++) {
        struct purgatory_watch *w = &op->watches[i];
        struct purgatory_list *list = &purgatory->lists[w->slot];
        ASSERT(list->used && list->count > 0);
        if (w->prev != NULL) w->prev->next = w->next; else list->head = w->next;
        if (w->next != NULL) w->next->prev = w->prev; else list->tail = w->prev;
        list->count--;
    }
    if (op->watches != NULL) {
        io_free(purgatory->io, op->watches, op->watch_capacity * sizeof(struct purgatory_watch));
    }
    op->watches = NULL;
    op->watch_count = 0;
    op->watch_capacity = 0;
}

/* Unlinks a pending op from everything and queues its on_complete. */
static void op_finish(struct purgatory *purgatory, struct purgatory_op *op, bool expired) {
    ASSERT(op->pending && op->purgatory == purgatory);
    timing_wheel_cancel(&purgatory->wheel, &op->timer);
    unwatch_all(purgatory, op);
    op->pending = false;
    ASSERT(purgatory->pending > 0);
    purgatory->pending--;
    op->done_expired = expired;
    op->done_next = NULL;
    if (purgatory->done_tail != NULL) purgatory->done_tail->done_next = op; else purgatory->done_head = op;
    purgatory->done_tail = op;
}

/* Runs queued on_complete callbacks; they may queue more (bounded by pending ops). */
static void drain_done(struct purgatory *purgatory) {
    if (purgatory->draining) return; /* The outer drain will get to them. */
    purgatory->draining = true;
    while (purgatory->done_head != NULL) {
        struct purgatory_op *op = purgatory->done_head;
        purgatory->done_head = op->done_next;
        if (purgatory->done_head == NULL) purgatory->done_tail = NULL;
        op->done_next = NULL;
        op->on_complete(op, op->done_expired); /* May free op. */
    }
    purgatory->draining = false;
}

static void timer_fired(void *arg);

/* Keeps exactly one io timer armed at the wheel's earliest bucket, if any. */
static void rearm(struct purgatory *purgatory) {
    uint64_t next_ms;
    bool any = timing_wheel_next_expiration(&purgatory->wheel, &next_ms);
    if (purgatory->timer != 0 && (!any || next_ms != purgatory->timer_deadline_ms)) {
        io_timer_cancel(purgatory->io, purgatory->timer);
        purgatory->timer = 0;
    }
    if (any && purgatory->timer == 0) {
        purgatory->timer = io_timer_start(purgatory->io, next_ms * NS_PER_MS, timer_fired,
                                          purgatory);
        purgatory->timer_deadline_ms = next_ms;
    }
}

static void task_expired(struct timing_wheel_task *task) {
    struct purgatory_op *op = (struct purgatory_op *)(void *)((char *)task -
                                                      offsetof(struct purgatory_op, timer));
    op_finish(op->purgatory, op, true);
}

void purgatory_expire(struct purgatory *purgatory) {
    timing_wheel_advance(&purgatory->wheel, purgatory_now_ms(purgatory));
    rearm(purgatory);
    drain_done(purgatory);
}

static void timer_fired(void *arg) {
    struct purgatory *purgatory = arg;
    purgatory->timer = 0;
    purgatory_expire(purgatory);
}

struct purgatory *purgatory_create(struct io *io, const char *name) {
    struct purgatory *purgatory = io_calloc(io, 1, sizeof(*purgatory));
    purgatory->io = io;
    size_t len = strlen(name);
    if (len >= sizeof(purgatory->name)) len = sizeof(purgatory->name) - 1;
    memcpy(purgatory->name, name, len);
    timing_wheel_init(&purgatory->wheel, 1, purgatory_now_ms(purgatory));
    return purgatory;
}

void purgatory_destroy(struct purgatory *purgatory) {
    /* Expire what is left, in key-table order is not deterministic enough for output, so
     * walk the wheel's buckets instead: advance the wheel to the end of time. */
    timing_wheel_advance(&purgatory->wheel, UINT64_MAX / 2);
    drain_done(purgatory);
    ASSERT(purgatory->pending == 0);
    if (purgatory->timer != 0) io_timer_cancel(purgatory->io, purgatory->timer);
    if (purgatory->lists != NULL) {
        io_free(purgatory->io, purgatory->lists,
                purgatory->list_capacity * sizeof(struct purgatory_list));
    }
    io_free(purgatory->io, purgatory, sizeof(*purgatory));
}

bool purgatory_add(struct purgatory *purgatory, struct purgatory_op *op, const uint64_t *keys,
                   uint32_t key_count, uint64_t timeout_ms) {
    ASSERT(op->try_complete != NULL && op->on_complete != NULL);
    ASSERT(key_count <= PURGATORY_KEYS_PER_OP_MAX);
    op->purgatory = purgatory;
    op->watches = NULL;
    op->watch_count = 0;
    op->watch_capacity = 0;
    op->done_next = NULL;
    memset(&op->timer, 0, sizeof(op->timer));
    if (op->try_complete(op)) {
        op->pending = false;
        op->on_complete(op, false);
        return true;
    }
    op->pending = true;
    purgatory->pending++;
    if (key_count > 0) {
        op->watches = io_calloc(purgatory->io, key_count, sizeof(struct purgatory_watch));
        op->watch_capacity = key_count;
    }
    for (uint32_t i = 0; i < key_count; i++) {
        bool duplicate = false;
        for (uint32_t j = 0; j < i && !duplicate; j++) duplicate = keys[j] == keys[i];
        if (duplicate) continue;
        struct purgatory_list *list = list_lookup(purgatory, keys[i], true);
        struct purgatory_watch *w = &op->watches[op->watch_count++];
        w->op = op;
        w->slot = (uint32_t)(list - purgatory->lists);
        w->prev = list->tail;
        w->next = NULL;
        if (list->tail != NULL) list->tail->next = w; else list->head = w;
        list->tail = w;
        list->count++;
    }
    uint64_t now_ms = purgatory_now_ms(purgatory);
    uint64_t deadline_ms = now_ms + timeout_ms;
    if (!timing_wheel_add(&purgatory->wheel, &op->timer, deadline_ms, task_expired)) {
        op_finish(purgatory, op, true);
    }
    bool completed = !op->pending; /* Read before the drain: on_complete may free op. */
    rearm(purgatory);
    drain_done(purgatory);
    return completed;
}

uint32_t purgatory_check(struct purgatory *purgatory, uint64_t key) {
    struct purgatory_list *list = list_lookup(purgatory, key, false);
    if (list == NULL) return 0;
    uint32_t completed = 0;
    uint32_t budget = list->count; /* Bound: each watcher is asked at most once. */
    struct purgatory_watch *w = list->head;
    while (w != NULL && budget-- > 0) {
        struct purgatory_watch *next = w->next;
        struct purgatory_op *op = w->op;
        /* try_complete only looks, so `next` stays valid; op_finish unlinks only op's own
         * links, and an op watches a key once. */
        if (op->try_complete(op)) {
            op_finish(purgatory, op, false);
            completed++;
        }
        w = next;
    }
    if (completed > 0) rearm(purgatory);
    drain_done(purgatory);
    return completed;
}

void purgatory_cancel(struct purgatory *purgatory, struct purgatory_op *op) {
    if (!op->pending) return;
    ASSERT(op->purgatory == purgatory);
    timing_wheel_cancel(&purgatory->wheel, &op->timer);
    unwatch_all(purgatory, op);
    op->pending = false;
    ASSERT(purgatory->pending > 0);
    purgatory->pending--;
    rearm(purgatory);
}

uint64_t purgatory_pending(const struct purgatory *purgatory) { return purgatory->pending; }

uint64_t purgatory_watch_count(const struct purgatory *purgatory, uint64_t key) {
    struct purgatory_list *list = list_lookup((struct purgatory *)purgatory, key, false);
    return list == NULL ? 0 : list->count;
}
