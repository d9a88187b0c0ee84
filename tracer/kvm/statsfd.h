/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's binary statistics (KVM_GET_STATS_FD on a VM or vCPU fd): a header,
 * an id string, descriptors and a data block. The schema (header, id,
 * descriptors) is read and validated once; each sample is one pread of the
 * data block. Shared by `migrate` and `stats`.
 */
#ifndef KS_STATSFD_H
#define KS_STATSFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ks_stat_type { KS_STAT_CUMULATIVE, KS_STAT_INSTANT, KS_STAT_PEAK,
		    KS_STAT_LINEAR_HIST, KS_STAT_LOG_HIST };
enum ks_stat_unit { KS_UNIT_NONE, KS_UNIT_BYTES, KS_UNIT_SECONDS,
		    KS_UNIT_CYCLES, KS_UNIT_BOOLEAN };

struct ks_stat_desc {
	char name[128];
	enum ks_stat_type type;
	enum ks_stat_unit unit;
	bool base2;              /* value × 2^exponent, else × 10^exponent */
	int exponent;
	unsigned int size;       /* number of u64 values (buckets for histograms) */
	unsigned int bucket_size;/* linear histograms */
	unsigned int index;      /* first value in ks_stats_schema's value array */
};

struct ks_stats_schema {
	char id[128];
	unsigned int ndesc;
	struct ks_stat_desc *desc;
	unsigned int nvalues;    /* sum of desc[].size */
	uint32_t data_offset;
	uint32_t data_size;      /* bytes covered by the descriptors */
	uint32_t *value_offset;  /* byte offset in the data block, per value */
};

/* Limits that keep a corrupt or hostile blob from costing memory or time. */
#define KS_STATS_MAX_DESC 4096
#define KS_STATS_MAX_NAME 128
#define KS_STATS_MAX_VALUES 65536
/* The data block is read whole at every sample (into a buffer of its
 * size): KVM's are a few KiB; offsets past this are corrupt. */
#define KS_STATS_MAX_DATA (16u << 20)

/*
 * Parses header + id + descriptors from buf (the first len bytes of a stats
 * fd). Returns 0, or -1 with a one-line reason in err. On success the
 * schema owns allocated memory: ks_stats_schema_free().
 */
int ks_stats_parse(const void *buf, size_t len, struct ks_stats_schema *s,
		   char *err, size_t errlen);
void ks_stats_schema_free(struct ks_stats_schema *s);

/* Reads and parses the schema of an open stats fd. */
int ks_stats_read_schema(int fd, struct ks_stats_schema *s, char *err, size_t errlen);
/*
 * One sample: a single pread of the data block into scratch (data_size
 * bytes, caller-owned so sampling allocates nothing), then values[i] for
 * every value. Returns 0 or -1 (err set; errno preserved).
 */
int ks_stats_sample(int fd, const struct ks_stats_schema *s, void *scratch,
		    uint64_t *values, char *err, size_t errlen);

/* Index of a stat by name, or -1. */
int ks_stats_find(const struct ks_stats_schema *s, const char *name);
/* The value scaled to its base unit (bytes, seconds, ...) as a double. */
double ks_stats_scaled(const struct ks_stat_desc *d, uint64_t raw);
const char *ks_stat_type_name(enum ks_stat_type t);
const char *ks_stat_unit_name(enum ks_stat_unit u);

#endif
