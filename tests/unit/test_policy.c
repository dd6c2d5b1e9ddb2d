/* policy: what an operator sees: the shipped policy loads, and every mistake in a policy
 * file is refused with the exact message naming file, JSON path and what is wrong. */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

#define ALL_SIGNALS                                                                      \
	(1u << SIGSEGV | 1u << SIGBUS | 1u << SIGFPE | 1u << SIGILL | 1u << SIGABRT |      \
	 1u << SIGSYS | 1u << SIGTRAP | 1u << SIGKILL)

/* A valid policy around the given probes, to test one probe field at a time. */
#define WITH_PROBES(probes) "{\"salve\": 1, \"name\": \"t\", \"probes\": [" probes "]}"
#define WITH_SCOPE(scope) \
	"{\"salve\": 1, \"name\": \"t\", \"scope\": " scope ", \"probes\": [{\"id\": \"a\", \"kind\": \"oom\"}]}"

static void expect_error(const char *json, int rc, const char *msg)
{
	struct policy p = { .name = (char *)"untouched" };
	char err[512] = "";

	assert_int_equal(policy_parse("x.json", json, strlen(json), &p, err, sizeof(err)), rc);
	assert_string_equal(err, msg);
	assert_string_equal(p.name, "untouched");
	assert_null(p.probes);
}

/* ---- a temporary directory per test ---------------------------------------------------- */

static int setup_dir(void **state)
{
	char *dir = strdup("/tmp/salve-test-policy.XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown_dir(void **state)
{
	int rc = nftw(*state, rm_entry, 8, FTW_DEPTH | FTW_PHYS);

	free(*state);
	return rc;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void expect_load_error(const char *path, int rc, const char *msg)
{
	struct policy_set *set = (struct policy_set *)0x1;
	char err[1024] = "";

	assert_int_equal(policy_set_load(path, &set, err, sizeof(err)), rc);
	assert_string_equal(err, msg);
	assert_ptr_equal(set, (struct policy_set *)0x1);
}

/* ---- what loads ----------------------------------------------------------------------- */

static void test_default_policy_parses(void **state)
{
	struct policy_set *set = NULL;
	char err[512] = "";
	struct policy *p;

	(void)state;
	assert_int_equal(policy_set_load("policies/default.json", &set, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(set->n_policies, 1);
	p = &set->policies[0];
	assert_string_equal(p->file, "policies/default.json");
	assert_string_equal(p->name, "default");
	assert_int_equal(p->scope.n_binaries + p->scope.n_cgroups + p->scope.n_comms, 0);
	assert_int_equal(p->n_probes, 3);

	assert_string_equal(p->probes[0].id, "crashes");
	assert_int_equal(p->probes[0].kind, POLICY_PROBE_SIGNAL);
	assert_int_equal(p->probes[0].signals_mask, ALL_SIGNALS);
	assert_false(p->probes[0].handled);
	assert_string_equal(p->probes[1].id, "exits");
	assert_int_equal(p->probes[1].kind, POLICY_PROBE_EXIT);
	assert_true(p->probes[1].nonzero);
	assert_string_equal(p->probes[2].id, "oom");
	assert_int_equal(p->probes[2].kind, POLICY_PROBE_OOM);
	for (size_t i = 0; i < p->n_probes; i++)
		assert_ptr_equal(p->probes[i].policy, p);
	policy_set_free(set);
}

static void test_every_field(void **state)
{
	const char *json =
		"\xef\xbb\xbf{\"salve\": 1, \"name\": \"web\",\n"
		" \"scope\": {\"binaries\": [\"/usr/bin/app\", \"/opt/x\"], \"cgroups\": [\"/system.slice/app.service\"],\n"
		"           \"comms\": [\"app\", \"123456789012345\"]},\n"
		" \"probes\": [{\"id\": \"segv-abrt\", \"kind\": \"signal\", \"signals\": [\"SIGSEGV\", \"SIGABRT\"], \"handled\": true},\n"
		"            {\"id\": \"exits\", \"kind\": \"exit\"},\n"
		"            {\"id\": \"Exec_1.x\", \"kind\": \"exec\"}]}\n\n";
	struct policy p;
	char err[512] = "";

	(void)state;
	assert_int_equal(policy_parse("web.json", json, strlen(json), &p, err, sizeof(err)), 0);
	assert_string_equal(p.file, "web.json");
	assert_string_equal(p.name, "web");
	assert_int_equal(p.scope.n_binaries, 2);
	assert_string_equal(p.scope.binaries[0], "/usr/bin/app");
	assert_string_equal(p.scope.binaries[1], "/opt/x");
	assert_int_equal(p.scope.n_cgroups, 1);
	assert_string_equal(p.scope.cgroups[0], "/system.slice/app.service");
	assert_int_equal(p.scope.n_comms, 2);
	assert_string_equal(p.scope.comms[1], "123456789012345");
	assert_int_equal(p.n_probes, 3);
	assert_int_equal(p.probes[0].signals_mask, 1u << SIGSEGV | 1u << SIGABRT);
	assert_true(p.probes[0].handled);
	assert_int_equal(p.probes[1].kind, POLICY_PROBE_EXIT);
	assert_false(p.probes[1].nonzero);
	assert_int_equal(p.probes[1].signals_mask, 0);
	assert_int_equal(p.probes[2].kind, POLICY_PROBE_EXEC);
	assert_string_equal(p.probes[2].id, "Exec_1.x");
	for (size_t i = 0; i < p.n_probes; i++)
		assert_ptr_equal(p.probes[i].policy, &p);
	policy_clear(&p);
	assert_null(p.name);
	policy_clear(&p);
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_SIGNAL), "signal");
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_EXIT), "exit");
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_OOM), "oom");
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_EXEC), "exec");
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_KIND_COUNT), "unknown");
}

