/*
 * raft.c — the metadata quorum's Raft (KIP-595 style) over a system/log log (see raft.h and
 * docs/REPLICATION.md, "The metadata quorum").
 *
 * Shape. One voter is in one of four roles: UNATTACHED (an epoch, maybe a vote cast in it,
 * no known leader), CANDIDATE, LEADER or FOLLOWER (of a known leader in the current epoch).
 * Everything that acts runs from two io timers: a periodic tick (elections, retries,
 * request timeouts, check-quorum, long-poll deadlines) and a zero-delay "kick" armed when
 * something changed (a request arrived, a response came back, a record was appended). So
 * no owner callback (respond, on_commit, on_become_leader, on_resign) ever runs from inside
 * the raft_* call that caused it, and every decision happens in the node's event order,
 * which the simulation replays bit for bit.
 *
 * Durability. Every append (the leader's own and a follower's) is flushed (fsync) before
 * it counts: the leader's log end offset and a follower's fetch offset only ever name
 * synced data. `quorum-state` (epoch, vote, leader) is rewritten atomically (tmp file,
 * sync, rename) before a vote is granted or a new epoch is acted on.
 *
 * Replication is pull. A follower entering an epoch first asks the leader
 * OffsetForLeaderEpoch for its own last epoch and truncates to min(answer, its end offset
 * for the answered epoch) (KIP-101/279), then loops on Fetch (replica_id = its id,
 * current_leader_epoch = the epoch, long-polling up to half the fetch timeout). The leader
 * takes each voter's fetch offset as that voter's log end, and its high watermark is the
 * majority-th largest end offset among voters (its own LEO included) once that offset
 * covers its own leader-change record: Raft's rule that only entries of the current epoch
 * are committed by counting. Observers (non-voters) get records up to the HW only.
 *
 * The leader-change record is a control batch (attributes CONTROL) with one record whose
 * key is Kafka's control key (version 0, type 2 = LEADER_CHANGE) and whose value is our own
 * encoding: int16 version 0, int32 leader id, int32 epoch (big-endian).
 *
 * Elections. A follower that has not heard from its leader for the fetch timeout waits a
 * random moment (so two followers of one dead leader rarely split the vote) and stands:
 * epoch + 1, its own vote, Vote to every voter; a candidate that neither wins nor hears of
 * a leader tries again after a random [election timeout, 2 x election timeout). A voter
 * grants one vote per epoch, to a candidate whose log (last epoch, end offset) is at least
 * as up to date, and - Raft thesis 4.2.3 - none at all while it hears a live leader: a
 * voter cut off from the leader alone cannot unseat it. A leader that has not been
 * fetched from by a majority for the fetch timeout resigns (check-quorum), so a leader cut
 * off in a minority stops acting as one.
 *
 * One outgoing request per peer at a time over that peer's client.c connection; a request
 * unanswered after controller.quorum.request.timeout.ms drops the connection (the
 * simulated network stalls rather than fails across a partition). A failed client is
 * replaced from a timer, never from inside its own callback.
 */
#include "controller/raft.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "client/client.h"
#include "log/batch.h"
#include "log/checkpoint.h"
#include "log/log.h"
#include "proto/proto.h"

#define RAFT_PENDING_MAX 256              /* Requests waiting for an answer (parked Fetches). */
#define RAFT_OBSERVERS_MAX 64             /* Observers the leader remembers for DescribeQuorum. */
#define RAFT_FETCH_BYTES_MAX (1u << 20)   /* Records in one Fetch answer or on_commit call. */
#define RAFT_APPEND_RECORDS_MAX 8192      /* Records in one raft_append batch. */
#define RAFT_APPEND_BYTES_MAX (16u << 20) /* Bytes of one raft_append batch. */
#define RAFT_STATE_FILE "quorum-state"
#define RAFT_STATE_BYTES_MAX 256
#define RAFT_PATH_MAX 600
#define RAFT_CONTROL_LEADER_CHANGE 2      /* Kafka's ControlRecordType LEADER_CHANGE. */
#define RAFT_FETCH_VERSION 11
#define RAFT_OFLE_VERSION 3

/* Kafka error codes used here. */
#define KERR_NONE 0
#define KERR_OFFSET_OUT_OF_RANGE 1
#define KERR_UNKNOWN_TOPIC_OR_PARTITION 3
#define KERR_NOT_LEADER_OR_FOLLOWER 6
#define KERR_INVALID_REQUEST 42
#define KERR_FENCED_LEADER_EPOCH 74
#define KERR_UNKNOWN_LEADER_EPOCH 75
#define KERR_INCONSISTENT_VOTER_SET 76

enum raft_role { RAFT_UNATTACHED = 0, RAFT_CANDIDATE, RAFT_LEADER, RAFT_FOLLOWER };

enum raft_req { REQ_NONE = 0, REQ_VOTE, REQ_BEGIN, REQ_END, REQ_OFLE, REQ_FETCH };

struct raft;

struct raft_peer {
    struct raft *raft;
    int32_t id;
    char host[BROKER_CONFIG_HOST_MAX];
    uint16_t port;
    bool self;
    struct client *client;
    bool broken;           /* The client failed: replace it before the next send. */
    bool destroying;       /* Inside client_destroy: its -ECANCELED callbacks are ignored. */
    enum raft_req inflight;
    int32_t inflight_epoch; /* The epoch the in-flight request was sent in. */
    uint64_t sent_ns;
    uint64_t retry_at_ns;   /* No new request before this (backoff after a failure). */
    /* Candidate state. */
    bool vote_answered;
    bool vote_granted;
    /* Leader state. */
    bool begin_acked;
    int64_t end_offset;     /* Fetch offset = its synced log end; -1 unknown. */
    uint64_t last_fetch_ns; /* For check-quorum. */
};

/* An incoming request waiting for its answer (every answer is sent from a timer). */
struct raft_pending {
    bool used;
    int16_t api_key;
    int16_t version;
    raft_respond_fn respond;
    void *respond_arg;
    uint64_t seq;          /* Arrival order: answers go out oldest first. */
    uint64_t deadline_ns;  /* Fetch long-poll end. */
    int16_t error;         /* Precomputed error (also Vote/Begin/End answers). */
    int32_t leader_id;     /* Vote/Begin/End answers. */
    int32_t leader_epoch;
    bool granted;
    int32_t replica_id;    /* Fetch. */
    int64_t fetch_offset;
    int32_t max_bytes;
    int64_t hw_at_arrival; /* A parked Fetch is answered once the HW moves past this. */
    int32_t current_leader_epoch; /* Fetch / OffsetForLeaderEpoch. */
    int32_t requested_epoch;      /* OffsetForLeaderEpoch. */
};

struct raft {
    struct io *io;
    struct raft_callbacks cb;
    char dir[RAFT_PATH_MAX];        /* <dir>/__cluster_metadata-0 */
    char state_path[RAFT_PATH_MAX];
    struct log *log;

    int32_t node_id;
    struct raft_peer peers[BROKER_CONFIG_VOTERS_MAX];
    uint32_t voter_count;
    uint32_t majority;

    uint64_t election_timeout_ns;
    uint64_t fetch_timeout_ns;
    uint64_t request_timeout_ns;
    uint64_t backoff_max_ns;
    uint64_t tick_ns;
    uint64_t retry_backoff_ns;

    enum raft_role role;
    int32_t epoch;
    int32_t voted_for;
    int32_t leader_id;
    uint64_t election_deadline_ns;
    uint64_t leader_contact_ns; /* Follower: last time the leader was heard from. */

    /* Leader. */
    int64_t epoch_start_offset; /* Offset of this epoch's leader-change record. */
    uint64_t leader_since_ns;
    bool ready;                 /* on_become_leader delivered for this epoch. */

    /* Follower. */
    bool need_divergence;       /* OffsetForLeaderEpoch before fetching in this epoch. */
    int32_t ofle_epoch;         /* The last epoch our in-flight OffsetForLeaderEpoch asked. */

    /* Commit. */
    int64_t high_watermark;
    int64_t applied;            /* Next offset to hand to on_commit. */
    int32_t resign_epoch;       /* on_resign(resign_epoch) is due when >= 0. */

    /* Leader: observers (non-voters fetching with their id), for DescribeQuorum. */
    struct raft_observer {
        int32_t id;
        int64_t end_offset; /* Its last fetch offset. */
        uint64_t last_fetch_ns;
    } observers[RAFT_OBSERVERS_MAX];
    uint32_t observer_count;

    struct raft_pending pending[RAFT_PENDING_MAX];
    uint64_t pending_seq;

    io_timer_id tick_timer;
    io_timer_id kick_timer;
    bool stopping;
    bool delivering;            /* Inside deliver(): an owner callback may re-enter. */
};

/* --- Small helpers ---------------------------------------------------------------------- */

