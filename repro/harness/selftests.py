# SPDX-License-Identifier: GPL-2.0
"""The kernel's own mm selftests (repro/selftests/v*.tsv) as a regression suite.

They are built statically with the selftests' own Makefile from the kernel
source the kit unpacked (for ARCH=arm64 with ARCH=arm64
CROSS_COMPILE=aarch64-linux-gnu- and arm64's UAPI headers), run in the guest after the reproducers by the same
runner ("exit" mode: their text becomes KTAP diagnostics, their exit status
the verdict), and compared across kernels: a test that passes on a kernel
of the `stock` model and fails on another kernel is a regression.
"""

import os
import subprocess

from . import arch, kernel
from .results import SELFTEST as PREFIX
from .util import KIT_ROOT, KitError, Phase, out_dir, table_rows

SELFTESTS_DIR = os.path.join(KIT_ROOT, 'repro', 'selftests')
# Where the tests live in a 6.1 tree, and where they moved in 6.3.
DIRS = ('tools/testing/selftests/vm', 'tools/testing/selftests/mm')


def load(series_ver='6.1', path=None):
    """The selftests of repro/selftests/v<major.minor>.tsv."""
    path = path or os.path.join(SELFTESTS_DIR, f'v{series_ver}.tsv')
    if not os.path.exists(path):
        raise KitError(f'{os.path.relpath(path, KIT_ROOT)} not found: no '
                       f'selftest list for linux {series_ver} (SELFTESTS=0 '
                       f'runs without)')
    tests = []
    for lineno, cols in table_rows(path):
        if len(cols) < 2:
            raise KitError(f'{path}:{lineno}: want "name binary [args]"')
        # "--kit-timeout=SECONDS" among the arguments is the kit's, not
        # the test's: its own timeout, for a test slower than the rest.
        args = [a for a in cols[2:] if not a.startswith('--kit-timeout=')]
        limit = [int(a.split('=', 1)[1]) for a in cols[2:]
                 if a.startswith('--kit-timeout=')]
        tests.append({'name': PREFIX + cols[0], 'binary': cols[1],
                      'args': args, 'timeout': limit[0] if limit else None})
    return tests


def build(src, tests):
    """Build the binaries `tests` need; return the plan entries.

    They are built from the source with the reference series applied
    (kernel-patch/v<ver>/series), so a selftest the series adds runs on
    every kernel: its model rows say where it should fail.
    """
    tree = kernel.export(src, 'v{ver}/series', ['tools', 'mm/gup_test.h'])
    sdir = next((os.path.join(tree, d) for d in DIRS
                 if os.path.isdir(os.path.join(tree, d))), None)
    if not sdir:
        raise KitError(f'{src.path} has none of {", ".join(DIRS)}')
    a = arch.current()
    inc = kernel.uapi_headers(src, a)
    out = os.path.join(out_dir(), 'selftests', '-'.join(
        p for p in (os.path.basename(tree), a.label) if p))
    os.makedirs(out, exist_ok=True)
    targets = sorted({os.path.join(out, t['binary']) for t in tests})
    cross = ([f'ARCH={a.kbuild}', f'CROSS_COMPILE={a.cross_compile}']
             if a.cross_compile else [])
    with Phase('selftests build'):
        r = subprocess.run(['make', '-C', sdir, f'OUTPUT={out}',
                            f'KHDR_INCLUDES=-isystem {inc}',
                            'LDFLAGS=-static'] + cross + targets,
                           capture_output=True, text=True,
                           env=kernel.kbuild_env())
    if r.returncode:
        raise KitError(f'building selftests in {sdir} failed:\n'
                       + (r.stdout + r.stderr)[-2500:])
    return [{'mode': 'exit', 'name': t['name'],
             'path': os.path.join(out, t['binary']), 'args': t['args'],
             'timeout': t['timeout']} for t in tests]


def regressions(docs):
    """(test, kernel) pairs: passed on the stock-model kernel of the same
    version, failed here."""
    def status(doc):
        return {s['name']: s['status'] for s in doc['scenarios']
                if s['name'].startswith(PREFIX)}
    found = []
    for d in docs:
        if d['model'] == 'stock':
            continue
        passed = {n for b in docs if b['model'] == 'stock'
                  and b['kernel'] == d['kernel']
                  for n, st in status(b).items() if st == 'ok'}
        found += [(n, d['label']) for n, st in status(d).items()
                  if n in passed and st in ('not ok', 'missing')]
    return found
