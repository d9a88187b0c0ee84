// SPDX-License-Identifier: GPL-2.0
/*
 * kvmscope export: every VM's binary stats and the migrate aggregates as a
 * Prometheus / OpenMetrics endpoint.
 *
 * Two threads. The collector (tracer/export/export_collect.c) samples on its own
 * schedule, renders the page in both formats and publishes it with a
 * pointer swap; between collections it drains the ring buffer. The main
 * thread runs the HTTP server (tracer/export/httpd.c), which only ever sends
 * published pages: no scrape, however slow or however many, waits for a
 * collection or delays one. Signals go to the main thread; it stops the
 * collector, and one cleanup path releases everything.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <argp.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "commands.h"
#include "lib/help.h"
#include "export/export.h"
#include "migrate.skel.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/runopts.h"
#include "lib/signals.h"

#define DEFAULT_LISTEN "127.0.0.1:9464"
#define OPT_ALLOW_REMOTE 256
/* The collector looks at its stop flag at least this often. */
#define POLL_MS 100
/* How long the end of a run waits for the collector to stop: a collector
 * stuck in the kernel (a read that never returns) must not keep a signal
 * from ending the run; the process exits without it. */
#define JOIN_MS 500

struct export_args {
	struct ks_run_opts run;
	const char *listen;
	bool allow_remote;
	struct ks_loader_opts loader;   /* --max-vms */
};

static const struct argp_option export_options[] = {
	{ "listen", 'l', "ADDR:PORT", 0, "Serve on ADDR:PORT (default " DEFAULT_LISTEN
	  "; [::1]:PORT for IPv6; port 0 picks a free one)", 0 },
	{ "allow-remote", OPT_ALLOW_REMOTE, NULL, 0,
	  "Allow a --listen address that is not loopback (the metrics name processes and VMs)", 0 },
	{ "pid", 'p', "PID", 0, "Export only the VMM with this process id", 0 },
	{ "interval", 'i', "INTERVAL", 0, "Collect every INTERVAL (default 1s, at least 10ms)", 0 },
	KS_LOADER_OPTIONS_FAULTS,
	{ "verbose", 'v', NULL, 0, "Verbose output, including libbpf's log", 0 },
	KS_LOADER_OPTION_MAX_VMS,
	{ 0 },
};

static error_t parse_export(int key, char *arg, struct argp_state *state)
{
	struct export_args *a = state->input;

	switch (key) {
	case 'l':
		a->listen = arg;
		return 0;
	case OPT_ALLOW_REMOTE:
		a->allow_remote = true;
		return 0;
	case KS_OPT_MAX_VMS:
		return ks_loader_parse_max_vms(arg, state, &a->loader);
	case KS_OPT_FAULT_PROGRAM_KEY:
	case KS_OPT_FAULT_LATENCY_KEY:
		return ks_loader_parse_fault_opt(key, &a->loader);
	default:
		return ks_parse_run_opt(key, arg, state, &a->run);
	}
}

struct export_run {
	struct ks_exporter *x;
	struct ks_httpd h;
	pthread_t collector;
	bool collector_started;
	int stop_collector;       /* atomic */
	uint64_t collect_start_ns;  /* atomic: when the current collection began */
	int vmm_gone;             /* atomic: -p's VMM exited, the run ends */
	bool warned_oom;
};

/* One collection, then the page swapped in. */
static void collect_and_publish(struct export_run *r)
{
	struct ks_exporter *x = r->x;
	uint64_t t0 = ks_now_ns();
	struct ks_httpd_page *page;
	struct ks_prom w = { 0 };

	__atomic_store_n(&r->collect_start_ns, t0, __ATOMIC_RELAXED);
	ks_export_collect(x, t0);
	x->collections++;
	/* With -p, the export is about that VMM: it ends when the VMM does,
	 * as stats and migrate do, rather than serve an empty page. */
	if (x->s.m.filter_pid && !ks_model_vm(&x->s.m, x->s.m.filter_pid))
		__atomic_store_n(&r->vmm_gone, 1, __ATOMIC_RELEASE);
	ks_export_render(x, &w);
	page = ks_export_page(&w);
	ks_prom_free(&w);
	if (page) {
		ks_debug("collection %llu: %d VMMs, %zu bytes text, %zu OpenMetrics, %.3f ms",
			 (unsigned long long)x->collections, ks_model_live_vms(&x->s.m), page->text_len,
			 page->om_len,
			 (ks_now_ns() - t0) / 1e6);
		ks_httpd_publish(&r->h, page);
	} else if (!r->warned_oom) {
		ks_warn("out of memory rendering the metrics; serving the previous page");
		r->warned_oom = true;
	}
	x->last_collect_ns = ks_now_ns() - t0;
}

