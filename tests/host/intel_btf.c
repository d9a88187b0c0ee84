/*
 * kvmscope on an Intel host, checked without one: against the BTF of the
 * Debian kernel packages' kvm.ko and kvm-intel.ko (the lab runs AMD SVM
 * only). For each DIR (scripts/lab-kernel --intel NAME: vmlinux, kvm.ko,
 * kvm-intel.ko):
 *
 *   - the loader's own choice of ways (ks_hooks_choose) on a kvm_intel host
 *     with PML finds a way for every required metric, the same ways as on
 *     an AMD host with the same kernel (what the lab proves), and the
 *     kvm_pml_full tracepoint for PML-full exits;
 *   - the tracepoints those ways use have the arguments the programs take,
 *     and kvm-intel's handle_pml_full, where kvm_pml_full fires, is there;
 *   - libbpf's CO-RE relocation of the chosen programs, then of every
 *     program, against that kernel's vmlinux and kvm BTF: none fails.
 *
 * usage: intel_btf DIR...   One PASS/FAIL line per case.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "hooks/hooks.h"
#include "lib/probe.h"
#include "migrate.skel.h"

static int failed;
#define PASS(...) (printf("PASS "), printf(__VA_ARGS__), printf("\n"))
#define FAIL(...) (failed++, printf("FAIL "), printf(__VA_ARGS__), printf("\n"))
#define CASE(ok, ...) ((ok) ? PASS(__VA_ARGS__) : FAIL(__VA_ARGS__))

/* The tracepoints of the ways in, and how many arguments their programs
 * in bpf/migrate.bpf.c take (BPF_PROG, after the context). */
static const struct {
	const char *tp;
	unsigned int nargs;
} tp_args[] = {
	{ "kvm_pml_full", 1 },
	{ "kvm_page_fault", 3 },
	{ "kvm_mmu_split_huge_page", 4 },
	{ "kvm_hypercall", 5 },
	{ "kvm_msr", 4 },
};

/* libbpf's messages while it relocates, kept to be read afterwards. */
static char *logbuf;
static size_t loglen;
static FILE *logf;

static int keep_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (logf)
		vfprintf(logf, fmt, ap);
	return 0;
}

/* A tracepoint's arguments after the context: its btf_trace_ typedef is a
 * pointer to a prototype whose first parameter is the context. -1 if the
 * shape is not that. */
static int tp_nargs(const struct btf *btf, const char *tp, const struct btf_param **params)
{
	char name[128];
	const struct btf_type *t;
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id <= 0)
		return -1;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (!t || !btf_is_ptr(t) || !(t = btf__type_by_id(btf, t->type)) || !btf_is_func_proto(t))
		return -1;
	*params = btf_params(t);
	return (int)btf_vlen(t) - 1;
}

static void check_pml_types(const char *label, const struct btf *kvm, const struct btf *intel)
{
	const struct btf_param *params;
	const struct btf_type *t, *arg;
	int id, n = tp_nargs(kvm, "kvm_pml_full", &params);

	arg = n == 1 ? btf__type_by_id(kvm, params[1].type) : NULL;
	CASE(arg && btf_is_int(arg) && arg->size == 4 && !(btf_int_encoding(arg) & BTF_INT_SIGNED),
	     "%s: kvm_pml_full in kvm's BTF takes (unsigned int vcpu_id), as tp_pml_full does", label);
	/* handle_pml_full(struct kvm_vcpu *): where the tracepoint fires. */
	id = btf__find_by_name_kind(intel, "handle_pml_full", BTF_KIND_FUNC);
	t = id > 0 ? btf__type_by_id(intel, btf__type_by_id(intel, id)->type) : NULL;
	arg = t && btf_is_func_proto(t) && btf_vlen(t) == 1 ?
	      btf__type_by_id(intel, btf_params(t)[0].type) : NULL;
	arg = arg && btf_is_ptr(arg) ? btf__type_by_id(intel, arg->type) : NULL;
	CASE(arg && btf_is_struct(arg) && !strcmp(btf__name_by_offset(intel, arg->name_off), "kvm_vcpu"),
	     "%s: kvm-intel's BTF has handle_pml_full(struct kvm_vcpu *), the PML-full exit handler",
	     label);
}

static void check_tp_args(const char *label, const struct btf *kvm)
{
	for (size_t i = 0; i < sizeof(tp_args) / sizeof(tp_args[0]); i++) {
		const struct btf_param *params;
		int n = tp_nargs(kvm, tp_args[i].tp, &params);

		CASE(n == (int)tp_args[i].nargs, "%s: tracepoint %s has the %u arguments its program takes "
		     "(BTF: %d)", label, tp_args[i].tp, tp_args[i].nargs, n);
	}
}

