/*
 * group_api.c — adapts decoded Kafka group requests to the group coordinator and its answers
 * to response bodies, version by version (see group_api.h). Nothing here decides group
 * behaviour; it only translates, so the rules stay in one place (group_coordinator.c).
 */
#include "coordinator/group_api.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"

/* Bounds on what one request may ask of us, beyond the arena's byte limit. */
#define API_PROTOCOLS_MAX  64
#define API_MEMBERS_MAX    10000
#define API_PARTITIONS_MAX 100000

bool group_api_handles(int16_t api_key) {
    switch (api_key) {
    case PROTO_API_OFFSET_COMMIT:
    case PROTO_API_OFFSET_FETCH:
    case PROTO_API_JOIN_GROUP:
    case PROTO_API_HEARTBEAT:
    case PROTO_API_LEAVE_GROUP:
    case PROTO_API_SYNC_GROUP:
    case PROTO_API_DESCRIBE_GROUPS:
    case PROTO_API_LIST_GROUPS:
    case PROTO_API_TXN_OFFSET_COMMIT:
        return true;
    default:
        return false;
    }
}

/* Decoded strings are NUL-terminated (proto_wire.h); an absent or null one is NULL. */
static const char *cstr(struct proto_string s) { return s.len < 0 ? NULL : s.str; }
static const char *cstr_or_empty(struct proto_string s) {
    return s.len < 0 || s.str == NULL ? "" : s.str;
}

static struct proto_string pstr(const char *s) { return proto_string_from(s); }
static struct proto_string pstr_or_empty(const char *s) { return proto_string_from(s ? s : ""); }

static struct proto_bytes pbytes(const uint8_t *p, size_t len) {
    ASSERT(len <= INT32_MAX);
    return (struct proto_bytes){.data = p, .len = (int32_t)len};
}

static void *arena_array(struct proto_arena *arena, size_t count, size_t size) {
    if (count == 0) return NULL;
    if (count > SIZE_MAX / size) return NULL;
    return proto_arena_alloc(arena, count * size);
}

/* Copies a string into the arena (for answers assembled across several callbacks). */
static struct proto_string arena_str(struct proto_arena *arena, const char *s, bool *ok) {
    if (s == NULL) return PROTO_STR_NULL;
    size_t len = strlen(s);
    char *copy = proto_arena_alloc(arena, len + 1);
    if (copy == NULL) {
        *ok = false;
        return (struct proto_string){.str = "", .len = 0};
    }
    memcpy(copy, s, len + 1);
    return (struct proto_string){.str = copy, .len = (int32_t)len};
}

static struct proto_bytes arena_bytes(struct proto_arena *arena, const uint8_t *p, size_t len,
                                      bool *ok) {
    if (len == 0) return (struct proto_bytes){.data = NULL, .len = 0};
    uint8_t *copy = proto_arena_alloc(arena, len);
    if (copy == NULL) {
        *ok = false;
        return (struct proto_bytes){.data = NULL, .len = 0};
    }
    memcpy(copy, p, len);
    return pbytes(copy, len);
}

/* A request waiting for the coordinator's callback. Lives in the request's arena. */
struct api_call {
    struct proto_arena *arena;
    int16_t version;
    const void *request;
    group_api_done_cb done;
    void *arg;
};

static struct api_call *api_call_new(struct proto_arena *arena, int16_t version,
                                     const void *request, group_api_done_cb done, void *arg) {
    struct api_call *call = proto_arena_alloc(arena, sizeof(*call));
    if (call == NULL) return NULL;
    *call = (struct api_call){
        .arena = arena, .version = version, .request = request, .done = done, .arg = arg};
    return call;
}

/* --- JoinGroup -------------------------------------------------------------------------- */

