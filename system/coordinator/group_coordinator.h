/*
 * group_coordinator.h — the classic (pre-KIP-848) Kafka group coordinator as a
 * deterministic state machine: consumer group membership and rebalancing (JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup), committed offsets (OffsetCommit, OffsetFetch,
 * TxnOffsetCommit with its pending-until-marker offsets) and the admin views (ListGroups,
 * DescribeGroups), made durable in __consumer_offsets.
 *
 * It knows nothing of the wire or the log. The broker decodes a request, fills the plain
 * structs below, and encodes what comes back; it wires `struct group_log` to the partition
 * log of __consumer_offsets and feeds the coordinator the records of a partition when it
 * becomes that partition's leader (load_begin / replay / load_end) and tells it when it
 * stops being leader (unload). Time comes only from io_now_ns (session, rebalance and
 * initial-delay timers via io_timer_start) and io_wall_ms (commit timestamps, retention),
 * ids from io_random_u64, memory from io_alloc: the same code runs in triald and the sim.
 *
 * Group states (Kafka's names) and the transitions this module makes:
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout--> CompletingRebalance
 *   CompletingRebalance --leader's SyncGroup made durable--> Stable
 *   Stable/CompletingRebalance --join of new member, leader rejoin, changed metadata, leave,
 *                               session expiry--> PreparingRebalance
 *   PreparingRebalance --nobody left when the join completes--> Empty (generation + 1)
 *   Empty --offsets all expired--> Dead (removed)
 * See docs/GROUPS.md for the full table and the Kafka rules each transition follows.
 *
 * Callbacks: JoinGroup, SyncGroup, OffsetCommit and TxnOffsetCommit answer through a
 * callback that runs EXACTLY ONCE per accepted call: either before the call returns
 * (immediate answers and errors) or later (from a timer, another member's request, or the
 * log's completion). The response and everything it points to are valid only during the
 * callback, which must not call back into the coordinator (an ASSERT catches it). Heartbeat,
 * LeaveGroup, OffsetFetch, ListGroups and DescribeGroups answer synchronously.
 * Kafka error codes are data (int16 in responses); C errors are negative errno values.
 *
 * Ownership: strings and byte arrays passed in are copied; nothing the caller passes needs
 * to outlive the call. One coordinator per broker; no global state.
 */
#ifndef TRIAL_COORDINATOR_GROUP_COORDINATOR_H
#define TRIAL_COORDINATOR_GROUP_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

/* Kafka error codes the coordinator answers with. */
enum group_error {
    GROUP_ERR_NONE = 0,
    GROUP_ERR_UNKNOWN_SERVER_ERROR = -1,
    GROUP_ERR_OFFSET_METADATA_TOO_LARGE = 12,
    GROUP_ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    GROUP_ERR_COORDINATOR_NOT_AVAILABLE = 15,
    GROUP_ERR_NOT_COORDINATOR = 16,
    GROUP_ERR_ILLEGAL_GENERATION = 22,
    GROUP_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    GROUP_ERR_INVALID_GROUP_ID = 24,
    GROUP_ERR_UNKNOWN_MEMBER_ID = 25,
    GROUP_ERR_INVALID_SESSION_TIMEOUT = 26,
    GROUP_ERR_REBALANCE_IN_PROGRESS = 27,
    GROUP_ERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    GROUP_ERR_INVALID_PRODUCER_ID_MAPPING = 49,
    GROUP_ERR_GROUP_MAX_SIZE_REACHED = 81,
    GROUP_ERR_MEMBER_ID_REQUIRED = 79,
};

enum group_state {
    GROUP_EMPTY = 0,
    GROUP_PREPARING_REBALANCE = 1,
    GROUP_COMPLETING_REBALANCE = 2,
    GROUP_STABLE = 3,
    GROUP_DEAD = 4,
};

/* Kafka's spelling of a state, as DescribeGroups/ListGroups report it. */
const char *group_state_name(enum group_state state);

