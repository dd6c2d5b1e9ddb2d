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

#include "policy/policy.h"

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

/* The default policy (policies/default/, what make run loads) is a set of two: crashes,
 * aborts and OOM kills host-wide, and non-zero exits of services only (cgroups under
 * /system.slice), so a first run reports faults, not every grep that found nothing. */
static void test_default_policy_parses(void **state)
{
	struct policy_set *set = NULL;
	char err[512] = "";
	struct policy *p;

	(void)state;
	assert_int_equal(policy_set_load("policies/default", &set, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(set->n_policies, 2);

	p = &set->policies[0];
	assert_string_equal(p->file, "policies/default/host.json");
	assert_string_equal(p->name, "host");
	/* host-wide: no scope at all */
	assert_int_equal(p->scope.n_binaries + p->scope.n_cgroups + p->scope.n_units +
				 p->scope.n_comms + p->scope.n_uids,
			 0);
	assert_int_equal(p->n_probes, 2);
	assert_string_equal(p->probes[0].id, "crashes");
	assert_int_equal(p->probes[0].kind, POLICY_PROBE_SIGNAL);
	/* every fatal signal, SIGABRT (aborts, failed asserts) among them */
	assert_int_equal(p->probes[0].signals_mask, ALL_SIGNALS);
	assert_false(p->probes[0].handled);
	/* Faults a program catches are reported by default. */
	assert_int_equal(p->probes[0].faults, POLICY_FAULTS_ALL);
	/* a crash's stack is a snapshot unwound by CFI */
	assert_true(p->probes[0].stack);
	assert_true(p->probes[0].stack_cfi);
	assert_int_equal(p->probes[0].stack_bytes, POLICY_STACK_BYTES_DEFAULT);
	assert_string_equal(p->probes[1].id, "oom");
	assert_int_equal(p->probes[1].kind, POLICY_PROBE_OOM);

	p = &set->policies[1];
	assert_string_equal(p->file, "policies/default/services.json");
	assert_string_equal(p->name, "services");
	assert_int_equal(p->scope.n_cgroups, 1);
	assert_string_equal(p->scope.cgroups[0], "/system.slice");
	assert_int_equal(p->scope.n_binaries + p->scope.n_units + p->scope.n_comms + p->scope.n_uids, 0);
	assert_int_equal(p->n_probes, 1);
	assert_string_equal(p->probes[0].id, "service-exits");
	assert_int_equal(p->probes[0].kind, POLICY_PROBE_EXIT);
	assert_true(p->probes[0].nonzero);

	for (size_t k = 0; k < set->n_policies; k++) {
		p = &set->policies[k];
		assert_int_equal(p->n_rules, 0);
		for (size_t i = 0; i < p->n_probes; i++) {
			assert_ptr_equal(p->probes[i].policy, p);
			/* the fields of function probes stay empty for the others */
			assert_null(p->probes[i].binary);
			assert_int_equal(p->probes[i].rate.per_second, 0);
			if (p->probes[i].kind != POLICY_PROBE_SIGNAL) {
				assert_false(p->probes[i].stack);
				assert_false(p->probes[i].stack_cfi);
				assert_int_equal(p->probes[i].stack_bytes, 0);
			}
		}
	}
	policy_set_free(set);
}

/* "faults": "fatal" turns off the faults a program catches and survives; "all" is the
 * default and may be written. */
static void test_faults_option(void **state)
{
	const char *json = WITH_PROBES("{\"id\": \"jvm\", \"kind\": \"signal\", \"faults\": \"fatal\"}, "
				       "{\"id\": \"all\", \"kind\": \"signal\", \"faults\": \"all\", "
				       "\"handled\": true}");
	struct policy p;
	char err[512] = "";

	(void)state;
	assert_int_equal(policy_parse("x.json", json, strlen(json), &p, err, sizeof(err)), 0);
	assert_int_equal(p.probes[0].faults, POLICY_FAULTS_FATAL);
	assert_false(p.probes[0].handled);
	assert_int_equal(p.probes[1].faults, POLICY_FAULTS_ALL);
	assert_true(p.probes[1].handled);
	policy_clear(&p);
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
	assert_int_equal(p.probes[0].faults, POLICY_FAULTS_ALL);
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
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_RETURN), "return");
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_LATENCY), "latency");
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_STALL), "stall");
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_EXCEPTION), "exception");
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_ABORT), "abort");
	assert_string_equal(policy_probe_kind_name(POLICY_PROBE_SYSCALL), "syscall");
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
	/* once the kind is known, only the fields it takes are offered */
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oom\", \"colour\": 3}"), -EINVAL,
		     "x.json: probes[0]: unknown field \"colour\" (expected one of \"id\", \"kind\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"colour\": 3}"), -EINVAL,
		     "x.json: probes[0]: unknown field \"colour\" "
		     "(expected one of \"id\", \"kind\", \"signals\", \"handled\", \"faults\", \"stack\", "
		     "\"stack_bytes\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"return\", \"colour\": 3}"), -EINVAL,
		     "x.json: probes[0]: unknown field \"colour\" (expected one of \"id\", \"kind\", "
		     "\"binary\", \"symbol\", \"offset\", \"type\", \"when\", \"stack\", \"stack_bytes\", "
		     "\"rate\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"stall\", \"evry\": \"1s\"}"), -EINVAL,
		     "x.json: probes[0]: unknown field \"evry\" (did you mean \"every\"?)");
	/* a kind not known (yet): every field of a probe */
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oomm\", \"colour\": 3}"), -EINVAL,
		     "x.json: probes[0]: unknown field \"colour\" (expected one of \"id\", \"kind\", "
		     "\"signals\", \"handled\", \"faults\", \"nonzero\", \"binary\", \"symbol\", \"offset\", \"type\", "
		     "\"when\", \"threshold\", \"baseline\", \"every\", \"types\", \"syscalls\", \"errnos\", "
		     "\"stack\", \"stack_bytes\", \"rate\")");
	expect_error(WITH_SCOPE("{\"uid\": [0]}"), -EINVAL,
		     "x.json: scope: unknown field \"uid\" (did you mean \"uids\"?)");
	/* a hostile key is quoted, not printed raw */
	expect_error("{\"salve\": 1, \"a\\nb\\\"\": 1}", -EINVAL,
		     "x.json: unknown field \"a\\nb\\\"\" (expected one of \"salve\", \"name\", \"dry_run\", \"scope\", \"probes\", \"rules\")");
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
		     "(expected one of \"signal\", \"exit\", \"oom\", \"exec\", \"return\", \"latency\", "
		     "\"stall\", \"exception\", \"abort\", \"syscall\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"retrun\"}"), -EINVAL,
		     "x.json: probes[0].kind: unknown probe kind \"retrun\" (did you mean \"return\"?)");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": 3}"), -EINVAL,
		     "x.json: probes[0].kind: expected a string, got 3");
	expect_error(WITH_PROBES("{\"id\": \"a\"}"), -EINVAL,
		     "x.json: probes[0]: missing required field \"kind\" "
		     "(one of \"signal\", \"exit\", \"oom\", \"exec\", \"return\", \"latency\", \"stall\", "
		     "\"exception\", \"abort\", \"syscall\")");
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
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oom\", \"threshold\": \"1s\"}"), -EINVAL,
		     "x.json: probes[0].threshold: does not apply to a probe of kind \"oom\" (only to kind \"latency\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"syscall\", \"binary\": \"/bin/x\"}"), -EINVAL,
		     "x.json: probes[0].binary: does not apply to a probe of kind \"syscall\" (only to kind "
		     "\"return\", \"latency\", \"stall\", \"exception\", \"abort\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"exception\", \"symbol\": \"f\"}"), -EINVAL,
		     "x.json: probes[0].symbol: does not apply to a probe of kind \"exception\" (only to kind "
		     "\"return\", \"latency\", \"stall\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"exit\", \"stack\": true}"), -EINVAL,
		     "x.json: probes[0].stack: does not apply to a probe of kind \"exit\" (only to kind "
		     "\"signal\", \"return\", \"latency\", \"stall\", \"exception\", \"abort\", \"syscall\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"oom\", \"stack_bytes\": 4096}"), -EINVAL,
		     "x.json: probes[0].stack_bytes: does not apply to a probe of kind \"oom\" (only to kind "
		     "\"signal\", \"return\", \"latency\", \"stall\", \"exception\", \"abort\", \"syscall\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"latency\", \"binary\": \"/x\", \"symbol\": \"f\", "
				 "\"when\": \"< 0\"}"), -EINVAL,
		     "x.json: probes[0].when: does not apply to a probe of kind \"latency\" (only to kind \"return\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"return\", \"binary\": \"/x\", \"symbol\": \"f\", "
				 "\"when\": \"< 0\", \"every\": \"1s\"}"), -EINVAL,
		     "x.json: probes[0].every: does not apply to a probe of kind \"return\" (only to kind \"stall\")");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"exit\", \"nonzero\": \"yes\"}"), -EINVAL,
		     "x.json: probes[0].nonzero: expected a boolean, got \"yes\"");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"handled\": 1}"), -EINVAL,
		     "x.json: probes[0].handled: expected a boolean, got 1");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"faults\": false}"), -EINVAL,
		     "x.json: probes[0].faults: expected a string, got false");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"faults\": \"fatl\"}"), -EINVAL,
		     "x.json: probes[0].faults: unknown value \"fatl\" (did you mean \"fatal\"?)");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"faults\": \"none\"}"), -EINVAL,
		     "x.json: probes[0].faults: unknown value \"none\" (expected one of \"all\", \"fatal\")");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"signal\", \"handled\": true, \"faults\": \"fatal\"}"),
		     -EINVAL, "x.json: probes[0].faults: \"fatal\" leaves out the faults a program "
		     "catches, but \"handled\": true reports every signal it catches; drop one of the two");
	expect_error(WITH_PROBES("{\"id\": \"a\", \"kind\": \"exit\", \"faults\": \"all\"}"), -EINVAL,
		     "x.json: probes[0].faults: does not apply to a probe of kind \"exit\" (only to kind \"signal\")");
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

