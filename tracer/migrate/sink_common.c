// SPDX-License-Identifier: GPL-2.0
/* What migrate's sinks share (sink_common.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "lib/log.h"
#include "migrate/sink_common.h"

static const char *const level_names[KS_MAX_LEVEL] = { "-", "4k", "2m", "1g" };

void ks_json_levels(struct ks_json *j, const char *key, const unsigned long long *v)
{
	ks_json_obj(j, key);
	for (int l = 1; l < KS_MAX_LEVEL; l++)
		ks_json_u64(j, level_names[l], v[l]);
	ks_json_close(j);
}

void ks_json_kvm_ns(struct ks_json *j, const struct ks_event *e)
{
	if (e->kvm_ns == KS_NS_UNKNOWN)
		ks_json_null(j, "kvm_ns");
	else
		ks_json_u64(j, "kvm_ns", e->kvm_ns);
}

void ks_json_wp_faults(struct ks_json *j, const struct ks_model *m, int64_t wp_faults)
{
	if (m->wp_faults_measured)
		ks_json_i64(j, "wp_faults", wp_faults);
	else
		ks_json_null(j, "wp_faults");
}

void ks_json_sync_fields(struct ks_json *j, const struct ks_model *m, const struct ks_change *c)
{
	const struct ks_event *e = c->e;
	bool get = e->type == KS_EV_GET_DIRTY_LOG;

	ks_json_str(j, "op", get ? "get" : "clear");
	ks_json_u64(j, "slot", c->slot->id);
	ks_json_u64(j, "as_id", c->slot->as_id);
	ks_json_u64(j, "iteration", c->iteration);
	ks_json_kvm_ns(j, e);
	if (e->preempted >= 0)
		ks_json_i64(j, "preempted", e->preempted);
	ks_json_wp_faults(j, m, c->wp_faults);
	ks_json_i64(j, "faults", c->faults);
	ks_json_i64(j, get ? "pages_dirty" : "pages_cleared", e->pages);
	if (!get) {
		ks_json_u64(j, "first_page", e->first_page);
		ks_json_u64(j, "num_pages", e->num_pages);
	}
	ks_json_i64(j, "result", e->result);
	if (m->gfn_wp && e->wp_known) {
		ks_json_levels(j, "wp_calls", e->wp_calls);
		ks_json_levels(j, "wp_changed", e->wp_changed);
	} else {
		ks_json_double(j, "wp_calls", NAN);   /* null: not counted */
		ks_json_double(j, "wp_changed", NAN);
	}
}

const char *ks_slot_name(const struct ks_slot *s, char *buf, size_t len)
{
	if (s->as_id)
		snprintf(buf, len, "slot %u (as %u)", s->id, s->as_id);
	else
		snprintf(buf, len, "slot %u", s->id);
	return buf;
}

void ks_sink_warn_lost(const struct ks_model *m)
{
	uint64_t lost = ks_model_lost(m);

	if (lost) {
		char why[256];
		size_t o = 0;

		why[0] = '\0';
		for (int i = 0; i < KS_DROP_MAX && o < sizeof(why); i++)
			if (m->drops[i])
				o += (size_t)snprintf(why + o, sizeof(why) - o, "%s%s %llu", o ? ", " : "",
						      ks_drop_names[i], (unsigned long long)m->drops[i]);
		ks_warn("%llu events lost (%s): figures that depend on them are incomplete",
			(unsigned long long)lost, why);
	}
	if (m->untracked_vms)
		ks_warn("%d VM%s not tracked: the kernel's VM table (--max-vms %u) was full; "
			"their counters are null, their dirty-log events are complete",
			m->untracked_vms, m->untracked_vms == 1 ? "" : "s", m->max_vms);
}

int ks_sink_stream(struct ks_sink *s, const struct ks_sink_ops *ops, FILE *out)
{
	struct ks_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return -1;
	st->out = out;
	s->ops = ops;
	s->self = st;
	return 0;
}

bool ks_sink_stream_failed(void *self)
{
	return ((struct ks_stream *)self)->failed;
}

void ks_sink_stream_free(void *self)
{
	free(self);
}
