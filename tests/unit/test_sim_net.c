/*
 * test_sim_net.c — proves the simulated network behaves like TCP and its faults do what
 * they say: bytes arrive in order, exactly once, split arbitrarily; latency stays within the
 * link's bounds; a connect to a port with no listener is refused; a partition stalls bytes
 * (heal delivers them, a long partition times both ends out); a one-way partition blocks
 * one direction only; resets and crashes end the peer's stream with -ECONNRESET; close
 * gives the peer EOF; a paused node receives nothing until it resumes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim.h"

#define PORT    9000
#define BUF_MAX (4 << 20)

/* What one end saw. */
struct end {
    struct io *io;
    struct io_stream *stream;
    uint8_t data[BUF_MAX];
    size_t len;
    size_t reads;
    int end_status;
    bool ended;
    uint64_t first_byte_ns;
    int connect_status;
    bool connect_done;
};

static struct sim_world *world;
static struct sim_node *server_node;
static struct sim_node *client_node;
static struct end server_end;
static struct end client_end;
static struct io_listener *listener;

static void on_read(void *arg, struct io_stream *stream, const uint8_t *data, size_t len,
                    int status) {
    struct end *e = arg;
    assert_ptr_equal(stream, e->stream);
    assert_false(e->ended); /* nothing after the end */
    if (len == 0) {
        e->ended = true;
        e->end_status = status;
        return;
    }
    assert_int_equal(status, 0);
    assert_true(e->len + len <= BUF_MAX);
    if (e->len == 0) e->first_byte_ns = sim_world_now_ns(world);
    memcpy(e->data + e->len, data, len);
    e->len += len;
    e->reads++;
}

static void on_accept(void *arg, struct io_stream *stream) {
    struct end *e = arg;
    assert_null(e->stream);
    e->stream = stream;
    io_stream_start(e->io, stream, on_read, NULL, e);
}

static void on_connect(void *arg, struct io_stream *stream, int status) {
    struct end *e = arg;
    e->connect_done = true;
    e->connect_status = status;
    if (status == 0) {
        e->stream = stream;
        io_stream_start(e->io, stream, on_read, NULL, e);
    } else {
        assert_null(stream);
    }
}

static int setup(void **state) {
    (void)state;
    world = sim_world_create(7);
    server_node = sim_node_add(world, "server", NULL, NULL);
    client_node = sim_node_add(world, "client", NULL, NULL);
    memset(&server_end, 0, sizeof(server_end));
    memset(&client_end, 0, sizeof(client_end));
    server_end.io = sim_node_io(server_node);
    client_end.io = sim_node_io(client_node);
    assert_int_equal(io_listen(server_end.io, "server", PORT, on_accept, &server_end, &listener),
                     0);
    assert_int_equal(io_listener_port(server_end.io, listener), PORT);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sim_world_destroy(world);
    return 0;
}

static void run_ms(uint64_t ms) {
    sim_world_run_until(world, sim_world_now_ns(world) + ms * 1000000);
}

static void connect_pair(void) {
    assert_int_equal(io_connect(client_end.io, "server", PORT, on_connect, &client_end), 0);
    assert_false(client_end.connect_done); /* never before the call returns */
    run_ms(50);
    assert_true(client_end.connect_done);
    assert_int_equal(client_end.connect_status, 0);
    assert_non_null(server_end.stream);
}

static void fill(uint8_t *buf, size_t len, uint32_t salt) {
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)((i * 131 + salt) ^ (i >> 8));
}

static void test_order_and_split(void **state) {
    (void)state;
    connect_pair();
    static uint8_t sent[300000];
    fill(sent, sizeof(sent), 3);
    size_t off = 0;
    size_t step = 1;
    while (off < sizeof(sent)) {
        size_t n = step < sizeof(sent) - off ? step : sizeof(sent) - off;
        assert_int_equal(io_stream_write(client_end.io, client_end.stream, sent + off, n), 0);
        off += n;
        step = step * 3 + 7;
        if (step > 40000) step = 1;
    }
    run_ms(1000);
    assert_int_equal(server_end.len, sizeof(sent));
    assert_memory_equal(server_end.data, sent, sizeof(sent));
    assert_true(server_end.reads > 1);
    assert_int_equal(io_stream_queued(client_end.io, client_end.stream), 0);
    assert_string_equal(io_stream_peer(client_end.io, client_end.stream), "server:9000");
}

