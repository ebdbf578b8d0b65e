#!/bin/sh
# build-firmware-deps.sh [--arch host|aarch64|armv7] PREFIX
#
# Builds the libraries of the firmware configuration from Debian trixie's
# source packages into PREFIX, as static libraries with minimal options:
#
#   zlib, mbedTLS 3.6 (its default configuration: TLS 1.3 on), http-parser,
#   libgit2 1.9 (HTTPS on mbedTLS, no SSH, no GSSAPI, no NTLM), inih, cJSON,
#   curl (HTTP and unix sockets only, no TLS), libsodium (minimal), libyaml.
#
# Then edgeflip builds against PREFIX (docs/firmware-build.md):
#   host:  PKG_CONFIG_PATH=PREFIX/lib/pkgconfig cmake -DCMAKE_PREFIX_PATH=PREFIX ...
#   cross: cmake -DCMAKE_TOOLCHAIN_FILE=boards/common/firmware-toolchain.cmake
#                -DEF_BOARD=qemu-aarch64 -DEF_FIRMWARE_PREFIX=PREFIX ...
#
# Sources come from a private apt setup (its own sources file, lists and
# cache under $EF_FIRMWARE_SOURCES/.apt): the machine's apt configuration is
# not touched. Debian's security patches (debian/patches/*CVE*) are applied;
# Debian's other patches (packaging, Debian-only ABI changes such as inih's
# forced INI_HANDLER_LINENO) are not, as firmware build systems use upstream.
#
# Cross builds (aarch64, armv7) use Debian's cross compilers and the sysroot
# of boards/common/make-sysroot.sh for the C library.
#
# Cached: when PREFIX/.edgeflip-firmware-deps matches this script and its
# settings, nothing is done. Each library is also stamped, so an interrupted
# run continues where it stopped. Delete PREFIX to start again.
#
# Environment:
#   EF_FIRMWARE_SOURCES  source packages (default ~/.cache/edgeflip/firmware-sources)
#   EF_FIRMWARE_CFLAGS   compiler flags (default "-Os -ffunction-sections -fdata-sections")
#   EF_FIRMWARE_JOBS     parallel jobs (default: nproc)
#   EF_FIRMWARE_SUITE    Debian suite of the sources (default trixie)
#   EF_FIRMWARE_CERT_LOCATION  libgit2's default CA file (default
#                        /etc/ssl/certs/ca-certificates.crt; must exist here)
#   EF_FIRMWARE_KEEP_BUILD=1   keep PREFIX/.build after success
#   EF_DEBIAN_MIRROR     default http://deb.debian.org/debian
#   EF_SYSROOT           cross sysroot (default ~/.cache/edgeflip/sysroot-ARCH)
#   EF_NO_APT_INSTALL=1  never apt-get install host tools
# shellcheck disable=SC2086
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

usage() {
	echo "usage: $0 [--arch host|aarch64|armv7] PREFIX" >&2
	exit 2
}
ARCH=host
while [ $# -gt 0 ]; do
	case "$1" in
	--arch)
		[ $# -ge 2 ] || usage
		ARCH=$2
		shift 2
		;;
	--arch=*)
		ARCH=${1#--arch=}
		shift
		;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
PREFIX=$1

say() { echo "firmware-deps[$ARCH]: $*" >&2; }
die() {
	say "error: $*"
	exit 1
}
# shellcheck source=boards/common/debian-apt.sh
. "$HERE/debian-apt.sh"

CACHE_HOME=${XDG_CACHE_HOME:-$HOME/.cache}
case "$ARCH" in
host | x86_64 | native)
	ARCH=host
	TRIPLET=$(gcc -dumpmachine)
	CROSS=""
	;;
aarch64 | arm64)
	ARCH=aarch64
	TRIPLET=aarch64-linux-gnu
	DEB_ARCH=arm64
	BOARD=qemu-aarch64
	CROSS=$TRIPLET-
	;;
