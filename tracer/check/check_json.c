// SPDX-License-Identifier: GPL-2.0
/* `kvmscope check --json`: the same findings as the text report, as one
 * JSON record for scripts and fleet checks (docs/json.md, `check`). */
#include <stdio.h>
#include "check/check.h"
#include "hooks/guestcost.h"
#include "lib/build.h"
#include "lib/json.h"
#include "lib/runopts.h"

static void str_or_null(struct ks_json *j, const char *key, const char *v)
{
	if (v && *v)
		ks_json_str(j, key, v);
	else
		ks_json_null(j, key);
}

static void kernel(struct ks_json *j, const struct ks_check *c)
{
	const struct ks_probe *p = &c->p;

	ks_json_obj(j, "kernel");
	str_or_null(j, "release", p->release);
	ks_json_bool(j, "btf", c->btf);
	ks_json_str(j, "kvm", !p->kvm_loaded ? "not_loaded" : p->kvm_builtin ? "builtin" : "module");
	str_or_null(j, "kvm_vendor", p->vendor.module);
	if (p->kvm_loaded && !p->kvm_builtin)
		ks_json_bool(j, "kvm_btf", c->kvm_btf);
	else
		ks_json_null(j, "kvm_btf");
	ks_json_bool(j, "kvm_ok", c->kvm_ok);
	ks_json_bool(j, "dev_kvm", p->dev_kvm);
	str_or_null(j, "tracefs", p->tracefs);
	ks_json_bool(j, "fentry", p->fentry_err == 0);
	str_or_null(j, "fentry_why_not", ks_probe_fentry_why(p));
	ks_json_close(j);
}

static void privileges(struct ks_json *j, const struct ks_check_privileges *v)
{
	ks_json_obj(j, "privileges");
	ks_json_bool(j, "root", v->root);
	ks_json_bool(j, "cap_bpf", v->bpf);
	ks_json_bool(j, "cap_perfmon", v->perfmon);
	ks_json_bool(j, "cap_sys_admin", v->admin);
	ks_json_bool(j, "cap_sys_ptrace", v->ptrace);
	ks_json_bool(j, "cap_dac_read_search", v->dac);
	ks_json_bool(j, "can_trace", v->ok);
	ks_json_bool(j, "all_vmms", v->all_vmms);
	ks_json_close(j);
}

static void metrics(struct ks_json *j, const struct ks_loader *l)
{
	ks_json_arr(j, "metrics");
	for (unsigned int i = 0; i < KS_NR_METRICS; i++) {
		const struct ks_hook *h = &ks_hooks[i];
		const struct ks_choice *c = &l->choices[i];

		ks_json_obj(j, NULL);
		ks_json_str(j, "metric", h->metric);
		ks_json_str(j, "what", h->what);
		ks_json_bool(j, "required", h->required);
		str_or_null(j, "way", c->way >= 0 ? h->ways[c->way].target : NULL);
		ks_json_arr(j, "ways");
		for (int w = 0; w < KS_MAX_WAYS && h->ways[w].target; w++) {
			const struct ks_way *way = &h->ways[w];

			ks_json_obj(j, NULL);
			ks_json_str(j, "kind", ks_way_kind_name(way->kind));
			ks_json_str(j, "target", way->target);
			ks_json_bool(j, "used", w == c->way);
			ks_json_bool(j, "usable", !c->why_not[w]);
			str_or_null(j, "why_not", c->why_not[w]);
			str_or_null(j, "btf", c->why_not[w] ? NULL : c->where[w]);
			str_or_null(j, "option", ks_way_opt_name(ks_way_opt_in(way)));
			str_or_null(j, "limits", way->limits);
			ks_json_close(j);
		}
		ks_json_close(j);
		ks_json_close(j);
	}
	ks_json_close(j);
}

int ks_check_json(const struct ks_check *c)
{
	struct ks_json j;

	ks_json_begin(&j, stdout, "check", ks_now_ns());
	ks_json_str(&j, "version", ks_build.version);
	ks_json_str(&j, "revision", ks_build.revision);
	kernel(&j, c);
	privileges(&j, &c->priv);
	metrics(&j, &c->l);
	ks_guest_figs_json(&j, &c->caps, c->p.vendor.module);
	ks_json_obj(&j, "load_test");
	ks_json_bool(&j, "ran", c->load_ran);
	if (c->load_ran) {
		ks_json_bool(&j, "ok", c->load_ok);
		ks_json_u64(&j, "programs", c->nr_progs);
		str_or_null(&j, "error", c->load_ok ? NULL : c->load_error);
	} else {
		ks_json_null(&j, "ok");
		ks_json_null(&j, "programs");
		ks_json_null(&j, "error");
	}
	ks_json_close(&j);
	ks_json_u64(&j, "problems", (uint64_t)c->problems);
	ks_json_bool(&j, "ok", c->problems == 0);
	return ks_json_end(&j);
}
