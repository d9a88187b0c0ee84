// SPDX-License-Identifier: GPL-2.0
/*
 * kvmscope migrate: what dirty logging costs each VM, live.
 *
 * Lifecycle: parse → probe → load/attach (tracer/loader.c) → find VMMs →
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
#include "hooks/fault_slots.h"
#include "hooks/loader.h"
#include "migrate/migrate.h"
#include "migrate/migrate_trace.h"
#include "migrate.skel.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/runopts.h"
#include "lib/signals.h"

/* Looking through /proc for VMMs costs milliseconds of CPU (a directory
 * per process, a link per fd): once a second. Where the kernel reports VMs
 * created and VM fds released (hooks vm_create and vm_release), those find
 * new VMMs and closed VMs at once, and the look only has to catch what
 * they cannot (a VM fd passed to another process): every 10 s. The VMMs
 * already tracked are looked at every second, and counters left under
 * processes that are no VMM swept, either way (scan_known()). */
#define RESCAN_NS KS_NS_PER_S
#define RESCAN_EVENTS_NS (10 * KS_NS_PER_S)
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
	{ "duration", 'd', "DURATION", 0, "Stop after DURATION (default: until SIGINT/SIGTERM)", 0 },
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
	struct ks_migrate m;
	struct ks_loader l;
	struct ks_trace trace;
	struct ring_buffer *rb;
	int epfd;
	uint64_t last_scan, last_sweep, last_known;
	uint64_t rescan_ns;          /* RESCAN_NS, or RESCAN_EVENTS_NS */
	uint64_t slack_ns;           /* half an interval: boundaries come a little late */
	bool seen[KS_MAX_TRACKED];   /* found with a VM fd by the current scan */
	bool released[KS_MAX_TRACKED]; /* released a VM fd: does it hold another? */
	bool warned_full;            /* said once that VMMs went untraced */
	bool first_scan;             /* the scan when tracing began is under way */
	/* sample_settled(): the counters of a VM that settled before the last
	 * try, which its stats sample goes with. */
	struct ks_vm_counters held[KS_MAX_TRACKED];
};

static void adopt_pid(struct run *r, pid_t pid, uint64_t ts);

static int on_event(void *ctx, void *data, size_t len)
{
	struct run *r = ctx;
	const struct ks_event *e = data;
	struct ks_vm *vm;

	if (len < sizeof(*e))
		return 0;
	ks_migrate_event(&r->m, e);
	/* Looked at after the ring buffer is drained (vm_exited drains it). */
	if (e->type == KS_EV_VM_RELEASE) {
		vm = ks_migrate_vm(&r->m, (pid_t)e->tgid, false);
		if (vm && vm->active && vm->found_ts)
			r->released[vm - r->m.vms] = true;
		return 0;
	}
	/* A new VMM announces itself by its first memslot: adopt it now so its
	 * exit is watched from the start. One that has just made its VM waits
	 * for its first memslot, or the look of the second (scan_known()): it
	 * has no vCPUs and stats fds yet at KVM_CREATE_VM. */
	vm = ks_migrate_vm(&r->m, (pid_t)e->tgid, false);
	if (vm && !vm->found_ts && e->type != KS_EV_VM_CREATE)
		adopt_pid(r, vm->pid, ks_now_ns());
	return 0;
}

/* Attaches binary stats and the exit watch to a VMM found in /proc, and
 * opens them again when the rule of ks_vmstats_stale() says so. */
