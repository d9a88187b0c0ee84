#!/bin/bash
# tests/lab/runner/host.sh: tests of the lab runner (tests/lab/run), run by
# tests/lab/test runner.
#
# Prints one line per case, "PASS name", "FAIL name: reason" or
# "SKIP name: reason" (the test harness counts them), and exits non-zero if
# any case failed. Each boot of the lab costs ~5 s of TCG, so several cases
# share one boot: the guest half of those checks is a script delivered with
# --add, which also tests --add.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
RUN=$ROOT/tests/lab/run
# shellcheck source=tests/lab/lib.sh
. "$ROOT/tests/lab/lib.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvmscope-lab-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILED=0

pass() { printf 'PASS %s\n' "$1"; }
fail() { printf 'FAIL %s: %s\n' "$1" "$2"; FAILED=1; }
skip() { printf 'SKIP %s: %s\n' "$1" "$2"; }

ALL_CASES=(usage-error true-exits-0 quiet-console false-exits-1 exit-status-7
	args-intact add-file kvm-device svm-npt tracefs-kvm-events debugfs-kvm
	bpffs hugepages boot-stock-6.12 lab-error-125 timeout-124 boot-stock-6.1
	module-params)
skip_all() {
	local c
	for c in "${ALL_CASES[@]}"; do skip "$c" "$1"; done
	exit 0
}

command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 not installed"
command -v busybox >/dev/null || skip_all "busybox-static not installed"
# Fetch both kernels up front (a no-op when cached) so a cold cache does
# not eat into the per-boot timeouts below.
for k in stock-6.12 stock-6.1; do
	"$ROOT/scripts/lab-kernel" "$k" >/dev/null 2>"$TMP/lab-kernel.err" ||
		skip_all "lab kernel $k not available: $(tail -n 1 "$TMP/lab-kernel.err")"
done

# lab NAME ARGS...: run the runner, stdout to $TMP/NAME.out, stderr to
# $TMP/NAME.err, stdin closed as in CI; sets $rc. The generous --timeout
# only guards against hangs on a loaded machine.
# A boot whose kernel failed (tests/lab/lib.sh: lab_boot_failed; under TCG
# the lab kernels rarely oops at boot) is retried, up to three boots, with
# a RETRY line (lab_note_retry) and its console kept in build/test-logs. So
# is a timeout: every command here ends within seconds of the boot, so 180 s
# without a result is a lab kernel that hung (seen once on stock-6.1 in CI).
lab() {
	local name=$1 attempt why saved
	shift
	for attempt in 1 2 3; do
		rc=0
		"$RUN" --timeout 180 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" <&- || rc=$?
		why=$(cat "$TMP/$name.out" "$TMP/$name.err" | lab_boot_failed)
		if [ -z "$why" ] && ((rc == 124)); then
			why="no result within 180 s"
		fi
		[ -n "$why" ] && [ "$attempt" -lt 3 ] || break
		saved=$(LAB_LOG=$ROOT/build/test-logs/runner-$name lab_keep_console \
			"$(cat "$TMP/$name.out" "$TMP/$name.err")" "$attempt")
		LAB_LABEL=runner lab_note_retry "$why" $((attempt + 1)) "$saved"
	done
}
# Last line of stderr, for failure reasons.
why() { printf 'rc=%s, stderr: %s' "$rc" "$(tail -n 1 "$TMP/$1.err")"; }

# --- no boot -----------------------------------------------------------------
lab usage --no-such-option -- true
if ((rc == 125)) && grep -q '^lab: unknown option' "$TMP/usage.err"; then
	pass usage-error
else
	fail usage-error "$(why usage)"
fi

# --- stock-6.12: exit statuses ---------------------------------------------------
lab true -- true
if ((rc == 0)); then pass true-exits-0; else fail true-exits-0 "$(why true)"; fi
# Nothing of the boot may leak into the command's output.
if ((rc == 0)) && [[ ! -s $TMP/true.out && ! -s $TMP/true.err ]]; then
	pass quiet-console
else
	fail quiet-console "output of 'true': $(head -c 200 "$TMP/true.out" "$TMP/true.err" | tr '\n' '|')"
fi

lab false -- false
if ((rc == 1)); then pass false-exits-1; else fail false-exits-1 "$(why false)"; fi

