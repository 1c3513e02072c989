/*
 * txn_files.h — on-disk formats for transactions and idempotence that the log stores but
 * whose logic lives in system/partition: the aborted-transaction index (`.txnindex`, one
 * per segment) and the producer-state snapshot (`%020lld.snapshot`, named by the offset
 * it was taken at). Both are Kafka's layouts (big-endian):
 *
 *   .txnindex entry (34 bytes): version i16 (0) | producer_id i64 | first_offset i64 |
 *                               last_offset i64 | last_stable_offset i64
 *   .snapshot: version i16 (1) | crc u32 (CRC-32C of everything after it) |
 *              entry count i32 | entries of 46 bytes: producer_id i64 | producer_epoch i16 |
 *              last_sequence i32 | last_offset i64 | offset_delta i32 | timestamp i64 |
 *              coordinator_epoch i32 | current_txn_first_offset i64 (-1 if none)
 *
 * Pure codecs on caller buffers plus whole-file helpers through io (snapshots are written
 * to .tmp, fsynced and renamed like checkpoints). Errors: -EBADMSG for a malformed or
 * CRC-failing input, -ENOSPC for a short output buffer or array, -errno from io.
 */
#ifndef TRIAL_LOG_TXN_FILES_H
#define TRIAL_LOG_TXN_FILES_H

#include <stddef.h>
#include <stdint.h>

struct io;

#define LOG_TXN_INDEX_ENTRY_BYTES 34u
#define LOG_SNAPSHOT_HEADER_BYTES 10u
#define LOG_SNAPSHOT_ENTRY_BYTES 46u
#define LOG_SNAPSHOT_VERSION 1

struct log_aborted_txn {
    int64_t producer_id;
    int64_t first_offset;
    int64_t last_offset;
    int64_t last_stable_offset;
};

void log_txn_index_encode(uint8_t out[LOG_TXN_INDEX_ENTRY_BYTES], const struct log_aborted_txn *t);
/* Decodes one entry; -EBADMSG if the version is not 0 or offsets are inconsistent. */
int log_txn_index_decode(const uint8_t in[LOG_TXN_INDEX_ENTRY_BYTES], struct log_aborted_txn *t);

struct log_producer_entry {
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t last_sequence;
    int64_t last_offset;
    int32_t offset_delta;
    int64_t timestamp;
    int32_t coordinator_epoch;
    int64_t current_txn_first_offset;
};

/* Returns the encoded size or -ENOSPC. */
int64_t log_snapshot_encode(uint8_t *out, size_t cap, const struct log_producer_entry *e,
                            size_t count);
int log_snapshot_decode(const uint8_t *in, size_t len, struct log_producer_entry *out,
                        size_t max, size_t *count);

/* "<dir>/<20-digit offset>.snapshot", written atomically and durably. */
int log_snapshot_write(struct io *io, const char *dir, int64_t offset,
                       const struct log_producer_entry *e, size_t count);
int log_snapshot_read(struct io *io, const char *dir, int64_t offset,
                      struct log_producer_entry *out, size_t max, size_t *count);

#endif /* TRIAL_LOG_TXN_FILES_H */
