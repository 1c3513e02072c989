/*
 * triald.c — the real-world broker: `triald server.properties [--override key=value]...`.
 *
 * Reads Kafka's server.properties (unknown keys warned, invalid values fatal), runs the
 * broker on the io_posix event loop, and shuts down cleanly on SIGTERM/SIGINT: every log is
 * flushed and marked clean, checkpoints written. After kill -9 the next start recovers
 * (log recovery scans unclean segments).
 *
 * Signals: io_posix has no signal hook, so the handler only sets a flag and a 50 ms io
 * timer turns it into io_posix_stop(). (A programs/ file may use POSIX directly.)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/config.h"
#include "io/io.h"
#include "io/io_posix.h"

#define TRIALD_SIGNAL_POLL_MS 50
#define TRIALD_CONFIG_BYTES_MAX (1u << 20)

static volatile sig_atomic_t triald_stop_requested;

static void triald_on_signal(int signo) {
    (void)signo;
    triald_stop_requested = 1;
}

struct triald {
    struct io *io;
    struct broker *broker;
};

static void triald_poll_signal(void *arg) {
    struct triald *d = arg;
    if (triald_stop_requested) {
        io_log(d->io, IO_LOG_INFO, "signal received: shutting down");
        io_posix_stop(d->io);
        return;
    }
    io_timer_start(d->io, io_now_ns(d->io) + TRIALD_SIGNAL_POLL_MS * 1000000ULL,
                   triald_poll_signal, d);
}

static void triald_warn(void *arg, const char *message) {
    (void)arg;
    fprintf(stderr, "triald: warning: %s\n", message);
}

static int read_file(const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return -errno;
    char *buf = malloc(TRIALD_CONFIG_BYTES_MAX);
    if (buf == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, TRIALD_CONFIG_BYTES_MAX, f);
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    if (err == 0 && n == TRIALD_CONFIG_BYTES_MAX) err = -EFBIG;
    if (err < 0) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = n;
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: triald server.properties [--override key=value]...\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage();
        return 2;
    }
    static struct broker_config config; /* Large; one per process here. */
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    broker_config_defaults(&config);
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(argv[1], &text, &len);
    if (rc < 0) {
        fprintf(stderr, "triald: cannot read %s: %s\n", argv[1], strerror(-rc));
        return 1;
    }
    /* Overrides are appended as extra lines, so they win and go through the same checks. */
    rc = broker_config_parse(&config, text, len, triald_warn, NULL, error);
    free(text);
    for (int i = 2; rc == 0 && i < argc; i++) {
        if (strcmp(argv[i], "--override") != 0 || i + 1 >= argc) {
            usage();
            return 2;
        }
        char kv[2 * BROKER_CONFIG_STRING_MAX];
        snprintf(kv, sizeof(kv), "%s", argv[++i]);
        char *eq = strchr(kv, '=');
        if (eq == NULL) {
            usage();
            return 2;
        }
        *eq = '\0';
        rc = broker_config_set(&config, kv, eq + 1, triald_warn, NULL, error);
        if (rc > 0) rc = 0;
        if (rc == 0 && i + 1 >= argc) rc = broker_config_finish(&config, error);
    }
    if (rc < 0) {
        fprintf(stderr, "triald: invalid configuration in %s: %s\n", argv[1], error);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = triald_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct triald d = {.io = io_posix_create()};
    rc = broker_start(d.io, &config, &d.broker);
    if (rc < 0) {
        fprintf(stderr, "triald: cannot start: %s\n", strerror(-rc));
        io_posix_destroy(d.io);
        return 1;
    }
    /* Tests wait for this line (and read the port from it with port 0). */
    fprintf(stderr, "triald: started node %d on port %u\n", config.node_id,
            broker_port(d.broker));
    io_timer_start(d.io, io_now_ns(d.io) + TRIALD_SIGNAL_POLL_MS * 1000000ULL,
                   triald_poll_signal, &d);
    rc = io_posix_run(d.io);
    if (rc < 0) fprintf(stderr, "triald: event loop failed: %s\n", strerror(-rc));
    int stop_rc = broker_stop(d.broker);
    if (stop_rc < 0) fprintf(stderr, "triald: shutdown error: %s\n", strerror(-stop_rc));
    io_posix_destroy(d.io);
    fprintf(stderr, "triald: stopped\n");
    return rc < 0 || stop_rc < 0 ? 1 : 0;
}
