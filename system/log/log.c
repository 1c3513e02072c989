/*
 * log.c — the partition log (see log.h for the contract and the on-disk layout).
 *
 * Structure: segments live in one sorted array; the last is the active one. Each segment
 * keeps its offset and time index in memory (they are small: one entry per
 * index_interval_bytes) and mirrors appended entries to its .index/.timeindex files so
 * Kafka tools can read them; the in-memory copy is what lookups use. Reads of batch
 * headers go through io_file_pread, so the same code runs on the simulated disk.
 */
#include "log/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/mutant.h"
#include "io/io.h"
#include "log/checkpoint.h"

void log_config_default(struct log_config *c) {
    memset(c, 0, sizeof *c);
    c->segment_bytes = 1ull << 30;
    c->roll_ms = 7ll * 24 * 3600 * 1000;
    c->index_interval_bytes = 4096;
    c->index_size_max_bytes = 10u << 20;
    c->flush_interval_messages = INT64_MAX;
    c->flush_interval_ms = INT64_MAX;
    c->retention_ms = 7ll * 24 * 3600 * 1000;
    c->retention_bytes = -1;
    c->cleanup_delete = true;
    c->cleanup_compact = false;
    c->delete_retention_ms = 24ll * 3600 * 1000;
    c->max_batch_bytes = 1048588;
}

int log_segment_file_name(char *buf, size_t cap, const char *dir, int64_t base_offset,
                          const char *ext) {
    ASSERT(base_offset >= 0);
    int n = snprintf(buf, cap, "%s/%020" PRId64 "%s", dir, base_offset, ext);
    if (n < 0 || (size_t)n >= cap) return -ENAMETOOLONG;
    return 0;
}

static int dir_file_name(char *buf, size_t cap, const char *dir, const char *name) {
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return -ENAMETOOLONG;
    return 0;
}

static int truncate_fully(struct log *log, int64_t offset);

/* --- Small helpers ------------------------------------------------------------------ */

/* Reads exactly len bytes or reports how many there were (a short file is not an error
 * here: callers treat it as a torn tail). */
static int64_t read_at(struct log *log, struct io_file *f, void *buf, size_t len, uint64_t off) {
    return io_file_pread(log->io, f, buf, len, off);
}

static void scratch_reserve(struct log *log, size_t need) {
    ASSERT(need <= LOG_BATCH_BYTES_MAX + LOG_SCAN_CHUNK_BYTES);
    if (need <= log->scratch_cap) return;
    size_t cap = log->scratch_cap ? log->scratch_cap : LOG_SCAN_CHUNK_BYTES;
    while (cap < need) cap *= 2;
    log->scratch = io_realloc(log->io, log->scratch, log->scratch_cap, cap);
    log->scratch_cap = cap;
}

/* --- Segment indexes ---------------------------------------------------------------- */

static void index_push(struct log *log, struct log_segment *s, int64_t offset, uint32_t pos) {
    ASSERT(offset >= s->base_offset && offset - s->base_offset <= INT32_MAX);
    ASSERT(s->index_count == 0 || s->index[s->index_count - 1].offset < offset);
    if (s->index_count == s->index_cap) {
        uint32_t cap = s->index_cap ? s->index_cap * 2 : 64;
        s->index = io_realloc(log->io, s->index, s->index_cap * sizeof *s->index,
                              cap * sizeof *s->index);
        s->index_cap = cap;
    }
    s->index[s->index_count++] = (struct log_offset_entry){offset, pos};
}

static void time_push(struct log *log, struct log_segment *s, int64_t ts, int64_t offset) {
    if (s->time_count && s->time_index[s->time_count - 1].timestamp >= ts) return;
    if (s->time_count && s->time_index[s->time_count - 1].offset >= offset) return;
    ASSERT(offset >= s->base_offset && offset - s->base_offset <= INT32_MAX);
    if (s->time_count == s->time_cap) {
        uint32_t cap = s->time_cap ? s->time_cap * 2 : 64;
        s->time_index = io_realloc(log->io, s->time_index, s->time_cap * sizeof *s->time_index,
                                   cap * sizeof *s->time_index);
        s->time_cap = cap;
    }
    s->time_index[s->time_count++] = (struct log_time_entry){ts, offset};
}

/* --- Tail of the active segment (read path) ------------------------------------------ */

/* Notes the batch just appended at pos of s. A batch at pos 0 starts a new segment (or
 * rewrites one), and a batch that does not follow the remembered ones restarts the memory,
 * so the entries are always consecutive batches of one segment ending at tail_end. */
static void tail_push(struct log *log, struct log_segment *s, uint64_t pos, int64_t last,
                      uint64_t total) {
    if (pos == 0 || log->tail_base != s->base_offset || log->tail_end != pos) {
        log->tail_count = 0;
        log->tail_base = s->base_offset;
    }
    if (log->tail_count == LOG_TAIL_BATCHES) {
        /* Keep the newer half: one move per LOG_TAIL_BATCHES / 2 appends. */
        uint32_t keep = LOG_TAIL_BATCHES / 2;
        memmove(log->tail, log->tail + (LOG_TAIL_BATCHES - keep), keep * sizeof(log->tail[0]));
        log->tail_count = keep;
    }
    log->tail[log->tail_count++] = (struct log_tail_entry){.last_offset = last, .position = pos};
    log->tail_end = pos + total;
}

/* s is about to be cut at batch boundary pos (s->size_bytes is still the old size):
 * batches from pos on are gone from the memory too. */
static void tail_cut(struct log *log, const struct log_segment *s, uint64_t pos) {
    if (log->tail_base != s->base_offset || log->tail_end != s->size_bytes) {
        log->tail_count = 0;
        return;
    }
    while (log->tail_count > 0 && log->tail[log->tail_count - 1].position >= pos) {
        log->tail_count--;
    }
    log->tail_end = log->tail_count > 0 ? pos : 0;
    if (log->tail_count == 0) log->tail_base = INT64_MIN;
}

/* Where the memory says the first batch of s with last offset >= offset starts, or
 * UINT64_MAX when it cannot say (another segment, an older batch, stale). */
static uint64_t tail_find(const struct log *log, const struct log_segment *s, int64_t offset) {
    if (log->tail_count == 0 || log->tail_base != s->base_offset ||
        log->tail_end != s->size_bytes || log->tail[0].last_offset >= offset) {
        return UINT64_MAX;
    }
    /* tail[0] ends below offset, so the first batch at or past it is a later entry. */
    uint32_t lo = 1, hi = log->tail_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (log->tail[mid].last_offset < offset) lo = mid + 1;
        else hi = mid;
    }
    return lo < log->tail_count ? log->tail[lo].position : UINT64_MAX;
}

/* The one indexing rule, shared by append and recovery (so rebuilt indexes are equal). */
static void segment_note_batch(struct log *log, struct log_segment *s, uint64_t pos,
                               const struct batch_header *h) {
    ASSERT(h->base_offset >= s->next_offset);
    ASSERT(pos == s->size_bytes);
    int64_t last = batch_last_offset(h);
    /* Like Kafka's LogSegment.append: the running maximum includes this batch, and an
     * entry is due once more than index_interval_bytes were appended since the last. */
    if (h->max_timestamp > s->max_timestamp) {
        s->max_timestamp = h->max_timestamp;
        s->offset_of_max_timestamp = last;
    }
    if (s->bytes_since_index > log->config.index_interval_bytes) {
        index_push(log, s, last, (uint32_t)pos);
        if (s->max_timestamp >= 0) time_push(log, s, s->max_timestamp, s->offset_of_max_timestamp);
        s->bytes_since_index = 0;
    }
    if (pos == 0) s->rolling_timestamp_ms = h->max_timestamp; /* The first batch's time. */
    tail_push(log, s, pos, last, batch_total_bytes(h));
    s->bytes_since_index += batch_total_bytes(h);
    s->size_bytes = pos + batch_total_bytes(h);
    s->next_offset = last + 1;
}

/* When a segment stops being active, its time index gets the segment's largest timestamp
 * so a later open can learn max_timestamp without scanning. */
static void segment_finish_time_index(struct log *log, struct log_segment *s) {
    if (s->max_timestamp >= 0) time_push(log, s, s->max_timestamp, s->offset_of_max_timestamp);
}

static int write_index_tail(struct log *log, struct log_segment *s) {
    uint8_t buf[64 * LOG_TIME_INDEX_ENTRY_BYTES];
    while (s->index_written < s->index_count) {
        uint32_t n = MIN(s->index_count - s->index_written, 64u);
        for (uint32_t i = 0; i < n; i++) {
            const struct log_offset_entry *e = &s->index[s->index_written + i];
            batch_put32(buf + i * 8, (uint32_t)(e->offset - s->base_offset));
            batch_put32(buf + i * 8 + 4, e->position);
        }
        int64_t w = io_file_pwrite(log->io, s->index_file, buf, n * 8ull,
                                   (uint64_t)s->index_written * 8);
        if (w < 0) return (int)w;
        s->index_written += n;
        s->dirty = true;
    }
    while (s->time_written < s->time_count) {
        uint32_t n = MIN(s->time_count - s->time_written, 64u);
        for (uint32_t i = 0; i < n; i++) {
            const struct log_time_entry *e = &s->time_index[s->time_written + i];
            batch_put64(buf + i * 12, (uint64_t)e->timestamp);
            batch_put32(buf + i * 12 + 8, (uint32_t)(e->offset - s->base_offset));
        }
        int64_t w = io_file_pwrite(log->io, s->time_file, buf, n * 12ull,
                                   (uint64_t)s->time_written * 12);
        if (w < 0) return (int)w;
        s->time_written += n;
        s->dirty = true;
    }
    return 0;
}

static void segment_reset_state(struct log_segment *s) {
    s->size_bytes = 0;
    s->next_offset = s->base_offset;
    s->max_timestamp = -1;
    s->offset_of_max_timestamp = -1;
    s->rolling_timestamp_ms = -1;
    s->created_ms = -1;
    s->bytes_since_index = 0;
    s->index_count = s->index_written = 0;
    s->time_count = s->time_written = 0;
}

