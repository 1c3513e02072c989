/*
 * test_proto_golden.c — proves that the codec understands requests exactly as the real
 * clients send them: every frame under tests/golden/ (captured from kcat/librdkafka,
 * confluent-kafka, kafka-python and kafkajs by tests/golden/capture.py, see its README)
 * frames cleanly, decodes with the header the client used, consumes every byte, and
 * re-encodes to the identical bytes; and the fields that matter decode to what the capture
 * scripts asked for (client ids, topics, acks, group ids, offsets, isolation level, ...).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto.h"
#include "test_proto_io.h"

#ifndef GOLDEN_DIR
#error "GOLDEN_DIR must name tests/golden"
#endif

struct golden {
    const char *path;      /* Relative to GOLDEN_DIR. */
    int16_t api_key;
    int16_t api_version;
    const char *client_id; /* Expected header client id. */
};

static const struct golden goldens[] = {
    {"kcat/api_versions_v3.bin", 18, 3, "rdkafka"},
    {"kcat/metadata_v4.bin", 3, 4, "rdkafka"},
    {"kcat/produce_v7.bin", 0, 7, "rdkafka"},
    {"kcat/list_offsets_v2.bin", 2, 2, "rdkafka"},
    {"kcat/fetch_v11.bin", 1, 11, "rdkafka"},
    {"kcat/find_coordinator_v2.bin", 10, 2, "rdkafka"},
    {"kcat/join_group_v5.bin", 11, 5, "rdkafka"},
    {"kcat/sync_group_v3.bin", 14, 3, "rdkafka"},
    {"kcat/heartbeat_v3.bin", 12, 3, "rdkafka"},
    {"kcat/offset_fetch_v5.bin", 9, 5, "rdkafka"},
    {"kcat/leave_group_v1.bin", 13, 1, "rdkafka"},
    {"kcat_acks0/api_versions_v3.bin", 18, 3, "rdkafka"},
    {"kcat_acks0/metadata_v4.bin", 3, 4, "rdkafka"},
    {"kcat_acks0/produce_v7.bin", 0, 7, "rdkafka"},
    {"confluent_kafka/api_versions_v3.bin", 18, 3, NULL},
    {"confluent_kafka/metadata_v4.bin", 3, 4, NULL},
    {"confluent_kafka/produce_v7.bin", 0, 7, "ck-producer"},
    {"confluent_kafka/list_offsets_v2.bin", 2, 2, "ck-consumer"},
    {"confluent_kafka/fetch_v11.bin", 1, 11, "ck-consumer"},
    {"confluent_kafka/find_coordinator_v2.bin", 10, 2, "ck-consumer"},
    {"confluent_kafka/join_group_v5.bin", 11, 5, "ck-consumer"},
    {"confluent_kafka/sync_group_v3.bin", 14, 3, "ck-consumer"},
    {"confluent_kafka/heartbeat_v3.bin", 12, 3, "ck-consumer"},
    {"confluent_kafka/offset_fetch_v5.bin", 9, 5, "ck-consumer"},
    {"confluent_kafka/offset_commit_v7.bin", 8, 7, "ck-consumer"},
    {"confluent_kafka/leave_group_v1.bin", 13, 1, "ck-consumer"},
    {"kafka_python/api_versions_v0.bin", 18, 0, "kp-producer"},
    {"kafka_python/metadata_v0.bin", 3, 0, "kp-producer"},
    {"kafka_python/metadata_v1.bin", 3, 1, NULL},
    {"kafka_python/produce_v7.bin", 0, 7, "kp-producer"},
    {"kafka_python/find_coordinator_v0.bin", 10, 0, "kp-consumer"},
    {"kafka_python/join_group_v2.bin", 11, 2, "kp-consumer"},
    {"kafka_python/sync_group_v1.bin", 14, 1, "kp-consumer"},
    {"kafka_python/offset_fetch_v1.bin", 9, 1, "kp-consumer"},
    {"kafka_python/list_offsets_v1.bin", 2, 1, "kp-consumer"},
    {"kafka_python/fetch_v4.bin", 1, 4, "kp-consumer"},
    {"kafka_python/heartbeat_v1.bin", 12, 1, "kp-consumer"},
    {"kafka_python/offset_commit_v2.bin", 8, 2, "kp-consumer"},
    {"kafka_python/leave_group_v1.bin", 13, 1, "kp-consumer"},
    {"kafkajs/api_versions_v2.bin", 18, 2, "kjs-client"},
    {"kafkajs/metadata_v6.bin", 3, 6, "kjs-client"},
    {"kafkajs/produce_v7.bin", 0, 7, "kjs-client"},
    {"kafkajs/list_offsets_v3.bin", 2, 3, "kjs-client"},
    {"kafkajs/create_topics_v3.bin", 19, 3, "kjs-client"},
    {"kafkajs/list_groups_v2.bin", 16, 2, "kjs-client"},
    {"kafkajs/describe_configs_v2.bin", 32, 2, "kjs-client"},
    {"kafkajs/find_coordinator_v2.bin", 10, 2, "kjs-client"},
    {"kafkajs/join_group_v5.bin", 11, 5, "kjs-client"},
    {"kafkajs/sync_group_v3.bin", 14, 3, "kjs-client"},
    {"kafkajs/offset_fetch_v4.bin", 9, 4, "kjs-client"},
    {"kafkajs/fetch_v11.bin", 1, 11, "kjs-client"},
    {"kafkajs/heartbeat_v3.bin", 12, 3, "kjs-client"},
    {"kafkajs/leave_group_v3.bin", 13, 3, "kjs-client"},
    {"kafkajs_admin/alter_configs_v1.bin", 33, 1, "kjs-admin"},
    {"kafkajs_admin/api_versions_v2.bin", 18, 2, "kjs-admin"},
    {"kafkajs_admin/create_partitions_v1.bin", 37, 1, "kjs-admin"},
    {"kafkajs_admin/create_topics_v3.bin", 19, 3, "kjs-admin"},
    {"kafkajs_admin/delete_records_v1.bin", 21, 1, "kjs-admin"},
    {"kafkajs_admin/delete_topics_v1.bin", 20, 1, "kjs-admin"},
    {"kafkajs_admin/describe_configs_v2.bin", 32, 2, "kjs-admin"},
    {"kafkajs_admin/describe_groups_v2.bin", 15, 2, "kjs-admin"},
    {"kafkajs_admin/find_coordinator_v2.bin", 10, 2, "kjs-admin"},
    {"kafkajs_admin/list_groups_v2.bin", 16, 2, "kjs-admin"},
    {"kafkajs_admin/list_offsets_v3.bin", 2, 3, "kjs-admin"},
    {"kafkajs_admin/metadata_v6.bin", 3, 6, "kjs-admin"},
    {"kafkajs_txn/add_offsets_to_txn_v1.bin", 25, 1, "kjs-txn"},
    {"kafkajs_txn/add_partitions_to_txn_v1.bin", 24, 1, "kjs-txn"},
    {"kafkajs_txn/api_versions_v2.bin", 18, 2, "kjs-txn"},
    {"kafkajs_txn/end_txn_v1.bin", 26, 1, "kjs-txn"},
    {"kafkajs_txn/find_coordinator_v2.bin", 10, 2, "kjs-txn"},
    {"kafkajs_txn/init_producer_id_v1.bin", 22, 1, "kjs-txn"},
    {"kafkajs_txn/metadata_v6.bin", 3, 6, "kjs-txn"},
    {"kafkajs_txn/produce_v7.bin", 0, 7, "kjs-txn"},
    {"kafkajs_txn/txn_offset_commit_v1.bin", 28, 1, "kjs-txn"},
    {"confluent_kafka_txn/add_offsets_to_txn_v0.bin", 25, 0, "ck-txn"},
    {"confluent_kafka_txn/add_partitions_to_txn_v0.bin", 24, 0, "ck-txn"},
    {"confluent_kafka_txn/api_versions_v3.bin", 18, 3, "ck-txn"},
    {"confluent_kafka_txn/end_txn_v1.bin", 26, 1, "ck-txn"},
    {"confluent_kafka_txn/find_coordinator_v2.bin", 10, 2, "ck-txn"},
    {"confluent_kafka_txn/init_producer_id_v1.bin", 22, 1, "ck-txn"},
    {"confluent_kafka_txn/metadata_v4.bin", 3, 4, "ck-txn"},
    {"confluent_kafka_txn/produce_v7.bin", 0, 7, "ck-txn"},
    {"confluent_kafka_txn/txn_offset_commit_v2.bin", 28, 2, "ck-txn"},
    {"kcat_sasl/api_versions_v3.bin", 18, 3, "rdkafka"},
    {"kcat_sasl/metadata_v4.bin", 3, 4, "rdkafka"},
    {"kcat_sasl/sasl_authenticate_v0.bin", 36, 0, "rdkafka"},
    {"kcat_sasl/sasl_handshake_v1.bin", 17, 1, "rdkafka"},
    {"confluent_kafka_admin/alter_configs_v0.bin", 33, 0, "ck-admin"},
    {"confluent_kafka_admin/api_versions_v3.bin", 18, 3, "ck-admin"},
    {"confluent_kafka_admin/create_partitions_v0.bin", 37, 0, "ck-admin"},
    {"confluent_kafka_admin/create_topics_v4.bin", 19, 4, "ck-admin"},
    {"confluent_kafka_admin/delete_topics_v1.bin", 20, 1, "ck-admin"},
    {"confluent_kafka_admin/describe_configs_v1.bin", 32, 1, "ck-admin"},
    {"confluent_kafka_admin/describe_groups_v0.bin", 15, 0, "ck-admin"},
    {"confluent_kafka_admin/list_groups_v0.bin", 16, 0, "ck-admin"},
    {"confluent_kafka_admin/metadata_v4.bin", 3, 4, "ck-admin"},
};

