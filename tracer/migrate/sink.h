/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Outputs of the migrate model, behind one interface: the session tells
 * every sink what happened, and each reads the model (never changes it)
 * and shows it its way. Sinks depend on the model only, never on the
 * session or on each other.
 *
 *   sink_text.c     migrate's text
 *   sink_json.c     migrate's JSON lines (docs/json.md)
 *   sink_trace.c    migrate --trace: a Chrome/Perfetto timeline
 *   export/prom_sink.c  export's per-VM dirty-log ioctl histograms
 */
#ifndef KS_SINK_H
#define KS_SINK_H

#include <stdbool.h>
#include <stdio.h>
#include "migrate/model.h"

struct ks_trace;

struct ks_sink_ops {
	/* An event changed the model (model.h, ks_model_apply). */
	void (*change)(void *self, const struct ks_model *m, const struct ks_change *c);
	/* A VM's interval was closed. */
	void (*interval)(void *self, const struct ks_model *m, const struct ks_interval *iv);
	/* A VM was found ("found"), its stats attached later ("stats"), or it
	 * went away ("exited": its VMM exited; "closed": its VMM lives on
	 * without it). */
	void (*vm)(void *self, const struct ks_model *m, const struct ks_vm *vm, const char *what,
		   uint64_t now_ns);
	/* A VM's summary: when it goes away, or at the end of the run. */
	void (*vm_summary)(void *self, const struct ks_model *m, const struct ks_vm *vm,
			   uint64_t now_ns);
	/* The end of the run, after the summaries of the VMs still there. */
	void (*summary)(void *self, const struct ks_model *m, uint64_t now_ns);
	/* Ends the output; -1 if writing it failed. */
	int (*close)(void *self, const struct ks_model *m, uint64_t now_ns);
	/* Has writing failed (the run should end)? */
	bool (*failed)(void *self);
	void (*free)(void *self);
};

struct ks_sink {
	const struct ks_sink_ops *ops;
	void *self;
};

/* Concrete sinks; each returns 0, or -1 out of memory. */
int ks_sink_text(struct ks_sink *s, FILE *out);
int ks_sink_json(struct ks_sink *s, FILE *out);
/* t: a trace started (lib/trace_chrome.h); closed by the sink's close(). */
int ks_sink_trace(struct ks_sink *s, struct ks_trace *t);

#endif
