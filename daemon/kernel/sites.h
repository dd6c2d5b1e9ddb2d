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

/* Make the kernel run next instead of prev (which may be empty): detach the sites that
 * went, attach the new ones. A site equal to one of prev keeps prev's id. */
int sites_apply(struct probes *p, const struct site_plan *prev, struct site_plan *next,
		char *err, size_t err_len);

/* The site with this id, or NULL. */
const struct site *sites_find(const struct site_plan *plan, uint32_t id);

#endif
