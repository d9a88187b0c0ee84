// SPDX-License-Identifier: GPL-2.0
/*
 * kvmscope migrate: what dirty logging costs each VM, live.
 *
 * Lifecycle: parse → probe → load/attach (tracer/hooks/loader.c) → find VMMs →
 * loop { ring buffer events, VMM exits (pidfd), interval samples } →
 * summary → detach. One cleanup path; exit status per docs/usage.md.
 */
#include <argp.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "commands.h"
#include "hooks/guestcost.h"
#include "lib/help.h"
#include "hooks/loader.h"
#include "migrate/sink.h"
#include "session/session.h"
#include "migrate.skel.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/runopts.h"
#include "lib/signals.h"
#include "lib/trace_chrome.h"

/* epoll data of the ring buffer, of stdout (a closed pipe), else VM index + 1. */
#define EV_RINGBUF 0
#define EV_STDOUT UINT64_MAX

struct migrate_args {
	struct ks_run_opts run;
	const char *trace_path;   /* --trace FILE */
	struct ks_loader_opts loader;   /* --max-vms */
};

static const struct argp_option migrate_options[] = {
	{ "pid", 'p', "PID", 0, "Trace only the VMM with this process id", 0 },
	{ "interval", 'i', "INTERVAL", 0, "Report every INTERVAL (default 1s; e.g. 500ms, 2s)", 0 },
	{ "duration", 'd', "DURATION", 0, "Stop after DURATION (default: until SIGINT, SIGTERM, SIGHUP or SIGQUIT)", 0 },
	{ "json", 'j', NULL, 0, "JSON lines (docs/json.md) instead of text", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose output, including libbpf's log", 0 },
	{ "trace", 't', "FILE", 0, "Also write the run as a Chrome trace-event JSON timeline "
	  "(opens in Perfetto and chrome://tracing)", 0 },
	KS_LOADER_OPTION_MAX_VMS,
	KS_LOADER_OPTIONS_FAULTS,
	{ 0 },
};

static error_t parse_migrate(int key, char *arg, struct argp_state *state)
{
	struct migrate_args *a = state->input;

	if (key == KS_OPT_FAULT_PROGRAM_KEY || key == KS_OPT_FAULT_LATENCY_KEY)
		return ks_loader_parse_fault_opt(key, &a->loader);
	if (key == 't') {
		if (!*arg)
			argp_error(state, "--trace: empty file name");
		a->trace_path = arg;
		return 0;
	}
	if (key == KS_OPT_MAX_VMS)
		return ks_loader_parse_max_vms(arg, state, &a->loader);
	return ks_parse_run_opt(key, arg, state, &a->run);
}

struct run {
	struct ks_session s;
	struct ks_loader l;
	struct ks_trace trace;
	struct ring_buffer *rb;
	int epfd;
	struct ks_sink out;          /* the JSON lines or text on stdout */
	bool stdout_closed;          /* its reader went away */
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct run *r = ctx;

	if (len >= sizeof(struct ks_event))
		ks_session_event(&r->s, data);
	return 0;
}

/* The session's hooks: VMM exits come through epoll on their pidfds. */
static int watch(void *ctx, struct ks_vm *vm)
{
	struct run *r = ctx;
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = (uint64_t)vm->index + 1; /* 0 is the ring buffer */
	return epoll_ctl(r->epfd, EPOLL_CTL_ADD, vm->st.pidfd, &ev);
}

static void unwatch(void *ctx, struct ks_vm *vm)
{
	struct run *r = ctx;

	epoll_ctl(r->epfd, EPOLL_CTL_DEL, vm->st.pidfd, NULL);
}

static void drain(void *ctx)
{
	struct run *r = ctx;

	ring_buffer__consume(r->rb);
}

/* Writing the output failed, or its reader is gone. */
static bool output_failed(struct run *r)
{
	return r->stdout_closed || r->out.ops->failed(r->out.self);
}

static int loop(struct run *r, const struct migrate_args *a)
{
	struct ks_model *m = &r->s.m;
	uint64_t start = m->start_ns, next = start + a->run.interval_ns;
	uint64_t end = a->run.duration_ns ? start + a->run.duration_ns : UINT64_MAX;
	struct epoll_event evs[16];

	while (!ks_stop_signal && !output_failed(r) && !r->trace.err) {
		uint64_t t = ks_now_ns(), wake = next < end ? next : end;
		int n, timeout_ms = wake > t ? (int)((wake - t + 999999) / 1000000) : 0;

		/* BPF wakes us only when the ring buffer fills (bpf/kvmscope.h). */
		if (timeout_ms > KS_RB_DRAIN_MS)
			timeout_ms = KS_RB_DRAIN_MS;
		n = epoll_wait(r->epfd, evs, 16, timeout_ms);
		if (n < 0 && errno != EINTR)
			return ks_err("epoll_wait: %s", strerror(errno));
		if (ring_buffer__consume(r->rb) < 0)
			return ks_err("reading the ring buffer failed");
		ks_session_recheck_released(&r->s, ks_now_ns());
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == EV_RINGBUF) {
				if (ring_buffer__consume(r->rb) < 0)
					return ks_err("reading the ring buffer failed");
			} else if (evs[i].data.u64 == EV_STDOUT) {
				/* The reader of our output pipe is gone. */
				ks_output_note(EPIPE);
				r->stdout_closed = true;
			} else {
				uint64_t k = evs[i].data.u64 - 1;
				struct ks_vm *vm = k < (uint64_t)m->vms_alloc ? m->vms[k] : NULL;
				struct pollfd pfd = { .events = POLLIN };

				/* The event may be of a VM let go earlier in this
				 * batch (its VM fd released, seen in the ring buffer
				 * consumed above) whose entry a new VMM has taken
				 * since: only the entry's own pidfd being readable
				 * says its VMM exited. */
				if (!vm || !vm->used || !vm->active)
					continue;
				pfd.fd = vm->st.pidfd;
				if (poll(&pfd, 1, 0) > 0)
					ks_session_vm_exited(&r->s, vm, ks_now_ns(), "exited");
			}
		}
		t = ks_now_ns();
		if (t >= next || t >= end) {
			ks_session_tick(&r->s, t);
			ks_session_intervals(&r->s, t);
			while (next <= t)
				next += a->run.interval_ns;
		}
		if (t >= end)
			break;
		/* With -p, the run is about that VMM: it ends when the VMM does. */
		if (m->filter_pid && !ks_model_vm(m, m->filter_pid))
			break;
	}
	if (r->trace.err)
		return ks_err("--trace %s: write failed: %s", a->trace_path, strerror(r->trace.err));
	return output_failed(r) ? ks_err("output failed: %s", ks_output_error()) : 0;
}