static void adopt(struct run *r, const struct ks_vmm *v, uint64_t ts)
{
	struct ks_vm *vm = ks_migrate_vm(&r->m, v->pid, true);
	struct epoll_event ev = { .events = EPOLLIN };
	bool retry, had_stats;
	int rc;

	if (!vm) {
		if (!r->warned_full)
			ks_warn("more than %d VMMs: PID %d and any further ones not traced",
				KS_MAX_TRACKED, (int)v->pid);
		r->warned_full = true;
		return;
	}
	r->seen[vm - r->m.vms] = true;
	retry = vm->found_ts != 0;
	if (retry && !ks_vmstats_stale(&vm->st, vm->have_stats, v))
		return; /* nothing new to attach */
	had_stats = vm->have_stats;
	if (retry) {
		epoll_ctl(r->epfd, EPOLL_CTL_DEL, vm->st.pidfd, NULL);
		ks_vmstats_close(&vm->st);
	}
	snprintf(vm->comm, sizeof(vm->comm), "%s", v->comm);
	rc = ks_vmstats_open(&vm->st, v);
	if (rc < 0) {
		vm->active = false; /* gone before we could look */
		return;
	}
	vm->have_stats = rc == 0;
	vm->stats_baseline = false;
	vm->vcpus_seen = v->nvcpu;
	if (!retry) {
		vm->found_ts = ts;
		vm->preexisting = r->first_scan;
	}
	if (vm->have_stats) {
		ks_vmstats_sample(&vm->st, ts);
		/* The zero of a running VM's fault counts, as early as can be. */
		ks_migrate_stats_faults(&r->m, vm);
	}
	ev.data.u64 = (uint64_t)(vm - r->m.vms) + 1; /* 0 is the ring buffer */
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, vm->st.pidfd, &ev))
		ks_warn("cannot watch PID %d for exit: %s", (int)v->pid, strerror(errno));
	/* A VMM still without stats is looked at again every scan: say so
	 * only when something changed. */
	if (!retry || vm->have_stats || had_stats)
		ks_migrate_report_vm(&r->m, vm, retry ? "stats" : "found", ts);
}

/* Scans one process now (a VMM whose events arrived before we knew it). */
static void adopt_pid(struct run *r, pid_t pid, uint64_t ts)
{
	struct ks_vmm *v = malloc(sizeof(*v));

	if (v && ks_vmm_scan(pid, v) == 1)
		adopt(r, v, ts);
	free(v);
}

static int adopt_cb(const struct ks_vmm *v, void *ctx)
{
	struct run *r = ctx;

	adopt(r, v, ks_now_ns());
	return 0;
}

static void vm_exited(struct run *r, struct ks_vm *vm, uint64_t ts, const char *why);

/* A VMM known only from its events (it was gone before /proc showed it:
 * a VM that lived for milliseconds) has no pidfd to report its exit: one
 * whose process is gone has exited. Not from on_event: vm_exited drains
 * the ring buffer, which must not nest. */
static void reap_unfound(struct run *r, uint64_t ts)
{
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		struct ks_vm *vm = &r->m.vms[i];

		if (vm->used && vm->active && !vm->found_ts && kill(vm->pid, 0) && errno == ESRCH)
			vm_exited(r, vm, ts, "exited");
	}
}

/* Counters under a process that is not a traced VMM: what KVM does while
 * a VM is destroyed is counted in whichever process closed the VM's last
 * fd (kvmscope's own, or another tracer's holding copies of its stats
 * fds), after that VM was forgotten. Deleted at each rescan, unless the
 * process is a VMM about to be adopted. */
static bool stray(struct run *r, pid_t pid, struct ks_vmm **v)
{
	if (ks_migrate_vm(&r->m, pid, false))
		return false;
	if (!*v && !(*v = malloc(sizeof(**v))))
		return false;
	return ks_vmm_scan(pid, *v) != 1;
}

static void sweep_strays(struct run *r)
{
	int fd = bpf_map__fd(r->l.skel->maps.vm_counters);
	int ufd = bpf_map__fd(r->l.skel->maps.untracked);
	struct ks_vm_key key, next;
	uint32_t ukey, unext;
	struct ks_vmm *v = NULL;
	bool more = !bpf_map_get_next_key(fd, NULL, &next);

	while (more) {
		key = next;
		more = !bpf_map_get_next_key(fd, &key, &next);
		if (stray(r, (pid_t)key.tgid, &v))
			bpf_map_delete_elem(fd, &key);
	}
	/* The same for the marks of processes that found the table full. */
	more = !bpf_map_get_next_key(ufd, NULL, &unext);
	while (more) {
		ukey = unext;
		more = !bpf_map_get_next_key(ufd, &ukey, &unext);
		if (stray(r, (pid_t)ukey, &v))
			bpf_map_delete_elem(ufd, &ukey);
	}
	/* Fault slots of a VMM that went untraced (more than KS_MAX_TRACKED)
	 * and has exited: given back, a few per scan. */
	{
		pid_t gone[16];
		int ngone = 0;

		fd = bpf_map__fd(r->l.skel->maps.vm_slots);
		more = !bpf_map_get_next_key(fd, NULL, &next);
		while (more && ngone < 16) {
			key = next;
			more = !bpf_map_get_next_key(fd, &key, &next);
			if (!ks_migrate_vm(&r->m, (pid_t)key.tgid, false) &&
			    kill((pid_t)key.tgid, 0) && errno == ESRCH)
				gone[ngone++] = (pid_t)key.tgid;
		}
		for (int i = 0; i < ngone; i++)
			ks_fault_slots_release(r->l.skel, gone[i]);
	}
	free(v);
}

