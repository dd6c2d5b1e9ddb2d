/* unwind: a fault's stack unwound from its snapshot with libdwfl. */
#include "symbols/unwind.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* DWARF register numbers of x86-64 (the psABI's): rbx 3, rbp 6, rsp 7, r12-r15 12-15. */
#define DW_X86_64_RBX 3
#define DW_X86_64_RBP 6
#define DW_X86_64_RSP 7
#define DW_X86_64_R12 12

#define UNWIND_SESSIONS 16 /* processes (sets of mappings) kept ready to unwind */

/* What the callbacks of one libdwfl session see: the mappings it was built for, and
 * the snapshot being unwound now. */
struct unwind_ctx {
	const struct salve_snapshot *snap;
	const struct salve_map *maps; /* the snapshot's */
	const uint8_t *stack;         /* the snapshot's copy of the stack */
	size_t n_maps;
	uint64_t page_size;
	uint32_t tid;
	int fds[SALVE_MAPS_MAX]; /* each map's file, for reads of text and data; -1: none */
	struct unwind_frame *out;
	size_t max, n;
};

/* A mapping as a session knows it, its path aside. */
struct map_key {
	uint64_t start, end, pgoff, dev, ino;
};

/* A libdwfl session for one set of mappings (a process, or one binary started again at
 * the same addresses), kept so its next snapshot finds the modules reported, their files
 * open and their CFI parsed: building a session costs far more than an unwind. */
struct unwind_session {
	Dwfl *dwfl; /* NULL: a free slot */
	struct map_key key[SALVE_MAPS_MAX];
	size_t n_key;
	uint64_t last_use;
	struct unwind_ctx c;
};

struct unwinder {
	struct unwind_session sessions[UNWIND_SESSIONS];
	uint64_t clock;
};

static char *debuginfo_path;

/* Every module is reported with its file; CFI split into a debug file is found by
 * build id and debuglink. */
static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

/* The map holding addr, or -1. */
static int map_of(const struct unwind_ctx *c, uint64_t addr)
{
	for (size_t i = 0; i < c->n_maps; i++)
		if (c->maps[i].start <= addr && addr < c->maps[i].end)
			return (int)i;
	return -1;
}

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct unwind_ctx *c = arg;

	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = c;
	return (pid_t)c->tid;
}

/* Stack slots from the copy; anything else from the mapped files (text, read-only
 * data). Memory the snapshot did not keep cannot be read. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct unwind_ctx *c = arg;
	uint64_t sp = c->snap->regs[SALVE_REG_SP];
	size_t size = c->snap->size > SALVE_USTACK_MAX ? SALVE_USTACK_MAX : c->snap->size;
	int m;

	(void)dwfl;
	if (addr >= sp && addr - sp <= size && size - (addr - sp) >= sizeof(*result)) {
		memcpy(result, c->stack + (addr - sp), sizeof(*result));
		return true;
	}
	m = map_of(c, addr);
	if (m >= 0 && c->fds[m] >= 0 && c->maps[m].end - addr >= sizeof(*result)) {
		off_t off = (off_t)(addr - c->maps[m].start + c->maps[m].pgoff * c->page_size);

		return pread(c->fds[m], result, sizeof(*result), off) == sizeof(*result);
	}
	return false;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	const struct unwind_ctx *c = arg;
	const __u64 *r = c->snap->regs;
	Dwarf_Word bx = r[SALVE_REG_BX], bp_sp[2] = { r[SALVE_REG_BP], r[SALVE_REG_SP] };
	Dwarf_Word hi[4] = { r[SALVE_REG_R12], r[SALVE_REG_R13], r[SALVE_REG_R14], r[SALVE_REG_R15] };

	if (!dwfl_thread_state_registers(thread, DW_X86_64_RBX, 1, &bx) ||
	    !dwfl_thread_state_registers(thread, DW_X86_64_RBP, 2, bp_sp) ||
	    !dwfl_thread_state_registers(thread, DW_X86_64_R12, 4, hi))
		return false;
	dwfl_thread_state_register_pc(thread, r[SALVE_REG_IP]);
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static int on_frame(Dwfl_Frame *state, void *arg)
{
	struct unwind_ctx *c = arg;
	struct unwind_frame *f;
	Dwarf_Addr pc;
	bool activation;
	uint64_t at;
	int m;

	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	/* A return address is the instruction after the call: the call is what ran. */
	at = activation || !pc ? pc : pc - 1;
	m = map_of(c, at);
	if (m < 0 || c->n >= c->max)
		return DWARF_CB_ABORT;
	f = &c->out[c->n++];
	f->ip = pc;
	f->adjust = pc - at;
	f->map = m;
	f->file_off = at - c->maps[m].start + c->maps[m].pgoff * c->page_size;
	return DWARF_CB_OK;
}

/* Report map i's file at the bias it was mapped at, unless a map before it named the
 * same file, or the file at its path is no longer the one mapped. */
