/* floor: attach empty BPF programs to a function, for the probe-cost benchmark.
 *
 *   floor OBJECT BINARY SYMBOL entry|return|both
 *
 * Loads OBJECT (floor.bpf.o), attaches its empty uprobe, uretprobe or both to SYMBOL of
 * BINARY for every process, prints "attached" and holds them until SIGINT or SIGTERM. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	bool want_entry, want_return;
	sigset_t stop;
	int sig, rc = 1;

	if (argc != 5 || (strcmp(argv[4], "entry") && strcmp(argv[4], "return") &&
			  strcmp(argv[4], "both"))) {
		fprintf(stderr, "usage: floor OBJECT BINARY SYMBOL entry|return|both\n");
		return 2;
	}
	want_entry = strcmp(argv[4], "return");
	want_return = strcmp(argv[4], "entry");
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "floor: cannot load %s: %s\n", argv[1], strerror(errno));
		goto out;
	}
	if (want_entry && !(entry = attach(obj, "floor_entry", argv[2], argv[3], false)))
		goto out;
	if (want_return && !(ret = attach(obj, "floor_return", argv[2], argv[3], true)))
		goto out;
	printf("attached\n");
	fflush(stdout);
	sigwait(&stop, &sig);
	rc = 0;
out:
	bpf_link__destroy(ret);
	bpf_link__destroy(entry);
	bpf_object__close(obj);
	return rc;
}
