#!/bin/bash
# test_packaging.sh — checks the firmware packaging files against the build.
#
# What it checks (docs/packaging.md lists what it does not):
#   - every init script parses (sh -n) and passes shellcheck when installed;
#     the procd script's start_service, run against stub procd functions,
#     sets the command line, respawn and logging;
#   - `cmake --install` into a staging folder, once with the default options
#     and once with the -DEF_INSTALL_* options each package passes (read out
#     of its packaging file), gives exactly the file list written below, and
#     each file a package's install step takes exists;
#   - the systemd unit: the directives packaging.md asks for, the paths in
#     the installed copy, `systemd-analyze verify` and `security`;
#   - every shipped INI passes `edgeflip check-config`, and the commented
#     example names every key of core/agent/config.c's table and no other;
#   - the packaging files name what docs/packaging.md says they must
#     (dependencies, conffiles, mbedTLS options of libgit2).
# Prints "N passed, M failed"; exits 1 when anything failed.
#
# Environment: EF_BUILD  an existing host build folder to reuse (else a
#              temporary one is configured and built).
# shellcheck disable=SC2317,SC2034,SC2016,SC2012,SC2086
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FW=$ROOT/firmware
TMP=$(mktemp -d /tmp/edgeflip-packaging.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   - $*"
}
fail() {
	failed=$((failed + 1))
	echo "FAIL - $*"
}
# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
	local name=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then
		ok "$name"
	else
		fail "$name"
		sed 's/^/       /' "$TMP/out" | head -20
	fi
}
# has FILE PATTERN...: every extended regex matches a line of FILE.
has() {
	local file=$1 p
	shift
	for p in "$@"; do
		if grep -Eq -- "$p" "$file"; then
			ok "${file#"$ROOT"/}: /$p/"
		else
			fail "${file#"$ROOT"/}: no line matches /$p/"
		fi
	done
}

OPENWRT_INIT=$FW/openwrt/net/edgeflip/files/edgeflip.init
BUILDROOT_INIT=$FW/buildroot/package/edgeflip/S90edgeflip
YOCTO_INIT=$FW/yocto/meta-edgeflip/recipes-edgeflip/edgeflip/files/edgeflip.init
RUN_PTEST=$FW/yocto/meta-edgeflip/recipes-edgeflip/edgeflip/files/run-ptest
UNIT=$FW/systemd/edgeflip.service
OPENWRT_MK=$FW/openwrt/net/edgeflip/Makefile
OPENWRT_LIBGIT2=$FW/openwrt/libs/libgit2/Makefile
BUILDROOT_MK=$FW/buildroot/package/edgeflip/edgeflip.mk
BUILDROOT_EXT=$FW/buildroot/external.mk
BUILDROOT_CFG=$FW/buildroot/package/edgeflip/Config.in
YOCTO_BB=$FW/yocto/meta-edgeflip/recipes-edgeflip/edgeflip/edgeflip_git.bb
YOCTO_APPEND=$FW/yocto/meta-edgeflip/recipes-support/libgit2/libgit2_%.bbappend
YOCTO_LAYER=$FW/yocto/meta-edgeflip/conf/layer.conf

