/* override: functions overridden by uprobes that write the registers (the BPF side is
 * bpf/override.bpf.c), where the kernel allows it: no text written, no thread stopped,
 * conditional per call at no extra cost. Each override is a uprobe at a function's entry
 * in one process (or every process of the file), its cookie keying what it returns. It
 * ends with its uprobe: with salved, too. */
#ifndef SALVE_OVERRIDE_H_DAEMON
#define SALVE_OVERRIDE_H_DAEMON

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "salve/override.h"

struct override;

/* Where the kernel takes uprobe programs that write registers (regwrite.h); else
 * -ENOTSUP, why says the kernel's reason. The override program is loaded at the first
 * override_attach and unloaded when the last override is detached. */
int override_new(struct override **out, char *why, size_t why_len);
void override_free(struct override *o);

/* Override the function at file offset off of the file at path in process pid (-1:
 * every process of the file) as what says, under cookie (unique, not 0). 0 or -errno;
 * err names the file. */
int override_attach(struct override *o, const char *path, uint64_t off, int pid,
		    const struct salve_override_cfg *what, uint64_t cookie, char *err, size_t err_len);

/* End the override of cookie. */
void override_detach(struct override *o, uint64_t cookie);

#endif
