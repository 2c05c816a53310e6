# SPDX-License-Identifier: GPL-2.0
"""Sphinx extension: render the kit's results snapshot (rfc/results/).

Every measured number in the RFC comes through one of these, so that a
page can be regenerated from a new run and `make check` can tell when a
run no longer agrees with what the pages say (rfc/_ext/kitdata.py):

``.. kit-run::``
   A note naming the run the page was generated from: date, kernels and
   their source, machine, QEMU accelerator.

``.. kit-table:: <scenario>``
   One row per case of the scenario in repro/expect/models.tsv, one
   column per fact the models name; each cell holds the value measured
   on each kernel (``:kernels:``, default the kernels that ran every
   reproducer), and the last column whether each kernel matched its
   model.  ``:cases:`` keeps only the cases named (space-separated).

``.. kit-claim:: <claim>``
   What a claim of the ledger predicts (its rows of rfc/claims.tsv)
   against what each kernel measured, and whether the claim holds on
   each: in full, in part, or not.  ``.. kit-claims::`` is the overview,
   one row per claim.

``.. kit-crashes:: <kernel>``
   For a kernel run one boot per reproducer (outcome 'splats'), how each
   boot ended.

``.. kit-verdicts::``
   Per kernel: version, model, verdict, the models its results match.

``.. kit-selftests::``
   The kernel's own selftests, status per kernel.

``.. kit-chart::``
   An SVG bar chart of the pages allocated per private store over a hole,
   page cache and anonymous, per backend and kernel (``:cases:``).

``.. kit-bench::``
   The benchmark of ``make bench`` (rfc/results/bench.json): one row per
   backend, pages per fault, time against the anonymous fault of the same
   boot, median time and the capacity fraction, each cell one value per
   kernel; and a note naming the run, its machine and what its timings
   are worth under the accelerator it ran with.

``:kit-fact:`<kernel> <case> <fact>```
   One measured value, inline.

``:kit-bench:`<kernel> <case> <fact>```
   One value of the benchmark, inline: ``patched memfd ratio_to_anon``.

``:kit-info:`<key> [<kernel>]```
   One fact about the run: date, source, cpu, cpus, mem, accel,
   host-kernel; version, label, model, verdict, matches of a kernel.

An unknown kernel, case or fact is an error, never an empty cell.
"""

import html
import os
import re
import sys

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from sphinx.util import logging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kitdata  # noqa: E402
from kitdata import fmt  # noqa: E402

logger = logging.getLogger(__name__)

_snapshot = None
_claims = None
_applies = {}
CLAIMS_TSV = os.path.join(kitdata.KIT_ROOT, 'rfc', 'claims.tsv')


def applies(claim):
    """The kernel rows (repro/kernels.tsv names) a claim is about."""
    claims()
    return _applies.get(claim, [])


def about(claim, k):
    """Whether snapshot kernel `k` is one `claim` is about.  A kernel the
    kit built is "<version>-<row>" (7.3-stock); a host or prebuilt kernel
    counts as the model it matched."""
    m = re.match(r'^\d+\.\d+-(.+)$', k)
    if m:
        row = m.group(1)
    else:
        row = next(iter(snap().doc(k).get('matches') or []), k)
    return row in applies(claim)


