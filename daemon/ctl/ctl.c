#define _GNU_SOURCE /* accept4, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "base/log.h"

#define ACCEPTS_PER_WAKEUP 64
#define PEER_GROUPS 64 /* supplementary groups read at once; more are read from the heap */

struct ctl_client {
	struct ctl *ctl;
	int fd;
	struct ucred cred;
	struct loop_timer deadline;
	char *in; /* the request line as it comes, NUL-terminated */
	size_t in_len, in_cap;
	char *out; /* the reply line, newline included, once there is one */
	size_t out_len, out_off;
	struct ctl_client *prev, *next;
	/* A stream (ctl_keep): out is its queue, out_cap bytes allocated. */
	bool stream;
	bool replied;  /* the reply is queued: lines go out as the socket takes them */
	bool ending;   /* close once the queue is sent */
	bool broken;   /* a send failed: closed from the loop */
	unsigned watching; /* LOOP_IN, LOOP_OUT */
	size_t out_cap;
	uint64_t dropped; /* lines dropped since the last "dropped" line */
	ctl_gone_fn *gone;
	void *gone_ctx;
};

struct ctl {
	struct loop *loop;
	int fd;
	char *path;
	gid_t group;
	char group_name[64]; /* for messages: its name, else its number */
	unsigned max_clients;
	uint64_t deadline_ns;
	ctl_handler *handler;
	void *ctx;
	struct ctl_client *clients;
	size_t n_clients, n_streams;
	struct ctl_client *answering; /* whose request the handler answers now */
};

static int socket_address(const char *path, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static struct json_object *refusal(const char *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* {"ok": false, "error": ..., "refused": why} */
static struct json_object *refusal(const char *why, const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char text[512];
	va_list ap;

	if (!o)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(text));
	json_object_object_add(o, "refused", json_object_new_string(why));
	return o;
}

/* ---- one client ---- */

static void client_close(struct ctl_client *cl)
{
	struct ctl *c = cl->ctl;

	loop_timer_disarm(c->loop, &cl->deadline);
	loop_remove(c->loop, cl->fd);
	close(cl->fd);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	c->n_clients--;
	if (cl->stream)
		c->n_streams--;
	if (cl->gone)
		cl->gone(cl->gone_ctx);
	free(cl->in);
	free(cl->out);
	free(cl);
}

/* Send what the socket takes now. 1: all of it went; 0: the rest waits for the socket
 * to take it; -1: the peer is gone. */
static int flush(struct ctl_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -1;
		cl->out_off += (size_t)n;
	}
	cl->out_off = cl->out_len = 0;
	return 1;
}

/* As flush: 1 when done with this client (all sent, or the peer gone); 0: wait. */
static int client_write(struct ctl_client *cl)
{
	return flush(cl) != 0;
}

/* ---- streams ---- */

/* Room for len more bytes at the end of the queue: what was sent is moved out when the
 * end is reached, then the buffer grows. */
static int queue_room(struct ctl_client *cl, size_t len)
{
	size_t cap;
	char *grown;

	if (cl->out_len + len <= cl->out_cap)
		return 0;
	if (cl->out_off) {
		memmove(cl->out, cl->out + cl->out_off, cl->out_len - cl->out_off);
		cl->out_len -= cl->out_off;
		cl->out_off = 0;
	}
	if (cl->out_len + len <= cl->out_cap)
		return 0;
	for (cap = cl->out_cap ? cl->out_cap : 4096; cap < cl->out_len + len; cap *= 2)
		;
	if (!(grown = realloc(cl->out, cap)))
		return -ENOMEM;
	cl->out = grown;
	cl->out_cap = cap;
	return 0;
}

static int queue_line(struct ctl_client *cl, const char *text, size_t len)
{
	if (queue_room(cl, len + 1))
		return -ENOMEM;
	memcpy(cl->out + cl->out_len, text, len);
	cl->out[cl->out_len + len] = '\n';
	cl->out_len += len + 1;
	return 0;
}

