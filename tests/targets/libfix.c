/* libfix: a fix library, loaded by salve into a running patch_loop or service (never
 * linked to either): answer() and parse() as they should have been. */
#include <errno.h>
#include <string.h>

/* patch_loop's answer(), fixed: the value its test passes as the override. */
int answer(void)
{
	return -5;
}

/* service's parse(), fixed: a request without "=" is refused, not a fault, with
 * -ENOTSUP (parse_v1's is -EINVAL), so a test can tell whose answer it got. */
int parse(const char *req)
{
	const char *value = strchr(req, '=');

	return value ? (int)strlen(value + 1) : -ENOTSUP;
}
