/*
 * disk.c — the simulated disk: a sorted table of paths, inodes with a durable image and a
 * current image, a pending-write list per inode, and the crash model of sim/disk.h.
 *
 * Paths are normalized (no leading, trailing or doubled '/'); the root "" always exists and
 * a file or directory can only be created inside an existing directory, as on POSIX.
 * Inodes outlive their names while open (unlink of an open file), as on POSIX.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIU_ENABLE 1
#include <fiu.h>

#include "sim/sim_internal.h"

#define SIM_PATH_MAX           1024
#define SIM_FILE_BYTES_MAX     (1ULL << 34) /* 16 GiB: far beyond any simulated file */
#define SIM_PENDING_WRITES_MAX 10000000

static const char *const fiu_names[SIM_DISK_OP_COUNT] = {
    "sim/disk/open", "sim/disk/read", "sim/disk/write", "sim/disk/sync", "sim/disk/rename",
};

void sim_disk_init(struct sim_disk *disk, struct sim_rng rng) {
    memset(disk, 0, sizeof(*disk));
    disk->rng = rng;
    disk->model.keep_permille = 300;
    disk->model.drop_permille = 300;
    disk->model.tear_keep_permille = 500;
    disk->model.bitflip_per_million = 0;
    /* fiu_init is idempotent; without it fiu_fail never fires. */
    fiu_init(0);
}

static void pending_free_all(struct sim_inode *inode) {
    struct sim_pending *p = inode->pending_head;
    while (p != NULL) {
        struct sim_pending *next = p->next;
        free(p->data);
        free(p);
        p = next;
    }
    inode->pending_head = NULL;
    inode->pending_tail = NULL;
    inode->pending_count = 0;
}

static void inode_free(struct sim_inode *inode) {
    pending_free_all(inode);
    free(inode->data);
    free(inode->durable);
    free(inode);
}

static void inode_release_if_orphan(struct sim_inode *inode) {
    if (!inode->linked && inode->open_count == 0) inode_free(inode);
}

void sim_disk_destroy(struct sim_disk *disk) {
    for (size_t i = 0; i < disk->count; i++) {
        struct sim_dentry *e = &disk->entries[i];
        if (e->inode != NULL) {
            e->inode->linked = false;
            inode_release_if_orphan(e->inode);
        }
        free(e->path);
    }
    free(disk->entries);
    memset(disk, 0, sizeof(*disk));
}

/* --- Faults ----------------------------------------------------------------------------- */

static int disk_fault(struct sim_node *node, enum sim_disk_op op) {
    struct sim_disk *disk = &node->disk;
    if (node->world->disk_fiu && fiu_fail(fiu_names[op])) {
        intptr_t info = (intptr_t)fiu_failinfo();
        int err = info > 0 && info < 4096 ? (int)info : EIO;
        sim_hash_u64(node->world, 0xFA17000000000000ULL | ((uint64_t)op << 16) | (uint64_t)err);
        return -err;
    }
    if (disk->fail_count[op] > 0) {
        disk->fail_count[op]--;
        int err = disk->fail_errno[op];
        sim_hash_u64(node->world, 0xFA17000000000000ULL | ((uint64_t)op << 16) | (uint64_t)err);
        return -err;
    }
    return 0;
}

void sim_world_set_disk_fiu(struct sim_world *world, bool enabled) { world->disk_fiu = enabled; }

void sim_disk_fail(struct sim_node *node, enum sim_disk_op op, int err, uint32_t count) {
    ASSERT((int)op >= 0 && op < SIM_DISK_OP_COUNT);
    ASSERT(count == 0 || err > 0);
    node->disk.fail_count[op] = count;
    node->disk.fail_errno[op] = err;
}

void sim_disk_set_crash_model(struct sim_node *node, const struct sim_crash_model *model) {
    ASSERT(model->keep_permille + model->drop_permille <= 1000);
    ASSERT(model->tear_keep_permille <= 1000);
    ASSERT(model->bitflip_per_million <= 1000000);
    node->disk.model = *model;
}

void sim_disk_set_crash_observer(struct sim_node *node, sim_crash_observer observer, void *arg) {
    node->disk.observer = observer;
    node->disk.observer_arg = arg;
}

/* --- Paths and the entry table ---------------------------------------------------------- */

