/* libfault: a shared library whose functions fault on purpose. */
#ifndef LIBFAULT_H
#define LIBFAULT_H
#include <stdint.h>

/* Writes through the given address; announces it on stdout first. */
void fault_lib_write(volatile int *where);
/* Returns a value that depends on a few calls, so tests have a known symbol to find. */
int fault_lib_compute(int x);

#endif
