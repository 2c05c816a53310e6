# SPDX-License-Identifier: GPL-2.0
"""One kernel's results: KTAP -> JSON with verdicts; many -> one table."""

import datetime
import re
import json
import os
import platform
import textwrap

from . import ktap
from .models import Models, same

SELFTEST = 'selftest-'
# The one-file reproducer a reviewer compiles (repro/standalone/): its one
# line becomes the facts of case standalone/memfd, and its verdict must agree
# with the kit's own measurement of the same thing.
STANDALONE = 'standalone'
STANDALONE_LINE = re.compile(r'shmem-private-hole: \S+: (.*)$')


def machine():
    cpu = 'unknown'
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    return {'host_kernel': platform.release(), 'cpu': cpu,
            'cpus': os.cpu_count(), 'mem_gib': round(mem / 2**30)}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y-%m-%d %H:%M UTC')


def collect(label, kernel, model, ktap_text, scenarios, boot=None):
    """Build the results document of one kernel (or the host).

    `scenarios` is the ordered list the runner was given: a scenario the
    output lacks (a crash, a hang) is named and marked missing.
    """
    doc = {
        'label': label, 'kernel': kernel, 'model': model,
        'date': datetime.datetime.now(datetime.timezone.utc)
        .strftime('%Y-%m-%d %H:%M UTC'),
        'machine': machine(), 'boot': boot, 'scenarios': [],
        'parse_error': None,
    }
    parsed = {'scenarios': []}
    try:
        parsed = ktap.parse(ktap_text)
    except ktap.ParseError as e:
        doc['parse_error'] = str(e)
    got = parsed['scenarios']
    for i, name in enumerate(scenarios):
        s = got[i] if i < len(got) else {'name': None, 'status': 'missing',
                                         'cases': [], 'diag': []}
        if s['name'] is None:
            s['name'] = name
        if name == STANDALONE and s['status'] != 'missing':
            s['cases'] = [standalone_case(s)]
        if name.startswith(SELFTEST) and not s['cases'] and \
                s['status'] != 'missing':
            # A selftest's verdict is its exit status: one case, one fact,
            # so that models.tsv can say where it should fail.
            s['cases'] = [{'name': 'exit', 'status': 'ok', 'diag': [],
                           'facts': {'passed': str(int(s['status'] ==
                                                       'ok'))}}]
        doc['scenarios'].append(s)
    return doc


def standalone_case(s):
    """The facts of the standalone reproducer's line, as one case."""
    facts = {}
    for d in s['diag']:
        m = STANDALONE_LINE.search(d)
        if m:
            for kv in m.group(1).split():
                k, _, v = kv.partition('=')
                facts[k] = v
    if facts.get('uffd'):
        facts['missing'] = 'unavailable'
    return {'name': 'memfd', 'diag': [],
            'status': s['status'] if facts else 'not ok', 'facts': facts}


def standalone_disagrees(doc):
    """A line if the standalone reproducer's verdict differs from the
    kit's private-write-hole/memfd measurement in the same run."""
    cases = cases_of(doc)
    one = cases.get(f'{STANDALONE}/memfd')
    kit = cases.get('private-write-hole/memfd')
    if not one or not kit or one['status'] != 'ok' or kit['status'] != 'ok':
        return None
    try:
        kit_says = ('allocates' if float(kit['facts']['pc_per_write']) >= 0.5
                    else 'cow-only')
    except (KeyError, ValueError):
        return None
    got = one['facts'].get('verdict')
    if got != kit_says:
        return (f'{STANDALONE}/memfd: verdict={got}, but the kit measured '
                f'pc_per_write={kit["facts"]["pc_per_write"]} '
                f'({kit_says})')
    return None


def cases_of(doc):
    return {f'{s["name"]}/{c["name"]}': c
            for s in doc['scenarios'] for c in s['cases'] if c['name']}


