/* events: records as the BPF side writes them, decoded or refused with the right errno. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"

#define KPATH_CRASH "crash/targets/tests/build/main/work/"
#define PATH_CRASH "/work/main/build/tests/targets/crash"
#define KPATH_LIBC "libc.so.6/x86_64-linux-gnu/lib/usr/"
#define PATH_LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"

static void fill_hdr(struct salve_event_hdr *hdr, unsigned int kind, size_t size)
{
	hdr->kind = kind;
	hdr->size = size;
	hdr->version = SALVE_EVENT_VERSION;
	hdr->pid = 4242;
	hdr->tid = 4243;
	hdr->boot_ns = 123456789012ULL;
	hdr->cgroup_id = 0x1234;
	hdr->policies = 0x8000000000000005ULL;
	hdr->suppressed = 7;
	memcpy(hdr->comm, "crash", 6);
}

static void fill_module(struct salve_module *m, const char *kpath, unsigned int flags)
{
	m->dev = 0x800001;
	m->ino = 99;
	m->path_flags = flags;
	memcpy(m->path, kpath, strnlen(kpath, sizeof(m->path)));
}

/* Heap records, so ASan sees any read past the record's end. */
static struct salve_signal_event *signal_record(void)
{
	struct salve_signal_event *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	fill_hdr(&r->hdr, SALVE_EV_SIGNAL, sizeof(*r));
	r->signo = 11;
	r->code = 1;
	r->sender_pid = 4242;
	r->flags = SALVE_SIG_FATAL | SALVE_SIG_HAS_ADDR | SALVE_SIG_HAS_IP;
	r->addr = 0x10;
	r->ip = 0x555555555149ULL;
	fill_module(&r->exe, KPATH_CRASH, 0);
	r->stack.nr_frames = 3;
	r->stack.nr_modules = 2;
	r->stack.ip[0] = 0x555555555149ULL;
	r->stack.file_off[0] = 0x1149;
	r->stack.module[0] = 0;
	r->stack.ip[1] = 0x7ffff7829d90ULL;
	r->stack.file_off[1] = 0x29d90;
	r->stack.module[1] = 1;
	r->stack.ip[2] = 0x7ffffffde000ULL;
	r->stack.module[2] = SALVE_MODULE_NONE;
	fill_module(&r->stack.modules[0], KPATH_CRASH, 0);
	fill_module(&r->stack.modules[1], KPATH_LIBC, 0);
	return r;
}

static void test_decode_signal(void **state)
{
	struct salve_signal_event *r = signal_record();
	struct event ev;

	(void)state;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	assert_int_equal(ev.kind, SALVE_EV_SIGNAL);
	assert_int_equal(ev.pid, 4242);
	assert_int_equal(ev.tid, 4243);
	assert_int_equal(ev.boot_ns, 123456789012ULL);
	assert_int_equal(ev.cgroup_id, 0x1234);
	assert_int_equal(ev.policies, 0x8000000000000005ULL);
	assert_int_equal(ev.suppressed, 7);
	assert_string_equal(ev.comm, "crash");
	assert_string_equal(ev.exe.path, PATH_CRASH);
	assert_false(ev.exe.truncated);
	assert_int_equal(ev.exe.dev, 0x800001);
	assert_int_equal(ev.exe.ino, 99);
	assert_int_equal(ev.sig.signo, 11);
	assert_int_equal(ev.sig.code, 1);
	assert_int_equal(ev.sig.sender_pid, 4242);
	assert_int_equal(ev.sig.flags, SALVE_SIG_FATAL | SALVE_SIG_HAS_ADDR | SALVE_SIG_HAS_IP);
	assert_int_equal(ev.sig.addr, 0x10);
	assert_int_equal(ev.sig.ip, 0x555555555149ULL);
	assert_int_equal(ev.n_frames, 3);
	assert_int_equal(ev.n_modules, 2);
	assert_int_equal(ev.frames[0].ip, 0x555555555149ULL);
	assert_int_equal(ev.frames[0].file_off, 0x1149);
	assert_int_equal(ev.frames[0].module, 0);
	assert_int_equal(ev.frames[1].file_off, 0x29d90);
	assert_int_equal(ev.frames[1].module, 1);
	assert_int_equal(ev.frames[2].module, -1);
	assert_string_equal(ev.modules[0].path, PATH_CRASH);
	assert_string_equal(ev.modules[1].path, PATH_LIBC);
	free(r);
}

