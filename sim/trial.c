/*
 * trial.c — the `trial` program: the simulator's command line (a thin main).
 *
 *   trial selftest --seed N [-v] [--break NAME] [--nodes N] [--duration-s S] [--bitflips]
 *
 * runs the world's own stress workload and contract checks (sim/selftest.h). The last line
 * of output is `trace-hash <16 hex digits>`; the exit status is 0 when every contract held.
 * A SIGABRT handler prints the seed and the command that reproduces the run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/selftest.h"
#include "sim/sim.h"

static int usage(void) {
    fprintf(stderr, "usage: trial selftest --seed N [-v]\n"
                    "                      [--break keep-unsynced|dup-bytes|early-timer|assert]\n"
                    "                      [--nodes N] [--duration-s S] [--bitflips]\n");
    return 2;
}

static int parse_u64(const char *s, uint64_t *out) {
    if (s == NULL || *s == '\0') return -EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || *end != '\0' || s[0] == '-') return -EINVAL;
    *out = (uint64_t)v;
    return 0;
}

static int cmd_selftest(int argc, char **argv) {
    struct sim_selftest_options options;
    memset(&options, 0, sizeof(options));
    bool have_seed = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t value = 0;
        if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) {
            options.verbose = true;
        } else if (strcmp(arg, "--bitflips") == 0) {
            options.bitflips = true;
        } else if (strcmp(arg, "--seed") == 0 && parse_u64(next, &options.seed) == 0) {
            have_seed = true;
            i++;
        } else if (strcmp(arg, "--break") == 0 && next != NULL &&
                   sim_break_parse(next, &options.broken) == 0) {
            i++;
        } else if (strcmp(arg, "--nodes") == 0 && parse_u64(next, &value) == 0 && value >= 2 &&
                   value <= 8) {
            options.nodes = (uint32_t)value;
            i++;
        } else if (strcmp(arg, "--duration-s") == 0 && parse_u64(next, &value) == 0 && value >= 1 &&
                   value <= 3600) {
            options.duration_ns = value * 1000000000ULL;
            i++;
        } else {
            fprintf(stderr, "trial selftest: bad argument '%s'\n", arg);
            return usage();
        }
    }
    if (!have_seed) return usage();

    char repro[256];
    int n = snprintf(repro, sizeof(repro), "trial selftest --seed %" PRIu64, options.seed);
    for (int i = 0; i < argc && n > 0 && (size_t)n < sizeof(repro); i++) {
        if (strcmp(argv[i], "--seed") == 0) {
            i++;
            continue;
        }
        n += snprintf(repro + n, sizeof(repro) - (size_t)n, " %s", argv[i]);
    }
    sim_install_abort_handler(options.seed, repro);

    struct sim_selftest_result result;
    int rc = sim_selftest_run(&options, &result);
    printf("%s\n", rc == 0 ? "selftest: every contract held" : "selftest: FAILED");
    printf("trace-hash %016" PRIx64 "\n", result.trace_hash);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    if (strcmp(argv[1], "selftest") == 0) return cmd_selftest(argc - 2, argv + 2);
    fprintf(stderr, "trial: unknown command '%s'\n", argv[1]);
    return usage();
}
