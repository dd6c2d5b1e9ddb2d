/* probes: the BPF side of salved.
 *
 * Five families, one skeleton each (bpf/NAME.bpf.c): signals and exits run on
 * tracepoints and are attached for as long as salved runs; functions (the uprobe programs
 * of return, latency, stall, abort and exception sites), syscalls (sys_exit) and sessions
 * (the uprobe session of a latency site) are attached per site, and only while a site
 * needs them.
 *
 * Every family's object is opened and loaded at start, so every map exists from the
 * start: the first family makes them and the others reuse them by name (share_maps), one
 * ring buffer and one set of scope and site maps. The per-site families load with their
 * programs turned off (autoload false): at start they hold maps only. A program is loaded
 * when the first site that needs it attaches (demand_get): a fresh open of its family's
 * skeleton, with that one program on and every map reused from the family's object, so
 * the program sees the maps salved fills. It is unloaded (its object destroyed) when the
 * last of its sites detaches (demand_put). So `bpftool prog show` lists only programs
 * that run: a policy without function or syscall probes loads none of theirs. */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "exits.skel.h"
#include "functions.skel.h"
#include "base/log.h"
#include "base/loop.h"
#include "kernel/mapwalk.h"
#include "kernel/probes.h"
#include "salve/site.h"
#include "sessions.skel.h"
#include "signals.skel.h"
#include "syscalls.skel.h"

#define PROBES_HOOKS_MAX 16
#define DEMAND_MAX 16

/* One probe family: a skeleton and what it attached. */
struct family {
	const char *name;
	void *skel;
	struct bpf_object *obj;
	void (*destroy)(void *skel);
	void *(*open)(struct bpf_object **obj); /* a fresh open of its skeleton */
	bool per_site; /* its programs are loaded on demand (struct demand) */
};

/* A program loaded while sites need it: its own open of its family's skeleton. */
struct demand {
	const char *name; /* the program's, "salve_fn_ret" */
	size_t family;
	enum bpf_attach_type attach_type; /* what the family's object gives it */
	void *skel;        /* NULL while not loaded */
	struct bpf_object *obj;
	struct bpf_program *prog;
	unsigned users;
	bool pinned;
};

struct probes {
	struct family families[5];
	size_t n_families;
	struct bpf_link *links[PROBES_HOOKS_MAX];
	size_t n_links;
	struct probes_hook hooks[PROBES_HOOKS_MAX];
	size_t n_hooks;
	struct ring_buffer *ring;
	char *pin_dir;
	/* Maps of the first family, which every later family reuses. */
	struct bpf_object *shared;
	struct salve_functions *functions;
	struct salve_syscalls *syscalls;
	struct bpf_link *sites[SALVE_SITES_MAX][2]; /* by site id: entry and return probe */
	/* The programs loaded on demand, and which of them each site's slots use (index + 1;
	 * 0: none). A session uses slot 0. */
	struct demand demand[DEMAND_MAX];
	size_t n_demand;
	unsigned char site_demand[SALVE_SITES_MAX][2];
	/* sys_exit runs only while a syscall site exists: a syscall tracepoint puts every
	 * syscall of the host on its slow path, uprobe and uretprobe returns included. */
	const char *sys_exit; /* the flavour's program name */
	struct demand *sys_demand;
	struct bpf_link *sys_link;
	bool sys_sites[SALVE_SITES_MAX];
	size_t n_sys_sites;
	/* Latency sites as uprobe sessions where the kernel has them: one link each. */
	struct salve_sessions *sessions; /* NULL: the uprobe and uretprobe pair instead */
	int session_links[SALVE_SITES_MAX]; /* link fd + 1; 0: none */
	/* The scope: the kernel reads slot `slot` of salve_config and of every scope
	 * entry, decided by generation `gen`; a staged configuration waits in the other. */
	__u32 slot, gen;
	bool staged;
	struct probes_scope_entry *added; /* keys the staged configuration created */
	size_t n_added;
	/* A cleared histogram (or, shorter, hit count) for every CPU: detaching allocates
	 * nothing. */
	struct salve_hist *zero_hist;
	/* Stale map entries salved could not delete; the first failure is logged, not each
	 * (a stall walk runs every second). */
	size_t delete_failed;
	bool delete_logged;
};

static int page_shift(void)
{
	long size = sysconf(_SC_PAGESIZE);
	int shift = 0;

	while ((1L << shift) < size)
		shift++;
	return shift;
}

/* A family's skeleton opened, with the running kernel's page size, and destroyed. */
#define FAMILY_OPS(type)                                                                       \
	static void *open_##type(struct bpf_object **obj)                                      \
	{                                                                                      \
		struct type *skel = type##__open();                                            \
                                                                                               \
		if (skel) {                                                                    \
			skel->rodata->salve_page_shift = page_shift();                         \
			*obj = skel->obj;                                                      \
		}                                                                              \
		return skel;                                                                   \
	}                                                                                      \
	static void destroy_##type(void *skel)                                                 \
	{                                                                                      \
		type##__destroy(skel);                                                         \
	}

