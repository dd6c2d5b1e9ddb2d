/* journal: an append-only JSON-lines file, fsync'd per entry. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actions/journal.h"
#include "base/log.h"
#include "base/loop.h"
#include "events/report.h"

/* A begin entry whose end is not written yet; carried into a new file on rotation. */
struct open_entry {
	uint64_t seq;
	char *line; /* with its newline */
};

struct journal {
	int dirfd, fd;
	char *path;
	uint64_t max_bytes;
	uint64_t size; /* of the current file */
	uint64_t seq;  /* the last one given */
	struct open_entry *open;
	size_t n_open, cap_open;
};

const char *journal_path(const struct journal *j)
{
	return j->path;
}

/* The common head of every entry. */
static struct json_object *entry_new(uint64_t seq, const char *type)
{
	struct json_object *obj = json_object_new_object();
	char when[64];
	int err = 0;

	if (!obj)
		return NULL;
	if (report_time(loop_now_ns(CLOCK_REALTIME), when, sizeof(when)) < 0)
		when[0] = '\0';
	err = err ?: report_add(obj, "seq", json_object_new_uint64(seq));
	err = err ?: report_add(obj, "type", json_object_new_string(type));
	err = err ?: report_add(obj, "time", json_object_new_string(when));
	if (err) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* obj as one line with its newline; the caller frees it. */
static char *entry_line(struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE);
	char *line;

	if (!s || asprintf(&line, "%s\n", s) < 0)
		return NULL;
	return line;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Append line and make it durable. A failed write is cut off again, so the next entry
 * does not start in the middle of a torn one. */
static int append_raw(struct journal *j, const char *line)
{
	size_t len = strlen(line);
	int err = write_all(j->fd, line, len);

	if (!err && fdatasync(j->fd))
		err = -errno;
	if (err) {
		if (ftruncate(j->fd, (off_t)j->size))
			salve_log(LOG_ERR, "journal %s: cannot cut a failed write: %s", j->path,
				  strerror(errno));
		return err;
	}
	j->size += len;
	return 0;
}

/* Start a new file: the old one becomes journal.jsonl.1. The new one begins with the
 * last seq (so numbering survives a restart) and every begin still open. */
static int rotate(struct journal *j)
{
	struct json_object *head = entry_new(j->seq, "rotated");
	char *line = NULL;
	int fd, err = 0;

	if (!head)
		return -ENOMEM;
	err = report_add(head, "last_seq", json_object_new_uint64(j->seq));
	if (!err && !(line = entry_line(head)))
		err = -ENOMEM;
	json_object_put(head);
	if (err)
		return err;
	if (renameat(j->dirfd, JOURNAL_FILE, j->dirfd, JOURNAL_FILE ".1")) {
		err = -errno;
		goto out;
	}
	fd = openat(j->dirfd, JOURNAL_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		err = -errno;
		/* Keep writing to the old file rather than lose entries. */
		if (renameat(j->dirfd, JOURNAL_FILE ".1", j->dirfd, JOURNAL_FILE))
			salve_log(LOG_ERR, "journal %s: cannot move it back: %s", j->path,
				  strerror(errno));
		goto out;
	}
	close(j->fd);
	j->fd = fd;
	j->size = 0;
	err = append_raw(j, line);
	for (size_t i = 0; !err && i < j->n_open; i++)
		err = append_raw(j, j->open[i].line);
	if (!err && fsync(j->dirfd))
		err = -errno;
out:
	free(line);
	return err;
}

static int append(struct journal *j, const char *line)
{
	int err;

	if (j->size && j->size + strlen(line) > j->max_bytes && (err = rotate(j)))
		salve_log(LOG_WARNING, "journal %s: cannot rotate, appending on: %s", j->path,
			  strerror(-err));
	return append_raw(j, line);
}

static int open_push(struct journal *j, uint64_t seq, char *line)
{
	if (j->n_open == j->cap_open) {
		size_t cap = j->cap_open ? j->cap_open * 2 : 8;
		struct open_entry *o = realloc(j->open, cap * sizeof(*o));

		if (!o)
			return -ENOMEM;
		j->open = o;
		j->cap_open = cap;
	}
	j->open[j->n_open++] = (struct open_entry){ seq, line };
	return 0;
}

static void open_drop(struct journal *j, uint64_t seq)
{
	for (size_t i = 0; i < j->n_open; i++) {
		if (j->open[i].seq != seq)
			continue;
		free(j->open[i].line);
		j->open[i] = j->open[--j->n_open];
		return;
	}
}

int journal_begin(struct journal *j, const struct journal_subject *subject, size_t index,
		  struct json_object *action, uint64_t *seq)
{
	uint64_t s = j->seq + 1;
	struct json_object *obj = entry_new(s, "begin");
	char *line = NULL;
	int err = 0;

