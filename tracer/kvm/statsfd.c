// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include "kvm/statsfd.h"
#include "lib/json.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* a + b <= limit, without overflow. */
static bool fits(uint64_t a, uint64_t b, uint64_t limit)
{
	return a <= limit && b <= limit - a;
}

void ks_stats_schema_free(struct ks_stats_schema *s)
{
	free(s->desc);
	free(s->value_offset);
	memset(s, 0, sizeof(*s));
}

int ks_stats_parse(const void *buf, size_t len, struct ks_stats_schema *s,
		   char *err, size_t errlen)
{
	const unsigned char *b = buf;
	struct kvm_stats_header h;
	size_t desc_stride;
	unsigned int nvalues = 0;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(h))
		return fail(err, errlen, "stats header truncated (%zu of %zu bytes)", len, sizeof(h));
	memcpy(&h, b, sizeof(h));
	if (h.name_size == 0 || h.name_size > KS_STATS_MAX_NAME)
		return fail(err, errlen, "stats name_size %u out of range [1, %d]",
			    h.name_size, KS_STATS_MAX_NAME);
	if (h.num_desc == 0 || h.num_desc > KS_STATS_MAX_DESC)
		return fail(err, errlen, "stats num_desc %u out of range [1, %d]",
			    h.num_desc, KS_STATS_MAX_DESC);
	if (!fits(h.id_offset, h.name_size, len))
		return fail(err, errlen, "stats id at %u+%u beyond %zu bytes", h.id_offset,
			    h.name_size, len);
	desc_stride = sizeof(struct kvm_stats_desc) + h.name_size;
	if (!fits(h.desc_offset, (uint64_t)desc_stride * h.num_desc, len))
		return fail(err, errlen, "stats descriptors (%u × %zu bytes at %u) beyond %zu bytes",
			    h.num_desc, desc_stride, h.desc_offset, len);
	if (!memchr(b + h.id_offset, '\0', h.name_size))
		return fail(err, errlen, "stats id not NUL-terminated");
	snprintf(s->id, sizeof(s->id), "%s", (const char *)b + h.id_offset);

	s->desc = calloc(h.num_desc, sizeof(*s->desc));
	if (!s->desc)
		return fail(err, errlen, "out of memory");
	s->ndesc = h.num_desc;
	s->data_offset = h.data_offset;

	for (unsigned int i = 0; i < h.num_desc; i++) {
		const unsigned char *p = b + h.desc_offset + (size_t)i * desc_stride;
		struct ks_stat_desc *d = &s->desc[i];
		struct kvm_stats_desc kd;
		unsigned int type, unit, base;
		const char *name = (const char *)p + sizeof(kd);
		char qname[64];

		memcpy(&kd, p, sizeof(kd));
		if (!memchr(name, '\0', h.name_size)) {
			ks_stats_schema_free(s);
			return fail(err, errlen, "stats descriptor %u: name not NUL-terminated", i);
		}
		snprintf(d->name, sizeof(d->name), "%s", name);
		/* For error lines only: the kernel's names are plain, a corrupt
		 * blob's need not be. */
		ks_text_escape(name, qname, sizeof(qname));
		type = (kd.flags & KVM_STATS_TYPE_MASK) >> KVM_STATS_TYPE_SHIFT;
		unit = (kd.flags & KVM_STATS_UNIT_MASK) >> KVM_STATS_UNIT_SHIFT;
		base = (kd.flags & KVM_STATS_BASE_MASK) >> KVM_STATS_BASE_SHIFT;
		/* Unknown encodings would be scaled wrongly: refuse them. */
		if (type > KS_STAT_LOG_HIST || unit > KS_UNIT_BOOLEAN || base > 1) {
			ks_stats_schema_free(s);
			return fail(err, errlen, "stats '%s': unknown type %u, unit %u or base %u",
				    qname, type, unit, base);
		}
		if (kd.size == 0) {
			ks_stats_schema_free(s);
			return fail(err, errlen, "stats '%s': size 0", qname);
		}
		if (type == KS_STAT_LINEAR_HIST && kd.bucket_size == 0) {
			ks_stats_schema_free(s);
			return fail(err, errlen, "stats '%s': linear histogram with bucket_size 0", qname);
		}
		if (!fits(kd.offset, (uint64_t)kd.size * 8, KS_STATS_MAX_DATA) ||
		    nvalues + kd.size > KS_STATS_MAX_VALUES) {
			ks_stats_schema_free(s);
			return fail(err, errlen, "stats '%s': offset %u size %u out of range",
				    qname, kd.offset, kd.size);
		}
		d->type = type;
		d->unit = unit;
		d->base2 = base == 1;
		d->exponent = kd.exponent;
		d->size = kd.size;
		d->bucket_size = kd.bucket_size;
		d->index = nvalues;
		nvalues += kd.size;
		if (kd.offset + kd.size * 8U > s->data_size)
			s->data_size = kd.offset + kd.size * 8U;
	}
	s->nvalues = nvalues;
	s->value_offset = calloc(nvalues, sizeof(*s->value_offset));
	if (!s->value_offset) {
		ks_stats_schema_free(s);
		return fail(err, errlen, "out of memory");
	}
	for (unsigned int i = 0; i < s->ndesc; i++) {
		const unsigned char *p = b + h.desc_offset + (size_t)i * desc_stride;
		struct kvm_stats_desc kd;

		memcpy(&kd, p, sizeof(kd));
		for (unsigned int k = 0; k < kd.size; k++)
			s->value_offset[s->desc[i].index + k] = kd.offset + k * 8;
	}
	return 0;
}

