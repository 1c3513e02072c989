/*
 * cluster.c — the client's view of the cluster (see cluster.h): bootstrap parsing, the node
 * table with one connection each, Metadata requests rotated over the nodes, and the topic
 * table each Metadata response replaces.
 */
#include "client/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "client/client.h"
#include "proto/proto.h"

#define CLUSTER_NODES_MAX     (CLUSTER_BOOTSTRAP_MAX + CLUSTER_BROKERS_MAX)
#define CLUSTER_METADATA_VERSION 7 /* v4: allow_auto_topic_creation; v7: leader_epoch. */

struct cluster_node {
    bool used;
    int32_t id; /* Broker id, or -2 - i for bootstrap entry i. */
    char host[CLUSTER_HOST_MAX];
    uint16_t port;
    bool listed;         /* Brokers: named by the last Metadata. Bootstraps: always. */
    struct client *client;
    bool broken;         /* Close at the next poll. */
    uint64_t retry_at_ns; /* No new connection before. */
};

struct cluster_partition {
    int32_t leader;
    int32_t leader_epoch;
};

struct cluster_topic {
    char name[CLUSTER_TOPIC_MAX];
    int32_t partition_count;
    struct cluster_partition *partitions; /* partition_count entries. */
};

struct cluster {
    struct io *io;
    struct cluster_config config;
    char client_id[64];
    struct cluster_node nodes[CLUSTER_NODES_MAX];
    struct cluster_topic topics[CLUSTER_TOPICS_MAX];
    size_t topic_count;
    uint32_t version;
    bool want_refresh;
    bool metadata_in_flight;
    int32_t metadata_node;
    uint32_t metadata_rotate; /* Which candidate the next Metadata goes to. */
    bool metadata_sent;   /* Some Metadata was sent (metadata_sent_ns is meaningful). */
    uint64_t metadata_sent_ns;
    uint64_t metadata_ok_ns;
    bool destroying;
};

void cluster_config_defaults(struct cluster_config *c) {
    memset(c, 0, sizeof(*c));
    c->host = "localhost";
    c->port = 9092;
    c->client_id = "trial-client";
    c->metadata_refresh_ms = 100;
    c->retry_backoff_ms = 100;
    c->metadata_max_age_ms = 300000;
    c->allow_auto_topic_creation = false;
}

void cluster_config_init(struct cluster_config *c, const char *bootstrap, const char *host,
                         uint16_t port, const char *client_id, uint32_t retry_backoff_ms) {
    cluster_config_defaults(c);
    c->bootstrap = bootstrap;
    c->host = host;
    c->port = port;
    if (client_id != NULL) c->client_id = client_id;
    if (retry_backoff_ms > 0) c->retry_backoff_ms = retry_backoff_ms;
}

static int parse_one(const char *s, size_t len, struct cluster_endpoint *out) {
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0) return -EINVAL;
    /* The last colon splits host and port, so "[::1]:9092"-style hosts keep theirs. */
    size_t colon = len;
    for (size_t i = len; i > 0; i--) {
        if (s[i - 1] == ':') {
            colon = i - 1;
            break;
        }
    }
    size_t host_len = colon;
    uint32_t port = 9092;
    if (colon < len) {
        if (colon + 1 == len || len - colon - 1 > 5) return -EINVAL;
        port = 0;
        for (size_t i = colon + 1; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') return -EINVAL;
            port = port * 10 + (uint32_t)(s[i] - '0');
        }
        if (port == 0 || port > 65535) return -EINVAL;
    }
    if (host_len == 0 || host_len >= CLUSTER_HOST_MAX) return -EINVAL;
    memcpy(out->host, s, host_len);
    out->host[host_len] = '\0';
    out->port = (uint16_t)port;
    return 0;
}

int cluster_parse_bootstrap(const char *list, struct cluster_endpoint *out, size_t max) {
    if (list == NULL) return -EINVAL;
    size_t count = 0;
    const char *s = list;
    /* Bounded by the string: every round consumes at least the comma it stops at. */
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
        if (count == max) return -E2BIG;
        int rc = parse_one(s, len, &out[count]);
        if (rc < 0) return rc;
        count++;
        if (comma == NULL) break;
        s = comma + 1;
    }
    ASSERT(count >= 1 && count <= max);
    return (int)count;
}

static void cluster_check(const struct cluster *c);

