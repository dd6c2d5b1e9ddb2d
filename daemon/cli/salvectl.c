/* salvectl: the operator's command line for salved. Verbs come in a table, one
 * handler each; this first version knows only help and version. */
#include <stdio.h>
#include <string.h>

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

static const struct cmd cmds[] = {
	{ "help", do_help, "print this help" },
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