static void join_answered(void *p, const struct group_join_response *r) {
    struct api_call *call = p;
    struct proto_join_group_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.error_code = r->error_code;
    resp.generation_id = r->generation_id;
    /* Non-nullable before v7: "" when no protocol is chosen (Kafka's NoProtocol). */
    resp.protocol_name = pstr_or_empty(r->protocol_name);
    resp.leader = pstr_or_empty(r->leader_id);
    resp.member_id = pstr_or_empty(r->member_id);
    if (r->member_count > 0) {
        resp.members.items = arena_array(call->arena, r->member_count, sizeof(*resp.members.items));
        if (resp.members.items == NULL) {
            resp.error_code = GROUP_ERR_UNKNOWN_SERVER_ERROR;
        } else {
            resp.members.count = (int32_t)r->member_count;
            for (size_t i = 0; i < r->member_count; i++) {
                resp.members.items[i].member_id = pstr(r->members[i].member_id);
                resp.members.items[i].group_instance_id = pstr(r->members[i].group_instance_id);
                resp.members.items[i].metadata =
                    pbytes(r->members[i].metadata, r->members[i].metadata_len);
            }
        }
    }
    call->done(call->arg, &resp);
}

static void answer_join_now(struct proto_arena *arena, group_api_done_cb done, void *arg,
                            int16_t error, const char *member_id) {
    (void)arena;
    struct proto_join_group_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.error_code = error;
    resp.generation_id = -1;
    resp.protocol_name = pstr("");
    resp.leader = pstr("");
    resp.member_id = pstr_or_empty(member_id);
    done(arg, &resp);
}

static void handle_join(struct group_coordinator *co, struct proto_arena *arena, int16_t version,
                        const char *client_id, const char *client_host,
                        const struct proto_join_group_request *req, group_api_done_cb done,
                        void *arg) {
    int32_t count = req->protocols.count < 0 ? 0 : req->protocols.count;
    struct api_call *call = api_call_new(arena, version, req, done, arg);
    struct group_protocol *protocols =
        count > API_PROTOCOLS_MAX ? NULL : arena_array(arena, (size_t)count, sizeof(*protocols));
    if (call == NULL || (count > 0 && protocols == NULL)) {
        answer_join_now(arena, done, arg,
                        count > API_PROTOCOLS_MAX ? GROUP_ERR_INCONSISTENT_GROUP_PROTOCOL
                                                  : GROUP_ERR_UNKNOWN_SERVER_ERROR,
                        cstr(req->member_id));
        return;
    }
    for (int32_t i = 0; i < count; i++) {
        const struct proto_join_group_request_protocol *p = &req->protocols.items[i];
        protocols[i] = (struct group_protocol){
            .name = cstr(p->name),
            .metadata = p->metadata.data,
            .metadata_len = p->metadata.len < 0 ? 0 : (size_t)p->metadata.len,
        };
    }
    struct group_join_request jr = {
        .api_version = version,
        .group_id = cstr(req->group_id),
        .member_id = cstr_or_empty(req->member_id),
        .group_instance_id = version >= 5 ? cstr(req->group_instance_id) : NULL,
        .client_id = client_id == NULL ? "" : client_id,
        .client_host = client_host == NULL ? "" : client_host,
        .session_timeout_ms = req->session_timeout_ms,
        /* v0 has no rebalance timeout: the session timeout bounds the rebalance too. */
        .rebalance_timeout_ms = version >= 1 ? req->rebalance_timeout_ms : req->session_timeout_ms,
        .protocol_type = cstr(req->protocol_type),
        .protocols = protocols,
        .protocol_count = (size_t)count,
    };
    group_join(co, &jr, join_answered, call);
}

/* --- SyncGroup -------------------------------------------------------------------------- */

static void sync_answered(void *p, const struct group_sync_response *r) {
    struct api_call *call = p;
    struct proto_sync_group_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.error_code = r->error_code;
    resp.assignment = pbytes(r->assignment, r->assignment_len);
    call->done(call->arg, &resp);
}

