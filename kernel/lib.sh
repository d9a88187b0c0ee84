# shellcheck shell=bash
# kernel/lib.sh: shared by the kernel/ scripts (sourced, not executed).
#
# Two target kernels, each with its own series and cache directory:
#   6.12 (default)  kernel/patches/      $CACHE/patched-kvm/      lab kernel patched-6.12
#   6.1             kernel/patches-6.1/  $CACHE/patched-kvm-6.1/  lab kernel patched-6.1
# A script picks one with --kernel VER (parse_target) or KVMSCOPE_KVM_KERNEL,
# then calls load_lab_conf. The source tree of a target lives in the cache:
#   $CACHE/src/linux-source-<VER>_<PKGVER>_all.deb         Debian source package
#   $CACHE/src/linux-headers-<RELEASE>_<PKGVER>_amd64.deb  .config, Module.symvers
#   $PKVM/tree/       git repo of the unpacked tarball: commit "base" (tag
#                     kvmscope-base) is the tarball as shipped; build outputs
#                     live here too (git-ignored)
#   $PKVM/tree.stamp  which source package the tree was made from
#   $PKVM/.lock       one writer of tree/ at a time (flock)
# Versions come from lab.conf only: LAB_612_RELEASE/LAB_612_PKGVER for 6.12,
# LAB_61_RELEASE/LAB_61_PKGVER for 6.1.
#
# The headers package is downloaded and unpacked, never installed: it
# depends on linux-image-<RELEASE>, which must not be installed on the
# build machine (see docs/kernel.md).

KROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KDIR_SELF=$KROOT/kernel
CACHE=${KVMSCOPE_CACHE:-$KROOT/.cache}
BASE_TAG=kvmscope-base
# The target kernel series: see set_target.
TARGETS=(6.12 6.1)
# Identity for the commits git am creates in the cache tree (never pushed).
GIT_ID=(-c user.name="kvmscope developers" -c user.email=kvmscope@localhost
	-c advice.detachedHead=false -c core.autocrlf=false -c gc.auto=0)

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 ||
			die "'$t' not found (install it: see docs/kernel.md, 'Build requirements')"
	done
}

# set_target VER: the target kernel series (6.12 or 6.1): VER, the source
# package SRCPKG, the lab.conf prefix LABVAR, the series directory PATCHES,
# the cache directory PKVM (and TREE in it), the lab kernels STOCK_KERNEL
# and PATCHED_KERNEL. Returns 1 for an unknown VER.
# shellcheck disable=SC2034 # read by the scripts that source this file
set_target() {
	case $1 in
	6.12) PATCHES=$KDIR_SELF/patches PKVM=$CACHE/patched-kvm ;;
	6.1) PATCHES=$KDIR_SELF/patches-6.1 PKVM=$CACHE/patched-kvm-6.1 ;;
	*) return 1 ;;
	esac
	VER=$1
	SRCPKG=linux-source-$VER
	LABVAR=LAB_${VER//./}
	TREE=$PKVM/tree
	STOCK_KERNEL=stock-$VER
	PATCHED_KERNEL=patched-$VER
}

# parse_target ARG: for the scripts' --kernel option.
parse_target() {
	set_target "$1" || die "unknown target kernel '$1' (one of: ${TARGETS[*]})"
}
# Default: KVMSCOPE_KVM_KERNEL, else 6.12 (an unknown value fails in
# load_lab_conf).
set_target "${KVMSCOPE_KVM_KERNEL:-6.12}" || VER=

# load_lab_conf: RELEASE and PKGVER of the target's lab kernel, from lab.conf.
load_lab_conf() {
	[[ -n ${VER:-} ]] || parse_target "${KVMSCOPE_KVM_KERNEL:-6.12}"
	[[ -r $KROOT/lab.conf ]] || die "$KROOT/lab.conf not found"
	# shellcheck disable=SC1091 # plain KEY=value lines
	. "$KROOT/lab.conf"
	local rv=${LABVAR}_RELEASE pv=${LABVAR}_PKGVER
	RELEASE=${!rv:-}
	PKGVER=${!pv:-}
	[[ -n $RELEASE && -n $PKGVER ]] || die "$rv or $pv not set in lab.conf"
}

