// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "lib/vendor.h"

/* A boolean module parameter: 'Y' or 'N' (or 1/0); -1 if unreadable. */
static int param(const char *sysfs, const char *module, const char *name)
{
	char path[512], buf[8] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/module/%s/parameters/%s", sysfs, module, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1' ? 1 :
	       buf[0] == 'N' || buf[0] == 'n' || buf[0] == '0' ? 0 : -1;
}

static bool module_present(const char *sysfs, const char *module)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/module/%s", sysfs, module);
	return stat(path, &st) == 0;
}

static const char *flag(int v)
{
	return v > 0 ? "Y" : v == 0 ? "N" : "?";
}

/* Any other kvm_* vendor module (a built-in one shows up only if it has
 * parameters, as every vendor module does). */
static void other_vendor(struct ks_vendor *v, const char *sysfs)
{
	char path[512];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/module", sysfs);
	dir = opendir(path);
	if (!dir)
		return;
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, "kvm_", 4)) {
			snprintf(v->module, sizeof(v->module), "%.31s", d->d_name);
			break;
		}
	closedir(dir);
}

void ks_vendor_read(struct ks_vendor *v, const char *sysfs)
{
	memset(v, 0, sizeof(*v));
	if (module_present(sysfs, "kvm_intel")) {
		/* The parameters hold what the module settled on at load:
		 * hardware_setup() turns pml off without EPT, A/D bits or the
		 * CPU feature, and ept off without the CPU feature. */
		int ept = param(sysfs, "kvm_intel", "ept"), pml = param(sysfs, "kvm_intel", "pml");

		snprintf(v->module, sizeof(v->module), "kvm_intel");
		snprintf(v->params, sizeof(v->params), "ept=%s pml=%s", flag(ept), flag(pml));
		v->dirty = ept == 0 ? KS_DIRTY_WP_SHADOW : ept < 0 ? KS_DIRTY_UNKNOWN :
			   pml > 0 ? KS_DIRTY_PML : pml == 0 ? KS_DIRTY_WP_TDP : KS_DIRTY_UNKNOWN;
	} else if (module_present(sysfs, "kvm_amd")) {
		int npt = param(sysfs, "kvm_amd", "npt");

		snprintf(v->module, sizeof(v->module), "kvm_amd");
		snprintf(v->params, sizeof(v->params), "npt=%s", flag(npt));
		v->dirty = npt > 0 ? KS_DIRTY_WP_TDP : npt == 0 ? KS_DIRTY_WP_SHADOW :
			   KS_DIRTY_UNKNOWN;
	} else if (module_present(sysfs, "kvm_pvm")) {
		/* PVM runs guests without hardware virtualization: KVM's
		 * shadow MMU, whatever its parameters. */
		snprintf(v->module, sizeof(v->module), "kvm_pvm");
		v->dirty = KS_DIRTY_WP_SHADOW;
	} else {
		other_vendor(v, sysfs);
	}
}

const char *ks_dirty_mech_name(enum ks_dirty_mech d)
{
	switch (d) {
	case KS_DIRTY_WP_TDP: return "write_protect";
	case KS_DIRTY_WP_SHADOW: return "write_protect_shadow";
	case KS_DIRTY_PML: return "pml";
	case KS_DIRTY_UNKNOWN: break;
	}
	return "unknown";
}

const char *ks_dirty_mech_what(enum ks_dirty_mech d)
{
	switch (d) {
	case KS_DIRTY_WP_TDP:
		return "write protection (EPT/NPT): a write-protect fault per page first written, "
		       "fixed in KVM's fast path";
	case KS_DIRTY_WP_SHADOW:
		return "write protection under shadow paging: a write-protect fault per page first "
		       "written, fixed in KVM's slow path";
	case KS_DIRTY_PML:
		return "PML (page-modification logging): no fault per page; a PML-full exit per "
		       "512 pages written and a log flush at every VM exit and sync";
	case KS_DIRTY_UNKNOWN:
		break;
	}
	return "unknown (no KVM vendor module kvmscope knows)";
}
