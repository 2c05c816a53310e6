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

O ?= build
ifeq ($(strip $(O)),)
$(error O must name the build directory; empty would build into /bin and /obj)
endif

REPRO_SCENARIOS := private-write-hole uffd-missing uffd-copy-isolation uffd-minor-wp thp-amplification private-read-then-write fork-after-fault memcg-charge stress-truncate-race truncate-race-window private-store-effects swap-private memcg-owners ext4-private-hole

# Paths relative to this file, whatever directory make runs in.
REPRO_SRC := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
REPRO_TOP := $(patsubst %/,%,$(dir $(REPRO_SRC)))

REPRO_CC ?= $(CC)
REPRO_CFLAGS := -static -O2 -g -Wall -Wextra -Werror -pthread
REPRO_CPPFLAGS := -I$(REPRO_SRC)/lib -MMD -MP
REPRO_LDLIBS := -lcap

# Benchmarks (make bench): built like the scenarios, run on their own.
REPRO_BENCH := fault-bench

# Scenarios that run a real client (QEMU): they boot with an initramfs of
# their own that carries the client and the libraries it loads.
REPRO_CLIENTS := qemu-private-backend

# The one-file reproducer of repro/standalone/: libc only, built as a
# reviewer would, with the kit's warnings as errors; static for the guest.
REPRO_STANDALONE := $(O)/bin/shmem-private-hole

REPRO_BINS := $(addprefix $(O)/bin/,$(REPRO_SCENARIOS) $(REPRO_CLIENTS)) \
	      $(REPRO_STANDALONE)
REPRO_BENCH_BINS := $(addprefix $(O)/bin/,$(REPRO_BENCH))
REPRO_LIB_OBJS := $(O)/obj/kit.o $(O)/obj/backend.o $(O)/obj/pagemap.o \
		  $(O)/obj/memcg.o $(O)/obj/sigbus.o
REPRO_TEST_KIT := $(O)/bin/test-kit

$(REPRO_LIB_OBJS): $(O)/obj/%.o: $(REPRO_SRC)/lib/%.c
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CPPFLAGS) $(REPRO_CFLAGS) -c -o $@ $<

$(addprefix $(O)/obj/,$(addsuffix .o,$(REPRO_SCENARIOS) $(REPRO_CLIENTS))): \
		$(O)/obj/%.o: $(REPRO_SRC)/scenarios/%.c
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CPPFLAGS) $(REPRO_CFLAGS) -c -o $@ $<

$(addprefix $(O)/obj/,$(addsuffix .o,$(REPRO_BENCH))): \
		$(O)/obj/%.o: $(REPRO_SRC)/bench/%.c
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CPPFLAGS) $(REPRO_CFLAGS) -c -o $@ $<

$(REPRO_STANDALONE): $(REPRO_SRC)/standalone/shmem-private-hole.c
	@mkdir -p $(@D)
	$(REPRO_CC) -static -O2 -Wall -Wextra -Werror -o $@ $<

$(O)/obj/test-kit.o: $(REPRO_TOP)/tests/lib/test-kit.c
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CPPFLAGS) $(REPRO_CFLAGS) -c -o $@ $<

$(filter-out $(REPRO_STANDALONE),$(REPRO_BINS)) $(REPRO_BENCH_BINS) \
		$(REPRO_TEST_KIT): $(O)/bin/%: $(O)/obj/%.o $(REPRO_LIB_OBJS)
	@mkdir -p $(@D)
	$(REPRO_CC) $(REPRO_CFLAGS) -o $@ $^ $(REPRO_LDLIBS)

.PHONY: repro-bins repro-test-kit
repro-bins: $(REPRO_BINS) $(REPRO_TEST_KIT)

repro-test-kit: $(REPRO_TEST_KIT)
	$(REPRO_TEST_KIT)

-include $(wildcard $(O)/obj/*.d)
