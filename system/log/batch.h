/*
 * batch.h — Kafka record batch v2 (magic 2): decode, validate, build, stamp, iterate.
 *
 * Layout (big-endian, 61-byte header; PROTOCOL.md "Record batch v2"):
 *   0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 |
 *   17 crc u32 | 21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64 |
 *   35 maxTimestamp i64 | 43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 |
 *   57 recordsCount i32 | 61 records...
 * batchLength counts the bytes after itself, so a batch occupies 12 + batchLength bytes.
 * The CRC-32C covers attributes..end (offset 21 to the end): baseOffset and
 * partitionLeaderEpoch can be stamped in place without recomputing it (batch_stamp).
 *
 * Nothing here allocates or does I/O: every function works on caller-owned buffers, so
 * the broker, the log, the fuzzer and the checkers share one codec. Errors:
 *   -EBADMSG   CRC mismatch or malformed records (Kafka CORRUPT_MESSAGE)
 *   -EINVAL    bad magic, size fields, offsets or counts (Kafka INVALID_RECORD)
 *   -EMSGSIZE  a batch larger than the caller's limit (Kafka MESSAGE_TOO_LARGE)
 *   -ENODATA   fewer bytes than the header or batch needs (a truncated buffer)
 *   -ENOTSUP   records iteration of a compressed batch
 *   -ENOSPC    an output buffer too small
 */
#ifndef TRIAL_LOG_BATCH_H
#define TRIAL_LOG_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BATCH_HEADER_BYTES 61u   /* Up to and including recordsCount. */
#define BATCH_LOG_OVERHEAD 12u   /* baseOffset + batchLength: not counted by batchLength. */
#define BATCH_CRC_START 21u      /* The CRC covers attributes..end. */
#define BATCH_MAGIC_V2 2

/* Attribute bits. */
#define BATCH_ATTR_COMPRESSION_MASK 0x07
#define BATCH_ATTR_TIMESTAMP_LOG_APPEND 0x08
#define BATCH_ATTR_TRANSACTIONAL 0x10
#define BATCH_ATTR_CONTROL 0x20

enum batch_compression {
    BATCH_COMPRESSION_NONE = 0,
    BATCH_COMPRESSION_GZIP = 1,
    BATCH_COMPRESSION_SNAPPY = 2,
    BATCH_COMPRESSION_LZ4 = 3,
    BATCH_COMPRESSION_ZSTD = 4,
};

/* Control record types (the key of a control record: version i16 0, type i16). */
enum batch_control_type { BATCH_CONTROL_ABORT = 0, BATCH_CONTROL_COMMIT = 1 };

#define BATCH_NO_PRODUCER_ID (-1)
#define BATCH_NO_SEQUENCE (-1)
#define BATCH_NO_TIMESTAMP (-1)

/* A decoded header. All fields as on the wire. */
struct batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
};

static inline int64_t batch_last_offset(const struct batch_header *h) {
    return h->base_offset + h->last_offset_delta;
}
static inline size_t batch_total_bytes(const struct batch_header *h) {
    return BATCH_LOG_OVERHEAD + (size_t)h->batch_length;
}
static inline bool batch_is_control(const struct batch_header *h) {
    return (h->attributes & BATCH_ATTR_CONTROL) != 0;
}
static inline bool batch_is_transactional(const struct batch_header *h) {
    return (h->attributes & BATCH_ATTR_TRANSACTIONAL) != 0;
}
static inline int batch_compression(const struct batch_header *h) {
    return h->attributes & BATCH_ATTR_COMPRESSION_MASK;
}

/* Decodes the 61-byte header; checks nothing but length (-ENODATA if len < 61). */
int batch_header_decode(const uint8_t *buf, size_t len, struct batch_header *out);

/*
 * Checks the header of the batch at buf[0..len): magic 2, batchLength sane (header fits,
 * total <= max_batch_bytes else -EMSGSIZE), the whole batch present (-ENODATA if not),
 * lastOffsetDelta >= 0, recordsCount >= 0, and the CRC. Does not look inside records.
 * This is what recovery and follower appends use. On success fills *out.
 */
int batch_check(const uint8_t *buf, size_t len, size_t max_batch_bytes, struct batch_header *out);

/*
 * batch_check plus the rules a produce request must meet (Kafka LogValidator, v2):
 * recordsCount >= 1 and lastOffsetDelta == recordsCount - 1; for uncompressed batches every
 * record parses, offsetDelta runs 0..count-1 and the records end exactly at the batch end;
 * control batches are refused from clients (-EINVAL).
 */
int batch_validate_produce(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                           struct batch_header *out);

/* Summary of a whole produce `records` field (one or more batches back to back). */
struct batch_set_info {
    uint32_t batch_count;
    uint32_t record_count;    /* Sum of recordsCount. */
    int64_t max_timestamp;    /* Largest maxTimestamp, BATCH_NO_TIMESTAMP if none. */
    int64_t producer_id;      /* Of the first batch. */
    bool transactional;       /* Any batch transactional. */
    int compression;          /* Of the first batch. */
};