def claims():
    """rfc/claims.tsv: {claim: [(case, fact, says), ...]}, in file order."""
    global _claims, _applies
    if _claims is None:
        _claims, _applies = {}, {}
        header = None
        for n, line in enumerate(open(CLAIMS_TSV), 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            cols = line.split()
            if header is None:
                header = cols
                continue
            if len(cols) != 4:
                raise KitError(f'{CLAIMS_TSV}:{n}: want 4 columns')
            if cols[1] == 'applies':
                _applies[cols[0]] = cols[2].split(',')
                continue
            _claims.setdefault(cols[0], []).append(tuple(cols[1:]))
    return _claims


def snap():
    global _snapshot
    if _snapshot is None:
        _snapshot = kitdata.Snapshot()
    return _snapshot


class KitError(Exception):
    pass


# ------------------------------------------------------------- helpers

def para(*parts):
    p = nodes.paragraph()
    for x in parts:
        p += nodes.Text(x) if isinstance(x, str) else x
    return p


def lit(text):
    return nodes.literal(text, text)


def table(head, rows, widths=None, classes=()):
    """A docutils table; cells are strings or lists of inline nodes."""
    t = nodes.table(classes=['kit-table'] + list(classes))
    g = nodes.tgroup(cols=len(head))
    t += g
    for w in widths or [1] * len(head):
        g += nodes.colspec(colwidth=w)

    def row(cells):
        r = nodes.row()
        for c in cells:
            e = nodes.entry()
            p = nodes.paragraph()
            if isinstance(c, str):
                p += nodes.Text(c)
            else:
                for n in c:
                    p += n
            e += p
            r += e
        return r

    th = nodes.thead()
    th += row(head)
    g += th
    tb = nodes.tbody()
    for r in rows:
        tb += row(r)
    g += tb
    return t


def kernels_opt(opt, default):
    names = opt.split() if opt else default
    for k in names:
        snap().doc(k)
    return names


def label(k):
    return snap().doc(k)['label']


def short(k):
    """A kernel's column title: its row name in repro/kernels.tsv."""
    return k


def verdict_word(doc, case_name):
    v = kitdata.case_verdict(doc, case_name, snap().models)
    return {'ok': 'ok', 'differs': 'DIFFERS', 'skip': 'skip',
            'crash': 'crash', 'missing': 'missing', 'not ok': 'NOT OK',
            '': '-'}[v]


class KitDirective(Directive):
    """Turns KitError and KeyError into a Sphinx error at the directive."""

    def run(self):
        env = self.state.document.settings.env
        # The extension's own code too: a page is re-read when it changes.
        for f in snap().files() + [snap().models.path, os.path.abspath(
                __file__), kitdata.__file__]:
            env.note_dependency(f)
        try:
            return self.make()
        except (KitError, KeyError) as e:
            msg = e.args[0] if e.args else str(e)
            logger.warning(f'{self.name}: {msg}',
                           location=(env.docname, self.lineno))
            return []


# ----------------------------------------------------------- directives

class KitRun(KitDirective):
    has_content = False

    def make(self):
        s = snap()
        docs = [s.docs[k] for k in s.kernels]
        d0 = docs[0]
        m = d0['machine']
        boot = d0.get('boot') or {}
        dates = sorted({d['date'] for d in docs})
        n = nodes.note()
        n += para('This page is generated from the kit\'s results snapshot ',
                  lit('rfc/results/'), ' of a run on ',
                  dates[0], ': kernels ',
                  ', '.join(f'{d["label"]}' for d in docs),
                  ', built from ', lit(s.index.get('source') or 'unknown'),
                  '; machine ', f'{m["cpu"]}, {m["cpus"]} CPUs, '
                  f'{m["mem_gib"]} GiB, host kernel {m["host_kernel"]}',
                  '; QEMU accelerator ', boot.get('accel', 'none'),
                  '.  ', lit('make repro'), ' and ', lit('make rfc-snapshot'),
                  ' regenerate it; ', lit('make check'),
                  ' fails when a new run measures different facts.')
        return [n]


class KitTable(KitDirective):
    required_arguments = 1
    option_spec = {'kernels': directives.unchanged,
                   'cases': directives.unchanged}

    def make(self):
        s = snap()
        scen = self.arguments[0]
        ks = kernels_opt(self.options.get('kernels'), s.line())
        cases = s.models.cases([scen])
        if not cases:
            raise KitError(f'no case of scenario "{scen}" in models.tsv')
        if 'cases' in self.options:
            want = [f'{scen}/{c}' for c in self.options['cases'].split()]
            unknown = [c for c in want if c not in cases]
            if unknown:
                raise KitError(f'unknown case(s) {", ".join(unknown)}')
            cases = want
        # Columns: the facts of these cases, in models.tsv order.
        facts = []
        for c in cases:
            for r in s.models.rows_for(c):
                if (r['fact'], r['label']) not in facts:
                    facts.append((r['fact'], r['label']))
        head = ['Case'] + [lab for _, lab in facts] + ['Verdict']
        rows = []
        for c in cases:
            have = {r['fact'] for r in s.models.rows_for(c)}
            cells = [[lit(c.split('/', 1)[1])]]
            for f, _ in facts:
                if f not in have:
                    cells.append('')
                    continue
                vals = [fmt(kitdata.fact(s.doc(k), c, f)) for k in ks]
                # No break inside a cell: "1 / 0", never "1 /" and "0".
                text = '\u00a0/\u00a0'.join(vals)
                if len(set(vals)) > 1:
                    cells.append([nodes.strong(text, text)])
                else:
                    cells.append(text)
            cells.append('\u00a0/\u00a0'.join(verdict_word(s.doc(k), c)
                                            for k in ks))
            rows.append(cells)
        legend = para(
            'Each cell: ', ' / '.join(short(k) for k in ks), ' (',
            ', '.join(f'{label(k)}, model {s.doc(k).get("model") or "none"}'
                      for k in ks),
            '); bold where the kernels differ.  Verdict: whether the case '
            'matched the kernel\'s model.  Facts: ',
            '; '.join(f'{lab} = {f}' for f, lab in facts), '.')
        legend['classes'] = ['kit-legend']
        return [table(head, rows, widths=[4] + [1] * len(facts) + [2]),
                legend]


def claim_rows(claim, preds, ks):
    """Cells of a claim's table and, per kernel, how many rows held."""
    s = snap()
    rows, held = [], {k: 0 for k in ks}
    crashed = {k: 0 for k in ks}
    for c, f, v in preds:
        if not s.models.rows_for(c):
            raise KitError(f'{claim}: case {c} is not in models.tsv')
        cells = [[lit(c)], [lit(f)], v]
        for k in ks:
            got = kitdata.fact(s.doc(k), c, f)
            if got in ('missing', 'absent') and \
                    not kitdata.crashed(s.doc(k), c):
                raise KitError(f'{claim}: {k} has no fact {f} for {c}')
            ok = kitdata.same(v, got)
            held[k] += ok
            crashed[k] += got == 'crash'
            # Only a kernel the claim is about is held to it.
            judged = got != 'crash' and about(claim, k)
            cells.append(fmt(got) + ((' (yes)' if ok else ' (no)')
                                     if judged else ''))
        rows.append(cells)

    def word(k):
        if not about(claim, k):
            return 'not about this kernel'
        n = len(preds) - crashed[k]
        if not n:
            return 'not measured: the kernel crashed'
        w = ('as claimed' if held[k] == n else 'not as claimed'
             if not held[k] else f'as claimed for {held[k]} of {n} facts')
        if crashed[k]:
            w += f'; {crashed[k]} not measured: the kernel crashed'
        return w
    return rows, {k: word(k) for k in ks}


class KitClaim(KitDirective):
    required_arguments = 1
    option_spec = {'kernels': directives.unchanged}

    def make(self):
        s = snap()
        claim = self.arguments[0]
        ks = kernels_opt(self.options.get('kernels'), s.line())
        preds = claims().get(claim)
        if not preds:
            raise KitError(f'{claim}: no row in rfc/claims.tsv')
        self.state.document.settings.env.note_dependency(CLAIMS_TSV)
        rows, words = claim_rows(claim, preds, ks)
        verdict = para(nodes.strong('Measured: ', 'Measured: '),
                       '; '.join(f'{label(k)}: {words[k]}' for k in ks),
                       '.  "(yes)" marks a value the claim predicted.')
        return [verdict,
                table(['Case', 'Fact', claim + ' says'] +
                      [short(k) for k in ks], rows,
                      widths=[5, 4, 2] + [2] * len(ks))]


class KitClaims(KitDirective):
    """One row per claim of rfc/claims.tsv: whether it holds, per kernel."""
    option_spec = {'kernels': directives.unchanged}

    def make(self):
        s = snap()
        ks = kernels_opt(self.options.get('kernels'), s.line())
        self.state.document.settings.env.note_dependency(CLAIMS_TSV)
        rows = []
        for claim, preds in claims().items():
            _, words = claim_rows(claim, preds, ks)
            rows.append([claim, str(len(preds))] + [words[k] for k in ks])
        return [table(['Claim', 'Predictions'] + [short(k) for k in ks], rows,
                      widths=[1, 1] + [3] * len(ks))]


class KitCrashes(KitDirective):
    required_arguments = 1

    def make(self):
        s = snap()
        k = self.arguments[0]
        doc = s.doc(k)
        if doc.get('outcome') != 'splats':
            raise KitError(f'{k} was not run one boot per reproducer')
        rows = []
        for sc in doc['scenarios']:
            splat = sc.get('splat')
            rip = (sc.get('rip') or '').replace('RIP: 0010:', '')
            done = sum(1 for c in sc['cases'] if c['status'] == 'ok')
            rows.append([[lit(sc['name'])], sc.get('boot_status', '?'),
                         splat or 'none', [lit(rip)] if rip else '-',
                         f'{done} of {sc.get("plan") or len(sc["cases"])}'])
        return [table(['Reproducer', 'Boot', 'First splat', 'RIP',
                       'Cases completed'], rows, widths=[5, 2, 6, 4, 2])]


class KitVerdicts(KitDirective):
    option_spec = {'host': directives.flag}

    def make(self):
        s = snap()
        rows = []
        for k in s.kernels:
            d = s.docs[k]
            rows.append([[lit(k)], d['label'], d.get('model') or '-',
                         d.get('outcome', 'runs'), d['verdict'],
                         ', '.join(d.get('matches') or []) or 'none'])
        if 'host' in self.options:
            for h, d in s.host.items():
                rows.append([[lit('host')], d['label'], '-', 'runs',
                             d['verdict'],
                             ', '.join(d.get('matches') or []) or 'none'])
        return [table(['Kernel', 'Label', 'Model', 'Outcome', 'Verdict',
                       'Matches'], rows, widths=[2, 4, 2, 2, 1, 2])]


class KitSelftests(KitDirective):

    def make(self):
        s = snap()
        ks = s.running()
        names = [sc['name'] for sc in s.docs[ks[0]]['scenarios']
                 if sc['name'].startswith(kitdata.SELFTEST)]
        if not names:
            raise KitError('the snapshot has no kernel selftests')
        rows = []
        for n in names:
            st = []
            for k in ks:
                sc = kitdata.scenario(s.docs[k], n)
                st.append(sc['status'] if sc else 'missing')
            rows.append([[lit(n[len(kitdata.SELFTEST):])]] + st)
        return [table(['Selftest'] + [short(k) for k in ks], rows)]


# ---------------------------------------------------------------- bench

# Columns of kit-bench: (fact, title, bold where the kernels differ).
CAPACITY = 'capacity-'


def spread_text(sp, digits=0):
    """"median [min-max]" of a fact across boots, or the median alone when
    all boots agreed."""
    f = f'{{:.{digits}f}}'
    med, lo, hi = (f.format(sp[k]) for k in ('median', 'min', 'max'))
    return med if lo == hi else f'{med} [{lo}-{hi}]'


def bench_value(doc, case, fact, mode='icount', digits=0):
    """A bench fact as the table prints it: the spread across boots when
    the run has one (make bench now), else the single value (older runs)."""
    c = kitdata.bench_case(doc, case)
    if c is None:
        return ''
    if c['status'] == 'skip':
        return 'skipped'
    sp = (c.get('spread') or {}).get(fact, {}).get(mode)
    if sp:
        return spread_text(sp, digits)
    v = c.get('facts', {}).get(fact)
    return '' if v is None else fmt(v)


def bench_note(docs):
    """The run behind the bench table, and what its numbers are worth."""
    d0 = docs[0]
    m = d0['machine']
    dates = sorted({d['date'] for d in docs})
    boots = d0.get('boots') or {}
    n = nodes.note()
    when = dates[0] if len(dates) == 1 else f'{dates[0]} to {dates[-1]}'
    if boots:
        how = (f'each kernel booted {len(boots.get("icount", []))} times '
               'under QEMU -icount shift=0 (one vCPU; the guest\'s clock '
               'counts its instructions, so the figures are guest '
               'instructions and do not move with the host\'s load) and '
               f'{len(boots.get("wall", []))} times in plain TCG time; each '
               'cell is the median across boots of each boot\'s median '
               'over its repetitions, with the range [min-max] across boots')
    else:
        how = ('one boot per kernel under TCG: the times are emulated and '
               'only the ratios to the anonymous fault of the same boot '
               'carry over')
    files = sorted({os.path.relpath(snap().bench_files[kitdata.kernel_name(d)],
                                    kitdata.KIT_ROOT) for d in docs})
    n += para('From ', lit('make bench'), ' (', lit(', '.join(files)),
              ') run on ', when, ': kernels ',
              ', '.join(d['label'] for d in docs), '; machine ',
              f'{m["cpu"]}, {m["cpus"]} CPUs; ', how, '.')
    return n


class KitBench(KitDirective):
    """The benchmark: per case and kernel, instructions per fault, the
    ratio to the anonymous fault (icount, and wall-clock), pages per
    fault; capacity."""
    option_spec = {'kernels': directives.unchanged}

    def make(self):
        s = snap()
        if not s.bench:
            raise KitError('no bench.json in the snapshot: "make bench" '
                           'and "make rfc-snapshot"')
        ks = self.options.get('kernels', '').split() or list(s.bench)
        docs = [s.bench_doc(k) for k in ks]
        names = []
        for d in docs:
            for sc in d['scenarios']:
                for c in sc['cases']:
                    if c['name'] and c['name'] not in names:
                        names.append(c['name'])
        rows = []
        for n in names:
            if n.startswith(CAPACITY):
                cells = [[lit(n)], '', '', '',
                         ' / '.join(bench_value(d, n, 'capacity_fraction',
                                                digits=2) for d in docs)]
                rows.append(cells)
                continue
            ratio = ('ratio_to_hugetlb_shared' if n.startswith('hugetlbfs')
                     else 'ratio_to_anon')
            cells = [[lit(n)],
                     ' / '.join(bench_value(d, n, 'ns_per_fault')
                                for d in docs),
                     ' / '.join(bench_value(d, n, ratio, digits=2)
                                for d in docs),
                     ' / '.join(bench_value(d, n, ratio, 'wall', 2)
                                for d in docs),
                     ' / '.join(bench_value(d, n, 'pages_per_fault',
                                            digits=2) for d in docs)]
            rows.append(cells)
        legend = para(
            'Each cell: ', ' / '.join(ks), '.  A fault is the first store '
            'to a page of a ', lit('MAP_PRIVATE'), ' mapping over a hole, '
            'unless the case says otherwise: ', lit('-shared'), ' a ',
            lit('MAP_SHARED'), ' one, ', lit('-cached'), ' over a page the '
            'page cache holds, ', lit('-read-then-write'), ' a load then a '
            'store (both faults, per page).  The ratio of the hugetlbfs '
            'cases is against a shared hugetlbfs fault, the others\' '
            'against an anonymous fault of the same boot.  Capacity is '
            'the largest private working set, as a fraction of a memory '
            'cgroup\'s ', lit('memory.max'), ', that completes without an '
            'OOM kill.')
        legend['classes'] = ['kit-legend']
        return [bench_note(docs),
                table(['Case', 'Instructions per fault', 'Against anon '
                       '(icount)', 'Against anon (wall)', 'Pages per fault',
                       ], rows, widths=[4, 4, 3, 3, 2],
                      classes=['kit-bench']),
                legend]


class KitProfile(KitDirective):
    """Where a fault's instructions go: the kernel functions /proc/profile
    sampled during the memfd (hole) and anon phases of make bench."""
    option_spec = {'kernel': directives.unchanged,
                   'top': directives.unchanged}

    def make(self):
        s = snap()
        k = self.options.get('kernel') or list(s.bench)[-1]
        prof = s.bench_doc(k).get('profile') or {}
        if 'memfd' not in prof or 'anon' not in prof:
            raise KitError(f'bench {k}: no profile of the memfd and anon '
                           f'cases')
        top = int(self.options.get('top') or 15)
        tot = {c: sum(n for _, n in prof[c]) or 1 for c in ('memfd', 'anon')}
        share = {c: {fn: n / tot[c] for fn, n in prof[c]}
                 for c in ('memfd', 'anon')}
        fns = sorted(set(share['memfd']) | set(share['anon']),
                     key=lambda f: -(share['memfd'].get(f, 0) -
                                     share['anon'].get(f, 0)))[:top]
        rows = [[lit(f), f'{100 * share["memfd"].get(f, 0):.1f}',
                 f'{100 * share["anon"].get(f, 0):.1f}'] for f in fns]
        return [para(f'Kernel {s.bench_doc(k)["label"]}: per cent of the '
                     f'profile samples of each phase ({tot["memfd"]} and '
                     f'{tot["anon"]} samples), functions sorted by how much '
                     f'more of the hole fault they take than of the '
                     f'anonymous fault.'),
                table(['Function', 'Hole fault, %', 'Anonymous fault, %'],
                      rows, widths=[5, 2, 2])]


# ---------------------------------------------------------------- chart

def svg_chart(groups, kernels, title):
    """Grouped stacked bars: groups of (name, {kernel: (pc, anon)})."""
    bar, gap, ggap, left, top, unit = 46, 8, 36, 70, 40, 90
    ymax = max(pc + an for _, vals in groups for pc, an in vals.values())
    ymax = max(1, int(ymax + 0.999))
    gw = len(kernels) * (bar + gap) - gap
    width = left + len(groups) * (gw + ggap) + 210
    height = top + ymax * unit + 70
    base = top + ymax * unit
    colors = {'pc': '#c0504d', 'anon': '#4f81bd'}
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
         f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
         f'style="max-width: 100%; height: auto" '
         f'font-family="sans-serif" font-size="14">',
         f'<title>{html.escape(title)}</title>']
    for y in range(ymax + 1):
        py = base - y * unit
        o.append(f'<line x1="{left - 5}" y1="{py}" x2="{width - 210}" '
                 f'y2="{py}" stroke="#ccc"/>')
        o.append(f'<text x="{left - 10}" y="{py + 4}" '
                 f'text-anchor="end">{y}</text>')
    o.append(f'<text x="14" y="{top + ymax * unit / 2}" text-anchor="middle" '
             f'transform="rotate(-90 14 {top + ymax * unit / 2})">'
             f'pages per store</text>')
    x = left
    for name, vals in groups:
        for i, k in enumerate(kernels):
            pc, an = vals[k]
            bx = x + i * (bar + gap)
            h_an, h_pc = an * unit, pc * unit
            o.append(f'<rect x="{bx}" y="{base - h_an}" width="{bar}" '
                     f'height="{h_an}" fill="{colors["anon"]}">'
                     f'<title>{html.escape(k)} {html.escape(name)}: '
                     f'anonymous {fmt(an)}</title></rect>')
            if h_pc:
                o.append(f'<rect x="{bx}" y="{base - h_an - h_pc}" '
                         f'width="{bar}" height="{h_pc}" '
                         f'fill="{colors["pc"]}"><title>{html.escape(k)} '
                         f'{html.escape(name)}: page cache {fmt(pc)}'
                         f'</title></rect>')
            o.append(f'<text x="{bx + bar / 2}" y="{base - h_an - h_pc - 5}" '
                     f'text-anchor="middle">{fmt(pc + an)}</text>')
            # "7.3-stock" -> "stock": the caption names the version.
            short_k = k.split('-', 1)[1] if re.match(r'^\d+\.\d+-', k) \
                else k
            o.append(f'<text x="{bx + bar / 2}" y="{base + 14}" '
                     f'text-anchor="middle" font-size="10">'
                     f'{html.escape(short_k)}</text>')
        o.append(f'<text x="{x + gw / 2}" y="{base + 32}" '
                 f'text-anchor="middle" font-weight="bold">'
                 f'{html.escape(name)}</text>')
        x += gw + ggap
    lx = width - 195
    for i, (key, text) in enumerate((('pc', 'page-cache page'),
                                     ('anon', 'anonymous (COW) page'))):
        ly = top + i * 22
        o.append(f'<rect x="{lx}" y="{ly}" width="14" height="14" '
                 f'fill="{colors[key]}"/>')
        o.append(f'<text x="{lx + 20}" y="{ly + 11}">{text}</text>')
    o.append('</svg>')
    return '\n'.join(o)


