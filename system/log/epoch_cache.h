/*
 * epoch_cache.h — the leader-epoch cache of one partition: epoch -> start offset.
 *
 * Entries are kept with strictly increasing epochs and strictly increasing start offsets
 * (I-REPL-7). The log assigns an entry when it appends the first batch of a new epoch,
 * trims it when the log is truncated (from the end: follower truncation; from the start:
 * log start offset moves) and persists it as `leader-epoch-checkpoint` after each change.
 * log_epoch_cache_end_offset() answers OffsetsForLeaderEpoch (KIP-101/KIP-279).
 *
 * The cache owns an array allocated from `io`; at most LOG_EPOCH_CACHE_MAX entries (the
 * oldest entry is dropped past that: it only serves fetches from a replica that far
 * behind, which then truncates to the oldest known epoch).
 */
#ifndef TRIAL_LOG_EPOCH_CACHE_H
#define TRIAL_LOG_EPOCH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/checkpoint.h"

struct io;

#define LOG_EPOCH_CACHE_MAX 4096u
#define LOG_EPOCH_UNDEFINED (-1)
#define LOG_OFFSET_UNDEFINED (-1)

struct log_epoch_cache {
    struct io *io;
    struct log_epoch_entry *entries; /* Sorted by epoch and by start offset. */
    size_t count;
};

void log_epoch_cache_init(struct log_epoch_cache *cache, struct io *io);
void log_epoch_cache_deinit(struct log_epoch_cache *cache);

/* Replaces the contents (e.g. from a checkpoint); entries must be strictly increasing in
 * both fields, otherwise -EBADMSG and the cache is left empty. */
int log_epoch_cache_load(struct log_epoch_cache *cache, const struct log_epoch_entry *e,
                         size_t count);

/*
 * Records that `epoch` starts at `start_offset`. A no-op (returns false) when epoch is not
 * newer than the latest; otherwise any entry with start_offset >= the new one is removed
 * first, keeping both fields strictly increasing, and returns true (the caller persists).
 */
bool log_epoch_cache_assign(struct log_epoch_cache *cache, int32_t epoch, int64_t start_offset);

/* Latest epoch, or LOG_EPOCH_UNDEFINED if empty. */
int32_t log_epoch_cache_latest(const struct log_epoch_cache *cache);

/*
 * OffsetsForLeaderEpoch: for `requested`, the end offset of that epoch, i.e. the start
 * offset of the first epoch after it (or log_end_offset when it is the latest epoch), and
 * the largest known epoch <= requested. Unknown or newer-than-latest epochs answer
 * (LOG_EPOCH_UNDEFINED, LOG_OFFSET_UNDEFINED); older-than-first answers (requested, the
 * first start offset).
 */
void log_epoch_cache_end_offset(const struct log_epoch_cache *cache, int32_t requested,
                                int64_t log_end_offset, int32_t *epoch_out, int64_t *offset_out);

/* Removes entries with start_offset >= end_offset (log truncated to end_offset). Returns
 * true if anything changed. */
bool log_epoch_cache_truncate_from_end(struct log_epoch_cache *cache, int64_t end_offset);

/* The log start moved to start_offset: entries wholly before it are dropped and the entry
 * covering it is moved up to start at start_offset. Returns true if anything changed. */
bool log_epoch_cache_truncate_from_start(struct log_epoch_cache *cache, int64_t start_offset);

#endif /* TRIAL_LOG_EPOCH_CACHE_H */