FAMILY_OPS(salve_signals)
FAMILY_OPS(salve_exits)
FAMILY_OPS(salve_functions)
FAMILY_OPS(salve_syscalls)
FAMILY_OPS(salve_sessions)

#define OPEN_FAMILY(p, label, type, site)                                                      \
	({                                                                                     \
		struct bpf_object *obj_ = NULL;                                                \
		struct type *skel_ = open_##type(&obj_);                                       \
		if (skel_)                                                                     \
			(p)->families[(p)->n_families++] = (struct family){                    \
				label, skel_, obj_, destroy_##type, open_##type, site };       \
		skel_;                                                                         \
	})

static int open_families(struct probes *p)
{
	if (!OPEN_FAMILY(p, "signals", salve_signals, false) ||
	    !OPEN_FAMILY(p, "exits", salve_exits, false) ||
	    !(p->functions = OPEN_FAMILY(p, "functions", salve_functions, true)) ||
	    !(p->syscalls = OPEN_FAMILY(p, "syscalls", salve_syscalls, true)) ||
	    !(p->sessions = OPEN_FAMILY(p, "sessions", salve_sessions, true)))
		return -errno;
	return 0;
}

/* Programs come in pairs, NAME_btf on a BTF tracepoint and NAME_tp on the classic
 * one. Keep the BTF one when this kernel has its tracepoint type, else the classic. */
static int choose_flavours(struct probes *p, bool classic_only)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();

	for (size_t f = 0; f < p->n_families; f++) {
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, p->families[f].obj) {
			const char *sec = bpf_program__section_name(prog);
			struct probes_hook *h;
			char type[128];

			if (strncmp(sec, "tp_btf/", 7))
				continue;
			if (p->n_hooks == PROBES_HOOKS_MAX)
				return -E2BIG;
			h = &p->hooks[p->n_hooks++];
			*h = (struct probes_hook){ p->families[f].name, sec + 7, "tp_btf", "",
						   p->families[f].obj == p->syscalls->obj };
			snprintf(type, sizeof(type), "btf_trace_%s", h->hook);
			if (classic_only)
				h->why = "classic tracepoints requested";
			else if (!vmlinux)
				h->why = "no kernel BTF";
			else if (btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF) < 0)
				h->why = "kernel has no BTF tracepoint of that name";
			if (*h->why)
				h->flavour = "tracepoint";
		}
	}
	btf__free(vmlinux);
	for (size_t f = 0; f < p->n_families; f++) {
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, p->families[f].obj) {
			const char *sec = bpf_program__section_name(prog);
			/* tp_btf/<name> or tp/<category>/<name>; uprobes have no pair */
			const char *hook = strrchr(sec, '/');
			bool btf = !strncmp(sec, "tp_btf/", 7);

			if (strncmp(sec, "tp", 2) || !hook)
				continue;
			for (size_t i = 0; i < p->n_hooks; i++) {
				bool use_btf = !strcmp(p->hooks[i].flavour, "tp_btf");

				if (!strcmp(p->hooks[i].hook, hook + 1))
					bpf_program__set_autoload(prog, btf == use_btf);
			}
		}
	}
	return 0;
}

/* Family f uses the maps of the same name that an earlier family made: one ring
 * buffer, one set of filter maps, one site table. */
static int share_maps(struct probes *p, size_t f)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, p->families[f].obj) {
		if (strchr(bpf_map__name(map), '.'))
			continue; /* .rodata and friends are each object's own */
		for (size_t e = 0; e < f; e++) {
			struct bpf_map *first = bpf_object__find_map_by_name(p->families[e].obj,
									     bpf_map__name(map));
			int err;

			if (!first)
				continue;
			if ((err = bpf_map__reuse_fd(map, bpf_map__fd(first))))
				return err;
			break;
		}
	}
	return 0;
}

/* The sessions family is the last, and optional: without it (asked, or a kernel
 * before 6.13) latency sites use the uprobe and uretprobe pair. */
static void drop_sessions(struct probes *p, const char *why)
{
	size_t f = --p->n_families;

	salve_log(LOG_INFO, "latency probes: a uprobe and a uretprobe per site (%s)", why);
	for (size_t i = 0; i < p->n_demand; i++)
		if (p->demand[i].family == f)
			p->demand[i--] = p->demand[--p->n_demand];
	p->families[f].destroy(p->sessions);
	p->sessions = NULL;
}

/* The programs of the per-site families become programs loaded on demand: listed, and
 * turned off in the family's object, which then loads its maps only. choose_flavours has
 * turned off the flavour of sys_exit this kernel does not use. */
static int list_demand(struct probes *p)
{
	for (size_t f = 0; f < p->n_families; f++) {
		struct bpf_program *prog;

		if (!p->families[f].per_site)
			continue;
		bpf_object__for_each_program(prog, p->families[f].obj) {
			if (!bpf_program__autoload(prog))
				continue;
			if (p->n_demand == DEMAND_MAX)
				return -E2BIG;
			p->demand[p->n_demand++] = (struct demand){
				.name = bpf_program__name(prog), .family = f,
				.attach_type = bpf_program__expected_attach_type(prog) };
			if (p->families[f].obj == p->syscalls->obj)
				p->sys_exit = bpf_program__name(prog);
			bpf_program__set_autoload(prog, false);
		}
	}
	return 0;
}

