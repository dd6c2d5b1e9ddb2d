/* floor: attach empty BPF programs to a function, for the probe-cost benchmark.
 *
 *   floor OBJECT BINARY SYMBOL entry|return|both|session|session-clock
 *
 * Loads OBJECT (floor.bpf.o; floor_session.bpf.o for the sessions), attaches its empty
 * uprobe, uretprobe, both, its empty uprobe session program, or the session program
 * that only reads the clock at both ends, to SYMBOL of BINARY for every process,
 * prints "attached" and holds them until SIGINT or SIGTERM. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernel/probes.h"
#include "kernel/resolve.h"

/* The session program at SYMBOL, linked the way salved links its own; the link fd. */
static int attach_session(struct bpf_object *obj, const char *prog, const char *binary,
			  const char *symbol)
{
	struct resolve_site site;
	char err[512];
	int fd;

	if (resolve_symbol(binary, symbol, NULL, &site, err, sizeof(err))) {
		fprintf(stderr, "floor: %s\n", err);
		return -1;
	}
	fd = probes_session_link(bpf_program__fd(bpf_object__find_program_by_name(obj, prog)),
				 site.path, site.offset, 0);
	if (fd < 0)
		fprintf(stderr, "floor: cannot attach a uprobe session to %s:%s: %s\n", binary, symbol,
			strerror(-fd));
	return fd;
}

static struct bpf_link *attach(struct bpf_object *obj, const char *prog, const char *binary,
			       const char *symbol, bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = symbol, .retprobe = retprobe);
	struct bpf_program *p = bpf_object__find_program_by_name(obj, prog);
	struct bpf_link *link;

	if (!p) {
		fprintf(stderr, "floor: no program %s in the object\n", prog);
		return NULL;
	}
	link = bpf_program__attach_uprobe_opts(p, -1, binary, 0, &opts);
	if (!link)
		fprintf(stderr, "floor: cannot attach %s to %s:%s: %s\n", prog, binary, symbol,
			strerror(errno));
	return link;
}

int main(int argc, char **argv)
{
	struct bpf_link *entry = NULL, *ret = NULL;
	struct bpf_object *obj;
	const char *session = NULL;
	struct bpf_program *p;
	bool want_entry, want_return;
	int sig, rc = 1, session_fd = -1;
	sigset_t stop;

	if (argc != 5 || (strcmp(argv[4], "entry") && strcmp(argv[4], "return") &&
			  strcmp(argv[4], "both") && strcmp(argv[4], "session") &&
			  strcmp(argv[4], "session-clock"))) {
		fprintf(stderr, "usage: floor OBJECT BINARY SYMBOL "
				"entry|return|both|session|session-clock\n");
		return 2;
	}
	if (!strcmp(argv[4], "session"))
		session = "floor_session";
	else if (!strcmp(argv[4], "session-clock"))
		session = "floor_session_clock";
	want_entry = !session && strcmp(argv[4], "return");
	want_return = !session && strcmp(argv[4], "entry");
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	obj = bpf_object__open_file(argv[1], NULL);
	/* Every program of a session object loads as one: the kfuncs need it. */
	if (obj && session)
		bpf_object__for_each_program(p, obj)
			bpf_program__set_expected_attach_type(p, SALVE_TRACE_UPROBE_SESSION);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "floor: cannot load %s: %s\n", argv[1], strerror(errno));
		goto out;
	}
	if (want_entry && !(entry = attach(obj, "floor_entry", argv[2], argv[3], false)))
		goto out;
	if (want_return && !(ret = attach(obj, "floor_return", argv[2], argv[3], true)))
		goto out;
	if (session && (session_fd = attach_session(obj, session, argv[2], argv[3])) < 0)
		goto out;
	printf("attached\n");
	fflush(stdout);
	sigwait(&stop, &sig);
	rc = 0;
out:
	if (session_fd >= 0)
		close(session_fd);
	bpf_link__destroy(ret);
	bpf_link__destroy(entry);
	bpf_object__close(obj);
	return rc;
}
