# mk/cross.mk - builds for the Raspberry Pi with Debian's multiarch cross
# toolchain, and the unit tests of that build under qemu-user.
#
#   make cross [ARCH=arm64|armhf]   build/cross-ARCH/cccd-reader (default arm64)
#   make test-cross [ARCH=...]      cmocka suites built for ARCH, run under qemu-user
#
# Both install what they need first (tools/cross-deps.sh: dpkg
# --add-architecture, gcc-TRIPLET, the target's -dev packages, qemu-user),
# then run the Makefile's own rules again with the cross compiler and Debian's
# multiarch pkg-config wrapper (TRIPLET-pkg-config, from pkgconf), so the
# cross build compiles exactly what the native one does.
#
# The tests reuse the Makefile's test rule ($(BUILD)/asan/tests/%) with
# SAN_CFLAGS overridden to plain -O1 -g: the binaries land in
# build/cross-ARCH/asan/tests/ but carry no sanitizer. ASan itself runs under
# qemu-user, but LeakSanitizer does not (it stops the world with ptrace), and
# the sanitizers are already run natively by `make test`.

HOST_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)

# ARCH is shared with mk/deb.mk, where it defaults to the host's architecture;
# here an empty ARCH means arm64.
CROSS_ARCH = $(or $(ARCH),arm64)
CROSS_TRIPLET_arm64 := aarch64-linux-gnu
CROSS_TRIPLET_armhf := arm-linux-gnueabihf
CROSS_QEMU_arm64 := qemu-aarch64
CROSS_QEMU_armhf := qemu-arm
CROSS_FILE_arm64 := ARM aarch64
CROSS_FILE_armhf := ARM, EABI5
CROSS_TRIPLET = $(CROSS_TRIPLET_$(CROSS_ARCH))
CROSS_BUILD = build/cross-$(CROSS_ARCH)
# zbar's headers and .pc for the target are unpacked, not installed: see
# tools/cross-deps.sh (libzbar-dev:arm64 would remove libzbar-dev:amd64).
CROSS_ZBAR = $(CURDIR)/build/cross-deps/$(CROSS_ARCH)/zbar
CROSS_PKG_CONFIG = env PKG_CONFIG_PATH=$(CROSS_ZBAR)/pkgconfig $(CROSS_TRIPLET)-pkg-config
CROSS_VARS = FLAVOR=bookworm BUILD=$(CROSS_BUILD) CC=$(CROSS_TRIPLET)-gcc \
  PKG_CONFIG='$(CROSS_PKG_CONFIG)'
CROSS_TESTS = $(patsubst tests/%.c,$(CROSS_BUILD)/asan/tests/%,$(wildcard tests/test_*.c))

.PHONY: cross cross-deps test-cross clean-cross

cross-check-arch:
	@[ -n "$(CROSS_TRIPLET)" ] || { echo "cross: ARCH must be arm64 or armhf (got '$(CROSS_ARCH)')" >&2; exit 2; }
.PHONY: cross-check-arch

cross-deps: cross-check-arch
	@tools/cross-deps.sh $(CROSS_ARCH) build $(CROSS_ZBAR)

cross: cross-deps
	@$(MAKE) --no-print-directory $(CROSS_VARS) $(CROSS_BUILD)/cccd-reader
	@file -b $(CROSS_BUILD)/cccd-reader | grep -q '$(CROSS_FILE_$(CROSS_ARCH))' || \
	  { echo "cross: $(CROSS_BUILD)/cccd-reader is not an $(CROSS_ARCH) binary:" >&2; file $(CROSS_BUILD)/cccd-reader >&2; exit 1; }
	@echo "cross: $$(file $(CROSS_BUILD)/cccd-reader | cut -d, -f1-2)"

test-cross: cross-check-arch
	@tools/cross-deps.sh $(CROSS_ARCH) test $(CROSS_ZBAR)
	@$(MAKE) --no-print-directory $(CROSS_VARS) SAN_CFLAGS='-O1 -g' \
	  $(CROSS_BUILD)/cccd-reader $(CROSS_TESTS)
	@CROSS_ARCH=$(CROSS_ARCH) CROSS_BUILD=$(CROSS_BUILD) QEMU=$(CROSS_QEMU_$(CROSS_ARCH)) \
	  sh tests/run-cross.sh

clean-cross:
	rm -rf build/cross-arm64 build/cross-armhf build/cross-deps
