/* policy_scope: which processes a policy covers, and which it leaves out. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_spec.h"

/* ---- scope ----------------------------------------------------------------------------- */

int ps_check_binary(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	if (s[0] != '/')
		return ps_fail(ps, "expected an absolute path, got %s", ps_show(v, shown, sizeof(shown)));
	if (len >= PATH_MAX)
		return ps_fail(ps, "expected a path shorter than %d bytes, got %s (%zu bytes)", PATH_MAX,
			    ps_show(v, shown, sizeof(shown)), len);
	return 0;
}

static int check_cgroup(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	if (s[0] != '/')
		return ps_fail(ps, "expected a path starting with \"/\", relative to the cgroup2 mount "
			    "(like \"/system.slice/app.service\"), got %s", ps_show(v, shown, sizeof(shown)));
	if (len >= PATH_MAX)
		return ps_fail(ps, "expected a path shorter than %d bytes, got %s (%zu bytes)", PATH_MAX,
			    ps_show(v, shown, sizeof(shown)), len);
	return 0;
}

static int check_comm(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];

	(void)s;
	if (len > COMM_MAX)
		return ps_fail(ps, "expected a process name of at most %d bytes (the kernel keeps no more), "
			    "got %s (%zu bytes)", COMM_MAX, ps_show(v, shown, sizeof(shown)), len);
	return 0;
}

/* "app.service", "app@1.service", "user.slice": systemd's unit-name characters and a
 * suffix of a unit type that holds processes. */
static const char *const unit_suffixes[] = { ".service", ".scope", ".slice", ".socket", ".mount",
					     ".swap" };
#define UNIT_NAME_MAX 255

static int check_unit(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];
	size_t prefix = 0, ats = 0;

	for (size_t i = 0; i < N_FIELDS(unit_suffixes); i++) {
		size_t sl = strlen(unit_suffixes[i]);

		if (len > sl && !strcmp(s + len - sl, unit_suffixes[i]))
			prefix = len - sl;
	}
	for (size_t i = 0; i < prefix; i++) {
		char c = s[i];

		ats += c == '@';
		if (!(is_word(c) || c == ':' || c == '.' || c == '-' || c == '\\' || c == '@') ||
		    (c == '@' && !i))
			prefix = 0;
	}
	if (!prefix || ats > 1 || len > UNIT_NAME_MAX)
		return ps_fail(ps, "expected a systemd unit name such as \"app.service\": letters, digits, "
			       "\":\", \"_\", \".\", \"-\", \"\\\" and at most one \"@\" (not first), then "
			       ".service, .scope, .slice, .socket, .mount or .swap; at most %d bytes; got %s",
			       UNIT_NAME_MAX, ps_show(v, shown, sizeof(shown)));
	return 0;
}

/* A GNU build id as `file` and `readelf -n` print it. */
#define BUILD_ID_MAX 40

int ps_check_build_id(struct parser *ps, struct json_object *v, const char *s, size_t len)
{
	char shown[SHOWN_LEN];
	bool ok = len >= 2 && len <= BUILD_ID_MAX && !(len % 2);

	for (size_t i = 0; i < len && ok; i++)
		ok = is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f');
	if (!ok)
		return ps_fail(ps, "expected a build id: lowercase hex digits, an even number from 2 to %d, "
			       "as \"readelf -n\" prints it, got %s", BUILD_ID_MAX,
			       ps_show(v, shown, sizeof(shown)));
	return 0;
}

/* "binaries" entries are a path, or {"path": ..., "build_id": ...} to also match the file's
 * build id. */
struct binary_entry {
	char *path, *build_id;
};

static const struct field binary_fields[] = {
	{ .name = "path", .type = json_type_string, .flags = FIELD_REQUIRED, .parse = ps_parse_string,
	  .check = ps_check_binary, .off = offsetof(struct binary_entry, path),
	  .help = "the executable's absolute path" },
	{ .name = "build_id", .type = json_type_string, .parse = ps_parse_string,
	  .check = ps_check_build_id, .off = offsetof(struct binary_entry, build_id) },
};

static const struct object_spec binary_spec = { .fields = binary_fields, .n_fields = N_FIELDS(binary_fields) };