class KitChart(KitDirective):
    option_spec = {'cases': directives.unchanged_required,
                   'kernels': directives.unchanged,
                   'caption': directives.unchanged}

    def make(self):
        s = snap()
        ks = kernels_opt(self.options.get('kernels'), s.line())
        groups = []
        for c in self.options['cases'].split():
            vals = {}
            for k in ks:
                pc = kitdata.fact(s.doc(k), c, 'pc_per_write')
                an = kitdata.fact(s.doc(k), c, 'anon_per_write')
                try:
                    vals[k] = (float(pc), float(an))
                except ValueError:
                    raise KitError(f'{k} {c}: no pc_per_write/anon_per_write '
                                   f'({pc}, {an})')
            name = c.split('/', 1)[1]
            for p in ('store-', 'populate-write-', 'map-populate-'):
                name = name[len(p):] if name.startswith(p) else name
            groups.append((name, vals))
        caption = self.options.get('caption', 'Pages allocated per private '
                                   'store over a hole')
        svg = svg_chart(groups, ks, caption)
        fig = nodes.container(classes=['kit-chart'])
        fig += nodes.raw('', f'<div class="kit-chart-svg">{svg}</div>',
                         format='html')
        fig += para(caption + ', from ', lit('private-write-hole'), ' (',
                    ', '.join(label(k) for k in ks), '; ',
                    'a bar per kernel, in that order).')
        return [fig]


