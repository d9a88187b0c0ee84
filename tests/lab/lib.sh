# shellcheck shell=bash
# Shared by the lab test scripts (sourced).
#
# lab_run ARGS...: tests/lab/run ARGS..., but a boot that ends in a kernel
# panic is retried once. Under TCG the lab kernels very rarely oops while
# live-patching kernel text (int3 in __schedule, seen with and without
# kvmscope's programs attached); one retry keeps that from failing a run,
# and the panic is printed (NOTE line) so it stays visible in the logs. A
# panic that comes back is a failure like any other.
lab_run() {
	local out rc
	out=$("$LAB_HERE/run" "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 125 ] && printf '%s\n' "$out" | grep -q '^lab: kernel panic'; then
		echo "NOTE lab kernel panicked, booting once more: $(printf '%s\n' "$out" | grep -m1 '^lab: kernel panic')" >&2
		out=$("$LAB_HERE/run" "$@" 2>&1)
		rc=$?
	fi
	printf '%s\n' "$out"
	return "$rc"
}
LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