static void test_latency_bounds(void **state) {
    (void)state;
    struct sim_link_config cfg = {
        .latency_min_ns = 5000000, .latency_max_ns = 7000000, .bandwidth_bytes_per_s = 0};
    sim_net_set_link(world, NULL, NULL, &cfg);
    connect_pair();
    for (int i = 0; i < 20; i++) {
        server_end.len = 0;
        uint64_t sent_ns = sim_world_now_ns(world);
        assert_int_equal(io_stream_write(client_end.io, client_end.stream, "x", 1), 0);
        run_ms(20);
        assert_int_equal(server_end.len, 1);
        uint64_t took = server_end.first_byte_ns - sent_ns;
        assert_true(took >= 5000000 && took <= 7000000);
    }
    /* A spike adds its extra latency. */
    sim_net_spike(world, client_node, server_node, 100000000, 1000000000);
    server_end.len = 0;
    uint64_t sent_ns = sim_world_now_ns(world);
    assert_int_equal(io_stream_write(client_end.io, client_end.stream, "y", 1), 0);
    run_ms(300);
    assert_int_equal(server_end.len, 1);
    assert_true(server_end.first_byte_ns - sent_ns >= 105000000);
    /* Bandwidth: 1 MB at 10 MB/s takes at least 100 ms. */
    cfg.bandwidth_bytes_per_s = 10000000;
    sim_net_set_link(world, NULL, NULL, &cfg);
    run_ms(2000);
    static uint8_t big[1000000];
    server_end.len = 0;
    sent_ns = sim_world_now_ns(world);
    assert_int_equal(io_stream_write(client_end.io, client_end.stream, big, sizeof(big)), 0);
    run_ms(99);
    assert_true(server_end.len < sizeof(big));
    run_ms(1000);
    assert_int_equal(server_end.len, sizeof(big));
    (void)sent_ns;
}

static void test_refused_and_unknown(void **state) {
    (void)state;
    assert_int_equal(io_connect(client_end.io, "server", 9999, on_connect, &client_end), 0);
    run_ms(50);
    assert_true(client_end.connect_done);
    assert_int_equal(client_end.connect_status, -ECONNREFUSED);
    client_end.connect_done = false;
    assert_int_equal(io_connect(client_end.io, "nowhere", PORT, on_connect, &client_end),
                     -EHOSTUNREACH);
    run_ms(50);
    assert_false(client_end.connect_done); /* a synchronous failure never calls back */
    struct io_listener *dup = NULL;
    assert_int_equal(io_listen(server_end.io, "server", PORT, on_accept, &server_end, &dup),
                     -EADDRINUSE);
    assert_int_equal(io_listen(server_end.io, "client", 1234, on_accept, &server_end, &dup),
                     -EADDRNOTAVAIL);
}

static void test_partition_stalls_then_heals(void **state) {
    (void)state;
    connect_pair();
    sim_net_partition(world, client_node, server_node, false);
    assert_int_equal(io_stream_write(client_end.io, client_end.stream, "abc", 3), 0);
    assert_int_equal(io_stream_write(server_end.io, server_end.stream, "xyz", 3), 0);
    run_ms(5000);
    assert_int_equal(server_end.len, 0);
    assert_int_equal(client_end.len, 0);
    assert_int_equal(io_stream_write(client_end.io, client_end.stream, "def", 3), 0);
    sim_net_heal(world, client_node, server_node);
    run_ms(100);
    assert_int_equal(server_end.len, 6);
    assert_memory_equal(server_end.data, "abcdef", 6);
    assert_int_equal(client_end.len, 3);
    assert_false(server_end.ended || client_end.ended);
}

static void test_partition_times_out(void **state) {
    (void)state;
    sim_net_set_timeout(world, 2000000000);
    connect_pair();
    sim_net_partition(world, client_node, server_node, false);
    assert_int_equal(io_stream_write(client_end.io, client_end.stream, "abc", 3), 0);
    run_ms(1900);
    assert_false(client_end.ended);
    run_ms(200);
    assert_true(client_end.ended && server_end.ended);
    assert_int_equal(client_end.end_status, -ETIMEDOUT);
    assert_int_equal(server_end.end_status, -ETIMEDOUT);
    assert_int_equal(server_end.len, 0);
    assert_true(io_stream_write(client_end.io, client_end.stream, "x", 1) < 0);
    /* A connect into a partition times out too. */
    memset(&client_end, 0, sizeof(client_end));
    client_end.io = sim_node_io(client_node);
    assert_int_equal(io_connect(client_end.io, "server", PORT, on_connect, &client_end), 0);
    run_ms(3000);
    assert_true(client_end.connect_done);
    assert_int_equal(client_end.connect_status, -ETIMEDOUT);
}

static void test_one_way_partition(void **state) {
    (void)state;
    connect_pair();
    sim_net_partition(world, client_node, server_node, true); /* client -> server blocked */
    assert_true(sim_net_is_blocked(world, client_node, server_node));
    assert_false(sim_net_is_blocked(world, server_node, client_node));
    assert_int_equal(io_stream_write(client_end.io, client_end.stream, "up", 2), 0);
    assert_int_equal(io_stream_write(server_end.io, server_end.stream, "down", 4), 0);
    run_ms(500);
    assert_int_equal(server_end.len, 0);
    assert_int_equal(client_end.len, 4);
    sim_net_heal_all(world);
    run_ms(100);
    assert_int_equal(server_end.len, 2);
}