/* ---- syntax ------------------------------------------------------------------------------ */

static void test_syntax_error_line_col(void **state)
{
	(void)state;
	expect_error("{\"salve\": 1,\n \"name\": \"t\",\n \"probes\": [{\"id\": \"a\" \"kind\": \"oom\"}]}",
		     -EINVAL, "x.json:3:24: syntax error: object value separator ',' expected");
	/* columns count characters, not bytes */
	expect_error("{\"name\": \"h\xc3\xa9h\xc3\xa9\", x}", -EINVAL,
		     "x.json:1:18: syntax error: quoted object property name expected");
	expect_error("{\"salve\": 1,\n \"name\": tru}", -EINVAL, "x.json:2:13: syntax error: boolean expected");
	expect_error("{\"salve\": 1, \"name\": \"\xff\"}", -EINVAL, "x.json:1:23: syntax error: invalid utf-8 string");
}

static void test_syntax_unexpected_end(void **state)
{
	(void)state;
	expect_error("{\"salve\": 1,\n  \"name\": \"t\",\n", -EINVAL,
		     "x.json:3:1: syntax error: unexpected end of data");
	expect_error("{\"salve\": 1, \"name\": \"t", -EINVAL, "x.json:1:24: syntax error: unexpected end of data");
}

static void test_syntax_trailing_garbage(void **state)
{
	(void)state;
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oom\"}") "\n  x", -EINVAL,
		     "x.json:2:3: syntax error: unexpected character");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oom\"}") " {}", -EINVAL,
		     "x.json:1:67: syntax error: unexpected character");
	/* a NUL byte, which json-c takes for the end of its input */
	{
		static const char text[] = "{\"salve\": 1}\0{}";
		struct policy p;
		char err[256] = "";

		assert_int_equal(policy_parse("x.json", text, sizeof(text) - 1, &p, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "x.json:1:13: syntax error: unexpected text after the JSON object");
	}
}