/* --- Segment files ------------------------------------------------------------------ */

static int segment_open_files(struct log *log, struct log_segment *s, bool create) {
    char path[LOG_PATH_MAX + 32];
    int flags = IO_OPEN_WRITE | (create ? IO_OPEN_CREATE : 0);
    int rc = log_segment_file_name(path, sizeof path, log->dir, s->base_offset, ".log");
    if (rc == 0) rc = io_file_open(log->io, path, flags, &s->log_file);
    if (rc < 0) return rc;
    rc = log_segment_file_name(path, sizeof path, log->dir, s->base_offset, ".index");
    if (rc == 0) rc = io_file_open(log->io, path, IO_OPEN_CREATE, &s->index_file);
    if (rc < 0) {
        io_file_close(log->io, s->log_file);
        return rc;
    }
    rc = log_segment_file_name(path, sizeof path, log->dir, s->base_offset, ".timeindex");
    if (rc == 0) rc = io_file_open(log->io, path, IO_OPEN_CREATE, &s->time_file);
    if (rc < 0) {
        io_file_close(log->io, s->log_file);
        io_file_close(log->io, s->index_file);
        return rc;
    }
    return 0;
}

static void segment_close_files(struct log *log, struct log_segment *s) {
    io_file_close(log->io, s->log_file);
    io_file_close(log->io, s->index_file);
    io_file_close(log->io, s->time_file);
    s->log_file = s->index_file = s->time_file = NULL;
}

static void segment_free(struct log *log, struct log_segment *s) {
    if (s->log_file) segment_close_files(log, s);
    io_free(log->io, s->index, s->index_cap * sizeof *s->index);
    io_free(log->io, s->time_index, s->time_cap * sizeof *s->time_index);
    s->index = NULL;
    s->time_index = NULL;
    s->index_cap = s->time_cap = 0;
}

static int segment_unlink_files(struct log *log, int64_t base) {
    static const char *const exts[] = {".log", ".index", ".timeindex", ".txnindex"};
    char path[LOG_PATH_MAX + 32];
    for (size_t i = 0; i < ARRAY_LEN(exts); i++) {
        int rc = log_segment_file_name(path, sizeof path, log->dir, base, exts[i]);
        if (rc < 0) return rc;
        rc = io_unlink(log->io, path);
        if (rc < 0 && rc != -ENOENT) return rc;
    }
    return 0;
}

/* Inserts a segment struct at the end of the array (bases ascending). */
static struct log_segment *segments_push(struct log *log, int64_t base) {
    ASSERT(log->segment_count < LOG_SEGMENTS_MAX);
    ASSERT(log->segment_count == 0 ||
           log->segments[log->segment_count - 1].base_offset < base);
    if (log->segment_count == log->segment_cap) {
        size_t cap = log->segment_cap ? log->segment_cap * 2 : 8;
        log->segments = io_realloc(log->io, log->segments,
                                   log->segment_cap * sizeof *log->segments,
                                   cap * sizeof *log->segments);
        log->segment_cap = cap;
    }
    struct log_segment *s = &log->segments[log->segment_count++];
    memset(s, 0, sizeof *s);
    s->base_offset = base;
    segment_reset_state(s);
    return s;
}

/* Removes segments [from, from + n) from the array (files must be handled by caller). */
static void segments_remove(struct log *log, size_t from, size_t n) {
    ASSERT(from + n <= log->segment_count);
    for (size_t i = from; i < from + n; i++) segment_free(log, &log->segments[i]);
    memmove(&log->segments[from], &log->segments[from + n],
            (log->segment_count - from - n) * sizeof *log->segments);
    log->segment_count -= n;
}

static int segment_delete(struct log *log, size_t i) {
    int64_t base = log->segments[i].base_offset;
    segments_remove(log, i, 1);
    return segment_unlink_files(log, base);
}

/*
 * partitionLeaderEpoch is not covered by the CRC, so recovery checks it against the epoch
 * cache: the checkpoint names each epoch before its first batch is written, so the entry
 * covering a batch's base offset must carry the batch's epoch. No covering entry (below
 * the first, or an empty cache after a lost checkpoint) proves nothing either way.
 */
static bool epoch_matches(const struct log *log, const struct batch_header *h) {
    const struct log_epoch_cache *c = &log->epochs;
    if (h->partition_leader_epoch < 0 || c->count == 0) return true;
    size_t i = c->count;
    while (i > 0 && c->entries[i - 1].start_offset > h->base_offset) i--;
    if (i == 0) return h->partition_leader_epoch <= c->entries[0].epoch;
    return c->entries[i - 1].epoch == h->partition_leader_epoch;
}

/*
 * Scans the whole .log file of `s` checking every batch (CRC, sizes, increasing offsets),
 * rebuilds its indexes, and cuts the file at the first bad batch. *cut tells whether
 * anything was cut. With `finished`, the time index gets its final entry (not active).
 */
static int segment_recover(struct log *log, struct log_segment *s, bool finished, bool *cut) {
    *cut = false;
    segment_reset_state(s);
    int rc = io_file_truncate(log->io, s->index_file, 0);
    if (rc == 0) rc = io_file_truncate(log->io, s->time_file, 0);
    if (rc < 0) return rc;
    s->dirty = true;
    int64_t file_size = io_file_size(log->io, s->log_file);
    if (file_size < 0) return (int)file_size;
    uint64_t size = (uint64_t)file_size;
    scratch_reserve(log, LOG_SCAN_CHUNK_BYTES);
    uint64_t win_start = 0, win_len = 0, pos = 0;
    /* Bounded: each iteration consumes one batch (>= 61 bytes) or stops. */
    while (pos < size) {
        if (pos + BATCH_HEADER_BYTES > win_start + win_len) {
            win_start = pos;
            int64_t got = read_at(log, s->log_file, log->scratch,
                                  (size_t)MIN((uint64_t)log->scratch_cap, size - pos), pos);
            if (got < 0) return (int)got;
            win_len = (uint64_t)got;
            if (win_len < BATCH_HEADER_BYTES) break;
        }
        struct batch_header h;
        const uint8_t *p = log->scratch + (pos - win_start);
        batch_header_decode(p, BATCH_HEADER_BYTES, &h);
        if (h.magic != BATCH_MAGIC_V2 || h.batch_length < (int32_t)(BATCH_HEADER_BYTES - 12) ||
            batch_total_bytes(&h) > LOG_BATCH_BYTES_MAX || pos + batch_total_bytes(&h) > size) {
            break;
        }
        size_t total = batch_total_bytes(&h);
        if (pos + total > win_start + win_len) {
            scratch_reserve(log, total);
            win_start = pos;
            int64_t got = read_at(log, s->log_file, log->scratch,
                                  (size_t)MIN((uint64_t)log->scratch_cap, size - pos), pos);
            if (got < 0) return (int)got;
            win_len = (uint64_t)got;
            if (win_len < total) break;
            p = log->scratch;
        }
        /* Mutant recovery-skips-crc: a torn batch whose header survived is kept. */
        if (batch_check(p, total, LOG_BATCH_BYTES_MAX, &h) < 0 &&
            !MUTANT(log->io, "recovery-skips-crc")) {
            break;
        }
        if (h.base_offset < s->next_offset ||
            batch_last_offset(&h) - s->base_offset > INT32_MAX || !epoch_matches(log, &h)) {
            break;
        }
        segment_note_batch(log, s, pos, &h);
        log->recovery_bytes_scanned += total;
        pos += total;
    }
    if (pos < size) {
        *cut = true;
        io_log(log->io, IO_LOG_WARN, "log %s: segment %" PRId64 " cut at %" PRIu64 " of %" PRIu64,
               log->dir, s->base_offset, pos, size);
        rc = io_file_truncate(log->io, s->log_file, pos);
        if (rc < 0) return rc;
    }
    ASSERT(s->size_bytes == pos);
    if (finished) segment_finish_time_index(log, s);
    return write_index_tail(log, s);
}

/* Loads indexes from files for a segment that needs no scan; false if they look wrong
 * (missing, odd size, not increasing, pointing past the end), and then the caller scans. */
static bool segment_load_indexes(struct log *log, struct log_segment *s) {
    int64_t log_size = io_file_size(log->io, s->log_file);
    int64_t isize = io_file_size(log->io, s->index_file);
    int64_t tsize = io_file_size(log->io, s->time_file);
    if (log_size < 0 || isize < 0 || tsize < 0) return false;
    if (isize % 8 != 0 || tsize % 12 != 0) return false;
    if (log_size > 0 && tsize == 0) return false; /* A finished segment has a final entry. */
    segment_reset_state(s);
    s->size_bytes = (uint64_t)log_size;
    size_t need = (size_t)MAX(isize, tsize);
    scratch_reserve(log, MAX(need, (size_t)1));
    if (isize > 0 && read_at(log, s->index_file, log->scratch, (size_t)isize, 0) != isize) {
        return false;
    }
    for (int64_t i = 0; i < isize / 8; i++) {
        const uint8_t *p = log->scratch + i * 8;
        int64_t off = s->base_offset + (int32_t)batch_be32(p);
        uint32_t pos = batch_be32(p + 4);
        if ((int32_t)batch_be32(p) < 0 || pos >= (uint64_t)log_size ||
            (s->index_count && (s->index[s->index_count - 1].offset >= off ||
                                s->index[s->index_count - 1].position >= pos))) {
            return false;
        }
        index_push(log, s, off, pos);
    }
    if (tsize > 0 && read_at(log, s->time_file, log->scratch, (size_t)tsize, 0) != tsize) {
        return false;
    }
    for (int64_t i = 0; i < tsize / 12; i++) {
        const uint8_t *p = log->scratch + i * 12;
        int64_t ts = (int64_t)batch_be64(p);
        int64_t off = s->base_offset + (int32_t)batch_be32(p + 8);
        if ((int32_t)batch_be32(p + 8) < 0 ||
            (s->time_count && (s->time_index[s->time_count - 1].timestamp >= ts ||
                               s->time_index[s->time_count - 1].offset >= off))) {
            return false;
        }
        time_push(log, s, ts, off);
    }
    s->index_written = s->index_count;
    s->time_written = s->time_count;
    if (s->time_count) {
        s->max_timestamp = s->time_index[s->time_count - 1].timestamp;
        s->offset_of_max_timestamp = s->time_index[s->time_count - 1].offset;
    }
    s->next_offset = INT64_MIN; /* Unknown without a scan: open_segments bounds it. */
    return true;
}

