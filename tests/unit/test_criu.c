/* criu: salved's use of a criu binary, against a fake criu (a shell script written here)
 * that records its arguments and, on demand, fails with criu's kind of log, hangs, or
 * restores; and criu's stats images as criu 4.2.1 wrote them on this project's VM. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "actions/criu.h"

/* The fake: "mode" in its folder says what to do; it writes its arguments to "argv", one
 * a line, and, for dump and restore, a log where -o says (in -D), and the pid in
 * "restorepid" to --pidfile. */
static const char fake_criu[] =
	"#!/bin/sh\n"
	"here=$(dirname \"$0\")\n"
	"printf '%s\\n' \"$@\" > \"$here/argv\"\n"
	"mode=$(cat \"$here/mode\" 2>/dev/null)\n"
	"case $1 in\n"
	"--version) [ \"$mode\" = old ] && echo 'Version: 3.17.1' || echo 'Version: 4.2.1'\n"
	"    echo 'GitID: v4.2.1'; exit 0 ;;\n"
	"check) if [ \"$mode\" = badcheck ]; then\n"
	"        echo 'Error (criu/cr-check.c:1440): vdso: Unexpected rt vDSO area bounds' >&2\n"
	"        echo 'Looks bad.' >&2; exit 1; fi\n"
	"    echo 'Looks good.'; exit 0 ;;\n"
	"esac\n"
	"verb=$1; dir= log= pidfile=\n"
	"while [ $# -gt 0 ]; do case $1 in\n"
	"    -D) dir=$2; shift ;; -o) log=$2; shift ;; --pidfile) pidfile=$2; shift ;;\n"
	"esac; shift; done\n"
	"echo \"criu's stdout\"; echo \"criu's stderr\" >&2\n"
	"[ \"$mode\" = hang ] && exec sleep 30\n"
	"{ echo '(00.000000) CRIU run id = 1'\n"
	"  echo '(00.000100) Error (criu/util.c:1534): rlimit: Can'\\''t setup RLIMIT_NOFILE'\n"
	"  echo '(00.000200) Dumping processes (pid: 27445)'\n"
	"  if [ \"$mode\" = fail ] && [ \"$verb\" = dump ]; then\n"
	"    echo '(00.039989)  27445: Error (criu/sk-unix.c:661): unix: Can'\\''t dump half of stream unix connection.'\n"
	"    echo '(00.039990)  27445: Error (criu/cr-dump.c:1421): Dump files (pid: 27445) failed with -1'\n"
	"    echo '(00.039991) Unlock network'\n"
	"    echo '(00.039995) Error (criu/cr-dump.c:1975): Dumping FAILED.'\n"
	"    exit 1; fi\n"
	"  if [ \"$mode\" = fail ]; then\n"
	"    echo '(00.029380)  23522: Restoring files'\n"
	"    echo '(00.029388)  23522: Error (criu/tty.c:1010): tty: Don'\\''t have tty to inherit session from, aborting'\n"
	"    echo '(00.029389)  23522: Error (criu/files.c:1221): Unable to open fd=0 id=0x5'\n"
	"    echo '(00.029837) Error (criu/cr-restore.c:1265): 23522 exited, status=1'\n"
	"    echo '(00.029844) Error (criu/cr-restore.c:2331): Restoring FAILED.'\n"
	"    exit 1; fi\n"
	"  echo '(00.040000) Dumping finished successfully'; } > \"$dir/$log\"\n"
	"[ \"$verb\" = restore ] && cat \"$here/restorepid\" > \"$pidfile\"\n"
	"exit 0\n";

struct fixture {
	char dir[64];  /* the fake's folder */
	char imgs[96]; /* -D */
	char criu[96];
	pid_t child;
};

