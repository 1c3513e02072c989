/*
 * responder.c — a fake broker whose every byte on the wire comes from the C codec, so that
 * real clients (kcat, kafka-python, confluent-kafka, kafkajs) judge our RESPONSE encodings,
 * the direction the golden request frames cannot cover.
 *
 * It frames with proto_frame_parse, decodes with proto_request_decode and answers with
 * proto_response_encode: ApiVersions (any version; unsupported ones with the v0 error-35
 * reply), Metadata (itself as the only broker, one partition per topic, "golden" when all
 * topics are asked for), Produce (batches kept in memory with their base offsets stamped;
 * nothing sent for acks=0), ListOffsets (0 or the end), Fetch (the stored batches, so a
 * consumer reads back what producers wrote), FindCoordinator (itself), and a one-member
 * consumer group (JoinGroup, SyncGroup, Heartbeat, OffsetCommit, OffsetFetch, LeaveGroup).
 * Anything else closes the connection. Loopback only, one thread, poll(); a test tool, not
 * part of system/.
 *
 * Usage: responder [--seconds S]   prints "PORT <n>" once listening.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto/proto.h"
#include "tests/unit/test_proto_io.h"

#define CONNS_MAX 32
#define INBUF_BYTES (1u << 20)
#define PARTITIONS_MAX 16
#define BATCHES_MAX 256

/* One stored record batch, as received, with its base offset stamped in. */
struct batch {
    int64_t base_offset;
    int64_t next_offset; /* base + lastOffsetDelta + 1 */
    uint8_t *data;
    size_t len;
};

/* An in-memory log per topic-partition: enough for a client to read back what it wrote. */
struct partition_log {
    char topic[64];
    int32_t partition;
    int64_t next_offset;
    struct batch batches[BATCHES_MAX];
    size_t batch_count;
};

struct conn {
    int fd;
    uint8_t *in;
    size_t in_len;
};

#define COMMITS_MAX 64

/* A committed offset of one group. */
struct commit {
    char group[64];
    char topic[64];
    int32_t partition;
    int64_t offset;
};

struct responder {
    struct test_proto_io t;
    uint16_t port;
    uint8_t assignment[4096]; /* The leader's assignment for the one member. */
    int32_t assignment_len;
    struct commit commits[COMMITS_MAX];
    size_t commit_count;
    struct partition_log logs[PARTITIONS_MAX];
    size_t log_count;
};

static struct partition_log *find_log(struct responder *rs, struct proto_string topic,
                                      int32_t partition) {
    for (size_t i = 0; i < rs->log_count; i++) {
        struct partition_log *l = &rs->logs[i];
        if (proto_string_eq(topic, l->topic) && l->partition == partition) return l;
    }
    if (rs->log_count == PARTITIONS_MAX || topic.len <= 0 || topic.len >= 64) return NULL;
    struct partition_log *l = &rs->logs[rs->log_count++];
    memset(l, 0, sizeof(*l));
    memcpy(l->topic, topic.str, (size_t)topic.len);
    l->partition = partition;
    return l;
}

static int32_t be32(const uint8_t *p) {
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                     p[3]);
}

/* Appends every v2 batch of a record set; returns the first base offset or -1. The CRC
 * covers attributes..end, so stamping baseOffset keeps the batch valid (KIP-98 layout). */
static int64_t append_records(struct partition_log *l, struct proto_bytes records) {
    int64_t first = -1;
    size_t pos = 0;
    while (records.len > 0 && pos + 61 <= (size_t)records.len && l->batch_count < BATCHES_MAX) {
        const uint8_t *b = records.data + pos;
        int32_t batch_length = be32(b + 8);
        if (batch_length < 49 || pos + 12 + (size_t)batch_length > (size_t)records.len) break;
        size_t len = 12 + (size_t)batch_length;
        struct batch *bt = &l->batches[l->batch_count++];
        bt->data = malloc(len);
        memcpy(bt->data, b, len);
        bt->len = len;
        bt->base_offset = l->next_offset;
        bt->next_offset = l->next_offset + be32(b + 23) + 1;
        for (int i = 0; i < 8; i++) {
            bt->data[i] = (uint8_t)((uint64_t)bt->base_offset >> (56 - 8 * i));
        }
        if (first < 0) first = bt->base_offset;
        l->next_offset = bt->next_offset;
        pos += len;
    }
    return first;
}

