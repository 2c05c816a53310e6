# SPDX-License-Identifier: GPL-2.0
#
# Build rules of the reproducer scenarios and the kit's unit tests, for the
# top-level Makefile to include.  It sets O, the build directory, before the
# include; build is the default.
#
#   $(O)/bin/<scenario>   one static program per name in REPRO_SCENARIOS,
#                         from repro/scenarios/<scenario>.c and repro/lib
#   $(O)/bin/test-kit     unit tests of repro/lib (tests/lib/test-kit.c)
#   $(O)/obj/             objects and their dependency files
#
# The programs run as the only userspace of a minimal guest: static, so
# that the initramfs needs no C library.
#
# Targets: repro-bins (all of the above), repro-test-kit (build and run the
# unit tests).  REPRO_BINS lists the scenario programs for the initramfs.
#
# ARCH=arm64 builds the guest's programs for an arm64 guest instead, with
# Debian's cross compiler (aarch64-linux-gnu-gcc -static, libc from
# libc6-dev-arm64-cross) and Debian's arm64 libcap, unpacked (not
# installed) under the kit's cache by the harness (python3 -m repro.harness
# cross-root prints where; make deps ARCH=arm64 fetches it):
#
#   $(O)/bin-arm64/       the scenarios, the standalone reproducer, the
#                         runner and fault-bench, for the guest
#   $(O)/obj-arm64/       their objects
#
# The QEMU client scenarios (REPRO_CLIENTS) start the host's x86 QEMU in the
# guest and are not built for arm64, nor are the unit tests, which run on
# the host.  ARCH=x86_64 (the default) is the native build above.

O ?= build
ifeq ($(strip $(O)),)
$(error O must name the build directory; empty would build into /bin and /obj)
endif

REPRO_SCENARIOS := private-write-hole uffd-missing uffd-copy-isolation uffd-minor-wp thp-amplification private-read-then-write fork-after-fault memcg-charge stress-truncate-race truncate-race-window private-store-effects swap-private memcg-owners ext4-private-hole

# Paths relative to this file, whatever directory make runs in.
REPRO_SRC := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
REPRO_TOP := $(patsubst %/,%,$(dir $(REPRO_SRC)))

ARCH ?= x86_64
ifeq ($(ARCH),x86_64)
REPRO_CC ?= $(CC)
REPRO_BIN := $(O)/bin
REPRO_OBJ := $(O)/obj
REPRO_CROSS_READY :=
REPRO_SYSROOT_FLAGS :=
else ifeq ($(ARCH),arm64)
REPRO_CC := aarch64-linux-gnu-gcc
REPRO_BIN := $(O)/bin-arm64
REPRO_OBJ := $(O)/obj-arm64
PYTHON ?= python3
REPRO_CROSS_ROOT ?= $(shell cd $(REPRO_TOP) && ARCH=arm64 $(PYTHON) -m \
	repro.harness cross-root)
# Checked when something is compiled, not when make reads this file: make
# repro (and make deps) ARCH=arm64 unpack the tree before they compile.
REPRO_CROSS_READY := $(REPRO_CROSS_ROOT)/usr/include/sys/capability.h
REPRO_SYSROOT_FLAGS := -isystem $(REPRO_CROSS_ROOT)/usr/include \
	-L$(REPRO_CROSS_ROOT)/usr/lib/aarch64-linux-gnu
else
$(error ARCH=$(ARCH): not accepted; ARCH takes x86_64 or arm64)
endif
REPRO_CFLAGS := $(strip -static -O2 -g -Wall -Wextra -Werror -pthread \
	$(REPRO_SYSROOT_FLAGS))
REPRO_CPPFLAGS := -I$(REPRO_SRC)/lib -MMD -MP
REPRO_LDLIBS := -lcap

# Benchmarks (make bench): built like the scenarios, run on their own.
REPRO_BENCH := fault-bench

# Scenarios that run a real client (QEMU): they boot with an initramfs of
# their own that carries the client and the libraries it loads.
REPRO_CLIENTS := qemu-private-backend

# The one-file reproducer of repro/standalone/: libc only, built as a
# reviewer would, with the kit's warnings as errors; static for the guest.
REPRO_STANDALONE := $(REPRO_BIN)/shmem-private-hole

# The programs of the guest's initramfs; the QEMU clients are x86 only.
REPRO_GUEST_CLIENTS := $(if $(filter x86_64,$(ARCH)),$(REPRO_CLIENTS))
REPRO_BINS := $(addprefix $(REPRO_BIN)/,$(REPRO_SCENARIOS) \
	      $(REPRO_GUEST_CLIENTS)) $(REPRO_STANDALONE)
REPRO_BENCH_BINS := $(addprefix $(REPRO_BIN)/,$(REPRO_BENCH))
REPRO_LIB_OBJS := $(addprefix $(REPRO_OBJ)/,kit.o backend.o pagemap.o \
		  memcg.o sigbus.o)
# The unit tests run on the host: built natively only.
REPRO_TEST_KIT := $(if $(filter x86_64,$(ARCH)),$(O)/bin/test-kit)

$(REPRO_LIB_OBJS): $(REPRO_OBJ)/%.o: $(REPRO_SRC)/lib/%.c | \
		$(REPRO_CROSS_READY)
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CPPFLAGS) $(REPRO_CFLAGS) -c -o $@ $<

$(addprefix $(REPRO_OBJ)/,$(addsuffix .o,$(REPRO_SCENARIOS) \
		$(REPRO_GUEST_CLIENTS))): \
		$(REPRO_OBJ)/%.o: $(REPRO_SRC)/scenarios/%.c | $(REPRO_CROSS_READY)
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CPPFLAGS) $(REPRO_CFLAGS) -c -o $@ $<

$(addprefix $(REPRO_OBJ)/,$(addsuffix .o,$(REPRO_BENCH))): \
		$(REPRO_OBJ)/%.o: $(REPRO_SRC)/bench/%.c | $(REPRO_CROSS_READY)
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CPPFLAGS) $(REPRO_CFLAGS) -c -o $@ $<

$(REPRO_STANDALONE): $(REPRO_SRC)/standalone/shmem-private-hole.c | \
		$(REPRO_CROSS_READY)
	@mkdir -p $(@D)
	$(REPRO_CC) -static -O2 -Wall -Wextra -Werror -o $@ $<

$(O)/obj/test-kit.o: $(REPRO_TOP)/tests/lib/test-kit.c
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CPPFLAGS) $(REPRO_CFLAGS) -c -o $@ $<

$(filter-out $(REPRO_STANDALONE),$(REPRO_BINS)) $(REPRO_BENCH_BINS) \
		$(REPRO_TEST_KIT): $(REPRO_BIN)/%: $(REPRO_OBJ)/%.o \
		$(REPRO_LIB_OBJS)
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CFLAGS) -o $@ $^ $(REPRO_LDLIBS)

.PHONY: repro-bins repro-test-kit
repro-bins: $(REPRO_BINS) $(REPRO_TEST_KIT)

repro-test-kit: $(REPRO_TEST_KIT)
	$(REPRO_TEST_KIT)

-include $(wildcard $(REPRO_OBJ)/*.d)

ifneq ($(REPRO_CROSS_READY),)
$(REPRO_CROSS_READY):
	@echo "error: ARCH=arm64: Debian's arm64 libcap is not unpacked in" \
	  "$(REPRO_CROSS_ROOT); run \"make deps ARCH=arm64\"" >&2; exit 2
endif
