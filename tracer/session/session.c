// SPDX-License-Identifier: GPL-2.0
/*
 * The VMM session (session.h): finding VMMs, adopting them, looking at
 * them again, letting them go; ring-buffer events and intervals passed
 * from the model to the sinks.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "session/session.h"
#include "migrate/counters.h"
#include "kvm/vmfind.h"
#include "lib/log.h"
#include "lib/runopts.h"
#include "lib/selfcpu.h"

/* Looking through /proc for VMMs costs milliseconds of CPU (a directory
 * per process, a link per fd): once a second. Where the kernel reports VMs
 * created and VM fds released (hooks vm_create and vm_release), those find
 * new VMMs and closed VMs at once, and the look only has to catch what
 * they cannot (a VM fd passed to another process): every 10 s. The VMMs
 * already tracked are looked at every second, and counters left under
 * processes that are no VMM swept, either way (scan_known()). */
#define RESCAN_NS KS_NS_PER_S
#define RESCAN_EVENTS_NS (10 * KS_NS_PER_S)
/* Either way no more often than ks_vmm_look_every() allows where a look is
 * dear (processes holding many fds): within 1% of a CPU. */

static bool untracked(struct ks_model *m, struct ks_vm *vm, void *ctx)
{
	return ks_counters_untracked(m, ctx, vm);
}

void ks_session_init(struct ks_session *s, uint64_t interval_ns)
{
	memset(s, 0, sizeof(*s));
	ks_model_init(&s->m);
	s->rescan_ns = s->rescan_base_ns = RESCAN_NS;
	s->slack_ns = interval_ns / 2;
	s->untracked_words = "any further ones not traced";
}

void ks_session_attach(struct ks_session *s, struct migrate_bpf *skel, bool vm_events)
{
	s->skel = skel;
	s->m.untracked = untracked;
	s->m.untracked_ctx = skel;
	s->rescan_ns = s->rescan_base_ns = vm_events ? RESCAN_EVENTS_NS : RESCAN_NS;
}

int ks_session_add_sink(struct ks_session *s, struct ks_sink sink)
{
	if (s->nsinks == KS_SESSION_MAX_SINKS)
		return -1;
	s->sinks[s->nsinks++] = sink;
	return 0;
}

#define EACH_SINK(s, k, op) \
	for (int k = 0; k < (s)->nsinks; k++) \
		if ((s)->sinks[k].ops->op)

static void tell_vm(struct ks_session *s, const struct ks_vm *vm, const char *what, uint64_t ts)
{
	EACH_SINK(s, k, vm)
		s->sinks[k].ops->vm(s->sinks[k].self, &s->m, vm, what, ts);
}

static void tell_vm_summary(struct ks_session *s, const struct ks_vm *vm, uint64_t ts)
{
	EACH_SINK(s, k, vm_summary)
		s->sinks[k].ops->vm_summary(s->sinks[k].self, &s->m, vm, ts);
}

struct ks_session_vm *ks_session_vm_state(struct ks_session *s, const struct ks_vm *vm)
{
	return ks_vm_side(&s->vs, &s->nvs, sizeof(*s->vs), vm, NULL);
}

/* vm's state if the session has any, else NULL. */
static struct ks_session_vm *vm_state_get(struct ks_session *s, const struct ks_vm *vm)
{
	return (struct ks_session_vm *)ks_vm_side_get(s->vs, s->nvs, sizeof(*s->vs), vm);
}

static struct ks_vm *add_vm(struct ks_session *s, pid_t pid)
{
	struct ks_vm *vm = ks_model_vm_add(&s->m, pid);

	if (!vm && !s->warned_full) {
		if (ks_model_live_vms(&s->m) >= KS_MAX_TRACKED)
			ks_warn("more than %d VMMs: PID %d and %s", KS_MAX_TRACKED, (int)pid,
				s->untracked_words);
		else
			ks_warn("out of memory: PID %d and %s", (int)pid, s->untracked_words);
		s->warned_full = true;
	}
	return vm;
}

/* Attaches binary stats and the exit watch to a VMM found in /proc, and
 * opens them again when the rule of ks_vmstats_stale() says so. */
