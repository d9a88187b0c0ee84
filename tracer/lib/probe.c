// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <bpf/btf.h>
#include <bpf/bpf.h>
#include "lib/probe.h"
#include "lib/log.h"

/* The kernel's ENOTSUPP (524) leaks to userspace from BPF. */
#define ENOTSUPP_LIKE 524

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Reads a whole (procfs/tracefs) file whose size stat cannot tell. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1 << 20, len = 0, n;
	char *buf, *nbuf;

	if (!f)
		return NULL;
	buf = malloc(cap + 2);
	if (!buf)
		goto fail;
	/* Leading newline so every entry can be matched as "\nname". */
	buf[len++] = '\n';
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			nbuf = realloc(buf, cap + 2);
			if (!nbuf)
				goto fail;
			buf = nbuf;
		}
	}
	if (ferror(f))
		goto fail;
	buf[len] = '\0';
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

static void find_tracefs(struct ks_probe *p)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[128];

		snprintf(path, sizeof(path), "%s/events", dirs[i]);
		if (exists(path)) {
			snprintf(p->tracefs, sizeof(p->tracefs), "%s", dirs[i]);
			return;
		}
	}
}

/*
 * Some kernels refuse fentry/fexit even to root (lockdown, an LSM, or no
 * trampoline support) while still allowing tp_btf. Find out once, with the
 * smallest program that can tell: "return 0" attached to a vmlinux function.
 */
static int probe_fentry(const struct btf *vmlinux)
{
	const struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = 0 }, /* r0 = 0 */
		{ .code = 0x95 },                         /* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY);
	int id, fd, link, err = 0;

	if (!vmlinux)
		return ENOENT;
	id = btf__find_by_name_kind(vmlinux, "vfs_read", BTF_KIND_FUNC);
	if (id <= 0)
		return ENOENT;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "ks_probe", "GPL", insns, 2, &opts);
	if (fd < 0)
		return -fd;
	link = bpf_raw_tracepoint_open(NULL, fd);
	if (link < 0)
		err = -link;
	else
		close(link);
	close(fd);
	return err;
}

const char *ks_probe_fentry_why(const struct ks_probe *p)
{
	switch (p->fentry_err) {
	case 0:
		return NULL;
	case EPERM:
	case EACCES:
		return geteuid() == 0 ?
			"fentry/fexit forbidden by this kernel's policy (lockdown or an LSM)" :
			"fentry/fexit need root, or CAP_BPF and CAP_PERFMON";
	case ENOTSUPP_LIKE:
	case EOPNOTSUPP:
	case EINVAL:
		return "fentry/fexit not supported by this kernel (no BPF trampoline)";
	default:
		return "fentry/fexit cannot be used on this kernel";
	}
}

void ks_probe_init(struct ks_probe *p)
{
	struct utsname u;
	char path[160];

	memset(p, 0, sizeof(*p));
	if (uname(&u) == 0)
		snprintf(p->release, sizeof(p->release), "%s", u.release);

	p->vmlinux_btf = btf__load_vmlinux_btf();
	if (!p->vmlinux_btf)
		p->vmlinux_btf = NULL; /* libbpf returns NULL + errno on failure */

	p->kvm_loaded = exists("/sys/module/kvm");
	/* A loadable module has an initstate; a built-in one does not. */
	p->kvm_builtin = p->kvm_loaded && !exists("/sys/module/kvm/initstate");
	if (p->vmlinux_btf && p->kvm_loaded && !p->kvm_builtin &&
	    exists("/sys/kernel/btf/kvm"))
		p->kvm_btf = btf__load_module_btf("kvm", p->vmlinux_btf);
	ks_vendor_read(&p->vendor, "/sys");
	p->dev_kvm = exists("/dev/kvm");

	p->fentry_err = probe_fentry(p->vmlinux_btf);
	if (p->fentry_err)
		ks_debug("fentry probe failed: %s", strerror(p->fentry_err));
	find_tracefs(p);
	if (p->tracefs[0]) {
		snprintf(path, sizeof(path), "%s/available_filter_functions", p->tracefs);
		p->filter_funcs = slurp(path);
	}
}

void ks_probe_release_btf(struct ks_probe *p)
{
	btf__free(p->kvm_btf);
	btf__free(p->vmlinux_btf);
	p->kvm_btf = NULL;
	p->vmlinux_btf = NULL;
}

