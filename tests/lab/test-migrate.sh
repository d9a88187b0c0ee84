#!/bin/bash
# kvmscope migrate against kvmload's ground truth, in the lab, on each lab
# kernel: tests/lab/guest/migrate-e2e.sh runs the VMs under the tracer,
# tests/e2e/check_migrate.py compares (one PASS/FAIL line per check).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
lab_check_kernels migrate-e2e check_migrate.py
