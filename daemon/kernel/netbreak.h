/* netbreak: circuit breakers around network endpoints for a cgroup (the BPF side is
 * bpf/breaker.bpf.c, the shared layout include/salve/breaker.h). A breaker sits in one of
 * SALVE_BREAKERS_MAX slots: while OPEN, connect() from a process in its cgroup (or
 * below) to its endpoint fails at once with ECONNREFUSED; while HALF_OPEN, the next
 * `admit` such connects go through for real and the rest fail the same way. A free
 * slot is a closed breaker.
 *
 * The connect programs are attached to a cgroup while it has a breaker and detached
 * with its last one, next to the programs others attached there (systemd's); with no
 * breaker nothing is attached anywhere. A refused connect leaves its thread in the
 * salve_turned_away map, which the syscall probe shares, so salve's refusal is not
 * reported as the service's failure. Breakers end with salved (the links are its). */
#ifndef SALVE_NETBREAK_H
#define SALVE_NETBREAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "policy/endpoint.h"
#include "salve/breaker.h"

struct netbreak;

/* What a slot holds now. */
struct netbreak_counts {
	enum salve_breaker_state state; /* SALVE_BRK_FREE: no breaker */
	int64_t admit;                  /* HALF_OPEN: admissions left, 0 when none */
	uint64_t turned_away;           /* connects refused since the breaker was set */
};

/* Load the programs. turned_away_fd is the salve_turned_away map to share (the syscall
 * probe's, probes_map_fd), or -1 for a map of their own. 0, or -errno with why saying
 * what the kernel refused. */
int netbreak_new(int turned_away_fd, struct netbreak **out, char *why, size_t why_len);
/* Clears every breaker and detaches. NULL-safe. */
void netbreak_free(struct netbreak *nb);

/* Put a breaker around ep for the cgroup at cgroup_dir (absolute, under the cgroup2
 * mount) in slot (0 to SALVE_BREAKERS_MAX - 1), in state OPEN, or HALF_OPEN letting
 * admit connects through, with its count of refusals at 0. A breaker already in the
 * slot is replaced. Attaches the programs to the cgroup when it has no other breaker.
 * 0 or -errno; err names the cgroup and the endpoint and says what to do. */
int netbreak_set(struct netbreak *nb, unsigned slot, const char *cgroup_dir,
		 const struct endpoint *ep, enum salve_breaker_state state, int64_t admit,
		 char *err, size_t err_len);

/* Move the breaker in slot to OPEN, or to HALF_OPEN letting admit connects through
 * (admit is replaced, also when it already was HALF_OPEN). -ENOENT when the slot is
 * free, -EINVAL for another state. */
int netbreak_state(struct netbreak *nb, unsigned slot, enum salve_breaker_state state,
		   int64_t admit, char *err, size_t err_len);

/* What slot holds. -EINVAL for a slot out of range. */
int netbreak_read(const struct netbreak *nb, unsigned slot, struct netbreak_counts *out);

/* Close the breaker in slot (free it); detaches the programs from its cgroup when it
 * was that cgroup's last. A free slot stays free. */
void netbreak_clear(struct netbreak *nb, unsigned slot);

/* The cgroup2 directory of process pid: the 0:: line of /proc/PID/cgroup under the
 * cgroup2 mount. 0, or -errno with err naming the process. */
int netbreak_cgroup_of(int pid, char *dir, size_t len, char *err, size_t err_len);

/* Whether the connect programs load on this kernel (salvectl features); why says what
 * they do, or what the kernel refused. */
bool netbreak_probe(char *why, size_t why_len);

#endif
