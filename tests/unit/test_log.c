/*
 * test_log.c — proves the partition log on the in-memory crash-model disk:
 *  - append/read round trip: every batch reads back byte-identical with the offsets and
 *    leader epoch the log stamped, from any offset inside it;
 *  - Kafka layout: 20-digit segment names, 8-byte BE .index entries and 12-byte BE
 *    .timeindex entries pointing at the right batches; indexes rebuilt by recovery equal
 *    the ones written on append; clean reopen and unclean reopen agree (I-LOG-1);
 *  - offset and timestamp lookups agree with a full scan of what was appended (I-LOG-6),
 *    also after DeleteRecords and after reopen;
 *  - truncation: cuts whole batches, trims the epoch cache, survives reopen and crash;
 *    reads near the end stay right while the end is cut and rewritten again and again;
 *  - retention (I-LOG-3, I-LOG-4): only whole non-active segments that meet a policy go;
 *    the log start offset never decreases; reads below it are out of range;
 *  - compaction (I-LOG-5): exactly the expected records survive (latest per key,
 *    unexpired tombstones, offsets unchanged, markers kept, aborted data gone, open
 *    transactions untouched), durably;
 *  - follower appends keep offsets and refuse bad or overlapping data; segments stay
 *    gap-free and recovery drops segments after one that lost its tail;
 *  - segments roll on size and on time (Kafka's rule) and flush by count and by time; the
 *    epoch cache answers; LogAppendTime stamps the broker's clock with a fresh CRC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/base.h"
#include "log/log.h"
#include "test_log_memio.h"
#include "test_log_util.h"

#define DIR "p0"

static struct log_config small_config(void) {
    struct log_config c;
    log_config_default(&c);
    c.segment_bytes = 16384;
    c.index_interval_bytes = 1024;
    return c;
}

static struct log *open_log(struct memio *m, const struct log_config *c, int64_t rp,
                            int64_t start) {
    struct log *log = NULL;
    int rc = log_open(&m->io, DIR, c, rp, start, &log);
    assert_int_equal(rc, 0);
    return log;
}

/* Appends `count` random batches as leader with epochs rising now and then. */
static void fill(struct log *log, struct tl_model *model, struct tl_rng *r, int count,
                 int64_t ts_base, int64_t ts_jitter, int32_t *epoch) {
    uint8_t buf[65536];
    for (int i = 0; i < count; i++) {
        int64_t n = tl_build(buf, sizeof buf, r, 1 + (int)tl_below(r, 8), 50, 0, ts_base,
                             ts_jitter, 0, -1);
        assert_true(n > 0);
        if (tl_below(r, 20) == 0) (*epoch)++;
        struct log_append_info info;
        assert_int_equal(log_append_leader(log, buf, (size_t)n, *epoch, ts_base, &info), 0);
        assert_int_equal(info.batch_count, 1);
        tl_model_push(model, buf, (size_t)n);
        ts_base += 3;
    }
}

static void assert_reads_match(struct log *log, const struct tl_model *model, size_t from) {
    uint8_t *buf = malloc(1 << 20);
    for (size_t i = from; i < model->count; i++) {
        const struct tl_batch *b = &model->b[i];
        int64_t probe = b->base + (int64_t)((b->last - b->base) / 2);
        size_t len;
        int64_t first;
        assert_int_equal(log_read_copy(log, probe, 1, true, INT64_MAX, buf, 1 << 20, &len, &first),
                         0);
        assert_int_equal(len, b->len);
        assert_int_equal(first, b->base);
        assert_memory_equal(buf, b->bytes, b->len);
    }
    free(buf);
}

static void check_index_files(struct memio *m, struct log *log) {
    for (size_t si = 0; si < log->segment_count; si++) {
        const struct log_segment *s = &log->segments[si];
        char path[600];
        log_segment_file_name(path, sizeof path, DIR, s->base_offset, ".log");
        assert_int_equal(strlen(path), strlen(DIR) + 1 + 24);
        struct memio_file_state *lf = memio_file(m, path);
        assert_non_null(lf);
        log_segment_file_name(path, sizeof path, DIR, s->base_offset, ".index");
        struct memio_file_state *xf = memio_file(m, path);
        assert_non_null(xf);
        assert_int_equal(xf->cur_len, (size_t)s->index_count * 8);
        for (uint32_t i = 0; i < s->index_count; i++) {
            const uint8_t *e = xf->cur + i * 8;
            int64_t off = s->base_offset + (int32_t)batch_be32(e);
            uint32_t pos = batch_be32(e + 4);
            struct batch_header h;
            assert_int_equal(batch_check(lf->cur + pos, lf->cur_len - pos, 1 << 26, &h), 0);
            assert_int_equal(batch_last_offset(&h), off); /* I-LOG-1: points at its target */
        }
        log_segment_file_name(path, sizeof path, DIR, s->base_offset, ".timeindex");
        struct memio_file_state *tf = memio_file(m, path);
        assert_non_null(tf);
        assert_int_equal(tf->cur_len, (size_t)s->time_count * 12);
        int64_t prev = INT64_MIN;
        for (uint32_t i = 0; i < s->time_count; i++) {
            int64_t ts = (int64_t)batch_be64(tf->cur + i * 12);
            assert_true(ts >= prev); /* I-LOG-1: non-decreasing */
            prev = ts;
        }
        if (si > 0) assert_true(s->base_offset > log->segments[si - 1].base_offset);
    }
}

