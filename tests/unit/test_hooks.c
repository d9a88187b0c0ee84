/* The hook table and the choice it drives, against synthetic probes. */
#include "unit.h"
#include <errno.h>
#include "hooks/hooks.h"
#include "kvmscope.h"

/* Every program named in the table must exist in the BPF object, and every
 * program of the object must be named by exactly one metric (possibly in
 * several of its ways): otherwise the loader would silently leave a
 * program out, or two metrics would fight over one. */
#include "migrate.skel.h"
#include <bpf/btf.h>

/* A kernel's BTF reduced to what the faults metric looks for: struct
 * kvm_vcpu_stat (with pf_fast and pf_taken if stats), struct kvm with
 * vcpu_array, the kvm_page_fault tracepoint, and kvm_mmu_page_fault if
 * fentry. */
static struct btf *fault_btf(bool stats, bool fentry)
{
	struct btf *b = btf__new_empty();
	int u64, fp;

	if (!b)
		return NULL;
	u64 = btf__add_int(b, "u64", 8, 0);
	btf__add_struct(b, "kvm_vcpu_stat", 16);
	btf__add_field(b, stats ? "pf_fast" : "pf_fixed", u64, 0, 0);
	btf__add_field(b, "pf_taken", u64, 64, 0);
	btf__add_struct(b, "kvm", 8);
	btf__add_field(b, "vcpu_array", u64, 0, 0);
	fp = btf__add_func_proto(b, 0);
	btf__add_typedef(b, "btf_trace_kvm_page_fault", fp);
	if (fentry)
		btf__add_func(b, "kvm_mmu_page_fault", BTF_FUNC_GLOBAL, fp);
	return b;
}

/* The way chosen for faults: its target. */
static const char *faults_way(bool stats, bool fentry, unsigned int opts)
{
	static char got[64];
	struct ks_choice c[KS_NR_METRICS];
	struct ks_probe p;
	int i = ks_hook_index("faults");

	memset(&p, 0, sizeof(p));
	p.vmlinux_btf = fault_btf(stats, fentry);
	ks_hooks_choose(&p, c, opts);
	snprintf(got, sizeof(got), "%s", i < 0 || c[i].way < 0 ? "none" : ks_hooks[i].ways[c[i].way].target);
	btf__free(p.vmlinux_btf);
	return got;
}

/* One metric names prog; or several, all at the ioctl system call's
 * tracepoints: the one pair of programs there, which rodata tells what to
 * do for each metric that comes in (tracer/hooks/loader.c). */
static bool table_names(const char *prog)
{
	int hooks = 0;
	bool all_sys = true;

	for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
		bool here = false;

		for (int w = 0; w < KS_MAX_WAYS; w++)
			for (int k = 0; k < KS_MAX_PROGS; k++)
				if (ks_hooks[i].ways[w].progs[k] &&
				    !strcmp(ks_hooks[i].ways[w].progs[k], prog)) {
					here = true;
					all_sys &= !strcmp(ks_hooks[i].ways[w].target, "sys_enter");
				}
		hooks += here;
	}
	return hooks == 1 || (hooks > 1 && all_sys);
}

/* A kernel that refuses fentry (fentry_err) but has the raw_syscalls
 * tracepoints, KVM's stats and memslot id hash: the dirty-log metrics come
 * in at the system call. */