int cluster_create(struct io *io, const struct cluster_config *config, struct cluster **out) {
    struct cluster_endpoint eps[CLUSTER_BOOTSTRAP_MAX];
    int n;
    if (config->bootstrap != NULL && config->bootstrap[0] != '\0') {
        n = cluster_parse_bootstrap(config->bootstrap, eps, ARRAY_LEN(eps));
        if (n < 0) return n;
    } else {
        if (config->host == NULL || strlen(config->host) >= CLUSTER_HOST_MAX) return -EINVAL;
        snprintf(eps[0].host, sizeof(eps[0].host), "%s", config->host);
        eps[0].port = config->port;
        n = 1;
    }
    struct cluster *c = io_calloc(io, 1, sizeof(*c));
    c->io = io;
    c->config = *config;
    snprintf(c->client_id, sizeof(c->client_id), "%s",
             config->client_id != NULL ? config->client_id : "trial-client");
    c->config.client_id = c->client_id;
    c->config.bootstrap = NULL; /* Not kept: parsed into the node table. */
    c->config.host = NULL;
    for (int i = 0; i < n; i++) {
        struct cluster_node *node = &c->nodes[i];
        node->used = true;
        node->id = -2 - i;
        node->listed = true;
        memcpy(node->host, eps[i].host, sizeof(node->host));
        node->port = eps[i].port;
    }
    c->want_refresh = true;
    c->metadata_node = CLUSTER_NO_LEADER;
    cluster_check(c);
    *out = c;
    return 0;
}

void cluster_destroy(struct cluster *c) {
    c->destroying = true;
    for (size_t i = 0; i < CLUSTER_NODES_MAX; i++) {
        struct client *cl = c->nodes[i].client;
        c->nodes[i].client = NULL;
        if (cl != NULL) client_destroy(cl); /* Pending requests: -ECANCELED, now. */
    }
    for (size_t t = 0; t < c->topic_count; t++) {
        struct cluster_topic *topic = &c->topics[t];
        if (topic->partitions != NULL) {
            io_free(c->io, topic->partitions,
                    (size_t)topic->partition_count * sizeof(*topic->partitions));
        }
    }
    io_free(c->io, c, sizeof(*c));
}

/* The table's invariants: ids unique, bootstrap entries always listed, a broken node has a
 * connection to close, every topic's partition table sized to its count. O(nodes^2), with
 * nodes <= 80: cheap enough to run after every change. */
static void cluster_check(const struct cluster *c) {
    for (size_t i = 0; i < CLUSTER_NODES_MAX; i++) {
        const struct cluster_node *a = &c->nodes[i];
        if (!a->used) continue;
        ASSERT(a->id != CLUSTER_NO_LEADER);
        ASSERT(a->id >= 0 || a->listed);
        ASSERT(!a->broken || a->client != NULL);
        for (size_t j = i + 1; j < CLUSTER_NODES_MAX; j++)
            ASSERT(!c->nodes[j].used || c->nodes[j].id != a->id);
    }
    ASSERT(c->topic_count <= CLUSTER_TOPICS_MAX);
    for (size_t t = 0; t < c->topic_count; t++) {
        const struct cluster_topic *topic = &c->topics[t];
        ASSERT(topic->partition_count >= 0 && topic->partition_count <= CLUSTER_PARTITIONS_MAX);
        ASSERT((topic->partition_count == 0) == (topic->partitions == NULL));
    }
}

static struct cluster_node *node_find(struct cluster *c, int32_t id) {
    for (size_t i = 0; i < CLUSTER_NODES_MAX; i++) {
        if (c->nodes[i].used && c->nodes[i].id == id) return &c->nodes[i];
    }
    return NULL;
}

static const struct cluster_topic *topic_find(const struct cluster *c, const char *name) {
    for (size_t t = 0; t < c->topic_count; t++) {
        if (strcmp(c->topics[t].name, name) == 0) return &c->topics[t];
    }
    return NULL;
}

int cluster_add_topic(struct cluster *c, const char *topic) {
    if (topic == NULL || topic[0] == '\0' || strlen(topic) >= CLUSTER_TOPIC_MAX) return -EINVAL;
    if (topic_find(c, topic) != NULL) return 0;
    if (c->topic_count == CLUSTER_TOPICS_MAX) return -ENOSPC;
    struct cluster_topic *t = &c->topics[c->topic_count++];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", topic);
    c->want_refresh = true;
    return 0;
}

