/*
 * partition.h — one replica of one topic partition: its log plus replication state.
 *
 * A partition opens with role NONE, this node as its only replica and ISR, and HW = LEO,
 * so a broker that never assigns roles behaves as a single node did (an append moves the HW
 * to the LEO at once: HW = min LEO over the ISR, and the ISR is {self}). The broker drives
 * roles from the metadata image (partition_become_leader / _follower); a leader's HW is the
 * minimum LEO over its ISR and never moves back (I-REPL-6); a follower's is the leader's,
 * capped at its own LEO. Consumers read below `high_watermark`, producers with acks=-1 wait
 * for it to pass their last offset. The HW from open is not trusted once a role is assigned
 * (there is no HW checkpoint): the first role drops it to the log start, untraced, and lets
 * the ISR raise it again.
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

enum partition_role { PARTITION_ROLE_NONE = 0, PARTITION_ROLE_LEADER = 1,
                      PARTITION_ROLE_FOLLOWER = 2 };

struct partition_follower;

struct partition {
    struct io *io;
    struct log *log;
    const char *topic;       /* For traces; owned by the broker's topic entry. */
    enum partition_role role;
    int32_t node_id;         /* This broker. */
    int32_t partition_epoch;
    struct partition_follower *followers; /* Leader: one per other replica (replica order). */
    uint32_t follower_count;
    int32_t index;           /* Partition number within its topic. */
    uint64_t key;            /* Broker-unique id (purgatory watch key). */
    int32_t leader_id;       /* The leader (this node until a role says otherwise). */
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
    /* Added for replication (additive). */
    int64_t leader_epoch_start_offset; /* Leader: where its epoch starts (I-REPL-8). */
    bool hw_unconfirmed;     /* HW = LEO from open, not yet confirmed by any role. */
    int64_t hw_checkpoint;   /* HW from replication-offset-checkpoint (-1: none). */
    uint32_t follower_cap;   /* Entries allocated in `followers`. */
};

/* Opens (or creates) the partition's log in `dir` (which must exist). */
int partition_open(struct io *io, const char *dir, const struct log_config *config,
                   int32_t index, uint64_t key, int32_t node_id, int64_t log_start_offset,
                   struct partition **out);
/* Closes the log cleanly (flush + clean-shutdown marker) and frees the partition. */
int partition_close(struct partition *partition);
/*
 * Added (additive): the HW a replica had checkpointed (Kafka's replication-offset-
 * checkpoint). Call after open, before any role: the first role then starts the HW at
 * min(checkpoint, LEO) (never below the log start) instead of at the log start.
 */
void partition_restore_hw(struct partition *partition, int64_t hw);
/* The HW to checkpoint: the confirmed HW, or before any role what the first will start
 * from (the LEO guessed at open is never written). */
int64_t partition_checkpoint_hw(const struct partition *partition);

/* Leader (or no-role) append of a validated produce payload, stamped with leader_epoch;
 * then HW = min LEO over the ISR (the LEO at once when the ISR is {this node}). */
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

/* ---- Replication (docs/REPLICATION.md). Implemented by partition.c; used by broker.c and
 * fetcher.c. The broker drives roles from the metadata image; the partition keeps the
 * per-replica state and decides HW and ISR proposals. Time is io wall ms passed in. ---- */

/* Per-follower state kept by a leader. */
struct partition_follower {
    int32_t id;
    int64_t log_end_offset;        /* Its fetch offset: everything below is on its log. */
    int64_t last_caught_up_ms;     /* Last time its fetch offset reached the leader's LEO. */
    int64_t last_fetch_ms;
    int64_t last_fetch_leader_log_end; /* Leader's LEO at its previous fetch (Kafka's rule). */
};

/*
 * Becomes leader in `leader_epoch` (>= the current one): the epoch enters the epoch cache at
 * the current LEO (KIP-279: a new leader records its epoch start even before it writes), the
 * HW stays where it was (it may only be known to be correct once followers catch up: it never
 * moves back), followers' states are reset (unknown LEO, caught up "now" so a fresh leader
 * does not shrink the ISR at once). Traces become_leader and hw.
 */