static uint64_t now_ns(struct raft *raft) { return io_now_ns(raft->io); }

static int64_t log_end(const struct raft *raft) { return log_end_offset(raft->log); }

static int32_t last_log_epoch(const struct raft *raft) {
    return log_epoch_cache_latest(&raft->log->epochs);
}

static struct raft_peer *peer_find(struct raft *raft, int32_t id) {
    for (uint32_t i = 0; i < raft->voter_count; i++) {
        if (raft->peers[i].id == id) return &raft->peers[i];
    }
    return NULL;
}

static bool is_voter(struct raft *raft, int32_t id) { return peer_find(raft, id) != NULL; }

/* Uniform in [lo, lo + span) from the node's entropy (seeded in the simulation). */
static uint64_t random_in(struct raft *raft, uint64_t lo, uint64_t span) {
    if (span == 0) return lo;
    return lo + io_random_u64(raft->io) % span;
}

static void kick(struct raft *raft);

static void reset_election_timer(struct raft *raft) {
    raft->election_deadline_ns =
        now_ns(raft) + random_in(raft, raft->election_timeout_ns, raft->election_timeout_ns);
}

/* The leader of our epoch was heard from: it is alive for another fetch timeout. */
static void leader_heard(struct raft *raft) {
    uint64_t now = now_ns(raft);
    raft->leader_contact_ns = now;
    raft->election_deadline_ns = now + raft->fetch_timeout_ns;
}

/* --- quorum-state ---------------------------------------------------------------------- */

static int state_write(struct raft *raft) {
    char text[RAFT_STATE_BYTES_MAX];
    int n = snprintf(text, sizeof(text), "epoch=%d\nvoted_for=%d\nleader=%d\n", raft->epoch,
                     raft->voted_for, raft->leader_id);
    ASSERT(n > 0 && (size_t)n < sizeof(text));
    int rc = log_checkpoint_write_text(raft->io, raft->state_path, text, (size_t)n);
    if (rc < 0) io_log(raft->io, IO_LOG_ERROR, "raft: writing %s failed: %d", raft->state_path, rc);
    return rc;
}

/* Reads "key=value" lines; a missing file is a fresh voter (epoch 0, no vote, no leader). */
static int state_read(struct raft *raft) {
    raft->epoch = 0;
    raft->voted_for = -1;
    raft->leader_id = -1;
    struct io_file *f = NULL;
    int rc = io_file_open(raft->io, raft->state_path, IO_OPEN_READ, &f);
    if (rc == -ENOENT) return 0;
    if (rc < 0) return rc;
    char text[RAFT_STATE_BYTES_MAX];
    int64_t got = io_file_pread(raft->io, f, text, sizeof(text) - 1, 0);
    io_file_close(raft->io, f);
    if (got < 0) return (int)got;
    text[got] = '\0';
    const char *p = text;
    while (*p != '\0') {
        int value = 0;
        char key[16];
        int used = 0;
        if (sscanf(p, "%15[a-z_]=%d\n%n", key, &value, &used) < 2 || used == 0) return -EBADMSG;
        if (strcmp(key, "epoch") == 0) raft->epoch = value;
        else if (strcmp(key, "voted_for") == 0) raft->voted_for = value;
        else if (strcmp(key, "leader") == 0) raft->leader_id = value;
        p += used;
    }
    if (raft->epoch < 0) return -EBADMSG;
    return 0;
}

/* --- Peers and outgoing requests ------------------------------------------------------- */

static void peer_drop_client(struct raft_peer *peer) {
    if (peer->client != NULL) {
        peer->destroying = true;
        client_destroy(peer->client);
        peer->destroying = false;
        peer->client = NULL;
    }
    peer->broken = false;
    peer->inflight = REQ_NONE;
}

static void on_peer_response(void *arg, int status, const void *body);

/* Sends one request to `peer` (never called from inside that peer's client callbacks when
 * the client must be replaced: only from drive()). */
static void peer_send(struct raft *raft, struct raft_peer *peer, enum raft_req kind,
                      int16_t api_key, int16_t version, const void *body) {
    ASSERT(!peer->self && peer->inflight == REQ_NONE);
    if (peer->broken) peer_drop_client(peer);
    if (peer->client == NULL) {
        char client_id[32];
        snprintf(client_id, sizeof(client_id), "raft-%d", raft->node_id);
        peer->client = client_create(raft->io, peer->host, peer->port, client_id);
    }
    uint64_t now = now_ns(raft);
    int rc = client_send(peer->client, api_key, version, body, on_peer_response, peer);
    if (rc < 0) {
        peer->broken = true;
        peer->retry_at_ns = now + raft->retry_backoff_ns;
        return;
    }
    peer->inflight = kind;
    peer->inflight_epoch = raft->epoch;
    peer->sent_ns = now;
}

static void send_vote(struct raft *raft, struct raft_peer *peer) {
    struct proto_vote_request_partition p = {.partition_index = 0,
                                             .candidate_epoch = raft->epoch,
                                             .candidate_id = raft->node_id,
                                             .last_offset_epoch = last_log_epoch(raft),
                                             .last_offset = log_end(raft)};
    struct proto_vote_request_topic t = {.topic_name = PROTO_STR(RAFT_TOPIC),
                                         .partitions = {.items = &p, .count = 1}};
    struct proto_vote_request req = {.cluster_id = PROTO_STR_NULL,
                                     .topics = {.items = &t, .count = 1}};
    peer_send(raft, peer, REQ_VOTE, PROTO_API_VOTE, 0, &req);
}

static void send_begin(struct raft *raft, struct raft_peer *peer) {
    struct proto_begin_quorum_epoch_request_partition p = {
        .partition_index = 0, .leader_id = raft->node_id, .leader_epoch = raft->epoch};
    struct proto_begin_quorum_epoch_request_topic t = {.topic_name = PROTO_STR(RAFT_TOPIC),
                                                       .partitions = {.items = &p, .count = 1}};
    struct proto_begin_quorum_epoch_request req = {.cluster_id = PROTO_STR_NULL,
                                                   .topics = {.items = &t, .count = 1}};
    peer_send(raft, peer, REQ_BEGIN, PROTO_API_BEGIN_QUORUM_EPOCH, 0, &req);
}

static void send_end(struct raft *raft, struct raft_peer *peer, int32_t epoch) {
    struct proto_end_quorum_epoch_request_partition p = {
        .partition_index = 0, .leader_id = raft->node_id, .leader_epoch = epoch,
        .preferred_successors = {.items = NULL, .count = 0}};
    struct proto_end_quorum_epoch_request_topic t = {.topic_name = PROTO_STR(RAFT_TOPIC),
                                                     .partitions = {.items = &p, .count = 1}};
    struct proto_end_quorum_epoch_request req = {.cluster_id = PROTO_STR_NULL,
                                                 .topics = {.items = &t, .count = 1}};
    peer_send(raft, peer, REQ_END, PROTO_API_END_QUORUM_EPOCH, 0, &req);
}

static void send_ofle(struct raft *raft, struct raft_peer *peer) {
    raft->ofle_epoch = last_log_epoch(raft);
    struct proto_offset_for_leader_epoch_request_partition p = {
        .partition = 0, .current_leader_epoch = raft->epoch,
        .leader_epoch = last_log_epoch(raft)};
    struct proto_offset_for_leader_epoch_request_topic t = {
        .topic = PROTO_STR(RAFT_TOPIC), .partitions = {.items = &p, .count = 1}};
    struct proto_offset_for_leader_epoch_request req = {.replica_id = raft->node_id,
                                                        .topics = {.items = &t, .count = 1}};
    peer_send(raft, peer, REQ_OFLE, PROTO_API_OFFSET_FOR_LEADER_EPOCH, RAFT_OFLE_VERSION, &req);
}

static void send_fetch(struct raft *raft, struct raft_peer *peer) {
    struct proto_fetch_request_partition p = {.partition = 0,
                                              .current_leader_epoch = raft->epoch,
                                              .fetch_offset = log_end(raft),
                                              .log_start_offset = raft->log->log_start_offset,
                                              .partition_max_bytes = RAFT_FETCH_BYTES_MAX};
    struct proto_fetch_request_topic t = {.topic = PROTO_STR(RAFT_TOPIC),
                                          .partitions = {.items = &p, .count = 1}};
    struct proto_fetch_request req = {
        .replica_id = raft->node_id,
        .max_wait_ms = (int32_t)(raft->fetch_timeout_ns / NS_PER_MS / 2),
        .min_bytes = 1,
        .max_bytes = RAFT_FETCH_BYTES_MAX,
        .isolation_level = 0,
        .session_id = 0,
        .session_epoch = -1,
        .topics = {.items = &t, .count = 1},
        .forgotten_topics_data = {.items = NULL, .count = 0},
        .rack_id = PROTO_STR("")};
    peer_send(raft, peer, REQ_FETCH, PROTO_API_FETCH, RAFT_FETCH_VERSION, &req);
}

