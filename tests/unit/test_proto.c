/*
 * test_proto.c — proves the Kafka wire codec (system/proto/):
 *  - primitives: varint/zigzag encodings match Kafka's known bytes, overlong varints and
 *    short buffers are rejected with a sticky error, strings/bytes/arrays in classic and
 *    compact form, nulls only where allowed, tagged sections skipped;
 *  - every API of the surface table at every version the codec claims, BOTH directions
 *    (request encode->decode, response encode->decode): random values decode to equal
 *    values and re-encode to identical bytes; every proper prefix of every frame is rejected
 *    without reading out of bounds;
 *  - exact bytes of a Metadata v0 request and of the ApiVersions "unsupported version" reply
 *    (v0 body, error 35, only ApiVersions' own range, header v0);
 *  - unknown API keys and versions are reported distinctly with the header decoded;
 *  - framing: need-more, complete, negative and oversized sizes;
 *  - the internal KRaft/controller APIs (Vote, BeginQuorumEpoch, EndQuorumEpoch,
 *    DescribeQuorum, AlterPartition, BrokerRegistration, BrokerHeartbeat) are absent from
 *    ApiVersions, use the header versions Kafka's JSON implies (BeginQuorumEpoch and
 *    EndQuorumEpoch v0 are not flexible), carry hand-set values through encode->decode, and
 *    have the exact bytes Kafka's layout gives a BrokerHeartbeat v0 request;
 *  - bounded memory: a hostile array count fails before allocating, the arena limit turns
 *    into -ENOMEM, the writer limit into -EMSGSIZE with the frame rolled back, a reset arena
 *    serves small requests without allocating, and every byte allocated through io is
 *    returned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto.h"
#include "test_proto_io.h"
#include "test_proto_util.h"

/* --- primitives ------------------------------------------------------------------------- */

