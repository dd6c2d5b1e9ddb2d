/* breaker: circuit breakers around network endpoints for a cgroup, one per slot of the
 * salve_breakers array (bpf/breaker.bpf.c). While a slot is OPEN, connect() from a
 * process in its cgroup (or below) to its endpoint fails at once with ECONNREFUSED;
 * while HALF_OPEN, `admit` connects go through and the rest fail the same way. A FREE
 * slot is a closed breaker: nothing happens.
 *
 * salved maps the array (BPF_F_MMAPABLE) and writes one field at a time: a slot's
 * endpoint and cgroup while it is FREE, then its state, last; clearing writes FREE
 * first. The kernel only adds to admit and turned_away, atomically.
 *
 * Includes nothing: BPF code includes vmlinux.h first, user space <linux/types.h>. */
#ifndef SALVE_BREAKER_H
#define SALVE_BREAKER_H

#define SALVE_BREAKERS_MAX 64

enum salve_breaker_state {
	SALVE_BRK_FREE,      /* no breaker in the slot (closed): it matches nothing */
	SALVE_BRK_OPEN,      /* every matching connect fails with ECONNREFUSED */
	SALVE_BRK_HALF_OPEN, /* the next `admit` matching connects go through, the rest fail */
};

struct salve_breaker_entry {
	/* The cgroup (its cgroup2 directory's inode number, the kernel's cgroup id), and
	 * how deep it lies below the cgroup2 root (the root is 0): a connect is the
	 * breaker's when its task's ancestor at `level` is `cgroup_id`, so processes in
	 * child cgroups count. */
	__u64 cgroup_id;
	/* HALF_OPEN: connects still to let through. Every matching connect takes one with
	 * an atomic decrement and goes through when it took a positive one, so the count
	 * goes below zero by the number refused. Unused in the other states. */
	__s64 admit;
	/* Connects this slot refused since it was set (counted atomically). */
	__u64 turned_away;
	__u32 state;  /* enum salve_breaker_state */
	__u16 family; /* AF_INET (2) or AF_INET6 (10) */
	__u16 port;   /* network byte order; 0: every port */
	__u8 prefix;  /* leading bits of addr that must match: 0-32 (IPv4), 0-128 (IPv6) */
	__u8 level;   /* cgroup_id's depth, see above */
	__u8 pad[6];
	/* Network byte order; IPv4 in the first 4 bytes, the rest 0. An IPv4 slot also
	 * matches an IPv4-mapped IPv6 address (::ffff:a.b.c.d) connected to from an
	 * AF_INET6 socket. */
	__u8 addr[16];
};

_Static_assert(sizeof(struct salve_breaker_entry) == 56, "struct salve_breaker_entry is shared");

#endif
