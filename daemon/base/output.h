/* output: the lines salved writes to its event output (a file, a pipe, stdout),
 * gathered and written in batches: one write(2) per batch instead of one per line,
 * which under a storm was a tenth of a line's cost.
 *
 * Lines go out in the order they are given, whoever gives them: an incident's line
 * never overtakes the event lines before it. A batch is written when it reaches
 * OUTPUT_BATCH_BYTES and at every output_flush; the owner flushes whenever it has
 * nothing more to add at once (the ring drained, a line of its own written), so a line
 * waits for no timer. Each line carries a tag (an event kind, say) under which it is
 * counted written or lost: what a failed write or a reader gone cost is known per tag.
 * A write that fails loses the lines of its batch not yet written; EPIPE (the reader
 * went away) also loses every later line without trying. */
#ifndef SALVE_OUTPUT_H
#define SALVE_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUTPUT_TAGS 32
#define OUTPUT_BATCH_BYTES (64u << 10)

struct output;

/* Lines to fd, which stays the caller's. */
int output_new(int fd, struct output **out);
/* Flushes first. */
void output_free(struct output *o);

/* Add a line (text without its newline) tagged tag (< OUTPUT_TAGS). 0; -ENOMEM when it
 * cannot be kept (counted lost), or the error of a batch written because it was full. */
int output_line(struct output *o, unsigned tag, const char *text, size_t len);

/* Write every line added so far. 0 or -errno (the lines not written are counted lost). */
int output_flush(struct output *o);

/* A write failed with EPIPE: no line can reach anyone any more. */
bool output_gone(const struct output *o);

struct output_counts {
	uint64_t written; /* lines written whole */
	uint64_t lost;    /* lines never written: no memory, a failed write, the reader gone */
};
struct output_counts output_counts(const struct output *o, unsigned tag);

#endif
