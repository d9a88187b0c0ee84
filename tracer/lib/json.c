// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "lib/json.h"

static int output_errno;

void ks_output_note(int err)
{
	if (!output_errno)
		output_errno = err ? err : EIO;
}

int ks_output_check(FILE *f)
{
	if (fflush(f) == 0 && !ferror(f))
		return 0;
	ks_output_note(errno);
	return -1;
}

const char *ks_output_error(void)
{
	return strerror(output_errno ? output_errno : EIO);
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
	int n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past Unicode are invalid. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* --- the record's buffer ----------------------------------------------------- */

static void drain(struct ks_json *j)
{
	if (j->len)
		fwrite(j->buf, 1, j->len, j->f);
	j->len = 0;
}

static void put(struct ks_json *j, const char *s, size_t n)
{
	if (j->len + n > sizeof(j->buf)) {
		drain(j);
		if (n > sizeof(j->buf)) {
			fwrite(s, 1, n, j->f);
			return;
		}
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

static void put_c(struct ks_json *j, char c)
{
	if (j->len == sizeof(j->buf))
		drain(j);
	j->buf[j->len++] = c;
}

char *ks_u64_digits(uint64_t v, char *end)
{
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char *p = end;

	/* Two digits per division: half the work of one at a time. */
	while (v >= 100) {
		unsigned int r = (unsigned int)(v % 100);

		v /= 100;
		p -= 2;
		p[0] = pairs[2 * r];
		p[1] = pairs[2 * r + 1];
	}
	if (v >= 10) {
		p -= 2;
		p[0] = pairs[2 * v];
		p[1] = pairs[2 * v + 1];
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

static void put_u64(struct ks_json *j, uint64_t v)
{
	char buf[24], *p = ks_u64_digits(v, buf + sizeof(buf));

	put(j, p, (size_t)(buf + sizeof(buf) - p));
}

static void put_i64(struct ks_json *j, int64_t v)
{
	if (v < 0) {
		put_c(j, '-');
		put_u64(j, -(uint64_t)v);
		return;
	}
	put_u64(j, (uint64_t)v);
}

static void put_string(struct ks_json *j, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");

	put_c(j, '"');
	while (*s) {
		char *b = j->buf + j->len, *e = j->buf + sizeof(j->buf);
		int n;

		/* Printable ASCII but for the quote and the backslash (every
		 * statistic and key name) is copied as it is scanned. */
		while (b < e && *s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
			*b++ = (char)*s++;
		j->len = (size_t)(b - j->buf);
		if (!*s)
			break;
		if (b == e) {
			drain(j);
			continue;
		}
		n = utf8_len(s);
		if (*s == '"' || *s == '\\') {
			put_c(j, '\\');
			put_c(j, (char)*s);
		} else if (*s == '\n') {
			put(j, "\\n", 2);
		} else if (*s == '\t') {
			put(j, "\\t", 2);
		} else if (*s < 0x20 || *s == 0x7f || n == 0) {
			char esc[8];

			snprintf(esc, sizeof(esc), "\\u%04x", *s);
			put(j, esc, 6);
			n = 1;
		} else {
			put(j, (const char *)s, (size_t)n);
		}
		s += n ? n : 1;
	}
	put_c(j, '"');
}

void ks_json_string(FILE *f, const char *str)
{
	struct ks_json j = { .f = f };

	put_string(&j, str);
	drain(&j);
}

const char *ks_text_escape(const char *str, char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t o = 0;

	if (!len)
		return buf;
	while (*s) {
		char esc[5];
		int n = utf8_len(s), k;

		if (*s == '\\')
			k = snprintf(esc, sizeof(esc), "\\\\");
		else if (*s == '\n')
			k = snprintf(esc, sizeof(esc), "\\n");
		else if (*s == '\t')
			k = snprintf(esc, sizeof(esc), "\\t");
		else if (*s < 0x20 || *s == 0x7f || n == 0)
			k = snprintf(esc, sizeof(esc), "\\x%02x", *s), n = 1;
		else
			k = 0;
		if (o + (size_t)(k ? k : n) >= len)
			break;
		if (k)
			memcpy(buf + o, esc, (size_t)k), o += (size_t)k;
		else
			memcpy(buf + o, s, (size_t)n), o += (size_t)n;
		s += n;
	}
	buf[o] = '\0';
	return buf;
}

/* Starts a member (or an element, k NULL); false inside a muted level,
 * whose content is dropped. */
static bool key(struct ks_json *j, const char *k)
{
	if (j->muted)
		return false;
	if (j->need_comma[j->depth])
		put_c(j, ',');
	j->need_comma[j->depth] = true;
	if (k) {
		put_string(j, k);
		put_c(j, ':');
	}
	return true;
}

/* A fresh record (the buffer's 4 KiB need no clearing). */
static void reset(struct ks_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->muted = 0;
	j->len = 0;
	memset(j->need_comma, 0, sizeof(j->need_comma));
	memset(j->closer, 0, sizeof(j->closer));
	put_c(j, '{');
}

void ks_json_begin(struct ks_json *j, FILE *f, const char *type, uint64_t ts_ns)
{
	reset(j, f);
	ks_json_str(j, "type", type);
	ks_json_u64(j, "schema", KS_JSON_SCHEMA);
	ks_json_u64(j, "ts_ns", ts_ns);
}

void ks_json_open(struct ks_json *j, FILE *f)
{
	reset(j, f);
}

void ks_json_finish(struct ks_json *j)
{
	j->muted = 0;
	while (j->depth > 0)
		ks_json_close(j);
	put_c(j, '}');
	drain(j);
}

void ks_json_end_batch(struct ks_json *j)
{
	j->muted = 0;
	while (j->depth > 0)
		ks_json_close(j);
	put(j, "}\n", 2);
	drain(j);
}

int ks_json_end(struct ks_json *j)
{
	ks_json_end_batch(j);
	return ks_output_check(j->f);
}

void ks_json_str(struct ks_json *j, const char *k, const char *v)
{
	if (!key(j, k))
		return;
	put_string(j, v);
}

void ks_json_u64(struct ks_json *j, const char *k, uint64_t v)
{
	if (!key(j, k))
		return;
	put_u64(j, v);
}

void ks_json_milli(struct ks_json *j, const char *k, uint64_t v)
{
	char frac[4] = { (char)('0' + v / 100 % 10), (char)('0' + v / 10 % 10),
			 (char)('0' + v % 10), '\0' };

	if (!key(j, k))
		return;
	put_u64(j, v / 1000);
	put_c(j, '.');
	put(j, frac, 3);
}

void ks_json_i64(struct ks_json *j, const char *k, int64_t v)
{
	if (!key(j, k))
		return;
	put_i64(j, v);
}

static void put_double(struct ks_json *j, double v)
{
	char buf[40];
	int n;

	/* JSON has no NaN or infinity. */
	if (!isfinite(v)) {
		put(j, "null", 4);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%.9g", v);
	put(j, buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
}

void ks_json_double(struct ks_json *j, const char *k, double v)
{
	if (!key(j, k))
		return;
	put_double(j, v);
}

static void put_dec(struct ks_json *j, uint64_t v, int exp10)
{
	char buf[24], *end = buf + sizeof(buf), *p = ks_u64_digits(v, end);
	size_t nd = (size_t)(end - p), frac;

	if (exp10 < -24 || exp10 > 24) {
		put_double(j, (double)v * pow(10.0, exp10));
		return;
	}
	if (exp10 >= 0 || !v) {
		put(j, p, nd);
		for (int i = 0; v && i < exp10; i++)
			put_c(j, '0');
		return;
	}
	/* The fraction's digits are the last -exp10 (zero-padded on the
	 * left); its trailing zeros go. */
	frac = (size_t)-exp10;
	while (frac && end[-1] == '0' && nd > 0) {
		end--;
		nd--;
		frac--;
	}
	if (!frac) {
		put(j, p, nd);
		return;
	}
	if (nd > frac) {
		put(j, p, nd - frac);
		p += nd - frac;
		nd = frac;
	} else {
		put_c(j, '0');
	}
	put_c(j, '.');
	for (size_t i = nd; i < frac; i++)
		put_c(j, '0');
	put(j, p, nd);
}

void ks_json_dec(struct ks_json *j, const char *k, uint64_t v, int exp10)
{
	if (!key(j, k))
		return;
	put_dec(j, v, exp10);
}

void ks_json_bool(struct ks_json *j, const char *k, bool v)
{
	if (!key(j, k))
		return;
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

void ks_json_null(struct ks_json *j, const char *k)
{
	if (key(j, k))
		put(j, "null", 4);
}

static bool key_n(struct ks_json *j, const struct ks_json_name *n);

static void open_(struct ks_json *j, const char *k, const struct ks_json_name *n, char c)
{
	/* Deeper nesting than KS_JSON_DEPTH (the schema never needs it): the
	 * container becomes null and what goes into it is dropped, so the
	 * line stays valid JSON; its closing call unmutes. */
	if (j->muted || j->depth >= KS_JSON_DEPTH - 1) {
		if (n ? key_n(j, n) : key(j, k))
			put(j, "null", 4);
		j->muted++;
		return;
	}
	if (n)
		key_n(j, n);
	else
		key(j, k);
	put_c(j, c);
	j->depth++;
	j->need_comma[j->depth] = false;
	j->closer[j->depth] = c == '{' ? '}' : ']';
}

void ks_json_obj(struct ks_json *j, const char *k)
{
	open_(j, k, NULL, '{');
}

void ks_json_arr(struct ks_json *j, const char *k)
{
	open_(j, k, NULL, '[');
}

void ks_json_close(struct ks_json *j)
{
	if (j->muted) {
		j->muted--;
		return;
	}
	if (j->depth == 0)
		return;
	put_c(j, j->closer[j->depth]);
	j->depth--;
}

void ks_json_arr_u64(struct ks_json *j, uint64_t v)
{
	if (!key(j, NULL))
		return;
	put_u64(j, v);
}

void ks_json_arr_str(struct ks_json *j, const char *v)
{
	if (!key(j, NULL))
		return;
	put_string(j, v);
}

/* --- prepared names ------------------------------------------------------- */

int ks_json_name_set(struct ks_json_name *n, const char *name)
{
	struct ks_json tmp;

	n->lit = NULL;
	n->len = 0;
	/* Escaped, a byte takes at most 6 (\u00XX): the whole literal must
	 * fit tmp's buffer, which then never drains (tmp has no stream). */
	if (!name || strlen(name) > (KS_JSON_BUF - 4) / 6)
		return -1;
	tmp.f = NULL;
	tmp.len = 0;
	put_string(&tmp, name);
	put_c(&tmp, ':');
	n->lit = malloc(tmp.len);
	if (!n->lit)
		return -1;
	memcpy(n->lit, tmp.buf, tmp.len);
	n->len = tmp.len;
	return 0;
}

void ks_json_name_free(struct ks_json_name *n)
{
	free(n->lit);
	n->lit = NULL;
	n->len = 0;
}

/* key() with a prepared name. */
static bool key_n(struct ks_json *j, const struct ks_json_name *n)
{
	if (j->muted)
		return false;
	if (j->need_comma[j->depth])
		put_c(j, ',');
	j->need_comma[j->depth] = true;
	put(j, n->lit, n->len);
	return true;
}

void ks_json_dec_n(struct ks_json *j, const struct ks_json_name *n, uint64_t v, int exp10)
{
	if (key_n(j, n))
		put_dec(j, v, exp10);
}

void ks_json_u64_n(struct ks_json *j, const struct ks_json_name *n, uint64_t v)
{
	if (key_n(j, n))
		put_u64(j, v);
}

void ks_json_arr_n(struct ks_json *j, const struct ks_json_name *n)
{
	open_(j, NULL, n, '[');
}