void cluster_refresh(struct cluster *c) { c->want_refresh = true; }

uint32_t cluster_metadata_version(const struct cluster *c) { return c->version; }

int32_t cluster_partition_count(const struct cluster *c, const char *topic) {
    const struct cluster_topic *t = topic_find(c, topic);
    return t != NULL ? t->partition_count : 0;
}

int32_t cluster_leader(const struct cluster *c, const char *topic, int32_t partition,
                       int32_t *leader_epoch) {
    if (leader_epoch != NULL) *leader_epoch = -1;
    const struct cluster_topic *t = topic_find(c, topic);
    if (t == NULL || partition < 0 || partition >= t->partition_count) return CLUSTER_NO_LEADER;
    const struct cluster_partition *p = &t->partitions[partition];
    if (p->leader < 0) return CLUSTER_NO_LEADER;
    /* A leader without an endpoint cannot be reached: as good as none until a refresh. */
    const struct cluster_node *node = node_find((struct cluster *)c, p->leader);
    if (node == NULL || !node->listed) return CLUSTER_NO_LEADER;
    if (leader_epoch != NULL) *leader_epoch = p->leader_epoch;
    return p->leader;
}

bool cluster_broker_endpoint(const struct cluster *c, int32_t node_id, const char **host,
                             uint16_t *port) {
    const struct cluster_node *node = node_find((struct cluster *)c, node_id);
    if (node == NULL || node_id < 0 || !node->listed) return false;
    *host = node->host;
    *port = node->port;
    return true;
}

static size_t candidates(const struct cluster *c, int32_t *ids);

size_t cluster_brokers(const struct cluster *c, int32_t *ids, size_t max) {
    int32_t all[CLUSTER_NODES_MAX];
    size_t n = candidates(c, all); /* Listed brokers ascending, then bootstrap pseudo ids. */
    size_t out = 0;
    for (size_t i = 0; i < n && out < max; i++) {
        if (all[i] >= 0) ids[out++] = all[i];
    }
    return out;
}

struct client *cluster_connection(struct cluster *c, int32_t node_id) {
    if (c->destroying) return NULL;
    struct cluster_node *node = node_find(c, node_id);
    if (node == NULL || !node->listed || node->broken) return NULL;
    if (node->client == NULL) {
        if (io_now_ns(c->io) < node->retry_at_ns) return NULL;
        ASSERT(node->host[0] != '\0' && node->port != 0);
        node->client = client_create(c->io, node->host, node->port, c->client_id);
    }
    ASSERT(node->client != NULL);
    return node->client;
}

void cluster_node_failed(struct cluster *c, int32_t node_id) {
    struct cluster_node *node = node_find(c, node_id);
    if (node == NULL) return;
    if (node->client != NULL) node->broken = true;
    node->retry_at_ns = io_now_ns(c->io) + (uint64_t)c->config.retry_backoff_ms * NS_PER_MS;
    c->want_refresh = true;
}

/* The Metadata candidates in a fixed order: listed brokers by ascending id, then the
 * bootstrap entries. Returns the count written to ids. */
static size_t candidates(const struct cluster *c, int32_t *ids) {
    size_t n = 0;
    for (size_t i = 0; i < CLUSTER_NODES_MAX; i++) {
        const struct cluster_node *node = &c->nodes[i];
        if (node->used && node->id >= 0 && node->listed) ids[n++] = node->id;
    }
    /* Insertion sort: the table's slot order is the order brokers were first seen. */
    for (size_t i = 1; i < n; i++) {
        int32_t v = ids[i];
        size_t j = i;
        for (; j > 0 && ids[j - 1] > v; j--)
            ids[j] = ids[j - 1];
        ids[j] = v;
    }
    for (size_t i = 0; i < CLUSTER_NODES_MAX; i++) {
        const struct cluster_node *node = &c->nodes[i];
        if (node->used && node->id < -1) ids[n++] = node->id;
    }
    ASSERT(n <= CLUSTER_NODES_MAX);
    return n;
}

static bool node_usable(struct cluster *c, int32_t id) {
    const struct cluster_node *node = node_find(c, id);
    if (node == NULL || !node->listed || node->broken) return false;
    return node->client != NULL || io_now_ns(c->io) >= node->retry_at_ns;
}

