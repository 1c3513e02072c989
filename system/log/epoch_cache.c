/*
 * epoch_cache.c — the leader-epoch cache (see epoch_cache.h).
 */
#include "log/epoch_cache.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "io/io.h"

static void check_invariants(const struct log_epoch_cache *c) {
    ASSERT(c->count <= LOG_EPOCH_CACHE_MAX);
    for (size_t i = 1; i < c->count; i++) {
        ASSERT(c->entries[i].epoch > c->entries[i - 1].epoch);
        ASSERT(c->entries[i].start_offset > c->entries[i - 1].start_offset);
    }
}

void log_epoch_cache_init(struct log_epoch_cache *cache, struct io *io) {
    cache->io = io;
    cache->entries = io_alloc(io, LOG_EPOCH_CACHE_MAX * sizeof(struct log_epoch_entry));
    cache->count = 0;
}

void log_epoch_cache_deinit(struct log_epoch_cache *cache) {
    io_free(cache->io, cache->entries, LOG_EPOCH_CACHE_MAX * sizeof(struct log_epoch_entry));
    cache->entries = NULL;
    cache->count = 0;
}

int log_epoch_cache_load(struct log_epoch_cache *cache, const struct log_epoch_entry *e,
                         size_t count) {
    cache->count = 0;
    if (count > LOG_EPOCH_CACHE_MAX) return -EBADMSG;
    for (size_t i = 0; i < count; i++) {
        if (e[i].epoch < 0 || e[i].start_offset < 0) return -EBADMSG;
        if (i > 0 && (e[i].epoch <= e[i - 1].epoch || e[i].start_offset <= e[i - 1].start_offset))
            return -EBADMSG;
    }
    if (count) memcpy(cache->entries, e, count * sizeof *e);
    cache->count = count;
    check_invariants(cache);
    return 0;
}

int32_t log_epoch_cache_latest(const struct log_epoch_cache *cache) {
    return cache->count ? cache->entries[cache->count - 1].epoch : LOG_EPOCH_UNDEFINED;
}

bool log_epoch_cache_assign(struct log_epoch_cache *cache, int32_t epoch, int64_t start_offset) {
    ASSERT(epoch >= 0 && start_offset >= 0);
    if (cache->count && epoch <= log_epoch_cache_latest(cache)) return false;
    while (cache->count && cache->entries[cache->count - 1].start_offset >= start_offset) {
        cache->count--;
    }
    if (cache->count == LOG_EPOCH_CACHE_MAX) {
        memmove(cache->entries, cache->entries + 1, (cache->count - 1) * sizeof *cache->entries);
        cache->count--;
    }
    cache->entries[cache->count++] = (struct log_epoch_entry){epoch, start_offset};
    check_invariants(cache);
    return true;
}

void log_epoch_cache_end_offset(const struct log_epoch_cache *cache, int32_t requested,
                                int64_t log_end_offset, int32_t *epoch_out, int64_t *offset_out) {
    *epoch_out = LOG_EPOCH_UNDEFINED;
    *offset_out = LOG_OFFSET_UNDEFINED;
    if (requested == LOG_EPOCH_UNDEFINED || cache->count == 0) return;
    if (requested == log_epoch_cache_latest(cache)) {
        *epoch_out = requested;
        *offset_out = log_end_offset;
        return;
    }
    /* First entry with epoch > requested ("higher"), and the one before it ("floor"). */
    size_t higher = 0;
    while (higher < cache->count && cache->entries[higher].epoch <= requested) higher++;
    if (higher == cache->count) return; /* Newer than anything we know. */
    *offset_out = cache->entries[higher].start_offset;
    *epoch_out = higher == 0 ? requested : cache->entries[higher - 1].epoch;
}

bool log_epoch_cache_truncate_from_end(struct log_epoch_cache *cache, int64_t end_offset) {
    size_t before = cache->count;
    while (cache->count && cache->entries[cache->count - 1].start_offset >= end_offset) {
        cache->count--;
    }
    check_invariants(cache);
    return cache->count != before;
}

bool log_epoch_cache_truncate_from_start(struct log_epoch_cache *cache, int64_t start_offset) {
    /* Last entry with start_offset <= start_offset covers the new start. */
    size_t cover = 0;
    bool found = false;
    for (size_t i = 0; i < cache->count; i++) {
        if (cache->entries[i].start_offset <= start_offset) {
            cover = i;
            found = true;
        }
    }
    if (!found) return false;
    bool changed = cover > 0 || cache->entries[cover].start_offset != start_offset;
    cache->entries[cover].start_offset = start_offset;
    memmove(cache->entries, cache->entries + cover, (cache->count - cover) * sizeof *cache->entries);
    cache->count -= cover;
    check_invariants(cache);
    return changed;
}
