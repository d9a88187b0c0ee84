/* SPDX-License-Identifier: GPL-2.0 */
/*
 * JSON lines output: one object per line, built with calls that cannot
 * produce invalid JSON (commas and nesting tracked here, every string
 * escaped, non-UTF-8 bytes and control characters included).
 */
#ifndef KS_JSON_H
#define KS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>

#define KS_JSON_SCHEMA 2
#define KS_JSON_DEPTH 8
/* A record is built in its own buffer and handed to stdio in pieces this
 * large (a whole record, usually): numbers and names go in without a stdio
 * call per character or a printf per number. */
#define KS_JSON_BUF 4096

struct ks_json {
	FILE *f;
	int depth;
	bool need_comma[KS_JSON_DEPTH];
	char closer[KS_JSON_DEPTH];   /* '}' or ']' for each open level */
	int muted;                    /* levels opened past KS_JSON_DEPTH */
	size_t len;                   /* bytes in buf not yet given to f */
	char buf[KS_JSON_BUF];
};

/* Writes s as a JSON string literal (quotes included) to f. Bytes that are
 * not valid UTF-8 become \u00XX escapes of the byte so nothing is lost. */
void ks_json_string(FILE *f, const char *s);

/* For text output and error lines: s with backslashes, control bytes (DEL
 * included) and bytes that are not UTF-8 written as \\, \n, \t or \xNN, so a
 * hostile name can neither break a line nor send terminal escapes. Writes
 * at most len bytes (whole escapes only, NUL included) into buf; returns buf. */
const char *ks_text_escape(const char *s, char *buf, size_t len);

/* Output failures (EPIPE from a closed pipe, ENOSPC, ...): the first errno
 * is kept for the one line that reports it, since the error paths that run
 * before that line clobber errno. ks_output_check flushes f and returns -1
 * if the stream has failed; ks_output_note records err directly (a closed
 * pipe seen by poll). */
int ks_output_check(FILE *f);
void ks_output_note(int err);
const char *ks_output_error(void);

/* The decimal digits of v, written backwards from end (room for 20):
 * returns the first. Numbers without printf, for JSON and tables. */
char *ks_u64_digits(uint64_t v, char *end);

void ks_json_begin(struct ks_json *j, FILE *f, const char *type, uint64_t ts_ns);
/* Ends the line and flushes; returns -1 if the stream failed (EPIPE...). */
int ks_json_end(struct ks_json *j);
/* Ends the line without flushing: for records written in a batch, which
 * the caller flushes once (ks_output_check) for one write per batch. */
void ks_json_end_batch(struct ks_json *j);
void ks_json_str(struct ks_json *j, const char *key, const char *v);
void ks_json_u64(struct ks_json *j, const char *key, uint64_t v);
void ks_json_i64(struct ks_json *j, const char *key, int64_t v);
void ks_json_double(struct ks_json *j, const char *key, double v);
/* v × 10^exp10 written exactly as a decimal, no exponent, no trailing
 * zeros: (1234, -9) -> 0.000001234, (5, 0) -> 5, (7, 2) -> 700. Exponents
 * beyond ±24 (none in use) are written as ks_json_double would. */
void ks_json_dec(struct ks_json *j, const char *key, uint64_t v, int exp10);
void ks_json_bool(struct ks_json *j, const char *key, bool v);
void ks_json_null(struct ks_json *j, const char *key);  /* not measured */
void ks_json_obj(struct ks_json *j, const char *key);   /* key NULL inside arrays */
void ks_json_arr(struct ks_json *j, const char *key);
void ks_json_close(struct ks_json *j);                  /* ends obj or arr */
void ks_json_arr_u64(struct ks_json *j, uint64_t v);    /* element of an array */
void ks_json_arr_str(struct ks_json *j, const char *v); /* element of an array */

/* A member name escaped once, for records that repeat the same names
 * (kvmscope stats writes every statistic's name at every sample): the
 * name's literal and the colon, copied as they are. */
struct ks_json_name {
	char *lit;
	size_t len;
};
/* 0, or -1 (out of memory, or a name too long to escape here). */
int ks_json_name_set(struct ks_json_name *n, const char *name);
void ks_json_name_free(struct ks_json_name *n);
/* ks_json_dec, ks_json_u64 and ks_json_arr with a prepared name. */
void ks_json_dec_n(struct ks_json *j, const struct ks_json_name *n, uint64_t v, int exp10);
void ks_json_u64_n(struct ks_json *j, const struct ks_json_name *n, uint64_t v);
void ks_json_arr_n(struct ks_json *j, const struct ks_json_name *n);

/* A bare object, without the JSON-lines header (type, schema, ts_ns) and
 * without the newline and flush: for other JSON formats written with the
 * same builder (the Chrome trace, tracer/lib/trace_chrome.c). */
void ks_json_open(struct ks_json *j, FILE *f);
void ks_json_finish(struct ks_json *j);   /* closes what is open and the object */
/* v thousandths, written exactly as a decimal: 1234567 -> 1234.567 (ns as us). */
void ks_json_milli(struct ks_json *j, const char *key, uint64_t v);

#endif
