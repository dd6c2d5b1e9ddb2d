/* checkpoints: salve's own checkpoints, written whole under the state directory. */
#define _GNU_SOURCE
#include "actions/checkpoints.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gelf.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "actions/corefile.h"
#include "actions/criu.h"
#include "actions/snapshot.h"
#include "base/atomic_file.h"
#include "events/report.h"
#include "symbols/elffile.h"

#define TMP_PREFIX ".tmp-"
#define OUT_CHUNK (256u << 10)
#define CRIU_IMAGES "images" /* a criu checkpoint's images, in its directory */
#define KILL_WAIT_MS 5000    /* a process killed for a criu restore is gone within it */

struct checkpoints {
	char *dir; /* state_dir/checkpoints */
	int dirfd;
	uint64_t quota;
	char *criu; /* a criu that passed its check; NULL: none */
	checkpoints_line_fn *line;
	void *ctx;
};

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) && errno != ENOENT ? -1 : 0;
}

/* Remove directory name of c's, and all it holds. */
static int remove_checkpoint(struct checkpoints *c, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		return -errno;
	return fsync(c->dirfd) ? -errno : 0;
}

int checkpoints_new(const char *state_dir, uint64_t quota, checkpoints_line_fn *line, void *ctx,
		    struct checkpoints **out, char *err, size_t err_len)
{
	struct checkpoints *c = calloc(1, sizeof(*c));
	struct dirent *de;
	DIR *d;

