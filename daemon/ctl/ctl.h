/* ctl: the control socket between salvectl and salved.
 *
 * A Unix stream socket, root only (mode 0600). One request per connection: the client
 * writes one JSON object on one line, {"cmd": "reload"}, and reads one line back,
 * {"ok": true, ...} or {"ok": false, "error": "what went wrong"}. salved answers within
 * the event loop; a client that does not send its line within a second is dropped, so
 * none can stall the daemon. */
#ifndef SALVE_CTL_H
#define SALVE_CTL_H

#include <json-c/json.h>

#include "base/loop.h"

#define CTL_SOCKET_DEFAULT "/run/salve/salved.sock"
#define CTL_LINE_MAX 65536

struct ctl;

/* Answer one request: fill *reply (a new object the server sends and frees). The
 * handler adds "ok" and what the command returns. */
typedef void ctl_handler(void *ctx, const char *cmd, struct json_object *req,
			 struct json_object *reply);

/* Listen at path (a stale socket file there is replaced) and serve from loop. Errors
 * are logged naming the path. */
int ctl_new(struct loop *loop, const char *path, ctl_handler *handler, void *ctx, struct ctl **out);
void ctl_free(struct ctl *c);

/* Client side: send req to the daemon at path and return its reply (*out, to be put by
 * the caller). err says what failed, naming the socket. */
int ctl_request(const char *path, struct json_object *req, struct json_object **out, char *err,
		size_t err_len);

#endif
