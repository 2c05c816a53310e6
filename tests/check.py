#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make check: every test of the kit, one line each, then a count.

Steps run in order and all run even after a failure, so one run reports
everything; the last line is "N passed, N failed" and the exit status is
non-zero if anything failed.  A failing step's output is printed in full.
"""

import glob
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from repro.harness import kernel  # noqa: E402

O = os.environ.get('O') or os.path.join(ROOT, 'build')
PY = sys.executable
# The kernels make check boots; the snapshot's others (debug, distro, other
# architectures) are compared when a build has them.
CHECKED = ['7.3-stock', '7.3-patched', '7.3-naive', '7.3-race-no-recheck',
           '7.3-race-window', '7.3-v1', '6.1-stock', '6.1-patched',
           '7.3-arm64-stock', '7.3-arm64-patched']


def source():
    """The unpacked kernel tree the kit builds (for its own tools)."""
    return kernel.Source().path


def steps():
    ksrc = source()
    checkpatch = [os.path.join(ksrc, 'scripts/checkpatch.pl'), '--strict']
    # Userspace has no __printf() unless it defines one, and the smaps
    # fixture in tests/lib reproduces the trailing blank real smaps prints.
    userspace = ['--no-tree', '--ignore',
                 'PREFER_DEFINED_ATTRIBUTE_MACRO,QUOTED_WHITESPACE_BEFORE_NEWLINE']
    kunit = [PY, os.path.join(ksrc, 'tools/testing/kunit/kunit.py'), 'parse']
    patches = sorted(glob.glob(os.path.join(ROOT, 'kernel-patch', '**',
                                            '*.patch'), recursive=True))
    csrc = sorted(glob.glob(os.path.join(ROOT, 'repro', '**', '*.[ch]'),
                            recursive=True) +
                  glob.glob(os.path.join(ROOT, 'tests', '**', '*.[ch]'),
                            recursive=True))
    yield 'C library unit tests', [os.path.join(O, 'bin', 'test-kit')]
    yield 'harness unit tests', [PY, '-m', 'unittest', 'discover', '-s',
                                 os.path.join(ROOT, 'tests', 'harness'),
                                 '-t', ROOT]
    # Run in the tree, so checkpatch knows the kernel's own identifiers.
    # Debian's tarball has no git history, so every commit id cited is
    # "unknown"; and 6.1's checkpatch asks about MAINTAINERS for any new
    # file, though F: tools/testing/selftests/vm/ covers it.
    yield 'checkpatch --strict: kernel-patch/', \
        ['sh', '-c', f'cd {ksrc} && "$@"', 'checkpatch'] + checkpatch + \
        ['--ignore', 'UNKNOWN_COMMIT_ID,FILE_PATH_CHANGES'] + patches
    yield 'checkpatch --strict: repro/ and tests/ C files', \
        checkpatch + userspace + ['-f'] + csrc
    for g in sorted(glob.glob(os.path.join(ROOT, 'tests', 'golden',
                                           '*.ktap'))):
        yield f'kunit.py parse: {os.path.relpath(g, ROOT)}', kunit + [g]
    yield 'W=1: no new warnings in the files the series touches', \
        [PY, '-m', 'repro.harness', 'w1', '--kernels', 'stock patched']
    # The other arches' compilers, where a W=1 build of them is cached (a
    # cold one is minutes per arch; the README says how many).
    yield 'W=1 for i386 (HIGHMEM), arm64 and riscv64, where cached', \
        [PY, '-m', 'repro.harness', 'w1', '--kernels', 'stock patched',
         '--arch', 'i386 arm64 riscv64', '--cached-only']
    # The store-buffering case no QEMU run can show.
    yield 'make litmus: the series\' barriers in the kernel memory model', \
        ['make', '-C', ROOT, 'litmus']
    yield 'make repro (7.3 stock and patched, in QEMU)', \
        ['make', '-C', ROOT, 'repro']
    # The RFC shows the literal SGP_READ switch crashing: run that kernel
    # too (a boot per reproducer), then hold every run to the snapshot the
    # pages are generated from.
    yield 'make repro KERNELS=naive (expected to crash)', \
        ['make', '-C', ROOT, 'repro', 'KERNELS=naive']
    # The race detectors must find the bug on the kernel that has it (the
    # series without its i_size recheck), and v1 is judged on the same
    # kernel as v2.
    yield 'make repro KERNELS="race-no-recheck race-window v1"', \
        ['make', '-C', ROOT, 'repro',
         'KERNELS=race-no-recheck race-window v1']
    # The thread's kernel: the 6.1 series (v1) against 6.1's stock.
    yield 'make repro KVER=6.1 (the 2022 thread\'s kernel)', \
        ['make', '-C', ROOT, 'repro', 'KVER=6.1']
    # A weakly ordered architecture's own code paths (emulated).
    yield 'make repro ARCH=arm64 (7.3 stock and patched)', \
        ['make', '-C', ROOT, 'repro', 'ARCH=arm64']
    yield 'standalone reproducer: gcc -O2 -Wall -Wextra -Werror, as a '\
        'reviewer builds it', \
        ['gcc', '-O2', '-Wall', '-Wextra', '-Werror', '-o',
         os.path.join(O, 'standalone-check'),
         os.path.join(ROOT, 'repro', 'standalone', 'shmem-private-hole.c')]
    yield 'results match the RFC snapshot (rfc/results/)', \
        [PY, os.path.join(ROOT, 'rfc', 'tools', 'snapshot.py'), 'compare', O,
         '--require', ','.join(CHECKED)]
    yield 'README and commit messages quote only the snapshot', \
        [PY, os.path.join(ROOT, 'rfc', 'tools', 'figures.py'), 'check']
    yield 'make rfc-mail: git am of the mbox, 80 columns', \
        [PY, os.path.join(ROOT, 'tests', 'check_rfc_mail.py')]
    for r in sorted(glob.glob(os.path.join(O, 'results', '*',
                                           'results.ktap'))):
        yield f'kunit.py parse: {os.path.relpath(r, O)}', kunit + [r]
    yield 'make htmldocs (warnings are errors)', ['make', '-C', ROOT,
                                                  'htmldocs']


def step_env(cmd):
    """checkpatch runs scripts/spdxcheck.py through `python3` on PATH; it
    needs python3-ply, which Debian installs for its own python3: put that
    first, whatever python3 runs the kit."""
    env = dict(os.environ)
    if 'checkpatch.pl' in ' '.join(cmd):
        env['PATH'] = '/usr/bin:' + env.get('PATH', '')
    return env


def main():
    passed = failed = 0
    for name, cmd in steps():
        t0 = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                           env=step_env(cmd))
        ok = r.returncode == 0
        if 'checkpatch.pl' in ' '.join(cmd) and 'Traceback' in r.stderr:
            # checkpatch's own helpers (spdxcheck.py) must run, not crash.
            ok = False
        if 'kunit.py' in ' '.join(cmd):
            # Validation, not verdicts: kunit.py exits 1 for a "not ok" test
            # too, so read whether it could parse the document.
            ok = '[ERROR]' not in r.stdout and 'Testing complete' in r.stdout
        dt = time.monotonic() - t0
        print(f'{"PASS" if ok else "FAIL"}  {name}  ({dt:.1f}s)', flush=True)
        if ok:
            passed += 1
        else:
            failed += 1
            print(r.stdout[-6000:] + r.stderr[-3000:], flush=True)
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
