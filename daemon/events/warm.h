/* warm: the files a policy set's stacks will be named in, read before the first record
 * needs them.
 *
 * The first frame named in a file waits for its symbols, its debug file and its DWARF
 * (for a C library with its compressed debug file, tens of milliseconds). Under a storm
 * that wait is longer than the kernel's ring holds records for, and records are lost
 * that a warm salved keeps up with. So when a set comes into force, the binaries that
 * probes with stacks watch are read, with the libraries they need (DT_NEEDED, found as
 * the loader finds them, two levels deep): an in-scope binary and its C library are what
 * a storm's stacks pass through. Host-wide probes name no binary: nothing is read ahead
 * for them. */
#ifndef SALVE_WARM_H
#define SALVE_WARM_H

#include <stddef.h>

#include "policy/policy.h"
#include "symbols/symbolize.h"

#define WARM_FILES_MAX 32

/* Read ahead with sym the files of set's stack-carrying probes; how many were read. */
size_t warm_stacks(struct symbolizer *sym, const struct policy_set *set);

#endif
