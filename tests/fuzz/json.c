/*
 * Fuzz target: JSON output (tracer/lib/json.c), which carries names
 * chosen by other processes. Mode 0: one hostile string through the JSON
 * escaper (the literal must be valid JSON and decode back to the same
 * bytes) and through the text escaper (one printable line that unescapes
 * back). Mode 1: a record built from a random sequence of calls must be
 * one valid JSON line, however deep or odd.
 */
#define _GNU_SOURCE
#include <math.h>
#include "fuzz.h"
#include "jsoncheck.h"
#include "lib/json.h"

static void fuzz_string(const char *s)
{
	size_t len = strlen(s), tlen, dlen;
	char *text = NULL, tbuf[300];
	unsigned char *dec;
	FILE *f = open_memstream(&text, &tlen);

	FUZZ_ASSERT(f, "open_memstream failed");
	ks_json_string(f, s);
	fclose(f);
	dec = malloc(tlen + 1);
	FUZZ_ASSERT(dec, "out of memory");
	FUZZ_ASSERT(jc_decode(text, tlen, dec, &dlen), "not a valid JSON string: %s", text);
	FUZZ_ASSERT(dlen == len && !memcmp(dec, s, len), "does not decode back: %s", text);
	free(dec);
	free(text);

	/* Text escaping: printable, one line, and reversible when it fits. */
	for (size_t room = 1; room <= sizeof(tbuf); room += room < 8 ? 1 : 97) {
		const unsigned char *p = (const unsigned char *)ks_text_escape(s, tbuf, room);
		size_t n = strlen(tbuf), o = 0;
		unsigned char *back = malloc(n + 1);

		FUZZ_ASSERT(p == (const unsigned char *)tbuf && n < room, "escaped past %zu", room);
		FUZZ_ASSERT(back, "out of memory");
		while (*p) {
			int u = p[0] < 0x20 || p[0] == 0x7f ? 0 : jc_utf8(p, p + strlen((const char *)p));

			FUZZ_ASSERT(u, "unprintable byte 0x%02x in text escape", p[0]);
			if (*p != '\\') {
				memcpy(back + o, p, (size_t)u), o += (size_t)u, p += u;
				continue;
			}
			switch (p[1]) {
			case '\\': back[o++] = '\\'; p += 2; break;
			case 'n': back[o++] = '\n'; p += 2; break;
			case 't': back[o++] = '\t'; p += 2; break;
			case 'x':
				FUZZ_ASSERT(jc_hex(p[2]) >= 0 && jc_hex(p[3]) >= 0, "bad \\x escape");
				back[o++] = (unsigned char)(jc_hex(p[2]) << 4 | jc_hex(p[3]));
				p += 4;
				break;
			default:
				FUZZ_ASSERT(0, "unknown escape \\%c", p[1]);
			}
		}
		/* What came out is a prefix of the input; all of it if room allowed. */
		FUZZ_ASSERT(o <= len && !memcmp(back, s, o), "text escape does not unescape back");
		FUZZ_ASSERT(o == len || n + 4 >= room, "text escape stopped early (%zu of %zu)", o, len);
		free(back);
	}
}

/* v x 10^e as ks_json_dec must write it, built another way: the digits
 * of v with e zeros after them or a point e places from their end, the
 * fraction's trailing zeros dropped. */
static void ref_dec(uint64_t v, int e, char *out)
{
	char d[96];
	int n = snprintf(d, sizeof(d), "%llu", (unsigned long long)v), intlen;

	if (e >= 0 || !v) {
		for (int i = 0; v && i < e; i++)
			d[n++] = '0';
		d[n] = '\0';
		strcpy(out, d);
		return;
	}
	/* Left-pad so that the point falls inside the digits. */
	if (n <= -e) {
		memmove(d + (-e - n + 1), d, (size_t)n + 1);
		memset(d, '0', (size_t)(-e - n + 1));
		n = -e + 1;
	}
	intlen = n + e;
	memcpy(out, d, (size_t)intlen);
	out[intlen] = '.';
	strcpy(out + intlen + 1, d + intlen);
	n = (int)strlen(out);
	while (out[n - 1] == '0')
		out[--n] = '\0';
	if (out[n - 1] == '.')
		out[--n] = '\0';
}