/* One decoded fixture; the frame buffer stays alive because records point into it. */
struct decoded {
    struct test_proto_io t;
    struct proto_arena arena;
    uint8_t frame[65536];
    size_t frame_len;
    struct proto_request_header header;
    void *body;
};

static struct decoded *load(const char *rel) {
    struct decoded *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    test_proto_io_init(&d->t);
    proto_arena_init(&d->arena, &d->t.io, 1 << 20);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) print_error("missing fixture %s\n", path);
    assert_non_null(f);
    d->frame_len = fread(d->frame, 1, sizeof(d->frame), f);
    fclose(f);
    struct proto_frame fr;
    assert_int_equal(proto_frame_parse(d->frame, d->frame_len, PROTO_FRAME_BYTES_MAX_DEFAULT, &fr),
                     1);
    assert_int_equal(fr.frame_len, d->frame_len); /* Exactly one frame per file. */
    int rc = proto_request_decode(&d->arena, fr.payload, fr.payload_len, &d->header, &d->body);
    if (rc != 0) print_error("%s: decode error %d\n", rel, rc);
    assert_int_equal(rc, 0);
    return d;
}

static void unload(struct decoded *d) {
    proto_arena_destroy(&d->arena);
    assert_int_equal(d->t.live_bytes, 0);
    free(d);
}