static struct demand *find_demand(struct probes *p, const char *name)
{
	for (size_t i = 0; i < p->n_demand; i++)
		if (!strcmp(p->demand[i].name, name))
			return &p->demand[i];
	return NULL;
}

static int pin_path(char *buf, size_t len, const char *dir, const char *sub, const char *name);

static void demand_unload(struct probes *p, struct demand *d)
{
	char path[512];

	if (d->pinned && !pin_path(path, sizeof(path), p->pin_dir, p->families[d->family].name,
				   d->name))
		unlink(path);
	p->families[d->family].destroy(d->skel);
	*d = (struct demand){ .name = d->name, .family = d->family, .attach_type = d->attach_type };
}

/* The program name, loaded if no site uses it yet, with one more user. quiet: a load
 * that fails is the answer to a question, not an error to log. */
static int demand_load(struct probes *p, const char *name, bool quiet, struct demand **out)
{
	struct demand *d = find_demand(p, name);
	const struct family *fam;
	struct bpf_program *prog;
	struct bpf_map *map;
	char path[512];
	int err = 0;

	if (!d)
		return -ENOENT;
	if (d->users) {
		d->users++;
		*out = d;
		return 0;
	}
	fam = &p->families[d->family];
	if (!(d->skel = fam->open(&d->obj)))
		return -errno;
	bpf_object__for_each_program(prog, d->obj) {
		bool mine = !strcmp(bpf_program__name(prog), name);

		bpf_program__set_autoload(prog, mine);
		if (mine) {
			d->prog = prog;
			bpf_program__set_expected_attach_type(prog, d->attach_type);
		}
	}
	/* The family's maps, which salved fills, not fresh ones. */
	bpf_object__for_each_map(map, d->obj) {
		struct bpf_map *theirs;

		if (strchr(bpf_map__name(map), '.'))
			continue; /* .rodata and friends are each object's own */
		if ((theirs = bpf_object__find_map_by_name(fam->obj, bpf_map__name(map))) &&
		    (err = bpf_map__reuse_fd(map, bpf_map__fd(theirs))))
			break;
	}
	err = err ?: bpf_object__load(d->obj);
	if (!err && p->pin_dir &&
	    !(err = pin_path(path, sizeof(path), p->pin_dir, fam->name, name)) &&
	    !(err = bpf_obj_pin(bpf_program__fd(d->prog), path)))
		d->pinned = true;
	if (err) {
		if (!quiet)
			salve_log(LOG_ERR, "cannot load the %s BPF program %s: %s", fam->name, name,
				  strerror(-err));
		demand_unload(p, d);
		return err;
	}
	salve_log(LOG_DEBUG, "loaded %s: a site needs it", name);
	d->users = 1;
	*out = d;
	return 0;
}

static int demand_get(struct probes *p, const char *name, struct demand **out)
{
	return demand_load(p, name, false, out);
}

/* One user less; the last one unloads the program. */
static void demand_put(struct probes *p, struct demand *d)
{
	if (!d || !d->users || --d->users)
		return;
	salve_log(LOG_DEBUG, "unloaded %s: no site needs it", d->name);
	demand_unload(p, d);
}

/* Whether this kernel loads uprobe session programs: the program loaded once, and
 * unloaded until a latency site needs it. */
static bool sessions_load(struct probes *p)
{
	struct demand *d;

	if (demand_load(p, "salve_fn_session", true, &d))
		return false;
	demand_put(p, d);
	return true;
}

static int load_attach(struct probes *p, bool no_sessions)
{
	int err;

	p->shared = p->families[0].obj;
	if (no_sessions)
		drop_sessions(p, "uprobe sessions turned off");
	else
		bpf_program__set_expected_attach_type(p->sessions->progs.salve_fn_session,
						      SALVE_TRACE_UPROBE_SESSION);
	if ((err = list_demand(p)))
		return err;
	for (size_t f = 0; f < p->n_families; f++) {
		struct bpf_program *prog;

		if ((err = share_maps(p, f) ?: bpf_object__load(p->families[f].obj))) {
			salve_log(LOG_ERR, "cannot load the %s BPF programs: %s", p->families[f].name,
				  strerror(-err));
			return err;
		}
		/* What is left on: the tracepoints of signals and exits, attached for good. */
		bpf_object__for_each_program(prog, p->families[f].obj) {
			struct bpf_link *link;

			if (!bpf_program__autoload(prog))
				continue;
			link = bpf_program__attach(prog);
			if (!link) {
				err = -errno;
				salve_log(LOG_ERR, "cannot attach %s (%s): %s", bpf_program__name(prog),
					  bpf_program__section_name(prog), strerror(-err));
				return err;
			}
			p->links[p->n_links++] = link;
		}
	}
	if (p->sessions && !sessions_load(p))
		drop_sessions(p, "this kernel has no uprobe sessions");
	if (p->sessions)
		salve_log(LOG_INFO, "latency probes: one uprobe session per site");
	return 0;
}

