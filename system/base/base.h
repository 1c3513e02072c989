/*
 * base.h — assertions and small helpers every module uses.
 *
 * ASSERT() stays on in every build (TigerStyle): a broken invariant of our own data is a
 * programmer error, and continuing would turn it into corrupted data or a wrong ack. It
 * prints file, line and expression to stderr and aborts; the simulator installs a SIGABRT
 * handler (in sim/, not here) that adds the seed and the reproduction command.
 */
#ifndef TRIAL_BASE_H
#define TRIAL_BASE_H

#include <stddef.h>
#include <stdint.h>

_Noreturn void base_assert_fail(const char *file, int line, const char *expr);

#define ASSERT(expr) ((expr) ? (void)0 : base_assert_fail(__FILE__, __LINE__, #expr))
/* Marks a branch that must never be taken. */
#define UNREACHABLE() base_assert_fail(__FILE__, __LINE__, "unreachable")

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

#endif /* TRIAL_BASE_H */
