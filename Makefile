# cccd-reader - check-in terminal firmware.
#
#   make demo    install what is needed, build, decode the sample frames
#   make test    install what is needed, build, run every test (ASan + UBSan)
#   make         build build/cccd-reader (packages must already be there)
#   make fuzz    run the fuzzers longer (FUZZ_SECONDS each, default 300)
#
# Layout (README: Layout): base/ is what everything sits on, drivers/ is
# hardware access, firmware/ROOM/ is the application by subsystem, include/ROOM/
# holds one header per module, tools/ holds programs for developers (one .c a
# program, or a folder for a bigger one: tools/his_sim/; tools/common/ is linked
# into each), tests/test_*.c are cmocka suites, tests/fuzz/fuzz_*.c are
# libFuzzer targets.

CC ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 300
CI_FUZZ_SECONDS ?= 30

# FLAVOR=trixie builds against libgpiod 2.x and mbedtls 3.6 from a local
# prefix (tools/build-trixie-libs.sh) into build/trixie; the default is the
# system's bookworm libraries (libgpiod 1.6, mbedtls 2.28).
FLAVOR ?= bookworm
ifeq ($(FLAVOR),trixie)
BUILD ?= build/trixie
TRIXIE_PREFIX ?= $(CURDIR)/build/trixie-libs/prefix
# make before 4.4 does not pass exported variables to $(shell): set the
# search path on pkg-config's own command line.
PKG_CONFIG := env PKG_CONFIG_PATH=$(TRIXIE_PREFIX)/lib/pkgconfig pkg-config
RPATH := -Wl,-rpath,$(TRIXIE_PREFIX)/lib
else
BUILD ?= build
PKG_CONFIG ?= pkg-config
RPATH :=
endif

PKGS := zbar libpng libjpeg libutf8proc jansson libgpiod libsystemd
TOOL_PKGS := libqrencode
TEST_PKGS := cmocka

# Recursively expanded on purpose: pkg-config runs when a recipe needs it,
# after `make deps` has installed the packages on a fresh machine.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) $(TOOL_PKGS))
# mbedtls 2.28 (bookworm) ships no pkg-config file; the trixie prefix's 3.6 does.
MBEDTLS_CFLAGS = $(shell $(PKG_CONFIG) --cflags mbedtls 2>/dev/null)
MBEDTLS_LIBS = $(shell $(PKG_CONFIG) --libs mbedtls mbedx509 mbedcrypto 2>/dev/null || echo -lmbedtls -lmbedx509 -lmbedcrypto)
PKG_LIBS = $(RPATH) $(shell $(PKG_CONFIG) --libs $(PKGS)) $(MBEDTLS_LIBS) -lpthread -lm
# libgpiod's headers carry no version macro: take the major version from
# pkg-config, as openocd and NUT do, and let drivers/gpio/gpio_gpiod.c choose.
GPIOD_MAJOR = $(firstword $(subst ., ,$(shell $(PKG_CONFIG) --modversion libgpiod)))
TOOL_LIBS = $(shell $(PKG_CONFIG) --libs $(TOOL_PKGS))
TEST_LIBS = $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) $(TOOL_PKGS))

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
# _FILE_OFFSET_BITS=64: on 32-bit Raspberry Pi OS (armhf) readdir() fails with
# EOVERFLOW on filesystems with 64-bit inode numbers, and files stop at 2 GiB.
BASE_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -Iinclude $(WARN) $(PKG_CFLAGS) $(MBEDTLS_CFLAGS) -DCCCD_GPIOD_MAJOR=$(GPIOD_MAJOR)
CFLAGS ?= -O2 -g
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS := -O1 -g $(SAN)

