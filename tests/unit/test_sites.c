/* sites: switching the kernel from one site plan to the next as a transaction, against
 * a fake kernel that keeps what is attached and which site watches each (syscall,
 * errno) pair, and can refuse the n-th attachment as a real kernel would (a binary
 * gone, an instruction uprobes cannot take). An undo runs with every allocation
 * refused: it needs none. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernel/sites.h"

#define PAIRS_MAX 16

/* Allocations fail while this is set, and are counted: an undo must need none. These
 * take the place of the C library's, which they call through glibc's own names. */
static bool no_memory;
static int allocs_refused;

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);

void *malloc(size_t size)
{
	if (no_memory) {
		allocs_refused++;
		return NULL;
	}
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	if (no_memory) {
		allocs_refused++;
		return NULL;
	}
	return __libc_calloc(n, size);
}

struct fake_kernel {
	bool attached[SALVE_SITES_MAX];
	struct {
		struct salve_sys_key key;
		uint32_t owner;
		bool used;
	} pairs[PAIRS_MAX];
	int attaches;  /* attach calls so far */
	int refuse_at; /* the attach call (1-based) the kernel refuses; 0: none */
};

static int fake_attach(void *ctx, uint32_t id, const struct salve_site *cfg, const char *path,
		       uint64_t offset)
{
	struct fake_kernel *k = ctx;

	(void)cfg;
	(void)path;
	(void)offset;
	if (++k->attaches == k->refuse_at)
		return -ENOTSUP;
	if (id >= SALVE_SITES_MAX || k->attached[id])
		return -EINVAL; /* what probes_site_attach says of an id in use */
	k->attached[id] = true;
	return 0;
}

static void fake_detach(void *ctx, uint32_t id)
{
	struct fake_kernel *k = ctx;

	k->attached[id] = false;
	for (int i = 0; i < PAIRS_MAX; i++)
		if (k->pairs[i].used && k->pairs[i].owner == id)
			k->pairs[i].used = false;
}

static int fake_sys_rule(void *ctx, uint32_t id, const struct salve_sys_key *key, bool replace,
			 uint32_t *owner)
{
	struct fake_kernel *k = ctx;
	int free_slot = -1;

	for (int i = 0; i < PAIRS_MAX; i++) {
		if (!k->pairs[i].used) {
			if (free_slot < 0)
				free_slot = i;
			continue;
		}
		if (memcmp(&k->pairs[i].key, key, sizeof(*key)))
			continue;
		if (!replace) {
			*owner = k->pairs[i].owner;
			return -EEXIST;
		}
		k->pairs[i].owner = id;
		return 0;
	}
	if (free_slot < 0)
		return -E2BIG;
	k->pairs[free_slot].key = *key;
	k->pairs[free_slot].owner = id;
	k->pairs[free_slot].used = true;
	return 0;
}

static struct sites_kernel fake(struct fake_kernel *k)
{
	return (struct sites_kernel){ fake_attach, fake_detach, fake_sys_rule, k };
}

static int n_attached(const struct fake_kernel *k)
{
	int n = 0;

	for (int i = 0; i < SALVE_SITES_MAX; i++)
		n += k->attached[i];
	return n;
}

static int pair_owner(const struct fake_kernel *k, uint32_t nr, uint32_t err)
{
	for (int i = 0; i < PAIRS_MAX; i++)
		if (k->pairs[i].used && k->pairs[i].key.nr == nr && k->pairs[i].key.err == err)
			return (int)k->pairs[i].owner;
	return -1;
}

/* Whether a and b have the same pairs watched by the same sites. */
static bool same_pairs(const struct fake_kernel *a, const struct fake_kernel *b)
{
	for (int i = 0; i < PAIRS_MAX; i++) {
		if (a->pairs[i].used != b->pairs[i].used)
			return false;
		if (a->pairs[i].used && (memcmp(&a->pairs[i].key, &b->pairs[i].key,
						sizeof(a->pairs[i].key)) ||
					 a->pairs[i].owner != b->pairs[i].owner))
			return false;
	}
	return true;
}

