/*
 * cluster.h — what a client knows about the cluster, and its connections to it: the
 * bootstrap list, Metadata fetched from any reachable broker (rotating on failure), the
 * broker id -> endpoint map, each partition's leader and leader epoch, one client.c
 * connection per broker created on demand, and a refresh trigger with a backoff.
 *
 * The producer, the assign-mode consumer and the group consumer share it, so each of them
 * routes a partition's requests to its leader the way Kafka's clients do (Kafka's
 * Metadata + NetworkClient, much reduced).
 *
 * Driving: the owner calls cluster_poll() from its own timer, never from inside a client
 * callback. cluster_poll() closes connections marked failed (their pending requests come
 * back to their owners' callbacks with -ECANCELED, from inside cluster_poll) and sends
 * Metadata when a refresh is wanted and its backoff has passed. Nothing else in this module
 * calls back: the owner reads the state (leaders, partition counts) when it needs it.
 *
 * Node ids: brokers have their own ids (>= 0); the bootstrap endpoints, until Metadata names
 * real brokers, are the pseudo nodes -2, -3, ... (-1 stays "no leader", unlike Kafka's -1,
 * -2, ...). Both kinds can carry any request that is not partition-routed (Metadata,
 * InitProducerId, FindCoordinator).
 *
 * Leader epochs (KIP-320): Metadata is asked at v7, whose partitions carry the leader epoch;
 * it is sent as current_leader_epoch in Fetch and ListOffsets so a stale leader is fenced.
 * A broker answering an older version leaves it -1 ("unknown": the broker skips the check).
 *
 * Memory from io; bounded by CLUSTER_BOOTSTRAP_MAX, CLUSTER_BROKERS_MAX, CLUSTER_TOPICS_MAX
 * and CLUSTER_PARTITIONS_MAX. No global state.
 */
#ifndef TRIAL_CLIENT_CLUSTER_H
#define TRIAL_CLIENT_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

#define CLUSTER_BOOTSTRAP_MAX  16
#define CLUSTER_BROKERS_MAX    64
#define CLUSTER_TOPICS_MAX     8
#define CLUSTER_PARTITIONS_MAX 1024
#define CLUSTER_HOST_MAX       256
#define CLUSTER_TOPIC_MAX      256
#define CLUSTER_NO_LEADER      (-1)

struct client;
struct cluster;

/* One "host:port" of a bootstrap list. */
struct cluster_endpoint {
    char host[CLUSTER_HOST_MAX];
    uint16_t port;
};

struct cluster_config {
    const char *bootstrap;        /* "host:port[,host:port...]"; NULL or "" = host:port. */
    const char *host;             /* The single bootstrap broker of older configs. */
    uint16_t port;
    const char *client_id;
    uint32_t metadata_refresh_ms; /* Least gap between two Metadata requests (100). */
    uint32_t retry_backoff_ms;    /* A failed connection is not retried before (100). */
    uint32_t metadata_max_age_ms; /* metadata.max.age.ms: refresh anyway after (300000). */
    bool allow_auto_topic_creation; /* Metadata asks the broker to create missing topics. */
};

void cluster_config_defaults(struct cluster_config *config);
/* The defaults plus what every client config carries (bootstrap list or host:port, client id,
 * retry.backoff.ms; 0 keeps the default backoff). */
void cluster_config_init(struct cluster_config *config, const char *bootstrap, const char *host,
                         uint16_t port, const char *client_id, uint32_t retry_backoff_ms);

/* Parses "host:port,host:port" (spaces around entries allowed; a missing port is 9092).
 * Returns the count (>= 1) or -EINVAL (empty, bad port, host too long) / -E2BIG (> max). */
int cluster_parse_bootstrap(const char *list, struct cluster_endpoint *out, size_t max);

/* Copies the config; -EINVAL for a bad bootstrap list. Sends nothing until cluster_poll(). */
int cluster_create(struct io *io, const struct cluster_config *config, struct cluster **out);
/* Closes every connection (their pending requests complete with -ECANCELED), frees. */
void cluster_destroy(struct cluster *cluster);

/* Adds a topic to the Metadata requests (idempotent); wants a refresh. 0, -ENOSPC, -EINVAL. */
int cluster_add_topic(struct cluster *cluster, const char *topic);
/* Wants a refresh: sent by the next cluster_poll() once metadata_refresh_ms has passed
 * since the last attempt. */
void cluster_refresh(struct cluster *cluster);
/* Reaps failed connections and sends Metadata when wanted (see the header comment). */
void cluster_poll(struct cluster *cluster);

/* Metadata responses applied so far (0 = nothing known yet); bumps on each. */
uint32_t cluster_metadata_version(const struct cluster *cluster);
/* Partitions of the topic in the last Metadata that described it, or 0. */
int32_t cluster_partition_count(const struct cluster *cluster, const char *topic);
/* The partition's leader id, or CLUSTER_NO_LEADER (unknown topic/partition, leaderless,
 * or a leader whose endpoint the Metadata did not list). *leader_epoch (may be NULL) gets
 * its epoch or -1. */
int32_t cluster_leader(const struct cluster *cluster, const char *topic, int32_t partition,
                       int32_t *leader_epoch);
/* The broker's endpoint, if the last Metadata listed it. */
bool cluster_broker_endpoint(const struct cluster *cluster, int32_t node_id, const char **host,
                             uint16_t *port);

/* The broker ids the last Metadata listed, ascending (at most max). Returns the count. */
size_t cluster_brokers(const struct cluster *cluster, int32_t *ids, size_t max);

/* The connection to a node (a broker id or a bootstrap pseudo id), created on demand;
 * NULL while the node is unknown or its connection failed less than retry_backoff_ms ago. */
struct client *cluster_connection(struct cluster *cluster, int32_t node_id);
/* A node to send a request that any broker answers (the current Metadata pick), or
 * CLUSTER_NO_LEADER when every known node is backing off. */
int32_t cluster_any_node(struct cluster *cluster);
/* The node's connection failed (or a request on it timed out): it is closed by the next
 * cluster_poll(), reconnected on demand after retry_backoff_ms, and a refresh is wanted
 * (leadership may have moved). Safe from inside a client callback. */
void cluster_node_failed(struct cluster *cluster, int32_t node_id);

/* --- Shared by the clients that route by leader ----------------------------------------- */

/* One partition a client wants to send a leader-routed request for. */
struct cluster_route {
    const char *topic;
    int32_t partition;
    bool wanted; /* In: take part. Out (cluster_pick_leader): chosen for this request. */
};

/* Picks one leader and the partitions it leads: starting at routes[start % count], the first
 * wanted route whose leader is known and connectable sets the leader; every wanted route
 * with that leader stays wanted, the others are cleared. A wanted route without a leader
 * wants a metadata refresh. Returns the leader, or CLUSTER_NO_LEADER (nothing cleared). */
int32_t cluster_pick_leader(struct cluster *cluster, struct cluster_route *routes, size_t count,
                            size_t start);

/* Kafka errors that say the client's idea of the partition's leader is stale (3, 5, 6, 74,
 * 75): refresh the metadata and retry where it then points. */
bool cluster_error_stale_leader(int16_t error);

#endif /* TRIAL_CLIENT_CLUSTER_H */
