/* policy: parse and validate salve policy files (JSON) into an immutable policy set.
 *
 * A policy file looks like
 *   {"salve": 1, "name": "default",
 *    "scope": {"binaries": [], "cgroups": [], "comms": []},
 *    "probes": [{"id": "crashes", "kind": "signal"},
 *               {"id": "exits", "kind": "exit", "nonzero": true},
 *               {"id": "oom", "kind": "oom"},
 *               {"id": "parse-errors", "kind": "return", "binary": "/srv/app/bin/app",
 *                "symbol": "parse", "type": "int", "when": "< 0"}],
 *    "rules": [{"id": "parse-failing", "when": {"probe": "parse-errors", "count": 3, "within": "1s"},
 *               "actions": [{"do": "exec", "command": ["/usr/bin/logger", "parse failing"]}]}]}
 * An empty scope means every process. policies/README.md documents every field, and
 * policies/salve-policy.schema.json is the format's JSON Schema. Errors name the file and the JSON path of the
 * offending value: "policies/web.json: probes[1].kind: unknown probe kind "exitt"
 * (did you mean "exit"?)". */
#ifndef SALVE_POLICY_H
#define SALVE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#include "policy/endpoint.h"

#define POLICY_FORMAT_VERSION 1

/* The bounds of the language's durations, sizes and counts, checked when a policy is
 * parsed (policies/README.md, "Bounds"): a value past one is refused, never clamped. */
#define POLICY_BUDGET_MAX 65536u /* "budget": actions per hour, one remembered each */
#define POLICY_SPAN_MAX_NS (24 * 3600 * 1000000000ull) /* windows, cooldown, verify, every */
#define POLICY_LATENCY_MAX_NS (3600 * 1000000000ull) /* threshold, percentile value */
#define POLICY_LEARN_MAX_NS (3600 * 1000000000ull) /* a probe's baseline "window" */
#define POLICY_RATE_MAX 4294967295.0 /* a rule's "rate", events per second */

enum policy_probe_kind {
	POLICY_PROBE_SIGNAL,
	POLICY_PROBE_EXIT,
	POLICY_PROBE_OOM,
	POLICY_PROBE_EXEC,
	POLICY_PROBE_RETURN,    /* a function returned a value matching a predicate */
	POLICY_PROBE_LATENCY,   /* a call took longer than a threshold or a learned baseline */
	POLICY_PROBE_STALL,     /* a function was not called for longer than its period */
	POLICY_PROBE_EXCEPTION, /* C++ throw (__cxa_throw) */
	POLICY_PROBE_ABORT,     /* abort() and failed assert() */
	POLICY_PROBE_SYSCALL,   /* chosen syscalls failing with chosen errnos */
	POLICY_PROBE_KIND_COUNT,
};

/* Width and signedness of a return value; the zero value is the default. */
enum policy_value_type {
	POLICY_VALUE_INT,     /* 32-bit signed */
	POLICY_VALUE_LONG,    /* 64-bit signed */
	POLICY_VALUE_POINTER, /* 64-bit unsigned; compared with == and != only */
	POLICY_VALUE_BOOL,    /* 0 or 1; compared with == and != only */
};

#define POLICY_PRED_VALUES 16

/* "when" of a return probe: "< 0", "== 0", "in [1, 2]". Every value fits the probe's type;
 * a pointer's is its bit pattern. */
struct policy_predicate {
	enum policy_pred_op { PRED_LT, PRED_LE, PRED_GT, PRED_GE, PRED_EQ, PRED_NE, PRED_IN } op;
	int64_t values[POLICY_PRED_VALUES];
	size_t n_values; /* 1 except for PRED_IN: 1 to POLICY_PRED_VALUES */
};

/* A latency threshold learned from the site's own histogram: percentile of the last
 * window, times factor. */
struct policy_baseline {
	double percentile;  /* 50 to 99.9; default 99 */
	double factor;      /* > 1; default 2 */
	uint64_t window_ns; /* default one minute */
};

/* Per-site token bucket in the kernel; what it holds back is counted, not lost. */
struct policy_rate {
	uint32_t per_second; /* default 100 */
	uint32_t burst;      /* default 200 */
};

/* "stack_bytes": how much of the user stack, from the stack pointer up, a CFI snapshot
 * copies for salved to unwind. */
#define POLICY_STACK_BYTES_DEFAULT 16384
#define POLICY_STACK_BYTES_MIN 1024
#define POLICY_STACK_BYTES_MAX 49152

struct policy;

