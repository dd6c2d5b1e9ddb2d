/* salvectl top: a live view of salved's probe sites, busiest first, each latency site's
 * calls of the last interval drawn as a log2 histogram the way bpftrace prints hist().
 * It asks salved for its probes every interval and shows the difference. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/top.h"
#include "ctl/ctl.h"

#define BAR_WIDTH 52
#define HIST_MAX 64

struct sample {
	char key[512]; /* probe and site: what a site is across samples */
	uint64_t hits, events, suppressed;
	uint64_t hist[HIST_MAX];
	size_t n_hist;
};

struct frame {
	struct sample *s;
	size_t n;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static uint64_t u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static void frame_free(struct frame *f)
{
	free(f->s);
	*f = (struct frame){ 0 };
}

/* Ask salved for its probes; *list is the reply's array, in *reply to be put. */
static int fetch(const char *socket, struct json_object **reply, struct json_object **list)
{
	struct json_object *req = json_object_new_object(), *ok, *v;
	char err[1024];
	int rc;

	json_object_object_add(req, "cmd", json_object_new_string("probes"));
	rc = ctl_request(socket, req, reply, err, sizeof(err));
	json_object_put(req);
	if (rc) {
		fprintf(stderr, "salvectl: %s\n", err);
		return 1;
	}
	if (!json_object_object_get_ex(*reply, "ok", &ok) || !json_object_get_boolean(ok) ||
	    !json_object_object_get_ex(*reply, "probes", list)) {
		fprintf(stderr, "salvectl: top: %s\n",
			json_object_object_get_ex(*reply, "error", &v) ? json_object_get_string(v)
								       : "salved gave no probes");
		return 1;
	}
	return 0;
}

static int frame_read(struct json_object *list, struct frame *f)
{
	size_t n = json_object_array_length(list);

	if (!(f->s = calloc(n ?: 1, sizeof(*f->s))))
		return -ENOMEM;
	f->n = n;
	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(list, i), *h;
		struct sample *s = &f->s[i];

		snprintf(s->key, sizeof(s->key), "%s#%llu", str(p, "probe"),
			 (unsigned long long)u64(p, "site"));
		s->hits = u64(p, "hits");
		s->events = u64(p, "events");
		s->suppressed = u64(p, "suppressed");
		if (json_object_object_get_ex(p, "hist_log2_ns", &h)) {
			s->n_hist = json_object_array_length(h);
			if (s->n_hist > HIST_MAX)
				s->n_hist = HIST_MAX;
			for (size_t b = 0; b < s->n_hist; b++)
				s->hist[b] = json_object_get_uint64(json_object_array_get_idx(h, b));
		}
	}
	return 0;
}

static const struct sample *find(const struct frame *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->s[i].key, key))
			return &f->s[i];
	return NULL;
}

static uint64_t minus(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now; /* the site was attached again: from zero */
}

/* One site's change over the interval. */
struct delta {
	struct json_object *probe; /* in the newer reply */
	uint64_t hits, events, suppressed, total;
	uint64_t hist[HIST_MAX];
	size_t n_hist;
};

static int by_hits(const void *a, const void *b)
{
	const struct delta *x = a, *y = b;

	if (x->hits != y->hits)
		return x->hits < y->hits ? 1 : -1;
	return x->total < y->total ? 1 : x->total > y->total ? -1 : 0;
}

/* 2^b as bpftrace labels it: 512, 1K, 2M. */
static void pow2_label(size_t b, char *buf, size_t len)
{
	static const char *const suffix[] = { "", "K", "M", "G", "T", "P", "E" };

	snprintf(buf, len, "%llu%s", 1ull << (b % 10), suffix[b / 10]);
}

/* The bucket below which a fraction q of the calls fell: its upper bound, in words. */
static void quantile(const struct delta *d, double q, char *buf, size_t len)
{
	uint64_t total = 0, seen = 0;

	for (size_t b = 0; b < d->n_hist; b++)
		total += d->hist[b];
	snprintf(buf, len, "-");
	if (!total)
		return;
	for (size_t b = 0; b < d->n_hist; b++) {
		seen += d->hist[b];
		if ((double)seen >= q * (double)total) {
			char up[16];

			pow2_label(b + 1, up, sizeof(up));
			snprintf(buf, len, "<%sns", up);
			return;
		}
	}
}

static void print_hist(const struct delta *d)
{
	uint64_t max = 0;
	size_t first = HIST_MAX, last = 0;

	for (size_t b = 0; b < d->n_hist; b++) {
		if (!d->hist[b])
			continue;
		if (d->hist[b] > max)
			max = d->hist[b];
		if (first == HIST_MAX)
			first = b;
		last = b;
	}
	if (!max)
		return;
	for (size_t b = first; b <= last; b++) {
		char lo[16], hi[16], range[40];
		int bar = (int)((d->hist[b] * BAR_WIDTH + max - 1) / max);

		pow2_label(b, lo, sizeof(lo));
		pow2_label(b + 1, hi, sizeof(hi));
		snprintf(range, sizeof(range), "[%s, %s)", lo, hi);
		printf("%-16s %10llu |%.*s%*s|\n", range, (unsigned long long)d->hist[b], bar,
		       "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@", BAR_WIDTH - bar, "");
	}
}

