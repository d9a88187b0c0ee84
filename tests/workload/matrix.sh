#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Test kvmload against the host's /dev/kvm: bad arguments, the
# backing x mode x vcpus x slots x write-percent matrix, and the failure
# paths (--inject-fault).  Runs that exit 4 (no KVM, no hugepages reserved)
# count as skipped, so this also passes, vacuously, where KVM is absent.
#
# Usage: tests/workload/matrix.sh [--quick] [KVMLOAD]
#   KVMLOAD defaults to build/bin/kvmload.  --quick runs one row per
#   backing x mode instead of the full 72-run matrix (~1.5 min on a dev VM).
# hugetlb rows need free 2 MiB pages: echo 256 > /proc/sys/vm/nr_hugepages
set -u

here=$(cd "$(dirname "$0")" && pwd)
quick=0
if [ "${1:-}" = --quick ]; then quick=1; shift; fi
bin=${1:-build/bin/kvmload}
[ -x "$bin" ] || { echo "matrix.sh: no executable $bin" >&2; exit 2; }
have_python=0
command -v python3 >/dev/null && have_python=1

pass=0 fail=0 skip=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok()   { pass=$((pass + 1)); echo "PASS $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL $1: $2"; }
skipped() { skip=$((skip + 1)); echo "SKIP $1: $2"; }

# usage_case ARGS...: must exit 2 with one line on stderr, nothing on stdout.
usage_case() {
	local name="usage: $*"
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ $rc -ne 2 ]; then bad "$name" "exit $rc, expected 2"
	elif [ -s "$tmp/out" ]; then bad "$name" "wrote to stdout"
	elif [ "$(wc -l <"$tmp/err")" -ne 1 ]; then bad "$name" "stderr is not one line"
	else ok "$name"; fi
}

# run_case ARGS...: a --json run that must succeed and be self-consistent.
run_case() {
	local name="run: $*"
	"$bin" --json "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ $rc -eq 4 ]; then skipped "$name" "$(head -1 "$tmp/err")"; return; fi
	if [ $rc -ne 0 ]; then bad "$name" "exit $rc: $(head -1 "$tmp/err")"; return; fi
	if [ $have_python = 1 ] && ! python3 "$here/check-json.py" <"$tmp/out" 2>"$tmp/chk"; then
		bad "$name" "$(head -1 "$tmp/chk")"; return
	fi
	ok "$name"
}

# fault_case KIND PATTERN: the injected fault must exit 1 naming the problem.
fault_case() {
	local name="fault: $1"
	"$bin" --json --mem-per-vcpu 8 --inject-fault "$1" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ $rc -eq 4 ]; then skipped "$name" "$(head -1 "$tmp/err")"; return; fi
	if [ $rc -ne 1 ]; then bad "$name" "exit $rc, expected 1"; return; fi
	if ! grep -q "$2" "$tmp/err"; then bad "$name" "stderr lacks '$2'"; return; fi
	if ! tail -1 "$tmp/out" | grep -q '"type":"summary","ts_ns":[0-9]*,"ok":false,"exit_code":1'; then
		bad "$name" "no failing summary record"; return
	fi
	ok "$name"
}

for args in "--vcpus 0" "--vcpus -1" "--vcpus abc" "--vcpus 257" "--vcpus 2x" \
	    "--vcpus 99999999999999999999999" "--mem-per-vcpu 0" \
	    "--mem-per-vcpu 1" "--vcpus 64 --mem-per-vcpu 64" "--slots 0" \
	    "--slots 3" "--backing ram" "--mode dirty" "--iterations 0" \
	    "--write-percent 0" "--write-percent 101" "--write-percent 5.5" \
	    "--clear-chunk-pages 100 --mode manual" "--clear-chunk-pages 64" \
	    "--pause-ms -1" "--hold-ms x" "--json=yes" "--bogus" "stray" "--vcpus" \
	    "--stats-reads 1001" "--stats-reads x" "--stats-reads 2 --no-stats-fd" \
	    "--stats-fd-delay-ms 60001" "--stats-fd-delay-ms 10 --no-stats-fd"; do
	# shellcheck disable=SC2086  # word splitting is the point
	usage_case $args
done
if "$bin" --help | grep -q -- --write-percent; then ok "help"; else bad "help" "no usage text"; fi

rows=()
for b in anon thp hugetlb; do
	for m in get manual manual-init-set; do
		if [ $quick = 1 ]; then
			rows+=("--backing $b --mode $m --vcpus 2 --slots 3 --mem-per-vcpu 12 --write-percent 30")
			continue
		fi
		for v in 1 2; do for s in 1 3; do for p in 100 30; do
			rows+=("--backing $b --mode $m --vcpus $v --slots $s --mem-per-vcpu 48 --write-percent $p")
		done; done; done
	done
done
rows+=("--vcpus 2 --mem-per-vcpu 64 --backing thp --iterations 3 --mode manual-init-set")
rows+=("--vcpus 2 --mem-per-vcpu 16 --backing thp --iterations 2 --mode manual-init-set --stats-reads 3")
rows+=("--vcpus 2 --mem-per-vcpu 10 --slots 5 --mode manual --clear-chunk-pages 192 --iterations 5 --write-percent 45 --pause-ms 5 --hold-ms 5")
# Every test slot in address space 1 too (x86 SMM; skipped where KVM has one).
rows+=("--vcpus 2 --mem-per-vcpu 8 --slots 2 --mode get --smm-slots")
rows+=("--vcpus 2 --mem-per-vcpu 8 --slots 2 --mode manual-init-set --smm-slots --write-percent 40")
# 256 slots of 64 pages (4 KiB backing only), and their usage errors.
rows+=("--vcpus 2 --mem-per-vcpu 32 --slots 256 --mode manual --iterations 2 --write-percent 40")
for args in "--slots 256 --backing thp" "--slots 200" "--backing hugetlb-1g --mem-per-vcpu 100" \
	    "--backing 1g"; do
	# shellcheck disable=SC2086  # word splitting is the point
	usage_case $args
done
for r in "${rows[@]}"; do
	# shellcheck disable=SC2086
	run_case $r
done

fault_case lost-dirty "written by the guest but not reported dirty"
fault_case extra-dirty "reported dirty by KVM_GET_DIRTY_LOG but not written"
fault_case bad-value "host memory holds tag"

"$bin" --mem-per-vcpu 4 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 4 ]; then skipped "human output" "$(head -1 "$tmp/err")"
elif [ $rc -eq 0 ] && grep -q '^ok: 3 iteration' "$tmp/out"; then ok "human output"
else bad "human output" "exit $rc"; fi

echo "matrix: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
