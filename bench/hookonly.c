// SPDX-License-Identifier: GPL-2.0
/*
 * bench/hookonly PROG...: loads and attaches only the named empty programs
 * of bench/empty.bpf.c (e.g. x_pf_tp, or x_pf_entry x_pf_exit), prints
 * "ready" and waits for SIGINT/SIGTERM. What the guest pays for a bare
 * hook, with nothing done in it (bench/lab/slowdown.sh).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "empty.skel.h"
#include "until_signal.h"


int main(int argc, char **argv)
{
	struct empty_bpf *skel;
	struct bpf_program *p;
	int wanted = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: hookonly PROG...\n");
		return 2;
	}
	ks_bench_catch_signals();
	skel = empty_bpf__open();
	if (!skel) {
		fprintf(stderr, "hookonly: cannot open the empty programs: %s\n", strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(p, skel->obj) {
		bool on = false;

		for (int i = 1; i < argc; i++)
			on |= !strcmp(bpf_program__name(p), argv[i]);
		bpf_program__set_autoload(p, on);
		wanted += on;
	}
	if (wanted != argc - 1) {
		fprintf(stderr, "hookonly: unknown program among the arguments\n");
		return 2;
	}
	if (empty_bpf__load(skel) || empty_bpf__attach(skel)) {
		fprintf(stderr, "hookonly: cannot load/attach: %s\n", strerror(errno));
		empty_bpf__destroy(skel);
		return 1;
	}
	ks_bench_ready_then_wait();
	empty_bpf__destroy(skel);
	return 0;
}