armv7 | armhf)
	ARCH=armv7
	TRIPLET=arm-linux-gnueabihf
	DEB_ARCH=armhf
	BOARD=qemu-armv7
	CROSS=$TRIPLET-
	;;
*) usage ;;
esac

CFLAGS_FW=${EF_FIRMWARE_CFLAGS:--Os -ffunction-sections -fdata-sections}
# 32-bit glibc: 64-bit file offsets and time_t, as edgeflip is built
# (CMakeLists.txt) and as Buildroot and Yocto build. Without them libgit2's
# readdir() fails with EOVERFLOW under qemu-user on a 64-bit host's files.
[ "$ARCH" = armv7 ] && CFLAGS_FW="$CFLAGS_FW -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64"
JOBS=${EF_FIRMWARE_JOBS:-$(nproc 2>/dev/null || echo 2)}
SUITE=${EF_FIRMWARE_SUITE:-trixie}
MIRROR=${EF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SOURCES=${EF_FIRMWARE_SOURCES:-$CACHE_HOME/edgeflip/firmware-sources}
CERT_LOCATION=${EF_FIRMWARE_CERT_LOCATION:-/etc/ssl/certs/ca-certificates.crt}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# Source package, then the upstream version it must carry (a shell pattern).
PACKAGES="zlib:1.3* mbedtls:3.6.* http-parser:2.9.* libgit2:1.9.* libinih:* cjson:1.7.* curl:8.* libsodium:1.0.* libyaml:0.2.*"

# What the cache stamp covers: the recipes (bump RECIPES when a build_*
# function or the package list changes), the target and the settings. Not
# the network: a cached PREFIX needs no apt.
RECIPES=2
STAMP_WANT="arch=$ARCH triplet=$TRIPLET suite=$SUITE cflags=$(echo $CFLAGS_FW | tr ' ' ,) cert=$CERT_LOCATION recipes=$RECIPES"
if [ -f "$PREFIX/.edgeflip-firmware-deps" ] &&
	[ "$(head -1 "$PREFIX/.edgeflip-firmware-deps")" = "$STAMP_WANT" ]; then
	say "cached: $PREFIX"
	exit 0
fi

# 1. Host tools.
need=""
for tool in cmake:cmake make:make gcc:gcc xz:xz-utils bzip2:bzip2 patch:patch \
	pkg-config:pkgconf autoreconf:autoconf automake:automake libtoolize:libtool; do
	command -v "${tool%%:*}" >/dev/null 2>&1 || need="$need ${tool#*:}"
done
[ -r "$KEYRING" ] || need="$need debian-archive-keyring"
[ -e "$CERT_LOCATION" ] || need="$need ca-certificates"
if [ -n "$CROSS" ]; then
	command -v "${CROSS}gcc" >/dev/null 2>&1 || need="$need gcc-$TRIPLET"
fi
ef_host_install "$need"
[ -e "$CERT_LOCATION" ] || die "EF_FIRMWARE_CERT_LOCATION=$CERT_LOCATION does not exist"

# The cross sysroot provides the C library (headers, libc.a).
if [ -n "$CROSS" ]; then
	SYSROOT=${EF_SYSROOT:-$CACHE_HOME/edgeflip/sysroot-$DEB_ARCH}
	"$HERE/make-sysroot.sh" "$DEB_ARCH" "$SYSROOT" || die "make-sysroot.sh $DEB_ARCH failed"
	SYSROOT=$(cd "$SYSROOT" && pwd)
	TOOLCHAIN="$ROOT/boards/$BOARD/toolchain.cmake"
fi

# 2. PREFIX: ours (marked) or empty. A PREFIX made with other settings is
# emptied first, so that no library of another build is left behind.
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
if [ -f "$PREFIX/.edgeflip-firmware-deps.want" ]; then
	if [ "$(cat "$PREFIX/.edgeflip-firmware-deps.want")" != "$STAMP_WANT" ]; then
		say "settings changed: emptying $PREFIX"
		find "$PREFIX" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
	fi
elif [ -n "$(ls -A "$PREFIX")" ]; then
	die "$PREFIX is not empty and was not made by this script"
fi
echo "$STAMP_WANT" >"$PREFIX/.edgeflip-firmware-deps.want"
BUILD=$PREFIX/.build
STAMPS=$PREFIX/.stamps
mkdir -p "$BUILD" "$STAMPS" "$PREFIX/lib/pkgconfig" "$PREFIX/include" "$PREFIX/share/edgeflip-firmware-deps"

# 3. Source packages: a private apt with deb-src lines for $SUITE.
APTD=$SOURCES/.apt
mkdir -p "$APTD/lists/partial" "$APTD/cache/archives/partial" "$APTD/empty"
SOURCES=$(cd "$SOURCES" && pwd)
APTD=$SOURCES/.apt
cat >"$APTD/sources.sources.new" <<EOF
Types: deb-src
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: $KEYRING

Types: deb-src
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: $KEYRING
EOF
# The security suite only when the mirror is deb.debian.org's layout.
case "$MIRROR" in */debian) ;; *) sed -i '/^$/,$d' "$APTD/sources.sources.new" ;; esac
if ! cmp -s "$APTD/sources.sources.new" "$APTD/sources.sources"; then
	mv "$APTD/sources.sources.new" "$APTD/sources.sources"
	rm -f "$APTD/updated"
