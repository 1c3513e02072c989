/*
 * trial.c — the `trial` program: the simulator's command line (a thin main).
 *
 *   trial selftest --seed N [-v] [--break NAME] [--nodes N] [--duration-s S] [--bitflips]
 *
 * runs the world's own stress workload and contract checks (sim/selftest.h). The last line
 * of output is `trace-hash <16 hex digits>`; the exit status is 0 when every contract held.
 * A SIGABRT handler prints the seed and the command that reproduces the run.
 *
 *   trial run FILE [--seed N] [--report-dir D] [--mutant NAME] [-v]
 *   trial swarm [--seeds A..B] [--out DIR] [--jobs J] [--mutant NAME]
 *               [--single-node | --multi-node] | --show SEED
 *   trial replay REPORT_DIR
 *   trial mutants [--dir SCENARIO_DIR]
 *
 * run the harness (sim/harness/harness.h: exit codes 0 pass, 1 safety, 2 liveness, 3 system
 * crash, 4 expected violation missed, 5 cannot run; docs/HARNESS.md). Each run and replay
 * ends with `trace-hash <hex>`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/harness/harness.h"
#include "sim/harness/swarm.h"
#include "sim/selftest.h"
#include "sim/sim.h"

static int usage(void) {
    fprintf(stderr, "usage: trial selftest --seed N [-v]\n"
                    "                      [--break keep-unsynced|dup-bytes|early-timer|assert]\n"
                    "                      [--nodes N] [--duration-s S] [--bitflips]\n"
                    "       trial run FILE [--seed N] [--report-dir D] [--mutant NAME] [-v]\n"
                    "       trial swarm [--seeds A..B] [--out DIR] [--jobs J] [--mutant NAME]\n"
                    "                   [--single-node | --multi-node]\n"
                    "       trial swarm [--single-node | --multi-node] --show SEED\n"
                    "       trial replay REPORT_DIR\n"
                    "       trial mutants [--dir SCENARIO_DIR]...\n");
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

/* --- run / replay ------------------------------------------------------------------------- */