static void test_every_fixture_decodes_and_reencodes(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
        const struct golden *g = &goldens[i];
        struct decoded *d = load(g->path);
        assert_int_equal(d->header.api_key, g->api_key);
        assert_int_equal(d->header.api_version, g->api_version);
        if (g->client_id) assert_true(proto_string_eq(d->header.client_id, g->client_id));
        /* Re-encoding gives the client's exact bytes: every field was understood. */
        struct proto_writer w;
        proto_writer_init(&w, &d->t.io, 1 << 20);
        assert_int_equal(proto_request_encode(&w, &d->header, d->body), 0);
        if (w.len != d->frame_len || memcmp(w.buf, d->frame, w.len) != 0) {
            print_error("%s: re-encoding differs\n", g->path);
            fail();
        }
        proto_writer_destroy(&w);
        unload(d);
    }
}

/* The first partition's record set of a produce request: a v2 batch (magic byte 16). */
static void check_produce(const char *path, int16_t acks, const char *client_id) {
    struct decoded *d = load(path);
    struct proto_produce_request *p = d->body;
    assert_int_equal(p->acks, acks);
    assert_int_equal(p->transactional_id.len, -1);
    assert_true(p->timeout_ms > 0);
    assert_int_equal(p->topic_data.count, 1);
    assert_true(proto_string_eq(p->topic_data.items[0].name, "golden"));
    assert_int_equal(p->topic_data.items[0].partition_data.count, 1);
    struct proto_produce_request_partition *part = &p->topic_data.items[0].partition_data.items[0];
    assert_int_equal(part->index, 0);
    assert_true(part->records.len >= 61); /* At least a batch header. */
    assert_int_equal(part->records.data[16], 2); /* magic */
    /* The records point into the frame (zero copy). */
    assert_true(part->records.data > d->frame && part->records.data < d->frame + d->frame_len);
    if (client_id) assert_true(proto_string_eq(d->header.client_id, client_id));
    unload(d);
}