static int pin_path(char *buf, size_t len, const char *dir, const char *sub, const char *name)
{
	int n = snprintf(buf, len, "%s/%s%s%s", dir, sub, *sub ? "/" : "", name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int make_dir(const char *path)
{
	return mkdir(path, 0700) && errno != EEXIST ? -errno : 0;
}

/* Remove what an earlier salved, killed before it could clean up, left pinned. */
static void unpin_all(const char *dir, struct probes *p)
{
	char path[512];

	for (size_t f = 0; f < p->n_families; f++) {
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, p->families[f].obj) {
			if (!pin_path(path, sizeof(path), dir, p->families[f].name,
				      bpf_program__name(prog)))
				unlink(path);
		}
		if (!pin_path(path, sizeof(path), dir, p->families[f].name, ""))
			rmdir(path);
	}
	for (size_t f = 0; f < p->n_families; f++) {
		struct bpf_map *map;

		bpf_object__for_each_map(map, p->families[f].obj)
			if (!strchr(bpf_map__name(map), '.') &&
			    !pin_path(path, sizeof(path), dir, "maps", bpf_map__name(map)))
				unlink(path);
	}
	if (!pin_path(path, sizeof(path), dir, "maps", ""))
		rmdir(path);
	rmdir(dir);
}

#define BPF_FS_MAGIC_NUMBER 0xcafe4a11 /* linux/magic.h's BPF_FS_MAGIC */

/* Whether dir (which exists) is on a bpf file system: only there can objects be pinned. */
static bool on_bpffs(const char *dir)
{
	struct statfs fs;

	return !statfs(dir, &fs) && (unsigned long)fs.f_type == BPF_FS_MAGIC_NUMBER;
}

static int pin(struct probes *p)
{
	char path[512];
	struct bpf_map *map;
	int err;

	unpin_all(p->pin_dir, p);
	if (!(err = make_dir(p->pin_dir)) && !on_bpffs(p->pin_dir)) {
		rmdir(p->pin_dir); /* made for nothing, when it was empty */
		return -ENOTSUP;
	}
	if (err || pin_path(path, sizeof(path), p->pin_dir, "maps", "") ||
	    (err = make_dir(path)))
		return err ? err : -ENAMETOOLONG;
	/* Every family's maps, each name once (the families share those of one name). */
	for (size_t f = 0; f < p->n_families; f++) {
		bpf_object__for_each_map(map, p->families[f].obj) {
			if (strchr(bpf_map__name(map), '.'))
				continue;
			if ((err = pin_path(path, sizeof(path), p->pin_dir, "maps", bpf_map__name(map))))
				return err;
			if (bpf_obj_pin(bpf_map__fd(map), path) && errno != EEXIST)
				return -errno;
		}
	}
	for (size_t f = 0; f < p->n_families; f++) {
		struct bpf_program *prog;

		if ((err = pin_path(path, sizeof(path), p->pin_dir, p->families[f].name, "")) ||
		    (err = make_dir(path)))
			return err;
		bpf_object__for_each_program(prog, p->families[f].obj) {
			if (!bpf_program__autoload(prog))
				continue;
			if ((err = pin_path(path, sizeof(path), p->pin_dir, p->families[f].name,
					    bpf_program__name(prog))) ||
			    (err = bpf_obj_pin(bpf_program__fd(prog), path)))
				return err;
		}
	}
	return 0;
}

int probes_new(const struct probes_cfg *cfg, struct probes **out)
{
	struct probes *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	if (!(p->zero_hist = calloc(libbpf_num_possible_cpus() > 0 ? libbpf_num_possible_cpus() : 1,
				    sizeof(struct salve_hist)))) {
		free(p);
		return -ENOMEM;
	}
	if ((err = open_families(p)) || (err = choose_flavours(p, cfg->classic_only)) ||
	    (err = load_attach(p, cfg->no_sessions)))
		goto err;
	p->ring = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(p->shared, "salve_events")),
				   cfg->on_record, cfg->ctx, NULL);
	if (!p->ring) {
		err = -errno;
		goto err;
	}
	if (cfg->pin_dir) {
		p->pin_dir = strdup(cfg->pin_dir);
		if (!p->pin_dir) {
			err = -ENOMEM;
			goto err;
		}
		if ((err = pin(p))) {
			if (err == -ENOTSUP)
				salve_log(LOG_ERR, "--pin-dir %s: not on a bpf file system: programs and "
					  "maps are pinned only in bpffs; give a directory under "
					  "/sys/fs/bpf (salved mounts bpffs there when it is missing), "
					  "or mount one: mount -t bpf bpf DIR", p->pin_dir);
			else
				salve_log(LOG_ERR, "cannot pin under %s: %s", p->pin_dir, strerror(-err));
			goto err;
		}
	}
	*out = p;
	return 0;
err:
	probes_free(p);
	return err;
}

