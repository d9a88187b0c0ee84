// SPDX-License-Identifier: GPL-2.0
/*
 * kvmscope stats: KVM's binary statistics of every VM (or of one VMM), read
 * through the stats fds the VMMs hold: values and rates, with units,
 * exponents and bases from the descriptors, histograms decoded. No BPF.
 */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "commands.h"
#include "statsfd.h"
#include "vmstats.h"
#include "common/json.h"
#include "common/parse.h"
#include "common/log.h"
#include "common/runopts.h"
#include "common/signals.h"

#define MAX_VMS 256
#define MAX_FILTERS 32
#define RESCAN_NS KS_NS_PER_S

struct stats_args {
	struct ks_run_opts run;
	bool per_vcpu;
	char *filters[MAX_FILTERS];
	int nfilters;
	char filter_buf[1024];
};

static const struct argp_option stats_options[] = {
	{ "pid", 'p', "PID", 0, "Only the VMM with this process id", 0 },
	{ "interval", 'i', "INTERVAL", 0, "Sample every INTERVAL (default 1s, at least 10ms)", 0 },
	{ "duration", 'd', "DURATION", 0, "Stop after DURATION (default: until SIGINT/SIGTERM)", 0 },
	{ "vcpu", 'c', NULL, 0, "One row per vCPU instead of the sum over vCPUs", 0 },
	{ "filter", 'f', "NAME[,NAME]", 0, "Only these statistics (exact names)", 0 },
	{ "json", 'j', NULL, 0, "JSON lines (docs/json.md) instead of a table", 0 },
	{ "verbose", 'v', NULL, 0, "Verbose output", 0 },
	{ 0 },
};

static error_t parse_stats(int key, char *arg, struct argp_state *state)
{
	struct stats_args *a = state->input;
	char err[96];

	switch (key) {
	case 'c':
		a->per_vcpu = true;
		return 0;
	case 'f':
		if (strlen(arg) >= sizeof(a->filter_buf))
			argp_error(state, "--filter: longer than %zu bytes", sizeof(a->filter_buf) - 1);
		snprintf(a->filter_buf, sizeof(a->filter_buf), "%s", arg);
		a->nfilters = ks_parse_names(a->filter_buf, a->filters, MAX_FILTERS, err, sizeof(err));
		if (a->nfilters < 0)
			argp_error(state, "--filter: %s", err);
		return 0;
	default:
		return ks_parse_run_opt(key, arg, state, &a->run);
	}
}

struct tracked {
	bool used;
	struct ks_vmstats st;
	bool announced;
};

struct stats_run {
	const struct stats_args *a;
	struct tracked vms[MAX_VMS];
	bool seen[MAX_VMS];      /* found with a VM fd by the current scan */
	uint64_t start_ns, last_scan;
	bool output_failed;
	bool warned_full;        /* said once that VMMs went unshown */
};

static bool wanted(const struct stats_args *a, const char *name)
{
	if (!a->nfilters)
		return true;
	for (int i = 0; i < a->nfilters; i++)
		if (!strcmp(a->filters[i], name))
			return true;
	return false;
}

static struct tracked *find(struct stats_run *r, pid_t pid)
{
	for (int i = 0; i < MAX_VMS; i++)
		if (r->vms[i].used && r->vms[i].st.pid == pid)
			return &r->vms[i];
	return NULL;
}

