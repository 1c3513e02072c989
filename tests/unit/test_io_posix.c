/*
 * test_io_posix.c — proves the real-world io.h implementation keeps the seam's contract:
 *  - bytes written on a loopback TCP stream arrive in order and echo back exactly;
 *  - writes and sendfile ranges leave in the order they were queued, and the drain
 *    callback runs once the queue is empty — also with megabytes of backlog behind a
 *    paused reader (the gathered sendmsg path and partial sends);
 *  - a queued sendfile range still reads its own file after the owner closed and unlinked
 *    it (the descriptor is not reused underneath it), and that descriptor closes once the
 *    range is sent or the loop is destroyed;
 *  - no callback runs before the call that registered it returned (connect);
 *  - no callback runs for a stream after it was closed, even one already due in the same
 *    pass (a drain callback closing another stream with a pending drain);
 *  - a paused stream delivers nothing until resumed; an orderly close reaches the peer as
 *    EOF (len 0, status 0);
 *  - timers fire in (deadline, start order) and a cancelled timer never fires;
 *    io_posix_run() returns once a callback calls io_posix_stop();
 *  - a watched signal (io_posix_watch_signals) arrives as a loop callback, not a handler;
 *  - with TRIAL_TRACE_FILE set, trace events land in that file, one line each;
 *  - the file calls round-trip (write, sync, read, truncate, size, rename, unlink, mkdir,
 *    list_dir sorted byte-wise, exists);
 *  - libfiu points inject faults: posix/file/sync -> -EIO, posix/file/write with failinfo
 *    ENOSPC -> -ENOSPC, posix/net/write -> the stream ends with -ECONNRESET,
 *    posix/net/accept -> the client sees its connection end.
 * Run as `test_io_posix --external-fault` under `fiu-run -c 'enable name=posix/file/sync,
 * failinfo=28'`, it proves the points are reachable from outside the process (fiu-run,
 * fiu-ctrl) without any fiu_enable() in the program: sync fails with ENOSPC.
 * The loop is driven with io_posix_run_once() for a bounded number of passes; nothing here
 * measures time.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <fiu-control.h>
#include <fiu.h>

#include "base/base.h"
#include "io/io.h"
#include "io/io_posix.h"

#define PASSES_MAX    2000 /* Loop passes before a test gives up (each waits <= 10 ms). */
#define BUF_MAX       (256 * 1024)
#define NS_PER_S_TEST 1000000000ULL

/* Everything one test's callbacks touch. */
struct net_fixture {
    struct io *io;
    struct io_listener *listener;
    struct io_stream *server; /* Accepted side. */
    struct io_stream *client; /* Connecting side. */
    bool echo;                /* Server writes back what it reads. */
    int connect_status;
    int connect_calls;
    uint8_t server_got[BUF_MAX]; /* Bytes the server read. */
    size_t server_len;
    uint8_t client_got[BUF_MAX]; /* Bytes the client read. */
    size_t client_len;
    int client_end_status; /* 1 = no end yet. */
    int server_end_status;
    int client_drains;
    int server_reads;
    size_t want_len;    /* Bytes the current wait expects. */
    bool check_pattern; /* Server verifies bytes against pattern_byte, not stores. */
    size_t pattern_mismatches;
};

/* Byte i of the bulk stream: position-dependent so a reordering or a gap shows. */
static uint8_t pattern_byte(size_t i) { return (uint8_t)(i * 131 + i / 4099); }

static void fixture_run_until(struct net_fixture *f, bool (*done)(struct net_fixture *)) {
    for (int i = 0; i < PASSES_MAX && !done(f); i++)
        assert_true(io_posix_run_once(f->io, 10) >= 0);
    assert_true(done(f));
}

static void on_server_read(void *arg, struct io_stream *s, const uint8_t *data, size_t len,
                           int status) {
    struct net_fixture *f = arg;
    assert_ptr_equal(s, f->server);
    if (len == 0) {
        f->server_end_status = status;
        return;
    }
    assert_int_equal(status, 0);
    if (f->check_pattern) {
        for (size_t i = 0; i < len; i++)
            if (data[i] != pattern_byte(f->server_len + i)) f->pattern_mismatches++;
        f->server_len += len;
        return;
    }
    assert_true(f->server_len + len <= BUF_MAX);
    memcpy(f->server_got + f->server_len, data, len);
    f->server_len += len;
    f->server_reads++;
    if (f->echo) assert_int_equal(io_stream_write(f->io, s, data, len), 0);
}

static void on_accept(void *arg, struct io_stream *s) {
    struct net_fixture *f = arg;
    assert_null(f->server);
    f->server = s;
    io_stream_start(f->io, s, on_server_read, NULL, f);
}