struct seg_snapshot {
    size_t count;
    int64_t base[256];
    uint32_t index_count[256], time_count[256];
    struct log_offset_entry index[256][64];
    struct log_time_entry time[256][64];
};

static void snapshot(const struct log *log, struct seg_snapshot *s) {
    assert_true(log->segment_count <= 256);
    s->count = log->segment_count;
    for (size_t i = 0; i < s->count; i++) {
        const struct log_segment *g = &log->segments[i];
        s->base[i] = g->base_offset;
        assert_true(g->index_count <= 64 && g->time_count <= 64);
        s->index_count[i] = g->index_count;
        s->time_count[i] = g->time_count;
        if (g->index_count) memcpy(s->index[i], g->index, g->index_count * sizeof *g->index);
        if (g->time_count) {
            memcpy(s->time[i], g->time_index, g->time_count * sizeof *g->time_index);
        }
    }
}

static void assert_same_indexes(const struct seg_snapshot *a, const struct seg_snapshot *b) {
    assert_int_equal(a->count, b->count);
    for (size_t i = 0; i < a->count; i++) {
        assert_int_equal(a->base[i], b->base[i]);
        assert_int_equal(a->index_count[i], b->index_count[i]);
        for (uint32_t k = 0; k < a->index_count[i]; k++) { /* Field-wise: structs have padding. */
            assert_int_equal(a->index[i][k].offset, b->index[i][k].offset);
            assert_int_equal(a->index[i][k].position, b->index[i][k].position);
        }
        /* The active segment may lack its final time entry before close. */
        uint32_t n = MIN(a->time_count[i], b->time_count[i]);
        assert_true(a->time_count[i] - n <= 1 && b->time_count[i] - n <= 1);
        assert_memory_equal(a->time[i], b->time[i], n * sizeof a->time[i][0]);
    }
}

static void test_append_read_layout_reopen(void **state) {
    (void)state;
    static struct seg_snapshot before, after;
    struct memio *m = memio_create(11);
    assert_int_equal(io_mkdir(&m->io, DIR), 0);
    struct log_config c = small_config();
    struct log *log = open_log(m, &c, 0, 0);
    struct tl_model model = {0};
    struct tl_rng r = {42};
    int32_t epoch = 0;
    fill(log, &model, &r, 300, 1000, 50, &epoch);
    assert_true(log->segment_count > 10);
    assert_int_equal(log_end_offset(log), model.b[model.count - 1].last + 1);
    for (size_t i = 0; i < model.count; i++) {
        struct batch_header h;
        batch_header_decode(model.b[i].bytes, model.b[i].len, &h);
        assert_true(h.partition_leader_epoch >= 0);
        if (i > 0) assert_int_equal(model.b[i].base, model.b[i - 1].last + 1);
    }
    assert_reads_match(log, &model, 0);
    check_index_files(m, log);
    snapshot(log, &before);
    int64_t leo = log_end_offset(log);
    int32_t latest = log_epoch_cache_latest(&log->epochs);
    /* Clean reopen: the marker skips the scan of all but the active segment. Leftovers
     * of interrupted work (a checkpoint .tmp, a .cleaned file, an orphan index) go. */
    assert_int_equal(log_close(log), 0);
    struct io_file *junk;
    const char *leftovers[] = {DIR "/leader-epoch-checkpoint.tmp",
                               DIR "/00000000000000000000.log.cleaned",
                               DIR "/00000000000099999999.index"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(io_file_open(&m->io, leftovers[i], IO_OPEN_CREATE, &junk), 0);
        io_file_close(&m->io, junk);
    }
    log = open_log(m, &c, 0, 0);
    assert_false(log->recovered_unclean);
    assert_true(log->recovery_bytes_scanned <= log->segments[log->segment_count - 1].size_bytes);
    for (size_t i = 0; i < 3; i++) assert_int_equal(io_exists(&m->io, leftovers[i], NULL), -ENOENT);
    assert_int_equal(log_end_offset(log), leo);
    assert_int_equal(log_epoch_cache_latest(&log->epochs), latest);
    snapshot(log, &after);
    assert_same_indexes(&before, &after);
    assert_reads_match(log, &model, 0);
    /* Unclean reopen from recovery point 0: every index is rebuilt, identically. */
    assert_int_equal(log_close(log), 0);
    assert_int_equal(io_unlink(&m->io, DIR "/" LOG_CLEAN_SHUTDOWN_FILE), 0);
    log = open_log(m, &c, 0, 0);
    assert_true(log->recovered_unclean);
    assert_true(log->recovery_bytes_scanned > 0);
    snapshot(log, &after);
    assert_same_indexes(&before, &after);
    assert_reads_match(log, &model, 0);
    check_index_files(m, log);
    /* Out of range reads. */
    struct log_read_result rr;
    assert_int_equal(log_read(log, leo + 1, 100, true, INT64_MAX, &rr), -ERANGE);
    assert_int_equal(log_read(log, leo, 100, true, INT64_MAX, &rr), 0);
    assert_int_equal(rr.total_bytes, 0);
    /* max_offset (the HW) hides batches at or above it. */
    assert_int_equal(log_read(log, 0, 1 << 20, true, model.b[0].last, &rr), 0);
    assert_int_equal(rr.total_bytes, 0);
    assert_int_equal(log_read(log, 0, 1 << 20, true, model.b[3].last + 1, &rr), 0);
    assert_int_equal(rr.total_bytes,
                     model.b[0].len + model.b[1].len + model.b[2].len + model.b[3].len);
    assert_int_equal(log_close(log), 0);
    tl_model_free(&model);
    assert_int_equal(m->live_bytes, 0);
    memio_destroy(m);
}

