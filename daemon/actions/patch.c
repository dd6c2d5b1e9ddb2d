/* patch: a hot patch of a running process's text, every thread stopped. */
#define _GNU_SOURCE
#include "actions/patch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/hex.h"

#define PATCH_TRIES 50 /* stops before a thread inside the bytes refuses */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int mem_open(pid_t pid, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	return open(path, flags | O_CLOEXEC);
}

int patch_read(pid_t pid, uint64_t addr, uint8_t *out, size_t len)
{
	int fd = mem_open(pid, O_RDONLY), r = 0;
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = pread(fd, out, len, (off_t)addr);
	if (n != (ssize_t)len)
		r = n < 0 ? -errno : -EFAULT;
	close(fd);
	return r == -EIO ? -EFAULT : r;
}

int patch_poke(pid_t pid, uint64_t addr, const uint8_t *expect, const uint8_t *bytes, size_t len,
	       char *err, size_t err_len)
{
	uint8_t *now = malloc(len ?: 1);
	char a[2 * PATCH_BYTES_MAX + 1], b[2 * PATCH_BYTES_MAX + 1];
	int fd, r;

	if (!now)
		return -ENOMEM;
	if (expect && (r = patch_read(pid, addr, now, len))) {
		snprintf(err, err_len, "process %d: cannot read %#" PRIx64 ": %s", (int)pid, addr,
			 strerror(-r));
		goto out;
	}
	if (expect && memcmp(now, expect, len)) {
		hex_encode(now, len < PATCH_BYTES_MAX ? len : PATCH_BYTES_MAX, a);
		hex_encode(expect, len < PATCH_BYTES_MAX ? len : PATCH_BYTES_MAX, b);
		snprintf(err, err_len, "process %d: the bytes at %#" PRIx64 " are %s, not %s", (int)pid,
			 addr, a, b);
		r = -EILSEQ;
		goto out;
	}
	if ((fd = mem_open(pid, O_RDWR)) < 0) {
		r = -errno;
		snprintf(err, err_len, "process %d: /proc/%d/mem: %s", (int)pid, (int)pid, strerror(-r));
		goto out;
	}
	r = pwrite(fd, bytes, len, (off_t)addr) == (ssize_t)len ? 0 : errno ? -errno : -EIO;
	close(fd);
	if (!r && !(r = patch_read(pid, addr, now, len)) && memcmp(now, bytes, len))
		r = -EIO;
	if (r)
		snprintf(err, err_len, "process %d: writing %zu bytes at %#" PRIx64 ": %s", (int)pid, len,
			 addr, strerror(-r));
out:
	free(now);
	return r;
}

int patch_held(pid_t pid, const struct hold_range *avoid, size_t n_avoid, patch_fn fn, void *arg,
	       unsigned flags, struct patch_stats *st, char *err, size_t err_len)
{
	struct patch_stats s = { 0 };
	struct hold h;
	int r = -EBUSY;

	err[0] = 0;
	if (pid <= 1 || pid == getpid()) {
		snprintf(err, err_len, "process %d: %s is never patched", (int)pid,
			 pid == getpid() ? "salved itself" : "PID 1");
		return -EPERM;
	}
	hold_begin(&h, pid);
	for (s.tries = 1; s.tries <= PATCH_TRIES; s.tries++) {
		uint64_t t0 = now_ns();
		pid_t inside;

		r = hold_all(&h, err, err_len);
		if (!r && (inside = hold_step_out(&h, avoid, n_avoid))) {
			r = -EBUSY;
			snprintf(err, err_len,
				 "process %d: thread %d stayed inside the bytes at %#" PRIx64
				 " over %d tries",
				 (int)pid, (int)inside, avoid[0].addr + !avoid[0].from_start,
				 PATCH_TRIES);
			hold_release(&h);
			/* Let it run out of them, a little longer each time. */
			nanosleep(&(struct timespec){ .tv_nsec = 50000L * s.tries }, NULL);
			continue;
		}
		if (!r && (flags & PATCH_CONTINUE))
			kill(pid, SIGCONT);
		if (!r)
			r = fn(&h, arg, err, err_len);
		s.threads = (unsigned)h.n;
		hold_release(&h);
		s.stopped_ns = now_ns() - t0;
		break;
	}
	if (s.tries > PATCH_TRIES)
		s.tries = PATCH_TRIES;
	hold_end(&h);
	if (st)
		*st = s;
	return r;
}

struct write_args {
	uint64_t addr;
	const uint8_t *expect, *bytes;
	size_t len;
};

static int write_fn(struct hold *h, void *arg, char *err, size_t err_len)
{
	const struct write_args *w = arg;

	return patch_poke(h->pid, w->addr, w->expect, w->bytes, w->len, err, err_len);
}

int patch_write(pid_t pid, uint64_t addr, const uint8_t *expect, const uint8_t *bytes, size_t len,
		struct patch_stats *st, char *err, size_t err_len)
{
	struct write_args w = { addr, expect, bytes, len };
	struct hold_range inside = { addr, len, false };

	if (!len || len > PATCH_BYTES_MAX)
		return -EINVAL;
	return patch_held(pid, &inside, 1, write_fn, &w, 0, st, err, err_len);
}

int patch_locate(pid_t pid, uint64_t dev, uint64_t ino, uint64_t off, uint64_t *addr)
{
	char path[64], line[4096];
	bool mapped = false;
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if (!(f = fopen(path, "re")))
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff, inode;
		unsigned int maj, min;

		mapped = true;
		if (sscanf(line, "%llx-%llx %*4s %llx %x:%x %llu", &start, &end, &pgoff, &maj, &min,
			   &inode) != 6)
			continue;
		if (inode != ino || (((uint64_t)maj << 20) | min) != dev)
			continue;
		if (off >= pgoff && off - pgoff < end - start) {
			*addr = start + (off - pgoff);
			r = 0;
			break;
		}
	}
	fclose(f);
	/* No mapping at all: the process is exiting (its memory already gone), as good as
	 * gone. */
	return r == -ENOENT && !mapped ? -ESRCH : r;
}