static void on_client_read(void *arg, struct io_stream *s, const uint8_t *data, size_t len,
                           int status) {
    struct net_fixture *f = arg;
    assert_ptr_equal(s, f->client);
    if (len == 0) {
        f->client_end_status = status;
        return;
    }
    assert_true(f->client_len + len <= BUF_MAX);
    memcpy(f->client_got + f->client_len, data, len);
    f->client_len += len;
}

static void on_client_drain(void *arg, struct io_stream *s) {
    struct net_fixture *f = arg;
    assert_int_equal(io_stream_queued(f->io, s), 0);
    f->client_drains++;
}

static void on_connect(void *arg, struct io_stream *s, int status) {
    struct net_fixture *f = arg;
    f->connect_calls++;
    f->connect_status = status;
    f->client = s;
    if (status == 0) io_stream_start(f->io, s, on_client_read, on_client_drain, f);
}

static bool both_connected(struct net_fixture *f) {
    return f->connect_calls == 1 && f->server != NULL;
}

/* Listens on an ephemeral loopback port and connects a client to it. */
static struct net_fixture *fixture_connect(bool echo) {
    struct net_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->io = io_posix_create();
    f->echo = echo;
    f->client_end_status = 1;
    f->server_end_status = 1;
    assert_int_equal(io_listen(f->io, "127.0.0.1", 0, on_accept, f, &f->listener), 0);
    uint16_t port = io_listener_port(f->io, f->listener);
    assert_true(port != 0);
    assert_int_equal(io_connect(f->io, "127.0.0.1", port, on_connect, f), 0);
    /* The libuv rule: the callback never runs inside the call that registered it. */
    assert_int_equal(f->connect_calls, 0);
    fixture_run_until(f, both_connected);
    assert_int_equal(f->connect_status, 0);
    assert_non_null(f->client);
    assert_non_null(strstr(io_stream_peer(f->io, f->client), "127.0.0.1:"));
    return f;
}

static void fixture_free(struct net_fixture *f) {
    if (f->client != NULL) io_stream_close(f->io, f->client);
    if (f->server != NULL) io_stream_close(f->io, f->server);
    if (f->listener != NULL) io_listener_close(f->io, f->listener);
    io_posix_destroy(f->io);
    free(f);
}

static bool client_has_want(struct net_fixture *f) { return f->client_len >= f->want_len; }
static bool server_has_want(struct net_fixture *f) { return f->server_len >= f->want_len; }
static bool client_ended(struct net_fixture *f) { return f->client_end_status != 1; }
static bool server_ended(struct net_fixture *f) { return f->server_end_status != 1; }

static void test_loopback_echo(void **state) {
    (void)state;
    struct net_fixture *f = fixture_connect(true);
    /* Large enough to need several reads and partial sends. */
    static uint8_t msg[200000];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + i / 251);
    assert_int_equal(io_stream_write(f->io, f->client, msg, 100000), 0);
    assert_int_equal(io_stream_write(f->io, f->client, msg + 100000, 100000), 0);
    f->want_len = sizeof(msg);
    fixture_run_until(f, client_has_want);
    assert_int_equal(f->client_len, sizeof(msg));
    assert_memory_equal(f->client_got, msg, sizeof(msg));
    assert_int_equal(f->server_len, sizeof(msg));
    assert_true(f->client_drains >= 1);
    assert_int_equal(io_stream_queued(f->io, f->client), 0);
    fixture_free(f);
}

static void test_write_sendfile_order(void **state) {
    (void)state;
    struct net_fixture *f = fixture_connect(false);
    char dir[] = "/tmp/trial-io-posix-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/seg", dir);
    struct io_file *file = NULL;
    assert_int_equal(io_file_open(f->io, path, IO_OPEN_CREATE, &file), 0);
    const char body[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    assert_int_equal(io_file_pwrite(f->io, file, body, strlen(body), 0), (int64_t)strlen(body));

    assert_int_equal(io_stream_write(f->io, f->client, "<head>", 6), 0);
    assert_int_equal(io_stream_sendfile(f->io, f->client, file, 10, 6), 0); /* "abcdef" */
    assert_int_equal(io_stream_write(f->io, f->client, "<mid>", 5), 0);
    assert_int_equal(io_stream_sendfile(f->io, f->client, file, 0, 3), 0); /* "012" */
    assert_int_equal(io_stream_write(f->io, f->client, "<tail>", 6), 0);
    const char *expect = "<head>abcdef<mid>012<tail>";
    f->want_len = strlen(expect);
    /* Nothing ran yet: the drain callback waits for the loop. */
    assert_int_equal(f->client_drains, 0);
    fixture_run_until(f, server_has_want);
    assert_int_equal(f->server_len, strlen(expect));
    assert_memory_equal(f->server_got, expect, strlen(expect));
    assert_true(f->client_drains >= 1);

    io_file_close(f->io, file);
    assert_int_equal(io_unlink(f->io, path), 0);
    assert_int_equal(io_rmdir(f->io, dir), 0);
    fixture_free(f);
}