void probes_free(struct probes *p)
{
	if (!p)
		return;
	if (p->pin_dir)
		unpin_all(p->pin_dir, p);
	ring_buffer__free(p->ring);
	for (size_t i = 0; i < SALVE_SITES_MAX; i++) {
		bpf_link__destroy(p->sites[i][0]);
		bpf_link__destroy(p->sites[i][1]);
		if (p->session_links[i])
			close(p->session_links[i] - 1);
	}
	bpf_link__destroy(p->sys_link);
	for (size_t i = 0; i < p->n_demand; i++)
		if (p->demand[i].skel)
			demand_unload(p, &p->demand[i]);
	for (size_t i = 0; i < p->n_links; i++)
		bpf_link__destroy(p->links[i]);
	for (size_t f = p->n_families; f-- > 0;)
		p->families[f].destroy(p->families[f].skel);
	free(p->added);
	free(p->zero_hist);
	free(p->pin_dir);
	free(p);
}

int probes_ring_fd(const struct probes *p)
{
	return ring_buffer__epoll_fd(p->ring);
}

int probes_map_fd(const struct probes *p, const char *name)
{
	for (size_t f = 0; f < p->n_families; f++) {
		struct bpf_map *map = bpf_object__find_map_by_name(p->families[f].obj, name);

		if (map)
			return bpf_map__fd(map);
	}
	return -ENOENT;
}

int probes_consume(struct probes *p)
{
	return ring_buffer__consume(p->ring);
}

static int map_fd(struct probes *p, const char *name)
{
	return bpf_map__fd(bpf_object__find_map_by_name(p->shared, name));
}

static const char *scope_map(int set)
{
	switch (set) {
	case SALVE_SCOPE_CGROUP:
		return "salve_scope_cgrp";
	case SALVE_SCOPE_EXE:
		return "salve_scope_exe";
	case SALVE_SCOPE_UID:
		return "salve_scope_uid";
	default:
		return "salve_scope_comm";
	}
}

/* Whether entries hold key in set. */
static bool has_key(const struct probes_scope_entry *entries, size_t n, int set, const void *key,
		    size_t key_size)
{
	for (size_t i = 0; i < n; i++)
		if (entries[i].set == set && !memcmp(&entries[i].key, key, key_size))
			return true;
	return false;
}

static const int scope_sets[] = { SALVE_SCOPE_CGROUP, SALVE_SCOPE_EXE, SALVE_SCOPE_COMM,
				  SALVE_SCOPE_UID };

/* Slot `slot` of every key of set's map that entries do not hold means nothing. The
 * keys are listed first: an update moves its key within the hash map's order. */
static int clear_slot(struct probes *p, int set, __u32 slot,
		      const struct probes_scope_entry *entries, size_t n)
{
	struct bpf_map *map = bpf_object__find_map_by_name(p->shared, scope_map(set));
	size_t key_size = bpf_map__key_size(map), max = bpf_map__max_entries(map), n_keys = 0;
	unsigned char *keys = calloc(max, key_size);
	int fd = bpf_map__fd(map), err = 0;
	struct salve_scope_slots v;
	void *prev = NULL;

	if (!keys)
		return -ENOMEM;
	while (n_keys < max && !bpf_map_get_next_key(fd, prev, keys + n_keys * key_size))
		prev = keys + n_keys++ * key_size;
	for (size_t i = 0; i < n_keys && !err; i++) {
		void *key = keys + i * key_size;

		if (has_key(entries, n, set, key, key_size) || bpf_map_lookup_elem(fd, key, &v))
			continue;
		v.slot[slot] = (struct salve_scope_val){ 0 };
		if (bpf_map_update_elem(fd, key, &v, BPF_EXIST))
			err = -errno;
	}
	free(keys);
	return err;
}

/* Delete the entries of map that pick chooses, in one bounded walk (mapwalk.h). A failed
 * delete is not retried: it is counted, logged the first time, and returned. */
static int delete_if(struct probes *p, struct bpf_map *map, size_t value_size,
		     mapwalk_pick_fn *pick, void *ctx)
{
	struct mapwalk_result r;
	/* Twice the map: room for a walk the kernel sends back to the start once. */
	size_t steps = 2 * (size_t)bpf_map__max_entries(map);
	int err = mapwalk_delete_if(&mapwalk_bpf, (void *)(intptr_t)bpf_map__fd(map),
				    bpf_map__key_size(map), value_size, steps, pick, ctx, &r);

	p->delete_failed += r.failed;
	if (err && !p->delete_logged) {
		p->delete_logged = true;
		salve_log(LOG_WARNING, "map %s: stale entries left (%zu of %zu deletes failed): %s; "
			  "logged once", bpf_map__name(map), r.failed, r.picked, strerror(-err));
	}
	return err;
}

static bool empty_in_slot(void *ctx, const void *key, const void *value)
{
	const __u32 *slot = ctx;
	const struct salve_scope_slots *v = value;

	(void)key;
	return !v->slot[*slot].include && !v->slot[*slot].exclude;
}

