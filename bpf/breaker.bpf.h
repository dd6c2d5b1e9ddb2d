/* salve_turned_away: the threads whose connect() a breaker has just refused
 * (bpf/breaker.bpf.c), so that the syscall probe (bpf/syscalls.bpf.c) does not report
 * salve's own refusal as the service's failure. Both objects declare the map here and
 * salved gives them the one map. */
#ifndef SALVE_BREAKER_BPF_H
#define SALVE_BREAKER_BPF_H

#define SALVE_NR_CONNECT 42       /* x86-64 */
#define SALVE_ECONNREFUSED 111
/* A refusal is the connect's own for this long: the syscall returns right after the
 * hook, so an older entry is one whose exit no probe saw (no syscall site then, or
 * io_uring), and a later failure of the thread is its own. */
#define SALVE_TURNED_AWAY_NS 1000000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);   /* the thread's pid_tgid */
	__type(value, __u64); /* boot-time ns of the refusal */
} salve_turned_away SEC(".maps");

/* Whether a breaker refused the connect this thread returns from; forgets it. */
static __always_inline bool salve_brk_refused(void)
{
	__u64 id = bpf_get_current_pid_tgid(), *at = bpf_map_lookup_elem(&salve_turned_away, &id);
	bool fresh;

	if (!at)
		return false;
	fresh = bpf_ktime_get_boot_ns() - *at < SALVE_TURNED_AWAY_NS;
	bpf_map_delete_elem(&salve_turned_away, &id);
	return fresh;
}

#endif