static void test_empty_file(void **state)
{
	(void)state;
	expect_error("", -EINVAL, "x.json: empty file (expected a JSON object)");
	expect_error(" \n\t\n", -EINVAL, "x.json: empty file (expected a JSON object)");
}

static void test_top_level_not_object(void **state)
{
	(void)state;
	expect_error("[{\"salve\": 1}]", -EINVAL, "x.json: expected a JSON object at the top level, got [{\"salve\":1}]");
	expect_error("1", -EINVAL, "x.json: expected a JSON object at the top level, got 1");
	expect_error("\"policy\"\n", -EINVAL, "x.json: expected a JSON object at the top level, got \"policy\"");
}

/* ---- the policy object --------------------------------------------------------------------- */

static void test_version(void **state)
{
	(void)state;
	/* checked before anything else: a newer format's fields are not typos */
	expect_error("{\"salve\": 2, \"name\": \"t\", \"rules\": []}", -EINVAL,
		     "x.json: salve: unsupported format version 2 (this salved reads 1)");
	expect_error("{\"salve\": 0}", -EINVAL, "x.json: salve: unsupported format version 0 (this salved reads 1)");
	expect_error("{\"salve\": \"1\"}", -EINVAL, "x.json: salve: expected an integer, got \"1\"");
	expect_error("{\"salve\": 1.0}", -EINVAL, "x.json: salve: expected an integer, got 1.0");
	expect_error("{\"name\": \"t\", \"probes\": []}", -EINVAL,
		     "x.json: missing required field \"salve\" (the format version, 1)");
	expect_error("{\"slave\": 1, \"name\": \"t\", \"probes\": []}", -EINVAL,
		     "x.json: unknown field \"slave\" (did you mean \"salve\"?)");
}

static void test_name(void **state)
{
	(void)state;
	expect_error("{\"salve\": 1, \"probes\": []}", -EINVAL,
		     "x.json: missing required field \"name\" (a non-empty string naming the policy)");
	expect_error("{\"salve\": 1, \"name\": \"\", \"probes\": []}", -EINVAL,
		     "x.json: name: expected a non-empty string, got \"\"");
	expect_error("{\"salve\": 1, \"name\": [\"web\"], \"probes\": []}", -EINVAL,
		     "x.json: name: expected a string, got [\"web\"]");
	expect_error("{\"salve\": 1, \"name\": null, \"probes\": []}", -EINVAL,
		     "x.json: name: expected a string, got null");
	expect_error("{\"salve\": 1, \"name\": \"a\\u0000b\", \"probes\": []}", -EINVAL,
		     "x.json: name: expected a string without NUL characters, got \"a\\u0000b\"");
}

static void test_probes_array(void **state)
{
	(void)state;
	expect_error("{\"salve\": 1, \"name\": \"t\"}", -EINVAL,
		     "x.json: missing required field \"probes\" (a non-empty array of probes)");
	expect_error("{\"salve\": 1, \"name\": \"t\", \"probes\": []}", -EINVAL,
		     "x.json: probes: expected at least one probe, got []");
	expect_error("{\"salve\": 1, \"name\": \"t\", \"probes\": {\"id\": \"a\"}}", -EINVAL,
		     "x.json: probes: expected an array, got {\"id\":\"a\"}");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oom\"}, \"exit\""), -EINVAL,
		     "x.json: probes[1]: expected an object, got \"exit\"");
}