struct policy_probe {
	char *id;                    /* unique across the whole set */
	enum policy_probe_kind kind;
	bool nonzero;                /* exit: only non-zero statuses and deaths by signal */
	unsigned signals_mask;       /* signal: 1u << signo for each signal reported */
	bool handled;                /* signal: also signals the process catches */
	enum policy_faults {         /* signal: which kernel-raised faults (si_code > 0) */
		POLICY_FAULTS_ALL,   /*   every one, caught by the program or not (default) */
		POLICY_FAULTS_FATAL, /*   only those that kill it */
	} faults;

	/* return, latency, stall: the function; exception, abort: the library (a default) */
	char *binary;                /* absolute path, or a soname resolved as the loader would */
	char *symbol;                /* as written: "name", "name@VER" or "name@@VER"; NULL by offset */
	uint64_t offset;             /* file offset of the function, when has_offset */
	bool has_offset;
	enum policy_value_type type;     /* return */
	struct policy_predicate when;    /* return */
	uint64_t threshold_ns;           /* latency: fixed; 0 when the baseline decides */
	struct policy_baseline baseline; /* latency: all zero when threshold_ns is set */
	uint64_t every_ns;               /* stall: the longest expected gap between calls */
	char **types;                    /* exception: C++ type names; none: every type */
	size_t n_types;
	int *syscalls;                   /* syscall: x86-64 syscall numbers */
	size_t n_syscalls;
	int *errnos;                     /* syscall: positive errno values */
	size_t n_errnos;
	bool stack;                      /* the kinds above and signal: capture the user stack */
	bool stack_cfi;                  /* the stack is a snapshot unwound by CFI (else the
					  * frame-pointer walk); always for signal */
	uint32_t stack_bytes;            /* stack_cfi: bytes of user stack the snapshot copies */
	struct policy_rate rate;         /* the kinds above; zero for the others */
	const struct policy *policy; /* the policy that declares it */
};

/* Which processes a policy covers: within a list any entry matches; every non-empty
 * list must match (cgroups and units count as one list: both name cgroups); and no
 * entry of "exclude" may. No entries (exclusions aside) cover every process. */
struct policy_scope {
	char **binaries;  /* absolute paths */
	char **build_ids; /* per binary: lowercase hex the file must have, or NULL */
	size_t n_binaries;
	char **cgroups;   /* cgroup v2 paths relative to the cgroup2 mount, "/system.slice/x.service" */
	size_t n_cgroups;
	char **units;     /* systemd unit names, "app.service"; their cgroups */
	size_t n_units;
	char **comms;     /* at most 15 bytes each */
	size_t n_comms;
	uint32_t *uids;   /* real uids */
	size_t n_uids;
	/* "exclude": processes that match any of these are out of scope, whatever the above
	 * say. The same fields; never nested further. */
	struct policy_scope *exclude;
};

/* ---- rules: when a run of events is a fault, and what to do about it --------------------- */

/* What a rule counts separately: each process, each binary (by file identity), or the
 * whole host. */
enum policy_group_by { POLICY_BY_PROCESS, POLICY_BY_BINARY, POLICY_BY_HOST };

/* Field filters on the events of a condition's probe; an event must pass every filter
 * given. Zero/empty: no filter. */
struct policy_filter {
	unsigned signals_mask;         /* "signal": 1u << signo of the accepted signals */
	int *errnos;                   /* "errno": positive errno values */
	size_t n_errnos;
	bool has_ret;                  /* "ret": a predicate on the return value, as "when" */
	struct policy_predicate ret;
	char *ret_text;                /* "ret" as written: parsed with the probe's value type
					* once the probe is resolved */
	char **types;                  /* "type": C++ exception type names */
	size_t n_types;
	char *stack_has;               /* "stack_has": a function name in the event's stack */
};

enum policy_cond_kind {
	POLICY_COND_COUNT,      /* at least count events within the window */
	POLICY_COND_RATE,       /* more than rate events per second, averaged over the window */
	POLICY_COND_PERCENTILE, /* a latency percentile over the window above a value or baseline */
	POLICY_COND_ALL,        /* every child holds */
	POLICY_COND_ANY,        /* one child holds */
};