/* Finds new VMMs; a traced VM whose VMM lives on without any VM fd was
 * closed, and is let go: our copies of its stats fds would otherwise keep
 * it alive in the kernel. */
static void scan(struct run *r, uint64_t ts)
{
	r->last_scan = r->last_sweep = r->last_known = ts;
	memset(r->seen, 0, sizeof(r->seen));
	if (!r->m.filter_pid)
		ks_vmm_scan_all(adopt_cb, r);
	else
		adopt_pid(r, r->m.filter_pid, ts);
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		struct ks_vm *vm = &r->m.vms[i];

		if (vm->used && vm->active && vm->found_ts && !r->seen[i])
			vm_exited(r, vm, ts, "closed");
	}
	reap_unfound(r, ts);
	sweep_strays(r);
}

/* One tracked VMM looked at now: closed if it holds no VM fd any more,
 * otherwise its stats opened again if ks_vmstats_stale() says so (more
 * vCPUs, its stats fds opened late). A process gone is left to its pidfd. */
static void look_again(struct run *r, struct ks_vm *vm, uint64_t ts)
{
	struct ks_vmm *v = malloc(sizeof(*v));
	int rc;

	if (!v)
		return;
	rc = ks_vmm_scan(vm->pid, v);
	if (rc == 0)
		vm_exited(r, vm, ts, "closed");
	else if (rc == 1)
		adopt(r, v, ts);
	free(v);
}

/* Between the full scans, once a second: VMMs known from events but not
 * yet found in /proc, and every tracked VMM (vCPUs added, stats fds
 * opened, VM closed): what the full scan would find about them, at a
 * fraction of its cost (one fd directory each). */
static void scan_known(struct run *r, uint64_t ts)
{
	/* (Half an interval early rather than one late: at -i 250ms, "a
	 * second since" would otherwise come every 1.25 s.) */
	bool all = ts - r->last_known + r->slack_ns >= RESCAN_NS;

	if (all)
		r->last_known = ts;
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		struct ks_vm *vm = &r->m.vms[i];

		if (!vm->used || !vm->active)
			continue;
		/* Not found yet: a VMM announced by KVM_CREATE_VM waits for the
		 * look of the second, by when it usually holds its vCPUs and
		 * stats fds (found earlier, it would be read through debugfs
		 * first and reopened). Without stats, or through debugfs: every
		 * interval, so stats fds opened late are taken up at once. */
		if (!vm->found_ts) {
			if (all)
				adopt_pid(r, vm->pid, ts);
		} else if (all || !vm->have_stats || vm->st.vm.dbg_dir >= 0) {
			look_again(r, vm, ts);
		}
	}
	reap_unfound(r, ts);
}

/* VMMs that released a VM fd while living on: looked at at once. */
static void recheck_released(struct run *r, uint64_t ts)
{
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		struct ks_vm *vm = &r->m.vms[i];

		if (!r->released[i])
			continue;
		r->released[i] = false;
		if (vm->used && vm->active && vm->found_ts)
			look_again(r, vm, ts);
	}
}

/* The counters the interval's agreements compare with KVM's statistics. */
struct settle_key {
	unsigned long long tlb_flushes, faults;
	unsigned long long page_delta[KS_MAX_LEVEL];
};

static void settle_key(const struct ks_vm *vm, struct settle_key *k)
{
	k->tlb_flushes = vm->total.tlb_flushes;
	k->faults = vm->total.faults;
	memcpy(k->page_delta, vm->total.page_delta, sizeof(k->page_delta));
}

/* Nothing moved between the two reads that a comparison would notice: TLB
 * flushes and page-size sums are compared exactly, so they must not move at
 * all; faults are compared within a slack (migrate_report.c) and during a
 * fault storm move by a few in any window, so the window's faults must stay
 * within max(2, 1%) of the interval's. */
