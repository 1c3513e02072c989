/*
 * txn_files.c — the .txnindex entry and producer-snapshot codecs (see txn_files.h).
 */
#include "log/txn_files.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "io/io.h"
#include "log/batch.h"
#include "log/checkpoint.h"
#include "log/crc32c.h"
#include "log/log.h"

void log_txn_index_encode(uint8_t out[LOG_TXN_INDEX_ENTRY_BYTES], const struct log_aborted_txn *t) {
    ASSERT(t->first_offset <= t->last_offset);
    batch_put16(out, 0);
    batch_put64(out + 2, (uint64_t)t->producer_id);
    batch_put64(out + 10, (uint64_t)t->first_offset);
    batch_put64(out + 18, (uint64_t)t->last_offset);
    batch_put64(out + 26, (uint64_t)t->last_stable_offset);
}

int log_txn_index_decode(const uint8_t in[LOG_TXN_INDEX_ENTRY_BYTES], struct log_aborted_txn *t) {
    if (batch_be16(in) != 0) return -EBADMSG;
    t->producer_id = (int64_t)batch_be64(in + 2);
    t->first_offset = (int64_t)batch_be64(in + 10);
    t->last_offset = (int64_t)batch_be64(in + 18);
    t->last_stable_offset = (int64_t)batch_be64(in + 26);
    if (t->first_offset < 0 || t->first_offset > t->last_offset) return -EBADMSG;
    return 0;
}

int64_t log_snapshot_encode(uint8_t *out, size_t cap, const struct log_producer_entry *e,
                            size_t count) {
    ASSERT(count <= INT32_MAX / LOG_SNAPSHOT_ENTRY_BYTES);
    size_t total = LOG_SNAPSHOT_HEADER_BYTES + count * LOG_SNAPSHOT_ENTRY_BYTES;
    if (total > cap) return -ENOSPC;
    batch_put16(out, LOG_SNAPSHOT_VERSION);
    batch_put32(out + 6, (uint32_t)count);
    uint8_t *p = out + LOG_SNAPSHOT_HEADER_BYTES;
    for (size_t i = 0; i < count; i++, p += LOG_SNAPSHOT_ENTRY_BYTES) {
        batch_put64(p, (uint64_t)e[i].producer_id);
        batch_put16(p + 8, (uint16_t)e[i].producer_epoch);
        batch_put32(p + 10, (uint32_t)e[i].last_sequence);
        batch_put64(p + 14, (uint64_t)e[i].last_offset);
        batch_put32(p + 22, (uint32_t)e[i].offset_delta);
        batch_put64(p + 26, (uint64_t)e[i].timestamp);
        batch_put32(p + 34, (uint32_t)e[i].coordinator_epoch);
        batch_put64(p + 38, (uint64_t)e[i].current_txn_first_offset);
    }
    batch_put32(out + 2, crc32c_update(0, out + 6, total - 6));
    return (int64_t)total;
}

int log_snapshot_decode(const uint8_t *in, size_t len, struct log_producer_entry *out,
                        size_t max, size_t *count) {
    if (len < LOG_SNAPSHOT_HEADER_BYTES || batch_be16(in) != LOG_SNAPSHOT_VERSION) {
        return -EBADMSG;
    }
    if (crc32c_update(0, in + 6, len - 6) != batch_be32(in + 2)) return -EBADMSG;
    int32_t n = (int32_t)batch_be32(in + 6);
    if (n < 0 || (size_t)n != (len - LOG_SNAPSHOT_HEADER_BYTES) / LOG_SNAPSHOT_ENTRY_BYTES ||
        (len - LOG_SNAPSHOT_HEADER_BYTES) % LOG_SNAPSHOT_ENTRY_BYTES != 0) {
        return -EBADMSG;
    }
    if ((size_t)n > max) return -ENOSPC;
    const uint8_t *p = in + LOG_SNAPSHOT_HEADER_BYTES;
    for (int32_t i = 0; i < n; i++, p += LOG_SNAPSHOT_ENTRY_BYTES) {
        out[i] = (struct log_producer_entry){
            .producer_id = (int64_t)batch_be64(p),
            .producer_epoch = (int16_t)batch_be16(p + 8),
            .last_sequence = (int32_t)batch_be32(p + 10),
            .last_offset = (int64_t)batch_be64(p + 14),
            .offset_delta = (int32_t)batch_be32(p + 22),
            .timestamp = (int64_t)batch_be64(p + 26),
            .coordinator_epoch = (int32_t)batch_be32(p + 34),
            .current_txn_first_offset = (int64_t)batch_be64(p + 38),
        };
    }
    *count = (size_t)n;
    return 0;
}

int log_snapshot_write(struct io *io, const char *dir, int64_t offset,
                       const struct log_producer_entry *e, size_t count) {
    char path[LOG_PATH_MAX + 32];
    int rc = log_segment_file_name(path, sizeof path, dir, offset, ".snapshot");
    if (rc < 0) return rc;
    size_t cap = LOG_SNAPSHOT_HEADER_BYTES + count * LOG_SNAPSHOT_ENTRY_BYTES;
    uint8_t *buf = io_alloc(io, cap);
    int64_t n = log_snapshot_encode(buf, cap, e, count);
    ASSERT(n == (int64_t)cap);
    rc = log_checkpoint_write_text(io, path, (const char *)buf, cap);
    io_free(io, buf, cap);
    return rc;
}

int log_snapshot_read(struct io *io, const char *dir, int64_t offset,
                      struct log_producer_entry *out, size_t max, size_t *count) {
    char path[LOG_PATH_MAX + 32];
    int rc = log_segment_file_name(path, sizeof path, dir, offset, ".snapshot");
    if (rc < 0) return rc;
    struct io_file *f;
    rc = io_file_open(io, path, IO_OPEN_READ, &f);
    if (rc < 0) return rc;
    int64_t size = io_file_size(io, f);
    if (size < 0 || size > (int64_t)(LOG_SNAPSHOT_HEADER_BYTES + (size_t)INT32_MAX)) {
        io_file_close(io, f);
        return size < 0 ? (int)size : -EBADMSG;
    }
    size_t cap = (size_t)size + 1;
    uint8_t *buf = io_alloc(io, cap);
    int64_t got = io_file_pread(io, f, buf, (size_t)size, 0);
    io_file_close(io, f);
    rc = got != size ? (got < 0 ? (int)got : -EIO)
                     : log_snapshot_decode(buf, (size_t)size, out, max, count);
    io_free(io, buf, cap);
    return rc;
}