static int adopt(const struct ks_vmm *v, void *ctx)
{
	struct stats_run *r = ctx;
	struct tracked *t = find(r, v->pid), *slot = NULL;
	int rc;

	/* Debugfs sums the vCPUs that existed when it was opened: reopen it
	 * when the VMM has created more (QEMU: after its first memslots), or
	 * has opened stats fds since (they are cheaper and have histograms). */
	bool refresh = t && t->st.vm.dbg_dir >= 0 &&
		       (ks_vmstats_vcpus(&t->st) != v->nvcpu || v->vm_stats_fd >= 0);

	if (t)
		r->seen[t - r->vms] = true;
	if (t && ks_stats_src_ok(&t->st.vm) && !refresh)
		return 0;
	if (t) {
		/* Known without stats: the VMM may have opened them since. */
		if (v->vm_stats_fd < 0 && !refresh)
			return 0;
		ks_vmstats_close(&t->st);
		slot = t;
	}
	for (int i = 0; !slot && i < MAX_VMS; i++)
		if (!r->vms[i].used)
			slot = &r->vms[i];
	if (!slot) {
		if (!r->warned_full)
			ks_warn("more than %d VMMs: PID %d and any further ones not shown",
				MAX_VMS, (int)v->pid);
		r->warned_full = true;
		return 0;
	}
	memset(slot, 0, sizeof(*slot));
	rc = ks_vmstats_open(&slot->st, v);
	if (rc < 0)
		return 0; /* gone already */
	slot->used = true;
	r->seen[slot - r->vms] = true;
	if (rc > 0 && !slot->announced) {
		char comm[64];

		ks_warn("PID %d (%s): no binary stats: %s", (int)v->pid,
			ks_text_escape(v->comm, comm, sizeof(comm)), slot->st.why);
		slot->announced = true;
	}
	return 0;
}

/* Finds new VMMs and marks which tracked ones still hold a VM fd
 * (r->seen): one that lives on without any was closed (sample_all). */
static void scan(struct stats_run *r, uint64_t ts)
{
	struct ks_vmm *v;

	r->last_scan = ts;
	memset(r->seen, 0, sizeof(r->seen));
	if (!r->a->run.pid) {
		ks_vmm_scan_all(adopt, r);
		return;
	}
	v = malloc(sizeof(*v));
	if (v && ks_vmm_scan(r->a->run.pid, v) == 1)
		adopt(v, r);
	free(v);
}

/* --- human output ---------------------------------------------------------- */

