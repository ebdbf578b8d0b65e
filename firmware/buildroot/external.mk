# BR2_EXTERNAL tree of edgeflip. Written against Buildroot master (2026-08)
# and 2025.02 LTS. Use: make BR2_EXTERNAL=/path/to/edgeflip/firmware/buildroot \
#                        qemu_aarch64_virt_edgeflip_defconfig
include $(sort $(wildcard $(BR2_EXTERNAL_EDGEFLIP_PATH)/package/*/*.mk))

# Buildroot's own libgit2 package builds on OpenSSL or without HTTPS. edgeflip
# wants it on mbedTLS: see package/libgit2/README.md. The options below are
# read when libgit2 is configured, so appending them here works; a dependency
# cannot be added from an external tree, hence the extra order-only
# prerequisite (enough without BR2_PER_PACKAGE_DIRECTORIES; with per-package
# directories apply the patch in package/libgit2/ to Buildroot instead).
ifeq ($(BR2_PACKAGE_EDGEFLIP_LIBGIT2_MBEDTLS),y)
LIBGIT2_CONF_OPTS += \
	-DUSE_HTTPS=mbedTLS \
	-DUSE_SHA256=mbedTLS \
	-DUSE_SSH=OFF \
	-DUSE_HTTP_PARSER=builtin \
	-DREGEX_BACKEND=builtin \
	-DBUILD_TESTS=OFF \
	-DBUILD_CLI=OFF \
	-DCERT_LOCATION=/etc/ssl/certs/ca-certificates.crt
$(LIBGIT2_TARGET_CONFIGURE): | mbedtls
endif
