/*
 * scenario.h — the scenario language of scenarios/NAME.scn: a parsed scenario, its parser with
 * line-numbered errors, and a printer that writes it back out.
 *
 * A scenario is one small text file, one statement per line (grammar: docs/SCENARIOS.md):
 * the cluster shape and broker configs, topics, workloads (producers, consumers), a fault
 * schedule on the virtual clock, the checkers to run, the expected outcome and the seed.
 * `trial run` executes it; `trial swarm` draws one from a seed and, when it fails, prints it
 * with scn_print() so the failing run is a standalone file. The round trip is exact:
 * scn_parse(scn_print(s)) equals s field for field (scn_equal), which the tests prove.
 *
 * Everything lives in fixed-size arrays inside `struct scenario` (bounds below), so a
 * scenario is one plain value: no allocation, no ownership, copyable with `=`. The parser
 * refuses input beyond the bounds with a clear message rather than truncating silently.
 * This module is a pure function of its input: no clock, no randomness, no globals.
 */
#ifndef TRIAL_SCENARIO_H
#define TRIAL_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCN_NAME_MAX          64   /* Names: scenario, topic, workload, group, key (with NUL). */
#define SCN_VALUE_MAX         128  /* Config values (with NUL). */
#define SCN_NODE_MAX          16   /* Node names: n1..n99, q1..q9, workload names (with NUL). */
#define SCN_BROKERS_MAX       16   /* Brokers n1..n16. */
#define SCN_CONTROLLERS_MAX   9    /* Dedicated controllers q1..q9. */
#define SCN_CONFIGS_MAX       64   /* Broker config settings. */
#define SCN_TOPICS_MAX        16   /* Topics. */
#define SCN_TOPIC_CONFIGS_MAX 8    /* Config settings per topic. */
#define SCN_PARTITIONS_MAX    1024 /* Partitions per topic. */
#define SCN_WORKLOADS_MAX     32   /* Producers plus consumers. */
#define SCN_ASSIGN_MAX        32   /* Partitions in one consumer's manual assignment. */
#define SCN_FAULTS_MAX        256  /* Fault schedule entries. */
#define SCN_CHECKS_MAX        32   /* Checkers to run. */
#define SCN_CATCHES_MAX       8    /* `catches MUTANT INVARIANT` lines. */
#define SCN_LINE_MAX          512  /* Bytes in one line, without the newline. */
#define SCN_LINES_MAX         4096 /* Lines in one file. */

/* A `key=value` setting. */
struct scn_kv {
    char key[SCN_NAME_MAX];
    char value[SCN_VALUE_MAX];
};

/* `broker NODE|all key=value...`: one setting for one broker or for all ("all"). */
struct scn_broker_config {
    char node[SCN_NODE_MAX]; /* "n1".."nN" or "all". */
    struct scn_kv kv;
};

/* `topic NAME partitions P replication R [key=value...]`. */
struct scn_topic {
    char name[SCN_NAME_MAX];
    int32_t partitions;  /* 1..SCN_PARTITIONS_MAX. */
    int32_t replication; /* 1..brokers. */
    struct scn_kv configs[SCN_TOPIC_CONFIGS_MAX];
    size_t config_count;
};

enum scn_workload_kind { SCN_PRODUCER = 0, SCN_CONSUMER = 1 };
enum scn_isolation { SCN_READ_UNCOMMITTED = 0, SCN_READ_COMMITTED = 1 };

/* `producer NAME topic T ...` or `consumer NAME topic T ...`. Fields of the other kind are
 * zero. Times are virtual nanoseconds from the start of the run. */