static void test_produce_fields(void **state) {
    (void)state;
    check_produce("kcat/produce_v7.bin", -1, "rdkafka");
    check_produce("kcat_acks0/produce_v7.bin", 0, "rdkafka");
    check_produce("confluent_kafka/produce_v7.bin", -1, "ck-producer");
    check_produce("kafka_python/produce_v7.bin", 1, "kp-producer");
    check_produce("kafkajs/produce_v7.bin", -1, "kjs-client");
}

static void test_api_versions_and_metadata_fields(void **state) {
    (void)state;
    struct decoded *d = load("kcat/api_versions_v3.bin");
    struct proto_api_versions_request *av = d->body;
    assert_true(proto_string_eq(av->client_software_name, "librdkafka"));
    assert_true(av->client_software_version.len > 0);
    unload(d);

    /* kafka-python's Metadata v0 asks for all topics with an empty list. */
    d = load("kafka_python/metadata_v0.bin");
    struct proto_metadata_request *m = d->body;
    assert_int_equal(m->topics.count, 0);
    assert_true(m->allow_auto_topic_creation); /* Default for versions before 4. */
    unload(d);

    /* librdkafka's first Metadata v4 asks for brokers only: an empty, non-null topic list
     * (v1+: empty = no topics, null = all). */
    struct decoded *k = load("kcat_acks0/metadata_v4.bin");
    m = k->body;
    assert_int_equal(m->topics.count, 0);
    unload(k);

    d = load("kafkajs/metadata_v6.bin");
    m = d->body;
    assert_int_equal(m->topics.count, 1);
    assert_true(proto_string_eq(m->topics.items[0].name, "golden"));
    assert_false(m->allow_auto_topic_creation); /* producer({allowAutoTopicCreation:false}) */
    unload(d);
}

static void check_fetch(const char *path, int8_t isolation_level) {
    struct decoded *d = load(path);
    struct proto_fetch_request *f = d->body;
    assert_int_equal(f->replica_id, -1);
    assert_int_equal(f->isolation_level, isolation_level);
    assert_true(f->topics.count >= 1);
    assert_true(proto_string_eq(f->topics.items[0].topic, "golden"));
    assert_int_equal(f->topics.items[0].partitions.items[0].partition, 0);
    assert_true(f->max_wait_ms > 0);
    unload(d);
}

