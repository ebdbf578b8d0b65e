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
# the target: nothing is installed on this machine, its apt and dpkg setup is
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
APTD=$DIR/.apt
mkdir -p "$APTD/lists/partial" "$APTD/cache/archives/partial" "$APTD/debs"
: >"$APTD/status"
cat >"$APTD/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: $KEYRING
EOF
OPTS="-o Dir::Etc::sourcelist=$APTD/debian.sources -o Dir::Etc::sourceparts=-
-o Dir::State::Lists=$APTD/lists -o Dir::Cache=$APTD/cache
-o Dir::State::status=$APTD/status -o APT::Architecture=$ARCH
-o APT::Architectures::=$ARCH -o Debug::NoLocking=1 -o APT::Sandbox::User=root"

retry() {
	n=0
	until "$@"; do
		n=$((n + 1))
		[ $n -ge 3 ] && return 1
		say "retrying in $((n * 10)) s: $*"
		sleep $((n * 10))
	done
}

if [ -z "$(find "$APTD/updated" -mtime -1 2>/dev/null)" ]; then
	say "apt-get update ($SUITE, $ARCH)"
	rm -f "$APTD/updated"
	retry apt-get $OPTS -qq -o APT::Update::Error-Mode=any update >&2 ||
		die "apt-get update failed (no route to $MIRROR?)"
	touch "$APTD/updated"
fi

# The kernel: the meta package names the versioned image package.
kimg=$(apt-cache $OPTS depends "$KPKG" 2>/dev/null | awk '/^ *Depends: linux-image-/ { print $2; exit }')
[ -n "$kimg" ] || die "cannot resolve $KPKG to a kernel image package"

# socat's libraries: Depends and Pre-Depends, first alternative, breadth first.
seen=" "
for p in $STOP; do seen="$seen$p "; done
frontier=$ROOTS
all=""
while [ -n "$(echo $frontier)" ]; do
	next=$(apt-cache $OPTS depends --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances $frontier 2>/dev/null | awk '
		/^[^ ]/ { next }
		/^ *\|?(Pre)?Depends:/ {
			if (skip) { skip = ($0 ~ /^ *\|/); want = 0; next }
			skip = ($0 ~ /^ *\|/)
			if ($2 ~ /^</) { want = 1; next }
			want = 0; print $2; next
		}
		/^    [^ ]/ { if (want) { print $1; want = 0 } }
	' | sed 's/:.*//' | sort -u)
	for p in $frontier; do
		case "$seen" in *" $p "*) ;; *) seen="$seen$p " ;; esac
		case " $all " in *" $p "*) ;; *) all="$all $p" ;; esac
	done
	frontier=""
	for p in $next; do
		case "$seen" in *" $p "*) ;; *) frontier="$frontier $p" ;; esac
	done
done
pkgs="$kimg$all"
say "packages: $(echo $pkgs)"

cd "$APTD/debs"
missing=""
for p in $pkgs; do
	ls "${p}"_*_"$ARCH".deb "${p}"_*_all.deb >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	say "apt-get download$missing"
	retry apt-get $OPTS -qq download $missing >&2 ||
		die "apt-get download failed (no route to $MIRROR?)"
fi
rm -rf "$DIR/root"
mkdir -p "$DIR/root"
for p in $pkgs; do
	for deb in "${p}"_*_"$ARCH".deb "${p}"_*_all.deb; do
		[ -f "$deb" ] && dpkg-deb -x "$deb" "$DIR/root"
	done
done

kver=$(ls "$DIR/root/lib/modules" | head -1)
[ -n "$kver" ] || die "$kimg has no lib/modules"
[ -f "$DIR/root/boot/vmlinuz-$kver" ] || die "$kimg has no boot/vmlinuz-$kver"
[ -x "$DIR/root/bin/busybox" ] || die "busybox-static did not unpack"
ln -sfn "root/boot/vmlinuz-$kver" "$DIR/vmlinuz"
echo "$kver" >"$DIR/kernel-version"
echo "$STAMP_WANT" >"$DIR/.edgeflip-board"
say "ready: $DIR (kernel $kver)"
