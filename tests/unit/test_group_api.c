/*
 * test_group_api.c — proves the group API layer speaks to real clients: for kafka-python,
 * kcat, confluent-kafka and kafkajs it replays each client's own captured requests
 * (tests/golden/, decoded by system/proto) through group_api_handle() — JoinGroup (with
 * MEMBER_ID_REQUIRED for v4+), SyncGroup, Heartbeat, OffsetCommit, OffsetFetch, LeaveGroup
 * at the versions that client uses — and checks that every response carries the right
 * data AND encodes at that version and decodes back identically (so no field is null where
 * the version forbids it). It also proves the version rules (OffsetCommit v0 is a simple
 * commit, OffsetFetch v1 reports group errors per partition and v2+ at the top,
 * LeaveGroup v3 answers per member), ListGroups/DescribeGroups, TxnOffsetCommit from
 * confluent-kafka and kafkajs (pending until the marker), and that an exhausted
 * arena yields an error response rather than a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "coordinator/group_api.h"
#include "tests/unit/test_group_fake_io.c"

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR must name tests/golden"
#endif

#define PARTITIONS 5

struct world {
    struct fake_io *fio;
    struct fake_log *log;
    struct group_coordinator *co;
};

static struct world *world_new(void) {
    struct world *w = calloc(1, sizeof(*w));
    w->fio = fake_io_new();
    w->log = fake_log_new();
    struct group_config config;
    group_config_default(&config);
    config.offsets_partitions = PARTITIONS;
    struct group_log seam = fake_log_seam(w->log);
    w->co = group_coordinator_create(&w->fio->io, &config, &seam);
    for (int32_t p = 0; p < PARTITIONS; p++) {
        group_coordinator_load_begin(w->co, p);
        group_coordinator_load_end(w->co, p);
    }
    return w;
}

static void world_free(struct world *w) {
    fake_log_complete(w->log, 0);
    group_coordinator_destroy(w->co);
    assert_int_equal(w->fio->live_bytes, 0);
    assert_int_equal(fake_timers_live(w->fio), 0);
    fake_log_free(w->log);
    free(w->fio);
    free(w);
}

/* A request decoded from a golden frame, with its arena. */
struct request {
    uint8_t frame[65536];
    size_t frame_len;
    struct proto_arena arena;
    struct proto_request_header header;
    void *body;
};

static struct request *load(struct world *w, const char *dir, const char *api, int version) {
    struct request *r = calloc(1, sizeof(*r));
    proto_arena_init(&r->arena, &w->fio->io, 1 << 20);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s_v%d.bin", GOLDEN_DIR, dir, api, version);
    FILE *f = fopen(path, "rb");
    if (f == NULL) print_error("missing fixture %s\n", path);
    assert_non_null(f);
    r->frame_len = fread(r->frame, 1, sizeof(r->frame), f);
    fclose(f);
    struct proto_frame fr;
    assert_int_equal(proto_frame_parse(r->frame, r->frame_len, PROTO_FRAME_BYTES_MAX_DEFAULT, &fr),
                     1);
    assert_int_equal(
        proto_request_decode(&r->arena, fr.payload, fr.payload_len, &r->header, &r->body), 0);
    assert_int_equal(r->header.api_version, version);
    return r;
}

static void request_free(struct request *r) {
    proto_arena_destroy(&r->arena);
    free(r);
}

/* What a `done` callback saw: the response re-encoded at the request's version and decoded
 * again, so the test checks what a client would read. */
struct answer {
    int calls;
    int16_t api_key;
    int16_t version;
    struct world *w;
    struct proto_arena arena;
    void *body;
};

static void on_done(void *arg, const void *response) {
    struct answer *a = arg;
    a->calls++;
    struct proto_writer wr;
    proto_writer_init(&wr, &a->w->fio->io, 1 << 20);
    struct proto_response_header h = {.correlation_id = 77};
    assert_int_equal(proto_response_encode(&wr, a->api_key, a->version, &h, response), 0);
    assert_int_equal(wr.error, 0);
    assert_true(wr.len > 4);
    struct proto_response_header back;
    proto_arena_reset(&a->arena);
    assert_int_equal(proto_response_decode(&a->arena, wr.buf + 4, wr.len - 4, a->api_key,
                                           a->version, &back, &a->body),
                     0);
    assert_int_equal(back.correlation_id, 77);
    proto_writer_destroy(&wr);
}

