/*
 * checkpoint.h — Kafka's text checkpoint files, byte for byte.
 *
 * Format (all of them): a line with the version (0), a line with the entry count, then one
 * line per entry, fields separated by one space, every line ending in '\n':
 *   leader-epoch-checkpoint (per partition dir):        "<epoch> <start_offset>"
 *   replication-offset-checkpoint, recovery-point-offset-checkpoint,
 *   log-start-offset-checkpoint (log-dir root):         "<topic> <partition> <offset>"
 * Writing goes to "<path>.tmp", fsyncs it and renames it over <path> (rename is durable
 * in io.h), so a crash leaves either the old or the new file, never a torn one.
 *
 * Errors: -errno from io, -EBADMSG for a malformed file, -ENOSPC if the caller's array or
 * buffer is too small, -ENOENT when the file does not exist (callers treat as empty).
 */
#ifndef TRIAL_LOG_CHECKPOINT_H
#define TRIAL_LOG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

struct io;

#define LOG_CHECKPOINT_VERSION 0
#define LOG_TOPIC_NAME_MAX 249 /* Kafka's limit on topic name length. */
#define LOG_CHECKPOINT_BYTES_MAX (16u << 20)

struct log_epoch_entry {
    int32_t epoch;
    int64_t start_offset;
};

struct log_partition_offset {
    char topic[LOG_TOPIC_NAME_MAX + 1];
    int32_t partition;
    int64_t offset;
};

/* Writes `len` bytes to path atomically and durably (tmp, fsync, rename). */
int log_checkpoint_write_text(struct io *io, const char *path, const char *text, size_t len);

/* Formats into buf; returns the length or -ENOSPC. Entries are written in array order. */
int64_t log_checkpoint_format_epochs(char *buf, size_t cap, const struct log_epoch_entry *e,
                                     size_t count);
int64_t log_checkpoint_format_offsets(char *buf, size_t cap,
                                      const struct log_partition_offset *e, size_t count);

/* Parses text; on success *count holds the number of entries. */
int log_checkpoint_parse_epochs(const char *text, size_t len, struct log_epoch_entry *out,
                                size_t max, size_t *count);
int log_checkpoint_parse_offsets(const char *text, size_t len, struct log_partition_offset *out,
                                 size_t max, size_t *count);

/* Whole-file helpers: format/parse plus write/read through io. Reading allocates a
 * temporary buffer from io and frees it before returning. */
int log_checkpoint_write_epochs(struct io *io, const char *path, const struct log_epoch_entry *e,
                                size_t count);
int log_checkpoint_read_epochs(struct io *io, const char *path, struct log_epoch_entry *out,
                               size_t max, size_t *count);
int log_checkpoint_write_offsets(struct io *io, const char *path,
                                 const struct log_partition_offset *e, size_t count);
int log_checkpoint_read_offsets(struct io *io, const char *path,
                                struct log_partition_offset *out, size_t max, size_t *count);

#endif /* TRIAL_LOG_CHECKPOINT_H */