echo "# init scripts"
for s in "$OPENWRT_INIT" "$BUILDROOT_INIT" "$YOCTO_INIT" "$RUN_PTEST" \
	"$ROOT"/boards/common/*.sh; do
	# The shell the script asks for: init scripts are POSIX sh, some board
	# scripts bash.
	sh=sh
	head -1 "$s" | grep -q bash && sh=bash
	check "$sh -n ${s#"$ROOT"/}" "$sh" -n "$s"
	if command -v shellcheck >/dev/null; then
		# rc.common provides the procd helpers and variables.
		check "shellcheck ${s#"$ROOT"/}" shellcheck -s "$sh" -e SC2034,SC3043 "$s"
	fi
done
for t in "$ROOT"/tests/integration/test_*.sh; do
	check "bash -n ${t#"$ROOT"/}" bash -n "$t"
done
check "Yocto init script is Buildroot's S90edgeflip" cmp "$YOCTO_INIT" "$BUILDROOT_INIT"
check "Buildroot edgeflip.service is firmware/systemd/edgeflip.service" \
	cmp "$FW/buildroot/package/edgeflip/edgeflip.service" "$UNIT"
check "S90edgeflip without arguments prints usage and fails" \
	bash -c "out=\$(sh '$BUILDROOT_INIT' 2>&1); [ \$? -eq 1 ] && [[ \$out == Usage:* ]]"

# The procd script against stubs: what would procd be told?
cat >"$TMP/fake-edgeflip" <<'EOF'
#!/bin/sh
exit 0
EOF
chmod +x "$TMP/fake-edgeflip"
procd_out=$(
	config_load() { :; }
	config_get_bool() { eval "$1=\$4"; }
	config_get() { eval "$1=\$4"; }
	procd_open_instance() { echo "open"; }
	procd_close_instance() { echo "close"; }
	procd_set_param() { echo "param $*"; }
	# shellcheck disable=SC1090
	. "$OPENWRT_INIT"
	PROG=$TMP/fake-edgeflip
	start_service
)
for want in "^open$" "^param command $TMP/fake-edgeflip -c /etc/edgeflip/edgeflip.ini run$" \
	"^param respawn" "^param stdout 1$" "^param stderr 1$" "^param file /etc/edgeflip/edgeflip.ini$" \
	"^close$"; do
	if grep -Eq -- "$want" <<<"$procd_out"; then
		ok "procd start_service: /$want/"
	else
		fail "procd start_service: no /$want/ in: $(tr '\n' '|' <<<"$procd_out")"
	fi
done
has "$OPENWRT_INIT" '^#!/bin/sh /etc/rc.common' '^USE_PROCD=1$' '^START=99$' \
	'^service_triggers\(\)' 'procd_add_reload_trigger' 'procd_send_signal .* HUP'

echo "# the host build"
if [ -n "${EF_BUILD:-}" ]; then
	BUILD=$EF_BUILD
	cmake -B "$BUILD" -DCMAKE_INSTALL_PREFIX=/usr >"$TMP/configure.log" 2>&1
else
	BUILD=$TMP/build
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_INSTALL_PREFIX=/usr -DEF_TESTS=OFF \
		>"$TMP/configure.log" 2>&1
fi
if cmake --build "$BUILD" -j"$(nproc)" --target edgeflip edgeflip-proxy >"$TMP/build.log" 2>&1; then
	ok "build edgeflip"
else
	fail "build edgeflip"
	grep -E 'error|undefined' "$TMP/build.log" | head -20
fi
EDGEFLIP=$BUILD/edgeflip

# install_list NAME [CMAKE OPTIONS...]: reconfigure with OPTIONS (the
# defaults first), install into a fresh staging folder, print the files.
install_list() {
	local name=$1
	shift
	cmake -B "$BUILD" -DEF_INSTALL_SYSTEMD_UNIT=ON -DEF_INSTALL_CONFIG=ON \
		-DEF_INSTALL_DOCS=ON -DEF_SYSTEMD_UNITDIR=lib/systemd/system "$@" \
		>>"$TMP/configure.log" 2>&1 || return 1
	rm -rf "$TMP/stage-$name"
	DESTDIR=$TMP/stage-$name cmake --install "$BUILD" >"$TMP/install-$name.log" 2>&1 ||
		return 1
	(cd "$TMP/stage-$name" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
}
# The -DEF_INSTALL_*/-DEF_SYSTEMD_UNITDIR options a packaging file passes.
# Yocto's systemd switch is an inline python expression: take its ON branch
# (an image with systemd) and its unit folder.
options_of() {
	grep -oE -- '-DEF_(INSTALL_[A-Z_]+|SYSTEMD_UNITDIR)=[^ "\\]+' "$1" |
		sed -e "s|=\\\${@bb.utils.contains('DISTRO_FEATURES',\$|=ON|" \
			-e 's|\${systemd_system_unitdir}|/lib/systemd/system|'
}
# compare NAME EXPECTED-FILE ACTUAL-FILE
compare() {
	if diff -u "$2" "$3" >"$TMP/diff"; then
		ok "$1: installed files are exactly $(paste -sd' ' "$2")"
	else
		fail "$1: installed files differ from the expected list"
		sed 's/^/       /' "$TMP/diff"
	fi
}