static void handle_sync(struct group_coordinator *co, struct proto_arena *arena, int16_t version,
                        const struct proto_sync_group_request *req, group_api_done_cb done,
                        void *arg) {
    int32_t count = req->assignments.count < 0 ? 0 : req->assignments.count;
    struct api_call *call = api_call_new(arena, version, req, done, arg);
    struct group_assignment *asg =
        count > API_MEMBERS_MAX ? NULL : arena_array(arena, (size_t)count, sizeof(*asg));
    if (call == NULL || (count > 0 && asg == NULL)) {
        struct proto_sync_group_response resp;
        memset(&resp, 0, sizeof(resp));
        resp.error_code = GROUP_ERR_UNKNOWN_SERVER_ERROR;
        done(arg, &resp);
        return;
    }
    for (int32_t i = 0; i < count; i++) {
        const struct proto_sync_group_request_assignment *a = &req->assignments.items[i];
        asg[i] = (struct group_assignment){
            .member_id = cstr(a->member_id),
            .assignment = a->assignment.data,
            .assignment_len = a->assignment.len < 0 ? 0 : (size_t)a->assignment.len,
        };
    }
    struct group_sync_request sr = {
        .group_id = cstr(req->group_id),
        .generation_id = req->generation_id,
        .member_id = cstr_or_empty(req->member_id),
        .group_instance_id = version >= 3 ? cstr(req->group_instance_id) : NULL,
        .assignments = asg,
        .assignment_count = (size_t)count,
    };
    group_sync(co, &sr, sync_answered, call);
}

/* --- Heartbeat, LeaveGroup -------------------------------------------------------------- */

static void handle_heartbeat(struct group_coordinator *co,
                             const struct proto_heartbeat_request *req, group_api_done_cb done,
                             void *arg) {
    struct proto_heartbeat_response resp;
    memset(&resp, 0, sizeof(resp));
    resp.error_code =
        group_heartbeat(co, cstr(req->group_id), req->generation_id, cstr_or_empty(req->member_id));
    done(arg, &resp);
}

static void handle_leave(struct group_coordinator *co, struct proto_arena *arena, int16_t version,
                         const struct proto_leave_group_request *req, group_api_done_cb done,
                         void *arg) {
    struct proto_leave_group_response resp;
    memset(&resp, 0, sizeof(resp));
    if (version < 3) {
        /* v0-2: one member; its error is the response's error. */
        const char *ids[1] = {cstr_or_empty(req->member_id)};
        int16_t member_error = GROUP_ERR_NONE;
        int16_t top = group_leave(co, cstr(req->group_id), ids, 1, &member_error);
        resp.error_code = top != GROUP_ERR_NONE ? top : member_error;
        done(arg, &resp);
        return;
    }
    int32_t count = req->members.count < 0 ? 0 : req->members.count;
    const char **ids =
        count > API_MEMBERS_MAX ? NULL : arena_array(arena, (size_t)count, sizeof(*ids));
    int16_t *errors = ids == NULL ? NULL : arena_array(arena, (size_t)count, sizeof(*errors));
    resp.members.items =
        errors == NULL ? NULL : arena_array(arena, (size_t)count, sizeof(*resp.members.items));
    if (count > 0 && resp.members.items == NULL) {
        resp.error_code = GROUP_ERR_UNKNOWN_SERVER_ERROR;
        done(arg, &resp);
        return;
    }
    for (int32_t i = 0; i < count; i++)
        ids[i] = cstr_or_empty(req->members.items[i].member_id);
    resp.error_code = group_leave(co, cstr(req->group_id), ids, (size_t)count, errors);
    if (resp.error_code == GROUP_ERR_NONE) {
        resp.members.count = count;
        for (int32_t i = 0; i < count; i++) {
            resp.members.items[i].member_id = req->members.items[i].member_id;
            resp.members.items[i].group_instance_id = req->members.items[i].group_instance_id;
            resp.members.items[i].error_code = errors[i];
        }
    }
    done(arg, &resp);
}

