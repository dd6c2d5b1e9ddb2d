/* feed: the lines salved writes to its event output, for `salvectl events`.
 *
 * Every line passes feed_line as it is written: the event lines of the pipeline, the
 * stats lines, and main's incident, action, repair, checkpoint, breaker and verify
 * lines. The feed keeps the last FEED_KEEP_LINES of them (FEED_KEEP_BYTES at most,
 * the oldest going first) and hands each to the streams that follow it and whose
 * filters it matches. With no follower, a line costs a copy into the ring.
 *
 * The request (control socket, see ctl.h), every field but "cmd" optional:
 *   {"cmd":"events", "follow":true|false, "last":N,
 *    "kind":"signal" | ["signal","exit",...], "pid":N, "comm":"name", "probe":"id",
 *    "rule":"id"}
 * A line matches when it has every field a filter names with that value (a line
 * without "pid", a stats line say, matches no "pid" filter); "kind" matches any of
 * the kinds given, each one a kind of line salved writes (FEED_KINDS). The filters are
 * applied in salved: nothing else is sent.
 * The reply {"ok":true,"follow":bool,"lines":N} comes first; then, oldest first, the
 * last N (default: all kept without "follow", none with it) kept lines that match; then,
 * with "follow", each matching line as salved writes it, until the client closes the
 * connection or salved stops. Without "follow", salved closes the connection after the
 * kept lines. A follower too slow to read is sent {"kind":"dropped","lines":N} where
 * lines were dropped (ctl.h). */
#ifndef SALVE_FEED_H
#define SALVE_FEED_H

#include <stddef.h>
#include <json-c/json.h>

#include "ctl/ctl.h"
#include "events/report.h"

#define FEED_KEEP_LINES 1000
#define FEED_KEEP_BYTES (512u << 10)
#define FEED_KINDS_MAX 16 /* kinds one request may name */

/* The kinds of line salved writes, for requests to name. */
#define FEED_KINDS "signal, exit, oom, exec, return, latency, stall, abort, exception, " \
		   "syscall, incident, action, verify, repair, breaker, checkpoint, restore, stats"

struct feed;

int feed_new(struct feed **out);
/* After ctl_free: closing its streams ends their following. */
void feed_free(struct feed *f);

/* A line salved wrote: what it is (the filters look at nothing else) and its text
 * without the newline. */
void feed_line(struct feed *f, const struct line_facts *facts, const char *text, size_t len);

/* Answer an "events" request on control socket c: fill reply, and keep the connection
 * as a stream of the lines (ctl_keep). */
void feed_events(struct feed *f, struct ctl *c, struct json_object *req, struct json_object *reply);

/* Lines kept now, and streams following. */
size_t feed_kept(const struct feed *f);
size_t feed_followers(const struct feed *f);

#endif