static void test_consumer_fields(void **state) {
    (void)state;
    /* librdkafka and kafkajs default to read_committed (PROTOCOL.md); kafka-python does not. */
    check_fetch("kcat/fetch_v11.bin", 1);
    check_fetch("confluent_kafka/fetch_v11.bin", 1);
    check_fetch("kafkajs/fetch_v11.bin", 1);
    check_fetch("kafka_python/fetch_v4.bin", 0);

    struct decoded *d = load("kafka_python/list_offsets_v1.bin");
    struct proto_list_offsets_request *lo = d->body;
    assert_int_equal(lo->replica_id, -1);
    assert_true(proto_string_eq(lo->topics.items[0].name, "golden"));
    int64_t ts = lo->topics.items[0].partitions.items[0].timestamp;
    assert_true(ts == -1 || ts == -2); /* latest or earliest */
    unload(d);
}

static void test_group_fields(void **state) {
    (void)state;
    struct decoded *d = load("kcat/find_coordinator_v2.bin");
    struct proto_find_coordinator_request *fc = d->body;
    assert_true(proto_string_eq(fc->key, "kcatgroup"));
    assert_int_equal(fc->key_type, 0);
    unload(d);

    d = load("kafka_python/find_coordinator_v0.bin");
    fc = d->body;
    assert_true(proto_string_eq(fc->key, "kp-group"));
    unload(d);

    d = load("confluent_kafka/join_group_v5.bin");
    struct proto_join_group_request *jg = d->body;
    assert_true(proto_string_eq(jg->group_id, "ck-group"));
    assert_true(proto_string_eq(jg->protocol_type, "consumer"));
    assert_true(proto_string_eq(jg->member_id, ""));
    assert_true(jg->protocols.count >= 1);
    assert_true(jg->protocols.items[0].metadata.len > 0);
    assert_int_equal(jg->group_instance_id.len, -1);
    unload(d);

    d = load("confluent_kafka/offset_commit_v7.bin");
    struct proto_offset_commit_request *oc = d->body;
    assert_true(proto_string_eq(oc->group_id, "ck-group"));
    assert_true(proto_string_eq(oc->topics.items[0].name, "golden"));
    assert_int_equal(oc->topics.items[0].partitions.items[0].committed_offset, 5);
    unload(d);

    d = load("kafka_python/offset_commit_v2.bin");
    oc = d->body;
    assert_true(proto_string_eq(oc->group_id, "kp-group"));
    assert_int_equal(oc->topics.items[0].partitions.items[0].committed_offset, 3);
    assert_true(proto_string_eq(oc->topics.items[0].partitions.items[0].committed_metadata,
                                "kp-meta"));
    unload(d);

    d = load("kafkajs/leave_group_v3.bin");
    struct proto_leave_group_request *lg = d->body;
    assert_true(proto_string_eq(lg->group_id, "kjs-group"));
    assert_int_equal(lg->members.count, 1);
    assert_true(proto_string_eq(lg->members.items[0].member_id, "member-1"));
    unload(d);
}

static void test_admin_fields(void **state) {
    (void)state;
    struct decoded *d = load("kafkajs/create_topics_v3.bin");
    struct proto_create_topics_request *ct = d->body;
    assert_int_equal(ct->topics.count, 1);
    assert_true(proto_string_eq(ct->topics.items[0].name, "kjs-new"));
    assert_int_equal(ct->topics.items[0].num_partitions, 2);
    assert_int_equal(ct->timeout_ms, 1000);
    unload(d);

    d = load("kafkajs/describe_configs_v2.bin");
    struct proto_describe_configs_request *dc = d->body;
    assert_int_equal(dc->resources.count, 1);
    assert_int_equal(dc->resources.items[0].resource_type, 2);
    assert_true(proto_string_eq(dc->resources.items[0].resource_name, "golden"));
    unload(d);
}

