#!/bin/bash
# The docs cannot drift from the code: every option that `kvmscope --help`
# and `kvmscope COMMAND --help` list, long and short, must appear in that
# command's section of the man page (docs/kvmscope.1) and of docs/usage.md,
# and be offered by the bash completion (`kvmscope completion bash`).
# argp's own options (-?/--help, --usage, -V/--version), listed by every
# command, may instead appear once in the global part. A missing one fails,
# naming the option, the command and the document.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
ks=$root/build/bin/kvmscope
BUILTIN=" -? --help --usage -V --version "

# Options of `kvmscope [COMMAND] --help`, one per line: "-x" and "--long".
options() {
	"$ks" "$@" --help | sed -nE 's/^ +(-(.), )?(--[a-z0-9-]+).*/\2 \3/p' |
		while read -r a b; do
			# printf, not echo: echo would take "-n" for its own option.
			if [ -n "$b" ]; then printf -- '-%s\n%s\n' "$a" "$b"; else printf '%s\n' "$a"; fi
		done
}
commands() { "$ks" --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+) .*/\1/p'; }

# The man page as plain text (roff escapes for '-' and fonts dropped).
man_text() { sed -E 's/\\-/-/g; s/\\f[BIRP]//g; s/\\&//g' "$1"; }
# Section of one command, or (COMMAND empty) the global part.
man_section() { # FILE COMMAND
	if [ -n "$2" ]; then
		man_text "$1" | awk -v h=".SS \"kvmscope $2\"" '$0 == h {on = 1; next} /^\.S[SH]/ {on = 0} on'
	else
		man_text "$1" | awk '/^\.SH / {on = ($0 ~ /SYNOPSIS|GLOBAL OPTIONS/)} on'
	fi
}
usage_section() { # FILE COMMAND
	if [ -n "$2" ]; then
		awk -v h="## \`kvmscope $2\`" '$0 == h {on = 1; next} /^## / {on = 0} on' "$1"
	else
		awk '/^## `kvmscope / {exit} {print}' "$1"
	fi
}
has() { # TEXT OPTION: the option as a whole token
	local re="(^|[^A-Za-z0-9_-])${2//\?/\\?}([^A-Za-z0-9_-]|$)"
	[[ $1 =~ $re ]]
}

# Each command's options, asked once.
declare -A OPTS
COMMANDS=$(commands)
OPTS[_]=$(options)
for c in $COMMANDS; do OPTS[$c]=$(options "$c"); done

# check DOC-KIND FILE: one FAIL line per option missing from FILE.
check() {
	local kind=$1 file=$2 cmd opt sec glob missing=0
	glob=$("${kind}_section" "$file" "")
	for cmd in "" $COMMANDS; do
		sec=$glob
		if [ -n "$cmd" ]; then
			sec=$("${kind}_section" "$file" "$cmd")
			if [ -z "$sec" ]; then
				echo "FAIL $kind: $(basename "$file") has no section for 'kvmscope $cmd'"
				missing=1
				continue
			fi
		fi
		for opt in ${OPTS[${cmd:-_}]}; do
			has "$sec" "$opt" && continue
			[[ $BUILTIN == *" $opt "* ]] && has "$glob" "$opt" && continue
			echo "FAIL $kind: option $opt of 'kvmscope${cmd:+ $cmd}' missing from $(basename "$file")"
			missing=1
		done
	done
	return $missing
}

[ -x "$ks" ] || { echo "FAIL docs: $ks not built"; exit 1; }
n=$(for c in _ $COMMANDS; do echo "${OPTS[$c]}"; done | grep -c .)
nc=$(wc -w <<<"$COMMANDS")
# Each document passes only with no option missing (check prints a FAIL
# line for each one that is).
status=0
check man "$root/docs/kvmscope.1" && echo "PASS man page documents all $n options of kvmscope and its $nc commands" ||
	status=1
check usage "$root/docs/usage.md" && echo "PASS docs/usage.md documents all $n options of kvmscope and its $nc commands" ||
	status=1

# The bash completion (kvmscope completion bash, which make install
# installs) offers every command and every option --help lists, each where
# it belongs; and a value of the kind its option takes.
# offered SCRIPT WORD...: what the script's _kvmscope offers for the last word.
offered() {
	local script=$1
	shift
	bash --norc --noprofile -c 'eval "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_kvmscope; [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' _ "$script" "$@"
}
# check_completion SCRIPT: one FAIL line per command or option not offered.
check_completion() {
	local script=$1 cmd opt got missing=0
	got=$(offered "$script" kvmscope "")
	for cmd in $COMMANDS; do
		grep -qxF -- "$cmd" <<<"$got" && continue
		echo "FAIL completion: command '$cmd' not offered"
		missing=1
	done
	for cmd in "" $COMMANDS; do
		# shellcheck disable=SC2086
		got=$(offered "$script" kvmscope $cmd -)
		for opt in ${OPTS[${cmd:-_}]}; do
			grep -qxF -- "$opt" <<<"$got" && continue
			echo "FAIL completion: option $opt of 'kvmscope${cmd:+ $cmd}' not offered"
			missing=1
		done
	done
	return $missing
}
comp=$("$ks" completion bash)
check_completion "$comp" &&
	echo "PASS bash completion offers all $n options of kvmscope and its $nc commands" || status=1
vals=$(cd "$root/docs" && offered "$comp" kvmscope migrate --trace kvmscope.)
valeq=$(cd "$root/docs" && offered "$comp" kvmscope migrate --trace = kvmscope.)
none=$(offered "$comp" kvmscope export --listen "")
if [ "$vals" = kvmscope.1 ] && [ "$valeq" = kvmscope.1 ] && [ -z "$none" ]; then
	echo "PASS bash completion: files after --trace (also --trace=), nothing to offer after --listen"
else
	echo "FAIL bash completion: files after --trace, nothing after --listen: got '$vals' '$valeq' '$none'"
	status=1
fi

# The check itself can fail: drop one option from copies of both documents.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/\\-\\-no\\-load//' "$root/docs/kvmscope.1" >"$tmp/kvmscope.1"
sed 's/`--no-load`//; s/`-n`//' "$root/docs/usage.md" >"$tmp/usage.md"
out=$(check man "$tmp/kvmscope.1"; check usage "$tmp/usage.md")
out+=$'\n'$(check_completion "$(sed 's/ -n --no-load//' <<<"$comp")")
if grep -q "option --no-load of 'kvmscope check' missing from kvmscope.1" <<<"$out" &&
	grep -q "option -n of 'kvmscope check' missing from usage.md" <<<"$out" &&
	grep -q "option --no-load of 'kvmscope check' not offered" <<<"$out"; then
	echo "PASS an option removed from the docs or the completion is reported by name"
else
	echo "FAIL an option removed from the docs or the completion is reported by name: got: ${out//$'\n'/; }"
	status=1
fi
exit $status
