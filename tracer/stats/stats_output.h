/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What `kvmscope stats` prints of a VM's sample: the table, or its JSON
 * records (docs/json.md). Apart from the command's loop so that
 * bench/statsout can time exactly this code on replayed stats.
 */
#ifndef KS_STATS_OUTPUT_H
#define KS_STATS_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "kvm/vmstats.h"

struct ks_stats_out {
	FILE *f;
	bool per_vcpu;              /* table: a block per vCPU, not their sum */
	bool raw;                   /* JSON: the u64s as read too (--raw) */
	char *const *filters;       /* only these statistics (exact names) */
	int nfilters;               /* 0: all */
};

bool ks_stats_wanted(const struct ks_stats_out *o, const char *name);
/* The table of one VM: its statistics, then its vCPUs' (summed, or one
 * block each with per_vcpu). */
void ks_stats_text_vm(const struct ks_stats_out *o, const struct ks_vmstats *st);
/* JSON records (docs/json.md): a source's stats_schema, and its stats
 * record of the current sample. Not flushed: the caller flushes a whole
 * sample at once (ks_output_check), one write for all its records. */
void ks_stats_json_schema(const struct ks_stats_out *o, const struct ks_vmstats *st,
			  const struct ks_stats_src *s, uint64_t ts);
void ks_stats_json_src(const struct ks_stats_out *o, const struct ks_vmstats *st,
		       const struct ks_stats_src *s, uint64_t ts);

#endif
