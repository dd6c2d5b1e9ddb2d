#define _GNU_SOURCE /* strchrnul */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "ctl/policy_watch.h"
#include "policy/policy.h"

/* In the policies' directory: entries that appear, are written, renamed, deleted or
 * change mode; and the directory itself going. In its parent: the directory's name
 * coming or going. */
#define SELF_GONE (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)
#define DIR_EVENTS                                                                        \
	(IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB |  \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define PARENT_EVENTS                                                                     \
	(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | \
	 IN_ONLYDIR | IN_EXCL_UNLINK)

struct policy_watch {
	struct loop *loop;
	int fd;
	char *path;	/* the policy, absolute */
	char *dir;	/* whose entries are watched */
	char *parent;	/* watched for dir_name; NULL when dir is the root */
	char *dir_name;
	char *file;	/* the policy file's name in dir; NULL: the policy is dir */
	int wd_dir;	/* -1 while dir is missing */
	int wd_parent;	/* -1 when the parent went */
	bool dir_missing_said;
	struct loop_timer settle;
	uint64_t settle_ns;
	policy_watch_fn *changed;
	void *ctx;
};

static void say(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* path made absolute against the working directory, without "." components, empty
 * components or a trailing slash; symbolic links are kept, so a link swapped later is
 * followed. NULL and errno when the working directory is gone, the path too long, or
 * memory short. */
static char *absolute(const char *path)
{
	char joined[PATH_MAX], cwd[PATH_MAX], buf[PATH_MAX];
	size_t len = 0;

	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return NULL;
	if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", path[0] == '/' ? "" : cwd,
			     path) >= sizeof(joined)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	for (const char *p = joined, *end; *p; p = end) {
		size_t n;

		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		n = end - p;
		if (!n || (n == 1 && p[0] == '.'))
			continue;
		buf[len++] = '/';
		memcpy(buf + len, p, n);
		len += n;
	}
	if (!len)
		buf[len++] = '/';
	buf[len] = 0;
	return strdup(buf);
}

/* Split absolute path into its directory (a new string) and last component. */
static char *dir_of(const char *abs, const char **name)
{
	const char *slash = strrchr(abs, '/');

	*name = slash + 1;
	return slash == abs ? strdup("/") : strndup(abs, slash - abs);
}

/* Whether an entry of that name, in the watched directory, is part of the policy. */
static bool matters(const struct policy_watch *w, const char *name)
{
	if (!strncmp(name, "..", 2))
		return name[2] != 0; /* a ConfigMap's ..data, ..data_tmp, ..<timestamp> */
	return w->file ? !strcmp(name, w->file) : policy_dir_entry(name);
}

/* Watch what dir's name holds now, in place of what it held. */
static void rewatch_dir(struct policy_watch *w)
{
	int wd = inotify_add_watch(w->fd, w->dir, DIR_EVENTS), err;

	if (wd >= 0) {
		if (w->wd_dir >= 0 && w->wd_dir != wd)
			inotify_rm_watch(w->fd, w->wd_dir);
		if (w->dir_missing_said)
			salve_log(LOG_INFO, "policy watch: %s is back", w->dir);
		w->wd_dir = wd;
		w->dir_missing_said = false;
		return;
	}
	err = errno;
	if (w->wd_dir >= 0)
		inotify_rm_watch(w->fd, w->wd_dir);
	w->wd_dir = -1;
	if (!w->dir_missing_said)
		salve_log(LOG_WARNING, "policy watch: %s: %s; %s", w->dir, strerror(err),
			  w->wd_parent >= 0 ? "watching for it to come back"
					    : "its changes are not seen until salved restarts");
	w->dir_missing_said = true;
}

/* One event: whether it changes the policy. */
static bool on_event(struct policy_watch *w, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		salve_log(LOG_WARNING, "policy watch: %s: events were lost (the inotify queue "
			  "overflowed); reloading to be sure", w->dir);
		rewatch_dir(w);
		return true;
	}
	if (ev->wd == w->wd_dir && w->wd_dir >= 0) {
		if (ev->mask & SELF_GONE) {
			if (ev->mask & IN_IGNORED)
				w->wd_dir = -1; /* the kernel dropped the watch itself */
			rewatch_dir(w);
			return true;
		}
		return ev->len && matters(w, ev->name);
	}
	if (ev->wd == w->wd_parent && w->wd_parent >= 0) {
		if (ev->mask & SELF_GONE) {
			if (!(ev->mask & IN_IGNORED))
				inotify_rm_watch(w->fd, w->wd_parent);
			w->wd_parent = -1;
			salve_log(LOG_WARNING, "policy watch: %s went away: a directory put in "
				  "place of %s is not seen until salved restarts", w->parent, w->dir);
			return false;
		}
		if (ev->len && !strcmp(ev->name, w->dir_name)) {
			rewatch_dir(w);
			return true;
		}
	}
	return false;
}

