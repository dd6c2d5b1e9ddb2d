/* criu: run a criu binary to check the host, dump a process tree and restore it; quote
 * criu's own error when it fails; read its stats and pstree images (a few protobuf
 * varints, read here rather than linking protobuf-c). */
#define _GNU_SOURCE
#include "actions/criu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CRIU_TEXT_MAX (1u << 20) /* how much of a log is searched for its last error: its tail */
#define CRIU_IMG_MAX (1u << 20)

extern char **environ;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int spawn(const char *criu, const char *const *args, int out_fd, pid_t *pid)
{
	const char *argv[32] = { criu };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	size_t n = 1;
	int err;

	for (; args[n - 1] && n < sizeof(argv) / sizeof(argv[0]) - 1; n++)
		argv[n] = args[n - 1];
	if (args[n - 1])
		return -E2BIG;
	argv[n] = NULL;
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* salved's blocked signals (signalfd) and its dispositions are not criu's. criu keeps
	 * salved's process group: a restored tree leaves it by its own setsid/setpgid, and a
	 * timeout kills criu alone, never what it restored. */
	err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	err = err ?: posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	err = err ?: posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
	err = err ?: posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	err = err ?: posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	err = err ?: posix_spawnattr_setsigmask(&attr, &none);
	err = err ?: posix_spawnattr_setsigdefault(&attr, &all);
	err = err ?: posix_spawn(pid, criu, &fa, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -err;
}

int criu_run(const char *criu, const char *const *args, int out_fd, int timeout_ms, char *err,
	     size_t err_len)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd = { .events = POLLIN };
	int status, r;
	pid_t pid;

	if (access(criu, X_OK)) {
		r = -errno;
		snprintf(err, err_len, "criu binary %s: %s", criu, strerror(-r));
		return r;
	}
	if ((r = spawn(criu, args, out_fd, &pid))) {
		snprintf(err, err_len, "criu binary %s: cannot run '%s': %s", criu, args[0],
			 strerror(-r));
		return r;
	}
	/* A pidfd becomes readable when criu exits: poll it against the deadline. */
	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		uint64_t t = now_ms();
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			r = -errno;
			snprintf(err, err_len, "criu binary %s: '%s': waitpid: %s", criu, args[0],
				 strerror(-r));
			goto out;
		}
		if (t >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			snprintf(err, err_len, "criu binary %s: '%s' took longer than %d ms: killed",
				 criu, args[0], timeout_ms);
			r = -ETIMEDOUT;
			goto out;
		}
		if (pfd.fd >= 0) {
			poll(&pfd, 1, (int)(deadline - t));
		} else {
			struct timespec ms = { 0, 1000000 };

			nanosleep(&ms, NULL); /* no pidfd (kernel < 5.3): look every millisecond */
		}
	}
	r = 0;
	if (WIFSIGNALED(status)) {
		snprintf(err, err_len, "criu binary %s: '%s' killed by %s", criu, args[0],
			 strsignal(WTERMSIG(status)));
		r = -ECANCELED;
	} else if (WEXITSTATUS(status)) {
		snprintf(err, err_len, "criu binary %s: '%s' exited with status %d", criu, args[0],
			 WEXITSTATUS(status));
		r = -ECANCELED;
	}
out:
	if (pfd.fd >= 0)
		close(pfd.fd);
	return r;
}

