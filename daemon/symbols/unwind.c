/* unwind: a fault's stack unwound from its snapshot with libdwfl, or from the rules of
 * its frames' CFI kept per session (libdwfl's own steps, without its allocations). */
#include "symbols/unwind.h"

#include <dwarf.h>
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
#define DW_X86_64_RA 16 /* the return address column */
#define UNWIND_NREGS 17 /* the registers of a libdwfl frame on x86-64: 0-15 and the RA */

#define UNWIND_SESSIONS 16 /* processes (sets of mappings) kept ready to unwind */
#define CFI_BITS 11        /* a session's cache holds 2^CFI_BITS addresses */
#define CFI_SLOTS (1u << CFI_BITS)
#define CFI_FULL (CFI_SLOTS * 3 / 4) /* emptied when this many are held */

/* How a register of the caller's frame is found, as libdwfl's handle_cfi evaluates what
 * dwarf_frame_register says of it. */
enum cfi_rule {
	RULE_UNDEFINED, /* not recovered */
	RULE_SAME,      /* this frame's value, when it has one */
	RULE_AT_CFA,    /* saved at CFA + off */
	RULE_CFA,       /* the value CFA + off */
	RULE_REG,       /* this frame's value of register off */
};

/* What an address's CFI is to the cache. */
enum cfi_kind {
	CFI_SIMPLE, /* the rules say it all */
	CFI_SIGNAL, /* a signal frame (__restore_rt): libdwfl unwinds the stack */
	CFI_OTHER,  /* a DWARF expression, no CFI, an odd CIE: libdwfl unwinds the stack */
};

/* The CFI of one lookup address (pc of the first frame, pc - 1 of a caller's). */
struct cfi_entry {
	uint64_t pc; /* 0: a free slot */
	int32_t cfa_off;
	uint8_t kind;
	uint8_t cfa_reg;
	uint8_t rule[UNWIND_NREGS];
	int32_t off[UNWIND_NREGS];
};

struct cfi_cache {
	size_t used;
	struct cfi_entry slot[CFI_SLOTS];
};

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
	struct cfi_cache *cfi; /* NULL until its first stack */
	struct unwind_ctx c;
};