/* The line that says how many lines the client missed, where they were. */
static void queue_dropped(struct ctl_client *cl)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "{\"kind\":\"dropped\",\"lines\":%llu}",
			 (unsigned long long)cl->dropped);

	if (!queue_line(cl, line, (size_t)n))
		cl->dropped = 0;
}

static void stream_watch(struct ctl_client *cl, unsigned events)
{
	if (cl->watching != events && !loop_watch(cl->ctl->loop, cl->fd, events))
		cl->watching = events;
}

/* Send what a stream's socket takes. 1: done with this client (the peer is gone, or
 * an ending stream is all sent); 0: go on. */
static int stream_service(struct ctl_client *cl)
{
	struct ctl *c = cl->ctl;

	for (;;) {
		int r = flush(cl);

		if (r < 0)
			return 1;
		if (!r) {
			stream_watch(cl, LOOP_IN | LOOP_OUT);
			/* An ending stream has the deadline from each read to the next. */
			if (cl->ending && loop_timer_arm(c->loop, &cl->deadline, c->deadline_ns))
				return 1;
			return 0;
		}
		if (cl->dropped) { /* caught up: the gap is said */
			queue_dropped(cl);
			if (!cl->dropped)
				continue;
		}
		if (cl->ending)
			return 1;
		loop_timer_disarm(c->loop, &cl->deadline);
		stream_watch(cl, LOOP_IN);
		return 0;
	}
}

/* A stream's client sends nothing more that matters: read and drop it, to see it
 * close. 1: it closed (or failed); 0: it is there. */
static int stream_read(struct ctl_client *cl)
{
	char buf[512];

	for (;;) {
		ssize_t n = read(cl->fd, buf, sizeof(buf));

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : 1;
	}
}

int ctl_keep(struct ctl *c, ctl_gone_fn *gone, void *ctx, struct ctl_client **out)
{
	struct ctl_client *cl = c->answering;

	if (!cl || cl->stream)
		return -EINVAL;
	if (c->n_streams >= CTL_STREAMS_MAX)
		return -EBUSY;
	cl->stream = true;
	cl->gone = gone;
	cl->gone_ctx = ctx;
	c->n_streams++;
	*out = cl;
	return 0;
}

int ctl_stream_write(struct ctl_client *cl, const char *text, size_t len)
{
	size_t queued = cl->out_len - cl->out_off;
	int r;

	if (cl->broken)
		return -EPIPE;
	/* Once dropping, lines are dropped until the client has read half the queue. */
	if ((cl->dropped && queued > CTL_STREAM_QUEUE / 2) || queued + len + 1 > CTL_STREAM_QUEUE) {
		cl->dropped++;
		return -ENOBUFS;
	}
	if (cl->dropped)
		queue_dropped(cl);
	if (queue_line(cl, text, len)) {
		cl->dropped++;
		return -ENOBUFS;
	}
	if (!cl->replied)
		return 0;
	if ((r = flush(cl)) < 0) {
		/* Closed from the loop, where the hang-up is seen: not under the caller. */
		cl->broken = true;
		stream_watch(cl, LOOP_IN | LOOP_OUT);
		return -EPIPE;
	}
	if (!r)
		stream_watch(cl, LOOP_IN | LOOP_OUT);
	return 0;
}

void ctl_stream_end(struct ctl_client *cl)
{
	cl->ending = true;
	if (cl->replied) /* the loop sees it writable, and closes it once all is sent */
		stream_watch(cl, LOOP_IN | LOOP_OUT);
}

size_t ctl_streams(const struct ctl *c)
{
	return c->n_streams;
}

/* Queue reply (and put it) and send what goes now; the client reads no more, and has
 * the deadline again to read what is left. As client_write. */
