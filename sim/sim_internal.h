/*
 * sim_internal.h — the structures shared by the files of sim/ (world, disk, net, io_sim).
 * Nothing outside sim/ includes this; tests and scenarios use sim/sim.h.
 *
 * Memory: the world and its own bookkeeping (events, streams, files, disk images) use the
 * C allocator — this is the simulator, not system code. Node code allocates through
 * io_alloc, which the node tracks in a list so that a crash can free it all.
 */
#ifndef TRIAL_SIM_INTERNAL_H
#define TRIAL_SIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "io/io.h"
#include "sim/sim.h"

struct sim_event;
typedef void (*sim_event_fn)(struct sim_world *world, struct sim_event *event);

/* Kinds, folded into the trace hash with every scheduling decision. */
enum sim_event_kind {
    SIM_EV_WORLD = 1,
    SIM_EV_START = 2,
    SIM_EV_TIMER = 3,
    SIM_EV_NET_SYN = 4,
    SIM_EV_NET_CONNECTED = 5,
    SIM_EV_NET_ACCEPT = 6,
    SIM_EV_NET_DELIVER = 7,
    SIM_EV_NET_READ = 8,
    SIM_EV_NET_DRAIN = 9,
    SIM_EV_NET_TIMEOUT = 10,
};

/* One scheduled event. `node` owns it (NULL: the world): a paused node's events wait, a
 * crashed node's events are removed. */
struct sim_event {
    uint64_t time_ns;
    uint64_t seq;
    struct sim_node *node;
    sim_event_fn fn;
    enum sim_event_kind kind;
    size_t heap_index; /* SIZE_MAX when not in the heap (running or deferred) */
    void *p;           /* kind-specific */
    void *q;
    uint64_t u;
    uint64_t deadline_ns; /* timers: the node-monotonic deadline */
};

#define SIM_HEAP_INDEX_NONE SIZE_MAX

struct sim_event *sim_event_new(struct sim_world *world, struct sim_node *node,
                                enum sim_event_kind kind, uint64_t time_ns, sim_event_fn fn);
/* Removes a pending (heap or deferred) event and frees it. No-op on NULL. */
void sim_event_cancel(struct sim_world *world, struct sim_event *event);

/* Allocation header for node memory: a doubly linked list per node. */
struct sim_alloc {
    struct sim_alloc *prev;
    struct sim_alloc *next;
    size_t size;
    uint64_t magic;
};

/* --- Disk ---------------------------------------------------------------------------- */

struct sim_pending {
    struct sim_pending *next;
    bool is_truncate;
    uint64_t offset; /* write offset, or new size for a truncate */
    uint64_t len;
    uint8_t *data;
};

struct sim_inode {
    uint8_t *data; /* current image */
    uint64_t size;
    uint64_t cap;
    uint8_t *durable; /* durable image */
    uint64_t durable_size;
    uint64_t durable_cap;
    struct sim_pending *pending_head;
    struct sim_pending *pending_tail;
    uint32_t pending_count;
    uint32_t open_count; /* io_file handles */
    bool linked;         /* has a name in the tree */
};

struct sim_dentry {
    char *path; /* normalized: no leading or trailing '/', "" is the root */
    bool is_dir;
    struct sim_inode *inode; /* files only */
};

struct sim_disk {
    struct sim_dentry *entries; /* sorted by strcmp(path) */
    size_t count;
    size_t cap;
    uint32_t fail_count[SIM_DISK_OP_COUNT];
    int fail_errno[SIM_DISK_OP_COUNT];
    struct sim_crash_model model;
    sim_crash_observer observer;
    void *observer_arg;
    struct sim_rng rng; /* crash choices of this disk */
};

struct io_file {
    struct sim_node *node;
    struct sim_inode *inode;
    int flags;
    struct io_file *prev;
    struct io_file *next;
};

void sim_disk_init(struct sim_disk *disk, struct sim_rng rng);
void sim_disk_destroy(struct sim_disk *disk);
/* Resolves pending writes by the crash model (called with the node's files gone). */
void sim_disk_crash(struct sim_node *node);
void sim_disk_close_all(struct sim_node *node);

int sim_disk_open(struct sim_node *node, const char *path, int flags, struct io_file **out);
int64_t sim_disk_pread(struct sim_node *node, struct io_file *file, void *buf, size_t len,
                       uint64_t offset);
int64_t sim_disk_pwrite(struct sim_node *node, struct io_file *file, const void *buf, size_t len,
                        uint64_t offset);
