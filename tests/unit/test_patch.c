/* patch: a hot patch of a real process (tests/targets/patch_loop, a child of the test,
 * which ptrace may trace without privileges): 8 threads call answer() in a tight loop
 * while it is overridden and put back 100 times; every call returns the original
 * or the override, none crashes. Refusals leave the bytes alone: a thread parked inside
 * them, bytes that are not the expected ones, PID 1, the caller itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actions/code.h"
#include "actions/patch.h"
#include "actions/repair.h"
#include "events/events.h"
#include "kernel/resolve.h"

static char target[4096];
static pid_t running; /* the child of the test running, killed if it fails */

struct child {
	pid_t pid;
	FILE *out;
};

static int kill_child(void **state)
{
	(void)state;
	if (running > 0) {
		kill(running, SIGKILL);
		waitpid(running, NULL, 0);
	}
	running = 0;
	return 0;
}

/* Start patch_loop with args; returns once it printed "ready". */
static void child_start(struct child *c, const char *threads, const char *override,
			const char *mode)
{
	int fds[2];
	char line[256];

	assert_int_equal(pipe(fds), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(target, target, threads, override, mode, (char *)NULL);
		_exit(127);
	}
	running = c->pid;
	close(fds[1]);
	c->out = fdopen(fds[0], "r");
	assert_non_null(c->out);
	assert_non_null(fgets(line, sizeof(line), c->out));
	assert_non_null(strstr(line, "ready"));
}

/* Stop it; its counts, and it must have exited 0 (no crash). */
static void child_stop(struct child *c, unsigned long *original, unsigned long *overridden,
		       unsigned long *other)
{
	char line[256];
	int status;

	kill(c->pid, SIGTERM);
	assert_non_null(fgets(line, sizeof(line), c->out));
	assert_int_equal(sscanf(line, "original=%lu overridden=%lu other=%lu", original, overridden,
				other),
			 3);
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	running = 0;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fclose(c->out);
}

/* The address of symbol in the child. */
static uint64_t address_of(pid_t pid, const char *symbol, uint64_t *size)
{
	struct resolve_site site;
	struct stat st;
	uint64_t addr = 0;
	char err[512];

	assert_int_equal(resolve_symbol(target, symbol, NULL, &site, err, sizeof(err)), 0);
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(patch_locate(pid, events_kernel_dev(st.st_dev), st.st_ino, site.offset, &addr),
			 0);
	if (size)
		*size = site.size;
	return addr;
}

/* As salved repairs: a plan (the patch after answer()'s first instruction, which it
 * undoes), applied and undone 100 times while 8 threads call answer() in a tight loop
 * (a thread found inside the bytes is stepped out of them). */
static void test_override_and_back_100_times(void **state)
{
	struct child c;
	struct repair_plan plan;
	unsigned long original, overridden, other;
	char err[512];

	(void)state;
	child_start(&c, "8", "-1", NULL);
	assert_int_equal(repair_plan_override(target, "answer", -1, (uint32_t)c.pid, &plan, err,
					      sizeof(err)), 0);
	for (int i = 0; i < 100; i++) {
		struct patch_stats st;

		assert_int_equal(repair_apply(&plan, &st, err, sizeof(err)), 0);
		assert_int_equal(st.threads, 9); /* 8 callers and main */
		usleep(200);
		assert_int_equal(repair_undo(&plan, &st, err, sizeof(err)), 0);
		usleep(200);
	}
	child_stop(&c, &original, &overridden, &other);
	assert_true(original > 0);
	assert_true(overridden > 0);
	assert_int_equal(other, 0);
}

/* Whether process pid maps the page at page, executable. */
static bool has_trampoline(pid_t pid, uint64_t page)
{
	char path[64], line[512], start[32];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	snprintf(start, sizeof(start), "%llx-", (unsigned long long)page);
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f))
		found |= !strncmp(line, start, strlen(start)) && strstr(line, " r-xp ");
	fclose(f);
	return found;
}

/* An override only when the argument is 3: a trampoline page mapped into the process
 * (an injected mmap), the displaced instructions run there. 8 threads call twice(k) for
 * k = 0 to 7 while it is applied and undone 100 times: 2k always, except the override
 * for k = 3 while applied; the page is gone after each undo. */