static void test_decode_exit(void **state)
{
	struct salve_exit_event *r = calloc(1, sizeof(*r));
	struct event ev;

	(void)state;
	assert_non_null(r);
	fill_hdr(&r->hdr, SALVE_EV_EXIT, sizeof(*r));
	r->status = 3 << 8;
	fill_module(&r->exe, KPATH_CRASH, 0);
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	assert_int_equal(ev.kind, SALVE_EV_EXIT);
	assert_int_equal(ev.exit.status, 3 << 8);
	assert_string_equal(ev.exe.path, PATH_CRASH);
	assert_int_equal(ev.n_frames, 0);
	assert_int_equal(ev.n_modules, 0);
	free(r);
}

static void test_decode_oom(void **state)
{
	struct salve_oom_event *r = calloc(1, sizeof(*r));
	struct event ev;

	(void)state;
	assert_non_null(r);
	fill_hdr(&r->hdr, SALVE_EV_OOM, sizeof(*r));
	r->total_vm_kb = 1 << 20;
	r->anon_rss_kb = 900000;
	r->file_rss_kb = 1000;
	r->shmem_rss_kb = 20;
	r->pgtables_kb = 2048;
	r->uid = 1000;
	r->oom_score_adj = -500;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	assert_int_equal(ev.kind, SALVE_EV_OOM);
	assert_int_equal(ev.oom.total_vm_kb, 1 << 20);
	assert_int_equal(ev.oom.anon_rss_kb, 900000);
	assert_int_equal(ev.oom.file_rss_kb, 1000);
	assert_int_equal(ev.oom.shmem_rss_kb, 20);
	assert_int_equal(ev.oom.pgtables_kb, 2048);
	assert_int_equal(ev.oom.uid, 1000);
	assert_int_equal(ev.oom.oom_score_adj, -500);
	assert_string_equal(ev.exe.path, "");
	assert_int_equal(ev.n_frames, 0);
	free(r);
}

static void test_decode_exec(void **state)
{
	struct salve_exec_event *r = calloc(1, sizeof(*r));
	struct event ev;

	(void)state;
	assert_non_null(r);
	fill_hdr(&r->hdr, SALVE_EV_EXEC, sizeof(*r));
	r->old_tid = 4250;
	fill_module(&r->exe, KPATH_LIBC, 0);
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	assert_int_equal(ev.kind, SALVE_EV_EXEC);
	assert_int_equal(ev.exec.old_tid, 4250);
	assert_string_equal(ev.exe.path, PATH_LIBC);
	assert_int_equal(ev.n_frames, 0);
	free(r);
}

/* A call record: its site, value and the process's executable by identity only. */
static void test_decode_call(void **state)
{
	struct salve_call_event *r = calloc(1, sizeof(*r));
	struct event ev;

	(void)state;
	assert_non_null(r);
	fill_hdr(&r->hdr, SALVE_EV_RETURN, sizeof(*r));
	r->site = 17;
	r->ret = -4;
	r->exe_dev = 0x800001;
	r->exe_ino = 99;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	assert_int_equal(ev.kind, SALVE_EV_RETURN);
	assert_int_equal(ev.call.site, 17);
	assert_int_equal(ev.call.ret, -4);
	assert_int_equal(ev.exe.dev, 0x800001);
	assert_int_equal(ev.exe.ino, 99);
	assert_string_equal(ev.exe.path, "");
	assert_int_equal(ev.n_frames, 0);
	free(r);
}

/* The kernel fills all 16 bytes of comm and may leave no NUL. */
static void test_decode_comm_unterminated(void **state)
{
	struct salve_exit_event *r = calloc(1, sizeof(*r));
	struct event ev;

	(void)state;
	assert_non_null(r);
	fill_hdr(&r->hdr, SALVE_EV_EXIT, sizeof(*r));
	memset(r->hdr.comm, 'x', sizeof(r->hdr.comm));
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	assert_int_equal(strlen(ev.comm), SALVE_COMM_LEN);
	free(r);
}

/* Ring-buffer memory carries no alignment promise for a copy of the record. */
static void test_decode_unaligned(void **state)
{
	struct salve_signal_event *r = signal_record();
	char *buf = malloc(sizeof(*r) + 1);
	struct event ev;

	(void)state;
	assert_non_null(buf);
	memcpy(buf + 1, r, sizeof(*r));
	assert_int_equal(events_decode(buf + 1, sizeof(*r), &ev), 0);
	assert_string_equal(ev.modules[1].path, PATH_LIBC);
	free(buf);
	free(r);
}

