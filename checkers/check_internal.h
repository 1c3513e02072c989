/*
 * check_internal.h — helpers shared by the checkers, not part of the public interface.
 *
 * Topic interning: checkers sort millions of (topic, partition, offset) keys, and comparing
 * topic strings in every comparison dominated their running time. Each distinct topic of a
 * history gets a rank in byte-wise name order, so comparing ranks orders exactly as
 * comparing names would (deterministic, never by pointer) at the cost of an integer compare.
 */
#ifndef TRIAL_CHECKERS_CHECK_INTERNAL_H
#define TRIAL_CHECKERS_CHECK_INTERNAL_H

#include "checkers/history.h"

#include <stddef.h>
#include <stdint.h>

struct topic_ranks {
    const char **names; /* Distinct topic names of the history, sorted. */
    size_t count;
    size_t last; /* Index of the last lookup: consecutive ops mostly share a topic. */
};

/* Collects and sorts the distinct topics of every op in `h`. */
void topic_ranks_init(struct topic_ranks *r, const struct history *h);
void topic_ranks_free(struct topic_ranks *r);
/* The rank of `topic`, which must be a topic of the history. */
uint32_t topic_rank(struct topic_ranks *r, const char *topic);

#endif /* TRIAL_CHECKERS_CHECK_INTERNAL_H */
