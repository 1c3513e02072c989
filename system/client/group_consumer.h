/*
 * group_consumer.h — an asynchronous Kafka consumer with group membership over io (so the
 * same code runs in programs on io_posix and in simulated workloads).
 *
 * It speaks the classic group protocol the way Kafka's own consumer does: FindCoordinator,
 * JoinGroup (retrying with the member id a MEMBER_ID_REQUIRED answer hands out), SyncGroup
 * with the leader computing the assignment (range or round-robin, chosen by the group from
 * the members' votes), heartbeats, eager rebalances (revoke everything, rejoin, get a new
 * assignment), auto-commit on an interval and manual commits, and LeaveGroup on close. The
 * subscription and assignment bytes are Kafka's ConsumerProtocol schemas, so it can share a
 * group with librdkafka, the Java client or kafka-python.
 *
 * Connections: one to the coordinator FindCoordinator names (commits, heartbeats), so a
 * long-poll Fetch never holds a heartbeat or a commit behind it (responses on one connection
 * come back in request order), and the cluster's (cluster.h): FindCoordinator and Metadata
 * to any broker of the bootstrap list or the metadata, ListOffsets and Fetch to each
 * partition's leader. NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE / a lost coordinator
 * connection look the coordinator up again; NOT_LEADER_OR_FOLLOWER and the leader-epoch
 * errors refresh the metadata and fetch from the same position at the new leader.
 *
 * Positions start at the group's committed offset, or at auto.offset.reset (earliest or
 * latest) when there is none. Records reach the caller through `on_record`, in offset order
 * per partition. Bounds: GROUP_CONSUMER_TOPICS_MAX subscribed topics,
 * GROUP_CONSUMER_PARTITIONS_MAX assigned partitions, GROUP_CONSUMER_MEMBERS_MAX members seen
 * by a leader. Memory from io; no global state.
 */
#ifndef TRIAL_CLIENT_GROUP_CONSUMER_H
#define TRIAL_CLIENT_GROUP_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

#define GROUP_CONSUMER_TOPICS_MAX     8
#define GROUP_CONSUMER_PARTITIONS_MAX 256
#define GROUP_CONSUMER_MEMBERS_MAX    64
#define GROUP_CONSUMER_NAME_MAX       128

struct group_consumer;

/* One (topic, partition) of an assignment, the topic by name. */
struct group_consumer_partition {
    char topic[GROUP_CONSUMER_NAME_MAX];
    int32_t partition;
};

enum group_consumer_assignor {
    GROUP_CONSUMER_RANGE = 0,
    GROUP_CONSUMER_ROUNDROBIN = 1,
};

/* A record; pointers valid only during the call. */
typedef void (*group_consumer_record_fn)(void *arg, const char *topic, int32_t partition,
                                         int64_t offset, const uint8_t *key, int32_t key_len,
                                         const uint8_t *value, int32_t value_len);
/* Rebalance listener: the partitions taken away (before rejoining; positions are committed
 * first under auto-commit) and the partitions given (after SyncGroup, before fetching). */
typedef void (*group_consumer_rebalance_fn)(void *arg, const struct group_consumer_partition *parts,
                                            size_t count, int32_t generation);
/* A commit finished: 0, or the first Kafka error (22 ILLEGAL_GENERATION, 25
 * UNKNOWN_MEMBER_ID, 27 REBALANCE_IN_PROGRESS, ...), or a negative errno. */
typedef void (*group_consumer_done_fn)(void *arg, int result);

struct group_consumer_config {
    const char *host; /* Bootstrap broker (when `bootstrap` is NULL or empty). */
    uint16_t port;
    const char *bootstrap; /* "host:port[,host:port...]", or NULL. */
    const char *client_id;
    const char *group_id;
    const char *topics[GROUP_CONSUMER_TOPICS_MAX]; /* Subscription (copied). */
    size_t topic_count;
    /* Assignors offered, in order of preference (partition.assignment.strategy). */
    enum group_consumer_assignor assignors[2];
    size_t assignor_count;
    bool reset_earliest;              /* auto.offset.reset: earliest (true) or latest. */
    bool auto_commit;                 /* enable.auto.commit. */
    uint32_t auto_commit_interval_ms; /* auto.commit.interval.ms (5000). */
    int32_t session_timeout_ms;       /* session.timeout.ms (10000). */
    int32_t rebalance_timeout_ms;     /* max.poll.interval.ms (300000). */
    uint32_t heartbeat_interval_ms;   /* heartbeat.interval.ms (3000). */
    uint32_t fetch_max_wait_ms;       /* fetch.max.wait.ms (500). */
    uint32_t retry_backoff_ms;        /* retry.backoff.ms (100). */
    group_consumer_record_fn on_record;
    group_consumer_rebalance_fn on_revoked;  /* May be NULL. */
    group_consumer_rebalance_fn on_assigned; /* May be NULL. */
    void *arg;
};

