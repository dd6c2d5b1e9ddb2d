/* feed: the lines salved writes, kept and followed. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/feed.h"

static const char *const kinds[] = { "signal", "exit", "oom", "exec", "return", "latency",
				     "stall", "abort", "exception", "syscall", "incident",
				     "action", "verify", "repair", "breaker", "checkpoint",
				     "restore", "stats" };

/* What a request asks of lines; its strings are the request's, which it holds. */
struct filter {
	const char *kinds[FEED_KINDS_MAX];
	size_t n_kinds;
	bool has_pid;
	int64_t pid;
	const char *comm, *probe, *rule;
};

struct follower {
	struct feed *feed;
	struct ctl_client *stream;
	struct json_object *req; /* the filter's strings */
	struct filter filter;
	struct follower *prev, *next;
};

struct kept {
	char *text; /* kept from one line to the next in its slot: grown, never freed */
	size_t len, cap;
};

struct feed {
	struct kept lines[FEED_KEEP_LINES]; /* a ring: n from first */
	size_t first, n, bytes;
	struct follower *followers;
	size_t n_followers;
};

int feed_new(struct feed **out)
{
	return (*out = calloc(1, sizeof(**out))) ? 0 : -ENOMEM;
}

static void follower_free(struct follower *fl)
{
	struct feed *f = fl->feed;

	if (fl->prev)
		fl->prev->next = fl->next;
	else
		f->followers = fl->next;
	if (fl->next)
		fl->next->prev = fl->prev;
	f->n_followers--;
	json_object_put(fl->req);
	free(fl);
}

void feed_free(struct feed *f)
{
	if (!f)
		return;
	while (f->followers)
		follower_free(f->followers);
	for (size_t i = 0; i < FEED_KEEP_LINES; i++)
		free(f->lines[i].text);
	free(f);
}

size_t feed_kept(const struct feed *f)
{
	return f->n;
}

size_t feed_followers(const struct feed *f)
{
	return f->n_followers;
}

static struct kept *kept_at(struct feed *f, size_t i)
{
	return &f->lines[(f->first + i) % FEED_KEEP_LINES];
}

static void drop_oldest(struct feed *f)
{
	struct kept *k = kept_at(f, 0);

	f->bytes -= k->len;
	k->len = 0;
	f->first = (f->first + 1) % FEED_KEEP_LINES;
	f->n--;
}

static void keep(struct feed *f, const char *text, size_t len)
{
	struct kept *k;

	if (len > FEED_KEEP_BYTES)
		return;
	while (f->n && (f->n == FEED_KEEP_LINES || f->bytes + len > FEED_KEEP_BYTES))
		drop_oldest(f);
	k = kept_at(f, f->n);
	if (k->cap < len) {
		char *grown = realloc(k->text, len);

		if (!grown)
			return;
		k->text = grown;
		k->cap = len;
	}
	memcpy(k->text, text, len);
	k->len = len;
	f->bytes += len;
	f->n++;
}

static bool same(const char *have, const char *want)
{
	return have && !strcmp(have, want);
}

static bool matches(const struct filter *flt, const struct line_facts *l)
{
	bool kind = !flt->n_kinds;

	for (size_t i = 0; !kind && i < flt->n_kinds; i++)
		kind = same(l->kind, flt->kinds[i]);
	return kind && (!flt->has_pid || (l->has_pid && l->pid == flt->pid)) &&
	       (!flt->comm || same(l->comm, flt->comm)) &&
	       (!flt->probe || same(l->probe, flt->probe)) && (!flt->rule || same(l->rule, flt->rule));
}

void feed_line(struct feed *f, const struct line_facts *facts, const char *text, size_t len)
{
	keep(f, text, len);
	for (struct follower *fl = f->followers; fl; fl = fl->next)
		if (matches(&fl->filter, facts))
			ctl_stream_write(fl->stream, text, len); /* dropped lines are said there */
}

static bool known_kind(const char *k)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i], k))
			return true;
	return false;
}

static int add_kind(struct filter *flt, struct json_object *k, char *err, size_t err_len)
{
	if (!json_object_is_type(k, json_type_string)) {
		snprintf(err, err_len, "\"kind\" must be a kind's name or a list of them");
		return -EINVAL;
	}
	if (!known_kind(json_object_get_string(k))) {
		snprintf(err, err_len, "no kind of line \"%s\" (kinds: %s)", json_object_get_string(k),
			 FEED_KINDS);
		return -EINVAL;
	}
	if (flt->n_kinds == FEED_KINDS_MAX) {
		snprintf(err, err_len, "at most %d kinds at once", FEED_KINDS_MAX);
		return -EINVAL;
	}
	flt->kinds[flt->n_kinds++] = json_object_get_string(k);
	return 0;
}

