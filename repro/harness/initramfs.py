# SPDX-License-Identifier: GPL-2.0
"""The guest's initramfs: busybox, the runner, the reproducers, /init.

An uncompressed newc cpio, rebuilt only when one of its files changed (the
key is a hash of every file's path and content), so a reproducer change
costs a cpio of a few MiB and nothing else.  For ARCH=arm64 the busybox is
Debian's arm64 busybox-static, unpacked under the cache (cross.py).
"""

import os
import shutil
import subprocess

from . import arch, cross
from .util import KIT_ROOT, KitError, digest, log

BUSYBOX = '/bin/busybox'


def busybox():
    """The guest's busybox: the host's for x86_64, Debian's arm64 one
    unpacked in the cache for arm64."""
    return cross.busybox(arch.current())


def check_busybox(path=None):
    path = path or busybox()
    r = subprocess.run(['file', '-L', path], capture_output=True,
                       text=True)
    if r.returncode or 'statically linked' not in r.stdout:
        # busybox (dynamic) and busybox-static both install /bin/busybox;
        # only the static one runs in an initramfs without a libc.
        if 'dynamically linked' in r.stdout or 'ELF' not in r.stdout:
            raise KitError(f'{path} is not statically linked: '
                           f'apt-get install busybox-static')


def plan_text(entries, where):
    """The runner's plan: "MODE NAME PATH ARGS...", paths from where()."""
    def mode(e):
        return e['mode'] + (f'/{e["timeout"]}' if e.get('timeout') else '')
    return ''.join(' '.join([mode(e), e['name'], where(e)] + e['args'])
                   + '\n' for e in entries)


def guest_path(e):
    return '/repro/bin/' + os.path.basename(e['path'])


def build(runner, entries, out):
    """Pack the runner and the programs of `entries` into `out`."""
    bb = busybox()
    if not os.path.exists(bb):
        a = arch.current()
        raise KitError(f'{bb} not found: ' + (
            'apt-get install busybox-static' if a.native else
            f'make deps ARCH={a.name} (Debian\'s busybox-static:{a.deb})'))
    files = {
        'init': os.path.join(KIT_ROOT, 'repro', 'vm', 'init'),
        'bin/busybox': bb,
        'repro/runner': runner,
    }
    for e in entries:
        files[guest_path(e).lstrip('/')] = e['path']
        # Whatever else it needs (a client and its libraries), same path.
        for f in e.get('files', []):
            files[f.lstrip('/')] = f
    for dst, src in files.items():
        if not os.path.exists(src):
            raise KitError(f'{src} missing: run "make" first (initramfs '
                           f'needs it as /{dst})')
    plan = plan_text(entries, guest_path)
    key = digest(plan, *[(d, open(s, 'rb').read())
                         for d, s in sorted(files.items())])
    stamp = out + '.key'
    if os.path.exists(out) and os.path.exists(stamp) and \
            open(stamp).read() == key:
        return out
    check_busybox(bb)
    root = out + '.d'
    shutil.rmtree(root, ignore_errors=True)
    for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'repro/bin', 'mnt'):
        os.makedirs(os.path.join(root, d))
    for dst, src in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, dst)), exist_ok=True)
        shutil.copy2(src, os.path.join(root, dst))
    with open(os.path.join(root, 'repro', 'plan'), 'w') as f:
        f.write(plan)
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
