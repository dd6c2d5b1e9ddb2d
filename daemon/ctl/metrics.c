/* metrics: the Prometheus text format, 0.0.4. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/metrics.h"

struct metrics {
	char *buf;
	size_t len, cap;
	int err;
	/* The current family; its header goes out with its first sample. */
	char *name, *help;
	enum metrics_type type;
	bool has_family, header_out;
	/* Every family declared, so none comes twice. */
	char **seen;
	size_t n_seen;
};

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_seen; i++)
		free(m->seen[i]);
	free(m->seen);
	free(m->name);
	free(m->help);
	free(m->buf);
	free(m);
}

static void fail(struct metrics *m, int err)
{
	if (!m->err)
		m->err = err;
}

static void put(struct metrics *m, const char *s, size_t n)
{
	if (m->err)
		return;
	if (m->len + n + 1 > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		char *grown;

		while (m->len + n + 1 > cap)
			cap *= 2;
		if (!(grown = realloc(m->buf, cap))) {
			fail(m, -ENOMEM);
			return;
		}
		m->buf = grown;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, s, n);
	m->len += n;
	m->buf[m->len] = 0;
}

static void puts_(struct metrics *m, const char *s)
{
	put(m, s, strlen(s));
}

static void printf_(struct metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(struct metrics *m, const char *fmt, ...)
{
	char text[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(text))
		fail(m, -EINVAL);
	else
		put(m, text, (size_t)n);
}

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     (colon && c == ':');

		if (!alpha && !(p > s && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool label_name_ok(const char *s)
{
	return name_ok(s, false) && strncmp(s, "__", 2);
}

/* The length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* s escaped: backslash and newline always, the double quote in label values. */
static void put_escaped(struct metrics *m, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_len(p);

		if (*p == '\\')
			puts_(m, "\\\\");
		else if (*p == '\n')
			puts_(m, "\\n");
		else if (*p == '"' && quote)
			puts_(m, "\\\"");
		else if (!n)
			puts_(m, "\xef\xbf\xbd"); /* U+FFFD for a byte of no valid sequence */
		else
			put(m, (const char *)p, n);
		p += n ? n : 1;
	}
}

void metrics_family(struct metrics *m, const char *name, enum metrics_type type, const char *help)
{
	char **seen, *copy;

	if (m->err)
		return;
	free(m->name);
	free(m->help);
	m->name = m->help = NULL;
	m->has_family = false;
	if (!name_ok(name, true)) {
		fail(m, -EINVAL);
		return;
	}
	for (size_t i = 0; i < m->n_seen; i++) {
		if (!strcmp(m->seen[i], name)) {
			fail(m, -EINVAL);
			return;
		}
	}
	if (!(copy = strdup(name)) || !(seen = realloc(m->seen, (m->n_seen + 1) * sizeof(*seen)))) {
		free(copy);
		fail(m, -ENOMEM);
		return;
	}
	m->seen = seen;
	m->seen[m->n_seen++] = copy;
	if (!(m->name = strdup(name)) || !(m->help = strdup(help ? help : ""))) {
		fail(m, -ENOMEM);
		return;
	}
	m->type = type;
	m->has_family = true;
	m->header_out = false;
}

static const char *type_name(enum metrics_type t)
{
	return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ? "gauge" : "histogram";
}

/* The family's header, before its first sample; then "name[suffix]{labels". The
 * caller closes the braces (or not, when there are no labels and no le). */
static bool sample_start(struct metrics *m, const char *suffix, const struct metrics_label *labels,
			 size_t n)
{
	if (m->err)
		return false;
	if (!m->has_family) {
		fail(m, -EINVAL);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!label_name_ok(labels[i].name) ||
		    (m->type == METRICS_HISTOGRAM && !strcmp(labels[i].name, "le"))) {
			fail(m, -EINVAL);
			return false;
		}
	}
	if (!m->header_out) {
		puts_(m, "# HELP ");
		puts_(m, m->name);
		puts_(m, " ");
		put_escaped(m, m->help, false);
		puts_(m, "\n# TYPE ");
		puts_(m, m->name);
		puts_(m, " ");
		puts_(m, type_name(m->type));
		puts_(m, "\n");
		m->header_out = true;
	}
	puts_(m, m->name);
	puts_(m, suffix);
	for (size_t i = 0; i < n; i++) {
		puts_(m, i ? "," : "{");
		puts_(m, labels[i].name);
		puts_(m, "=\"");
		put_escaped(m, labels[i].value ? labels[i].value : "", true);
		puts_(m, "\"");
	}
	return !m->err;
}

/* ns in seconds, exactly: "1.5", "0.000000127", "3". */
static void put_seconds(struct metrics *m, uint64_t ns)
{
	char frac[16];
	int n = snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)(ns % 1000000000ull));

	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = 0;
	printf_(m, "%llu%s%s", (unsigned long long)(ns / 1000000000ull), n ? "." : "", frac);
}

