# shellcheck shell=bash
# Shared by the lab tests' runner (tests/lab/test), the runner's own tests,
# kernel/test-lab and bench/run (sourced).
#
# lab_run ARGS...: tests/lab/run --timeout ${LAB_TIMEOUT:-300} ARGS..., but a boot whose
# kernel panicked, oopsed or stalled (an RCU stall: a lab CPU stuck in
# nested guest mode under TCG, seen once running QEMU nested), whose VM
# reset itself, that never booted to the command (a timeout with the
# console silent), or whose kvmload guest stopped making progress
# (kvmload's phase watchdog: a nested guest stuck under TCG), is retried,
# up to three boots in all. Under TCG the lab
# kernels rarely oops while live-patching kernel text (int3 in __schedule,
# seen with and without kvmscope's programs attached; /init's kvm-hold makes
# it rare); retrying keeps that from failing a run, but never silently:
#   - each retried boot prints a "RETRY" line (stderr) naming why and where
#     its console was kept ($LAB_LOG.bootN.log), and appends that line to
#     $LAB_RETRY_FILE when set (tests/run lists them in its summary);
#   - a crash whose trace involves BPF programs or kvmscope itself is a
#     failure, never retried: a "FAIL" line, status 125;
#   - a kernel that fails in all three boots is a failure too (status 125
#     if the command itself exited 0).
# With LAB_HANG_RETRY=1 (a caller whose command ends within a minute of
# the boot), a run that timed out is a hung lab kernel and retried too.
# LAB_LOG: the path prefix of kept consoles (default
# build/test-logs/lab-PID).

LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_ROOT=$(dirname "$(dirname "$LAB_HERE")")

# lab_boot_failed: reads the runner's output on stdin and prints the line
# that shows the lab kernel, not the command, failed (empty if none).
lab_boot_failed() {
	grep -a -m1 -E '^lab: kernel panic|Oops:|BUG: |rcu: INFO: rcu_preempt detected stalls|^lab: the VM stopped before the command finished|^kvmload: vCPU [0-9]+: .* did not finish within [0-9]+ s|^lab: timeout: the lab did not boot' || true
}

# lab_bpf_crash: reads the runner's output on stdin and prints the first
# kernel line of a crash report (from its first line to its end marker)
# that names a BPF program, a BPF trampoline or kvmscope, e.g. "Comm:
# kvmscope" (empty if none). Kernel lines carry printk's timestamp; the
# command's own output, interleaved, does not count.
lab_bpf_crash() {
	awk '
		!on && /Oops:|BUG: |Kernel panic - not syncing|general protection fault|^lab: kernel panic/ { on = 1; n = 0 }
		on && /^\[ *[0-9]+\.[0-9]+\]/ && /bpf_prog_|bpf_trampoline|kvmscope/ { print; exit }
		on && (/---\[ end trace/ || ++n > 200) { on = 0 }
	'
}

# lab_keep_console OUTPUT N: keeps a failed boot's output as
# $LAB_LOG.bootN.log; prints that path.
lab_keep_console() {
	local base=${LAB_LOG:-$LAB_ROOT/build/test-logs/lab-$$} f
	f=$base.boot$2.log
	mkdir -p "$(dirname "$f")"
	printf '%s\n' "$1" >"$f"
	printf '%s\n' "${f#"$LAB_ROOT"/}"
}

# lab_note_retry WHY BOOT CONSOLE: the RETRY line of a retried boot.
lab_note_retry() {
	local line="RETRY ${LAB_LABEL:+$LAB_LABEL: }lab kernel failed ($1), boot $2 of 3; failed console: $3"
	printf '%s\n' "$line" >&2
	if [ -n "${LAB_RETRY_FILE:-}" ]; then printf '%s\n' "$line" >>"$LAB_RETRY_FILE"; fi
}

lab_run() {
	local out rc why attempt crash saved timeout=${LAB_TIMEOUT:-300}
	out=$("$LAB_HERE/run" --timeout "$timeout" "$@" 2>&1)
	rc=$?
	for attempt in 2 3 4; do
		why=$(printf '%s\n' "$out" | lab_boot_failed)
		if [ -z "$why" ] && [ "$rc" = 124 ] && [ "${LAB_HANG_RETRY:-0}" = 1 ]; then
			why="no result within $timeout s"
		fi
		[ -n "$why" ] || break
		saved=$(lab_keep_console "$out" $((attempt - 1)))
		crash=$(printf '%s\n' "$out" | lab_bpf_crash)
		if [ -n "$crash" ]; then
			printf '%s\n' "$out"
			echo "FAIL ${LAB_LABEL:+$LAB_LABEL: }lab kernel crashed with BPF programs or kvmscope in its trace, not retried ($why; $crash; console: $saved)"
			return 125
		fi
		if [ "$attempt" = 4 ]; then
			printf '%s\n' "$out"
			echo "FAIL ${LAB_LABEL:+$LAB_LABEL: }lab kernel failed in 3 boots ($why; last console: $saved)"
			[ "$rc" -ne 0 ] || rc=125
			return "$rc"
		fi
		lab_note_retry "$why" "$attempt" "$saved"
		out=$("$LAB_HERE/run" --timeout "$timeout" "$@" 2>&1)
		rc=$?
	done
	printf '%s\n' "$out"
	return "$rc"
}