/* ---- function probes -------------------------------------------------------------------- */

/* Probes below are written with ' for " to keep them legible; no test needs a real '. */
static void unquote(char *dst, size_t size, const char *probes)
{
	int n = snprintf(dst, size, WITH_PROBES("%s"), probes);

	assert_true(n > 0 && (size_t)n < size);
	for (char *c = dst; *c; c++)
		if (*c == '\'')
			*c = '"';
}

/* One policy around the probes, which must load. */
static void parse_probes_ok(const char *probes, struct policy *p)
{
	char json[8192], err[512] = "";

	unquote(json, sizeof(json), probes);
	if (policy_parse("x.json", json, strlen(json), p, err, sizeof(err)))
		fail_msg("refused: %s", err);
	assert_string_equal(err, "");
}

/* msg is what follows "x.json: ". */
static void expect_probe_error(const char *probe, const char *msg)
{
	char json[8192], full[1024];

	unquote(json, sizeof(json), probe);
	snprintf(full, sizeof(full), "x.json: %s", msg);
	expect_error(json, -EINVAL, full);
}

static void test_issue_example(void **state)
{
	const char *json =
		"{\"salve\": 1, \"name\": \"app\",\n"
		" \"scope\": {\"binaries\": [\"/srv/app/bin/app\"]},\n"
		" \"probes\": [\n"
		"  {\"id\": \"parse-errors\", \"kind\": \"return\", \"binary\": \"/srv/app/bin/app\",\n"
		"   \"symbol\": \"parse\", \"type\": \"int\", \"when\": \"< 0\"},\n"
		"  {\"id\": \"slow-query\", \"kind\": \"latency\", \"binary\": \"/srv/app/bin/app\",\n"
		"   \"symbol\": \"query\", \"threshold\": \"20ms\"},\n"
		"  {\"id\": \"tick\", \"kind\": \"stall\", \"binary\": \"/srv/app/bin/app\",\n"
		"   \"symbol\": \"tick\", \"every\": \"1s\"},\n"
		"  {\"id\": \"throws\", \"kind\": \"exception\", \"types\": [\"std::runtime_error\"]},\n"
		"  {\"id\": \"asserts\", \"kind\": \"abort\"},\n"
		"  {\"id\": \"missing\", \"kind\": \"syscall\", \"syscalls\": [\"openat\"],\n"
		"   \"errnos\": [\"ENOENT\"]}]}\n";
	static const enum policy_probe_kind kinds[] = {
		POLICY_PROBE_RETURN, POLICY_PROBE_LATENCY, POLICY_PROBE_STALL,
		POLICY_PROBE_EXCEPTION, POLICY_PROBE_ABORT, POLICY_PROBE_SYSCALL,
	};
	struct policy p;
	char err[512] = "";

	(void)state;
	assert_int_equal(policy_parse("app.json", json, strlen(json), &p, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(p.n_probes, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(p.probes[i].kind, kinds[i]);
		assert_ptr_equal(p.probes[i].policy, &p);
		/* every site gets the default token bucket */
		assert_int_equal(p.probes[i].rate.per_second, 100);
		assert_int_equal(p.probes[i].rate.burst, 200);
	}
	assert_string_equal(p.probes[0].symbol, "parse");
	assert_int_equal(p.probes[1].threshold_ns, 20000000);
	assert_int_equal(p.probes[2].every_ns, 1000000000);
	assert_string_equal(p.probes[3].types[0], "std::runtime_error");
	assert_string_equal(p.probes[4].binary, "libc.so.6");
	assert_int_equal(p.probes[5].syscalls[0], 257);
	assert_int_equal(p.probes[5].errnos[0], ENOENT);
	policy_clear(&p);
}

static void test_return_probe(void **state)
{
	const struct policy_probe *r;
	struct policy p;

	(void)state;
	parse_probes_ok("{'id': 'parse-errors', 'kind': 'return', 'binary': '/srv/app/bin/app',"
			" 'symbol': 'parse', 'when': '< 0'},"
			"{'id': 'null-malloc', 'kind': 'return', 'binary': 'libc.so.6',"
			" 'symbol': 'malloc@@GLIBC_2.2.5', 'type': 'pointer', 'when': '== 0',"
			" 'stack': true, 'rate': {'per_second': 10, 'burst': 50}},"
			"{'id': 'by-offset', 'kind': 'return', 'binary': '/x', 'offset': '0x4F0',"
			" 'type': 'long', 'when': 'in [-1, 0x10, 9223372036854775807]', 'stack': false},"
			"{'id': 'dec-offset', 'kind': 'return', 'binary': '/x', 'offset': 0,"
			" 'when': '>= -2147483648', 'rate': {'burst': 7}},"
			"{'id': 'ok', 'kind': 'return', 'binary': 'libfoo.so', 'symbol': 'ok@V1',"
			" 'type': 'bool', 'when': '!= 1'},"
			"{'id': 'all-ones', 'kind': 'return', 'binary': '/x', 'offset': 18446744073709551615,"
			" 'type': 'pointer', 'when': '!= 0xffffffffffffffff'}", &p);
	assert_int_equal(p.n_probes, 6);

	r = &p.probes[0];
	assert_int_equal(r->kind, POLICY_PROBE_RETURN);
	assert_string_equal(r->binary, "/srv/app/bin/app");
	assert_string_equal(r->symbol, "parse");
	assert_false(r->has_offset);
	assert_int_equal(r->type, POLICY_VALUE_INT); /* the default */
	assert_int_equal(r->when.op, PRED_LT);
	assert_int_equal(r->when.n_values, 1);
	assert_int_equal(r->when.values[0], 0);
	assert_false(r->stack);
	assert_int_equal(r->rate.per_second, 100);
	assert_int_equal(r->rate.burst, 200);

	r = &p.probes[1];
	assert_string_equal(r->binary, "libc.so.6");
	assert_string_equal(r->symbol, "malloc@@GLIBC_2.2.5");
	assert_int_equal(r->type, POLICY_VALUE_POINTER);
	assert_int_equal(r->when.op, PRED_EQ);
	assert_int_equal(r->when.values[0], 0);
	assert_true(r->stack);
	assert_int_equal(r->rate.per_second, 10);
	assert_int_equal(r->rate.burst, 50);

	r = &p.probes[2];
	assert_null(r->symbol);
	assert_true(r->has_offset);
	assert_int_equal(r->offset, 0x4f0);
	assert_int_equal(r->type, POLICY_VALUE_LONG);
	assert_int_equal(r->when.op, PRED_IN);
	assert_int_equal(r->when.n_values, 3);
	assert_true(r->when.values[0] == -1);
	assert_true(r->when.values[1] == 16);
	assert_true(r->when.values[2] == INT64_MAX);
	assert_false(r->stack);

	r = &p.probes[3];
	assert_true(r->has_offset);
	assert_int_equal(r->offset, 0);
	assert_int_equal(r->when.op, PRED_GE);
	assert_true(r->when.values[0] == INT32_MIN);
	/* a bucket given in part keeps the default of the rest */
	assert_int_equal(r->rate.per_second, 100);
	assert_int_equal(r->rate.burst, 7);

	r = &p.probes[4];
	assert_string_equal(r->symbol, "ok@V1");
	assert_int_equal(r->type, POLICY_VALUE_BOOL);
	assert_int_equal(r->when.op, PRED_NE);
	assert_int_equal(r->when.values[0], 1);

	/* a pointer keeps its bit pattern */
	r = &p.probes[5];
	assert_true(r->offset == UINT64_MAX);
	assert_true(r->when.values[0] == -1);
	policy_clear(&p);
}

static void test_predicates(void **state)
{
	static const struct {
		const char *type, *when;
		enum policy_pred_op op;
		size_t n;
		int64_t v0, vlast;
	} cases[] = {
		{ "int", "<0", PRED_LT, 1, 0, 0 },
		{ "int", "  <=  -1  ", PRED_LE, 1, -1, -1 },
		{ "int", ">1", PRED_GT, 1, 1, 1 },
		{ "int", ">= +7", PRED_GE, 1, 7, 7 },
		{ "int", "== 2147483647", PRED_EQ, 1, INT32_MAX, INT32_MAX },
		{ "int", "!= -0x80000000", PRED_NE, 1, INT32_MIN, INT32_MIN },
		{ "int", "in [1]", PRED_IN, 1, 1, 1 },
		{ "int", "in[1,2 , 3]", PRED_IN, 3, 1, 3 },
		{ "int", "in [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]", PRED_IN, 16, 0, 15 },
		{ "long", "< -9223372036854775808", PRED_LT, 1, INT64_MIN, INT64_MIN },
		{ "long", "== 0X7FFFFFFFFFFFFFFF", PRED_EQ, 1, INT64_MAX, INT64_MAX },
		{ "pointer", "!= 0", PRED_NE, 1, 0, 0 },
		{ "pointer", "== 0x8000000000000000", PRED_EQ, 1, INT64_MIN, INT64_MIN },
		{ "bool", "== 0", PRED_EQ, 1, 0, 0 },
		{ "bool", "!=0", PRED_NE, 1, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char probe[256];
		struct policy p;

		snprintf(probe, sizeof(probe), "{'id': 'a', 'kind': 'return', 'binary': '/x', "
			 "'symbol': 'f', 'type': '%s', 'when': '%s'}", cases[i].type, cases[i].when);
		parse_probes_ok(probe, &p);
		assert_int_equal(p.probes[0].when.op, cases[i].op);
		assert_int_equal(p.probes[0].when.n_values, cases[i].n);
		assert_true(p.probes[0].when.values[0] == cases[i].v0);
		assert_true(p.probes[0].when.values[cases[i].n - 1] == cases[i].vlast);
		policy_clear(&p);
	}
}

#define EXPECTED_COMPARISON "expected a comparison such as \"< 0\", \"== 0\" or \"in [1, 2]\", got "

static void test_predicate_errors(void **state)
{
	static const struct {
		const char *type, *when, *msg;
	} cases[] = {
		{ "int", "<< 0", EXPECTED_COMPARISON "\"<< 0\"" },
		{ "int", "", EXPECTED_COMPARISON "\"\"" },
		{ "int", "0", EXPECTED_COMPARISON "\"0\"" },
		{ "int", "= 0", EXPECTED_COMPARISON "\"= 0\"" },
		{ "int", "=> 0", EXPECTED_COMPARISON "\"=> 0\"" },
		{ "int", "< 0x", EXPECTED_COMPARISON "\"< 0x\"" },
		{ "int", "< 1.5", EXPECTED_COMPARISON "\"< 1.5\"" },
		{ "int", "< 12abc", EXPECTED_COMPARISON "\"< 12abc\"" },
		{ "int", "< zero", EXPECTED_COMPARISON "\"< zero\"" },
		{ "int", "== 0 1", EXPECTED_COMPARISON "\"== 0 1\"" },
		{ "int", "== - 1", EXPECTED_COMPARISON "\"== - 1\"" },
		{ "int", "in 1", EXPECTED_COMPARISON "\"in 1\"" },
		{ "int", "in [1, 2", EXPECTED_COMPARISON "\"in [1, 2\"" },
		{ "int", "in [1,]", EXPECTED_COMPARISON "\"in [1,]\"" },
		{ "int", "in [1] 2", EXPECTED_COMPARISON "\"in [1] 2\"" },
		{ "int", "IN [1]", EXPECTED_COMPARISON "\"IN [1]\"" },
		{ "int", "inn [1]", EXPECTED_COMPARISON "\"inn [1]\"" },
		{ "int", "== 4294967296", "4294967296 does not fit an int" },
		{ "int", "== 2147483648", "2147483648 does not fit an int" },
		{ "int", "< -2147483649", "-2147483649 does not fit an int" },
		{ "int", "== 0xffffffff", "0xffffffff does not fit an int" },
		{ "int", "in [1, 4294967296]", "4294967296 does not fit an int" },
		{ "long", "== 9223372036854775808", "9223372036854775808 does not fit a long" },
		{ "long", "> -9223372036854775809", "-9223372036854775809 does not fit a long" },
		{ "long", "== 99999999999999999999", "99999999999999999999 does not fit a long" },
		{ "pointer", "== -1", "-1 does not fit a pointer" },
		{ "pointer", "!= 0x10000000000000000", "0x10000000000000000 does not fit a pointer" },
		{ "pointer", "< 0", "a pointer can only be compared with \"==\" or \"!=\" (such as \"== 0\" "
				   "for NULL), got \"< 0\"" },
		{ "pointer", "in [0]", "a pointer can only be compared with \"==\" or \"!=\" (such as \"== 0\" "
				      "for NULL), got \"in [0]\"" },
		{ "bool", "> 0", "a bool can only be compared with \"== 0\", \"== 1\", \"!= 0\" or \"!= 1\", "
				 "got \"> 0\"" },
		{ "bool", "in [0, 1]", "a bool can only be compared with \"== 0\", \"== 1\", \"!= 0\" or "
				       "\"!= 1\", got \"in [0, 1]\"" },
		{ "bool", "== 2", "2 does not fit a bool" },
		{ "bool", "!= -1", "-1 does not fit a bool" },
		{ "int", "in []", "\"in\" takes 1 to 16 values, got 0" },
		{ "int", "in [0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]", "\"in\" takes 1 to 16 values, got 17" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char probe[256], msg[512];

		snprintf(probe, sizeof(probe), "{'id': 'a', 'kind': 'return', 'binary': '/x', "
			 "'symbol': 'f', 'type': '%s', 'when': '%s'}", cases[i].type, cases[i].when);
		snprintf(msg, sizeof(msg), "probes[0].when: %s", cases[i].msg);
		expect_probe_error(probe, msg);
	}
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'when': 0}",
			   "probes[0].when: " EXPECTED_COMPARISON "0");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'when': '\\u0000< 0'}",
			   "probes[0].when: " EXPECTED_COMPARISON "\"\\u0000< 0\"");
	/* a hostile number is cut, not printed whole */
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'when': '== "
			   "11111111111111111111111111111111111111111111111111111111111111111111111111111111'}",
			   "probes[0].when: 1111111111111111111111111111111111111111111111111111111111111111..."
			   " does not fit an int");
}

