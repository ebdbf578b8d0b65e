#!/bin/bash
# test_packaging.sh — checks the firmware packaging files against the build.
#
# What it checks (docs/packaging.md lists what it does not):
#   - the license: LICENSE is Apache-2.0, and each package declares it with
#     its hash (Buildroot sha256, Yocto md5) and names its maintainer;
#   - no placeholders (example hosts, PKG_HASH:=skip, AUTOREV, CLOSED) and
#     one version everywhere (CMake project VERSION = Buildroot, OpenWrt and
#     Yocto versions); the libgit2 patch is the same in every package;
#   - nothing starts unconfigured: no edgeflip.ini is installed, the init
#     scripts say "not configured" and succeed, the units have
#     ConditionPathExists;
#   - every init script parses (sh -n) and passes shellcheck when installed;
#     the procd script's start_service, run against stub procd functions,
#     sets the command line, respawn and logging;
#   - `cmake --install` into a staging folder, once with the default options
#     and once with the -DEF_INSTALL_* options each package passes (read out
#     of its packaging file), gives exactly the file list written below, and
#     each file a package's install step takes exists;
#   - the systemd unit: the directives packaging.md asks for, the paths in
#     the installed copy, `systemd-analyze verify` and `security`;
#   - Yocto's ptest binaries, built as the recipe builds them, hold no build
#     path;
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

# shellcheck source=../lib/check.sh
source "$ROOT/tests/lib/check.sh"
# has FILE PATTERN...: every extended regex matches a line of FILE.
has() {
	local file=$1 p
	shift
	for p in "$@"; do
		if grep -Eq -- "$p" "$file"; then
			ef_pass "${file#"$ROOT"/}: /$p/"
		else
			ef_fail "${file#"$ROOT"/}: no line matches /$p/"
		fi
	done
}

