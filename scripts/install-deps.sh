#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian 12, as root.
# Quiet and quick when everything is already there.
#   scripts/install-deps.sh            build + tests + demo
#   scripts/install-deps.sh --boards   also the cross compilers and QEMU
set -eu

pkgs=(
	# build
	build-essential cmake pkg-config clang-format
	libgit2-dev libmbedtls-dev libinih-dev libcjson-dev libyaml-dev zlib1g-dev libsodium-dev
	libcurl4-openssl-dev libcmocka-dev liburing-dev
	# fuzzing
	clang-14 libclang-rt-14-dev
	# the real servers the tests start: HTTPS Git, registry, container engine
	git openssl nginx-light fcgiwrap docker-registry podman runc iptables busybox-static
	# signatures, networking, tools the suites use
	gnupg openssh-client iproute2 nftables socat curl python3 ca-certificates procps shellcheck
	# benchmarks
	wrk time
)
# sigstore-js for the image-signature suite's cross-check: Debian's npm
# (node 18) unless a node with npm is there already (e.g. NodeSource's)
command -v npm >/dev/null || pkgs+=(npm)
if [ "${1:-}" = "--boards" ]; then
	pkgs+=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user-static qemu-system-arm
		binutils-aarch64-linux-gnu binutils-arm-linux-gnueabihf ipxe-qemu cpio
		# building the firmware libraries from source (libsodium has no configure script)
		autoconf automake libtool e2fsprogs)
fi

missing=()
for p in "${pkgs[@]}"; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
# nginx-light's package starts a system nginx on port 80; the tests run their own.
if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then
	systemctl stop nginx || true
fi