def svg_hbars(rows, title, unit_label):
    """Horizontal bars: rows of (label, value, colour); one scale."""
    bar, gap, left, top, scale_w = 22, 10, 230, 10, 360
    vmax = max(v for _, v, _ in rows) or 1
    width = left + scale_w + 90
    height = top + len(rows) * (bar + gap) + 30
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
         f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
         f'style="max-width: 100%; height: auto" '
         f'font-family="sans-serif" font-size="13">',
         f'<title>{html.escape(title)}</title>']
    for i, (lab, v, colour) in enumerate(rows):
        y = top + i * (bar + gap)
        w = scale_w * v / vmax
        o.append(f'<text x="{left - 8}" y="{y + bar * 0.7}" '
                 f'text-anchor="end">{html.escape(lab)}</text>')
        o.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar}" '
                 f'fill="{colour}"/>')
        o.append(f'<text x="{left + w + 6:.1f}" y="{y + bar * 0.7}">'
                 f'{fmt(v)}</text>')
    o.append(f'<text x="{left}" y="{height - 8}" font-size="11">'
             f'{html.escape(unit_label)}</text>')
    o.append('</svg>')
    return '\n'.join(o)


class KitBars(KitDirective):
    """One fact of one case, a bar per kernel: ``.. kit-bars:: <case>
    <fact>`` with ``:kernels:``, ``:unit:`` and ``:caption:``."""
    required_arguments = 2
    option_spec = {'kernels': directives.unchanged,
                   'unit': directives.unchanged,
                   'caption': directives.unchanged}

    def make(self):
        s = snap()
        case, fact = self.arguments
        ks = kernels_opt(self.options.get('kernels'), s.line())
        colours = ('#c0504d', '#4f81bd', '#9bbb59', '#8064a2')
        rows = []
        for i, k in enumerate(ks):
            v = kitdata.fact(s.doc(k), case, fact)
            try:
                rows.append((label(k), float(v), colours[i % len(colours)]))
            except ValueError:
                raise KitError(f'{k} {case} {fact}: {v}')
        caption = self.options.get('caption', f'{case} {fact}')
        fig = nodes.container(classes=['kit-chart'])
        fig += nodes.raw('', '<div class="kit-chart-svg">' +
                         svg_hbars(rows, caption,
                                   self.options.get('unit', fact)) +
                         '</div>', format='html')
        fig += para(caption, ' (', lit(f'{case}'), ', ', lit(fact), ').')
        return [fig]


