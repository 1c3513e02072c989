/*
 * scenario.c — parser and printer of the scenario language (grammar: docs/SCENARIOS.md).
 *
 * The parser works one line at a time: strip the comment, split on blanks into at most
 * SCN_TOKENS_MAX tokens, dispatch on the first token. Every error names the file and the
 * line and says what was expected, because the reader is usually a person who just edited
 * the file. Cross-references (a workload's topic, a fault's nodes, the expected invariant
 * being checked) are validated after the last line, still citing the line that made them.
 *
 * The printer writes the canonical form: statements in a fixed order, every producer and
 * consumer option spelled out, durations in the largest exact unit. Canonical output is what
 * makes scn_parse(scn_print(s)) == s hold for every scenario the parser can produce.
 */
#include "sim/scenario/scenario.h"

#include "base/base.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCN_TOKENS_MAX     64
#define SCN_FILE_BYTES_MAX (1u << 20) /* A scenario file is small; refuse anything bigger. */

/* Parser state: the output, the error buffer and where we are. */
struct scn_parser {
    struct scenario *s;
    const char *filename;
    char *err;
    size_t err_len;
    int line;
    /* Line numbers of statements, for errors found after the last line. */
    int workload_lines[SCN_WORKLOADS_MAX];
    int fault_lines[SCN_FAULTS_MAX];
    int config_lines[SCN_CONFIGS_MAX];
    int topic_lines[SCN_TOPICS_MAX];
    int expect_line;
    int catch_lines[SCN_CATCHES_MAX];
    int duration_line;
    int cluster_line;
    bool seen_scenario, seen_seed, seen_duration, seen_cluster, seen_expect;
};

