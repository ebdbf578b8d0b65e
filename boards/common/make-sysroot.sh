#!/bin/sh
# make-sysroot.sh ARCH DIR — build a cross sysroot for ARCH (arm64 or armhf) in DIR
# from Debian's binary packages: `apt-get download` + `dpkg-deb -x`.
#
# It never installs target packages on this machine (a multiarch install of
# libgit2-dev:arm64 would remove the host's libgit2-dev). apt runs with a
# private sources file, package lists, cache and an empty dpkg status under
# DIR/.apt, and with APT::Architecture set to the target, so the machine's apt
# and dpkg setup is left as it is (boards/common/debian-apt.sh).
#
# The result is cached: when DIR/.edgeflip-sysroot matches this script's
# package set, nothing is done. Delete DIR to start again.
#
# Environment:
#   EF_DEBIAN_SUITE    default: this machine's codename (bookworm)
#   EF_DEBIAN_MIRROR   default: http://deb.debian.org/debian
#   EF_DEBIAN_SECURITY set to 1 to add the $SUITE-security suite
#   EF_SYSROOT_EXTRA   more packages to put in (space separated)
#   EF_NO_APT_INSTALL  set to 1 to never apt-get install host tools
# Word splitting of package lists is intended here.
# shellcheck disable=SC2086,SC2116,SC1091
set -eu

usage() {
	echo "usage: $0 arm64|armhf DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
ARCH=$1
DIR=$2
case "$ARCH" in
arm64 | aarch64)
	ARCH=arm64
	TRIPLET=aarch64-linux-gnu
	QEMU=qemu-aarch64-static
	;;
armhf | armv7 | arm)
	ARCH=armhf
	TRIPLET=arm-linux-gnueabihf
	QEMU=qemu-arm-static
	;;
*) usage ;;
esac

say() { echo "make-sysroot[$ARCH]: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}
# shellcheck source=boards/common/debian-apt.sh
. "$(dirname "$0")/debian-apt.sh"

# The packages the build and the unit tests need; their dependencies are
# resolved below.
ROOTS="libc6-dev libgit2-dev libmbedtls-dev libinih-dev libcjson-dev libcurl4-openssl-dev
libsodium-dev libcmocka-dev libyaml-dev zlib1g-dev ${EF_SYSROOT_EXTRA:-}"
# Never follow these: tools and maintainer-script helpers, not libraries.
STOP="debconf perl-base perl dpkg install-info libc-bin libc-dev-bin rpcsvc-proto
sensible-utils ucf adduser passwd login tzdata readline-common"

SUITE=${EF_DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
MIRROR=${EF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# 1. Host tools: the cross compiler and qemu-user.
need=""
command -v "$TRIPLET-gcc" >/dev/null 2>&1 || need="$need gcc-$TRIPLET"
command -v "$QEMU" >/dev/null 2>&1 || need="$need qemu-user-static"
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is missing (this script needs Debian)"
[ -r "$KEYRING" ] || need="$need debian-archive-keyring"
ef_host_install "$need"

# 2. Cached?
STAMP_WANT="arch=$ARCH suite=$SUITE mirror=$MIRROR sec=${EF_DEBIAN_SECURITY:-0} roots=$(echo $ROOTS | tr ' ' ,) v=1"
if [ -f "$DIR/.edgeflip-sysroot" ] && [ "$(cat "$DIR/.edgeflip-sysroot")" = "$STAMP_WANT" ]; then
	say "cached: $DIR"
	exit 0
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
APTD=$DIR/.apt
# The security suite is left out by default: a build sysroot needs the ABI,
# not the fixes, and one mirror here served a stale bookworm-security armhf
# index for hours (apt: "File has unexpected size ... Mirror sync in progress?").
ef_apt_init "$APTD" "$ARCH" "$SUITE" "$MIRROR" "$KEYRING" "${EF_DEBIAN_SECURITY:-0}"
ef_apt_update

# 3. Resolve dependencies (debian-apt.sh).
pkgs=$(ef_apt_resolve "$ROOTS" "$STOP")
say "$(echo $pkgs | wc -w) packages"

# 4. Download (cached in .apt/debs) and unpack.
ef_apt_unpack "$ARCH" "$pkgs" "$DIR"
cd "$DIR"

# 5. Absolute symlinks point at the host: make them relative to DIR.
find "$DIR" -path "$APTD" -prune -o -type l -print | while read -r link; do
	target=$(readlink "$link")
	case "$target" in
	/*)
		rel=${link#"$DIR"/}
		up=$(dirname "$rel" | sed 's|[^/][^/]*|..|g')
		[ "$(dirname "$rel")" = . ] && up=.
		ln -sfn "$up$target" "$link"
		;;
	esac
done

# Debian 12's packages keep /lib; gcc and qemu look there, nothing to merge.
[ -e "$DIR/usr/include/$TRIPLET/bits/types.h" ] || die "libc6-dev did not unpack"
[ -e "$DIR/usr/include/git2.h" ] || die "libgit2-dev did not unpack"
[ -e "$DIR/usr/include/yaml.h" ] || die "libyaml-dev did not unpack"

echo "$STAMP_WANT" >"$DIR/.edgeflip-sysroot"
say "ready: $DIR ($(du -sh --exclude=.apt "$DIR" | cut -f1))"