static void test_backlog_order(void **state) {
    (void)state;
    enum { TOTAL = 16 * 1024 * 1024, CHUNK = 4000 };
    struct net_fixture *f = fixture_connect(false);
    f->check_pattern = true;
    uint8_t *bytes = malloc(TOTAL);
    assert_non_null(bytes);
    for (size_t i = 0; i < TOTAL; i++)
        bytes[i] = pattern_byte(i);
    char dir[] = "/tmp/trial-io-posix-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/bulk", dir);
    struct io_file *file = NULL;
    assert_int_equal(io_file_open(f->io, path, IO_OPEN_CREATE, &file), 0);
    assert_int_equal(io_file_pwrite(f->io, file, bytes, TOTAL, 0), TOTAL);

    /* The reader is paused, so the kernel buffers fill and the rest queues in io_posix. */
    io_stream_pause(f->io, f->server, true);
    size_t pos = 0;
    for (int k = 0; pos < TOTAL; k++) {
        size_t len = MIN((size_t)CHUNK + (size_t)(k % 7) * 500, TOTAL - pos);
        if (k % 5 == 4)
            assert_int_equal(io_stream_sendfile(f->io, f->client, file, pos, len), 0);
        else
            assert_int_equal(io_stream_write(f->io, f->client, bytes + pos, len), 0);
        pos += len;
    }
    assert_true(io_stream_queued(f->io, f->client) > 0);
    for (int i = 0; i < 5; i++)
        assert_true(io_posix_run_once(f->io, 1) >= 0);
    assert_int_equal(f->server_len, 0);
    assert_int_equal(f->client_drains, 0);

    io_stream_pause(f->io, f->server, false);
    f->want_len = TOTAL;
    for (int i = 0; i < 100000 && f->server_len < TOTAL; i++)
        assert_true(io_posix_run_once(f->io, 10) >= 0);
    assert_int_equal(f->server_len, TOTAL);
    assert_int_equal(f->pattern_mismatches, 0);
    for (int i = 0; i < PASSES_MAX && f->client_drains == 0; i++)
        io_posix_run_once(f->io, 1);
    assert_int_equal(f->client_drains, 1);
    assert_int_equal(io_stream_queued(f->io, f->client), 0);

    io_file_close(f->io, file);
    assert_int_equal(io_unlink(f->io, path), 0);
    assert_int_equal(io_rmdir(f->io, dir), 0);
    free(bytes);
    fixture_free(f);
}

/* Counts this process's open descriptors (probing the low numbers, as few are in use). */
static int open_fd_count(void) {
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0) n++;
    return n;
}

/* A sendfile range still queued when its owner closes (and unlinks) the file goes out with
 * the bytes of that file, not of whatever the descriptor number is reused for next; the
 * descriptor is closed once the range has been sent. */
