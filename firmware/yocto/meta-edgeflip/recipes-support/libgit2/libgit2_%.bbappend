# libgit2 on mbedTLS instead of OpenSSL, for edgeflip: HTTPS over mbedTLS
# (meta-networking's mbedtls 3.6), no SSH, the bundled HTTP parser and regex.
# Written against oe-core's libgit2_1.9.x.bb (master, 2026-08). Needs libgit2
# >= 1.8 (mbedTLS 3 support); on scarthgap (1.7.2) leave this layer's
# EDGEFLIP_LIBGIT2_MBEDTLS = "0" in local.conf.
#
# CERT_LOCATION: libgit2's CMake checks that the path exists on the build
# host (otherwise it runs the host's `openssl version -d` or stops); on the
# target ca-certificates installs it. edgeflip sets its own ca_file anyway.
EDGEFLIP_LIBGIT2_MBEDTLS ??= "1"

DEPENDS:remove:class-target = "${@'openssl libssh2 libgcrypt libpcre2' if d.getVar('EDGEFLIP_LIBGIT2_MBEDTLS') == '1' else ''}"
DEPENDS:append:class-target = "${@' mbedtls' if d.getVar('EDGEFLIP_LIBGIT2_MBEDTLS') == '1' else ''}"

EXTRA_OECMAKE:append:class-target = "${@' \
    -DUSE_HTTPS=mbedTLS \
    -DUSE_SHA1=CollisionDetection \
    -DUSE_SHA256=mbedTLS \
    -DUSE_SSH=OFF \
    -DUSE_GSSAPI=OFF \
    -DUSE_NTLMCLIENT=OFF \
    -DUSE_HTTP_PARSER=builtin \
    -DREGEX_BACKEND=builtin \
    -DBUILD_CLI=OFF \
    -DCERT_LOCATION=/etc/ssl/certs/ca-certificates.crt' if d.getVar('EDGEFLIP_LIBGIT2_MBEDTLS') == '1' else ''}"