static void sample_end_u64(struct metrics *m, size_t n, uint64_t v)
{
	printf_(m, "%s %llu\n", n ? "}" : "", (unsigned long long)v);
}

void metrics_u64(struct metrics *m, const struct metrics_label *labels, size_t n, uint64_t value)
{
	if (m->has_family && m->type == METRICS_HISTOGRAM) {
		fail(m, -EINVAL);
		return;
	}
	if (sample_start(m, "", labels, n))
		sample_end_u64(m, n, value);
}

void metrics_seconds(struct metrics *m, const struct metrics_label *labels, size_t n, uint64_t ns)
{
	if (m->has_family && m->type == METRICS_HISTOGRAM) {
		fail(m, -EINVAL);
		return;
	}
	if (!sample_start(m, "", labels, n))
		return;
	puts_(m, n ? "} " : " ");
	put_seconds(m, ns);
	puts_(m, "\n");
}

void metrics_histogram(struct metrics *m, const struct metrics_label *labels, size_t n,
		       const uint64_t *le_ns, const uint64_t *cumulative, size_t n_edges,
		       uint64_t count, uint64_t sum_ns)
{
	if (m->err)
		return;
	if (!m->has_family || m->type != METRICS_HISTOGRAM) {
		fail(m, -EINVAL);
		return;
	}
	for (size_t i = 0; i < n_edges; i++) {
		if ((i && (le_ns[i] <= le_ns[i - 1] || cumulative[i] < cumulative[i - 1])) ||
		    cumulative[i] > count) {
			fail(m, -EINVAL);
			return;
		}
	}
	for (size_t i = 0; i <= n_edges; i++) {
		if (!sample_start(m, "_bucket", labels, n))
			return;
		puts_(m, n ? ",le=\"" : "{le=\"");
		if (i < n_edges)
			put_seconds(m, le_ns[i]);
		else
			puts_(m, "+Inf");
		printf_(m, "\"} %llu\n", (unsigned long long)(i < n_edges ? cumulative[i] : count));
	}
	if (sample_start(m, "_sum", labels, n)) {
		puts_(m, n ? "} " : " ");
		put_seconds(m, sum_ns);
		puts_(m, "\n");
	}
	if (sample_start(m, "_count", labels, n))
		sample_end_u64(m, n, count);
}

void metrics_log2_cumulate(const __u64 buckets[SALVE_HIST_BUCKETS],
			   uint64_t le_ns[METRICS_LOG2_EDGES], uint64_t cumulative[METRICS_LOG2_EDGES],
			   uint64_t *count)
{
	uint64_t sum = 0;
	int k = 0;

	for (int e = 0; e < METRICS_LOG2_EDGES; e++) {
		int top = METRICS_LOG2_FIRST + e; /* the bucket whose top is this edge */

		for (; k <= top; k++)
			sum += buckets[k];
		le_ns[e] = (2ull << top) - 1;
		cumulative[e] = sum;
	}
	for (; k < SALVE_HIST_BUCKETS; k++)
		sum += buckets[k];
	*count = sum;
}

int metrics_finish(struct metrics *m, char **text, size_t *len)
{
	if (m->err)
		return m->err;
	if (!m->buf)
		put(m, "", 0);
	if (m->err)
		return m->err;
	*text = m->buf;
	*len = m->len;
	m->buf = NULL;
	m->len = m->cap = 0;
	return 0;
}