/*
 * Validates a produce payload: a non-empty sequence of batches that fills `len` exactly,
 * each passing batch_validate_produce, all with the same producerId/epoch and
 * transactional flag. Returns 0 and fills *info, or the first batch's error.
 */
int batch_validate_produce_set(const uint8_t *buf, size_t len, size_t max_batch_bytes,
                               struct batch_set_info *info);

/* Writes baseOffset and partitionLeaderEpoch in place (the CRC does not cover them). */
void batch_stamp(uint8_t *batch, int64_t base_offset, int32_t partition_leader_epoch);

/* Recomputes and writes the CRC of a complete batch (after editing covered fields). */
void batch_crc_update(uint8_t *batch, size_t len);

/* --- Records ------------------------------------------------------------------------- */

/* One record, pointing into the batch buffer (valid while the buffer is). */
struct batch_record {
    int8_t attributes;
    int64_t timestamp_delta;
    int32_t offset_delta;
    const uint8_t *key;   /* NULL when key_len == -1. */
    int32_t key_len;      /* -1 for a null key. */
    const uint8_t *value; /* NULL when value_len == -1 (a tombstone). */
    int32_t value_len;
    int32_t header_count;
    const uint8_t *headers; /* The raw header bytes (count already consumed). */
    size_t headers_len;
    const uint8_t *raw;     /* The whole record including its length varint. */
    size_t raw_len;
};

struct batch_record_iter {
    const uint8_t *pos;
    const uint8_t *end;
    int32_t remaining; /* Records still to read, from recordsCount. */
};

/* Starts iterating an uncompressed batch (-ENOTSUP if compressed, errors of batch_header). */
int batch_records_begin(const uint8_t *batch, size_t len, struct batch_record_iter *it);
/* 1 and *out for the next record, 0 at the end, -EBADMSG on malformed bytes. At the end
 * it also checks that no bytes were left over. */
int batch_records_next(struct batch_record_iter *it, struct batch_record *out);

/* --- Building ------------------------------------------------------------------------ */

/* A record to build: timestamps and offsets absolute; key/value NULL for null. */
struct batch_record_in {
    int64_t offset_delta;
    int64_t timestamp;
    const uint8_t *key;
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
};

/* Header fields a builder takes; crc, batchLength, counts and timestamps are computed. */
struct batch_build_params {
    int64_t base_offset;
    int32_t partition_leader_epoch;
    int16_t attributes; /* Compression bits must be 0: the builder writes uncompressed. */
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
};

/*
 * Builds an uncompressed batch of `count` records (offset deltas must be increasing,
 * timestamps become deltas from the first). Returns the total size or -ENOSPC.
 * base_timestamp is the first record's; max_timestamp the largest. count must be >= 1.
 */
int64_t batch_build(uint8_t *buf, size_t cap, const struct batch_build_params *params,
                    const struct batch_record_in *records, size_t count);

/* Builds a control batch holding one transaction marker (KIP-98). */
int64_t batch_build_control(uint8_t *buf, size_t cap, int64_t base_offset, int64_t producer_id,
                            int16_t producer_epoch, enum batch_control_type type,
                            int32_t coordinator_epoch, int64_t timestamp);

/* Reads the marker of a control batch: 0 and the type and coordinator epoch, or -EBADMSG. */
int batch_control_decode(const uint8_t *batch, size_t len, enum batch_control_type *type,
                         int32_t *coordinator_epoch);

/*
 * Rebuilds `batch` keeping only the records for which keep[i] is true (i in record order),
 * into `out`. Header fields (baseOffset, lastOffsetDelta, timestamps, producer fields) are
 * kept so offsets never change; recordsCount and the CRC are recomputed. Records are copied
 * byte for byte (their deltas are relative to the unchanged base). Returns the new size,
 * 0 if no record is kept, or a negative error. Used by compaction.
 */
int64_t batch_filter(const uint8_t *batch, size_t len, const bool *keep, size_t keep_count,
                     uint8_t *out, size_t cap);

/*
 * Writes a copy of the batch's header with no records (recordsCount 0, fresh CRC): the
 * batch still spans baseOffset..baseOffset+lastOffsetDelta, so offsets and the producer
 * fields survive. Kafka's cleaner leaves such empty batches too. Returns 61 or -ENOSPC.
 */
int64_t batch_build_empty(const uint8_t *batch, size_t len, uint8_t *out, size_t cap);

/* --- Varints (zigzag), exported for tests and the fuzzer --- */

/* Decodes a zigzag varint of at most 10 bytes; returns bytes used or -EBADMSG. */
int batch_varint_decode(const uint8_t *p, const uint8_t *end, int64_t *out);
/* Encodes; returns bytes written (<= 10). */
size_t batch_varint_encode(int64_t v, uint8_t *out);

/* Big-endian helpers. */
static inline uint16_t batch_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t batch_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t batch_be64(const uint8_t *p) {
    return (uint64_t)batch_be32(p) << 32 | batch_be32(p + 4);
}
static inline void batch_put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void batch_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void batch_put64(uint8_t *p, uint64_t v) {
    batch_put32(p, (uint32_t)(v >> 32));
    batch_put32(p + 4, (uint32_t)v);
}

#endif /* TRIAL_LOG_BATCH_H */
