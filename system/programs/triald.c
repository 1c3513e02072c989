/*
 * triald.c — the real-world broker: `triald server.properties [--override key=value]...`.
 *
 * Reads Kafka's server.properties (unknown keys warned, invalid values fatal), runs the
 * broker on the io_posix event loop, and shuts down cleanly on SIGTERM/SIGINT: a controlled
 * shutdown first (the controller moves this broker's leaderships), then every log is
 * flushed and marked clean, checkpoints written. After kill -9 the next start recovers
 * (log recovery scans unclean segments).
 *
 * Signals arrive through io_posix_watch_signals (a signalfd on the loop), so shutdown runs
 * as an ordinary callback. Like every file of system/, this main reaches files and memory
 * only through the io handle.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/config.h"
#include "io/io.h"
#include "io/io_posix.h"

#define TRIALD_CONFIG_BYTES_MAX (1u << 20)

struct triald {
    struct io *io;
    struct broker *broker;
    bool shutting_down;
};

static void triald_shutdown_done(void *arg, bool granted) {
    struct triald *d = arg;
    (void)granted;
    io_posix_stop(d->io);
}

/* The first SIGTERM/SIGINT asks for a controlled shutdown (leaderships move to other
 * brokers first, bounded by controller.quorum.request.timeout.ms); a second one stops now. */
static void triald_on_signal(void *arg, int signo) {
    struct triald *d = arg;
    io_log(d->io, IO_LOG_INFO, "signal %d received: shutting down", signo);
    if (!d->shutting_down && d->broker != NULL) {
        d->shutting_down = true;
        if (broker_shutdown(d->broker, triald_shutdown_done, d) == 0) return;
    }
    io_posix_stop(d->io);
}

static void triald_warn(void *arg, const char *message) {
    (void)arg;
    fprintf(stderr, "triald: warning: %s\n", message);
}

/* Reads the whole file into io memory (TRIALD_CONFIG_BYTES_MAX bytes allocated; free with
 * that size). Returns 0 or -errno; -EFBIG when the file does not fit. */
static int read_file(struct io *io, const char *path, char **out, size_t *len) {
    struct io_file *file = NULL;
    int rc = io_file_open(io, path, IO_OPEN_READ, &file);
    if (rc < 0) return rc;
    char *buf = io_alloc(io, TRIALD_CONFIG_BYTES_MAX);
    int64_t n = io_file_pread(io, file, buf, TRIALD_CONFIG_BYTES_MAX, 0);
    io_file_close(io, file);
    if (n >= 0 && (uint64_t)n == TRIALD_CONFIG_BYTES_MAX) n = -EFBIG;
    if (n < 0) {
        io_free(io, buf, TRIALD_CONFIG_BYTES_MAX);
        return (int)n;
    }
    *out = buf;
    *len = (size_t)n;
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: triald server.properties [--override key=value]...\n");
}

static int triald_main(struct triald *d, struct broker_config *config, int argc, char **argv);

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage();
        return 2;
    }
    struct triald d = {.io = io_posix_create()};
    struct broker_config *config = io_alloc(d.io, sizeof(*config)); /* Large: not on the stack. */
    int status = triald_main(&d, config, argc, argv);
    io_free(d.io, config, sizeof(*config));
    io_posix_destroy(d.io);
    return status;
}

static int triald_main(struct triald *d, struct broker_config *config, int argc, char **argv) {
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    broker_config_defaults(config);
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(d->io, argv[1], &text, &len);
    if (rc < 0) {
        fprintf(stderr, "triald: cannot read %s: %s\n", argv[1], strerror(-rc));
        return 1;
    }
    /* Overrides are appended as extra lines, so they win and go through the same checks. */
    rc = broker_config_parse(config, text, len, triald_warn, NULL, error);
    io_free(d->io, text, TRIALD_CONFIG_BYTES_MAX);
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
        rc = broker_config_set(config, kv, eq + 1, triald_warn, NULL, error);
        if (rc > 0) rc = 0;
        if (rc == 0 && i + 1 >= argc) rc = broker_config_finish(config, error);
    }
    if (rc < 0) {
        fprintf(stderr, "triald: invalid configuration in %s: %s\n", argv[1], error);
        return 1;
    }

    /* A peer that closes mid-response must not kill the broker: writes get EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    const int stop_signals[] = {SIGTERM, SIGINT};
    rc = io_posix_watch_signals(d->io, stop_signals, 2, triald_on_signal, d);
    if (rc < 0) {
        fprintf(stderr, "triald: cannot watch signals: %s\n", strerror(-rc));
        return 1;
    }
    rc = broker_start(d->io, config, &d->broker);
    if (rc < 0) {
        fprintf(stderr, "triald: cannot start: %s\n", strerror(-rc));
        return 1;
    }
    /* Tests wait for this line (and read the port from it with port 0). A controller-only
     * node (process.roles=controller) has no client port: it names its controller's. */
    if (broker_port(d->broker) == 0 && broker_controller_port(d->broker) != 0) {
        fprintf(stderr, "triald: started node %d on port %u (controller)\n", config->node_id,
                broker_controller_port(d->broker));
    } else {
        fprintf(stderr, "triald: started node %d on port %u\n", config->node_id,
                broker_port(d->broker));
    }
    rc = io_posix_run(d->io);
    if (rc < 0) fprintf(stderr, "triald: event loop failed: %s\n", strerror(-rc));
    int stop_rc = broker_stop(d->broker);
    if (stop_rc < 0) fprintf(stderr, "triald: shutdown error: %s\n", strerror(-stop_rc));
    fprintf(stderr, "triald: stopped\n");
    return rc < 0 || stop_rc < 0 ? 1 : 0;
}