/* The tail of a file, NUL-terminated (NULL when it cannot be read). */
static char *read_tail(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END), off;
	size_t len = 0;
	char *buf;

	if (size < 0)
		return NULL;
	off = size > (off_t)CRIU_TEXT_MAX ? size - (off_t)CRIU_TEXT_MAX : 0;
	buf = malloc((size_t)(size - off) + 1);
	if (!buf)
		return NULL;
	while (len < (size_t)(size - off)) {
		ssize_t n = pread(fd, buf + len, (size_t)(size - off) - len, off + (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	return buf;
}

static char *read_tail_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *text;

	if (fd < 0)
		return NULL;
	text = read_tail(fd);
	close(fd);
	return text;
}

/* The line of criu's text that says why it failed, into out. criu logs the cause, then
 * its consequences on the lines right after it ("Unable to open fd=0", "1234 exited,
 * status=1") and closes with "Dumping FAILED."/"Restoring FAILED.", which say nothing of
 * why; an unrelated error may come long before (its rlimit warning). So: the last
 * "Error (" line other than the closing one, walked back to the first of the run of
 * consecutive "Error (" lines it ends; else the closing one; else the last line (criu
 * check ends with "Looks bad."). The "(00.039989) " time and a " PID: " prefix of the
 * log are dropped. false when text has no line. */
static bool last_error(const char *text, char *out, size_t len)
{
	const char *cause = NULL, *failed = NULL, *last = NULL, *p = text;
	bool in_run = false;

	if (!text)
		return false;
	while (*p) {
		const char *eol = strchrnul(p, '\n'), *e = strstr(p, "Error (");

		if (e && e < eol) {
			bool summary = eol - p >= 7 && !memcmp(eol - 7, "FAILED.", 7);

			if (summary) {
				failed = e;
			} else {
				if (!in_run)
					cause = e; /* the first of a new run */
				in_run = true;
			}
		} else if (eol > p) {
			in_run = false;
		}
		if (eol > p)
			last = p;
		p = *eol ? eol + 1 : eol;
	}
	p = cause ?: failed ?: last;
	if (!p)
		return false;
	if (p == last && *p == '(') { /* a log line without "Error (": drop its time */
		const char *q = strchr(p, ')');

		if (q && q < strchrnul(p, '\n'))
			p = q + 1 + (q[1] == ' ');
	}
	snprintf(out, len, "%.*s", (int)(strchrnul(p, '\n') - p), p);
	return true;
}

/* err is "criu binary X: 'verb' exited with status 1"; add criu's reason from its log (or
 * its stdout and stderr when the log has none). */
static void add_reason(char *err, size_t err_len, const char *log_path, const char *out_path,
		       int out_fd)
{
	char reason[512], *text = log_path ? read_tail_path(log_path) : NULL;
	bool found = last_error(text, reason, sizeof(reason));
	size_t used = strlen(err);

	free(text);
	if (!found) {
		text = out_fd >= 0 ? read_tail(out_fd) : read_tail_path(out_path);
		found = last_error(text, reason, sizeof(reason));
		free(text);
	}
	if (found && used < err_len)
		snprintf(err + used, err_len - used, ": %s", reason);
	if (log_path && used < err_len && (used = strlen(err)) < err_len)
		snprintf(err + used, err_len - used, " (log: %s)", log_path);
}

int criu_version(const char *criu, char *version, size_t version_len, char *err, size_t err_len)
{
	static const char *const args[] = { "--version", NULL };
	int fd = memfd_create("criu-version", MFD_CLOEXEC), r;
	char *text, *v;

	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "criu binary %s: memfd: %s", criu, strerror(-r));
		return r;
	}
	r = criu_run(criu, args, fd, CRIU_CHECK_TIMEOUT_MS, err, err_len);
	if (r == -ECANCELED || r == -ETIMEDOUT)
		add_reason(err, err_len, NULL, NULL, fd);
	text = read_tail(fd);
	close(fd);
	if (r) {
		free(text);
		return r;
	}
	v = text ? strstr(text, "Version: ") : NULL;
	if (!v) {
		snprintf(err, err_len, "criu binary %s: '--version' printed no \"Version: \" line",
			 criu);
		free(text);
		return -EINVAL;
	}
	v += strlen("Version: ");
	snprintf(version, version_len, "%.*s", (int)strcspn(v, " \n"), v);
	free(text);
	return 0;
}

int criu_check(const char *criu, char *version, size_t version_len, char *err, size_t err_len)
{
	static const char *const args[] = { "check", NULL };
	unsigned major = 0, minor = 0;
	char v[64];
	int fd, r;

	if (version && version_len)
		version[0] = 0;
	if ((r = criu_version(criu, v, sizeof(v), err, err_len)))
		return r;
	if (version)
		snprintf(version, version_len, "%s", v);
	if (sscanf(v, "%u.%u", &major, &minor) < 1 || major < CRIU_MIN_MAJOR ||
	    (major == CRIU_MIN_MAJOR && minor < CRIU_MIN_MINOR)) {
		snprintf(err, err_len, "criu binary %s: version %s, salve needs %d.%d or later "
			 "(--allow-uprobes)", criu, v, CRIU_MIN_MAJOR, CRIU_MIN_MINOR);
		return -ENOTSUP;
	}
	fd = memfd_create("criu-check", MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "criu binary %s: memfd: %s", criu, strerror(-r));
		return r;
	}
	r = criu_run(criu, args, fd, CRIU_CHECK_TIMEOUT_MS, err, err_len);
	if (r == -ECANCELED || r == -ETIMEDOUT) {
		add_reason(err, err_len, NULL, NULL, fd);
		if (r == -ECANCELED)
			r = -ENOTSUP;
	}
	close(fd);
	return r;
}

