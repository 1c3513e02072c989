/*
 * fuzz_proto_request.c — libFuzzer target for the broker's side of the wire codec.
 *
 * Input: a request frame (int32 size + payload) or, if the prefix does not frame it, a bare
 * payload. Properties checked beyond "no crash, no ASan/UBSan report":
 *  - decoding never succeeds on bytes it did not consume exactly;
 *  - whatever decodes re-encodes, and the re-encoding decodes to the same bytes again
 *    (encode is a fixed point after one decode), so decode and encode agree on every field;
 *  - the arena never exceeds its limit and every byte allocated is returned.
 * Build and run: see docs/PROTOCOL_CODEC.md ("Fuzzing").
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
    struct test_proto_io t;
    test_proto_io_init(&t);
    struct proto_frame frame;
    const uint8_t *payload = data;
    size_t len = size;
    if (proto_frame_parse(data, size, PROTO_FRAME_BYTES_MAX_DEFAULT, &frame) == 1) {
        payload = frame.payload;
        len = frame.payload_len;
    }
    struct proto_arena arena;
    proto_arena_init(&arena, &t.io, ARENA_LIMIT_BYTES);
    struct proto_request_header h;
    void *body = NULL;
    int rc = proto_request_decode(&arena, payload, len, &h, &body);
    if (arena.used_bytes > ARENA_LIMIT_BYTES) abort();
    if (rc == 0) {
        if (body == NULL) abort();
        struct proto_writer w1, w2;
        proto_writer_init(&w1, &t.io, 1u << 28);
        proto_writer_init(&w2, &t.io, 1u << 28);
        if (proto_request_encode(&w1, &h, body) != 0) abort();
        struct proto_arena arena2;
        proto_arena_init(&arena2, &t.io, 8 * ARENA_LIMIT_BYTES);
        struct proto_request_header h2;
        void *body2 = NULL;
        if (proto_request_decode(&arena2, w1.buf + 4, w1.len - 4, &h2, &body2) != 0) abort();
        if (proto_request_encode(&w2, &h2, body2) != 0) abort();
        if (w1.len != w2.len || memcmp(w1.buf, w2.buf, w1.len) != 0) abort();
        proto_arena_destroy(&arena2);
        proto_writer_destroy(&w1);
        proto_writer_destroy(&w2);
    } else if (body != NULL) {
        abort();
    }
    proto_arena_destroy(&arena);
    if (t.live_bytes != 0) abort();
    return 0;
}
