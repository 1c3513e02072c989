/*
 * broker.h — a Kafka broker: partitions on disk, the client listener, and the request
 * handlers (ApiVersions, Metadata, Produce, Fetch, ListOffsets, OffsetForLeaderEpoch,
 * CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs,
 * DeleteRecords, InitProducerId, the group APIs).
 *
 * Everything goes through the io handle, so the same broker runs in triald (io_posix) and in
 * the simulation. One code path (docs/REPLICATION.md), for one broker or many. With the controller role broker_start()
 * also starts this node's controller (controller.h); with no controller.quorum.voters the
 * node is a one-voter quorum on an ephemeral port. A quorum client (quorum_client.h)
 * registers the broker and replays the committed metadata log; topics, configs and every
 * partition's role come from that image: this node opens (or creates) the directories of
 * the partitions it replicates, leads or follows them (one replica fetcher per leader), and
 * deletes the replicas the image takes away (only once caught up). Accepted connections are
 * served once the broker is registered, caught up and unfenced (Kafka's start-up rule).
 * Produce, Fetch, ListOffsets, OffsetForLeaderEpoch and DeleteRecords are served by the
 * leader only (NOT_LEADER_OR_FOLLOWER elsewhere; current_leader_epoch fenced with
 * FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH); acks=all waits for the ISR (or answers
 * NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas); followers' Fetches move
 * the HW and the leader proposes ISR changes to the controller (AlterPartition). Topic admin
 * requests are forwarded to the active controller and answered once this broker's image
 * shows the change. The group coordinator serves a group on the leader of its
 * __consumer_offsets partition (loaded on becoming leader, dropped on losing it).
 *
 * Layout of log.dirs[0] (Kafka's): meta.properties, one `<topic>-<partition>/` directory per
 * partition, log-start-offset-checkpoint, replication-offset-checkpoint (high watermarks,
 * every replica.high.watermark.checkpoint.interval.ms and at broker_stop), and on a
 * controller node the controller's `__cluster_metadata-0/` (never treated as a topic).
 */
#ifndef TRIAL_BROKER_BROKER_H
#define TRIAL_BROKER_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"
#include "io/io.h"

struct broker;

/*
 * Creates the broker, prepares the log dir and opens every partition found there (roles
 * come later, from the metadata image), listens on the client listener, and starts the
 * controller and quorum client (multi-broker build). A node with process.roles=controller
 * only runs its controller. Returns 0 with *out set, or a negative error with a message
 * logged (bad log dir, node.id mismatch in meta.properties, listen failure, log recovery
 * error, controller start failure).
 */
int broker_start(struct io *io, const struct broker_config *config, struct broker **out);

/* The port actually bound (useful with port 0). */
uint16_t broker_port(const struct broker *broker);
/* The port this node's controller listens on (useful with port 0), or 0 without one. */
uint16_t broker_controller_port(const struct broker *broker);

/*
 * Controlled shutdown (KIP-631's): asks the active controller to move
 * this broker's leaderships and ISR places to others, then calls done(arg, granted) —
 * granted false when that did not happen in time (or there is no quorum client). Call
 * broker_stop() afterwards; done never runs after broker_stop() and never inside this call.
 * Returns 0, or -EALREADY when one is already under way.
 */
typedef void (*broker_shutdown_fn)(void *arg, bool granted);
int broker_shutdown(struct broker *broker, broker_shutdown_fn done, void *arg);

/* Clean shutdown. Unless a controlled shutdown was granted, first sends the controller one
 * want_shut_down heartbeat that nothing waits for (so its leaderships move before the
 * session timeout). Then stops listening, closes connections, stops fetchers, the
 * controller and the quorum client, completes parked requests, flushes and closes every
 * log, writes the log-start and HW checkpoints, frees everything. Returns 0 or the first
 * storage error. */
int broker_stop(struct broker *broker);

#endif /* TRIAL_BROKER_BROKER_H */