/* --- Epoch cache persistence -------------------------------------------------------- */

static int epochs_persist(struct log *log) {
    char path[LOG_PATH_MAX + 32];
    int rc = dir_file_name(path, sizeof path, log->dir, LOG_EPOCH_CHECKPOINT_FILE);
    if (rc < 0) return rc;
    return log_checkpoint_write_epochs(log->io, path, log->epochs.entries, log->epochs.count);
}

static int epochs_load(struct log *log) {
    char path[LOG_PATH_MAX + 32];
    int rc = dir_file_name(path, sizeof path, log->dir, LOG_EPOCH_CHECKPOINT_FILE);
    if (rc < 0) return rc;
    size_t cap = LOG_EPOCH_CACHE_MAX * sizeof(struct log_epoch_entry);
    struct log_epoch_entry *tmp = io_alloc(log->io, cap);
    size_t count = 0;
    rc = log_checkpoint_read_epochs(log->io, path, tmp, LOG_EPOCH_CACHE_MAX, &count);
    if (rc == 0) rc = log_epoch_cache_load(&log->epochs, tmp, count);
    io_free(log->io, tmp, cap);
    if (rc == -ENOENT) return 0;
    if (rc == -EBADMSG) {
        /* A checkpoint is renamed into place whole, so this is bit rot or a bug; an empty
         * cache makes followers truncate to the HW instead (safe, Kafka's fallback). */
        io_log(log->io, IO_LOG_ERROR, "log %s: bad %s, starting empty", log->dir, path);
        log_epoch_cache_load(&log->epochs, NULL, 0);
        return 0;
    }
    return rc;
}

/* Keeps the cache within [log start, log end] (I-REPL-7) and persists changes. */
static int epochs_trim(struct log *log) {
    bool changed = log_epoch_cache_truncate_from_end(&log->epochs, log_end_offset(log));
    changed |= log_epoch_cache_truncate_from_start(&log->epochs, log->log_start_offset);
    return changed ? epochs_persist(log) : 0;
}

/* --- Open / close ------------------------------------------------------------------- */

struct open_scan {
    struct log *log;
    int64_t *bases; /* Segments: bases of the .log files, ascending. */
    size_t count, cap;
    int64_t *index_bases; /* Bases of index files, to find orphans. */
    size_t index_count, index_cap;
    int rc;
};

static void push_base(struct log *log, int64_t **arr, size_t *count, size_t *cap, int64_t base) {
    if (*count == *cap) {
        size_t n = *cap ? *cap * 2 : 16;
        ASSERT(n <= 4 * (size_t)LOG_SEGMENTS_MAX);
        *arr = io_realloc(log->io, *arr, *cap * sizeof **arr, n * sizeof **arr);
        *cap = n;
    }
    (*arr)[(*count)++] = base;
}

/* 20 digits then `ext`. */
static bool is_segment_file_name(const char *name, const char *ext, int64_t *base) {
    size_t len = strlen(name), elen = strlen(ext);
    if (len != 20 + elen || strcmp(name + 20, ext) != 0) return false;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (name[i] - '0');
    }
    *base = v;
    return true;
}

static void open_scan_entry(void *arg, const char *name, bool is_dir) {
    struct open_scan *sc = arg;
    struct log *log = sc->log;
    if (is_dir || sc->rc < 0) return;
    int64_t base;
    size_t len = strlen(name);
    char path[LOG_PATH_MAX + 64];
    if (dir_file_name(path, sizeof path, log->dir, name) < 0) return;
    /* Leftovers of an interrupted checkpoint write or compaction: never valid data. */
    if ((len > 4 && strcmp(name + len - 4, ".tmp") == 0) ||
        (len > 8 && strcmp(name + len - 8, ".cleaned") == 0)) {
        int rc = io_unlink(log->io, path);
        if (rc < 0 && rc != -ENOENT) sc->rc = rc;
        return;
    }
    if (is_segment_file_name(name, ".index", &base) ||
        is_segment_file_name(name, ".timeindex", &base) ||
        is_segment_file_name(name, ".txnindex", &base)) {
        push_base(log, &sc->index_bases, &sc->index_count, &sc->index_cap, base);
        return;
    }
    if (!is_segment_file_name(name, ".log", &base)) return;
    push_base(log, &sc->bases, &sc->count, &sc->cap, base);
}

/* Index files whose .log is gone (an interrupted segment deletion) are removed, so a later
 * segment with that base never meets stale entries. */
static int remove_orphans(struct log *log, const struct open_scan *sc) {
    size_t j = 0;
    for (size_t i = 0; i < sc->index_count; i++) {
        int64_t base = sc->index_bases[i];
        while (j < sc->count && sc->bases[j] < base) j++;
        if (j < sc->count && sc->bases[j] == base) continue;
        int rc = segment_unlink_files(log, base);
        if (rc < 0) return rc;
    }
    return 0;
}

static void log_free(struct log *log) {
    for (size_t i = 0; i < log->segment_count; i++) segment_free(log, &log->segments[i]);
    io_free(log->io, log->segments, log->segment_cap * sizeof *log->segments);
    io_free(log->io, log->scratch, log->scratch_cap);
    log_epoch_cache_deinit(&log->epochs);
    io_free(log->io, log, sizeof *log);
}

static int create_segment(struct log *log, int64_t base) {
    struct log_segment *s = segments_push(log, base);
    int rc = segment_open_files(log, s, true);
    if (rc < 0) {
        log->segment_count--;
        return rc;
    }
    /* A fresh segment may reuse the name of one removed earlier: start from empty files. */
    rc = io_file_truncate(log->io, s->log_file, 0);
    if (rc == 0) rc = io_file_truncate(log->io, s->index_file, 0);
    if (rc == 0) rc = io_file_truncate(log->io, s->time_file, 0);
    s->dirty = true;
    return rc;
}

static int open_segments(struct log *log, struct open_scan *sc, bool clean) {
    /* The first segment to scan: the one holding the recovery point (all if unclean and
     * the recovery point is unknown); with a clean shutdown only the active one. */
    size_t scan_from = sc->count ? sc->count - 1 : 0;
    if (!clean) {
        scan_from = 0;
        for (size_t i = 0; i < sc->count; i++) {
            if (sc->bases[i] <= log->recovery_point) scan_from = i;
        }
    }
    for (size_t i = 0; i < sc->count; i++) {
        struct log_segment *s = segments_push(log, sc->bases[i]);
        int rc = segment_open_files(log, s, false);
        if (rc < 0) {
            log->segment_count--;
            return rc;
        }
        bool last = i + 1 == sc->count;
        bool scan = i >= scan_from;
        if (!scan && !segment_load_indexes(log, s)) scan = true;
        if (!scan) continue;
        bool cut;
        rc = segment_recover(log, s, !last, &cut);
        if (rc < 0) return rc;
        /* A segment that ends short of the next one lost its unsynced tail in a crash
         * (segments are gap-free, see roll()); anything after a corrupt batch is suspect. */
        if (!last && (cut || s->next_offset != sc->bases[i + 1])) {
            for (size_t k = i + 1; k < sc->count; k++) {
                rc = segment_unlink_files(log, sc->bases[k]);
                if (rc < 0) return rc;
            }
            io_log(log->io, IO_LOG_WARN, "log %s: segment %" PRId64 " ends at %" PRId64
                   ", dropping the %zu segments after it", log->dir, s->base_offset,
                   s->next_offset, sc->count - i - 1);
            /* The cut segment becomes active again; its final time entry only repeats the
             * maximum, which is harmless. */
            break;
        }
    }
    /* Segments loaded from their indexes take the next base as their end: an upper
     * bound (compaction can leave a gap), which is all lookups need. */
    for (size_t i = 0; i < log->segment_count; i++) {
        struct log_segment *s = &log->segments[i];
        if (s->next_offset != INT64_MIN) continue;
        ASSERT(i + 1 < log->segment_count); /* The last segment is always scanned. */
        s->next_offset = log->segments[i + 1].base_offset;
    }
    for (size_t i = 0; i + 1 < log->segment_count; i++) {
        if (log->segments[i].next_offset > log->segments[i + 1].base_offset) return -EBADMSG;
    }
    return 0;
}

/* --- Trace ---------------------------------------------------------------------------- */

/* The checkers (checkers/trace.h) rebuild what a log held and what was synced from these
 * events: log_append, log_truncate, log_flush, log_recovered, each naming the partition by
 * topic and index, which the log knows only as its directory's name "<topic>-<index>". */
static void log_trace(struct log *log, const char *event, const struct io_trace_field *extra,
                      size_t extra_count) {
    const char *base = strrchr(log->dir, '/');
    base = base != NULL ? base + 1 : log->dir;
    char topic[LOG_PATH_MAX];
    snprintf(topic, sizeof topic, "%s", base);
    int64_t partition = -1;
    char *dash = strrchr(topic, '-');
    if (dash != NULL && dash[1] != '\0') {
        char *end = NULL;
        long long p = strtoll(dash + 1, &end, 10);
        if (*end == '\0' && p >= 0) {
            partition = p;
            *dash = '\0';
        }
    }
    struct io_trace_field fields[8];
    ASSERT(extra_count + 2 <= 8);
    fields[0] = IO_TF_S("topic", topic);
    fields[1] = IO_TF_I("partition", partition);
    for (size_t i = 0; i < extra_count; i++) fields[2 + i] = extra[i];
    io_trace(log->io, event, fields, extra_count + 2);
}

