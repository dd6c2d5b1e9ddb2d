/* salvectl: the operator's command line for salved. Verbs come in a table, one
 * handler each; those that talk to a running salved go through its control socket. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cli/top.h"
#include "ctl/ctl.h"
#include "policy/policy.h"

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static int do_help(int argc, char **argv);

/* version [--json]: salvectl's own; it asks salved nothing. */
static int do_version(int argc, char **argv)
{
	bool json = argc > 1 && (!strcmp(argv[1], "--json") || !strcmp(argv[1], "-j"));

	if (argc > 1 + json) {
		fprintf(stderr, "usage: salvectl version [--json]\n");
		return 2;
	}
	printf(json ? "{\"version\":\"%s\"}\n" : "salvectl %s\n", SALVE_VERSION);
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
		printf("%s\n", json_object_to_json_string_ext(*reply, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE));
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

/* metrics [--json] [--socket PATH]: salved's metrics page in the Prometheus text format,
 * as it is (promtool check metrics reads it); --json: the reply, {"ok", "text"}. */
static int do_metrics(int argc, char **argv)
{
	struct json_object *reply, *text;
	struct ask a;
	int rc = parse_ask(argc, argv, false, "metrics [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	if (!(rc = ask(&a, "metrics", "no metrics", &reply)) && !a.json &&
	    json_object_object_get_ex(reply, "text", &text))
		fwrite(json_object_get_string(text), 1, (size_t)json_object_get_string_len(text), stdout);
	json_object_put(reply);
	return rc;
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

/* A plain request for verb: its answer's key, for printing; NULL (printed, or failed) when
 * there is nothing more to do. *reply is to be put. */
static struct json_object *fetch(int argc, char **argv, const char *verb, const char *usage,
				 int *rc, struct json_object **reply)
{
	struct json_object *v;
	struct ask a;

	*reply = NULL;
	if ((*rc = parse_ask(argc, argv, false, usage, &a)))
		return NULL;
	if (optind != argc) {
		fprintf(stderr, "usage: salvectl %s\n", usage);
		*rc = 2;
		return NULL;
	}
	if ((*rc = ask(&a, verb, verb, reply)) || a.json)
		return NULL;
	return json_object_object_get_ex(*reply, verb, &v) ? v : NULL;
}

static void print_duration(uint64_t s)
{
	if (s >= 86400)
		printf("%llud%02lluh", (unsigned long long)(s / 86400), (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		printf("%lluh%02llum", (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		printf("%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else
		printf("%llus", (unsigned long long)s);
}

/* status [--json] [--socket PATH]: what salved runs, at a glance. */
static int do_status(int argc, char **argv)
{
	struct json_object *reply, *st, *r;
	int rc;

	if (!(st = fetch(argc, argv, "status", "status [--json] [--socket PATH]", &rc, &reply))) {
		json_object_put(reply);
		return rc;
	}
	printf("salved %s, pid %llu, up ", str(st, "version"), (unsigned long long)count(st, "pid"));
	print_duration(count(st, "uptime_s"));
	printf(" (since %.19s)%s\n", str(st, "started"),
	       json_object_object_get_ex(st, "dry_run", &r) && json_object_get_boolean(r)
		       ? ", dry run: no process is changed" : "");
	printf("policies:    %llu from %s: %llu probe%s at %llu function site%s, %llu rule%s\n",
	       (unsigned long long)count(st, "policies"), str(st, "policy"),
	       (unsigned long long)count(st, "probes"), plural(count(st, "probes"), "", "s"),
	       (unsigned long long)count(st, "sites"), plural(count(st, "sites"), "", "s"),
	       (unsigned long long)count(st, "rules"), plural(count(st, "rules"), "", "s"));
	printf("events:      %llu seen by the kernel, %llu lost, %llu held back by rate limits\n",
	       (unsigned long long)count(st, "events_seen"), (unsigned long long)count(st, "events_lost"),
	       (unsigned long long)count(st, "events_suppressed"));
	printf("incidents:   %llu; repairs in effect: %llu; checkpoints kept: %llu\n",
	       (unsigned long long)count(st, "incidents"), (unsigned long long)count(st, "repairs"),
	       (unsigned long long)count(st, "checkpoints"));
	if (json_object_object_get_ex(st, "last_reload", &r)) {
		struct json_object *ok;

		printf("last reload: %.19s, %s%s\n", str(r, "time"),
		       json_object_object_get_ex(r, "ok", &ok) && json_object_get_boolean(ok)
			       ? "in force" : "refused, the policy before it runs: ",
		       str(r, "error"));
	}
	printf("state:       %s\nsocket:      %s\nevents to:   %s\n", str(st, "state_dir"),
	       str(st, "socket"), str(st, "log"));
	if (*str(st, "pin_dir"))
		printf("pinned in:   %s (bpftool map show pinned ...)\n", str(st, "pin_dir"));
	json_object_put(reply);
	return 0;
}

/* A policy's scope in words: "every process", or its lists. */
static void print_scope(struct json_object *sc)
{
	static const char *const keys[] = { "binaries", "units", "cgroups", "comms", "uids" };
	struct json_object *v, *ex;
	bool any = false;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (!json_object_object_get_ex(sc, keys[k], &v))
			continue;
		printf("%s%s ", any ? "; " : "", keys[k]);
		for (size_t i = 0; i < json_object_array_length(v); i++)
			printf("%s%s", i ? "," : "", json_object_get_string(json_object_array_get_idx(v, i)));
		any = true;
	}
	if (!any)
		printf("every process");
	if (json_object_object_get_ex(sc, "exclude", &ex)) {
		printf(", except ");
		print_scope(ex);
	}
}

/* policies [--json] [--socket PATH]: the policies in force. */
static int do_policies(int argc, char **argv)
{
	struct json_object *reply, *list, *v;
	int rc;

	if (!(list = fetch(argc, argv, "policies", "policies [--json] [--socket PATH]", &rc, &reply))) {
		json_object_put(reply);
		return rc;
	}
	printf("%-20s %-30s %6s %6s  %s\n", "NAME", "FILE", "PROBES", "RULES", "SCOPE");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *p = json_object_array_get_idx(list, i), *probes, *rules;

		json_object_object_get_ex(p, "probes", &probes);
		json_object_object_get_ex(p, "rules", &rules);
		printf("%-20s %-30s %6zu %6zu  ", str(p, "name"), str(p, "file"),
		       json_object_array_length(probes), json_object_array_length(rules));
		if (json_object_object_get_ex(p, "scope", &v))
			print_scope(v);
		if (json_object_object_get_ex(p, "dry_run", &v) && json_object_get_boolean(v))
			printf(" (dry run)");
		printf("\n");
	}
	json_object_put(reply);
	return 0;
}

/* Where a probe sits, in words: "symbol in binary", "+0xoff in binary", or its hook. */
static void probe_where(struct json_object *p, char *buf, size_t len)
{
	const char *bin = str(p, "binary"), *slash = strrchr(bin, '/');

	if (!*bin)
		snprintf(buf, len, "host-wide");
	else if (*str(p, "symbol"))
		snprintf(buf, len, "%s in %s", str(p, "symbol"), slash ? slash + 1 : bin);
	else
		snprintf(buf, len, "+0x%llx in %s", (unsigned long long)count(p, "offset"),
			 slash ? slash + 1 : bin);
}

/* probes [--json] [--socket PATH]: every probe in force, where it sits and what it saw. */
static int do_probes(int argc, char **argv)
{
	struct json_object *reply, *list, *v;
	bool hints = false;
	char where[256];
	int rc;

	if (!(list = fetch(argc, argv, "probes", "probes [--json] [--socket PATH]", &rc, &reply))) {
		json_object_put(reply);
		return rc;
	}
	if (!json_object_array_length(list))
		printf("no probes in force\n");
	else
		printf("%-16s %-10s %-32s %-30s %-4s %10s %10s %10s\n", "PROBE", "KIND", "WHERE",
		       "MECHANISM", "FAST", "HITS", "EVENTS", "SUPPRESSED");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *p = json_object_array_get_idx(list, i);
		bool has_fast = json_object_object_get_ex(p, "fast_path", &v);

		probe_where(p, where, sizeof(where));
		printf("%-16s %-10s %-32s %-30s %-4s %10llu %10llu %10llu%s\n", str(p, "probe"),
		       str(p, "kind"), where, str(p, "mechanism"),
		       !has_fast ? "-" : json_object_get_boolean(v) ? "yes" : "no",
		       (unsigned long long)count(p, "hits"), (unsigned long long)count(p, "events"),
		       (unsigned long long)count(p, "suppressed"),
		       json_object_object_get_ex(p, "per_kind", &v) ? " *" : "");
		hints |= has_fast && !json_object_get_boolean(v);
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *p = json_object_array_get_idx(list, i);

		if (json_object_object_get_ex(p, "per_kind", &v)) {
			printf("* host-wide probes of one kind share one program: the counts are the kind's\n");
			break;
		}
	}
	for (size_t i = 0; hints && i < json_object_array_length(list); i++) {
		struct json_object *p = json_object_array_get_idx(list, i);

		if (!*str(p, "fast_path_hint"))
			continue;
		probe_where(p, where, sizeof(where));
		printf("%s (%s): %s\n", str(p, "probe"), where, str(p, "fast_path_hint"));
	}
	json_object_put(reply);
	return 0;
}

/* rules [--json] [--socket PATH]: the rules in force, their state and budget. */
static int do_rules(int argc, char **argv)
{
	struct json_object *reply, *list;
	int rc;

	if (!(list = fetch(argc, argv, "rules", "rules [--json] [--socket PATH]", &rc, &reply))) {
		json_object_put(reply);
		return rc;
	}
	if (!json_object_array_length(list))
		printf("no rules in force\n");
	else
		printf("%-20s %-16s %-13s %7s %-20s %-11s %7s\n", "RULE", "POLICY", "STATE", "FIRED",
		       "LAST FIRED", "BUDGET LEFT", "GROUPS");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *r = json_object_array_get_idx(list, i);
		char budget[32];

		if (count(r, "actions"))
			snprintf(budget, sizeof(budget), "%llu/%llu an hour",
				 (unsigned long long)count(r, "budget_left"),
				 (unsigned long long)count(r, "budget"));
		else
			snprintf(budget, sizeof(budget), "(no actions)");
		printf("%-20s %-16s %-13s %7llu %-20.19s %-11s %7llu\n", str(r, "rule"), str(r, "policy"),
		       str(r, "state"), (unsigned long long)count(r, "fired"),
		       *str(r, "last_fired") ? str(r, "last_fired") : "never", budget,
		       (unsigned long long)count(r, "groups"));
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

/* ---- events and incidents ---- */

static void print_time(struct json_object *o)
{
	char t[32];

	/* 2026-11-22T16:31:13.123456789Z: to the millisecond, a space for the T. */
	snprintf(t, sizeof(t), "%.23s", str(o, "time"));
	if (strlen(t) > 10 && t[10] == 'T')
		t[10] = ' ';
	printf("%-23s", t);
}

/* Where a stack's first frame is: its symbol, else module+offset. */
static void print_top_frame(struct json_object *o)
{
	struct json_object *stack, *f, *v;

	if (!json_object_object_get_ex(o, "stack", &stack) || !json_object_array_length(stack))
		return;
	f = json_object_array_get_idx(stack, 0);
	if (json_object_object_get_ex(f, "symbol", &v))
		printf(" in %s", json_object_get_string(v));
	else if (json_object_object_get_ex(f, "module", &v))
		printf(" in %s+0x%llx", json_object_get_string(v), (unsigned long long)count(f, "offset"));
	else
		printf(" at %s", str(f, "ip"));
}

/* The function a function event's probe sits on. */
static const char *site_of(struct json_object *o)
{
	struct json_object *site;

	if (json_object_object_get_ex(o, "site", &site) && *str(site, "symbol"))
		return str(site, "symbol");
	return "the probed function";
}

static bool has(struct json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* What one line says, in one line of text: time, kind, process, the essentials. */
static void print_event(struct json_object *o)
{
	const char *kind = str(o, "kind");
	struct json_object *v;
	char who[64] = "-";

	if (!strcmp(kind, "dropped")) {
		printf("salvectl: %llu lines dropped here: salvectl read too slowly\n",
		       (unsigned long long)count(o, "lines"));
		return;
	}
	if (has(o, "pid") && *str(o, "comm"))
		snprintf(who, sizeof(who), "%lld/%s", (long long)count(o, "pid"), str(o, "comm"));
	else if (has(o, "pid"))
		snprintf(who, sizeof(who), "%lld", (long long)count(o, "pid"));
	print_time(o);
	printf(" %-10s %-22s", kind, who);
	if (!strcmp(kind, "signal")) {
		printf(" %s %s", str(o, "signal"), str(o, "code"));
		if (has(o, "addr"))
			printf(" addr %s", str(o, "addr"));
		print_top_frame(o);
		if (json_object_object_get_ex(o, "handled", &v) && json_object_get_boolean(v))
			printf(" (handled)");
	} else if (!strcmp(kind, "exit")) {
		if (json_object_object_get_ex(o, "exit_code", &v) && v)
			printf(" exit code %d", json_object_get_int(v));
		else
			printf(" killed by %s", str(o, "signal"));
		if (json_object_object_get_ex(o, "core_dumped", &v) && json_object_get_boolean(v))
			printf(" (core dumped)");
	} else if (!strcmp(kind, "oom")) {
		printf(" OOM kill, anon rss %llu kB", (unsigned long long)count(o, "anon_rss_kb"));
	} else if (!strcmp(kind, "exec")) {
		printf(" %s", str(o, "exe"));
	} else if (!strcmp(kind, "return")) {
		printf(" %s returned %lld", site_of(o), json_object_object_get_ex(o, "ret", &v) ?
			(long long)json_object_get_int64(v) : 0LL);
	} else if (!strcmp(kind, "latency")) {
		printf(" %s took %.3f ms", site_of(o), (double)count(o, "duration_ns") / 1e6);
	} else if (!strcmp(kind, "stall")) {
		printf(" %s not called for %.1f s", site_of(o), (double)count(o, "duration_ns") / 1e9);
	} else if (!strcmp(kind, "abort")) {
		if (has(o, "assertion"))
			printf(" assertion '%s' failed at %s:%lld in %s", str(o, "assertion"),
			       str(o, "file"), (long long)count(o, "line"), str(o, "function"));
		else
			printf(" abort()");
		print_top_frame(o);
	} else if (!strcmp(kind, "exception")) {
		printf(" throws %s", str(o, "type"));
		print_top_frame(o);
	} else if (!strcmp(kind, "syscall")) {
		printf(" %s failed with %s", str(o, "syscall"), str(o, "errno"));
	} else if (!strcmp(kind, "incident")) {
		printf(" incident %llu: rule %s (policy %s)", (unsigned long long)count(o, "id"),
		       str(o, "rule"), str(o, "policy"));
		if (*str(o, "exe") || *str(o, "binary"))
			printf(" %s", *str(o, "exe") ? str(o, "exe") : str(o, "binary"));
		if (json_object_object_get_ex(o, "dry_run", &v) && json_object_get_boolean(v))
			printf(" (dry run)");
	} else if (!strcmp(kind, "action")) {
		printf(" incident %llu: %s: %s", (unsigned long long)count(o, "incident"), str(o, "do"),
		       str(o, "outcome"));
	} else if (!strcmp(kind, "verify")) {
		printf(" incident %llu: rule %s: %s", (unsigned long long)count(o, "incident"),
		       str(o, "rule"), str(o, "outcome"));
	} else if (!strcmp(kind, "repair") || !strcmp(kind, "breaker")) {
		printf(" %s %llu %s: %s", kind, (unsigned long long)count(o, "id"),
		       *str(o, "do") ? str(o, "do") : "", str(o, "state"));
		if (*str(o, "rule"))
			printf(" (rule %s)", str(o, "rule"));
	} else if (!strcmp(kind, "checkpoint") || !strcmp(kind, "restore")) {
		printf(" %s", str(o, "id"));
		if (*str(o, "rule"))
			printf(" (rule %s)", str(o, "rule"));
	} else if (!strcmp(kind, "stats")) {
		uint64_t reported = 0, lost = 0;

		if (json_object_object_get_ex(o, "events", &v)) {
			json_object_object_foreach(v, k, c) {
				(void)k;
				reported += count(c, "reported");
				lost += count(c, "lost");
			}
		}
		printf(" events reported %llu, lost %llu", (unsigned long long)reported,
		       (unsigned long long)lost);
	} else {
		printf(" %s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	if (*str(o, "probe"))
		printf(" [probe %s]", str(o, "probe"));
	printf("\n");
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

#define EVENTS_USAGE "events [--follow|-f] [-n N] [--kind K]... [--pid PID] [--comm NAME]\n" \
		     "         [--probe ID] [--rule ID] [--json] [--socket PATH]"

/* Options to fields of the "events" request; 0, or 2 after printing usage. */
static int parse_events(int argc, char **argv, struct json_object *req, struct ask *a)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },	  { "lines", required_argument, NULL, 'n' },
		{ "kind", required_argument, NULL, 'k' }, { "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, 'c' }, { "probe", required_argument, NULL, 'P' },
		{ "rule", required_argument, NULL, 'r' }, { "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' }, { 0 },
	};
	struct json_object *kinds = json_object_new_array();
	char *end;
	long long n;
	int c;

	*a = (struct ask){ .path = CTL_SOCKET_DEFAULT };
	json_object_object_add(req, "cmd", json_object_new_string("events"));
	json_object_object_add(req, "kind", kinds);
	optind = 1;
	while ((c = getopt_long(argc, argv, "fn:j", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			json_object_object_add(req, "follow", json_object_new_boolean(1));
			break;
		case 'n':
		case 'p':
			errno = 0;
			n = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || n < (c == 'n' ? 0 : 1)) {
				fprintf(stderr, "salvectl: events: %s: expected a number%s, got '%s'\n",
					c == 'n' ? "-n" : "--pid", c == 'n' ? " of lines" : " above 0",
					optarg);
				return 2;
			}
			json_object_object_add(req, c == 'n' ? "last" : "pid", json_object_new_int64(n));
			break;
		case 'k': /* --kind signal,exit as --kind signal --kind exit */
			for (char *k = strtok(optarg, ","); k; k = strtok(NULL, ","))
				json_object_array_add(kinds, json_object_new_string(k));
			break;
		case 'c':
			json_object_object_add(req, "comm", json_object_new_string(optarg));
			break;
		case 'P':
			json_object_object_add(req, "probe", json_object_new_string(optarg));
			break;
		case 'r':
			json_object_object_add(req, "rule", json_object_new_string(optarg));
			break;
		case 'j':
			a->json = true;
			break;
		case 's':
			a->path = optarg;
			break;
		default:
			fprintf(stderr, "usage: salvectl " EVENTS_USAGE "\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "salvectl: events: what is '%s'?\nusage: salvectl " EVENTS_USAGE "\n",
			argv[optind]);
		return 2;
	}
	if (!json_object_array_length(kinds))
		json_object_object_del(req, "kind");
	return 0;
}

/* events [--follow] [-n N] [filters] [--json] [--socket PATH]: the lines salved wrote of
 * late (all it keeps, or the last N), then with --follow each new one as salved writes
 * it, until INT or TERM (exit 0) or salved closes the stream (exit 1). Filters are
 * applied by salved. */
static int do_events(int argc, char **argv)
{
	struct json_object *req = json_object_new_object(), *reply = NULL, *v;
	struct sigaction sa = { .sa_handler = on_interrupt }; /* no SA_RESTART: reads end */
	struct ctl_lines *lines = NULL;
	bool follow = false;
	const char *line;
	char err[1024];
	struct ask a;
	int rc = 1;

	if (!req || (rc = parse_events(argc, argv, req, &a)))
		goto out;
	rc = 1;
	follow = json_object_object_get_ex(req, "follow", NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (ctl_stream_open(a.path, req, &reply, &lines, err, sizeof(err))) {
		fprintf(stderr, "salvectl: %s\n", err);
		goto out;
	}
	if (!json_object_object_get_ex(reply, "ok", &v) || !json_object_get_boolean(v)) {
		if (a.json)
			printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
		else
			fprintf(stderr, "salvectl: events: %s\n", str(reply, "error"));
		goto out;
	}
	while (!interrupted && !(rc = ctl_lines_next(lines, &line))) {
		struct json_object *o;

		if (a.json) {
			printf("%s\n", line);
		} else if ((o = json_tokener_parse(line))) {
			print_event(o);
			json_object_put(o);
		}
		fflush(stdout);
	}
	if (interrupted || (rc == -EINTR && interrupted)) {
		rc = 0;
	} else if (rc == -ENODATA) {
		rc = follow ? 1 : 0;
		if (follow)
			fprintf(stderr, "salvectl: salved closed the stream (it stopped)\n");
	} else {
		fprintf(stderr, "salvectl: %s: %s\n", a.path, strerror(-rc));
		rc = 1;
	}
out:
	ctl_lines_free(lines);
	json_object_put(reply);
	json_object_put(req);
	return rc;
}

/* "do:outcome,..." of an incident's actions; a running or queued one by its state. */
static void actions_text(struct json_object *inc, char *buf, size_t size)
{
	struct json_object *list;
	size_t at = 0;

	buf[0] = 0;
	if (!json_object_object_get_ex(inc, "actions", &list))
		return;
	for (size_t i = 0; i < json_object_array_length(list) && at < size; i++) {
		struct json_object *act = json_object_array_get_idx(list, i);
		int n = snprintf(buf + at, size - at, "%s%s:%s", i ? "," : "", str(act, "do"),
				 *str(act, "outcome") ? str(act, "outcome") : str(act, "state"));

		at += n > 0 ? (size_t)n : 0;
	}
}

/* incidents [--json] [--socket PATH]: the last incidents, oldest first, with their
 * actions' outcomes and their verdict. */
static int do_incidents(int argc, char **argv)
{
	struct json_object *reply, *list, *v;
	char actions[1024];
	struct ask a;
	int rc = parse_ask(argc, argv, false, "incidents [--json] [--socket PATH]", &a);

	if (rc)
		return rc;
	if (optind < argc) {
		fprintf(stderr, "usage: salvectl incidents [--json] [--socket PATH]\n");
		return 2;
	}
	if ((rc = ask(&a, "incidents", "no incidents", &reply)) || a.json) {
		json_object_put(reply);
		return rc;
	}
	json_object_object_get_ex(reply, "incidents", &list);
	if (!json_object_array_length(list))
		printf("no incidents\n");
	else
		printf("%-6s %-23s %-20s %-8s %-15s %-9s %s\n", "ID", "TIME", "RULE", "PID", "COMM",
		       "VERIFY", "ACTIONS");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *inc = json_object_array_get_idx(list, i);
		char t[32];

		snprintf(t, sizeof(t), "%.23s", str(inc, "time"));
		if (strlen(t) > 10 && t[10] == 'T')
			t[10] = ' ';
		actions_text(inc, actions, sizeof(actions));
		printf("%-6llu %-23s %-20s %-8llu %-15s %-9s %s%s\n", (unsigned long long)count(inc, "id"),
		       t, str(inc, "rule"), (unsigned long long)count(inc, "pid"),
		       *str(inc, "comm") ? str(inc, "comm") : "-",
		       json_object_object_get_ex(inc, "verify", &v) && v ? json_object_get_string(v) : "-",
		       *actions ? actions : "-",
		       json_object_object_get_ex(inc, "dry_run", &v) && json_object_get_boolean(v)
			       ? " (dry run)" : "");
	}
	json_object_put(reply);
	return 0;
}

/* The daemon's own loader, offline: what passes here loads in salved, with the same
 * messages. One line per file on success; every error on stderr, one line each. */
static int do_validate(int argc, char **argv)
{
	bool json = false;
	int status = 0, first = 1;

	if (argc > 1 && (!strcmp(argv[1], "--json") || !strcmp(argv[1], "-j"))) {
		json = true;
		first = 2;
	}
	if (argc <= first) {
		fprintf(stderr, "usage: salvectl validate [--json] FILE|DIR...\n");
		return 2;
	}
	for (int i = first; i < argc; i++) {
		struct json_object *o = json ? json_object_new_object() : NULL, *list = NULL;
		struct policy_set *set = NULL;
		struct policy_errors errs;
		int rc = policy_set_load_errors(argv[i], &set, &errs);

		if (o) { /* one line per argument: its policies, or every error */
			json_object_object_add(o, "path", json_object_new_string(argv[i]));
			json_object_object_add(o, "ok", json_object_new_boolean(!rc));
			json_object_object_add(o, rc ? "errors" : "policies",
					       list = json_object_new_array());
			if (rc && errs.stopped)
				json_object_object_add(o, "stopped", json_object_new_boolean(true));
		}
		/* every error of every file, one line each */
		for (size_t j = 0; rc && j < errs.n; j++) {
			if (list)
				json_object_array_add(list, json_object_new_string(errs.msgs[j]));
			else
				fprintf(stderr, "%s\n", errs.msgs[j]);
		}
		if (rc && errs.stopped && !json)
			fprintf(stderr, "%s: stopped after %d errors\n", argv[i], POLICY_ERRORS_MAX);
		for (size_t j = 0; !rc && j < set->n_policies; j++) {
			const struct policy *p = &set->policies[j];

			if (list)
				json_object_array_add(list, policy_describe(p));
			else
				printf("%s: ok (%zu %s, %zu %s)\n", p->file, p->n_probes,
				       plural(p->n_probes, "probe", "probes"), p->n_rules,
				       plural(p->n_rules, "rule", "rules"));
		}
		if (o)
			printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		if (rc) {
			policy_errors_clear(&errs);
			status = 1;
		} else {
			policy_set_free(set);
		}
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
	{ "events", do_events,
	  "[--follow|-f] [-n N] [--kind K]... [--pid PID] [--comm NAME] [--probe ID]\n"
	  "             [--rule ID] [--json] [--socket PATH]: the lines salved wrote of late\n"
	  "             (the last 1000 at most; -n N: the last N), one readable line each, or\n"
	  "             as salved wrote them with --json; --follow: then each new one until\n"
	  "             Ctrl-C (exit 0; 1 when salved stops). Filters, applied by salved: every\n"
	  "             one given must match; --kind may repeat, or list kinds: signal,exit" },
	{ "extract", do_extract,
	  "ID FILE [--socket PATH]: write checkpoint ID's core to FILE for gdb" },
	{ "features", do_features,
	  "[--json] [--socket PATH]: what this kernel gives salved (BTF, ring buffer, tp_btf,\n"
	  "             uprobe sessions, nop5 fast path, register writes, cgroup connect, CRIU)\n"
	  "             and which mechanism it uses for each" },
	{ "incidents", do_incidents,
	  "[--json] [--socket PATH]: the last 100 incidents (a rule fired): rule, process,\n"
	  "             each action's outcome, and the verify window's verdict" },
	{ "metrics", do_metrics,
	  "[--json] [--socket PATH]: salved's metrics in the Prometheus text format (the\n"
	  "             same page as --metrics-textfile and --metrics-listen serve)" },
	{ "policies", do_policies,
	  "[--json] [--socket PATH]: the policies in force, their files, probes, rules, scope" },
	{ "probes", do_probes,
	  "[--json] [--socket PATH]: every probe in force: where it sits, the kernel mechanism,\n"
	  "             fast path or not (and the build flag that gives it), hits, events, held" },
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
	{ "rules", do_rules,
	  "[--json] [--socket PATH]: the rules in force: state, times fired, last fired,\n"
	  "             the budget of actions the last hour left" },
	{ "stats", do_stats,
	  "[--json] [--socket PATH]: salved reads what its ring holds, then prints its\n"
	  "             counters per kind of event (the same as its stats line)" },
	{ "status", do_status,
	  "[--json] [--socket PATH]: what salved runs: policies, events, incidents, repairs,\n"
	  "             the last reload and where its state, socket and events go" },
	{ "top", salvectl_top,
	  "[-d SECONDS] [-n COUNT] [--json] [--socket PATH]: a live view of the probe sites,\n"
	  "             busiest first, with each latency site's calls drawn as a histogram;\n"
	  "             every SECONDS (1), COUNT times or until Ctrl-C" },
	{ "validate", do_validate,
	  "[--json] FILE|DIR...: check policy files offline, as salved loads them (no root needed);\n"
	  "             a directory is one set (its *.json, ids unique across them); exit 0 if all\n"
	  "             are valid, else 1" },
	{ "version", do_version, "[--json]: print salvectl's version" },
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
		return do_version(1, argv);
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
