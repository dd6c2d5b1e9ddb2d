/* Test helper: this thread's registers and this process's executable mappings as a
 * snapshot record carries them, for tests and benches that unwind their own stack as
 * salved unwinds a record's. */
#ifndef SALVE_TEST_SELF_MAPS_H
#define SALVE_TEST_SELF_MAPS_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <salve/event.h>

/* The caller's own registers as a snapshot holds them (enum salve_reg): sp, the
 * callee-saved ones, and an ip inside the caller. A macro, so they are the caller's. */
#define SELF_REGS(r)                                                                            \
	__asm__ volatile("lea 0(%%rip), %0\n\t"                                                  \
			 "mov %%rsp, %1\n\t"                                                      \
			 "mov %%rbp, %2\n\t"                                                      \
			 "mov %%rbx, %3\n\t"                                                      \
			 "mov %%r12, %4\n\t"                                                      \
			 "mov %%r13, %5\n\t"                                                      \
			 "mov %%r14, %6\n\t"                                                      \
			 "mov %%r15, %7\n\t"                                                      \
			 : "=r"((r)[SALVE_REG_IP]), "=m"((r)[SALVE_REG_SP]), "=m"((r)[SALVE_REG_BP]),   \
			   "=m"((r)[SALVE_REG_BX]), "=m"((r)[SALVE_REG_R12]),                         \
			   "=m"((r)[SALVE_REG_R13]), "=m"((r)[SALVE_REG_R14]), "=m"((r)[SALVE_REG_R15]))

/* path as the kernel writes it: components leaf first, each followed by '/'. */
static inline void kernel_path(const char *path, char out[SALVE_PATH_MAX])
{
	char copy[PATH_MAX], *parts[64];
	size_t n = 0, len = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	for (char *save, *p = strtok_r(copy, "/", &save); p && n < 64; p = strtok_r(NULL, "/", &save))
		parts[n++] = p;
	memset(out, 0, SALVE_PATH_MAX);
	while (n-- && len < SALVE_PATH_MAX)
		len += (size_t)snprintf(out + len, SALVE_PATH_MAX - len, "%s/", parts[n]);
}

/* The executable file mappings into s (after it, as in a record), and the end of the
 * mapping holding sp, as the kernel's walk finds them. 0 or -errno. */
static inline int self_maps(struct salve_snapshot *s, uint64_t sp, uint64_t *sp_end)
{
	struct salve_map *maps = (struct salve_map *)(s + 1);
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128];
	long page = sysconf(_SC_PAGESIZE);

	if (!f)
		return -errno;
	s->nr_maps = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off, ino;
		unsigned int maj, min;
		char perms[8], path[PATH_MAX] = "";

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %4095s", &start, &end, perms, &off, &maj,
			   &min, &ino, path) < 7)
			continue;
		if (start <= sp && sp < end)
			*sp_end = end;
		if (perms[2] != 'x' || path[0] != '/' || s->nr_maps >= SALVE_MAPS_MAX)
			continue;
		maps[s->nr_maps] = (struct salve_map){ .start = start, .end = end,
						       .pgoff = off / (uint64_t)page };
		maps[s->nr_maps].file.dev = ((uint64_t)maj << 20) | min;
		maps[s->nr_maps].file.ino = ino;
		kernel_path(path, maps[s->nr_maps].file.path);
		s->nr_maps++;
	}
	fclose(f);
	return 0;
}

#endif
