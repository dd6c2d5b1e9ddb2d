/* probes: the BPF side of salved. Opens every probe family's skeleton, picks the best
 * tracepoint flavour each hook's kernel offers, loads, shares one ring buffer and one
 * set of filter maps across families, attaches, and pins under a bpffs directory so
 * bpftool can inspect it. probes_free detaches and unpins everything. */
#ifndef SALVE_PROBES_H
#define SALVE_PROBES_H

#include <bpf/libbpf.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "salve/event.h"
#include "salve/site.h"

struct probes;

struct probes_cfg {
	const char *pin_dir;       /* e.g. /sys/fs/bpf/salve; NULL: do not pin */
	bool classic_only;         /* use classic tracepoints even where BTF ones load */
	bool no_sessions;          /* time latency sites with a uprobe and a uretprobe even
				    * where uprobe session programs load */
	ring_buffer_sample_fn on_record;
	void *ctx;
};

/* What one hook runs on and why, for logs and salvectl features. */
struct probes_hook {
	const char *family;
	const char *hook;     /* "signal_generate" */
	const char *flavour;  /* "tp_btf" or "tracepoint" */
	const char *why;      /* why the fallback, or "" */
	bool on_demand;       /* attached only while a probe needs it (sys_exit), else always */
};

int probes_new(const struct probes_cfg *cfg, struct probes **out);
void probes_free(struct probes *p);

int probes_ring_fd(const struct probes *p);
/* The fd of the map the families share under name (salve_turned_away, for the breaker
 * programs to share it too), or -ENOENT. */
int probes_map_fd(const struct probes *p, const char *name);
/* Read every record waiting; returns the count or -errno. */
int probes_consume(struct probes *p);

/* Replace the kernel filter: config and the scope sets. Entries absent from the new
 * sets are deleted. */
struct probes_scope_entry {
	int set;        /* SALVE_SCOPE_* */
	union {
		__u64 cgroup_id;
		struct salve_exe_key exe;
		char comm[SALVE_COMM_LEN];
		__u32 uid;
	} key;
	struct salve_scope_val val; /* the policies it puts in scope, and those it takes out */
};

/* Replacing the filter is a transaction over the slot the kernel does not read:
 * probes_scope_stage writes cfg and the entries there (the kernel goes on as before;
 * on failure nothing of it stays), *gen is the generation its records will carry;
 * probes_scope_commit puts it in force at one instant and deletes what only the old
 * configuration needed; probes_scope_abort drops it, allocating nothing. */
int probes_scope_stage(struct probes *p, const struct salve_config *cfg,
		       const struct probes_scope_entry *entries, size_t n, uint32_t *gen);
int probes_scope_commit(struct probes *p);
void probes_scope_abort(struct probes *p);

/* Stage and commit at once. */
int probes_configure(struct probes *p, const struct salve_config *cfg,
		     const struct probes_scope_entry *entries, size_t n, uint32_t *gen);

/* Counters summed over CPUs, indexed by enum salve_event_kind. */
int probes_counters(struct probes *p, struct salve_counters out[SALVE_EV_KIND_MAX]);

size_t probes_hooks(const struct probes *p, const struct probes_hook **out);

/* Whether latency sites are uprobe sessions (else a uprobe and a uretprobe pair). */
bool probes_has_sessions(const struct probes *p);

/* enum bpf_attach_type of kernel 6.13, newer than the uapi headers we build with. */
#define SALVE_TRACE_UPROBE_SESSION 57

/* Attach prog_fd (loaded as SALVE_TRACE_UPROBE_SESSION) as a uprobe session at offset of
 * the file at path, for every process, with cookie. The link fd, or -errno. */
int probes_session_link(int prog_fd, const char *path, __u64 offset, __u64 cookie);

/* Attach site id (settings in site) at offset of the ELF file at path, for every
 * process that maps it, now and later. */
int probes_site_attach(struct probes *p, __u32 id, const struct salve_site *site, const char *path,
		       __u64 offset);
void probes_site_detach(struct probes *p, __u32 id);

/* Site id's latency histogram, summed over CPUs (cumulative since it was attached). */
int probes_site_hist(struct probes *p, __u32 id, uint64_t out[SALVE_HIST_BUCKETS]);
/* The same with the sum of the calls' nanoseconds. */
int probes_site_latency(struct probes *p, __u32 id, struct salve_hist *out);

/* Site id's calls its program ran on, summed over CPUs since it was attached (a latency
 * site's are its histogram's, not counted here), and the records its bucket holds back
 * now (those before the last record sent, that record carried). */
int probes_site_hits(struct probes *p, __u32 id, uint64_t *hits, uint64_t *held);

/* New settings for a site already attached (a learned latency threshold). */
int probes_site_update(struct probes *p, __u32 id, const struct salve_site *site);

/* Site id watches the (syscall, errno) pair key. -EEXIST, and *owner, when another site
 * has it, unless replace: then it is taken from that site. */
int probes_sys_rule(struct probes *p, __u32 id, const struct salve_sys_key *key, bool replace,
		    __u32 *owner);

/* Called per (stall site, process) with the boot-time ns of the last call; returning
 * true forgets the entry (the process is gone). 0, or -errno when an entry could not be
 * deleted (logged the first time; the walk is bounded and never retries one). */
typedef bool (*probes_last_call_fn)(void *ctx, __u32 site, __u32 tgid, __u64 last_ns);
int probes_last_calls(struct probes *p, probes_last_call_fn fn, void *ctx);

#endif
