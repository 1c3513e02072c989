/*
 * partition.h — one replica of one topic partition: its log plus replication state.
 *
 * Single node for now: this broker leads every partition, the ISR is {this node}, and the
 * high watermark moves with the log end on every append (HW = LEO when alone). The struct
 * already carries what replication will need (leader epoch, ISR, per-replica LEO, HW,
 * LSO), so adding followers changes how `high_watermark` advances, not its users:
 * consumers read below `high_watermark`, producers with acks=-1 wait for it to pass their
 * last offset (immediately, today).
 *
 * Ownership: the partition owns its log (opened by partition_open, closed by
 * partition_close); memory through io.
 */
#ifndef TRIAL_PARTITION_PARTITION_H
#define TRIAL_PARTITION_PARTITION_H

#include <stdbool.h>
#include <stdint.h>

#include "log/log.h"

#define PARTITION_REPLICAS_MAX 16
#define PARTITION_PRODUCER_BATCHES 5       /* Kafka keeps the last 5 batches per producer. */
#define PARTITION_PRODUCERS_MAX 65536      /* Bound on producers remembered per partition. */
#define PARTITION_RECOVERY_SCAN_SEGMENTS 2 /* Producer state is rebuilt from the newest ones. */

/* One of a producer's recent batches: a retry of it is answered with the same offsets. */
struct partition_producer_batch {
    int32_t first_sequence;
    int32_t last_sequence;
    int64_t first_offset;
    int64_t last_offset;
};

/* Idempotent producer state (KIP-98): epoch, and the last few batches for dedupe. */
struct partition_producer {
    int64_t producer_id;
    int16_t epoch;
    uint32_t batch_count; /* Valid entries in `batches` (oldest first). */
    struct partition_producer_batch batches[PARTITION_PRODUCER_BATCHES];
};

/* What partition_check_sequence() decided for an idempotent batch. */
enum partition_sequence_verdict {
    PARTITION_SEQUENCE_APPEND = 0,   /* In order: append it. */
    PARTITION_SEQUENCE_DUPLICATE = 1 /* A retry of a recent batch: answer its offsets. */
};

struct partition {
    struct io *io;
    struct log *log;
    int32_t index;           /* Partition number within its topic. */
    uint64_t key;            /* Broker-unique id (purgatory watch key). */
    int32_t leader_id;       /* This node, while single-node. */
    int32_t leader_epoch;
    int32_t replicas[PARTITION_REPLICAS_MAX];
    uint32_t replica_count;
    int32_t isr[PARTITION_REPLICAS_MAX];
    uint32_t isr_count;
    int64_t high_watermark;  /* Offsets below it are committed (visible to consumers). */
    int64_t compacted_below; /* Active segment's base offset when compaction last ran. */
    struct partition_producer *producers; /* Sorted by producer_id (deterministic). */
    uint32_t producer_count;
    uint32_t producer_cap;
};

/* Opens (or creates) the partition's log in `dir` (which must exist). */
int partition_open(struct io *io, const char *dir, const struct log_config *config,
                   int32_t index, uint64_t key, int32_t node_id, int64_t log_start_offset,
                   struct partition **out);
/* Closes the log cleanly (flush + clean-shutdown marker) and frees the partition. */
int partition_close(struct partition *partition);

/* Leader append of a validated produce payload; advances the HW (single node). */
int partition_append(struct partition *partition, uint8_t *batches, size_t len, int64_t now_ms,
                     struct log_append_info *info);

/*
 * Checks an idempotent batch (producer_id >= 0) against the producer's state. Returns
 * PARTITION_SEQUENCE_APPEND, PARTITION_SEQUENCE_DUPLICATE (with *duplicate filled), or a
 * negative Kafka error code: -47 INVALID_PRODUCER_EPOCH (fenced epoch), -45
 * OUT_OF_ORDER_SEQUENCE_NUMBER (a gap), -59 UNKNOWN_PRODUCER_ID (a producer we have no state
 * for that does not start at sequence 0). Batches without a producer id always append.
 */
int partition_check_sequence(const struct partition *partition, const struct batch_header *batch,
                             struct partition_producer_batch *duplicate);

static inline int64_t partition_log_end(const struct partition *partition) {
    return log_end_offset(partition->log);
}
static inline int64_t partition_log_start(const struct partition *partition) {
    return partition->log->log_start_offset;
}
/* Last stable offset: no transactions yet, so the HW. */
static inline int64_t partition_last_stable(const struct partition *partition) {
    return partition->high_watermark;
}

#endif /* TRIAL_PARTITION_PARTITION_H */
