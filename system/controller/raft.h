/*
 * raft.h — the metadata quorum's Raft (KIP-595 style), over a system/log log.
 *
 * One `struct raft` per voter. It owns the metadata log (`__cluster_metadata-0` under the
 * given dir) and the `quorum-state` file, runs elections (Vote / BeginQuorumEpoch /
 * EndQuorumEpoch) and pull replication (followers Fetch from the leader after finding the
 * divergence point with OffsetForLeaderEpoch), and advances the high watermark by the
 * majority rule restricted to the leader's epoch. Observers (brokers) may Fetch too; they
 * never count towards the majority.
 *
 * The owner (controller.c) accepts connections and hands raft the requests of the raft
 * APIs (raft_handle_request); raft sends its own requests to the other voters with
 * client.c. Committed data reaches the owner through on_commit, in log order, exactly once
 * per process lifetime (at start everything committed so far is replayed as it becomes
 * known to be committed). Callbacks never run from inside the raft_* call that caused them.
 */
#ifndef TRIAL_CONTROLLER_RAFT_H
#define TRIAL_CONTROLLER_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/config.h"
#include "io/io.h"

#define RAFT_TOPIC "__cluster_metadata"

struct raft;

struct raft_callbacks {
    /* Committed record batches (batch v2 bytes, whole batches, control batches included),
     * starting at `base_offset`; `high_watermark` is the new commit point. */
    void (*on_commit)(void *arg, const uint8_t *batches, size_t len, int64_t base_offset,
                      int64_t high_watermark);
    /* This voter became leader of `epoch` and its leader-change record committed: every
     * record of earlier epochs is now committed and applied, so it may act as controller. */
    void (*on_become_leader)(void *arg, int32_t epoch);
    /* This voter stopped being leader (a higher epoch was seen, or it resigned). */
    void (*on_resign)(void *arg, int32_t epoch);
    void *arg;
};

/* A record to append: key/value bytes (copied). */
struct raft_record {
    const uint8_t *key;
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
};

/* Starts the voter: opens/recovers the log in `dir` (created if missing) and quorum-state.
 * `config` gives node.id, voters and the controller.quorum.* timeouts. If the config has no
 * voters, this node is the only voter. 0 or a negative error (logged). */
int raft_start(struct io *io, const struct broker_config *config, const char *dir,
               const struct raft_callbacks *callbacks, struct raft **out);
void raft_stop(struct raft *raft);

/* Leader only: appends the records as one batch in the current epoch; *last_offset gets the
 * offset of the last one (committed once the high watermark passes it). -EPERM when not
 * leader (or not yet allowed to act: its leader-change record is uncommitted).
 * (Additive detail: at most 8192 records and 16 MiB per call, else -EINVAL / -EMSGSIZE;
 * an append or fsync error is returned and the leader resigns.) */
int raft_append(struct raft *raft, const struct raft_record *records, size_t count,
                int64_t *last_offset);

/* True once this voter leads and on_become_leader has run (raft_append is allowed). */
bool raft_is_leader(const struct raft *raft);
int32_t raft_leader_id(const struct raft *raft); /* -1 when unknown. */
int32_t raft_epoch(const struct raft *raft);
int64_t raft_high_watermark(const struct raft *raft);
/* Added (additive): the end offset of the local (synced) metadata log. */
int64_t raft_log_end_offset(const struct raft *raft);

/*
 * A decoded request of a raft API (Vote, BeginQuorumEpoch, EndQuorumEpoch, DescribeQuorum,
 * and Fetch / OffsetForLeaderEpoch naming __cluster_metadata-0). raft calls
 * `respond(respond_arg, api_key, version, body)` exactly once, possibly later (a Fetch may
 * wait up to its max_wait_ms), never from inside this call. Returns 0, or -ENOTSUP for an
 * API it does not serve (respond is then not called).
 */
typedef void (*raft_respond_fn)(void *respond_arg, int16_t api_key, int16_t version,
                                const void *body);
int raft_handle_request(struct raft *raft, int16_t api_key, int16_t version, const void *body,
                        raft_respond_fn respond, void *respond_arg);
/*
 * Details of the above (additive): raft copies what it needs from `body` before returning,
 * so the decoded request may be freed at once. The `body` handed to respond is valid only
 * during that call (encode it there). A request that cannot be queued (256 already wait)
 * returns -EAGAIN, and one arriving during raft_stop -ESHUTDOWN; respond is then not
 * called. raft_stop() answers every request still waiting (a parked Fetch with
 * NOT_LEADER_OR_FOLLOWER) from inside raft_stop. Fetch and OffsetForLeaderEpoch naming
 * anything but
 * __cluster_metadata-0 are answered UNKNOWN_TOPIC_OR_PARTITION.
 *
 * The leader-change record (first batch of every epoch) is a control batch with one
 * record: key = Kafka's control key (int16 version 0, int16 type 2 = LEADER_CHANGE), value
 * = int16 version 0, int32 leader id, int32 epoch (big-endian). on_commit hands it over
 * like any batch: skip control batches when replaying records. on_resign is called only
 * for an epoch whose on_become_leader was called.
 */

#endif /* TRIAL_CONTROLLER_RAFT_H */