static void answer_init(struct answer *a, struct world *w, const struct request *r) {
    memset(a, 0, sizeof(*a));
    a->w = w;
    a->api_key = r->header.api_key;
    a->version = r->header.api_version;
    proto_arena_init(&a->arena, &w->fio->io, 1 << 20);
}

static void answer_free(struct answer *a) { proto_arena_destroy(&a->arena); }

static void handle(struct world *w, struct request *r, struct answer *a) {
    answer_init(a, w, r);
    assert_int_equal(group_api_handle(w->co, &r->arena, r->header.api_key, r->header.api_version,
                                      "client", "/127.0.0.1", r->body, on_done, a),
                     0);
}

struct conversation {
    const char *dir;
    int join_v, sync_v, heartbeat_v, commit_v, fetch_v, leave_v; /* commit_v 0: none. */
};

static void run_conversation(const struct conversation *c) {
    struct world *w = world_new();
    char member[256];
    struct answer a;

    /* JoinGroup, as the client first sends it (empty member id). */
    struct request *join = load(w, c->dir, "join_group", c->join_v);
    struct proto_join_group_request *jr = join->body;
    char group[256];
    snprintf(group, sizeof(group), "%s", jr->group_id.str);
    jr->member_id = PROTO_STR("");
    handle(w, join, &a);
    if (c->join_v >= 4) {
        assert_int_equal(a.calls, 1);
        struct proto_join_group_response *resp = a.body;
        assert_int_equal(resp->error_code, GROUP_ERR_MEMBER_ID_REQUIRED);
        assert_true(resp->member_id.len > 0);
        snprintf(member, sizeof(member), "%s", resp->member_id.str);
        answer_free(&a);
        jr->member_id = proto_string_from(member);
        handle(w, join, &a);
    }
    assert_int_equal(a.calls, 0); /* Waits out the initial rebalance delay. */
    fake_io_advance_ms(w->fio, 3000);
    assert_int_equal(a.calls, 1);
    struct proto_join_group_response *joined = a.body;
    assert_int_equal(joined->error_code, GROUP_ERR_NONE);
    assert_int_equal(joined->generation_id, 1);
    snprintf(member, sizeof(member), "%s", joined->member_id.str);
    assert_true(proto_string_eq(joined->leader, member));
    assert_int_equal(joined->members.count, 1);
    assert_true(proto_string_eq(joined->members.items[0].member_id, member));
    /* The leader gets back its own metadata for the chosen protocol. */
    bool found = false;
    for (int32_t i = 0; i < jr->protocols.count; i++) {
        if (!proto_string_eq(joined->protocol_name, jr->protocols.items[i].name.str)) continue;
        found = true;
        assert_int_equal(joined->members.items[0].metadata.len,
                         jr->protocols.items[i].metadata.len);
        assert_memory_equal(joined->members.items[0].metadata.data,
                            jr->protocols.items[i].metadata.data,
                            (size_t)jr->protocols.items[i].metadata.len);
    }
    assert_true(found);
    answer_free(&a);

    /* SyncGroup: the leader's assignment comes back once durable. */
    struct request *sync = load(w, c->dir, "sync_group", c->sync_v);
    struct proto_sync_group_request *sr = sync->body;
    sr->group_id = proto_string_from(group);
    sr->generation_id = 1;
    sr->member_id = proto_string_from(member);
    assert_true(sr->assignments.count >= 1);
    sr->assignments.items[0].member_id = proto_string_from(member);
    handle(w, sync, &a);
    assert_int_equal(a.calls, 0);
    fake_log_complete(w->log, 0);
    assert_int_equal(a.calls, 1);
    struct proto_sync_group_response *synced = a.body;
    assert_int_equal(synced->error_code, GROUP_ERR_NONE);
    assert_int_equal(synced->assignment.len, sr->assignments.items[0].assignment.len);
    if (synced->assignment.len > 0) {
        assert_memory_equal(synced->assignment.data, sr->assignments.items[0].assignment.data,
                            (size_t)synced->assignment.len);
    }
    answer_free(&a);

    /* Heartbeat. */
    struct request *hb = load(w, c->dir, "heartbeat", c->heartbeat_v);
    struct proto_heartbeat_request *hr = hb->body;
    hr->group_id = proto_string_from(group);
    hr->generation_id = 1;
    hr->member_id = proto_string_from(member);
    handle(w, hb, &a);
    assert_int_equal(a.calls, 1);
    assert_int_equal(((struct proto_heartbeat_response *)a.body)->error_code, GROUP_ERR_NONE);
    answer_free(&a);
    /* A stale generation is refused (I-GRP-2), at this client's version too. */
    hr->generation_id = 0;
    handle(w, hb, &a);
    assert_int_equal(((struct proto_heartbeat_response *)a.body)->error_code,
                     GROUP_ERR_ILLEGAL_GENERATION);
    answer_free(&a);

    /* OffsetCommit, if the client sent one. */
    int64_t committed = -1;
    const char *committed_topic = NULL;
    int32_t committed_partition = -1;
    struct request *commit = NULL;
    if (c->commit_v > 0) {
        commit = load(w, c->dir, "offset_commit", c->commit_v);
        struct proto_offset_commit_request *cr = commit->body;
        cr->group_id = proto_string_from(group);
        cr->generation_id = 1;
        cr->member_id = proto_string_from(member);
        handle(w, commit, &a);
        assert_int_equal(a.calls, 0); /* Not before the log has it. */
        fake_log_complete(w->log, 0);
        assert_int_equal(a.calls, 1);
        struct proto_offset_commit_response *resp = a.body;
        assert_int_equal(resp->topics.count, cr->topics.count);
        for (int32_t t = 0; t < resp->topics.count; t++) {
            assert_int_equal(resp->topics.items[t].partitions.count,
                             cr->topics.items[t].partitions.count);
            for (int32_t i = 0; i < resp->topics.items[t].partitions.count; i++) {
                assert_int_equal(resp->topics.items[t].partitions.items[i].error_code,
                                 GROUP_ERR_NONE);
            }
        }
        committed_topic = cr->topics.items[0].name.str;
        committed_partition = cr->topics.items[0].partitions.items[0].partition_index;
        committed = cr->topics.items[0].partitions.items[0].committed_offset;
        answer_free(&a);
    }

    /* OffsetFetch: what was committed, -1 elsewhere. */
    struct request *fetch = load(w, c->dir, "offset_fetch", c->fetch_v);
    struct proto_offset_fetch_request *fr = fetch->body;
    fr->group_id = proto_string_from(group);
    handle(w, fetch, &a);
    assert_int_equal(a.calls, 1);
    struct proto_offset_fetch_response *fetched = a.body;
    if (c->fetch_v >= 2) assert_int_equal(fetched->error_code, GROUP_ERR_NONE);
    if (fr->topics.count >= 0) {
        assert_int_equal(fetched->topics.count, fr->topics.count);
        assert_true(fetched->topics.count > 0);
        for (int32_t t = 0; t < fetched->topics.count; t++) {
            assert_int_equal(fetched->topics.items[t].partitions.count,
                             fr->topics.items[t].partition_indexes.count);
        }
    }
    size_t checked = 0;
    for (int32_t t = 0; t < fetched->topics.count; t++) {
        for (int32_t i = 0; i < fetched->topics.items[t].partitions.count; i++) {
            const struct proto_offset_fetch_response_partition *p =
                &fetched->topics.items[t].partitions.items[i];
            assert_int_equal(p->error_code, GROUP_ERR_NONE);
            bool is_committed = committed_topic != NULL &&
                                proto_string_eq(fetched->topics.items[t].name, committed_topic) &&
                                p->partition_index == committed_partition;
            assert_int_equal(p->committed_offset, is_committed ? committed : -1);
            checked++;
        }
    }
    assert_true(checked > 0 || fr->topics.count < 0);
    answer_free(&a);

    /* LeaveGroup: the group empties. */
    struct request *leave = load(w, c->dir, "leave_group", c->leave_v);
    struct proto_leave_group_request *lr = leave->body;
    lr->group_id = proto_string_from(group);
    if (c->leave_v < 3) {
        lr->member_id = proto_string_from(member);
    } else {
        assert_true(lr->members.count >= 1);
        lr->members.items[0].member_id = proto_string_from(member);
    }
    handle(w, leave, &a);
    assert_int_equal(a.calls, 1);
    struct proto_leave_group_response *left = a.body;
    assert_int_equal(left->error_code, GROUP_ERR_NONE);
    if (c->leave_v >= 3) {
        assert_int_equal(left->members.count, lr->members.count);
        assert_int_equal(left->members.items[0].error_code, GROUP_ERR_NONE);
    }
    answer_free(&a);
    /* Leaving twice: the member is unknown now. */
    handle(w, leave, &a);
    left = a.body;
    if (c->leave_v < 3) {
        assert_int_equal(left->error_code, GROUP_ERR_UNKNOWN_MEMBER_ID);
    } else {
        assert_int_equal(left->members.items[0].error_code, GROUP_ERR_UNKNOWN_MEMBER_ID);
    }
    answer_free(&a);

    request_free(join);
    request_free(sync);
    request_free(hb);
    if (commit != NULL) request_free(commit);
    request_free(fetch);
    request_free(leave);
    world_free(w);
}

