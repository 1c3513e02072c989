/*
 * fetcher.h — a follower's replica fetcher: one per source (leader) broker, pulling every
 * partition this broker follows on that leader (Kafka's ReplicaFetcherThread, on io).
 *
 * For each partition added it first finds the divergence point: OffsetForLeaderEpoch with
 * the partition's latest local epoch and current_leader_epoch, truncating to
 * min(answer end offset, LEO) (KIP-101/279; on every epoch change, KAFKA-7164). Then it
 * sends Fetch with replica_id = this node, current_leader_epoch, fetch_offset = LEO, and
 * appends what comes back with partition_follower_append (which applies the leader's HW only
 * after truncation, KAFKA-14704). FENCED_LEADER_EPOCH (our metadata is behind) parks the
 * partition until the broker re-adds it with new metadata; NOT_LEADER_OR_FOLLOWER /
 * UNKNOWN_LEADER_EPOCH (usually the leader's metadata is behind ours, so no re-add would
 * come) and other partition errors retry that partition after replica.fetch.backoff.ms, as
 * Kafka's fetcher does; OFFSET_OUT_OF_RANGE below the leader's log start truncates fully
 * and restarts there.
 * Connection errors back off replica.fetch.backoff.ms and retry.
 *
 * The broker owns the partitions: it must call fetcher_remove() before a partition it added
 * is closed, deleted, or changes role/epoch (then fetcher_add() again). Callbacks never run
 * from inside fetcher_* calls. Memory through io.
 */
#ifndef TRIAL_PARTITION_FETCHER_H
#define TRIAL_PARTITION_FETCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"
#include "io/io.h"
#include "partition/partition.h"

struct fetcher;

struct fetcher_callbacks {
    /* Data was appended (hw_moved: the follower's HW changed). */
    void (*on_progress)(void *arg, struct partition *partition, bool hw_moved);
    /* A storage error on this partition (the broker fences it / stops): already removed. */
    void (*on_storage_error)(void *arg, struct partition *partition, int error);
    void *arg;
};

/* A fetcher from `leader_id` at host:port; `config` gives node.id and replica.fetch.*. */
int fetcher_create(struct io *io, const struct broker_config *config, int32_t leader_id,
                   const char *host, uint16_t port, const struct fetcher_callbacks *callbacks,
                   struct fetcher **out);
/* Removes every partition, closes the connection, frees. */
void fetcher_destroy(struct fetcher *fetcher);

/* Starts following `partition` (its topic name in partition->topic) in `leader_epoch`. */
int fetcher_add(struct fetcher *fetcher, struct partition *partition, int32_t leader_epoch);
void fetcher_remove(struct fetcher *fetcher, struct partition *partition);
uint32_t fetcher_partition_count(const struct fetcher *fetcher);
int32_t fetcher_leader_id(const struct fetcher *fetcher);

#endif /* TRIAL_PARTITION_FETCHER_H */
