/* endpoint: breaker endpoints as a policy writes them, read and written back. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "policy/endpoint.h"

static struct endpoint parsed(const char *s)
{
	struct endpoint ep;
	char err[512] = "";

	if (endpoint_parse(s, &ep, err, sizeof(err)))
		fail_msg("%s", err);
	return ep;
}

static void assert_addr(const struct endpoint *ep, const char *text)
{
	uint8_t want[16] = { 0 };

	assert_int_equal(inet_pton(ep->family, text, want), 1);
	assert_memory_equal(ep->addr, want, 16);
}

static void test_ipv4(void **state)
{
	struct endpoint ep;

	(void)state;
	ep = parsed("127.0.0.1:8080");
	assert_int_equal(ep.family, AF_INET);
	assert_addr(&ep, "127.0.0.1");
	assert_int_equal(ep.prefix, 32);
	assert_int_equal(ep.port, 8080);

	ep = parsed("10.1.2.3"); /* a host without a port: every port */
	assert_addr(&ep, "10.1.2.3");
	assert_int_equal(ep.prefix, 32);
	assert_int_equal(ep.port, 0);

	ep = parsed("10.0.0.0/8");
	assert_int_equal(ep.family, AF_INET);
	assert_addr(&ep, "10.0.0.0");
	assert_int_equal(ep.prefix, 8);
	assert_int_equal(ep.port, 0);

	ep = parsed("10.0.0.0/8:443");
	assert_int_equal(ep.prefix, 8);
	assert_int_equal(ep.port, 443);

	ep = parsed("0.0.0.0/0:65535");
	assert_int_equal(ep.prefix, 0);
	assert_int_equal(ep.port, 65535);
}

static void test_ipv6(void **state)
{
	struct endpoint ep;

	(void)state;
	ep = parsed("[::1]:8080");
	assert_int_equal(ep.family, AF_INET6);
	assert_addr(&ep, "::1");
	assert_int_equal(ep.prefix, 128);
	assert_int_equal(ep.port, 8080);

	ep = parsed("::1"); /* no brackets, no port: every port */
	assert_int_equal(ep.family, AF_INET6);
	assert_addr(&ep, "::1");
	assert_int_equal(ep.port, 0);

	ep = parsed("[::1]");
	assert_int_equal(ep.family, AF_INET6);
	assert_int_equal(ep.port, 0);

	ep = parsed("fd00::/8");
	assert_int_equal(ep.family, AF_INET6);
	assert_addr(&ep, "fd00::");
	assert_int_equal(ep.prefix, 8);
	assert_int_equal(ep.port, 0);

	ep = parsed("[fd00::/8]:443");
	assert_int_equal(ep.prefix, 8);
	assert_int_equal(ep.port, 443);

	ep = parsed("2001:db8::8:800:200c:417a");
	assert_addr(&ep, "2001:db8::8:800:200c:417a");
}

/* The kernel side compares a mapped address as the IPv4 address it maps. */
static void test_ipv4_mapped_is_ipv4(void **state)
{
	struct endpoint ep;

	(void)state;
	ep = parsed("[::ffff:10.1.2.3]:80");
	assert_int_equal(ep.family, AF_INET);
	assert_addr(&ep, "10.1.2.3");
	assert_int_equal(ep.prefix, 32);
	assert_int_equal(ep.port, 80);

	ep = parsed("::ffff:10.0.0.0/104");
	assert_int_equal(ep.family, AF_INET);
	assert_addr(&ep, "10.0.0.0");
	assert_int_equal(ep.prefix, 8);
}