else
	rm -f "$APTD/sources.sources.new"
fi
APT_OPTS="-o Dir::Etc::sourcelist=$APTD/sources.sources -o Dir::Etc::sourceparts=-
-o Dir::State::Lists=$APTD/lists -o Dir::Cache=$APTD/cache -o Debug::NoLocking=1
-o APT::Sandbox::User=root -o Acquire::Retries=3"


apt_updated=0
apt_update() {
	[ $apt_updated = 1 ] && return 0
	if [ -z "$(find "$APTD/updated" -mtime -1 2>/dev/null)" ]; then
		say "apt-get update (deb-src $SUITE)"
		# A suite missing on the mirror (security, updates) is not an error.
		ef_apt_retry apt-get $APT_OPTS -qq update >&2 || die "apt-get update failed"
		touch "$APTD/updated"
	fi
	apt_updated=1
}

# fetch_source PKG PATTERN: leaves $SOURCES/PKG.dsc-name in $DSC_FILE (or
# empty when only the upstream tarball could be fetched) and the upstream
# tarball in $ORIG_FILE. Tries the versions of the index newest first: a
# mirror can list a version before it serves its files.
fetch_source() {
	pkg=$1
	pattern=$2
	ORIG_FILE=""
	DSC_FILE=""
	if [ -f "$SOURCES/$pkg.fetched" ]; then
		# shellcheck disable=SC1090
		. "$SOURCES/$pkg.fetched"
		if [ -f "$SOURCES/$ORIG_FILE" ]; then
			return 0
		fi
	fi
	apt_update
	versions=$(apt-cache $APT_OPTS showsrc "$pkg" 2>/dev/null |
		awk -v p="$pkg" '/^Package:/ { ok = ($2 == p) } ok && /^Version:/ { print $2 }' |
		sort -u -r -V)
	[ -n "$versions" ] || die "no source package $pkg in $SUITE"
	fallback_orig=""
	fallback_ver=""
	for v in $versions; do
		upstream=${v#*:}
		upstream=${upstream%-*}
		# shellcheck disable=SC2254
		case "$upstream" in $pattern) ;; *) continue ;; esac
		# apt leaves files it already has out of --print-uris: ask from an
		# empty folder.
		files=$(cd "$APTD/empty" && apt-get $APT_OPTS --print-uris source "$pkg=$v" 2>/dev/null |
			sed -n "s/^'[^']*' \([^ ]*\) .*/\1/p")
		orig=$(echo "$files" | grep -E '\.orig\.tar\.[a-z0-9]+$' | head -1)
		dsc=$(echo "$files" | grep -E '\.dsc$' | head -1)
		(cd "$SOURCES" && apt-get $APT_OPTS -qq --download-only source "$pkg=$v" >/dev/null 2>&1) || true
		all=1
		for f in $files; do [ -f "$SOURCES/$f" ] || all=0; done
		if [ -n "$orig" ] && [ -f "$SOURCES/$orig" ]; then
			if [ $all = 1 ]; then
				ORIG_FILE=$orig
				DSC_FILE=$dsc
				VERSION=$v
				break
			fi
			[ -n "$fallback_orig" ] || { fallback_orig=$orig && fallback_ver=$v; }
		fi
	done
	if [ -z "$ORIG_FILE" ]; then
		[ -n "$fallback_orig" ] || die "could not download $pkg ($pattern) from $MIRROR"
		say "warning: $pkg $fallback_ver: only the upstream tarball is served; no Debian patches"
		ORIG_FILE=$fallback_orig
		VERSION="$fallback_ver (upstream only)"
	fi
	printf 'ORIG_FILE=%s\nDSC_FILE=%s\nVERSION="%s"\n' "$ORIG_FILE" "$DSC_FILE" "$VERSION" \
		>"$SOURCES/$pkg.fetched"
}

