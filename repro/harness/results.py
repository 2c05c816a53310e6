# SPDX-License-Identifier: GPL-2.0
"""One kernel's results: KTAP -> JSON with verdicts; many -> one table."""

import datetime
import json
import os
import platform

from . import ktap
from .models import Models, same

SELFTEST = 'selftest-'


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
        if name.startswith(SELFTEST) and not s['cases'] and \
                s['status'] != 'missing':
            # A selftest's verdict is its exit status: one case, one fact,
            # so that models.tsv can say where it should fail.
            s['cases'] = [{'name': 'exit', 'status': 'ok', 'diag': [],
                           'facts': {'passed': str(int(s['status'] ==
                                                       'ok'))}}]
        doc['scenarios'].append(s)
    return doc


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


def cell(doc, case, models):
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
    ran = {s['name'] for d in docs for s in d['scenarios']}
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
        where = (f'{b.get("accel", "?")} boot {b.get("seconds", "?")} s, '
                 f'{b.get("status")}') if d['boot'] else 'host'
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
        out.append(f'{d["label"]}: {d["kernel"]}, {where}; {want}'
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
        if d['parse_error']:
            out.append(f'    results unreadable: {d["parse_error"]}')
        if d['boot'] and d['boot']['status'] != 'ok':
            out.append(f'    boot {d["boot"]["status"]}; console '
                       f'{d["boot"]["console"]}:')
            out += ['      | ' + l for l in d['boot']['excerpt']]
    return '\n'.join(out)


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


__all__ = ['Models', 'collect', 'judge', 'save', 'table']
