// SPDX-License-Identifier: GPL-2.0
/*
 * Output of `kvmscope migrate`: per interval and VM, the event-derived
 * counts next to the binary stats deltas they should agree with; per VM
 * when it appears or exits; a summary per VM and memslot at the end.
 * docs/overhead.md defines the overhead figures; docs/json.md the records.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "migrate/migrate.h"
#include "migrate/migrate_trace.h"
#include "lib/json.h"
#include "lib/log.h"

/* A process name for text output: names are chosen by the process, and may
 * hold newlines or terminal escapes (common/json.h). Valid until the next
 * call. */
static const char *text_comm(const struct ks_vm *vm)
{
	static char buf[64];

	return ks_text_escape(vm->comm, buf, sizeof(buf));
}

const char *const ks_drop_names[] = {
	"ringbuf_full", "vm_table_full", "start_table_full", "vcpu_table_full" };
_Static_assert(sizeof(ks_drop_names) / sizeof(ks_drop_names[0]) == KS_DROP_MAX,
	       "a name for every drop counter");

static const char *const level_names[KS_MAX_LEVEL] = { "-", "4k", "2m", "1g" };

static uint64_t d(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : 0;
}

/*
 * A comparison between what the events say and what KVM's own statistics
 * say over the same interval:
 *  EQUAL     the stat counts exactly the traced calls (remote TLB flush
 *            requests are counted at the top of kvm_flush_remote_tlbs);
 *  WITHIN    the stat counts a subset of the traced calls (pf_taken is not
 *            counted for MMIO and a few retried faults that still go
 *            through kvm_mmu_page_fault): stat <= seen, and close to it;
 *  INFO      related but not comparable (new huge mappings raise pages_2m
 *            while splits lower it): shown, never flagged; also EQUAL and
 *            WITHIN comparisons of an interval whose ends were not both
 *            sampled "settled" (cmd_migrate.c, sample_settled()): events
 *            that fell between the two reads count on one side only;
 *  EXACT     a signed sum (page-size stats updates) that must equal the
 *            stat's change exactly: the sample is taken so that no update
 *            falls between the two reads (cmd_migrate.c, sample_settled());
 *  SIGNED_INFO the same, when that could not be ensured: shown only.
 */
enum relation { EQUAL, WITHIN, INFO, EXACT, SIGNED_INFO };
static const char *const relation_names[] = { "equal", "within", "info", "exact", "info" };

struct agreement {
	const char *events;       /* what kvmscope counted */
	const char *stat;         /* the KVM statistic */
	uint64_t seen;
	int64_t stat_delta;
	bool found;
	enum relation rel;
};

static bool m_page_stats;

static void fill_agreements(const struct ks_migrate *m, struct ks_vm *vm,
			    const struct ks_vm_counters *dc, struct agreement *a, int *n)
{
	*n = 0;
	/* Both sides must cover the same span: from the interval after the
	 * stats were attached on. */
	bool settled = vm->settled && vm->settled_prev;

	if (!vm->have_stats || !vm->stats_baseline || vm->untracked)
		return;
	a[*n] = (struct agreement){ "tlb_flushes", "remote_tlb_flush_requests",
				    dc->tlb_flushes, 0, false, settled ? EQUAL : INFO };
	a[*n].stat_delta = ks_vmstats_delta(&vm->st, false, a[*n].stat, &a[*n].found);
	(*n)++;
	/* Without the fault program the faults are these stats: nothing to
	 * compare. */
	if (m->fault_program) {
		a[*n] = (struct agreement){ "faults", "pf_taken", dc->faults, 0, false,
					    settled ? WITHIN : INFO };
		a[*n].stat_delta = ks_vmstats_delta(&vm->st, true, a[*n].stat, &a[*n].found);
		(*n)++;
		a[*n] = (struct agreement){ "wp_faults", "pf_fast", dc->wp_faults, 0, false, INFO };
		a[*n].stat_delta = ks_vmstats_delta(&vm->st, true, a[*n].stat, &a[*n].found);
		(*n)++;
	}
	a[*n] = (struct agreement){ "splits_2m", "pages_2m", dc->splits[2], 0, false, INFO };
	a[*n].stat_delta = ks_vmstats_delta(&vm->st, false, a[*n].stat, &a[*n].found);
	(*n)++;
	/* Series kernels: the page-size stats updates of the interval, summed,
	 * are the change of pages_4k/2m/1g over it, exactly, when both ends of
	 * the interval were sampled with no update in between the reads. */
	if (m_page_stats) {
		static const char *const pages[] = { NULL, "pages_4k", "pages_2m", "pages_1g" };
		static const char *const names[] = { NULL, "page_stats_4k", "page_stats_2m",
						     "page_stats_1g" };

		for (int l = 1; l < KS_MAX_LEVEL; l++) {
			a[*n] = (struct agreement){ names[l], pages[l], dc->page_delta[l], 0, false,
						    settled ? EXACT : SIGNED_INFO };
			a[*n].stat_delta = ks_vmstats_delta(&vm->st, false, pages[l], &a[*n].found);
			(*n)++;
		}
	}
}