static void test_unknown_field(void **state)
{
	(void)state;
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"exit\", \"nonzeroo\": true}"), -EINVAL,
		     "x.json: probes[0]: unknown field \"nonzeroo\" (did you mean \"nonzero\"?)");
	/* reported before the missing field it explains */
	expect_error("{\"salve\": 1, \"nmae\": \"t\", \"probes\": []}", -EINVAL,
		     "x.json: unknown field \"nmae\" (did you mean \"name\"?)");
	expect_error(WITH_SCOPE("{\"binary\": [\"/bin/x\"]}"), -EINVAL,
		     "x.json: scope: unknown field \"binary\" (did you mean \"binaries\"?)");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"Kind\": \"oom\"}"), -EINVAL,
		     "x.json: probes[0]: unknown field \"Kind\" (did you mean \"kind\"?)");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oom\", \"threshold\": 3}"), -EINVAL,
		     "x.json: probes[0]: unknown field \"threshold\" "
		     "(expected one of \"id\", \"kind\", \"signals\", \"handled\", \"nonzero\")");
	expect_error(WITH_SCOPE("{\"uids\": [0]}"), -EINVAL,
		     "x.json: scope: unknown field \"uids\" (expected one of \"binaries\", \"cgroups\", \"comms\")");
	/* a hostile key is quoted, not printed raw */
	expect_error("{\"salve\": 1, \"a\\nb\\\"\": 1}", -EINVAL,
		     "x.json: unknown field \"a\\nb\\\"\" (expected one of \"salve\", \"name\", \"scope\", \"probes\")");
}

/* ---- probes ----------------------------------------------------------------------------- */

static void test_unknown_kind(void **state)
{
	(void)state;
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oom\"}, {\"id\": \"b\", \"kind\": \"exitt\"}"), -EINVAL,
		     "x.json: probes[1].kind: unknown probe kind \"exitt\" (did you mean \"exit\"?)");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signals\"}"), -EINVAL,
		     "x.json: probes[0].kind: unknown probe kind \"signals\" (did you mean \"signal\"?)");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"crash\"}"), -EINVAL,
		     "x.json: probes[0].kind: unknown probe kind \"crash\" "
		     "(expected one of \"signal\", \"exit\", \"oom\", \"exec\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": 3}"), -EINVAL,
		     "x.json: probes[0].kind: expected a string, got 3");
	expect_error(WITH_PROBES("{\"id\": \"a\"}"), -EINVAL,
		     "x.json: probes[0]: missing required field \"kind\" "
		     "(one of \"signal\", \"exit\", \"oom\", \"exec\")");
}

static void test_probe_id(void **state)
{
	(void)state;
	expect_error(WITH_PROBES("{\"id\": \"bad id!\", \"kind\": \"oom\"}"), -EINVAL,
		     "x.json: probes[0].id: expected an id of letters, digits, \"_\", \".\" and \"-\", got \"bad id!\"");
	expect_error(WITH_PROBES("{\"id\": \"caf\xc3\xa9\", \"kind\": \"oom\"}"), -EINVAL,
		     "x.json: probes[0].id: expected an id of letters, digits, \"_\", \".\" and \"-\", got \"caf\xc3\xa9\"");
	expect_error(WITH_PROBES("{\"id\": \"\", \"kind\": \"oom\"}"), -EINVAL,
		     "x.json: probes[0].id: expected a non-empty string, got \"\"");
	expect_error(WITH_PROBES("{\"id\": 7, \"kind\": \"oom\"}"), -EINVAL,
		     "x.json: probes[0].id: expected a string, got 7");
	expect_error(WITH_PROBES("{\"kind\": \"oom\"}"), -EINVAL,
		     "x.json: probes[0]: missing required field \"id\" (a name for the probe, unique across all policies)");
	expect_error(WITH_PROBES("{\"id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"kind\": \"oom\"}"),
		     -EINVAL,
		     "x.json: probes[0].id: expected an id of at most 64 bytes, got "
		     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa... (65 bytes)");
}

static void test_field_not_for_kind(void **state)
{
	(void)state;
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"nonzero\": true}"), -EINVAL,
		     "x.json: probes[0].nonzero: does not apply to a probe of kind \"signal\" (only to kind \"exit\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"exit\", \"signals\": [\"SIGSEGV\"]}"), -EINVAL,
		     "x.json: probes[0].signals: does not apply to a probe of kind \"exit\" (only to kind \"signal\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oom\", \"handled\": false}"), -EINVAL,
		     "x.json: probes[0].handled: does not apply to a probe of kind \"oom\" (only to kind \"signal\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"exec\", \"nonzero\": false}"), -EINVAL,
		     "x.json: probes[0].nonzero: does not apply to a probe of kind \"exec\" (only to kind \"exit\")");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"exit\", \"nonzero\": \"yes\"}"), -EINVAL,
		     "x.json: probes[0].nonzero: expected a boolean, got \"yes\"");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"handled\": 1}"), -EINVAL,
		     "x.json: probes[0].handled: expected a boolean, got 1");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"signals\": \"SIGSEGV\"}"), -EINVAL,
		     "x.json: probes[0].signals: expected an array, got \"SIGSEGV\"");
	expect_error(WITH_SCOPE("[]"), -EINVAL, "x.json: scope: expected an object, got []");
	expect_error(WITH_SCOPE("{\"binaries\": \"/bin/x\"}"), -EINVAL,
		     "x.json: scope.binaries: expected an array, got \"/bin/x\"");
	expect_error(WITH_SCOPE("{\"comms\": [\"a\", {\"b\": 1}]}"), -EINVAL,
		     "x.json: scope.comms[1]: expected a string, got {\"b\":1}");
}

