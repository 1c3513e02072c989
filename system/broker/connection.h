/*
 * connection.h — one Kafka client connection: frames in, responses out, in order.
 *
 * The connection reads `int32 size + payload` frames from an io stream, refusing any frame
 * above max_frame_bytes (socket.request.max.bytes) by closing this connection only. Each
 * complete frame becomes a request with a sequence slot and is handed to the owner's
 * `on_request`. The owner answers later (or at once) with broker_conn_respond() or, for
 * requests that take no answer (Produce acks=0), broker_conn_respond_none(). Responses go
 * out strictly in request order even when a later request is answered first (kafka-python
 * and librdkafka match responses FIFO): a finished response waits behind unfinished ones.
 *
 * Bounds and backpressure: at most max_inflight requests are outstanding per connection,
 * and at most max_output_bytes may sit unsent in the stream; beyond either the connection
 * pauses reading (the client's sends stall in TCP) and resumes when it drains. The input
 * buffer never exceeds one maximum frame. A connection with nothing in flight and no
 * traffic for idle_ms is closed (connections.max.idle.ms).
 *
 * A response is a byte buffer plus optional "splices": file ranges (log segments) that go
 * out with io_stream_sendfile() at given positions inside the bytes, so Fetch can send
 * record data without copying it through user space.
 *
 * Lifetime: the connection frees itself once it is closed AND every request handed out has
 * been answered, so an owner holding a slot (a Fetch parked in the purgatory) can always
 * answer it; answers on a closed connection are dropped. on_request runs only from io
 * callbacks (reads, drains, a zero-delay timer that resumes buffered frames after an answer
 * freed a slot), never from inside broker_conn_respond*(). on_close runs from the io
 * callback that saw the end, or from broker_conn_close().
 */
#ifndef TRIAL_BROKER_CONNECTION_H
#define TRIAL_BROKER_CONNECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

#define BROKER_CONN_INFLIGHT_MAX 4096 /* Hard cap on max_inflight (ring size bound). */
#define BROKER_CONN_SPLICES_MAX 1024  /* File ranges in one response. */

struct broker_conn;

struct broker_conn_limits {
    size_t max_frame_bytes;  /* socket.request.max.bytes: largest payload accepted. */
    uint32_t max_inflight;   /* Requests outstanding before reading pauses (<= INFLIGHT_MAX). */
    size_t max_output_bytes; /* Unsent bytes in the stream before reading pauses. */
    uint64_t idle_ms;        /* connections.max.idle.ms. */
};

/*
 * A complete request frame: `payload` (without the size prefix) is valid only during the
 * call; it is the connection's input buffer, so the owner may modify it in place (Produce
 * stamps offsets into the batches before appending them as received). `slot` identifies it for the answer. Return 0, or a negative error to close the
 * connection (malformed request); the slot must then not be answered.
 */
typedef int (*broker_conn_request_fn)(void *arg, struct broker_conn *conn, uint32_t slot,
                                      uint8_t *payload, size_t len);
/* The connection closed (peer EOF/reset, bad frame, idle, or broker_conn_close). */
typedef void (*broker_conn_close_fn)(void *arg, struct broker_conn *conn, int reason);

/* A file range to send at byte position `at` of the response buffer. */
struct broker_conn_splice {
    size_t at;             /* Position in the bytes (non-decreasing across splices). */
    struct io_file *file;  /* Open during the call only: an answer that must wait reads it in. */
    uint64_t position;
    size_t length;
};

/* Takes ownership of an accepted stream and starts reading. */
struct broker_conn *broker_conn_create(struct io *io, struct io_stream *stream,
                                       const struct broker_conn_limits *limits,
                                       broker_conn_request_fn on_request,
                                       broker_conn_close_fn on_close, void *arg);

/*
 * Answers request `slot` with `len` bytes from `bytes` (a whole response frame, copied
 * before return) and `splice_count` file ranges spliced in. Returns 0 (also when the
 * connection is closed and the answer dropped) or a negative error from the stream.
 */
int broker_conn_respond(struct broker_conn *conn, uint32_t slot, const uint8_t *bytes,
                        size_t len, const struct broker_conn_splice *splices,
                        size_t splice_count);
/* Marks `slot` answered without sending anything (Produce acks=0). */
void broker_conn_respond_none(struct broker_conn *conn, uint32_t slot);

/* Closes the stream now (queued output is dropped); the struct lives until every
 * outstanding slot is answered. on_close runs (from here) unless already closed. */
void broker_conn_close(struct broker_conn *conn, int reason);

bool broker_conn_is_closed(const struct broker_conn *conn);
/* True while file ranges queued on this connection may not have been sent yet (the stream
 * has not drained). Informational: io_posix keeps a closed file open for its queued ranges
 * and the sim copies at queue time, so the owner may close and delete segments meanwhile. */
bool broker_conn_splicing(const struct broker_conn *conn);
const char *broker_conn_peer(const struct broker_conn *conn); /* "" once closed. */
uint32_t broker_conn_inflight(const struct broker_conn *conn);
bool broker_conn_reading_paused(const struct broker_conn *conn);
/* Owner data (e.g. a client id or group membership). */
void broker_conn_set_user(struct broker_conn *conn, void *user);
void *broker_conn_user(const struct broker_conn *conn);

#endif /* TRIAL_BROKER_CONNECTION_H */