static void log_trace_offset(struct log *log, const char *event, int64_t offset) {
    const struct io_trace_field f[] = {IO_TF_I("offset", offset)};
    log_trace(log, event, f, 1);
}

int log_open(struct io *io, const char *dir, const struct log_config *config,
             int64_t recovery_point, int64_t log_start_offset, struct log **out) {
    ASSERT(config->index_interval_bytes > 0 && config->segment_bytes > BATCH_HEADER_BYTES);
    ASSERT(recovery_point >= 0 && log_start_offset >= 0);
    if (strlen(dir) >= LOG_PATH_MAX - 32) return -ENAMETOOLONG;
    struct log *log = io_calloc(io, 1, sizeof *log);
    log->io = io;
    snprintf(log->dir, sizeof log->dir, "%s", dir);
    log->config = *config;
    log->recovery_point = recovery_point;
    log->log_start_offset = log_start_offset;
    log->last_flush_ms = 0;
    log_epoch_cache_init(&log->epochs, io);

    char marker[LOG_PATH_MAX + 32];
    int rc = dir_file_name(marker, sizeof marker, dir, LOG_CLEAN_SHUTDOWN_FILE);
    bool clean = rc == 0 && io_exists(io, marker, NULL) == 0;
    struct open_scan sc = {.log = log};
    if (rc == 0) rc = io_list_dir(io, dir, open_scan_entry, &sc);
    if (rc == 0) rc = sc.rc;
    /* Remove the marker before anything can change the log: a crash from here on must
     * lead to a recovery scan. */
    if (rc == 0 && clean) rc = io_unlink(io, marker);
    log->recovered_unclean = !clean;
    if (rc == 0) rc = remove_orphans(log, &sc);
    if (rc == 0) rc = epochs_load(log);
    if (rc == 0) rc = open_segments(log, &sc, clean);
    io_free(io, sc.bases, sc.cap * sizeof *sc.bases);
    io_free(io, sc.index_bases, sc.index_cap * sizeof *sc.index_bases);
    if (rc == 0 && log->segment_count == 0) rc = create_segment(log, log_start_offset);
    if (rc < 0) {
        log_free(log);
        return rc;
    }
    log->log_start_offset = MAX(log->log_start_offset, log->segments[0].base_offset);
    /* A crash lost unflushed data below a checkpointed log start (DeleteRecords ran
     * ahead of the flush): like Kafka, restart the log empty at the start rather than let
     * the start go back (I-LOG-3). */
    rc = 0;
    if (log->log_start_offset > log_end_offset(log)) {
        io_log(io, IO_LOG_WARN, "log %s: end %" PRId64 " below start %" PRId64 ", emptying", dir,
               log_end_offset(log), log->log_start_offset);
        rc = truncate_fully(log, log->log_start_offset);
    }
    if (rc == 0) rc = epochs_trim(log);
    /* What was scanned is what the disk holds; syncing it makes it the recovery point. */
    if (rc == 0) rc = log_flush(log, 0);
    if (rc < 0) {
        log_free(log);
        return rc;
    }
    log_trace_offset(log, "log_recovered", log_end_offset(log));
    *out = log;
    return 0;
}

int log_close(struct log *log) {
    struct log_segment *active = &log->segments[log->segment_count - 1];
    segment_finish_time_index(log, active);
    int rc = write_index_tail(log, active);
    if (rc == 0) rc = log_flush(log, log->last_flush_ms);
    if (rc == 0) {
        char marker[LOG_PATH_MAX + 32];
        rc = dir_file_name(marker, sizeof marker, log->dir, LOG_CLEAN_SHUTDOWN_FILE);
        struct io_file *f;
        if (rc == 0) rc = io_file_open(log->io, marker, IO_OPEN_CREATE, &f);
        if (rc == 0) {
            rc = io_file_sync(log->io, f);
            io_file_close(log->io, f);
        }
    }
    log_free(log);
    return rc;
}

/* --- Append ------------------------------------------------------------------------- */

/* Syncs every dirty segment, oldest first, with its indexes. */
static int log_flush_segments(struct log *log) {
    for (size_t i = 0; i < log->segment_count; i++) {
        struct log_segment *s = &log->segments[i];
        if (!s->dirty) continue;
        int rc = io_file_sync(log->io, s->log_file);
        if (rc == 0) rc = io_file_sync(log->io, s->index_file);
        if (rc == 0) rc = io_file_sync(log->io, s->time_file);
        if (rc < 0) return rc;
        s->dirty = false;
    }
    return 0;
}

static bool should_roll(const struct log *log, const struct log_segment *s,
                        const struct batch_header *h, int64_t now_ms) {
    if (s->size_bytes == 0) return false;
    const struct log_config *c = &log->config;
    if (s->size_bytes + batch_total_bytes(h) > c->segment_bytes) return true;
    /* Kafka's timeWaitedForRoll: the new batch's time against the first batch's, or wall
     * time since the segment started taking appends when batches carry no timestamps. */
    if (s->rolling_timestamp_ms >= 0) {
        if (h->max_timestamp - s->rolling_timestamp_ms > c->roll_ms) return true;
    } else if (s->created_ms >= 0 && now_ms - s->created_ms > c->roll_ms) {
        return true;
    }
    if ((uint64_t)(s->index_count + 1) * LOG_OFFSET_INDEX_ENTRY_BYTES > c->index_size_max_bytes ||
        (uint64_t)(s->time_count + 1) * LOG_TIME_INDEX_ENTRY_BYTES > c->index_size_max_bytes) {
        return true;
    }
    if (batch_last_offset(h) - s->base_offset > INT32_MAX) return true;
    return false;
}

/*
 * Starts a new active segment for batch `h`, based at the log end rather than at the batch
 * (a follower's batch may start later after the leader's compaction), so segments stay
 * gap-free: each ends exactly where the next begins, and recovery can tell a lost tail.
 *
 * The finished segment is synced first (Kafka flushes it right after a roll, in the
 * background). The new segment's file is durable as soon as it is created, so without
 * the sync a crash could keep later data while dropping the old segment's tail; and with
 * it, every segment but the active one is always durable, which keeps recovery right even
 * when the caller's recovery-point checkpoint is stale (e.g. written before a truncation).
 * The cost is one fsync per log.segment.bytes appended, on the caller's thread: an
 * asynchronous sync in io.h would remove it.
 *
 * Only when the batch cannot be addressed from the log end (more than 2^31 offsets ahead)
 * does the new segment start at the batch.
 */
static int roll(struct log *log, const struct batch_header *h) {
    struct log_segment *old = &log->segments[log->segment_count - 1];
    int64_t end = old->next_offset;
    if (old->size_bytes > 0 && batch_last_offset(h) - end <= INT32_MAX) {
        segment_finish_time_index(log, old);
        int rc = write_index_tail(log, old);
        if (rc == 0) rc = log_flush_segments(log);
        if (rc < 0) return rc;
        log_trace_offset(log, "log_flush", end);
        log->recovery_point = MAX(log->recovery_point, end);
        return create_segment(log, end);
    }
    /* The rare gap. An empty active segment must not stay behind as a non-last segment
     * (it would look like a lost tail), so it goes first. */
    int rc;
    if (old->size_bytes == 0) {
        rc = segment_delete(log, log->segment_count - 1);
        if (rc < 0) return rc;
    } else {
        segment_finish_time_index(log, old);
        rc = write_index_tail(log, old);
        if (rc < 0) return rc;
    }
    rc = log_flush_segments(log);
    if (rc < 0) return rc;
    log_trace_offset(log, "log_flush", end);
    log->recovery_point = MAX(log->recovery_point, end);
    rc = create_segment(log, h->base_offset);
    if (rc < 0) return rc;
    if (log->segment_count == 1) log->log_start_offset = MAX(log->log_start_offset, h->base_offset);
    return 0;
}