# The program is the CLI (firmware/cli/) over one library of everything else:
# the base layer, the drivers and the firmware's subsystems (README: Layout).
CLI_SRCS := $(wildcard firmware/cli/*.c)
LIB_SRCS := $(filter-out $(CLI_SRCS),$(wildcard base/*.c drivers/*/*.c firmware/*/*.c))
TOOL_COMMON := $(wildcard tools/common/*.c)
TEST_SUPPORT := $(wildcard tests/support/*.c)
TOOLS := $(patsubst tools/%.c,$(BUILD)/tools/%,$(wildcard tools/*.c)) $(BUILD)/tools/his_sim
TESTS := $(patsubst tests/%.c,$(BUILD)/asan/tests/%,$(wildcard tests/test_*.c))
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
HEADERS := $(wildcard include/*/*.h drivers/*/*.h firmware/*/*.h tools/common/*.h tests/support/*.h)

LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRCS))
ASAN_LIB_OBJS := $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(LIB_SRCS))
ASAN_CLI_OBJS := $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(CLI_SRCS))

.PHONY: all deps demo test check fuzz tools clean test-hil trixie-libs bench
.DEFAULT_GOAL := all

all: $(BUILD)/cccd-reader

# ---- the two commands of the README ---------------------------------------
demo:
	@tools/install-deps.sh build
	@$(MAKE) --no-print-directory $(BUILD)/cccd-reader tools
	@tools/demo.sh $(BUILD)

test:
	@tools/install-deps.sh test
	@$(MAKE) --no-print-directory check

deps:
	@tools/install-deps.sh all

# Real kernel drivers (gpio-sim, v4l2loopback) under qemu, both libgpiod
# generations: tests/hil/run.sh builds what it needs and boots the guest.
test-hil:
	@tools/install-deps.sh test
	@tests/hil/run.sh

# libgpiod 2.2 and mbedtls 3.6 from Debian trixie's sources, in build/trixie-libs.
trixie-libs:
	@tools/build-trixie-libs.sh build/trixie-libs

# ---- release build ---------------------------------------------------------
$(BUILD)/cccd-reader: $(CLI_OBJS) $(BUILD)/libcccd.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libcccd.a $(PKG_LIBS)

$(BUILD)/libcccd.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The compiler and its flags as of the last build: objects depend on this file,
# so a changed flag (a new -D, another flavour's libraries in the same BUILD)
# rebuilds them instead of linking stale objects. Rewritten only on a change.
BUILD_FLAGS = $(CC) | $(BASE_CFLAGS) | $(CFLAGS) | $(SAN_CFLAGS) | $(PKG_LIBS)
$(BUILD)/flags: FORCE
	@mkdir -p $(@D)
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' >$@
.PHONY: FORCE

$(BUILD)/obj/%.o: %.c $(HEADERS) $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -c -o $@ $<

tools: $(TOOLS)

$(BUILD)/tools/%: tools/%.c $(TOOL_COMMON) $(BUILD)/libcccd.a $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Itools/common $(CFLAGS) -o $@ $< $(TOOL_COMMON) $(BUILD)/libcccd.a $(TOOL_LIBS) $(PKG_LIBS)

# his_sim is several files (tools/his_sim/, one concern each), not one .c.
HIS_SIM_SRCS := $(wildcard tools/his_sim/*.c)
$(BUILD)/tools/his_sim: $(HIS_SIM_SRCS) $(wildcard tools/his_sim/*.h) $(TOOL_COMMON) $(BUILD)/libcccd.a $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Itools/common $(CFLAGS) -o $@ $(HIS_SIM_SRCS) $(TOOL_COMMON) $(BUILD)/libcccd.a $(TOOL_LIBS) $(PKG_LIBS)

# ---- sanitizer build and tests ---------------------------------------------
$(BUILD)/asan/libcccd.a: $(ASAN_LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/asan/obj/%.o: %.c $(HEADERS) $(BUILD)/flags
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(SAN_CFLAGS) -c -o $@ $<

$(BUILD)/asan/cccd-reader: $(ASAN_CLI_OBJS) $(BUILD)/asan/libcccd.a
	$(CC) $(SAN_CFLAGS) -o $@ $(ASAN_CLI_OBJS) $(BUILD)/asan/libcccd.a $(PKG_LIBS)

$(BUILD)/asan/tests/%: tests/%.c $(TOOL_COMMON) $(TEST_SUPPORT) $(BUILD)/asan/libcccd.a $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -Itools/common -Itests/support $(SAN_CFLAGS) -o $@ $< $(TOOL_COMMON) $(TEST_SUPPORT) \
	  $(BUILD)/asan/libcccd.a $(TEST_LIBS) $(PKG_LIBS)

# Fuzzers need clang's coverage instrumentation in every object they
# explore: the library is compiled once more for them (fuzzer-no-link), into
# an archive of its own that every fuzz target links.
FUZZ_SAN := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRCS))

$(BUILD)/fuzz/obj/%.o: %.c $(HEADERS) $(BUILD)/flags
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c -o $@ $<

$(BUILD)/fuzz/libcccd.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/libcccd.a $(HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/libcccd.a $(PKG_LIBS)

check: $(BUILD)/cccd-reader $(BUILD)/asan/cccd-reader $(TESTS) $(FUZZERS) tools
	@BUILD=$(BUILD) FUZZ_SECONDS=$(CI_FUZZ_SECONDS) tests/run.sh

# Benchmarks: ratios measured in one run on the same frames (docs/bench.md).
bench:
	@tools/install-deps.sh build
	@$(MAKE) --no-print-directory $(BUILD)/cccd-reader tools
	@mkdir -p $(BUILD)/bench
	@$(MAKE) --no-print-directory $(BUILD)/bench/frames/manifest.tsv
	@$(BUILD)/tools/bench_loop $(BUILD)/bench/frames/manifest.tsv --markdown $(BUILD)/bench/loop.md
	@$(BUILD)/tools/bench_decode --markdown $(BUILD)/bench/decode.md
	@echo "## Read rate per category: the reader, then bare ZBar (same frames)"
	@$(BUILD)/tools/readrate $(BUILD)/bench/frames/manifest.tsv --markdown $(BUILD)/bench/read-rate.md
	@$(BUILD)/tools/readrate $(BUILD)/bench/frames/manifest.tsv --decoder zbar --markdown $(BUILD)/bench/read-rate-zbar.md
	@tools/bench-uplink.sh $(BUILD)

# The bench's frames follow make_frames: a newer generator (new categories)
# makes them again instead of measuring a stale set.
$(BUILD)/bench/frames/manifest.tsv: $(BUILD)/tools/make_frames
	@rm -rf $(@D)
	@$(BUILD)/tools/make_frames $(@D) >/dev/null

fuzz: $(FUZZERS)
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_ONLY=1 tests/run.sh

clean:
	rm -rf $(BUILD)

# Packaging and cross builds live in their own fragments (mk/*.mk).
-include $(wildcard mk/*.mk)