# unpack PKG: upstream source in $BUILD/PKG/src with Debian's security
# patches applied; sets SRC.
unpack() {
	pkg=$1
	SRC=$BUILD/$pkg/src
	rm -rf "${BUILD:?}/$pkg"
	mkdir -p "$BUILD/$pkg/x"
	tar -xf "$SOURCES/$ORIG_FILE" -C "$BUILD/$pkg/x"
	top=$(find "$BUILD/$pkg/x" -mindepth 1 -maxdepth 1 -type d | head -1)
	[ -n "$top" ] || die "$ORIG_FILE: no folder inside"
	mv "$top" "$SRC"
	rm -rf "$BUILD/$pkg/x"
	applied=""
	if [ -n "$DSC_FILE" ]; then
		deb=$(sed -n 's/^ [0-9a-f]\{32,\} [0-9]* \(.*\.debian\.tar\.[a-z0-9]*\)$/\1/p' \
			"$SOURCES/$DSC_FILE" | head -1)
		if [ -n "$deb" ] && [ -f "$SOURCES/$deb" ]; then
			mkdir -p "$BUILD/$pkg/debian"
			tar -xf "$SOURCES/$deb" -C "$BUILD/$pkg/debian"
			series=$BUILD/$pkg/debian/debian/patches/series
			if [ -f "$series" ]; then
				# One patch a line, maybe followed by options (-p1): the name only.
				# shellcheck disable=SC2013 # patch names never contain spaces
				for p in $(sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]].*//' "$series"); do
					case "$p" in *CVE*) ;; *) continue ;; esac
					patch -d "$SRC" -p1 -s --forward --no-backup-if-mismatch \
						<"$BUILD/$pkg/debian/debian/patches/$p" >>"$BUILD/$pkg.log" 2>&1 ||
						die "$pkg: Debian patch $p does not apply (see $BUILD/$pkg.log)"
					applied="$applied $(basename "$p" .patch)"
				done
			fi
		fi
	fi
	echo "$pkg $VERSION${applied:+ patches:$applied}" >"$PREFIX/share/edgeflip-firmware-deps/$pkg"
	say "$pkg $VERSION${applied:+ (Debian patches:$applied)}"
}

# Compilers and flags.
if [ -n "$CROSS" ]; then
	CC="${CROSS}gcc --sysroot=$SYSROOT"
	HOST_OPT="--host=$TRIPLET"
	CMAKE_TC="-DCMAKE_TOOLCHAIN_FILE=$TOOLCHAIN -DEF_SYSROOT=$SYSROOT"