struct unwinder {
	struct unwind_session sessions[UNWIND_SESSIONS];
	uint64_t clock;
	struct unwind_stats stats;
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

/* Add the frame at pc to c->out; false when the walk stops here: pc is in no mapping, or
 * out is full. */
static bool add_frame(struct unwind_ctx *c, uint64_t pc, bool activation)
{
	struct unwind_frame *f;
	uint64_t at;
	int m;

	/* A return address is the instruction after the call: the call is what ran. */
	at = activation || !pc ? pc : pc - 1;
	m = map_of(c, at);
	if (m < 0 || c->n >= c->max)
		return false;
	f = &c->out[c->n++];
	f->ip = pc;
	f->adjust = pc - at;
	f->map = m;
	f->file_off = at - c->maps[m].start + c->maps[m].pgoff * c->page_size;
	return true;
}

static int on_frame(Dwfl_Frame *state, void *arg)
{
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	return add_frame(arg, pc, activation) ? DWARF_CB_OK : DWARF_CB_ABORT;
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
	free(ss->cfi);
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

/* What dwarf_frame_register says of register regno as a rule, read as libdwfl's
 * handle_cfi and expr_eval read it; false for what no rule says (an expression). */
static bool cfi_register(Dwarf_Frame *frame, int regno, uint8_t *rule, int32_t *off)
{
	Dwarf_Op mem[3], *ops;
	size_t nops, i = 1;
	int64_t add = 0;
	bool value = false;

	*off = 0;
	if (dwarf_frame_register(frame, regno, mem, &ops, &nops))
		return false;
	if (!nops) {
		/* Undefined says ops_mem, same value NULL. */
		*rule = ops ? RULE_UNDEFINED : RULE_SAME;
		return !ops || ops == mem;
	}
	if (nops == 1 && ops[0].atom == DW_OP_regx && ops[0].number < UNWIND_NREGS) {
		*rule = RULE_REG;
		*off = (int32_t)ops[0].number;
		return true;
	}
	/* The CFA pushed is a location; plus_uconst moves it; stack_value makes it the value. */
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (i < nops && ops[i].atom == DW_OP_plus_uconst)
		add = (int64_t)ops[i++].number;
	if (i < nops && ops[i].atom == DW_OP_stack_value) {
		value = true;
		i++;
	}
	if (i != nops || add != (int32_t)add)
		return false;
	*rule = value ? RULE_CFA : RULE_AT_CFA;
	*off = (int32_t)add;
	return true;
}

/* Compile the CFI row frame into e: CFI_SIMPLE when the CFA is a register plus an offset
 * and every register has a rule. */
static void cfi_compile(Dwarf_Frame *frame, struct cfi_entry *e)
{
	Dwarf_Op *ops;
	size_t nops;
	bool signal;
	int ra = dwarf_frame_info(frame, NULL, NULL, &signal);

	if (ra < 0)
		return;
	if (signal) {
		e->kind = CFI_SIGNAL;
		return;
	}
	/* libdw gives a CFA of register + offset as one DW_OP_bregx. */
	if (ra != DW_X86_64_RA || dwarf_frame_cfa(frame, &ops, &nops) || nops != 1 ||
	    ops[0].atom != DW_OP_bregx || ops[0].number >= UNWIND_NREGS ||
	    (int64_t)ops[0].number2 != (int32_t)ops[0].number2)
		return;
	e->cfa_reg = (uint8_t)ops[0].number;
	e->cfa_off = (int32_t)ops[0].number2;
	for (int r = 0; r < UNWIND_NREGS; r++)
		if (!cfi_register(frame, r, &e->rule[r], &e->off[r]))
			return;
	e->kind = CFI_SIMPLE;
}

/* Fill e with the CFI of pc, found as libdwfl's __libdwfl_frame_unwind finds it: the
 * module at pc, its .eh_frame, then its .debug_frame. Without either libdwfl guesses
 * from the frame pointer, which the cache leaves to it. */
static void cfi_fill(Dwfl *dwfl, uint64_t pc, struct cfi_entry *e)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
	Dwarf_Frame *frame = NULL;
	Dwarf_Addr bias;
	Dwarf_CFI *cfi;

	memset(e, 0, sizeof(*e));
	e->pc = pc;
	e->kind = CFI_OTHER;
	if (!mod)
		return;
	if ((cfi = dwfl_module_eh_cfi(mod, &bias)) && !dwarf_cfi_addrframe(cfi, pc - bias, &frame)) {
		cfi_compile(frame, e);
	} else if ((frame = NULL, cfi = dwfl_module_dwarf_cfi(mod, &bias)) &&
		   !dwarf_cfi_addrframe(cfi, pc - bias, &frame)) {
		cfi_compile(frame, e);
	}
	free(frame);
}

/* The entry of pc (not 0) in ss's cache, filled on a miss; the cache is emptied when
 * full. Valid until the next lookup. */
static const struct cfi_entry *cfi_lookup(struct unwinder *u, struct unwind_session *ss,
					  uint64_t pc)
{
	struct cfi_cache *cc = ss->cfi;
	size_t i;

	for (;;) {
		/* Fibonacci hashing: the top bits of pc times 2^64 / phi. */
		for (i = (size_t)((pc * 0x9e3779b97f4a7c15ull) >> (64 - CFI_BITS));; i = (i + 1) & (CFI_SLOTS - 1)) {
			if (cc->slot[i].pc == pc)
				return &cc->slot[i];
			if (!cc->slot[i].pc)
				break;
		}
		if (cc->used < CFI_FULL)
			break;
		memset(cc, 0, sizeof(*cc));
		u->stats.clears++;
	}
	cfi_fill(ss->dwfl, pc, &cc->slot[i]);
	cc->used++;
	u->stats.misses++;
	return &cc->slot[i];
}

#define REG_BIT(r) (1u << (r))

/* dwfl_getthread_frames' walk (libdwfl's dwfl_frame.c and frame_unwind.c) made from ss's
 * cache: the same registers known or not, the same reads, the same frames and the same
 * end. true when done, the frames in ss->c.out; false when an address had no simple
 * rules, for libdwfl to unwind the stack. */
static bool walk_cached(struct unwinder *u, struct unwind_session *ss)
{
	struct unwind_ctx *c = &ss->c;
	const __u64 *r = c->snap->regs;
	uint64_t regs[UNWIND_NREGS] = { 0 }, next[UNWIND_NREGS] = { 0 }, pc = r[SALVE_REG_IP];
	uint32_t set = 0, next_set;
	bool initial = true;

	/* What set_initial_registers gives libdwfl. */
	regs[DW_X86_64_RBX] = r[SALVE_REG_BX];
	regs[DW_X86_64_RBP] = r[SALVE_REG_BP];
	regs[DW_X86_64_RSP] = r[SALVE_REG_SP];
	regs[DW_X86_64_R12] = r[SALVE_REG_R12];
	regs[DW_X86_64_R12 + 1] = r[SALVE_REG_R13];
	regs[DW_X86_64_R12 + 2] = r[SALVE_REG_R14];
	regs[DW_X86_64_R12 + 3] = r[SALVE_REG_R15];
	set = REG_BIT(DW_X86_64_RBX) | REG_BIT(DW_X86_64_RBP) | REG_BIT(DW_X86_64_RSP) |
	      REG_BIT(12) | REG_BIT(13) | REG_BIT(14) | REG_BIT(15);
	for (;;) {
		/* A caller's CFI is that of its call, before the return address. */
		uint64_t at = initial ? pc : pc - 1, cfa;
		const struct cfi_entry *e;
		bool has_cfa;

		if (!at)
			return false;
		e = cfi_lookup(u, ss, at);
		/* Below a signal frame libdwfl takes the next pc as it is (dwfl_frame_pc). */
		if (e->kind == CFI_SIGNAL && !initial)
			return false;
		if (!add_frame(c, pc, initial))
			return true;
		if (e->kind != CFI_SIMPLE)
			return false;
		has_cfa = set & REG_BIT(e->cfa_reg);
		cfa = regs[e->cfa_reg] + (uint64_t)(int64_t)e->cfa_off;
		next_set = 0;
		for (int i = 0; i < UNWIND_NREGS; i++) {
			uint64_t off = (uint64_t)(int64_t)e->off[i];
			Dwarf_Word v;

			switch (e->rule[i]) {
			case RULE_SAME:
				if (!(set & REG_BIT(i)))
					continue;
				v = regs[i];
				break;
			case RULE_AT_CFA:
				if (!has_cfa || !memory_read(ss->dwfl, cfa + off, &v, c))
					continue;
				break;
			case RULE_CFA:
				if (!has_cfa)
					continue;
				v = cfa + off;
				break;
			case RULE_REG:
				if (!(set & REG_BIT(e->off[i])))
					continue;
				v = regs[e->off[i]];
				break;
			default: /* RULE_UNDEFINED */
				continue;
			}
			next[i] = v;
			next_set |= REG_BIT(i);
		}
		/* No return address, or 0: the stack's end. */
		if (e->rule[DW_X86_64_RA] == RULE_UNDEFINED || !(next_set & REG_BIT(DW_X86_64_RA)) ||
		    !next[DW_X86_64_RA])
			return true;
		pc = next[DW_X86_64_RA];
		memcpy(regs, next, sizeof(regs));
		set = next_set;
		initial = false;
	}
}

/* Unwind snap in ss: from the cache when cached and every frame's rules are known, else
 * by libdwfl. */
static void session_unwind(struct unwinder *u, struct unwind_session *ss, bool cached)
{
	if (cached && !ss->cfi)
		ss->cfi = calloc(1, sizeof(*ss->cfi));
	if (cached && ss->cfi) {
		if (walk_cached(u, ss)) {
			u->stats.cached++;
			return;
		}
		u->stats.libdwfl++;
		ss->c.n = 0;
	}
	/* An unwind that ends in an error still found the frames before it. */
	dwfl_getthread_frames(ss->dwfl, (pid_t)ss->c.tid, on_frame, &ss->c);
}
#endif

static int unwind(struct unwinder *u, const struct salve_snapshot *snap, uint32_t tid,
		  struct unwind_frame *out, size_t max, size_t *n, bool cached)
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
	session_unwind(u, ss, cached);
	/* The record they point into is the ring's, and goes. */
	ss->c.snap = NULL;
	ss->c.maps = NULL;
	ss->c.stack = NULL;
	*n = ss->c.n;
	return *n ? 0 : -ENODATA;
#else
	(void)u, (void)snap, (void)tid, (void)out, (void)max, (void)cached;
	*n = 0;
	return -ENOTSUP;
#endif
}

int unwind_snapshot(struct unwinder *u, const struct salve_snapshot *snap, uint32_t tid,
		    struct unwind_frame *out, size_t max, size_t *n)
{
	return unwind(u, snap, tid, out, max, n, true);
}

int unwind_snapshot_libdwfl(struct unwinder *u, const struct salve_snapshot *snap, uint32_t tid,
			    struct unwind_frame *out, size_t max, size_t *n)
{
	return unwind(u, snap, tid, out, max, n, false);
}

void unwinder_stats(const struct unwinder *u, struct unwind_stats *out)
{
	*out = u->stats;
}
