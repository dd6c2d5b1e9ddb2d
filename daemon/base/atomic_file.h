/* atomic_file: a small state file replaced whole, so that a crash at any moment leaves
 * the old contents or the new, never half of either. */
#ifndef SALVE_ATOMIC_FILE_H
#define SALVE_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Write text and a newline to name.tmp in directory dirfd, sync it, rename it over name,
 * sync the directory. 0 or -errno. */
int atomic_file_write(int dirfd, const char *name, const char *text);

/* Replace the file at path with len bytes of data, mode mode whatever the umask, through
 * path.tmp in the same directory and a rename: a reader sees the old file or the new,
 * whole. Not synced: for a file made again and again (a metrics page), which a crash
 * may leave old but never half written. 0 or -errno; path.tmp goes on failure. */
int atomic_file_replace(const char *path, const char *data, size_t len, mode_t mode);

#endif
