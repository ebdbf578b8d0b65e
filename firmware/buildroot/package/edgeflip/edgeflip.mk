################################################################################
#
# edgeflip
#
################################################################################

EDGEFLIP_VERSION = 0.1.0
# This tree lives in the edgeflip checkout (firmware/buildroot): build that
# checkout. For release tarballs set EDGEFLIP_SITE to their URL, drop
# SITE_METHOD and add the tarball's sha256 to edgeflip.hash.
EDGEFLIP_SITE = $(BR2_EXTERNAL_EDGEFLIP_PATH)/../..
EDGEFLIP_SITE_METHOD = local
EDGEFLIP_DEPENDENCIES = host-pkgconf libgit2 mbedtls inih cjson libcurl libsodium zlib

# Installs /usr/bin/edgeflip, /usr/bin/edgeflip-proxy and /etc/edgeflip/edgeflip.ini.
EDGEFLIP_CONF_OPTS = \
	-DEF_TESTS=OFF \
	-DEF_WERROR=OFF \
	-DEF_INSTALL_SYSTEMD_UNIT=OFF \
	-DEF_INSTALL_CONFIG=ON \
	-DEF_INSTALL_DOCS=OFF

define EDGEFLIP_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(EDGEFLIP_PKGDIR)/S90edgeflip \
		$(TARGET_DIR)/etc/init.d/S90edgeflip
endef

define EDGEFLIP_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(EDGEFLIP_PKGDIR)/edgeflip.service \
		$(TARGET_DIR)/usr/lib/systemd/system/edgeflip.service
endef

$(eval $(cmake-package))