/* Counters and stats are read a few microseconds apart while the guest
 * runs: events in that gap may land on either side of an interval. */
static bool agrees(const struct agreement *a)
{
	int64_t seen = (int64_t)a->seen, slack = seen / 100 > 2 ? seen / 100 : 2;

	if (!a->found)
		return true;
	switch (a->rel) {
	case EQUAL:
		return a->stat_delta >= seen - slack && a->stat_delta <= seen + slack;
	case WITHIN:
		/* Up to 10% of the faults may be ones KVM does not count; under
		 * heavy fault rates the few microseconds between reading the
		 * counters and the stats let some 5% more land in the stats. */
		return a->stat_delta <= seen + slack + seen / 20 &&
		       a->stat_delta >= seen - slack - seen / 10;
	case EXACT:
		/* seen holds a signed sum (page deltas) in two's complement. */
		return a->stat_delta == (int64_t)a->seen;
	case INFO:
	case SIGNED_INFO:
		break;
	}
	return true;
}

static void counters_delta_n(const uint64_t *a, const uint64_t *b, uint64_t *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		o[i] = d(a[i], b[i]);
}

/* The change of every counter over an interval. The counters only grow, so
 * a drop (an entry forgotten and recreated) counts as 0, except the page
 * deltas: they are signed sums that fall whenever pages are unmapped or huge
 * pages split, and must be subtracted as they are (two's complement). */