static void test_return_errors(void **state)
{
	(void)state;
	expect_probe_error("{'id': 'a', 'kind': 'return', 'symbol': 'f', 'when': '< 0'}",
			   "probes[0]: missing required field \"binary\" (the executable's absolute path, "
			   "or a library soname such as \"libc.so.6\")");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '/x', 'when': '< 0'}",
			   "probes[0]: missing required field \"symbol\" or \"offset\" (the function: its "
			   "symbol name, or its offset in the file)");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'offset': 16, 'when': '< 0'}",
			   "probes[0].offset: give \"symbol\" or \"offset\", not both");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f'}",
			   "probes[0]: missing required field \"when\" (a test of the return value, such as \"< 0\")");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': 'bin/app', 'symbol': 'f', 'when': '< 0'}",
			   "probes[0].binary: expected an absolute path or a library soname such as "
			   "\"libc.so.6\", got \"bin/app\"");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': 'app', 'symbol': 'f', 'when': '< 0'}",
			   "probes[0].binary: expected an absolute path or a library soname such as "
			   "\"libc.so.6\", got \"app\"");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': 'lib/libc.so.6', 'symbol': 'f', 'when': '< 0'}",
			   "probes[0].binary: expected an absolute path or a library soname such as "
			   "\"libc.so.6\", got \"lib/libc.so.6\"");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '', 'symbol': 'f', 'when': '< 0'}",
			   "probes[0].binary: expected a non-empty string, got \"\"");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': ['/x'], 'symbol': 'f', 'when': '< 0'}",
			   "probes[0].binary: expected a string, got [\"/x\"]");
	{
		static const char *const bad[] = { "@GLIBC_2.2.5", "parse@", "parse@@", "a@b@c", "a@@@b",
						    "par se", "tab\\t" };
		static const char *const shown[] = { "\"@GLIBC_2.2.5\"", "\"parse@\"", "\"parse@@\"",
						      "\"a@b@c\"", "\"a@@@b\"", "\"par se\"", "\"tab\\t\"" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char probe[256], msg[512];

			snprintf(probe, sizeof(probe), "{'id': 'a', 'kind': 'return', 'binary': '/x', "
				 "'symbol': '%s', 'when': '< 0'}", bad[i]);
			snprintf(msg, sizeof(msg), "probes[0].symbol: expected a symbol name, optionally with "
				 "a version (\"name@VERSION\" or \"name@@VERSION\"), got %s", shown[i]);
			expect_probe_error(probe, msg);
		}
	}
	{
		static const char *const bad[] = { "-1", "'12'", "'0x'", "'0xg'", "'x10'", "1.5", "true",
						    "'0x10000000000000000'", "' 0x1'" };
		static const char *const shown[] = { "-1", "\"12\"", "\"0x\"", "\"0xg\"", "\"x10\"", "1.5",
						      "true", "\"0x10000000000000000\"", "\" 0x1\"" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char probe[256], msg[512];

			snprintf(probe, sizeof(probe), "{'id': 'a', 'kind': 'return', 'binary': '/x', "
				 "'offset': %s, 'when': '< 0'}", bad[i]);
			snprintf(msg, sizeof(msg), "probes[0].offset: expected a file offset: an integer of 0 "
				 "or more, or a hex string such as \"0x4f0\", got %s", shown[i]);
			expect_probe_error(probe, msg);
		}
	}
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'type': 'uint', 'when': '< 0'}",
			   "probes[0].type: unknown type \"uint\" (did you mean \"int\"?)");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'type': 'float', 'when': '< 0'}",
			   "probes[0].type: unknown type \"float\" (expected one of \"int\", \"long\", \"pointer\", \"bool\")");
	expect_probe_error("{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'type': 4, 'when': '< 0'}",
			   "probes[0].type: expected a string, got 4");
	/* the type is checked before the predicate it decides */
	expect_probe_error("{'id': 'a', 'kind': 'return', 'when': '< 0', 'type': 'pointer', 'binary': '/x', 'symbol': 'f'}",
			   "probes[0].when: a pointer can only be compared with \"==\" or \"!=\" (such as "
			   "\"== 0\" for NULL), got \"< 0\"");
}