static void no_fentry_kernel(void)
{
	struct btf *b = btf__new_empty();
	struct ks_choice c[KS_NR_METRICS];
	struct ks_caps caps;
	struct ks_probe p;
	int u64, fp, missing;

	memset(&p, 0, sizeof(p));
	if (!b)
		return;
	u64 = btf__add_int(b, "u64", 8, 0);
	btf__add_struct(b, "kvm_vcpu_stat", 16);
	btf__add_field(b, "pf_fast", u64, 0, 0);
	btf__add_field(b, "pf_taken", u64, 64, 0);
	btf__add_struct(b, "kvm", 8);
	btf__add_field(b, "vcpu_array", u64, 0, 0);
	btf__add_struct(b, "kvm_memslots", 8);
	btf__add_field(b, "id_hash", u64, 0, 0);
	fp = btf__add_func_proto(b, 0);
	btf__add_typedef(b, "btf_trace_sys_enter", fp);
	btf__add_typedef(b, "btf_trace_sys_exit", fp);
	btf__add_func(b, "kvm_get_dirty_log_protect", BTF_FUNC_GLOBAL, fp);
	p.vmlinux_btf = b;
	p.fentry_err = EPERM;
	/* The same kernel with KVM not loaded (a module, so no KVM BTF; the
	 * few KVM types vmlinux may carry are not enough to read KVM). */
	p.kvm_loaded = false;
	missing = ks_hooks_choose(&p, c, 0);
	CHECK("no fentry, KVM not loaded: the system call way is not chosen",
	      missing == 3 && !ks_hook_uses(c, KS_M_GET_DIRTY_LOG, KS_WAY_SYSCALL) &&
	      c[KS_M_GET_DIRTY_LOG].why_not[2] && !strcmp(c[KS_M_GET_DIRTY_LOG].why_not[2], "KVM not loaded"),
	      "chosen, or another reason");
	/* KVM built in, as on this project's build machine. */
	p.kvm_builtin = p.kvm_loaded = true;
	missing = ks_hooks_choose(&p, c, 0);
	ks_caps_of(c, &p.vendor, &caps);
	ASSERT_EQ("no fentry: no required metric missing", missing, 0);
	CHECK("no fentry: log_flags, get and clear decoded at the system call",
	      ks_hook_uses(c, KS_M_LOG_FLAGS, KS_WAY_SYSCALL) &&
	      ks_hook_uses(c, KS_M_GET_DIRTY_LOG, KS_WAY_SYSCALL) &&
	      ks_hook_uses(c, KS_M_CLEAR_DIRTY_LOG, KS_WAY_SYSCALL), "another way chosen");
	ASSERT_EQ("no fentry: the programs decode all three ioctls", caps.sys_decode,
		  KS_SYS_MEMSLOT | KS_SYS_GET | KS_SYS_CLEAR);
	CHECK("no fentry: ioctls timed at the system call tracepoints",
	      ks_hook_uses(c, KS_M_IOCTL_TIME, KS_WAY_TP), "another way chosen");
	CHECK("no fentry: write protection by min_level unavailable, said so",
	      !caps.have[KS_M_GFN_WRITE_PROTECT] && !caps.gfn_wp &&
	      c[KS_M_GFN_WRITE_PROTECT].why_not[1] != NULL, "reported as available");
	/* Without the id hash the memslot of an ioctl cannot be found. */
	btf__free(b);
	b = btf__new_empty();
	fp = btf__add_func_proto(b, 0);
	btf__add_typedef(b, "btf_trace_sys_enter", fp);
	btf__add_typedef(b, "btf_trace_sys_exit", fp);
	p.vmlinux_btf = b;
	ks_hooks_choose(&p, c, 0);
	CHECK("no fentry, no kvm_memslots.id_hash: no way for get_dirty_log",
	      c[KS_M_GET_DIRTY_LOG].way < 0 && c[KS_M_GET_DIRTY_LOG].why_not[2] != NULL,
	      "a way was chosen");
	btf__free(b);
}

