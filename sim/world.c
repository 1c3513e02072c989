/*
 * world.c — the heart of the simulation: PRNG streams, the event scheduler, the trace hash,
 * node lifecycle (add, crash, restart, pause), per-node memory and per-node clocks.
 *
 * The scheduler is a binary min-heap keyed by (time, sequence). Sequence numbers are handed
 * out in creation order, so ties never depend on pointers or on heap layout. Each dispatch
 * folds (time, sequence, kind, node) into the trace hash; each io_trace folds its event and
 * fields. Two runs of one seed therefore agree on the hash exactly when they made the same
 * decisions in the same order.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim_internal.h"

#define SIM_ALLOC_MAGIC 0x51A110C8D00DF00DULL
/* Wall clocks start at 2026-01-01T00:00:00Z: a fixed, plausible origin. */
#define SIM_WALL_EPOCH_MS          1767225600000LL
#define SIM_NODE_STREAM_KEY        0x100
#define SIM_EVENTS_PER_INSTANT_MAX 10000000
#define SIM_EPHEMERAL_PORT_FIRST   40000
#define FNV_OFFSET                 0xcbf29ce484222325ULL
#define FNV_PRIME                  0x100000001b3ULL

/* --- Helpers ---------------------------------------------------------------------------- */

void *sim_xmalloc(size_t size) {
    void *ptr = malloc(size == 0 ? 1 : size);
    if (ptr == NULL) {
        fprintf(stderr, "sim: out of memory (%zu bytes)\n", size);
        abort();
    }
    return ptr;
}

void *sim_grow(void *array, size_t *cap, size_t count, size_t elem_size) {
    ASSERT(count <= *cap);
    if (count < *cap) return array;
    size_t new_cap = *cap == 0 ? 16 : *cap * 2;
    ASSERT(new_cap > *cap && new_cap <= SIZE_MAX / elem_size);
    void *grown = realloc(array, new_cap * elem_size);
    if (grown == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    *cap = new_cap;
    return grown;
}

/* --- PRNG ------------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void sim_rng_init(struct sim_rng *rng, uint64_t seed, uint64_t key) {
    /* Mix the key in through its own SplitMix step so that streams with nearby keys start
     * far apart; then fill the xoshiro state from SplitMix as its authors recommend. */
    uint64_t key_state = key;
    uint64_t state = seed ^ splitmix64(&key_state);
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&state);
    if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0) rng->s[0] = 1;
}

uint64_t sim_rng_next(struct sim_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

uint64_t sim_rng_below(struct sim_rng *rng, uint64_t bound) {
    ASSERT(bound > 0);
    uint64_t limit = UINT64_MAX - (UINT64_MAX % bound);
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t x = sim_rng_next(rng);
        if (x < limit) return x % bound;
    }
    UNREACHABLE(); /* probability below 2^-1000 */
}

bool sim_rng_chance(struct sim_rng *rng, uint32_t permille) {
    ASSERT(permille <= 1000);
    return sim_rng_below(rng, 1000) < permille;
}

struct sim_rng *sim_world_rng(struct sim_world *world, enum sim_stream which) {
    ASSERT((int)which >= 0 && which < SIM_STREAM_COUNT);
    return &world->rngs[which];
}

/* --- Trace hash ------------------------------------------------------------------------- */

/* The hash folds one 64-bit word per step (one multiply) instead of FNV-1a's one byte per
 * step: every event and every io_trace passes through here, and byte-wise FNV over the
 * trace's strings and integers was a tenth of a cluster run. Words are assembled little
 * endian, so the hash is the same on every host and in every build type. */
#define HASH_MUL 0x9E3779B97F4A7C15ULL

static inline uint64_t hash_mix(uint64_t h, uint64_t v) {
    h ^= v;
    h *= HASH_MUL;
    return h ^ (h >> 29);
}

/* n <= 8 bytes as a little-endian word (missing bytes are zero). A whole word is one
 * memcpy the compiler inlines; a tail is assembled byte by byte (a variable-length memcpy
 * would be a libc call per string). */