/* Encodes resp as the answer to request h: same api, version and correlation id. */
static int reply(struct proto_writer *w, const struct proto_request_header *h, const void *resp) {
    struct proto_response_header rh = {.correlation_id = h->correlation_id};
    return proto_response_encode(w, h->api_key, h->api_version, &rh, resp);
}

static struct proto_string golden_topic(void) { return PROTO_STR("golden"); }

static int answer_metadata(struct responder *rs, struct proto_writer *w,
                           const struct proto_request_header *h,
                           const struct proto_metadata_request *req) {
    int32_t replicas[1] = {0};
    struct proto_metadata_response_broker broker = {
        .node_id = 0, .host = PROTO_STR("127.0.0.1"), .port = rs->port, .rack = PROTO_STR_NULL};
    struct proto_metadata_response_partition part = {
        .error_code = 0, .partition_index = 0, .leader_id = 0,
        .replica_nodes = {.items = replicas, .count = 1},
        .isr_nodes = {.items = replicas, .count = 1},
        .offline_replicas = {.items = NULL, .count = 0}};
    struct proto_metadata_response_topic topics[16];
    int32_t n = 0;
    /* v0: empty = all; v1+: null = all, empty = none. */
    bool all = req->topics.count < 0 || (h->api_version == 0 && req->topics.count == 0);
    if (all) {
        topics[n++] = (struct proto_metadata_response_topic){
            .name = golden_topic(), .partitions = {.items = &part, .count = 1}};
    }
    for (int32_t i = 0; !all && i < req->topics.count && n < 16; i++) {
        topics[n++] = (struct proto_metadata_response_topic){
            .name = req->topics.items[i].name, .partitions = {.items = &part, .count = 1}};
    }
    struct proto_metadata_response resp = {
        .brokers = {.items = &broker, .count = 1},
        .cluster_id = PROTO_STR("trial-responder"),
        .controller_id = 0,
        .topics = {.items = topics, .count = n}};
    return reply(w, h, &resp);
}

static int answer_produce(struct responder *rs, struct proto_writer *w,
                          const struct proto_request_header *h,
                          const struct proto_produce_request *req, struct proto_arena *arena) {
    struct proto_produce_response resp;
    proto_schema_defaults(&proto_schema_produce_response, h->api_version, &resp);
    int32_t nt = req->topic_data.count > 0 ? req->topic_data.count : 0;
    resp.responses.items = proto_arena_alloc(arena, sizeof(*resp.responses.items) * (size_t)nt);
    resp.responses.count = nt;
    for (int32_t i = 0; i < nt; i++) {
        const struct proto_produce_request_topic *t = &req->topic_data.items[i];
        struct proto_produce_response_topic *rt = &resp.responses.items[i];
        int32_t np = t->partition_data.count > 0 ? t->partition_data.count : 0;
        rt->name = t->name;
        rt->partition_responses.items =
            proto_arena_alloc(arena, sizeof(*rt->partition_responses.items) * (size_t)np);
        rt->partition_responses.count = np;
        for (int32_t j = 0; j < np; j++) {
            struct proto_produce_response_partition *p = &rt->partition_responses.items[j];
            p->index = t->partition_data.items[j].index;
            struct partition_log *l = find_log(rs, t->name, p->index);
            p->base_offset = l ? append_records(l, t->partition_data.items[j].records) : -1;
            if (p->base_offset < 0) p->error_code = 2; /* CORRUPT_MESSAGE */
            p->log_append_time_ms = -1;
            p->log_start_offset = 0;
        }
    }
    if (req->acks == 0) return 0; /* Stored, but no response at all for acks=0. */
    return reply(w, h, &resp);
}