static void test_varint_known_bytes(void **state) {
    (void)state;
    struct {
        int64_t value;
        uint8_t bytes[10];
        size_t len;
    } cases[] = {
        {0, {0x00}, 1},           {-1, {0x01}, 1},          {1, {0x02}, 1},
        {63, {0x7e}, 1},          {-64, {0x7f}, 1},         {64, {0x80, 0x01}, 2},
        {300, {0xd8, 0x04}, 2},   {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5},
        {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[16];
        struct proto_writer w;
        proto_writer_init_fixed(&w, buf, sizeof(buf));
        proto_write_varint(&w, (int32_t)cases[i].value);
        assert_int_equal(w.error, 0);
        assert_int_equal(w.len, cases[i].len);
        assert_memory_equal(buf, cases[i].bytes, cases[i].len);
        struct proto_reader r;
        proto_reader_init(&r, buf, w.len);
        assert_int_equal(proto_read_varint(&r), cases[i].value);
        assert_int_equal(r.error, 0);
        assert_int_equal(proto_reader_remaining(&r), 0);
        /* The same value as a varlong has the same bytes (zigzag is width independent). */
        proto_writer_init_fixed(&w, buf, sizeof(buf));
        proto_write_varlong(&w, cases[i].value);
        assert_int_equal(w.len, cases[i].len);
    }
    int64_t longs[] = {INT64_MAX, INT64_MIN, -2, 1LL << 40, -(1LL << 40)};
    for (size_t i = 0; i < 5; i++) {
        uint8_t buf[16];
        struct proto_writer w;
        proto_writer_init_fixed(&w, buf, sizeof(buf));
        proto_write_varlong(&w, longs[i]);
        struct proto_reader r;
        proto_reader_init(&r, buf, w.len);
        assert_true(proto_read_varlong(&r) == longs[i]);
        assert_int_equal(r.error, 0);
    }
}

static void test_fixed_width_and_uuid(void **state) {
    (void)state;
    uint8_t buf[64];
    struct proto_writer w;
    proto_writer_init_fixed(&w, buf, 1 + 2 + 4 + 8 + 4 + 1 + 16); /* exactly full */
    struct proto_uuid id;
    for (int i = 0; i < 16; i++) id.bytes[i] = (uint8_t)(0xf0 + i);
    proto_write_i8(&w, -2);
    proto_write_i16(&w, -300);
    proto_write_i32(&w, INT32_MIN);
    proto_write_i64(&w, -5);
    proto_write_u32(&w, 0xdeadbeefu);
    proto_write_bool(&w, true);
    proto_write_uuid(&w, &id);
    assert_int_equal(w.error, 0);
    assert_int_equal(w.len, 1 + 2 + 4 + 8 + 4 + 1 + 16);
    /* Big-endian on the wire. */
    const uint8_t head[] = {0xfe, 0xfe, 0xd4, 0x80, 0, 0, 0};
    assert_memory_equal(buf, head, sizeof(head));
    struct proto_reader r;
    proto_reader_init(&r, buf, w.len);
    assert_int_equal(proto_read_i8(&r), -2);
    assert_int_equal(proto_read_i16(&r), -300);
    assert_int_equal(proto_read_i32(&r), INT32_MIN);
    assert_true(proto_read_i64(&r) == -5);
    assert_true(proto_read_u32(&r) == 0xdeadbeefu);
    assert_true(proto_read_bool(&r));
    struct proto_uuid back;
    proto_read_uuid(&r, &back);
    assert_memory_equal(back.bytes, id.bytes, 16);
    assert_int_equal(proto_reader_remaining(&r), 0);
    assert_int_equal(r.error, 0);
    /* A fixed writer that is full reports -EMSGSIZE and writes nothing more. */
    proto_write_i8(&w, 1);
    assert_int_equal(w.error, -EMSGSIZE);
    assert_int_equal(w.len, 1 + 2 + 4 + 8 + 4 + 1 + 16);
    proto_writer_init_fixed(&w, buf, 3);
    proto_write_i32(&w, 7);
    assert_int_equal(w.error, -EMSGSIZE);
    assert_int_equal(w.len, 0);
}

static void test_reader_rejects_bad_input(void **state) {
    (void)state;
    /* Six continuation bytes: an unsigned varint (32-bit) may have at most five. */
    const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    struct proto_reader r;
    proto_reader_init(&r, overlong, sizeof(overlong));
    (void)proto_read_uvarint(&r);
    assert_int_equal(r.error, -EBADMSG);
    /* A short buffer fails and the error sticks; nothing past the end is consumed. */
    const uint8_t three[] = {1, 2, 3};
    proto_reader_init(&r, three, 3);
    assert_int_equal(proto_read_i32(&r), 0);
    assert_int_equal(r.error, -EBADMSG);
    assert_int_equal(r.pos, 0);
    assert_int_equal(proto_read_i8(&r), 0);
    assert_int_equal(r.pos, 0);
    /* A string longer than the buffer. */
    const uint8_t str[] = {0x00, 0x05, 'a', 'b'};
    proto_reader_init(&r, str, sizeof(str));
    (void)proto_read_string(&r, NULL, false, false);
    assert_int_equal(r.error, -EBADMSG);
    /* A null string where not nullable. */
    const uint8_t nul[] = {0xff, 0xff};
    proto_reader_init(&r, nul, sizeof(nul));
    (void)proto_read_string(&r, NULL, false, false);
    assert_int_equal(r.error, -EBADMSG);
    proto_reader_init(&r, nul, sizeof(nul));
    struct proto_string s = proto_read_string(&r, NULL, false, true);
    assert_int_equal(r.error, 0);
    assert_int_equal(s.len, -1);
    assert_null(s.str);
    /* An array count larger than the remaining bytes is malformed before any allocation. */
    const uint8_t arr[] = {0x7f, 0xff, 0xff, 0xff, 0, 0};
    proto_reader_init(&r, arr, sizeof(arr));
    assert_int_equal(proto_read_array_len(&r, false, false), 0);
    assert_int_equal(r.error, -EBADMSG);
}

static void test_compact_and_tagged(void **state) {
    (void)state;
    uint8_t buf[64];
    struct proto_writer w;
    proto_writer_init_fixed(&w, buf, sizeof(buf));
    proto_write_string(&w, PROTO_STR("ab"), true, false);
    proto_write_string(&w, PROTO_STR_NULL, true, true);
    proto_write_bytes(&w, (struct proto_bytes){.data = (const uint8_t *)"xyz", .len = 3}, true,
                      false);
    proto_write_array_len(&w, -1, true, true);
    /* A tagged section with two unknown fields (tags 0 and 5) to be skipped. */
    const uint8_t tagged[] = {0x02, 0x00, 0x01, 0xaa, 0x05, 0x02, 0xbb, 0xcc};
    proto_write_raw(&w, tagged, sizeof(tagged));
    proto_write_i8(&w, 42);
    const uint8_t expect[] = {0x03, 'a', 'b', 0x00, 0x04, 'x', 'y', 'z', 0x00};
    assert_memory_equal(buf, expect, sizeof(expect));

    struct proto_reader r;
    proto_reader_init(&r, buf, w.len);
    assert_true(proto_string_eq(proto_read_string(&r, NULL, true, false), "ab"));
    assert_int_equal(proto_read_string(&r, NULL, true, true).len, -1);
    assert_int_equal(proto_read_bytes(&r, NULL, true, false).len, 3);
    assert_int_equal(proto_read_array_len(&r, true, true), -1);
    proto_skip_tagged_fields(&r);
    assert_int_equal(proto_read_i8(&r), 42);
    assert_int_equal(r.error, 0);

    /* Tags out of order are malformed (KIP-482 requires ascending tags). */
    const uint8_t bad[] = {0x02, 0x05, 0x00, 0x01, 0x00};
    proto_reader_init(&r, bad, sizeof(bad));
    proto_skip_tagged_fields(&r);
    assert_int_equal(r.error, -EBADMSG);

    /* Writing a null where the version forbids it is reported, not put on the wire. */
    proto_writer_init_fixed(&w, buf, sizeof(buf));
    proto_write_string(&w, PROTO_STR_NULL, false, false);
    assert_int_equal(w.error, -EINVAL);
    assert_int_equal(w.len, 0);
}

/* --- every API, every version, both directions ---------------------------------------- */

#define ROUNDS_PER_VERSION 40

static void roundtrip_one(struct test_proto_io *t, const struct proto_api *api, int16_t v,
                          bool request) {
    struct proto_arena fill, dec;
    proto_arena_init(&fill, &t->io, 1u << 20);
    proto_arena_init(&dec, &t->io, 1u << 20);
    const struct proto_schema *s = request ? api->request : api->response;
    void *in = proto_arena_alloc(&fill, s->size);
    fill_struct(&fill, s, v, in, 0);

    struct proto_writer w, w2;
    proto_writer_init(&w, &t->io, 1u << 20);
    proto_writer_init(&w2, &t->io, 1u << 20);
    struct proto_request_header rh = {.api_key = api->key,
                                      .api_version = v,
                                      .correlation_id = (int32_t)rnd(UINT32_MAX),
                                      .client_id = rnd(3) ? PROTO_STR("cli") : PROTO_STR_NULL};
    struct proto_response_header sh = {.correlation_id = (int32_t)rnd(UINT32_MAX)};
    int rc = request ? proto_request_encode(&w, &rh, in)
                     : proto_response_encode(&w, api->key, v, &sh, in);
    assert_int_equal(rc, 0);

    struct proto_frame frame;
    assert_int_equal(proto_frame_parse(w.buf, w.len, PROTO_FRAME_BYTES_MAX_DEFAULT, &frame), 1);
    assert_int_equal(frame.frame_len, w.len);

    void *out = NULL;
    struct proto_request_header rh2;
    struct proto_response_header sh2;
    rc = request ? proto_request_decode(&dec, frame.payload, frame.payload_len, &rh2, &out)
                 : proto_response_decode(&dec, frame.payload, frame.payload_len, api->key, v,
                                         &sh2, &out);
    if (rc != 0) print_error("%s v%d %s: decode %d\n", api->name, v, request ? "req" : "resp", rc);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    if (request) {
        assert_int_equal(rh2.api_key, api->key);
        assert_int_equal(rh2.api_version, v);
        assert_int_equal(rh2.correlation_id, rh.correlation_id);
        assert_true(str_eq(rh2.client_id, rh.client_id));
    } else {
        assert_int_equal(sh2.correlation_id, sh.correlation_id);
    }
    if (!struct_eq(s, in, out)) {
        print_error("%s v%d %s differs\n", api->name, v, request ? "request" : "response");
        fail();
    }
    /* Re-encoding the decoded value gives the same bytes. */
    rc = request ? proto_request_encode(&w2, &rh2, out)
                 : proto_response_encode(&w2, api->key, v, &sh2, out);
    assert_int_equal(rc, 0);
    assert_int_equal(w2.len, w.len);
    assert_memory_equal(w2.buf, w.buf, w.len);

    /* Every proper prefix of the payload is malformed (never a crash, never success). */
    for (size_t cut = 0; cut < frame.payload_len; cut++) {
        proto_arena_reset(&dec);
        rc = request ? proto_request_decode(&dec, frame.payload, cut, &rh2, &out)
                     : proto_response_decode(&dec, frame.payload, cut, api->key, v, &sh2, &out);
        assert_int_equal(rc, -EBADMSG);
        assert_null(out);
    }
    /* A trailing byte is malformed too. */
    uint8_t *longer = proto_arena_alloc(&fill, frame.payload_len + 1);
    memcpy(longer, frame.payload, frame.payload_len);
    rc = request ? proto_request_decode(&dec, longer, frame.payload_len + 1, &rh2, &out)
                 : proto_response_decode(&dec, longer, frame.payload_len + 1, api->key, v, &sh2,
                                         &out);
    assert_int_equal(rc, -EBADMSG);

    proto_writer_destroy(&w);
    proto_writer_destroy(&w2);
    proto_arena_destroy(&dec);
    proto_arena_destroy(&fill);
}

static void test_roundtrip_every_api_every_version(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    size_t count;
    const struct proto_api *apis = proto_apis(&count);
    assert_int_equal(count, 35); /* The surface-v1 table and the 7 internal KRaft APIs. */
    int combos = 0;
    for (size_t i = 0; i < count; i++) {
        for (int16_t v = apis[i].version_min; v <= apis[i].version_max; v++) {
            rng_state = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(apis[i].key * 100 + v);
            for (int round = 0; round < ROUNDS_PER_VERSION; round++) {
                roundtrip_one(&t, &apis[i], v, true);
                roundtrip_one(&t, &apis[i], v, false);
            }
            combos++;
        }
    }
    assert_true(combos >= 90);
    assert_int_equal(t.live_bytes, 0); /* Arenas and writers returned everything. */
}

/* A broker fills a response from proto_schema_defaults() and sets a few fields: the defaults
 * alone must be encodable at every version (no null where a version forbids it). */
static void test_defaults_encode_at_every_version(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    size_t count;
    const struct proto_api *apis = proto_apis(&count);
    for (size_t i = 0; i < count; i++) {
        for (int16_t v = apis[i].version_min; v <= apis[i].version_max; v++) {
            for (int d = 0; d < 2; d++) {
                const struct proto_schema *s = d ? apis[i].response : apis[i].request;
                uint8_t body[512] __attribute__((aligned(8)));
                assert_true(s->size <= sizeof(body));
                proto_schema_defaults(s, v, body);
                struct proto_writer w;
                proto_writer_init(&w, &t.io, 4096);
                proto_schema_encode(&w, s, v, proto_api_is_flexible(&apis[i], v), body);
                if (w.error != 0) print_error("%s v%d %s\n", apis[i].name, v, s->name);
                assert_int_equal(w.error, 0);
                proto_writer_destroy(&w);
            }
        }
    }
    assert_int_equal(t.live_bytes, 0);
}

static void test_api_table_matches_surface(void **state) {
    (void)state;
    struct {
        int16_t key, lo, hi;
    } surface[] = {{18, 0, 2}, {3, 0, 8},  {0, 3, 7},  {1, 4, 11}, {2, 0, 4},  {10, 0, 2},
                   {11, 0, 5}, {14, 0, 3}, {12, 0, 3}, {13, 0, 3}, {8, 0, 7},  {9, 1, 5},
                   {16, 0, 2}, {15, 0, 4}, {22, 0, 1}, {24, 0, 1}, {25, 0, 1}, {26, 0, 1},
                   {28, 0, 2}, {19, 0, 4}, {20, 0, 3}, {37, 0, 1}, {32, 0, 2}, {33, 0, 1},
                   {21, 0, 1}, {23, 0, 3}, {17, 0, 1}, {36, 0, 1}};
    for (size_t i = 0; i < sizeof(surface) / sizeof(surface[0]); i++) {
        const struct proto_api *a = proto_api_find(surface[i].key);
        assert_non_null(a);
        assert_int_equal(a->advertised_min, surface[i].lo);
        assert_int_equal(a->advertised_max, surface[i].hi);
        /* Surface v1 needs no flexible version except ApiVersions v3 (decode only). */
        assert_true(a->advertised_max < a->flexible_min);
    }
    struct proto_api_versions_response_key keys[64];
    size_t n = proto_api_versions_fill(keys, 64);
    assert_int_equal(n, 28);
    for (size_t i = 1; i < n; i++) assert_true(keys[i - 1].api_key < keys[i].api_key);
    assert_null(proto_api_find(4)); /* LeaderAndIsr: not ours. */
}

/* --- the internal KRaft / controller APIs --------------------------------------------- */

/* Encodes `body` as a request of (key, v 0) and decodes it back into `arena`. */
static void *kraft_request_roundtrip(struct test_proto_io *t, struct proto_arena *arena,
                                     int16_t key, const void *body) {
    struct proto_writer w;
    proto_writer_init(&w, &t->io, 1 << 16);
    struct proto_request_header h = {.api_key = key, .api_version = 0, .correlation_id = 42,
                                      .client_id = PROTO_STR("n1")};
    assert_int_equal(proto_request_encode(&w, &h, body), 0);
    /* Written bytes survive the writer: decode from a copy in the arena. */
    uint8_t *copy = proto_arena_alloc(arena, w.len);
    memcpy(copy, w.buf, w.len);
    size_t len = w.len;
    proto_writer_destroy(&w);
    struct proto_request_header back;
    void *out = NULL;
    assert_int_equal(proto_request_decode(arena, copy + 4, len - 4, &back, &out), 0);
    assert_int_equal(back.api_key, key);
    assert_int_equal(back.correlation_id, 42);
    return out;
}

static void *kraft_response_roundtrip(struct test_proto_io *t, struct proto_arena *arena,
                                      int16_t key, const void *body) {
    struct proto_writer w;
    proto_writer_init(&w, &t->io, 1 << 16);
    struct proto_response_header h = {.correlation_id = 43};
    assert_int_equal(proto_response_encode(&w, key, 0, &h, body), 0);
    uint8_t *copy = proto_arena_alloc(arena, w.len);
    memcpy(copy, w.buf, w.len);
    size_t len = w.len;
    proto_writer_destroy(&w);
    struct proto_response_header back;
    void *out = NULL;
    assert_int_equal(proto_response_decode(arena, copy + 4, len - 4, key, 0, &back, &out), 0);
    assert_int_equal(back.correlation_id, 43);
    return out;
}

static void test_kraft_apis_internal(void **state) {
    (void)state;
    const int16_t keys[] = {52, 53, 54, 55, 56, 62, 63};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct proto_api *a = proto_api_find(keys[i]);
        assert_non_null(a);
        assert_true(a->internal);
        assert_int_equal(a->version_min, 0);
        assert_int_equal(a->version_max, 0);
        /* Kafka: only BeginQuorumEpoch and EndQuorumEpoch v0 predate flexible versions. */
        bool flexible = keys[i] != 53 && keys[i] != 54;
        assert_int_equal(proto_api_is_flexible(a, 0), flexible);
        assert_int_equal(proto_request_header_version(a, 0), flexible ? 2 : 1);
    }
    /* Clients keep seeing the surface-v1 table: no internal key in ApiVersions. */
    struct proto_api_versions_response_key adv[64];
    size_t n = proto_api_versions_fill(adv, 64);
    assert_int_equal(n, 28);
    for (size_t i = 0; i < n; i++) assert_true(adv[i].api_key < 52);
    size_t count;
    const struct proto_api *apis = proto_apis(&count);
    for (size_t i = 1; i < count; i++) assert_true(apis[i - 1].key < apis[i].key);
}

