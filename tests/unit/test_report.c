/* report: the JSON lines an operator reads, exact for each kind, valid for any input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonw.h"
#include "events/report.h"

/* 2026-11-22T16:31:13.123456789Z */
#define T_NS (1795365073ULL * 1000000000ULL + 123456789ULL)
#define T_STR "2026-11-22T16:31:13.123456789Z"
#define HEAD "{\"time\":\"" T_STR "\",\"kind\":"

static void base_event(struct event *ev, enum salve_event_kind kind)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
	ev->pid = 4242;
	ev->tid = 4243;
	ev->cgroup_id = 7;
	strcpy(ev->comm, "crash");
	strcpy(ev->exe.path, "/work/main/build/tests/targets/crash");
}

/* The line w holds, closed, with its newline as the output adds it; w is freed. */
static char *line_text(struct jsonw *w)
{
	const char *text;
	size_t len;
	char *buf;

	jsonw_object_end(w);
	assert_non_null(text = jsonw_text(w, &len));
	/* One line: a newline in a string is escaped. */
	assert_null(memchr(text, '\n', len));
	assert_non_null(buf = malloc(len + 2));
	memcpy(buf, text, len);
	memcpy(buf + len, "\n", 2);
	jsonw_free(w);
	return buf;
}

/* One event's line as the pipeline writes it. */
static char *line_of(const struct event *ev, const char *probe, const struct report_frame *frames,
		     size_t n_frames)
{
	struct jsonw w = JSONW_INIT;

	report_event_begin(&w, ev, probe, T_NS, frames, n_frames);
	return line_text(&w);
}

static void check_line(const struct event *ev, const char *probe, const struct report_frame *frames,
		       size_t n_frames, const char *want)
{
	char *line = line_of(ev, probe, frames, n_frames);

	assert_string_equal(line, want);
	free(line);
}

