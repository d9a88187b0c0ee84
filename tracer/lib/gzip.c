// SPDX-License-Identifier: GPL-2.0
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>
#include "lib/gzip.h"

/* windowBits 15 + 16: zlib writes a gzip header and trailer, not its own. */
#define GZIP_WINDOW (15 + 16)

int ks_gzip(const char *in, size_t len, char **out, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap;
	char *buf;
	int rc;

	if (len > UINT32_MAX / 2)
		return -1;   /* zlib counts in uInt; no page comes near */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	/* One deflate call: the bound holds the whole output (older zlibs
	 * count the 6-byte zlib wrapper, gzip's is 18: the 12 to spare). */
	cap = deflateBound(&z, (uLong)len) + 12;
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}
