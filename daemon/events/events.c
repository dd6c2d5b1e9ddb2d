/* events: decode ring-buffer records into validated, self-contained events. */
#include "events/events.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/sysmacros.h>

#define ELLIPSIS "..."

/* Reverse a leaf-first kernel path into out. Empty components (a root dentry named
 * "/" written as "//") are skipped. A last component with no '/' after it was cut by
 * the kernel mid-name: it is dropped, and *partial says so. */
static int path_reverse(const char *kpath, size_t klen, char *out, size_t out_len, bool *partial)
{
	size_t len = strnlen(kpath, klen);
	size_t end = len, pos = 0;

	*partial = false;
	if (!out_len)
		return -ENAMETOOLONG;
	if (!len) {
		out[0] = '\0';
		return 0;
	}
	if (kpath[len - 1] != '/') {
		*partial = true;
		while (end > 0 && kpath[end - 1] != '/')
			end--;
	}
	/* Walk components from the last (outermost) back to the first (the leaf). */
	while (end > 0) {
		size_t stop = end - 1; /* the '/' that ends this component */
		size_t start = stop;

		while (start > 0 && kpath[start - 1] != '/')
			start--;
		if (stop > start) {
			size_t n = stop - start;

			if (pos + 1 + n >= out_len)
				return -ENAMETOOLONG;
			out[pos++] = '/';
			memcpy(out + pos, kpath + start, n);
			pos += n;
		}
		end = start;
	}
	if (!pos) {
		/* Only separators: the root itself, unless the kernel cut everything. */
		if (*partial) {
			out[0] = '\0';
			return 0;
		}
		if (out_len < 2)
			return -ENAMETOOLONG;
		out[pos++] = '/';
	}
	out[pos] = '\0';
	return 0;
}

int events_path(const char *kernel_path, size_t kernel_len, char *out, size_t out_len)
{
	bool partial;

	return path_reverse(kernel_path, kernel_len, out, out_len, &partial);
}

/* A module as the daemon keeps it. A path the kernel could not walk whole is shown as
 * ".../inner/leaf": when "..." does not fit, outer components give way, the leaf stays. */
void events_module(const struct salve_module *m, struct event_module *out)
{
	char full[SALVE_PATH_MAX + 1];
	const char *keep;
	bool partial;
	size_t room = sizeof(out->path) - strlen(ELLIPSIS), n;

	out->dev = m->dev;
	out->ino = m->ino;
	/* The reversed path is never longer than the kernel's, so this cannot fail. */
	if (path_reverse(m->path, sizeof(m->path), full, sizeof(full), &partial) < 0)
		full[0] = '\0';
	out->truncated = (m->path_flags & SALVE_PATH_TRUNCATED) || partial;
	if (!out->truncated) {
		memcpy(out->path, full, strlen(full) + 1);
		return;
	}
	keep = full;
	while (strlen(keep) >= room) {
		const char *next = strchr(keep + 1, '/');

		if (!next) {
			keep = "";
			break;
		}
		keep = next;
	}
	/* "/" alone would read as the root; a cut path of no components is just "...". */
	if (!strcmp(keep, "/"))
		keep = "";
	n = strlen(keep);
	memcpy(out->path, ELLIPSIS, strlen(ELLIPSIS));
	memcpy(out->path + strlen(ELLIPSIS), keep, n + 1);
}

static void decode_stack(const struct salve_stack *st, struct event *out)
{
	size_t nr_frames = st->nr_frames, nr_modules = st->nr_modules;

	if (nr_frames > SALVE_STACK_MAX)
		nr_frames = SALVE_STACK_MAX;
	if (nr_modules > SALVE_MODULES_MAX)
		nr_modules = SALVE_MODULES_MAX;
	for (size_t i = 0; i < nr_modules; i++)
		events_module(&st->modules[i], &out->modules[i]);
	for (size_t i = 0; i < nr_frames; i++) {
		unsigned int m = st->module[i];

		out->frames[i].ip = st->ip[i];
		out->frames[i].file_off = st->file_off[i];
		out->frames[i].module = (m == SALVE_MODULE_NONE || m >= nr_modules) ? -1 : (int)m;
	}
	out->n_frames = nr_frames;
	out->n_modules = nr_modules;
}

