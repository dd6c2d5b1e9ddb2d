/* endpoint: the network endpoint a breaker is around, as a policy writes it. A host, an
 * IPv4 or IPv6 address, or a network in CIDR form, with a port or without (then every
 * port of it):
 *
 *   127.0.0.1:8080   10.0.0.0/8   10.0.0.0/8:443   10.1.2.3 (every port)
 *   [::1]:8080       fd00::/8     [fd00::/8]:443   ::1 (every port)
 *
 * An IPv6 address takes a port only inside brackets. Names are not resolved: the
 * kernel compares addresses. An IPv4-mapped IPv6 address (::ffff:10.1.2.3) is read as
 * the IPv4 address it maps, which is how the kernel side compares it too. */
#ifndef SALVE_ENDPOINT_H
#define SALVE_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#define ENDPOINT_TEXT_MAX 64 /* the longest endpoint_format writes, with its NUL */

struct endpoint {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes; 0 past the prefix */
	unsigned prefix;  /* leading bits that must match: 32 or 128 for one host */
	uint16_t port;    /* host order; 0: every port */
};

/* Read s. 0, or -EINVAL with err quoting s and saying what is expected. */
int endpoint_parse(const char *s, struct endpoint *out, char *err, size_t err_len);

/* ep as endpoint_parse reads it back (the shortest form: no /32 or /128, no brackets
 * without a port). buf holds ENDPOINT_TEXT_MAX; returns buf. */
char *endpoint_format(const struct endpoint *ep, char *buf, size_t len);

#endif
