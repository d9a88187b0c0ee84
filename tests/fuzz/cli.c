/*
 * Fuzz target: the command-line value parsers (tracer/lib/parse.c). The
 * first byte picks the parser, the rest is the argument. Accepted values
 * must be in range and agree with a reference computation; rejections must
 * be one line and leave the output untouched.
 */
#include <ctype.h>
#include <errno.h>
#include "fuzz.h"
#include "lib/parse.h"

#define S 1000000000ULL

/* Reference: digits[.digits]unit, exactly, in 128 bits; -1 if it does not
 * fit or is not of that form. The fraction counts to 12 digits as the
 * parser does. */
static int reference_ns(const char *s, unsigned __int128 *out)
{
	static const struct { const char *u; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", S },
		{ "m", 60 * S }, { "h", 3600 * S }, { "", S },
	};
	unsigned __int128 whole = 0, frac = 0, div = 1, mult = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		whole = whole * 10 + (unsigned)(*p - '0');
		if (whole > UINT64_MAX)
			return -1;
	}
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return -1; /* "1." is not a number */
		for (p++; isdigit((unsigned char)*p); p++)
			if (div < 1000000000000ULL)
				frac = frac * 10 + (unsigned)(*p - '0'), div *= 10;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(p, units[i].u))
			mult = units[i].ns;
	if (!mult)
		return -1;
	*out = whole * mult + frac * mult / div;
	return 0;
}

static void fuzz_duration(const char *s, uint64_t min, uint64_t max)
{
	uint64_t ns = 0xdeadbeef;
	unsigned __int128 want = 0;
	char err[160] = "";
	int rc = ks_parse_duration(s, min, max, &ns, err, sizeof(err));
	int ref = reference_ns(s, &want);

	if (rc) {
		fuzz_one_line(err);
		FUZZ_ASSERT(ns == 0xdeadbeef, "output written on failure");
		/* Rejected although well-formed: only if out of range (1 ns slack
		 * for the parser's long double at the edges). */
		FUZZ_ASSERT(ref || want + 1 < min || want > (unsigned __int128)max + 1,
			    "'%s' rejected: %s", s, err);
		return;
	}
	FUZZ_ASSERT(ns >= min && ns <= max, "'%s' = %llu out of [%llu, %llu]", s,
		    (unsigned long long)ns, (unsigned long long)min, (unsigned long long)max);
	FUZZ_ASSERT(ref == 0, "'%s' accepted but not of the documented form", s);
	FUZZ_ASSERT(ns == want || ns + 1 == want || ns == want + 1, "'%s' = %llu, want %llu", s,
		    (unsigned long long)ns, (unsigned long long)want);
}

static void fuzz_u64(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v = 0xdeadbeef;
	char err[160] = "";

	if (ks_parse_u64(s, min, max, &v, err, sizeof(err))) {
		fuzz_one_line(err);
		FUZZ_ASSERT(v == 0xdeadbeef, "output written on failure");
		return;
	}
	FUZZ_ASSERT(s[0] && strspn(s, "0123456789") == strlen(s), "'%s' accepted", s);
	errno = 0;
	FUZZ_ASSERT(strtoull(s, NULL, 10) == v && !errno, "'%s' = %llu", s, (unsigned long long)v);
	FUZZ_ASSERT(v >= min && v <= max, "'%s' out of range", s);
}

static void fuzz_pid(const char *s)
{
	char err[160] = "";
	int pid = -7;

	if (ks_parse_pid(s, &pid, err, sizeof(err))) {
		fuzz_one_line(err);
		FUZZ_ASSERT(pid == -7, "output written on failure");
		return;
	}
	FUZZ_ASSERT(pid >= 1 && pid <= 4194304, "'%s' = pid %d", s, pid);
}

static void fuzz_names(const char *s)
{
	size_t cap = strlen(s) + 2, o = 0;
	char *buf = strdup(s), *joined = malloc(cap), *want = malloc(cap), *names[8];
	char err[96] = "";
	int n;

	FUZZ_ASSERT(buf && joined && want, "out of memory");
	n = ks_parse_names(buf, names, 8, err, sizeof(err));
	if (n < 0) {
		fuzz_one_line(err);
	} else {
		FUZZ_ASSERT(n >= 1 && n <= 8, "%d names", n);
		joined[0] = '\0';
		for (int i = 0; i < n; i++) {
			FUZZ_ASSERT(names[i][0] && !strchr(names[i], ','), "name %d '%s'", i, names[i]);
			o += (size_t)snprintf(joined + o, cap - o, "%s%s", i ? "," : "", names[i]);
		}
		/* The names, joined by commas, are the input's non-empty
		 * comma-separated segments. */
		o = 0;
		want[0] = '\0';
		for (const char *p = s; *p;) {
			size_t len = strcspn(p, ",");

			if (len)
				o += (size_t)snprintf(want + o, cap - o, "%s%.*s", o ? "," : "",
						      (int)len, p);
			p += len;
			if (*p)
				p++;
		}
		FUZZ_ASSERT(!strcmp(joined, want), "'%s' split as '%s'", s, joined);
	}
	free(buf);
	free(joined);
	free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = fuzz_cstr(data + 1, size - 1);
	switch (data[0] % 6) {
	case 0: fuzz_duration(s, 10000000ULL, 3600 * S); break;        /* -i */
	case 1: fuzz_duration(s, 10000000ULL, 366 * 24 * 3600 * S); break; /* -d */
	case 2: fuzz_duration(s, 0, UINT64_MAX); break;
	case 3: fuzz_pid(s); break;
	case 4: fuzz_u64(s, data[0] / 6, UINT64_MAX - data[0]); break;
	case 5: fuzz_names(s); break;
	}
	free(s);
	return 0;
}
