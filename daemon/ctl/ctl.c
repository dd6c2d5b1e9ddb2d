#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "base/log.h"

struct ctl {
	struct loop *loop;
	int fd;
	char *path;
	ctl_handler *handler;
	void *ctx;
};

static int socket_address(const char *path, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Read one line (without its newline) into buf; 0, or -errno (-EMSGSIZE: too long,
 * -ENODATA: the peer closed before a newline). */
static int read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n < size - 1) {
		ssize_t got = read(fd, buf + n, size - 1 - n);
		char *nl;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (!got)
			return -ENODATA;
		n += (size_t)got;
		buf[n] = 0;
		if ((nl = memchr(buf, '\n', n))) {
			*nl = 0;
			return 0;
		}
	}
	return -EMSGSIZE;
}

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

static void answer(struct ctl *c, int fd)
{
	struct json_object *req = NULL, *reply = json_object_new_object(), *cmd;
	char *line = malloc(CTL_LINE_MAX);
	int err = line ? read_line(fd, line, CTL_LINE_MAX) : -ENOMEM;

	if (!reply)
		goto out;
	if (err) {
		json_object_object_add(reply, "ok", json_object_new_boolean(0));
		json_object_object_add(reply, "error", json_object_new_string(strerror(-err)));
	} else if (!(req = json_tokener_parse(line)) || !json_object_is_type(req, json_type_object) ||
		   !json_object_object_get_ex(req, "cmd", &cmd) ||
		   !json_object_is_type(cmd, json_type_string)) {
		json_object_object_add(reply, "ok", json_object_new_boolean(0));
		json_object_object_add(reply, "error",
				       json_object_new_string("expected a JSON object with \"cmd\""));
	} else {
		c->handler(c->ctx, json_object_get_string(cmd), req, reply);
	}
	if ((err = send_object(fd, reply)))
		salve_log(LOG_WARNING, "%s: cannot answer a client: %s", c->path, strerror(-err));
out:
	json_object_put(req);
	json_object_put(reply);
	free(line);
}

static int on_connect(int fd, void *ctx)
{
	struct ctl *c = ctx;
	struct timeval limit = { .tv_sec = 1 };
	int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (client < 0)
		return 0; /* the client gave up already */
	setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
	answer(c, client);
	close(client);
	return 0;
}

int ctl_new(struct loop *loop, const char *path, ctl_handler *handler, void *ctx, struct ctl **out)
{
	struct ctl *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	mode_t old;
	int err;

	if (!c)
		return -ENOMEM;
	*c = (struct ctl){ .loop = loop, .fd = -1, .handler = handler, .ctx = ctx };
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
	old = umask(0077); /* root only: the socket can reload policies */
	err = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
	umask(old);
	if (err)
		goto fail;
	if ((err = listen(c->fd, 16) ? -errno : 0) || (err = loop_add(loop, c->fd, on_connect, c))) {
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
	if (c->fd >= 0) {
		loop_remove(c->loop, c->fd);
		close(c->fd);
		unlink(c->path);
	}
	free(c->path);
	free(c);
}

int ctl_request(const char *path, struct json_object *req, struct json_object **out, char *err,
		size_t err_len)
{
	struct sockaddr_un sa;
	char *line = NULL;
	int fd = -1, rc;

	if ((rc = socket_address(path, &sa)))
		goto fail;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = -errno;
		goto fail;
	}
	if (!(line = malloc(CTL_LINE_MAX))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = send_object(fd, req)) || (rc = read_line(fd, line, CTL_LINE_MAX)))
		goto fail;
	if (!(*out = json_tokener_parse(line))) {
		snprintf(err, err_len, "%s: salved answered something that is not JSON", path);
		rc = -EPROTO;
		goto out;
	}
	goto out;
fail:
	snprintf(err, err_len, "%s: %s%s", path, strerror(-rc),
		 rc == -ENOENT || rc == -ECONNREFUSED ? " (is salved running? see --socket)" : "");
out:
	free(line);
	if (fd >= 0)
		close(fd);
	return rc;
}
