/* loopback: the address "PORT [4|6]" names, for backend and backend_client alike:
 * 127.0.0.1:PORT (4, the default) or [::1]:PORT (6). */
#ifndef LOOPBACK_H
#define LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* argv[1] (the port) and argv[2] (the family, when given) into addr and len: 0, or -1
 * when they are not a port and 4 or 6. */
static inline int loopback_parse(int argc, char **argv, struct sockaddr_storage *addr,
				 socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
	int family = argc == 3 ? atoi(argv[2]) : 4;
	char *end;
	long port;

	if (argc < 2 || argc > 3)
		return -1;
	port = strtol(argv[1], &end, 10);
	if (*end || port < 1 || port > 65535)
		return -1;
	memset(addr, 0, sizeof(*addr));
	if (family == 4) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((unsigned short)port);
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof(*in4);
	} else if (family == 6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		in6->sin6_addr = in6addr_loopback;
		*len = sizeof(*in6);
	} else {
		return -1;
	}
	return 0;
}

#endif