int main(void)
{
	struct ks_choice c[KS_NR_METRICS];
	struct ks_probe none;
	struct migrate_bpf *skel = migrate_bpf__open();
	struct bpf_program *prog;
	int missing, required = 0;

	CHECK("skeleton opens without a kernel", skel != NULL, "migrate_bpf__open failed");
	if (skel) {
		bpf_object__for_each_program(prog, skel->obj) {
			char name[96];

			snprintf(name, sizeof(name), "program %s belongs to one metric", bpf_program__name(prog));
			CHECK(name, table_names(bpf_program__name(prog)), "named by none or several metrics");
		}
		for (unsigned int i = 0; i < KS_NR_METRICS; i++)
			for (int w = 0; w < KS_MAX_WAYS; w++)
				for (int k = 0; k < KS_MAX_PROGS; k++) {
					const char *pn = ks_hooks[i].ways[w].progs[k];
					char name[96];

					if (!pn)
						continue;
					snprintf(name, sizeof(name), "hook program %s exists", pn);
					CHECK(name, bpf_object__find_program_by_name(skel->obj, pn) != NULL,
					      "no such program in migrate.bpf.c");
				}
		migrate_bpf__destroy(skel);
	}

	/* A kernel without BTF has no way in for anything. */
	memset(&none, 0, sizeof(none));
	for (unsigned int i = 0; i < KS_NR_METRICS; i++)
		required += ks_hooks[i].required;
	missing = ks_hooks_choose(&none, c, 0);
	ASSERT_EQ("no BTF: every required hook missing", missing, required);
	CHECK("no BTF: reasons given", c[0].way == -1 && c[0].why_not[0] != NULL, "no reason");
	ASSERT_GE("at least one required hook", required, 1);
	{
		/* The line migrate prints: every required metric, each with its
		 * ordinary way and why not; no metric that is not required. */
		char buf[512];
		const char *s = ks_hooks_missing(c, buf, sizeof(buf));
		unsigned int named = 0;

		for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
			char want[64], name[96];

			snprintf(want, sizeof(want), "%s (", ks_hooks[i].metric);
			snprintf(name, sizeof(name), "missing hooks: %s (not required) not named",
				 ks_hooks[i].metric);
			if (ks_hooks[i].required)
				named += strstr(s, want) != NULL;
			else
				CHECK(name, !strstr(s, want), "named in '%s'", s);
		}
		ASSERT_EQ("missing hooks: every required metric named", named, required);
		ASSERT_CONTAINS("missing hooks: the way and why not", s,
				"get_dirty_log (kvm_get_dirty_log_protect), clear_dirty_log "
				"(kvm_clear_dirty_log_protect): function not in kernel BTF");
		ASSERT_CONTAINS("missing hooks: faults by KVM's stats, not the opt-in fault program", s,
				"faults (kvm_vcpu_stat): pf_fast");
		s = ks_hooks_missing(c, buf, 40);
		ASSERT_LE("missing hooks: cut to the buffer", strlen(s), 39);
	}
	{
		/* Designated initializers leave a metric without an entry
		 * silently zero: every enum value must have its row. */
		unsigned int holes = 0;

		for (unsigned int i = 0; i < KS_NR_METRICS; i++)
			holes += !ks_hooks[i].metric || !ks_hooks[i].ways[0].target;
		ASSERT_EQ("hook table has a row per metric", holes, 0);
		ASSERT_EQ("metric names index the table (faults)", ks_hook_index("faults"), KS_M_FAULTS);
		ASSERT_EQ("metric names index the table (vm_release)", ks_hook_index("vm_release"),
			  KS_M_VM_RELEASE);
	}

	/* Where faults come from, by options and by what the kernel has. */
	{
		static const struct {
			const char *name;
			bool stats, fentry;
			unsigned int opts;
			const char *want;
		} cases[] = {
			{ "faults: KVM's stats by default", true, true, 0, "kvm_vcpu_stat" },
			{ "faults: --fault-program takes the tracepoint", true, true,
			  KS_OPT_FAULT_PROGRAM, "kvm_page_fault" },
			{ "faults: --fault-latency takes fentry/fexit", true, true,
			  KS_OPT_FAULT_LATENCY | KS_OPT_FAULT_PROGRAM, "kvm_mmu_page_fault" },
			{ "faults: --fault-latency without fentry falls back to the fault program",
			  true, false, KS_OPT_FAULT_LATENCY | KS_OPT_FAULT_PROGRAM, "kvm_page_fault" },
			{ "faults: no pf_fast in BTF falls back to the fault program", false, true, 0,
			  "kvm_page_fault" },
		};

		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			const char *got = faults_way(cases[k].stats, cases[k].fentry, cases[k].opts);

			ASSERT_STREQ(cases[k].name, got, cases[k].want);
		}
	}

	/* PML-full exits: the tracepoint alone is not enough, the host must
	 * log dirty pages with PML (kvm_pml_full is in kvm.ko on AMD too). */
	{
		static const enum ks_dirty_mech mechs[] = { KS_DIRTY_PML, KS_DIRTY_WP_TDP,
							    KS_DIRTY_WP_SHADOW, KS_DIRTY_UNKNOWN };
		struct btf *b = btf__new_empty();
		struct ks_probe p;
		char name[96];

		memset(&p, 0, sizeof(p));
		p.vmlinux_btf = b;
		if (b)
			btf__add_typedef(b, "btf_trace_kvm_pml_full", btf__add_func_proto(b, 0));
		for (size_t k = 0; k < sizeof(mechs) / sizeof(mechs[0]); k++) {
			p.vendor.dirty = mechs[k];
			ks_hooks_choose(&p, c, 0);
			snprintf(name, sizeof(name), "pml_full: %s with the tracepoint and a %s host",
				 mechs[k] == KS_DIRTY_PML ? "chosen" : "left out",
				 ks_dirty_mech_name(mechs[k]));
			CHECK(name, (c[KS_M_PML_FULL].way == 0) == (mechs[k] == KS_DIRTY_PML) &&
			      (mechs[k] == KS_DIRTY_PML || c[KS_M_PML_FULL].why_not[0]),
			      "way %d, why not: %s", c[KS_M_PML_FULL].way,
			      c[KS_M_PML_FULL].why_not[0] ? c[KS_M_PML_FULL].why_not[0] : "-");
		}
		btf__free(b);
		p.vmlinux_btf = NULL;
		p.vendor.dirty = KS_DIRTY_PML;
		ks_hooks_choose(&p, c, 0);
		CHECK("pml_full: left out on a PML host whose kernel lacks the tracepoint",
		      c[KS_M_PML_FULL].way == -1, "way %d", c[KS_M_PML_FULL].way);
	}
	no_fentry_kernel();
	UNIT_EXIT();
}
