/* repair: one repair of one function in one process, planned, applied and undone.
 *
 * A plan says everything the repair writes and everything its undo needs: the process
 * (pid and start time, so a pid taken over is never touched), the function's file and
 * offset, its address in the process, the bytes the file has there and the bytes that
 * replace them. It is what the journal records before the write (repair_plan_to_json)
 * and what the write is made from (repair_plan_from_json): the journaled bytes are the
 * bytes written. Mechanisms: a hot patch of the function's entry (patch.h), with a
 * trampoline page (code.h, inject.h) for an override with "when" and a fix library
 * loaded first (library.h) for such a redirect; or, for an override where the kernel
 * allows it, a uprobe that writes the registers (kernel/override.h).
 *
 * Every function returns 0 or a negative errno; on error, err holds one sentence that
 * names the process, file and symbol, and what to do, cut to err_len. */
#ifndef SALVE_REPAIR_H
#define SALVE_REPAIR_H

#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "actions/code.h"
#include "actions/patch.h"
#include "kernel/resolve.h"

/* How a repair takes effect. */
enum repair_mechanism {
	REPAIR_HOT_PATCH,   /* the function's entry rewritten, every thread stopped */
	REPAIR_UPROBE_REGS, /* an override: a uprobe at its entry writes the registers
			     * (kernel/override.h), where the kernel allows it */
};

enum repair_kind {
	REPAIR_OVERRIDE, /* the function returns a value without running its body */
	REPAIR_REDIRECT, /* calls to the function go to another one */
};

struct repair_plan {
	enum repair_kind kind;
	enum repair_mechanism mechanism;
	uint64_t cookie;                /* uprobe_regs: its uprobe's, once applied */
	uint32_t pid;
	uint64_t start_ns;              /* the process's start (CLOCK_BOOTTIME, clock ticks) */
	char path[PATH_MAX];            /* the file of the function */
	char symbol[256];
	char build_id[RESOLVE_BUILD_ID_MAX];
	uint64_t file_off;              /* of the patch in path */
	uint64_t addr;                  /* of the patch in the process: the function's entry
					 * plus skip */
	size_t skip;                    /* the function's first instruction, which the patch
					 * follows (code_step_over) */
	int64_t value;                  /* override: what it returns */
	char to_path[PATH_MAX];         /* redirect: the file of the function called instead */
	char to_symbol[256];
	uint64_t to_addr;               /* redirect: its address in the process */
	uint8_t orig[CODE_MAX], code[CODE_MAX];
	size_t len;
	/* override "when": the patch jumps to a trampoline (code_trampoline) in a page salve
	 * maps into the process within a jump's reach, unmapped on undo */
	bool has_when;
	struct code_when when;
	uint64_t page;                  /* its address in the process */
	uint8_t tramp[CODE_TRAMPOLINE_MAX];
	size_t tramp_len;
	/* a circuit breaker's gate (code_gate): an override through a trampoline that lets
	 * calls through while the counter in the page after it is above 0 */
	bool gate;
	/* redirect to a fix library salve loads into the process (to_path is it): the
	 * jump's target is known once it is loaded, by repair_apply */
	char library[PATH_MAX];
	char library_build_id[RESOLVE_BUILD_ID_MAX];
	uint64_t library_handle;        /* dlopen's; 0 until loaded */
};

#define REPAIR_PAGE_SIZE 4096u

struct override;

/* Overrides by register-writing uprobes (kernel/override.h), which salved has where the
 * kernel allows them: from then on overrides are planned so, without text written or
 * threads stopped; redirects stay hot patches. NULL: hot patches only. */
void repair_use_override(struct override *o);

/* The mechanism a repair spec gets here: "uprobe_regs" or "hot_patch". */
const char *repair_mechanism_of(const struct repair_plan *spec);

/* Plan the override of symbol in binary (a path or soname, as a policy names it) in
 * process pid: return value at its entry (a uprobe writing the registers where
 * repair_use_override gave one, else a hot patch). -ESRCH: no process; -ENOENT: no such symbol,
 * or the process does not map that code; -E2BIG: the function is shorter than the
 * patch; -EILSEQ: its bytes in the process are not the file's (another patch, a
 * breakpoint or a uprobe is there). */
int repair_plan_override(const char *binary, const char *symbol, int64_t value, uint32_t pid,
			 struct repair_plan *out, char *err, size_t err_len);

