/*
 * bench_cluster.c — BENCHMARKS.md P6: three triald on loopback, RF=3, acks=all,
 * min.insync.replicas=2, against one triald with acks=1 (P1) measured in the same run.
 *
 *   bench_cluster --triald PATH [--records N]
 *
 * Starts a single triald (one-voter quorum, fresh temp dir) and measures librdkafka's
 * produce rate of 100 B records to one partition with acks=1 (the P1 reference); stops it;
 * then starts three combined broker+controller triald (a three-voter quorum) on free
 * loopback ports, creates a topic with replication factor 3 by producing to it
 * (default.replication.factor=3, auto-creation on), and measures the same load with
 * acks=all. Prints one line per figure: name, value, unit, reference, ratio. All four
 * processes share the machine's cores with the load generator, so the ratio is what counts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define NODES 3

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench: %s=%s: %s\n", k, v, err);
        exit(1);
    }
}

/* Produces n records of 100 B to partition 0 of `topic`; records/s, or 0 on failure. */
static double produce_rate(const char *bootstrap, const char *topic, long n, const char *acks) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstrap);
    conf_set(conf, "log_level", "3");
    conf_set(conf, "acks", acks);
    conf_set(conf, "linger.ms", "5");
    conf_set(conf, "batch.size", "1000000");
    conf_set(conf, "queue.buffering.max.messages", "2000000");
    conf_set(conf, "queue.buffering.max.kbytes", "2097151");
    conf_set(conf, "enable.idempotence", "false");
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    char payload[100];
    memset(payload, 'x', sizeof(payload));
    /* Warm up until the topic exists and has a leader that accepts acks=all. */
    for (int attempt = 0; attempt < 60; attempt++) {
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_VALUE(payload, sizeof(payload)),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (rd_kafka_flush(rk, 10000) == 0) break;
    }
    uint64_t start = now_ns();
    for (long i = 0; i < n;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
            RD_KAFKA_V_VALUE(payload, sizeof(payload)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
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
    rd_kafka_destroy(rk);
    return ok ? (double)n / seconds : 0;
}

/* A free loopback port (bound and released; another process could take it meanwhile). */
static unsigned free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        fprintf(stderr, "bench: no free port: %s\n", strerror(errno));
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Writes `config` to dir/server.properties and starts triald on it, stderr to dir/log. */
static pid_t spawn(const char *triald, const char *dir, const char *config) {
    char path[512], log[512];
    snprintf(path, sizeof(path), "%s/server.properties", dir);
    snprintf(log, sizeof(log), "%s/triald.log", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) exit(1);
    fputs(config, f);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *out = freopen(log, "a", stderr);
        (void)out;
        execl(triald, triald, path, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t pid) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv) {
    const char *triald = NULL;
    long n = 300000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--triald") == 0) triald = argv[i + 1];
        else if (strcmp(argv[i], "--records") == 0) n = atol(argv[i + 1]);
    }
    if (triald == NULL) {
        fprintf(stderr, "usage: bench_cluster --triald PATH [--records N]\n");
        return 2;
    }
    char root[] = "/tmp/bench-cluster-XXXXXX";
    if (mkdtemp(root) == NULL) return 1;
    char config[4096], dir[600], bootstrap[256];

    /* The reference: one node, acks=1 (P1). */
    unsigned port = free_port();
    snprintf(dir, sizeof(dir), "%s/single", root);
    mkdir(dir, 0755);
    snprintf(config, sizeof(config),
             "node.id=1\nlisteners=PLAINTEXT://127.0.0.1:%u\nlog.dirs=%s/data\n", port, dir);
    pid_t single = spawn(triald, dir, config);
    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%u", port);
    fprintf(stderr, "bench: single node, acks=1...\n");
    double p1 = produce_rate(bootstrap, "p1", n, "1");
    stop(single);

    /* Three combined nodes, RF=3, acks=all, min.insync.replicas=2 (P6). */
    unsigned ports[NODES], cports[NODES];
    for (int i = 0; i < NODES; i++) {
        ports[i] = free_port();
        cports[i] = free_port();
    }
    char voters[256];
    size_t v = 0;
    for (int i = 0; i < NODES; i++) {
        v += (size_t)snprintf(voters + v, sizeof(voters) - v, "%s%d@127.0.0.1:%u",
                              i > 0 ? "," : "", i + 1, cports[i]);
    }
    pid_t pids[NODES];
    size_t b = 0;
    for (int i = 0; i < NODES; i++) {
        snprintf(dir, sizeof(dir), "%s/n%d", root, i + 1);
        mkdir(dir, 0755);
        snprintf(config, sizeof(config),
                 "process.roles=broker,controller\nnode.id=%d\n"
                 "listeners=PLAINTEXT://127.0.0.1:%u,CONTROLLER://127.0.0.1:%u\n"
                 "advertised.listeners=PLAINTEXT://127.0.0.1:%u\n"
                 "controller.listener.names=CONTROLLER\ncontroller.quorum.voters=%s\n"
                 "log.dirs=%s/data\ndefault.replication.factor=3\nmin.insync.replicas=2\n"
                 "offsets.topic.replication.factor=3\n",
                 i + 1, ports[i], cports[i], ports[i], voters, dir);
        pids[i] = spawn(triald, dir, config);
        b += (size_t)snprintf(bootstrap + b, sizeof(bootstrap) - b, "%s127.0.0.1:%u",
                              i > 0 ? "," : "", ports[i]);
    }
    fprintf(stderr, "bench: three nodes, RF=3, acks=all...\n");
    double p6 = produce_rate(bootstrap, "p6", n, "all");
    for (int i = 0; i < NODES; i++) stop(pids[i]);

    printf("%-40s %14s %-8s %14s %8s\n", "figure", "value", "unit", "reference", "ratio");
    printf("%-40s %14.0f %-8s %14.0f %8.2f\n", "P6 produce 100B RF=3 acks=all (vs P1)", p6,
           "rec/s", p1, p1 > 0 ? p6 / p1 : 0);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", root);
    return 0;
}
