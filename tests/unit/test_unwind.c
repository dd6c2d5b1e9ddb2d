/* unwind: the cache of CFI rules gives exactly libdwfl's frames. Snapshots are of this
 * program's own stack, taken as the kernel takes one (registers, the stack from sp, the
 * executable file mappings of /proc/self/maps), from code built without frame pointers,
 * at several depths, through libc (a qsort callback) and below a signal handler (a
 * signal frame, which the cache leaves to libdwfl); each is unwound by both paths of one
 * unwinder, and the stats say which path the cached one took. */
#if defined(__GNUC__) && !defined(__clang__)
/* As distributions build: only CFI unwinds this code. */
#pragma GCC optimize("omit-frame-pointer")
#endif
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbols/unwind.h"
#include "../lib/self_maps.h"

#define STACK_BYTES 16384 /* what a signal probe copies by default */
#define MAX_FRAMES 512

static struct salve_snapshot *snap; /* the last snapshot taken */
static struct unwinder *unw;

static size_t snap_bytes(void)
{
	return sizeof(struct salve_snapshot) + SALVE_MAPS_MAX * sizeof(struct salve_map) + SALVE_USTACK_MAX;
}

/* The registers and stack of this thread at the call, into snap. */
static __attribute__((noinline)) void take_snapshot(void)
{
	uint64_t r[SALVE_REGS_NR] = { 0 }, end = 0;

	SELF_REGS(r);
	memset(snap, 0, snap_bytes());
	memcpy(snap->regs, r, sizeof(r));
	assert_int_equal(self_maps(snap, r[SALVE_REG_SP], &end), 0);
	assert_true(end > r[SALVE_REG_SP]);
	snap->size = end - r[SALVE_REG_SP] > STACK_BYTES ? STACK_BYTES : end - r[SALVE_REG_SP];
	memcpy((uint8_t *)snapshot_stack(snap), (const void *)(uintptr_t)r[SALVE_REG_SP], snap->size);
}

/* depth + 1 calls of itself, then at_bottom; volatile keeps every call a real one. */
static __attribute__((noinline)) int descend(int depth, void (*at_bottom)(void))
{
	volatile int keep = depth;

	if (depth > 0)
		keep += descend(depth - 1, at_bottom);
	else
		at_bottom();
	return keep;
}

static const char *frame_str(const struct unwind_frame *f, char *buf, size_t len)
{
	snprintf(buf, len, "ip %#llx file_off %#llx adjust %llu map %d", (unsigned long long)f->ip,
		 (unsigned long long)f->file_off, (unsigned long long)f->adjust, f->map);
	return buf;
}

/* Unwind s both ways (the cached one twice: filling, then from what it kept), check they
 * agree frame for frame, and give how many frames. max bounds the walk. */
static size_t unwind_both(const struct salve_snapshot *s, size_t max)
{
	static struct unwind_frame want[MAX_FRAMES], got[MAX_FRAMES];
	size_t n_want = 0, n_got = 0;
	int err_want, err_got;
	char a[128], b[128];

	assert_true(max <= MAX_FRAMES);
	err_want = unwind_snapshot_libdwfl(unw, s, (uint32_t)getpid(), want, max, &n_want);
	for (int pass = 0; pass < 2; pass++) {
		memset(got, 0, sizeof(got));
		err_got = unwind_snapshot(unw, s, (uint32_t)getpid(), got, max, &n_got);
		assert_int_equal(err_got, err_want);
		if (n_got != n_want)
			fail_msg("pass %d: the cache found %zu frames, libdwfl %zu", pass, n_got, n_want);
		for (size_t i = 0; i < n_want; i++)
			if (got[i].ip != want[i].ip || got[i].file_off != want[i].file_off ||
			    got[i].adjust != want[i].adjust || got[i].map != want[i].map)
				fail_msg("pass %d, frame %zu: the cache says %s, libdwfl %s", pass, i,
					 frame_str(&got[i], a, sizeof(a)), frame_str(&want[i], b, sizeof(b)));
	}
	return n_want;
}