/* The same, only on calls whose argument passes when (NULL: every call): the patch
 * jumps to a trampoline that tests it. -ENOTSUP: the instructions after the function's
 * first cannot be moved there (err says why); -ENOMEM: no free page within a jump's
 * reach of the function. */
int repair_plan_override_when(const char *binary, const char *symbol, int64_t value,
			      const struct code_when *when, uint32_t pid, struct repair_plan *out,
			      char *err, size_t err_len);

/* The override of a circuit breaker: through a trampoline whose gate (code_gate) lets a
 * call through while the 64-bit counter in the page after it, decremented by each call,
 * was above 0. It starts at 0: every call overridden. The errors of
 * repair_plan_override_when. */
int repair_plan_gate(const char *binary, const char *symbol, int64_t value, uint32_t pid,
		     struct repair_plan *out, char *err, size_t err_len);

/* A gate applied: let the next calls through, without stopping a thread (one store to
 * the counter); and the calls it may still let through (at or below 0: none; below 0,
 * minus those turned away since it reached 0). -ESRCH: the process is gone; -EINVAL:
 * not a gate. */
int repair_gate_set(const struct repair_plan *p, int64_t calls);
int repair_gate_left(const struct repair_plan *p, int64_t *calls);

/* Plan the redirect of symbol in binary to to_symbol, looked up in binary, then in
 * every other file the process maps code from. The errors of repair_plan_override. */
int repair_plan_redirect(const char *binary, const char *symbol, const char *to_symbol,
			 uint32_t pid, struct repair_plan *out, char *err, size_t err_len);

/* Plan the redirect of symbol in binary to to_symbol in the fix library at library,
 * whose GNU build id must be build_id (lowercase hex), for salve to load into process
 * pid when it applies the plan. The errors of repair_plan_override, and -ENOENT: the
 * library has no to_symbol; -EKEYREJECTED: its build id is another. */
int repair_plan_library(const char *binary, const char *symbol, const char *to_symbol,
			const char *library, const char *build_id, uint32_t pid,
			struct repair_plan *out, char *err, size_t err_len);

/* The repair spec (kind, path, symbol, value or to_symbol of a plan) planned again, in
 * process pid: another process of the same binary. The errors of the two above. */
int repair_plan_again(const struct repair_plan *spec, uint32_t pid, struct repair_plan *out,
		      char *err, size_t err_len);

/* What a policy asks of a repair, the spec (kind, path, symbol, value and when, or
 * to_symbol of a plan), into obj ("binary", "symbol", "return" and "when", or "to");
 * and back, the kind from obj's "do". -EINVAL: obj holds no spec. */
int repair_spec_to_json(const struct repair_plan *spec, struct json_object *obj);
int repair_spec_from_json(struct json_object *obj, struct repair_plan *spec);

/* The plan's fields into obj ("pid", "binary", "symbol", "build_id", "address",
 * "original", "patched", …); and back. -EINVAL: obj is not a plan. */
int repair_plan_to_json(const struct repair_plan *p, struct json_object *obj);
int repair_plan_from_json(struct json_object *obj, struct repair_plan *out);

/* Write the plan's code over its original bytes, in the process the plan names (the
 * same start time), its trampoline page mapped first, or its fix library loaded first
 * (the plan then gets the library's handle and the jump to it). -ESTALE: the pid is
 * another process now; -EEXIST: something else took the page's address since the
 * plan; the errors of library_load. */
int repair_apply(struct repair_plan *p, struct patch_stats *st, char *err, size_t err_len);

/* The same, in a process salve stopped at its entry point (SIGSTOP), which stays
 * stopped only by salve's hold if the repair runs code in it, and must be sent SIGCONT
 * after. */
int repair_apply_at_entry(struct repair_plan *p, struct patch_stats *st, char *err,
			  size_t err_len);

/* Put the original bytes back, after checking the process still holds the plan's
 * code there, and unmap its trampoline page once no thread is inside; a fix library is
 * unloaded when no thread is inside it, else it stays loaded, unused, and a warning
 * says so. -ESRCH when the process is gone (nothing to undo), -ESTALE when the pid
 * is another process. */
int repair_undo(const struct repair_plan *p, struct patch_stats *st, char *err, size_t err_len);

/* When pid's process started, from field 22 of /proc/PID/stat; 0 when unknown. */
uint64_t repair_process_start_ns(uint32_t pid);

#endif
