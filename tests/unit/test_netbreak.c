/* netbreak: breakers around network endpoints, with the real programs on a scratch
 * cgroup: workers inside it (and in a child cgroup) connect to listeners on 127.0.0.1,
 * 127.0.0.2 and ::1, the test process outside it connects too, and the listeners count
 * what reached them. Needs root and BPF; skips without them, except under
 * SALVE_REQUIRE_BPF=1, where that is a failure. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/sys.h"
#include "kernel/netbreak.h"
#include "kernel/probes.h"
#include "salve/event.h"
#include "salve/site.h"

#define CONNECT_TIMEOUT_S 3
#define AT_ONCE_NS 500000000ull /* a refused connect returns well within this */

/* A process that connects where it is told, from inside a cgroup. */
struct worker {
	pid_t pid;
	int to, from;
};

struct req {
	int family;
	char addr[INET6_ADDRSTRLEN];
	uint16_t port;
};

struct resp {
	int err; /* 0: connected */
	uint64_t ns;
	uint64_t pid_tgid;
};

struct fixture {
	const char *unavailable; /* why the test cannot run here, or NULL */
	char why[512];
	struct netbreak *nb;
	int away_fd; /* the salve_turned_away map the test made and gave netbreak */
	char cg[256], inner[320], other[320];
	struct worker w, wi; /* in cg, and in cg/inner */
	int l4, l4b, l6;     /* listeners on 127.0.0.1, 127.0.0.2 and ::1 */
	uint16_t p4, p4b, p6;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct resp do_connect(const struct req *q)
{
	struct timeval tv = { .tv_sec = CONNECT_TIMEOUT_S };
	struct sockaddr_storage sa = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&sa;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
	struct resp r = { .pid_tgid = (uint64_t)getpid() << 32 | (uint64_t)gettid() };
	int fd = socket(q->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t start;

	if (fd < 0) {
		r.err = errno;
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (q->family == AF_INET) {
		in->sin_family = AF_INET;
		in->sin_port = htons(q->port);
		inet_pton(AF_INET, q->addr, &in->sin_addr);
	} else {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(q->port);
		inet_pton(AF_INET6, q->addr, &in6->sin6_addr);
	}
	start = now_ns();
	r.err = connect(fd, (struct sockaddr *)&sa, q->family == AF_INET ? sizeof(*in) : sizeof(*in6))
			? errno : 0;
	r.ns = now_ns() - start;
	close(fd);
	return r;
}

static int spawn(const char *cgroup, struct worker *w)
{
	int to[2], from[2];

	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		return -errno;
	w->pid = fork();
	if (w->pid < 0)
		return -errno;
	if (!w->pid) {
		char path[PATH_MAX + 32], pid[32];
		struct req q;
		int fd;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
		snprintf(pid, sizeof(pid), "%d", getpid());
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
			_exit(2);
		close(fd);
		while (read(to[0], &q, sizeof(q)) == sizeof(q)) {
			struct resp r = do_connect(&q);

			if (write(from[1], &r, sizeof(r)) != sizeof(r))
				_exit(3);
		}
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	w->to = to[1];
	w->from = from[0];
	return 0;
}

static void stop(struct worker *w)
{
	if (w->pid <= 0)
		return;
	close(w->to);
	close(w->from);
	kill(w->pid, SIGKILL);
	waitpid(w->pid, NULL, 0);
	w->pid = 0;
}

/* Connect from worker w (NULL: from the test process, outside the cgroup). */
static struct resp conn(struct worker *w, int family, const char *addr, uint16_t port)
{
	struct req q = { .family = family, .port = port };
	struct resp r;

	snprintf(q.addr, sizeof(q.addr), "%s", addr);
	if (!w)
		return do_connect(&q);
	assert_int_equal(write(w->to, &q, sizeof(q)), sizeof(q));
	assert_int_equal(read(w->from, &r, sizeof(r)), sizeof(r));
	return r;
}

static void assert_connects(struct worker *w, int family, const char *addr, uint16_t port)
{
	struct resp r = conn(w, family, addr, port);

	if (r.err)
		fail_msg("connect to %s port %u from %s: %s, expected to connect", addr, port,
			 w ? "inside the cgroup" : "outside", strerror(r.err));
}

static struct resp assert_refused(struct worker *w, int family, const char *addr, uint16_t port)
{
	struct resp r = conn(w, family, addr, port);

	if (r.err != ECONNREFUSED)
		fail_msg("connect to %s port %u: %s, expected ECONNREFUSED", addr, port,
			 r.err ? strerror(r.err) : "connected");
	assert_true(r.ns < AT_ONCE_NS);
	return r;
}

/* Connections that reached listener l since the last call. */
static int accepted(int l)
{
	int n = 0, fd;

	while ((fd = accept4(l, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		close(fd);
		n++;
	}
	assert_int_equal(errno, EAGAIN);
	return n;
}

static int listener(int family, const char *addr, uint16_t *port)
{
	struct sockaddr_storage sa = { 0 };
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (family == AF_INET) {
		((struct sockaddr_in *)&sa)->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)&sa)->sin_addr);
	} else {
		((struct sockaddr_in6 *)&sa)->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&sa)->sin6_addr);
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len))
		return -1;
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
					: ((struct sockaddr_in6 *)&sa)->sin6_port);
	return fd;
}

