/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A strict JSON (RFC 8259) checker for the fuzz targets: the whole text is
 * one value, strings are valid UTF-8 without raw control characters, and
 * escapes are the standard ones. Also decodes a string literal back to
 * bytes by kvmscope's convention (json.h): \u0080-\u00ff escapes stand for
 * single bytes that were not UTF-8.
 */
#ifndef KS_JSONCHECK_H
#define KS_JSONCHECK_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct jc {
	const unsigned char *p, *end;
	int depth;
};

static bool jc_value(struct jc *c);

static void jc_ws(struct jc *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

/* Length of one valid UTF-8 sequence at p (within end), else 0. */
static int jc_utf8(const unsigned char *p, const unsigned char *end)
{
	unsigned int cp;
	int n;

	if (*p < 0x80)
		return 1;
	if ((*p & 0xe0) == 0xc0)
		n = 2, cp = *p & 0x1f;
	else if ((*p & 0xf0) == 0xe0)
		n = 3, cp = *p & 0x0f;
	else if ((*p & 0xf8) == 0xf0)
		n = 4, cp = *p & 0x07;
	else
		return 0;
	if (end - p < n)
		return 0;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static int jc_hex(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (unsigned char)tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* A string literal at c->p. With out (room for as many bytes as the
 * literal has), the decoded bytes go there and *outlen is set. */
static bool jc_string(struct jc *c, unsigned char *out, size_t *outlen)
{
	size_t o = 0;

	if (c->p >= c->end || *c->p != '"')
		return false;
	c->p++;
	while (c->p < c->end && *c->p != '"') {
		if (*c->p == '\\') {
			unsigned int v = 0;

			if (c->end - c->p < 2)
				return false;
			switch (c->p[1]) {
			case '"': case '\\': case '/': v = c->p[1]; break;
			case 'b': v = '\b'; break;
			case 'f': v = '\f'; break;
			case 'n': v = '\n'; break;
			case 'r': v = '\r'; break;
			case 't': v = '\t'; break;
			case 'u':
				if (c->end - c->p < 6)
					return false;
				for (int i = 2; i < 6; i++) {
					int h = jc_hex(c->p[i]);

					if (h < 0)
						return false;
					v = v << 4 | (unsigned int)h;
				}
				/* kvmscope only escapes single bytes. */
				if (out && v > 0xff)
					return false;
				c->p += 4;
				break;
			default:
				return false;
			}
			c->p += 2;
			if (out)
				out[o++] = (unsigned char)v;
		} else {
			int n = *c->p < 0x20 ? 0 : jc_utf8(c->p, c->end);

			if (!n)
				return false;
			if (out)
				memcpy(out + o, c->p, (size_t)n), o += (size_t)n;
			c->p += n;
		}
	}
	if (c->p >= c->end)
		return false;
	c->p++;
	if (outlen)
		*outlen = o;
	return true;
}

static bool jc_number(struct jc *c)
{
	const unsigned char *s = c->p;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end || !isdigit(*c->p))
		return false;
	if (*c->p == '0')
		c->p++;
	else
		while (c->p < c->end && isdigit(*c->p))
			c->p++;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (c->p >= c->end || !isdigit(*c->p))
			return false;
		while (c->p < c->end && isdigit(*c->p))
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || !isdigit(*c->p))
			return false;
		while (c->p < c->end && isdigit(*c->p))
			c->p++;
	}
	return c->p > s;
}

static bool jc_word(struct jc *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n))
		return false;
	c->p += n;
	return true;
}

static bool jc_container(struct jc *c, unsigned char open, unsigned char close)
{
	bool first = true;

	if (++c->depth > 64)
		return false;
	c->p++; /* open */
	(void)open;
	for (;;) {
		jc_ws(c);
		if (c->p < c->end && *c->p == close) {
			c->p++;
			c->depth--;
			return true;
		}
		if (!first) {
			if (c->p >= c->end || *c->p != ',')
				return false;
			c->p++;
			jc_ws(c);
		}
		first = false;
		if (close == '}') {
			if (!jc_string(c, NULL, NULL))
				return false;
			jc_ws(c);
			if (c->p >= c->end || *c->p != ':')
				return false;
			c->p++;
		}
		if (!jc_value(c))
			return false;
	}
}

static bool jc_value(struct jc *c)
{
	jc_ws(c);
	if (c->p >= c->end)
		return false;
	switch (*c->p) {
	case '{': return jc_container(c, '{', '}');
	case '[': return jc_container(c, '[', ']');
	case '"': return jc_string(c, NULL, NULL);
	case 't': return jc_word(c, "true");
	case 'f': return jc_word(c, "false");
	case 'n': return jc_word(c, "null");
	default: return jc_number(c);
	}
}

/* Is text[0, len) exactly one JSON value (surrounding blanks allowed)? */
static inline bool jc_valid(const char *text, size_t len)
{
	struct jc c = { (const unsigned char *)text, (const unsigned char *)text + len, 0 };

	if (!jc_value(&c))
		return false;
	jc_ws(&c);
	return c.p == c.end;
}

/* Decodes the one string literal that is text[0, len) into out (len bytes
 * of room); false if it is not exactly one valid literal. */
static inline bool jc_decode(const char *text, size_t len, unsigned char *out, size_t *outlen)
{
	struct jc c = { (const unsigned char *)text, (const unsigned char *)text + len, 0 };

	return jc_string(&c, out, outlen) && c.p == c.end;
}

#endif
