/*
 * group_batch.c — records of __consumer_offsets to and from record batches v2, over
 * system/log's batch codec (see group_batch.h).
 */
#include "coordinator/group_batch.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "base/base.h"
#include "log/batch.h"

/* Records per batch we build: one append never exceeds this (a commit of many partitions
 * is one append, so this is generous). */
#define GROUP_BATCH_RECORDS_MAX 100000

size_t group_batch_size(const struct group_record *records, size_t count) {
    /* The 61-byte header, then per record at most: length 5, attributes 1, timestamp
     * delta 10, offset delta 5, key length 5, value length 5, header count 5 bytes. */
    size_t size = BATCH_HEADER_BYTES;
    for (size_t i = 0; i < count; i++)
        size += 36 + records[i].key_len + records[i].value_len;
    return size;
}

int64_t group_batch_build(struct io *io, uint8_t *buf, size_t cap,
                          const struct group_record *records, size_t count, int64_t timestamp_ms,
                          int64_t producer_id, int16_t producer_epoch) {
    ASSERT(count >= 1 && count <= GROUP_BATCH_RECORDS_MAX);
    /* Small appends (the common case) build from the stack. */
    struct batch_record_in stack[64];
    struct batch_record_in *list =
        count <= ARRAY_LEN(stack) ? stack : io_calloc(io, count, sizeof(*list));
    for (size_t i = 0; i < count; i++) {
        ASSERT(records[i].key != NULL && records[i].key_len <= INT32_MAX);
        ASSERT(records[i].value_len <= INT32_MAX);
        list[i] = (struct batch_record_in){
            .offset_delta = (int64_t)i,
            .timestamp = timestamp_ms,
            .key = records[i].key,
            .key_len = (int32_t)records[i].key_len,
            .value = records[i].value,
            .value_len = records[i].value == NULL ? -1 : (int32_t)records[i].value_len,
        };
    }
    bool txn = producer_id >= 0;
    struct batch_build_params params = {
        .base_offset = 0,
        .partition_leader_epoch = -1,
        .attributes = txn ? BATCH_ATTR_TRANSACTIONAL : 0,
        .producer_id = txn ? producer_id : BATCH_NO_PRODUCER_ID,
        .producer_epoch = txn ? producer_epoch : -1,
        .base_sequence = BATCH_NO_SEQUENCE,
    };
    int64_t size = batch_build(buf, cap, &params, list, count);
    if (list != stack) io_free(io, list, count * sizeof(*list));
    return size;
}

int group_batch_replay(struct group_coordinator *co, int32_t partition, const uint8_t *buf,
                       size_t len, struct group_batch_stats *stats) {
    ASSERT(stats != NULL);
    memset(stats, 0, sizeof(*stats));
    size_t pos = 0;
    while (pos < len) {
        struct batch_header h;
        int rc = batch_check(buf + pos, len - pos, len - pos, &h);
        if (rc < 0) return rc;
        size_t total = batch_total_bytes(&h);
        if (batch_is_control(&h)) {
            /* A transaction marker: the producer's pending offsets are decided. */
            enum batch_control_type type;
            int32_t coordinator_epoch = 0;
            rc = batch_control_decode(buf + pos, total, &type, &coordinator_epoch);
            if (rc < 0) return rc;
            group_coordinator_txn_complete(co, partition, h.producer_id,
                                           type == BATCH_CONTROL_COMMIT);
            stats->markers++;
        } else {
            struct batch_record_iter it;
            rc = batch_records_begin(buf + pos, total, &it);
            if (rc < 0) return rc;
            struct batch_record r;
            while ((rc = batch_records_next(&it, &r)) == 1) {
                stats->records++;
                if (r.key == NULL) {
                    stats->records_refused++;
                    continue;
                }
                size_t value_len = r.value == NULL ? 0 : (size_t)r.value_len;
                int replayed =
                    batch_is_transactional(&h)
                        ? group_coordinator_replay_txn(co, partition, h.producer_id, r.key,
                                                       (size_t)r.key_len, r.value, value_len)
                        : group_coordinator_replay(co, partition, r.key, (size_t)r.key_len, r.value,
                                                   value_len);
                if (replayed == -ENOSPC) return replayed;
                if (replayed < 0) stats->records_refused++;
            }
            if (rc < 0) return rc;
        }
        stats->batches++;
        stats->next_offset = batch_last_offset(&h) + 1;
        pos += total;
    }
    return 0;
}
