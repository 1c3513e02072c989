/*
 * swarm.c — isolated runs, the swarm generator and runner (see swarm.h).
 */
#include "sim/harness/swarm.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "sim/sim.h"

#define NS_PER_MS      1000000ULL
#define NS_PER_S       1000000000ULL
#define SWARM_JOBS_MAX 64

static double wall_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void crash_result(struct harness_result *r, int sig) {
    r->exit_code = HARNESS_EXIT_CRASH;
    snprintf(r->summary, sizeof(r->summary),
             "the system crashed: signal %d (%s) — an ASSERT or abort in node code", sig,
             strsignal(sig));
}

enum harness_exit harness_run_isolated(const struct scenario *scn,
                                       const struct harness_options *options,
                                       struct harness_result *result) {
    memset(result, 0, sizeof(*result));
    fflush(stdout);
    fflush(stderr);
    int fds[2];
    if (pipe(fds) != 0) return harness_run(scn, options, result);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return harness_run(scn, options, result);
    }
    if (pid == 0) {
        close(fds[0]);
        struct harness_result r;
        harness_run(scn, options, &r);
        const uint8_t *p = (const uint8_t *)&r;
        size_t left = sizeof(r);
        while (left > 0) {
            ssize_t w = write(fds[1], p, left);
            if (w <= 0) break;
            p += w;
            left -= (size_t)w;
        }
        fflush(stdout);
        _exit((int)r.exit_code);
    }
    close(fds[1]);
    uint8_t *p = (uint8_t *)result;
    size_t got = 0;
    while (got < sizeof(*result)) {
        ssize_t n = read(fds[0], p + got, sizeof(*result) - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status) || got != sizeof(*result)) {
        uint64_t seed = options->has_seed ? options->seed : scn->seed;
        memset(result, 0, sizeof(*result));
        result->seed = seed;
        crash_result(result, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    return result->exit_code;
}

/* --- Generator ----------------------------------------------------------------------------- */

static void add_config(struct scenario *s, const char *key, const char *value) {
    ASSERT(s->config_count < SCN_CONFIGS_MAX);
    struct scn_broker_config *c = &s->configs[s->config_count++];
    snprintf(c->node, sizeof(c->node), "all");
    snprintf(c->kv.key, sizeof(c->kv.key), "%s", key);
    snprintf(c->kv.value, sizeof(c->kv.value), "%s", value);
}

static void add_fault(struct scenario *s, const struct scn_fault *f) {
    ASSERT(s->fault_count < SCN_FAULTS_MAX);
    s->faults[s->fault_count++] = *f;
}

void swarm_generate(uint64_t seed, struct scenario *s) {
    swarm_generate_shaped(seed, SWARM_SHAPE_ANY, s);
}

/* A server for a fault: n1 on one broker (the draws of before), else any broker or, when
 * `controllers_too`, any dedicated controller. Drawn from the shape stream only. */
static void fault_target(struct sim_rng *shape, const struct scenario *s, bool controllers_too,
                         char *out, size_t out_len) {
    if (s->brokers == 1 && s->controllers == 0) {
        snprintf(out, out_len, "n1");
        return;
    }
    uint64_t n = (uint64_t)s->brokers + (controllers_too ? (uint64_t)s->controllers : 0);
    uint64_t i = sim_rng_below(shape, n);
    if (i < (uint64_t)s->brokers) {
        snprintf(out, out_len, "n%u", (unsigned)(i + 1) % 100u);
    } else {
        snprintf(out, out_len, "q%u", (unsigned)(i - (uint64_t)s->brokers + 1) % 10u);
    }
}

void swarm_generate_shaped(uint64_t seed, enum swarm_shape shape_want, struct scenario *s) {
    struct sim_rng rng;
    sim_rng_init(&rng, seed, 0x5741524dULL); /* "SWRM": independent of the world's streams. */
    /* The cluster shape and the fault targets come from a stream of their own, so a seed
     * that draws one broker draws exactly the scenario it drew before clusters existed. */
    struct sim_rng shape;
    sim_rng_init(&shape, seed, 0x53484150ULL); /* "SHAP". */
    scn_defaults(s);
    snprintf(s->name, sizeof(s->name), "swarm-%" PRIu64, seed);
    s->seed = seed;
    s->has_seed = true;
    s->duration_ns = (10 + sim_rng_below(&rng, 11)) * NS_PER_S;
    s->brokers = 1;
    s->controllers = 0;
    bool multi = shape_want == SWARM_SHAPE_MULTI ||
                 (shape_want == SWARM_SHAPE_ANY && sim_rng_chance(&shape, 500));
    if (multi) {
        /* 2..5 brokers; dedicated controllers (3) or the first brokers as voters. */
        s->brokers = (int32_t)(2 + sim_rng_below(&shape, 4));
        s->controllers = sim_rng_chance(&shape, 400) ? 3 : 0;
    }

    uint64_t flush = sim_rng_below(&rng, 3);
    if (flush == 1) add_config(s, "log.flush.interval.messages", "1");
    if (flush == 2) add_config(s, "log.flush.interval.messages", "5");
    uint64_t segment = sim_rng_below(&rng, 3);
    if (segment == 1) add_config(s, "log.segment.bytes", "65536");
    if (segment == 2) add_config(s, "log.segment.bytes", "16384");
    if (sim_rng_chance(&rng, 300)) add_config(s, "log.index.interval.bytes", "256");
    if (sim_rng_chance(&rng, 200)) add_config(s, "log.message.timestamp.type", "LogAppendTime");
    bool durable = flush == 1; /* Every acked record is fsynced: any crash mode is fair. */

    s->topic_count = 1 + (size_t)sim_rng_below(&rng, 2);
    for (size_t t = 0; t < s->topic_count; t++) {
        struct scn_topic *topic = &s->topics[t];
        snprintf(topic->name, sizeof(topic->name), "t%zu", t + 1);
        topic->partitions = 1 + (int32_t)sim_rng_below(&rng, 3);
        topic->replication = 1;
    }
    if (multi) {
        int32_t rf_min = 3;
        for (size_t t = 0; t < s->topic_count; t++) {
            struct scn_topic *topic = &s->topics[t];
            topic->replication = 1 + (int32_t)sim_rng_below(&shape, (uint64_t)MIN(3, s->brokers));
            rf_min = MIN(rf_min, topic->replication);
        }
        if (rf_min >= 2 && sim_rng_chance(&shape, 500)) {
            add_config(s, "min.insync.replicas", "2");
        }
        if (sim_rng_chance(&shape, 500)) {
            /* Quicker fencing: more leader changes inside the fault windows. */
            add_config(s, "broker.session.timeout.ms", "3000");
            add_config(s, "broker.heartbeat.interval.ms", "500");
        }
        /* Mostly clean elections; an allowed unclean one excuses the losses it causes. */
        if (sim_rng_chance(&shape, 100)) add_config(s, "unclean.leader.election.enable", "true");
    }
    size_t producers = 1 + (size_t)sim_rng_below(&rng, 2);
    size_t consumers = (size_t)sim_rng_below(&rng, 3);
    uint64_t stop = s->duration_ns - 2 * NS_PER_S;
    for (size_t i = 0; i < producers; i++) {
        struct scn_workload *w = &s->workloads[s->workload_count++];
        memset(w, 0, sizeof(*w));
        w->kind = SCN_PRODUCER;
        snprintf(w->name, sizeof(w->name), "p%u", (unsigned)(i + 1) % 100u);
        memcpy(w->topic, s->topics[sim_rng_below(&rng, s->topic_count)].name, SCN_NAME_MAX);
        w->acks = sim_rng_chance(&rng, 700) ? -1 : 1;
        w->rate_per_s = (uint32_t)(20 + sim_rng_below(&rng, 280));
        w->keys = sim_rng_chance(&rng, 500) ? 0 : (uint32_t)(1 + sim_rng_below(&rng, 16));
        w->value_bytes = (uint32_t)(16 + sim_rng_below(&rng, 240));
        w->idempotent = sim_rng_chance(&rng, 300);
        w->stop_ns = stop;
        if (sim_rng_chance(&rng, 200)) w->count = 1 + sim_rng_below(&rng, 2000);
        if (sim_rng_chance(&rng, 200)) w->start_ns = (1 + sim_rng_below(&rng, 3)) * NS_PER_S;
    }
    for (size_t i = 0; i < consumers; i++) {
        struct scn_workload *w = &s->workloads[s->workload_count++];
        memset(w, 0, sizeof(*w));
        w->kind = SCN_CONSUMER;
        snprintf(w->name, sizeof(w->name), "c%u", (unsigned)(i + 1) % 100u);
        size_t ti = (size_t)sim_rng_below(&rng, s->topic_count);
        const struct scn_topic *topic = &s->topics[ti];
        memcpy(w->topic, topic->name, SCN_NAME_MAX);
        if (sim_rng_chance(&rng, 400)) {
            snprintf(w->group, sizeof(w->group), "g%u", (unsigned)(ti + 1) % 100u);
        } else {
            for (int32_t p = 0; p < topic->partitions; p++)
                w->assign[w->assign_count++] = p;
        }
        w->isolation = SCN_READ_UNCOMMITTED;
        if (sim_rng_chance(&rng, 200)) w->start_ns = (1 + sim_rng_below(&rng, 3)) * NS_PER_S;
        if (sim_rng_chance(&rng, 200)) w->stop_ns = stop;
    }

    /* Faults: k windows, one per equal slot of [1 s, duration - 3 s], so a window never
     * overlaps the next (a restart always follows its crash). */
    size_t k = (size_t)sim_rng_below(&rng, 5);
    uint64_t span = s->duration_ns - 4 * NS_PER_S;
    for (size_t i = 0; i < k; i++) {
        uint64_t slot = span / k / NS_PER_MS * NS_PER_MS;
        uint64_t begin = NS_PER_S + i * slot;
        uint64_t at = begin + sim_rng_below(&rng, slot / 2 / NS_PER_MS + 1) * NS_PER_MS;
        uint64_t len = (100 + sim_rng_below(&rng, slot / 2 / NS_PER_MS)) * NS_PER_MS;
        struct scn_fault f;
        memset(&f, 0, sizeof(f));
        f.at_ns = at;
        const char *client = s->workloads[sim_rng_below(&rng, s->workload_count)].name;
        char server[SCN_NODE_MAX]; /* Crash, pause, isolate, clock: any server. */
        char broker[SCN_NODE_MAX]; /* Client links and disks: a broker. */
        fault_target(&shape, s, true, server, sizeof(server));
        fault_target(&shape, s, false, broker, sizeof(broker));
        switch (sim_rng_below(&rng, 10)) {
        case 0:
        case 1: {
            f.kind = SCN_FAULT_CRASH;
            snprintf(f.a, sizeof(f.a), "%s", server);
            f.crash_mode = durable ? (enum scn_crash_mode)sim_rng_below(&rng, 4) : SCN_CRASH_KEEP;
            add_fault(s, &f);
            f.kind = SCN_FAULT_RESTART;
            f.crash_mode = SCN_CRASH_SEEDED;
            f.at_ns = at + len;
            add_fault(s, &f);
            break;
        }
        case 2: /* A long GC pause of the broker (the language pauses brokers only). */
            f.kind = SCN_FAULT_PAUSE;
            snprintf(f.a, sizeof(f.a), "%s", server);
            add_fault(s, &f);
            f.kind = SCN_FAULT_RESUME;
            f.at_ns = at + len;
            add_fault(s, &f);
            break;
        case 3:
            f.kind = SCN_FAULT_SLOW;
            snprintf(f.a, sizeof(f.a), "%s", client);
            f.latency_ns = (10 + sim_rng_below(&rng, 990)) * NS_PER_MS;
            add_fault(s, &f);
            memset(&f, 0, sizeof(f));
            f.kind = SCN_FAULT_HEAL;
            snprintf(f.a, sizeof(f.a), "%s", client);
            f.at_ns = at + len;
            add_fault(s, &f);
            break;
        case 4:
            f.kind = SCN_FAULT_PARTITION;
            snprintf(f.a, sizeof(f.a), "%s", client);
            snprintf(f.b, sizeof(f.b), "%s", broker);
            f.one_way = sim_rng_chance(&rng, 300);
            if (multi && sim_rng_chance(&shape, 600)) {
                /* Between two servers instead: a leader and its followers, or a broker and
                 * the quorum (one way: KIP-101's lost fetch responses, a deaf controller). */
                char other[SCN_NODE_MAX];
                fault_target(&shape, s, true, other, sizeof(other));
                if (strcmp(other, broker) != 0) snprintf(f.a, sizeof(f.a), "%s", other);
            }
            add_fault(s, &f);
            memset(&f, 0, sizeof(f));
            f.kind = SCN_FAULT_HEAL;
            snprintf(f.a, sizeof(f.a), "all");
            f.at_ns = at + len;
            add_fault(s, &f);
            break;
        case 5:
            f.kind = SCN_FAULT_DISK;
            snprintf(f.a, sizeof(f.a), "%s", broker);
            f.disk_op = sim_rng_chance(&rng, 500) ? SCN_DISK_FSYNC : SCN_DISK_WRITE;
            f.disk_error = f.disk_op == SCN_DISK_WRITE && sim_rng_chance(&rng, 500)
                               ? SCN_DISK_ENOSPC
                               : SCN_DISK_EIO;
            f.disk_times = (uint32_t)(1 + sim_rng_below(&rng, 5));
            add_fault(s, &f);
            memset(&f, 0, sizeof(f));
            f.kind = SCN_FAULT_DISK_CLEAR;
            snprintf(f.a, sizeof(f.a), "%s", broker);
            f.at_ns = at + len;
            add_fault(s, &f);
            break;
        case 7: /* The broker cut off from everyone. */
            f.kind = SCN_FAULT_ISOLATE;
            snprintf(f.a, sizeof(f.a), "%s", server);
            add_fault(s, &f);
            memset(&f, 0, sizeof(f));
            f.kind = SCN_FAULT_HEAL;
            snprintf(f.a, sizeof(f.a), "all");
            f.at_ns = at + len;
            add_fault(s, &f);
            break;
        case 8: /* A trickle of bandwidth, or the broker's answers to a client lost. */
            if (sim_rng_chance(&rng, 500)) {
                f.kind = SCN_FAULT_SLOW;
                snprintf(f.a, sizeof(f.a), "%s", client);
                f.bandwidth_bps = 1024 + sim_rng_below(&rng, 64 * 1024);
            } else {
                f.kind = SCN_FAULT_PARTITION;
                snprintf(f.a, sizeof(f.a), "%s", broker);
                snprintf(f.b, sizeof(f.b), "%s", client);
                f.one_way = true;
            }
            add_fault(s, &f);
            memset(&f, 0, sizeof(f));
            f.kind = SCN_FAULT_HEAL;
            snprintf(f.a, sizeof(f.a), "%s", client);
            f.at_ns = at + len;
            add_fault(s, &f);
            break;
        case 9: /* A crash the run only recovers from at its end (the final heal). */
            f.kind = SCN_FAULT_CRASH;
            snprintf(f.a, sizeof(f.a), "%s", server);
            f.crash_mode = durable ? (enum scn_crash_mode)sim_rng_below(&rng, 4) : SCN_CRASH_KEEP;
            add_fault(s, &f);
            i = k; /* Nothing after it. */
            break;
        default:
            f.kind = sim_rng_chance(&rng, 500) ? SCN_FAULT_CLOCK_JUMP : SCN_FAULT_CLOCK_SKEW;
            snprintf(f.a, sizeof(f.a), "%s", server);
            f.clock_ns = ((int64_t)sim_rng_below(&rng, 20001) - 10000) * (int64_t)NS_PER_MS;
            add_fault(s, &f);
            break;
        }
    }
    static const char *const checks[] = {"I-REPL-1", "I-REPL-2", "I-LOG-1", "I-LOG-2", "I-GRP-4"};
    for (size_t i = 0; i < ARRAY_LEN(checks); i++) {
        if (i == 4 && consumers == 0) break;
        snprintf(s->checks[s->check_count++], SCN_NODE_MAX, "%s", checks[i]);
    }
    static const char *const cluster_checks[] = {"I-REPL-3", "I-REPL-4", "I-REPL-5", "I-REPL-6",
                                                 "I-CTRL-1", "I-CTRL-2", "I-CTRL-3"};
    for (size_t i = 0; multi && i < ARRAY_LEN(cluster_checks); i++) {
        snprintf(s->checks[s->check_count++], SCN_NODE_MAX, "%s", cluster_checks[i]);
    }
    /* Duplicates are judged only for idempotent producers (no draw: seeds keep their
     * scenarios). */
    bool idempotent = false;
    for (size_t i = 0; i < s->workload_count; i++) {
        idempotent |= s->workloads[i].kind == SCN_PRODUCER && s->workloads[i].idempotent;
    }
    if (idempotent) snprintf(s->checks[s->check_count++], SCN_NODE_MAX, "%s", "I-IDEM-2");
    s->expect = SCN_EXPECT_PASS;
}

/* --- Runner ---------------------------------------------------------------------------------- */

struct swarm_child {
    pid_t pid;
    uint64_t seed;
    double virtual_s;
};

int harness_mkdir_p(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -errno;
    return 0;
}

static void write_failing_scenario(const struct swarm_options *o, uint64_t seed, int code) {
    struct scenario s;
    swarm_generate_shaped(seed, o->shape, &s);
    char path[1024];
    snprintf(path, sizeof(path), "%s/seed-%" PRIu64 ".scn", o->out_dir, seed);
    static char text[1 << 16];
    size_t n = scn_print(&s, text, sizeof(text));
    FILE *f = fopen(path, "w");
    if (f == NULL) return;
    fprintf(f, "# trial swarm seed %" PRIu64 ": %s (exit %d)\n# reproduce: trial run %s%s%s\n",
            seed, harness_exit_name((enum harness_exit)code), code, path,
            o->mutant != NULL ? " --mutant " : "", o->mutant != NULL ? o->mutant : "");
    fwrite(text, 1, MIN(n, sizeof(text) - 1), f);
    fclose(f);
}

static void progress(const struct swarm_summary *s, uint64_t total, double start) {
    double el = wall_now_s() - start;
    fprintf(stderr, "\rswarm: %" PRIu64 "/%" PRIu64 " seeds, %.1f seeds/s, %" PRIu64 " failures   ",
            s->seeds, total, el > 0 ? (double)s->seeds / el : 0.0, s->failures);
    fflush(stderr);
}

static void child_run(const struct swarm_options *o, uint64_t seed) {
    struct scenario s;
    swarm_generate_shaped(seed, o->shape, &s);
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/seed-%" PRIu64, o->out_dir, seed);
    char path[1024];
    snprintf(path, sizeof(path), "%s/seed-%" PRIu64 ".scn", o->out_dir, seed);
    struct harness_options ho = {.seed = seed,
                                 .has_seed = true,
                                 .scenario_path = path,
                                 .report_dir = dir,
                                 .quiet = true,
                                 .mutant = o->mutant};
    struct harness_result r;
    harness_run(&s, &ho, &r);
    _exit((int)r.exit_code);
}

uint64_t swarm_run(const struct swarm_options *o, struct swarm_summary *summary) {
    memset(summary, 0, sizeof(*summary));
    if (harness_mkdir_p(o->out_dir) < 0) {
        fprintf(stderr, "trial swarm: cannot create %s\n", o->out_dir);
        return 1;
    }
    unsigned jobs = MIN(MAX(o->jobs, 1u), (unsigned)SWARM_JOBS_MAX);
    struct swarm_child children[SWARM_JOBS_MAX];
    memset(children, 0, sizeof(children));
    unsigned running = 0;
    uint64_t next = o->first_seed;
    uint64_t total = o->last_seed - o->first_seed + 1;
    double start = wall_now_s();
    fflush(stdout);
    fflush(stderr);
    while (next <= o->last_seed || running > 0) {
        while (running < jobs && next <= o->last_seed) {
            struct scenario s;
            swarm_generate_shaped(next, o->shape, &s);
            pid_t pid = fork();
            if (pid == 0) child_run(o, next);
            ASSERT(pid > 0);
            for (unsigned i = 0; i < jobs; i++) {
                if (children[i].pid != 0) continue;
                children[i] = (struct swarm_child){
                    .pid = pid, .seed = next, .virtual_s = (double)s.duration_ns / 1e9};
                break;
            }
            running++;
            next++;
            if (next == 0) break; /* Wrapped at UINT64_MAX. */
        }
        int status = 0;
        pid_t done = waitpid(-1, &status, 0);
        if (done < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (unsigned i = 0; i < jobs; i++) {
            if (children[i].pid != done) continue;
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : (int)HARNESS_EXIT_CRASH;
            if (code < 0 || code > 5) code = HARNESS_EXIT_CRASH;
            summary->seeds++;
            summary->virtual_s += children[i].virtual_s;
            summary->by_exit[code]++;
            if (code != 0) {
                summary->failures++;
                write_failing_scenario(o, children[i].seed, code);
                if (o->progress) {
                    fprintf(stderr,
                            "\nswarm: seed %" PRIu64 " failed: %s (exit %d), see %s/seed-%" PRIu64
                            ".scn\n",
                            children[i].seed, harness_exit_name((enum harness_exit)code), code,
                            o->out_dir, children[i].seed);
                }
            }
            children[i].pid = 0;
            running--;
            break;
        }
        if (o->progress) progress(summary, total, start);
    }
    if (o->progress) fprintf(stderr, "\n");
    summary->wall_s = wall_now_s() - start;
    return summary->failures;
}