static void test_kafka_python(void **state) {
    (void)state;
    const struct conversation c = {"kafka_python", 2, 1, 1, 2, 1, 1};
    run_conversation(&c);
}

static void test_kcat(void **state) {
    (void)state;
    const struct conversation c = {"kcat", 5, 3, 3, 0, 5, 1};
    run_conversation(&c);
}

static void test_confluent_kafka(void **state) {
    (void)state;
    const struct conversation c = {"confluent_kafka", 5, 3, 3, 7, 5, 1};
    run_conversation(&c);
}

static void test_kafkajs(void **state) {
    (void)state;
    const struct conversation c = {"kafkajs", 5, 3, 3, 0, 4, 3};
    run_conversation(&c);
}

/* Hand-built requests for the version rules the golden frames do not reach. */
static void test_version_rules(void **state) {
    (void)state;
    struct world *w = world_new();
    struct proto_arena arena;
    proto_arena_init(&arena, &w->fio->io, 1 << 20);
    struct answer a;
    struct request fake_req = {0};

    /* OffsetCommit v0: no generation, a simple commit. */
    struct proto_offset_commit_request_partition part = {.partition_index = 3,
                                                         .committed_offset = 44,
                                                         .committed_leader_epoch = -1,
                                                         .commit_timestamp = -1,
                                                         .committed_metadata = PROTO_STR_NULL};
    struct proto_offset_commit_request_topic topic = {.name = PROTO_STR("t")};
    topic.partitions.items = &part;
    topic.partitions.count = 1;
    struct proto_offset_commit_request oc = {.group_id = PROTO_STR("simple")};
    oc.topics.items = &topic;
    oc.topics.count = 1;
    fake_req.header.api_key = PROTO_API_OFFSET_COMMIT;
    fake_req.header.api_version = 0;
    answer_init(&a, w, &fake_req);
    assert_int_equal(
        group_api_handle(w->co, &arena, PROTO_API_OFFSET_COMMIT, 0, "c", "/h", &oc, on_done, &a),
        0);
    fake_log_complete(w->log, 0);
    assert_int_equal(a.calls, 1);
    struct proto_offset_commit_response *ocr = a.body;
    assert_int_equal(ocr->topics.items[0].partitions.items[0].error_code, GROUP_ERR_NONE);
    answer_free(&a);

    /* OffsetFetch v1 and v5 for that group; then for a group we do not coordinate. */
    int32_t pidx[] = {3, 4};
    struct proto_offset_fetch_request_topic ft = {.name = PROTO_STR("t")};
    ft.partition_indexes.items = pidx;
    ft.partition_indexes.count = 2;
    struct proto_offset_fetch_request of = {.group_id = PROTO_STR("simple")};
    of.topics.items = &ft;
    of.topics.count = 1;
    int16_t versions[] = {1, 5};
    for (size_t v = 0; v < 2; v++) {
        fake_req.header.api_key = PROTO_API_OFFSET_FETCH;
        fake_req.header.api_version = versions[v];
        answer_init(&a, w, &fake_req);
        group_api_handle(w->co, &arena, PROTO_API_OFFSET_FETCH, versions[v], "c", "/h", &of,
                         on_done, &a);
        struct proto_offset_fetch_response *r = a.body;
        assert_int_equal(r->topics.count, 1);
        assert_int_equal(r->topics.items[0].partitions.items[0].committed_offset, 44);
        assert_int_equal(r->topics.items[0].partitions.items[1].committed_offset, -1);
        answer_free(&a);
    }
    /* v5 with a null topic list: everything the group committed. */
    of.topics.items = NULL;
    of.topics.count = -1;
    fake_req.header.api_version = 5;
    answer_init(&a, w, &fake_req);
    group_api_handle(w->co, &arena, PROTO_API_OFFSET_FETCH, 5, "c", "/h", &of, on_done, &a);
    struct proto_offset_fetch_response *all = a.body;
    assert_int_equal(all->topics.count, 1);
    assert_true(proto_string_eq(all->topics.items[0].name, "t"));
    assert_int_equal(all->topics.items[0].partitions.count, 1);
    assert_int_equal(all->topics.items[0].partitions.items[0].partition_index, 3);
    answer_free(&a);
    of.topics.items = &ft;
    of.topics.count = 1;

    group_coordinator_unload(w->co, group_coordinator_partition_for(w->co, "simple"));
    fake_req.header.api_version = 1;
    answer_init(&a, w, &fake_req);
    group_api_handle(w->co, &arena, PROTO_API_OFFSET_FETCH, 1, "c", "/h", &of, on_done, &a);
    struct proto_offset_fetch_response *v1 = a.body;
    assert_int_equal(v1->topics.items[0].partitions.items[0].error_code, GROUP_ERR_NOT_COORDINATOR);
    assert_int_equal(v1->topics.items[0].partitions.items[1].error_code, GROUP_ERR_NOT_COORDINATOR);
    answer_free(&a);
    fake_req.header.api_version = 5;
    answer_init(&a, w, &fake_req);
    group_api_handle(w->co, &arena, PROTO_API_OFFSET_FETCH, 5, "c", "/h", &of, on_done, &a);
    struct proto_offset_fetch_response *v5 = a.body;
    assert_int_equal(v5->error_code, GROUP_ERR_NOT_COORDINATOR);
    assert_int_equal(v5->topics.count, 0);
    answer_free(&a);

    assert_int_equal(
        group_api_handle(w->co, &arena, PROTO_API_FIND_COORDINATOR, 0, "c", "/h", &of, on_done, &a),
        -ENOSYS);
    assert_false(group_api_handles(PROTO_API_FIND_COORDINATOR));
    assert_true(group_api_handles(PROTO_API_JOIN_GROUP));
    proto_arena_destroy(&arena);
    world_free(w);
}