static void put(const char *dir, const char *name, const void *data, size_t len)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static char *get(const char *dir, const char *name)
{
	static char buf[8192];
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void mode(struct fixture *f, const char *m)
{
	put(f->dir, "mode", m, strlen(m));
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/salve-criu-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->imgs, sizeof(f->imgs), "%s/img", f->dir);
	snprintf(f->criu, sizeof(f->criu), "%s/criu", f->dir);
	mkdir(f->imgs, 0700);
	put(f->dir, "criu", fake_criu, strlen(fake_criu));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

/* A child in a session of its own, with no terminal, or with a new pty as its
 * controlling terminal: what criu_dump looks at to choose --shell-job. */
static pid_t start_child(bool tty)
{
	int sync[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(sync), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		setsid();
		if (tty) {
			int m = posix_openpt(O_RDWR | O_NOCTTY), s;

			if (m < 0 || grantpt(m) || unlockpt(m))
				_exit(1);
			s = open(ptsname(m), O_RDWR);
			if (s < 0 || ioctl(s, TIOCSCTTY, 0))
				_exit(1);
		}
		if (write(sync[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(sync[1]);
	assert_int_equal(read(sync[0], &c, 1), 1);
	close(sync[0]);
	return pid;
}

/* The arguments the fake recorded, one a line, as one string with spaces. */
static const char *recorded(struct fixture *f)
{
	static char line[4096];
	char *argv = get(f->dir, "argv");

	assert_non_null(argv);
	snprintf(line, sizeof(line), "%s", argv);
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = p[1] ? ' ' : 0;
	return line;
}

static void test_check_passes(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", version[32];

	assert_int_equal(criu_check(f->criu, version, sizeof(version), err, sizeof(err)), 0);
	assert_string_equal(version, "4.2.1");
	assert_string_equal(recorded(f), "check");
}

static void test_check_quotes_criu(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", version[32];

	mode(f, "badcheck");
	assert_int_equal(criu_check(f->criu, version, sizeof(version), err, sizeof(err)), -ENOTSUP);
	assert_string_equal(version, "4.2.1");
	assert_non_null(strstr(err, f->criu));
	assert_non_null(strstr(err, "Error (criu/cr-check.c:1440): vdso: Unexpected rt vDSO area bounds"));
}

static void test_check_old_criu(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", version[32];

	mode(f, "old");
	assert_int_equal(criu_check(f->criu, version, sizeof(version), err, sizeof(err)), -ENOTSUP);
	assert_string_equal(version, "3.17.1");
	assert_non_null(strstr(err, "version 3.17.1, salve needs 4.2 or later"));
	assert_string_equal(recorded(f), "--version"); /* no check run */
}

static void test_missing_binary_named(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", missing[128];

	snprintf(missing, sizeof(missing), "%s/no-such-criu", f->dir);
	assert_int_equal(criu_check(missing, NULL, 0, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(criu_dump(missing, getpid(), f->imgs, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, missing));
}

static void test_dump_arguments_and_log(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", want[512];

	f->child = start_child(false);
	assert_int_equal(criu_dump(f->criu, f->child, f->imgs, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "dump -t %d -D %s -o dump.log -v4 --leave-running "
		 "--allow-uprobes --tcp-established --network-lock nftables --file-locks", (int)f->child,
		 f->imgs);
	assert_string_equal(recorded(f), want);
	/* criu's log and its stdout and stderr stay beside the images. */
	assert_non_null(strstr(get(f->imgs, "dump.log"), "Dumping finished successfully"));
	assert_string_equal(get(f->imgs, "dump.out"), "criu's stdout\ncriu's stderr\n");
	assert_null(get(f->imgs, "shell-job"));
}

static void test_dump_shell_job(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", want[512];

	f->child = start_child(true);
	assert_int_equal(criu_dump(f->criu, f->child, f->imgs, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "dump -t %d -D %s -o dump.log -v4 --leave-running "
		 "--allow-uprobes --tcp-established --network-lock nftables --file-locks --shell-job",
		 (int)f->child, f->imgs);
	assert_string_equal(recorded(f), want);
	assert_non_null(get(f->imgs, "shell-job"));
}

static void test_dump_quotes_last_error(void **state)
{
	struct fixture *f = *state;
	char err[1024] = "";

	f->child = start_child(false);
	mode(f, "fail");
	assert_int_equal(criu_dump(f->criu, f->child, f->imgs, err, sizeof(err)), -EIO);
	/* The error that says why: the cause, not the rlimit one long before it, not its
	 * consequence on the next line, not "Dumping FAILED." */
	assert_non_null(strstr(err, f->criu));
	assert_non_null(strstr(err, ": Error (criu/sk-unix.c:661): unix: Can't dump half of "
				    "stream unix connection."));
	assert_null(strstr(err, "RLIMIT"));
	assert_null(strstr(err, "failed with -1"));
	assert_null(strstr(err, "FAILED"));
	assert_non_null(strstr(err, "/img/dump.log)"));
}

static void test_dump_gone_process(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	waitpid(pid, NULL, 0);
	assert_int_equal(criu_dump(f->criu, pid, f->imgs, err, sizeof(err)), -ESRCH);
	assert_non_null(strstr(err, "no such process"));
}

/* pstree.img with one process: pid, ppid 0, pgid, sid, one thread (itself). */
static void put_pstree(struct fixture *f, pid_t pid)
{
	uint8_t img[64] = { 0x19, 0x43, 0x56, 0x54, 0x30, 0x30, 0x27, 0x50 }, *p = img + 12;
	uint32_t size;

	for (unsigned field = 1; field <= 5; field++) {
		uint32_t v = field == 2 ? 0 : (uint32_t)pid;

		*p++ = (uint8_t)(field << 3);
		do {
			*p++ = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			v >>= 7;
		} while (v);
	}
	size = (uint32_t)(p - img - 12);
	memcpy(img + 8, &size, 4);
	put(f->imgs, "pstree.img", img, (size_t)(p - img));
}

static void test_restore_arguments_and_pid(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", want[512], restored[16];
	pid_t gone = fork(), pid = 0;

	if (!gone)
		_exit(0);
	waitpid(gone, NULL, 0);
	put_pstree(f, gone);
	snprintf(restored, sizeof(restored), "%d\n", (int)gone);
	put(f->dir, "restorepid", restored, strlen(restored));
	assert_int_equal(criu_restore(f->criu, f->imgs, &pid, err, sizeof(err)), 0);
	assert_int_equal(pid, gone);
	snprintf(want, sizeof(want), "restore -D %s -o restore.log -v4 --restore-detached "
		 "--pidfile %s/restore.pid --allow-uprobes --tcp-established --file-locks", f->imgs,
		 f->imgs);
	assert_string_equal(recorded(f), want);
	assert_non_null(get(f->imgs, "restore.log"));
	assert_string_equal(get(f->imgs, "restore.out"), "criu's stdout\ncriu's stderr\n");

	/* A dump of a process with a terminal is restored as one. */
	put(f->imgs, "shell-job", "", 0);
	assert_int_equal(criu_restore(f->criu, f->imgs, &pid, err, sizeof(err)), 0);
	assert_non_null(strstr(recorded(f), " --file-locks --shell-job"));
}

/* criu's restore log as criu 4.2.1 wrote it for a process dumped with its terminal. */
static void test_restore_quotes_cause(void **state)
{
	struct fixture *f = *state;
	char err[1024] = "";
	pid_t gone = fork(), pid = 0;

	if (!gone)
		_exit(0);
	waitpid(gone, NULL, 0);
	put_pstree(f, gone);
	put(f->imgs, "shell-job", "", 0);
	mode(f, "fail");
	assert_int_equal(criu_restore(f->criu, f->imgs, &pid, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, f->criu));
	assert_non_null(strstr(err, "'restore' exited with status 1: Error (criu/tty.c:1010): tty: "
				    "Don't have tty to inherit session from, aborting (log: "));
	assert_non_null(strstr(err, "/img/restore.log); the process had a controlling terminal"));
	assert_int_equal(pid, 0);
}

static void test_restore_pid_taken(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", want[256];
	pid_t pid = 0;

	f->child = start_child(false);
	put_pstree(f, f->child);
	unlink(strcat(strcpy(err, f->dir), "/argv"));
	assert_int_equal(criu_restore(f->criu, f->imgs, &pid, err, sizeof(err)), -EBUSY);
	snprintf(want, sizeof(want), "pid %d of the dump in %s is taken by a running process (",
		 (int)f->child, f->imgs);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "kill it first"));
	assert_null(get(f->dir, "argv")); /* criu not run */
}

static void test_timeout_kills(void **state)
{
	struct fixture *f = *state;
	static const char *const args[] = { "dump", "-D", "/tmp", "-o", "x.log", NULL };
	struct timespec t0, t1;
	char err[512] = "";
	int fd = open("/dev/null", O_WRONLY);

	mode(f, "hang");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(criu_run(f->criu, args, fd, 200, err, sizeof(err)), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	assert_non_null(strstr(err, f->criu));
	assert_non_null(strstr(err, "'dump' took longer than 200 ms: killed"));
}

/* stats-dump and stats-restore exactly as criu 4.2.1 wrote them for a 2 MiB target. */
static void test_stats_images(void **state)
{
	struct fixture *f = *state;
	static const uint8_t dump[] = {
		0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57, 0x23, 0x00, 0x00, 0x00, 0x0a,
		0x21, 0x08, 0x62, 0x10, 0xf2, 0x32, 0x18, 0xe4, 0x17, 0x20, 0x8e, 0x13, 0x28,
		0xb0, 0x04, 0x30, 0x00, 0x38, 0xa0, 0x04, 0x40, 0x00, 0x48, 0x00, 0x50, 0x08,
		0x58, 0x08, 0x60, 0x00, 0x68, 0x00, 0x70, 0x00 };
	static const uint8_t restore[] = {
		0x40, 0x59, 0x10, 0x55, 0x06, 0x33, 0x09, 0x57, 0x0e, 0x00, 0x00, 0x00, 0x12,
		0x0c, 0x08, 0x00, 0x10, 0x00, 0x18, 0x02, 0x20, 0xbc, 0x19, 0x28, 0xa0, 0x04 };
	struct criu_stats st;
	char err[512] = "";

	put(f->imgs, "stats-dump", dump, sizeof(dump));
	put(f->imgs, "stats-restore", restore, sizeof(restore));
	assert_int_equal(criu_stats_read(f->imgs, "dump", &st, err, sizeof(err)), 0);
	assert_int_equal(st.freezing_us, 98);
	assert_int_equal(st.frozen_us, 6514);
	assert_int_equal(st.memdump_us, 3044);
	assert_int_equal(st.memwrite_us, 2446);
	assert_int_equal(st.pages_written, 544);
	assert_int_equal(criu_stats_read(f->imgs, "restore", &st, err, sizeof(err)), 0);
	assert_int_equal(st.restore_us, 3260);
	assert_int_equal(st.pages_restored, 544);

	put(f->imgs, "stats-dump", dump, sizeof(dump) - 5); /* cut inside the entry */
	assert_int_equal(criu_stats_read(f->imgs, "dump", &st, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/img/stats-dump: not a stats entry"));
	unlink(strcat(strcpy(err, f->imgs), "/stats-restore"));
	assert_int_equal(criu_stats_read(f->imgs, "restore", &st, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "stats-restore: No such file or directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_check_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_quotes_criu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_old_criu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_binary_named, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_arguments_and_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_shell_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_quotes_last_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_gone_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_arguments_and_pid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_quotes_cause, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_pid_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_images, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
