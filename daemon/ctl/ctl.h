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
 * holds up the ring buffer or another client. */
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

struct ctl;

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

/* A group by name or number: 0, or -ENOENT when there is no such group. */
int ctl_group_parse(const char *s, gid_t *out);

/* Client side: send req to the daemon at path and return its reply (*out, to be put by
 * the caller). A refusal (see above) is an error: -EACCES for "permission", -EBUSY,
 * -EMSGSIZE, -ETIMEDOUT, else -EPROTO. err says what failed, naming the socket. */
int ctl_request(const char *path, struct json_object *req, struct json_object **out, char *err,
		size_t err_len);

#endif
