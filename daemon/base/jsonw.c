/* jsonw: JSON written straight into one reused buffer. */
#include "base/jsonw.h"

#include <stdlib.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

/* What a byte needs in a string: 0 nothing, 1 an escape, 2 a UTF-8 check. */
static const uint8_t byte_class[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 2,
};

void jsonw_free(struct jsonw *w)
{
	free(w->buf);
	*w = (struct jsonw)JSONW_INIT;
}

void jsonw_reset(struct jsonw *w)
{
	w->len = 0;
	w->comma = false;
	w->failed = false;
}

const char *jsonw_text(const struct jsonw *w, size_t *len)
{
	*len = w->failed ? 0 : w->len;
	return w->failed ? NULL : w->buf;
}

/* Room for n more bytes; false (and failed) when there is none. */
static bool reserve(struct jsonw *w, size_t n)
{
	size_t cap;
	char *grown;

	if (w->failed)
		return false;
	if (w->cap - w->len >= n)
		return true;
	cap = w->cap ? w->cap : 4096;
	while (cap - w->len < n)
		cap *= 2;
	if (!(grown = realloc(w->buf, cap))) {
		w->failed = true;
		return false;
	}
	w->buf = grown;
	w->cap = cap;
	return true;
}

static inline void put(struct jsonw *w, const void *s, size_t n)
{
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* The comma before a value and its key, with room for n bytes of value after them. */
static bool start_value(struct jsonw *w, const char *key, size_t n)
{
	size_t klen = key ? strlen(key) : 0;

	if (!reserve(w, 1 + (key ? klen + 3 : 0) + n))
		return false;
	if (w->comma)
		w->buf[w->len++] = ',';
	if (key) {
		w->buf[w->len++] = '"';
		put(w, key, klen);
		w->buf[w->len++] = '"';
		w->buf[w->len++] = ':';
	}
	w->comma = true;
	return true;
}

static void open_nested(struct jsonw *w, const char *key, char c)
{
	if (!start_value(w, key, 1))
		return;
	w->buf[w->len++] = c;
	w->comma = false;
}

static void close_nested(struct jsonw *w, char c)
{
	if (!reserve(w, 1))
		return;
	w->buf[w->len++] = c;
	w->comma = true;
}

void jsonw_object_begin(struct jsonw *w, const char *key)
{
	open_nested(w, key, '{');
}

void jsonw_object_end(struct jsonw *w)
{
	close_nested(w, '}');
}

void jsonw_array_begin(struct jsonw *w, const char *key)
{
	open_nested(w, key, '[');
}

void jsonw_array_end(struct jsonw *w)
{
	close_nested(w, ']');
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left, n > 0; Unicode table
 * 3-7), or 0 when it is ill-formed; then *bad is the length of its maximal subpart. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	*bad = 1;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* a stray continuation byte, C0, C1 or F5..FF */
	}
	for (i = 1; i < need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need;
}

bool jsonw_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t pos = 0, k, bad;

	while (pos < n) {
		if (p[pos] < 0x80) {
			pos++;
			continue;
		}
		if (!(k = utf8_seq(p + pos, n - pos, &bad)))
			return false;
		pos += k;
	}
	return true;
}

size_t jsonw_clean_utf8(const char *s, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t pos = 0, o = 0, k, bad;

	while (pos < n) {
		if ((k = utf8_seq(p + pos, n - pos, &bad))) {
			memcpy(out + o, p + pos, k);
			o += k;
			pos += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			pos += bad;
		}
	}
	return o;
}

void jsonw_string_len(struct jsonw *w, const char *key, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t pos = 0, run, k, bad;
	char *o;

	/* At most 6 bytes for each byte in (\u00xx), and the quotes. */
	if (!start_value(w, key, 6 * n + 2))
		return;
	o = w->buf + w->len;
	*o++ = '"';
	while (pos < n) {
		/* A run of bytes that need nothing, copied at once. */
		for (run = pos; run < n && !byte_class[p[run]]; run++)
			;
		memcpy(o, p + pos, run - pos);
		o += run - pos;
		if ((pos = run) == n)
			break;
		if (byte_class[p[pos]] == 2) {
			if ((k = utf8_seq(p + pos, n - pos, &bad))) {
				memcpy(o, p + pos, k);
				pos += k;
			} else {
				memcpy(o, "\xef\xbf\xbd", 3);
				pos += bad;
				k = 3;
			}
			o += k;
			continue;
		}
		*o++ = '\\';
		switch (p[pos]) {
		case '"':
		case '\\':
			*o++ = (char)p[pos];
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			memcpy(o, "u00", 3);
			o[3] = hex_digits[p[pos] >> 4];
			o[4] = hex_digits[p[pos] & 0xf];
			o += 5;
		}
		pos++;
	}
	*o++ = '"';
	w->len = (size_t)(o - w->buf);
}

void jsonw_string(struct jsonw *w, const char *key, const char *s)
{
	jsonw_string_len(w, key, s, s ? strlen(s) : 0);
}

/* v in decimal at the end of buf (24 bytes); returns where it starts. */
static char *decimal(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void put_number(struct jsonw *w, const char *key, bool negative, uint64_t magnitude)
{
	char buf[24], *end = buf + sizeof(buf), *s = decimal(magnitude, end);

	if (negative)
		*--s = '-';
	if (start_value(w, key, (size_t)(end - s)))
		put(w, s, (size_t)(end - s));
}

void jsonw_int(struct jsonw *w, const char *key, int64_t v)
{
	put_number(w, key, v < 0, v < 0 ? -(uint64_t)v : (uint64_t)v);
}

void jsonw_uint(struct jsonw *w, const char *key, uint64_t v)
{
	put_number(w, key, false, v);
}

void jsonw_bool(struct jsonw *w, const char *key, bool v)
{
	if (start_value(w, key, 5))
		put(w, v ? "true" : "false", v ? 4 : 5);
}

void jsonw_null(struct jsonw *w, const char *key)
{
	if (start_value(w, key, 4))
		put(w, "null", 4);
}

void jsonw_hex(struct jsonw *w, const char *key, uint64_t v)
{
	char buf[24], *end = buf + sizeof(buf), *s = end;

	*--s = '"';
	do {
		*--s = hex_digits[v & 0xf];
		v >>= 4;
	} while (v);
	*--s = 'x';
	*--s = '0';
	*--s = '"';
	if (start_value(w, key, (size_t)(end - s)))
		put(w, s, (size_t)(end - s));
}
