/* salvectl: the operator's command line for salved. Verbs come in a table, one
 * handler each; those that talk to a running salved go through its control socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

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

/* What every verb that talks to salved takes: --socket PATH, --json, and check (only
 * where allowed, as --check). 0, or 2 after printing usage. */
struct ask {
	const char *path;
	bool json, check;
	bool has_id; /* rollback: the repair's id, sent as "id" */
	int64_t id;
	const char *name; /* checkpoints: a checkpoint's id, sent as "id" */
	int64_t pid;	  /* checkpoint: the process, sent as "pid" when above 0 */
};

static int parse_ask(int argc, char **argv, bool allow_check, const char *usage, struct ask *a)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	int c;

	*a = (struct ask){ .path = CTL_SOCKET_DEFAULT };
	optind = 1;
	while ((c = getopt_long(argc, argv, "j", longopts, NULL)) != -1) {
		if (c == 's') {
			a->path = optarg;
		} else if (c == 'j') {
			a->json = true;
		} else if (c == 'c' && allow_check) {
			a->check = true;
		} else {
			fprintf(stderr, "usage: salvectl %s\n", usage);
			return 2;
		}
	}
	return 0;
}

/* Send {"cmd": cmd[, "check": true]} to salved; *reply is its answer, to be put. Under
 * --json the answer is printed as it came. 0 when salved said ok; 1 otherwise, said on
 * stderr (what went wrong with the socket, or salved's error after what). */