static void test_latency_probe(void **state)
{
	const struct policy_probe *l;
	struct policy p;

	(void)state;
	parse_probes_ok("{'id': 'slow', 'kind': 'latency', 'binary': '/x', 'symbol': 'query', 'threshold': '20ms'},"
			"{'id': 'learned', 'kind': 'latency', 'binary': '/x', 'offset': '0x10', 'baseline': {}},"
			"{'id': 'tuned', 'kind': 'latency', 'binary': '/x', 'symbol': 'q', 'stack': true,"
			" 'baseline': {'percentile': 99.9, 'factor': 1.5, 'window': '30s'}},"
			"{'id': 'median', 'kind': 'latency', 'binary': '/x', 'symbol': 'q',"
			" 'baseline': {'percentile': 50, 'factor': 3}}", &p);
	l = &p.probes[0];
	assert_int_equal(l->kind, POLICY_PROBE_LATENCY);
	assert_string_equal(l->symbol, "query");
	assert_int_equal(l->threshold_ns, 20000000);
	assert_true(l->baseline.percentile == 0);
	assert_false(l->stack);
	assert_int_equal(l->rate.per_second, 100);

	l = &p.probes[1];
	assert_int_equal(l->threshold_ns, 0);
	assert_true(l->has_offset);
	assert_int_equal(l->offset, 16);
	assert_true(l->baseline.percentile == 99);
	assert_true(l->baseline.factor == 2);
	assert_int_equal(l->baseline.window_ns, 60000000000ull);

	l = &p.probes[2];
	assert_true(l->baseline.percentile == 99.9);
	assert_true(l->baseline.factor == 1.5);
	assert_int_equal(l->baseline.window_ns, 30000000000ull);
	assert_true(l->stack);

	l = &p.probes[3];
	assert_true(l->baseline.percentile == 50);
	assert_true(l->baseline.factor == 3);
	assert_int_equal(l->baseline.window_ns, 60000000000ull);
	policy_clear(&p);
}

static void test_latency_errors(void **state)
{
	(void)state;
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f'}",
			   "probes[0]: missing required field \"threshold\" or \"baseline\" (a fixed duration "
			   "such as \"20ms\", or a baseline learned from past calls)");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'threshold': '1s', 'baseline': {}}",
			   "probes[0].baseline: give \"threshold\" or \"baseline\", not both");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'offset': 1}",
			   "probes[0]: missing required field \"threshold\" or \"baseline\" (a fixed duration "
			   "such as \"20ms\", or a baseline learned from past calls)");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'threshold': '1s'}",
			   "probes[0]: missing required field \"symbol\" or \"offset\" (the function: its "
			   "symbol name, or its offset in the file)");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'threshold': '0ms'}",
			   "probes[0].threshold: expected a duration greater than 0, got \"0ms\"");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': 3}",
			   "probes[0].baseline: expected an object, got 3");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'percentil': 90}}",
			   "probes[0].baseline: unknown field \"percentil\" (did you mean \"percentile\"?)");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'p': 90}}",
			   "probes[0].baseline: unknown field \"p\" (expected one of \"percentile\", \"factor\", \"window\")");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'percentile': 100}}",
			   "probes[0].baseline.percentile: expected a number from 50 to 99.9, got 100");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'percentile': 49.99}}",
			   "probes[0].baseline.percentile: expected a number from 50 to 99.9, got 49.99");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'percentile': 99.91}}",
			   "probes[0].baseline.percentile: expected a number from 50 to 99.9, got 99.91");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'percentile': '99'}}",
			   "probes[0].baseline.percentile: expected a number from 50 to 99.9, got \"99\"");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'factor': 1}}",
			   "probes[0].baseline.factor: expected a number greater than 1, got 1");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'factor': 0.5}}",
			   "probes[0].baseline.factor: expected a number greater than 1, got 0.5");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'factor': null}}",
			   "probes[0].baseline.factor: expected a number greater than 1, got null");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'window': '500ms'}}",
			   "probes[0].baseline.window: expected a duration of at least 1s, got \"500ms\"");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'baseline': {'window': 60}}",
			   "probes[0].baseline.window: expected a duration such as \"20ms\" or \"1s\", got 60");
}

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		uint64_t ns;
	} good[] = {
		{ "1us", 1000 }, { "250us", 250000 }, { "1.5us", 1500 }, { "20ms", 20000000 },
		{ "0.5ms", 500000 }, { "1s", 1000000000 }, { "1.25s", 1250000000 },
		{ "0.000000001s", 1 }, { "1.000000000000000000000s", 1000000000 },
		{ "5m", 300000000000ull }, { "1h", 3600000000000ull }, { "007s", 7000000000ull },
		{ "5124095h", 5124095ull * 3600000000000ull },
	};
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "'20'", "expected a duration such as \"20ms\" or \"1s\", got \"20\"" },
		{ "20", "expected a duration such as \"20ms\" or \"1s\", got 20" },
		{ "'20 ms'", "expected a duration such as \"20ms\" or \"1s\", got \"20 ms\"" },
		{ "'ms'", "expected a duration such as \"20ms\" or \"1s\", got \"ms\"" },
		{ "'1.s'", "expected a duration such as \"20ms\" or \"1s\", got \"1.s\"" },
		{ "'.5s'", "expected a duration such as \"20ms\" or \"1s\", got \".5s\"" },
		{ "'-1s'", "expected a duration such as \"20ms\" or \"1s\", got \"-1s\"" },
		{ "'1d'", "expected a duration such as \"20ms\" or \"1s\", got \"1d\"" },
		{ "'1ns'", "expected a duration such as \"20ms\" or \"1s\", got \"1ns\"" },
		{ "'1MS'", "expected a duration such as \"20ms\" or \"1s\", got \"1MS\"" },
		{ "'1sec'", "expected a duration such as \"20ms\" or \"1s\", got \"1sec\"" },
		{ "''", "expected a duration such as \"20ms\" or \"1s\", got \"\"" },
		{ "'1.0001us'", "expected a duration in whole nanoseconds, got \"1.0001us\"" },
		{ "'0.0000000000000000001h'", "expected a duration in whole nanoseconds, got \"0.0000000000000000001h\"" },
		/* Past 64 bits of nanoseconds (-ERANGE below), and so past threshold's 1h. */
		{ "'5124096h'", "expected a duration of at most 1h, got \"5124096h\"" },
		{ "'99999999999999999999999s'", "expected a duration of at most 1h, got \"99999999999999999999999s\"" },
		{ "'0us'", "expected a duration greater than 0, got \"0us\"" },
		{ "'0.0s'", "expected a duration greater than 0, got \"0.0s\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char probe[256];
		struct policy p;

		uint64_t ns = 0;

		/* The syntax, as far as 64 bits of nanoseconds go; a policy takes what its
		 * field's bound allows (a threshold at most 1h, test_duration_bounds). */
		assert_int_equal(policy_duration_ns(good[i].text, strlen(good[i].text), &ns), 0);
		assert_true(ns == good[i].ns);
		if (ns > 3600000000000ull)
			continue;
		snprintf(probe, sizeof(probe), "{'id': 'a', 'kind': 'latency', 'binary': '/x', "
			 "'symbol': 'f', 'threshold': '%s'}", good[i].text);
		parse_probes_ok(probe, &p);
		assert_true(p.probes[0].threshold_ns == good[i].ns);
		policy_clear(&p);
	}
	{
		uint64_t ns = 7;

		assert_int_equal(policy_duration_ns("5124096h", 8, &ns), -ERANGE);
		assert_int_equal(policy_duration_ns("99999999999999999999999s", 24, &ns), -ERANGE);
		assert_true(ns == 7);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char probe[256], msg[512];

		snprintf(probe, sizeof(probe), "{'id': 'a', 'kind': 'latency', 'binary': '/x', "
			 "'symbol': 'f', 'threshold': %s}", bad[i].text);
		snprintf(msg, sizeof(msg), "probes[0].threshold: %s", bad[i].msg);
		expect_probe_error(probe, msg);
	}
}

