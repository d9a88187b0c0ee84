/* SPDX-License-Identifier: GPL-2.0 */
/*
 * State of `kvmscope export`: the VMM session (session/session.h: the
 * migrate model, its VMMs found and sampled) that the collector thread
 * drives, the sink export adds to it (prom_sink.h: dirty-log ioctl
 * histograms), and the rendering of the model as Prometheus/OpenMetrics
 * text (export_render.c).
 */
#ifndef KS_EXPORT_H
#define KS_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "export/httpd.h"
#include "export/prom_sink.h"
#include "export/promtext.h"
#include "hooks/loader.h"
#include "lib/procself.h"
#include "session/session.h"

struct ks_exporter {
	struct ks_session s;
	struct ks_sink ioctls;    /* the session's sink of ioctl histograms */
	bool bpf;                 /* programs loaded and attached */
	struct ks_loader l;
	struct ring_buffer *rb;
	uint64_t interval_ns;
	bool started;             /* the first look through /proc is done */
	/* The exporter's own figures. */
	struct ks_procself self;  /* read at each collection */
	bool self_ok;
	uint64_t collections;
	uint64_t last_collect_ns; /* duration of the previous collection */
	struct ks_httpd *h;
};

/* Collector (export_collect.c): the session's boundary (VMMs found, looked
 * at again, let go; counters and stats sampled), every collection. */
int ks_export_init(struct ks_exporter *x, uint64_t interval_ns, int filter_pid);
/* The programs in x->l are loaded and attached, x->rb reads their events. */
void ks_export_attached(struct ks_exporter *x);
void ks_export_collect(struct ks_exporter *x, uint64_t now_ns);
int ks_export_on_event(void *ctx, void *data, size_t len);
void ks_export_release(struct ks_exporter *x);

/* Every metric into w (export_render.c). */
void ks_export_render(const struct ks_exporter *x, struct ks_prom *w);
/* Both formats of w as a page ready to publish; NULL if memory ran out. */
struct ks_httpd_page *ks_export_page(const struct ks_prom *w);

#endif
