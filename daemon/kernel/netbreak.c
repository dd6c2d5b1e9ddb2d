/* netbreak: circuit breakers around network endpoints (netbreak.h). */
#include "kernel/netbreak.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/sys.h"
#include "breaker.skel.h"

/* A cgroup with breakers. The programs run once per connect: they are on each such
 * cgroup that has no ancestor with breakers, and cover the cgroups below it. */
struct group {
	char *path; /* canonical; NULL: an unused entry */
	uint64_t id;
	unsigned users; /* slots with a breaker for it */
	struct bpf_link *links[2]; /* connect4, connect6; NULL: not attached here */
};

/* The connect programs are loaded only while a cgroup has them (a breaker around an
 * endpoint is set): skel holds the maps, its programs off; progs is a second open of the
 * skeleton over the same maps, with the programs, made at the first link and destroyed
 * after the last. */
struct netbreak {
	struct salve_breaker *skel;
	struct salve_breaker *progs;
	struct salve_breaker_entry *slots; /* the salve_breakers map, mapped */
	size_t map_len;
	char *cgroup[SALVE_BREAKERS_MAX]; /* each used slot's cgroup as given, for errors */
	struct group groups[SALVE_BREAKERS_MAX];
};

/* The connect programs in an object of their own, over nb->skel's maps. */
static int progs_load(struct netbreak *nb, struct salve_breaker **out)
{
	struct salve_breaker *s = salve_breaker__open();
	struct bpf_map *map;
	int r = 0;

	if (!s)
		return -errno;
	bpf_object__for_each_map(map, s->obj) {
		struct bpf_map *theirs;

		if (strchr(bpf_map__name(map), '.'))
			continue; /* .rodata and friends are each object's own */
		if ((theirs = bpf_object__find_map_by_name(nb->skel->obj, bpf_map__name(map))) &&
		    (r = bpf_map__reuse_fd(map, bpf_map__fd(theirs))))
			break;
	}
	if ((r = r ?: salve_breaker__load(s))) {
		salve_breaker__destroy(s);
		return r;
	}
	*out = s;
	return 0;
}

static size_t map_bytes(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = SALVE_BREAKERS_MAX * sizeof(struct salve_breaker_entry);

	return (len + (size_t)page - 1) / (size_t)page * (size_t)page;
}

int netbreak_new(int turned_away_fd, struct netbreak **out, char *why, size_t why_len)
{
	struct netbreak *nb = calloc(1, sizeof(*nb));
	int r;

	if (!nb)
		return -ENOMEM;
	if (!(nb->skel = salve_breaker__open())) {
		r = -errno;
		snprintf(why, why_len, "the breaker programs do not open: %s", strerror(-r));
		goto err;
	}
	if (turned_away_fd >= 0 &&
	    (r = bpf_map__reuse_fd(nb->skel->maps.salve_turned_away, turned_away_fd))) {
		snprintf(why, why_len, "the breaker programs cannot share salve_turned_away: %s",
			 strerror(-r));
		goto err;
	}
	/* The maps now; the programs are loaded once, to know this kernel takes them, and
	 * again when a breaker needs them. */
	bpf_program__set_autoload(nb->skel->progs.salve_brk_conn4, false);
	bpf_program__set_autoload(nb->skel->progs.salve_brk_conn6, false);
	if ((r = salve_breaker__load(nb->skel)) || (r = progs_load(nb, &nb->progs))) {
		snprintf(why, why_len, "the cgroup connect programs do not load: %s (a kernel "
			 "with cgroup2 and BPF_PROG_TYPE_CGROUP_SOCK_ADDR is needed)", strerror(-r));
		goto err;
	}
	salve_breaker__destroy(nb->progs);
	nb->progs = NULL;
	nb->map_len = map_bytes();
	nb->slots = mmap(NULL, nb->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 bpf_map__fd(nb->skel->maps.salve_breakers), 0);
	if (nb->slots == MAP_FAILED) {
		r = -errno;
		nb->slots = NULL;
		snprintf(why, why_len, "the breaker map cannot be mapped: %s", strerror(-r));
		goto err;
	}
	*out = nb;
	return 0;
err:
	netbreak_free(nb);
	return r;
}

void netbreak_free(struct netbreak *nb)
{
	if (!nb)
		return;
	for (unsigned i = 0; nb->slots && i < SALVE_BREAKERS_MAX; i++)
		netbreak_clear(nb, i);
	if (nb->slots)
		munmap(nb->slots, nb->map_len);
	salve_breaker__destroy(nb->progs);
	salve_breaker__destroy(nb->skel);
	free(nb);
}

