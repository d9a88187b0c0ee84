// uses: hooks.c
/* The hook table and the choice it drives, against synthetic probes. */
#include "unit.h"
#include "hooks.h"

/* Every program named in the table must exist in the BPF object, and every
 * program of the object must be named by exactly one metric (possibly in
 * several of its ways): otherwise the loader would silently leave a
 * program out, or two metrics would fight over one. */
#include "migrate.skel.h"

static bool table_names(const char *prog)
{
	int hooks = 0;

	for (unsigned int i = 0; i < ks_nr_hooks; i++) {
		bool here = false;

		for (int w = 0; w < KS_MAX_WAYS; w++)
			for (int k = 0; k < KS_MAX_PROGS; k++)
				if (ks_hooks[i].ways[w].progs[k] &&
				    !strcmp(ks_hooks[i].ways[w].progs[k], prog))
					here = true;
		hooks += here;
	}
	return hooks == 1;
}

int main(void)
{
	struct ks_choice c[32];
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
		for (unsigned int i = 0; i < ks_nr_hooks; i++)
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
	for (unsigned int i = 0; i < ks_nr_hooks; i++)
		required += ks_hooks[i].required;
	missing = ks_hooks_choose(&none, c, 0);
	CHECK("no BTF: every required hook missing", missing == required,
	      "missing %d, required %d", missing, required);
	CHECK("no BTF: reasons given", c[0].way == -1 && c[0].why_not[0] != NULL, "no reason");
	CHECK("at least one required hook", required > 0, "none");
	CHECK("hook table fits the loader", ks_nr_hooks <= 32, "%u hooks", ks_nr_hooks);
	UNIT_EXIT();
}
