/*
 * broker.c — the broker: storage layout, topics, roles from the metadata image, and the
 * request handlers (see broker.h; docs/REPLICATION.md for the multi-broker design).
 *
 * Each request is decoded into its own arena; most are answered before on_request returns.
 * A Fetch that cannot be satisfied yet (fewer than min_bytes available) parks in the fetch
 * purgatory, watching its partitions; a Produce wakes the watchers of what it appended.
 * A parked Fetch remembers topic names, not pointers, so a topic deleted meanwhile reads as
 * UNKNOWN_TOPIC_OR_PARTITION instead of freed memory.
 *
 * Fetch responses are encoded by hand (not through the generic codec) so the record bytes
 * can be spliced in from the segment files with io_stream_sendfile() instead of being
 * copied: the frame holds everything but the records, plus splice points where the file
 * ranges go. Where the bytes do not allow it (none today: batches are stored exactly as
 * sent, so no down-conversion is ever needed) a copy would be required.
 *
 * Topics are kept in an array sorted by name, so every listing (Metadata, startup) is in a
 * deterministic order. Topic ids (the purgatory keys' high bits) come from a counter.
 */
#include "broker/broker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "broker/connection.h"
#include "broker/purgatory.h"
#include "coordinator/group_api.h"
#include "coordinator/group_coordinator.h"
#include "log/checkpoint.h"
#include "log/log.h"
#include "partition/partition.h"
#include "proto/proto.h"
#include "controller/controller.h"
#include "controller/metadata.h"
#include "controller/quorum_client.h"
#include "partition/fetcher.h"

#define BROKER_TOPICS_MAX 100000
#define BROKER_PARTITIONS_MAX 10000 /* Per topic. */
#define BROKER_TOPIC_CONFIGS_MAX 16
#define BROKER_CONFIG_VALUE_MAX 128
#define BROKER_PATH_MAX 1024
#define BROKER_RESPONSE_BYTES_MAX (256u << 20)
#define BROKER_ARENA_BYTES_MIN (1u << 20)
#define BROKER_HOUSEKEEPING_MS 1000
#define BROKER_OUTPUT_BYTES_MAX (4u << 20)
#define BROKER_LOG_START_FILE "log-start-offset-checkpoint"
#define BROKER_HW_FILE "replication-offset-checkpoint" /* Kafka's HW checkpoint. */
#define BROKER_PARTITION_METADATA_FILE "partition.metadata" /* Kafka's: the topic id. */
#define BROKER_OFFSETS_TOPIC "__consumer_offsets"
#define BROKER_METADATA_TOPIC "__cluster_metadata" /* The controller's (raft.h RAFT_TOPIC). */
#define BROKER_GROUP_RECORDS_MAX 4096 /* Records in one coordinator append. */
#define BROKER_FETCHERS_MAX 1024      /* Source brokers followed at once. */
#define METADATA_HOST_MAX_BROKER 256  /* = METADATA_HOST_MAX (metadata.h, multi-broker build). */
#define BROKER_ADMIN_WAIT_TOPICS_MAX 1024 /* Topics one forwarded admin request waits for. */
#define BROKER_ALTERS_MAX 100000      /* Outstanding AlterPartition requests. */
#define BROKER_HELD_STREAMS_MAX 4096  /* Connections accepted before the broker is ready. */
#define BROKER_READY_POLL_MS 5
#define BROKER_ALTER_CONFIGS_WAIT_MS 2000 /* Bound on waiting for altered configs to show. */

/* Kafka error codes used here. */
enum {
    KERR_NONE = 0,
    KERR_UNKNOWN = -1,
    KERR_OFFSET_OUT_OF_RANGE = 1,
    KERR_CORRUPT_MESSAGE = 2,
    KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    KERR_LEADER_NOT_AVAILABLE = 5,
    KERR_NOT_LEADER_OR_FOLLOWER = 6,
    KERR_REQUEST_TIMED_OUT = 7,
    KERR_MESSAGE_TOO_LARGE = 10,
    KERR_COORDINATOR_NOT_AVAILABLE = 15,
    KERR_INVALID_TOPIC = 17,
    KERR_NOT_ENOUGH_REPLICAS = 19,
    KERR_INVALID_REQUIRED_ACKS = 21,
    KERR_INVALID_TXN_STATE = 48,
    KERR_UNSUPPORTED_SASL_MECHANISM = 33,
    KERR_FENCED_LEADER_EPOCH = 74,
    KERR_UNKNOWN_LEADER_EPOCH = 75,
    KERR_TOPIC_ALREADY_EXISTS = 36,
    KERR_INVALID_PARTITIONS = 37,
    KERR_INVALID_REPLICATION_FACTOR = 38,
    KERR_INVALID_REQUEST = 42,
    KERR_INVALID_CONFIG = 40,
    KERR_KAFKA_STORAGE_ERROR = 56,
    KERR_POLICY_VIOLATION = 44,
};

struct topic_config {
    char name[64];
    char value[BROKER_CONFIG_VALUE_MAX];
};

struct broker_topic {
    char name[LOG_TOPIC_NAME_MAX + 1];
    uint32_t id;
    struct partition **partitions;
    int32_t partition_count;
    struct topic_config configs[BROKER_TOPIC_CONFIGS_MAX]; /* Overrides, in set order. */
    uint32_t config_count;
    struct log_config log_config; /* Broker defaults + overrides. */
    int32_t wanted_partitions;    /* Startup only: highest partition dir found + 1. */
    int32_t min_insync_replicas;  /* min.insync.replicas (broker default or override). */
    bool log_append_time;         /* message.timestamp.type=LogAppendTime. */
    /* Multi-broker mode: partitions this node does not hold are NULL in `partitions`.
     * fetch_leader[p] is the leader whose fetcher holds partition p (-1: none). */
    int32_t *fetch_leader;
    uint8_t topic_id[16];         /* From the metadata image (zero until seen there). */
    char disk_topic_id[24];       /* Its replicas' partition.metadata at start ("": none). */
};

/* A fetcher per source broker (multi-broker mode), sorted by leader id. */
struct broker_fetcher {
    int32_t leader_id;
    struct fetcher *fetcher;
    char host[METADATA_HOST_MAX_BROKER]; /* The endpoint it fetches from. */
    uint16_t port;
};

/* One outstanding AlterPartition (at most one per partition, Kafka's rule). */
struct broker_alter {
    struct broker_alter *next;
    struct broker *broker;
    char topic[LOG_TOPIC_NAME_MAX + 1];
    int32_t index;
};

/* A coordinator append whose completion runs from a timer (never before append returns). */
struct broker_append_done {
    struct broker_append_done *next;
    group_append_cb done;
    void *arg;
    int status;
};

struct broker_auto_create;

struct broker_client {
    struct broker_client *prev;
    struct broker_client *next;
    struct broker_conn *conn;
};

struct broker {
    struct io *io;
    struct broker_config config;
    struct broker_meta meta;
    char dir[BROKER_PATH_MAX];
    struct io_listener *listener;
    uint16_t port;
    char advertised_host[BROKER_CONFIG_HOST_MAX];
    uint16_t advertised_port;
    struct broker_topic **topics; /* Sorted by name. */
    uint32_t topic_count;
    uint32_t topic_cap;
    uint32_t next_topic_id;
    struct purgatory *fetches;
    struct broker_client *clients;
    io_timer_id housekeeping;
    int64_t last_retention_ms;
    int64_t last_hw_checkpoint_ms;
    int storage_error; /* First storage error (logged once). */
    struct group_coordinator *groups; /* Created with __consumer_offsets, on first use. */
    struct broker_append_done *appends_head; /* FIFO of completions due. */
    struct broker_append_done *appends_tail;
    io_timer_id appends_timer;
    /* Replication (docs/REPLICATION.md): quorum client, controller, fetchers. */
    struct broker_config quorum_config;/* What the quorum client gets (voters filled in). */
    struct controller *controller;
    struct quorum_client *qc;
    struct purgatory *produces;        /* acks=all produces waiting for the HW. */
    struct broker_fetcher *fetchers;   /* Sorted by leader id. */
    uint32_t fetcher_count;
    struct broker_request *forwards;   /* Admin requests at the controller. */
    struct broker_request *admin_waits;/* Answered by the controller; waiting for the image. */
    struct broker_alter *alters;       /* Outstanding AlterPartition requests. */
    uint32_t alter_count;
    bool removals_pending;             /* Image dropped replicas before it was caught up. */
    bool offsets_create_sent;          /* __consumer_offsets creation forwarded. */
    struct broker_auto_create *auto_creates; /* Fire-and-forget CreateTopics in flight. */
    /* Until registered, unfenced and caught up (Kafka's BrokerServer waits the same way
     * before it processes requests), accepted streams wait here, unread. */
    struct io_stream **held_streams;
    uint32_t held_count;
    io_timer_id ready_timer;
    bool caught_up_once;               /* Ready once: images now give roles. */
    bool reconcile_again;              /* A replica failed to open or take its role. */
    broker_shutdown_fn shutdown_done;  /* Controlled shutdown under way (broker_shutdown). */
    bool shutdown_granted;             /* The controller moved our leaderships already. */
    void *shutdown_arg;
    io_timer_id shutdown_timer;        /* Answers a shutdown that needs no controller. */
};

static void auto_create_topic(struct broker *broker, const char *name, int32_t partitions,
                              int16_t replication, bool compact);

struct broker_request {
    struct broker *broker;
    struct broker_conn *conn;
    uint32_t slot;
    struct proto_request_header header;
    void *body;
    struct proto_arena arena;
    struct purgatory_op op; /* Fetch long-poll. */
    uint64_t *keys;
    uint32_t key_count;
    /* Produce acks=all waiting for the HW: the response, and per partition (in request
     * order) the last offset it waits for (-1: not waiting). */
    struct proto_produce_response *produce_resp;
    int64_t *produce_wait;
    uint32_t produce_wait_count;
    /* A forwarded admin request: list link, the controller's encoded answer, and the
     * topics whose image change it waits for (create: present with `counts` partitions;
     * delete: absent). */
    struct broker_request *wait_next;
    uint8_t *answer;
    size_t answer_len;
    char **wait_topics;
    int32_t *wait_counts;
    char **wait_configs;   /* AlterConfigs: "name=value\n" lines the image must show. */
    uint32_t wait_count;
    bool wait_absent;
    int64_t deadline_ms;
};

/* --- Helpers ------------------------------------------------------------------------- */

static int64_t broker_now_ms(struct broker *broker) { return io_wall_ms(broker->io); }

static bool topic_name_valid(const char *name, size_t len) {
    if (len == 0 || len > LOG_TOPIC_NAME_MAX) return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

static int topic_cmp(const char *a, const char *b) { return strcmp(a, b); }

/* Index of the first topic >= name. */
static uint32_t topic_lower_bound(const struct broker *broker, const char *name) {
    uint32_t lo = 0, hi = broker->topic_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (topic_cmp(broker->topics[mid]->name, name) < 0) lo = mid + 1; else hi = mid;
    }
    return lo;
}

static struct broker_topic *topic_find(const struct broker *broker, const char *name) {
    if (name == NULL) return NULL;
    uint32_t i = topic_lower_bound(broker, name);
    if (i < broker->topic_count && strcmp(broker->topics[i]->name, name) == 0) {
        return broker->topics[i];
    }
    return NULL;
}

static struct partition *partition_find(const struct broker *broker, const char *topic,
                                        int32_t index) {
    struct broker_topic *t = topic_find(broker, topic);
    if (t == NULL || index < 0 || index >= t->partition_count) return NULL;
    return t->partitions[index];
}

static void note_storage_error(struct broker *broker, const char *what, int rc) {
    io_log(broker->io, IO_LOG_ERROR, "storage error in %s: %d", what, rc);
    if (broker->storage_error == 0) broker->storage_error = rc;
}