/* --- Role transitions ------------------------------------------------------------------- */

/* Leaving the leader role: the owner hears on_resign if it was told it leads. */
static void leave_leadership(struct raft *raft) {
    if (raft->role != RAFT_LEADER) return;
    if (raft->ready) raft->resign_epoch = raft->epoch;
    raft->ready = false;
}

/*
 * Learns of `epoch` (>= ours) and, if known, its `leader`: a higher epoch clears the vote;
 * a known leader makes us its follower (divergence check first), otherwise we wait
 * unattached for an election timeout.
 */
static void observe_epoch(struct raft *raft, int32_t epoch, int32_t leader) {
    ASSERT(epoch >= raft->epoch);
    if (epoch == raft->epoch && leader == raft->leader_id &&
        (leader < 0 || raft->role == RAFT_FOLLOWER)) {
        return;
    }
    if (epoch == raft->epoch && leader < 0 && raft->leader_id >= 0) return; /* Keep what we know. */
    leave_leadership(raft);
    if (epoch > raft->epoch) raft->voted_for = -1;
    raft->epoch = epoch;
    if (leader >= 0 && leader != raft->node_id && is_voter(raft, leader)) {
        raft->role = RAFT_FOLLOWER;
        raft->leader_id = leader;
        raft->need_divergence = true;
        leader_heard(raft);
        struct raft_peer *lp = peer_find(raft, leader);
        lp->retry_at_ns = 0;
    } else {
        raft->role = RAFT_UNATTACHED;
        raft->leader_id = -1;
        reset_election_timer(raft);
    }
    (void)state_write(raft);
    kick(raft);
}

static int append_leader_change(struct raft *raft) {
    uint8_t key[4] = {0, 0, 0, RAFT_CONTROL_LEADER_CHANGE};
    uint8_t value[10];
    value[0] = 0;
    value[1] = 0;
    for (int i = 0; i < 4; i++) {
        value[2 + i] = (uint8_t)((uint32_t)raft->node_id >> (24 - 8 * i));
        value[6 + i] = (uint8_t)((uint32_t)raft->epoch >> (24 - 8 * i));
    }
    struct batch_record_in rec = {.offset_delta = 0, .timestamp = io_wall_ms(raft->io),
                                  .key = key, .key_len = 4, .value = value, .value_len = 10};
    struct batch_build_params params = {.base_offset = 0, .partition_leader_epoch = raft->epoch,
                                        .attributes = BATCH_ATTR_CONTROL, .producer_id = -1,
                                        .producer_epoch = -1, .base_sequence = -1};
    uint8_t buf[256];
    int64_t len = batch_build(buf, sizeof(buf), &params, &rec, 1);
    ASSERT(len > 0);
    struct log_append_info info;
    int64_t now_ms = io_wall_ms(raft->io);
    int rc = log_append_leader(raft->log, buf, (size_t)len, raft->epoch, now_ms, &info);
    if (rc == 0) rc = log_flush(raft->log, now_ms);
    if (rc < 0) return rc;
    raft->epoch_start_offset = info.first_offset;
    return 0;
}

static void become_leader(struct raft *raft) {
    ASSERT(raft->role == RAFT_CANDIDATE);
    raft->role = RAFT_LEADER;
    raft->leader_id = raft->node_id;
    raft->ready = false;
    uint64_t now = now_ns(raft);
    raft->leader_since_ns = now;
    raft->observer_count = 0;
    for (uint32_t i = 0; i < raft->voter_count; i++) {
        struct raft_peer *p = &raft->peers[i];
        p->begin_acked = p->self;
        p->end_offset = -1;
        p->last_fetch_ns = now;
        p->retry_at_ns = 0;
    }
    (void)state_write(raft);
    io_tracef(raft->io, "raft_leader", IO_TF_I("epoch", raft->epoch),
              IO_TF_I("node", raft->node_id));
    io_log(raft->io, IO_LOG_INFO, "raft: node %d leads epoch %d", raft->node_id, raft->epoch);
    int rc = append_leader_change(raft);
    if (rc < 0) {
        /* Without its leader-change record this leader can never commit: step aside. */
        io_log(raft->io, IO_LOG_ERROR, "raft: leader-change append failed: %d", rc);
        raft->role = RAFT_UNATTACHED;
        raft->leader_id = -1;
        reset_election_timer(raft);
        (void)state_write(raft);
    }
    kick(raft);
}

static void become_candidate(struct raft *raft) {
    leave_leadership(raft);
    raft->epoch++;
    raft->role = RAFT_CANDIDATE;
    raft->voted_for = raft->node_id;
    raft->leader_id = -1;
    if (state_write(raft) < 0) {
        /* A vote we cannot make durable is not cast: try again after a timeout. */
        raft->role = RAFT_UNATTACHED;
        reset_election_timer(raft);
        return;
    }
    io_tracef(raft->io, "raft_vote", IO_TF_I("epoch", raft->epoch),
              IO_TF_I("candidate", raft->node_id), IO_TF_I("node", raft->node_id));
    for (uint32_t i = 0; i < raft->voter_count; i++) {
        struct raft_peer *p = &raft->peers[i];
        p->vote_answered = p->self;
        p->vote_granted = p->self;
        p->retry_at_ns = 0;
    }
    /* Randomised: [election timeout, 2 x election timeout) plus a backoff so that split
     * votes do not repeat in lockstep. */
    raft->election_deadline_ns =
        now_ns(raft) + random_in(raft, raft->election_timeout_ns, raft->election_timeout_ns) +
        random_in(raft, 0, raft->backoff_max_ns / 4 + 1);
    if (raft->majority == 1) become_leader(raft);
    kick(raft);
}

static void resign(struct raft *raft, const char *why) {
    ASSERT(raft->role == RAFT_LEADER);
    io_log(raft->io, IO_LOG_WARN, "raft: node %d resigns epoch %d (%s)", raft->node_id,
           raft->epoch, why);
    int32_t epoch = raft->epoch;
    leave_leadership(raft);
    raft->role = RAFT_UNATTACHED;
    raft->leader_id = -1;
    reset_election_timer(raft);
    (void)state_write(raft);
    for (uint32_t i = 0; i < raft->voter_count; i++) {
        struct raft_peer *p = &raft->peers[i];
        if (!p->self && p->inflight == REQ_NONE) send_end(raft, p, epoch);
    }
    kick(raft);
}

/* --- Commit ----------------------------------------------------------------------------- */

/* The leader's HW: the majority-th largest end offset among voters, once it covers the
 * leader-change record of this epoch (so every counted entry is of this epoch or before a
 * record of it). Never moves back. */
static void leader_update_hw(struct raft *raft) {
    if (raft->role != RAFT_LEADER) return;
    int64_t ends[BROKER_CONFIG_VOTERS_MAX];
    for (uint32_t i = 0; i < raft->voter_count; i++) {
        ends[i] = raft->peers[i].self ? log_end(raft) : raft->peers[i].end_offset;
    }
    /* Insertion sort, descending: at most 16 entries. */
    for (uint32_t i = 1; i < raft->voter_count; i++) {
        int64_t v = ends[i];
        uint32_t j = i;
        while (j > 0 && ends[j - 1] < v) {
            ends[j] = ends[j - 1];
            j--;
        }
        ends[j] = v;
    }
    int64_t candidate = ends[raft->majority - 1];
    if (candidate > raft->epoch_start_offset && candidate > raft->high_watermark) {
        ASSERT(candidate <= log_end(raft));
        raft->high_watermark = candidate;
        kick(raft);
    }
}

/*
 * Copies the whole batches from `offset` below `limit` (up to max_bytes, at least one) into
 * a buffer of just their size: *cap bytes, freed by the caller with io_free. NULL when
 * there is nothing (rc 0) or on an error (*rc < 0).
 */
static uint8_t *read_batches(struct raft *raft, int64_t offset, size_t max_bytes, int64_t limit,
                             size_t *len, size_t *cap, int64_t *first, int *rc) {
    struct log_read_result res;
    *len = 0;
    *cap = 0;
    *rc = log_read(raft->log, offset, max_bytes, true, limit, &res);
    if (*rc < 0 || res.total_bytes == 0) return NULL;
    *cap = res.total_bytes;
    uint8_t *buf = io_alloc(raft->io, *cap);
    *rc = log_read_copy(raft->log, offset, res.total_bytes, true, limit, buf, *cap, len, first);
    if (*rc < 0) {
        io_free(raft->io, buf, *cap);
        *cap = 0;
        return NULL;
    }
    return buf;
}

