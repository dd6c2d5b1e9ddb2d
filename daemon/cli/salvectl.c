/* salvectl: the operator's command line for salved. Verbs come in a table, one
 * handler each; those that talk to a running salved go through its control socket. */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"
#include "policy/policy.h"

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static int do_help(int argc, char **argv);

static int do_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("salvectl %s\n", SALVE_VERSION);
	return 0;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The sites of a reload --check answer, one line each. */
static void print_sites(struct json_object *reply, const char *key, const char *verb)
{
	struct json_object *arr, *o, *v;

	if (!json_object_object_get_ex(reply, key, &arr))
		return;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		o = json_object_array_get_idx(arr, i);
		printf("would %s: probe %s", verb,
		       json_object_object_get_ex(o, "probe", &v) ? json_object_get_string(v) : "?");
		if (json_object_object_get_ex(o, "policy", &v))
			printf(" (policy %s)", json_object_get_string(v));
		if (json_object_object_get_ex(o, "path", &v))
			printf(" at %s", json_object_get_string(v));
		if (json_object_object_get_ex(o, "offset", &v))
			printf("+0x%llx", (unsigned long long)json_object_get_uint64(v));
		printf("\n");
	}
}

static void print_check(struct json_object *reply)
{
	struct json_object *v;
	uint64_t kept = json_object_object_get_ex(reply, "keep", &v) ? json_object_get_uint64(v) : 0;

	print_sites(reply, "attach", "attach");
	print_sites(reply, "detach", "detach");
	printf("would keep %llu probe site%s as %s\n", (unsigned long long)kept,
	       plural(kept, "", "s"), plural(kept, "it is", "they are"));
	printf("the kernel scope %s\n",
	       json_object_object_get_ex(reply, "scope_changes", &v) && json_object_get_boolean(v)
		       ? "would change" : "would stay as it is");
}

/* reload [--check] [--json] [--socket PATH]: salved parses the policies again; a broken
 * set leaves the running one in place, and its error is printed here. --check only
 * says what the reload would attach and detach. */
static int do_reload(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	const char *path = CTL_SOCKET_DEFAULT;
	struct json_object *req = json_object_new_object(), *reply = NULL, *ok, *v;
	bool check = false, json = false;
	char err[1024];
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "j", longopts, NULL)) != -1) {
		if (c == 's') {
			path = optarg;
		} else if (c == 'c') {
			check = true;
		} else if (c == 'j') {
			json = true;
		} else {
			fprintf(stderr, "usage: salvectl reload [--check] [--json] [--socket PATH]\n");
			json_object_put(req);
			return 2;
		}
	}
	if (!req || json_object_object_add(req, "cmd", json_object_new_string("reload")) ||
	    json_object_object_add(req, "check", json_object_new_boolean(check))) {
		fprintf(stderr, "salvectl: out of memory\n");
	} else if (ctl_request(path, req, &reply, err, sizeof(err))) {
		fprintf(stderr, "salvectl: %s\n", err);
	} else if (json) {
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
		rc = json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok) ? 0 : 1;
	} else if (json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok)) {
		if (check) {
			print_check(reply);
		} else {
			json_object_object_get_ex(reply, "policies", &v);
			printf("reloaded: %d polic%s\n", json_object_get_int(v),
			       json_object_get_int(v) == 1 ? "y" : "ies");
		}
		rc = 0;
	} else {
		json_object_object_get_ex(reply, "error", &v);
		fprintf(stderr, "salvectl: reload %s, the running policy stays: %s\n",
			check ? "would be refused" : "refused",
			v ? json_object_get_string(v) : "salved gave no reason");
	}
	json_object_put(req);
	json_object_put(reply);
	return rc;
}

/* The daemon's own loader, offline: what passes here loads in salved, with the same
 * messages. One line per file on success; errors on stderr. */
static int do_validate(int argc, char **argv)
{
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "Usage: salvectl validate FILE|DIR...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct policy_set *set = NULL;
		char err[2048] = "";

		if (policy_set_load(argv[i], &set, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			status = 1;
			continue;
		}
		for (size_t j = 0; j < set->n_policies; j++) {
			const struct policy *p = &set->policies[j];

			printf("%s: ok (%zu %s, %zu %s)\n", p->file, p->n_probes,
			       plural(p->n_probes, "probe", "probes"), p->n_rules,
			       plural(p->n_rules, "rule", "rules"));
		}
		policy_set_free(set);
	}
	return status;
}

static const struct cmd cmds[] = {
	{ "help", do_help, "print this help" },
	{ "reload", do_reload,
	  "make salved load its policies again; --check: say what would attach and detach "
	  "[--check] [--json] [--socket PATH]" },
	{ "validate", do_validate,
	  "FILE|DIR...: check policy files offline, as salved loads them (no root needed);\n"
	  "             a directory is one set (its *.json, ids unique across them); exit 0 if all\n"
	  "             are valid, else 1" },
	{ "version", do_version, "print the version" },
	{ 0 },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: salvectl VERB [ARG]...\n\nVerbs:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->help);
}

static int do_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

/* Exact name, or a prefix of exactly one verb. */
static const struct cmd *find(const char *name)
{
	const struct cmd *hit = NULL;

	for (const struct cmd *c = cmds; c->name; c++) {
		if (!strcmp(c->name, name))
			return c;
		if (!strncmp(c->name, name, strlen(name))) {
			if (hit)
				return NULL;
			hit = c;
		}
	}
	return hit;
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version"))
		return do_version(0, NULL);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return do_help(0, NULL);
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "salvectl: what is '%s'? (unknown or ambiguous verb)\n", argv[1]);
		usage(stderr);
		return 2;
	}
	return c->run(argc - 1, argv + 1);
}
