#!/bin/bash
# Command-line handling of kvmscope, without a kernel: bad input gets one
# clear line on stderr and the documented exit status, never a crash.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# KVMSCOPE: the binary under test (the sanitize tier passes its own build).
ks=${KVMSCOPE:-$root/build/bin/kvmscope}

expect() { # NAME STATUS STDERR-PATTERN ARGS...
	local name=$1 want=$2 pattern=$3 err rc lines
	shift 3
	err=$("$ks" "$@" 2>&1 >/dev/null)
	rc=$?
	# Lines besides argp's "Try --help" hint (which it may wrap).
	lines=$(printf '%s\n' "$err" | grep -vE '^Try |^information' | grep -c .)
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL $name: exit $rc, want $want (stderr: $err)"
	# A here-string, not a pipe: with pipefail, grep -q leaving early
	# makes printf die of SIGPIPE and the match count as a failure.
	elif ! grep -qE -e "$pattern" <<<"$err"; then
		echo "FAIL $name: stderr does not match /$pattern/: $err"
	elif [ "$want" -ne 0 ] && [ "$lines" -ne 1 ]; then
		echo "FAIL $name: $lines lines on stderr: $err"
	else
		echo "PASS $name"
	fi
}

expect "no command" 2 "missing COMMAND"
expect "unknown command" 2 "unknown command 'frobnicate'" frobnicate
expect "unknown option" 2 "unrecognized option" --frob
expect "check: stray argument" 2 "unexpected argument" check extra
expect "migrate: PID zero" 2 "invalid PID" migrate -p 0
expect "migrate: PID negative" 2 "invalid PID" migrate -p -5
expect "migrate: PID garbage" 2 "invalid PID" migrate -p 12abc
expect "migrate: PID huge" 2 "invalid PID" migrate -p 99999999999
expect "migrate: interval too small" 2 "out of range" migrate -i 1ms
expect "migrate: interval garbage" 2 "invalid duration" migrate -i soon
expect "migrate: interval bad unit" 2 "unit" migrate -i 5parsecs
expect "migrate: duration huge" 2 "out of range|too large" migrate -d 999999999h
expect "migrate: duration negative" 2 "invalid duration" migrate -d -1s
expect "migrate: --max-vms zero" 2 "--max-vms: '0' is out of range \\[1, 2048\\]" migrate --max-vms 0
expect "migrate: --max-vms huge" 2 "--max-vms: '4096' is out of range" migrate --max-vms 4096
expect "migrate: --max-vms negative" 2 "--max-vms: '-1' is not a non-negative integer" migrate --max-vms -1
expect "export: --max-vms garbage" 2 "--max-vms: '3x' is not a non-negative integer" export --max-vms 3x
expect "export: --max-vms 2^64" 2 "--max-vms: .18446744073709551616. is too large" export --max-vms 18446744073709551616
# The fault-path options are switches, in both commands that load programs.
expect "migrate: --fault-program takes no value" 2 "fault-program' doesn't allow an argument" \
	migrate --fault-program=yes
expect "export: --fault-program takes no value" 2 "fault-program' doesn't allow an argument" \
	export --fault-program=1
expect "export: --fault-latency takes no value" 2 "fault-latency' doesn't allow an argument" \
	export --fault-latency=on
# Hostile values are echoed escaped: still one line, no raw control bytes.
expect "migrate: PID with a newline" 2 "invalid PID: '1\\\\n2'" migrate -p $'1\n2'
expect "stats: interval with a terminal escape" 2 "invalid duration '\\\\x1b\\[2J'" stats -i $'\e[2J'
expect "rmap: duration of 10000 bytes" 2 "invalid duration" rmap -d "$(printf 'x%.0s' {1..10000})"
# Unprivileged where this runs as root: the BPF load fails, so the run
# fails before it starts.
unpriv_early=()
[ "$(id -u)" -ne 0 ] || unpriv_early=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# --trace never writes through a symlink (kvmscope runs as root).
tmpd=$(mktemp -d)
ln -s "$tmpd/victim" "$tmpd/link"
expect "migrate: --trace to a symlink refused" 1 "--trace $tmpd/link: a component of the path is a symbolic link" \
	migrate --trace "$tmpd/link" -d 10ms
if [ -e "$tmpd/victim" ]; then echo "FAIL migrate: --trace wrote through the symlink"; else echo "PASS migrate: --trace left the symlink's target alone"; fi
rm -rf "$tmpd"
# A PID that cannot exist (above pid_max) and one that is not a VMM.
expect "migrate: no such process" 1 "no process with PID 4194304" migrate -p 4194304
expect "migrate: not a VMM" 1 "PID $$ is not a VMM" migrate -p $$
expect "migrate: --trace empty" 2 "empty file name" migrate --trace ""
expect "migrate: --trace missing directory" 1 "--trace /nonexistent-kvmscope/t.json: No such file" \
	migrate --trace /nonexistent-kvmscope/t.json
