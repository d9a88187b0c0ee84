// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE /* accept4, strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "export/httpd.h"
#include "export/promtext.h"
#include "lib/gzip.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/runopts.h"

/* DRAIN: response sent, our side shut down, discarding what the client
 * still sends until it closes: closing with unread bytes would reset the
 * connection and could destroy the response before the client reads it. */
enum conn_state { CONN_FREE, CONN_READ, CONN_WRITE, CONN_DRAIN };
#define DRAIN_NS (KS_NS_PER_S / 2)
/* A connection just accepted has this long to send its request before it
 * can be evicted as idle (the waiting newcomers are the ones to wait). */
#define EVICT_GRACE_NS (KS_NS_PER_S / 20)
/* Connections accepted per round of the loop: requests that arrived on
 * those already accepted are read before a burst of newcomers could
 * evict them. */
#define ACCEPT_BATCH 16

/* A connection that found no place in the table: it has WAIT_NS to send
 * a complete request head, which then takes the place of a head still
 * under way (a client sending its request at once beats one trickling
 * it in, however young); else it gets a 503 and, our side shut down, what
 * it sends is read and dropped until it closes or DRAIN_NS pass, so the
 * close does not reset the 503 away before the client reads it. */
#define WAIT_NS (KS_NS_PER_S / 10)
struct ks_httpd_waiting {
	int fd;                          /* -1: free */
	bool refused;                    /* 503 sent: draining */
	uint64_t deadline;
	struct sockaddr_storage peer;
	char in[1024];
	size_t in_len;
};

struct ks_httpd_conn {
	enum conn_state state;
	int fd;
	uint64_t deadline;               /* CLOCK_MONOTONIC ns */
	size_t in_len;
	bool request_started;            /* first byte of a request seen */
	uint64_t head_since;             /* when that byte came */
	uint64_t idle_since;             /* accepted, or last response sent */
	struct sockaddr_storage peer;    /* the client's address (its port ignored) */
	/* The response: head (ours), then body (a published page's bytes, or
	 * a static error text). */
	char head[512];
	size_t head_len;
	const char *body;
	size_t body_len;
	/* Then the served page's age (written when the response starts). */
	char tail[512];
	size_t tail_len;
	size_t sent;                     /* of head + body + tail */
	struct ks_httpd_page *ref;       /* page the body points into */
	bool keep_alive;
	/* Last: a new connection clears everything before it. */
	char in[KS_HTTPD_REQ_MAX];
};

/* --- addresses and content negotiation (pure) ----------------------------- */

int ks_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len,
		    char *err, size_t errlen)
{
	char host[64], q[80];
	const char *colon, *port_s;
	char *end;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	/* The value as error lines show it: escaped and cut short, so a
	 * newline or terminal escape in it cannot break the one line. */
	ks_text_escape(s, q, sizeof(q));
	if (s[0] == ':' && !strchr(s + 1, ':')) {
		/* ":PORT": every address, as node_exporter takes it. IPv6's
		 * any address, which ks_httpd_open makes dual-stack. */
		snprintf(host, sizeof(host), "::");
		port_s = s + 1;
	} else if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host)) {
			snprintf(err, errlen, "'%s': expected [IPV6]:PORT", q);
			return -1;
		}
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		port_s = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host) || strchr(s, ':') != colon) {
			snprintf(err, errlen, "'%s': expected ADDR:PORT (IPv6 as [ADDR]:PORT)", q);
			return -1;
		}
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port_s = colon + 1;
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (!*port_s || *end || errno || port > 65535 || *port_s == '-' || *port_s == '+') {
		snprintf(err, errlen, "'%s': port must be 0-65535", q);
		return -1;
	}
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (s[0] == '[' || s[0] == ':') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			snprintf(err, errlen, "'%s': not an IPv6 address", q);
			return -1;
		}
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (!host[0] || inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			snprintf(err, errlen, "'%s': not an IPv4 address (names are not resolved)", q);
			return -1;
		}
		*len = sizeof(*a);
	}
	return 0;
}

