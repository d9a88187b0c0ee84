/* SPDX-License-Identifier: GPL-2.0 */
/*
 * State of `kvmscope export`: the migrate state (VM table, events, kernel
 * counters: tracer/migrate*.c) kept by the collector thread, what export
 * adds to it (dirty-log ioctl latency histograms), and the rendering of all
 * of it as Prometheus/OpenMetrics text (tracer/export_render.c).
 */
#ifndef KS_EXPORT_H
#define KS_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "export/httpd.h"
#include "hooks/loader.h"
#include "migrate/migrate.h"
#include "export/promtext.h"

/* Per tracked VM (same index as ks_migrate.vms): each dirty-log ioctl's
 * whole duration, log2 buckets as the kernel's fault histogram. */
struct ks_export_ioctls {
	uint64_t hist[2][KS_LAT_BUCKETS];   /* [0] GET, [1] CLEAR */
	uint64_t ns[2], n[2];
};

struct ks_exporter {
	struct ks_migrate m;
	struct ks_export_ioctls ioctls[KS_MAX_TRACKED];
	bool bpf;                 /* programs loaded and attached */
	struct ks_loader l;
	struct ring_buffer *rb;
	int filter_pid;
	uint64_t interval_ns;
	uint64_t last_scan;
	bool scanned;            /* the first scan of /proc is done */
	bool warned_full;
	/* The exporter's own figures. */
	uint64_t collections;
	uint64_t last_collect_ns; /* duration of the previous collection */
	struct ks_httpd *h;
};

/* Collector (tracer/export_collect.c): VMMs found, exited VMMs dropped,
 * stats sampled, kernel counters and events read; then the page rendered
 * and published. */
void ks_export_collect(struct ks_exporter *x, uint64_t now_ns);
int ks_export_on_event(void *ctx, void *data, size_t len);
void ks_export_release(struct ks_exporter *x);

/* Every metric into w (tracer/export_render.c). */
void ks_export_render(struct ks_exporter *x, struct ks_prom *w);
/* Both formats of w as a page ready to publish; NULL if memory ran out. */
struct ks_httpd_page *ks_export_page(const struct ks_prom *w);

#endif
