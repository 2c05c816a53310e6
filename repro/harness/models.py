# SPDX-License-Identifier: GPL-2.0
"""Behaviour models (repro/expect/models.tsv) and verdicts against them."""

import os

from .util import KIT_ROOT, KitError, table_rows

MODELS_TSV = os.path.join(KIT_ROOT, 'repro', 'expect', 'models.tsv')
FIXED = ('case', 'fact')
TRAILING = ('label', 'claims')


class Models:
    def __init__(self, path=MODELS_TSV):
        self.path = path
        self.rows = []
        header = None
        for lineno, cols in table_rows(path):
            if header is None:
                if tuple(cols[:2]) != FIXED or tuple(cols[-2:]) != TRAILING:
                    raise KitError(f'{path}:{lineno}: header must be '
                                   f'"case fact <models...> label claims"')
                header = cols
                self.names = cols[2:-2]
                continue
            if len(cols) != len(header):
                raise KitError(f'{path}:{lineno}: {len(cols)} columns, '
                               f'header has {len(header)}')
            row = dict(zip(header, cols))
            row['claims'] = row['claims'].split(',')
            self.rows.append(row)

    def cases(self, scenarios=None):
        """Cases in file order; only those of `scenarios` when given."""
        seen = []
        for r in self.rows:
            if scenarios is not None and \
                    r['case'].split('/')[0] not in scenarios:
                continue
            if r['case'] not in seen:
                seen.append(r['case'])
        return seen

    def rows_for(self, case):
        return [r for r in self.rows if r['case'] == case]

    def check(self, model, cases, scenarios=None):
        """Compare measured cases ({'scen/case': case dict}) with a model.

        Returns a list of (case, fact, expected, measured) that differ; a
        case that did not run or failed differs in every fact.  A skipped
        case is not judged: the kernel lacks what it needs (a per-size THP
        control before 6.11, a cgroup v2 memory controller, a privilege),
        and the table shows it as SKIP with the reproducer's reason.
        """
        return self._compare(model, cases, scenarios)[0]

    def _compare(self, model, cases, scenarios):
        if model not in self.names:
            raise KitError(f'model "{model}" is not a column of '
                           f'{os.path.relpath(self.path, KIT_ROOT)} '
                           f'({", ".join(self.names)})')
        diffs, judged = [], 0
        for r in self.rows:
            if scenarios is not None and \
                    r['case'].split('/')[0] not in scenarios:
                continue
            want = r[model]
            if want == '-':
                continue
            c = cases.get(r['case'])
            if c is None or c['status'] in ('missing', None):
                got = 'missing'
            elif c['status'] == 'skip':
                continue
            else:
                got = c['facts'].get(r['fact'], 'absent')
            judged += 1
            if not same(want, got):
                diffs.append((r['case'], r['fact'], want, got))
        return diffs, judged

    def classify(self, cases, scenarios=None):
        """Names of the models that every judged fact of `cases` agrees
        with; a model none of whose rows could be judged matches nothing."""
        matches = []
        for m in self.names:
            diffs, judged = self._compare(m, cases, scenarios)
            if judged and not diffs:
                matches.append(m)
        return matches


def same(want, got):
    try:
        return abs(float(want) - float(got)) < 0.005
    except ValueError:
        return want == got