static void test_reset_and_close(void **state) {
    (void)state;
    connect_pair();
    assert_int_equal(sim_net_reset(world, client_node, server_node), 1);
    run_ms(10);
    assert_true(client_end.ended && server_end.ended);
    assert_int_equal(client_end.end_status, -ECONNRESET);
    assert_int_equal(server_end.end_status, -ECONNRESET);
    io_stream_close(client_end.io, client_end.stream);
    io_stream_close(server_end.io, server_end.stream);

    memset(&client_end, 0, sizeof(client_end));
    memset(&server_end, 0, sizeof(server_end));
    client_end.io = sim_node_io(client_node);
    server_end.io = sim_node_io(server_node);
    connect_pair();
    assert_int_equal(io_stream_write(client_end.io, client_end.stream, "bye", 3), 0);
    run_ms(1); /* the bytes are in flight, the FIN goes behind them */
    io_stream_close(client_end.io, client_end.stream);
    run_ms(50);
    assert_int_equal(server_end.len, 3);
    assert_true(server_end.ended);
    assert_int_equal(server_end.end_status, 0); /* orderly EOF */
}

static void test_crash_resets_peer(void **state) {
    (void)state;
    connect_pair();
    assert_int_equal(io_stream_write(server_end.io, server_end.stream, "last", 4), 0);
    run_ms(1);
    sim_node_crash(server_node);
    run_ms(50);
    assert_int_equal(client_end.len, 4); /* bytes already sent still arrive */
    assert_true(client_end.ended);
    assert_int_equal(client_end.end_status, -ECONNRESET);
    /* Nobody listens now. */
    memset(&client_end, 0, sizeof(client_end));
    client_end.io = sim_node_io(client_node);
    assert_int_equal(io_connect(client_end.io, "server", PORT, on_connect, &client_end), 0);
    run_ms(50);
    assert_int_equal(client_end.connect_status, -ECONNREFUSED);
}

static void test_pause_delays_delivery(void **state) {
    (void)state;
    connect_pair();
    sim_node_pause(server_node);
    assert_int_equal(io_stream_write(client_end.io, client_end.stream, "zz", 2), 0);
    run_ms(1000);
    assert_int_equal(server_end.len, 0);
    uint64_t resumed_ns = sim_world_now_ns(world);
    sim_node_resume(server_node);
    run_ms(1);
    assert_int_equal(server_end.len, 2);
    assert_true(server_end.first_byte_ns >= resumed_ns);
}

static void test_stream_pause_backpressure(void **state) {
    (void)state;
    connect_pair();
    io_stream_pause(server_end.io, server_end.stream, true);
    static uint8_t big[3 << 20];
    fill(big, sizeof(big), 9);
    assert_int_equal(io_stream_write(client_end.io, client_end.stream, big, sizeof(big)), 0);
    run_ms(2000);
    assert_int_equal(server_end.len, 0);
    /* The window is bounded, so most bytes wait in the sender's queue. */
    assert_true(io_stream_queued(client_end.io, client_end.stream) > (1u << 20));
    io_stream_pause(server_end.io, server_end.stream, false);
    run_ms(3000);
    assert_int_equal(server_end.len, sizeof(big));
    assert_memory_equal(server_end.data, big, sizeof(big));
}

static int drains;
static void on_drain(void *arg, struct io_stream *stream) {
    struct end *e = arg;
    assert_ptr_equal(stream, e->stream);
    assert_int_equal(io_stream_queued(e->io, stream), 0);
    drains++;
}

static void test_sendfile_and_drain(void **state) {
    (void)state;
    connect_pair();
    struct io *io = server_end.io;
    struct io_file *f = NULL;
    assert_int_equal(io_file_open(io, "blob", IO_OPEN_CREATE, &f), 0);
    static uint8_t blob[200000];
    fill(blob, sizeof(blob), 5);
    assert_int_equal(io_file_pwrite(io, f, blob, sizeof(blob), 0), (int64_t)sizeof(blob));
    /* Re-start the server stream with a drain callback. */
    io_stream_start(io, server_end.stream, on_read, on_drain, &server_end);
    drains = 0;
    assert_int_equal(io_stream_write(io, server_end.stream, "head", 4), 0);
    assert_int_equal(io_stream_sendfile(io, server_end.stream, f, 1000, 150000), 0);
    assert_int_equal(drains, 0); /* never before the call returns */
    run_ms(1000);
    assert_true(drains >= 1);
    assert_int_equal(client_end.len, 4 + 150000);
    assert_memory_equal(client_end.data, "head", 4);
    assert_memory_equal(client_end.data + 4, blob + 1000, 150000);
    /* Past the end of the file is an error, not a short send. */
    assert_int_equal(io_stream_sendfile(io, server_end.stream, f, sizeof(blob) - 10, 20), -EINVAL);
    io_file_close(io, f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latency_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_and_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_stalls_then_heals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_way_partition, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_resets_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_delays_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_pause_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendfile_and_drain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