static int answer_list_offsets(struct responder *rs, struct proto_writer *w,
                               const struct proto_request_header *h,
                               const struct proto_list_offsets_request *req,
                               struct proto_arena *arena) {
    struct proto_list_offsets_response resp = {.throttle_time_ms = 0};
    int32_t nt = req->topics.count > 0 ? req->topics.count : 0;
    resp.topics.items = proto_arena_alloc(arena, sizeof(*resp.topics.items) * (size_t)nt);
    resp.topics.count = nt;
    for (int32_t i = 0; i < nt; i++) {
        resp.topics.items[i].name = req->topics.items[i].name;
        int32_t np = req->topics.items[i].partitions.count;
        np = np > 0 ? np : 0;
        resp.topics.items[i].partitions.items = proto_arena_alloc(
            arena, sizeof(*resp.topics.items[i].partitions.items) * (size_t)np);
        resp.topics.items[i].partitions.count = np;
        for (int32_t j = 0; j < np; j++) {
            struct proto_list_offsets_response_partition *p =
                &resp.topics.items[i].partitions.items[j];
            p->partition_index = req->topics.items[i].partitions.items[j].partition_index;
            struct partition_log *l = find_log(rs, req->topics.items[i].name, p->partition_index);
            /* -2 earliest (always 0 here), anything else answered with the end. */
            int64_t ts = req->topics.items[i].partitions.items[j].timestamp;
            p->offset = (ts == -2 || l == NULL) ? 0 : l->next_offset;
            p->old_style_offsets.items = proto_arena_alloc(arena, sizeof(int64_t));
            p->old_style_offsets.items[0] = p->offset;
            p->old_style_offsets.count = 1;
            p->timestamp = -1;
            p->leader_epoch = -1;
        }
    }
    return reply(w, h, &resp);
}

/* Returns the stored batches that hold offsets >= fetch_offset, within max_bytes (at least
 * one batch, as Kafka does, so a consumer always progresses). */
static int answer_fetch(struct responder *rs, struct proto_writer *w,
                        const struct proto_request_header *h,
                        const struct proto_fetch_request *req, struct proto_arena *arena) {
    struct proto_fetch_response resp;
    proto_schema_defaults(&proto_schema_fetch_response, h->api_version, &resp);
    int32_t nt = req->topics.count > 0 ? req->topics.count : 0;
    resp.responses.items = proto_arena_alloc(arena, sizeof(*resp.responses.items) * (size_t)nt);
    resp.responses.count = nt;
    for (int32_t i = 0; i < nt; i++) {
        const struct proto_fetch_request_topic *t = &req->topics.items[i];
        struct proto_fetch_response_topic *rt = &resp.responses.items[i];
        int32_t np = t->partitions.count > 0 ? t->partitions.count : 0;
        rt->topic = t->topic;
        rt->partitions.items =
            proto_arena_alloc(arena, sizeof(*rt->partitions.items) * (size_t)np);
        rt->partitions.count = np;
        for (int32_t j = 0; j < np; j++) {
            const struct proto_fetch_request_partition *fp = &t->partitions.items[j];
            struct proto_fetch_response_partition *p = &rt->partitions.items[j];
            struct partition_log *l = find_log(rs, t->topic, fp->partition);
            p->partition_index = fp->partition;
            p->high_watermark = l ? l->next_offset : 0;
            p->last_stable_offset = p->high_watermark;
            p->log_start_offset = 0;
            p->aborted_transactions.count = 0; /* empty, not null */
            p->preferred_read_replica = -1;
            size_t total = 0;
            uint8_t *out = NULL;
            for (size_t k = 0; l && k < l->batch_count; k++) {
                const struct batch *b = &l->batches[k];
                if (b->next_offset <= fp->fetch_offset) continue;
                if (total > 0 && total + b->len > (size_t)fp->partition_max_bytes) break;
                uint8_t *grown = proto_arena_alloc(arena, total + b->len);
                if (total) memcpy(grown, out, total);
                memcpy(grown + total, b->data, b->len);
                out = grown;
                total += b->len;
            }
            p->records = (struct proto_bytes){.data = out, .len = (int32_t)total};
        }
    }
    return reply(w, h, &resp);
}

/* --- a one-member consumer group ------------------------------------------------------ */

