/* SPDX-License-Identifier: GPL-2.0 */
/* A buffer compressed whole into the gzip format (RFC 1952), for HTTP's
 * Content-Encoding: gzip (export's pages shrink about tenfold). */
#ifndef KS_GZIP_H
#define KS_GZIP_H

#include <stddef.h>

/* *out (malloc'ed, the caller frees it) and *out_len; 0, or -1 if memory
 * ran out or zlib failed (nothing to free then). */
int ks_gzip(const char *in, size_t len, char **out, size_t *out_len);

#endif
