#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the RFC as a mail thread: cover letter plus the series, one mbox.

  mail.py [OUT]      default $O/rfc-mail.mbox ($O defaults to build/)

The cover letter, "[RFC PATCH 0/N]", is plain text: the summary, the
results as a fixed-width table generated from the results snapshot
(rfc/results/), the open questions of rfc/hazards.rst, a shortlog and a
diffstat.  The patches of kernel-patch/v6.1/series follow, their subjects
renumbered "[RFC PATCH k/N]" and threaded to the cover letter with
In-Reply-To and References, ready for

	git send-email --to=linux-mm@kvack.org build/rfc-mail.mbox

The cover letter's lines are at most 80 columns (tests/check_rfc_mail.py
checks it).
"""

import email.utils
import hashlib
import os
import re
import subprocess
import sys
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), '_ext'))

import kitdata  # noqa: E402
from kitdata import fmt  # noqa: E402

ROOT = kitdata.KIT_ROOT
SERIES = os.path.join(ROOT, 'kernel-patch', 'v6.1', 'series')
HAZARDS = os.path.join(ROOT, 'rfc', 'hazards.rst')
WIDTH = 72
MAX = 80
SUBJECT = ('mm/shmem: allocate only the COW page for a private write fault '
           'over a hole')


def series_files():
    out = []
    for line in open(SERIES):
        line = line.split('#', 1)[0].strip()
        if line:
            out.append(os.path.join(os.path.dirname(SERIES), line))
    return out


def split_patch(text):
    """(from_line, headers as [(name, value)], body) of a format-patch file."""
    first, rest = text.split('\n', 1)
    if not first.startswith('From '):
        raise SystemExit('not a git format-patch file: ' + first[:60])
    head, body = rest.split('\n\n', 1)
    headers = []
    for line in head.split('\n'):
        if line[:1] in (' ', '\t') and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + ' ' + line.strip())
        else:
            name, _, value = line.partition(':')
            headers.append((name, value.strip()))
    return first, headers, body


def header(headers, name):
    return next((v for n, v in headers if n.lower() == name.lower()), None)


def fold(name, value):
    """A header line folded at spaces to stay within 78 columns."""
    words = value.split(' ')
    lines, cur = [], f'{name}: {words[0]}'
    for w in words[1:]:
        if len(cur) + 1 + len(w) > 78:
            lines.append(cur)
            cur = ' ' + w
        else:
            cur += ' ' + w
    lines.append(cur)
    return '\n'.join(lines)


def wrap(text):
    return textwrap.fill(' '.join(text.split()), WIDTH)


def plain(rst):
    """Inline reStructuredText to plain text."""
    rst = re.sub(r':doc:`([^`<]*?)\s*<[^>]*>`', r'\1', rst)
    rst = re.sub(r':doc:`/?(?:rfc/)?([^`]*)`', r'"\1" of the RFC', rst)
    rst = re.sub(r':\w+:`([^`]*)`', r'\1', rst)
    rst = rst.replace('``', '')
    rst = re.sub(r'\*([^*\s][^*]*)\*', r'\1', rst)
    return rst


def open_questions():
    """The numbered questions of rfc/hazards.rst, as plain text."""
    text = open(HAZARDS).read()
    sec = text[text.index('Open questions for LSF/MM'):]
    out = []
    for m in re.finditer(r'^(Q\d+)\. (.+)\n((?:   .*\n|\n(?=   ))+)', sec,
                         re.M):
        num, title, body = m.groups()
        para = plain(body)
        title = plain(title).rstrip()
        title += '' if title.endswith(('?', '.')) else '.'
        out.append(textwrap.fill(f'{num}. {title}  ' +
                                 ' '.join(para.split()), WIDTH,
                                 subsequent_indent='    '))
    if not out:
        raise SystemExit(f'{HAZARDS}: no open questions found')
    return out


def results_table(snap):
    """The facts that differ between stock and patched, by scenario.

    The snapshot's other kernels (debug-only race kernels) are summed up in
    prose by race_summary(): a column each would not fit 80 columns.
    """
    ks = [k for k in ('stock', 'patched') if k in snap.running()] or \
        snap.running()
    models = snap.models
    rows, same_n, cases = [], 0, set()
    for r in models.rows:
        vals = [kitdata.fact(snap.docs[k], r['case'], r['fact']) for k in ks]
        if all(v in ('missing',) for v in vals):
            continue
        cases.add(r['case'])
        if len({fmt(v) for v in vals}) == 1:
            same_n += 1
            continue
        rows.append((r['case'], r['fact'], [fmt(v) for v in vals]))
    head = ['case', 'fact'] + ks
    body, last = [], None
    for case, fact_, vals in rows:
        scen, c = case.split('/', 1)
        if scen != last:
            body.append([scen + '/', '', *([''] * len(ks))])
            last = scen
        body.append(['  ' + c, fact_, *vals])
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    lines = []
    for r in [head] + body:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])] + \
            [v.rjust(max(widths[i + 2], 5)) for i, v in enumerate(r[2:])]
        lines.append(('  ' + '  '.join(cells)).rstrip())
    return lines, same_n, len(cases), ks


def selftest_summary(snap, ks):
    """How the kernel's own selftests compare across the kernels."""
    st = {}
    for k in ks:
        for sc in snap.docs[k]['scenarios']:
            if sc['name'].startswith(kitdata.SELFTEST):
                st.setdefault(sc['name'], {})[k] = sc['status']
    if not st:
        return 'The kernel\'s own selftests were not run.'
    same = [n for n, v in st.items() if len(set(v.values())) == 1
            and len(v) == len(ks)]
    ok = [n for n in same if st[n][ks[0]] == 'ok']
    text = (f'Of the 6.1 tree\'s {len(st)} mm selftests the kit runs, '
            f'{len(same)} give the same result on both kernels '
            f'({len(ok)} pass)')
    differ = sorted(set(st) - set(same))
    if differ:
        text += '; they differ on ' + ', '.join(
            n[len(kitdata.SELFTEST):] for n in differ)
    return text + '.'


