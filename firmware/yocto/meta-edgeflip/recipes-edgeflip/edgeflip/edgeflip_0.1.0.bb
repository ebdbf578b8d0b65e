SUMMARY = "GitOps agent for edge gateways: signed commits to blue/green containers"
DESCRIPTION = "Follows one environment directory of a Git repository over HTTPS, \
               deploys only commits signed by trusted keys through the Docker Engine \
               API (Podman, Docker), flips traffic blue/green and rolls back on \
               failed health checks."
SECTION = "net"
# Written against oe-core / meta-openembedded wrynose and master (2026-08).
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

DEPENDS = "cjson curl libgit2 libinih libsodium libyaml mbedtls zlib"

# This layer lives in the edgeflip checkout and builds that checkout: PV (the
# file name) is the project(VERSION) of its CMakeLists.txt. The tree is
# fetched as local files from EDGEFLIP_SRC_DIR (default: the checkout around
# this layer; set it in local.conf for a copy elsewhere).
EDGEFLIP_TREE := "${THISDIR}/../../../../.."
EDGEFLIP_SRC_DIR ??= "${EDGEFLIP_TREE}"
# A recipe that builds the tree it lives in: the tree is its FILESPATH.
# nooelint: oelint.vars.fileextrapaths, oelint.vars.outofcontext
FILESEXTRAPATHS:prepend := "${EDGEFLIP_SRC_DIR}:"
SRC_URI = "\
    file://CMakeLists.txt;subdir=${BP} \
    file://LICENSE;subdir=${BP} \
    file://cmake;subdir=${BP} \
    file://core;subdir=${BP} \
    file://docs;subdir=${BP} \
    file://firmware;subdir=${BP} \
    file://include;subdir=${BP} \
    file://port;subdir=${BP} \
    file://tests;subdir=${BP} \
    file://edgeflip.init \
    file://run-ptest \
"
S = "${UNPACKDIR}/${BP}"

inherit cmake pkgconfig systemd update-rc.d ptest

# podman / docker: which container engine the image brings (the agent talks
# to either through the Engine API); both come from meta-virtualization
# (LAYERRECOMMENDS in layer.conf) and are off by default. nftables: the nftables switch backend.
# uring: the proxy's io_uring path (--io io_uring; liburing), off by default.
# tests: the cmocka unit tests, on with ptest.
PACKAGECONFIG ??= "${@bb.utils.contains('PTEST_ENABLED', '1', 'tests', '', d)}"
PACKAGECONFIG[podman] = ",,,podman"
PACKAGECONFIG[docker] = ",,,docker-moby"
PACKAGECONFIG[nftables] = ",,,nftables"
PACKAGECONFIG[uring] = "-DEF_URING=ON,-DEF_URING=OFF,liburing"
PACKAGECONFIG[tests] = "-DEF_TESTS=ON -DEF_TEST_DATA_DIR=${PTEST_PATH}/data -DEF_TEST_SOURCE_DIR=${PTEST_PATH},-DEF_TESTS=OFF,cmocka"

# cmake.bbclass passes CMAKE_INSTALL_SYSCONFDIR=${sysconfdir}: the example
# config lands in /etc/edgeflip/edgeflip.ini.example, the units in systemd's
# folder. The services start once /etc/edgeflip/edgeflip.ini exists.
EXTRA_OECMAKE = "\
    -DEF_WERROR=OFF \
    -DEF_INSTALL_CONFIG=ON \
    -DEF_INSTALL_DOCS=ON \
    -DEF_INSTALL_SYSTEMD_UNIT=${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'ON', 'OFF', d)} \
    -DEF_SYSTEMD_UNITDIR=${systemd_system_unitdir} \
"

SYSTEMD_SERVICE:${PN} = "edgeflip.service edgeflip-proxy.service"
INITSCRIPT_NAME = "edgeflip"
INITSCRIPT_PARAMS = "defaults 90 10"

do_install:append() {
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -d ${D}${sysconfdir}/init.d
        install -m 0755 ${UNPACKDIR}/edgeflip.init ${D}${sysconfdir}/init.d/edgeflip
    fi
}

# The unit tests were built to look for their data in ${PTEST_PATH}/data.
do_install_ptest() {
    install -d ${D}${PTEST_PATH}/tests
    for t in ${B}/tests/unit/test_*; do
        [ -x "$t" ] && install -m 0755 "$t" ${D}${PTEST_PATH}/tests/
    done
    cp -R --no-preserve=ownership ${S}/tests/unit/data ${D}${PTEST_PATH}/data
}

RDEPENDS:${PN} += "ca-certificates"