	if (!obj)
		return -ENOMEM;
	err = err ?: report_add(obj, "incident", json_object_new_uint64(subject->incident_id));
	err = err ?: report_add(obj, "rule", report_string(subject->rule));
	err = err ?: report_add(obj, "policy", report_string(subject->policy));
	err = err ?: report_add(obj, "pid", json_object_new_int64(subject->pid));
	if (subject->binary && subject->binary[0])
		err = err ?: report_add(obj, "binary", report_string(subject->binary));
	err = err ?: report_add(obj, "index", json_object_new_uint64(index));
	err = err ?: report_add(obj, "action", action ? json_object_get(action) : json_object_new_object());
	if (!err && !(line = entry_line(obj)))
		err = -ENOMEM;
	json_object_put(obj);
	err = err ?: append(j, line);
	/* Tracked only once durable: an entry that failed to be written was never begun. */
	err = err ?: open_push(j, s, line);
	if (err) {
		free(line);
		return err;
	}
	j->seq = s;
	*seq = s;
	return 0;
}

int journal_end(struct journal *j, uint64_t seq, struct json_object *outcome)
{
	struct json_object *obj = entry_new(seq, "end");
	char *line = NULL;
	int err = 0;

	if (!obj)
		return -ENOMEM;
	err = report_add(obj, "outcome", outcome ? json_object_get(outcome) : json_object_new_object());
	if (!err && !(line = entry_line(obj)))
		err = -ENOMEM;
	json_object_put(obj);
	err = err ?: append(j, line);
	free(line);
	if (!err)
		open_drop(j, seq);
	return err;
}

/* ---- replay ------------------------------------------------------------------------ */

static int read_file(int fd, char **out, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *buf;

	if (fstat(fd, &st))
		return -errno;
	cap = (size_t)st.st_size + 1;
	if (!(buf = malloc(cap)))
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *b = realloc(buf, cap * 2);

			if (!b) {
				free(buf);
				return -ENOMEM;
			}
			buf = b;
			cap *= 2;
		}
		r = pread(fd, buf + n, cap - 1 - n, (off_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* A journal entry, or NULL: not JSON, not an object, or no seq and type. */
static struct json_object *parse_entry(const char *line, size_t len, uint64_t *seq,
				       const char **type)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj, *v;

	if (!tok)
		return NULL;
	obj = json_tokener_parse_ex(tok, line, (int)len);
	if (obj && (json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != len)) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	if (!obj)
		return NULL;
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "seq", &v) || !json_object_is_type(v, json_type_int))
		goto bad;
	*seq = json_object_get_uint64(v);
	if (!json_object_object_get_ex(obj, "type", &v) || !json_object_is_type(v, json_type_string))
		goto bad;
	*type = json_object_get_string(v);
	return obj;
bad:
	json_object_put(obj);
	return NULL;
}

static int pending_push(struct journal_replay *r, uint64_t seq, struct json_object *begin)
{
	struct journal_pending *p = realloc(r->pending, (r->n_pending + 1) * sizeof(*p));
	struct json_object *v;

	if (!p)
		return -ENOMEM;
	r->pending = p;
	p = &p[r->n_pending++];
	*p = (struct journal_pending){ .seq = seq, .begin = json_object_get(begin) };
	if (json_object_object_get_ex(begin, "incident", &v))
		p->incident_id = json_object_get_uint64(v);
	return 0;
}

static void pending_drop(struct journal_replay *r, uint64_t seq)
{
	for (size_t i = 0; i < r->n_pending; i++) {
		if (r->pending[i].seq != seq)
			continue;
		json_object_put(r->pending[i].begin);
		memmove(&r->pending[i], &r->pending[i + 1],
			(r->n_pending - i - 1) * sizeof(r->pending[0]));
		r->n_pending--;
		return;
	}
}

static int replay(struct journal *j, struct journal_replay *r)
{
	char *buf = NULL, *line, *nl;
	size_t len = 0, lineno = 0;
	int err;

	if ((err = read_file(j->fd, &buf, &len)))
		return err;
	for (line = buf; line < buf + len; line = nl + 1) {
		struct json_object *obj;
		const char *type = NULL;
		uint64_t seq = 0, last;

		nl = memchr(line, '\n', (size_t)(buf + len - line));
		if (!nl) {
			/* A write cut short by a crash: the entry never became durable, so it
			 * never happened; cut it off so the next entry starts a clean line. */
			r->torn_tail = true;
			len = (size_t)(line - buf);
			if (ftruncate(j->fd, (off_t)len))
				err = -errno;
			break;
		}
		lineno++;
		obj = parse_entry(line, (size_t)(nl - line), &seq, &type);
		if (!obj) {
			if (!r->corrupt_lines++)
				r->first_corrupt = lineno;
			continue;
		}
		last = seq;
		if (!strcmp(type, "begin")) {
			err = pending_push(r, seq, obj);
		} else if (!strcmp(type, "end")) {
			pending_drop(r, seq);
		} else if (!strcmp(type, "rotated")) {
			struct json_object *v;

			if (json_object_object_get_ex(obj, "last_seq", &v))
				last = json_object_get_uint64(v);
		}
		if (last > r->last_seq)
			r->last_seq = last;
		json_object_put(obj);
		if (err)
			break;
	}
	free(buf);
	j->size = len;
	j->seq = r->last_seq;
	return err;
}