static int on_settled(struct loop_timer *t, void *ctx)
{
	struct policy_watch *w = ctx;

	(void)t;
	salve_log(LOG_INFO, "policy watch: %s changed: reloading", w->path);
	w->changed(w->ctx);
	return 0;
}

static int on_events(int fd, void *ctx)
{
	struct policy_watch *w = ctx;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		for (char *p = buf; n > 0 && p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			p += sizeof(*ev) + ev->len;
			changed |= on_event(w, ev);
		}
	}
	if (n < 0 && errno != EAGAIN)
		salve_log(LOG_ERR, "policy watch: reading %s's events: %s", w->dir, strerror(errno));
	/* A burst moves the reload on: it comes settle_ns after the last change. */
	if (changed && loop_timer_arm(w->loop, &w->settle, w->settle_ns))
		salve_log(LOG_ERR, "policy watch: %s changed, but the reload cannot be timed: %s",
			  w->dir, strerror(ENOMEM));
	return 0;
}

int policy_watch_new(struct loop *loop, const struct policy_watch_config *cfg,
		     struct policy_watch **out, char *err, size_t err_len)
{
	struct policy_watch *w = calloc(1, sizeof(*w));
	const char *name;
	struct stat st;
	int rc;

	if (!w) {
		say(err, err_len, "--watch-policy %s: %s", cfg->path, strerror(ENOMEM));
		return -ENOMEM;
	}
	*w = (struct policy_watch){ .fd = -1, .wd_dir = -1, .wd_parent = -1,
				    .settle = { .handler = on_settled, .ctx = w },
				    .settle_ns = cfg->settle_ns ?: POLICY_WATCH_SETTLE_MS * 1000000ull,
				    .changed = cfg->changed, .ctx = cfg->ctx };
	if (!(w->path = absolute(cfg->path))) {
		rc = -errno;
		say(err, err_len, "--watch-policy %s: %s", cfg->path, strerror(-rc));
		goto err;
	}
	if (stat(w->path, &st)) {
		rc = -errno;
		say(err, err_len, "--watch-policy: %s: %s", cfg->path, strerror(errno));
		goto err;
	}
	if (S_ISDIR(st.st_mode) ? !(w->dir = strdup(w->path))
				: !(w->dir = dir_of(w->path, &name)) || !(w->file = strdup(name)))
		goto nomem;
	if (strcmp(w->dir, "/") &&
	    (!(w->parent = dir_of(w->dir, &name)) || !(w->dir_name = strdup(name))))
		goto nomem;
	if ((w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		rc = -errno;
		say(err, err_len, "--watch-policy: inotify: %s%s", strerror(errno),
		    errno == EMFILE ? " (raise fs.inotify.max_user_instances)" : "");
		goto err;
	}
	if ((w->wd_dir = inotify_add_watch(w->fd, w->dir, DIR_EVENTS)) < 0) {
		rc = -errno;
		say(err, err_len, "--watch-policy: cannot watch %s: %s%s", w->dir, strerror(errno),
		    errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
		goto err;
	}
	/* Without its parent the directory is still watched: only a replaced one is missed. */
	if (w->parent && (w->wd_parent = inotify_add_watch(w->fd, w->parent, PARENT_EVENTS)) < 0)
		salve_log(LOG_WARNING, "policy watch: cannot watch %s: %s; a directory put in "
			  "place of %s is not seen", w->parent, strerror(errno), w->dir);
	if ((rc = loop_add(loop, w->fd, on_events, w))) {
		say(err, err_len, "--watch-policy: %s", strerror(-rc));
		goto err;
	}
	w->loop = loop;
	*out = w;
	return 0;
nomem:
	rc = -ENOMEM;
	say(err, err_len, "--watch-policy %s: %s", cfg->path, strerror(ENOMEM));
err:
	policy_watch_free(w);
	return rc;
}

void policy_watch_free(struct policy_watch *w)
{
	if (!w)
		return;
	if (w->loop) {
		loop_timer_disarm(w->loop, &w->settle);
		loop_remove(w->loop, w->fd);
	}
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	free(w->dir);
	free(w->parent);
	free(w->dir_name);
	free(w->file);
	free(w);
}

const char *policy_watch_dir(const struct policy_watch *w)
{
	return w->dir;
}