static inline uint64_t load_le64(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    if (n == 8) {
        memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        return v;
    }
    for (size_t k = 0; k < n; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

void sim_hash_bytes(struct sim_world *world, const void *data, size_t len) {
    const uint8_t *bytes = data;
    uint64_t h = world->trace_hash;
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        h = hash_mix(h, load_le64(bytes + i, 8));
    /* The tail (0..7 bytes) with its length in the top byte, so "a" and "a\0" differ. */
    size_t n = len - i;
    uint64_t tail = n > 0 ? load_le64(bytes + i, n) : 0; /* bytes may be NULL when len is 0 */
    h = hash_mix(h, tail | ((uint64_t)n << 56));
    world->trace_hash = h;
}

void sim_hash_u64(struct sim_world *world, uint64_t value) {
    world->trace_hash = hash_mix(world->trace_hash, value);
}

static void hash_str(struct sim_world *world, const char *s) {
    size_t len = s == NULL ? 0 : strlen(s);
    sim_hash_u64(world, len);
    sim_hash_bytes(world, s, len);
}

uint64_t sim_world_trace_hash(struct sim_world *world) { return world->trace_hash; }

/* --- Scheduler -------------------------------------------------------------------------- */

static bool event_before(const struct sim_event *a, const struct sim_event *b) {
    if (a->time_ns != b->time_ns) return a->time_ns < b->time_ns;
    return a->seq < b->seq;
}

static void heap_set(struct sim_world *world, size_t i, struct sim_event *ev) {
    world->heap[i] = ev;
    ev->heap_index = i;
}

static void heap_up(struct sim_world *world, size_t i) {
    struct sim_event *ev = world->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!event_before(ev, world->heap[parent])) break;
        heap_set(world, i, world->heap[parent]);
        i = parent;
    }
    heap_set(world, i, ev);
}

static void heap_down(struct sim_world *world, size_t i) {
    struct sim_event *ev = world->heap[i];
    size_t n = world->heap_count;
    for (;;) {
        size_t left = 2 * i + 1;
        if (left >= n) break;
        size_t child = left;
        if (left + 1 < n && event_before(world->heap[left + 1], world->heap[left])) child++;
        if (!event_before(world->heap[child], ev)) break;
        heap_set(world, i, world->heap[child]);
        i = child;
    }
    heap_set(world, i, ev);
}

static void heap_push(struct sim_world *world, struct sim_event *ev) {
    world->heap = sim_grow(world->heap, &world->heap_cap, world->heap_count, sizeof(ev));
    world->heap[world->heap_count] = ev;
    ev->heap_index = world->heap_count;
    world->heap_count++;
    heap_up(world, ev->heap_index);
}

static void heap_remove(struct sim_world *world, struct sim_event *ev) {
    size_t i = ev->heap_index;
    ASSERT(i < world->heap_count && world->heap[i] == ev);
    world->heap_count--;
    ev->heap_index = SIM_HEAP_INDEX_NONE;
    if (i == world->heap_count) return;
    heap_set(world, i, world->heap[world->heap_count]);
    heap_up(world, i);
    heap_down(world, world->heap[i]->heap_index);
}

/* Every step frees one event and most create one: a short list of spare events saves a
 * malloc/free pair per event. Bounded, so a burst does not pin its memory. */
#if defined(__SANITIZE_ADDRESS__)
#define SIM_SPARE_EVENTS_MAX 0 /* ASan builds free at once, so a stale event use is caught. */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_SPARE_EVENTS_MAX 0
#endif
#endif
#ifndef SIM_SPARE_EVENTS_MAX
#define SIM_SPARE_EVENTS_MAX 1024
#endif

static void event_release(struct sim_world *world, struct sim_event *ev) {
    if (world->spare_count >= SIM_SPARE_EVENTS_MAX) {
        free(ev);
        return;
    }
    ev->p = world->spare_events;
    world->spare_events = ev;
    world->spare_count++;
}

struct sim_event *sim_event_new(struct sim_world *world, struct sim_node *node,
                                enum sim_event_kind kind, uint64_t time_ns, sim_event_fn fn) {
    ASSERT(fn != NULL);
    ASSERT(node == NULL || node->up);
    struct sim_event *ev = world->spare_events;
    if (ev != NULL) {
        world->spare_events = ev->p;
        world->spare_count--;
    } else {
        ev = sim_xmalloc(sizeof(*ev));
    }
    memset(ev, 0, sizeof(*ev));
    ev->time_ns = time_ns < world->now_ns ? world->now_ns : time_ns;
    ev->seq = ++world->next_seq;
    ev->node = node;
    ev->fn = fn;
    ev->kind = kind;
    heap_push(world, ev);
    return ev;
}

