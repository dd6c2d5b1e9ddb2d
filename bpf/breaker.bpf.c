// SPDX-License-Identifier: GPL-2.0
/* breaker: circuit breakers around network endpoints (include/salve/breaker.h). salved
 * attaches the programs to each cgroup with a breaker that has no ancestor with one
 * (next to whatever else is attached there) while it has one, so they run once at every
 * connect() of a socket made in such a cgroup or below, and decide by every slot. A
 * connect a breaker is around fails with ECONNREFUSED while it is OPEN; while it is
 * HALF_OPEN the connect takes one of its admissions, and fails the same way when none
 * is left. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "breaker.bpf.h"
#include "salve/breaker.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SALVE_BREAKERS_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct salve_breaker_entry);
} salve_breakers SEC(".maps");

/* Whether the first prefix bits of ip (network order, 4 words) are want's. */
static __always_inline bool prefix_match(const __u32 *ip, const __u32 *want, __u32 prefix)
{
	for (__u32 i = 0; i < 4; i++) {
		int bits = (int)prefix - 32 * (int)i;
		__u32 mask;

		if (bits <= 0)
			break;
		mask = bits >= 32 ? ~0u : bpf_htonl(~0u << (32 - bits));
		if ((ip[i] ^ want[i]) & mask)
			return false;
	}
	return true;
}

static __always_inline int refuse(struct salve_breaker_entry *e)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_boot_ns();

	__sync_fetch_and_add(&e->turned_away, 1);
	bpf_map_update_elem(&salve_turned_away, &id, &now, BPF_ANY);
	/* A program that returns 0 fails the connect with EPERM, unless it set another
	 * error. */
	bpf_set_retval(-SALVE_ECONNREFUSED);
	return 0;
}

/* Whether slot e is around (family, ip, port) for the current task. */
static __always_inline bool applies(const struct salve_breaker_entry *e, __u16 family,
				    const __u32 *ip, __u16 port)
{
	return e->family == family && (!e->port || e->port == port) &&
	       prefix_match(ip, (const __u32 *)e->addr, e->prefix) &&
	       bpf_get_current_ancestor_cgroup_id(e->level) == e->cgroup_id;
}

/* salved writes a slot's state last when it sets it. */
static __always_inline __u32 state_of(const struct salve_breaker_entry *e)
{
	return *(volatile const __u32 *)&e->state;
}

/* One connect, as the passes over the slots (bpf_loop callbacks, each verified once)
 * see it. */
struct pass {
	__u32 ip[4];
	__u16 family;
	__u16 port;
	__s32 refuser; /* the slot that refuses it, or -1 */
	__u64 taken;   /* the slots that gave it an admission */
};

static struct salve_breaker_entry *slot(__u32 i)
{
	return bpf_map_lookup_elem(&salve_breakers, &i);
}

static long find_open(__u32 i, struct pass *p)
{
	struct salve_breaker_entry *e = slot(i);

	if (!e || state_of(e) != SALVE_BRK_OPEN || !applies(e, p->family, p->ip, p->port))
		return 0;
	p->refuser = (__s32)i;
	return 1;
}

static long take_admissions(__u32 i, struct pass *p)
{
	struct salve_breaker_entry *e = slot(i);

	if (!e || state_of(e) != SALVE_BRK_HALF_OPEN ||
	    !applies(e, p->family, p->ip, p->port))
		return 0;
	if (__sync_fetch_and_add(&e->admit, -1) <= 0) {
		p->refuser = (__s32)i;
		return 1;
	}
	p->taken |= 1ull << (i & 63);
	return 0;
}

static long give_back(__u32 i, struct pass *p)
{
	struct salve_breaker_entry *e;

	if ((p->taken & (1ull << (i & 63))) && (e = slot(i)))
		__sync_fetch_and_add(&e->admit, 1);
	return 0;
}

/* 1 lets the connect go on, 0 refuses it. It goes on when every breaker around it lets
 * it: an OPEN one refuses; each HALF_OPEN one gives one of its admissions, and when one
 * has none left, those the others gave are given back, so a breaker's admissions count
 * exactly the connects that went through. salved attaches the programs once on any
 * cgroup's path from the root, so this runs once per connect. */
static __always_inline int decide(struct pass *p)
{
	struct salve_breaker_entry *e;

	p->refuser = -1;
	p->taken = 0;
	bpf_loop(SALVE_BREAKERS_MAX, find_open, p, 0);
	if (p->refuser < 0) {
		bpf_loop(SALVE_BREAKERS_MAX, take_admissions, p, 0);
		if (p->refuser < 0)
			return 1;
		bpf_loop(SALVE_BREAKERS_MAX, give_back, p, 0);
	}
	e = slot((__u32)p->refuser);
	return e ? refuse(e) : 1;
}

SEC("cgroup/connect4")
int salve_brk_conn4(struct bpf_sock_addr *ctx)
{
	struct pass p = { .ip = { ctx->user_ip4 }, .family = AF_INET, .port = (__u16)ctx->user_port };

	return decide(&p);
}

SEC("cgroup/connect6")
int salve_brk_conn6(struct bpf_sock_addr *ctx)
{
	struct pass p = { .ip = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2],
				  ctx->user_ip6[3] },
			  .family = AF_INET6, .port = (__u16)ctx->user_port };

	/* ::ffff:a.b.c.d reaches an IPv4 address: IPv4 slots decide it. */
	if (!p.ip[0] && !p.ip[1] && p.ip[2] == bpf_htonl(0xffff)) {
		p.ip[0] = p.ip[3];
		p.ip[2] = p.ip[3] = 0;
		p.family = AF_INET;
	}
	return decide(&p);
}