static int path_join(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

static int partition_dir(const struct broker *broker, const char *topic, int32_t index,
                         char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s-%d", broker->dir, topic, index);
    return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

/*
 * partition.metadata (Kafka's, KIP-516): the id of the topic a replica directory belongs to,
 * so a topic deleted and recreated under the same name while this node was down is told
 * apart from the old one's leftover directory.
 */
static int partition_metadata_path(const struct broker *broker, const char *topic, int32_t index,
                                   char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s-%d/%s", broker->dir, topic, index,
                     BROKER_PARTITION_METADATA_FILE);
    return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

/* The stored id ("" when the file is missing or unreadable). */
static void partition_metadata_read(struct broker *broker, const char *topic, int32_t index,
                                    char *out, size_t cap) {
    ASSERT(cap >= 23);
    out[0] = '\0';
    char path[BROKER_PATH_MAX];
    struct io_file *f = NULL;
    if (partition_metadata_path(broker, topic, index, path, sizeof(path)) < 0) return;
    if (io_file_open(broker->io, path, IO_OPEN_READ, &f) < 0) return;
    char text[128];
    int64_t n = io_file_pread(broker->io, f, text, sizeof(text) - 1, 0);
    io_file_close(broker->io, f);
    if (n <= 0) return;
    text[n] = '\0';
    const char *id = strstr(text, "topic_id: ");
    if (id == NULL) return;
    id += strlen("topic_id: ");
    size_t len = strcspn(id, "\n");
    if (len == 0 || len >= cap) return;
    memcpy(out, id, len);
    out[len] = '\0';
}

/* --- Topic configuration ------------------------------------------------------------- */

/* Topic-level configs we understand, with how they map onto struct log_config. */
static const char *const topic_config_names[] = {
    "cleanup.policy",  "delete.retention.ms", "flush.messages",  "flush.ms",
    "max.message.bytes", "retention.bytes",   "retention.ms",    "segment.bytes",
    "segment.ms",      "min.insync.replicas", "message.timestamp.type",
    "segment.index.bytes", "index.interval.bytes",
};

static bool parse_i64(const char *s, int64_t *out) {
    if (s == NULL || *s == '\0') return false;
    bool negative = *s == '-';
    if (negative) s++;
    if (*s == '\0') return false;
    int64_t v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (*s - '0');
    }
    *out = negative ? -v : v;
    return true;
}

static void log_config_from_broker(const struct broker_config *c, struct log_config *out) {
    log_config_default(out);
    out->segment_bytes = (uint64_t)c->log_segment_bytes;
    out->roll_ms = c->log_roll_ms;
    out->index_interval_bytes = (uint32_t)c->log_index_interval_bytes;
    out->index_size_max_bytes = (uint32_t)c->log_index_size_max_bytes;
    out->flush_interval_messages = c->log_flush_interval_messages;
    out->flush_interval_ms = c->log_flush_interval_ms < 0 ? INT64_MAX : c->log_flush_interval_ms;
    out->retention_ms = c->log_retention_ms;
    out->retention_bytes = c->log_retention_bytes;
    out->cleanup_compact = c->log_cleanup_policy_compact;
    out->cleanup_delete = !c->log_cleanup_policy_compact;
    out->max_batch_bytes = (uint32_t)c->message_max_bytes;
}

/* Applies one topic override to a log config. Returns false if the value is invalid. */
static bool topic_config_apply(struct log_config *lc, const char *name, const char *value) {
    int64_t v = 0;
    if (strcmp(name, "cleanup.policy") == 0) {
        bool del = strstr(value, "delete") != NULL, compact = strstr(value, "compact") != NULL;
        if (!del && !compact) return false;
        lc->cleanup_delete = del;
        lc->cleanup_compact = compact;
        return true;
    }
    if (strcmp(name, "message.timestamp.type") == 0) {
        return strcmp(value, "CreateTime") == 0 || strcmp(value, "LogAppendTime") == 0;
    }
    if (!parse_i64(value, &v)) return false;
    if (strcmp(name, "delete.retention.ms") == 0 && v >= 0) lc->delete_retention_ms = v;
    else if (strcmp(name, "flush.messages") == 0 && v >= 1) lc->flush_interval_messages = v;
    else if (strcmp(name, "flush.ms") == 0 && v >= 0) lc->flush_interval_ms = v;
    else if (strcmp(name, "max.message.bytes") == 0 && v >= 0 && v <= INT32_MAX) {
        lc->max_batch_bytes = (uint32_t)v;
    } else if (strcmp(name, "retention.bytes") == 0 && v >= -1) lc->retention_bytes = v;
    else if (strcmp(name, "retention.ms") == 0 && v >= -1) lc->retention_ms = v;
    else if (strcmp(name, "segment.bytes") == 0 && v >= 14 && v <= INT32_MAX) {
        lc->segment_bytes = (uint64_t)v;
    } else if (strcmp(name, "segment.ms") == 0 && v >= 1) lc->roll_ms = v;
    else if (strcmp(name, "segment.index.bytes") == 0 && v >= 4 && v <= INT32_MAX) {
        lc->index_size_max_bytes = (uint32_t)v;
    } else if (strcmp(name, "index.interval.bytes") == 0 && v >= 0 && v <= INT32_MAX) {
        lc->index_interval_bytes = (uint32_t)v;
    } else if (strcmp(name, "min.insync.replicas") == 0 && v >= 1) {
        /* Accepted; with one replica it cannot change anything yet. */
    } else {
        return false;
    }
    return true;
}

static bool topic_config_known(const char *name) {
    for (size_t i = 0; i < ARRAY_LEN(topic_config_names); i++) {
        if (strcmp(topic_config_names[i], name) == 0) return true;
    }
    return false;
}

/* Validates a full override set; returns a Kafka error code. */
static int16_t topic_configs_check(const struct broker_config *bc, const struct topic_config *cfg,
                                   uint32_t count) {
    struct log_config lc;
    log_config_from_broker(bc, &lc);
    for (uint32_t i = 0; i < count; i++) {
        if (!topic_config_known(cfg[i].name)) return KERR_INVALID_CONFIG;
        if (!topic_config_apply(&lc, cfg[i].name, cfg[i].value)) return KERR_INVALID_CONFIG;
    }
    return KERR_NONE;
}

static void topic_recompute_config(struct broker *broker, struct broker_topic *t) {
    log_config_from_broker(&broker->config, &t->log_config);
    t->min_insync_replicas = broker->config.min_insync_replicas;
    t->log_append_time = broker->config.log_message_timestamp_log_append_time;
    for (uint32_t i = 0; i < t->config_count; i++) {
        if (strcmp(t->configs[i].name, "message.timestamp.type") == 0) {
            t->log_append_time = strcmp(t->configs[i].value, "LogAppendTime") == 0;
        }
        bool ok = topic_config_apply(&t->log_config, t->configs[i].name, t->configs[i].value);
        ASSERT(ok); /* Checked before it was stored. */
        int64_t v = 0;
        if (strcmp(t->configs[i].name, "min.insync.replicas") == 0 &&
            parse_i64(t->configs[i].value, &v) && v <= INT32_MAX) {
            t->min_insync_replicas = (int32_t)v;
        }
    }
    for (int32_t p = 0; p < t->partition_count; p++) {
        /* The log reads its config on each operation; keep them in step. */
        if (t->partitions[p] != NULL) t->partitions[p]->log->config = t->log_config;
    }
}

/* --- Topics: create, open, delete ------------------------------------------------------ */

static struct broker_topic *topic_insert(struct broker *broker, const char *name) {
    ASSERT(broker->topic_count < BROKER_TOPICS_MAX);
    if (broker->topic_count == broker->topic_cap) {
        uint32_t cap = broker->topic_cap == 0 ? 16 : broker->topic_cap * 2;
        broker->topics = io_realloc(broker->io, broker->topics,
                                    broker->topic_cap * sizeof(*broker->topics),
                                    cap * sizeof(*broker->topics));
        broker->topic_cap = cap;
    }
    struct broker_topic *t = io_calloc(broker->io, 1, sizeof(*t));
    memcpy(t->name, name, strlen(name) + 1);
    t->id = ++broker->next_topic_id;
    log_config_from_broker(&broker->config, &t->log_config);
    t->min_insync_replicas = broker->config.min_insync_replicas;
    uint32_t at = topic_lower_bound(broker, name);
    memmove(&broker->topics[at + 1], &broker->topics[at],
            (broker->topic_count - at) * sizeof(*broker->topics));
    broker->topics[at] = t;
    broker->topic_count++;
    return t;
}

static int64_t log_start_lookup(const struct log_partition_offset *starts, size_t count,
                                const char *topic, int32_t partition) {
    for (size_t i = 0; i < count; i++) {
        if (starts[i].partition == partition && strcmp(starts[i].topic, topic) == 0) {
            return starts[i].offset;
        }
    }
    return 0;
}

/* Resizes the partition slots of `t` to `count` (new slots empty; dropped ones must be). */
static void topic_resize(struct broker *broker, struct broker_topic *t, int32_t count) {
    ASSERT(count >= 0 && count <= BROKER_PARTITIONS_MAX);
    int32_t old = t->partition_count;
    struct partition **parts = NULL;
    int32_t *leaders = NULL;
    if (count > 0) {
        parts = io_calloc(broker->io, (size_t)count, sizeof(*parts));
        leaders = io_calloc(broker->io, (size_t)count, sizeof(*leaders));
        for (int32_t p = 0; p < count; p++) leaders[p] = -1;
    }
    for (int32_t p = 0; p < old; p++) {
        if (p < count) {
            parts[p] = t->partitions[p];
            leaders[p] = t->fetch_leader[p];
        } else {
            ASSERT(t->partitions[p] == NULL && t->fetch_leader[p] < 0);
        }
    }
    if (old > 0) {
        io_free(broker->io, t->partitions, (size_t)old * sizeof(*t->partitions));
        io_free(broker->io, t->fetch_leader, (size_t)old * sizeof(*t->fetch_leader));
    }
    t->partitions = parts;
    t->fetch_leader = leaders;
    t->partition_count = count;
}

/* Opens slot `p` of `t`: its directory must exist unless `create`. */
static int topic_open_partition(struct broker *broker, struct broker_topic *t, int32_t p,
                                bool create, const struct log_partition_offset *starts,
                                size_t start_count) {
    ASSERT(p >= 0 && p < t->partition_count && t->partitions[p] == NULL);
    char dir[BROKER_PATH_MAX];
    int rc = partition_dir(broker, t->name, p, dir, sizeof(dir));
    if (rc == 0) {
        bool is_dir = false;
        if (io_exists(broker->io, dir, &is_dir) != 0) {
            rc = create ? io_mkdir(broker->io, dir) : -ENOENT;
        }
    }
    struct partition *part = NULL;
    if (rc == 0) {
        uint64_t key = ((uint64_t)t->id << 20) | (uint64_t)p;
        rc = partition_open(broker->io, dir, &t->log_config, p, key, broker->config.node_id,
                            log_start_lookup(starts, start_count, t->name, p), &part);
    }
    if (rc < 0) {
        if (rc != -ENOENT || create) {
            io_log(broker->io, IO_LOG_ERROR, "cannot open partition %s-%d: %d", t->name, p, rc);
        }
        return rc;
    }
    part->topic = t->name;
    t->partitions[p] = part;
    return 0;
}

/*
 * Grows `t` to `count` partitions. Only the directories that exist open (at start-up the
 * others belong to other brokers); the image opens or creates the rest as it assigns them.
 */
static int topic_grow(struct broker *broker, struct broker_topic *t, int32_t count,
                      const struct log_partition_offset *starts, size_t start_count) {
    ASSERT(count > t->partition_count && count <= BROKER_PARTITIONS_MAX);
    int32_t first = t->partition_count;
    topic_resize(broker, t, count);
    for (int32_t p = first; p < count; p++) {
        int rc = topic_open_partition(broker, t, p, false, starts, start_count);
        if (rc == -ENOENT) continue;
        if (rc < 0) return rc;
    }
    return 0;
}

struct dir_names {
    struct io *io;
    char **names;
    bool *is_dir;
    size_t count;
    size_t cap;
};

static void collect_name(void *arg, const char *name, bool is_dir) {
    struct dir_names *d = arg;
    if (d->count == d->cap) {
        size_t cap = d->cap == 0 ? 64 : d->cap * 2;
        d->names = io_realloc(d->io, d->names, d->cap * sizeof(char *), cap * sizeof(char *));
        d->is_dir = io_realloc(d->io, d->is_dir, d->cap * sizeof(bool), cap * sizeof(bool));
        d->cap = cap;
    }
    d->names[d->count] = io_strdup(d->io, name);
    d->is_dir[d->count] = is_dir;
    d->count++;
}

static void dir_names_free(struct dir_names *d) {
    for (size_t i = 0; i < d->count; i++) io_strfree(d->io, d->names[i]);
    if (d->names != NULL) io_free(d->io, d->names, d->cap * sizeof(char *));
    if (d->is_dir != NULL) io_free(d->io, d->is_dir, d->cap * sizeof(bool));
}

/* Removes a partition directory and its files (one level deep, as logs are). */
static int remove_dir(struct broker *broker, const char *dir) {
    struct dir_names names = {.io = broker->io};
    int rc = io_list_dir(broker->io, dir, collect_name, &names);
    for (size_t i = 0; rc == 0 && i < names.count; i++) {
        char path[BROKER_PATH_MAX];
        rc = path_join(path, sizeof(path), dir, names.names[i]);
        if (rc == 0) rc = names.is_dir[i] ? remove_dir(broker, path) : io_unlink(broker->io, path);
    }
    dir_names_free(&names);
    if (rc == 0) rc = io_rmdir(broker->io, dir);
    return rc;
}

static void replica_stop_fetching(struct broker *broker, struct broker_topic *t, int32_t p);

static void topic_free(struct broker *broker, struct broker_topic *t, bool delete_files) {
    for (int32_t p = 0; p < t->partition_count; p++) {
        if (t->partitions[p] == NULL) continue;
        replica_stop_fetching(broker, t, p);
        int rc = partition_close(t->partitions[p]);
        t->partitions[p] = NULL;
        if (rc < 0) note_storage_error(broker, "close partition", rc);
        if (delete_files) {
            char dir[BROKER_PATH_MAX];
            if (partition_dir(broker, t->name, p, dir, sizeof(dir)) == 0) {
                rc = remove_dir(broker, dir);
                if (rc < 0) note_storage_error(broker, "delete partition", rc);
            }
        }
    }
    topic_resize(broker, t, 0);
    io_free(broker->io, t, sizeof(*t));
}

/* --- Startup: format or load the log dir --------------------------------------------- */

static int read_small_file(struct io *io, const char *path, char *buf, size_t cap, size_t *len) {
    struct io_file *f = NULL;
    int rc = io_file_open(io, path, IO_OPEN_READ, &f);
    if (rc < 0) return rc;
    int64_t n = io_file_pread(io, f, buf, cap - 1, 0);
    io_file_close(io, f);
    if (n < 0) return (int)n;
    buf[n] = '\0';
    *len = (size_t)n;
    return 0;
}

static int broker_prepare_dir(struct broker *broker) {
    struct io *io = broker->io;
    bool is_dir = false;
    int rc = io_exists(io, broker->dir, &is_dir);
    if (rc == -ENOENT) {
        /* Create the path one component at a time (mkdir -p). */
        char partial[BROKER_PATH_MAX];
        size_t len = strlen(broker->dir);
        for (size_t i = 1; i <= len; i++) {
            if (broker->dir[i] != '/' && broker->dir[i] != '\0') continue;
            memcpy(partial, broker->dir, i);
            partial[i] = '\0';
            rc = io_mkdir(io, partial);
            if (rc < 0 && rc != -EEXIST) {
                io_log(io, IO_LOG_ERROR, "cannot create log dir %s: %d", partial, rc);
                return rc;
            }
        }
    } else if (rc < 0 || !is_dir) {
        io_log(io, IO_LOG_ERROR, "log dir %s is not a directory", broker->dir);
        return rc < 0 ? rc : -ENOTDIR;
    }
    char path[BROKER_PATH_MAX];
    rc = path_join(path, sizeof(path), broker->dir, "meta.properties");
    if (rc < 0) return rc;
    char text[1024];
    size_t len = 0;
    char error[BROKER_CONFIG_ERROR_MAX];
    rc = read_small_file(io, path, text, sizeof(text), &len);
    if (rc == -ENOENT) {
        /* First start: format (Kafka needs `kafka-storage format`; we do it ourselves). */
        uint8_t random[16];
        for (int i = 0; i < 2; i++) {
            uint64_t r = io_random_u64(io);
            memcpy(random + 8 * i, &r, 8);
        }
        if (broker->config.voter_count > 0) {
            /* Kafka formats every node with one cluster.id; without a format tool the
             * nodes of a cluster agree by deriving it from the voters they share (clients
             * refuse brokers that report different ids). */
            uint64_t h[2] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL};
            for (uint32_t v = 0; v < broker->config.voter_count; v++) {
                const struct broker_voter *voter = &broker->config.voters[v];
                char entry[BROKER_CONFIG_HOST_MAX + 32];
                int n = snprintf(entry, sizeof(entry), "%d@%s:%u,", voter->id, voter->host,
                                 voter->port);
                for (int k = 0; k < n && k < (int)sizeof(entry); k++) {
                    h[0] = (h[0] ^ (uint8_t)entry[k]) * 0x100000001b3ULL;
                    h[1] = (h[1] ^ (uint8_t)entry[k]) * 0x1000193ULL + 0x9e3779b97f4a7c15ULL;
                }
            }
            memcpy(random, &h[0], 8);
            memcpy(random + 8, &h[1], 8);
        }
        broker->meta.node_id = broker->config.node_id;
        broker->meta.version = 1;
        broker_meta_cluster_id(random, broker->meta.cluster_id);
        int n = broker_meta_format(&broker->meta, text, sizeof(text));
        ASSERT(n > 0);
        rc = log_checkpoint_write_text(io, path, text, (size_t)n);
        if (rc < 0) {
            io_log(io, IO_LOG_ERROR, "cannot write %s: %d", path, rc);
            return rc;
        }
        io_log(io, IO_LOG_INFO, "formatted %s (cluster.id %s)", broker->dir,
               broker->meta.cluster_id);
        return 0;
    }
    if (rc < 0) {
        io_log(io, IO_LOG_ERROR, "cannot read %s: %d", path, rc);
        return rc;
    }
    if (broker_meta_parse(&broker->meta, text, len, error) < 0) {
        io_log(io, IO_LOG_ERROR, "%s: %s", path, error);
        return -EINVAL;
    }
    if (broker->meta.node_id != broker->config.node_id) {
        io_log(io, IO_LOG_ERROR, "%s belongs to node.id %d, but node.id is %d", path,
               broker->meta.node_id, broker->config.node_id);
        return -EINVAL;
    }
    return 0;
}

/* Splits "<topic>-<n>" into its parts; false for anything else. */
static bool parse_partition_dir(const char *name, char *topic, int32_t *index) {
    const char *dash = strrchr(name, '-');
    if (dash == NULL || dash == name || dash[1] == '\0') return false;
    int64_t v = 0;
    for (const char *p = dash + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (*p - '0');
        if (v >= BROKER_PARTITIONS_MAX) return false;
    }
    size_t len = (size_t)(dash - name);
    if (!topic_name_valid(name, len)) return false;
    memcpy(topic, name, len);
    topic[len] = '\0';
    *index = (int32_t)v;
    return true;
}

static int broker_load_topics(struct broker *broker) {
    struct io *io = broker->io;
    char path[BROKER_PATH_MAX];
    /* Log start offsets (DeleteRecords survives restarts through this checkpoint). */
    size_t start_cap = 4096, start_count = 0;
    struct log_partition_offset *starts = io_calloc(io, start_cap, sizeof(*starts));
    int rc = path_join(path, sizeof(path), broker->dir, BROKER_LOG_START_FILE);
    if (rc == 0) {
        rc = log_checkpoint_read_offsets(io, path, starts, start_cap, &start_count);
        if (rc < 0) start_count = 0;
        if (rc < 0 && rc != -ENOENT) io_log(io, IO_LOG_WARN, "ignoring %s: %d", path, rc);
    }
    /* High watermarks (replication-offset-checkpoint): each replica's first role starts its
     * HW there (capped at its LEO) instead of at the log start. */
    size_t hw_count = 0;
    struct log_partition_offset *hws = io_calloc(io, start_cap, sizeof(*hws));
    rc = path_join(path, sizeof(path), broker->dir, BROKER_HW_FILE);
    if (rc == 0) {
        rc = log_checkpoint_read_offsets(io, path, hws, start_cap, &hw_count);
        if (rc < 0) hw_count = 0;
        if (rc < 0 && rc != -ENOENT) io_log(io, IO_LOG_WARN, "ignoring %s: %d", path, rc);
    }
    struct dir_names names = {.io = io};
    rc = io_list_dir(io, broker->dir, collect_name, &names);
    /* Names come sorted, so "t-10" precedes "t-2": find each topic's highest index first. */
    for (size_t i = 0; rc == 0 && i < names.count; i++) {
        char topic[LOG_TOPIC_NAME_MAX + 1];
        int32_t index;
        if (!names.is_dir[i] || !parse_partition_dir(names.names[i], topic, &index)) continue;
        /* The controller's Raft log lives in the same dir; it is never a broker topic. */
        if (strcmp(topic, BROKER_METADATA_TOPIC) == 0) continue;
        struct broker_topic *t = topic_find(broker, topic);
        if (t == NULL) t = topic_insert(broker, topic);
        if (index + 1 > t->wanted_partitions) t->wanted_partitions = index + 1;
    }
    for (uint32_t i = 0; rc == 0 && i < broker->topic_count; i++) {
        struct broker_topic *t = broker->topics[i];
        rc = topic_grow(broker, t, t->wanted_partitions, starts, start_count);
        for (size_t h = 0; rc == 0 && h < hw_count; h++) {
            int32_t p = hws[h].partition;
            if (p < 0 || p >= t->partition_count || t->partitions[p] == NULL ||
                strcmp(hws[h].topic, t->name) != 0) {
                continue;
            }
            partition_restore_hw(t->partitions[p], hws[h].offset);
        }
        /* Every replica of a topic carries the same id: the first one found tells. */
        for (int32_t p = 0; rc == 0 && p < t->partition_count && t->disk_topic_id[0] == '\0';
             p++) {
            if (t->partitions[p] == NULL) continue;
            partition_metadata_read(broker, t->name, p, t->disk_topic_id,
                                    sizeof(t->disk_topic_id));
        }
    }
    dir_names_free(&names);
    io_free(io, starts, start_cap * sizeof(*starts));
    io_free(io, hws, start_cap * sizeof(*hws));
    /* Topic overrides come from the metadata image. */
    return rc;
}

/* Writes one offset per open replica (`hw`: the HW checkpoint, else the log start) in
 * Kafka's checkpoint format (version 0, count, `topic partition offset` lines). */
static int broker_save_offsets(struct broker *broker, bool hw) {
    size_t count = 0;
    for (uint32_t i = 0; i < broker->topic_count; i++) {
        count += (size_t)broker->topics[i]->partition_count;
    }
    struct log_partition_offset *e = io_calloc(broker->io, count + 1, sizeof(*e));
    size_t n = 0;
    for (uint32_t i = 0; i < broker->topic_count; i++) {
        const struct broker_topic *t = broker->topics[i];
        for (int32_t p = 0; p < t->partition_count; p++) {
            if (t->partitions[p] == NULL) continue;
            memcpy(e[n].topic, t->name, strlen(t->name) + 1);
            e[n].partition = p;
            e[n].offset = hw ? partition_checkpoint_hw(t->partitions[p])
                             : partition_log_start(t->partitions[p]);
            n++;
        }
    }
    char path[BROKER_PATH_MAX];
    int rc =
        path_join(path, sizeof(path), broker->dir, hw ? BROKER_HW_FILE : BROKER_LOG_START_FILE);
    if (rc == 0) rc = log_checkpoint_write_offsets(broker->io, path, e, n);
    io_free(broker->io, e, (count + 1) * sizeof(*e));
    if (rc < 0) note_storage_error(broker, hw ? "HW checkpoint" : "log start checkpoint", rc);
    return rc;
}

static int broker_save_log_starts(struct broker *broker) {
    return broker_save_offsets(broker, false);
}

/* --- The group coordinator and __consumer_offsets ------------------------------------ */

static void appends_run(void *arg) {
    struct broker *broker = arg;
    broker->appends_timer = 0;
    /* Bound: only completions queued before this pass run now; later ones get a new timer. */
    struct broker_append_done *list = broker->appends_head;
    broker->appends_head = broker->appends_tail = NULL;
    while (list != NULL) {
        struct broker_append_done *d = list;
        list = d->next;
        group_append_cb done = d->done;
        void *done_arg = d->arg;
        int status = d->status;
        io_free(broker->io, d, sizeof(*d));
        done(done_arg, status);
    }
}

static void appends_queue(struct broker *broker, group_append_cb done, void *arg, int status) {
    struct broker_append_done *d = io_calloc(broker->io, 1, sizeof(*d));
    d->done = done;
    d->arg = arg;
    d->status = status;
    if (broker->appends_tail != NULL) broker->appends_tail->next = d; else broker->appends_head = d;
    broker->appends_tail = d;
    if (broker->appends_timer == 0) {
        broker->appends_timer = io_timer_start(broker->io, io_now_ns(broker->io), appends_run,
                                               broker);
    }
}

/* A coordinator append waiting for the __consumer_offsets HW (multi-broker mode). */
struct broker_group_wait {
    struct purgatory_op op;
    struct broker *broker;
    int32_t partition;
    int64_t last_offset;
    int32_t leader_epoch;
    group_append_cb done;
    void *arg;
};

static struct broker_group_wait *group_wait_of(struct purgatory_op *op) {
    char *base = (char *)op - offsetof(struct broker_group_wait, op);
    return (struct broker_group_wait *)(void *)base;
}

/* 0 when the ISR has the append, -ESTALE when leadership moved (NOT_COORDINATOR), 1 while
 * it must wait. */
static int group_wait_status(struct broker_group_wait *w) {
    struct partition *part = partition_find(w->broker, BROKER_OFFSETS_TOPIC, w->partition);
    if (part == NULL || !partition_is_leader(part) || part->leader_epoch != w->leader_epoch) {
        return -ESTALE;
    }
    return part->high_watermark > w->last_offset ? 0 : 1;
}

static bool group_wait_try_complete(struct purgatory_op *op) {
    return group_wait_status(group_wait_of(op)) <= 0;
}

static void group_wait_on_complete(struct purgatory_op *op, bool expired) {
    struct broker_group_wait *w = group_wait_of(op);
    int status = group_wait_status(w);
    if (status > 0) status = -ETIMEDOUT;
    /* Through the completion queue: never inside whatever woke the purgatory. */
    appends_queue(w->broker, w->done, w->arg, status);
    io_free(w->broker->io, w, sizeof(*w));
}

static int broker_group_append(void *ctx, int32_t partition, const struct group_record *records,
                               size_t count, group_append_cb done, void *done_arg) {
    struct broker *broker = ctx;
    struct partition *part = partition_find(broker, BROKER_OFFSETS_TOPIC, partition);
    if (part == NULL) return -ESTALE;
    if (!partition_is_leader(part)) return -ESTALE;
    if (count == 0 || count > BROKER_GROUP_RECORDS_MAX) return -EMSGSIZE;
    size_t cap = BATCH_HEADER_BYTES + 64;
    for (size_t i = 0; i < count; i++) cap += records[i].key_len + records[i].value_len + 32;
    struct batch_record_in *in = io_calloc(broker->io, count, sizeof(*in));
    uint8_t *buf = io_alloc(broker->io, cap);
    int64_t now_ms = broker_now_ms(broker);
    for (size_t i = 0; i < count; i++) {
        in[i] = (struct batch_record_in){
            .offset_delta = (int64_t)i, .timestamp = now_ms, .key = records[i].key,
            .key_len = (int32_t)records[i].key_len, .value = records[i].value,
            .value_len = records[i].value != NULL ? (int32_t)records[i].value_len : -1};
    }
    struct batch_build_params params = {.base_offset = 0, .partition_leader_epoch = -1,
                                        .producer_id = -1, .producer_epoch = -1,
                                        .base_sequence = -1};
    int64_t size = batch_build(buf, cap, &params, in, count);
    int status = (int)MIN(size, 0);
    struct log_append_info info = {0};
    if (size > 0) {
        status = partition_append(part, buf, (size_t)size, now_ms, &info);
        if (status < 0) note_storage_error(broker, "offsets append", status);
    }
    io_free(broker->io, buf, cap);
    io_free(broker->io, in, count * sizeof(*in));
    if (status < 0) return status == -EMSGSIZE ? -EMSGSIZE : -EIO;
    purgatory_check(broker->fetches, part->key);
    if (broker->produces != NULL && part->high_watermark <= info.last_offset) {
        /* Replicated: like acks=all, the write counts once the ISR has it (a commit
         * acknowledged before would be lost with its leader). */
        struct broker_group_wait *w = io_calloc(broker->io, 1, sizeof(*w));
        w->broker = broker;
        w->partition = partition;
        w->last_offset = info.last_offset;
        w->leader_epoch = part->leader_epoch;
        w->done = done;
        w->arg = done_arg;
        w->op.try_complete = group_wait_try_complete;
        w->op.on_complete = group_wait_on_complete;
        uint64_t key = part->key;
        bool completed = purgatory_add(broker->produces, &w->op, &key, 1,
                                       (uint64_t)broker->config.request_timeout_ms);
        ASSERT(!completed); /* Not ready now, so no callback ran inside this call. */
        return 0;
    }
    appends_queue(broker, done, done_arg, 0);
    return 0;
}