	if (!c || asprintf(&c->dir, "%s/checkpoints", state_dir) < 0) {
		free(c);
		return -ENOMEM;
	}
	c->quota = quota;
	c->line = line;
	c->ctx = ctx;
	if ((mkdir(c->dir, 0700) && errno != EEXIST) ||
	    (c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		int e = -errno;

		snprintf(err, err_len, "%s: %s", c->dir, strerror(errno));
		free(c->dir);
		free(c);
		return e;
	}
	/* A checkpoint cut short by a crash left its temporary: nothing of it stays. */
	if ((d = opendir(c->dir))) {
		while ((de = readdir(d)))
			if (!strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
				remove_checkpoint(c, de->d_name);
		closedir(d);
	}
	*out = c;
	return 0;
}

void checkpoints_free(struct checkpoints *c)
{
	if (!c)
		return;
	close(c->dirfd);
	free(c->dir);
	free(c->criu);
	free(c);
}

int checkpoints_set_criu(struct checkpoints *c, const char *criu)
{
	char *copy = criu ? strdup(criu) : NULL;

	if (criu && !copy)
		return -ENOMEM;
	free(c->criu);
	c->criu = copy;
	return 0;
}

/* ---- what is there -------------------------------------------------------------- */

static struct json_object *read_meta(struct checkpoints *c, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s/meta.json", c->dir, name);
	return json_object_from_file(path);
}

static uint64_t u64_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static int by_taken(const void *a, const void *b)
{
	uint64_t x = u64_of(*(struct json_object *const *)a, "taken_ns");
	uint64_t y = u64_of(*(struct json_object *const *)b, "taken_ns");

	return x < y ? -1 : x > y;
}

/* Every checkpoint's meta.json, oldest first. */
static struct json_object *all_meta(struct checkpoints *c)
{
	struct json_object *list = json_object_new_array();
	struct dirent *de;
	DIR *d;

	if (!list || !(d = opendir(c->dir)))
		return list;
	while ((de = readdir(d))) {
		struct json_object *meta;

		if (de->d_name[0] == '.' || !(meta = read_meta(c, de->d_name)))
			continue;
		json_object_array_add(list, meta);
	}
	closedir(d);
	json_object_array_sort(list, by_taken);
	return list;
}

#define SUMMARY_KEYS "id", "time", "backend", "trigger", "rule", "pid", "comm", "binary", \
		     "pause_ns", "memory_bytes", "bytes"

struct json_object *checkpoints_list(struct checkpoints *c, const char *id)
{
	static const char *const keys[] = { SUMMARY_KEYS };
	struct json_object *all = all_meta(c), *list = all ? json_object_new_array() : NULL;

	for (size_t i = 0; list && i < json_object_array_length(all); i++) {
		struct json_object *m = json_object_array_get_idx(all, i), *o;
		char path[4096];

		if (id && strcmp(id, str_of(m, "id") ?: ""))
			continue;
		o = json_object_new_object();
		for (size_t k = 0; o && k < sizeof(keys) / sizeof(keys[0]); k++) {
			struct json_object *v;

			if (json_object_object_get_ex(m, keys[k], &v))
				json_object_object_add(o, keys[k], json_object_get(v));
		}
		snprintf(path, sizeof(path), "%s/%s", c->dir, str_of(m, "id") ?: "");
		if (o)
			json_object_object_add(o, "path", json_object_new_string(path));
		json_object_array_add(list, o);
	}
	json_object_put(all);
	return list;
}

int checkpoints_find(struct checkpoints *c, const char *id, struct json_object **meta,
		     char *dir, size_t dir_len, char *err, size_t err_len)
{
	struct json_object *list = all_meta(c), *found = NULL;
	long pid = 0;

	if (!list)
		return -ENOMEM;
	if (!strncmp(id, "last:", 5))
		pid = strtol(id + 5, NULL, 10);
	for (size_t i = json_object_array_length(list); !found && i-- > 0;) {
		struct json_object *m = json_object_array_get_idx(list, i);

		if (!strcmp(id, "last") || (pid && (long)u64_of(m, "pid") == pid) ||
		    !strcmp(str_of(m, "id") ?: "", id))
			found = json_object_get(m);
	}
	json_object_put(list);
	if (!found) {
		if (pid)
			snprintf(err, err_len, "no checkpoint of process %ld", pid);
		else
			snprintf(err, err_len, "no checkpoint \"%s\"", id);
		return -ENOENT;
	}
	snprintf(dir, dir_len, "%s/%s", c->dir, str_of(found, "id"));
	*meta = found;
	return 0;
}

/* ---- writing one ---------------------------------------------------------------- */

/* The core, deflated into gzip's format on the way to fd, within limit bytes. */
struct gz_out {
	z_stream z;
	int fd;
	uint64_t written, limit;
	uint8_t buf[OUT_CHUNK];
};

static int gz_drain(struct gz_out *g, int flush)
{
	do {
		int zr;

		g->z.next_out = g->buf;
		g->z.avail_out = sizeof(g->buf);
		zr = deflate(&g->z, flush);
		if (zr == Z_STREAM_ERROR)
			return -EIO;
		size_t n = sizeof(g->buf) - g->z.avail_out;

		if (g->written + n > g->limit)
			return -EDQUOT;
		for (size_t at = 0; at < n;) {
			ssize_t w = write(g->fd, g->buf + at, n - at);

			if (w < 0)
				return -errno;
			at += (size_t)w;
		}
		g->written += n;
	} while (g->z.avail_out == 0);
	return 0;
}

static int gz_sink(void *ctx, const void *buf, size_t len)
{
	struct gz_out *g = ctx;

	g->z.next_in = (Bytef *)buf;
	g->z.avail_in = (uInt)len;
	while (g->z.avail_in) {
		int r = gz_drain(g, Z_NO_FLUSH);

		if (r)
			return r;
	}
	return 0;
}

/* Write s's core to dirfd/core.gz, at most limit bytes on disk: the bytes, or -errno
 * (-EDQUOT past the limit). */
static int64_t write_core(int dirfd, const struct snapshot *s, uint64_t limit, uint64_t *core_bytes)
{
	struct gz_out *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->limit = limit;
	/* Level 1: a core is mostly zeros and repeated pages, and the disk waits for it. */
	if (deflateInit2(&g->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(g);
		return -ENOMEM;
	}
	if ((g->fd = openat(dirfd, "core.gz", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		r = -errno;
	} else {
		r = corefile_write(s, gz_sink, g, core_bytes);
		r = r ?: gz_drain(g, Z_FINISH);
		if (!r && fsync(g->fd))
			r = -errno;
		close(g->fd);
	}
	deflateEnd(&g->z);
	int64_t written = (int64_t)g->written;

	free(g);
	return r ? r : written;
}

/* The bytes the checkpoints take on disk now, and the oldest of them. */
static uint64_t checkpoints_used(struct checkpoints *c, char *oldest, size_t oldest_len)
{
	struct json_object *list = all_meta(c);
	uint64_t used = 0;

	if (oldest_len)
		oldest[0] = 0;
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *m = json_object_array_get_idx(list, i);

		used += u64_of(m, "bytes");
		if (i == 0 && oldest_len)
			snprintf(oldest, oldest_len, "%s", str_of(m, "id") ?: "");
	}
	json_object_put(list);
	return used;
}

/* Free bytes the checkpoints may still take from the file system (its reserve kept). */
static int disk_room(struct checkpoints *c, uint64_t *room)
{
	struct statvfs v;
	uint64_t avail, reserve;

	if (fstatvfs(c->dirfd, &v))
		return -errno;
	avail = (uint64_t)v.f_bavail * v.f_frsize;
	reserve = (uint64_t)v.f_blocks * v.f_frsize * CHECKPOINT_RESERVE_PCT / 100;
	*room = avail > reserve ? avail - reserve : 0;
	return 0;
}

static void make_id(const struct snapshot *s, int attempt, char *id)
{
	time_t secs = (time_t)(s->taken_ns / 1000000000ull);
	struct tm tm;
	char when[32];

	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	if (attempt)
		snprintf(id, CHECKPOINT_ID_MAX, "%s-%d-%d", when, (int)s->pid, attempt);
	else
		snprintf(id, CHECKPOINT_ID_MAX, "%s-%d", when, (int)s->pid);
}

static struct json_object *cmdline_array(const struct snapshot *s)
{
	struct json_object *a = json_object_new_array();

	for (size_t at = 0; a && at < s->cmdline_len; at += strlen((char *)s->cmdline + at) + 1)
		json_object_array_add(a, json_object_new_string((char *)s->cmdline + at));
	return a;
}

static struct json_object *fds_array(const struct snapshot *s)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < s->n_fds; i++) {
		struct json_object *f = json_object_new_object();

		report_add(f, "fd", json_object_new_int(s->fds[i].fd));
		report_add(f, "target", json_object_new_string(s->fds[i].target));
		report_add(f, "pos", json_object_new_uint64(s->fds[i].pos));
		report_add(f, "flags", json_object_new_uint64(s->fds[i].flags));
		json_object_array_add(a, f);
	}
	return a;
}

/* The process's limits, by resource name: [soft, hard], -1 for unlimited. */
static struct json_object *limits_object(const struct snapshot *s)
{
	static const char *const names[SNAPSHOT_LIMITS] = {
		"cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile",
		"memlock", "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime",
	};
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; o && i < SNAPSHOT_LIMITS; i++) {
		struct json_object *pair = json_object_new_array();
		rlim_t v[2] = { s->limits[i].rlim_cur, s->limits[i].rlim_max };

		for (int j = 0; pair && j < 2; j++)
			json_object_array_add(pair, v[j] == RLIM_INFINITY
							    ? json_object_new_int(-1)
							    : json_object_new_uint64(v[j]));
		json_object_object_add(o, names[i], pair);
	}
	return o;
}

static struct json_object *threads_array(const struct snapshot *s)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < s->n_threads; i++)
		json_object_array_add(a, json_object_new_int(s->threads[i].tid));
	return a;
}

