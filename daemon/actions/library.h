/* library: a fix library loaded into a running process by a call of the process's own
 * dlopen, and unloaded by its dlclose, the way libpulp does: every thread held
 * (hold.h), and none inside malloc or the dynamic loader (their stacks unwound with
 * CFI), whose locks the call takes: a thread held there may hold one (the libpulp
 * deadlock).
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
 * in *handle. -EBUSY: a thread is inside malloc or the loader (err names it; let the
 * threads run and try again); -ENOENT: the process maps no C library with dlopen;
 * -ELIBBAD: dlopen failed (err has dlerror's words). */
int library_load(struct hold *h, const char *path, uint64_t *handle, char *err, size_t err_len);

/* Unload the library of handle, mapped from path, from the process h holds: dlclose,
 * once no thread has a frame inside it. -EBUSY: a thread is inside it, malloc or the
 * loader (err names it); the errors of library_load. */
int library_unload(struct hold *h, const char *path, uint64_t handle, char *err, size_t err_len);

#endif