static int client_reply(struct ctl_client *cl, struct json_object *reply)
{
	const char *text = reply ? json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN) : NULL;
	size_t len = text ? strlen(text) : 0;
	int done;

	if (!text) {
		json_object_put(reply);
		return 1;
	}
	if (len + 1 > CTL_REPLY_MAX) {
		json_object_put(reply);
		return client_reply(cl, refusal("size", "the reply would be longer than %d bytes",
						CTL_REPLY_MAX));
	}
	free(cl->in);
	cl->in = NULL;
	if (cl->stream) { /* the reply, before the lines queued while it was made */
		if (queue_room(cl, len + 1)) {
			json_object_put(reply);
			return 1;
		}
		memmove(cl->out + len + 1, cl->out, cl->out_len);
		memcpy(cl->out, text, len);
		cl->out[len] = '\n';
		cl->out_len += len + 1;
		cl->replied = true;
		json_object_put(reply);
		loop_timer_disarm(cl->ctl->loop, &cl->deadline);
		return stream_service(cl);
	}
	if (!(cl->out = malloc(len + 1))) {
		json_object_put(reply);
		return 1;
	}
	memcpy(cl->out, text, len);
	cl->out[len] = '\n';
	cl->out_len = len + 1;
	json_object_put(reply);
	if ((done = client_write(cl)))
		return 1;
	if (loop_watch(cl->ctl->loop, cl->fd, LOOP_OUT) ||
	    loop_timer_arm(cl->ctl->loop, &cl->deadline, cl->ctl->deadline_ns))
		return 1;
	return 0;
}

/* The request line, whole: answer it. */
static int client_answer(struct ctl_client *cl)
{
	struct ctl *c = cl->ctl;
	struct json_object *req = json_tokener_parse(cl->in), *cmd, *reply;
	int done;

	if (!req || !json_object_is_type(req, json_type_object) ||
	    !json_object_object_get_ex(req, "cmd", &cmd) || !json_object_is_type(cmd, json_type_string)) {
		json_object_put(req);
		return client_reply(cl, refusal("syntax", "expected a JSON object with \"cmd\""));
	}
	if (!(reply = json_object_new_object())) {
		json_object_put(req);
		return 1;
	}
	c->answering = cl;
	c->handler(c->ctx, json_object_get_string(cmd), req, reply);
	c->answering = NULL;
	done = client_reply(cl, reply);
	json_object_put(req);
	return done;
}

/* Read what has come. 1: done with this client; 0: wait for more. */
static int client_read(struct ctl_client *cl)
{
	for (;;) {
		size_t room;
		ssize_t n;
		char *nl;

		if (cl->in_len == CTL_LINE_MAX)
			return client_reply(cl, refusal("size", "the request is longer than %d bytes",
							CTL_LINE_MAX));
		if (cl->in_len + 1 >= cl->in_cap) { /* grown as the line comes: 1 KiB, 2, 4... */
			size_t cap = !cl->in_cap ? 1024 :
				     cl->in_cap * 2 > CTL_LINE_MAX + 1 ? CTL_LINE_MAX + 1 : cl->in_cap * 2;
			char *grown = realloc(cl->in, cap);

			if (!grown)
				return 1;
			cl->in = grown;
			cl->in_cap = cap;
		}
		room = cl->in_cap - 1 - cl->in_len;
		n = read(cl->fd, cl->in + cl->in_len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return 1;
		if (!n) /* a connection that sent nothing (a probe for a live salved) goes quietly */
			return cl->in_len ? client_reply(cl, refusal("incomplete",
					"the request ended without its newline")) : 1;
		nl = memchr(cl->in + cl->in_len, '\n', (size_t)n);
		cl->in_len += (size_t)n;
		cl->in[cl->in_len] = 0;
		if (nl) {
			*nl = 0;
			return client_answer(cl);
		}
	}
}

static int on_client(int fd, void *ctx)
{
	struct ctl_client *cl = ctx;

	(void)fd;
	if (cl->stream && cl->replied) {
		if (cl->broken || stream_read(cl) || stream_service(cl))
			client_close(cl);
		return 0;
	}
	if (cl->out ? client_write(cl) : client_read(cl))
		client_close(cl);
	return 0;
}

static int on_deadline(struct loop_timer *t, void *ctx)
{
	struct ctl_client *cl = ctx;
	struct ctl *c = cl->ctl;

	(void)t;
	if (cl->stream && cl->replied) {
		salve_log(LOG_NOTICE, "control socket %s: a client (pid %d, uid %u) did not read its "
			  "stream within %llu ms: dropped", c->path, cl->cred.pid, cl->cred.uid,
			  (unsigned long long)(c->deadline_ns / 1000000));
		client_close(cl);
		return 0;
	}
	/* A request that came whole while salved was busy with others is answered. */
	if (!cl->out && client_read(cl)) {
		client_close(cl);
		return 0;
	}
	if (cl->out && loop_timer_armed(&cl->deadline))
		return 0;
	salve_log(LOG_NOTICE, "control socket %s: a client (pid %d, uid %u) %s within %llu ms: dropped",
		  c->path, cl->cred.pid, cl->cred.uid,
		  cl->out ? "did not read its reply" : "did not send its request",
		  (unsigned long long)(c->deadline_ns / 1000000));
	if (!cl->out)
		client_reply(cl, refusal("deadline", "the request did not arrive whole within %llu ms",
					 (unsigned long long)(c->deadline_ns / 1000000)));
	client_close(cl);
	return 0;
}

/* Is gid among the peer's supplementary groups? */
static bool peer_in_group(int fd, gid_t gid)
{
	gid_t stack[PEER_GROUPS], *groups = stack;
	socklen_t len = sizeof(stack);
	bool in = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len)) {
		if (errno != ERANGE || !(groups = malloc(len)))
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
			len = 0;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		in |= groups[i] == gid;
	if (groups != stack)
		free(groups);
	return in;
}