static void test_decode_short_buffer(void **state)
{
	struct salve_signal_event *r = signal_record();
	struct salve_signal_event *big = calloc(2, sizeof(*r));
	struct event ev;

	(void)state;
	assert_int_equal(events_decode(r, 0, &ev), -EINVAL);
	assert_int_equal(events_decode(r, sizeof(r->hdr) - 1, &ev), -EINVAL);
	/* The header says a full record, but fewer bytes arrived. */
	assert_int_equal(events_decode(r, sizeof(r->hdr), &ev), -EINVAL);
	assert_int_equal(events_decode(r, sizeof(*r) - 1, &ev), -EINVAL);
	assert_int_equal(events_decode(NULL, sizeof(*r), &ev), -EINVAL);
	/* More bytes than the record (ring-buffer padding) are fine. */
	assert_non_null(big);
	memcpy(big, r, sizeof(*r));
	assert_int_equal(events_decode(big, 2 * sizeof(*r), &ev), 0);
	free(big);
	free(r);
}

static void test_decode_wrong_size(void **state)
{
	struct salve_signal_event *r = signal_record();
	struct event ev;

	(void)state;
	r->hdr.size = sizeof(*r) - 8;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), -EINVAL);
	r->hdr.size = sizeof(struct salve_exit_event);
	assert_int_equal(events_decode(r, sizeof(*r), &ev), -EINVAL);
	r->hdr.size = 0;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), -EINVAL);
	free(r);
}

/* A snapshot record: the signal's, then the snapshot, its n_maps mappings and stack
 * bytes, on the heap so ASan sees a read past its end. */
static struct salve_signal_event *snapshot_record(uint16_t n_maps, uint32_t stack, size_t *size)
{
	struct salve_signal_event *r;
	struct salve_snapshot *s;
	struct salve_map *maps;
	uint8_t *bytes;

	*size = sizeof(*r) + sizeof(*s) + n_maps * sizeof(*maps) + stack;
	r = calloc(1, *size);
	assert_non_null(r);
	fill_hdr(&r->hdr, SALVE_EV_SIGNAL, *size);
	r->hdr.flags = SALVE_HDR_SNAPSHOT;
	r->signo = 11;
	s = (struct salve_snapshot *)(r + 1);
	s->regs[SALVE_REG_SP] = 0x7ffc0000;
	s->nr_maps = n_maps;
	s->size = stack;
	maps = (struct salve_map *)(s + 1);
	for (uint16_t i = 0; i < n_maps; i++) {
		maps[i].start = 0x400000 + i * 0x10000ULL;
		maps[i].end = maps[i].start + 0x1000;
		fill_module(&maps[i].file, KPATH_LIBC, 0);
		maps[i].file.ino = i;
	}
	bytes = (uint8_t *)(maps + n_maps);
	for (uint32_t i = 0; i < stack; i++)
		bytes[i] = (uint8_t)i;
	return r;
}

/* The mappings, as many as a process has, then the stack bytes, both within the record. */
static void test_decode_snapshot(void **state)
{
	size_t size;
	struct salve_signal_event *r = snapshot_record(40, 4096, &size);
	const struct salve_snapshot *s;
	struct event ev;

	(void)state;
	assert_int_equal(events_decode(r, size, &ev), 0);
	s = ev.snap;
	assert_non_null(s);
	assert_int_equal(s->nr_maps, 40);
	assert_int_equal(snapshot_maps(s)[39].file.ino, 39);
	assert_int_equal(snapshot_maps(s)[39].start, 0x400000 + 39 * 0x10000ULL);
	assert_int_equal(snapshot_stack(s)[0], 0);
	assert_int_equal(snapshot_stack(s)[4095], 0xff);
	assert_ptr_equal(snapshot_stack(s) + s->size, (const uint8_t *)r + size);
	free(r);
}

/* Counts that would have the reader past the record are refused. */
static void test_decode_snapshot_overflow(void **state)
{
	size_t size;
	struct salve_signal_event *r = snapshot_record(3, 64, &size);
	struct salve_snapshot *s = (struct salve_snapshot *)(r + 1);
	struct event ev;

	(void)state;
	s->nr_maps = 4;
	assert_int_equal(events_decode(r, size, &ev), -EINVAL);
	s->nr_maps = 3;
	s->size = 65;
	assert_int_equal(events_decode(r, size, &ev), -EINVAL);
	s->size = 64;
	s->nr_maps = SALVE_MAPS_MAX + 1;
	assert_int_equal(events_decode(r, size, &ev), -EINVAL);
	s->nr_maps = 3;
	assert_int_equal(events_decode(r, size, &ev), 0);
	free(r);
}

