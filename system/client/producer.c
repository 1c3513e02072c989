/*
 * producer.c — the asynchronous producer (see producer.h): accumulator, partitioner,
 * request pipeline, retries, timeouts, metadata and producer-id bookkeeping.
 *
 * One tick timer drives everything that waits on time (linger, backoff, request and
 * delivery timeouts, reconnects, metadata refreshes through cluster_poll); responses drive
 * the rest. Connections are torn down only from the tick (cluster_poll), never from inside
 * a client callback (client.c calls back from its own loops).
 *
 * Routing: a Produce request carries the ready batches of partitions that share one leader
 * and goes to that leader's connection; each connection has at most max_in_flight requests.
 */
#include "client/producer.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "client/client.h"
#include "client/cluster.h"
#include "log/batch.h"
#include "proto/proto.h"

#define PRODUCER_REQUEST_BATCHES_MAX 64
#define PRODUCER_IN_FLIGHT_MAX       16 /* Per connection. */
#define PRODUCER_REQUESTS_MAX        64 /* In flight over all connections. */

/* Kafka error codes the producer distinguishes. */
enum {
    ERR_CORRUPT_MESSAGE = 2,
    ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    ERR_LEADER_NOT_AVAILABLE = 5,
    ERR_NOT_LEADER_OR_FOLLOWER = 6,
    ERR_REQUEST_TIMED_OUT = 7,
    ERR_NETWORK_EXCEPTION = 13,
    ERR_NOT_ENOUGH_REPLICAS = 19,
    ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    ERR_OUT_OF_ORDER_SEQUENCE = 45,
    ERR_DUPLICATE_SEQUENCE = 46,
    ERR_KAFKA_STORAGE_ERROR = 56,
    ERR_UNKNOWN_PRODUCER_ID = 59,
    ERR_FENCED_LEADER_EPOCH = 74,
    ERR_UNKNOWN_LEADER_EPOCH = 75,
};

struct prod_record {
    uint64_t token;
    uint8_t *key; /* NULL = null key. */
    int32_t key_len;
    uint8_t *value;
    int32_t value_len;
    int64_t timestamp_ms;
};

struct prod_batch {
    struct prod_batch *next;
    int32_t partition;
    struct prod_record records[PRODUCER_BATCH_RECORDS_MAX];
    uint32_t count;
    uint64_t bytes;
    uint64_t created_ns;
    uint64_t retry_at_ns;
    uint32_t attempts;
    bool maybe_written;    /* Sent at least once with an unknown outcome. */
    int32_t base_sequence; /* -1 until first sent (idempotent). */
    int16_t last_error;
};

struct prod_partition {
    struct prod_batch *open;
    struct prod_batch *head; /* Closed batches, oldest first. */
    struct prod_batch *tail;
    bool in_flight;
    int32_t next_sequence;
};

struct prod_request {
    struct producer *producer;
    struct prod_batch *batches[PRODUCER_REQUEST_BATCHES_MAX];
    uint32_t count;
    uint64_t sent_ns;
    int32_t node_id; /* The leader it went to. */
    bool used;
};

struct producer {
    struct io *io;
    struct producer_config config;
    char host[256];
    char client_id[64];
    char topic[PRODUCER_TOPIC_MAX];
    struct cluster *cluster;

    int32_t partition_count; /* 0 = unknown. */
    struct prod_partition *partitions;

    int64_t producer_id; /* -1 = none (idempotent: not yet initialised). */
    int16_t producer_epoch;
    bool pid_in_flight;
    int32_t pid_node; /* Where the InitProducerId in flight went. */
    uint64_t pid_at_ns;

    int32_t sticky; /* Sticky partition for null keys; -1 = pick one. */
    int32_t rotate; /* First partition looked at by the next drain. */

    struct prod_request requests[PRODUCER_REQUESTS_MAX];
    uint32_t in_flight;

    uint64_t buffered_bytes;
    uint64_t outstanding;
    io_timer_id tick;
    bool destroying;
};

/* --- Partitioner ------------------------------------------------------------------------ */

