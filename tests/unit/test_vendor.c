/* KVM's vendor module and its dirty-logging mechanism, read from recorded
 * sysfs trees (tests/unit/sysfs/CASE/module/...), and what that leaves
 * measured of the guest's cost: write-protect faults only where all of
 * them are counted, PML-full exits only on PML hosts. */
#include <stdlib.h>
#include "unit.h"
#include "hooks/guestcost.h"
#include "hooks/hooks.h"
#include "lib/vendor.h"

static char root[PATH_MAX];

static void read_case(const char *name, struct ks_vendor *v)
{
	char dir[PATH_MAX + 64];

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	ks_vendor_read(v, dir);
}

/* The caps of a host with every metric's first way but the faults', whose
 * way is KVM's stats (program false) or the fault program, and PML-full
 * exits', chosen if pml. */
static void caps_of(const struct ks_vendor *v, bool program, bool pml, struct ks_caps *caps)
{
	struct ks_choice c[KS_NR_METRICS];

	memset(c, 0, sizeof(c));
	for (unsigned int i = 0; i < KS_NR_METRICS; i++)
		c[i].way = 0;
	c[KS_M_FAULTS].way = program ? 1 : 0;
	c[KS_M_PML_FULL].way = pml ? 0 : -1;
	memset(caps, 0, sizeof(*caps));
	ks_caps_of(c, v, caps);
}

struct want {
	const char *dir, *module, *mech;
	bool wp_default;    /* wp_faults measured with KVM's stats */
	bool pml;           /* the PML-full figure applies */
};

int main(void)
{
	static const struct want cases[] = {
		{ "intel-pml", "kvm_intel", "pml", false, true },
		{ "intel-nopml", "kvm_intel", "write_protect", true, false },
		{ "intel-noept", "kvm_intel", "write_protect_shadow", false, false },
		{ "amd", "kvm_amd", "write_protect", true, false },
		{ "amd-nonpt", "kvm_amd", "write_protect_shadow", false, false },
		{ "pvm", "kvm_pvm", "write_protect_shadow", false, false },
		{ "other", "kvm_other", "unknown", false, false },
		{ "none", "", "unknown", false, false },
		{ "no-such-root", "", "unknown", false, false },
	};
	char name[160];

	unit_find_dir("tests/unit/sysfs", root, sizeof(root));
	REQUIRE(root[0], "no tests/unit/sysfs above the binary");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct want *w = &cases[i];
		struct ks_guest_fig f[KS_NR_GUEST_FIGS];
		struct ks_vendor v;
		struct ks_caps caps;

		read_case(w->dir, &v);
		snprintf(name, sizeof(name), "%s: vendor module", w->dir);
		ASSERT_STREQ(name, v.module, w->module);
		snprintf(name, sizeof(name), "%s: dirty logging", w->dir);
		ASSERT_STREQ(name, ks_dirty_mech_name(v.dirty), w->mech);

		caps_of(&v, false, false, &caps);
		ks_guest_figs(&caps, f);
		snprintf(name, sizeof(name), "%s: wp_faults from KVM's stats %s", w->dir,
			 w->wp_default ? "measured" : "not measured");
		CHECK(name, caps.wp_faults == w->wp_default && f[KS_G_WP_FAULTS].measured == w->wp_default,
		      "caps %d, figure %d", caps.wp_faults, f[KS_G_WP_FAULTS].measured);
		snprintf(name, sizeof(name), "%s: faults measured whatever the mechanism", w->dir);
		ASSERT_TRUE(name, f[KS_G_FAULTS].measured && f[KS_G_FAULTS].applies);
		snprintf(name, sizeof(name), "%s: PML-full exits %s", w->dir,
			 w->pml ? "a figure, not measured without its way" : "not a figure here");
		CHECK(name, f[KS_G_PML_FULL].applies == w->pml && !f[KS_G_PML_FULL].measured,
		      "applies %d measured %d", f[KS_G_PML_FULL].applies, f[KS_G_PML_FULL].measured);

		/* A program on the fault path counts every write-protect fault,
		 * wherever KVM fixes it. */
		caps_of(&v, true, false, &caps);
		snprintf(name, sizeof(name), "%s: wp_faults measured with --fault-program", w->dir);
		ASSERT_TRUE(name, caps.wp_faults);

		/* PML-full exits are counted where their way is in use, and
		 * only on a PML host. */
		caps_of(&v, false, true, &caps);
		ks_guest_figs(&caps, f);
		snprintf(name, sizeof(name), "%s: PML-full exits %s with kvm_pml_full", w->dir,
			 w->pml ? "measured" : "no figure");
		CHECK(name, caps.pml_full == w->pml && f[KS_G_PML_FULL].measured == w->pml &&
		      f[KS_G_PML_FULL].applies == w->pml,
		      "caps %d applies %d measured %d", caps.pml_full, f[KS_G_PML_FULL].applies,
		      f[KS_G_PML_FULL].measured);
	}

	/* What the JSON attached record says of a PML host. */
	{
		struct ks_vendor v;
		struct ks_caps caps;
		struct ks_json j;
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		read_case("intel-pml", &v);
		caps_of(&v, false, false, &caps);
		ks_json_begin(&j, f, "attached", 1);
		ks_guest_figs_json(&j, &caps, v.module);
		ks_json_end(&j);
		fclose(f);
		ASSERT_CONTAINS("intel-pml: attached names the module", buf, "\"kvm_module\":\"kvm_intel\"");
		ASSERT_CONTAINS("intel-pml: attached names PML", buf, "\"dirty_logging\":\"pml\"");
		ASSERT_CONTAINS("intel-pml: attached says wp_faults not measured", buf,
				"\"wp_faults\":{\"measured\":false");
		ASSERT_CONTAINS("intel-pml: attached says PML-full exits not measured", buf,
				"\"pml_full_exits\":{\"measured\":false");
		free(buf);
	}
	UNIT_EXIT();
}
