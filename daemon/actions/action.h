/* action: what the dispatcher (actions.c) and each action (one file each) share.
 *
 * An action describes itself (its parameters, with whatever an undo needs: that goes
 * to the journal before it runs and is the outcome of a dry run), then runs: at once,
 * or later through the loop, never blocking it. */
#ifndef SALVE_ACTION_H
#define SALVE_ACTION_H

#include <json-c/json.h>
#include <stdint.h>

#include "base/loop.h"
#include "policy/policy.h"

/* The incident as an action sees it: the dispatcher's copies, valid for the whole run. */
struct action_target {
	uint64_t incident_id;
	const char *rule;
	const char *policy;
	uint32_t pid;              /* by process: the process; else the last event's */
	int pidfd;                 /* of pid, opened at dispatch when an action needs it; -1 */
	int pidfd_err;             /* when pidfd is -1: -errno of pidfd_open, or -ESTALE
				    * when the process started after the events */
	uint64_t exe_dev, exe_ino; /* the executable of the events (kernel dev_t) */
	const char *exe;           /* its path; "" when unknown */
	const char *probe;         /* the first condition leaf's probe; "" when none */
	uint64_t events;           /* counted over every leaf */
	const char *incident_json; /* the incident line as it stands (earlier outcomes in) */
	bool by_binary;            /* the policy is scoped by binary alone (new processes of
				    * the binary are in scope) */
	const char *const *probes; /* the probes of the rule's condition, as counted */
	size_t n_probes;
	uint32_t budget;           /* the rule's, actions an hour */
};

struct action_run;
struct repairs;
struct checkpoints;
typedef void action_finish_fn(struct action_run *run);

struct action_run {
	const struct policy_action *action;
	const struct action_target *target;
	struct loop *loop;
	struct json_object *outcome; /* the description; the action adds "outcome" and more */
	action_finish_fn *finish;    /* a pending action calls it once, from a loop handler,
				      * after it let go of every resource: run may be reused */
	void *priv;                  /* the action's own state while pending */
	struct repairs *repairs;     /* the repairs in effect, for the repair actions; may be
				      * NULL (they then refuse) */
	struct checkpoints *checkpoints; /* where checkpoints go; NULL: they are refused */
};

#define ACTION_PENDING 1

struct action_ops {
	const char *name; /* its "do" */
	/* Add the parameters to obj, which has "do". 0 or -ENOMEM. */
	int (*describe)(const struct policy_action *action, const struct action_target *t,
			struct json_object *obj);
	/* 0 when done, the outcome set; ACTION_PENDING when run->finish will say. */
	int (*start)(struct action_run *run);
	/* Stop a pending run at once (salved is stopping): kill, reap, set the outcome
	 * ("interrupted", with what it measured so far). finish is not called. NULL for
	 * actions that never pend. */
	void (*cancel)(struct action_run *run);
};

extern const struct action_ops action_log_ops;
extern const struct action_ops action_signal_ops;
extern const struct action_ops action_exec_ops;
extern const struct action_ops action_override_ops;
extern const struct action_ops action_redirect_ops;
extern const struct action_ops action_rescue_ops;
extern const struct action_ops action_breaker_ops;
extern const struct action_ops action_checkpoint_ops;
extern const struct action_ops action_restore_ops;

/* Set "outcome" of obj to the formatted text. 0 or -ENOMEM. */
__attribute__((format(printf, 2, 3))) int action_outcome(struct json_object *obj,
							 const char *fmt, ...);

#endif