/* The cgroup at dir: its canonical path (real), id and depth below the cgroup2 mount. */
static int cgroup_at(const char *dir, char *real, uint64_t *id, unsigned *level, char *err,
		     size_t err_len)
{
	const char *mount = sys_cgroup2_root();
	char root[PATH_MAX];
	struct statfs fs;
	struct stat st;
	size_t n;

	if (!realpath(dir, real) || stat(real, &st)) {
		int r = -errno;

		snprintf(err, err_len, "cgroup %s: %s; is the service running?", dir, strerror(-r));
		return r;
	}
	if (!realpath(mount, root) || statfs(real, &fs) || fs.f_type != CGROUP2_SUPER_MAGIC ||
	    !S_ISDIR(st.st_mode)) {
		snprintf(err, err_len, "%s is not a cgroup2 directory: name one under %s (the "
			 "0:: line of /proc/PID/cgroup)", dir, mount);
		return -EINVAL;
	}
	n = strlen(root);
	if (strncmp(real, root, n) || (real[n] && real[n] != '/')) {
		snprintf(err, err_len, "%s is not under the cgroup2 mount %s", dir, root);
		return -EINVAL;
	}
	*level = 0;
	for (const char *p = real + n; *p; p++)
		if (*p == '/' && p[1])
			++*level;
	if (*level > UINT8_MAX) {
		snprintf(err, err_len, "cgroup %s is %u levels deep; breakers reach 255", dir, *level);
		return -EINVAL;
	}
	*id = st.st_ino; /* a cgroup2 directory's inode is its id */
	return 0;
}

/* Whether cgroup path lies below cgroup above. */
static bool below(const char *path, const char *above)
{
	size_t n = strlen(above);

	return !strncmp(path, above, n) && path[n] == '/';
}

/* Whether some other group below which g lies has breakers (users) or the programs
 * (linked). */
static bool ancestor_with(const struct netbreak *nb, const struct group *g, bool linked)
{
	for (unsigned i = 0; i < SALVE_BREAKERS_MAX; i++) {
		const struct group *a = &nb->groups[i];

		if (a->path && (linked ? a->links[0] != NULL : a->users > 0) && below(g->path, a->path))
			return true;
	}
	return false;
}

/* Whether a group below g with breakers has the programs only through g. */
static bool needed_below(const struct netbreak *nb, const struct group *g)
{
	for (unsigned i = 0; i < SALVE_BREAKERS_MAX; i++) {
		const struct group *d = &nb->groups[i];
		bool covered = d->links[0] != NULL;

		if (!d->path || !d->users || !below(d->path, g->path))
			continue;
		for (unsigned j = 0; j < SALVE_BREAKERS_MAX && !covered; j++) {
			const struct group *a = &nb->groups[j];

			covered = a != g && a->links[0] && below(d->path, a->path);
		}
		if (!covered)
			return true;
	}
	return false;
}

static void unlink_group(struct group *g)
{
	bpf_link__destroy(g->links[0]);
	bpf_link__destroy(g->links[1]);
	g->links[0] = g->links[1] = NULL;
}

