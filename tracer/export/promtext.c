// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "export/promtext.h"

/* Each stored sample line starts with one of these, stripped on output. */
#define LINE_BOTH 'B'
#define LINE_TEXT_ONLY 'T'

struct ks_prom_family {
	char name[160];
	enum ks_prom_type type;
	char unit[16];
	char *help;
	struct ks_buf lines;
	/* Histograms: the last bucket bounds and their "le" strings, which
	 * every series of a family shares; formatting floats is dear. */
	double *le_val;
	char (*le_str)[40];
	unsigned int n_le;
};

static bool grow(struct ks_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + need + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + need + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void ks_buf_put(struct ks_buf *b, const char *s, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ks_buf_puts(struct ks_buf *b, const char *s)
{
	ks_buf_put(b, s, strlen(s));
}

void ks_buf_printf(struct ks_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Decimal u64 and newline, without printf's machinery (the hot path). */
static void put_u64_nl(struct ks_buf *b, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	*--p = '\n';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	ks_buf_put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void ks_buf_free(struct ks_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one:
 * no overlongs, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
		       (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* Both formats are UTF-8: a byte that starts no valid sequence (a comm can
 * hold any bytes) becomes U+FFFD. quote: escape '"' as well. */
static void escape(struct ks_buf *b, const char *v, bool quote)
{
	const unsigned char *s = (const unsigned char *)v;

	while (*s) {
		const unsigned char *run = s;
		size_t n;

		/* Plain ASCII goes in one copy: labels are mostly that. */
		while (*s >= 0x20 && *s < 0x80 && *s != '\\' && (*s != '"' || !quote))
			s++;
		if (s > run)
			ks_buf_put(b, (const char *)run, (size_t)(s - run));
		if (!*s)
			break;
		n = utf8_len(s);
		if (*s == '\\')
			ks_buf_put(b, "\\\\", 2);
		else if (*s == '\n')
			ks_buf_put(b, "\\n", 2);
		else if (*s == '"' && quote)
			ks_buf_put(b, "\\\"", 2);
		else if (n)
			ks_buf_put(b, (const char *)s, n);
		else
			ks_buf_put(b, "\xef\xbf\xbd", 3);
		s += n ? n : 1;
	}
}

void ks_prom_escape_label(struct ks_buf *b, const char *v)
{
	escape(b, v, true);
}

/* The text format escapes only '\' and newline in HELP; OpenMetrics
 * escapes '"' too. */
void ks_prom_escape_help(struct ks_buf *b, const char *v, enum ks_prom_format fmt)
{
	escape(b, v, fmt == KS_PROM_OPENMETRICS);
}

void ks_prom_float(char *out, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(out, len, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Reading back as v is monotonic in the precision (17 always
	 * does): search for the smallest that does. */
	{
		int lo = 1, hi = 17;

		while (lo < hi) {
			int mid = (lo + hi) / 2;

			snprintf(out, len, "%.*g", mid, v);
			if (strtod(out, NULL) == v)
				hi = mid;
			else
				lo = mid + 1;
		}
		snprintf(out, len, "%.*g", lo, v);
		/* %g turns to exponent form as soon as the digits end before
		 * the point (10 -> "1e+01"); keep plain digits up to 10^6, as
		 * the Go and Python clients do. */
		if (strchr(out, 'e')) {
			int x = atoi(strchr(out, 'e') + 1);

			if (x >= 0 && x < 6)
				snprintf(out, len, "%.0f", v);
		}
	}
	if (!strpbrk(out, ".e") && strlen(out) + 3 <= len)
		strcat(out, ".0");
}

void ks_prom_metric_name(char *out, size_t len, const char *name)
{
	size_t i = 0;

	if (!len)
		return;
	if (*name >= '0' && *name <= '9' && len > 1)
		out[i++] = '_';
	for (; *name && i + 1 < len; name++) {
		char c = *name;

		out[i++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_' || c == ':' ? c : '_';
	}
	out[i] = '\0';
}

struct ks_prom_family *ks_prom_lookup(const struct ks_prom *w, const char *name)
{
	for (unsigned int i = 0; i < w->nfam; i++)
		if (!strcmp(w->fam[i]->name, name))
			return w->fam[i];
	return NULL;
}

struct ks_prom_family *ks_prom_family(struct ks_prom *w, const char *name, enum ks_prom_type type,
				      const char *unit, const char *help)
{
	struct ks_prom_family *f;
	char clean[sizeof(f->name)];

	ks_prom_metric_name(clean, sizeof(clean), name);
	f = ks_prom_lookup(w, clean);
	if (f)
		return f;
	if (w->nfam == w->capfam) {
		unsigned int cap = w->capfam ? w->capfam * 2 : 64;
		struct ks_prom_family **p = realloc(w->fam, cap * sizeof(*p));

		if (!p) {
			w->oom = true;
			return NULL;
		}
		w->fam = p;
		w->capfam = cap;
	}
	/* Each family on its own: callers keep the pointer. */
	f = calloc(1, sizeof(*f));
	if (!f || !(f->help = strdup(help ? help : ""))) {
		free(f);
		w->oom = true;
		return NULL;
	}
	snprintf(f->name, sizeof(f->name), "%s", clean);
	f->type = type;
	snprintf(f->unit, sizeof(f->unit), "%s", unit ? unit : "");
	w->fam[w->nfam++] = f;
	return f;
}

/* "B<name><suffix>{labels[,le="x"]} " */
static void line_start(struct ks_prom_family *f, char kind, const char *suffix,
		       const struct ks_prom_label *l, unsigned int nl, const char *le)
{
	struct ks_buf *b = &f->lines;

	ks_buf_put(b, &kind, 1);
	ks_buf_puts(b, f->name);
	ks_buf_puts(b, suffix);
	if (nl || le) {
		ks_buf_put(b, "{", 1);
		for (unsigned int i = 0; i < nl; i++) {
			if (i)
				ks_buf_put(b, ",", 1);
			ks_buf_puts(b, l[i].name);
			ks_buf_put(b, "=\"", 2);
			ks_prom_escape_label(b, l[i].value ? l[i].value : "");
			ks_buf_put(b, "\"", 1);
		}
		if (le) {
			ks_buf_puts(b, nl ? ",le=\"" : "le=\"");
			ks_buf_puts(b, le);
			ks_buf_put(b, "\"", 1);
		}
		ks_buf_put(b, "}", 1);
	}
	ks_buf_put(b, " ", 1);
}

void ks_prom_u64(struct ks_prom_family *f, const struct ks_prom_label *l, unsigned int nl,
		 uint64_t v)
{
	if (!f)
		return;
	line_start(f, LINE_BOTH, f->type == KS_PROM_COUNTER ? "_total" : "", l, nl, NULL);
	put_u64_nl(&f->lines, v);
}

void ks_prom_f64(struct ks_prom_family *f, const struct ks_prom_label *l, unsigned int nl,
		 double v)
{
	char num[40];

	if (!f)
		return;
	ks_prom_float(num, sizeof(num), v);
	/* Sample values need no canonical form: drop the ".0" of integers. */
	if (strlen(num) > 2 && !strcmp(num + strlen(num) - 2, ".0"))
		num[strlen(num) - 2] = '\0';
	line_start(f, LINE_BOTH, f->type == KS_PROM_COUNTER ? "_total" : "", l, nl, NULL);
	ks_buf_printf(&f->lines, "%s\n", num);
}

void ks_prom_histogram(struct ks_prom_family *f, const struct ks_prom_label *l, unsigned int nl,
		       const double *upper, const uint64_t *counts, unsigned int n,
		       bool have_sum, double sum)
{
	uint64_t cum = 0;
	char le[40];

	if (!f)
		return;
	if (n != f->n_le || (n && memcmp(upper, f->le_val, n * sizeof(double)))) {
		double *v = realloc(f->le_val, (n ? n : 1) * sizeof(*v));
		char (*str)[40] = v ? realloc(f->le_str, (n ? n : 1) * sizeof(*str)) : NULL;

		if (!v || !str) {
			f->le_val = v;
			f->lines.oom = true;
			return;
		}
		f->le_val = v;
		f->le_str = str;
		f->n_le = n;
		for (unsigned int i = 0; i < n; i++) {
			v[i] = upper[i];
			ks_prom_float(str[i], sizeof(str[i]), upper[i]);
		}
	}
	for (unsigned int i = 0; i < n; i++) {
		cum += counts[i];
		line_start(f, LINE_BOTH, "_bucket", l, nl, f->le_str[i]);
		put_u64_nl(&f->lines, cum);
	}
	if (!n || !isinf(upper[n - 1])) {
		line_start(f, LINE_BOTH, "_bucket", l, nl, "+Inf");
		put_u64_nl(&f->lines, cum);
	}
	line_start(f, have_sum ? LINE_BOTH : LINE_TEXT_ONLY, "_count", l, nl, NULL);
	put_u64_nl(&f->lines, cum);
	if (have_sum) {
		ks_prom_float(le, sizeof(le), sum);
		line_start(f, LINE_BOTH, "_sum", l, nl, NULL);
		ks_buf_printf(&f->lines, "%s\n", le);
	}
}

static const char *type_name(enum ks_prom_type t)
{
	return t == KS_PROM_COUNTER ? "counter" : t == KS_PROM_GAUGE ? "gauge" : "histogram";
}

int ks_prom_render(const struct ks_prom *w, enum ks_prom_format fmt, struct ks_buf *out)
{
	bool oom = w->oom;

	for (unsigned int i = 0; i < w->nfam; i++) {
		const struct ks_prom_family *f = w->fam[i];
		/* The text format names a counter family by its samples'
		 * name; OpenMetrics by the name without _total. */
		const char *suffix = fmt == KS_PROM_TEXT && f->type == KS_PROM_COUNTER ? "_total" : "";
		const char *p, *end;

		oom |= f->lines.oom;
		if (!f->lines.len)
			continue; /* no samples this time: no family */
		p = f->lines.p;
		end = p + f->lines.len;
		ks_buf_printf(out, "# HELP %s%s ", f->name, suffix);
		ks_prom_escape_help(out, f->help, fmt);
		ks_buf_printf(out, "\n# TYPE %s%s %s\n", f->name, suffix, type_name(f->type));
		if (fmt == KS_PROM_OPENMETRICS && f->unit[0])
			ks_buf_printf(out, "# UNIT %s %s\n", f->name, f->unit);
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

			if (*p == LINE_BOTH || fmt == KS_PROM_TEXT)
				ks_buf_put(out, p + 1, n - 1);
			p += n;
		}
	}
	if (fmt == KS_PROM_OPENMETRICS)
		ks_buf_puts(out, "# EOF\n");
	return oom || out->oom ? -1 : 0;
}

void ks_prom_free(struct ks_prom *w)
{
	for (unsigned int i = 0; i < w->nfam; i++) {
		free(w->fam[i]->help);
		free(w->fam[i]->le_val);
		free(w->fam[i]->le_str);
		ks_buf_free(&w->fam[i]->lines);
		free(w->fam[i]);
	}
	free(w->fam);
	memset(w, 0, sizeof(*w));
}
