/* policy_watch: real inotify on a temporary directory, served by a real loop that the
 * test turns while it changes files as an editor, kubelet (a ConfigMap volume's
 * ..data swap) and a release script (a symbolic link swapped to another directory)
 * do. What is checked is what salved would do: one reload per burst of changes, the
 * settle time after its last change, none for files that are not the policy. No root
 * needed. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/loop.h"
#include "ctl/policy_watch.h"

#define MS 1000000ull

struct fixture {
	char dir[64];
	struct loop *loop;
	struct policy_watch *watch;
	int calls;
	uint64_t last_call_ns;
};

static void changed(void *ctx)
{
	struct fixture *f = ctx;

	f->calls++;
	f->last_call_ns = loop_now_ns(CLOCK_MONOTONIC);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/salve-policy-watch-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(loop_new(&f->loop), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	policy_watch_free(f->watch);
	loop_free(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* f->dir/rel, formatted. */
static const char *at(struct fixture *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *at(struct fixture *f, const char *fmt, ...)
{
	static char bufs[4][256];
	static int next;
	char *b = bufs[next++ % 4];
	int n = snprintf(b, sizeof(bufs[0]), "%s/", f->dir);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b + n, sizeof(bufs[0]) - n, fmt, ap);
	va_end(ap);
	return b;
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void watch(struct fixture *f, const char *path, uint64_t settle_ns)
{
	char err[256] = "";

	assert_int_equal(policy_watch_new(f->loop, &(struct policy_watch_config){
				 .path = path, .settle_ns = settle_ns, .changed = changed, .ctx = f },
				 &f->watch, err, sizeof(err)), 0);
}

/* Turn the loop for ms, or until there have been `until` calls; the calls then. */
static int turn(struct fixture *f, unsigned ms, int until)
{
	uint64_t end = loop_now_ns(CLOCK_MONOTONIC) + ms * MS;
	uint64_t now;

	while (f->calls < until && (now = loop_now_ns(CLOCK_MONOTONIC)) < end)
		assert_true(loop_run_once(f->loop, (int)((end - now) / MS) + 1) >= 0);
	return f->calls;
}

/* A ConfigMap volume as kubelet lays it out: the key's file in ..<version>, ..data
 * pointing there, and the key's name a link through ..data. */
static void configmap(struct fixture *f, const char *version, const char *text)
{
	assert_int_equal(mkdir(at(f, "..%s", version), 0755), 0);
	put(at(f, "..%s/fleet.json", version), text);
}

/* kubelet's update: the new version written, ..data swapped to it by rename, the old
 * version removed. */
static void configmap_swap(struct fixture *f, const char *from, const char *to, const char *text)
{
	char cmd[256], target[64];

	configmap(f, to, text);
	snprintf(target, sizeof(target), "..%s", to);
	assert_int_equal(symlink(target, at(f, "..data_tmp")), 0);
	assert_int_equal(rename(at(f, "..data_tmp"), at(f, "..data")), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", at(f, "..%s", from));
	assert_int_equal(system(cmd), 0);
}

static void test_configmap_swap_reloads_once(void **state)
{
	struct fixture *f = *state;
	uint64_t swapped;

	configmap(f, "2026_11_26_10_00_00.1", "{}");
	assert_int_equal(symlink("..2026_11_26_10_00_00.1", at(f, "..data")), 0);
	assert_int_equal(symlink("..data/fleet.json", at(f, "fleet.json")), 0);
	watch(f, f->dir, 200 * MS);

	configmap_swap(f, "2026_11_26_10_00_00.1", "2026_11_26_10_05_00.2", "{\"v\": 2}");
	swapped = loop_now_ns(CLOCK_MONOTONIC);
	assert_int_equal(turn(f, 5000, 1), 1);
	/* Not before the changes settled. */
	assert_true(f->last_call_ns - swapped >= 200 * MS);
	/* And the swap's five events made one reload. */
	assert_int_equal(turn(f, 600, 2), 1);

	/* A policy file mounted from the ConfigMap by its own name is followed too. */
	policy_watch_free(f->watch);
	f->watch = NULL;
	watch(f, at(f, "fleet.json"), 200 * MS);
	configmap_swap(f, "2026_11_26_10_05_00.2", "2026_11_26_10_10_00.3", "{\"v\": 3}");
	assert_int_equal(turn(f, 5000, 2), 2);
}

/* An editor saving again and again: one reload, settle_ns after its last save. */
static void test_burst_makes_one_reload(void **state)
{
	struct fixture *f = *state;
	uint64_t last = 0;

	put(at(f, "web.json"), "{}");
	watch(f, f->dir, 1000 * MS);
	for (int i = 0; i < 6; i++) {
		put(at(f, "web.json"), i % 2 ? "{\"a\": 1}" : "{}");
		last = loop_now_ns(CLOCK_MONOTONIC);
		assert_int_equal(turn(f, 50, 1), 0); /* the events are read as they come */
	}
	assert_int_equal(turn(f, 5000, 1), 1);
	assert_true(f->last_call_ns - last >= 1000 * MS);
	assert_int_equal(turn(f, 1500, 2), 1);
}

/* What is not a policy file is no change: hidden files, swap files, the schema, other
 * extensions, and a subdirectory's files. */
static void test_other_files_are_no_change(void **state)
{
	struct fixture *f = *state;

	put(at(f, "web.json"), "{}");
	assert_int_equal(mkdir(at(f, "old"), 0755), 0);
	watch(f, f->dir, 50 * MS);
	put(at(f, ".web.json.swp"), "x");
	put(at(f, "web.json~"), "x");
	put(at(f, "notes.txt"), "x");
	put(at(f, "policy.schema.json"), "{}");
	put(at(f, "old/web.json"), "{}");
	assert_int_equal(turn(f, 400, 1), 0);

	/* Each kind of change of a policy file is one. */
	put(at(f, "db.json"), "{}");
	assert_int_equal(turn(f, 5000, 1), 1);
	assert_int_equal(chmod(at(f, "db.json"), 0600), 0);
	assert_int_equal(turn(f, 5000, 2), 2);
	assert_int_equal(rename(at(f, "db.json"), at(f, "db.json.off")), 0);
	assert_int_equal(turn(f, 5000, 3), 3);
	assert_int_equal(unlink(at(f, "web.json")), 0);
	assert_int_equal(turn(f, 5000, 4), 4);
	assert_int_equal(turn(f, 300, 5), 4);
}

/* --policy FILE: its directory is watched, for that file's name only. An editor that
 * writes a temporary file and renames it over the policy is seen. */
static void test_policy_file(void **state)
{
	struct fixture *f = *state;

	put(at(f, "web.json"), "{}");
	put(at(f, "db.json"), "{}");
	watch(f, at(f, "web.json"), 50 * MS);
	assert_string_equal(policy_watch_dir(f->watch), f->dir);
	put(at(f, "db.json"), "{\"a\": 1}");
	put(at(f, ".web.json.tmp"), "{\"a\": 1}");
	assert_int_equal(turn(f, 400, 1), 0);
	assert_int_equal(rename(at(f, ".web.json.tmp"), at(f, "web.json")), 0);
	assert_int_equal(turn(f, 5000, 1), 1);
	assert_int_equal(turn(f, 300, 2), 1);
}

/* --policy a symbolic link to a release's directory: a swap of the link is a change,
 * and the watch moves to the new directory. */
static void test_directory_swapped(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkdir(at(f, "v1"), 0755), 0);
	assert_int_equal(mkdir(at(f, "v2"), 0755), 0);
	put(at(f, "v1/web.json"), "{}");
	put(at(f, "v2/web.json"), "{}");
	assert_int_equal(symlink("v1", at(f, "current")), 0);
	watch(f, at(f, "current"), 50 * MS);

	assert_int_equal(symlink("v2", at(f, "current.tmp")), 0);
	assert_int_equal(rename(at(f, "current.tmp"), at(f, "current")), 0);
	assert_int_equal(turn(f, 5000, 1), 1);
	put(at(f, "v1/web.json"), "{\"old\": 1}");
	assert_int_equal(turn(f, 300, 2), 1);
	put(at(f, "v2/web.json"), "{\"new\": 1}");
	assert_int_equal(turn(f, 5000, 2), 2);
}

/* The directory removed is a change (the reload will say it is missing); made again,
 * it is watched again. */
static void test_directory_gone_and_back(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkdir(at(f, "p"), 0755), 0);
	put(at(f, "p/web.json"), "{}");
	watch(f, at(f, "p"), 50 * MS);
	assert_int_equal(unlink(at(f, "p/web.json")), 0);
	assert_int_equal(rmdir(at(f, "p")), 0);
	assert_int_equal(turn(f, 5000, 1), 1);
	assert_int_equal(mkdir(at(f, "p"), 0755), 0);
	assert_int_equal(turn(f, 5000, 2), 2);
	put(at(f, "p/web.json"), "{}");
	assert_int_equal(turn(f, 5000, 3), 3);
}

/* A relative path is watched where it was when salved started, "." components gone. */
static void test_relative_path(void **state)
{
	struct fixture *f = *state;
	char cwd[256], want[256];

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(mkdir(at(f, "pol"), 0755), 0);
	assert_int_equal(chdir(f->dir), 0);
	watch(f, "./pol/.//", 50 * MS);
	assert_int_equal(chdir(cwd), 0);
	snprintf(want, sizeof(want), "%s/pol", f->dir);
	assert_string_equal(policy_watch_dir(f->watch), want);
	put(at(f, "pol/web.json"), "{}");
	assert_int_equal(turn(f, 5000, 1), 1);
}

static void test_missing_path(void **state)
{
	struct fixture *f = *state;
	struct policy_watch *w = NULL;
	char err[256] = "";

	assert_int_equal(policy_watch_new(f->loop, &(struct policy_watch_config){
				 .path = at(f, "nowhere"), .changed = changed, .ctx = f },
				 &w, err, sizeof(err)), -ENOENT);
	assert_null(w);
	assert_non_null(strstr(err, "nowhere"));
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_configmap_swap_reloads_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_makes_one_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_files_are_no_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_swapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_gone_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_path, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
