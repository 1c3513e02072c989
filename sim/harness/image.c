/*
 * image.c — reading partition logs off a simulated disk (see image.h).
 */
#include "sim/harness/image.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "io/io.h"
#include "sim/sim.h"

#define IMAGE_FILES_MAX 4096
#define IMAGE_NAME_MAX  128

struct image_block {
    struct image_block *next;
    max_align_t data[];
};

void image_pool_init(struct image_pool *pool) { pool->head = NULL; }

void *image_pool_alloc(struct image_pool *pool, size_t size) {
    struct image_block *b = calloc(1, sizeof(*b) + MAX(size, 1u));
    ASSERT(b != NULL);
    b->next = pool->head;
    pool->head = b;
    return b->data;
}

struct li_log *image_pool_log(struct image_pool *pool) {
    return image_pool_alloc(pool, sizeof(struct li_log));
}

void image_pool_free(struct image_pool *pool) {
    while (pool->head != NULL) {
        struct image_block *b = pool->head;
        pool->head = b->next;
        free(b);
    }
}

struct dir_names {
    char (*names)[IMAGE_NAME_MAX];
    size_t count;
};

static void on_entry(void *arg, const char *name, bool is_dir) {
    struct dir_names *d = arg;
    if (is_dir || d->count == IMAGE_FILES_MAX || strlen(name) >= IMAGE_NAME_MAX) return;
    snprintf(d->names[d->count++], IMAGE_NAME_MAX, "%s", name);
}

/* The whole file, or NULL with *len 0 when it is missing. */
static uint8_t *read_all(struct image_pool *pool, struct sim_node *node, const char *path,
                         size_t *len) {
    *len = 0;
    int64_t size = sim_disk_file_size(node, path);
    if (size < 0) return NULL;
    uint8_t *buf = image_pool_alloc(pool, (size_t)size + 1);
    int64_t got = sim_disk_read_file(node, path, buf, (size_t)size, 0);
    if (got < 0) return NULL;
    *len = (size_t)got;
    return buf;
}

static bool has_suffix(const char *name, const char *suffix) {
    size_t n = strlen(name), s = strlen(suffix);
    return n > s && strcmp(name + n - s, suffix) == 0;
}

int image_collect(struct image_pool *pool, struct sim_node *node, const char *node_name,
                  const char *topic, int32_t partition, struct li_log *out) {
    memset(out, 0, sizeof(*out));
    snprintf(out->node, sizeof(out->node), "%s", node_name);
    snprintf(out->topic, sizeof(out->topic), "%s", topic);
    out->partition = partition;
    out->recovery_point = -1;
    out->hw_checkpoint = -1;
    out->hw = -1;
    out->leo = -1;
    struct io *io = sim_node_io(node);
    if (io == NULL) return -ENOTCONN;
    char dir[512];
    snprintf(dir, sizeof(dir), "/data/%s-%d", topic, partition);
    struct dir_names d = {.names = calloc(IMAGE_FILES_MAX, IMAGE_NAME_MAX), .count = 0};
    ASSERT(d.names != NULL);
    int rc = io_list_dir(io, dir, on_entry, &d);
    if (rc < 0) {
        free(d.names);
        return rc;
    }
    size_t segs = 0;
    for (size_t i = 0; i < d.count; i++)
        segs += has_suffix(d.names[i], ".log");
    struct li_segment *segments = image_pool_alloc(pool, MAX(segs, 1u) * sizeof(*segments));
    size_t n = 0;
    for (size_t i = 0; i < d.count; i++) {
        if (!has_suffix(d.names[i], ".log")) continue;
        struct li_segment *s = &segments[n++];
        snprintf(s->file_name, sizeof(s->file_name), "%s", d.names[i]);
        int64_t base = -1;
        if (li_parse_segment_name(d.names[i], ".log", &base) < 0) base = -1;
        s->base_offset = base;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, d.names[i]);
        size_t len = 0;
        uint8_t *bytes = read_all(pool, node, path, &len);
        size_t cap = len / 61 + 1; /* The smallest batch is 61 bytes. */
        struct li_batch *batches = image_pool_alloc(pool, cap * sizeof(*batches));
        uint64_t tail = 0;
        int64_t bn = bytes != NULL ? li_parse_segment(bytes, len, batches, cap, &tail) : 0;
        s->batches = batches;
        s->batch_count = bn > 0 ? (size_t)bn : 0;
        s->tail_bytes = tail;
        if (base < 0) continue;
        char stem[IMAGE_NAME_MAX];
        snprintf(stem, sizeof(stem), "%.*s", (int)(strlen(d.names[i]) - 4), d.names[i]);
        snprintf(path, sizeof(path), "%s/%s.index", dir, stem);
        bytes = read_all(pool, node, path, &len);
        if (bytes != NULL) {
            snprintf(s->index_name, sizeof(s->index_name), "%.50s.index", stem);
            size_t icap = len / 8 + 1;
            struct li_index_entry *ix = image_pool_alloc(pool, icap * sizeof(*ix));
            int64_t in = li_parse_offset_index(bytes, len, base, ix, icap);
            s->index = ix;
            s->index_count = in > 0 ? (size_t)in : 0;
        }
        snprintf(path, sizeof(path), "%s/%s.timeindex", dir, stem);
        bytes = read_all(pool, node, path, &len);
        if (bytes != NULL) {
            snprintf(s->time_index_name, sizeof(s->time_index_name), "%.50s.timeindex", stem);
            size_t tcap = len / 12 + 1;
            struct li_time_entry *tx = image_pool_alloc(pool, tcap * sizeof(*tx));
            int64_t tn = li_parse_time_index(bytes, len, base, tx, tcap);
            s->time_index = tx;
            s->time_index_count = tn > 0 ? (size_t)tn : 0;
        }
    }
    free(d.names);
    out->segments = segments;
    out->segment_count = n;
    out->log_start_offset = n > 0 && segments[0].base_offset >= 0 ? segments[0].base_offset : 0;
    /* The broker's log start checkpoint can be ahead of the first segment (DeleteRecords). */
    size_t len = 0;
    uint8_t *text = read_all(pool, node, "/data/log-start-offset-checkpoint", &len);
    int64_t start = 0;
    if (text != NULL &&
        li_parse_offset_checkpoint((const char *)text, len, topic, partition, &start) == 0 &&
        start > out->log_start_offset) {
        out->log_start_offset = start;
    }
    return 0;
}