/* The programs named name attached to the cgroup at dir for type. */
static int attached(const char *dir, enum bpf_attach_type type, const char *name)
{
	__u32 ids[64], cnt = 64, flags = 0;
	int cg = open(dir, O_RDONLY | O_DIRECTORY), n = 0;

	assert_true(cg >= 0);
	assert_int_equal(bpf_prog_query(cg, type, 0, &flags, ids, &cnt), 0);
	close(cg);
	for (__u32 i = 0; i < cnt; i++) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		assert_true(fd >= 0);
		assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
		close(fd);
		n += !strcmp(info.name, name);
	}
	return n;
}

static int ours(const char *dir)
{
	return attached(dir, BPF_CGROUP_INET4_CONNECT, "salve_brk_conn4") +
	       attached(dir, BPF_CGROUP_INET6_CONNECT, "salve_brk_conn6");
}

static struct endpoint ep_of(const char *text)
{
	struct endpoint ep;
	char err[256];

	if (endpoint_parse(text, &ep, err, sizeof(err)))
		fail_msg("%s", err);
	return ep;
}

static void set(struct fixture *f, unsigned slot, const char *cgroup, const char *endpoint,
		enum salve_breaker_state state, int64_t admit)
{
	struct endpoint ep = ep_of(endpoint);
	char err[1024] = "";

	if (netbreak_set(f->nb, slot, cgroup, &ep, state, admit, err, sizeof(err)))
		fail_msg("%s", err);
}

static struct netbreak_counts counts(struct fixture *f, unsigned slot)
{
	struct netbreak_counts c;

	assert_int_equal(netbreak_read(f->nb, slot, &c), 0);
	return c;
}

static const char *mkscratch(char *dir, size_t len, const char *parent, const char *name)
{
	snprintf(dir, len, "%s/%s", parent, name);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return "cannot make a scratch cgroup under the cgroup2 mount";
	return NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char name[64];

	assert_non_null(f);
	*state = f;
	f->away_fd = -1;
	if (geteuid() != 0) {
		f->unavailable = "needs root (BPF and cgroups)";
		return 0;
	}
	f->away_fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "salve_turned_aw", sizeof(__u64),
				    sizeof(__u64), 16384, NULL);
	if (f->away_fd < 0 || netbreak_new(f->away_fd, &f->nb, f->why, sizeof(f->why))) {
		f->unavailable = f->why[0] ? f->why : "cannot make a BPF map";
		return 0;
	}
	snprintf(name, sizeof(name), "salve-test-netbreak-%d", getpid());
	if ((f->unavailable = mkscratch(f->cg, sizeof(f->cg), sys_cgroup2_root(), name)) ||
	    (f->unavailable = mkscratch(f->inner, sizeof(f->inner), f->cg, "inner")))
		return 0;
	snprintf(f->other, sizeof(f->other), "%s/%s-other", sys_cgroup2_root(), name);
	f->l4 = listener(AF_INET, "127.0.0.1", &f->p4);
	f->l4b = listener(AF_INET, "127.0.0.2", &f->p4b);
	f->l6 = listener(AF_INET6, "::1", &f->p6);
	assert_true(f->l4 >= 0 && f->l4b >= 0 && f->l6 >= 0);
	assert_int_equal(spawn(f->cg, &f->w), 0);
	assert_int_equal(spawn(f->inner, &f->wi), 0);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	stop(&f->w);
	stop(&f->wi);
	netbreak_free(f->nb);
	if (f->away_fd >= 0)
		close(f->away_fd);
	if (f->l4 > 0)
		close(f->l4);
	if (f->l4b > 0)
		close(f->l4b);
	if (f->l6 > 0)
		close(f->l6);
	if (f->inner[0])
		rmdir(f->inner);
	if (f->cg[0])
		rmdir(f->cg);
	rmdir(f->other);
	free(f);
	return 0;
}