/* --- OffsetCommit ----------------------------------------------------------------------- */

static void commit_answered(void *p, const int16_t *errors, size_t count) {
    struct api_call *call = p;
    const struct proto_offset_commit_request *req = call->request;
    struct proto_offset_commit_response resp;
    memset(&resp, 0, sizeof(resp));
    int32_t topics = req->topics.count < 0 ? 0 : req->topics.count;
    resp.topics.items = arena_array(call->arena, (size_t)topics, sizeof(*resp.topics.items));
    bool ok = topics == 0 || resp.topics.items != NULL;
    size_t k = 0;
    for (int32_t t = 0; t < topics && ok; t++) {
        const struct proto_offset_commit_request_topic *rt = &req->topics.items[t];
        struct proto_offset_commit_response_topic *out = &resp.topics.items[t];
        int32_t parts = rt->partitions.count < 0 ? 0 : rt->partitions.count;
        out->name = rt->name;
        out->partitions.items =
            arena_array(call->arena, (size_t)parts, sizeof(*out->partitions.items));
        if (parts > 0 && out->partitions.items == NULL) {
            ok = false;
            break;
        }
        out->partitions.count = parts;
        for (int32_t i = 0; i < parts; i++) {
            ASSERT(k < count);
            out->partitions.items[i].partition_index = rt->partitions.items[i].partition_index;
            out->partitions.items[i].error_code = errors[k++];
        }
    }
    if (ok) {
        ASSERT(k == count);
        resp.topics.count = topics;
    } else {
        /* No room to say which partition failed how: say nothing rather than lie. */
        resp.topics.count = 0;
    }
    call->done(call->arg, &resp);
}

static void handle_commit(struct group_coordinator *co, struct proto_arena *arena, int16_t version,
                          const struct proto_offset_commit_request *req, group_api_done_cb done,
                          void *arg) {
    size_t total = 0;
    int32_t topics = req->topics.count < 0 ? 0 : req->topics.count;
    for (int32_t t = 0; t < topics; t++) {
        int32_t parts = req->topics.items[t].partitions.count;
        total += parts < 0 ? 0 : (size_t)parts;
    }
    struct api_call *call = api_call_new(arena, version, req, done, arg);
    struct group_commit_partition *ps =
        total > API_PARTITIONS_MAX ? NULL : arena_array(arena, total, sizeof(*ps));
    if (call == NULL || (total > 0 && ps == NULL)) {
        struct proto_offset_commit_response resp;
        memset(&resp, 0, sizeof(resp));
        done(arg, &resp);
        return;
    }
    size_t k = 0;
    for (int32_t t = 0; t < topics; t++) {
        const struct proto_offset_commit_request_topic *rt = &req->topics.items[t];
        for (int32_t i = 0; i < rt->partitions.count; i++) {
            const struct proto_offset_commit_request_partition *rp = &rt->partitions.items[i];
            ps[k++] = (struct group_commit_partition){
                .topic = cstr(rt->name),
                .partition = rp->partition_index,
                .offset = rp->committed_offset,
                .leader_epoch = version >= 6 ? rp->committed_leader_epoch : -1,
                .commit_timestamp_ms = version == 1 ? rp->commit_timestamp : -1,
                .metadata = cstr(rp->committed_metadata),
            };
        }
    }
    ASSERT(k == total);
    struct group_commit_request cr = {
        .group_id = cstr(req->group_id),
        /* v0 has no generation: a simple commit, like generation -1. */
        .generation_id = version >= 1 ? req->generation_id : -1,
        .member_id = version >= 1 ? cstr_or_empty(req->member_id) : "",
        .group_instance_id = version >= 7 ? cstr(req->group_instance_id) : NULL,
        .retention_ms = version >= 2 && version <= 4 ? req->retention_time_ms : -1,
        .partitions = ps,
        .partition_count = total,
    };
    group_commit(co, &cr, commit_answered, call);
}

