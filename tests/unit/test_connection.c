/*
 * test_connection.c — proves the broker connection layer: frames split across reads are
 * reassembled; responses leave strictly in request order even when answered out of order;
 * a slot answered with "none" (acks=0) sends nothing and does not block later answers;
 * oversized, negative-size and rejected frames close only their connection while another
 * keeps working; reading pauses at the in-flight bound and at the output bound and resumes
 * when answers drain; idle connections close after idle_ms but not while a request is
 * outstanding; a connection closed with a parked request lives until it is answered, and
 * then everything is freed; a response with spliced file ranges goes out with the ranges
 * at their positions, and the connection reports file ranges in flight until it drains;
 * such an answer at the head of the line is spliced (sendfile, no read), while one that must
 * wait behind an earlier answer reads its ranges in at once and holds no file: overwriting
 * the file before the earlier answer arrives does not change what is sent, and a failed read
 * closes the connection rather than send a broken answer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "broker/connection.h"
#include "test_broker_fake_io.h"

#define REQUESTS_MAX 64

struct server {
    struct fake_io fio;
    struct io_listener *listener;
    struct broker_conn_limits limits;
    struct broker_conn *conns[8];
    int conn_count;
    struct {
        struct broker_conn *conn;
        uint32_t slot;
        uint8_t payload[64];
        size_t len;
    } requests[REQUESTS_MAX];
    int request_count;
    int closes;
    int last_close_reason;
    bool reject_next;
};

static struct server *the_server;

static int on_request(void *arg, struct broker_conn *conn, uint32_t slot, uint8_t *payload,
                      size_t len) {
    struct server *srv = arg;
    if (srv->reject_next) {
        srv->reject_next = false;
        return -EBADMSG;
    }
    assert_true(srv->request_count < REQUESTS_MAX);
    srv->requests[srv->request_count].conn = conn;
    srv->requests[srv->request_count].slot = slot;
    srv->requests[srv->request_count].len = len < 64 ? len : 64;
    memcpy(srv->requests[srv->request_count].payload, payload, len < 64 ? len : 64);
    srv->request_count++;
    return 0;
}

static void on_close(void *arg, struct broker_conn *conn, int reason) {
    struct server *srv = arg;
    srv->closes++;
    srv->last_close_reason = reason;
}

static void on_accept(void *arg, struct io_stream *stream) {
    struct server *srv = arg;
    srv->conns[srv->conn_count++] =
        broker_conn_create(&srv->fio.io, stream, &srv->limits, on_request, on_close, srv);
}

static struct server *server_start(uint32_t max_inflight, size_t max_output) {
    struct server *srv = calloc(1, sizeof(*srv));
    fake_io_init(&srv->fio);
    srv->limits = (struct broker_conn_limits){
        .max_frame_bytes = 1000, .max_inflight = max_inflight,
        .max_output_bytes = max_output, .idle_ms = 60000};
    assert_int_equal(io_listen(&srv->fio.io, "127.0.0.1", 0, on_accept, srv, &srv->listener), 0);
    the_server = srv;
    return srv;
}

static void server_stop(struct server *srv) {
    for (int i = 0; i < srv->conn_count; i++) {
        /* Close what is still open (answers pending are answered by the test). */
        struct fake_stream *fs = &srv->fio.streams[i];
        if (!fs->closed_by_owner) broker_conn_close(srv->conns[i], 0);
    }
    assert_int_equal(srv->fio.bytes_allocated, 0);
    fake_io_fini(&srv->fio);
    free(srv);
}

static void send_frame(struct server *srv, struct fake_stream *fs, const char *text) {
    uint32_t n = (uint32_t)strlen(text);
    uint8_t frame[256];
    frame[0] = (uint8_t)(n >> 24), frame[1] = (uint8_t)(n >> 16);
    frame[2] = (uint8_t)(n >> 8), frame[3] = (uint8_t)n;
    memcpy(frame + 4, text, n);
    fake_stream_deliver(&srv->fio, fs, frame, 4 + n);
}

static void answer(struct server *srv, int index, const char *text) {
    broker_conn_respond(srv->requests[index].conn, srv->requests[index].slot,
                        (const uint8_t *)text, strlen(text), NULL, 0);
}

static void expect_sent(struct fake_io *fio, struct fake_stream *fs, const char *text) {
    fake_stream_flush(fio, fs);
    char buf[512] = {0};
    size_t n = fake_stream_take(fs, buf, sizeof(buf) - 1);
    assert_int_equal(n, strlen(text));
    assert_string_equal(buf, text);
}

