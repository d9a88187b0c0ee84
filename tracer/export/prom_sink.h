/* SPDX-License-Identifier: GPL-2.0 */
/* Export's sink (prom_sink.c): per VM, each dirty-log ioctl's whole
 * duration in log2 buckets, as the kernel's fault histogram; rendered with
 * the rest of the model at each collection (export_render.c). */
#ifndef KS_PROM_SINK_H
#define KS_PROM_SINK_H

#include "migrate/sink.h"

struct ks_export_ioctls {
	uint64_t hist[2][KS_LAT_BUCKETS];   /* [0] GET, [1] CLEAR */
	uint64_t ns[2], n[2];
};

int ks_prom_sink(struct ks_sink *s);
/* vm's histograms (all zero if none seen). */
const struct ks_export_ioctls *ks_prom_sink_ioctls(const struct ks_sink *s, const struct ks_vm *vm);

#endif