static struct unwind_stats stats_now(void)
{
	struct unwind_stats st;

	unwinder_stats(unw, &st);
	return st;
}

/* Stacks of several depths, all of them unwound from the cache alone. */
static void test_depths(void **state)
{
	static const int depths[] = { 0, 1, 2, 7, 30, 100 };

	(void)state;
	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		struct unwind_stats before = stats_now(), after;
		size_t n;

		descend(depths[i], take_snapshot);
		n = unwind_both(snap, MAX_FRAMES);
		after = stats_now();
		/* take_snapshot, depth + 1 descend, this test, cmocka's, main, libc's start. */
		if (n < (size_t)depths[i] + 5)
			fail_msg("depth %d: %zu frames", depths[i], n);
		assert_int_equal(after.cached, before.cached + 2);
		assert_int_equal(after.libdwfl, before.libdwfl);
	}
}

/* The same stack again is found in the cache: no address read from libdw twice. */
static void test_kept(void **state)
{
	struct unwind_stats before, after;
	static struct unwind_frame f[MAX_FRAMES];
	size_t n;

	(void)state;
	descend(5, take_snapshot);
	assert_int_equal(unwind_snapshot(unw, snap, (uint32_t)getpid(), f, MAX_FRAMES, &n), 0);
	before = stats_now();
	assert_int_equal(unwind_snapshot(unw, snap, (uint32_t)getpid(), f, MAX_FRAMES, &n), 0);
	after = stats_now();
	assert_int_equal(after.misses, before.misses);
	assert_int_equal(after.cached, before.cached + 1);
}

/* Where the walk stops: out full, at each size. */
static void test_max(void **state)
{
	(void)state;
	descend(10, take_snapshot);
	for (size_t max = 1; max <= 14; max++)
		assert_int_equal(unwind_both(snap, max), max);
}

/* A stack copy cut short: the return address beyond it cannot be read, and the walk
 * stops where libdwfl stops. */
static void test_short_copy(void **state)
{
	size_t full;

	(void)state;
	descend(40, take_snapshot);
	full = unwind_both(snap, MAX_FRAMES);
	for (uint32_t size = 8; size < 2048; size += 56) {
		size_t n;

		if (size > snap->size)
			break;
		snap->size = size;
		n = unwind_both(snap, MAX_FRAMES);
		assert_true(n >= 1 && n < full);
	}
}

static int cmp_calls;

static int cmp_snapshot(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (!cmp_calls++)
		descend(3, take_snapshot);
	return (x > y) - (x < y);
}

static void sort_some(void)
{
	int v[64];

	for (int i = 0; i < 64; i++)
		v[i] = (i * 37) % 64;
	cmp_calls = 0;
	qsort(v, 64, sizeof(v[0]), cmp_snapshot);
	assert_int_equal(v[0], 0);
}

/* The map of s whose path (the kernel's, leaf first) begins with prefix, or -1. */
static int map_named(const struct salve_snapshot *s, const char *prefix)
{
	for (int i = 0; i < s->nr_maps; i++)
		if (!strncmp(snapshot_maps(s)[i].file.path, prefix, strlen(prefix)))
			return i;
	return -1;
}

/* Frames in libc (qsort calling back): its .eh_frame's rules, the same frames. */
static void test_libc_frames(void **state)
{
	static struct unwind_frame f[MAX_FRAMES];
	struct unwind_stats before = stats_now(), after;
	size_t n;
	int libc;
	bool in_libc = false;

	(void)state;
	sort_some();
	n = unwind_both(snap, MAX_FRAMES);
	after = stats_now();
	assert_true(n > 8);
	assert_int_equal(after.cached, before.cached + 2);
	libc = map_named(snap, "libc.so");
	assert_true(libc >= 0);
	assert_int_equal(unwind_snapshot(unw, snap, (uint32_t)getpid(), f, MAX_FRAMES, &n), 0);
	for (size_t i = 0; i < n; i++)
		in_libc |= f[i].map == libc;
	assert_true(in_libc);
}