expect "migrate: --trace to a device refused" 1 "--trace /dev/full: not a regular file" migrate -t /dev/full
# --trace to a FIFO, a directory, or through a symlinked directory: refused
# at once (a FIFO without a reader would block the open), and an existing
# file is not emptied by a run that fails before it starts.
tmpd=$(mktemp -d)
mkfifo "$tmpd/fifo"
mkdir "$tmpd/real"
echo keep >"$tmpd/real/old.json"
ln -s "$tmpd/real" "$tmpd/dirlink"
err=$(timeout 10 "$ks" migrate -d 10ms --trace "$tmpd/fifo" 2>&1 >/dev/null); rc=$?
if [ $rc = 1 ] && grep -q "fifo: not a regular file" <<<"$err"; then
	echo "PASS migrate: --trace to a FIFO refused at once"
else
	echo "FAIL migrate: --trace to a FIFO refused at once: exit $rc: $err"
fi
expect "migrate: --trace to a directory refused" 1 "--trace $tmpd/real: Is a directory" \
	migrate --trace "$tmpd/real" -d 10ms
expect "migrate: --trace through a symlinked directory refused" 1 \
	"--trace $tmpd/dirlink/old.json: a component of the path is a symbolic link" \
	migrate --trace "$tmpd/dirlink/old.json" -d 10ms
expect "migrate: --trace name escaped" 1 "--trace $tmpd/a\\\\nb\\\\x1b" \
	migrate --trace "$tmpd/a"$'\n'"b"$'\e'"/t.json" -d 10ms
"${unpriv_early[@]}" "$ks" migrate -d 10ms --trace "$tmpd/real/old.json" >/dev/null 2>&1
if [ "$(cat "$tmpd/real/old.json")" = keep ]; then
	echo "PASS migrate: a run that fails before it starts leaves an existing --trace file as it was"
else
	echo "FAIL migrate: an existing --trace file was changed by a run that never started: $(head -c 100 "$tmpd/real/old.json")"
fi
rm -rf "$tmpd"
expect "stats: PID garbage" 2 "invalid PID" stats -p x1
expect "stats: interval below 10ms" 2 "out of range" stats -i 5ms
expect "stats: empty filter" 2 "filter" stats --filter ""
expect "stats: filter of commas" 2 "no names" stats --filter ,,,
expect "stats: no such process" 1 "no process with PID 4194304" stats -p 4194304
expect "stats: not a VMM" 1 "PID $$ is not a VMM" stats -p $$
expect "rmap: PID zero" 2 "invalid PID" rmap -p 0
expect "rmap: duration garbage" 2 "invalid duration" rmap -d forever
expect "rmap: no such process" 1 "no process with PID 4194304" rmap -p 4194304
expect "unknown command: escaped and cut" 2 "unknown command 'mi\\\\ngr\\\\x1b\\[2J" $'mi\ngr\e[2J'
err=$("$ks" "$(printf 'x%.0s' {1..10000})" 2>&1 >/dev/null); rc=$?
if [ $rc = 2 ] && [ "${#err}" -lt 200 ] && grep -q "unknown command 'xxxxxxxxxx" <<<"$err"; then
	echo "PASS unknown command of 10000 bytes: cut (${#err} bytes)"
else
	echo "FAIL unknown command of 10000 bytes: cut: exit $rc, ${#err} bytes"
fi
# Output that cannot be written fails the run, whatever the command.
err=$("$ks" stats -d 200ms 2>&1 >/dev/full); rc=$?
if [ $rc = 1 ] && [ "$(grep -c . <<<"$err")" = 1 ] && grep -q "output failed: No space left" <<<"$err"; then
	echo "PASS stats > /dev/full: one line, exit 1"
else
	echo "FAIL stats > /dev/full: exit $rc: $err"
fi
# SIGHUP and SIGQUIT end stats as SIGTERM does: exit 0.
for sig in HUP QUIT TERM; do
	"$ks" stats -i 100ms >/dev/null 2>&1 &
	pid=$!
	sleep 0.5
	kill -$sig $pid
	wait $pid
	rc=$?
	if [ $rc = 0 ]; then echo "PASS stats: SIG$sig ends it, exit 0"; else echo "FAIL stats: SIG$sig ends it, exit 0: exit $rc"; fi
done
if out=$("$ks" --help 2>&1) && grep -q migrate <<<"$out"; then
	echo "PASS --help lists the commands"
else
	echo "FAIL --help lists the commands: $out"
fi
# A run that fails after --trace created its file (unprivileged: the BPF
# load fails) still leaves a complete, valid trace.
tdir=$(mktemp -d)
chmod 777 "$tdir"
unpriv=()
[ "$(id -u)" -ne 0 ] || unpriv=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${unpriv[@]}" "$ks" migrate -d 1s --trace "$tdir/t.json" >/dev/null 2>"$tdir/err"
rc=$?
if [ "$rc" -eq 1 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["traceEvents"] == []' \
	"$tdir/t.json" 2>/dev/null; then
	echo "PASS migrate: failed unprivileged run leaves a valid empty trace"
else
	echo "FAIL migrate: failed unprivileged run leaves a valid empty trace: exit $rc, $(cat "$tdir/err"), file: $(head -c 200 "$tdir/t.json")"
fi
rm -rf "$tdir"