/* Hands committed batches to the owner, then the leadership news. */
static void deliver(struct raft *raft) {
    if (raft->delivering) return;
    raft->delivering = true;
    while (!raft->stopping && raft->applied < raft->high_watermark) {
        size_t len = 0, cap = 0;
        int64_t first = -1;
        int rc = 0;
        uint8_t *buf = read_batches(raft, raft->applied, RAFT_FETCH_BYTES_MAX,
                                    raft->high_watermark, &len, &cap, &first, &rc);
        if (buf == NULL || len == 0) {
            io_log(raft->io, IO_LOG_ERROR, "raft: reading committed data at %lld: %d",
                   (long long)raft->applied, rc);
            if (buf != NULL) io_free(raft->io, buf, cap);
            break;
        }
        /* The next offset to deliver: one past the last whole batch read. */
        int64_t next = raft->applied;
        size_t pos = 0;
        while (len - pos >= BATCH_HEADER_BYTES) {
            struct batch_header h;
            batch_header_decode(buf + pos, len - pos, &h);
            if (batch_total_bytes(&h) > len - pos) break;
            next = batch_last_offset(&h) + 1;
            pos += batch_total_bytes(&h);
        }
        ASSERT(next > raft->applied);
        raft->applied = next;
        if (raft->cb.on_commit != NULL) {
            raft->cb.on_commit(raft->cb.arg, buf, pos, first, raft->high_watermark);
        }
        io_free(raft->io, buf, cap);
    }
    if (!raft->stopping && raft->resign_epoch >= 0) {
        int32_t e = raft->resign_epoch;
        raft->resign_epoch = -1;
        if (raft->cb.on_resign != NULL) raft->cb.on_resign(raft->cb.arg, e);
    }
    if (!raft->stopping && raft->role == RAFT_LEADER && !raft->ready &&
        raft->high_watermark > raft->epoch_start_offset && raft->applied >= raft->high_watermark) {
        raft->ready = true;
        if (raft->cb.on_become_leader != NULL) raft->cb.on_become_leader(raft->cb.arg, raft->epoch);
    }
    raft->delivering = false;
}

/* --- Responses to our requests ---------------------------------------------------------- */

static void follower_truncate(struct raft *raft, int32_t answered_epoch, int64_t end_offset) {
    int64_t target;
    if (answered_epoch < 0 || end_offset < 0) {
        target = raft->log->log_start_offset; /* The leader knows none of our epochs. */
    } else if (answered_epoch < last_log_epoch(raft)) {
        int32_t e;
        int64_t mine;
        log_end_offset_for_epoch(raft->log, answered_epoch, &e, &mine);
        target = mine < 0 ? end_offset : MIN(end_offset, mine);
    } else {
        target = end_offset;
    }
    if (target >= log_end(raft)) return;
    /* Raft never removes a committed entry: what we delivered stays. */
    ASSERT(target >= raft->applied);
    io_log(raft->io, IO_LOG_INFO, "raft: node %d truncates %lld -> %lld (epoch %d)",
           raft->node_id, (long long)log_end(raft), (long long)target, raft->epoch);
    int rc = log_truncate_to(raft->log, target);
    if (rc < 0) io_log(raft->io, IO_LOG_ERROR, "raft: truncation failed: %d", rc);
}

static void on_vote_response(struct raft *raft, struct raft_peer *peer,
                             const struct proto_vote_response *r) {
    if (r->topics.count < 1 || r->topics.items[0].partitions.count < 1) return;
    const struct proto_vote_response_partition *p = &r->topics.items[0].partitions.items[0];
    if (p->leader_epoch > raft->epoch) {
        observe_epoch(raft, p->leader_epoch, p->leader_id);
        return;
    }
    if (raft->role != RAFT_CANDIDATE || peer->inflight_epoch != raft->epoch) return;
    peer->vote_answered = true;
    peer->vote_granted = p->error_code == KERR_NONE && p->vote_granted;
    uint32_t votes = 0;
    for (uint32_t i = 0; i < raft->voter_count; i++) votes += raft->peers[i].vote_granted;
    if (votes >= raft->majority) become_leader(raft);
}

static void on_begin_response(struct raft *raft, struct raft_peer *peer,
                              const struct proto_begin_quorum_epoch_response *r) {
    if (r->topics.count < 1 || r->topics.items[0].partitions.count < 1) return;
    const struct proto_begin_quorum_epoch_response_partition *p =
        &r->topics.items[0].partitions.items[0];
    if (p->leader_epoch > raft->epoch) {
        observe_epoch(raft, p->leader_epoch, p->leader_id);
        return;
    }
    if (raft->role == RAFT_LEADER && peer->inflight_epoch == raft->epoch &&
        p->error_code == KERR_NONE) {
        peer->begin_acked = true;
    }
}

static bool following(struct raft *raft, struct raft_peer *peer) {
    return raft->role == RAFT_FOLLOWER && raft->leader_id == peer->id &&
           peer->inflight_epoch == raft->epoch;
}

static void on_ofle_response(struct raft *raft, struct raft_peer *peer,
                             const struct proto_offset_for_leader_epoch_response *r) {
    if (!following(raft, peer)) return;
    if (r->topics.count < 1 || r->topics.items[0].partitions.count < 1) return;
    const struct proto_offset_for_leader_epoch_response_partition *p =
        &r->topics.items[0].partitions.items[0];
    if (p->error_code != KERR_NONE) {
        peer->retry_at_ns = now_ns(raft) + raft->retry_backoff_ns;
        return;
    }
    follower_truncate(raft, p->leader_epoch, p->end_offset);
    /* KIP-279: when the leader answered an older epoch than we asked, our log now ends in
     * an epoch at or below that one, whose end may still differ from the leader's: ask
     * again for the new last epoch until the answer names the epoch asked (each round
     * lowers our last epoch, so this ends). */
    raft->need_divergence = p->leader_epoch >= 0 && p->end_offset >= 0 &&
                            p->leader_epoch != raft->ofle_epoch && log_end(raft) > 0 &&
                            last_log_epoch(raft) >= 0 && last_log_epoch(raft) < raft->ofle_epoch;
}

static void on_fetch_response(struct raft *raft, struct raft_peer *peer,
                              const struct proto_fetch_response *r) {
    if (!following(raft, peer)) return;
    if (r->responses.count < 1 || r->responses.items[0].partitions.count < 1) {
        peer->retry_at_ns = now_ns(raft) + raft->retry_backoff_ns;
        return;
    }
    const struct proto_fetch_response_partition *p = &r->responses.items[0].partitions.items[0];
    if (p->error_code != KERR_NONE) {
        if (p->error_code == KERR_OFFSET_OUT_OF_RANGE) raft->need_divergence = true;
        peer->retry_at_ns = now_ns(raft) + raft->retry_backoff_ns;
        return;
    }
    leader_heard(raft);
    if (p->records.len > 0) {
        int64_t now_ms = io_wall_ms(raft->io);
        struct log_append_info info;
        int rc = log_append_follower(raft->log, p->records.data, (size_t)p->records.len, now_ms,
                                     &info);
        if (rc == 0) rc = log_flush(raft->log, now_ms);
        if (rc < 0) {
            io_log(raft->io, IO_LOG_WARN, "raft: follower append failed: %d", rc);
            raft->need_divergence = true;
            peer->retry_at_ns = now_ns(raft) + raft->retry_backoff_ns;
            return;
        }
    }
    int64_t hw = MIN(p->high_watermark, log_end(raft));
    if (hw > raft->high_watermark) raft->high_watermark = hw;
}

static void on_peer_response(void *arg, int status, const void *body) {
    struct raft_peer *peer = arg;
    struct raft *raft = peer->raft;
    if (peer->destroying || raft->stopping) return;
    enum raft_req kind = peer->inflight;
    peer->inflight = REQ_NONE;
    if (status < 0) {
        peer->broken = true;
        peer->retry_at_ns = now_ns(raft) + raft->retry_backoff_ns;
        kick(raft);
        return;
    }
    switch (kind) {
    case REQ_VOTE: on_vote_response(raft, peer, body); break;
    case REQ_BEGIN: on_begin_response(raft, peer, body); break;
    case REQ_END: break;
    case REQ_OFLE: on_ofle_response(raft, peer, body); break;
    case REQ_FETCH: on_fetch_response(raft, peer, body); break;
    case REQ_NONE: UNREACHABLE();
    }
    kick(raft);
}

/* --- Answering requests ----------------------------------------------------------------- */

static void answer_vote(struct raft *raft, struct raft_pending *q) {
    struct proto_vote_response_partition p = {.partition_index = 0,
                                              .error_code = q->error,
                                              .leader_id = q->leader_id,
                                              .leader_epoch = q->leader_epoch,
                                              .vote_granted = q->granted};
    struct proto_vote_response_topic t = {.topic_name = PROTO_STR(RAFT_TOPIC),
                                          .partitions = {.items = &p, .count = 1}};
    struct proto_vote_response r = {.error_code = KERR_NONE, .topics = {.items = &t, .count = 1}};
    q->respond(q->respond_arg, q->api_key, q->version, &r);
    (void)raft;
}

