#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/mapwalk.h"

#define KEY_MAX 64   /* bytes of the largest key of salve's maps */
#define VALUE_MAX 64 /* bytes of the largest value looked up on a walk */

static int fd_of(void *map)
{
	return (int)(intptr_t)map;
}

static int bpf_next_key(void *map, const void *key, void *next)
{
	return bpf_map_get_next_key(fd_of(map), key, next) ? -errno : 0;
}

static int bpf_lookup(void *map, const void *key, void *value)
{
	return bpf_map_lookup_elem(fd_of(map), key, value) ? -errno : 0;
}

static int bpf_delete(void *map, const void *key)
{
	return bpf_map_delete_elem(fd_of(map), key) ? -errno : 0;
}

const struct mapwalk_ops mapwalk_bpf = { bpf_next_key, bpf_lookup, bpf_delete };

/* Append key to the n keys at *buf (room for *cap). */
static int keep(unsigned char **buf, size_t *n, size_t *cap, const void *key, size_t key_size)
{
	if (*n == *cap) {
		size_t grown = *cap ? *cap * 2 : 64;
		unsigned char *b = realloc(*buf, grown * key_size);

		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = grown;
	}
	memcpy(*buf + *n * key_size, key, key_size);
	(*n)++;
	return 0;
}

int mapwalk_delete_if(const struct mapwalk_ops *ops, void *map, size_t key_size,
		      size_t value_size, size_t max_steps, mapwalk_pick_fn *pick, void *ctx,
		      struct mapwalk_result *out)
{
	unsigned char cur[KEY_MAX], next[KEY_MAX], value[VALUE_MAX], *keys = NULL;
	struct mapwalk_result r = { 0 };
	size_t n = 0, cap = 0, steps = 0;
	const void *prev = NULL;
	int err = 0, rc;

	if (!key_size || key_size > KEY_MAX || value_size > VALUE_MAX)
		return -EINVAL;
	while (!(rc = ops->next_key(map, prev, next))) {
		if (steps++ == max_steps) {
			err = -ELOOP;
			break;
		}
		memcpy(cur, next, key_size);
		prev = cur;
		if (value_size && ops->lookup(map, cur, value))
			continue; /* gone since the step found it */
		if (!pick(ctx, cur, value_size ? value : NULL))
			continue;
		if ((err = keep(&keys, &n, &cap, cur, key_size)))
			break;
	}
	if (!err && rc != -ENOENT)
		err = rc;
	r.picked = n;
	for (size_t i = 0; i < n; i++) {
		rc = ops->delete(map, keys + i * key_size);
		if (!rc) {
			r.deleted++;
		} else if (rc != -ENOENT) {
			r.failed++;
			err = err ?: rc;
		}
	}
	free(keys);
	if (out)
		*out = r;
	return err;
}
