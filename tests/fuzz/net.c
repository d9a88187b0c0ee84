/*
 * Fuzz target: what the exporter parses from outside: `--listen ADDR:PORT`
 * (ks_parse_listen) and the HTTP Accept and Accept-Encoding headers every
 * scraper sends (ks_http_wants_openmetrics, ks_http_accepts_gzip). The
 * first byte picks which. Accepted addresses must be IPv4 or IPv6 with
 * the port as written; rejections one line; negotiation must not depend on
 * bytes past the header.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "export/httpd.h"

static void fuzz_listen(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char err[256] = "";
	const char *colon = strrchr(s, ':');

	if (ks_parse_listen(s, &ss, &len, err, sizeof(err))) {
		fuzz_one_line(err);
		return;
	}
	FUZZ_ASSERT(colon, "'%s' accepted without a port", s);
	if (ss.ss_family == AF_INET) {
		FUZZ_ASSERT(len == sizeof(struct sockaddr_in), "IPv4 length %u", (unsigned)len);
		FUZZ_ASSERT(ntohs(((struct sockaddr_in *)&ss)->sin_port) == strtoul(colon + 1, NULL, 10),
			    "'%s': port", s);
	} else {
		FUZZ_ASSERT(ss.ss_family == AF_INET6 && (s[0] == '[' || s[0] == ':'), "'%s': family %d", s,
			    ss.ss_family);
		FUZZ_ASSERT(len == sizeof(struct sockaddr_in6), "IPv6 length %u", (unsigned)len);
		FUZZ_ASSERT(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == strtoul(colon + 1, NULL, 10),
			    "'%s': port", s);
	}
	(void)ks_addr_is_loopback(&ss);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	s = fuzz_cstr(data + 1, size - 1);
	if (data[0] & 1) {
		fuzz_listen(s);
	} else {
		bool a = ks_http_wants_openmetrics(s), g = ks_http_accepts_gzip(s);

		FUZZ_ASSERT(a == ks_http_wants_openmetrics(s), "negotiation not deterministic");
		FUZZ_ASSERT(g == ks_http_accepts_gzip(s), "gzip negotiation not deterministic");
	}
	free(s);
	return 0;
}