struct group_config {
    int32_t offsets_partitions;           /* offsets.topic.num.partitions (50). */
    uint32_t initial_rebalance_delay_ms;  /* group.initial.rebalance.delay.ms (3000). */
    int32_t min_session_timeout_ms;       /* group.min.session.timeout.ms (6000). */
    int32_t max_session_timeout_ms;       /* group.max.session.timeout.ms (1800000). */
    uint32_t group_members_max;           /* group.max.size; bounds one group's member list. */
    uint32_t groups_max;                  /* Bound on groups held by this coordinator. */
    uint32_t offsets_per_group_max;       /* Bound on committed partitions per group. */
    uint32_t offset_metadata_bytes_max;   /* offset.metadata.max.bytes (4096). */
    int64_t offsets_retention_ms;         /* offsets.retention.minutes (7 days) in ms. */
    uint64_t retention_check_interval_ms; /* offsets.retention.check.interval.ms (600000). */
};

/* Kafka's defaults (bounds chosen by us where Kafka has none). */
void group_config_default(struct group_config *config);

/* --- The append seam ------------------------------------------------------------------ */

/* One record for __consumer_offsets; value NULL is a tombstone. */
struct group_record {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
};

/* status 0: durable (replicated as the topic requires); < 0: not written. The coordinator
 * maps -ESTALE (no longer leader) and -EIO (storage error) to NOT_COORDINATOR, -EMSGSIZE to
 * INVALID_COMMIT_OFFSET_SIZE and anything else to COORDINATOR_NOT_AVAILABLE. */
typedef void (*group_append_cb)(void *arg, int status);

struct group_log {
    /* Appends `count` records (copied before return) atomically to partition `partition`
     * of __consumer_offsets. Returns 0 and later calls done(done_arg, status) exactly once,
     * never before returning; or returns < 0 and never calls done. */
    int (*append)(void *ctx, int32_t partition, const struct group_record *records, size_t count,
                  group_append_cb done, void *done_arg);
    /* The same, as a transactional batch of (producer_id, producer_epoch) — TxnOffsetCommit.
     * The transaction coordinator later writes the marker to the partition; the broker then
     * calls group_coordinator_txn_complete(). NULL: TxnOffsetCommit answers
     * COORDINATOR_NOT_AVAILABLE. */
    int (*append_txn)(void *ctx, int32_t partition, int64_t producer_id, int16_t producer_epoch,
                      const struct group_record *records, size_t count, group_append_cb done,
                      void *done_arg);
    void *ctx;
};

/* --- Lifecycle and partition ownership ------------------------------------------------- */

struct group_coordinator;

/* Creates a coordinator owning no partition yet. `log` is copied. */
struct group_coordinator *group_coordinator_create(struct io *io, const struct group_config *config,
                                                   const struct group_log *log);
/* Unloads every partition (pending callbacks get NOT_COORDINATOR) and frees everything.
 * The log must have completed every append it accepted (see group_coordinator_appends). */
void group_coordinator_destroy(struct group_coordinator *co);
/* Appends issued whose completion has not run yet. */
uint32_t group_coordinator_appends(const struct group_coordinator *co);

/* This broker became leader of __consumer_offsets partition `partition`: requests for its
 * groups answer COORDINATOR_LOAD_IN_PROGRESS until load_end. */
void group_coordinator_load_begin(struct group_coordinator *co, int32_t partition);
/* One record of the partition, in log order. value NULL = tombstone. Returns 0, or
 * -EINVAL/-ENOTSUP for a record it cannot read (the caller logs it and goes on, as Kafka
 * does), or -ENOSPC when a bound was hit. */
int group_coordinator_replay(struct group_coordinator *co, int32_t partition, const uint8_t *key,
                             size_t key_len, const uint8_t *value, size_t value_len);
/* A record of a transactional batch of `producer_id` (a TxnOffsetCommit): pending until a
 * marker for that producer, replayed with group_coordinator_txn_complete(), decides. Only
 * offset records may be transactional (-EINVAL otherwise). */
int group_coordinator_replay_txn(struct group_coordinator *co, int32_t partition,
                                 int64_t producer_id, const uint8_t *key, size_t key_len,
                                 const uint8_t *value, size_t value_len);
/* Loading finished: the partition's groups are served; loaded members get a fresh session. */
void group_coordinator_load_end(struct group_coordinator *co, int32_t partition);
/* This broker lost the partition: its groups are dropped from memory (they live on in the
 * log); waiting callbacks answer NOT_COORDINATOR. */
void group_coordinator_unload(struct group_coordinator *co, int32_t partition);

/* The partition of `group_id` (Kafka's hash rule), for FindCoordinator. */
int32_t group_coordinator_partition_for(const struct group_coordinator *co, const char *group_id);