/* Runs one scenario file and prints the verdict; the last line is the trace hash. */
static int run_file(const char *file, const struct harness_options *base, uint64_t *hash_out) {
    struct scenario scn;
    char err[512];
    if (scn_parse_file(file, &scn, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        printf("result: cannot run (exit %d)\ntrace-hash none\n", HARNESS_EXIT_CANNOT_RUN);
        return HARNESS_EXIT_CANNOT_RUN;
    }
    struct harness_options o = *base;
    o.scenario_path = file;
    uint64_t seed = o.has_seed ? o.seed : (scn.has_seed ? scn.seed : 1);
    char dir[1024];
    if (o.report_dir == NULL) {
        snprintf(dir, sizeof(dir), "out/reports/%s-seed%" PRIu64 "%s%s", scn.name, seed,
                 o.mutant != NULL ? "-" : "", o.mutant != NULL ? o.mutant : "");
        o.report_dir = dir;
    }
    char repro[512];
    snprintf(repro, sizeof(repro), "trial run %s --seed %" PRIu64 "%s%s", file, seed,
             o.mutant != NULL ? " --mutant " : "", o.mutant != NULL ? o.mutant : "");
    sim_install_abort_handler(seed, repro);
    char why[512];
    if (!harness_supported(&scn, why, sizeof(why))) {
        printf("%s: cannot run: %s\n", file, why);
        printf("result: cannot run (exit %d)\n", HARNESS_EXIT_CANNOT_RUN);
        printf("trace-hash none\n");
        return HARNESS_EXIT_CANNOT_RUN;
    }
    if (harness_mkdir_p(o.report_dir) < 0) {
        fprintf(stderr, "trial run: cannot create %s\n", o.report_dir);
        printf("result: cannot run (exit %d)\ntrace-hash none\n", HARNESS_EXIT_CANNOT_RUN);
        return HARNESS_EXIT_CANNOT_RUN;
    }
    struct harness_result r;
    harness_run_isolated(&scn, &o, &r);
    printf("scenario %s seed %" PRIu64 "%s%s: %" PRIu64 " events, %.1f virtual s, %zu ops "
           "(%zu acked, %zu records read, %zu verified)\n",
           scn.name, seed, o.mutant != NULL ? " mutant " : "", o.mutant != NULL ? o.mutant : "",
           r.events, (double)r.virtual_ns / 1e9, r.ops, r.produced_ok, r.records_read,
           r.records_verified);
    if (r.violations > 0) printf("violated: %s\n", r.violated);
    if (r.allowed[0] != '\0') {
        printf("allowed by unclean.leader.election.enable=true (losses per invariant): %s\n",
               r.allowed);
    }
    printf("%s\n", r.summary);
    if (r.report_written) printf("report: %s/report.txt (and .json, .html)\n", r.report_dir);
    else rmdir(o.report_dir); /* Only when empty: nothing to report. */
    printf("reproduce: %s\n", repro);
    printf("result: %s (exit %d)\n", harness_exit_name(r.exit_code), (int)r.exit_code);
    if (r.exit_code == HARNESS_EXIT_CRASH && r.trace_hash == 0) {
        printf("trace-hash unknown\n");
    } else {
        printf("trace-hash %016" PRIx64 "\n", r.trace_hash);
    }
    fflush(stdout);
    if (hash_out != NULL) *hash_out = r.trace_hash;
    return (int)r.exit_code;
}

static int cmd_run(int argc, char **argv) {
    struct harness_options o;
    memset(&o, 0, sizeof(o));
    const char *file = NULL;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0) {
            o.verbose = true;
        } else if (strcmp(arg, "--seed") == 0 && parse_u64(next, &o.seed) == 0) {
            o.has_seed = true;
            i++;
        } else if (strcmp(arg, "--report-dir") == 0 && next != NULL) {
            o.report_dir = next;
            i++;
        } else if (strcmp(arg, "--mutant") == 0 && next != NULL) {
            o.mutant = next;
            i++;
        } else if (strcmp(arg, "--dump-trace") == 0 && next != NULL) {
            o.trace_dump = next; /* Every trace event, one line each (debugging). */
            i++;
        } else if (strcmp(arg, "--no-heal") == 0) {
            o.no_heal = true; /* Tests of the liveness exit code. */
        } else if (strcmp(arg, "--break") == 0 && next != NULL) {
            enum sim_break b;
            if (sim_break_parse(next, &b) < 0) {
                fprintf(stderr, "trial run: unknown --break '%s'\n", next);
                return HARNESS_EXIT_CANNOT_RUN;
            }
            o.sim_break = (int)b; /* Tests of the crash exit code. */
            i++;
        } else if (arg[0] != '-' && file == NULL) {
            file = arg;
        } else {
            fprintf(stderr, "trial run: bad argument '%s'\n", arg);
            usage();
            return HARNESS_EXIT_CANNOT_RUN;
        }
    }
    if (file == NULL) {
        usage();
        return HARNESS_EXIT_CANNOT_RUN;
    }
    return run_file(file, &o, NULL);
}

static int cmd_replay(int argc, char **argv) {
    if (argc != 1) {
        usage();
        return HARNESS_EXIT_CANNOT_RUN;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/replay.txt", argv[0]);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "trial replay: cannot read %s\n", path);
        return HARNESS_EXIT_CANNOT_RUN;
    }
    char mutant[128] = "-";
    char hash[64] = "";
    uint64_t seed = 0;
    char line[256];
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long long v;
        if (sscanf(line, "seed %llu", &v) == 1) seed = v;
        sscanf(line, "mutant %127s", mutant);
        sscanf(line, "trace-hash %63s", hash);
    }
    fclose(f);
    struct harness_options o;
    memset(&o, 0, sizeof(o));
    o.seed = seed;
    o.has_seed = true;
    o.mutant = strcmp(mutant, "-") == 0 ? NULL : mutant;
    char scn[1024], dir[1024];
    snprintf(scn, sizeof(scn), "%s/scenario.scn", argv[0]);
    snprintf(dir, sizeof(dir), "%s/replay", argv[0]);
    o.report_dir = dir;
    uint64_t got = 0;
    int rc = run_file(scn, &o, &got);
    char got_hex[32];
    snprintf(got_hex, sizeof(got_hex), "%016" PRIx64, got);
    if (strcmp(got_hex, hash) != 0) {
        printf("replay: trace hash %s differs from the report's %s: NOT reproduced\n", got_hex,
               hash);
        printf("trace-hash %s\n", got_hex);
        return HARNESS_EXIT_CANNOT_RUN;
    }
    printf("replay: same trace hash as the report: reproduced\n");
    printf("trace-hash %s\n", got_hex);
    return rc;
}