static void test_in_order_responses(void **state) {
    struct server *srv = server_start(16, 1 << 20);
    struct fake_stream *fs = fake_io_connect_client(&srv->fio);
    send_frame(srv, fs, "req-a");
    send_frame(srv, fs, "req-b");
    send_frame(srv, fs, "req-c");
    send_frame(srv, fs, "req-d");
    assert_int_equal(srv->request_count, 4);
    assert_memory_equal(srv->requests[2].payload, "req-c", 5);
    /* Answer c, then d (none: acks=0), then b: nothing may go out before a. */
    answer(srv, 2, "C");
    broker_conn_respond_none(srv->requests[3].conn, srv->requests[3].slot);
    answer(srv, 1, "B");
    expect_sent(&srv->fio, fs, "");
    assert_int_equal(broker_conn_inflight(srv->conns[0]), 4);
    answer(srv, 0, "A");
    expect_sent(&srv->fio, fs, "ABC");
    assert_int_equal(broker_conn_inflight(srv->conns[0]), 0);
    server_stop(srv);
}

static void test_bad_frames_close_only_their_connection(void **state) {
    struct server *srv = server_start(16, 1 << 20);
    struct fake_stream *good = fake_io_connect_client(&srv->fio);
    struct fake_stream *huge = fake_io_connect_client(&srv->fio);
    struct fake_stream *negative = fake_io_connect_client(&srv->fio);
    struct fake_stream *rejected = fake_io_connect_client(&srv->fio);
    const uint8_t huge_prefix[4] = {0x7f, 0xff, 0xff, 0xff};
    fake_stream_deliver(&srv->fio, huge, huge_prefix, 4);
    assert_true(huge->closed_by_owner);
    assert_int_equal(srv->last_close_reason, -EMSGSIZE);
    const uint8_t negative_prefix[6] = {0xff, 0xff, 0xff, 0xfe, 1, 2};
    fake_stream_deliver(&srv->fio, negative, negative_prefix, 6);
    assert_true(negative->closed_by_owner);
    srv->reject_next = true;
    send_frame(srv, rejected, "garbage");
    assert_true(rejected->closed_by_owner);
    assert_int_equal(srv->last_close_reason, -EBADMSG);
    assert_int_equal(srv->closes, 3);
    /* The good one still works. */
    send_frame(srv, good, "hello");
    assert_int_equal(srv->request_count, 1);
    answer(srv, 0, "world");
    expect_sent(&srv->fio, good, "world");
    assert_false(good->closed_by_owner);
    /* A frame of exactly the limit is accepted. */
    static char big[1001];
    memset(big, 'x', 1000);
    uint8_t prefix[4] = {0, 0, 0x03, 0xe8};
    fake_stream_deliver(&srv->fio, good, prefix, 4);
    fake_stream_deliver(&srv->fio, good, big, 1000);
    assert_int_equal(srv->request_count, 2);
    assert_int_equal(srv->requests[1].len, 64);
    answer(srv, 1, "ok");
    /* Peer EOF closes. */
    fake_stream_end(&srv->fio, good, 0);
    assert_true(good->closed_by_owner);
    server_stop(srv);
}

static void test_inflight_backpressure(void **state) {
    struct server *srv = server_start(2, 1 << 20);
    struct fake_stream *fs = fake_io_connect_client(&srv->fio);
    for (int i = 0; i < 5; i++) {
        char text[16];
        snprintf(text, sizeof(text), "r%d", i);
        send_frame(srv, fs, text);
    }
    /* Only two were handed out; the rest wait in the buffer while reading is paused. */
    assert_int_equal(srv->request_count, 2);
    assert_true(broker_conn_reading_paused(srv->conns[0]));
    assert_true(fs->paused);
    answer(srv, 0, "0");
    fake_stream_flush(&srv->fio, fs); /* The event loop turns: buffered bytes arrive. */
    assert_int_equal(srv->request_count, 3);
    assert_memory_equal(srv->requests[2].payload, "r2", 2);
    answer(srv, 1, "1");
    answer(srv, 2, "2");
    fake_stream_flush(&srv->fio, fs);
    assert_int_equal(srv->request_count, 5);
    answer(srv, 3, "3");
    answer(srv, 4, "4");
    assert_false(broker_conn_reading_paused(srv->conns[0]));
    char out[8] = {0};
    fake_stream_take(fs, out, sizeof(out) - 1);
    assert_string_equal(out, "012");
    expect_sent(&srv->fio, fs, "34");
    server_stop(srv);
}

static void test_output_backpressure(void **state) {
    struct server *srv = server_start(16, 8);
    struct fake_stream *fs = fake_io_connect_client(&srv->fio);
    fs->stall = true; /* A client that does not read. */
    send_frame(srv, fs, "a");
    answer(srv, 0, "0123456789"); /* 10 bytes > 8 allowed unsent. */
    assert_true(broker_conn_reading_paused(srv->conns[0]));
    send_frame(srv, fs, "b");
    assert_int_equal(srv->request_count, 1); /* Not read while paused. */
    fs->stall = false;
    fake_stream_flush(&srv->fio, fs); /* Drains, resumes, delivers "b". */
    assert_false(broker_conn_reading_paused(srv->conns[0]));
    assert_int_equal(srv->request_count, 2);
    answer(srv, 1, "x");
    expect_sent(&srv->fio, fs, "0123456789x");
    server_stop(srv);
}