/* A value in its base unit with a unit suffix people read at a glance. */
static void human(char *buf, size_t len, const struct ks_stat_desc *d, double v)
{
	static const char *const bytes[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int i = 0;

	switch (d->unit) {
	case KS_UNIT_BYTES:
		while (fabs(v) >= 1024 && i < 4) {
			v /= 1024;
			i++;
		}
		snprintf(buf, len, "%.*f %s", i ? 1 : 0, v, bytes[i]);
		return;
	case KS_UNIT_SECONDS:
		if (v == 0)
			snprintf(buf, len, "0 s");
		else if (fabs(v) < 1e-6)
			snprintf(buf, len, "%.0f ns", v * 1e9);
		else if (fabs(v) < 1e-3)
			snprintf(buf, len, "%.1f us", v * 1e6);
		else if (fabs(v) < 1)
			snprintf(buf, len, "%.1f ms", v * 1e3);
		else
			snprintf(buf, len, "%.3f s", v);
		return;
	case KS_UNIT_CYCLES:
		snprintf(buf, len, "%.0f cycles", v);
		return;
	case KS_UNIT_BOOLEAN:
		snprintf(buf, len, "%s", v ? "yes" : "no");
		return;
	case KS_UNIT_NONE:
		break;
	}
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.3g", v);
}

/* Bucket i's lower bound, in the stat's base unit. */
static double bucket_low(const struct ks_stat_desc *d, unsigned int i)
{
	double unit = pow(d->base2 ? 2.0 : 10.0, d->exponent);

	if (d->type == KS_STAT_LINEAR_HIST)
		return (double)i * d->bucket_size * unit;
	/* Log histogram: bucket 0 holds 0, bucket i holds [2^(i-1), 2^i). */
	return i ? ldexp(1.0, (int)i - 1) * unit : 0;
}

static void print_hist(const struct ks_stat_desc *d, const uint64_t *v)
{
	char lo[32];
	uint64_t total = 0;
	int shown = 0;

	for (unsigned int i = 0; i < d->size; i++)
		total += v[i];
	printf("%-32s %12llu samples:", d->name, (unsigned long long)total);
	for (unsigned int i = 0; i < d->size && shown < 8; i++) {
		if (!v[i])
			continue;
		human(lo, sizeof(lo), d, bucket_low(d, i));
		printf(" [>=%s]%llu", lo, (unsigned long long)v[i]);
		shown++;
	}
	printf("%s\n", shown == 8 ? " ..." : "");
}

static void print_src(const struct stats_args *a, const struct ks_stats_src *const *srcs, int nsrc,
		      double dt)
{
	const struct ks_stats_schema *s = &srcs[0]->schema;

	for (unsigned int k = 0; k < s->ndesc; k++) {
		const struct ks_stat_desc *d = &s->desc[k];
		char val[48], rate[48] = "";
		uint64_t *sum;

		if (!wanted(a, d->name))
			continue;
		sum = calloc(d->size, sizeof(uint64_t));
		if (!sum)
			return;
		for (int n = 0; n < nsrc; n++) {
			/* vCPU schemas are identical; look the stat up anyway. */
			int idx = ks_stats_find(&srcs[n]->schema, d->name);

			if (idx < 0)
				continue;
			for (unsigned int b = 0; b < d->size && b < srcs[n]->schema.desc[idx].size; b++)
				sum[b] += srcs[n]->cur[srcs[n]->schema.desc[idx].index + b];
		}
		if (d->type == KS_STAT_LINEAR_HIST || d->type == KS_STAT_LOG_HIST) {
			print_hist(d, sum);
			free(sum);
			continue;
		}
		human(val, sizeof(val), d, ks_stats_scaled(d, sum[0]));
		if (d->type == KS_STAT_CUMULATIVE && dt > 0) {
			uint64_t prev = 0;

			for (int n = 0; n < nsrc; n++) {
				int idx = ks_stats_find(&srcs[n]->schema, d->name);

				if (idx >= 0)
					prev += srcs[n]->prev[srcs[n]->schema.desc[idx].index];
			}
			human(rate, sizeof(rate), d, ks_stats_scaled(d, sum[0] - prev) / dt);
			strncat(rate, "/s", sizeof(rate) - strlen(rate) - 1);
		}
		printf("%-32s %16s %16s  %s\n", d->name, val, rate, ks_stat_type_name(d->type));
		free(sum);
	}
}

static void print_vm(struct stats_run *r, struct tracked *t)
{
	const struct ks_vmstats *st = &t->st;
	const struct ks_stats_src *one[1] = { &st->vm };
	const struct ks_stats_src **all;
	double dt = st->vm.prev_ns && st->vm.cur_ns > st->vm.prev_ns ?
		    (st->vm.cur_ns - st->vm.prev_ns) / 1e9 : 0;

	char comm[64], id[160];

	printf("\nVM pid %d (%s)  %s  vCPUs %d\n", (int)st->pid,
	       ks_text_escape(st->comm, comm, sizeof(comm)),
	       ks_text_escape(st->vm.schema.id, id, sizeof(id)), st->vcpus_seen);
	printf("%-32s %16s %16s  %s\n", "statistic", "value", "rate", "type");
	print_src(r->a, one, 1, dt);
	if (!st->nvcpu)
		return;
	if (r->a->per_vcpu) {
		for (int i = 0; i < st->nvcpu; i++) {
			one[0] = &st->vcpu[i];
			if (st->vcpu[i].vcpus_summed)
				printf("-- all %d vCPUs (debugfs has no per-vCPU values)\n",
				       st->vcpu[i].vcpus_summed);
			else
				printf("-- vCPU %d\n", st->vcpu[i].vcpu_id);
			print_src(r->a, one, 1, dt);
		}
		return;
	}
	all = malloc(st->nvcpu * sizeof(*all));
	if (!all)
		return;
	for (int i = 0; i < st->nvcpu; i++)
		all[i] = &st->vcpu[i];
	printf("-- all %d vCPUs\n", ks_vmstats_vcpus(st));
	print_src(r->a, all, st->nvcpu, dt);
	free(all);
}

/* --- JSON output ----------------------------------------------------------- */

static void json_src(struct stats_run *r, const struct ks_vmstats *st, const struct ks_stats_src *s,
		     uint64_t ts)
{
	double dt = s->prev_ns && s->cur_ns > s->prev_ns ? (s->cur_ns - s->prev_ns) / 1e9 : 0;
	struct ks_json j;

	ks_json_begin(&j, stdout, "stats", ts);
	ks_json_i64(&j, "pid", st->pid);
	ks_json_str(&j, "comm", st->comm);
	ks_json_str(&j, "id", s->schema.id);
	if (s->vcpu_id >= 0)
		ks_json_i64(&j, "vcpu", s->vcpu_id);
	if (s->vcpus_summed)
		ks_json_i64(&j, "vcpus_summed", s->vcpus_summed);
	if (s->dbg_dir >= 0)
		ks_json_str(&j, "source", "debugfs");
	ks_json_obj(&j, "values");   /* scaled to the base unit */
	for (unsigned int k = 0; k < s->schema.ndesc; k++) {
		const struct ks_stat_desc *d = &s->schema.desc[k];

		if (!wanted(r->a, d->name))
			continue;
		if (d->type == KS_STAT_LINEAR_HIST || d->type == KS_STAT_LOG_HIST) {
			ks_json_arr(&j, d->name);
			for (unsigned int b = 0; b < d->size; b++)
				ks_json_arr_u64(&j, s->cur[d->index + b]);
			ks_json_close(&j);
		} else {
			ks_json_double(&j, d->name, ks_stats_scaled(d, s->cur[d->index]));
		}
	}
	ks_json_close(&j);
	ks_json_obj(&j, "raw");
	for (unsigned int k = 0; k < s->schema.ndesc; k++) {
		const struct ks_stat_desc *d = &s->schema.desc[k];

		if (wanted(r->a, d->name) && d->type != KS_STAT_LINEAR_HIST &&
		    d->type != KS_STAT_LOG_HIST)
			ks_json_u64(&j, d->name, s->cur[d->index]);
	}
	ks_json_close(&j);
	ks_json_obj(&j, "rates");    /* per second, cumulative stats only */
	for (unsigned int k = 0; dt > 0 && k < s->schema.ndesc; k++) {
		const struct ks_stat_desc *d = &s->schema.desc[k];

		if (wanted(r->a, d->name) && d->type == KS_STAT_CUMULATIVE)
			ks_json_double(&j, d->name,
				       ks_stats_scaled(d, s->cur[d->index] - s->prev[d->index]) / dt);
	}
	ks_json_close(&j);
	if (ks_json_end(&j))
		r->output_failed = true;
}

static void json_schema(struct stats_run *r, const struct ks_vmstats *st, const struct ks_stats_src *s,
			uint64_t ts)
{
	struct ks_json j;

	ks_json_begin(&j, stdout, "stats_schema", ts);
	ks_json_i64(&j, "pid", st->pid);
	ks_json_str(&j, "id", s->schema.id);
	ks_json_obj(&j, "stats");
	for (unsigned int k = 0; k < s->schema.ndesc; k++) {
		const struct ks_stat_desc *d = &s->schema.desc[k];

		if (!wanted(r->a, d->name))
			continue;
		ks_json_obj(&j, d->name);
		ks_json_str(&j, "type", ks_stat_type_name(d->type));
		ks_json_str(&j, "unit", ks_stat_unit_name(d->unit));
		ks_json_u64(&j, "base", d->base2 ? 2 : 10);
		ks_json_i64(&j, "exponent", d->exponent);
		ks_json_u64(&j, "size", d->size);
		if (d->type == KS_STAT_LINEAR_HIST)
			ks_json_u64(&j, "bucket_size", d->bucket_size);
		ks_json_close(&j);
	}
	ks_json_close(&j);
	if (ks_json_end(&j))
		r->output_failed = true;
}

static void json_vm(struct stats_run *r, struct tracked *t, uint64_t ts)
{
	if (!t->announced) {
		json_schema(r, &t->st, &t->st.vm, ts);
		if (t->st.nvcpu)
			json_schema(r, &t->st, &t->st.vcpu[0], ts);
		t->announced = true;
	}
	json_src(r, &t->st, &t->st.vm, ts);
	for (int i = 0; i < t->st.nvcpu; i++)
		json_src(r, &t->st, &t->st.vcpu[i], ts);
}

/* --- the loop ---------------------------------------------------------------- */

/* The VM went away: its VMM exited, or closed it ("exited"/"closed"). */
static void vm_gone(struct stats_run *r, struct tracked *t, uint64_t ts, const char *why)
{
	struct ks_json j;

	if (r->a->run.json) {
		ks_json_begin(&j, stdout, "vm", ts);
		ks_json_str(&j, "event", why);
		ks_json_i64(&j, "pid", t->st.pid);
		ks_json_str(&j, "comm", t->st.comm);
		if (ks_json_end(&j))
			r->output_failed = true;
	}
	ks_vmstats_close(&t->st);
	t->used = false;
}

static bool exited(const struct tracked *t)
{
	struct pollfd p = { .fd = t->st.pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

static void sample_all(struct stats_run *r, uint64_t ts)
{
	bool tty = !r->a->run.json && isatty(STDOUT_FILENO);
	int shown = 0;

	bool scanned = ts - r->last_scan >= RESCAN_NS;

	if (scanned)
		scan(r, ts);
	if (tty)
		printf("\033[H\033[2J"); /* top-like: redraw in place */
	if (!r->a->run.json)
		printf("kvmscope stats  %.3f s\n", (ts - r->start_ns) / 1e9);
	for (int i = 0; i < MAX_VMS; i++) {
		struct tracked *t = &r->vms[i];

		if (!t->used)
			continue;
		if (exited(t)) {
			vm_gone(r, t, ts, "exited");
			continue;
		}
		/* Our copies of its stats fds would keep a closed VM alive. */
		if (scanned && !r->seen[i]) {
			vm_gone(r, t, ts, "closed");
			continue;
		}
		if (!ks_stats_src_ok(&t->st.vm))
			continue;
		if (ks_vmstats_sample(&t->st, ts)) {
			vm_gone(r, t, ts, "exited");
			continue;
		}
		shown++;
		if (r->a->run.json)
			json_vm(r, t, ts);
		else
			print_vm(r, t);
	}
	if (!r->a->run.json && !shown)
		printf("no VM with binary stats%s\n", r->a->run.pid ? " in that process" : "");
	if (ks_output_check(stdout))
		r->output_failed = true;
}

int cmd_stats(int argc, char **argv)
{
	static const struct argp argp = { stats_options, parse_stats, NULL,
		"Show KVM's binary statistics of every VM (or one VMM's), read through the "
		"stats fds the VMMs hold: values and rates in their units, histograms decoded.",
		NULL, NULL, NULL };
	struct stats_args a = { .run.interval_ns = KS_NS_PER_S };
	struct stats_run *r;
	uint64_t next, end;
	int status = KS_EXIT_OK;

	if (argp_parse(&argp, argc, argv, 0, NULL, &a))
		return KS_EXIT_USAGE;
	if (a.run.pid && ks_vmm_require(a.run.pid))
		return KS_EXIT_FAIL;
	if (ks_signals_install())
		return KS_EXIT_FAIL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ks_err("out of memory"), KS_EXIT_FAIL;
	r->a = &a;
	r->start_ns = ks_now_ns();
	scan(r, r->start_ns);
	if (a.run.pid && !find(r, a.run.pid)) {
		ks_err("PID %d exited", a.run.pid);
		free(r);
		return KS_EXIT_FAIL;
	}
	if (a.run.pid && !ks_stats_src_ok(&find(r, a.run.pid)->st.vm)) {
		ks_err("PID %d: %s", a.run.pid, find(r, a.run.pid)->st.why);
		ks_vmstats_close(&find(r, a.run.pid)->st);
		free(r);
		return KS_EXIT_FAIL;
	}
	end = a.run.duration_ns ? r->start_ns + a.run.duration_ns : UINT64_MAX;
	next = r->start_ns + a.run.interval_ns;
	while (!ks_stop_signal && !r->output_failed) {
		uint64_t t = ks_now_ns(), wake = next < end ? next : end;
		struct timespec ts;

		if (wake > t) {
			ts.tv_sec = (wake - t) / KS_NS_PER_S;
			ts.tv_nsec = (wake - t) % KS_NS_PER_S;
			nanosleep(&ts, NULL); /* EINTR on a signal: the loop sees it */
			continue;
		}
		sample_all(r, t);
		while (next <= t)
			next += a.run.interval_ns;
		if (t >= end)
			break;
		if (a.run.pid && !find(r, a.run.pid))
			break; /* the one VMM we watch is gone */
	}
	if (r->output_failed) {
		ks_err("output failed: %s", ks_output_error());
		status = KS_EXIT_FAIL;
	}
	for (int i = 0; i < MAX_VMS; i++)
		if (r->vms[i].used)
			ks_vmstats_close(&r->vms[i].st);
	free(r);
	return status;
}