static void test_kraft_apis_values(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    struct proto_arena a;
    proto_arena_init(&a, &t.io, 1 << 20);

    /* Vote: a candidate's claim (epoch, id, last epoch and offset) and the answer. */
    struct proto_vote_request_partition vp = {.partition_index = 0, .candidate_epoch = 7,
                                              .candidate_id = 2, .last_offset_epoch = 6,
                                              .last_offset = 1234567890123LL};
    struct proto_vote_request_topic vt = {.topic_name = PROTO_STR("__cluster_metadata"),
                                          .partitions = {.items = &vp, .count = 1}};
    struct proto_vote_request vr = {.cluster_id = PROTO_STR_NULL,
                                    .topics = {.items = &vt, .count = 1}};
    struct proto_vote_request *vr2 = kraft_request_roundtrip(&t, &a, PROTO_API_VOTE, &vr);
    assert_int_equal(vr2->cluster_id.len, -1);
    assert_int_equal(vr2->topics.count, 1);
    assert_true(proto_string_eq(vr2->topics.items[0].topic_name, "__cluster_metadata"));
    assert_int_equal(vr2->topics.items[0].partitions.count, 1);
    assert_int_equal(vr2->topics.items[0].partitions.items[0].candidate_epoch, 7);
    assert_int_equal(vr2->topics.items[0].partitions.items[0].candidate_id, 2);
    assert_int_equal(vr2->topics.items[0].partitions.items[0].last_offset_epoch, 6);
    assert_int_equal(vr2->topics.items[0].partitions.items[0].last_offset, 1234567890123LL);
    struct proto_vote_response_partition vrp = {.partition_index = 0, .error_code = 0,
                                                .leader_id = -1, .leader_epoch = 7,
                                                .vote_granted = true};
    struct proto_vote_response_topic vrt = {.topic_name = PROTO_STR("__cluster_metadata"),
                                            .partitions = {.items = &vrp, .count = 1}};
    struct proto_vote_response vres = {.error_code = 0, .topics = {.items = &vrt, .count = 1}};
    struct proto_vote_response *vres2 =
        kraft_response_roundtrip(&t, &a, PROTO_API_VOTE, &vres);
    assert_true(vres2->topics.items[0].partitions.items[0].vote_granted);
    assert_int_equal(vres2->topics.items[0].partitions.items[0].leader_id, -1);
    assert_int_equal(vres2->topics.items[0].partitions.items[0].leader_epoch, 7);

    /* EndQuorumEpoch v0 carries the preferred successors. */
    int32_t succ[] = {3, 1};
    struct proto_end_quorum_epoch_request_partition ep = {
        .partition_index = 0, .leader_id = 2, .leader_epoch = 9,
        .preferred_successors = {.items = succ, .count = 2}};
    struct proto_end_quorum_epoch_request_topic et = {.topic_name = PROTO_STR("m"),
                                                      .partitions = {.items = &ep, .count = 1}};
    struct proto_end_quorum_epoch_request er = {.cluster_id = PROTO_STR("c1"),
                                                .topics = {.items = &et, .count = 1}};
    struct proto_end_quorum_epoch_request *er2 =
        kraft_request_roundtrip(&t, &a, PROTO_API_END_QUORUM_EPOCH, &er);
    assert_true(proto_string_eq(er2->cluster_id, "c1"));
    assert_int_equal(er2->topics.items[0].partitions.items[0].preferred_successors.count, 2);
    assert_int_equal(er2->topics.items[0].partitions.items[0].preferred_successors.items[1], 1);

    /* DescribeQuorum: voters' states in the answer. */
    struct proto_describe_quorum_replica_state voters[] = {{.replica_id = 1, .log_end_offset = 10},
                                                           {.replica_id = 2, .log_end_offset = -1}};
    struct proto_describe_quorum_response_partition dp = {
        .partition_index = 0, .leader_id = 1, .leader_epoch = 4, .high_watermark = 9,
        .current_voters = {.items = voters, .count = 2}, .observers = {.count = 0}};
    struct proto_describe_quorum_response_topic dt = {.topic_name = PROTO_STR("m"),
                                                      .partitions = {.items = &dp, .count = 1}};
    struct proto_describe_quorum_response dr = {.topics = {.items = &dt, .count = 1}};
    struct proto_describe_quorum_response *dr2 =
        kraft_response_roundtrip(&t, &a, PROTO_API_DESCRIBE_QUORUM, &dr);
    const struct proto_describe_quorum_response_partition *dp2 =
        &dr2->topics.items[0].partitions.items[0];
    assert_int_equal(dp2->high_watermark, 9);
    assert_int_equal(dp2->current_voters.count, 2);
    assert_int_equal(dp2->current_voters.items[1].log_end_offset, -1);
    assert_int_equal(dp2->observers.count, 0);

    /* AlterPartition v0 names topics (v2 switched to ids). */
    int32_t isr[] = {1, 2, 3};
    struct proto_alter_partition_request_partition ap = {
        .partition_index = 5, .leader_epoch = 3, .new_isr = {.items = isr, .count = 3},
        .partition_epoch = 11};
    struct proto_alter_partition_request_topic at = {.topic_name = PROTO_STR("orders"),
                                                     .partitions = {.items = &ap, .count = 1}};
    struct proto_alter_partition_request ar = {.broker_id = 1, .broker_epoch = 77,
                                               .topics = {.items = &at, .count = 1}};
    struct proto_alter_partition_request *ar2 =
        kraft_request_roundtrip(&t, &a, PROTO_API_ALTER_PARTITION, &ar);
    assert_int_equal(ar2->broker_epoch, 77);
    assert_true(proto_string_eq(ar2->topics.items[0].topic_name, "orders"));
    assert_int_equal(ar2->topics.items[0].partitions.items[0].new_isr.items[2], 3);
    assert_int_equal(ar2->topics.items[0].partitions.items[0].partition_epoch, 11);

    /* BrokerRegistration: the port is Kafka's uint16 (cast through int16). */
    struct proto_broker_registration_listener l = {.name = PROTO_STR("PLAINTEXT"),
                                                   .host = PROTO_STR("n1"),
                                                   .port = (int16_t)(uint16_t)40000,
                                                   .security_protocol = 0};
    struct proto_broker_registration_request br = {
        .broker_id = 4, .cluster_id = PROTO_STR("trial"),
        .incarnation_id = {.bytes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
        .listeners = {.items = &l, .count = 1}, .features = {.count = 0},
        .rack = PROTO_STR_NULL};
    struct proto_broker_registration_request *br2 =
        kraft_request_roundtrip(&t, &a, PROTO_API_BROKER_REGISTRATION, &br);
    assert_int_equal((uint16_t)br2->listeners.items[0].port, 40000);
    assert_int_equal(br2->incarnation_id.bytes[15], 16);
    assert_int_equal(br2->rack.len, -1);
    struct proto_broker_registration_response brr = {.error_code = 0, .broker_epoch = 123};
    struct proto_broker_registration_response *brr2 =
        kraft_response_roundtrip(&t, &a, PROTO_API_BROKER_REGISTRATION, &brr);
    assert_int_equal(brr2->broker_epoch, 123);

    /* BrokerHeartbeat response defaults: not caught up, fenced (Kafka's defaults). */
    struct proto_broker_heartbeat_response hb;
    proto_schema_defaults(&proto_schema_broker_heartbeat_response, 0, &hb);
    assert_false(hb.is_caught_up);
    assert_true(hb.is_fenced);
    hb.is_caught_up = true;
    hb.is_fenced = false;
    struct proto_broker_heartbeat_response *hb2 =
        kraft_response_roundtrip(&t, &a, PROTO_API_BROKER_HEARTBEAT, &hb);
    assert_true(hb2->is_caught_up);
    assert_false(hb2->is_fenced);
    assert_false(hb2->should_shut_down);

    proto_arena_destroy(&a);
    assert_int_equal(t.live_bytes, 0);
}

/* BrokerHeartbeat v0 request, flexible: header v2 (empty tags after the client id), then
 * the body and its empty tag section. */
static void test_broker_heartbeat_v0_request_bytes(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    struct proto_broker_heartbeat_request body = {.broker_id = 2, .broker_epoch = 5,
                                                  .current_metadata_offset = 258,
                                                  .want_fence = false, .want_shut_down = true};
    struct proto_request_header h = {.api_key = 63, .api_version = 0, .correlation_id = 1,
                                     .client_id = PROTO_STR("b")};
    struct proto_writer w;
    proto_writer_init(&w, &t.io, 4096);
    assert_int_equal(proto_request_encode(&w, &h, &body), 0);
    const uint8_t expect[] = {0, 0, 0, 35,            /* size */
                              0, 63, 0, 0,            /* BrokerHeartbeat v0 */
                              0, 0, 0, 1,             /* correlation id */
                              0, 1, 'b',              /* client id (never compact) */
                              0,                      /* header tags */
                              0, 0, 0, 2,             /* broker id */
                              0, 0, 0, 0, 0, 0, 0, 5, /* broker epoch */
                              0, 0, 0, 0, 0, 0, 1, 2, /* current metadata offset */
                              0, 1,                   /* want fence, want shut down */
                              0};                     /* body tags */
    assert_int_equal(w.len, sizeof(expect));
    assert_memory_equal(w.buf, expect, sizeof(expect));
    proto_writer_destroy(&w);
    assert_int_equal(t.live_bytes, 0);
}

/* --- exact bytes ------------------------------------------------------------------------ */

static void test_metadata_v0_request_bytes(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    struct proto_metadata_request_topic topic = {.name = PROTO_STR("t1")};
    struct proto_metadata_request body = {.topics = {.items = &topic, .count = 1}};
    struct proto_request_header h = {.api_key = 3, .api_version = 0, .correlation_id = 7,
                                     .client_id = PROTO_STR("c")};
    struct proto_writer w;
    proto_writer_init(&w, &t.io, 4096);
    assert_int_equal(proto_request_encode(&w, &h, &body), 0);
    const uint8_t expect[] = {0, 0, 0, 19,   /* size */
                              0, 3, 0, 0,    /* Metadata v0 */
                              0, 0, 0, 7,    /* correlation id */
                              0, 1, 'c',     /* client id */
                              0, 0, 0, 1,    /* one topic */
                              0, 2, 't', '1'};
    assert_int_equal(w.len, sizeof(expect));
    assert_memory_equal(w.buf, expect, sizeof(expect));
    proto_writer_destroy(&w);
    assert_int_equal(t.live_bytes, 0);
}

static void test_api_versions_unsupported_reply(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    /* An ApiVersions v9 request from a future client. */
    const uint8_t req[] = {0, 18, 0, 9, 0, 0, 0, 5, 0, 2, 'r', 'k', 0x00, 0x00};
    struct proto_arena a;
    proto_arena_init(&a, &t.io, 1 << 16);
    struct proto_request_header h;
    void *body = (void *)1;
    assert_int_equal(proto_request_decode(&a, req, sizeof(req), &h, &body), PROTO_ERR_UNSUPPORTED);
    assert_null(body);
    assert_int_equal(h.api_key, 18);
    assert_int_equal(h.api_version, 9);
    assert_int_equal(h.correlation_id, 5);
    assert_true(proto_string_eq(h.client_id, "rk"));

    struct proto_writer w;
    proto_writer_init(&w, &t.io, 4096);
    assert_int_equal(proto_api_versions_unsupported_encode(&w, h.correlation_id), 0);
    const uint8_t expect[] = {0, 0, 0, 16, /* size */
                              0, 0, 0, 5,  /* correlation id, header v0 */
                              0, 35,       /* UNSUPPORTED_VERSION */
                              0, 0, 0, 1,  /* one api key */
                              0, 18, 0, 0, 0, 2};
    assert_int_equal(w.len, sizeof(expect));
    assert_memory_equal(w.buf, expect, sizeof(expect));

    /* Client side: the error-35 reply to our v3 request decodes (read as v0). */
    struct proto_api_versions_response *back = NULL;
    struct proto_response_header back_h;
    assert_int_equal(proto_response_decode(&a, w.buf + 4, w.len - 4, 18, 3, &back_h,
                                           (void **)&back),
                     0);
    assert_int_equal(back_h.correlation_id, 5);
    assert_int_equal(back->error_code, 35);
    assert_int_equal(back->api_keys.count, 1);
    assert_int_equal(back->api_keys.items[0].max_version, 2);
    proto_writer_destroy(&w);

    /* ApiVersions v3 (flexible) answers with header v0: no tagged byte after the id. */
    struct proto_api_versions_response_key keys[64];
    struct proto_api_versions_response resp = {.error_code = 0};
    resp.api_keys.items = keys;
    resp.api_keys.count = (int32_t)proto_api_versions_fill(keys, 64);
    proto_writer_init(&w, &t.io, 4096);
    struct proto_response_header rh = {.correlation_id = 1};
    assert_int_equal(proto_response_encode(&w, 18, 3, &rh, &resp), 0);
    assert_int_equal(w.buf[8], 0);  /* error code hi byte right after the id */
    assert_int_equal(w.buf[10], 29); /* compact array: 28 keys + 1 */
    proto_writer_destroy(&w);
    proto_arena_destroy(&a);
    assert_int_equal(t.live_bytes, 0);
}

static void test_unknown_api_and_version(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    struct proto_arena a;
    proto_arena_init(&a, &t.io, 1 << 16);
    struct proto_request_header h;
    void *body;
    const uint8_t unknown[] = {0, 99, 0, 0, 0, 0, 0, 9, 0xff, 0xff};
    assert_int_equal(proto_request_decode(&a, unknown, sizeof(unknown), &h, &body),
                     PROTO_ERR_UNKNOWN_API);
    assert_int_equal(h.api_key, 99);
    assert_int_equal(h.correlation_id, 9);
    assert_int_equal(h.client_id.len, -1);
    /* Produce v2 (magic 0/1 era) is below our range. */
    const uint8_t old[] = {0, 0, 0, 2, 0, 0, 0, 10, 0xff, 0xff};
    assert_int_equal(proto_request_decode(&a, old, sizeof(old), &h, &body), PROTO_ERR_UNSUPPORTED);
    assert_int_equal(h.correlation_id, 10);
    /* A header cut short is malformed, not "unknown". */
    assert_int_equal(proto_request_decode(&a, old, 6, &h, &body), PROTO_ERR_MALFORMED);
    proto_arena_destroy(&a);
}

static void test_frame_parse(void **state) {
    (void)state;
    struct proto_frame f;
    const uint8_t two[] = {0, 0, 0, 2, 0xaa, 0xbb, 0xcc};
    assert_int_equal(proto_frame_parse(two, 0, 100, &f), 0);
    assert_int_equal(proto_frame_parse(two, 3, 100, &f), 0);
    assert_int_equal(proto_frame_parse(two, 5, 100, &f), 0);
    assert_int_equal(proto_frame_parse(two, 7, 100, &f), 1);
    assert_int_equal(f.payload_len, 2);
    assert_int_equal(f.frame_len, 6);
    assert_ptr_equal(f.payload, two + 4);
    assert_int_equal(proto_frame_parse(two, 7, 1, &f), PROTO_ERR_TOO_LARGE);
    const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    assert_int_equal(proto_frame_parse(neg, 4, 100, &f), PROTO_ERR_MALFORMED);
    /* 104857601 bytes: one above socket.request.max.bytes, refused before it arrives. */
    const uint8_t big[] = {0x06, 0x40, 0x00, 0x01};
    assert_int_equal(proto_frame_parse(big, 4, PROTO_FRAME_BYTES_MAX_DEFAULT, &f),
                     PROTO_ERR_TOO_LARGE);
}

static void test_bounded_memory(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    /* Produce v3 whose topic array claims 2^31-1 entries: malformed, nothing big allocated. */
    const uint8_t hostile[] = {0, 0, 0, 3, 0, 0, 0, 1, 0xff, 0xff, /* header */
                               0xff, 0xff, 0, 1, 0, 0, 0, 0,       /* txn id, acks, timeout */
                               0x7f, 0xff, 0xff, 0xff, 0, 0};
    struct proto_arena a;
    proto_arena_init(&a, &t.io, 1 << 16);
    struct proto_request_header h;
    void *body;
    assert_int_equal(proto_request_decode(&a, hostile, sizeof(hostile), &h, &body),
                     PROTO_ERR_MALFORMED);
    assert_true(a.used_bytes <= 8192);
    proto_arena_destroy(&a);

    /* A legitimate request larger than the arena limit: -ENOMEM. */
    struct proto_writer w;
    proto_writer_init(&w, &t.io, 1 << 20);
    struct proto_string names[2000];
    for (int i = 0; i < 2000; i++) names[i] = PROTO_STR("topic-name-long-enough");
    struct proto_delete_topics_request del = {.topic_names = {.items = names, .count = 2000},
                                              .timeout_ms = 1000};
    struct proto_request_header dh = {.api_key = 20, .api_version = 3, .correlation_id = 1,
                                      .client_id = PROTO_STR("x")};
    assert_int_equal(proto_request_encode(&w, &dh, &del), 0);
    proto_arena_init(&a, &t.io, 16384);
    assert_int_equal(proto_request_decode(&a, w.buf + 4, w.len - 4, &h, &body),
                     PROTO_ERR_NO_MEMORY);
    assert_true(a.used_bytes <= 16384);
    proto_arena_destroy(&a);
    proto_writer_destroy(&w);

    /* The writer bound: the frame is rolled back and the writer stays usable. */
    proto_writer_init(&w, &t.io, 1000);
    assert_int_equal(proto_request_encode(&w, &dh, &del), PROTO_ERR_TOO_LARGE);
    assert_int_equal(w.len, 0);
    assert_int_equal(w.error, 0);
    del.topic_names.count = 2;
    assert_int_equal(proto_request_encode(&w, &dh, &del), 0);
    assert_true(w.len > 0 && w.cap <= 1000);
    proto_writer_destroy(&w);
    assert_int_equal(t.live_bytes, 0);
}

/* A broker decodes request after request in one arena: after the first, small requests cost
 * no allocation, and destroy returns everything. */
static void test_arena_reuse(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    const uint8_t req[] = {0, 18, 0, 0, 0, 0, 0, 1, 0, 1, 'c'}; /* ApiVersions v0 */
    struct proto_arena a;
    proto_arena_init(&a, &t.io, 1 << 16);
    struct proto_request_header h;
    void *body;
    assert_int_equal(proto_request_decode(&a, req, sizeof(req), &h, &body), 0);
    proto_arena_reset(&a);
    size_t allocs = t.alloc_count;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(proto_request_decode(&a, req, sizeof(req), &h, &body), 0);
        assert_true(proto_string_eq(h.client_id, "c"));
        proto_arena_reset(&a);
    }
    assert_int_equal(t.alloc_count, allocs);
    proto_arena_destroy(&a);
    assert_int_equal(a.used_bytes, 0);
    assert_int_equal(t.live_bytes, 0);
}