static void test_signals(void **state)
{
	(void)state;
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"signals\": [\"SIGSEGV\", \"SIGSEV\"]}"), -EINVAL,
		     "x.json: probes[0].signals[1]: unknown signal \"SIGSEV\" (did you mean \"SIGSEGV\"?)");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"signals\": [\"abrt\"]}"), -EINVAL,
		     "x.json: probes[0].signals[0]: unknown signal \"abrt\" (did you mean \"SIGABRT\"?)");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"signals\": [\"SIGTERM\"]}"), -EINVAL,
		     "x.json: probes[0].signals[0]: unknown signal \"SIGTERM\" (expected one of \"SIGSEGV\", "
		     "\"SIGBUS\", \"SIGFPE\", \"SIGILL\", \"SIGABRT\", \"SIGSYS\", \"SIGTRAP\", \"SIGKILL\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"signals\": [11]}"), -EINVAL,
		     "x.json: probes[0].signals[0]: expected a string, got 11");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"signals\": []}"), -EINVAL,
		     "x.json: probes[0].signals: expected at least one signal name (leave \"signals\" out for all 8)");
}

static void test_duplicate_ids_in_file(void **state)
{
	(void)state;
	expect_error(WITH_PROBES("{\"id\": \"crashes\", \"kind\": \"signal\"}, {\"id\": \"oom\", \"kind\": \"oom\"}, "
				 "{\"id\": \"crashes\", \"kind\": \"exit\"}"),
		     -EINVAL, "x.json: probes[2].id: duplicate probe id \"crashes\" (first declared at x.json: probes[0].id)");
}

/* ---- scope ----------------------------------------------------------------------------- */

static void test_scope_values(void **state)
{
	(void)state;
	expect_error(WITH_SCOPE("{\"binaries\": [\"/usr/bin/ok\", \"bin/app\"]}"), -EINVAL,
		     "x.json: scope.binaries[1]: expected an absolute path, got \"bin/app\"");
	expect_error(WITH_SCOPE("{\"binaries\": [\"\"]}"), -EINVAL,
		     "x.json: scope.binaries[0]: expected a non-empty string, got \"\"");
	expect_error(WITH_SCOPE("{\"cgroups\": [\"system.slice/app.service\"]}"), -EINVAL,
		     "x.json: scope.cgroups[0]: expected a path starting with \"/\", relative to the cgroup2 "
		     "mount (like \"/system.slice/app.service\"), got \"system.slice/app.service\"");
	expect_error(WITH_SCOPE("{\"comms\": [\"averyveryverylongname\"]}"), -EINVAL,
		     "x.json: scope.comms[0]: expected a process name of at most 15 bytes (the kernel keeps "
		     "no more), got \"averyveryverylongname\" (21 bytes)");
	expect_error(WITH_SCOPE("{\"comms\": [\"\"]}"), -EINVAL,
		     "x.json: scope.comms[0]: expected a non-empty string, got \"\"");
}

