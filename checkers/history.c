/*
 * history.c — recording client operations for the checkers (see history.h).
 *
 * A growable array of ops with copies of every string: the workload code that records
 * into it can free its own buffers right after the call.
 */
#include "checkers/history.h"

#include "base/base.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *hist_strdup(const char *s) {
    if (s == NULL) return NULL;
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    ASSERT(copy != NULL);
    memcpy(copy, s, n);
    return copy;
}

void history_init(struct history *h, size_t ops_max) {
    ASSERT(h != NULL);
    ASSERT(ops_max > 0);
    memset(h, 0, sizeof(*h));
    h->ops_max = ops_max;
}

void history_free(struct history *h) {
    ASSERT(h != NULL);
    for (size_t i = 0; i < h->count; i++) {
        struct hist_op *op = &h->ops[i];
        free(op->topic);
        free(op->key);
        free(op->value);
        free(op->group);
        for (size_t j = 0; j < op->record_count; j++)
            free(op->records[j].value);
        free(op->records);
    }
    free(h->ops);
    memset(h, 0, sizeof(*h));
}

static struct hist_op *hist_new(struct history *h, int32_t process, uint64_t now_ns,
                                enum hist_op_type type, const char *topic) {
    ASSERT(h->count <= h->ops_max);
    if (h->count == h->ops_max) {
        h->overflow = true;
        return NULL;
    }
    if (h->count == h->capacity) {
        size_t capacity = h->capacity == 0 ? 256 : h->capacity * 2;
        if (capacity > h->ops_max) capacity = h->ops_max;
        struct hist_op *ops = realloc(h->ops, capacity * sizeof(*ops));
        ASSERT(ops != NULL);
        h->ops = ops;
        h->capacity = capacity;
    }
    struct hist_op *op = &h->ops[h->count];
    memset(op, 0, sizeof(*op));
    op->index = h->count++;
    op->process = process;
    op->type = type;
    op->status = HIST_PENDING;
    op->invoke_ns = now_ns;
    op->topic = hist_strdup(topic);
    op->partition = -1;
    op->offset = -1;
    return op;
}

/* The op to complete, or NULL for HISTORY_NONE (an invocation dropped by the bound). */
static struct hist_op *hist_completing(struct history *h, size_t index, enum hist_op_type type,
                                       enum hist_status status, uint64_t now_ns) {
    if (index == HISTORY_NONE) return NULL;
    ASSERT(index < h->count);
    struct hist_op *op = &h->ops[index];
    ASSERT(op->type == type);
    ASSERT(op->status == HIST_PENDING); /* Completed once. */
    ASSERT(status != HIST_PENDING);
    ASSERT(now_ns >= op->invoke_ns);
    op->status = status;
    op->complete_ns = now_ns;
    return op;
}

size_t history_produce_invoke(struct history *h, int32_t process, uint64_t now_ns,
                              const char *topic, int32_t partition, const char *key,
                              const char *value, int32_t acks, bool transactional) {
    ASSERT(topic != NULL && value != NULL);
    ASSERT(acks == -1 || acks == 0 || acks == 1);
    struct hist_op *op = hist_new(h, process, now_ns, HIST_PRODUCE, topic);
    if (op == NULL) return HISTORY_NONE;
    op->partition = partition;
    op->key = hist_strdup(key);
    op->value = hist_strdup(value);
    op->acks = acks;
    op->transactional = transactional;
    return op->index;
}

void history_produce_complete(struct history *h, size_t index, enum hist_status status,
                              uint64_t now_ns, int64_t offset, int16_t error_code) {
    struct hist_op *op = hist_completing(h, index, HIST_PRODUCE, status, now_ns);
    if (op == NULL) return;
    /* acks=0 gets no offset back; every other success carries one. */
    ASSERT(status != HIST_OK || offset >= 0 || op->acks == 0);
    op->offset = status == HIST_OK ? offset : -1;
    op->error_code = error_code;
}

size_t history_fetch_invoke(struct history *h, int32_t process, uint64_t now_ns, const char *topic,
                            uint32_t assignment, bool read_committed) {
    ASSERT(topic != NULL);
    struct hist_op *op = hist_new(h, process, now_ns, HIST_FETCH, topic);
    if (op == NULL) return HISTORY_NONE;
    op->assignment = assignment;
    op->read_committed = read_committed;
    return op->index;
}

void history_fetch_complete(struct history *h, size_t index, enum hist_status status,
                            uint64_t now_ns, const struct hist_record *records, size_t count,
                            int16_t error_code) {
    struct hist_op *op = hist_completing(h, index, HIST_FETCH, status, now_ns);
    if (op == NULL) return;
    ASSERT(count <= HISTORY_RECORDS_PER_FETCH_MAX);
    ASSERT(count == 0 || records != NULL);
    op->error_code = error_code;
    if (count == 0) return;
    op->records = malloc(count * sizeof(*op->records));
    ASSERT(op->records != NULL);
    for (size_t i = 0; i < count; i++) {
        ASSERT(records[i].offset >= 0 && records[i].value != NULL);
        op->records[i].partition = records[i].partition;
        op->records[i].offset = records[i].offset;
        op->records[i].value = hist_strdup(records[i].value);
    }
    op->record_count = count;
}