/* Has pid a controlling terminal: tty_nr, the 7th field of /proc/PID/stat? */
static int has_tty(pid_t pid, bool *tty)
{
	char path[64], buf[1024], *p;
	int tty_nr = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %d", &tty_nr) != 1)
		return -EINVAL;
	*tty = tty_nr != 0;
	return 0;
}

/* Open dir/name for criu's stdout and stderr. */
static int open_out(const char *dir, const char *name, char *path, size_t path_len)
{
	snprintf(path, path_len, "%s/%s", dir, name);
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

int criu_dump(const char *criu, pid_t pid, const char *dir, char *err, size_t err_len)
{
	char pid_s[16], real[PATH_MAX], out_path[PATH_MAX + 16], log_path[PATH_MAX + 16];
	const char *args[20] = { "dump", "-t", pid_s, "-D", real, "-o", "dump.log", "-v4",
				 "--leave-running", "--allow-uprobes", "--tcp-established",
				 "--network-lock", "nftables", "--file-locks" };
	size_t n = 14;
	bool tty = false;
	int fd, r;

	if (!realpath(dir, real)) {
		r = -errno;
		snprintf(err, err_len, "criu dump: directory %s: %s", dir, strerror(-r));
		return r;
	}
	if ((r = has_tty(pid, &tty))) {
		snprintf(err, err_len, "criu dump: process %d: %s", (int)pid,
			 r == -ENOENT ? "no such process" : strerror(-r));
		return r == -ENOENT ? -ESRCH : r;
	}
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
	snprintf(log_path, sizeof(log_path), "%s/dump.log", real);
	/* The mark restore reads: the dump took the process's terminal as external. */
	snprintf(out_path, sizeof(out_path), "%s/shell-job", real);
	if (tty) {
		args[n++] = "--shell-job";
		fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	} else {
		unlink(out_path);
	}
	args[n] = NULL;
	fd = open_out(real, "dump.out", out_path, sizeof(out_path));
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "criu dump: %s: %s", out_path, strerror(-r));
		return r;
	}
	r = criu_run(criu, args, fd, CRIU_DUMP_TIMEOUT_MS, err, err_len);
	close(fd);
	if (r == -ECANCELED || r == -ETIMEDOUT) {
		add_reason(err, err_len, log_path, out_path, -1);
		if (r == -ECANCELED)
			r = kill(pid, 0) && errno == ESRCH ? -ESRCH : -EIO;
	}
	return r;
}

/* ---- criu's images: a two-word magic, then [u32 size][protobuf message] entries ---- */

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
		shift += 7;
	}
	return false;
}

/* Call fn for each field of a message: its number, wire type, and its value (a varint) or
 * bytes (length-delimited). false when the message is malformed. */
typedef void (*pb_fn)(unsigned field, uint64_t v, const uint8_t *bytes, size_t len, void *ctx);

static bool pb_walk(const uint8_t *p, size_t len, pb_fn fn, void *ctx)
{
	const uint8_t *end = p + len;

	while (p < end) {
		uint64_t key, v = 0;

		if (!pb_varint(&p, end, &key))
			return false;
		switch (key & 7) {
		case 0:
			if (!pb_varint(&p, end, &v))
				return false;
			fn((unsigned)(key >> 3), v, NULL, 0, ctx);
			break;
		case 1:
			if (end - p < 8)
				return false;
			p += 8;
			break;
		case 2:
			if (!pb_varint(&p, end, &v) || v > (uint64_t)(end - p))
				return false;
			fn((unsigned)(key >> 3), 0, p, (size_t)v, ctx);
			p += v;
			break;
		case 5:
			if (end - p < 4)
				return false;
			p += 4;
			break;
		default:
			return false;
		}
	}
	return true;
}