static size_t kind_size(unsigned int kind)
{
	switch (kind) {
	case SALVE_EV_SIGNAL:
		return sizeof(struct salve_signal_event);
	case SALVE_EV_EXIT:
		return sizeof(struct salve_exit_event);
	case SALVE_EV_OOM:
		return sizeof(struct salve_oom_event);
	case SALVE_EV_EXEC:
		return sizeof(struct salve_exec_event);
	case SALVE_EV_RETURN:
	case SALVE_EV_LATENCY:
	case SALVE_EV_SYSCALL:
		return sizeof(struct salve_call_event);
	case SALVE_EV_ABORT:
	case SALVE_EV_EXCEPTION:
		return sizeof(struct salve_text_event);
	}
	return 0;
}

/* Function-call records carry a stack when their site asks for one. */
static bool has_stack_variant(unsigned int kind)
{
	return kind == SALVE_EV_RETURN || kind == SALVE_EV_LATENCY || kind == SALVE_EV_ABORT ||
	       kind == SALVE_EV_EXCEPTION || kind == SALVE_EV_SYSCALL;
}

int events_decode(const void *data, size_t size, struct event *out)
{
	/* Copied out first: ring-buffer memory is shared and need not be aligned for us. */
	union {
		struct salve_event_hdr hdr;
		struct salve_signal_event sig;
		struct salve_exit_event exit;
		struct salve_oom_event oom;
		struct salve_exec_event exec;
		struct salve_call_stack_event call;
		struct salve_text_stack_event text;
	} rec;
	const struct salve_snapshot *snap = NULL;
	size_t want;

	if (!data || size < sizeof(rec.hdr))
		return -EINVAL;
	memcpy(&rec.hdr, data, sizeof(rec.hdr));
	if (rec.hdr.version != SALVE_EVENT_VERSION)
		return -EPROTO;
	want = kind_size(rec.hdr.kind);
	if (!want)
		return -ENOTSUP;
	/* Read once, then gone: fetched without pushing out what salved keeps. Only the
	 * kind's record: of a snapshot's stack copy the unwinder reads a few words. */
	for (size_t at = 0; at < size && at < want; at += 64)
		__builtin_prefetch((const char *)data + at, 0, 0);
	if (rec.hdr.flags & SALVE_HDR_SNAPSHOT) {
		/* The kind's record, then the snapshot, its mappings and the stack bytes it
		 * copied. It stays where it is, read once, by the unwinder. */
		size_t rest;

		if (rec.hdr.size < want + sizeof(*snap) || rec.hdr.size > size)
			return -EINVAL;
		snap = (const struct salve_snapshot *)((const char *)data + want);
		rest = rec.hdr.size - want - sizeof(*snap);
		if (snap->nr_maps > SALVE_MAPS_MAX || snap->nr_maps * sizeof(struct salve_map) > rest ||
		    snap->size > rest - snap->nr_maps * sizeof(struct salve_map))
			return -EINVAL;
	} else {
		if (has_stack_variant(rec.hdr.kind) && rec.hdr.size == want + sizeof(struct salve_stack))
			want = rec.hdr.size;
		if (rec.hdr.size != want || want > size)
			return -EINVAL;
	}
	memcpy(&rec, data, want);

	/* All but the stack arrays, which are read only up to their counts: clearing
	 * their 2.4 KB for every record cost more than the rest of the decoding. */
	memset(out, 0, offsetof(struct event, frames));
	out->snap = snap;
	out->n_modules = 0;
	out->kind = rec.hdr.kind;
	out->boot_ns = rec.hdr.boot_ns;
	out->pid = rec.hdr.pid;
	out->tid = rec.hdr.tid;
	out->cgroup_id = rec.hdr.cgroup_id;
	out->policies = rec.hdr.policies;
	out->suppressed = rec.hdr.suppressed;
	out->gen = rec.hdr.gen;
	memcpy(out->comm, rec.hdr.comm, strnlen(rec.hdr.comm, sizeof(rec.hdr.comm)));

	switch (rec.hdr.kind) {
	case SALVE_EV_SIGNAL:
		out->sig.signo = rec.sig.signo;
		out->sig.code = rec.sig.code;
		out->sig.sender_pid = rec.sig.sender_pid;
		out->sig.flags = rec.sig.flags;
		out->sig.addr = rec.sig.addr;
		out->sig.ip = rec.sig.ip;
		events_module(&rec.sig.exe, &out->exe);
		decode_stack(&rec.sig.stack, out);
		break;
	case SALVE_EV_EXIT:
		out->exit.status = rec.exit.status;
		events_module(&rec.exit.exe, &out->exe);
		break;
	case SALVE_EV_OOM:
		out->oom.total_vm_kb = rec.oom.total_vm_kb;
		out->oom.anon_rss_kb = rec.oom.anon_rss_kb;
		out->oom.file_rss_kb = rec.oom.file_rss_kb;
		out->oom.shmem_rss_kb = rec.oom.shmem_rss_kb;
		out->oom.pgtables_kb = rec.oom.pgtables_kb;
		out->oom.uid = rec.oom.uid;
		out->oom.oom_score_adj = rec.oom.oom_score_adj;
		break;
	case SALVE_EV_EXEC:
		out->exec.old_tid = rec.exec.old_tid;
		events_module(&rec.exec.exe, &out->exe);
		break;
	case SALVE_EV_RETURN:
	case SALVE_EV_LATENCY:
	case SALVE_EV_SYSCALL:
		out->call.site = rec.call.call.site;
		out->call.syscall = rec.call.call.syscall;
		out->call.ret = rec.call.call.ret;
		out->call.duration_ns = rec.call.call.duration_ns;
		out->exe.dev = rec.call.call.exe_dev;
		out->exe.ino = rec.call.call.exe_ino;
		if (want == sizeof(struct salve_call_stack_event))
			decode_stack(&rec.call.stack, out);
		break;
	case SALVE_EV_ABORT:
	case SALVE_EV_EXCEPTION:
		out->call.site = rec.text.text.call.site;
		out->exe.dev = rec.text.text.call.exe_dev;
		out->exe.ino = rec.text.text.call.exe_ino;
		out->text.line = rec.text.text.line;
		memcpy(out->text.text, rec.text.text.text, strnlen(rec.text.text.text, SALVE_TEXT_MAX));
		memcpy(out->text.file, rec.text.text.file, strnlen(rec.text.text.file, SALVE_NAME_MAX));
		memcpy(out->text.func, rec.text.text.func, strnlen(rec.text.text.func, SALVE_NAME_MAX));
		if (want == sizeof(struct salve_text_stack_event))
			decode_stack(&rec.text.stack, out);
		break;
	}
	return 0;
}

const char *events_kind_name(enum salve_event_kind kind)
{
	switch (kind) {
	case SALVE_EV_SIGNAL:
		return "signal";
	case SALVE_EV_EXIT:
		return "exit";
	case SALVE_EV_OOM:
		return "oom";
	case SALVE_EV_EXEC:
		return "exec";
	case SALVE_EV_RETURN:
		return "return";
	case SALVE_EV_LATENCY:
		return "latency";
	case SALVE_EV_STALL:
		return "stall";
	case SALVE_EV_ABORT:
		return "abort";
	case SALVE_EV_EXCEPTION:
		return "exception";
	case SALVE_EV_SYSCALL:
		return "syscall";
	case SALVE_EV_KIND_MAX:
		break;
	}
	return "unknown";
}

uint64_t events_kernel_dev(dev_t dev)
{
	return ((uint64_t)major(dev) << 20) | minor(dev);
}
