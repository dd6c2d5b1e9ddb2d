/* endpoint: network endpoints as policies write them (endpoint.h). */
#include "policy/endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define TEXT_MAX 128 /* longer than any endpoint: "[" 39 "/128]:65535" */

#define USAGE "an address with an optional /prefix and :port, such as 10.0.0.1:8080, " \
	      "10.0.0.0/8:443, [::1]:8080 or fd00::/8"

static int fail(char *err, size_t err_len, const char *s, const char *why)
{
	snprintf(err, err_len, "endpoint \"%s\": %s", s, why);
	return -EINVAL;
}

/* A decimal number of at most max_digits digits, nothing else; -1 when it is not. */
static long decimal(const char *p, size_t len, size_t max_digits)
{
	long v = 0;

	if (!len || len > max_digits)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* The address and /prefix in host (len bytes, no port, no brackets). */
static int parse_host(const char *s, const char *host, size_t len, bool bracketed,
		      struct endpoint *out, char *err, size_t err_len)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const char *slash = memchr(host, '/', len);
	size_t addr_len = slash ? (size_t)(slash - host) : len;
	char addr[TEXT_MAX], why[512];
	unsigned full;

	if (!addr_len)
		return fail(err, err_len, s, "no address: expected " USAGE);
	memcpy(addr, host, addr_len);
	addr[addr_len] = '\0';
	out->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (bracketed && out->family == AF_INET)
		return fail(err, err_len, s, "brackets are for IPv6 addresses: write an IPv4 one "
			    "as 10.0.0.1:8080");
	if (inet_pton(out->family, addr, out->addr) != 1) {
		snprintf(why, sizeof(why), "\"%s\" is not an %s address (names are not resolved): "
			 "expected " USAGE, addr, out->family == AF_INET ? "IPv4" : "IPv6");
		return fail(err, err_len, s, why);
	}
	full = out->family == AF_INET ? 32 : 128;
	out->prefix = full;
	if (slash) {
		long n = decimal(slash + 1, len - addr_len - 1, 3);

		if (n < 0 || (unsigned long)n > full) {
			snprintf(why, sizeof(why), "the prefix after '/' is a number of bits, 0 to "
				 "%u for an %s address", full, full == 32 ? "IPv4" : "IPv6");
			return fail(err, err_len, s, why);
		}
		out->prefix = (unsigned)n;
	}
	for (unsigned bit = out->prefix; bit < full; bit++) {
		if (out->addr[bit / 8] & (0x80 >> (bit % 8))) {
			snprintf(why, sizeof(why), "%s has bits set past its /%u prefix: write the "
				 "network's first address", addr, out->prefix);
			return fail(err, err_len, s, why);
		}
	}
	if (out->family == AF_INET6 && out->prefix >= 96 && !memcmp(out->addr, mapped, 12)) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = AF_INET;
		out->prefix -= 96;
	}
	return 0;
}

int endpoint_parse(const char *s, struct endpoint *out, char *err, size_t err_len)
{
	size_t len = strlen(s);
	const char *host = s, *port = NULL;
	size_t host_len = len;
	bool bracketed = false;
	int r;

	*out = (struct endpoint){ 0 };
	if (!len)
		return fail(err, err_len, s, "empty: expected " USAGE);
	if (len >= TEXT_MAX)
		return fail(err, err_len, s, "too long to be an address: expected " USAGE);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return fail(err, err_len, s, "no ']' after the IPv6 address: expected such as "
				    "[::1]:8080");
		host = s + 1;
		host_len = (size_t)(close - host);
		bracketed = true;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return fail(err, err_len, s, "only \":port\" may follow ']': expected such as "
				    "[::1]:8080");
	} else {
		const char *colon = strchr(s, ':');

		/* One colon separates an IPv4 address from its port; an IPv6 address has
		 * more, and no port unless in brackets. */
		if (colon && !strchr(colon + 1, ':')) {
			host_len = (size_t)(colon - s);
			port = colon + 1;
		}
	}
	if ((r = parse_host(s, host, host_len, bracketed, out, err, err_len)))
		return r;
	if (port) {
		long n = decimal(port, strlen(port), 5);

		if (n < 1 || n > 65535)
			return fail(err, err_len, s, "the port after ':' is a number from 1 to 65535; "
				    "leave \":port\" out for every port");
		out->port = (uint16_t)n;
	}
	return 0;
}

char *endpoint_format(const struct endpoint *ep, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN] = "?", prefix[8] = "", port[8] = "";
	bool v6 = ep->family == AF_INET6;

	inet_ntop(v6 ? AF_INET6 : AF_INET, ep->addr, addr, sizeof(addr));
	if (ep->prefix != (v6 ? 128u : 32u))
		snprintf(prefix, sizeof(prefix), "/%u", ep->prefix);
	if (ep->port)
		snprintf(port, sizeof(port), ":%u", ep->port);
	snprintf(buf, len, "%s%s%s%s%s", v6 && ep->port ? "[" : "", addr, prefix,
		 v6 && ep->port ? "]" : "", port);
	return buf;
}