static void adopt(struct ks_session *s, const struct ks_vmm *v, uint64_t ts)
{
	struct ks_vm *vm = add_vm(s, v->pid);
	struct ks_session_vm *sv;
	bool retry, had_stats;
	int rc;

	if (!vm)
		return;
	if ((sv = ks_session_vm_state(s, vm)))
		sv->seen = true;
	retry = vm->found_ts != 0;
	if (retry && !ks_vmstats_stale(&vm->st, vm->have_stats, v))
		return; /* nothing new to attach */
	had_stats = vm->have_stats;
	if (retry) {
		if (s->hooks.unwatch)
			s->hooks.unwatch(s->hooks.ctx, vm);
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
		vm->preexisting = s->first_scan;
	}
	if (vm->have_stats) {
		ks_vmstats_sample(&vm->st, ts);
		/* The zero of a running VM's fault counts, as early as can be. */
		ks_model_stats_faults(&s->m, vm);
	}
	if (s->hooks.watch && s->hooks.watch(s->hooks.ctx, vm))
		ks_warn("cannot watch PID %d for exit: %s", (int)v->pid, strerror(errno));
	/* A VMM still without stats is looked at again every scan: say so
	 * only when something changed. */
	if (!retry || vm->have_stats || had_stats)
		tell_vm(s, vm, retry ? "stats" : "found", ts);
}

/* Scans one process now (a VMM whose events arrived before we knew it). */
static void adopt_pid(struct ks_session *s, pid_t pid, uint64_t ts)
{
	struct ks_vmm *v = malloc(sizeof(*v));

	if (v && ks_vmm_scan(pid, v) == 1)
		adopt(s, v, ts);
	free(v);
}

static int adopt_cb(const struct ks_vmm *v, void *ctx)
{
	adopt(ctx, v, ks_now_ns());
	return 0;
}

/* An event of a process not traced yet that is no VMM to trace: a
 * kvmscope process (this one or another, making the reference VM of its
 * debugfs stats: ks_proc_is_kvmscope()), or, for a VM created, a process
 * gone by now, whose VM went with it (the reference VM of a `kvmscope
 * stats -d 10ms` is both: gone before the ring buffer is read). */
static bool not_a_vmm(struct ks_session *s, const struct ks_event *e)
{
	int r;

	if (e->type == KS_EV_VM_RELEASE || ks_model_vm(&s->m, (pid_t)e->tgid))
		return false;
	r = ks_proc_is_kvmscope((pid_t)e->tgid);
	return r == 1 || (r < 0 && e->type == KS_EV_VM_CREATE);
}

void ks_session_event(struct ks_session *s, const struct ks_event *e)
{
	struct ks_change c;
	struct ks_vm *vm;

	if (not_a_vmm(s, e))
		return;
	if (ks_model_apply(&s->m, e, &c))
		EACH_SINK(s, k, change)
			s->sinks[k].ops->change(s->sinks[k].self, &s->m, &c);
	/* The VMM it came from, even if the event changed nothing. */
	vm = c.vm;
	if (!vm)
		return;
	/* Looked at after the ring buffer is drained (exits drain it). */
	if (c.kind == KS_CH_VM_RELEASE) {
		struct ks_session_vm *sv;

		if (vm->active && vm->found_ts && (sv = ks_session_vm_state(s, vm)))
			sv->released = true;
		return;
	}
	/* A new VMM announces itself by its first memslot: adopt it now so its
	 * exit is watched from the start. One that has just made its VM waits
	 * for its first memslot, or the look of the second (scan_known()): it
	 * has no vCPUs and stats fds yet at KVM_CREATE_VM. */
	if (!vm->found_ts && c.kind != KS_CH_VM_CREATE)
		adopt_pid(s, vm->pid, ks_now_ns());
}

/* Frees what the session holds of a VM gone, and the VM. */
static void forget(struct ks_session *s, struct ks_vm *vm)
{
	ks_vmstats_close(&vm->st);   /* the stats fds pin the VM in the kernel */
	vm->active = false;
	if (s->skel)
		ks_counters_forget(s->skel, vm);
}

void ks_session_vm_exited(struct ks_session *s, struct ks_vm *vm, uint64_t ts, const char *why)
{
	struct ks_interval iv;

	/* Collect what is still in flight before the VM leaves the report. */
	if (s->hooks.drain)
		s->hooks.drain(s->hooks.ctx);
	/* The stats fds still pin the VM: its last values are readable. */
	if (vm->have_stats)
		ks_session_sample(s, vm, ts);
	else if (s->skel)
		ks_counters_read(&s->m, s->skel);
	vm->exit_ts = ts;
	ks_model_close_interval(&s->m, vm, ts, ks_self_cpu(), &iv);
	EACH_SINK(s, k, interval)
		s->sinks[k].ops->interval(s->sinks[k].self, &s->m, &iv);
	ks_interval_free(&iv);
	tell_vm(s, vm, why, ts);
	if (s->hooks.unwatch)
		s->hooks.unwatch(s->hooks.ctx, vm);
	forget(s, vm);
	/* Its summary now, and its entry free for the next VM: a long run
	 * with VMs coming and going must not grow. */
	tell_vm_summary(s, vm, ts);
	ks_model_vm_forget(&s->m, vm);
}