int partition_become_leader(struct partition *partition, int32_t leader_epoch,
                            int32_t partition_epoch, const int32_t *replicas,
                            uint32_t replica_count, const int32_t *isr, uint32_t isr_count,
                            int64_t now_ms);
/* Becomes follower of `leader` in `leader_epoch`; the fetcher must truncate before fetching.
 * Traces become_follower. */
int partition_become_follower(struct partition *partition, int32_t leader, int32_t leader_epoch,
                              int32_t partition_epoch, const int32_t *replicas,
                              uint32_t replica_count, const int32_t *isr, uint32_t isr_count);
/* The ISR (and partition epoch) as committed by the controller. Recomputes the HW. */
void partition_set_isr(struct partition *partition, const int32_t *isr, uint32_t isr_count,
                       int32_t partition_epoch, int64_t now_ms);

/*
 * Leader: a follower fetched at `fetch_offset` (so it holds everything below). Updates its
 * state and the HW (min LEO over the ISR, never backwards, I-REPL-6). Returns true when the
 * HW moved (the broker then completes waiting acks=all produces and fetches).
 */
bool partition_follower_fetched(struct partition *partition, int32_t follower_id,
                                int64_t fetch_offset, int64_t now_ms);
/*
 * Leader: the ISR it should propose now, if different from the current one: followers that
 * are in the replicas, caught up (LEO >= HW) and allowed by I-REPL-8 (HW >= start offset of
 * the leader's epoch) join; followers not caught up for `lag_time_max_ms` leave. Returns
 * true and fills isr/isr_count (sorted ascending) when a change is due. A joining follower
 * must also be caught up in Kafka's sense (at the leader's LEO, or caught up within
 * `lag_time_max_ms`), so one that left for lagging does not bounce straight back.
 */
bool partition_isr_proposal(const struct partition *partition, int64_t now_ms,
                            int64_t lag_time_max_ms, int32_t *isr, uint32_t *isr_count);
/*
 * partition_isr_proposal, with joins limited to replicas `eligible` says yes to (KIP-841:
 * the broker passes "registered and not fenced" from its metadata image, so a fenced
 * follower whose stale LEO still equals an idle leader's is not proposed over and over and
 * refused with INELIGIBLE_REPLICA). eligible NULL admits everyone. Additive.
 */
typedef bool (*partition_replica_eligible_fn)(void *arg, int32_t replica_id);
bool partition_isr_proposal_filtered(const struct partition *partition, int64_t now_ms,
                                     int64_t lag_time_max_ms,
                                     partition_replica_eligible_fn eligible, void *eligible_arg,
                                     int32_t *isr, uint32_t *isr_count);
/* Leader, acks=all: whether |ISR| >= min_insync (else NOT_ENOUGH_REPLICAS, I-REPL-9). */
bool partition_enough_replicas(const struct partition *partition, int32_t min_insync);

/* Follower: drop everything at and above `offset` (after OffsetForLeaderEpoch). */
int partition_follower_truncate(struct partition *partition, int64_t offset);
/*
 * Follower: appends fetched batches (offsets/epochs as the leader wrote them), then applies
 * the leader's HW capped at its own LEO, and the leader's log start offset. Rebuilds the
 * producer state from the appended batches. Traces hw when it moves.
 */
int partition_follower_append(struct partition *partition, const uint8_t *batches, size_t len,
                              int64_t leader_high_watermark, int64_t leader_log_start,
                              int64_t now_ms);

/* ---- Additive helpers for the broker and the fetcher. ---- */

/* Leader: the offset at which its current epoch starts (the LEO when it became leader). */
static inline int64_t partition_leader_epoch_start(const struct partition *partition) {
    return partition->leader_epoch_start_offset;
}
/* Leader: the state of follower `id`, or NULL if it is not one of the other replicas. */
struct partition_follower *partition_follower_find(struct partition *partition, int32_t id);
/* The latest epoch in the log's epoch cache (-1 if none): what a follower asks
 * OffsetForLeaderEpoch about. */
int32_t partition_latest_epoch(const struct partition *partition);

static inline bool partition_is_leader(const struct partition *partition) {
    return partition->role == PARTITION_ROLE_LEADER;
}

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
