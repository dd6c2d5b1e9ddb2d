/* policy_watch: when salved's policy files changed (salved --watch-policy), so that it
 * reloads them as 'salvectl reload' does.
 *
 * inotify watches the directory that holds the policies: the --policy directory, or the
 * directory of a --policy file. A change is an entry there that appears, is written
 * and closed, is renamed in or out, is deleted or changes its mode, when its name is
 *   - in a policy directory, one policy_set_load reads (*.json, no hidden file);
 *   - for a policy file, that file's name;
 *   - in either, a name that begins with "..": a Kubernetes ConfigMap (or Secret)
 *     volume keeps its files in a "..<timestamp>" directory, points the "..data"
 *     symbolic link at it, and shows each key as a link through "..data"; an update
 *     writes a new timestamped directory and swaps "..data" by rename, so the names
 *     the pod reads change all at once and no event names them.
 * An editor's swap and backup files are no change. The directory's parent is watched
 * too, for the directory's own name: when that name comes to hold another directory (a
 * symbolic link swapped to the next release, a directory moved into place), the watch
 * moves to it, and that is a change. So is an inotify queue that overflowed. A policy
 * file that is a symbolic link out of its directory is reloaded when the link changes,
 * not when the file it points to does.
 *
 * The reload is asked for once the changes settle: settle_ns after the last of a burst
 * (an editor's save, kubelet's swap and its links), so a burst makes one reload, of
 * the files as they are at its end. */
#ifndef SALVE_POLICY_WATCH_H
#define SALVE_POLICY_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/loop.h"

#define POLICY_WATCH_SETTLE_MS 500

/* The policy changed and has settled: reload it. */
typedef void policy_watch_fn(void *ctx);

struct policy_watch_config {
	const char *path;   /* --policy: a file, or a directory of *.json */
	uint64_t settle_ns; /* 0: POLICY_WATCH_SETTLE_MS */
	policy_watch_fn *changed;
	void *ctx;
};

struct policy_watch;

/* Watch cfg->path from loop. 0, or -errno and err saying why, naming the path (no
 * inotify instance left, the directory cannot be watched). */
int policy_watch_new(struct loop *loop, const struct policy_watch_config *cfg,
		     struct policy_watch **out, char *err, size_t err_len);
/* Stop watching (a reload still to come does not come). NULL-safe. */
void policy_watch_free(struct policy_watch *w);

/* The directory whose entries are watched (absolute, symbolic links not resolved). */
const char *policy_watch_dir(const struct policy_watch *w);

#endif
