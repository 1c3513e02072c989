/*
 * trialctl.c — the command-line tool over the Kafka protocol (system/client/), covering what
 * kafka-topics.sh, kafka-console-producer.sh, kafka-console-consumer.sh and
 * kafka-get-offsets.sh and kafka-consumer-groups.sh do, against a cluster of one or more brokers:
 *
 *   trialctl [--bootstrap-server host:port[,host:port...]] cluster
 *   trialctl ... topics list | describe T | create T [--partitions N] [--replication-factor R]
 *                [--config k=v]... | delete T | add-partitions T --partitions N
 *   trialctl ... produce T [--partition P] [--key-separator S] [--acks A]    (lines on stdin)
 *   trialctl ... consume T [--partition P] [--from-beginning | --offset O | --timestamp MS]
 *                [--count N] [--print-key] [--key-separator S] [--timeout-ms MS]
 *                [--group G]   (a group member: partitions and positions from the group)
 *   trialctl ... offsets T [--partition P] [--earliest | --latest | --time MS]
 *   trialctl ... groups list | describe G | reset-offsets G --topic T [--partition P]
 *                (--to-earliest | --to-latest | --to-offset N)
 *
 * Without --partition, produce spreads records like Kafka's default partitioner (murmur2 of
 * the key; keyless records go to one partition per round of batches), and consume and
 * offsets cover every partition. Without --count, consume stops once every partition is
 * at its high watermark (like kcat -e). Each request waits for its answer by turning the
 * io_posix loop (a program, so blocking is fine here).
 *
 * Routing (client/cluster.h): requests any broker answers go to the first reachable one of
 * the bootstrap list (then the brokers the metadata names); Produce, ListOffsets and Fetch
 * go to the partition's leader (one retry after fresh metadata when the answer says the
 * leader moved); group requests go to the coordinator FindCoordinator names; `groups list`
 * asks every broker, as kafka-consumer-groups.sh does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "client/client.h"
#include "client/cluster.h"
#include "client/group_consumer.h"
#include "io/io.h"
#include "io/io_posix.h"
#include "proto/proto.h"

#define CTL_LINE_MAX (1u << 20)
#define CTL_BATCH_RECORDS 256
#define CTL_BATCH_BYTES (4u << 20)
#define CTL_CONFIGS_MAX 16
#define CTL_CALL_NS (30ULL * 1000000000ULL)     /* One request's answer. */
#define CTL_METADATA_NS (10ULL * 1000000000ULL) /* A metadata refresh. */

struct ctl {
    struct io *io;
    struct cluster *cluster; /* Bootstrap list, metadata, one connection per broker. */
    struct client *coord;    /* The group coordinator, once found. */
    const char *topic;
    int32_t partition;
    int32_t partitions;
    int16_t replication;
    int16_t acks;
    const char *key_separator;
    bool print_key;
    int64_t start; /* -2 earliest, -1 latest, >= 0 offset */
    int64_t timestamp;
    bool by_timestamp;
    int64_t count;
    int64_t timeout_ms;
    const char *configs[CTL_CONFIGS_MAX];
    int config_count;
    /* Results filled by callbacks. */
    int16_t error;
    int64_t offset;
    int64_t high_watermark;
    int64_t next_offset;
    int64_t printed;
    int32_t found_partitions;
    /* Per partition (consume over all partitions). */
    int32_t partition_count;
    int64_t *next_offsets;
    int64_t *high_watermarks;
    /* groups */
    struct ctl_group *group;
    bool quiet;
    const char *group_id; /* consume --group: a group member (client/group_consumer). */
    const char *bootstrap; /* --bootstrap-server, as given. */
    int reset_mode; /* 1 earliest, 2 latest, 3 --to-offset. */
    int64_t reset_offset;
};

#define CTL_PARTITIONS_MAX 10000

struct ctl_wait {
    bool done;
    int status;
    client_done_fn fn;
    void *arg;
};

static void ctl_wait_done(void *arg, int status, const void *body) {
    struct ctl_wait *w = arg;
    w->done = true;
    w->status = status;
    if (status == 0 && w->fn != NULL) w->fn(w->arg, status, body);
}

/* Sends on one connection and waits (up to 30 s) for the answer, handed to fn. */
static int ctl_call_on(struct ctl *ctl, struct client *client, int16_t key, int16_t version,
                       const void *body, client_done_fn fn) {
    struct ctl_wait w = {.fn = fn, .arg = ctl};
    int rc = client_send(client, key, version, body, ctl_wait_done, &w);
    if (rc < 0) return rc;
    uint64_t deadline = io_now_ns(ctl->io) + CTL_CALL_NS;
    while (!w.done && io_now_ns(ctl->io) < deadline) io_posix_run_once(ctl->io, 100);
    if (!w.done) return -ETIMEDOUT;
    return w.status;
}

/* The broker could not be reached at all: the request never left, so another may take it. */
static bool ctl_unreachable(int rc) {
    return rc == -ECONNREFUSED || rc == -EHOSTUNREACH || rc == -ENETUNREACH || rc == -ENOTCONN;
}

/* Sends to any broker: the bootstrap list in order, then the brokers the metadata named,
 * moving on from one that cannot be reached (bounded by the node table). */
static int ctl_call(struct ctl *ctl, int16_t key, int16_t version, const void *body,
                    client_done_fn fn) {
    int rc = -EHOSTUNREACH;
    for (int attempt = 0; attempt < CLUSTER_BOOTSTRAP_MAX + CLUSTER_BROKERS_MAX; attempt++) {
        cluster_poll(ctl->cluster);
        int32_t node = cluster_any_node(ctl->cluster);
        struct client *c = node != CLUSTER_NO_LEADER ? cluster_connection(ctl->cluster, node)
                                                      : NULL;
        if (c == NULL) break;
        rc = ctl_call_on(ctl, c, key, version, body, fn);
        if (!ctl_unreachable(rc)) return rc;
        cluster_node_failed(ctl->cluster, node);
    }
    return rc;
}

/* Fresh metadata (for `topic` too, if not NULL); false if none came within 10 s. */
static bool ctl_refresh(struct ctl *ctl, const char *topic) {
    if (topic != NULL) (void)cluster_add_topic(ctl->cluster, topic); /* Full: no routing. */
    uint32_t before = cluster_metadata_version(ctl->cluster);
    cluster_refresh(ctl->cluster);
    uint64_t deadline = io_now_ns(ctl->io) + CTL_METADATA_NS;
    while (cluster_metadata_version(ctl->cluster) == before && io_now_ns(ctl->io) < deadline) {
        cluster_poll(ctl->cluster);
        io_posix_run_once(ctl->io, 10);
    }
    return cluster_metadata_version(ctl->cluster) != before;
}

/* The leader's connection, from fresh metadata if the leader is not known yet; NULL if the
 * partition has none (or it cannot be reached now). */