static bool peer_allowed(const struct ctl *c, int fd, const struct ucred *cred)
{
	if (cred->uid == 0)
		return true;
	if (c->group == CTL_NO_GROUP)
		return false;
	return cred->gid == c->group || peer_in_group(fd, c->group);
}

/* A new connection: served, or refused with a line saying why. */
static void client_new(struct ctl *c, int fd)
{
	struct ctl_client *cl;
	socklen_t len = sizeof(cl->cred);

	if (c->n_clients >= c->max_clients) {
		struct json_object *busy = refusal("busy", "salved is serving %zu control clients "
						   "already; try again", c->n_clients);
		const char *text = busy ? json_object_to_json_string_ext(busy, JSON_C_TO_STRING_PLAIN) : NULL;

		salve_log(LOG_WARNING, "control socket %s: %zu clients already: one more refused",
			  c->path, c->n_clients);
		/* A new socket's buffer takes a short line whole, or the client goes without. */
		if (text && send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)strlen(text))
			send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		json_object_put(busy);
		close(fd);
		return;
	}
	if (!(cl = calloc(1, sizeof(*cl)))) {
		close(fd);
		return;
	}
	*cl = (struct ctl_client){ .ctl = c, .fd = fd, .deadline = { on_deadline, cl },
				   .watching = LOOP_IN };
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cl->cred, &len))
		cl->cred = (struct ucred){ .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	if (loop_add(c->loop, fd, on_client, cl) ||
	    loop_timer_arm(c->loop, &cl->deadline, c->deadline_ns)) {
		loop_remove(c->loop, fd);
		close(fd);
		free(cl);
		return;
	}
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	c->n_clients++;
	if (!peer_allowed(c, fd, &cl->cred)) {
		salve_log(LOG_NOTICE, "control socket %s: uid %u (pid %d) refused", c->path,
			  cl->cred.uid, cl->cred.pid);
		if (client_reply(cl, c->group == CTL_NO_GROUP ?
			refusal("permission", "permission denied: salved's control socket answers root; "
				"you are uid %u", cl->cred.uid) :
			refusal("permission", "permission denied: salved's control socket answers root "
				"or group %s; you are uid %u", c->group_name, cl->cred.uid)))
			client_close(cl);
	}
}

static int on_connect(int fd, void *ctx)
{
	struct ctl *c = ctx;

	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (client < 0)
			break; /* none left, or one gave up already */
		client_new(c, client);
	}
	return 0;
}

int ctl_group_parse(const char *s, gid_t *out)
{
	struct group *g = getgrnam(s);
	char *end;
	unsigned long v;

	if (g) {
		*out = g->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v >= (gid_t)-1)
		return -ENOENT;
	*out = (gid_t)v;
	return 0;
}