# ---------------------------------------------------------------- roles

def role_error(inliner, lineno, rawtext, msg):
    m = inliner.reporter.warning(msg, line=lineno)
    p = inliner.problematic(rawtext, rawtext, m)
    return [p], [m]


def kit_fact_role(name, rawtext, text, lineno, inliner, options={},
                  content=[]):
    parts = text.split()
    if len(parts) != 3:
        return role_error(inliner, lineno, rawtext,
                          f'kit-fact: want "<kernel> <case> <fact>", got '
                          f'"{text}"')
    k, c, f = parts
    try:
        doc = snap().doc(k)
    except KeyError as e:
        return role_error(inliner, lineno, rawtext, f'kit-fact: {e.args[0]}')
    v = kitdata.fact(doc, c, f)
    if v in ('missing', 'absent', 'skip', 'crash'):
        return role_error(inliner, lineno, rawtext,
                          f'kit-fact: {k} {c} {f}: {v}')
    inliner.document.settings.env.note_dependency(
        os.path.join(snap().dir, k + '.json'))
    return [nodes.inline(rawtext, fmt(v), classes=['kit-fact'])], []


def kit_bench_role(name, rawtext, text, lineno, inliner, options={},
                   content=[]):
    parts = text.split()
    if len(parts) != 3:
        return role_error(inliner, lineno, rawtext,
                          f'kit-bench: want "<kernel> <case> <fact>", got '
                          f'"{text}"')
    k, c, f = parts
    try:
        doc = snap().bench_doc(k)
    except KeyError as e:
        return role_error(inliner, lineno, rawtext, f'kit-bench: {e.args[0]}')
    v = kitdata.bench_fact(doc, c, f)
    try:
        float(v)
    except ValueError:
        return role_error(inliner, lineno, rawtext,
                          f'kit-bench: {k} {c} {f}: {v}')
    inliner.document.settings.env.note_dependency(snap().bench_files[k])
    return [nodes.inline(rawtext, fmt(v), classes=['kit-fact'])], []