/* A snapshot whose maps leave libc out: the walk stops at its first address in libc. */
static void test_unmapped_stop(void **state)
{
	static uint8_t copy[sizeof(struct salve_snapshot) + SALVE_MAPS_MAX * sizeof(struct salve_map) +
			    STACK_BYTES];
	struct salve_snapshot *s = (struct salve_snapshot *)copy;
	struct salve_map *maps = (struct salve_map *)(s + 1);
	size_t n_all, n_cut;
	int libc;

	(void)state;
	sort_some();
	n_all = unwind_both(snap, MAX_FRAMES);
	libc = map_named(snap, "libc.so");
	assert_true(libc >= 0);
	*s = *snap;
	s->nr_maps = 0;
	for (int i = 0; i < snap->nr_maps; i++)
		if (i != libc)
			maps[s->nr_maps++] = snapshot_maps(snap)[i];
	memcpy((uint8_t *)snapshot_stack(s), snapshot_stack(snap), snap->size);
	n_cut = unwind_both(s, MAX_FRAMES);
	/* take_snapshot, descend x4, cmp_snapshot: then qsort's own frames. */
	assert_true(n_cut >= 6 && n_cut < n_all);
}

static jmp_buf after_snapshot;

static __attribute__((noinline, noreturn)) void snapshot_and_leave(void)
{
	descend(1, take_snapshot);
	longjmp(after_snapshot, 1);
}

/* Its call is its last instruction: the return address is past its end, in whatever
 * follows, and only pc - 1 finds its CFI. */
static __attribute__((noinline)) void ends_in_call(int x)
{
	volatile int keep = x;

	if (keep)
		snapshot_and_leave();
	__builtin_unreachable();
}

/* A caller whose call is its last instruction is looked up at pc - 1. */
static void test_call_at_end(void **state)
{
	static struct unwind_frame f[MAX_FRAMES];
	struct unwind_stats before, after;
	size_t n;

	(void)state;
	if (!setjmp(after_snapshot))
		ends_in_call(1);
	before = stats_now();
	n = unwind_both(snap, MAX_FRAMES);
	after = stats_now();
	assert_true(n > 6);
	/* pc itself is past ends_in_call's CFI: found at pc - 1, by the cache too. */
	assert_int_equal(after.cached, before.cached + 2);
	assert_int_equal(unwind_snapshot(unw, snap, (uint32_t)getpid(), f, MAX_FRAMES, &n), 0);
	/* take_snapshot, descend x2, snapshot_and_leave, ends_in_call, this test */
	assert_true((uintptr_t)f[4].ip > (uintptr_t)ends_in_call);
	assert_int_equal(f[4].adjust, 1);
}

/* The first frame at thousands of addresses of this program's and libc's text, on a real
 * stack: most rows of their CFI (prologues, epilogues, PLT expressions, code without
 * CFI), the walks that follow odd (unreadable, unmapped or zero return addresses,
 * loops to max), and more addresses than a cache holds, so it is emptied on the way. */
static void test_any_pc(void **state)
{
	struct unwind_stats before, after;
	const char *const names[] = { "test_unwind", "libc.so" };
	uint64_t ip;
	size_t walks = 0;

	(void)state;
	descend(3, take_snapshot);
	ip = snap->regs[SALVE_REG_IP];
	before = stats_now();
	for (size_t k = 0; k < 2; k++) {
		const struct salve_map *m = &snapshot_maps(snap)[map_named(snap, names[k])];
		/* 2000 addresses spread over the map; an odd stride meets every offset within
		 * an instruction. */
		uint64_t step = ((m->end - m->start) / 2000) | 1;

		assert_true(map_named(snap, names[k]) >= 0);
		for (uint64_t pc = m->start; pc < m->end; pc += step, walks++) {
			snap->regs[SALVE_REG_IP] = pc;
			unwind_both(snap, 64);
		}
	}
	snap->regs[SALVE_REG_IP] = ip;
	after = stats_now();
	assert_true(walks > 3000);
	assert_true(after.clears > before.clears);
	/* Most addresses have simple rules. */
	assert_true(after.cached - before.cached > walks);
	assert_true(after.libdwfl > before.libdwfl);
}

