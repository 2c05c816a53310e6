# SPDX-License-Identifier: GPL-2.0
"""The guest's initramfs: busybox, the runner, the reproducers, /init.

An uncompressed newc cpio, rebuilt only when one of its files changed (the
key is a hash of every file's path and content), so a reproducer change
costs a cpio of a few MiB and nothing else.
"""

import os
import shutil
import subprocess

from .util import KIT_ROOT, KitError, digest, log

BUSYBOX = '/bin/busybox'


def check_busybox():
    r = subprocess.run(['file', '-L', BUSYBOX], capture_output=True,
                       text=True)
    if r.returncode or 'statically linked' not in r.stdout:
        # busybox (dynamic) and busybox-static both install /bin/busybox;
        # only the static one runs in an initramfs without a libc.
        if 'dynamically linked' in r.stdout or 'ELF' not in r.stdout:
            raise KitError(f'{BUSYBOX} is not statically linked: '
                           f'apt-get install busybox-static')


def build(bindir, scenarios, out):
    """Pack `scenarios` (names of binaries in `bindir`) into `out`."""
    if not os.path.exists(BUSYBOX):
        raise KitError(f'{BUSYBOX} not found: apt-get install busybox-static')
    files = {
        'init': os.path.join(KIT_ROOT, 'repro', 'vm', 'init'),
        'bin/busybox': BUSYBOX,
        'repro/runner': os.path.join(bindir, 'runner'),
    }
    for s in scenarios:
        files[f'repro/bin/{s}'] = os.path.join(bindir, s)
    for dst, src in files.items():
        if not os.path.exists(src):
            raise KitError(f'{src} missing: run "make" first (initramfs '
                           f'needs it as /{dst})')
    listing = ' '.join(f'{s}=/repro/bin/{s}' for s in scenarios) + '\n'
    key = digest(listing, *[(d, open(s, 'rb').read())
                            for d, s in sorted(files.items())])
    stamp = out + '.key'
    if os.path.exists(out) and os.path.exists(stamp) and \
            open(stamp).read() == key:
        return out
    check_busybox()
    root = out + '.d'
    shutil.rmtree(root, ignore_errors=True)
    for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'repro/bin', 'mnt'):
        os.makedirs(os.path.join(root, d))
    for dst, src in files.items():
        shutil.copy2(src, os.path.join(root, dst))
    with open(os.path.join(root, 'repro', 'scenarios'), 'w') as f:
        f.write(listing)
    names = subprocess.run(['find', '.', '-mindepth', '1'], cwd=root,
                           capture_output=True, text=True,
                           check=True).stdout.split()
    cpio_in = '\n'.join(sorted(names)) + '\n'
    with open(out + '.tmp', 'wb') as f:
        r = subprocess.run(['cpio', '--quiet', '-o', '-H', 'newc',
                            '--owner=0:0', '--reproducible'],
                           cwd=root, input=cpio_in.encode(), stdout=f,
                           stderr=subprocess.PIPE)
    if r.returncode:
        raise KitError(f'cpio failed: {r.stderr.decode().strip()}')
    os.rename(out + '.tmp', out)
    with open(stamp, 'w') as f:
        f.write(key)
    log(f'initramfs: {out} ({os.path.getsize(out) >> 10} KiB)')
    return out