static int append_batches(struct log *log, uint8_t *mut, const uint8_t *batches, size_t len,
                          bool leader, int32_t epoch, int64_t now_ms,
                          struct log_append_info *info) {
    memset(info, 0, sizeof *info);
    info->first_offset = -1;
    info->last_offset = -1;
    info->max_timestamp = BATCH_NO_TIMESTAMP;
    /* First pass: check everything so that a bad set writes nothing. */
    size_t pos = 0;
    int64_t next = log_end_offset(log);
    while (pos < len) {
        struct batch_header h;
        int rc = batch_check(batches + pos, len - pos, LOG_BATCH_BYTES_MAX, &h);
        if (rc == -ENODATA) return -EINVAL;
        if (rc < 0) return rc;
        if (!leader && h.base_offset < next) return -EINVAL;
        /* Epochs never go back in a log; a lower one is a fenced leader's data. */
        int32_t e = leader ? epoch : h.partition_leader_epoch;
        if (e >= 0 && e < log_epoch_cache_latest(&log->epochs)) return -EINVAL;
        next = leader ? next + h.last_offset_delta + 1 : batch_last_offset(&h) + 1;
        pos += batch_total_bytes(&h);
    }
    if (len == 0) return -EINVAL;
    if (MUTANT(log->io, "ack-before-flush") &&
        log->unflushed_messages >= log->config.flush_interval_messages) {
        int rc = log_flush(log, now_ms); /* The fsync the previous append's ack skipped. */
        if (rc < 0) return rc;
    }
    pos = 0;
    while (pos < len) {
        struct batch_header h;
        batch_header_decode(batches + pos, len - pos, &h);
        size_t total = batch_total_bytes(&h);
        if (leader) {
            batch_stamp(mut + pos, log_end_offset(log), epoch);
            h.base_offset = log_end_offset(log);
            h.partition_leader_epoch = epoch;
            if (log->config.timestamp_log_append && !batch_is_control(&h)) {
                /* LogAppendTime: the broker's clock becomes every record's timestamp,
                 * carried by maxTimestamp and the attribute bit; both are CRC-covered. */
                h.attributes = (int16_t)(h.attributes | BATCH_ATTR_TIMESTAMP_LOG_APPEND);
                h.max_timestamp = now_ms;
                batch_put16(mut + pos + 21, (uint16_t)h.attributes);
                batch_put64(mut + pos + 35, (uint64_t)now_ms);
                batch_crc_update(mut + pos, total);
            }
        }
        struct log_segment *s = &log->segments[log->segment_count - 1];
        if (s->created_ms < 0) s->created_ms = now_ms;
        if (should_roll(log, s, &h, now_ms) || batch_last_offset(&h) - s->base_offset > INT32_MAX) {
            int rc = roll(log, &h);
            if (rc < 0) return rc;
            s = &log->segments[log->segment_count - 1];
            s->created_ms = now_ms;
        }
        if (s->size_bytes + total > UINT32_MAX) return -EFBIG; /* Positions are 32-bit. */
        /* The checkpoint names a new epoch before any batch of it reaches the disk, so
         * that recovery can check every batch's (uncovered by the CRC) epoch field against
         * it (epoch_matches); entries past the recovered end are trimmed on open. */
        if (h.partition_leader_epoch >= 0 &&
            log_epoch_cache_assign(&log->epochs, h.partition_leader_epoch, h.base_offset)) {
            int rc = epochs_persist(log);
            if (rc < 0) return rc;
        }
        int64_t w = io_file_pwrite(log->io, s->log_file, batches + pos, total, s->size_bytes);
        if (w < 0) return (int)w;
        s->dirty = true;
        const uint8_t *b = batches + pos;
        uint32_t crc = (uint32_t)b[17] << 24 | (uint32_t)b[18] << 16 | (uint32_t)b[19] << 8 | b[20];
        const struct io_trace_field tf[] = {
            IO_TF_I("base_offset", h.base_offset), IO_TF_I("last_offset", batch_last_offset(&h)),
            IO_TF_I("epoch", h.partition_leader_epoch), IO_TF_I("crc", crc)};
        log_trace(log, "log_append", tf, 4);
        segment_note_batch(log, s, s->size_bytes, &h);
        if (info->first_offset < 0) info->first_offset = h.base_offset;
        info->last_offset = batch_last_offset(&h);
        info->max_timestamp = MAX(info->max_timestamp, h.max_timestamp);
        info->batch_count++;
        info->record_count += (uint32_t)MAX(h.records_count, 0);
        pos += total;
    }
    int rc = write_index_tail(log, &log->segments[log->segment_count - 1]);
    if (rc < 0) return rc;
    log->unflushed_messages += info->record_count;
    if (log->unflushed_messages >= log->config.flush_interval_messages) {
        /* Mutant ack-before-flush: the append returns (and the produce is acked) before
         * the flush policy's fsync, which waits for the next append instead. */
        if (MUTANT(log->io, "ack-before-flush")) return 0;
        return log_flush(log, now_ms);
    }
    return 0;
}

int log_append_leader(struct log *log, uint8_t *batches, size_t len, int32_t leader_epoch,
                      int64_t now_ms, struct log_append_info *info) {
    ASSERT(leader_epoch >= 0);
    return append_batches(log, batches, batches, len, true, leader_epoch, now_ms, info);
}

int log_append_follower(struct log *log, const uint8_t *batches, size_t len, int64_t now_ms,
                        struct log_append_info *info) {
    return append_batches(log, NULL, batches, len, false, -1, now_ms, info);
}

int log_flush(struct log *log, int64_t now_ms) {
    int rc = log_flush_segments(log);
    if (rc < 0) return rc;
    log_trace_offset(log, "log_flush", log_end_offset(log));
    log->recovery_point = log_end_offset(log);
    log->unflushed_messages = 0;
    log->last_flush_ms = now_ms;
    return 0;
}

int log_maybe_flush(struct log *log, int64_t now_ms) {
    if (log->config.flush_interval_ms == INT64_MAX) return 0;
    if (now_ms - log->last_flush_ms < log->config.flush_interval_ms) return 0;
    return log_flush(log, now_ms);
}

/* --- Lookup ------------------------------------------------------------------------- */

/* Index of the segment holding `offset`: the last with base <= offset (0 if none). */
static size_t segment_for(const struct log *log, int64_t offset) {
    size_t lo = 0, hi = log->segment_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segments[mid].base_offset <= offset) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Position to start scanning for `offset` in s: the last index entry at or below it. */
static uint64_t index_lookup(const struct log_segment *s, int64_t offset) {
    uint32_t lo = 0, hi = s->index_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->index[mid].offset <= offset) lo = mid + 1;
        else hi = mid;
    }
    return lo == 0 ? 0 : s->index[lo - 1].position;
}

static int read_header(struct log *log, const struct log_segment *s, uint64_t pos,
                       struct batch_header *h) {
    uint8_t buf[BATCH_HEADER_BYTES];
    int64_t got = read_at(log, s->log_file, buf, sizeof buf, pos);
    if (got < 0) return (int)got;
    if (got != (int64_t)sizeof buf) return -EIO;
    batch_header_decode(buf, sizeof buf, h);
    /* Everything below size_bytes was checked when written or recovered; a mismatch now
     * is bit rot under us, an operating error rather than a bug. */
    if (h->magic != BATCH_MAGIC_V2 || h->batch_length < (int32_t)(BATCH_HEADER_BYTES - 12) ||
        pos + batch_total_bytes(h) > s->size_bytes) {
        return -EBADMSG;
    }
    return 0;
}

/* Finds in s the first batch whose last offset >= offset; *pos = size_bytes if none. */
static int find_batch(struct log *log, const struct log_segment *s, int64_t offset,
                      uint64_t *pos, struct batch_header *h) {
    /* Every batch of s ends below offset (a reader at the log end, the common case for a
     * parked fetch): the walk below would read each header after the index entry to learn
     * that. */
    if (offset >= s->next_offset) {
        *pos = s->size_bytes;
        return 0;
    }
    uint64_t p = tail_find(log, s, offset);
    if (p != UINT64_MAX) {
        int rc = read_header(log, s, p, h);
        if (rc < 0) return rc;
        if (batch_last_offset(h) >= offset) {
            *pos = p;
            return 0;
        }
        /* Cannot happen while the memory is kept right; the scan below is always right. */
    }
    p = index_lookup(s, offset);
    while (p < s->size_bytes) {
        int rc = read_header(log, s, p, h);
        if (rc < 0) return rc;
        if (batch_last_offset(h) >= offset) break;
        p += batch_total_bytes(h);
    }
    *pos = p;
    return 0;
}

/*
 * Where log_read's walk of s can jump to from `pos` (a batch boundary after at least one
 * batch was taken, `taken` bytes so far) without reading each header: every batch before
 * the returned position would pass the walk's two tests (last offset below max_offset, the
 * running total within max_bytes), so the result is the same as walking, with O(log n)
 * work instead of one pread per batch. Either the whole rest of the segment, or the last
 * index entry (a batch boundary whose batch ends at entry.offset, so every earlier batch
 * ends before it) within both limits; `pos` itself when neither helps.
 */
static uint64_t read_skip(const struct log_segment *s, uint64_t pos, int64_t max_offset,
                          size_t max_bytes, size_t taken) {
    if (taken >= max_bytes || pos >= s->size_bytes) return pos;
    size_t room = max_bytes - taken;
    if (s->next_offset <= max_offset && s->size_bytes - pos <= room) return s->size_bytes;
    /* Entries are ordered by offset and position: the test is true, then false. */
    uint32_t lo = 0, hi = s->index_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct log_offset_entry *e = &s->index[mid];
        if (e->offset < max_offset && e->position <= pos + room) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return pos;
    uint64_t to = s->index[lo - 1].position;
    return to > pos && to < s->size_bytes ? to : pos;
}

int log_read(struct log *log, int64_t offset, size_t max_bytes, bool min_one_batch,
             int64_t max_offset, struct log_read_result *out) {
    memset(out, 0, sizeof *out);
    out->first_offset = -1;
    if (offset < log->log_start_offset || offset > log_end_offset(log)) return -ERANGE;
    /* The batch holding offset ends at or after it, so at or after max_offset: the walk
     * would stop before taking it. Answer without reading (a fetch parked at the HW or the
     * log end asks this on every produce). */
    if (offset >= max_offset) return 0;
    size_t si = segment_for(log, offset);
    /* Bounded by the segment count and the range array. */
    for (; si < log->segment_count && out->range_count < LOG_READ_RANGES_MAX; si++) {
        struct log_segment *s = &log->segments[si];
        uint64_t pos;
        struct batch_header h;
        int rc = find_batch(log, s, offset, &pos, &h);
        if (rc < 0) return rc;
        uint64_t start = pos;
        bool full = false;
        bool have_header = pos < s->size_bytes; /* find_batch left its header in h. */
        bool skipped = false;
        while (pos < s->size_bytes) {
            if (!have_header && !skipped) {
                /* Once per segment, after the first batch (which set first_offset). */
                skipped = true;
                uint64_t to = read_skip(s, pos, max_offset, max_bytes, out->total_bytes);
                out->total_bytes += (size_t)(to - pos);
                pos = to;
                if (pos >= s->size_bytes) break;
            }
            if (!have_header) {
                rc = read_header(log, s, pos, &h);
                if (rc < 0) return rc;
            }
            have_header = false;
            size_t total = batch_total_bytes(&h);
            if (batch_last_offset(&h) >= max_offset) {
                full = true;
                break;
            }
            bool first = out->total_bytes == 0;
            if (out->total_bytes + total > max_bytes && !(first && min_one_batch)) {
                full = true;
                break;
            }
            if (out->first_offset < 0) out->first_offset = h.base_offset;
            out->total_bytes += total;
            pos += total;
        }
        if (pos > start) {
            out->ranges[out->range_count++] = (struct log_read_range){
                .file = s->log_file, .position = start, .length = (uint32_t)(pos - start)};
        }
        if (full) break;
    }
    return 0;
}