static void test_transaction_fields(void **state) {
    (void)state;
    /* kafkajs first initialises an idempotent producer id: transactional id null. */
    struct decoded *d = load("kafkajs_txn/init_producer_id_v1.bin");
    struct proto_init_producer_id_request *ip = d->body;
    assert_int_equal(ip->transactional_id.len, -1);
    assert_null(ip->transactional_id.str);
    assert_true(ip->transaction_timeout_ms > 0);
    unload(d);

    d = load("confluent_kafka_txn/init_producer_id_v1.bin");
    ip = d->body;
    assert_true(proto_string_eq(ip->transactional_id, "ck-tid"));
    unload(d);

    /* The capture broker handed out producer id 1000, epoch 0. */
    d = load("kafkajs_txn/add_partitions_to_txn_v1.bin");
    struct proto_add_partitions_to_txn_request *ap = d->body;
    assert_true(proto_string_eq(ap->transactional_id, "kjs-tid"));
    assert_int_equal(ap->producer_id, 1000);
    assert_int_equal(ap->producer_epoch, 0);
    assert_true(proto_string_eq(ap->topics.items[0].name, "golden"));
    assert_int_equal(ap->topics.items[0].partitions.count, 1);
    assert_int_equal(ap->topics.items[0].partitions.items[0], 0);
    unload(d);

    /* A transactional produce: transactional id set, batch attribute bit 4 set. */
    d = load("kafkajs_txn/produce_v7.bin");
    struct proto_produce_request *pr = d->body;
    assert_true(proto_string_eq(pr->transactional_id, "kjs-tid"));
    const struct proto_bytes *rec = &pr->topic_data.items[0].partition_data.items[0].records;
    assert_true(rec->len >= 61);
    assert_true((rec->data[22] & 0x10) != 0);
    unload(d);

    d = load("kafkajs_txn/add_offsets_to_txn_v1.bin");
    struct proto_add_offsets_to_txn_request *ao = d->body;
    assert_true(proto_string_eq(ao->group_id, "kjs-group"));
    unload(d);

    d = load("kafkajs_txn/txn_offset_commit_v1.bin");
    struct proto_txn_offset_commit_request *tc = d->body;
    assert_true(proto_string_eq(tc->group_id, "kjs-group"));
    assert_int_equal(tc->topics.items[0].partitions.items[0].committed_offset, 7);
    unload(d);

    d = load("kafkajs_txn/end_txn_v1.bin");
    struct proto_end_txn_request *et = d->body;
    assert_true(et->committed);
    unload(d);

    d = load("confluent_kafka_txn/find_coordinator_v2.bin");
    struct proto_find_coordinator_request *fc = d->body;
    assert_true(proto_string_eq(fc->key, "ck-tid"));
    assert_int_equal(fc->key_type, 1); /* transaction coordinator */
    unload(d);

    d = load("confluent_kafka_txn/txn_offset_commit_v2.bin");
    tc = d->body;
    assert_true(proto_string_eq(tc->group_id, "ck-group"));
    assert_int_equal(tc->topics.items[0].partitions.items[0].committed_offset, 9);
    unload(d);

    d = load("confluent_kafka_txn/end_txn_v1.bin");
    et = d->body;
    assert_true(et->committed);
    assert_true(proto_string_eq(et->transactional_id, "ck-tid"));
    unload(d);
}

