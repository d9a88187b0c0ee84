/* Command-line value parsers: every accepted form and every rejection. */
#include <stdint.h>
#include "unit.h"
#include "lib/parse.h"

#define S 1000000000ULL
#define MS 1000000ULL

static void duration_ok(const char *in, uint64_t want)
{
	char name[96], err[160] = "";
	uint64_t ns = 0;
	int rc = ks_parse_duration(in, 1, 24 * 3600 * S, &ns, err, sizeof(err));

	snprintf(name, sizeof(name), "duration '%s' = %llu ns", in, (unsigned long long)want);
	CHECK(name, rc == 0 && ns == want, "rc %d ns %llu err '%s'", rc, (unsigned long long)ns, err);
}

static void duration_bad(const char *in, const char *want_in_err)
{
	char name[96], err[160] = "";
	uint64_t ns = 12345;
	int rc = ks_parse_duration(in, 10 * MS, 24 * 3600 * S, &ns, err, sizeof(err));

	snprintf(name, sizeof(name), "duration '%s' rejected", in);
	CHECK(name, rc == -1 && ns == 12345 && strstr(err, want_in_err),
	      "rc %d err '%s' (want '%s')", rc, err, want_in_err);
}

int main(void)
{
	char err[160];
	uint64_t v;
	int pid;

	duration_ok("2", 2 * S);
	duration_ok("2s", 2 * S);
	duration_ok("250ms", 250 * MS);
	duration_ok("1.5s", 1500 * MS);
	duration_ok("100us", 100000);
	duration_ok("3m", 180 * S);
	duration_ok("0.010s", 10 * MS);
	duration_ok("1.0000000001s", S);   /* sub-ns digits ignored */
	duration_bad("", "invalid duration");
	duration_bad("-1s", "invalid duration");
	duration_bad("abc", "invalid duration");
	duration_bad("1.s", "invalid duration");
	duration_bad("5 s", "unit");
	duration_bad("5parsecs", "unit");
	duration_bad("1ms", "out of range");          /* below the 10ms floor */
	duration_bad("25h", "out of range");
	duration_bad("99999999999999999999999s", "too large");

	CHECK("u64 '42'", !ks_parse_u64("42", 1, 100, &v, err, sizeof(err)) && v == 42, "%s", err);
	CHECK("u64 '0' below min", ks_parse_u64("0", 1, 100, &v, err, sizeof(err)) == -1 &&
	      strstr(err, "out of range"), "%s", err);
	CHECK("u64 ' 1' leading blank", ks_parse_u64(" 1", 0, 100, &v, err, sizeof(err)) == -1, "%s", err);
	CHECK("u64 '-1'", ks_parse_u64("-1", 0, 100, &v, err, sizeof(err)) == -1, "%s", err);
	CHECK("u64 '1x'", ks_parse_u64("1x", 0, 100, &v, err, sizeof(err)) == -1, "%s", err);
	CHECK("u64 overflow", ks_parse_u64("184467440737095516160", 0, UINT64_MAX, &v, err,
					  sizeof(err)) == -1 && strstr(err, "too large"), "%s", err);
	CHECK("u64 NULL", ks_parse_u64(NULL, 0, 1, &v, err, sizeof(err)) == -1, "%s", err);

	CHECK("pid '1234'", !ks_parse_pid("1234", &pid, err, sizeof(err)) && pid == 1234, "%s", err);
	CHECK("pid '0'", ks_parse_pid("0", &pid, err, sizeof(err)) == -1 &&
	      strstr(err, "invalid PID"), "%s", err);
	CHECK("pid huge", ks_parse_pid("99999999", &pid, err, sizeof(err)) == -1, "%s", err);
	CHECK("pid garbage", ks_parse_pid("12ab", &pid, err, sizeof(err)) == -1, "%s", err);
	UNIT_EXIT();
}