const struct argp ks_migrate_argp = { migrate_options, parse_migrate, NULL,
	"Trace what dirty logging (live migration) costs each VM: dirty-log ioctls, "
	"write protection by level, guest faults, splits, with KVM's binary stats "
	"alongside. Reports every interval and a summary at the end.",
	ks_help_children, NULL, NULL };

int cmd_migrate(int argc, char **argv)
{
	struct migrate_args a = { .run.interval_ns = KS_NS_PER_S };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_RINGBUF };
	struct epoll_event out_ev = { .events = 0, .data.u64 = EV_STDOUT };
	struct ks_probe p;
	struct ks_model *m;
	struct ks_sink sink;
	char qtrace[96];
	struct run *r;
	int status = KS_EXIT_FAIL;

	if (argp_parse(&ks_migrate_argp, argc, argv, 0, NULL, &a))
		return KS_EXIT_USAGE;
	r = calloc(1, sizeof(*r));
	if (!r) {
		ks_err("out of memory");
		return KS_EXIT_FAIL;
	}
	r->epfd = -1;
	ks_session_init(&r->s, a.run.interval_ns);
	m = &r->s.m;
	m->filter_pid = a.run.pid;
	r->s.hooks = (struct ks_session_hooks){ .ctx = r, .watch = watch, .unwatch = unwatch,
						.drain = drain };
	/* The output: JSON lines or text on stdout. */
	if ((a.run.json ? ks_sink_json(&sink, stdout) : ks_sink_text(&sink, stdout)) ||
	    ks_session_add_sink(&r->s, sink)) {
		ks_err("out of memory");
		goto out_free;
	}
	r->out = r->s.sinks[0];

	if (a.run.pid && ks_vmm_require(a.run.pid))
		goto out_free;
	if (ks_signals_install())
		goto out_free;
	/* Before the slow part: a bad path fails at once. From here on every
	 * path goes through `out`, which completes the file. */
	if (a.trace_path) {
		if (ks_trace_open(&r->trace, a.trace_path))
			goto out_free;
		if (ks_sink_trace(&sink, &r->trace) || ks_session_add_sink(&r->s, sink)) {
			ks_trace_close(&r->trace);
			ks_err("out of memory");
			goto out_free;
		}
	}
	ks_libbpf_logging();
	ks_progress("probing the kernel...");
	ks_probe_init(&p);
	a.loader.filter_tgid = (unsigned int)a.run.pid;
	m->fault_latency_asked = (a.loader.fault_opts & KS_OPT_FAULT_LATENCY) != 0;
	if (ks_loader_start(&r->l, &p, &a.loader)) {
		ks_probe_free(&p);
		/* A signal may interrupt the loading itself (EINTR). */
		if (ks_stop_signal)
			status = ks_signal_exit_status();
		goto out;
	}
	ks_probe_free(&p);
	/* Loading parsed the kernel's BTF (megabytes), freed now; glibc keeps
	 * freed heap pages mapped unless asked: give them back, since the
	 * tracer runs for hours. */
	malloc_trim(0);
	/* (With -p the look is one process: as cheap as the events.) */
	ks_session_attach(&r->s, r->l.skel, r->l.caps.vm_events && !a.run.pid);
	m->max_vms = ks_loader_max_vms(&a.loader);
	m->fault_program = r->l.fault_program;
	/* Interrupted while attaching: nothing was traced, so no summary. */
	if (ks_stop_signal) {
		ks_err("interrupted before tracing started");
		status = ks_signal_exit_status();
		goto out;
	}

	r->rb = ring_buffer__new(bpf_map__fd(r->l.skel->maps.events), on_event, r, NULL);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!r->rb || r->epfd < 0 ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(r->rb), &ev)) {
		ks_err("cannot set up the event loop: %s", strerror(errno));
		goto out;
	}
	/* A run that prints nothing for a while must still end when its
	 * output pipe closes: the pipe's write end reports EPOLLERR then.
	 * Files and /dev/null cannot be watched (EPERM); they never close. */
	epoll_ctl(r->epfd, EPOLL_CTL_ADD, STDOUT_FILENO, &out_ev);
	m->start_ns = ks_now_ns();
	m->cpu_start = ks_self_cpu();
	ks_model_caps(m, &r->l.caps);
	{
		struct ks_json j;

		if (a.run.json) {
			ks_json_begin(&j, stdout, "attached", m->start_ns);
			ks_json_u64(&j, "programs", r->l.nr_progs);
			ks_json_i64(&j, "filter_pid", a.run.pid);
			ks_json_u64(&j, "interval_ns", a.run.interval_ns);
			ks_json_bool(&j, "fault_latency", m->fault_latency);
			ks_json_str(&j, "fault_source", m->fault_program ? "fault_program" :
				    "kvm_vcpu_stat");
			ks_json_u64(&j, "tracer_user_ns", m->cpu_start.user_ns);
			ks_json_u64(&j, "tracer_sys_ns", m->cpu_start.sys_ns);
			ks_guest_figs_json(&j, &r->l.caps, r->l.vendor.module);
			ks_json_obj(&j, "hooks");
			for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
				const struct ks_choice *c = &r->l.choices[i];

				ks_json_str(&j, ks_hooks[i].metric, c->way < 0 ? "unavailable" :
					    ks_hooks[i].ways[c->way].target);
			}
			ks_json_end(&j);
		} else {
			printf("kvmscope migrate: %u programs attached; tracing %s every %.3f s. Ctrl-C ends.\n",
			       r->l.nr_progs, a.run.pid ? "one VMM" : "all VMMs", a.run.interval_ns / 1e9);
			/* PML-full exits are a figure of PML hosts only. */
			for (unsigned int i = 0; i < KS_NR_METRICS; i++)
				if (r->l.choices[i].way < 0 &&
				    (i != KS_M_PML_FULL || r->l.caps.dirty == KS_DIRTY_PML))
					printf("  unavailable on this kernel: %s (see 'kvmscope check')\n",
					       ks_hooks[i].metric);
			if (!m->fault_program)
				printf("  faults: KVM's per-vCPU stats, no program on the fault path "
				       "(write-protect faults fixed in KVM's fast path; --fault-program "
				       "counts them all, at a cost to the guest)\n");
			else if ((a.loader.fault_opts & KS_OPT_FAULT_PROGRAM) == 0)
				printf("  faults: a program on the fault path (KVM's stats cannot be "
				       "read on this kernel; see 'kvmscope check')\n");
			if (!m->fault_latency)
				printf("  fault latency: %s\n", m->fault_latency_asked ?
				       "cannot be traced on this kernel (see 'kvmscope check')" :
				       "off (--fault-latency turns it on, at a cost to the guest)");
			ks_guest_figs_text(stdout, &r->l.caps, r->l.vendor.module,
					   r->l.vendor.params, "  ");
			fflush(stdout);
		}
	}
	/* Only now is an existing trace file emptied (ks_trace_open). */
	if (a.trace_path && ks_trace_begin(&r->trace)) {
		ks_err("--trace %s: %s", ks_text_escape(a.trace_path, qtrace, sizeof(qtrace)),
		       strerror(r->trace.err));
		goto out;
	}
	ks_session_start(&r->s, m->start_ns);
	if (a.run.pid && !ks_model_vm(m, a.run.pid)) {
		ks_err("PID %d exited before tracing started", a.run.pid);
		goto out;
	}
	if (loop(r, &a) == 0)
		status = KS_EXIT_OK;
	/* Whatever ended the run, report what was collected. */
	ks_session_summary(&r->s, ks_now_ns());
	if (output_failed(r))
		status = KS_EXIT_FAIL;
out:
	/* The trace is closed on every path, so it stays valid JSON. */
	if (ks_session_close(&r->s, ks_now_ns()) && status == KS_EXIT_OK) {
		ks_err("--trace %s: write failed: %s",
		       ks_text_escape(a.trace_path, qtrace, sizeof(qtrace)), strerror(r->trace.err));
		status = KS_EXIT_FAIL;
	}
	ring_buffer__free(r->rb);
	if (r->epfd >= 0)
		close(r->epfd);
	ks_loader_destroy(&r->l);
out_free:
	ks_session_free(&r->s);
	free(r);
	return status;
}