static void test_sendfile_after_close(void **state) {
    (void)state;
    enum { TOTAL = 8 * 1024 * 1024 };
    struct net_fixture *f = fixture_connect(false);
    f->check_pattern = true;
    uint8_t *bytes = malloc(TOTAL);
    assert_non_null(bytes);
    for (size_t i = 0; i < TOTAL; i++)
        bytes[i] = pattern_byte(i);
    char dir[] = "/tmp/trial-io-posix-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], other[256];
    snprintf(path, sizeof(path), "%s/seg", dir);
    snprintf(other, sizeof(other), "%s/other", dir);
    int fds_before = open_fd_count();
    struct io_file *file = NULL;
    assert_int_equal(io_file_open(f->io, path, IO_OPEN_CREATE, &file), 0);
    assert_int_equal(io_file_pwrite(f->io, file, bytes, TOTAL, 0), TOTAL);

    /* A paused reader: most of the range stays queued in io_posix. */
    io_stream_pause(f->io, f->server, true);
    assert_int_equal(io_stream_sendfile(f->io, f->client, file, 0, TOTAL), 0);
    assert_true(io_stream_queued(f->io, f->client) > 0);
    io_file_close(f->io, file);
    assert_int_equal(io_unlink(f->io, path), 0);
    for (int i = 0; i < 3; i++)
        assert_true(io_posix_run_once(f->io, 1) >= 0);
    /* Still open for the queued range. */
    assert_int_equal(open_fd_count(), fds_before + 1);

    /* A new file likely gets the descriptor number the old one would have freed. */
    struct io_file *decoy = NULL;
    assert_int_equal(io_file_open(f->io, other, IO_OPEN_CREATE, &decoy), 0);
    memset(bytes, 0xEE, TOTAL);
    assert_int_equal(io_file_pwrite(f->io, decoy, bytes, TOTAL, 0), TOTAL);

    io_stream_pause(f->io, f->server, false);
    for (int i = 0; i < 100000 && f->server_len < TOTAL; i++)
        assert_true(io_posix_run_once(f->io, 10) >= 0);
    assert_int_equal(f->server_len, TOTAL);
    assert_int_equal(f->pattern_mismatches, 0);
    for (int i = 0; i < PASSES_MAX && f->client_drains == 0; i++)
        io_posix_run_once(f->io, 1);
    assert_int_equal(f->client_drains, 1);
    /* The orphaned file's descriptor is gone; only the decoy's remains. */
    assert_int_equal(open_fd_count(), fds_before + 1);
    io_file_close(f->io, decoy);
    assert_int_equal(open_fd_count(), fds_before);

    assert_int_equal(io_unlink(f->io, other), 0);
    assert_int_equal(io_rmdir(f->io, dir), 0);
    free(bytes);
    fixture_free(f);
}

/* Destroying the loop with a range of an owner-closed file still queued closes that file
 * too (no descriptor leaks, no "left open" handle is blamed on the owner). */
static void test_sendfile_orphan_destroy(void **state) {
    (void)state;
    enum { TOTAL = 8 * 1024 * 1024 };
    int fds_start = open_fd_count();
    struct net_fixture *f = fixture_connect(false);
    f->check_pattern = true;
    char dir[] = "/tmp/trial-io-posix-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/seg", dir);
    int fds_before = open_fd_count();
    struct io_file *file = NULL;
    assert_int_equal(io_file_open(f->io, path, IO_OPEN_CREATE, &file), 0);
    assert_int_equal(io_file_truncate(f->io, file, TOTAL), 0);
    io_stream_pause(f->io, f->server, true);
    assert_int_equal(io_stream_sendfile(f->io, f->client, file, 0, TOTAL), 0);
    io_file_close(f->io, file);
    assert_int_equal(open_fd_count(), fds_before + 1);
    assert_int_equal(io_unlink(f->io, path), 0);
    assert_int_equal(io_rmdir(f->io, dir), 0);
    fixture_free(f); /* Destroys the loop with the range still queued. */
    assert_int_equal(open_fd_count(), fds_start);
}

static void test_pause_and_eof(void **state) {
    (void)state;
    struct net_fixture *f = fixture_connect(false);
    io_stream_pause(f->io, f->server, true);
    assert_int_equal(io_stream_write(f->io, f->client, "ping", 4), 0);
    for (int i = 0; i < 20; i++)
        assert_true(io_posix_run_once(f->io, 1) >= 0);
    assert_int_equal(f->server_len, 0); /* Paused: the bytes wait in the kernel. */
    io_stream_pause(f->io, f->server, false);
    f->want_len = 4;
    fixture_run_until(f, server_has_want);
    assert_memory_equal(f->server_got, "ping", 4);

    io_stream_close(f->io, f->client);
    f->client = NULL;
    fixture_run_until(f, server_ended);
    assert_int_equal(f->server_end_status, 0); /* Orderly EOF. */
    fixture_free(f);
}

struct close_other {
    struct io *io;
    struct io_stream *victim;
    int drains_closer;
    int drains_victim;
};

static void on_drain_close_other(void *arg, struct io_stream *s) {
    struct close_other *c = arg;
    (void)s;
    c->drains_closer++;
    if (c->victim != NULL) io_stream_close(c->io, c->victim);
    c->victim = NULL;
}

static void on_drain_victim(void *arg, struct io_stream *s) {
    (void)s;
    ((struct close_other *)arg)->drains_victim++;
}

static void on_read_ignore(void *arg, struct io_stream *s, const uint8_t *data, size_t len,
                           int status) {
    (void)arg, (void)s, (void)data, (void)len, (void)status;
}