int sim_disk_sync(struct sim_node *node, struct io_file *file);
int sim_disk_truncate(struct sim_node *node, struct io_file *file, uint64_t size);
int64_t sim_disk_size(struct sim_node *node, struct io_file *file);
void sim_disk_close(struct sim_node *node, struct io_file *file);
int sim_disk_rename(struct sim_node *node, const char *from, const char *to);
int sim_disk_unlink(struct sim_node *node, const char *path);
int sim_disk_mkdir(struct sim_node *node, const char *path);
int sim_disk_rmdir(struct sim_node *node, const char *path);
int sim_disk_list_dir(struct sim_node *node, const char *path, io_dir_entry_cb cb, void *arg);
int sim_disk_exists(struct sim_node *node, const char *path, bool *is_dir);

/* --- Network ------------------------------------------------------------------------- */

enum sim_segment_kind { SIM_SEG_DATA = 0, SIM_SEG_FIN = 1, SIM_SEG_RST = 2 };

struct sim_segment {
    struct sim_segment *next;
    uint64_t arrive_ns;
    enum sim_segment_kind kind;
    uint64_t msg; /* net_send/net_recv trace id; 0 = not traced. */
    size_t len;
    uint8_t data[];
};

struct sim_conn;

/* One direction of a connection: from side `from` to side 1 - from. */
struct sim_pipe {
    struct sim_conn *conn;
    int from;
    struct sim_segment *head;
    struct sim_segment *tail;
    size_t inflight_bytes;
    uint64_t link_free_ns;
    uint64_t last_arrive_ns;
    struct sim_event *deliver_event;
    struct sim_event *timeout_event;
    bool stalled;
    uint64_t stalled_since_ns;
};

struct sim_conn {
    uint64_t id;
    struct sim_node *nodes[2]; /* 0: client, 1: server */
    struct io_stream *ends[2]; /* NULL once that end is closed or its node crashed */
    struct sim_pipe pipes[2];  /* pipes[i]: from side i */
    uint16_t ports[2];
    struct sim_conn *prev;
    struct sim_conn *next;
};

struct io_stream {
    struct sim_conn *conn;
    int side;
    struct sim_node *node;
    io_read_cb read_cb;
    io_drain_cb drain_cb;
    void *arg;
    bool started;
    bool paused;
    bool handed_out; /* the node has been given the handle (accept/connect callback) */
    bool closed;     /* closed by the node while inside a callback: free afterwards */
    uint32_t in_callback;
    bool end_pending; /* an end status waits behind rbuf */
    bool end_delivered;
    int end_status;
    uint8_t *rbuf;
    size_t rlen;
    size_t rcap;
    uint8_t *sbuf;
    size_t slen;
    size_t scap;
    struct sim_event *read_event;
    struct sim_event *drain_event;
    struct sim_event *connected_event;
    struct io_listener *accept_listener; /* queued on this listener, not yet accepted */
    struct io_stream *accept_next;
    char peer[SIM_NODE_NAME_MAX + 8];
    struct io_stream *prev; /* node's stream list */
    struct io_stream *next;
};

struct io_listener {
    struct sim_node *node;
    uint16_t port;
    io_accept_cb cb;
    void *arg;
    struct io_stream *queue_head;
    struct io_stream *queue_tail;
    struct sim_event *accept_event;
    struct io_listener *prev;
    struct io_listener *next;
};

struct sim_connect {
    struct sim_node *node;
    struct sim_node *target;
    uint16_t port;
    io_connect_cb cb;
    void *arg;
    uint64_t started_ns;
    struct sim_event *event;
    struct sim_connect *prev;
    struct sim_connect *next;
};

struct sim_link {
    struct sim_link_config config;
    bool blocked;
    uint64_t spike_until_ns;
    uint64_t spike_extra_ns;
};

int sim_net_listen(struct sim_node *node, const char *host, uint16_t port, io_accept_cb cb,
                   void *arg, struct io_listener **out);
void sim_net_listener_close(struct sim_node *node, struct io_listener *listener);
int sim_net_connect(struct sim_node *node, const char *host, uint16_t port, io_connect_cb cb,
                    void *arg);
void sim_net_stream_start(struct io_stream *stream, io_read_cb read_cb, io_drain_cb drain_cb,
                          void *arg);
void sim_net_stream_pause(struct io_stream *stream, bool paused);
int sim_net_stream_write(struct io_stream *stream, const void *data, size_t len);
void sim_net_stream_close(struct io_stream *stream);
/* Frees every stream, listener and pending connect of a crashing node; peers see RST. */
void sim_net_node_crash(struct sim_node *node);
void sim_net_destroy(struct sim_world *world);