/* Writes the normalized form of `path` into out; -ENAMETOOLONG or -EINVAL. */
static int normalize(const char *path, char *out) {
    if (path == NULL) return -EINVAL;
    size_t n = 0;
    const char *p = path;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        if (*p == '\0') break;
        const char *start = p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        if (len == 1 && start[0] == '.') continue;
        if (len == 2 && start[0] == '.' && start[1] == '.') return -EINVAL;
        if (n + len + 2 > SIM_PATH_MAX) return -ENAMETOOLONG;
        if (n > 0) out[n++] = '/';
        memcpy(out + n, start, len);
        n += len;
    }
    out[n] = '\0';
    return 0;
}

/* Index of the first entry >= path; *found if equal. */
static size_t entry_search(struct sim_disk *disk, const char *path, bool *found) {
    size_t lo = 0;
    size_t hi = disk->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(disk->entries[mid].path, path) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < disk->count && strcmp(disk->entries[lo].path, path) == 0;
    return lo;
}

static struct sim_dentry *entry_find(struct sim_disk *disk, const char *path) {
    bool found;
    size_t i = entry_search(disk, path, &found);
    return found ? &disk->entries[i] : NULL;
}

static struct sim_dentry *entry_insert(struct sim_disk *disk, const char *path, bool is_dir) {
    bool found;
    size_t i = entry_search(disk, path, &found);
    ASSERT(!found);
    disk->entries = sim_grow(disk->entries, &disk->cap, disk->count, sizeof(*disk->entries));
    memmove(&disk->entries[i + 1], &disk->entries[i], (disk->count - i) * sizeof(*disk->entries));
    disk->count++;
    struct sim_dentry *e = &disk->entries[i];
    size_t len = strlen(path);
    e->path = sim_xmalloc(len + 1);
    memcpy(e->path, path, len + 1);
    e->is_dir = is_dir;
    e->inode = NULL;
    return e;
}

static void entry_remove(struct sim_disk *disk, struct sim_dentry *e) {
    size_t i = (size_t)(e - disk->entries);
    ASSERT(i < disk->count);
    free(e->path);
    memmove(&disk->entries[i], &disk->entries[i + 1], (disk->count - i - 1) * sizeof(*e));
    disk->count--;
}

/* 0 if the parent directory of a normalized path exists, else -ENOENT / -ENOTDIR. */
static int parent_check(struct sim_disk *disk, const char *path) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL) return 0; /* parent is the root */
    char parent[SIM_PATH_MAX];
    size_t len = (size_t)(slash - path);
    memcpy(parent, path, len);
    parent[len] = '\0';
    struct sim_dentry *e = entry_find(disk, parent);
    if (e == NULL) return -ENOENT;
    return e->is_dir ? 0 : -ENOTDIR;
}

/* True if some entry lies under directory `path` ("path/..."). */
static bool dir_has_children(struct sim_disk *disk, const char *path) {
    bool found;
    size_t i = entry_search(disk, path, &found);
    size_t len = strlen(path);
    for (size_t j = i; j < disk->count; j++) {
        const char *p = disk->entries[j].path;
        if (strncmp(p, path, len) != 0) return false;
        if (p[len] == '/') return true;
        /* "path" itself or "pathX..." sorts between; keep scanning while the prefix holds. */
    }
    return false;
}

/* --- Inode images ----------------------------------------------------------------------- */

static void image_reserve(uint8_t **data, uint64_t *cap, uint64_t size) {
    ASSERT(size <= SIM_FILE_BYTES_MAX);
    if (size <= *cap) return;
    uint64_t new_cap = *cap < 4096 ? 4096 : *cap;
    while (new_cap < size)
        new_cap *= 2;
    uint8_t *grown = realloc(*data, (size_t)new_cap);
    if (grown == NULL) abort();
    *data = grown;
    *cap = new_cap;
}

/* Applies a write to an image, zero-filling any gap past the old size. */
static void image_write(uint8_t **data, uint64_t *size, uint64_t *cap, uint64_t offset,
                        const uint8_t *bytes, uint64_t len) {
    uint64_t end = offset + len;
    image_reserve(data, cap, end);
    if (offset > *size) memset(*data + *size, 0, (size_t)(offset - *size));
    memcpy(*data + offset, bytes, (size_t)len);
    if (end > *size) *size = end;
}

static void image_truncate(uint8_t **data, uint64_t *size, uint64_t *cap, uint64_t new_size) {
    image_reserve(data, cap, new_size);
    if (new_size > *size) memset(*data + *size, 0, (size_t)(new_size - *size));
    *size = new_size;
}