static void print_frame(struct delta *d, size_t n, double secs, bool clear)
{
	char when[32], p50[24], p99[24];
	time_t now = time(NULL);

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
	if (clear)
		printf("\033[H\033[2J");
	printf("salvectl top - %s, every %.1fs, %zu site%s (Ctrl-C ends)\n\n", when, secs, n,
	       n == 1 ? "" : "s");
	printf("%-16s %-10s %-30s %10s %9s %9s %12s %8s %8s\n", "PROBE", "KIND", "WHERE", "HITS/S",
	       "EVENTS/S", "HELD/S", "HITS", "P50", "P99");
	for (size_t i = 0; i < n; i++) {
		const char *bin = str(d[i].probe, "binary"), *slash = strrchr(bin, '/');
		char where[64];

		if (*bin)
			snprintf(where, sizeof(where), "%s in %s", *str(d[i].probe, "symbol")
					? str(d[i].probe, "symbol") : "?", slash ? slash + 1 : bin);
		else
			snprintf(where, sizeof(where), "host-wide");
		quantile(&d[i], 0.5, p50, sizeof(p50));
		quantile(&d[i], 0.99, p99, sizeof(p99));
		printf("%-16.16s %-10s %-30.30s %10.0f %9.0f %9.0f %12llu %8s %8s\n",
		       str(d[i].probe, "probe"), str(d[i].probe, "kind"), where,
		       (double)d[i].hits / secs, (double)d[i].events / secs,
		       (double)d[i].suppressed / secs, (unsigned long long)d[i].total, p50, p99);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t calls = 0;

		for (size_t b = 0; b < d[i].n_hist; b++)
			calls += d[i].hist[b];
		if (!calls)
			continue;
		printf("\n@%s: %s, %llu calls in the last %.1fs (ns)\n", str(d[i].probe, "probe"),
		       str(d[i].probe, "mechanism"), (unsigned long long)calls, secs);
		print_hist(&d[i]);
	}
	fflush(stdout);
}

static void print_json(const struct delta *d, size_t n, double secs)
{
	struct json_object *o = json_object_new_object(), *sites = json_object_new_array();

	json_object_object_add(o, "interval_s", json_object_new_double(secs));
	json_object_object_add(o, "sites", sites);
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_new_object(), *h = json_object_new_array();

		json_object_object_add(s, "probe", json_object_new_string(str(d[i].probe, "probe")));
		json_object_object_add(s, "kind", json_object_new_string(str(d[i].probe, "kind")));
		json_object_object_add(s, "hits", json_object_new_uint64(d[i].hits));
		json_object_object_add(s, "events", json_object_new_uint64(d[i].events));
		json_object_object_add(s, "suppressed", json_object_new_uint64(d[i].suppressed));
		json_object_object_add(s, "total_hits", json_object_new_uint64(d[i].total));
		for (size_t b = 0; b < d[i].n_hist; b++)
			json_object_array_add(h, json_object_new_uint64(d[i].hist[b]));
		if (d[i].n_hist)
			json_object_object_add(s, "hist_log2_ns", h);
		else
			json_object_put(h);
		json_object_array_add(sites, s);
	}
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

static int usage_error(void)
{
	fprintf(stderr, "usage: salvectl %s\n", TOP_USAGE);
	return 2;
}

int salvectl_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ 0 },
	};
	const char *socket = CTL_SOCKET_DEFAULT;
	struct json_object *reply = NULL, *list, *prev_reply = NULL;
	struct frame prev = { 0 }, cur = { 0 };
	bool json = false, clear;
	double secs = 1.0;
	long iterations = 0; /* 0: until Ctrl-C */
	struct timespec ts;
	char *end;
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jd:n:", longopts, NULL)) != -1) {
		if (c == 's') {
			socket = optarg;
		} else if (c == 'j') {
			json = true;
		} else if (c == 'd') {
			secs = strtod(optarg, &end);
			if (*end || !(secs >= 0.1 && secs <= 3600))
				return usage_error();
		} else if (c == 'n') {
			iterations = strtol(optarg, &end, 10);
			if (*end || iterations <= 0)
				return usage_error();
		} else {
			return usage_error();
		}
	}
	if (optind != argc)
		return usage_error();
	clear = !json && !iterations && isatty(STDOUT_FILENO);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	/* The first sample is the baseline: the first frame shows the first interval. */
	if (fetch(socket, &prev_reply, &list) || frame_read(list, &prev)) {
		json_object_put(prev_reply);
		return 1;
	}
	for (long i = 0; !stop && (!iterations || i < iterations); i++) {
		struct delta *d;
		size_t n;

		ts.tv_sec = (time_t)secs;
		ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
			;
		if (stop)
			break;
		if (fetch(socket, &reply, &list) || frame_read(list, &cur)) {
			rc = 1;
			break;
		}
		n = cur.n;
		if (!(d = calloc(n ?: 1, sizeof(*d)))) {
			rc = 1;
			break;
		}
		for (size_t k = 0; k < n; k++) {
			const struct sample *now = &cur.s[k], *was = find(&prev, now->key);

			d[k].probe = json_object_array_get_idx(list, k);
			d[k].total = now->hits;
			d[k].hits = minus(now->hits, was ? was->hits : 0);
			d[k].events = minus(now->events, was ? was->events : 0);
			d[k].suppressed = minus(now->suppressed, was ? was->suppressed : 0);
			d[k].n_hist = now->n_hist;
			for (size_t b = 0; b < now->n_hist; b++)
				d[k].hist[b] = minus(now->hist[b], was && b < was->n_hist ? was->hist[b] : 0);
		}
		qsort(d, n, sizeof(*d), by_hits);
		if (json)
			print_json(d, n, secs);
		else
			print_frame(d, n, secs, clear);
		free(d);
		frame_free(&prev);
		prev = cur;
		cur = (struct frame){ 0 };
		json_object_put(prev_reply);
		prev_reply = reply;
		reply = NULL;
	}
	frame_free(&prev);
	frame_free(&cur);
	json_object_put(prev_reply);
	json_object_put(reply);
	return rc;
}
