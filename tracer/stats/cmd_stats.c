// SPDX-License-Identifier: GPL-2.0
/*
 * kvmscope stats: KVM's binary statistics of every VM (or of one VMM), read
 * through the stats fds the VMMs hold: values and rates, with units,
 * exponents and bases from the descriptors, histograms decoded. No BPF.
 */
#include <argp.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "commands.h"
#include "lib/help.h"
#include "kvm/statsfd.h"
#include "stats/stats_output.h"
#include "kvm/vmstats.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "lib/log.h"
#include "lib/runopts.h"
#include "lib/selfcpu.h"
#include "lib/signals.h"
#include "lib/term.h"

#define MAX_VMS 256
#define MAX_FILTERS 32
/* Looking through /proc for VMMs costs the same whatever -i is, and grows
 * with the host's processes and fds: it is done once a second, or less
 * often when a look is dear (ks_vmm_look_every: within 1% of a CPU).
 * Whether a known VMM still holds its VM is looked at every second
 * regardless: one readlink per VMM. */
#define RESCAN_NS KS_NS_PER_S

struct stats_args {
	struct ks_run_opts run;
	bool per_vcpu;
	bool raw;
	char *filters[MAX_FILTERS];
	int nfilters;
	char filter_buf[1024];
};

static const struct argp_option stats_options[] = {
	{ "pid", 'p', "PID", 0, "Only the VMM with this process id", 0 },
	{ "interval", 'i', "INTERVAL", 0, "Sample every INTERVAL (default 1s, at least 10ms)", 0 },
	{ "duration", 'd', "DURATION", 0, "Stop after DURATION (default: until SIGINT, SIGTERM, SIGHUP or SIGQUIT)", 0 },
	{ "vcpu", 'c', NULL, 0, "One row per vCPU instead of the sum over vCPUs", 0 },
	{ "filter", 'f', "NAME[,NAME]", 0, "Only these statistics (exact names)", 0 },
	{ "json", 'j', NULL, 0, "JSON lines (docs/json.md) instead of a table", 0 },
	{ "raw", 'r', NULL, 0, "JSON: also each statistic's u64 as read", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose output", 0 },
	{ 0 },
};

static error_t parse_stats(int key, char *arg, struct argp_state *state)
{
	struct stats_args *a = state->input;
	char err[96];

	switch (key) {
	case 'c':
		a->per_vcpu = true;
		return 0;
	case 'r':
		a->raw = true;
		return 0;
	case ARGP_KEY_END:
		if (a->raw && !a->run.json)
			argp_error(state, "--raw: only with --json (the table shows values in their units)");
		return 0;
	case 'f':
		if (strlen(arg) >= sizeof(a->filter_buf))
			argp_error(state, "--filter: longer than %zu bytes", sizeof(a->filter_buf) - 1);
		snprintf(a->filter_buf, sizeof(a->filter_buf), "%s", arg);
		a->nfilters = ks_parse_names(a->filter_buf, a->filters, MAX_FILTERS, err, sizeof(err));
		if (a->nfilters < 0)
			argp_error(state, "--filter: %s", err);
		return 0;
	default:
		return ks_parse_run_opt(key, arg, state, &a->run);
	}
}

struct tracked {
	bool used;
	struct ks_vmstats st;
	bool announced;          /* its schemas printed (JSON) */
	bool warned;             /* said that it has no stats */
	int vm_fd;               /* its VM's fd number in the VMM */
};

struct stats_run {
	const struct stats_args *a;
	struct ks_stats_out out;
	struct tracked vms[MAX_VMS];
	bool seen[MAX_VMS];      /* found with a VM fd by the current scan */
	uint64_t start_ns, last_scan, last_look;
	uint64_t rescan_ns;      /* RESCAN_NS, or longer on a host where a look is dear */
	bool output_failed;
	bool tty;                /* table to a terminal that takes ANSI: redrawn in place */
	bool warned_full;        /* said once that VMMs went unshown */
	bool started;            /* the first look is done */
};

static struct tracked *find(struct stats_run *r, pid_t pid)
{
	for (int i = 0; i < MAX_VMS; i++)
		if (r->vms[i].used && r->vms[i].st.pid == pid)
			return &r->vms[i];
	return NULL;
}

static int adopt(const struct ks_vmm *v, void *ctx)
{
	struct stats_run *r = ctx;
	struct tracked *t = find(r, v->pid), *slot = NULL;
	int rc;

	bool warned = t && t->warned;

	if (t)
		r->seen[t - r->vms] = true;
	/* Known: open its stats again only if the rule says so (vmstats.h). */
	if (t && !ks_vmstats_stale(&t->st, ks_stats_src_ok(&t->st.vm), v))
		return 0;
	if (t) {
		ks_vmstats_close(&t->st);
		slot = t;
	}
	for (int i = 0; !slot && i < MAX_VMS; i++)
		if (!r->vms[i].used)
			slot = &r->vms[i];
	if (!slot) {
		if (!r->warned_full)
			ks_warn("more than %d VMMs: PID %d and any further ones not shown",
				MAX_VMS, (int)v->pid);
		r->warned_full = true;
		return 0;
	}
	memset(slot, 0, sizeof(*slot));
	rc = ks_vmstats_open(&slot->st, v);
	if (rc < 0)
		return 0; /* gone already */
	slot->used = true;
	slot->vm_fd = v->vm_fd;
	slot->warned = warned;
	r->seen[slot - r->vms] = true;
	/* -p at the first look: the one error line says it instead. */
	if (rc > 0 && !slot->warned && !(r->a->run.pid && !r->started)) {
		char comm[64];

		ks_warn("PID %d (%s): no binary stats: %s", (int)v->pid,
			ks_text_escape(v->comm, comm, sizeof(comm)), slot->st.why);
		slot->warned = true;
	}
	return 0;
}

/* Finds new VMMs and marks which tracked ones still hold a VM fd
 * (r->seen): one that lives on without any was closed (sample_all). */
static void scan(struct stats_run *r, uint64_t ts)
{
	struct ks_vmm *v;

	r->last_scan = ts;
	memset(r->seen, 0, sizeof(r->seen));
	if (!r->a->run.pid) {
		uint64_t cpu = ks_thread_cpu_ns();

		ks_vmm_scan_all(adopt, r);
		r->rescan_ns = ks_vmm_look_every(RESCAN_NS, ks_thread_cpu_ns() - cpu);
		ks_debug("stats: look through /proc: %.1f ms CPU, next in %.1f s",
			 (ks_thread_cpu_ns() - cpu) / 1e6, r->rescan_ns / 1e9);
		return;
	}
	v = malloc(sizeof(*v));
	if (v && ks_vmm_scan(r->a->run.pid, v) == 1)
		adopt(v, r);
	free(v);
}

/* --- output (stats_output.c) ------------------------------------------------- */

static void json_vm(struct stats_run *r, struct tracked *t, uint64_t ts)
{
	if (!t->announced) {
		ks_stats_json_schema(&r->out, &t->st, &t->st.vm, ts);
		if (t->st.nvcpu)
			ks_stats_json_schema(&r->out, &t->st, &t->st.vcpu[0], ts);
		t->announced = true;
	}
	ks_stats_json_src(&r->out, &t->st, &t->st.vm, ts);
	for (int i = 0; i < t->st.nvcpu; i++)
		ks_stats_json_src(&r->out, &t->st, &t->st.vcpu[i], ts);
}

/* --- the loop ---------------------------------------------------------------- */

/* The VM went away: its VMM exited, or closed it ("exited"/"closed"). */
static void vm_gone(struct stats_run *r, struct tracked *t, uint64_t ts, const char *why)
{
	struct ks_json j;

	if (r->a->run.json) {
		ks_json_begin(&j, stdout, "vm", ts);
		ks_json_str(&j, "event", why);
		ks_json_i64(&j, "pid", t->st.pid);
		ks_json_str(&j, "comm", t->st.comm);
		ks_json_end_batch(&j); /* flushed with the sample */
	}
	ks_vmstats_close(&t->st);
	t->used = false;
}

/* Which tracked VMMs have exited (their pidfd is readable): one poll for
 * all of them, not a system call per VM per sample. */
static void exits(struct stats_run *r, bool *gone)
{
	struct pollfd p[MAX_VMS];
	int at[MAX_VMS], n = 0;

	for (int i = 0; i < MAX_VMS; i++) {
		gone[i] = false;
		if (r->vms[i].used) {
			p[n] = (struct pollfd){ .fd = r->vms[i].st.pidfd, .events = POLLIN };
			at[n++] = i;
		}
	}
	if (n && poll(p, (nfds_t)n, 0) > 0)
		for (int k = 0; k < n; k++)
			gone[at[k]] = p[k].revents != 0;
}

static void sample_all(struct stats_run *r, uint64_t ts)
{
	bool scanned = ts - r->last_scan >= r->rescan_ns, gone[MAX_VMS];
	bool look = scanned || ts - r->last_look >= RESCAN_NS;
	int shown = 0;

	if (scanned)
		scan(r, ts);
	if (look)
		r->last_look = ts;
	exits(r, gone);
	if (r->tty)
		printf("\033[H\033[2J"); /* top-like: redraw in place */
	if (!r->a->run.json)
		printf("kvmscope stats  %.3f s\n", (ts - r->start_ns) / 1e9);
	for (int i = 0; i < MAX_VMS; i++) {
		struct tracked *t = &r->vms[i];

		if (!t->used)
			continue;
		if (gone[i]) {
			vm_gone(r, t, ts, "exited");
			continue;
		}
		/* Our copies of its stats fds would keep a closed VM alive. */
		if (look && (scanned ? !r->seen[i] : !ks_vmm_holds_vm_fd(t->st.pid, t->vm_fd))) {
			/* Its fds also go when it exits after exits() looked. */
			struct pollfd p = { .fd = t->st.pidfd, .events = POLLIN };

			vm_gone(r, t, ts, poll(&p, 1, 0) > 0 ? "exited" : "closed");
			continue;
		}
		if (!ks_stats_src_ok(&t->st.vm))
			continue;
		if (ks_vmstats_sample(&t->st, ts)) {
			vm_gone(r, t, ts, "exited");
			continue;
		}
		shown++;
		if (r->a->run.json)
			json_vm(r, t, ts);
		else
			ks_stats_text_vm(&r->out, &t->st);
	}
	if (!r->a->run.json && !shown)
		printf("no VM with binary stats%s\n", r->a->run.pid ? " in that process" : "");
	if (ks_output_check(stdout))
		r->output_failed = true;
}

const struct argp ks_stats_argp = { stats_options, parse_stats, NULL,
	"Show KVM's binary statistics of every VM (or one VMM's), read through the "
	"stats fds the VMMs hold: values and rates in their units, histograms decoded.",
	ks_help_children, NULL, NULL };

int cmd_stats(int argc, char **argv)
{
	struct stats_args a = { .run.interval_ns = KS_NS_PER_S };
	struct stats_run *r;
	uint64_t next, end;
	int status = KS_EXIT_OK;

	if (argp_parse(&ks_stats_argp, argc, argv, 0, NULL, &a))
		return KS_EXIT_USAGE;
	if (a.run.pid && ks_vmm_require(a.run.pid))
		return KS_EXIT_FAIL;
	if (ks_signals_install())
		return KS_EXIT_FAIL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ks_err("out of memory"), KS_EXIT_FAIL;
	r->a = &a;
	r->out = (struct ks_stats_out){ .f = stdout, .per_vcpu = a.per_vcpu, .raw = a.raw,
					.filters = a.filters, .nfilters = a.nfilters };
	r->tty = !a.run.json && ks_term_ansi(STDOUT_FILENO);
	/* A sample (all its records, or the whole table) goes out in one
	 * write, even to a terminal, which stdio would write line by line. */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	r->start_ns = ks_now_ns();
	r->rescan_ns = RESCAN_NS;
	scan(r, r->start_ns);
	r->started = true;
	if (a.run.pid && !find(r, a.run.pid)) {
		ks_err("PID %d exited", a.run.pid);
		free(r);
		return KS_EXIT_FAIL;
	}
	if (a.run.pid && !ks_stats_src_ok(&find(r, a.run.pid)->st.vm)) {
		ks_err("PID %d: %s", a.run.pid, find(r, a.run.pid)->st.why);
		ks_vmstats_close(&find(r, a.run.pid)->st);
		free(r);
		return KS_EXIT_FAIL;
	}
	end = a.run.duration_ns ? r->start_ns + a.run.duration_ns : UINT64_MAX;
	next = r->start_ns + a.run.interval_ns;
	while (!ks_stop_signal && !r->output_failed) {
		uint64_t t = ks_now_ns(), wake = next < end ? next : end;
		struct timespec ts;

		if (wake > t) {
			ts.tv_sec = (wake - t) / KS_NS_PER_S;
			ts.tv_nsec = (wake - t) % KS_NS_PER_S;
			nanosleep(&ts, NULL); /* EINTR on a signal: the loop sees it */
			continue;
		}
		sample_all(r, t);
		while (next <= t)
			next += a.run.interval_ns;
		if (t >= end)
			break;
		if (a.run.pid && !find(r, a.run.pid))
			break; /* the one VMM we watch is gone */
	}
	if (r->output_failed) {
		ks_err("output failed: %s", ks_output_error());
		status = KS_EXIT_FAIL;
	}
	for (int i = 0; i < MAX_VMS; i++)
		if (r->vms[i].used)
			ks_vmstats_close(&r->vms[i].st);
	free(r);
	return status;
}