else
	CC=gcc
	HOST_OPT=""
	CMAKE_TC=""
fi
AR=${CROSS}ar
RANLIB=${CROSS}ranlib
export AR RANLIB
CMAKE_COMMON="$CMAKE_TC -DCMAKE_INSTALL_PREFIX=$PREFIX -DCMAKE_INSTALL_LIBDIR=lib
-DCMAKE_BUILD_TYPE=None -DBUILD_SHARED_LIBS=OFF -DCMAKE_PREFIX_PATH=$PREFIX"

run() {
	# run PKG COMMAND...: output to the package's log; the log's tail on failure.
	log=$BUILD/$1.log
	shift
	if ! "$@" >>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "failed: $* (log: $log)"
	fi
}

build_zlib() {
	cd "$SRC"
	run zlib env CC="$CC" CFLAGS="$CFLAGS_FW" CHOST="${CROSS:+$TRIPLET}" ./configure --static \
		--prefix="$PREFIX" --libdir="$PREFIX/lib"
	run zlib make -j"$JOBS" libz.a
	run zlib make install
}

build_mbedtls() {
	# The default configuration (include/mbedtls/mbedtls_config.h): TLS 1.2
	# and 1.3, PSA crypto. Generated files ship in the release tarball.
	run mbedtls cmake -S "$SRC" -B "$BUILD/mbedtls/build" $CMAKE_COMMON \
		-DCMAKE_C_FLAGS="$CFLAGS_FW" -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF \
		-DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON \
		-DMBEDTLS_FATAL_WARNINGS=OFF -DGEN_FILES=OFF
	run mbedtls cmake --build "$BUILD/mbedtls/build" -j"$JOBS"
	run mbedtls cmake --install "$BUILD/mbedtls/build"
}

build_http_parser() {
	# Debian's libgit2 source has no bundled llhttp: libgit2 uses
	# http-parser, built as its Makefile builds the library (non-strict).
	cd "$SRC"
	run http-parser $CC $CFLAGS_FW -DHTTP_PARSER_STRICT=0 -c http_parser.c -o http_parser.o
	run http-parser $AR rcs "$PREFIX/lib/libhttp_parser.a" http_parser.o
	cp http_parser.h "$PREFIX/include/"
}

build_libgit2() {
	# Debian's libgit2 source (+ds) has no bundled llhttp, PCRE, zlib or
	# ntlmclient: the HTTP parser is http-parser, regular expressions come
	# from the C library (regcomp), zlib is ours.
	run libgit2 cmake -S "$SRC" -B "$BUILD/libgit2/build" $CMAKE_COMMON \
		-DCMAKE_C_FLAGS="$CFLAGS_FW -DNDEBUG" \
		-DBUILD_TESTS=OFF -DBUILD_CLI=OFF -DBUILD_EXAMPLES=OFF -DBUILD_FUZZERS=OFF \
		-DUSE_HTTPS=mbedTLS -DUSE_SHA1=CollisionDetection -DUSE_SHA256=HTTPS \
		-DUSE_SSH=OFF -DUSE_GSSAPI=OFF -DUSE_NTLMCLIENT=OFF -DUSE_BUNDLED_ZLIB=OFF \
		-DUSE_HTTP_PARSER=http-parser -DREGEX_BACKEND=regcomp \
		-DCERT_LOCATION="$CERT_LOCATION" -DENABLE_REPRODUCIBLE_BUILDS=ON \
		-DMBEDTLS_INCLUDE_DIR="$PREFIX/include" \
		-DMBEDTLS_LIBRARY="$PREFIX/lib/libmbedtls.a" \
		-DMBEDX509_LIBRARY="$PREFIX/lib/libmbedx509.a" \
		-DMBEDCRYPTO_LIBRARY="$PREFIX/lib/libmbedcrypto.a" \
		-DHTTP_PARSER_INCLUDE_DIR="$PREFIX/include" \
		-DHTTP_PARSER_LIBRARY="$PREFIX/lib/libhttp_parser.a" \
		-DZLIB_INCLUDE_DIR="$PREFIX/include" -DZLIB_LIBRARY="$PREFIX/lib/libz.a"
	run libgit2 cmake --build "$BUILD/libgit2/build" -j"$JOBS"
	run libgit2 cmake --install "$BUILD/libgit2/build"
}