static void test_flexible_request_header(void **state) {
    (void)state;
    struct test_proto_io t;
    test_proto_io_init(&t);
    /* ApiVersions v3 as librdkafka sends it: header v2 (tagged section), compact strings. */
    const uint8_t req[] = {0, 18, 0, 3, 0, 0, 0, 1, 0, 7, 'r', 'd', 'k', 'a', 'f', 'k', 'a',
                           0x00,                                  /* header tags */
                           0x0b, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a',
                           0x06, '2', '.', '0', '.', '2', 0x00}; /* body tags */
    struct proto_arena a;
    proto_arena_init(&a, &t.io, 1 << 16);
    struct proto_request_header h;
    void *body;
    assert_int_equal(proto_request_decode(&a, req, sizeof(req), &h, &body), 0);
    struct proto_api_versions_request *av = body;
    assert_true(proto_string_eq(av->client_software_name, "librdkafka"));
    assert_true(proto_string_eq(av->client_software_version, "2.0.2"));
    assert_true(proto_string_eq(h.client_id, "rdkafka"));
    proto_arena_destroy(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_known_bytes),
        cmocka_unit_test(test_fixed_width_and_uuid),
        cmocka_unit_test(test_reader_rejects_bad_input),
        cmocka_unit_test(test_compact_and_tagged),
        cmocka_unit_test(test_api_table_matches_surface),
        cmocka_unit_test(test_kraft_apis_internal),
        cmocka_unit_test(test_kraft_apis_values),
        cmocka_unit_test(test_broker_heartbeat_v0_request_bytes),
        cmocka_unit_test(test_defaults_encode_at_every_version),
        cmocka_unit_test(test_roundtrip_every_api_every_version),
        cmocka_unit_test(test_metadata_v0_request_bytes),
        cmocka_unit_test(test_api_versions_unsupported_reply),
        cmocka_unit_test(test_unknown_api_and_version),
        cmocka_unit_test(test_frame_parse),
        cmocka_unit_test(test_bounded_memory),
        cmocka_unit_test(test_arena_reuse),
        cmocka_unit_test(test_flexible_request_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
