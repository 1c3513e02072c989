/*
 * proto.h — Trial's Kafka wire codec: framing, request/response headers and the bodies of
 * every API of PROTOCOL.md's surface-v1 table, in both directions.
 *
 *  - Broker side: proto_frame_parse() finds a complete size-prefixed frame in the bytes read
 *    so far; proto_request_decode() turns it into a header and a body struct allocated from
 *    a per-request arena; proto_response_encode() writes a whole response frame.
 *  - Client side (our client library, trialctl, broker-to-broker): proto_request_encode()
 *    and proto_response_decode().
 *
 * Bodies are the plain structs of proto_messages.h (struct proto_produce_request, ...); a
 * body pointer is `void *` here and its type is given by the API key: see proto_api_find().
 *
 * Errors (negative errno, Kafka error codes are data, never C errors):
 *   PROTO_ERR_MALFORMED      -EBADMSG  truncated or inconsistent bytes, trailing bytes
 *   PROTO_ERR_UNKNOWN_API    -ENOSYS   an API key this codec does not know
 *   PROTO_ERR_UNSUPPORTED    -ENOTSUP  a known API at a version outside the codec's range
 *   PROTO_ERR_TOO_LARGE      -EMSGSIZE frame above the maximum, or writer limit reached
 *   PROTO_ERR_NO_MEMORY      -ENOMEM   the arena's limit was reached while decoding
 *   -EINVAL                  encode: a null where the version does not allow it
 * For UNKNOWN_API and UNSUPPORTED the request header has been decoded (api key, version,
 * correlation id, client id), so the broker can answer UNSUPPORTED_VERSION (35) — for
 * ApiVersions with proto_api_versions_unsupported_encode() — or close the connection.
 */
#ifndef TRIAL_PROTO_H
#define TRIAL_PROTO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto_messages.h"
#include "proto/proto_schema.h"
#include "proto/proto_wire.h"

#define PROTO_ERR_MALFORMED (-EBADMSG)
#define PROTO_ERR_UNKNOWN_API (-ENOSYS)
#define PROTO_ERR_UNSUPPORTED (-ENOTSUP)
#define PROTO_ERR_TOO_LARGE (-EMSGSIZE)
#define PROTO_ERR_NO_MEMORY (-ENOMEM)

/* socket.request.max.bytes default: the largest request frame the broker accepts. */
#define PROTO_FRAME_BYTES_MAX_DEFAULT 104857600u
/* Kafka error code UNSUPPORTED_VERSION. */
#define PROTO_KAFKA_UNSUPPORTED_VERSION 35

enum proto_api_key {
    PROTO_API_PRODUCE = 0,
    PROTO_API_FETCH = 1,
    PROTO_API_LIST_OFFSETS = 2,
    PROTO_API_METADATA = 3,
    PROTO_API_OFFSET_COMMIT = 8,
    PROTO_API_OFFSET_FETCH = 9,
    PROTO_API_FIND_COORDINATOR = 10,
    PROTO_API_JOIN_GROUP = 11,
    PROTO_API_HEARTBEAT = 12,
    PROTO_API_LEAVE_GROUP = 13,
    PROTO_API_SYNC_GROUP = 14,
    PROTO_API_DESCRIBE_GROUPS = 15,
    PROTO_API_LIST_GROUPS = 16,
    PROTO_API_SASL_HANDSHAKE = 17,
    PROTO_API_API_VERSIONS = 18,
    PROTO_API_CREATE_TOPICS = 19,
    PROTO_API_DELETE_TOPICS = 20,
    PROTO_API_DELETE_RECORDS = 21,
    PROTO_API_INIT_PRODUCER_ID = 22,
    PROTO_API_OFFSET_FOR_LEADER_EPOCH = 23,
    PROTO_API_ADD_PARTITIONS_TO_TXN = 24,
    PROTO_API_ADD_OFFSETS_TO_TXN = 25,
    PROTO_API_END_TXN = 26,
    PROTO_API_TXN_OFFSET_COMMIT = 28,
    PROTO_API_DESCRIBE_CONFIGS = 32,
    PROTO_API_ALTER_CONFIGS = 33,
    PROTO_API_SASL_AUTHENTICATE = 36,
    PROTO_API_CREATE_PARTITIONS = 37,
    /* The KRaft / controller APIs: internal, never advertised in ApiVersions. */
    PROTO_API_VOTE = 52,
    PROTO_API_BEGIN_QUORUM_EPOCH = 53,
    PROTO_API_END_QUORUM_EPOCH = 54,
    PROTO_API_DESCRIBE_QUORUM = 55,
    PROTO_API_ALTER_PARTITION = 56,
    PROTO_API_BROKER_REGISTRATION = 62,
    PROTO_API_BROKER_HEARTBEAT = 63,
};

