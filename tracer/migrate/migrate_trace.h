/* SPDX-License-Identifier: GPL-2.0 */
/* `kvmscope migrate --trace FILE`: the run as a Chrome/Perfetto timeline
 * (tracer/migrate_trace.c). Every call does nothing when m->trace is NULL. */
#ifndef KS_MIGRATE_TRACE_H
#define KS_MIGRATE_TRACE_H

#include "migrate/migrate.h"

/* wp_faults: write-protect faults since the VM's previous event, as in
 * the JSON lines (-1 unknown). */
void ks_mtrace_memslot(struct ks_migrate *m, struct ks_vm *vm, struct ks_slot *s,
		       const struct ks_event *e, const char *logging, int64_t wp_faults);
void ks_mtrace_sync(struct ks_migrate *m, struct ks_vm *vm, const struct ks_slot *s,
		    const struct ks_event *e, uint64_t iteration, int64_t wp_faults,
		    int64_t faults);
void ks_mtrace_slot_wp(struct ks_migrate *m, struct ks_vm *vm, const struct ks_slot *s,
		       const struct ks_event *e);
void ks_mtrace_rmap(struct ks_migrate *m, struct ks_vm *vm, const struct ks_slot *s,
		    const struct ks_event *e, uint64_t bytes);
/* One interval of a VM: dc = its counters' change over [now - dt, now). */
void ks_mtrace_interval(struct ks_migrate *m, struct ks_vm *vm, const struct ks_vm_counters *dc,
			uint64_t now_ns, uint64_t dt_ns, double lost_pct);
void ks_mtrace_vm_exit(struct ks_migrate *m, struct ks_vm *vm, uint64_t ts_ns);
/* Ends open spans and the file. -1 if writing the trace failed. */
int ks_mtrace_close(struct ks_migrate *m, uint64_t now_ns);

#endif