class KitVcpus(KitDirective):
    """rfc/results/vcpus.json: the race scenarios at several vCPU counts."""
    has_content = False

    def make(self):
        path = os.path.join(snap().dir, 'vcpus.json')
        if not os.path.exists(path):
            raise KitError('no rfc/results/vcpus.json: run the race '
                           'scenarios with VCPUS=2, 4, 8 and "snapshot.py '
                           'vcpus"')
        self.state.document.settings.env.note_dependency(path)
        runs = kitdata.load_json(path)['runs']
        rows = []
        for r in runs:
            p, st = r['pair'], r['stress']
            rows.append([r['label'], str(r['vcpus']), str(r['cpus_online']),
                         p.get('pair_iterations', '-'),
                         p.get('pair_per_second', '-'),
                         p.get('pair_beyond_eof_hits', '-'),
                         st.get('private_faults', '-'),
                         st.get('seconds', '-'),
                         st.get('beyond_eof_hits', '-')])
        m = runs[0]['machine'] if runs else {}
        dates = sorted({r['date'] for r in runs})
        note = para(f'Runs of {dates[0] if dates else ""}'
                    f'{" to " + dates[-1] if len(dates) > 1 else ""}, on '
                    f'{m.get("cpu", "?")}, {m.get("cpus", "?")} host CPUs, '
                    'one guest at a time; the pair race ran 10 s with no cap '
                    'on hits (GUEST_ENV="KIT_PAIR_MAX_HITS=1000000 '
                    'KIT_PAIR_SECONDS=10").')
        return [note, table(['kernel', 'vCPUs', 'online', 'pair races',
                             'races/s', 'pair hits', 'stress faults',
                             'stress s', 'stress hits'], rows)]


