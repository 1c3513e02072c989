/*
 * log_image.h — a description of one replica's partition log as it is on (simulated) disk,
 * for the I-LOG checkers and for the log-state pictures in reports.
 *
 * The harness fills it by reading a node's simulated disk through system/log's reader
 * (never through a broker's private structs): the segment files in name order, the record
 * batches in each (position, offsets, leader epoch, whether the CRC holds), the offset and
 * time index entries, and the checkpoints. Plain data: every array is owned by whoever
 * built the image; checkers and reports only read it.
 *
 * For I-LOG-2 the harness also keeps `appended`: the batches the node's log held just
 * before a crash, in order (its in-memory view: every append, after any truncation), and
 * the end offset covered by the last fsync that completed before the crash.
 */
#ifndef TRIAL_CHECKERS_LOG_IMAGE_H
#define TRIAL_CHECKERS_LOG_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_IMAGE_NAME_MAX 64

/* One record batch (Kafka RecordBatch v2 header facts). */
struct li_batch {
    int64_t base_offset;
    int64_t last_offset; /* base_offset + last offset delta. */
    int32_t epoch;       /* Partition leader epoch stamped in the batch. */
    bool crc_valid;      /* The CRC-32C over the batch holds. */
    uint64_t position;   /* Byte position in its segment file. */
    uint32_t size_bytes; /* Whole batch size including the 12-byte log overhead; 0 = unknown. */
    int64_t max_timestamp_ms;
    uint32_t content_crc; /* The batch's CRC field: identifies its content across images. */
};

/* Offset index entry: absolute offset and the byte position of a batch at or before it. */
struct li_index_entry {
    int64_t offset;
    uint64_t position;
};

/* Time index entry: a timestamp and the offset from which records are at or after it. */
struct li_time_entry {
    int64_t timestamp_ms;
    int64_t offset;
};

struct li_segment {
    char file_name[LOG_IMAGE_NAME_MAX];       /* "00000000000000000042.log". */
    char index_name[LOG_IMAGE_NAME_MAX];      /* "...42.index", or "" if absent. */
    char time_index_name[LOG_IMAGE_NAME_MAX]; /* "...42.timeindex", or "" if absent. */
    int64_t base_offset;                      /* What the segment claims (from its name). */
    const struct li_batch *batches;
    size_t batch_count;
    const struct li_index_entry *index;
    size_t index_count;
    const struct li_time_entry *time_index;
    size_t time_index_count;
    uint64_t tail_bytes; /* Bytes after the last whole batch (a torn tail); 0 when clean. */
};

struct li_log {
    char node[LOG_IMAGE_NAME_MAX]; /* "n1". */
    char topic[LOG_IMAGE_NAME_MAX];
    int32_t partition;
    const struct li_segment *segments; /* In file-name order. */
    size_t segment_count;
    int64_t log_start_offset;
    int64_t recovery_point; /* From recovery-point-offset-checkpoint; -1 if unknown. */
    int64_t hw_checkpoint;  /* From replication-offset-checkpoint; -1 if unknown. */
    int64_t hw;             /* Live high watermark for pictures; -1 if unknown. */
    int64_t leo;            /* Log end offset; -1 = derive from the batches. */
};

/* --- Reading the on-disk format (log_parse.c) --------------------------------------------
 * An independent reader of Kafka's segment, index and checkpoint formats (docs/LOG.md,
 * system/log/log.h), written apart from system/log on purpose: a checker that used the
 * log's own decoder would share its bugs. All return negative errno on malformed input. */

/* CRC-32C (Castagnoli), as record batches v2 use it. */
uint32_t li_crc32c(const uint8_t *data, size_t len);

/* "00000000000000000042.log" (or .index/.timeindex with that suffix) -> 42; -EINVAL if the
 * name is not exactly 20 digits followed by `suffix`. */
int li_parse_segment_name(const char *name, const char *suffix, int64_t *base_offset);

/*
 * Parses a .log file's bytes: every whole batch in order, with its header facts and whether
 * its CRC-32C holds. Bytes at the end that do not form a whole batch (a torn tail, or a
 * length field that cannot be right) end the parse and are counted in *tail_bytes.
 * Returns the number of batches (<= out_max) or -E2BIG when there are more.
 */
int64_t li_parse_segment(const uint8_t *bytes, size_t len, struct li_batch *out, size_t out_max,
                         uint64_t *tail_bytes);

/* Parses .index (8-byte entries) / .timeindex (12-byte entries) bytes into absolute offsets.
 * A trailing partial entry is ignored. Returns the entry count or -E2BIG. */
int64_t li_parse_offset_index(const uint8_t *bytes, size_t len, int64_t base_offset,
                              struct li_index_entry *out, size_t out_max);
int64_t li_parse_time_index(const uint8_t *bytes, size_t len, int64_t base_offset,
                            struct li_time_entry *out, size_t out_max);

/* The offset of (topic, partition) in a "topic partition offset" checkpoint text
 * (replication-offset-checkpoint, recovery-point-offset-checkpoint, ...). 0, -ENOENT if the
 * partition is not listed, -EBADMSG if the text is malformed. */
int li_parse_offset_checkpoint(const char *text, size_t len, const char *topic, int32_t partition,
                               int64_t *offset);

/* --- From the trace (log_trace.c) --------------------------------------------------------
 * Rebuilds, from the log events of trace.h, what one node's partition log held just before
 * trace event `upto` (exclusive; e.g. the node's crash): the batches in order after every
 * truncation, and the end offset covered by the last fsync. This is the `appended` side of
 * I-LOG-2's struct check_recovery. Returns the batch count, or -E2BIG past out_max. */
struct trace;
int64_t li_log_from_trace(const struct trace *t, const char *node, const char *topic,
                          int32_t partition, size_t upto, struct li_batch *out, size_t out_max,
                          int64_t *synced_end_offset);

/* The log end offset: `leo` if known, else one past the last batch, else log start. */
int64_t li_log_end_offset(const struct li_log *log);

/* Total batches over all segments. */
size_t li_log_batch_count(const struct li_log *log);

/* The i-th batch across segments in order (i < li_log_batch_count). */
const struct li_batch *li_log_batch(const struct li_log *log, size_t i);

#endif /* TRIAL_CHECKERS_LOG_IMAGE_H */
