/*
 * bench_log.c — partition log throughput on real files (io_posix), from the page cache.
 *
 * Prints one line per figure: name, value, unit, then the same-run reference and the
 * ratio (BENCHMARKS.md): append MB/s against raw pwrite of the same bytes in the same
 * chunks into a fresh file (the log also fsyncs each 256 MiB segment as it rolls, so this
 * ratio shows the price of that sync), read MB/s (log_read_copy) against raw pread, recovery scan MB/s (log_open after
 * an unclean shutdown: CRC-32C of every batch + index rebuild, P9 target >= 1000 MB/s)
 * against raw pread, plus CRC-32C MB/s over memory. BENCH_LOG_MB sets the data size
 * (default 512), BENCH_LOG_DIR the parent directory (default /tmp).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"
#include "io/io_posix.h"
#include "log/batch.h"
#include "log/crc32c.h"
#include "log/log.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void line(const char *name, double value, const char *unit, const char *ref_name,
                 double ref) {
    if (ref > 0) {
        printf("%s %.1f %s %s %.1f ratio %.2f\n", name, value, unit, ref_name, ref, value / ref);
    } else {
        printf("%s %.1f %s\n", name, value, unit);
    }
}

struct rm_ctx {
    struct io *io;
    const char *dir;
};

static void rm_entry(void *arg, const char *name, bool is_dir) {
    struct rm_ctx *c = arg;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    if (!is_dir) io_unlink(c->io, path);
}

int main(void) {
    const char *parent = getenv("BENCH_LOG_DIR") ? getenv("BENCH_LOG_DIR") : "/tmp";
    size_t total_mb = getenv("BENCH_LOG_MB") ? strtoul(getenv("BENCH_LOG_MB"), NULL, 10) : 512;
    uint64_t total = (uint64_t)total_mb << 20;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bench_log.XXXXXX", parent);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char part[600];
    snprintf(part, sizeof part, "%s/t-0", dir);
    struct io *io = io_posix_create();
    if (io_mkdir(io, part) < 0) return 1;

    /* One 64 KiB-ish batch of 100 records of 640 bytes, appended over and over. */
    struct batch_record_in recs[100];
    static uint8_t value[640];
    char keys[100][16];
    for (size_t i = 0; i < sizeof value; i++) value[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 100; i++) {
        snprintf(keys[i], sizeof keys[i], "key-%d", i);
        recs[i] = (struct batch_record_in){i, 1700000000000ll + i, (const uint8_t *)keys[i],
                                           (int32_t)strlen(keys[i]), value, sizeof value};
    }
    static uint8_t batch[1 << 17];
    struct batch_build_params p = {0, -1, 0, -1, -1, -1};
    int64_t blen = batch_build(batch, sizeof batch, &p, recs, 100);
    if (blen <= 0) return 1;
    uint64_t count = total / (uint64_t)blen;

    /* Reference: raw pwrite of the same chunks into one file. */
    char raw[700];
    snprintf(raw, sizeof raw, "%s/raw", dir);
    int fd = open(raw, O_CREAT | O_RDWR | O_TRUNC, 0644);
    double t0 = now_s();
    for (uint64_t i = 0; i < count; i++) {
        if (pwrite(fd, batch, (size_t)blen, (off_t)(i * (uint64_t)blen)) != blen) return 1;
    }
    double pwrite_s = now_s() - t0;
    struct log_config c;
    log_config_default(&c);
    c.segment_bytes = 256u << 20;
    struct log *log;
    if (log_open(io, part, &c, 0, 0, &log) < 0) return 1;
    t0 = now_s();
    for (uint64_t i = 0; i < count; i++) {
        struct log_append_info info;
        if (log_append_leader(log, batch, (size_t)blen, 1, 1700000000000ll, &info) < 0) return 1;
    }
    double append_s = now_s() - t0;
    uint64_t bytes = count * (uint64_t)blen;

    line("log_append", bytes / append_s / 1e6, "MB/s", "raw_pwrite", bytes / pwrite_s / 1e6);

    /* Reads: the whole log through log_read_copy in 1 MiB fetches. */
    size_t cap = 2u << 20;
    uint8_t *buf = malloc(cap);
    t0 = now_s();
    uint64_t read_bytes = 0;
    int64_t off = 0;
    while (off < log_end_offset(log)) {
        size_t len;
        int64_t first;
        if (log_read_copy(log, off, 1u << 20, true, INT64_MAX, buf, cap, &len, &first) < 0) {
            return 1;
        }
        struct batch_header h;
        size_t pos = 0;
        while (pos < len) { /* Walk to the next offset as a consumer would. */
            batch_header_decode(buf + pos, len - pos, &h);
            pos += batch_total_bytes(&h);
        }
        off = batch_last_offset(&h) + 1;
        read_bytes += len;
    }
    double read_s = now_s() - t0;
    t0 = now_s();
    for (uint64_t at = 0; at < bytes; at += 1u << 20) {
        if (pread(fd, buf, 1u << 20, (off_t)at) < 0) return 1;
    }
    double pread_s = now_s() - t0;
    double pread_mbs = bytes / pread_s / 1e6;
    line("log_read", read_bytes / read_s / 1e6, "MB/s", "raw_pread", pread_mbs);

    /* Recovery: close, drop the clean-shutdown marker, reopen from recovery point 0. */
    if (log_close(log) < 0) return 1;
    char marker[700];
    snprintf(marker, sizeof marker, "%s/%s", part, LOG_CLEAN_SHUTDOWN_FILE);
    io_unlink(io, marker);
    t0 = now_s();
    if (log_open(io, part, &c, 0, 0, &log) < 0) return 1;
    double rec_s = now_s() - t0;
    uint64_t scanned = log->recovery_bytes_scanned;
    line("log_recovery_scan", scanned / rec_s / 1e6, "MB/s", "raw_pread", pread_mbs);

    t0 = now_s();
    uint32_t crc = 0;
    for (int i = 0; i < 64; i++) crc ^= crc32c_update(0, buf, 1u << 20);
    double crc_s = now_s() - t0;
    line(crc32c_hardware_available() ? "crc32c_sse42" : "crc32c_portable",
         64.0 * (1 << 20) / crc_s / 1e6, "MB/s", "", 0);
    if (crc == 0xdeadbeef) printf("(unlikely)\n");

    log_close(log);
    close(fd);
    unlink(raw);
    struct rm_ctx rc = {io, part};
    io_list_dir(io, part, rm_entry, &rc);
    io_rmdir(io, part);
    io_rmdir(io, dir);
    free(buf);
    io_posix_destroy(io);
    return 0;
}