/* Full-scan answer for ListOffsets by timestamp. */
static int64_t scan_for_timestamp(const struct tl_model *model, int64_t start, int64_t target,
                                  int64_t *ts_out) {
    for (size_t i = 0; i < model->count; i++) {
        struct batch_record_iter it;
        struct batch_record rec;
        struct batch_header h;
        batch_header_decode(model->b[i].bytes, model->b[i].len, &h);
        batch_records_begin(model->b[i].bytes, model->b[i].len, &it);
        while (batch_records_next(&it, &rec) == 1) {
            int64_t off = h.base_offset + rec.offset_delta;
            int64_t ts = h.base_timestamp + rec.timestamp_delta;
            if (off >= start && ts >= target) {
                *ts_out = ts;
                return off;
            }
        }
    }
    return -1;
}

static void check_lookups(struct log *log, const struct tl_model *model, struct tl_rng *r) {
    for (int q = 0; q < 300; q++) {
        int64_t target = 900 + (int64_t)tl_below(r, 1400);
        int64_t want_ts = -1, got_off = -1, got_ts = -1;
        int64_t want = scan_for_timestamp(model, log->log_start_offset, target, &want_ts);
        int rc = log_offset_for_timestamp(log, target, &got_off, &got_ts);
        if (want < 0) {
            assert_int_equal(rc, -ENOENT);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(got_off, want);
            assert_int_equal(got_ts, want_ts);
        }
    }
    /* Offset lookups: each offset from the log start reads the batch holding it. */
    uint8_t *buf = malloc(1 << 20);
    for (size_t i = 0; i < model->count; i++) {
        for (int64_t off = model->b[i].base; off <= model->b[i].last; off++) {
            size_t len;
            int64_t first;
            int rc = log_read_copy(log, off, 1, true, INT64_MAX, buf, 1 << 20, &len, &first);
            if (off < log->log_start_offset) {
                assert_int_equal(rc, -ERANGE); /* I-LOG-3 */
                continue;
            }
            assert_int_equal(rc, 0);
            assert_int_equal(first, model->b[i].base);
            assert_memory_equal(buf, model->b[i].bytes, len);
        }
    }
    free(buf);
}

static void test_lookups_agree_with_full_scan(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        struct memio *m = memio_create(seed);
        assert_int_equal(io_mkdir(&m->io, DIR), 0);
        struct log_config c = small_config();
        c.index_interval_bytes = 200 + 300 * (uint32_t)seed;
        struct log *log = open_log(m, &c, 0, 0);
        struct tl_model model = {0};
        struct tl_rng r = {seed * 77};
        int32_t epoch = 0;
        /* Timestamps jitter over a wide window: not monotonic across batches. */
        fill(log, &model, &r, 250, 1000, 400, &epoch);
        check_lookups(log, &model, &r);
        /* DeleteRecords to the middle of a batch. */
        int64_t mid = model.b[model.count / 3].base + 1;
        assert_int_equal(log_delete_records(log, mid), 0);
        assert_int_equal(log->log_start_offset, mid);
        check_lookups(log, &model, &r);
        assert_int_equal(log_close(log), 0);
        log = open_log(m, &c, 0, mid);
        check_lookups(log, &model, &r);
        assert_int_equal(log_close(log), 0);
        tl_model_free(&model);
        memio_destroy(m);
    }
}

