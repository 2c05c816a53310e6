#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the RFC mail (make rfc-mail): it applies, and it reads in 80 columns.

1. Write the mbox (rfc/tools/mail.py) into a temporary directory.
2. Every line of the cover letter is at most 80 columns.
3. In a throw-away worktree of the kernel source at tag `base`, `git am`
   of the mbox (the cover letter, which has no diff, is dropped) gives one
   commit per patch of kernel-patch/v6.1/series, and the same tree as
   `git am` of the series files themselves.

The worktree is made with `git worktree add` and removed afterwards; the
shared tree the harness builds from is never checked out.
"""

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'rfc', 'tools'))

from repro.harness import kernel  # noqa: E402
import mail  # noqa: E402

GIT = ['git', '-c', 'user.name=shmem-rfc-kit',
       '-c', 'user.email=shmem-rfc-kit@localhost',
       '-c', 'advice.detachedHead=false', '-c', 'core.excludesFile=/dev/null']
MAX = 80


def git(cwd, *args):
    r = subprocess.run(GIT + list(args), cwd=cwd, capture_output=True,
                       text=True)
    if r.returncode:
        raise RuntimeError(f'git {" ".join(args)} failed in {cwd}:\n'
                           f'{r.stdout[-2000:]}{r.stderr[-2000:]}')
    return r.stdout.strip()


def cover_lines(mbox):
    text = open(mbox).read()
    first = text.split('\nFrom ', 1)[0]
    return first.split('\n')


def main():
    failed = []
    with tempfile.TemporaryDirectory(prefix='kit-rfc-mail-') as tmp:
        mbox = os.path.join(tmp, 'rfc-mail.mbox')
        subprocess.run([sys.executable, os.path.join(ROOT, 'rfc', 'tools',
                                                     'mail.py'), mbox],
                       check=True)
        n = len(mail.series_files())
        long_lines = [(i, l) for i, l in enumerate(cover_lines(mbox), 1)
                      if len(l) > MAX]
        for i, l in long_lines:
            failed.append(f'cover letter line {i}: {len(l)} columns: {l}')
        print(f'cover letter: {len(cover_lines(mbox))} lines, '
              f'{len(long_lines)} over {MAX} columns')

        src = kernel.Source().path
        wt = os.path.join(tmp, 'linux')
        git(src, 'worktree', 'add', '--detach', wt, 'base')
        try:
            git(wt, 'am', '--empty=drop', mbox)
            got = int(git(wt, 'rev-list', '--count', 'base..HEAD'))
            tree_mail = git(wt, 'rev-parse', 'HEAD^{tree}')
            subjects = git(wt, 'log', '--reverse', '--format=%s',
                           'base..HEAD').split('\n')
            git(wt, 'checkout', '-q', '--detach', 'base')
            git(wt, 'am', *mail.series_files())
            tree_series = git(wt, 'rev-parse', 'HEAD^{tree}')
            want = git(wt, 'log', '--reverse', '--format=%s',
                       'base..HEAD').split('\n')
        finally:
            subprocess.run(GIT + ['worktree', 'remove', '--force', wt],
                           cwd=src, capture_output=True)
            subprocess.run(GIT + ['worktree', 'prune'], cwd=src,
                           capture_output=True)
        print(f'git am of the mbox: {got} commits, tree {tree_mail[:12]}; '
              f'of the series: tree {tree_series[:12]}')
        if got != n:
            failed.append(f'git am of the mbox made {got} commits, the '
                          f'series has {n} patches')
        if tree_mail != tree_series:
            failed.append('the mbox and the series give different trees')
        if subjects != want:
            failed.append(f'subjects differ: {subjects} != {want}')
    for f in failed:
        print('FAIL: ' + f)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
