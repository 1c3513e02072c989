/*
 * sim.h — the deterministic simulated world: one process, one thread, one virtual clock.
 *
 * A world holds nodes. Each node is a program (a start callback handed a `struct io *`)
 * plus its own virtual clock, memory, disk and network endpoint. Everything the nodes do
 * happens in events taken from one scheduler ordered by (virtual time, sequence number),
 * and every random choice comes from PRNG streams split from the world's single seed, so a
 * seed replays bit for bit. Every scheduling decision and every io_trace() of every node is
 * folded into a 64-bit trace hash: two runs of one seed must print the same hash.
 *
 * Ownership: the world owns its nodes; a node's `struct io` is valid from sim_node_add()
 * (or sim_node_restart()) until sim_node_crash(). Node code runs only from
 * sim_world_step() (never from inside a sim_* call made by a test), except that tests may
 * call io_* functions on a node's io directly, e.g. file operations of a node with no
 * program (start = NULL).
 *
 * The disk half of the API (crash model, fault injection) is in sim/disk.h.
 */
#ifndef TRIAL_SIM_H
#define TRIAL_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

struct sim_world;
struct sim_node;

/* --- World ----------------------------------------------------------------------------- */

struct sim_world *sim_world_create(uint64_t seed);
/* Frees every node (like a crash, without resolving disks further) and every event. */
void sim_world_destroy(struct sim_world *world);
uint64_t sim_world_seed(struct sim_world *world);

/* Runs the next event; false if the queue is empty. */
bool sim_world_step(struct sim_world *world);
/* Runs every event with time <= virtual_ns, then sets the clock to virtual_ns. */
void sim_world_run_until(struct sim_world *world, uint64_t virtual_ns);
uint64_t sim_world_now_ns(struct sim_world *world);
uint64_t sim_world_trace_hash(struct sim_world *world);
/* Number of events run so far (for benchmarks). */
uint64_t sim_world_events_run(struct sim_world *world);

/* A world-level event (scenario steps, fault schedules): not owned by any node, so node
 * pauses and crashes do not affect it. Returns an id for sim_world_cancel (never 0). */
typedef void (*sim_world_cb)(struct sim_world *world, void *arg);
uint64_t sim_world_schedule(struct sim_world *world, uint64_t at_ns, sim_world_cb cb, void *arg);
void sim_world_cancel(struct sim_world *world, uint64_t id);

/* Prints io_log lines of every node to stderr, prefixed with time and node name. */
void sim_world_set_verbose(struct sim_world *world, bool verbose);
/* Lets io_buggify() return true now and then (off by default). */
void sim_world_set_buggify(struct sim_world *world, bool enabled);

/* Observers. The trace hook sees every io_trace() of every node, in order; `fields` and
 * their strings are valid only during the call. The log hook sees every io_log line. */
typedef void (*sim_trace_hook)(void *arg, struct sim_node *node, uint64_t now_ns, const char *event,
                               const struct io_trace_field *fields, size_t count);
void sim_world_set_trace_hook(struct sim_world *world, sim_trace_hook hook, void *arg);
typedef void (*sim_log_hook)(void *arg, struct sim_node *node, uint64_t now_ns,
                             enum io_log_level level, const char *message);
void sim_world_set_log_hook(struct sim_world *world, sim_log_hook hook, void *arg);

/* Switches on the mutant `name` (a deliberate protocol bug compiled into the simulation
 * build only; system/base/mutant.h) for every node: io_mutant(io, name) answers true.
 * NULL or "" switches mutants off. */
void sim_world_set_mutant(struct sim_world *world, const char *name);
const char *sim_world_mutant(const struct sim_world *world);

/* Traces every data segment a stream carries as "net_send" on the sender (int "msg", str
 * "to", int "bytes") and "net_recv" on the receiver (int "msg", str "from", int "bytes"),
 * the message convention of checkers/trace.h (reports draw them as arrows). Off by
 * default; turning it on changes the trace hash. */
void sim_world_set_net_trace(struct sim_world *world, bool enabled);

/* Deliberately broken contracts, to prove the selftest catches them. */
enum sim_break {
    SIM_BREAK_NONE = 0,
    SIM_BREAK_KEEP_UNSYNCED = 1, /* a crash keeps one pending write the model said to drop */
    SIM_BREAK_DUP_BYTES = 2,     /* the network delivers one segment twice */
    SIM_BREAK_EARLY_TIMER = 3,   /* one timer fires 1 ms before its deadline */
    SIM_BREAK_ASSERT = 4,        /* an ASSERT fails at the first crash (abort handler demo) */
};
void sim_world_set_break(struct sim_world *world, enum sim_break which);
/* Parses "keep-unsynced", "dup-bytes", "early-timer", "assert"; -EINVAL if unknown. */
int sim_break_parse(const char *name, enum sim_break *out);

/* --- PRNG streams ------------------------------------------------------------------------ */

/* xoshiro256** state. Streams are derived from (seed, key) with SplitMix64, so draws in
 * one stream never shift another. */
struct sim_rng {
    uint64_t s[4];
};
void sim_rng_init(struct sim_rng *rng, uint64_t seed, uint64_t key);
uint64_t sim_rng_next(struct sim_rng *rng);
/* Uniform in [0, bound), bound > 0 (rejection sampling, no modulo bias). */
uint64_t sim_rng_below(struct sim_rng *rng, uint64_t bound);
/* True with probability permille / 1000. */
bool sim_rng_chance(struct sim_rng *rng, uint32_t permille);