/* ---- files and directories ----------------------------------------------------------------- */

static void test_missing_path(void **state)
{
	(void)state;
	expect_load_error("no/such/policy.json", -ENOENT, "no/such/policy.json: No such file or directory");
}

static void test_file_errors_name_the_file(void **state)
{
	const char *dir = *state;
	char path[4096], msg[8192];

	write_file(dir, "web.json", "{\"salve\": 1, \"name\": \"web\",\n \"probes\": [{\"id\": \"a\", \"kind\": \"exitt\"}]}");
	snprintf(path, sizeof(path), "%s/web.json", dir);
	snprintf(msg, sizeof(msg), "%s: probes[0].kind: unknown probe kind \"exitt\" (did you mean \"exit\"?)", path);
	expect_load_error(path, -EINVAL, msg);

	write_file(dir, "web.json", "{\"salve\": 1,\n  \"name\" \"web\"}");
	snprintf(msg, sizeof(msg), "%s:2:10: syntax error: object property name separator ':' expected", path);
	expect_load_error(path, -EINVAL, msg);
}

static void test_file_too_large(void **state)
{
	const char *dir = *state;
	char path[4096], msg[8192];
	int fd;

	snprintf(path, sizeof(path), "%s/big.json", dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	assert_int_equal(ftruncate(fd, (4 << 20) + 1), 0);
	close(fd);
	snprintf(msg, sizeof(msg), "%s: file too large (4194305 bytes; policy files are at most 4194304 bytes)", path);
	expect_load_error(path, -EFBIG, msg);
}

static void test_not_a_regular_file(void **state)
{
	const char *dir = *state;
	char path[4096], msg[8192];

	snprintf(path, sizeof(path), "%s/fifo.json", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(msg, sizeof(msg), "%s: not a regular file or a directory", path);
	expect_load_error(path, -EINVAL, msg);
}

static void test_empty_directory(void **state)
{
	const char *dir = *state;
	char msg[8192], sub[4096];

	snprintf(msg, sizeof(msg), "%s: no policy files (*.json) in this directory", dir);
	expect_load_error(dir, -ENOENT, msg);
	/* what is not a regular, visible *.json does not count */
	write_file(dir, "notes.txt", "{}");
	write_file(dir, ".hidden.json", "{}");
	write_file(dir, ".json", "{}");
	snprintf(sub, sizeof(sub), "%s/sub.json", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	expect_load_error(dir, -ENOENT, msg);
}

static void test_directory_lexical_order(void **state)
{
	const char *dir = *state;
	struct policy_set *set = NULL;
	char err[1024] = "", path[4096], withslash[4096];
	const char *names[] = { "10-b.json", "2-a.json", "B.json", "a.json" };

	write_file(dir, "a.json", "{\"salve\": 1, \"name\": \"a\", \"probes\": [{\"id\": \"a1\", \"kind\": \"oom\"}, "
				  "{\"id\": \"a2\", \"kind\": \"exec\"}]}");
	write_file(dir, "B.json", "{\"salve\": 1, \"name\": \"B\", \"probes\": [{\"id\": \"B1\", \"kind\": \"oom\"}]}");
	write_file(dir, "2-a.json", "{\"salve\": 1, \"name\": \"2-a\", \"probes\": [{\"id\": \"2\", \"kind\": \"oom\"}]}");
	write_file(dir, "10-b.json", "{\"salve\": 1, \"name\": \"10-b\", \"probes\": [{\"id\": \"10\", \"kind\": \"oom\"}]}");
	write_file(dir, "README", "not a policy");
	write_file(dir, "x.json.bak", "not a policy");
	snprintf(path, sizeof(path), "%s/B.json", dir);
	snprintf(withslash, sizeof(withslash), "%s/link.json", dir);
	assert_int_equal(symlink("B.json", withslash), 0);

	assert_int_equal(policy_set_load(dir, &set, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path),
		 "%s/link.json: probes[0].id: duplicate probe id \"B1\" (first declared at %s/B.json: probes[0].id)",
		 dir, dir);
	assert_string_equal(err, path);
	snprintf(path, sizeof(path), "%s/link.json", dir);
	assert_int_equal(unlink(path), 0);

	/* a trailing slash does not double in the names */
	snprintf(withslash, sizeof(withslash), "%s/", dir);
	assert_int_equal(policy_set_load(withslash, &set, err, sizeof(err)), 0);
	assert_int_equal(set->n_policies, 4);
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_string_equal(set->policies[i].file, path);
		for (size_t j = 0; j < set->policies[i].n_probes; j++)
			assert_ptr_equal(set->policies[i].probes[j].policy, &set->policies[i]);
	}
	assert_string_equal(set->policies[0].name, "10-b");
	assert_string_equal(set->policies[3].name, "a");
	assert_int_equal(set->policies[3].n_probes, 2);
	assert_string_equal(set->policies[3].probes[1].id, "a2");
	policy_set_free(set);
}

static void test_duplicate_ids_across_files(void **state)
{
	const char *dir = *state;
	char msg[8192];

	write_file(dir, "a.json", "{\"salve\": 1, \"name\": \"a\", \"probes\": [{\"id\": \"oom\", \"kind\": \"oom\"}, "
				  "{\"id\": \"crashes\", \"kind\": \"signal\"}]}");
	write_file(dir, "b.json", "{\"salve\": 1, \"name\": \"b\", \"probes\": [{\"id\": \"exits\", \"kind\": \"exit\"}, "
				  "{\"id\": \"crashes\", \"kind\": \"signal\"}]}");
	snprintf(msg, sizeof(msg),
		 "%s/b.json: probes[1].id: duplicate probe id \"crashes\" (first declared at %s/a.json: probes[1].id)",
		 dir, dir);
	expect_load_error(dir, -EINVAL, msg);
}

static void test_directory_stops_at_first_broken_file(void **state)
{
	const char *dir = *state;
	char msg[8192];

	write_file(dir, "a.json", "{\"salve\": 1, \"name\": \"a\", \"probes\": [{\"id\": \"a\", \"kind\": \"oom\"}]}");
	write_file(dir, "b.json", "{\"salve\": 1, \"name\": \"b\", \"probes\": [{\"id\": \"b\", \"kind\": \"oom\", \"x\": 1}]}");
	write_file(dir, "c.json", "");
	snprintf(msg, sizeof(msg), "%s/b.json: probes[0]: unknown field \"x\" "
		 "(expected one of \"id\", \"kind\", \"signals\", \"handled\", \"nonzero\")", dir);
	expect_load_error(dir, -EINVAL, msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy_parses),
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_syntax_error_line_col),
		cmocka_unit_test(test_syntax_unexpected_end),
		cmocka_unit_test(test_syntax_trailing_garbage),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_top_level_not_object),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_probes_array),
		cmocka_unit_test(test_unknown_field),
		cmocka_unit_test(test_unknown_kind),
		cmocka_unit_test(test_probe_id),
		cmocka_unit_test(test_field_not_for_kind),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_duplicate_ids_in_file),
		cmocka_unit_test(test_scope_values),
		cmocka_unit_test(test_missing_path),
		cmocka_unit_test_setup_teardown(test_file_errors_name_the_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_file_too_large, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_not_a_regular_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_empty_directory, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_directory_lexical_order, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_duplicate_ids_across_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_directory_stops_at_first_broken_file, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
