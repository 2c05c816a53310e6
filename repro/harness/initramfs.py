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
    if not os.path.exists(BUSYBOX):
        raise KitError(f'{BUSYBOX} not found: apt-get install busybox-static')
    files = {
        'init': os.path.join(KIT_ROOT, 'repro', 'vm', 'init'),
        'bin/busybox': BUSYBOX,
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
    check_busybox()
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