static void test_truncation(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        struct memio *m = memio_create(seed);
        assert_int_equal(io_mkdir(&m->io, DIR), 0);
        struct log_config c = small_config();
        struct log *log = open_log(m, &c, 0, 0);
        struct tl_model model = {0};
        struct tl_rng r = {seed};
        int32_t epoch = 0;
        fill(log, &model, &r, 120, 1000, 10, &epoch);
        assert_int_equal(log_flush(log, 0), 0);
        /* Truncate to a random offset; the batch holding it goes entirely. */
        int64_t target = (int64_t)tl_below(&r, (uint64_t)log_end_offset(log));
        size_t keep = 0;
        while (keep < model.count && model.b[keep].last < target) keep++;
        int64_t want_leo = keep < model.count ? model.b[keep].base : log_end_offset(log);
        assert_int_equal(log_truncate_to(log, target), 0);
        tl_model_cut(&model, keep);
        assert_int_equal(log_end_offset(log), want_leo);
        for (size_t i = 0; i < log->epochs.count; i++) {
            assert_true(log->epochs.entries[i].start_offset < want_leo || want_leo == 0);
        }
        assert_reads_match(log, &model, 0);
        check_index_files(m, log);
        struct log_read_result rr;
        assert_int_equal(log_read(log, want_leo + 1, 10, true, INT64_MAX, &rr), -ERANGE);
        /* Truncation is durable: a crash right after keeps the cut. And the state kept
         * without a rescan equals what a full rebuild computes. */
        static struct seg_snapshot cut_state, rebuilt;
        snapshot(log, &cut_state);
        const struct log_segment *last = &log->segments[log->segment_count - 1];
        int64_t max_ts = last->max_timestamp, max_at = last->offset_of_max_timestamp;
        uint64_t since = last->bytes_since_index;
        memio_crash(m);
        log = open_log(m, &c, 0, 0);
        snapshot(log, &rebuilt);
        assert_same_indexes(&cut_state, &rebuilt);
        last = &log->segments[log->segment_count - 1];
        assert_int_equal(last->max_timestamp, max_ts);
        assert_int_equal(last->offset_of_max_timestamp, max_at);
        assert_int_equal(last->bytes_since_index, since);
        assert_int_equal(log_end_offset(log), want_leo);
        assert_reads_match(log, &model, 0);
        /* Appending continues at the new end. */
        fill(log, &model, &r, 10, 5000, 10, &epoch);
        assert_int_equal(model.b[keep].base, want_leo);
        assert_reads_match(log, &model, 0);
        /* Truncating below the log start empties the log and restarts it there. */
        assert_int_equal(log_delete_records(log, 5), want_leo >= 5 ? 0 : -ERANGE);
        if (want_leo >= 5) {
            assert_int_equal(log_truncate_to(log, 2), 0);
            assert_int_equal(log_end_offset(log), 2);
            assert_int_equal(log->log_start_offset, 2);
            assert_int_equal(log->segment_count, 1);
        }
        assert_int_equal(log_close(log), 0);
        tl_model_free(&model);
        memio_destroy(m);
    }
}

/* Reads near the log end (found from the log's memory of its newest batches) stay right
 * while the end is cut and rewritten, segments roll, and reads are capped below a batch. */
static void test_reads_near_end_after_cuts(void **state) {
    (void)state;
    uint8_t *buf = malloc(1 << 20);
    for (uint64_t seed = 1; seed <= 8; seed++) {
        struct memio *m = memio_create(seed);
        assert_int_equal(io_mkdir(&m->io, DIR), 0);
        struct log_config c = small_config();
        c.index_interval_bytes = 4096; /* Many batches between entries: the memory matters. */
        struct log *log = open_log(m, &c, 0, 0);
        struct tl_model model = {0};
        struct tl_rng r = {seed * 31};
        int32_t epoch = 0;
        fill(log, &model, &r, 100, 1000, 10, &epoch);
        for (int round = 0; round < 25; round++) {
            size_t back = 1 + (size_t)tl_below(&r, MIN(model.count, 90));
            size_t keep = model.count - back;
            int64_t target = model.b[keep].base + (int64_t)tl_below(
                                 &r, (uint64_t)(model.b[keep].last - model.b[keep].base + 1));
            assert_int_equal(log_truncate_to(log, target), 0);
            tl_model_cut(&model, keep);
            fill(log, &model, &r, 1 + (int)tl_below(&r, 80), 5000 + round * 1000, 10, &epoch);
            size_t from = model.count > 120 ? model.count - 120 : 0;
            assert_reads_match(log, &model, from);
            for (size_t i = from; i < model.count; i++) {
                const struct tl_batch *b = &model.b[i];
                size_t len;
                int64_t first;
                /* Capped at the batch's last offset: nothing; one past it: just it. */
                assert_int_equal(log_read_copy(log, b->base, 1, true, b->last, buf, 1 << 20, &len,
                                               &first),
                                 0);
                assert_int_equal(len, 0);
                assert_int_equal(log_read_copy(log, b->last, 1 << 20, true, b->last + 1, buf,
                                               1 << 20, &len, &first),
                                 0);
                assert_int_equal(len, b->len);
                assert_int_equal(first, b->base);
                assert_memory_equal(buf, b->bytes, b->len);
            }
        }
        assert_int_equal(log_close(log), 0);
        tl_model_free(&model);
        memio_destroy(m);
    }
    free(buf);
}

struct old_seg {
    int64_t base, max_ts;
    uint64_t size;
};

