/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The HTTP/1.1 server of `kvmscope export`: one thread, non-blocking
 * sockets under epoll, a fixed table of connections with their own
 * buffers, deadlines for slow or idle clients. It serves whatever page was
 * last published: the collector renders a page on its own schedule and
 * swaps it in under a lock (ks_httpd_publish); a response holds a reference
 * to the page it started with, so neither side ever waits for the other
 * longer than a pointer swap.
 */
#ifndef KS_HTTPD_H
#define KS_HTTPD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One rendering of /metrics in both formats. Immutable once published,
 * but for its gzip forms, which the server thread alone makes and reads. */
struct ks_httpd_page {
	unsigned int refs;       /* under ks_httpd.lock */
	char *text;              /* Prometheus text format 0.0.4 */
	size_t text_len;
	char *om;                /* OpenMetrics 1.0.0, ending in "# EOF\n" */
	size_t om_len;
	/* text [0] and om [1] gzipped, at the first request for each that
	 * accepts gzip: a page that no such scrape asks for (most of them,
	 * with a collection every second and a scrape every 15) costs none. */
	char *gz[2];
	size_t gz_len[2];
	bool gz_failed[2];       /* out of memory: sent as it is */
	uint64_t published_ns;   /* CLOCK_MONOTONIC, set by ks_httpd_publish */
};

#define KS_HTTPD_MAX_CONNS 64
/* Connections one client address may hold: the rest of the table stays
 * for others (a Prometheus beside a flood from one address). */
#define KS_HTTPD_MAX_PER_ADDR (KS_HTTPD_MAX_CONNS * 3 / 4)
/* Connections that found no place, kept a moment (httpd.c: waiting). */
#define KS_HTTPD_MAX_WAITING 256
#define KS_HTTPD_REQ_MAX 8192              /* request line + headers */

struct ks_httpd_conn;
struct ks_httpd_waiting;

struct ks_httpd {
	int lfd, epfd;
	char url[96];                          /* http://ADDR:PORT/metrics */
	pthread_mutex_t lock;                  /* guards page and refs */
	struct ks_httpd_page *page;            /* NULL until the first publish */
	struct ks_httpd_conn *conns;           /* KS_HTTPD_MAX_CONNS */
	unsigned int nconns;
	struct ks_httpd_waiting *waiting;      /* KS_HTTPD_MAX_WAITING */
	uint64_t header_timeout_ns, idle_timeout_ns, write_timeout_ns;
	/* When the table is full, a request head under way for this long
	 * makes room for a newcomer (a client sending its request at once
	 * needs microseconds; one trickling it in holds a slot no longer). */
	uint64_t pressure_header_ns;
	/* A page older than this at a scrape means the collector stalled:
	 * every scrape ends with the page's age, computed when it is served
	 * (a collector that stalls cannot say so itself), and this verdict. */
	uint64_t stale_after_ns;
	/* Counters (atomic: the collector reads them for its own metrics). */
	uint64_t requests, rejected_busy, timed_out, bad_requests, evicted;
};

/*
 * "ADDR:PORT": an IPv4 address, "[IPv6]" or "localhost", and a port
 * (0 = any free one); ":PORT" is every address (IPv6's "::", which
 * ks_httpd_open serves IPv4 on too). Numeric only: nothing is resolved.
 * Returns 0, or -1 with a one-line reason in err.
 */
int ks_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len,
		    char *err, size_t errlen);
bool ks_addr_is_loopback(const struct sockaddr_storage *ss);
/* Does this Accept header prefer OpenMetrics 1.0.0 text (by q-value; ties
 * go to OpenMetrics) over the text format? NULL or "" = no. */
bool ks_http_wants_openmetrics(const char *accept);
/* Does this Accept-Encoding header accept gzip (named with q > 0, or "*"
 * with q > 0 and gzip not named)? NULL or "" = no. */
bool ks_http_accepts_gzip(const char *accept_encoding);

/* Binds and listens; -1 after one line on stderr. IPv6's any address
 * listens on IPv4 too, or is IPv4's on a host without IPv6. */
int ks_httpd_open(struct ks_httpd *h, const struct sockaddr_storage *ss, socklen_t len);
/* Publishes page (ownership passes to the server; NULL page = error 503). */
void ks_httpd_publish(struct ks_httpd *h, struct ks_httpd_page *page);
/* Serves until stop(ctx) is true (asked at least every 200 ms; a signal
 * interrupts the wait at once). 0, or -1 after one line on stderr. */
int ks_httpd_run(struct ks_httpd *h, bool (*stop)(void *ctx), void *ctx);
void ks_httpd_close(struct ks_httpd *h);

#endif
