/*
 * client.c — one Kafka connection over io (see client.h).
 */
#include "client/client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "log/batch.h"
#include "proto/proto.h"

struct client_pending {
    int16_t api_key;
    int16_t version;
    int32_t correlation_id;
    client_done_fn done;
    void *arg;
};

enum client_state { CLIENT_IDLE, CLIENT_CONNECTING, CLIENT_CONNECTED, CLIENT_FAILED };

struct client {
    struct io *io;
    char host[256];
    uint16_t port;
    char client_id[64];
    enum client_state state;
    struct io_stream *stream;
    struct proto_writer out; /* Requests encoded before the connection is up. */
    struct client_pending pending[CLIENT_PENDING_MAX]; /* Ring, FIFO. */
    uint32_t head;
    uint32_t count;
    int32_t next_correlation_id;
    uint8_t *in;
    size_t in_len;
    size_t in_cap;
    bool destroying;
};

static void client_fail_all(struct client *client, int status) {
    while (client->count > 0) {
        struct client_pending p = client->pending[client->head % CLIENT_PENDING_MAX];
        client->head++;
        client->count--;
        p.done(p.arg, status, NULL);
    }
}

static void client_fail(struct client *client, int status) {
    if (client->stream != NULL) io_stream_close(client->io, client->stream);
    client->stream = NULL;
    client->state = CLIENT_FAILED;
    client_fail_all(client, status);
}

static void client_on_read(void *arg, struct io_stream *stream, const uint8_t *data, size_t len,
                           int status) {
    struct client *client = arg;
    if (len == 0) {
        client_fail(client, status == 0 ? -ECONNRESET : status);
        return;
    }
    if (client->in_len + len > client->in_cap) {
        size_t cap = client->in_cap == 0 ? 65536 : client->in_cap;
        while (cap < client->in_len + len) cap *= 2;
        client->in = io_realloc(client->io, client->in, client->in_cap, cap);
        client->in_cap = cap;
    }
    memcpy(client->in + client->in_len, data, len);
    client->in_len += len;
    size_t pos = 0;
    while (client->state == CLIENT_CONNECTED) {
        struct proto_frame frame;
        int rc = proto_frame_parse(client->in + pos, client->in_len - pos,
                                   CLIENT_RESPONSE_BYTES_MAX, &frame);
        if (rc == 0) break;
        if (rc < 0 || client->count == 0) {
            client_fail(client, rc < 0 ? rc : -EPROTO);
            return;
        }
        struct client_pending p = client->pending[client->head % CLIENT_PENDING_MAX];
        client->head++;
        client->count--;
        struct proto_arena arena;
        proto_arena_init(&arena, client->io, 4 * frame.payload_len + (1u << 20));
        struct proto_response_header header;
        void *body = NULL;
        rc = proto_response_decode(&arena, frame.payload, frame.payload_len, p.api_key,
                                   p.version, &header, &body);
        if (rc == 0 && header.correlation_id != p.correlation_id) rc = -EPROTO;
        pos += frame.frame_len;
        p.done(p.arg, rc, rc == 0 ? body : NULL);
        proto_arena_destroy(&arena);
        if (rc < 0) {
            client_fail(client, rc);
            return;
        }
    }
    if (pos > 0 && client->state == CLIENT_CONNECTED) {
        memmove(client->in, client->in + pos, client->in_len - pos);
        client->in_len -= pos;
    }
}

static void client_flush(struct client *client) {
    if (client->state != CLIENT_CONNECTED || client->out.len == 0) return;
    int rc = io_stream_write(client->io, client->stream, client->out.buf, client->out.len);
    proto_writer_reset(&client->out);
    if (rc < 0) client_fail(client, rc);
}

static void client_on_connect(void *arg, struct io_stream *stream, int status) {
    struct client *client = arg;
    if (client->destroying) {
        /* client_destroy() ran while connecting: io has no way to cancel a connect, so the
         * struct waited for this callback to free it. */
        if (stream != NULL) io_stream_close(client->io, stream);
        io_free(client->io, client, sizeof(*client));
        return;
    }
    if (status < 0) {
        client->state = CLIENT_FAILED;
        client_fail_all(client, status);
        return;
    }
    client->stream = stream;
    client->state = CLIENT_CONNECTED;
    io_stream_start(client->io, stream, client_on_read, NULL, client);
    client_flush(client);
}

