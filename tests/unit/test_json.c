// uses:
/* JSON escaping of hostile strings (process names are attacker-chosen). */
#include <stdlib.h>
#include "unit.h"
#include "common/json.h"

static char *render(const char *in)
{
	static char buf[512];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	ks_json_string(f, in);
	fclose(f);
	return buf;
}

static void esc(const char *name, const char *in, const char *want)
{
	const char *got = render(in);

	CHECK(name, !strcmp(got, want), "got %s want %s", got, want);
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
	CHECK("nested object", !strcmp(buf,
		"{\"type\":\"interval\",\"schema\":1,\"ts_ns\":5,\"wp\":{\"4k\":1,\"hist\":[1,2]},"
		"\"nan\":null,\"ok\":true,\"neg\":-3}\n"), "got %s", buf);

	f = fmemopen(buf, sizeof(buf), "w");
	ks_json_begin(&j, f, "x", 0);
	ks_json_obj(&j, "a");
	ks_json_arr(&j, "b");
	ks_json_end(&j);   /* closes what is open */
	fclose(f);
	CHECK("end closes open levels", !strcmp(buf,
		"{\"type\":\"x\",\"schema\":1,\"ts_ns\":0,\"a\":{\"b\":[]}}\n"), "got %s", buf);
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
	CHECK("bare object, thousandths exact", !strcmp(buf,
		"{\"a\":0.000,\"b\":0.001,\"c\":1.000,\"d\":18446744073709551.615,\"args\":{}}"),
	      "got %s", buf);
	UNIT_EXIT();
}