/* Delete the keys of set's map that mean nothing to slot `slot`. */
static int prune(struct probes *p, int set, __u32 slot)
{
	struct bpf_map *map = bpf_object__find_map_by_name(p->shared, scope_map(set));

	return delete_if(p, map, sizeof(struct salve_scope_slots), empty_in_slot, &slot);
}

void probes_scope_abort(struct probes *p)
{
	for (size_t i = 0; i < p->n_added; i++)
		bpf_map_delete_elem(map_fd(p, scope_map(p->added[i].set)), &p->added[i].key);
	free(p->added);
	p->added = NULL;
	p->n_added = 0;
	p->staged = false;
}

int probes_scope_stage(struct probes *p, const struct salve_config *cfg,
		       const struct probes_scope_entry *entries, size_t n, uint32_t *gen)
{
	__u32 next = p->slot ^ 1;
	struct salve_config c = *cfg;
	int err = 0;

	if (p->staged)
		probes_scope_abort(p);
	/* Everything the undo needs is allocated before the kernel is touched. */
	if (!(p->added = calloc(n ? n : 1, sizeof(*p->added))))
		return -ENOMEM;
	p->staged = true;
	for (size_t s = 0; s < sizeof(scope_sets) / sizeof(scope_sets[0]) && !err; s++)
		err = clear_slot(p, scope_sets[s], next, entries, n);
	for (size_t i = 0; i < n && !err; i++) {
		int fd = map_fd(p, scope_map(entries[i].set));
		struct salve_scope_slots v = { 0 };
		bool fresh = bpf_map_lookup_elem(fd, &entries[i].key, &v) != 0;

		v.slot[next] = entries[i].val;
		if (bpf_map_update_elem(fd, &entries[i].key, &v, fresh ? BPF_NOEXIST : BPF_EXIST)) {
			err = -errno;
			break;
		}
		if (fresh)
			p->added[p->n_added++] = entries[i];
	}
	c.gen = p->gen + 1;
	c.slot = next;
	if (!err && bpf_map_update_elem(map_fd(p, "salve_config"), &next, &c, BPF_ANY))
		err = -errno;
	if (err) {
		probes_scope_abort(p);
		return err;
	}
	*gen = c.gen;
	return 0;
}

int probes_scope_commit(struct probes *p)
{
	__u32 zero = 0, next = p->slot ^ 1;

	if (!p->staged)
		return -EINVAL;
	if (bpf_map_update_elem(map_fd(p, "salve_active"), &zero, &next, BPF_ANY))
		return -errno;
	p->slot = next;
	p->gen++;
	free(p->added);
	p->added = NULL;
	p->n_added = 0;
	p->staged = false;
	/* A key left (a delete the kernel refused, logged once) means nothing to the
	 * configuration in force: harmless. */
	for (size_t s = 0; s < sizeof(scope_sets) / sizeof(scope_sets[0]); s++)
		prune(p, scope_sets[s], p->slot);
	return 0;
}

int probes_configure(struct probes *p, const struct salve_config *cfg,
		     const struct probes_scope_entry *entries, size_t n, uint32_t *gen)
{
	int err = probes_scope_stage(p, cfg, entries, n, gen);

	if (!err && (err = probes_scope_commit(p)))
		probes_scope_abort(p);
	return err;
}

int probes_counters(struct probes *p, struct salve_counters out[SALVE_EV_KIND_MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd = map_fd(p, "salve_counters");
	struct salve_counters *percpu;

	if (ncpu < 0)
		return ncpu;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (__u32 k = 0; k < SALVE_EV_KIND_MAX; k++) {
		out[k] = (struct salve_counters){ 0 };
		if (bpf_map_lookup_elem(fd, &k, percpu))
			continue;
		for (int c = 0; c < ncpu; c++) {
			out[k].seen += percpu[c].seen;
			out[k].lost += percpu[c].lost;
			out[k].suppressed += percpu[c].suppressed;
		}
	}
	free(percpu);
	return 0;
}

bool probes_has_sessions(const struct probes *p)
{
	return p->sessions != NULL;
}

size_t probes_hooks(const struct probes *p, const struct probes_hook **out)
{
	*out = p->hooks;
	return p->n_hooks;
}

/* Attach program name (loaded if it is not yet) at the site as its entry (slot 0) or
 * return (slot 1) probe. */
static int attach_at(struct probes *p, __u32 id, const char *name, int slot, const char *path,
		     __u64 offset)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = id, .retprobe = slot == 1);
	struct demand *d;
	int err = demand_get(p, name, &d);

	if (err)
		return err;
	p->site_demand[id][slot] = (unsigned char)(d - p->demand + 1);
	/* -1: every process, present and future, that maps the file. */
	p->sites[id][slot] = bpf_program__attach_uprobe_opts(d->prog, -1, path, offset, &opts);
	return p->sites[id][slot] ? 0 : -errno;
}

/* BPF_LINK_CREATE of a uprobe_multi link, whose bpf_attr layout libbpf 1.1 and the
 * uapi headers we build with predate. */