int32_t producer_murmur2(const uint8_t *data, int32_t len) {
    const uint32_t m = 0x5bd1e995u;
    const int r = 24;
    uint32_t h = 0x9747b28cu ^ (uint32_t)len;
    int32_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                     (uint32_t)data[i + 3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len - i) {
    case 3:
        h ^= (uint32_t)data[i + 2] << 16; /* fall through */
    case 2:
        h ^= (uint32_t)data[i + 1] << 8; /* fall through */
    case 1:
        h ^= (uint32_t)data[i];
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return (int32_t)h;
}

int32_t producer_key_partition(const uint8_t *key, int32_t key_len, int32_t partitions) {
    ASSERT(partitions > 0 && key_len >= 0);
    return (int32_t)(((uint32_t)producer_murmur2(key, key_len) & 0x7fffffffu) %
                     (uint32_t)partitions);
}

/* --- Setup ------------------------------------------------------------------------------ */

void producer_config_defaults(struct producer_config *c) {
    memset(c, 0, sizeof(*c));
    c->host = "localhost";
    c->port = 9092;
    c->client_id = "trial-producer";
    c->acks = -1;
    c->batch_size = 16384;
    c->linger_ms = 5;
    c->max_in_flight = 5;
    c->retries = INT32_MAX;
    c->retry_backoff_ms = 100;
    c->request_timeout_ms = 30000;
    c->delivery_timeout_ms = 120000;
    c->metadata_refresh_ms = 100;
    c->buffer_bytes = 32u << 20;
}

static void tick(void *arg);

static void arm(struct producer *p) {
    if (p->tick != 0 || p->destroying) return;
    uint64_t step_ms = MAX(1u, MIN(p->config.linger_ms, 5u));
    p->tick = io_timer_start(p->io, io_now_ns(p->io) + step_ms * NS_PER_MS, tick, p);
}

int producer_create(struct io *io, const struct producer_config *config, struct producer **out) {
    if (config->topic == NULL || strlen(config->topic) >= PRODUCER_TOPIC_MAX) return -EINVAL;
    if (config->acks != -1 && config->acks != 1) return -EINVAL;
    if (config->max_in_flight < 1 || config->on_result == NULL) return -EINVAL;
    struct cluster_config cc;
    cluster_config_init(&cc, config->bootstrap, config->host, config->port, config->client_id,
                        config->retry_backoff_ms);
    if (config->metadata_refresh_ms > 0) cc.metadata_refresh_ms = config->metadata_refresh_ms;
    /* Like Java's producer: a broker with auto.create.topics.enable creates the topic. */
    cc.allow_auto_topic_creation = true;
    struct cluster *cluster = NULL;
    int rc = cluster_create(io, &cc, &cluster);
    if (rc < 0) return rc;
    rc = cluster_add_topic(cluster, config->topic);
    ASSERT(rc == 0);
    struct producer *p = io_calloc(io, 1, sizeof(*p));
    p->io = io;
    p->cluster = cluster;
    p->config = *config;
    p->config.max_in_flight = MIN(config->max_in_flight, (uint32_t)PRODUCER_IN_FLIGHT_MAX);
    snprintf(p->host, sizeof(p->host), "%s", config->host != NULL ? config->host : "");
    snprintf(p->client_id, sizeof(p->client_id), "%s", config->client_id);
    snprintf(p->topic, sizeof(p->topic), "%s", config->topic);
    p->config.host = p->host;
    p->config.bootstrap = NULL; /* Parsed by the cluster; not kept. */
    p->config.client_id = p->client_id;
    p->config.topic = p->topic;
    p->producer_id = -1;
    p->sticky = -1;
    *out = p;
    arm(p);
    return 0;
}

static void record_free(struct producer *p, struct prod_record *r) {
    if (r->key != NULL) io_free(p->io, r->key, (size_t)r->key_len);
    io_free(p->io, r->value, (size_t)MAX(r->value_len, 1));
}

/* Resolves every record of the batch and frees it. */
static void batch_finish(struct producer *p, struct prod_batch *b, enum producer_status status,
                         int64_t base_offset, int16_t error) {
    for (uint32_t i = 0; i < b->count; i++) {
        struct prod_record *r = &b->records[i];
        int64_t offset = status == PRODUCER_OK && base_offset >= 0 ? base_offset + i : -1;
        p->config.on_result(p->config.arg, r->token, status, b->partition, offset, error);
        record_free(p, r);
    }
    ASSERT(p->outstanding >= b->count && p->buffered_bytes >= b->bytes);
    p->outstanding -= b->count;
    p->buffered_bytes -= b->bytes;
    io_free(p->io, b, sizeof(*b));
}

static enum producer_status unresolved_status(const struct prod_batch *b) {
    return b->maybe_written ? PRODUCER_UNKNOWN : PRODUCER_FAILED;
}

void producer_destroy(struct producer *p) {
    p->destroying = true;
    if (p->tick != 0) io_timer_cancel(p->io, p->tick);
    p->tick = 0;
    struct cluster *cluster = p->cluster;
    p->cluster = NULL;
    cluster_destroy(cluster); /* In-flight requests come back with -ECANCELED. */
    for (int32_t i = 0; i < p->partition_count; i++) {
        struct prod_partition *pp = &p->partitions[i];
        while (pp->head != NULL) {
            struct prod_batch *b = pp->head;
            pp->head = b->next;
            batch_finish(p, b, unresolved_status(b), -1, 0);
        }
        if (pp->open != NULL) batch_finish(p, pp->open, PRODUCER_FAILED, -1, 0);
    }
    if (p->partitions != NULL) {
        io_free(p->io, p->partitions, (size_t)p->partition_count * sizeof(*p->partitions));
    }
    io_free(p->io, p, sizeof(*p));
}

int32_t producer_partition_count(const struct producer *p) { return p->partition_count; }
uint64_t producer_outstanding(const struct producer *p) { return p->outstanding; }

/* --- Accumulator ------------------------------------------------------------------------ */

static void queue_push_tail(struct prod_partition *pp, struct prod_batch *b) {
    b->next = NULL;
    if (pp->tail != NULL)
        pp->tail->next = b;
    else
        pp->head = b;
    pp->tail = b;
}

static void queue_push_head(struct prod_partition *pp, struct prod_batch *b) {
    b->next = pp->head;
    pp->head = b;
    if (pp->tail == NULL) pp->tail = b;
}

static struct prod_batch *queue_pop(struct prod_partition *pp) {
    struct prod_batch *b = pp->head;
    if (b == NULL) return NULL;
    pp->head = b->next;
    if (pp->head == NULL) pp->tail = NULL;
    b->next = NULL;
    return b;
}

static void pick_sticky(struct producer *p) {
    int32_t n = p->partition_count;
    if (n <= 1) {
        p->sticky = 0;
        return;
    }
    int32_t next = (int32_t)(io_random_u64(p->io) % (uint64_t)(n - 1));
    /* A different partition from the last one, uniformly. */
    if (p->sticky >= 0 && next >= p->sticky) next++;
    p->sticky = next < n ? next : 0;
}

static void close_open(struct producer *p, int32_t partition) {
    struct prod_partition *pp = &p->partitions[partition];
    if (pp->open == NULL) return;
    queue_push_tail(pp, pp->open);
    pp->open = NULL;
    /* Kafka's sticky partitioner moves on when the sticky partition's batch is done. */
    if (partition == p->sticky) pick_sticky(p);
}

/* Bytes a record adds to a batch (an upper bound of its varint-encoded size). */
static uint64_t record_bytes(int32_t key_len, int32_t value_len) {
    return 21u + (uint64_t)MAX(key_len, 0) + (uint64_t)MAX(value_len, 0);
}

int producer_send(struct producer *p, const uint8_t *key, int32_t key_len, const uint8_t *value,
                  int32_t value_len, int32_t partition, uint64_t token, int32_t *chosen) {
    ASSERT(!p->destroying);
    if (p->partition_count == 0) {
        arm(p);
        return -EAGAIN;
    }
    if (partition >= p->partition_count || value_len < 0) return -EINVAL;
    uint64_t bytes = record_bytes(key != NULL ? key_len : 0, value_len);
    if (bytes + BATCH_HEADER_BYTES > (64u << 20)) return -EINVAL;
    if (p->buffered_bytes + bytes > p->config.buffer_bytes) return -ENOBUFS;
    if (partition < 0) {
        if (key != NULL) {
            partition = producer_key_partition(key, key_len, p->partition_count);
        } else {
            if (p->sticky < 0) pick_sticky(p);
            partition = p->sticky;
        }
    }
    struct prod_partition *pp = &p->partitions[partition];
    if (pp->open != NULL &&
        (pp->open->count == PRODUCER_BATCH_RECORDS_MAX ||
         (pp->open->count > 0 && pp->open->bytes + bytes > p->config.batch_size))) {
        close_open(p, partition);
        if (key == NULL && partition != p->sticky) {
            /* The sticky partition moved on: this null-key record follows it. */
            partition = p->sticky;
            pp = &p->partitions[partition];
        }
    }
    if (pp->open == NULL) {
        /* Not io_calloc: the record array is ~12 KB and only records[0..count) are ever
         * read, each written whole below; zero just the fields before it and after it. */
        pp->open = io_alloc(p->io, sizeof(*pp->open));
        memset(pp->open, 0, offsetof(struct prod_batch, records));
        memset(&pp->open->count, 0,
               sizeof(*pp->open) - offsetof(struct prod_batch, count));
        pp->open->partition = partition;
        pp->open->created_ns = io_now_ns(p->io);
        pp->open->base_sequence = -1;
    }
    struct prod_batch *b = pp->open;
    struct prod_record *r = &b->records[b->count++];
    r->token = token;
    r->key = NULL;
    r->key_len = -1;
    if (key != NULL) {
        r->key = io_alloc(p->io, (size_t)MAX(key_len, 1));
        memcpy(r->key, key, (size_t)key_len);
        r->key_len = key_len;
    }
    r->value = io_alloc(p->io, (size_t)MAX(value_len, 1));
    if (value_len > 0) memcpy(r->value, value, (size_t)value_len);
    r->value_len = value_len;
    r->timestamp_ms = io_wall_ms(p->io);
    b->bytes += bytes;
    p->buffered_bytes += bytes;
    p->outstanding++;
    if (b->bytes >= p->config.batch_size || b->count == PRODUCER_BATCH_RECORDS_MAX) {
        close_open(p, partition);
    }
    if (chosen != NULL) *chosen = partition;
    arm(p);
    return 0;
}

/* --- Metadata and producer id ------------------------------------------------------------ */

/* Takes the topic's size from the cluster's metadata once it is known. The partition count
 * is fixed for the producer's life (growing it would remap keyed records). */
static void adopt_metadata(struct producer *p) {
    if (p->partition_count != 0 || p->destroying) return;
    int32_t n = cluster_partition_count(p->cluster, p->topic);
    if (n <= 0 || n > PRODUCER_PARTITIONS_MAX) return;
    p->partitions = io_calloc(p->io, (size_t)n, sizeof(*p->partitions));
    p->partition_count = n;
}

static void on_init_pid(void *arg, int status, const void *body) {
    struct producer *p = arg;
    p->pid_in_flight = false;
    p->pid_at_ns = io_now_ns(p->io) + (uint64_t)p->config.retry_backoff_ms * NS_PER_MS;
    if (p->destroying) return;
    if (status < 0) {
        cluster_node_failed(p->cluster, p->pid_node);
        return;
    }
    const struct proto_init_producer_id_response *r = body;
    if (r->error_code != 0) return;
    p->producer_id = r->producer_id;
    p->producer_epoch = r->producer_epoch;
    for (int32_t i = 0; i < p->partition_count; i++)
        p->partitions[i].next_sequence = 0;
}

/* Any broker hands out producer ids (the controller allocates their blocks). */
static void send_init_pid(struct producer *p) {
    if (p->pid_in_flight || io_now_ns(p->io) < p->pid_at_ns) return;
    int32_t node = cluster_any_node(p->cluster);
    struct client *c = node != CLUSTER_NO_LEADER ? cluster_connection(p->cluster, node) : NULL;
    if (c == NULL) return;
    struct proto_init_producer_id_request req = {.transactional_id = PROTO_STR_NULL,
                                                 .transaction_timeout_ms = 60000,
                                                 .producer_id = -1,
                                                 .producer_epoch = -1};
    if (client_send(c, PROTO_API_INIT_PRODUCER_ID, 0, &req, on_init_pid, p) == 0) {
        p->pid_in_flight = true;
        p->pid_node = node;
    } else {
        cluster_node_failed(p->cluster, node);
    }
}

/* A new producer id restarts every sequence: batches not yet acked get new ones. */
static void reset_producer_id(struct producer *p) {
    p->producer_id = -1;
    for (int32_t i = 0; i < p->partition_count; i++) {
        p->partitions[i].next_sequence = 0;
        for (struct prod_batch *b = p->partitions[i].head; b != NULL; b = b->next) {
            b->base_sequence = -1;
        }
    }
}

/* --- Produce ---------------------------------------------------------------------------- */

static bool retriable(int16_t error) {
    switch (error) {
    case ERR_CORRUPT_MESSAGE:
    case ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case ERR_LEADER_NOT_AVAILABLE:
    case ERR_NOT_LEADER_OR_FOLLOWER:
    case ERR_REQUEST_TIMED_OUT:
    case ERR_NETWORK_EXCEPTION:
    case ERR_NOT_ENOUGH_REPLICAS:
    case ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ERR_KAFKA_STORAGE_ERROR:
    case ERR_OUT_OF_ORDER_SEQUENCE:
    case ERR_UNKNOWN_PRODUCER_ID:
    case ERR_FENCED_LEADER_EPOCH:
    case ERR_UNKNOWN_LEADER_EPOCH:
        return true;
    default:
        return false;
    }
}

/* The batch goes back to the front of its partition's queue, or fails for good. */
static void batch_retry(struct producer *p, struct prod_batch *b, int16_t error) {
    struct prod_partition *pp = &p->partitions[b->partition];
    pp->in_flight = false;
    b->last_error = error;
    uint64_t now = io_now_ns(p->io);
    if (b->attempts > p->config.retries ||
        now - b->created_ns >= (uint64_t)p->config.delivery_timeout_ms * NS_PER_MS) {
        batch_finish(p, b, unresolved_status(b), -1, error);
        return;
    }
    b->retry_at_ns = now + (uint64_t)p->config.retry_backoff_ms * NS_PER_MS;
    queue_push_head(pp, b);
}

static void request_release(struct producer *p, struct prod_request *rq) {
    ASSERT(rq->used && p->in_flight > 0);
    rq->used = false;
    rq->count = 0;
    p->in_flight--;
}

static void on_produce(void *arg, int status, const void *body) {
    struct prod_request *rq = arg;
    struct producer *p = rq->producer;
    if (status < 0) {
        /* Sent, answer lost: the leader may have appended it (UNKNOWN if never resolved). */
        for (uint32_t i = 0; i < rq->count; i++) {
            rq->batches[i]->maybe_written = true;
            batch_retry(p, rq->batches[i], ERR_NETWORK_EXCEPTION);
        }
        int32_t node = rq->node_id;
        request_release(p, rq);
        if (!p->destroying) cluster_node_failed(p->cluster, node);
        return;
    }
    const struct proto_produce_response *r = body;
    for (uint32_t i = 0; i < rq->count; i++) {
        struct prod_batch *b = rq->batches[i];
        int16_t error = ERR_NETWORK_EXCEPTION;
        int64_t base = -1;
        bool found = false;
        for (int32_t t = 0; t < r->responses.count && !found; t++) {
            const struct proto_produce_response_topic *rt = &r->responses.items[t];
            for (int32_t j = 0; j < rt->partition_responses.count; j++) {
                if (rt->partition_responses.items[j].index != b->partition) continue;
                error = rt->partition_responses.items[j].error_code;
                base = rt->partition_responses.items[j].base_offset;
                found = true;
                break;
            }
        }
        if (found && error == 0) {
            p->partitions[b->partition].in_flight = false;
            batch_finish(p, b, PRODUCER_OK, base, 0);
        } else if (error == ERR_DUPLICATE_SEQUENCE) {
            /* Written before, offset not reported: acked, but where is unknown. */
            p->partitions[b->partition].in_flight = false;
            b->maybe_written = true;
            batch_finish(p, b, PRODUCER_UNKNOWN, -1, error);
        } else if (!found || retriable(error)) {
            /* These may come after the leader appended the batch (a timeout waiting for
             * the ISR, an append the ISR shrank under): its fate is unknown. */
            if (error == ERR_KAFKA_STORAGE_ERROR || error == ERR_REQUEST_TIMED_OUT ||
                error == ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND || !found) {
                b->maybe_written = true;
            }
            if (cluster_error_stale_leader(error)) cluster_refresh(p->cluster);
            if (error == ERR_OUT_OF_ORDER_SEQUENCE || error == ERR_UNKNOWN_PRODUCER_ID) {
                b->base_sequence = -1;
                reset_producer_id(p);
            }
            batch_retry(p, b, error);
        } else {
            p->partitions[b->partition].in_flight = false;
            batch_finish(p, b, b->maybe_written ? PRODUCER_UNKNOWN : PRODUCER_FAILED, -1, error);
        }
    }
    request_release(p, rq);
    arm(p);
}

static bool batch_ready(const struct producer *p, const struct prod_batch *b, uint64_t now,
                        bool closed) {
    if (closed) return now >= b->retry_at_ns;
    return b->bytes >= p->config.batch_size ||
           now - b->created_ns >= (uint64_t)p->config.linger_ms * NS_PER_MS;
}

/* Encodes the batch (with its producer id and sequence when idempotent) into buf. */
static int64_t batch_encode(struct producer *p, struct prod_batch *b, uint8_t *buf, size_t cap) {
    struct batch_record_in in[PRODUCER_BATCH_RECORDS_MAX];
    for (uint32_t i = 0; i < b->count; i++) {
        const struct prod_record *r = &b->records[i];
        in[i] = (struct batch_record_in){.offset_delta = (int64_t)i,
                                         .timestamp = r->timestamp_ms,
                                         .key = r->key,
                                         .key_len = r->key != NULL ? r->key_len : -1,
                                         .value = r->value,
                                         .value_len = r->value_len};
    }
    struct batch_build_params params = {.base_offset = 0,
                                        .partition_leader_epoch = -1,
                                        .attributes = 0,
                                        .producer_id = -1,
                                        .producer_epoch = -1,
                                        .base_sequence = -1};
    if (p->config.idempotent) {
        struct prod_partition *pp = &p->partitions[b->partition];
        if (b->base_sequence < 0) {
            b->base_sequence = pp->next_sequence;
            pp->next_sequence += (int32_t)b->count;
        }
        params.producer_id = p->producer_id;
        params.producer_epoch = p->producer_epoch;
        params.base_sequence = b->base_sequence;
    }
    return batch_build(buf, cap, &params, in, b->count);
}

/* Requests in flight on the connection to `node`. */
static uint32_t node_in_flight(const struct producer *p, int32_t node) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < PRODUCER_REQUESTS_MAX; i++)
        n += p->requests[i].used && p->requests[i].node_id == node;
    return n;
}