/* The executable's GNU build id, lower-case hex; "" when it has none. */
static void build_id_of(const char *path, char hex[ELFFILE_BUILD_ID_MAX])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;

	hex[0] = 0;
	if (fd < 0)
		return;
	elf_version(EV_CURRENT);
	if ((elf = elf_begin(fd, ELF_C_READ_MMAP, NULL))) {
		elffile_build_id(elf, hex);
		elf_end(elf);
	}
	close(fd);
}

static struct json_object *meta_new(const struct snapshot *s, const struct checkpoint_request *rq,
				    const char *id, const char *backend, uint64_t core_bytes,
				    uint64_t bytes)
{
	struct json_object *m = json_object_new_object(), *event = NULL;
	char when[64], build_id[ELFFILE_BUILD_ID_MAX];
	int err;

	if (!m)
		return NULL;
	if (report_time(s->taken_ns, when, sizeof(when)) < 0)
		when[0] = 0;
	build_id_of(s->exe, build_id);
	if (rq->incident_json)
		event = json_tokener_parse(rq->incident_json);
	err = report_add(m, "id", json_object_new_string(id));
	err = err ?: report_add(m, "time", json_object_new_string(when));
	err = err ?: report_add(m, "taken_ns", json_object_new_uint64(s->taken_ns));
	err = err ?: report_add(m, "backend", json_object_new_string(backend));
	err = err ?: report_add(m, "trigger", json_object_new_string(rq->rule ? "rule" : "salvectl"));
	if (rq->rule) {
		err = err ?: report_add(m, "rule", report_string(rq->rule));
		err = err ?: report_add(m, "policy", report_string(rq->policy));
		err = err ?: report_add(m, "incident", json_object_new_uint64(rq->incident_id));
	}
	if (event)
		err = err ?: report_add(m, "event", event);
	err = err ?: report_add(m, "pid", json_object_new_int(s->pid));
	err = err ?: report_add(m, "start_ticks", json_object_new_uint64(s->start_ticks));
	err = err ?: report_add(m, "comm", json_object_new_string(s->comm));
	err = err ?: report_add(m, "binary", json_object_new_string(s->exe));
	err = err ?: report_add(m, "build_id", json_object_new_string(build_id));
	err = err ?: report_add(m, "cmdline", cmdline_array(s));
	err = err ?: report_add(m, "threads", threads_array(s));
	err = err ?: report_add(m, "fds", fds_array(s));
	err = err ?: report_add(m, "limits", limits_object(s));
	err = err ?: report_add(m, "repairs", rq->repairs ? json_object_get(rq->repairs)
							  : json_object_new_array());
	err = err ?: report_add(m, "pause_ns", json_object_new_uint64(s->pause_ns));
	err = err ?: report_add(m, "memory_bytes", json_object_new_uint64(s->memory_bytes));
	if (!strcmp(backend, "core")) {
		err = err ?: report_add(m, "core_bytes", json_object_new_uint64(core_bytes));
		err = err ?: report_add(m, "file", json_object_new_string("core.gz"));
	} else {
		err = err ?: report_add(m, "images", json_object_new_string(CRIU_IMAGES));
	}
	err = err ?: report_add(m, "bytes", json_object_new_uint64(bytes));
	err = err ?: report_add(m, "keep", json_object_new_uint64(rq->keep));
	if (err) {
		json_object_put(m);
		return NULL;
	}
	return m;
}

