/* SPDX-License-Identifier: GPL-2.0 */
/* Parsers for command-line values. Each returns 0 on success or -1 after
 * writing a one-line reason into err (what was wrong and what is accepted). */
#ifndef KS_PARSE_H
#define KS_PARSE_H

#include <stdint.h>
#include <stddef.h>

/* "250ms", "2s", "1.5s", "3m", "100us"; a bare number means seconds.
 * Result in ns, within [min_ns, max_ns]. */
int ks_parse_duration(const char *s, uint64_t min_ns, uint64_t max_ns,
		      uint64_t *out_ns, char *err, size_t errlen);
/* A decimal integer within [min, max], nothing else on the line. */
int ks_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
		 char *err, size_t errlen);
/* A process id: positive decimal that fits pid_t. Existence is not checked. */
int ks_parse_pid(const char *s, int *out, char *err, size_t errlen);
/* A comma-separated list of names ("a,b,,c": empty names are skipped).
 * Splits buf in place: names[] point into it. At least one name, at most
 * max; returns the count or -1. */
int ks_parse_names(char *buf, char **names, int max, char *err, size_t errlen);

#endif
