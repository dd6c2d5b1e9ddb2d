/* salvectl: the operator's command line for salved. Verbs come in a table, one
 * handler each; those that talk to a running salved go through its control socket. */
#include <getopt.h>
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

/* reload [--socket PATH]: salved parses the policies again; a broken set leaves the
 * running one in place, and its error is printed here. */
static int do_reload(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ 0 },
	};
	const char *path = CTL_SOCKET_DEFAULT;
	struct json_object *req = json_object_new_object(), *reply = NULL, *ok, *v;
	char err[1024];
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 's') {
			fprintf(stderr, "usage: salvectl reload [--socket PATH]\n");
			json_object_put(req);
			return 2;
		}
		path = optarg;
	}
	if (!req || json_object_object_add(req, "cmd", json_object_new_string("reload"))) {
		fprintf(stderr, "salvectl: out of memory\n");
	} else if (ctl_request(path, req, &reply, err, sizeof(err))) {
		fprintf(stderr, "salvectl: %s\n", err);
	} else if (json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok)) {
		json_object_object_get_ex(reply, "policies", &v);
		printf("reloaded: %d polic%s\n", json_object_get_int(v),
		       json_object_get_int(v) == 1 ? "y" : "ies");
		rc = 0;
	} else {
		json_object_object_get_ex(reply, "error", &v);
		fprintf(stderr, "salvectl: reload refused, the running policy stays: %s\n",
			v ? json_object_get_string(v) : "salved gave no reason");
	}
	json_object_put(req);
	json_object_put(reply);
	return rc;
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
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
	{ "reload", do_reload, "make salved load its policies again [--socket PATH]" },
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