int log_read_copy(struct log *log, int64_t offset, size_t max_bytes, bool min_one_batch,
                  int64_t max_offset, uint8_t *buf, size_t cap, size_t *len,
                  int64_t *first_offset) {
    struct log_read_result r;
    int rc = log_read(log, offset, max_bytes, min_one_batch, max_offset, &r);
    if (rc < 0) return rc;
    if (r.total_bytes > cap) return -ENOSPC;
    size_t at = 0;
    for (size_t i = 0; i < r.range_count; i++) {
        int64_t got = read_at(log, r.ranges[i].file, buf + at, r.ranges[i].length,
                              r.ranges[i].position);
        if (got < 0) return (int)got;
        if (got != r.ranges[i].length) return -EIO;
        at += r.ranges[i].length;
    }
    ASSERT(at == r.total_bytes);
    *len = at;
    *first_offset = r.first_offset;
    return 0;
}

/* Reads the whole batch at pos of s into scratch. */
static int read_batch(struct log *log, const struct log_segment *s, uint64_t pos,
                      const struct batch_header *h) {
    size_t total = batch_total_bytes(h);
    scratch_reserve(log, total);
    int64_t got = read_at(log, s->log_file, log->scratch, total, pos);
    if (got < 0) return (int)got;
    return got == (int64_t)total ? 0 : -EIO;
}

int log_offset_for_timestamp(struct log *log, int64_t timestamp, int64_t *offset,
                             int64_t *found_timestamp) {
    for (size_t si = 0; si < log->segment_count; si++) {
        struct log_segment *s = &log->segments[si];
        if (s->max_timestamp < timestamp || s->next_offset <= log->log_start_offset) continue;
        /* Records up to the offset of the last time entry below the target are all older
         * than it (the entry holds the largest timestamp so far). */
        int64_t from = MAX(s->base_offset, log->log_start_offset);
        for (uint32_t i = 0; i < s->time_count && s->time_index[i].timestamp < timestamp; i++) {
            from = MAX(from, s->time_index[i].offset + 1);
        }
        uint64_t pos;
        struct batch_header h;
        int rc = find_batch(log, s, from, &pos, &h);
        if (rc < 0) return rc;
        while (pos < s->size_bytes) {
            rc = read_header(log, s, pos, &h);
            if (rc < 0) return rc;
            if (h.max_timestamp >= timestamp && batch_last_offset(&h) >= from) {
                if (batch_compression(&h) != BATCH_COMPRESSION_NONE) {
                    *offset = MAX(h.base_offset, from);
                    *found_timestamp = h.max_timestamp;
                    return 0;
                }
                rc = read_batch(log, s, pos, &h);
                if (rc < 0) return rc;
                struct batch_record_iter it;
                struct batch_record r;
                rc = batch_records_begin(log->scratch, batch_total_bytes(&h), &it);
                if (rc < 0) return rc;
                bool log_time = (h.attributes & BATCH_ATTR_TIMESTAMP_LOG_APPEND) != 0;
                while ((rc = batch_records_next(&it, &r)) == 1) {
                    int64_t o = h.base_offset + r.offset_delta;
                    int64_t ts = log_time ? h.max_timestamp : h.base_timestamp + r.timestamp_delta;
                    if (o >= from && ts >= timestamp) {
                        *offset = o;
                        *found_timestamp = ts;
                        return 0;
                    }
                }
                if (rc < 0) return rc;
            }
            pos += batch_total_bytes(&h);
        }
    }
    return -ENOENT;
}

/* --- Truncation, deletion, retention ------------------------------------------------ */

/*
 * Cuts segment `s` at batch boundary `pos` without rescanning it: index entries at or past
 * pos go; the state after the last kept offset entry is recomputed from the few batch
 * headers between that entry and pos (at most about index_interval_bytes of them). The
 * largest timestamp up to that entry is the last time entry at or below its offset, since
 * time entries are taken with offset entries.
 */
static int segment_truncate_at(struct log *log, struct log_segment *s, uint64_t pos) {
    ASSERT(pos <= s->size_bytes);
    tail_cut(log, s, pos);
    int rc = io_file_truncate(log->io, s->log_file, pos);
    if (rc < 0) return rc;
    while (s->index_count && s->index[s->index_count - 1].position >= pos) s->index_count--;
    uint64_t from = s->index_count ? s->index[s->index_count - 1].position : 0;
    int64_t from_offset = s->index_count ? s->index[s->index_count - 1].offset : -1;
    /* Time entries up to the last kept offset entry stay; later ones are recomputed. */
    while (s->time_count && s->time_index[s->time_count - 1].offset > from_offset) {
        s->time_count--;
    }
    s->max_timestamp = s->time_count ? s->time_index[s->time_count - 1].timestamp : -1;
    s->offset_of_max_timestamp = s->time_count ? s->time_index[s->time_count - 1].offset : -1;
    s->next_offset = s->base_offset;
    uint64_t p = from;
    /* Bounded: every header read moves p forward by a whole batch. */
    while (p < pos) {
        struct batch_header h;
        rc = read_header(log, s, p, &h);
        if (rc < 0) return rc;
        if (h.max_timestamp > s->max_timestamp) {
            s->max_timestamp = h.max_timestamp;
            s->offset_of_max_timestamp = batch_last_offset(&h);
        }
        s->next_offset = batch_last_offset(&h) + 1;
        p += batch_total_bytes(&h);
    }
    ASSERT(p == pos);
    s->size_bytes = pos;
    s->bytes_since_index = pos - from;
    if (pos == 0) s->rolling_timestamp_ms = -1;
    s->index_written = MIN(s->index_written, s->index_count);
    s->time_written = MIN(s->time_written, s->time_count);
    rc = io_file_truncate(log->io, s->index_file, (uint64_t)s->index_written * 8);
    if (rc == 0) rc = io_file_truncate(log->io, s->time_file, (uint64_t)s->time_written * 12);
    if (rc < 0) return rc;
    s->dirty = true;
    return write_index_tail(log, s);
}

static int truncate_fully(struct log *log, int64_t offset) {
    while (log->segment_count > 0) {
        int rc = segment_delete(log, log->segment_count - 1);
        if (rc < 0) return rc;
    }
    int rc = create_segment(log, offset);
    if (rc < 0) return rc;
    log->log_start_offset = offset;
    log_epoch_cache_truncate_from_end(&log->epochs, 0);
    rc = epochs_persist(log);
    if (rc < 0) return rc;
    return log_flush(log, log->last_flush_ms);
}

int log_truncate_to(struct log *log, int64_t offset) {
    ASSERT(offset >= 0);
    if (offset >= log_end_offset(log)) return 0;
    log_trace_offset(log, "log_truncate", offset);
    if (offset < log->log_start_offset || offset < log->segments[0].base_offset) {
        return truncate_fully(log, offset);
    }
    while (log->segments[log->segment_count - 1].base_offset > offset) {
        int rc = segment_delete(log, log->segment_count - 1);
        if (rc < 0) return rc;
    }
    struct log_segment *s = &log->segments[log->segment_count - 1];
    uint64_t pos;
    struct batch_header h;
    int rc = find_batch(log, s, offset, &pos, &h);
    if (rc < 0) return rc;
    rc = segment_truncate_at(log, s, pos);
    if (rc < 0) return rc;
    /* Cutting the whole batch that straddles `offset` can take the end below the log
     * start; nothing readable is left, so restart empty at the start (I-LOG-3). */
    if (log_end_offset(log) < log->log_start_offset) {
        return truncate_fully(log, log->log_start_offset);
    }
    log->recovery_point = MIN(log->recovery_point, log_end_offset(log));
    if (log_epoch_cache_truncate_from_end(&log->epochs, log_end_offset(log))) {
        rc = epochs_persist(log);
        if (rc < 0) return rc;
    }
    return log_flush(log, log->last_flush_ms);
}

/* Deletes segments from the oldest while pred holds, never the active one. */
typedef bool (*segment_pred)(struct log *log, size_t i, int64_t now_ms, uint64_t *total);

static bool pred_below_start(struct log *log, size_t i, int64_t now_ms, uint64_t *total) {
    return log->segments[i + 1].base_offset <= log->log_start_offset;
}

static bool pred_time(struct log *log, size_t i, int64_t now_ms, uint64_t *total) {
    const struct log_segment *s = &log->segments[i];
    return log->config.cleanup_delete && log->config.retention_ms >= 0 && s->max_timestamp >= 0 &&
           now_ms - s->max_timestamp > log->config.retention_ms;
}

static bool pred_size(struct log *log, size_t i, int64_t now_ms, uint64_t *total) {
    const struct log_segment *s = &log->segments[i];
    if (!log->config.cleanup_delete || log->config.retention_bytes < 0) return false;
    if (*total - s->size_bytes < (uint64_t)log->config.retention_bytes) return false;
    *total -= s->size_bytes;
    return true;
}

static int delete_while(struct log *log, segment_pred pred, int64_t now_ms, size_t *deleted) {
    uint64_t total = 0;
    for (size_t i = 0; i < log->segment_count; i++) total += log->segments[i].size_bytes;
    while (log->segment_count > 1 && pred(log, 0, now_ms, &total)) {
        int rc = segment_delete(log, 0);
        if (rc < 0) return rc;
        (*deleted)++;
        if (log->segments[0].base_offset > log->log_start_offset) {
            log->log_start_offset = log->segments[0].base_offset;
        }
    }
    return 0;
}

int log_apply_retention(struct log *log, int64_t now_ms, size_t *deleted) {
    *deleted = 0;
    int64_t start_before = log->log_start_offset;
    int rc = delete_while(log, pred_below_start, now_ms, deleted);
    if (rc == 0) rc = delete_while(log, pred_time, now_ms, deleted);
    if (rc == 0) rc = delete_while(log, pred_size, now_ms, deleted);
    if (rc < 0) return rc;
    ASSERT(log->log_start_offset >= start_before);
    if (log_epoch_cache_truncate_from_start(&log->epochs, log->log_start_offset)) {
        rc = epochs_persist(log);
    }
    return rc;
}