void journal_replay_clear(struct journal_replay *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_pending; i++)
		json_object_put(r->pending[i].begin);
	free(r->pending);
	*r = (struct journal_replay){ 0 };
}

/* Close what salved left open when it stopped: the action may or may not have taken
 * effect, and the journal says so instead of leaving it hanging. */
static int end_interrupted(struct journal *j, const struct journal_replay *r)
{
	int err = 0;

	for (size_t i = 0; !err && i < r->n_pending; i++) {
		struct json_object *o = json_object_new_object();

		if (!o)
			return -ENOMEM;
		err = report_add(o, "outcome", json_object_new_string("interrupted"));
		err = err ?: journal_end(j, r->pending[i].seq, o);
		json_object_put(o);
	}
	return err;
}

/* What replay found that a person should know, whatever the caller does with it. */
static void log_replay(const struct journal *j, const struct journal_replay *r)
{
	if (r->torn_tail)
		salve_log(LOG_WARNING, "journal %s: its last line was cut short (salved stopped "
			  "while writing it); removed", j->path);
	if (r->corrupt_lines)
		salve_log(LOG_WARNING, "journal %s: %zu line(s) are not journal entries, the "
			  "first at line %zu; skipped and kept as they are", j->path,
			  r->corrupt_lines, r->first_corrupt);
	for (size_t i = 0; i < r->n_pending; i++) {
		struct json_object *b = r->pending[i].begin, *v, *act;
		struct log_fields f = { .incident = r->pending[i].incident_id };

		if (json_object_object_get_ex(b, "rule", &v))
			f.rule = json_object_get_string(v);
		if (json_object_object_get_ex(b, "policy", &v))
			f.policy = json_object_get_string(v);
		if (json_object_object_get_ex(b, "pid", &v))
			f.pid = (uint32_t)json_object_get_int64(v);
		if (json_object_object_get_ex(b, "action", &act) &&
		    json_object_object_get_ex(act, "do", &v))
			f.action = json_object_get_string(v);
		salve_log_ctx(LOG_WARNING, &f,
			      "journal %s: entry %llu (incident %llu) began and never ended: salved "
			      "stopped during that action, which may or may not have taken effect; "
			      "recorded as interrupted", j->path,
			      (unsigned long long)r->pending[i].seq,
			      (unsigned long long)r->pending[i].incident_id);
	}
}

int journal_open(const char *dir, uint64_t max_bytes, struct journal **out,
		 struct journal_replay *replay_out)
{
	struct journal_replay r = { 0 };
	struct journal *j = calloc(1, sizeof(*j));
	int err;

	if (!j)
		return -ENOMEM;
	j->fd = j->dirfd = -1;
	j->max_bytes = max_bytes ? max_bytes : JOURNAL_MAX_BYTES_DEFAULT;
	if (asprintf(&j->path, "%s/%s", dir, JOURNAL_FILE) < 0) {
		j->path = NULL;
		err = -ENOMEM;
		goto err;
	}
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		err = -errno;
		goto err;
	}
	/* One writer: a second salved on the same state directory would interleave
	 * entries and end the first one's running actions as interrupted. */
	if (flock(j->dirfd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto err;
	}
	j->fd = openat(j->dirfd, JOURNAL_FILE, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		err = -errno;
		goto err;
	}
	if ((err = replay(j, &r)))
		goto err;
	log_replay(j, &r);
	if ((err = end_interrupted(j, &r)))
		goto err;
	if (fsync(j->dirfd)) /* the file may be new */
		salve_log(LOG_WARNING, "journal %s: cannot sync its directory: %s", j->path,
			  strerror(errno));
	if (replay_out)
		*replay_out = r;
	else
		journal_replay_clear(&r);
	*out = j;
	return 0;
err:
	journal_replay_clear(&r);
	journal_free(j);
	return err;
}

void journal_free(struct journal *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n_open; i++)
		free(j->open[i].line);
	free(j->open);
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	free(j->path);
	free(j);
}
