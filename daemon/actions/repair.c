/* repair: one function of one process repaired: planned, applied and undone (its JSON in
 * repair_json.c). */
#define _GNU_SOURCE
#include "actions/repair.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "actions/inject.h"
#include "actions/library.h"
#include "base/hex.h"
#include "base/log.h"
#include "events/events.h"
#include "kernel/override.h"

uint64_t repair_process_start_ns(uint32_t pid)
{
	char path[32], buf[1024], *p;
	unsigned long long ticks;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Field 22, after the command name, which may hold spaces and parentheses. */
	if (hz <= 0 || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			  "%*d %*d %llu", &ticks) != 1)
		return 0;
	return ticks * (1000000000ull / (unsigned long long)hz);
}

/* A function of the file at path, as the process maps it: its file offset and size,
 * its address in pid. */
struct located {
	struct resolve_site site;
	uint64_t addr;
};

static int locate(const char *path, const char *symbol, uint32_t pid, struct located *out,
		  char *err, size_t err_len)
{
	struct stat st;
	int r;

	if ((r = resolve_symbol(path, symbol, NULL, &out->site, err, err_len)))
		return r;
	if (out->site.ifunc) {
		snprintf(err, err_len, "%s: %s is an IFUNC resolver, not the function callers run",
			 path, symbol);
		return -ENOTSUP;
	}
	if (stat(path, &st)) {
		r = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(-r));
		return r;
	}
	r = patch_locate((pid_t)pid, events_kernel_dev(st.st_dev), st.st_ino, out->site.offset,
			 &out->addr);
	if (r == -ENOENT)
		snprintf(err, err_len, "process %u does not map %s (where %s is)", pid, path, symbol);
	else if (r)
		snprintf(err, err_len, "process %u: %s", pid, r == -ESRCH ? "no such process" : strerror(-r));
	return r;
}

/* The patch goes after F's first instruction (code.h says why): where, and what undoes
 * that instruction, into undo. */