int32_t cluster_any_node(struct cluster *c) {
    int32_t ids[CLUSTER_NODES_MAX];
    size_t n = candidates(c, ids);
    for (size_t k = 0; k < n; k++) {
        int32_t id = ids[(c->metadata_rotate + k) % n];
        if (node_usable(c, id)) return id;
    }
    return CLUSTER_NO_LEADER;
}

/* Replaces the broker endpoints with the response's; a broker that moved gets a new
 * connection, one that vanished keeps its struct (unlisted) so ids stay unique. */
static void apply_brokers(struct cluster *c, const struct proto_metadata_response *r) {
    for (size_t i = 0; i < CLUSTER_NODES_MAX; i++) {
        if (c->nodes[i].used && c->nodes[i].id >= 0) c->nodes[i].listed = false;
    }
    int32_t count = MIN(r->brokers.count, (int32_t)CLUSTER_BROKERS_MAX);
    for (int32_t b = 0; b < count; b++) {
        const struct proto_metadata_response_broker *rb = &r->brokers.items[b];
        if (rb->node_id < 0 || rb->host.len <= 0 || rb->host.len >= CLUSTER_HOST_MAX ||
            rb->port <= 0 || rb->port > 65535) {
            continue;
        }
        struct cluster_node *node = node_find(c, rb->node_id);
        if (node == NULL) {
            for (size_t i = 0; i < CLUSTER_NODES_MAX && node == NULL; i++) {
                if (!c->nodes[i].used) node = &c->nodes[i];
            }
            if (node == NULL) continue; /* Table full (bounded); ignored. */
            memset(node, 0, sizeof(*node));
            node->used = true;
            node->id = rb->node_id;
        }
        bool moved = node->port != (uint16_t)rb->port ||
                     strlen(node->host) != (size_t)rb->host.len ||
                     memcmp(node->host, rb->host.str, (size_t)rb->host.len) != 0;
        if (moved) {
            memcpy(node->host, rb->host.str, (size_t)rb->host.len);
            node->host[rb->host.len] = '\0';
            node->port = (uint16_t)rb->port;
            if (node->client != NULL) node->broken = true;
        }
        node->listed = true;
    }
}

static void apply_topics(struct cluster *c, const struct proto_metadata_response *r) {
    for (int32_t i = 0; i < r->topics.count; i++) {
        const struct proto_metadata_response_topic *rt = &r->topics.items[i];
        struct cluster_topic *t = NULL;
        for (size_t k = 0; k < c->topic_count && t == NULL; k++) {
            if (proto_string_eq(rt->name, c->topics[k].name)) t = &c->topics[k];
        }
        if (t == NULL) continue;
        /* UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE (being created): nothing known;
         * keep what the last answer said. */
        if (rt->error_code != 0) continue;
        int32_t n = rt->partitions.count;
        if (n <= 0 || n > CLUSTER_PARTITIONS_MAX) continue;
        if (n != t->partition_count) {
            t->partitions = io_realloc(c->io, t->partitions,
                                       (size_t)t->partition_count * sizeof(*t->partitions),
                                       (size_t)n * sizeof(*t->partitions));
            t->partition_count = n;
        }
        for (int32_t p = 0; p < n; p++)
            t->partitions[p] = (struct cluster_partition){.leader = -1, .leader_epoch = -1};
        for (int32_t j = 0; j < n; j++) {
            const struct proto_metadata_response_partition *rp = &rt->partitions.items[j];
            if (rp->partition_index < 0 || rp->partition_index >= n) continue;
            struct cluster_partition *cp = &t->partitions[rp->partition_index];
            /* LEADER_NOT_AVAILABLE or a -1 leader: leaderless until a later refresh. */
            cp->leader = rp->error_code == 0 ? rp->leader_id : CLUSTER_NO_LEADER;
            cp->leader_epoch = rp->leader_epoch; /* v7+ (KIP-320); -1 when unknown. */
        }
    }
}

static void reap(struct cluster *c);

static void on_metadata(void *arg, int status, const void *body) {
    struct cluster *c = arg;
    c->metadata_in_flight = false;
    if (c->destroying) return;
    if (status < 0) {
        cluster_node_failed(c, c->metadata_node);
        c->metadata_rotate++; /* The next attempt asks another node. */
        return;
    }
    const struct proto_metadata_response *r = body;
    apply_brokers(c, r);
    apply_topics(c, r);
    c->version++;
    c->metadata_ok_ns = io_now_ns(c->io);
    cluster_check(c);
}