/* ---- fixtures: probes and plans built by hand ------------------------------------ */

static const struct policy pol = { .file = "web.json", .name = "web" };
static int open_nr[] = { 2 }, enoent[] = { 2 }, eacces[] = { 13 };
static struct policy_probe probes[] = {
	{ .id = "a", .policy = &pol },
	{ .id = "b", .policy = &pol },
	{ .id = "c", .policy = &pol },
	{ .id = "d", .policy = &pol },
	{ .id = "sys", .policy = &pol, .syscalls = open_nr, .n_syscalls = 1, .errnos = enoent,
	  .n_errnos = 1 },
	{ .id = "sys2", .policy = &pol, .syscalls = open_nr, .n_syscalls = 1, .errnos = enoent,
	  .n_errnos = 1 },
	{ .id = "sys3", .policy = &pol, .syscalls = open_nr, .n_syscalls = 1, .errnos = eacces,
	  .n_errnos = 1 },
};

static struct policy_probe *probe(const char *id)
{
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		if (!strcmp(probes[i].id, id))
			return &probes[i];
	fail_msg("no fixture probe %s", id);
	return NULL;
}

/* A plan of the named probes, each at its own offset of one file. */
static struct site_plan plan_of(struct site *buf, const char *const *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct policy_probe *pr = probe(ids[i]);

		buf[i] = (struct site){ .probe = pr, .offset = 0x1000 + 0x10 * (pr->id[0] - 'a') };
		strcpy(buf[i].path, "/usr/bin/web");
		buf[i].cfg.kind = pr->n_syscalls ? SALVE_SITE_SYSCALL : SALVE_SITE_RETURN;
		buf[i].cfg.policies = 1;
	}
	return (struct site_plan){ buf, n };
}