struct uprobe_multi_attr {
	__u32 prog_fd, target_fd, attach_type, flags;
	__u64 path, offsets, ref_ctr_offsets, cookies;
	__u32 cnt, flags2, pid;
};

int probes_session_link(int prog_fd, const char *path, __u64 offset, __u64 cookie)
{
	union {
		struct uprobe_multi_attr um;
		char bytes[128]; /* the kernel wants the rest of bpf_attr zeroed */
	} attr = { 0 };
	int fd;

	attr.um.prog_fd = prog_fd;
	attr.um.attach_type = SALVE_TRACE_UPROBE_SESSION;
	attr.um.path = (__u64)(unsigned long)path;
	attr.um.offsets = (__u64)(unsigned long)&offset;
	attr.um.cookies = (__u64)(unsigned long)&cookie;
	attr.um.cnt = 1;
	fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

/* Site id as a uprobe session at offset of path, for every process. */
static int attach_session(struct probes *p, __u32 id, const char *path, __u64 offset)
{
	struct demand *d;
	int fd = demand_get(p, "salve_fn_session", &d);

	if (fd)
		return fd;
	fd = probes_session_link(bpf_program__fd(d->prog), path, offset, id);
	if (fd < 0) {
		demand_put(p, d); /* the pair takes over */
		return fd;
	}
	p->site_demand[id][0] = (unsigned char)(d - p->demand + 1);
	p->session_links[id] = fd + 1;
	return 0;
}

/* sys_exit is attached while a syscall probe exists (on_demand), and says so each time
 * it comes and goes, with the flavour it runs on. */
static void log_sys_exit(const struct probes *p, bool attached)
{
	for (size_t i = 0; i < p->n_hooks; i++) {
		const struct probes_hook *h = &p->hooks[i];

		if (!h->on_demand)
			continue;
		if (attached)
			salve_log(*h->why ? LOG_WARNING : LOG_INFO, "%s: %s attached on %s%s%s "
				  "(a syscall probe needs it)", h->family, h->hook, h->flavour,
				  *h->why ? ": " : "", h->why);
		else
			salve_log(LOG_INFO, "%s: %s detached (no syscall probe left)", h->family,
				  h->hook);
	}
}

int probes_site_attach(struct probes *p, __u32 id, const struct salve_site *site, const char *path,
		       __u64 offset)
{
	struct salve_functions *fn = p->functions;
	struct salve_rate full = { .tokens_milli = (__u64)site->burst * 1000 };
	int err;

	if (id >= SALVE_SITES_MAX || p->sites[id][0] || p->sites[id][1] || p->session_links[id])
		return -EINVAL;
	/* The site's bucket starts full. Left empty for the kernel to fill on first use,
	 * threads of two CPUs racing there could see no token at all. */
	full.last_ns = loop_now_ns(CLOCK_BOOTTIME);
	if (bpf_map_update_elem(bpf_map__fd(fn->maps.salve_site_rates), &id, &full, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(fn->maps.salve_sites), &id, site, BPF_ANY))
		return -errno;
	switch (site->kind) {
	case SALVE_SITE_RETURN:
		err = attach_at(p, id, "salve_fn_ret", 1, path, offset);
		break;
	case SALVE_SITE_LATENCY:
		if (p->sessions && !(err = attach_session(p, id, path, offset)))
			break;
		err = attach_at(p, id, "salve_fn_entry", 0, path, offset);
		err = err ?: attach_at(p, id, "salve_fn_exit", 1, path, offset);
		break;
	case SALVE_SITE_STALL:
		err = attach_at(p, id, "salve_fn_call", 0, path, offset);
		break;
	case SALVE_SITE_ASSERT:
		err = attach_at(p, id, "salve_fn_assert", 0, path, offset);
		break;
	case SALVE_SITE_ABORT:
		err = attach_at(p, id, "salve_fn_abort", 0, path, offset);
		break;
	case SALVE_SITE_THROW:
		err = attach_at(p, id, "salve_fn_throw", 0, path, offset);
		break;
	case SALVE_SITE_SYSCALL:
		/* Its (syscall, errno) pairs come with probes_site_syscalls. */
		if (!p->sys_link) {
			struct demand *d;

			if ((err = demand_get(p, p->sys_exit, &d)))
				break;
			if (!(p->sys_link = bpf_program__attach(d->prog))) {
				err = -errno;
				demand_put(p, d);
				break;
			}
			p->sys_demand = d;
		}
		if (!p->n_sys_sites)
			log_sys_exit(p, true);
		p->sys_sites[id] = true;
		p->n_sys_sites++;
		err = 0;
		break;
	default:
		err = -EINVAL;
	}
	if (err)
		probes_site_detach(p, id);
	return err;
}

static bool owned_by(void *ctx, const void *key, const void *value)
{
	__u32 owner;

	(void)key;
	memcpy(&owner, value, sizeof(owner));
	return owner == *(const __u32 *)ctx;
}

/* Forget every (syscall, errno) pair that site id watched: one left behind would keep its
 * events going to this id, whichever site takes it next, and refuse the pair to others. */
static void drop_sys_rules(struct probes *p, __u32 id)
{
	delete_if(p, p->syscalls->maps.salve_sys_rules, sizeof(__u32), owned_by, &id);
}

/* A new site at this id starts with an empty histogram and no hits. */
static void clear_hist(struct probes *p, __u32 id)
{
	bpf_map_update_elem(bpf_map__fd(p->functions->maps.salve_site_hist), &id, p->zero_hist,
			    BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(p->functions->maps.salve_site_hits), &id, p->zero_hist,
			    BPF_ANY);
}

void probes_site_detach(struct probes *p, __u32 id)
{
	struct salve_site none = { 0 };
	struct salve_rate fresh = { 0 };

	if (id >= SALVE_SITES_MAX)
		return;
	for (int slot = 0; slot < 2; slot++) {
		bpf_link__destroy(p->sites[id][slot]);
		p->sites[id][slot] = NULL;
	}
	if (p->session_links[id]) {
		close(p->session_links[id] - 1);
		p->session_links[id] = 0;
	}
	/* The programs no other site uses are unloaded. */
	for (int slot = 0; slot < 2; slot++) {
		if (p->site_demand[id][slot])
			demand_put(p, &p->demand[p->site_demand[id][slot] - 1]);
		p->site_demand[id][slot] = 0;
	}
	if (p->sys_sites[id]) {
		p->sys_sites[id] = false;
		if (!--p->n_sys_sites) {
			bpf_link__destroy(p->sys_link);
			p->sys_link = NULL;
			demand_put(p, p->sys_demand);
			p->sys_demand = NULL;
			log_sys_exit(p, false);
		}
	}
	bpf_map_update_elem(bpf_map__fd(p->functions->maps.salve_sites), &id, &none, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(p->functions->maps.salve_site_rates), &id, &fresh, BPF_ANY);
	clear_hist(p, id);
	drop_sys_rules(p, id);
}

struct last_call_ctx {
	probes_last_call_fn fn;
	void *ctx;
};

static bool last_call_pick(void *ctx, const void *key, const void *value)
{
	const struct last_call_ctx *c = ctx;
	struct salve_call_key k;
	__u64 last;

	memcpy(&k, key, sizeof(k));
	memcpy(&last, value, sizeof(last));
	return c->fn(c->ctx, k.site, k.tgid, last);
}

int probes_last_calls(struct probes *p, probes_last_call_fn fn, void *ctx)
{
	struct last_call_ctx c = { fn, ctx };

	return delete_if(p, p->functions->maps.salve_last_call, sizeof(__u64), last_call_pick, &c);
}

int probes_sys_rule(struct probes *p, __u32 id, const struct salve_sys_key *key, bool replace,
		    __u32 *owner)
{
	int fd = bpf_map__fd(p->syscalls->maps.salve_sys_rules);

	if (!bpf_map_update_elem(fd, key, &id, replace ? BPF_ANY : BPF_NOEXIST))
		return 0;
	if (errno == EEXIST && !bpf_map_lookup_elem(fd, key, owner))
		return -EEXIST;
	return -errno;
}

int probes_site_latency(struct probes *p, __u32 id, struct salve_hist *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct salve_hist *percpu;

	if (ncpu <= 0)
		return -EINVAL;
	percpu = calloc(ncpu, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(p->functions->maps.salve_site_hist), &id, percpu)) {
		free(percpu);
		return -errno;
	}
	memset(out, 0, sizeof(*out));
	for (int c = 0; c < ncpu; c++) {
		for (int k = 0; k < SALVE_HIST_BUCKETS; k++)
			out->buckets[k] += percpu[c].buckets[k];
		out->sum_ns += percpu[c].sum_ns;
	}
	free(percpu);
	return 0;
}

