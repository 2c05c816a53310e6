# SPDX-License-Identifier: GPL-2.0
"""The reproducer kit's harness: kernels, initramfs, QEMU, results.

One module per job, as tools/testing/kunit does it:

  deps.py       Debian packages the kit needs, installed or named
  kernel.py     source tree, config, patch series, cached builds
  initramfs.py  busybox + reproducers + /init, cached by content
  qemu.py       boot one kernel, capture console and results, time out
  ktap.py       KTAP parser (results and the facts the tests print)
  models.py     behaviour models (repro/expect/models.tsv) and verdicts
  table.py      the side-by-side table, text and JSON
  cli.py        `python3 -m repro.harness ...`: what the Makefile calls
"""