static void test_decode_wrong_version(void **state)
{
	struct salve_signal_event *r = signal_record();
	struct event ev;

	(void)state;
	r->hdr.version = SALVE_EVENT_VERSION + 1;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), -EPROTO);
	r->hdr.version = 0;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), -EPROTO);
	free(r);
}

static void test_decode_unknown_kind(void **state)
{
	struct salve_signal_event *r = signal_record();
	struct event ev;

	(void)state;
	r->hdr.kind = 0;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), -ENOTSUP);
	r->hdr.kind = SALVE_EV_KIND_MAX;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), -ENOTSUP);
	r->hdr.kind = 0xffff;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), -ENOTSUP);
	free(r);
}

static void test_decode_clamps_frames_and_modules(void **state)
{
	struct salve_signal_event *r = signal_record();
	struct event ev;

	(void)state;
	r->stack.nr_frames = 1000;
	r->stack.nr_modules = 200;
	for (int i = 0; i < SALVE_STACK_MAX; i++)
		r->stack.module[i] = i % 8; /* 6 and 7 are past SALVE_MODULES_MAX */
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	assert_int_equal(ev.n_frames, SALVE_STACK_MAX);
	assert_int_equal(ev.n_modules, SALVE_MODULES_MAX);
	for (int i = 0; i < SALVE_STACK_MAX; i++)
		assert_int_equal(ev.frames[i].module, i % 8 < SALVE_MODULES_MAX ? i % 8 : -1);

	/* An index past the modules this record names. */
	r->stack.nr_frames = 2;
	r->stack.nr_modules = 1;
	r->stack.module[0] = 0;
	r->stack.module[1] = 1;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	assert_int_equal(ev.n_frames, 2);
	assert_int_equal(ev.n_modules, 1);
	assert_int_equal(ev.frames[0].module, 0);
	assert_int_equal(ev.frames[1].module, -1);
	free(r);
}

