/* http: one path over HTTP/1.1, non-blocking, from the event loop. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "ctl/http.h"

#define ACCEPTS_PER_WAKEUP 64

enum phase { READING, WRITING, LINGERING };

struct http_client {
	struct http *http;
	int fd;
	enum phase phase;
	struct loop_timer deadline;
	char in[HTTP_REQUEST_MAX + 1];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct http_client *prev, *next;
};

struct http {
	struct loop *loop;
	int fd;
	unsigned port;
	char *listen, *path, *content_type;
	http_body_fn *body;
	void *ctx;
	unsigned max_clients;
	uint64_t deadline_ns;
	struct http_client *clients;
	size_t n_clients;
};

int http_parse_address(const char *s, struct sockaddr_storage *sa, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':'), *port;
	unsigned long p;
	char *end;
	size_t n;

	if (!colon || colon == s)
		return -EINVAL;
	port = colon + 1;
	n = (size_t)(colon - s);
	if (s[0] == '[') { /* [IPv6]:PORT */
		if (n < 3 || s[n - 1] != ']')
			return -EINVAL;
		s++;
		n -= 2;
	}
	if (n >= sizeof(host) || !*port || *port == '+' || *port == '-')
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = 0;
	errno = 0;
	p = strtoul(port, &end, 10);
	if (errno || *end || p > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	if (colon[-1] == ']' || strchr(host, ':')) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;

		if (colon[-1] != ']' || inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)sa;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		*len = sizeof(*a4);
	}
	return 0;
}

/* ---- one client ---- */

static void client_close(struct http_client *cl)
{
	struct http *h = cl->http;

	loop_timer_disarm(h->loop, &cl->deadline);
	loop_remove(h->loop, cl->fd);
	close(cl->fd);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		h->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	h->n_clients--;
	free(cl->out);
	free(cl);
}

/* The response is out: close our side, and read until the client closes its own. */
static int client_linger(struct http_client *cl)
{
	cl->phase = LINGERING;
	shutdown(cl->fd, SHUT_WR);
	if (loop_watch(cl->http->loop, cl->fd, LOOP_IN) ||
	    loop_timer_arm(cl->http->loop, &cl->deadline, HTTP_LINGER_MS * 1000000ull))
		return 1;
	return 0;
}

/* Send what the socket takes now. 1: done with this client; 0: wait. */
static int client_write(struct http_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return 1;
		cl->out_off += (size_t)n;
	}
	return client_linger(cl);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* The whole response, head and body (malloc'd, or NULL). */
static char *response(int status, const char *type, const char *extra, const char *body,
		      size_t body_len, bool head_only, size_t *len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n",
			 status, reason(status), type, body_len, extra ? extra : "");
	size_t total;
	char *out;

	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	total = (size_t)n + (head_only ? 0 : body_len);
	if (!(out = malloc(total)))
		return NULL;
	memcpy(out, head, (size_t)n);
	if (!head_only)
		memcpy(out + n, body, body_len);
	*len = total;
	return out;
}

/* Answer with status and a short text body (or the page's body for a 200). */
static int client_respond(struct http_client *cl, int status, const char *text, bool head_only)
{
	struct http *h = cl->http;
	char *body = NULL;
	size_t body_len = 0;
	const char *type = "text/plain; charset=utf-8", *extra = NULL;
	int err;

	if (status == 200) {
		if ((err = h->body(h->ctx, &body, &body_len))) {
			salve_log(LOG_ERR, "metrics listener %s: the page cannot be made: %s",
				  h->listen, strerror(-err));
			return client_respond(cl, 500, "salved cannot make the page now; see its log\n",
					      head_only);
		}
		type = h->content_type;
	} else if (status == 405) {
		extra = "Allow: GET, HEAD\r\n";
	}
	cl->out = response(status, type, extra, body ? body : text, body ? body_len : strlen(text),
			   head_only, &cl->out_len);
	free(body);
	if (!cl->out)
		return 1;
	cl->phase = WRITING;
	cl->out_off = 0;
	if (client_write(cl))
		return 1;
	if (cl->phase == WRITING &&
	    (loop_watch(h->loop, cl->fd, LOOP_OUT) ||
	     loop_timer_arm(h->loop, &cl->deadline, h->deadline_ns)))
		return 1;
	return 0;
}

