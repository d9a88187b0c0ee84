# Sourced by the guest scripts that run many kvmload VMs under tracers
# (churn.sh, vm-table.sh): prints their results as the "=== NAME"
# sections the checkers on the host split the console log into
# (tests/lab/labcheck.py).

# dump_vms DIR N TAG: "=== kvmload TAG=<DIR/i.TAG> exit=<DIR/i.rc>", then
# kvmload's ground truth and errors, for VMs 1..N. TAG "name" is the
# VM's own name (no "name=").
dump_vms() {
	_i=0
	while [ $_i -lt "$2" ]; do
		_i=$((_i + 1))
		if [ "$3" = name ]; then _t=$(cat "$1/$_i.name"); else _t="$3=$(cat "$1/$_i.$3")"; fi
		echo "=== kvmload $_t exit=$(cat "$1/$_i.rc")"
		cat "$1/$_i.json" "$1/$_i.err"
	done
}

# dump_tracer NAME RC OUT ERR: a tracer's exit status, output and stderr.
dump_tracer() {
	echo "=== $1 exit=$2"
	cat "$3"
	echo "=== $1 stderr"
	cat "$4"
}
