/*
 * partition.c — single-node replica state over a log (see partition.h).
 */
#include "partition/partition.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "io/io.h"
#include "log/batch.h"

/* Index of the first producer >= producer_id. */
static uint32_t producer_lower_bound(const struct partition *p, int64_t producer_id) {
    uint32_t lo = 0, hi = p->producer_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->producers[mid].producer_id < producer_id) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static const struct partition_producer *producer_find(const struct partition *p,
                                                      int64_t producer_id) {
    uint32_t i = producer_lower_bound(p, producer_id);
    if (i < p->producer_count && p->producers[i].producer_id == producer_id) {
        return &p->producers[i];
    }
    return NULL;
}

/* Records an appended idempotent batch (also used while rebuilding state from the log). */
static void producer_record(struct partition *p, const struct batch_header *h) {
    if (h->producer_id < 0 || batch_is_control(h)) return;
    uint32_t i = producer_lower_bound(p, h->producer_id);
    if (i == p->producer_count || p->producers[i].producer_id != h->producer_id) {
        if (p->producer_count == PARTITION_PRODUCERS_MAX) return; /* Bound: forget new ones. */
        if (p->producer_count == p->producer_cap) {
            uint32_t cap = p->producer_cap == 0 ? 8 : p->producer_cap * 2;
            p->producers = io_realloc(p->io, p->producers,
                                      p->producer_cap * sizeof(*p->producers),
                                      cap * sizeof(*p->producers));
            p->producer_cap = cap;
        }
        memmove(&p->producers[i + 1], &p->producers[i],
                (p->producer_count - i) * sizeof(*p->producers));
        memset(&p->producers[i], 0, sizeof(p->producers[i]));
        p->producers[i].producer_id = h->producer_id;
        p->producers[i].epoch = h->producer_epoch;
        p->producer_count++;
    }
    struct partition_producer *pr = &p->producers[i];
    if (h->producer_epoch != pr->epoch) {
        pr->epoch = h->producer_epoch; /* A new epoch starts a new sequence history. */
        pr->batch_count = 0;
    }
    if (pr->batch_count == PARTITION_PRODUCER_BATCHES) {
        memmove(&pr->batches[0], &pr->batches[1],
                (PARTITION_PRODUCER_BATCHES - 1) * sizeof(pr->batches[0]));
        pr->batch_count--;
    }
    pr->batches[pr->batch_count++] = (struct partition_producer_batch){
        .first_sequence = h->base_sequence,
        .last_sequence = h->base_sequence + h->last_offset_delta,
        .first_offset = h->base_offset,
        .last_offset = batch_last_offset(h),
    };
}

int partition_check_sequence(const struct partition *partition, const struct batch_header *batch,
                             struct partition_producer_batch *duplicate) {
    if (batch->producer_id < 0) return PARTITION_SEQUENCE_APPEND;
    const struct partition_producer *pr = producer_find(partition, batch->producer_id);
    int32_t last_sequence = batch->base_sequence + batch->last_offset_delta;
    if (pr == NULL || pr->batch_count == 0) {
        return batch->base_sequence == 0 ? PARTITION_SEQUENCE_APPEND : -59;
    }
    if (batch->producer_epoch < pr->epoch) return -47;
    if (batch->producer_epoch > pr->epoch) {
        return batch->base_sequence == 0 ? PARTITION_SEQUENCE_APPEND : -45;
    }
    for (uint32_t i = 0; i < pr->batch_count; i++) {
        if (pr->batches[i].first_sequence == batch->base_sequence &&
            pr->batches[i].last_sequence == last_sequence) {
            *duplicate = pr->batches[i];
            return PARTITION_SEQUENCE_DUPLICATE;
        }
    }
    int32_t expected = pr->batches[pr->batch_count - 1].last_sequence + 1; /* Wraps at 2^31. */
    if (expected < 0) expected = 0;
    return batch->base_sequence == expected ? PARTITION_SEQUENCE_APPEND : -45;
}

/* Rebuilds producer state from the newest segments after open (a bounded scan). */
static void producer_rebuild(struct partition *p) {
    struct log *log = p->log;
    size_t first = log->segment_count > PARTITION_RECOVERY_SCAN_SEGMENTS
                       ? log->segment_count - PARTITION_RECOVERY_SCAN_SEGMENTS
                       : 0;
    int64_t offset = MAX(log->segments[first].base_offset, log->log_start_offset);
    int64_t end = log_end_offset(log);
    size_t cap = 1u << 20;
    uint8_t *buf = io_alloc(p->io, cap);
    while (offset < end) {
        size_t len = 0;
        int64_t first_offset = -1;
        int rc = log_read_copy(log, offset, cap, false, end, buf, cap, &len, &first_offset);
        if (rc == -ENOSPC) {
            io_free(p->io, buf, cap);
            cap *= 2;
            buf = io_alloc(p->io, cap);
            continue;
        }
        if (rc < 0 || len == 0) break;
        size_t pos = 0;
        int64_t next = offset;
        while (len - pos >= BATCH_HEADER_BYTES) {
            struct batch_header h;
            if (batch_header_decode(buf + pos, len - pos, &h) < 0) break;
            if (batch_total_bytes(&h) > len - pos) break;
            producer_record(p, &h);
            next = batch_last_offset(&h) + 1;
            pos += batch_total_bytes(&h);
        }
        if (next <= offset) break;
        offset = next;
    }
    io_free(p->io, buf, cap);
}

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
    producer_rebuild(p);
    *out = p;
    return 0;
}

int partition_close(struct partition *partition) {
    int rc = log_close(partition->log);
    if (partition->producers != NULL) {
        io_free(partition->io, partition->producers,
                partition->producer_cap * sizeof(*partition->producers));
    }
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
    /* The batches now carry their offsets: remember idempotent producers' sequences. */
    size_t pos = 0;
    while (len - pos >= BATCH_HEADER_BYTES) {
        struct batch_header h;
        if (batch_header_decode(batches + pos, len - pos, &h) < 0) break;
        producer_record(partition, &h);
        pos += batch_total_bytes(&h);
    }
    return 0;
}
