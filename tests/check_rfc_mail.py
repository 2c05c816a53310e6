#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the RFC mail (make rfc-mail): it can be sent as it is.

1. Write the mbox (rfc/tools/mail.py) into a temporary directory.
2. The cover letter: its text before the shortlog is at most WORDS words,
   every line of it at most 80 columns, it names no fact of the kit by
   its field name, has a base-commit: line and a Link: to the 2022
   thread, and quotes the standalone reproducer.
3. Every mail is from the sender git config names, every patch signed off
   by them; To names linux-mm and Andrew Morton, Cc the people of the
   2022 thread; every Date is later than the results the letter reports.
4. checkpatch.pl --strict of the kernel tree on every patch of the mbox.
5. In a throw-away worktree of the kernel source at tag `base`, `git am`
   of the mbox gives one commit per patch of the series, and the same
   tree as `git am` of the series files themselves.
"""

import email
import email.utils
import mailbox
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'rfc', 'tools'))
sys.path.insert(0, os.path.join(ROOT, 'rfc', '_ext'))

from repro.harness import kernel  # noqa: E402
import kitdata  # noqa: E402
import mail  # noqa: E402

GIT = ['git', '-c', 'user.name=shmem-rfc-kit',
       '-c', 'user.email=shmem-rfc-kit@localhost',
       '-c', 'advice.detachedHead=false', '-c', 'core.excludesFile=/dev/null']
MAX = 80
WORDS = 1200
# The kit's field names, which a reader of the mail cannot look up.
FACT_NAMES = re.compile(r'\b(pc_per_write|anon_per_write|shmem_huge_kb_delta'
                        r'|doubled|write_hole_events|mapped_beyond_eof'
                        r'|file_intact|holepc)\b')


def git(cwd, *args):
    r = subprocess.run(GIT + list(args), cwd=cwd, capture_output=True,
                       text=True)
    if r.returncode:
        raise RuntimeError(f'git {" ".join(args)} failed in {cwd}:\n'
                           f'{r.stdout[-2000:]}{r.stderr[-2000:]}')
    return r.stdout.strip()


def cover_checks(msg, failed):
    body = msg.get_payload(decode=True).decode()
    blurb = re.split(r'\n\S[^\n]*\(\d+\):\n', body, maxsplit=1)[0]
    words = len(blurb.split())
    print(f'cover letter: {words} words before the shortlog, '
          f'{len(body.splitlines())} lines')
    if words > WORDS:
        failed.append(f'cover letter: {words} words before the shortlog, '
                      f'more than {WORDS}')
    for i, line in enumerate(body.splitlines(), 1):
        # A URL is not wrapped (checkpatch makes the same exception).
        if len(line) > MAX and not line.startswith('Link: http'):
            failed.append(f'cover letter line {i}: {len(line)} columns')
    for m in FACT_NAMES.finditer(blurb):
        failed.append(f'cover letter uses the kit\'s fact name "{m.group(0)}"')
    if not re.search(r'^base-commit: v\d', body, re.M):
        failed.append('cover letter has no base-commit: line')
    if mail.LINKS[0] not in body:
        failed.append('cover letter has no Link: to the 2022 thread')
    if 'int main(void)' not in body or 'shmem-private-hole' not in blurb:
        failed.append('cover letter does not quote the standalone '
                      'reproducer')


def main():
    failed = []
    name, addr = mail.identity()
    snap = kitdata.Snapshot()
    with tempfile.TemporaryDirectory(prefix='kit-rfc-mail-') as tmp:
        mbox = os.path.join(tmp, 'rfc-mail.mbox')
        subprocess.run([sys.executable, os.path.join(ROOT, 'rfc', 'tools',
                                                     'mail.py'), mbox],
                       check=True)
        msgs = list(mailbox.mbox(mbox))
        n = len(mail.series_files())
        if len(msgs) != n + 1:
            failed.append(f'{len(msgs)} mails for {n} patches and a cover '
                          f'letter')
        cover_checks(msgs[0], failed)
        # Snapshot dates read "2026-12-01 15:49 UTC": they sort as text.
        newest = max(d['date'] for d in snap.docs.values())
        for i, m in enumerate(msgs):
            frm = email.utils.parseaddr(m['From'])
            if frm != (name, addr):
                failed.append(f'mail {i}: From {m["From"]}, git config says '
                              f'{name} <{addr}>')
            when = email.utils.parsedate_to_datetime(m['Date'])
            if when.strftime('%Y-%m-%d %H:%M UTC') < newest:
                failed.append(f'mail {i}: Date {m["Date"]} is before the '
                              f'run it reports ({newest})')
            tos = m['To'] or ''
            ccs = m['Cc'] or ''
            if 'linux-mm@kvack.org' not in tos or 'akpm@' not in tos:
                failed.append(f'mail {i}: To lacks linux-mm or Andrew Morton')
            for who in mail.THREAD:
                if email.utils.parseaddr(who)[1] not in tos + ccs:
                    failed.append(f'mail {i}: {who} not copied')
            if i and f'Signed-off-by: {name} <{addr}>' not in \
                    m.get_payload(decode=True).decode():
                failed.append(f'mail {i}: not signed off by {name}')
        print(f'{len(msgs)} mails from {name} <{addr}>, To: '
              f'{msgs[0]["To"]!s:.60}...')

        src = kernel.Source().path
        pdir = os.path.join(tmp, 'patches')
        os.makedirs(pdir)
        for i, m in enumerate(msgs[1:], 1):
            p = os.path.join(pdir, f'{i:04d}.patch')
            with open(p, 'w') as f:
                f.write(m.as_string(unixfrom=True))
        # In the tree, as make check runs it on the series: checkpatch
        # then knows the tree's files and identifiers.
        r = subprocess.run([os.path.join(src, 'scripts', 'checkpatch.pl'),
                            '--strict', '--terse', '--show-types'] +
                           [os.path.join(pdir, p)
                            for p in sorted(os.listdir(pdir))], cwd=src,
                           capture_output=True, text=True,
                           env=dict(os.environ, PATH='/usr/bin:' +
                                    os.environ.get('PATH', '')))
        bad = [l for l in r.stdout.splitlines()
               if re.search(r': (ERROR|WARNING|CHECK):', l)]
        print(f'checkpatch --strict on the mails: {len(bad)} findings')
        failed += [f'checkpatch: {l}' for l in bad]

        wt = os.path.join(tmp, 'linux')
        git(src, 'worktree', 'add', '--detach', wt, 'base')
        try:
            git(wt, 'am', '--empty=drop', mbox)
            got = int(git(wt, 'rev-list', '--count', 'base..HEAD'))
            tree_mail = git(wt, 'rev-parse', 'HEAD^{tree}')
            git(wt, 'checkout', '-q', '--detach', 'base')
            git(wt, 'am', *mail.series_files())
            tree_series = git(wt, 'rev-parse', 'HEAD^{tree}')
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
    for f in failed:
        print('FAIL: ' + f)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