static void test_signal_line(void **state)
{
	struct report_frame frames[] = {
		{ .ip = 0x555555555149, .module = "/work/main/build/tests/targets/crash",
		  .symbol = "fault_null", .offset = 0x14,
		  .build_id = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567" },
		{ .ip = 0x7ffff7829d90, .module = "/usr/lib/x86_64-linux-gnu/libc.so.6",
		  .offset = 0x29d90 },
		{ .ip = 0x7ffffffde000 },
	};
	struct event ev;

	(void)state;
	base_event(&ev, SALVE_EV_SIGNAL);
	ev.sig.signo = SIGSEGV;
	ev.sig.code = 1;
	ev.sig.sender_pid = 4242;
	ev.sig.flags = SALVE_SIG_FATAL | SALVE_SIG_HAS_ADDR | SALVE_SIG_HAS_IP;
	ev.sig.addr = 0x10;
	ev.sig.ip = 0x555555555149;
	check_line(&ev, "crashes", frames, 3,
		   HEAD "\"signal\",\"probe\":\"crashes\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
		   "\"cgroup_id\":7,\"signal\":\"SIGSEGV\",\"code\":\"SEGV_MAPERR\","
		   "\"addr\":\"0x10\",\"ip\":\"0x555555555149\",\"sender_pid\":4242,\"fatal\":true,"
		   "\"stack\":[{\"ip\":\"0x555555555149\",\"module\":\"/work/main/build/tests/targets/crash\","
		   "\"build_id\":\"0a1b2c3d4e5f60718293a4b5c6d7e8f901234567\","
		   "\"symbol\":\"fault_null\",\"offset\":20},"
		   "{\"ip\":\"0x7ffff7829d90\",\"module\":\"/usr/lib/x86_64-linux-gnu/libc.so.6\","
		   "\"offset\":171408},"
		   "{\"ip\":\"0x7ffffffde000\"}]}\n");
}

/* A frame with DWARF: its line, and the functions inlined there, innermost first, each
 * with its own line; an inlined function without a line says only its name. */
static void test_frame_source_and_inlined(void **state)
{
	const struct report_inlined inl[] = {
		{ "leaf", "/src/app.c", 12 },
		{ "ns::mid(int)", NULL, 0 },
	};
	struct report_frame frames[] = {
		{ .ip = 0x1171, .module = "/bin/app", .symbol = "outer", .offset = 1,
		  .file = "/src/app.c", .line = 20, .inlined = inl, .n_inlined = 2 },
		{ .ip = 0x1200, .module = "/bin/app", .symbol = "main", .offset = 9, .file = "",
		  .line = 0 },
	};
	struct event ev;

	(void)state;
	base_event(&ev, SALVE_EV_SIGNAL);
	ev.sig.signo = SIGSEGV;
	ev.sig.code = 1;
	ev.sig.sender_pid = 4242;
	ev.sig.flags = SALVE_SIG_FATAL | SALVE_SIG_HAS_IP;
	ev.sig.ip = 0x1171;
	check_line(&ev, "crashes", frames, 2,
		   HEAD "\"signal\",\"probe\":\"crashes\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
		   "\"cgroup_id\":7,\"signal\":\"SIGSEGV\",\"code\":\"SEGV_MAPERR\","
		   "\"ip\":\"0x1171\",\"sender_pid\":4242,\"fatal\":true,"
		   "\"stack\":[{\"ip\":\"0x1171\",\"module\":\"/bin/app\",\"symbol\":\"outer\","
		   "\"offset\":1,\"file\":\"/src/app.c\",\"line\":20,\"inlined\":["
		   "{\"symbol\":\"leaf\",\"file\":\"/src/app.c\",\"line\":12},"
		   "{\"symbol\":\"ns::mid(int)\"}]},"
		   "{\"ip\":\"0x1200\",\"module\":\"/bin/app\",\"symbol\":\"main\",\"offset\":9}]}\n");
}

/* kill -9 from another process: no address, no ip, no stack, not the receiver's fault. */
static void test_signal_line_sent(void **state)
{
	struct event ev;

	(void)state;
	base_event(&ev, SALVE_EV_SIGNAL);
	ev.sig.signo = SIGKILL;
	ev.sig.code = 0;
	ev.sig.sender_pid = 100;
	ev.sig.flags = SALVE_SIG_FATAL;
	ev.suppressed = 3;
	check_line(&ev, "crashes", NULL, 0,
		   HEAD "\"signal\",\"probe\":\"crashes\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
		   "\"cgroup_id\":7,\"suppressed\":3,\"signal\":\"SIGKILL\",\"code\":\"SI_USER\","
		   "\"sender_pid\":100,\"fatal\":true}\n");
}

/* A fault the program catches: said so, with its address; then the exit it led to, which
 * names that fault as its cause. */
static void test_signal_line_handled_and_cause(void **state)
{
	struct jsonw w = JSONW_INIT;
	struct event ev;
	uint64_t addr = 0x10;
	char *buf;

	(void)state;
	base_event(&ev, SALVE_EV_SIGNAL);
	ev.sig.signo = SIGSEGV;
	ev.sig.code = 1;
	ev.sig.sender_pid = 4242;
	ev.sig.flags = SALVE_SIG_HANDLED | SALVE_SIG_HAS_ADDR;
	ev.sig.addr = 0x10;
	check_line(&ev, "crashes", NULL, 0,
		   HEAD "\"signal\",\"probe\":\"crashes\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
		   "\"cgroup_id\":7,\"signal\":\"SIGSEGV\",\"code\":\"SEGV_MAPERR\","
		   "\"addr\":\"0x10\",\"sender_pid\":4242,\"fatal\":false,\"handled\":true}\n");

	base_event(&ev, SALVE_EV_EXIT);
	ev.exit.status = SIGSEGV;
	report_event_begin(&w, &ev, "exits", T_NS, NULL, 0);
	report_cause(&w, SIGSEGV, 1, &addr, T_NS - 1000000000);
	buf = line_text(&w);
	assert_string_equal(buf, HEAD "\"exit\",\"probe\":\"exits\",\"pid\":4242,\"tid\":4243,"
			    "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
			    "\"cgroup_id\":7,\"exit_code\":null,\"signal\":\"SIGSEGV\","
			    "\"core_dumped\":false,\"cause\":{\"time\":\"2026-11-22T16:31:12.123456789Z\","
			    "\"code\":\"SEGV_MAPERR\",\"addr\":\"0x10\"}}\n");
	free(buf);
}

static void test_exit_line(void **state)
{
	struct event ev;

	(void)state;
	base_event(&ev, SALVE_EV_EXIT);
	ev.exit.status = 3 << 8;
	check_line(&ev, "exits", NULL, 0,
		   HEAD "\"exit\",\"probe\":\"exits\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
		   "\"cgroup_id\":7,\"exit_code\":3,\"core_dumped\":false}\n");
}

static void test_exit_line_killed(void **state)
{
	struct event ev;

	(void)state;
	base_event(&ev, SALVE_EV_EXIT);
	ev.exit.status = SIGSEGV | 0x80;
	check_line(&ev, "exits", NULL, 0,
		   HEAD "\"exit\",\"probe\":\"exits\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
		   "\"cgroup_id\":7,\"exit_code\":null,\"signal\":\"SIGSEGV\",\"core_dumped\":true}\n");
	ev.exit.status = SIGKILL;
	check_line(&ev, "exits", NULL, 0,
		   HEAD "\"exit\",\"probe\":\"exits\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
		   "\"cgroup_id\":7,\"exit_code\":null,\"signal\":\"SIGKILL\",\"core_dumped\":false}\n");
}

/* The OOM record has no exe: the key is left out rather than given as "". */
static void test_oom_line(void **state)
{
	struct event ev;

	(void)state;
	base_event(&ev, SALVE_EV_OOM);
	ev.exe.path[0] = '\0';
	ev.oom.total_vm_kb = 1048576;
	ev.oom.anon_rss_kb = 900000;
	ev.oom.file_rss_kb = 1000;
	ev.oom.shmem_rss_kb = 20;
	ev.oom.pgtables_kb = 2048;
	ev.oom.uid = 1000;
	ev.oom.oom_score_adj = -500;
	check_line(&ev, "oom", NULL, 0,
		   HEAD "\"oom\",\"probe\":\"oom\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"cgroup_id\":7,\"total_vm_kb\":1048576,"
		   "\"anon_rss_kb\":900000,\"file_rss_kb\":1000,\"shmem_rss_kb\":20,"
		   "\"pgtables_kb\":2048,\"uid\":1000,\"oom_score_adj\":-500}\n");
}

static void test_exec_line(void **state)
{
	struct event ev;

	(void)state;
	base_event(&ev, SALVE_EV_EXEC);
	ev.exec.old_tid = 4250;
	check_line(&ev, "execs", NULL, 0,
		   HEAD "\"exec\",\"probe\":\"execs\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
		   "\"cgroup_id\":7,\"old_tid\":4250}\n");
	/* The leader itself called exec: nothing to say. */
	ev.exec.old_tid = ev.pid;
	check_line(&ev, "execs", NULL, 0,
		   HEAD "\"exec\",\"probe\":\"execs\",\"pid\":4242,\"tid\":4243,"
		   "\"comm\":\"crash\",\"exe\":\"/work/main/build/tests/targets/crash\","
		   "\"cgroup_id\":7}\n");
}

static void test_large_numbers(void **state)
{
	struct event ev;
	char *line;

	(void)state;
	base_event(&ev, SALVE_EV_SIGNAL);
	ev.pid = UINT32_MAX;
	ev.cgroup_id = UINT64_MAX;
	ev.sig.signo = SIGBUS;
	ev.sig.code = 1;
	ev.sig.flags = SALVE_SIG_HAS_ADDR;
	ev.sig.addr = UINT64_MAX;
	line = line_of(&ev, "p", NULL, 0);
	assert_non_null(strstr(line, "\"pid\":4294967295,"));
	assert_non_null(strstr(line, "\"cgroup_id\":18446744073709551615,"));
	assert_non_null(strstr(line, "\"code\":\"BUS_ADRALN\",\"addr\":\"0xffffffffffffffff\","));
	free(line);
}

/* Parse the line back and return the string at key (owned by *root). */
static const char *parsed_string(const char *line, const char *key, struct json_object **root)
{
	struct json_object *val;

	*root = json_tokener_parse(line);
	assert_non_null(*root);
	assert_true(json_object_object_get_ex(*root, key, &val));
	assert_true(json_object_is_type(val, json_type_string));
	return json_object_get_string(val);
}

static void test_hostile_strings(void **state)
{
	static const struct {
		const char *in, *want, *raw; /* raw: how it must appear in the line */
	} cases[] = {
		{ "a\"b", "a\"b", "a\\\"b" },
		{ "a\\b", "a\\b", "a\\\\b" },
		{ "a\nb", "a\nb", "a\\nb" },
		{ "a\rb\tc", "a\rb\tc", "a\\rb\\tc" },
		{ "\x01\x1f", "\x01\x1f", "\\u0001\\u001f" },
		{ "a/b", "a/b", "a/b" },
		{ "\"}\n{\"kind\":\"x", "\"}\n{\"kind\":\"x", "\\\"}\\n{\\\"kind\\\":\\\"x" },
		{ "ok\xff", "ok\xef\xbf\xbd", "ok\xef\xbf\xbd" },
		{ "caf\xc3\xa9", "caf\xc3\xa9", "caf\xc3\xa9" },
	};
	struct event ev;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *root;
		char *line;
		char raw[64];

		base_event(&ev, SALVE_EV_EXEC);
		snprintf(ev.comm, sizeof(ev.comm), "%s", cases[i].in);
		snprintf(ev.exe.path, sizeof(ev.exe.path), "/tmp/%s/x", cases[i].in);
		line = line_of(&ev, "execs", NULL, 0);
		snprintf(raw, sizeof(raw), "\"comm\":\"%s\"", cases[i].raw);
		assert_non_null(strstr(line, raw));
		assert_string_equal(parsed_string(line, "comm", &root), cases[i].want);
		json_object_put(root);
		snprintf(raw, sizeof(raw), "/tmp/%s/x", cases[i].want);
		assert_string_equal(parsed_string(line, "exe", &root), raw);
		json_object_put(root);
		free(line);
	}
}