/* One API: what the codec can decode/encode and what the broker advertises. */
struct proto_api {
    int16_t key;                          /* enum proto_api_key. */
    const char *name;                     /* Kafka's name, e.g. "Produce". */
    int16_t version_min;                  /* Codec range (inclusive). */
    int16_t version_max;
    int16_t advertised_min;               /* Range to put in ApiVersions responses. */
    int16_t advertised_max;
    int16_t flexible_min;                 /* First KIP-482 version; INT16_MAX = none yet. */
    const struct proto_schema *request;   /* Body schemas. */
    const struct proto_schema *response;
    /* Spoken only between brokers and controllers (Raft, registration, AlterPartition):
     * left out of ApiVersions responses so clients keep seeing the surface-v1 table. */
    bool internal;
};

/* The table, ordered by key; stable for the life of the process. */
const struct proto_api *proto_apis(size_t *count);
/* The API with this key, or NULL. */
const struct proto_api *proto_api_find(int16_t key);
bool proto_api_is_flexible(const struct proto_api *api, int16_t version);
/* Fills `keys` (capacity `cap`) with the advertised ranges in key order, internal APIs left
 * out; returns the count. */
size_t proto_api_versions_fill(struct proto_api_versions_response_key *keys, size_t cap);

/* Request header v1 (v2 adds an empty tagged-field section for flexible requests). */
struct proto_request_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    struct proto_string client_id; /* Nullable; decoded into the arena. */
};

/* Response header v0 (v1 adds tagged fields; never for ApiVersions). */
struct proto_response_header {
    int32_t correlation_id;
};

/* Frames: int32 size + payload. */
struct proto_frame {
    const uint8_t *payload; /* Points into the caller's buffer. */
    size_t payload_len;
    size_t frame_len;       /* 4 + payload_len: bytes to consume. */
};
/*
 * Looks for one complete frame at the start of buf[0..len). Returns 1 and fills `frame`,
 * 0 if more bytes are needed, PROTO_ERR_TOO_LARGE for a size above max_payload_bytes, or
 * PROTO_ERR_MALFORMED for a negative size. Never reads beyond len.
 */
int proto_frame_parse(const uint8_t *buf, size_t len, size_t max_payload_bytes,
                      struct proto_frame *frame);

/*
 * Decodes a request frame payload (without the size prefix) into `*header` and a body struct
 * allocated in `arena` (`*body`, typed by header->api_key). Strings are copied into the arena;
 * record sets point into `payload`, which must outlive the body. On error `*body` is NULL and
 * the arena may hold partial allocations (reset it).
 */
int proto_request_decode(struct proto_arena *arena, const uint8_t *payload, size_t len,
                         struct proto_request_header *header, void **body);
/* Appends a whole request frame (size, header, body) to `w`. Returns 0 or an error. */
int proto_request_encode(struct proto_writer *w, const struct proto_request_header *header,
                         const void *body);
/* Appends a whole response frame for (api_key, version). Returns 0 or an error. */
int proto_response_encode(struct proto_writer *w, int16_t api_key, int16_t api_version,
                          const struct proto_response_header *header, const void *body);
/* Decodes a response payload; the caller knows (api_key, version) from its correlation id.
 * An ApiVersions response that does not parse at the requested version is read as v0 and
 * accepted if it carries error 35: that is how a broker answers a version it does not
 * support (with its own ApiVersions range). */
int proto_response_decode(struct proto_arena *arena, const uint8_t *payload, size_t len,
                          int16_t api_key, int16_t api_version,
                          struct proto_response_header *header, void **body);

/*
 * The answer to an ApiVersions request whose version we do not support: a v0-format body with
 * error 35 and only ApiVersions' own range, so the client retries with a version we know
 * (KIP-511 behaviour that librdkafka relies on).
 */
int proto_api_versions_unsupported_encode(struct proto_writer *w, int32_t correlation_id);

/* The request header version for a request (1 or 2) and response header version (0 or 1). */
int proto_request_header_version(const struct proto_api *api, int16_t version);
int proto_response_header_version(const struct proto_api *api, int16_t version);

#endif /* TRIAL_PROTO_H */
