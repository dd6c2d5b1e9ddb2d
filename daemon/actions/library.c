/* library: a fix library loaded into and unloaded from a running process. */
#define _GNU_SOURCE
#include "actions/library.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "actions/inject.h"
#include "actions/patch.h"
#include "actions/stacks.h"
#include "events/events.h"
#include "kernel/resolve.h"

#define CALL_TIMEOUT_NS 5000000000ull /* a dlopen that runs constructors may take a while */
#define SCRATCH 4096u

/* Functions whose locks a dlopen or dlclose takes too: a thread inside one may hold them. */
static const char *const unsafe[] = {
	"malloc", "free", "calloc", "realloc", "memalign", "posix_memalign", "aligned_alloc",
	"valloc", "pvalloc", "malloc_trim", "__libc_malloc", "__libc_free", "__libc_calloc",
	"__libc_realloc", "__libc_memalign", "_int_malloc", "_int_free", "_int_realloc",
	"malloc_consolidate", "dlopen", "dlclose", "dlsym", "dlvsym", "dlmopen", "dladdr",
	"dl_iterate_phdr", "__libc_dlopen_mode", "fork", "_Fork", "__libc_fork",
};

static bool is_loader(const char *module)
{
	const char *base = module ? strrchr(module, '/') : NULL;

	base = base ? base + 1 : module;
	return base && (!strncmp(base, "ld-linux", 8) || !strncmp(base, "ld.so", 5) ||
			!strncmp(base, "ld64.so", 7));
}

struct check {
	const char *inside; /* a library no frame may be in; NULL */
	const char *why;    /* what the first bad frame is */
	char where[256];
};

