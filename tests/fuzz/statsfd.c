/*
 * Fuzz target: KVM's binary stats format (header, id, descriptors, data) as
 * a hostile or corrupt kernel would hand it over, through both the parser
 * and the fd path (a memfd stands in for the stats fd).
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz.h"
#include "kvm/statsfd.h"

/* What every accepted schema must satisfy for sampling to stay in bounds. */
static void check_schema(const struct ks_stats_schema *s)
{
	unsigned int next = 0;

	FUZZ_ASSERT(s->ndesc >= 1 && s->ndesc <= KS_STATS_MAX_DESC, "ndesc %u", s->ndesc);
	FUZZ_ASSERT(s->nvalues <= KS_STATS_MAX_VALUES, "nvalues %u", s->nvalues);
	FUZZ_ASSERT(s->data_size <= KS_STATS_MAX_DATA, "data block of %u bytes", s->data_size);
	FUZZ_ASSERT(memchr(s->id, '\0', sizeof(s->id)), "id not terminated");
	for (unsigned int i = 0; i < s->ndesc; i++) {
		const struct ks_stat_desc *d = &s->desc[i];
		int found;

		FUZZ_ASSERT(memchr(d->name, '\0', sizeof(d->name)), "name %u not terminated", i);
		FUZZ_ASSERT(d->size >= 1 && d->index == next, "desc %u index %u size %u", i,
			    d->index, d->size);
		FUZZ_ASSERT(d->type <= KS_STAT_LOG_HIST && d->unit <= KS_UNIT_BOOLEAN, "desc %u enc", i);
		FUZZ_ASSERT(d->type != KS_STAT_LINEAR_HIST || d->bucket_size, "linear hist bucket 0");
		next += d->size;
		found = ks_stats_find(s, d->name);
		FUZZ_ASSERT(found >= 0 && (unsigned int)found <= i &&
			    !strcmp(s->desc[found].name, d->name), "find '%s'", d->name);
		(void)ks_stats_scaled(d, UINT64_MAX);
		(void)ks_stat_type_name(d->type);
		(void)ks_stat_unit_name(d->unit);
	}
	FUZZ_ASSERT(next == s->nvalues, "sizes sum %u, nvalues %u", next, s->nvalues);
	for (unsigned int v = 0; v < s->nvalues; v++)
		FUZZ_ASSERT((uint64_t)s->value_offset[v] + 8 <= s->data_size,
			    "value %u at %u beyond data_size %u", v, s->value_offset[v], s->data_size);
}

static int stats_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("fuzz-stats", MFD_CLOEXEC);
	FUZZ_ASSERT(fd >= 0, "memfd_create failed");
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ks_stats_schema s;
	char err[256] = "";
	int fd = stats_fd();

	if (ks_stats_parse(data, size, &s, err, sizeof(err)) == 0) {
		check_schema(&s);
		ks_stats_schema_free(&s);
	} else {
		fuzz_one_line(err);
	}

	/* The same bytes behind an fd: schema read, then one sample. */
	FUZZ_ASSERT(ftruncate(fd, 0) == 0 && (size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size),
		    "memfd write failed");
	err[0] = '\0';
	if (ks_stats_read_schema(fd, &s, err, sizeof(err)) == 0) {
		void *scratch = malloc(s.data_size ? s.data_size : 1);
		uint64_t *values = calloc(s.nvalues ? s.nvalues : 1, sizeof(*values));

		check_schema(&s);
		FUZZ_ASSERT(scratch && values, "out of memory");
		err[0] = '\0';
		if (ks_stats_sample(fd, &s, scratch, values, err, sizeof(err)))
			fuzz_one_line(err);
		free(scratch);
		free(values);
		ks_stats_schema_free(&s);
	} else {
		fuzz_one_line(err);
	}
	return 0;
}