/* One exact decimal, checked against ref_dec. */
static void check_dec(uint64_t v, int e)
{
	char *text = NULL, want[128];
	size_t tlen;
	struct ks_json j;
	FILE *f = open_memstream(&text, &tlen);

	FUZZ_ASSERT(f, "open_memstream failed");
	ks_json_open(&j, f);
	ks_json_dec(&j, "v", v, e);
	ks_json_finish(&j);
	fclose(f);
	ref_dec(v, e, want);
	FUZZ_ASSERT(tlen == strlen(want) + 6 && !strncmp(text + 5, want, strlen(want)),
		    "%llu x 10^%d: %s, want %s", (unsigned long long)v, e, text, want);
	free(text);
}

/* Mode 1: data drives calls; keys inside objects, none inside arrays, as
 * the API asks. The container stack mirrors what was opened. */
static void fuzz_record(const uint8_t *d, size_t n)
{
	char *text = NULL, stack[256], str[17];
	size_t tlen, i = 0;
	int top = 0; /* stack[0] is the record's own object */
	struct ks_json j;
	FILE *f = open_memstream(&text, &tlen);

	FUZZ_ASSERT(f, "open_memstream failed");
	stack[0] = '{';
	ks_json_begin(&j, f, "fuzz", 1);
	while (i < n) {
		uint8_t op = d[i++];
		const char *key = stack[top] == '{' ? "k" : NULL;
		uint64_t v = 0;
		double dv;
		size_t sl = 0;

		/* Then up to 16 bytes of argument, ended by 0xff. */
		while (sl < 16 && i < n && d[i] != 0xff)
			str[sl++] = (char)d[i++];
		if (i < n && d[i] == 0xff)
			i++;
		str[sl] = '\0';
		if (sl)
			key = stack[top] == '{' ? str : NULL;
		memcpy(&v, str, sl < 8 ? sl : 8);
		switch (op % 11) {
		case 0:
		case 1:
			if (top + 1 < (int)sizeof(stack)) {
				stack[++top] = op % 10 ? '[' : '{';
				(op % 10 ? ks_json_arr : ks_json_obj)(&j, key);
			}
			break;
		case 2:
			if (top > 0) {
				top--;
				ks_json_close(&j);
			}
			break;
		case 3:
			if (key)
				ks_json_str(&j, key, str);
			else
				ks_json_arr_str(&j, str);
			break;
		case 4:
			if (key)
				ks_json_u64(&j, key, v);
			else
				ks_json_arr_u64(&j, v);
			break;
		case 5:
			ks_json_i64(&j, key, (int64_t)v);
			break;
		case 6:
			memcpy(&dv, &v, sizeof(dv));
			ks_json_double(&j, key, dv);
			break;
		case 7:
			ks_json_double(&j, key, op & 0x10 ? NAN : -INFINITY);
			break;
		case 8:
			ks_json_bool(&j, key, v & 1);
			break;
		case 9:
			ks_json_str(&j, key, NULL);
			break;
		case 10:
			/* Exponents past ±24 fall back to a double. */
			ks_json_dec(&j, key, v, (int)(int8_t)op % 30);
			if ((int8_t)op % 30 >= -24 && (int8_t)op % 30 <= 24)
				check_dec(v, (int8_t)op % 30);
			break;
		}
	}
	ks_json_end(&j);
	fclose(f);
	FUZZ_ASSERT(tlen >= 1 && text[tlen - 1] == '\n' && !memchr(text, '\n', tlen - 1),
		    "not one line: %s", text);
	FUZZ_ASSERT(jc_valid(text, tlen - 1), "not valid JSON: %s", text);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		fuzz_record(data + 1, size - 1);
		return 0;
	}
	s = fuzz_cstr(data + 1, size - 1);
	fuzz_string(s);
	free(s);
	return 0;
}