def race_summary(snap):
    """What the race-window kernels show about patch 0001, from the data."""
    case = 'truncate-race-window/memfd'
    ks = [k for k in ('race-no-recheck', 'race-window') if k in snap.running()]
    if len(ks) < 2:
        return []
    got = {k: (kitdata.fact(snap.docs[k], case, 'mapped_beyond_eof'),
               kitdata.fact(snap.docs[k], case, 'store_sigbus')) for k in ks}
    return [wrap(
        f'Why 0001: with a debug-only 300 ms delay before finish_fault() in '
        f'the hole path, a truncation lands inside the fault.  With 0002 '
        f'alone (kernel race-0002-only) mapped_beyond_eof is '
        f'{fmt(got[ks[0]][0])}: the page stays mapped beyond EOF after '
        f'ftruncate() returned.  With 0001 as well (race-window) it is '
        f'{fmt(got[ks[1]][0])}, and store_sigbus is {fmt(got[ks[1]][1])}.')]


def crash_summary(snap):
    out = []
    for k in snap.kernels:
        d = snap.docs[k]
        if d.get('outcome') != 'splats':
            continue
        crashed = [s for s in d['scenarios'] if s.get('splat')]
        where = sorted({re.sub(r'^RIP: \S+:', '', s.get('rip') or '?')
                        .split('+')[0] for s in crashed})
        out.append(wrap(
            f'{d["label"]}, the literal SGP_READ switch of the thread, '
            f'booted once per reproducer: {len(crashed)} of '
            f'{len(d["scenarios"])} reproducers oops ("{crashed[0]["splat"]}" '
            f'in {", ".join(where)}); every one that stores privately over '
            f'a hole, uffd-missing included.' if crashed else
            f'{d["label"]}: no reproducer crashed.'))
    return out