static void check_path(const char *kpath, const char *want)
{
	char out[SALVE_PATH_MAX + 1];

	assert_int_equal(events_path(kpath, strlen(kpath) + 1, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_path_reverse(void **state)
{
	(void)state;
	check_path(KPATH_CRASH, PATH_CRASH);
	check_path("b/a/lib/usr/", "/usr/lib/a/b");
	check_path("init/", "/init");
	check_path("", "");
	check_path("/", "/");
	/* A root dentry named "/" adds an empty component: it is not a directory. */
	check_path("crash/tmp//", "/tmp/crash");
	check_path("lib.so (deleted)/a b/", "/a b/lib.so (deleted)");
}

/* kernel_len bounds the read: the kernel's buffer need not hold a NUL. */
static void test_path_bounded(void **state)
{
	char kpath[8] = { 'c', 'r', '/', 'u', 's', 'r', '/', 'x' };
	char out[16];

	(void)state;
	assert_int_equal(events_path(kpath, 7, out, sizeof(out)), 0);
	assert_string_equal(out, "/usr/cr");
	assert_int_equal(events_path(kpath, 3, out, sizeof(out)), 0);
	assert_string_equal(out, "/cr");
}

static void test_path_too_long(void **state)
{
	char out[sizeof(PATH_CRASH)];

	(void)state;
	assert_int_equal(events_path(KPATH_CRASH, sizeof(KPATH_CRASH), out, sizeof(out)), 0);
	assert_string_equal(out, PATH_CRASH);
	assert_int_equal(events_path(KPATH_CRASH, sizeof(KPATH_CRASH), out, sizeof(out) - 1),
			 -ENAMETOOLONG);
	assert_int_equal(events_path("/", 2, out, 1), -ENAMETOOLONG);
	assert_int_equal(events_path("", 1, out, 0), -ENAMETOOLONG);
	assert_int_equal(events_path("", 1, out, 1), 0);
	assert_string_equal(out, "");
}

static void decode_exe(const char *kpath, unsigned int flags, struct event *ev)
{
	struct salve_exec_event *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	fill_hdr(&r->hdr, SALVE_EV_EXEC, sizeof(*r));
	fill_module(&r->exe, kpath, flags);
	assert_int_equal(events_decode(r, sizeof(*r), ev), 0);
	free(r);
}

static void test_path_truncated(void **state)
{
	struct event ev;

	(void)state;
	/* The walk ran out of depth: the outer components are missing. */
	decode_exe("crash/targets/", SALVE_PATH_TRUNCATED, &ev);
	assert_true(ev.exe.truncated);
	assert_string_equal(ev.exe.path, ".../targets/crash");
	/* It ran out of room mid-name: the cut name is no name, so it goes too. */
	decode_exe("crash/targets/te", SALVE_PATH_TRUNCATED, &ev);
	assert_true(ev.exe.truncated);
	assert_string_equal(ev.exe.path, ".../targets/crash");
	/* A cut name without the flag is still a truncated path. */
	decode_exe("crash/targets/te", 0, &ev);
	assert_true(ev.exe.truncated);
	assert_string_equal(ev.exe.path, ".../targets/crash");
	/* Nothing walked at all. */
	decode_exe("", SALVE_PATH_TRUNCATED, &ev);
	assert_true(ev.exe.truncated);
	assert_string_equal(ev.exe.path, "...");
	decode_exe("", 0, &ev);
	assert_false(ev.exe.truncated);
	assert_string_equal(ev.exe.path, "");
}

/* A full buffer with the flag: "..." must fit, so outer components give way. */
static void test_path_truncated_full(void **state)
{
	char kpath[SALVE_PATH_MAX];
	struct salve_exec_event *r = calloc(1, sizeof(*r));
	struct event ev;
	size_t len;

	(void)state;
	assert_non_null(r);
	/* 51 components "dddd/" (255 bytes) with the leaf "leaf/" first. */
	memset(kpath, 0, sizeof(kpath));
	memcpy(kpath, "leaf/", 5);
	for (size_t off = 5; off + 5 < sizeof(kpath); off += 5)
		memcpy(kpath + off, "dddd/", 5);
	fill_hdr(&r->hdr, SALVE_EV_EXEC, sizeof(*r));
	r->exe.path_flags = SALVE_PATH_TRUNCATED;
	memcpy(r->exe.path, kpath, sizeof(kpath));
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	len = strlen(ev.exe.path);
	assert_true(ev.exe.truncated);
	assert_true(len <= SALVE_PATH_MAX);
	assert_memory_equal(ev.exe.path, ".../dddd/", 9);
	assert_string_equal(ev.exe.path + len - 5, "/leaf");

	/* The whole 256 bytes used, no NUL, no flag: the cut tail is dropped. */
	memset(r->exe.path, 'e', sizeof(r->exe.path));
	memcpy(r->exe.path, "leaf/", 5);
	r->exe.path_flags = 0;
	assert_int_equal(events_decode(r, sizeof(*r), &ev), 0);
	assert_true(ev.exe.truncated);
	assert_string_equal(ev.exe.path, ".../leaf");
	free(r);
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(events_kind_name(SALVE_EV_SIGNAL), "signal");
	assert_string_equal(events_kind_name(SALVE_EV_EXIT), "exit");
	assert_string_equal(events_kind_name(SALVE_EV_OOM), "oom");
	assert_string_equal(events_kind_name(SALVE_EV_EXEC), "exec");
	assert_string_equal(events_kind_name((enum salve_event_kind)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_signal),
		cmocka_unit_test(test_decode_exit),
		cmocka_unit_test(test_decode_oom),
		cmocka_unit_test(test_decode_exec),
		cmocka_unit_test(test_decode_call),
		cmocka_unit_test(test_decode_comm_unterminated),
		cmocka_unit_test(test_decode_unaligned),
		cmocka_unit_test(test_decode_short_buffer),
		cmocka_unit_test(test_decode_wrong_size),
		cmocka_unit_test(test_decode_wrong_version),
		cmocka_unit_test(test_decode_unknown_kind),
		cmocka_unit_test(test_decode_clamps_frames_and_modules),
		cmocka_unit_test(test_path_reverse),
		cmocka_unit_test(test_path_bounded),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test(test_path_truncated),
		cmocka_unit_test(test_path_truncated_full),
		cmocka_unit_test(test_decode_snapshot),
		cmocka_unit_test(test_decode_snapshot_overflow),
		cmocka_unit_test(test_kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