class KitLitmus(KitDirective):
    """rfc/results/litmus.json: make litmus, the tests of repro/litmus/
    against the Linux kernel memory model."""
    has_content = False

    def make(self):
        path = os.path.join(snap().dir, kitdata.LITMUS)
        if not os.path.exists(path):
            raise KitError(f'no rfc/results/{kitdata.LITMUS}: run "make '
                           f'litmus", then "make rfc-snapshot"')
        self.state.document.settings.env.note_dependency(path)
        doc = kitdata.load_json(path)
        rows = [[t['name'] + '.litmus', t['expected'] or '-',
                 t['observed'] or '-',
                 ('-' if t['positive'] is None else
                  f'{t["positive"]} of {t["positive"] + t["negative"]}'),
                 'ok' if t['ok'] else 'FAIL'] for t in doc['tests']]
        note = para(f'herd7 ({", ".join(doc["herdtools7"])}) with '
                    f'tools/memory-model/linux-kernel.cfg of '
                    f'{doc["source"]["version"]} '
                    f'({doc["source"]["id"]}), through the tree\'s '
                    f'scripts/checklitmus.sh.')
        return [note, table(['test', 'stated', 'LKMM', 'states in exists',
                             'check'], rows)]


def selftest_line(s, a, b):
    """How the tree's own mm selftests compare on two kernels, the series'
    own test (the last of the list, added by the series) left out."""
    own = 'selftest-shmem-private-cow'
    st = {}
    for k in (a, b):
        for sc in s.doc(k)['scenarios']:
            if sc['name'].startswith(kitdata.SELFTEST) and sc['name'] != own:
                st.setdefault(sc['name'], {})[k] = sc['status']
    if not st:
        raise KeyError(f'no selftests on {a} and {b}')
    same = [n for n, v in st.items() if len(v) == 2 and v[a] == v[b]]
    passed = [n for n in same if st[n][a] == 'ok']
    return (f'{len(same)} of the tree\'s {len(st)} mm selftests the kit '
            f'runs give the same result on both, {len(passed)} pass')


def races_line(s, k):
    """The two-CPU pair race of stress-truncate-race on kernel `k`."""
    d = s.doc(k)
    c = kitdata.case(d, 'stress-truncate-race/pair')
    if c is None or c['status'] == 'skip':
        raise KeyError(f'{k}: no stress-truncate-race/pair result')
    f = c['facts']
    hits = int(f['pair_beyond_eof_hits'])
    return (f'{hits} page{"s" * (hits != 1)} beyond EOF in '
            f'{f["pair_iterations"]} races of a store against ftruncate() '
            f'on CPUs {f["pair_cpus"]}, kernel {d["label"]}')


