// SPDX-License-Identifier: GPL-2.0
/* Export's sink: the dirty-log ioctl histograms of each VM (prom_sink.h). */
#include <stdlib.h>
#include <string.h>
#include "export/prom_sink.h"

struct prom_vm {
	uint64_t serial;          /* the VM whose histograms these are */
	struct ks_export_ioctls io;
};

struct prom_sink {
	struct prom_vm *vms;      /* by VM table index */
	int nvms;
};

static void change(void *self, const struct ks_model *m, const struct ks_change *c)
{
	struct prom_sink *ps = self;
	struct ks_export_ioctls *io;
	struct prom_vm *pv;
	int op = c->e->type == KS_EV_CLEAR_DIRTY_LOG;
	uint64_t d = c->e->dur_ns;
	int b = 0;

	(void)m;
	if (c->kind != KS_CH_SYNC)
		return;
	pv = ks_vm_side(&ps->vms, &ps->nvms, sizeof(*ps->vms), c->vm, NULL);
	if (!pv)
		return;
	io = &pv->io;
	/* The kernel's log2 buckets: [2^b, 2^(b+1)), 0 and 1 in 0. */
	while (d >= 2 && b < KS_LAT_BUCKETS - 1) {
		d >>= 1;
		b++;
	}
	io->hist[op][b]++;
	io->ns[op] += c->e->dur_ns;
	io->n[op]++;
}

const struct ks_export_ioctls *ks_prom_sink_ioctls(const struct ks_sink *s, const struct ks_vm *vm)
{
	static const struct ks_export_ioctls none;
	const struct prom_sink *ps = s->self;
	const struct prom_vm *pv = ks_vm_side_get(ps->vms, ps->nvms, sizeof(*ps->vms), vm);

	return pv ? &pv->io : &none;
}

static void sink_free(void *self)
{
	struct prom_sink *ps = self;

	free(ps->vms);
	free(ps);
}

static const struct ks_sink_ops prom_ops = {
	.change = change,
	.free = sink_free,
};

int ks_prom_sink(struct ks_sink *s)
{
	struct prom_sink *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return -1;
	s->ops = &prom_ops;
	s->self = ps;
	return 0;
}
