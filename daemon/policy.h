/* policy: parse and validate salve policy files (JSON) into an immutable policy set.
 *
 * A policy file looks like
 *   {"salve": 1, "name": "default",
 *    "scope": {"binaries": [], "cgroups": [], "comms": []},
 *    "probes": [{"id": "crashes", "kind": "signal"},
 *               {"id": "exits", "kind": "exit", "nonzero": true},
 *               {"id": "oom", "kind": "oom"}]}
 * An empty scope means every process. Errors name the file and the JSON path of the
 * offending value: "policies/web.json: probes[1].kind: unknown probe kind "exitt"
 * (did you mean "exit"?)". */
#ifndef SALVE_POLICY_H
#define SALVE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#define POLICY_FORMAT_VERSION 1

enum policy_probe_kind {
	POLICY_PROBE_SIGNAL,
	POLICY_PROBE_EXIT,
	POLICY_PROBE_OOM,
	POLICY_PROBE_EXEC,
	POLICY_PROBE_KIND_COUNT,
};

struct policy;

struct policy_probe {
	char *id;                    /* unique across the whole set */
	enum policy_probe_kind kind;
	bool nonzero;                /* exit: only non-zero statuses and deaths by signal */
	unsigned signals_mask;       /* signal: 1u << signo for each signal reported */
	bool handled;                /* signal: also signals the process catches */
	const struct policy *policy; /* the policy that declares it */
};

struct policy_scope {
	char **binaries; /* absolute paths */
	size_t n_binaries;
	char **cgroups;  /* cgroup v2 paths relative to the cgroup2 mount, "/system.slice/x.service" */
	size_t n_cgroups;
	char **comms;    /* at most 15 bytes each */
	size_t n_comms;
};

struct policy {
	char *file; /* as given to policy_set_load, or file within the directory */
	char *name;
	struct policy_scope scope;
	struct policy_probe *probes;
	size_t n_probes;
};

struct policy_set {
	struct policy *policies; /* files of a directory in lexical order */
	size_t n_policies;
};

/* Load a policy file, or every *.json of a directory in lexical order. On error returns
 * a negative errno, *out untouched, and a message for a person in err (file, JSON path,
 * what is wrong). */
int policy_set_load(const char *path, struct policy_set **out, char *err, size_t err_len);

/* Parse one policy from a buffer; file names it in messages. Exposed for tests and
 * for salvectl validate. */
int policy_parse(const char *file, const char *json, size_t len, struct policy *out,
		 char *err, size_t err_len);

void policy_set_free(struct policy_set *set);
void policy_clear(struct policy *p);

const char *policy_probe_kind_name(enum policy_probe_kind kind);

#endif
