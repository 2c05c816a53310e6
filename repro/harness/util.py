# SPDX-License-Identifier: GPL-2.0
"""Small things every harness module needs: errors, paths, hashing, logs."""

import hashlib
import os
import sys
import textwrap
import time

KIT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class KitError(Exception):
    """An error the user can act on: its text names the problem and the fix.

    The CLI prints it on one line and exits 1 (2 for missing dependencies),
    never a traceback.
    """

    def __init__(self, msg, status=1):
        super().__init__(msg)
        self.status = status


def cache_dir():
    """Where kernel sources and builds live: outside the clone, shared."""
    d = os.environ.get('KIT_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
        'shmem-rfc-kit')
    os.makedirs(d, exist_ok=True)
    return d


def out_dir():
    """Per-clone outputs (results, initramfs): O=, default build/."""
    d = os.environ.get('O') or os.path.join(KIT_ROOT, 'build')
    os.makedirs(d, exist_ok=True)
    return os.path.abspath(d)


def table_rows(path):
    """(line number, columns) of a whitespace-separated data file of the
    kit (kernels.tsv, models.tsv, selftests/*.tsv): '#' starts a comment,
    blank lines are skipped."""
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            cols = line.split('#', 1)[0].split()
            if cols:
                yield lineno, cols


def digest(*parts):
    """Short content hash used as a cache key."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b'\0')
    return h.hexdigest()[:16]


def file_digest(paths):
    return digest(*[open(p, 'rb').read() for p in paths])


def need_space(path, gib):
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize / 2**30
    if free < gib:
        raise KitError(f'{path}: {free:.1f} GiB free, the kit needs {gib} GiB '
                       f'there; free some space or point KIT_CACHE= elsewhere')


class Phase:
    """Times one phase and prints it the way kunit.py does."""

    timings = []

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        dt = time.monotonic() - self.t0
        Phase.timings.append((self.name, dt))
        if exc[0] is None:
            log(f'{self.name}: {dt:.1f}s')
        return False


def log(msg):
    """A progress line on stderr, wrapped to the terminal's width (COLUMNS,
    else 120) like the table make repro prints."""
    try:
        width = int(os.environ.get('COLUMNS', '')) or 120
    except ValueError:
        width = 120
    text = textwrap.fill(f'[kit] {msg}', max(60, width),
                         subsequent_indent='      ', break_long_words=False,
                         break_on_hyphens=False)
    print(text, file=sys.stderr, flush=True)
