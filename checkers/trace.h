/*
 * trace.h — what the system reported: the trace events checkers and reports read.
 *
 * The system emits structured observations through io.h's io_trace(io, event, fields, n);
 * the simulator's io implementation forwards each one here with trace_add(), adding the
 * node it came from and the global virtual time. Fields are typed (int or string) and are
 * copied, so the caller's buffers may be reused at once.
 *
 * Conventions that checkers and reports rely on (the sim and the system emit these):
 *  - A message is two events sharing the int field "msg": "net_send" on the sender (str
 *    field "to") and "net_recv" on the receiver (str field "from"); an optional str field
 *    "api" names it (Produce, Fetch, ...). Reports draw them as arrows.
 *  - A fault injected by the sim is an event "fault" on node "sim" or on the target node,
 *    with str field "kind" (crash, restart, partition, ...) and str "target".
 *  - An unclean leader election is an event "unclean_election" with str "topic" and int
 *    "partition": I-REPL-1 and I-REPL-2 report losses after it as allowed when the
 *    scenario permits unclean elections.
 *  - The partition log reports what it did to its files, so I-LOG-2 knows what a crash
 *    may lose (li_log_from_trace in log_image.h rebuilds the log from these), each with
 *    str "topic" and int "partition":
 *      "log_append"    ints base_offset, last_offset, epoch, crc (the batch's CRC field);
 *      "log_truncate"  int offset: every batch with last_offset >= offset is gone, durably;
 *      "log_flush"     int offset: everything below offset is fsynced;
 *      "log_recovered" int offset: the LEO recovery left after a restart (what is on disk
 *                      after a crash is durable, so the synced end becomes this offset).
 *
 * Storage: node names, event names, keys and string values are interned (each distinct
 * string is stored once and events point at the copy), and fields live in large blocks, so
 * recording an event costs no allocation in the common case and freeing a trace frees a few
 * blocks instead of millions of strings. The strings are read-only for checkers.
 *
 * Bounded: at most `events_max` events; later ones are dropped and `overflow` is set. The
 * trace hash (a word-wise multiply-mix over every event in order, each string folded as its
 * content hash; host independent) is the determinism self-check: two runs of
 * one seed must produce the same hash.
 */
#ifndef TRIAL_CHECKERS_TRACE_H
#define TRIAL_CHECKERS_TRACE_H

#include "io/io.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRACE_NONE               SIZE_MAX
#define TRACE_EVENTS_MAX_DEFAULT (1u << 22)
#define TRACE_FIELDS_MAX         32

struct trace_field {
    char *key;
    enum io_trace_type type;
    int64_t i;
    char *s; /* IO_TRACE_STR only. */
};

struct trace_event {
    size_t index;     /* Position in the trace, 0-based. */
    uint64_t time_ns; /* Global virtual time. */
    char *node;       /* "n1", "q1", "p1", "sim", ... */
    char *name;       /* "append", "hw_advance", "net_send", ... */
    struct trace_field *fields;
    size_t field_count;
};

struct trace_store; /* trace.c: interned strings and field blocks (no per-event malloc). */

struct trace {
    struct trace_event *events;
    size_t count;
    size_t capacity;
    size_t events_max;
    bool overflow;
    uint64_t hash; /* Running hash of every event added, including dropped ones. */
    struct trace_store *store; /* Owns every string and field the events point to. */
};

void trace_init(struct trace *t, size_t events_max);
void trace_free(struct trace *t);

/* Records one event (copying everything). Events must be added in non-decreasing time.
 * Returns its index, or TRACE_NONE when the bound dropped it. At most TRACE_FIELDS_MAX. */
size_t trace_add(struct trace *t, uint64_t time_ns, const char *node, const char *name,
                 const struct io_trace_field *fields, size_t count);

/* Field lookup: true and *out when an int field `key` exists. */
bool trace_get_int(const struct trace_event *e, const char *key, int64_t *out);
/* The string field `key`, or NULL. */
const char *trace_get_str(const struct trace_event *e, const char *key);

/* "1.250000s n1 append topic=t1 partition=0 offset=5". Returns the length needed. */
size_t trace_describe_event(const struct trace_event *e, char *buf, size_t buf_len);

#endif /* TRIAL_CHECKERS_TRACE_H */