static void report_map(Dwfl *dwfl, struct unwind_ctx *c, size_t i)
{
	const struct salve_map *m = &c->maps[i];
	struct event_module mod;
	struct stat st;
	int fd;

	events_module(&m->file, &mod);
	if (mod.truncated || !mod.path[0])
		return;
	for (size_t j = 0; j < i; j++)
		if (c->maps[j].file.dev == m->file.dev && c->maps[j].file.ino == m->file.ino &&
		    c->fds[j] >= 0) {
			c->fds[i] = fcntl(c->fds[j], F_DUPFD_CLOEXEC, 0);
			return;
		}
	fd = open(mod.path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || events_kernel_dev(st.st_dev) != m->file.dev || st.st_ino != m->file.ino) {
		close(fd);
		return;
	}
	c->fds[i] = fd;
	/* libdwfl takes the descriptor it is given: it gets its own. */
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* As perf does: the file's offset 0 would be at start - pgoff. */
	if (!dwfl_report_elf(dwfl, mod.path, mod.path, fd, m->start - m->pgoff * c->page_size, false))
		close(fd);
}

int unwinder_new(struct unwinder **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

static void session_end(struct unwind_session *ss)
{
	if (!ss->dwfl)
		return;
	dwfl_end(ss->dwfl);
	for (size_t i = 0; i < SALVE_MAPS_MAX; i++)
		if (ss->c.fds[i] >= 0)
			close(ss->c.fds[i]);
	memset(ss, 0, sizeof(*ss));
}

void unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < UNWIND_SESSIONS; i++)
		session_end(&u->sessions[i]);
	free(u);
}

#if defined(__x86_64__)
/* Whether session ss was built for the mappings of snap (n of them). */
static bool session_fits(const struct unwind_session *ss, const struct salve_snapshot *snap,
			 size_t n)
{
	const struct salve_map *maps = snapshot_maps(snap);

	if (!ss->dwfl || ss->n_key != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct map_key *a = &ss->key[i];
		const struct salve_map *b = &maps[i];

		if (a->start != b->start || a->end != b->end || a->pgoff != b->pgoff ||
		    a->dev != b->file.dev || a->ino != b->file.ino)
			return false;
	}
	return true;
}

/* Build a session in ss for the mappings of snap, attached as thread tid's process. */
static int session_begin(struct unwind_session *ss, const struct salve_snapshot *snap, size_t n,
			 uint32_t tid)
{
	long page = sysconf(_SC_PAGESIZE);

	memset(ss, 0, sizeof(*ss));
	for (size_t i = 0; i < SALVE_MAPS_MAX; i++)
		ss->c.fds[i] = -1;
	ss->c.snap = snap;
	ss->c.maps = snapshot_maps(snap);
	ss->c.n_maps = n;
	ss->c.page_size = page > 0 ? (uint64_t)page : 4096;
	if (!(ss->dwfl = dwfl_begin(&offline_callbacks)))
		return -ENOMEM;
	dwfl_report_begin(ss->dwfl);
	for (size_t i = 0; i < n; i++)
		report_map(ss->dwfl, &ss->c, i);
	if (dwfl_report_end(ss->dwfl, NULL, NULL) != 0 ||
	    !dwfl_attach_state(ss->dwfl, NULL, (pid_t)tid, &thread_callbacks, &ss->c)) {
		session_end(ss);
		return -ENODATA;
	}
	for (size_t i = 0; i < n; i++) {
		const struct salve_map *m = &ss->c.maps[i];

		ss->key[i] = (struct map_key){ m->start, m->end, m->pgoff, m->file.dev, m->file.ino };
	}
	ss->n_key = n;
	return 0;
}

/* The session for snap's mappings: kept, or built in place of the least recently used. */
static struct unwind_session *session_for(struct unwinder *u, const struct salve_snapshot *snap,
					  size_t n, uint32_t tid)
{
	struct unwind_session *oldest = &u->sessions[0];

	for (size_t i = 0; i < UNWIND_SESSIONS; i++) {
		struct unwind_session *ss = &u->sessions[i];

		if (session_fits(ss, snap, n))
			return ss;
		if (!ss->dwfl || (oldest->dwfl && ss->last_use < oldest->last_use))
			oldest = ss;
	}
	session_end(oldest);
	return session_begin(oldest, snap, n, tid) ? NULL : oldest;
}
#endif

int unwind_snapshot(struct unwinder *u, const struct salve_snapshot *snap, uint32_t tid,
		    struct unwind_frame *out, size_t max, size_t *n)
{
#if defined(__x86_64__)
	struct unwind_session *ss;
	size_t n_maps;

	*n = 0;
	if (!u || !snap || !snap->regs[SALVE_REG_SP] || !snap->regs[SALVE_REG_IP] || !snap->nr_maps)
		return -ENODATA;
	n_maps = snap->nr_maps > SALVE_MAPS_MAX ? SALVE_MAPS_MAX : snap->nr_maps;
	if (!(ss = session_for(u, snap, n_maps, tid)))
		return -ENODATA;
	ss->last_use = ++u->clock;
	ss->c.snap = snap;
	ss->c.maps = snapshot_maps(snap);
	ss->c.stack = snapshot_stack(snap);
	ss->c.tid = tid;
	ss->c.out = out;
	ss->c.max = max;
	ss->c.n = 0;
	/* An unwind that ends in an error still found the frames before it. */
	dwfl_getthread_frames(ss->dwfl, (pid_t)tid, on_frame, &ss->c);
	/* The record they point into is the ring's, and goes. */
	ss->c.snap = NULL;
	ss->c.maps = NULL;
	ss->c.stack = NULL;
	*n = ss->c.n;
	return *n ? 0 : -ENODATA;
#else
	(void)u, (void)snap, (void)tid, (void)out, (void)max;
	*n = 0;
	return -ENOTSUP;
#endif
}