int ks_stats_read_schema(int fd, struct ks_stats_schema *s, char *err, size_t errlen)
{
	struct kvm_stats_header h;
	size_t len;
	ssize_t n;
	void *buf;
	int rc;

	n = pread(fd, &h, sizeof(h), 0);
	if (n < 0)
		return fail(err, errlen, "reading stats header: %s", strerror(errno));
	if (n != (ssize_t)sizeof(h))
		return fail(err, errlen, "stats header truncated (%zd bytes)", n);
	if (h.num_desc > KS_STATS_MAX_DESC || h.name_size > KS_STATS_MAX_NAME)
		return fail(err, errlen, "stats header: num_desc %u or name_size %u too large",
			    h.num_desc, h.name_size);
	/* Everything before the data block, or up to the end of the
	 * descriptors if the data block comes first. */
	len = h.data_offset;
	if ((uint64_t)h.desc_offset + (uint64_t)h.num_desc *
	    (sizeof(struct kvm_stats_desc) + h.name_size) > len)
		len = h.desc_offset + (size_t)h.num_desc * (sizeof(struct kvm_stats_desc) + h.name_size);
	if (h.id_offset + (size_t)h.name_size > len)
		len = h.id_offset + (size_t)h.name_size;
	if (len > (16u << 20))
		return fail(err, errlen, "stats schema of %zu bytes is implausible", len);
	buf = malloc(len ? len : 1);
	if (!buf)
		return fail(err, errlen, "out of memory");
	n = pread(fd, buf, len, 0);
	if (n < 0) {
		free(buf);
		return fail(err, errlen, "reading stats descriptors: %s", strerror(errno));
	}
	rc = ks_stats_parse(buf, (size_t)n, s, err, errlen);
	free(buf);
	return rc;
}

int ks_stats_sample(int fd, const struct ks_stats_schema *s, void *scratch,
		    uint64_t *values, char *err, size_t errlen)
{
	const unsigned char *d = scratch;
	ssize_t n = pread(fd, scratch, s->data_size, s->data_offset);

	if (n < 0) {
		int e = errno;

		fail(err, errlen, "reading stats data: %s", strerror(e));
		errno = e;
		return -1;
	}
	if ((size_t)n < s->data_size) {
		errno = EIO;
		return fail(err, errlen, "stats data short read (%zd of %u bytes)", n, s->data_size);
	}
	for (unsigned int i = 0; i < s->nvalues; i++)
		memcpy(&values[i], d + s->value_offset[i], sizeof(uint64_t));
	return 0;
}

int ks_stats_find(const struct ks_stats_schema *s, const char *name)
{
	for (unsigned int i = 0; i < s->ndesc; i++)
		if (!strcmp(s->desc[i].name, name))
			return (int)i;
	return -1;
}

double ks_stats_scaled(const struct ks_stat_desc *d, uint64_t raw)
{
	return (double)raw * pow(d->base2 ? 2.0 : 10.0, d->exponent);
}

const char *ks_stat_type_name(enum ks_stat_type t)
{
	static const char *const names[] = { "cumulative", "instant", "peak",
					     "linear_hist", "log_hist" };

	return (unsigned int)t < 5 ? names[t] : "unknown";
}

const char *ks_stat_unit_name(enum ks_stat_unit u)
{
	static const char *const names[] = { "none", "bytes", "seconds", "cycles", "boolean" };

	return (unsigned int)u < 5 ? names[u] : "unknown";
}