/* Feeds a partition of __consumer_offsets to the coordinator, batch by batch. */
static void group_load_partition(struct broker *broker, struct partition *part) {
    group_coordinator_load_begin(broker->groups, part->index);
    size_t cap = 1u << 20;
    uint8_t *buf = io_alloc(broker->io, cap);
    int64_t offset = partition_log_start(part);
    int64_t end = partition_log_end(part);
    /* Bound: every pass advances past at least one batch or stops. */
    while (offset < end) {
        size_t len = 0;
        int64_t first = -1;
        int rc = log_read_copy(part->log, offset, cap, false, end, buf, cap, &len, &first);
        if (rc == -ENOSPC) {
            io_free(broker->io, buf, cap);
            cap *= 2;
            buf = io_alloc(broker->io, cap);
            continue;
        }
        if (rc < 0 || len == 0) break;
        size_t pos = 0;
        int64_t next = offset;
        while (len - pos >= BATCH_HEADER_BYTES) {
            struct batch_header h;
            if (batch_header_decode(buf + pos, len - pos, &h) < 0) break;
            size_t total = batch_total_bytes(&h);
            if (total > len - pos) break;
            if (!batch_is_control(&h)) {
                struct batch_record_iter it;
                struct batch_record r;
                if (batch_records_begin(buf + pos, total, &it) == 0) {
                    while (batch_records_next(&it, &r) == 1) {
                        if (r.key == NULL) continue;
                        int rr = batch_is_transactional(&h)
                                     ? group_coordinator_replay_txn(
                                           broker->groups, part->index, h.producer_id, r.key,
                                           (size_t)r.key_len, r.value,
                                           r.value != NULL ? (size_t)r.value_len : 0)
                                     : group_coordinator_replay(
                                           broker->groups, part->index, r.key, (size_t)r.key_len,
                                           r.value, r.value != NULL ? (size_t)r.value_len : 0);
                        if (rr < 0) {
                            io_log(broker->io, IO_LOG_WARN, "%s-%d: skipping a record (%d)",
                                   BROKER_OFFSETS_TOPIC, part->index, rr);
                        }
                    }
                }
            }
            next = batch_last_offset(&h) + 1;
            pos += total;
        }
        if (next <= offset) break;
        offset = next;
    }
    io_free(broker->io, buf, cap);
    group_coordinator_load_end(broker->groups, part->index);
}

/* The coordinator over `partitions` partitions of __consumer_offsets, nothing loaded yet. */
static struct group_coordinator *broker_groups_create(struct broker *broker, int32_t partitions) {
    ASSERT(broker->groups == NULL && partitions > 0);
    struct group_config gc;
    group_config_default(&gc);
    gc.offsets_partitions = partitions;
    gc.initial_rebalance_delay_ms = (uint32_t)broker->config.group_initial_rebalance_delay_ms;
    struct group_log gl = {.append = broker_group_append, .append_txn = NULL, .ctx = broker};
    broker->groups = group_coordinator_create(broker->io, &gc, &gl);
    return broker->groups;
}

/* Creates __consumer_offsets (if needed) and the coordinator, loading what the log holds.
 * Kafka also creates the topic on the first FindCoordinator. In multi-broker mode the
 * controller creates the topic and the coordinator exists once the image has it; each
 * partition's groups load when this broker becomes its leader (broker_reconcile). */
static struct group_coordinator *broker_groups(struct broker *broker) {
    if (broker->groups != NULL) return broker->groups;
    if (!broker->offsets_create_sent) {
        /* Kafka's rule would refuse a factor above the live brokers; we place what fits. */
        const struct metadata_image *image = quorum_client_image(broker->qc);
        int32_t live = 0;
        for (uint32_t i = 0; i < image->broker_count; i++) live += !image->brokers[i].fenced;
        int16_t rf = (int16_t)MAX(1, MIN(broker->config.offsets_topic_replication_factor, live));
        broker->offsets_create_sent = true;
        auto_create_topic(broker, BROKER_OFFSETS_TOPIC, broker->config.offsets_topic_num_partitions,
                          rf, true);
    }
    return NULL;
}

/* --- Multi-broker mode: roles from the metadata image (docs/REPLICATION.md) ----------- */

static struct broker_fetcher *fetcher_entry(struct broker *broker, int32_t leader_id) {
    for (uint32_t i = 0; i < broker->fetcher_count; i++) {
        if (broker->fetchers[i].leader_id == leader_id) return &broker->fetchers[i];
    }
    return NULL;
}

static bool replica_listed(const int32_t *ids, uint32_t count, int32_t id) {
    for (uint32_t i = 0; i < count; i++) {
        if (ids[i] == id) return true;
    }
    return false;
}

/*
 * Multi-broker mode: the error for a request that only the partition's current leader may
 * serve, checking the client's current_leader_epoch (-1: none given) as Kafka does
 * (I-REPL-10); KERR_NONE when `part` leads in that epoch. NULL `part` with a known topic
 * is a partition held elsewhere.
 */
static int16_t leader_check(const struct partition *part, int32_t current_leader_epoch) {
    if (part == NULL) return KERR_NOT_LEADER_OR_FOLLOWER;
    if (!partition_is_leader(part)) return KERR_NOT_LEADER_OR_FOLLOWER;
    if (current_leader_epoch >= 0 && current_leader_epoch < part->leader_epoch) {
        return KERR_FENCED_LEADER_EPOCH;
    }
    if (current_leader_epoch > part->leader_epoch) return KERR_UNKNOWN_LEADER_EPOCH;
    return KERR_NONE;
}

/* The error for topic/partition not held here: elsewhere in multi-broker mode, or unknown. */
static int16_t missing_partition_error(const struct broker *broker, const char *topic,
                                       int32_t index) {
    const struct broker_topic *t = topic_find(broker, topic);
    if (t != NULL && index >= 0 && index < t->partition_count) return KERR_NOT_LEADER_OR_FOLLOWER;
    if (broker->qc != NULL &&
        metadata_partition_find(quorum_client_image(broker->qc), topic, index) != NULL) {
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    return KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

/* acks=all admission (I-REPL-9): |ISR| >= min.insync.replicas. */
static bool replica_enough_insync(const struct partition *part, int32_t min_insync) {
    return partition_enough_replicas(part, min_insync);
}

/* Takes partition p of t off its fetcher (before a role change, close or delete). */
static void replica_stop_fetching(struct broker *broker, struct broker_topic *t, int32_t p) {
    ASSERT(p >= 0 && p < t->partition_count);
    if (t->fetch_leader[p] < 0) return;
    struct broker_fetcher *entry = fetcher_entry(broker, t->fetch_leader[p]);
    if (entry != NULL && t->partitions[p] != NULL) fetcher_remove(entry->fetcher, t->partitions[p]);
    t->fetch_leader[p] = -1;
}

/* Wakes whatever waits on a partition: parked fetches, acks=all produces. */
static void partition_wake(struct broker *broker, const struct partition *part) {
    purgatory_check(broker->fetches, part->key);
    if (broker->produces != NULL) purgatory_check(broker->produces, part->key);
}

static void isr_string(const int32_t *isr, uint32_t count, char *out, size_t cap) {
    size_t len = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < count && len < cap; i++) {
        int n = snprintf(out + len, cap - len, i == 0 ? "%d" : ",%d", isr[i]);
        if (n < 0) break;
        len += (size_t)n;
    }
}

static void trace_isr(struct broker *broker, const struct partition *part, const char *topic) {
    char isr[16 * PARTITION_REPLICAS_MAX];
    isr_string(part->isr, part->isr_count, isr, sizeof(isr));
    io_tracef(broker->io, "isr", IO_TF_S("topic", topic), IO_TF_I("partition", part->index),
              IO_TF_S("isr", isr), IO_TF_I("leader_epoch", part->leader_epoch),
              IO_TF_I("partition_epoch", part->partition_epoch));
}


static void broker_alter_unlink(struct broker *broker, struct broker_alter *alter) {
    struct broker_alter **at = &broker->alters;
    while (*at != NULL && *at != alter) at = &(*at)->next;
    ASSERT(*at == alter);
    *at = alter->next;
    ASSERT(broker->alter_count > 0);
    broker->alter_count--;
}

static bool alter_outstanding(const struct broker *broker, const char *topic, int32_t index) {
    for (const struct broker_alter *a = broker->alters; a != NULL; a = a->next) {
        if (a->index == index && strcmp(a->topic, topic) == 0) return true;
    }
    return false;
}

/* The controller answered an AlterPartition: apply the committed ISR if still current. */
static void alter_done(void *arg, int16_t error_code, const struct metadata_partition *committed) {
    struct broker_alter *alter = arg;
    struct broker *broker = alter->broker;
    broker_alter_unlink(broker, alter);
    struct partition *part = partition_find(broker, alter->topic, alter->index);
    if (error_code == KERR_NONE && committed != NULL && part != NULL &&
        partition_is_leader(part) && committed->leader_epoch == part->leader_epoch &&
        committed->partition_epoch > part->partition_epoch) {
        /* partition_set_isr traces "isr". */
        partition_set_isr(part, committed->isr, committed->isr_count, committed->partition_epoch,
                          broker_now_ms(broker));
        partition_wake(broker, part);
    } else if (error_code != KERR_NONE) {
        io_log(broker->io, IO_LOG_INFO, "AlterPartition %s-%d refused: %d", alter->topic,
               alter->index, error_code);
    }
    io_free(broker->io, alter, sizeof(*alter));
}

/* Leader: proposes an ISR change when one is due (one outstanding per partition). */
static void isr_maybe_propose(struct broker *broker, struct broker_topic *t, struct partition *part,
                              int64_t now_ms) {
    if (!partition_is_leader(part) || broker->alter_count >= BROKER_ALTERS_MAX) return;
    if (alter_outstanding(broker, t->name, part->index)) return;
    int32_t isr[PARTITION_REPLICAS_MAX];
    uint32_t isr_count = 0;
    if (!partition_isr_proposal(part, now_ms, broker->config.replica_lag_time_max_ms, isr,
                                &isr_count)) {
        return;
    }
    ASSERT(isr_count <= PARTITION_REPLICAS_MAX);
    struct broker_alter *alter = io_calloc(broker->io, 1, sizeof(*alter));
    alter->broker = broker;
    memcpy(alter->topic, t->name, strlen(t->name) + 1);
    alter->index = part->index;
    alter->next = broker->alters;
    broker->alters = alter;
    broker->alter_count++;
    int rc = quorum_client_alter_partition(broker->qc, t->name, part->index, part->leader_epoch,
                                           part->partition_epoch, isr, isr_count, alter_done,
                                           alter);
    if (rc < 0) {
        broker_alter_unlink(broker, alter);
        io_free(broker->io, alter, sizeof(*alter));
    }
}

static void fetcher_on_progress(void *arg, struct partition *partition, bool hw_moved) {
    struct broker *broker = arg;
    if (hw_moved) partition_wake(broker, partition);
}

static void fetcher_on_storage_error(void *arg, struct partition *partition, int error) {
    struct broker *broker = arg;
    note_storage_error(broker, "replica fetch", error);
    /* The fetcher dropped the partition already: forget that it holds it. */
    struct broker_topic *t = topic_find(broker, partition->topic);
    if (t != NULL && partition->index < t->partition_count &&
        t->partitions[partition->index] == partition) {
        t->fetch_leader[partition->index] = -1;
    }
}

/* The fetcher for `leader_id`, created on first use from the image's broker entry. */
static struct fetcher *fetcher_for(struct broker *broker, int32_t leader_id,
                                   const struct metadata_image *image) {
    const struct metadata_broker *mb = metadata_broker_find(image, leader_id);
    struct broker_fetcher *entry = fetcher_entry(broker, leader_id);
    if (entry != NULL && mb != NULL &&
        (entry->port != mb->port || strcmp(entry->host, mb->host) != 0)) {
        /* The leader came back on another endpoint: a new fetcher, its partitions re-added
         * by the caller (whose fetch_leader entries are reset here). */
        fetcher_destroy(entry->fetcher);
        for (uint32_t i = 0; i < broker->topic_count; i++) {
            struct broker_topic *t = broker->topics[i];
            for (int32_t p = 0; p < t->partition_count; p++) {
                if (t->fetch_leader[p] == leader_id) t->fetch_leader[p] = -1;
            }
        }
        uint32_t at = (uint32_t)(entry - broker->fetchers);
        memmove(&broker->fetchers[at], &broker->fetchers[at + 1],
                (broker->fetcher_count - at - 1) * sizeof(*broker->fetchers));
        broker->fetcher_count--;
        if (broker->fetcher_count == 0) {
            io_free(broker->io, broker->fetchers, sizeof(*broker->fetchers));
            broker->fetchers = NULL;
        } else {
            broker->fetchers = io_realloc(broker->io, broker->fetchers,
                                          (broker->fetcher_count + 1) * sizeof(*broker->fetchers),
                                          broker->fetcher_count * sizeof(*broker->fetchers));
        }
        entry = NULL;
    }
    if (entry != NULL) return entry->fetcher;
    if (mb == NULL || broker->fetcher_count >= BROKER_FETCHERS_MAX) return NULL;
    struct fetcher_callbacks callbacks = {.on_progress = fetcher_on_progress,
                                          .on_storage_error = fetcher_on_storage_error,
                                          .arg = broker};
    struct fetcher *f = NULL;
    int rc = fetcher_create(broker->io, &broker->config, leader_id, mb->host, mb->port,
                            &callbacks, &f);
    if (rc < 0) {
        io_log(broker->io, IO_LOG_ERROR, "cannot create a fetcher for broker %d: %d", leader_id,
               rc);
        return NULL;
    }
    broker->fetchers = io_realloc(broker->io, broker->fetchers,
                                  broker->fetcher_count * sizeof(*broker->fetchers),
                                  (broker->fetcher_count + 1) * sizeof(*broker->fetchers));
    uint32_t at = 0;
    while (at < broker->fetcher_count && broker->fetchers[at].leader_id < leader_id) at++;
    memmove(&broker->fetchers[at + 1], &broker->fetchers[at],
            (broker->fetcher_count - at) * sizeof(*broker->fetchers));
    broker->fetchers[at] = (struct broker_fetcher){.leader_id = leader_id, .fetcher = f,
                                                   .port = mb->port};
    snprintf(broker->fetchers[at].host, sizeof(broker->fetchers[at].host), "%s", mb->host);
    broker->fetcher_count++;
    return f;
}

/* Closes partition p of t (if this node holds it) and deletes its directory. */
static void replica_remove(struct broker *broker, struct broker_topic *t, int32_t p) {
    struct partition *part = t->partitions[p];
    if (part == NULL) return;
    replica_stop_fetching(broker, t, p);
    if (strcmp(t->name, BROKER_OFFSETS_TOPIC) == 0 && partition_is_leader(part) &&
        broker->groups != NULL) {
        group_coordinator_unload(broker->groups, p);
    }
    uint64_t key = part->key;
    int rc = partition_close(part);
    t->partitions[p] = NULL;
    if (rc < 0) note_storage_error(broker, "close partition", rc);
    char dir[BROKER_PATH_MAX];
    if (partition_dir(broker, t->name, p, dir, sizeof(dir)) == 0) {
        rc = remove_dir(broker, dir);
        if (rc < 0) note_storage_error(broker, "delete partition", rc);
    }
    io_log(broker->io, IO_LOG_INFO, "removed replica %s-%d", t->name, p);
    purgatory_check(broker->fetches, key);
    purgatory_check(broker->produces, key);
}

/* Drops the whole topic t (every local replica and its directory). */
static void topic_remove(struct broker *broker, struct broker_topic *t) {
    for (int32_t p = 0; p < t->partition_count; p++) replica_remove(broker, t, p);
    uint32_t at = topic_lower_bound(broker, t->name);
    ASSERT(at < broker->topic_count && broker->topics[at] == t);
    memmove(&broker->topics[at], &broker->topics[at + 1],
            (broker->topic_count - at - 1) * sizeof(*broker->topics));
    broker->topic_count--;
    io_log(broker->io, IO_LOG_INFO, "deleted topic %s", t->name);
    topic_free(broker, t, false);
}

/* Brings one partition this node replicates in line with the image. */
static void replica_apply(struct broker *broker, struct broker_topic *t,
                          const struct metadata_partition *mp, const struct metadata_image *image,
                          int64_t now_ms) {
    int32_t me = broker->config.node_id;
    int32_t p = mp->index;
    ASSERT(p >= 0 && p < t->partition_count);
    struct partition *part = t->partitions[p];
    if (part == NULL) {
        if (topic_open_partition(broker, t, p, true, NULL, 0) < 0) {
            /* A disk fault (say EIO while creating a segment): the housekeeping tries
             * again, so the replica appears once the disk is healthy. */
            broker->reconcile_again = true;
            return;
        }
        part = t->partitions[p];
    }
    if (part->role == PARTITION_ROLE_NONE) {
        /* First role in this process: record which topic (id) this directory holds. */
        char path[BROKER_PATH_MAX], id[23], text[64];
        broker_meta_cluster_id(t->topic_id, id);
        int n = snprintf(text, sizeof(text), "version: 0\ntopic_id: %s\n", id);
        ASSERT(n > 0 && (size_t)n < sizeof(text));
        int rc = partition_metadata_path(broker, t->name, p, path, sizeof(path));
        if (rc == 0) rc = log_checkpoint_write_text(broker->io, path, text, (size_t)n);
        if (rc < 0) note_storage_error(broker, "partition.metadata", rc);
    }
    bool offsets = strcmp(t->name, BROKER_OFFSETS_TOPIC) == 0;
    uint32_t replica_count = MIN(mp->replica_count, (uint32_t)PARTITION_REPLICAS_MAX);
    uint32_t isr_count = MIN(mp->isr_count, (uint32_t)PARTITION_REPLICAS_MAX);
    if (mp->leader == me) {
        if (!partition_is_leader(part) || part->leader_epoch != mp->leader_epoch) {
            replica_stop_fetching(broker, t, p);
            if (offsets && partition_is_leader(part) && broker->groups != NULL) {
                group_coordinator_unload(broker->groups, p);
            }
            int rc = partition_become_leader(part, mp->leader_epoch, mp->partition_epoch,
                                             mp->replicas, replica_count, mp->isr, isr_count,
                                             now_ms);
            if (rc < 0) {
                note_storage_error(broker, "become leader", rc);
                broker->reconcile_again = true;
                return;
            }
            trace_isr(broker, part, t->name); /* The ISR it leads with. */
            /* Kafka: the coordinator of a __consumer_offsets partition is its
             * leader; it loads the partition's groups now. */
            if (offsets && broker->groups != NULL) group_load_partition(broker, part);
            partition_wake(broker, part);
        } else if (part->partition_epoch < mp->partition_epoch) {
            partition_set_isr(part, mp->isr, isr_count, mp->partition_epoch, now_ms);
            partition_wake(broker, part);
        }
        return;
    }
    bool changed = part->role != PARTITION_ROLE_FOLLOWER || part->leader_id != mp->leader ||
                   part->leader_epoch != mp->leader_epoch;
    if (changed) {
        replica_stop_fetching(broker, t, p);
        if (offsets && partition_is_leader(part) && broker->groups != NULL) {
            group_coordinator_unload(broker->groups, p);
        }
        int rc = partition_become_follower(part, mp->leader, mp->leader_epoch, mp->partition_epoch,
                                           mp->replicas, replica_count, mp->isr, isr_count);
        if (rc < 0) {
            note_storage_error(broker, "become follower", rc);
            broker->reconcile_again = true;
            return;
        }
        partition_wake(broker, part); /* Parked produces and fetches now fail over. */
    } else if (part->partition_epoch < mp->partition_epoch) {
        partition_set_isr(part, mp->isr, isr_count, mp->partition_epoch, now_ms);
    }
    if (mp->leader >= 0 && mp->leader != me && t->fetch_leader[p] < 0) {
        struct fetcher *f = fetcher_for(broker, mp->leader, image);
        if (f != NULL && fetcher_add(f, part, mp->leader_epoch) == 0) {
            t->fetch_leader[p] = mp->leader;
        }
    }
}

/* Copies the image's topic config overrides that this broker understands. */
static void topic_configs_from_image(struct broker *broker, struct broker_topic *t,
                                     const struct metadata_topic *mt) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < mt->config_count && n < BROKER_TOPIC_CONFIGS_MAX; i++) {
        struct topic_config c;
        if (strlen(mt->configs[i].name) >= sizeof(c.name) ||
            strlen(mt->configs[i].value) >= sizeof(c.value)) {
            continue;
        }
        snprintf(c.name, sizeof(c.name), "%s", mt->configs[i].name);
        snprintf(c.value, sizeof(c.value), "%s", mt->configs[i].value);
        if (topic_configs_check(&broker->config, &c, 1) != KERR_NONE) continue;
        t->configs[n++] = c;
    }
    t->config_count = n;
    topic_recompute_config(broker, t);
}

