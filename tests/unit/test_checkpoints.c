/* checkpoints: a real child process saved under a scratch state directory; its meta.json
 * read back (what was saved and why), the list and the lookups, retention per rule, the
 * quota refusing a checkpoint and leaving nothing, the leftovers of an interrupted one
 * removed at the next start. Needs root (ptrace, /proc/PID/pagemap): skipped otherwise. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actions/checkpoints.h"

struct fixture {
	char dir[64];
	pid_t child;
	struct checkpoints *c;
	int lines;
	struct json_object *last_line;
};

static void on_line(void *ctx, struct json_object *line)
{
	struct fixture *f = ctx;

	f->lines++;
	json_object_put(f->last_line);
	f->last_line = json_object_get(line);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[512];

	if (geteuid() != 0) {
		free(f);
		skip();
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_checkpoints.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if ((f->child = fork()) == 0) {
		static volatile char marker[64] = "unit-test-marker";

		(void)marker;
		for (;;)
			pause();
	}
	assert_true(f->child > 0);
	assert_int_equal(checkpoints_new(f->dir, 1ull << 30, on_line, f, &f->c, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	kill(f->child, SIGKILL);
	waitpid(f->child, NULL, 0);
	checkpoints_free(f->c);
	json_object_put(f->last_line);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static int take(struct fixture *f, const char *rule, unsigned keep, char *id)
{
	struct json_object *repairs = json_tokener_parse("[{\"id\": 4, \"do\": \"override\"}]");
	char err[1024];
	int r = checkpoints_take(f->c,
				 &(struct checkpoint_request){
					 .pid = f->child, .rule = rule, .policy = rule ? "p" : NULL,
					 .incident_id = 7,
					 .incident_json = "{\"kind\":\"incident\",\"id\":7}",
					 .repairs = repairs, .keep = keep },
				 id, err, sizeof(err));

	json_object_put(repairs);
	if (r)
		print_message("checkpoints_take: %s\n", err);
	return r;
}

static void test_meta(void **state)
{
	struct fixture *f = *state;
	char id[CHECKPOINT_ID_MAX], dir[4096], path[4200], err[512];
	struct json_object *meta, *v;
	struct stat st;

	assert_int_equal(take(f, "crashes", 3, id), 0);
	assert_int_equal(checkpoints_find(f->c, id, &meta, dir, sizeof(dir), err, sizeof(err)), 0);
	assert_string_equal(str(meta, "id"), id);
	assert_string_equal(str(meta, "backend"), "core");
	assert_string_equal(str(meta, "trigger"), "rule");
	assert_string_equal(str(meta, "rule"), "crashes");
	assert_int_equal(num(meta, "incident"), 7);
	assert_int_equal(num(meta, "pid"), f->child);
	assert_true(json_object_object_get_ex(meta, "event", &v));
	assert_int_equal(num(v, "id"), 7);
	assert_true(json_object_object_get_ex(meta, "repairs", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_true(json_object_object_get_ex(meta, "threads", &v));
	assert_int_equal(json_object_array_length(v), 1);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(v, 0)), f->child);
	assert_true(json_object_object_get_ex(meta, "cmdline", &v));
	assert_true(json_object_array_length(v) >= 1);
	assert_true(json_object_object_get_ex(meta, "fds", &v));
	assert_true(json_object_array_length(v) >= 3);
	assert_true(json_object_object_get_ex(meta, "limits", &v));
	assert_true(json_object_object_get_ex(v, "nofile", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_true(json_object_get_int64(json_object_array_get_idx(v, 0)) > 0);
	assert_true(num(meta, "memory_bytes") > 0);
	assert_true(num(meta, "core_bytes") > num(meta, "memory_bytes"));
	assert_true(num(meta, "pause_ns") > 0);
	snprintf(path, sizeof(path), "%s/core.gz", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(num(meta, "bytes"), st.st_size);
	assert_string_equal(str(meta, "file"), "core.gz");
	assert_int_equal(strlen(str(meta, "build_id")), 40);
	json_object_put(meta);
	/* The line said it. */
	assert_int_equal(f->lines, 1);
	assert_string_equal(str(f->last_line, "kind"), "checkpoint");
	assert_string_equal(str(f->last_line, "id"), id);
	assert_string_equal(str(f->last_line, "path"), dir);
}

