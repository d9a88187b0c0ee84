#!/bin/bash
# The vCPU walk of default `kvmscope migrate` (KVM's per-vCPU fault stats
# read from kernel memory at each dirty-log ioctl, bpf/vcpu_stats.bpf.h)
# on 1, 2, 8, 64 and 66 vCPUs (one and two xarray levels), on each lab kernel: tests/lab/guest/vcpu-walk.sh
# runs the VMs under the tracer, tests/e2e/check_vcpu_walk.py compares the
# sums with kvmload's own stats fd reads.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
lab_check_kernels vcpu-walk check_vcpu_walk.py