struct scn_workload {
    enum scn_workload_kind kind;
    char name[SCN_NODE_MAX]; /* Also its node name in link faults (`slow c1 ...`). */
    char topic[SCN_NAME_MAX];
    uint64_t start_ns; /* When it begins; 0 = at once. */
    uint64_t stop_ns;  /* When it stops; 0 = runs to the end. */
    /* Producer. */
    int32_t acks;         /* -1 (all), 0 or 1. */
    uint32_t rate_per_s;  /* Records per virtual second; >= 1. */
    uint64_t count;       /* Records in total; 0 = unbounded (until stop or the end). */
    uint32_t keys;        /* Distinct keys; 0 = null keys (sticky partitioner). */
    uint32_t value_bytes; /* Payload size; values are unique regardless. */
    bool idempotent;      /* enable.idempotence. */
    char transactional_id[SCN_NAME_MAX]; /* "" = not transactional. */
    /* Consumer. */
    char group[SCN_NAME_MAX];       /* "" = manual assignment (assign[] below). */
    int32_t assign[SCN_ASSIGN_MAX]; /* Partitions, when group is "". */
    size_t assign_count;
    enum scn_isolation isolation;
};

/* Fault kinds of the schedule (`at TIME KIND ...`). */
enum scn_fault_kind {
    SCN_FAULT_CRASH = 0,  /* crash NODE [CRASHMODE] */
    SCN_FAULT_RESTART,    /* restart NODE */
    SCN_FAULT_PAUSE,      /* pause NODE */
    SCN_FAULT_RESUME,     /* resume NODE */
    SCN_FAULT_PARTITION,  /* partition A B (two-way) | partition A -> B (one-way) */
    SCN_FAULT_ISOLATE,    /* isolate NODE */
    SCN_FAULT_HEAL,       /* heal all | heal A | heal A B */
    SCN_FAULT_SLOW,       /* slow A [B] [latency DUR] [bandwidth BYTES] */
    SCN_FAULT_DISK,       /* disk NODE OP ERR [times N] */
    SCN_FAULT_DISK_CLEAR, /* disk NODE clear */
    SCN_FAULT_CLOCK_SKEW, /* clock NODE skew [+-]DUR */
    SCN_FAULT_CLOCK_JUMP, /* clock NODE jump [+-]DUR */
    SCN_FAULT_KIND_COUNT
};

/* What a crash does to writes that were not fsynced: a choice of sim/disk.h's crash model
 * (struct sim_crash_model, weights per mille) for this one crash. */
enum scn_crash_mode {
    SCN_CRASH_SEEDED = 0, /* The node's model (default keep 300 / drop 300 / tear 400). */
    SCN_CRASH_KEEP,       /* keep 1000: like a process kill, the page cache survives. */
    SCN_CRASH_LOSE,       /* drop 1000: power loss, every unsynced write is gone. */
    SCN_CRASH_TORN,       /* tear 1000: each 512-byte piece of every unsynced write is kept
                           * or dropped by seeded choice (torn tails, holes). */
};

/* Disk faults map onto sim_disk_fail(): write covers pwrite and truncate, fsync is
 * SIM_DISK_SYNC, any is all five; disk_times 0 ("until cleared") is the largest count. */
enum scn_disk_op {
    SCN_DISK_ANY = 0,
    SCN_DISK_OPEN,
    SCN_DISK_READ,
    SCN_DISK_WRITE,
    SCN_DISK_FSYNC,
    SCN_DISK_RENAME,
};

enum scn_disk_error { SCN_DISK_EIO = 0, SCN_DISK_ENOSPC = 1 };

struct scn_fault {
    uint64_t at_ns; /* Virtual time from the start of the run. */
    enum scn_fault_kind kind;
    char a[SCN_NODE_MAX]; /* The node, or the first end of a link; "all" for heal all. */
    char b[SCN_NODE_MAX]; /* The other end of a link; "" = every link of `a`. */
    bool one_way;         /* PARTITION: only a -> b is cut. */
    enum scn_crash_mode crash_mode;
    uint64_t latency_ns;    /* SLOW: added one-way latency. */
    uint64_t bandwidth_bps; /* SLOW: bytes per second; 0 = unchanged. */
    enum scn_disk_op disk_op;
    enum scn_disk_error disk_error;
    uint32_t disk_times; /* DISK: fail the next N calls; 0 = every call until cleared. */
    int64_t clock_ns;    /* CLOCK_SKEW: offset from true time; CLOCK_JUMP: step. Whole
                          * milliseconds (the sim's clocks take ms). */
};