bool ks_addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* Trims spaces and tabs at both ends of [*b, *e). */
static void trim(const char **b, const char **e)
{
	while (*b < *e && (**b == ' ' || **b == '\t'))
		(*b)++;
	while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

static bool token_is(const char *b, const char *e, const char *tok)
{
	return (size_t)(e - b) == strlen(tok) && !strncasecmp(b, tok, (size_t)(e - b));
}

/* One element of a comma-separated header (Accept, Accept-Encoding) at p:
 * its token (media type or coding) trimmed into [*tb, *te), its q (1 when
 * absent) and version parameter ("" when absent; others are ignored).
 * Returns where the next element starts. */
static const char *list_item(const char *p, const char **tb, const char **te, double *q,
			     char *version, size_t vlen)
{
	const char *end = strchr(p, ','), *tok_end, *par;

	if (!end)
		end = p + strlen(p);
	tok_end = memchr(p, ';', (size_t)(end - p));
	if (!tok_end)
		tok_end = end;
	*q = 1;
	version[0] = '\0';
	for (par = tok_end; par < end;) {
		const char *pe = memchr(par + 1, ';', (size_t)(end - par - 1)), *eq, *kb, *ke, *vb, *ve;

		if (!pe)
			pe = end;
		kb = par + 1;
		eq = memchr(kb, '=', (size_t)(pe - kb));
		if (eq) {
			ke = eq;
			vb = eq + 1;
			ve = pe;
			trim(&kb, &ke);
			trim(&vb, &ve);
			if (ve > vb && *vb == '"' && ve[-1] == '"' && ve - vb >= 2) {
				vb++;
				ve--;
			}
			if (token_is(kb, ke, "q"))
				*q = strtod(vb, NULL);
			else if (token_is(kb, ke, "version") && (size_t)(ve - vb) < vlen)
				snprintf(version, vlen, "%.*s", (int)(ve - vb), vb);
		}
		par = pe;
	}
	*tb = p;
	*te = tok_end;
	trim(tb, te);
	return *end ? end + 1 : end;
}

bool ks_http_wants_openmetrics(const char *accept)
{
	double q_om = -1, q_text = -1;
	const char *p = accept;

	if (!p)
		return false;
	while (*p) {
		const char *b, *e;
		char version[32];
		double q;
		bool om, text;

		p = list_item(p, &b, &e, &q, version, sizeof(version));
		om = token_is(b, e, "application/openmetrics-text") &&
		     (!version[0] || !strcmp(version, "1.0.0"));
		text = (token_is(b, e, "text/plain") && (!version[0] || !strcmp(version, "0.0.4"))) ||
		       token_is(b, e, "text/*") || token_is(b, e, "*/*");
		if (om && q > q_om)
			q_om = q;
		if (text && q > q_text)
			q_text = q;
	}
	return q_om > 0 && q_om >= q_text;
}

bool ks_http_accepts_gzip(const char *accept_encoding)
{
	double q_gzip = -1, q_any = -1;
	const char *p = accept_encoding;

	if (!p)
		return false;
	while (*p) {
		const char *b, *e;
		char version[8];
		double q;

		p = list_item(p, &b, &e, &q, version, sizeof(version));
		if (token_is(b, e, "gzip") || token_is(b, e, "x-gzip"))
			q_gzip = q > q_gzip ? q : q_gzip;
		else if (token_is(b, e, "*"))
			q_any = q > q_any ? q : q_any;
	}
	/* gzip named decides (gzip;q=0 refuses it); else a "*" does. */
	return q_gzip >= 0 ? q_gzip > 0 : q_any > 0;
}

/* --- pages -------------------------------------------------------------------- */

static void page_put(struct ks_httpd *h, struct ks_httpd_page *p)
{
	bool last;

	if (!p)
		return;
	pthread_mutex_lock(&h->lock);
	last = --p->refs == 0;
	pthread_mutex_unlock(&h->lock);
	if (last) {
		free(p->text);
		free(p->om);
		free(p->gz[0]);
		free(p->gz[1]);
		free(p);
	}
}

static struct ks_httpd_page *page_get(struct ks_httpd *h)
{
	struct ks_httpd_page *p;

	pthread_mutex_lock(&h->lock);
	p = h->page;
	if (p)
		p->refs++;
	pthread_mutex_unlock(&h->lock);
	return p;
}

void ks_httpd_publish(struct ks_httpd *h, struct ks_httpd_page *page)
{
	struct ks_httpd_page *old;

	if (page) {
		page->refs = 1;      /* the server's own reference */
		page->published_ns = ks_now_ns();
	}
	pthread_mutex_lock(&h->lock);
	old = h->page;
	h->page = page;
	pthread_mutex_unlock(&h->lock);
	page_put(h, old);
}

#define EOF_LEN 6 /* "# EOF\n", which ends an OpenMetrics page */

/* The OpenMetrics page without its "# EOF": the tail served after it
 * (page_tail) ends it. */
static size_t page_om_len(const struct ks_httpd_page *p)
{
	return p->om_len >= EOF_LEN && !memcmp(p->om + p->om_len - EOF_LEN, "# EOF\n", EOF_LEN) ?
	       p->om_len - EOF_LEN : p->om_len;
}

/* The page's format om (0 text, 1 OpenMetrics) gzipped, made on first
 * use; false if it cannot be (then it goes out as it is). Only the server
 * thread calls it, holding a reference to p. */
static bool page_gzip(struct ks_httpd_page *p, bool om)
{
	if (!p->gz[om] && !p->gz_failed[om])
		p->gz_failed[om] = ks_gzip(om ? p->om : p->text, om ? page_om_len(p) : p->text_len,
					   &p->gz[om], &p->gz_len[om]) != 0;
	return p->gz[om] != NULL;
}

/* This request's tail (page_tail), gzipped in place; false if it cannot
 * be (the response then goes out uncompressed). */
static bool tail_gzip(struct ks_httpd_conn *c)
{
	char *gz;
	size_t len;
	bool ok;

	if (ks_gzip(c->tail, c->tail_len, &gz, &len))
		return false;
	ok = len <= sizeof(c->tail);
	if (ok) {
		memcpy(c->tail, gz, len);
		c->tail_len = len;
	}
	free(gz);
	return ok;
}

/* --- connections -------------------------------------------------------------- */

static void conn_close(struct ks_httpd *h, struct ks_httpd_conn *c)
{
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	page_put(h, c->ref);
	c->ref = NULL;
	c->state = CONN_FREE;
	h->nconns--;
}

static void conn_wait(struct ks_httpd *h, struct ks_httpd_conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	epoll_ctl(h->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Starts sending a response; body points into ref (or static text), and
 * c->tail (tail_len bytes) follows it. */
static void respond(struct ks_httpd *h, struct ks_httpd_conn *c, const char *status,
		    const char *ctype, const char *extra, const char *body, size_t body_len,
		    bool head_only, struct ks_httpd_page *ref)
{
	int n = snprintf(c->head, sizeof(c->head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: %s\r\n\r\n",
			 status, ctype, body_len + c->tail_len, extra ? extra : "",
			 c->keep_alive ? "keep-alive" : "close");

	c->head_len = n > 0 && (size_t)n < sizeof(c->head) ? (size_t)n : 0;
	c->body = head_only ? NULL : body;
	c->body_len = head_only ? 0 : body_len;
	if (head_only)
		c->tail_len = 0;
	c->sent = 0;
	c->ref = ref;
	c->state = CONN_WRITE;
	c->deadline = ks_now_ns() + h->write_timeout_ns;
	__atomic_add_fetch(&h->requests, 1, __ATOMIC_RELAXED);
}

static void respond_text(struct ks_httpd *h, struct ks_httpd_conn *c, const char *status,
			 const char *extra, const char *text, bool head_only)
{
	c->tail_len = 0;
	respond(h, c, status, "text/plain; charset=utf-8", extra, text, strlen(text), head_only, NULL);
}

/* Value of header `name` in the request head (NUL-terminated, lines end
 * in \n, optional \r), copied into out; false if absent. */
static bool header(const char *req, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);
	const char *p = strchr(req, '\n');

	while (p && p[1]) {
		const char *line = p + 1, *eol = strchr(line, '\n'), *vb, *ve;

		if (!eol)
			eol = line + strlen(line);
		if ((size_t)(eol - line) > nl && !strncasecmp(line, name, nl) && line[nl] == ':') {
			vb = line + nl + 1;
			ve = eol;
			if (ve > vb && ve[-1] == '\r')
				ve--;
			trim(&vb, &ve);
			snprintf(out, len, "%.*s", (int)(ve - vb), vb);
			return true;
		}
		p = *eol ? eol : NULL;
	}
	return false;
}

/*
 * The end of every page, written as it is served: how old the page is, and
 * whether that means the collector stalled (it publishes every interval;
 * one that is stuck cannot say so itself, so the server says it for it,
 * in the page and in a Warning header). Returns that header, or NULL.
 */
static const char *page_tail(struct ks_httpd *h, struct ks_httpd_conn *c,
			     const struct ks_httpd_page *p, bool om)
{
	uint64_t age = ks_now_ns() - p->published_ns;
	bool stalled = h->stale_after_ns && age > h->stale_after_ns;
	int n = snprintf(c->tail, sizeof(c->tail),
			 "# HELP kvmscope_export_page_age_seconds Time since this page was collected\n"
			 "# TYPE kvmscope_export_page_age_seconds gauge\n%s"
			 "kvmscope_export_page_age_seconds %.3f\n"
			 "# HELP kvmscope_export_collector_stalled 1 if the collector has published "
			 "nothing for longer than twice its interval and a second\n"
			 "# TYPE kvmscope_export_collector_stalled gauge\n"
			 "kvmscope_export_collector_stalled %d\n%s",
			 om ? "# UNIT kvmscope_export_page_age_seconds seconds\n" : "",
			 age / 1e9, stalled, om ? "# EOF\n" : "");

	c->tail_len = n > 0 && (size_t)n < sizeof(c->tail) ? (size_t)n : 0;
	return stalled ? "Warning: 199 kvmscope \"collector stalled: this page is old\"\r\n" : NULL;
}

/* One complete request head (NUL-terminated) in c->in: answer it. */
static void handle(struct ks_httpd *h, struct ks_httpd_conn *c, char *req)
{
	char method[16], target[256], version[16], val[512];
	bool head_only, http11, om;
	const char *stale;
	struct ks_httpd_page *p;
	char *q;

	if (sscanf(req, "%15[A-Za-z] %255[^ \r\n] %15[^ \r\n]", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) || (version[7] != '0' && version[7] != '1') || version[8]) {
		__atomic_add_fetch(&h->bad_requests, 1, __ATOMIC_RELAXED);
		c->keep_alive = false;
		respond_text(h, c, "400 Bad Request", NULL, "bad request\n", false);
		return;
	}
	http11 = version[7] == '1';
	c->keep_alive = http11;
	if (header(req, "Connection", val, sizeof(val))) {
		if (strcasestr(val, "close"))
			c->keep_alive = false;
		else if (strcasestr(val, "keep-alive"))
			c->keep_alive = true;
	}
	/* A request body is never expected: answer, then close rather than
	 * read and skip it. */
	if ((header(req, "Content-Length", val, sizeof(val)) && strcmp(val, "0")) ||
	    header(req, "Transfer-Encoding", val, sizeof(val)))
		c->keep_alive = false;
	head_only = !strcmp(method, "HEAD");
	q = strchr(target, '?');
	if (q)
		*q = '\0';
	if (strcmp(target, "/metrics") && strcmp(target, "/")) {
		respond_text(h, c, "404 Not Found", NULL, "not found; metrics are at /metrics\n", head_only);
		return;
	}
	if (strcmp(method, "GET") && !head_only) {
		c->keep_alive = false;
		respond_text(h, c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
			     "method not allowed\n", false);
		return;
	}
	if (!strcmp(target, "/")) {
		respond_text(h, c, "200 OK", NULL, "kvmscope export: metrics at /metrics\n", head_only);
		return;
	}
	p = page_get(h);
	if (!p) {
		respond_text(h, c, "503 Service Unavailable", "Retry-After: 1\r\n",
			     "no collection finished yet\n", head_only);
		return;
	}
	om = ks_http_wants_openmetrics(header(req, "Accept", val, sizeof(val)) ? val : NULL);
	stale = page_tail(h, c, p, om);
	if (header(req, "Accept-Encoding", val, sizeof(val)) && ks_http_accepts_gzip(val) &&
	    page_gzip(p, om) && tail_gzip(c)) {
		/* Two gzip members, the page's (made once) and this request's
		 * tail: a gzip reader reads them as one stream. */
		char extra[256];

		snprintf(extra, sizeof(extra), "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n%s",
			 stale ? stale : "");
		respond(h, c, "200 OK", om ? KS_PROM_CT_OPENMETRICS : KS_PROM_CT_TEXT, extra,
			p->gz[om], p->gz_len[om], head_only, p);
	} else {
		char extra[256];

		snprintf(extra, sizeof(extra), "Vary: Accept-Encoding\r\n%s", stale ? stale : "");
		respond(h, c, "200 OK", om ? KS_PROM_CT_OPENMETRICS : KS_PROM_CT_TEXT, extra,
			om ? p->om : p->text, om ? page_om_len(p) : p->text_len, head_only, p);
	}
}

/* Looks for a complete request head in c->in; answers it if there is one. */
static void try_request(struct ks_httpd *h, struct ks_httpd_conn *c)
{
	char *end, *crlf = NULL, *lf;
	size_t head;

	c->in[c->in_len] = '\0';
	if (memchr(c->in, '\0', c->in_len)) {
		/* NUL bytes in a request head: not HTTP. */
		__atomic_add_fetch(&h->bad_requests, 1, __ATOMIC_RELAXED);
		c->keep_alive = false;
		c->in_len = 0;
		respond_text(h, c, "400 Bad Request", NULL, "bad request\n", false);
		return;
	}
	crlf = strstr(c->in, "\r\n\r\n");
	lf = strstr(c->in, "\n\n");
	end = crlf && (!lf || crlf < lf) ? crlf + 4 : lf ? lf + 2 : NULL;
	if (!end) {
		if (c->in_len >= sizeof(c->in) - 1) {
			__atomic_add_fetch(&h->bad_requests, 1, __ATOMIC_RELAXED);
			c->keep_alive = false;
			c->in_len = 0;
			respond_text(h, c, "431 Request Header Fields Too Large", NULL,
				     "request head too large\n", false);
		}
		return;
	}
	head = (size_t)(end - c->in);
	{
		char save = *end;

		*end = '\0';
		handle(h, c, c->in);
		*end = save;
	}
	/* Pipelined bytes stay for the next request. */
	memmove(c->in, c->in + head, c->in_len - head);
	c->in_len -= head;
	c->request_started = c->in_len > 0;
	c->head_since = ks_now_ns();
}

static void conn_read(struct ks_httpd *h, struct ks_httpd_conn *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(h, c);
		return;
	}
	if (n < 0)
		return;
	if (!c->request_started) {
		/* Slow clients get a fixed time for the whole head, however
		 * slowly they trickle it in. */
		c->request_started = true;
		c->head_since = ks_now_ns();
		c->deadline = c->head_since + h->header_timeout_ns;
	}
	c->in_len += (size_t)n;
	try_request(h, c);
	if (c->state == CONN_WRITE)
		conn_wait(h, c, EPOLLOUT);
}

static void conn_drain(struct ks_httpd *h, struct ks_httpd_conn *c)
{
	ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		conn_close(h, c);
}

/* Sends what the socket takes; when done, back to reading (keep-alive) or
 * closed. */
static void conn_write(struct ks_httpd *h, struct ks_httpd_conn *c)
{
	for (;;) {
		const char *p;
		size_t left;
		ssize_t n;

		if (c->sent < c->head_len) {
			p = c->head + c->sent;
			left = c->head_len - c->sent;
		} else if (c->sent < c->head_len + c->body_len) {
			p = c->body + (c->sent - c->head_len);
			left = c->head_len + c->body_len - c->sent;
		} else if (c->sent < c->head_len + c->body_len + c->tail_len) {
			p = c->tail + (c->sent - c->head_len - c->body_len);
			left = c->head_len + c->body_len + c->tail_len - c->sent;
		} else {
			break;
		}
		n = send(c->fd, p, left, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(h, c);
			return;
		}
		c->sent += (size_t)n;
		c->deadline = ks_now_ns() + h->write_timeout_ns;
	}
	page_put(h, c->ref);
	c->ref = NULL;
	if (!c->keep_alive) {
		shutdown(c->fd, SHUT_WR);
		c->state = CONN_DRAIN;
		c->deadline = ks_now_ns() + DRAIN_NS;
		conn_wait(h, c, EPOLLIN);
		return;
	}
	c->state = CONN_READ;
	c->deadline = ks_now_ns() + h->idle_timeout_ns;
	c->idle_since = ks_now_ns();
	if (c->in_len) {
		c->deadline = ks_now_ns() + h->header_timeout_ns;
		try_request(h, c);
		if (c->state == CONN_WRITE)
			return conn_write(h, c);
	}
	conn_wait(h, c, EPOLLIN);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
	return true;
}

/*
 * The connection that makes room for a newcomer (of those of address
 * `only`, if not NULL), or NULL: first one answered and draining; then the
 * one that has sent nothing for longest (since it was accepted, or since
 * its last response), at least EVICT_GRACE_NS: clients send their request
 * at once, so only a connection held without being used loses its place,
 * even when idle ones are opened as fast as they are closed; then the one
 * whose request head has been under way for longest, at least
 * pressure_header_ns. For a newcomer whose head is complete (force),
 * neither age counts: a request ready to answer beats any that is not.
 * A response being sent is never cut off.
 */
static struct ks_httpd_conn *evictable(struct ks_httpd *h, const struct sockaddr_storage *only,
				       bool force)
{
	uint64_t now = ks_now_ns();
	struct ks_httpd_conn *idle = NULL, *slow = NULL;

	for (unsigned int i = 0; i < KS_HTTPD_MAX_CONNS; i++) {
		struct ks_httpd_conn *o = &h->conns[i];

		if (o->state == CONN_FREE || o->state == CONN_WRITE || (only && !same_addr(&o->peer, only)))
			continue;
		if (o->state == CONN_DRAIN)
			return o;
		if (!o->request_started) {
			if ((force || now - o->idle_since >= EVICT_GRACE_NS) &&
			    (!idle || o->idle_since < idle->idle_since))
				idle = o;
		} else if ((force || now - o->head_since >= h->pressure_header_ns) &&
			   (!slow || o->head_since < slow->head_since)) {
			slow = o;
		}
	}
	return idle ? idle : slow;
}

/* A place in the table for a connection from peer: a free one if its
 * address is below its share, else one made by evictable() (among the
 * address's own if at its share), or NULL. */
static struct ks_httpd_conn *place(struct ks_httpd *h, const struct sockaddr_storage *peer, bool force)
{
	struct ks_httpd_conn *c = NULL;
	unsigned int same = 0;

	for (unsigned int i = 0; i < KS_HTTPD_MAX_CONNS; i++) {
		if (h->conns[i].state == CONN_FREE)
			c = c ? c : &h->conns[i];
		else if (same_addr(&h->conns[i].peer, peer))
			same++;
	}
	for (unsigned int tries = 0; tries < KS_HTTPD_MAX_CONNS; tries++) {
		char b;

		if (same >= KS_HTTPD_MAX_PER_ADDR)
			c = evictable(h, peer, force);
		else if (!c)
			c = evictable(h, NULL, force);
		/* One that has sent nothing we read may have sent its request
		 * since: read it (it is no longer idle, or it is answered)
		 * and choose again. */
		if (!c || c->state != CONN_READ || c->request_started ||
		    recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != 1)
			break;
		conn_read(h, c);
		if (c->state == CONN_FREE)
			break;
		c = NULL;
	}
	if (c && c->state != CONN_FREE) {
		__atomic_add_fetch(&h->evicted, 1, __ATOMIC_RELAXED);
		conn_close(h, c);
	}
	return c;
}

/* Connection fd from peer into place c, with in_len bytes already read. */
static void conn_start(struct ks_httpd *h, struct ks_httpd_conn *c, int fd,
		       const struct sockaddr_storage *peer, const char *in, size_t in_len)
{
	memset(c, 0, offsetof(struct ks_httpd_conn, in));
	c->fd = fd;
	c->peer = *peer;
	c->state = CONN_READ;
	c->idle_since = ks_now_ns();
	/* A new connection must send its request as soon as one whose head
	 * is under way would have to finish it. */
	c->deadline = c->idle_since + h->header_timeout_ns;
	c->in_len = in_len;
	if (in_len) {
		memcpy(c->in, in, in_len);
		c->request_started = true;
		c->head_since = c->idle_since;
	}
	h->nconns++;
}

static void waiting_close(struct ks_httpd *h, struct ks_httpd_waiting *w)
{
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	close(w->fd);
	w->fd = -1;
}

/* The 503; then what the client sends is drained until it closes. */
static void waiting_refuse(struct ks_httpd *h, struct ks_httpd_waiting *w)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Retry-After: 1\r\nConnection: close\r\n\r\n";

	__atomic_add_fetch(&h->rejected_busy, 1, __ATOMIC_RELAXED);
	if (send(w->fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		ks_debug("export: busy reply failed: %s", strerror(errno));
	shutdown(w->fd, SHUT_WR);
	w->refused = true;
	w->deadline = ks_now_ns() + DRAIN_NS;
}

static void waiting_add(struct ks_httpd *h, int fd, const struct sockaddr_storage *peer)
{
	struct ks_httpd_waiting *w = NULL, *oldest = NULL;
	struct epoll_event ev = { .events = EPOLLIN };

	for (unsigned int i = 0; i < KS_HTTPD_MAX_WAITING && !w; i++) {
		struct ks_httpd_waiting *o = &h->waiting[i];

		if (o->fd < 0)
			w = o;
		else if (!oldest || o->refused > oldest->refused ||
			 (o->refused == oldest->refused && o->deadline < oldest->deadline))
			oldest = o;
	}
	if (!w) {
		/* One already answered, else the one closest to its deadline,
		 * has had its moment. */
		w = oldest;
		if (!w->refused)
			waiting_refuse(h, w);
		waiting_close(h, w);
	}
	w->fd = fd;
	w->refused = false;
	w->deadline = ks_now_ns() + WAIT_NS;
	w->peer = *peer;
	w->in_len = 0;
	ev.data.ptr = w;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		w->fd = -1;
	}
}

static void waiting_read(struct ks_httpd *h, struct ks_httpd_waiting *w)
{
	struct ks_httpd_conn *c;
	char drop[4096];
	ssize_t n;

	if (w->refused) {
		while ((n = recv(w->fd, drop, sizeof(drop), 0)) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			waiting_close(h, w);
		return;
	}
	n = recv(w->fd, w->in + w->in_len, sizeof(w->in) - 1 - w->in_len, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		waiting_close(h, w);
		return;
	}
	if (n < 0)
		return;
	w->in_len += (size_t)n;
	w->in[w->in_len] = '\0';
	if (!strstr(w->in, "\r\n\r\n") && !strstr(w->in, "\n\n") && w->in_len < sizeof(w->in) - 1)
		return;
	c = place(h, &w->peer, true);
	if (!c) {
		waiting_refuse(h, w);
		return;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		conn_start(h, c, w->fd, &w->peer, w->in, w->in_len);
		epoll_ctl(h->epfd, EPOLL_CTL_MOD, w->fd, &ev);
	}
	w->fd = -1;
	try_request(h, c);
	if (c->state == CONN_WRITE)
		conn_wait(h, c, EPOLLOUT);
}

static bool is_waiting(const struct ks_httpd *h, const void *p)
{
	return (const char *)p >= (const char *)h->waiting &&
	       (const char *)p < (const char *)(h->waiting + KS_HTTPD_MAX_WAITING);
}

static void accept_all(struct ks_httpd *h)
{
	for (int batch = 0; batch < ACCEPT_BATCH; batch++) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct ks_httpd_conn *c;
		int fd = accept4(h->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* EAGAIN, or a connection that died in the backlog */
		c = place(h, &peer, false);
		if (!c) {
			waiting_add(h, fd, &peer);
			continue;
		}
		conn_start(h, c, fd, &peer, NULL, 0);
		ev.data.ptr = c;
		if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			c->state = CONN_FREE;
			h->nconns--;
		}
	}
}

int ks_httpd_open(struct ks_httpd *h, const struct sockaddr_storage *ss, socklen_t len)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	char addr[INET6_ADDRSTRLEN];
	bool any6 = ss->ss_family == AF_INET6 &&
		    IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	struct sockaddr_in v4;
	int one = 1;

	memset(h, 0, sizeof(*h));
	h->lfd = h->epfd = -1;
	pthread_mutex_init(&h->lock, NULL);
	h->header_timeout_ns = 10 * KS_NS_PER_S;
	h->write_timeout_ns = 10 * KS_NS_PER_S;
	h->idle_timeout_ns = 60 * KS_NS_PER_S;
	h->pressure_header_ns = KS_NS_PER_S;
	h->conns = calloc(KS_HTTPD_MAX_CONNS, sizeof(*h->conns));
	h->waiting = calloc(KS_HTTPD_MAX_WAITING, sizeof(*h->waiting));
	if (!h->conns || !h->waiting)
		return ks_err("out of memory");
	for (unsigned int i = 0; i < KS_HTTPD_MAX_WAITING; i++)
		h->waiting[i].fd = -1;
	h->lfd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->lfd < 0 && errno == EAFNOSUPPORT && any6) {
		/* No IPv6 on this host: every address is every IPv4 one. */
		memset(&v4, 0, sizeof(v4));
		v4.sin_family = AF_INET;
		v4.sin_port = ((const struct sockaddr_in6 *)ss)->sin6_port;
		ss = (const struct sockaddr_storage *)&v4;
		len = sizeof(v4);
		h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (h->lfd < 0)
		return ks_err("socket: %s", strerror(errno));
	setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* An IPv6 address is that address only, but the any address "::" is
	 * every address, IPv4 ones included (whatever bindv6only says). */
	if (ss->ss_family == AF_INET6) {
		int v6only = !any6;

		setsockopt(h->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	}
	if (bind(h->lfd, (const struct sockaddr *)ss, len) || listen(h->lfd, 128) ||
	    getsockname(h->lfd, (struct sockaddr *)&bound, &blen)) {
		int e = errno;

		if (ss->ss_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, addr, sizeof(addr));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, addr, sizeof(addr));
		return ks_err("cannot listen on %s port %u: %s", addr,
			      ntohs(((const struct sockaddr_in *)ss)->sin_port), strerror(e));
	}
	if (bound.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&bound)->sin_addr, addr, sizeof(addr));
		snprintf(h->url, sizeof(h->url), "http://%s:%u/metrics", addr,
			 ntohs(((struct sockaddr_in *)&bound)->sin_port));
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&bound)->sin6_addr, addr, sizeof(addr));
		snprintf(h->url, sizeof(h->url), "http://[%s]:%u/metrics", addr,
			 ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
	}
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0 || epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->lfd, &ev))
		return ks_err("epoll: %s", strerror(errno));
	return 0;
}