static void test_stall_probe(void **state)
{
	struct policy p;

	(void)state;
	parse_probes_ok("{'id': 'tick', 'kind': 'stall', 'binary': '/x', 'symbol': 'tick', 'every': '1s'},"
			"{'id': 'fast', 'kind': 'stall', 'binary': 'libev.so.4', 'offset': 64, 'every': '1ms'}", &p);
	assert_int_equal(p.probes[0].kind, POLICY_PROBE_STALL);
	assert_string_equal(p.probes[0].symbol, "tick");
	assert_int_equal(p.probes[0].every_ns, 1000000000);
	assert_false(p.probes[0].stack);
	assert_int_equal(p.probes[0].rate.burst, 200);
	assert_string_equal(p.probes[1].binary, "libev.so.4");
	assert_int_equal(p.probes[1].offset, 64);
	assert_int_equal(p.probes[1].every_ns, 1000000);
	policy_clear(&p);

	expect_probe_error("{'id': 'a', 'kind': 'stall', 'binary': '/x', 'symbol': 'tick'}",
			   "probes[0]: missing required field \"every\" (the longest the function may go "
			   "uncalled, such as \"1s\")");
	expect_probe_error("{'id': 'a', 'kind': 'stall', 'symbol': 'tick', 'every': '1s'}",
			   "probes[0]: missing required field \"binary\" (the executable's absolute path, "
			   "or a library soname such as \"libc.so.6\")");
	expect_probe_error("{'id': 'a', 'kind': 'stall', 'binary': '/x', 'symbol': 'tick', 'every': '999us'}",
			   "probes[0].every: expected a duration of at least 1ms, got \"999us\"");
	expect_probe_error("{'id': 'a', 'kind': 'stall', 'binary': '/x', 'symbol': 'tick', 'every': '1'}",
			   "probes[0].every: expected a duration such as \"20ms\" or \"1s\", got \"1\"");
}

static void test_exception_probe(void **state)
{
	const struct policy_probe *e;
	struct policy p;

	(void)state;
	parse_probes_ok("{'id': 'throws', 'kind': 'exception'},"
			"{'id': 'some', 'kind': 'exception', 'binary': '/usr/lib/x86_64-linux-gnu/libstdc++.so.6',"
			" 'types': ['std::runtime_error', 'app::ParseError', '::app::v2::E',"
			" 'app::Error<std::string, 4>::Inner'], 'stack': false}", &p);
	e = &p.probes[0];
	assert_int_equal(e->kind, POLICY_PROBE_EXCEPTION);
	assert_string_equal(e->binary, "libstdc++.so.6");
	assert_int_equal(e->n_types, 0);
	assert_null(e->types);
	assert_true(e->stack);
	assert_null(e->symbol);
	assert_int_equal(e->rate.per_second, 100);
	e = &p.probes[1];
	assert_string_equal(e->binary, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
	assert_int_equal(e->n_types, 4);
	assert_string_equal(e->types[0], "std::runtime_error");
	assert_string_equal(e->types[1], "app::ParseError");
	assert_string_equal(e->types[2], "::app::v2::E");
	assert_string_equal(e->types[3], "app::Error<std::string, 4>::Inner");
	assert_false(e->stack);
	policy_clear(&p);

	expect_probe_error("{'id': 'a', 'kind': 'exception', 'types': []}",
			   "probes[0].types: expected at least one type name (leave \"types\" out for every exception)");
	expect_probe_error("{'id': 'a', 'kind': 'exception', 'types': 'std::exception'}",
			   "probes[0].types: expected an array, got \"std::exception\"");
	expect_probe_error("{'id': 'a', 'kind': 'exception', 'types': ['std::exception', 3]}",
			   "probes[0].types[1]: expected a string, got 3");
	expect_probe_error("{'id': 'a', 'kind': 'exception', 'types': ['']}",
			   "probes[0].types[0]: expected a non-empty string, got \"\"");
	{
		static const char *const bad[] = { "std:runtime_error", "std::", "::", "1abc", "app::1E",
						    "a<b", "a<b>>", "a b", "std::runtime_error&", "a<\\n>" };
		static const char *const shown[] = { "\"std:runtime_error\"", "\"std::\"", "\"::\"",
						      "\"1abc\"", "\"app::1E\"", "\"a<b\"", "\"a<b>>\"",
						      "\"a b\"", "\"std::runtime_error&\"", "\"a<\\n>\"" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char probe[256], msg[512];

			snprintf(probe, sizeof(probe), "{'id': 'a', 'kind': 'exception', 'types': ['%s']}", bad[i]);
			snprintf(msg, sizeof(msg), "probes[0].types[0]: expected a C++ type name such as "
				 "\"std::runtime_error\", got %s", shown[i]);
			expect_probe_error(probe, msg);
		}
	}
	expect_probe_error("{'id': 'a', 'kind': 'exception', 'binary': 'libstdc++'}",
			   "probes[0].binary: expected an absolute path or a library soname such as "
			   "\"libc.so.6\", got \"libstdc++\"");
}

static void test_abort_probe(void **state)
{
	struct policy p;

	(void)state;
	parse_probes_ok("{'id': 'asserts', 'kind': 'abort'},"
			"{'id': 'musl', 'kind': 'abort', 'binary': '/lib/ld-musl-x86_64.so.1', 'stack': false,"
			" 'rate': {'per_second': 1, 'burst': 1}}", &p);
	assert_int_equal(p.probes[0].kind, POLICY_PROBE_ABORT);
	assert_string_equal(p.probes[0].binary, "libc.so.6");
	assert_true(p.probes[0].stack);
	assert_int_equal(p.probes[0].rate.per_second, 100);
	assert_int_equal(p.probes[0].rate.burst, 200);
	assert_string_equal(p.probes[1].binary, "/lib/ld-musl-x86_64.so.1");
	assert_false(p.probes[1].stack);
	assert_int_equal(p.probes[1].rate.per_second, 1);
	assert_int_equal(p.probes[1].rate.burst, 1);
	policy_clear(&p);

	expect_probe_error("{'id': 'a', 'kind': 'abort', 'types': ['std::exception']}",
			   "probes[0].types: does not apply to a probe of kind \"abort\" (only to kind \"exception\")");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'symbol': 'abort'}",
			   "probes[0].symbol: does not apply to a probe of kind \"abort\" (only to kind "
			   "\"return\", \"latency\", \"stall\")");
}