/* --- TxnOffsetCommit --------------------------------------------------------------------- */

static void txn_commit_answered(void *p, const int16_t *errors, size_t count) {
    struct api_call *call = p;
    const struct proto_txn_offset_commit_request *req = call->request;
    struct proto_txn_offset_commit_response resp;
    memset(&resp, 0, sizeof(resp));
    int32_t topics = req->topics.count < 0 ? 0 : req->topics.count;
    resp.topics.items = arena_array(call->arena, (size_t)topics, sizeof(*resp.topics.items));
    bool ok = topics == 0 || resp.topics.items != NULL;
    size_t k = 0;
    for (int32_t t = 0; t < topics && ok; t++) {
        const struct proto_txn_offset_commit_request_topic *rt = &req->topics.items[t];
        struct proto_txn_offset_commit_response_topic *out = &resp.topics.items[t];
        int32_t parts = rt->partitions.count < 0 ? 0 : rt->partitions.count;
        out->name = rt->name;
        out->partitions.items =
            arena_array(call->arena, (size_t)parts, sizeof(*out->partitions.items));
        if (parts > 0 && out->partitions.items == NULL) {
            ok = false;
            break;
        }
        out->partitions.count = parts;
        for (int32_t i = 0; i < parts; i++) {
            ASSERT(k < count);
            out->partitions.items[i].partition_index = rt->partitions.items[i].partition_index;
            out->partitions.items[i].error_code = errors[k++];
        }
    }
    resp.topics.count = ok ? topics : 0;
    call->done(call->arg, &resp);
}

static void handle_txn_commit(struct group_coordinator *co, struct proto_arena *arena,
                              int16_t version, const struct proto_txn_offset_commit_request *req,
                              group_api_done_cb done, void *arg) {
    size_t total = 0;
    int32_t topics = req->topics.count < 0 ? 0 : req->topics.count;
    for (int32_t t = 0; t < topics; t++) {
        int32_t parts = req->topics.items[t].partitions.count;
        total += parts < 0 ? 0 : (size_t)parts;
    }
    struct api_call *call = api_call_new(arena, version, req, done, arg);
    struct group_commit_partition *ps =
        total > API_PARTITIONS_MAX ? NULL : arena_array(arena, total, sizeof(*ps));
    if (call == NULL || (total > 0 && ps == NULL)) {
        struct proto_txn_offset_commit_response resp;
        memset(&resp, 0, sizeof(resp));
        done(arg, &resp);
        return;
    }
    size_t k = 0;
    for (int32_t t = 0; t < topics; t++) {
        const struct proto_txn_offset_commit_request_topic *rt = &req->topics.items[t];
        for (int32_t i = 0; i < rt->partitions.count; i++) {
            const struct proto_txn_offset_commit_request_partition *rp = &rt->partitions.items[i];
            ps[k++] = (struct group_commit_partition){
                .topic = cstr(rt->name),
                .partition = rp->partition_index,
                .offset = rp->committed_offset,
                .leader_epoch = version >= 2 ? rp->committed_leader_epoch : -1,
                .commit_timestamp_ms = -1,
                .metadata = cstr(rp->committed_metadata),
            };
        }
    }
    ASSERT(k == total);
    /* v0-2 carry no member or generation (those arrive in v3, KIP-447). */
    struct group_txn_commit_request tr = {
        .transactional_id = cstr(req->transactional_id),
        .group_id = cstr(req->group_id),
        .producer_id = req->producer_id,
        .producer_epoch = req->producer_epoch,
        .generation_id = -1,
        .member_id = "",
        .partitions = ps,
        .partition_count = total,
    };
    group_txn_commit(co, &tr, txn_commit_answered, call);
}

/* --- OffsetFetch ------------------------------------------------------------------------ */