OPENWRT_INIT=$FW/openwrt/net/edgeflip/files/edgeflip.init
BUILDROOT_INIT=$FW/buildroot/package/edgeflip/S90edgeflip
BUILDROOT_PODMAN_INIT=$FW/buildroot/package/edgeflip/S60podman
YOCTO_INIT=$FW/yocto/meta-edgeflip/recipes-edgeflip/edgeflip/files/edgeflip.init
RUN_PTEST=$FW/yocto/meta-edgeflip/recipes-edgeflip/edgeflip/files/run-ptest
UNIT=$FW/systemd/edgeflip.service
PROXY_UNIT=$FW/systemd/edgeflip-proxy.service
OPENWRT_MK=$FW/openwrt/net/edgeflip/Makefile
OPENWRT_LIBGIT2=$FW/openwrt/libs/libgit2/Makefile
BUILDROOT_MK=$FW/buildroot/package/edgeflip/edgeflip.mk
BUILDROOT_EXT=$FW/buildroot/external.mk
BUILDROOT_PATCH=$(ls "$FW"/buildroot/patches/*libgit2*.patch 2>/dev/null | head -1)
BUILDROOT_HASH=$FW/buildroot/package/edgeflip/edgeflip.hash
BUILDROOT_CFG=$FW/buildroot/package/edgeflip/Config.in
YOCTO_BB=$(ls "$FW"/yocto/meta-edgeflip/recipes-edgeflip/edgeflip/edgeflip_*.bb | head -1)
YOCTO_APPEND=$FW/yocto/meta-edgeflip/recipes-support/libgit2/libgit2_%.bbappend
YOCTO_LAYER=$FW/yocto/meta-edgeflip/conf/layer.conf

cmake_version=$(sed -nE 's/^project\(edgeflip VERSION ([0-9.]+) .*/\1/p' "$ROOT/CMakeLists.txt")

echo "# init scripts"
for s in "$OPENWRT_INIT" "$BUILDROOT_INIT" "$BUILDROOT_PODMAN_INIT" "$YOCTO_INIT" "$RUN_PTEST" \
	"$ROOT"/boards/common/*.sh; do
	# The shell the script asks for: init scripts are POSIX sh, some board
	# scripts bash.
	sh=sh
	head -1 "$s" | grep -q bash && sh=bash
	ef_check_log "$sh -n ${s#"$ROOT"/}" "$sh" -n "$s"
	if command -v shellcheck >/dev/null; then
		# rc.common provides the procd helpers and variables.
		ef_check_log "shellcheck ${s#"$ROOT"/}" bash -c "cd '$ROOT' && shellcheck -x -s $sh -e SC2034,SC3043 '$s'"
	fi
done
for t in "$ROOT"/tests/integration/test_*.sh; do
	ef_check_log "bash -n ${t#"$ROOT"/}" bash -n "$t"
done
ef_check_log "Yocto init script is Buildroot's S90edgeflip" cmp "$YOCTO_INIT" "$BUILDROOT_INIT"
ef_check_log "Buildroot edgeflip.service is firmware/systemd/edgeflip.service" \
	cmp "$FW/buildroot/package/edgeflip/edgeflip.service" "$UNIT"
ef_check_log "Buildroot edgeflip-proxy.service is firmware/systemd/edgeflip-proxy.service" \
	cmp "$FW/buildroot/package/edgeflip/edgeflip-proxy.service" "$PROXY_UNIT"
ef_check_log "S90edgeflip without arguments prints usage and fails" \
	bash -c "out=\$(sh '$BUILDROOT_INIT' 2>&1); [ \$? -eq 1 ] && [[ \$out == Usage:* ]]"
# Unconfigured (no edgeflip.ini): says so, starts nothing, succeeds. The
# script reads /etc/default/edgeflip: point it at a folder of the test.
mkdir -p "$TMP/default"
echo "EDGEFLIP_CONFIG=$TMP/no-such.ini" >"$TMP/default/edgeflip"
sed "s|/etc/default/|$TMP/default/|g" "$BUILDROOT_INIT" >"$TMP/S90edgeflip"
mkdir -p "$TMP/bin"
printf '#!/bin/sh\necho "$@" >>%s\n' "$TMP/ssd.log" >"$TMP/bin/start-stop-daemon"
chmod +x "$TMP/bin/start-stop-daemon"
ef_check_log "S90edgeflip start without edgeflip.ini: 'not configured', exit 0, nothing started" \
	bash -c "out=\$(PATH='$TMP/bin':\$PATH sh '$TMP/S90edgeflip' start 2>&1) &&
		[[ \$out == *'not configured'* ]] && [ ! -e '$TMP/ssd.log' ]"
# BusyBox init: in the style of Buildroot's S01syslogd (check-package).
has "$BUILDROOT_INIT" '^PIDFILE="/var/run/\$DAEMON\.pid"$' 'start-stop-daemon --start --background --make-pidfile'
has "$BUILDROOT_PODMAN_INIT" '^PIDFILE="/var/run/\$DAEMON\.pid"$' \
	'start-stop-daemon --start --background --make-pidfile' 'system service --time=0'
ef_check_log "Buildroot init scripts are not executable in the tree (check-package)" \
	bash -c "[ ! -x '$BUILDROOT_INIT' ] && [ ! -x '$BUILDROOT_PODMAN_INIT' ]"

# The procd script against stubs: what would procd be told?
cat >"$TMP/fake-edgeflip" <<'EOF'
#!/bin/sh
exit 0
EOF
chmod +x "$TMP/fake-edgeflip"
# procd_run CONFIG-PATH FUNCTION: the procd script with UCI's config set to
# CONFIG-PATH, against stubs; prints what procd would be told.
procd_run() {
	(
		config_load() { :; }
		config_get_bool() { eval "$1=\$4"; }
		config_get() {
			if [ "$3" = config ]; then eval "$1=\$UCI_CONFIG"; else eval "$1=\$4"; fi
		}
		procd_open_instance() { echo "open"; }
		procd_close_instance() { echo "close"; }
		procd_set_param() { echo "param $*"; }
		procd_send_signal() { echo "signal $*"; }
		logger() { echo "logger $* $(cat)"; }
		start() { echo "start"; }
		# shellcheck disable=SC1090
		. "$OPENWRT_INIT"
		PROG=$TMP/fake-edgeflip
		UCI_CONFIG=$1
		"$2"
		echo "rc $?"
	)
}
echo "[agent]" >"$TMP/edgeflip.ini"
procd_out=$(procd_run "$TMP/edgeflip.ini" start_service)
for want in "^open$" "^param command $TMP/fake-edgeflip -c $TMP/edgeflip.ini run$" \
	"^param respawn" "^param stdout 1$" "^param stderr 1$" "^close$"; do
	if grep -Eq -- "$want" <<<"$procd_out"; then
		ef_pass "procd start_service: /$want/"
	else
		ef_fail "procd start_service: no /$want/ in: $(tr '\n' '|' <<<"$procd_out")"
	fi
done
procd_out=$(procd_run "$TMP/no-such.ini" start_service)
ef_check_log "procd start_service without the INI: 'not configured', no instance, rc 0" \
	bash -c "grep -q 'not configured' <<<'$procd_out' && ! grep -q '^open' <<<'$procd_out' &&
		grep -qx 'rc 0' <<<'$procd_out'"
# reload: start_service again (UCI's enabled/config as they are now), then HUP.
procd_out=$(procd_run "$TMP/edgeflip.ini" reload_service)
expect_reload=$(printf 'start\nsignal edgeflip * HUP\nrc 0')
ef_check_log "procd reload_service re-reads UCI (start) and then sends HUP" \
	test "$procd_out" = "$expect_reload"
has "$OPENWRT_INIT" '^#!/bin/sh /etc/rc.common' '^USE_PROCD=1$' '^START=99$' \
	'^service_triggers\(\)' 'procd_add_reload_trigger'

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
	ef_pass "build edgeflip"
else
	ef_fail "build edgeflip"
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
		ef_pass "$1: installed files are exactly $(paste -sd' ' "$2")"
	else
		ef_fail "$1: installed files differ from the expected list"
		sed 's/^/       /' "$TMP/diff"
	fi
}

if [ -x "$EDGEFLIP" ]; then
	docs=$(cd "$ROOT/docs" 2>/dev/null && ls ./*.md 2>/dev/null | sed 's|^\./|usr/share/doc/edgeflip/|')

	# Default options: what `cmake --install` gives a distribution.
	# No edgeflip.ini: the example's Git server is a placeholder.
	printf '%s\n' usr/bin/edgeflip usr/bin/edgeflip-proxy etc/edgeflip/edgeflip.ini.example \
		usr/lib/systemd/system/edgeflip.service usr/lib/systemd/system/edgeflip-proxy.service \
		usr/share/doc/edgeflip/edgeflip.ini.example $docs | sort >"$TMP/want-default"
	install_list default >"$TMP/got-default"
	compare "cmake --install (defaults)" "$TMP/want-default" "$TMP/got-default"
	ef_check_log "installed /etc/edgeflip/edgeflip.ini.example is the example" \
		cmp "$TMP/stage-default/etc/edgeflip/edgeflip.ini.example" "$FW/edgeflip.ini.example"
	ef_check_log "installed unit runs the installed binary" \
		grep -qx 'ExecStart=/usr/bin/edgeflip -c /etc/edgeflip/edgeflip.ini run' \
		"$TMP/stage-default/usr/lib/systemd/system/edgeflip.service"
	ef_check_log "installed proxy unit runs the installed edgeflip-proxy" \
		grep -qx 'ExecStart=/usr/bin/edgeflip-proxy --state-dir /var/lib/edgeflip' \
		"$TMP/stage-default/usr/lib/systemd/system/edgeflip-proxy.service"
	ef_check_log "edgeflip-proxy --version prints the version" \
		bash -c "[ \"\$('$BUILD/edgeflip-proxy' --version)\" = 'edgeflip-proxy $cmake_version' ]"

	# OpenWrt: the binary only; init, UCI config and INI come from files/.
	# shellcheck disable=SC2046
	install_list openwrt $(options_of "$OPENWRT_MK") >"$TMP/got-openwrt"
	printf '%s\n' usr/bin/edgeflip usr/bin/edgeflip-proxy >"$TMP/want-openwrt"
	compare "OpenWrt (CMAKE_OPTIONS of net/edgeflip/Makefile)" "$TMP/want-openwrt" "$TMP/got-openwrt"
	has "$OPENWRT_MK" '\$\(PKG_INSTALL_DIR\)/usr/bin/edgeflip ' \
		'\$\(PKG_INSTALL_DIR\)/usr/bin/edgeflip-proxy' \
		'\./files/edgeflip\.init \$\(1\)/etc/init\.d/edgeflip' \
		'\./files/edgeflip\.config \$\(1\)/etc/config/edgeflip' \
		'\./files/edgeflip\.ini\.example \$\(1\)/etc/edgeflip/edgeflip\.ini\.example' \
		'\./files/edgeflip\.keep \$\(1\)/lib/upgrade/keep\.d/edgeflip'
	# sysupgrade keeps the state folder of the shipped example (the journal
	# and the anti-rollback anchor).
	state=$(awk -F' *= *' '$1 == "state_dir" { print $2 }' "$FW/openwrt/net/edgeflip/files/edgeflip.ini.example")
	has "$FW/openwrt/net/edgeflip/files/edgeflip.keep" "^${state%/}/?\$"
	for f in edgeflip.init edgeflip.config edgeflip.ini.example edgeflip.keep; do
		ef_check_log "OpenWrt files/$f exists" test -f "$FW/openwrt/net/edgeflip/files/$f"
	done

	# Buildroot: binary and config from CMake, init script / unit from the package.
	# shellcheck disable=SC2046
	install_list buildroot $(options_of "$BUILDROOT_MK") >"$TMP/got-buildroot"
	printf '%s\n' usr/bin/edgeflip usr/bin/edgeflip-proxy etc/edgeflip/edgeflip.ini.example | sort >"$TMP/want-buildroot"
	compare "Buildroot (EDGEFLIP_CONF_OPTS of edgeflip.mk)" "$TMP/want-buildroot" "$TMP/got-buildroot"
	has "$BUILDROOT_MK" 'S90edgeflip' '/etc/init.d/S90edgeflip' 'edgeflip\.service' \
		'/usr/lib/systemd/system/edgeflip\.service' '/usr/lib/systemd/system/edgeflip-proxy\.service' \
		'/etc/init.d/S60podman' '^ifeq \(\$\(BR2_PACKAGE_PODMAN\),y\)$'

	# Yocto with systemd: all of it, the unit in ${systemd_system_unitdir}.
	# shellcheck disable=SC2046
	install_list yocto $(options_of "$YOCTO_BB") >"$TMP/got-yocto"
	printf '%s\n' usr/bin/edgeflip usr/bin/edgeflip-proxy etc/edgeflip/edgeflip.ini.example \
		lib/systemd/system/edgeflip.service lib/systemd/system/edgeflip-proxy.service \
		usr/share/doc/edgeflip/edgeflip.ini.example $docs | sort >"$TMP/want-yocto"
	compare "Yocto (EXTRA_OECMAKE of ${YOCTO_BB##*/}, systemd image)" "$TMP/want-yocto" "$TMP/got-yocto"
	has "$YOCTO_BB" '\$\{sysconfdir\}/init\.d/edgeflip'

	# Back to the defaults for whoever uses this build folder next.
	install_list reset >/dev/null