static void answer_begin(struct raft *raft, struct raft_pending *q) {
    struct proto_begin_quorum_epoch_response_partition p = {
        .partition_index = 0, .error_code = q->error, .leader_id = q->leader_id,
        .leader_epoch = q->leader_epoch};
    struct proto_begin_quorum_epoch_response_topic t = {.topic_name = PROTO_STR(RAFT_TOPIC),
                                                        .partitions = {.items = &p, .count = 1}};
    struct proto_begin_quorum_epoch_response r = {.error_code = KERR_NONE,
                                                  .topics = {.items = &t, .count = 1}};
    q->respond(q->respond_arg, q->api_key, q->version, &r);
    (void)raft;
}

static void answer_end(struct raft *raft, struct raft_pending *q) {
    struct proto_end_quorum_epoch_response_partition p = {
        .partition_index = 0, .error_code = q->error, .leader_id = q->leader_id,
        .leader_epoch = q->leader_epoch};
    struct proto_end_quorum_epoch_response_topic t = {.topic_name = PROTO_STR(RAFT_TOPIC),
                                                      .partitions = {.items = &p, .count = 1}};
    struct proto_end_quorum_epoch_response r = {.error_code = KERR_NONE,
                                                .topics = {.items = &t, .count = 1}};
    q->respond(q->respond_arg, q->api_key, q->version, &r);
    (void)raft;
}

/* Remembers an observer's fetch (kept in id order; when full, the one silent longest
 * makes room, ties to the lower id: deterministic). */
static void note_observer(struct raft *raft, int32_t id, int64_t fetch_offset) {
    if (id < 0) return; /* Anonymous readers (-1) are not listed. */
    uint64_t now = now_ns(raft);
    uint32_t at = 0;
    while (at < raft->observer_count && raft->observers[at].id < id) at++;
    if (at < raft->observer_count && raft->observers[at].id == id) {
        raft->observers[at].end_offset = fetch_offset;
        raft->observers[at].last_fetch_ns = now;
        return;
    }
    if (raft->observer_count == RAFT_OBSERVERS_MAX) {
        uint32_t victim = 0;
        for (uint32_t i = 1; i < raft->observer_count; i++) {
            if (raft->observers[i].last_fetch_ns < raft->observers[victim].last_fetch_ns) {
                victim = i;
            }
        }
        memmove(&raft->observers[victim], &raft->observers[victim + 1],
                (raft->observer_count - victim - 1) * sizeof(raft->observers[0]));
        raft->observer_count--;
        if (victim < at) at--;
    }
    memmove(&raft->observers[at + 1], &raft->observers[at],
            (raft->observer_count - at) * sizeof(raft->observers[0]));
    raft->observers[at].id = id;
    raft->observers[at].end_offset = fetch_offset;
    raft->observers[at].last_fetch_ns = now;
    raft->observer_count++;
}

static void answer_describe(struct raft *raft, struct raft_pending *q) {
    struct proto_describe_quorum_replica_state voters[BROKER_CONFIG_VOTERS_MAX];
    struct proto_describe_quorum_replica_state observers[RAFT_OBSERVERS_MAX];
    bool leader = raft->role == RAFT_LEADER;
    for (uint32_t i = 0; i < raft->voter_count; i++) {
        const struct raft_peer *peer = &raft->peers[i];
        voters[i].replica_id = peer->id;
        voters[i].log_end_offset = !leader ? -1 : peer->self ? log_end(raft) : peer->end_offset;
    }
    uint32_t observer_count = leader ? raft->observer_count : 0;
    for (uint32_t i = 0; i < observer_count; i++) {
        observers[i].replica_id = raft->observers[i].id;
        observers[i].log_end_offset = raft->observers[i].end_offset;
    }
    struct proto_describe_quorum_response_partition p = {
        .partition_index = 0,
        .error_code = leader ? KERR_NONE : KERR_NOT_LEADER_OR_FOLLOWER,
        .leader_id = raft->leader_id,
        .leader_epoch = raft->epoch,
        .high_watermark = raft->high_watermark,
        .current_voters = {.items = voters, .count = (int32_t)raft->voter_count},
        .observers = {.items = observers, .count = (int32_t)observer_count}};
    struct proto_describe_quorum_response_topic t = {.topic_name = PROTO_STR(RAFT_TOPIC),
                                                     .partitions = {.items = &p, .count = 1}};
    struct proto_describe_quorum_response r = {.error_code = KERR_NONE,
                                               .topics = {.items = &t, .count = 1}};
    q->respond(q->respond_arg, q->api_key, q->version, &r);
}

/* The epoch check of Fetch and OffsetForLeaderEpoch (KIP-320): 0 or a Kafka error. */
static int16_t leader_epoch_error(struct raft *raft, int32_t current_leader_epoch) {
    if (raft->role != RAFT_LEADER) return KERR_NOT_LEADER_OR_FOLLOWER;
    if (current_leader_epoch >= 0 && current_leader_epoch < raft->epoch) {
        return KERR_FENCED_LEADER_EPOCH;
    }
    if (current_leader_epoch > raft->epoch) return KERR_UNKNOWN_LEADER_EPOCH;
    return KERR_NONE;
}

static void answer_ofle(struct raft *raft, struct raft_pending *q) {
    struct proto_offset_for_leader_epoch_response_partition p = {
        .error_code = q->error, .partition = 0, .leader_epoch = -1, .end_offset = -1};
    if (p.error_code == KERR_NONE) p.error_code = leader_epoch_error(raft, q->current_leader_epoch);
    if (p.error_code == KERR_NONE) {
        log_end_offset_for_epoch(raft->log, q->requested_epoch, &p.leader_epoch, &p.end_offset);
    }
    struct proto_offset_for_leader_epoch_response_topic t = {
        .topic = PROTO_STR(RAFT_TOPIC), .partitions = {.items = &p, .count = 1}};
    struct proto_offset_for_leader_epoch_response r = {.throttle_time_ms = 0,
                                                       .topics = {.items = &t, .count = 1}};
    q->respond(q->respond_arg, q->api_key, q->version, &r);
}

/* A Fetch counts as a voter's replication only with a voter's id AND the current epoch
 * (our followers always send it): a reader that borrows a voter's id without an epoch
 * (a combined node's broker side, say) is an observer. */
static struct raft_peer *fetching_voter(struct raft *raft, int32_t replica_id,
                                        int32_t current_leader_epoch) {
    struct raft_peer *peer = peer_find(raft, replica_id);
    if (peer == NULL || peer->self || current_leader_epoch != raft->epoch) return NULL;
    return peer;
}

/* The end a Fetch may read to: voters everything synced, observers the HW. */
static int64_t fetch_limit(struct raft *raft, const struct raft_pending *q) {
    return fetching_voter(raft, q->replica_id, q->current_leader_epoch) != NULL
               ? log_end(raft)
               : raft->high_watermark;
}

/* Answers a Fetch now if it has an error, data, news of the HW, or ran out of time.
 * Returns true if answered. */
static bool try_answer_fetch(struct raft *raft, struct raft_pending *q, uint64_t now) {
    int16_t error = q->error;
    if (error == KERR_NONE) error = leader_epoch_error(raft, q->current_leader_epoch);
    int64_t limit = error == KERR_NONE ? fetch_limit(raft, q) : 0;
    if (error == KERR_NONE &&
        (q->fetch_offset > log_end(raft) || q->fetch_offset < raft->log->log_start_offset)) {
        error = KERR_OFFSET_OUT_OF_RANGE;
    }
    bool has_data = error == KERR_NONE && q->fetch_offset < limit;
    bool news = error == KERR_NONE && raft->high_watermark > q->hw_at_arrival;
    if (error == KERR_NONE && !has_data && !news && now < q->deadline_ns) return false;

    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    if (has_data) {
        size_t max_bytes = q->max_bytes > 0 ? MIN((size_t)q->max_bytes, RAFT_FETCH_BYTES_MAX)
                                            : RAFT_FETCH_BYTES_MAX;
        int64_t first = -1;
        int rc = 0;
        buf = read_batches(raft, q->fetch_offset, max_bytes, limit, &len, &cap, &first, &rc);
        if (rc < 0) {
            len = 0;
            error = rc == -ERANGE ? KERR_OFFSET_OUT_OF_RANGE : KERR_NOT_LEADER_OR_FOLLOWER;
        }
    }
    struct proto_fetch_response_partition p = {
        .partition_index = 0,
        .error_code = error,
        .high_watermark = error == KERR_NONE ? raft->high_watermark : -1,
        .last_stable_offset = error == KERR_NONE ? raft->high_watermark : -1,
        .log_start_offset = raft->log->log_start_offset,
        .aborted_transactions = {.items = NULL, .count = 0},
        .preferred_read_replica = -1,
        .records = {.data = buf, .len = (int32_t)len}};
    struct proto_fetch_response_topic t = {.topic = PROTO_STR(RAFT_TOPIC),
                                           .partitions = {.items = &p, .count = 1}};
    struct proto_fetch_response r = {.throttle_time_ms = 0, .error_code = KERR_NONE,
                                     .session_id = 0, .responses = {.items = &t, .count = 1}};
    q->respond(q->respond_arg, q->api_key, q->version, &r);
    if (buf != NULL) io_free(raft->io, buf, cap);
    return true;
}