static void counters_delta(const struct ks_vm_counters *now, const struct ks_vm_counters *then,
			   struct ks_vm_counters *out)
{
	const uint64_t *a = (const uint64_t *)now, *b = (const uint64_t *)then;
	const size_t sfrom = offsetof(struct ks_vm_counters, page_delta) / sizeof(uint64_t);
	const size_t sto = sfrom + KS_MAX_LEVEL;
	uint64_t *o = (uint64_t *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		o[i] = i >= sfrom && i < sto ? a[i] - b[i] : d(a[i], b[i]);
}

static uint64_t hist_quantile(const unsigned long long *h, double q)
{
	uint64_t total = 0, acc = 0;

	for (int i = 0; i < KS_LAT_BUCKETS; i++)
		total += h[i];
	if (!total)
		return 0;
	for (int i = 0; i < KS_LAT_BUCKETS; i++) {
		acc += h[i];
		if (acc >= q * total)
			return 2ULL << i; /* upper bound of the bucket */
	}
	return 0;
}

void ks_migrate_json_levels(struct ks_json *j, const char *key, const unsigned long long *v)
{
	ks_json_obj(j, key);
	for (int l = 1; l < KS_MAX_LEVEL; l++)
		ks_json_u64(j, level_names[l], v[l]);
	ks_json_close(j);
}

/* A VM whose counters found the kernel's VM table full has none to show:
 * each counter field is null, never a 0 that would read as measured. */
static void json_count(struct ks_json *j, const struct ks_vm *vm, const char *key, uint64_t v)
{
	if (vm->untracked)
		ks_json_null(j, key);
	else
		ks_json_u64(j, key, v);
}

static void json_count_levels(struct ks_json *j, const struct ks_vm *vm, const char *key,
			      const unsigned long long *v)
{
	if (vm->untracked)
		ks_json_null(j, key);
	else
		ks_migrate_json_levels(j, key, v);
}

/* A fault count: null when not known (ks_migrate_faults_known); write
 * faults only the fault program tells apart. */
static void json_faults(struct ks_json *j, const struct ks_migrate *m, const struct ks_vm *vm,
			const char *key, uint64_t v)
{
	if (!ks_migrate_faults_known(m, vm) || (!m->fault_program && !strcmp(key, "write_faults")))
		ks_json_null(j, key);
	else
		ks_json_u64(j, key, v);
}

/* Why fault latency is not measured (m->fault_latency false). */
static const char *latency_off(const struct ks_migrate *m)
{
	return m->fault_latency_asked ? "not measured (fault latency cannot be traced on this kernel)" :
	       "not measured (fault latency is off; kvmscope migrate --fault-latency)";
}

/* fault_ns and fault_lat_log2_ns, or null for both when latency is not
 * measured: a 0 there would read as a measurement. */
static void json_latency(const struct ks_migrate *m, struct ks_json *j, uint64_t ns,
			 const unsigned long long *lat)
{
	if (!m->fault_latency) {
		ks_json_double(j, "fault_ns", NAN);
		ks_json_double(j, "fault_lat_log2_ns", NAN);
		return;
	}
	ks_json_u64(j, "fault_ns", ns);
	ks_json_arr(j, "fault_lat_log2_ns");
	for (int b = 0; b < KS_LAT_BUCKETS; b++)
		ks_json_arr_u64(j, lat[b]);
	ks_json_close(j);
}

/* Per vCPU: faults, write-protect faults, time in the handler and its
 * share of span_ns, log2 latency histogram (the last three null without
 * fault latency). */
static void json_vcpus(struct ks_migrate *m, struct ks_json *j, const struct ks_vm *vm,
		       bool delta, uint64_t span_ns)
{
	if (!ks_migrate_faults_known(m, vm)) {
		ks_json_null(j, "vcpu_faults");
		return;
	}
	ks_json_arr(j, "vcpu_faults");
	for (int i = 0; i < vm->nvcpus; i++) {
		const struct ks_vcpu_stat *v = &vm->vcpus[i];
		struct ks_vcpu_faults f = v->total;

		if (delta)
			counters_delta_n((const uint64_t *)&v->total, (const uint64_t *)&v->last,
					 (uint64_t *)&f, sizeof(f) / sizeof(uint64_t));
		ks_json_obj(j, NULL);
		ks_json_i64(j, "vcpu", v->id);
		ks_json_u64(j, "faults", f.faults);
		ks_json_u64(j, "wp_faults", f.wp_faults);
		ks_json_double(j, "vcpu_time_lost_pct", m->fault_latency && span_ns ?
			       100.0 * f.fault_ns / span_ns : NAN);
		json_latency(m, j, f.fault_ns, f.fault_lat);
		ks_json_close(j);
	}
	ks_json_close(j);
}

static void interval_vm(struct ks_migrate *m, struct ks_vm *vm, uint64_t now_ns, uint64_t dt_ns,
			struct ks_cpu cpu)
{
	struct ks_vm_counters dc;
	struct agreement a[12];
	int na, nvcpu = vm->vcpus_seen;
	double lost;
	struct ks_json j;

	counters_delta(&vm->total, &vm->last, &dc);
	m_page_stats = m->page_stats;
	fill_agreements(m, vm, &dc, a, &na);
	lost = nvcpu && dt_ns ? 100.0 * dc.fault_ns / ((double)dt_ns * nvcpu) : 0;
	ks_mtrace_interval(m, vm, &dc, now_ns, dt_ns, lost);