static const char *chosen(const struct ks_choice *c, unsigned int m)
{
	return c[m].way < 0 ? "none" : ks_hooks[m].ways[c[m].way].target;
}

/* The choice on an Intel host with PML, for the options given; compared
 * with an AMD host's (the lab's) metric by metric. */
static void check_choice(const char *label, struct ks_probe *p, struct ks_choice *intel_c)
{
	static const struct {
		unsigned int opts;
		const char *faults;
	} runs[] = {
		{ 0, "kvm_vcpu_stat" },
		{ KS_OPT_FAULT_PROGRAM, "kvm_page_fault" },
		{ KS_OPT_FAULT_PROGRAM | KS_OPT_FAULT_LATENCY, "kvm_mmu_page_fault" },
	};
	struct ks_choice amd_c[KS_NR_METRICS], c[KS_NR_METRICS];

	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		int missing, differ = 0;
		char diff[256] = "";

		snprintf(p->vendor.module, sizeof(p->vendor.module), "kvm_amd");
		p->vendor.dirty = KS_DIRTY_WP_TDP;
		ks_hooks_choose(p, amd_c, runs[r].opts);
		snprintf(p->vendor.module, sizeof(p->vendor.module), "kvm_intel");
		p->vendor.dirty = KS_DIRTY_PML;
		missing = ks_hooks_choose(p, c, runs[r].opts);
		CASE(missing == 0, "%s, options %#x: every required metric has a way in on a kvm_intel "
		     "host (%d missing)", label, runs[r].opts, missing);
		for (unsigned int m = 0; m < KS_NR_METRICS; m++)
			if (m != KS_M_PML_FULL && c[m].way != amd_c[m].way) {
				differ++;
				snprintf(diff + strlen(diff), sizeof(diff) - strlen(diff), " %s: %s vs %s",
					 ks_hooks[m].metric, chosen(c, m), chosen(amd_c, m));
			}
		CASE(!differ, "%s, options %#x: the same ways in as on an AMD host, but for pml_full%s",
		     label, runs[r].opts, diff);
		CASE(!strcmp(chosen(c, KS_M_FAULTS), runs[r].faults),
		     "%s, options %#x: faults through %s (got %s)", label, runs[r].opts, runs[r].faults,
		     chosen(c, KS_M_FAULTS));
		CASE(c[KS_M_PML_FULL].way == 0 && c[KS_M_PML_FULL].where[0] &&
		     !strcmp(c[KS_M_PML_FULL].where[0], "kvm") && amd_c[KS_M_PML_FULL].way < 0,
		     "%s, options %#x: pml_full through kvm_pml_full in kvm's BTF on kvm_intel, "
		     "left out on kvm_amd", label, runs[r].opts);
		if (r == 0)
			memcpy(intel_c, c, sizeof(c));
	}
	for (unsigned int m = 0; m < KS_NR_METRICS; m++)
		printf("NOTE %s: %-20s %s\n", label, ks_hooks[m].metric, chosen(intel_c, m));
}

/* vmlinux's types then kvm's split ones, with their ids unchanged, as one
 * BTF file libbpf can relocate against (btf_custom_path takes one file,
 * and with it looks at no module BTF). */
static int write_merged(const struct btf *base, const struct btf *kvm, const char *path)
{
	struct btf *all = btf__new_empty();
	unsigned int n = btf__type_cnt(kvm), first = btf__type_cnt(base);
	const void *raw;
	__u32 size;
	FILE *f;
	int err = all ? btf__add_btf(all, base) : -ENOMEM;

	for (unsigned int id = first; err >= 0 && id < n; id++)
		err = btf__add_type(all, kvm, btf__type_by_id(kvm, id));
	if (err >= 0 && btf__type_cnt(all) != n)
		err = -EINVAL;
	raw = err >= 0 ? btf__raw_data(all, &size) : NULL;
	f = raw ? fopen(path, "w") : NULL;
	if (!f || fwrite(raw, 1, size, f) != size)
		err = err < 0 ? err : -EIO;
	if (f && fclose(f))
		err = -EIO;
	btf__free(all);
	return err < 0 ? err : 0;
}

/* Lines of the log that say a CO-RE relocation failed, counted; each is
 * printed. */
static int relo_failures(const char *label, const char *log)
{
	static const char *const bad[] = { "failed to resolve CO-RE", "failed to relocate",
					   "unsatisfiable", "failed to perform CO-RE",
					   "failed to find target", "relo #" };
	int n = 0;

	for (const char *l = log; l && *l; ) {
		const char *e = strchr(l, '\n');
		size_t len = e ? (size_t)(e - l) : strlen(l);
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : sizeof(line) - 1), l);
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			/* "relo #N: ... " lines are libbpf's debug trace; only
			 * those saying a relocation could not be made count. */
			if (!strstr(line, bad[k]))
				continue;
			if (k == 5 && !strstr(line, "no matching targets") && !strstr(line, "failed"))
				continue;
			printf("  %s: %s\n", label, line);
			n++;
			break;
		}
		l = e ? e + 1 : NULL;
	}
	return n;
}

