// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json.h"
#include "lib/parse.h"

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

/* The value as it may appear in an error line: escaped, so a newline or a
 * terminal escape in an argument cannot break the one-line message, and
 * cut short, so a huge argument is not echoed whole. */
static const char *quoted(const char *s, char *buf, size_t len)
{
	return ks_text_escape(s ? s : "", buf, len);
}

static int fail(char *err, size_t errlen, const char *fmt, const char *s)
{
	char q[64];

	snprintf(err, errlen, fmt, quoted(s, q, sizeof(q)));
	return -1;
}

int ks_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		 char *err, size_t errlen)
{
	unsigned long long v;
	char *end;

	/* strtoull accepts "-1" and leading blanks; a CLI value must not. */
	if (!s || !isdigit((unsigned char)s[0]))
		return fail(err, errlen, "'%s' is not a non-negative integer", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return fail(err, errlen, "'%s' is too large", s);
	if (*end)
		return fail(err, errlen, "'%s' is not a non-negative integer", s);
	if (v < min || v > max) {
		char q[64];

		snprintf(err, errlen, "'%s' is out of range [%llu, %llu]", quoted(s, q, sizeof(q)),
			 (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int ks_parse_pid(const char *s, int *out, char *err, size_t errlen)
{
	uint64_t v;
	char why[128];

	/* pid_max is at most 2^22 on Linux; anything above is not a pid. */
	if (ks_parse_u64(s, 1, 4194304, &v, why, sizeof(why))) {
		snprintf(err, errlen, "invalid PID: %s", why);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int ks_parse_names(char *buf, char **names, int max, char *err, size_t errlen)
{
	char *tok, *save = NULL;
	int n = 0;

	if (!buf || !buf[0]) {
		snprintf(err, errlen, "empty list of names");
		return -1;
	}
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max) {
			snprintf(err, errlen, "more than %d names", max);
			return -1;
		}
		names[n++] = tok;
	}
	if (!n) {
		snprintf(err, errlen, "no names, only commas");
		return -1;
	}
	return n;
}

int ks_parse_duration(const char *s, uint64_t min_ns, uint64_t max_ns,
		      uint64_t *out_ns, char *err, size_t errlen)
{
	static const struct { const char *suffix; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", NS_PER_US }, { "ms", NS_PER_MS },
		{ "s", NS_PER_S }, { "m", 60 * NS_PER_S }, { "h", 3600 * NS_PER_S },
		{ "", NS_PER_S },
	};
	unsigned long long whole = 0, frac = 0, frac_div = 1;
	const char *p = s;
	uint64_t mult = 0;
	long double ns;

	if (!s || !isdigit((unsigned char)*p))
		return fail(err, errlen, "invalid duration '%s' (examples: 10ms, 2s, 1.5m)", s);
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return fail(err, errlen, "duration '%s' is too large", s);
		whole = whole * 10 + (unsigned)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return fail(err, errlen, "invalid duration '%s' (examples: 10ms, 2s, 1.5m)", s);
		for (; isdigit((unsigned char)*p); p++) {
			/* Digits past nanosecond precision change nothing. */
			if (frac_div < 1000000000000ULL) {
				frac = frac * 10 + (unsigned)(*p - '0');
				frac_div *= 10;
			}
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(p, units[i].suffix)) {
			mult = units[i].ns;
			break;
		}
	}
	if (!mult)
		return fail(err, errlen, "invalid duration unit in '%s' (use ns, us, ms, s, m or h)", s);
	ns = (long double)whole * mult + (long double)frac * mult / frac_div;
	if (ns > (long double)max_ns || ns < (long double)min_ns) {
		char q[64];

		snprintf(err, errlen, "duration '%s' is out of range [%.3gs, %.3gs]", quoted(s, q, sizeof(q)),
			 (double)min_ns / NS_PER_S, (double)max_ns / NS_PER_S);
		return -1;
	}
	*out_ns = (uint64_t)ns;
	return 0;
}