#define MEMBER_ID "member-1"

static int answer_join_group(struct proto_writer *w, const struct proto_request_header *h,
                             const struct proto_join_group_request *req) {
    struct proto_join_group_response resp;
    proto_schema_defaults(&proto_schema_join_group_response, h->api_version, &resp);
    struct proto_join_group_response_member member = {
        .member_id = PROTO_STR(MEMBER_ID), .group_instance_id = PROTO_STR_NULL};
    if (req->protocols.count < 1) {
        resp.error_code = 23; /* INCONSISTENT_GROUP_PROTOCOL */
    } else {
        /* The only member is the leader and gets its own metadata back to assign with. */
        resp.generation_id = 1;
        resp.protocol_name = req->protocols.items[0].name;
        resp.leader = PROTO_STR(MEMBER_ID);
        resp.member_id = PROTO_STR(MEMBER_ID);
        member.metadata = req->protocols.items[0].metadata;
        resp.members.items = &member;
        resp.members.count = 1;
    }
    return reply(w, h, &resp);
}

static int answer_sync_group(struct responder *rs, struct proto_writer *w,
                             const struct proto_request_header *h,
                             const struct proto_sync_group_request *req) {
    for (int32_t i = 0; i < req->assignments.count; i++) {
        const struct proto_sync_group_request_assignment *a = &req->assignments.items[i];
        if (proto_string_eq(a->member_id, MEMBER_ID) && a->assignment.len >= 0 &&
            (size_t)a->assignment.len <= sizeof(rs->assignment)) {
            if (a->assignment.len) {
                memcpy(rs->assignment, a->assignment.data, (size_t)a->assignment.len);
            }
            rs->assignment_len = a->assignment.len;
        }
    }
    struct proto_sync_group_response resp = {
        .throttle_time_ms = 0,
        .error_code = 0,
        .assignment = {.data = rs->assignment, .len = rs->assignment_len}};
    return reply(w, h, &resp);
}

static struct commit *find_commit(struct responder *rs, struct proto_string group,
                                  struct proto_string topic, int32_t partition, bool create) {
    for (size_t i = 0; i < rs->commit_count; i++) {
        struct commit *c = &rs->commits[i];
        if (proto_string_eq(group, c->group) && proto_string_eq(topic, c->topic) &&
            c->partition == partition) {
            return c;
        }
    }
    if (!create || rs->commit_count == COMMITS_MAX || topic.len <= 0 || topic.len >= 64 ||
        group.len <= 0 || group.len >= 64) {
        return NULL;
    }
    struct commit *c = &rs->commits[rs->commit_count++];
    memset(c, 0, sizeof(*c));
    memcpy(c->group, group.str, (size_t)group.len);
    memcpy(c->topic, topic.str, (size_t)topic.len);
    c->partition = partition;
    return c;
}

static int answer_offset_commit(struct responder *rs, struct proto_writer *w,
                                const struct proto_request_header *h,
                                const struct proto_offset_commit_request *req,
                                struct proto_arena *arena) {
    struct proto_offset_commit_response resp = {.throttle_time_ms = 0};
    int32_t nt = req->topics.count > 0 ? req->topics.count : 0;
    resp.topics.items = proto_arena_alloc(arena, sizeof(*resp.topics.items) * (size_t)nt);
    resp.topics.count = nt;
    for (int32_t i = 0; i < nt; i++) {
        const struct proto_offset_commit_request_topic *t = &req->topics.items[i];
        int32_t np = t->partitions.count > 0 ? t->partitions.count : 0;
        resp.topics.items[i].name = t->name;
        size_t psize = sizeof(*resp.topics.items[i].partitions.items);
        resp.topics.items[i].partitions.items = proto_arena_alloc(arena, psize * (size_t)np);
        resp.topics.items[i].partitions.count = np;
        for (int32_t j = 0; j < np; j++) {
            const struct proto_offset_commit_request_partition *p = &t->partitions.items[j];
            struct commit *c = find_commit(rs, req->group_id, t->name, p->partition_index, true);
            if (c) c->offset = p->committed_offset;
            resp.topics.items[i].partitions.items[j].partition_index = p->partition_index;
            resp.topics.items[i].partitions.items[j].error_code = c ? 0 : 56;
        }
    }
    return reply(w, h, &resp);
}

