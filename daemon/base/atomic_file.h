/* atomic_file: a small state file replaced whole, so that a crash at any moment leaves
 * the old contents or the new, never half of either. */
#ifndef SALVE_ATOMIC_FILE_H
#define SALVE_ATOMIC_FILE_H

/* Write text and a newline to name.tmp in directory dirfd, sync it, rename it over name,
 * sync the directory. 0 or -errno. */
int atomic_file_write(int dirfd, const char *name, const char *text);

#endif
