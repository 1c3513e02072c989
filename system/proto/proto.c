/*
 * proto.c — the API table, framing, and the request/response header logic that wraps the
 * generic body codec (proto_schema.c).
 *
 * The table below is the single place that says which versions of which API we speak. The
 * codec range may be wider than what the broker advertises: ApiVersions v3 decodes (so the
 * first request of librdkafka is understood) while PROTOCOL.md's surface v1 advertises 0-2,
 * and InitProducerId 2-4 (flexible; KIP-360 epoch bump) decode ahead of being advertised.
 * APIs marked internal (the KRaft and broker-to-controller ones) are spoken between our own
 * nodes only and never appear in ApiVersions.
 */
#include "proto/proto.h"

#include <string.h>

#include "base/base.h"

#define NO_FLEX INT16_MAX

#define API(k, n, lo, hi, alo, ahi, flex, req, resp)                                           \
    {.key = (k),                                                                               \
     .name = (n),                                                                              \
     .version_min = (lo),                                                                      \
     .version_max = (hi),                                                                      \
     .advertised_min = (alo),                                                                  \
     .advertised_max = (ahi),                                                                  \
     .flexible_min = (flex),                                                                   \
     .request = &proto_schema_##req,                                                           \
     .response = &proto_schema_##resp,                                                         \
     .internal = false}
/* An API between brokers and controllers: the codec speaks it, ApiVersions never lists it. */
#define API_INTERNAL(k, n, lo, hi, flex, req, resp)                                            \
    {.key = (k),                                                                               \
     .name = (n),                                                                              \
     .version_min = (lo),                                                                      \
     .version_max = (hi),                                                                      \
     .advertised_min = (lo),                                                                   \
     .advertised_max = (hi),                                                                   \
     .flexible_min = (flex),                                                                   \
     .request = &proto_schema_##req,                                                           \
     .response = &proto_schema_##resp,                                                         \
     .internal = true}

/* Ordered by key. Advertised minimums stay at 0 where librdkafka gates features on them
 * (PROTOCOL.md, "How clients choose versions"). */
