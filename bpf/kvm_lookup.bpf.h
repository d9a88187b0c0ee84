/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's objects found from what a VMM hands the kernel: the VM behind a
 * file (its "kvm-vm" anon inode), the VM behind one of the calling
 * process's fds, and a memslot of a VM by its id. For the programs that see
 * KVM only through its ioctls' arguments (the system call tracepoints, on
 * kernels that refuse fentry) and for the task_file iterator of
 * bpf/rmap.bpf.c. BPF side only (needs vmlinux.h). Every read is a CO-RE
 * probe read: a file or memslot freed meanwhile reads as garbage or fails,
 * never faults, and the callers treat the result as a hint they check.
 */
#ifndef KVMSCOPE_KVM_LOOKUP_BPF_H
#define KVMSCOPE_KVM_LOOKUP_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* KVM's memslot id hash: DECLARE_HASHTABLE(id_hash, 7), looked up with
 * hash_min(id, 7) = hash_32(id, 7) (include/linux/hash.h). */
#define KS_ID_HASH_BITS 7
#define KS_ID_HASH_BUCKETS (1U << KS_ID_HASH_BITS)
#define KS_GOLDEN_RATIO_32 0x61C88647U
/* Slots chained in one bucket that a lookup follows (KVM allows 32764
 * user memslots: 256 per bucket when all are in use). */
#define KS_ID_CHAIN_MAX 512

/* VM files are anon inodes named "kvm-vm" (vCPUs are "kvm-vcpu:N"). */
static __always_inline bool ks_is_vm_file(struct file *file)
{
	char name[8] = {};

	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
	return name[0] == 'k' && name[1] == 'v' && name[2] == 'm' && name[3] == '-' &&
	       name[4] == 'v' && name[5] == 'm' && name[6] == '\0';
}

/* The struct kvm of the calling process's fd, if that fd is a VM file;
 * NULL otherwise. The fd table is read as the ioctl's own fdget() will
 * read it a moment later. */
static __always_inline struct kvm *ks_vm_of_fd(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), fds + fd) || !file || !ks_is_vm_file(file))
		return NULL;
	return BPF_CORE_READ(file, private_data);
}

/* container_of(node, struct kvm_memory_slot, id_node[node_idx]). */
static __always_inline struct kvm_memory_slot *ks_slot_of_id_node(__u64 node, __u64 id_node_off,
								  __u32 node_idx)
{
	return (void *)(node - id_node_off - (node_idx & 1) * sizeof(struct hlist_node));
}

struct ks_slot_find {
	__u64 node;         /* next hlist_node of the bucket; 0 = end */
	__u64 id_node_off;
	__u32 node_idx;
	__u32 id;
	__u64 found;        /* struct kvm_memory_slot * */
};

static long ks_slot_find_step(__u32 i, void *arg)
{
	struct ks_slot_find *f = arg;
	struct hlist_node *n = (void *)f->node;
	struct kvm_memory_slot *s;

	if (!n)
		return 1;
	s = ks_slot_of_id_node(f->node, f->id_node_off, f->node_idx);
	if (BPF_CORE_READ(s, id) == (int)f->id) {
		f->found = (__u64)s;
		return 1;
	}
	f->node = (__u64)BPF_CORE_READ(n, next);
	return 0;
}

/* kvm->memslots[as_id], or NULL past the kernel's address spaces (two on
 * x86 with SMM support, one without: the array's size is the kernel's). */
static __always_inline struct kvm_memslots *ks_vm_memslots(struct kvm *kvm, __u32 as_id)
{
	__u64 n = bpf_core_field_size(kvm->memslots) / sizeof(void *);
	struct kvm_memslots *slots = NULL;

	if (as_id >= n || as_id >= 4)
		return NULL;
	bpf_probe_read_kernel(&slots, sizeof(slots),
			      (void *)kvm + bpf_core_field_offset(kvm->memslots) + as_id * sizeof(void *));
	return slots;
}

/* The memslot `id` of address space as_id (0, or 1 for SMM on x86) of
 * kvm, as KVM's id_to_memslot() finds it; NULL if there is none. */
static __always_inline struct kvm_memory_slot *ks_memslot_find(struct kvm *kvm, __u32 as_id,
							       __u32 id)
{
	struct ks_slot_find f = { .id = id };
	struct kvm_memslots *slots;
	__u32 b = (id * KS_GOLDEN_RATIO_32) >> (32 - KS_ID_HASH_BITS);

	slots = ks_vm_memslots(kvm, as_id);
	if (!slots)
		return NULL;
	f.node_idx = BPF_CORE_READ(slots, node_idx) & 1;
	f.id_node_off = bpf_core_field_offset(struct kvm_memory_slot, id_node);
	b &= KS_ID_HASH_BUCKETS - 1;
	f.node = (__u64)BPF_CORE_READ(slots, id_hash[b].first);
	bpf_loop(KS_ID_CHAIN_MAX, ks_slot_find_step, &f, 0);
	return (void *)f.found;
}

#endif
