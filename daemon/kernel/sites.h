/* sites: the function probes of a policy set, resolved to files and offsets and
 * numbered. A site id is what the kernel sees in the BPF cookie; the plan maps it back
 * to its probe. Reloads keep the id (and the attachment, and the counters) of every
 * site that did not change. */
#ifndef SALVE_SITES_H
#define SALVE_SITES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "policy/policy.h"
#include "kernel/probes.h"

struct site {
	uint32_t id;
	const struct policy_probe *probe;
	char path[PATH_MAX]; /* the ELF file the probe sits in */
	uint64_t offset;     /* of the function's entry in it */
	bool nop5;           /* the entry is a 5-byte NOP: the kernel's fast path */
	struct salve_site cfg;
};

struct site_plan {
	struct site *sites;
	size_t n_sites;
};

/* Resolve every function probe of set. Errors name the file, probe, binary and symbol. */
int sites_plan_build(const struct policy_set *set, struct site_plan *out, char *err,
		     size_t err_len);
void sites_plan_clear(struct site_plan *plan);

/* What sites need of the kernel: salved's probes (sites_kernel_probes), or a fake in
 * tests. sys_rule: site id watches the (syscall, errno) pair key; -EEXIST and *owner
 * when another site has it, unless replace. */
struct sites_kernel {
	int (*attach)(void *ctx, uint32_t id, const struct salve_site *cfg, const char *path,
		      uint64_t offset);
	void (*detach)(void *ctx, uint32_t id);
	int (*sys_rule)(void *ctx, uint32_t id, const struct salve_sys_key *key, bool replace,
			uint32_t *owner);
	void *ctx;
};

struct sites_kernel sites_kernel_probes(struct probes *p);

/* Number next's sites against cur (which may be empty): a site equal to one of cur
 * keeps its id; a new one takes an id neither plan uses. */
void sites_match(const struct site_plan *cur, struct site_plan *next);

/* What switching from cur to next would do, for salvectl reload --check: next numbered
 * against cur, and into out "attach" and "detach" (arrays of {"probe", "policy",
 * "path", "offset"}) and "keep" (how many sites stay as they are). */
void sites_describe_change(const struct site_plan *cur, struct site_plan *next,
			   struct json_object *out);

/* Whether s (of a plan numbered against cur) is not one of cur's. */
bool sites_is_new(const struct site_plan *cur, const struct site *s);

/* Switching from cur to next is a transaction. sites_stage numbers next and attaches
 * its new sites beside cur's, which go on running; on failure it detaches what it
 * attached, the kernel runs cur as before, and err names the probe, file and reason.
 * sites_commit puts next in force (moving the syscall pairs of sites that go) and
 * detaches cur's sites that next has not; sites_abort detaches what sites_stage
 * attached. Neither fails. */
int sites_stage(const struct sites_kernel *k, const struct site_plan *cur, struct site_plan *next,
		char *err, size_t err_len);
void sites_commit(const struct sites_kernel *k, const struct site_plan *cur,
		  const struct site_plan *next);
void sites_abort(const struct sites_kernel *k, const struct site_plan *cur,
		 const struct site_plan *next);

/* The site with this id, or NULL. */
const struct site *sites_find(const struct site_plan *plan, uint32_t id);

#endif