static void test_find(void **state)
{
	struct fixture *f = *state;
	char a[CHECKPOINT_ID_MAX], b[CHECKPOINT_ID_MAX], dir[4096], err[512], key[32];
	struct json_object *meta, *list;

	assert_int_equal(take(f, NULL, 5, a), 0);
	assert_int_equal(take(f, NULL, 5, b), 0);
	assert_string_not_equal(a, b);
	list = checkpoints_list(f->c, NULL);
	assert_int_equal(json_object_array_length(list), 2);
	assert_string_equal(str(json_object_array_get_idx(list, 0), "id"), a); /* oldest first */
	assert_string_equal(str(json_object_array_get_idx(list, 1), "trigger"), "salvectl");
	assert_null(str(json_object_array_get_idx(list, 1), "rule"));
	json_object_put(list);
	assert_int_equal(checkpoints_find(f->c, "last", &meta, dir, sizeof(dir), err, sizeof(err)), 0);
	assert_string_equal(str(meta, "id"), b);
	json_object_put(meta);
	snprintf(key, sizeof(key), "last:%d", (int)f->child);
	assert_int_equal(checkpoints_find(f->c, key, &meta, dir, sizeof(dir), err, sizeof(err)), 0);
	assert_string_equal(str(meta, "id"), b);
	json_object_put(meta);
	assert_int_equal(checkpoints_find(f->c, "last:1", &meta, dir, sizeof(dir), err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "no checkpoint of process 1");
	assert_int_equal(checkpoints_find(f->c, "nope", &meta, dir, sizeof(dir), err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "no checkpoint \"nope\"");
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_retention(void **state)
{
	struct fixture *f = *state;
	char id[CHECKPOINT_ID_MAX], other[CHECKPOINT_ID_MAX], ckdir[128];
	struct json_object *list;

	assert_int_equal(take(f, "other", 1, other), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(take(f, "crashes", 2, id), 0);
	list = checkpoints_list(f->c, NULL);
	assert_int_equal(json_object_array_length(list), 3); /* other's one, and crashes' last 2 */
	assert_string_equal(str(json_object_array_get_idx(list, 0), "id"), other);
	assert_string_equal(str(json_object_array_get_idx(list, 2), "id"), id);
	json_object_put(list);
	snprintf(ckdir, sizeof(ckdir), "%s/checkpoints", f->dir);
	assert_int_equal(entries(ckdir), 3);
}

static void test_quota(void **state)
{
	struct fixture *f = *state;
	char id[CHECKPOINT_ID_MAX], err[1024], ckdir[128];
	struct checkpoints *small;

	snprintf(ckdir, sizeof(ckdir), "%s/checkpoints", f->dir);
	assert_int_equal(checkpoints_new(f->dir, 4096, NULL, NULL, &small, err, sizeof(err)), 0);
	assert_int_equal(checkpoints_take(small, &(struct checkpoint_request){ .pid = f->child,
										.keep = 1 },
					  id, err, sizeof(err)),
			 -EDQUOT);
	assert_non_null(strstr(err, "the quota (4096 bytes)"));
	assert_int_equal(entries(ckdir), 0);
	checkpoints_free(small);
	/* A checkpoint of a process that is gone: refused, nothing left. */
	assert_int_equal(checkpoints_take(f->c, &(struct checkpoint_request){ .pid = 999999999,
									      .keep = 1 },
					  id, err, sizeof(err)),
			 -ESRCH);
	assert_int_equal(entries(ckdir), 0);
}

static void test_leftovers(void **state)
{
	struct fixture *f = *state;
	char path[160], err[512];
	struct checkpoints *again;
	FILE *half;

	/* What a crash mid-write leaves: a temporary with half a core. */
	snprintf(path, sizeof(path), "%s/checkpoints/.tmp-20260101T000000Z-1", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	strcat(path, "/core.gz");
	assert_non_null(half = fopen(path, "w"));
	fputs("half", half);
	fclose(half);
	assert_int_equal(checkpoints_new(f->dir, 1ull << 30, NULL, NULL, &again, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/checkpoints", f->dir);
	assert_int_equal(entries(path), 0);
	checkpoints_free(again);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