static void test_syscall_probe(void **state)
{
	const struct policy_probe *s;
	struct policy p;

	(void)state;
	parse_probes_ok("{'id': 'missing', 'kind': 'syscall', 'syscalls': ['openat', 'open', 'read',"
			" 'set_mempolicy_home_node'],"
			" 'errnos': ['ENOENT', 'EACCES', 'EAGAIN', 'EWOULDBLOCK', 'ENOTSUP', 'EHWPOISON']}", &p);
	s = &p.probes[0];
	assert_int_equal(s->kind, POLICY_PROBE_SYSCALL);
	assert_null(s->binary);
	assert_false(s->stack);
	assert_int_equal(s->rate.per_second, 100);
	assert_int_equal(s->n_syscalls, 4);
	assert_int_equal(s->syscalls[0], 257);
	assert_int_equal(s->syscalls[1], 2);
	assert_int_equal(s->syscalls[2], 0);
	assert_int_equal(s->syscalls[3], 450);
	assert_int_equal(s->n_errnos, 6);
	assert_int_equal(s->errnos[0], ENOENT);
	assert_int_equal(s->errnos[1], EACCES);
	assert_int_equal(s->errnos[2], EAGAIN);
	assert_int_equal(s->errnos[3], EAGAIN);
	assert_int_equal(s->errnos[4], EOPNOTSUPP);
	assert_int_equal(s->errnos[5], 133);
	policy_clear(&p);

	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'errnos': ['ENOENT']}",
			   "probes[0]: missing required field \"syscalls\" (a non-empty array of syscall "
			   "names, such as [\"openat\"])");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['openat']}",
			   "probes[0]: missing required field \"errnos\" (a non-empty array of errno names, "
			   "such as [\"ENOENT\"])");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': [], 'errnos': ['ENOENT']}",
			   "probes[0].syscalls: expected at least one syscall name, got []");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['openat'], 'errnos': []}",
			   "probes[0].errnos: expected at least one errno name, got []");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['openat', 'opne'], 'errnos': ['ENOENT']}",
			   "probes[0].syscalls[1]: unknown syscall \"opne\" (did you mean \"open\"?)");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['frobnicate'], 'errnos': ['ENOENT']}",
			   "probes[0].syscalls[0]: unknown syscall \"frobnicate\" (not an x86-64 syscall "
			   "name; see syscalls(2))");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': [257], 'errnos': ['ENOENT']}",
			   "probes[0].syscalls[0]: expected a string, got 257");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': 'openat', 'errnos': ['ENOENT']}",
			   "probes[0].syscalls: expected an array, got \"openat\"");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['openat'], 'errnos': ['ENOENTT']}",
			   "probes[0].errnos[0]: unknown errno \"ENOENTT\" (did you mean \"ENOENT\"?)");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['openat'], 'errnos': ['ENOENT', 'enoent']}",
			   "probes[0].errnos[1]: unknown errno \"enoent\" (did you mean \"ENOENT\"?)");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['openat'], 'errnos': ['EXYZZY']}",
			   "probes[0].errnos[0]: unknown errno \"EXYZZY\" (not a Linux errno name; see errno(3))");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['openat'], 'errnos': [2]}",
			   "probes[0].errnos[0]: expected a string, got 2");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['openat\\u0000'], 'errnos': ['ENOENT']}",
			   "probes[0].syscalls[0]: unknown syscall \"openat\\u0000\" (did you mean \"openat\"?)");
}

static void test_rate_and_stack(void **state)
{
	struct policy p;

	(void)state;
	parse_probes_ok("{'id': 'a', 'kind': 'syscall', 'syscalls': ['read'], 'errnos': ['EIO'], 'stack': true,"
			" 'rate': {'per_second': 4294967295, 'burst': 1000000}}", &p);
	assert_true(p.probes[0].stack);
	assert_int_equal(p.probes[0].rate.per_second, 4294967295u);
	assert_int_equal(p.probes[0].rate.burst, 1000000);
	policy_clear(&p);

	expect_probe_error("{'id': 'a', 'kind': 'abort', 'rate': {'per_second': 0}}",
			   "probes[0].rate.per_second: expected an integer from 1 to 4294967295, got 0");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'rate': {'burst': 4294967296}}",
			   "probes[0].rate.burst: expected an integer from 1 to 4294967295, got 4294967296");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'rate': {'burst': -1}}",
			   "probes[0].rate.burst: expected an integer from 1 to 4294967295, got -1");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'rate': {'per_second': '100'}}",
			   "probes[0].rate.per_second: expected an integer, got \"100\"");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'rate': {'per_second': 1.5}}",
			   "probes[0].rate.per_second: expected an integer, got 1.5");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'rate': {'per_sec': 10}}",
			   "probes[0].rate: unknown field \"per_sec\" (did you mean \"per_second\"?)");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'rate': 100}",
			   "probes[0].rate: expected an object, got 100");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'stack': 'yes'}",
			   "probes[0].stack: expected true, false, \"cfi\" or \"fp\", got \"yes\"");
	expect_probe_error("{'id': 'a', 'kind': 'exit', 'rate': {}}",
			   "probes[0].rate: does not apply to a probe of kind \"exit\" (only to kind \"return\", "
			   "\"latency\", \"stall\", \"exception\", \"abort\", \"syscall\")");
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

/* "stack": true is the kind's way: a snapshot unwound by CFI for the rare events (signal,
 * abort, exception), the frame-pointer walk for the hot ones; "cfi" and "fp" say which. */
static void test_stack_ways(void **state)
{
	static const struct {
		const char *probe;
		bool stack, cfi;
		uint32_t bytes;
	} cases[] = {
		/* left out: the kind's default */
		{ "{'id': 'a', 'kind': 'signal'}", true, true, POLICY_STACK_BYTES_DEFAULT },
		{ "{'id': 'a', 'kind': 'abort'}", true, true, POLICY_STACK_BYTES_DEFAULT },
		{ "{'id': 'a', 'kind': 'exception'}", true, true, POLICY_STACK_BYTES_DEFAULT },
		{ "{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'when': '< 0'}",
		  false, false, 0 },
		{ "{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'threshold': '1ms'}",
		  false, false, 0 },
		{ "{'id': 'a', 'kind': 'stall', 'binary': '/x', 'symbol': 'f', 'every': '1s'}",
		  false, false, 0 },
		{ "{'id': 'a', 'kind': 'syscall', 'syscalls': ['read'], 'errnos': ['EIO']}", false, false, 0 },
		/* true: the kind's way */
		{ "{'id': 'a', 'kind': 'signal', 'stack': true}", true, true, POLICY_STACK_BYTES_DEFAULT },
		{ "{'id': 'a', 'kind': 'abort', 'stack': true}", true, true, POLICY_STACK_BYTES_DEFAULT },
		{ "{'id': 'a', 'kind': 'exception', 'stack': true}", true, true, POLICY_STACK_BYTES_DEFAULT },
		{ "{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'when': '< 0', 'stack': true}",
		  true, false, 0 },
		{ "{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'threshold': '1ms',"
		  " 'stack': true}", true, false, 0 },
		{ "{'id': 'a', 'kind': 'stall', 'binary': '/x', 'symbol': 'f', 'every': '1s', 'stack': true}",
		  true, false, 0 },
		{ "{'id': 'a', 'kind': 'syscall', 'syscalls': ['read'], 'errnos': ['EIO'], 'stack': true}",
		  true, false, 0 },
		/* said outright */
		{ "{'id': 'a', 'kind': 'signal', 'stack': 'cfi', 'stack_bytes': 1024}", true, true, 1024 },
		{ "{'id': 'a', 'kind': 'signal', 'stack_bytes': 49152}", true, true, 49152 },
		{ "{'id': 'a', 'kind': 'abort', 'stack': 'fp'}", true, false, 0 },
		{ "{'id': 'a', 'kind': 'exception', 'stack': false}", false, false, 0 },
		{ "{'id': 'a', 'kind': 'exception', 'stack_bytes': 8192}", true, true, 8192 },
		{ "{'id': 'a', 'kind': 'return', 'binary': '/x', 'symbol': 'f', 'when': '< 0', 'stack': 'cfi'}",
		  true, true, POLICY_STACK_BYTES_DEFAULT },
		{ "{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', 'threshold': '1ms',"
		  " 'stack': 'cfi', 'stack_bytes': 32768}", true, true, 32768 },
		{ "{'id': 'a', 'kind': 'stall', 'binary': '/x', 'symbol': 'f', 'every': '1s', 'stack': 'fp'}",
		  true, false, 0 },
		{ "{'id': 'a', 'kind': 'syscall', 'syscalls': ['read'], 'errnos': ['EIO'], 'stack': 'cfi'}",
		  true, true, POLICY_STACK_BYTES_DEFAULT },
		{ "{'id': 'a', 'kind': 'syscall', 'syscalls': ['read'], 'errnos': ['EIO'], 'stack': 'fp'}",
		  true, false, 0 },
		/* no stack to speak of */
		{ "{'id': 'a', 'kind': 'exit'}", false, false, 0 },
		{ "{'id': 'a', 'kind': 'oom'}", false, false, 0 },
		{ "{'id': 'a', 'kind': 'exec'}", false, false, 0 },
	};
	struct policy p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_probes_ok(cases[i].probe, &p);
		assert_int_equal(p.probes[0].stack, cases[i].stack);
		assert_int_equal(p.probes[0].stack_cfi, cases[i].cfi);
		assert_int_equal(p.probes[0].stack_bytes, cases[i].bytes);
		policy_clear(&p);
	}
}