/* --- JoinGroup ------------------------------------------------------------------------ */

struct group_protocol {
    const char *name;
    const uint8_t *metadata;
    size_t metadata_len;
};

struct group_join_request {
    int16_t api_version; /* v4+ gets MEMBER_ID_REQUIRED for an empty member_id. */
    const char *group_id;
    const char *member_id;         /* "" for a new member. */
    const char *group_instance_id; /* NULL; static membership is not implemented. */
    const char *client_id;
    const char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;           /* v0 has none: pass session_timeout_ms. */
    const char *protocol_type;              /* "consumer" for consumers. */
    const struct group_protocol *protocols; /* In the member's order of preference. */
    size_t protocol_count;
};

struct group_join_member {
    const char *member_id;
    const char *group_instance_id;
    const uint8_t *metadata; /* The member's metadata for the chosen protocol. */
    size_t metadata_len;
};

struct group_join_response {
    int16_t error_code;
    int32_t generation_id;                   /* -1 on error. */
    const char *protocol_type;               /* NULL on error. */
    const char *protocol_name;               /* NULL on error. */
    const char *leader_id;                   /* "" on error. */
    const char *member_id;                   /* The member's id (the new one for a new member). */
    const struct group_join_member *members; /* Only in the leader's response. */
    size_t member_count;
};

typedef void (*group_join_cb)(void *arg, const struct group_join_response *response);

/* Starts (or joins) a rebalance. `cb` runs exactly once (see the top of this file). */
void group_join(struct group_coordinator *co, const struct group_join_request *request,
                group_join_cb cb, void *arg);

/* --- SyncGroup ------------------------------------------------------------------------ */

struct group_assignment {
    const char *member_id;
    const uint8_t *assignment;
    size_t assignment_len;
};

struct group_sync_request {
    const char *group_id;
    int32_t generation_id;
    const char *member_id;
    const char *group_instance_id;
    const struct group_assignment *assignments; /* Only the leader sends them. */
    size_t assignment_count;
};

struct group_sync_response {
    int16_t error_code;
    const uint8_t *assignment; /* This member's assignment (empty on error). */
    size_t assignment_len;
};

typedef void (*group_sync_cb)(void *arg, const struct group_sync_response *response);

void group_sync(struct group_coordinator *co, const struct group_sync_request *request,
                group_sync_cb cb, void *arg);

/* --- Heartbeat, LeaveGroup ------------------------------------------------------------- */

/* Returns the Heartbeat error code; a success or REBALANCE_IN_PROGRESS renews the session. */
int16_t group_heartbeat(struct group_coordinator *co, const char *group_id, int32_t generation_id,
                        const char *member_id);

/* LeaveGroup v0-2 leave one member_id; v3 a batch. Fills member_errors[i] for each member
 * and returns the top-level error (NONE unless the group cannot be served). For v0-2 the
 * broker reports member_errors[0] as the top-level error when the top level is NONE. */
int16_t group_leave(struct group_coordinator *co, const char *group_id,
                    const char *const *member_ids, size_t count, int16_t *member_errors);

/* --- OffsetCommit, OffsetFetch -------------------------------------------------------- */

struct group_commit_partition {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;        /* -1 unknown (before v6). */
    int64_t commit_timestamp_ms; /* v1 only; -1 = now. */
    const char *metadata;        /* NULL is stored as "". */
};

struct group_commit_request {
    const char *group_id;
    int32_t generation_id; /* -1 for a group that only stores offsets (no membership). */
    const char *member_id; /* "" with generation -1. */
    const char *group_instance_id;
    int64_t retention_ms; /* v2-4 retention_time_ms; -1 = the broker's retention. */
    const struct group_commit_partition *partitions;
    size_t partition_count;
};

/* errors[i] answers partitions[i] of the request. */
typedef void (*group_commit_cb)(void *arg, const int16_t *errors, size_t count);

void group_commit(struct group_coordinator *co, const struct group_commit_request *request,
                  group_commit_cb cb, void *arg);

struct group_offset {
    int64_t offset;       /* -1 when nothing is committed. */
    int32_t leader_epoch; /* -1 unknown. */
    const char *metadata; /* "" when nothing is committed; valid until the next call. */
    int64_t commit_timestamp_ms;
};

