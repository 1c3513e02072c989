/*
 * producer.h — an asynchronous Kafka producer over io: Kafka's default partitioner, a
 * per-partition accumulator that batches by batch.size and linger.ms, at most
 * max.in.flight.requests.per.connection Produce requests on the wire, acks, retries with
 * retry.backoff.ms, request.timeout.ms and delivery.timeout.ms, metadata refresh on
 * NOT_LEADER_OR_FOLLOWER / UNKNOWN_TOPIC_OR_PARTITION, and optional idempotence
 * (InitProducerId, sequences per partition).
 *
 * The same code runs in trialctl (io_posix) and as simulated workloads (sim). It produces
 * to one topic of a cluster found through a bootstrap list (cluster.h): each partition's
 * batches go to its leader's connection, and NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
 * FENCED/UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION or a failed connection refresh
 * the metadata and retry on the (new) leader within delivery.timeout.ms. InitProducerId
 * goes to any broker; an idempotent producer keeps its per-partition sequences across
 * leader changes (the new leader holds the replicated producer state).
 *
 * Every record handed to producer_send() gets exactly one result callback, with a status:
 *   PRODUCER_OK       acked; `offset` is its offset (acks=1/all);
 *   PRODUCER_FAILED   definitely not written (a non-retriable error, or never sent);
 *   PRODUCER_UNKNOWN  may or may not be written (timed out after being sent).
 * Results run from timers and response callbacks, never from inside producer_send().
 *
 * Ordering: a partition has at most one batch in flight, so retries never reorder records
 * of one partition (what Kafka guarantees with idempotence and up to 5 in flight; here it
 * holds for every configuration). max.in.flight bounds requests on each broker connection.
 *
 * Memory: everything from io_alloc; bounded by buffer_bytes (producer_send refuses with
 * -ENOBUFS beyond it, Kafka's buffer.memory) and PRODUCER_PARTITIONS_MAX.
 */
#ifndef TRIAL_CLIENT_PRODUCER_H
#define TRIAL_CLIENT_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

#define PRODUCER_PARTITIONS_MAX    1024
#define PRODUCER_BATCH_RECORDS_MAX 256 /* client_build_batch's bound. */
#define PRODUCER_TOPIC_MAX         256

enum producer_status { PRODUCER_OK = 0, PRODUCER_FAILED = 1, PRODUCER_UNKNOWN = 2 };

/* One record's outcome. `token` is the caller's, from producer_send(). */
typedef void (*producer_result_fn)(void *arg, uint64_t token, enum producer_status status,
                                   int32_t partition, int64_t offset, int16_t error_code);

struct producer_config {
    const char *host; /* Bootstrap broker (when `bootstrap` is NULL or empty). */
    uint16_t port;
    const char *bootstrap; /* bootstrap.servers: "host:port[,host:port...]", or NULL. */
    const char *client_id;
    const char *topic;
    int16_t acks;                 /* -1 (all) or 1. acks=0 is refused: client.c matches
                                   * responses FIFO and acks=0 gets none. */
    uint32_t batch_size;          /* batch.size bytes (16384). */
    uint32_t linger_ms;           /* linger.ms (5, Kafka 3.x+ default). */
    uint32_t max_in_flight;       /* max.in.flight.requests.per.connection (5). */
    uint32_t retries;             /* Attempts after the first (INT32_MAX in Kafka). */
    uint32_t retry_backoff_ms;    /* retry.backoff.ms (100). */
    uint32_t request_timeout_ms;  /* request.timeout.ms (30000). */
    uint32_t delivery_timeout_ms; /* delivery.timeout.ms (120000). */
    uint32_t metadata_refresh_ms; /* Backoff between metadata attempts (100). */
    uint64_t buffer_bytes;        /* buffer.memory (32 MiB). */
    bool idempotent;              /* enable.idempotence. */
    producer_result_fn on_result;
    void *arg;
};

/* Kafka's defaults for everything but host/port/topic/callback. */
void producer_config_defaults(struct producer_config *config);

struct producer;

/* Creates the producer and starts fetching metadata (and a producer id if idempotent). */
int producer_create(struct io *io, const struct producer_config *config, struct producer **out);
/* Fails every unfinished record (UNKNOWN if it was sent, else FAILED), closes, frees. */
void producer_destroy(struct producer *producer);

/*
 * Appends a record to its partition's batch. The partition is `partition` if >= 0, else
 * the default partitioner's choice (murmur2 of the key, or the sticky partition for a
 * null key); *chosen gets it. Key and value are copied. Returns 0, -EAGAIN while the
 * topic's partition count is unknown (metadata pending), -ENOBUFS past buffer_bytes,
 * -EINVAL for a bad partition or a record too large for one request.
 */
int producer_send(struct producer *producer, const uint8_t *key, int32_t key_len,
                  const uint8_t *value, int32_t value_len, int32_t partition, uint64_t token,
                  int32_t *chosen);

/* Partitions of the topic, or 0 while unknown. */
int32_t producer_partition_count(const struct producer *producer);
/* Records accepted and not yet resolved. */
uint64_t producer_outstanding(const struct producer *producer);

/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed int. */
int32_t producer_murmur2(const uint8_t *data, int32_t len);
/* Kafka's keyed partition: (murmur2(key) & 0x7fffffff) % partitions. */
int32_t producer_key_partition(const uint8_t *key, int32_t key_len, int32_t partitions);

#endif /* TRIAL_CLIENT_PRODUCER_H */