static void test_list_and_describe(void **state) {
    (void)state;
    struct world *w = world_new();
    struct request *join = load(w, "kafka_python", "join_group", 2);
    struct answer a;
    handle(w, join, &a);
    fake_io_advance_ms(w->fio, 3000);
    struct proto_join_group_response *joined = a.body;
    char member[256];
    snprintf(member, sizeof(member), "%s", joined->member_id.str);
    char group[256];
    snprintf(group, sizeof(group), "%s",
             ((struct proto_join_group_request *)join->body)->group_id.str);
    answer_free(&a);

    struct request *list = load(w, "kafkajs", "list_groups", 2);
    handle(w, list, &a);
    struct proto_list_groups_response *lr = a.body;
    assert_int_equal(lr->error_code, GROUP_ERR_NONE);
    assert_int_equal(lr->groups.count, 1);
    assert_true(proto_string_eq(lr->groups.items[0].group_id, group));
    assert_true(proto_string_eq(lr->groups.items[0].protocol_type, "consumer"));
    answer_free(&a);

    struct proto_string names[] = {proto_string_from(group), PROTO_STR("nobody")};
    struct proto_describe_groups_request dr = {0};
    dr.groups.items = names;
    dr.groups.count = 2;
    for (int16_t v = 0; v <= 4; v++) {
        struct request fake_req = {0};
        fake_req.header.api_key = PROTO_API_DESCRIBE_GROUPS;
        fake_req.header.api_version = v;
        answer_init(&a, w, &fake_req);
        assert_int_equal(group_api_handle(w->co, &join->arena, PROTO_API_DESCRIBE_GROUPS, v, "c",
                                          "/h", &dr, on_done, &a),
                         0);
        struct proto_describe_groups_response *d = a.body;
        assert_int_equal(d->groups.count, 2);
        assert_true(proto_string_eq(d->groups.items[0].group_state, "CompletingRebalance"));
        assert_int_equal(d->groups.items[0].members.count, 1);
        assert_true(proto_string_eq(d->groups.items[0].members.items[0].member_id, member));
        assert_true(proto_string_eq(d->groups.items[0].members.items[0].client_host, "/127.0.0.1"));
        assert_true(proto_string_eq(d->groups.items[1].group_state, "Dead"));
        assert_int_equal(d->groups.items[1].members.count, 0);
        answer_free(&a);
    }
    request_free(list);
    request_free(join);
    world_free(w);
}

