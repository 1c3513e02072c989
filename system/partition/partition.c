/*
 * partition.c — replica state over a log (see partition.h): idempotent producer state,
 * leader/follower roles, the high watermark and ISR proposals (docs/REPLICATION.md,
 * "Partition replication"). Nothing here sends or receives: broker.c and fetcher.c feed it
 * what followers and leaders said, and it decides HW and ISR and traces what checkers read.
 */
#include "partition/partition.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/mutant.h"
#include "io/io.h"
#include "log/batch.h"
#include "log/checkpoint.h"

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

/* Records every whole batch of an appended set (leader: after stamping; follower: as sent). */
static void producer_record_all(struct partition *p, const uint8_t *batches, size_t len) {
    size_t pos = 0;
    while (len - pos >= BATCH_HEADER_BYTES) {
        struct batch_header h;
        if (batch_header_decode(batches + pos, len - pos, &h) < 0) break;
        if (batch_total_bytes(&h) > len - pos) break;
        producer_record(p, &h);
        pos += batch_total_bytes(&h);
    }
}

/* Forgets all producer state and reads it again from the log tail (after truncation). */
static void producer_reset(struct partition *p) {
    if (p->producers != NULL) {
        io_free(p->io, p->producers, p->producer_cap * sizeof(*p->producers));
    }
    p->producers = NULL;
    p->producer_count = 0;
    p->producer_cap = 0;
    producer_rebuild(p);
}

static const char *topic_name(const struct partition *p) {
    return p->topic != NULL ? p->topic : "";
}

static void trace_hw(struct partition *p) {
    io_tracef(p->io, "hw", IO_TF_S("topic", topic_name(p)), IO_TF_I("partition", p->index),
              IO_TF_I("hw", p->high_watermark), IO_TF_I("epoch", p->leader_epoch),
              IO_TF_I("leader", p->role == PARTITION_ROLE_LEADER ? 1 : 0));
}

/* Moves the HW up to `hw` (never back, I-REPL-6); traces once a role is assigned (a node
 * without one keeps today's single-node output). Returns true when it moved. */
static bool hw_raise(struct partition *p, int64_t hw) {
    ASSERT(hw <= log_end_offset(p->log));
    if (hw <= p->high_watermark) return false;
    p->high_watermark = hw;
    if (p->role != PARTITION_ROLE_NONE) trace_hw(p);
    return true;
}

static bool isr_contains(const int32_t *isr, uint32_t count, int32_t id) {
    for (uint32_t i = 0; i < count; i++) {
        if (isr[i] == id) return true;
    }
    return false;
}

struct partition_follower *partition_follower_find(struct partition *partition, int32_t id) {
    for (uint32_t i = 0; i < partition->follower_count; i++) {
        if (partition->followers[i].id == id) return &partition->followers[i];
    }
    return NULL;
}

int32_t partition_latest_epoch(const struct partition *partition) {
    return log_epoch_cache_latest(&partition->log->epochs);
}

/*
 * Leader (or a node without a role, alone in its ISR): HW = min LEO over the ISR, the
 * leader's own LEO included; a member whose LEO is not known yet (-1) holds it where it is.
 */
static bool hw_maybe_advance(struct partition *p) {
    if (p->role == PARTITION_ROLE_FOLLOWER) return false;
    int64_t hw = log_end_offset(p->log);
    for (uint32_t i = 0; i < p->isr_count; i++) {
        if (p->isr[i] == p->node_id) continue;
        const struct partition_follower *f = partition_follower_find(p, p->isr[i]);
        if (f == NULL || f->log_end_offset < 0) return false;
        hw = MIN(hw, f->log_end_offset);
    }
    return hw_raise(p, hw);
}

/* Sorted ascending copy (the ISR order is the trace's and the proposal's). */
static void isr_copy_sorted(int32_t *dst, uint32_t *dst_count, const int32_t *src,
                            uint32_t count) {
    ASSERT(count <= PARTITION_REPLICAS_MAX);
    for (uint32_t i = 0; i < count; i++) {
        int32_t v = src[i];
        uint32_t j = i;
        while (j > 0 && dst[j - 1] > v) {
            dst[j] = dst[j - 1];
            j--;
        }
        dst[j] = v;
    }
    *dst_count = count;
}

static void set_replicas(struct partition *p, const int32_t *replicas, uint32_t replica_count,
                         const int32_t *isr, uint32_t isr_count) {
    ASSERT(replica_count <= PARTITION_REPLICAS_MAX && isr_count <= PARTITION_REPLICAS_MAX);
    memcpy(p->replicas, replicas, replica_count * sizeof(*replicas));
    p->replica_count = replica_count;
    isr_copy_sorted(p->isr, &p->isr_count, isr, isr_count);
}