def judge(doc, models):
    """Add verdicts: the declared model's diffs and every model matched."""
    cases = cases_of(doc)
    ran = [s['name'] for s in doc['scenarios']]
    doc['matches'] = models.classify(cases, ran)
    doc['diffs'] = ([list(d) for d in models.check(doc['model'], cases, ran)]
                    if doc['model'] else [])
    failed = []
    # The kernel's selftests are judged across kernels (regressions), not
    # against a model: one failing on stock too is the test's or the
    # config's business, reported in the table.
    for s in doc['scenarios']:
        if s['name'].startswith(SELFTEST):
            continue
        bad = [c for c in s['cases'] if c['status'] in ('not ok', 'missing')]
        if bad:
            failed += [f'{s["name"]}/{c["name"] or "?"}' for c in bad]
        elif s['status'] in ('not ok', 'missing'):
            failed.append(s['name'])
    why = standalone_disagrees(doc)
    if why:
        failed.append(why)
    doc['failed'] = failed
    boot_ok = doc['boot'] is None or doc['boot']['status'] == 'ok'
    if doc.get('outcome') == 'splats':
        # An alternative shown not to work: it passes by crashing.
        doc['verdict'] = 'ok' if doc['boot']['status'] == 'splat' else 'FAIL'
        return doc
    doc['verdict'] = 'ok' if (boot_ok and not doc['diffs'] and not failed
                              and not doc['parse_error']) else 'FAIL'
    return doc


def save(doc, path):
    with open(path, 'w') as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write('\n')


def ran_or_not(docs):
    """The scenarios the table has rows for: those a kernel ran, and those
    a kernel's run left out on purpose (doc['not_run']: the QEMU clients
    in an arm64 guest), whose cases show as not run."""
    return {s['name'] for d in docs for s in d['scenarios']} | \
        {n for d in docs for n in d.get('not_run', {})}


def cell(doc, case, models):
    if case.split('/')[0] in doc.get('not_run', {}):
        return 'n/a'
    scen = next((s for s in doc['scenarios']
                 if s['name'] == case.split('/')[0]), {})
    if scen.get('splat'):
        return 'SPLAT'
    c = cases_of(doc).get(case)
    if c is None:
        return 'missing'
    if c['status'] == 'skip':
        return 'SKIP'
    vals = ' '.join(f'{r["label"]}:{fmt(c["facts"].get(r["fact"], "?"))}'
                    for r in models.rows_for(case))
    if c['status'] != 'ok':
        return f'{vals} FAIL'
    if not doc['model']:
        return vals
    bad = any(not same(r[doc['model']],
                       c['facts'].get(r['fact'], 'absent'))
              for r in models.rows_for(case) if r[doc['model']] != '-')
    return f'{vals} {"MISMATCH" if bad else "ok"}'


def columns(head, rows):
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    return ['  '.join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
            for r in [head] + rows]


def fmt(v):
    try:
        f = float(v)
        return str(int(f)) if f == int(f) else f'{f:.2f}'
    except ValueError:
        return v


