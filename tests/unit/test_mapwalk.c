/* mapwalk: the walk that deletes stale entries of BPF maps (exited owners, detached
 * sites, keys out of a new scope), on a map in memory that steps like a kernel hash map:
 * every picked entry goes however many there are, a failed delete is tried once and
 * said, and a map that keeps sending the cursor back cannot keep the walk going. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/mapwalk.h"

#define CAP 4096

struct key {
	uint32_t site, tgid;
};

struct fake {
	struct key keys[CAP];
	uint32_t values[CAP];
	bool live[CAP];
	size_t deletes;       /* delete calls */
	struct key refuse;    /* delete of this key fails with -EPERM */
	bool refusing;
	bool restart_always;  /* every step past the first starts over, as after an eviction */
};

static long find(const struct fake *m, const void *key)
{
	for (size_t i = 0; i < CAP; i++)
		if (m->live[i] && !memcmp(&m->keys[i], key, sizeof(struct key)))
			return (long)i;
	return -1;
}

/* A hash map's get_next_key: the entry after key, or the first when key is not there. */
static int fake_next(void *map, const void *key, void *next)
{
	struct fake *m = map;
	long i = key && !m->restart_always ? find(m, key) : -1;

	for (size_t j = (size_t)(i + 1); j < CAP; j++) {
		if (m->live[j]) {
			memcpy(next, &m->keys[j], sizeof(struct key));
			return 0;
		}
	}
	return -ENOENT;
}

static int fake_lookup(void *map, const void *key, void *value)
{
	struct fake *m = map;
	long i = find(m, key);

	if (i < 0)
		return -ENOENT;
	memcpy(value, &m->values[i], sizeof(uint32_t));
	return 0;
}

static int fake_delete(void *map, const void *key)
{
	struct fake *m = map;
	long i = find(m, key);

	m->deletes++;
	if (m->refusing && !memcmp(&m->refuse, key, sizeof(struct key)))
		return -EPERM;
	if (i < 0)
		return -ENOENT;
	m->live[i] = false;
	return 0;
}

static const struct mapwalk_ops fake_ops = { fake_next, fake_lookup, fake_delete };

static struct fake *fake_new(size_t n, uint32_t owners)
{
	struct fake *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	for (size_t i = 0; i < n; i++) {
		m->keys[i] = (struct key){ .site = (uint32_t)(i % owners), .tgid = (uint32_t)i };
		m->values[i] = (uint32_t)(i % owners);
		m->live[i] = true;
	}
	return m;
}

static size_t count_owned(const struct fake *m, uint32_t owner)
{
	size_t n = 0;

	for (size_t i = 0; i < CAP; i++)
		n += m->live[i] && m->values[i] == owner;
	return n;
}

static bool owned_by(void *ctx, const void *key, const void *value)
{
	uint32_t v;

	(void)key;
	memcpy(&v, value, sizeof(v));
	return v == *(const uint32_t *)ctx;
}

/* 1000 entries of owner 0 among 3000: all of them go in one call (the old table kept
 * 256 and left the rest with a stale owner), and no other. */
static void test_every_picked_entry_goes(void **state)
{
	struct fake *m = fake_new(3000, 3);
	struct mapwalk_result r;
	uint32_t owner = 0;

	(void)state;
	assert_int_equal(mapwalk_delete_if(&fake_ops, m, sizeof(struct key), sizeof(uint32_t),
					   2 * CAP, owned_by, &owner, &r), 0);
	assert_int_equal(r.picked, 1000);
	assert_int_equal(r.deleted, 1000);
	assert_int_equal(r.failed, 0);
	assert_int_equal(count_owned(m, 0), 0);
	assert_int_equal(count_owned(m, 1), 1000);
	assert_int_equal(count_owned(m, 2), 1000);
	free(m);
}

static bool all(void *ctx, const void *key, const void *value)
{
	(void)ctx;
	(void)key;
	assert_null(value); /* value_size 0: no lookup */
	return true;
}

/* A delete that fails is tried once: the walk ends, the others are deleted, and the
 * error is returned and counted (prune used to restart on it forever). */
static void test_failed_delete_stops(void **state)
{
	struct fake *m = fake_new(500, 1);
	struct mapwalk_result r;

	(void)state;
	m->refusing = true;
	m->refuse = m->keys[42];
	assert_int_equal(mapwalk_delete_if(&fake_ops, m, sizeof(struct key), 0, 2 * CAP, all, NULL,
					   &r), -EPERM);
	assert_int_equal(m->deletes, 500);
	assert_int_equal(r.picked, 500);
	assert_int_equal(r.deleted, 499);
	assert_int_equal(r.failed, 1);
	assert_true(m->live[42]);
	assert_int_equal(count_owned(m, 0), 1);
	free(m);
}

/* The kernel evicts a key the walk stands on (an LRU map): the next step starts over, the
 * entries before it are picked twice, and their second delete finds them gone, which is
 * not a failure. Every entry still goes, once. */
static bool evict_third(void *ctx, const void *key, const void *value)
{
	struct fake *m = ctx;
	struct key k;

	(void)value;
	memcpy(&k, key, sizeof(k));
	if (k.tgid == 3 && m->live[3])
		m->live[3] = false;
	return true;
}

static void test_gone_already_is_fine(void **state)
{
	struct fake *m = fake_new(10, 1);
	struct mapwalk_result r;

	(void)state;
	assert_int_equal(mapwalk_delete_if(&fake_ops, m, sizeof(struct key), 0, 2 * CAP,
					   evict_third, m, &r), 0);
	assert_int_equal(r.picked, 13); /* 0..3, then 0..2 again and 4..9 */
	assert_int_equal(r.deleted, 9);
	assert_int_equal(r.failed, 0);
	assert_int_equal(count_owned(m, 0), 0);
	free(m);
}

/* A map that sends the cursor back to its start at every step stops the walk at
 * max_steps, with -ELOOP; what was picked is still deleted. */
static void test_walk_is_bounded(void **state)
{
	struct fake *m = fake_new(100, 1);
	struct mapwalk_result r;
	uint32_t nobody = 7;

	(void)state;
	m->restart_always = true;
	assert_int_equal(mapwalk_delete_if(&fake_ops, m, sizeof(struct key), sizeof(uint32_t), 200,
					   owned_by, &nobody, &r), -ELOOP);
	assert_int_equal(r.picked, 0);
	assert_int_equal(count_owned(m, 0), 100);
	assert_int_equal(mapwalk_delete_if(&fake_ops, m, sizeof(struct key), 0, 50, all, NULL, &r),
			 -ELOOP);
	assert_int_equal(r.picked, 50); /* the first key, 50 times */
	assert_int_equal(r.deleted, 1);
	assert_int_equal(r.failed, 0);
	assert_int_equal(count_owned(m, 0), 99);
	free(m);
}

/* An empty map: nothing to do, and that is success. */
static void test_empty(void **state)
{
	struct fake *m = fake_new(0, 1);
	struct mapwalk_result r = { 9, 9, 9 };

	(void)state;
	assert_int_equal(mapwalk_delete_if(&fake_ops, m, sizeof(struct key), 0, 10, all, NULL, &r), 0);
	assert_int_equal(r.picked, 0);
	assert_int_equal(m->deletes, 0);
	assert_int_equal(mapwalk_delete_if(&fake_ops, m, 0, 0, 10, all, NULL, NULL), -EINVAL);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_picked_entry_goes),
		cmocka_unit_test(test_failed_delete_stops),
		cmocka_unit_test(test_gone_already_is_fine),
		cmocka_unit_test(test_walk_is_bounded),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