/* TxnOffsetCommit from confluent-kafka (v2) and kafkajs (v1): pending until the marker. */
static void test_txn_offset_commit(void **state) {
    (void)state;
    const char *dirs[] = {"confluent_kafka_txn", "kafkajs_txn"};
    const int versions[] = {2, 1};
    for (size_t d = 0; d < 2; d++) {
        struct world *w = world_new();
        struct request *tx = load(w, dirs[d], "txn_offset_commit", versions[d]);
        struct proto_txn_offset_commit_request *tr = tx->body;
        assert_true(tr->topics.count >= 1 && tr->topics.items[0].partitions.count >= 1);
        const char *group = tr->group_id.str;
        const char *topic = tr->topics.items[0].name.str;
        int32_t partition = tr->topics.items[0].partitions.items[0].partition_index;
        int64_t offset = tr->topics.items[0].partitions.items[0].committed_offset;
        struct answer a;
        handle(w, tx, &a);
        assert_int_equal(a.calls, 0);
        fake_log_complete(w->log, 0);
        assert_int_equal(a.calls, 1);
        struct proto_txn_offset_commit_response *resp = a.body;
        assert_int_equal(resp->topics.count, tr->topics.count);
        assert_int_equal(resp->topics.items[0].partitions.items[0].error_code, GROUP_ERR_NONE);
        answer_free(&a);
        struct group_offset o;
        group_offset_fetch(w->co, group, topic, partition, &o);
        assert_int_equal(o.offset, -1); /* Pending. */
        group_coordinator_txn_complete(w->co, group_coordinator_partition_for(w->co, group),
                                       tr->producer_id, true);
        group_offset_fetch(w->co, group, topic, partition, &o);
        assert_int_equal(o.offset, offset);
        request_free(tx);
        world_free(w);
    }
}

static void test_arena_exhaustion_answers_an_error(void **state) {
    (void)state;
    struct world *w = world_new();
    struct request *join = load(w, "kafka_python", "join_group", 2);
    /* A fresh arena too small for the coordinator's bookkeeping of the request. */
    struct proto_arena tiny;
    proto_arena_init(&tiny, &w->fio->io, 16);
    struct answer a;
    answer_init(&a, w, join);
    group_api_handle(w->co, &tiny, PROTO_API_JOIN_GROUP, 2, "c", "/h", join->body, on_done, &a);
    assert_int_equal(a.calls, 1);
    assert_int_equal(((struct proto_join_group_response *)a.body)->error_code,
                     GROUP_ERR_UNKNOWN_SERVER_ERROR);
    answer_free(&a);
    proto_arena_destroy(&tiny);
    request_free(join);
    world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_python),
        cmocka_unit_test(test_kcat),
        cmocka_unit_test(test_confluent_kafka),
        cmocka_unit_test(test_kafkajs),
        cmocka_unit_test(test_version_rules),
        cmocka_unit_test(test_list_and_describe),
        cmocka_unit_test(test_txn_offset_commit),
        cmocka_unit_test(test_arena_exhaustion_answers_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
