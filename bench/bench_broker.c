/*
 * bench_broker.c — librdkafka load generator: triald vs librdkafka's in-process mock cluster,
 * measured in the same run (BENCHMARKS.md P1-P4).
 *
 *   bench_broker --triald PATH [--records N] [--latency-seconds S]
 *
 * Starts triald on a free loopback port with a fresh temporary log dir, creates the mock
 * cluster (rd_kafka_mock_cluster_new), and runs against each:
 *   P1  produce, 1 partition, 100 B records, acks=1: records/s
 *   P2  produce, 10 KB records, acks=1: MB/s
 *   P3  consume from the start (page cache), 100 B records: records/s
 *   P4  end-to-end latency, acks=all, 1 KB, at a fixed rate: p50/p99 in microseconds
 * One line per figure: name, triald value, unit, mock value, ratio (triald / mock; for
 * latency mock / triald, so > 1 always means triald is better). A last line gives the CPU
 * time (user + system) triald used over all four, from wait4(): less noisy than the rates
 * on a shared machine, since the load generator competes for the same cores (no reference).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench: %s=%s: %s\n", k, v, err);
        exit(1);
    }
}

static rd_kafka_t *make_with_linger(rd_kafka_type_t type, const char *bootstrap, const char *acks,
                                    const char *linger_ms) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (bootstrap != NULL) set(conf, "bootstrap.servers", bootstrap);
    set(conf, "log_level", "3");
    if (type == RD_KAFKA_PRODUCER) {
        set(conf, "acks", acks);
        set(conf, "linger.ms", linger_ms);
        set(conf, "batch.size", "1000000");
        set(conf, "queue.buffering.max.messages", "2000000");
        set(conf, "queue.buffering.max.kbytes", "2097151");
        set(conf, "enable.idempotence", "false");
    } else {
        set(conf, "group.id", "bench");
        set(conf, "enable.auto.commit", "false");
        set(conf, "fetch.wait.max.ms", "100");
        set(conf, "fetch.message.max.bytes", "4194304");
        set(conf, "queued.max.messages.kbytes", "1048576");
        /* librdkafka 2.0 stops fetching for fetch.error.backoff.ms (500 ms) whenever its
         * local queue passes queued.min.messages (100k by default): P3 then measured that
         * pause in about one run of three, not the broker. */
        set(conf, "queued.min.messages", "10000000");
        set(conf, "enable.partition.eof", "false");
    }
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "bench: rd_kafka_new: %s\n", err);
        exit(1);
    }
    return rk;
}

static rd_kafka_t *make(rd_kafka_type_t type, const char *bootstrap, const char *acks) {
    return make_with_linger(type, bootstrap, acks, "5");
}

/* Produces n records of `size` bytes; returns records/s (0 on failure). */
static double bench_produce(const char *bootstrap, const char *topic, long n, size_t size,
                            const char *acks) {
    rd_kafka_t *rk = make(RD_KAFKA_PRODUCER, bootstrap, acks);
    char *payload = malloc(size);
    memset(payload, 'x', size);
    /* Warm up: metadata and connection. */
    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                      RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_END);
    rd_kafka_flush(rk, 10000);
    uint64_t start = now_ns();
    for (long i = 0; i < n;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
            continue;
        }
        if (e != 0) {
            fprintf(stderr, "bench: produce: %s\n", rd_kafka_err2str(e));
            break;
        }
        i++;
    }
    bool ok = rd_kafka_flush(rk, 120000) == 0;
    double seconds = (double)(now_ns() - start) / 1e9;
    free(payload);
    rd_kafka_destroy(rk);
    return ok ? (double)n / seconds : 0;
}

