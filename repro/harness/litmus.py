# SPDX-License-Identifier: GPL-2.0
"""The series' ordering argument, checked against the Linux kernel memory
model: the litmus tests of repro/litmus/, run by the kernel's own
tools/memory-model/scripts/checklitmus.sh.

No QEMU run can show the store-buffering case patch 1's recheck depends on:
under TCG on an x86 host every guest lock is a host locked instruction, a
full barrier, whatever the guest's architecture.  The LKMM (herd7 with
tools/memory-model's linux-kernel.cfg) decides it for every architecture
the kernel supports.

herd7 is Debian's herdtools7, which only unstable carries; it is built
against unstable's C library.  Both are fetched with the kit's private apt
(sources.PrivateApt, the same configuration as linux-source-7.3's),
unpacked under $KIT_CACHE/debs/herdtools7/ and run through that C
library's own dynamic loader: nothing is installed and the system's C
library is untouched.
"""

import glob
import os
import re
import shutil
import subprocess

from . import cache, kernel, results, sources
from .util import KitError, cache_dir, log, out_dir

LITMUS_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'litmus')
# herd7, and what it links that the system may have only older.
PACKAGES = ('herdtools7', 'libc6', 'libgmp10')
STAMP = '.kit-packages'
GNU = 'x86_64-linux-gnu'


def root():
    return os.path.join(cache_dir(), 'debs', 'herdtools7')


def ensure():
    """Unpack PACKAGES from the kit's apt; return the directory holding a
    herd7 wrapper (for PATH, as checklitmus.sh calls plain "herd7")."""
    if os.uname().machine != 'x86_64':
        raise KitError('litmus: herd7 is fetched for amd64; this host is '
                       f'{os.uname().machine}', status=2)
    dest = root()
    cache.use(dest)
    apt = sources.PrivateApt()
    apt.update()
    versions = {}
    for pkg in PACKAGES:
        v = apt.candidate(pkg)
        if not v:
            raise KitError(f'{pkg}: not in unstable or experimental at '
                           f'{sources.system_archive()} (the kit\'s lists in '
                           f'{apt.root}); the litmus check needs it',
                           status=2)
        versions[pkg] = v
    if not sources.unpacked(dest, STAMP, versions):
        sources.unpack_tree(apt, versions, dest, STAMP,
                            finish=lambda tree: write_wrapper(tree, dest))
    return os.path.join(dest, 'kit-bin')


def write_wrapper(tree, final):
    """kit-bin/herd7: unstable's herd7 under unstable's loader and
    libraries, with its model library (paths of the final tree)."""
    lib = os.path.join(final, 'usr', 'lib', GNU)
    ld = os.path.join(lib, 'ld-linux-x86-64.so.2')
    herd = os.path.join(final, 'usr', 'bin', 'herd7')
    libdir = os.path.join(final, 'usr', 'share', 'herdtools7', 'herd')
    for p in (ld, herd, libdir):
        if not os.path.exists(p.replace(final, tree, 1)):
            raise KitError(f'{p.replace(final, tree, 1)}: missing from the '
                           f'unpacked {", ".join(PACKAGES)}', status=2)
    os.makedirs(os.path.join(tree, 'kit-bin'))
    w = os.path.join(tree, 'kit-bin', 'herd7')
    with open(w, 'w') as f:
        f.write('#!/bin/sh\n'
                f'exec {ld} --library-path {lib} {herd} '
                f'-set-libdir {libdir} "$@"\n')
    os.chmod(w, 0o755)


def expected(path):
    m = re.search(r'^[( ]\* Result: (\w+)', open(path).read(), re.M)
    return m.group(1) if m else None


def run():
    """Check every test; return its rows: name, the result the test
    states, herd7's observation, the states, ok."""
    src = kernel.Source()
    lkmm = os.path.join(src.path, 'tools', 'memory-model')
    if not os.path.exists(os.path.join(lkmm, 'scripts', 'checklitmus.sh')):
        raise KitError(f'{lkmm}/scripts/checklitmus.sh missing: the kernel '
                       f'source {src.id} has no LKMM', status=2)
    bindir = ensure()
    work = os.path.join(out_dir(), 'litmus')
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = dict(os.environ, PATH=bindir + ':' + os.environ['PATH'],
               LKMM_DESTDIR='', LKMM_TIMEOUT_CMD='timeout 120',
               LKMM_HERD_OPTIONS='-conf linux-kernel.cfg')
    rows = []
    tests = sorted(glob.glob(os.path.join(LITMUS_DIR, '*.litmus')))
    if not tests:
        raise KitError(f'{LITMUS_DIR}: no litmus tests')
    for t in tests:
        copy = os.path.join(work, os.path.basename(t))
        shutil.copy(t, copy)
        r = subprocess.run(['sh', 'scripts/checklitmus.sh', copy], cwd=lkmm,
                           env=env, capture_output=True, text=True)
        out = open(copy + '.out').read() if os.path.exists(
            copy + '.out') else ''
        m = re.search(r'^Observation \S+ (\w+) (\d+) (\d+)', out, re.M)
        name = os.path.basename(t)[:-len('.litmus')]
        row = {'name': name, 'expected': expected(t),
               'observed': m.group(1) if m else None,
               'positive': int(m.group(2)) if m else None,
               'negative': int(m.group(3)) if m else None,
               'ok': r.returncode == 0 and m is not None}
        rows.append(row)
        if not row['ok']:
            log(f'litmus {name}: checklitmus.sh exit {r.returncode}:\n'
                + (r.stdout + r.stderr + out).strip()[-1500:])
    doc = {'source': {'id': src.id, 'version': src.version},
           'herdtools7': open(os.path.join(root(), STAMP)).read().split(),
           'tests': rows}
    rdir = os.path.join(out_dir(), 'results')
    os.makedirs(rdir, exist_ok=True)
    results.save(doc, os.path.join(rdir, 'litmus.json'))
    return rows