size_t history_commit_invoke(struct history *h, int32_t process, uint64_t now_ns, const char *group,
                             const char *topic, int32_t partition, int64_t offset,
                             int32_t generation) {
    ASSERT(group != NULL && topic != NULL && offset >= 0);
    struct hist_op *op = hist_new(h, process, now_ns, HIST_COMMIT, topic);
    if (op == NULL) return HISTORY_NONE;
    op->group = hist_strdup(group);
    op->partition = partition;
    op->offset = offset;
    op->generation = generation;
    return op->index;
}

void history_commit_complete(struct history *h, size_t index, enum hist_status status,
                             uint64_t now_ns, int16_t error_code) {
    struct hist_op *op = hist_completing(h, index, HIST_COMMIT, status, now_ns);
    if (op != NULL) op->error_code = error_code;
}

size_t history_offset_fetch_invoke(struct history *h, int32_t process, uint64_t now_ns,
                                   const char *group, const char *topic, int32_t partition) {
    ASSERT(group != NULL && topic != NULL);
    struct hist_op *op = hist_new(h, process, now_ns, HIST_OFFSET_FETCH, topic);
    if (op == NULL) return HISTORY_NONE;
    op->group = hist_strdup(group);
    op->partition = partition;
    return op->index;
}

void history_offset_fetch_complete(struct history *h, size_t index, enum hist_status status,
                                   uint64_t now_ns, int64_t offset, int16_t error_code) {
    struct hist_op *op = hist_completing(h, index, HIST_OFFSET_FETCH, status, now_ns);
    if (op == NULL) return;
    op->offset = status == HIST_OK ? offset : -1;
    op->error_code = error_code;
}

const struct hist_op *history_op(const struct history *h, size_t index) {
    ASSERT(h != NULL && index < h->count);
    return &h->ops[index];
}

const char *hist_op_type_name(enum hist_op_type type) {
    switch (type) {
    case HIST_PRODUCE:
        return "produce";
    case HIST_FETCH:
        return "fetch";
    case HIST_COMMIT:
        return "commit";
    case HIST_OFFSET_FETCH:
        return "offset-fetch";
    }
    UNREACHABLE();
}

const char *hist_status_name(enum hist_status status) {
    switch (status) {
    case HIST_PENDING:
        return "pending";
    case HIST_OK:
        return "ok";
    case HIST_FAILED:
        return "failed";
    case HIST_UNKNOWN:
        return "unknown";
    }
    UNREACHABLE();
}

size_t history_format_time(uint64_t ns, char *buf, size_t buf_len) {
    int n = snprintf(buf, buf_len, "%" PRIu64 ".%06" PRIu64 "s", ns / 1000000000u,
                     (ns % 1000000000u) / 1000u);
    return n < 0 ? 0 : (size_t)n;
}

size_t history_describe_op(const struct hist_op *op, char *buf, size_t buf_len) {
    ASSERT(op != NULL);
    char t0[32], t1[32];
    history_format_time(op->invoke_ns, t0, sizeof(t0));
    if (op->status == HIST_PENDING)
        snprintf(t1, sizeof(t1), "...");
    else
        history_format_time(op->complete_ns, t1, sizeof(t1));
    char what[256];
    switch (op->type) {
    case HIST_PRODUCE:
        snprintf(what, sizeof(what), "produce %s/%d value=%s acks=%s%s -> %s", op->topic,
                 (int)op->partition, op->value,
                 op->acks == -1  ? "all"
                 : op->acks == 0 ? "0"
                                 : "1",
                 op->transactional ? " txn" : "", hist_status_name(op->status));
        if (op->status == HIST_OK && op->offset >= 0) {
            size_t n = strlen(what);
            snprintf(what + n, sizeof(what) - n, " offset %" PRId64, op->offset);
        }
        break;
    case HIST_FETCH:
        if (op->record_count == 0) {
            snprintf(what, sizeof(what), "fetch %s -> %s, no records", op->topic,
                     hist_status_name(op->status));
        } else {
            const struct hist_record *first = &op->records[0];
            const struct hist_record *last = &op->records[op->record_count - 1];
            snprintf(what, sizeof(what),
                     "fetch %s -> %s, %zu records (first %d@%" PRId64 ", last %d@%" PRId64 ")",
                     op->topic, hist_status_name(op->status), op->record_count,
                     (int)first->partition, first->offset, (int)last->partition, last->offset);
        }
        break;
    case HIST_COMMIT:
        snprintf(what, sizeof(what), "commit group=%s %s/%d offset %" PRId64 " gen %d -> %s",
                 op->group, op->topic, (int)op->partition, op->offset, (int)op->generation,
                 hist_status_name(op->status));
        break;
    case HIST_OFFSET_FETCH:
        snprintf(what, sizeof(what), "offset-fetch group=%s %s/%d -> %s offset %" PRId64, op->group,
                 op->topic, (int)op->partition, hist_status_name(op->status), op->offset);
        break;
    }
    char error[32] = "";
    if (op->error_code != 0) snprintf(error, sizeof(error), " (error %d)", (int)op->error_code);
    int n = snprintf(buf, buf_len, "#%zu proc%d %s%s [%s..%s]", op->index, (int)op->process, what,
                     error, t0, t1);
    return n < 0 ? 0 : (size_t)n;
}
