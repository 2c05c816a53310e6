# SPDX-License-Identifier: GPL-2.0
"""What each run used of $KIT_CACHE, and pruning what no recent run used.

Every entry the harness reads or builds under the cache (a source tree, a
build directory, a kernel image, UAPI headers, an exported selftest tree,
an unpacked .deb) is noted with use(); when a command ends, record() appends
one line to $KIT_CACHE/runs.jsonl.  `make clean-cache` (prune()) keeps the
entries the last KIT_CACHE_KEEP runs used (default 3) and removes the rest,
printing each with its size.  The kit's own apt directory and the KVM probe
verdicts are small and always kept.
"""

import json
import os
import shutil
import time

from .util import cache_dir, log

RUNS = 'runs.jsonl'
PRUNED = ('src', 'build', 'kernels', 'headers', 'export', 'debs', 'prebuilt')
DEFAULT_KEEP = 3

_used = set()


def entry(path):
    """'<top>/<name>' of a path under the cache, or None."""
    rel = os.path.relpath(os.path.abspath(path), cache_dir())
    parts = rel.split(os.sep)
    if len(parts) < 2 or parts[0] not in PRUNED:
        return None
    return f'{parts[0]}/{parts[1]}'


def use(path):
    e = entry(path)
    if e:
        _used.add(e)


def record(command):
    if not _used:
        return
    with open(os.path.join(cache_dir(), RUNS), 'a') as f:
        f.write(json.dumps({'time': time.strftime('%Y-%m-%d %H:%M:%S'),
                            'command': command,
                            'used': sorted(_used)}) + '\n')


def runs():
    path = os.path.join(cache_dir(), RUNS)
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def size(path):
    total = 0
    for root, dirs, files in os.walk(path):
        for n in files:
            try:
                total += os.lstat(os.path.join(root, n)).st_size
            except OSError:
                pass
    return total


def human(n):
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if n < 1024 or unit == 'GiB':
            return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
        n /= 1024


def entries():
    root = cache_dir()
    for top in PRUNED:
        d = os.path.join(root, top)
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                yield f'{top}/{name}'


def prune(keep=None, dry_run=False):
    """Remove what the last `keep` runs did not use; return bytes freed."""
    keep = keep or int(os.environ.get('KIT_CACHE_KEEP') or DEFAULT_KEEP)
    recent = runs()[-keep:]
    kept = set()
    for r in recent:
        kept.update(r['used'])
    root = cache_dir()
    freed = 0
    total = sum(size(os.path.join(root, e)) for e in entries())
    for e in entries():
        path = os.path.join(root, e)
        if e in kept:
            continue
        if time.time() - os.path.getmtime(path) < 3600 and \
                e.endswith('.tmp'):
            print(f'{"in use":>17}  {path} (being unpacked)')
            continue
        n = size(path)
        freed += n
        print(f'{"would remove" if dry_run else "removed"} {human(n):>10}  '
              f'{path}')
        if not dry_run:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
    left = total - freed
    print(f'{"would free" if dry_run else "freed"} {human(freed)}; '
          f'{human(left)} kept for the last {len(recent)} run(s) '
          f'(KIT_CACHE_KEEP={keep}) in {root}')
    log(f'cache: {len(kept)} entries used by the last {len(recent)} runs')
    return freed
