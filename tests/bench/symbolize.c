/* Symbolizer benchmark: the cost of naming one frame on the cached path (the file
 * parsed already, as in a burst of stacks from the same binaries), over the offsets of
 * every function of the crash target and of libc, each looked up as an innermost frame
 * and as a caller frame (a return address), in turns. Prints ns per lookup (thread CPU
 * time, the median of 15 passes) and the cost of the first lookup in a file (its parse).
 * Files are given with their identity (device, inode), as the kernel records them.
 *
 * Then one stack (STACK_FRAMES frames in the crash target and libc, as a frame-pointer
 * walk records them) named over and over, as a storm of records from one call site
 * is: side by side, each frame copied out of the symbolizer (symbolizer_lookup_frame
 * into a struct symbol, and each file's build id, as name_event did) and name_event as
 * it is (frames kept by the symbolizer, handed out by pointer), and the ratio. Both
 * must name the stack alike. The figures are of this run; they move between machines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench.h"
#include "events/events.h"

#include "symbols/name.h"
#include "symbols/symbolize.h"

#define PASSES 15
#define ROUNDS 200
#define OFFS_MAX 4096
#define STACK_FRAMES 16
#define STACKS 20000 /* named per pass */

/* A stack named the way name_event did before frames were kept: a struct symbol copied
 * out per frame, a build id per file. */
struct copied_names {
	struct report_frame frames[SALVE_STACK_MAX];
	struct symbol symbols[SALVE_STACK_MAX];
	struct report_inlined inlined[SALVE_STACK_MAX][SYMBOL_INLINED_MAX];
	char build_ids[SALVE_MODULES_MAX][BUILD_ID_HEX_MAX];
};

static size_t name_copied(struct symbolizer *sym, const struct event *ev, struct copied_names *out)
{
	for (size_t j = 0; j < ev->n_modules; j++) {
		const struct event_module *m = &ev->modules[j];

		out->build_ids[j][0] = 0;
		symbolizer_build_id(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino },
				    out->build_ids[j]);
	}
	for (size_t i = 0; i < ev->n_frames; i++) {
		const struct event_frame *f = &ev->frames[i];
		const struct event_module *m = &ev->modules[f->module];
		struct report_frame *r = &out->frames[i];
		struct symbol *s = &out->symbols[i];

		*r = (struct report_frame){ .ip = f->ip, .how = "fp", .module = m->path,
					    .offset = f->file_off };
		if (out->build_ids[f->module][0])
			r->build_id = out->build_ids[f->module];
		if (symbolizer_lookup_frame(sym, &(struct symbolizer_file){ m->path, m->dev, m->ino },
					    f->file_off, i > 0, s))
			continue;
		r->symbol = s->name;
		r->offset = s->offset;
		r->file = s->file;
		r->line = s->line;
		for (size_t k = 0; k < s->n_inlined; k++)
			out->inlined[i][k] = (struct report_inlined){ s->inlined[k].name,
								      s->inlined[k].file,
								      s->inlined[k].line };
		r->inlined = out->inlined[i];
		r->n_inlined = s->n_inlined;
	}
	return ev->n_frames;
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_frames(const struct report_frame *a, const struct report_frame *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].ip != b[i].ip || a[i].offset != b[i].offset || a[i].line != b[i].line ||
		    a[i].n_inlined != b[i].n_inlined || !same_text(a[i].module, b[i].module) ||
		    !same_text(a[i].symbol, b[i].symbol) || !same_text(a[i].file, b[i].file) ||
		    !same_text(a[i].build_id, b[i].build_id))
			return false;
		for (size_t k = 0; k < a[i].n_inlined; k++)
			if (a[i].inlined[k].line != b[i].inlined[k].line ||
			    !same_text(a[i].inlined[k].symbol, b[i].inlined[k].symbol) ||
			    !same_text(a[i].inlined[k].file, b[i].inlined[k].file))
				return false;
	}
	return true;
}

