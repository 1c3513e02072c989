/*
 * log.h — the partition log: segments of record batches v2, sparse offset and time
 * indexes, recovery, reads (zero-copy ranges or copies), timestamp lookup, truncation,
 * flush policy, retention, compaction and the leader-epoch cache.
 *
 * On disk (one directory per partition, Kafka's layout; see docs/LOG.md):
 *   %020lld.log        batches back to back, exactly as appended (no header)
 *   %020lld.index      8-byte entries: relative offset i32 BE, position i32 BE
 *   %020lld.timeindex  12-byte entries: timestamp i64 BE, relative offset i32 BE
 *   leader-epoch-checkpoint   text, see checkpoint.h
 *   .kafka_cleanshutdown      present only between a clean log_close() and the next open
 * Index entries: once `index_interval_bytes` have been appended since the last entry, the
 * next batch gets an entry (its last offset, its position) and the time index gets
 * (largest timestamp so far, last offset of the batch holding it) if that timestamp grew.
 * The same rule runs on append and on recovery, so rebuilt indexes equal written ones.
 *
 * Durability: appends are durable after log_flush() (or the flush policy). log_flush()
 * syncs every segment written since the last flush, oldest first, with its indexes.
 * Truncation and compaction sync before they return. After a crash, log_open() scans from
 * the segment holding the recovery point, cuts the first torn or corrupt batch and
 * everything after it, and rebuilds those segments' indexes (I-LOG-2).
 *
 * Ownership: struct log and everything it points to are allocated from `io` and freed by
 * log_close(). After a simulated crash the memory simply vanishes with the node. The
 * fields of struct log / log_segment are readable by tests and checkers; only log_*
 * functions change them. Nothing here calls back.
 *
 * Errors: negative errno. -ERANGE: offset outside [log start, log end] (Kafka
 * OFFSET_OUT_OF_RANGE). -EINVAL: a follower batch below the log end or malformed, or an
 * epoch older than the cache's latest (a fenced leader's data). -EBADMSG: CRC failure in
 * follower data, or bit rot met while reading. -EIO/-ENOSPC from io. After an io error
 * from truncation, retention or compaction the in-memory state may no longer match the
 * disk: close the log and open it again (Kafka takes the log dir offline in that case).
 */
#ifndef TRIAL_LOG_LOG_H
#define TRIAL_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log/batch.h"
#include "log/epoch_cache.h"

struct io;
struct io_file;

#define LOG_PATH_MAX 512
#define LOG_SEGMENTS_MAX (1u << 20)
#define LOG_SCAN_CHUNK_BYTES (1u << 20)
#define LOG_BATCH_BYTES_MAX (64u << 20) /* Anything larger found on disk is corruption. */
#define LOG_READ_RANGES_MAX 8
#define LOG_OFFSET_INDEX_ENTRY_BYTES 8
#define LOG_TIME_INDEX_ENTRY_BYTES 12
#define LOG_CLEAN_SHUTDOWN_FILE ".kafka_cleanshutdown"
#define LOG_EPOCH_CHECKPOINT_FILE "leader-epoch-checkpoint"

/* Kafka topic/broker configs, with Kafka's defaults from log_config_default(). */
struct log_config {
    uint64_t segment_bytes;          /* log.segment.bytes (1 GiB) */
    int64_t roll_ms;                 /* log.roll.ms (7 days) */
    uint32_t index_interval_bytes;   /* log.index.interval.bytes (4096) */
    uint32_t index_size_max_bytes;   /* log.index.size.max.bytes (10 MiB) */
    int64_t flush_interval_messages; /* log.flush.interval.messages (INT64_MAX: never) */
    int64_t flush_interval_ms;       /* log.flush.interval.ms (INT64_MAX: never) */
    int64_t retention_ms;            /* log.retention.ms (7 days; -1 unlimited) */
    int64_t retention_bytes;         /* log.retention.bytes (-1 unlimited) */
    bool cleanup_delete;             /* cleanup.policy contains delete (default) */
    bool cleanup_compact;            /* cleanup.policy contains compact */
    int64_t delete_retention_ms;     /* delete.retention.ms (1 day): tombstone lifetime */
    uint32_t max_batch_bytes;        /* message.max.bytes (1048588) for appends */
    bool timestamp_log_append;       /* message.timestamp.type=LogAppendTime (false) */
};

void log_config_default(struct log_config *config);