/* Until the next deadline of a waiting connection (they are short), at
 * most 200 ms (the stop check). */
static int wait_ms(const struct ks_httpd *h)
{
	uint64_t now = ks_now_ns(), next = now + 200 * 1000000ULL;

	for (unsigned int i = 0; i < KS_HTTPD_MAX_WAITING; i++)
		if (h->waiting[i].fd >= 0 && h->waiting[i].deadline < next)
			next = h->waiting[i].deadline;
	return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

int ks_httpd_run(struct ks_httpd *h, bool (*stop)(void *ctx), void *ctx)
{
	struct epoll_event evs[32];

	while (!stop(ctx)) {
		int n = epoll_wait(h->epfd, evs, 32, wait_ms(h));
		uint64_t now;

		if (n < 0 && errno != EINTR)
			return ks_err("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct ks_httpd_conn *c = evs[i].data.ptr;

			if (!c) {
				accept_all(h);
				continue;
			}
			if (is_waiting(h, c)) {
				struct ks_httpd_waiting *w = (struct ks_httpd_waiting *)(void *)c;

				if (w->fd >= 0)
					waiting_read(h, w);
				continue;
			}
			if (c->state == CONN_READ)
				conn_read(h, c);
			else if (c->state == CONN_DRAIN)
				conn_drain(h, c);
			else if (c->state == CONN_WRITE)
				conn_write(h, c);
		}
		now = ks_now_ns();
		for (unsigned int i = 0; i < KS_HTTPD_MAX_CONNS; i++) {
			struct ks_httpd_conn *c = &h->conns[i];

			if (c->state != CONN_FREE && now > c->deadline) {
				if (c->state == CONN_WRITE || (c->state == CONN_READ && c->request_started))
					__atomic_add_fetch(&h->timed_out, 1, __ATOMIC_RELAXED);
				conn_close(h, c);
			}
		}
		for (unsigned int i = 0; i < KS_HTTPD_MAX_WAITING; i++) {
			struct ks_httpd_waiting *w = &h->waiting[i];

			if (w->fd < 0 || now <= w->deadline)
				continue;
			if (w->refused)
				waiting_close(h, w);
			else
				waiting_refuse(h, w);
		}
	}
	return 0;
}

void ks_httpd_close(struct ks_httpd *h)
{
	for (unsigned int i = 0; h->conns && i < KS_HTTPD_MAX_CONNS; i++)
		if (h->conns[i].state != CONN_FREE)
			conn_close(h, &h->conns[i]);
	free(h->conns);
	h->conns = NULL;
	for (unsigned int i = 0; h->waiting && i < KS_HTTPD_MAX_WAITING; i++)
		if (h->waiting[i].fd >= 0)
			waiting_close(h, &h->waiting[i]);
	free(h->waiting);
	h->waiting = NULL;
	ks_httpd_publish(h, NULL);
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->lfd >= 0)
		close(h->lfd);
	h->epfd = h->lfd = -1;
	pthread_mutex_destroy(&h->lock);
}