def table(docs, models):
    """The side-by-side verdict table, as text."""
    head = ['case', 'claims'] + [d['label'] for d in docs] + \
        ['expected ' + '/'.join(models.names)]
    rows = []
    ran = ran_or_not(docs)
    for case in models.cases(ran):
        rs = models.rows_for(case)
        claims = ','.join(dict.fromkeys(c for r in rs for c in r['claims']))
        exp = ' / '.join(' '.join(fmt(r[m]) for r in rs)
                         for m in models.names)
        rows.append([case, claims] + [cell(d, case, models) for d in docs]
                    + [exp])
    out = columns(head, rows)
    st = [s['name'] for s in docs[0]['scenarios']
          if s['name'].startswith(SELFTEST)] if docs else []
    if st:
        status = [{s['name']: s['status'] for s in d['scenarios']}
                  for d in docs]
        out.append('')
        out += columns(['kernel selftest'] + [d['label'] for d in docs],
                       [[n[len(SELFTEST):]] + [m.get(n, 'missing')
                                               for m in status]
                        for n in st])
    out.append('')
    for d in docs:
        b = d['boot'] or {}
        where = (f'{b.get("accel", "?")} boot {b.get("seconds", "?")} s'
                 f'{cpus_of(d)}, {b.get("status")}') if d['boot'] else 'host'
        want = f'model {d["model"]}: ' if d['model'] else ''
        if d.get('outcome') == 'splats':
            out.append(f'{d["label"]}: {d["kernel"]}, one boot per '
                       f'reproducer, oops=panic, {b.get("seconds")} s; '
                       f'expected to crash: {d["verdict"]}')
            for s in d['scenarios']:
                what = (f'{s["splat"]} at {s["rip"] or "?"}' if s.get('splat')
                        else f'no splat, {s["status"]}')
                out.append(f'    {s["name"]}: {what}')
            continue
        out.append(f'{d["label"]}: {d["kernel"]}{where_from(d)}, {where}; '
                   f'{want}'
                   f'{d["verdict"]}; matches: '
                   f'{", ".join(d["matches"]) or "no model"}')
        gone = []
        for case, fact, want_v, got in d['diffs']:
            if got == 'missing':
                if case not in gone:
                    gone.append(case)
                    out.append(f'    {case}: never reported (the guest or '
                               f'the reproducer died first)')
                continue
            out.append(f'    {case} {fact}: expected {want_v}, measured {got}')
        for f in d['failed']:
            out.append(f'    {f}: not ok (see its KTAP diagnostics)')
        for k in (d['boot'] or {}).get('known_splats', []):
            out.append(f'    known splat, not counted: {k}')
        for n, why in d.get('not_run', {}).items():
            out.append(f'    {n}: {why}')
        if d['parse_error']:
            out.append(f'    results unreadable: {d["parse_error"]}')
        if d['boot'] and d['boot']['status'] != 'ok':
            out.append(f'    boot {d["boot"]["status"]}; console '
                       f'{d["boot"]["console"]}:')
            out += ['      | ' + l for l in d['boot']['excerpt']]
    return '\n'.join(out)


TERM_WIDTH = 120
MIN_WIDTH = 60
MIN_CASE = 24
SCEN_HEAD = 10
ELLIPSIS = '...'
# What a case's mark says, for the key under the terminal table.
MARKS = {
    'ok': 'as its model predicts',
    'DIFF': 'not as its model predicts (the facts are under the case)',
    'FAIL': 'the reproducer failed',
    'SKIP': 'skipped, the kernel lacks what the case needs',
    'missing': 'never reported',
    'SPLAT': 'the kernel oopsed',
    '-': 'no model declared, only measured',
    'n/a': 'not run on that kernel',
}


def term_width(width=None):
    """The width to fit: the caller's, else $COLUMNS, else 120.

    Below 60 even the case names would not survive, so never less.
    """
    if width is None:
        try:
            width = int(os.environ.get('COLUMNS', ''))
        except ValueError:
            width = 0
        width = width if width > 0 else TERM_WIDTH
    return max(MIN_WIDTH, width)


def clip(text, width):
    """Cut at the end: for console lines, whose start says what they are."""
    return text if len(text) <= width else text[:width - 3] + ELLIPSIS