/* "when" of a rule: a tree whose leaves each watch one probe. */
struct policy_cond {
	enum policy_cond_kind kind;
	/* leaves */
	char *probe_id;
	const struct policy_probe *probe; /* resolved by policy_set_load; NULL before */
	struct policy_filter filter;
	uint64_t within_ns;               /* the sliding window */
	uint32_t count;                   /* COUNT */
	double rate;                      /* RATE: events per second */
	double percentile;                /* PERCENTILE: "p99" gives 99, "p999" 99.9 */
	uint64_t above_ns;                /* PERCENTILE: a fixed value, or 0 with a baseline */
	double baseline_factor;           /* PERCENTILE: above the same percentile over */
	uint64_t baseline_ns;             /*   the last baseline_ns, times this factor */
	/* ALL, ANY */
	struct policy_cond *children;
	size_t n_children;
};

enum policy_action_kind {
	POLICY_ACTION_LOG,    /* write the incident to salved's log at a level */
	POLICY_ACTION_SIGNAL, /* send a named signal to the process */
	POLICY_ACTION_EXEC,   /* run a command with the incident on stdin */
	POLICY_ACTION_OVERRIDE, /* a function returns a value without running its body */
	POLICY_ACTION_REDIRECT, /* calls to a function go to another one */
	POLICY_ACTION_RESCUE,   /* a fault returns an error from the innermost rescue point */
	POLICY_ACTION_BREAKER,  /* a circuit breaker around a function or a network endpoint */
	POLICY_ACTION_CHECKPOINT, /* the process saved: salve's core, or CRIU's images */
	POLICY_ACTION_RESTORE,  /* the process brought back to a checkpoint */
	POLICY_ACTION_KIND_COUNT,
};

/* An override's "when" tests one of the first six integer or pointer arguments, in the
 * registers the x86-64 calling convention passes them in: rdi, rsi, rdx, rcx, r8, r9. */
#define POLICY_OVERRIDE_ARGS 6

/* A breaker's half-open state lets at most this many calls through. */
#define POLICY_HALF_OPEN_CALLS_MAX 10000u

/* How a checkpoint is taken: CRIU where salved found a working one, else salve's core;
 * salve's core (a snapshot in an ELF core, rolled back in place); CRIU's dump. */
enum policy_backend {
	POLICY_BACKEND_AUTO,
	POLICY_BACKEND_CORE,
	POLICY_BACKEND_CRIU,
};

/* A checkpoint action keeps at most this many of its rule's checkpoints. */
#define POLICY_KEEP_MAX 1000u

/* A rescue names at most this many rescue points. */
#define POLICY_RESCUE_POINTS 16

struct policy_action {
	enum policy_action_kind kind;
	char *message;            /* log: a line to write with the incident; may be NULL */
	int signo;                /* signal */
	char **argv;              /* exec: "command", argv[0] an absolute path; NULL-terminated */
	size_t argc;
	uint64_t timeout_ns;      /* exec: killed after; default 10 s */
	uint64_t output_max;      /* exec: bytes of its stdout and stderr kept; default 4 KiB */
	/* override, redirect: a hot patch of the function's entry */
	char *binary;             /* absolute path of the executable or library holding it */
	char *symbol;             /* the function: "name", "name@VER" or "name@@VER" */
	int64_t ret;              /* override: the value returned: an integer, "-ENAME" as
				   * -errno, null as 0 (NULL) */
	bool has_when;            /* override: only on calls whose argument when_arg passes */
	unsigned when_arg;        /*   0 to POLICY_OVERRIDE_ARGS - 1 */
	struct policy_predicate when_pred; /* on the argument register, read as a long */
	char *to;                 /* redirect: the function the calls go to */
	char *library;            /* redirect: absolute path of a fix library salve loads into
				   * the process, holding "to"; NULL: "to" is in binary or in a
				   * library the process has mapped */
	char *build_id;           /* redirect: the library's GNU build id, lowercase hex; set
				   * exactly when library is */
	char **at;                /* rescue: the rescue points, functions of binary (NULL:
				   * the incident's executable); NULL-terminated */
	size_t n_at;              /*   1 to POLICY_RESCUE_POINTS */
	uint64_t window_ns;       /* rescue: a second fault of a thread within it is delivered;
				   * default 1 s */
	/* breaker: around the function binary/symbol (returning ret while open), or around
	 * connect() to endpoint from the incident's cgroup (ECONNREFUSED while open) */
	bool has_endpoint;
	struct endpoint endpoint;
	uint64_t open_for_ns;        /* open this long, then half-open; default 10 s */
	uint64_t max_open_for_ns;    /* doubled at each reopening up to this; default 5 min */
	uint32_t half_open_calls;    /* half-open lets exactly this many through; default 1 */
	uint64_t half_open_watch_ns; /* and watches them this long after the last; default 1 s */
	enum policy_backend backend; /* checkpoint: default auto */
	uint32_t keep;            /* checkpoint: the rule's last this many kept; default 3 */
	char *from;               /* restore: a checkpoint's id; NULL: the newest of the
				   * incident's process ("last") */
};