static const struct proto_api api_table[] = {
    API(0, "Produce", 3, 7, 3, 7, 9, produce_request, produce_response),
    API(1, "Fetch", 4, 11, 4, 11, 12, fetch_request, fetch_response),
    API(2, "ListOffsets", 0, 4, 0, 4, 6, list_offsets_request, list_offsets_response),
    API(3, "Metadata", 0, 8, 0, 8, 9, metadata_request, metadata_response),
    API(8, "OffsetCommit", 0, 7, 0, 7, 8, offset_commit_request, offset_commit_response),
    API(9, "OffsetFetch", 1, 5, 1, 5, 6, offset_fetch_request, offset_fetch_response),
    API(10, "FindCoordinator", 0, 2, 0, 2, 3, find_coordinator_request,
        find_coordinator_response),
    API(11, "JoinGroup", 0, 5, 0, 5, 6, join_group_request, join_group_response),
    API(12, "Heartbeat", 0, 3, 0, 3, 4, heartbeat_request, heartbeat_response),
    API(13, "LeaveGroup", 0, 3, 0, 3, 4, leave_group_request, leave_group_response),
    API(14, "SyncGroup", 0, 3, 0, 3, 4, sync_group_request, sync_group_response),
    API(15, "DescribeGroups", 0, 4, 0, 4, 5, describe_groups_request, describe_groups_response),
    API(16, "ListGroups", 0, 2, 0, 2, 3, list_groups_request, list_groups_response),
    API(17, "SaslHandshake", 0, 1, 0, 1, NO_FLEX, sasl_handshake_request,
        sasl_handshake_response),
    API(18, "ApiVersions", 0, 3, 0, 2, 3, api_versions_request, api_versions_response),
    API(19, "CreateTopics", 0, 4, 0, 4, 5, create_topics_request, create_topics_response),
    API(20, "DeleteTopics", 0, 3, 0, 3, 4, delete_topics_request, delete_topics_response),
    API(21, "DeleteRecords", 0, 1, 0, 1, 2, delete_records_request, delete_records_response),
    API(22, "InitProducerId", 0, 4, 0, 1, 2, init_producer_id_request,
        init_producer_id_response),
    API(23, "OffsetForLeaderEpoch", 0, 3, 0, 3, 4, offset_for_leader_epoch_request,
        offset_for_leader_epoch_response),
    API(24, "AddPartitionsToTxn", 0, 1, 0, 1, 3, add_partitions_to_txn_request,
        add_partitions_to_txn_response),
    API(25, "AddOffsetsToTxn", 0, 1, 0, 1, 3, add_offsets_to_txn_request,
        add_offsets_to_txn_response),
    API(26, "EndTxn", 0, 1, 0, 1, 3, end_txn_request, end_txn_response),
    API(28, "TxnOffsetCommit", 0, 2, 0, 2, 3, txn_offset_commit_request,
        txn_offset_commit_response),
    API(32, "DescribeConfigs", 0, 2, 0, 2, 4, describe_configs_request,
        describe_configs_response),
    API(33, "AlterConfigs", 0, 1, 0, 1, 2, alter_configs_request, alter_configs_response),
    API(36, "SaslAuthenticate", 0, 1, 0, 1, 2, sasl_authenticate_request,
        sasl_authenticate_response),
    API(37, "CreatePartitions", 0, 1, 0, 1, 2, create_partitions_request,
        create_partitions_response),
    /* KRaft (KIP-595; BeginQuorumEpoch and EndQuorumEpoch v0 are not flexible) and the
     * broker-to-controller APIs (KIP-631, AlterPartition KIP-497 with topic names). */
    API_INTERNAL(52, "Vote", 0, 0, 0, vote_request, vote_response),
    API_INTERNAL(53, "BeginQuorumEpoch", 0, 0, NO_FLEX, begin_quorum_epoch_request,
                 begin_quorum_epoch_response),
    API_INTERNAL(54, "EndQuorumEpoch", 0, 0, NO_FLEX, end_quorum_epoch_request,
                 end_quorum_epoch_response),
    API_INTERNAL(55, "DescribeQuorum", 0, 0, 0, describe_quorum_request,
                 describe_quorum_response),
    API_INTERNAL(56, "AlterPartition", 0, 0, 0, alter_partition_request,
                 alter_partition_response),
    API_INTERNAL(62, "BrokerRegistration", 0, 0, 0, broker_registration_request,
                 broker_registration_response),
    API_INTERNAL(63, "BrokerHeartbeat", 0, 0, 0, broker_heartbeat_request,
                 broker_heartbeat_response),
};

const struct proto_api *proto_apis(size_t *count) {
    ASSERT(count != NULL);
    *count = ARRAY_LEN(api_table);
    return api_table;
}

const struct proto_api *proto_api_find(int16_t key) {
    for (size_t i = 0; i < ARRAY_LEN(api_table); i++) {
        if (api_table[i].key == key) return &api_table[i];
    }
    return NULL;
}

bool proto_api_is_flexible(const struct proto_api *api, int16_t version) {
    ASSERT(api != NULL);
    return version >= api->flexible_min;
}

size_t proto_api_versions_fill(struct proto_api_versions_response_key *keys, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(api_table) && n < cap; i++) {
        const struct proto_api *a = &api_table[i];
        ASSERT(a->advertised_min >= a->version_min && a->advertised_max <= a->version_max);
        if (a->internal) continue;
        keys[n].api_key = a->key;
        keys[n].min_version = a->advertised_min;
        keys[n].max_version = a->advertised_max;
        n++;
    }
    return n;
}

int proto_request_header_version(const struct proto_api *api, int16_t version) {
    return proto_api_is_flexible(api, version) ? 2 : 1;
}

