#!/bin/bash
# make install / uninstall into a temporary DESTDIR: the binary, the man
# page, the bash completion, the systemd unit and the deployment files
# (deploy/) land under PREFIX, the man page renders without a single
# warning, and uninstall leaves no file behind. (The unit's and the rules'
# contents: test-deploy.py.)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
mk() { make -C "$root" --no-print-directory -s "$@" 2>&1; }
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

prefix=/usr/local
if out=$(mk install PREFIX=$prefix DESTDIR="$dest"); then
	pass "make install PREFIX=$prefix DESTDIR=..."
else
	fail "make install PREFIX=$prefix DESTDIR=..." "$out"
fi
bin=$dest$prefix/bin/kvmscope man1=$dest$prefix/share/man/man1/kvmscope.1
comp=$dest$prefix/share/bash-completion/completions/kvmscope
[ "$(stat -c %a "$bin" 2>/dev/null)" = 755 ] && [ "$(stat -c %a "$man1" 2>/dev/null)" = 644 ] &&
	[ "$(stat -c %a "$comp" 2>/dev/null)" = 644 ] &&
	pass "binary (0755), man page and bash completion (0644) installed under PREFIX" ||
	fail "binary (0755), man page and bash completion (0644) installed under PREFIX" "$(find "$dest" -type f -printf '%m %p\n')"
# The systemd unit, its ExecStart the installed binary (PREFIX, not DESTDIR),
# and deploy/'s Prometheus and Grafana files as they are in the tree.
unit=$dest$prefix/lib/systemd/system/kvmscope-export.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit" 2>/dev/null)
[ "$(stat -c %a "$unit" 2>/dev/null)" = 644 ] && [[ $exec_start == "$prefix/bin/kvmscope export "* ]] &&
	! grep -q '@BINDIR@' "$unit" &&
	pass "systemd unit (0644) in PREFIX/lib/systemd/system, ExecStart=$exec_start" ||
	fail "systemd unit (0644) in PREFIX/lib/systemd/system" "ExecStart=$exec_start; $(ls -l "$unit" 2>&1)"
bad=()
for f in prometheus/kvmscope.rules.yml prometheus/kvmscope.rules.test.yml prometheus/scrape.yml grafana/kvmscope.json; do
	i=$dest$prefix/share/kvmscope/$f
	{ [ "$(stat -c %a "$i" 2>/dev/null)" = 644 ] && cmp -s "$i" "$root/deploy/$f"; } || bad+=("$f")
done
[ ${#bad[@]} -eq 0 ] && pass "deploy/ rules, their tests, scrape config and dashboard (0644) in PREFIX/share/kvmscope" ||
	fail "deploy/ files in PREFIX/share/kvmscope" "missing or different: ${bad[*]}"
# The completion installed is what the binary writes, and bash loads it.
if cmp -s "$comp" <("$bin" completion bash) &&
	bash --norc --noprofile -c ". '$comp' && complete -p kvmscope" 2>&1 | grep -q '_kvmscope'; then
	pass "installed bash completion is the binary's own and registers for kvmscope"
else
	fail "installed bash completion is the binary's own and registers for kvmscope" "$(head -c 200 "$comp")"
fi
v=$("$bin" --version 2>&1) && [[ $v == kvmscope* ]] && cmp -s "$bin" "$root/build/bin/kvmscope" &&
	pass "installed binary is the build's and runs ($v)" ||
	fail "installed binary is the build's and runs" "$v"

# groff with every warning enabled; man-db's own checks too.
warn=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$man1" 2>&1)
[ -z "$warn" ] && pass "groff -man -ww renders the man page without warnings" ||
	fail "groff -man -ww renders the man page without warnings" "$warn"
text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$man1" 2>"$dest/man.err")
missing=()
for s in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" EXAMPLES "kvmscope check" "kvmscope migrate" \
	"kvmscope stats" "kvmscope rmap" "kvmscope export"; do
	grep -q "^ *$s\$" <<<"$text" || missing+=("$s")
done
[ ! -s "$dest/man.err" ] && [ ${#missing[@]} -eq 0 ] &&
	pass "man -l shows every section and command heading" ||
	fail "man -l shows every section and command heading" "missing: ${missing[*]} $(cat "$dest/man.err")"

if out=$(mk uninstall PREFIX=$prefix DESTDIR="$dest") && [ -z "$(find "$dest" -type f ! -name man.err)" ] &&
	[ ! -e "$dest$prefix/share/kvmscope" ]; then
	pass "make uninstall leaves no file (nor share/kvmscope)"
else
	fail "make uninstall leaves no file (nor share/kvmscope)" "$out $(find "$dest" -type f) $(find "$dest$prefix/share/kvmscope" 2>/dev/null)"
fi
# Another PREFIX is honoured.
mk install PREFIX=/opt/ks DESTDIR="$dest/o" >/dev/null
[ -x "$dest/o/opt/ks/bin/kvmscope" ] && [ -f "$dest/o/opt/ks/share/man/man1/kvmscope.1" ] &&
	pass "PREFIX=/opt/ks honoured" || fail "PREFIX=/opt/ks honoured" "$(find "$dest/o" -type f)"