static bool remove_ptr(struct sim_event **array, size_t *count, struct sim_event *ev) {
    for (size_t i = 0; i < *count; i++) {
        if (array[i] != ev) continue;
        memmove(&array[i], &array[i + 1], (*count - i - 1) * sizeof(*array));
        (*count)--;
        return true;
    }
    return false;
}

void sim_event_cancel(struct sim_world *world, struct sim_event *ev) {
    if (ev == NULL) return;
    if (ev->heap_index != SIM_HEAP_INDEX_NONE) {
        heap_remove(world, ev);
    } else {
        /* Not in the heap: it waits in its paused node's deferred list. */
        ASSERT(ev->node != NULL);
        bool found = remove_ptr(ev->node->deferred, &ev->node->deferred_count, ev);
        ASSERT(found);
    }
    event_release(world, ev);
}

bool sim_world_step(struct sim_world *world) {
    if (world->heap_count == 0) return false;
    struct sim_event *ev = world->heap[0];
    heap_remove(world, ev);
    ASSERT(ev->time_ns >= world->now_ns);
    /* Virtual time must move: millions of events at one instant is a livelock (a timer
     * re-armed for "now" forever), which would otherwise hang the run silently. */
    world->events_this_instant = ev->time_ns == world->now_ns ? world->events_this_instant + 1 : 0;
    ASSERT(world->events_this_instant < SIM_EVENTS_PER_INSTANT_MAX);
    world->now_ns = ev->time_ns;
    struct sim_node *node = ev->node;
    if (node != NULL && node->paused) {
        node->deferred =
            sim_grow(node->deferred, &node->deferred_cap, node->deferred_count, sizeof(ev));
        node->deferred[node->deferred_count++] = ev;
        return true;
    }
    /* The decision: which event ran, when, for whom. */
    sim_hash_u64(world, ev->time_ns);
    sim_hash_u64(world, ev->seq);
    sim_hash_u64(world, ((uint64_t)ev->kind << 32) | (node == NULL ? 0xffff : node->index));
    world->events_run++;
    ASSERT(world->current_node == NULL);
    world->current_node = node;
    ev->fn(world, ev);
    world->current_node = NULL;
    event_release(world, ev);
    return true;
}

void sim_world_run_until(struct sim_world *world, uint64_t virtual_ns) {
    while (world->heap_count > 0 && world->heap[0]->time_ns <= virtual_ns) {
        sim_world_step(world);
    }
    if (world->now_ns < virtual_ns) world->now_ns = virtual_ns;
}

uint64_t sim_world_now_ns(struct sim_world *world) { return world->now_ns; }
uint64_t sim_world_events_run(struct sim_world *world) { return world->events_run; }
uint64_t sim_world_seed(struct sim_world *world) { return world->seed; }

static void world_event_fire(struct sim_world *world, struct sim_event *ev) {
    bool found = remove_ptr(world->world_events, &world->world_event_count, ev);
    ASSERT(found);
    sim_world_cb cb = (sim_world_cb)(uintptr_t)ev->q;
    cb(world, ev->p);
}

uint64_t sim_world_schedule(struct sim_world *world, uint64_t at_ns, sim_world_cb cb, void *arg) {
    ASSERT(cb != NULL);
    struct sim_event *ev = sim_event_new(world, NULL, SIM_EV_WORLD, at_ns, world_event_fire);
    ev->p = arg;
    ev->q = (void *)(uintptr_t)cb;
    ev->u = ev->seq;
    world->world_events = sim_grow(world->world_events, &world->world_event_cap,
                                   world->world_event_count, sizeof(ev));
    world->world_events[world->world_event_count++] = ev;
    return ev->u;
}

void sim_world_cancel(struct sim_world *world, uint64_t id) {
    for (size_t i = 0; i < world->world_event_count; i++) {
        struct sim_event *ev = world->world_events[i];
        if (ev->u != id) continue;
        remove_ptr(world->world_events, &world->world_event_count, ev);
        sim_event_cancel(world, ev);
        return;
    }
}

/* --- World ------------------------------------------------------------------------------ */

