/*
 * client.h — Trial's Kafka client: one connection to one broker, requests in, decoded
 * responses out, over the io seam (so trialctl runs it on io_posix and simulated workloads
 * on the sim).
 *
 * client_send() encodes a request (any API the codec knows, at a version the caller picks),
 * queues it, and calls `done` once with the decoded response body — or with a negative
 * status if the connection fails or the response cannot be decoded. Responses match
 * requests FIFO (the broker answers in order), checked by correlation id. `done` never runs
 * from inside client_send(). The body passed to `done` lives in an arena that is reset after
 * the call: copy what you keep.
 *
 * Helpers build record batches for Produce and walk the records of a Fetch response.
 */
#ifndef TRIAL_CLIENT_CLIENT_H
#define TRIAL_CLIENT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

#define CLIENT_PENDING_MAX 1024
#define CLIENT_RESPONSE_BYTES_MAX (256u << 20)

struct client;

/* status 0 and the decoded body, or status < 0 and NULL. */
typedef void (*client_done_fn)(void *arg, int status, const void *body);

/* Creates a client for host:port; connects on the first request. */
struct client *client_create(struct io *io, const char *host, uint16_t port,
                             const char *client_id);
/* Closes the connection; pending requests complete with -ECANCELED. */
void client_destroy(struct client *client);

/* Queues a request. Returns 0 (done will run once) or a negative error (it will not). */
int client_send(struct client *client, int16_t api_key, int16_t version, const void *body,
                client_done_fn done, void *arg);

/* Requests sent and not yet answered. */
uint32_t client_pending(const struct client *client);

/* A record to produce. */
struct client_record {
    const uint8_t *key; /* NULL = null key. */
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
    int64_t timestamp_ms;
};

/* Builds one uncompressed batch v2 of `count` records into buf. Returns its size or <0. */
int64_t client_build_batch(uint8_t *buf, size_t cap, const struct client_record *records,
                           size_t count);

/* Calls `visit` for each record (absolute offset) of a Fetch `records` blob, skipping
 * control batches and a partial batch at the end. Returns the next offset to fetch (the
 * last seen + 1), or `fetch_offset` if there was nothing whole. */
typedef bool (*client_record_visit_fn)(void *arg, int64_t offset, int64_t timestamp_ms,
                                       const uint8_t *key, int32_t key_len,
                                       const uint8_t *value, int32_t value_len);
int64_t client_walk_records(const uint8_t *records, size_t len, int64_t fetch_offset,
                            client_record_visit_fn visit, void *arg);

#endif /* TRIAL_CLIENT_CLIENT_H */