# --- stock-6.12: one boot for the environment checks ---------------------------
# The guest script prints "ok NAME" or "no NAME: why" per check, "arg HEX"
# per argument it got, and exits 7.
cat >"$TMP/checks.sh" <<'EOF'
check() { name=$1; shift; if "$@"; then echo "ok $name"; else echo "no $name: $*"; fi; }
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
for a in "$@"; do echo "arg $(hex "$a")"; done
check kvm-device test -c /dev/kvm
check svm-npt sh -c 'grep -qw svm /proc/cpuinfo && grep -qw npt /proc/cpuinfo'
check tracefs-kvm-events test -d /sys/kernel/tracing/events/kvm -a -d /sys/kernel/tracing/events/kvmmmu
check debugfs-kvm test -d /sys/kernel/debug/kvm
check bpffs grep -q ' /sys/fs/bpf bpf ' /proc/mounts
check hugepages sh -c 'test "$(awk "/HugePages_Total/ {print \$2}" /proc/meminfo)" -gt 0 &&
	grep -q " /dev/hugepages hugetlbfs " /proc/mounts'
check add-file sh -c 'test "$(cat /etc/kvmscope-test/payload)" = "payload 42"'
echo "release $(uname -r)"
exit 7
EOF
echo 'payload 42' >"$TMP/payload"
# shellcheck disable=SC2016 # literal $ and ` on purpose
ARGS=("two words" "it's" '"double"' '$HOME `x` \n' '*' $'line1\nline2' '' ' lead' 'trail ')
lab env --add "$TMP/checks.sh" --add "$TMP/payload:/etc/kvmscope-test/payload" \
	-- sh /opt/kvmscope/add/checks.sh "${ARGS[@]}"
if ((rc == 7)); then pass exit-status-7; else fail exit-status-7 "$(why env)"; fi

hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
want=$(for a in "${ARGS[@]}"; do echo "arg $(hex "$a")"; done)
got=$(grep '^arg ' "$TMP/env.out")
if [[ $got == "$want" ]]; then
	pass args-intact
else
	fail args-intact "arguments changed on the way (want: $(echo "$want" | tr '\n' ' '); got: $(echo "$got" | tr '\n' ' '))"
fi

for c in add-file kvm-device svm-npt tracefs-kvm-events debugfs-kvm bpffs hugepages; do
	if grep -qx "ok $c" "$TMP/env.out"; then
		pass "$c"
	elif line=$(grep -m1 "^no $c:" "$TMP/env.out"); then
		fail "$c" "check failed in the lab: ${line#no "$c": }"
	else
		fail "$c" "no result from the lab ($(why env))"
	fi
done

# shellcheck disable=SC1091 # plain KEY=value lines
. "$ROOT/lab.conf"
if grep -qx "release $LAB_612_RELEASE" "$TMP/env.out"; then
	pass boot-stock-6.12
else
	fail boot-stock-6.12 "expected release $LAB_612_RELEASE ($(why env))"
fi

# --- lab failures ------------------------------------------------------------------
# An invalid module parameter makes insmod kvm-amd fail: a lab error.
lab laberr --append kvm_amd.npt=bogus -- true
if ((rc == 125)) && tail -n 1 "$TMP/laberr.err" | grep -q '^lab: lab setup failed: insmod kvm-amd.ko'; then
	pass lab-error-125
else
	fail lab-error-125 "$(why laberr)"
fi

# How soon the runner stops a VM past its timeout is a timing figure, not
# judged here: the status and the message are.
start=$SECONDS
rc=0
"$RUN" --timeout 5 -- sleep 600 >"$TMP/timeout.out" 2>"$TMP/timeout.err" <&- || rc=$?
echo "NOTE timeout-124: --timeout 5 returned after $((SECONDS - start)) s"
if ((rc == 124)) && grep -q '^lab: timeout' "$TMP/timeout.err"; then
	pass timeout-124
else
	fail timeout-124 "$(why timeout)"
fi

# --- stock-6.1, with a module parameter from the command line --------------------
# shellcheck disable=SC2016 # expanded in the lab
lab k61 --kernel stock-6.1 --append kvm_amd.npt=0 \
	-- sh -c 'uname -r; test -c /dev/kvm && echo kvm; echo "npt=$(cat /sys/module/kvm_amd/parameters/npt)"'
if ((rc == 0)) && grep -qx "$LAB_61_RELEASE" "$TMP/k61.out" && grep -qx kvm "$TMP/k61.out"; then
	pass boot-stock-6.1
else
	fail boot-stock-6.1 "expected $LAB_61_RELEASE with /dev/kvm ($(why k61))"
fi
if grep -qx 'npt=N' "$TMP/k61.out"; then
	pass module-params
else
	fail module-params "kvm_amd.npt=0 not applied: $(grep '^npt=' "$TMP/k61.out" || why k61)"
fi

exit "$FAILED"
