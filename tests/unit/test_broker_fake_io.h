/*
 * test_broker_fake_io.h — a tiny, fully controlled io.h world for the broker's unit tests.
 *
 * Time moves only when a test says so; timers fire in (deadline, start order); streams are
 * in-memory pipes the test feeds and drains by hand, so a test can hold back the network
 * (stall) to exercise backpressure, or deliver a request one byte at a time. Memory goes
 * through calloc with byte accounting, so every test can assert that nothing leaked.
 * Not the simulator (sim/ does this for real, with faults and a network model); just enough
 * to pin the connection layer's and purgatory's behaviour before sim/ exists.
 */
#ifndef TEST_BROKER_FAKE_IO_H
#define TEST_BROKER_FAKE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

#define FAKE_IO_TIMERS_MAX 4096
#define FAKE_IO_STREAMS_MAX 64

struct fake_stream {
    bool used;
    bool started;
    bool paused;
    bool closed_by_owner;   /* io_stream_close() was called. */
    bool ended;             /* Peer end delivered (EOF/reset). */
    bool stall;             /* When true, written bytes stay queued (a slow peer). */
    io_read_cb read_cb;
    io_drain_cb drain_cb;
    void *arg;
    uint8_t *inbox;         /* Bytes delivered while paused or before start. */
    size_t inbox_len;
    uint8_t *queued;        /* Written, not yet "sent". */
    size_t queued_len;
    uint8_t *sent;          /* What the peer has received. */
    size_t sent_len;
    uint64_t sendfile_calls;
};

struct fake_io {
    struct io io;
    uint64_t now_ns;
    int64_t wall_ms;
    struct {
        bool used;
        uint64_t id;
        uint64_t deadline_ns;
        io_timer_cb cb;
        void *arg;
    } timers[FAKE_IO_TIMERS_MAX];
    uint64_t next_timer_id;
    struct fake_stream streams[FAKE_IO_STREAMS_MAX];
    io_accept_cb accept_cb;
    void *accept_arg;
    int64_t bytes_allocated; /* Outstanding allocation; 0 at the end of a clean test. */
    uint64_t random_state;
    int warnings;            /* io_log calls at WARN or above. */
    uint64_t file_pread_calls; /* io_file_pread calls (a "file" is memory it addresses). */
    int file_pread_error;      /* When nonzero, io_file_pread returns it (e.g. -EIO). */
};

void fake_io_init(struct fake_io *fio);
/* Frees the streams' buffers (not node memory). */
void fake_io_fini(struct fake_io *fio);
/* Moves the clock forward, firing due timers in order. */
void fake_io_advance_ns(struct fake_io *fio, uint64_t delta_ns);
/* Number of armed timers. */
int fake_io_timer_count(const struct fake_io *fio);
/* Accepts a new stream on the listener (as if a client connected). */
struct fake_stream *fake_io_connect_client(struct fake_io *fio);
/* Delivers bytes from the client (buffered while paused). */
void fake_stream_deliver(struct fake_io *fio, struct fake_stream *fs, const void *data,
                         size_t len);
/* Delivers the client's EOF (status 0) or an error. */
void fake_stream_end(struct fake_io *fio, struct fake_stream *fs, int status);
/* Moves queued bytes to `sent` (unless stalled) and calls the drain callback. */
void fake_stream_flush(struct fake_io *fio, struct fake_stream *fs);
/* Removes and returns the first `len` sent bytes into out (returns bytes copied). */
size_t fake_stream_take(struct fake_stream *fs, void *out, size_t len);

#endif
