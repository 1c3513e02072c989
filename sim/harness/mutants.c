/*
 * mutants.c — the mutant registry and `trial mutants` (see swarm.h and base/mutant.h).
 *
 * To add a mutant: put `if (MUTANT(io, "name")) { ...the bug... }` at its site in system/
 * (the file must be in one of the libraries sim/CMakeLists.txt rebuilds with
 * -DTRIAL_MUTANTS), add a row here, and add `catches name I-X-N` to a scenario that must
 * catch it. docs/HARNESS.md has the steps.
 */
#include "sim/harness/swarm.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

#define MUTANTS_SCENARIOS_MAX 256

static const struct mutant_info registry[] = {
    {.name = "ack-before-flush",
     .site = "system/log/log.c append_batches",
     .description = "an append returns (and acks=all is acknowledged) before the flush "
                    "policy's fsync, which waits for the next append"},
    {.name = "recovery-skips-crc",
     .site = "system/log/log.c segment_recover",
     .description = "crash recovery keeps a batch whose CRC fails (a torn write whose "
                    "header survived) instead of cutting the log there"},
    {.name = "fetch-skips-record",
     .site = "system/client/consumer.c on_fetch",
     .description = "the consumer's next fetch starts one record past the last one it "
                    "returned"},
    /* Replication mutants: only multi-node scenarios can show them. */
    {.name = "truncate-to-hw",
     .site = "system/partition/fetcher.c step",
     .description = "a follower truncates to its own high watermark instead of asking the "
                    "leader where its epoch ends (pre-KIP-101)"},
    {.name = "hw-before-truncate",
     .site = "system/partition/fetcher.c fetch_wanted",
     .description = "a follower fetches, and applies the leader's high watermark, before "
                    "truncating its divergent tail (KAFKA-14704)"},
    {.name = "isr-join-ignores-epoch-start",
     .site = "system/partition/partition.c partition_isr_proposal_filtered",
     .description = "a leader admits a follower to the ISR on LEO >= HW before its HW has "
                    "reached the start of its epoch (KAFKA-7128)"},
    {.name = "no-elr",
     .site = "system/controller/controller.c partition_reelect",
     .description = "pre-KIP-966: no eligible leader replicas, and a broker that restarted "
                    "after losing its unsynced tail is trusted like one that never left"},
};

size_t mutants_registry(const struct mutant_info **out) {
    *out = registry;
    return ARRAY_LEN(registry);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* True when `inv` is one of the space-separated names in `list`. */
static bool listed(const char *list, const char *inv) {
    size_t n = strlen(inv);
    for (const char *p = list; (p = strstr(p, inv)) != NULL; p += n) {
        bool start = p == list || p[-1] == ' ';
        bool end = p[n] == '\0' || p[n] == ' ';
        if (start && end) return true;
    }
    return false;
}

int mutants_run(const char *const *dirs, size_t dir_count, FILE *out) {
    char *names[MUTANTS_SCENARIOS_MAX];
    size_t count = 0;
    for (size_t k = 0; k < dir_count; k++) {
        DIR *d = opendir(dirs[k]);
        if (d == NULL) {
            fprintf(out, "trial mutants: cannot open %s\n", dirs[k]);
            return 1;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL && count < MUTANTS_SCENARIOS_MAX) {
            size_t n = strlen(e->d_name);
            if (n <= 4 || strcmp(e->d_name + n - 4, ".scn") != 0) continue;
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s", dirs[k], e->d_name);
            names[count++] = strdup(path);
        }
        closedir(d);
    }
    qsort(names, count, sizeof(names[0]), cmp_names);

    int bad = 0;
    fprintf(out, "%-28s %-36s %-10s %-12s %-10s %s\n", "mutant", "scenario", "invariant",
            "with mutant", "without", "verdict");
    const struct mutant_info *reg;
    size_t reg_count = mutants_registry(&reg);
    for (size_t m = 0; m < reg_count; m++) {
        bool caught_once = false;
        for (size_t i = 0; i < count; i++) {
            const char *path = names[i];
            const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
            struct scenario s;
            char err[512];
            if (scn_parse_file(path, &s, err, sizeof(err)) < 0) continue;
            for (size_t c = 0; c < s.catch_count; c++) {
                if (strcmp(s.catches[c].mutant, reg[m].name) != 0) continue;
                const char *inv = s.catches[c].invariant;
                struct harness_options on = {
                    .mutant = reg[m].name, .scenario_path = path, .quiet = true};
                struct harness_options off = {.scenario_path = path, .quiet = true};
                struct harness_result ron, roff;
                harness_run_isolated(&s, &on, &ron);
                harness_run_isolated(&s, &off, &roff);
                bool caught = listed(ron.violated, inv);
                bool clean = roff.exit_code == HARNESS_EXIT_PASS;
                char with[64];
                snprintf(with, sizeof(with), "%s", caught ? "caught" : "SURVIVED");
                if (caught) caught_once = true;
                if (!clean || !caught) bad++;
                fprintf(out, "%-28s %-36s %-10s %-12s %-10s %s\n", reg[m].name, base, inv, with,
                        clean ? "pass" : harness_exit_name(roff.exit_code),
                        caught && clean ? "ok" : "FAIL");
            }
        }
        if (!caught_once) {
            fprintf(out, "%-28s %-36s %-10s %-12s %-10s %s\n", reg[m].name, "(none)", "-",
                    "SURVIVED", "-", "FAIL: no scenario catches it");
            bad++;
        }
    }
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    return bad;
}