/* Answers what can be answered, oldest request first. */
static void answer_pending(struct raft *raft, uint64_t now) {
    for (;;) {
        struct raft_pending *next = NULL;
        for (size_t i = 0; i < RAFT_PENDING_MAX; i++) {
            struct raft_pending *q = &raft->pending[i];
            if (!q->used || q->api_key == PROTO_API_FETCH) continue;
            if (next == NULL || q->seq < next->seq) next = q;
        }
        if (next == NULL) break;
        next->used = false; /* Before respond: the owner may send another request at once. */
        struct raft_pending q = *next;
        switch (q.api_key) {
        case PROTO_API_VOTE: answer_vote(raft, &q); break;
        case PROTO_API_BEGIN_QUORUM_EPOCH: answer_begin(raft, &q); break;
        case PROTO_API_END_QUORUM_EPOCH: answer_end(raft, &q); break;
        case PROTO_API_DESCRIBE_QUORUM: answer_describe(raft, &q); break;
        case PROTO_API_OFFSET_FOR_LEADER_EPOCH: answer_ofle(raft, &q); break;
        default: UNREACHABLE();
        }
        if (raft->stopping) return;
    }
    /* Fetches in arrival order (index order is not arrival order once slots are reused). */
    uint64_t done_below = 0;
    for (;;) {
        struct raft_pending *next = NULL;
        for (size_t i = 0; i < RAFT_PENDING_MAX; i++) {
            struct raft_pending *q = &raft->pending[i];
            if (!q->used || q->api_key != PROTO_API_FETCH || q->seq < done_below) continue;
            if (next == NULL || q->seq < next->seq) next = q;
        }
        if (next == NULL) break;
        done_below = next->seq + 1;
        struct raft_pending q = *next;
        next->used = false;
        if (!try_answer_fetch(raft, &q, now)) *next = q; /* Still parked. */
        if (raft->stopping) return;
    }
}

/* --- The driver ------------------------------------------------------------------------- */

static void drive(struct raft *raft) {
    if (raft->stopping) return;
    uint64_t now = now_ns(raft);

    /* Requests the network swallowed: drop the connection, retry later. */
    for (uint32_t i = 0; i < raft->voter_count; i++) {
        struct raft_peer *p = &raft->peers[i];
        if (p->inflight != REQ_NONE && now - p->sent_ns >= raft->request_timeout_ns) {
            peer_drop_client(p);
            p->retry_at_ns = now;
        }
    }

    switch (raft->role) {
    case RAFT_LEADER: {
        uint32_t heard = 0;
        for (uint32_t i = 0; i < raft->voter_count; i++) {
            const struct raft_peer *p = &raft->peers[i];
            if (p->self || now - p->last_fetch_ns < raft->fetch_timeout_ns) heard++;
        }
        if (heard < raft->majority && now - raft->leader_since_ns >= raft->fetch_timeout_ns) {
            resign(raft, "no majority fetched within the fetch timeout");
            break;
        }
        for (uint32_t i = 0; i < raft->voter_count; i++) {
            struct raft_peer *p = &raft->peers[i];
            /* A voter silent for a fetch timeout may have missed the epoch (or moved past
             * it while cut off): tell it again; a higher epoch in its answer unseats us. */
            if (!p->self && now - p->last_fetch_ns >= raft->fetch_timeout_ns) {
                p->begin_acked = false;
            }
            if (!p->begin_acked && p->inflight == REQ_NONE && now >= p->retry_at_ns) {
                send_begin(raft, p);
            }
        }
        leader_update_hw(raft);
        break;
    }
    case RAFT_CANDIDATE:
        if (now >= raft->election_deadline_ns) {
            become_candidate(raft);
            break;
        }
        for (uint32_t i = 0; i < raft->voter_count; i++) {
            struct raft_peer *p = &raft->peers[i];
            if (!p->vote_answered && p->inflight == REQ_NONE && now >= p->retry_at_ns) {
                send_vote(raft, p);
            }
        }
        break;
    case RAFT_FOLLOWER: {
        if (now >= raft->election_deadline_ns) {
            io_log(raft->io, IO_LOG_INFO, "raft: node %d lost leader %d of epoch %d",
                   raft->node_id, raft->leader_id, raft->epoch);
            /* Followers of one leader lose it at about the same moment: a random wait
             * before standing keeps them from splitting the vote every time. */
            raft->role = RAFT_UNATTACHED;
            raft->leader_id = -1;
            (void)state_write(raft);
            raft->election_deadline_ns =
                now + random_in(raft, 0, raft->election_timeout_ns / 2 + 1);
            break;
        }
        struct raft_peer *lp = peer_find(raft, raft->leader_id);
        ASSERT(lp != NULL && !lp->self);
        if (lp->inflight == REQ_NONE && now >= lp->retry_at_ns) {
            if (raft->need_divergence && last_log_epoch(raft) >= 0) send_ofle(raft, lp);
            else {
                raft->need_divergence = false;
                send_fetch(raft, lp);
            }
        }
        break;
    }
    case RAFT_UNATTACHED:
        if (now >= raft->election_deadline_ns) become_candidate(raft);
        break;
    }
    if (raft->stopping) return;
    answer_pending(raft, now);
    if (raft->stopping) return;
    deliver(raft);
}

static void on_kick(void *arg) {
    struct raft *raft = arg;
    raft->kick_timer = 0;
    drive(raft);
}

static void kick(struct raft *raft) {
    if (raft->kick_timer != 0 || raft->stopping) return;
    raft->kick_timer = io_timer_start(raft->io, now_ns(raft), on_kick, raft);
}

static void on_tick(void *arg) {
    struct raft *raft = arg;
    drive(raft);
    if (raft->stopping) return;
    /* Wake exactly at an election deadline due before the next tick, so that randomised
     * timeouts are not rounded to the tick (which would make split votes likelier). */
    uint64_t now = now_ns(raft);
    uint64_t next = now + raft->tick_ns;
    if (raft->role != RAFT_LEADER && raft->election_deadline_ns > now &&
        raft->election_deadline_ns < next) {
        next = raft->election_deadline_ns;
    }
    raft->tick_timer = io_timer_start(raft->io, next, on_tick, raft);
}

/* --- Incoming requests ------------------------------------------------------------------ */

static struct raft_pending *pending_new(struct raft *raft, int16_t api_key, int16_t version,
                                        raft_respond_fn respond, void *respond_arg) {
    for (size_t i = 0; i < RAFT_PENDING_MAX; i++) {
        struct raft_pending *q = &raft->pending[i];
        if (q->used) continue;
        memset(q, 0, sizeof(*q));
        q->used = true;
        q->api_key = api_key;
        q->version = version;
        q->respond = respond;
        q->respond_arg = respond_arg;
        q->seq = raft->pending_seq++;
        q->leader_id = -1;
        return q;
    }
    return NULL;
}

static bool names_metadata(struct proto_string topic, int32_t partition) {
    return partition == 0 && proto_string_eq(topic, RAFT_TOPIC);
}

/* We lead with a majority fetching, or follow a leader heard within an election timeout. */
static bool leader_is_alive(struct raft *raft) {
    uint64_t now = now_ns(raft);
    if (raft->role == RAFT_FOLLOWER) {
        return now - raft->leader_contact_ns < raft->election_timeout_ns;
    }
    if (raft->role != RAFT_LEADER) return false;
    uint32_t heard = 0;
    for (uint32_t i = 0; i < raft->voter_count; i++) {
        const struct raft_peer *p = &raft->peers[i];
        if (p->self || now - p->last_fetch_ns < raft->fetch_timeout_ns) heard++;
    }
    return heard >= raft->majority;
}