static void test_override_when_100_times(void **state)
{
	struct code_when when = { .arg = 0, .pred = { .op = PRED_EQ, .values = { 3 }, .n_values = 1 } };
	struct json_object *obj = json_object_new_object();
	unsigned long original, overridden, other;
	struct repair_plan plan, back;
	struct child c;
	char err[512];

	(void)state;
	child_start(&c, "8", "-1", "when");
	assert_int_equal(repair_plan_override_when(target, "twice", -1, &when, (uint32_t)c.pid, &plan,
						   err, sizeof(err)), 0);
	assert_true(plan.has_when);
	assert_int_equal(plan.code[0], 0xe9); /* jmp to the page, within reach */
	json_object_object_add(obj, "do", json_object_new_string("override"));
	assert_int_equal(repair_plan_to_json(&plan, obj), 0);
	assert_int_equal(repair_plan_from_json(obj, &back), 0);
	json_object_put(obj);
	assert_int_equal(back.page, plan.page);
	assert_int_equal(back.tramp_len, plan.tramp_len);
	assert_memory_equal(back.tramp, plan.tramp, plan.tramp_len);
	assert_int_equal(back.when.pred.values[0], 3);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(repair_apply(&back, NULL, err, sizeof(err)), 0);
		if (i == 0)
			assert_true(has_trampoline(c.pid, back.page));
		usleep(200);
		assert_int_equal(repair_undo(&back, NULL, err, sizeof(err)), 0);
		if (i == 0)
			assert_false(has_trampoline(c.pid, back.page));
		usleep(200);
	}
	child_stop(&c, &original, &overridden, &other);
	assert_true(original > 0);
	assert_true(overridden > 0);
	assert_int_equal(other, 0);
}

/* The counts so far of the running child. */
static void child_counts(struct child *c, unsigned long *original, unsigned long *overridden,
			 unsigned long *other)
{
	char line[256];

	kill(c->pid, SIGUSR1);
	assert_non_null(fgets(line, sizeof(line), c->out));
	assert_int_equal(sscanf(line, "original=%lu overridden=%lu other=%lu", original, overridden,
				other),
			 3);
}

/* The counts once the calls that cannot be original (overridden: false) or overridden
 * any more have all been counted: that number the same over 50 ms (a caller holding a
 * result may wait that long for a CPU with 9 spinning threads on 2). */
static void settled_counts(struct child *c, bool overridden, unsigned long *o, unsigned long *v,
			   unsigned long *x)
{
	unsigned long last;

	child_counts(c, o, v, x);
	do {
		last = overridden ? *v : *o;
		usleep(50000);
		child_counts(c, o, v, x);
	} while ((overridden ? *v : *o) != last);
}

/* A breaker's gate: applied, every call of answer() from 8 threads is turned away; let
 * 1000 through and exactly 1000 return the original, the others still the override;
 * 10 times over, then undone (the two pages gone) and every call is the original. */
static void test_gate_lets_exactly_n_through(void **state)
{
	unsigned long o0, v0, x0, o1, v1, x1;
	struct repair_plan plan;
	struct child c;
	int64_t left;
	char err[512];

	(void)state;
	child_start(&c, "8", "-1", NULL);
	assert_int_equal(repair_plan_gate(target, "answer", -1, (uint32_t)c.pid, &plan, err,
					  sizeof(err)), 0);
	assert_true(plan.gate);
	assert_int_equal(repair_apply(&plan, NULL, err, sizeof(err)), 0);
	assert_true(has_trampoline(c.pid, plan.page));
	for (int i = 0; i < 10; i++) {
		settled_counts(&c, false, &o0, &v0, &x0);
		assert_int_equal(repair_gate_set(&plan, 1000), 0);
		do {
			usleep(1000);
			assert_int_equal(repair_gate_left(&plan, &left), 0);
		} while (left > 0);
		settled_counts(&c, false, &o1, &v1, &x1);
		assert_int_equal(o1 - o0, 1000);
		assert_true(v1 > v0);
		assert_int_equal(x1, 0);
	}
	assert_int_equal(repair_undo(&plan, NULL, err, sizeof(err)), 0);
	assert_false(has_trampoline(c.pid, plan.page));
	settled_counts(&c, true, &o0, &v0, &x0);
	usleep(20000);
	child_stop(&c, &o1, &v1, &x1);
	assert_true(o1 > o0);
	assert_int_equal(v1, v0);
	assert_int_equal(x1, 0);
}