int probes_site_hits(struct probes *p, __u32 id, uint64_t *hits, uint64_t *held)
{
	int ncpu = libbpf_num_possible_cpus();
	struct salve_rate rate;
	__u64 *percpu;

	if (ncpu <= 0)
		return -EINVAL;
	if (!(percpu = calloc(ncpu, sizeof(*percpu))))
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(p->functions->maps.salve_site_hits), &id, percpu) ||
	    bpf_map_lookup_elem(bpf_map__fd(p->functions->maps.salve_site_rates), &id, &rate)) {
		free(percpu);
		return -errno;
	}
	*hits = 0;
	for (int c = 0; c < ncpu; c++)
		*hits += percpu[c];
	*held = rate.held;
	free(percpu);
	return 0;
}

int probes_site_hist(struct probes *p, __u32 id, uint64_t out[SALVE_HIST_BUCKETS])
{
	struct salve_hist h;
	int err = probes_site_latency(p, id, &h);

	if (!err)
		memcpy(out, h.buckets, sizeof(h.buckets));
	return err;
}

int probes_site_update(struct probes *p, __u32 id, const struct salve_site *site)
{
	if (bpf_map_update_elem(bpf_map__fd(p->functions->maps.salve_sites), &id, site, BPF_EXIST))
		return -errno;
	return 0;
}
