/*
 * mutant.h — named, deliberate protocol bugs ("mutants") that exist only in the simulation
 * build, so `trial mutants` can prove each checker catches the bug it is meant to catch.
 *
 *     if (MUTANT(log->io, "ack-before-flush")) { ...the buggy path... }
 *
 * Without TRIAL_MUTANTS (triald, trialctl, every plain library) MUTANT() is the constant
 * false: the buggy branch is dead code the compiler removes, and the mutant's name never
 * reaches the binary (a ctest checks triald's strings). With TRIAL_MUTANTS (the libraries
 * the `trial` simulator links, built by sim/CMakeLists.txt) it asks the io whether the
 * world switched this mutant on (io_mutant; the sim answers from sim_world_set_mutant, any
 * other io says no). The registry of names and the scenarios that catch them lives in
 * sim/harness/mutants.c; docs/HARNESS.md says how to add one.
 */
#ifndef TRIAL_BASE_MUTANT_H
#define TRIAL_BASE_MUTANT_H

#include <stdbool.h>

#include "io/io.h"

#ifdef TRIAL_MUTANTS
#define MUTANT(io, name) io_mutant((io), (name))
#else
#define MUTANT(io, name) ((void)(io), false)
#endif

#endif /* TRIAL_BASE_MUTANT_H */