struct sim_world *sim_world_create(uint64_t seed) {
    struct sim_world *world = sim_xmalloc(sizeof(*world));
    memset(world, 0, sizeof(*world));
    world->seed = seed;
    world->disk_fiu = true;
    world->trace_hash = FNV_OFFSET;
    sim_hash_u64(world, seed);
    for (int i = 0; i < SIM_STREAM_COUNT; i++)
        sim_rng_init(&world->rngs[i], seed, (uint64_t)i);
    world->net_timeout_ns = 10 * NS_PER_S;
    world->next_conn_id = 1;
    for (size_t a = 0; a < SIM_NODES_MAX; a++) {
        for (size_t b = 0; b < SIM_NODES_MAX; b++) {
            struct sim_link *link = &world->links[a][b];
            link->config.latency_min_ns = 100 * NS_PER_US;
            link->config.latency_max_ns = 2 * NS_PER_MS;
            link->config.bandwidth_bytes_per_s = 100ULL * 1000 * 1000;
        }
    }
    return world;
}

static void node_free_memory(struct sim_node *node);
static void node_drop_events(struct sim_node *node);

void sim_world_destroy(struct sim_world *world) {
    if (world == NULL) return;
    for (size_t i = 0; i < world->node_count; i++) {
        struct sim_node *node = world->nodes[i];
        if (node->up) {
            sim_net_node_crash(node);
            sim_disk_close_all(node);
            node_drop_events(node);
            node_free_memory(node);
        }
    }
    sim_net_destroy(world);
    while (world->heap_count > 0) {
        struct sim_event *ev = world->heap[world->heap_count - 1];
        world->heap_count--;
        free(ev);
    }
    while (world->spare_events != NULL) {
        struct sim_event *ev = world->spare_events;
        world->spare_events = ev->p;
        free(ev);
    }
    for (size_t i = 0; i < world->node_count; i++) {
        struct sim_node *node = world->nodes[i];
        sim_disk_destroy(&node->disk);
        free(node->timers);
        free(node->deferred);
        free(node);
    }
    free(world->heap);
    free(world->world_events);
    free(world);
}

void sim_world_set_verbose(struct sim_world *world, bool verbose) { world->verbose = verbose; }
void sim_world_set_buggify(struct sim_world *world, bool enabled) { world->buggify = enabled; }

void sim_world_set_trace_hook(struct sim_world *world, sim_trace_hook hook, void *arg) {
    world->trace_hook = hook;
    world->trace_hook_arg = arg;
}

void sim_world_set_log_hook(struct sim_world *world, sim_log_hook hook, void *arg) {
    world->log_hook = hook;
    world->log_hook_arg = arg;
}

void sim_world_set_break(struct sim_world *world, enum sim_break which) {
    world->broken = which;
    world->break_done = false;
}

int sim_break_parse(const char *name, enum sim_break *out) {
    static const struct {
        const char *name;
        enum sim_break value;
    } table[] = {
        {"none", SIM_BREAK_NONE},           {"keep-unsynced", SIM_BREAK_KEEP_UNSYNCED},
        {"dup-bytes", SIM_BREAK_DUP_BYTES}, {"early-timer", SIM_BREAK_EARLY_TIMER},
        {"assert", SIM_BREAK_ASSERT},
    };
    for (size_t i = 0; i < ARRAY_LEN(table); i++) {
        if (strcmp(name, table[i].name) == 0) {
            *out = table[i].value;
            return 0;
        }
    }
    return -EINVAL;
}

/* --- Nodes ------------------------------------------------------------------------------ */

static void node_start_event(struct sim_world *world, struct sim_event *ev) {
    struct sim_node *node = ev->node;
    (void)world;
    ASSERT(node->up && node->start != NULL);
    node->start(&node->io, node->start_arg);
}

static void node_bring_up(struct sim_node *node) {
    ASSERT(!node->up);
    node->up = true;
    node->paused = false;
    node->incarnation++;
    node->io.vtable = &sim_io_vtable;
    node->io.ctx = node;
    node->allocs.next = &node->allocs;
    node->allocs.prev = &node->allocs;
    node->live_allocs = 0;
    node->live_bytes = 0;
    if (node->start != NULL) {
        sim_event_new(node->world, node, SIM_EV_START, node->world->now_ns, node_start_event);
    }
}