/* Give the socket file to the group, and say so when the members cannot reach it. */
static int share_with_group(struct ctl *c)
{
	char copy[PATH_MAX], *dir;
	struct stat st;

	if (chown(c->path, (uid_t)-1, c->group) || chmod(c->path, 0660))
		return -errno;
	snprintf(copy, sizeof(copy), "%s", c->path);
	dir = dirname(copy);
	if (!stat(dir, &st) && !(st.st_mode & S_IXOTH) &&
	    !(st.st_gid == c->group && (st.st_mode & S_IXGRP)))
		salve_log(LOG_WARNING, "control socket %s: group %s cannot search %s, so its members "
			  "cannot reach the socket (chmod o+x, or chgrp and g+x, the directory)",
			  c->path, c->group_name, dir);
	return 0;
}

int ctl_new(struct loop *loop, const struct ctl_config *cfg, struct ctl **out)
{
	struct ctl *c = calloc(1, sizeof(*c));
	const char *path = cfg->path;
	struct sockaddr_un sa;
	struct group *g;
	mode_t old;
	int err;

	if (!c)
		return -ENOMEM;
	*c = (struct ctl){ .loop = loop, .fd = -1, .group = cfg->group, .handler = cfg->handler,
			   .ctx = cfg->ctx,
			   .max_clients = cfg->max_clients ? cfg->max_clients : CTL_CLIENTS_MAX,
			   .deadline_ns = (cfg->deadline_ms ? cfg->deadline_ms : CTL_DEADLINE_MS) * 1000000ull };
	if (c->group != CTL_NO_GROUP) {
		if ((g = getgrgid(c->group)))
			snprintf(c->group_name, sizeof(c->group_name), "%s", g->gr_name);
		else
			snprintf(c->group_name, sizeof(c->group_name), "%u", c->group);
	}
	if (!(c->path = strdup(path))) {
		err = -ENOMEM;
		goto fail;
	}
	if ((err = socket_address(path, &sa)))
		goto fail;
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		err = -errno;
		goto fail;
	}
	/* A socket file left by a salved that was killed goes; one that answers is
	 * another salved's. */
	if (!connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) || errno == EAGAIN) {
		salve_log(LOG_ERR, "control socket %s: another salved answers there", path);
		err = -EADDRINUSE;
		goto fail_quiet;
	}
	close(c->fd);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		err = -errno;
		goto fail;
	}
	unlink(path);
	old = umask(0177); /* 0600, root only, until the group, if any, is given it */
	err = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (err)
		goto fail;
	if ((c->group != CTL_NO_GROUP && (err = share_with_group(c))) ||
	    (err = listen(c->fd, 128) ? -errno : 0) || (err = loop_add(loop, c->fd, on_connect, c))) {
		unlink(path);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	salve_log(LOG_ERR, "control socket %s: %s", path, strerror(-err));
fail_quiet:
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c);
	return err;
}

void ctl_free(struct ctl *c)
{
	if (!c)
		return;
	while (c->clients)
		client_close(c->clients);
	if (c->fd >= 0) {
		loop_remove(c->loop, c->fd);
		close(c->fd);
		unlink(c->path);
	}
	free(c->path);
	free(c);
}

size_t ctl_clients(const struct ctl *c)
{
	return c->n_clients;
}

/* ---- client side: blocking ---- */

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t put = send(fd, s, len, MSG_NOSIGNAL);

		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0)
			return -errno;
		s += put;
		len -= (size_t)put;
	}
	return 0;
}

static int send_object(int fd, struct json_object *obj)
{
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);

	return write_all(fd, text, strlen(text)) ?: write_all(fd, "\n", 1);
}

/* A refusal in the reply: its errno, else 0. */
static int refused(struct json_object *reply, const char **error)
{
	struct json_object *why, *text;
	const char *w;

	if (!json_object_is_type(reply, json_type_object) ||
	    !json_object_object_get_ex(reply, "refused", &why))
		return 0;
	w = json_object_get_string(why);
	*error = json_object_object_get_ex(reply, "error", &text) ? json_object_get_string(text) :
								     "refused, without a reason";
	return !strcmp(w, "permission") ? -EACCES :
	       !strcmp(w, "busy")	? -EBUSY :
	       !strcmp(w, "size")	? -EMSGSIZE :
	       !strcmp(w, "deadline")	? -ETIMEDOUT :
					  -EPROTO;
}