struct log_offset_entry {
    int64_t offset;    /* Absolute: base + relative. The last offset of the batch. */
    uint32_t position; /* Byte position of that batch in the .log file. */
};

struct log_time_entry {
    int64_t timestamp; /* Largest timestamp in the segment up to `offset`. */
    int64_t offset;    /* Absolute last offset of the batch holding it. */
};

struct log_segment {
    int64_t base_offset;
    struct io_file *log_file;
    struct io_file *index_file;
    struct io_file *time_file;
    uint64_t size_bytes;   /* Valid bytes of the .log file. */
    int64_t next_offset;   /* Last offset + 1 of the last batch, or base_offset if empty. */
    int64_t max_timestamp; /* Largest batch maxTimestamp, -1 if none. */
    int64_t offset_of_max_timestamp;
    int64_t rolling_timestamp_ms; /* For log.roll.ms: first batch's maxTimestamp, or -1. */
    int64_t created_ms;           /* now_ms of the first append since open, or -1. */
    uint64_t bytes_since_index;
    struct log_offset_entry *index;
    uint32_t index_count, index_cap, index_written;
    struct log_time_entry *time_index;
    uint32_t time_count, time_cap, time_written;
    bool dirty; /* Written since the last sync. */
};

/* The read path's memory of one recent batch of the active segment (see log.c, find_batch). */
#define LOG_TAIL_BATCHES 64
struct log_tail_entry {
    int64_t last_offset;
    uint64_t position;
};

struct log {
    struct io *io;
    char dir[LOG_PATH_MAX];
    struct log_config config;
    struct log_segment *segments; /* Ascending base offsets; the last one is active. */
    size_t segment_count, segment_cap;
    int64_t log_start_offset;
    int64_t recovery_point;
    int64_t unflushed_messages;
    int64_t last_flush_ms;
    struct log_epoch_cache epochs;
    uint8_t *scratch; /* Scan and copy buffer. */
    size_t scratch_cap;
    bool recovered_unclean; /* This open ran recovery (no clean-shutdown marker). */
    uint64_t recovery_bytes_scanned;
    /* The newest batches appended to one segment, consecutive and oldest first, ending at
     * tail_end bytes of the segment based at tail_base: a fetch near the log end finds its
     * batch here instead of reading every header after an index entry. */
    struct log_tail_entry tail[LOG_TAIL_BATCHES];
    uint32_t tail_count;
    int64_t tail_base;
    uint64_t tail_end;
};

/*
 * Opens (creating the directory's segment if empty) the log in `dir` (which must exist).
 * recovery_point and log_start_offset come from the log dir's checkpoints (0 if none).
 */
int log_open(struct io *io, const char *dir, const struct log_config *config,
             int64_t recovery_point, int64_t log_start_offset, struct log **out);

/* Flushes everything, writes the clean-shutdown marker and frees the log. On an error
 * (no marker written) the log is still freed. */
int log_close(struct log *log);

static inline int64_t log_end_offset(const struct log *log) {
    return log->segments[log->segment_count - 1].next_offset;
}

/* What an append did. */
struct log_append_info {
    int64_t first_offset;
    int64_t last_offset;
    int64_t max_timestamp;
    uint32_t batch_count;
    uint32_t record_count;
};

/*
 * Leader append: `batches` (already validated with batch_validate_produce_set) get offsets
 * from the log end and `leader_epoch` stamped in place (the buffer is modified), are
 * written as received, and a new epoch enters the epoch cache (persisted before the data).
 * leader_epoch must be >= the cache's latest epoch (-EINVAL otherwise). now_ms drives
 * log.roll.ms (without batch timestamps) and the flush policy. Nothing is written when
 * any batch fails its check.
 */
int log_append_leader(struct log *log, uint8_t *batches, size_t len, int32_t leader_epoch,
                      int64_t now_ms, struct log_append_info *info);

/*
 * Follower append: batches from the leader keep their offsets and epochs. Each is checked
 * (CRC, sizes) and must start at or above the log end (-EINVAL otherwise); nothing of a
 * bad set is written.
 */
int log_append_follower(struct log *log, const uint8_t *batches, size_t len, int64_t now_ms,
                        struct log_append_info *info);

/* Syncs every dirty segment and its indexes; recovery point becomes the log end. */
int log_flush(struct log *log, int64_t now_ms);
/* Applies log.flush.interval.ms (messages are handled on append). */
int log_maybe_flush(struct log *log, int64_t now_ms);

