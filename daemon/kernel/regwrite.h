/* regwrite: whether this kernel lets a uprobe program write the user registers (Linux
 * 6.18 allows ax, ip and sp), the mechanism that overrides a function without touching
 * its text, conditionally per call and without ptrace. Probed by loading a program of
 * three instructions that writes ax: a kernel that refuses it (a locked-down one does)
 * says why in its verifier log. */
#ifndef SALVE_REGWRITE_H
#define SALVE_REGWRITE_H

#include <stdbool.h>
#include <stddef.h>

/* true when the program loads; else false, and why holds the kernel's reason. */
bool regwrite_probe(char *why, size_t len);

#endif
