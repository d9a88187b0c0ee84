#!/bin/sh
# In the lab: every BPF program of kvmscope loaded, attached and triggered
# by a kvmload VM (bpf_attach, built from tests/host/bpf_attach.c).
# usage: guest.sh [--check] [BPF_ATTACH_OPTION...]
# --check: `kvmscope check` must pass first. One PASS/FAIL line per case.
if [ "${1:-}" = --check ]; then
	shift
	if kvmscope check >/tmp/check.out 2>&1; then
		echo "PASS kvmscope check: $(grep -c "^    \*" /tmp/check.out) metrics with a way in"
	else
		echo "FAIL kvmscope check: $(grep -E "missing|UNAVAILABLE|FAILED|result" /tmp/check.out | tr "\n" " ")"
	fi
fi
exec /opt/kvmscope/add/bpf_attach --all "$@" --kvmload /opt/kvmscope/bin/kvmload
