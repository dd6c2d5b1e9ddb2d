/* repair: one repair of one function in one process, planned, applied and undone.
 *
 * A plan says everything the repair writes and everything its undo needs: the process
 * (pid and start time, so a pid taken over is never touched), the function's file and
 * offset, its address in the process, the bytes the file has there and the bytes that
 * replace them. It is what the journal records before the write (repair_plan_to_json)
 * and what the write is made from (repair_plan_from_json): the journaled bytes are the
 * bytes written. Mechanism: a hot patch of the function's entry (patch.h).
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

enum repair_kind {
	REPAIR_OVERRIDE, /* the function returns a value without running its body */
	REPAIR_REDIRECT, /* calls to the function go to another one */
};

struct repair_plan {
	enum repair_kind kind;
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
};

/* Plan the override of symbol in binary (a path or soname, as a policy names it) in
 * process pid: return value at its entry. -ESRCH: no process; -ENOENT: no such symbol,
 * or the process does not map that code; -E2BIG: the function is shorter than the
 * patch; -EILSEQ: its bytes in the process are not the file's (another patch, a
 * breakpoint or a uprobe is there). */
int repair_plan_override(const char *binary, const char *symbol, int64_t value, uint32_t pid,
			 struct repair_plan *out, char *err, size_t err_len);

/* Plan the redirect of symbol in binary to to_symbol, looked up in binary, then in
 * every other file the process maps code from. The errors of repair_plan_override. */
int repair_plan_redirect(const char *binary, const char *symbol, const char *to_symbol,
			 uint32_t pid, struct repair_plan *out, char *err, size_t err_len);

/* The repair spec (kind, path, symbol, value or to_symbol of a plan) planned again, in
 * process pid: another process of the same binary. The errors of the two above. */
int repair_plan_again(const struct repair_plan *spec, uint32_t pid, struct repair_plan *out,
		      char *err, size_t err_len);

/* The plan's fields into obj ("pid", "binary", "symbol", "build_id", "address",
 * "original", "patched", …); and back. -EINVAL: obj is not a plan. */
int repair_plan_to_json(const struct repair_plan *p, struct json_object *obj);
int repair_plan_from_json(struct json_object *obj, struct repair_plan *out);

/* Write the plan's code over its original bytes, in the process the plan names (the
 * same start time). -ESTALE: the pid is another process now. */
int repair_apply(const struct repair_plan *p, struct patch_stats *st, char *err, size_t err_len);

/* Put the original bytes back, after checking the process still holds the plan's
 * code there. -ESRCH when the process is gone (nothing to undo), -ESTALE when the pid
 * is another process. */
int repair_undo(const struct repair_plan *p, struct patch_stats *st, char *err, size_t err_len);

/* When pid's process started, from field 22 of /proc/PID/stat; 0 when unknown. */
uint64_t repair_process_start_ns(uint32_t pid);

#endif