static void test_no_callback_after_close(void **state) {
    (void)state;
    struct net_fixture *f = fixture_connect(false);
    struct close_other c = {.io = f->io, .victim = f->server};
    io_stream_start(f->io, f->client, on_read_ignore, on_drain_close_other, &c);
    io_stream_start(f->io, f->server, on_read_ignore, on_drain_victim, &c);
    /* Both sends complete at once, so both drains are due in the same pass, client first. */
    assert_int_equal(io_stream_write(f->io, f->client, "a", 1), 0);
    assert_int_equal(io_stream_write(f->io, f->server, "b", 1), 0);
    for (int i = 0; i < 10; i++)
        assert_true(io_posix_run_once(f->io, 1) >= 0);
    assert_int_equal(c.drains_closer, 1);
    assert_int_equal(c.drains_victim, 0);
    f->server = NULL; /* Closed by the callback. */
    fixture_free(f);
}

static void test_connect_refused(void **state) {
    (void)state;
    struct net_fixture f;
    memset(&f, 0, sizeof(f));
    f.io = io_posix_create();
    /* Find a free port, then close it so nobody listens there. */
    struct io_listener *l = NULL;
    assert_int_equal(io_listen(f.io, "127.0.0.1", 0, on_accept, &f, &l), 0);
    uint16_t port = io_listener_port(f.io, l);
    io_listener_close(f.io, l);
    assert_int_equal(io_connect(f.io, "127.0.0.1", port, on_connect, &f), 0);
    for (int i = 0; i < PASSES_MAX && f.connect_calls == 0; i++)
        io_posix_run_once(f.io, 10);
    assert_int_equal(f.connect_calls, 1);
    assert_int_equal(f.connect_status, -ECONNREFUSED);
    assert_null(f.client);
    io_posix_destroy(f.io);
}

/* --- Timers ---------------------------------------------------------------------------- */

struct timer_log {
    struct io *io;
    char order[16];
    size_t count;
};
struct timer_arg {
    struct timer_log *log;
    char name;
};

static void on_timer(void *arg) {
    struct timer_arg *t = arg;
    assert_true(t->log->count < sizeof(t->log->order) - 1);
    t->log->order[t->log->count++] = t->name;
}

static void test_timers_order(void **state) {
    (void)state;
    struct timer_log log = {.io = io_posix_create()};
    struct timer_arg a = {&log, 'a'}, b = {&log, 'b'}, c = {&log, 'c'}, d = {&log, 'd'},
                     e = {&log, 'e'};
    uint64_t now = io_now_ns(log.io);
    io_timer_id ia = io_timer_start(log.io, now + 3 * 1000000, on_timer, &a);
    io_timer_id ib = io_timer_start(log.io, now + 1 * 1000000, on_timer, &b);
    io_timer_id ic = io_timer_start(log.io, now + 1 * 1000000, on_timer, &c);
    io_timer_id id = io_timer_start(log.io, now, on_timer, &d);
    io_timer_id ie = io_timer_start(log.io, now + 2 * 1000000, on_timer, &e);
    assert_true(ia != 0 && ib != 0 && ic != 0 && id != 0 && ie != 0);
    assert_true(ia != ib && ib != ic);
    io_timer_cancel(log.io, ie);
    io_timer_cancel(log.io, ie); /* Twice is a no-op. */
    io_timer_cancel(log.io, 0);
    assert_int_equal(log.count, 0); /* Nothing fires inside timer_start. */
    for (int i = 0; i < PASSES_MAX && log.count < 4; i++)
        io_posix_run_once(log.io, 10);
    log.order[log.count] = '\0';
    /* Deadline order; b and c share a deadline and fire in start order; e was cancelled. */
    assert_string_equal(log.order, "dbca");
    io_timer_cancel(log.io, ia); /* Cancelling a fired timer is a no-op. */
    assert_true(io_now_ns(log.io) >= now + 3 * 1000000);
    io_posix_destroy(log.io);
}

static void on_stop_timer(void *arg) {
    struct timer_log *log = arg;
    log->order[log->count++] = 's';
    io_posix_stop(log->io);
}

static void test_run_until_stop(void **state) {
    (void)state;
    struct timer_log log = {.io = io_posix_create()};
    struct timer_arg a = {&log, 'a'};
    uint64_t now = io_now_ns(log.io);
    io_timer_start(log.io, now + 1000000, on_stop_timer, &log);
    io_timer_start(log.io, now + 1000000, on_timer, &a);            /* Same pass as the stop. */
    io_timer_start(log.io, now + 60 * NS_PER_S_TEST, on_timer, &a); /* Never reached. */
    assert_int_equal(io_posix_run(log.io), 0);
    log.order[log.count] = '\0';
    assert_string_equal(log.order, "sa");
    io_posix_destroy(log.io); /* Frees the pending 60 s timer. */
}