static void send_metadata(struct cluster *c) {
    int32_t id = cluster_any_node(c);
    if (id == CLUSTER_NO_LEADER) return;
    struct client *cl = cluster_connection(c, id);
    if (cl == NULL) return;
    struct proto_metadata_request_topic ts[CLUSTER_TOPICS_MAX];
    for (size_t t = 0; t < c->topic_count; t++)
        ts[t] = (struct proto_metadata_request_topic){.name = proto_string_from(c->topics[t].name)};
    struct proto_metadata_request req = {.allow_auto_topic_creation =
                                             c->config.allow_auto_topic_creation};
    req.topics.items = ts;
    req.topics.count = (int32_t)c->topic_count; /* v1+: empty = no topics, brokers only. */
    c->metadata_sent = true;
    c->metadata_sent_ns = io_now_ns(c->io);
    c->want_refresh = false;
    if (client_send(cl, PROTO_API_METADATA, CLUSTER_METADATA_VERSION, &req, on_metadata, c) < 0) {
        /* A dead connection (client.c stays FAILED). We run from cluster_poll, outside any
         * client callback, so close it now rather than wait for another poll. */
        cluster_node_failed(c, id);
        c->metadata_rotate++;
        reap(c);
        return;
    }
    c->metadata_in_flight = true;
    c->metadata_node = id;
}

/* Closes the connections marked failed. Only from cluster_poll (see cluster.h). */
static void reap(struct cluster *c) {
    for (size_t i = 0; i < CLUSTER_NODES_MAX; i++) {
        struct cluster_node *node = &c->nodes[i];
        if (!node->broken) continue;
        struct client *cl = node->client;
        node->client = NULL;
        node->broken = false;
        /* Pending requests complete here with -ECANCELED; their owners may call back into
         * cluster_node_failed/cluster_refresh, which only mark. */
        if (cl != NULL) client_destroy(cl);
    }
    cluster_check(c);
}

void cluster_poll(struct cluster *c) {
    ASSERT(!c->destroying);
    reap(c);
    uint64_t now = io_now_ns(c->io);
    if (c->config.metadata_max_age_ms > 0 && c->version > 0 &&
        now - c->metadata_ok_ns >= (uint64_t)c->config.metadata_max_age_ms * NS_PER_MS) {
        c->want_refresh = true;
    }
    bool due = !c->metadata_sent ||
               now - c->metadata_sent_ns >= (uint64_t)c->config.metadata_refresh_ms * NS_PER_MS;
    if (c->want_refresh && !c->metadata_in_flight && due) send_metadata(c);
}

/* --- Routing helpers --------------------------------------------------------------------- */

int32_t cluster_pick_leader(struct cluster *c, struct cluster_route *routes, size_t count,
                            size_t start) {
    ASSERT(routes != NULL || count == 0);
    int32_t target = CLUSTER_NO_LEADER;
    for (size_t k = 0; k < count && target == CLUSTER_NO_LEADER; k++) {
        const struct cluster_route *r = &routes[(start + k) % count];
        if (!r->wanted) continue;
        int32_t leader = cluster_leader(c, r->topic, r->partition, NULL);
        if (leader == CLUSTER_NO_LEADER) {
            c->want_refresh = true;
            continue;
        }
        if (cluster_connection(c, leader) != NULL) target = leader;
    }
    if (target == CLUSTER_NO_LEADER) return target;
    ASSERT(target >= 0); /* Only brokers lead; bootstrap pseudo ids never do. */
    for (size_t i = 0; i < count; i++) {
        if (routes[i].wanted) {
            int32_t leader = cluster_leader(c, routes[i].topic, routes[i].partition, NULL);
            if (leader == CLUSTER_NO_LEADER) c->want_refresh = true;
            routes[i].wanted = leader == target;
        }
    }
    return target;
}

bool cluster_error_stale_leader(int16_t error) {
    switch (error) {
    case 3:  /* UNKNOWN_TOPIC_OR_PARTITION */
    case 5:  /* LEADER_NOT_AVAILABLE */
    case 6:  /* NOT_LEADER_OR_FOLLOWER */
    case 74: /* FENCED_LEADER_EPOCH */
    case 75: /* UNKNOWN_LEADER_EPOCH */
        return true;
    default:
        return false;
    }
}