static void pending_append(struct sim_inode *inode, bool is_truncate, uint64_t offset,
                           const void *data, uint64_t len) {
    struct sim_pending *p = sim_xmalloc(sizeof(*p));
    p->next = NULL;
    p->is_truncate = is_truncate;
    p->offset = offset;
    p->len = len;
    p->data = NULL;
    if (len > 0) {
        p->data = sim_xmalloc((size_t)len);
        memcpy(p->data, data, (size_t)len);
    }
    ASSERT(inode->pending_count < SIM_PENDING_WRITES_MAX); /* a writer that never syncs */
    if (inode->pending_tail == NULL) {
        inode->pending_head = p;
    } else {
        inode->pending_tail->next = p;
    }
    inode->pending_tail = p;
    inode->pending_count++;
}

static struct sim_inode *inode_new(void) {
    struct sim_inode *inode = sim_xmalloc(sizeof(*inode));
    memset(inode, 0, sizeof(*inode));
    inode->linked = true;
    return inode;
}

/* --- Crash ------------------------------------------------------------------------------ */

/* Applies the crash model to one inode: its new durable (and current) image. */
static void inode_crash(struct sim_node *node, const char *path, struct sim_inode *inode,
                        bool *keep_break_pending) {
    struct sim_disk *disk = &node->disk;
    struct sim_crash_model *m = &disk->model;
    uint64_t dsize = inode->durable_size;
    uint64_t dcap = inode->durable_cap;
    uint8_t *durable = inode->durable;
    for (struct sim_pending *p = inode->pending_head; p != NULL; p = p->next) {
        if (p->is_truncate) {
            bool kept = sim_rng_chance(&disk->rng, 500);
            if (disk->observer != NULL) {
                disk->observer(disk->observer_arg, node, path, true, p->offset, 0, kept);
            }
            if (kept) image_truncate(&durable, &dsize, &dcap, p->offset);
            continue;
        }
        uint64_t fate = sim_rng_below(&disk->rng, 1000);
        enum {
            KEEP,
            DROP,
            TEAR
        } how = fate < m->keep_permille
                    ? KEEP
                    : (fate < m->keep_permille + m->drop_permille ? DROP : TEAR);
        uint64_t off = p->offset;
        uint64_t end = p->offset + p->len;
        while (off < end) {
            uint64_t sector_end = (off / SIM_DISK_SECTOR_BYTES + 1) * SIM_DISK_SECTOR_BYTES;
            uint64_t piece_end = MIN(end, sector_end);
            uint64_t piece_len = piece_end - off;
            bool kept =
                how == KEEP || (how == TEAR && sim_rng_chance(&disk->rng, m->tear_keep_permille));
            if (disk->observer != NULL) {
                disk->observer(disk->observer_arg, node, path, false, off, piece_len, kept);
            }
            if (!kept && *keep_break_pending) {
                /* Deliberately broken model (selftest --break keep-unsynced): keep a piece
                 * we just told the observer was dropped. */
                *keep_break_pending = false;
                kept = true;
            }
            if (kept) {
                const uint8_t *src = p->data + (off - p->offset);
                image_write(&durable, &dsize, &dcap, off, src, piece_len);
                if (m->bitflip_per_million > 0 &&
                    sim_rng_below(&disk->rng, 1000000) < m->bitflip_per_million) {
                    uint64_t bit = sim_rng_below(&disk->rng, piece_len * 8);
                    durable[off + bit / 8] ^= (uint8_t)(1u << (bit % 8));
                }
            }
            off = piece_end;
        }
    }
    pending_free_all(inode);
    inode->durable = durable;
    inode->durable_size = dsize;
    inode->durable_cap = dcap;
    /* The current image becomes a copy of the durable one. */
    free(inode->data);
    inode->data = NULL;
    inode->cap = 0;
    inode->size = 0;
    if (dsize > 0) image_write(&inode->data, &inode->size, &inode->cap, 0, durable, dsize);
}

void sim_disk_crash(struct sim_node *node) {
    struct sim_disk *disk = &node->disk;
    struct sim_world *world = node->world;
    bool keep_break = world->broken == SIM_BREAK_KEEP_UNSYNCED && !world->break_done;
    /* Table order is path order: deterministic. */
    for (size_t i = 0; i < disk->count; i++) {
        struct sim_dentry *e = &disk->entries[i];
        if (e->inode == NULL || e->inode->pending_count == 0) continue;
        inode_crash(node, e->path, e->inode, &keep_break);
    }
    if (world->broken == SIM_BREAK_KEEP_UNSYNCED && !keep_break) world->break_done = true;
}

