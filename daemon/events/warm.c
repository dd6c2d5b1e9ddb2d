/* warm: the files a policy set's stacks will be named in, read ahead. */
#include "events/warm.h"

#include <gelf.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "kernel/resolve.h"
#include "symbols/elffile.h"

struct warm_list {
	char *paths[WARM_FILES_MAX];
	size_t n;
};

/* Add the file name (a path, or a soname the loader would find) once, by its real path:
 * the kernel names mapped files by theirs. false when the list is full. */
static bool add(struct warm_list *l, const char *name)
{
	char found[PATH_MAX], real[PATH_MAX];

	if (l->n == WARM_FILES_MAX)
		return false;
	if (resolve_binary(name, found, sizeof(found), NULL, 0) || !realpath(found, real))
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->paths[i], real))
			return true;
	if ((l->paths[l->n] = strdup(real)))
		l->n++;
	return true;
}

/* Add the libraries path needs (its DT_NEEDED entries). */
static void add_needed(struct warm_list *l, const char *path)
{
	struct elffile f;
	Elf_Scn *scn = NULL;

	if (elffile_open(path, &f, NULL, 0))
		return;
	while ((scn = elf_nextscn(f.elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC ||
		    !(data = elf_getdata(scn, NULL)) || !sh.sh_entsize)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && gelf_getdyn(data, (int)i, &dyn); i++) {
			const char *name = dyn.d_tag == DT_NEEDED ?
						   elf_strptr(f.elf, sh.sh_link, dyn.d_un.d_val) : NULL;

			if (name && !add(l, name))
				break;
		}
	}
	elffile_close(&f);
}

size_t warm_stacks(struct symbolizer *sym, const struct policy_set *set)
{
	struct warm_list l = { .n = 0 };
	size_t named, read = 0;

	for (size_t i = 0; i < set->n_policies; i++) {
		const struct policy *pol = &set->policies[i];
		bool stacks = false;

		for (size_t j = 0; j < pol->n_probes; j++) {
			const struct policy_probe *pr = &pol->probes[j];

			stacks |= pr->stack;
			if (pr->stack && pr->binary)
				add(&l, pr->binary);
		}
		for (size_t j = 0; stacks && j < pol->scope.n_binaries; j++)
			add(&l, pol->scope.binaries[j]);
	}
	/* The libraries they need, and the ones those need (the loader, say). */
	for (size_t level = 0, from = 0; level < 2; level++) {
		named = l.n;
		for (size_t i = from; i < named; i++)
			add_needed(&l, l.paths[i]);
		from = named;
	}
	for (size_t i = 0; i < l.n; i++) {
		int err = symbolizer_warm(sym, l.paths[i]);

		if (err)
			salve_log(LOG_DEBUG, "reading %s ahead of its stacks: %s", l.paths[i],
				  strerror(-err));
		else
			read++;
		free(l.paths[i]);
	}
	return read;
}