else
	ef_fail "no edgeflip executable: install checks skipped"
fi

echo "# systemd unit"
has "$UNIT" '^Type=notify$' '^NotifyAccess=main$' '^WatchdogSec=[0-9]+' '^Restart=on-failure$' \
	'^ExecReload=/bin/kill -HUP \$MAINPID$' '^ExecStart=/usr/bin/edgeflip .* run$' \
	'^KillMode=mixed$' '^ProtectSystem=strict$' '^StateDirectory=edgeflip$' \
	'^ProtectHome=yes$' '^PrivateTmp=yes$' '^NoNewPrivileges=yes$' \
	'^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6$' '^ProtectKernelTunables=yes$' \
	'^ProtectKernelModules=yes$' '^ProtectKernelLogs=yes$' '^ProtectControlGroups=yes$' \
	'^WantedBy=multi-user\.target$' 'engine.s socket .* is root on'
has "$PROXY_UNIT" '^ExecStart=/usr/bin/edgeflip-proxy --state-dir /var/lib/edgeflip$' \
	'^Restart=always$' '^StateDirectory=edgeflip$' '^ProtectSystem=strict$' \
	'^ConditionPathExists=/etc/edgeflip/edgeflip\.ini$' '^WantedBy=multi-user\.target$'
has "$UNIT" '^ConditionPathExists=/etc/edgeflip/edgeflip\.ini$' '^Wants=.*edgeflip-proxy\.service' \
	'^After=.*edgeflip-proxy\.service' 'ReadWritePaths='
