# BR2_EXTERNAL tree of edgeflip. Written against Buildroot master (2026-08)
# and 2025.02 LTS. Use: make BR2_EXTERNAL=/path/to/edgeflip/firmware/buildroot \
#                        qemu_aarch64_virt_edgeflip_defconfig
# libgit2 on mbedTLS is a change to Buildroot's own package, proposed in
# patches/ (apply it to your Buildroot with `git am`): see docs/packaging.md.
include $(sort $(wildcard $(BR2_EXTERNAL_EDGEFLIP_PATH)/package/*/*.mk))
