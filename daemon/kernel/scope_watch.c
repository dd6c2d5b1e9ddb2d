#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "kernel/scope.h"
#include "kernel/scope_watch.h"

/* What a directory's entries do to a plan: appear (created, moved in, written), go
 * (deleted, moved out); and the directory itself going. */
#define DIR_EVENTS                                                                          \
	(IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | \
	 IN_MOVE_SELF | IN_ONLYDIR)
#define SLICE_DEPTH 5 /* as deep as salved looks for a unit's cgroup, less the unit */
#define ANY_SLICE "*.slice"

struct ident {
	int err; /* 0, or why the name is not there */
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
};

enum target_kind { TARGET_PATH, TARGET_UNIT };

/* One name a scope gives, and how it looked when armed. */
struct target {
	enum target_kind kind;
	char *name;
	struct ident seen;
};

/* One watched directory and the entry names in it that matter (ANY_SLICE: every
 * slice). */
struct wdir {
	int wd;
	char *path;
	char **names;
	size_t n_names;
};

struct scope_watch {
	int fd;
	char *cgroup_root;
	struct wdir *dirs;
	size_t n_dirs;
	struct target *targets;
	size_t n_targets;
};

int scope_watch_new(struct scope_watch **out)
{
	struct scope_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	/* Without inotify (the user's instances used up) salved still runs, on the re-check. */
	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		salve_log(LOG_WARNING, "inotify: %s; salved sees binaries installed and units "
			  "started only at its periodic re-check", strerror(errno));
	*out = w;
	return 0;
}

static void free_dirs(struct wdir *dirs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < dirs[i].n_names; j++)
			free(dirs[i].names[j]);
		free(dirs[i].names);
		free(dirs[i].path);
	}
	free(dirs);
}

static void free_targets(struct target *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].name);
	free(t);
}

void scope_watch_free(struct scope_watch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free_dirs(w->dirs, w->n_dirs);
	free_targets(w->targets, w->n_targets);
	free(w->cgroup_root);
	free(w);
}

int scope_watch_fd(const struct scope_watch *w)
{
	return w->fd;
}

const char *scope_watch_dir(const struct scope_watch *w, size_t i)
{
	return i < w->n_dirs ? w->dirs[i].path : NULL;
}

/* What is being built by an arm. */
struct arming {
	const char *root;
	struct wdir *dirs;
	size_t n_dirs;
	struct target *targets;
	size_t n_targets;
};

