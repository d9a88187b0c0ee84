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
#include "vmstats.h"

struct ks_stats_out {
	FILE *f;
	bool per_vcpu;              /* table: a block per vCPU, not their sum */
	char *const *filters;       /* only these statistics (exact names) */
	int nfilters;               /* 0: all */
};

bool ks_stats_wanted(const struct ks_stats_out *o, const char *name);
/* The table of one VM: its statistics, then its vCPUs' (summed, or one
 * block each with per_vcpu). */
void ks_stats_text_vm(const struct ks_stats_out *o, const struct ks_vmstats *st);
/* JSON records: a source's stats_schema, and one stats record per source.
 * Each returns -1 if the output failed. */
int ks_stats_json_schema(const struct ks_stats_out *o, const struct ks_vmstats *st,
			 const struct ks_stats_src *s, uint64_t ts);
int ks_stats_json_src(const struct ks_stats_out *o, const struct ks_vmstats *st,
		      const struct ks_stats_src *s, uint64_t ts);

#endif