static void test_retention_property(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        struct memio *m = memio_create(seed);
        assert_int_equal(io_mkdir(&m->io, DIR), 0);
        struct tl_rng r = {seed * 1000};
        struct log_config c = small_config();
        c.retention_ms = tl_below(&r, 2) ? -1 : 200 + (int64_t)tl_below(&r, 2000);
        c.retention_bytes = tl_below(&r, 2) ? -1 : 20000 + (int64_t)tl_below(&r, 100000);
        c.cleanup_delete = tl_below(&r, 4) != 0;
        struct log *log = open_log(m, &c, 0, 0);
        uint8_t buf[65536];
        int64_t now = 1000;
        for (int step = 0; step < 400; step++) {
            int64_t n = tl_build(buf, sizeof buf, &r, 1 + (int)tl_below(&r, 6), 30, 0, now, 5, 0,
                                 -1);
            struct log_append_info info;
            assert_int_equal(log_append_leader(log, buf, (size_t)n, 1, now, &info), 0);
            now += (int64_t)tl_below(&r, 20);
            if (tl_below(&r, 10) == 0) {
                struct old_seg old[512];
                size_t old_count = log->segment_count;
                assert_true(old_count <= 512);
                for (size_t i = 0; i < old_count; i++) {
                    old[i] = (struct old_seg){log->segments[i].base_offset,
                                              log->segments[i].max_timestamp,
                                              log->segments[i].size_bytes};
                }
                int64_t start_before = log->log_start_offset;
                int64_t active_base = log->segments[old_count - 1].base_offset;
                if (tl_below(&r, 5) == 0) {
                    int64_t to = start_before +
                                 (int64_t)tl_below(&r, (uint64_t)(log_end_offset(log) -
                                                                  start_before + 1));
                    assert_int_equal(log_delete_records(log, to), 0);
                    assert_true(log->log_start_offset >= to);
                }
                int64_t start_mid = log->log_start_offset;
                size_t deleted = 0;
                assert_int_equal(log_apply_retention(log, now, &deleted), 0);
                /* I-LOG-3: the start never goes down. */
                assert_true(log->log_start_offset >= start_before);
                /* I-LOG-4: the active segment stays; only a prefix of whole segments
                 * went, each meeting a policy. */
                assert_int_equal(log->segments[log->segment_count - 1].base_offset,
                                 active_base);
                size_t gone = old_count - log->segment_count;
                for (size_t i = 0; i < log->segment_count; i++) {
                    assert_int_equal(log->segments[i].base_offset, old[gone + i].base);
                }
                uint64_t total_after = 0;
                for (size_t i = gone; i < old_count; i++) total_after += old[i].size;
                for (size_t i = 0; i < gone; i++) {
                    bool below = old[i + 1].base <= start_mid;
                    bool by_time = c.cleanup_delete && c.retention_ms >= 0 &&
                                   old[i].max_ts >= 0 && now - old[i].max_ts > c.retention_ms;
                    bool by_size = c.cleanup_delete && c.retention_bytes >= 0 &&
                                   total_after >= (uint64_t)c.retention_bytes;
                    assert_true(below || by_time || by_size);
                }
                struct log_read_result rr;
                if (log->log_start_offset > 0) {
                    assert_int_equal(log_read(log, log->log_start_offset - 1, 10, true,
                                              INT64_MAX, &rr), -ERANGE);
                }
                assert_int_equal(log_read(log, log->log_start_offset, 10, true, INT64_MAX, &rr),
                                 0);
            }
        }
        assert_int_equal(log_close(log), 0);
        memio_destroy(m);
    }
}

/* --- Compaction --------------------------------------------------------------------- */

enum rec_state { REC_PLAIN, REC_COMMITTED, REC_ABORTED, REC_OPEN };

struct mrec {
    int64_t offset, ts;
    char key[16];
    bool null_key, tomb;
    uint8_t value[300];
    int32_t value_len;
    enum rec_state state;
    bool marker;
};

struct cmodel {
    struct mrec *r;
    size_t count, cap;
};

static void cm_add_batch(struct cmodel *cm, const uint8_t *b, size_t len, enum rec_state st) {
    struct batch_header h;
    batch_header_decode(b, len, &h);
    struct batch_record_iter it;
    struct batch_record rec;
    assert_int_equal(batch_records_begin(b, len, &it), 0);
    while (batch_records_next(&it, &rec) == 1) {
        if (cm->count == cm->cap) {
            cm->cap = cm->cap ? cm->cap * 2 : 256;
            cm->r = realloc(cm->r, cm->cap * sizeof *cm->r);
        }
        struct mrec *m = &cm->r[cm->count++];
        memset(m, 0, sizeof *m);
        m->offset = h.base_offset + rec.offset_delta;
        m->ts = h.base_timestamp + rec.timestamp_delta;
        m->null_key = rec.key == NULL;
        if (rec.key) memcpy(m->key, rec.key, (size_t)rec.key_len);
        m->tomb = rec.value == NULL;
        m->value_len = rec.value_len;
        if (rec.value) memcpy(m->value, rec.value, (size_t)rec.value_len);
        m->state = st;
        m->marker = batch_is_control(&h);
    }
}

static struct mrec *cm_find(struct cmodel *cm, int64_t offset) {
    for (size_t i = 0; i < cm->count; i++) {
        if (cm->r[i].offset == offset) return &cm->r[i];
    }
    return NULL;
}

struct seen {
    struct cmodel *cm;
    bool *present;
};

static void on_batch(void *arg, const uint8_t *b, size_t len) {
    struct seen *s = arg;
    struct batch_header h;
    batch_header_decode(b, len, &h);
    struct batch_record_iter it;
    struct batch_record rec;
    assert_int_equal(batch_records_begin(b, len, &it), 0);
    int rc;
    while ((rc = batch_records_next(&it, &rec)) == 1) {
        int64_t off = h.base_offset + rec.offset_delta;
        struct mrec *m = cm_find(s->cm, off);
        assert_non_null(m); /* Offsets are never rewritten. */
        assert_int_equal(m->null_key, rec.key == NULL);
        if (rec.key) assert_memory_equal(m->key, rec.key, (size_t)rec.key_len);
        assert_int_equal(m->value_len, rec.value_len);
        if (rec.value) assert_memory_equal(m->value, rec.value, (size_t)rec.value_len);
        assert_int_equal(m->marker, batch_is_control(&h));
        s->present[m - s->cm->r] = true;
    }
    assert_int_equal(rc, 0);
}

