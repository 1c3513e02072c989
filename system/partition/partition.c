/*
 * partition.c — single-node replica state over a log (see partition.h).
 */
#include "partition/partition.h"

#include <string.h>

#include "base/base.h"
#include "io/io.h"

int partition_open(struct io *io, const char *dir, const struct log_config *config,
                   int32_t index, uint64_t key, int32_t node_id, int64_t log_start_offset,
                   struct partition **out) {
    struct log *log = NULL;
    /* Recovery point 0: an unclean log is rescanned from its first segment (log_open skips
     * the scan after a clean shutdown), which is always correct, if slower. */
    int rc = log_open(io, dir, config, 0, log_start_offset, &log);
    if (rc < 0) return rc;
    struct partition *p = io_calloc(io, 1, sizeof(*p));
    p->io = io;
    p->log = log;
    p->index = index;
    p->key = key;
    p->leader_id = node_id;
    p->leader_epoch = 0;
    p->replicas[0] = node_id;
    p->replica_count = 1;
    p->isr[0] = node_id;
    p->isr_count = 1;
    /* Alone, everything on disk after recovery is committed: HW = LEO. */
    p->high_watermark = log_end_offset(log);
    *out = p;
    return 0;
}

int partition_close(struct partition *partition) {
    int rc = log_close(partition->log);
    io_free(partition->io, partition, sizeof(*partition));
    return rc;
}

int partition_append(struct partition *partition, uint8_t *batches, size_t len, int64_t now_ms,
                     struct log_append_info *info) {
    int rc = log_append_leader(partition->log, batches, len, partition->leader_epoch, now_ms,
                               info);
    if (rc < 0) return rc;
    ASSERT(info->last_offset + 1 == log_end_offset(partition->log));
    partition->high_watermark = log_end_offset(partition->log);
    return 0;
}