struct policy_rule {
	char *id;                 /* unique across the whole set (rules and probes apart) */
	enum policy_group_by by;  /* default process */
	struct policy_cond when;
	uint64_t cooldown_ns;     /* after firing, the group does not fire again for this long */
	uint32_t budget;          /* actions dispatched per hour per rule, at most; default 10 */
	bool dry_run;             /* record what would be done, do nothing (or the policy's) */
	uint64_t verify_ns;       /* after the actions, the window in which the fault must stop */
	struct policy_action *actions;
	size_t n_actions;
	const struct policy *policy;
};

struct policy {
	char *file; /* as given to policy_set_load, or file within the directory */
	char *name;
	bool dry_run; /* every rule of this policy only records what it would do */
	struct policy_scope scope;
	struct policy_probe *probes;
	size_t n_probes;
	struct policy_rule *rules;
	size_t n_rules;
};

struct policy_set {
	struct policy *policies; /* files of a directory in lexical order */
	size_t n_policies;
};

/* Load a policy file, or every *.json of a directory in lexical order. On error returns
 * a negative errno, *out untouched, and a message for a person in err (file, JSON path,
 * what is wrong): the first error of the set. */
int policy_set_load(const char *path, struct policy_set **out, char *err, size_t err_len);

/* Whether a directory's entry of that name is one policy_set_load reads: *.json, but
 * for hidden files (editors keep their locks and backups there) and *.schema.json. */
bool policy_dir_entry(const char *name);

/* Every error a load finds, not only the first: each file is checked to its end (a
 * syntax error ends that file's), every field of an object and every element of a list,
 * and the checks across files once every file parsed. Each message names its file, JSON
 * path and what is wrong, as err does. At most POLICY_ERRORS_MAX are kept; past them the
 * load stops, and `stopped` says so. */
#define POLICY_ERRORS_MAX 100
#define POLICY_ERROR_LEN 2048 /* bytes of one message, at most */
struct policy_errors {
	char **msgs;
	size_t n;
	bool stopped; /* POLICY_ERRORS_MAX reached: there may be more */
};

/* policy_set_load, with every error in *errs (cleared first; the caller clears it after
 * with policy_errors_clear). */
int policy_set_load_errors(const char *path, struct policy_set **out, struct policy_errors *errs);
void policy_errors_clear(struct policy_errors *errs);
/* One line for a refusal: the only error, or "N errors in the policies, the first: ...". */
void policy_errors_summary(const struct policy_errors *errs, char *buf, size_t len);

/* Parse one policy from a buffer; file names it in messages. Exposed for tests and
 * for salvectl validate. */
int policy_parse(const char *file, const char *json, size_t len, struct policy *out,
		 char *err, size_t err_len);

void policy_set_free(struct policy_set *set);

/* Whether sc names binaries and nothing else (no cgroup, unit, comm, uid, exclude):
 * then every process of those binaries is in scope, those started later too. */
bool policy_scope_binaries_only(const struct policy_scope *sc);
void policy_clear(struct policy *p);

const char *policy_probe_kind_name(enum policy_probe_kind kind);

/* p as salvectl policies shows it: "name", "file", "dry_run", "scope" (its non-empty
 * lists: "binaries", "cgroups", "units", "comms", "uids", "exclude"), and the ids of its
 * "probes" and "rules". A new object, or NULL out of memory. */
struct json_object *policy_describe(const struct policy *p);
const char *policy_backend_name(enum policy_backend b);

/* Names of x86-64 syscall numbers, of errno values and of signals; NULL when unknown. */
const char *policy_syscall_name(int nr);
const char *policy_errno_name(int err);
const char *policy_signal_name(int signo);

/* The value parsers of the format, for tests and later fields. Durations: a decimal number
 * and one of h, m, s, ms, us ("250ms", "1.5s"); -EINVAL when it is not one, -ERANGE past
 * 64 bits of nanoseconds, -EDOM for a fraction of a nanosecond. Sizes: an integer and
 * optionally B, KiB, MiB, GiB or TiB ("64MiB", "4096"); -EINVAL when it is not one,
 * -ERANGE past 64 bits of bytes. */
int policy_duration_ns(const char *s, size_t len, uint64_t *ns);
int policy_size_bytes(const char *s, size_t len, uint64_t *bytes);

#endif