if [ -x "$EDGEFLIP" ]; then
	docs=$(cd "$ROOT/docs" 2>/dev/null && ls ./*.md 2>/dev/null | sed 's|^\./|usr/share/doc/edgeflip/|')

	# Default options: what `cmake --install` gives a distribution.
	printf '%s\n' usr/bin/edgeflip usr/bin/edgeflip-proxy etc/edgeflip/edgeflip.ini \
		usr/lib/systemd/system/edgeflip.service \
		usr/share/doc/edgeflip/edgeflip.ini.example $docs | sort >"$TMP/want-default"
	install_list default >"$TMP/got-default"
	compare "cmake --install (defaults)" "$TMP/want-default" "$TMP/got-default"
	check "installed config is the example" cmp "$TMP/stage-default/etc/edgeflip/edgeflip.ini" \
		"$FW/edgeflip.ini.example"
	check "installed unit runs the installed binary" \
		grep -qx 'ExecStart=/usr/bin/edgeflip -c /etc/edgeflip/edgeflip.ini run' \
		"$TMP/stage-default/usr/lib/systemd/system/edgeflip.service"
	echo "changed" >"$TMP/stage-default/etc/edgeflip/edgeflip.ini"
	DESTDIR=$TMP/stage-default cmake --install "$BUILD" >/dev/null 2>&1
	check "reinstall keeps an edited /etc/edgeflip/edgeflip.ini" \
		grep -qx changed "$TMP/stage-default/etc/edgeflip/edgeflip.ini"

	# OpenWrt: the binary only; init, UCI config and INI come from files/.
	# shellcheck disable=SC2046
	install_list openwrt $(options_of "$OPENWRT_MK") >"$TMP/got-openwrt"
	printf '%s\n' usr/bin/edgeflip usr/bin/edgeflip-proxy >"$TMP/want-openwrt"
	compare "OpenWrt (CMAKE_OPTIONS of net/edgeflip/Makefile)" "$TMP/want-openwrt" "$TMP/got-openwrt"
	has "$OPENWRT_MK" '\$\(PKG_INSTALL_DIR\)/usr/bin/edgeflip ' \
		'\$\(PKG_INSTALL_DIR\)/usr/bin/edgeflip-proxy' \
		'\./files/edgeflip\.init \$\(1\)/etc/init\.d/edgeflip' \
		'\./files/edgeflip\.config \$\(1\)/etc/config/edgeflip' \
		'\./files/edgeflip\.ini \$\(1\)/etc/edgeflip/edgeflip\.ini'
	for f in edgeflip.init edgeflip.config edgeflip.ini; do
		check "OpenWrt files/$f exists" test -f "$FW/openwrt/net/edgeflip/files/$f"
	done

	# Buildroot: binary and config from CMake, init script / unit from the package.
	# shellcheck disable=SC2046
	install_list buildroot $(options_of "$BUILDROOT_MK") >"$TMP/got-buildroot"
	printf '%s\n' usr/bin/edgeflip usr/bin/edgeflip-proxy etc/edgeflip/edgeflip.ini | sort >"$TMP/want-buildroot"
	compare "Buildroot (EDGEFLIP_CONF_OPTS of edgeflip.mk)" "$TMP/want-buildroot" "$TMP/got-buildroot"
	has "$BUILDROOT_MK" 'S90edgeflip' '/etc/init.d/S90edgeflip' 'edgeflip\.service' \
		'/usr/lib/systemd/system/edgeflip\.service'

	# Yocto with systemd: all of it, the unit in ${systemd_system_unitdir}.
	# shellcheck disable=SC2046
	install_list yocto $(options_of "$YOCTO_BB") >"$TMP/got-yocto"
	printf '%s\n' usr/bin/edgeflip usr/bin/edgeflip-proxy etc/edgeflip/edgeflip.ini \
		lib/systemd/system/edgeflip.service usr/share/doc/edgeflip/edgeflip.ini.example $docs | sort >"$TMP/want-yocto"
	compare "Yocto (EXTRA_OECMAKE of edgeflip_git.bb, systemd image)" "$TMP/want-yocto" "$TMP/got-yocto"
	has "$YOCTO_BB" '^CONFFILES:\$\{PN\} = "\$\{sysconfdir\}/edgeflip/edgeflip\.ini"' \
		'\$\{sysconfdir\}/init\.d/edgeflip'

	# Back to the defaults for whoever uses this build folder next.
	install_list reset >/dev/null
else
	fail "no edgeflip executable: install checks skipped"
fi

echo "# systemd unit"
has "$UNIT" '^Type=notify$' '^NotifyAccess=main$' '^WatchdogSec=[0-9]+' '^Restart=on-failure$' \
	'^ExecReload=/bin/kill -HUP \$MAINPID$' '^ExecStart=/usr/bin/edgeflip .* run$' \
	'^KillMode=process$' '^ProtectSystem=strict$' '^StateDirectory=edgeflip$' \
	'^ProtectHome=yes$' '^PrivateTmp=yes$' '^NoNewPrivileges=yes$' \
	'^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' '^ProtectKernelTunables=yes$' \
	'^ProtectKernelModules=yes$' '^ProtectKernelLogs=yes$' '^ProtectControlGroups=yes$' \
	'^WantedBy=multi-user\.target$' 'engine.s socket .* is root on'
if command -v systemd-analyze >/dev/null; then
	# verify wants the programs to exist: point the unit at the built binary.
	exe=$EDGEFLIP
	[ -x "$exe" ] || exe=/bin/true
	sed "s|/usr/bin/edgeflip|$exe|g" "$UNIT" >"$TMP/edgeflip.service"
	check "systemd-analyze verify edgeflip.service" \
		bash -c "systemd-analyze verify '$TMP/edgeflip.service' 2>&1 | tee /dev/stderr | (! grep -q .)"
	# Exposure 0.0 (best) .. 10.0; --threshold is in tenths. Seen here: 2.1.
	check "systemd-analyze security: exposure at most 2.5" \
		systemd-analyze security --offline=true --threshold=25 "$TMP/edgeflip.service"
else
	echo "# skip: systemd-analyze not installed"
fi

echo "# configuration files"
inis=("$FW/edgeflip.ini.example" "$ROOT"/boards/*/board.ini "$FW/openwrt/net/edgeflip/files/edgeflip.ini")
for ini in "${inis[@]}"; do
	if [ -x "$EDGEFLIP" ]; then
		check "edgeflip check-config ${ini#"$ROOT"/}" "$EDGEFLIP" -c "$ini" check-config
	fi