# series: the patch files, in order (cover letter first).
series() {
	compgen -G "$PATCHES/[0-9][0-9][0-9][0-9]-*.patch" | LC_ALL=C sort
}

# lock: serialize writers of $PKVM (fd 9 stays open until the script exits).
lock() {
	mkdir -p "$PKVM"
	exec 9>"$PKVM/.lock"
	if ! flock -n 9; then
		note "waiting for another kernel build or check to finish ($PKVM/.lock)"
		flock 9
	fi
}

# fetch PKG VERSION ARCH: download PKG=VERSION into $CACHE/src unless present;
# print the .deb's path. apt-get download needs no root and installs nothing.
fetch() {
	local pkg=$1 ver=$2 arch=$3 deb tmp got
	deb=$CACHE/src/${pkg}_${ver//:/%3a}_$arch.deb
	if [[ ! -s $deb ]]; then
		need apt-get
		mkdir -p "$CACHE/src"
		tmp=$(mktemp -d "$CACHE/src/.tmp.XXXXXX")
		note "downloading $pkg=$ver"
		# As root, apt drops to the _apt user, which cannot write here; keep
		# the download as the caller.
		if ! (cd "$tmp" && apt-get -q=2 -o APT::Sandbox::User="$(id -un)" \
			download "$pkg=$ver" >&2); then
			rm -rf "$tmp"
			die "apt-get download $pkg=$ver failed (is that version still in the archive? try 'apt-get update')"
		fi
		got=("$tmp"/*.deb)
		[[ ${#got[@]} -eq 1 && -s ${got[0]} ]] || { rm -rf "$tmp"; die "apt-get download $pkg produced no .deb"; }
		mv -f "${got[0]}" "$deb"
		rmdir "$tmp"
	fi
	printf '%s\n' "$deb"
}

# ensure_tree: make $TREE a git repo of $SRCPKG $PKGVER with the tarball
# committed as $BASE_TAG, unless it already is. Caller holds the lock.
ensure_tree() {
	local want deb tmp tarball
	want="$SRCPKG=$PKGVER layout=1"
	if [[ -f $PKVM/tree.stamp && $(cat "$PKVM/tree.stamp") == "$want" ]] &&
		git -C "$TREE" rev-parse -q --verify "refs/tags/$BASE_TAG" >/dev/null; then
		return 0
	fi
	need git dpkg-deb xz tar
	deb=$(fetch "$SRCPKG" "$PKGVER" all)
	note "unpacking $(basename "$deb") into $TREE (about a minute)"
	rm -f "$PKVM/tree.stamp"
	rm -rf "$TREE" "$PKVM"/tree.old.*
	tmp=$(mktemp -d "$PKVM/.unpack.XXXXXX")
	TMPDIRS+=("$tmp")
	tarball=./usr/src/$SRCPKG.tar.xz
	dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarball" | xz -dc -T0 | tar -x -C "$tmp" ||
		die "cannot unpack $tarball from $deb"
	[[ -f $tmp/$SRCPKG/Makefile ]] || die "$deb: no $SRCPKG/ in $tarball"
	(
		cd "$tmp/$SRCPKG"
		git init -q
		# -f: commit the tarball exactly, including files .gitignore matches.
		git add -f -A .
		git "${GIT_ID[@]}" commit -q --no-verify \
			-m "$SRCPKG $PKGVER (Debian), as shipped"
		git tag "$BASE_TAG"
	) || die "cannot create the git repository of the source tree"
	mv "$tmp/$SRCPKG" "$TREE"
	printf '%s\n' "$want" >"$PKVM/tree.stamp"
}