static void assert_refused(const char *s, const char *want)
{
	struct endpoint ep;
	char err[512] = "";

	assert_int_equal(endpoint_parse(s, &ep, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
}

#define EXPECTED "expected an address with an optional /prefix and :port, such as " \
		 "10.0.0.1:8080, 10.0.0.0/8:443, [::1]:8080 or fd00::/8"

static void test_bad_addresses(void **state)
{
	(void)state;
	assert_refused("", "endpoint \"\": empty: " EXPECTED);
	assert_refused("db.example.com:5432", "endpoint \"db.example.com:5432\": \"db.example.com\" "
			"is not an IPv4 address (names are not resolved): " EXPECTED);
	assert_refused("256.0.0.1:80", "endpoint \"256.0.0.1:80\": \"256.0.0.1\" is not an IPv4 "
			"address (names are not resolved): " EXPECTED);
	assert_refused("10.0.0:80", "endpoint \"10.0.0:80\": \"10.0.0\" is not an IPv4 address "
			"(names are not resolved): " EXPECTED);
	assert_refused("fe80::1%eth0", "endpoint \"fe80::1%eth0\": \"fe80::1%eth0\" is not an IPv6 "
			"address (names are not resolved): " EXPECTED);
	assert_refused(":80", "endpoint \":80\": no address: " EXPECTED);
	assert_refused("[::1", "endpoint \"[::1\": no ']' after the IPv6 address: expected such as "
			"[::1]:8080");
	assert_refused("[::1]8080", "endpoint \"[::1]8080\": only \":port\" may follow ']': "
			"expected such as [::1]:8080");
	assert_refused("[10.0.0.1]:80", "endpoint \"[10.0.0.1]:80\": brackets are for IPv6 "
			"addresses: write an IPv4 one as 10.0.0.1:8080");
	assert_refused("10.0.0.1/8", "endpoint \"10.0.0.1/8\": 10.0.0.1 has bits set past its /8 "
			"prefix: write the network's first address");
	assert_refused("fd00::1/8", "endpoint \"fd00::1/8\": fd00::1 has bits set past its /8 "
			"prefix: write the network's first address");
}

static void test_bad_prefixes(void **state)
{
	(void)state;
	assert_refused("10.0.0.0/33", "endpoint \"10.0.0.0/33\": the prefix after '/' is a number "
			"of bits, 0 to 32 for an IPv4 address");
	assert_refused("fd00::/129", "endpoint \"fd00::/129\": the prefix after '/' is a number of "
			"bits, 0 to 128 for an IPv6 address");
	assert_refused("10.0.0.0/", "endpoint \"10.0.0.0/\": the prefix after '/' is a number of "
			"bits, 0 to 32 for an IPv4 address");
	assert_refused("10.0.0.0/-1", "endpoint \"10.0.0.0/-1\": the prefix after '/' is a number "
			"of bits, 0 to 32 for an IPv4 address");
	assert_refused("10.0.0.0/8x", "endpoint \"10.0.0.0/8x\": the prefix after '/' is a number "
			"of bits, 0 to 32 for an IPv4 address");
}

#define PORT_RANGE "the port after ':' is a number from 1 to 65535; leave \":port\" out for " \
		   "every port"

static void test_bad_ports(void **state)
{
	(void)state;
	assert_refused("127.0.0.1:0", "endpoint \"127.0.0.1:0\": " PORT_RANGE);
	assert_refused("127.0.0.1:65536", "endpoint \"127.0.0.1:65536\": " PORT_RANGE);
	assert_refused("127.0.0.1:", "endpoint \"127.0.0.1:\": " PORT_RANGE);
	assert_refused("127.0.0.1:http", "endpoint \"127.0.0.1:http\": " PORT_RANGE);
	assert_refused("[::1]:-5", "endpoint \"[::1]:-5\": " PORT_RANGE);
	assert_refused("[::1]:123456", "endpoint \"[::1]:123456\": " PORT_RANGE);
}

/* What endpoint_format writes, endpoint_parse reads back to the same endpoint. */
static void test_format_round_trip(void **state)
{
	static const char *const texts[] = {
		"127.0.0.1:8080", "10.1.2.3", "10.0.0.0/8", "10.0.0.0/8:443", "0.0.0.0/0",
		"[::1]:8080", "::1", "fd00::/8", "[fd00::/8]:443", "2001:db8::/32",
		"[2001:db8::1]:65535",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct endpoint ep = parsed(texts[i]), again;
		char buf[ENDPOINT_TEXT_MAX];

		assert_string_equal(endpoint_format(&ep, buf, sizeof(buf)), texts[i]);
		again = parsed(buf);
		assert_int_equal(again.family, ep.family);
		assert_memory_equal(again.addr, ep.addr, sizeof(ep.addr));
		assert_int_equal(again.prefix, ep.prefix);
		assert_int_equal(again.port, ep.port);
	}
	/* The shortest form: no full-length prefix, no brackets without a port. */
	{
		struct endpoint ep = parsed("[::1/128]");
		char buf[ENDPOINT_TEXT_MAX];

		assert_string_equal(endpoint_format(&ep, buf, sizeof(buf)), "::1");
		ep = parsed("10.0.0.1/32:80");
		assert_string_equal(endpoint_format(&ep, buf, sizeof(buf)), "10.0.0.1:80");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_ipv4_mapped_is_ipv4),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_bad_prefixes),
		cmocka_unit_test(test_bad_ports),
		cmocka_unit_test(test_format_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