build_libinih() {
	# Upstream's defaults (ini.h): what the meson build does without options.
	cd "$SRC"
	run libinih $CC $CFLAGS_FW -c ini.c -o ini.o
	run libinih $AR rcs "$PREFIX/lib/libinih.a" ini.o
	cp ini.h "$PREFIX/include/"
	ver=$(sed -n 's/^ *version *: *.\([0-9][0-9]*\).*/\1/p' meson.build | head -1)
	cat >"$PREFIX/lib/pkgconfig/inih.pc" <<EOF
prefix=$PREFIX
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: inih
Description: simple .INI file parser
Version: ${ver:-0}
Libs: -L\${libdir} -linih
Cflags: -I\${includedir}
EOF
}

build_cjson() {
	run cjson cmake -S "$SRC" -B "$BUILD/cjson/build" $CMAKE_COMMON \
		-DCMAKE_C_FLAGS="$CFLAGS_FW" -DENABLE_CJSON_TEST=OFF -DENABLE_CJSON_UTILS=OFF \
		-DENABLE_CUSTOM_COMPILER_FLAGS=OFF -DENABLE_TARGET_EXPORT=OFF
	run cjson cmake --build "$BUILD/cjson/build" -j"$JOBS"
	run cjson cmake --install "$BUILD/cjson/build"
}

build_curl() {
	# HTTP over TCP and unix sockets, nothing else: the engine API is a unix
	# socket and health probes are plain http:// (core/deploy/health.c,
	# port/engine/docker_api.c). No TLS, no compression, no proxies, no
	# cookies, no authentication.
	cd "$SRC"
	run curl env CC="$CC" CFLAGS="$CFLAGS_FW" ./configure $HOST_OPT --prefix="$PREFIX" \
		--libdir="$PREFIX/lib" --disable-shared --enable-static --disable-dependency-tracking \
		--without-ssl --without-zlib --without-brotli --without-zstd --without-libpsl \
		--without-libidn2 --without-nghttp2 --without-nghttp3 --without-ngtcp2 \
		--without-libssh2 --without-libssh --without-librtmp --without-gssapi \
		--without-libgsasl --without-ca-bundle --without-ca-path --without-ca-fallback \
		--disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
		--disable-tftp --disable-pop3 --disable-imap --disable-smtp --disable-gopher \
		--disable-mqtt --disable-ftp --disable-file --disable-smb --disable-ipfs \
		--disable-websockets --disable-manual --disable-docs --disable-ntlm \
		--disable-kerberos-auth --disable-negotiate-auth --disable-digest-auth \
		--disable-basic-auth --disable-bearer-auth --disable-aws --disable-cookies \
		--disable-netrc --disable-alt-svc --disable-hsts --disable-doh --disable-proxy \
		--disable-mime --disable-form-api --disable-dateparse --disable-sspi \
		--disable-tls-srp --disable-unity --disable-libcurl-option --disable-socketpair \
		--enable-unix-sockets --enable-threaded-resolver --enable-ipv6
	run curl make -C lib -j"$JOBS"
	run curl make -C lib install
	run curl make -C include install
	run curl make install-pkgconfigDATA
}