static int answer_offset_fetch(struct responder *rs, struct proto_writer *w,
                               const struct proto_request_header *h,
                               const struct proto_offset_fetch_request *req,
                               struct proto_arena *arena) {
    struct proto_offset_fetch_response resp;
    proto_schema_defaults(&proto_schema_offset_fetch_response, h->api_version, &resp);
    int32_t nt = req->topics.count > 0 ? req->topics.count : 0;
    resp.topics.items = proto_arena_alloc(arena, sizeof(*resp.topics.items) * (size_t)nt);
    resp.topics.count = nt;
    for (int32_t i = 0; i < nt; i++) {
        const struct proto_offset_fetch_request_topic *t = &req->topics.items[i];
        int32_t np = t->partition_indexes.count > 0 ? t->partition_indexes.count : 0;
        struct proto_offset_fetch_response_topic *rt = &resp.topics.items[i];
        rt->name = t->name;
        rt->partitions.items =
            proto_arena_alloc(arena, sizeof(*rt->partitions.items) * (size_t)np);
        rt->partitions.count = np;
        for (int32_t j = 0; j < np; j++) {
            struct proto_offset_fetch_response_partition *p = &rt->partitions.items[j];
            p->partition_index = t->partition_indexes.items[j];
            struct commit *c = find_commit(rs, req->group_id, t->name, p->partition_index, false);
            p->committed_offset = c ? c->offset : -1;
            p->committed_leader_epoch = -1;
            p->metadata = PROTO_STR("");
            p->error_code = 0;
        }
    }
    return reply(w, h, &resp);
}

static int answer_simple_ok(struct proto_writer *w, const struct proto_request_header *h,
                            const struct proto_schema *schema, struct proto_arena *arena) {
    /* Heartbeat and LeaveGroup: every field at its default (error 0, no members). */
    void *resp = proto_arena_alloc(arena, schema->size);
    proto_schema_defaults(schema, h->api_version, resp);
    return reply(w, h, resp);
}

/* Handles one request payload; returns false to close the connection. */
static bool handle(struct responder *rs, struct proto_writer *w, const uint8_t *payload,
                   size_t len) {
    struct proto_arena arena;
    proto_arena_init(&arena, &rs->t.io, 16u << 20);
    struct proto_request_header h;
    void *body = NULL;
    int rc = proto_request_decode(&arena, payload, len, &h, &body);
    bool keep = true;
    if (rc == PROTO_ERR_UNSUPPORTED && h.api_key == PROTO_API_API_VERSIONS) {
        rc = proto_api_versions_unsupported_encode(w, h.correlation_id);
    } else if (rc != 0) {
        fprintf(stderr, "responder: decode error %d for api %d v%d\n", rc, h.api_key,
                h.api_version);
        keep = false;
    } else {
        switch (h.api_key) {
        case PROTO_API_API_VERSIONS: {
            struct proto_api_versions_response_key keys[64];
            struct proto_api_versions_response resp = {.error_code = 0};
            resp.api_keys.items = keys;
            resp.api_keys.count = (int32_t)proto_api_versions_fill(keys, 64);
            rc = reply(w, &h, &resp);
            break;
        }
        case PROTO_API_METADATA: rc = answer_metadata(rs, w, &h, body); break;
        case PROTO_API_PRODUCE: rc = answer_produce(rs, w, &h, body, &arena); break;
        case PROTO_API_LIST_OFFSETS: rc = answer_list_offsets(rs, w, &h, body, &arena); break;
        case PROTO_API_FETCH: rc = answer_fetch(rs, w, &h, body, &arena); break;
        case PROTO_API_JOIN_GROUP: rc = answer_join_group(w, &h, body); break;
        case PROTO_API_SYNC_GROUP: rc = answer_sync_group(rs, w, &h, body); break;
        case PROTO_API_OFFSET_COMMIT: rc = answer_offset_commit(rs, w, &h, body, &arena); break;
        case PROTO_API_OFFSET_FETCH: rc = answer_offset_fetch(rs, w, &h, body, &arena); break;
        case PROTO_API_HEARTBEAT:
            rc = answer_simple_ok(w, &h, &proto_schema_heartbeat_response, &arena);
            break;
        case PROTO_API_LEAVE_GROUP:
            rc = answer_simple_ok(w, &h, &proto_schema_leave_group_response, &arena);
            break;
        case PROTO_API_FIND_COORDINATOR: {
            struct proto_find_coordinator_response resp = {
                .error_message = PROTO_STR_NULL, .node_id = 0, .host = PROTO_STR("127.0.0.1"),
                .port = rs->port};
            rc = reply(w, &h, &resp);
            break;
        }
        default:
            fprintf(stderr, "responder: no answer for api %d, closing\n", h.api_key);
            keep = false;
        }
    }
    if (rc != 0 && keep) {
        fprintf(stderr, "responder: encode error %d\n", rc);
        keep = false;
    }
    printf("api %d v%d -> %s\n", h.api_key, h.api_version, keep ? "answered" : "closed");
    fflush(stdout);
    proto_arena_destroy(&arena);
    return keep;
}