done
# The key table of core/agent/config.c: {"section", "key", ...
grep -oE '^\s*\{"[a-z_]+", "[a-z_]+"' "$ROOT/core/agent/config.c" |
	sed -E 's/^\s*\{"([a-z_]+)", "([a-z_]+)"/\1.\2/' | sort -u >"$TMP/keys-code"
# The example's keys, commented out (;key = ) or not, with their section.
awk '/^\[/ { gsub(/[\[\]]/, ""); s = $0; next }
	/^;?[a-z_]+ = / { sub(/^;/, ""); print s "." $1 }' "$FW/edgeflip.ini.example" |
	sort -u >"$TMP/keys-example"
if [ -s "$TMP/keys-code" ] && diff -u "$TMP/keys-code" "$TMP/keys-example" >"$TMP/diff"; then
	ok "edgeflip.ini.example names exactly the $(wc -l <"$TMP/keys-code") keys of core/agent/config.c"
else
	fail "edgeflip.ini.example and core/agent/config.c's key table differ (- code, + example)"
	sed 's/^/       /' "$TMP/diff"
fi

echo "# packaging files"
has "$OPENWRT_MK" '^include \$\(TOPDIR\)/rules\.mk$' '^include \$\(INCLUDE_DIR\)/package\.mk$' \
	'^include \$\(INCLUDE_DIR\)/cmake\.mk$' '^\$\(eval \$\(call BuildPackage,edgeflip\)\)$' \
	'^define Package/edgeflip/conffiles$' '^/etc/edgeflip/edgeflip\.ini$' '^/etc/config/edgeflip$'
