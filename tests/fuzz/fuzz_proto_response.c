/*
 * fuzz_proto_response.c — libFuzzer target for the client's side of the wire codec: our
 * client, trialctl and follower fetchers decode responses from peers that may be broken.
 *
 * Input: byte 0 picks an API from the table, byte 1 a version within its codec range, the
 * rest is the response payload. Checks: no crash or sanitizer report, a successful decode
 * re-encodes to at most the bytes it consumed (ApiVersions' v0 fallback aside) and encoding
 * is a fixed point after one decode, and memory is bounded and fully returned.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "tests/unit/test_proto_io.h"

#define ARENA_LIMIT_BYTES (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t count;
    const struct proto_api *apis = proto_apis(&count);
    const struct proto_api *api = &apis[data[0] % count];
    int16_t version =
        (int16_t)(api->version_min + data[1] % (api->version_max - api->version_min + 1));
    struct test_proto_io t;
    test_proto_io_init(&t);
    struct proto_arena arena;
    proto_arena_init(&arena, &t.io, ARENA_LIMIT_BYTES);
    struct proto_response_header h;
    void *body = NULL;
    int rc = proto_response_decode(&arena, data + 2, size - 2, api->key, version, &h, &body);
    if (rc == 0) {
        /* Encoding is a fixed point after one decode. Raw bytes may differ legitimately:
         * a bool byte 2 re-encodes as 1, and skipped tagged fields are not written back. */
        struct proto_writer w1, w2;
        proto_writer_init(&w1, &t.io, 1u << 28);
        proto_writer_init(&w2, &t.io, 1u << 28);
        if (proto_response_encode(&w1, api->key, version, &h, body) != 0) abort();
        struct proto_arena arena2;
        proto_arena_init(&arena2, &t.io, 8 * ARENA_LIMIT_BYTES);
        struct proto_response_header h2;
        void *body2 = NULL;
        if (proto_response_decode(&arena2, w1.buf + 4, w1.len - 4, api->key, version, &h2,
                                  &body2) != 0) {
            abort();
        }
        if (proto_response_encode(&w2, api->key, version, &h2, body2) != 0) abort();
        if (w1.len != w2.len || memcmp(w1.buf, w2.buf, w1.len) != 0) abort();
        /* Never longer than what was read, except an ApiVersions error reply read as v0 and
         * written back at the requested version (proto_response_decode's KIP-511 fallback). */
        if (w1.len - 4 > size - 2 && api->key != PROTO_API_API_VERSIONS) abort();
        proto_arena_destroy(&arena2);
        proto_writer_destroy(&w1);
        proto_writer_destroy(&w2);
    }
    proto_arena_destroy(&arena);
    if (t.live_bytes != 0) abort();
    return 0;
}
