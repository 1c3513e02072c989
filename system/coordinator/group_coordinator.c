/*
 * group_coordinator.c — the classic group coordinator: group state machine, rebalance
 * timers, generation fencing, committed offsets, and their durability in
 * __consumer_offsets (see group_coordinator.h for the contract and docs/GROUPS.md for the
 * rules, which follow Apache Kafka's GroupCoordinator of the 2.x line).
 *
 * Data layout, chosen for determinism: groups live in an array sorted by group id
 * (binary search; iteration in id order), members of a group in join order (which is also
 * how the leader is re-chosen: the earliest remaining joiner), and a group's offsets in an
 * array sorted by (topic, partition). Nothing is ordered by pointer or hash.
 *
 * Every user callback goes through one of the answer_* helpers, which raise
 * co->callback_depth so a callback that re-enters the coordinator trips an ASSERT rather
 * than corrupting an iteration in progress.
 */
#include "coordinator/group_coordinator.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "coordinator/group_records.h"

#define GROUP_ERR_UNKNOWN_TOPIC_OR_PARTITION 3

/* Upper bounds that keep loops and buffers finite whatever a client sends. */
#define PROTOCOLS_PER_MEMBER_MAX 64
#define CLIENT_ID_BYTES_MAX      1024

enum partition_state { PARTITION_NOT_OWNED = 0, PARTITION_LOADING = 1, PARTITION_OWNED = 2 };

struct member_protocol {
    char *name;
    uint8_t *metadata;
    size_t metadata_len;
};

struct member {
    struct group *group;
    char *member_id;
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    struct member_protocol *protocols; /* Preference order; pending members have none. */
    uint32_t protocol_count;
    uint8_t *assignment;
    size_t assignment_len;
    group_join_cb join_cb; /* Non-NULL while a JoinGroup waits for the rebalance. */
    void *join_arg;
    group_sync_cb sync_cb; /* Non-NULL while a SyncGroup waits for the assignment. */
    void *sync_arg;
    io_timer_id session_timer;
    bool pending; /* Got MEMBER_ID_REQUIRED and has not joined with its id yet. */
};

struct offset_entry {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_timestamp_ms;
    int64_t expire_timestamp_ms; /* -1: retention by config. */
    uint64_t order;              /* Log order of the record that set it (see order_next). */
    int64_t producer_id;         /* Pending transactional offsets only; -1 otherwise. */
};

struct group {
    struct group_coordinator *co;
    char *group_id;
    int32_t partition;
    enum group_state state;
    int32_t generation;
    char *protocol_type; /* NULL: a group that only stores offsets. */
    char *protocol;      /* NULL unless a generation with members chose one. */
    struct member *leader;
    struct member **members; /* Join order. */
    uint32_t member_count;
    uint32_t member_cap;
    struct member **pending; /* Ids handed out with MEMBER_ID_REQUIRED. */
    uint32_t pending_count;
    uint32_t pending_cap;
    uint32_t awaiting_join_count;
    struct offset_entry *offsets; /* Sorted by (topic, partition). */
    uint32_t offset_count;
    uint32_t offset_cap;
    /* TxnOffsetCommit offsets written but whose transaction has no marker yet, sorted by
     * (producer id, topic, partition). Invisible to OffsetFetch until committed. */
    struct offset_entry *txn_offsets;
    uint32_t txn_offset_count;
    uint32_t txn_offset_cap;
    io_timer_id join_timer;
    bool join_initial;            /* The join timer is group.initial.rebalance.delay.ms. */
    bool new_member_added;        /* A member joined during the initial delay. */
    int64_t initial_remaining_ms; /* Rebalance time left after the current initial delay. */
    bool assignment_pending;      /* The leader's assignment is being written. */
    int64_t state_timestamp_ms;   /* Wall time of the last state change (KIP-211). */
};

struct group_coordinator {
    struct io *io;
    struct group_config config;
    struct group_log log;
    uint8_t *partition_states; /* enum partition_state per __consumer_offsets partition. */
    struct group **groups;     /* Sorted by group id. */
    uint32_t group_count;
    uint32_t group_cap;
    uint32_t appends_inflight;
    uint32_t callback_depth;
    io_timer_id retention_timer;
    /* Counts offset records as they become durable or are replayed. Completions of one
     * partition arrive in log order, so within a group a larger number means a later
     * record: a transactional offset materialized by its marker must not overwrite a plain
     * commit written after it (Kafka compares the records' log offsets the same way). */
    uint64_t order_next;
};

/* An append in flight. Holds copies, never pointers into groups: the group may be gone
 * (unloaded, expired) by the time the log answers. */
enum append_kind { APPEND_COMMIT, APPEND_TXN_COMMIT, APPEND_ASSIGNMENT, APPEND_BACKGROUND };

struct commit_item {
    size_t request_index;
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata;
    int64_t commit_timestamp_ms;
    int64_t expire_timestamp_ms;
};

struct append_ctx {
    struct group_coordinator *co;
    enum append_kind kind;
    char *group_id;
    int32_t generation;
    /* APPEND_COMMIT, APPEND_TXN_COMMIT */
    int64_t producer_id;
    int16_t producer_epoch;
    group_commit_cb commit_cb;
    void *commit_arg;
    int16_t *errors;
    size_t error_count;
    struct commit_item *items;
    size_t item_count;
    /* APPEND_ASSIGNMENT: one assignment per member, in the group's member order. */
    char **assign_member_ids;
    uint8_t **assign_bytes;
    size_t *assign_lens;
    size_t assign_count;
};

static void group_prepare_rebalance(struct group *g);
static void group_try_complete_join(struct group *g);
static void member_remove_and_update_group(struct group *g, struct member *m);
static void group_store(struct group *g, int32_t generation, struct append_ctx *ctx);
static void offset_apply(struct group *g, const struct commit_item *item);
static bool txn_offset_upsert(struct group *g, int64_t producer_id, const char *topic,
                              int32_t partition, int64_t offset, int32_t leader_epoch,
                              const char *metadata, int64_t commit_ms, uint64_t order);

/* --- Small helpers -------------------------------------------------------------------- */

const char *group_state_name(enum group_state state) {
    switch (state) {
    case GROUP_EMPTY:
        return "Empty";
    case GROUP_PREPARING_REBALANCE:
        return "PreparingRebalance";
    case GROUP_COMPLETING_REBALANCE:
        return "CompletingRebalance";
    case GROUP_STABLE:
        return "Stable";
    case GROUP_DEAD:
        return "Dead";
    }
    UNREACHABLE();
}

void group_config_default(struct group_config *config) {
    memset(config, 0, sizeof(*config));
    config->offsets_partitions = 50;
    config->initial_rebalance_delay_ms = 3000;
    config->min_session_timeout_ms = 6000;
    config->max_session_timeout_ms = 1800000;
    config->group_members_max = 1000;
    config->groups_max = 100000;
    config->offsets_per_group_max = 100000;
    config->offset_metadata_bytes_max = 4096;
    config->offsets_retention_ms = 7LL * 24 * 3600 * 1000;
    config->retention_check_interval_ms = 600000;
}

static char *str_dup(struct group_coordinator *co, const char *s) {
    return s == NULL ? NULL : io_strdup(co->io, s);
}

static char *str_dup_n(struct group_coordinator *co, struct group_str s) {
    if (s.len < 0) return NULL;
    char *copy = io_alloc(co->io, (size_t)s.len + 1);
    if (s.len > 0) memcpy(copy, s.ptr, (size_t)s.len);
    copy[s.len] = '\0';
    return copy;
}

static void str_free(struct group_coordinator *co, char *s) { io_strfree(co->io, s); }

static uint8_t *bytes_dup(struct group_coordinator *co, const uint8_t *p, size_t len) {
    if (len == 0) return NULL;
    ASSERT(p != NULL);
    uint8_t *copy = io_alloc(co->io, len);
    memcpy(copy, p, len);
    return copy;
}

static void bytes_free(struct group_coordinator *co, uint8_t *p, size_t len) {
    if (p != NULL) io_free(co->io, p, len);
}

static bool str_eq(const char *a, const char *b) {
    if (a == NULL || b == NULL) return a == b;
    return strcmp(a, b) == 0;
}

/* Grows *arr (elements of elem_size) so it holds at least need elements. */
static void array_reserve(struct group_coordinator *co, void **arr, uint32_t *cap, size_t elem_size,
                          uint32_t need) {
    if (need <= *cap) return;
    uint32_t new_cap = *cap == 0 ? 4 : *cap;
    while (new_cap < need) {
        ASSERT(new_cap <= UINT32_MAX / 2);
        new_cap *= 2;
    }
    if (*arr == NULL) {
        *arr = io_alloc(co->io, new_cap * elem_size);
    } else {
        *arr = io_realloc(co->io, *arr, *cap * elem_size, new_cap * elem_size);
    }
    *cap = new_cap;
}

static void array_free(struct group_coordinator *co, void *arr, uint32_t cap, size_t elem_size) {
    if (arr != NULL) io_free(co->io, arr, cap * elem_size);
}

static uint64_t deadline_after_ms(struct group_coordinator *co, int64_t ms) {
    ASSERT(ms >= 0);
    return io_now_ns(co->io) + (uint64_t)ms * NS_PER_MS;
}

static void trace_state(struct group *g) {
    io_tracef(g->co->io, "group_state", IO_TF_S("group", g->group_id),
              IO_TF_S("state", group_state_name(g->state)), IO_TF_I("generation", g->generation),
              IO_TF_I("members", g->member_count));
}

static void group_transition(struct group *g, enum group_state to) {
    /* Kafka's valid previous states for each target state. */
    switch (to) {
    case GROUP_EMPTY:
        ASSERT(g->state == GROUP_PREPARING_REBALANCE || g->state == GROUP_EMPTY);
        break;
    case GROUP_PREPARING_REBALANCE:
        ASSERT(g->state == GROUP_STABLE || g->state == GROUP_COMPLETING_REBALANCE ||
               g->state == GROUP_EMPTY);
        break;
    case GROUP_COMPLETING_REBALANCE:
        ASSERT(g->state == GROUP_PREPARING_REBALANCE);
        break;
    case GROUP_STABLE:
        ASSERT(g->state == GROUP_COMPLETING_REBALANCE);
        break;
    case GROUP_DEAD:
        break;
    }
    g->state = to;
    g->state_timestamp_ms = io_wall_ms(g->co->io);
    trace_state(g);
}

/* --- Answering callbacks (exactly once each) ------------------------------------------ */

static void answer_join(struct group_coordinator *co, group_join_cb cb, void *arg,
                        const struct group_join_response *response) {
    ASSERT(cb != NULL);
    co->callback_depth++;
    cb(arg, response);
    co->callback_depth--;
}

static void answer_join_error(struct group_coordinator *co, group_join_cb cb, void *arg,
                              int16_t error, const char *member_id) {
    struct group_join_response response = {
        .error_code = error,
        .generation_id = -1,
        .protocol_type = NULL,
        .protocol_name = NULL,
        .leader_id = "",
        .member_id = member_id == NULL ? "" : member_id,
        .members = NULL,
        .member_count = 0,
    };
    answer_join(co, cb, arg, &response);
}

static void answer_sync(struct group_coordinator *co, group_sync_cb cb, void *arg, int16_t error,
                        const uint8_t *assignment, size_t assignment_len) {
    ASSERT(cb != NULL);
    struct group_sync_response response = {
        .error_code = error,
        .assignment = error == GROUP_ERR_NONE ? assignment : NULL,
        .assignment_len = error == GROUP_ERR_NONE ? assignment_len : 0,
    };
    co->callback_depth++;
    cb(arg, &response);
    co->callback_depth--;
}

static void answer_commit(struct group_coordinator *co, group_commit_cb cb, void *arg,
                          const int16_t *errors, size_t count) {
    ASSERT(cb != NULL);
    co->callback_depth++;
    cb(arg, errors, count);
    co->callback_depth--;
}