int proto_response_header_version(const struct proto_api *api, int16_t version) {
    /* KIP-511: ApiVersions responses keep header v0 so that a client that does not yet
     * know our versions can always parse the reply. */
    if (api->key == PROTO_API_API_VERSIONS) return 0;
    return proto_api_is_flexible(api, version) ? 1 : 0;
}

int proto_frame_parse(const uint8_t *buf, size_t len, size_t max_payload_bytes,
                      struct proto_frame *frame) {
    ASSERT(frame != NULL && (buf != NULL || len == 0));
    if (len < 4) return 0;
    int32_t size = (int32_t)(((uint32_t)buf[0] << 24) | ((uint32_t)buf[1] << 16) |
                             ((uint32_t)buf[2] << 8) | buf[3]);
    if (size < 0) return PROTO_ERR_MALFORMED;
    if ((uint64_t)size > max_payload_bytes) return PROTO_ERR_TOO_LARGE;
    if (len - 4 < (size_t)size) return 0;
    frame->payload = buf + 4;
    frame->payload_len = (size_t)size;
    frame->frame_len = 4 + (size_t)size;
    ASSERT(frame->frame_len <= len);
    return 1;
}

/* Decodes one body of `schema` and insists that it used up the payload exactly. */
static int decode_body(struct proto_reader *r, struct proto_arena *arena,
                       const struct proto_schema *schema, int16_t version, bool flexible,
                       void **body) {
    void *out = proto_arena_alloc(arena, schema->size);
    if (out == NULL) return PROTO_ERR_NO_MEMORY;
    proto_schema_decode(r, arena, schema, version, flexible, out);
    if (r->error != 0) return r->error;
    if (proto_reader_remaining(r) != 0) return PROTO_ERR_MALFORMED;
    *body = out;
    return 0;
}

int proto_request_decode(struct proto_arena *arena, const uint8_t *payload, size_t len,
                         struct proto_request_header *header, void **body) {
    ASSERT(arena != NULL && header != NULL && body != NULL);
    *body = NULL;
    memset(header, 0, sizeof(*header));
    struct proto_reader r;
    proto_reader_init(&r, payload, len);
    header->api_key = proto_read_i16(&r);
    header->api_version = proto_read_i16(&r);
    header->correlation_id = proto_read_i32(&r);
    header->client_id = proto_read_string(&r, arena, false, true);
    if (r.error != 0) return r.error;

    const struct proto_api *api = proto_api_find(header->api_key);
    if (api == NULL) return PROTO_ERR_UNKNOWN_API;
    if (header->api_version < api->version_min || header->api_version > api->version_max) {
        return PROTO_ERR_UNSUPPORTED;
    }
    bool flexible = proto_api_is_flexible(api, header->api_version);
    if (flexible) proto_skip_tagged_fields(&r); /* Request header v2. */
    if (r.error != 0) return r.error;
    return decode_body(&r, arena, api->request, header->api_version, flexible, body);
}

/* Ends a frame started at `start`: patches the size, or rolls back on error so the writer
 * can carry on with the next frame. */
static int finish_frame(struct proto_writer *w, size_t start) {
    if (w->error == 0 && w->len - start - 4 > (size_t)INT32_MAX) {
        proto_writer_fail(w, PROTO_ERR_TOO_LARGE);
    }
    if (w->error != 0) {
        int err = w->error;
        w->len = start;
        w->error = 0;
        return err;
    }
    proto_writer_patch_i32(w, start, (int32_t)(w->len - start - 4));
    return 0;
}

int proto_request_encode(struct proto_writer *w, const struct proto_request_header *header,
                         const void *body) {
    ASSERT(w != NULL && header != NULL && body != NULL);
    if (w->error != 0) return w->error;
    const struct proto_api *api = proto_api_find(header->api_key);
    if (api == NULL) return PROTO_ERR_UNKNOWN_API;
    if (header->api_version < api->version_min || header->api_version > api->version_max) {
        return PROTO_ERR_UNSUPPORTED;
    }
    bool flexible = proto_api_is_flexible(api, header->api_version);
    size_t start = w->len;
    proto_write_i32(w, 0);
    proto_write_i16(w, header->api_key);
    proto_write_i16(w, header->api_version);
    proto_write_i32(w, header->correlation_id);
    proto_write_string(w, header->client_id, false, true);
    if (flexible) proto_write_uvarint(w, 0);
    proto_schema_encode(w, api->request, header->api_version, flexible, body);
    return finish_frame(w, start);
}

