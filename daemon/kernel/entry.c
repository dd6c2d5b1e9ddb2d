/* entry: new processes of a binary stopped at its entry point. */
#include "kernel/entry.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.skel.h"
#include "salve/entry.h"
#include "symbols/elffile.h"

#define ENTRY_MAX 64 /* binaries stopped at once */

struct entry {
	struct loop *loop;
	entry_stopped_fn *fn;
	void *ctx;
	struct salve_entry *skel;
	struct ring_buffer *ring;
	struct {
		uint32_t cookie; /* 0: a free slot */
		struct bpf_link *link;
	} at[ENTRY_MAX];
};

int entry_new(struct loop *loop, entry_stopped_fn *fn, void *ctx, struct entry **out)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->loop = loop;
	e->fn = fn;
	e->ctx = ctx;
	*out = e;
	return 0;
}

void entry_free(struct entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < ENTRY_MAX; i++)
		bpf_link__destroy(e->at[i].link);
	if (e->ring) {
		loop_remove(e->loop, ring_buffer__epoll_fd(e->ring));
		ring_buffer__free(e->ring);
	}
	salve_entry__destroy(e->skel);
	free(e);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct entry *e = ctx;
	const struct salve_entry_stop *s = data;

	if (size >= sizeof(*s))
		e->fn(e->ctx, s->pid, s->cookie);
	return 0;
}

static int on_ring(int fd, void *ctx)
{
	struct entry *e = ctx;
	int n;

	(void)fd;
	n = ring_buffer__consume(e->ring);
	return n < 0 ? n : 0;
}

/* The BPF object and its ring, on the first attach. */
static int load(struct entry *e, char *err, size_t err_len)
{
	int r;

	if (e->skel)
		return 0;
	if (!(e->skel = salve_entry__open_and_load())) {
		r = -errno;
		snprintf(err, err_len, "the entry-stop program does not load: %s", strerror(-r));
		return r;
	}
	e->ring = ring_buffer__new(bpf_map__fd(e->skel->maps.salve_entry_stops), on_record, e, NULL);
	if (!e->ring || (r = loop_add(e->loop, ring_buffer__epoll_fd(e->ring), on_ring, e))) {
		r = e->ring ? r : -errno;
		ring_buffer__free(e->ring);
		e->ring = NULL;
		salve_entry__destroy(e->skel);
		e->skel = NULL;
		snprintf(err, err_len, "the entry-stop ring cannot be watched: %s", strerror(-r));
		return r;
	}
	return 0;
}

int entry_attach(struct entry *e, const char *path, uint32_t cookie, char *err, size_t err_len)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie);
	struct elffile f;
	GElf_Ehdr eh;
	uint64_t off;
	size_t slot = ENTRY_MAX;
	int r;

	for (size_t i = 0; i < ENTRY_MAX; i++)
		if (!e->at[i].cookie && slot == ENTRY_MAX)
			slot = i;
	if (slot == ENTRY_MAX) {
		snprintf(err, err_len, "%s: already %d binaries are stopped at their entry", path,
			 ENTRY_MAX);
		return -ENOSPC;
	}
	if ((r = elffile_open(path, &f, err, err_len)))
		return r;
	if (!gelf_getehdr(f.elf, &eh) || (r = elffile_offset_of(f.elf, eh.e_entry, &off))) {
		snprintf(err, err_len, "%s: its entry point lies in no loaded segment", path);
		elffile_close(&f);
		return -ERANGE;
	}
	elffile_close(&f);
	if ((r = load(e, err, err_len)))
		return r;
	e->at[slot].link = bpf_program__attach_uprobe_opts(e->skel->progs.salve_entry_stop, -1, path,
							   off, &opts);
	if (!e->at[slot].link) {
		r = -errno;
		e->at[slot].link = NULL;
		snprintf(err, err_len, "%s: a uprobe at its entry point (offset %#llx): %s", path,
			 (unsigned long long)off, strerror(-r));
		return r;
	}
	e->at[slot].cookie = cookie;
	return 0;
}

void entry_detach(struct entry *e, uint32_t cookie)
{
	for (size_t i = 0; i < ENTRY_MAX; i++) {
		if (e->at[i].cookie != cookie)
			continue;
		bpf_link__destroy(e->at[i].link);
		e->at[i].link = NULL;
		e->at[i].cookie = 0;
	}
}
