// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <string.h>
#include "common/json.h"

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

void ks_json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");

	fputc('"', f);
	while (*s) {
		int n = utf8_len(s);

		if (*s == '"' || *s == '\\') {
			fputc('\\', f);
			fputc(*s, f);
		} else if (*s == '\n') {
			fputs("\\n", f);
		} else if (*s == '\t') {
			fputs("\\t", f);
		} else if (*s < 0x20 || *s == 0x7f || n == 0) {
			fprintf(f, "\\u%04x", *s);
			n = 1;
		} else {
			fwrite(s, 1, n, f);
		}
		s += n ? n : 1;
	}
	fputc('"', f);
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
		fputc(',', j->f);
	j->need_comma[j->depth] = true;
	if (k) {
		ks_json_string(j->f, k);
		fputc(':', j->f);
	}
	return true;
}

void ks_json_begin(struct ks_json *j, FILE *f, const char *type, uint64_t ts_ns)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	fputc('{', f);
	ks_json_str(j, "type", type);
	ks_json_u64(j, "schema", KS_JSON_SCHEMA);
	ks_json_u64(j, "ts_ns", ts_ns);
}

void ks_json_open(struct ks_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	fputc('{', f);
}

void ks_json_finish(struct ks_json *j)
{
	while (j->depth > 0)
		ks_json_close(j);
	fputc('}', j->f);
}

int ks_json_end(struct ks_json *j)
{
	j->muted = 0;
	while (j->depth > 0)
		ks_json_close(j);
	fputs("}\n", j->f);
	return ks_output_check(j->f);
}

void ks_json_str(struct ks_json *j, const char *k, const char *v)
{
	if (!key(j, k))
		return;
	ks_json_string(j->f, v);
}

void ks_json_u64(struct ks_json *j, const char *k, uint64_t v)
{
	if (!key(j, k))
		return;
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void ks_json_milli(struct ks_json *j, const char *k, uint64_t v)
{
	key(j, k);
	fprintf(j->f, "%llu.%03llu", (unsigned long long)(v / 1000), (unsigned long long)(v % 1000));
}

void ks_json_i64(struct ks_json *j, const char *k, int64_t v)
{
	if (!key(j, k))
		return;
	fprintf(j->f, "%lld", (long long)v);
}

void ks_json_double(struct ks_json *j, const char *k, double v)
{
	if (!key(j, k))
		return;
	/* JSON has no NaN or infinity. */
	if (isfinite(v))
		fprintf(j->f, "%.9g", v);
	else
		fputs("null", j->f);
}

void ks_json_bool(struct ks_json *j, const char *k, bool v)
{
	if (!key(j, k))
		return;
	fputs(v ? "true" : "false", j->f);
}

void ks_json_null(struct ks_json *j, const char *k)
{
	if (key(j, k))
		fputs("null", j->f);
}

static void open_(struct ks_json *j, const char *k, char c)
{
	/* Deeper nesting than KS_JSON_DEPTH (the schema never needs it): the
	 * container becomes null and what goes into it is dropped, so the
	 * line stays valid JSON; its closing call unmutes. */
	if (j->muted || j->depth >= KS_JSON_DEPTH - 1) {
		if (key(j, k))
			fputs("null", j->f);
		j->muted++;
		return;
	}
	key(j, k);
	fputc(c, j->f);
	j->depth++;
	j->need_comma[j->depth] = false;
	j->closer[j->depth] = c == '{' ? '}' : ']';
}

void ks_json_obj(struct ks_json *j, const char *k)
{
	open_(j, k, '{');
}

void ks_json_arr(struct ks_json *j, const char *k)
{
	open_(j, k, '[');
}

void ks_json_close(struct ks_json *j)
{
	if (j->muted) {
		j->muted--;
		return;
	}
	if (j->depth == 0)
		return;
	fputc(j->closer[j->depth], j->f);
	j->depth--;
}

void ks_json_arr_u64(struct ks_json *j, uint64_t v)
{
	if (!key(j, NULL))
		return;
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void ks_json_arr_str(struct ks_json *j, const char *v)
{
	if (!key(j, NULL))
		return;
	ks_json_string(j->f, v);
}