static int parse_binaries(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_scope *sc = dst;
	size_t n = json_object_array_length(v);
	char shown[SHOWN_LEN];

	(void)f;
	if (!n)
		return 0;
	if (!(sc->binaries = calloc(n, sizeof(*sc->binaries))) ||
	    !(sc->build_ids = calloc(n, sizeof(*sc->build_ids))))
		return ps_no_memory(ps);
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct binary_entry b = { 0 };
		size_t mark = ps_path_index(ps, i);
		const char *s;
		int err = 0;

		if (json_object_is_type(e, json_type_object)) {
			err = ps_check_object(ps, e, &binary_spec, &b);
		} else if (json_object_is_type(e, json_type_string)) {
			if (!(err = ps_string_value(ps, e, ps_check_binary, &s)) && !(b.path = strdup(s)))
				err = ps_no_memory(ps);
		} else {
			err = ps_fail(ps, "expected an absolute path or an object {\"path\": ..., "
				      "\"build_id\": ...}, got %s", ps_show(e, shown, sizeof(shown)));
		}
		ps_path_pop(ps, mark);
		/* counted even on failure: the scope owns what was copied */
		sc->binaries[i] = b.path;
		sc->build_ids[i] = b.build_id;
		sc->n_binaries = i + 1;
		if (err && !ps_go_on(ps, err, &first))
			return err;
	}
	return first;
}

static int parse_uids(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_scope *sc = dst;
	size_t n = json_object_array_length(v);

	(void)f;
	if (!n)
		return 0;
	if (!(sc->uids = calloc(n, sizeof(*sc->uids))))
		return ps_no_memory(ps);
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		size_t mark = ps_path_index(ps, i);
		char shown[SHOWN_LEN];
		int err = 0;

		/* json-c keeps integers above INT64_MAX unsigned; get_int64 saturates them */
		if (!json_object_is_type(e, json_type_int) || json_object_get_int64(e) < 0 ||
		    json_object_get_uint64(e) > UINT32_MAX)
			err = ps_fail(ps, "expected a uid: an integer from 0 to %" PRIu32 ", got %s",
				      UINT32_MAX, ps_show(e, shown, sizeof(shown)));
		ps_path_pop(ps, mark);
		if (err && !ps_go_on(ps, err, &first))
			return err;
		if (!err)
			sc->uids[sc->n_uids++] = (uint32_t)json_object_get_uint64(e);
	}
	return first;
}

static int parse_exclude(struct parser *ps, struct json_object *v, void *dst, const struct field *f);
static int nested_exclude(struct parser *ps, struct json_object *v, void *dst, const struct field *f);

#define SCOPE_FIELDS(exclude_parse)                                                           \
	{ .name = "binaries", .type = json_type_array, .parse = parse_binaries },             \
	{ .name = "cgroups", .type = json_type_array, .parse = ps_parse_strings,              \
	  .check = check_cgroup, .off = offsetof(struct policy_scope, cgroups),               \
	  .n_off = offsetof(struct policy_scope, n_cgroups) },                                \
	{ .name = "units", .type = json_type_array, .parse = ps_parse_strings,                \
	  .check = check_unit, .off = offsetof(struct policy_scope, units),                   \
	  .n_off = offsetof(struct policy_scope, n_units) },                                  \
	{ .name = "comms", .type = json_type_array, .parse = ps_parse_strings,                \
	  .check = check_comm, .off = offsetof(struct policy_scope, comms),                   \
	  .n_off = offsetof(struct policy_scope, n_comms) },                                  \
	{ .name = "uids", .type = json_type_array, .parse = parse_uids },                     \
	{ .name = "exclude", .flags = FIELD_ANY_TYPE, .parse = exclude_parse }

static const struct field scope_fields[] = { SCOPE_FIELDS(parse_exclude) };
static const struct field exclude_fields[] = { SCOPE_FIELDS(nested_exclude) };
static const struct object_spec scope_spec = { .fields = scope_fields, .n_fields = N_FIELDS(scope_fields) };
static const struct object_spec exclude_spec = { .fields = exclude_fields, .n_fields = N_FIELDS(exclude_fields) };

static int parse_exclude(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	struct policy_scope *sc = dst;

	(void)f;
	if (!json_object_is_type(v, json_type_object))
		return ps_wrong_type(ps, json_type_object, v);
	if (!(sc->exclude = calloc(1, sizeof(*sc->exclude))))
		return ps_no_memory(ps);
	return ps_check_object(ps, v, &exclude_spec, sc->exclude);
}

static int nested_exclude(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	(void)v;
	(void)dst;
	(void)f;
	return ps_fail(ps, "exclusions do not nest: list every exclusion in the one \"scope.exclude\"");
}

int ps_parse_scope(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	(void)f;
	return ps_check_object(ps, v, &scope_spec, &((struct policy *)dst)->scope);
}

static void free_strings(char **s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

void ps_scope_clear(struct policy_scope *sc)
{
	if (sc->exclude) {
		ps_scope_clear(sc->exclude);
		free(sc->exclude);
	}
	free_strings(sc->build_ids, sc->build_ids ? sc->n_binaries : 0);
	free_strings(sc->binaries, sc->n_binaries);
	free_strings(sc->cgroups, sc->n_cgroups);
	free_strings(sc->units, sc->n_units);
	free_strings(sc->comms, sc->n_comms);
	free(sc->uids);
	*sc = (struct policy_scope){ 0 };
}
