/* JSON escaping of hostile strings (process names are attacker-chosen). */
#include <stdlib.h>
#include "unit.h"
#include "lib/json.h"

static char *render(const char *in)
{
	static char buf[512];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	ks_json_string(f, in);
	fclose(f);
	return buf;
}

/* One record holding ks_json_dec(v, exp10) as "v". */
static void dec(uint64_t v, int exp10, const char *want)
{
	char buf[256], name[96], got[128] = "";
	struct ks_json j;
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	ks_json_open(&j, f);
	ks_json_dec(&j, "v", v, exp10);
	ks_json_finish(&j);
	fclose(f);
	sscanf(buf, "{\"v\":%127[^}]}", got);
	snprintf(name, sizeof(name), "exact decimal %llu x 10^%d", (unsigned long long)v, exp10);
	ASSERT_STREQ(name, got, want);
}

static void esc(const char *name, const char *in, const char *want)
{
	const char *got = render(in);

	ASSERT_STREQ(name, got, want);
}

int main(void)
{
	char buf[1024];
	struct ks_json j;
	FILE *f;

	esc("plain", "qemu-system-x86", "\"qemu-system-x86\"");
	esc("quote and backslash", "a\"b\\c", "\"a\\\"b\\\\c\"");
	esc("newline and tab", "a\nb\tc", "\"a\\nb\\tc\"");
	esc("control bytes", "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	esc("valid UTF-8 kept", "vm-\xc3\xa9t\xc3\xa9", "\"vm-\xc3\xa9t\xc3\xa9\"");
	esc("invalid byte escaped", "a\xff" "b", "\"a\\u00ffb\"");
	esc("truncated sequence", "a\xc3", "\"a\\u00c3\"");
	esc("overlong form", "\xc0\xaf", "\"\\u00c0\\u00af\"");
	esc("surrogate", "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");
	esc("NULL", NULL, "\"\"");

	f = fmemopen(buf, sizeof(buf), "w");
	ks_json_begin(&j, f, "interval", 5);
	ks_json_obj(&j, "wp");
	ks_json_u64(&j, "4k", 1);
	ks_json_arr(&j, "hist");
	ks_json_arr_u64(&j, 1);
	ks_json_arr_u64(&j, 2);
	ks_json_close(&j);
	ks_json_close(&j);
	ks_json_double(&j, "nan", 0.0 / 0.0);
	ks_json_bool(&j, "ok", true);
	ks_json_i64(&j, "neg", -3);
	ks_json_end(&j);
	fclose(f);
	ASSERT_STREQ("nested object", buf,
		     "{\"type\":\"interval\",\"schema\":2,\"ts_ns\":5,\"wp\":{\"4k\":1,\"hist\":[1,2]},"
		     "\"nan\":null,\"ok\":true,\"neg\":-3}\n");

	f = fmemopen(buf, sizeof(buf), "w");
	ks_json_begin(&j, f, "x", 0);
	ks_json_obj(&j, "a");
	ks_json_arr(&j, "b");
	ks_json_end(&j);   /* closes what is open */
	fclose(f);
	ASSERT_STREQ("end closes open levels", buf,
		     "{\"type\":\"x\",\"schema\":2,\"ts_ns\":0,\"a\":{\"b\":[]}}\n");
	/* Bare objects and exact thousandths (the Chrome trace's us from ns). */
	f = fmemopen(buf, sizeof(buf), "w");
	ks_json_open(&j, f);
	ks_json_milli(&j, "a", 0);
	ks_json_milli(&j, "b", 1);
	ks_json_milli(&j, "c", 1000);
	ks_json_milli(&j, "d", 18446744073709551615ULL);
	ks_json_obj(&j, "args");
	ks_json_finish(&j);
	fclose(f);
	ASSERT_STREQ("bare object, thousandths exact", buf,
		     "{\"a\":0.000,\"b\":0.001,\"c\":1.000,\"d\":18446744073709551.615,\"args\":{}}");

	/* Scaled statistics exactly: nanoseconds as seconds, no exponent. */
	dec(0, -9, "0");
	dec(1234, -9, "0.000001234");
	dec(1000, -9, "0.000001");
	dec(5000000000ULL, -9, "5");
	dec(1234567890123ULL, -9, "1234.567890123");
	dec(18446744073709551615ULL, -9, "18446744073.709551615");
	dec(123450, -1, "12345");
	dec(5, 0, "5");
	dec(7, 2, "700");
	dec(0, 2, "0");
	dec(1, -30, "1e-30");

	/* A record longer than the builder's buffer, with escapes across its
	 * boundary, comes out whole. */
	{
		static char big[3 * KS_JSON_BUF], want[3 * KS_JSON_BUF];
		char name[16], *p = want;
		size_t n = 0;

		f = fmemopen(big, sizeof(big), "w");
		ks_json_begin(&j, f, "big", 1);
		p += sprintf(p, "{\"type\":\"big\",\"schema\":%d,\"ts_ns\":1", KS_JSON_SCHEMA);
		for (int i = 0; i < 400; i++) {
			snprintf(name, sizeof(name), "k\"%d", i);
			ks_json_u64(&j, name, 18446744073709551615ULL - i);
			p += sprintf(p, ",\"k\\\"%d\":%llu", i, 18446744073709551615ULL - i);
		}
		strcpy(p, "}\n");
		ks_json_end(&j);
		n = (size_t)ftell(f);
		fclose(f);
		CHECK("record past the buffer", n > KS_JSON_BUF && !strcmp(big, want),
		      "%zu bytes, differs from %.80s", n, want);
	}
	UNIT_EXIT();
}
