/*
 * history.h — what the clients did and saw: the operation history checkers judge.
 *
 * Every client operation is recorded twice: at invocation (process, virtual time, what it
 * asked for) and at completion (ok, failed or unknown, virtual time, what came back). An
 * operation that never completes (the run ended, the client crashed) stays PENDING, which
 * checkers treat like UNKNOWN: it may or may not have taken effect. Produced values are
 * unique across the run, so a value read back identifies the produce that wrote it.
 *
 * Op types: PRODUCE (topic, partition, key, value, acks -> acked offset), FETCH (one
 * consumer poll: a list of (partition, offset, value) of one topic), COMMIT (group offset
 * commit) and OFFSET_FETCH (what the group coordinator returned). Ops get dense indexes
 * 0, 1, 2, ... in invocation order; reports cite ops by that index.
 *
 * Ownership: the history copies every string and record list it is given and frees them
 * in history_free(). It lives outside system/ (checkers run in the harness), so it uses the
 * C allocator. Bounded: at most `ops_max` operations; further invocations return
 * HISTORY_NONE, set `overflow`, and are ignored by history_*_complete(), so a run that
 * outgrows the bound is reported as truncated instead of exhausting memory.
 */
#ifndef TRIAL_CHECKERS_HISTORY_H
#define TRIAL_CHECKERS_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HISTORY_NONE                  SIZE_MAX
#define HISTORY_OPS_MAX_DEFAULT       (1u << 22)
#define HISTORY_RECORDS_PER_FETCH_MAX 65536

enum hist_op_type { HIST_PRODUCE = 0, HIST_FETCH, HIST_COMMIT, HIST_OFFSET_FETCH };

enum hist_status {
    HIST_PENDING = 0, /* Invoked, no completion recorded (yet). */
    HIST_OK,          /* The client got a success response. */
    HIST_FAILED,      /* Definitely did not take effect (a non-retriable error response). */
    HIST_UNKNOWN,     /* May or may not have taken effect (timeout, disconnect). */
};

/* One record a fetch returned. */
struct hist_record {
    int32_t partition;
    int64_t offset;
    char *value; /* Owned by the history once recorded. */
};

struct hist_op {
    size_t index;    /* Position in the history, 0-based; stable for reports. */
    int32_t process; /* Client process id (a workload instance). */
    enum hist_op_type type;
    enum hist_status status;
    uint64_t invoke_ns;   /* Virtual time of the invocation. */
    uint64_t complete_ns; /* Virtual time of the completion; 0 while PENDING. */
    int16_t error_code;   /* Kafka error code of the response; 0 = none. */
    char *topic;
    int32_t partition; /* PRODUCE, COMMIT, OFFSET_FETCH; -1 for FETCH. */
    /* PRODUCE. */
    char *key;    /* NULL = null key. */
    char *value;  /* Unique across the run. */
    int32_t acks; /* -1 (all), 0, 1. */
    bool transactional;
    bool idempotent; /* enable.idempotence: set by the caller after the invocation. */
    int64_t offset; /* Acked offset; -1 if none. COMMIT/OFFSET_FETCH: the group offset. */
    /* FETCH. */
    struct hist_record *records;
    size_t record_count;
    uint32_t assignment; /* Consumer's assignment generation: bumps on every (re)assign. */
    bool read_committed;
    /* COMMIT, OFFSET_FETCH. */
    char *group;
    int32_t generation;
};

struct history {
    struct hist_op *ops;
    size_t count;
    size_t capacity;
    size_t ops_max;
    bool overflow; /* An invocation was dropped because of ops_max. */
};

void history_init(struct history *h, size_t ops_max);
void history_free(struct history *h);

/* Invocations return the op index, or HISTORY_NONE when the bound is reached. */
size_t history_produce_invoke(struct history *h, int32_t process, uint64_t now_ns,
                              const char *topic, int32_t partition, const char *key,
                              const char *value, int32_t acks, bool transactional);
/* `offset` is the acked offset (>= 0) for HIST_OK, else -1. */
void history_produce_complete(struct history *h, size_t op, enum hist_status status,
                              uint64_t now_ns, int64_t offset, int16_t error_code);

size_t history_fetch_invoke(struct history *h, int32_t process, uint64_t now_ns, const char *topic,
                            uint32_t assignment, bool read_committed);
/* Copies `records` (in the order the consumer received them). */
void history_fetch_complete(struct history *h, size_t op, enum hist_status status, uint64_t now_ns,
                            const struct hist_record *records, size_t count, int16_t error_code);

size_t history_commit_invoke(struct history *h, int32_t process, uint64_t now_ns, const char *group,
                             const char *topic, int32_t partition, int64_t offset,
                             int32_t generation);
void history_commit_complete(struct history *h, size_t op, enum hist_status status, uint64_t now_ns,
                             int16_t error_code);

size_t history_offset_fetch_invoke(struct history *h, int32_t process, uint64_t now_ns,
                                   const char *group, const char *topic, int32_t partition);
void history_offset_fetch_complete(struct history *h, size_t op, enum hist_status status,
                                   uint64_t now_ns, int64_t offset, int16_t error_code);

const struct hist_op *history_op(const struct history *h, size_t index);

const char *hist_op_type_name(enum hist_op_type type);
const char *hist_status_name(enum hist_status status);

/* One line for reports: "#12 proc1 produce t1/0 value=v12 acks=all -> ok offset 7 [1.2s..1.3s]".
 * Returns the length needed, like snprintf. */
size_t history_describe_op(const struct hist_op *op, char *buf, size_t buf_len);

/* Virtual time as seconds with microseconds: "12.000345s". */
size_t history_format_time(uint64_t ns, char *buf, size_t buf_len);

#endif /* TRIAL_CHECKERS_HISTORY_H */
