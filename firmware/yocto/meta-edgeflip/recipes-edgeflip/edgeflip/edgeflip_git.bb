SUMMARY = "edgeflip: GitOps agent for edge gateways (signed commits, blue/green containers)"
DESCRIPTION = "Follows one environment directory of a Git repository over HTTPS, \
deploys only commits signed by trusted keys through the Docker Engine API \
(Podman, Docker), flips traffic blue/green and rolls back on failed health checks."
HOMEPAGE = "https://git.example.com/edgeflip/edgeflip"
SECTION = "net"
# Written against oe-core / meta-openembedded master (2026-08).
# Set LICENSE and LIC_FILES_CHKSUM once the repository carries its license file.
LICENSE = "CLOSED"

# The repository this layer lives in. For a local checkout put in local.conf:
#   INHERIT += "externalsrc"
#   EXTERNALSRC:pn-edgeflip = "/path/to/edgeflip"
EDGEFLIP_GIT_URI ?= "git://git.example.com/edgeflip/edgeflip.git;protocol=https;branch=main"
SRC_URI = "${EDGEFLIP_GIT_URI} \
           file://edgeflip.init \
           file://run-ptest \
           "
SRCREV ?= "${AUTOREV}"
PV = "0.1+git"

DEPENDS = "libgit2 mbedtls libinih cjson curl libsodium zlib"

inherit cmake pkgconfig systemd update-rc.d ptest

# podman / docker: which container engine the image brings (the agent talks
# to either through the Engine API). nftables: the nftables switch backend.
# tests: the cmocka unit tests, on with ptest.
PACKAGECONFIG ??= "podman ${@bb.utils.contains('PTEST_ENABLED', '1', 'tests', '', d)}"
PACKAGECONFIG[podman] = ",,,podman"
PACKAGECONFIG[docker] = ",,,docker-moby"
PACKAGECONFIG[nftables] = ",,,nftables"
PACKAGECONFIG[tests] = "-DEF_TESTS=ON,-DEF_TESTS=OFF,cmocka"

# cmake.bbclass passes CMAKE_INSTALL_SYSCONFDIR=${sysconfdir}: the default
# config lands in /etc/edgeflip/edgeflip.ini, the unit in systemd's folder.
EXTRA_OECMAKE = "\
    -DEF_WERROR=OFF \
    -DEF_INSTALL_CONFIG=ON \
    -DEF_INSTALL_DOCS=ON \
    -DEF_INSTALL_SYSTEMD_UNIT=${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'ON', 'OFF', d)} \
    -DEF_SYSTEMD_UNITDIR=${systemd_system_unitdir} \
"

SYSTEMD_SERVICE:${PN} = "edgeflip.service"
INITSCRIPT_NAME = "edgeflip"
INITSCRIPT_PARAMS = "defaults 90 10"

do_install:append() {
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -d ${D}${sysconfdir}/init.d
        install -m 0755 ${UNPACKDIR}/edgeflip.init ${D}${sysconfdir}/init.d/edgeflip
    fi
}

# The unit tests find their data through the absolute source path compiled
# in (EF_TEST_DATA): run-ptest links that path to the installed copy.
do_install_ptest() {
    install -d ${D}${PTEST_PATH}/tests
    for t in ${B}/tests/unit/test_*; do
        [ -x "$t" ] && install -m 0755 "$t" ${D}${PTEST_PATH}/tests/
    done
    if [ -d ${S}/tests/unit/data ]; then
        cp -r ${S}/tests/unit/data ${D}${PTEST_PATH}/data
    fi
    echo "${S}/tests/unit/data" > ${D}${PTEST_PATH}/data-path
}

CONFFILES:${PN} = "${sysconfdir}/edgeflip/edgeflip.ini"
RDEPENDS:${PN} += "ca-certificates"
RDEPENDS:${PN}-ptest += "bash"
