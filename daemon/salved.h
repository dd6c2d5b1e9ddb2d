/* salved: the daemon's state, shared by its three files: main.c (the stages wired in
 * one loop), options.c (the command line) and control.c (what salvectl and the metrics
 * are answered). */
#ifndef SALVE_SALVED_H
#define SALVE_SALVED_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "base/loop.h"
#include "kernel/scope.h"
#include "kernel/sites.h"
#include "policy/policy.h"

struct options {
	const char *policy;
	const char *log;
	const char *state_dir;
	const char *pin_dir;
	const char *socket;
	gid_t socket_group; /* CTL_NO_GROUP: root only */
	bool dry_run;
	bool classic;
	bool no_sessions;
	bool no_regwrite;
	bool verbose;
	unsigned rate;
	unsigned burst;
	unsigned stats_every; /* seconds; 0: only at exit */
	unsigned max_groups;  /* per rule: processes (or binaries) tracked at once */
	uint64_t checkpoint_quota; /* bytes, all checkpoints under the state directory */
	const char *criu;	   /* the criu binary checkpoints may use */
	const char *metrics_textfile; /* the metrics page, rewritten every metrics_every s */
	unsigned metrics_every;
	const char *metrics_listen;   /* ADDRESS:PORT of the metrics listener */
	bool watch_policy;	   /* reload when the policy's files change */
};

/* What salved runs: a policy set, the kernel scope and the sites it makes, and the
 * kernel generations whose records it decided. */
struct config {
	struct policy_set *set;
	struct scope_plan plan;
	struct site_plan sites;
	uint32_t first_gen, last_gen;
};

struct daemon {
	struct options opt;
	struct loop *loop;
	struct probes *probes;
	struct pipeline *pipeline;
	struct config cur;  /* in force */
	struct config prev; /* the one before the last reload: its records may still come */
	struct scope_watch *scope_watch;
	bool scope_dirty; /* a name the scope depends on changed: plan again on the tick */
	struct stall *stall;
	struct baseline *baseline;
	struct engine *engine;
	struct journal *journal;
	struct actions *actions;
	struct repairs *repairs;
	struct checkpoints *checkpoints;
	char criu_status[512]; /* criu's version, or why salved uses none */
	bool criu_ok;
	struct entry *entry;
	struct override *override; /* register-writing uprobes, where the kernel allows them */
	struct netbreak *netbreak; /* breakers around endpoints, where the kernel has them */
	char no_override[256];     /* why not, when override is NULL */
	struct ctl *ctl;
	struct feed *feed;	     /* the lines written, for salvectl events */
	struct incidents *incidents; /* the last incidents, for salvectl incidents */
	struct tally *fired; /* incidents, by (rule, policy): the metrics' */
	struct http *http;   /* --metrics-listen */
	bool textfile_failing; /* the last write of --metrics-textfile failed (said once) */
	struct policy_watch *policy_watch; /* --watch-policy */
	FILE *out;
	struct output *output; /* out's lines, the pipeline's and ours, in batches */
	unsigned ticks;
	struct notify *notify; /* what systemd is told */
	uint64_t started_ns; /* CLOCK_REALTIME, for salvectl status */
	struct {
		uint64_t at_ns; /* CLOCK_REALTIME; 0: none since the start */
		bool ok;
		char error[1024];
	} last_reload;
	bool stopping; /* INT or TERM came: the actions are given their last seconds */
	bool out_gone; /* the event output's reader went away: stopping */
	/* ring.c: the last wake-up by the kernel, and whether the ring is read on a timer. */
	uint64_t ring_woken_ns;
	bool ring_paced;
	struct loop_timer ring_pace;
};

/* options.c: parse argv into *o; -1 to go on, else the exit status (help, version and
 * misuse print what they print). */
int options_parse(int argc, char **argv, struct options *o);

/* main.c */
/* Load the policies again, all or nothing (check: only say into *change what would
 * change); 0, or -errno and err saying why. _notified tells systemd around it. */
int daemon_reload(struct daemon *d, bool check, struct json_object *change, char *err,
		  size_t err_len);
int daemon_reload_notified(struct daemon *d, char *err, size_t err_len);
/* The event output's reader went away (err -EPIPE, or seen before): say so once and
 * stop the loop; -EPIPE then, else 0. */
int daemon_output_gone(struct daemon *d, int err);
/* Write a stats line (and, with copy, a copy of it). */
int daemon_write_stats(struct daemon *d, struct json_object **copy);

/* ring.c */
/* Read the ring as the loop turns (batches, paced under a storm). 0 or -errno. */
int daemon_ring_start(struct daemon *d);
/* Read every record the ring holds, each line written and met by its rules. */
void daemon_drain_ring(struct daemon *d);

/* control.c */
/* The control socket's handler (ctl_handler): salvectl's requests. */
void control_request(void *ctx, const char *cmd, struct json_object *req,
		     struct json_object *reply);
/* The metrics' ways out that are asked for (--metrics-listen, --metrics-textfile), at
 * start; and the text file written again. 0, or -errno, logged. */
int control_metrics_start(struct daemon *d);
int control_write_textfile(struct daemon *d);

#endif