static bool settle_same(const struct ks_vm *vm, const struct settle_key *a,
			const struct settle_key *b)
{
	unsigned long long interval = b->faults >= vm->last.faults ? b->faults - vm->last.faults : 0;
	unsigned long long slack = interval / 100 > 2 ? interval / 100 : 2;

	return a->tlb_flushes == b->tlb_flushes &&
	       !memcmp(a->page_delta, b->page_delta, sizeof(a->page_delta)) &&
	       b->faults - a->faults <= slack;
}

/* Reads the counters and samples the binary stats of one VM (or of every
 * active VM with stats if vm is NULL) at the end of an interval.
 * KVM counts a TLB flush request or a fault in its stats and the BPF program
 * counts it in the map a moment apart, and page-size stats are added before
 * kvm_mmu_page_stats fires; an event between reading the counters and the
 * stats would count in different intervals on the two sides (the tracer's
 * thread can be preempted for milliseconds between the two reads). So the
 * counters are read again after the stats: if the compared counters did not
 * move (settle_same()), no such event fell between the reads (short of one
 * stalled for the whole sample) and the VM is "settled"; if they moved,
 * sample again, a few times at most. An interval not settled at both ends has its comparisons
 * shown, not judged (migrate_report.c). A retry samples again only the VMs
 * that moved: a fault storm in one VM must not multiply the work done for
 * every other (the counters are one map walk for all VMs either way). */
static void sample_settled(struct run *r, struct ks_vm *only, uint64_t ts)
{
	enum { TRIES = 4 };
	struct settle_key before[KS_MAX_TRACKED], after;
	bool moved = true, held[KS_MAX_TRACKED] = { false };
	int t;

	for (t = 0; t < TRIES && moved; t++) {
		moved = false;
		ks_migrate_read_vm_counters(&r->m, r->l.skel);
		for (int i = 0; i < KS_MAX_TRACKED; i++) {
			struct ks_vm *vm = &r->m.vms[i];

			if ((only && vm != only) || !vm->used || !vm->active || !vm->have_stats ||
			    (t && vm->settled))
				continue;
			/* A retry reads the same sample point again. */
			if (t)
				ks_vmstats_resample(&vm->st, ts);
			else
				ks_vmstats_sample(&vm->st, ts);
			settle_key(vm, &before[i]);
		}
		ks_migrate_read_vm_counters(&r->m, r->l.skel);
		for (int i = 0; i < KS_MAX_TRACKED; i++) {
			struct ks_vm *vm = &r->m.vms[i];

			if ((only && vm != only) || !vm->used || !vm->active || !vm->have_stats ||
			    (t && vm->settled))
				continue;
			settle_key(vm, &after);
			vm->settled = settle_same(vm, &before[i], &after);
			moved |= !vm->settled;
			if (vm->settled) {
				r->held[i] = vm->total;
				held[i] = true;
			}
		}
	}
	/* A VM that settled before the last try keeps the counters read with
	 * its stats, not those of the later reads. Without the fault program
	 * its faults are those of the last sample. */
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		struct ks_vm *vm = &r->m.vms[i];

		if (held[i])
			vm->total = r->held[i];
		if ((!only || vm == only) && vm->used && vm->active && vm->have_stats)
			ks_migrate_stats_faults(&r->m, vm);
	}
	/* The vCPU table after the sample: the VM counters are compared with
	 * the stats read right after them, and nothing may widen that gap. */
	ks_migrate_read_vcpu_faults(&r->m, r->l.skel);
}

/* The VM went away: its VMM exited, or closed it ("exited"/"closed"). */
static void vm_exited(struct run *r, struct ks_vm *vm, uint64_t ts, const char *why)
{
	/* Collect what is still in flight before the VM leaves the report. */
	ring_buffer__consume(r->rb);
	/* The stats fds still pin the VM: its last values are readable. */
	if (vm->have_stats)
		sample_settled(r, vm, ts);
	else
		ks_migrate_read_counters(&r->m, r->l.skel);
	vm->exit_ts = ts;
	ks_migrate_report_vm_interval(&r->m, vm, ts);
	ks_migrate_report_vm(&r->m, vm, why, ts);
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, vm->st.pidfd, NULL);
	ks_vmstats_close(&vm->st);   /* the stats fds pin the VM in the kernel */
	vm->active = false;
	ks_migrate_forget_in_kernel(r->l.skel, vm);
	/* Its summary now, and its slot free for the next VM: a long run
	 * with VMs coming and going must neither run out of the
	 * KS_MAX_TRACKED slots nor grow. */
	ks_migrate_report_vm_summary(&r->m, vm, ts);
	ks_migrate_vm_free(vm);
	vm->used = false;
}