static void test_compaction_property(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 25; seed++) {
        struct memio *m = memio_create(seed);
        assert_int_equal(io_mkdir(&m->io, DIR), 0);
        struct tl_rng r = {seed * 31337};
        struct log_config c = small_config();
        c.cleanup_compact = true;
        c.cleanup_delete = false;
        c.delete_retention_ms = 500;
        struct log *log = open_log(m, &c, 0, 0);
        struct cmodel cm = {0};
        uint8_t buf[65536];
        int64_t now = 1000;
        /* Producers 1..3 run transactions; producer -1 writes plain data. */
        bool open_txn[4] = {false};
        for (int step = 0; step < 300; step++) {
            int64_t pid = (int64_t)tl_below(&r, 4);
            struct log_append_info info;
            if (pid == 0) {
                int64_t n = tl_build(buf, sizeof buf, &r, 1 + (int)tl_below(&r, 5),
                                     tl_below(&r, 8) ? 12 : 0, 150, now, 5, 0, -1);
                assert_int_equal(log_append_leader(log, buf, (size_t)n, 0, now, &info), 0);
                cm_add_batch(&cm, buf, (size_t)n, REC_PLAIN);
            } else if (open_txn[pid] && tl_below(&r, 4) == 0) {
                bool commit = tl_below(&r, 2);
                int64_t n = batch_build_control(buf, sizeof buf, 0, pid, 0,
                                                commit ? BATCH_CONTROL_COMMIT : BATCH_CONTROL_ABORT,
                                                1, now);
                assert_int_equal(log_append_leader(log, buf, (size_t)n, 0, now, &info), 0);
                /* The producer id of a record is kept in the model key's last byte. */
                for (size_t i = 0; i < cm.count; i++) {
                    if (cm.r[i].state == REC_OPEN && cm.r[i].key[15] == (char)pid) {
                        cm.r[i].state = commit ? REC_COMMITTED : REC_ABORTED;
                    }
                }
                cm_add_batch(&cm, buf, (size_t)n, REC_PLAIN);
                open_txn[pid] = false;
            } else {
                int64_t n = tl_build(buf, sizeof buf, &r, 1 + (int)tl_below(&r, 4), 12, 100, now,
                                     5, BATCH_ATTR_TRANSACTIONAL, pid);
                assert_int_equal(log_append_leader(log, buf, (size_t)n, 0, now, &info), 0);
                size_t before = cm.count;
                cm_add_batch(&cm, buf, (size_t)n, REC_OPEN);
                for (size_t i = before; i < cm.count; i++) cm.r[i].key[15] = (char)pid;
                open_txn[pid] = true;
            }
            now += (int64_t)tl_below(&r, 10);
        }
        int64_t active_base = log->segments[log->segment_count - 1].base_offset;
        struct log_compact_stats st;
        assert_int_equal(log_compact(log, now, log_end_offset(log), &st), 0);
        assert_true(st.segments_cleaned > 0);
        assert_true(st.bytes_after <= st.bytes_before);
        /* Expected survivors. Latest offset per key among plain/committed records in the
         * cleanable range (below the active segment). */
        bool *expect = calloc(cm.count, sizeof *expect);
        for (size_t i = 0; i < cm.count; i++) {
            struct mrec *x = &cm.r[i];
            if (x->marker || x->offset >= active_base || x->state == REC_OPEN) {
                expect[i] = true;
                continue;
            }
            if (x->state == REC_ABORTED) continue;
            if (x->null_key) {
                expect[i] = true;
                continue;
            }
            bool latest = true;
            for (size_t j = 0; j < cm.count; j++) {
                struct mrec *y = &cm.r[j];
                if (j != i && !y->marker && !y->null_key && y->offset > x->offset &&
                    y->offset < active_base &&
                    (y->state == REC_PLAIN || y->state == REC_COMMITTED) &&
                    memcmp(y->key, x->key, 15) == 0 && strcmp(y->key, x->key) == 0) {
                    latest = false;
                    break;
                }
            }
            expect[i] = latest && !(x->tomb && x->ts < now - c.delete_retention_ms);
        }
        for (int round = 0; round < 2; round++) {
            bool *present = calloc(cm.count, sizeof *present);
            struct seen s = {&cm, present};
            tl_read_all(log, 0, on_batch, &s);
            for (size_t i = 0; i < cm.count; i++) {
                if (present[i] != expect[i]) {
                    fprintf(stderr, "seed %llu offset %lld state %d present %d expect %d\n",
                            (unsigned long long)seed, (long long)cm.r[i].offset, cm.r[i].state,
                            present[i], expect[i]);
                }
                assert_int_equal(present[i], expect[i]);
            }
            free(present);
            /* Compaction is durable: survive a crash and recover the same records. */
            memio_crash(m);
            log = open_log(m, &c, 0, 0);
            check_index_files(m, log);
        }
        assert_int_equal(log_close(log), 0);
        free(expect);
        free(cm.r);
        memio_destroy(m);
    }
}