/* A symbol name from a hostile binary goes through the same replacement. */
static void test_hostile_stack(void **state)
{
	struct report_frame frames[] = {
		{ .ip = 0x1000, .module = "/tmp/\xc0\xaf\n", .symbol = "f\"\xed\xa0\x80", .offset = 1 },
	};
	struct json_object *root, *stack, *frame, *val;
	struct event ev;
	char *line;

	(void)state;
	base_event(&ev, SALVE_EV_SIGNAL);
	ev.sig.signo = SIGSEGV;
	line = line_of(&ev, "crashes", frames, 1);
	root = json_tokener_parse(line);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "stack", &stack));
	frame = json_object_array_get_idx(stack, 0);
	assert_true(json_object_object_get_ex(frame, "module", &val));
	assert_string_equal(json_object_get_string(val), "/tmp/\xef\xbf\xbd\xef\xbf\xbd\n");
	assert_true(json_object_object_get_ex(frame, "symbol", &val));
	assert_string_equal(json_object_get_string(val), "f\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	json_object_put(root);
	free(line);
}

#define FFFD "\xef\xbf\xbd"

static void test_utf8_replacement(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "" },
		{ "plain", "plain" },
		{ "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" },
		{ "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },       /* U+10FFFF */
		{ "\xee\x80\x80", "\xee\x80\x80" },               /* U+E000, after the surrogates */
		{ "\x80", FFFD },                                 /* lone continuation */
		{ "a\xbf" "b", "a" FFFD "b" },
		{ "\xc0\xaf", FFFD FFFD },                        /* overlong '/' */
		{ "\xc1\xbf", FFFD FFFD },
		{ "\xe0\x80\xaf", FFFD FFFD FFFD },               /* overlong, 3 bytes */
		{ "\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD },      /* overlong, 4 bytes */
		{ "\xed\xa0\x80", FFFD FFFD FFFD },               /* surrogate U+D800 */
		{ "\xed\xbf\xbf", FFFD FFFD FFFD },               /* surrogate U+DFFF */
		{ "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },      /* above U+10FFFF */
		{ "\xf5\x80", FFFD FFFD },
		{ "\xfe\xff", FFFD FFFD },
		{ "\xe2\x82", FFFD },                             /* truncated at the end */
		{ "\xe2\x82" "A", FFFD "A" },                     /* truncated before ASCII */
		{ "\xf0\x9f\x98", FFFD },
		{ "\xf0\x9f\x98\xe2\x82\xac", FFFD "\xe2\x82\xac" },
		{ "\xc3", FFFD },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *s = report_string(cases[i].in);

		assert_non_null(s);
		assert_string_equal(json_object_get_string(s), cases[i].want);
		assert_int_equal(json_object_get_string_len(s), strlen(cases[i].want));
		json_object_put(s);
	}
}

static void test_report_string_null(void **state)
{
	struct json_object *s = report_string(NULL);

	(void)state;
	assert_non_null(s);
	assert_string_equal(json_object_get_string(s), "");
	json_object_put(s);
}

/* Newlines and carriage returns in a comm stay inside their string: each line is one
 * line, and parses. */
static void test_lines_one_newline_each(void **state)
{
	struct event ev;

	(void)state;
	base_event(&ev, SALVE_EV_EXIT);
	strcpy(ev.comm, "a\nb\r\n");
	for (size_t i = 0; i < 3; i++) {
		char *line = line_of(&ev, "exits", NULL, 0);
		struct json_object *root = json_tokener_parse(line);

		assert_non_null(root);
		assert_string_equal(json_object_get_string(json_object_object_get(root, "comm")),
				    "a\nb\r\n");
		json_object_put(root);
		free(line);
	}
}

static void check_time(uint64_t ns, const char *want)
{
	char buf[64];

	assert_int_equal(report_time(ns, buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
}

static void test_time(void **state)
{
	char buf[sizeof(T_STR)];

	(void)state;
	check_time(T_NS, T_STR);
	check_time(0, "1970-01-01T00:00:00.000000000Z");
	check_time(1795365073ULL * 1000000000ULL + 42, "2026-11-22T16:31:13.000000042Z");
	check_time(1795365073ULL * 1000000000ULL + 5000000, "2026-11-22T16:31:13.005000000Z");
	check_time(951868799ULL * 1000000000ULL + 999999999, "2000-02-29T23:59:59.999999999Z");
	/* Exactly the room it needs, then one byte less. */
	assert_int_equal(report_time(T_NS, buf, sizeof(buf)), 0);
	assert_string_equal(buf, T_STR);
	assert_int_equal(report_time(T_NS, buf, sizeof(buf) - 1), -ENOSPC);
	assert_int_equal(report_time(T_NS, buf, 10), -ENOSPC);
}

static void test_signal_names(void **state)
{
	struct event ev;
	char *line;

	(void)state;
	assert_string_equal(report_signal_name(SIGSEGV), "SIGSEGV");
	assert_string_equal(report_signal_name(SIGBUS), "SIGBUS");
	assert_string_equal(report_signal_name(SIGFPE), "SIGFPE");
	assert_string_equal(report_signal_name(SIGILL), "SIGILL");
	assert_string_equal(report_signal_name(SIGABRT), "SIGABRT");
	assert_string_equal(report_signal_name(SIGSYS), "SIGSYS");
	assert_string_equal(report_signal_name(SIGTRAP), "SIGTRAP");
	assert_string_equal(report_signal_name(SIGKILL), "SIGKILL");
	assert_string_equal(report_signal_name(SIGTERM), "SIGTERM");
	assert_null(report_signal_name(0));
	assert_null(report_signal_name(-1));
	assert_null(report_signal_name(40));
	assert_null(report_signal_name(1000));

	/* In a line, an unknown signal is still named by its number. */
	base_event(&ev, SALVE_EV_SIGNAL);
	ev.sig.signo = 40;
	ev.sig.code = -6;
	line = line_of(&ev, "crashes", NULL, 0);
	assert_non_null(strstr(line, "\"signal\":\"SIG40\",\"code\":\"SI_TKILL\","));
	free(line);
	base_event(&ev, SALVE_EV_EXIT);
	ev.exit.status = 40;
	line = line_of(&ev, "exits", NULL, 0);
	assert_non_null(strstr(line, "\"signal\":\"SIG40\""));
	free(line);
}

static void test_code_names(void **state)
{
	struct event ev;
	char *line;

	(void)state;
	assert_string_equal(report_code_name(SIGSEGV, 1), "SEGV_MAPERR");
	assert_string_equal(report_code_name(SIGSEGV, 2), "SEGV_ACCERR");
	assert_string_equal(report_code_name(SIGBUS, 1), "BUS_ADRALN");
	assert_string_equal(report_code_name(SIGBUS, 2), "BUS_ADRERR");
	assert_string_equal(report_code_name(SIGFPE, 1), "FPE_INTDIV");
	assert_string_equal(report_code_name(SIGFPE, 2), "FPE_INTOVF");
	assert_string_equal(report_code_name(SIGILL, 1), "ILL_ILLOPC");
	assert_string_equal(report_code_name(SIGTRAP, 1), "TRAP_BRKPT");
	assert_string_equal(report_code_name(SIGSYS, 1), "SYS_SECCOMP");
	/* Who sent it, the same for every signal. */
	assert_string_equal(report_code_name(SIGABRT, 0), "SI_USER");
	assert_string_equal(report_code_name(SIGABRT, -6), "SI_TKILL");
	assert_string_equal(report_code_name(SIGSEGV, -1), "SI_QUEUE");
	assert_string_equal(report_code_name(SIGSEGV, 0x80), "SI_KERNEL");
	assert_string_equal(report_code_name(SIGKILL, 0x80), "SI_KERNEL");
	/* The same number means different things per signal, and nothing for some. */
	assert_string_equal(report_code_name(SIGILL, 2), "ILL_ILLOPN");
	assert_null(report_code_name(SIGABRT, 1));
	assert_null(report_code_name(SIGSEGV, 99));
	assert_null(report_code_name(SIGSEGV, -99));

	base_event(&ev, SALVE_EV_SIGNAL);
	ev.sig.signo = SIGSEGV;
	ev.sig.code = 99;
	line = line_of(&ev, "crashes", NULL, 0);
	assert_non_null(strstr(line, "\"signal\":\"SIGSEGV\",\"code\":\"99\","));
	free(line);
	ev.sig.code = -99;
	line = line_of(&ev, "crashes", NULL, 0);
	assert_non_null(strstr(line, "\"code\":\"-99\","));
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signal_line),
		cmocka_unit_test(test_signal_line_sent),
		cmocka_unit_test(test_signal_line_handled_and_cause),
		cmocka_unit_test(test_exit_line),
		cmocka_unit_test(test_exit_line_killed),
		cmocka_unit_test(test_oom_line),
		cmocka_unit_test(test_exec_line),
		cmocka_unit_test(test_large_numbers),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_hostile_stack),
		cmocka_unit_test(test_frame_source_and_inlined),
		cmocka_unit_test(test_utf8_replacement),
		cmocka_unit_test(test_report_string_null),
		cmocka_unit_test(test_lines_one_newline_each),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test(test_code_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
