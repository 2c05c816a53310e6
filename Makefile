# SPDX-License-Identifier: GPL-2.0
#
# shmem MAP_PRIVATE hole RFC kit: one entry point.
#
#   make repro      build stock and patched kernels, boot each in QEMU, run
#                   every reproducer, print the verdict table (installs what
#                   it needs when run as root)
#   make check      the tests: unit tests, checkpatch, make repro, KTAP
#                   validation with the kernel's kunit.py, htmldocs
#   make repro-host the reproducers on the running kernel, classified
#   make htmldocs   the RFC and the user guide as HTML (build/html)
#   make rfc-snapshot  copy a run's results (the kernels rfc/results/ has,
#                   or KERNELS=) into rfc/results/, which the RFC pages are
#                   generated from (commit them)
#   make rfc-mail   the RFC as a mail thread, $(O)/rfc-mail.mbox: cover
#                   letter and the series, for git send-email
#   make kernels    only build (or find cached) the kernels
#   make bench      fault cost, pages per fault and memcg capacity, per kernel
#   make litmus     the series' barriers against the kernel memory model
#                   (repro/litmus/, the source's tools/memory-model, herd7)
#   make clean      remove build/ (kernel builds are cached in KIT_CACHE)
#   make clean-cache  remove cached kernel sources and builds that the last
#                   KIT_CACHE_KEEP (3) runs did not use, printing each
#
# Variables: KERNELS="stock patched" (rows of repro/kernels.tsv), KSRC=,
# KVER=7.3, KIT_CACHE=~/.cache/shmem-rfc-kit, TIMEOUT=900 (per guest),
# SCENARIO_TIMEOUT=90 (per reproducer; both x3 on KASAN/lockdep kernels),
# ACCEL=kvm|tcg, O=build, ARCH=x86_64|arm64 (the guest's; arm64 is
# cross-built and emulated).

O ?= build
override O := $(abspath $(O))
export O

PYTHON ?= python3
HARNESS = $(PYTHON) -m repro.harness
CC = gcc
CFLAGS = -O2 -g -Wall -Wextra -Werror -pthread
LDFLAGS = -static -pthread

.PHONY: all deps repro repro-host kernels bench litmus check htmldocs \
	clean rfc-snapshot rfc-mail

all: userspace

include repro/build.mk

# The guest's programs: $(O)/bin (x86_64) or $(O)/bin-arm64 (ARCH=arm64,
# cross-compiled; see repro/build.mk).
RUNNER = $(REPRO_BIN)/runner

$(RUNNER): repro/vm/runner.c | $(REPRO_BIN)
	$(REPRO_CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(REPRO_BIN)/scenarios.list: Makefile repro/build.mk | $(REPRO_BIN)
	echo $(REPRO_SCENARIOS) > $@

$(REPRO_BIN)/clients.list: Makefile repro/build.mk | $(REPRO_BIN)
	echo $(REPRO_CLIENTS) > $@

$(sort $(O)/bin $(REPRO_BIN)):
	mkdir -p $@

userspace: $(RUNNER) $(REPRO_BIN)/scenarios.list $(REPRO_BIN)/clients.list \
	$(REPRO_BINS) $(REPRO_TEST_KIT) \
	$(REPRO_BENCH_BINS)

# The harness is Python: bootstrap python3 itself, then let it check the rest
# (the C build needs gcc, libc and libcap before anything else).
deps-build:
	@command -v $(PYTHON) >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && \
	    apt-get install -y -q python3; \
	  else echo "error: $(PYTHON) not found; run as root:" \
	    "apt-get install -y python3"; exit 2; fi; }
	$(HARNESS) validate
	$(HARNESS) deps build

deps: deps-build
	$(HARNESS) deps repro

repro: deps
	$(MAKE) userspace
	$(HARNESS) repro

repro-host: deps-build
	$(MAKE) userspace
	$(HARNESS) host

kernels: deps
	$(HARNESS) kernels

bench: deps
	$(MAKE) userspace
	$(HARNESS) bench

litmus: deps
	$(HARNESS) deps litmus
	$(HARNESS) litmus

htmldocs:
	$(HARNESS) deps htmldocs
	sphinx-build -W -q -b html . $(O)/html
	@echo "HTML: $(O)/html/index.html"

rfc-snapshot:
	$(PYTHON) rfc/tools/snapshot.py make $(O)
	$(PYTHON) rfc/tools/figures.py update

rfc-mail:
	$(PYTHON) rfc/tools/mail.py $(O)/rfc-mail.mbox

check: deps
	$(HARNESS) deps htmldocs
	$(MAKE) userspace
	$(PYTHON) tests/check.py

clean:
	rm -rf $(O)

# Kernel sources and builds no recent run used (KIT_CACHE_KEEP=3 runs).
clean-cache:
	$(HARNESS) prune

.PHONY: deps-build userspace clean-cache