/* The first role assignment drops the HW guessed at open (see partition.h). */
static void hw_confirm(struct partition *p) {
    if (!p->hw_unconfirmed) return;
    int64_t hw = partition_checkpoint_hw(p); /* Read while still unconfirmed. */
    p->hw_unconfirmed = false;
    p->high_watermark = MIN(p->high_watermark, hw);
}

void partition_restore_hw(struct partition *partition, int64_t hw) {
    ASSERT(partition->hw_unconfirmed);
    partition->hw_checkpoint = hw;
}

int64_t partition_checkpoint_hw(const struct partition *partition) {
    if (!partition->hw_unconfirmed) return partition->high_watermark;
    int64_t start = partition->log->log_start_offset;
    int64_t hw = MIN(partition->hw_checkpoint, log_end_offset(partition->log));
    return MAX(start, hw);
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
    p->node_id = node_id;
    p->role = PARTITION_ROLE_NONE;
    p->leader_id = node_id;
    p->leader_epoch = 0;
    p->partition_epoch = 0;
    p->replicas[0] = node_id;
    p->replica_count = 1;
    p->isr[0] = node_id;
    p->isr_count = 1;
    /* Alone, everything on disk after recovery is committed: HW = LEO. With replicas this is
     * only a guess, dropped when the broker first assigns a role (to the checkpointed HW
     * given by partition_restore_hw, else the log start). */
    p->high_watermark = log_end_offset(log);
    p->hw_unconfirmed = true;
    p->hw_checkpoint = -1;
    p->leader_epoch_start_offset = log->log_start_offset;
    producer_rebuild(p);
    *out = p;
    return 0;
}

int partition_close(struct partition *partition) {
    int rc = log_close(partition->log);
    if (partition->followers != NULL) {
        io_free(partition->io, partition->followers,
                partition->follower_cap * sizeof(*partition->followers));
    }
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
    /* The batches now carry their offsets: remember idempotent producers' sequences. */
    producer_record_all(partition, batches, len);
    /* With the ISR {self} (a single node) the HW follows the LEO at once. */
    hw_maybe_advance(partition);
    return 0;
}

/* ---- Replication -------------------------------------------------------------------- */

/* KIP-279: a new leader names its epoch's start (the LEO) in the epoch cache before it
 * writes anything, so a follower asking for its older epoch learns where that one ended. */
static int epoch_start_record(struct partition *p, int32_t leader_epoch) {
    struct log *log = p->log;
    if (log_epoch_cache_assign(&log->epochs, leader_epoch, log_end_offset(log))) {
        char path[LOG_PATH_MAX + 32];
        int n = snprintf(path, sizeof path, "%s/%s", log->dir, LOG_EPOCH_CHECKPOINT_FILE);
        if (n < 0 || (size_t)n >= sizeof path) return -ENAMETOOLONG;
        int rc = log_checkpoint_write_epochs(p->io, path, log->epochs.entries,
                                             log->epochs.count);
        if (rc < 0) return rc;
    }
    /* The epoch may already be there (this node led it before a restart): its start is
     * the cache's entry, otherwise the entry just made at the LEO. */
    p->leader_epoch_start_offset = log_end_offset(log);
    for (size_t i = 0; i < log->epochs.count; i++) {
        if (log->epochs.entries[i].epoch == leader_epoch) {
            p->leader_epoch_start_offset = log->epochs.entries[i].start_offset;
        }
    }
    return 0;
}

static void followers_reset(struct partition *p, int64_t now_ms) {
    uint32_t need = 0;
    for (uint32_t i = 0; i < p->replica_count; i++) {
        if (p->replicas[i] != p->node_id) need++;
    }
    if (need > p->follower_cap) {
        uint32_t cap = need;
        p->followers = io_realloc(p->io, p->followers, p->follower_cap * sizeof(*p->followers),
                                  cap * sizeof(*p->followers));
        p->follower_cap = cap;
    }
    p->follower_count = 0;
    for (uint32_t i = 0; i < p->replica_count; i++) {
        if (p->replicas[i] == p->node_id) continue;
        p->followers[p->follower_count++] = (struct partition_follower){
            .id = p->replicas[i],
            .log_end_offset = -1, /* Unknown until it fetches. */
            .last_caught_up_ms = now_ms, /* A fresh leader does not shrink the ISR at once. */
            .last_fetch_ms = now_ms,
            .last_fetch_leader_log_end = -1,
        };
    }
}