/*
 * Reconciles local replicas with `image`: opens and assigns roles to every partition whose
 * replicas include this node; removes what the image no longer gives this node, but only
 * once `caught_up` (a replaying image may simply not have reached a topic yet).
 */
static void broker_reconcile(struct broker *broker, const struct metadata_image *image,
                             bool caught_up) {
    int32_t me = broker->config.node_id;
    int64_t now_ms = broker_now_ms(broker);
    const struct metadata_topic *offsets = metadata_topic_find(image, BROKER_OFFSETS_TOPIC);
    if (offsets != NULL && broker->groups == NULL) {
        broker_groups_create(broker, offsets->partition_count);
    }
    broker->removals_pending = false;
    /* Topics gone from the image (or recreated under a new id). Bound: topic_count. */
    for (uint32_t i = broker->topic_count; i-- > 0;) {
        struct broker_topic *t = broker->topics[i];
        const struct metadata_topic *mt = metadata_topic_find(image, t->name);
        static const uint8_t zero_id[16];
        bool recreated = false;
        if (mt != NULL && memcmp(t->topic_id, zero_id, 16) != 0) {
            recreated = memcmp(t->topic_id, mt->id, 16) != 0;
        } else if (mt != NULL && t->disk_topic_id[0] != '\0') {
            char image_id[23];
            broker_meta_cluster_id(mt->id, image_id);
            recreated = strcmp(image_id, t->disk_topic_id) != 0;
        }
        if (mt != NULL && !recreated) continue;
        if (!caught_up && !recreated) {
            broker->removals_pending = true;
            continue;
        }
        topic_remove(broker, t);
    }
    for (uint32_t i = 0; i < image->topic_count; i++) {
        const struct metadata_topic *mt = &image->topics[i];
        /* Every topic gets an entry, replicated here or not: DescribeConfigs and the
         * NOT_LEADER_OR_FOLLOWER answers read it; only this node's replicas open. */
        struct broker_topic *t = topic_find(broker, mt->name);
        if (t == NULL) {
            if (broker->topic_count >= BROKER_TOPICS_MAX) continue;
            t = topic_insert(broker, mt->name);
        }
        memcpy(t->topic_id, mt->id, 16);
        topic_configs_from_image(broker, t, mt);
        int32_t count = MIN(mt->partition_count, BROKER_PARTITIONS_MAX);
        if (count > t->partition_count) topic_resize(broker, t, count);
        for (int32_t p = 0; p < count; p++) {
            const struct metadata_partition *mp = &mt->partitions[p];
            if (metadata_partition_has_replica(mp, me)) {
                replica_apply(broker, t, mp, image, now_ms);
            } else if (t->partitions[p] != NULL) {
                if (caught_up) replica_remove(broker, t, p);
                else broker->removals_pending = true;
            }
        }
    }
}

static void admin_waits_check(struct broker *broker, bool all);

static void broker_on_metadata(void *arg, const struct metadata_image *before,
                               const struct metadata_image *after) {
    struct broker *broker = arg;
    (void)before;
    /* Kafka publishes the first image only once the loader caught up: a replaying image
     * passes through old leaderships (a restarted node "leading" in epoch 0 with an empty
     * log), which must never become roles. Readiness (registered, caught up, unfenced)
     * marks the point; from then on every committed change applies. */
    if (!broker->caught_up_once) {
        if (!quorum_client_ready(broker->qc)) return;
        broker->caught_up_once = true;
    }
    broker_reconcile(broker, after, quorum_client_ready(broker->qc));
    admin_waits_check(broker, false);
}

/* --- Requests: lifecycle and encoding ------------------------------------------------ */

static void request_free(struct broker_request *req) {
    struct io *io = req->broker->io;
    proto_arena_destroy(&req->arena);
    if (req->keys != NULL) io_free(io, req->keys, req->key_count * sizeof(uint64_t));
    io_free(io, req, sizeof(*req));
}

/* Encodes `body` as the response to `req` and hands it to the connection. */
static int respond_body(struct broker_request *req, const void *body) {
    struct broker *broker = req->broker;
    struct proto_writer w;
    proto_writer_init(&w, broker->io, BROKER_RESPONSE_BYTES_MAX);
    struct proto_response_header rh = {.correlation_id = req->header.correlation_id};
    int rc = proto_response_encode(&w, req->header.api_key, req->header.api_version, &rh, body);
    if (rc == 0) {
        broker_conn_respond(req->conn, req->slot, w.buf, w.len, NULL, 0);
    } else {
        io_log(broker->io, IO_LOG_ERROR, "cannot encode response to api %d v%d: %d",
               req->header.api_key, req->header.api_version, rc);
        /* Answer nothing and drop the connection: the client would misparse anything else. */
        broker_conn_close(req->conn, rc); /* Before the answer, which may free it. */
        broker_conn_respond_none(req->conn, req->slot);
    }
    proto_writer_destroy(&w);
    return 0;
}

static void *arena_array(struct broker_request *req, size_t count, size_t size) {
    void *p = proto_arena_alloc(&req->arena, (count == 0 ? 1 : count) * size);
    return p;
}

static const char *str_or_empty(struct proto_string s) { return s.str != NULL ? s.str : ""; }

/* --- Multi-broker mode: admin requests go to the active controller ------------------- */

static void request_unlink(struct broker_request **list, struct broker_request *req) {
    struct broker_request **at = list;
    while (*at != NULL && *at != req) at = &(*at)->wait_next;
    ASSERT(*at == req);
    *at = req->wait_next;
    req->wait_next = NULL;
}

static void admin_wait_release(struct broker_request *req) {
    struct io *io = req->broker->io;
    if (req->answer != NULL) io_free(io, req->answer, req->answer_len);
    for (uint32_t i = 0; i < req->wait_count; i++) {
        io_strfree(io, req->wait_topics[i]);
        if (req->wait_configs[i] != NULL) io_strfree(io, req->wait_configs[i]);
    }
    if (req->wait_topics != NULL) {
        io_free(io, req->wait_topics, req->wait_count * sizeof(*req->wait_topics));
        io_free(io, req->wait_counts, req->wait_count * sizeof(*req->wait_counts));
        io_free(io, req->wait_configs, req->wait_count * sizeof(*req->wait_configs));
    }
    req->answer = NULL;
    req->wait_configs = NULL;
    req->wait_topics = NULL;
    req->wait_counts = NULL;
    req->wait_count = 0;
}

/* Whether the image's overrides of `mt` are exactly the "name=value\n" lines of `expect`. */
static bool image_configs_match(const struct metadata_topic *mt, const char *expect) {
    uint32_t lines = 0;
    const char *line = expect;
    /* Bound: one pass per line of `expect`. */
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        ASSERT(end != NULL);
        const char *eq = memchr(line, '=', (size_t)(end - line));
        ASSERT(eq != NULL);
        bool found = false;
        for (uint32_t i = 0; i < mt->config_count && !found; i++) {
            const struct metadata_topic_config *c = &mt->configs[i];
            found = strlen(c->name) == (size_t)(eq - line) &&
                    memcmp(c->name, line, (size_t)(eq - line)) == 0 &&
                    strlen(c->value) == (size_t)(end - eq - 1) &&
                    memcmp(c->value, eq + 1, (size_t)(end - eq - 1)) == 0;
        }
        if (!found) return false;
        lines++;
        line = end + 1;
    }
    return lines == mt->config_count;
}

/* Whether this broker's image shows what the controller said it committed. */
static bool admin_wait_done(struct broker *broker, const struct broker_request *req) {
    const struct metadata_image *image = quorum_client_image(broker->qc);
    for (uint32_t i = 0; i < req->wait_count; i++) {
        const struct metadata_topic *mt = metadata_topic_find(image, req->wait_topics[i]);
        if (req->wait_absent ? mt != NULL
                             : mt == NULL || mt->partition_count < req->wait_counts[i]) {
            return false;
        }
        if (req->wait_configs != NULL && req->wait_configs[i] != NULL &&
            !image_configs_match(mt, req->wait_configs[i])) {
            return false;
        }
    }
    return true;
}

/* Answers the admin requests whose change reached this broker's image (or timed out, or
 * all of them). A client that creates a topic then produces to it must find it here. */
static void admin_waits_check(struct broker *broker, bool all) {
    int64_t now_ms = broker_now_ms(broker);
    struct broker_request *req = broker->admin_waits;
    while (req != NULL) {
        struct broker_request *next = req->wait_next;
        if (all || now_ms >= req->deadline_ms || admin_wait_done(broker, req)) {
            request_unlink(&broker->admin_waits, req);
            broker_conn_respond(req->conn, req->slot, req->answer, req->answer_len, NULL, 0);
            admin_wait_release(req);
            request_free(req);
        }
        req = next;
    }
}

static void admin_wait_add(struct broker_request *req, const char *name, int32_t count,
                           const char *configs) {
    struct io *io = req->broker->io;
    if (req->wait_count >= BROKER_ADMIN_WAIT_TOPICS_MAX) return;
    req->wait_configs = io_realloc(io, req->wait_configs, req->wait_count * sizeof(char *),
                                   (req->wait_count + 1) * sizeof(char *));
    req->wait_configs[req->wait_count] = configs != NULL ? io_strdup(io, configs) : NULL;
    req->wait_topics = io_realloc(io, req->wait_topics, req->wait_count * sizeof(char *),
                                  (req->wait_count + 1) * sizeof(char *));
    req->wait_counts = io_realloc(io, req->wait_counts, req->wait_count * sizeof(int32_t),
                                  (req->wait_count + 1) * sizeof(int32_t));
    req->wait_topics[req->wait_count] = io_strdup(io, name);
    req->wait_counts[req->wait_count] = count;
    req->wait_count++;
}

/* Every topic of an admin request answered with `error` (no controller reachable). */
static int admin_respond_error(struct broker_request *req, int16_t error) {
    int16_t version = req->header.api_version;
    switch (req->header.api_key) {
    case PROTO_API_CREATE_TOPICS: {
        const struct proto_create_topics_request *cr = req->body;
        struct proto_create_topics_response resp;
        proto_schema_defaults(&proto_schema_create_topics_response, version, &resp);
        resp.topics.count = cr->topics.count;
        resp.topics.items = arena_array(req, (size_t)cr->topics.count, sizeof(*resp.topics.items));
        if (resp.topics.items == NULL) return -ENOMEM;
        for (int32_t i = 0; i < cr->topics.count; i++) {
            resp.topics.items[i].name = cr->topics.items[i].name;
            resp.topics.items[i].error_code = error;
            resp.topics.items[i].error_message = PROTO_STR_NULL;
        }
        return respond_body(req, &resp);
    }
    case PROTO_API_DELETE_TOPICS: {
        const struct proto_delete_topics_request *dr = req->body;
        struct proto_delete_topics_response resp;
        proto_schema_defaults(&proto_schema_delete_topics_response, version, &resp);
        resp.responses.count = dr->topic_names.count;
        resp.responses.items = arena_array(req, (size_t)dr->topic_names.count,
                                           sizeof(*resp.responses.items));
        if (resp.responses.items == NULL) return -ENOMEM;
        for (int32_t i = 0; i < dr->topic_names.count; i++) {
            resp.responses.items[i].name = dr->topic_names.items[i];
            resp.responses.items[i].error_code = error;
        }
        return respond_body(req, &resp);
    }
    case PROTO_API_CREATE_PARTITIONS: {
        const struct proto_create_partitions_request *cr = req->body;
        struct proto_create_partitions_response resp;
        proto_schema_defaults(&proto_schema_create_partitions_response, version, &resp);
        resp.results.count = cr->topics.count;
        resp.results.items = arena_array(req, (size_t)cr->topics.count,
                                         sizeof(*resp.results.items));
        if (resp.results.items == NULL) return -ENOMEM;
        for (int32_t i = 0; i < cr->topics.count; i++) {
            resp.results.items[i].name = cr->topics.items[i].name;
            resp.results.items[i].error_code = error;
            resp.results.items[i].error_message = PROTO_STR_NULL;
        }
        return respond_body(req, &resp);
    }
    case PROTO_API_ALTER_CONFIGS: {
        const struct proto_alter_configs_request *ar = req->body;
        struct proto_alter_configs_response resp;
        proto_schema_defaults(&proto_schema_alter_configs_response, version, &resp);
        resp.responses.count = ar->resources.count;
        resp.responses.items = arena_array(req, (size_t)ar->resources.count,
                                           sizeof(*resp.responses.items));
        if (resp.responses.items == NULL) return -ENOMEM;
        for (int32_t i = 0; i < ar->resources.count; i++) {
            resp.responses.items[i].resource_type = ar->resources.items[i].resource_type;
            resp.responses.items[i].resource_name = ar->resources.items[i].resource_name;
            resp.responses.items[i].error_code = error;
            resp.responses.items[i].error_message = PROTO_STR_NULL;
        }
        return respond_body(req, &resp);
    }
    default:
        ASSERT(false);
        return -EINVAL;
    }
}

/* The controller answered: keep its encoded answer until this broker's image shows it. */
static void admin_forward_done(void *arg, int status, const void *response) {
    struct broker_request *req = arg;
    struct broker *broker = req->broker;
    request_unlink(&broker->forwards, req);
    if (status < 0 || response == NULL) {
        admin_respond_error(req, KERR_REQUEST_TIMED_OUT);
        request_free(req);
        return;
    }
    struct proto_writer w;
    proto_writer_init(&w, broker->io, BROKER_RESPONSE_BYTES_MAX);
    struct proto_response_header rh = {.correlation_id = req->header.correlation_id};
    int rc = proto_response_encode(&w, req->header.api_key, req->header.api_version, &rh,
                                   response);
    if (rc < 0) {
        io_log(broker->io, IO_LOG_ERROR, "cannot encode the controller's answer: %d", rc);
        proto_writer_destroy(&w);
        broker_conn_close(req->conn, rc); /* Before the answer, which may free it. */
        broker_conn_respond_none(req->conn, req->slot);
        request_free(req);
        return;
    }
    req->answer = io_alloc(broker->io, w.len);
    memcpy(req->answer, w.buf, w.len);
    req->answer_len = w.len;
    proto_writer_destroy(&w);
    int32_t timeout_ms = 0;
    switch (req->header.api_key) {
    case PROTO_API_CREATE_TOPICS: {
        const struct proto_create_topics_request *cr = req->body;
        const struct proto_create_topics_response *resp = response;
        timeout_ms = cr->timeout_ms;
        for (int32_t i = 0; i < resp->topics.count && !cr->validate_only; i++) {
            if (resp->topics.items[i].error_code != KERR_NONE) continue;
            admin_wait_add(req, str_or_empty(resp->topics.items[i].name), 1, NULL);
        }
        break;
    }
    case PROTO_API_DELETE_TOPICS: {
        const struct proto_delete_topics_request *dr = req->body;
        const struct proto_delete_topics_response *resp = response;
        timeout_ms = dr->timeout_ms;
        req->wait_absent = true;
        for (int32_t i = 0; i < resp->responses.count; i++) {
            if (resp->responses.items[i].error_code != KERR_NONE) continue;
            admin_wait_add(req, str_or_empty(resp->responses.items[i].name), 0, NULL);
        }
        break;
    }
    case PROTO_API_CREATE_PARTITIONS: {
        const struct proto_create_partitions_request *cr = req->body;
        const struct proto_create_partitions_response *resp = response;
        timeout_ms = cr->timeout_ms;
        for (int32_t i = 0; i < resp->results.count && !cr->validate_only; i++) {
            if (resp->results.items[i].error_code != KERR_NONE) continue;
            int32_t want = i < cr->topics.count ? cr->topics.items[i].count : 1;
            admin_wait_add(req, str_or_empty(resp->results.items[i].name), want, NULL);
        }
        break;
    }
    case PROTO_API_ALTER_CONFIGS: {
        /* AlterConfigs replaces a topic's whole override set: wait until the image shows
         * it, so a DescribeConfigs that follows reads the new values (bounded: configs
         * the controller normalises differently only delay the answer). */
        const struct proto_alter_configs_request *ar = req->body;
        const struct proto_alter_configs_response *resp = response;
        timeout_ms = BROKER_ALTER_CONFIGS_WAIT_MS;
        for (int32_t i = 0; i < resp->responses.count && !ar->validate_only; i++) {
            if (resp->responses.items[i].error_code != KERR_NONE || i >= ar->resources.count ||
                ar->resources.items[i].resource_type != 2) {
                continue;
            }
            const struct proto_alter_configs_resource *r = &ar->resources.items[i];
            size_t cap = 1;
            for (int32_t c = 0; c < r->configs.count; c++) {
                cap += (size_t)MAX(r->configs.items[c].name.len, 0) +
                       (size_t)MAX(r->configs.items[c].value.len, 0) + 2;
            }
            char *lines = io_alloc(broker->io, cap);
            size_t len = 0;
            lines[0] = '\0';
            for (int32_t c = 0; c < r->configs.count; c++) {
                const struct proto_alter_configs_config *cc = &r->configs.items[c];
                if (cc->value.str == NULL) continue; /* Null: back to the default. */
                int n = snprintf(lines + len, cap - len, "%s=%s\n", str_or_empty(cc->name),
                                 cc->value.str);
                ASSERT(n > 0 && (size_t)n < cap - len);
                len += (size_t)n;
            }
            admin_wait_add(req, str_or_empty(r->resource_name), 1, lines);
            io_free(broker->io, lines, cap);
        }
        break;
    }
    default:
        ASSERT(false);
    }
    if (timeout_ms <= 0) timeout_ms = (int32_t)MIN(broker->config.request_timeout_ms, INT32_MAX);
    req->deadline_ms = broker_now_ms(broker) + timeout_ms;
    req->wait_next = broker->admin_waits;
    broker->admin_waits = req;
    admin_waits_check(broker, false);
}

