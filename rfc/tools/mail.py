#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the RFC as a mail thread, with git's and the kernel's own tools.

  mail.py [OUT]      default $O/rfc-mail.mbox ($O defaults to build/)

1. The cover letter is rfc/cover.rst rendered by Sphinx's text builder:
   the HTML RFC opens with the same file, so the two never disagree, and
   its figures come from the results snapshot (rfc/results/).
2. The series of kernel-patch/v<KVER>/series is applied with git am to a
   throw-away worktree of the kernel source the kit unpacked, with the
   committed patches' neutral identity replaced by yours (git config
   user.name and user.email): author and Signed-off-by.  git am
   --ignore-date dates each patch now, after the run it reports.
3. git format-patch --cover-letter --thread=shallow writes the thread, To
   and Cc from that tree's scripts/get_maintainer.pl plus the people of
   the 2022 thread; the cover letter's placeholders are replaced by the
   rendered text, and it ends with the base and the Link: lines.

The result is ready for

	git send-email build/rfc-mail.mbox

tests/check_rfc_mail.py checks it (git am, checkpatch, length, columns).
"""

import email.utils
import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from repro.harness import kernel  # noqa: E402

# The identity the committed patches carry; the export replaces it.
KIT_NAME = 'shmem-rfc-kit'
KIT_EMAIL = 'shmem-rfc-kit@users.noreply.example'
SUBJECT = ('mm/shmem: allocate only the COW page for a private write fault '
           'over a hole')
# The 2022 thread: its participants are copied, its archive linked.
THREAD = [
    'Matthew Wilcox <willy@infradead.org>',
    'David Hildenbrand <david@kernel.org>',
    'Peter Xu <peterx@redhat.com>',
]
LINKS = [
    'https://lore.kernel.org/linux-mm/'
    '4e1f4fb4-559e-2be3-c091-40ce0130b6c3@redhat.com/',
    'https://github.com/cloud-hypervisor/cloud-hypervisor/issues/4805',
    'https://github.com/cloud-hypervisor/cloud-hypervisor/pull/8246',
]
# get_maintainer.pl's lists go to Cc; these maintainers get the To:.
TO_FIRST = ('akpm@linux-foundation.org', 'hughd@google.com')
COVER = os.path.join(ROOT, 'rfc', 'cover.rst')


class MailError(Exception):
    pass


def git(cwd, *args, env=None):
    r = subprocess.run(['git', '-c', 'core.excludesFile=/dev/null',
                        '-c', 'advice.detachedHead=false'] + list(args),
                       cwd=cwd, capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    if r.returncode:
        raise MailError(f'git {" ".join(args)} failed in {cwd}:\n'
                        f'{(r.stdout + r.stderr).strip()[-1500:]}')
    return r.stdout.strip()


def identity():
    """(name, email) from git config, or an error that says how to set it."""
    def get(key):
        r = subprocess.run(['git', 'config', key], cwd=ROOT,
                           capture_output=True, text=True)
        return r.stdout.strip()
    name, mail = get('user.name'), get('user.email')
    if not name or not mail:
        raise MailError('git config user.name and user.email must name the '
                        'sender: the mail is signed off and sent as you.  '
                        'Set them: git config --global user.name "Your Name"'
                        '; git config --global user.email you@example.org')
    return name, mail


def series_files(kver=None):
    kver = kver or kernel.DEFAULT_KVER
    sfile = os.path.join(ROOT, 'kernel-patch', f'v{kver}', 'series')
    out = []
    for line in open(sfile):
        line = line.split('#', 1)[0].strip()
        if line:
            out.append(os.path.join(os.path.dirname(sfile), line))
    return out


def as_user(text, name, mail):
    """A committed patch with the kit's identity replaced by the user's."""
    kit = f'{KIT_NAME} <{KIT_EMAIL}>'
    user = email.utils.formataddr((name, mail))
    return text.replace(f'From: {kit}', f'From: {user}').replace(
        f'Signed-off-by: {kit}', f'Signed-off-by: {user}')


def render_cover(tmp):
    """rfc/cover.rst as plain text, through Sphinx's text builder."""
    if not shutil.which('sphinx-build'):
        raise MailError('sphinx-build not found: make rfc-mail renders the '
                        'cover letter with Sphinx (make deps htmldocs '
                        'installs it)')
    out = os.path.join(tmp, 'text')
    r = subprocess.run(['sphinx-build', '-q', '-b', 'text', '-W', ROOT, out,
                        COVER], capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise MailError('sphinx-build -b text of rfc/cover.rst failed:\n'
                        + (r.stdout + r.stderr)[-2000:])
    text = open(os.path.join(out, 'rfc', 'cover.txt')).read()
    # The page title is the mail's subject.
    lines = text.split('\n')
    while lines and (not lines[0].strip() or set(lines[0]) <= set('*=-')
                     or lines[0].strip().startswith('RFC')):
        lines.pop(0)
    return '\n'.join(lines).strip() + '\n'


def recipients(tree, patches):
    """To and Cc: scripts/get_maintainer.pl of the tree the series applies
    to, plus the people of the 2022 thread."""
    r = subprocess.run([os.path.join(tree, 'scripts', 'get_maintainer.pl'),
                        '--no-rolestats', '--no-git', '--no-git-fallback',
                        '--no-tree'] + patches, cwd=tree,
                       capture_output=True, text=True)
    if r.returncode:
        raise MailError(f'get_maintainer.pl failed: {r.stderr.strip()}')
    found = [l.strip() for l in r.stdout.splitlines() if '@' in l]
    to = [a for a in found if any(t in a for t in TO_FIRST)]
    cc = [a for a in found if a not in to]
    for a in THREAD:
        addr = email.utils.parseaddr(a)[1]
        if not any(addr in x for x in to + cc):
            cc.append(a)
    lists = [a for a in cc if '<' not in a]
    people = [a for a in cc if '<' in a]
    return to + [a for a in lists if 'linux-mm' in a], \
        people + [a for a in lists if 'linux-mm' not in a]


REPRODUCER = os.path.join(ROOT, 'repro', 'standalone',
                          'shmem-private-hole.c')


def append_reproducer(cover):
    """The one-file reproducer the letter quotes, after the diffstat, so a
    reviewer can save it from the mail and compile it."""
    sig = cover.rfind('\n-- \n')
    if sig < 0:
        raise MailError('git format-patch wrote a cover letter without a '
                        'signature line')
    code = open(REPRODUCER).read()
    text = ('\n\nThe reproducer quoted above, '
            'repro/standalone/shmem-private-hole.c of the kit:\n\n' + code)
    return cover[:sig] + text.rstrip('\n') + '\n' + cover[sig:]


def base_line(src):
    """What the series is based on, stated as such: the upstream release
    the Debian package carries (its tarball has no git history, so no
    upstream commit id can be named)."""
    tag = 'v' + src.version.replace('.0-rc', '-rc')
    if tag.endswith('.0'):
        tag = tag[:-2]
    return (f'base-commit: {tag}\n'
            f'(the upstream release in Debian\'s linux-source-{src.series_ver}'
            f' {src.pkgver}, where the\n'
            f'series was built and tested; the tarball has no git history '
            f'to name a\ncommit by its id)')


def build(out):
    name, mail = identity()
    src = kernel.Source()
    files = series_files(src.series_ver)
    with tempfile.TemporaryDirectory(prefix='kit-rfc-mail-') as tmp:
        body = render_cover(tmp)
        wt = os.path.join(tmp, 'linux')
        git(src.path, 'worktree', 'add', '--detach', wt, 'base')
        try:
            env = {'GIT_COMMITTER_NAME': name, 'GIT_COMMITTER_EMAIL': mail}
            for f in files:
                p = os.path.join(tmp, os.path.basename(f))
                with open(p, 'w') as w:
                    w.write(as_user(open(f).read(), name, mail))
                git(wt, 'am', '--ignore-date', p, env=env)
            to, cc = recipients(wt, [os.path.join(tmp, os.path.basename(f))
                                     for f in files])
            pdir = os.path.join(tmp, 'out')
            git(wt, 'format-patch', '-q', '--cover-letter',
                '--thread=shallow', '--subject-prefix=RFC PATCH',
                '--no-base', '-o', pdir,
                *[f'--to={a}' for a in to], *[f'--cc={a}' for a in cc],
                'base..HEAD', env=env)
            base = base_line(src)
        finally:
            subprocess.run(['git', 'worktree', 'remove', '--force', wt],
                           cwd=src.path, capture_output=True)
            subprocess.run(['git', 'worktree', 'prune'], cwd=src.path,
                           capture_output=True)
        mails = sorted(glob.glob(os.path.join(pdir, '*.patch')))
        cover = open(mails[0]).read()
        if '*** BLURB HERE ***' not in cover:
            raise MailError(f'{mails[0]}: git format-patch wrote no cover '
                            f'letter template')
        tail = '\n'.join([base] + [f'Link: {l}' for l in LINKS]) + '\n'
        cover = cover.replace('*** SUBJECT HERE ***', SUBJECT)
        cover = cover.replace('*** BLURB HERE ***', body + '\n' + tail)
        cover = append_reproducer(cover)
        text = cover + ''.join(open(m).read() for m in mails[1:])
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        f.write(text)
    return len(files), to, cc


def main(argv):
    out = argv[1] if len(argv) > 1 else os.path.join(
        os.environ.get('O') or os.path.join(ROOT, 'build'), 'rfc-mail.mbox')
    try:
        n, to, cc = build(out)
    except MailError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'{out}: cover letter and {n} patches, To: {", ".join(to)}; '
          f'Cc: {len(cc)} more')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