/* --- Node and world ------------------------------------------------------------------ */

struct sim_node {
    struct sim_world *world;
    uint32_t index;
    char name[SIM_NODE_NAME_MAX];
    void (*start)(struct io *io, void *arg);
    void *start_arg;
    bool up;
    bool paused;
    uint32_t incarnation;
    struct io io;

    struct sim_alloc allocs; /* sentinel of the allocation list */
    size_t live_allocs;
    size_t live_bytes;

    /* Clock: mono(t) = clock_base_mono_ns + (t - clock_base_world_ns) * (1e6 + drift) / 1e6. */
    uint64_t clock_base_world_ns;
    uint64_t clock_base_mono_ns;
    int32_t drift_ppm;
    int64_t wall_offset_ms;

    /* Live timers sorted by id (ids only grow, so appends keep the order). */
    struct sim_event **timers;
    size_t timer_count;
    size_t timer_cap;
    uint64_t next_timer_id;

    /* Events that came due while paused, in due order. */
    struct sim_event **deferred;
    size_t deferred_count;
    size_t deferred_cap;

    struct sim_rng rng_entropy;
    struct sim_rng rng_buggify;

    struct sim_disk disk;
    struct io_file *files; /* open handles */

    struct io_stream *streams;
    struct io_listener *listeners;
    struct sim_connect *connects;
    uint16_t next_ephemeral_port;
};

struct sim_world {
    uint64_t seed;
    uint64_t now_ns;
    uint64_t next_seq;
    uint64_t trace_hash;
    uint64_t events_run;
    uint64_t events_this_instant; /* livelock guard */
    struct sim_event *spare_events; /* Freed events for reuse, linked through ->p. */
    size_t spare_count;             /* At most SIM_SPARE_EVENTS_MAX. */
    struct sim_event **heap;
    size_t heap_count;
    size_t heap_cap;
    struct sim_rng rngs[SIM_STREAM_COUNT];
    struct sim_node *nodes[SIM_NODES_MAX];
    size_t node_count;
    struct sim_node *current_node; /* whose callback is running, or NULL */
    bool verbose;
    bool buggify;
    enum sim_break broken;
    char mutant[64]; /* The enabled mutant (io_mutant), "" = none. */
    bool net_trace;  /* Trace every data segment (net_send / net_recv). */
    bool disk_fiu;   /* Disk operations consult the libfiu points (sim/disk.h). */
    uint64_t next_msg_id;
    bool break_done; /* the deliberate break fires once */
    sim_trace_hook trace_hook;
    void *trace_hook_arg;
    sim_log_hook log_hook;
    void *log_hook_arg;

    /* World events by id, for sim_world_cancel: small, linear. */
    struct sim_event **world_events;
    size_t world_event_count;
    size_t world_event_cap;

    struct sim_link links[SIM_NODES_MAX][SIM_NODES_MAX];
    uint64_t net_timeout_ns;
    uint64_t next_conn_id;
    struct sim_conn *conns_head;
    struct sim_conn *conns_tail;
};

/* Folds bytes into the trace hash (FNV-1a 64). */
void sim_hash_bytes(struct sim_world *world, const void *data, size_t len);
void sim_hash_u64(struct sim_world *world, uint64_t value);

uint64_t sim_node_mono_ns(struct sim_node *node);
int64_t sim_node_wall_ms(struct sim_node *node);
io_timer_id sim_node_timer_start(struct sim_node *node, uint64_t deadline_ns, io_timer_cb cb,
                                 void *arg);
void sim_node_timer_cancel(struct sim_node *node, io_timer_id id);
void *sim_node_alloc(struct sim_node *node, size_t size);
void sim_node_free(struct sim_node *node, void *ptr, size_t size);
void sim_node_trace(struct sim_node *node, const char *event, const struct io_trace_field *fields,
                    size_t count);
void sim_node_log(struct sim_node *node, enum io_log_level level, const char *message);
bool sim_node_buggify(struct sim_node *node, const char *site);
bool sim_node_mutant(struct sim_node *node, const char *name);

/* The node must be up and must not be touched from another node's callback. */
void sim_node_check_caller(struct sim_node *node);

extern const struct io_vtable sim_io_vtable;

/* Growable array helper: ensures room for one more element. */
void *sim_grow(void *array, size_t *cap, size_t count, size_t elem_size);
void *sim_xmalloc(size_t size);

#endif /* TRIAL_SIM_INTERNAL_H */