static int loop(struct run *r, const struct migrate_args *a)
{
	uint64_t start = r->m.start_ns, next = start + a->run.interval_ns;
	uint64_t end = a->run.duration_ns ? start + a->run.duration_ns : UINT64_MAX;
	struct epoll_event evs[16];

	while (!ks_stop_signal && !r->m.output_failed && !r->trace.err) {
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
		recheck_released(r, ks_now_ns());
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == EV_RINGBUF) {
				if (ring_buffer__consume(r->rb) < 0)
					return ks_err("reading the ring buffer failed");
			} else if (evs[i].data.u64 == EV_STDOUT) {
				/* The reader of our output pipe is gone. */
				ks_output_note(EPIPE);
				r->m.output_failed = true;
			} else {
				struct ks_vm *vm = &r->m.vms[evs[i].data.u64 - 1];
				struct pollfd pfd = { .fd = vm->st.pidfd, .events = POLLIN };

				/* The event may be of a VM let go earlier in this
				 * batch (its VM fd released, seen in the ring buffer
				 * consumed above) whose slot a new VMM has taken
				 * since: only the slot's own pidfd being readable
				 * says its VMM exited. */
				if (vm->active && poll(&pfd, 1, 0) > 0)
					vm_exited(r, vm, ks_now_ns(), "exited");
			}
		}
		t = ks_now_ns();
		if (t >= next || t >= end) {
			ring_buffer__consume(r->rb);
			recheck_released(r, t);
			if (t - r->last_scan + r->slack_ns >= r->rescan_ns) {
				scan(r, t);
			} else {
				scan_known(r, t);
				if (t - r->last_sweep + r->slack_ns >= RESCAN_NS) {
					r->last_sweep = t;
					sweep_strays(r);
				}
			}
			sample_settled(r, NULL, t);
			ks_migrate_report_interval(&r->m, t);
			while (next <= t)
				next += a->run.interval_ns;
		}
		if (t >= end)
			break;
		/* With -p, the run is about that VMM: it ends when the VMM does. */
		if (r->m.filter_pid && !ks_migrate_vm(&r->m, r->m.filter_pid, false))
			break;
	}
	if (r->trace.err)
		return ks_err("--trace %s: write failed: %s", a->trace_path, strerror(r->trace.err));
	return r->m.output_failed ? ks_err("output failed: %s", ks_output_error()) : 0;
}