static void test_idle_timeout(void **state) {
    struct server *srv = server_start(16, 1 << 20);
    struct fake_stream *idle = fake_io_connect_client(&srv->fio);
    struct fake_stream *busy = fake_io_connect_client(&srv->fio);
    send_frame(srv, busy, "long-poll");
    fake_io_advance_ns(&srv->fio, 59 * NS_PER_S);
    assert_false(idle->closed_by_owner);
    fake_io_advance_ns(&srv->fio, 2 * NS_PER_S);
    assert_true(idle->closed_by_owner);
    assert_int_equal(srv->last_close_reason, -ETIMEDOUT);
    /* An outstanding request keeps the connection open. */
    fake_io_advance_ns(&srv->fio, 120 * NS_PER_S);
    assert_false(busy->closed_by_owner);
    answer(srv, 0, "done");
    fake_io_advance_ns(&srv->fio, 61 * NS_PER_S);
    assert_true(busy->closed_by_owner);
    server_stop(srv);
}

static void test_close_with_parked_request(void **state) {
    struct server *srv = server_start(16, 1 << 20);
    struct fake_stream *fs = fake_io_connect_client(&srv->fio);
    send_frame(srv, fs, "fetch");
    send_frame(srv, fs, "meta");
    answer(srv, 1, "M"); /* Ready but behind the parked fetch. */
    fake_stream_end(&srv->fio, fs, -ECONNRESET);
    assert_true(fs->closed_by_owner);
    assert_true(srv->fio.bytes_allocated > 0); /* Alive for the parked answer. */
    answer(srv, 0, "F"); /* Dropped; frees the connection. */
    assert_int_equal(srv->fio.bytes_allocated, 0);
    assert_int_equal(fs->sent_len, 0);
    server_stop(srv);
}

static void test_spliced_response(void **state) {
    struct server *srv = server_start(16, 1 << 20);
    struct fake_stream *fs = fake_io_connect_client(&srv->fio);
    static const char file_bytes[] = "0123456789";
    fs->stall = true;
    send_frame(srv, fs, "fetch");
    /* "<hdr|" + file[2..5) + "|mid|" + file[7..10) + "|end>" */
    const char *bytes = "<hdr||mid||end>";
    struct broker_conn_splice splices[2] = {
        {.at = 5, .file = (struct io_file *)(uintptr_t)file_bytes, .position = 2, .length = 3},
        {.at = 10, .file = (struct io_file *)(uintptr_t)file_bytes, .position = 7, .length = 3},
    };
    broker_conn_respond(srv->requests[0].conn, srv->requests[0].slot, (const uint8_t *)bytes,
                        strlen(bytes), splices, 2);
    assert_int_equal(fs->sendfile_calls, 2);
    assert_int_equal(srv->fio.file_pread_calls, 0); /* At the head: spliced, not copied. */
    /* Until the stream drains, the files must stay open. */
    assert_true(broker_conn_splicing(srv->conns[0]));
    fs->stall = false;
    expect_sent(&srv->fio, fs, "<hdr|234|mid|789|end>");
    assert_false(broker_conn_splicing(srv->conns[0]));
    server_stop(srv);
}

/* A spliced answer behind a parked request keeps the file's bytes as they were when it was
 * answered: the file may be closed (retention, DeleteTopics) before the answer goes out. */
