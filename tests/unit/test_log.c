/* log: the stderr sink's lines, whether stderr is the journal's stream, the last error. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

/* stderr into a temporary file for the test's calls; read_back gives what they wrote. */
struct capture {
	FILE *file;
	int saved;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->file = tmpfile();
	assert_non_null(c->file);
	c->saved = dup(STDERR_FILENO);
	assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

static char *capture_end(struct capture *c)
{
	static char buf[8192];
	size_t n;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	rewind(c->file);
	n = fread(buf, 1, sizeof(buf) - 1, c->file);
	buf[n] = 0;
	fclose(c->file);
	return buf;
}

static void test_stderr_lines(void **state)
{
	struct capture c;
	char big[3000], want[3200];
	char *out;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	salve_log_setup(LOG_SINK_STDERR, LOG_INFO, false);
	capture_start(&c);
	salve_log(LOG_INFO, "watching with %d policy", 1);
	salve_log_ctx(LOG_WARNING, &(struct log_fields){ .rule = "oom", .pid = 42, .incident = 7 },
		      "incident %d (rule %s)", 7, "oom");
	salve_log(LOG_DEBUG, "not shown without -v");
	salve_log(LOG_ERR, "%s", big);
	out = capture_end(&c);
	/* The fields are for the journal: stderr has the text only, as before; a message
	 * longer than a line buffer whole. */
	snprintf(want, sizeof(want), "salved: info: watching with 1 policy\n"
		 "salved: warning: incident 7 (rule oom)\n"
		 "salved: error: %s\n", big);
	assert_string_equal(out, want);
	/* The last error is kept for the status, cut to a status line's length. */
	assert_true(strlen(salve_log_last_error()) > 100);
	assert_int_equal(strspn(salve_log_last_error(), "x"), strlen(salve_log_last_error()));
}

static void test_last_error(void **state)
{
	struct capture c;

	(void)state;
	salve_log_setup(LOG_SINK_STDERR, LOG_INFO, false);
	capture_start(&c);
	salve_log(LOG_ERR, "policy %s: rule \"%s\": field \"threshold\": must be > 0", "p.json",
		  "oom");
	salve_log(LOG_WARNING, "a warning after it");
	capture_end(&c);
	assert_string_equal(salve_log_last_error(),
			    "policy p.json: rule \"oom\": field \"threshold\": must be > 0");
}

static void test_stderr_is_journal(void **state)
{
	struct capture c;
	struct stat st;
	char env[64];
	bool same, other, garbage, unset;

	(void)state;
	capture_start(&c);
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	same = salve_log_stderr_is_journal();
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	other = salve_log_stderr_is_journal();
	setenv("JOURNAL_STREAM", "8:12x", 1);
	garbage = salve_log_stderr_is_journal();
	unsetenv("JOURNAL_STREAM");
	unset = salve_log_stderr_is_journal();
	capture_end(&c);
	assert_true(same);
	assert_false(other);
	assert_false(garbage);
	assert_false(unset);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stderr_lines),
		cmocka_unit_test(test_last_error),
		cmocka_unit_test(test_stderr_is_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