static bool check_frame(const struct stack_frame *f, void *arg)
{
	struct check *c = arg;

	if (c->inside && f->module && !strcmp(f->module, c->inside)) {
		c->why = "inside the library";
	} else if (is_loader(f->module)) {
		c->why = "inside the dynamic loader";
	} else {
		for (size_t i = 0; f->symbol && i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
			if (!strcmp(f->symbol, unsafe[i]) ||
			    (!strncmp(f->symbol, "_dl_", 4) && f->module && strstr(f->module, "libc.so")))
				c->why = "inside malloc or the loader";
	}
	if (c->why)
		snprintf(c->where, sizeof(c->where), "%s (%s)", f->symbol ? f->symbol : "?",
			 f->module ? f->module : "?");
	return !c->why;
}

/* A held thread to call into the loader from. The loader's and malloc's locks are the
 * process's: no thread may be inside either (it may hold one, and it stays stopped while
 * the call runs), nor, with inside set, have a frame in that library. */
static int pick_thread(struct hold *h, const char *inside, struct hold_thread **out, char *err,
		       size_t err_len)
{
	struct stacks *s;
	int r;

	*out = NULL;
	if ((r = stacks_open(h->pid, &s, err, err_len)))
		return r;
	for (size_t i = 0; i < h->n; i++) {
		struct check c = { .inside = inside };

		if (stacks_walk(s, h->t[i].tid, check_frame, &c))
			continue; /* its stack cannot be read: not one to call from */
		if (c.why) {
			snprintf(err, err_len, "process %d: thread %d is %s: %s", (int)h->pid,
				 (int)h->t[i].tid, c.why, c.where);
			stacks_close(s);
			return -EBUSY;
		}
		if (!*out)
			*out = &h->t[i];
	}
	stacks_close(s);
	if (!*out) {
		snprintf(err, err_len, "process %d: no thread's stack can be read", (int)h->pid);
		return -EBUSY;
	}
	return 0;
}

/* The address of the C library's function name in process pid. */
static int libc_function(pid_t pid, const char *name, uint64_t *addr, char *err, size_t err_len)
{
	char maps[64], line[PATH_MAX + 128];
	int r = -ENOENT;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	if (!(f = fopen(maps, "re")))
		return -ESRCH;
	while (r && fgets(line, sizeof(line), f)) {
		char file[PATH_MAX] = "", e[256];
		struct resolve_site site;
		const char *base;
		struct stat st;

		if (sscanf(line, "%*x-%*x %*s %*x %*x:%*x %*u %4095s", file) != 1 || file[0] != '/' ||
		    !(base = strrchr(file, '/')) || strncmp(base + 1, "libc.so", 7))
			continue;
		if (!resolve_symbol(file, name, NULL, &site, e, sizeof(e)) && !stat(file, &st))
			r = patch_locate(pid, events_kernel_dev(st.st_dev), st.st_ino, site.offset, addr);
	}
	fclose(f);
	if (r)
		snprintf(err, err_len, "process %d maps no C library with %s", (int)pid, name);
	return r;
}

/* A page of the process holding int3 (where the calls return) and text at +16. */
static int scratch_map(struct hold *h, struct hold_thread *t, const char *text, uint64_t *page,
		       char *err, size_t err_len)
{
	const uint64_t args[6] = { 0, SCRATCH, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
				   (uint64_t)-1, 0 };
	const uint8_t int3 = 0xcc;
	int64_t ret;
	int r;

	if (strlen(text) + 17 > SCRATCH)
		return -ENAMETOOLONG;
	if ((r = inject_syscall(h->pid, t, SYS_mmap, args, &ret, err, err_len)))
		return r;
	if (ret < 0 && ret > -4096) {
		snprintf(err, err_len, "process %d: mmap: %s", (int)h->pid, strerror((int)-ret));
		return (int)ret;
	}
	*page = (uint64_t)ret;
	r = patch_poke(h->pid, *page, NULL, &int3, 1, err, err_len);
	return r ?: patch_poke(h->pid, *page + 16, NULL, (const uint8_t *)text, strlen(text) + 1, err,
			       err_len);
}

static void scratch_unmap(struct hold *h, struct hold_thread *t, uint64_t page)
{
	const uint64_t args[6] = { page, SCRATCH };
	char e[128];
	int64_t ret;

	inject_syscall(h->pid, t, SYS_munmap, args, &ret, e, sizeof(e));
}

/* What dlerror says, called by t, into out. */
static void dl_error(struct hold *h, struct hold_thread *t, uint64_t page, char *out, size_t len)
{
	const uint64_t none[6] = { 0 };
	uint64_t at, msg;
	char e[128];

	snprintf(out, len, "no reason given");
	if (libc_function(h->pid, "dlerror", &at, e, sizeof(e)) ||
	    inject_call(h->pid, t, at, none, page, CALL_TIMEOUT_NS, &msg, e, sizeof(e)) || !msg)
		return;
	memset(out, 0, len);
	for (size_t i = 0; i + 1 < len; i++)
		if (patch_read(h->pid, msg + i, (uint8_t *)out + i, 1) || !out[i])
			break;
}

int library_load(struct hold *h, const char *path, uint64_t *handle, char *err, size_t err_len)
{
	struct hold_thread *t;
	uint64_t dlopen_at, page;
	int r;

	if ((r = libc_function(h->pid, "dlopen", &dlopen_at, err, err_len)) ||
	    (r = pick_thread(h, NULL, &t, err, err_len)) ||
	    (r = scratch_map(h, t, path, &page, err, err_len)))
		return r;
	r = inject_call(h->pid, t, dlopen_at, (const uint64_t[6]){ page + 16, RTLD_NOW }, page,
			CALL_TIMEOUT_NS, handle, err, err_len);
	if (!r && !*handle) {
		char why[512];

		dl_error(h, t, page, why, sizeof(why));
		snprintf(err, err_len, "process %d: dlopen(%s) failed: %s", (int)h->pid, path, why);
		r = -ELIBBAD;
	}
	scratch_unmap(h, t, page);
	return r;
}

int library_unload(struct hold *h, const char *path, uint64_t handle, char *err, size_t err_len)
{
	struct hold_thread *t;
	uint64_t dlclose_at, page, ret;
	int r;

	if ((r = libc_function(h->pid, "dlclose", &dlclose_at, err, err_len)) ||
	    (r = pick_thread(h, path, &t, err, err_len)) ||
	    (r = scratch_map(h, t, "", &page, err, err_len)))
		return r;
	r = inject_call(h->pid, t, dlclose_at, (const uint64_t[6]){ handle }, page, CALL_TIMEOUT_NS,
			&ret, err, err_len);
	if (!r && ret) {
		snprintf(err, err_len, "process %d: dlclose of %s failed", (int)h->pid, path);
		r = -ELIBBAD;
	}
	scratch_unmap(h, t, page);
	return r;
}