static void test_waiting_spliced_response_reads_file_in(void **state) {
    struct server *srv = server_start(16, 1 << 20);
    struct fake_stream *fs = fake_io_connect_client(&srv->fio);
    char file_bytes[] = "0123456789"; /* The "file": its pointer is the io_file (fake io). */
    send_frame(srv, fs, "fetch-parked");
    send_frame(srv, fs, "fetch-ready");
    assert_int_equal(srv->request_count, 2);
    /* "<hdr|" + file[2..5) + "|mid|" + file[7..10) + "|end>" */
    const char *bytes = "<hdr||mid||end>";
    struct broker_conn_splice splices[2] = {
        {.at = 5, .file = (struct io_file *)(void *)file_bytes, .position = 2, .length = 3},
        {.at = 10, .file = (struct io_file *)(void *)file_bytes, .position = 7, .length = 3},
    };
    assert_int_equal(broker_conn_respond(srv->requests[1].conn, srv->requests[1].slot,
                                         (const uint8_t *)bytes, strlen(bytes), splices, 2),
                     0);
    /* Read in now; nothing queued on the stream that still refers to the file. */
    assert_int_equal(srv->fio.file_pread_calls, 2);
    assert_int_equal(fs->sendfile_calls, 0);
    assert_false(broker_conn_splicing(srv->conns[0]));
    expect_sent(&srv->fio, fs, "");
    /* The owner closes the file and the memory is reused: the answer must not notice. */
    memset(file_bytes, 'X', sizeof(file_bytes) - 1);
    answer(srv, 0, "A");
    expect_sent(&srv->fio, fs, "A<hdr|234|mid|789|end>");
    assert_int_equal(fs->sendfile_calls, 0);
    assert_int_equal(srv->fio.file_pread_calls, 2);
    assert_int_equal(broker_conn_inflight(srv->conns[0]), 0);
    /* A later spliced answer at the head of the line is spliced again, not read. */
    memcpy(file_bytes, "abcdefghij", sizeof(file_bytes) - 1);
    send_frame(srv, fs, "fetch-head");
    assert_int_equal(srv->request_count, 3);
    fs->stall = true;
    assert_int_equal(broker_conn_respond(srv->requests[2].conn, srv->requests[2].slot,
                                         (const uint8_t *)bytes, strlen(bytes), splices, 2),
                     0);
    assert_int_equal(fs->sendfile_calls, 2);
    assert_int_equal(srv->fio.file_pread_calls, 2);
    assert_true(broker_conn_splicing(srv->conns[0]));
    fs->stall = false;
    expect_sent(&srv->fio, fs, "<hdr|cde|mid|hij|end>");
    assert_false(fs->closed_by_owner);
    assert_int_equal(srv->fio.warnings, 0);
    server_stop(srv);
}

/* A waiting spliced answer whose file cannot be read closes the connection: a response with
 * a hole must never reach the client, and nothing after it may either. */
static void test_waiting_spliced_response_read_error_closes(void **state) {
    struct server *srv = server_start(16, 1 << 20);
    struct fake_stream *fs = fake_io_connect_client(&srv->fio);
    static const char file_bytes[] = "0123456789";
    send_frame(srv, fs, "fetch-parked");
    send_frame(srv, fs, "fetch-ready");
    struct broker_conn_splice splice = {
        .at = 3, .file = (struct io_file *)(uintptr_t)file_bytes, .position = 0, .length = 4};
    srv->fio.file_pread_error = -EIO;
    int rc = broker_conn_respond(srv->requests[1].conn, srv->requests[1].slot,
                                 (const uint8_t *)"hdrend", 6, &splice, 1);
    assert_int_equal(rc, -EIO);
    assert_true(fs->closed_by_owner);
    assert_int_equal(srv->closes, 1);
    assert_int_equal(srv->last_close_reason, -EIO);
    assert_int_equal(srv->fio.warnings, 1);
    assert_int_equal(fs->sendfile_calls, 0);
    /* The parked answer is dropped and the connection freed with it. */
    answer(srv, 0, "A");
    fake_stream_flush(&srv->fio, fs);
    assert_int_equal(fs->sent_len, 0);
    assert_int_equal(srv->fio.bytes_allocated, 0);
    server_stop(srv);
}

/* Many more requests than ring slots, answered newest-first in groups: order still holds. */
static void test_ring_reuse(void **state) {
    struct server *srv = server_start(3, 1 << 20);
    struct fake_stream *fs = fake_io_connect_client(&srv->fio);
    for (int round = 0; round < 300; round++) {
        srv->request_count = 0;
        for (int i = 0; i < 3; i++) {
            char text[16];
            snprintf(text, sizeof(text), "%d", round * 3 + i);
            send_frame(srv, fs, text);
        }
        fake_stream_flush(&srv->fio, fs);
        assert_int_equal(srv->request_count, 3);
        for (int i = 2; i >= 0; i--) answer(srv, i, i == 0 ? "a" : i == 1 ? "b" : "c");
    }
    fake_stream_flush(&srv->fio, fs);
    char got[4096] = {0};
    size_t n = fake_stream_take(fs, got, sizeof(got) - 1);
    assert_int_equal(n, 900);
    for (size_t i = 0; i < n; i += 3) assert_memory_equal(got + i, "abc", 3);
    server_stop(srv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_responses),
        cmocka_unit_test(test_bad_frames_close_only_their_connection),
        cmocka_unit_test(test_inflight_backpressure),
        cmocka_unit_test(test_output_backpressure),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_close_with_parked_request),
        cmocka_unit_test(test_spliced_response),
        cmocka_unit_test(test_waiting_spliced_response_reads_file_in),
        cmocka_unit_test(test_waiting_spliced_response_read_error_closes),
        cmocka_unit_test(test_ring_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
