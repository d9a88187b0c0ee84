/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Writer of the Prometheus text exposition format 0.0.4 and of OpenMetrics
 * 1.0.0 text, from one set of samples. Both formats want every sample of a
 * family in one group, while kvmscope meets them VM by VM: samples are
 * appended to their family as they come, and ks_prom_render() writes the
 * families in order of first appearance, with the headers of either format.
 * The sample lines are the same in both formats (counter samples end in
 * _total in both); only headers, the OpenMetrics _count/_sum rule of
 * histograms and "# EOF" differ.
 */
#ifndef KS_PROMTEXT_H
#define KS_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer; once an allocation fails it stays failed (oom)
 * and the render reports it, so no caller has to check every append. */
struct ks_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void ks_buf_put(struct ks_buf *b, const char *s, size_t n);
void ks_buf_puts(struct ks_buf *b, const char *s);
void ks_buf_printf(struct ks_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ks_buf_free(struct ks_buf *b);

enum ks_prom_format { KS_PROM_TEXT, KS_PROM_OPENMETRICS };
enum ks_prom_type { KS_PROM_COUNTER, KS_PROM_GAUGE, KS_PROM_HISTOGRAM };

#define KS_PROM_CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define KS_PROM_CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

struct ks_prom_label {
	const char *name;        /* a valid label name (ours, not checked) */
	const char *value;       /* any bytes: escaped, invalid UTF-8 replaced */
};

struct ks_prom_family;

struct ks_prom {
	struct ks_prom_family **fam;
	unsigned int nfam, capfam;
	bool oom;
};

/*
 * The family `name` (made a valid metric name: other bytes become '_'),
 * created on first use. For a counter, name is the family name without
 * "_total"; unit (e.g. "seconds", or NULL) must already be name's suffix.
 * A later call with the same name returns the same family (type, unit and
 * help of the first call). NULL if out of memory.
 */
struct ks_prom_family *ks_prom_family(struct ks_prom *w, const char *name, enum ks_prom_type type,
				      const char *unit, const char *help);
/* The family of that exact (already valid) name, or NULL. */
struct ks_prom_family *ks_prom_lookup(const struct ks_prom *w, const char *name);
/* A counter or gauge sample; integers are written exactly. */
void ks_prom_u64(struct ks_prom_family *f, const struct ks_prom_label *l, unsigned int nl,
		 uint64_t v);
void ks_prom_f64(struct ks_prom_family *f, const struct ks_prom_label *l, unsigned int nl,
		 double v);
/*
 * A histogram: n buckets, counts[i] observations in bucket i (not
 * cumulative), upper[i] its inclusive upper bound, increasing; the last may
 * be +Inf, else a +Inf bucket holding the total is added. With have_sum,
 * _sum and _count are written; without, OpenMetrics gets neither (it allows
 * _count only together with _sum) and the text format gets _count.
 */
void ks_prom_histogram(struct ks_prom_family *f, const struct ks_prom_label *l, unsigned int nl,
		       const double *upper, const uint64_t *counts, unsigned int n,
		       bool have_sum, double sum);

/* Writes every family to out; 0, or -1 if memory ran out anywhere. */
int ks_prom_render(const struct ks_prom *w, enum ks_prom_format fmt, struct ks_buf *out);
void ks_prom_free(struct ks_prom *w);

/* Pieces, exposed for the unit tests. */
void ks_prom_escape_label(struct ks_buf *b, const char *v);
void ks_prom_escape_help(struct ks_buf *b, const char *v, enum ks_prom_format fmt);
/* The shortest %g form that reads back as the same double, ".0" appended
 * to integral values (OpenMetrics' canonical numbers, for "le"); "+Inf",
 * "-Inf", "NaN". */
void ks_prom_float(char *out, size_t len, double v);
/* Copies name into out as a valid metric name. */
void ks_prom_metric_name(char *out, size_t len, const char *name);

#endif