/* cur in force in k, as a first stage and commit leave it. */
static void bring_up(struct fake_kernel *k, struct site_plan *cur)
{
	struct sites_kernel ops = fake(k);
	char err[256];

	assert_int_equal(sites_stage(&ops, &(struct site_plan){ 0 }, cur, err, sizeof(err)), 0);
	sites_commit(&ops, &(struct site_plan){ 0 }, cur);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_first_plan_attaches_every_site(void **state)
{
	struct fake_kernel k = { 0 };
	struct site buf[3];
	struct site_plan cur = plan_of(buf, (const char *[]){ "a", "b", "c" }, 3);

	(void)state;
	bring_up(&k, &cur);
	assert_int_equal(n_attached(&k), 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(k.attached[cur.sites[i].id]);
}

/* The kernel refuses the second of three new attachments: the first is detached
 * again, cur's sites run on untouched, and the error names the probe. */
static void test_refused_attach_leaves_the_running_plan(void **state)
{
	struct fake_kernel k = { 0 }, before;
	struct site cbuf[1], nbuf[4];
	struct site_plan cur = plan_of(cbuf, (const char *[]){ "a" }, 1);
	struct site_plan next = plan_of(nbuf, (const char *[]){ "a", "b", "c", "d" }, 4);
	struct sites_kernel ops = fake(&k);
	char err[256] = "";

	(void)state;
	bring_up(&k, &cur);
	before = k;
	k.refuse_at = k.attaches + 2;
	assert_int_equal(sites_stage(&ops, &cur, &next, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "web.json: probe \"c\": cannot attach at /usr/bin/web+0x1020"));
	assert_memory_equal(k.attached, before.attached, sizeof(k.attached));
	assert_true(same_pairs(&k, &before));

	/* And a later reload goes through: no id is left busy. */
	k.refuse_at = 0;
	assert_int_equal(sites_stage(&ops, &cur, &next, err, sizeof(err)), 0);
	sites_commit(&ops, &cur, &next);
	assert_int_equal(n_attached(&k), 4);
	assert_int_equal(next.sites[0].id, cur.sites[0].id);
}

/* Staged sites run beside cur's; only the commit detaches cur's that went, and an
 * abort detaches only what the stage attached. */
static void test_stage_beside_then_commit_or_abort(void **state)
{
	struct fake_kernel k = { 0 };
	struct site cbuf[2], nbuf[2];
	struct site_plan cur = plan_of(cbuf, (const char *[]){ "a", "b" }, 2);
	struct site_plan next = plan_of(nbuf, (const char *[]){ "b", "c" }, 2);
	struct sites_kernel ops = fake(&k);
	char err[256];

	(void)state;
	bring_up(&k, &cur);
	assert_int_equal(sites_stage(&ops, &cur, &next, err, sizeof(err)), 0);
	assert_int_equal(n_attached(&k), 3); /* a, b and the new c side by side */
	assert_int_equal(next.sites[0].id, cur.sites[1].id); /* b kept its id */
	assert_false(sites_is_new(&cur, &next.sites[0]));
	assert_true(sites_is_new(&cur, &next.sites[1]));
	/* The new site's id is none of cur's: records of cur's sites stay cur's. */
	assert_null(sites_find(&cur, next.sites[1].id));

	/* The undo allocates nothing, so no memory shortage can stop it half-way. */
	no_memory = true;
	sites_abort(&ops, &cur, &next);
	no_memory = false;
	assert_int_equal(allocs_refused, 0);
	assert_int_equal(n_attached(&k), 2);
	assert_true(k.attached[cur.sites[0].id] && k.attached[cur.sites[1].id]);

	assert_int_equal(sites_stage(&ops, &cur, &next, err, sizeof(err)), 0);
	sites_commit(&ops, &cur, &next);
	assert_int_equal(n_attached(&k), 2);
	assert_false(k.attached[cur.sites[0].id]); /* a went */
	assert_true(k.attached[next.sites[0].id] && k.attached[next.sites[1].id]);
}

/* A changed syscall probe takes its (syscall, errno) pair from the site it replaces,
 * at commit: until then the running site keeps watching it. */
static void test_syscall_pairs_move_at_commit(void **state)
{
	struct fake_kernel k = { 0 };
	struct site cbuf[1], nbuf[1];
	struct site_plan cur = plan_of(cbuf, (const char *[]){ "sys" }, 1);
	struct site_plan next = plan_of(nbuf, (const char *[]){ "sys2" }, 1);
	struct sites_kernel ops = fake(&k);
	char err[256];

	(void)state;
	bring_up(&k, &cur);
	assert_int_equal(pair_owner(&k, 2, 2), (int)cur.sites[0].id);
	assert_int_equal(sites_stage(&ops, &cur, &next, err, sizeof(err)), 0);
	assert_int_equal(pair_owner(&k, 2, 2), (int)cur.sites[0].id);
	sites_commit(&ops, &cur, &next);
	assert_int_equal(pair_owner(&k, 2, 2), (int)next.sites[0].id);
	assert_false(k.attached[cur.sites[0].id]);
}

/* A pair a staying site watches cannot be taken: refused, nothing attached. */
static void test_syscall_pair_of_a_kept_site_is_refused(void **state)
{
	struct fake_kernel k = { 0 }, before;
	struct site cbuf[1], nbuf[3];
	struct site_plan cur = plan_of(cbuf, (const char *[]){ "sys" }, 1);
	struct site_plan next = plan_of(nbuf, (const char *[]){ "sys3", "sys", "sys2" }, 3);
	struct sites_kernel ops = fake(&k);
	char err[256] = "";

	(void)state;
	bring_up(&k, &cur);
	before = k;
	assert_int_equal(sites_stage(&ops, &cur, &next, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "probe \"sys2\": another syscall probe already watches"));
	assert_memory_equal(k.attached, before.attached, sizeof(k.attached));
	assert_true(same_pairs(&k, &before));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_plan_attaches_every_site),
		cmocka_unit_test(test_refused_attach_leaves_the_running_plan),
		cmocka_unit_test(test_stage_beside_then_commit_or_abort),
		cmocka_unit_test(test_syscall_pairs_move_at_commit),
		cmocka_unit_test(test_syscall_pair_of_a_kept_site_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
