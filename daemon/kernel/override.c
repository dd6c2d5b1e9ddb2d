/* override: functions overridden by register-writing uprobes. */
#include "kernel/override.h"

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/regwrite.h"
#include "override.skel.h"

#define OVERRIDE_MAX 1024 /* the map's size */

struct override {
	struct salve_override *skel;
	struct {
		uint64_t cookie; /* 0: a free slot */
		struct bpf_link *link;
	} at[OVERRIDE_MAX];
};

int override_new(struct override **out, char *why, size_t why_len)
{
	struct override *o;

	if (!regwrite_probe(why, why_len))
		return -ENOTSUP;
	/* The program is loaded at the first override, and unloaded after the last. */
	if (!(o = calloc(1, sizeof(*o))))
		return -ENOMEM;
	*out = o;
	return 0;
}

void override_free(struct override *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < OVERRIDE_MAX; i++)
		bpf_link__destroy(o->at[i].link);
	salve_override__destroy(o->skel);
	free(o);
}

/* With no override in effect, the program is unloaded. */
static void unload_unused(struct override *o)
{
	for (size_t i = 0; i < OVERRIDE_MAX; i++)
		if (o->at[i].cookie)
			return;
	salve_override__destroy(o->skel);
	o->skel = NULL;
}

int override_attach(struct override *o, const char *path, uint64_t off, int pid,
		    const struct salve_override_cfg *what, uint64_t cookie, char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie);
	size_t slot = OVERRIDE_MAX;
	int r;

	for (size_t i = 0; i < OVERRIDE_MAX; i++)
		if (!o->at[i].cookie && slot == OVERRIDE_MAX)
			slot = i;
	if (!cookie || slot == OVERRIDE_MAX) {
		snprintf(err, err_len, "%s: already %d overrides are in effect", path, OVERRIDE_MAX);
		return -ENOSPC;
	}
	if (!o->skel && !(o->skel = salve_override__open_and_load())) {
		r = -errno;
		snprintf(err, err_len, "%s: the override program does not load: %s", path,
			 strerror(-r));
		return r;
	}
	/* What it does first, then the uprobe: its first hit finds it. */
	if (bpf_map_update_elem(bpf_map__fd(o->skel->maps.salve_overrides), &cookie, what, BPF_ANY)) {
		r = -errno;
		snprintf(err, err_len, "%s: the override's entry: %s", path, strerror(-r));
		unload_unused(o);
		return r;
	}
	o->at[slot].link = bpf_program__attach_uprobe_opts(o->skel->progs.salve_override, pid, path,
							   off, &opts);
	if (!o->at[slot].link) {
		r = -errno;
		o->at[slot].link = NULL;
		bpf_map_delete_elem(bpf_map__fd(o->skel->maps.salve_overrides), &cookie);
		snprintf(err, err_len, "%s: a uprobe at offset %#llx: %s", path, (unsigned long long)off,
			 strerror(-r));
		unload_unused(o);
		return r;
	}
	o->at[slot].cookie = cookie;
	return 0;
}

void override_detach(struct override *o, uint64_t cookie)
{
	for (size_t i = 0; cookie && o->skel && i < OVERRIDE_MAX; i++) {
		if (o->at[i].cookie != cookie)
			continue;
		bpf_link__destroy(o->at[i].link);
		o->at[i].link = NULL;
		o->at[i].cookie = 0;
		bpf_map_delete_elem(bpf_map__fd(o->skel->maps.salve_overrides), &cookie);
	}
	unload_unused(o);
}