/* Consumes n records of partition 0 from the start; returns records/s. */
static double bench_consume(const char *bootstrap, const char *topic, long n) {
    rd_kafka_t *rk = make(RD_KAFKA_CONSUMER, bootstrap, NULL);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    long got = 0;
    /* Bounded: a reference that serves fetches slowly is measured over what it delivered. */
    uint64_t start = 0, deadline = now_ns() + 30ULL * 1000000000ULL;
    while (got < n && now_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) continue;
        if (m->err == 0) {
            if (got == 0) start = now_ns();
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    double seconds = (double)(now_ns() - start) / 1e9;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (got < n) fprintf(stderr, "bench: consumed only %ld of %ld records in time\n", got, n);
    return got > 1 && seconds > 0 ? (double)(got - 1) / seconds : 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* End-to-end latency at `rate` records/s for `seconds`: send time travels in the value. */
static void bench_latency(const char *bootstrap, const char *topic, int rate, int seconds,
                          double *p50_us, double *p99_us) {
    /* No lingering: the latency of one record, not of batching. */
    rd_kafka_t *prod = make_with_linger(RD_KAFKA_PRODUCER, bootstrap, "all", "0");
    rd_kafka_t *cons = make(RD_KAFKA_CONSUMER, bootstrap, NULL);
    rd_kafka_conf_t *unused = NULL;
    (void)unused;
    rd_kafka_poll_set_consumer(cons);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(cons, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    char payload[1024];
    memset(payload, 'y', sizeof(payload));
    /* Let the consumer reach the end before timing. */
    for (int i = 0; i < 20; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 50);
        if (m) rd_kafka_message_destroy(m);
    }
    long total = (long)rate * seconds;
    uint64_t *lat = calloc((size_t)total, sizeof(uint64_t));
    long sent = 0, got = 0;
    uint64_t start = now_ns();
    uint64_t interval = 1000000000ULL / (uint64_t)rate;
    uint64_t deadline = start + (uint64_t)(seconds + 20) * 1000000000ULL;
    /* Producer linger for latency: send at once. */
    while (got < total && now_ns() < deadline) {
        uint64_t t = now_ns();
        while (sent < total && t >= start + (uint64_t)sent * interval) {
            memcpy(payload, &t, sizeof(t));
            rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_VALUE(payload, sizeof(payload)),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            sent++;
        }
        rd_kafka_poll(prod, 0);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 0);
        if (m == NULL) {
            usleep(50);
            continue;
        }
        if (m->err == 0 && m->len >= sizeof(uint64_t) && got < total) {
            uint64_t t0;
            memcpy(&t0, m->payload, sizeof(t0));
            lat[got++] = now_ns() - t0;
        }
        rd_kafka_message_destroy(m);
    }
    qsort(lat, (size_t)got, sizeof(uint64_t), cmp_u64);
    *p50_us = got ? (double)lat[got / 2] / 1000.0 : 0;
    *p99_us = got ? (double)lat[(got * 99) / 100] / 1000.0 : 0;
    free(lat);
    rd_kafka_flush(prod, 5000);
    rd_kafka_destroy(prod);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
}

/* Starts triald on port 0 in a temp dir; returns its pid and fills bootstrap. */
static pid_t start_triald(const char *path, char *dir, char *bootstrap, size_t cap) {
    char cfg[512];
    snprintf(cfg, sizeof(cfg), "%s/server.properties", dir);
    FILE *f = fopen(cfg, "w");
    fprintf(f, "node.id=1\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs=%s/data\n"
               "num.partitions=1\n", dir);
    fclose(f);
    int fds[2];
    if (pipe(fds) != 0) exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        execl(path, path, cfg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *err = fdopen(fds[0], "r");
    char line[512];
    while (fgets(line, sizeof(line), err) != NULL) {
        unsigned port;
        const char *p = strstr(line, "on port ");
        if (strstr(line, "started node") && p && sscanf(p, "on port %u", &port) == 1) {
            snprintf(bootstrap, cap, "127.0.0.1:%u", port);
            /* Keep draining stderr in a child so triald never blocks on a full pipe. */
            if (fork() == 0) {
                while (fgets(line, sizeof(line), err) != NULL) {
                }
                _exit(0);
            }
            fclose(err);
            return pid;
        }
    }
    fprintf(stderr, "bench: triald did not start\n");
    exit(1);
}

struct figures {
    double p1, p2, p3, p4_50, p4_99;
};

static void run_all(const char *bootstrap, long n, int latency_seconds, struct figures *f,
                    const char *label) {
    fprintf(stderr, "bench: %s P1 produce 100 B...\n", label);
    f->p1 = bench_produce(bootstrap, "p1", n, 100, "1");
    fprintf(stderr, "bench: %s P3 consume...\n", label);
    f->p3 = bench_consume(bootstrap, "p1", n);
    fprintf(stderr, "bench: %s P2 produce 10 KB...\n", label);
    long n2 = n / 50 > 1000 ? n / 50 : 1000;
    f->p2 = bench_produce(bootstrap, "p2", n2, 10240, "1") * 10240.0 / 1e6;
    fprintf(stderr, "bench: %s P4 latency...\n", label);
    bench_latency(bootstrap, "p4", 5000, latency_seconds, &f->p4_50, &f->p4_99);
}

int main(int argc, char **argv) {
    const char *triald = NULL;
    long n = 1000000;
    int latency_seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--triald") == 0) triald = argv[i + 1];
        else if (strcmp(argv[i], "--records") == 0) n = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--latency-seconds") == 0) latency_seconds = atoi(argv[i + 1]);
    }
    if (triald == NULL) {
        fprintf(stderr, "usage: bench_broker --triald PATH [--records N] [--latency-seconds S]\n");
        return 2;
    }
    char dir[] = "/tmp/bench-broker-XXXXXX";
    if (mkdtemp(dir) == NULL) return 1;
    char bootstrap[128];
    pid_t pid = start_triald(triald, dir, bootstrap, sizeof(bootstrap));
    struct figures t = {0}, m = {0};
    run_all(bootstrap, n, latency_seconds, &t, "triald");
    kill(pid, SIGTERM);
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    wait4(pid, NULL, 0, &ru);
    double triald_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;

    /* The reference: librdkafka's mock cluster, in this process. */
    /* The host handle needs no brokers (a bootstrap address would only log refusals). */
    rd_kafka_t *host = make(RD_KAFKA_PRODUCER, NULL, "1");
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 1);
    rd_kafka_mock_topic_create(mc, "p1", 1, 1);
    rd_kafka_mock_topic_create(mc, "p2", 1, 1);
    rd_kafka_mock_topic_create(mc, "p4", 1, 1);
    run_all(rd_kafka_mock_cluster_bootstraps(mc), n, latency_seconds, &m, "mock");
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);

    printf("%-34s %14s %-10s %14s %8s\n", "figure", "triald", "unit", "mock", "ratio");
    printf("%-34s %14.0f %-10s %14.0f %8.2f\n", "P1 produce 100B acks=1", t.p1, "rec/s", m.p1,
           m.p1 > 0 ? t.p1 / m.p1 : 0);
    printf("%-34s %14.1f %-10s %14.1f %8.2f\n", "P2 produce 10KB acks=1", t.p2, "MB/s", m.p2,
           m.p2 > 0 ? t.p2 / m.p2 : 0);
    printf("%-34s %14.0f %-10s %14.0f %8.2f\n", "P3 consume 100B", t.p3, "rec/s", m.p3,
           m.p3 > 0 ? t.p3 / m.p3 : 0);
    printf("%-34s %14.0f %-10s %14.0f %8.2f\n", "P4 e2e latency p50 acks=all 1KB", t.p4_50,
           "us", m.p4_50, t.p4_50 > 0 ? m.p4_50 / t.p4_50 : 0);
    printf("%-34s %14.0f %-10s %14.0f %8.2f\n", "P4 e2e latency p99 acks=all 1KB", t.p4_99,
           "us", m.p4_99, t.p4_99 > 0 ? m.p4_99 / t.p4_99 : 0);
    printf("%-34s %14.2f %-10s %14s %8s\n", "triald CPU user+sys, P1-P4", triald_cpu_s, "s", "-",
           "-");
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", dir);
    return 0;
}
