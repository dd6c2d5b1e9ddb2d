/* scope: the plan a policy set's scopes make on real files and a fake cgroup2 tree, what
 * salved says when a scoped name is missing or appears (once each), and the watch that
 * tells salved when to plan again. No root needed. */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events/events.h"
#include "kernel/scope.h"
#include "kernel/scope_watch.h"
#include "policy/policy.h"

/* ---- a temporary directory per test, with a fake cgroup2 root in it ---------------------- */

struct fixture {
	char dir[64];
	char cg[128]; /* the fake cgroup2 mount */
	char bin[128]; /* a scoped binary's path: dir/bin/app */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/salve-test-scope.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->cg, sizeof(f->cg), "%s/cg", f->dir);
	snprintf(f->bin, sizeof(f->bin), "%s/bin/app", f->dir);
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void mkdirf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mkdirf(const char *fmt, ...)
{
	char path[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* A new file at path by rename, as package managers install: a new inode. */
static void replace_by_rename(const char *path)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	write_file(tmp, "new build");
	assert_int_equal(rename(tmp, path), 0);
}

static struct policy_set *load(struct fixture *f, const char *scope)
{
	struct policy_set *set;
	char path[256], json[2048], err[512] = "";

	snprintf(path, sizeof(path), "%s/p.json", f->dir);
	snprintf(json, sizeof(json),
		 "{\"salve\": 1, \"name\": \"t\", \"scope\": %s,"
		 " \"probes\": [{\"id\": \"c\", \"kind\": \"signal\"}]}", scope);
	write_file(path, json);
	if (policy_set_load(path, &set, err, sizeof(err)))
		fail_msg("%s", err);
	return set;
}

static void build(struct fixture *f, const struct policy_set *set, struct scope_plan *plan)
{
	struct scope_opts opts = { .cgroup_root = f->cg, .rate_per_sec = 100, .burst = 200 };
	char err[512] = "";

	if (scope_plan_build(set, &opts, plan, err, sizeof(err)))
		fail_msg("%s", err);
}

static const struct probes_scope_entry *find(const struct scope_plan *plan, int set,
					     uint64_t id)
{
	for (size_t i = 0; i < plan->n_entries; i++) {
		const struct probes_scope_entry *e = &plan->entries[i];

		if (e->set == set && (set == SALVE_SCOPE_CGROUP ? e->key.cgroup_id == id
								: e->key.exe.ino == id))
			return e;
	}
	return NULL;
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* ---- what salved writes to stderr ------------------------------------------------------ */

static int saved_stderr = -1;
static FILE *captured;

static void capture_start(void)
{
	fflush(stderr);
	captured = tmpfile();
	assert_non_null(captured);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(captured), STDERR_FILENO);
}

/* What was logged since capture_start; the caller frees it. */
static char *capture_end(void)
{
	char *text = calloc(1, 8192);

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(captured);
	assert_non_null(text);
	(void)!fread(text, 1, 8191, captured);
	fclose(captured);
	return text;
}

static size_t lines(const char *text)
{
	size_t n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* ---- the plan --------------------------------------------------------------------------- */

/* A binary is its file's identity, a cgroup and a unit their directory's inode (a cgroup's
 * id), wherever under the root the unit's slice is. */
static void test_plan_from_files_and_cgroups(void **state)
{
	struct fixture *f = *state;
	struct scope_plan plan;
	const struct probes_scope_entry *e;
	struct policy_set *set;
	char scope[512], unit[256], mine[256];
	struct stat st;

	mkdirf("%s/bin", f->dir);
	write_file(f->bin, "binary");
	mkdirf("%s", f->cg);
	mkdirf("%s/mine", f->cg);
	mkdirf("%s/system.slice", f->cg);
	mkdirf("%s/system.slice/app.service", f->cg);
	snprintf(unit, sizeof(unit), "%s/system.slice/app.service", f->cg);
	snprintf(mine, sizeof(mine), "%s/mine", f->cg);
	snprintf(scope, sizeof(scope),
		 "{\"binaries\": [\"%s\"], \"cgroups\": [\"/mine\"], \"units\": [\"app.service\"]}",
		 f->bin);
	set = load(f, scope);
	build(f, set, &plan);

	assert_int_equal(plan.n_entries, 3);
	assert_int_equal(stat(f->bin, &st), 0);
	assert_non_null(e = find(&plan, SALVE_SCOPE_EXE, st.st_ino));
	assert_int_equal(e->key.exe.dev, events_kernel_dev(st.st_dev));
	assert_int_equal(e->val.include, 1);
	assert_non_null(find(&plan, SALVE_SCOPE_CGROUP, ino_of(mine)));
	assert_non_null(find(&plan, SALVE_SCOPE_CGROUP, ino_of(unit)));
	assert_int_equal(plan.cfg.scoped, 1);
	assert_int_equal(plan.n_names, 3);
	for (size_t i = 0; i < plan.n_names; i++)
		assert_null(plan.names[i].missing);
	snprintf(scope, sizeof(scope), "%s/p.json: scope.units[0]", f->dir);
	assert_string_equal(plan.names[2].where, scope);
	assert_string_equal(plan.names[2].name, "app.service");
	scope_plan_clear(&plan);
	policy_set_free(set);
}

/* Planning the same files twice programs the kernel the same way; a binary replaced by
 * rename is a new file, and a new plan. */
static void test_plan_equal_until_a_binary_is_replaced(void **state)
{
	struct fixture *f = *state;
	struct scope_plan a, b, c;
	struct policy_set *set;
	char scope[512];

	mkdirf("%s/bin", f->dir);
	write_file(f->bin, "binary");
	snprintf(scope, sizeof(scope), "{\"binaries\": [\"%s\"], \"comms\": [\"app\"]}", f->bin);
	set = load(f, scope);
	build(f, set, &a);
	build(f, set, &b);
	assert_true(scope_plan_equal(&a, &b));

	replace_by_rename(f->bin);
	build(f, set, &c);
	assert_false(scope_plan_equal(&a, &c));
	assert_non_null(find(&c, SALVE_SCOPE_EXE, ino_of(f->bin)));
	scope_plan_clear(&a);
	scope_plan_clear(&b);
	scope_plan_clear(&c);
	policy_set_free(set);
}

/* A missing binary or unit is left out and said once, however often salved plans again;
 * its appearing is said once too, and its going missing again is warned about again. */
static void test_missing_names_are_said_once(void **state)
{
	struct fixture *f = *state;
	struct scope_plan none = { 0 }, p1, p2, p3, p4;
	struct policy_set *set;
	char scope[512], want[1024], *log;

	mkdirf("%s", f->cg);
	snprintf(scope, sizeof(scope), "{\"binaries\": [\"%s\"], \"units\": [\"app.service\"]}",
		 f->bin);
	set = load(f, scope);

	capture_start();
	build(f, set, &p1);
	scope_plan_report(&none, &p1);
	build(f, set, &p2);
	scope_plan_report(&p1, &p2);
	log = capture_end();
	assert_int_equal(p1.n_entries, 0);
	/* With nothing of its lists there, the policy holds no process: the kernel still
	 * looks at the sets it needs, and finds no entry. */
	assert_int_equal(p1.cfg.scoped, 1);
	assert_int_equal(p1.cfg.unscoped, 0);
	assert_int_equal(p1.cfg.scope, SALVE_SCOPE_CGROUP | SALVE_SCOPE_EXE);
	assert_true(scope_plan_equal(&p1, &p2));
	snprintf(want, sizeof(want),
		 "salved: warning: %s/p.json: scope.binaries[0]: %s: No such file or directory; "
		 "no process runs it yet\n"
		 "salved: warning: %s/p.json: scope.units[0]: app.service has no cgroup under %s: "
		 "No such file or directory; it is not running yet\n", f->dir, f->bin, f->dir, f->cg);
	assert_string_equal(log, want);
	free(log);

	mkdirf("%s/bin", f->dir);
	write_file(f->bin, "binary");
	capture_start();
	build(f, set, &p3);
	scope_plan_report(&p2, &p3);
	log = capture_end();
	snprintf(want, sizeof(want),
		 "salved: info: %s/p.json: scope.binaries[0]: %s appeared; the scope takes it in\n",
		 f->dir, f->bin);
	assert_string_equal(log, want);
	assert_non_null(find(&p3, SALVE_SCOPE_EXE, ino_of(f->bin)));
	free(log);

	assert_int_equal(unlink(f->bin), 0);
	capture_start();
	build(f, set, &p4);
	scope_plan_report(&p3, &p4);
	log = capture_end();
	assert_int_equal(lines(log), 1);
	assert_non_null(strstr(log, "/p.json: scope.binaries[0]: "));
	assert_non_null(strstr(log, "salved: warning: "));
	assert_non_null(strstr(log, "no process runs it yet"));
	free(log);

	scope_plan_clear(&p1);
	scope_plan_clear(&p2);
	scope_plan_clear(&p3);
	scope_plan_clear(&p4);
	policy_set_free(set);
}

/* ---- the watch -------------------------------------------------------------------------- */

static struct scope_watch *watch(struct fixture *f, const struct policy_set *set)
{
	struct scope_watch *w;

	assert_int_equal(scope_watch_new(&w), 0);
	assert_true(scope_watch_fd(w) >= 0);
	assert_int_equal(scope_watch_arm(w, set, f->cg), 0);
	return w;
}

static bool watches(const struct scope_watch *w, const char *dir)
{
	for (size_t i = 0; scope_watch_dir(w, i); i++)
		if (!strcmp(scope_watch_dir(w, i), dir))
			return true;
	return false;
}

/* A binary whose directories do not exist yet: each directory appearing is a change
 * (the watch moves down to it), and so is the binary; other files are not. */
static void test_watch_binary_installed_later(void **state)
{
	struct fixture *f = *state;
	struct scope_watch *w;
	struct policy_set *set;
	char scope[512], other[256], bindir[256];

	mkdirf("%s", f->cg);
	snprintf(scope, sizeof(scope), "{\"binaries\": [\"%s\"]}", f->bin);
	set = load(f, scope);
	w = watch(f, set);
	assert_true(watches(w, f->dir));
	assert_int_equal(scope_watch_read(w), 0);
	snprintf(other, sizeof(other), "%s/other", f->dir);
	write_file(other, "not scoped");
	assert_int_equal(scope_watch_read(w), 0);

	mkdirf("%s/bin", f->dir);
	assert_int_equal(scope_watch_read(w), 1);
	assert_int_equal(scope_watch_arm(w, set, f->cg), 0);
	snprintf(bindir, sizeof(bindir), "%s/bin", f->dir);
	assert_true(watches(w, bindir));
	assert_false(watches(w, f->dir));
	assert_int_equal(scope_watch_read(w), 0);

	write_file(f->bin, "binary");
	assert_int_equal(scope_watch_read(w), 1);
	assert_int_equal(scope_watch_read(w), 0); /* read once, gone */
	scope_watch_free(w);
	policy_set_free(set);
}

/* An installed binary replaced by rename, rewritten in place, or deleted is a change;
 * the temporary file of the rename alone is not. */
static void test_watch_binary_replaced_or_deleted(void **state)
{
	struct fixture *f = *state;
	struct scope_watch *w;
	struct policy_set *set;
	char scope[512], tmp[256];

	mkdirf("%s", f->cg);
	mkdirf("%s/bin", f->dir);
	write_file(f->bin, "binary");
	snprintf(scope, sizeof(scope), "{\"binaries\": [\"%s\"]}", f->bin);
	set = load(f, scope);
	w = watch(f, set);

	snprintf(tmp, sizeof(tmp), "%s.new", f->bin);
	write_file(tmp, "new build");
	assert_int_equal(scope_watch_read(w), 0);
	assert_int_equal(rename(tmp, f->bin), 0);
	assert_int_equal(scope_watch_read(w), 1);

	write_file(f->bin, "patched in place");
	assert_int_equal(scope_watch_read(w), 1);

	assert_int_equal(unlink(f->bin), 0);
	assert_int_equal(scope_watch_read(w), 1);
	scope_watch_free(w);
	policy_set_free(set);
}

/* The re-check sees a change without inotify's help, until the watch is armed again. */
static void test_watch_poll_sees_changes(void **state)
{
	struct fixture *f = *state;
	struct scope_watch *w;
	struct policy_set *set;
	char scope[512];

	mkdirf("%s", f->cg);
	mkdirf("%s/system.slice", f->cg);
	mkdirf("%s/bin", f->dir);
	write_file(f->bin, "binary");
	snprintf(scope, sizeof(scope), "{\"binaries\": [\"%s\"], \"units\": [\"app.service\"]}",
		 f->bin);
	set = load(f, scope);
	w = watch(f, set);
	assert_int_equal(scope_watch_poll(w), 0);

	replace_by_rename(f->bin);
	assert_int_equal(scope_watch_poll(w), 1);
	assert_int_equal(scope_watch_arm(w, set, f->cg), 0);
	assert_int_equal(scope_watch_poll(w), 0);

	/* The unit starts in a slice that was there: inotify and the re-check both see it. */
	scope_watch_read(w);
	mkdirf("%s/system.slice/app.service", f->cg);
	assert_int_equal(scope_watch_read(w), 1);
	assert_int_equal(scope_watch_poll(w), 1);
	scope_watch_free(w);
	policy_set_free(set);
}

/* Two paths to one directory (a symbolic link, as /bin on a merged /usr) are one inotify
 * watch: a name under either path is seen. */
static void test_watch_two_paths_to_one_directory(void **state)
{
	struct fixture *f = *state;
	struct scope_watch *w;
	struct policy_set *set;
	char scope[1024], real[128], link[128], a[256], b[256];

	mkdirf("%s", f->cg);
	snprintf(real, sizeof(real), "%s/usr-bin", f->dir);
	snprintf(link, sizeof(link), "%s/bin", f->dir);
	mkdirf("%s", real);
	assert_int_equal(symlink(real, link), 0);
	snprintf(a, sizeof(a), "%s/a", real);
	snprintf(b, sizeof(b), "%s/b", link);
	snprintf(scope, sizeof(scope), "{\"binaries\": [\"%s\", \"%s\"]}", a, b);
	set = load(f, scope);
	w = watch(f, set);
	assert_true(watches(w, real));
	assert_true(watches(w, link));

	write_file(b, "installed through the link");
	assert_int_equal(scope_watch_read(w), 1);
	write_file(a, "installed");
	assert_int_equal(scope_watch_read(w), 1);
	scope_watch_free(w);
	policy_set_free(set);
}

/* Arming for a new set (a reload) stops watching what only the old set named. */
static void test_watch_rearm_follows_the_set(void **state)
{
	struct fixture *f = *state;
	struct scope_watch *w;
	struct policy_set *a, *b;
	char scope[512], path[256];

	mkdirf("%s", f->cg);
	mkdirf("%s/bin", f->dir);
	mkdirf("%s/sbin", f->dir);
	snprintf(scope, sizeof(scope), "{\"binaries\": [\"%s\"]}", f->bin);
	a = load(f, scope);
	snprintf(path, sizeof(path), "%s/sbin/tool", f->dir);
	snprintf(scope, sizeof(scope), "{\"binaries\": [\"%s\"]}", path);
	b = load(f, scope);
	w = watch(f, a);
	assert_int_equal(scope_watch_arm(w, b, f->cg), 0);
	scope_watch_read(w);

	write_file(f->bin, "no longer scoped");
	assert_int_equal(scope_watch_read(w), 0);
	write_file(path, "scoped now");
	assert_int_equal(scope_watch_read(w), 1);
	scope_watch_free(w);
	policy_set_free(a);
	policy_set_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plan_from_files_and_cgroups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_equal_until_a_binary_is_replaced, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_names_are_said_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_binary_installed_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_binary_replaced_or_deleted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_watch_poll_sees_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_two_paths_to_one_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_watch_rearm_follows_the_set, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