static void member_answer_join_error(struct group_coordinator *co, struct member *m,
                                     int16_t error) {
    if (m->join_cb == NULL) return;
    group_join_cb cb = m->join_cb;
    m->join_cb = NULL;
    ASSERT(m->group->awaiting_join_count > 0);
    m->group->awaiting_join_count--;
    answer_join_error(co, cb, m->join_arg, error, m->member_id);
}

static void member_answer_sync(struct group_coordinator *co, struct member *m, int16_t error) {
    if (m->sync_cb == NULL) return;
    group_sync_cb cb = m->sync_cb;
    m->sync_cb = NULL;
    answer_sync(co, cb, m->sync_arg, error, m->assignment, m->assignment_len);
}

/* --- Lookup --------------------------------------------------------------------------- */

/* Index of the group with this id, or of where it would be inserted (*found false). */
static uint32_t group_search(const struct group_coordinator *co, const char *group_id,
                             bool *found) {
    uint32_t lo = 0;
    uint32_t hi = co->group_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(co->groups[mid]->group_id, group_id);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

static struct group *group_find(struct group_coordinator *co, const char *group_id) {
    bool found = false;
    uint32_t index = group_search(co, group_id, &found);
    return found ? co->groups[index] : NULL;
}

static struct member *member_find(const struct group *g, const char *member_id) {
    if (member_id == NULL) return NULL;
    for (uint32_t i = 0; i < g->member_count; i++) {
        if (strcmp(g->members[i]->member_id, member_id) == 0) return g->members[i];
    }
    return NULL;
}

static struct member *pending_find(const struct group *g, const char *member_id, uint32_t *index) {
    for (uint32_t i = 0; i < g->pending_count; i++) {
        if (strcmp(g->pending[i]->member_id, member_id) == 0) {
            *index = i;
            return g->pending[i];
        }
    }
    return NULL;
}

/* Which error, if any, stops this coordinator from serving the group at all. */
static int16_t serve_check(const struct group_coordinator *co, const char *group_id) {
    if (group_id == NULL || group_id[0] == '\0') return GROUP_ERR_INVALID_GROUP_ID;
    int32_t partition = group_record_partition_for(group_id, co->config.offsets_partitions);
    switch ((enum partition_state)co->partition_states[partition]) {
    case PARTITION_NOT_OWNED:
        return GROUP_ERR_NOT_COORDINATOR;
    case PARTITION_LOADING:
        return GROUP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
    case PARTITION_OWNED:
        return GROUP_ERR_NONE;
    }
    UNREACHABLE();
}

/* --- Group and member lifetime -------------------------------------------------------- */

static struct group *group_create(struct group_coordinator *co, const char *group_id) {
    bool found = false;
    uint32_t index = group_search(co, group_id, &found);
    ASSERT(!found);
    if (co->group_count >= co->config.groups_max) return NULL;
    array_reserve(co, (void **)&co->groups, &co->group_cap, sizeof(*co->groups),
                  co->group_count + 1);
    struct group *g = io_calloc(co->io, 1, sizeof(*g));
    g->co = co;
    g->group_id = str_dup(co, group_id);
    g->partition = group_record_partition_for(group_id, co->config.offsets_partitions);
    g->state = GROUP_EMPTY;
    g->generation = 0;
    g->state_timestamp_ms = io_wall_ms(co->io);
    memmove(&co->groups[index + 1], &co->groups[index],
            (co->group_count - index) * sizeof(*co->groups));
    co->groups[index] = g;
    co->group_count++;
    return g;
}

static void member_free_protocols(struct group_coordinator *co, struct member *m) {
    for (uint32_t i = 0; i < m->protocol_count; i++) {
        str_free(co, m->protocols[i].name);
        bytes_free(co, m->protocols[i].metadata, m->protocols[i].metadata_len);
    }
    if (m->protocols != NULL)
        io_free(co->io, m->protocols, m->protocol_count * sizeof(*m->protocols));
    m->protocols = NULL;
    m->protocol_count = 0;
}

static void member_set_protocols(struct group_coordinator *co, struct member *m,
                                 const struct group_protocol *protocols, size_t count) {
    ASSERT(count > 0 && count <= PROTOCOLS_PER_MEMBER_MAX);
    member_free_protocols(co, m);
    m->protocols = io_calloc(co->io, count, sizeof(*m->protocols));
    m->protocol_count = (uint32_t)count;
    for (size_t i = 0; i < count; i++) {
        m->protocols[i].name = str_dup(co, protocols[i].name);
        m->protocols[i].metadata = bytes_dup(co, protocols[i].metadata, protocols[i].metadata_len);
        m->protocols[i].metadata_len = protocols[i].metadata_len;
    }
}

static void member_set_assignment(struct group_coordinator *co, struct member *m,
                                  const uint8_t *bytes, size_t len) {
    bytes_free(co, m->assignment, m->assignment_len);
    m->assignment = bytes_dup(co, bytes, len);
    m->assignment_len = len;
}

static void member_free(struct group_coordinator *co, struct member *m) {
    ASSERT(m->join_cb == NULL && m->sync_cb == NULL);
    io_timer_cancel(co->io, m->session_timer);
    member_free_protocols(co, m);
    bytes_free(co, m->assignment, m->assignment_len);
    str_free(co, m->member_id);
    str_free(co, m->client_id);
    str_free(co, m->client_host);
    io_free(co->io, m, sizeof(*m));
}

static void offset_entry_free(struct group_coordinator *co, struct offset_entry *e) {
    str_free(co, e->topic);
    str_free(co, e->metadata);
}

/* Frees a group with no waiting callbacks and removes it from the coordinator. */
static void group_destroy(struct group *g) {
    struct group_coordinator *co = g->co;
    bool found = false;
    uint32_t index = group_search(co, g->group_id, &found);
    ASSERT(found && co->groups[index] == g);
    memmove(&co->groups[index], &co->groups[index + 1],
            (co->group_count - index - 1) * sizeof(*co->groups));
    co->group_count--;
    io_timer_cancel(co->io, g->join_timer);
    for (uint32_t i = 0; i < g->member_count; i++)
        member_free(co, g->members[i]);
    for (uint32_t i = 0; i < g->pending_count; i++)
        member_free(co, g->pending[i]);
    for (uint32_t i = 0; i < g->offset_count; i++)
        offset_entry_free(co, &g->offsets[i]);
    for (uint32_t i = 0; i < g->txn_offset_count; i++)
        offset_entry_free(co, &g->txn_offsets[i]);
    array_free(co, g->txn_offsets, g->txn_offset_cap, sizeof(*g->txn_offsets));
    array_free(co, g->members, g->member_cap, sizeof(*g->members));
    array_free(co, g->pending, g->pending_cap, sizeof(*g->pending));
    array_free(co, g->offsets, g->offset_cap, sizeof(*g->offsets));
    str_free(co, g->group_id);
    str_free(co, g->protocol_type);
    str_free(co, g->protocol);
    io_free(co->io, g, sizeof(*g));
}

static void group_set_protocol(struct group *g, const char *protocol) {
    str_free(g->co, g->protocol);
    g->protocol = str_dup(g->co, protocol);
}

static void group_set_protocol_type(struct group *g, const char *protocol_type) {
    str_free(g->co, g->protocol_type);
    g->protocol_type = str_dup(g->co, protocol_type);
}

/* --- Sessions ------------------------------------------------------------------------- */

static void member_session_expired(void *arg);

/* Kafka's completeAndScheduleNextHeartbeatExpiration: the session starts over now. */
static void member_renew_session(struct member *m) {
    struct group_coordinator *co = m->group->co;
    io_timer_cancel(co->io, m->session_timer);
    m->session_timer = io_timer_start(co->io, deadline_after_ms(co, m->session_timeout_ms),
                                      member_session_expired, m);
}

static void member_session_expired(void *arg) {
    struct member *m = arg;
    struct group *g = m->group;
    struct group_coordinator *co = g->co;
    ASSERT(co->callback_depth == 0);
    m->session_timer = 0;
    if (m->pending) {
        /* A member id handed out with MEMBER_ID_REQUIRED that never came back. */
        uint32_t index = 0;
        struct member *found = pending_find(g, m->member_id, &index);
        ASSERT(found == m);
        memmove(&g->pending[index], &g->pending[index + 1],
                (g->pending_count - index - 1) * sizeof(*g->pending));
        g->pending_count--;
        member_free(co, m);
        group_try_complete_join(g);
        return;
    }
    /* A member waiting for its JoinGroup or SyncGroup answer is alive by definition
     * (Kafka's shouldKeepAlive): the rebalance timeout, not the session, bounds it. */
    if (m->join_cb != NULL || m->sync_cb != NULL) {
        member_renew_session(m);
        return;
    }
    io_tracef(co->io, "group_member_expired", IO_TF_S("group", g->group_id),
              IO_TF_S("member", m->member_id), IO_TF_I("generation", g->generation));
    member_remove_and_update_group(g, m);
}

/* --- Protocols ------------------------------------------------------------------------ */

static const struct member_protocol *member_protocol_find(const struct member *m,
                                                          const char *name) {
    for (uint32_t i = 0; i < m->protocol_count; i++) {
        if (strcmp(m->protocols[i].name, name) == 0) return &m->protocols[i];
    }
    return NULL;
}

/* True if every member other than `except` supports protocol `name`. */
static bool all_members_support(const struct group *g, const struct member *except,
                                const char *name) {
    for (uint32_t i = 0; i < g->member_count; i++) {
        if (g->members[i] == except) continue;
        if (member_protocol_find(g->members[i], name) == NULL) return false;
    }
    return true;
}

/* A join must name a protocol type and 1..PROTOCOLS_PER_MEMBER_MAX named protocols. */
static bool group_request_protocols_valid(const struct group_join_request *req) {
    if (req->protocol_type == NULL || req->protocol_type[0] == '\0') return false;
    if (req->protocol_count == 0 || req->protocol_count > PROTOCOLS_PER_MEMBER_MAX) return false;
    for (size_t i = 0; i < req->protocol_count; i++) {
        if (req->protocols[i].name == NULL) return false;
    }
    return true;
}

/* Kafka's supportsProtocols: may this member join the group as it is? */
static bool group_supports_protocols(const struct group *g, const struct member *self,
                                     const struct group_join_request *req) {
    if (!group_request_protocols_valid(req)) return false;
    uint32_t others = g->member_count - (self != NULL ? 1 : 0);
    if (others == 0) return true;
    if (!str_eq(g->protocol_type, req->protocol_type)) return false;
    for (size_t i = 0; i < req->protocol_count; i++) {
        if (all_members_support(g, self, req->protocols[i].name)) return true;
    }
    return false;
}

/* Kafka's selectProtocol: candidates are the protocols every member supports; each member
 * votes for the first candidate in its own preference order; most votes wins. Kafka breaks
 * ties by hash-map order; we break them by the first member's preference order so the
 * outcome is deterministic. */
static const char *group_select_protocol(const struct group *g) {
    ASSERT(g->member_count > 0);
    const struct member *first = g->members[0];
    uint32_t votes[PROTOCOLS_PER_MEMBER_MAX] = {0};
    bool candidate[PROTOCOLS_PER_MEMBER_MAX] = {false};
    uint32_t candidate_count = 0;
    for (uint32_t c = 0; c < first->protocol_count; c++) {
        candidate[c] = all_members_support(g, NULL, first->protocols[c].name);
        candidate_count += candidate[c] ? 1 : 0;
    }
    ASSERT(candidate_count > 0); /* Joins are refused unless a common protocol exists. */
    for (uint32_t i = 0; i < g->member_count; i++) {
        const struct member *m = g->members[i];
        bool voted = false;
        for (uint32_t p = 0; p < m->protocol_count && !voted; p++) {
            for (uint32_t c = 0; c < first->protocol_count; c++) {
                if (candidate[c] && strcmp(first->protocols[c].name, m->protocols[p].name) == 0) {
                    votes[c]++;
                    voted = true;
                    break;
                }
            }
        }
        ASSERT(voted);
    }
    uint32_t best = UINT32_MAX;
    for (uint32_t c = 0; c < first->protocol_count; c++) {
        if (candidate[c] && (best == UINT32_MAX || votes[c] > votes[best])) best = c;
    }
    return first->protocols[best].name;
}

/* Kafka's MemberMetadata.matches: same protocols, same metadata, same order. */
static bool member_matches(const struct member *m, const struct group_join_request *req) {
    if (m->protocol_count != req->protocol_count) return false;
    for (uint32_t i = 0; i < m->protocol_count; i++) {
        const struct group_protocol *p = &req->protocols[i];
        if (strcmp(m->protocols[i].name, p->name) != 0) return false;
        if (m->protocols[i].metadata_len != p->metadata_len) return false;
        if (p->metadata_len > 0 && memcmp(m->protocols[i].metadata, p->metadata, p->metadata_len))
            return false;
    }
    return true;
}

static int32_t group_rebalance_timeout_ms(const struct group *g) {
    int32_t max_ms = 0;
    for (uint32_t i = 0; i < g->member_count; i++) {
        max_ms = MAX(max_ms, g->members[i]->rebalance_timeout_ms);
    }
    return max_ms;
}

/* --- Rebalance ------------------------------------------------------------------------ */

/* Sends the current generation's JoinGroup answer to one member (the leader also gets
 * every member's metadata for the chosen protocol). */
static void member_answer_join_current(struct group *g, struct member *m, group_join_cb cb,
                                       void *arg) {
    struct group_coordinator *co = g->co;
    ASSERT(g->protocol != NULL);
    struct group_join_member *list = NULL;
    size_t count = 0;
    if (m == g->leader) {
        count = g->member_count;
        list = io_calloc(co->io, count, sizeof(*list));
        for (uint32_t i = 0; i < g->member_count; i++) {
            const struct member *other = g->members[i];
            const struct member_protocol *p = member_protocol_find(other, g->protocol);
            ASSERT(p != NULL);
            list[i] = (struct group_join_member){.member_id = other->member_id,
                                                 .group_instance_id = NULL,
                                                 .metadata = p->metadata,
                                                 .metadata_len = p->metadata_len};
        }
    }
    struct group_join_response response = {
        .error_code = GROUP_ERR_NONE,
        .generation_id = g->generation,
        .protocol_type = g->protocol_type,
        .protocol_name = g->protocol,
        .leader_id = g->leader->member_id,
        .member_id = m->member_id,
        .members = list,
        .member_count = count,
    };
    answer_join(co, cb, arg, &response);
    if (list != NULL) io_free(co->io, list, count * sizeof(*list));
}

static void group_reset_assignments(struct group *g, int16_t error) {
    /* Kafka's resetAndPropagateAssignmentError: nobody keeps an assignment of a generation
     * that will not become Stable. */
    for (uint32_t i = 0; i < g->member_count; i++) {
        struct member *m = g->members[i];
        member_set_assignment(g->co, m, NULL, 0);
        member_answer_sync(g->co, m, error);
    }
}

static void group_store_done_background(struct group_coordinator *co, struct append_ctx *ctx,
                                        int status);

static void group_complete_join(struct group *g) {
    struct group_coordinator *co = g->co;
    ASSERT(g->state == GROUP_PREPARING_REBALANCE);
    io_timer_cancel(co->io, g->join_timer);
    g->join_timer = 0;
    g->join_initial = false;
    g->new_member_added = false;
    /* Members that did not rejoin within the rebalance timeout are out. Iterate from the
     * back: removal shifts later entries. */
    for (uint32_t i = g->member_count; i > 0; i--) {
        struct member *m = g->members[i - 1];
        if (m->join_cb != NULL) continue;
        member_answer_sync(co, m, GROUP_ERR_UNKNOWN_MEMBER_ID);
        memmove(&g->members[i - 1], &g->members[i], (g->member_count - i) * sizeof(*g->members));
        g->member_count--;
        if (g->leader == m) g->leader = NULL;
        member_free(co, m);
    }
    if (g->leader == NULL && g->member_count > 0) g->leader = g->members[0];
    ASSERT(g->awaiting_join_count == g->member_count);

    g->generation++;
    if (g->member_count == 0) {
        group_set_protocol(g, NULL);
        g->leader = NULL;
        group_transition(g, GROUP_EMPTY);
        /* Kafka stores the now-empty group so a restart does not resurrect old members. */
        group_store(g, g->generation, NULL);
        return;
    }
    group_set_protocol(g, group_select_protocol(g));
    group_transition(g, GROUP_COMPLETING_REBALANCE);
    g->assignment_pending = false;
    for (uint32_t i = 0; i < g->member_count; i++) {
        struct member *m = g->members[i];
        ASSERT(m->join_cb != NULL);
        group_join_cb cb = m->join_cb;
        m->join_cb = NULL;
        g->awaiting_join_count--;
        member_renew_session(m);
        member_answer_join_current(g, m, cb, m->join_arg);
    }
    ASSERT(g->awaiting_join_count == 0);
}

static void group_join_timer_fired(void *arg) {
    struct group *g = arg;
    ASSERT(g->co->callback_depth == 0);
    ASSERT(g->state == GROUP_PREPARING_REBALANCE);
    g->join_timer = 0;
    if (g->join_initial && g->new_member_added && g->initial_remaining_ms > 0) {
        /* KIP-134: while members keep arriving, wait one more delay (within the rebalance
         * timeout) so a starting fleet lands in one generation instead of many. */
        int64_t delay_ms =
            MIN((int64_t)g->co->config.initial_rebalance_delay_ms, g->initial_remaining_ms);
        g->initial_remaining_ms -= delay_ms;
        g->new_member_added = false;
        g->join_timer = io_timer_start(g->co->io, deadline_after_ms(g->co, delay_ms),
                                       group_join_timer_fired, g);
        return;
    }
    group_complete_join(g);
}

static void group_prepare_rebalance(struct group *g) {
    struct group_coordinator *co = g->co;
    if (g->state == GROUP_COMPLETING_REBALANCE) {
        group_reset_assignments(g, GROUP_ERR_REBALANCE_IN_PROGRESS);
    }
    bool was_empty = g->state == GROUP_EMPTY;
    group_transition(g, GROUP_PREPARING_REBALANCE);
    g->assignment_pending = false;
    io_timer_cancel(co->io, g->join_timer);
    int64_t rebalance_ms = group_rebalance_timeout_ms(g);
    int64_t delay_ms;
    if (was_empty) {
        g->join_initial = true;
        g->new_member_added = false;
        delay_ms = co->config.initial_rebalance_delay_ms;
        g->initial_remaining_ms = MAX(rebalance_ms - delay_ms, 0);
    } else {
        g->join_initial = false;
        delay_ms = rebalance_ms;
    }
    g->join_timer =
        io_timer_start(co->io, deadline_after_ms(co, delay_ms), group_join_timer_fired, g);
}

static void group_maybe_prepare_rebalance(struct group *g) {
    if (g->state == GROUP_STABLE || g->state == GROUP_COMPLETING_REBALANCE ||
        g->state == GROUP_EMPTY) {
        group_prepare_rebalance(g);
    }
}

/* Kafka's DelayedJoin.tryComplete: done once every member rejoined and no member id
 * handed out with MEMBER_ID_REQUIRED is still expected. The initial delay never ends
 * early. */
static void group_try_complete_join(struct group *g) {
    if (g->state != GROUP_PREPARING_REBALANCE || g->join_initial) return;
    if (g->awaiting_join_count == g->member_count && g->pending_count == 0) {
        group_complete_join(g);
    }
}

static void member_remove_and_update_group(struct group *g, struct member *m) {
    struct group_coordinator *co = g->co;
    member_answer_join_error(co, m, GROUP_ERR_UNKNOWN_MEMBER_ID);
    member_answer_sync(co, m, GROUP_ERR_UNKNOWN_MEMBER_ID);
    uint32_t index = UINT32_MAX;
    for (uint32_t i = 0; i < g->member_count; i++) {
        if (g->members[i] == m) index = i;
    }
    ASSERT(index != UINT32_MAX);
    memmove(&g->members[index], &g->members[index + 1],
            (g->member_count - index - 1) * sizeof(*g->members));
    g->member_count--;
    if (g->leader == m) {
        /* The earliest remaining joiner leads (Kafka: members.keys.headOption). */
        g->leader = g->member_count > 0 ? g->members[0] : NULL;
    }
    member_free(co, m);
    switch (g->state) {
    case GROUP_STABLE:
    case GROUP_COMPLETING_REBALANCE:
        group_maybe_prepare_rebalance(g);
        group_try_complete_join(g);
        break;
    case GROUP_PREPARING_REBALANCE:
        group_try_complete_join(g);
        break;
    case GROUP_EMPTY:
    case GROUP_DEAD:
        break;
    }
}

static struct member *member_create(struct group *g, const char *member_id,
                                    const struct group_join_request *req) {
    struct group_coordinator *co = g->co;
    struct member *m = io_calloc(co->io, 1, sizeof(*m));
    m->group = g;
    m->member_id = str_dup(co, member_id);
    m->client_id = str_dup(co, req->client_id == NULL ? "" : req->client_id);
    m->client_host = str_dup(co, req->client_host == NULL ? "" : req->client_host);
    m->session_timeout_ms = req->session_timeout_ms;
    m->rebalance_timeout_ms = req->rebalance_timeout_ms;
    return m;
}

static void member_set_join_waiting(struct group *g, struct member *m, group_join_cb cb,
                                    void *arg) {
    if (m->join_cb != NULL) {
        /* A retried JoinGroup replaces the one still waiting; the old one gets an answer
         * now so every request is answered exactly once. */
        member_answer_join_error(g->co, m, GROUP_ERR_REBALANCE_IN_PROGRESS);
    }
    m->join_cb = cb;
    m->join_arg = arg;
    g->awaiting_join_count++;
}

static void group_add_member_and_rebalance(struct group *g, const char *member_id,
                                           const struct group_join_request *req, group_join_cb cb,
                                           void *arg) {
    struct group_coordinator *co = g->co;
    struct member *m = member_create(g, member_id, req);
    member_set_protocols(co, m, req->protocols, req->protocol_count);
    if (g->member_count == 0) group_set_protocol_type(g, req->protocol_type);
    array_reserve(co, (void **)&g->members, &g->member_cap, sizeof(*g->members),
                  g->member_count + 1);
    g->members[g->member_count++] = m;
    if (g->leader == NULL) g->leader = m;
    member_set_join_waiting(g, m, cb, arg);
    member_renew_session(m);
    if (g->state == GROUP_PREPARING_REBALANCE && g->join_initial) g->new_member_added = true;
    group_maybe_prepare_rebalance(g);
    group_try_complete_join(g);
}

static void group_update_member_and_rebalance(struct group *g, struct member *m,
                                              const struct group_join_request *req,
                                              group_join_cb cb, void *arg) {
    member_set_protocols(g->co, m, req->protocols, req->protocol_count);
    m->session_timeout_ms = req->session_timeout_ms;
    m->rebalance_timeout_ms = req->rebalance_timeout_ms;
    member_set_join_waiting(g, m, cb, arg);
    group_maybe_prepare_rebalance(g);
    group_try_complete_join(g);
}

/* Kafka's member id: client id, a dash, and a random UUID (from the node's PRNG). */
static void make_member_id(struct group_coordinator *co, const char *client_id, char *out,
                           size_t cap) {
    uint64_t hi = io_random_u64(co->io);
    uint64_t lo = io_random_u64(co->io);
    int n =
        snprintf(out, cap, "%s-%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
                 client_id, hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                 lo & (uint64_t)0xffffffffffff);
    ASSERT(n > 0 && (size_t)n < cap);
}

void group_join(struct group_coordinator *co, const struct group_join_request *req,
                group_join_cb cb, void *arg) {
    ASSERT(co->callback_depth == 0);
    ASSERT(req != NULL && cb != NULL);
    const char *member_id = req->member_id == NULL ? "" : req->member_id;
    int16_t error = serve_check(co, req->group_id);
    if (error != GROUP_ERR_NONE) {
        answer_join_error(co, cb, arg, error, member_id);
        return;
    }
    if (req->session_timeout_ms < co->config.min_session_timeout_ms ||
        req->session_timeout_ms > co->config.max_session_timeout_ms ||
        req->rebalance_timeout_ms < 0) {
        answer_join_error(co, cb, arg, GROUP_ERR_INVALID_SESSION_TIMEOUT, member_id);
        return;
    }
    bool is_new = member_id[0] == '\0';
    struct group *g = group_find(co, req->group_id);
    if (g == NULL) {
        if (!is_new) {
            answer_join_error(co, cb, arg, GROUP_ERR_UNKNOWN_MEMBER_ID, member_id);
            return;
        }
        /* Check before creating, so a malformed join leaves no empty group behind. */
        if (!group_request_protocols_valid(req)) {
            answer_join_error(co, cb, arg, GROUP_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            return;
        }
        g = group_create(co, req->group_id);
        if (g == NULL) {
            answer_join_error(co, cb, arg, GROUP_ERR_COORDINATOR_NOT_AVAILABLE, member_id);
            return;
        }
    }
    ASSERT(g->state != GROUP_DEAD); /* Dead groups are removed at once. */

    if (is_new) {
        if (!group_supports_protocols(g, NULL, req)) {
            answer_join_error(co, cb, arg, GROUP_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            return;
        }
        if (g->member_count + g->pending_count >= co->config.group_members_max) {
            answer_join_error(co, cb, arg, GROUP_ERR_GROUP_MAX_SIZE_REACHED, member_id);
            return;
        }
        char new_id[CLIENT_ID_BYTES_MAX + 48];
        const char *client_id = req->client_id == NULL ? "" : req->client_id;
        char clipped[CLIENT_ID_BYTES_MAX + 1];
        snprintf(clipped, sizeof(clipped), "%s", client_id);
        make_member_id(co, clipped, new_id, sizeof(new_id));
        if (req->api_version >= 4) {
            /* KIP-394: hand out the id and wait for the member to come back with it, so a
             * client that never does cannot hold up the rebalance beyond its session. */
            struct member *p = member_create(g, new_id, req);
            p->pending = true;
            array_reserve(co, (void **)&g->pending, &g->pending_cap, sizeof(*g->pending),
                          g->pending_count + 1);
            g->pending[g->pending_count++] = p;
            member_renew_session(p);
            answer_join_error(co, cb, arg, GROUP_ERR_MEMBER_ID_REQUIRED, new_id);
            return;
        }
        group_add_member_and_rebalance(g, new_id, req, cb, arg);
        return;
    }

    uint32_t pending_index = 0;
    struct member *p = pending_find(g, member_id, &pending_index);
    if (p != NULL) {
        if (!group_supports_protocols(g, NULL, req)) {
            answer_join_error(co, cb, arg, GROUP_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
            return;
        }
        memmove(&g->pending[pending_index], &g->pending[pending_index + 1],
                (g->pending_count - pending_index - 1) * sizeof(*g->pending));
        g->pending_count--;
        member_free(co, p);
        group_add_member_and_rebalance(g, member_id, req, cb, arg);
        return;
    }

    struct member *m = member_find(g, member_id);
    if (m == NULL) {
        answer_join_error(co, cb, arg, GROUP_ERR_UNKNOWN_MEMBER_ID, member_id);
        return;
    }
    if (!group_supports_protocols(g, m, req)) {
        answer_join_error(co, cb, arg, GROUP_ERR_INCONSISTENT_GROUP_PROTOCOL, member_id);
        return;
    }
    switch (g->state) {
    case GROUP_PREPARING_REBALANCE:
        group_update_member_and_rebalance(g, m, req, cb, arg);
        return;
    case GROUP_COMPLETING_REBALANCE:
        if (member_matches(m, req)) {
            /* It missed our answer; send it again rather than start over. */
            member_renew_session(m);
            member_answer_join_current(g, m, cb, arg);
        } else {
            group_update_member_and_rebalance(g, m, req, cb, arg);
        }
        return;
    case GROUP_STABLE:
        if (m == g->leader || !member_matches(m, req)) {
            /* The leader rejoining means it wants a new assignment (e.g. new topics). */
            group_update_member_and_rebalance(g, m, req, cb, arg);
        } else {
            member_renew_session(m);
            member_answer_join_current(g, m, cb, arg);
        }
        return;
    case GROUP_EMPTY:
    case GROUP_DEAD:
        break;
    }
    UNREACHABLE(); /* A group with a known member is never Empty or Dead. */
}

/* --- SyncGroup ------------------------------------------------------------------------ */

static void append_ctx_free(struct group_coordinator *co, struct append_ctx *ctx) {
    str_free(co, ctx->group_id);
    if (ctx->errors != NULL) io_free(co->io, ctx->errors, ctx->error_count * sizeof(*ctx->errors));
    for (size_t i = 0; i < ctx->item_count; i++) {
        str_free(co, ctx->items[i].topic);
        str_free(co, ctx->items[i].metadata);
    }
    if (ctx->items != NULL) io_free(co->io, ctx->items, ctx->item_count * sizeof(*ctx->items));
    for (size_t i = 0; i < ctx->assign_count; i++) {
        str_free(co, ctx->assign_member_ids[i]);
        bytes_free(co, ctx->assign_bytes[i], ctx->assign_lens[i]);
    }
    if (ctx->assign_count > 0) {
        io_free(co->io, ctx->assign_member_ids, ctx->assign_count * sizeof(char *));
        io_free(co->io, ctx->assign_bytes, ctx->assign_count * sizeof(uint8_t *));
        io_free(co->io, ctx->assign_lens, ctx->assign_count * sizeof(size_t));
    }
    io_free(co->io, ctx, sizeof(*ctx));
}

static int16_t map_append_error(int status, bool for_commit) {
    ASSERT(status < 0);
    if (status == -ESTALE || status == -EIO) return GROUP_ERR_NOT_COORDINATOR;
    if (status == -EMSGSIZE) {
        return for_commit ? GROUP_ERR_INVALID_COMMIT_OFFSET_SIZE : GROUP_ERR_UNKNOWN_SERVER_ERROR;
    }
    return GROUP_ERR_COORDINATOR_NOT_AVAILABLE;
}

struct assignment_trace {
    struct group *g;
    struct member *m;
};

static void trace_one_partition(void *arg, struct group_str topic, int32_t partition) {
    struct assignment_trace *t = arg;
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)topic.len, topic.ptr);
    io_tracef(t->g->co->io, "group_assignment", IO_TF_S("group", t->g->group_id),
              IO_TF_I("generation", t->g->generation), IO_TF_S("member", t->m->member_id),
              IO_TF_S("topic", name), IO_TF_I("partition", partition));
}

/* For consumer groups, reports who owns which partition in the generation that just became
 * Stable, so a checker can prove I-GRP-3 (no partition owned by two live members of one
 * generation). Other protocol types' assignments are opaque. */
static void trace_assignments(struct group *g) {
    if (g->protocol_type == NULL || strcmp(g->protocol_type, "consumer") != 0) return;
    for (uint32_t i = 0; i < g->member_count; i++) {
        struct assignment_trace t = {.g = g, .m = g->members[i]};
        if (g->members[i]->assignment_len == 0) continue;
        int rc = group_record_consumer_assignment_walk(
            g->members[i]->assignment, g->members[i]->assignment_len, trace_one_partition, &t);
        if (rc < 0) {
            io_log(g->co->io, IO_LOG_WARN, "group %s: unreadable consumer assignment for %s",
                   g->group_id, g->members[i]->member_id);
        }
    }
}

static void assignment_done(struct group_coordinator *co, struct append_ctx *ctx, int status) {
    struct group *g = group_find(co, ctx->group_id);
    /* Only the generation that wrote it may become Stable with it (Kafka checks the same:
     * a rebalance may have started while the record was being written). */
    if (g == NULL || serve_check(co, ctx->group_id) != GROUP_ERR_NONE ||
        g->state != GROUP_COMPLETING_REBALANCE || g->generation != ctx->generation) {
        return;
    }
    g->assignment_pending = false;
    if (status < 0) {
        group_reset_assignments(g, map_append_error(status, false));
        group_maybe_prepare_rebalance(g);
        return;
    }
    ASSERT(ctx->assign_count == g->member_count);
    for (uint32_t i = 0; i < g->member_count; i++) {
        struct member *m = g->members[i];
        ASSERT(strcmp(ctx->assign_member_ids[i], m->member_id) == 0);
        member_set_assignment(co, m, ctx->assign_bytes[i], ctx->assign_lens[i]);
    }
    group_transition(g, GROUP_STABLE);
    trace_assignments(g);
    for (uint32_t i = 0; i < g->member_count; i++) {
        struct member *m = g->members[i];
        if (m->sync_cb != NULL) member_renew_session(m);
        member_answer_sync(co, m, GROUP_ERR_NONE);
    }
}

static void append_done(void *arg, int status) {
    struct append_ctx *ctx = arg;
    struct group_coordinator *co = ctx->co;
    ASSERT(co->callback_depth == 0);
    ASSERT(co->appends_inflight > 0);
    co->appends_inflight--;
    switch (ctx->kind) {
    case APPEND_ASSIGNMENT:
        assignment_done(co, ctx, status);
        break;
    case APPEND_BACKGROUND:
        group_store_done_background(co, ctx, status);
        break;
    case APPEND_COMMIT:
    case APPEND_TXN_COMMIT: {
        struct group *g = NULL;
        if (status == 0 && serve_check(co, ctx->group_id) == GROUP_ERR_NONE) {
            g = group_find(co, ctx->group_id);
            if (g == NULL) g = group_create(co, ctx->group_id);
        }
        for (size_t i = 0; i < ctx->item_count; i++) {
            struct commit_item *item = &ctx->items[i];
            ctx->errors[item->request_index] =
                status == 0 ? GROUP_ERR_NONE : map_append_error(status, true);
            if (status != 0) continue;
            if (ctx->kind == APPEND_TXN_COMMIT) {
                /* Durable but pending: visible only once the marker commits it. */
                if (g != NULL &&
                    !txn_offset_upsert(g, ctx->producer_id, item->topic, item->partition,
                                       item->offset, item->leader_epoch, item->metadata,
                                       item->commit_timestamp_ms, co->order_next++)) {
                    io_log(co->io, IO_LOG_WARN, "group %s: offsets_per_group_max reached",
                           ctx->group_id);
                }
                continue;
            }
            io_tracef(co->io, "group_offset_commit", IO_TF_S("group", ctx->group_id),
                      IO_TF_S("topic", item->topic), IO_TF_I("partition", item->partition),
                      IO_TF_I("offset", item->offset));
            if (g == NULL) continue;
            offset_apply(g, item);
        }
        answer_commit(co, ctx->commit_cb, ctx->commit_arg, ctx->errors, ctx->error_count);
        break;
    }
    }
    append_ctx_free(co, ctx);
}

/* Issues an append; on synchronous failure returns the error and frees nothing. */
static int issue_append(struct group_coordinator *co, int32_t partition,
                        const struct group_record *records, size_t count, struct append_ctx *ctx) {
    int rc;
    if (ctx->kind == APPEND_TXN_COMMIT) {
        ASSERT(co->log.append_txn != NULL);
        rc = co->log.append_txn(co->log.ctx, partition, ctx->producer_id, ctx->producer_epoch,
                                records, count, append_done, ctx);
    } else {
        rc = co->log.append(co->log.ctx, partition, records, count, append_done, ctx);
    }
    if (rc == 0) co->appends_inflight++;
    return rc;
}

static void group_store_done_background(struct group_coordinator *co, struct append_ctx *ctx,
                                        int status) {
    if (status < 0) {
        io_log(co->io, IO_LOG_WARN, "group %s: writing group metadata failed: %d", ctx->group_id,
               status);
    }
}

/* Writes the group's metadata record (Kafka's storeGroup). With an APPEND_ASSIGNMENT ctx
 * the record carries the leader's assignments (SyncGroup); with ctx NULL it is a
 * background write whose failure is only logged. */
static void group_store(struct group *g, int32_t generation, struct append_ctx *ctx) {
    struct group_coordinator *co = g->co;
    size_t count = g->member_count;
    struct group_member_value *members =
        count > 0 ? io_calloc(co->io, count, sizeof(*members)) : NULL;
    for (size_t i = 0; i < count; i++) {
        const struct member *m = g->members[i];
        const struct member_protocol *p = member_protocol_find(m, g->protocol);
        ASSERT(p != NULL);
        const uint8_t *bytes = NULL;
        size_t len = 0;
        if (ctx != NULL && ctx->assign_count > 0) {
            bytes = ctx->assign_bytes[i];
            len = ctx->assign_lens[i];
        }
        members[i] = (struct group_member_value){
            .member_id = group_str_c(m->member_id),
            .group_instance_id = group_str_c(NULL),
            .client_id = group_str_c(m->client_id),
            .client_host = group_str_c(m->client_host),
            .rebalance_timeout_ms = m->rebalance_timeout_ms,
            .session_timeout_ms = m->session_timeout_ms,
            .subscription = p->metadata,
            .subscription_len = (int32_t)p->metadata_len,
            .assignment = bytes,
            .assignment_len = (int32_t)len,
        };
    }
    struct group_metadata_value value = {
        .version = 3,
        .protocol_type = group_str_c(g->protocol_type == NULL ? "" : g->protocol_type),
        .generation = generation,
        .protocol = group_str_c(g->protocol),
        .leader = group_str_c(g->leader == NULL ? NULL : g->leader->member_id),
        .current_state_timestamp_ms = g->state_timestamp_ms,
    };
    size_t key_len = group_record_group_key_size(g->group_id);
    size_t value_len = group_record_group_value_size(&value, members, count);
    uint8_t *key = io_alloc(co->io, key_len);
    uint8_t *val = io_alloc(co->io, value_len);
    group_record_group_key_encode(key, key_len, g->group_id);
    group_record_group_value_encode(val, value_len, &value, members, count);
    if (members != NULL) io_free(co->io, members, count * sizeof(*members));

    bool background = ctx == NULL;
    if (background) {
        ctx = io_calloc(co->io, 1, sizeof(*ctx));
        ctx->co = co;
        ctx->kind = APPEND_BACKGROUND;
        ctx->group_id = str_dup(co, g->group_id);
        ctx->generation = generation;
    }
    struct group_record record = {
        .key = key, .key_len = key_len, .value = val, .value_len = value_len};
    int rc = issue_append(co, g->partition, &record, 1, ctx);
    io_free(co->io, key, key_len);
    io_free(co->io, val, value_len);
    if (rc < 0) {
        /* Treated like a failed completion, after this call returns to its caller's state
         * machine: the assignment path needs the group in a consistent state first. */
        ASSERT(co->appends_inflight < UINT32_MAX);
        co->appends_inflight++;
        append_done(ctx, rc);
    }
}

void group_sync(struct group_coordinator *co, const struct group_sync_request *req,
                group_sync_cb cb, void *arg) {
    ASSERT(co->callback_depth == 0);
    ASSERT(req != NULL && cb != NULL);
    int16_t error = serve_check(co, req->group_id);
    if (error != GROUP_ERR_NONE) {
        answer_sync(co, cb, arg, error, NULL, 0);
        return;
    }
    struct group *g = group_find(co, req->group_id);
    struct member *m = g == NULL ? NULL : member_find(g, req->member_id);
    if (m == NULL) {
        answer_sync(co, cb, arg, GROUP_ERR_UNKNOWN_MEMBER_ID, NULL, 0);
        return;
    }
    if (req->generation_id != g->generation) {
        answer_sync(co, cb, arg, GROUP_ERR_ILLEGAL_GENERATION, NULL, 0);
        return;
    }
    switch (g->state) {
    case GROUP_PREPARING_REBALANCE:
        answer_sync(co, cb, arg, GROUP_ERR_REBALANCE_IN_PROGRESS, NULL, 0);
        return;
    case GROUP_STABLE:
        member_renew_session(m);
        answer_sync(co, cb, arg, GROUP_ERR_NONE, m->assignment, m->assignment_len);
        return;
    case GROUP_COMPLETING_REBALANCE:
        break;
    case GROUP_EMPTY:
    case GROUP_DEAD:
        UNREACHABLE();
    }
    if (m->sync_cb != NULL) member_answer_sync(co, m, GROUP_ERR_REBALANCE_IN_PROGRESS);
    m->sync_cb = cb;
    m->sync_arg = arg;
    if (m != g->leader || g->assignment_pending) return;

    /* The leader's assignment: members it did not mention get an empty one, ids that are
     * not members are ignored (Kafka does both). Written first, applied once durable. */
    g->assignment_pending = true;
    struct append_ctx *ctx = io_calloc(co->io, 1, sizeof(*ctx));
    ctx->co = co;
    ctx->kind = APPEND_ASSIGNMENT;
    ctx->group_id = str_dup(co, g->group_id);
    ctx->generation = g->generation;
    ctx->assign_count = g->member_count;
    ctx->assign_member_ids = io_calloc(co->io, g->member_count, sizeof(char *));
    ctx->assign_bytes = io_calloc(co->io, g->member_count, sizeof(uint8_t *));
    ctx->assign_lens = io_calloc(co->io, g->member_count, sizeof(size_t));
    for (uint32_t i = 0; i < g->member_count; i++) {
        ctx->assign_member_ids[i] = str_dup(co, g->members[i]->member_id);
        for (size_t a = 0; a < req->assignment_count; a++) {
            const struct group_assignment *ga = &req->assignments[a];
            if (ga->member_id == NULL || strcmp(ga->member_id, g->members[i]->member_id) != 0)
                continue;
            bytes_free(co, ctx->assign_bytes[i], ctx->assign_lens[i]);
            ctx->assign_bytes[i] = bytes_dup(co, ga->assignment, ga->assignment_len);
            ctx->assign_lens[i] = ga->assignment_len;
        }
    }
    group_store(g, g->generation, ctx);
}

/* --- Heartbeat, LeaveGroup ------------------------------------------------------------ */

int16_t group_heartbeat(struct group_coordinator *co, const char *group_id, int32_t generation_id,
                        const char *member_id) {
    ASSERT(co->callback_depth == 0);
    int16_t error = serve_check(co, group_id);
    if (error != GROUP_ERR_NONE) return error;
    struct group *g = group_find(co, group_id);
    struct member *m = g == NULL ? NULL : member_find(g, member_id);
    if (m == NULL) return GROUP_ERR_UNKNOWN_MEMBER_ID;
    if (generation_id != g->generation) return GROUP_ERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case GROUP_COMPLETING_REBALANCE:
    case GROUP_STABLE:
        member_renew_session(m);
        return GROUP_ERR_NONE;
    case GROUP_PREPARING_REBALANCE:
        /* Still alive, but it must rejoin: this is how members learn of a rebalance. */
        member_renew_session(m);
        return GROUP_ERR_REBALANCE_IN_PROGRESS;
    case GROUP_EMPTY:
    case GROUP_DEAD:
        break;
    }
    UNREACHABLE();
}

int16_t group_leave(struct group_coordinator *co, const char *group_id,
                    const char *const *member_ids, size_t count, int16_t *member_errors) {
    ASSERT(co->callback_depth == 0);
    ASSERT(count == 0 || (member_ids != NULL && member_errors != NULL));
    int16_t error = serve_check(co, group_id);
    if (error != GROUP_ERR_NONE) return error;
    struct group *g = group_find(co, group_id);
    for (size_t i = 0; i < count; i++) {
        member_errors[i] = GROUP_ERR_UNKNOWN_MEMBER_ID;
        if (g == NULL || member_ids[i] == NULL) continue;
        uint32_t pending_index = 0;
        struct member *p = pending_find(g, member_ids[i], &pending_index);
        if (p != NULL) {
            memmove(&g->pending[pending_index], &g->pending[pending_index + 1],
                    (g->pending_count - pending_index - 1) * sizeof(*g->pending));
            g->pending_count--;
            member_free(co, p);
            member_errors[i] = GROUP_ERR_NONE;
            group_try_complete_join(g);
            continue;
        }
        struct member *m = member_find(g, member_ids[i]);
        if (m == NULL) continue;
        io_tracef(co->io, "group_member_left", IO_TF_S("group", g->group_id),
                  IO_TF_S("member", m->member_id), IO_TF_I("generation", g->generation));
        member_remove_and_update_group(g, m);
        member_errors[i] = GROUP_ERR_NONE;
    }
    return GROUP_ERR_NONE;
}

/* --- Offsets -------------------------------------------------------------------------- */

static int offset_cmp(const struct offset_entry *e, const char *topic, int32_t partition) {
    int cmp = strcmp(e->topic, topic);
    if (cmp != 0) return cmp;
    return (e->partition > partition) - (e->partition < partition);
}

static uint32_t offset_search(const struct group *g, const char *topic, int32_t partition,
                              bool *found) {
    uint32_t lo = 0;
    uint32_t hi = g->offset_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int cmp = offset_cmp(&g->offsets[mid], topic, partition);
        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

/* Inserts or replaces one committed offset. Returns false if the bound is reached. */
static bool offset_upsert(struct group *g, const char *topic, int32_t partition, int64_t offset,
                          int32_t leader_epoch, const char *metadata, int64_t commit_ms,
                          int64_t expire_ms, uint64_t order) {
    struct group_coordinator *co = g->co;
    bool found = false;
    uint32_t index = offset_search(g, topic, partition, &found);
    if (!found) {
        if (g->offset_count >= co->config.offsets_per_group_max) return false;
        array_reserve(co, (void **)&g->offsets, &g->offset_cap, sizeof(*g->offsets),
                      g->offset_count + 1);
        memmove(&g->offsets[index + 1], &g->offsets[index],
                (g->offset_count - index) * sizeof(*g->offsets));
        g->offset_count++;
        g->offsets[index] = (struct offset_entry){.topic = str_dup(co, topic),
                                                  .partition = partition,
                                                  .metadata = NULL,
                                                  .producer_id = -1};
    }
    struct offset_entry *e = &g->offsets[index];
    str_free(co, e->metadata);
    e->metadata = str_dup(co, metadata == NULL ? "" : metadata);
    e->offset = offset;
    e->leader_epoch = leader_epoch;
    e->commit_timestamp_ms = commit_ms;
    e->expire_timestamp_ms = expire_ms;
    e->order = order;
    return true;
}

/* --- Transactional offsets (TxnOffsetCommit, KIP-98) ----------------------------------- */

static int txn_offset_cmp(const struct offset_entry *e, int64_t producer_id, const char *topic,
                          int32_t partition) {
    if (e->producer_id != producer_id) return e->producer_id < producer_id ? -1 : 1;
    return offset_cmp(e, topic, partition);
}

/* Records a pending transactional offset. Returns false if the bound is reached. */
static bool txn_offset_upsert(struct group *g, int64_t producer_id, const char *topic,
                              int32_t partition, int64_t offset, int32_t leader_epoch,
                              const char *metadata, int64_t commit_ms, uint64_t order) {
    struct group_coordinator *co = g->co;
    uint32_t index = 0;
    while (index < g->txn_offset_count &&
           txn_offset_cmp(&g->txn_offsets[index], producer_id, topic, partition) < 0) {
        index++;
    }
    bool found = index < g->txn_offset_count &&
                 txn_offset_cmp(&g->txn_offsets[index], producer_id, topic, partition) == 0;
    if (!found) {
        if (g->txn_offset_count >= co->config.offsets_per_group_max) return false;
        array_reserve(co, (void **)&g->txn_offsets, &g->txn_offset_cap, sizeof(*g->txn_offsets),
                      g->txn_offset_count + 1);
        memmove(&g->txn_offsets[index + 1], &g->txn_offsets[index],
                (g->txn_offset_count - index) * sizeof(*g->txn_offsets));
        g->txn_offset_count++;
        g->txn_offsets[index] = (struct offset_entry){.topic = str_dup(co, topic),
                                                      .partition = partition,
                                                      .metadata = NULL,
                                                      .producer_id = producer_id};
    }
    struct offset_entry *e = &g->txn_offsets[index];
    str_free(co, e->metadata);
    e->metadata = str_dup(co, metadata == NULL ? "" : metadata);
    e->offset = offset;
    e->leader_epoch = leader_epoch;
    e->commit_timestamp_ms = commit_ms;
    e->expire_timestamp_ms = -1;
    e->order = order;
    return true;
}

/* The transaction of `producer_id` ended in this group: its offsets become committed offsets
 * (unless a plain commit was written after them) or vanish. Returns how many it moved. */
static uint32_t group_txn_complete(struct group *g, int64_t producer_id, bool commit) {
    struct group_coordinator *co = g->co;
    uint32_t moved = 0;
    uint32_t i = 0;
    while (i < g->txn_offset_count) {
        struct offset_entry *e = &g->txn_offsets[i];
        if (e->producer_id != producer_id) {
            i++;
            continue;
        }
        if (commit) {
            bool found = false;
            uint32_t index = offset_search(g, e->topic, e->partition, &found);
            if (!found || g->offsets[index].order < e->order) {
                if (offset_upsert(g, e->topic, e->partition, e->offset, e->leader_epoch,
                                  e->metadata, e->commit_timestamp_ms, -1, e->order)) {
                    io_tracef(co->io, "group_offset_commit", IO_TF_S("group", g->group_id),
                              IO_TF_S("topic", e->topic), IO_TF_I("partition", e->partition),
                              IO_TF_I("offset", e->offset), IO_TF_I("producer_id", producer_id));
                    moved++;
                }
            }
        }
        offset_entry_free(co, e);
        memmove(&g->txn_offsets[i], &g->txn_offsets[i + 1],
                (g->txn_offset_count - i - 1) * sizeof(*g->txn_offsets));
        g->txn_offset_count--;
    }
    return moved;
}

static void offset_remove_at(struct group *g, uint32_t index) {
    ASSERT(index < g->offset_count);
    offset_entry_free(g->co, &g->offsets[index]);
    memmove(&g->offsets[index], &g->offsets[index + 1],
            (g->offset_count - index - 1) * sizeof(*g->offsets));
    g->offset_count--;
}

static void offset_apply(struct group *g, const struct commit_item *item) {
    if (!offset_upsert(g, item->topic, item->partition, item->offset, item->leader_epoch,
                       item->metadata, item->commit_timestamp_ms, item->expire_timestamp_ms,
                       g->co->order_next++)) {
        io_log(g->co->io, IO_LOG_WARN, "group %s: offsets_per_group_max reached", g->group_id);
    }
}

/* Kafka's doCommitOffsets checks, in Kafka's order (I-GRP-2). */
static int16_t commit_check(struct group_coordinator *co, struct group **gp,
                            const struct group_commit_request *req) {
    struct group *g = group_find(co, req->group_id);
    if (g == NULL) {
        if (req->generation_id >= 0) return GROUP_ERR_ILLEGAL_GENERATION;
        /* A group that only uses Kafka to store offsets (assign() consumers, tools). */
        g = group_create(co, req->group_id);
        if (g == NULL) return GROUP_ERR_COORDINATOR_NOT_AVAILABLE;
        *gp = g;
        return GROUP_ERR_NONE;
    }
    *gp = g;
    if (req->generation_id < 0 && g->state == GROUP_EMPTY) return GROUP_ERR_NONE;
    if (g->state == GROUP_COMPLETING_REBALANCE) return GROUP_ERR_REBALANCE_IN_PROGRESS;
    struct member *m = member_find(g, req->member_id);
    if (m == NULL) return GROUP_ERR_UNKNOWN_MEMBER_ID;
    if (req->generation_id != g->generation) return GROUP_ERR_ILLEGAL_GENERATION;
    member_renew_session(m); /* A commit is as good as a heartbeat. */
    return GROUP_ERR_NONE;
}

/* Per-partition checks shared by OffsetCommit and TxnOffsetCommit; `error` (a group-level
 * refusal) applies to every partition. Returns how many partitions may be written. */
static size_t commit_validate(struct group_coordinator *co, int16_t error,
                              const struct group_commit_partition *partitions, size_t count,
                              int16_t *errors) {
    size_t valid = 0;
    for (size_t i = 0; i < count; i++) {
        const struct group_commit_partition *p = &partitions[i];
        if (error != GROUP_ERR_NONE) {
            errors[i] = error;
        } else if (p->topic == NULL || p->topic[0] == '\0' || p->partition < 0) {
            errors[i] = GROUP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else if (p->metadata != NULL &&
                   strlen(p->metadata) > co->config.offset_metadata_bytes_max) {
            errors[i] = GROUP_ERR_OFFSET_METADATA_TOO_LARGE;
        } else {
            errors[i] = GROUP_ERR_NONE;
            valid++;
        }
    }
    return valid;
}

/* Writes the valid partitions' offset records in one append (transactional when ctx->kind
 * says so) and answers through ctx once the log has answered. Takes ownership of ctx. */
static void commit_write(struct group_coordinator *co, struct group *g,
                         const struct group_commit_partition *partitions, size_t count,
                         int64_t retention_ms, size_t valid, struct append_ctx *ctx) {
    int16_t *errors = ctx->errors;
    ctx->items = io_calloc(co->io, valid, sizeof(*ctx->items));
    ctx->item_count = valid;
    struct group_record *records = io_calloc(co->io, valid, sizeof(*records));
    int64_t now_ms = io_wall_ms(co->io);
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        if (errors[i] != GROUP_ERR_NONE) continue;
        const struct group_commit_partition *p = &partitions[i];
        struct commit_item *item = &ctx->items[k];
        item->request_index = i;
        item->topic = str_dup(co, p->topic);
        item->partition = p->partition;
        item->offset = p->offset;
        item->leader_epoch = p->leader_epoch;
        item->metadata = str_dup(co, p->metadata == NULL ? "" : p->metadata);
        item->commit_timestamp_ms = p->commit_timestamp_ms >= 0 ? p->commit_timestamp_ms : now_ms;
        item->expire_timestamp_ms =
            retention_ms >= 0 ? item->commit_timestamp_ms + retention_ms : -1;
        /* v1 carries an explicit expiry (OffsetCommit v2-4 retention); v3 otherwise. */
        struct group_offset_value value = {
            .version = item->expire_timestamp_ms >= 0 ? 1 : 3,
            .offset = item->offset,
            .leader_epoch = item->leader_epoch,
            .metadata = group_str_c(item->metadata),
            .commit_timestamp_ms = item->commit_timestamp_ms,
            .expire_timestamp_ms = item->expire_timestamp_ms,
        };
        size_t key_len = group_record_offset_key_size(g->group_id, item->topic);
        size_t value_len = group_record_offset_value_size(&value);
        uint8_t *key = io_alloc(co->io, key_len);
        uint8_t *val = io_alloc(co->io, value_len);
        group_record_offset_key_encode(key, key_len, g->group_id, item->topic, item->partition);
        group_record_offset_value_encode(val, value_len, &value);
        records[k] = (struct group_record){
            .key = key, .key_len = key_len, .value = val, .value_len = value_len};
        k++;
    }
    ASSERT(k == valid);
    int rc = issue_append(co, g->partition, records, valid, ctx);
    for (size_t i = 0; i < valid; i++) {
        io_free(co->io, (void *)records[i].key, records[i].key_len);
        io_free(co->io, (void *)records[i].value, records[i].value_len);
    }
    io_free(co->io, records, valid * sizeof(*records));
    if (rc < 0) {
        co->appends_inflight++;
        append_done(ctx, rc);
    }
}

static struct append_ctx *commit_ctx_new(struct group_coordinator *co, enum append_kind kind,
                                         const char *group_id, int16_t *errors, size_t count,
                                         group_commit_cb cb, void *arg) {
    struct append_ctx *ctx = io_calloc(co->io, 1, sizeof(*ctx));
    ctx->co = co;
    ctx->kind = kind;
    ctx->group_id = str_dup(co, group_id);
    ctx->commit_cb = cb;
    ctx->commit_arg = arg;
    ctx->errors = errors;
    ctx->error_count = count;
    ctx->producer_id = -1;
    return ctx;
}

void group_commit(struct group_coordinator *co, const struct group_commit_request *req,
                  group_commit_cb cb, void *arg) {
    ASSERT(co->callback_depth == 0);
    ASSERT(req != NULL && cb != NULL);
    size_t count = req->partition_count;
    int16_t *errors = count > 0 ? io_calloc(co->io, count, sizeof(*errors)) : NULL;
    int16_t error = serve_check(co, req->group_id);
    struct group *g = NULL;
    if (error == GROUP_ERR_NONE) error = commit_check(co, &g, req);
    size_t valid = commit_validate(co, error, req->partitions, count, errors);
    if (valid == 0) {
        answer_commit(co, cb, arg, errors, count);
        if (errors != NULL) io_free(co->io, errors, count * sizeof(*errors));
        return;
    }
    struct append_ctx *ctx =
        commit_ctx_new(co, APPEND_COMMIT, req->group_id, errors, count, cb, arg);
    ctx->generation = req->generation_id;
    commit_write(co, g, req->partitions, count, req->retention_ms, valid, ctx);
}

/* Kafka's doTxnCommitOffsets checks. The member and generation are checked only when the
 * producer sends them (TxnOffsetCommit v3+, KIP-447); older versions rely on the producer
 * epoch fencing done by the transaction coordinator. */
static int16_t txn_commit_check(struct group_coordinator *co, struct group **gp,
                                const struct group_txn_commit_request *req) {
    if (co->log.append_txn == NULL) return GROUP_ERR_COORDINATOR_NOT_AVAILABLE;
    if (req->producer_id < 0) return GROUP_ERR_INVALID_PRODUCER_ID_MAPPING;
    struct group *g = group_find(co, req->group_id);
    if (g == NULL) {
        g = group_create(co, req->group_id);
        if (g == NULL) return GROUP_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    *gp = g;
    const char *member_id = req->member_id == NULL ? "" : req->member_id;
    if (member_id[0] != '\0' && member_find(g, member_id) == NULL) {
        return GROUP_ERR_UNKNOWN_MEMBER_ID;
    }
    if (req->generation_id >= 0 && req->generation_id != g->generation) {
        return GROUP_ERR_ILLEGAL_GENERATION;
    }
    return GROUP_ERR_NONE;
}

void group_txn_commit(struct group_coordinator *co, const struct group_txn_commit_request *req,
                      group_commit_cb cb, void *arg) {
    ASSERT(co->callback_depth == 0);
    ASSERT(req != NULL && cb != NULL);
    size_t count = req->partition_count;
    int16_t *errors = count > 0 ? io_calloc(co->io, count, sizeof(*errors)) : NULL;
    int16_t error = serve_check(co, req->group_id);
    struct group *g = NULL;
    if (error == GROUP_ERR_NONE) error = txn_commit_check(co, &g, req);
    size_t valid = commit_validate(co, error, req->partitions, count, errors);
    if (valid == 0) {
        answer_commit(co, cb, arg, errors, count);
        if (errors != NULL) io_free(co->io, errors, count * sizeof(*errors));
        return;
    }
    struct append_ctx *ctx =
        commit_ctx_new(co, APPEND_TXN_COMMIT, req->group_id, errors, count, cb, arg);
    ctx->generation = req->generation_id;
    ctx->producer_id = req->producer_id;
    ctx->producer_epoch = req->producer_epoch;
    commit_write(co, g, req->partitions, count, -1, valid, ctx);
}

uint32_t group_coordinator_txn_complete(struct group_coordinator *co, int32_t partition,
                                        int64_t producer_id, bool commit) {
    ASSERT(co->callback_depth == 0);
    ASSERT(partition >= 0 && partition < co->config.offsets_partitions);
    uint32_t moved = 0;
    for (uint32_t i = 0; i < co->group_count; i++) {
        struct group *g = co->groups[i];
        if (g->partition != partition || g->txn_offset_count == 0) continue;
        moved += group_txn_complete(g, producer_id, commit);
    }
    io_tracef(co->io, "group_txn_complete", IO_TF_I("partition", partition),
              IO_TF_I("producer_id", producer_id), IO_TF_I("commit", commit ? 1 : 0),
              IO_TF_I("offsets", moved));
    return moved;
}

static void offset_to_public(const struct offset_entry *e, struct group_offset *out) {
    out->offset = e->offset;
    out->leader_epoch = e->leader_epoch;
    out->metadata = e->metadata;
    out->commit_timestamp_ms = e->commit_timestamp_ms;
}

int16_t group_offset_fetch(struct group_coordinator *co, const char *group_id, const char *topic,
                           int32_t partition, struct group_offset *out) {
    ASSERT(co->callback_depth == 0);
    ASSERT(out != NULL && topic != NULL);
    *out = (struct group_offset){
        .offset = -1, .leader_epoch = -1, .metadata = "", .commit_timestamp_ms = -1};
    int16_t error = serve_check(co, group_id);
    if (error != GROUP_ERR_NONE) return error;
    struct group *g = group_find(co, group_id);
    if (g == NULL) return GROUP_ERR_NONE;
    bool found = false;
    uint32_t index = offset_search(g, topic, partition, &found);
    if (found) offset_to_public(&g->offsets[index], out);
    return GROUP_ERR_NONE;
}

int16_t group_offset_fetch_all(struct group_coordinator *co, const char *group_id,
                               group_offset_visit_cb cb, void *arg) {
    ASSERT(co->callback_depth == 0);
    int16_t error = serve_check(co, group_id);
    if (error != GROUP_ERR_NONE) return error;
    struct group *g = group_find(co, group_id);
    if (g == NULL) return GROUP_ERR_NONE;
    co->callback_depth++;
    for (uint32_t i = 0; i < g->offset_count; i++) {
        struct group_offset out;
        offset_to_public(&g->offsets[i], &out);
        cb(arg, g->offsets[i].topic, g->offsets[i].partition, &out);
    }
    co->callback_depth--;
    return GROUP_ERR_NONE;
}

/* --- ListGroups, DescribeGroups ------------------------------------------------------- */

int16_t group_list(struct group_coordinator *co, group_list_cb cb, void *arg) {
    ASSERT(co->callback_depth == 0);
    for (int32_t p = 0; p < co->config.offsets_partitions; p++) {
        if (co->partition_states[p] == PARTITION_LOADING) {
            return GROUP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
        }
    }
    co->callback_depth++;
    for (uint32_t i = 0; i < co->group_count; i++) {
        const struct group *g = co->groups[i];
        if (co->partition_states[g->partition] != PARTITION_OWNED) continue;
        cb(arg, g->group_id, g->protocol_type == NULL ? "" : g->protocol_type, g->state);
    }
    co->callback_depth--;
    return GROUP_ERR_NONE;
}

void group_describe(struct group_coordinator *co, const char *group_id, group_describe_cb cb,
                    void *arg) {
    ASSERT(co->callback_depth == 0);
    struct group_description d = {.error_code = serve_check(co, group_id),
                                  .group_id = group_id == NULL ? "" : group_id,
                                  .state = "Dead",
                                  .protocol_type = "",
                                  .protocol = "",
                                  .members = NULL,
                                  .member_count = 0};
    struct group *g = d.error_code == GROUP_ERR_NONE ? group_find(co, group_id) : NULL;
    struct group_description_member *list = NULL;
    if (g != NULL) {
        bool stable = g->state == GROUP_STABLE;
        d.state = group_state_name(g->state);
        d.protocol_type = g->protocol_type == NULL ? "" : g->protocol_type;
        d.protocol = stable ? g->protocol : "";
        d.member_count = g->member_count;
        if (g->member_count > 0) list = io_calloc(co->io, g->member_count, sizeof(*list));
        for (uint32_t i = 0; i < g->member_count; i++) {
            const struct member *m = g->members[i];
            const struct member_protocol *p = stable ? member_protocol_find(m, g->protocol) : NULL;
            list[i] = (struct group_description_member){
                .member_id = m->member_id,
                .group_instance_id = NULL,
                .client_id = m->client_id,
                .client_host = m->client_host,
                .metadata = p == NULL ? NULL : p->metadata,
                .metadata_len = p == NULL ? 0 : p->metadata_len,
                .assignment = stable ? m->assignment : NULL,
                .assignment_len = stable ? m->assignment_len : 0,
            };
        }
        d.members = list;
    }
    co->callback_depth++;
    cb(arg, &d);
    co->callback_depth--;
    if (list != NULL) io_free(co->io, list, d.member_count * sizeof(*list));
}

/* --- Retention ------------------------------------------------------------------------ */

/* KIP-211: when does this offset expire? Only in an Empty group (counting from when it
 * became Empty, or from the commit if that is later) or in a group without a protocol type
 * (counting from the commit). An explicit expire timestamp (OffsetCommit v2-4 retention)
 * replaces the computation. Members of a live group never lose their offsets. */
static bool offset_expired(const struct group *g, const struct offset_entry *e, int64_t now_ms) {
    bool offset_only = g->protocol_type == NULL || g->protocol_type[0] == '\0';
    if (g->state != GROUP_EMPTY && !offset_only) return false;
    if (e->expire_timestamp_ms >= 0) return now_ms >= e->expire_timestamp_ms;
    int64_t base_ms = e->commit_timestamp_ms;
    if (!offset_only && g->state_timestamp_ms >= 0) base_ms = MAX(base_ms, g->state_timestamp_ms);
    return now_ms - base_ms >= g->co->config.offsets_retention_ms;
}

static uint32_t group_expire_offsets(struct group *g, int64_t now_ms, bool *dead) {
    struct group_coordinator *co = g->co;
    *dead = false;
    uint32_t expired = 0;
    for (uint32_t i = 0; i < g->offset_count; i++) {
        if (offset_expired(g, &g->offsets[i], now_ms)) expired++;
    }
    bool becomes_dead = g->state == GROUP_EMPTY && g->offset_count == expired &&
                        g->pending_count == 0 && g->txn_offset_count == 0;
    if (expired == 0 && !becomes_dead) return 0;
    size_t record_count = expired + (becomes_dead ? 1 : 0);
    struct group_record *records = io_calloc(co->io, record_count, sizeof(*records));
    size_t k = 0;
    for (uint32_t i = g->offset_count; i > 0; i--) {
        struct offset_entry *e = &g->offsets[i - 1];
        if (!offset_expired(g, e, now_ms)) continue;
        size_t key_len = group_record_offset_key_size(g->group_id, e->topic);
        uint8_t *key = io_alloc(co->io, key_len);
        group_record_offset_key_encode(key, key_len, g->group_id, e->topic, e->partition);
        records[k++] = (struct group_record){.key = key, .key_len = key_len};
        io_tracef(co->io, "group_offset_expired", IO_TF_S("group", g->group_id),
                  IO_TF_S("topic", e->topic), IO_TF_I("partition", e->partition));
        offset_remove_at(g, i - 1);
    }
    if (becomes_dead) {
        size_t key_len = group_record_group_key_size(g->group_id);
        uint8_t *key = io_alloc(co->io, key_len);
        group_record_group_key_encode(key, key_len, g->group_id);
        records[k++] = (struct group_record){.key = key, .key_len = key_len};
    }
    ASSERT(k == record_count);
    struct append_ctx *ctx = io_calloc(co->io, 1, sizeof(*ctx));
    ctx->co = co;
    ctx->kind = APPEND_BACKGROUND;
    ctx->group_id = str_dup(co, g->group_id);
    int rc = issue_append(co, g->partition, records, record_count, ctx);
    for (size_t i = 0; i < record_count; i++) {
        io_free(co->io, (void *)records[i].key, records[i].key_len);
    }
    io_free(co->io, records, record_count * sizeof(*records));
    if (rc < 0) {
        co->appends_inflight++;
        append_done(ctx, rc);
    }
    if (becomes_dead) {
        group_transition(g, GROUP_DEAD);
        *dead = true;
    }
    return expired;
}

uint32_t group_coordinator_expire_offsets(struct group_coordinator *co) {
    ASSERT(co->callback_depth == 0);
    int64_t now_ms = io_wall_ms(co->io);
    uint32_t expired = 0;
    for (uint32_t i = co->group_count; i > 0; i--) {
        struct group *g = co->groups[i - 1];
        if (co->partition_states[g->partition] != PARTITION_OWNED) continue;
        bool dead = false;
        expired += group_expire_offsets(g, now_ms, &dead);
        if (dead) group_destroy(g);
    }
    return expired;
}

static void retention_timer_fired(void *arg) {
    struct group_coordinator *co = arg;
    co->retention_timer = 0;
    group_coordinator_expire_offsets(co);
    co->retention_timer = io_timer_start(
        co->io, deadline_after_ms(co, (int64_t)co->config.retention_check_interval_ms),
        retention_timer_fired, co);
}

/* --- Lifecycle, loading --------------------------------------------------------------- */

struct group_coordinator *group_coordinator_create(struct io *io, const struct group_config *config,
                                                   const struct group_log *log) {
    ASSERT(io != NULL && config != NULL && log != NULL && log->append != NULL);
    ASSERT(config->offsets_partitions > 0);
    ASSERT(config->min_session_timeout_ms <= config->max_session_timeout_ms);
    ASSERT(config->group_members_max > 0 && config->groups_max > 0);
    ASSERT(config->retention_check_interval_ms > 0);
    struct group_coordinator *co = io_calloc(io, 1, sizeof(*co));
    co->io = io;
    co->config = *config;
    co->log = *log;
    co->partition_states = io_calloc(io, (size_t)config->offsets_partitions, 1);
    co->retention_timer =
        io_timer_start(io, deadline_after_ms(co, (int64_t)config->retention_check_interval_ms),
                       retention_timer_fired, co);
    return co;
}

uint32_t group_coordinator_appends(const struct group_coordinator *co) {
    return co->appends_inflight;
}

int32_t group_coordinator_partition_for(const struct group_coordinator *co, const char *group_id) {
    return group_record_partition_for(group_id, co->config.offsets_partitions);
}

void group_coordinator_load_begin(struct group_coordinator *co, int32_t partition) {
    ASSERT(co->callback_depth == 0);
    ASSERT(partition >= 0 && partition < co->config.offsets_partitions);
    ASSERT(co->partition_states[partition] == PARTITION_NOT_OWNED);
    co->partition_states[partition] = PARTITION_LOADING;
}

static int replay_group_value(struct group_coordinator *co, struct group *g, const uint8_t *value,
                              size_t value_len) {
    struct group_metadata_value v;
    int rc = group_record_group_value_decode(value, value_len, &v);
    if (rc < 0) return rc;
    if ((uint32_t)v.member_count > co->config.group_members_max) return -ENOSPC;
    /* Members need a chosen protocol to belong to; refuse before changing anything. */
    if (v.member_count > 0 && v.protocol.len < 0) return -EINVAL;
    for (uint32_t i = 0; i < g->member_count; i++)
        member_free(co, g->members[i]);
    g->member_count = 0;
    g->leader = NULL;
    g->generation = v.generation;
    str_free(co, g->protocol_type);
    g->protocol_type = str_dup_n(co, v.protocol_type);
    str_free(co, g->protocol);
    g->protocol = v.member_count > 0 ? str_dup_n(co, v.protocol) : NULL;
    ASSERT(v.member_count == 0 || g->protocol != NULL);
    g->state_timestamp_ms = v.current_state_timestamp_ms;
    size_t pos = 0;
    struct group_member_value mv;
    array_reserve(co, (void **)&g->members, &g->member_cap, sizeof(*g->members),
                  (uint32_t)v.member_count);
    while (group_record_member_next(&v, &pos, &mv) == 0) {
        struct member *m = io_calloc(co->io, 1, sizeof(*m));
        m->group = g;
        m->member_id = str_dup_n(co, mv.member_id);
        m->client_id = str_dup_n(co, mv.client_id);
        m->client_host = str_dup_n(co, mv.client_host);
        m->session_timeout_ms = mv.session_timeout_ms;
        m->rebalance_timeout_ms = mv.rebalance_timeout_ms;
        /* Like Kafka, a loaded member supports exactly the protocol that was chosen. */
        struct group_protocol proto = {.name = g->protocol,
                                       .metadata = mv.subscription,
                                       .metadata_len = (size_t)mv.subscription_len};
        member_set_protocols(co, m, &proto, 1);
        member_set_assignment(co, m, mv.assignment, (size_t)mv.assignment_len);
        g->members[g->member_count++] = m;
        if (group_str_eq(v.leader, m->member_id)) g->leader = m;
    }
    if (g->member_count > 0 && g->leader == NULL) g->leader = g->members[0];
    g->state = g->member_count > 0 ? GROUP_STABLE : GROUP_EMPTY;
    return 0;
}

int group_coordinator_replay(struct group_coordinator *co, int32_t partition, const uint8_t *key,
                             size_t key_len, const uint8_t *value, size_t value_len) {
    ASSERT(co->callback_depth == 0);
    ASSERT(partition >= 0 && partition < co->config.offsets_partitions);
    ASSERT(co->partition_states[partition] == PARTITION_LOADING);
    struct group_record_key k;
    int rc = group_record_key_decode(key, key_len, &k);
    if (rc < 0) return rc;
    char *group_id = str_dup_n(co, k.group);
    if (group_id[0] == '\0' ||
        group_record_partition_for(group_id, co->config.offsets_partitions) != partition) {
        str_free(co, group_id);
        return -EINVAL;
    }
    struct group *g = group_find(co, group_id);
    if (k.version == GROUP_RECORD_KEY_GROUP) {
        if (value == NULL) {
            /* Tombstone: the group's membership is gone. Offsets committed after the
             * group died, if any, keep an Empty offsets-only group alive. */
            if (g != NULL) {
                if (g->offset_count == 0 && g->txn_offset_count == 0) {
                    group_destroy(g);
                } else {
                    for (uint32_t i = 0; i < g->member_count; i++)
                        member_free(co, g->members[i]);
                    g->member_count = 0;
                    g->leader = NULL;
                    g->state = GROUP_EMPTY;
                    g->generation = 0;
                    group_set_protocol(g, NULL);
                    group_set_protocol_type(g, NULL);
                }
            }
            str_free(co, group_id);
            return 0;
        }
        if (g == NULL) g = group_create(co, group_id);
        str_free(co, group_id);
        if (g == NULL) return -ENOSPC;
        return replay_group_value(co, g, value, value_len);
    }

    char *topic = str_dup_n(co, k.topic);
    rc = 0;
    if (value == NULL) {
        if (g != NULL) {
            bool found = false;
            uint32_t index = offset_search(g, topic, k.partition, &found);
            if (found) offset_remove_at(g, index);
        }
    } else {
        struct group_offset_value v;
        rc = group_record_offset_value_decode(value, value_len, &v);
        if (rc == 0 && g == NULL) {
            g = group_create(co, group_id);
            if (g == NULL) rc = -ENOSPC;
        }
        if (rc == 0) {
            char *metadata = str_dup_n(co, v.metadata);
            if (!offset_upsert(g, topic, k.partition, v.offset, v.leader_epoch, metadata,
                               v.commit_timestamp_ms, v.expire_timestamp_ms, co->order_next++)) {
                rc = -ENOSPC;
            }
            str_free(co, metadata);
        }
    }
    str_free(co, topic);
    str_free(co, group_id);
    return rc;
}

int group_coordinator_replay_txn(struct group_coordinator *co, int32_t partition,
                                 int64_t producer_id, const uint8_t *key, size_t key_len,
                                 const uint8_t *value, size_t value_len) {
    ASSERT(co->callback_depth == 0);
    ASSERT(partition >= 0 && partition < co->config.offsets_partitions);
    ASSERT(co->partition_states[partition] == PARTITION_LOADING);
    struct group_record_key k;
    int rc = group_record_key_decode(key, key_len, &k);
    if (rc < 0) return rc;
    if (k.version == GROUP_RECORD_KEY_GROUP || value == NULL || producer_id < 0) return -EINVAL;
    struct group_offset_value v;
    rc = group_record_offset_value_decode(value, value_len, &v);
    if (rc < 0) return rc;
    char *group_id = str_dup_n(co, k.group);
    if (group_id[0] == '\0' ||
        group_record_partition_for(group_id, co->config.offsets_partitions) != partition) {
        str_free(co, group_id);
        return -EINVAL;
    }
    struct group *g = group_find(co, group_id);
    if (g == NULL) g = group_create(co, group_id);
    str_free(co, group_id);
    if (g == NULL) return -ENOSPC;
    char *topic = str_dup_n(co, k.topic);
    char *metadata = str_dup_n(co, v.metadata);
    bool ok = txn_offset_upsert(g, producer_id, topic, k.partition, v.offset, v.leader_epoch,
                                metadata, v.commit_timestamp_ms, co->order_next++);
    str_free(co, topic);
    str_free(co, metadata);
    return ok ? 0 : -ENOSPC;
}

void group_coordinator_load_end(struct group_coordinator *co, int32_t partition) {
    ASSERT(co->callback_depth == 0);
    ASSERT(partition >= 0 && partition < co->config.offsets_partitions);
    ASSERT(co->partition_states[partition] == PARTITION_LOADING);
    co->partition_states[partition] = PARTITION_OWNED;
    for (uint32_t i = 0; i < co->group_count; i++) {
        struct group *g = co->groups[i];
        if (g->partition != partition) continue;
        trace_state(g);
        for (uint32_t j = 0; j < g->member_count; j++)
            member_renew_session(g->members[j]);
    }
}

void group_coordinator_unload(struct group_coordinator *co, int32_t partition) {
    ASSERT(co->callback_depth == 0);
    ASSERT(partition >= 0 && partition < co->config.offsets_partitions);
    for (uint32_t i = co->group_count; i > 0; i--) {
        struct group *g = co->groups[i - 1];
        if (g->partition != partition) continue;
        for (uint32_t j = 0; j < g->member_count; j++) {
            member_answer_join_error(co, g->members[j], GROUP_ERR_NOT_COORDINATOR);
            member_answer_sync(co, g->members[j], GROUP_ERR_NOT_COORDINATOR);
        }
        group_destroy(g);
    }
    co->partition_states[partition] = PARTITION_NOT_OWNED;
}

void group_coordinator_destroy(struct group_coordinator *co) {
    ASSERT(co->callback_depth == 0);
    ASSERT(co->appends_inflight == 0);
    for (int32_t p = 0; p < co->config.offsets_partitions; p++) {
        group_coordinator_unload(co, p);
    }
    ASSERT(co->group_count == 0);
    io_timer_cancel(co->io, co->retention_timer);
    array_free(co, co->groups, co->group_cap, sizeof(*co->groups));
    io_free(co->io, co->partition_states, (size_t)co->config.offsets_partitions);
    io_free(co->io, co, sizeof(*co));
}

/* --- Dump ----------------------------------------------------------------------------- */

struct dump_buf {
    char *buf;
    size_t cap;
    size_t len; /* What the whole dump needs, even past cap. */
};

__attribute__((format(printf, 2, 3))) static void dump_printf(struct dump_buf *d, const char *fmt,
                                                              ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = d->len < d->cap ? d->cap - d->len : 0;
    int n = vsnprintf(room > 0 ? d->buf + d->len : NULL, room, fmt, ap);
    va_end(ap);
    ASSERT(n >= 0);
    d->len += (size_t)n;
}

/* FNV-1a: a short, stable fingerprint of byte fields for the dump. */
static uint32_t fingerprint(const uint8_t *p, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

size_t group_coordinator_dump(struct group_coordinator *co, char *buf, size_t cap) {
    struct dump_buf d = {.buf = buf, .cap = cap, .len = 0};
    if (cap > 0) buf[0] = '\0';
    for (uint32_t i = 0; i < co->group_count; i++) {
        const struct group *g = co->groups[i];
        if (co->partition_states[g->partition] != PARTITION_OWNED) continue;
        dump_printf(&d, "group %s p=%d state=%s gen=%d type=%s proto=%s leader=%s", g->group_id,
                    g->partition, group_state_name(g->state), g->generation,
                    g->protocol_type == NULL ? "-" : g->protocol_type,
                    g->protocol == NULL ? "-" : g->protocol,
                    g->leader == NULL ? "-" : g->leader->member_id);
        /* The state timestamp matters (for retention) only for an Empty group that had
         * members; offsets-only groups count from each commit. */
        if (g->state == GROUP_EMPTY && g->protocol_type != NULL) {
            dump_printf(&d, " since=%" PRId64, g->state_timestamp_ms);
        }
        dump_printf(&d, "\n");
        for (uint32_t j = 0; j < g->member_count; j++) {
            const struct member *m = g->members[j];
            const struct member_protocol *p =
                g->protocol == NULL ? NULL : member_protocol_find(m, g->protocol);
            dump_printf(&d,
                        "  member %s client=%s host=%s session=%d rebalance=%d sub=%zu:%08x "
                        "asg=%zu:%08x\n",
                        m->member_id, m->client_id, m->client_host, m->session_timeout_ms,
                        m->rebalance_timeout_ms, p == NULL ? 0 : p->metadata_len,
                        p == NULL ? 0 : fingerprint(p->metadata, p->metadata_len),
                        m->assignment_len, fingerprint(m->assignment, m->assignment_len));
        }
        for (uint32_t j = 0; j < g->offset_count; j++) {
            const struct offset_entry *e = &g->offsets[j];
            dump_printf(&d,
                        "  offset %s/%d=%" PRId64 " epoch=%d meta=%s at=%" PRId64 " expire=%" PRId64
                        "\n",
                        e->topic, e->partition, e->offset, e->leader_epoch, e->metadata,
                        e->commit_timestamp_ms, e->expire_timestamp_ms);
        }
        for (uint32_t j = 0; j < g->txn_offset_count; j++) {
            const struct offset_entry *e = &g->txn_offsets[j];
            dump_printf(
                &d, "  pending pid=%" PRId64 " %s/%d=%" PRId64 " epoch=%d meta=%s at=%" PRId64 "\n",
                e->producer_id, e->topic, e->partition, e->offset, e->leader_epoch, e->metadata,
                e->commit_timestamp_ms);
        }
    }
    if (cap > 0 && d.len >= cap) buf[cap - 1] = '\0';
    return d.len;
}
