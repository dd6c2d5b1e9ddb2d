/* entry: stop new processes of a binary at its entry point, for salved to repair them
 * before their own code runs (the BPF side is bpf/entry.bpf.c).
 *
 * A uprobe at the ELF entry point (where _start is: the loader has mapped every library
 * by then) stops the process with SIGSTOP and tells salved, which patches it and sends
 * SIGCONT. salved must continue every process it is told of: a stopped process waits
 * for it. The BPF object is loaded, and its ring watched from the loop, on the first
 * attach: a salved with no repair loads nothing for it. */
#ifndef SALVE_ENTRY_H_DAEMON
#define SALVE_ENTRY_H_DAEMON

#include <stddef.h>
#include <stdint.h>

#include "base/loop.h"

struct entry;

/* Process pid stopped at the entry of the binary attached with cookie. */
typedef void entry_stopped_fn(void *ctx, uint32_t pid, uint32_t cookie);

int entry_new(struct loop *loop, entry_stopped_fn *fn, void *ctx, struct entry **out);
void entry_free(struct entry *e);

/* Stop the new processes of the ELF executable at path, reported with cookie (unique,
 * not 0). 0 or -errno; err names the file. */
int entry_attach(struct entry *e, const char *path, uint32_t cookie, char *err, size_t err_len);

/* Stop them no more. */
void entry_detach(struct entry *e, uint32_t cookie);

#endif
