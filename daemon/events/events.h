/* events: decode ring-buffer records into validated, self-contained events.
 *
 * The reader trusts nothing: the size and version of every record are checked against
 * its kind before a byte is copied; strings are bounded and NUL-terminated; paths the
 * kernel wrote leaf first are put back in order. */
#ifndef SALVE_EVENTS_H
#define SALVE_EVENTS_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "salve/event.h"

struct event_frame {
	uint64_t ip;
	uint64_t file_off; /* offset of ip in its module's file */
	int module;        /* index into event.modules, or -1 when the kernel found no file */
};

struct event_module {
	char path[SALVE_PATH_MAX + 1];
	uint64_t dev, ino;
	bool truncated; /* the kernel could not walk the whole path */
};

struct event {
	enum salve_event_kind kind;
	uint64_t boot_ns;
	uint32_t pid, tid;
	uint64_t cgroup_id;
	uint64_t policies; /* bit i: in the scope of policy i of the set (hdr.policies) */
	uint32_t suppressed;
	uint32_t gen;      /* the kernel configuration that decided policies (hdr.gen) */
	char comm[SALVE_COMM_LEN + 1];
	struct event_module exe; /* empty path when the kernel had none (kernel thread, oom) */
	union {
		struct {
			int32_t signo, code;
			uint32_t sender_pid, flags; /* SALVE_SIG_* */
			uint64_t addr, ip;
		} sig;
		struct {
			uint32_t status; /* wait(2) status */
		} exit;
		struct {
			uint64_t total_vm_kb, anon_rss_kb, file_rss_kb, shmem_rss_kb, pgtables_kb;
			uint32_t uid;
			int32_t oom_score_adj;
		} oom;
		struct {
			uint32_t old_tid;
		} exec;
		struct {
			uint32_t site; /* site id; salved knows its probe */
			uint32_t syscall; /* syscall: its number */
			int64_t ret;
			uint64_t duration_ns;
		} call;
	};
	struct {
		uint32_t line;
		char text[SALVE_TEXT_MAX + 1];
		char file[SALVE_NAME_MAX + 1];
		char func[SALVE_NAME_MAX + 1];
	} text; /* abort: an assert's expression, file, line and function */
	/* The snapshot for a CFI unwinder (registers, mappings, stack copy) of a fault or of
	 * a probe whose stack is "cfi", in the record itself: valid while the record is (its
	 * ring-buffer callback), NULL when the record has none. Decoding checked that its
	 * mappings and stack bytes lie within the record. */
	const struct salve_snapshot *snap;
	size_t n_frames;
	struct event_frame frames[SALVE_STACK_MAX];
	size_t n_modules;
	struct event_module modules[SALVE_MODULES_MAX];
};

/* A snapshot's mappings, then its stack bytes, follow it in the record. */
static inline const struct salve_map *snapshot_maps(const struct salve_snapshot *s)
{
	return (const struct salve_map *)(s + 1);
}

static inline const uint8_t *snapshot_stack(const struct salve_snapshot *s)
{
	return (const uint8_t *)(snapshot_maps(s) + s->nr_maps);
}

/* Decode one record. 0 on success; -EINVAL when the size does not match its kind,
 * -EPROTO for another record version, -ENOTSUP for a kind this reader does not know. */
int events_decode(const void *data, size_t size, struct event *out);

/* Put a kernel path (components leaf first, each followed by '/') back in order:
 * "b/a/lib/usr/" becomes "/usr/lib/a/b". Returns 0 or -ENAMETOOLONG. */
int events_path(const char *kernel_path, size_t kernel_len, char *out, size_t out_len);

/* A module as a record names it, its path put back in order (a cut one as ".../leaf"). */
void events_module(const struct salve_module *m, struct event_module *out);

const char *events_kind_name(enum salve_event_kind kind);

/* A device number as records carry it, the kernel's own encoding (major << 20 | minor),
 * so a stat(2) can be compared with the file a record names. */
uint64_t events_kernel_dev(dev_t dev);

#endif