build_libsodium() {
	# Debian's tarball is the git tree: no configure script yet.
	cd "$SRC"
	[ -x configure ] || run libsodium autoreconf -fi
	run libsodium env CC="$CC" CFLAGS="$CFLAGS_FW" ./configure $HOST_OPT --prefix="$PREFIX" \
		--libdir="$PREFIX/lib" --disable-shared --enable-static --enable-minimal \
		--disable-dependency-tracking --disable-pie --without-pthreads
	run libsodium make -j"$JOBS"
	run libsodium make install
}

build_libyaml() {
	# The library alone, with the defines its CMakeLists.txt passes (the
	# version comes from there); pkg-config name yaml-0.1 as upstream's
	# autotools and Debian install it.
	cd "$SRC"
	major=$(sed -n 's/^set *( *YAML_VERSION_MAJOR *\([0-9]*\)).*/\1/p' CMakeLists.txt)
	minor=$(sed -n 's/^set *( *YAML_VERSION_MINOR *\([0-9]*\)).*/\1/p' CMakeLists.txt)
	patch=$(sed -n 's/^set *( *YAML_VERSION_PATCH *\([0-9]*\)).*/\1/p' CMakeLists.txt)
	if [ -z "$major" ] || [ -z "$minor" ] || [ -z "$patch" ]; then
		die "libyaml: no version in CMakeLists.txt"
	fi
	ver=$major.$minor.$patch
	for c in src/*.c; do
		run libyaml $CC $CFLAGS_FW -Iinclude \
			-DYAML_VERSION_MAJOR="$major" -DYAML_VERSION_MINOR="$minor" \
			-DYAML_VERSION_PATCH="$patch" -DYAML_VERSION_STRING="\"$ver\"" \
			-c "$c" -o "${c%.c}.o"
	done
	run libyaml $AR rcs "$PREFIX/lib/libyaml.a" src/*.o
	cp include/yaml.h "$PREFIX/include/"
	cat >"$PREFIX/lib/pkgconfig/yaml-0.1.pc" <<EOF
prefix=$PREFIX
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: LibYAML
Description: Library to parse and emit YAML
Version: $ver
Libs: -L\${libdir} -lyaml
Cflags: -I\${includedir}
EOF
}

t_all=$(date +%s)
for entry in $PACKAGES; do
	pkg=${entry%%:*}
	pattern=${entry#*:}
	if [ -f "$STAMPS/$pkg" ] && [ "$(cat "$STAMPS/$pkg")" = "$STAMP_WANT" ]; then
		say "$pkg: done before"
		continue
	fi
	fetch_source "$pkg" "$pattern"
	t0=$(date +%s)
	: >"$BUILD/$pkg.log"
	unpack "$pkg"
	"build_$(echo "$pkg" | tr - _)"
	cd "$PREFIX"
	echo "$STAMP_WANT" >"$STAMPS/$pkg"
	say "$pkg built in $(($(date +%s) - t0)) s"
done

# Static libraries only: a shared library left in PREFIX would be linked
# in place of the archive.
find "$PREFIX/lib" -maxdepth 1 \( -name '*.so' -o -name '*.so.*' -o -name '*.la' \) -delete
for lib in libz libmbedtls libmbedx509 libmbedcrypto libhttp_parser libgit2 libinih libcjson \
	libcurl libsodium libyaml; do
	[ -f "$PREFIX/lib/$lib.a" ] || die "$PREFIX/lib/$lib.a is missing"
done

cat "$PREFIX"/share/edgeflip-firmware-deps/* >"$PREFIX/share/edgeflip-firmware-deps/VERSIONS.new"
mv "$PREFIX/share/edgeflip-firmware-deps/VERSIONS.new" "$PREFIX/VERSIONS"
[ "${EF_FIRMWARE_KEEP_BUILD:-0}" = 1 ] || rm -rf "$BUILD"
{
	echo "$STAMP_WANT"
	cat "$PREFIX/VERSIONS"
} >"$PREFIX/.edgeflip-firmware-deps"
say "ready: $PREFIX ($(du -sh --exclude=.build "$PREFIX" | cut -f1), $(($(date +%s) - t_all)) s)"