void sim_disk_close_all(struct sim_node *node) {
    while (node->files != NULL)
        sim_disk_close(node, node->files);
}

/* --- Operations ------------------------------------------------------------------------- */

int sim_disk_open(struct sim_node *node, const char *path, int flags, struct io_file **out) {
    struct sim_disk *disk = &node->disk;
    char norm[SIM_PATH_MAX];
    int rc = normalize(path, norm);
    if (rc < 0) return rc;
    rc = disk_fault(node, SIM_DISK_OPEN);
    if (rc < 0) return rc;
    if (norm[0] == '\0') return -EISDIR;
    struct sim_dentry *e = entry_find(disk, norm);
    if (e != NULL && e->is_dir) return -EISDIR;
    if (e != NULL && (flags & IO_OPEN_CREATE) && (flags & IO_OPEN_EXCL)) return -EEXIST;
    if (e == NULL) {
        if (!(flags & IO_OPEN_CREATE)) return -ENOENT;
        rc = parent_check(disk, norm);
        if (rc < 0) return rc;
        e = entry_insert(disk, norm, false);
        e->inode = inode_new();
    }
    struct sim_inode *inode = e->inode;
    if (flags & IO_OPEN_TRUNC) {
        image_truncate(&inode->data, &inode->size, &inode->cap, 0);
        pending_append(inode, true, 0, NULL, 0);
    }
    struct io_file *file = sim_xmalloc(sizeof(*file));
    file->node = node;
    file->inode = inode;
    file->flags = flags;
    file->prev = NULL;
    file->next = node->files;
    if (node->files != NULL) node->files->prev = file;
    node->files = file;
    inode->open_count++;
    *out = file;
    return 0;
}

static bool file_writable(const struct io_file *file) {
    return (file->flags & (IO_OPEN_WRITE | IO_OPEN_CREATE | IO_OPEN_TRUNC)) != 0;
}

int64_t sim_disk_pread(struct sim_node *node, struct io_file *file, void *buf, size_t len,
                       uint64_t offset) {
    ASSERT(file->node == node);
    int rc = disk_fault(node, SIM_DISK_READ);
    if (rc < 0) return rc;
    struct sim_inode *inode = file->inode;
    if (offset >= inode->size) return 0;
    uint64_t n = MIN((uint64_t)len, inode->size - offset);
    memcpy(buf, inode->data + offset, (size_t)n);
    return (int64_t)n;
}

int64_t sim_disk_pwrite(struct sim_node *node, struct io_file *file, const void *buf, size_t len,
                        uint64_t offset) {
    ASSERT(file->node == node);
    if (!file_writable(file)) return -EBADF;
    if (offset > SIM_FILE_BYTES_MAX || len > SIM_FILE_BYTES_MAX - offset) return -EFBIG;
    int rc = disk_fault(node, SIM_DISK_WRITE);
    if (rc < 0) return rc;
    if (len == 0) return 0;
    struct sim_inode *inode = file->inode;
    image_write(&inode->data, &inode->size, &inode->cap, offset, buf, len);
    pending_append(inode, false, offset, buf, len);
    return (int64_t)len;
}

int sim_disk_sync(struct sim_node *node, struct io_file *file) {
    ASSERT(file->node == node);
    int rc = disk_fault(node, SIM_DISK_SYNC);
    if (rc < 0) return rc;
    /* Replay the pending list onto the durable image: O(unsynced bytes), not O(file). */
    struct sim_inode *inode = file->inode;
    uint64_t dcap = inode->durable_cap;
    for (struct sim_pending *p = inode->pending_head; p != NULL; p = p->next) {
        if (p->is_truncate) {
            image_truncate(&inode->durable, &inode->durable_size, &dcap, p->offset);
        } else {
            image_write(&inode->durable, &inode->durable_size, &dcap, p->offset, p->data, p->len);
        }
    }
    inode->durable_cap = dcap;
    ASSERT(inode->durable_size == inode->size);
    pending_free_all(inode);
    return 0;
}

int sim_disk_truncate(struct sim_node *node, struct io_file *file, uint64_t size) {
    ASSERT(file->node == node);
    if (!file_writable(file)) return -EBADF;
    if (size > SIM_FILE_BYTES_MAX) return -EFBIG;
    int rc = disk_fault(node, SIM_DISK_WRITE);
    if (rc < 0) return rc;
    struct sim_inode *inode = file->inode;
    image_truncate(&inode->data, &inode->size, &inode->cap, size);
    pending_append(inode, true, size, NULL, 0);
    return 0;
}