struct signal_seen {
    int signo;
    int calls;
};

static void on_signal(void *arg, int signo) {
    struct signal_seen *seen = arg;
    seen->signo = signo;
    seen->calls++;
}

static void test_signals(void **state) {
    (void)state;
    struct io *io = io_posix_create();
    struct signal_seen seen = {0};
    const int signals[] = {SIGUSR1, SIGUSR2};
    assert_int_equal(io_posix_watch_signals(io, signals, 2, on_signal, &seen), 0);
    assert_int_equal(raise(SIGUSR2), 0); /* Blocked: would kill the process otherwise. */
    assert_int_equal(seen.calls, 0);     /* Only the loop delivers it. */
    for (int i = 0; i < PASSES_MAX && seen.calls == 0; i++)
        io_posix_run_once(io, 10);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.signo, SIGUSR2);
    io_posix_destroy(io);
}

static void test_trace_file(void **state) {
    (void)state;
    char path[] = "/tmp/trial-io-posix-trace-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(setenv("TRIAL_TRACE_FILE", path, 1), 0);
    struct io *io = io_posix_create();
    assert_int_equal(unsetenv("TRIAL_TRACE_FILE"), 0);
    io_tracef(io, "append", IO_TF_S("topic", "t0"), IO_TF_I("offset", -7));
    io_tracef(io, "hw_advance", IO_TF_I("hw", 42));
    io_posix_destroy(io); /* Flushes and closes the trace file. */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line1[256] = "", line2[256] = "";
    assert_non_null(fgets(line1, sizeof(line1), f));
    assert_non_null(fgets(line2, sizeof(line2), f));
    fclose(f);
    unlink(path);
    assert_non_null(strstr(line1, " append topic=\"t0\" offset=-7\n"));
    assert_non_null(strstr(line2, " hw_advance hw=42\n"));
}

/* --- Files ----------------------------------------------------------------------------- */

struct dir_listing {
    char names[8][32];
    bool is_dir[8];
    size_t count;
};

static void on_dir_entry(void *arg, const char *name, bool is_dir) {
    struct dir_listing *l = arg;
    assert_true(l->count < 8);
    snprintf(l->names[l->count], sizeof(l->names[0]), "%s", name);
    l->is_dir[l->count] = is_dir;
    l->count++;
}

static void test_file_round_trip(void **state) {
    (void)state;
    struct io *io = io_posix_create();
    char dir[] = "/tmp/trial-io-posix-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p_b[256], p_a[256], p_c[256], p_sub[256], p_renamed[256], p_missing[256];
    snprintf(p_b, sizeof(p_b), "%s/b.log", dir);
    snprintf(p_a, sizeof(p_a), "%s/a.log", dir);
    snprintf(p_c, sizeof(p_c), "%s/C.log", dir);
    snprintf(p_sub, sizeof(p_sub), "%s/sub", dir);
    snprintf(p_renamed, sizeof(p_renamed), "%s/sub/z.log", dir);
    snprintf(p_missing, sizeof(p_missing), "%s/missing", dir);

    struct io_file *f = NULL;
    assert_int_equal(io_file_open(io, p_missing, IO_OPEN_READ, &f), -ENOENT);
    assert_int_equal(io_file_open(io, p_b, IO_OPEN_CREATE | IO_OPEN_EXCL, &f), 0);
    struct io_file *dup = NULL;
    assert_int_equal(io_file_open(io, p_b, IO_OPEN_CREATE | IO_OPEN_EXCL, &dup), -EEXIST);

    uint8_t data[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i % 253);
    assert_int_equal(io_file_pwrite(io, f, data, sizeof(data), 0), (int64_t)sizeof(data));
    assert_int_equal(io_file_pwrite(io, f, "XY", 2, 20000), 2); /* Leaves a hole. */
    assert_int_equal(io_file_sync(io, f), 0);
    assert_int_equal(io_file_size(io, f), 20002);
    uint8_t back[10000];
    assert_int_equal(io_file_pread(io, f, back, sizeof(back), 0), (int64_t)sizeof(back));
    assert_memory_equal(back, data, sizeof(data));
    assert_int_equal(io_file_pread(io, f, back, 100, 19990), 12); /* Short only at EOF. */
    assert_int_equal(back[10], 'X');
    assert_int_equal(back[0], 0); /* The hole reads as zeros. */
    assert_int_equal(io_file_truncate(io, f, 5000), 0);
    assert_int_equal(io_file_size(io, f), 5000);
    assert_int_equal(io_file_pread(io, f, back, sizeof(back), 0), 5000);
    assert_memory_equal(back, data, 5000);
    io_file_close(io, f);

    /* Create the others out of order; list_dir must sort byte-wise ('C' < 'a' < 'b'). */
    assert_int_equal(io_mkdir(io, p_sub), 0);
    assert_int_equal(io_mkdir(io, p_sub), -EEXIST);
    assert_int_equal(io_file_open(io, p_c, IO_OPEN_CREATE, &f), 0);
    io_file_close(io, f);
    assert_int_equal(io_file_open(io, p_a, IO_OPEN_CREATE | IO_OPEN_TRUNC, &f), 0);
    io_file_close(io, f);
    struct dir_listing l = {0};
    assert_int_equal(io_list_dir(io, dir, on_dir_entry, &l), 0);
    assert_int_equal(l.count, 4);
    assert_string_equal(l.names[0], "C.log");
    assert_string_equal(l.names[1], "a.log");
    assert_string_equal(l.names[2], "b.log");
    assert_string_equal(l.names[3], "sub");
    assert_false(l.is_dir[0]);
    assert_true(l.is_dir[3]);

    /* Rename across directories keeps the contents; the old name is gone. */
    assert_int_equal(io_rename(io, p_b, p_renamed), 0);
    bool is_dir = true;
    assert_int_equal(io_exists(io, p_renamed, &is_dir), 0);
    assert_false(is_dir);
    assert_int_equal(io_exists(io, p_b, NULL), -ENOENT);
    assert_int_equal(io_file_open(io, p_renamed, IO_OPEN_READ, &f), 0);
    assert_int_equal(io_file_pread(io, f, back, 5000, 0), 5000);
    assert_memory_equal(back, data, 5000);
    io_file_close(io, f);

    assert_int_equal(io_rmdir(io, p_sub), -ENOTEMPTY);
    assert_int_equal(io_unlink(io, p_renamed), 0);
    assert_int_equal(io_unlink(io, p_renamed), -ENOENT);
    assert_int_equal(io_rmdir(io, p_sub), 0);
    assert_int_equal(io_unlink(io, p_a), 0);
    assert_int_equal(io_unlink(io, p_c), 0);
    assert_int_equal(io_rmdir(io, dir), 0);
    io_posix_destroy(io);
}