static void *collector(void *arg)
{
	struct export_run *r = arg;
	struct ks_exporter *x = r->x;
	uint64_t next = ks_now_ns() + x->interval_ns;

	while (!__atomic_load_n(&r->stop_collector, __ATOMIC_ACQUIRE)) {
		uint64_t now = ks_now_ns();
		uint64_t wait_ms;

		if (now >= next) {
			collect_and_publish(r);
			while (next <= now)
				next += x->interval_ns; /* a late collection skips, never bunches */
			continue;
		}
		wait_ms = (next - now + 999999) / 1000000;
		if (wait_ms > POLL_MS)
			wait_ms = POLL_MS;
		if (x->bpf) {
			/* Events are folded in as they come, not only at the
			 * interval: the ring buffer never has to hold more than
			 * a few milliseconds of them. */
			ring_buffer__poll(x->rb, (int)wait_ms);
		} else {
			struct timespec ts = { 0, (long)wait_ms * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* Asks the collector to stop and waits up to JOIN_MS for it: 0 once it
 * has, -1 if it is stuck. */
static int end_collector(struct export_run *r)
{
	struct timespec until;

	__atomic_store_n(&r->stop_collector, 1, __ATOMIC_RELEASE);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += JOIN_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(r->collector, NULL, &until) ? -1 : 0;
}

static bool should_stop(void *ctx)
{
	struct export_run *r = ctx;

	return ks_stop_signal != 0 || __atomic_load_n(&r->vmm_gone, __ATOMIC_ACQUIRE);
}

/* BPF side; on any failure export carries on with binary stats only. */
static void start_bpf(struct ks_exporter *x, int pid, struct ks_loader_opts lo)
{
	struct ks_probe p;

	lo.filter_tgid = (unsigned int)pid;
	ks_libbpf_logging();
	ks_progress("probing the kernel...");
	ks_probe_init(&p);
	/* What the probe alone can tell goes in the one note below; the
	 * loader explains its own failures (privileges, verifier) above it. */
	if (!p.vmlinux_btf || ks_hooks_choose(&p, x->l.choices, lo.fault_opts)) {
		char missing[512];

		ks_warn("BPF programs not attached (%s%s%s): exporting binary stats only, "
			"kvmscope_bpf_attached 0", !p.vmlinux_btf ? "kernel has no BTF" :
			"kernel lacks hooks kvmscope needs: ",
			p.vmlinux_btf ? ks_hooks_missing(x->l.choices, missing, sizeof(missing)) : "",
			p.vmlinux_btf ? "; 'kvmscope check' shows every way in" : "");
		ks_probe_free(&p);
		return;
	}
	if (!ks_loader_start(&x->l, &p, &lo)) {
		x->rb = ring_buffer__new(bpf_map__fd(x->l.skel->maps.events), ks_export_on_event, x, NULL);
		if (x->rb)
			ks_export_attached(x);
		else
			ks_loader_destroy(&x->l);
	}
	ks_probe_free(&p);
	ks_progress_end();
	if (!x->bpf) {
		ks_warn("BPF programs not attached (see above): exporting binary stats only, "
			"kvmscope_bpf_attached 0");
		return;
	}
	x->s.m.max_vms = ks_loader_max_vms(&lo);
	x->s.m.fault_program = x->l.fault_program;
	ks_model_caps(&x->s.m, &x->l.caps);
}

const struct argp ks_export_argp = { export_options, parse_export, NULL,
	"Serve every VM's and vCPU's binary stats and the migrate aggregates (dirty-log "
	"ioctl time, fault latency, splits, rmap bytes) for Prometheus: text format 0.0.4, "
	"or OpenMetrics 1.0.0 when the scraper asks for it, on GET /metrics.",
	ks_help_children, NULL, NULL };

int cmd_export(int argc, char **argv)
{
	struct export_args a = { .run.interval_ns = KS_NS_PER_S, .listen = DEFAULT_LISTEN };
	struct sockaddr_storage ss;
	struct export_run *r;
	sigset_t block, old;
	socklen_t sslen;
	char err[200];
	int status = KS_EXIT_FAIL;

	if (argp_parse(&ks_export_argp, argc, argv, 0, NULL, &a))
		return KS_EXIT_USAGE;
	if (ks_parse_listen(a.listen, &ss, &sslen, err, sizeof(err))) {
		ks_err("--listen %s", err);
		return KS_EXIT_USAGE;
	}
	if (!ks_addr_is_loopback(&ss) && !a.allow_remote) {
		ks_err("--listen %s is not a loopback address: the metrics name processes and VMs; "
		       "add --allow-remote to serve them beyond this host", a.listen);
		return KS_EXIT_USAGE;
	}
	if (a.run.pid && ks_vmm_require(a.run.pid))
		return KS_EXIT_FAIL;
	if (ks_signals_install())
		return KS_EXIT_FAIL;
	/* Every collection renders a page (two buffers of a size that follows
	 * the VMs alive, grown by doubling) and frees the one before. Kept in
	 * the collector's malloc arena, they fragmented it, and RSS rose by up
	 * to 0.9 MB over the first VMs of a churn and stayed there. Above this
	 * size they are mapped on their own and go back to the kernel when
	 * freed; the arena keeps only small, long-lived allocations. */
	mallopt(M_MMAP_THRESHOLD, 16 * 1024);
	r = calloc(1, sizeof(*r));
	if (r)
		r->x = calloc(1, sizeof(*r->x));
	if (!r || !r->x) {
		ks_err("out of memory");
		free(r);
		return KS_EXIT_FAIL;
	}
	if (ks_export_init(r->x, a.run.interval_ns, a.run.pid)) {
		ks_err("out of memory");
		ks_export_release(r->x);
		free(r->x);
		free(r);
		return KS_EXIT_FAIL;
	}
	r->x->s.m.start_ns = ks_now_ns();
	if (ks_httpd_open(&r->h, &ss, sslen))
		goto out;
	r->x->h = &r->h;
	r->h.stale_after_ns = 2 * a.run.interval_ns + KS_NS_PER_S;
	start_bpf(r->x, a.run.pid, a.loader);
	/* The first page exists before the first scrape can come. */
	collect_and_publish(r);
	printf("kvmscope export: serving %s (%s), collecting every %.3f s. Ctrl-C ends.\n", r->h.url,
	       r->x->bpf ? "binary stats and BPF aggregates" : "binary stats only",
	       a.run.interval_ns / 1e9);
	fflush(stdout);

	/* The collector never takes a signal: they interrupt the server's
	 * epoll_wait, and the main thread ends the run. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	errno = pthread_create(&r->collector, NULL, collector, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (errno) {
		ks_err("cannot start the collector thread: %s", strerror(errno));
		goto out;
	}
	r->collector_started = true;
	if (ks_httpd_run(&r->h, should_stop, r) == 0)
		status = KS_EXIT_OK;   /* SIGINT/SIGTERM end an export normally */
	if (__atomic_load_n(&r->vmm_gone, __ATOMIC_ACQUIRE)) {
		printf("kvmscope export: PID %d exited: export ended\n", a.run.pid);
		fflush(stdout);
	}
out:
	if (r->collector_started && end_collector(r)) {
		/* The collector still holds the session: leave everything to
		 * the exit. */
		ks_warn("export: the collector is stuck (collection %llu started %.1f s ago): "
			"ending without it", (unsigned long long)r->x->collections + 1,
			(ks_now_ns() - __atomic_load_n(&r->collect_start_ns, __ATOMIC_RELAXED)) / 1e9);
		fflush(stdout);
		return status;
	}
	ks_httpd_close(&r->h);
	ks_export_release(r->x);
	ring_buffer__free(r->x->rb);
	if (r->x->bpf)
		ks_loader_destroy(&r->x->l);
	free(r->x);
	free(r);
	return status;
}