static struct client *ctl_leader(struct ctl *ctl, const char *topic, int32_t partition,
                                 int32_t *node) {
    *node = cluster_leader(ctl->cluster, topic, partition, NULL);
    if (*node == CLUSTER_NO_LEADER && ctl_refresh(ctl, topic)) {
        *node = cluster_leader(ctl->cluster, topic, partition, NULL);
    }
    return *node != CLUSTER_NO_LEADER ? cluster_connection(ctl->cluster, *node) : NULL;
}

/* Sends a partition's request (the answer's error in ctl->error) to its leader; when the
 * answer says the leader moved, once more to the leader fresh metadata names. Without a
 * known leader, to any broker: its answer says why. */
static int ctl_call_leader(struct ctl *ctl, const char *topic, int32_t partition, int16_t key,
                           int16_t version, const void *body, client_done_fn fn) {
    int rc = -EHOSTUNREACH;
    for (int attempt = 0; attempt < 2; attempt++) {
        int32_t node;
        struct client *c = ctl_leader(ctl, topic, partition, &node);
        if (c == NULL) return ctl_call(ctl, key, version, body, fn);
        ctl->error = 0;
        rc = ctl_call_on(ctl, c, key, version, body, fn);
        if (rc < 0) cluster_node_failed(ctl->cluster, node);
        bool moved = rc == 0 ? cluster_error_stale_leader(ctl->error) : ctl_unreachable(rc);
        if (!moved) return rc;
        (void)ctl_refresh(ctl, topic);
    }
    return rc;
}

static void on_find_coordinator(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_find_coordinator_response *r = body;
    ctl->error = r->error_code;
    if (r->error_code != 0 || r->host.len <= 0 || r->port <= 0 || r->port > 65535) return;
    char host[CLUSTER_HOST_MAX];
    snprintf(host, sizeof(host), "%.*s", r->host.len, r->host.str);
    ctl->coord = client_create(ctl->io, host, (uint16_t)r->port, "trialctl");
}

/* Sends a group request to the group's coordinator (found once with FindCoordinator); to
 * any broker when there is none to find (its answer says why). */
static int ctl_call_coord(struct ctl *ctl, const char *group_id, int16_t key, int16_t version,
                          const void *body, client_done_fn fn) {
    if (ctl->coord == NULL) {
        struct proto_find_coordinator_request req = {.key = proto_string_from(group_id),
                                                     .key_type = 0};
        int rc = ctl_call(ctl, PROTO_API_FIND_COORDINATOR, 1, &req, on_find_coordinator);
        if (rc < 0) return rc;
    }
    if (ctl->coord == NULL) return ctl_call(ctl, key, version, body, fn);
    return ctl_call_on(ctl, ctl->coord, key, version, body, fn);
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "trialctl: %s: %s\n", what, rc < 0 ? strerror(-rc) : "Kafka error");
    return 1;
}

static int kafka_error(const char *what, int16_t code) {
    fprintf(stderr, "trialctl: %s: Kafka error %d\n", what, code);
    return 1;
}

/* --- cluster, topics ------------------------------------------------------------------ */

static void on_cluster(void *arg, int status, const void *body) {
    const struct proto_metadata_response *r = body;
    printf("cluster id %s controller %d\n", r->cluster_id.str ? r->cluster_id.str : "-",
           r->controller_id);
    for (int32_t i = 0; i < r->brokers.count; i++) {
        printf("node %d %s:%d\n", r->brokers.items[i].node_id, r->brokers.items[i].host.str,
               r->brokers.items[i].port);
    }
    printf("topics %d\n", r->topics.count);
}

static void on_list(void *arg, int status, const void *body) {
    const struct proto_metadata_response *r = body;
    for (int32_t i = 0; i < r->topics.count; i++) printf("%s\n", r->topics.items[i].name.str);
}

static void print_ids(const char *label, const int32_t *ids, int32_t count) {
    printf(" %s [", label);
    for (int32_t i = 0; i < count; i++) printf(i ? ",%d" : "%d", ids[i]);
    printf("]");
}

static void on_describe(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_metadata_response *r = body;
    for (int32_t i = 0; i < r->topics.count; i++) {
        const struct proto_metadata_response_topic *t = &r->topics.items[i];
        ctl->error = t->error_code;
        if (t->error_code != 0) continue;
        ctl->found_partitions = t->partitions.count;
        printf("topic %s partitions %d\n", t->name.str, t->partitions.count);
        for (int32_t p = 0; p < t->partitions.count; p++) {
            const struct proto_metadata_response_partition *mp = &t->partitions.items[p];
            printf("  partition %d leader %d", mp->partition_index, mp->leader_id);
            print_ids("replicas", mp->replica_nodes.items, mp->replica_nodes.count);
            print_ids("isr", mp->isr_nodes.items, mp->isr_nodes.count);
            printf("\n");
        }
    }
}

static void on_describe_configs(void *arg, int status, const void *body) {
    const struct proto_describe_configs_response *r = body;
    printf("  configs:");
    int shown = 0;
    for (int32_t i = 0; i < r->results.count; i++) {
        const struct proto_describe_configs_result *res = &r->results.items[i];
        for (int32_t j = 0; j < res->configs.count; j++) {
            const struct proto_describe_configs_config *c = &res->configs.items[j];
            if (c->config_source == 5 || c->value.str == NULL) continue; /* Defaults. */
            printf("%s%s=%s", shown++ ? "," : " ", c->name.str, c->value.str);
        }
    }
    printf("%s\n", shown ? "" : " (defaults)");
}

static int metadata(struct ctl *ctl, const char *topic, client_done_fn fn) {
    struct proto_metadata_request_topic t = {.name = proto_string_from(topic)};
    struct proto_metadata_request req = {.allow_auto_topic_creation = false};
    req.topics.items = topic != NULL ? &t : NULL;
    req.topics.count = topic != NULL ? 1 : -1;
    return ctl_call(ctl, PROTO_API_METADATA, 4, &req, fn);
}

static void on_count(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_metadata_response *r = body;
    ctl->error = r->topics.count == 1 ? r->topics.items[0].error_code : 3;
    ctl->partition_count = ctl->error == 0 ? r->topics.items[0].partitions.count : 0;
}

/* The topic's partition count, or a negative error. */
static int topic_partition_count(struct ctl *ctl) {
    int rc = metadata(ctl, ctl->topic, on_count);
    if (rc < 0) return rc;
    if (ctl->error != 0 || ctl->partition_count <= 0) return -ENOENT;
    return MIN(ctl->partition_count, CTL_PARTITIONS_MAX);
}

static void on_create(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_create_topics_response *r = body;
    ctl->error = r->topics.count > 0 ? r->topics.items[0].error_code : -1;
}

static void on_delete(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_delete_topics_response *r = body;
    ctl->error = r->responses.count > 0 ? r->responses.items[0].error_code : -1;
}

static void on_add_partitions(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_create_partitions_response *r = body;
    ctl->error = r->results.count > 0 ? r->results.items[0].error_code : -1;
}

