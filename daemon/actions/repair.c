/* repair: one function of one process repaired by a hot patch of its entry. */
#define _GNU_SOURCE
#include "actions/repair.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events/events.h"
#include "events/report.h"

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

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

static int from_hex(const char *s, uint8_t *out, size_t max, size_t *n)
{
	size_t len = strlen(s);

	if (len % 2 || len / 2 > max)
		return -EINVAL;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
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

/* The common part of a plan: F located, where its patch goes and what undoes the
 * instruction before it, the process's start. */
static int plan_begin(const char *binary, const char *symbol, uint32_t pid, struct repair_plan *p,
		      struct located *f, uint8_t undo[CODE_MAX], size_t *undo_len, char *err,
		      size_t err_len)
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
	return step_over(p, f, undo, undo_len, err, err_len);
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
		to_hex(now, p->len, a);
		to_hex(p->orig, p->len, b);
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

int repair_plan_override(const char *binary, const char *symbol, int64_t value, uint32_t pid,
			 struct repair_plan *out, char *err, size_t err_len)
{
	uint8_t undo[CODE_MAX], ret[CODE_MAX];
	size_t undo_len, ret_len;
	struct located f;
	int r;

	if ((r = plan_begin(binary, symbol, pid, out, &f, undo, &undo_len, err, err_len)))
		return r;
	out->kind = REPAIR_OVERRIDE;
	out->value = value;
	ret_len = code_return(value, ret);
	return compose(out, undo, undo_len, ret, ret_len, err, err_len) ?:
	       plan_end(out, &f, err, err_len);
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

int repair_plan_again(const struct repair_plan *spec, uint32_t pid, struct repair_plan *out,
		      char *err, size_t err_len)
{
	if (spec->kind == REPAIR_OVERRIDE)
		return repair_plan_override(spec->path, spec->symbol, spec->value, pid, out, err,
					    err_len);
	return repair_plan_redirect(spec->path, spec->symbol, spec->to_symbol, pid, out, err,
				    err_len);
}

static int add_addr(struct json_object *obj, const char *key, uint64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%#" PRIx64, v);
	return report_add(obj, key, json_object_new_string(s));
}

int repair_plan_to_json(const struct repair_plan *p, struct json_object *obj)
{
	char orig[2 * CODE_MAX + 1], code[2 * CODE_MAX + 1];
	int err;

	to_hex(p->orig, p->len, orig);
	to_hex(p->code, p->len, code);
	err = report_add(obj, "pid", json_object_new_int64(p->pid));
	err = err ?: report_add(obj, "start_ns", json_object_new_uint64(p->start_ns));
	err = err ?: report_add(obj, "binary", json_object_new_string(p->path));
	err = err ?: report_add(obj, "symbol", json_object_new_string(p->symbol));
	err = err ?: report_add(obj, "build_id", json_object_new_string(p->build_id));
	err = err ?: add_addr(obj, "file_offset", p->file_off);
	err = err ?: add_addr(obj, "address", p->addr);
	err = err ?: report_add(obj, "after_first", json_object_new_uint64(p->skip));
	if (p->kind == REPAIR_OVERRIDE) {
		err = err ?: report_add(obj, "return", json_object_new_int64(p->value));
	} else {
		err = err ?: report_add(obj, "to", json_object_new_string(p->to_symbol));
		err = err ?: report_add(obj, "to_binary", json_object_new_string(p->to_path));
		err = err ?: add_addr(obj, "to_address", p->to_addr);
	}
	err = err ?: report_add(obj, "mechanism", json_object_new_string("hot_patch"));
	err = err ?: report_add(obj, "original", json_object_new_string(orig));
	return err ?: report_add(obj, "patched", json_object_new_string(code));
}

static const char *str_of(struct json_object *obj, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

static bool u64_of(struct json_object *obj, const char *key, uint64_t *out)
{
	const char *s = str_of(obj, key);
	char *end;

	if (!s)
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && end != s && !*end;
}

int repair_plan_from_json(struct json_object *obj, struct repair_plan *out)
{
	const char *kind = str_of(obj, "do"), *path = str_of(obj, "binary"),
		   *symbol = str_of(obj, "symbol"), *orig = str_of(obj, "original"),
		   *code = str_of(obj, "patched"), *build_id = str_of(obj, "build_id");
	struct json_object *v;
	size_t n_orig, n_code;
	uint64_t pid;

	memset(out, 0, sizeof(*out));
	if (!kind || !path || !symbol || !orig || !code || !u64_of(obj, "pid", &pid) ||
	    !u64_of(obj, "start_ns", &out->start_ns) || !u64_of(obj, "address", &out->addr) ||
	    !u64_of(obj, "file_offset", &out->file_off) ||
	    from_hex(orig, out->orig, CODE_MAX, &n_orig) ||
	    from_hex(code, out->code, CODE_MAX, &n_code) || n_orig != n_code || !n_code)
		return -EINVAL;
	out->pid = (uint32_t)pid;
	out->len = n_code;
	if (json_object_object_get_ex(obj, "after_first", &v))
		out->skip = (size_t)json_object_get_int64(v);
	snprintf(out->path, sizeof(out->path), "%s", path);
	snprintf(out->symbol, sizeof(out->symbol), "%s", symbol);
	snprintf(out->build_id, sizeof(out->build_id), "%s", build_id ? build_id : "");
	if (!strcmp(kind, "override")) {
		out->kind = REPAIR_OVERRIDE;
		if (!json_object_object_get_ex(obj, "return", &v))
			return -EINVAL;
		out->value = json_object_get_int64(v);
	} else if (!strcmp(kind, "redirect")) {
		const char *to = str_of(obj, "to"), *to_path = str_of(obj, "to_binary");

		out->kind = REPAIR_REDIRECT;
		if (!to || !to_path || !u64_of(obj, "to_address", &out->to_addr))
			return -EINVAL;
		snprintf(out->to_symbol, sizeof(out->to_symbol), "%s", to);
		snprintf(out->to_path, sizeof(out->to_path), "%s", to_path);
	} else {
		return -EINVAL;
	}
	return 0;
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

int repair_apply(const struct repair_plan *p, struct patch_stats *st, char *err, size_t err_len)
{
	int r = same_process(p, err, err_len);

	return r ?: patch_write((pid_t)p->pid, p->addr, p->orig, p->code, p->len, st, err, err_len);
}

int repair_undo(const struct repair_plan *p, struct patch_stats *st, char *err, size_t err_len)
{
	int r = same_process(p, err, err_len);

	return r ?: patch_write((pid_t)p->pid, p->addr, p->code, p->orig, p->len, st, err, err_len);
}
