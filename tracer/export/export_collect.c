// SPDX-License-Identifier: GPL-2.0
/*
 * The collector of `kvmscope export`, run on its own thread every interval:
 * find VMMs (a /proc scan at most once a second, and at once for a VMM
 * whose events arrive first), drop the ones that exited, sample every
 * stats fd, sum the kernel's counters, render and publish the page.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "export/export.h"
#include "lib/log.h"
#include "lib/runopts.h"

#define RESCAN_NS KS_NS_PER_S

static void adopt(struct ks_exporter *x, const struct ks_vmm *v, uint64_t now)
{
	struct ks_vm *vm = ks_migrate_vm(&x->m, v->pid, true);
	int rc;

	if (!vm) {
		if (!x->warned_full)
			ks_warn("more than %d VMMs: PID %d and later ones not exported",
				KS_MAX_TRACKED, (int)v->pid);
		x->warned_full = true;
		return;
	}
	/* Known: open its stats again only if the rule says so (vmstats.h). */
	if (vm->found_ts && !ks_vmstats_stale(&vm->st, vm->have_stats, v))
		return;
	if (vm->found_ts)
		ks_vmstats_close(&vm->st);
	snprintf(vm->comm, sizeof(vm->comm), "%s", v->comm);
	rc = ks_vmstats_open(&vm->st, v);
	if (rc < 0)
		return; /* gone: dropped at the exit check */
	vm->have_stats = rc == 0;
	vm->vcpus_seen = v->nvcpu;
	if (!vm->have_stats && !vm->found_ts)
		ks_debug("export: PID %d (%s): no binary stats: %s", (int)v->pid, v->comm, vm->st.why);
	if (!vm->found_ts) {
		vm->found_ts = now;
		vm->preexisting = !x->scanned;
	}
}

struct scan_ctx {
	struct ks_exporter *x;
	uint64_t now;
};

static int adopt_cb(const struct ks_vmm *v, void *ctx)
{
	struct scan_ctx *s = ctx;

	adopt(s->x, v, s->now);
	return 0;
}

static void adopt_pid(struct ks_exporter *x, pid_t pid, uint64_t now)
{
	struct ks_vmm *v = malloc(sizeof(*v));

	if (v && ks_vmm_scan(pid, v) == 1)
		adopt(x, v, now);
	free(v);
}

static bool exited(const struct ks_vm *vm)
{
	struct pollfd p = { .fd = vm->st.pidfd, .events = POLLIN };

	if (vm->st.pidfd < 0)
		return kill(vm->pid, 0) && errno == ESRCH;
	return poll(&p, 1, 0) > 0;
}

/* A VMM that exited leaves the export: its series go stale in Prometheus,
 * and its stats fds (which pin the VM) and kernel map entries are freed. */
static void drop(struct ks_exporter *x, struct ks_vm *vm)
{
	size_t i = (size_t)(vm - x->m.vms);

	ks_vmstats_close(&vm->st);
	if (x->bpf)
		ks_migrate_forget_in_kernel(x->l.skel, vm);
	ks_migrate_vm_free(vm);
	memset(vm, 0, sizeof(*vm));
	vm->st.pidfd = -1;
	memset(&x->ioctls[i], 0, sizeof(x->ioctls[i]));
	x->m.nvm--;
}

int ks_export_on_event(void *ctx, void *data, size_t len)
{
	struct ks_exporter *x = ctx;
	const struct ks_event *e = data;
	struct ks_vm *vm;

	if (len < sizeof(*e))
		return 0;
	ks_migrate_event(&x->m, e);
	if (e->type != KS_EV_GET_DIRTY_LOG && e->type != KS_EV_CLEAR_DIRTY_LOG)
		return 0;
	vm = ks_migrate_vm(&x->m, (pid_t)e->tgid, false);
	if (vm) {
		struct ks_export_ioctls *io = &x->ioctls[vm - x->m.vms];
		int op = e->type == KS_EV_CLEAR_DIRTY_LOG;
		uint64_t d = e->dur_ns;
		int b = 0;

		/* The kernel's log2 buckets: [2^b, 2^(b+1)), 0 and 1 in 0. */
		while (d >= 2 && b < KS_LAT_BUCKETS - 1) {
			d >>= 1;
			b++;
		}
		io->hist[op][b]++;
		io->ns[op] += e->dur_ns;
		io->n[op]++;
	}
	return 0;
}

void ks_export_collect(struct ks_exporter *x, uint64_t now)
{
	struct scan_ctx s = { x, now };

	if (x->bpf)
		ring_buffer__consume(x->rb);
	if (now - x->last_scan >= RESCAN_NS) {
		x->last_scan = now;
		if (x->filter_pid)
			adopt_pid(x, x->filter_pid, now);
		else
			ks_vmm_scan_all(adopt_cb, &s);
		x->scanned = true;
	}
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		struct ks_vm *vm = &x->m.vms[i];

		if (!vm->used)
			continue;
		if (exited(vm)) {
			drop(x, vm);
			continue;
		}
		/* Known from its events only: look at it now. */
		if (!vm->found_ts)
			adopt_pid(x, vm->pid, now);
		if (vm->have_stats && ks_vmstats_sample(&vm->st, now))
			ks_debug("export: PID %d: stats read failed", (int)vm->pid);
		/* Without the fault program, the faults are the stats'. */
		if (x->bpf)
			ks_migrate_stats_faults(&x->m, vm);
	}
	if (x->bpf)
		ks_migrate_read_counters(&x->m, x->l.skel);
}

void ks_export_release(struct ks_exporter *x)
{
	for (int i = 0; i < KS_MAX_TRACKED; i++) {
		if (x->m.vms[i].used)
			ks_vmstats_close(&x->m.vms[i].st);
		ks_migrate_vm_free(&x->m.vms[i]);
	}
}