enum scn_expect_kind { SCN_EXPECT_PASS = 0, SCN_EXPECT_VIOLATION = 1 };

struct scenario {
    char name[SCN_NAME_MAX];
    uint64_t seed; /* Default seed; `trial run --seed N` overrides. */
    bool has_seed;
    uint64_t duration_ns; /* Virtual run time; faults must fall inside it. */
    int32_t brokers;      /* n1..nN, >= 1. */
    int32_t controllers;  /* Dedicated controllers q1..qM; 0 = brokers run the quorum. */
    struct scn_broker_config configs[SCN_CONFIGS_MAX];
    size_t config_count;
    struct scn_topic topics[SCN_TOPICS_MAX];
    size_t topic_count;
    struct scn_workload workloads[SCN_WORKLOADS_MAX];
    size_t workload_count;
    struct scn_fault faults[SCN_FAULTS_MAX]; /* In non-decreasing at_ns order. */
    size_t fault_count;
    char checks[SCN_CHECKS_MAX][SCN_NODE_MAX]; /* Invariant names, e.g. "I-REPL-1". */
    size_t check_count;
    enum scn_expect_kind expect;
    char expect_invariant[SCN_NODE_MAX]; /* For SCN_EXPECT_VIOLATION. */
    /* `catches MUTANT INVARIANT`: built with the named mutant (a deliberate protocol bug,
     * TRIAL_MUTANT=...), this scenario must report a violation of INVARIANT. `trial mutants`
     * runs each mutant against the scenarios that claim to catch it. */
    struct scn_catch {
        char mutant[SCN_NAME_MAX];
        char invariant[SCN_NODE_MAX];
    } catches[SCN_CATCHES_MAX];
    size_t catch_count;
};

/*
 * Parses `len` bytes of scenario text. On success fills *out and returns 0. On error
 * returns -EINVAL (bad input) or -E2BIG (a bound exceeded) and writes one message of the
 * form "FILE:LINE: what is wrong (what was expected)" into err (always NUL-terminated).
 * `filename` is used only in messages. *out is unspecified after an error.
 */
int scn_parse(const char *text, size_t len, const char *filename, struct scenario *out, char *err,
              size_t err_len);

/* Reads and parses a file. -ENOENT etc. if it cannot be read (message in err). */
int scn_parse_file(const char *path, struct scenario *out, char *err, size_t err_len);

/*
 * Writes the scenario in canonical form into buf. Returns the length it needs (excluding
 * the NUL), like snprintf: if that is >= buf_len the output was truncated.
 */
size_t scn_print(const struct scenario *s, char *buf, size_t buf_len);

/* True when every field that the language can express is equal. */
bool scn_equal(const struct scenario *a, const struct scenario *b);

/* Fills *s with the defaults the parser starts from (1 broker, 30 s, seed 0, ...). */
void scn_defaults(struct scenario *s);

/* True when `name` is an invariant name listed in docs/INVARIANTS.md ("I-REPL-1", ...). */
bool scn_invariant_known(const char *name);

/*
 * The value of broker config `key` for broker `node` ("n2"): the last `broker n2 key=...`
 * line if any, else the last `broker all key=...` line, else NULL (use the default).
 */
const char *scn_broker_config(const struct scenario *s, const char *node, const char *key);

/* The topic named `name`, or NULL. */
const struct scn_topic *scn_topic_find(const struct scenario *s, const char *name);

/* Stable spellings, for reports and the printer. */
const char *scn_fault_kind_name(enum scn_fault_kind kind);
const char *scn_crash_mode_name(enum scn_crash_mode mode);
const char *scn_disk_op_name(enum scn_disk_op op);
const char *scn_disk_error_name(enum scn_disk_error error);

/* One fault as the line the printer would write, without "at TIME " (for reports). */
size_t scn_fault_describe(const struct scn_fault *f, char *buf, size_t buf_len);
/* A duration in the largest unit that represents it exactly: "1500ms", "2s", "0s". */
size_t scn_duration_format(uint64_t ns, char *buf, size_t buf_len);

#endif /* TRIAL_SCENARIO_H */