int log_delete_records(struct log *log, int64_t new_start_offset) {
    if (new_start_offset > log_end_offset(log)) return -ERANGE;
    if (new_start_offset <= log->log_start_offset) return 0;
    log->log_start_offset = new_start_offset;
    size_t deleted = 0;
    int rc = delete_while(log, pred_below_start, 0, &deleted);
    if (rc < 0) return rc;
    if (log_epoch_cache_truncate_from_start(&log->epochs, log->log_start_offset)) {
        rc = epochs_persist(log);
    }
    return rc;
}

/* --- Compaction --------------------------------------------------------------------- */

#define LOG_COMPACT_KEYS_MAX (1u << 24)
#define LOG_COMPACT_TXNS_MAX (1u << 20)

/* Sequential batch reader over one segment, through the scratch buffer. */
struct seg_reader {
    struct log *log;
    const struct log_segment *seg;
    uint64_t pos, win_start, win_len;
};

/* 1 and (*h, *bytes valid until the next call), 0 at the end, or -errno. */
static int seg_reader_next(struct seg_reader *r, struct batch_header *h, const uint8_t **bytes,
                           uint64_t *pos) {
    struct log *log = r->log;
    if (r->pos >= r->seg->size_bytes) return 0;
    if (r->pos + BATCH_HEADER_BYTES > r->win_start + r->win_len) {
        scratch_reserve(log, LOG_SCAN_CHUNK_BYTES);
        r->win_start = r->pos;
        int64_t got = read_at(log, r->seg->log_file, log->scratch,
                              (size_t)MIN((uint64_t)log->scratch_cap, r->seg->size_bytes - r->pos),
                              r->pos);
        if (got < 0) return (int)got;
        r->win_len = (uint64_t)got;
        if (r->win_len < BATCH_HEADER_BYTES) return -EIO;
    }
    batch_header_decode(log->scratch + (r->pos - r->win_start), BATCH_HEADER_BYTES, h);
    size_t total = batch_total_bytes(h);
    if (h->magic != BATCH_MAGIC_V2 || h->batch_length < (int32_t)(BATCH_HEADER_BYTES - 12) ||
        r->pos + total > r->seg->size_bytes) {
        return -EBADMSG; /* Bit rot since recovery. */
    }
    if (r->pos + total > r->win_start + r->win_len) {
        scratch_reserve(log, total);
        r->win_start = r->pos;
        int64_t got = read_at(log, r->seg->log_file, log->scratch,
                              (size_t)MIN((uint64_t)log->scratch_cap, r->seg->size_bytes - r->pos),
                              r->pos);
        if (got < 0) return (int)got;
        r->win_len = (uint64_t)got;
        if (r->win_len < total) return -EIO;
    }
    *bytes = log->scratch + (r->pos - r->win_start);
    *pos = r->pos;
    r->pos += total;
    return 1;
}

struct txn_range {
    int64_t producer_id;
    int64_t first_offset;
    int64_t last_offset;
};

struct key_slot {
    uint64_t hash;
    uint64_t key_at; /* Offset of the key bytes in the arena. */
    int32_t key_len; /* -1: empty slot. */
    int64_t offset;  /* Latest offset seen for the key. */
};

struct compact_ctx {
    struct log *log;
    struct txn_range *aborted; /* Sorted by (producer id, first offset) after pass A. */
    size_t aborted_count, aborted_cap;
    struct txn_range *open; /* Transactions without a marker yet (last_offset unused). */
    size_t open_count, open_cap;
    struct key_slot *slots;
    size_t slot_cap, key_count;
    uint8_t *arena;
    size_t arena_len, arena_cap;
};

static void txn_push(struct log *log, struct txn_range **arr, size_t *count, size_t *cap,
                     struct txn_range t) {
    if (*count == *cap) {
        size_t n = *cap ? *cap * 2 : 16;
        ASSERT(n <= LOG_COMPACT_TXNS_MAX);
        *arr = io_realloc(log->io, *arr, *cap * sizeof **arr, n * sizeof **arr);
        *cap = n;
    }
    (*arr)[(*count)++] = t;
}

static ssize_t open_find(const struct compact_ctx *c, int64_t pid) {
    for (size_t i = 0; i < c->open_count; i++) {
        if (c->open[i].producer_id == pid) return (ssize_t)i;
    }
    return -1;
}

static int txn_cmp(const void *a, const void *b) {
    const struct txn_range *x = a, *y = b;
    if (x->producer_id != y->producer_id) return x->producer_id < y->producer_id ? -1 : 1;
    if (x->first_offset != y->first_offset) return x->first_offset < y->first_offset ? -1 : 1;
    return 0;
}

