# libgit2 on mbedTLS instead of OpenSSL, for edgeflip: HTTPS over mbedTLS
# (meta-networking's mbedtls 3.6), no SSH, the bundled HTTP parser and regex.
# Written against oe-core's libgit2_1.9.7.bb (wrynose, master 2026-08).
#
# Opt-in: nothing here applies unless the distro (or local.conf) adds the
# override:   DISTROOVERRIDES:append = ":edgeflip-libgit2-mbedtls"
# Without it oe-core's libgit2 stays as it is; edgeflip works with either.
#
# CERT_LOCATION is the CA bundle on the target (ca-certificates). libgit2's
# CMake wants it to exist on the build host; the patch takes it as the
# target's path when cross-compiling.
FILESEXTRAPATHS:prepend:edgeflip-libgit2-mbedtls := "${THISDIR}/files:"

DEPENDS:remove:edgeflip-libgit2-mbedtls:class-target = "openssl libssh2 libgcrypt libpcre2"
DEPENDS:append:edgeflip-libgit2-mbedtls:class-target = " mbedtls"

SRC_URI:append:edgeflip-libgit2-mbedtls:class-target = " file://0001-cmake-CERT_LOCATION-names-a-target-path-when-cross-c.patch"

EXTRA_OECMAKE:append:edgeflip-libgit2-mbedtls:class-target = " \
    -DUSE_HTTPS=mbedTLS \
    -DUSE_SHA1=CollisionDetection \
    -DUSE_SHA256=mbedTLS \
    -DUSE_SSH=OFF \
    -DUSE_GSSAPI=OFF \
    -DUSE_NTLMCLIENT=OFF \
    -DUSE_HTTP_PARSER=builtin \
    -DREGEX_BACKEND=builtin \
    -DBUILD_CLI=OFF \
    -DCERT_LOCATION=${sysconfdir}/ssl/certs/ca-certificates.crt \
"