/* The trampoline's code, byte for byte: the test, the displaced instructions moved (a
 * rip-relative operand keeps its target), the jump back, the override. Refused: a jump
 * into the displaced bytes, a call among them. */
static void test_trampoline_code(void **state)
{
	/* push %rbp; lea 0x100(%rip),%rax; mov %rax,%rdi; pop %rbp; ret */
	static const uint8_t fn[] = { 0x55, 0x48, 0x8d, 0x05, 0x00, 0x01, 0x00, 0x00,
				      0x48, 0x89, 0xc7, 0x5d, 0xc3 };
	/* push %rbp; nop3; jmp to +3 (inside the displaced bytes); ret */
	static const uint8_t into[] = { 0x55, 0x0f, 0x1f, 0x00, 0x90, 0x90, 0xeb, 0xfb, 0xc3 };
	/* push %rbp; call +0; pop %rbp; ret */
	static const uint8_t call[] = { 0x55, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x5d, 0xc3 };
	const uint64_t at = 0x400000, page = 0x3ff000;
	struct code_when when = { .arg = 0, .pred = { .op = PRED_EQ, .values = { 3 }, .n_values = 1 } };
	uint8_t out[CODE_TRAMPOLINE_MAX], undo[1] = { 0x5d };
	size_t n, taken;
	int32_t disp, rel;
	char err[256];

	(void)state;
	assert_int_equal(code_trampoline(fn, sizeof(fn), at, 1, &when, undo, 1, -1, page, out, &n,
					 &taken, err, sizeof(err)), 0);
	assert_int_equal(taken, 7); /* the lea: whole instructions covering the 5-byte jump */
	/* cmp $3,%rdi; je override */
	assert_memory_equal(out, ((const uint8_t[]){ 0x48, 0x81, 0xff, 3, 0, 0, 0, 0x0f, 0x84 }), 9);
	/* the lea at page + 13 reaches what it did at at + 1 */
	assert_memory_equal(out + 13, fn + 1, 3);
	memcpy(&disp, out + 16, 4);
	assert_int_equal(page + 13 + 7 + (int64_t)disp, at + 1 + 7 + 0x100);
	/* jmp back to at + 8 */
	assert_int_equal(out[20], 0xe9);
	memcpy(&rel, out + 21, 4);
	assert_int_equal(page + 25 + (int64_t)rel, at + 8);
	/* the override, where je goes: pop %rbp; mov $-1,%rax; ret */
	memcpy(&rel, out + 9, 4);
	assert_int_equal(13 + rel, 25);
	assert_memory_equal(out + 25, ((const uint8_t[]){ 0x5d, 0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff,
							0xff, 0xc3 }), 9);
	assert_int_equal(n, 34);

	assert_int_equal(code_trampoline(into, sizeof(into), at, 1, &when, undo, 1, -1, page, out, &n,
					 &taken, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "jumps into"));
	assert_int_equal(code_trampoline(call, sizeof(call), at, 1, &when, undo, 1, -1, page, out, &n,
					 &taken, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "call"));
	/* beyond a jump's reach */
	assert_int_equal(code_trampoline(fn, sizeof(fn), at, 1, &when, undo, 1, -1, 1ull << 40, out,
					 &n, &taken, err, sizeof(err)), -ENOTSUP);
}

/* Whether process pid maps the file at path. */
static bool maps_file(pid_t pid, const char *path)
{
	char maps[64], line[4096];
	bool found = false;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	assert_non_null(f = fopen(maps, "r"));
	while (fgets(line, sizeof(line), f))
		found |= strstr(line, path) != NULL;
	fclose(f);
	return found;
}

/* A fix library loaded into the running 8-thread patch_loop by its own dlopen and
 * answer() redirected to the library's: the callers see its value; undone, the
 * original again and the library unloaded. A wrong build id is refused, nothing
 * loaded. */