struct fetch_all {
    struct proto_arena *arena;
    struct proto_offset_fetch_response *resp;
    bool counting; /* First pass counts, second fills. */
    bool ok;
    size_t topics;
    size_t *parts_per_topic;
    const char *last_topic;
    size_t topic_index;
};

static void fill_partition(struct proto_offset_fetch_response_partition *out, int32_t partition,
                           const struct group_offset *o, int16_t error, struct proto_string meta) {
    out->partition_index = partition;
    out->committed_offset = o->offset;
    out->committed_leader_epoch = o->leader_epoch;
    out->metadata = meta;
    out->error_code = error;
}

static void fetch_all_visit(void *p, const char *topic, int32_t partition,
                            const struct group_offset *o) {
    struct fetch_all *fa = p;
    bool new_topic = fa->last_topic == NULL || strcmp(fa->last_topic, topic) != 0;
    if (fa->counting) {
        if (new_topic) fa->topics++;
        fa->last_topic = topic; /* Valid through this synchronous walk. */
        return;
    }
    if (!fa->ok) return;
    if (new_topic) {
        fa->topic_index = fa->last_topic == NULL ? 0 : fa->topic_index + 1;
        fa->last_topic = topic;
        struct proto_offset_fetch_response_topic *t = &fa->resp->topics.items[fa->topic_index];
        t->name = arena_str(fa->arena, topic, &fa->ok);
        t->partitions.items = NULL;
        t->partitions.count = 0;
    }
    struct proto_offset_fetch_response_topic *t = &fa->resp->topics.items[fa->topic_index];
    /* Partitions arrive in order; grow this topic's array one chunk at a time. */
    if (t->partitions.count % 16 == 0) {
        struct proto_offset_fetch_response_partition *grown =
            arena_array(fa->arena, (size_t)t->partitions.count + 16, sizeof(*grown));
        if (grown == NULL) {
            fa->ok = false;
            return;
        }
        if (t->partitions.count > 0) {
            memcpy(grown, t->partitions.items, (size_t)t->partitions.count * sizeof(*grown));
        }
        t->partitions.items = grown;
    }
    fill_partition(&t->partitions.items[t->partitions.count++], partition, o, GROUP_ERR_NONE,
                   arena_str(fa->arena, o->metadata, &fa->ok));
}

static void handle_fetch(struct group_coordinator *co, struct proto_arena *arena, int16_t version,
                         const struct proto_offset_fetch_request *req, group_api_done_cb done,
                         void *arg) {
    struct proto_offset_fetch_response resp;
    memset(&resp, 0, sizeof(resp));
    const char *group_id = cstr(req->group_id);
    if (req->topics.count < 0) {
        /* v2+: every committed offset of the group. */
        struct fetch_all fa = {.arena = arena, .resp = &resp, .counting = true, .ok = true};
        int16_t error = group_offset_fetch_all(co, group_id, fetch_all_visit, &fa);
        if (error == GROUP_ERR_NONE && fa.topics > 0) {
            resp.topics.items = arena_array(arena, fa.topics, sizeof(*resp.topics.items));
            fa.ok = resp.topics.items != NULL;
            fa.counting = false;
            fa.last_topic = NULL;
            if (fa.ok) group_offset_fetch_all(co, group_id, fetch_all_visit, &fa);
            if (fa.ok) {
                resp.topics.count = (int32_t)fa.topics;
            } else {
                resp.topics.items = NULL;
                error = GROUP_ERR_UNKNOWN_SERVER_ERROR;
            }
        }
        resp.error_code = error;
        done(arg, &resp);
        return;
    }
    int32_t topics = req->topics.count;
    resp.topics.items = arena_array(arena, (size_t)topics, sizeof(*resp.topics.items));
    resp.topics.count = topics;
    bool ok = topics == 0 || resp.topics.items != NULL;
    int16_t group_error = GROUP_ERR_NONE;
    for (int32_t t = 0; t < topics && ok; t++) {
        const struct proto_offset_fetch_request_topic *rt = &req->topics.items[t];
        struct proto_offset_fetch_response_topic *out = &resp.topics.items[t];
        int32_t parts = rt->partition_indexes.count < 0 ? 0 : rt->partition_indexes.count;
        out->name = rt->name;
        out->partitions.items = arena_array(arena, (size_t)parts, sizeof(*out->partitions.items));
        if (parts > 0 && out->partitions.items == NULL) {
            ok = false;
            break;
        }
        out->partitions.count = parts;
        for (int32_t i = 0; i < parts; i++) {
            struct group_offset o;
            int32_t partition = rt->partition_indexes.items[i];
            int16_t error =
                group_offset_fetch(co, group_id, cstr_or_empty(rt->name), partition, &o);
            if (error != GROUP_ERR_NONE) group_error = error;
            /* o.metadata points into the coordinator: copy, later calls may move it. */
            struct proto_string meta = arena_str(arena, o.metadata, &ok);
            /* v1 has no top-level error: a group error goes on every partition. */
            fill_partition(&out->partitions.items[i], partition, &o,
                           version < 2 ? error : GROUP_ERR_NONE, meta);
        }
    }
    if (!ok) {
        memset(&resp, 0, sizeof(resp));
        resp.error_code = GROUP_ERR_UNKNOWN_SERVER_ERROR;
    } else if (version >= 2 && group_error != GROUP_ERR_NONE) {
        /* Kafka answers a group-level error with no partitions from v2 on. */
        resp.topics.items = NULL;
        resp.topics.count = 0;
        resp.error_code = group_error;
    }
    done(arg, &resp);
}

