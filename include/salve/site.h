/* Probe sites: the settings of one function probe, in the salve_sites map, indexed by
 * the site id that each attachment carries in its BPF cookie. Shared by the BPF
 * programs and salved; same rules as event.h (fixed width, explicit padding). */
#ifndef SALVE_SITE_H
#define SALVE_SITE_H

#define SALVE_SITES_MAX 4096
#define SALVE_PRED_VALUES 16
#define SALVE_DEPTH_MAX 16 /* nested calls timed per thread; a power of 2 */
#define SALVE_HIST_BUCKETS 64 /* log2 of nanoseconds */

/* r11 as a call a circuit breaker turned away returns ("SALVEBRK"): the breaker's
 * trampoline sets it (r11 is scratch across calls), and return probes report nothing
 * for such a call: it is salve's answer, not the function failing. */
#define SALVE_TURNED_AWAY_MARK 0x4b524245564c4153ull

enum salve_site_kind {
	SALVE_SITE_RETURN = 1,
	SALVE_SITE_LATENCY = 2,
	SALVE_SITE_STALL = 3,
	SALVE_SITE_ASSERT = 4, /* __assert_fail */
	SALVE_SITE_ABORT = 5,  /* abort */
	SALVE_SITE_THROW = 6,  /* __cxa_throw */
	SALVE_SITE_SYSCALL = 7, /* no function: the (syscall, errno) pairs in salve_sys_rules */
};

/* Key of salve_sys_rules, whose value is the site id watching the pair. */
struct salve_sys_key {
	__u32 nr;
	__u32 err; /* positive errno */
};


enum salve_value_type {
	SALVE_VALUE_INT = 1,  /* 32-bit signed */
	SALVE_VALUE_LONG = 2, /* 64-bit signed */
	SALVE_VALUE_POINTER = 3,
	SALVE_VALUE_BOOL = 4,
};

enum salve_pred_op {
	SALVE_PRED_LT = 1,
	SALVE_PRED_LE,
	SALVE_PRED_GT,
	SALVE_PRED_GE,
	SALVE_PRED_EQ,
	SALVE_PRED_NE,
	SALVE_PRED_IN,
};

#define SALVE_SITE_STACK 0x1 /* capture the user stack with each event */

/* Key of salve_last_call: when a stall site's function last ran in a process. */
struct salve_call_key {
	__u32 site;
	__u32 tgid;
};

struct salve_site {
	__u32 kind;       /* enum salve_site_kind; 0: unused slot */
	__u32 flags;      /* SALVE_SITE_* */
	__u64 policies;   /* the policy that declares the site, as a mask bit */
	__u32 value_type; /* return: enum salve_value_type */
	__u32 op;         /* return: enum salve_pred_op */
	__u32 n_values;
	__u32 rate_per_sec; /* token bucket of the site; 0: unlimited */
	__u32 burst;
	__u32 snap_bytes;   /* SALVE_SITE_STACK: a snapshot with this many stack bytes, for
			     * CFI; 0: the frame-pointer walk */
	__u64 threshold_ns; /* latency */
	__s64 values[SALVE_PRED_VALUES];
};

/* Value of the per-CPU salve_site_hist map: each latency site's calls, by log2 of their
 * nanoseconds (bucket k: 2^k to 2^(k+1) - 1 ns; the last, everything longer), and the
 * nanoseconds of them all. */
struct salve_hist {
	__u64 buckets[SALVE_HIST_BUCKETS];
	__u64 sum_ns;
};

#define SALVE_SITE_ASSERT(type, n) _Static_assert(sizeof(type) == (n), #type " changed size")
SALVE_SITE_ASSERT(struct salve_site, 48 + 8 * SALVE_PRED_VALUES);
SALVE_SITE_ASSERT(struct salve_hist, 8 * SALVE_HIST_BUCKETS + 8);

#endif
