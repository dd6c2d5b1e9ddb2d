/* callsite: the function and executable of a function event, named once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events/callsite.h"

/* The C++ runtime's demangler, from libstdc++ (its ABI, callable from C). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

int callsite_new(struct callsite **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void callsite_free(struct callsite *c)
{
	free(c);
}

/* name without its symbol version ("name@VER"), demangled when it is a C++ name. */
static void set_symbol(char *dst, size_t size, const char *name)
{
	char plain[SYMBOL_NAME_MAX];
	char *d;
	int status = -1;

	snprintf(plain, sizeof(plain), "%.*s", (int)strcspn(name, "@"), name);
	d = !strncmp(plain, "_Z", 2) ? __cxa_demangle(plain, NULL, NULL, &status) : NULL;
	snprintf(dst, size, "%s", !status && d ? d : plain);
	free(d);
}

void callsite_function(struct callsite *c, struct symbolizer *sym, const struct site *site,
		       struct callsite_function *out)
{
	struct callsite_fn_slot *s = &c->fns[site->id % CALLSITE_FUNCTIONS];

	/* A slot is the site's while it names the same function: a reload that keeps the
	 * site keeps it, one that moves it (another file, another offset) names anew. */
	if (s->site != site || s->offset != site->offset || strcmp(s->module, site->path)) {
		struct symbol found;

		s->site = site;
		s->offset = site->offset;
		snprintf(s->module, sizeof(s->module), "%s", site->path);
		s->symbol[0] = 0;
		if (!symbolizer_lookup(sym, &(struct symbolizer_file){ site->path, 0, 0 },
				       site->offset, &found) && !found.offset)
			set_symbol(s->symbol, sizeof(s->symbol), found.name);
		else if (site->probe && site->probe->symbol)
			set_symbol(s->symbol, sizeof(s->symbol), site->probe->symbol);
	}
	out->module = s->module;
	out->symbol = s->symbol[0] ? s->symbol : NULL;
	out->offset = s->offset;
}

/* Whether path is the file (dev, ino), the kernel's encoding. */
static bool is_file(const char *path, uint64_t dev, uint64_t ino)
{
	struct stat st;

	return !stat(path, &st) && st.st_ino == ino && events_kernel_dev(st.st_dev) == dev;
}

/* path into out, when it fits. */
static bool take_path(const char *path, char *out, size_t size)
{
	size_t n = strlen(path);

	if (n >= size)
		return false;
	memcpy(out, path, n + 1);
	return true;
}

static bool find_path(const struct policy_set *set, const struct site *site,
		      const struct event *ev, char *out, size_t size)
{
	uint64_t dev = ev->exe.dev, ino = ev->exe.ino;
	char link[64];
	ssize_t n;

	if (site && is_file(site->path, dev, ino) && take_path(site->path, out, size))
		return true;
	for (size_t i = 0; set && i < set->n_policies && i < SALVE_POLICIES_MAX; i++) {
		const struct policy_scope *sc = &set->policies[i].scope;

		if (!(ev->policies & (1ull << i)))
			continue;
		for (size_t j = 0; j < sc->n_binaries; j++)
			if (is_file(sc->binaries[j], dev, ino) && take_path(sc->binaries[j], out, size))
				return true;
	}
	snprintf(link, sizeof(link), "/proc/%u/exe", ev->pid);
	if (!is_file(link, dev, ino) || (n = readlink(link, out, size - 1)) <= 0)
		return false;
	out[n] = 0;
	return true;
}

void callsite_exe(struct callsite *c, const struct policy_set *set, const struct site *site,
		  struct event *ev)
{
	struct callsite_exe_slot *s;

	if (ev->exe.path[0] || !ev->exe.ino)
		return;
	s = &c->exes[(ev->exe.ino * 31 + ev->exe.dev) % CALLSITE_EXES];
	if (s->ino != ev->exe.ino || s->dev != ev->exe.dev) {
		char path[sizeof(s->path)];

		/* A miss costs a stat or two; a process gone before its first event is named
		 * is not remembered, so a later one of the same file tries again. */
		if (!find_path(set, site, ev, path, sizeof(path)))
			return;
		s->dev = ev->exe.dev;
		s->ino = ev->exe.ino;
		memcpy(s->path, path, sizeof(path));
	}
	memcpy(ev->exe.path, s->path, sizeof(ev->exe.path));
}