static void test_alloc_random_buggify(void **state) {
    (void)state;
    struct io *io = io_posix_create();
    assert_int_equal(io_posix_allocated_bytes(io), 0);
    char *s = io_strdup(io, "trial");
    uint8_t *z = io_calloc(io, 10, 10);
    for (int i = 0; i < 100; i++)
        assert_int_equal(z[i], 0);
    z = io_realloc(io, z, 100, 200);
    assert_int_equal(io_posix_allocated_bytes(io), 206);
    io_free(io, z, 200);
    io_strfree(io, s);
    assert_int_equal(io_posix_allocated_bytes(io), 0);
    /* Two draws of 64 random bits are equal with probability 2^-64. */
    assert_true(io_random_u64(io) != io_random_u64(io));
    assert_false(io_buggify(io, "test"));
    assert_true(io_wall_ms(io) > 1600000000000LL); /* After 2020: the real clock. */
    io_tracef(io, "test_event", IO_TF_I("n", 1), IO_TF_S("s", "x"));
    io_log(io, IO_LOG_DEBUG, "debug lines are filtered at the default level %d", 1);
    io_posix_destroy(io);
}

/* --- Faults through libfiu ------------------------------------------------------------- */

static void test_fault_file(void **state) {
    (void)state;
    struct io *io = io_posix_create();
    char dir[] = "/tmp/trial-io-posix-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/f", dir);
    struct io_file *f = NULL;
    assert_int_equal(io_file_open(io, path, IO_OPEN_CREATE, &f), 0);
    assert_int_equal(io_file_pwrite(io, f, "abc", 3, 0), 3);

    assert_int_equal(fiu_enable("posix/file/sync", 1, NULL, 0), 0);
    assert_int_equal(io_file_sync(io, f), -EIO);
    assert_int_equal(fiu_disable("posix/file/sync"), 0);
    assert_int_equal(io_file_sync(io, f), 0);

    /* failinfo carries the errno: ENOSPC on write, and nothing is written. */
    assert_int_equal(fiu_enable("posix/file/write", 1, (void *)(intptr_t)ENOSPC, 0), 0);
    assert_int_equal(io_file_pwrite(io, f, "def", 3, 3), -ENOSPC);
    assert_int_equal(fiu_disable("posix/file/write"), 0);
    assert_int_equal(io_file_size(io, f), 3);

    assert_int_equal(fiu_enable("posix/file/open", 1, NULL, 0), 0);
    struct io_file *g = NULL;
    assert_int_equal(io_file_open(io, path, IO_OPEN_READ, &g), -EIO);
    assert_int_equal(fiu_disable("posix/file/open"), 0);

    assert_int_equal(fiu_enable("posix/file/rename", 1, NULL, 0), 0);
    assert_int_equal(io_rename(io, path, path), -EIO);
    assert_int_equal(fiu_disable("posix/file/rename"), 0);

    io_file_close(io, f);
    assert_int_equal(io_unlink(io, path), 0);
    assert_int_equal(io_rmdir(io, dir), 0);
    io_posix_destroy(io);
}