/* --- ListGroups, DescribeGroups --------------------------------------------------------- */

struct list_fill {
    struct proto_arena *arena;
    struct proto_list_groups_response *resp;
    size_t count;
    size_t cap; /* 0 while counting. */
    bool ok;
};

static void list_visit(void *p, const char *group_id, const char *protocol_type,
                       enum group_state state) {
    struct list_fill *lf = p;
    (void)state;
    if (lf->cap == 0) {
        lf->count++;
        return;
    }
    ASSERT(lf->count < lf->cap);
    struct proto_list_groups_response_group *g = &lf->resp->groups.items[lf->count++];
    g->group_id = arena_str(lf->arena, group_id, &lf->ok);
    g->protocol_type = arena_str(lf->arena, protocol_type, &lf->ok);
}

static void handle_list(struct group_coordinator *co, struct proto_arena *arena,
                        group_api_done_cb done, void *arg) {
    struct proto_list_groups_response resp;
    memset(&resp, 0, sizeof(resp));
    struct list_fill lf = {.arena = arena, .resp = &resp, .ok = true};
    resp.error_code = group_list(co, list_visit, &lf);
    if (resp.error_code == GROUP_ERR_NONE && lf.count > 0) {
        lf.cap = lf.count;
        lf.count = 0;
        resp.groups.items = arena_array(arena, lf.cap, sizeof(*resp.groups.items));
        if (resp.groups.items != NULL) group_list(co, list_visit, &lf);
        if (resp.groups.items == NULL || !lf.ok) {
            resp.groups.items = NULL;
            resp.error_code = GROUP_ERR_UNKNOWN_SERVER_ERROR;
        } else {
            ASSERT(lf.count == lf.cap);
            resp.groups.count = (int32_t)lf.count;
        }
    }
    done(arg, &resp);
}

struct describe_fill {
    struct proto_arena *arena;
    struct proto_describe_groups_response_group *out;
    bool ok;
};