/* ns per stack, the median of PASSES passes of STACKS stacks: copied out, then kept. */
static int bench_stack(struct symbolizer *s, const struct symbolizer_file ids[2],
		       uint64_t offs[2][OFFS_MAX], const size_t n[2])
{
	static struct event ev;
	static struct event_names names;
	static struct copied_names copied;
	uint64_t copied_ns[PASSES], kept_ns[PASSES];
	struct symbolizer_names_stats st;

	ev.n_modules = 2;
	for (int f = 0; f < 2; f++) {
		snprintf(ev.modules[f].path, sizeof(ev.modules[f].path), "%s", ids[f].path);
		ev.modules[f].dev = ids[f].dev;
		ev.modules[f].ino = ids[f].ino;
	}
	/* Innermost in libc, then the program's callers. */
	for (size_t i = 0; i < STACK_FRAMES; i++) {
		int f = i < 5 ? 1 : 0;

		ev.frames[i] = (struct event_frame){ .ip = 0x7f0000001000 + i * 0x40,
						     .file_off = offs[f][(i * 37) % n[f]],
						     .module = f };
	}
	ev.n_frames = STACK_FRAMES;
	name_event(s, NULL, &ev, &names);
	if (names.n_frames != STACK_FRAMES || name_copied(s, &ev, &copied) != STACK_FRAMES ||
	    !same_frames(names.frames, copied.frames, STACK_FRAMES)) {
		fprintf(stderr, "symbolize bench: the stack is not named alike copied and kept\n");
		return 1;
	}
	for (int p = 0; p < PASSES; p++) {
		uint64_t t0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID);

		for (int r = 0; r < STACKS; r++)
			name_copied(s, &ev, &copied);
		copied_ns[p] = (bench_now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / STACKS;
		t0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID);
		for (int r = 0; r < STACKS; r++)
			name_event(s, NULL, &ev, &names);
		kept_ns[p] = (bench_now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / STACKS;
	}
	qsort(copied_ns, PASSES, sizeof(copied_ns[0]), bench_cmp_u64);
	qsort(kept_ns, PASSES, sizeof(kept_ns[0]), bench_cmp_u64);
	symbolizer_names_stats(s, &st);
	printf("symbolize: a %d-frame stack named (median of %d passes of %d): copied out %llu ns "
	       "(%llu ns a frame), kept %llu ns (%llu ns a frame): %.1fx; %llu frames kept, "
	       "%llu hits, %llu misses; struct event_names %zu bytes, copied names %zu\n",
	       STACK_FRAMES, PASSES, STACKS, (unsigned long long)copied_ns[PASSES / 2],
	       (unsigned long long)copied_ns[PASSES / 2] / STACK_FRAMES,
	       (unsigned long long)kept_ns[PASSES / 2],
	       (unsigned long long)kept_ns[PASSES / 2] / STACK_FRAMES,
	       (double)copied_ns[PASSES / 2] / (double)(kept_ns[PASSES / 2] ? kept_ns[PASSES / 2] : 1),
	       (unsigned long long)st.kept, (unsigned long long)st.hits,
	       (unsigned long long)st.misses, sizeof(names), sizeof(copied));
	return 0;
}

/* File offsets of up to max functions of path, 5 bytes in, from nm and readelf. */
static size_t offsets(const char *path, const char *nm_flags, uint64_t *out, size_t max)
{
	char cmd[1024], line[512];
	unsigned long long o, va, pa, fsz, loads[8][3];
	size_t n_loads = 0, n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -lW '%s'", path);
	if (!(p = popen(cmd, "r")))
		return 0;
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%llx 0x%llx", &o, &va, &pa, &fsz) == 4 &&
		    n_loads < 8) {
			loads[n_loads][0] = o;
			loads[n_loads][1] = va;
			loads[n_loads++][2] = fsz;
		}
	pclose(p);
	snprintf(cmd, sizeof(cmd), "nm %s --defined-only '%s' 2>/dev/null", nm_flags, path);
	if (!(p = popen(cmd, "r")))
		return 0;
	while (fgets(line, sizeof(line), p) && n < max) {
		unsigned long long a;
		char type;

		if (sscanf(line, "%llx %c", &a, &type) != 2 || (type != 'T' && type != 't'))
			continue;
		for (size_t i = 0; i < n_loads; i++)
			if (a >= loads[i][1] && a < loads[i][1] + loads[i][2]) {
				out[n++] = a - loads[i][1] + loads[i][0] + 5;
				break;
			}
	}
	pclose(p);
	return n;
}

int main(int argc, char **argv)
{
	static uint64_t offs[2][OFFS_MAX];
	const char *build = argc > 1 ? argv[1] : "build";
	char crash[512];
	const char *paths[2] = { crash, "/lib/x86_64-linux-gnu/libc.so.6" };
	size_t n[2];
	uint64_t passes[PASSES], first[2], named = 0;
	struct symbolizer_file ids[2];
	struct symbolizer *s;
	struct symbol sym;
	struct stat st;

	snprintf(crash, sizeof(crash), "%s/tests/targets/crash", build);
	n[0] = offsets(paths[0], "", offs[0], OFFS_MAX);
	n[1] = offsets(paths[1], "-D", offs[1], OFFS_MAX);
	if (!n[0] || !n[1]) {
		fprintf(stderr, "symbolize bench: no functions found in %s or %s\n", paths[0], paths[1]);
		return 1;
	}
	for (int f = 0; f < 2; f++) {
		if (stat(paths[f], &st))
			return 1;
		ids[f] = (struct symbolizer_file){ paths[f], events_kernel_dev(st.st_dev), st.st_ino };
	}
	if (symbolizer_new(&s))
		return 1;
	for (int f = 0; f < 2; f++) {
		uint64_t t0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID);

		symbolizer_lookup(s, &ids[f], offs[f][0], &sym);
		first[f] = bench_now_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
	}
	for (int p = 0; p < PASSES; p++) {
		uint64_t t0 = bench_now_ns(CLOCK_THREAD_CPUTIME_ID), lookups = 0;

		for (int r = 0; r < ROUNDS; r++)
			for (int f = 0; f < 2; f++)
				for (size_t i = 0; i < n[f]; i += 7, lookups++)
					named += !symbolizer_lookup_frame(
						s, &ids[f], offs[f][i],
						(i / 7 + r) & 1, &sym);
		passes[p] = (bench_now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / lookups;
	}
	qsort(passes, PASSES, sizeof(passes[0]), bench_cmp_u64);
	printf("symbolize: %llu ns per frame named on the cached path (median of %d passes); "
	       "first lookup in a file (its parse): crash %.2f ms, libc %.2f ms; %llu named\n",
	       (unsigned long long)passes[PASSES / 2], PASSES, first[0] / 1e6, first[1] / 1e6,
	       (unsigned long long)named);
	if (bench_stack(s, ids, offs, n)) {
		symbolizer_free(s);
		return 1;
	}
	symbolizer_free(s);
	return 0;
}