/* The request head is whole in cl->in: answer it. */
static int client_answer(struct http_client *cl)
{
	struct http *h = cl->http;
	char *line = cl->in, *sp1, *sp2, *eol = cl->in + strcspn(cl->in, "\r\n");
	size_t path_len;
	bool get, head;

	*eol = 0;
	if (!(sp1 = strchr(line, ' ')) || !(sp2 = strchr(sp1 + 1, ' ')) || strchr(sp2 + 1, ' ') ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) || !sp2[8] || sp2[9])
		return client_respond(cl, 400, "expected an HTTP/1.x request line\n", false);
	*sp1 = *sp2 = 0;
	get = !strcmp(line, "GET");
	head = !strcmp(line, "HEAD");
	if (!get && !head)
		return client_respond(cl, 405, "salved answers GET and HEAD only\n", false);
	path_len = strcspn(sp1 + 1, "?");
	if (path_len != strlen(h->path) || strncmp(sp1 + 1, h->path, path_len)) {
		char text[256];

		snprintf(text, sizeof(text), "not found: salved serves %s only\n", h->path);
		return client_respond(cl, 404, text, head);
	}
	return client_respond(cl, 200, NULL, head);
}

/* Read what came. 1: done with this client; 0: wait for more. */
static int client_read(struct http_client *cl)
{
	for (;;) {
		ssize_t n;

		if (cl->in_len == HTTP_REQUEST_MAX)
			return client_respond(cl, 431, "the request's head is too long\n", false);
		n = read(cl->fd, cl->in + cl->in_len, HTTP_REQUEST_MAX - cl->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1; /* gone before its request was whole */
		cl->in_len += (size_t)n;
		cl->in[cl->in_len] = 0;
		if (strstr(cl->in, "\r\n\r\n") || strstr(cl->in, "\n\n"))
			return client_answer(cl);
	}
}

/* After the response: what comes is dropped, until the client closes. 1: it did. */
static int client_drain(struct http_client *cl)
{
	char buf[1024];

	for (;;) {
		ssize_t n = read(cl->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return 1;
	}
}

static int on_client(int fd, void *ctx)
{
	struct http_client *cl = ctx;
	int done;

	(void)fd;
	done = cl->phase == READING ? client_read(cl) :
	       cl->phase == WRITING ? client_write(cl) : client_drain(cl);
	if (done)
		client_close(cl);
	return 0;
}

static int on_deadline(struct loop_timer *t, void *ctx)
{
	struct http_client *cl = ctx;

	(void)t;
	if (cl->phase != LINGERING)
		salve_log(LOG_DEBUG, "metrics listener %s: a client %s within %llu ms: dropped",
			  cl->http->listen, cl->phase == READING ? "did not send its request"
								 : "did not read its response",
			  (unsigned long long)(cl->http->deadline_ns / 1000000));
	client_close(cl);
	return 0;
}

static void client_new(struct http *h, int fd)
{
	struct http_client *cl;

	if (h->n_clients >= h->max_clients) {
		static const char text[] = "salved is serving other clients; try again\n";
		size_t len;
		char *busy = response(503, "text/plain; charset=utf-8", NULL, text, sizeof(text) - 1,
				      false, &len);

		if (busy)
			send(fd, busy, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		free(busy);
		close(fd);
		return;
	}
	if (!(cl = calloc(1, sizeof(*cl)))) {
		close(fd);
		return;
	}
	cl->http = h;
	cl->fd = fd;
	cl->deadline = (struct loop_timer){ .handler = on_deadline, .ctx = cl };
	if (loop_add(h->loop, fd, on_client, cl) ||
	    loop_timer_arm(h->loop, &cl->deadline, h->deadline_ns)) {
		loop_remove(h->loop, fd);
		close(fd);
		free(cl);
		return;
	}
	cl->next = h->clients;
	if (h->clients)
		h->clients->prev = cl;
	h->clients = cl;
	h->n_clients++;
}

static int on_connect(int fd, void *ctx)
{
	struct http *h = ctx;

	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (client < 0)
			break;
		client_new(h, client);
	}
	return 0;
}

/* What to do about err, listening at sa. */
static void explain(int err, const struct sockaddr_storage *sa, char *out, size_t len)
{
	const char *family = sa->ss_family == AF_INET6 ? "AF_INET6" : "AF_INET";

	switch (err) {
	case -EADDRINUSE:
		snprintf(out, len, "the address is in use (another salved or exporter listens "
			 "there): choose another port");
		break;
	case -EADDRNOTAVAIL:
		snprintf(out, len, "no interface of this host has that address: use one it has, "
			 "such as 127.0.0.1 or [::1]");
		break;
	case -EAFNOSUPPORT:
	case -EPERM:
		snprintf(out, len, "salved may not open an %s socket (%s): under systemd, allow "
			 "it in the unit's RestrictAddressFamilies=", family, strerror(-err));
		break;
	case -EACCES:
		snprintf(out, len, "%s (a port below 1024 needs CAP_NET_BIND_SERVICE)",
			 strerror(-err));
		break;
	default:
		snprintf(out, len, "%s", strerror(-err));
	}
}

int http_new(struct loop *loop, const struct http_config *cfg, struct http **out, char *err,
	     size_t err_len)
{
	struct sockaddr_storage sa;
	socklen_t sa_len;
	struct http *h;
	int one = 1, rc;

	if (http_parse_address(cfg->listen, &sa, &sa_len)) {
		snprintf(err, err_len, "expected ADDRESS:PORT with a numeric address, such as "
			 "127.0.0.1:9477 or [::1]:9477");
		return -EINVAL;
	}
	if (!(h = calloc(1, sizeof(*h))))
		return -ENOMEM;
	*h = (struct http){ .loop = loop, .fd = -1, .body = cfg->body, .ctx = cfg->ctx,
			    .max_clients = cfg->max_clients ? cfg->max_clients : HTTP_CLIENTS_MAX,
			    .deadline_ns = (cfg->deadline_ms ? cfg->deadline_ms : HTTP_DEADLINE_MS) *
					   1000000ull };
	if (!(h->listen = strdup(cfg->listen)) || !(h->path = strdup(cfg->path)) ||
	    !(h->content_type = strdup(cfg->content_type))) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((h->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(h->fd, (struct sockaddr *)&sa, sa_len) || listen(h->fd, 64) ||
	    getsockname(h->fd, (struct sockaddr *)&sa, &sa_len)) {
		rc = -errno;
		goto fail;
	}
	h->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
						 : ((struct sockaddr_in *)&sa)->sin_port);
	if ((rc = loop_add(loop, h->fd, on_connect, h)))
		goto fail;
	*out = h;
	return 0;
fail:
	explain(rc, &sa, err, err_len);
	if (h->fd >= 0)
		close(h->fd);
	free(h->listen);
	free(h->path);
	free(h->content_type);
	free(h);
	return rc;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	while (h->clients)
		client_close(h->clients);
	if (h->fd >= 0) {
		loop_remove(h->loop, h->fd);
		close(h->fd);
	}
	free(h->listen);
	free(h->path);
	free(h->content_type);
	free(h);
}

unsigned http_port(const struct http *h)
{
	return h->port;
}

size_t http_clients(const struct http *h)
{
	return h->n_clients;
}