static void handle_vote(struct raft *raft, const struct proto_vote_request *req,
                        struct raft_pending *q) {
    if (req->topics.count < 1 || req->topics.items[0].partitions.count < 1 ||
        !names_metadata(req->topics.items[0].topic_name, 0)) {
        q->error = KERR_INVALID_REQUEST;
    } else {
        const struct proto_vote_request_partition *p = &req->topics.items[0].partitions.items[0];
        if (!is_voter(raft, p->candidate_id) || p->candidate_id == raft->node_id) {
            q->error = KERR_INCONSISTENT_VOTER_SET;
        } else if (p->candidate_epoch > raft->epoch && leader_is_alive(raft)) {
            /* Raft thesis 4.2.3: while a leader is known to be alive, a candidate (one cut
             * off from it, say) neither gets a vote nor moves our epoch; otherwise a voter
             * partitioned from the leader alone would unseat it again and again. */
        } else {
            if (p->candidate_epoch > raft->epoch) observe_epoch(raft, p->candidate_epoch, -1);
            int32_t my_epoch = last_log_epoch(raft);
            bool up_to_date = p->last_offset_epoch > my_epoch ||
                              (p->last_offset_epoch == my_epoch && p->last_offset >= log_end(raft));
            bool free_vote = raft->voted_for < 0 || raft->voted_for == p->candidate_id;
            if (p->candidate_epoch == raft->epoch && raft->leader_id < 0 && free_vote &&
                up_to_date && raft->role == RAFT_UNATTACHED) {
                int32_t before = raft->voted_for;
                raft->voted_for = p->candidate_id;
                if (state_write(raft) == 0) {
                    q->granted = true;
                    if (before != p->candidate_id) {
                        io_tracef(raft->io, "raft_vote", IO_TF_I("epoch", raft->epoch),
                                  IO_TF_I("candidate", p->candidate_id),
                                  IO_TF_I("node", raft->node_id));
                    }
                    reset_election_timer(raft);
                } else {
                    raft->voted_for = before;
                }
            }
        }
    }
    q->leader_id = raft->leader_id;
    q->leader_epoch = raft->epoch;
}

static void handle_begin(struct raft *raft, const struct proto_begin_quorum_epoch_request *req,
                         struct raft_pending *q) {
    if (req->topics.count < 1 || req->topics.items[0].partitions.count < 1 ||
        !names_metadata(req->topics.items[0].topic_name, 0)) {
        q->error = KERR_INVALID_REQUEST;
    } else {
        const struct proto_begin_quorum_epoch_request_partition *p =
            &req->topics.items[0].partitions.items[0];
        if (!is_voter(raft, p->leader_id) || p->leader_id == raft->node_id) {
            q->error = KERR_INCONSISTENT_VOTER_SET;
        } else if (p->leader_epoch < raft->epoch) {
            q->error = KERR_FENCED_LEADER_EPOCH;
        } else if (p->leader_epoch == raft->epoch && raft->role == RAFT_LEADER) {
            q->error = KERR_INVALID_REQUEST; /* Two leaders in one epoch cannot happen. */
            io_log(raft->io, IO_LOG_ERROR, "raft: node %d claims epoch %d that node %d leads",
                   p->leader_id, p->leader_epoch, raft->node_id);
        } else {
            observe_epoch(raft, p->leader_epoch, p->leader_id);
            if (raft->role == RAFT_FOLLOWER && raft->leader_id == p->leader_id) leader_heard(raft);
        }
    }
    q->leader_id = raft->leader_id;
    q->leader_epoch = raft->epoch;
}

static void handle_end(struct raft *raft, const struct proto_end_quorum_epoch_request *req,
                       struct raft_pending *q) {
    if (req->topics.count < 1 || req->topics.items[0].partitions.count < 1 ||
        !names_metadata(req->topics.items[0].topic_name, 0)) {
        q->error = KERR_INVALID_REQUEST;
    } else {
        const struct proto_end_quorum_epoch_request_partition *p =
            &req->topics.items[0].partitions.items[0];
        if (p->leader_epoch < raft->epoch) {
            q->error = KERR_FENCED_LEADER_EPOCH;
        } else if (p->leader_epoch > raft->epoch) {
            observe_epoch(raft, p->leader_epoch, -1);
        } else if (raft->role == RAFT_FOLLOWER && raft->leader_id == p->leader_id) {
            /* Our leader resigned: elect soon (sooner than a fetch timeout would). */
            raft->role = RAFT_UNATTACHED;
            raft->leader_id = -1;
            (void)state_write(raft);
            raft->election_deadline_ns =
                now_ns(raft) + random_in(raft, 0, raft->election_timeout_ns);
        }
    }
    q->leader_id = raft->leader_id;
    q->leader_epoch = raft->epoch;
}

static void handle_fetch(struct raft *raft, const struct proto_fetch_request *req,
                         struct raft_pending *q) {
    q->replica_id = req->replica_id;
    q->hw_at_arrival = raft->high_watermark;
    uint64_t wait_ns = req->max_wait_ms > 0 ? (uint64_t)req->max_wait_ms * NS_PER_MS : 0;
    q->deadline_ns = now_ns(raft) + wait_ns;
    q->max_bytes = req->max_bytes;
    if (req->topics.count < 1 || req->topics.items[0].partitions.count < 1 ||
        !names_metadata(req->topics.items[0].topic,
                        req->topics.items[0].partitions.items[0].partition)) {
        q->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    const struct proto_fetch_request_partition *p = &req->topics.items[0].partitions.items[0];
    q->fetch_offset = p->fetch_offset;
    q->current_leader_epoch = p->current_leader_epoch;
    if (p->partition_max_bytes > 0) q->max_bytes = MIN(q->max_bytes, p->partition_max_bytes);
    /* A voter's fetch offset is its synced log end, and it has already truncated any
     * divergent tail in this epoch (it asked OffsetForLeaderEpoch first). */
    struct raft_peer *peer = fetching_voter(raft, req->replica_id, p->current_leader_epoch);
    if (peer == NULL && raft->role == RAFT_LEADER && !is_voter(raft, req->replica_id)) {
        note_observer(raft, req->replica_id, p->fetch_offset);
    }
    if (peer != NULL && raft->role == RAFT_LEADER && p->fetch_offset <= log_end(raft)) {
        if (p->fetch_offset > peer->end_offset) peer->end_offset = p->fetch_offset;
        peer->last_fetch_ns = now_ns(raft);
        peer->begin_acked = true; /* It fetches from us: it knows we lead. */
        leader_update_hw(raft);
    }
}

int raft_handle_request(struct raft *raft, int16_t api_key, int16_t version, const void *body,
                        raft_respond_fn respond, void *respond_arg) {
    ASSERT(raft != NULL && body != NULL && respond != NULL);
    switch (api_key) {
    case PROTO_API_VOTE:
    case PROTO_API_BEGIN_QUORUM_EPOCH:
    case PROTO_API_END_QUORUM_EPOCH:
    case PROTO_API_DESCRIBE_QUORUM:
    case PROTO_API_FETCH:
    case PROTO_API_OFFSET_FOR_LEADER_EPOCH: break;
    default: return -ENOTSUP;
    }
    if (raft->stopping) return -ESHUTDOWN;
    struct raft_pending *q = pending_new(raft, api_key, version, respond, respond_arg);
    if (q == NULL) return -EAGAIN;
    switch (api_key) {
    case PROTO_API_VOTE: handle_vote(raft, body, q); break;
    case PROTO_API_BEGIN_QUORUM_EPOCH: handle_begin(raft, body, q); break;
    case PROTO_API_END_QUORUM_EPOCH: handle_end(raft, body, q); break;
    case PROTO_API_DESCRIBE_QUORUM: break;
    case PROTO_API_FETCH: handle_fetch(raft, body, q); break;
    case PROTO_API_OFFSET_FOR_LEADER_EPOCH: {
        const struct proto_offset_for_leader_epoch_request *req = body;
        if (req->topics.count < 1 || req->topics.items[0].partitions.count < 1 ||
            !names_metadata(req->topics.items[0].topic,
                            req->topics.items[0].partitions.items[0].partition)) {
            q->error = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
            const struct proto_offset_for_leader_epoch_request_partition *p =
                &req->topics.items[0].partitions.items[0];
            q->current_leader_epoch = p->current_leader_epoch;
            q->requested_epoch = p->leader_epoch;
        }
        break;
    }
    default: UNREACHABLE();
    }
    kick(raft);
    return 0;
}

/* --- Appends ---------------------------------------------------------------------------- */

int raft_append(struct raft *raft, const struct raft_record *records, size_t count,
                int64_t *last_offset) {
    ASSERT(raft != NULL && records != NULL && last_offset != NULL);
    if (raft->role != RAFT_LEADER || !raft->ready || raft->stopping) return -EPERM;
    if (count == 0 || count > RAFT_APPEND_RECORDS_MAX) return -EINVAL;
    size_t in_bytes = count * sizeof(struct batch_record_in);
    struct batch_record_in *in = io_alloc(raft->io, in_bytes);
    size_t bytes = BATCH_HEADER_BYTES;
    int64_t ts = io_wall_ms(raft->io);
    for (size_t i = 0; i < count; i++) {
        ASSERT(records[i].key_len >= -1 && records[i].value_len >= -1);
        in[i] = (struct batch_record_in){.offset_delta = (int64_t)i, .timestamp = ts,
                                         .key = records[i].key, .key_len = records[i].key_len,
                                         .value = records[i].value,
                                         .value_len = records[i].value_len};
        if (records[i].key == NULL) in[i].key_len = -1;
        if (records[i].value == NULL) in[i].value_len = -1;
        /* A record's overhead is at most 5 varints plus attributes: 32 bytes is plenty. */
        bytes += 32 + (size_t)MAX(in[i].key_len, 0) + (size_t)MAX(in[i].value_len, 0);
    }
    if (bytes > RAFT_APPEND_BYTES_MAX) {
        io_free(raft->io, in, in_bytes);
        return -EMSGSIZE;
    }
    uint8_t *buf = io_alloc(raft->io, bytes);
    struct batch_build_params params = {.base_offset = 0, .partition_leader_epoch = raft->epoch,
                                        .attributes = 0, .producer_id = -1,
                                        .producer_epoch = -1, .base_sequence = -1};
    int64_t len = batch_build(buf, bytes, &params, in, count);
    io_free(raft->io, in, in_bytes);
    ASSERT(len > 0);
    struct log_append_info info;
    int64_t now_ms = io_wall_ms(raft->io);
    int rc = log_append_leader(raft->log, buf, (size_t)len, raft->epoch, now_ms, &info);
    io_free(raft->io, buf, bytes);
    /* Counted only once synced (Raft needs a durable log). */
    if (rc == 0) rc = log_flush(raft->log, now_ms);
    if (rc < 0) {
        /* The log may no longer match the disk: stop leading rather than count on it. */
        io_log(raft->io, IO_LOG_ERROR, "raft: append failed: %d", rc);
        resign(raft, "append failed");
        return rc;
    }
    *last_offset = info.last_offset;
    kick(raft);
    return 0;
}

/* --- Start and stop --------------------------------------------------------------------- */

static int mkdir_p(struct io *io, const char *path) {
    char buf[RAFT_PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf)) return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        int rc = io_mkdir(io, buf);
        if (rc < 0 && rc != -EEXIST) return rc;
        buf[i] = c;
    }
    return 0;
}

