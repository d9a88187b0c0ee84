/* The exporter's pure HTTP helpers: --listen parsing, the loopback rule,
 * content negotiation on the Accept and Accept-Encoding headers, and the
 * gzip encoding of a page. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <zlib.h>
#include "unit.h"
#include "export/httpd.h"
#include "lib/gzip.h"

/* gzip -d of in (zlib reads the gzip wrapper with windowBits 15 + 16): the
 * length, or -1 if it is not one gzip stream that ends where in does. */
static long gunzip(const char *in, size_t len, char *out, size_t cap)
{
	z_stream z = { 0 };
	long n;
	int rc;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	rc = inflate(&z, Z_FINISH);
	n = rc == Z_STREAM_END && z.avail_in == 0 ? (long)z.total_out : -1;
	inflateEnd(&z);
	return n;
}

static void gzip_checks(void)
{
	static char page[200000], back[200000];
	size_t len = 0, zlen = 0;
	char *z = NULL;
	long n;

	/* A page-like text: metric lines that differ in their numbers. */
	for (unsigned int i = 0; len + 100 < sizeof(page); i++)
		len += (size_t)snprintf(page + len, sizeof(page) - len,
					"kvmscope_vcpu_exits_total{pid=\"%u\",vcpu=\"%u\"} %u\n", 1000 + i / 64,
					i % 64, i * 7919u);
	ASSERT_EQ("gzip: a page compresses", ks_gzip(page, len, &z, &zlen), 0);
	REQUIRE(z != NULL, "no gzip output");
	ASSERT_TRUE("gzip: gzip magic and deflate method (1f 8b 08)",
		    (unsigned char)z[0] == 0x1f && (unsigned char)z[1] == 0x8b && z[2] == 8);
	ASSERT_LE("gzip: a page shrinks at least fourfold", zlen * 4, len);
	n = gunzip(z, zlen, back, sizeof(back));
	CHECK("gzip: decompresses to the page, byte for byte", n == (long)len && !memcmp(back, page, len),
	      "%ld bytes back of %zu", n, len);
	free(z);
	z = NULL;
	ASSERT_EQ("gzip: an empty page", ks_gzip("", 0, &z, &zlen), 0);
	n = z ? gunzip(z, zlen, back, sizeof(back)) : -2;
	ASSERT_EQ("gzip: an empty page decompresses to nothing", n, 0);
	free(z);
	REQUIRE_END();
}

static int listen_ok(const char *s, bool *loopback)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[200];
	int rc = ks_parse_listen(s, &ss, &len, err, sizeof(err));

	if (!rc && loopback)
		*loopback = ks_addr_is_loopback(&ss);
	return rc;
}

int main(void)
{
	static const struct { const char *s; bool ok, loopback; } listens[] = {
		{ "127.0.0.1:9464", true, true }, { "127.1.2.3:0", true, true },
		{ "localhost:9464", true, true }, { "[::1]:9464", true, true },
		{ "[::ffff:127.0.0.1]:80", true, true }, { "0.0.0.0:9464", true, false },
		{ "10.0.2.15:9464", true, false }, { "[::]:9464", true, false },
		{ "127.0.0.1", false, false }, { "127.0.0.1:", false, false },
		{ "127.0.0.1:65536", false, false }, { "127.0.0.1:-1", false, false },
		{ "127.0.0.1:+80", false, false }, { "127.0.0.1:80x", false, false },
		{ "example.org:80", false, false }, { ":9464", true, false }, { ":0", true, false },
		{ ":", false, false }, { ":x", false, false }, { ":1:2", false, false },
		{ "::1:9464", false, false }, { "[::1]9464", false, false }, { "[zz]:1", false, false },
	};
	static const struct { const char *accept; bool om; } accepts[] = {
		{ NULL, false }, { "", false }, { "*/*", false }, { "text/plain", false },
		{ "application/openmetrics-text", true },
		{ "application/openmetrics-text; version=1.0.0; charset=utf-8", true },
		{ "application/openmetrics-text;version=\"1.0.0\"", true },
		{ "Application/OpenMetrics-Text;Version=1.0.0", true },
		{ "application/openmetrics-text;version=0.0.1", false },
		{ "application/openmetrics-text;version=2.0.0", false },
		{ "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
		  "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", true },
		{ "text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5", false },
		{ "application/openmetrics-text;q=0.5, text/plain;q=0.5", true },
		{ "application/openmetrics-text;q=0", false },
		{ "text/plain;version=0.0.4, application/openmetrics-text", true },
		{ "application/json", false },
	};
	static const struct { const char *ae; bool gzip; } encodings[] = {
		{ NULL, false }, { "", false }, { "gzip", true }, { "GZIP", true }, { "x-gzip", true },
		{ "identity", false }, { "deflate", false }, { "deflate, gzip", true },
		{ "gzip, deflate, br", true },   /* what Prometheus and browsers send */
		{ "gzip;q=0", false }, { "gzip; q=0.0", false }, { "gzip;q=0.001", true },
		{ "*", true }, { "*;q=0", false }, { "*, gzip;q=0", false },
		{ "gzip;q=0, *", false }, { "gzipx", false }, { " gzip ;q=1 ", true },
		{ "br;q=1.0, gzip;q=0.8, *;q=0.1", true },
	};

	for (size_t i = 0; i < sizeof(listens) / sizeof(listens[0]); i++) {
		bool lb = !listens[i].loopback;
		int rc = listen_ok(listens[i].s, &lb);
		char name[96];

		snprintf(name, sizeof(name), "listen '%s'", listens[i].s);
		CHECK(name, (rc == 0) == listens[i].ok && (!listens[i].ok || lb == listens[i].loopback),
		      "rc %d loopback %d", rc, lb);
	}
	for (size_t i = 0; i < sizeof(accepts) / sizeof(accepts[0]); i++) {
		char name[200];

		snprintf(name, sizeof(name), "accept '%.150s'", accepts[i].accept ? accepts[i].accept : "(none)");
		ASSERT_EQ(name, ks_http_wants_openmetrics(accepts[i].accept), accepts[i].om);
	}
	for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++) {
		char name[200];

		snprintf(name, sizeof(name), "accept-encoding '%.150s'",
			 encodings[i].ae ? encodings[i].ae : "(none)");
		ASSERT_EQ(name, ks_http_accepts_gzip(encodings[i].ae), encodings[i].gzip);
	}
	gzip_checks();
	UNIT_EXIT();
}
