/*
 * selftest.h — the world's own randomized stress workload and contract checker, run by
 * `trial selftest --seed N` and by bench/bench_sim.c.
 *
 * Several nodes exchange framed, checksummed, sequence-numbered messages over streams,
 * append checksummed records to a log file and fsync it, while a seeded fault schedule
 * crashes and restarts them, partitions and heals links, pauses them, skews and jumps their
 * clocks, spikes latency, resets streams and fails disk operations. A harness outside node
 * memory keeps the truth (what was sent, what was written and synced) and checks the
 * world's contracts:
 *   stream-exactly-once  a stream delivers the bytes written, in order, exactly once, or
 *                        ends with an error (EOF only after everything sent arrived);
 *   fsync-durable        bytes synced before a crash are on disk after it;
 *   crash-model          unsynced bytes after a crash are exactly what the crash model
 *                        reported (per 512-byte sector old or new contents, nothing else;
 *                        with --bitflips, a kept sector may also have one bit flipped);
 *   timer-order          timers never fire before their deadline and fire in order;
 *   crash-frees-memory   a crashed node holds no allocation;
 *   liveness-after-heal  once every fault is healed, every node hears from its peers.
 */
#ifndef TRIAL_SIM_SELFTEST_H
#define TRIAL_SIM_SELFTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/sim.h"

struct sim_selftest_options {
    uint64_t seed;
    bool verbose;          /* print io_log lines */
    bool quiet;            /* no summary lines (bench) */
    enum sim_break broken; /* a deliberately broken contract */
    uint64_t duration_ns;  /* faulty phase; 0 = default (20 s) */
    uint32_t nodes;        /* 0 = drawn from the seed (3..5) */
    bool bitflips;         /* the crash model flips a bit in 10% of kept sectors */
};

struct sim_selftest_result {
    bool passed;
    char contract[64]; /* the first broken contract, if any */
    char detail[256];
    uint64_t trace_hash;
    uint64_t events;
    uint64_t virtual_ns;
    uint64_t messages_sent;
    uint64_t messages_received;
    uint64_t records_appended;
    uint64_t syncs;
    uint64_t crashes;
    uint64_t pieces_kept;
    uint64_t pieces_dropped;
    uint64_t bits_flipped;
};

/* Runs the workload; prints a summary to stdout unless quiet, and a contract failure to
 * stderr. Returns 0 if every contract held, 1 otherwise. */
int sim_selftest_run(const struct sim_selftest_options *options,
                     struct sim_selftest_result *result);

#endif /* TRIAL_SIM_SELFTEST_H */