/* A zero-copy read: `length` bytes of `file` from `position` (for io_stream_sendfile).
 * Files stay valid until the log next deletes or rewrites segments (retention,
 * compaction, truncation) or closes. */
struct log_read_range {
    struct io_file *file;
    uint64_t position;
    uint32_t length;
};

struct log_read_result {
    int64_t first_offset; /* Base offset of the first batch returned, -1 if none. */
    size_t total_bytes;
    size_t range_count;
    struct log_read_range ranges[LOG_READ_RANGES_MAX];
};

/*
 * Reads whole batches starting with the one holding `offset`, up to max_bytes (but at least
 * one batch if min_one_batch, Kafka's fetch v3+ rule), only batches whose last offset is
 * below `max_offset` (exclusive; the HW for consumers, the log end for followers). An
 * offset equal to the log end gives an empty result; outside [start, end] gives -ERANGE.
 */
int log_read(struct log *log, int64_t offset, size_t max_bytes, bool min_one_batch,
             int64_t max_offset, struct log_read_result *out);

/* log_read, then copies the ranges into buf (cap must cover max_bytes or the first batch;
 * -ENOSPC otherwise). *len gets the byte count. */
int log_read_copy(struct log *log, int64_t offset, size_t max_bytes, bool min_one_batch,
                  int64_t max_offset, uint8_t *buf, size_t cap, size_t *len,
                  int64_t *first_offset);

/*
 * ListOffsets by time: the first offset >= the log start whose record timestamp is
 * >= `timestamp`, with that record's timestamp. -ENOENT if none. For compressed batches
 * (not decompressed here) the answer is the batch's first eligible offset and its
 * maxTimestamp.
 */
int log_offset_for_timestamp(struct log *log, int64_t timestamp, int64_t *offset,
                             int64_t *found_timestamp);

/*
 * Removes every batch holding an offset >= `offset` (a whole batch is removed if it
 * straddles), and syncs. Below the log start (or below the first segment) the log is
 * emptied and restarts at `offset`. The epoch cache is trimmed to the new end.
 */
int log_truncate_to(struct log *log, int64_t offset);

/* DeleteRecords: raises the log start offset (never lowers it; -ERANGE above the log end)
 * and deletes the segments wholly below it. */
int log_delete_records(struct log *log, int64_t new_start_offset);

/*
 * Retention (I-LOG-3/4): deletes, oldest first, whole non-active segments that lie wholly
 * below the log start offset, or (cleanup.policy=delete) whose largest timestamp is older
 * than retention_ms, or while the log would stay above retention_bytes without them.
 * *deleted gets the number of segments removed.
 */
int log_apply_retention(struct log *log, int64_t now_ms, size_t *deleted);

struct log_compact_stats {
    uint32_t segments_cleaned;
    uint64_t records_kept, records_removed, batches_removed;
    uint64_t bytes_before, bytes_after;
};

/*
 * Compaction (I-LOG-5): rewrites each non-active segment lying wholly below
 * `clean_upto_offset` (e.g. the HW) keeping, per key, only the record with the highest
 * offset among non-aborted data; tombstones (null value) survive while their timestamp
 * is within delete_retention_ms of now_ms. Offsets never change (batches keep their base
 * and last offset). Control batches (markers) are always kept; data of aborted
 * transactions is removed; data of transactions still open at the log end is kept as is
 * and never shadows other records. Compressed batches are kept whole (not decompressed).
 * Records with a null key are kept. Each segment is replaced atomically (a crash leaves
 * the old or the new one).
 */
int log_compact(struct log *log, int64_t now_ms, int64_t clean_upto_offset,
                struct log_compact_stats *stats);

/* OffsetsForLeaderEpoch on this log's epoch cache. */
static inline void log_end_offset_for_epoch(const struct log *log, int32_t epoch,
                                            int32_t *epoch_out, int64_t *offset_out) {
    log_epoch_cache_end_offset(&log->epochs, epoch, log_end_offset(log), epoch_out,
                               offset_out);
}

/* Formats "<dir>/<20-digit base><ext>". Returns -ENAMETOOLONG if it does not fit. */
int log_segment_file_name(char *buf, size_t cap, const char *dir, int64_t base_offset,
                          const char *ext);

#endif /* TRIAL_LOG_LOG_H */