/* The checkpoint in the temporary tmp (open as tmpfd) made whole: its meta.json written,
 * then the directory renamed to id. */
static int seal(struct checkpoints *c, int tmpfd, const char *tmp, const char *id,
		const struct snapshot *s, const struct checkpoint_request *rq, const char *backend,
		uint64_t core_bytes, uint64_t bytes, char *err, size_t err_len)
{
	struct json_object *meta = meta_new(s, rq, id, backend, core_bytes, bytes);
	int r;

	if (!meta) {
		snprintf(err, err_len, "process %d: checkpoint %s: out of memory", (int)s->pid, id);
		return -ENOMEM;
	}
	r = atomic_file_write(tmpfd, "meta.json",
			      json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PRETTY));
	json_object_put(meta);
	if (r) {
		snprintf(err, err_len, "%s/%s/meta.json: %s", c->dir, tmp, strerror(-r));
		return r;
	}
	if (renameat(c->dirfd, tmp, c->dirfd, id) || fsync(c->dirfd)) {
		r = -errno;
		snprintf(err, err_len, "%s/%s: %s", c->dir, id, strerror(errno));
	}
	return r;
}

/* Write s as checkpoint id, whole or not at all, within limit bytes. */
static int write_checkpoint(struct checkpoints *c, const struct snapshot *s,
			    const struct checkpoint_request *rq, const char *id, uint64_t limit,
			    char *err, size_t err_len)
{
	char tmp[CHECKPOINT_ID_MAX + 8];
	uint64_t core_bytes = 0;
	int64_t bytes;
	int tmpfd, r;

	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", id);
	if ((mkdirat(c->dirfd, tmp, 0700) && errno != EEXIST) ||
	    (tmpfd = openat(c->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = -errno;
		snprintf(err, err_len, "%s/%s: %s", c->dir, tmp, strerror(errno));
		return r;
	}
	if ((bytes = write_core(tmpfd, s, limit, &core_bytes)) < 0) {
		r = (int)bytes;
		snprintf(err, err_len, "%s/%s/core.gz: %s", c->dir, tmp,
			 r == -EDQUOT ? "past the room left (quota or the file system's reserve)"
				      : strerror(-r));
		goto fail;
	}
	if ((r = seal(c, tmpfd, tmp, id, s, rq, "core", core_bytes, (uint64_t)bytes, err,
		      err_len)))
		goto fail;
	close(tmpfd);
	return 0;
fail:
	close(tmpfd);
	remove_checkpoint(c, tmp);
	return r;
}

/* Beyond keep of the rule's (salvectl's when rule is NULL), the oldest go. */
static void retain(struct checkpoints *c, const char *rule, unsigned keep)
{
	struct json_object *list = all_meta(c);
	size_t n = 0, len = list ? json_object_array_length(list) : 0;

	for (size_t i = len; i-- > 0;) {
		struct json_object *m = json_object_array_get_idx(list, i);
		const char *r = str_of(m, "rule");

		if ((rule && r && !strcmp(r, rule)) || (!rule && !r))
			if (++n > keep)
				remove_checkpoint(c, str_of(m, "id"));
	}
	json_object_put(list);
}

static void emit_line(struct checkpoints *c, const struct snapshot *s,
		      const struct checkpoint_request *rq, const char *id)
{
	struct json_object *o = json_object_new_object(), *meta = read_meta(c, id);
	char when[64], path[4096];
	int err;

	if (!o || !meta || !c->line)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", c->dir, id);
	if (report_time(s->taken_ns, when, sizeof(when)) < 0)
		when[0] = 0;
	err = report_add(o, "time", json_object_new_string(when));
	err = err ?: report_add(o, "kind", json_object_new_string("checkpoint"));
	err = err ?: report_add(o, "id", json_object_new_string(id));
	err = err ?: report_add(o, "pid", json_object_new_int(s->pid));
	err = err ?: report_add(o, "backend", json_object_new_string(str_of(meta, "backend") ?: ""));
	err = err ?: report_add(o, "path", json_object_new_string(path));
	err = err ?: report_add(o, "pause_ns", json_object_new_uint64(s->pause_ns));
	err = err ?: report_add(o, "bytes", json_object_new_uint64(u64_of(meta, "bytes")));
	err = err ?: report_add(o, "memory_bytes", json_object_new_uint64(s->memory_bytes));
	if (rq->rule) {
		err = err ?: report_add(o, "rule", report_string(rq->rule));
		err = err ?: report_add(o, "incident", json_object_new_uint64(rq->incident_id));
	}
	if (!err)
		c->line(c->ctx, o);
out:
	json_object_put(o);
	json_object_put(meta);
}

/* A checkpoint written: the rule's oldest beyond keep go, and its line is written. */
static void finish(struct checkpoints *c, const struct snapshot *s,
		   const struct checkpoint_request *rq, const char *id)
{
	retain(c, rq->rule, rq->keep ? rq->keep : 1);
	emit_line(c, s, rq, id);
}

/* A name for a checkpoint of s that none has, its temporary made. */
static int free_id(struct checkpoints *c, const struct snapshot *s, char *id, char *err,
		   size_t err_len)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		char tmp[CHECKPOINT_ID_MAX + 8];
		struct stat st;

		make_id(s, attempt, id);
		snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", id);
		if (!fstatat(c->dirfd, id, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		/* Its temporary, made now, holds the name while the checkpoint is written. */
		if (!mkdirat(c->dirfd, tmp, 0700))
			return 0;
		if (errno != EEXIST) {
			snprintf(err, err_len, "%s/%s: %s", c->dir, tmp, strerror(errno));
			return -errno;
		}
	}
	snprintf(err, err_len, "process %d: no free name for a checkpoint", (int)s->pid);
	return -EEXIST;
}

/* The bytes of the files under path (one level of directories, as criu's images). */
static uint64_t du(const char *path)
{
	struct dirent *de;
	uint64_t n = 0;
	DIR *d = opendir(path);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct stat st;

		if (de->d_name[0] != '.' && !fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			n += S_ISDIR(st.st_mode) ? 0 : (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return n;
}

/* A checkpoint by criu: the tree of rq->pid dumped, left running, its images in the
 * checkpoint's directory, meta.json beside them. Past the quota or the disk's reserve,
 * the oldest checkpoints go; with none left, it is refused and removed. */
static int write_criu(struct checkpoints *c, struct snapshot *s,
		      const struct checkpoint_request *rq, const char *id, char *err,
		      size_t err_len)
{
	char tmp[CHECKPOINT_ID_MAX + 8], images[4200], oldest[CHECKPOINT_ID_MAX];
	struct criu_stats st = { 0 };
	uint64_t bytes = 0;
	int tmpfd = -1, r;

	snprintf(tmp, sizeof(tmp), TMP_PREFIX "%s", id);
	snprintf(images, sizeof(images), "%s/%s/" CRIU_IMAGES, c->dir, tmp);
	if ((tmpfd = openat(c->dirfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    mkdirat(tmpfd, CRIU_IMAGES, 0700)) {
		r = -errno;
		snprintf(err, err_len, "%s/%s: %s", c->dir, tmp, strerror(errno));
		goto out;
	}
	if ((r = criu_dump(c->criu, rq->pid, images, err, err_len)))
		goto out;
	if (!criu_stats_read(images, "dump", &st, err, err_len)) {
		s->pause_ns = (uint64_t)st.frozen_us * 1000;
		s->memory_bytes = st.pages_written * 4096;
	}
	bytes = du(images);
	for (;;) {
		uint64_t used = checkpoints_used(c, oldest, sizeof(oldest)), room = 0;

		if ((r = disk_room(c, &room)))
			break;
		if (used + bytes <= c->quota && room > 0)
			break;
		if (!oldest[0]) {
			r = -EDQUOT;
			snprintf(err, err_len, "process %d: criu's images (%" PRIu64 " bytes) do not fit "
				 "in %s: the quota (%" PRIu64 " bytes) or the file system's %d%% reserve",
				 (int)rq->pid, bytes, c->dir, c->quota, CHECKPOINT_RESERVE_PCT);
			goto out;
		}
		remove_checkpoint(c, oldest);
	}
	r = seal(c, tmpfd, tmp, id, s, rq, "criu", 0, bytes, err, err_len);
out:
	if (tmpfd >= 0)
		close(tmpfd);
	if (r)
		remove_checkpoint(c, tmp);
	return r;
}

/* A core of salve's own written, within the room the quota and the disk leave. Past it,
 * the oldest checkpoint goes, and the core is written again; with none left to remove,
 * the checkpoint is refused. */
static int write_core_checkpoint(struct checkpoints *c, const struct snapshot *s,
				 const struct checkpoint_request *rq, const char *id, char *err,
				 size_t err_len)
{
	char oldest[CHECKPOINT_ID_MAX];
	int r;

	for (;;) {
		uint64_t used = checkpoints_used(c, oldest, sizeof(oldest)), room = 0;

		if ((r = disk_room(c, &room))) {
			snprintf(err, err_len, "%s: %s", c->dir, strerror(-r));
			return r;
		}
		if (c->quota < room + used)
			room = c->quota > used ? c->quota - used : 0;
		r = write_checkpoint(c, s, rq, id, room, err, err_len);
		if (r != -EDQUOT || !oldest[0])
			break;
		remove_checkpoint(c, oldest);
	}
	if (r == -EDQUOT)
		snprintf(err, err_len, "process %d: a checkpoint of %" PRIu64 " bytes of memory does "
			 "not fit in %s: the quota (%" PRIu64 " bytes) or the file system's %d%% "
			 "reserve", (int)rq->pid, s->memory_bytes, c->dir, c->quota,
			 CHECKPOINT_RESERVE_PCT);
	return r;
}

struct checkpoint_job {
	struct checkpoints *c;
	struct checkpoint_request rq;
	bool criu;
	struct snapshot *s; /* core: the copy; criu: the process's identity */
	char id[CHECKPOINT_ID_MAX];
	int r;
	char err[1024];
};

int checkpoints_begin(struct checkpoints *c, const struct checkpoint_request *rq,
		      struct checkpoint_job **out, char *err, size_t err_len)
{
	struct checkpoint_job *j;
	int r;

	if (rq->backend == POLICY_BACKEND_CRIU && !c->criu) {
		snprintf(err, err_len, "process %d: no working criu on this host (salved's --criu, "
			 "checked at start): the \"core\" backend works everywhere", (int)rq->pid);
		return -ENOTSUP;
	}
	if (!(j = calloc(1, sizeof(*j))))
		return -ENOMEM;
	j->c = c;
	j->rq = *rq;
	j->criu = rq->backend == POLICY_BACKEND_CRIU || (rq->backend == POLICY_BACKEND_AUTO && c->criu);
	r = j->criu ? snapshot_identify(rq->pid, &j->s, err, err_len)
		    : snapshot_take(rq->pid, &j->s, err, err_len);
	r = r ?: free_id(c, j->s, j->id, err, err_len);
	if (r) {
		snapshot_free(j->s);
		free(j);
		return r;
	}
	*out = j;
	return 0;
}

void checkpoint_job_run(struct checkpoint_job *j)
{
	j->r = j->criu ? write_criu(j->c, j->s, &j->rq, j->id, j->err, sizeof(j->err))
		       : write_core_checkpoint(j->c, j->s, &j->rq, j->id, j->err, sizeof(j->err));
}

int checkpoints_end(struct checkpoint_job *j, char *id, char *err, size_t err_len)
{
	int r = j->r;

	if (!r)
		finish(j->c, j->s, &j->rq, j->id);
	else
		snprintf(err, err_len, "%s", j->err);
	snprintf(id, CHECKPOINT_ID_MAX, "%s", j->id);
	snapshot_free(j->s);
	free(j);
	return r;
}

int checkpoints_take(struct checkpoints *c, const struct checkpoint_request *rq, char *id,
		     char *err, size_t err_len)
{
	struct checkpoint_job *j;
	int r;

	if ((r = checkpoints_begin(c, rq, &j, err, err_len)))
		return r;
	checkpoint_job_run(j);
	return checkpoints_end(j, id, err, err_len);
}

/* Wait until the process of pidfd is gone (reaped or a zombie): 0, or -ETIMEDOUT. */
static int wait_gone(int pidfd)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	return poll(&p, 1, KILL_WAIT_MS) == 1 ? 0 : -ETIMEDOUT;
}

/* The process of meta, killed so criu can bring it back under its pid: 0 when it is gone
 * (or was), -errno with err otherwise. */
static int kill_for_restore(struct json_object *meta, char *err, size_t err_len)
{
	pid_t pid = (pid_t)u64_of(meta, "pid");
	int pidfd = pidfd_open(pid, 0), r = 0;

	if (pidfd < 0)
		return errno == ESRCH ? 0 : -errno;
	/* Only the process the checkpoint saved: another one may have its pid now. */
	if (snapshot_start_ticks(pid) == u64_of(meta, "start_ticks")) {
		if (pidfd_send_signal(pidfd, SIGKILL, NULL, 0) && errno != ESRCH)
			r = -errno;
		else
			r = wait_gone(pidfd);
		if (r)
			snprintf(err, err_len, "process %d: cannot be killed for its restore: %s",
				 (int)pid, strerror(-r));
	}
	close(pidfd);
	return r;
}

static void restore_line(struct checkpoints *c, struct json_object *meta, pid_t pid,
			 uint64_t took_ns)
{
	struct json_object *o = json_object_new_object();
	struct timespec now;
	char when[64];
	int err;

	if (!o || !c->line)
		goto out;
	clock_gettime(CLOCK_REALTIME, &now);
	if (report_time((uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec, when,
			sizeof(when)) < 0)
		when[0] = 0;
	err = report_add(o, "time", json_object_new_string(when));
	err = err ?: report_add(o, "kind", json_object_new_string("restore"));
	err = err ?: report_add(o, "checkpoint", json_object_new_string(str_of(meta, "id") ?: ""));
	err = err ?: report_add(o, "pid", json_object_new_int(pid));
	err = err ?: report_add(o, "backend", json_object_new_string(str_of(meta, "backend") ?: ""));
	err = err ?: report_add(o, "took_ns", json_object_new_uint64(took_ns));
	if (!err)
		c->line(c->ctx, o);
out:
	json_object_put(o);
}

int checkpoints_restore(struct checkpoints *c, const char *id, pid_t *pid, char *err,
			size_t err_len)
{
	struct json_object *meta = NULL;
	struct snapshot *s = NULL;
	char dir[4096], path[4200];
	struct timespec t0, t1;
	int r;

	if ((r = checkpoints_find(c, id, &meta, dir, sizeof(dir), err, err_len)))
		return r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	*pid = (pid_t)u64_of(meta, "pid");
	if (!strcmp(str_of(meta, "backend") ?: "", "criu")) {
		if (!c->criu) {
			snprintf(err, err_len, "checkpoint %s was taken by criu, and salved found no "
				 "working criu on this host (--criu)", str_of(meta, "id"));
			r = -ENOTSUP;
		} else if (!(r = kill_for_restore(meta, err, err_len))) {
			snprintf(path, sizeof(path), "%s/" CRIU_IMAGES, dir);
			r = criu_restore(c->criu, path, pid, err, err_len);
		}
	} else if (snapshot_start_ticks(*pid) != u64_of(meta, "start_ticks")) {
		snprintf(err, err_len, "process %d, which checkpoint %s saved, is gone: salve's own "
			 "checkpoint is rolled back into its process while it runs", (int)*pid,
			 str_of(meta, "id"));
		r = -ESRCH;
	} else {
		snprintf(path, sizeof(path), "%s/core.gz", dir);
		if (!(r = corefile_read_gz(path, &s, err, err_len)))
			r = snapshot_rollback(s, err, err_len);
		snapshot_free(s);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!r)
		restore_line(c, meta, *pid,
			     (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull +
				     (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec);
	json_object_put(meta);
	return r;
}
