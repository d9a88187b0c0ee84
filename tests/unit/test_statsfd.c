/* The binary stats parser against synthetic blobs: a valid one, and each way
 * a blob can be corrupt. Every corrupt blob must be rejected with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <linux/kvm.h>
#include "unit.h"
#include "kvm/statsfd.h"

#define NAME_SIZE 48
#define NDESC 3

struct blob {
	unsigned char b[4096];
	size_t len;
	struct kvm_stats_header *h;
};

static struct kvm_stats_desc *desc(struct blob *bl, int i)
{
	return (struct kvm_stats_desc *)(bl->b + bl->h->desc_offset +
					 i * (sizeof(struct kvm_stats_desc) + NAME_SIZE));
}

/* Header, id "kvm-1234", three stats: a cumulative counter, an instant byte
 * count with exponent, a 4-bucket log histogram; then the data block. */
static void make_valid(struct blob *bl)
{
	uint64_t data[6] = { 42, 7, 1, 2, 3, 4 };
	struct kvm_stats_desc *d;

	memset(bl, 0, sizeof(*bl));
	bl->h = (struct kvm_stats_header *)bl->b;
	bl->h->name_size = NAME_SIZE;
	bl->h->num_desc = NDESC;
	bl->h->id_offset = sizeof(struct kvm_stats_header);
	bl->h->desc_offset = bl->h->id_offset + NAME_SIZE;
	bl->h->data_offset = bl->h->desc_offset + NDESC * (sizeof(struct kvm_stats_desc) + NAME_SIZE);
	strcpy((char *)bl->b + bl->h->id_offset, "kvm-1234");
	d = desc(bl, 0);
	d->flags = KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_NONE | KVM_STATS_BASE_POW10;
	d->size = 1; d->offset = 0; strcpy(d->name, "remote_tlb_flush");
	d = desc(bl, 1);
	d->flags = KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_BYTES | KVM_STATS_BASE_POW2;
	d->exponent = 10; d->size = 1; d->offset = 8; strcpy(d->name, "pages_4k");
	d = desc(bl, 2);
	d->flags = KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS | KVM_STATS_BASE_POW10;
	d->exponent = -9; d->size = 4; d->offset = 16; strcpy(d->name, "halt_wait_hist");
	memcpy(bl->b + bl->h->data_offset, data, sizeof(data));
	bl->len = bl->h->data_offset + sizeof(data);
}

static void reject(const char *name, struct blob *bl, const char *want)
{
	struct ks_stats_schema s;
	char err[200] = "";
	int rc = ks_stats_parse(bl->b, bl->len, &s, err, sizeof(err));

	CHECK(name, rc == -1 && strstr(err, want), "rc %d err '%s' (want '%s')", rc, err, want);
	if (rc == 0)
		ks_stats_schema_free(&s);
}

int main(void)
{
	struct ks_stats_schema s;
	struct blob bl;
	char err[200] = "";
	int rc;

	make_valid(&bl);
	rc = ks_stats_parse(bl.b, bl.len, &s, err, sizeof(err));
	CHECK("valid blob parses", rc == 0, "rc %d: %s", rc, err);
	if (rc == 0) {
		int i = ks_stats_find(&s, "halt_wait_hist");

		ASSERT_STREQ("id", s.id, "kvm-1234");
		CHECK("three descriptors, six values", s.ndesc == 3 && s.nvalues == 6,
		      "%u %u", s.ndesc, s.nvalues);
		CHECK("histogram found", i == 2 && s.desc[i].type == KS_STAT_LOG_HIST &&
		      s.desc[i].size == 4 && s.desc[i].index == 2, "i %d", i);
		CHECK("base 2 exponent scales", ks_stats_scaled(&s.desc[1], 7) == 7 * 1024.0,
		      "expected %f, got %f", 7 * 1024.0, ks_stats_scaled(&s.desc[1], 7));
		CHECK("base 10 negative exponent scales",
		      ks_stats_scaled(&s.desc[2], 3000000000ULL) > 2.999 &&
		      ks_stats_scaled(&s.desc[2], 3000000000ULL) < 3.001, "%f",
		      ks_stats_scaled(&s.desc[2], 3000000000ULL));
		CHECK("data block size", s.data_size == 48 && s.data_offset == bl.h->data_offset,
		      "%u at %u", s.data_size, s.data_offset);
		CHECK("value offsets", s.value_offset[0] == 0 && s.value_offset[5] == 40, "%u %u",
		      s.value_offset[0], s.value_offset[5]);
		ASSERT_EQ("missing name not found", ks_stats_find(&s, "nope"), -1);
		ks_stats_schema_free(&s);
	}

	make_valid(&bl); bl.len = 10;
	reject("truncated header", &bl, "header truncated");
	make_valid(&bl); bl.len = bl.h->desc_offset + 20;
	reject("truncated descriptors", &bl, "beyond");
	make_valid(&bl); bl.h->desc_offset = 0xfffffff0;
	reject("descriptor offset out of range", &bl, "beyond");
	make_valid(&bl); bl.h->id_offset = 0xffffffff;
	reject("id offset out of range", &bl, "beyond");
	make_valid(&bl); bl.h->num_desc = 0x7fffffff;
	reject("num_desc huge", &bl, "num_desc");
	make_valid(&bl); bl.h->num_desc = 0;
	reject("num_desc zero", &bl, "num_desc");
	make_valid(&bl); bl.h->name_size = 0;
	reject("name_size zero", &bl, "name_size");
	make_valid(&bl); bl.h->name_size = 100000;
	reject("name_size huge", &bl, "name_size");
	make_valid(&bl); memset(desc(&bl, 1)->name, 'A', NAME_SIZE);
	reject("name not NUL-terminated", &bl, "not NUL-terminated");
	make_valid(&bl); memset(bl.b + bl.h->id_offset, 'x', NAME_SIZE);
	reject("id not NUL-terminated", &bl, "id not NUL-terminated");
	make_valid(&bl); desc(&bl, 0)->flags = 0x9;
	reject("unknown type", &bl, "unknown type");
	make_valid(&bl); desc(&bl, 0)->flags = 0xf0;
	reject("unknown unit", &bl, "unknown");
	make_valid(&bl); desc(&bl, 0)->flags = 0x700;
	reject("unknown base", &bl, "unknown");
	make_valid(&bl); desc(&bl, 1)->size = 0;
	reject("size 0", &bl, "size 0");
	make_valid(&bl); desc(&bl, 2)->offset = 0xfffffff8;
	reject("stat offset out of range", &bl, "out of range");
	make_valid(&bl); desc(&bl, 2)->flags = KVM_STATS_TYPE_LINEAR_HIST; desc(&bl, 2)->bucket_size = 0;
	reject("linear histogram without bucket size", &bl, "bucket_size");

	/* Every prefix of a valid blob short of the descriptors' end must be
	 * rejected without reading past it (run under ASan to prove that). */
	{
		int bad = 0;
		size_t end;

		make_valid(&bl);
		end = bl.h->data_offset;
		for (size_t n = 0; n < end; n++) {
			unsigned char *copy = malloc(n ? n : 1);

			memcpy(copy, bl.b, n);
			if (ks_stats_parse(copy, n, &s, err, sizeof(err)) == 0) {
				bad++;
				ks_stats_schema_free(&s);
			}
			free(copy);
		}
		ASSERT_EQ("every truncation rejected", bad, 0);
	}
	UNIT_EXIT();
}
