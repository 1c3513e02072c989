/*
 * io_posix.h — create, run and destroy the real-world implementation of io.h.
 *
 * One io_posix handle is one epoll event loop on one thread: every callback registered
 * through the handle runs from io_posix_run()/io_posix_run_once() on the calling thread.
 * The handle owns every stream, listener and file opened through it; io_posix_destroy()
 * closes whatever the owner left open (and logs it, since that is a leak in the owner).
 *
 * Environment knobs, read once by io_posix_create():
 *   TRIAL_LOG_LEVEL   debug|info|warn|error — the lowest level io_log() prints (info).
 *   TRIAL_TRACE_FILE  a path: io_trace() events are appended there, one per line;
 *                     unset, trace events are dropped.
 *
 * Fault injection: the file and socket calls carry libfiu points (docs/FAULT_POINTS.md),
 * so `fiu-run -c 'enable name=posix/file/sync' prog` or fiu-ctrl can fail them.
 */
#ifndef TRIAL_IO_POSIX_H
#define TRIAL_IO_POSIX_H

#include <stddef.h>

#include "io/io.h"

/* A new event loop and its io handle. Aborts if the kernel refuses an epoll instance. */
struct io *io_posix_create(void);

/* Runs the loop until io_posix_stop() is called (from a callback). 0, or -errno if
 * epoll_wait failed for a reason other than EINTR. */
int io_posix_run(struct io *io);

/* One pass of the loop: waits at most timeout_ms (-1: until something happens; it is cut
 * short by the nearest timer), then runs due timers and ready callbacks. Returns the
 * number of callbacks run, or -errno. Tests drive the loop with this. */
int io_posix_run_once(struct io *io, int timeout_ms);

/* Makes io_posix_run() return after the current pass. Safe from any callback. */
void io_posix_stop(struct io *io);

/* Closes everything still open and frees the handle. Must not be called from a callback. */
void io_posix_destroy(struct io *io);

/* Called from the loop when one of the watched signals arrived. */
typedef void (*io_posix_signal_cb)(void *arg, int signo);

/* Delivers `signals` (e.g. SIGTERM, SIGINT) through the loop instead of an async handler:
 * they are blocked for the calling thread and read from a signalfd, so `cb` runs like any
 * other callback and may call io_posix_stop() or anything else. One watcher per loop; a
 * second call replaces the first. 0 or -errno. Programs only (triald, trialctl). */
int io_posix_watch_signals(struct io *io, const int *signals, size_t count, io_posix_signal_cb cb,
                           void *arg);

/* Bytes currently allocated through io_alloc/io_realloc and not yet freed: a leak check
 * for tests and a gauge for metrics. */
size_t io_posix_allocated_bytes(struct io *io);

#endif /* TRIAL_IO_POSIX_H */
