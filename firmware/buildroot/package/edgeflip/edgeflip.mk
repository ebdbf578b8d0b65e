################################################################################
#
# edgeflip
#
################################################################################

# This tree lives in the edgeflip checkout (firmware/buildroot) and builds
# that checkout: EDGEFLIP_VERSION is the project(VERSION) of its
# CMakeLists.txt (tests/integration/test_packaging.sh checks it). For a
# release tarball instead, see docs/packaging.md.
EDGEFLIP_VERSION = 0.1.0
EDGEFLIP_SITE = $(BR2_EXTERNAL_EDGEFLIP_PATH)/../..
EDGEFLIP_SITE_METHOD = local
EDGEFLIP_LICENSE = Apache-2.0
EDGEFLIP_LICENSE_FILES = LICENSE
EDGEFLIP_DEPENDENCIES = \
	host-pkgconf \
	cjson \
	inih \
	libcurl \
	libgit2 \
	libsodium \
	libyaml \
	mbedtls \
	zlib

# Installs /usr/bin/edgeflip, /usr/bin/edgeflip-proxy and
# /etc/edgeflip/edgeflip.ini.example: the service starts once
# /etc/edgeflip/edgeflip.ini exists.
EDGEFLIP_CONF_OPTS = \
	-DEF_TESTS=OFF \
	-DEF_WERROR=OFF \
	-DEF_INSTALL_SYSTEMD_UNIT=OFF \
	-DEF_INSTALL_CONFIG=ON \
	-DEF_INSTALL_DOCS=OFF

# The proxy's io_uring path (--io io_uring) when liburing is in the image;
# never picked up unasked from the staging directory.
ifeq ($(BR2_PACKAGE_LIBURING),y)
EDGEFLIP_DEPENDENCIES += liburing
EDGEFLIP_CONF_OPTS += -DEF_URING=ON
else
EDGEFLIP_CONF_OPTS += -DEF_URING=OFF
endif

# Podman ships no init script for BusyBox/SysV init: S60podman serves its
# Engine API on /run/podman/podman.sock before S90edgeflip starts.
ifeq ($(BR2_PACKAGE_PODMAN),y)
define EDGEFLIP_INSTALL_PODMAN_INIT_SYSV
	$(INSTALL) -D -m 0755 $(EDGEFLIP_PKGDIR)/S60podman \
		$(TARGET_DIR)/etc/init.d/S60podman
endef
endif

define EDGEFLIP_INSTALL_INIT_SYSV
	$(EDGEFLIP_INSTALL_PODMAN_INIT_SYSV)
	$(INSTALL) -D -m 0755 $(EDGEFLIP_PKGDIR)/S90edgeflip \
		$(TARGET_DIR)/etc/init.d/S90edgeflip
endef

define EDGEFLIP_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(EDGEFLIP_PKGDIR)/edgeflip.service \
		$(TARGET_DIR)/usr/lib/systemd/system/edgeflip.service
	$(INSTALL) -D -m 0644 $(EDGEFLIP_PKGDIR)/edgeflip-proxy.service \
		$(TARGET_DIR)/usr/lib/systemd/system/edgeflip-proxy.service
endef

$(eval $(cmake-package))