/* Sends one Produce request to one leader with every ready batch (one per partition) of the
 * partitions it leads, if its connection allows another request. */
static bool send_one_request(struct producer *p, uint64_t now) {
    if (p->in_flight >= PRODUCER_REQUESTS_MAX) return false;
    struct prod_request *rq = NULL;
    for (uint32_t i = 0; i < PRODUCER_REQUESTS_MAX && rq == NULL; i++) {
        if (!p->requests[i].used) rq = &p->requests[i];
    }
    ASSERT(rq != NULL);
    rq->count = 0;
    int32_t target = CLUSTER_NO_LEADER;
    struct client *c = NULL;
    int32_t n = p->partition_count;
    for (int32_t k = 0; k < n && rq->count < PRODUCER_REQUEST_BATCHES_MAX; k++) {
        int32_t i = (p->rotate + k) % n;
        struct prod_partition *pp = &p->partitions[i];
        if (pp->in_flight) continue;
        bool ready = pp->head != NULL ? batch_ready(p, pp->head, now, true)
                                      : pp->open != NULL && batch_ready(p, pp->open, now, false);
        if (!ready) continue;
        int32_t leader = cluster_leader(p->cluster, p->topic, i, NULL);
        if (leader == CLUSTER_NO_LEADER) {
            cluster_refresh(p->cluster); /* LEADER_NOT_AVAILABLE / -1: ask again later. */
            continue;
        }
        if (target == CLUSTER_NO_LEADER) {
            if (node_in_flight(p, leader) >= p->config.max_in_flight) continue;
            c = cluster_connection(p->cluster, leader);
            if (c == NULL) continue; /* Backing off after a failure. */
            target = leader;
        } else if (leader != target) {
            continue;
        }
        if (pp->head == NULL) close_open(p, i);
        struct prod_batch *b = queue_pop(pp);
        ASSERT(b != NULL);
        pp->in_flight = true;
        rq->batches[rq->count++] = b;
    }
    if (rq->count == 0) return false;
    ASSERT(c != NULL && target >= 0);
    p->rotate = n > 0 ? (p->rotate + 1) % n : 0;

    struct proto_produce_request_partition parts[PRODUCER_REQUEST_BATCHES_MAX];
    uint8_t *bufs[PRODUCER_REQUEST_BATCHES_MAX];
    size_t caps[PRODUCER_REQUEST_BATCHES_MAX];
    int rc = 0;
    for (uint32_t i = 0; i < rq->count; i++) {
        struct prod_batch *b = rq->batches[i];
        caps[i] = (size_t)b->bytes + BATCH_HEADER_BYTES + 64;
        bufs[i] = io_alloc(p->io, caps[i]);
        int64_t size = batch_encode(p, b, bufs[i], caps[i]);
        ASSERT(size > 0);
        parts[i] = (struct proto_produce_request_partition){
            .index = b->partition, .records = {.data = bufs[i], .len = (int32_t)size}};
        b->attempts++;
    }
    struct proto_produce_request_topic topic = {.name = proto_string_from(p->topic)};
    topic.partition_data.items = parts;
    topic.partition_data.count = (int32_t)rq->count;
    struct proto_produce_request req = {.transactional_id = PROTO_STR_NULL,
                                        .acks = p->config.acks,
                                        .timeout_ms = (int32_t)p->config.request_timeout_ms};
    req.topic_data.items = &topic;
    req.topic_data.count = 1;
    rq->producer = p;
    rq->sent_ns = now;
    rq->node_id = target;
    rq->used = true;
    p->in_flight++;
    rc = client_send(c, PROTO_API_PRODUCE, 3, &req, on_produce, rq);
    for (uint32_t i = 0; i < rq->count; i++)
        io_free(p->io, bufs[i], caps[i]);
    if (rc < 0) {
        /* Refused before anything was queued: not sent, so not maybe-written. */
        for (uint32_t i = 0; i < rq->count; i++)
            batch_retry(p, rq->batches[i], 0);
        request_release(p, rq);
        cluster_node_failed(p->cluster, target);
        return false;
    }
    return true;
}

