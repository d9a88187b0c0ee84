// SPDX-License-Identifier: GPL-2.0
/*
 * The collector of `kvmscope export`, run on its own thread every interval:
 * the VMM session's boundary (VMMs found, looked at again, let go when they
 * exit or close their VM, every stats fd and the kernel's counters
 * sampled), as `migrate` runs it; then the page is rendered and published
 * (cmd_export.c).
 */
#include <bpf/libbpf.h>
#include "export/export.h"

static void drain(void *ctx)
{
	struct ks_exporter *x = ctx;

	ring_buffer__consume(x->rb);
}

int ks_export_init(struct ks_exporter *x, uint64_t interval_ns, int filter_pid)
{
	ks_session_init(&x->s, interval_ns);
	x->s.m.filter_pid = filter_pid;
	x->interval_ns = interval_ns;
	x->s.hooks.ctx = x;
	x->s.untracked_words = "later ones not exported";
	/* VMM exits are polled at each collection (ks_session_reap). */
	if (ks_prom_sink(&x->ioctls) || ks_session_add_sink(&x->s, x->ioctls))
		return -1;
	return 0;
}

int ks_export_on_event(void *ctx, void *data, size_t len)
{
	struct ks_exporter *x = ctx;

	if (len >= sizeof(struct ks_event))
		ks_session_event(&x->s, data);
	return 0;
}

void ks_export_attached(struct ks_exporter *x)
{
	x->bpf = true;
	x->s.hooks.drain = drain;
	ks_session_attach(&x->s, x->l.skel, x->l.caps.vm_events && !x->s.m.filter_pid);
}

void ks_export_collect(struct ks_exporter *x, uint64_t now)
{
	if (!x->started) {
		x->started = true;
		ks_session_start(&x->s, now);
	}
	ks_session_reap(&x->s, now);
	ks_session_tick(&x->s, now);
	/* The exporter's own cost, as every Prometheus exporter gives its. */
	x->self_ok = ks_procself_read(&x->self) == 0;
}

void ks_export_release(struct ks_exporter *x)
{
	ks_session_free(&x->s);
}
