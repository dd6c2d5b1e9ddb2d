/* library: a fix library loaded into a running process by a call of the process's own
 * dlopen, and unloaded by its dlclose, the way libpulp does: every thread held
 * (hold.h), the call made by a thread whose stack (unwound with CFI) is inside neither
 * malloc nor the dynamic loader, whose locks the call takes (the libpulp deadlock).
 *
 * Every function returns 0 or a negative errno; on error, err holds one sentence that
 * names the process and the library, cut to err_len. */
#ifndef SALVE_LIBRARY_H
#define SALVE_LIBRARY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "actions/hold.h"

/* Load path into process pid, whose threads h holds: dlopen(path, RTLD_NOW), its handle
 * in *handle. -EBUSY: every thread is inside malloc or the loader (err names one; let
 * them run and try again); -ENOENT: the process maps no C library with dlopen;
 * -ELIBBAD: dlopen failed (err has dlerror's words). */
int library_load(struct hold *h, const char *path, uint64_t *handle, char *err, size_t err_len);

/* Unload the library of handle, mapped from path, from the process h holds: dlclose,
 * once no thread has a frame inside it. -EBUSY: a thread is inside it or every thread is
 * inside malloc or the loader (err names it); the errors of library_load. */
int library_unload(struct hold *h, const char *path, uint64_t handle, char *err, size_t err_len);

#endif
