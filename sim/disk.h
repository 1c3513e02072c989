/*
 * disk.h — the simulated disk of one node and its crash model.
 *
 * Each node has a disk: a tree of directories and files. A file is an inode with two
 * images: the durable image (what survives a crash) and the current image (what reads see:
 * the durable image plus every pending write and truncate, in order). io_file_sync() makes
 * the current image durable and empties the pending list. Directory metadata (create,
 * rename, unlink, mkdir, rmdir) is durable when the call returns, as io.h promises.
 *
 * The crash model (after SQLite's test6.c): when a node crashes, each pending write is cut
 * at 512-byte sector boundaries and, by a seeded choice, the write is
 *   - kept   (every sector piece reaches the durable image),
 *   - dropped (no sector piece does), or
 *   - torn   (each sector piece independently kept or dropped).
 * A pending truncate is kept or dropped. Pieces are applied in write order, so each sector
 * holds old or new bytes, never other bytes — unless bit flips are turned on, which flip
 * one bit in a kept piece now and then (the kind of damage a CRC must catch). The file's
 * size afterwards is the durable size extended to the end of every kept piece.
 *
 * Faults: every operation first consults a libfiu point — sim/disk/open, sim/disk/read,
 * sim/disk/write, sim/disk/sync, sim/disk/rename — and a per-node programmable count
 * (sim_disk_fail). A failing point returns -EIO unless its failinfo is a positive errno
 * (e.g. (void *)(intptr_t)ENOSPC). libfiu's state is process-wide: use fiu_enable (not the
 * random variants, whose PRNG is not ours) to keep runs deterministic. Consulting libfiu
 * costs a lock and a table lookup per operation (a tenth of a cluster run that never arms a
 * point), so a world that knows it arms none may switch the libfiu points off with
 * sim_world_set_disk_fiu(world, false); sim_disk_fail keeps working either way.
 */
#ifndef TRIAL_SIM_DISK_H
#define TRIAL_SIM_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_node;
struct sim_world;

/* Whether disk operations consult the sim/disk/... libfiu points (on by default). */
void sim_world_set_disk_fiu(struct sim_world *world, bool enabled);

#define SIM_DISK_SECTOR_BYTES 512

enum sim_disk_op {
    SIM_DISK_OPEN = 0,
    SIM_DISK_READ = 1,
    SIM_DISK_WRITE = 2, /* pwrite and truncate */
    SIM_DISK_SYNC = 3,
    SIM_DISK_RENAME = 4,
    SIM_DISK_OP_COUNT = 5,
};

/* Makes the next `count` operations `op` on this node's disk fail with -err (err > 0, e.g.
 * EIO or ENOSPC). count 0 clears. Survives crashes (it is the disk's fault). */
void sim_disk_fail(struct sim_node *node, enum sim_disk_op op, int err, uint32_t count);

/* Weights (per mille) of the three fates of a pending write at a crash; the rest of 1000
 * after keep + drop is "torn". tear_keep_permille: chance each piece of a torn write is
 * kept. bitflip_per_million: chance a kept piece gets one bit flipped. */
struct sim_crash_model {
    uint32_t keep_permille;
    uint32_t drop_permille;
    uint32_t tear_keep_permille;
    uint32_t bitflip_per_million;
};
/* Default: keep 300, drop 300, tear 400 (pieces kept at 500), no bit flips. */
void sim_disk_set_crash_model(struct sim_node *node, const struct sim_crash_model *model);

/* Sees every decision of a crash, in order: a write piece (offset, len within one sector)
 * or a truncate (is_truncate, offset = new size, len 0), and whether it was kept. */
typedef void (*sim_crash_observer)(void *arg, struct sim_node *node, const char *path,
                                   bool is_truncate, uint64_t offset, uint64_t len, bool kept);
void sim_disk_set_crash_observer(struct sim_node *node, sim_crash_observer observer, void *arg);

/* Inspection without the node's io (checkers, tests). Reads the current image. Returns the
 * bytes copied (<= cap), -ENOENT or -EISDIR. */
int64_t sim_disk_read_file(struct sim_node *node, const char *path, void *buf, size_t cap,
                           uint64_t offset);
int64_t sim_disk_file_size(struct sim_node *node, const char *path);
/* Pending (unsynced) writes + truncates of the file, or -ENOENT. */
int64_t sim_disk_pending_count(struct sim_node *node, const char *path);

#endif /* TRIAL_SIM_DISK_H */
