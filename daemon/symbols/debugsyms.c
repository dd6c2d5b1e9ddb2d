/* debugsyms: a file's functions from its debuglink debug file and MiniDebugInfo. */
#include "symbols/debugsyms.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <string.h>

int debugsyms_find(const char *path, const char *debug_root, const char *name, size_t len,
		   struct debugsyms_hit *hit)
{
	/* libdwfl reads the path list as "+:" (CRC checked) then directories. */
	char *debuginfo_path = NULL;
	char paths[4096];
	const Dwfl_Callbacks callbacks = {
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
		.debuginfo_path = &debuginfo_path,
	};
	Dwfl_Module *mod;
	GElf_Addr bias = 0;
	Dwfl *dwfl;
	int n, rc = -ENOENT;

	memset(hit, 0, sizeof(*hit));
	if (debug_root) {
		snprintf(paths, sizeof(paths), "+:.debug:%s", debug_root);
		debuginfo_path = paths;
	}
	if (!(dwfl = dwfl_begin(&callbacks)))
		return -ENOMEM;
	dwfl_report_begin(dwfl);
	mod = dwfl_report_offline(dwfl, path, path, -1);
	dwfl_report_end(dwfl, NULL, NULL);
	/* The symbol table libdwfl chose (the debug file's, else the file's own) and the
	 * MiniDebugInfo's beside it. */
	if (!mod || !dwfl_module_getelf(mod, &bias) || (n = dwfl_module_getsymtab(mod)) <= 0)
		goto out;
	for (int i = 0; i < n; i++) {
		const char *s;
		GElf_Sym sym;
		GElf_Addr addr;
		size_t k = 0;

		s = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
		if (!s || GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
		    strlen(s) != len || memcmp(s, name, len))
			continue;
		while (k < hit->n_addrs && hit->addrs[k] != addr - bias)
			k++;
		if (k < hit->n_addrs)
			continue;
		if (!hit->n_addrs) {
			hit->vaddr = addr - bias;
			hit->size = sym.st_size;
		}
		if (hit->n_addrs < DEBUGSYMS_AMBIGUOUS_MAX)
			hit->addrs[hit->n_addrs++] = addr - bias;
	}
	if (hit->n_addrs)
		rc = hit->n_addrs > 1 ? -ENOTUNIQ : 0;
out:
	dwfl_end(dwfl);
	return rc;
}
