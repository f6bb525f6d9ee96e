# mk/deb.mk - the Debian package (binary only, assembled with dpkg-deb).
#
#   make deb [ARCH=amd64|arm64|armhf]   build/deb/cccd-reader_VERSION_ARCH.deb, then lintian
#   make lint-deb [ARCH=...]            lintian on that .deb; fails on any error
#   make deb-trixie [ARCH=...]          the same for Debian 13 / Raspberry Pi OS trixie, built in
#                                       a fresh trixie root (needs root): build/deb-trixie/
#
# ARCH defaults to this machine's (dpkg --print-architecture); arm64 and armhf
# are built with the cross toolchain of mk/cross.mk. The program is compiled
# again into build/deb-obj-ARCH with Debian's hardening flags (dpkg-buildflags,
# hardening=+all: stack protector, _FORTIFY_SOURCE, relro, bindnow), then
# packaging/build-deb.sh stages the tree and computes Depends with
# dpkg-shlibdeps. What goes where: docs/packaging.md.

DEB_BUILD_ARCH_ := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_ARCH = $(or $(ARCH),$(DEB_BUILD_ARCH_))
DEB_VERSION ?= $(shell sed -n 's/^\#define CCCD_VERSION "\(.*\)"/\1/p' firmware/cli/main.c)
DEB_TRIPLET_arm64 := aarch64-linux-gnu
DEB_TRIPLET_armhf := arm-linux-gnueabihf
DEB_CROSS = $(filter-out $(DEB_BUILD_ARCH_),$(DEB_ARCH))
DEB_CC = $(if $(DEB_CROSS),$(DEB_TRIPLET_$(DEB_ARCH))-gcc,$(CC))
DEB_ZBAR = $(CURDIR)/build/cross-deps/$(DEB_ARCH)/zbar
DEB_PKG_CONFIG = $(if $(DEB_CROSS),env PKG_CONFIG_PATH=$(DEB_ZBAR)/pkgconfig $(DEB_TRIPLET_$(DEB_ARCH))-pkg-config,pkg-config)
DEB_OBJ = build/deb-obj-$(DEB_ARCH)
DEB_FILE = build/deb/cccd-reader_$(DEB_VERSION)_$(DEB_ARCH).deb
# The Makefile links with $(CFLAGS) and has no LDFLAGS: the linker flags ride
# along. Asked of dpkg-buildflags by the shell when the build runs, after
# cross-deps.sh installed dpkg-dev: a make function here ran before, and on a
# fresh machine gave an unhardened binary.
DEB_FLAGS_ENV = DEB_HOST_ARCH=$(DEB_ARCH) DEB_BUILD_MAINT_OPTIONS=hardening=+all
DEB_CFLAGS = $$(for f in CFLAGS CPPFLAGS LDFLAGS; do $(DEB_FLAGS_ENV) dpkg-buildflags --get $$f; done | tr '\n' ' ')

.PHONY: deb lint-deb deb-trixie

deb:
	@tools/cross-deps.sh $(DEB_ARCH) build $(DEB_ZBAR)
	@tools/cross-deps.sh $(DEB_ARCH) deb
	@$(MAKE) --no-print-directory FLAVOR=bookworm BUILD=$(DEB_OBJ) CC=$(DEB_CC) \
	  PKG_CONFIG='$(DEB_PKG_CONFIG)' CFLAGS="$(DEB_CFLAGS)" $(DEB_OBJ)/cccd-reader
	@packaging/build-deb.sh $(DEB_ARCH) $(DEB_OBJ)/cccd-reader $(DEB_VERSION) build/deb
	@$(MAKE) --no-print-directory lint-deb

# Errors fail the build; warnings are printed (docs/packaging.md says which
# remain and why). packaging/lintian-overrides holds the reviewed exceptions.
lint-deb:
	@[ -f $(DEB_FILE) ] || { echo "lint-deb: no $(DEB_FILE); run make deb" >&2; exit 1; }
	@echo "lintian $(DEB_FILE)"
	@lintian --fail-on error --display-info --tag-display-limit 0 $(DEB_FILE) \
	  && echo "lint-deb: no lintian errors"

# The trixie flavour links trixie's libraries (libgpiod 2.2, mbedtls 3.6) and
# names them in Depends: it is built on trixie, in a fresh root of it
# (tools/fresh-root.sh clones the committed HEAD there).
deb-trixie:
	@tools/fresh-root.sh --suite trixie --out build/deb-trixie \
	  'make deb ARCH=$(DEB_ARCH) >/work/out/build-$(DEB_ARCH).log 2>&1 && cp build/deb/cccd-reader_*_$(DEB_ARCH).deb /work/out/' \
	  || { tail -n 20 build/deb-trixie/build-$(DEB_ARCH).log >&2; exit 1; }
	@ls build/deb-trixie/cccd-reader_*_$(DEB_ARCH).deb