struct sim_node *sim_node_add(struct sim_world *world, const char *name,
                              void (*start)(struct io *io, void *arg), void *arg) {
    ASSERT(name != NULL && name[0] != '\0' && strlen(name) < SIM_NODE_NAME_MAX);
    ASSERT(world->node_count < SIM_NODES_MAX);
    ASSERT(sim_node_find(world, name) == NULL);
    struct sim_node *node = sim_xmalloc(sizeof(*node));
    memset(node, 0, sizeof(*node));
    node->world = world;
    node->index = (uint32_t)world->node_count;
    snprintf(node->name, sizeof(node->name), "%s", name);
    node->start = start;
    node->start_arg = arg;
    uint64_t key = SIM_NODE_STREAM_KEY + 4ULL * node->index;
    sim_rng_init(&node->rng_entropy, world->seed, key);
    sim_rng_init(&node->rng_buggify, world->seed, key + 1);
    struct sim_rng disk_rng;
    sim_rng_init(&disk_rng, world->seed, key + 2);
    sim_disk_init(&node->disk, disk_rng);
    node->next_timer_id = 1;
    node->next_ephemeral_port = SIM_EPHEMERAL_PORT_FIRST;
    /* Monotonic clocks start at different, seeded origins: nothing may assume they agree. */
    struct sim_rng clock_rng;
    sim_rng_init(&clock_rng, world->seed, key + 3);
    node->clock_base_world_ns = world->now_ns;
    node->clock_base_mono_ns = NS_PER_S + sim_rng_below(&clock_rng, 1000 * NS_PER_S);
    world->nodes[world->node_count++] = node;
    hash_str(world, name);
    node_bring_up(node);
    return node;
}

struct io *sim_node_io(struct sim_node *node) {
    return node->up ? &node->io : NULL;
}
const char *sim_node_name(struct sim_node *node) { return node->name; }
uint32_t sim_node_index(struct sim_node *node) { return node->index; }
bool sim_node_is_up(struct sim_node *node) { return node->up; }
bool sim_node_is_paused(struct sim_node *node) { return node->paused; }
size_t sim_node_live_allocs(struct sim_node *node) { return node->live_allocs; }
size_t sim_node_live_bytes(struct sim_node *node) { return node->live_bytes; }
size_t sim_node_count(struct sim_world *world) { return world->node_count; }

struct sim_node *sim_node_at(struct sim_world *world, size_t index) {
    ASSERT(index < world->node_count);
    return world->nodes[index];
}

struct sim_node *sim_node_find(struct sim_world *world, const char *name) {
    for (size_t i = 0; i < world->node_count; i++) {
        if (strcmp(world->nodes[i]->name, name) == 0) return world->nodes[i];
    }
    return NULL;
}

void sim_node_check_caller(struct sim_node *node) {
    ASSERT(node->up);
    ASSERT(node->world->current_node == NULL || node->world->current_node == node);
}

static void node_free_memory(struct sim_node *node) {
    struct sim_alloc *a = node->allocs.next;
    size_t freed = 0;
    while (a != &node->allocs) {
        struct sim_alloc *next = a->next;
        ASSERT(a->magic == SIM_ALLOC_MAGIC);
        a->magic = 0;
        freed++;
        free(a);
        a = next;
    }
    ASSERT(freed == node->live_allocs);
    node->allocs.next = &node->allocs;
    node->allocs.prev = &node->allocs;
    node->live_allocs = 0;
    node->live_bytes = 0;
}

/* Removes every event the node owns: timers, deliveries to its callbacks, its start. */
static void node_drop_events(struct sim_node *node) {
    struct sim_world *world = node->world;
    size_t kept = 0;
    for (size_t i = 0; i < world->heap_count; i++) {
        struct sim_event *ev = world->heap[i];
        if (ev->node == node) {
            event_release(world, ev);
        } else {
            world->heap[kept++] = ev;
        }
    }
    world->heap_count = kept;
    for (size_t i = 0; i < kept; i++)
        world->heap[i]->heap_index = i;
    for (size_t i = kept / 2; i-- > 0;)
        heap_down(world, i);
    for (size_t i = 0; i < node->deferred_count; i++)
        free(node->deferred[i]);
    node->deferred_count = 0;
    node->timer_count = 0;
}

