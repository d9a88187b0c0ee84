/* The exposition writer: escaping, numbers, histogram cumulation, and what
 * differs between the Prometheus text format and OpenMetrics. */
#include <math.h>
#include <stdlib.h>
#include "unit.h"
#include "export/promtext.h"

static char *esc_label(const char *v)
{
	static struct ks_buf b;

	ks_buf_free(&b);
	ks_buf_puts(&b, "");
	ks_prom_escape_label(&b, v);
	return b.p;
}

static char *esc_help(const char *v, enum ks_prom_format fmt)
{
	static struct ks_buf b;

	ks_buf_free(&b);
	ks_buf_puts(&b, "");
	ks_prom_escape_help(&b, v, fmt);
	return b.p;
}

static char *fl(double v)
{
	static char s[40];

	ks_prom_float(s, sizeof(s), v);
	return s;
}

static void test_escaping(void)
{
	CHECK("label: plain", !strcmp(esc_label("qemu-system-x86"), "qemu-system-x86"), "%s",
	      esc_label("qemu-system-x86"));
	CHECK("label: quote", !strcmp(esc_label("a\"b"), "a\\\"b"), "%s", esc_label("a\"b"));
	CHECK("label: backslash", !strcmp(esc_label("a\\b"), "a\\\\b"), "%s", esc_label("a\\b"));
	CHECK("label: newline", !strcmp(esc_label("a\nb"), "a\\nb"), "%s", esc_label("a\nb"));
	CHECK("label: all three", !strcmp(esc_label("\\\"\n"), "\\\\\\\"\\n"), "%s", esc_label("\\\"\n"));
	CHECK("label: valid UTF-8 kept", !strcmp(esc_label("v\xc3\xa9m \xe2\x82\xac \xf0\x9f\x98\x80"),
						 "v\xc3\xa9m \xe2\x82\xac \xf0\x9f\x98\x80"), "%s",
	      esc_label("v\xc3\xa9m"));
	CHECK("label: stray byte -> U+FFFD", !strcmp(esc_label("a\xff" "b"), "a\xef\xbf\xbd" "b"), "%s",
	      esc_label("a\xff" "b"));
	CHECK("label: truncated sequence -> U+FFFD", !strcmp(esc_label("a\xc3"), "a\xef\xbf\xbd"), "%s",
	      esc_label("a\xc3"));
	CHECK("label: overlong '/' rejected", !strcmp(esc_label("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd"),
	      "%s", esc_label("\xc0\xaf"));
	CHECK("label: surrogate rejected", !strcmp(esc_label("\xed\xa0\x80"),
						   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"), "%s",
	      esc_label("\xed\xa0\x80"));
	CHECK("label: control bytes other than newline kept", !strcmp(esc_label("a\tb"), "a\tb"), "%s",
	      esc_label("a\tb"));
	CHECK("help: text keeps quotes", !strcmp(esc_help("say \"hi\"\\\n", KS_PROM_TEXT),
						 "say \"hi\"\\\\\\n"), "%s",
	      esc_help("say \"hi\"\\\n", KS_PROM_TEXT));
	CHECK("help: OpenMetrics escapes quotes", !strcmp(esc_help("say \"hi\"", KS_PROM_OPENMETRICS),
							  "say \\\"hi\\\""), "%s",
	      esc_help("say \"hi\"", KS_PROM_OPENMETRICS));
}

static void test_numbers(void)
{
	char n[64];

	CHECK("float: integral gets .0", !strcmp(fl(1), "1.0"), "%s", fl(1));
	CHECK("float: 0.0", !strcmp(fl(0), "0.0"), "%s", fl(0));
	CHECK("float: shortest 0.1", !strcmp(fl(0.1), "0.1"), "%s", fl(0.1));
	CHECK("float: 2^-30 round-trips", strtod(fl(ldexp(1, -30)), NULL) == ldexp(1, -30), "%s",
	      fl(ldexp(1, -30)));
	CHECK("float: 1e-9 short", !strcmp(fl(1e-9), "1e-09"), "%s", fl(1e-9));
	CHECK("float: 10 in plain digits", !strcmp(fl(10), "10.0"), "%s", fl(10));
	CHECK("float: 123000 in plain digits", !strcmp(fl(123000), "123000.0"), "%s", fl(123000));
	CHECK("float: 1e6 in exponent form", !strcmp(fl(1e6), "1e+06"), "%s", fl(1e6));
	CHECK("float: 2147483647 round-trips", strtod(fl(2147483647.0), NULL) == 2147483647.0, "%s",
	      fl(2147483647.0));
	CHECK("float: +Inf", !strcmp(fl(INFINITY), "+Inf"), "%s", fl(INFINITY));
	CHECK("float: NaN", !strcmp(fl(NAN), "NaN"), "%s", fl(NAN));
	ks_prom_metric_name(n, sizeof(n), "halt-poll.ns");
	CHECK("name: invalid bytes become _", !strcmp(n, "halt_poll_ns"), "%s", n);
	ks_prom_metric_name(n, sizeof(n), "4k_pages");
	CHECK("name: leading digit", !strcmp(n, "_4k_pages"), "%s", n);
}

static struct ks_prom_label lab[] = { { "pid", "42" }, { "comm", "q\"e\\mu\n" } };

static char *render(struct ks_prom *w, enum ks_prom_format fmt)
{
	struct ks_buf out = { 0 };

	if (ks_prom_render(w, fmt, &out))
		return NULL;
	return out.p ? out.p : strdup("");
}

static void test_families(void)
{
	struct ks_prom w = { 0 };
	struct ks_prom_family *c, *g, *h, *h2, *again;
	double up[] = { 1e-6, 2e-6, INFINITY };
	uint64_t counts[] = { 3, 0, 2 };
	double up2[] = { 1, 2 };
	uint64_t counts2[] = { 1, 1 };
	char *t, *om;

	c = ks_prom_family(&w, "kvmscope_x_seconds", KS_PROM_COUNTER, "seconds", "Time \"in\" x");
	g = ks_prom_family(&w, "kvmscope_g", KS_PROM_GAUGE, NULL, "A gauge");
	h = ks_prom_family(&w, "kvmscope_lat_seconds", KS_PROM_HISTOGRAM, "seconds", "Latency");
	h2 = ks_prom_family(&w, "kvmscope_nosum", KS_PROM_HISTOGRAM, NULL, "No sum");
	ks_prom_family(&w, "kvmscope_empty", KS_PROM_GAUGE, NULL, "Never sampled");
	ks_prom_f64(c, lab, 2, 1.5);
	ks_prom_u64(g, lab, 1, 18446744073709551615ULL);
	ks_prom_histogram(h, lab, 1, up, counts, 3, true, 7e-6);
	ks_prom_histogram(h2, NULL, 0, up2, counts2, 2, false, 0);
	/* Samples arriving later join their family's group. */
	again = ks_prom_family(&w, "kvmscope_x_seconds", KS_PROM_COUNTER, "seconds", "ignored");
	CHECK("family: same name, same family", again == c, "%p vs %p", (void *)again, (void *)c);
	ks_prom_u64(again, lab, 1, 7);

	t = render(&w, KS_PROM_TEXT);
	om = render(&w, KS_PROM_OPENMETRICS);
	CHECK("render: both succeed", t && om, "render failed");
	if (!t || !om)
		return;
	CHECK("text: counter TYPE names the _total series",
	      strstr(t, "# TYPE kvmscope_x_seconds_total counter\n") != NULL, "%s", t);
	CHECK("text: HELP keeps quotes", strstr(t, "# HELP kvmscope_x_seconds_total Time \"in\" x\n") != NULL,
	      "%s", t);
	CHECK("om: counter family without _total",
	      strstr(om, "# TYPE kvmscope_x_seconds counter\n") != NULL, "%s", om);
	CHECK("om: UNIT line", strstr(om, "# UNIT kvmscope_x_seconds seconds\n") != NULL, "%s", om);
	CHECK("text: no UNIT line", !strstr(t, "# UNIT"), "%s", t);
	CHECK("om: HELP escapes quotes", strstr(om, "# HELP kvmscope_x_seconds Time \\\"in\\\" x\n") != NULL,
	      "%s", om);
	CHECK("sample: counter sample ends in _total, labels escaped",
	      strstr(t, "kvmscope_x_seconds_total{pid=\"42\",comm=\"q\\\"e\\\\mu\\n\"} 1.5\n") != NULL, "%s", t);
	CHECK("sample: grouped with its family",
	      strstr(t, "1.5\nkvmscope_x_seconds_total{pid=\"42\"} 7\n# HELP kvmscope_g") != NULL, "%s", t);
	CHECK("sample: u64 exact", strstr(t, "kvmscope_g{pid=\"42\"} 18446744073709551615\n") != NULL, "%s", t);
	CHECK("histogram: buckets cumulative, le canonical",
	      strstr(t, "kvmscope_lat_seconds_bucket{pid=\"42\",le=\"1e-06\"} 3\n"
			"kvmscope_lat_seconds_bucket{pid=\"42\",le=\"2e-06\"} 3\n"
			"kvmscope_lat_seconds_bucket{pid=\"42\",le=\"+Inf\"} 5\n"
			"kvmscope_lat_seconds_count{pid=\"42\"} 5\n"
			"kvmscope_lat_seconds_sum{pid=\"42\"} 7e-06\n") != NULL, "%s", t);
	CHECK("histogram: +Inf added when missing",
	      strstr(t, "kvmscope_nosum_bucket{le=\"2.0\"} 2\nkvmscope_nosum_bucket{le=\"+Inf\"} 2\n") != NULL,
	      "%s", t);
	CHECK("histogram: text has _count without _sum", strstr(t, "kvmscope_nosum_count 2\n") &&
	      !strstr(t, "kvmscope_nosum_sum"), "%s", t);
	CHECK("histogram: OpenMetrics has neither _count nor _sum without a sum",
	      !strstr(om, "kvmscope_nosum_count") && !strstr(om, "kvmscope_nosum_sum") &&
	      strstr(om, "kvmscope_nosum_bucket{le=\"+Inf\"} 2\n"), "%s", om);
	CHECK("om: ends with # EOF", strlen(om) >= 6 && !strcmp(om + strlen(om) - 6, "# EOF\n"), "%s", om);
	CHECK("text: no # EOF", !strstr(t, "# EOF"), "%s", t);
	CHECK("family without samples is left out", !strstr(t, "kvmscope_empty") &&
	      !strstr(om, "kvmscope_empty"), "%s", t);
	free(t);
	free(om);
	ks_prom_free(&w);
}

/* Series of one family with different bucket bounds each get their own
 * "le" values (the writer keeps the last bounds' strings). */
static void test_bounds_change(void)
{
	struct ks_prom w = { 0 };
	struct ks_prom_family *h = ks_prom_family(&w, "kvmscope_h", KS_PROM_HISTOGRAM, NULL, "h");
	struct ks_prom_label a[] = { { "vcpu", "0" } }, b[] = { { "vcpu", "1" } };
	double up1[] = { 1, 3, INFINITY }, up2[] = { 10, 30, INFINITY };
	uint64_t c[] = { 1, 2, 3 };
	char *t;

	ks_prom_histogram(h, a, 1, up1, c, 3, false, 0);
	ks_prom_histogram(h, b, 1, up2, c, 3, false, 0);
	ks_prom_histogram(h, a, 1, up1, c, 2, false, 0);
	t = render(&w, KS_PROM_TEXT);
	CHECK("histogram: bounds per series", t &&
	      strstr(t, "kvmscope_h_bucket{vcpu=\"0\",le=\"3.0\"} 3\n") &&
	      strstr(t, "kvmscope_h_bucket{vcpu=\"1\",le=\"30.0\"} 3\n") &&
	      strstr(t, "kvmscope_h_bucket{vcpu=\"1\",le=\"+Inf\"} 6\n"), "%s", t ? t : "(null)");
	CHECK("histogram: fewer buckets, +Inf added", t &&
	      strstr(t, "kvmscope_h_bucket{vcpu=\"0\",le=\"3.0\"} 3\nkvmscope_h_bucket{vcpu=\"0\",le=\"+Inf\"} 3\n"
			"kvmscope_h_count{vcpu=\"0\"} 3\n"), "%s", t ? t : "(null)");
	free(t);
	ks_prom_free(&w);
}

int main(void)
{
	test_escaping();
	test_numbers();
	test_families();
	test_bounds_change();
	UNIT_EXIT();
}