/* xorshift64: the same numbers every run. */
static uint64_t next_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* A word a stack might hold: a return address into the text, an address in the stack,
 * 0, noise. */
static uint64_t any_word(uint64_t *x)
{
	const struct salve_map *m = &snapshot_maps(snap)[next_random(x) % snap->nr_maps];
	uint64_t r = next_random(x);

	switch (r % 4) {
	case 0:
		return m->start + (r >> 8) % (m->end - m->start);
	case 1:
		return snap->regs[SALVE_REG_SP] + (r >> 8) % (snap->size + 64);
	case 2:
		return 0;
	default:
		return r;
	}
}

/* A real stack with a few words and registers made up, and sometimes another first
 * address: walks down every branch of the rules (registers unknown, reads beyond the
 * copy, returns to nowhere, to the middle of a function), the same both ways. */
static void test_odd_stacks(void **state)
{
	static uint8_t real[STACK_BYTES];
	struct unwind_stats before, after;
	uint64_t x = 0x5a17e5eedull, regs[SALVE_REGS_NR], *words;
	size_t n_words, frames = 0;

	(void)state;
	descend(12, take_snapshot);
	memcpy(regs, snap->regs, sizeof(regs));
	memcpy(real, snapshot_stack(snap), snap->size);
	words = (uint64_t *)(uintptr_t)snapshot_stack(snap);
	/* The words of descend's frames and those above them. */
	n_words = snap->size / sizeof(uint64_t) > 256 ? 256 : snap->size / sizeof(uint64_t);
	before = stats_now();
	for (int round = 0; round < 3000; round++) {
		int changes = 1 + (int)(next_random(&x) % 4);

		memcpy(words, real, snap->size);
		memcpy(snap->regs, regs, sizeof(regs));
		for (int i = 0; i < changes; i++) {
			uint64_t r = next_random(&x);

			if (r % 8 == 0)
				snap->regs[(r >> 8) % SALVE_REGS_NR] = any_word(&x) | 1;
			else
				words[(r >> 8) % n_words] = any_word(&x);
		}
		if (!snap->regs[SALVE_REG_SP])
			snap->regs[SALVE_REG_SP] = regs[SALVE_REG_SP];
		frames += unwind_both(snap, 64);
	}
	memcpy(words, real, snap->size);
	memcpy(snap->regs, regs, sizeof(regs));
	after = stats_now();
	/* Most walks went deep, most from the cache alone. */
	assert_true(frames > 3000 * 8);
	assert_true(after.cached - before.cached > 2 * 3000 / 2);
}

static void on_usr1(int sig)
{
	(void)sig;
	descend(2, take_snapshot);
}

/* Below a signal handler: the signal frame (__restore_rt) sends the stack to libdwfl,
 * whose frames the cache gives back unchanged. */
static void test_signal_frame(void **state)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct unwind_stats before, after;
	size_t n;

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	raise(SIGUSR1);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	before = stats_now();
	n = unwind_both(snap, MAX_FRAMES);
	after = stats_now();
	/* take_snapshot, descend x3, on_usr1, __restore_rt, raise's, this test... */
	assert_true(n > 8);
	assert_int_equal(after.libdwfl, before.libdwfl + 2);
	assert_int_equal(after.cached, before.cached);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depths),
		cmocka_unit_test(test_kept),
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_short_copy),
		cmocka_unit_test(test_libc_frames),
		cmocka_unit_test(test_unmapped_stop),
		cmocka_unit_test(test_signal_frame),
		cmocka_unit_test(test_call_at_end),
		cmocka_unit_test(test_any_pc),
		cmocka_unit_test(test_odd_stacks),
	};
	int failed;

	if (!(snap = malloc(snap_bytes())) || unwinder_new(&unw)) {
		fprintf(stderr, "test_unwind: out of memory\n");
		return 1;
	}
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	unwinder_free(unw);
	free(snap);
	return failed;
}