# What the agent is ordered after and is meant to bring up, it also wants
# (docker.service is ordering only: the Docker engine is not pulled in).
for u in $(sed -n 's/^After=//p' "$UNIT"); do
	case $u in docker.service | time-sync.target) continue ;; esac
	if grep -Eq "^Wants=(.* )?$u( |$)" "$UNIT"; then
		ef_pass "edgeflip.service: After=$u has its Wants="
	else
		ef_fail "edgeflip.service: After=$u without Wants=$u"
	fi
done
if command -v systemd-analyze >/dev/null; then
	for u in "$UNIT" "$PROXY_UNIT"; do
		name=${u##*/}
		# verify wants the programs to exist: point the unit at the built binaries.
		if [ -x "$EDGEFLIP" ]; then
			sed "s|/usr/bin/edgeflip|$BUILD/edgeflip|g" "$u" >"$TMP/$name"
		else
			sed "s|/usr/bin/edgeflip[a-z-]*|/bin/true|g" "$u" >"$TMP/$name"
		fi
		ef_check_log "systemd-analyze verify $name" \
			bash -c "cd '$TMP' && systemd-analyze verify '$TMP/$name' 2>&1 | tee /dev/stderr | (! grep -q .)"
		# Exposure 0.0 (best) .. 10.0; --threshold is in tenths. Seen here: 2.1.
		ef_check_log "systemd-analyze security $name: exposure at most 2.5" \
			systemd-analyze security --offline=true --threshold=25 "$TMP/$name"
	done
else
	echo "# skip: systemd-analyze not installed"
fi

echo "# configuration files"
inis=("$FW/edgeflip.ini.example" "$ROOT"/boards/*/board.ini "$FW/openwrt/net/edgeflip/files/edgeflip.ini.example")
for ini in "${inis[@]}"; do
	if [ -x "$EDGEFLIP" ]; then
		ef_check_log "edgeflip check-config ${ini#"$ROOT"/}" "$EDGEFLIP" -c "$ini" check-config
	fi
done
# The key table of core/agent/config.c: {"section", "key", ...
grep -oE '^\s*\{"[a-z_]+", "[a-z_]+"' "$ROOT/core/agent/config.c" |
	sed -E 's/^\s*\{"([a-z_]+)", "([a-z_]+)"/\1.\2/' | sort -u >"$TMP/keys-code"
# The example's keys, commented out (;key = ) or not, with their section.
awk '/^\[/ { gsub(/[\[\]]/, ""); s = $0; next }
	/^;?[a-z_]+ =( |$)/ { sub(/^;/, ""); print s "." $1 }' "$FW/edgeflip.ini.example" |
	sort -u >"$TMP/keys-example"
if [ -s "$TMP/keys-code" ] && diff -u "$TMP/keys-code" "$TMP/keys-example" >"$TMP/diff"; then
	ef_pass "edgeflip.ini.example names exactly the $(wc -l <"$TMP/keys-code") keys of core/agent/config.c"
else
	ef_fail "edgeflip.ini.example and core/agent/config.c's key table differ (- code, + example)"
	sed 's/^/       /' "$TMP/diff"
fi

echo "# packaging files"
has "$OPENWRT_MK" '^include \$\(TOPDIR\)/rules\.mk$' '^include \$\(INCLUDE_DIR\)/package\.mk$' \
	'^include \$\(INCLUDE_DIR\)/cmake\.mk$' '^\$\(eval \$\(call BuildPackage,edgeflip\)\)$' \
	'^define Package/edgeflip/conffiles$' '^/etc/edgeflip/edgeflip\.ini$' '^/etc/config/edgeflip$'
for dep in +libgit2 +libmbedtls +libinih +cJSON +zlib +libcurl +libsodium +libyaml +ca-bundle; do
	has "$OPENWRT_MK" "^ +DEPENDS:=.*\\$dep( |$)"
done
for opt in -DUSE_HTTPS=mbedTLS -DUSE_SSH=OFF -DUSE_HTTP_PARSER=builtin -DREGEX_BACKEND=builtin \
	-DBUILD_TESTS=OFF -DBUILD_CLI=OFF -DCERT_LOCATION=/; do
	has "$OPENWRT_LIBGIT2" "$opt"
done
# Buildroot: a change to its own libgit2.mk, proposed as a patch (not
# options appended from this tree).
for opt in '^\+else ifeq \(\$\(BR2_PACKAGE_MBEDTLS\),y\)$' '^\+LIBGIT2_DEPENDENCIES \+= mbedtls$' \
	-DUSE_HTTPS=mbedTLS -DCERT_LOCATION=/ '^\+\+\+ b/package/libgit2/0001-cmake-CERT_LOCATION'; do
	has "$BUILDROOT_PATCH" "$opt"
done
ef_check_log "external.mk does not change libgit2's options" bash -c "! grep -q LIBGIT2_ '$BUILDROOT_EXT'"
for opt in -DUSE_HTTPS=mbedTLS -DUSE_SSH=OFF -DUSE_HTTP_PARSER=builtin -DREGEX_BACKEND=builtin \
	-DBUILD_CLI=OFF -DCERT_LOCATION=; do
	has "$YOCTO_APPEND" "$opt"
done
# Opt-in: every assignment of the bbappend hangs on its own override.
ef_check_log "libgit2 bbappend changes nothing without the edgeflip-libgit2-mbedtls override" \
	bash -c "! grep -E '^[A-Z_]+(:[a-z-]+)* *[:?+.]?=' '$YOCTO_APPEND' | grep -v ':edgeflip-libgit2-mbedtls'"
# The libgit2 patch is one file, copied into each package.
for copy in "$FW"/openwrt/libs/libgit2/patches/0001-*.patch \
	"$FW"/yocto/meta-edgeflip/recipes-support/libgit2/files/0001-*.patch; do
	ef_check_log "${copy#"$ROOT"/} is firmware/patches/libgit2's" cmp "$copy" "$FW"/patches/libgit2/0001-*.patch
done
has "$OPENWRT_LIBGIT2" '^PKG_VERSION:=1\.(9|[1-9][0-9])\.' '^ +DEPENDS:=.*\+libmbedtls' \
	'^PKG_HASH:=[0-9a-f]{64}$'
has "$FW/buildroot/external.desc" '^name: EDGEFLIP$'
has "$BUILDROOT_MK" '^\$\(eval \$\(cmake-package\)\)$'
# The words of the (multi-line) EDGEFLIP_DEPENDENCIES assignment.
br_deps=$(sed -n '/^EDGEFLIP_DEPENDENCIES = /,/^$/p' "$BUILDROOT_MK" | tr -s ' \t\\' '\n\n\n')
for dep in libgit2 mbedtls inih cjson libcurl libsodium libyaml zlib; do
	if grep -qx "$dep" <<<"$br_deps"; then
		ef_pass "EDGEFLIP_DEPENDENCIES has $dep"
	else
		ef_fail "EDGEFLIP_DEPENDENCIES lacks $dep"
	fi
done
for sel in LIBGIT2 MBEDTLS INIH CJSON LIBCURL LIBSODIUM LIBYAML ZLIB CA_CERTIFICATES; do
	has "$BUILDROOT_CFG" "^\\s+select BR2_PACKAGE_$sel( |\$)"
done
has "$BUILDROOT_CFG" 'depends on BR2_USE_MMU' 'depends on !BR2_STATIC_LIBS'
# Neither edgeflip nor Buildroot's libgit2 needs threads from the toolchain.
ef_check_log "Buildroot Config.in: no BR2_TOOLCHAIN_HAS_THREADS dependency" \
	bash -c "! grep -q BR2_TOOLCHAIN_HAS_THREADS '$BUILDROOT_CFG'"
has "$FW/buildroot/configs/qemu_aarch64_virt_edgeflip_defconfig" '^BR2_aarch64=y$' \
	'^BR2_cortex_a53=y$' '^BR2_PACKAGE_EDGEFLIP=y$' '^BR2_DOWNLOAD_FORCE_CHECK_HASHES=y$'
has "$YOCTO_BB" '^inherit cmake pkgconfig systemd update-rc\.d ptest$' \
	'^SYSTEMD_SERVICE:\$\{PN\} = "edgeflip\.service edgeflip-proxy\.service"$' \
	'^INITSCRIPT_NAME = "edgeflip"$' '^RDEPENDS:\$\{PN\} \+= "ca-certificates"$' \
	'^PACKAGECONFIG\[tests\] = "-DEF_TESTS=ON -DEF_TEST_DATA_DIR=\$\{PTEST_PATH\}/data ' \
	'^S = "\$\{UNPACKDIR\}/\$\{BP\}"$' '^DEPENDS = .*libyaml' \
	'^PACKAGECONFIG\[podman\] = ",,,podman"$' '^PACKAGECONFIG\[docker\] = ",,,docker-moby"$'
# liburing (the proxy's io_uring path) is never picked up unasked from a
# staging directory: each package decides, with the dependency declared.
has "$YOCTO_BB" '^PACKAGECONFIG\[uring\] = "-DEF_URING=ON,-DEF_URING=OFF,liburing"$'
has "$BUILDROOT_MK" '^EDGEFLIP_DEPENDENCIES \+= liburing$' '^EDGEFLIP_CONF_OPTS \+= -DEF_URING=OFF$'
has "$OPENWRT_MK" '^\s+-DEF_URING=OFF \\$'
# The engines are opt-in: the default PACKAGECONFIG names neither.
ef_check_log "Yocto: podman/docker not in the default PACKAGECONFIG" \
	bash -c "! grep -E '^PACKAGECONFIG \?\?=.*(podman|docker)' '$YOCTO_BB'"
ef_check_log "Yocto: ptest writes no build path (\${S}, \${B}) into installed files" \
	bash -c "! sed -n '/^do_install_ptest/,/^}/p' '$YOCTO_BB' | grep -E 'echo .*\\$\\{(S|B|WORKDIR)\\}'"
has "$YOCTO_LAYER" '^BBFILE_COLLECTIONS \+= "edgeflip"$' \
	'^LAYERDEPENDS_edgeflip = "core openembedded-layer networking-layer"$' \
	'^LAYERRECOMMENDS_edgeflip = "virtualization-layer"$' \
	'^LAYERSERIES_COMPAT_edgeflip = "wrynose blacksail"$'
ef_check_log "Yocto layer README" test -s "$FW/yocto/meta-edgeflip/README.md"
# Each says which versions it was written against.
for f in "$OPENWRT_MK" "$OPENWRT_LIBGIT2" "$BUILDROOT_EXT" "$YOCTO_BB" "$YOCTO_APPEND" \
	"$YOCTO_LAYER" "$UNIT" "$OPENWRT_INIT"; do
	has "$f" '[Ww]ritten against'
done

echo "# license"
if [ -r /usr/share/common-licenses/Apache-2.0 ]; then
	ef_check_log "LICENSE is the Apache License 2.0 text" cmp "$ROOT/LICENSE" /usr/share/common-licenses/Apache-2.0
else
	has "$ROOT/LICENSE" '^ +Apache License$' '^ +Version 2\.0, January 2004$'
fi
sha=$(sha256sum "$ROOT/LICENSE" | cut -d' ' -f1)
md5=$(md5sum "$ROOT/LICENSE" | cut -d' ' -f1)
has "$BUILDROOT_MK" '^EDGEFLIP_LICENSE = Apache-2\.0$' '^EDGEFLIP_LICENSE_FILES = LICENSE$'
has "$BUILDROOT_HASH" "^sha256  $sha  LICENSE\$"
has "$OPENWRT_MK" '^PKG_LICENSE:=Apache-2\.0$' '^PKG_LICENSE_FILES:=LICENSE$'
for mk in "$OPENWRT_MK" "$OPENWRT_LIBGIT2"; do
	has "$mk" '^PKG_MAINTAINER:=[^<]*[^ <] <[^<>@ ]+@[^<> ]+>$'
done
has "$YOCTO_BB" '^LICENSE = "Apache-2\.0"$' "^LIC_FILES_CHKSUM = \"file://LICENSE;md5=$md5\"\$"

echo "# no placeholders, one version"
# Example files (edgeflip.ini.example) may name example hosts; patches quote
# other projects.
mapfile -t packaging_files < <(find "$FW/buildroot" "$FW/openwrt" "$FW/yocto" "$FW/systemd" \
	-type f ! -name '*.example' ! -name '*.patch')
if grep -nE 'example\.(com|org|net)|PKG_HASH:=skip|AUTOREV|LICENSE = "CLOSED"|<sha256|TODO|FIXME' \
	"${packaging_files[@]}" >"$TMP/placeholders"; then
	ef_fail "placeholders in the packaging files:"
	sed 's/^/       /' "$TMP/placeholders"
else
	ef_pass "no placeholder in ${#packaging_files[@]} packaging files (example hosts, PKG_HASH:=skip, AUTOREV, CLOSED, <...> slots)"
fi
yocto_pv=${YOCTO_BB##*/edgeflip_}
yocto_pv=${yocto_pv%.bb}
for got in "Buildroot EDGEFLIP_VERSION:$(sed -n 's/^EDGEFLIP_VERSION = //p' "$BUILDROOT_MK")" \
	"OpenWrt PKG_VERSION:$(sed -n 's/^PKG_VERSION:=//p' "$OPENWRT_MK")" \
	"Yocto PV (recipe file name):$yocto_pv"; do
	if [ -n "$cmake_version" ] && [ "${got#*:}" = "$cmake_version" ]; then
		ef_pass "${got%%:*} is the CMake project VERSION $cmake_version"
	else
		ef_fail "${got%%:*} is '${got#*:}', the CMake project VERSION '$cmake_version'"
	fi
done

echo "# ptest without build paths"
# Build one unit test as Yocto's recipe does (PACKAGECONFIG[tests], and the
# -ffile-prefix-map of Yocto's DEBUG_PREFIX_MAP): no path of this checkout may remain in it.
if pkg-config --exists cmocka 2>/dev/null; then
	if cmake -S "$ROOT" -B "$TMP/ptest-build" -DEF_TESTS=ON -DEF_WERROR=OFF \
		-DEF_TEST_DATA_DIR=/usr/lib/edgeflip/ptest/data -DEF_TEST_SOURCE_DIR=/usr/lib/edgeflip/ptest \
		"-DCMAKE_C_FLAGS=-ffile-prefix-map=$ROOT=/usr/src/debug/edgeflip" \
		>"$TMP/ptest.log" 2>&1 &&
		cmake --build "$TMP/ptest-build" -j"$(nproc)" --target test_config >>"$TMP/ptest.log" 2>&1; then
		ef_check_log "test_config built for ptest holds no path of $ROOT" \
			bash -c "! grep -c -a -F '$ROOT' '$TMP/ptest-build/tests/unit/test_config'"
		ef_check_log "test_config built for ptest looks for its data in the ptest folder" \
			grep -q -a -F /usr/lib/edgeflip/ptest/data/config "$TMP/ptest-build/tests/unit/test_config"
	else
		ef_fail "ptest-style build of test_config"
		tail -20 "$TMP/ptest.log"
	fi
else
	echo "# skip: cmocka not installed"
fi

ef_summary