def middle(text, width):
    """Cut in the middle: the scenario's first words tell scenarios apart,
    the case name after the '/' tells the rows of one scenario apart."""
    if len(text) <= width:
        return text
    keep = width - len(ELLIPSIS)
    if keep < 2:
        return text[:width]
    tail = len(text) - text.find('/') if '/' in text else keep // 2
    tail = min(tail, keep - min(SCEN_HEAD, keep // 2))
    return text[:keep - tail] + ELLIPSIS + text[len(text) - tail:]


def wrap(text, width, indent='', more='    '):
    """Prose lines fold rather than lose their end."""
    return textwrap.wrap(text, width, initial_indent=indent,
                         subsequent_indent=' ' * len(indent) + more,
                         break_on_hyphens=False) or [indent.rstrip()]


def short_labels(docs):
    """Kernel labels without the prefix they all share ("6.1.192-"): the
    column headers stay narrow, the summary names them in full."""
    labels = [d['label'] for d in docs]
    pre = os.path.commonprefix(labels) if len(labels) > 1 else ''
    pre = pre[:pre.rfind('-') + 1]
    if pre and all(l[len(pre):] for l in labels):
        return [l[len(pre):] for l in labels]
    return labels


def key_rows(case, models):
    """The one or two facts that matter: those the models disagree on
    (pc/w for a write over a hole), else the case's first two rows."""
    rs = models.rows_for(case)

    def splits(r):
        want = [r[m] for m in models.names if r[m] != '-']
        return any(not same(want[0], w) for w in want[1:])
    return [r for r in rs if splits(r)][:2] or rs[:2]


def mark(doc, case):
    """One word: did this case go as the kernel's model says?"""
    name = case.split('/')[0]
    scen = next((s for s in doc['scenarios'] if s['name'] == name), None)
    if scen is None:
        return 'n/a'
    if scen.get('splat'):
        return 'SPLAT'
    c = cases_of(doc).get(case)
    if c is None or c['status'] == 'missing':
        return 'missing'
    if c['status'] == 'skip':
        return 'SKIP'
    if c['status'] != 'ok':
        return 'FAIL'
    if not doc['model']:
        return '-'
    return 'DIFF' if any(d[0] == case for d in doc['diffs']) else 'ok'


def measured(doc, case, row):
    c = cases_of(doc).get(case)
    if c is None or c['status'] in ('missing', 'skip'):
        return None
    return fmt(c['facts'].get(row['fact'], '?'))


def pair_facts(docs, case, rows):
    """`pc/w 1 -> 0`: the first kernel's value, then the second's; one
    value when they agree."""
    out = []
    for r in rows:
        a, b = (measured(d, case, r) for d in docs)
        if a is None and b is None:
            continue
        if a is not None and b is not None and same(a, b):
            out.append(f'{r["label"]} {a}')
        else:
            out.append(f'{r["label"]} {a or "?"} -> {b or "?"}')
    return ', '.join(out)


BARE = ('SPLAT', 'missing', 'SKIP', 'n/a')


def case_cell(doc, case, rows, markw):
    m = mark(doc, case)
    vals = [f'{r["label"]} {v}' for r in rows
            for v in [measured(doc, case, r)] if v is not None]
    if m in BARE or not vals:
        return m
    return f'{m.ljust(markw)} {" ".join(vals)}'


def disagreements(docs, case):
    """The lines under a case: each kernel's facts that are not as its
    model says, expected then measured."""
    out = []
    for d in docs:
        diffs = [x for x in d['diffs'] if x[0] == case]
        if diffs and all(x[3] == 'missing' for x in diffs):
            out.append(f'{d["label"]}: never reported (the guest or the '
                       f'reproducer died first)')
            continue
        out += [f'{d["label"]}: {fact} expected {fmt(want)}, measured '
                f'{fmt(got)}' for _, fact, want, got in diffs]
        if not diffs and mark(d, case) == 'FAIL':
            out.append(f'{d["label"]}: not ok (see its KTAP diagnostics)')
    return out


def fit(head, rows, width, least):
    """columns(), the first column cut in the middle to fit `width`; None
    when that would leave it fewer than `least` characters."""
    if not rows:
        return columns(head, rows)
    rest = sum(max(len(r[i]) for r in [head] + rows) + 2
               for i in range(1, len(head)))
    room = width - rest
    if room < min(least, max(len(r[0]) for r in [head] + rows)):
        return None
    return columns([middle(head[0], room)] + head[1:],
                   [[middle(r[0], room)] + r[1:] for r in rows])


def terminal_table(docs, models, width=None):
    """The verdict table for a terminal: one line per case, each kernel's
    mark and the facts that matter, no line wider than `width`.

    table() keeps the full width for table.txt; this one is what a
    reviewer reads first, so a disagreement is spelled out under its case.
    """
    width = term_width(width)
    if not docs:
        return 'no results'
    ran = ran_or_not(docs)
    cases = models.cases(ran)
    pair = len(docs) == 2 and \
        [s['name'] for s in docs[0]['scenarios']] == \
        [s['name'] for s in docs[1]['scenarios']]
    marks = [[mark(d, c) for d in docs] for c in cases]
    markw = [max([len(ms[i]) for ms in marks if ms[i] not in BARE] or [0])
             for i in range(len(docs))]
    names = short_labels(docs)
    numbers = [f'#{i + 1}' for i in range(len(docs))]

    def layout(nfacts, heads):
        if pair:
            head = ['case'] + heads + [' -> '.join(heads)]
            rows = [[c] + ms + [pair_facts(docs, c,
                                           key_rows(c, models)[:nfacts])]
                    for c, ms in zip(cases, marks)]
        else:
            head = ['case'] + heads
            rows = [[c] + [case_cell(d, c, key_rows(c, models)[:nfacts],
                                     markw[i])
                           for i, d in enumerate(docs)]
                    for c in cases]
        return head, rows
    tries = [(2, names), (1, names), (1, numbers), (0, names), (0, numbers)]
    for nfacts, heads in tries:
        lines = fit(*layout(nfacts, heads), width, MIN_CASE)
        if lines:
            break
    else:
        heads = numbers
        lines = fit(*layout(0, numbers), width, 1) or \
            columns(*layout(0, numbers))
    numbered = heads is numbers
    out = [clip(lines[0], width)]
    for case, line in zip(cases, lines[1:]):
        out.append(clip(line, width))
        for l in disagreements(docs, case):
            out += wrap(l, width, '    ')
    seen = {m for ms in marks for m in ms}
    if seen:
        out += wrap('; '.join(f'{m} = {w}' for m, w in MARKS.items()
                              if m in seen), width, 'marks: ', '')
    out += selftest_lines(docs, heads, width)
    out.append('')
    for d, num in zip(docs, numbers):
        out += summary_lines(d, num if numbered else '', set(cases), width)
    return '\n'.join(out)


def selftest_lines(docs, names, width):
    """One line per kernel selftest, a status per kernel that ran any."""
    st = [s['name'] for s in docs[0]['scenarios']
          if s['name'].startswith(SELFTEST)]
    ran = [i for i, d in enumerate(docs)
           if any(s['name'].startswith(SELFTEST) for s in d['scenarios'])]
    if not st or not ran:
        return []
    status = [{s['name']: s['status'] for s in d['scenarios']}
              for d in docs]
    out = ['']
    head = ['kernel selftest'] + [names[i] for i in ran]
    rows = [[n[len(SELFTEST):]] + [status[i].get(n, 'missing') for i in ran]
            for n in st]
    out += [clip(l, width)
            for l in fit(head, rows, width, 1) or columns(head, rows)]
    idle = [names[i] for i in range(len(docs)) if i not in ran]
    if idle:
        out += wrap(f'(no selftests on {", ".join(idle)})', width)
    return out


def where_from(d):
    """'Debian linux-source-7.3 7.3~rc7-1~exp1' for a kernel the kit built,
    '' for one it did not."""
    src = d.get('source') or {}
    return (f' (Debian {src["package"]} {src["version"]})'
            if src.get('version') else '')


def cpus_of(d):
    b = d['boot'] or {}
    return f', {b["cpus_online"]} CPUs' if b.get('cpus_online') else ''


def summary_lines(d, num, shown, width):
    """What table() says of a kernel under its table, fitted to `width`;
    the facts it got wrong, and its failed cases among those `shown`, are
    already under their cases."""
    b = d['boot'] or {}
    pre = f'{num} ' if num else ''
    if d.get('outcome') == 'splats':
        out = wrap(f'{pre}{d["label"]}: {d["kernel"]}, one boot per '
                   f'reproducer, oops=panic, {b.get("seconds")} s; '
                   f'expected to crash: {d["verdict"]}', width)
        splats = {}
        for s in d['scenarios']:
            what = (f'{s["splat"]} at {s["rip"] or "?"}' if s.get('splat')
                    else f'no splat, {s["status"]}')
            splats.setdefault(what, []).append(s['name'])
        for what, where in splats.items():
            out += wrap(what, width, '    ', '  ')
            out += wrap(f'in {", ".join(where)}', width, '      ', '   ')
        return out
    where = (f'{b.get("accel", "?")} boot {b.get("seconds", "?")} s'
             f'{cpus_of(d)}, {b.get("status")}') if d['boot'] else 'host'
    want = f'model {d["model"]}: ' if d['model'] else ''
    out = wrap(f'{pre}{d["label"]}: {d["kernel"]}{where_from(d)}, {where}; '
               f'{want}'
               f'{d["verdict"]}; matches: '
               f'{", ".join(d["matches"]) or "no model"}', width)
    if d['diffs']:
        n = len({x[0] for x in d['diffs']})
        out += wrap(f'{n} case{"s" * (n != 1)} not as model {d["model"]} '
                    f'says: the facts are under {("its", "their")[n > 1]} '
                    f'line above', width, '    ')
    for f in d['failed']:
        if f not in shown:
            out += wrap(f'{f}: not ok (see its KTAP diagnostics)', width,
                        '    ')
    for k in b.get('known_splats', []):
        out += wrap(f'known splat, not counted: {k}', width, '    ')
    for n, why in d.get('not_run', {}).items():
        out += wrap(f'{n}: {why}', width, '    ')
    if d['parse_error']:
        out += wrap(f'results unreadable: {d["parse_error"]}', width, '    ')
    if d['boot'] and b['status'] != 'ok':
        out += wrap(f'boot {b["status"]}; console {b["console"]}:', width,
                    '    ')
        out += [clip('      | ' + l, width) for l in b['excerpt']]
    return out


def bench_table(docs):
    """Kernel x backend: pages per fault, cost against anon, capacity."""
    head = ['backend'] + [d['label'] for d in docs]
    names = []
    for d in docs:
        for s in d['scenarios']:
            names += [c['name'] for c in s['cases']
                      if c['name'] and c['name'] not in names]
    rows = []
    for n in names:
        row = [n]
        for d in docs:
            c = next((c for s in d['scenarios'] for c in s['cases']
                      if c['name'] == n), None)
            if c is None or c['status'] == 'missing':
                row.append('missing')
            elif c['status'] == 'skip':
                row.append('SKIP')
            elif c['status'] != 'ok':
                row.append('FAIL')
            elif 'capacity_fraction' in c['facts']:
                row.append(f'fits {c["facts"]["capacity_fraction"]} '
                           f'of memory.max')
            else:
                f = c['facts']
                row.append(f'{f.get("pages_per_fault", "?")} pages/fault, '
                           f'{f.get("ratio_to_anon", "?")}x anon '
                           f'({f.get("ns_per_fault", "?")} ns)')
        rows.append(row)
    out = columns(head, rows)
    out.append('')
    out.append('Times are medians of 7 repetitions under the guest\'s '
               'CLOCK_MONOTONIC; under TCG they are emulated and only the '
               'ratios to the anonymous fault of the same boot carry over.')
    for d in docs:
        b = d['boot'] or {}
        out.append(f'{d["label"]}: {b.get("accel")} boot '
                   f'{b.get("seconds")} s, {b.get("status")}, '
                   f'{d["date"]}, {d["machine"]["cpu"]}, '
                   f'{d["machine"]["cpus"]} cpus')
    return '\n'.join(out)


__all__ = ['Models', 'collect', 'judge', 'save', 'table',
           'terminal_table']