/* Returns 1 (the request waits for the controller) or 0 (answered with an error). */
static int admin_forward(struct broker_request *req) {
    struct broker *broker = req->broker;
    int rc = quorum_client_forward(broker->qc, req->header.api_key, req->header.api_version,
                                   req->body, admin_forward_done, req);
    if (rc < 0) {
        io_log(broker->io, IO_LOG_WARN, "cannot forward api %d: %d", req->header.api_key, rc);
        return admin_respond_error(req, KERR_REQUEST_TIMED_OUT);
    }
    req->wait_next = broker->forwards;
    broker->forwards = req;
    return 1;
}

/* A fire-and-forget CreateTopics (auto-creation, __consumer_offsets): the request lives in
 * its own arena until the controller answers. */
struct broker_auto_create {
    struct broker_auto_create *next; /* broker->auto_creates: freed at stop if unanswered. */
    struct broker *broker;
    struct proto_arena arena;
    struct proto_create_topics_request request;
};

static void auto_create_done(void *arg, int status, const void *response) {
    struct broker_auto_create *ac = arg;
    struct io *io = ac->broker->io;
    struct broker_auto_create **at = &ac->broker->auto_creates;
    while (*at != NULL && *at != ac) at = &(*at)->next;
    ASSERT(*at == ac);
    *at = ac->next;
    if (ac->broker->offsets_create_sent &&
        strcmp(str_or_empty(ac->request.topics.items[0].name), BROKER_OFFSETS_TOPIC) == 0) {
        ac->broker->offsets_create_sent = false; /* Retry on the next FindCoordinator. */
    }
    (void)status;
    (void)response;
    proto_arena_destroy(&ac->arena);
    io_free(io, ac, sizeof(*ac));
}

static void auto_create_topic(struct broker *broker, const char *name, int32_t partitions,
                              int16_t replication, bool compact) {
    struct broker_auto_create *ac = io_calloc(broker->io, 1, sizeof(*ac));
    ac->broker = broker;
    proto_arena_init(&ac->arena, broker->io, 4096);
    proto_schema_defaults(&proto_schema_create_topics_request, 5, &ac->request);
    struct proto_create_topics_request_topic *t =
        proto_arena_alloc(&ac->arena, sizeof(*t));
    struct proto_create_topics_request_config *c = proto_arena_alloc(&ac->arena, sizeof(*c));
    char *copy = proto_arena_alloc(&ac->arena, strlen(name) + 1);
    ASSERT(t != NULL && c != NULL && copy != NULL);
    memcpy(copy, name, strlen(name) + 1);
    memset(t, 0, sizeof(*t));
    memset(c, 0, sizeof(*c));
    t->name = proto_string_from(copy);
    t->num_partitions = partitions;
    t->replication_factor = replication;
    c->name = PROTO_STR("cleanup.policy");
    c->value = PROTO_STR("compact");
    t->configs.items = c;
    t->configs.count = compact ? 1 : 0;
    t->assignments.items = NULL;
    t->assignments.count = 0;
    ac->request.topics.items = t;
    ac->request.topics.count = 1;
    ac->request.timeout_ms = (int32_t)MIN(broker->config.request_timeout_ms, INT32_MAX);
    ac->request.validate_only = false;
    int rc = quorum_client_forward(broker->qc, PROTO_API_CREATE_TOPICS, 5, &ac->request,
                                   auto_create_done, ac);
    if (rc < 0) {
        proto_arena_destroy(&ac->arena);
        io_free(broker->io, ac, sizeof(*ac));
        return;
    }
    ac->next = broker->auto_creates;
    broker->auto_creates = ac;
}

/* --- ApiVersions, Metadata ----------------------------------------------------------- */

static int handle_api_versions(struct broker_request *req) {
    struct proto_api_versions_response_key keys[64];
    struct proto_api_versions_response resp = {.error_code = 0, .throttle_time_ms = 0};
    resp.api_keys.items = keys;
    resp.api_keys.count = (int32_t)proto_api_versions_fill(keys, ARRAY_LEN(keys));
    return respond_body(req, &resp);
}

/* Metadata from the committed image: unfenced brokers, every partition's leader, replicas
 * and ISR (LEADER_NOT_AVAILABLE while leaderless), the active controller. */
static void fill_metadata_topic_image(struct broker_request *req,
                                      const struct metadata_image *image,
                                      const struct metadata_topic *mt,
                                      struct proto_metadata_response_topic *out) {
    out->error_code = 0;
    out->name = proto_string_from(mt->name);
    out->is_internal = mt->name[0] == '_' && mt->name[1] == '_';
    out->topic_authorized_operations = INT32_MIN; /* v8+: not computed (no ACLs). */
    out->partitions.count = mt->partition_count;
    out->partitions.items = arena_array(req, (size_t)mt->partition_count,
                                        sizeof(*out->partitions.items));
    for (int32_t p = 0; p < mt->partition_count && out->partitions.items != NULL; p++) {
        const struct metadata_partition *src = &mt->partitions[p];
        struct proto_metadata_response_partition *mp = &out->partitions.items[p];
        memset(mp, 0, sizeof(*mp));
        mp->error_code = src->leader < 0 ? KERR_LEADER_NOT_AVAILABLE : KERR_NONE;
        mp->partition_index = src->index;
        mp->leader_id = src->leader;
        mp->leader_epoch = src->leader_epoch; /* v7+ (KIP-320): clients fence with it. */
        int32_t *replicas = arena_array(req, src->replica_count, sizeof(int32_t));
        int32_t *isr = arena_array(req, src->isr_count, sizeof(int32_t));
        if (replicas == NULL || isr == NULL) continue;
        memcpy(replicas, src->replicas, src->replica_count * sizeof(int32_t));
        memcpy(isr, src->isr, src->isr_count * sizeof(int32_t));
        mp->replica_nodes.items = replicas;
        mp->replica_nodes.count = (int32_t)src->replica_count;
        mp->isr_nodes.items = isr;
        mp->isr_nodes.count = (int32_t)src->isr_count;
        /* Replicas on fenced (or unknown) brokers are offline (Metadata v5+). */
        int32_t *offline = arena_array(req, src->replica_count, sizeof(int32_t));
        mp->offline_replicas.items = offline;
        mp->offline_replicas.count = 0;
        for (uint32_t r = 0; r < src->replica_count && offline != NULL; r++) {
            const struct metadata_broker *mb = metadata_broker_find(image, src->replicas[r]);
            if (mb == NULL || mb->fenced) offline[mp->offline_replicas.count++] = src->replicas[r];
        }
    }
}

