/* incidents: the last incidents as their lines tell them: the incident line, its actions'
 * lines as they end, its verify line; lines of other incidents and kinds pass by. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/incidents.h"

static void line(struct incidents *in, const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	incidents_line(in, o);
	json_object_put(o);
}

static const char *get(struct json_object *list, size_t i, const char *path)
{
	static char buf[1024];
	struct json_object *o = json_object_array_get_idx(list, i), *v = o;
	char copy[128], *save, *part;

	snprintf(copy, sizeof(copy), "%s", path);
	for (part = strtok_r(copy, ".", &save); part && v; part = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(v, json_type_array))
			v = json_object_array_get_idx(v, (size_t)atoi(part));
		else if (!json_object_object_get_ex(v, part, &v))
			fail_msg("no %s in %s", path, json_object_to_json_string(o));
	}
	snprintf(buf, sizeof(buf), "%s", v ? json_object_get_string(v) : "null");
	return buf;
}

static void test_incident_actions_verify(void **state)
{
	struct incidents *in;
	struct json_object *list;

	(void)state;
	assert_int_equal(incidents_new(&in), 0);
	line(in, "{\"time\":\"2026-11-26T12:00:00.000000001Z\",\"kind\":\"incident\",\"id\":7,"
		 "\"rule\":\"crash-loop\",\"policy\":\"web\",\"by\":\"process\",\"pid\":42,"
		 "\"exe\":\"/srv/web\",\"dry_run\":false,"
		 "\"events\":{\"counts\":[],\"last\":[{\"kind\":\"signal\",\"pid\":42,\"comm\":\"web\"}]},"
		 "\"actions\":[{\"index\":0,\"do\":\"log\",\"state\":\"ended\",\"outcome\":\"logged\"},"
		 "{\"index\":1,\"do\":\"exec\",\"command\":[\"/bin/true\"],\"state\":\"running\"}]}");
	line(in, "{\"kind\":\"signal\",\"pid\":43,\"comm\":\"other\"}");
	line(in, "{\"kind\":\"action\",\"incident\":99,\"index\":0,\"do\":\"log\",\"outcome\":\"x\"}");
	list = incidents_list(in);
	assert_int_equal(json_object_array_length(list), 1);
	assert_string_equal(get(list, 0, "id"), "7");
	assert_string_equal(get(list, 0, "time"), "2026-11-26T12:00:00.000000001Z");
	assert_string_equal(get(list, 0, "rule"), "crash-loop");
	assert_string_equal(get(list, 0, "policy"), "web");
	assert_string_equal(get(list, 0, "pid"), "42");
	assert_string_equal(get(list, 0, "comm"), "web");
	assert_string_equal(get(list, 0, "exe"), "/srv/web");
	assert_string_equal(get(list, 0, "actions.0.outcome"), "logged");
	assert_string_equal(get(list, 0, "actions.1.state"), "running");
	assert_string_equal(get(list, 0, "verify"), "null");
	json_object_put(list);

	line(in, "{\"time\":\"t\",\"kind\":\"action\",\"incident\":7,\"rule\":\"crash-loop\","
		 "\"policy\":\"web\",\"index\":1,\"do\":\"exec\",\"command\":[\"/bin/true\"],"
		 "\"outcome\":\"exited\",\"status\":0}");
	line(in, "{\"kind\":\"verify\",\"incident\":7,\"rule\":\"crash-loop\",\"outcome\":\"resolved\"}");
	list = incidents_list(in);
	assert_string_equal(get(list, 0, "actions.1.outcome"), "exited");
	assert_string_equal(get(list, 0, "actions.1.status"), "0");
	assert_string_equal(get(list, 0, "actions.1.state"), "ended");
	assert_string_equal(get(list, 0, "actions.1.index"), "1");
	assert_string_equal(get(list, 0, "actions.0.outcome"), "logged");
	assert_string_equal(get(list, 0, "verify"), "resolved");
	/* The action's own line's time and kind are not the action's. */
	assert_false(json_object_object_get_ex(
		json_object_array_get_idx(json_object_object_get(json_object_array_get_idx(list, 0),
								 "actions"), 1), "kind", NULL));
	json_object_put(list);
	incidents_free(in);
}

/* The last INCIDENTS_KEEP, oldest first; a binary's incident says its binary. */
static void test_keep(void **state)
{
	struct incidents *in;
	struct json_object *list;
	char text[256];

	(void)state;
	assert_int_equal(incidents_new(&in), 0);
	for (int i = 1; i <= INCIDENTS_KEEP + 3; i++) {
		snprintf(text, sizeof(text), "{\"kind\":\"incident\",\"id\":%d,\"rule\":\"r\","
			 "\"by\":\"binary\",\"binary\":\"/bin/x\",\"pid\":%d,\"actions\":[]}", i, 100 + i);
		line(in, text);
	}
	line(in, "{\"kind\":\"verify\",\"incident\":2,\"outcome\":\"persists\"}"); /* gone */
	list = incidents_list(in);
	assert_int_equal(json_object_array_length(list), INCIDENTS_KEEP);
	assert_string_equal(get(list, 0, "id"), "4");
	assert_string_equal(get(list, INCIDENTS_KEEP - 1, "id"), "103");
	assert_string_equal(get(list, 0, "binary"), "/bin/x");
	assert_string_equal(get(list, 0, "comm"), "");
	json_object_put(list);
	incidents_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_incident_actions_verify),
		cmocka_unit_test(test_keep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