void ks_probe_free(struct ks_probe *p)
{
	btf__free(p->kvm_btf);
	btf__free(p->vmlinux_btf);
	free(p->filter_funcs);
	memset(p, 0, sizeof(*p));
}

/* Looks a name up in the kvm module's BTF first (it is split BTF over
 * vmlinux, so it also finds vmlinux types), then in vmlinux. */
static bool find_type(const struct ks_probe *p, const char *name, int kind,
		      const char **where)
{
	int base_cnt = p->vmlinux_btf ? (int)btf__type_cnt(p->vmlinux_btf) : 0;
	int id;

	if (p->kvm_btf) {
		id = btf__find_by_name_kind(p->kvm_btf, name, kind);
		if (id > 0) {
			if (where)
				*where = id >= base_cnt ? "kvm" : "vmlinux";
			return true;
		}
	}
	if (p->vmlinux_btf && btf__find_by_name_kind(p->vmlinux_btf, name, kind) > 0) {
		if (where)
			*where = "vmlinux";
		return true;
	}
	return false;
}

/* The struct's id and the BTF it is in, kvm module's first, as find_type. */
static const struct btf *find_struct(const struct ks_probe *p, const char *name, int *id,
				     const char **where)
{
	int base_cnt = p->vmlinux_btf ? (int)btf__type_cnt(p->vmlinux_btf) : 0;

	if (p->kvm_btf && (*id = btf__find_by_name_kind(p->kvm_btf, name, BTF_KIND_STRUCT)) > 0) {
		if (where)
			*where = *id >= base_cnt ? "kvm" : "vmlinux";
		return p->kvm_btf;
	}
	if (p->vmlinux_btf &&
	    (*id = btf__find_by_name_kind(p->vmlinux_btf, name, BTF_KIND_STRUCT)) > 0) {
		if (where)
			*where = "vmlinux";
		return p->vmlinux_btf;
	}
	return NULL;
}

bool ks_probe_member(const struct ks_probe *p, const char *type, const char *member,
		     const char **where)
{
	const struct btf *btf;
	const struct btf_type *t;
	const struct btf_member *m;
	int id;

	btf = find_struct(p, type, &id, where);
	if (!btf || !(t = btf__type_by_id(btf, id)))
		return false;
	m = btf_members(t);
	for (unsigned short i = 0; i < btf_vlen(t); i++, m++) {
		const char *n = btf__name_by_offset(btf, m->name_off);

		if (n && !strcmp(n, member))
			return true;
	}
	return false;
}

static bool in_filter_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *s = list;

	/* Entries look like "name\n" or "name [module]\n". */
	while ((s = strstr(s, name))) {
		if (s[-1] == '\n' && (s[n] == '\n' || s[n] == ' '))
			return true;
		s += n;
	}
	return false;
}

enum ks_func_state ks_probe_func(const struct ks_probe *p, const char *name,
				 const char **where)
{
	if (!find_type(p, name, BTF_KIND_FUNC, where))
		return KS_FUNC_ABSENT;
	if (p->fentry_err)
		return KS_FUNC_FORBIDDEN;
	if (p->filter_funcs && !in_filter_list(p->filter_funcs, name))
		return KS_FUNC_NOT_TRACEABLE;
	return KS_FUNC_OK;
}

bool ks_probe_tracepoint(const struct ks_probe *p, const char *name,
			 const char **where)
{
	char tname[160];

	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	return find_type(p, tname, BTF_KIND_TYPEDEF, where);
}

bool ks_has_cap(int cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return false;
	if (cap < 0 || cap >= 64)
		return false;
	return data[cap / 32].effective & (1U << (cap % 32));
}

int ks_require_tracing_privileges(bool module_btf)
{
	bool admin = ks_has_cap(CAP_SYS_ADMIN);
	bool bpf = admin || ks_has_cap(CAP_BPF);
	bool perfmon = admin || ks_has_cap(CAP_PERFMON);

	if (bpf && perfmon && (admin || !module_btf))
		return 0;
	return ks_err("not allowed to trace: needs root, or CAP_BPF and CAP_PERFMON%s "
		      "(missing:%s%s%s)",
		      module_btf ? ", and CAP_SYS_ADMIN for KVM as a module" : "",
		      bpf ? "" : " CAP_BPF", perfmon ? "" : " CAP_PERFMON",
		      admin || !module_btf ? "" : " CAP_SYS_ADMIN");
}
