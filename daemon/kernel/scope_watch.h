/* scope_watch: when to plan the scope again. A scope plan depends on the file system:
 * the binaries a scope names (installed later, replaced by rename, deleted) and the
 * cgroups of its cgroups and units (created when a service starts). scope_watch keeps
 * inotify watches on the directories where those names appear or go: the parent of each
 * binary and cgroup, or its nearest existing ancestor while the parent is missing, and
 * for a unit not running the cgroup2 root and its slices. What inotify cannot see (a
 * binary reached through a symbolic link, a file system that sends no events) is caught
 * by scope_watch_poll, which stats every name and walks for units, opening no file. */
#ifndef SALVE_SCOPE_WATCH_H
#define SALVE_SCOPE_WATCH_H

#include <stddef.h>

#include "policy/policy.h"

struct scope_watch;

int scope_watch_new(struct scope_watch **out);
void scope_watch_free(struct scope_watch *w);

/* The inotify fd, for the event loop: readable when scope_watch_read has work; -1
 * when inotify is not to be had (scope_watch_new said so), and only the poll sees. */
int scope_watch_fd(const struct scope_watch *w);

/* Watch what set's scope depends on, in place of what was watched before, and remember
 * how every name looks now (for scope_watch_poll). Arm before planning: a change after
 * this call is seen. A directory that cannot be watched is logged, and left to
 * scope_watch_poll. 0 or -errno (out of memory). */
int scope_watch_arm(struct scope_watch *w, const struct policy_set *set, const char *cgroup_root);

/* Read every pending event: 1 when one of them may change the plan, 0 when none can,
 * or -errno. Never blocks. */
int scope_watch_read(struct scope_watch *w);

/* Stat every name again: 1 when one differs from what scope_watch_arm saw, else 0. */
int scope_watch_poll(const struct scope_watch *w);

/* The i-th directory watched, or NULL past the last. */
const char *scope_watch_dir(const struct scope_watch *w, size_t i);

#endif