int main(int argc, char **argv) {
    double seconds = 30;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0) seconds = atof(argv[i + 1]);
    }
    static struct responder rs; /* Large (the logs); a test tool, so static is fine. */
    test_proto_io_init(&rs.t);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(ls, 16) != 0) {
        perror("responder: listen");
        return 1;
    }
    socklen_t alen = sizeof(addr);
    getsockname(ls, (struct sockaddr *)&addr, &alen);
    rs.port = ntohs(addr.sin_port);
    printf("PORT %u\n", rs.port);
    fflush(stdout);

    struct conn conns[CONNS_MAX];
    size_t nconns = 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - start.tv_sec) > seconds) break;
        struct pollfd pfds[CONNS_MAX + 1];
        pfds[0] = (struct pollfd){.fd = ls, .events = POLLIN};
        for (size_t i = 0; i < nconns; i++) {
            pfds[i + 1] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        }
        if (poll(pfds, nconns + 1, 200) <= 0) continue;
        if ((pfds[0].revents & POLLIN) && nconns < CONNS_MAX) {
            int fd = accept(ls, NULL, NULL);
            if (fd >= 0) conns[nconns++] = (struct conn){.fd = fd, .in = malloc(INBUF_BYTES)};
        }
        for (size_t i = 0; i < nconns; i++) {
            if (!(pfds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            struct conn *c = &conns[i];
            ssize_t n = read(c->fd, c->in + c->in_len, INBUF_BYTES - c->in_len);
            bool keep = n > 0;
            if (keep) c->in_len += (size_t)n;
            struct proto_writer w;
            proto_writer_init(&w, &rs.t.io, 64u << 20);
            struct proto_frame f;
            int pr;
            while (keep && (pr = proto_frame_parse(c->in, c->in_len, INBUF_BYTES - 4, &f)) != 0) {
                if (pr < 0) {
                    keep = false;
                    break;
                }
                keep = handle(&rs, &w, f.payload, f.payload_len);
                memmove(c->in, c->in + f.frame_len, c->in_len - f.frame_len);
                c->in_len -= f.frame_len;
            }
            if (w.len > 0 && write(c->fd, w.buf, w.len) != (ssize_t)w.len) keep = false;
            proto_writer_destroy(&w);
            if (!keep) {
                close(c->fd);
                free(c->in);
                conns[i] = conns[--nconns];
                break; /* pfds no longer line up with conns; poll again. */
            }
        }
    }
    for (size_t i = 0; i < nconns; i++) {
        close(conns[i].fd);
        free(conns[i].in);
    }
    close(ls);
    for (size_t i = 0; i < rs.log_count; i++) {
        for (size_t k = 0; k < rs.logs[i].batch_count; k++) free(rs.logs[i].batches[k].data);
    }
    return rs.t.live_bytes == 0 ? 0 : 1;
}