for dep in +libgit2 +libmbedtls +libinih +cJSON +zlib +libcurl +libsodium +ca-bundle; do
	has "$OPENWRT_MK" "^ +DEPENDS:=.*\\$dep( |$)"
done
for opt in -DUSE_HTTPS=mbedTLS -DUSE_SSH=OFF -DUSE_HTTP_PARSER=builtin -DREGEX_BACKEND=builtin \
	-DBUILD_TESTS=OFF -DBUILD_CLI=OFF -DCERT_LOCATION=/; do
	has "$OPENWRT_LIBGIT2" "$opt"
	has "$BUILDROOT_EXT" "$opt"
done
for opt in -DUSE_HTTPS=mbedTLS -DUSE_SSH=OFF -DUSE_HTTP_PARSER=builtin -DREGEX_BACKEND=builtin \
	-DBUILD_CLI=OFF -DCERT_LOCATION=/; do
	has "$YOCTO_APPEND" "$opt"
done
has "$OPENWRT_LIBGIT2" '^PKG_VERSION:=1\.(9|[1-9][0-9])\.' '^ +DEPENDS:=.*\+libmbedtls'
has "$FW/buildroot/external.desc" '^name: EDGEFLIP$'
has "$BUILDROOT_MK" '^\$\(eval \$\(cmake-package\)\)$' '^EDGEFLIP_DEPENDENCIES = .*libgit2'
for sel in LIBGIT2 MBEDTLS INIH CJSON LIBCURL LIBSODIUM ZLIB CA_CERTIFICATES; do
	has "$BUILDROOT_CFG" "^\\s+select BR2_PACKAGE_$sel\$"
done
has "$BUILDROOT_CFG" 'depends on BR2_USE_MMU' 'depends on !BR2_STATIC_LIBS' \
	'depends on BR2_TOOLCHAIN_HAS_THREADS'
has "$FW/buildroot/configs/qemu_aarch64_virt_edgeflip_defconfig" '^BR2_aarch64=y$' \
	'^BR2_cortex_a53=y$' '^BR2_PACKAGE_EDGEFLIP=y$'
has "$YOCTO_BB" '^inherit cmake pkgconfig systemd update-rc\.d ptest$' \
	'^SYSTEMD_SERVICE:\$\{PN\} = "edgeflip\.service"$' '^INITSCRIPT_NAME = "edgeflip"$' \
	'^RDEPENDS:\$\{PN\} \+= "ca-certificates"$' '^PACKAGECONFIG\[tests\]'
has "$YOCTO_LAYER" '^BBFILE_COLLECTIONS \+= "edgeflip"$' \
	'^LAYERDEPENDS_edgeflip = "core openembedded-layer networking-layer"$' '^LAYERSERIES_COMPAT_edgeflip'
# Each says which versions it was written against.
for f in "$OPENWRT_MK" "$OPENWRT_LIBGIT2" "$BUILDROOT_EXT" "$YOCTO_BB" "$YOCTO_APPEND" \
	"$YOCTO_LAYER" "$UNIT" "$OPENWRT_INIT"; do
	has "$f" '[Ww]ritten against'
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