/* A VMM known only from its events (it was gone before /proc showed it:
 * a VM that lived for milliseconds) has no pidfd to report its exit: one
 * whose process is gone has exited. Not from an event: exits drain the
 * ring buffer, which must not nest. */
static void reap_unfound(struct ks_session *s, uint64_t ts)
{
	struct ks_vm *vm;

	ks_model_for_each_vm(&s->m, i, vm)
		if (vm->active && !vm->found_ts && kill(vm->pid, 0) && errno == ESRCH)
			ks_session_vm_exited(s, vm, ts, "exited");
}

static void sweep_strays(struct ks_session *s)
{
	if (s->skel)
		ks_counters_sweep_strays(&s->m, s->skel);
}

/* Finds new VMMs; a traced VM whose VMM lives on without any VM fd was
 * closed, and is let go: our copies of its stats fds would otherwise keep
 * it alive in the kernel. */
static void scan(struct ks_session *s, uint64_t ts)
{
	struct ks_session_vm *sv;
	struct ks_vm *vm;

	s->last_scan = s->last_sweep = s->last_known = ts;
	ks_model_for_each_vm(&s->m, i, vm)
		if ((sv = ks_session_vm_state(s, vm)))
			sv->seen = false;
	if (!s->m.filter_pid) {
		uint64_t cpu = ks_thread_cpu_ns();

		ks_vmm_scan_all(adopt_cb, s);
		s->look_cpu_ns = ks_thread_cpu_ns() - cpu;
		s->rescan_ns = ks_vmm_look_every(s->rescan_base_ns, s->look_cpu_ns);
		ks_debug("look through /proc: %.1f ms CPU, next in %.1f s", s->look_cpu_ns / 1e6,
			 s->rescan_ns / 1e9);
	} else
		adopt_pid(s, s->m.filter_pid, ts);
	ks_model_for_each_vm(&s->m, i, vm)
		if (vm->active && vm->found_ts && (sv = ks_session_vm_state(s, vm)) && !sv->seen)
			ks_session_vm_exited(s, vm, ts, "closed");
	reap_unfound(s, ts);
	sweep_strays(s);
}

void ks_session_start(struct ks_session *s, uint64_t now_ns)
{
	s->first_scan = true;
	scan(s, now_ns);
	s->first_scan = false;
}

/* One tracked VMM looked at now: closed if it holds no VM fd any more,
 * otherwise its stats opened again if ks_vmstats_stale() says so (more
 * vCPUs, its stats fds opened late). A process gone is left to its exit
 * watch. */
static void look_again(struct ks_session *s, struct ks_vm *vm, uint64_t ts)
{
	struct ks_vmm *v = malloc(sizeof(*v));
	int rc;

	if (!v)
		return;
	rc = ks_vmm_scan(vm->pid, v);
	if (rc == 0)
		ks_session_vm_exited(s, vm, ts, "closed");
	else if (rc == 1)
		adopt(s, v, ts);
	free(v);
}

/*
 * Between the full looks, once a second: VMMs known from events but not
 * yet found in /proc, and every tracked VMM (vCPUs added, stats fds
 * opened, VM closed): what the full look would find about them, at a
 * fraction of its cost (one fd directory each).
 *
 * The one rule for looking again at a VMM already found (both commands;
 * export used to reopen only at its full look, once a second): at every
 * full look and every second, whether its stats are stale by
 * ks_vmstats_stale(); and at every interval if it has no stats yet or
 * reads them through debugfs, so stats fds a VMM opens late (QEMU opens
 * them on its first query-stats) are taken up at once rather than a
 * second of samples later. Only such VMMs pay the extra look.
 */
