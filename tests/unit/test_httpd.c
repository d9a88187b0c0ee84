/* The exporter's pure HTTP helpers: --listen parsing, the loopback rule,
 * and content negotiation on the Accept header. */
#include <arpa/inet.h>
#include "unit.h"
#include "export/httpd.h"

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
	UNIT_EXIT();
}