/* ---- client side: a stream ---- */

struct ctl_lines {
	int fd;
	char *buf;
	size_t len, off, cap; /* buf[off, len) is read and not yet handed out */
	size_t max;	      /* the longest line taken */
};

/* Connect, send req and read salved's answer line into *reply; then *out reads the lines
 * that follow, each at most max bytes. */
static int lines_open(const char *path, struct json_object *req, size_t max,
		      struct json_object **reply, struct ctl_lines **out, char *err, size_t err_len)
{
	struct ctl_lines *l = calloc(1, sizeof(*l));
	struct sockaddr_un sa;
	const char *line, *why;
	int rc;

	*reply = NULL;
	*out = NULL;
	if (!l) {
		snprintf(err, err_len, "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	l->fd = -1;
	l->max = max;
	if ((rc = socket_address(path, &sa)))
		goto fail;
	if ((l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(l->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		goto fail;
	}
	send_object(l->fd, req); /* a refusal may be there to read all the same */
	while ((rc = ctl_lines_next(l, &line)) == -EINTR)
		;
	if (rc == -ENODATA || rc == -ECONNRESET || rc == -EPIPE) {
		snprintf(err, err_len, "%s: salved closed the connection without an answer", path);
		goto out;
	}
	if (rc)
		goto fail;
	if (!(*reply = json_tokener_parse(line))) {
		snprintf(err, err_len, "%s: salved answered something that is not JSON", path);
		rc = -EPROTO;
		goto out;
	}
	if ((rc = refused(*reply, &why))) {
		snprintf(err, err_len, "%s: %s", path, why);
		json_object_put(*reply);
		*reply = NULL;
		goto out;
	}
	*out = l;
	return 0;
fail:
	snprintf(err, err_len, "%s: %s%s", path, strerror(-rc),
		 rc == -ENOENT || rc == -ECONNREFUSED ? " (is salved running? see --socket)" :
		 rc == -EACCES ? " (salved's control socket answers root, or its --socket-group; "
				 "run salvectl as root)" : "");
out:
	ctl_lines_free(l);
	return rc;
}

int ctl_stream_open(const char *path, struct json_object *req, struct json_object **reply,
		    struct ctl_lines **out, char *err, size_t err_len)
{
	return lines_open(path, req, CTL_STREAM_QUEUE, reply, out, err, err_len);
}

/* ---- client side: one request ---- */

int ctl_request(const char *path, struct json_object *req, struct json_object **out, char *err,
		size_t err_len)
{
	struct ctl_lines *l;
	int rc = lines_open(path, req, CTL_REPLY_MAX, out, &l, err, err_len);

	ctl_lines_free(l);
	return rc;
}

int ctl_lines_next(struct ctl_lines *l, const char **line)
{
	for (;;) {
		char *nl = l->len > l->off ? memchr(l->buf + l->off, '\n', l->len - l->off) : NULL;
		ssize_t got;

		if (nl) {
			*nl = 0;
			*line = l->buf + l->off;
			l->off = (size_t)(nl - l->buf) + 1;
			return 0;
		}
		if (l->off) { /* what was handed out goes */
			memmove(l->buf, l->buf + l->off, l->len - l->off);
			l->len -= l->off;
			l->off = 0;
		}
		if (l->len == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 65536;
			char *grown;

			if (l->len > l->max)
				return -EMSGSIZE;
			if (!(grown = realloc(l->buf, cap)))
				return -ENOMEM;
			l->buf = grown;
			l->cap = cap;
		}
		got = read(l->fd, l->buf + l->len, l->cap - l->len);
		if (got < 0)
			return -errno; /* -EINTR included: the caller's signal */
		if (!got)
			return -ENODATA;
		l->len += (size_t)got;
	}
}

void ctl_lines_free(struct ctl_lines *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->buf);
	free(l);
}
