# shellcheck shell=bash
# Shared by the lab test scripts (sourced).
#
# lab_run ARGS...: tests/lab/run --timeout 300 ARGS..., but a boot whose
# kernel panicked, oopsed or stalled (an RCU stall: a lab CPU stuck in
# nested guest mode under TCG, seen once running QEMU nested) is retried, up
# to three boots in all. Under TCG the lab kernels
# rarely oops while live-patching kernel text (int3 in __schedule, seen with
# and without kvmscope's programs attached; /init's kvm-hold makes it rare);
# retrying keeps that from failing a run, and the oops is printed (NOTE line) so it stays visible in
# the logs. One that comes back is a failure like any other.

# lab_boot_failed: reads the runner's output on stdin and prints the line
# that shows the lab kernel, not the command, failed (empty if none).
lab_boot_failed() {
	grep -m1 -E '^lab: kernel panic|Oops:|BUG: |rcu: INFO: rcu_preempt detected stalls|^lab: the VM stopped before the command finished' || true
}
lab_run() {
	local out rc why attempt
	out=$("$LAB_HERE/run" --timeout 300 "$@" 2>&1)
	rc=$?
	for attempt in 2 3; do
		# A lab VM that stops with no exit status and no panic reset
		# itself (a triple fault of the emulated CPU: nothing a guest
		# process can cause), seen once in a churn run.
		why=$(printf '%s\n' "$out" | lab_boot_failed)
		[ -n "$why" ] || break
		echo "NOTE lab kernel failed ($why), boot $attempt of 3" >&2
		out=$("$LAB_HERE/run" --timeout 300 "$@" 2>&1)
		rc=$?
	done
	printf '%s\n' "$out"
	return "$rc"
}
LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# lab_check_kernels NAME CHECKER: tests/lab/guest/NAME.sh (with dump.sh) in
# the lab on each kernel of $LAB_KERNELS (default: all three), its console
# in build/test-logs/NAME-KERNEL.log, then tests/e2e/CHECKER --label KERNEL
# on that log (one PASS/FAIL line per check).
lab_check_kernels() {
	local name=$1 checker=$2 kernel log rc root logs
	root=$(dirname "$(dirname "$LAB_HERE")")
	logs=$root/build/test-logs
	mkdir -p "$logs"
	for kernel in ${LAB_KERNELS:-stock-6.12 stock-6.1 patched-6.12}; do
		log=$logs/$name-$kernel.log
		lab_run --kernel "$kernel" --add "$LAB_HERE/guest/$name.sh" --add "$LAB_HERE/guest/dump.sh" -- \
			sh "/opt/kvmscope/add/$name.sh" >"$log" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			echo "FAIL $kernel: lab run exited $rc: $(tail -n 3 "$log" | tr '\n' ' ')"
			continue
		fi
		python3 "$root/tests/e2e/$checker" --label "$kernel" "$log"
	done
}