static void test_stack_errors(void **state)
{
	(void)state;
	/* a signal's stack is always a snapshot unwound by CFI */
	expect_probe_error("{'id': 'a', 'kind': 'signal', 'stack': false}",
			   "probes[0].stack: a signal probe always captures the stack (unwound by CFI); "
			   "leave \"stack\" out, or give true or \"cfi\"");
	expect_probe_error("{'id': 'a', 'kind': 'signal', 'stack': 'fp'}",
			   "probes[0].stack: a signal's stack is always unwound by CFI, never by the "
			   "frame-pointer walk; leave \"stack\" out, or give true or \"cfi\"");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'stack': 'dwarf'}",
			   "probes[0].stack: expected true, false, \"cfi\" or \"fp\", got \"dwarf\"");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'stack': 'CFI'}",
			   "probes[0].stack: expected true, false, \"cfi\" or \"fp\", got \"CFI\" "
			   "(did you mean \"cfi\"?)");
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'stack': 1}",
			   "probes[0].stack: expected true, false, \"cfi\" or \"fp\", got 1");
	/* stack_bytes sizes a snapshot: no snapshot, no size */
	expect_probe_error("{'id': 'a', 'kind': 'abort', 'stack': 'fp', 'stack_bytes': 4096}",
			   "probes[0].stack_bytes: applies only to stacks unwound by CFI (\"stack\": \"cfi\"); "
			   "this \"abort\" probe walks frame pointers, which copies no stack");
	expect_probe_error("{'id': 'a', 'kind': 'exception', 'stack': false, 'stack_bytes': 4096}",
			   "probes[0].stack_bytes: applies only to stacks unwound by CFI (\"stack\": \"cfi\"); "
			   "this \"exception\" probe captures no stack");
	expect_probe_error("{'id': 'a', 'kind': 'latency', 'binary': '/x', 'symbol': 'f', "
			   "'threshold': '1ms', 'stack': true, 'stack_bytes': 4096}",
			   "probes[0].stack_bytes: applies only to stacks unwound by CFI (\"stack\": \"cfi\"); "
			   "this \"latency\" probe walks frame pointers, which copies no stack");
	expect_probe_error("{'id': 'a', 'kind': 'syscall', 'syscalls': ['read'], 'errnos': ['EIO'], "
			   "'stack_bytes': 4096}",
			   "probes[0].stack_bytes: applies only to stacks unwound by CFI (\"stack\": \"cfi\"); "
			   "this \"syscall\" probe captures no stack");
	/* the second probe: the path names it */
	expect_probe_error("{'id': 'a', 'kind': 'signal'}, {'id': 'b', 'kind': 'abort', 'stack': 'fp', "
			   "'stack_bytes': 4096}",
			   "probes[1].stack_bytes: applies only to stacks unwound by CFI (\"stack\": \"cfi\"); "
			   "this \"abort\" probe walks frame pointers, which copies no stack");
	expect_probe_error("{'id': 'a', 'kind': 'signal', 'stack_bytes': 1023}",
			   "probes[0].stack_bytes: expected an integer from 1024 to 49152, got 1023");
	expect_probe_error("{'id': 'a', 'kind': 'signal', 'stack_bytes': '16k'}",
			   "probes[0].stack_bytes: expected an integer, got \"16k\"");
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

/* The kernel finds a failed syscall's probe by (syscall, errno): one probe a pair, in a
 * file and across files; probes that share only a syscall or only an errno are fine. */
static void test_syscall_pairs_once(void **state)
{
	const char *dir = *state;
	char msg[8192];

	expect_error(WITH_PROBES("{\"id\": \"s1\", \"kind\": \"syscall\", \"syscalls\": [\"openat\"], \"errnos\": [\"ENOENT\"]}, "
				 "{\"id\": \"s2\", \"kind\": \"syscall\", \"syscalls\": [\"connect\", \"openat\"], \"errnos\": [\"EACCES\", \"ENOENT\"]}"),
		     -EINVAL, "x.json: probes[1]: probe \"s2\" watches openat failing with ENOENT, as probe \"s1\" "
		     "does already (x.json: probes[0]); a syscall and errno have one probe");
	write_file(dir, "a.json", "{\"salve\": 1, \"name\": \"a\", \"probes\": [{\"id\": \"s1\", \"kind\": \"syscall\", "
				  "\"syscalls\": [\"openat\"], \"errnos\": [\"ENOENT\"]}, {\"id\": \"s3\", \"kind\": \"syscall\", "
				  "\"syscalls\": [\"connect\"], \"errnos\": [\"ENOENT\"]}]}");
	write_file(dir, "b.json", "{\"salve\": 1, \"name\": \"b\", \"probes\": [{\"id\": \"s2\", \"kind\": \"syscall\", "
				  "\"syscalls\": [\"openat\"], \"errnos\": [\"EACCES\"]}]}");
	{
		struct policy_set *set = NULL;
		char err[1024] = "";

		assert_int_equal(policy_set_load(dir, &set, err, sizeof(err)), 0);
		assert_int_equal(set->n_policies, 2);
		policy_set_free(set);
	}
	write_file(dir, "c.json", "{\"salve\": 1, \"name\": \"c\", \"probes\": [{\"id\": \"s4\", \"kind\": \"syscall\", "
				  "\"syscalls\": [\"read\", \"connect\"], \"errnos\": [\"ENOENT\"]}]}");
	snprintf(msg, sizeof(msg), "%s/c.json: probes[0]: probe \"s4\" watches connect failing with ENOENT, as "
		 "probe \"s3\" does already (%s/a.json: probes[1]); a syscall and errno have one probe", dir, dir);
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
		 "(expected one of \"id\", \"kind\")", dir);
	expect_load_error(dir, -EINVAL, msg);
}

/* ---- every error, not only the first ------------------------------------------------------ */

/* errs holds exactly want (n messages, each "DIR/" + the text), in that order. */
static void expect_errors(const char *dir, const struct policy_errors *errs, const char *const *want,
			  size_t n)
{
	char msg[4096];

	for (size_t i = 0; i < errs->n && i < n; i++) {
		snprintf(msg, sizeof(msg), "%s/%s", dir, want[i]);
		assert_string_equal(errs->msgs[i], msg);
	}
	assert_int_equal(errs->n, n);
}

/* Each field of an object, each element of a list, each probe, rule and action on its own:
 * all of a file's mistakes at once, in the file's order, each with its JSON path; a typo'd
 * field ends its object (a missing field would only echo it). err gets the first. */
static void test_every_error_of_a_file(void **state)
{
	const char *dir = *state;
	static const char *const want[] = {
		"p.json: scope.binaries[0]: expected an absolute path, got \"bin/app\"",
		"p.json: probes[0].signals[0]: unknown signal \"SIGSEV\" (did you mean \"SIGSEGV\"?)",
		"p.json: probes[0].signals[2]: unknown signal \"SIGABRTT\" (did you mean \"SIGABRT\"?)",
		"p.json: probes[1].id: expected an id of letters, digits, \"_\", \".\" and \"-\", got \"bad id!\"",
		"p.json: probes[1].kind: unknown probe kind \"exitt\" (did you mean \"exit\"?)",
		"p.json: probes[2]: unknown field \"nonzeroo\" (did you mean \"nonzero\"?)",
		"p.json: probes[2]: unknown field \"colour\" (expected one of \"id\", \"kind\", \"nonzero\")",
		"p.json: probes[3].threshold: expected a duration such as \"20ms\" or \"1s\", got \"20\"",
		"p.json: rules[0].when.count: expected an integer from 1 to 4294967295, got 0",
		"p.json: rules[0].actions[0].do: unknown action \"lgo\" (did you mean \"log\"?)",
		"p.json: rules[0].actions[1].timeout: expected a duration such as \"20ms\" or \"1s\", got \"x\"",
	};
	struct policy_set *set = (struct policy_set *)0x1;
	struct policy_errors errs;
	char path[4096], err[1024], msg[4096];

	write_file(dir, "p.json",
		   "{\"salve\": 1, \"name\": \"multi\", \"scope\": {\"binaries\": [\"bin/app\", \"/ok\"]},\n"
		   " \"probes\": [{\"id\": \"crashes\", \"kind\": \"signal\", \"signals\": [\"SIGSEV\", \"SIGBUS\", \"SIGABRTT\"]},\n"
		   "  {\"id\": \"bad id!\", \"kind\": \"exitt\"},\n"
		   "  {\"id\": \"exits\", \"kind\": \"exit\", \"nonzeroo\": true, \"colour\": 1},\n"
		   "  {\"id\": \"slow\", \"kind\": \"latency\", \"binary\": \"/srv/app\", \"symbol\": \"parse\", \"threshold\": \"20\"}],\n"
		   " \"rules\": [{\"id\": \"r\", \"when\": {\"probe\": \"crashes\", \"count\": 0, \"within\": \"1s\"},\n"
		   "   \"actions\": [{\"do\": \"lgo\"}, {\"do\": \"exec\", \"command\": [\"/bin/true\"], \"timeout\": \"x\"}]}]}\n");
	snprintf(path, sizeof(path), "%s/p.json", dir);
	assert_int_equal(policy_set_load_errors(path, &set, &errs), -EINVAL);
	assert_ptr_equal(set, (struct policy_set *)0x1);
	expect_errors(dir, &errs, want, sizeof(want) / sizeof(want[0]));
	assert_false(errs.stopped);
	/* one line for a refusal: how many, and the first */
	policy_errors_summary(&errs, msg, sizeof(msg));
	snprintf(err, sizeof(err), "11 errors in the policies, the first: %s/%s", dir, want[0]);
	assert_string_equal(msg, err);
	policy_errors_clear(&errs);
	assert_int_equal(errs.n, 0);
	assert_null(errs.msgs);

	/* policy_set_load and policy_parse say the first, as before */
	snprintf(msg, sizeof(msg), "%s/%s", dir, want[0]);
	expect_load_error(path, -EINVAL, msg);
}