enum sim_stream {
    SIM_STREAM_NETWORK = 0,
    SIM_STREAM_DISK = 1,
    SIM_STREAM_FAULTS = 2,
    SIM_STREAM_WORKLOAD = 3,
    SIM_STREAM_COUNT = 4,
};
/* The world's stream `which`; scenarios and workloads draw from FAULTS and WORKLOAD. */
struct sim_rng *sim_world_rng(struct sim_world *world, enum sim_stream which);

/* --- Nodes ----------------------------------------------------------------------------- */

#define SIM_NODES_MAX     64
#define SIM_NODE_NAME_MAX 64

/* Adds a node named `name` (unique; also its network host name) and schedules
 * start(io, arg) as an event at the current time. start may be NULL: a node with no program
 * whose io a test drives directly. */
struct sim_node *sim_node_add(struct sim_world *world, const char *name,
                              void (*start)(struct io *io, void *arg), void *arg);
struct io *sim_node_io(struct sim_node *node); /* valid until crash; NULL while down */
const char *sim_node_name(struct sim_node *node);
uint32_t sim_node_index(struct sim_node *node); /* order of sim_node_add, from 0 */
struct sim_node *sim_node_find(struct sim_world *world, const char *name);
size_t sim_node_count(struct sim_world *world);
struct sim_node *sim_node_at(struct sim_world *world, size_t index);

/* Crash: every io_alloc of the node is freed without running node code; its timers,
 * streams, listeners and open files vanish; peers' streams reset; pending disk writes are
 * kept, dropped or torn per the crash model (sim/disk.h). Must not be called from inside a
 * callback of the same node. */
void sim_node_crash(struct sim_node *node);
/* Brings a crashed node back: a new io, the same disk, start(io, arg) scheduled now. */
void sim_node_restart(struct sim_node *node);
bool sim_node_is_up(struct sim_node *node);
/* A long GC pause: no callback of the node runs; its events wait and run on resume, in
 * their original order. The kernel side (network buffers) keeps working. */
void sim_node_pause(struct sim_node *node);
void sim_node_resume(struct sim_node *node);
bool sim_node_is_paused(struct sim_node *node);

/* Outstanding io_alloc allocations of the node (0 after a crash). */
size_t sim_node_live_allocs(struct sim_node *node);
size_t sim_node_live_bytes(struct sim_node *node);

/* Clocks. The node's monotonic clock runs at (1 + drift_ppm / 1e6) times virtual time and
 * never decreases; its wall clock is the monotonic clock plus an epoch plus skew_ms plus
 * every jump. */
void sim_node_set_clock(struct sim_node *node, int64_t skew_ms, int32_t drift_ppm);
void sim_node_jump_wall(struct sim_node *node, int64_t delta_ms);

/* --- Network --------------------------------------------------------------------------- */

/* One direction of a link: serialization at bandwidth_bytes_per_s (0 = unlimited), then a
 * latency uniform in [latency_min_ns, latency_max_ns], plus, with probability
 * tail_permille / 1000, a uniform extra in [0, tail_extra_ns] (a long tail). */
struct sim_link_config {
    uint64_t latency_min_ns;
    uint64_t latency_max_ns;
    uint64_t bandwidth_bytes_per_s;
    uint32_t tail_permille;
    uint64_t tail_extra_ns;
};
/* Sets the a -> b direction (a == NULL or b == NULL: every link from / to the other). */
void sim_net_set_link(struct sim_world *world, struct sim_node *from, struct sim_node *to,
                      const struct sim_link_config *config);
/* Blocks a -> b (and b -> a unless one_way). Bytes in flight stall; a stream stalled for
 * longer than the timeout (sim_net_set_timeout) resets with -ETIMEDOUT at both ends. */
void sim_net_partition(struct sim_world *world, struct sim_node *a, struct sim_node *b,
                       bool one_way);
/* Unblocks both directions between a and b; stalled bytes move again. */
void sim_net_heal(struct sim_world *world, struct sim_node *a, struct sim_node *b);
void sim_net_heal_all(struct sim_world *world);
bool sim_net_is_blocked(struct sim_world *world, struct sim_node *from, struct sim_node *to);
/* Adds extra_ns to every a <-> b delivery that departs before now + duration_ns. */
void sim_net_spike(struct sim_world *world, struct sim_node *a, struct sim_node *b,
                   uint64_t extra_ns, uint64_t duration_ns);
/* Resets every stream between a and b (both ends see -ECONNRESET). Returns how many. */
size_t sim_net_reset(struct sim_world *world, struct sim_node *a, struct sim_node *b);
/* Stall timeout for streams and connects (default 10 s of virtual time). */
void sim_net_set_timeout(struct sim_world *world, uint64_t timeout_ns);

/* --- Diagnostics ----------------------------------------------------------------------- */

/* Installs a SIGABRT handler that prints the seed and `repro_command` when an ASSERT (or
 * anything) aborts. The strings are copied into a fixed buffer. */
void sim_install_abort_handler(uint64_t seed, const char *repro_command);

#include "sim/disk.h"

#endif /* TRIAL_SIM_H */