static int step_over(struct repair_plan *p, const struct located *f, uint8_t undo[CODE_MAX],
		     size_t *undo_len, char *err, size_t err_len)
{
	uint8_t head[CODE_MAX];
	char why[256];
	ssize_t n;
	int fd, r;

	if ((fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (n = pread(fd, head, sizeof(head), (off_t)f->site.offset)) <= 0) {
		r = -errno;
		snprintf(err, err_len, "%s: reading %s: %s", p->path, p->symbol, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	if ((r = code_step_over(f->addr, head, (size_t)n, &p->skip, undo, undo_len, why,
				sizeof(why)))) {
		snprintf(err, err_len, "%s: %s: %s", p->path, p->symbol, why);
		return r;
	}
	p->file_off = f->site.offset + p->skip;
	p->addr = f->addr + p->skip;
	return 0;
}

/* What every plan starts with: the process (never PID 1 or salved) and its start, F
 * located in it. */
static int plan_locate(const char *binary, const char *symbol, uint32_t pid,
		       struct repair_plan *p, struct located *f, char *err, size_t err_len)
{
	int r;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	if (pid <= 1 || pid == (uint32_t)getpid()) {
		snprintf(err, err_len, "process %u: %s is never repaired", pid,
			 pid <= 1 ? "PID 1" : "salved itself");
		return -EPERM;
	}
	if (!(p->start_ns = repair_process_start_ns(pid))) {
		snprintf(err, err_len, "process %u: no such process", pid);
		return -ESRCH;
	}
	if ((r = resolve_binary(binary, p->path, sizeof(p->path), err, err_len)) ||
	    (r = locate(p->path, symbol, pid, f, err, err_len)))
		return r;
	snprintf(p->symbol, sizeof(p->symbol), "%s", symbol);
	snprintf(p->build_id, sizeof(p->build_id), "%s", f->site.build_id);
	return 0;
}

/* The common part of a hot-patch plan: F located, where its patch goes and what undoes
 * the instruction before it. */
static int plan_begin(const char *binary, const char *symbol, uint32_t pid, struct repair_plan *p,
		      struct located *f, uint8_t undo[CODE_MAX], size_t *undo_len, char *err,
		      size_t err_len)
{
	return plan_locate(binary, symbol, pid, p, f, err, err_len) ?:
	       step_over(p, f, undo, undo_len, err, err_len);
}

/* The plan's code set: check it fits the function, take the file's bytes under it and
 * check the process still has them. */
static int plan_end(struct repair_plan *p, const struct located *f, char *err, size_t err_len)
{
	uint8_t now[CODE_MAX];
	char a[2 * CODE_MAX + 1], b[2 * CODE_MAX + 1];
	int fd, r;

	if (f->site.size && f->site.size < p->skip + p->len) {
		snprintf(err, err_len, "%s: %s is %" PRIu64 " bytes long, shorter than the %zu bytes "
			 "of the patch after its first instruction", p->path, p->symbol, f->site.size,
			 p->skip + p->len);
		return -E2BIG;
	}
	if ((fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pread(fd, p->orig, p->len, (off_t)p->file_off) != (ssize_t)p->len) {
		r = errno ? -errno : -EIO;
		snprintf(err, err_len, "%s: reading %s: %s", p->path, p->symbol, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	close(fd);
	if ((r = patch_read((pid_t)p->pid, p->addr, now, p->len))) {
		snprintf(err, err_len, "process %u: reading %s at %#" PRIx64 ": %s", p->pid, p->symbol,
			 p->addr, strerror(-r));
		return r;
	}
	if (memcmp(now, p->orig, p->len)) {
		hex_encode(now, p->len, a);
		hex_encode(p->orig, p->len, b);
		snprintf(err, err_len,
			 "process %u: the first bytes of %s are %s, not the file's %s (another patch, "
			 "a breakpoint or a uprobe is there)",
			 p->pid, p->symbol, a, b);
		return -EILSEQ;
	}
	return 0;
}

/* The patch: what undoes the first instruction, then what the repair does. */
static int compose(struct repair_plan *p, const uint8_t *undo, size_t undo_len,
		   const uint8_t *then, size_t then_len, char *err, size_t err_len)
{
	if (undo_len + then_len > CODE_MAX) {
		snprintf(err, err_len, "%s: %s: the patch would take %zu bytes, more than %d",
			 p->path, p->symbol, undo_len + then_len, CODE_MAX);
		return -E2BIG;
	}
	memcpy(p->code, undo, undo_len);
	memcpy(p->code + undo_len, then, then_len);
	p->len = undo_len + then_len;
	return 0;
}

static struct override *regs; /* repair_use_override's */

void repair_use_override(struct override *o)
{
	regs = o;
}

const char *repair_mechanism_of(const struct repair_plan *spec)
{
	return regs && spec->kind == REPAIR_OVERRIDE ? "uprobe_regs" : "hot_patch";
}

/* An override by a register-writing uprobe at F's entry: nothing in the process changes
 * but the uprobe, so the plan holds no bytes. */
static int plan_regs(const char *binary, const char *symbol, int64_t value,
		     const struct code_when *when, uint32_t pid, struct repair_plan *p, char *err,
		     size_t err_len)
{
	struct located f;
	int r;

	if ((r = plan_locate(binary, symbol, pid, p, &f, err, err_len)))
		return r;
	p->kind = REPAIR_OVERRIDE;
	p->mechanism = REPAIR_UPROBE_REGS;
	p->value = value;
	p->has_when = when != NULL;
	if (when)
		p->when = *when;
	p->file_off = f.site.offset;
	p->addr = f.addr;
	return 0;
}

int repair_plan_override(const char *binary, const char *symbol, int64_t value, uint32_t pid,
			 struct repair_plan *out, char *err, size_t err_len)
{
	uint8_t undo[CODE_MAX], ret[CODE_MAX];
	size_t undo_len, ret_len;
	struct located f;
	int r;

	if (regs)
		return plan_regs(binary, symbol, value, NULL, pid, out, err, err_len);
	if ((r = plan_begin(binary, symbol, pid, out, &f, undo, &undo_len, err, err_len)))
		return r;
	out->kind = REPAIR_OVERRIDE;
	out->value = value;
	ret_len = code_return(value, ret);
	return compose(out, undo, undo_len, ret, ret_len, err, err_len) ?:
	       plan_end(out, &f, err, err_len);
}

#define REACH ((1ull << 31) - (1ull << 20)) /* of a jmp rel32, with room for the page */
#define FUNCTION_MAX (1u << 20)           /* bytes of a function read to plan a trampoline */

/* Free pages (size bytes) within a jump's reach of near in process pid: the closest,
 * from the gaps between its mappings, never where the heap or a stack grows. */
static int pick_page(uint32_t pid, uint64_t near, uint64_t size, uint64_t *page)
{
	char path[64], line[4096];
	uint64_t prev_end = 0x10000, best = 0, best_dist = UINT64_MAX; /* mmap_min_addr */
	bool after_heap = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	if (!(f = fopen(path, "re")))
		return -ESRCH;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end;
		uint64_t cand[2] = { 0, 0 };

		if (sscanf(line, "%llx-%llx", &start, &end) != 2)
			continue;
		if (start >= prev_end + size) {
			if (!strstr(line, "[stack"))
				cand[0] = start - size; /* just below this mapping */
			if (!after_heap)
				cand[1] = prev_end; /* just above the last */
		}
		for (int i = 0; i < 2; i++) {
			uint64_t d = cand[i] > near ? cand[i] - near : near - cand[i];

			if (cand[i] && d < REACH && d < best_dist) {
				best = cand[i];
				best_dist = d;
			}
		}
		after_heap = strstr(line, "[heap]") != NULL;
		if (end > prev_end)
			prev_end = end;
	}
	fclose(f);
	if (!best)
		return -ENOMEM;
	*page = best;
	return 0;
}

/* The pages a plan maps into the process: a trampoline's code, and a gate's counter. */
static size_t tramp_pages(const struct repair_plan *p)
{
	return p->gate ? 2 : p->has_when ? 1 : 0;
}

/* The trampoline of an override with "when", or of a gate: F's code from its file, a
 * page near it, the code there; the patch is the jump to it over the whole instructions
 * it displaces. */
static int plan_trampoline(struct repair_plan *p, const struct located *f, const uint8_t *undo,
			   size_t undo_len, char *err, size_t err_len)
{
	uint8_t *fn, jump[CODE_MAX];
	size_t taken = 0, n;
	int fd, r;

	if (!f->site.size || f->site.size > FUNCTION_MAX) {
		snprintf(err, err_len, "%s: %s has %s size in its symbol table: where its code ends is "
			 "unknown", p->path, p->symbol, f->site.size ? "too big a" : "no");
		return -ENOTSUP;
	}
	if ((r = pick_page(p->pid, f->addr, tramp_pages(p) * REPAIR_PAGE_SIZE, &p->page))) {
		snprintf(err, err_len, "process %u has no free page within a jump's reach of %s",
			 p->pid, p->symbol);
		return r;
	}
	if (!(fn = malloc(f->site.size)))
		return -ENOMEM;
	if ((fd = open(p->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pread(fd, fn, f->site.size, (off_t)f->site.offset) != (ssize_t)f->site.size) {
		r = errno ? -errno : -EIO;
		snprintf(err, err_len, "%s: reading %s: %s", p->path, p->symbol, strerror(-r));
	} else {
		char why[256];

		r = p->gate ? code_gate(fn, f->site.size, f->addr, p->skip,
					p->page + REPAIR_PAGE_SIZE, undo, undo_len, p->value, p->page,
					p->tramp, &p->tramp_len, &taken, why, sizeof(why))
			    : code_trampoline(fn, f->site.size, f->addr, p->skip, &p->when, undo,
					      undo_len, p->value, p->page, p->tramp, &p->tramp_len,
					      &taken, why, sizeof(why));
		if (r)
			snprintf(err, err_len, "%s: %s: no trampoline for %s: %s", p->path, p->symbol,
				 p->gate ? "a breaker" : "\"when\"", why);
	}
	if (fd >= 0)
		close(fd);
	free(fn);
	if (r)
		return r;
	if (taken > CODE_MAX) {
		snprintf(err, err_len, "%s: %s: the jump would displace %zu bytes, more than %d",
			 p->path, p->symbol, taken, CODE_MAX);
		return -E2BIG;
	}
	n = code_jump(p->addr, p->page, jump);
	memcpy(p->code, jump, n);
	memset(p->code + n, 0xcc, taken - n); /* never run: no thread is let stop there */
	p->len = taken;
	return 0;
}

int repair_plan_override_when(const char *binary, const char *symbol, int64_t value,
			      const struct code_when *when, uint32_t pid, struct repair_plan *out,
			      char *err, size_t err_len)
{
	uint8_t undo[CODE_MAX];
	size_t undo_len;
	struct located f;
	int r;

	if (!when || regs)
		return regs ? plan_regs(binary, symbol, value, when, pid, out, err, err_len)
			    : repair_plan_override(binary, symbol, value, pid, out, err, err_len);
	if ((r = plan_begin(binary, symbol, pid, out, &f, undo, &undo_len, err, err_len)))
		return r;
	out->kind = REPAIR_OVERRIDE;
	out->value = value;
	out->has_when = true;
	out->when = *when;
	return plan_trampoline(out, &f, undo, undo_len, err, err_len) ?:
	       plan_end(out, &f, err, err_len);
}

int repair_plan_gate(const char *binary, const char *symbol, int64_t value, uint32_t pid,
		     struct repair_plan *out, char *err, size_t err_len)
{
	uint8_t undo[CODE_MAX];
	size_t undo_len;
	struct located f;
	int r;

	if ((r = plan_begin(binary, symbol, pid, out, &f, undo, &undo_len, err, err_len)))
		return r;
	out->kind = REPAIR_OVERRIDE;
	out->value = value;
	out->gate = true;
	return plan_trampoline(out, &f, undo, undo_len, err, err_len) ?:
	       plan_end(out, &f, err, err_len);
}

int repair_gate_set(const struct repair_plan *p, int64_t calls)
{
	char path[64];
	int fd, r = 0;

	if (!p->gate)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%u/mem", p->pid);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	/* One aligned 8-byte store: a call racing it takes the old count or the new. */
	if (pwrite(fd, &calls, sizeof(calls), (off_t)(p->page + REPAIR_PAGE_SIZE)) != sizeof(calls))
		r = errno ? -errno : -EFAULT;
	close(fd);
	return r;
}

int repair_gate_left(const struct repair_plan *p, int64_t *calls)
{
	return p->gate ? patch_read((pid_t)p->pid, p->page + REPAIR_PAGE_SIZE, (uint8_t *)calls,
				    sizeof(*calls))
		       : -EINVAL;
}

/* to_symbol in the other files pid maps code from, into path and g. */
static int locate_elsewhere(uint32_t pid, const char *skip, const char *to_symbol, char *path,
			    size_t path_len, struct located *g)
{
	char maps[64], line[PATH_MAX + 128], last[PATH_MAX] = "", e[256];
	FILE *f;
	int r = -ENOENT;

	snprintf(maps, sizeof(maps), "/proc/%u/maps", pid);
	if (!(f = fopen(maps, "re")))
		return -ESRCH;
	while (r && fgets(line, sizeof(line), f)) {
		char perms[8], file[PATH_MAX] = "";

		if (sscanf(line, "%*x-%*x %7s %*x %*x:%*x %*u %4095s", perms, file) != 2 ||
		    perms[2] != 'x' || file[0] != '/' || !strcmp(file, skip) || !strcmp(file, last))
			continue;
		snprintf(last, sizeof(last), "%s", file);
		if (!locate(file, to_symbol, pid, g, e, sizeof(e))) {
			snprintf(path, path_len, "%s", file);
			r = 0;
		}
	}
	fclose(f);
	return r;
}

int repair_plan_redirect(const char *binary, const char *symbol, const char *to_symbol,
			 uint32_t pid, struct repair_plan *out, char *err, size_t err_len)
{
	uint8_t undo[CODE_MAX], jump[CODE_MAX];
	size_t undo_len, jump_len;
	struct located f, g;
	int r;

	if ((r = plan_begin(binary, symbol, pid, out, &f, undo, &undo_len, err, err_len)))
		return r;
	out->kind = REPAIR_REDIRECT;
	snprintf(out->to_symbol, sizeof(out->to_symbol), "%s", to_symbol);
	if (!locate(out->path, to_symbol, pid, &g, err, err_len)) {
		snprintf(out->to_path, sizeof(out->to_path), "%s", out->path);
	} else if (locate_elsewhere(pid, out->path, to_symbol, out->to_path, sizeof(out->to_path),
				    &g)) {
		snprintf(err, err_len, "process %u: no file it maps (%s or a library) defines %s",
			 pid, out->path, to_symbol);
		return -ENOENT;
	}
	out->to_addr = g.addr;
	jump_len = code_jump(out->addr + undo_len, out->to_addr, jump);
	return compose(out, undo, undo_len, jump, jump_len, err, err_len) ?:
	       plan_end(out, &f, err, err_len);
}

/* The jump of a library redirect: always the 13-byte absolute one, as where the library
 * will be loaded is not known when the plan is made. */
#define LIBRARY_JUMP 13

int repair_plan_library(const char *binary, const char *symbol, const char *to_symbol,
			const char *library, const char *build_id, uint32_t pid,
			struct repair_plan *out, char *err, size_t err_len)
{
	uint8_t undo[CODE_MAX], jump[CODE_MAX];
	size_t undo_len;
	struct located f;
	struct resolve_site g;
	int r;

	if ((r = plan_begin(binary, symbol, pid, out, &f, undo, &undo_len, err, err_len)) ||
	    (r = resolve_symbol(library, to_symbol, NULL, &g, err, err_len)))
		return r;
	if (strcmp(g.build_id, build_id)) {
		snprintf(err, err_len, "%s: its build id is %s, not the policy's %s", library,
			 g.build_id[0] ? g.build_id : "missing", build_id);
		return -EKEYREJECTED;
	}
	out->kind = REPAIR_REDIRECT;
	snprintf(out->to_symbol, sizeof(out->to_symbol), "%s", to_symbol);
	snprintf(out->to_path, sizeof(out->to_path), "%s", library);
	snprintf(out->library, sizeof(out->library), "%s", library);
	snprintf(out->library_build_id, sizeof(out->library_build_id), "%s", build_id);
	/* To address 0 until loaded: the jump's length is the same wherever it goes. */
	if (code_jump(0, 1ull << 40, jump) != LIBRARY_JUMP)
		return -EINVAL;
	return compose(out, undo, undo_len, jump, LIBRARY_JUMP, err, err_len) ?:
	       plan_end(out, &f, err, err_len);
}

int repair_plan_again(const struct repair_plan *spec, uint32_t pid, struct repair_plan *out,
		      char *err, size_t err_len)
{
	if (spec->library[0])
		return repair_plan_library(spec->path, spec->symbol, spec->to_symbol, spec->library,
					   spec->library_build_id, pid, out, err, err_len);
	if (spec->gate)
		return repair_plan_gate(spec->path, spec->symbol, spec->value, pid, out, err, err_len);
	if (spec->kind == REPAIR_OVERRIDE)
		return repair_plan_override_when(spec->path, spec->symbol, spec->value,
						 spec->has_when ? &spec->when : NULL, pid, out, err,
						 err_len);
	return repair_plan_redirect(spec->path, spec->symbol, spec->to_symbol, pid, out, err,
				    err_len);
}

/* Whether the plan's process is still the one running under its pid. */
static int same_process(const struct repair_plan *p, char *err, size_t err_len)
{
	uint64_t start = repair_process_start_ns(p->pid);

	if (!start) {
		snprintf(err, err_len, "process %u is gone", p->pid);
		return -ESRCH;
	}
	if (start != p->start_ns) {
		snprintf(err, err_len, "pid %u is another process now", p->pid);
		return -ESTALE;
	}
	return 0;
}

#define PAGE_NAME "salve-trampoline" /* shown in /proc/PID/maps as [anon:salve-trampoline] */

/* With every thread held: map the trampoline's page, write it, then the patch. */
static int apply_held(struct hold *h, void *arg, char *err, size_t err_len)
{
	const struct repair_plan *p = arg;
	const uint64_t len = tramp_pages(p) * REPAIR_PAGE_SIZE;
	/* A gate's counter page is written by the process: both pages mapped writable, then
	 * the code's made executable and read-only. */
	const uint64_t map[6] = { p->page, len, p->gate ? PROT_READ | PROT_WRITE : PROT_READ | PROT_EXEC,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0 };
	const uint64_t protect[6] = { p->page, REPAIR_PAGE_SIZE, PROT_READ | PROT_EXEC };
	const uint64_t name_at = p->page + REPAIR_PAGE_SIZE - sizeof(PAGE_NAME);
	const uint64_t name[6] = { PR_SET_VMA, PR_SET_VMA_ANON_NAME, p->page, len, name_at, 0 };
	int64_t ret;
	int r;

	if (!len)
		return patch_poke(h->pid, p->addr, p->orig, p->code, p->len, err, err_len);
	if ((r = inject_syscall(h->pid, &h->t[0], SYS_mmap, map, &ret, err, err_len)))
		return r;
	if ((uint64_t)ret != p->page) {
		if (ret > 0) { /* a kernel that takes the address as a hint */
			const uint64_t unmap[6] = { (uint64_t)ret, len };

			inject_syscall(h->pid, &h->t[0], SYS_munmap, unmap, &ret, err, err_len);
		}
		snprintf(err, err_len, "process %u: the trampoline page at %#" PRIx64 " cannot be "
			 "mapped: %s", p->pid, p->page, ret < 0 ? strerror((int)-ret) : "taken");
		return ret < 0 ? (int)ret : -EEXIST;
	}
	r = patch_poke(h->pid, p->page, NULL, p->tramp, p->tramp_len, err, err_len);
	if (!r && p->gate && (r = inject_syscall(h->pid, &h->t[0], SYS_mprotect, protect, &ret, err,
						 err_len)) == 0 && ret) {
		snprintf(err, err_len, "process %u: mprotect of the trampoline page: %s", p->pid,
			 strerror((int)-ret));
		r = (int)ret;
	}
	/* The name is for whoever reads the maps; a kernel without it is no reason to stop. */
	if (!r && !patch_poke(h->pid, name_at, NULL, (const uint8_t *)PAGE_NAME, sizeof(PAGE_NAME),
			      err, err_len))
		inject_syscall(h->pid, &h->t[0], SYS_prctl, name, &ret, err, err_len);
	r = r ?: patch_poke(h->pid, p->addr, p->orig, p->code, p->len, err, err_len);
	if (r) {
		const uint64_t unmap[6] = { p->page, len };
		char e[128];

		inject_syscall(h->pid, &h->t[0], SYS_munmap, unmap, &ret, e, sizeof(e));
	}
	return r;
}

/* With every thread held, none inside the patch or the page: the original bytes back,
 * then the page gone. */
static int undo_held(struct hold *h, void *arg, char *err, size_t err_len)
{
	const struct repair_plan *p = arg;
	const uint64_t unmap[6] = { p->page, tramp_pages(p) * REPAIR_PAGE_SIZE };
	int64_t ret;
	int r = patch_poke(h->pid, p->addr, p->code, p->orig, p->len, err, err_len);

	if (r || !tramp_pages(p))
		return r;
	if ((r = inject_syscall(h->pid, &h->t[0], SYS_munmap, unmap, &ret, err, err_len)))
		return r;
	if (ret) {
		snprintf(err, err_len, "process %u: unmapping the trampoline page at %#" PRIx64 ": %s",
			 p->pid, p->page, strerror((int)-ret));
		return (int)ret;
	}
	return 0;
}

static int unload_held(struct hold *h, void *arg, char *err, size_t err_len)
{
	const struct repair_plan *p = arg;

	return library_unload(h, p->library, p->library_handle, err, err_len);
}

#define LIBRARY_TRIES 20

/* fn on p's process, every thread held, tried again while a thread is where the loader
 * must not be called (-EBUSY: inside malloc, the loader or the library), the threads let
 * run a little longer each time. */
static int library_tries(struct repair_plan *p, const struct hold_range *avoid, size_t n_avoid,
			 patch_fn fn, unsigned flags, struct patch_stats *st, char *err,
			 size_t err_len)
{
	int r = -EBUSY;

	for (int i = 1; i <= LIBRARY_TRIES && r == -EBUSY; i++)
		if ((r = patch_held((pid_t)p->pid, avoid, n_avoid, fn, p, flags, st, err, err_len)) ==
			    -EBUSY &&
		    i < LIBRARY_TRIES)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000L * i }, NULL);
	return r;
}

/* With every thread held: the fix library loaded (once), the jump to its function. */
static int apply_library_held(struct hold *h, void *arg, char *err, size_t err_len)
{
	struct repair_plan *p = arg;
	struct located g;
	uint8_t jump[CODE_MAX];
	int r;

	if (!p->library_handle && (r = library_load(h, p->library, &p->library_handle, err, err_len)))
		return r;
	if ((r = locate(p->library, p->to_symbol, p->pid, &g, err, err_len)))
		return r;
	p->to_addr = g.addr;
	code_jump(0, 1ull << 40, jump); /* the same length, to patch the target in */
	memcpy(p->code + p->len - LIBRARY_JUMP, jump, 2);
	memcpy(p->code + p->len - LIBRARY_JUMP + 2, &p->to_addr, sizeof(p->to_addr));
	return patch_poke(h->pid, p->addr, p->orig, p->code, p->len, err, err_len);
}

static int apply(struct repair_plan *p, unsigned flags, struct patch_stats *st, char *err,
		 size_t err_len)
{
	struct hold_range inside = { p->addr, p->len, false };
	int r = same_process(p, err, err_len);

	if (r)
		return r;
	if (p->library[0])
		return library_tries(p, &inside, 1, apply_library_held, flags, st, err, err_len);
	return patch_held((pid_t)p->pid, &inside, 1, apply_held, p, flags, st, err, err_len);
}

/* An override by a uprobe writing the registers: its configuration, then the uprobe. */
static int apply_regs(struct repair_plan *p, struct patch_stats *st, char *err, size_t err_len)
{
	static const uint8_t ops[] = { [PRED_LT] = SALVE_OV_LT, [PRED_LE] = SALVE_OV_LE,
				       [PRED_GT] = SALVE_OV_GT, [PRED_GE] = SALVE_OV_GE,
				       [PRED_EQ] = SALVE_OV_EQ, [PRED_NE] = SALVE_OV_NE,
				       [PRED_IN] = SALVE_OV_IN };
	static uint64_t next_cookie = 1;
	struct salve_override_cfg cfg = { .ret = p->value };
	int r = same_process(p, err, err_len);

	if (r)
		return r;
	if (!regs) {
		snprintf(err, err_len, "this salved has no uprobe register writes (the kernel refuses "
			 "them)");
		return -ENOTSUP;
	}
	if (p->has_when) {
		cfg.arg = (uint8_t)p->when.arg;
		cfg.op = ops[p->when.pred.op];
		cfg.n_values = (uint32_t)p->when.pred.n_values;
		memcpy(cfg.values, p->when.pred.values, sizeof(cfg.values));
	}
	p->cookie = next_cookie++;
	if (st)
		*st = (struct patch_stats){ 0 }; /* no thread stopped */
	return override_attach(regs, p->path, p->file_off, (int)p->pid, &cfg, p->cookie, err,
			       err_len);
}

int repair_apply(struct repair_plan *p, struct patch_stats *st, char *err, size_t err_len)
{
	if (p->mechanism == REPAIR_UPROBE_REGS)
		return apply_regs(p, st, err, err_len);
	return apply(p, 0, st, err, err_len);
}

int repair_apply_at_entry(struct repair_plan *p, struct patch_stats *st, char *err,
			  size_t err_len)
{
	if (p->mechanism == REPAIR_UPROBE_REGS)
		return apply_regs(p, st, err, err_len);
	/* A trampoline page or a library needs the process to run salve's code. */
	return apply(p, tramp_pages(p) || p->library[0] ? PATCH_CONTINUE : 0, st, err, err_len);
}

int repair_undo(const struct repair_plan *p, struct patch_stats *st, char *err, size_t err_len)
{
	struct hold_range inside[2] = { { p->addr, p->len, false },
					{ p->page, REPAIR_PAGE_SIZE, true } };
	char why[512];
	int r = same_process(p, err, err_len);

	if (p->mechanism == REPAIR_UPROBE_REGS) {
		/* The uprobe ends the override in every case, the process gone or not. */
		if (regs)
			override_detach(regs, p->cookie);
		if (st)
			*st = (struct patch_stats){ 0 };
		return r;
	}
	r = r ?: patch_held((pid_t)p->pid, inside, tramp_pages(p) ? 2 : 1, undo_held, (void *)p, 0, st,
			    err, err_len);
	/* The patch gone, the calls in flight in the library finish and no new one comes. */
	if (!r && p->library_handle &&
	    library_tries((struct repair_plan *)p, NULL, 0, unload_held, 0, NULL, why, sizeof(why)) &&
	    same_process(p, why, sizeof(why)) != -ESRCH)
		salve_log_ctx(LOG_WARNING, &(struct log_fields){ .pid = p->pid },
			      "repair of %s in process %u undone; %s stays loaded, unused: %s",
			      p->symbol, p->pid, p->library, why);
	return r;
}