static int cmd_swarm(int argc, char **argv) {
    struct swarm_options o = {.first_seed = 1, .last_seed = 100, .out_dir = "out/swarm",
                              .jobs = 2, .progress = true};
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long a, b;
        uint64_t v;
        if (strcmp(arg, "--seeds") == 0 && next != NULL &&
            sscanf(next, "%llu..%llu", &a, &b) == 2 && a <= b) {
            o.first_seed = a;
            o.last_seed = b;
            i++;
        } else if (strcmp(arg, "--out") == 0 && next != NULL) {
            o.out_dir = next;
            i++;
        } else if (strcmp(arg, "--show") == 0 && parse_u64(next, &v) == 0) {
            /* Prints the scenario a seed draws, without running it. */
            struct scenario scn;
            swarm_generate_shaped(v, o.shape, &scn);
            static char text[1 << 16];
            scn_print(&scn, text, sizeof(text));
            fputs(text, stdout);
            return 0;
        } else if (strcmp(arg, "--mutant") == 0 && next != NULL) {
            o.mutant = next;
            i++;
        } else if (strcmp(arg, "--single-node") == 0) {
            o.shape = SWARM_SHAPE_SINGLE;
        } else if (strcmp(arg, "--multi-node") == 0) {
            o.shape = SWARM_SHAPE_MULTI;
        } else if (strcmp(arg, "--jobs") == 0 && parse_u64(next, &v) == 0 && v >= 1 && v <= 64) {
            o.jobs = (unsigned)v;
            i++;
        } else {
            fprintf(stderr, "trial swarm: bad argument '%s'\n", arg);
            return usage();
        }
    }
    struct swarm_summary s;
    uint64_t failures = swarm_run(&o, &s);
    printf("swarm: %" PRIu64 " seeds in %.1f s (%.1f seeds/s, %.0f virtual s), %" PRIu64
           " failures",
           s.seeds, s.wall_s, s.wall_s > 0 ? (double)s.seeds / s.wall_s : 0.0, s.virtual_s,
           s.failures);
    if (s.failures > 0) {
        printf(" (safety %" PRIu64 ", liveness %" PRIu64 ", crash %" PRIu64 ", other %" PRIu64
               "); failing seeds as .scn files in %s",
               s.by_exit[1], s.by_exit[2], s.by_exit[3], s.by_exit[4] + s.by_exit[5], o.out_dir);
    }
    printf("\n");
    return failures == 0 ? 0 : 1;
}

static int cmd_mutants(int argc, char **argv) {
    const char *dirs[8] = {TRIAL_SOURCE_DIR "/scenarios", TRIAL_SOURCE_DIR "/sim/harness/testdata"};
    size_t dir_count = 2;
    bool given = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc && (!given || dir_count < 8)) {
            if (!given) dir_count = 0;
            given = true;
            dirs[dir_count++] = argv[++i];
        } else {
            fprintf(stderr, "trial mutants: bad argument '%s'\n", argv[i]);
            return usage();
        }
    }
    int bad = mutants_run(dirs, dir_count, stdout);
    printf("mutants: %s\n", bad == 0 ? "every mutant caught, every unmutated run passed"
                                     : "FAILED (a mutant survived or an unmutated run failed)");
    return bad == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    if (strcmp(argv[1], "selftest") == 0) return cmd_selftest(argc - 2, argv + 2);
    if (strcmp(argv[1], "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "replay") == 0) return cmd_replay(argc - 2, argv + 2);
    if (strcmp(argv[1], "swarm") == 0) return cmd_swarm(argc - 2, argv + 2);
    if (strcmp(argv[1], "mutants") == 0) return cmd_mutants(argc - 2, argv + 2);
    fprintf(stderr, "trial: unknown command '%s'\n", argv[1]);
    return usage();
}