void sim_node_crash(struct sim_node *node) {
    struct sim_world *world = node->world;
    ASSERT(node->up);
    ASSERT(world->current_node != node);       /* a node cannot free the code that is running */
    ASSERT(world->broken != SIM_BREAK_ASSERT); /* deliberately broken: shows the handler */
    sim_net_node_crash(node);                  /* streams first: they may reference files */
    sim_disk_close_all(node);
    node_drop_events(node);
    node_free_memory(node);
    sim_disk_crash(node);
    node->up = false;
    node->paused = false;
    sim_hash_u64(world, 0xC4A5400000000000ULL | node->index);
}

void sim_node_restart(struct sim_node *node) {
    ASSERT(!node->up);
    sim_hash_u64(node->world, 0x4E57A47000000000ULL | node->index);
    node_bring_up(node);
}

void sim_node_pause(struct sim_node *node) {
    ASSERT(node->up);
    ASSERT(node->world->current_node != node);
    node->paused = true;
}

void sim_node_resume(struct sim_node *node) {
    struct sim_world *world = node->world;
    ASSERT(node->up);
    if (!node->paused) return;
    node->paused = false;
    /* The waiting events run now, in the order they came due; new sequence numbers keep
     * them behind anything already scheduled for this instant. */
    for (size_t i = 0; i < node->deferred_count; i++) {
        struct sim_event *ev = node->deferred[i];
        ev->time_ns = world->now_ns;
        ev->seq = ++world->next_seq;
        heap_push(world, ev);
    }
    node->deferred_count = 0;
}

/* --- Memory ----------------------------------------------------------------------------- */

/* The header is padded to a multiple of 16 so that the payload keeps malloc's alignment. */
#define SIM_ALLOC_HEADER_BYTES ((sizeof(struct sim_alloc) + 15) & ~(size_t)15)

void *sim_node_alloc(struct sim_node *node, size_t size) {
    sim_node_check_caller(node);
    ASSERT(size <= SIZE_MAX - SIM_ALLOC_HEADER_BYTES);
    struct sim_alloc *a = sim_xmalloc(SIM_ALLOC_HEADER_BYTES + size);
    a->size = size;
    a->magic = SIM_ALLOC_MAGIC;
    a->next = &node->allocs;
    a->prev = node->allocs.prev;
    a->prev->next = a;
    node->allocs.prev = a;
    node->live_allocs++;
    node->live_bytes += size;
    return (uint8_t *)a + SIM_ALLOC_HEADER_BYTES;
}

void sim_node_free(struct sim_node *node, void *ptr, size_t size) {
    if (ptr == NULL) return;
    sim_node_check_caller(node);
    struct sim_alloc *a = (struct sim_alloc *)(void *)((uint8_t *)ptr - SIM_ALLOC_HEADER_BYTES);
    ASSERT(a->magic == SIM_ALLOC_MAGIC); /* not ours, or freed twice */
    ASSERT(a->size == size);             /* sized deallocation must match */
    ASSERT(node->live_allocs > 0 && node->live_bytes >= size);
    a->prev->next = a->next;
    a->next->prev = a->prev;
    a->magic = 0;
    node->live_allocs--;
    node->live_bytes -= size;
    free(a);
}

/* --- Clocks ----------------------------------------------------------------------------- */

static uint64_t mono_at(struct sim_node *node, uint64_t world_ns) {
    ASSERT(world_ns >= node->clock_base_world_ns);
    unsigned __int128 elapsed = world_ns - node->clock_base_world_ns;
    unsigned __int128 scaled = elapsed * (unsigned __int128)(1000000 + node->drift_ppm) / 1000000;
    return node->clock_base_mono_ns + (uint64_t)scaled;
}

uint64_t sim_node_mono_ns(struct sim_node *node) { return mono_at(node, node->world->now_ns); }

/* The earliest virtual time at which the node's monotonic clock reads >= mono_ns. */
static uint64_t world_time_for_mono(struct sim_node *node, uint64_t mono_ns) {
    if (mono_ns <= node->clock_base_mono_ns) return node->clock_base_world_ns;
    unsigned __int128 delta = mono_ns - node->clock_base_mono_ns;
    unsigned __int128 rate = (unsigned __int128)(1000000 + node->drift_ppm);
    uint64_t t = node->clock_base_world_ns + (uint64_t)((delta * 1000000 + rate - 1) / rate);
    for (int i = 0; i < 4 && mono_at(node, t) < mono_ns; i++)
        t++;
    ASSERT(mono_at(node, t) >= mono_ns);
    return t;
}

