#!/bin/bash
# make-initramfs.sh BOARD OUT [options] — build a gzip'd cpio initramfs that
# boots a QEMU ARM board (boards/BOARD/system.conf) into edgeflip.
#
# It holds:
#   /init                  boards/common/initramfs-init.sh (busybox sh)
#   /bin/busybox           from Debian's busybox-static for the board
#   /usr/bin/socat         from Debian, with its shared libraries
#   /usr/bin/edgeflip      the cross-built agent (--edgeflip), with its shared
#                          libraries copied from the sysroot (--sysroot) and
#                          the dynamic loader; a static binary is copied alone
#   /usr/bin/edgeflip-proxy  the small traffic proxy (--proxy), when given: the
#                          agent starts it from beside itself, else itself
#   /lib/modules/*.ko      the board's MODULES and their dependencies, in load
#                          order in /etc/modules.load
#   /etc/ssl/certs/ca-certificates.crt   the build machine's CA bundle
#   whatever --file adds   (configuration, keys, the payload /etc/edgeflip/start)
#
# Options:
#   --edgeflip BIN      the agent (required)
#   --proxy BIN         edgeflip-proxy (optional)
#   --sysroot DIR       where its libraries come from (default
#                       ~/.cache/edgeflip/sysroot-ARCH)
#   --board-dir DIR     boards/common/fetch-board.sh output (default
#                       ~/.cache/edgeflip/board-ARCH; fetched when missing)
#   --file SRC:DEST     add a file (mode kept), e.g. --file start.sh:/etc/edgeflip/start
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() {
	echo "make-initramfs: $*" >&2
	exit 1
}
[ $# -ge 2 ] || die "usage: $0 BOARD OUT --edgeflip BIN [--sysroot DIR] [--board-dir DIR] [--file SRC:DEST]..."
board=$1
out=$2
shift 2
conf=$here/../$board/system.conf
[ -f "$conf" ] || die "no $conf"
# shellcheck disable=SC1090
. "$conf"
cache=${EF_SYSROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgeflip}
edgeflip=
proxy=
sysroot=$cache/sysroot-$DEB_ARCH
bdir=$cache/board-$DEB_ARCH
files=()
while [ $# -gt 0 ]; do
	case $1 in
	--edgeflip) edgeflip=$2 ;;
	--proxy) proxy=$2 ;;
	--sysroot) sysroot=$2 ;;
	--board-dir) bdir=$2 ;;
	--file) files+=("$2") ;;
	*) die "unknown option $1" ;;
	esac
	shift 2
done
if [ -z "$edgeflip" ] || [ ! -f "$edgeflip" ]; then die "--edgeflip BIN is required"; fi
EF_KERNEL_PKG=$KERNEL_PKG "$here/fetch-board.sh" "$DEB_ARCH" "$bdir" || die "cannot fetch the board's packages"
kver=$(cat "$bdir/kernel-version")
root=$bdir/root

stage=$(mktemp -d /tmp/ef-initramfs.XXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,lib/"$TRIPLET",lib/modules,etc/ssl/certs,etc/edgeflip,dev,proc,sys,run,tmp,var/lib/edgeflip}
install -m 755 "$here/initramfs-init.sh" "$stage/init"
install -m 755 "$root/bin/busybox" "$stage/bin/busybox"
# The kernel opens /dev/console before /init runs.
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true

# Shared libraries: the ELF NEEDED entries, recursively; the sysroot first
# (edgeflip was linked against it), then the board's packages (socat's).
libdirs=("$sysroot/lib/$TRIPLET" "$sysroot/usr/lib/$TRIPLET" "$root/lib/$TRIPLET" "$root/usr/lib/$TRIPLET")
copy_needed() {
	local f=$1 lib d found
	for lib in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
		[ -e "$stage/lib/$TRIPLET/$lib" ] && continue
		found=
		for d in "${libdirs[@]}"; do
			if [ -e "$d/$lib" ]; then
				cp -L "$d/$lib" "$stage/lib/$TRIPLET/$lib"
				found=1
				break
			fi
		done
		[ -n "$found" ] || die "$(basename "$f") needs $lib: not in the sysroot or the board's packages"
		copy_needed "$stage/lib/$TRIPLET/$lib"
	done
}
install -m 755 "$edgeflip" "$stage/usr/bin/edgeflip"
install -m 755 "$root/usr/bin/socat" "$stage/usr/bin/socat"
"$TRIPLET-strip" "$stage/usr/bin/edgeflip" 2>/dev/null || true
if readelf -l "$edgeflip" | grep -q 'Requesting program interpreter'; then
	cp -L "$sysroot/$LOADER" "$stage/$LOADER"
fi
copy_needed "$stage/usr/bin/edgeflip"
if [ -n "$proxy" ]; then
	install -m 755 "$proxy" "$stage/usr/bin/edgeflip-proxy"
	"$TRIPLET-strip" "$stage/usr/bin/edgeflip-proxy" 2>/dev/null || true
	copy_needed "$stage/usr/bin/edgeflip-proxy"
fi
copy_needed "$stage/usr/bin/socat"
[ -e "$stage/$LOADER" ] || cp -L "$root/$LOADER" "$stage/$LOADER"

# Modules: each listed one after its dependencies (the .ko's depends= field).
moddir=$root/lib/modules/$kver
declare -A modfile=()
while read -r f; do
	n=$(basename "$f" .ko)
	modfile[${n//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko')
order=()
declare -A added=()
add_module() {
	local n=${1//-/_} f dep
	[ -n "${added[$n]:-}" ] && return 0
	f=${modfile[$n]:-}
	if [ -z "$f" ]; then
		# Built into the kernel: nothing to load.
		grep -q "/$1.ko\$\|/$n.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
		die "module $1 is neither in $kver's modules nor built in"
	fi
	added[$n]=1
	for dep in $(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_module "$dep"
	done
	cp "$f" "$stage/lib/modules/$n.ko"
	order+=("$n")
}
for m in $MODULES; do add_module "$m"; done
printf '%s\n' "${order[@]}" >"$stage/etc/modules.load"

# Name service: files only; root; a CA bundle (tests add their own CA).
printf 'hosts: files dns\npasswd: files\ngroup: files\n' >"$stage/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' >"$stage/etc/hosts"
printf 'root:x:0:0:root:/:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/"
echo "$kver" >"$stage/etc/kernel-version"

for spec in "${files[@]}"; do
	src=${spec%%:*}
	dst=${spec#*:}
	[ -f "$src" ] || die "--file $spec: no such file"
	mkdir -p "$stage$(dirname "$dst")"
	cp -p "$src" "$stage$dst"
done

(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --quiet --null -o -H newc --owner=0:0 | gzip -6) >"$out.tmp"
mv "$out.tmp" "$out"
echo "make-initramfs: $out ($(stat -c %s "$out") bytes; kernel $kver; modules: ${order[*]})" >&2