static int optional_string(struct json_object *req, const char *key, const char **out, char *err,
			   size_t err_len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(err, err_len, "\"%s\" must be a string", key);
		return -EINVAL;
	}
	*out = json_object_get_string(v);
	return 0;
}

/* The request's filters, follow and last (-1: not given). 0, or -EINVAL and err. */
static int parse_request(struct json_object *req, struct filter *flt, bool *follow, int64_t *last,
			 char *err, size_t err_len)
{
	struct json_object *v;
	int rc = 0;

	*flt = (struct filter){ 0 };
	*follow = json_object_object_get_ex(req, "follow", &v) && json_object_get_boolean(v);
	*last = -1;
	if (json_object_object_get_ex(req, "last", &v)) {
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
			snprintf(err, err_len, "\"last\" must be a number of lines, 0 or more");
			return -EINVAL;
		}
		*last = json_object_get_int64(v);
	}
	if (json_object_object_get_ex(req, "kind", &v)) {
		if (json_object_is_type(v, json_type_array))
			for (size_t i = 0; !rc && i < json_object_array_length(v); i++)
				rc = add_kind(flt, json_object_array_get_idx(v, i), err, err_len);
		else
			rc = add_kind(flt, v, err, err_len);
		if (rc)
			return rc;
	}
	if (json_object_object_get_ex(req, "pid", &v)) {
		if (!json_object_is_type(v, json_type_int)) {
			snprintf(err, err_len, "\"pid\" must be a number");
			return -EINVAL;
		}
		flt->has_pid = true;
		flt->pid = json_object_get_int64(v);
	}
	return optional_string(req, "comm", &flt->comm, err, err_len) ?:
	       optional_string(req, "probe", &flt->probe, err, err_len) ?:
	       optional_string(req, "rule", &flt->rule, err, err_len);
}

static void follower_gone(void *ctx)
{
	follower_free(ctx);
}

/* The last `last` kept lines that match, oldest first, to s. Their count. */
static size_t send_kept(struct feed *f, const struct filter *flt, int64_t last,
			struct ctl_client *s)
{
	size_t *picked = malloc(f->n * sizeof(*picked) + 1), n = 0;

	if (!picked)
		return 0;
	for (size_t i = f->n; i-- > 0 && (int64_t)n < last;) {
		struct kept *k = kept_at(f, i);
		struct json_tokener *tok = json_tokener_new();
		struct json_object *line = tok ? json_tokener_parse_ex(tok, k->text, (int)k->len) : NULL;
		struct line_facts facts;

		if (line)
			report_facts_of(line, &facts);
		if (line && matches(flt, &facts))
			picked[n++] = i;
		json_object_put(line);
		json_tokener_free(tok);
	}
	for (size_t j = n; j-- > 0;) {
		struct kept *k = kept_at(f, picked[j]);

		ctl_stream_write(s, k->text, k->len);
	}
	free(picked);
	return n;
}

void feed_events(struct feed *f, struct ctl *c, struct json_object *req, struct json_object *reply)
{
	struct follower *fl = calloc(1, sizeof(*fl));
	struct ctl_client *s;
	char err[512];
	bool follow;
	int64_t last;
	int rc;

	if (!fl) {
		snprintf(err, sizeof(err), "%s", strerror(ENOMEM));
		goto fail;
	}
	if (parse_request(req, &fl->filter, &follow, &last, err, sizeof(err)))
		goto fail;
	if ((rc = ctl_keep(c, follow ? follower_gone : NULL, fl, &s))) {
		if (rc == -EBUSY)
			snprintf(err, sizeof(err), "salved streams to %d clients already; try again "
				 "when one has ended", CTL_STREAMS_MAX);
		else
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		goto fail;
	}
	json_object_object_add(reply, "ok", json_object_new_boolean(1));
	json_object_object_add(reply, "follow", json_object_new_boolean(follow));
	json_object_object_add(reply, "lines", json_object_new_uint64(
		send_kept(f, &fl->filter, last >= 0 ? last : follow ? 0 : (int64_t)f->n, s)));
	if (!follow) {
		ctl_stream_end(s);
		free(fl);
		return;
	}
	fl->feed = f;
	fl->stream = s;
	fl->req = json_object_get(req);
	fl->next = f->followers;
	if (f->followers)
		f->followers->prev = fl;
	f->followers = fl;
	f->n_followers++;
	return;
fail:
	free(fl);
	json_object_object_add(reply, "ok", json_object_new_boolean(0));
	json_object_object_add(reply, "error", json_object_new_string(err));
}