static int cmd_topics(struct ctl *ctl, const char *sub) {
    int rc;
    if (strcmp(sub, "list") == 0) {
        rc = metadata(ctl, NULL, on_list);
        return rc < 0 ? fail("list", rc) : 0;
    }
    if (ctl->topic == NULL) return fail("topics: a topic name is required", -EINVAL);
    if (strcmp(sub, "describe") == 0) {
        ctl->error = 3;
        rc = metadata(ctl, ctl->topic, on_describe);
        if (rc < 0) return fail("describe", rc);
        if (ctl->error != 0) return kafka_error("describe", ctl->error);
        /* Like kafka-topics --describe: the topic's own (non-default) configs. */
        struct proto_describe_configs_resource res = {.resource_type = 2,
                                                      .resource_name = proto_string_from(ctl->topic)};
        res.configuration_keys.items = NULL;
        res.configuration_keys.count = -1;
        struct proto_describe_configs_request req = {.include_synonyms = false};
        req.resources.items = &res;
        req.resources.count = 1;
        rc = ctl_call(ctl, PROTO_API_DESCRIBE_CONFIGS, 1, &req, on_describe_configs);
        if (rc < 0) return fail("describe configs", rc);
        return 0;
    }
    if (strcmp(sub, "create") == 0) {
        struct proto_create_topics_request_config configs[CTL_CONFIGS_MAX];
        char keys[CTL_CONFIGS_MAX][128];
        for (int i = 0; i < ctl->config_count; i++) {
            const char *eq = strchr(ctl->configs[i], '=');
            if (eq == NULL || (size_t)(eq - ctl->configs[i]) >= sizeof(keys[i])) {
                return fail("--config wants key=value", -EINVAL);
            }
            memcpy(keys[i], ctl->configs[i], (size_t)(eq - ctl->configs[i]));
            keys[i][eq - ctl->configs[i]] = '\0';
            configs[i].name = proto_string_from(keys[i]);
            configs[i].value = proto_string_from(eq + 1);
        }
        struct proto_create_topics_request_topic t = {
            .name = proto_string_from(ctl->topic), .num_partitions = ctl->partitions,
            .replication_factor = ctl->replication};
        t.assignments.items = NULL;
        t.assignments.count = 0;
        t.configs.items = configs;
        t.configs.count = ctl->config_count;
        struct proto_create_topics_request req = {.timeout_ms = 30000, .validate_only = false};
        req.topics.items = &t;
        req.topics.count = 1;
        rc = ctl_call(ctl, PROTO_API_CREATE_TOPICS, 2, &req, on_create);
        if (rc < 0) return fail("create", rc);
        if (ctl->error != 0) return kafka_error("create", ctl->error);
        printf("created %s\n", ctl->topic);
        return 0;
    }
    if (strcmp(sub, "delete") == 0) {
        struct proto_string name = proto_string_from(ctl->topic);
        struct proto_delete_topics_request req = {.timeout_ms = 30000};
        req.topic_names.items = &name;
        req.topic_names.count = 1;
        rc = ctl_call(ctl, PROTO_API_DELETE_TOPICS, 1, &req, on_delete);
        if (rc < 0) return fail("delete", rc);
        if (ctl->error != 0) return kafka_error("delete", ctl->error);
        printf("deleted %s\n", ctl->topic);
        return 0;
    }
    if (strcmp(sub, "add-partitions") == 0) {
        struct proto_create_partitions_topic t = {.name = proto_string_from(ctl->topic),
                                                  .count = ctl->partitions};
        t.assignments.items = NULL;
        t.assignments.count = -1;
        struct proto_create_partitions_request req = {.timeout_ms = 30000};
        req.topics.items = &t;
        req.topics.count = 1;
        rc = ctl_call(ctl, PROTO_API_CREATE_PARTITIONS, 1, &req, on_add_partitions);
        if (rc < 0) return fail("add-partitions", rc);
        if (ctl->error != 0) return kafka_error("add-partitions", ctl->error);
        printf("%s now has %d partitions\n", ctl->topic, ctl->partitions);
        return 0;
    }
    return fail("unknown topics command", -EINVAL);
}

/* --- produce -------------------------------------------------------------------------- */

static void on_produce(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_produce_response *r = body;
    ctl->error = -1;
    if (r->responses.count > 0 && r->responses.items[0].partition_responses.count > 0) {
        ctl->error = r->responses.items[0].partition_responses.items[0].error_code;
        ctl->offset = r->responses.items[0].partition_responses.items[0].base_offset;
    }
}

static int produce_batch(struct ctl *ctl, int32_t partition, const struct client_record *records,
                         size_t count, uint8_t *buf) {
    int64_t size = client_build_batch(buf, CTL_BATCH_BYTES, records, count);
    if (size < 0) return fail("build batch", (int)size);
    struct proto_produce_request_partition part = {
        .index = partition, .records = {.data = buf, .len = (int32_t)size}};
    struct proto_produce_request_topic topic = {.name = proto_string_from(ctl->topic)};
    topic.partition_data.items = &part;
    topic.partition_data.count = 1;
    struct proto_produce_request req = {.transactional_id = PROTO_STR_NULL, .acks = ctl->acks,
                                        .timeout_ms = 30000};
    req.topic_data.items = &topic;
    req.topic_data.count = 1;
    if (ctl->acks == 0) {
        /* No response will come: send and let the loop drain it. */
        return fail("produce: --acks 0 is not supported by trialctl", -EINVAL);
    }
    int rc = ctl_call_leader(ctl, ctl->topic, partition, PROTO_API_PRODUCE, 3, &req, on_produce);
    if (rc < 0) return fail("produce", rc);
    if (ctl->error != 0) return kafka_error("produce", ctl->error);
    return 0;
}