__attribute__((format(printf, 3, 4))) static int scn_fail(struct scn_parser *p, int line,
                                                          const char *fmt, ...) {
    ASSERT(p->err != NULL && p->err_len > 0);
    int n = snprintf(p->err, p->err_len, "%s:%d: ", p->filename, line);
    if (n < 0) n = 0;
    if ((size_t)n < p->err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->err_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* --- Names and spellings ---------------------------------------------------------------- */

static const char *const scn_fault_names[SCN_FAULT_KIND_COUNT] = {
    [SCN_FAULT_CRASH] = "crash",         [SCN_FAULT_RESTART] = "restart",
    [SCN_FAULT_PAUSE] = "pause",         [SCN_FAULT_RESUME] = "resume",
    [SCN_FAULT_PARTITION] = "partition", [SCN_FAULT_ISOLATE] = "isolate",
    [SCN_FAULT_HEAL] = "heal",           [SCN_FAULT_SLOW] = "slow",
    [SCN_FAULT_DISK] = "disk",           [SCN_FAULT_DISK_CLEAR] = "disk",
    [SCN_FAULT_CLOCK_SKEW] = "clock",    [SCN_FAULT_CLOCK_JUMP] = "clock",
};

const char *scn_fault_kind_name(enum scn_fault_kind kind) {
    ASSERT(kind < SCN_FAULT_KIND_COUNT);
    switch (kind) {
    case SCN_FAULT_DISK_CLEAR:
        return "disk-clear";
    case SCN_FAULT_CLOCK_SKEW:
        return "clock-skew";
    case SCN_FAULT_CLOCK_JUMP:
        return "clock-jump";
    default:
        return scn_fault_names[kind];
    }
}

static const char *const scn_crash_modes[] = {"seeded", "keep-unsynced", "lose-unsynced", "torn"};
static const char *const scn_disk_ops[] = {"any", "open", "read", "write", "fsync", "rename"};
static const char *const scn_disk_errors[] = {"eio", "enospc"};

const char *scn_crash_mode_name(enum scn_crash_mode mode) {
    ASSERT((size_t)mode < ARRAY_LEN(scn_crash_modes));
    return scn_crash_modes[mode];
}
const char *scn_disk_op_name(enum scn_disk_op op) {
    ASSERT((size_t)op < ARRAY_LEN(scn_disk_ops));
    return scn_disk_ops[op];
}
const char *scn_disk_error_name(enum scn_disk_error error) {
    ASSERT((size_t)error < ARRAY_LEN(scn_disk_errors));
    return scn_disk_errors[error];
}

/* Invariant families of docs/INVARIANTS.md and how many each has. */
static const struct {
    const char *family;
    int count;
} scn_invariant_families[] = {
    {"REPL", 11}, {"IDEM", 5}, {"TXN", 9}, {"GRP", 6}, {"CTRL", 6}, {"LOG", 6}, {"LIVE", 3},
};

bool scn_invariant_known(const char *name) {
    ASSERT(name != NULL);
    if (strncmp(name, "I-", 2) != 0) return false;
    const char *family = name + 2;
    const char *dash = strchr(family, '-');
    if (dash == NULL || dash[1] == '\0' || strlen(dash + 1) > 2) return false;
    for (const char *c = dash + 1; *c != '\0'; c++) {
        if (!isdigit((unsigned char)*c)) return false;
    }
    int number = atoi(dash + 1);
    for (size_t i = 0; i < ARRAY_LEN(scn_invariant_families); i++) {
        size_t flen = strlen(scn_invariant_families[i].family);
        if ((size_t)(dash - family) == flen &&
            strncmp(family, scn_invariant_families[i].family, flen) == 0) {
            return number >= 1 && number <= scn_invariant_families[i].count;
        }
    }
    return false;
}

/* --- Scalars ------------------------------------------------------------------------------ */

static bool scn_parse_u64(const char *tok, uint64_t *out) {
    if (tok[0] == '\0' || !isdigit((unsigned char)tok[0])) return false;
    uint64_t v = 0;
    for (const char *c = tok; *c != '\0'; c++) {
        if (!isdigit((unsigned char)*c)) return false;
        unsigned digit = (unsigned)(*c - '0');
        if (v > (UINT64_MAX - digit) / 10) return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

/* "150ms", "2s", "1m", "500us", "10ns"; a bare number is refused so units are never guessed. */
static bool scn_parse_duration(const char *tok, uint64_t *out) {
    size_t n = 0;
    while (isdigit((unsigned char)tok[n]))
        n++;
    if (n == 0 || n > 19) return false;
    char digits[20];
    memcpy(digits, tok, n);
    digits[n] = '\0';
    uint64_t v;
    if (!scn_parse_u64(digits, &v)) return false;
    const char *unit = tok + n;
    uint64_t scale;
    if (strcmp(unit, "ns") == 0)
        scale = 1;
    else if (strcmp(unit, "us") == 0)
        scale = NS_PER_US;
    else if (strcmp(unit, "ms") == 0)
        scale = NS_PER_MS;
    else if (strcmp(unit, "s") == 0)
        scale = NS_PER_S;
    else if (strcmp(unit, "m") == 0)
        scale = 60 * NS_PER_S;
    else
        return false;
    if (v > UINT64_MAX / scale) return false;
    *out = v * scale;
    return true;
}

static bool scn_parse_signed_duration(const char *tok, int64_t *out) {
    bool negative = tok[0] == '-';
    if (tok[0] == '+' || tok[0] == '-') tok++;
    uint64_t v;
    if (!scn_parse_duration(tok, &v) || v > (uint64_t)INT64_MAX) return false;
    *out = negative ? -(int64_t)v : (int64_t)v;
    return true;
}

size_t scn_duration_format(uint64_t ns, char *buf, size_t buf_len) {
    static const struct {
        uint64_t scale;
        const char *unit;
    } units[] = {{NS_PER_S, "s"}, {NS_PER_MS, "ms"}, {NS_PER_US, "us"}, {1, "ns"}};
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (ns % units[i].scale == 0) {
            int n = snprintf(buf, buf_len, "%" PRIu64 "%s", ns / units[i].scale, units[i].unit);
            return n < 0 ? 0 : (size_t)n;
        }
    }
    UNREACHABLE();
}

/* Names: letters, digits, '.', '_', '-' (Kafka's legal topic characters), bounded. */
static bool scn_name_ok(const char *tok, size_t max) {
    size_t n = strlen(tok);
    if (n == 0 || n >= max) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tok[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') return false;
    }
    return true;
}

/* "n3" -> 3 for prefix 'n'; 0 if not of that form. */
static int scn_node_number(const char *name, char prefix) {
    if (name[0] != prefix || name[1] == '\0' || name[1] == '0') return 0;
    uint64_t v;
    if (!scn_parse_u64(name + 1, &v) || v > 99) return 0;
    return (int)v;
}

/* --- Statements -------------------------------------------------------------------------- */

static int scn_parse_kv(struct scn_parser *p, const char *tok, struct scn_kv *kv) {
    const char *eq = strchr(tok, '=');
    if (eq == NULL || eq == tok || eq[1] == '\0') {
        return scn_fail(p, p->line, "expected key=value, got '%s'", tok);
    }
    size_t klen = (size_t)(eq - tok);
    if (klen >= sizeof(kv->key)) return scn_fail(p, p->line, "config key too long in '%s'", tok);
    if (strlen(eq + 1) >= sizeof(kv->value)) {
        return scn_fail(p, p->line, "config value too long in '%s' (max %zu bytes)", tok,
                        sizeof(kv->value) - 1);
    }
    memset(kv, 0, sizeof(*kv));
    memcpy(kv->key, tok, klen);
    strcpy(kv->value, eq + 1);
    if (!scn_name_ok(kv->key, sizeof(kv->key))) {
        return scn_fail(p, p->line, "bad config key '%s'", kv->key);
    }
    return 0;
}

static int scn_copy_name(struct scn_parser *p, char *dst, size_t dst_len, const char *tok,
                         const char *what) {
    if (!scn_name_ok(tok, dst_len)) {
        return scn_fail(p, p->line,
                        "bad %s '%s' (letters, digits, '.', '_', '-'; at most %zu chars)", what,
                        tok, dst_len - 1);
    }
    snprintf(dst, dst_len, "%s", tok);
    return 0;
}

static int scn_need(struct scn_parser *p, int i, int count, const char *what) {
    if (i >= count) return scn_fail(p, p->line, "missing %s", what);
    return 0;
}

static int scn_stmt_cluster(struct scn_parser *p, char **tok, int count) {
    struct scenario *s = p->s;
    if (p->seen_cluster) return scn_fail(p, p->line, "second 'cluster' line");
    p->seen_cluster = true;
    p->cluster_line = p->line;
    s->controllers = 0;
    s->brokers = 0;
    for (int i = 1; i < count; i += 2) {
        uint64_t v;
        if (i + 1 >= count || !scn_parse_u64(tok[i + 1], &v)) {
            return scn_fail(p, p->line, "expected 'cluster brokers N [controllers M]'");
        }
        if (strcmp(tok[i], "brokers") == 0) {
            if (v < 1 || v > SCN_BROKERS_MAX) {
                return scn_fail(p, p->line, "brokers must be 1..%d", SCN_BROKERS_MAX);
            }
            s->brokers = (int32_t)v;
        } else if (strcmp(tok[i], "controllers") == 0) {
            if (v > SCN_CONTROLLERS_MAX) {
                return scn_fail(p, p->line, "controllers must be 0..%d", SCN_CONTROLLERS_MAX);
            }
            s->controllers = (int32_t)v;
        } else {
            return scn_fail(p, p->line, "unknown cluster option '%s' (brokers, controllers)",
                            tok[i]);
        }
    }
    if (s->brokers == 0) return scn_fail(p, p->line, "expected 'cluster brokers N'");
    return 0;
}

static int scn_stmt_broker(struct scn_parser *p, char **tok, int count) {
    struct scenario *s = p->s;
    int rc = scn_need(p, 2, count, "'broker NODE|all key=value...'");
    if (rc != 0) return rc;
    if (strcmp(tok[1], "all") != 0 && scn_node_number(tok[1], 'n') == 0) {
        return scn_fail(p, p->line, "expected a broker (n1, n2, ...) or 'all', got '%s'", tok[1]);
    }
    for (int i = 2; i < count; i++) {
        if (s->config_count == SCN_CONFIGS_MAX) {
            scn_fail(p, p->line, "more than %d broker settings", SCN_CONFIGS_MAX);
            return -E2BIG;
        }
        struct scn_broker_config *c = &s->configs[s->config_count];
        memset(c, 0, sizeof(*c));
        snprintf(c->node, sizeof(c->node), "%s", tok[1]);
        rc = scn_parse_kv(p, tok[i], &c->kv);
        if (rc != 0) return rc;
        p->config_lines[s->config_count++] = p->line;
    }
    return 0;
}

static int scn_stmt_topic(struct scn_parser *p, char **tok, int count) {
    struct scenario *s = p->s;
    if (s->topic_count == SCN_TOPICS_MAX) {
        scn_fail(p, p->line, "more than %d topics", SCN_TOPICS_MAX);
        return -E2BIG;
    }
    int rc = scn_need(p, 1, count, "topic name ('topic NAME partitions P replication R')");
    if (rc != 0) return rc;
    struct scn_topic *t = &s->topics[s->topic_count];
    memset(t, 0, sizeof(*t));
    t->partitions = 1;
    t->replication = 1;
    rc = scn_copy_name(p, t->name, sizeof(t->name), tok[1], "topic name");
    if (rc != 0) return rc;
    for (size_t i = 0; i < s->topic_count; i++) {
        if (strcmp(s->topics[i].name, t->name) == 0) {
            return scn_fail(p, p->line, "topic '%s' already declared on line %d", t->name,
                            p->topic_lines[i]);
        }
    }
    for (int i = 2; i < count; i++) {
        uint64_t v;
        if (strcmp(tok[i], "partitions") == 0 || strcmp(tok[i], "replication") == 0) {
            if (i + 1 >= count || !scn_parse_u64(tok[i + 1], &v) || v < 1 ||
                v > SCN_PARTITIONS_MAX) {
                return scn_fail(p, p->line, "'%s' needs a number 1..%d", tok[i],
                                SCN_PARTITIONS_MAX);
            }
            if (tok[i][0] == 'p')
                t->partitions = (int32_t)v;
            else
                t->replication = (int32_t)v;
            i++;
        } else if (strchr(tok[i], '=') != NULL) {
            if (t->config_count == SCN_TOPIC_CONFIGS_MAX) {
                scn_fail(p, p->line, "more than %d settings for one topic", SCN_TOPIC_CONFIGS_MAX);
                return -E2BIG;
            }
            rc = scn_parse_kv(p, tok[i], &t->configs[t->config_count]);
            if (rc != 0) return rc;
            t->config_count++;
        } else {
            return scn_fail(p, p->line,
                            "unknown topic option '%s' (partitions N, replication N, key=value)",
                            tok[i]);
        }
    }
    p->topic_lines[s->topic_count++] = p->line;
    return 0;
}

static bool scn_reserved_node_name(const char *name) {
    return strcmp(name, "all") == 0 || scn_node_number(name, 'n') != 0 ||
           scn_node_number(name, 'q') != 0;
}

static int scn_stmt_workload(struct scn_parser *p, char **tok, int count,
                             enum scn_workload_kind kind) {
    struct scenario *s = p->s;
    if (s->workload_count == SCN_WORKLOADS_MAX) {
        scn_fail(p, p->line, "more than %d producers and consumers", SCN_WORKLOADS_MAX);
        return -E2BIG;
    }
    int rc = scn_need(p, 1, count, "workload name");
    if (rc != 0) return rc;
    struct scn_workload *w = &s->workloads[s->workload_count];
    memset(w, 0, sizeof(*w));
    w->kind = kind;
    if (kind == SCN_PRODUCER) {
        w->acks = -1;
        w->rate_per_s = 100;
        w->value_bytes = 16;
    }
    rc = scn_copy_name(p, w->name, sizeof(w->name), tok[1], "workload name");
    if (rc != 0) return rc;
    if (scn_reserved_node_name(w->name)) {
        return scn_fail(p, p->line, "'%s' is a node name (n<N>, q<N>, all); pick another", w->name);
    }
    for (size_t i = 0; i < s->workload_count; i++) {
        if (strcmp(s->workloads[i].name, w->name) == 0) {
            return scn_fail(p, p->line, "workload '%s' already declared on line %d", w->name,
                            p->workload_lines[i]);
        }
    }
    bool has_assign = false;
    for (int i = 2; i < count; i++) {
        const char *o = tok[i];
        const char *arg = i + 1 < count ? tok[i + 1] : NULL;
        uint64_t v;
        /* Flags first: they take no argument. */
        if (kind == SCN_PRODUCER && strcmp(o, "idempotent") == 0) {
            w->idempotent = true;
            continue;
        }
        if (arg == NULL) return scn_fail(p, p->line, "option '%s' needs a value", o);
        i++;
        if (strcmp(o, "topic") == 0) {
            rc = scn_copy_name(p, w->topic, sizeof(w->topic), arg, "topic name");
        } else if (strcmp(o, "start") == 0 || strcmp(o, "stop") == 0) {
            if (!scn_parse_duration(arg, &v)) {
                return scn_fail(p, p->line, "'%s' needs a duration like 5s or 250ms, got '%s'", o,
                                arg);
            }
            if (o[2] == 'a')
                w->start_ns = v;
            else
                w->stop_ns = v;
        } else if (kind == SCN_PRODUCER && strcmp(o, "acks") == 0) {
            if (strcmp(arg, "all") == 0 || strcmp(arg, "-1") == 0)
                w->acks = -1;
            else if (strcmp(arg, "0") == 0)
                w->acks = 0;
            else if (strcmp(arg, "1") == 0)
                w->acks = 1;
            else
                return scn_fail(p, p->line, "acks must be all, -1, 0 or 1, got '%s'", arg);
        } else if (kind == SCN_PRODUCER && strcmp(o, "rate") == 0) {
            char digits[24];
            snprintf(digits, sizeof(digits), "%s", arg);
            size_t n = strlen(digits);
            if (n > 2 && strcmp(digits + n - 2, "/s") == 0) digits[n - 2] = '\0';
            if (!scn_parse_u64(digits, &v) || v < 1 || v > 1000000) {
                return scn_fail(p, p->line, "rate must be 1..1000000 records/s, got '%s'", arg);
            }
            w->rate_per_s = (uint32_t)v;
        } else if (kind == SCN_PRODUCER && strcmp(o, "count") == 0) {
            if (!scn_parse_u64(arg, &v)) return scn_fail(p, p->line, "bad count '%s'", arg);
            w->count = v;
        } else if (kind == SCN_PRODUCER && strcmp(o, "keys") == 0) {
            if (strcmp(arg, "none") == 0)
                v = 0;
            else if (!scn_parse_u64(arg, &v) || v < 1 || v > 1000000) {
                return scn_fail(p, p->line, "keys must be 'none' or 1..1000000, got '%s'", arg);
            }
            w->keys = (uint32_t)v;
        } else if (kind == SCN_PRODUCER && strcmp(o, "value-bytes") == 0) {
            if (!scn_parse_u64(arg, &v) || v < 8 || v > (1u << 20)) {
                return scn_fail(p, p->line, "value-bytes must be 8..1048576, got '%s'", arg);
            }
            w->value_bytes = (uint32_t)v;
        } else if (kind == SCN_PRODUCER && strcmp(o, "transactional") == 0) {
            rc = scn_copy_name(p, w->transactional_id, sizeof(w->transactional_id), arg,
                               "transactional id");
        } else if (kind == SCN_CONSUMER && strcmp(o, "group") == 0) {
            rc = scn_copy_name(p, w->group, sizeof(w->group), arg, "group id");
        } else if (kind == SCN_CONSUMER && strcmp(o, "assign") == 0) {
            /* A comma-separated partition list: "0,1,2". */
            has_assign = true;
            const char *c = arg;
            while (*c != '\0') {
                if (w->assign_count == SCN_ASSIGN_MAX) {
                    scn_fail(p, p->line, "more than %d assigned partitions", SCN_ASSIGN_MAX);
                    return -E2BIG;
                }
                char part[16];
                size_t n = strcspn(c, ",");
                if (n == 0 || n >= sizeof(part)) {
                    return scn_fail(p, p->line, "assign needs partitions like 0,1,2, got '%s'",
                                    arg);
                }
                memcpy(part, c, n);
                part[n] = '\0';
                if (!scn_parse_u64(part, &v) || v >= SCN_PARTITIONS_MAX) {
                    return scn_fail(p, p->line, "bad partition '%s' in assign", part);
                }
                w->assign[w->assign_count++] = (int32_t)v;
                c += n;
                if (*c == ',') {
                    c++;
                    if (*c == '\0') {
                        return scn_fail(p, p->line, "trailing comma in assign '%s'", arg);
                    }
                }
            }
        } else if (kind == SCN_CONSUMER && strcmp(o, "isolation") == 0) {
            if (strcmp(arg, "read_committed") == 0)
                w->isolation = SCN_READ_COMMITTED;
            else if (strcmp(arg, "read_uncommitted") == 0)
                w->isolation = SCN_READ_UNCOMMITTED;
            else {
                return scn_fail(p, p->line,
                                "isolation must be read_committed or read_uncommitted, got '%s'",
                                arg);
            }
        } else {
            return scn_fail(p, p->line, "unknown %s option '%s' (%s)",
                            kind == SCN_PRODUCER ? "producer" : "consumer", o,
                            kind == SCN_PRODUCER ? "topic, acks, rate, count, keys, value-bytes, "
                                                   "idempotent, transactional, start, stop"
                                                 : "topic, group, assign, isolation, start, "
                                                   "stop");
        }
        if (rc != 0) return rc;
    }
    if (w->topic[0] == '\0')
        return scn_fail(p, p->line, "%s '%s' needs 'topic NAME'",
                        kind == SCN_PRODUCER ? "producer" : "consumer", w->name);
    if (kind == SCN_CONSUMER && (w->group[0] != '\0') == has_assign) {
        return scn_fail(p, p->line,
                        "consumer '%s' needs exactly one of 'group G' or 'assign "
                        "P,P,...'",
                        w->name);
    }
    if (w->stop_ns != 0 && w->stop_ns <= w->start_ns) {
        return scn_fail(p, p->line, "stop must be after start");
    }
    if (w->transactional_id[0] != '\0' && !w->idempotent) {
        return scn_fail(p, p->line, "a transactional producer must also be 'idempotent'");
    }
    p->workload_lines[s->workload_count++] = p->line;
    return 0;
}

static int scn_parse_crash_mode(struct scn_parser *p, const char *tok, enum scn_crash_mode *out) {
    for (size_t i = 0; i < ARRAY_LEN(scn_crash_modes); i++) {
        if (strcmp(tok, scn_crash_modes[i]) == 0) {
            *out = (enum scn_crash_mode)i;
            return 0;
        }
    }
    return scn_fail(p, p->line,
                    "unknown crash mode '%s' (seeded, keep-unsynced, lose-unsynced, torn)", tok);
}

static int scn_stmt_at(struct scn_parser *p, char **tok, int count) {
    struct scenario *s = p->s;
    if (s->fault_count == SCN_FAULTS_MAX) {
        scn_fail(p, p->line, "more than %d faults", SCN_FAULTS_MAX);
        return -E2BIG;
    }
    if (count < 3) return scn_fail(p, p->line, "expected 'at TIME FAULT ...'");
    struct scn_fault *f = &s->faults[s->fault_count];
    memset(f, 0, sizeof(*f));
    if (!scn_parse_duration(tok[1], &f->at_ns)) {
        return scn_fail(p, p->line, "bad time '%s' (a duration like 5s, 1500ms)", tok[1]);
    }
    if (s->fault_count > 0 && f->at_ns < s->faults[s->fault_count - 1].at_ns) {
        return scn_fail(p, p->line, "faults must be in time order: %s is before line %d's time",
                        tok[1], p->fault_lines[s->fault_count - 1]);
    }
    const char *kind = tok[2];
    char **arg = tok + 3;
    int n = count - 3;
    int rc = 0;
    if (strcmp(kind, "crash") == 0) {
        f->kind = SCN_FAULT_CRASH;
        if (n < 1 || n > 2) return scn_fail(p, p->line, "expected 'crash NODE [MODE]'");
        if (n == 2) rc = scn_parse_crash_mode(p, arg[1], &f->crash_mode);
        n = 1;
    } else if (strcmp(kind, "restart") == 0 || strcmp(kind, "pause") == 0 ||
               strcmp(kind, "resume") == 0 || strcmp(kind, "isolate") == 0) {
        if (strcmp(kind, "restart") == 0)
            f->kind = SCN_FAULT_RESTART;
        else if (strcmp(kind, "pause") == 0)
            f->kind = SCN_FAULT_PAUSE;
        else if (strcmp(kind, "resume") == 0)
            f->kind = SCN_FAULT_RESUME;
        else
            f->kind = SCN_FAULT_ISOLATE;
        if (n != 1) return scn_fail(p, p->line, "expected '%s NODE'", kind);
    } else if (strcmp(kind, "partition") == 0) {
        f->kind = SCN_FAULT_PARTITION;
        if (n == 3 && strcmp(arg[1], "->") == 0) {
            f->one_way = true;
            arg[1] = arg[2];
            n = 2;
        } else if (n != 2) {
            return scn_fail(p, p->line, "expected 'partition A B' or 'partition A -> B'");
        }
    } else if (strcmp(kind, "heal") == 0) {
        f->kind = SCN_FAULT_HEAL;
        if (n < 1 || n > 2)
            return scn_fail(p, p->line, "expected 'heal all', 'heal A' or 'heal A B'");
        if (strcmp(arg[0], "all") == 0 && n != 1) {
            return scn_fail(p, p->line, "'heal all' takes no node");
        }
    } else if (strcmp(kind, "slow") == 0) {
        f->kind = SCN_FAULT_SLOW;
        if (n < 1) return scn_fail(p, p->line, "expected 'slow A [B] latency DUR'");
        int i = 1;
        if (n >= 2 && strcmp(arg[1], "latency") != 0 && strcmp(arg[1], "bandwidth") != 0) i = 2;
        int nodes = i;
        bool any = false;
        for (; i < n; i += 2) {
            if (i + 1 >= n) return scn_fail(p, p->line, "'%s' needs a value", arg[i]);
            uint64_t v;
            if (strcmp(arg[i], "latency") == 0) {
                if (!scn_parse_duration(arg[i + 1], &v) || v == 0) {
                    return scn_fail(p, p->line, "latency needs a duration > 0, got '%s'",
                                    arg[i + 1]);
                }
                f->latency_ns = v;
            } else if (strcmp(arg[i], "bandwidth") == 0) {
                if (!scn_parse_u64(arg[i + 1], &v) || v == 0) {
                    return scn_fail(p, p->line, "bandwidth needs bytes per second > 0, got '%s'",
                                    arg[i + 1]);
                }
                f->bandwidth_bps = v;
            } else {
                return scn_fail(p, p->line, "unknown slow option '%s' (latency, bandwidth)",
                                arg[i]);
            }
            any = true;
        }
        if (!any) return scn_fail(p, p->line, "'slow' needs 'latency DUR' or 'bandwidth N'");
        n = nodes;
    } else if (strcmp(kind, "disk") == 0) {
        if (n == 2 && strcmp(arg[1], "clear") == 0) {
            f->kind = SCN_FAULT_DISK_CLEAR;
            n = 1;
        } else {
            f->kind = SCN_FAULT_DISK;
            if (n != 3 && n != 5) {
                return scn_fail(p, p->line,
                                "expected 'disk NODE OP ERROR [times N]' or "
                                "'disk NODE clear'");
            }
            bool found = false;
            for (size_t i = 0; i < ARRAY_LEN(scn_disk_ops); i++) {
                if (strcmp(arg[1], scn_disk_ops[i]) == 0) {
                    f->disk_op = (enum scn_disk_op)i;
                    found = true;
                }
            }
            if (!found) {
                return scn_fail(p, p->line,
                                "unknown disk op '%s' (any, open, read, write, fsync, rename)",
                                arg[1]);
            }
            if (strcmp(arg[2], "eio") == 0)
                f->disk_error = SCN_DISK_EIO;
            else if (strcmp(arg[2], "enospc") == 0)
                f->disk_error = SCN_DISK_ENOSPC;
            else
                return scn_fail(p, p->line, "unknown disk error '%s' (eio, enospc)", arg[2]);
            if (n == 5) {
                uint64_t v;
                if (strcmp(arg[3], "times") != 0 || !scn_parse_u64(arg[4], &v) || v < 1 ||
                    v > 1000000) {
                    return scn_fail(p, p->line, "expected 'times N' with N in 1..1000000");
                }
                f->disk_times = (uint32_t)v;
            }
            n = 1;
        }
    } else if (strcmp(kind, "clock") == 0) {
        if (n != 3 || (strcmp(arg[1], "skew") != 0 && strcmp(arg[1], "jump") != 0)) {
            return scn_fail(p, p->line, "expected 'clock NODE skew|jump [+-]DUR'");
        }
        f->kind = arg[1][0] == 's' ? SCN_FAULT_CLOCK_SKEW : SCN_FAULT_CLOCK_JUMP;
        if (!scn_parse_signed_duration(arg[2], &f->clock_ns)) {
            return scn_fail(p, p->line, "bad clock amount '%s' (like +200ms or -5s)", arg[2]);
        }
        /* The simulated clocks take skews and jumps in whole milliseconds (sim.h). */
        if (f->clock_ns % (int64_t)NS_PER_MS != 0) {
            return scn_fail(p, p->line, "clock amount '%s' is not whole milliseconds", arg[2]);
        }
        n = 1;
    } else {
        return scn_fail(p, p->line,
                        "unknown fault '%s' (crash, restart, pause, resume, partition, isolate, "
                        "heal, slow, disk, clock)",
                        kind);
    }
    if (rc != 0) return rc;
    ASSERT(n >= 1 && n <= 2);
    if (strlen(arg[0]) >= sizeof(f->a) || (n == 2 && strlen(arg[1]) >= sizeof(f->b))) {
        return scn_fail(p, p->line, "node name too long");
    }
    snprintf(f->a, sizeof(f->a), "%s", arg[0]);
    if (n == 2) snprintf(f->b, sizeof(f->b), "%s", arg[1]);
    if (n == 2 && strcmp(f->a, f->b) == 0) {
        return scn_fail(p, p->line, "a link needs two different nodes, got '%s' twice", f->a);
    }
    p->fault_lines[s->fault_count++] = p->line;
    return 0;
}

static int scn_stmt_check(struct scn_parser *p, char **tok, int count) {
    struct scenario *s = p->s;
    if (count < 2) return scn_fail(p, p->line, "expected 'check I-XXX-N ...'");
    for (int i = 1; i < count; i++) {
        if (!scn_invariant_known(tok[i])) {
            return scn_fail(p, p->line,
                            "unknown invariant '%s' (names from docs/INVARIANTS.md, "
                            "like I-REPL-1)",
                            tok[i]);
        }
        for (size_t j = 0; j < s->check_count; j++) {
            if (strcmp(s->checks[j], tok[i]) == 0) {
                return scn_fail(p, p->line, "invariant '%s' listed twice", tok[i]);
            }
        }
        if (s->check_count == SCN_CHECKS_MAX) {
            scn_fail(p, p->line, "more than %d checks", SCN_CHECKS_MAX);
            return -E2BIG;
        }
        snprintf(s->checks[s->check_count++], SCN_NODE_MAX, "%s", tok[i]);
    }
    return 0;
}

static int scn_stmt_expect(struct scn_parser *p, char **tok, int count) {
    struct scenario *s = p->s;
    if (p->seen_expect) return scn_fail(p, p->line, "second 'expect' line");
    p->seen_expect = true;
    p->expect_line = p->line;
    if (count == 2 && strcmp(tok[1], "pass") == 0) {
        s->expect = SCN_EXPECT_PASS;
        return 0;
    }
    if (count == 3 && strcmp(tok[1], "violation") == 0) {
        if (!scn_invariant_known(tok[2])) {
            return scn_fail(p, p->line, "unknown invariant '%s' in expect", tok[2]);
        }
        s->expect = SCN_EXPECT_VIOLATION;
        snprintf(s->expect_invariant, sizeof(s->expect_invariant), "%s", tok[2]);
        return 0;
    }
    return scn_fail(p, p->line, "expected 'expect pass' or 'expect violation I-XXX-N'");
}

static int scn_stmt_catches(struct scn_parser *p, char **tok, int count) {
    struct scenario *s = p->s;
    if (count != 3) return scn_fail(p, p->line, "expected 'catches MUTANT I-XXX-N'");
    if (s->catch_count == SCN_CATCHES_MAX) {
        scn_fail(p, p->line, "more than %d 'catches' lines", SCN_CATCHES_MAX);
        return -E2BIG;
    }
    struct scn_catch *c = &s->catches[s->catch_count];
    memset(c, 0, sizeof(*c));
    int rc = scn_copy_name(p, c->mutant, sizeof(c->mutant), tok[1], "mutant name");
    if (rc != 0) return rc;
    if (!scn_invariant_known(tok[2])) {
        return scn_fail(p, p->line, "unknown invariant '%s' in catches", tok[2]);
    }
    snprintf(c->invariant, sizeof(c->invariant), "%s", tok[2]);
    for (size_t i = 0; i < s->catch_count; i++) {
        if (strcmp(s->catches[i].mutant, c->mutant) == 0) {
            return scn_fail(p, p->line, "mutant '%s' already listed on line %d", c->mutant,
                            p->catch_lines[i]);
        }
    }
    p->catch_lines[s->catch_count++] = p->line;
    return 0;
}

static int scn_statement(struct scn_parser *p, char **tok, int count) {
    struct scenario *s = p->s;
    const char *k = tok[0];
    uint64_t v;
    if (strcmp(k, "scenario") == 0) {
        if (p->seen_scenario) return scn_fail(p, p->line, "second 'scenario' line");
        p->seen_scenario = true;
        if (count != 2) return scn_fail(p, p->line, "expected 'scenario NAME'");
        return scn_copy_name(p, s->name, sizeof(s->name), tok[1], "scenario name");
    }
    if (strcmp(k, "seed") == 0) {
        if (p->seen_seed) return scn_fail(p, p->line, "second 'seed' line");
        p->seen_seed = true;
        if (count != 2 || !scn_parse_u64(tok[1], &v)) {
            return scn_fail(p, p->line, "expected 'seed N' with N a 64-bit unsigned number");
        }
        s->seed = v;
        s->has_seed = true;
        return 0;
    }
    if (strcmp(k, "duration") == 0) {
        if (p->seen_duration) return scn_fail(p, p->line, "second 'duration' line");
        p->seen_duration = true;
        p->duration_line = p->line;
        if (count != 2 || !scn_parse_duration(tok[1], &v) || v == 0) {
            return scn_fail(p, p->line, "expected 'duration DUR' like 30s");
        }
        s->duration_ns = v;
        return 0;
    }
    if (strcmp(k, "cluster") == 0) return scn_stmt_cluster(p, tok, count);
    if (strcmp(k, "broker") == 0) return scn_stmt_broker(p, tok, count);
    if (strcmp(k, "topic") == 0) return scn_stmt_topic(p, tok, count);
    if (strcmp(k, "producer") == 0) return scn_stmt_workload(p, tok, count, SCN_PRODUCER);
    if (strcmp(k, "consumer") == 0) return scn_stmt_workload(p, tok, count, SCN_CONSUMER);
    if (strcmp(k, "at") == 0) return scn_stmt_at(p, tok, count);
    if (strcmp(k, "check") == 0) return scn_stmt_check(p, tok, count);
    if (strcmp(k, "expect") == 0) return scn_stmt_expect(p, tok, count);
    if (strcmp(k, "catches") == 0) return scn_stmt_catches(p, tok, count);
    return scn_fail(p, p->line,
                    "unknown statement '%s' (scenario, seed, duration, cluster, broker, topic, "
                    "producer, consumer, at, check, expect, catches)",
                    k);
}

/* True when `name` names a node of this scenario that a fault may target. */
static bool scn_node_exists(const struct scenario *s, const char *name, bool allow_workloads) {
    int nb = scn_node_number(name, 'n');
    if (nb != 0) return nb <= s->brokers;
    int nq = scn_node_number(name, 'q');
    if (nq != 0) return nq <= s->controllers;
    if (!allow_workloads) return false;
    for (size_t i = 0; i < s->workload_count; i++) {
        if (strcmp(s->workloads[i].name, name) == 0) return true;
    }
    return false;
}

const struct scn_topic *scn_topic_find(const struct scenario *s, const char *name) {
    ASSERT(s != NULL && name != NULL);
    for (size_t i = 0; i < s->topic_count; i++) {
        if (strcmp(s->topics[i].name, name) == 0) return &s->topics[i];
    }
    return NULL;
}

const char *scn_broker_config(const struct scenario *s, const char *node, const char *key) {
    ASSERT(s != NULL && node != NULL && key != NULL);
    const char *for_all = NULL, *for_node = NULL;
    for (size_t i = 0; i < s->config_count; i++) {
        const struct scn_broker_config *c = &s->configs[i];
        if (strcmp(c->kv.key, key) != 0) continue;
        if (strcmp(c->node, "all") == 0)
            for_all = c->kv.value;
        else if (strcmp(c->node, node) == 0)
            for_node = c->kv.value;
    }
    return for_node != NULL ? for_node : for_all;
}

/* Cross-references, checked once everything is read. */
static int scn_validate(struct scn_parser *p) {
    struct scenario *s = p->s;
    if (!p->seen_scenario) return scn_fail(p, 1, "missing 'scenario NAME' line");
    for (size_t i = 0; i < s->config_count; i++) {
        const char *node = s->configs[i].node;
        if (strcmp(node, "all") != 0 && !scn_node_exists(s, node, false)) {
            return scn_fail(p, p->config_lines[i], "no broker '%s' (the cluster has n1..n%d)", node,
                            s->brokers);
        }
    }
    for (size_t i = 0; i < s->topic_count; i++) {
        if (s->topics[i].replication > s->brokers) {
            return scn_fail(p, p->topic_lines[i], "replication %d exceeds the %d broker(s)",
                            s->topics[i].replication, s->brokers);
        }
    }
    for (size_t i = 0; i < s->workload_count; i++) {
        const struct scn_workload *w = &s->workloads[i];
        const struct scn_topic *t = scn_topic_find(s, w->topic);
        if (t == NULL) {
            return scn_fail(p, p->workload_lines[i],
                            "unknown topic '%s' (declare it with "
                            "'topic %s ...')",
                            w->topic, w->topic);
        }
        for (size_t j = 0; j < w->assign_count; j++) {
            if (w->assign[j] >= t->partitions) {
                return scn_fail(p, p->workload_lines[i], "topic '%s' has no partition %d", t->name,
                                (int)w->assign[j]);
            }
        }
        if (w->start_ns >= s->duration_ns) {
            return scn_fail(p, p->workload_lines[i], "'%s' starts after the run ends", w->name);
        }
    }
    for (size_t i = 0; i < s->fault_count; i++) {
        const struct scn_fault *f = &s->faults[i];
        bool links = f->kind == SCN_FAULT_PARTITION || f->kind == SCN_FAULT_ISOLATE ||
                     f->kind == SCN_FAULT_HEAL || f->kind == SCN_FAULT_SLOW;
        if (f->at_ns > s->duration_ns) {
            char d[32];
            scn_duration_format(s->duration_ns, d, sizeof(d));
            return scn_fail(p, p->fault_lines[i], "fault after the end of the run (duration %s)",
                            d);
        }
        if (!(f->kind == SCN_FAULT_HEAL && strcmp(f->a, "all") == 0) &&
            !scn_node_exists(s, f->a, links)) {
            return scn_fail(p, p->fault_lines[i], "no node '%s' (brokers n1..n%d%s)", f->a,
                            s->brokers, links ? ", controllers q<N>, workload names" : "");
        }
        if (f->b[0] != '\0' && !scn_node_exists(s, f->b, true)) {
            return scn_fail(p, p->fault_lines[i], "no node '%s'", f->b);
        }
    }
    for (size_t c = 0; c < s->catch_count; c++) {
        bool checked = false;
        for (size_t i = 0; i < s->check_count; i++) {
            checked = checked || strcmp(s->checks[i], s->catches[c].invariant) == 0;
        }
        if (!checked) {
            return scn_fail(p, p->catch_lines[c], "catches %s by %s but no 'check' line runs it",
                            s->catches[c].mutant, s->catches[c].invariant);
        }
    }
    if (s->expect == SCN_EXPECT_VIOLATION) {
        bool checked = false;
        for (size_t i = 0; i < s->check_count; i++) {
            checked = checked || strcmp(s->checks[i], s->expect_invariant) == 0;
        }
        if (!checked) {
            return scn_fail(p, p->expect_line,
                            "expects a violation of %s but no 'check' line "
                            "runs it",
                            s->expect_invariant);
        }
    }
    return 0;
}

void scn_defaults(struct scenario *s) {
    ASSERT(s != NULL);
    memset(s, 0, sizeof(*s));
    s->duration_ns = 30 * NS_PER_S;
    s->brokers = 1;
    s->expect = SCN_EXPECT_PASS;
}

int scn_parse(const char *text, size_t len, const char *filename, struct scenario *out, char *err,
              size_t err_len) {
    ASSERT(text != NULL || len == 0);
    ASSERT(out != NULL && err != NULL && err_len > 0);
    struct scn_parser p;
    memset(&p, 0, sizeof(p));
    p.s = out;
    p.filename = filename != NULL ? filename : "<scenario>";
    p.err = err;
    p.err_len = err_len;
    err[0] = '\0';
    scn_defaults(out);

    size_t pos = 0;
    int line = 0;
    while (pos < len) {
        line++;
        p.line = line;
        if (line > SCN_LINES_MAX) {
            scn_fail(&p, line, "more than %d lines", SCN_LINES_MAX);
            return -E2BIG;
        }
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        if (n > 0 && text[pos + n - 1] == '\r') n--;
        if (n > SCN_LINE_MAX) {
            scn_fail(&p, line, "line longer than %d bytes", SCN_LINE_MAX);
            return -E2BIG;
        }
        char buf[SCN_LINE_MAX + 1];
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        pos = end < len ? end + 1 : end;
        if (memchr(buf, '\0', n) != NULL) return scn_fail(&p, line, "NUL byte in line");
        char *hash = strchr(buf, '#');
        if (hash != NULL) *hash = '\0';
        char *tok[SCN_TOKENS_MAX];
        int count = 0;
        char *save = NULL;
        for (char *t = strtok_r(buf, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
            if (count == SCN_TOKENS_MAX) {
                scn_fail(&p, line, "more than %d words in one line", SCN_TOKENS_MAX);
                return -E2BIG;
            }
            tok[count++] = t;
        }
        if (count == 0) continue;
        int rc = scn_statement(&p, tok, count);
        if (rc != 0) return rc;
    }
    return scn_validate(&p);
}

int scn_parse_file(const char *path, struct scenario *out, char *err, size_t err_len) {
    ASSERT(path != NULL && err != NULL && err_len > 0);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(e));
        return -e;
    }
    char *buf = malloc(SCN_FILE_BYTES_MAX + 1);
    ASSERT(buf != NULL);
    size_t n = fread(buf, 1, SCN_FILE_BYTES_MAX + 1, f);
    int read_error = ferror(f);
    fclose(f);
    int rc;
    if (read_error) {
        snprintf(err, err_len, "%s: read error", path);
        rc = -EIO;
    } else if (n > SCN_FILE_BYTES_MAX) {
        snprintf(err, err_len, "%s: larger than %u bytes", path, SCN_FILE_BYTES_MAX);
        rc = -E2BIG;
    } else {
        rc = scn_parse(buf, n, path, out, err, err_len);
    }
    free(buf);
    return rc;
}

/* --- Printer ----------------------------------------------------------------------------- */

/* An snprintf-style appender that keeps counting past the end of the buffer. */
struct scn_out {
    char *buf;
    size_t len;
    size_t used;
};

__attribute__((format(printf, 2, 3))) static void scn_out(struct scn_out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *dst = o->used < o->len ? o->buf + o->used : NULL;
    size_t room = o->used < o->len ? o->len - o->used : 0;
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    ASSERT(n >= 0);
    o->used += (size_t)n;
}

static void scn_out_duration(struct scn_out *o, const char *prefix, uint64_t ns) {
    char d[32];
    scn_duration_format(ns, d, sizeof(d));
    scn_out(o, "%s%s", prefix, d);
}

static void scn_print_fault_body(struct scn_out *o, const struct scn_fault *f) {
    switch (f->kind) {
    case SCN_FAULT_CRASH:
        scn_out(o, "crash %s", f->a);
        if (f->crash_mode != SCN_CRASH_SEEDED)
            scn_out(o, " %s", scn_crash_mode_name(f->crash_mode));
        break;
    case SCN_FAULT_RESTART:
    case SCN_FAULT_PAUSE:
    case SCN_FAULT_RESUME:
    case SCN_FAULT_ISOLATE:
        scn_out(o, "%s %s", scn_fault_kind_name(f->kind), f->a);
        break;
    case SCN_FAULT_PARTITION:
        scn_out(o, "partition %s%s%s", f->a, f->one_way ? " -> " : " ", f->b);
        break;
    case SCN_FAULT_HEAL:
        scn_out(o, "heal %s%s%s", f->a, f->b[0] != '\0' ? " " : "", f->b);
        break;
    case SCN_FAULT_SLOW:
        scn_out(o, "slow %s%s%s", f->a, f->b[0] != '\0' ? " " : "", f->b);
        if (f->latency_ns != 0) scn_out_duration(o, " latency ", f->latency_ns);
        if (f->bandwidth_bps != 0) scn_out(o, " bandwidth %" PRIu64, f->bandwidth_bps);
        break;
    case SCN_FAULT_DISK:
        scn_out(o, "disk %s %s %s", f->a, scn_disk_op_name(f->disk_op),
                scn_disk_error_name(f->disk_error));
        if (f->disk_times != 0) scn_out(o, " times %" PRIu32, f->disk_times);
        break;
    case SCN_FAULT_DISK_CLEAR:
        scn_out(o, "disk %s clear", f->a);
        break;
    case SCN_FAULT_CLOCK_SKEW:
    case SCN_FAULT_CLOCK_JUMP: {
        char d[32];
        uint64_t mag =
            f->clock_ns < 0 ? (uint64_t)0 - (uint64_t)f->clock_ns : (uint64_t)f->clock_ns;
        scn_duration_format(mag, d, sizeof(d));
        scn_out(o, "clock %s %s %c%s", f->a, f->kind == SCN_FAULT_CLOCK_SKEW ? "skew" : "jump",
                f->clock_ns < 0 ? '-' : '+', d);
        break;
    }
    default:
        UNREACHABLE();
    }
}

size_t scn_fault_describe(const struct scn_fault *f, char *buf, size_t buf_len) {
    ASSERT(f != NULL);
    struct scn_out o = {.buf = buf, .len = buf_len, .used = 0};
    if (buf_len > 0) buf[0] = '\0';
    scn_print_fault_body(&o, f);
    return o.used;
}

size_t scn_print(const struct scenario *s, char *buf, size_t buf_len) {
    ASSERT(s != NULL);
    struct scn_out o = {.buf = buf, .len = buf_len, .used = 0};
    if (buf_len > 0) buf[0] = '\0';
    scn_out(&o, "scenario %s\n", s->name);
    if (s->has_seed) scn_out(&o, "seed %" PRIu64 "\n", s->seed);
    scn_out_duration(&o, "duration ", s->duration_ns);
    scn_out(&o, "\ncluster brokers %d", (int)s->brokers);
    if (s->controllers != 0) scn_out(&o, " controllers %d", (int)s->controllers);
    scn_out(&o, "\n");
    for (size_t i = 0; i < s->config_count; i++) {
        scn_out(&o, "broker %s %s=%s\n", s->configs[i].node, s->configs[i].kv.key,
                s->configs[i].kv.value);
    }
    for (size_t i = 0; i < s->topic_count; i++) {
        const struct scn_topic *t = &s->topics[i];
        scn_out(&o, "topic %s partitions %d replication %d", t->name, (int)t->partitions,
                (int)t->replication);
        for (size_t j = 0; j < t->config_count; j++) {
            scn_out(&o, " %s=%s", t->configs[j].key, t->configs[j].value);
        }
        scn_out(&o, "\n");
    }
    for (size_t i = 0; i < s->workload_count; i++) {
        const struct scn_workload *w = &s->workloads[i];
        if (w->kind == SCN_PRODUCER) {
            scn_out(&o, "producer %s topic %s acks %s rate %" PRIu32 "/s count %" PRIu64, w->name,
                    w->topic,
                    w->acks == -1  ? "all"
                    : w->acks == 0 ? "0"
                                   : "1",
                    w->rate_per_s, w->count);
            if (w->keys == 0)
                scn_out(&o, " keys none");
            else
                scn_out(&o, " keys %" PRIu32, w->keys);
            scn_out(&o, " value-bytes %" PRIu32, w->value_bytes);
            if (w->idempotent) scn_out(&o, " idempotent");
            if (w->transactional_id[0] != '\0')
                scn_out(&o, " transactional %s", w->transactional_id);
        } else {
            scn_out(&o, "consumer %s topic %s", w->name, w->topic);
            if (w->group[0] != '\0') {
                scn_out(&o, " group %s", w->group);
            } else {
                scn_out(&o, " assign ");
                for (size_t j = 0; j < w->assign_count; j++) {
                    scn_out(&o, "%s%d", j == 0 ? "" : ",", (int)w->assign[j]);
                }
            }
            scn_out(&o, " isolation %s",
                    w->isolation == SCN_READ_COMMITTED ? "read_committed" : "read_uncommitted");
        }
        if (w->start_ns != 0) scn_out_duration(&o, " start ", w->start_ns);
        if (w->stop_ns != 0) scn_out_duration(&o, " stop ", w->stop_ns);
        scn_out(&o, "\n");
    }
    for (size_t i = 0; i < s->fault_count; i++) {
        scn_out_duration(&o, "at ", s->faults[i].at_ns);
        scn_out(&o, " ");
        scn_print_fault_body(&o, &s->faults[i]);
        scn_out(&o, "\n");
    }
    if (s->check_count > 0) {
        scn_out(&o, "check");
        for (size_t i = 0; i < s->check_count; i++)
            scn_out(&o, " %s", s->checks[i]);
        scn_out(&o, "\n");
    }
    if (s->expect == SCN_EXPECT_PASS)
        scn_out(&o, "expect pass\n");
    else
        scn_out(&o, "expect violation %s\n", s->expect_invariant);
    for (size_t i = 0; i < s->catch_count; i++) {
        scn_out(&o, "catches %s %s\n", s->catches[i].mutant, s->catches[i].invariant);
    }
    return o.used;
}

/* --- Equality ---------------------------------------------------------------------------- */

static bool scn_kv_equal(const struct scn_kv *a, const struct scn_kv *b) {
    return strcmp(a->key, b->key) == 0 && strcmp(a->value, b->value) == 0;
}

static bool scn_workload_equal(const struct scn_workload *a, const struct scn_workload *b) {
    if (a->kind != b->kind || strcmp(a->name, b->name) != 0 || strcmp(a->topic, b->topic) != 0 ||
        a->start_ns != b->start_ns || a->stop_ns != b->stop_ns || a->acks != b->acks ||
        a->rate_per_s != b->rate_per_s || a->count != b->count || a->keys != b->keys ||
        a->value_bytes != b->value_bytes || a->idempotent != b->idempotent ||
        strcmp(a->transactional_id, b->transactional_id) != 0 || strcmp(a->group, b->group) != 0 ||
        a->assign_count != b->assign_count || a->isolation != b->isolation) {
        return false;
    }
    for (size_t i = 0; i < a->assign_count; i++) {
        if (a->assign[i] != b->assign[i]) return false;
    }
    return true;
}

static bool scn_fault_equal(const struct scn_fault *a, const struct scn_fault *b) {
    return a->at_ns == b->at_ns && a->kind == b->kind && strcmp(a->a, b->a) == 0 &&
           strcmp(a->b, b->b) == 0 && a->one_way == b->one_way && a->crash_mode == b->crash_mode &&
           a->latency_ns == b->latency_ns && a->bandwidth_bps == b->bandwidth_bps &&
           a->disk_op == b->disk_op && a->disk_error == b->disk_error &&
           a->disk_times == b->disk_times && a->clock_ns == b->clock_ns;
}

bool scn_equal(const struct scenario *a, const struct scenario *b) {
    ASSERT(a != NULL && b != NULL);
    if (strcmp(a->name, b->name) != 0 || a->seed != b->seed || a->has_seed != b->has_seed ||
        a->duration_ns != b->duration_ns || a->brokers != b->brokers ||
        a->controllers != b->controllers || a->config_count != b->config_count ||
        a->topic_count != b->topic_count || a->workload_count != b->workload_count ||
        a->fault_count != b->fault_count || a->check_count != b->check_count ||
        a->expect != b->expect || strcmp(a->expect_invariant, b->expect_invariant) != 0 ||
        a->catch_count != b->catch_count) {
        return false;
    }
    for (size_t i = 0; i < a->catch_count; i++) {
        if (strcmp(a->catches[i].mutant, b->catches[i].mutant) != 0 ||
            strcmp(a->catches[i].invariant, b->catches[i].invariant) != 0) {
            return false;
        }
    }
    for (size_t i = 0; i < a->config_count; i++) {
        if (strcmp(a->configs[i].node, b->configs[i].node) != 0 ||
            !scn_kv_equal(&a->configs[i].kv, &b->configs[i].kv)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->topic_count; i++) {
        const struct scn_topic *x = &a->topics[i], *y = &b->topics[i];
        if (strcmp(x->name, y->name) != 0 || x->partitions != y->partitions ||
            x->replication != y->replication || x->config_count != y->config_count) {
            return false;
        }
        for (size_t j = 0; j < x->config_count; j++) {
            if (!scn_kv_equal(&x->configs[j], &y->configs[j])) return false;
        }
    }
    for (size_t i = 0; i < a->workload_count; i++) {
        if (!scn_workload_equal(&a->workloads[i], &b->workloads[i])) return false;
    }
    for (size_t i = 0; i < a->fault_count; i++) {
        if (!scn_fault_equal(&a->faults[i], &b->faults[i])) return false;
    }
    for (size_t i = 0; i < a->check_count; i++) {
        if (strcmp(a->checks[i], b->checks[i]) != 0) return false;
    }
    return true;
}
