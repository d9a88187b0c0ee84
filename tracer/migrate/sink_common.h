/* SPDX-License-Identifier: GPL-2.0 */
/* What migrate's sinks share (sink_common.c): JSON fields that the JSON
 * lines and the trace both write the same way; the end-of-run warnings of
 * the text and the JSON lines. */
#ifndef KS_SINK_COMMON_H
#define KS_SINK_COMMON_H

#include <stdio.h>
#include "migrate/model.h"
#include "migrate/sink.h"
#include "lib/json.h"

/* key: {"4k": v[1], "2m": v[2], "1g": v[3]} */
void ks_json_levels(struct ks_json *j, const char *key, const unsigned long long *v);
/* An ioctl event's time inside KVM: null when no program ran inside KVM
 * (KS_NS_UNKNOWN: the ioctl decoded at the system call). */
void ks_json_kvm_ns(struct ks_json *j, const struct ks_event *e);
/* A get/clear's fields, shared by its JSON line and its trace slice: op,
 * slot, iteration, KVM's time, write-protect faults and faults, pages,
 * result, and write protection by min_level (null if not counted). */
void ks_json_sync_fields(struct ks_json *j, const struct ks_model *m, const struct ks_change *c);
/* A memslot or sync's write-protect faults (-1: unknown for this event), or
 * null where this host's write-protect faults are not measured. */
void ks_json_wp_faults(struct ks_json *j, const struct ks_model *m, int64_t wp_faults);

/* A memslot as the text and the trace name it: "slot N", or "slot N (as
 * A)" outside address space 0 (x86's SMM address space repeats a VMM's
 * slot numbers: QEMU's q35 maps RAM in both). Returns buf. */
const char *ks_slot_name(const struct ks_slot *s, char *buf, size_t len);

/* The text and the JSON lines: a stream, and whether writing it failed. */
struct ks_stream {
	FILE *out;
	bool failed;
};
/* A sink with these ops writing to out (self: a struct ks_stream); -1 out
 * of memory. */
int ks_sink_stream(struct ks_sink *s, const struct ks_sink_ops *ops, FILE *out);
bool ks_sink_stream_failed(void *self);
void ks_sink_stream_free(void *self);

/* Says on stderr (where a JSON consumer's operator looks) that events
 * were lost, or VMs' counters not tracked. */
void ks_sink_warn_lost(const struct ks_model *m);

#endif
