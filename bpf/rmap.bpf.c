// SPDX-License-Identifier: GPL-2.0
/*
 * The memslots of every VM that already exists, with whether each has rmaps:
 * a task_file iterator finds the VM files ("kvm-vm" anon inodes) of every
 * process and walks each VM's memslots. No KVM interface tells this from
 * userspace; it is how `kvmscope rmap` knows the state of VMs it did not
 * see being created.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kvmscope.h"
#include "kvm_lookup.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Both address spaces on x86 (the second is SMM). */
#define NR_AS 2
#define ID_HASH_BUCKETS KS_ID_HASH_BUCKETS
/* Steps of the walk per address space: one per bucket plus one per slot
 * (KVM allows 32764 user memslots). */
#define MAX_STEPS (ID_HASH_BUCKETS + 32768)

const volatile unsigned int filter_tgid = 0;
/* Address spaces whose walk did not finish: reported, not hidden. */
__u64 slots_lost = 0;

/* The walk's state lives in a map, not on the stack: the verifier then
 * sees its fields as plain unknown values and checks the loop body once,
 * instead of following every pointer value the stack would carry. */
struct walk {
	struct ks_slot_rec rec;
	__u64 slots;                 /* struct kvm_memslots * */
	__u64 node;                  /* next slot's hlist_node, 0: next bucket */
	__u32 bucket;                /* next bucket to open */
	__u32 node_idx;
	__u64 id_node_off;           /* offset of id_node[0] in kvm_memory_slot */
	__u32 emitted;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk);
} walk_state SEC(".maps");

struct walk_ctx {
	struct seq_file *seq;
};

/* One step of the walk: open the next hash bucket, or emit one slot. */
static long walk_step(__u32 i, void *arg)
{
	struct walk_ctx *c = arg;
	__u32 zero = 0;
	struct walk *w = bpf_map_lookup_elem(&walk_state, &zero);
	struct kvm_memslots *slots;
	struct kvm_memory_slot *s;
	struct hlist_node *n;
	__u32 b;

	if (!w)
		return 1;
	slots = (void *)w->slots;
	n = (void *)w->node;
	b = w->bucket;
	if (!n) {
		if (b >= ID_HASH_BUCKETS)
			return 1;
		b &= ID_HASH_BUCKETS - 1;
		w->node = (__u64)BPF_CORE_READ(slots, id_hash[b].first);
		w->bucket++;
		return 0;
	}
	s = ks_slot_of_id_node(w->node, w->id_node_off, w->node_idx);
	w->rec.slot = BPF_CORE_READ(s, id);
	w->rec.base_gfn = BPF_CORE_READ(s, base_gfn);
	w->rec.npages = BPF_CORE_READ(s, npages);
	w->rec.flags = BPF_CORE_READ(s, flags);
	w->rec.rmap_allocated = BPF_CORE_READ(s, arch.rmap[0]) != NULL;
	bpf_seq_write(c->seq, &w->rec, sizeof(w->rec));
	w->emitted++;
	w->node = (__u64)BPF_CORE_READ(n, next);
	return 0;
}

SEC("iter/task_file")
int kvm_vm_slots(struct bpf_iter__task_file *ctx)
{
	struct walk_ctx c = { .seq = ctx->meta->seq };
	struct file *file = ctx->file;
	struct task_struct *task = ctx->task;
	__u32 zero = 0;
	struct walk *w;
	struct kvm *kvm;

	if (!file || !task)
		return 0;
	/* Threads share the fd table: report each VM once, from the leader. */
	if (task->pid != task->tgid)
		return 0;
	if (filter_tgid && task->tgid != filter_tgid)
		return 0;
	if (!ks_is_vm_file(file))
		return 0;
	kvm = BPF_CORE_READ(file, private_data);
	w = bpf_map_lookup_elem(&walk_state, &zero);
	if (!kvm || !w)
		return 0;

	__builtin_memset(w, 0, sizeof(*w));
	w->rec.tgid = task->tgid;
	w->rec.fd = ctx->fd;
	w->rec.kvm = (__u64)kvm;
	w->rec.shadow_root_allocated = BPF_CORE_READ(kvm, arch.shadow_root_allocated);
	w->id_node_off = bpf_core_field_offset(struct kvm_memory_slot, id_node);
	for (int as = 0; as < NR_AS; as++) {
		struct kvm_memslots *slots = ks_vm_memslots(kvm, as);

		if (!slots)
			continue;
		w->slots = (__u64)slots;
		w->node = 0;
		w->bucket = 0;
		w->node_idx = BPF_CORE_READ(slots, node_idx) & 1;
		w->rec.as_id = as;
		bpf_loop(MAX_STEPS, walk_step, &c, 0);
		if (w->node || w->bucket < ID_HASH_BUCKETS)
			__sync_fetch_and_add(&slots_lost, 1);
	}
	if (!w->emitted) {
		w->rec.slot = -1;
		bpf_seq_write(c.seq, &w->rec, sizeof(w->rec));
	}
	return 0;
}