/* Kafka's default partitioner for keyed records: murmur2 of the key, made positive. */
static uint32_t murmur2(const uint8_t *data, int32_t len) {
    const uint32_t m = 0x5bd1e995;
    uint32_t h = 0x9747b28c ^ (uint32_t)len;
    int32_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t k = (uint32_t)data[i] | ((uint32_t)data[i + 1] << 8) |
                     ((uint32_t)data[i + 2] << 16) | ((uint32_t)data[i + 3] << 24);
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len - i) {
    case 3: h ^= (uint32_t)data[i + 2] << 16; /* fall through */
    case 2: h ^= (uint32_t)data[i + 1] << 8;  /* fall through */
    case 1:
        h ^= data[i];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

/* Records waiting for their partition's next batch. */
struct ctl_pending {
    struct client_record records[CTL_BATCH_RECORDS];
    size_t count;
};

static int flush_pending(struct ctl *ctl, struct ctl_pending *pending, int32_t n, uint8_t *buf) {
    for (int32_t p = 0; p < n; p++) {
        if (pending[p].count == 0) continue;
        int32_t partition = ctl->partition >= 0 ? ctl->partition : p;
        int rc = produce_batch(ctl, partition, pending[p].records, pending[p].count, buf);
        pending[p].count = 0;
        if (rc != 0) return rc;
    }
    return 0;
}

static int cmd_produce(struct ctl *ctl) {
    if (ctl->topic == NULL) return fail("produce: a topic name is required", -EINVAL);
    int32_t n = 1;
    if (ctl->partition < 0) {
        n = topic_partition_count(ctl);
        if (n < 0) return fail("produce: unknown topic", n);
    }
    /* io_alloc never returns NULL (running out of memory aborts), like all of system/. */
    char *lines = io_alloc(ctl->io, (size_t)CTL_BATCH_BYTES);
    uint8_t *buf = io_alloc(ctl->io, CTL_BATCH_BYTES + 4096);
    char *line = io_alloc(ctl->io, CTL_LINE_MAX);
    struct ctl_pending *pending = io_calloc(ctl->io, (size_t)n, sizeof(*pending));
    size_t used = 0;
    int64_t total = 0;
    int32_t sticky = 0; /* Null keys: one partition per round of batches, then the next. */
    int rc = 0;
    int64_t now_ms = io_wall_ms(ctl->io);
    while (rc == 0 && fgets(line, CTL_LINE_MAX, stdin) != NULL) {
        size_t len = strcspn(line, "\n");
        line[len] = '\0';
        if (used + len + 1 > CTL_BATCH_BYTES / 2) {
            rc = flush_pending(ctl, pending, n, buf);
            used = 0;
            sticky = (sticky + 1) % n;
            if (rc != 0) break;
        }
        char *copy = lines + used;
        memcpy(copy, line, len + 1);
        used += len + 1;
        struct client_record r;
        memset(&r, 0, sizeof(r));
        r.timestamp_ms = now_ms;
        char *sep = ctl->key_separator != NULL ? strstr(copy, ctl->key_separator) : NULL;
        if (sep != NULL) {
            r.key = (const uint8_t *)copy;
            r.key_len = (int32_t)(sep - copy);
            r.value = (const uint8_t *)(sep + strlen(ctl->key_separator));
            r.value_len = (int32_t)strlen((const char *)r.value);
        } else {
            r.value = (const uint8_t *)copy;
            r.value_len = (int32_t)len;
        }
        int32_t p = 0;
        if (ctl->partition < 0) {
            p = r.key != NULL ? (int32_t)((murmur2(r.key, r.key_len) & 0x7fffffff) % (uint32_t)n)
                              : sticky;
        }
        if (pending[p].count == CTL_BATCH_RECORDS) {
            rc = flush_pending(ctl, pending, n, buf);
            used = 0;
            sticky = (sticky + 1) % n;
            /* The record's bytes stay valid: flushing does not reuse `lines` until the
             * next line is read, and this one is re-copied below. */
            memmove(lines, copy, len + 1);
            used = len + 1;
            copy = lines;
            if (r.key != NULL) {
                r.key = (const uint8_t *)copy;
                r.value = (const uint8_t *)(copy + r.key_len + strlen(ctl->key_separator));
            } else {
                r.value = (const uint8_t *)copy;
            }
            if (rc != 0) break;
        }
        pending[p].records[pending[p].count++] = r;
        total++;
    }
    if (rc == 0) rc = flush_pending(ctl, pending, n, buf);
    io_free(ctl->io, lines, (size_t)CTL_BATCH_BYTES);
    io_free(ctl->io, buf, CTL_BATCH_BYTES + 4096);
    io_free(ctl->io, line, CTL_LINE_MAX);
    io_free(ctl->io, pending, (size_t)n * sizeof(*pending));
    if (rc == 0) fprintf(stderr, "trialctl: produced %" PRId64 " records\n", total);
    return rc;
}

/* --- offsets and consume ---------------------------------------------------------------- */

static void on_list_offsets(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_list_offsets_response *r = body;
    ctl->error = -1;
    if (r->topics.count > 0 && r->topics.items[0].partitions.count > 0) {
        ctl->error = r->topics.items[0].partitions.items[0].error_code;
        ctl->offset = r->topics.items[0].partitions.items[0].offset;
    }
}

static int list_offset(struct ctl *ctl, int32_t partition, int64_t timestamp, int64_t *offset) {
    struct proto_list_offsets_request_partition p = {
        .partition_index = partition, .current_leader_epoch = -1, .timestamp = timestamp,
        .max_num_offsets = 1};
    struct proto_list_offsets_request_topic t = {.name = proto_string_from(ctl->topic)};
    t.partitions.items = &p;
    t.partitions.count = 1;
    struct proto_list_offsets_request req = {.replica_id = -1, .isolation_level = 0};
    req.topics.items = &t;
    req.topics.count = 1;
    int rc = ctl_call_leader(ctl, ctl->topic, partition, PROTO_API_LIST_OFFSETS, 1, &req,
                             on_list_offsets);
    if (rc < 0) return rc;
    if (ctl->error != 0) return -EPROTO;
    *offset = ctl->offset;
    return 0;
}

static int cmd_offsets(struct ctl *ctl) {
    if (ctl->topic == NULL) return fail("offsets: a topic name is required", -EINVAL);
    int64_t ts = ctl->by_timestamp ? ctl->timestamp : ctl->start == -2 ? -2 : -1;
    int32_t first = ctl->partition, n = 1;
    if (ctl->partition < 0) {
        first = 0;
        n = topic_partition_count(ctl);
        if (n < 0) return fail("offsets: unknown topic", n);
    }
    for (int32_t p = first; p < first + n; p++) {
        int64_t offset = -1;
        int rc = list_offset(ctl, p, ts, &offset);
        if (rc == -EPROTO) return kafka_error("offsets", ctl->error);
        if (rc < 0) return fail("offsets", rc);
        printf("%s:%d:%" PRId64 "\n", ctl->topic, p, offset);
    }
    return 0;
}

static bool print_record(void *arg, int64_t offset, int64_t timestamp_ms, const uint8_t *key,
                         int32_t key_len, const uint8_t *value, int32_t value_len) {
    struct ctl *ctl = arg;
    if (ctl->count >= 0 && ctl->printed >= ctl->count) return false;
    if (ctl->print_key) {
        if (key_len > 0) fwrite(key, 1, (size_t)key_len, stdout);
        fputs(ctl->key_separator != NULL ? ctl->key_separator : "\t", stdout);
    }
    if (value_len > 0) fwrite(value, 1, (size_t)value_len, stdout);
    fputc('\n', stdout);
    ctl->printed++;
    return true;
}

static void on_fetch(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_fetch_response *r = body;
    ctl->error = 0;
    for (int32_t t = 0; t < r->responses.count; t++) {
        for (int32_t i = 0; i < r->responses.items[t].partitions.count; i++) {
            const struct proto_fetch_response_partition *p = &r->responses.items[t].partitions.items[i];
            int32_t idx = p->partition_index - (ctl->partition < 0 ? 0 : ctl->partition);
            if (idx < 0 || idx >= ctl->partition_count) continue;
            if (p->error_code != 0) {
                ctl->error = p->error_code;
                continue;
            }
            ctl->high_watermarks[idx] = p->high_watermark;
            if (p->records.len <= 0) continue;
            ctl->next_offsets[idx] = client_walk_records(p->records.data, (size_t)p->records.len,
                                                         ctl->next_offsets[idx], print_record, ctl);
        }
    }
}

/* --- consume --group ------------------------------------------------------------------ */

/* A group member (system/client/group_consumer): the partitions come from the group's
 * assignment, positions from its committed offsets (or --from-beginning / latest when none),
 * auto-commit every second and on leaving. Stops after --count records or --timeout-ms. */
static void group_record(void *arg, const char *topic, int32_t partition, int64_t offset,
                         const uint8_t *key, int32_t key_len, const uint8_t *value,
                         int32_t value_len) {
    struct ctl *ctl = arg;
    if (ctl->count >= 0 && ctl->printed >= ctl->count) return;
    (void)topic, (void)partition, (void)offset;
    if (ctl->print_key) {
        if (key_len > 0) fwrite(key, 1, (size_t)key_len, stdout);
        fputs(ctl->key_separator != NULL ? ctl->key_separator : "\t", stdout);
    }
    if (value_len > 0) fwrite(value, 1, (size_t)value_len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    ctl->printed++;
}

static void group_closed(void *arg, int result) {
    struct ctl_wait *w = arg;
    w->done = true;
    w->status = result;
}

static int cmd_consume_group(struct ctl *ctl) {
    struct group_consumer_config c;
    group_consumer_config_defaults(&c);
    c.bootstrap = ctl->bootstrap;
    c.client_id = "trialctl";
    c.group_id = ctl->group_id;
    c.topics[0] = ctl->topic;
    c.topic_count = 1;
    c.reset_earliest = ctl->start == -2;
    c.auto_commit = true;
    c.auto_commit_interval_ms = 1000;
    c.heartbeat_interval_ms = 500;
    c.on_record = group_record;
    c.arg = ctl;
    struct group_consumer *gc;
    int rc = group_consumer_create(ctl->io, &c, &gc);
    if (rc < 0) return fail("consume --group", rc);
    uint64_t deadline = io_now_ns(ctl->io) + (uint64_t)ctl->timeout_ms * 1000000ULL;
    while (io_now_ns(ctl->io) < deadline && (ctl->count < 0 || ctl->printed < ctl->count)) {
        io_posix_run_once(ctl->io, 100);
    }
    struct ctl_wait w = {0};
    group_consumer_close(gc, group_closed, &w);
    deadline = io_now_ns(ctl->io) + 10ULL * 1000000000ULL;
    while (!w.done && io_now_ns(ctl->io) < deadline) io_posix_run_once(ctl->io, 100);
    group_consumer_destroy(gc);
    if (ctl->count >= 0 && ctl->printed < ctl->count) {
        fprintf(stderr, "trialctl: consume --group: %lld of %lld records\n",
                (long long)ctl->printed, (long long)ctl->count);
        return 1;
    }
    return 0;
}

static int cmd_consume(struct ctl *ctl) {
    if (ctl->topic == NULL) return fail("consume: a topic name is required", -EINVAL);
    if (ctl->group_id != NULL) return cmd_consume_group(ctl);
    int32_t first = ctl->partition, n = 1;
    if (ctl->partition < 0) {
        first = 0;
        n = topic_partition_count(ctl);
        if (n < 0) return fail("consume: unknown topic", n);
        if (ctl->start >= 0) return fail("consume: --offset needs --partition", -EINVAL);
    }
    ctl->partition_count = n;
    ctl->next_offsets = io_calloc(ctl->io, (size_t)n, sizeof(int64_t));
    ctl->high_watermarks = io_calloc(ctl->io, (size_t)n, sizeof(int64_t));
    /* Unknown until the partition's leader answered: not at its end before that. */
    for (int32_t i = 0; i < n; i++) ctl->high_watermarks[i] = INT64_MAX;
    struct proto_fetch_request_partition *parts = io_calloc(ctl->io, (size_t)n, sizeof(*parts));
    int rc = 0;
    for (int32_t i = 0; i < n && rc == 0; i++) {
        int64_t offset = ctl->start;
        if (ctl->by_timestamp) rc = list_offset(ctl, first + i, ctl->timestamp, &offset);
        else if (offset < 0) rc = list_offset(ctl, first + i, offset, &offset);
        if (rc == 0 && offset < 0) rc = list_offset(ctl, first + i, -1, &offset); /* None after T. */
        ctl->next_offsets[i] = offset;
    }
    if (rc == -EPROTO) return kafka_error("consume: list offsets", ctl->error);
    if (rc < 0) return fail("consume: list offsets", rc);
    uint64_t deadline = io_now_ns(ctl->io) + (uint64_t)ctl->timeout_ms * 1000000ULL;
    struct cluster_route *routes = io_calloc(ctl->io, (size_t)n, sizeof(*routes));
    size_t rotate = 0;
    while (ctl->count < 0 || ctl->printed < ctl->count) {
        /* One Fetch to one leader for the partitions it leads; the leaders in turn. */
        for (int32_t i = 0; i < n; i++)
            routes[i] = (struct cluster_route){.topic = ctl->topic, .partition = first + i,
                                               .wanted = true};
        cluster_poll(ctl->cluster);
        int32_t leader = cluster_pick_leader(ctl->cluster, routes, (size_t)n, rotate++);
        if (leader == CLUSTER_NO_LEADER) {
            (void)ctl_refresh(ctl, ctl->topic);
            leader = cluster_pick_leader(ctl->cluster, routes, (size_t)n, rotate);
        }
        if (leader == CLUSTER_NO_LEADER) {
            if (io_now_ns(ctl->io) > deadline) return fail("fetch: no partition leader", -EAGAIN);
            io_posix_run_once(ctl->io, 100);
            continue;
        }
        int32_t count = 0;
        for (int32_t i = 0; i < n; i++) {
            if (!routes[i].wanted) continue;
            parts[count++] = (struct proto_fetch_request_partition){
                .partition = first + i, .current_leader_epoch = -1,
                .fetch_offset = ctl->next_offsets[i], .log_start_offset = -1,
                .partition_max_bytes = 1 << 20};
        }
        struct proto_fetch_request_topic t = {.topic = proto_string_from(ctl->topic)};
        t.partitions.items = parts;
        t.partitions.count = count;
        struct proto_fetch_request req = {.replica_id = -1, .max_wait_ms = 500, .min_bytes = 1,
                                          .max_bytes = 50 << 20, .isolation_level = 0,
                                          .session_id = 0, .session_epoch = -1,
                                          .rack_id = PROTO_STR("")};
        req.topics.items = &t;
        req.topics.count = 1;
        req.forgotten_topics_data.items = NULL;
        req.forgotten_topics_data.count = 0;
        rc = ctl_call_on(ctl, cluster_connection(ctl->cluster, leader), PROTO_API_FETCH, 4, &req,
                         on_fetch);
        if (rc < 0) cluster_node_failed(ctl->cluster, leader);
        if (ctl_unreachable(rc) || (rc == 0 && cluster_error_stale_leader(ctl->error))) {
            if (io_now_ns(ctl->io) > deadline) return fail("fetch: leader moved", -EAGAIN);
            (void)ctl_refresh(ctl, ctl->topic); /* The leader moved: ask the new one. */
            continue;
        }
        if (rc < 0) return fail("fetch", rc);
        if (ctl->error != 0) return kafka_error("fetch", ctl->error);
        bool at_end = true;
        for (int32_t i = 0; i < n; i++) at_end = at_end && ctl->next_offsets[i] >= ctl->high_watermarks[i];
        if (ctl->count < 0 && at_end) break;
        if (io_now_ns(ctl->io) > deadline) {
            fprintf(stderr, "trialctl: timed out after %" PRId64 " records\n", ctl->printed);
            return 1;
        }
    }
    io_free(ctl->io, routes, (size_t)n * sizeof(*routes));
    io_free(ctl->io, parts, (size_t)n * sizeof(*parts));
    io_free(ctl->io, ctl->next_offsets, (size_t)n * sizeof(int64_t));
    io_free(ctl->io, ctl->high_watermarks, (size_t)n * sizeof(int64_t));
    fflush(stdout);
    return 0;
}

/* --- main ----------------------------------------------------------------------------- */

/* --- groups --------------------------------------------------------------------------- */

/* What describe and reset-offsets gather: one row per (topic, partition) the group has a
 * commit for or a member is assigned, sorted by topic then partition before printing. */
#define CTL_GROUP_ROWS_MAX 4096
#define CTL_NAME_MAX 256

struct ctl_group_row {
    char topic[CTL_NAME_MAX];
    int32_t partition;
    int64_t committed; /* -1: no commit. */
    char member[CTL_NAME_MAX];
};

struct ctl_group {
    const char *group_id;
    char state[64];
    int16_t error;
    int32_t members;
    struct ctl_group_row *rows;
    int32_t row_count;
};

static struct ctl_group_row *group_row(struct ctl_group *g, const char *topic, int32_t topic_len,
                                       int32_t partition) {
    if (topic_len < 0 || topic_len >= CTL_NAME_MAX) return NULL;
    for (int32_t i = 0; i < g->row_count; i++) {
        struct ctl_group_row *r = &g->rows[i];
        if (r->partition == partition && (int32_t)strlen(r->topic) == topic_len &&
            memcmp(r->topic, topic, (size_t)topic_len) == 0) {
            return r;
        }
    }
    if (g->row_count == CTL_GROUP_ROWS_MAX) return NULL;
    struct ctl_group_row *r = &g->rows[g->row_count++];
    memset(r, 0, sizeof(*r));
    memcpy(r->topic, topic, (size_t)topic_len);
    r->partition = partition;
    r->committed = -1;
    return r;
}

/* Big-endian readers over a ConsumerProtocol blob; false once it runs short. */
struct ctl_bytes {
    const uint8_t *p;
    size_t left;
};

static bool rd_i16(struct ctl_bytes *b, int16_t *v) {
    if (b->left < 2) return false;
    *v = (int16_t)((b->p[0] << 8) | b->p[1]);
    b->p += 2;
    b->left -= 2;
    return true;
}

static bool rd_i32(struct ctl_bytes *b, int32_t *v) {
    if (b->left < 4) return false;
    *v = (int32_t)(((uint32_t)b->p[0] << 24) | ((uint32_t)b->p[1] << 16) |
                   ((uint32_t)b->p[2] << 8) | b->p[3]);
    b->p += 4;
    b->left -= 4;
    return true;
}

/* Prints a member's ConsumerProtocolAssignment (any version: v0-v3 start with the same
 * version, [topic, [partition]] prefix) as "t:0,1 u:2" and notes the rows it owns. */
static void print_assignment(struct ctl_group *g, const char *member, const uint8_t *data,
                             int32_t len) {
    struct ctl_bytes b = {.p = data, .left = len > 0 ? (size_t)len : 0};
    int16_t version;
    int32_t topics;
    if (len <= 0 || !rd_i16(&b, &version) || !rd_i32(&b, &topics) || topics < 0) {
        printf(" -");
        return;
    }
    for (int32_t t = 0; t < topics && t < 1000; t++) {
        int16_t name_len;
        if (!rd_i16(&b, &name_len) || name_len < 0 || (size_t)name_len > b.left) break;
        const char *name = (const char *)b.p;
        b.p += name_len;
        b.left -= (size_t)name_len;
        int32_t parts;
        if (!rd_i32(&b, &parts) || parts < 0) break;
        printf(" %.*s:", name_len, name);
        for (int32_t i = 0; i < parts && i < 100000; i++) {
            int32_t p;
            if (!rd_i32(&b, &p)) break;
            printf(i ? ",%d" : "%d", p);
            struct ctl_group_row *row = group_row(g, name, name_len, p);
            if (row != NULL) snprintf(row->member, sizeof(row->member), "%s", member);
        }
    }
}

static void on_list_groups(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_list_groups_response *r = body;
    ctl->error = r->error_code;
    for (int32_t i = 0; i < r->groups.count; i++) {
        const struct proto_list_groups_response_group *g = &r->groups.items[i];
        printf("%.*s\t%.*s\n", g->group_id.len, g->group_id.str,
               g->protocol_type.len > 0 ? g->protocol_type.len : 0, g->protocol_type.str);
    }
}

static void on_describe_group(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    struct ctl_group *g = ctl->group;
    const struct proto_describe_groups_response *r = body;
    g->error = r->groups.count == 1 ? r->groups.items[0].error_code : -1;
    if (g->error != 0) return;
    const struct proto_describe_groups_response_group *d = &r->groups.items[0];
    snprintf(g->state, sizeof(g->state), "%.*s", d->group_state.len, d->group_state.str);
    g->members = d->members.count;
    if (!ctl->quiet) {
        printf("group %s state %s protocol %.*s/%.*s members %d\n", g->group_id, g->state,
               d->protocol_type.len > 0 ? d->protocol_type.len : 0, d->protocol_type.str,
               d->protocol_data.len > 0 ? d->protocol_data.len : 0, d->protocol_data.str,
               d->members.count);
    }
    for (int32_t i = 0; i < d->members.count; i++) {
        const struct proto_describe_groups_response_member *m = &d->members.items[i];
        char member[CTL_NAME_MAX];
        snprintf(member, sizeof(member), "%.*s", m->member_id.len, m->member_id.str);
        if (!ctl->quiet) {
            printf("  member %s client %.*s host %.*s assignment", member, m->client_id.len,
                   m->client_id.str, m->client_host.len, m->client_host.str);
            print_assignment(g, member, m->member_assignment.data, m->member_assignment.len);
            printf("\n");
        }
    }
}

static void on_offset_fetch(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    struct ctl_group *g = ctl->group;
    const struct proto_offset_fetch_response *r = body;
    g->error = r->error_code;
    for (int32_t t = 0; t < r->topics.count; t++) {
        const struct proto_offset_fetch_response_topic *ft = &r->topics.items[t];
        for (int32_t p = 0; p < ft->partitions.count; p++) {
            const struct proto_offset_fetch_response_partition *fp = &ft->partitions.items[p];
            if (fp->error_code != 0 || fp->committed_offset < 0) continue;
            struct ctl_group_row *row = group_row(g, ft->name.str, ft->name.len,
                                                  fp->partition_index);
            if (row != NULL) row->committed = fp->committed_offset;
        }
    }
}

static void on_offset_commit(void *arg, int status, const void *body) {
    struct ctl *ctl = arg;
    const struct proto_offset_commit_response *r = body;
    for (int32_t t = 0; t < r->topics.count; t++) {
        for (int32_t p = 0; p < r->topics.items[t].partitions.count; p++) {
            int16_t e = r->topics.items[t].partitions.items[p].error_code;
            if (e != 0) ctl->error = e;
        }
    }
}

static int cmp_rows(const void *a, const void *b) {
    const struct ctl_group_row *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c != 0) return c;
    return x->partition < y->partition ? -1 : x->partition > y->partition;
}

static int describe_group(struct ctl *ctl, struct ctl_group *g) {
    struct proto_string id = proto_string_from(g->group_id);
    struct proto_describe_groups_request req = {.include_authorized_operations = false};
    req.groups.items = &id;
    req.groups.count = 1;
    int rc = ctl_call_coord(ctl, g->group_id, PROTO_API_DESCRIBE_GROUPS, 0, &req,
                            on_describe_group);
    if (rc < 0) return fail("describe group", rc);
    if (g->error != 0) return kafka_error("describe group", g->error);
    return 0;
}

static int cmd_groups(struct ctl *ctl, const char *sub, const char *group_id) {
    if (strcmp(sub, "list") == 0) {
        /* Each broker lists the groups it coordinates: ask them all (by ascending id). */
        struct proto_list_groups_request req = {0};
        int32_t ids[CLUSTER_BROKERS_MAX];
        size_t count =
            ctl_refresh(ctl, NULL) ? cluster_brokers(ctl->cluster, ids, CLUSTER_BROKERS_MAX) : 0;
        if (count == 0) {
            int rc = ctl_call(ctl, PROTO_API_LIST_GROUPS, 0, &req, on_list_groups);
            if (rc < 0) return fail("list groups", rc);
            return ctl->error != 0 ? kafka_error("list groups", ctl->error) : 0;
        }
        for (size_t i = 0; i < count; i++) {
            struct client *c = cluster_connection(ctl->cluster, ids[i]);
            int rc = c != NULL ? ctl_call_on(ctl, c, PROTO_API_LIST_GROUPS, 0, &req, on_list_groups)
                               : -EHOSTUNREACH;
            if (rc < 0) return fail("list groups", rc);
            if (ctl->error != 0) return kafka_error("list groups", ctl->error);
        }
        return 0;
    }
    if (group_id == NULL) return fail("groups: a group id is required", -EINVAL);
    struct ctl_group g = {.group_id = group_id};
    g.rows = io_calloc(ctl->io, CTL_GROUP_ROWS_MAX, sizeof(*g.rows));
    ctl->group = &g;
    int rc = 0;
    if (strcmp(sub, "describe") == 0) {
        rc = describe_group(ctl, &g);
        if (rc != 0) goto out;
        /* Every committed offset of the group (OffsetFetch v2+: null topics). */
        struct proto_offset_fetch_request req = {.group_id = proto_string_from(group_id)};
        req.topics.items = NULL;
        req.topics.count = -1;
        int err = ctl_call_coord(ctl, group_id, PROTO_API_OFFSET_FETCH, 2, &req, on_offset_fetch);
        if (err < 0) {
            rc = fail("offset fetch", err);
            goto out;
        }
        if (g.error != 0) {
            rc = kafka_error("offset fetch", g.error);
            goto out;
        }
        qsort(g.rows, (size_t)g.row_count, sizeof(*g.rows), cmp_rows);
        printf("TOPIC\tPARTITION\tCOMMITTED\tLOG-END\tLAG\tMEMBER\n");
        for (int32_t i = 0; i < g.row_count; i++) {
            struct ctl_group_row *row = &g.rows[i];
            ctl->topic = row->topic;
            int64_t hw = -1;
            err = list_offset(ctl, row->partition, -1, &hw);
            char committed[32] = "-", end[32] = "-", lag[32] = "-";
            if (err == 0) snprintf(end, sizeof(end), "%" PRId64, hw);
            if (row->committed >= 0) {
                snprintf(committed, sizeof(committed), "%" PRId64, row->committed);
                /* I-GRP-6: lag = HW - committed, never below zero (a commit may run ahead
                 * of a truncated log). */
                if (err == 0) snprintf(lag, sizeof(lag), "%" PRId64, MAX(hw - row->committed, 0));
            }
            printf("%s\t%d\t%s\t%s\t%s\t%s\n", row->topic, row->partition, committed, end, lag,
                   row->member[0] ? row->member : "-");
        }
        ctl->topic = NULL;
        goto out;
    }
    if (strcmp(sub, "reset-offsets") == 0) {
        if (ctl->topic == NULL || ctl->reset_mode == 0) {
            rc = fail("reset-offsets wants --topic T and --to-earliest|--to-latest|--to-offset N",
                      -EINVAL);
            goto out;
        }
        /* Like kafka-consumer-groups.sh: only while no member could overwrite the commits. */
        ctl->quiet = true;
        rc = describe_group(ctl, &g);
        if (rc != 0) goto out;
        if (strcmp(g.state, "Empty") != 0 && strcmp(g.state, "Dead") != 0) {
            fprintf(stderr, "trialctl: group %s is not empty (state %s, %d members): stop its "
                    "consumers first\n", group_id, g.state, g.members);
            rc = 1;
            goto out;
        }
        int32_t first = ctl->partition, n = 1;
        if (ctl->partition < 0) {
            first = 0;
            n = topic_partition_count(ctl);
            if (n < 0) {
                rc = fail("reset-offsets: unknown topic", n);
                goto out;
            }
        }
        struct proto_offset_commit_request_partition parts[256];
        if (n > (int32_t)ARRAY_LEN(parts)) n = (int32_t)ARRAY_LEN(parts);
        for (int32_t i = 0; i < n; i++) {
            int64_t low = 0, high = 0;
            int err = list_offset(ctl, first + i, -2, &low);
            if (err == 0) err = list_offset(ctl, first + i, -1, &high);
            if (err < 0) {
                rc = err == -EPROTO ? kafka_error("list offsets", ctl->error)
                                    : fail("list offsets", err);
                goto out;
            }
            int64_t to = ctl->reset_mode == 1 ? low : ctl->reset_mode == 2 ? high
                         : MIN(MAX(ctl->reset_offset, low), high); /* Kafka clamps too. */
            parts[i] = (struct proto_offset_commit_request_partition){
                .partition_index = first + i, .committed_offset = to,
                .committed_leader_epoch = -1, .commit_timestamp = -1,
                .committed_metadata = PROTO_STR("")};
        }
        struct proto_offset_commit_request_topic t = {.name = proto_string_from(ctl->topic)};
        t.partitions.items = parts;
        t.partitions.count = n;
        struct proto_offset_commit_request req = {
            .group_id = proto_string_from(group_id), .generation_id = -1,
            .member_id = PROTO_STR(""), .group_instance_id = PROTO_STR_NULL,
            .retention_time_ms = -1};
        req.topics.items = &t;
        req.topics.count = 1;
        ctl->error = 0;
        int err =
            ctl_call_coord(ctl, group_id, PROTO_API_OFFSET_COMMIT, 2, &req, on_offset_commit);
        if (err < 0) {
            rc = fail("offset commit", err);
            goto out;
        }
        if (ctl->error != 0) {
            rc = kafka_error("offset commit", ctl->error);
            goto out;
        }
        for (int32_t i = 0; i < n; i++) {
            printf("%s:%d:%" PRId64 "\n", ctl->topic, parts[i].partition_index,
                   parts[i].committed_offset);
        }
        goto out;
    }
    rc = fail("unknown groups command", -EINVAL);
out:
    ctl->group = NULL;
    io_free(ctl->io, g.rows, CTL_GROUP_ROWS_MAX * sizeof(*g.rows));
    return rc;
}

static void usage(void) {
    fprintf(stderr,
            "usage: trialctl [--bootstrap-server host:port[,host:port...]] COMMAND ...\n"
            "  cluster\n"
            "  topics list | describe T | create T [--partitions N] [--replication-factor R]"
            " [--config k=v] | delete T | add-partitions T --partitions N\n"
            "  produce T [--partition P] [--key-separator S] [--acks 1|-1]\n"
            "  consume T [--partition P] [--from-beginning|--offset O|--timestamp MS] [--count N]"
            " [--print-key] [--key-separator S] [--timeout-ms MS] [--group G]\n"
            "  offsets T [--partition P] [--earliest|--latest|--time MS]\n"
            "  groups list | describe G | reset-offsets G --topic T [--partition P]"
            " (--to-earliest|--to-latest|--to-offset N)\n");
}

int main(int argc, char **argv) {
    struct ctl ctl = {.partition = -1, .partitions = -1, .replication = -1, .acks = -1,
                      .start = -1, .count = -1, .timeout_ms = 30000};
    const char *bootstrap = "127.0.0.1:9092";
    const char *positional[3] = {NULL, NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--bootstrap-server") == 0 && next) bootstrap = argv[++i];
        else if (strcmp(a, "--partition") == 0 && next) ctl.partition = atoi(argv[++i]);
        else if (strcmp(a, "--partitions") == 0 && next) ctl.partitions = atoi(argv[++i]);
        else if (strcmp(a, "--replication-factor") == 0 && next) ctl.replication = (int16_t)atoi(argv[++i]);
        else if (strcmp(a, "--config") == 0 && next && ctl.config_count < CTL_CONFIGS_MAX) ctl.configs[ctl.config_count++] = argv[++i];
        else if (strcmp(a, "--key-separator") == 0 && next) ctl.key_separator = argv[++i];
        else if (strcmp(a, "--acks") == 0 && next) ctl.acks = (int16_t)atoi(argv[++i]);
        else if (strcmp(a, "--print-key") == 0) ctl.print_key = true;
        else if (strcmp(a, "--from-beginning") == 0 || strcmp(a, "--earliest") == 0) ctl.start = -2;
        else if (strcmp(a, "--latest") == 0) ctl.start = -1;
        else if (strcmp(a, "--offset") == 0 && next) ctl.start = atoll(argv[++i]);
        else if ((strcmp(a, "--timestamp") == 0 || strcmp(a, "--time") == 0) && next) {
            ctl.by_timestamp = true;
            ctl.timestamp = atoll(argv[++i]);
        } else if (strcmp(a, "--count") == 0 && next) ctl.count = atoll(argv[++i]);
        else if (strcmp(a, "--timeout-ms") == 0 && next) ctl.timeout_ms = atoll(argv[++i]);
        else if (strcmp(a, "--topic") == 0 && next) ctl.topic = argv[++i];
        else if (strcmp(a, "--group") == 0 && next) ctl.group_id = argv[++i];
        else if (strcmp(a, "--to-earliest") == 0) ctl.reset_mode = 1;
        else if (strcmp(a, "--to-latest") == 0) ctl.reset_mode = 2;
        else if (strcmp(a, "--to-offset") == 0 && next) {
            ctl.reset_mode = 3;
            ctl.reset_offset = atoll(argv[++i]);
        }
        else if (a[0] == '-' && a[1] == '-') {
            usage();
            return 2;
        } else if (npos < 3) positional[npos++] = a;
    }
    if (npos == 0) {
        usage();
        return 2;
    }
    struct cluster_endpoint endpoints[CLUSTER_BOOTSTRAP_MAX];
    if (cluster_parse_bootstrap(bootstrap, endpoints, CLUSTER_BOOTSTRAP_MAX) < 0) {
        fprintf(stderr, "trialctl: --bootstrap-server wants host:port[,host:port...] (at most %d)\n",
                CLUSTER_BOOTSTRAP_MAX);
        return 2;
    }
    ctl.io = io_posix_create();
    ctl.bootstrap = bootstrap;
    struct cluster_config cc;
    cluster_config_init(&cc, bootstrap, NULL, 0, "trialctl", 0);
    if (cluster_create(ctl.io, &cc, &ctl.cluster) < 0) {
        io_posix_destroy(ctl.io);
        return 2;
    }
    const char *cmd = positional[0];
    int rc;
    if (strcmp(cmd, "cluster") == 0) {
        rc = metadata(&ctl, NULL, on_cluster) < 0 ? fail("cluster", -EIO) : 0;
    } else if (strcmp(cmd, "topics") == 0 && npos >= 2) {
        ctl.topic = positional[2];
        rc = cmd_topics(&ctl, positional[1]);
    } else if (strcmp(cmd, "produce") == 0) {
        ctl.topic = positional[1];
        rc = cmd_produce(&ctl);
    } else if (strcmp(cmd, "consume") == 0) {
        ctl.topic = positional[1];
        rc = cmd_consume(&ctl);
    } else if (strcmp(cmd, "offsets") == 0) {
        ctl.topic = positional[1];
        rc = cmd_offsets(&ctl);
    } else if (strcmp(cmd, "groups") == 0 && npos >= 2) {
        rc = cmd_groups(&ctl, positional[1], positional[2]);
    } else {
        usage();
        rc = 2;
    }
    if (ctl.coord != NULL) client_destroy(ctl.coord);
    cluster_destroy(ctl.cluster);
    io_posix_destroy(ctl.io);
    return rc;
}