void group_consumer_config_defaults(struct group_consumer_config *config);

/* Starts joining at once. Returns 0 or a negative errno (bad config). */
int group_consumer_create(struct io *io, const struct group_consumer_config *config,
                          struct group_consumer **out);
/* Commits (under auto-commit), revokes, sends LeaveGroup and calls done(arg, 0) once the
 * broker has answered (or done(arg, <0) if it could not be reached); then destroy. */
void group_consumer_close(struct group_consumer *gc, group_consumer_done_fn done, void *arg);
/* Frees everything at once, without leaving the group (a crash, as the group sees it).
 * Not from inside one of this consumer's callbacks (close from there instead). */
void group_consumer_destroy(struct group_consumer *gc);

/* Commits the current positions of every assigned partition (commitAsync). */
int group_consumer_commit(struct group_consumer *gc, group_consumer_done_fn done, void *arg);
/* Commits one explicit offset under an explicit generation: what a member that missed a
 * rebalance would send (tests of generation fencing, tools). */
int group_consumer_commit_as(struct group_consumer *gc, int32_t generation, const char *topic,
                             int32_t partition, int64_t offset, group_consumer_done_fn done,
                             void *arg);

/* True while the member holds a current assignment (Stable as it sees it). */
bool group_consumer_stable(const struct group_consumer *gc);
int32_t group_consumer_generation(const struct group_consumer *gc);
/* The current assignment (valid until the next rebalance). */
size_t group_consumer_assignment(const struct group_consumer *gc,
                                 const struct group_consumer_partition **parts);
/* The next offset to read of an assigned partition, or -1. */
int64_t group_consumer_position(const struct group_consumer *gc, const char *topic,
                                int32_t partition);

/* --- Kafka's ConsumerProtocol bytes (also used by trialctl and tests) ------------------ */

/* Subscription v0: version, [topic], user_data (null). Returns its size or -ENOSPC. */
int64_t group_consumer_encode_subscription(uint8_t *buf, size_t cap, const char *const *topics,
                                           size_t count);
/* Reads the topics of a Subscription of any version (v1+ only append fields). Returns the
 * topic count (at most `max`, names NUL-terminated) or -EPROTO. */
int group_consumer_decode_subscription(const uint8_t *data, size_t len,
                                       char (*topics)[GROUP_CONSUMER_NAME_MAX], size_t max);
/* Assignment v0: version, [topic, [partition]], user_data (null); parts grouped by topic
 * in the order given. Returns its size or -ENOSPC. */
int64_t group_consumer_encode_assignment(uint8_t *buf, size_t cap,
                                         const struct group_consumer_partition *parts,
                                         size_t count);
/* Reads an Assignment of any version. Returns the partition count (at most `max`) or
 * -EPROTO. An empty blob is an empty assignment. */
int group_consumer_decode_assignment(const uint8_t *data, size_t len,
                                     struct group_consumer_partition *parts, size_t max);

/* The assignors, as the leader runs them. Members are given sorted by member id (Kafka
 * sorts too, so every client computes the same plan); member m subscribes to topics
 * subs[m][0..sub_counts[m]); topic t of `topics` has partition_counts[t] partitions.
 * Writes each member's share to out[m] / out_counts[m] (at most max_each). */
struct group_consumer_member_plan {
    char member_id[GROUP_CONSUMER_NAME_MAX];
    char topics[GROUP_CONSUMER_TOPICS_MAX][GROUP_CONSUMER_NAME_MAX];
    size_t topic_count;
    struct group_consumer_partition parts[GROUP_CONSUMER_PARTITIONS_MAX];
    size_t part_count;
};
void group_consumer_assign(enum group_consumer_assignor assignor,
                           struct group_consumer_member_plan *members, size_t member_count,
                           const char (*topics)[GROUP_CONSUMER_NAME_MAX],
                           const int32_t *partition_counts, size_t topic_count);

#endif /* TRIAL_CLIENT_GROUP_CONSUMER_H */
