/*
 * group_batch.h — the bridge between the coordinator's records and the partition log's
 * record batches (v2), so the broker can wire __consumer_offsets in a few lines:
 *
 *   append seam:  group_batch_build() turns the records of one append into one
 *                 uncompressed batch for log_append_leader() (the log assigns offsets);
 *   loading:      group_batch_replay() feeds every record of a run of batches read from
 *                 the partition (log_read_copy) to group_coordinator_replay().
 *
 * Transactional batches (TxnOffsetCommit) replay as pending offsets of their producer;
 * control batches (transaction markers) commit or abort them, exactly as the live path
 * does with group_coordinator_txn_complete(). Compressed batches are refused (-ENOTSUP):
 * nothing writes them to __consumer_offsets.
 */
#ifndef TRIAL_COORDINATOR_GROUP_BATCH_H
#define TRIAL_COORDINATOR_GROUP_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "coordinator/group_coordinator.h"

/* Bytes a batch of these records needs (an upper bound; exact for our encoding). */
size_t group_batch_size(const struct group_record *records, size_t count);

/* Builds one batch (base offset 0, timestamps = timestamp_ms) of `count` records into buf;
 * buf needs group_batch_size() bytes. producer_id >= 0 makes it a transactional batch of
 * (producer_id, producer_epoch) — the append_txn seam; -1 a plain one. Returns its size, or
 * -ENOSPC if cap is too small. count >= 1; io lends scratch memory beyond 64 records. */
int64_t group_batch_build(struct io *io, uint8_t *buf, size_t cap,
                          const struct group_record *records, size_t count, int64_t timestamp_ms,
                          int64_t producer_id, int16_t producer_epoch);

/* What a replay saw. */
struct group_batch_stats {
    uint32_t batches;
    uint32_t records;
    uint32_t records_refused; /* Records group_coordinator_replay() could not read. */
    uint32_t markers;         /* Control batches (transaction markers) applied. */
    int64_t next_offset;      /* One past the last batch replayed. */
};

/*
 * Replays the batches back to back in buf[0..len) into partition `partition` (which must be
 * loading). A record the coordinator refuses is counted and skipped, as Kafka skips an
 * unreadable record; a batch that fails its CRC or is cut short stops the replay with
 * -EBADMSG / -ENODATA (the caller reads on from stats->next_offset or gives up). A bound hit
 * in the coordinator (-ENOSPC) stops it too. Returns 0 when every batch was consumed.
 */
int group_batch_replay(struct group_coordinator *co, int32_t partition, const uint8_t *buf,
                       size_t len, struct group_batch_stats *stats);

#endif /* TRIAL_COORDINATOR_GROUP_BATCH_H */
