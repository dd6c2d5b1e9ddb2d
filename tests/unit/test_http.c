/* http: the metrics listener, served from a loop this test turns: one path, the
 * statuses a scraper may meet, and clients that are slow or too many never holding up
 * another. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/loop.h"
#include "ctl/http.h"

#define MS 1000000ull
#define DEADLINE_MS 300

struct fixture {
	struct loop *loop;
	struct http *http;
	unsigned calls;
	int fail; /* the body callback's error, when not 0 */
};

static int body(void *ctx, char **out, size_t *len)
{
	struct fixture *f = ctx;

	f->calls++;
	if (f->fail)
		return f->fail;
	*out = strdup("salve_up 1\n");
	*len = strlen(*out);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	assert_int_equal(loop_new(&f->loop), 0);
	assert_int_equal(http_new(f->loop, &(struct http_config){ .listen = "127.0.0.1:0",
								  .path = "/metrics",
								  .content_type = "text/plain; version=0.0.4",
								  .body = body, .ctx = f, .max_clients = 4,
								  .deadline_ms = DEADLINE_MS },
				  &f->http, err, sizeof(err)),
			 0);
	assert_true(http_port(f->http) > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	http_free(f->http);
	loop_free(f->loop);
	free(f);
	return 0;
}

static int client(struct fixture *f)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(http_port(f->http)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Turn the loop until salved has answered fd and closed its side: what it sent. */
static char *response_of(struct fixture *f, int fd)
{
	static char buf[65536];
	size_t len = 0;
	uint64_t until = loop_now_ns(CLOCK_MONOTONIC) + 5000 * MS;

	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n == 0)
			break;
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		assert_true(errno == EAGAIN);
		assert_true(loop_now_ns(CLOCK_MONOTONIC) < until);
		assert_true(loop_run_once(f->loop, 20) >= 0);
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

static char *ask(struct fixture *f, const char *request)
{
	int fd = client(f);

	assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
	return response_of(f, fd);
}

static void test_get_metrics(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(ask(f, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"),
			    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			    "Content-Length: 11\r\nConnection: close\r\n\r\nsalve_up 1\n");
	/* A query string is the same page; HEAD is its head alone. */
	assert_non_null(strstr(ask(f, "GET /metrics?x=1 HTTP/1.0\n\n"), "\r\n\r\nsalve_up 1\n"));
	assert_string_equal(ask(f, "HEAD /metrics HTTP/1.1\r\n\r\n"),
			    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			    "Content-Length: 11\r\nConnection: close\r\n\r\n");
	assert_int_equal(f->calls, 3);
}

static void test_statuses(void **state)
{
	struct fixture *f = *state;
	char big[HTTP_REQUEST_MAX + 100];

	assert_true(!strncmp(ask(f, "GET /other HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found\r\n", 24));
	assert_true(!strncmp(ask(f, "GET /metricsx HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 ", 13));
	assert_non_null(strstr(ask(f, "POST /metrics HTTP/1.1\r\n\r\n"), "Allow: GET, HEAD\r\n"));
	assert_true(!strncmp(ask(f, "GET /metrics\r\n\r\n"), "HTTP/1.1 400 ", 13));
	assert_true(!strncmp(ask(f, "GET /metrics SPDY/3\r\n\r\n"), "HTTP/1.1 400 ", 13));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	assert_true(!strncmp(ask(f, big), "HTTP/1.1 431 ", 13));
	f->fail = -ENOMEM;
	assert_true(!strncmp(ask(f, "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 500 ", 13));
	assert_int_equal(f->calls, 1); /* only the page asked for is made */
}

/* A client that sends nothing keeps a slot until its deadline, then is dropped; others
 * are answered meanwhile; past the cap, one more is told 503 at once. */
static void test_slow_and_too_many(void **state)
{
	struct fixture *f = *state;
	uint64_t start = loop_now_ns(CLOCK_MONOTONIC), took;
	int silent[3];
	char *r;

	for (int i = 0; i < 3; i++)
		silent[i] = client(f);
	assert_true(!strncmp(ask(f, "GET /metrics HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 ", 13));
	assert_true(loop_now_ns(CLOCK_MONOTONIC) - start < DEADLINE_MS * MS);
	{
		int fourth = client(f), fifth = client(f);

		r = response_of(f, fifth); /* the cap is 4: the 3 silent ones and this */
		assert_true(!strncmp(r, "HTTP/1.1 503 ", 13));
		close(fourth);
	}
	r = response_of(f, silent[0]); /* dropped without a word at its deadline */
	took = loop_now_ns(CLOCK_MONOTONIC) - start;
	assert_string_equal(r, "");
	assert_true(took >= DEADLINE_MS * MS);
	assert_true(took < 3 * DEADLINE_MS * MS);
	close(silent[1]);
	close(silent[2]);
	for (int i = 0; i < 50 && http_clients(f->http); i++)
		loop_run_once(f->loop, 20);
	assert_int_equal(http_clients(f->http), 0);
}

static void test_addresses(void **state)
{
	struct sockaddr_storage sa;
	socklen_t len;
	struct loop *loop;
	struct http *h;
	char err[256];

	(void)state;
	assert_int_equal(http_parse_address("127.0.0.1:9477", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9477);
	assert_int_equal(http_parse_address("[::1]:9477", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET6);
	assert_int_equal(http_parse_address("[::]:1", &sa, &len), 0);
	assert_int_equal(http_parse_address("0.0.0.0:0", &sa, &len), 0);
	const char *bad[] = { "9477", ":9477", "localhost:9477", "::1:9477", "[::1]9477",
			      "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "[127.0.0.1]:80",
			      "127.0.0.1:80x", "[]:80" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(http_parse_address(bad[i], &sa, &len), -EINVAL);

	/* Errors say what to do. */
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(http_new(loop, &(struct http_config){ .listen = "192.0.2.1:9477",
							       .path = "/metrics", .content_type = "t",
							       .body = body },
				  &h, err, sizeof(err)),
			 -EADDRNOTAVAIL);
	assert_non_null(strstr(err, "no interface of this host has that address"));
	assert_int_equal(http_new(loop, &(struct http_config){ .listen = "127.0.0.1:0",
							       .path = "/metrics", .content_type = "t",
							       .body = body },
				  &h, err, sizeof(err)),
			 0);
	{
		char taken[64];
		struct http *h2;

		snprintf(taken, sizeof(taken), "127.0.0.1:%u", http_port(h));
		assert_int_equal(http_new(loop, &(struct http_config){ .listen = taken, .path = "/metrics",
								       .content_type = "t", .body = body },
					  &h2, err, sizeof(err)),
				 -EADDRINUSE);
		assert_non_null(strstr(err, "in use"));
	}
	http_free(h);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_and_too_many, setup, teardown),
		cmocka_unit_test(test_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