int64_t sim_node_wall_ms(struct sim_node *node) {
    return SIM_WALL_EPOCH_MS + (int64_t)(sim_node_mono_ns(node) / NS_PER_MS) + node->wall_offset_ms;
}

void sim_node_set_clock(struct sim_node *node, int64_t skew_ms, int32_t drift_ppm) {
    ASSERT(drift_ppm > -500000 && drift_ppm < 500000);
    /* Rebase at now so the monotonic clock stays continuous across the rate change. */
    uint64_t now_mono = sim_node_mono_ns(node);
    node->clock_base_world_ns = node->world->now_ns;
    node->clock_base_mono_ns = now_mono;
    node->drift_ppm = drift_ppm;
    node->wall_offset_ms = skew_ms;
    sim_hash_u64(node->world, (uint64_t)skew_ms ^ ((uint64_t)(uint32_t)drift_ppm << 32));
    /* Move every pending timer to the virtual time its deadline now maps to, keeping its
     * sequence number, so timers still fire at their deadline and in (deadline, start)
     * order. Timers waiting in a paused node's deferred list run at resume anyway. */
    for (size_t i = 0; i < node->timer_count; i++) {
        struct sim_event *ev = node->timers[i];
        if (ev->heap_index == SIM_HEAP_INDEX_NONE) continue;
        heap_remove(node->world, ev);
        ev->time_ns = MAX(node->world->now_ns, world_time_for_mono(node, ev->deadline_ns));
        heap_push(node->world, ev);
    }
}

void sim_node_jump_wall(struct sim_node *node, int64_t delta_ms) {
    node->wall_offset_ms += delta_ms;
    sim_hash_u64(node->world, (uint64_t)delta_ms);
}

/* --- Timers ----------------------------------------------------------------------------- */

static void timer_fire(struct sim_world *world, struct sim_event *ev) {
    struct sim_node *node = ev->node;
    uint64_t mono = sim_node_mono_ns(node);
    bool early_break = world->broken == SIM_BREAK_EARLY_TIMER && !world->break_done &&
                       ev->deadline_ns > NS_PER_MS && mono + NS_PER_MS >= ev->deadline_ns;
    if (mono < ev->deadline_ns && !early_break) {
        /* The clock's rate changed after the timer was set: wait the remaining time. */
        struct sim_event *again = sim_event_new(
            world, node, SIM_EV_TIMER, world_time_for_mono(node, ev->deadline_ns), timer_fire);
        again->p = ev->p;
        again->q = ev->q;
        again->u = ev->u;
        again->deadline_ns = ev->deadline_ns;
        heap_remove(world, again); /* keep the original sequence: order among equals */
        again->seq = ev->seq;
        heap_push(world, again);
        for (size_t i = 0; i < node->timer_count; i++) {
            if (node->timers[i] == ev) node->timers[i] = again;
        }
        return;
    }
    if (early_break) world->break_done = true;
    bool found = remove_ptr(node->timers, &node->timer_count, ev);
    ASSERT(found);
    io_timer_cb cb = (io_timer_cb)(uintptr_t)ev->q;
    cb(ev->p);
}

io_timer_id sim_node_timer_start(struct sim_node *node, uint64_t deadline_ns, io_timer_cb cb,
                                 void *arg) {
    sim_node_check_caller(node);
    ASSERT(cb != NULL);
    struct sim_world *world = node->world;
    uint64_t at = world_time_for_mono(node, deadline_ns);
    if (world->broken == SIM_BREAK_EARLY_TIMER && !world->break_done) {
        /* Schedule a millisecond early; timer_fire lets exactly one such timer through. */
        uint64_t early = at > world->now_ns + NS_PER_MS ? at - NS_PER_MS : world->now_ns;
        at = early;
    }
    struct sim_event *ev = sim_event_new(world, node, SIM_EV_TIMER, at, timer_fire);
    ev->p = arg;
    ev->q = (void *)(uintptr_t)cb;
    ev->u = node->next_timer_id++;
    ev->deadline_ns = deadline_ns;
    node->timers = sim_grow(node->timers, &node->timer_cap, node->timer_count, sizeof(ev));
    node->timers[node->timer_count++] = ev;
    return ev->u;
}

