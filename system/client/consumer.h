/*
 * consumer.h — an asynchronous Kafka consumer over io, assign mode: a fixed set of
 * partitions of one topic, a fetch loop with per-partition positions, auto.offset.reset
 * (earliest or latest) through ListOffsets at start and on OFFSET_OUT_OF_RANGE, request
 * timeouts with reconnects. Each partition is fetched from its leader (cluster.h): one request
 * at a time, each to one leader with the partitions it leads, the leaders taken in turn;
 * NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH or a lost connection refresh the
 * metadata and the partition continues from the same position. Group mode (subscribe,
 * rebalance, commits) is group_consumer.h.
 *
 * Every Fetch response is handed to the caller as one poll: the records of every partition
 * in the order received, each with its partition and offset. A reset of a position (start,
 * OFFSET_OUT_OF_RANGE) bumps the assignment generation the caller sees, because a reset is
 * a new assignment as far as monotonic reads (I-GRP-4) are concerned.
 *
 * Same code in trialctl-like programs (io_posix) and simulated workloads. Memory from io;
 * bounded by CONSUMER_PARTITIONS_MAX and fetch_max_bytes.
 */
#ifndef TRIAL_CLIENT_CONSUMER_H
#define TRIAL_CLIENT_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

#define CONSUMER_PARTITIONS_MAX 1024

/* One record of a poll; pointers valid only during the callback. */
struct consumer_record {
    int32_t partition;
    int64_t offset;
    const uint8_t *key;
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
};

/* A Fetch is about to be sent (the poll's invocation). */
typedef void (*consumer_fetch_start_fn)(void *arg, uint32_t generation);
/* The Fetch ended: status 0 and records (possibly none), or status < 0 (timeout or
 * connection failure: nothing was consumed). `error` is the first partition error. */
typedef void (*consumer_poll_fn)(void *arg, int status, const struct consumer_record *records,
                                 size_t count, int16_t error, uint32_t generation);

struct consumer_config {
    const char *host; /* Bootstrap broker (when `bootstrap` is NULL or empty). */
    uint16_t port;
    const char *bootstrap; /* "host:port[,host:port...]", or NULL. */
    const char *client_id;
    const char *topic;
    const int32_t *partitions; /* Assignment (copied). */
    size_t partition_count;
    bool reset_earliest;         /* auto.offset.reset: earliest (true) or latest. */
    bool read_committed;         /* isolation.level. */
    uint32_t fetch_max_wait_ms;  /* fetch.max.wait.ms (500). */
    uint32_t fetch_max_bytes;    /* fetch.max.bytes (50 MiB) and per partition (1 MiB). */
    uint32_t request_timeout_ms; /* request.timeout.ms (30000). */
    uint32_t retry_backoff_ms;   /* retry.backoff.ms (100). */
    uint32_t metadata_refresh_ms; /* Least gap between Metadata requests (100). */
    consumer_fetch_start_fn on_fetch_start; /* May be NULL. */
    consumer_poll_fn on_poll;
    void *arg;
};

void consumer_config_defaults(struct consumer_config *config);

struct consumer;

int consumer_create(struct io *io, const struct consumer_config *config, struct consumer **out);
void consumer_destroy(struct consumer *consumer);

/* The next offset to fetch for the i-th assigned partition (-1 while unknown), and the
 * high watermark the last response reported (-1 if none yet). */
int64_t consumer_position(const struct consumer *consumer, size_t i);
int64_t consumer_high_watermark(const struct consumer *consumer, size_t i);
/* True when every assigned partition's position has reached its last reported HW. */
bool consumer_caught_up(const struct consumer *consumer);

#endif /* TRIAL_CLIENT_CONSUMER_H */
