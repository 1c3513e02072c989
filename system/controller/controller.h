/*
 * controller.h — a KRaft-style controller: one voter of the metadata quorum.
 *
 * Voters run Raft (KIP-595) over the metadata log `__cluster_metadata-0`, stored with
 * system/log like any partition (leader epoch = Raft epoch): Vote (52), BeginQuorumEpoch
 * (53), EndQuorumEpoch (54); followers pull the log with Fetch and find divergence with
 * OffsetForLeaderEpoch; the leader's high watermark (the majority's fetched offset within
 * its epoch) is the commit point. The Raft leader is the active controller: it serves
 * BrokerRegistration, BrokerHeartbeat, AlterPartition, CreateTopics, DeleteTopics and
 * CreatePartitions by appending metadata records, and answers once they commit. It fences
 * brokers whose session expires and elects partition leaders from the ISR (or, with
 * unclean.leader.election.enable, from any live replica, tracing "unclean_election").
 *
 * The controller listens on the controller listener (controller.listener.names). It only
 * talks the controller APIs plus ApiVersions, Fetch/OffsetForLeaderEpoch of the metadata
 * partition; anything else gets a closed connection.
 */
#ifndef TRIAL_CONTROLLER_CONTROLLER_H
#define TRIAL_CONTROLLER_CONTROLLER_H

#include <stdint.h>

#include "broker/config.h"
#include "io/io.h"

struct controller;

/* Opens the metadata log under log.dirs[0]/__cluster_metadata-0 (recovering it), reads the
 * quorum-state file, listens. 0 or a negative error (logged). */
int controller_start(struct io *io, const struct broker_config *config, struct controller **out);
/* The bound controller port (useful with port 0). */
uint16_t controller_port(const struct controller *ctl);
/* Closes the listener and connections, flushes and closes the log, frees. */
int controller_stop(struct controller *ctl);

#endif /* TRIAL_CONTROLLER_CONTROLLER_H */