int raft_start(struct io *io, const struct broker_config *config, const char *dir,
               const struct raft_callbacks *callbacks, struct raft **out) {
    ASSERT(io != NULL && config != NULL && dir != NULL && out != NULL);
    *out = NULL;
    struct raft *raft = io_calloc(io, 1, sizeof(*raft));
    raft->io = io;
    if (callbacks != NULL) raft->cb = *callbacks;
    raft->node_id = config->node_id;
    raft->resign_epoch = -1;
    raft->epoch_start_offset = INT64_MAX;
    int rc = 0;
    if (snprintf(raft->dir, sizeof(raft->dir), "%s/%s-0", dir, RAFT_TOPIC) >=
            (int)sizeof(raft->dir) ||
        snprintf(raft->state_path, sizeof(raft->state_path), "%s/%s", raft->dir,
                 RAFT_STATE_FILE) >= (int)sizeof(raft->state_path)) {
        rc = -ENAMETOOLONG;
        goto fail;
    }

    if (config->voter_count == 0) {
        raft->voter_count = 1;
        raft->peers[0] = (struct raft_peer){.raft = raft, .id = config->node_id, .self = true};
    } else {
        bool found = false;
        raft->voter_count = MIN(config->voter_count, (uint32_t)BROKER_CONFIG_VOTERS_MAX);
        for (uint32_t i = 0; i < raft->voter_count; i++) {
            struct raft_peer *p = &raft->peers[i];
            *p = (struct raft_peer){.raft = raft, .id = config->voters[i].id,
                                    .port = config->voters[i].port,
                                    .self = config->voters[i].id == config->node_id};
            snprintf(p->host, sizeof(p->host), "%s", config->voters[i].host);
            found = found || p->self;
        }
        if (!found) {
            io_log(io, IO_LOG_ERROR, "raft: node %d is not among the voters", config->node_id);
            rc = -EINVAL;
            goto fail;
        }
    }
    for (uint32_t i = 0; i < raft->voter_count; i++) raft->peers[i].end_offset = -1;
    raft->majority = raft->voter_count / 2 + 1;

    raft->election_timeout_ns = (uint64_t)MAX(config->quorum_election_timeout_ms, 1) * NS_PER_MS;
    raft->fetch_timeout_ns = (uint64_t)MAX(config->quorum_fetch_timeout_ms, 2) * NS_PER_MS;
    raft->request_timeout_ns = (uint64_t)MAX(config->quorum_request_timeout_ms, 1) * NS_PER_MS;
    raft->backoff_max_ns = (uint64_t)MAX(config->quorum_election_backoff_max_ms, 0) * NS_PER_MS;
    /* The long poll (fetch timeout / 2) must end before the request times out. */
    if (raft->request_timeout_ns <= raft->fetch_timeout_ns / 2) {
        raft->request_timeout_ns = raft->fetch_timeout_ns / 2 + raft->fetch_timeout_ns / 4 + 1;
    }
    raft->tick_ns = MAX(raft->election_timeout_ns / 20, NS_PER_MS);
    raft->retry_backoff_ns = raft->tick_ns;

    rc = mkdir_p(io, raft->dir);
    if (rc < 0) goto fail;
    rc = state_read(raft);
    if (rc < 0) goto fail;
    struct log_config lc;
    log_config_default(&lc);
    rc = log_open(io, raft->dir, &lc, 0, 0, &raft->log);
    if (rc < 0) goto fail;
    raft->applied = raft->log->log_start_offset;
    raft->high_watermark = raft->log->log_start_offset;

    /* A restarted leader does not lead again without an election; a follower follows. */
    int32_t leader = raft->leader_id;
    raft->leader_id = -1;
    raft->role = RAFT_UNATTACHED;
    if (leader >= 0 && leader != raft->node_id && is_voter(raft, leader)) {
        raft->role = RAFT_FOLLOWER;
        raft->leader_id = leader;
        raft->need_divergence = true;
        raft->election_deadline_ns = io_now_ns(io) + raft->fetch_timeout_ns;
    } else if (raft->voter_count == 1) {
        raft->election_deadline_ns = io_now_ns(io); /* Alone: elect at the first tick. */
    } else {
        reset_election_timer(raft);
    }
    io_log(io, IO_LOG_INFO, "raft: node %d starts at epoch %d (voted %d, leader %d), log end %lld",
           raft->node_id, raft->epoch, raft->voted_for, raft->leader_id,
           (long long)log_end(raft));
    /* A random phase: voters started together must not tick in lockstep. */
    raft->tick_timer = io_timer_start(io, io_now_ns(io) + random_in(raft, 0, raft->tick_ns),
                                      on_tick, raft);
    *out = raft;
    return 0;
fail:
    io_log(io, IO_LOG_ERROR, "raft: start in %s failed: %d", dir, rc);
    io_free(io, raft, sizeof(*raft));
    return rc;
}

void raft_stop(struct raft *raft) {
    if (raft == NULL) return;
    /* Every waiting request gets its one answer: parked Fetches and OffsetForLeaderEpoch
     * NOT_LEADER_OR_FOLLOWER, the others what was decided when they arrived. */
    for (size_t i = 0; i < RAFT_PENDING_MAX; i++) {
        struct raft_pending *q = &raft->pending[i];
        if (!q->used) continue;
        if (q->api_key == PROTO_API_FETCH || q->api_key == PROTO_API_OFFSET_FOR_LEADER_EPOCH) {
            q->error = KERR_NOT_LEADER_OR_FOLLOWER;
        }
    }
    raft->role = RAFT_UNATTACHED;
    answer_pending(raft, UINT64_MAX);
    raft->stopping = true;
    io_timer_cancel(raft->io, raft->tick_timer);
    io_timer_cancel(raft->io, raft->kick_timer);
    for (uint32_t i = 0; i < raft->voter_count; i++) peer_drop_client(&raft->peers[i]);
    (void)log_close(raft->log);
    io_free(raft->io, raft, sizeof(*raft));
}

/* --- Queries ---------------------------------------------------------------------------- */

bool raft_is_leader(const struct raft *raft) { return raft->role == RAFT_LEADER && raft->ready; }

int32_t raft_leader_id(const struct raft *raft) { return raft->leader_id; }

int32_t raft_epoch(const struct raft *raft) { return raft->epoch; }

int64_t raft_high_watermark(const struct raft *raft) { return raft->high_watermark; }

int64_t raft_log_end_offset(const struct raft *raft) { return log_end(raft); }