void sim_node_timer_cancel(struct sim_node *node, io_timer_id id) {
    sim_node_check_caller(node);
    if (id == 0) return;
    /* Ids grow, and the array is sorted by id: binary search. */
    size_t lo = 0;
    size_t hi = node->timer_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (node->timers[mid]->u < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == node->timer_count || node->timers[lo]->u != id) return;
    struct sim_event *ev = node->timers[lo];
    memmove(&node->timers[lo], &node->timers[lo + 1],
            (node->timer_count - lo - 1) * sizeof(*node->timers));
    node->timer_count--;
    sim_event_cancel(node->world, ev);
}

/* --- Trace, log, buggify ---------------------------------------------------------------- */

void sim_node_trace(struct sim_node *node, const char *event, const struct io_trace_field *fields,
                    size_t count) {
    struct sim_world *world = node->world;
    ASSERT(event != NULL);
    ASSERT(count <= 64);
    sim_hash_u64(world, 0x7A4CE00000000000ULL | node->index);
    sim_hash_u64(world, world->now_ns);
    hash_str(world, event);
    for (size_t i = 0; i < count; i++) {
        hash_str(world, fields[i].key);
        sim_hash_u64(world, (uint64_t)fields[i].type);
        if (fields[i].type == IO_TRACE_STR) {
            hash_str(world, fields[i].s);
        } else {
            sim_hash_u64(world, (uint64_t)fields[i].i);
        }
    }
    if (world->trace_hook != NULL) {
        world->trace_hook(world->trace_hook_arg, node, world->now_ns, event, fields, count);
    }
}

void sim_node_log(struct sim_node *node, enum io_log_level level, const char *message) {
    struct sim_world *world = node->world;
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (world->log_hook != NULL) {
        world->log_hook(world->log_hook_arg, node, world->now_ns, level, message);
    }
    if (world->verbose) {
        fprintf(stderr, "%12.6f %s %s: %s\n", (double)world->now_ns / 1e9, node->name,
                (unsigned)level < 4 ? names[level] : "?", message);
    }
}

bool sim_node_buggify(struct sim_node *node, const char *site) {
    struct sim_world *world = node->world;
    if (!world->buggify) return false;
    /* Like FoundationDB: a site is armed in a quarter of the runs (decided by the seed and
     * the site's name, never its address), and an armed site fires 5% of the time. */
    uint64_t h = FNV_OFFSET;
    for (const char *c = site; *c != '\0'; c++) {
        h ^= (uint8_t)*c;
        h *= FNV_PRIME;
    }
    uint64_t state = h ^ world->seed;
    if (splitmix64(&state) % 4 != 0) return false;
    return sim_rng_chance(&node->rng_buggify, 50);
}

void sim_world_set_mutant(struct sim_world *world, const char *name) {
    snprintf(world->mutant, sizeof(world->mutant), "%s", name != NULL ? name : "");
}

const char *sim_world_mutant(const struct sim_world *world) { return world->mutant; }

void sim_world_set_net_trace(struct sim_world *world, bool enabled) { world->net_trace = enabled; }

bool sim_node_mutant(struct sim_node *node, const char *name) {
    return node->world->mutant[0] != '\0' && strcmp(node->world->mutant, name) == 0;
}

/* --- Abort handler ---------------------------------------------------------------------- */

/* The one piece of process-wide state in sim/: a signal handler has no argument. */
static char sim_abort_message[512];
static size_t sim_abort_message_len;

static void sim_abort_handler(int sig) {
    ssize_t ignored = write(STDERR_FILENO, sim_abort_message, sim_abort_message_len);
    (void)ignored;
    signal(sig, SIG_DFL);
    raise(sig);
}

void sim_install_abort_handler(uint64_t seed, const char *repro_command) {
    int n = snprintf(sim_abort_message, sizeof(sim_abort_message),
                     "trial: aborted in simulation with seed %" PRIu64 "\n"
                     "trial: reproduce with: %s\n",
                     seed, repro_command);
    sim_abort_message_len = n < 0 ? 0 : MIN((size_t)n, sizeof(sim_abort_message) - 1);
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = sim_abort_handler;
    sigemptyset(&action.sa_mask);
    sigaction(SIGABRT, &action, NULL);
}