static void test_fix_library(void **state)
{
	struct repair_plan plan;
	struct resolve_site site;
	unsigned long original, overridden, other;
	char lib[4096], err[512];
	struct child c;

	(void)state;
	snprintf(lib, sizeof(lib), "%s", target);
	strcpy(strrchr(lib, '/') + 1, "libfix.so");
	assert_int_equal(resolve_symbol(lib, "answer", NULL, &site, err, sizeof(err)), 0);
	child_start(&c, "8", "-5", NULL);
	assert_int_equal(repair_plan_library(target, "answer", "answer", lib, "0123abcd",
					     (uint32_t)c.pid, &plan, err, sizeof(err)),
			 -EKEYREJECTED);
	assert_non_null(strstr(err, "0123abcd"));
	assert_int_equal(repair_plan_library(target, "answer", "answer", lib, site.build_id,
					     (uint32_t)c.pid, &plan, err, sizeof(err)), 0);
	assert_false(maps_file(c.pid, lib));
	assert_int_equal(repair_apply(&plan, NULL, err, sizeof(err)), 0);
	assert_true(plan.library_handle != 0);
	assert_true(maps_file(c.pid, lib));
	usleep(50000);
	assert_int_equal(repair_undo(&plan, NULL, err, sizeof(err)), 0);
	assert_false(maps_file(c.pid, lib));
	usleep(20000);
	child_stop(&c, &original, &overridden, &other);
	assert_true(original > 0);
	assert_true(overridden > 0);
	assert_int_equal(other, 0);

	/* A thread inside the loader (a dl_iterate_phdr callback: it holds the loader's
	 * lock, which dlopen takes): refused, named, nothing loaded. */
	child_start(&c, "2", "-5", "loader");
	assert_int_equal(repair_plan_library(target, "answer", "answer", lib, site.build_id,
					     (uint32_t)c.pid, &plan, err, sizeof(err)), 0);
	assert_int_equal(repair_apply(&plan, NULL, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "dl_iterate_phdr"));
	assert_false(maps_file(c.pid, lib));
	child_stop(&c, &original, &overridden, &other);
	assert_int_equal(overridden, 0);
}

static void test_refusals(void **state)
{
	struct child c;
	uint8_t orig[CODE_MAX], now[CODE_MAX], code[CODE_MAX], wrong[CODE_MAX];
	unsigned long original, overridden, other;
	uint64_t addr, parked;
	size_t len = code_return(7, code), jump;
	struct patch_stats st;
	char err[512];

	(void)state;
	child_start(&c, "1", "7", "park");
	addr = address_of(c.pid, "answer", NULL);
	assert_int_equal(patch_read(c.pid, addr, orig, len), 0);

	/* Bytes that are not the ones expected: named, and nothing written. */
	memcpy(wrong, orig, len);
	wrong[0] ^= 0xff;
	assert_int_equal(patch_write(c.pid, addr, wrong, code, len, &st, err, sizeof(err)), -EILSEQ);
	assert_non_null(strstr(err, "are"));
	assert_int_equal(patch_read(c.pid, addr, now, len), 0);
	assert_memory_equal(now, orig, len);

	/* A thread for ever inside the bytes: refused after the tries, nothing written. */
	parked = address_of(c.pid, "parked", NULL);
	jump = code_jump(parked, addr, code);
	assert_int_equal(patch_read(c.pid, parked, orig, jump), 0);
	assert_int_equal(patch_write(c.pid, parked, orig, code, jump, &st, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "inside"));
	assert_true(st.tries > 1);
	assert_int_equal(patch_read(c.pid, parked, now, jump), 0);
	assert_memory_equal(now, orig, jump);

	/* The walls. */
	assert_int_equal(patch_write(1, addr, orig, code, len, NULL, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "PID 1"));
	assert_int_equal(patch_write(getpid(), addr, orig, code, len, NULL, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "salved"));

	child_stop(&c, &original, &overridden, &other);
	assert_int_equal(overridden, 0);
	assert_int_equal(other, 0);
}

/* A plan journaled as JSON and read back is the same plan; applied, the callers see the
 * override; undone, the original. */
