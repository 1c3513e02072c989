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