int proto_response_encode(struct proto_writer *w, int16_t api_key, int16_t api_version,
                          const struct proto_response_header *header, const void *body) {
    ASSERT(w != NULL && header != NULL && body != NULL);
    if (w->error != 0) return w->error;
    const struct proto_api *api = proto_api_find(api_key);
    if (api == NULL) return PROTO_ERR_UNKNOWN_API;
    if (api_version < api->version_min || api_version > api->version_max) {
        return PROTO_ERR_UNSUPPORTED;
    }
    size_t start = w->len;
    proto_write_i32(w, 0);
    proto_write_i32(w, header->correlation_id);
    if (proto_response_header_version(api, api_version) == 1) proto_write_uvarint(w, 0);
    proto_schema_encode(w, api->response, api_version, proto_api_is_flexible(api, api_version),
                        body);
    return finish_frame(w, start);
}

int proto_response_decode(struct proto_arena *arena, const uint8_t *payload, size_t len,
                          int16_t api_key, int16_t api_version,
                          struct proto_response_header *header, void **body) {
    ASSERT(arena != NULL && header != NULL && body != NULL);
    *body = NULL;
    const struct proto_api *api = proto_api_find(api_key);
    if (api == NULL) return PROTO_ERR_UNKNOWN_API;
    if (api_version < api->version_min || api_version > api->version_max) {
        return PROTO_ERR_UNSUPPORTED;
    }
    struct proto_reader r;
    proto_reader_init(&r, payload, len);
    header->correlation_id = proto_read_i32(&r);
    if (proto_response_header_version(api, api_version) == 1) proto_skip_tagged_fields(&r);
    if (r.error != 0) return r.error;
    size_t body_pos = r.pos;
    int rc = decode_body(&r, arena, api->response, api_version,
                         proto_api_is_flexible(api, api_version), body);
    if (rc == PROTO_ERR_MALFORMED && api->key == PROTO_API_API_VERSIONS && api_version > 0) {
        /* A broker that does not know our ApiVersions version answers in v0 format with
         * UNSUPPORTED_VERSION (KIP-511); read it as v0, as Kafka's own client does. */
        proto_reader_init(&r, payload, len);
        r.pos = body_pos;
        rc = decode_body(&r, arena, api->response, 0, false, body);
        /* Only that reply: a cut-short v1+ body must not pass for a v0 one. */
        if (rc == 0 &&
            ((struct proto_api_versions_response *)*body)->error_code !=
                PROTO_KAFKA_UNSUPPORTED_VERSION) {
            *body = NULL;
            rc = PROTO_ERR_MALFORMED;
        }
    }
    return rc;
}

int proto_api_versions_unsupported_encode(struct proto_writer *w, int32_t correlation_id) {
    const struct proto_api *api = proto_api_find(PROTO_API_API_VERSIONS);
    ASSERT(api != NULL);
    struct proto_api_versions_response_key key = {
        .api_key = PROTO_API_API_VERSIONS,
        .min_version = api->advertised_min,
        .max_version = api->advertised_max,
    };
    struct proto_api_versions_response body;
    proto_schema_defaults(api->response, 0, &body);
    body.error_code = PROTO_KAFKA_UNSUPPORTED_VERSION;
    body.api_keys.items = &key;
    body.api_keys.count = 1;
    struct proto_response_header header = {.correlation_id = correlation_id};
    return proto_response_encode(w, PROTO_API_API_VERSIONS, 0, &header, &body);
}