/* One partition's committed offset. Returns the group-level error (NOT_COORDINATOR,
 * COORDINATOR_LOAD_IN_PROGRESS) or NONE; an unknown group or partition gives offset -1. */
int16_t group_offset_fetch(struct group_coordinator *co, const char *group_id, const char *topic,
                           int32_t partition, struct group_offset *out);

typedef void (*group_offset_visit_cb)(void *arg, const char *topic, int32_t partition,
                                      const struct group_offset *offset);
/* Every committed offset of the group in (topic, partition) order (OffsetFetch v2+ with a
 * null topic list). Returns the group-level error. */
int16_t group_offset_fetch_all(struct group_coordinator *co, const char *group_id,
                               group_offset_visit_cb cb, void *arg);

/* --- TxnOffsetCommit (KIP-98) ---------------------------------------------------------- */

struct group_txn_commit_request {
    const char *transactional_id; /* For diagnostics only. */
    const char *group_id;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t generation_id; /* v3+ (KIP-447); -1 = not checked. */
    const char *member_id; /* v3+; "" = not checked. */
    const char *group_instance_id;
    const struct group_commit_partition *partitions; /* retention is never explicit here. */
    size_t partition_count;
};

/* Writes the offsets as part of the producer's transaction. Once durable they are pending:
 * OffsetFetch does not see them until the transaction's COMMIT marker lands in the group's
 * __consumer_offsets partition (I-TXN-8); an ABORT drops them. errors[i] answers
 * partitions[i]; the callback rules are those of group_commit(). The transaction
 * coordinator is responsible for producer-epoch fencing (it only adds the group to a
 * transaction of the current epoch). */
void group_txn_commit(struct group_coordinator *co, const struct group_txn_commit_request *req,
                      group_commit_cb cb, void *arg);

/* A transaction marker of `producer_id` was appended to (or, at load, replayed from)
 * __consumer_offsets partition `partition`: its pending offsets in the partition's groups
 * become committed (commit) or are dropped. A pending offset never overwrites a plain
 * commit written after it. Returns how many offsets became committed. */
uint32_t group_coordinator_txn_complete(struct group_coordinator *co, int32_t partition,
                                        int64_t producer_id, bool commit);

/* --- ListGroups, DescribeGroups ------------------------------------------------------- */

typedef void (*group_list_cb)(void *arg, const char *group_id, const char *protocol_type,
                              enum group_state state);
/* Every group this coordinator serves, in group id order. Returns
 * COORDINATOR_LOAD_IN_PROGRESS while any partition loads (Kafka does the same), else NONE. */
int16_t group_list(struct group_coordinator *co, group_list_cb cb, void *arg);

struct group_description_member {
    const char *member_id;
    const char *group_instance_id;
    const char *client_id;
    const char *client_host;
    const uint8_t *metadata; /* Chosen protocol's metadata; empty unless Stable. */
    size_t metadata_len;
    const uint8_t *assignment; /* Empty unless Stable. */
    size_t assignment_len;
};

struct group_description {
    int16_t error_code;
    const char *group_id;
    const char *state;         /* "Dead" for an unknown group, as Kafka answers. */
    const char *protocol_type; /* "" if none. */
    const char *protocol;      /* "" unless Stable. */
    const struct group_description_member *members; /* In join order. */
    size_t member_count;
};

typedef void (*group_describe_cb)(void *arg, const struct group_description *description);
/* Calls cb once, before returning. */
void group_describe(struct group_coordinator *co, const char *group_id, group_describe_cb cb,
                    void *arg);

/* --- Retention and introspection ------------------------------------------------------ */

/* Expires offsets per offsets.retention.minutes (KIP-211 rules, see docs/GROUPS.md),
 * writes their tombstones, and removes Empty groups left without offsets (Dead). Runs by
 * itself every retention_check_interval_ms; exposed for tests and admin. Returns the
 * number of offsets expired. */
uint32_t group_coordinator_expire_offsets(struct group_coordinator *co);

/* Writes a canonical text description of every served group (state, generation,
 * protocol, leader, members with subscription/assignment sizes, offsets) into buf
 * (NUL-terminated, truncated to cap). Deterministic: for tests comparing live state with
 * replayed state. Returns the length it needed. */
size_t group_coordinator_dump(struct group_coordinator *co, char *buf, size_t cap);

#endif /* TRIAL_COORDINATOR_GROUP_COORDINATOR_H */