static int handle_metadata(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_metadata_request *mr = req->body;
    int16_t version = req->header.api_version;
    const struct metadata_image *image = quorum_client_image(broker->qc);
    struct proto_metadata_response resp;
    proto_schema_defaults(&proto_schema_metadata_response, version, &resp);
    resp.brokers.items = arena_array(req, image->broker_count + 1, sizeof(*resp.brokers.items));
    if (resp.brokers.items == NULL) return -ENOMEM;
    resp.brokers.count = 0;
    bool self_listed = false;
    for (uint32_t i = 0; i < image->broker_count; i++) {
        const struct metadata_broker *mb = &image->brokers[i];
        if (mb->fenced && mb->id != broker->config.node_id) continue;
        self_listed = self_listed || mb->id == broker->config.node_id;
        resp.brokers.items[resp.brokers.count++] = (struct proto_metadata_response_broker){
            .node_id = mb->id, .host = proto_string_from(mb->host), .port = mb->port,
            .rack = PROTO_STR_NULL};
    }
    if (!self_listed) {
        /* Not registered yet: clients still learn how to reach this broker. */
        resp.brokers.items[resp.brokers.count++] = (struct proto_metadata_response_broker){
            .node_id = broker->config.node_id, .host = proto_string_from(broker->advertised_host),
            .port = broker->advertised_port, .rack = PROTO_STR_NULL};
    }
    resp.cluster_id = proto_string_from(broker->meta.cluster_id);
    resp.controller_id = quorum_client_controller_id(broker->qc);
    bool all = mr->topics.count < 0 || (version == 0 && mr->topics.count == 0);
    if (all) {
        resp.topics.count = (int32_t)image->topic_count;
        resp.topics.items = arena_array(req, image->topic_count, sizeof(*resp.topics.items));
        if (resp.topics.items == NULL) return -ENOMEM;
        for (uint32_t i = 0; i < image->topic_count; i++) {
            fill_metadata_topic_image(req, image, &image->topics[i], &resp.topics.items[i]);
        }
        return respond_body(req, &resp);
    }
    bool auto_create = broker->config.auto_create_topics_enable &&
                       (version < 4 || mr->allow_auto_topic_creation);
    resp.topics.count = mr->topics.count;
    resp.topics.items = arena_array(req, (size_t)mr->topics.count, sizeof(*resp.topics.items));
    if (resp.topics.items == NULL) return -ENOMEM;
    for (int32_t i = 0; i < mr->topics.count; i++) {
        const char *name = str_or_empty(mr->topics.items[i].name);
        struct proto_metadata_response_topic *out = &resp.topics.items[i];
        memset(out, 0, sizeof(*out));
        out->name = mr->topics.items[i].name;
        out->topic_authorized_operations = INT32_MIN;
        const struct metadata_topic *mt = metadata_topic_find(image, name);
        if (mt != NULL) {
            fill_metadata_topic_image(req, image, mt, out);
            continue;
        }
        if (!topic_name_valid(name, strlen(name))) {
            out->error_code = KERR_INVALID_TOPIC;
            continue;
        }
        if (strcmp(name, BROKER_OFFSETS_TOPIC) == 0) {
            broker_groups(broker); /* Internal: created with its own partitions and policy. */
            out->error_code = KERR_LEADER_NOT_AVAILABLE;
            continue;
        }
        if (auto_create) {
            /* Kafka answers LEADER_NOT_AVAILABLE while the topic is being created. */
            auto_create_topic(broker, name, broker->config.num_partitions,
                              broker->config.default_replication_factor, false);
            out->error_code = KERR_LEADER_NOT_AVAILABLE;
            continue;
        }
        out->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    return respond_body(req, &resp);
}

/* --- Produce ------------------------------------------------------------------------- */

/* message.timestamp.type=LogAppendTime: each batch gets the timestamp-type bit and the
 * broker's time as maxTimestamp (what consumers then report for every record), and a new
 * CRC since both fields are covered by it. The batches were validated already. */
static void stamp_log_append_time(uint8_t *batches, size_t len, int64_t now_ms) {
    size_t pos = 0;
    while (len - pos >= BATCH_HEADER_BYTES) {
        struct batch_header h;
        if (batch_header_decode(batches + pos, len - pos, &h) < 0) break;
        size_t total = batch_total_bytes(&h);
        ASSERT(total <= len - pos);
        uint8_t *b = batches + pos;
        uint16_t attributes = (uint16_t)h.attributes | BATCH_ATTR_TIMESTAMP_LOG_APPEND;
        b[21] = (uint8_t)(attributes >> 8);
        b[22] = (uint8_t)attributes;
        for (int i = 0; i < 8; i++) b[35 + i] = (uint8_t)((uint64_t)now_ms >> (56 - 8 * i));
        batch_crc_update(b, total);
        pos += total;
    }
}

/* The partition a parked produce waits on, by position in the request (names, not
 * pointers: the topic may be deleted meanwhile). */
static struct partition *produce_wait_partition(struct broker_request *req, uint32_t n) {
    const struct proto_produce_request *pr = req->body;
    uint32_t k = 0;
    for (int32_t i = 0; i < pr->topic_data.count; i++) {
        const struct proto_produce_request_topic *rt = &pr->topic_data.items[i];
        if (n >= k + (uint32_t)rt->partition_data.count) {
            k += (uint32_t)rt->partition_data.count;
            continue;
        }
        return partition_find(req->broker, str_or_empty(rt->name),
                              rt->partition_data.items[n - k].index);
    }
    return NULL;
}

/* acks=all: done once every waiting partition's HW passed its batch, or it lost its
 * leadership (answered NOT_LEADER_OR_FOLLOWER, the client retries on the new leader). */
static bool produce_try_complete(struct purgatory_op *op) {
    struct broker_request *req =
        (struct broker_request *)(void *)((char *)op - offsetof(struct broker_request, op));
    for (uint32_t n = 0; n < req->produce_wait_count; n++) {
        if (req->produce_wait[n] < 0) continue;
        struct partition *part = produce_wait_partition(req, n);
        if (part != NULL && partition_is_leader(part) &&
            part->high_watermark <= req->produce_wait[n]) {
            return false;
        }
    }
    return true;
}

static void produce_on_complete(struct purgatory_op *op, bool expired) {
    struct broker_request *req =
        (struct broker_request *)(void *)((char *)op - offsetof(struct broker_request, op));
    struct proto_produce_response *resp = req->produce_resp;
    uint32_t n = 0;
    for (int32_t i = 0; i < resp->responses.count; i++) {
        struct proto_produce_response_topic *out = &resp->responses.items[i];
        for (int32_t j = 0; j < out->partition_responses.count; j++, n++) {
            ASSERT(n < req->produce_wait_count);
            if (req->produce_wait[n] < 0) continue;
            struct proto_produce_response_partition *op_out = &out->partition_responses.items[j];
            struct partition *part = produce_wait_partition(req, n);
            if (part == NULL || !partition_is_leader(part)) {
                op_out->error_code = KERR_NOT_LEADER_OR_FOLLOWER;
            } else if (part->high_watermark <= req->produce_wait[n]) {
                ASSERT(expired);
                op_out->error_code = KERR_REQUEST_TIMED_OUT;
            }
            if (op_out->error_code != KERR_NONE) op_out->base_offset = -1;
        }
    }
    respond_body(req, resp);
    request_free(req);
}

static int handle_produce(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_produce_request *pr = req->body;
    int16_t version = req->header.api_version;
    struct proto_produce_response *resp_ptr = arena_array(req, 1, sizeof(*resp_ptr));
    if (resp_ptr == NULL) return -ENOMEM;
    struct proto_produce_response resp;
    proto_schema_defaults(&proto_schema_produce_response, version, &resp);
    bool acks_ok = pr->acks == 0 || pr->acks == 1 || pr->acks == -1;
    int64_t now_ms = broker_now_ms(broker);
    resp.responses.count = pr->topic_data.count;
    resp.responses.items = arena_array(req, (size_t)pr->topic_data.count,
                                       sizeof(*resp.responses.items));
    if (resp.responses.items == NULL) return -ENOMEM;
    uint32_t wait_total = 0, waiting = 0;
    for (int32_t i = 0; i < pr->topic_data.count; i++) {
        wait_total += (uint32_t)MAX(pr->topic_data.items[i].partition_data.count, 0);
    }
    int64_t *wait = arena_array(req, wait_total, sizeof(int64_t));
    if (wait == NULL) return -ENOMEM;
    for (uint32_t n = 0; n < wait_total; n++) wait[n] = -1;
    uint32_t slot = 0;
    for (int32_t i = 0; i < pr->topic_data.count; i++) {
        const struct proto_produce_request_topic *rt = &pr->topic_data.items[i];
        struct proto_produce_response_topic *out = &resp.responses.items[i];
        out->name = rt->name;
        out->partition_responses.count = rt->partition_data.count;
        out->partition_responses.items = arena_array(req, (size_t)rt->partition_data.count,
                                                     sizeof(*out->partition_responses.items));
        if (out->partition_responses.items == NULL) return -ENOMEM;
        struct broker_topic *t = topic_find(broker, str_or_empty(rt->name));
        for (int32_t j = 0; j < rt->partition_data.count; j++, slot++) {
            const struct proto_produce_request_partition *rp = &rt->partition_data.items[j];
            struct proto_produce_response_partition *op = &out->partition_responses.items[j];
            op->index = rp->index;
            op->error_code = 0;
            op->base_offset = -1;
            op->log_append_time_ms = -1;
            op->log_start_offset = -1;
            struct partition *part =
                (t != NULL && rp->index >= 0 && rp->index < t->partition_count)
                    ? t->partitions[rp->index] : NULL;
            if (!acks_ok) {
                op->error_code = KERR_INVALID_REQUIRED_ACKS;
                continue;
            }
            if (part == NULL) {
                op->error_code = missing_partition_error(broker, str_or_empty(rt->name), rp->index);
                continue;
            }
            if (!partition_is_leader(part)) {
                op->error_code = KERR_NOT_LEADER_OR_FOLLOWER;
                continue;
            }
            if (rp->records.len <= 0) {
                op->error_code = KERR_CORRUPT_MESSAGE;
                continue;
            }
            /* acks=-1 needs min.insync.replicas in the ISR before appending (Kafka checks
             * first, answering NOT_ENOUGH_REPLICAS; with one replica only a setting of 1
             * can be met). */
            if (pr->acks == -1 && !replica_enough_insync(part, t->min_insync_replicas)) {
                op->error_code = KERR_NOT_ENOUGH_REPLICAS; /* I-REPL-9 */
                continue;
            }
            struct batch_set_info info;
            int rc = batch_validate_produce_set(rp->records.data, (size_t)rp->records.len,
                                                t->log_config.max_batch_bytes, &info);
            if (rc == -EMSGSIZE) {
                op->error_code = KERR_MESSAGE_TOO_LARGE;
                continue;
            }
            if (rc < 0) {
                op->error_code = KERR_CORRUPT_MESSAGE;
                continue;
            }
            if (info.transactional) {
                /* No transaction coordinator yet: nothing can have added the partition. */
                op->error_code = KERR_INVALID_TXN_STATE;
                continue;
            }
            if (info.producer_id >= 0) {
                /* Idempotent producer (KIP-98): one batch per partition, as clients send. */
                struct batch_header h;
                struct partition_producer_batch dup;
                if (info.batch_count != 1 ||
                    batch_header_decode(rp->records.data, (size_t)rp->records.len, &h) < 0) {
                    op->error_code = KERR_CORRUPT_MESSAGE;
                    continue;
                }
                int verdict = partition_check_sequence(part, &h, &dup);
                if (verdict == PARTITION_SEQUENCE_DUPLICATE) {
                    op->base_offset = dup.first_offset; /* A retry: the original answer. */
                    op->log_start_offset = partition_log_start(part);
                    continue;
                }
                if (verdict < 0) {
                    op->error_code = (int16_t)-verdict;
                    continue;
                }
            }
            if (t->log_append_time) {
                stamp_log_append_time((uint8_t *)rp->records.data, (size_t)rp->records.len,
                                      now_ms);
                op->log_append_time_ms = now_ms;
            }
            struct log_append_info ai;
            /* The records point into the connection's input buffer, which is ours to modify:
             * the log stamps base offsets and leader epochs in place (the CRC excludes them). */
            rc = partition_append(part, (uint8_t *)rp->records.data, (size_t)rp->records.len,
                                  now_ms, &ai);
            if (rc < 0) {
                note_storage_error(broker, "append", rc);
                op->error_code = rc == -EMSGSIZE ? KERR_MESSAGE_TOO_LARGE
                                                 : KERR_KAFKA_STORAGE_ERROR;
                continue;
            }
            op->base_offset = ai.first_offset;
            op->log_start_offset = partition_log_start(part);
            if (pr->acks == -1 && part->high_watermark <= ai.last_offset) {
                wait[slot] = ai.last_offset; /* Parked until the ISR has it. */
                waiting++;
            }
            partition_wake(broker, part);
        }
    }
    if (pr->acks == 0) {
        broker_conn_respond_none(req->conn, req->slot);
        return 0;
    }
    if (waiting == 0) return respond_body(req, &resp);
    /* acks=all: wait in the purgatory until the HW passes every batch, or the timeout. */
    *resp_ptr = resp;
    req->produce_resp = resp_ptr;
    req->produce_wait = wait;
    req->produce_wait_count = wait_total;
    uint32_t key_count = MIN(waiting, (uint32_t)PURGATORY_KEYS_PER_OP_MAX);
    req->keys = io_alloc(broker->io, key_count * sizeof(uint64_t));
    req->key_count = key_count;
    uint32_t k = 0;
    for (uint32_t n = 0; n < wait_total && k < key_count; n++) {
        if (wait[n] < 0) continue;
        struct partition *part = produce_wait_partition(req, n);
        ASSERT(part != NULL);
        req->keys[k++] = part->key;
    }
    req->op.try_complete = produce_try_complete;
    req->op.on_complete = produce_on_complete;
    uint64_t timeout_ms = pr->timeout_ms > 0 ? (uint64_t)pr->timeout_ms
                                              : (uint64_t)broker->config.request_timeout_ms;
    purgatory_add(broker->produces, &req->op, req->keys, k, timeout_ms);
    return 1;
}

/* --- Fetch --------------------------------------------------------------------------- */

/* Per-partition read for a fetch, against the current state. */
struct fetch_read {
    int16_t error;
    int32_t leader_epoch;
    int64_t high_watermark;
    int64_t last_stable;
    int64_t log_start;
    struct log *log; /* What result points into; NULL if nothing was read. */
    struct log_read_result result;
};

static void fetch_read_partition(struct broker_request *req, const char *topic,
                                 const struct proto_fetch_request_partition *fp,
                                 size_t max_bytes, bool min_one_batch, struct fetch_read *out) {
    const struct proto_fetch_request *fr = req->body;
    memset(out, 0, sizeof(*out));
    out->high_watermark = -1;
    out->last_stable = -1;
    out->log_start = -1;
    out->result.first_offset = -1;
    struct partition *part = partition_find(req->broker, topic, fp->partition);
    if (part == NULL) {
        out->error = missing_partition_error(req->broker, topic, fp->partition);
        return;
    }
    bool follower = fr->replica_id >= 0;
    /* Only the leader serves Fetch, consumers and followers alike (I-REPL-10). */
    out->error = leader_check(part, fp->current_leader_epoch);
    if (out->error != KERR_NONE) return;
    out->leader_epoch = part->leader_epoch;
    out->high_watermark = part->high_watermark;
    out->last_stable = partition_last_stable(part);
    out->log_start = partition_log_start(part);
    /* Consumers read below the HW (I-REPL-5); followers up to the log end. */
    int64_t limit = follower ? partition_log_end(part)
                    : fr->isolation_level == 1 ? out->last_stable : out->high_watermark;
    if (fp->fetch_offset < out->log_start || fp->fetch_offset > partition_log_end(part)) {
        out->error = KERR_OFFSET_OUT_OF_RANGE;
        return;
    }
    if (max_bytes == 0 && !min_one_batch) return;
    out->log = part->log;
    int rc = log_read(part->log, fp->fetch_offset, max_bytes, min_one_batch, limit, &out->result);
    if (rc == -ERANGE) {
        out->error = KERR_OFFSET_OUT_OF_RANGE;
    } else if (rc < 0) {
        note_storage_error(req->broker, "read", rc);
        out->error = KERR_KAFKA_STORAGE_ERROR;
    }
}

/* Walks the request in order applying Kafka's byte budgets; calls `visit` per partition. */
typedef void (*fetch_visit_fn)(void *arg, const struct proto_fetch_request_topic *t,
                               const struct proto_fetch_request_partition *p,
                               const struct fetch_read *read);

static void fetch_walk(struct broker_request *req, fetch_visit_fn visit, void *arg) {
    const struct proto_fetch_request *fr = req->body;
    int64_t budget = fr->max_bytes > 0 ? fr->max_bytes : INT32_MAX;
    bool first_data = true;
    for (int32_t i = 0; i < fr->topics.count; i++) {
        const struct proto_fetch_request_topic *t = &fr->topics.items[i];
        for (int32_t j = 0; j < t->partitions.count; j++) {
            const struct proto_fetch_request_partition *p = &t->partitions.items[j];
            int64_t part_max = p->partition_max_bytes > 0 ? p->partition_max_bytes : 0;
            int64_t max_bytes = MIN(part_max, budget);
            struct fetch_read read;
            /* KIP-74: the first partition with data returns at least one whole batch, so
             * a batch larger than the limits cannot stall the consumer. */
            fetch_read_partition(req, str_or_empty(t->topic), p, (size_t)MAX(max_bytes, 0),
                                 first_data, &read);
            if (read.result.total_bytes > 0) {
                first_data = false;
                budget -= (int64_t)read.result.total_bytes;
                if (budget < 0) budget = 0;
            }
            visit(arg, t, p, &read);
        }
    }
}

struct fetch_tally {
    size_t bytes;
    bool error;
};

static void fetch_tally_visit(void *arg, const struct proto_fetch_request_topic *t,
                              const struct proto_fetch_request_partition *p,
                              const struct fetch_read *read) {
    struct fetch_tally *tally = arg;
    tally->bytes += read->result.total_bytes;
    if (read->error != KERR_NONE) tally->error = true;
}

struct fetch_encode {
    struct broker *broker;
    int32_t replica_id;
    struct proto_writer *w;
    int16_t version;
    struct broker_conn_splice *splices;
    size_t splice_count;
    size_t splice_cap;
    size_t spliced_bytes;
    const struct proto_fetch_request_topic *current_topic;
    size_t partition_count_pos;
    int32_t partition_count;
};

/*
 * Where to start reading back batch headers to find the last batch of a range: the last
 * index entry of its segment inside the range (every entry is a batch boundary), else the
 * range's start. Saves one pread per batch of a long range.
 */
static uint64_t fetch_range_walk_from(const struct log *log, const struct log_read_range *range) {
    uint64_t stop = range->position + range->length;
    /* Bounded by the segment count; a read's last range is almost always the last one. */
    for (size_t i = log->segment_count; i-- > 0;) {
        const struct log_segment *s = &log->segments[i];
        if (s->log_file != range->file) continue;
        uint32_t lo = 0, hi = s->index_count;
        while (lo < hi) { /* First entry at or after stop. */
            uint32_t mid = lo + (hi - lo) / 2;
            if (s->index[mid].position < stop) lo = mid + 1;
            else hi = mid;
        }
        if (lo > 0 && s->index[lo - 1].position > range->position) return s->index[lo - 1].position;
        return range->position;
    }
    return range->position;
}

/* One past the last record of the ranges a read returns: the last batch of the last range
 * decides it. A range that ends the active segment ends at that segment's next offset
 * (exact there: the active segment is always scanned); otherwise its last batch header is
 * found by reading headers back from the closest index entry. */
static int64_t fetch_read_end(struct broker *broker, const struct fetch_read *read,
                              int64_t fetch_offset) {
    if (read->result.range_count == 0) return fetch_offset;
    const struct log_read_range *range = &read->result.ranges[read->result.range_count - 1];
    uint64_t pos = range->position, stop = range->position + range->length;
    const struct log *log = read->log;
    ASSERT(log != NULL && log->segment_count > 0);
    const struct log_segment *active = &log->segments[log->segment_count - 1];
    if (range->file == active->log_file && stop == active->size_bytes) return active->next_offset;
    pos = fetch_range_walk_from(log, range);
    int64_t end = fetch_offset;
    /* Bound: every step moves past one whole batch (>= the header's size). */
    while (pos + BATCH_HEADER_BYTES <= stop) {
        uint8_t h[27];
        if (io_file_pread(broker->io, range->file, h, sizeof(h), pos) != (int64_t)sizeof(h)) {
            return end;
        }
        int64_t base = 0;
        for (int i = 0; i < 8; i++) base = (int64_t)((uint64_t)base << 8 | h[i]);
        uint32_t length = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 |
                          (uint32_t)h[10] << 8 | h[11];
        uint32_t delta = (uint32_t)h[23] << 24 | (uint32_t)h[24] << 16 |
                         (uint32_t)h[25] << 8 | h[26];
        end = base + (int64_t)delta + 1;
        if (length < BATCH_HEADER_BYTES - 12) break;
        pos += 12 + (uint64_t)length;
    }
    return end;
}

/* fetch_served (docs/REPLICATION.md): what a Fetch answer carried, for I-REPL-5. */
static void fetch_trace_served(struct fetch_encode *fe, const struct proto_fetch_request_topic *t,
                               const struct proto_fetch_request_partition *p,
                               const struct fetch_read *read) {
    if (read->error != KERR_NONE) return;
    int64_t end = fetch_read_end(fe->broker, read, p->fetch_offset);
    io_tracef(fe->broker->io, "fetch_served", IO_TF_S("topic", str_or_empty(t->topic)),
              IO_TF_I("partition", p->partition), IO_TF_I("offset", p->fetch_offset),
              IO_TF_I("end", end), IO_TF_I("hw", read->high_watermark),
              IO_TF_I("replica", fe->replica_id < 0 ? -1 : fe->replica_id),
              IO_TF_I("epoch", read->leader_epoch));
}

static void fetch_encode_visit(void *arg, const struct proto_fetch_request_topic *t,
                               const struct proto_fetch_request_partition *p,
                               const struct fetch_read *read) {
    struct fetch_encode *fe = arg;
    struct proto_writer *w = fe->w;
    if (fe->current_topic != t) {
        if (fe->current_topic != NULL) {
            proto_writer_patch_i32(w, fe->partition_count_pos, fe->partition_count);
        }
        fe->current_topic = t;
        proto_write_string(w, t->topic, false, false);
        fe->partition_count_pos = w->len;
        proto_write_i32(w, 0);
        fe->partition_count = 0;
    }
    fe->partition_count++;
    fetch_trace_served(fe, t, p, read);
    proto_write_i32(w, p->partition);
    proto_write_i16(w, read->error);
    proto_write_i64(w, read->high_watermark);
    proto_write_i64(w, read->last_stable);            /* v4+ */
    if (fe->version >= 5) proto_write_i64(w, read->log_start);
    proto_write_i32(w, 0);                             /* aborted_transactions: none. */
    if (fe->version >= 11) proto_write_i32(w, -1);     /* preferred_read_replica */
    bool fits = fe->splice_count + read->result.range_count <= fe->splice_cap;
    size_t bytes = fits ? read->result.total_bytes : 0;
    proto_write_i32(w, (int32_t)bytes);
    if (bytes == 0) return;
    for (size_t r = 0; r < read->result.range_count; r++) {
        const struct log_read_range *range = &read->result.ranges[r];
        fe->splices[fe->splice_count++] = (struct broker_conn_splice){
            .at = w->len, .file = range->file, .position = range->position,
            .length = range->length};
        fe->spliced_bytes += range->length;
    }
}

static int fetch_respond(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_fetch_request *fr = req->body;
    int16_t version = req->header.api_version;
    ASSERT(version >= 4 && version <= 11);
    struct proto_writer w;
    proto_writer_init(&w, broker->io, BROKER_RESPONSE_BYTES_MAX);
    struct fetch_encode fe = {.broker = broker, .replica_id = fr->replica_id, .w = &w,
                              .version = version, .splice_cap = BROKER_CONN_SPLICES_MAX};
    fe.splices = io_alloc(broker->io, fe.splice_cap * sizeof(*fe.splices));
    proto_write_i32(&w, 0); /* Size, patched below. */
    proto_write_i32(&w, req->header.correlation_id);
    proto_write_i32(&w, 0); /* throttle_time_ms (v1+) */
    if (version >= 7) {
        proto_write_i16(&w, 0); /* error_code */
        proto_write_i32(&w, 0); /* session_id: no fetch sessions. */
    }
    /* Topics as requested; a topic named twice in a row is one entry, as sent. */
    int32_t topic_entries = 0;
    for (int32_t i = 0; i < fr->topics.count; i++)
        topic_entries += fr->topics.items[i].partitions.count > 0;
    proto_write_i32(&w, topic_entries);
    fetch_walk(req, fetch_encode_visit, &fe);
    if (fe.current_topic != NULL)
        proto_writer_patch_i32(&w, fe.partition_count_pos, fe.partition_count);
    int rc = w.error;
    size_t total = w.len - 4 + fe.spliced_bytes;
    if (rc == 0 && total > INT32_MAX) rc = -EMSGSIZE;
    if (rc == 0) {
        proto_writer_patch_i32(&w, 0, (int32_t)total);
        broker_conn_respond(req->conn, req->slot, w.buf, w.len, fe.splices, fe.splice_count);
    } else {
        io_log(broker->io, IO_LOG_ERROR, "cannot encode fetch response: %d", rc);
        broker_conn_close(req->conn, rc); /* Before the answer, which may free it. */
        broker_conn_respond_none(req->conn, req->slot);
    }
    io_free(broker->io, fe.splices, fe.splice_cap * sizeof(*fe.splices));
    proto_writer_destroy(&w);
    return 0;
}

static bool fetch_ready(struct broker_request *req) {
    const struct proto_fetch_request *fr = req->body;
    struct fetch_tally tally = {0};
    fetch_walk(req, fetch_tally_visit, &tally);
    return tally.error || tally.bytes >= (size_t)MAX(fr->min_bytes, 1) ||
           broker_conn_is_closed(req->conn);
}

static bool fetch_try_complete(struct purgatory_op *op) {
    struct broker_request *req =
        (struct broker_request *)(void *)((char *)op - offsetof(struct broker_request, op));
    return fetch_ready(req);
}

static void fetch_on_complete(struct purgatory_op *op, bool expired) {
    struct broker_request *req =
        (struct broker_request *)(void *)((char *)op - offsetof(struct broker_request, op));
    fetch_respond(req);
    request_free(req);
}

/* Returns 1 if the request was parked (ownership moved to the purgatory). */
/* A follower's Fetch tells the leader how far it got: HW, waiting produces, ISR joins. */
static void fetch_note_follower(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_fetch_request *fr = req->body;
    int64_t now_ms = broker_now_ms(broker);
    for (int32_t i = 0; i < fr->topics.count; i++) {
        const struct proto_fetch_request_topic *t = &fr->topics.items[i];
        struct broker_topic *bt = topic_find(broker, str_or_empty(t->topic));
        for (int32_t j = 0; j < t->partitions.count && bt != NULL; j++) {
            const struct proto_fetch_request_partition *p = &t->partitions.items[j];
            struct partition *part = partition_find(broker, bt->name, p->partition);
            if (part == NULL || !partition_is_leader(part)) continue;
            if (p->current_leader_epoch >= 0 && p->current_leader_epoch != part->leader_epoch) {
                continue; /* Answered FENCED/UNKNOWN_LEADER_EPOCH; its offset means nothing. */
            }
            if (!replica_listed(part->replicas, part->replica_count, fr->replica_id)) {
                continue;
            }
            if (partition_follower_fetched(part, fr->replica_id, p->fetch_offset, now_ms)) {
                partition_wake(broker, part);
            }
            isr_maybe_propose(broker, bt, part, now_ms);
        }
    }
}

static int handle_fetch(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_fetch_request *fr = req->body;
    if (fr->replica_id >= 0) fetch_note_follower(req);
    if (fr->max_wait_ms <= 0 || fr->min_bytes <= 0 || fetch_ready(req)) return fetch_respond(req);
    uint32_t n = 0;
    for (int32_t i = 0; i < fr->topics.count; i++)
        n += (uint32_t)fr->topics.items[i].partitions.count;
    if (n > PURGATORY_KEYS_PER_OP_MAX) return fetch_respond(req);
    req->keys = io_alloc(broker->io, (n == 0 ? 1 : n) * sizeof(uint64_t));
    req->key_count = n == 0 ? 1 : n;
    uint32_t k = 0;
    for (int32_t i = 0; i < fr->topics.count; i++) {
        const struct proto_fetch_request_topic *t = &fr->topics.items[i];
        struct broker_topic *bt = topic_find(broker, str_or_empty(t->topic));
        for (int32_t j = 0; j < t->partitions.count; j++) {
            int32_t idx = t->partitions.items[j].partition;
            /* Unknown partitions made fetch_ready() true already; all keys are real. */
            ASSERT(bt != NULL && idx >= 0 && idx < bt->partition_count &&
                   bt->partitions[idx] != NULL);
            req->keys[k++] = bt->partitions[idx]->key;
        }
    }
    req->op.try_complete = fetch_try_complete;
    req->op.on_complete = fetch_on_complete;
    purgatory_add(broker->fetches, &req->op, req->keys, k, (uint64_t)fr->max_wait_ms);
    return 1;
}

/* --- ListOffsets ----------------------------------------------------------------------- */

static int handle_list_offsets(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_list_offsets_request *lr = req->body;
    int16_t version = req->header.api_version;
    struct proto_list_offsets_response resp;
    proto_schema_defaults(&proto_schema_list_offsets_response, version, &resp);
    resp.topics.count = lr->topics.count;
    resp.topics.items = arena_array(req, (size_t)lr->topics.count, sizeof(*resp.topics.items));
    if (resp.topics.items == NULL) return -ENOMEM;
    for (int32_t i = 0; i < lr->topics.count; i++) {
        const struct proto_list_offsets_request_topic *rt = &lr->topics.items[i];
        struct proto_list_offsets_response_topic *out = &resp.topics.items[i];
        out->name = rt->name;
        out->partitions.count = rt->partitions.count;
        out->partitions.items = arena_array(req, (size_t)rt->partitions.count,
                                            sizeof(*out->partitions.items));
        if (out->partitions.items == NULL) return -ENOMEM;
        for (int32_t j = 0; j < rt->partitions.count; j++) {
            const struct proto_list_offsets_request_partition *rp = &rt->partitions.items[j];
            struct proto_list_offsets_response_partition *op = &out->partitions.items[j];
            memset(op, 0, sizeof(*op));
            op->partition_index = rp->partition_index;
            op->timestamp = -1;
            op->offset = -1;
            op->leader_epoch = -1;
            struct partition *part = partition_find(broker, str_or_empty(rt->name),
                                                    rp->partition_index);
            if (part == NULL) {
                op->error_code = missing_partition_error(broker, str_or_empty(rt->name),
                                                         rp->partition_index);
                continue;
            }
            op->error_code = leader_check(part, rp->current_leader_epoch);
            if (op->error_code != KERR_NONE) continue;
            op->leader_epoch = part->leader_epoch;
            int64_t visible = lr->isolation_level == 1 ? partition_last_stable(part)
                                                       : part->high_watermark;
            if (rp->timestamp == -1) {
                op->offset = visible;
            } else if (rp->timestamp == -2) {
                op->offset = partition_log_start(part);
            } else {
                int64_t offset = -1, found = -1;
                int rc = log_offset_for_timestamp(part->log, rp->timestamp, &offset, &found);
                if (rc == 0 && offset < visible) {
                    op->offset = offset;
                    op->timestamp = found;
                } else if (rc < 0 && rc != -ENOENT) {
                    op->error_code = KERR_KAFKA_STORAGE_ERROR;
                }
            }
            if (version == 0) {
                /* v0: an array of offsets; none when nothing matched. */
                bool any = op->offset >= 0 && rp->max_num_offsets > 0;
                op->old_style_offsets.count = any ? 1 : 0;
                op->old_style_offsets.items = arena_array(req, 1, sizeof(int64_t));
                if (op->old_style_offsets.items == NULL) return -ENOMEM;
                op->old_style_offsets.items[0] = op->offset;
            }
        }
    }
    return respond_body(req, &resp);
}

/* --- Admin: CreateTopics, DeleteTopics, CreatePartitions ------------------------------ */

/* A CreateTopics topic's config overrides, checked as this broker would apply them. */
static int16_t create_configs_check(struct broker *broker,
                                    const struct proto_create_topics_request_topic *t) {
    struct topic_config configs[BROKER_TOPIC_CONFIGS_MAX];
    uint32_t count = 0;
    for (int32_t c = 0; c < t->configs.count; c++) {
        const struct proto_create_topics_request_config *cc = &t->configs.items[c];
        if (cc->value.str == NULL) continue;
        if (count == BROKER_TOPIC_CONFIGS_MAX || cc->name.len >= 64 ||
            cc->value.len >= BROKER_CONFIG_VALUE_MAX) {
            return KERR_INVALID_CONFIG;
        }
        memcpy(configs[count].name, cc->name.str, (size_t)cc->name.len + 1);
        memcpy(configs[count].value, cc->value.str, (size_t)cc->value.len + 1);
        count++;
    }
    return topic_configs_check(&broker->config, configs, count);
}

static int handle_create_topics(struct broker_request *req) {
    struct broker *broker = req->broker;
    /* Config values are checked here (the controller stores what it is given): a
     * request with an invalid one is refused whole, naming the culprit. */
    const struct proto_create_topics_request *cr = req->body;
    bool valid = true;
    for (int32_t i = 0; i < cr->topics.count && valid; i++) {
        valid = create_configs_check(broker, &cr->topics.items[i]) == KERR_NONE;
    }
    if (valid) return admin_forward(req);
    struct proto_create_topics_response resp;
    proto_schema_defaults(&proto_schema_create_topics_response, req->header.api_version,
                          &resp);
    resp.topics.count = cr->topics.count;
    resp.topics.items = arena_array(req, (size_t)cr->topics.count,
                                    sizeof(*resp.topics.items));
    if (resp.topics.items == NULL) return -ENOMEM;
    for (int32_t i = 0; i < cr->topics.count; i++) {
        int16_t err = create_configs_check(broker, &cr->topics.items[i]);
        resp.topics.items[i].name = cr->topics.items[i].name;
        resp.topics.items[i].error_code = err != KERR_NONE ? err : KERR_INVALID_REQUEST;
        resp.topics.items[i].error_message =
            err != KERR_NONE ? PROTO_STR_NULL
                             : PROTO_STR("not created: another topic's config is invalid");
    }
    return respond_body(req, &resp);
}

static int handle_delete_topics(struct broker_request *req) { return admin_forward(req); }

static int handle_create_partitions(struct broker_request *req) { return admin_forward(req); }

/* --- Admin: DescribeConfigs, AlterConfigs, DeleteRecords ------------------------------- */

static const char *topic_config_value(const struct broker_topic *t, const char *name) {
    for (uint32_t i = 0; i < t->config_count; i++) {
        if (strcmp(t->configs[i].name, name) == 0) return t->configs[i].value;
    }
    return NULL;
}

/* The effective value of a topic config when no override exists (the broker's). */
static void topic_config_default(const struct broker_config *c, const char *name, char *out,
                                 size_t cap) {
    if (strcmp(name, "cleanup.policy") == 0) {
        snprintf(out, cap, "%s", c->log_cleanup_policy_compact ? "compact" : "delete");
    } else if (strcmp(name, "delete.retention.ms") == 0) {
        snprintf(out, cap, "86400000");
    } else if (strcmp(name, "flush.messages") == 0) {
        snprintf(out, cap, "%" PRId64, c->log_flush_interval_messages);
    } else if (strcmp(name, "flush.ms") == 0) {
        snprintf(out, cap, "%" PRId64,
                 c->log_flush_interval_ms < 0 ? INT64_MAX : c->log_flush_interval_ms);
    } else if (strcmp(name, "max.message.bytes") == 0) {
        snprintf(out, cap, "%d", c->message_max_bytes);
    } else if (strcmp(name, "retention.bytes") == 0) {
        snprintf(out, cap, "%" PRId64, c->log_retention_bytes);
    } else if (strcmp(name, "retention.ms") == 0) {
        snprintf(out, cap, "%" PRId64, c->log_retention_ms);
    } else if (strcmp(name, "segment.bytes") == 0) {
        snprintf(out, cap, "%" PRId64, c->log_segment_bytes);
    } else if (strcmp(name, "segment.ms") == 0) {
        snprintf(out, cap, "%" PRId64, c->log_roll_ms);
    } else if (strcmp(name, "min.insync.replicas") == 0) {
        snprintf(out, cap, "%d", c->min_insync_replicas);
    } else if (strcmp(name, "message.timestamp.type") == 0) {
        snprintf(out, cap, "%s", c->log_message_timestamp_log_append_time ? "LogAppendTime"
                                                                          : "CreateTime");
    } else if (strcmp(name, "segment.index.bytes") == 0) {
        snprintf(out, cap, "%d", c->log_index_size_max_bytes);
    } else if (strcmp(name, "index.interval.bytes") == 0) {
        snprintf(out, cap, "%d", c->log_index_interval_bytes);
    } else {
        snprintf(out, cap, "%s", "");
    }
}

static bool key_requested(const struct proto_describe_configs_resource *r, const char *name) {
    if (r->configuration_keys.count < 0) return true;
    for (int32_t i = 0; i < r->configuration_keys.count; i++) {
        if (proto_string_eq(r->configuration_keys.items[i], name)) return true;
    }
    return false;
}

static int handle_describe_configs(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_describe_configs_request *dr = req->body;
    int16_t version = req->header.api_version;
    struct proto_describe_configs_response resp;
    proto_schema_defaults(&proto_schema_describe_configs_response, version, &resp);
    resp.results.count = dr->resources.count;
    resp.results.items = arena_array(req, (size_t)dr->resources.count, sizeof(*resp.results.items));
    if (resp.results.items == NULL) return -ENOMEM;
    for (int32_t i = 0; i < dr->resources.count; i++) {
        const struct proto_describe_configs_resource *r = &dr->resources.items[i];
        struct proto_describe_configs_result *out = &resp.results.items[i];
        memset(out, 0, sizeof(*out));
        out->resource_type = r->resource_type;
        out->resource_name = r->resource_name;
        out->error_message = PROTO_STR_NULL;
        const struct broker_topic *t = NULL;
        if (r->resource_type == 2) {
            t = topic_find(broker, str_or_empty(r->resource_name));
            if (t == NULL) {
                out->error_code = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
        } else if (r->resource_type != 4) {
            out->error_code = KERR_INVALID_REQUEST;
            continue;
        }
        size_t n = ARRAY_LEN(topic_config_names);
        out->configs.items = arena_array(req, n, sizeof(*out->configs.items));
        if (out->configs.items == NULL) return -ENOMEM;
        out->configs.count = 0;
        for (size_t k = 0; k < n; k++) {
            const char *name = topic_config_names[k];
            if (!key_requested(r, name)) continue;
            struct proto_describe_configs_config *c = &out->configs.items[out->configs.count++];
            memset(c, 0, sizeof(*c));
            const char *override = t != NULL ? topic_config_value(t, name) : NULL;
            char *value = arena_array(req, BROKER_CONFIG_VALUE_MAX, 1);
            if (value == NULL) return -ENOMEM;
            if (override != NULL) snprintf(value, BROKER_CONFIG_VALUE_MAX, "%s", override);
            else topic_config_default(&broker->config, name, value, BROKER_CONFIG_VALUE_MAX);
            c->name = proto_string_from(name);
            c->value = proto_string_from(value);
            c->read_only = r->resource_type == 4;
            c->is_default = override == NULL;
            /* Kafka's ConfigSource: 1 dynamic topic config, 5 default (static broker). */
            c->config_source = override != NULL ? 1 : 5;
            c->is_sensitive = false;
            c->synonyms.items = NULL;
            c->synonyms.count = 0;
        }
    }
    return respond_body(req, &resp);
}

/* Validates one AlterConfigs topic resource's values against what this broker accepts. */
static int16_t request_configs_check(struct broker *broker,
                                     const struct proto_alter_configs_resource *r) {
    struct topic_config configs[BROKER_TOPIC_CONFIGS_MAX];
    uint32_t count = 0;
    for (int32_t c = 0; c < r->configs.count; c++) {
        const struct proto_alter_configs_config *cc = &r->configs.items[c];
        if (cc->value.str == NULL) continue;
        if (count == BROKER_TOPIC_CONFIGS_MAX || cc->name.len >= 64 ||
            cc->value.len >= BROKER_CONFIG_VALUE_MAX) {
            return KERR_INVALID_CONFIG;
        }
        memcpy(configs[count].name, cc->name.str, (size_t)cc->name.len + 1);
        memcpy(configs[count].value, cc->value.str, (size_t)cc->value.len + 1);
        count++;
    }
    return topic_configs_check(&broker->config, configs, count);
}

static int handle_alter_configs(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_alter_configs_request *ar = req->body;
    /* Multi-broker mode: the broker checks the values itself (the controller stores what it
     * is given); a request whose every topic resource is valid goes to the controller, any
     * other is only validated here (validate_only, or refused whole). */
    if (!ar->validate_only) {
        bool valid = true;
        for (int32_t i = 0; i < ar->resources.count && valid; i++) {
            const struct proto_alter_configs_resource *r = &ar->resources.items[i];
            valid = r->resource_type == 2 && request_configs_check(broker, r) == KERR_NONE;
        }
        if (valid) return admin_forward(req);
    }
    struct proto_alter_configs_response resp;
    proto_schema_defaults(&proto_schema_alter_configs_response, req->header.api_version, &resp);
    resp.responses.count = ar->resources.count;
    resp.responses.items = arena_array(req, (size_t)ar->resources.count,
                                       sizeof(*resp.responses.items));
    if (resp.responses.items == NULL) return -ENOMEM;
    for (int32_t i = 0; i < ar->resources.count; i++) {
        const struct proto_alter_configs_resource *r = &ar->resources.items[i];
        struct proto_alter_configs_result *out = &resp.responses.items[i];
        out->resource_type = r->resource_type;
        out->resource_name = r->resource_name;
        out->error_message = PROTO_STR_NULL;
        out->error_code = KERR_NONE;
        if (r->resource_type != 2) {
            out->error_code = KERR_INVALID_REQUEST;
            out->error_message = PROTO_STR("only topic configs can be altered");
            continue;
        }
        out->error_code = request_configs_check(broker, r);
        if (out->error_code == KERR_NONE && !ar->validate_only) {
            out->error_code = KERR_INVALID_REQUEST; /* Another resource is invalid. */
            out->error_message = PROTO_STR("not applied: another resource is invalid");
        }
    }
    return respond_body(req, &resp);
}

static int handle_delete_records(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_delete_records_request *dr = req->body;
    struct proto_delete_records_response resp;
    proto_schema_defaults(&proto_schema_delete_records_response, req->header.api_version, &resp);
    resp.topics.count = dr->topics.count;
    resp.topics.items = arena_array(req, (size_t)dr->topics.count, sizeof(*resp.topics.items));
    if (resp.topics.items == NULL) return -ENOMEM;
    bool changed = false;
    for (int32_t i = 0; i < dr->topics.count; i++) {
        const struct proto_delete_records_request_topic *rt = &dr->topics.items[i];
        struct proto_delete_records_response_topic *out = &resp.topics.items[i];
        out->name = rt->name;
        out->partitions.count = rt->partitions.count;
        out->partitions.items = arena_array(req, (size_t)rt->partitions.count,
                                            sizeof(*out->partitions.items));
        if (out->partitions.items == NULL) return -ENOMEM;
        for (int32_t j = 0; j < rt->partitions.count; j++) {
            const struct proto_delete_records_request_partition *rp = &rt->partitions.items[j];
            struct proto_delete_records_response_partition *op = &out->partitions.items[j];
            op->partition_index = rp->partition_index;
            op->low_watermark = -1;
            op->error_code = KERR_NONE;
            struct partition *part = partition_find(broker, str_or_empty(rt->name),
                                                    rp->partition_index);
            if (part == NULL) {
                op->error_code = missing_partition_error(broker, str_or_empty(rt->name),
                                                         rp->partition_index);
                continue;
            }
            op->error_code = leader_check(part, -1);
            if (op->error_code != KERR_NONE) continue;
            /* -1 means "up to the high watermark". */
            int64_t target = rp->offset == -1 ? part->high_watermark : rp->offset;
            if (target < 0 || target > part->high_watermark) {
                op->error_code = KERR_OFFSET_OUT_OF_RANGE;
                continue;
            }
            int rc = log_delete_records(part->log, target);
            if (rc < 0) {
                op->error_code =
                    rc == -ERANGE ? KERR_OFFSET_OUT_OF_RANGE : KERR_KAFKA_STORAGE_ERROR;
                continue;
            }
            changed = true;
            op->low_watermark = partition_log_start(part);
        }
    }
    /* The new log start must survive a crash before we acknowledge it. */
    if (changed) broker_save_log_starts(broker);
    return respond_body(req, &resp);
}

/* --- OffsetForLeaderEpoch, SASL ------------------------------------------------------ */

/* KIP-101/279: the end offset of the requested leader epoch, from the log's epoch cache. */
static int handle_offset_for_leader_epoch(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_offset_for_leader_epoch_request *er = req->body;
    struct proto_offset_for_leader_epoch_response resp;
    proto_schema_defaults(&proto_schema_offset_for_leader_epoch_response, req->header.api_version,
                          &resp);
    resp.topics.count = er->topics.count;
    resp.topics.items = arena_array(req, (size_t)er->topics.count, sizeof(*resp.topics.items));
    if (resp.topics.items == NULL) return -ENOMEM;
    for (int32_t i = 0; i < er->topics.count; i++) {
        const struct proto_offset_for_leader_epoch_request_topic *rt = &er->topics.items[i];
        struct proto_offset_for_leader_epoch_response_topic *out = &resp.topics.items[i];
        out->topic = rt->topic;
        out->partitions.count = rt->partitions.count;
        out->partitions.items = arena_array(req, (size_t)rt->partitions.count,
                                            sizeof(*out->partitions.items));
        if (out->partitions.items == NULL) return -ENOMEM;
        for (int32_t j = 0; j < rt->partitions.count; j++) {
            const struct proto_offset_for_leader_epoch_request_partition *rp =
                &rt->partitions.items[j];
            struct proto_offset_for_leader_epoch_response_partition *op = &out->partitions.items[j];
            op->partition = rp->partition;
            op->leader_epoch = -1;
            op->end_offset = -1;
            struct partition *part = partition_find(broker, str_or_empty(rt->topic), rp->partition);
            if (part == NULL) {
                op->error_code = missing_partition_error(broker, str_or_empty(rt->topic),
                                                         rp->partition);
                continue;
            }
            /* The truncation query of a follower (KIP-101/279) and of clients: leader only. */
            if (!partition_is_leader(part)) {
                op->error_code = KERR_NOT_LEADER_OR_FOLLOWER;
                continue;
            }
            if (rp->current_leader_epoch > part->leader_epoch) {
                op->error_code = KERR_UNKNOWN_LEADER_EPOCH;
                continue;
            }
            if (rp->current_leader_epoch >= 0 && rp->current_leader_epoch < part->leader_epoch) {
                op->error_code = KERR_FENCED_LEADER_EPOCH;
                continue;
            }
            op->error_code = KERR_NONE;
            log_end_offset_for_epoch(part->log, rp->leader_epoch, &op->leader_epoch,
                                     &op->end_offset);
        }
    }
    return respond_body(req, &resp);
}

/* No SASL yet: say so (an empty mechanism list) instead of dropping the connection. */
static int handle_sasl_handshake(struct broker_request *req) {
    struct proto_sasl_handshake_response resp;
    proto_schema_defaults(&proto_schema_sasl_handshake_response, req->header.api_version, &resp);
    resp.error_code = KERR_UNSUPPORTED_SASL_MECHANISM;
    resp.mechanisms.items = NULL;
    resp.mechanisms.count = 0;
    return respond_body(req, &resp);
}

/* --- Idempotent producers ---------------------------------------------------------- */

static int handle_init_producer_id(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_init_producer_id_request *ir = req->body;
    struct proto_init_producer_id_response resp;
    proto_schema_defaults(&proto_schema_init_producer_id_response, req->header.api_version,
                          &resp);
    if (ir->transactional_id.str != NULL) {
        /* Transactional ids belong to a transaction coordinator, which this broker lacks. */
        resp.error_code = KERR_COORDINATOR_NOT_AVAILABLE;
        resp.producer_id = -1;
        resp.producer_epoch = -1;
        return respond_body(req, &resp);
    }
    /* Without a controller handing out id blocks, a random 62-bit id is unique enough
     * across restarts (a collision needs ~2^31 producers). */
    resp.error_code = KERR_NONE;
    resp.producer_id = (int64_t)(io_random_u64(broker->io) >> 2);
    resp.producer_epoch = 0;
    return respond_body(req, &resp);
}

/* --- Groups -------------------------------------------------------------------------- */

static int handle_find_coordinator(struct broker_request *req) {
    struct broker *broker = req->broker;
    const struct proto_find_coordinator_request *fr = req->body;
    struct proto_find_coordinator_response resp;
    proto_schema_defaults(&proto_schema_find_coordinator_response, req->header.api_version,
                          &resp);
    resp.error_message = PROTO_STR_NULL;
    /* Groups only: transactions have no coordinator here yet (clients retry). */
    if (fr->key_type != 0 || broker_groups(broker) == NULL) {
        resp.error_code = KERR_COORDINATOR_NOT_AVAILABLE;
        resp.node_id = -1;
        resp.host = PROTO_STR("");
        resp.port = -1;
        return respond_body(req, &resp);
    }
    /* The coordinator is the leader of the group's __consumer_offsets partition. */
    int32_t p = group_coordinator_partition_for(broker->groups, str_or_empty(fr->key));
    const struct metadata_image *image = quorum_client_image(broker->qc);
    const struct metadata_partition *mp = metadata_partition_find(image, BROKER_OFFSETS_TOPIC,
                                                                  p);
    const struct metadata_broker *mb =
        mp != NULL && mp->leader >= 0 ? metadata_broker_find(image, mp->leader) : NULL;
    if (mb == NULL || mb->fenced) {
        resp.error_code = KERR_COORDINATOR_NOT_AVAILABLE;
        resp.node_id = -1;
        resp.host = PROTO_STR("");
        resp.port = -1;
        return respond_body(req, &resp);
    }
    resp.error_code = KERR_NONE;
    resp.node_id = mb->id;
    resp.host = proto_string_from(mb->host);
    resp.port = mb->port;
    return respond_body(req, &resp);
}

static void group_api_done(void *arg, const void *response) {
    struct broker_request *req = arg;
    respond_body(req, response);
    request_free(req);
}

/* Returns 1: the coordinator answers through group_api_done, now or later, which frees req. */
static int handle_group_api(struct broker_request *req) {
    struct broker *broker = req->broker;
    struct group_coordinator *co = broker_groups(broker);
    if (co == NULL) return -EIO;
    char host[80];
    const char *peer = broker_conn_peer(req->conn);
    const char *colon = strrchr(peer, ':');
    size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
    snprintf(host, sizeof(host), "/%.*s", (int)MIN(n, sizeof(host) - 2), peer);
    const char *client_id = req->header.client_id.str != NULL ? req->header.client_id.str : "";
    int rc = group_api_handle(co, &req->arena, req->header.api_key, req->header.api_version,
                              client_id, host, req->body, group_api_done, req);
    return rc < 0 ? rc : 1;
}

/* --- Dispatch ------------------------------------------------------------------------ */

static int broker_on_request(void *arg, struct broker_conn *conn, uint32_t slot,
                             uint8_t *payload, size_t len) {
    struct broker *broker = arg;
    struct broker_request *req = io_calloc(broker->io, 1, sizeof(*req));
    req->broker = broker;
    req->conn = conn;
    req->slot = slot;
    /* Decoded strings and arrays live here; records point into the payload. */
    proto_arena_init(&req->arena, broker->io, MAX(BROKER_ARENA_BYTES_MIN, 2 * len));
    int rc = proto_request_decode(&req->arena, payload, len, &req->header, &req->body);
    if (rc == PROTO_ERR_UNSUPPORTED && req->header.api_key == PROTO_API_API_VERSIONS) {
        /* KIP-511: tell the client our ApiVersions range in a v0 body; it retries lower. */
        struct proto_writer w;
        proto_writer_init(&w, broker->io, 64u << 10);
        rc = proto_api_versions_unsupported_encode(&w, req->header.correlation_id);
        if (rc == 0) broker_conn_respond(conn, slot, w.buf, w.len, NULL, 0);
        proto_writer_destroy(&w);
        request_free(req);
        return rc;
    }
    if (rc < 0) {
        io_log(broker->io, IO_LOG_WARN, "bad request from %s (api %d v%d): %d",
               broker_conn_peer(conn), req->header.api_key, req->header.api_version, rc);
        request_free(req);
        return rc; /* Closes this connection only. */
    }
    switch (req->header.api_key) {
    case PROTO_API_API_VERSIONS: rc = handle_api_versions(req); break;
    case PROTO_API_METADATA: rc = handle_metadata(req); break;
    case PROTO_API_PRODUCE: rc = handle_produce(req); break;
    case PROTO_API_FETCH: rc = handle_fetch(req); break;
    case PROTO_API_LIST_OFFSETS: rc = handle_list_offsets(req); break;
    case PROTO_API_CREATE_TOPICS: rc = handle_create_topics(req); break;
    case PROTO_API_DELETE_TOPICS: rc = handle_delete_topics(req); break;
    case PROTO_API_CREATE_PARTITIONS: rc = handle_create_partitions(req); break;
    case PROTO_API_DESCRIBE_CONFIGS: rc = handle_describe_configs(req); break;
    case PROTO_API_ALTER_CONFIGS: rc = handle_alter_configs(req); break;
    case PROTO_API_DELETE_RECORDS: rc = handle_delete_records(req); break;
    case PROTO_API_FIND_COORDINATOR: rc = handle_find_coordinator(req); break;
    case PROTO_API_INIT_PRODUCER_ID: rc = handle_init_producer_id(req); break;
    case PROTO_API_OFFSET_FOR_LEADER_EPOCH: rc = handle_offset_for_leader_epoch(req); break;
    case PROTO_API_SASL_HANDSHAKE: rc = handle_sasl_handshake(req); break;
    default:
        if (group_api_handles(req->header.api_key)) {
            rc = handle_group_api(req);
            break;
        }
        io_log(broker->io, IO_LOG_WARN, "api %d (%s) not served yet; closing %s",
               req->header.api_key, proto_api_find(req->header.api_key)->name,
               broker_conn_peer(conn));
        rc = -ENOSYS;
        break;
    }
    if (rc == 1) return 0; /* Parked: the purgatory owns the request now. */
    request_free(req);
    return rc;
}

/* --- Connections, timers, lifecycle ---------------------------------------------------- */


static void broker_on_close(void *arg, struct broker_conn *conn, int reason) {
    struct broker *broker = arg;
    struct broker_client *client = broker_conn_user(conn);
    if (client == NULL) return;
    if (client->prev != NULL)
        client->prev->next = client->next;
    else
        broker->clients = client->next;
    if (client->next != NULL) client->next->prev = client->prev;
    broker_conn_set_user(conn, NULL);
    io_free(broker->io, client, sizeof(*client));
}

static void broker_accept_now(struct broker *broker, struct io_stream *stream);

/* Serves the held connections once the broker is ready; polls until then. */
static void broker_ready_poll(void *arg) {
    struct broker *broker = arg;
    broker->ready_timer = 0;
    if (broker->qc == NULL) return;
    if (!quorum_client_ready(broker->qc)) {
        uint64_t at_ns = io_now_ns(broker->io) + BROKER_READY_POLL_MS * NS_PER_MS;
        broker->ready_timer = io_timer_start(broker->io, at_ns, broker_ready_poll, broker);
        return;
    }
    io_log(broker->io, IO_LOG_INFO, "node %d ready: serving %u held connections",
           broker->config.node_id, broker->held_count);
    if (!broker->caught_up_once) {
        broker->caught_up_once = true;
        broker_reconcile(broker, quorum_client_image(broker->qc), true);
        admin_waits_check(broker, false);
    }
    uint32_t count = broker->held_count;
    struct io_stream **held = broker->held_streams;
    broker->held_streams = NULL;
    broker->held_count = 0;
    for (uint32_t i = 0; i < count; i++) broker_accept_now(broker, held[i]);
    if (held != NULL) io_free(broker->io, held, BROKER_HELD_STREAMS_MAX * sizeof(*held));
}

static void broker_on_accept(void *arg, struct io_stream *stream) {
    struct broker *broker = arg;
    if (broker->qc != NULL && !broker->caught_up_once) {
        if (broker->held_streams == NULL) {
            broker->held_streams = io_calloc(broker->io, BROKER_HELD_STREAMS_MAX,
                                             sizeof(*broker->held_streams));
        }
        if (broker->held_count >= BROKER_HELD_STREAMS_MAX) {
            io_stream_close(broker->io, stream);
            return;
        }
        broker->held_streams[broker->held_count++] = stream;
        if (broker->ready_timer == 0) broker_ready_poll(broker);
        return;
    }
    broker_accept_now(broker, stream);
}

static void broker_accept_now(struct broker *broker, struct io_stream *stream) {
    struct broker_conn_limits limits = {
        .max_frame_bytes = (size_t)broker->config.socket_request_max_bytes,
        .max_inflight = (uint32_t)MIN(broker->config.queued_max_requests,
                                      BROKER_CONN_INFLIGHT_MAX),
        .max_output_bytes = BROKER_OUTPUT_BYTES_MAX,
        .idle_ms = (uint64_t)broker->config.connections_max_idle_ms,
    };
    struct broker_client *client = io_calloc(broker->io, 1, sizeof(*client));
    client->conn = broker_conn_create(broker->io, stream, &limits, broker_on_request,
                                      broker_on_close, broker);
    broker_conn_set_user(client->conn, client);
    client->next = broker->clients;
    if (broker->clients != NULL) broker->clients->prev = client;
    broker->clients = client;
}

static void broker_housekeeping(void *arg) {
    struct broker *broker = arg;
    broker->housekeeping = 0;
    int64_t now_ms = broker_now_ms(broker);
    /* Deleting segments that queued Fetch ranges still read from is safe: io_posix keeps a
     * closed file open until its queued ranges are sent, the sim copies at queue time. */
    bool retention = now_ms - broker->last_retention_ms >=
                     broker->config.log_retention_check_interval_ms;
    if (retention) broker->last_retention_ms = now_ms;
    bool start_moved = false;
    for (uint32_t i = 0; i < broker->topic_count; i++) {
        struct broker_topic *t = broker->topics[i];
        for (int32_t p = 0; p < t->partition_count; p++) {
            struct partition *part = t->partitions[p];
            if (part == NULL) continue;
            int rc = log_maybe_flush(part->log, now_ms);
            if (rc < 0) note_storage_error(broker, "flush", rc);
            if (retention) {
                int64_t start = partition_log_start(part);
                size_t deleted = 0;
                rc = log_apply_retention(part->log, now_ms, &deleted);
                if (rc < 0) note_storage_error(broker, "retention", rc);
                start_moved = start_moved || partition_log_start(part) != start;
                /* The log cleaner, simply: compact when a segment rolled since the last
                 * pass (only closed segments below the HW are rewritten; offsets stay). */
                int64_t active_base = part->log->segments[part->log->segment_count - 1].base_offset;
                if (t->log_config.cleanup_compact && active_base > part->compacted_below) {
                    struct log_compact_stats stats;
                    rc = log_compact(part->log, now_ms, part->high_watermark, &stats);
                    if (rc < 0) note_storage_error(broker, "compaction", rc);
                    part->compacted_below = active_base;
                }
            }
        }
    }
    if (start_moved) broker_save_log_starts(broker);
    if (now_ms - broker->last_hw_checkpoint_ms >=
        broker->config.replica_high_watermark_checkpoint_interval_ms) {
        broker->last_hw_checkpoint_ms = now_ms;
        if (broker->topic_count > 0) broker_save_offsets(broker, true);
    }
    if (broker->qc != NULL) {
        /* ISR shrinks (replica.lag.time.max.ms) and joins that no fetch triggered. */
        for (uint32_t i = 0; i < broker->topic_count; i++) {
            struct broker_topic *t = broker->topics[i];
            for (int32_t p = 0; p < t->partition_count; p++) {
                if (t->partitions[p] == NULL) continue;
                isr_maybe_propose(broker, t, t->partitions[p], now_ms);
            }
        }
        /* Removals held back while the image replayed; replicas a disk fault kept from
         * opening. */
        bool ready = quorum_client_ready(broker->qc);
        if (broker->caught_up_once &&
            (broker->reconcile_again || (broker->removals_pending && ready))) {
            broker->reconcile_again = false;
            broker_reconcile(broker, quorum_client_image(broker->qc), ready);
        }
        admin_waits_check(broker, false);
    }
    broker->housekeeping =
        io_timer_start(broker->io, io_now_ns(broker->io) + BROKER_HOUSEKEEPING_MS * NS_PER_MS,
                       broker_housekeeping, broker);
}

/*
 * Starts this node's controller (with the controller role) and the quorum client. With no
 * controller.quorum.voters the node is a one-voter quorum on an ephemeral port, and its
 * quorum client is told so (voters = {node.id @ advertised host : that port}).
 */
static int broker_start_quorum(struct broker *broker) {
    struct io *io = broker->io;
    broker->quorum_config = broker->config;
    if ((broker->config.process_roles & BROKER_ROLE_CONTROLLER) != 0) {
        int rc = controller_start(io, &broker->config, &broker->controller);
        if (rc < 0) return rc;
        if (broker->config.voter_count == 0) {
            struct broker_voter *v = &broker->quorum_config.voters[0];
            v->id = broker->config.node_id;
            snprintf(v->host, sizeof(v->host), "%s", broker->advertised_host);
            v->port = controller_port(broker->controller);
            broker->quorum_config.voter_count = 1;
        }
    }
    if (broker->quorum_config.voter_count == 0) {
        io_log(io, IO_LOG_ERROR, "no controller.quorum.voters and no controller role");
        return -EINVAL;
    }
    /* Unclean when any replica opened without its clean-shutdown marker (it ran recovery).
     * BrokerRegistration v0 has no field for it (Kafka's v3 PreviousBrokerEpoch), so this
     * only reaches the quorum client and its logs. */
    bool unclean = false;
    for (uint32_t i = 0; i < broker->topic_count && !unclean; i++) {
        const struct broker_topic *t = broker->topics[i];
        for (int32_t p = 0; p < t->partition_count && !unclean; p++) {
            unclean = t->partitions[p] != NULL && t->partitions[p]->log->recovered_unclean;
        }
    }
    if (unclean) io_log(io, IO_LOG_WARN, "the last shutdown was not clean (logs recovered)");
    struct quorum_client_config qcc = {
        .broker = &broker->quorum_config,
        .advertised_host = broker->advertised_host,
        .advertised_port = broker->advertised_port,
        .unclean_shutdown = unclean,
        .on_update = broker_on_metadata,
        .arg = broker,
    };
    for (int i = 0; i < 2; i++) {
        uint64_t r = io_random_u64(io);
        memcpy(qcc.incarnation_id + 8 * i, &r, 8);
    }
    int rc = quorum_client_start(io, &qcc, &broker->qc);
    if (rc < 0) {
        io_log(io, IO_LOG_ERROR, "cannot start the quorum client: %d", rc);
        return rc;
    }
    /* Polls readiness: then roles apply and held connections are served. */
    broker->ready_timer = io_timer_start(io, io_now_ns(io) + BROKER_READY_POLL_MS * NS_PER_MS,
                                         broker_ready_poll, broker);
    return 0;
}

/* Stops the quorum side: fetchers, the quorum client, the controller; then answers or
 * frees what waited on them (their callbacks never run after the stop). */
static void broker_stop_quorum(struct broker *broker) {
    struct io *io = broker->io;
    for (uint32_t i = 0; i < broker->fetcher_count; i++) {
        fetcher_destroy(broker->fetchers[i].fetcher);
    }
    if (broker->fetchers != NULL) {
        io_free(io, broker->fetchers, broker->fetcher_count * sizeof(*broker->fetchers));
    }
    broker->fetchers = NULL;
    broker->fetcher_count = 0;
    for (uint32_t i = 0; i < broker->topic_count; i++) {
        struct broker_topic *t = broker->topics[i];
        for (int32_t p = 0; p < t->partition_count; p++) t->fetch_leader[p] = -1;
    }
    if (broker->ready_timer != 0) io_timer_cancel(io, broker->ready_timer);
    broker->ready_timer = 0;
    for (uint32_t i = 0; i < broker->held_count; i++) io_stream_close(io, broker->held_streams[i]);
    if (broker->held_streams != NULL) {
        io_free(io, broker->held_streams, BROKER_HELD_STREAMS_MAX * sizeof(*broker->held_streams));
    }
    broker->held_streams = NULL;
    broker->held_count = 0;
    if (broker->controller != NULL) {
        int rc = controller_stop(broker->controller);
        if (rc < 0) note_storage_error(broker, "controller stop", rc);
    }
    broker->controller = NULL;
    if (broker->qc != NULL) quorum_client_stop(broker->qc);
    broker->qc = NULL;
    /* Bound: each pass removes one entry. */
    while (broker->forwards != NULL) {
        struct broker_request *req = broker->forwards;
        broker->forwards = req->wait_next;
        broker_conn_respond_none(req->conn, req->slot);
        request_free(req);
    }
    admin_waits_check(broker, true);
    while (broker->alters != NULL) {
        struct broker_alter *alter = broker->alters;
        broker_alter_unlink(broker, alter);
        io_free(io, alter, sizeof(*alter));
    }
    while (broker->auto_creates != NULL) {
        struct broker_auto_create *ac = broker->auto_creates;
        broker->auto_creates = ac->next;
        proto_arena_destroy(&ac->arena);
        io_free(io, ac, sizeof(*ac));
    }
}

int broker_start(struct io *io, const struct broker_config *config, struct broker **out) {
    struct broker *broker = io_calloc(io, 1, sizeof(*broker));
    broker->io = io;
    broker->config = *config;
    ASSERT(config->log_dir_count >= 1);
    if (config->log_dir_count > 1) {
        io_log(io, IO_LOG_WARN, "only the first of %u log.dirs is used", config->log_dir_count);
    }
    snprintf(broker->dir, sizeof(broker->dir), "%s", config->log_dirs[0]);
    size_t dir_len = strlen(broker->dir);
    while (dir_len > 1 && broker->dir[dir_len - 1] == '/') broker->dir[--dir_len] = '\0';
    broker->fetches = purgatory_create(io, "fetch");
    broker->last_retention_ms = io_wall_ms(io);
    broker->last_hw_checkpoint_ms = broker->last_retention_ms;
    broker->produces = purgatory_create(io, "produce");
    int rc = broker_prepare_dir(broker);
    bool broker_role = (config->process_roles & BROKER_ROLE_BROKER) != 0;
    if (rc == 0 && !broker_role) {
        /* A dedicated controller: no client listener, no partitions. */
        rc = controller_start(io, config, &broker->controller);
        if (rc < 0) {
            broker_stop(broker);
            return rc;
        }
        io_log(io, IO_LOG_INFO, "node %d: controller only, port %u", config->node_id,
               controller_port(broker->controller));
        *out = broker;
        return 0;
    }
    ASSERT(broker_role || rc < 0);
    if (rc == 0) rc = broker_load_topics(broker);
    const struct broker_listener *listener = broker_config_client_listener(config);
    if (rc == 0 && listener == NULL) rc = -EINVAL;
    if (rc == 0) {
        const char *host = listener->host[0] != '\0' ? listener->host : "0.0.0.0";
        rc = io_listen(io, host, listener->port, broker_on_accept, broker, &broker->listener);
        if (rc < 0)
            io_log(io, IO_LOG_ERROR, "cannot listen on %s:%u: %d", host, listener->port, rc);
    }
    if (rc < 0) {
        broker_stop(broker);
        return rc;
    }
    broker->port = io_listener_port(io, broker->listener);
    /* What Metadata tells clients: the advertised listener of the same name. */
    const struct broker_listener *adv = NULL;
    for (uint32_t i = 0; i < config->advertised_count; i++) {
        if (strcmp(config->advertised[i].name, listener->name) == 0) adv = &config->advertised[i];
    }
    const char *adv_host = adv != NULL && adv->host[0] != '\0' ? adv->host
                           : listener->host[0] != '\0' && strcmp(listener->host, "0.0.0.0") != 0
                               ? listener->host : "127.0.0.1";
    snprintf(broker->advertised_host, sizeof(broker->advertised_host), "%s", adv_host);
    broker->advertised_port = adv != NULL && adv->port != 0 ? adv->port : broker->port;
    rc = broker_start_quorum(broker);
    if (rc < 0) {
        broker_stop(broker);
        return rc;
    }
    broker->housekeeping = io_timer_start(io, io_now_ns(io) + BROKER_HOUSEKEEPING_MS * NS_PER_MS,
                                          broker_housekeeping, broker);
    io_log(io, IO_LOG_INFO, "node %d serving %u topics on port %u (log dir %s)",
           config->node_id, broker->topic_count, broker->port, broker->dir);
    *out = broker;
    return 0;
}

uint16_t broker_port(const struct broker *broker) { return broker->port; }

static void broker_shutdown_granted(void *arg, bool granted) {
    struct broker *broker = arg;
    broker_shutdown_fn done = broker->shutdown_done;
    ASSERT(done != NULL);
    io_log(broker->io, IO_LOG_INFO, "controlled shutdown %s",
           granted ? "granted: leaderships moved" : "not granted in time");
    broker->shutdown_granted = granted;
    done(broker->shutdown_arg, granted);
}

static void broker_shutdown_now(void *arg) {
    struct broker *broker = arg;
    broker->shutdown_timer = 0;
    broker->shutdown_done(broker->shutdown_arg, false);
}

int broker_shutdown(struct broker *broker, broker_shutdown_fn done, void *arg) {
    ASSERT(done != NULL);
    if (broker->shutdown_done != NULL) return -EALREADY;
    broker->shutdown_done = done;
    broker->shutdown_arg = arg;
    if (broker->qc != NULL && (broker->config.process_roles & BROKER_ROLE_BROKER) != 0 &&
        quorum_client_shutdown(broker->qc, broker_shutdown_granted, broker) == 0) {
        return 0;
    }
    /* Nothing to hand over (no quorum client yet, controller-only node): answer at once, from
     * a timer as the contract says. */
    broker->shutdown_timer = io_timer_start(broker->io, io_now_ns(broker->io),
                                            broker_shutdown_now, broker);
    return 0;
}

uint16_t broker_controller_port(const struct broker *broker) {
    if (broker->controller != NULL) return controller_port(broker->controller);
    (void)broker;
    return 0;
}

int broker_stop(struct broker *broker) {
    struct io *io = broker->io;
    /* A stop that did not go through a granted broker_shutdown still says it is leaving:
     * one want_shut_down heartbeat, sent now and never waited for (broker_stop is
     * synchronous), so the controller moves the leaderships when it arrives instead of
     * after the session timeout. */
    if (broker->qc != NULL && !broker->shutdown_granted &&
        (broker->config.process_roles & BROKER_ROLE_BROKER) != 0 &&
        quorum_client_shutdown_now(broker->qc) == 0) {
        io_log(io, IO_LOG_INFO, "stopping: told the controller (want_shut_down)");
    }
    if (broker->listener != NULL) io_listener_close(io, broker->listener);
    if (broker->housekeeping != 0) io_timer_cancel(io, broker->housekeeping);
    if (broker->shutdown_timer != 0) io_timer_cancel(io, broker->shutdown_timer);
    /* Close every connection; parked fetches then complete (answers dropped) when the
     * purgatory is destroyed, which frees the connections. Bound: one pass per client. */
    while (broker->clients != NULL) broker_conn_close(broker->clients->conn, 0);
    broker_stop_quorum(broker);
    purgatory_destroy(broker->produces);
    purgatory_destroy(broker->fetches);
    if (broker->groups != NULL) {
        /* The coordinator may only go once every accepted append has completed. */
        if (broker->appends_timer != 0) io_timer_cancel(io, broker->appends_timer);
        broker->appends_timer = 0;
        /* Completions may queue appends of their own; a few passes drain any chain. */
        for (int pass = 0; pass < 16 && broker->appends_head != NULL; pass++) appends_run(broker);
        if (broker->appends_timer != 0) io_timer_cancel(io, broker->appends_timer);
        broker->appends_timer = 0;
        ASSERT(group_coordinator_appends(broker->groups) == 0);
        group_coordinator_destroy(broker->groups);
        broker->groups = NULL;
    }
    int rc = 0;
    if (broker->topic_count > 0) rc = broker_save_log_starts(broker);
    if (broker->topic_count > 0) {
        int hw_rc = broker_save_offsets(broker, true); /* At a clean stop too, as Kafka. */
        if (rc == 0) rc = hw_rc;
    }
    for (uint32_t i = 0; i < broker->topic_count; i++) topic_free(broker, broker->topics[i], false);
    if (broker->topics != NULL)
        io_free(io, broker->topics, broker->topic_cap * sizeof(*broker->topics));
    if (rc == 0) rc = broker->storage_error;
    io_free(io, broker, sizeof(*broker));
    return rc;
}