struct client *client_create(struct io *io, const char *host, uint16_t port,
                             const char *client_id) {
    struct client *client = io_calloc(io, 1, sizeof(*client));
    client->io = io;
    snprintf(client->host, sizeof(client->host), "%s", host);
    client->port = port;
    snprintf(client->client_id, sizeof(client->client_id), "%s", client_id);
    proto_writer_init(&client->out, io, CLIENT_RESPONSE_BYTES_MAX);
    client->next_correlation_id = 1;
    return client;
}

void client_destroy(struct client *client) {
    bool connecting = client->state == CLIENT_CONNECTING;
    client->destroying = true;
    if (client->stream != NULL) io_stream_close(client->io, client->stream);
    client->stream = NULL;
    client->state = CLIENT_FAILED;
    client_fail_all(client, -ECANCELED);
    proto_writer_destroy(&client->out);
    if (client->in != NULL) io_free(client->io, client->in, client->in_cap);
    client->in = NULL;
    /* A connect still in flight will call back into this struct: it frees it then. */
    if (!connecting) io_free(client->io, client, sizeof(*client));
}

int client_send(struct client *client, int16_t api_key, int16_t version, const void *body,
                client_done_fn done, void *arg) {
    if (client->state == CLIENT_FAILED) return -ENOTCONN;
    if (client->count == CLIENT_PENDING_MAX) return -EAGAIN;
    struct proto_request_header header = {
        .api_key = api_key,
        .api_version = version,
        .correlation_id = client->next_correlation_id,
        .client_id = proto_string_from(client->client_id),
    };
    /* Wraps within the positive range (signed overflow would be undefined). */
    client->next_correlation_id = client->next_correlation_id == INT32_MAX
                                      ? 1 : client->next_correlation_id + 1;
    size_t before = client->out.len;
    int rc = proto_request_encode(&client->out, &header, body);
    if (rc < 0) {
        client->out.len = before;
        client->out.error = 0;
        return rc;
    }
    struct client_pending *p = &client->pending[(client->head + client->count) % CLIENT_PENDING_MAX];
    *p = (struct client_pending){.api_key = api_key, .version = version,
                                 .correlation_id = header.correlation_id, .done = done,
                                 .arg = arg};
    client->count++;
    if (client->state == CLIENT_IDLE) {
        client->state = CLIENT_CONNECTING;
        rc = io_connect(client->io, client->host, client->port, client_on_connect, client);
        if (rc < 0) {
            client->count--;
            client->state = CLIENT_FAILED;
            return rc;
        }
    }
    client_flush(client);
    return 0;
}

uint32_t client_pending(const struct client *client) { return client->count; }

int64_t client_build_batch(uint8_t *buf, size_t cap, const struct client_record *records,
                           size_t count) {
    ASSERT(count >= 1);
    struct batch_record_in in[256];
    if (count > ARRAY_LEN(in)) return -E2BIG;
    for (size_t i = 0; i < count; i++) {
        in[i] = (struct batch_record_in){
            .offset_delta = (int64_t)i, .timestamp = records[i].timestamp_ms,
            .key = records[i].key, .key_len = records[i].key != NULL ? records[i].key_len : -1,
            .value = records[i].value, .value_len = records[i].value != NULL ? records[i].value_len : -1};
    }
    struct batch_build_params params = {.base_offset = 0, .partition_leader_epoch = -1,
                                        .attributes = 0, .producer_id = -1,
                                        .producer_epoch = -1, .base_sequence = -1};
    return batch_build(buf, cap, &params, in, count);
}

int64_t client_walk_records(const uint8_t *records, size_t len, int64_t fetch_offset,
                            client_record_visit_fn visit, void *arg) {
    int64_t next = fetch_offset;
    size_t pos = 0;
    while (len - pos >= BATCH_HEADER_BYTES) {
        struct batch_header h;
        if (batch_header_decode(records + pos, len - pos, &h) < 0) break;
        size_t total = batch_total_bytes(&h);
        if (total > len - pos) break; /* A partial batch at the end of the fetch. */
        if (!batch_is_control(&h) && batch_compression(&h) == 0) {
            struct batch_record_iter it;
            if (batch_records_begin(records + pos, total, &it) == 0) {
                struct batch_record r;
                while (batch_records_next(&it, &r) == 1) {
                    int64_t offset = h.base_offset + r.offset_delta;
                    if (offset < fetch_offset) continue;
                    if (!visit(arg, offset, h.base_timestamp + r.timestamp_delta, r.key,
                               r.key_len, r.value, r.value_len)) {
                        return offset + 1;
                    }
                }
            }
        }
        next = MAX(next, batch_last_offset(&h) + 1);
        pos += total;
    }
    return next;
}
