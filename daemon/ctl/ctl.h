/* ctl: the control socket between salvectl and salved.
 *
 * A Unix stream socket, mode 0600 (root only), or 0660 and chgrp'd to a group given
 * to salved (--socket-group): the file's permissions are the first wall. The second is
 * the peer's credentials (SO_PEERCRED), checked when a client connects: root, or a
 * member of that group (its primary or a supplementary group), is answered; anyone
 * else gets one refusal line and is closed.
 *
 * One request per connection: the client writes one JSON object on one line,
 * {"cmd": "reload"}, at most CTL_LINE_MAX bytes with its newline, and reads one line
 * back, {"ok": true, ...} or {"ok": false, "error": "what went wrong"}, at most
 * CTL_REPLY_MAX bytes (a metrics page of thousands of sites is megabytes); then salved
 * closes the connection. Bytes after the newline are ignored.
 *
 * When salved did not hand the request to a command, its answer says why in
 * "refused" beside "ok": false and "error" (which says it in words):
 *   "permission"  the peer is neither root nor in the group
 *   "busy"        CTL_CLIENTS_MAX clients are being served already
 *   "size"        the line is longer than CTL_LINE_MAX
 *   "deadline"    the line did not arrive whole within CTL_DEADLINE_MS of connecting
 *   "incomplete"  the client stopped writing before the newline
 *   "syntax"      the line is not a JSON object with a string "cmd"
 *
 * salved serves every client from its event loop without blocking: each connection
 * is read and written as its bytes come. The request has CTL_DEADLINE_MS from the
 * connection's accept to arrive whole (a line that did, while salved was busy with
 * others, is answered), and the reply as long again from when it is ready to be read;
 * a client that is slower is dropped. So no client, however slow or however many,
 * holds up the ring buffer or another client.
 *
 * Streams. A command may keep its connection open after the reply (ctl_keep, from its
 * handler: "events" does): the reply line comes first, then one line after another as
 * salved queues them (ctl_stream_write), until the client closes the connection, or
 * salved ends the stream (ctl_stream_end: the connection is closed once the lines
 * queued are sent) or stops. Each line is a JSON object on one line; a line may be
 * longer than CTL_LINE_MAX, up to CTL_STREAM_QUEUE bytes. What the client sends after
 * its request is read and ignored; its closing the connection ends the stream.
 *
 * A stream never holds salved up: each has a queue of at most CTL_STREAM_QUEUE bytes
 * that salved sends from its loop as the client reads. A line that finds the queue full
 * is dropped, and so is every line after it until the client has read the queue down
 * to half; then, before the next line, the client gets one line saying how many it
 * missed:
 *   {"kind":"dropped","lines":N}
 * and so it learns of every gap where the gap is. A stream salved ends (all its lines
 * queued at once) has CTL_DEADLINE_MS between reads to take them, else it is dropped.
 * Streams are clients: they count against CTL_CLIENTS_MAX, and at most
 * CTL_STREAMS_MAX are open at once (ctl_keep refuses more with -EBUSY), so requests
 * always find room and the queues take CTL_STREAMS_MAX * CTL_STREAM_QUEUE bytes at
 * most. */
#ifndef SALVE_CTL_H
#define SALVE_CTL_H

#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "base/loop.h"

#define CTL_SOCKET_DEFAULT "/run/salve/salved.sock"
#define CTL_LINE_MAX 65536	/* a request line, its newline included */
#define CTL_REPLY_MAX (32 << 20) /* a reply line, its newline included */
#define CTL_CLIENTS_MAX 256	/* connections served at once */
#define CTL_DEADLINE_MS 2000	/* to send the request from accept; to read the reply */
#define CTL_NO_GROUP ((gid_t)-1) /* root only */
#define CTL_STREAMS_MAX 16	/* streams open at once, among the clients */
#define CTL_STREAM_QUEUE (1u << 20) /* bytes queued to one stream at most */

struct ctl;
struct ctl_client;

/* Answer one request: fill *reply (a new object the server sends and frees). The
 * handler adds "ok" and what the command returns. */
typedef void ctl_handler(void *ctx, const char *cmd, struct json_object *req,
			 struct json_object *reply);

struct ctl_config {
	const char *path;
	gid_t group;		/* CTL_NO_GROUP, or the group answered besides root */
	unsigned max_clients;	/* 0: CTL_CLIENTS_MAX */
	unsigned deadline_ms;	/* 0: CTL_DEADLINE_MS */
	ctl_handler *handler;
	void *ctx;
};

/* Listen at cfg->path (a stale socket file there is replaced) and serve from loop.
 * Errors are logged naming the path. */
int ctl_new(struct loop *loop, const struct ctl_config *cfg, struct ctl **out);
void ctl_free(struct ctl *c);

/* The clients connected now. */
size_t ctl_clients(const struct ctl *c);

/* Called when a stream is closed (its client went, it was dropped, salved ends it or
 * stops); the stream is gone after the call. */
typedef void ctl_gone_fn(void *ctx);

/* From a handler only: keep the connection of the request being answered open as a
 * stream once the reply is sent. Lines queued before the handler returns come after the
 * reply. 0 with *out the stream; -EBUSY when CTL_STREAMS_MAX are open; -EINVAL outside
 * a handler. */
int ctl_keep(struct ctl *c, ctl_gone_fn *gone, void *ctx, struct ctl_client **out);

/* Queue text (len bytes, no newline: one is added) to stream s, and send what the
 * socket takes now. 0; -ENOBUFS when the line was dropped (the queue is full, see the
 * header); -EPIPE when the client is gone (the stream is closed from the loop soon). */
int ctl_stream_write(struct ctl_client *s, const char *text, size_t len);

/* Close stream s once what is queued is sent; gone is called then. */
void ctl_stream_end(struct ctl_client *s);

/* Streams open now. */
size_t ctl_streams(const struct ctl *c);

/* A group by name or number: 0, or -ENOENT when there is no such group. */
int ctl_group_parse(const char *s, gid_t *out);

/* Client side: send req to the daemon at path and return its reply (*out, to be put by
 * the caller). A refusal (see above) is an error: -EACCES for "permission", -EBUSY,
 * -EMSGSIZE, -ETIMEDOUT, else -EPROTO. err says what failed, naming the socket. */
int ctl_request(const char *path, struct json_object *req, struct json_object **out, char *err,
		size_t err_len);

/* Client side of a stream: send req to the daemon at path and read its reply (*reply, to
 * be put; errors as ctl_request's); then *out reads the lines that follow. */
struct ctl_lines;
int ctl_stream_open(const char *path, struct json_object *req, struct json_object **reply,
		    struct ctl_lines **out, char *err, size_t err_len);

/* The next line of the stream, without its newline, in *line (valid until the next
 * call). 0; -ENODATA when salved closed the stream; -EINTR when a signal came while it
 * waited (call again to go on); -EMSGSIZE for a line longer than CTL_STREAM_QUEUE; or
 * -errno. */
int ctl_lines_next(struct ctl_lines *l, const char **line);
void ctl_lines_free(struct ctl_lines *l);

#endif