def cover(snap, patches, date, msgid):
    d0 = snap.docs[snap.kernels[0]]
    m = d0['machine']
    lines, same_n, ncases, ks = results_table(snap)
    labels = ', '.join(snap.docs[k]['label'] for k in ks)
    accel = (d0.get('boot') or {}).get('accel', '?')
    p = []
    p.append(wrap(
        'A store through a MAP_PRIVATE mapping of a shmem, tmpfs or memfd '
        'file to an offset with no page-cache page allocates two pages: '
        'shmem_fault() with SGP_CACHE allocates, zeroes and inserts a '
        'page-cache page, and do_cow_fault() copies it into the COW page. '
        'The page-cache page is never mapped by the mapping that caused '
        'it, stays in the file, and is charged to the task\'s memory '
        'cgroup.  Virtual machine monitors that map guest memory privately '
        'from a memfd hit it (Cloud Hypervisor issue #4805, PR #8246).'))
    p.append(wrap(
        'This series follows Matthew Wilcox\'s suggestion in "Avoiding '
        'allocation of unused shmem page" (linux-mm, October 2022) and '
        'answers the objections raised there: a private write fault over '
        'a hole looks the page cache up with SGP_READ and, on a hole, '
        'zeroes and maps the COW page itself, as fs/dax.c does '
        '(patch 2); finish_fault() rechecks i_size under the PTE lock for '
        'such a page, as mfill_atomic_install_pte() does (patch 1).  VMAs '
        'registered for userfaultfd MISSING or MINOR keep SGP_CACHE, so '
        'MISSING events are not lost.'))
    p.append(wrap(
        f'Results of the kit\'s reproducers, run on {d0["date"]} in QEMU '
        f'({accel}) on {m["cpu"]}, {m["cpus"]} CPUs, for {labels}.  Facts '
        f'that differ between the kernels:'))
    table = '\n'.join(lines)
    p.append(table)
    p.append(wrap(
        f'{same_n} other facts of the {ncases} cases are identical on both '
        f'kernels: userfaultfd MISSING, MINOR and WP delivery, UFFDIO_COPY '
        f'isolation, what private and shared mappings read, fork().  '
        + selftest_summary(snap, ks)))
    p.extend(race_summary(snap))
    p.extend(crash_summary(snap))
    p.append(wrap(
        'The RFC behind this cover letter (a ledger of the thread\'s '
        'claims against measurements, the rules the series keeps, the '
        'hazards and how the series answers each) and the reproducers '
        'come with the series as a kit: "make repro" builds both kernels, '
        'boots them and prints the table above.'))
    p.append('Open questions, for LSF/MM:')
    p.append('\n\n'.join(open_questions()))
    shortlog = [f'  {s}' for s in (plain_subject(h) for _, h, _ in patches)]
    author = header(patches[0][1], 'From')
    name = email.utils.parseaddr(author)[0] or author
    p.append(f'{name} ({len(patches)}):\n' + '\n'.join(
        textwrap.fill(s.strip(), WIDTH, initial_indent='  ',
                      subsequent_indent='    ') for s in shortlog))
    p.append(diffstat())
    body = '\n\n'.join(p) + '\n\n-- \n' + snap.index.get('source', '') + '\n'
    hdr = [f'From 0000000000000000000000000000000000000000 Mon Sep 17 '
           f'00:00:00 2001',
           f'From: {author}',
           f'Date: {date}',
           fold('Subject', f'[RFC PATCH 0/{len(patches)}] {SUBJECT}'),
           f'Message-Id: {msgid(0)}',
           'MIME-Version: 1.0',
           'Content-Type: text/plain; charset=UTF-8',
           'Content-Transfer-Encoding: 8bit']
    return '\n'.join(hdr) + '\n\n' + body


def plain_subject(headers):
    return re.sub(r'^\[[^]]*\]\s*', '', header(headers, 'Subject'))


def diffstat():
    """One diffstat for the whole series, as git format-patch prints it."""
    text = ''.join(open(f).read() for f in series_files())
    r = subprocess.run(['git', 'apply', '--stat', '-'], input=text,
                       capture_output=True, text=True, cwd='/')
    if r.returncode:
        raise SystemExit('git apply --stat failed: ' + r.stderr)
    return r.stdout.rstrip('\n')


def renumber(first, headers, body, k, n, msgid):
    out = [first]
    for name, value in headers:
        if name.lower() == 'subject':
            value = f'[RFC PATCH {k}/{n}] ' + re.sub(r'^\[[^]]*\]\s*', '',
                                                     value)
        if name.lower() in ('message-id', 'in-reply-to', 'references'):
            continue
        out.append(fold(name, value))
    out.append(f'Message-Id: {msgid(k)}')
    out.append(f'In-Reply-To: {msgid(0)}')
    out.append(f'References: {msgid(0)}')
    return '\n'.join(out) + '\n\n' + body


def build():
    snap = kitdata.Snapshot()
    files = series_files()
    patches = [split_patch(open(f).read()) for f in files]
    date = header(patches[0][1], 'Date')
    digest = hashlib.sha256(b''.join(open(f, 'rb').read() for f in files)
                            ).hexdigest()[:12]

    def msgid(k):
        return f'<shmem-cow-hole-{digest}-{k}@shmem-rfc-kit>'
    n = len(patches)
    mails = [cover(snap, patches, date, msgid)]
    for k, (first, headers, body) in enumerate(patches, 1):
        mails.append(renumber(first, headers, body, k, n, msgid))
    return ''.join(m if m.endswith('\n') else m + '\n' for m in mails)


def main(argv):
    out = argv[1] if len(argv) > 1 else os.path.join(
        os.environ.get('O') or os.path.join(ROOT, 'build'), 'rfc-mail.mbox')
    text = build()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        f.write(text)
    print(f'{out}: cover letter and {len(series_files())} patches')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
