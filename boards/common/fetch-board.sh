#!/bin/sh
# fetch-board.sh ARCH DIR — download what a full-system QEMU board boots,
# from Debian's binary packages for ARCH (arm64 or armhf), into DIR:
#
#   DIR/root/            the packages unpacked with dpkg-deb -x: the kernel
#                        and its modules, busybox-static, socat and the
#                        libraries socat needs
#   DIR/vmlinuz          the kernel (a link into root/boot)
#   DIR/kernel-version   e.g. 6.1.0-44-arm64 (the folder under lib/modules)
#
# Like make-sysroot.sh, apt runs with a private sources file, package lists,
# cache and an empty dpkg status under DIR/.apt, with APT::Architecture set to
# the target (boards/common/debian-apt.sh): nothing is installed on this machine, its apt and dpkg setup is
# not touched. The result is cached: a second run with the same package set
# returns at once (the lists are refreshed at most once a day).
#
# Environment:
#   EF_DEBIAN_SUITE    default: this machine's codename (bookworm)
#   EF_DEBIAN_MIRROR   default: http://deb.debian.org/debian
#   EF_KERNEL_PKG      default: linux-image-arm64 (arm64), linux-image-armmp-lpae (armhf)
# Word splitting of package lists is intended here.
# shellcheck disable=SC2086,SC1091,SC2116,SC2012
set -eu

usage() {
	echo "usage: $0 arm64|armhf DIR" >&2
	exit 2
}
[ $# -eq 2 ] || usage
ARCH=$1
DIR=$2
case "$ARCH" in
arm64 | aarch64) ARCH=arm64 KPKG=${EF_KERNEL_PKG:-linux-image-arm64} ;;
armhf | armv7 | arm) ARCH=armhf KPKG=${EF_KERNEL_PKG:-linux-image-armmp-lpae} ;;
*) usage ;;
esac

say() { echo "fetch-board[$ARCH]: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}
# shellcheck source=boards/common/debian-apt.sh
. "$(dirname "$0")/debian-apt.sh"

# busybox for the init and the shell tools, socat to hand the engine API's
# unix socket to a TCP port QEMU forwards to the host.
ROOTS="busybox-static socat"
# Never follow these: maintainer-script helpers and things the board does not run.
STOP="debconf perl-base perl dpkg install-info libc-bin sensible-utils ucf adduser passwd
login tzdata readline-common kmod linux-base initramfs-tools linux-initramfs-tool
initramfs-tools-core busybox klibc-utils cpio zstd udev systemd"

SUITE=${EF_DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
MIRROR=${EF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is missing (this script needs Debian)"
[ -r "$KEYRING" ] || die "$KEYRING is missing (apt-get install debian-archive-keyring)"

STAMP_WANT="arch=$ARCH suite=$SUITE mirror=$MIRROR kernel=$KPKG roots=$(echo $ROOTS | tr ' ' ,) v=1"
if [ -f "$DIR/.edgeflip-board" ] && [ "$(cat "$DIR/.edgeflip-board")" = "$STAMP_WANT" ] &&
	[ -z "$(find "$DIR/.apt/updated" -mtime +6 2>/dev/null)" ]; then
	say "cached: $DIR"
	exit 0
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
ef_apt_init "$DIR/.apt" "$ARCH" "$SUITE" "$MIRROR" "$KEYRING"
ef_apt_update

# The kernel: the meta package names the versioned image package.
kimg=$(apt-cache $EF_APT_OPTS depends "$KPKG" 2>/dev/null | awk '/^ *Depends: linux-image-/ { print $2; exit }')
[ -n "$kimg" ] || die "cannot resolve $KPKG to a kernel image package"

# socat's libraries (debian-apt.sh).
pkgs="$kimg $(ef_apt_resolve "$ROOTS" "$STOP")"
say "packages: $(echo $pkgs)"

rm -rf "$DIR/root"
mkdir -p "$DIR/root"
ef_apt_unpack "$ARCH" "$pkgs" "$DIR/root"

kver=$(ls "$DIR/root/lib/modules" | head -1)
[ -n "$kver" ] || die "$kimg has no lib/modules"
[ -f "$DIR/root/boot/vmlinuz-$kver" ] || die "$kimg has no boot/vmlinuz-$kver"
[ -x "$DIR/root/bin/busybox" ] || die "busybox-static did not unpack"
ln -sfn "root/boot/vmlinuz-$kver" "$DIR/vmlinuz"
echo "$kver" >"$DIR/kernel-version"
echo "$STAMP_WANT" >"$DIR/.edgeflip-board"
say "ready: $DIR (kernel $kver)"
