// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "stats/stats_output.h"
#include "lib/json.h"

bool ks_stats_wanted(const struct ks_stats_out *o, const char *name)
{
	if (!o->nfilters)
		return true;
	for (int i = 0; i < o->nfilters; i++)
		if (!strcmp(o->filters[i], name))
			return true;
	return false;
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

/* A value as read, for a cell: integers without floating point wherever
 * the unit allows (most statistics are plain counts, and at short
 * intervals most rates are 0), else human(). */
static void human_raw(char *buf, size_t len, const struct ks_stat_desc *d, uint64_t raw)
{
	char digits[24], *p;

	digits[23] = '\0';
	if (d->exponent == 0 || raw == 0) {
		p = ks_u64_digits(raw, digits + 23);
		switch (d->unit) {
		case KS_UNIT_NONE:
			snprintf(buf, len, "%s", p);
			return;
		case KS_UNIT_CYCLES:
			snprintf(buf, len, "%s cycles", p);
			return;
		case KS_UNIT_BOOLEAN:
			snprintf(buf, len, "%s", raw ? "yes" : "no");
			return;
		case KS_UNIT_BYTES:
			if (raw < 1024) {
				snprintf(buf, len, "%s B", p);
				return;
			}
			break;
		case KS_UNIT_SECONDS:
			if (!raw) {
				snprintf(buf, len, "0 s");
				return;
			}
			break;
		}
	}
	human(buf, len, d, ks_stats_scaled(d, raw));
}

/* Appends s, right-aligned in width columns (left-aligned if width < 0),
 * to line[*n] within room bytes. */
static void cell(char *line, size_t room, size_t *n, const char *s, int width)
{
	size_t len = strlen(s), w = (size_t)(width < 0 ? -width : width);

	for (size_t i = len; width > 0 && i < w && *n < room; i++)
		line[(*n)++] = ' ';
	for (size_t i = 0; i < len && *n < room; i++)
		line[(*n)++] = s[i];
	for (size_t i = len; width < 0 && i < w && *n < room; i++)
		line[(*n)++] = ' ';
}

/* One table row, as "%-32s %16s %16s  %s\n" without printf. */
static void row(FILE *f, const char *name, const char *val, const char *rate, const char *type)
{
	char line[320];
	size_t n = 0;

	cell(line, sizeof(line), &n, name, -32);
	cell(line, sizeof(line), &n, " ", 0);
	cell(line, sizeof(line), &n, val, 16);
	cell(line, sizeof(line), &n, " ", 0);
	cell(line, sizeof(line), &n, rate, 16);
	cell(line, sizeof(line), &n, "  ", 0);
	cell(line, sizeof(line), &n, type, 0);
	cell(line, sizeof(line), &n, "\n", 0);
	fwrite(line, 1, n, f);
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

static void print_hist(const struct ks_stats_out *o, const struct ks_stat_desc *d, const uint64_t *v)
{
	char lo[32];
	uint64_t total = 0;
	int shown = 0;

	for (unsigned int i = 0; i < d->size; i++)
		total += v[i];
	fprintf(o->f, "%-32s %12llu samples:", d->name, (unsigned long long)total);
	for (unsigned int i = 0; i < d->size && shown < 8; i++) {
		if (!v[i])
			continue;
		human(lo, sizeof(lo), d, bucket_low(d, i));
		fprintf(o->f, " [>=%s]%llu", lo, (unsigned long long)v[i]);
		shown++;
	}
	fprintf(o->f, "%s\n", shown == 8 ? " ..." : "");
}

/* Index of statistic k of schema s in source src: the same position when
 * the schemas agree (vCPUs share one), else looked up by name; -1 if none. */
static int same_stat(const struct ks_stats_src *src, const struct ks_stats_schema *s, unsigned int k)
{
	const struct ks_stats_schema *o = &src->schema;

	if (o == s || (k < o->ndesc && !strcmp(o->desc[k].name, s->desc[k].name)))
		return (int)k;
	return ks_stats_find(o, s->desc[k].name);
}

static void print_src(const struct ks_stats_out *o, const struct ks_stats_src *const *srcs, int nsrc,
		      double dt)
{
	const struct ks_stats_schema *s = &srcs[0]->schema;
	uint64_t small[64], *sum = small;
	size_t room = sizeof(small) / sizeof(small[0]);

	for (unsigned int k = 0; k < s->ndesc; k++) {
		const struct ks_stat_desc *d = &s->desc[k];
		char val[48], rate[48] = "";
		uint64_t prev = 0;

		if (!ks_stats_wanted(o, d->name))
			continue;
		if (d->size > room) {
			uint64_t *big = realloc(sum == small ? NULL : sum, d->size * sizeof(*sum));

			if (!big)
				break;
			sum = big;
			room = d->size;
		}
		memset(sum, 0, d->size * sizeof(*sum));
		for (int n = 0; n < nsrc; n++) {
			int idx = same_stat(srcs[n], s, k);
			const struct ks_stat_desc *dn;

			if (idx < 0)
				continue;
			dn = &srcs[n]->schema.desc[idx];
			for (unsigned int b = 0; b < d->size && b < dn->size; b++)
				sum[b] += srcs[n]->cur[dn->index + b];
			prev += srcs[n]->prev[dn->index];
		}
		if (d->type == KS_STAT_LINEAR_HIST || d->type == KS_STAT_LOG_HIST) {
			print_hist(o, d, sum);
			continue;
		}
		human_raw(val, sizeof(val), d, sum[0]);
		if (d->type == KS_STAT_CUMULATIVE && dt > 0) {
			if (sum[0] == prev)
				human_raw(rate, sizeof(rate), d, 0);
			else
				human(rate, sizeof(rate), d, ks_stats_scaled(d, sum[0] - prev) / dt);
			strncat(rate, "/s", sizeof(rate) - strlen(rate) - 1);
		}
		row(o->f, d->name, val, rate, ks_stat_type_name(d->type));
	}
	if (sum != small)
		free(sum);
}

void ks_stats_text_vm(const struct ks_stats_out *o, const struct ks_vmstats *st)
{
	const struct ks_stats_src *one[1] = { &st->vm };
	const struct ks_stats_src **all;
	double dt = st->vm.prev_ns && st->vm.cur_ns > st->vm.prev_ns ?
		    (st->vm.cur_ns - st->vm.prev_ns) / 1e9 : 0;

	char comm[64], id[160];

	fprintf(o->f, "\nVM pid %d (%s)  %s  vCPUs %d\n", (int)st->pid,
	       ks_text_escape(st->comm, comm, sizeof(comm)),
	       ks_text_escape(st->vm.schema.id, id, sizeof(id)), st->vcpus_seen);
	fprintf(o->f, "%-32s %16s %16s  %s\n", "statistic", "value", "rate", "type");
	print_src(o, one, 1, dt);
	if (!st->nvcpu)
		return;
	if (o->per_vcpu) {
		for (int i = 0; i < st->nvcpu; i++) {
			one[0] = &st->vcpu[i];
			if (st->vcpu[i].vcpus_summed)
				fprintf(o->f, "-- all %d vCPUs (debugfs has no per-vCPU values)\n",
				       st->vcpu[i].vcpus_summed);
			else
				fprintf(o->f, "-- vCPU %d\n", st->vcpu[i].vcpu_id);
			print_src(o, one, 1, dt);
		}
		return;
	}
	all = malloc(st->nvcpu * sizeof(*all));
	if (!all)
		return;
	for (int i = 0; i < st->nvcpu; i++)
		all[i] = &st->vcpu[i];
	fprintf(o->f, "-- all %d vCPUs\n", ks_vmstats_vcpus(st));
	print_src(o, all, st->nvcpu, dt);
	free(all);
}

/* --- JSON output ----------------------------------------------------------- */

/* A value in its base unit, exactly: raw × 10^exponent as a decimal
 * (integers stay integers), × 2^exponent as an integer where it is one. */
static void json_value(struct ks_json *j, const struct ks_stats_src *s, unsigned int k, uint64_t raw)
{
	const struct ks_stat_desc *d = &s->schema.desc[k];
	const char *key = d->name;

	if (!d->base2 && s->names)
		ks_json_dec_n(j, &s->names[k], raw, d->exponent);
	else if (!d->base2)
		ks_json_dec(j, key, raw, d->exponent);
	else if (d->exponent >= 0 && d->exponent < 64 && raw <= UINT64_MAX >> d->exponent)
		ks_json_u64(j, key, raw << d->exponent);
	else
		ks_json_double(j, key, ks_stats_scaled(d, raw));
}

static bool is_hist(const struct ks_stat_desc *d)
{
	return d->type == KS_STAT_LINEAR_HIST || d->type == KS_STAT_LOG_HIST;
}

void ks_stats_json_src(const struct ks_stats_out *o, const struct ks_vmstats *st,
		       const struct ks_stats_src *s, uint64_t ts)
{
	bool have_prev = s->prev_ns && s->cur_ns > s->prev_ns;
	struct ks_json j;

	ks_json_begin(&j, o->f, "stats", ts);
	ks_json_i64(&j, "pid", st->pid);
	ks_json_str(&j, "comm", st->comm);
	ks_json_str(&j, "id", s->schema.id);
	if (s->vcpu_id >= 0)
		ks_json_i64(&j, "vcpu", s->vcpu_id);
	if (s->vcpus_summed)
		ks_json_i64(&j, "vcpus_summed", s->vcpus_summed);
	if (s->dbg_dir >= 0)
		ks_json_str(&j, "source", "debugfs");
	ks_json_u64(&j, "interval_ns", have_prev ? s->cur_ns - s->prev_ns : 0);
	ks_json_obj(&j, "values");   /* in the base unit */
	for (unsigned int k = 0; k < s->schema.ndesc; k++) {
		const struct ks_stat_desc *d = &s->schema.desc[k];

		if (!ks_stats_wanted(o, d->name))
			continue;
		if (is_hist(d)) {
			if (s->names)
				ks_json_arr_n(&j, &s->names[k]);
			else
				ks_json_arr(&j, d->name);
			for (unsigned int b = 0; b < d->size; b++)
				ks_json_arr_u64(&j, s->cur[d->index + b]);
			ks_json_close(&j);
		} else {
			json_value(&j, s, k, s->cur[d->index]);
		}
	}
	ks_json_close(&j);
	if (o->raw) {
		ks_json_obj(&j, "raw");
		for (unsigned int k = 0; k < s->schema.ndesc; k++) {
			const struct ks_stat_desc *d = &s->schema.desc[k];

			if (!ks_stats_wanted(o, d->name) || is_hist(d))
				continue;
			if (s->names)
				ks_json_u64_n(&j, &s->names[k], s->cur[d->index]);
			else
				ks_json_u64(&j, d->name, s->cur[d->index]);
		}
		ks_json_close(&j);
	}
	/* Cumulative statistics that moved since the previous sample: at
	 * short intervals most do not, and a rate is delta / interval_ns. */
	ks_json_obj(&j, "deltas");
	for (unsigned int k = 0; have_prev && k < s->schema.ndesc; k++) {
		const struct ks_stat_desc *d = &s->schema.desc[k];
		uint64_t delta = s->cur[d->index] - s->prev[d->index];

		if (delta && d->type == KS_STAT_CUMULATIVE && ks_stats_wanted(o, d->name))
			json_value(&j, s, k, delta);
	}
	ks_json_close(&j);
	ks_json_end_batch(&j);
}

void ks_stats_json_schema(const struct ks_stats_out *o, const struct ks_vmstats *st,
			  const struct ks_stats_src *s, uint64_t ts)
{
	struct ks_json j;

	ks_json_begin(&j, o->f, "stats_schema", ts);
	ks_json_i64(&j, "pid", st->pid);
	ks_json_str(&j, "id", s->schema.id);
	ks_json_obj(&j, "stats");
	for (unsigned int k = 0; k < s->schema.ndesc; k++) {
		const struct ks_stat_desc *d = &s->schema.desc[k];

		if (!ks_stats_wanted(o, d->name))
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
	ks_json_end_batch(&j);
}