	if (m->json) {
		ks_json_begin(&j, m->out, "interval", now_ns);
		ks_json_i64(&j, "pid", vm->pid);
		ks_json_str(&j, "comm", vm->comm);
		ks_json_u64(&j, "interval_ns", dt_ns);
		ks_json_u64(&j, "tracer_user_ns", cpu.user_ns);
		ks_json_u64(&j, "tracer_sys_ns", cpu.sys_ns);
		ks_json_u64(&j, "syncs", vm->syncs_interval);
		ks_json_u64(&j, "host_ioctl_ns", vm->host_ns_interval);
		ks_json_bool(&j, "vm_table_full", vm->untracked != 0);
		json_count_levels(&j, vm, "wp_calls", dc.wp_gfn_calls);
		json_count_levels(&j, vm, "wp_changed", dc.wp_gfn_protected);
		json_count_levels(&j, vm, "splits", dc.splits);
		json_faults(&j, m, vm, "faults", dc.faults);
		json_faults(&j, m, vm, "write_faults", dc.write_faults);
		json_faults(&j, m, vm, "wp_faults", dc.wp_faults);
		if (vm->untracked) {
			ks_json_null(&j, "fault_ns");
			ks_json_null(&j, "fault_lat_log2_ns");
		} else {
			json_latency(m, &j, dc.fault_ns, dc.fault_lat);
		}
		ks_json_u64(&j, "vcpus", nvcpu);
		if (m->fault_latency && !vm->untracked)
			ks_json_double(&j, "vcpu_time_lost_pct", lost);
		else
			ks_json_null(&j, "vcpu_time_lost_pct"); /* not measured */
		json_vcpus(m, &j, vm, true, dt_ns);
		json_count(&j, vm, "tlb_flushes", dc.tlb_flushes);
		json_count(&j, vm, "stats_reads", dc.stats_reads);
		json_count(&j, vm, "stats_read_bytes", dc.stats_read_bytes);
		json_count(&j, vm, "map_gpa_range_hypercalls", dc.hypercalls_map_gpa);
		json_count(&j, vm, "map_gpa_range_pages", dc.map_gpa_pages);
		json_count(&j, vm, "migration_control_writes", dc.msr_migration_control);
		ks_json_bool(&j, "settled", vm->have_stats && vm->settled);
		ks_json_arr(&j, "agreement");
		for (int i = 0; i < na; i++) {
			ks_json_obj(&j, NULL);
			ks_json_str(&j, "events", a[i].events);
			ks_json_str(&j, "stat", a[i].stat);
			if (a[i].rel == EXACT || a[i].rel == SIGNED_INFO)
				ks_json_i64(&j, "seen", (int64_t)a[i].seen);
			else
				ks_json_u64(&j, "seen", a[i].seen);
			if (a[i].found)
				ks_json_i64(&j, "stat_delta", a[i].stat_delta);
			ks_json_str(&j, "relation", relation_names[a[i].rel]);
			ks_json_bool(&j, "agree", agrees(&a[i]));
			ks_json_close(&j);
		}
		ks_json_close(&j);
		if (ks_json_end(&j))
			m->output_failed = true;
	} else if (!vm->syncs_interval && !vm->host_ns_interval && !dc.faults && !dc.tlb_flushes &&
		   !dc.wp_gfn_calls[1] && !dc.wp_gfn_calls[2]) {
		/* Text output shows active VMs only; JSON has every interval. */
	} else if (vm->untracked) {
		fprintf(m->out, "%10.3fs  pid %-7d %-15.15s syncs %-4llu ioctl %8.3f ms  "
			"counters not tracked (kernel VM table full)\n",
			(now_ns - m->start_ns) / 1e9, vm->pid, text_comm(vm),
			(unsigned long long)vm->syncs_interval, vm->host_ns_interval / 1e6);
		if (ks_output_check(m->out))
			m->output_failed = true;
	} else {
		char lat[64], faults[64];

		if (m->fault_latency)
			snprintf(lat, sizeof(lat), ", p99 %llu us)  vCPU stall %.2f%%",
				 (unsigned long long)hist_quantile(dc.fault_lat, 0.99) / 1000, lost);
		else
			snprintf(lat, sizeof(lat), ")  vCPU stall not measured");
		/* Without stats (and the fault program) the faults are not known. */
		if (ks_migrate_faults_known(m, vm))
			snprintf(faults, sizeof(faults), "%llu (%s %llu", (unsigned long long)dc.faults,
				 m->fault_program ? "w" : "wp fast",
				 (unsigned long long)(m->fault_program ? dc.write_faults : dc.wp_faults));
		else
			snprintf(faults, sizeof(faults), "not known (no binary stats");
		fprintf(m->out, "%10.3fs  pid %-7d %-15.15s syncs %-4llu ioctl %8.3f ms  wp 4k/2m %llu/%llu  "
			"faults %s%s  splits %llu  tlb %llu\n",
			(now_ns - m->start_ns) / 1e9, vm->pid, text_comm(vm),
			(unsigned long long)vm->syncs_interval, vm->host_ns_interval / 1e6,
			(unsigned long long)dc.wp_gfn_calls[1], (unsigned long long)dc.wp_gfn_calls[2],
			faults, lat,
			(unsigned long long)(dc.splits[2] + dc.splits[3]),
			(unsigned long long)dc.tlb_flushes);
		for (int i = 0; i < na; i++)
			if (a[i].found && !agrees(&a[i]))
				fprintf(m->out, "%12s  pid %-7d DISAGREE: %s %llu vs stat %s %+lld\n", "",
					vm->pid, a[i].events, (unsigned long long)a[i].seen,
					a[i].stat, (long long)a[i].stat_delta);
		if (ks_output_check(m->out))
			m->output_failed = true;
	}
	vm->last = vm->total;
	vm->settled_prev = vm->settled;
	for (int i = 0; i < vm->nvcpus; i++)
		vm->vcpus[i].last = vm->vcpus[i].total;
	vm->host_ns_interval = 0;
	vm->syncs_interval = 0;
}

static void vm_interval_at(struct ks_migrate *m, struct ks_vm *vm, uint64_t now_ns, struct ks_cpu cpu);

/* The tracer's own CPU is read once per boundary: every VM's record of it
 * covers its span up to the same point. */
void ks_migrate_report_interval(struct ks_migrate *m, uint64_t now_ns)
{
	struct ks_cpu cpu = ks_self_cpu();

	for (int i = 0; i < KS_MAX_TRACKED; i++)
		if (m->vms[i].used && m->vms[i].active)
			vm_interval_at(m, &m->vms[i], now_ns, cpu);
}

void ks_migrate_report_vm_interval(struct ks_migrate *m, struct ks_vm *vm, uint64_t now_ns)
{
	vm_interval_at(m, vm, now_ns, ks_self_cpu());
}

static void vm_interval_at(struct ks_migrate *m, struct ks_vm *vm, uint64_t now_ns, struct ks_cpu cpu)
{
	uint64_t since = vm->last_report_ns ? vm->last_report_ns : m->start_ns;
	struct ks_cpu then = vm->last_report_ns ? vm->cpu_last : m->cpu_start;

	interval_vm(m, vm, now_ns, now_ns - since, ks_cpu_since(cpu, then));
	vm->last_report_ns = now_ns;
	vm->cpu_last = cpu;
	/* Comparisons start at the first boundary sampled settled, and go on
	 * from there. At a boundary that is not settled the counters are read
	 * while updates land between the reads (populating a 4K-backed guest:
	 * thousands of page-size updates), so the two sides start apart by the
	 * updates of that window, and summed over the VM's life the intervals
	 * would differ by them (seen: +1 to +3 pages_4k on anon backing). From
	 * a settled start, the sums up to any later settled boundary agree. */
	vm->stats_baseline = vm->have_stats && (vm->stats_baseline || vm->settled);
}

void ks_migrate_report_vm(struct ks_migrate *m, struct ks_vm *vm, const char *what, uint64_t now_ns)
{
	struct ks_json j;

	if (!strcmp(what, "exited"))
		ks_mtrace_vm_exit(m, vm, now_ns);
	if (m->json) {
		ks_json_begin(&j, m->out, "vm", now_ns);
		ks_json_str(&j, "event", what);
		ks_json_i64(&j, "pid", vm->pid);
		ks_json_str(&j, "comm", vm->comm);
		ks_json_bool(&j, "stats", vm->have_stats);
		if (vm->have_stats) {
			ks_json_u64(&j, "vcpus", ks_vmstats_vcpus(&vm->st));
			ks_json_str(&j, "stats_id", vm->st.vm.schema.id);
			ks_json_str(&j, "stats_source", ks_vmstats_source(&vm->st));
		} else {
			ks_json_str(&j, "stats_missing", vm->st.why);
		}
		if (ks_json_end(&j))
			m->output_failed = true;
		return;
	}
	fprintf(m->out, "%10.3fs  pid %-7d %s: VM %s", (now_ns - m->start_ns) / 1e9, vm->pid,
		text_comm(vm), what);
	if (vm->have_stats)
		fprintf(m->out, " (%d vCPUs, stats %s '%s')\n", ks_vmstats_vcpus(&vm->st),
			vm->st.vm.dbg_dir >= 0 ? "from debugfs" : "fd", vm->st.vm.schema.id);
	else
		fprintf(m->out, " (binary stats not available yet: %s)\n",
			vm->st.why[0] ? vm->st.why : "not attached");
	fflush(m->out);
}

/* The dirty-logging window of a VM: first logging start to last stop (or
 * now, or the VM's exit, if logging is still on). 0 if never logging. */
static uint64_t logging_window(const struct ks_vm *vm, uint64_t now_ns)
{
	uint64_t first = 0, last = 0;
	bool open = false;

	for (int i = 0; i < KS_MAX_SLOTS; i++) {
		const struct ks_slot *s = &vm->slots[i];

		if (!s->used || !s->log_on_ts)
			continue;
		if (!first || s->log_on_ts < first)
			first = s->log_on_ts;
		if (s->logging)
			open = true;
		else if (s->log_off_ts > last)
			last = s->log_off_ts + s->log_off_ns;
	}
	if (open)
		last = vm->exit_ts ? vm->exit_ts : now_ns;
	return first && last > first ? last - first : 0;
}

/* The text summary's counter lines of a VM whose counters were tracked. */
static void text_counters(struct ks_migrate *m, const struct ks_vm *vm, uint64_t window,
			  double host_pct, double guest_pct, int nvcpu)
{
	const struct ks_vm_counters *c = &vm->total;

	if (window && m->fault_latency)
		fprintf(m->out, "  migration overhead over %.3f s of dirty logging: host %.2f%% (ioctls), "
			"guest %.2f%% of %d vCPUs' time (faults)\n",
			window / 1e9, host_pct, guest_pct, nvcpu);
	else if (window)
		fprintf(m->out, "  migration overhead over %.3f s of dirty logging: host %.2f%% (ioctls), "
			"guest %s\n", window / 1e9, host_pct, latency_off(m));
	if (m->fault_latency)
		fprintf(m->out, "  host: %.3f ms in dirty-log ioctls; guest: %.3f ms in %llu faults (%llu writes)\n",
			vm->host_ns_total / 1e6, c->fault_ns / 1e6, (unsigned long long)c->faults,
			(unsigned long long)c->write_faults);
	else if (m->fault_program)
		fprintf(m->out, "  host: %.3f ms in dirty-log ioctls; guest: %llu faults (%llu writes), "
			"time in them %s\n", vm->host_ns_total / 1e6, (unsigned long long)c->faults,
			(unsigned long long)c->write_faults, latency_off(m));
	else if (vm->stat_faults_known)
		fprintf(m->out, "  host: %.3f ms in dirty-log ioctls; guest: %llu faults (%llu write-protect "
			"faults fixed in KVM's fast path; KVM's stats), time in them %s\n",
			vm->host_ns_total / 1e6, (unsigned long long)c->faults,
			(unsigned long long)c->wp_faults, latency_off(m));
	else
		fprintf(m->out, "  host: %.3f ms in dirty-log ioctls; guest faults not known (no binary "
			"stats)\n", vm->host_ns_total / 1e6);
	fprintf(m->out, "  write-protect calls by min_level: 4k %llu, 2m %llu, 1g %llu; splits 2m %llu, 1g %llu; TLB flushes %llu\n",
		(unsigned long long)c->wp_gfn_calls[1], (unsigned long long)c->wp_gfn_calls[2],
		(unsigned long long)c->wp_gfn_calls[3], (unsigned long long)c->splits[2],
		(unsigned long long)c->splits[3], (unsigned long long)c->tlb_flushes);
	for (int i = 0; i < vm->nvcpus; i++) {
		const struct ks_vcpu_faults *f = &vm->vcpus[i].total;

		fprintf(m->out, "  vCPU %-3d faults %llu (write-protect %llu)", vm->vcpus[i].id,
			(unsigned long long)f->faults, (unsigned long long)f->wp_faults);
		if (m->fault_latency && f->faults)
			fprintf(m->out, ", latency p50 %.1f us, p99 %.1f us, %.2f%% of its time over the logging window",
				hist_quantile(f->fault_lat, 0.5) / 1e3, hist_quantile(f->fault_lat, 0.99) / 1e3,
				window ? 100.0 * f->fault_ns / window : 0);
		fprintf(m->out, "\n");
	}
	if (c->hypercalls_map_gpa || c->msr_migration_control)
		fprintf(m->out, "  SEV migration interface: %llu KVM_HC_MAP_GPA_RANGE hypercalls (%llu pages), "
			"%llu MSR_KVM_MIGRATION_CONTROL writes\n",
			(unsigned long long)c->hypercalls_map_gpa, (unsigned long long)c->map_gpa_pages,
			(unsigned long long)c->msr_migration_control);
}

static void summary_vm(struct ks_migrate *m, struct ks_vm *vm, uint64_t now_ns)
{
	const struct ks_vm_counters *c = &vm->total;
	uint64_t window = logging_window(vm, now_ns);
	int nvcpu = vm->st.vcpus_seen ? vm->st.vcpus_seen : vm->vcpus_seen;
	/* docs/overhead.md: host share = time in dirty-log ioctls over the
	 * logging window; guest share = vCPU time in KVM's fault handler over
	 * the vCPU time of the window. */
	double host_pct = window ? 100.0 * vm->host_ns_total / window : 0;
	double guest_pct = window && nvcpu ? 100.0 * c->fault_ns / ((double)window * nvcpu) : 0;
	struct ks_json j;

	if (m->json) {
		ks_json_begin(&j, m->out, "vm_summary", now_ns);
		ks_json_i64(&j, "pid", vm->pid);
		ks_json_str(&j, "comm", vm->comm);
		ks_json_bool(&j, "exited", !vm->active);
		ks_json_u64(&j, "logging_window_ns", window);
		ks_json_u64(&j, "vcpus", nvcpu);
		ks_json_u64(&j, "host_ioctl_ns", vm->host_ns_total);
		ks_json_double(&j, "host_overhead_pct", host_pct);
		if (m->fault_latency && !vm->untracked)
			ks_json_double(&j, "guest_overhead_pct", guest_pct);
		else
			ks_json_null(&j, "guest_overhead_pct"); /* not measured */
		ks_json_bool(&j, "vm_table_full", vm->untracked != 0);
		if (m->fault_latency)
			json_count(&j, vm, "fault_ns", c->fault_ns);
		else
			ks_json_null(&j, "fault_ns"); /* not measured */
		json_faults(&j, m, vm, "faults", c->faults);
		json_faults(&j, m, vm, "write_faults", c->write_faults);
		json_faults(&j, m, vm, "wp_faults", c->wp_faults);
		json_count_levels(&j, vm, "wp_calls", c->wp_gfn_calls);
		json_count_levels(&j, vm, "wp_changed", c->wp_gfn_protected);
		json_count_levels(&j, vm, "splits", c->splits);
		json_count(&j, vm, "tlb_flushes", c->tlb_flushes);
		json_count(&j, vm, "map_gpa_range_hypercalls", c->hypercalls_map_gpa);
		json_count(&j, vm, "map_gpa_range_pages", c->map_gpa_pages);
		json_count(&j, vm, "migration_control_writes", c->msr_migration_control);
		json_vcpus(m, &j, vm, false, window);
		ks_json_arr(&j, "slots");
		for (int i = 0; i < KS_MAX_SLOTS; i++) {
			const struct ks_slot *s = &vm->slots[i];

			if (!s->used)
				continue;
			ks_json_obj(&j, NULL);
			ks_json_u64(&j, "slot", s->id);
			ks_json_u64(&j, "as_id", s->as_id);
			ks_json_u64(&j, "npages", s->npages);
			ks_json_u64(&j, "log_on_ns", s->log_on_ns);
			ks_json_u64(&j, "log_off_ns", s->log_off_ns);
			ks_json_bool(&j, "eager_write_protect", s->eager_wp);
			ks_json_u64(&j, "eager_write_protect_ns", s->eager_wp_ns);
			ks_json_u64(&j, "iterations", s->n_get);
			ks_json_u64(&j, "get_ns", s->get_ns);
			ks_json_u64(&j, "pages_dirty", s->dirty_pages);
			ks_json_u64(&j, "clears", s->n_clear);
			ks_json_u64(&j, "clear_ns", s->clear_ns);
			ks_json_u64(&j, "pages_cleared", s->cleared_pages);
			ks_json_u64(&j, "rmap_allocs", s->rmap_allocs);
			ks_json_u64(&j, "rmap_bytes", s->rmap_bytes);
			ks_json_u64(&j, "rmap_avoided_bytes", s->rmap_avoided_bytes);
			if (s->start_actions & KS_ACT_KNOWN)
				ks_json_str(&j, "kvm_decision", s->start_actions & KS_ACT_LAZY ? "lazy" : "eager");
			ks_json_close(&j);
		}
		ks_json_close(&j);
		if (ks_json_end(&j))
			m->output_failed = true;
		return;
	}
	/* A VM that did nothing while traced (a VMM idling) gets no block. */
	if (!window && !c->faults && !vm->host_ns_total && !c->tlb_flushes)
		return;
	fprintf(m->out, "\nVM pid %d (%s)%s\n", vm->pid, text_comm(vm), vm->active ? "" : ", exited");
	if (vm->untracked)
		/* Only what the events say: time in ioctls and the memslots. */
		fprintf(m->out, "  counters not tracked: the kernel's VM table was full (--max-vms %u)\n"
			"  host: %.3f ms in dirty-log ioctls\n", m->max_vms, vm->host_ns_total / 1e6);
	else
		text_counters(m, vm, window, host_pct, guest_pct, nvcpu);
	fprintf(m->out, "  %5s %10s %8s %10s %6s %10s %12s %6s %10s %12s\n", "slot", "pages", "start",
		"start ms", "iters", "get ms", "dirty", "clears", "clear ms", "cleared");
	for (int i = 0; i < KS_MAX_SLOTS; i++) {
		const struct ks_slot *s = &vm->slots[i];

		if (!s->used || (!s->n_get && !s->log_on_ts && !s->rmap_allocs))
			continue;
		fprintf(m->out, "  %5u %10llu %8s %10.3f %6llu %10.3f %12llu %6llu %10.3f %12llu\n",
			s->id, (unsigned long long)s->npages,
			!s->log_on_ts ? "-" :
			(s->start_actions & KS_ACT_KNOWN) ? ((s->start_actions & KS_ACT_LAZY) ? "lazy" : "eager") :
			s->eager_wp ? "eager" : "lazy", s->log_on_ns / 1e6,
			(unsigned long long)s->n_get, s->get_ns / 1e6,
			(unsigned long long)s->dirty_pages, (unsigned long long)s->n_clear,
			s->clear_ns / 1e6, (unsigned long long)s->cleared_pages);
	}
}

void ks_migrate_report_vm_summary(struct ks_migrate *m, struct ks_vm *vm, uint64_t now_ns)
{
	summary_vm(m, vm, now_ns);
}

void ks_migrate_report_summary(struct ks_migrate *m, uint64_t now_ns)
{
	uint64_t lost = 0;
	struct ks_json j;
	struct ks_cpu cpu;

	for (int i = 0; i < KS_MAX_TRACKED; i++)
		if (m->vms[i].used)
			summary_vm(m, &m->vms[i], now_ns);
	for (int i = 0; i < KS_DROP_MAX; i++)
		lost += m->drops[i];
	/* Said on stderr too, where a JSON consumer's operator looks. */
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
	/* The whole process's CPU, loading included, after everything above. */
	cpu = ks_self_cpu();
	if (m->json) {
		ks_json_begin(&j, m->out, "summary", now_ns);
		ks_json_u64(&j, "duration_ns", now_ns - m->start_ns);
		ks_json_u64(&j, "vms", m->nvm);
		ks_json_u64(&j, "vms_not_tracked", (uint64_t)m->untracked_vms);
		ks_json_u64(&j, "tracer_user_ns", cpu.user_ns);
		ks_json_u64(&j, "tracer_sys_ns", cpu.sys_ns);
		ks_json_obj(&j, "lost");
		for (int i = 0; i < KS_DROP_MAX; i++)
			ks_json_u64(&j, ks_drop_names[i], m->drops[i]);
		ks_json_close(&j);
		if (ks_json_end(&j))
			m->output_failed = true;
		return;
	}
	fprintf(m->out, "\n%d VM%s traced for %.3f s; events lost: %llu", m->nvm, m->nvm == 1 ? "" : "s",
		(now_ns - m->start_ns) / 1e9, (unsigned long long)lost);
	for (int i = 0; i < KS_DROP_MAX; i++)
		if (m->drops[i])
			fprintf(m->out, " (%s %llu)", ks_drop_names[i], (unsigned long long)m->drops[i]);
	fprintf(m->out, "; kvmscope's own CPU %.3f s (user %.3f, system %.3f)\n",
		(cpu.user_ns + cpu.sys_ns) / 1e9, cpu.user_ns / 1e9, cpu.sys_ns / 1e9);
	fflush(m->out);
}
