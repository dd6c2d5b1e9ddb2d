/* tally: counters by a few label values, such as (rule, policy) or (action, outcome),
 * for the metrics. Rows are made as label values first come and are never dropped, so a
 * counter only grows; at TALLY_ROWS_MAX rows a new combination is counted in one row
 * whose values are all TALLY_OTHER, so no input grows it without bound. */
#ifndef SALVE_TALLY_H
#define SALVE_TALLY_H

#include <stddef.h>
#include <stdint.h>

#define TALLY_LABELS_MAX 4
#define TALLY_ROWS_MAX 4096
#define TALLY_OTHER "_other"

struct tally;

/* Rows of n_labels values (1 to TALLY_LABELS_MAX). */
int tally_new(size_t n_labels, struct tally **out);
void tally_free(struct tally *t);

/* Count n more for values[0..n_labels). 0, or -ENOMEM (nothing counted). */
int tally_add(struct tally *t, const char *const *values, uint64_t n);

/* The rows, in the order they were made: row i's values (n_labels of them) and count. */
size_t tally_rows(const struct tally *t);
const char *const *tally_row(const struct tally *t, size_t i, uint64_t *count);

/* Row of exactly these values: its count, else 0. */
uint64_t tally_get(const struct tally *t, const char *const *values);

#endif
