/* tally: a short list of rows, searched in order (a few hundred rows at most in use). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/tally.h"

struct row {
	char *values[TALLY_LABELS_MAX];
	uint64_t count;
};

struct tally {
	size_t n_labels;
	struct row *rows;
	size_t n_rows, cap;
};

int tally_new(size_t n_labels, struct tally **out)
{
	struct tally *t;

	if (!n_labels || n_labels > TALLY_LABELS_MAX)
		return -EINVAL;
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	t->n_labels = n_labels;
	*out = t;
	return 0;
}

void tally_free(struct tally *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_rows; i++)
		for (size_t j = 0; j < t->n_labels; j++)
			free(t->rows[i].values[j]);
	free(t->rows);
	free(t);
}

static struct row *find(const struct tally *t, const char *const *values)
{
	for (size_t i = 0; i < t->n_rows; i++) {
		bool same = true;

		for (size_t j = 0; same && j < t->n_labels; j++)
			same = !strcmp(t->rows[i].values[j], values[j] ? values[j] : "");
		if (same)
			return &t->rows[i];
	}
	return NULL;
}

int tally_add(struct tally *t, const char *const *values, uint64_t n)
{
	const char *other[TALLY_LABELS_MAX] = { TALLY_OTHER, TALLY_OTHER, TALLY_OTHER, TALLY_OTHER };
	struct row *r = find(t, values);

	if (!r && t->n_rows >= TALLY_ROWS_MAX - 1 && !(r = find(t, other)))
		values = other; /* the last row left: the one for all the others */
	if (!r) {
		struct row fresh = { .count = 0 };

		if (t->n_rows == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 16;
			struct row *grown = realloc(t->rows, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			t->rows = grown;
			t->cap = cap;
		}
		for (size_t j = 0; j < t->n_labels; j++) {
			if (!(fresh.values[j] = strdup(values[j] ? values[j] : ""))) {
				while (j--)
					free(fresh.values[j]);
				return -ENOMEM;
			}
		}
		r = &t->rows[t->n_rows++];
		*r = fresh;
	}
	r->count += n;
	return 0;
}

size_t tally_rows(const struct tally *t)
{
	return t->n_rows;
}

const char *const *tally_row(const struct tally *t, size_t i, uint64_t *count)
{
	*count = t->rows[i].count;
	return (const char *const *)t->rows[i].values;
}

uint64_t tally_get(const struct tally *t, const char *const *values)
{
	const struct row *r = find(t, values);

	return r ? r->count : 0;
}