static void test_more_admin_and_sasl_fields(void **state) {
    (void)state;
    /* librdkafka's AdminClient (confluent-kafka). */
    struct decoded *k = load("confluent_kafka_admin/create_topics_v4.bin");
    struct proto_create_topics_request *kct = k->body;
    assert_int_equal(kct->topics.count, 1);
    assert_true(proto_string_eq(kct->topics.items[0].name, "ck-new"));
    assert_int_equal(kct->topics.items[0].num_partitions, 3);
    assert_int_equal(kct->topics.items[0].replication_factor, 1);
    assert_true(proto_string_eq(kct->topics.items[0].configs.items[0].value, "compact"));
    unload(k);
    k = load("confluent_kafka_admin/alter_configs_v0.bin");
    struct proto_alter_configs_request *kac = k->body;
    assert_true(proto_string_eq(kac->resources.items[0].resource_name, "golden"));
    assert_true(proto_string_eq(kac->resources.items[0].configs.items[0].value, "3600000"));
    unload(k);
    k = load("confluent_kafka_admin/create_partitions_v0.bin");
    struct proto_create_partitions_request *kcp = k->body;
    assert_int_equal(kcp->topics.items[0].count, 4);
    assert_int_equal(kcp->topics.items[0].assignments.count, -1); /* null: broker decides */
    unload(k);
    k = load("confluent_kafka_admin/delete_topics_v1.bin");
    struct proto_delete_topics_request *kdt = k->body;
    assert_true(proto_string_eq(kdt->topic_names.items[0], "ck-new"));
    unload(k);

    struct decoded *d = load("kafkajs_admin/create_topics_v3.bin");
    struct proto_create_topics_request *ct = d->body;
    assert_int_equal(ct->topics.items[0].configs.count, 1);
    assert_true(proto_string_eq(ct->topics.items[0].configs.items[0].name, "cleanup.policy"));
    assert_true(proto_string_eq(ct->topics.items[0].configs.items[0].value, "compact"));
    unload(d);

    d = load("kafkajs_admin/create_partitions_v1.bin");
    struct proto_create_partitions_request *cp = d->body;
    assert_true(proto_string_eq(cp->topics.items[0].name, "golden"));
    assert_int_equal(cp->topics.items[0].count, 3);
    unload(d);

    d = load("kafkajs_admin/delete_records_v1.bin");
    struct proto_delete_records_request *dr = d->body;
    assert_true(proto_string_eq(dr->topics.items[0].name, "golden"));
    assert_int_equal(dr->topics.items[0].partitions.items[0].offset, 0);
    unload(d);

    d = load("kafkajs_admin/delete_topics_v1.bin");
    struct proto_delete_topics_request *dt = d->body;
    assert_int_equal(dt->topic_names.count, 1);
    assert_true(proto_string_eq(dt->topic_names.items[0], "kjs-new"));
    unload(d);

    d = load("kafkajs_admin/describe_groups_v2.bin");
    struct proto_describe_groups_request *dg = d->body;
    assert_int_equal(dg->groups.count, 1);
    assert_true(proto_string_eq(dg->groups.items[0], "kjs-group"));
    unload(d);

    d = load("kafkajs_admin/alter_configs_v1.bin");
    struct proto_alter_configs_request *ac = d->body;
    assert_int_equal(ac->resources.count, 1);
    assert_int_equal(ac->resources.items[0].resource_type, 2);
    assert_true(proto_string_eq(ac->resources.items[0].configs.items[0].name, "retention.ms"));
    assert_true(proto_string_eq(ac->resources.items[0].configs.items[0].value, "3600000"));
    assert_false(ac->validate_only);
    unload(d);

    d = load("kcat_sasl/sasl_handshake_v1.bin");
    struct proto_sasl_handshake_request *sh = d->body;
    assert_true(proto_string_eq(sh->mechanism, "PLAIN"));
    unload(d);

    /* SASL/PLAIN token: authzid NUL user NUL password (RFC 4616). */
    d = load("kcat_sasl/sasl_authenticate_v0.bin");
    struct proto_sasl_authenticate_request *sa = d->body;
    const char token[] = "\0alice\0secret";
    assert_int_equal(sa->auth_bytes.len, sizeof(token) - 1);
    assert_memory_equal(sa->auth_bytes.data, token, sizeof(token) - 1);
    unload(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_fixture_decodes_and_reencodes),
        cmocka_unit_test(test_produce_fields),
        cmocka_unit_test(test_api_versions_and_metadata_fields),
        cmocka_unit_test(test_consumer_fields),
        cmocka_unit_test(test_group_fields),
        cmocka_unit_test(test_admin_fields),
        cmocka_unit_test(test_transaction_fields),
        cmocka_unit_test(test_more_admin_and_sasl_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
