/* journal: salved's durable record of what it did to processes, DIR/journal.jsonl.
 *
 * Journal first: an action is written (and fsync'd) as a "begin" entry before it takes
 * effect, and its outcome as an "end" entry after. A daemon killed in between finds the
 * begin without its end when it opens the journal again, and learns what may have been
 * left half-done. One JSON object per line, appended:
 *
 *   {"seq":7,"type":"begin","time":"2026-11-22T16:31:13.123456789Z","incident":3,
 *    "rule":"parse-failing","policy":"web","pid":4242,"binary":"/srv/app/bin/app",
 *    "index":0,"action":{"do":"signal","signal":"SIGTERM"}}
 *   {"seq":7,"type":"end","time":"…","outcome":{"do":"signal","signal":"SIGTERM",
 *    "outcome":"sent"}}
 *
 * "action" is what the action module says it will do, with everything an undo needs
 * (repair actions put their original bytes, addresses and build ids there). seq grows
 * by one per begin, across restarts and rotations. At open, a begin never ended gets
 * an end entry with "outcome":"interrupted"; a file past its size limit is renamed to
 * journal.jsonl.1 (replacing the one before) and a new file starts with a
 * {"type":"rotated","last_seq":N} line and the begin entries of actions still running,
 * so the current file alone always holds every open entry. */
#ifndef SALVE_JOURNAL_H
#define SALVE_JOURNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOURNAL_FILE "journal.jsonl"
#define JOURNAL_MAX_BYTES_DEFAULT (16u << 20)

struct journal;

/* An action begun and never ended, found when the journal was opened. */
struct journal_pending {
	uint64_t seq;
	uint64_t incident_id;
	struct json_object *begin; /* the whole begin entry, as parsed */
};

/* What journal_open found; journal_replay_clear frees it. */
struct journal_replay {
	struct journal_pending *pending; /* oldest first */
	size_t n_pending;
	size_t corrupt_lines;    /* lines that are not a journal entry, kept in the file */
	size_t first_corrupt;    /* the line number (from 1) of the first of them; 0: none */
	bool torn_tail;          /* the last line had no newline (a torn write): cut off */
	uint64_t last_seq;
};

/* Who an entry is about: copies the caller keeps alive during the call. */
struct journal_subject {
	uint64_t incident_id;
	const char *rule;
	const char *policy;
	uint32_t pid;
	const char *binary; /* NULL or "" when unknown */
};

/* Open (creating) dir/journal.jsonl, replay it into *replay (may be NULL) and append an
 * "interrupted" end for every begin without one. max_bytes 0 takes the default. Never
 * fails for what the file holds; -errno when the directory or file cannot be used,
 * -EBUSY when another journal (another salved) has dir open. */
int journal_open(const char *dir, uint64_t max_bytes, struct journal **out,
		 struct journal_replay *replay);
void journal_free(struct journal *j);
void journal_replay_clear(struct journal_replay *r);

/* Write and fsync the begin entry of action number index (of its rule) of subject;
 * action is the action's JSON description (not taken). *seq names the entry for
 * journal_end. After an error nothing may be done: the action must not run. */
int journal_begin(struct journal *j, const struct journal_subject *subject, size_t index,
		  struct json_object *action, uint64_t *seq);

/* Write and fsync the end entry of seq with its outcome (not taken). */
int journal_end(struct journal *j, uint64_t seq, struct json_object *outcome);

/* The path of the current file, for messages. */
const char *journal_path(const struct journal *j);

#endif
