/* http: the smallest HTTP/1.1 server that a Prometheus scraper needs, served from
 * salved's event loop.
 *
 * One path answers: GET (or HEAD) of cfg->path, with or without a query string, is a
 * 200 whose body the callback makes at that moment. Any other path is a 404, any other
 * method a 405, a request that is not HTTP/1.x a 400, a request whose head passes
 * HTTP_REQUEST_MAX bytes a 431. Every response says "Connection: close" and has its
 * Content-Length; after it salved closes its side and reads what the client may still
 * send until it closes (for at most HTTP_LINGER_MS), so no response is cut by a reset.
 *
 * Nothing blocks the loop: sockets are non-blocking and each connection is read and
 * written as its bytes come. A connection has HTTP_DEADLINE_MS from its accept to send
 * its request head, and as long again to read the response; a slower one is dropped.
 * At most HTTP_CLIENTS_MAX connections are served at once; one more is answered 503
 * and closed. So a client that connects and sends nothing costs one slot for a few
 * seconds, and never stops salved. */
#ifndef SALVE_HTTP_H
#define SALVE_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "base/loop.h"

#define HTTP_CLIENTS_MAX 16
#define HTTP_REQUEST_MAX 8192  /* the request line and headers, bytes */
#define HTTP_DEADLINE_MS 5000  /* for the request from accept; for the response from ready */
#define HTTP_LINGER_MS 1000    /* after the response, for the client to close */

/* The body of a 200: *body (malloc'd; the server frees it) of *len bytes. 0 or -errno
 * (a 500 then). */
typedef int http_body_fn(void *ctx, char **body, size_t *len);

struct http_config {
	const char *listen;       /* ADDRESS:PORT, as http_parse_address takes it */
	const char *path;         /* the one path served, such as "/metrics" */
	const char *content_type; /* of its body */
	http_body_fn *body;
	void *ctx;
	unsigned max_clients;     /* 0: HTTP_CLIENTS_MAX */
	unsigned deadline_ms;     /* 0: HTTP_DEADLINE_MS */
};

struct http;

/* "127.0.0.1:9477", "0.0.0.0:9477", "[::1]:9477", "[::]:9477": a numeric address and a
 * port from 0 (any free one) to 65535. 0, or -EINVAL. */
int http_parse_address(const char *s, struct sockaddr_storage *sa, socklen_t *len);

/* Listen at cfg->listen and serve from loop. 0, or -errno with err saying what went
 * wrong and what to do (the address in use, not this host's, a family the service may
 * not open). */
int http_new(struct loop *loop, const struct http_config *cfg, struct http **out, char *err,
	     size_t err_len);
void http_free(struct http *h);

/* The port listened on (the one the kernel chose, for port 0). */
unsigned http_port(const struct http *h);

/* The connections served now. */
size_t http_clients(const struct http *h);

#endif