int cmd_migrate(int argc, char **argv)
{
	static const struct argp argp = { migrate_options, parse_migrate, NULL,
		"Trace what dirty logging (live migration) costs each VM: dirty-log ioctls, "
		"write protection by level, guest faults, splits, with KVM's binary stats "
		"alongside. Reports every interval and a summary at the end.", NULL, NULL, NULL };
	struct migrate_args a = { .run.interval_ns = KS_NS_PER_S };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_RINGBUF };
	struct epoll_event out_ev = { .events = 0, .data.u64 = EV_STDOUT };
	struct ks_probe p;
	struct run *r;
	int status = KS_EXIT_FAIL;

	if (argp_parse(&argp, argc, argv, 0, NULL, &a))
		return KS_EXIT_USAGE;
	r = calloc(1, sizeof(*r));
	if (!r) {
		ks_err("out of memory");
		return KS_EXIT_FAIL;
	}
	r->epfd = -1;
	r->m.out = stdout;
	r->m.json = a.run.json;
	r->m.filter_pid = a.run.pid;
	for (int i = 0; i < KS_MAX_TRACKED; i++)
		r->m.vms[i].st.pidfd = -1;

	if (a.run.pid && ks_vmm_require(a.run.pid))
		goto out_free;
	if (ks_signals_install())
		goto out_free;
	/* Before the slow part: a bad path fails at once. From here on every
	 * path goes through `out`, which completes the file. */
	if (a.trace_path) {
		if (ks_trace_open(&r->trace, a.trace_path))
			goto out_free;
		r->m.trace = &r->trace;
	}
	ks_libbpf_logging();
	ks_probe_init(&p);
	a.loader.filter_tgid = (unsigned int)a.run.pid;
	r->m.fault_latency_asked = (a.loader.fault_opts & KS_OPT_FAULT_LATENCY) != 0;
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
	r->m.skel = r->l.skel;
	r->m.max_vms = ks_loader_max_vms(&a.loader);
	r->m.fault_program = r->l.fault_program;
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
	r->m.start_ns = ks_now_ns();
	r->m.cpu_start = ks_self_cpu();
	r->m.fault_latency = r->l.caps.fault_latency;
	r->m.page_stats = r->l.caps.page_stats;
	r->m.gfn_wp = r->l.caps.gfn_wp;
	/* (With -p the look is one process: as cheap as the events.) */
	r->rescan_ns = r->l.caps.vm_events && !a.run.pid ? RESCAN_EVENTS_NS : RESCAN_NS;
	r->slack_ns = a.run.interval_ns / 2;
	{
		struct ks_json j;

		if (a.run.json) {
			ks_json_begin(&j, stdout, "attached", r->m.start_ns);
			ks_json_u64(&j, "programs", r->l.nr_progs);
			ks_json_i64(&j, "filter_pid", a.run.pid);
			ks_json_u64(&j, "interval_ns", a.run.interval_ns);
			ks_json_bool(&j, "fault_latency", r->m.fault_latency);
			ks_json_str(&j, "fault_source", r->m.fault_program ? "fault_program" :
				    "kvm_vcpu_stat");
			ks_json_u64(&j, "tracer_user_ns", r->m.cpu_start.user_ns);
			ks_json_u64(&j, "tracer_sys_ns", r->m.cpu_start.sys_ns);
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
			for (unsigned int i = 0; i < KS_NR_METRICS; i++)
				if (r->l.choices[i].way < 0)
					printf("  unavailable on this kernel: %s (see 'kvmscope check')\n",
					       ks_hooks[i].metric);
			if (!r->m.fault_program)
				printf("  faults: KVM's per-vCPU stats, no program on the fault path "
				       "(write-protect faults fixed in KVM's fast path; --fault-program "
				       "counts them all, at a cost to the guest)\n");
			else if ((a.loader.fault_opts & KS_OPT_FAULT_PROGRAM) == 0)
				printf("  faults: a program on the fault path (KVM's stats cannot be "
				       "read on this kernel; see 'kvmscope check')\n");
			if (!r->m.fault_latency)
				printf("  fault latency: %s\n", r->m.fault_latency_asked ?
				       "cannot be traced on this kernel (see 'kvmscope check')" :
				       "off (--fault-latency turns it on, at a cost to the guest)");
			fflush(stdout);
		}
	}
	r->first_scan = true;
	scan(r, r->m.start_ns);
	r->first_scan = false;
	if (a.run.pid && !ks_migrate_vm(&r->m, a.run.pid, false)) {
		ks_err("PID %d exited before tracing started", a.run.pid);
		goto out;
	}
	if (loop(r, &a) == 0)
		status = ks_stop_signal ? KS_EXIT_OK : KS_EXIT_OK;
	/* Whatever ended the run, report what was collected. */
	ring_buffer__consume(r->rb);
	ks_migrate_read_counters(&r->m, r->l.skel);
	ks_migrate_report_summary(&r->m, ks_now_ns());
	if (r->m.output_failed)
		status = KS_EXIT_FAIL;
out:
	/* The trace is closed on every path, so it stays valid JSON. */
	if (ks_mtrace_close(&r->m, ks_now_ns()) && status == KS_EXIT_OK) {
		ks_err("--trace %s: write failed: %s", a.trace_path, strerror(r->trace.err));
		status = KS_EXIT_FAIL;
	}
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		if (r->m.vms[i].used && r->m.vms[i].st.pidfd >= 0)
			ks_vmstats_close(&r->m.vms[i].st);
		ks_migrate_vm_free(&r->m.vms[i]);
	}
	ring_buffer__free(r->rb);
	if (r->epfd >= 0)
		close(r->epfd);
	ks_loader_destroy(&r->l);
out_free:
	free(r);
	return status;
}