static void test_follower_append(void **state) {
    (void)state;
    struct memio *m = memio_create(3);
    assert_int_equal(io_mkdir(&m->io, DIR), 0);
    struct log_config c = small_config();
    struct log *log = open_log(m, &c, 0, 0);
    uint8_t buf[4096];
    struct tl_rng r = {5};
    int64_t n = tl_build(buf, sizeof buf, &r, 3, 5, 0, 100, 0, 0, -1);
    batch_stamp(buf, 10, 4); /* The leader's offsets and epoch. */
    struct log_append_info info;
    /* The log is empty at 0 and a follower may start above it (after a leader's
     * DeleteRecords the follower's log would be restarted first; here we only check that
     * offsets are kept). */
    assert_int_equal(log_append_follower(log, buf, (size_t)n, 0, &info), 0);
    assert_int_equal(info.first_offset, 10);
    assert_int_equal(log_end_offset(log), 13);
    assert_int_equal(log_epoch_cache_latest(&log->epochs), 4);
    /* Overlapping data is refused; so is a corrupt batch; nothing is written. */
    assert_int_equal(log_append_follower(log, buf, (size_t)n, 0, &info), -EINVAL);
    batch_stamp(buf, 13, 5);
    buf[n - 1] ^= 0x40;
    assert_int_equal(log_append_follower(log, buf, (size_t)n, 0, &info), -EBADMSG);
    assert_int_equal(log_append_follower(log, buf, (size_t)n - 1, 0, &info), -EINVAL);
    assert_int_equal(log_end_offset(log), 13);
    buf[n - 1] ^= 0x40;
    assert_int_equal(log_append_follower(log, buf, (size_t)n, 0, &info), 0);
    assert_int_equal(log_end_offset(log), 16);
    int32_t e;
    int64_t o;
    log_end_offset_for_epoch(log, 4, &e, &o);
    assert_int_equal(e, 4);
    assert_int_equal(o, 13);
    log_end_offset_for_epoch(log, 5, &e, &o);
    assert_int_equal(o, 16);
    assert_int_equal(log_close(log), 0);
    memio_destroy(m);
}

static void test_gap_free_segments(void **state) {
    (void)state;
    struct memio *m = memio_create(4);
    assert_int_equal(io_mkdir(&m->io, DIR), 0);
    struct log_config c = small_config();
    c.segment_bytes = 600;
    struct log *log = open_log(m, &c, 0, 0);
    uint8_t buf[4096];
    struct tl_rng r = {6};
    struct log_append_info info;
    int64_t next = 0;
    for (int i = 0; i < 12; i++) {
        int64_t n = tl_build(buf, sizeof buf, &r, 2, 5, 0, 100, 0, 0, -1);
        next += 3; /* The leader compacted one offset away before each batch. */
        batch_stamp(buf, next, 1);
        assert_int_equal(log_append_follower(log, buf, (size_t)n, 0, &info), 0);
        next += 2;
    }
    assert_true(log->segment_count > 2);
    /* Segments are named at the previous end, not at their first batch. */
    for (size_t i = 1; i < log->segment_count; i++) {
        assert_int_equal(log->segments[i].base_offset, log->segments[i - 1].next_offset);
    }
    /* A segment that ends short of the next one lost its tail: recovery drops what
     * follows rather than leave a hole in the log. */
    int64_t base1 = log->segments[1].base_offset;
    int64_t cut_end = log->segments[0].next_offset;
    uint64_t size0 = log->segments[0].size_bytes;
    assert_int_equal(log_close(log), 0);
    assert_int_equal(io_unlink(&m->io, DIR "/" LOG_CLEAN_SHUTDOWN_FILE), 0);
    struct io_file *f;
    char path[600];
    log_segment_file_name(path, sizeof path, DIR, 0, ".log");
    assert_int_equal(io_file_open(&m->io, path, IO_OPEN_WRITE, &f), 0);
    struct batch_header h;
    uint8_t hdr[BATCH_HEADER_BYTES];
    /* Remove the last batch of segment 0 (as a dropped unsynced write would). */
    uint64_t pos = 0, last_pos = 0;
    while (pos < size0) {
        assert_int_equal(io_file_pread(&m->io, f, hdr, sizeof hdr, pos), (int64_t)sizeof hdr);
        batch_header_decode(hdr, sizeof hdr, &h);
        last_pos = pos;
        pos += batch_total_bytes(&h);
    }
    assert_int_equal(io_file_truncate(&m->io, f, last_pos), 0);
    io_file_close(&m->io, f);
    log = open_log(m, &c, 0, 0);
    assert_int_equal(log->segment_count, 1);
    assert_true(log_end_offset(log) < cut_end);
    assert_true(log_end_offset(log) < base1);
    assert_int_equal(io_exists(&m->io, path, NULL), 0);
    log_segment_file_name(path, sizeof path, DIR, base1, ".log");
    assert_int_equal(io_exists(&m->io, path, NULL), -ENOENT);
    assert_int_equal(log_close(log), 0);
    memio_destroy(m);
}