/* The fixture, where the test can run; else skips saying why (fails under
 * SALVE_REQUIRE_BPF=1). */
static struct fixture *ready(void **state)
{
	struct fixture *f = *state;
	const char *require = getenv("SALVE_REQUIRE_BPF");

	if (!f->unavailable)
		return f;
	if (require && !strcmp(require, "1"))
		fail_msg("would skip, but SALVE_REQUIRE_BPF=1: %s", f->unavailable);
	printf("skipped: %s\n", f->unavailable);
	skip();
	return f;
}

/* Each test starts with every slot free and the listeners' queues empty. */
static int clear_all(void **state)
{
	struct fixture *f = *state;

	if (f->unavailable)
		return 0;
	for (unsigned i = 0; i < SALVE_BREAKERS_MAX; i++)
		netbreak_clear(f->nb, i);
	accepted(f->l4);
	accepted(f->l4b);
	accepted(f->l6);
	return 0;
}

/* No breaker: nothing attached, every connect reaches its listener. */
static void test_no_breaker(void **state)
{
	struct fixture *f = ready(state);

	assert_int_equal(ours(f->cg), 0);
	assert_connects(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_connects(&f->w, AF_INET6, "::1", f->p6);
	assert_connects(&f->wi, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(accepted(f->l4), 2);
	assert_int_equal(accepted(f->l6), 1);
}

/* Open: refused at once with ECONNREFUSED inside the cgroup and below it, counted, the
 * thread noted for the syscall probe; outside the cgroup and to other endpoints,
 * nothing changes. Closed again, the programs are gone. */
static void test_open(void **state)
{
	struct fixture *f = ready(state);
	char ep[64];
	struct resp r;
	__u64 when;

	snprintf(ep, sizeof(ep), "127.0.0.1:%u", f->p4);
	set(f, 3, f->cg, ep, SALVE_BRK_OPEN, 0);
	assert_int_equal(attached(f->cg, BPF_CGROUP_INET4_CONNECT, "salve_brk_conn4"), 1);
	assert_int_equal(attached(f->cg, BPF_CGROUP_INET6_CONNECT, "salve_brk_conn6"), 1);

	r = assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(bpf_map_lookup_elem(f->away_fd, &r.pid_tgid, &when), 0);
	assert_refused(&f->wi, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(accepted(f->l4), 0);
	assert_int_equal(counts(f, 3).state, SALVE_BRK_OPEN);
	assert_int_equal(counts(f, 3).turned_away, 2);

	r = conn(NULL, AF_INET, "127.0.0.1", f->p4); /* the test process is outside */
	assert_int_equal(r.err, 0);
	assert_int_not_equal(bpf_map_lookup_elem(f->away_fd, &r.pid_tgid, &when), 0);
	assert_connects(&f->w, AF_INET, "127.0.0.2", f->p4b); /* another address */
	assert_connects(&f->w, AF_INET6, "::1", f->p6);       /* another family */
	assert_int_equal(accepted(f->l4), 1);
	assert_int_equal(accepted(f->l4b), 1);
	assert_int_equal(accepted(f->l6), 1);
	assert_int_equal(counts(f, 3).turned_away, 2);

	netbreak_clear(f->nb, 3);
	assert_int_equal(counts(f, 3).state, SALVE_BRK_FREE);
	assert_int_equal(ours(f->cg), 0);
	assert_connects(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(accepted(f->l4), 1);
}

/* An address no SYN would get an answer from: the breaker answers at once. */
static void test_open_answers_at_once(void **state)
{
	struct fixture *f = ready(state);

	set(f, 0, f->cg, "198.51.100.7:80", SALVE_BRK_OPEN, 0);
	assert_refused(&f->w, AF_INET, "198.51.100.7", 80);
	assert_int_equal(counts(f, 0).turned_away, 1);
}

/* Half-open lets exactly admit connects through, refuses the rest; moved again, it lets
 * the new number through; open refuses all. */
static void test_half_open(void **state)
{
	struct fixture *f = ready(state);
	char err[512];
	struct netbreak_counts c;

	set(f, 0, f->cg, "127.0.0.1", SALVE_BRK_HALF_OPEN, 2); /* every port */
	assert_int_equal(counts(f, 0).admit, 2);
	assert_connects(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(counts(f, 0).admit, 1);
	assert_connects(&f->wi, AF_INET, "127.0.0.1", f->p4);
	assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_refused(&f->wi, AF_INET, "127.0.0.1", f->p4);
	assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(accepted(f->l4), 2);
	c = counts(f, 0);
	assert_int_equal(c.state, SALVE_BRK_HALF_OPEN);
	assert_int_equal(c.admit, 0);
	assert_int_equal(c.turned_away, 3);

	assert_int_equal(netbreak_state(f->nb, 0, SALVE_BRK_HALF_OPEN, 1, err, sizeof(err)), 0);
	assert_connects(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(accepted(f->l4), 1);
	assert_int_equal(netbreak_state(f->nb, 0, SALVE_BRK_OPEN, 0, err, sizeof(err)), 0);
	assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(netbreak_state(f->nb, 0, SALVE_BRK_HALF_OPEN, 0, err, sizeof(err)), 0);
	assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(counts(f, 0).turned_away, 6);
	assert_int_equal(accepted(f->l4), 0);
}

/* Concurrent connects take the admissions atomically: exactly admit get through. */
static void test_half_open_concurrent(void **state)
{
	struct fixture *f = ready(state);
	struct worker w[8];
	char ep[64];
	int ok = 0;

	snprintf(ep, sizeof(ep), "127.0.0.1:%u", f->p4);
	set(f, 0, f->cg, ep, SALVE_BRK_HALF_OPEN, 5);
	for (int i = 0; i < 8; i++)
		assert_int_equal(spawn(f->cg, &w[i]), 0);
	for (int round = 0; round < 4; round++) {
		struct req q = { .family = AF_INET, .addr = "127.0.0.1", .port = f->p4 };

		for (int i = 0; i < 8; i++)
			assert_int_equal(write(w[i].to, &q, sizeof(q)), sizeof(q));
		for (int i = 0; i < 8; i++) {
			struct resp r;

			assert_int_equal(read(w[i].from, &r, sizeof(r)), sizeof(r));
			assert_true(r.err == 0 || r.err == ECONNREFUSED);
			ok += !r.err;
		}
	}
	for (int i = 0; i < 8; i++)
		stop(&w[i]);
	assert_int_equal(ok, 5);
	assert_int_equal(accepted(f->l4), 5);
	assert_int_equal(counts(f, 0).turned_away, 27);
}

/* A network: 127.0.0.0/8 covers 127.0.0.2; IPv6 stays open. */
static void test_cidr(void **state)
{
	struct fixture *f = ready(state);

	set(f, 0, f->cg, "127.0.0.0/8", SALVE_BRK_OPEN, 0);
	assert_refused(&f->w, AF_INET, "127.0.0.2", f->p4b);
	assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_connects(&f->w, AF_INET6, "::1", f->p6);
	assert_int_equal(accepted(f->l4b), 0);
	assert_int_equal(accepted(f->l6), 1);

	set(f, 0, f->cg, "127.0.0.0/31", SALVE_BRK_OPEN, 0); /* replaced: .0 and .1 */
	assert_connects(&f->w, AF_INET, "127.0.0.2", f->p4b);
	assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(counts(f, 0).turned_away, 1);
	assert_int_equal(ours(f->cg), 2); /* still one attachment */
}

/* IPv6 likewise, and an IPv4 address reached from an IPv6 socket (::ffff:127.0.0.1). */
static void test_ipv6(void **state)
{
	struct fixture *f = ready(state);
	char ep[64];

	snprintf(ep, sizeof(ep), "[::1]:%u", f->p6);
	set(f, 0, f->cg, ep, SALVE_BRK_OPEN, 0);
	assert_refused(&f->w, AF_INET6, "::1", f->p6);
	assert_refused(&f->wi, AF_INET6, "::1", f->p6);
	assert_int_equal(conn(NULL, AF_INET6, "::1", f->p6).err, 0);
	assert_connects(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(accepted(f->l6), 1);

	set(f, 0, f->cg, "::/64", SALVE_BRK_HALF_OPEN, 1);
	assert_connects(&f->w, AF_INET6, "::1", f->p6);
	assert_refused(&f->w, AF_INET6, "::1", f->p6);
	assert_int_equal(accepted(f->l6), 1);

	snprintf(ep, sizeof(ep), "127.0.0.1:%u", f->p4);
	set(f, 0, f->cg, ep, SALVE_BRK_OPEN, 0);
	assert_refused(&f->w, AF_INET6, "::ffff:127.0.0.1", f->p4);
	assert_int_equal(accepted(f->l4), 1); /* the IPv4 connect above */
	assert_int_equal(counts(f, 0).turned_away, 1);
}

/* Breakers on a cgroup and on its child: the programs are on the topmost only, so a
 * connect is decided once; it goes through when every breaker around it lets it, and
 * one that has no admission left gets the others' back. */
static void test_nested_cgroups(void **state)
{
	struct fixture *f = ready(state);

	set(f, 0, f->inner, "127.0.0.0/8", SALVE_BRK_HALF_OPEN, 5);
	assert_int_equal(ours(f->inner), 2);
	set(f, 1, f->cg, "127.0.0.1", SALVE_BRK_HALF_OPEN, 2);
	assert_int_equal(ours(f->cg), 2);
	assert_int_equal(ours(f->inner), 0); /* the parent's cover it */

	assert_connects(&f->wi, AF_INET, "127.0.0.1", f->p4); /* both give one */
	assert_int_equal(counts(f, 0).admit, 4);
	assert_int_equal(counts(f, 1).admit, 1);
	assert_connects(&f->w, AF_INET, "127.0.0.1", f->p4); /* only the parent's */
	assert_int_equal(counts(f, 0).admit, 4);
	assert_int_equal(counts(f, 1).admit, 0);
	assert_refused(&f->wi, AF_INET, "127.0.0.1", f->p4); /* the parent's is spent */
	assert_int_equal(counts(f, 0).admit, 4);             /* the child's given back */
	assert_int_equal(counts(f, 0).turned_away, 0);
	assert_int_equal(counts(f, 1).turned_away, 1);
	assert_connects(&f->wi, AF_INET, "127.0.0.2", f->p4b); /* only the child's */
	assert_int_equal(counts(f, 0).admit, 3);
	assert_int_equal(accepted(f->l4), 2);
	assert_int_equal(accepted(f->l4b), 1);

	netbreak_clear(f->nb, 1); /* the child's breaker needs the programs on the child */
	assert_int_equal(ours(f->cg), 0);
	assert_int_equal(ours(f->inner), 2);
	assert_connects(&f->wi, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(counts(f, 0).admit, 2);
	set(f, 1, f->cg, "127.0.0.1", SALVE_BRK_OPEN, 0);
	assert_refused(&f->wi, AF_INET, "127.0.0.1", f->p4); /* open: no admission taken */
	assert_int_equal(counts(f, 0).admit, 2);
	assert_connects(&f->wi, AF_INET, "127.0.0.2", f->p4b);
	assert_int_equal(counts(f, 0).admit, 1);
	netbreak_clear(f->nb, 0);
	assert_int_equal(ours(f->inner), 0);
	assert_int_equal(ours(f->cg), 2);
	netbreak_clear(f->nb, 1);
	assert_int_equal(ours(f->cg), 0);
}

/* What others attached to the cgroup (systemd's programs, attached to allow more) stays;
 * where a program allows no others, the breaker says so and attaches nothing. */
static void test_others_programs(void **state)
{
	struct fixture *f = ready(state);
	struct bpf_insn allow[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_CGROUP_INET4_CONNECT);
	struct endpoint ep = ep_of("127.0.0.1");
	char err[1024] = "", want[4096];
	int prog = bpf_prog_load(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "other_conn4", "GPL", allow, 2,
				 &opts);
	int cg = open(f->cg, O_RDONLY | O_DIRECTORY), other;

	assert_true(prog >= 0 && cg >= 0);
	assert_int_equal(bpf_prog_attach(prog, cg, BPF_CGROUP_INET4_CONNECT, BPF_F_ALLOW_MULTI), 0);
	set(f, 0, f->cg, "127.0.0.1", SALVE_BRK_OPEN, 0);
	assert_int_equal(attached(f->cg, BPF_CGROUP_INET4_CONNECT, "other_conn4"), 1);
	assert_int_equal(ours(f->cg), 2);
	assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	netbreak_clear(f->nb, 0);
	assert_int_equal(ours(f->cg), 0);
	assert_int_equal(attached(f->cg, BPF_CGROUP_INET4_CONNECT, "other_conn4"), 1);
	assert_connects(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_equal(bpf_prog_detach2(prog, cg, BPF_CGROUP_INET4_CONNECT), 0);
	close(cg);

	assert_true(mkdir(f->other, 0755) == 0 || errno == EEXIST);
	other = open(f->other, O_RDONLY | O_DIRECTORY);
	assert_true(other >= 0);
	assert_int_equal(bpf_prog_attach(prog, other, BPF_CGROUP_INET4_CONNECT, 0), 0);
	assert_int_equal(netbreak_set(f->nb, 0, f->other, &ep, SALVE_BRK_OPEN, 0, err, sizeof(err)),
			 -EPERM);
	snprintf(want, sizeof(want), "cannot attach the connect programs to cgroup %s: it has a "
		 "program that allows no others (see bpftool cgroup show %s)", f->other, f->other);
	assert_string_equal(err, want);
	assert_int_equal(ours(f->other), 0);
	assert_int_equal(counts(f, 0).state, SALVE_BRK_FREE);
	assert_int_equal(bpf_prog_detach2(prog, other, BPF_CGROUP_INET4_CONNECT), 0);
	close(other);
	close(prog);
	assert_int_equal(rmdir(f->other), 0);
}

/* Syscall records of failed connects from one process. */
struct records {
	pid_t pid;
	int refused; /* connect failed with ECONNREFUSED */
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct records *r = ctx;
	const struct salve_call_event *e = data;

	if (size >= sizeof(*e) && e->hdr.kind == SALVE_EV_SYSCALL && e->hdr.pid == (__u32)r->pid &&
	    e->syscall == 42 && e->ret == -ECONNREFUSED)
		r->refused++;
	return 0;
}

/* With the syscall probe watching connect failing with ECONNREFUSED, and the breaker
 * sharing its salve_turned_away: the connect the breaker refused makes no record, the
 * thread is forgotten, and a connect refused by the peer makes its record. */
static void test_syscall_probe_skips_refusals(void **state)
{
	struct fixture *f = ready(state);
	struct records recs = { .pid = f->w.pid };
	struct probes_cfg pc = { .on_record = on_record, .ctx = &recs };
	struct salve_config cfg = { .kinds = 1u << SALVE_EV_SYSCALL, .unscoped = 1 };
	struct salve_site site = { .kind = SALVE_SITE_SYSCALL, .policies = 1 };
	struct salve_sys_key key = { .nr = 42, .err = ECONNREFUSED };
	struct sockaddr_in closed = { .sin_family = AF_INET };
	socklen_t len = sizeof(closed);
	struct netbreak *nb;
	struct probes *p;
	struct resp r;
	char ep[64], why[512] = "";
	uint32_t gen, owner;
	__u64 when;
	int away, fd;

	assert_int_equal(probes_new(&pc, &p), 0);
	assert_int_equal(probes_configure(p, &cfg, NULL, 0, &gen), 0);
	assert_int_equal(probes_site_attach(p, 1, &site, NULL, 0), 0);
	assert_int_equal(probes_sys_rule(p, 1, &key, false, &owner), 0);
	away = probes_map_fd(p, "salve_turned_away");
	assert_true(away >= 0);
	if (netbreak_new(away, &nb, why, sizeof(why)))
		fail_msg("%s", why);
	snprintf(ep, sizeof(ep), "127.0.0.1:%u", f->p4);
	{
		struct endpoint e = ep_of(ep);

		if (netbreak_set(nb, 0, f->cg, &e, SALVE_BRK_OPEN, 0, why, sizeof(why)))
			fail_msg("%s", why);
	}
	/* A port nothing listens on: the peer refuses. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, "127.0.0.1", &closed.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&closed, sizeof(closed)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&closed, &len), 0);

	r = assert_refused(&f->w, AF_INET, "127.0.0.1", f->p4);
	assert_int_not_equal(bpf_map_lookup_elem(away, &r.pid_tgid, &when), 0);
	assert_int_equal(conn(&f->w, AF_INET, "127.0.0.1", ntohs(closed.sin_port)).err, ECONNREFUSED);
	assert_true(probes_consume(p) >= 0);
	assert_int_equal(recs.refused, 1);

	close(fd);
	netbreak_free(nb);
	probes_free(p);
	assert_int_equal(ours(f->cg), 0);
}

/* A process's cgroup, and what is refused, in words. */
static void test_cgroups_and_errors(void **state)
{
	struct fixture *f = ready(state);
	struct endpoint ep = ep_of("127.0.0.1:80");
	char dir[PATH_MAX], err[1024], want[8192];

	assert_int_equal(netbreak_cgroup_of(f->wi.pid, dir, sizeof(dir), err, sizeof(err)), 0);
	assert_string_equal(dir, f->inner);
	assert_int_equal(netbreak_cgroup_of(0x3fffffff, dir, sizeof(dir), err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "process 1073741823: /proc/1073741823/cgroup: no such process");

	assert_int_equal(netbreak_set(f->nb, 0, "/tmp", &ep, SALVE_BRK_OPEN, 0, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "/tmp is not a cgroup2 directory: name one under %s (the 0:: "
		 "line of /proc/PID/cgroup)", sys_cgroup2_root());
	assert_string_equal(err, want);
	snprintf(dir, sizeof(dir), "%s/no-such-service", f->cg);
	assert_int_equal(netbreak_set(f->nb, 0, dir, &ep, SALVE_BRK_OPEN, 0, err, sizeof(err)),
			 -ENOENT);
	snprintf(want, sizeof(want), "cgroup %s: No such file or directory; is the service running?",
		 dir);
	assert_string_equal(err, want);
	assert_int_equal(netbreak_set(f->nb, SALVE_BREAKERS_MAX, f->cg, &ep, SALVE_BRK_OPEN, 0, err,
				      sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "breaker around 127.0.0.1:80 for cgroup %s: slot 64; there are 64",
		 f->cg);
	assert_string_equal(err, want);
	assert_int_equal(netbreak_set(f->nb, 0, f->cg, &ep, SALVE_BRK_HALF_OPEN, -1, err,
				      sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "breaker around 127.0.0.1:80 for cgroup %s: half-open admits -1 "
		 "connects; give 0 or more", f->cg);
	assert_string_equal(err, want);
	assert_int_equal(netbreak_state(f->nb, 5, SALVE_BRK_OPEN, 0, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "breaker slot 5 holds no breaker; set one first");
	assert_int_equal(ours(f->cg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_breaker, clear_all),
		cmocka_unit_test_setup(test_open, clear_all),
		cmocka_unit_test_setup(test_open_answers_at_once, clear_all),
		cmocka_unit_test_setup(test_half_open, clear_all),
		cmocka_unit_test_setup(test_half_open_concurrent, clear_all),
		cmocka_unit_test_setup(test_cidr, clear_all),
		cmocka_unit_test_setup(test_ipv6, clear_all),
		cmocka_unit_test_setup(test_nested_cgroups, clear_all),
		cmocka_unit_test_setup(test_others_programs, clear_all),
		cmocka_unit_test_setup(test_syscall_probe_skips_refusals, clear_all),
		cmocka_unit_test_setup(test_cgroups_and_errors, clear_all),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