static int ask(const struct ask *a, const char *cmd, const char *what, struct json_object **reply)
{
	struct json_object *req = json_object_new_object(), *ok, *v;
	char err[1024];
	int rc = 1;

	*reply = NULL;
	if (!req || json_object_object_add(req, "cmd", json_object_new_string(cmd)) ||
	    (a->check && json_object_object_add(req, "check", json_object_new_boolean(true))) ||
	    (a->has_id && json_object_object_add(req, "id", json_object_new_int64(a->id))) ||
	    (a->name && json_object_object_add(req, "id", json_object_new_string(a->name))) ||
	    (a->pid > 0 && json_object_object_add(req, "pid", json_object_new_int64(a->pid)))) {
		fprintf(stderr, "salvectl: out of memory\n");
	} else if (ctl_request(a->path, req, reply, err, sizeof(err))) {
		fprintf(stderr, "salvectl: %s\n", err);
	} else if (json_object_object_get_ex(*reply, "ok", &ok) && json_object_get_boolean(ok)) {
		rc = 0;
	} else if (!a->json) {
		json_object_object_get_ex(*reply, "error", &v);
		fprintf(stderr, "salvectl: %s: %s\n", what,
			v ? json_object_get_string(v) : "salved gave no reason");
	}
	if (a->json && *reply)
		printf("%s\n", json_object_to_json_string_ext(*reply, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	return rc;
}

/* reload [--check] [--json] [--socket PATH]: salved parses the policies again; a broken
 * set leaves the running one in place, and its error is printed here. --check only
 * says what the reload would attach and detach. */
static int do_reload(int argc, char **argv)
{
	struct json_object *reply, *v;
	struct ask a;
	int rc = parse_ask(argc, argv, true, "reload [--check] [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	rc = ask(&a, "reload", a.check ? "reload would be refused, the running policy stays"
				     : "reload refused, the running policy stays", &reply);
	if (!rc && !a.json && a.check) {
		print_check(reply);
	} else if (!rc && !a.json) {
		json_object_object_get_ex(reply, "policies", &v);
		printf("reloaded: %d polic%s\n", json_object_get_int(v),
		       json_object_get_int(v) == 1 ? "y" : "ies");
	}
	json_object_put(reply);
	return rc;
}

static uint64_t count(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

/* stats [--json] [--socket PATH]: salved reads what its ring holds now, writes a stats
 * line and answers with it: per kind of event, what the kernel saw and what became of
 * it. Every record the kernel wrote before it has its line before that stats line. */
static int do_stats(int argc, char **argv)
{
	static const char *const cols[] = { "seen", "received", "reported", "lost", "suppressed",
					    "stale" };
	struct json_object *reply, *stats, *kinds, *rules;
	struct ask a;
	int rc = parse_ask(argc, argv, false, "stats [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	if ((rc = ask(&a, "stats", "no stats", &reply)) || a.json) {
		json_object_put(reply);
		return rc;
	}
	json_object_object_get_ex(reply, "stats", &stats);
	printf("%-10s", "events");
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		printf(" %12s", cols[i]);
	printf("\n");
	if (json_object_object_get_ex(stats, "events", &kinds)) {
		json_object_object_foreach(kinds, kind, c) {
			printf("%-10s", kind);
			for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
				printf(" %12llu", (unsigned long long)count(c, cols[i]));
			printf("\n");
		}
	}
	printf("malformed records: %llu\n", (unsigned long long)count(stats, "malformed"));
	if (json_object_object_get_ex(stats, "rules", &rules))
		printf("rules: %llu, groups: %llu, incidents: %llu\n",
		       (unsigned long long)count(rules, "rules"), (unsigned long long)count(rules, "groups"),
		       (unsigned long long)count(rules, "incidents"));
	json_object_put(reply);
	return 0;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* repairs [--json] [--socket PATH]: the repairs salved has made and not undone. */
static int do_repairs(int argc, char **argv)
{
	struct json_object *reply, *list;
	struct ask a;
	int rc = parse_ask(argc, argv, false, "repairs [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	if ((rc = ask(&a, "repairs", "no repairs", &reply)) || a.json) {
		json_object_put(reply);
		return rc;
	}
	json_object_object_get_ex(reply, "repairs", &list);
	if (!json_object_array_length(list))
		printf("no repairs in effect\n");
	else
		printf("%-5s %-9s %-9s %-8s %-20s %-10s %s\n", "ID", "DO", "STATE", "PID", "RULE",
		       "MECHANISM", "FUNCTION");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *r = json_object_array_get_idx(list, i);

		if (!strcmp(str(r, "do"), "breaker") && *str(r, "endpoint")) {
			printf("%-5llu %-9s %-9s %-8llu %-20s %-10s connect to %s from %s, %llu turned away\n",
			       (unsigned long long)count(r, "id"), "breaker", str(r, "state"),
			       (unsigned long long)count(r, "pid"), str(r, "rule"), "cgroup",
			       str(r, "endpoint"), str(r, "cgroup"),
			       (unsigned long long)count(r, "turned_away"));
			continue;
		}
		printf("%-5llu %-9s %-9s %-8llu %-20s %-10s %s in %s", (unsigned long long)count(r, "id"),
		       str(r, "do"), str(r, "state"), (unsigned long long)count(r, "pid"),
		       str(r, "rule"), str(r, "mechanism"), str(r, "symbol"), str(r, "binary"));
		if (!strcmp(str(r, "do"), "redirect"))
			printf(" -> %s", str(r, "to"));
		else
			printf(" returns %s", str(r, "return"));
		if (!strcmp(str(r, "do"), "breaker"))
			printf(" while open, %llu turned away", (unsigned long long)count(r, "turned_away"));
		printf("\n");
	}
	json_object_put(reply);
	return 0;
}

/* features [--json] [--socket PATH]: what this kernel gives salved. */
static int do_features(int argc, char **argv)
{
	struct json_object *reply, *list;
	struct ask a;
	int rc = parse_ask(argc, argv, false, "features [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	if ((rc = ask(&a, "features", "no features", &reply)) || a.json) {
		json_object_put(reply);
		return rc;
	}
	json_object_object_get_ex(reply, "features", &list);
	printf("%-32s %-9s %s\n", "FEATURE", "AVAILABLE", "DETAIL");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *f = json_object_array_get_idx(list, i), *v;

		printf("%-32s %-9s %s\n", str(f, "name"),
		       json_object_object_get_ex(f, "available", &v) && json_object_get_boolean(v)
			       ? "yes" : "no",
		       str(f, "detail"));
	}
	json_object_put(reply);
	return 0;
}

/* rollback ID [--json] [--socket PATH]: undo a repair now. */
static int do_rollback(int argc, char **argv)
{
	struct json_object *reply;
	struct ask a;
	char *end;
	int rc = parse_ask(argc, argv, false, "rollback ID [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	if (optind != argc - 1 || (a.id = strtoll(argv[optind], &end, 10)) <= 0 || *end) {
		fprintf(stderr, "usage: salvectl rollback ID [--json] [--socket PATH] (ID: a repair's "
				"number, as salvectl repairs lists it)\n");
		return 2;
	}
	a.has_id = true;
	rc = ask(&a, "rollback", "rollback refused", &reply);
	if (!rc && !a.json)
		printf("repair %lld rolled back\n", (long long)a.id);
	json_object_put(reply);
	return rc;
}

static void print_bytes(uint64_t n)
{
	if (n >= 10ull << 20)
		printf("%llu MiB", (unsigned long long)(n >> 20));
	else if (n >= 10ull << 10)
		printf("%llu KiB", (unsigned long long)(n >> 10));
	else
		printf("%llu B", (unsigned long long)n);
}

/* checkpoint PID [--json] [--socket PATH]: salved saves the process now. */
static int do_checkpoint(int argc, char **argv)
{
	struct json_object *reply, *c;
	struct ask a;
	char *end;
	int rc = parse_ask(argc, argv, false, "checkpoint PID [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	if (optind != argc - 1 || (a.pid = strtoll(argv[optind], &end, 10)) <= 1 || *end) {
		fprintf(stderr, "usage: salvectl checkpoint PID [--json] [--socket PATH] (PID: a "
				"running process's, not 1)\n");
		return 2;
	}
	rc = ask(&a, "checkpoint", "checkpoint refused", &reply);
	if (!rc && !a.json && json_object_object_get_ex(reply, "checkpoint", &c)) {
		printf("checkpoint %s of process %lld (%s): ", str(c, "id"), (long long)a.pid,
		       str(c, "comm"));
		print_bytes(count(c, "memory_bytes"));
		printf(" of memory, stopped %.1f ms, ", (double)count(c, "pause_ns") / 1e6);
		print_bytes(count(c, "bytes"));
		printf(" on disk in %s\n", str(c, "path"));
	}
	json_object_put(reply);
	return rc;
}

/* checkpoints [ID] [--json] [--socket PATH]: the checkpoints kept, or one whole. */
static int do_checkpoints(int argc, char **argv)
{
	struct json_object *reply, *list;
	struct ask a;
	int rc = parse_ask(argc, argv, false, "checkpoints [ID] [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	if (optind < argc - 1) {
		fprintf(stderr, "usage: salvectl checkpoints [ID] [--json] [--socket PATH]\n");
		return 2;
	}
	a.name = optind == argc - 1 ? argv[optind] : NULL;
	if ((rc = ask(&a, "checkpoints", a.name ? "no such checkpoint" : "no checkpoints", &reply)) ||
	    a.json) {
		json_object_put(reply);
		return rc;
	}
	if (a.name) { /* its meta.json, as salved keeps it */
		json_object_object_get_ex(reply, "checkpoint", &list);
		printf("%s\n", json_object_to_json_string_ext(list, JSON_C_TO_STRING_PRETTY |
								      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(reply);
		return 0;
	}
	json_object_object_get_ex(reply, "checkpoints", &list);
	if (!json_object_array_length(list))
		printf("no checkpoints\n");
	else
		printf("%-28s %-20s %-8s %-15s %-20s %9s %10s %10s\n", "ID", "TIME", "PID", "COMM",
		       "RULE", "PAUSE_MS", "MEMORY", "DISK");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		char mem[32], disk[32];

		snprintf(mem, sizeof(mem), "%llu", (unsigned long long)count(c, "memory_bytes"));
		snprintf(disk, sizeof(disk), "%llu", (unsigned long long)count(c, "bytes"));
		printf("%-28s %-20.19s %-8llu %-15s %-20s %9.1f %10s %10s\n", str(c, "id"),
		       str(c, "time"), (unsigned long long)count(c, "pid"), str(c, "comm"),
		       *str(c, "rule") ? str(c, "rule") : "(salvectl)",
		       (double)count(c, "pause_ns") / 1e6, mem, disk);
	}
	json_object_put(reply);
	return 0;
}

/* restore ID [--json] [--socket PATH]: bring a process back to checkpoint ID. */
static int do_restore(int argc, char **argv)
{
	struct json_object *reply;
	struct ask a;
	int rc = parse_ask(argc, argv, false, "restore ID [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	if (optind != argc - 1) {
		fprintf(stderr, "usage: salvectl restore ID [--json] [--socket PATH] (ID: a "
				"checkpoint's, as salvectl checkpoints lists them, or \"last\")\n");
		return 2;
	}
	a.name = argv[optind];
	rc = ask(&a, "restore", "restore refused", &reply);
	if (!rc && !a.json)
		printf("process %llu restored to checkpoint %s\n",
		       (unsigned long long)count(reply, "pid"), a.name);
	json_object_put(reply);
	return rc;
}

/* Decompress from (a gzip file) into to, created; -errno, err saying which file. */
static int gunzip_to(const char *from, const char *to, uint64_t *bytes, char *err, size_t err_len)
{
	gzFile in = gzopen(from, "rb");
	int out = -1, r = 0;
	static char buf[1 << 20];

	*bytes = 0;
	if (!in) {
		snprintf(err, err_len, "%s: %s", from, strerror(errno ?: ENOMEM));
		return -(errno ?: ENOMEM);
	}
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", to, strerror(errno));
		gzclose(in);
		return r;
	}
	for (;;) {
		int n = gzread(in, buf, sizeof(buf));
		int zerr;

		if (n < 0) {
			snprintf(err, err_len, "%s: %s", from, gzerror(in, &zerr));
			r = -EIO;
			break;
		}
		if (n == 0)
			break;
		for (int at = 0; at < n;) {
			ssize_t w = write(out, buf + at, (size_t)(n - at));

			if (w < 0) {
				r = -errno;
				snprintf(err, err_len, "%s: %s", to, strerror(errno));
				break;
			}
			at += (int)w;
		}
		if (r)
			break;
		*bytes += (uint64_t)n;
	}
	gzclose(in);
	if (close(out) && !r) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", to, strerror(errno));
	}
	if (r)
		unlink(to); /* nothing half written stays */
	return r;
}

/* extract ID FILE [--socket PATH]: checkpoint ID's core, plain, into FILE for gdb. */
static int do_extract(int argc, char **argv)
{
	struct json_object *reply, *c;
	char from[4096], err[4096 + 256];
	uint64_t bytes;
	struct ask a;
	int rc = parse_ask(argc, argv, false, "extract ID FILE [--socket PATH]", &a);

	if (rc)
		return rc;
	if (optind != argc - 2 || a.json) {
		fprintf(stderr, "usage: salvectl extract ID FILE [--socket PATH] (FILE: a new file, "
				"the plain ELF core gdb opens)\n");
		return 2;
	}
	a.name = argv[optind];
	if ((rc = ask(&a, "checkpoints", "no such checkpoint", &reply)))
		goto out;
	json_object_object_get_ex(reply, "checkpoint", &c);
	if (strcmp(str(c, "backend"), "core")) {
		fprintf(stderr, "salvectl: checkpoint %s was taken by %s: it holds no core\n", a.name,
			str(c, "backend"));
		rc = 1;
		goto out;
	}
	snprintf(from, sizeof(from), "%s/%s", str(c, "path"), str(c, "file"));
	if (gunzip_to(from, argv[optind + 1], &bytes, err, sizeof(err))) {
		fprintf(stderr, "salvectl: extract: %s\n", err);
		rc = 1;
		goto out;
	}
	printf("core of process %llu written to %s (", (unsigned long long)count(c, "pid"),
	       argv[optind + 1]);
	print_bytes(bytes);
	printf("): gdb %s %s\n", str(c, "binary"), argv[optind + 1]);
out:
	json_object_put(reply);
	return rc;
}

/* The daemon's own loader, offline: what passes here loads in salved, with the same
 * messages. One line per file on success; every error on stderr, one line each. */
static int do_validate(int argc, char **argv)
{
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "Usage: salvectl validate FILE|DIR...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct policy_set *set = NULL;
		struct policy_errors errs;

		/* every error of every file, one line each */
		if (policy_set_load_errors(argv[i], &set, &errs)) {
			for (size_t j = 0; j < errs.n; j++)
				fprintf(stderr, "%s\n", errs.msgs[j]);
			if (errs.stopped)
				fprintf(stderr, "%s: stopped after %d errors\n", argv[i],
					POLICY_ERRORS_MAX);
			policy_errors_clear(&errs);
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
	{ "checkpoint", do_checkpoint,
	  "PID [--json] [--socket PATH]: save process PID now under salved's state\n"
	  "             directory: criu's dump where salved has a working criu, else an ELF\n"
	  "             core (its threads stopped only while its memory is copied)" },
	{ "checkpoints", do_checkpoints,
	  "[ID] [--json] [--socket PATH]: the checkpoints kept; with ID, all it records\n"
	  "             (trigger, command line, files, repairs in effect, sizes)" },
	{ "extract", do_extract,
	  "ID FILE [--socket PATH]: write checkpoint ID's core to FILE for gdb" },
	{ "features", do_features,
	  "[--json] [--socket PATH]: what this kernel gives salved (tp_btf, uprobe sessions,\n"
	  "             uprobe register writes) and which mechanism it uses for each" },
	{ "reload", do_reload,
	  "[--check] [--json] [--socket PATH]: make salved load its policies again, all or\n"
	  "             nothing; --check says what would attach and detach, changing nothing" },
	{ "repairs", do_repairs,
	  "[--json] [--socket PATH]: the repairs in effect (override, redirect, rescues,\n"
	  "             breakers), with their id, state, process and function" },
	{ "restore", do_restore,
	  "ID [--json] [--socket PATH]: bring a process back to checkpoint ID: salve's core\n"
	  "             rolled back into the running process (memory and registers, not files\n"
	  "             or sockets), or criu's images restored" },
	{ "rollback", do_rollback,
	  "ID [--json] [--socket PATH]: undo repair ID now (its original bytes back)" },
	{ "stats", do_stats,
	  "[--json] [--socket PATH]: salved reads what its ring holds, then prints its\n"
	  "             counters per kind of event (the same as its stats line)" },
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