/* Watch dir for entry name (added to the names of a directory already listed). */
static int add_dir(struct arming *a, const char *dir, const char *name)
{
	struct wdir *d = NULL;
	char **names;

	for (size_t i = 0; i < a->n_dirs && !d; i++)
		if (!strcmp(a->dirs[i].path, dir))
			d = &a->dirs[i];
	if (!d) {
		struct wdir *n = realloc(a->dirs, (a->n_dirs + 1) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->dirs = n;
		d = &n[a->n_dirs];
		*d = (struct wdir){ .wd = -1, .path = strdup(dir) };
		if (!d->path)
			return -ENOMEM;
		a->n_dirs++;
	}
	for (size_t i = 0; i < d->n_names; i++)
		if (!strcmp(d->names[i], name))
			return 0;
	if (!(names = realloc(d->names, (d->n_names + 1) * sizeof(*names))))
		return -ENOMEM;
	d->names = names;
	if (!(names[d->n_names] = strdup(name)))
		return -ENOMEM;
	d->n_names++;
	return 0;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* Watch where path would appear or go: its parent, or while that is missing the nearest
 * ancestor that exists, for the next component down. */
static int watch_path(struct arming *a, const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return 0; /* no such file can exist */
	while ((slash = strrchr(dir, '/'))) {
		char name[NAME_MAX + 1];

		snprintf(name, sizeof(name), "%s", slash + 1);
		if (slash == dir)
			slash[1] = 0; /* the root */
		else
			*slash = 0;
		if (is_dir(dir))
			return name[0] ? add_dir(a, dir, name) : 0;
		if (slash == dir)
			break;
	}
	return 0;
}

/* A unit not running: its cgroup will appear in a slice, maybe one not there yet. */
static int watch_slices(struct arming *a, const char *dir, const char *unit, int depth)
{
	struct dirent *de;
	DIR *d;
	int err;

	if ((err = add_dir(a, dir, unit)) || (err = add_dir(a, dir, ANY_SLICE)))
		return err;
	if (depth <= 1 || !(d = opendir(dir)))
		return 0;
	while (!err && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char sub[PATH_MAX];

		if (de->d_type != DT_DIR || len < 6 || strcmp(de->d_name + len - 6, ".slice") ||
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= sizeof(sub))
			continue;
		err = watch_slices(a, sub, unit, depth - 1);
	}
	closedir(d);
	return err;
}

static void identify(const char *root, const struct target *t, struct ident *id)
{
	char path[PATH_MAX];
	const char *p = t->name;
	struct stat st;

	*id = (struct ident){ 0 };
	if (t->kind == TARGET_UNIT) {
		if ((id->err = scope_unit_cgroup(root, t->name, path, sizeof(path))))
			return;
		p = path;
	}
	if (stat(p, &st)) {
		id->err = -errno;
		return;
	}
	*id = (struct ident){ 0, st.st_dev, st.st_ino, st.st_mtim, st.st_size };
}

static bool same_ident(const struct ident *a, const struct ident *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->size == b->size;
}

static int add_target(struct arming *a, enum target_kind kind, const char *name)
{
	struct target *n = realloc(a->targets, (a->n_targets + 1) * sizeof(*n));
	char path[PATH_MAX];

	if (!n)
		return -ENOMEM;
	a->targets = n;
	n = &n[a->n_targets];
	*n = (struct target){ .kind = kind, .name = strdup(name) };
	if (!n->name)
		return -ENOMEM;
	a->n_targets++;
	identify(a->root, n, &n->seen);
	if (kind == TARGET_PATH)
		return watch_path(a, name);
	if (!scope_unit_cgroup(a->root, name, path, sizeof(path)))
		return watch_path(a, path);
	return watch_slices(a, a->root, name, SLICE_DEPTH); /* the slices it may start in */
}

static int add_scope(struct arming *a, const struct policy_scope *sc)
{
	char path[PATH_MAX];
	int err = 0;

	for (size_t i = 0; i < sc->n_binaries && !err; i++)
		err = add_target(a, TARGET_PATH, sc->binaries[i]);
	for (size_t i = 0; i < sc->n_cgroups && !err; i++) {
		snprintf(path, sizeof(path), "%s%s", a->root, sc->cgroups[i]);
		err = add_target(a, TARGET_PATH, path);
	}
	for (size_t i = 0; i < sc->n_units && !err; i++)
		err = add_target(a, TARGET_UNIT, sc->units[i]);
	return err;
}

static struct wdir *find_wd(struct wdir *dirs, size_t n, int wd)
{
	for (size_t i = 0; i < n; i++)
		if (dirs[i].wd == wd)
			return &dirs[i];
	return NULL;
}

int scope_watch_arm(struct scope_watch *w, const struct policy_set *set, const char *cgroup_root)
{
	struct arming a = { .root = cgroup_root };
	char *root = strdup(cgroup_root);
	int err = root ? 0 : -ENOMEM;

	for (size_t i = 0; i < set->n_policies && !err; i++) {
		const struct policy_scope *sc = &set->policies[i].scope;

		if (!(err = add_scope(&a, sc)) && sc->exclude)
			err = add_scope(&a, sc->exclude);
	}
	if (err) {
		free_dirs(a.dirs, a.n_dirs);
		free_targets(a.targets, a.n_targets);
		free(root);
		return err;
	}
	/* The same directory keeps its watch descriptor: add the new ones first, then drop
	 * the old ones no longer wanted. */
	for (size_t i = 0; i < a.n_dirs && w->fd >= 0; i++) {
		a.dirs[i].wd = inotify_add_watch(w->fd, a.dirs[i].path, DIR_EVENTS);
		if (a.dirs[i].wd < 0 && errno != ENOENT && errno != ENOTDIR)
			salve_log(LOG_WARNING, "cannot watch %s for the scope's names: %s; salved "
				  "sees changes there only at its periodic re-check", a.dirs[i].path,
				  strerror(errno));
	}
	for (size_t i = 0; i < w->n_dirs; i++)
		if (w->dirs[i].wd >= 0 && !find_wd(a.dirs, a.n_dirs, w->dirs[i].wd))
			inotify_rm_watch(w->fd, w->dirs[i].wd);
	free_dirs(w->dirs, w->n_dirs);
	free_targets(w->targets, w->n_targets);
	free(w->cgroup_root);
	w->dirs = a.dirs;
	w->n_dirs = a.n_dirs;
	w->targets = a.targets;
	w->n_targets = a.n_targets;
	w->cgroup_root = root;
	return 0;
}

static bool name_matters(const struct wdir *d, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < d->n_names; i++) {
		if (!strcmp(d->names[i], name))
			return true;
		if (!strcmp(d->names[i], ANY_SLICE) && len > 6 && !strcmp(name + len - 6, ".slice"))
			return true;
	}
	return false;
}

/* Two paths to one directory (/bin and /usr/bin on a merged /usr) share a descriptor:
 * every directory with ev's descriptor is asked. A descriptor no directory has was
 * dropped by the last arm. */
static bool event_matters(const struct scope_watch *w, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW)
		return true; /* events were lost: any may have mattered */
	for (size_t i = 0; i < w->n_dirs; i++) {
		if (w->dirs[i].wd != ev->wd)
			continue;
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT))
			return true; /* the directory went: watch its ancestors instead */
		if (ev->len && name_matters(&w->dirs[i], ev->name))
			return true;
	}
	return false;
}

int scope_watch_read(struct scope_watch *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;

	while (w->fd >= 0) {
		ssize_t n = read(w->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? changed : -errno;
		if (n == 0)
			return changed;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			changed |= event_matters(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	return 0;
}

int scope_watch_poll(const struct scope_watch *w)
{
	for (size_t i = 0; i < w->n_targets; i++) {
		struct ident now;

		identify(w->cgroup_root, &w->targets[i], &now);
		if (!same_ident(&now, &w->targets[i].seen))
			return 1;
	}
	return 0;
}