static bool is_aborted(const struct compact_ctx *c, int64_t pid, int64_t offset) {
    size_t lo = 0, hi = c->aborted_count;
    struct txn_range key = {pid, offset, 0};
    while (lo < hi) { /* First range > key. */
        size_t mid = lo + (hi - lo) / 2;
        if (txn_cmp(&c->aborted[mid], &key) <= 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return false;
    const struct txn_range *r = &c->aborted[lo - 1];
    return r->producer_id == pid && r->first_offset <= offset && offset <= r->last_offset;
}

/* Data of a transaction with no marker yet: neither committed nor aborted. */
static bool is_undecided(const struct compact_ctx *c, int64_t pid, int64_t offset) {
    ssize_t i = open_find(c, pid);
    return i >= 0 && c->open[i].first_offset <= offset;
}

/* Pass A: learn every transaction's fate from the markers in the whole log. */
static int compact_scan_markers(struct compact_ctx *c) {
    struct log *log = c->log;
    for (size_t si = 0; si < log->segment_count; si++) {
        struct seg_reader r = {.log = log, .seg = &log->segments[si]};
        struct batch_header h;
        const uint8_t *b = NULL; /* Set by seg_reader_next when it returns 1. */
        uint64_t pos;
        int rc;
        while ((rc = seg_reader_next(&r, &h, &b, &pos)) == 1) {
            if (!batch_is_transactional(&h)) continue;
            ssize_t i = open_find(c, h.producer_id);
            if (!batch_is_control(&h)) {
                if (i < 0) {
                    txn_push(log, &c->open, &c->open_count, &c->open_cap,
                             (struct txn_range){h.producer_id, h.base_offset, -1});
                }
                continue;
            }
            enum batch_control_type type;
            int32_t coordinator_epoch;
            if (batch_control_decode(b, batch_total_bytes(&h), &type, &coordinator_epoch) < 0) {
                continue; /* Unknown control record: keep everything around it. */
            }
            if (i < 0) continue; /* A marker for a transaction with no data here. */
            if (type == BATCH_CONTROL_ABORT) {
                txn_push(log, &c->aborted, &c->aborted_count, &c->aborted_cap,
                         (struct txn_range){h.producer_id, c->open[i].first_offset,
                                            h.base_offset});
            }
            c->open[i] = c->open[--c->open_count];
        }
        if (rc < 0) return rc;
    }
    if (c->aborted_count > 1) qsort(c->aborted, c->aborted_count, sizeof *c->aborted, txn_cmp);
    return 0;
}

static uint64_t key_hash(const uint8_t *key, int32_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix. */
    for (int32_t i = 0; i < len; i++) h = (h ^ key[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static struct key_slot *key_find(struct compact_ctx *c, const uint8_t *key, int32_t len,
                                 uint64_t hash) {
    size_t mask = c->slot_cap - 1;
    /* Bounded: the table is at most half full, so an empty slot is always reached. */
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        struct key_slot *s = &c->slots[i];
        if (s->key_len < 0) return s;
        if (s->hash == hash && s->key_len == len &&
            memcmp(c->arena + s->key_at, key, (size_t)len) == 0) {
            return s;
        }
    }
}

static void slots_alloc(struct compact_ctx *c, size_t cap) {
    c->slots = io_alloc(c->log->io, cap * sizeof *c->slots);
    for (size_t i = 0; i < cap; i++) c->slots[i].key_len = -1;
    c->slot_cap = cap;
}

static int key_put(struct compact_ctx *c, const uint8_t *key, int32_t len, int64_t offset) {
    struct io *io = c->log->io;
    if ((c->key_count + 1) * 2 > c->slot_cap) {
        if (c->slot_cap * 2 > (size_t)LOG_COMPACT_KEYS_MAX * 2) return -E2BIG;
        struct key_slot *old = c->slots;
        size_t old_cap = c->slot_cap;
        slots_alloc(c, old_cap * 2);
        for (size_t i = 0; i < old_cap; i++) {
            if (old[i].key_len < 0) continue;
            *key_find(c, c->arena + old[i].key_at, old[i].key_len, old[i].hash) = old[i];
        }
        io_free(io, old, old_cap * sizeof *old);
    }
    uint64_t h = key_hash(key, len);
    struct key_slot *s = key_find(c, key, len, h);
    if (s->key_len >= 0) {
        ASSERT(offset > s->offset);
        s->offset = offset;
        return 0;
    }
    if (c->arena_len + (size_t)len > c->arena_cap) {
        size_t cap = c->arena_cap ? c->arena_cap : 1u << 16;
        while (cap < c->arena_len + (size_t)len) cap *= 2;
        c->arena = io_realloc(io, c->arena, c->arena_cap, cap);
        c->arena_cap = cap;
    }
    memcpy(c->arena + c->arena_len, key, (size_t)len);
    *s = (struct key_slot){h, c->arena_len, len, offset};
    c->arena_len += (size_t)len;
    c->key_count++;
    return 0;
}

static int64_t key_get(struct compact_ctx *c, const uint8_t *key, int32_t len) {
    struct key_slot *s = key_find(c, key, len, key_hash(key, len));
    return s->key_len < 0 ? -1 : s->offset;
}

/* Which batches take part in the key map and get their records filtered. */
static bool batch_is_filterable(const struct compact_ctx *c, const struct batch_header *h) {
    if (batch_is_control(h) || batch_compression(h) != BATCH_COMPRESSION_NONE) return false;
    if (batch_is_transactional(h) &&
        (is_aborted(c, h->producer_id, h->base_offset) ||
         is_undecided(c, h->producer_id, h->base_offset))) {
        return false;
    }
    return true;
}

/* Pass B: the latest offset of every key in the cleanable segments. */
static int compact_build_map(struct compact_ctx *c, size_t clean_count) {
    struct log *log = c->log;
    for (size_t si = 0; si < clean_count; si++) {
        struct seg_reader r = {.log = log, .seg = &log->segments[si]};
        struct batch_header h;
        const uint8_t *b;
        uint64_t pos;
        int rc;
        while ((rc = seg_reader_next(&r, &h, &b, &pos)) == 1) {
            if (!batch_is_filterable(c, &h)) continue;
            struct batch_record_iter it;
            struct batch_record rec;
            rc = batch_records_begin(b, batch_total_bytes(&h), &it);
            if (rc < 0) return rc;
            while ((rc = batch_records_next(&it, &rec)) == 1) {
                if (rec.key == NULL) continue;
                rc = key_put(c, rec.key, rec.key_len, h.base_offset + rec.offset_delta);
                if (rc < 0) return rc;
            }
            if (rc < 0) return rc;
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* Pass C for one segment: writes <base>.log.cleaned and its indexes as .cleaned files,
 * syncs them, then swaps them in (log first). */
static int compact_segment(struct compact_ctx *c, size_t si, int64_t now_ms,
                           struct log_compact_stats *st) {
    struct log *log = c->log;
    struct log_segment *s = &log->segments[si];
    char path[LOG_PATH_MAX + 48], ipath[LOG_PATH_MAX + 48], tpath[LOG_PATH_MAX + 48];
    int rc = log_segment_file_name(path, sizeof path, log->dir, s->base_offset, ".log.cleaned");
    if (rc == 0) rc = log_segment_file_name(ipath, sizeof ipath, log->dir, s->base_offset,
                                            ".index.cleaned");
    if (rc == 0) rc = log_segment_file_name(tpath, sizeof tpath, log->dir, s->base_offset,
                                            ".timeindex.cleaned");
    if (rc < 0) return rc;
    struct log_segment tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.base_offset = s->base_offset;
    segment_reset_state(&tmp);
    rc = io_file_open(log->io, path, IO_OPEN_CREATE | IO_OPEN_TRUNC, &tmp.log_file);
    if (rc < 0) return rc;
    rc = io_file_open(log->io, ipath, IO_OPEN_CREATE | IO_OPEN_TRUNC, &tmp.index_file);
    if (rc < 0) {
        io_file_close(log->io, tmp.log_file);
        return rc;
    }
    rc = io_file_open(log->io, tpath, IO_OPEN_CREATE | IO_OPEN_TRUNC, &tmp.time_file);
    if (rc < 0) {
        io_file_close(log->io, tmp.log_file);
        io_file_close(log->io, tmp.index_file);
        return rc;
    }
    uint8_t *out = NULL;
    size_t out_cap = 0;
    bool *keep = NULL;
    size_t keep_cap = 0;
    uint64_t out_pos = 0;
    struct seg_reader r = {.log = log, .seg = s};
    struct batch_header h;
    const uint8_t *b;
    uint64_t pos;
    int64_t tombstone_horizon = now_ms - log->config.delete_retention_ms;
    uint8_t empty[BATCH_HEADER_BYTES];
    while ((rc = seg_reader_next(&r, &h, &b, &pos)) == 1) {
        size_t total = batch_total_bytes(&h);
        const uint8_t *write = b;
        size_t write_len = total;
        /* The segment's last batch always stays, emptied if need be, so the segment still
         * ends where the next begins (roll() and recovery rely on gap-free segments). */
        bool last = pos + total == s->size_bytes;
        if (batch_is_transactional(&h) && !batch_is_control(&h) &&
            is_aborted(c, h.producer_id, h.base_offset)) {
            /* Aborted data is never readable by read_committed consumers; dropping it
             * keeps compaction from ever exposing it (I-LOG-5). */
            st->records_removed += (uint64_t)MAX(h.records_count, 0);
            if (!last) {
                st->batches_removed++;
                continue;
            }
            write_len = (size_t)batch_build_empty(b, total, empty, sizeof empty);
            write = empty;
        }
        if (batch_is_filterable(c, &h)) {
            size_t n = (size_t)h.records_count;
            if (n > keep_cap) {
                keep = io_realloc(log->io, keep, keep_cap * sizeof *keep, n * sizeof *keep);
                keep_cap = n;
            }
            struct batch_record_iter it;
            struct batch_record rec;
            rc = batch_records_begin(b, total, &it);
            if (rc < 0) break;
            size_t i = 0, kept = 0;
            while ((rc = batch_records_next(&it, &rec)) == 1) {
                ASSERT(i < n);
                int64_t off = h.base_offset + rec.offset_delta;
                int64_t ts = (h.attributes & BATCH_ATTR_TIMESTAMP_LOG_APPEND)
                                 ? h.max_timestamp
                                 : h.base_timestamp + rec.timestamp_delta;
                bool k = rec.key == NULL || key_get(c, rec.key, rec.key_len) == off;
                if (k && rec.value == NULL && rec.key != NULL && ts < tombstone_horizon) {
                    k = false; /* An expired tombstone: its key is gone for good. */
                }
                keep[i++] = k;
                kept += k;
            }
            if (rc < 0) break;
            st->records_kept += kept;
            st->records_removed += n - kept;
            if (kept == 0 && !last) {
                st->batches_removed++;
                continue;
            }
            if (kept == 0) {
                write_len = (size_t)batch_build_empty(b, total, empty, sizeof empty);
                write = empty;
            } else if (kept < n) {
                if (total > out_cap) {
                    out = io_realloc(log->io, out, out_cap, total);
                    out_cap = total;
                }
                int64_t m = batch_filter(b, total, keep, n, out, out_cap);
                if (m <= 0) {
                    rc = m < 0 ? (int)m : -EIO;
                    break;
                }
                write = out;
                write_len = (size_t)m;
            }
        }
        int64_t w = io_file_pwrite(log->io, tmp.log_file, write, write_len, out_pos);
        if (w < 0) {
            rc = (int)w;
            break;
        }
        out_pos += write_len;
    }
    io_free(log->io, out, out_cap);
    io_free(log->io, keep, keep_cap * sizeof *keep);
    bool cut = false;
    if (rc == 0) rc = io_file_truncate(log->io, tmp.log_file, out_pos);
    if (rc == 0) rc = segment_recover(log, &tmp, true, &cut);
    ASSERT(rc < 0 || (!cut && tmp.size_bytes == out_pos));
    if (rc == 0) rc = io_file_sync(log->io, tmp.log_file);
    if (rc == 0) rc = io_file_sync(log->io, tmp.index_file);
    if (rc == 0) rc = io_file_sync(log->io, tmp.time_file);
    segment_close_files(log, &tmp);
    if (rc < 0) {
        segment_free(log, &tmp);
        return rc;
    }
    /* The swap. Old indexes go first so that no crash can pair a new index with the old
     * log; a missing index is rebuilt on open. Then the log, then the new indexes. */
    char final_path[LOG_PATH_MAX + 32];
    st->bytes_before += s->size_bytes;
    st->bytes_after += tmp.size_bytes;
    segment_close_files(log, s);
    static const char *const exts[] = {".index", ".timeindex", ".log"};
    const char *sources[] = {ipath, tpath, path};
    /* Only the indexes: the .log is replaced by the atomic rename below, and removing it
     * first would open a window in which a crash loses the segment. */
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        rc = log_segment_file_name(final_path, sizeof final_path, log->dir, s->base_offset,
                                   exts[i]);
        if (rc == 0) rc = io_unlink(log->io, final_path);
        if (rc == -ENOENT) rc = 0;
    }
    rc = rc ? rc : log_segment_file_name(final_path, sizeof final_path, log->dir, s->base_offset,
                                        ".log");
    if (rc == 0) rc = io_rename(log->io, path, final_path);
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        rc = log_segment_file_name(final_path, sizeof final_path, log->dir, s->base_offset,
                                   exts[i]);
        if (rc == 0) rc = io_rename(log->io, sources[i], final_path);
    }
    /* Adopt the new state; the files are reopened under their final names. */
    int64_t next = s->next_offset;
    if (log->tail_base == s->base_offset) tail_cut(log, s, 0); /* Rewritten: forget it. */
    segment_free(log, s);
    *s = tmp;
    s->next_offset = MAX(next, tmp.next_offset); /* Offsets never move; keep the end. */
    s->log_file = s->index_file = s->time_file = NULL;
    s->dirty = false;
    if (rc == 0) rc = segment_open_files(log, s, false);
    if (rc < 0) return rc;
    st->segments_cleaned++;
    return 0;
}

int log_compact(struct log *log, int64_t now_ms, int64_t clean_upto_offset,
                struct log_compact_stats *stats) {
    memset(stats, 0, sizeof *stats);
    if (!log->config.cleanup_compact) return 0;
    size_t clean_count = 0;
    while (clean_count + 1 < log->segment_count &&
           log->segments[clean_count + 1].base_offset <= clean_upto_offset) {
        clean_count++;
    }
    if (clean_count == 0) return 0;
    /* Segments to be rewritten must be durable first, or a crash could leave a cleaned
     * copy of data that recovery would otherwise have cut. */
    int rc = log_flush(log, log->last_flush_ms);
    if (rc < 0) return rc;
    struct compact_ctx c = {.log = log};
    slots_alloc(&c, 1024);
    rc = compact_scan_markers(&c);
    if (rc == 0) rc = compact_build_map(&c, clean_count);
    for (size_t si = 0; si < clean_count && rc == 0; si++) {
        rc = compact_segment(&c, si, now_ms, stats);
    }
    io_free(log->io, c.aborted, c.aborted_cap * sizeof *c.aborted);
    io_free(log->io, c.open, c.open_cap * sizeof *c.open);
    io_free(log->io, c.slots, c.slot_cap * sizeof *c.slots);
    io_free(log->io, c.arena, c.arena_cap);
    return rc;
}
