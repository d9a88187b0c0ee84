// SPDX-License-Identifier: GPL-2.0
/*
 * as-user UID [CAPS] CMD [ARGS...]: runs CMD as user and group UID with no
 * supplementary groups and, besides, only the capabilities named in CAPS
 * ("caps=bpf,perfmon,sys_ptrace", or none at all without it): how the lab
 * tests which privileges kvmscope needs (docs/reliability.md). The kept
 * capabilities are made ambient so they survive the exec.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static const struct { const char *name; int cap; } caps[] = {
	{ "bpf", CAP_BPF }, { "perfmon", CAP_PERFMON }, { "sys_ptrace", CAP_SYS_PTRACE },
	{ "sys_admin", CAP_SYS_ADMIN }, { "dac_read_search", CAP_DAC_READ_SEARCH },
	{ "dac_override", CAP_DAC_OVERRIDE }, { "sys_resource", CAP_SYS_RESOURCE },
};

static int die(const char *what)
{
	fprintf(stderr, "as-user: %s: %s\n", what, strerror(errno));
	return 125;
}

int main(int argc, char **argv)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	unsigned long long keep = 0;
	int first = 2;
	char *end;
	long uid;

	if (argc < 3) {
		fprintf(stderr, "usage: as-user UID [caps=CAP,...] CMD [ARGS...]\n");
		return 2;
	}
	uid = strtol(argv[1], &end, 10);
	if (*end || uid <= 0 || uid > 65535) {
		fprintf(stderr, "as-user: bad UID '%s'\n", argv[1]);
		return 2;
	}
	if (!strncmp(argv[2], "caps=", 5)) {
		char *list = argv[2] + 5, *tok, *save = NULL;

		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			size_t i;

			for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
				if (!strcmp(tok, caps[i].name))
					break;
			if (i == sizeof(caps) / sizeof(caps[0])) {
				fprintf(stderr, "as-user: unknown capability '%s'\n", tok);
				return 2;
			}
			keep |= 1ULL << caps[i].cap;
		}
		first = 3;
	}
	if (first >= argc) {
		fprintf(stderr, "as-user: no command\n");
		return 2;
	}
	/* Keep the permitted set across the uid change, then trim it. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return die("PR_SET_KEEPCAPS");
	/* Groups first: once the uid is dropped, we may no longer change them. */
	if (setgroups(0, NULL) || setresgid((gid_t)uid, (gid_t)uid, (gid_t)uid) ||
	    setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid))
		return die("changing user");
	memset(d, 0, sizeof(d));
	d[0].permitted = d[0].effective = d[0].inheritable = (__u32)keep;
	d[1].permitted = d[1].effective = d[1].inheritable = (__u32)(keep >> 32);
	if (syscall(SYS_capset, &h, d))
		return die("capset");
	for (int c = 0; c < 64; c++)
		if ((keep >> c & 1) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0))
			return die("raising an ambient capability");
	execvp(argv[first], argv + first);
	fprintf(stderr, "as-user: %s: %s\n", argv[first], strerror(errno));
	return 127;
}