static void test_fault_net_write(void **state) {
    (void)state;
    struct net_fixture *f = fixture_connect(false);
    assert_int_equal(fiu_enable("posix/net/write", 1, NULL, 0), 0);
    /* The write is queued; the injected failure surfaces through the read callback. */
    assert_int_equal(io_stream_write(f->io, f->client, "doomed", 6), 0);
    assert_int_equal(fiu_disable("posix/net/write"), 0);
    fixture_run_until(f, client_ended);
    assert_int_equal(f->client_end_status, -ECONNRESET);
    assert_int_equal(io_stream_write(f->io, f->client, "more", 4), -ECONNRESET);
    assert_int_equal(f->server_len, 0);
    fixture_free(f);
}

static void test_fault_net_read_and_accept(void **state) {
    (void)state;
    struct net_fixture *f = fixture_connect(false);
    assert_int_equal(fiu_enable("posix/net/read", 1, NULL, 0), 0);
    assert_int_equal(io_stream_write(f->io, f->client, "x", 1), 0);
    fixture_run_until(f, server_ended);
    assert_int_equal(fiu_disable("posix/net/read"), 0);
    assert_int_equal(f->server_end_status, -ECONNRESET);
    assert_int_equal(f->server_len, 0);
    fixture_free(f);

    /* An injected accept failure closes the new connection: the client sees it end. */
    struct net_fixture g;
    memset(&g, 0, sizeof(g));
    g.io = io_posix_create();
    g.client_end_status = 1;
    assert_int_equal(io_listen(g.io, "127.0.0.1", 0, on_accept, &g, &g.listener), 0);
    assert_int_equal(fiu_enable("posix/net/accept", 1, NULL, 0), 0);
    assert_int_equal(
        io_connect(g.io, "127.0.0.1", io_listener_port(g.io, g.listener), on_connect, &g), 0);
    for (int i = 0; i < PASSES_MAX && !client_ended(&g); i++)
        io_posix_run_once(g.io, 10);
    assert_int_equal(fiu_disable("posix/net/accept"), 0);
    assert_int_equal(g.connect_status, 0);
    assert_true(client_ended(&g));
    assert_true(g.client_end_status <= 0);
    assert_null(g.server); /* The accept callback never ran. */
    io_stream_close(g.io, g.client);
    io_listener_close(g.io, g.listener);
    io_posix_destroy(g.io);
}

/* Only under fiu-run (see the header comment): nothing here enables the point. */
static void test_external_fault(void **state) {
    (void)state;
    struct io *io = io_posix_create();
    char dir[] = "/tmp/trial-io-posix-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/f", dir);
    struct io_file *f = NULL;
    assert_int_equal(io_file_open(io, path, IO_OPEN_CREATE, &f), -ENOSPC); /* Its dir sync. */
    assert_int_equal(io_file_open(io, path, IO_OPEN_WRITE, &f), 0);        /* Exists now. */
    assert_int_equal(io_file_pwrite(io, f, "abc", 3, 0), 3);
    assert_int_equal(io_file_sync(io, f), -ENOSPC);
    io_file_close(io, f);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    io_posix_destroy(io);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--external-fault") == 0) {
        const struct CMUnitTest external[] = {cmocka_unit_test(test_external_fault)};
        return cmocka_run_group_tests(external, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_echo),
        cmocka_unit_test(test_write_sendfile_order),
        cmocka_unit_test(test_backlog_order),
        cmocka_unit_test(test_sendfile_after_close),
        cmocka_unit_test(test_sendfile_orphan_destroy),
        cmocka_unit_test(test_pause_and_eof),
        cmocka_unit_test(test_no_callback_after_close),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_timers_order),
        cmocka_unit_test(test_run_until_stop),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_trace_file),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_alloc_random_buggify),
        cmocka_unit_test(test_fault_file),
        cmocka_unit_test(test_fault_net_write),
        cmocka_unit_test(test_fault_net_read_and_accept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
