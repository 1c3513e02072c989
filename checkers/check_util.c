/*
 * check_util.c — topic interning for the checkers (see check_internal.h).
 */
#include "checkers/check_internal.h"

#include "base/base.h"

#include <stdlib.h>
#include <string.h>

static int topic_cmp(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

void topic_ranks_init(struct topic_ranks *r, const struct history *h) {
    ASSERT(r != NULL);
    memset(r, 0, sizeof(*r));
    size_t cap = 0;
    const char *last = NULL;
    for (size_t i = 0; h != NULL && i < h->count; i++) {
        const char *t = h->ops[i].topic;
        if (t == NULL || (last != NULL && strcmp(t, last) == 0)) continue;
        last = t;
        bool seen = false;
        /* Linear: a run has a handful of topics. */
        for (size_t j = 0; j < r->count && !seen; j++)
            seen = strcmp(r->names[j], t) == 0;
        if (seen) continue;
        if (r->count == cap) {
            cap = cap == 0 ? 8 : cap * 2;
            r->names = realloc(r->names, cap * sizeof(*r->names));
            ASSERT(r->names != NULL);
        }
        r->names[r->count++] = t;
    }
    if (r->count > 1) qsort(r->names, r->count, sizeof(*r->names), topic_cmp);
}

void topic_ranks_free(struct topic_ranks *r) {
    free(r->names);
    memset(r, 0, sizeof(*r));
}

uint32_t topic_rank(struct topic_ranks *r, const char *topic) {
    ASSERT(r->count > 0 && topic != NULL);
    if (strcmp(r->names[r->last], topic) == 0) return (uint32_t)r->last;
    size_t left = 0, right = r->count;
    while (left < right) {
        size_t mid = left + (right - left) / 2;
        int c = strcmp(r->names[mid], topic);
        if (c == 0) {
            r->last = mid;
            return (uint32_t)mid;
        }
        if (c < 0)
            left = mid + 1;
        else
            right = mid;
    }
    UNREACHABLE(); /* Not a topic of this history. */
}
