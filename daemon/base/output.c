/* output: lines gathered and written in batches. */
#include "base/output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A line in the batch: where it ends (after its newline) and its tag. */
struct pending {
	size_t end;
	unsigned tag;
};

struct output {
	int fd;
	bool gone;
	char *buf;
	size_t len, cap;
	struct pending *lines;
	size_t n_lines, cap_lines;
	struct output_counts counts[OUTPUT_TAGS];
};

int output_new(int fd, struct output **out)
{
	struct output *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->fd = fd;
	*out = o;
	return 0;
}

void output_free(struct output *o)
{
	if (!o)
		return;
	output_flush(o);
	free(o->buf);
	free(o->lines);
	free(o);
}

bool output_gone(const struct output *o)
{
	return o->gone;
}

struct output_counts output_counts(const struct output *o, unsigned tag)
{
	return tag < OUTPUT_TAGS ? o->counts[tag] : (struct output_counts){ 0 };
}

static bool grow(void **p, size_t *cap, size_t need, size_t size, size_t first)
{
	size_t n = *cap ? *cap : first;
	void *grown;

	while (n < need)
		n *= 2;
	if (n == *cap)
		return true;
	if (!(grown = realloc(*p, n * size)))
		return false;
	*p = grown;
	*cap = n;
	return true;
}

int output_flush(struct output *o)
{
	size_t done = 0, i = 0;
	int err = 0;

	while (done < o->len && !o->gone) {
		ssize_t n = write(o->fd, o->buf + done, o->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			o->gone = err == -EPIPE;
			break;
		}
		done += (size_t)n;
	}
	/* Lines written whole count as written; the rest of the batch is lost. */
	for (; i < o->n_lines && o->lines[i].end <= done; i++)
		o->counts[o->lines[i].tag].written++;
	for (; i < o->n_lines; i++)
		o->counts[o->lines[i].tag].lost++;
	o->len = 0;
	o->n_lines = 0;
	return err ? err : o->gone ? -EPIPE : 0;
}

int output_line(struct output *o, unsigned tag, const char *text, size_t len)
{
	tag = tag < OUTPUT_TAGS ? tag : 0;
	if (o->gone) {
		o->counts[tag].lost++;
		return -EPIPE;
	}
	if (!grow((void **)&o->buf, &o->cap, o->len + len + 1, 1, OUTPUT_BATCH_BYTES * 2) ||
	    !grow((void **)&o->lines, &o->cap_lines, o->n_lines + 1, sizeof(*o->lines), 1024)) {
		o->counts[tag].lost++;
		return -ENOMEM;
	}
	memcpy(o->buf + o->len, text, len);
	o->buf[o->len + len] = '\n';
	o->len += len + 1;
	o->lines[o->n_lines++] = (struct pending){ o->len, tag };
	return o->len >= OUTPUT_BATCH_BYTES ? output_flush(o) : 0;
}