/* Each file of a directory to its own end (a syntax error ends only its file); the checks
 * across files (ids, probe references) wait until every file parses. A single error is
 * its own summary. */
static void test_every_error_of_a_directory(void **state)
{
	const char *dir = *state;
	static const char *const want[] = {
		"a.json: probes[0].kind: unknown probe kind \"om\" (did you mean \"oom\"?)",
		"a.json: probes[1].nonzero: expected a boolean, got \"yes\"",
		"b.json:1:13: syntax error: unexpected end of data",
		"d.json: name: expected a non-empty string, got \"\"",
	};
	struct policy_set *set = (struct policy_set *)0x1;
	struct policy_errors errs;
	char msg[4096], want1[4096];

	write_file(dir, "a.json", "{\"salve\": 1, \"name\": \"a\", \"probes\": [{\"id\": \"a\", \"kind\": \"om\"},"
				  " {\"id\": \"x\", \"kind\": \"exit\", \"nonzero\": \"yes\"}],"
				  " \"rules\": [{\"id\": \"r\", \"when\": {\"probe\": \"nothing\", \"count\": 1, \"within\": \"1s\"},"
				  " \"actions\": [{\"do\": \"log\"}]}]}");
	write_file(dir, "b.json", "{\"salve\": 1,");
	write_file(dir, "c.json", "{\"salve\": 1, \"name\": \"c\", \"probes\": [{\"id\": \"a\", \"kind\": \"oom\"}]}");
	write_file(dir, "d.json", "{\"salve\": 1, \"name\": \"\", \"probes\": [{\"id\": \"d\", \"kind\": \"oom\"}]}");
	assert_int_equal(policy_set_load_errors(dir, &set, &errs), -EINVAL);
	assert_ptr_equal(set, (struct policy_set *)0x1);
	expect_errors(dir, &errs, want, sizeof(want) / sizeof(want[0]));
	policy_errors_clear(&errs);

	/* Once the files parse, the checks across them say every rule's mistake. */
	write_file(dir, "a.json", "{\"salve\": 1, \"name\": \"a\", \"probes\": [{\"id\": \"crashes\", \"kind\": \"signal\"}],"
				  " \"rules\": [{\"id\": \"r1\", \"when\": {\"probe\": \"crash\", \"count\": 1, \"within\": \"1s\"},"
				  " \"actions\": [{\"do\": \"log\"}]},"
				  " {\"id\": \"r2\", \"when\": {\"probe\": \"oops\", \"count\": 1, \"within\": \"1s\"},"
				  " \"actions\": [{\"do\": \"log\"}]}]}");
	write_file(dir, "b.json", "{\"salve\": 1, \"name\": \"b\", \"probes\": [{\"id\": \"b\", \"kind\": \"oom\"}]}");
	write_file(dir, "d.json", "{\"salve\": 1, \"name\": \"d\", \"probes\": [{\"id\": \"d\", \"kind\": \"oom\"}]}");
	assert_int_equal(policy_set_load_errors(dir, &set, &errs), -EINVAL);
	snprintf(want1, sizeof(want1), "%s/a.json: rules[0].when.probe: unknown probe \"crash\" "
		 "(did you mean \"crashes\"?)", dir);
	assert_int_equal(errs.n, 2);
	assert_string_equal(errs.msgs[0], want1);
	snprintf(msg, sizeof(msg), "%s/a.json: rules[1].when.probe: unknown probe \"oops\"", dir);
	assert_memory_equal(errs.msgs[1], msg, strlen(msg));
	policy_errors_clear(&errs);

	/* one error: the summary is that error */
	write_file(dir, "a.json", "{\"salve\": 1, \"name\": \"a\", \"probes\": [{\"id\": \"b\", \"kind\": \"oom\"}]}");
	assert_int_equal(policy_set_load_errors(dir, &set, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	policy_errors_summary(&errs, msg, sizeof(msg));
	assert_string_equal(msg, errs.msgs[0]);
	policy_errors_clear(&errs);
}

/* A file of many mistakes: the first POLICY_ERRORS_MAX, and the load says it stopped. */
/* A field that may be given as either of two (symbol or offset, threshold or baseline)
 * missing both is one mistake, said once. */
static void test_missing_pair_said_once(void **state)
{
	const char *dir = *state;
	static const char *const want[] = {
		"p.json: probes[0]: missing required field \"symbol\" or \"offset\" (the function: "
		"its symbol name, or its offset in the file)",
		"p.json: probes[0]: missing required field \"threshold\" or \"baseline\" (a fixed "
		"duration such as \"20ms\", or a baseline learned from past calls)",
	};
	struct policy_set *set = NULL;
	struct policy_errors errs;
	char path[4096];

	write_file(dir, "p.json",
		   "{\"salve\": 1, \"name\": \"pair\", \"probes\": [{\"id\": \"slow\", \"kind\": "
		   "\"latency\", \"binary\": \"/srv/app\"}]}\n");
	snprintf(path, sizeof(path), "%s/p.json", dir);
	assert_int_equal(policy_set_load_errors(path, &set, &errs), -EINVAL);
	expect_errors(dir, &errs, want, sizeof(want) / sizeof(want[0]));
	policy_errors_clear(&errs);
}

static void test_errors_stop_at_the_cap(void **state)
{
	const char *dir = *state;
	struct policy_set *set = (struct policy_set *)0x1;
	struct policy_errors errs;
	char path[4096], *text, *at;
	size_t size = 64 + 150 * 48;

	assert_non_null(text = malloc(size));
	at = text + sprintf(text, "{\"salve\": 1, \"name\": \"many\", \"probes\": [");
	for (int i = 0; i < 150; i++)
		at += sprintf(at, "%s{\"id\": \"p%d\", \"kind\": \"exitt\"}", i ? ", " : "", i);
	sprintf(at, "]}");
	write_file(dir, "many.json", text);
	free(text);
	snprintf(path, sizeof(path), "%s/many.json", dir);
	assert_int_equal(policy_set_load_errors(path, &set, &errs), -EINVAL);
	assert_int_equal(errs.n, POLICY_ERRORS_MAX);
	assert_true(errs.stopped);
	assert_non_null(strstr(errs.msgs[POLICY_ERRORS_MAX - 1], "probes[99].kind: unknown probe kind"));
	policy_errors_summary(&errs, path, sizeof(path));
	assert_memory_equal(path, "100 or more errors in the policies, the first: ", 47);
	policy_errors_clear(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_policy_parses),
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_faults_option),
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
		cmocka_unit_test(test_issue_example),
		cmocka_unit_test(test_return_probe),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_predicate_errors),
		cmocka_unit_test(test_return_errors),
		cmocka_unit_test(test_latency_probe),
		cmocka_unit_test(test_latency_errors),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_stall_probe),
		cmocka_unit_test(test_exception_probe),
		cmocka_unit_test(test_abort_probe),
		cmocka_unit_test(test_syscall_probe),
		cmocka_unit_test(test_rate_and_stack),
		cmocka_unit_test(test_stack_ways),
		cmocka_unit_test(test_stack_errors),
		cmocka_unit_test(test_missing_path),
		cmocka_unit_test_setup_teardown(test_file_errors_name_the_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_file_too_large, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_not_a_regular_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_empty_directory, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_directory_lexical_order, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_duplicate_ids_across_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_syscall_pairs_once, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_directory_stops_at_first_broken_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_every_error_of_a_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_every_error_of_a_directory, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_missing_pair_said_once, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_errors_stop_at_the_cap, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
