/*
 * Fuzz target: what kvmscope reads from /proc about other processes, which
 * those processes control: fd link targets (/proc/PID/fd/N, classified to
 * find VMs and vCPUs) and process names (/proc/PID/comm). The first byte
 * picks which.
 */
#include <ctype.h>
#include "fuzz.h"
#include "kvm/vmfind.h"

static void fuzz_link(const char *link)
{
	static const char vcpu[] = "anon_inode:kvm-vcpu:";
	int id = -7;
	enum ks_kvm_fd_kind k = ks_kvm_fd_kind(link, &id);

	FUZZ_ASSERT(k == KS_FD_VCPU || id == -7, "vcpu id written for kind %d", k);
	switch (k) {
	case KS_FD_VM:
		FUZZ_ASSERT(!strcmp(link, "anon_inode:kvm-vm"), "'%s' taken for a VM", link);
		break;
	case KS_FD_VM_STATS:
		FUZZ_ASSERT(!strcmp(link, "anon_inode:kvm-vm-stats"), "'%s' taken for VM stats", link);
		break;
	case KS_FD_KVM:
		FUZZ_ASSERT(!strcmp(link, "/dev/kvm"), "'%s' taken for /dev/kvm", link);
		break;
	case KS_FD_VCPU_STATS:
		FUZZ_ASSERT(!strncmp(link, "anon_inode:kvm-vcpu-stats", 25), "'%s' taken for vCPU stats", link);
		break;
	case KS_FD_VCPU: {
		const char *p = link + sizeof(vcpu) - 1;

		FUZZ_ASSERT(!strncmp(link, vcpu, sizeof(vcpu) - 1) && *p &&
			    strspn(p, "0123456789") == strlen(p), "'%s' taken for a vCPU", link);
		FUZZ_ASSERT(id >= 0 && id <= 1 << 20 && strtol(p, NULL, 10) == id,
			    "'%s' gives vCPU id %d", link, id);
		break;
	}
	case KS_FD_OTHER:
		break;
	default:
		FUZZ_ASSERT(0, "kind %d", k);
	}
}

static void fuzz_comm(const uint8_t *data, size_t size, size_t outlen)
{
	char *buf = malloc(size ? size : 1), *out = malloc(outlen ? outlen : 1);
	const uint8_t *nul = memchr(data, '\0', size);
	size_t want = nul ? (size_t)(nul - data) : size;

	FUZZ_ASSERT(buf && out, "out of memory");
	memcpy(buf, data, size);
	memset(out, 'X', outlen ? outlen : 1);
	ks_comm_parse(buf, size, out, outlen);
	if (outlen) {
		/* Everything up to a NUL, less one trailing newline, truncated. */
		if (want && data[want - 1] == '\n')
			want--;
		if (want > outlen - 1)
			want = outlen - 1;
		FUZZ_ASSERT(strlen(out) == want && !memcmp(out, data, want), "comm of %zu bytes", size);
	}
	free(buf);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		/* Output sizes around the real ones (16-byte comm, 64-byte field). */
		fuzz_comm(data + 1, size - 1, data[0] >> 1);
		return 0;
	}
	s = fuzz_cstr(data + 1, size - 1);
	fuzz_link(s);
	free(s);
	return 0;
}
