#!/bin/sh
# In the lab: kvmload in every backing × mode, 2 vCPUs, 2 memslots, half the
# pages written per iteration. kvmload checks its own invariants (every
# written page reported dirty, no unexpected ones); this script checks that
# it says so and that its ground truth has the records the tracer tests rely
# on. One PASS/FAIL line per case.
ITER=3
SLOTS=2
for backing in anon thp hugetlb; do
	for mode in get manual manual-init-set; do
		name="kvmload $backing $mode"
		out=/tmp/kvmload-$backing-$mode.json
		if ! kvmload --vcpus 2 --mem-per-vcpu 16 --slots $SLOTS --backing $backing \
			--iterations $ITER --write-percent 50 --mode $mode --json >"$out" 2>/tmp/err; then
			echo "FAIL $name: exit $? ($(head -c 300 /tmp/err))"
			continue
		fi
		gets=$(grep -c '"op":"get_dirty_log"' "$out")
		clears=$(grep -c '"op":"clear_dirty_log"' "$out")
		enables=$(grep -c '"op":"enable_log"' "$out")
		slots=$(grep -c '"type":"slot"' "$out")
		want_clears=0
		[ "$mode" = get ] || want_clears=$((ITER * SLOTS))
		if ! grep -q '"type":"summary".*"ok":true' "$out"; then
			echo "FAIL $name: summary not ok: $(grep '"summary"' "$out" | head -c 300)"
		elif grep -q '"pages_missing":[1-9]' "$out"; then
			echo "FAIL $name: a written page was not reported dirty"
		elif [ "$gets" -ne $((ITER * SLOTS)) ] || [ "$slots" -ne $((ITER * SLOTS)) ] ||
			[ "$enables" -ne "$SLOTS" ]; then
			echo "FAIL $name: $gets gets, $slots slot records, $enables enables (want $((ITER * SLOTS)), $((ITER * SLOTS)), $SLOTS)"
		elif [ "$mode" != get ] && [ "$clears" -lt "$want_clears" ]; then
			echo "FAIL $name: $clears clears, want at least $want_clears"
		elif [ "$mode" = get ] && [ "$clears" -ne 0 ]; then
			echo "FAIL $name: $clears clears in get mode"
		else
			echo "PASS $name ($gets gets, $clears clears, all written pages reported dirty)"
		fi
	done
done

# The phase watchdog: a guest that never finishes its last iteration ends
# as kvmload's error naming the vCPU, the phase and the guest's rip, within
# --phase-timeout, instead of hanging the lab until its timeout.
name="kvmload --phase-timeout: a hung guest is an error"
start=$(date +%s)
kvmload --vcpus 2 --mem-per-vcpu 16 --iterations 2 --inject-fault hang --phase-timeout 3 \
	>/dev/null 2>/tmp/err
rc=$?
took=$(($(date +%s) - start))
if [ $rc -ne 1 ]; then
	echo "FAIL $name: exit $rc, want 1 ($(head -c 300 /tmp/err))"
elif ! grep -q 'vCPU [01]: iteration 1 did not finish within 3 s: .* guest at rip 0x[0-9a-f]* (2 of 2 vCPUs late)' /tmp/err; then
	echo "FAIL $name: message: $(head -c 300 /tmp/err)"
elif [ "$took" -gt 60 ]; then
	echo "FAIL $name: took $took s"
else
	echo "PASS $name ($(grep -o 'vCPU [01]: iteration 1.*' /tmp/err | head -c 160); $took s)"
fi