/* The image dir/name, read whole (at most CRIU_IMG_MAX). */
static int read_image(const char *dir, const char *name, uint8_t **data, size_t *len, char *err,
		      size_t err_len)
{
	char path[PATH_MAX + 32];
	struct stat st;
	size_t got = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		r = -errno;
		snprintf(err, err_len, "criu image %s: %s", path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (st.st_size < 8 || st.st_size > CRIU_IMG_MAX) {
		snprintf(err, err_len, "criu image %s: %lld bytes: not a criu image", path,
			 (long long)st.st_size);
		close(fd);
		return -EINVAL;
	}
	*data = malloc((size_t)st.st_size);
	if (!*data) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

/* The next entry of an image after the magic: its message. */
static bool image_entry(const uint8_t *data, size_t len, size_t *off, const uint8_t **msg,
			size_t *msg_len)
{
	uint32_t size;

	if (*off < 8)
		*off = 8;
	if (len - *off < 4)
		return false;
	memcpy(&size, data + *off, 4);
	if (size > len - *off - 4)
		return false;
	*msg = data + *off + 4;
	*msg_len = size;
	*off += 4 + size;
	return true;
}

static void stats_dump_field(unsigned f, uint64_t v, const uint8_t *b, size_t l, void *ctx)
{
	struct criu_stats *st = ctx;

	(void)b, (void)l;
	switch (f) { /* images/stats.proto: dump_stats_entry */
	case 1: st->freezing_us = (uint32_t)v; break;
	case 2: st->frozen_us = (uint32_t)v; break;
	case 3: st->memdump_us = (uint32_t)v; break;
	case 4: st->memwrite_us = (uint32_t)v; break;
	case 7: st->pages_written = v; break;
	}
}

static void stats_restore_field(unsigned f, uint64_t v, const uint8_t *b, size_t l, void *ctx)
{
	struct criu_stats *st = ctx;

	(void)b, (void)l;
	switch (f) { /* images/stats.proto: restore_stats_entry */
	case 4: st->restore_us = (uint32_t)v; break;
	case 5: st->pages_restored = v; break;
	}
}

struct stats_ctx {
	struct criu_stats *st;
	bool bad;
};

static void stats_field(unsigned f, uint64_t v, const uint8_t *b, size_t l, void *ctx)
{
	struct stats_ctx *c = ctx;

	(void)v;
	if (b && f == 1) /* stats_entry.dump */
		c->bad |= !pb_walk(b, l, stats_dump_field, c->st);
	else if (b && f == 2) /* stats_entry.restore */
		c->bad |= !pb_walk(b, l, stats_restore_field, c->st);
}

int criu_stats_read(const char *dir, const char *which, struct criu_stats *st, char *err,
		    size_t err_len)
{
	struct stats_ctx c = { .st = st };
	const uint8_t *msg;
	uint8_t *data;
	size_t len, msg_len, off = 0;
	char name[32];
	int r;

	memset(st, 0, sizeof(*st));
	snprintf(name, sizeof(name), "stats-%s", which);
	if ((r = read_image(dir, name, &data, &len, err, err_len)))
		return r;
	if (!image_entry(data, len, &off, &msg, &msg_len) || !pb_walk(msg, msg_len, stats_field, &c) ||
	    c.bad) {
		snprintf(err, err_len, "criu image %s/%s: not a stats entry", dir, name);
		r = -EINVAL;
	}
	free(data);
	return r;
}

/* pstree.img's pids: each entry's pid (field 1) and threads (field 5). */
struct pids_ctx {
	pid_t pids[256];
	size_t n;
};

static void pstree_field(unsigned f, uint64_t v, const uint8_t *b, size_t l, void *ctx)
{
	struct pids_ctx *c = ctx;

	(void)l;
	if (b || (f != 1 && f != 5))
		return;
	if (c->n < sizeof(c->pids) / sizeof(c->pids[0]))
		c->pids[c->n++] = (pid_t)v;
}

/* The state letter, parent and name of a live pid, from /proc/PID/stat: false when the
 * pid is free. */
static bool pid_holder(pid_t pid, char *state, int *ppid, char *comm, size_t comm_len)
{
	char path[64], buf[1024], *open_paren, *close_paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren ||
	    sscanf(close_paren + 1, " %c %d", state, ppid) != 2) {
		*state = '?';
		*ppid = 0;
	}
	if (open_paren && close_paren > open_paren)
		snprintf(comm, comm_len, "%.*s", (int)(close_paren - open_paren - 1), open_paren + 1);
	else
		snprintf(comm, comm_len, "?");
	return true;
}

/* -EBUSY with err naming the first dumped pid that a process holds. A process that was
 * just killed holds its pid until it is reaped: one that is dead (a zombie) gets a
 * second to be reaped before it counts as taken. */
static int pids_free(const char *dir, char *err, size_t err_len)
{
	struct pids_ctx c = { .n = 0 };
	uint64_t deadline = now_ms() + 1000;
	const uint8_t *msg;
	uint8_t *data;
	size_t len, msg_len, off = 0;
	int r;

	if ((r = read_image(dir, "pstree.img", &data, &len, err, err_len)))
		return r;
	while (image_entry(data, len, &off, &msg, &msg_len))
		if (!pb_walk(msg, msg_len, pstree_field, &c))
			break;
	free(data);
	if (!c.n) {
		snprintf(err, err_len, "criu image %s/pstree.img: no process in it", dir);
		return -EINVAL;
	}
	for (size_t i = 0; i < c.n; i++) {
		char comm[64], state;
		int ppid;

		while (pid_holder(c.pids[i], &state, &ppid, comm, sizeof(comm))) {
			struct timespec ms = { 0, 10000000 };

			if ((state == 'Z' || state == 'X') && now_ms() < deadline) {
				nanosleep(&ms, NULL);
				continue;
			}
			if (state == 'Z')
				snprintf(err, err_len, "criu restore: pid %d of the dump in %s is "
					 "still held by a dead process (%s) that its parent %d has "
					 "not reaped", (int)c.pids[i], dir, comm, ppid);
			else
				snprintf(err, err_len, "criu restore: pid %d of the dump in %s is "
					 "taken by a running process (%s): kill it first",
					 (int)c.pids[i], dir, comm);
			return -EBUSY;
		}
	}
	return 0;
}

int criu_restore(const char *criu, const char *dir, pid_t *pid, char *err, size_t err_len)
{
	char real[PATH_MAX], pidfile[PATH_MAX + 16], out_path[PATH_MAX + 16],
		log_path[PATH_MAX + 16];
	const char *args[16] = { "restore", "-D", real, "-o", "restore.log", "-v4",
				 "--restore-detached", "--pidfile", pidfile, "--allow-uprobes",
				 "--tcp-established", "--file-locks" };
	size_t n = 12;
	bool shell_job;
	int fd, r;

	if (!realpath(dir, real)) {
		r = -errno;
		snprintf(err, err_len, "criu restore: directory %s: %s", dir, strerror(-r));
		return r;
	}
	if ((r = pids_free(real, err, err_len)))
		return r;
	snprintf(out_path, sizeof(out_path), "%s/shell-job", real);
	shell_job = !access(out_path, F_OK);
	if (shell_job)
		args[n++] = "--shell-job";
	args[n] = NULL;
	snprintf(pidfile, sizeof(pidfile), "%s/restore.pid", real);
	snprintf(log_path, sizeof(log_path), "%s/restore.log", real);
	unlink(pidfile);
	fd = open_out(real, "restore.out", out_path, sizeof(out_path));
	if (fd < 0) {
		r = -errno;
		snprintf(err, err_len, "criu restore: %s: %s", out_path, strerror(-r));
		return r;
	}
	r = criu_run(criu, args, fd, CRIU_RESTORE_TIMEOUT_MS, err, err_len);
	close(fd);
	if (r == -ECANCELED || r == -ETIMEDOUT) {
		add_reason(err, err_len, log_path, out_path, -1);
		if (shell_job && (n = strlen(err)) < err_len)
			snprintf(err + n, err_len - n, "; the process had a controlling terminal, "
				 "and criu restores one only into a terminal of criu's own");
		return r == -ECANCELED ? -EIO : r;
	}
	if (r)
		return r;
	FILE *f = fopen(pidfile, "re");
	int got = 0;

	if (!f || fscanf(f, "%d", &got) != 1 || got <= 0) {
		snprintf(err, err_len, "criu restore: criu succeeded but wrote no pid to %s",
			 pidfile);
		if (f)
			fclose(f);
		return -EIO;
	}
	fclose(f);
	*pid = got;
	return 0;
}