static void apply_undo(struct repair_plan *plan, const char *override)
{
	struct json_object *obj = json_object_new_object();
	struct repair_plan back;
	char err[512];

	json_object_object_add(obj, "do", json_object_new_string(plan->kind == REPAIR_OVERRIDE
								     ? "override" : "redirect"));
	assert_int_equal(repair_plan_to_json(plan, obj), 0);
	assert_int_equal(repair_plan_from_json(obj, &back), 0);
	json_object_put(obj);
	assert_int_equal(back.addr, plan->addr);
	assert_int_equal(back.len, plan->len);
	assert_memory_equal(back.code, plan->code, plan->len);
	assert_memory_equal(back.orig, plan->orig, plan->len);
	assert_int_equal(repair_apply(&back, NULL, err, sizeof(err)), 0);
	usleep(20000);
	/* Applied twice: the bytes are no longer the original. */
	assert_int_equal(repair_apply(&back, NULL, err, sizeof(err)), -EILSEQ);
	assert_int_equal(repair_undo(&back, NULL, err, sizeof(err)), 0);
	(void)override;
}

static void test_repair_plans(void **state)
{
	struct child c;
	struct repair_plan plan;
	unsigned long original, overridden, other;
	char err[512];

	(void)state;
	child_start(&c, "2", "-7", NULL);
	assert_int_equal(repair_plan_override(target, "answer", -7, (uint32_t)c.pid, &plan, err,
					      sizeof(err)), 0);
	assert_int_equal(plan.kind, REPAIR_OVERRIDE);
	apply_undo(&plan, "-7");
	assert_int_equal(repair_plan_redirect(target, "answer", "fallback", (uint32_t)c.pid, &plan,
					      err, sizeof(err)), 0);
	assert_string_equal(plan.to_path, target);
	/* After "push %rbp" (-O0): "pop %rbp", then a jmp rel32 (the same binary is within
	 * reach). */
	assert_int_equal(plan.skip, 1);
	assert_int_equal(plan.len, 6);
	assert_int_equal(plan.code[0], 0x5d);
	assert_int_equal(plan.code[1], 0xe9);
	apply_undo(&plan, "-7");

	/* Refusals, each named. */
	/* parked() is 9 bytes; a 64-bit value takes 11. */
	assert_int_equal(repair_plan_override(target, "parked", 1LL << 40, (uint32_t)c.pid, &plan,
					      err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "shorter"));
	assert_int_equal(repair_plan_override(target, "no_such_function", 0, (uint32_t)c.pid, &plan,
					      err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no_such_function"));
	assert_int_equal(repair_plan_redirect(target, "answer", "no_such_fallback", (uint32_t)c.pid,
					      &plan, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no_such_fallback"));
	assert_int_equal(repair_plan_override(target, "answer", 0, 1, &plan, err, sizeof(err)),
			 -EPERM);
	assert_int_equal(repair_plan_override("/usr/lib/x86_64-linux-gnu/libm.so.6", "frexp", 0,
					      (uint32_t)c.pid, &plan, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "does not map"));
	/* Bytes not the file's: a patch already there. */
	assert_int_equal(repair_plan_override(target, "answer", -7, (uint32_t)c.pid, &plan, err,
					      sizeof(err)), 0);
	assert_int_equal(repair_apply(&plan, NULL, err, sizeof(err)), 0);
	assert_int_equal(repair_plan_override(target, "answer", 5, (uint32_t)c.pid, &plan, err,
					      sizeof(err)), -EILSEQ);
	assert_non_null(strstr(err, "not the file's"));

	child_stop(&c, &original, &overridden, &other);
	assert_true(original > 0);
	assert_true(overridden > 0);
	assert_int_equal(other, 0);
}

/* What a patch after a function's first instruction starts with: that instruction undone. */
static void test_step_over(void **state)
{
	static const struct {
		uint8_t in[8];
		size_t n, first, undo_len;
		uint8_t undo[8];
	} cases[] = {
		{ { 0xf3, 0x0f, 0x1e, 0xfa, 0x55 }, 5, 4, 0, { 0 } },             /* endbr64 */
		{ { 0x0f, 0x1f, 0x44, 0x00, 0x00 }, 5, 5, 0, { 0 } },             /* nop5 */
		{ { 0x55, 0x48, 0x89, 0xe5 }, 4, 1, 1, { 0x5d } },                /* push %rbp */
		{ { 0x41, 0x54 }, 2, 2, 2, { 0x41, 0x5c } },                      /* push %r12 */
		{ { 0x48, 0x83, 0xec, 0x20 }, 4, 4, 4, { 0x48, 0x83, 0xc4, 0x20 } }, /* sub $0x20 */
		{ { 0x48, 0x81, 0xec, 0x00, 0x10, 0x00, 0x00 }, 7, 7, 7,
		  { 0x48, 0x81, 0xc4, 0x00, 0x10, 0x00, 0x00 } },                  /* sub $0x1000 */
	};
	uint8_t undo[CODE_MAX];
	size_t first, undo_len;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(code_step_over(0x1000, cases[i].in, cases[i].n, &first, undo, &undo_len,
						err, sizeof(err)), 0);
		assert_int_equal(first, cases[i].first);
		assert_int_equal(undo_len, cases[i].undo_len);
		assert_memory_equal(undo, cases[i].undo, undo_len);
	}
	/* mov $1,%eax: refused, named. */
	assert_int_equal(code_step_over(0x1000, (const uint8_t[]){ 0xb8, 1, 0, 0, 0 }, 5, &first, undo,
					&undo_len, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "mov"));
}

/* An override by a register-writing uprobe journals no bytes, only where and what; a
 * salved without the mechanism (this kernel refuses it) says so rather than apply it. */
static void test_regs_plan(void **state)
{
	struct repair_plan p = { .kind = REPAIR_OVERRIDE, .mechanism = REPAIR_UPROBE_REGS,
				 .pid = (uint32_t)getpid(), .value = -7, .has_when = true,
				 .when = { .arg = 1, .pred = { .op = PRED_IN, .values = { 1, 2 },
							       .n_values = 2 } },
				 .file_off = 0x1139, .addr = 0x401139, .cookie = 9 },
			   back;
	struct json_object *obj = json_object_new_object();
	char err[256];

	(void)state;
	p.start_ns = repair_process_start_ns(p.pid);
	strcpy(p.path, target);
	strcpy(p.symbol, "answer");
	json_object_object_add(obj, "do", json_object_new_string("override"));
	assert_int_equal(repair_plan_to_json(&p, obj), 0);
	assert_false(json_object_object_get_ex(obj, "patched", NULL));
	assert_string_equal(json_object_get_string(json_object_object_get(obj, "mechanism")),
			    "uprobe_regs");
	assert_int_equal(repair_plan_from_json(obj, &back), 0);
	json_object_put(obj);
	assert_int_equal(back.mechanism, REPAIR_UPROBE_REGS);
	assert_int_equal(back.cookie, 9);
	assert_int_equal(back.when.pred.n_values, 2);
	assert_int_equal(back.when.pred.values[1], 2);
	assert_int_equal(repair_apply(&back, NULL, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "register writes"));
}

static void test_gone(void **state)
{
	uint8_t b[4] = { 0 };
	char err[512];
	pid_t pid = fork();

	(void)state;
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	assert_int_equal(patch_write(pid, 0x1000, b, b, sizeof(b), NULL, err, sizeof(err)), -ESRCH);
	assert_int_equal(patch_read(pid, 0x1000, b, sizeof(b)), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_override_and_back_100_times, kill_child),
		cmocka_unit_test_teardown(test_override_when_100_times, kill_child),
		cmocka_unit_test_teardown(test_gate_lets_exactly_n_through, kill_child),
		cmocka_unit_test(test_trampoline_code),
		cmocka_unit_test_teardown(test_fix_library, kill_child),
		cmocka_unit_test_teardown(test_refusals, kill_child),
		cmocka_unit_test_teardown(test_repair_plans, kill_child),
		cmocka_unit_test(test_step_over),
		cmocka_unit_test(test_regs_plan),
		cmocka_unit_test(test_gone),
	};
	const char *b = getenv("SALVE_BUILD");
	char rel[4096];

	/* Absolute: a policy's binary is. */
	snprintf(rel, sizeof(rel), "%s/tests/targets/patch_loop", b && *b ? b : "build");
	if (!realpath(rel, target)) {
		perror(rel);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
