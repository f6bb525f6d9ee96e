# mk/image.mk - the flashable Raspberry Pi image and its test under qemu.
#
#   make image        build/image/cccd-reader-trixie-arm64.img.xz (+ .sha256, .manifest)
#   make test-image   boots it under qemu-system-aarch64 (TCG) and checks it (tests/image/run.sh)
#
# Both need root. The image is made from Debian's archive only (trixie arm64,
# linux-image-arm64, raspi-firmware), with the project's trixie-flavour
# package built in a fresh trixie root: board/image/build-image.sh says how.

.PHONY: image test-image

image:
	@board/image/build-image.sh build/image

test-image:
	@[ -f build/image/cccd-reader-trixie-arm64.img.xz ] || { echo "test-image: no image: run make image" >&2; exit 1; }
	@tests/image/run.sh build/image