static void scan_known(struct ks_session *s, uint64_t ts)
{
	/* (Half an interval early rather than one late: at -i 250ms, "a
	 * second since" would otherwise come every 1.25 s.) */
	bool all = ts - s->last_known + s->slack_ns >= RESCAN_NS;
	struct ks_vm *vm;

	if (all)
		s->last_known = ts;
	ks_model_for_each_vm(&s->m, i, vm) {
		if (!vm->active)
			continue;
		/* Not found yet: a VMM announced by KVM_CREATE_VM waits for the
		 * look of the second, by when it usually holds its vCPUs and
		 * stats fds (found earlier, it would be read through debugfs
		 * first and reopened). */
		if (!vm->found_ts) {
			if (all)
				adopt_pid(s, vm->pid, ts);
		} else if (all || !vm->have_stats || vm->st.vm.dbg_dir >= 0) {
			look_again(s, vm, ts);
		}
	}
	reap_unfound(s, ts);
}

void ks_session_recheck_released(struct ks_session *s, uint64_t ts)
{
	struct ks_session_vm *sv;
	struct ks_vm *vm;

	ks_model_for_each_vm(&s->m, i, vm) {
		if (!(sv = vm_state_get(s, vm)) || !sv->released)
			continue;
		sv->released = false;
		if (vm->active && vm->found_ts)
			look_again(s, vm, ts);
	}
}

void ks_session_tick(struct ks_session *s, uint64_t t)
{
	if (s->hooks.drain)
		s->hooks.drain(s->hooks.ctx);
	ks_session_recheck_released(s, t);
	if (t - s->last_scan + s->slack_ns >= s->rescan_ns) {
		scan(s, t);
	} else {
		scan_known(s, t);
		if (t - s->last_sweep + s->slack_ns >= RESCAN_NS) {
			s->last_sweep = t;
			sweep_strays(s);
		}
	}
	ks_session_sample(s, NULL, t);
}

/* The tracer's own CPU is read once per boundary: every VM's record of it
 * covers its span up to the same point. */
void ks_session_intervals(struct ks_session *s, uint64_t now_ns)
{
	struct ks_cpu cpu = ks_self_cpu();
	struct ks_interval iv;
	struct ks_vm *vm;

	ks_model_for_each_vm(&s->m, i, vm) {
		if (!vm->active)
			continue;
		ks_model_close_interval(&s->m, vm, now_ns, cpu, &iv);
		EACH_SINK(s, k, interval)
			s->sinks[k].ops->interval(s->sinks[k].self, &s->m, &iv);
		ks_interval_free(&iv);
	}
}

static bool exited(const struct ks_vm *vm)
{
	struct pollfd p = { .fd = vm->st.pidfd, .events = POLLIN };

	if (vm->st.pidfd < 0)
		return kill(vm->pid, 0) && errno == ESRCH;
	return poll(&p, 1, 0) > 0;
}

void ks_session_reap(struct ks_session *s, uint64_t now_ns)
{
	struct ks_vm *vm;

	ks_model_for_each_vm(&s->m, i, vm) {
		if (vm->active && exited(vm)) {
			ks_session_vm_exited(s, vm, now_ns, "exited");
		} else if (!vm->active) {
			/* Gone before it could be adopted: nothing to report. */
			forget(s, vm);
			ks_model_vm_forget(&s->m, vm);
		}
	}
}

void ks_session_summary(struct ks_session *s, uint64_t now_ns)
{
	struct ks_vm *vm;

	if (s->hooks.drain)
		s->hooks.drain(s->hooks.ctx);
	if (s->skel)
		ks_counters_read(&s->m, s->skel);
	ks_model_for_each_vm(&s->m, i, vm)
		tell_vm_summary(s, vm, now_ns);
	EACH_SINK(s, k, summary)
		s->sinks[k].ops->summary(s->sinks[k].self, &s->m, now_ns);
}

int ks_session_close(struct ks_session *s, uint64_t now_ns)
{
	int rc = 0;

	EACH_SINK(s, k, close)
		if (s->sinks[k].ops->close(s->sinks[k].self, &s->m, now_ns))
			rc = -1;
	return rc;
}

bool ks_session_failed(const struct ks_session *s)
{
	EACH_SINK(s, k, failed)
		if (s->sinks[k].ops->failed(s->sinks[k].self))
			return true;
	return false;
}

void ks_session_free(struct ks_session *s)
{
	struct ks_vm *vm;

	ks_model_for_each_vm(&s->m, i, vm)
		ks_vmstats_close(&vm->st);
	ks_model_free(&s->m);
	EACH_SINK(s, k, free)
		s->sinks[k].ops->free(s->sinks[k].self);
	s->nsinks = 0;
	free(s->vs);
	s->vs = NULL;
	s->nvs = 0;
}
