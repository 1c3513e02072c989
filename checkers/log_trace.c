/*
 * log_trace.c — rebuilds a node's partition log from the trace's log events (trace.h), as
 * the `appended` input of I-LOG-2: the log's own account of what it wrote, truncated and
 * flushed, replayed in trace order up to the moment of a crash.
 */
#include "checkers/log_image.h"

#include "base/base.h"
#include "checkers/trace.h"

#include <errno.h>
#include <string.h>

/*
 * Drops every batch with last_offset >= offset: Kafka truncates at the start of the batch
 * holding the target offset, so a batch is never cut in two. Returns the new count and sets
 * *end to the log end afterwards (never above `offset`).
 */
static size_t li_truncate(struct li_batch *batches, size_t count, int64_t offset, int64_t *end) {
    int64_t new_end = offset;
    while (count > 0 && batches[count - 1].last_offset >= offset) {
        new_end = batches[count - 1].base_offset;
        count--;
    }
    if (count > 0 && batches[count - 1].last_offset + 1 < new_end) {
        new_end = batches[count - 1].last_offset + 1;
    }
    *end = new_end;
    return count;
}

int64_t li_log_from_trace(const struct trace *t, const char *node, const char *topic,
                          int32_t partition, size_t upto, struct li_batch *out, size_t out_max,
                          int64_t *synced_end_offset) {
    ASSERT(t != NULL && node != NULL && topic != NULL && synced_end_offset != NULL);
    ASSERT(upto <= t->count);
    size_t count = 0;
    int64_t synced = 0;
    for (size_t i = 0; i < upto; i++) {
        const struct trace_event *e = &t->events[i];
        if (strncmp(e->name, "log_", 4) != 0 || strcmp(e->node, node) != 0) continue;
        const char *et = trace_get_str(e, "topic");
        int64_t ep;
        if (et == NULL || strcmp(et, topic) != 0 || !trace_get_int(e, "partition", &ep) ||
            ep != partition) {
            continue;
        }
        int64_t offset;
        if (strcmp(e->name, "log_append") == 0) {
            int64_t base, last, epoch, crc;
            if (!trace_get_int(e, "base_offset", &base) ||
                !trace_get_int(e, "last_offset", &last) || !trace_get_int(e, "epoch", &epoch) ||
                !trace_get_int(e, "crc", &crc)) {
                continue; /* Malformed events are ignored rather than guessed at. */
            }
            if (count == out_max) return -E2BIG;
            out[count++] = (struct li_batch){.base_offset = base,
                                             .last_offset = last,
                                             .epoch = (int32_t)epoch,
                                             .crc_valid = true,
                                             .content_crc = (uint32_t)crc};
        } else if (strcmp(e->name, "log_truncate") == 0 && trace_get_int(e, "offset", &offset)) {
            /* Truncation syncs before it returns (system/log/log.h). */
            count = li_truncate(out, count, offset, &synced);
        } else if (strcmp(e->name, "log_flush") == 0 && trace_get_int(e, "offset", &offset)) {
            if (offset > synced) synced = offset;
        } else if (strcmp(e->name, "log_recovered") == 0 && trace_get_int(e, "offset", &offset)) {
            count = li_truncate(out, count, offset, &synced);
        }
    }
    *synced_end_offset = synced;
    return (int64_t)count;
}
