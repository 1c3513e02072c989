/*
 * broker.h — a single-node Kafka broker: topics and partitions on disk, the client listener,
 * and the request handlers (ApiVersions, Metadata, Produce, Fetch, ListOffsets,
 * CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs,
 * DeleteRecords).
 *
 * Everything goes through the io handle, so the same broker runs in triald (io_posix) and in
 * the simulation. broker_start() formats an empty log dir (meta.properties), recovers every
 * partition found there, and listens; broker_stop() closes connections, completes parked
 * requests, closes the logs cleanly and writes the checkpoints.
 *
 * Layout of log.dirs[0] (Kafka's): meta.properties, one `<topic>-<partition>/` directory per
 * partition, log-start-offset-checkpoint, and `.trial-topic-configs` (per-topic overrides
 * set by CreateTopics/AlterConfigs, since there is no metadata log yet).
 */
#ifndef TRIAL_BROKER_BROKER_H
#define TRIAL_BROKER_BROKER_H

#include <stdint.h>

#include "broker/config.h"
#include "io/io.h"

struct broker;

/*
 * Creates the broker, prepares the log dir and opens every partition, then listens on the
 * client listener. Returns 0 with *out set, or a negative error with a message logged
 * (bad log dir, node.id mismatch in meta.properties, listen failure, log recovery error).
 */
int broker_start(struct io *io, const struct broker_config *config, struct broker **out);

/* The port actually bound (useful with port 0). */
uint16_t broker_port(const struct broker *broker);

/* Clean shutdown: stops listening, closes connections, flushes and closes every log, writes
 * checkpoints, frees everything. Returns 0 or the first storage error. */
int broker_stop(struct broker *broker);

#endif /* TRIAL_BROKER_BROKER_H */
