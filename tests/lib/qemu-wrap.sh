#!/bin/bash
# qemu-wrap.sh QEMU SYSROOT BUILD DIR — make a cross-built agent runnable by the
# end-to-end fixtures on a machine without binfmt_misc. Prints the path to
# point EF_BIN at (DIR/edgeflip-qemu).
#
# DIR gets three files:
#   edgeflip        a copy of BUILD/edgeflip (the target's executable)
#   edgeflip-qemu   `exec QEMU -L SYSROOT DIR/edgeflip "$@"`: what EF_BIN runs
#   edgeflip-proxy  `exec QEMU -L SYSROOT BUILD/edgeflip-proxy "$@"`, after
#                   appending a line to DIR/edgeflip-proxy.starts
#
# Why the copy: the agent starts the traffic proxy by exec'ing edgeflip-proxy
# beside its own executable (/proc/self/exe, which qemu-user reports as the
# resolved path of the target program). Without binfmt_misc the host kernel
# cannot exec an ARM file, but it can exec a script: beside the copy, the
# agent finds the script, and the script runs the cross-built proxy under
# qemu-user too. The agent's own start-up path (fork, setsid, exec, the log
# and pid files) is the one a gateway runs; nothing in the product or the
# fixtures changes. Both scripts exec, so the pids the fixtures see (the
# agent's exit status 137 after SIGKILL, the proxy's pid file) are QEMU's,
# which are the target program's.
set -eu
[ $# -eq 4 ] || {
	echo "usage: $0 QEMU SYSROOT BUILD DIR" >&2
	exit 2
}
qemu=$(command -v "$1") || {
	echo "qemu-wrap: $1 not found" >&2
	exit 1
}
sysroot=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
mkdir -p "$4"
dir=$(cd "$4" && pwd)
for f in edgeflip edgeflip-proxy; do
	[ -x "$build/$f" ] || {
		echo "qemu-wrap: $build/$f is missing" >&2
		exit 1
	}
done

rm -f "$dir/edgeflip"
cp "$build/edgeflip" "$dir/edgeflip"
printf '#!/bin/sh\nexec %q -L %q %q "$@"\n' "$qemu" "$sysroot" "$dir/edgeflip" >"$dir/edgeflip-qemu"
# Each start of the proxy leaves a line in DIR/edgeflip-proxy.starts, so a
# test can tell that the agent ran this one.
# shellcheck disable=SC2016
printf '#!/bin/sh\necho "$(date +%%s) $*" >>%q\nexec %q -L %q %q "$@"\n' \
	"$dir/edgeflip-proxy.starts" "$qemu" "$sysroot" "$build/edgeflip-proxy" >"$dir/edgeflip-proxy"
chmod 755 "$dir/edgeflip-qemu" "$dir/edgeflip-proxy"
echo "$dir/edgeflip-qemu"
