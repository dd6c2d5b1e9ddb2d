/* policy_value: durations, sizes and numbers as policies write them. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_spec.h"

/* ---- durations and numbers ------------------------------------------------------------- */

#define NS_PER_SEC 1000000000ull

static const struct {
	const char *unit;
	uint64_t ns;
} duration_units[] = {
	{ "h", 3600 * NS_PER_SEC }, { "m", 60 * NS_PER_SEC }, { "s", NS_PER_SEC },
	{ "ms", 1000000 }, { "us", 1000 },
};
#define N_DURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

/* "250us", "1.5s": a decimal number and a unit, nothing else. 0, -EINVAL when it is not a
 * duration, -ERANGE past 64 bits of nanoseconds, -EDOM for a fraction of a nanosecond. */
int policy_duration_ns(const char *s, size_t len, uint64_t *out)
{
	const char *p = s, *end = s + len;
	unsigned __int128 whole = 0, frac = 0, scale = 1, ns;
	bool finer = false;
	size_t u;

	if (p == end || !is_digit(*p))
		return -EINVAL;
	for (; p < end && is_digit(*p); p++)
		if (whole <= UINT64_MAX)
			whole = whole * 10 + (unsigned)(*p - '0');
	if (p < end && *p == '.') {
		if (++p == end || !is_digit(*p))
			return -EINVAL;
		for (; p < end && is_digit(*p); p++) {
			/* 18 places is finer than a nanosecond of any unit */
			if (scale < 1000000000000000000ull) {
				frac = frac * 10 + (unsigned)(*p - '0');
				scale *= 10;
			} else if (*p != '0') {
				finer = true;
			}
		}
	}
	for (u = 0; u < N_DURATION_UNITS; u++)
		if ((size_t)(end - p) == strlen(duration_units[u].unit) &&
		    !memcmp(p, duration_units[u].unit, end - p))
			break;
	if (u == N_DURATION_UNITS)
		return -EINVAL;
	if (finer || frac * duration_units[u].ns % scale)
		return -EDOM;
	ns = whole * duration_units[u].ns + frac * duration_units[u].ns / scale;
	if (ns > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)ns;
	return 0;
}

/* The largest unit that says it exactly: "1ms", "90s". */
const char *ps_format_duration(uint64_t ns, char *buf, size_t size)
{
	for (size_t u = 0; u < N_DURATION_UNITS; u++) {
		if (ns && !(ns % duration_units[u].ns)) {
			snprintf(buf, size, "%" PRIu64 "%s", ns / duration_units[u].ns,
				 duration_units[u].unit);
			return buf;
		}
	}
	snprintf(buf, size, "%" PRIu64 "ns", ns);
	return buf;
}

/* A duration into a uint64_t of nanoseconds at off, at least f->min (1 when unset). */
int ps_parse_duration(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	uint64_t ns = 0, min = f->min ? f->min : !(f->flags & FIELD_ZERO);
	char shown[SHOWN_LEN], limit[32];
	int rc = -EINVAL;

	if (json_object_is_type(v, json_type_string))
		rc = policy_duration_ns(json_object_get_string(v), json_object_get_string_len(v), &ns);
	if (rc == -ERANGE && f->max)
		ns = UINT64_MAX, rc = 0; /* past the field's bound, said below */
	if (rc == -ERANGE)
		return ps_fail(ps, "expected a duration of at most %" PRIu64 "h, got %s",
			    UINT64_MAX / duration_units[0].ns, ps_show(v, shown, sizeof(shown)));
	if (rc == -EDOM)
		return ps_fail(ps, "expected a duration in whole nanoseconds, got %s",
			    ps_show(v, shown, sizeof(shown)));
	if (rc)
		return ps_fail(ps, "expected a duration such as \"20ms\" or \"1s\", got %s",
			    ps_show(v, shown, sizeof(shown)));
	if (ns < min && min == 1)
		return ps_fail(ps, "expected a duration greater than 0, got %s", ps_show(v, shown, sizeof(shown)));
	if (ns < min)
		return ps_fail(ps, "expected a duration of at least %s, got %s",
			    ps_format_duration(min, limit, sizeof(limit)), ps_show(v, shown, sizeof(shown)));
	if (f->max && ns > f->max)
		return ps_fail(ps, "expected a duration of at most %s, got %s",
			       ps_format_duration(f->max, limit, sizeof(limit)),
			       ps_show(v, shown, sizeof(shown)));
	*AT(dst, f->off, uint64_t) = ns;
	return 0;
}