int partition_become_leader(struct partition *partition, int32_t leader_epoch,
                            int32_t partition_epoch, const int32_t *replicas,
                            uint32_t replica_count, const int32_t *isr, uint32_t isr_count,
                            int64_t now_ms) {
    struct partition *p = partition;
    if (leader_epoch < p->leader_epoch || replica_count > PARTITION_REPLICAS_MAX ||
        isr_count > PARTITION_REPLICAS_MAX) {
        return -EINVAL;
    }
    if (leader_epoch < partition_latest_epoch(p)) return -EINVAL; /* The log knows newer. */
    int rc = epoch_start_record(p, leader_epoch);
    if (rc < 0) return rc;
    hw_confirm(p);
    p->role = PARTITION_ROLE_LEADER;
    p->leader_id = p->node_id;
    p->leader_epoch = leader_epoch;
    p->partition_epoch = partition_epoch;
    set_replicas(p, replicas, replica_count, isr, isr_count);
    followers_reset(p, now_ms);
    io_tracef(p->io, "become_leader", IO_TF_S("topic", topic_name(p)),
              IO_TF_I("partition", p->index), IO_TF_I("epoch", leader_epoch),
              IO_TF_I("leo", log_end_offset(p->log)), IO_TF_I("hw", p->high_watermark));
    if (!hw_maybe_advance(p)) trace_hw(p); /* Either way the checker learns the HW. */
    return 0;
}

int partition_become_follower(struct partition *partition, int32_t leader, int32_t leader_epoch,
                              int32_t partition_epoch, const int32_t *replicas,
                              uint32_t replica_count, const int32_t *isr, uint32_t isr_count) {
    struct partition *p = partition;
    if (leader_epoch < p->leader_epoch || replica_count > PARTITION_REPLICAS_MAX ||
        isr_count > PARTITION_REPLICAS_MAX || leader == p->node_id) {
        return -EINVAL;
    }
    hw_confirm(p);
    p->role = PARTITION_ROLE_FOLLOWER;
    p->leader_id = leader;
    p->leader_epoch = leader_epoch;
    p->partition_epoch = partition_epoch;
    set_replicas(p, replicas, replica_count, isr, isr_count);
    p->follower_count = 0; /* Only a leader tracks followers. */
    io_tracef(p->io, "become_follower", IO_TF_S("topic", topic_name(p)),
              IO_TF_I("partition", p->index), IO_TF_I("leader", leader),
              IO_TF_I("epoch", leader_epoch));
    return 0;
}

void partition_set_isr(struct partition *partition, const int32_t *isr, uint32_t isr_count,
                       int32_t partition_epoch, int64_t now_ms) {
    struct partition *p = partition;
    ASSERT(isr_count <= PARTITION_REPLICAS_MAX);
    (void)now_ms;
    isr_copy_sorted(p->isr, &p->isr_count, isr, isr_count);
    p->partition_epoch = partition_epoch;
    if (p->role != PARTITION_ROLE_LEADER) return;
    /* "1,2,3": ascending ids, at most 16 of at most 11 characters each. */
    char text[PARTITION_REPLICAS_MAX * 12 + 1];
    size_t len = 0;
    text[0] = '\0';
    for (uint32_t i = 0; i < p->isr_count; i++) {
        int n = snprintf(text + len, sizeof text - len, "%s%d", i == 0 ? "" : ",",
                         (int)p->isr[i]);
        ASSERT(n > 0 && (size_t)n < sizeof text - len);
        len += (size_t)n;
    }
    io_tracef(p->io, "isr", IO_TF_S("topic", topic_name(p)), IO_TF_I("partition", p->index),
              IO_TF_S("isr", text), IO_TF_I("leader_epoch", p->leader_epoch),
              IO_TF_I("partition_epoch", partition_epoch));
    /* A shrink can let the HW move (the slow member held it back). */
    hw_maybe_advance(p);
}

bool partition_follower_fetched(struct partition *partition, int32_t follower_id,
                                int64_t fetch_offset, int64_t now_ms) {
    struct partition *p = partition;
    if (p->role != PARTITION_ROLE_LEADER) return false;
    struct partition_follower *f = partition_follower_find(p, follower_id);
    if (f == NULL) return false;
    int64_t leo = log_end_offset(p->log);
    int64_t offset = MIN(fetch_offset, leo); /* The broker refuses beyond; be safe anyway. */
    /* Kafka's caught-up rule: at the LEO now, or at least at the LEO of its previous fetch
     * (then it was caught up at that fetch's time) — under steady produce load a follower
     * never equals the moving LEO. */
    if (offset >= leo) {
        f->last_caught_up_ms = MAX(f->last_caught_up_ms, now_ms);
    } else if (f->last_fetch_leader_log_end >= 0 && offset >= f->last_fetch_leader_log_end) {
        f->last_caught_up_ms = MAX(f->last_caught_up_ms, f->last_fetch_ms);
    }
    f->log_end_offset = offset;
    f->last_fetch_ms = now_ms;
    f->last_fetch_leader_log_end = leo;
    return hw_maybe_advance(p);
}