static void test_roll_conditions(void **state) {
    (void)state;
    struct memio *m = memio_create(3);
    assert_int_equal(io_mkdir(&m->io, DIR), 0);
    struct log_config c = small_config();
    c.segment_bytes = 1u << 30;
    c.roll_ms = 1000;
    struct log *log = open_log(m, &c, 0, 0);
    uint8_t buf[4096];
    struct tl_rng r = {5};
    struct log_append_info info;
    for (int i = 0; i < 10; i++) {
        int64_t n = tl_build(buf, sizeof buf, &r, 2, 5, 0, 5000 + i * 300, 0, 0, -1);
        assert_int_equal(log_append_leader(log, buf, (size_t)n, 0, 5000 + i * 300, &info), 0);
    }
    /* 300 ms apart, roll after 1000 ms of segment age: a new segment every 4 batches. */
    assert_int_equal(log->segment_count, 3);
    assert_int_equal(log->segments[1].base_offset, 8);
    /* Like Kafka, age is the new batch's timestamp against the segment's first batch's,
     * not the wall clock: old-timestamped batches arriving later do not roll. */
    for (int i = 0; i < 3; i++) {
        int64_t n = tl_build(buf, sizeof buf, &r, 2, 5, 0, 5000 + 8 * 300, 0, 0, -1);
        assert_int_equal(log_append_leader(log, buf, (size_t)n, 0, 50000 + i * 5000, &info), 0);
    }
    assert_int_equal(log->segment_count, 3);
    /* Size: a batch that would overflow segment_bytes starts a new segment. */
    log->config.segment_bytes = log->segments[2].size_bytes + 10;
    log->config.roll_ms = INT64_MAX / 2;
    int64_t n = tl_build(buf, sizeof buf, &r, 2, 5, 0, 9000, 0, 0, -1);
    assert_int_equal(log_append_leader(log, buf, (size_t)n, 0, 9000, &info), 0);
    assert_int_equal(log->segment_count, 4);
    assert_int_equal(log->segments[3].base_offset, info.first_offset);
    /* The flush policy by message count. */
    log->config.flush_interval_messages = 4;
    uint64_t syncs = m->syncs;
    n = tl_build(buf, sizeof buf, &r, 4, 5, 0, 9000, 0, 0, -1);
    assert_int_equal(log_append_leader(log, buf, (size_t)n, 0, 9000, &info), 0);
    assert_true(m->syncs > syncs);
    assert_int_equal(log->recovery_point, log_end_offset(log));
    /* The flush policy by time. */
    log->config.flush_interval_messages = INT64_MAX;
    log->config.flush_interval_ms = 100;
    n = tl_build(buf, sizeof buf, &r, 1, 5, 0, 9000, 0, 0, -1);
    assert_int_equal(log_append_leader(log, buf, (size_t)n, 0, 9000, &info), 0);
    assert_true(log->recovery_point < log_end_offset(log));
    int64_t flushed_at = log->last_flush_ms;
    assert_int_equal(log_maybe_flush(log, flushed_at + 50), 0);
    assert_true(log->recovery_point < log_end_offset(log));
    assert_int_equal(log_maybe_flush(log, flushed_at + 100), 0);
    assert_int_equal(log->recovery_point, log_end_offset(log));
    assert_int_equal(log_close(log), 0);
    memio_destroy(m);
}

static void test_log_append_time(void **state) {
    (void)state;
    struct memio *m = memio_create(3);
    assert_int_equal(io_mkdir(&m->io, DIR), 0);
    struct log_config c = small_config();
    c.timestamp_log_append = true;
    struct log *log = open_log(m, &c, 0, 0);
    uint8_t buf[4096];
    struct tl_rng r = {9};
    struct log_append_info info;
    for (int i = 0; i < 5; i++) {
        int64_t n = tl_build(buf, sizeof buf, &r, 3, 5, 0, 100, 50, 0, -1); /* Client times. */
        assert_int_equal(log_append_leader(log, buf, (size_t)n, 0, 7000 + i * 10, &info), 0);
        struct batch_header h;
        assert_int_equal(batch_check(buf, (size_t)n, 1 << 20, &h), 0); /* CRC redone. */
        assert_true(h.attributes & BATCH_ATTR_TIMESTAMP_LOG_APPEND);
        assert_int_equal(h.max_timestamp, 7000 + i * 10);
    }
    /* Lookups see the broker's times, not the clients'. */
    int64_t off, ts;
    assert_int_equal(log_offset_for_timestamp(log, 7015, &off, &ts), 0);
    assert_int_equal(off, 6);
    assert_int_equal(ts, 7020);
    assert_int_equal(log_offset_for_timestamp(log, 7041, &off, &ts), -ENOENT);
    assert_int_equal(log_close(log), 0);
    memio_destroy(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_read_layout_reopen),
        cmocka_unit_test(test_lookups_agree_with_full_scan),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_reads_near_end_after_cuts),
        cmocka_unit_test(test_retention_property),
        cmocka_unit_test(test_compaction_property),
        cmocka_unit_test(test_follower_append),
        cmocka_unit_test(test_gap_free_segments),
        cmocka_unit_test(test_roll_conditions),
        cmocka_unit_test(test_log_append_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