static int link_group(struct netbreak *nb, struct group *g, char *err, size_t err_len)
{
	struct bpf_program *progs[2];
	int fd, r = 0;

	if (!nb->progs && (r = progs_load(nb, &nb->progs))) {
		snprintf(err, err_len, "the cgroup connect programs do not load: %s", strerror(-r));
		return r;
	}
	progs[0] = nb->progs->progs.salve_brk_conn4;
	progs[1] = nb->progs->progs.salve_brk_conn6;
	if ((fd = open(g->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(err, err_len, "cgroup %s: %s", g->path, strerror(-r));
		return r;
	}
	/* Links: next to what others attached (BPF_F_ALLOW_MULTI), gone with salved. */
	for (unsigned i = 0; i < 2 && !r; i++)
		if (!(g->links[i] = bpf_program__attach_cgroup(progs[i], fd)))
			r = -errno;
	close(fd);
	if (!r)
		return 0;
	unlink_group(g);
	if (r == -EPERM)
		snprintf(err, err_len, "cannot attach the connect programs to cgroup %s: it has a "
			 "program that allows no others (see bpftool cgroup show %s)", g->path,
			 g->path);
	else
		snprintf(err, err_len, "cannot attach the connect programs to cgroup %s: %s",
			 g->path, strerror(-r));
	return r;
}

/* Put the programs where the groups with breakers need them: on each that has no
 * ancestor with breakers. What is missing is attached first, then what is no longer
 * needed goes, so no connect goes unwatched meanwhile nor is decided twice after. */
static int sync_links(struct netbreak *nb, char *err, size_t err_len)
{
	int r = 0;

	for (unsigned i = 0; i < SALVE_BREAKERS_MAX && !r; i++) {
		struct group *g = &nb->groups[i];

		if (g->path && g->users && !g->links[0] && !ancestor_with(nb, g, false))
			r = link_group(nb, g, err, err_len);
	}
	/* Programs no breaker needs, then those an ancestor's cover (the topmost stays). */
	for (unsigned i = 0; i < SALVE_BREAKERS_MAX; i++) {
		struct group *g = &nb->groups[i];

		if (g->links[0] && !g->users && !needed_below(nb, g))
			unlink_group(g);
	}
	for (unsigned i = 0; i < SALVE_BREAKERS_MAX; i++) {
		struct group *g = &nb->groups[i];

		if (g->links[0] && ancestor_with(nb, g, true))
			unlink_group(g);
	}
	bool linked = false;

	for (unsigned i = 0; i < SALVE_BREAKERS_MAX; i++) {
		struct group *g = &nb->groups[i];

		if (g->path && !g->users && !g->links[0]) {
			free(g->path);
			*g = (struct group){ 0 };
		}
		linked |= g->links[0] != NULL;
	}
	/* No cgroup has them: the programs are unloaded. */
	if (!linked && nb->progs) {
		salve_breaker__destroy(nb->progs);
		nb->progs = NULL;
	}
	return r;
}

/* The group of cgroup id at path in *out, made when new (with no users). */
static int group_of(struct netbreak *nb, const char *path, uint64_t id, struct group **out)
{
	struct group *free_one = NULL;

	for (unsigned i = 0; i < SALVE_BREAKERS_MAX; i++) {
		if (nb->groups[i].path && nb->groups[i].id == id) {
			*out = &nb->groups[i];
			return 0;
		}
		if (!nb->groups[i].path && !free_one)
			free_one = &nb->groups[i];
	}
	/* As many entries as slots: an entry outlives its last breaker only while one
	 * below it, which has a slot, could not have the programs of its own. */
	if (!free_one)
		return -ENOSPC;
	if (!(free_one->path = strdup(path)))
		return -ENOMEM;
	free_one->id = id;
	*out = free_one;
	return 0;
}

/* One breaker less for cgroup id. */
static void release(struct netbreak *nb, uint64_t id)
{
	char ignored[256];

	for (unsigned i = 0; id && i < SALVE_BREAKERS_MAX; i++)
		if (nb->groups[i].path && nb->groups[i].id == id && nb->groups[i].users)
			nb->groups[i].users--;
	sync_links(nb, ignored, sizeof(ignored));
}

static int check_state(enum salve_breaker_state state, int64_t admit, const char *what,
		       char *err, size_t err_len)
{
	if (state == SALVE_BRK_OPEN || (state == SALVE_BRK_HALF_OPEN && admit >= 0))
		return 0;
	if (state == SALVE_BRK_HALF_OPEN)
		snprintf(err, err_len, "%s: half-open admits %lld connects; give 0 or more", what,
			 (long long)admit);
	else
		snprintf(err, err_len, "%s: a breaker is set open or half-open; clear the slot to "
			 "close it", what);
	return -EINVAL;
}

int netbreak_set(struct netbreak *nb, unsigned slot, const char *cgroup_dir,
		 const struct endpoint *ep, enum salve_breaker_state state, int64_t admit,
		 char *err, size_t err_len)
{
	struct salve_breaker_entry *e = &nb->slots[slot < SALVE_BREAKERS_MAX ? slot : 0];
	char text[ENDPOINT_TEXT_MAX], what[PATH_MAX + 128], real[PATH_MAX], *dir;
	unsigned full = ep->family == AF_INET ? 32 : 128, level = 0;
	uint64_t id = 0, old;
	struct group *g;
	int r;

	snprintf(what, sizeof(what), "breaker around %s for cgroup %s",
		 endpoint_format(ep, text, sizeof(text)), cgroup_dir);
	if (slot >= SALVE_BREAKERS_MAX) {
		snprintf(err, err_len, "%s: slot %u; there are %d", what, slot, SALVE_BREAKERS_MAX);
		return -EINVAL;
	}
	if ((ep->family != AF_INET && ep->family != AF_INET6) || ep->prefix > full) {
		snprintf(err, err_len, "%s: not an IPv4 or IPv6 endpoint", what);
		return -EINVAL;
	}
	if ((r = check_state(state, admit, what, err, err_len)))
		return r;
	if ((r = cgroup_at(cgroup_dir, real, &id, &level, err, err_len)))
		return r;
	if (!(dir = strdup(cgroup_dir)))
		return -ENOMEM;
	if ((r = group_of(nb, real, id, &g))) {
		snprintf(err, err_len, "%s: %s", what, r == -ENOSPC ? "the breakers are on as many "
			 "cgroups as there are slots; clear one" : strerror(-r));
		free(dir);
		return r;
	}
	g->users++;
	if ((r = sync_links(nb, err, err_len))) {
		char ignored[256];

		g->users--;
		sync_links(nb, ignored, sizeof(ignored)); /* forgets g */
		free(dir);
		return r;
	}
	/* The kernel skips a free slot: fill it, then say what it is. */
	old = nb->cgroup[slot] ? e->cgroup_id : 0;
	__atomic_store_n(&e->state, SALVE_BRK_FREE, __ATOMIC_SEQ_CST);
	e->cgroup_id = id;
	e->level = (__u8)level;
	e->family = (__u16)ep->family;
	e->port = htons(ep->port);
	e->prefix = (__u8)ep->prefix;
	memcpy(e->addr, ep->addr, sizeof(e->addr));
	__atomic_store_n(&e->turned_away, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->admit, state == SALVE_BRK_HALF_OPEN ? admit : 0, __ATOMIC_RELAXED);
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
	release(nb, old);
	free(nb->cgroup[slot]);
	nb->cgroup[slot] = dir;
	return 0;
}

int netbreak_state(struct netbreak *nb, unsigned slot, enum salve_breaker_state state,
		   int64_t admit, char *err, size_t err_len)
{
	struct salve_breaker_entry *e = &nb->slots[slot < SALVE_BREAKERS_MAX ? slot : 0];
	char what[PATH_MAX + 64];

	if (slot >= SALVE_BREAKERS_MAX || !nb->cgroup[slot]) {
		snprintf(err, err_len, "breaker slot %u holds no breaker; set one first", slot);
		return slot >= SALVE_BREAKERS_MAX ? -EINVAL : -ENOENT;
	}
	snprintf(what, sizeof(what), "breaker in slot %u for cgroup %s", slot, nb->cgroup[slot]);
	if (check_state(state, admit, what, err, err_len))
		return -EINVAL;
	/* The admissions first, so the first connect of the half-open state finds them. */
	if (state == SALVE_BRK_HALF_OPEN)
		__atomic_store_n(&e->admit, admit, __ATOMIC_SEQ_CST);
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
	return 0;
}

int netbreak_read(const struct netbreak *nb, unsigned slot, struct netbreak_counts *out)
{
	const struct salve_breaker_entry *e;
	int64_t admit;

	if (slot >= SALVE_BREAKERS_MAX)
		return -EINVAL;
	e = &nb->slots[slot];
	out->state = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);
	admit = __atomic_load_n(&e->admit, __ATOMIC_RELAXED);
	out->admit = out->state == SALVE_BRK_HALF_OPEN && admit > 0 ? admit : 0;
	out->turned_away = __atomic_load_n(&e->turned_away, __ATOMIC_RELAXED);
	return 0;
}

void netbreak_clear(struct netbreak *nb, unsigned slot)
{
	struct salve_breaker_entry *e;
	uint64_t id;

	if (slot >= SALVE_BREAKERS_MAX || !nb->cgroup[slot])
		return;
	e = &nb->slots[slot];
	id = e->cgroup_id;
	__atomic_store_n(&e->state, SALVE_BRK_FREE, __ATOMIC_SEQ_CST);
	memset(e, 0, sizeof(*e));
	release(nb, id);
	free(nb->cgroup[slot]);
	nb->cgroup[slot] = NULL;
}

int netbreak_cgroup_of(int pid, char *dir, size_t len, char *err, size_t err_len)
{
	char path[64], line[4096];
	FILE *f;
	int r = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	if (!(f = fopen(path, "re"))) {
		r = -errno;
		snprintf(err, err_len, "process %d: %s: %s", pid, path,
			 r == -ENOENT ? "no such process" : strerror(-r));
		return r;
	}
	while (r == -ENOENT && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n");

		if (strncmp(line, "0::/", 4))
			continue;
		line[n] = '\0';
		r = (size_t)snprintf(dir, len, "%s%s", sys_cgroup2_root(),
				     strcmp(line + 3, "/") ? line + 3 : "") >= len ? -ENAMETOOLONG : 0;
	}
	fclose(f);
	if (r == -ENOENT)
		snprintf(err, err_len, "process %d is in no cgroup2 cgroup (%s has no 0:: line): "
			 "mount cgroup2", pid, path);
	else if (r)
		snprintf(err, err_len, "process %d: its cgroup's path is too long", pid);
	return r;
}

bool netbreak_probe(char *why, size_t why_len)
{
	struct netbreak *nb;

	if (netbreak_new(-1, &nb, why, why_len))
		return false;
	netbreak_free(nb);
	snprintf(why, why_len, "breakers around network endpoints: connect4 and connect6 "
		 "programs on the service's cgroup");
	return true;
}
