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

# --- conventions: -h, one prefix, --version, check --json, the terminal ---
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
# -h is --help, for kvmscope and every command.
for c in "" check migrate stats rmap export; do
	h=$("$ks" $c -h 2>&1); rc=$?
	want=$("$ks" $c --help 2>&1)
	if [ $rc -eq 0 ] && [ "$h" = "$want" ] && [[ $h == "Usage: kvmscope${c:+ $c} "* ]]; then
		pass "${c:-kvmscope}: -h prints the --help page, exit 0"
	else
		fail "${c:-kvmscope}: -h prints the --help page, exit 0" "exit $rc: ${h:0:200}"
	fi
done
# Every error line starts "kvmscope COMMAND: " (or "kvmscope: " before a
# command), whatever path ran the binary: argp's own, the parsers', the runs'.
lnk=$(mktemp -d)
ln -s "$ks" "$lnk/some-name"
for t in ":--frob" ":frobnicate" "stats:stats -x" "stats:stats -i soon" "stats:stats -p 4194304" \
	"migrate:migrate --max-vms 0" "migrate:migrate -p $$" "rmap:rmap -p 4194304" "check:check extra" \
	"export:export --listen 10.1.2.3:1" "export:export --listen nowhere" "completion:completion zsh"; do
	cmd=${t%%:*} args=${t#*:}
	# shellcheck disable=SC2086
	first=$("$lnk/some-name" $args 2>&1 >/dev/null | head -n 1)
	name="prefix 'kvmscope${cmd:+ $cmd}:' on: kvmscope ${args//$$/SHELL-PID}"
	if [[ $first == "kvmscope${cmd:+ $cmd}: "* ]]; then pass "$name"; else fail "$name" "$first"; fi
done
rm -rf "$lnk"
# --version: the version and the revision the build baked in (the header
# next to the binary's objects: scripts/version-h).
hdr=$(dirname "$(dirname "$ks")")/obj/gen/version.h
rev=$(sed -n 's/^#define KS_REVISION "\(.*\)"$/\1/p' "$hdr" 2>/dev/null)
v=$("$ks" --version); sv=$("$ks" stats --version)
if [[ $v =~ ^kvmscope\ [0-9]+\.[0-9]+\ \(revision\ ([0-9a-f]{7,}(-dirty)?|unknown)\)$ ]] &&
	[ "${BASH_REMATCH[1]}" = "$rev" ] && [ "$sv" = "$v" ]; then
	pass "--version names the source revision ($v)"
else
	fail "--version names the source revision" "'$v' / '$sv', build header says '$rev'"
fi
expect "completion: only bash" 2 "usage: kvmscope completion bash" completion zsh
if out=$("$ks" completion bash) && bash -n <<<"$out" && grep -q '^complete -F _kvmscope kvmscope$' <<<"$out"; then
	pass "completion bash: a bash script that registers _kvmscope"
else
	fail "completion bash: a bash script that registers _kvmscope" "${out:0:200}"
fi
expect "export: --listen :PORT is every address, so remote" 2 "--listen :9464 is not a loopback address.*--allow-remote" \
	export --listen :9464

# check --json against the text report of the same host: the same verdict,
# the same way in for every metric. (-n: a probe, no loading.)
tj=$(mktemp -d)
"$ks" check -n >"$tj/text" 2>/dev/null; trc=$?
"$ks" check -n --json >"$tj/json" 2>/dev/null; jrc=$?
if why=$(python3 - "$tj/text" "$tj/json" "$trc" "$jrc" 2>&1 <<'PY'
import json, re, sys
text, lines, trc, jrc = open(sys.argv[1]).read(), open(sys.argv[2]).read().splitlines(), int(sys.argv[3]), int(sys.argv[4])
assert len(lines) == 1, f"{len(lines)} lines"
r = json.loads(lines[0])
assert r["type"] == "check" and r["schema"] == 2, "type/schema"
assert jrc == trc and r["ok"] == (jrc == 0), f"exit {jrc} vs text {trc}, ok {r['ok']}"
m = re.search(r"\((\d+) problems? above\)", text)
assert r["problems"] == (int(m.group(1)) if m else 0), f"problems {r['problems']}"
used = dict(re.findall(r"^  (\w+) .*\n(?:    .*\n)*?    \* \S+(?: \S+)?\s+(\S+)", text, re.M))
for mt in r["metrics"]:
    want = used.get(mt["metric"])
    assert mt["way"] == want, f"{mt['metric']}: json {mt['way']} text {want}"
    assert [w["target"] for w in mt["ways"] if w["used"]] == ([want] if want else []), mt["metric"]
    for w in mt["ways"]:
        assert w["usable"] == (w["why_not"] is None), f"{mt['metric']} {w['target']}"
assert len(r["metrics"]) == len(re.findall(r"^  \w+ {2,}", text.split("hooks (")[1], re.M)), "metric count"
assert r["load_test"]["ran"] is False, "-n ran the load test"
print(f"{len(r['metrics'])} metrics")
PY
); then
	pass "check --json: one record, the text report's verdict and ways in ($why)"
else
	fail "check --json: one record, the text report's verdict and ways in" "$why $(head -c 200 "$tj/json")"
fi
rm -rf "$tj"

# on_pty TERM STREAM OUT CMD...: CMD with STREAM (stdout or stderr) on a new
# pseudo-terminal and TERM set (unset if empty); what the terminal received
# goes to OUT, the other stream to /dev/null. Exits with CMD's status.
on_pty() {
	python3 - "$@" <<'PY'
import os, pty, subprocess, sys
term, stream, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
env = dict(os.environ)
env.pop("TERM", None)
if term:
    env["TERM"] = term
m, s = pty.openpty()
null = subprocess.DEVNULL
p = subprocess.Popen(cmd, env=env, stdin=null, stdout=s if stream == "stdout" else null,
                     stderr=s if stream == "stderr" else null)
os.close(s)
data = b""
while True:
    try:
        b = os.read(m, 65536)
    except OSError:
        break
    if not b:
        break
    data += b
open(out, "wb").write(data)
sys.exit(p.wait())
PY
}
esc=$'\e'
tp=$(mktemp -d)
# stats redraws in place only on a terminal that takes control sequences
# (before every sample: one is enough, however long a look through /proc
# takes on this host).
on_pty xterm stdout "$tp/xterm" "$ks" stats -i 20ms -d 70ms
on_pty dumb stdout "$tp/dumb" "$ks" stats -i 20ms -d 70ms
on_pty "" stdout "$tp/unset" "$ks" stats -i 20ms -d 70ms
"$ks" stats -i 20ms -d 70ms >"$tp/pipe" 2>/dev/null
if grep -q "${esc}\[H${esc}\[2J" "$tp/xterm" && ! grep -q "$esc" "$tp/dumb" "$tp/unset" "$tp/pipe" &&
	grep -q '^kvmscope stats ' "$tp/dumb"; then
	pass "stats: redraws with ANSI only on a terminal whose TERM is set and not dumb"
else
	fail "stats: redraws with ANSI only on a terminal whose TERM is set and not dumb" \
		"xterm $(grep -c "$esc" "$tp/xterm"), dumb $(grep -c "$esc" "$tp/dumb"), unset $(grep -c "$esc" "$tp/unset"), pipe $(grep -c "$esc" "$tp/pipe")"
fi
# The progress line: shown while probing on a terminal, erased before the
# error line (which then starts at column 0, alone); never in a pipe or
# under TERM=dumb. Unprivileged, migrate fails right after the probe.
unpriv=()
[ "$(id -u)" -ne 0 ] || unpriv=(setpriv --reuid=65534 --regid=65534 --clear-groups)
on_pty xterm stderr "$tp/err" "${unpriv[@]}" "$ks" migrate -d 1s
rc=$?
raw=$(cat "$tp/err")
last=${raw##*$'\r'"$esc"'[K'}
if [ $rc -eq 1 ] && [[ $raw == $'\r'"$esc[Kkvmscope migrate: probing the kernel..."* ]] &&
	[[ $last == "kvmscope migrate: not allowed to trace"*$'\r' ]] && [[ $last != *"probing"* ]]; then
	pass "migrate: a progress line on a terminal, erased before the error"
else
	fail "migrate: a progress line on a terminal, erased before the error" "exit $rc: $(cat -v "$tp/err")"
fi
on_pty dumb stderr "$tp/err-dumb" "${unpriv[@]}" "$ks" migrate -d 1s
"${unpriv[@]}" "$ks" migrate -d 1s 2>"$tp/err-pipe"
if ! grep -q "$esc\|probing" "$tp/err-dumb" "$tp/err-pipe" && [ "$(grep -c . "$tp/err-pipe")" -eq 1 ]; then
	pass "migrate: no progress line under TERM=dumb or into a pipe"
else
	fail "migrate: no progress line under TERM=dumb or into a pipe" "$(cat -v "$tp/err-dumb" "$tp/err-pipe")"
fi
rm -rf "$tp"