static void describe_visit(void *p, const struct group_description *d) {
    struct describe_fill *df = p;
    struct proto_describe_groups_response_group *g = df->out;
    g->error_code = d->error_code;
    g->group_id = arena_str(df->arena, d->group_id, &df->ok);
    g->group_state = arena_str(df->arena, d->state, &df->ok);
    g->protocol_type = arena_str(df->arena, d->protocol_type, &df->ok);
    g->protocol_data = arena_str(df->arena, d->protocol, &df->ok);
    g->authorized_operations = INT32_MIN; /* Not computed (KIP-430: "not requested"). */
    g->members.items = arena_array(df->arena, d->member_count, sizeof(*g->members.items));
    if (d->member_count > 0 && g->members.items == NULL) {
        df->ok = false;
        return;
    }
    g->members.count = (int32_t)d->member_count;
    for (size_t i = 0; i < d->member_count; i++) {
        const struct group_description_member *m = &d->members[i];
        struct proto_describe_groups_response_member *out = &g->members.items[i];
        out->member_id = arena_str(df->arena, m->member_id, &df->ok);
        out->group_instance_id = arena_str(df->arena, m->group_instance_id, &df->ok);
        out->client_id = arena_str(df->arena, m->client_id, &df->ok);
        out->client_host = arena_str(df->arena, m->client_host, &df->ok);
        out->member_metadata = arena_bytes(df->arena, m->metadata, m->metadata_len, &df->ok);
        out->member_assignment = arena_bytes(df->arena, m->assignment, m->assignment_len, &df->ok);
    }
}

static void handle_describe(struct group_coordinator *co, struct proto_arena *arena,
                            const struct proto_describe_groups_request *req, group_api_done_cb done,
                            void *arg) {
    struct proto_describe_groups_response resp;
    memset(&resp, 0, sizeof(resp));
    int32_t count = req->groups.count < 0 ? 0 : req->groups.count;
    resp.groups.items = count > API_MEMBERS_MAX
                            ? NULL
                            : arena_array(arena, (size_t)count, sizeof(*resp.groups.items));
    bool ok = count == 0 || resp.groups.items != NULL;
    for (int32_t i = 0; i < count && ok; i++) {
        struct describe_fill df = {.arena = arena, .out = &resp.groups.items[i], .ok = true};
        group_describe(co, cstr(req->groups.items[i]), describe_visit, &df);
        ok = df.ok;
    }
    if (ok) {
        resp.groups.count = count;
    } else {
        /* Out of arena: every group answers the error, without members. */
        resp.groups.count = 0;
        resp.groups.items = NULL;
    }
    done(arg, &resp);
}

/* --- Dispatch --------------------------------------------------------------------------- */

int group_api_handle(struct group_coordinator *co, struct proto_arena *arena, int16_t api_key,
                     int16_t version, const char *client_id, const char *client_host,
                     const void *request, group_api_done_cb done, void *arg) {
    ASSERT(co != NULL && arena != NULL && done != NULL);
    ASSERT(request != NULL || api_key == PROTO_API_LIST_GROUPS);
    switch (api_key) {
    case PROTO_API_JOIN_GROUP:
        handle_join(co, arena, version, client_id, client_host, request, done, arg);
        return 0;
    case PROTO_API_SYNC_GROUP:
        handle_sync(co, arena, version, request, done, arg);
        return 0;
    case PROTO_API_HEARTBEAT:
        handle_heartbeat(co, request, done, arg);
        return 0;
    case PROTO_API_LEAVE_GROUP:
        handle_leave(co, arena, version, request, done, arg);
        return 0;
    case PROTO_API_OFFSET_COMMIT:
        handle_commit(co, arena, version, request, done, arg);
        return 0;
    case PROTO_API_OFFSET_FETCH:
        handle_fetch(co, arena, version, request, done, arg);
        return 0;
    case PROTO_API_LIST_GROUPS:
        handle_list(co, arena, done, arg);
        return 0;
    case PROTO_API_DESCRIBE_GROUPS:
        handle_describe(co, arena, request, done, arg);
        return 0;
    case PROTO_API_TXN_OFFSET_COMMIT:
        handle_txn_commit(co, arena, version, request, done, arg);
        return 0;
    default:
        return -ENOSYS;
    }
}
