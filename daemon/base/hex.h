/* hex: bytes as lowercase hex digits (build ids, the bytes a repair writes) and back. */
#ifndef SALVE_HEX_H
#define SALVE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The n bytes at b as 2n hex digits into out (room for 2n + 1). */
void hex_encode(const uint8_t *b, size_t n, char *out);

/* The hex digits of s into out, at most max bytes; *n how many. -EINVAL: s is not an
 * even number of hex digits, or more than max bytes. */
int hex_decode(const char *s, uint8_t *out, size_t max, size_t *n);

#endif