int64_t sim_disk_size(struct sim_node *node, struct io_file *file) {
    ASSERT(file->node == node);
    return (int64_t)file->inode->size;
}

void sim_disk_close(struct sim_node *node, struct io_file *file) {
    ASSERT(file->node == node);
    struct sim_inode *inode = file->inode;
    ASSERT(inode->open_count > 0);
    inode->open_count--;
    if (file->prev != NULL) {
        file->prev->next = file->next;
    } else {
        ASSERT(node->files == file);
        node->files = file->next;
    }
    if (file->next != NULL) file->next->prev = file->prev;
    file->node = NULL;
    free(file);
    inode_release_if_orphan(inode);
}

static void unlink_entry(struct sim_disk *disk, struct sim_dentry *e) {
    struct sim_inode *inode = e->inode;
    entry_remove(disk, e);
    if (inode != NULL) {
        inode->linked = false;
        inode_release_if_orphan(inode);
    }
}

int sim_disk_rename(struct sim_node *node, const char *from, const char *to) {
    struct sim_disk *disk = &node->disk;
    char src[SIM_PATH_MAX];
    char dst[SIM_PATH_MAX];
    int rc = normalize(from, src);
    if (rc == 0) rc = normalize(to, dst);
    if (rc < 0) return rc;
    rc = disk_fault(node, SIM_DISK_RENAME);
    if (rc < 0) return rc;
    struct sim_dentry *s = entry_find(disk, src);
    if (s == NULL || src[0] == '\0') return -ENOENT;
    if (strcmp(src, dst) == 0) return 0;
    rc = parent_check(disk, dst);
    if (rc < 0) return rc;
    size_t src_len = strlen(src);
    if (strncmp(dst, src, src_len) == 0 && dst[src_len] == '/') return -EINVAL;
    struct sim_dentry *d = entry_find(disk, dst);
    bool src_is_dir = s->is_dir;
    if (d != NULL) {
        if (d->is_dir && !src_is_dir) return -EISDIR;
        if (!d->is_dir && src_is_dir) return -ENOTDIR;
        if (d->is_dir && dir_has_children(disk, dst)) return -ENOTEMPTY;
        unlink_entry(disk, d);
    }
    if (!src_is_dir) {
        s = entry_find(disk, src);
        struct sim_inode *inode = s->inode;
        entry_remove(disk, s);
        struct sim_dentry *n = entry_insert(disk, dst, false);
        n->inode = inode;
        return 0;
    }
    /* A directory: move it and every entry under it. Collect first, then reinsert, so the
     * table stays sorted. Bounded by the table size. */
    size_t moved_cap = disk->count;
    struct sim_dentry *moved = sim_xmalloc(moved_cap * sizeof(*moved));
    size_t moved_count = 0;
    for (size_t i = 0; i < disk->count;) {
        const char *p = disk->entries[i].path;
        if (strncmp(p, src, src_len) == 0 && (p[src_len] == '\0' || p[src_len] == '/')) {
            ASSERT(moved_count < moved_cap);
            moved[moved_count++] = disk->entries[i];
            memmove(&disk->entries[i], &disk->entries[i + 1],
                    (disk->count - i - 1) * sizeof(*disk->entries));
            disk->count--;
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < moved_count; i++) {
        char path[SIM_PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s%s", dst, moved[i].path + src_len);
        ASSERT(n > 0 && (size_t)n < sizeof(path));
        struct sim_dentry *e = entry_insert(disk, path, moved[i].is_dir);
        e->inode = moved[i].inode;
        free(moved[i].path);
    }
    free(moved);
    return 0;
}

int sim_disk_unlink(struct sim_node *node, const char *path) {
    struct sim_disk *disk = &node->disk;
    char norm[SIM_PATH_MAX];
    int rc = normalize(path, norm);
    if (rc < 0) return rc;
    struct sim_dentry *e = entry_find(disk, norm);
    if (e == NULL) return -ENOENT;
    if (e->is_dir) return -EISDIR;
    unlink_entry(disk, e);
    return 0;
}

int sim_disk_mkdir(struct sim_node *node, const char *path) {
    struct sim_disk *disk = &node->disk;
    char norm[SIM_PATH_MAX];
    int rc = normalize(path, norm);
    if (rc < 0) return rc;
    if (norm[0] == '\0' || entry_find(disk, norm) != NULL) return -EEXIST;
    rc = parent_check(disk, norm);
    if (rc < 0) return rc;
    entry_insert(disk, norm, true);
    return 0;
}

int sim_disk_rmdir(struct sim_node *node, const char *path) {
    struct sim_disk *disk = &node->disk;
    char norm[SIM_PATH_MAX];
    int rc = normalize(path, norm);
    if (rc < 0) return rc;
    if (norm[0] == '\0') return -EBUSY;
    struct sim_dentry *e = entry_find(disk, norm);
    if (e == NULL) return -ENOENT;
    if (!e->is_dir) return -ENOTDIR;
    if (dir_has_children(disk, norm)) return -ENOTEMPTY;
    entry_remove(disk, e);
    return 0;
}

int sim_disk_list_dir(struct sim_node *node, const char *path, io_dir_entry_cb cb, void *arg) {
    struct sim_disk *disk = &node->disk;
    char norm[SIM_PATH_MAX];
    int rc = normalize(path, norm);
    if (rc < 0) return rc;
    if (norm[0] != '\0') {
        struct sim_dentry *e = entry_find(disk, norm);
        if (e == NULL) return -ENOENT;
        if (!e->is_dir) return -ENOTDIR;
    }
    /* Snapshot the names first: the callback may create or delete entries. Children of a
     * directory appear in the sorted table in name order, interleaved with deeper
     * entries, which we skip. */
    size_t len = strlen(norm);
    size_t cap = 16;
    size_t count = 0;
    char **names = sim_xmalloc(cap * sizeof(*names));
    bool *dirs = sim_xmalloc(cap * sizeof(*dirs));
    for (size_t i = 0; i < disk->count; i++) {
        const char *p = disk->entries[i].path;
        const char *name;
        if (len == 0) {
            name = p;
        } else {
            if (strncmp(p, norm, len) != 0 || p[len] != '/') continue;
            name = p + len + 1;
        }
        if (name[0] == '\0' || strchr(name, '/') != NULL) continue;
        if (count == cap) {
            cap *= 2;
            names = realloc(names, cap * sizeof(*names));
            dirs = realloc(dirs, cap * sizeof(*dirs));
            if (names == NULL || dirs == NULL) abort();
        }
        size_t name_len = strlen(name);
        names[count] = sim_xmalloc(name_len + 1);
        memcpy(names[count], name, name_len + 1);
        dirs[count] = disk->entries[i].is_dir;
        count++;
    }
    for (size_t i = 0; i < count; i++) {
        cb(arg, names[i], dirs[i]);
        free(names[i]);
    }
    free(names);
    free(dirs);
    return 0;
}

int sim_disk_exists(struct sim_node *node, const char *path, bool *is_dir) {
    char norm[SIM_PATH_MAX];
    int rc = normalize(path, norm);
    if (rc < 0) return rc;
    if (norm[0] == '\0') {
        if (is_dir != NULL) *is_dir = true;
        return 0;
    }
    struct sim_dentry *e = entry_find(&node->disk, norm);
    if (e == NULL) return -ENOENT;
    if (is_dir != NULL) *is_dir = e->is_dir;
    return 0;
}

/* --- Inspection ------------------------------------------------------------------------- */

static struct sim_inode *inspect(struct sim_node *node, const char *path, int *err) {
    char norm[SIM_PATH_MAX];
    *err = normalize(path, norm);
    if (*err < 0) return NULL;
    struct sim_dentry *e = entry_find(&node->disk, norm);
    if (e == NULL) {
        *err = -ENOENT;
        return NULL;
    }
    if (e->is_dir) {
        *err = -EISDIR;
        return NULL;
    }
    return e->inode;
}

int64_t sim_disk_read_file(struct sim_node *node, const char *path, void *buf, size_t cap,
                           uint64_t offset) {
    int err;
    struct sim_inode *inode = inspect(node, path, &err);
    if (inode == NULL) return err;
    if (offset >= inode->size) return 0;
    uint64_t n = MIN((uint64_t)cap, inode->size - offset);
    memcpy(buf, inode->data + offset, (size_t)n);
    return (int64_t)n;
}

int64_t sim_disk_file_size(struct sim_node *node, const char *path) {
    int err;
    struct sim_inode *inode = inspect(node, path, &err);
    return inode == NULL ? err : (int64_t)inode->size;
}

int64_t sim_disk_pending_count(struct sim_node *node, const char *path) {
    int err;
    struct sim_inode *inode = inspect(node, path, &err);
    return inode == NULL ? err : (int64_t)inode->pending_count;
}
