/*
 * quorum_client.h — a broker's link to the controller quorum (KRaft's broker lifecycle
 * manager + metadata loader, in one).
 *
 * It finds the active controller among `controller.quorum.voters`, registers the broker
 * (BrokerRegistration, API 62) and keeps its session alive (BrokerHeartbeat, API 63, every
 * broker.heartbeat.interval.ms; the controller fences a broker silent for
 * broker.session.timeout.ms). It fetches the committed metadata log as an observer (Fetch
 * of __cluster_metadata-0 with the broker's id as replica_id) and replays it into a
 * metadata image; after each batch of committed records it calls on_update with the image
 * before and after, so the broker can compute leader/follower transitions. It forwards
 * AlterPartition (API 56) and the topic admin requests (CreateTopics, DeleteTopics,
 * CreatePartitions) to the active controller, retrying on NOT_CONTROLLER / disconnects
 * within their timeout.
 *
 * Callbacks never run from inside the call that queued the work. The broker may call any
 * quorum_client function from inside a callback. Memory through io; the images passed to
 * on_update are owned by the quorum client and valid only during the call.
 */
#ifndef TRIAL_CONTROLLER_QUORUM_CLIENT_H
#define TRIAL_CONTROLLER_QUORUM_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"
#include "controller/metadata.h"
#include "io/io.h"

struct quorum_client;

/* Committed metadata moved from `before` to `after` (after->offset > before->offset). */
typedef void (*quorum_update_fn)(void *arg, const struct metadata_image *before,
                                 const struct metadata_image *after);

struct quorum_client_config {
    const struct broker_config *broker; /* node.id, voters, heartbeat/session settings. */
    const char *advertised_host;        /* What clients should connect to (registration). */
    uint16_t advertised_port;
    uint8_t incarnation_id[16];         /* Fresh per start (entropy): detects restarts. */
    bool unclean_shutdown;              /* Last shutdown was not clean (KIP-966 hint). */
    quorum_update_fn on_update;
    void *arg;
};

int quorum_client_start(struct io *io, const struct quorum_client_config *config,
                        struct quorum_client **out);
/* Stops heartbeating (controlled shutdown is requested first if possible), frees. */
void quorum_client_stop(struct quorum_client *qc);

/* The committed image (never NULL; empty until the first fetch). */
const struct metadata_image *quorum_client_image(const struct quorum_client *qc);
/* This broker's epoch once registered, else -1. */
int64_t quorum_client_broker_epoch(const struct quorum_client *qc);
/* True once registered, unfenced by the controller and caught up with the log. */
bool quorum_client_ready(const struct quorum_client *qc);
/* The active controller's id as last known, or -1. */
int32_t quorum_client_controller_id(const struct quorum_client *qc);

/*
 * AlterPartition: the leader asks to change a partition's ISR. `leader_epoch` and
 * `partition_epoch` are the leader's view; the controller refuses a stale one
 * (FENCED_LEADER_EPOCH 74 / INVALID_UPDATE_VERSION 95) or an ISR member that is fenced or
 * not a replica (INELIGIBLE_REPLICA 107). `done` gets the Kafka error code (0 = applied)
 * and, on success, the new partition state as committed. At most one AlterPartition per
 * partition should be outstanding (Kafka's rule); the caller enforces it.
 */
typedef void (*quorum_alter_partition_fn)(void *arg, int16_t error_code,
                                          const struct metadata_partition *committed);
int quorum_client_alter_partition(struct quorum_client *qc, const char *topic, int32_t partition,
                                  int32_t leader_epoch, int32_t partition_epoch,
                                  const int32_t *isr, uint32_t isr_count,
                                  quorum_alter_partition_fn done, void *arg);

/*
 * Forwards a decoded admin request (struct proto_create_topics_request / _delete_topics_ /
 * _create_partitions_request, at the version the client used) to the active controller and
 * hands the decoded response body to `done` (status 0), or status < 0 (no controller within
 * the request's timeout). The response is valid only during the call. The request must
 * stay valid until `done` runs: it is encoded again for every retry. AlterConfigs (33) is
 * forwarded too (topic resources; timeout = request.timeout.ms). A version above the
 * codec's is sent at the codec's highest (the body structs are shared by all versions).
 * Images reach on_update only once this broker has caught up with its own registration
 * (Kafka's initial catch-up); quorum_client_image() shows the replay as it goes.
 */
typedef void (*quorum_forward_fn)(void *arg, int status, const void *response);
int quorum_client_forward(struct quorum_client *qc, int16_t api_key, int16_t version,
                          const void *request, quorum_forward_fn done, void *arg);

/*
 * Added (additive): controlled shutdown. Heartbeats from now on carry want_shut_down; the
 * controller moves this broker's leaderships to other ISR members (partitions with none
 * become leaderless), takes it out of ISRs, and answers should_shut_down once that is
 * committed: `done(arg, true)`. `done(arg, false)` if that does not happen within
 * controller.quorum.request.timeout.ms (or the broker is not registered). Call
 * quorum_client_stop afterwards; done never runs after the stop. Returns 0, or -EALREADY.
 */
typedef void (*quorum_shutdown_fn)(void *arg, bool granted);
int quorum_client_shutdown(struct quorum_client *qc, quorum_shutdown_fn done, void *arg);

/*
 * Added (additive): the stop-time form of the above, for a broker that stops without
 * waiting (broker_stop). Sends one heartbeat with want_shut_down at once, even with another
 * in flight, and waits for nothing: the controller starts moving this broker's leaderships
 * when the beat arrives instead of after broker.session.timeout.ms. Bounded: no timer, no
 * retry; a lost beat leaves the session timeout to do it. Returns 0 if the beat was handed to
 * the connection, -ENOTCONN when there is no registered controller connection.
 */
int quorum_client_shutdown_now(struct quorum_client *qc);

#endif /* TRIAL_CONTROLLER_QUORUM_CLIENT_H */