def crashes_line(s, k):
    d = s.doc(k)
    crashed = [sc for sc in d['scenarios'] if sc.get('splat')]
    if not crashed:
        raise KeyError(f'{k}: no reproducer crashed')
    where = sorted({re.sub(r'^RIP: \S+:', '', sc.get('rip') or '?')
                    .split('+')[0] for sc in crashed})
    return (f'"{crashed[0]["splat"]}" in {", ".join(where)}, in '
            f'{len(crashed)} of {len(d["scenarios"])} reproducers')


def kit_bench_delta_role(name, rawtext, text, lineno, inliner, options={},
                         content=[]):
    """`<case> [<kernel> <kernel>]`: instructions per fault of the second
    kernel minus the first (default patched - stock), as "+4 (+1 to +7)":
    the difference of the medians across boots, and the widest difference
    the boots' ranges allow."""
    parts = text.split()
    case = parts[0]
    a, b = (parts[1], parts[2]) if len(parts) == 3 else ('stock', 'patched')
    try:
        sa = kitdata.bench_case(snap().bench_doc(a), case)['spread'][
            'ns_per_fault']['icount']
        sb = kitdata.bench_case(snap().bench_doc(b), case)['spread'][
            'ns_per_fault']['icount']
    except (KeyError, TypeError) as e:
        return role_error(inliner, lineno, rawtext,
                          f'kit-bench-delta: {text}: no spread ({e})')
    d = sb['median'] - sa['median']
    lo, hi = sb['min'] - sa['max'], sb['max'] - sa['min']
    v = f'{d:+.0f} ({lo:+.0f} to {hi:+.0f})'
    return [nodes.inline(rawtext, v, classes=['kit-fact'])], []


def kit_info_role(name, rawtext, text, lineno, inliner, options={},
                  content=[]):
    s = snap()
    parts = text.split()
    key, args = parts[0], parts[1:]
    arg = args[0] if args else None
    try:
        d0 = s.docs[s.kernels[0]]
        m = d0['machine']
        run = {'date': d0['date'],
               'source': ', '.join(f'{p} {v}' for p, v in
                                   sorted(s.index.get('sources', {}).items())),
               'cpu': m['cpu'], 'cpus': str(m['cpus']),
               'mem': f'{m["mem_gib"]} GiB', 'host-kernel': m['host_kernel'],
               'accel': (d0.get('boot') or {}).get('accel')}
        if key in run and arg is None:
            v = run[key]
        elif key == 'selftests-same' and len(args) == 2:
            v = selftest_line(s, *args)
        elif key == 'races' and arg:
            v = races_line(s, arg)
        elif key == 'crashes' and arg:
            v = crashes_line(s, arg)
        elif key == 'standalone' and arg:
            c = kitdata.case(s.doc(arg), 'standalone/memfd')
            if not c or not c.get('facts'):
                raise KeyError(f'{arg}: no standalone/memfd result')
            f = c['facts']
            v = ' '.join(f'{k}={f[k]}' for k in
                         ('pc_per_store', 'file_zero', 'missing', 'verdict')
                         if k in f)
        elif arg is not None and key in ('version', 'label', 'model',
                                         'verdict', 'matches', 'pkgver',
                                         'vcpus'):
            d = s.doc(arg)
            v = {'version': d['kernel'], 'label': d['label'],
                 'model': d.get('model') or 'none', 'verdict': d['verdict'],
                 'matches': ', '.join(d.get('matches') or []) or 'none',
                 'pkgver': (d.get('source') or {}).get('version') or 'none',
                 'vcpus': str((d.get('boot') or {}).get('cpus_online'))
                 }[key]
        else:
            raise KeyError(f'unknown key "{text}"')
    except KeyError as e:
        return role_error(inliner, lineno, rawtext, f'kit-info: {e.args[0]}')
    return [nodes.inline(rawtext, str(v), classes=['kit-info'])], []


def setup(app):
    app.add_directive('kit-run', KitRun)
    app.add_directive('kit-table', KitTable)
    app.add_directive('kit-claim', KitClaim)
    app.add_directive('kit-claims', KitClaims)
    app.add_directive('kit-crashes', KitCrashes)
    app.add_directive('kit-verdicts', KitVerdicts)
    app.add_directive('kit-selftests', KitSelftests)
    app.add_directive('kit-chart', KitChart)
    app.add_directive('kit-bench', KitBench)
    app.add_directive('kit-vcpus', KitVcpus)
    app.add_directive('kit-litmus', KitLitmus)
    app.add_directive('kit-bars', KitBars)
    app.add_directive('kit-profile', KitProfile)
    app.add_role('kit-fact', kit_fact_role)
    app.add_role('kit-bench', kit_bench_role)
    app.add_role('kit-info', kit_info_role)
    app.add_role('kit-bench-delta', kit_bench_delta_role)
    return {'version': '1', 'parallel_read_safe': True,
            'parallel_write_safe': True}