static int count_relos(const char *log)
{
	int n = 0;

	for (const char *s = log; s && (s = strstr(s, "relo #")); s++)
		if (strstr(s, "matching candidate") && strstr(s, "matching candidate") < strchr(s, '\n'))
			n++;
	return n;
}

/* Relocates the programs (all, or those the choice enables) against the
 * merged BTF; the kernel's verdict on loading them here does not matter. */
static void check_core(const char *label, const char *btf_path, const struct ks_choice *c,
		       bool all)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = btf_path);
	struct migrate_bpf *skel;
	struct bpf_program *prog;
	int nprogs = 0, bad, relos;

	logbuf = NULL;
	loglen = 0;
	logf = open_memstream(&logbuf, &loglen);
	libbpf_set_print(keep_log);
	skel = migrate_bpf__open_opts(&opts);
	if (!skel) {
		libbpf_set_print(NULL);
		fclose(logf);
		logf = NULL;
		FAIL("%s: open the BPF object with %s as its kernel BTF: %s", label, btf_path,
		     strerror(errno));
		free(logbuf);
		return;
	}
	bpf_object__for_each_program(prog, skel->obj) {
		const char *name = bpf_program__name(prog);
		bool on = all;

		for (unsigned int m = 0; !on && m < KS_NR_METRICS; m++)
			for (int k = 0; c[m].way >= 0 && k < KS_MAX_PROGS; k++) {
				const char *pn = ks_hooks[m].ways[c[m].way].progs[k];

				on |= pn && !strcmp(pn, name);
			}
		bpf_program__set_autoload(prog, on);
		nprogs += on;
	}
	/* Relocation runs for every program before any is loaded. */
	migrate_bpf__load(skel);
	migrate_bpf__destroy(skel);
	libbpf_set_print(NULL);
	fclose(logf);
	logf = NULL;
	bad = relo_failures(label, logbuf);
	relos = count_relos(logbuf);
	CASE(!bad && relos > 0, "%s: CO-RE relocations of %s %d programs against its vmlinux and "
	     "kvm BTF: %d made, %d failed", label, all ? "all" : "the kvm_intel host's", nprogs,
	     relos, bad);
	free(logbuf);
	logbuf = NULL;
}

static void check_kernel(const char *dir)
{
	char path[PATH_MAX], label[128], merged[] = "/tmp/intel_btf.XXXXXX";
	struct btf *base, *kvm = NULL, *intel = NULL;
	struct ks_choice c[KS_NR_METRICS];
	struct ks_probe p;
	const char *slash = strrchr(dir, '/');
	int fd;

	snprintf(label, sizeof(label), "%s", slash ? slash + 1 : dir);
	snprintf(path, sizeof(path), "%s/vmlinux", dir);
	base = btf__parse(path, NULL);
	if (base) {
		snprintf(path, sizeof(path), "%s/kvm.ko", dir);
		kvm = btf__parse_split(path, base);
		snprintf(path, sizeof(path), "%s/kvm-intel.ko", dir);
		intel = btf__parse_split(path, base);
	}
	if (!base || !kvm || !intel) {
		FAIL("%s: BTF of vmlinux, kvm.ko and kvm-intel.ko parsed (%s)", label,
		     !base ? "vmlinux" : !kvm ? "kvm.ko" : "kvm-intel.ko");
		goto out;
	}
	PASS("%s: BTF of vmlinux, kvm.ko and kvm-intel.ko parsed", label);
	check_pml_types(label, kvm, intel);
	check_tp_args(label, kvm);

	/* The probe of such a host: KVM a module with BTF, fentry allowed,
	 * every function in BTF traceable (no available_filter_functions). */
	memset(&p, 0, sizeof(p));
	p.vmlinux_btf = base;
	p.kvm_btf = kvm;
	p.kvm_loaded = true;
	check_choice(label, &p, c);

	fd = mkstemp(merged);
	if (fd < 0 || write_merged(base, kvm, merged)) {
		FAIL("%s: write vmlinux and kvm BTF as one file", label);
	} else {
		check_core(label, merged, c, false);
		check_core(label, merged, c, true);
	}
	if (fd >= 0) {
		close(fd);
		unlink(merged);
	}
out:
	btf__free(intel);
	btf__free(kvm);
	btf__free(base);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: intel_btf DIR... (scripts/lab-kernel --intel NAME)\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		check_kernel(argv[i]);
	return failed ? 1 : 0;
}
