/*
 * base.c — the assertion failure path. Writing to stderr and aborting is the one thing
 * system/ may do without the io handle: the handle may be the thing that is broken.
 */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void base_assert_fail(const char *file, int line, const char *expr) {
    fprintf(stderr, "ASSERT failed: %s:%d: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}