bool partition_isr_proposal(const struct partition *partition, int64_t now_ms,
                            int64_t lag_time_max_ms, int32_t *isr, uint32_t *isr_count) {
    return partition_isr_proposal_filtered(partition, now_ms, lag_time_max_ms, NULL, NULL, isr,
                                           isr_count);
}

bool partition_isr_proposal_filtered(const struct partition *partition, int64_t now_ms,
                                     int64_t lag_time_max_ms,
                                     partition_replica_eligible_fn eligible, void *eligible_arg,
                                     int32_t *isr, uint32_t *isr_count) {
    const struct partition *p = partition;
    int64_t leo = log_end_offset(p->log);
    if (p->role != PARTITION_ROLE_LEADER) return false;
    int32_t next[PARTITION_REPLICAS_MAX];
    uint32_t count = 0;
    bool changed = false;
    /* KAFKA-7128 (I-REPL-8): a follower may join only once the HW has reached the start of
     * this leader's epoch; before that, the HW may still be below data the old leader had
     * committed, and a member admitted then could become leader without it. */
    bool join_allowed = p->high_watermark >= p->leader_epoch_start_offset ||
                        MUTANT(p->io, "isr-join-ignores-epoch-start");
    for (uint32_t i = 0; i < p->replica_count; i++) {
        int32_t id = p->replicas[i];
        bool in = isr_contains(p->isr, p->isr_count, id);
        if (id == p->node_id) {
            next[count++] = id; /* The leader never leaves its own ISR. */
            changed |= !in;
            continue;
        }
        const struct partition_follower *f = NULL;
        for (uint32_t j = 0; j < p->follower_count; j++) {
            if (p->followers[j].id == id) f = &p->followers[j];
        }
        if (f == NULL) {
            if (in) next[count++] = id;
            continue;
        }
        if (in) {
            if (now_ms - f->last_caught_up_ms > lag_time_max_ms) {
                changed = true; /* Lagging: shrink. */
            } else {
                next[count++] = id;
            }
        } else if (join_allowed && f->log_end_offset >= 0 &&
                   f->log_end_offset >= p->high_watermark &&
                   (f->log_end_offset >= leo ||
                    now_ms - f->last_caught_up_ms <= lag_time_max_ms) &&
                   (eligible == NULL || eligible(eligible_arg, id))) {
            next[count++] = id;
            changed = true;
        }
    }
    /* Members not among the replicas (a reassignment in flight) are kept as they are. */
    for (uint32_t i = 0; i < p->isr_count; i++) {
        bool replica = false;
        for (uint32_t j = 0; j < p->replica_count; j++) replica |= p->replicas[j] == p->isr[i];
        if (!replica && count < PARTITION_REPLICAS_MAX) next[count++] = p->isr[i];
    }
    if (!changed) return false;
    isr_copy_sorted(isr, isr_count, next, count);
    return true;
}

bool partition_enough_replicas(const struct partition *partition, int32_t min_insync) {
    return (int64_t)partition->isr_count >= (int64_t)min_insync;
}

int partition_follower_truncate(struct partition *partition, int64_t offset) {
    struct partition *p = partition;
    ASSERT(offset >= 0);
    if (offset >= log_end_offset(p->log)) return 0;
    int rc = log_truncate_to(p->log, offset);
    if (rc < 0) return rc;
    producer_reset(p);
    if (p->high_watermark > log_end_offset(p->log)) {
        /* Only an unclean election (or a bug the checkers are there to catch) cuts below
         * the HW; the HW may not stay above the log, so say so in the trace. */
        p->high_watermark = log_end_offset(p->log);
        if (p->role != PARTITION_ROLE_NONE) trace_hw(p);
    }
    return 0;
}

int partition_follower_append(struct partition *partition, const uint8_t *batches, size_t len,
                              int64_t leader_high_watermark, int64_t leader_log_start,
                              int64_t now_ms) {
    struct partition *p = partition;
    if (len > 0) {
        struct log_append_info info;
        int rc = log_append_follower(p->log, batches, len, now_ms, &info);
        if (rc < 0) return rc;
        producer_record_all(p, batches, len);
    }
    int64_t leo = log_end_offset(p->log);
    if (leader_log_start > p->log->log_start_offset) {
        int rc = log_delete_records(p->log, MIN(leader_log_start, leo));
        if (rc < 0) return rc;
    }
    hw_raise(p, MIN(leader_high_watermark, leo));
    return 0;
}