/* An integer from f->min to f->max (UINT32_MAX when 0) into a uint32_t at off. */
int ps_parse_u32(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	int64_t n = json_object_get_int64(v);
	uint64_t max = f->max && f->max < UINT32_MAX ? f->max : UINT32_MAX;
	char shown[SHOWN_LEN];

	if (n < (int64_t)f->min || (uint64_t)n > max)
		return ps_fail(ps, "expected an integer from %" PRIu64 " to %" PRIu64 ", got %s", f->min,
			    max, ps_show(v, shown, sizeof(shown)));
	*AT(dst, f->off, uint32_t) = (uint32_t)n;
	return 0;
}

bool ps_number_value(struct json_object *v, double *out)
{
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return false;
	*out = json_object_get_double(v);
	return isfinite(*out);
}

int ps_parse_percentile(struct parser *ps, struct json_object *v, void *dst,
			    const struct field *f)
{
	char shown[SHOWN_LEN];
	double x;

	if (!ps_number_value(v, &x) || x < 50 || x > 99.9)
		return ps_fail(ps, "expected a number from 50 to 99.9, got %s", ps_show(v, shown, sizeof(shown)));
	*AT(dst, f->off, double) = x;
	return 0;
}

int ps_parse_factor(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	char shown[SHOWN_LEN];
	double x;

	if (!ps_number_value(v, &x) || !(x > 1))
		return ps_fail(ps, "expected a number greater than 1, got %s", ps_show(v, shown, sizeof(shown)));
	*AT(dst, f->off, double) = x;
	return 0;
}


static const struct {
	const char *unit;
	unsigned shift;
} size_units[] = {
	{ "", 0 }, { "B", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
};

/* "64MiB", "4096", "4096B": an integer and a binary unit. Decimal units (MB) are refused
 * rather than guessed at. */
int policy_size_bytes(const char *s, size_t len, uint64_t *out)
{
	const char *p = s, *end = s + len;
	uint64_t n = 0;
	bool range = false;
	size_t u;

	if (p == end || !is_digit(*p))
		return -EINVAL;
	for (; p < end && is_digit(*p); p++) {
		if (n > (UINT64_MAX - (unsigned)(*p - '0')) / 10)
			range = true;
		else
			n = n * 10 + (unsigned)(*p - '0');
	}
	for (u = 0; u < N_FIELDS(size_units); u++)
		if ((size_t)(end - p) == strlen(size_units[u].unit) &&
		    !memcmp(p, size_units[u].unit, end - p))
			break;
	if (u == N_FIELDS(size_units))
		return -EINVAL;
	if (range || (size_units[u].shift && n > UINT64_MAX >> size_units[u].shift))
		return -ERANGE;
	*out = n << size_units[u].shift;
	return 0;
}

/* A size into a uint64_t of bytes at off, at least f->min. */
int ps_parse_size(struct parser *ps, struct json_object *v, void *dst, const struct field *f)
{
	char shown[SHOWN_LEN];
	uint64_t n = 0;
	int rc = -EINVAL;

	if (json_object_is_type(v, json_type_string))
		rc = policy_size_bytes(json_object_get_string(v), json_object_get_string_len(v), &n);
	else if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0)
		rc = 0, n = json_object_get_uint64(v);
	if (rc == -ERANGE && f->max)
		n = UINT64_MAX, rc = 0; /* past the field's bound, said below */
	if (rc == -ERANGE)
		return ps_fail(ps, "expected a size of at most 16EiB - 1, got %s",
			       ps_show(v, shown, sizeof(shown)));
	if (rc)
		return ps_fail(ps, "expected a size such as \"64MiB\" or \"4096\" (units B, KiB, MiB, "
			       "GiB, TiB), got %s", ps_show(v, shown, sizeof(shown)));
	if (n < f->min)
		return ps_fail(ps, "expected a size of at least %" PRIu64 " bytes, got %s", f->min,
			       ps_show(v, shown, sizeof(shown)));
	if (f->max && n > f->max)
		return ps_fail(ps, "expected a size of at most %" PRIu64 " bytes, got %s", f->max,
			       ps_show(v, shown, sizeof(shown)));
	*AT(dst, f->off, uint64_t) = n;
	return 0;
}
