#!/bin/bash
# run-qemu.sh BOARD INITRAMFS DISK [options] — boot a QEMU ARM board
# (boards/BOARD/system.conf) with Debian's kernel, the initramfs of
# make-initramfs.sh and DISK (a raw image, the agent's state disk) on
# virtio-blk, and QEMU user networking on virtio-net. The serial console is
# stdin/stdout. It execs QEMU: the caller's $! is QEMU's pid, and SIGKILL to
# it is a power cut for the guest.
#
# Options:
#   --fwd RULE        add a user-network rule, e.g.
#                     "guestfwd=tcp:10.0.2.100:2375-cmd:socat - UNIX-CONNECT:/run/podman.sock"
#   --append ARGS     more kernel command line
#   --board-dir DIR   fetch-board.sh output (default ~/.cache/edgeflip/board-ARCH)
#
# The guest sees the host's loopback as 10.0.2.2 (QEMU's user network),
# itself as 10.0.2.15.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 3 ] || {
	echo "usage: $0 BOARD INITRAMFS DISK [--fwd RULE]... [--append ARGS] [--board-dir DIR]" >&2
	exit 2
}
board=$1 initrd=$2 disk=$3
shift 3
# shellcheck disable=SC1090
. "$here/../$board/system.conf"
bdir=${EF_SYSROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgeflip}/board-$DEB_ARCH
net="user,id=n0,net=10.0.2.0/24"
append=
while [ $# -gt 0 ]; do
	case $1 in
	--fwd) net="$net,$2" ;;
	--append) append="$append $2" ;;
	--board-dir) bdir=$2 ;;
	*)
		echo "run-qemu: unknown option $1" >&2
		exit 2
		;;
	esac
	shift 2
done
[ -e "$bdir/vmlinuz" ] || {
	echo "run-qemu: no kernel in $bdir (run boards/common/fetch-board.sh $DEB_ARCH $bdir)" >&2
	exit 1
}
# shellcheck disable=SC2086
exec $QEMU_SYSTEM $QEMU_MACHINE -m "$QEMU_MEM" -smp 1 -nographic -no-reboot \
	-kernel "$bdir/vmlinuz" -initrd "$initrd" \
	-append "console=$CONSOLE rdinit=/init panic=-1 loglevel=4$append" \
	-netdev "$net" -device virtio-net-pci,netdev=n0,romfile= \
	-drive "file=$disk,format=raw,if=none,id=d0,cache=writeback" -device virtio-blk-pci,drive=d0 \
	-device virtio-rng-pci