/* Fails queued batches whose delivery timeout passed. */
static void expire(struct producer *p, uint64_t now) {
    uint64_t limit = (uint64_t)p->config.delivery_timeout_ms * NS_PER_MS;
    for (int32_t i = 0; i < p->partition_count; i++) {
        struct prod_partition *pp = &p->partitions[i];
        while (pp->head != NULL && now - pp->head->created_ns >= limit) {
            struct prod_batch *b = queue_pop(pp);
            batch_finish(p, b, unresolved_status(b), -1, ERR_REQUEST_TIMED_OUT);
        }
        if (pp->head == NULL && pp->open != NULL && now - pp->open->created_ns >= limit) {
            struct prod_batch *b = pp->open;
            pp->open = NULL;
            batch_finish(p, b, PRODUCER_FAILED, -1, ERR_REQUEST_TIMED_OUT);
        }
    }
}

static bool has_work(const struct producer *p) {
    return p->outstanding > 0 || p->partition_count == 0 || p->in_flight > 0 ||
           (p->config.idempotent && p->producer_id < 0);
}

static void tick(void *arg) {
    struct producer *p = arg;
    p->tick = 0;
    uint64_t now = io_now_ns(p->io);
    /* A request older than request.timeout.ms: its connection is presumed dead. */
    for (uint32_t i = 0; i < PRODUCER_REQUESTS_MAX; i++) {
        const struct prod_request *rq = &p->requests[i];
        if (rq->used && now - rq->sent_ns >= (uint64_t)p->config.request_timeout_ms * NS_PER_MS) {
            cluster_node_failed(p->cluster, rq->node_id);
        }
    }
    if (p->partition_count == 0) cluster_refresh(p->cluster);
    /* Closes failed connections (their requests come back -ECANCELED and are retried) and
     * sends Metadata when a refresh is wanted. */
    cluster_poll(p->cluster);
    adopt_metadata(p);
    expire(p, now);
    if (p->partition_count > 0 && p->config.idempotent && p->producer_id < 0) send_init_pid(p);
    if (p->partition_count > 0 && (!p->config.idempotent || p->producer_id >= 0)) {
        /* Bounded: every request sent takes at least one batch off a queue. */
        while (send_one_request(p, now)) {
        }
    }
    if (has_work(p)) arm(p);
}
