/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KVM's vendor module and how it logs dirty pages, read from sysfs. The
 * mechanism decides what the guest pays for dirty logging, and so which of
 * kvmscope's guest-cost figures mean anything on this host
 * (docs/overhead.md, "Hosts and vendors"):
 *
 *   write protection, TDP (kvm_amd npt=Y, kvm_intel ept=Y pml=N): one
 *     write-protect fault per page first written, fixed in KVM's fast path
 *     (pf_fast counts them);
 *   write protection, shadow paging (npt=N, ept=N, kvm_pvm): the same
 *     faults, fixed in KVM's slow path, which pf_fast does not count;
 *   PML (kvm_intel pml=Y): the CPU logs written pages in a 512-entry buffer
 *     without any fault; the guest pays a PML-full exit per 512 pages and
 *     the flushes at each sync. Only huge mappings are write-protected.
 */
#ifndef KS_VENDOR_H
#define KS_VENDOR_H

enum ks_dirty_mech {
	KS_DIRTY_UNKNOWN = 0,  /* no vendor module, or one kvmscope does not know */
	KS_DIRTY_WP_TDP,       /* write protection under EPT/NPT */
	KS_DIRTY_WP_SHADOW,    /* write protection under shadow paging */
	KS_DIRTY_PML,          /* Intel page-modification logging */
};

struct ks_vendor {
	char module[32];          /* "kvm_intel", "kvm_amd", "kvm_pvm", another kvm_*, or "" */
	enum ks_dirty_mech dirty;
	char params[64];          /* the parameters that decided it, e.g. "ept=Y pml=Y" */
};

/* Reads the vendor module and its parameters under sysfs (normally "/sys";
 * tests point it at recorded trees). Never fails: what cannot be read
 * leaves the mechanism unknown. */
void ks_vendor_read(struct ks_vendor *v, const char *sysfs);

/* "write_protect", "write_protect_shadow", "pml" or "unknown": the JSON
 * name of the mechanism. */
const char *ks_dirty_mech_name(enum ks_dirty_mech d);
/* One line for people: what the guest pays for dirty logging here. */
const char *ks_dirty_mech_what(enum ks_dirty_mech d);

#endif
