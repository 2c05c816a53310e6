# SPDX-License-Identifier: GPL-2.0
"""Unit tests of the KTAP parser, the models and the verdicts.

Golden logs live in tests/golden/: runner output as the guest produces it,
including a timeout, a signal and a guest that died mid-scenario.
"""

import copy
import json
import os
import tempfile
import unittest
from unittest import mock

from repro.harness import ktap, results
from repro.harness.models import Models

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'golden')
# Judged documents of real runs (7.3, and a 6.18 host), kept as they were:
# the table's layout is tested on them, not on whatever the snapshot holds.
RESULTS = os.path.join(GOLDEN, 'docs')

PASS = """KTAP version 1
1..2
    KTAP version 1
    1..1
    # kernel 6.1.192
    # fact: pc_per_write=1.00
    # fact: anon_per_write=1.00
    ok 1 memfd
# a: 0.10 s
ok 1 a
    KTAP version 1
    1..2
    # fact: events=1
    ok 1 private # SKIP no userfaultfd
    # fact: events=0
    not ok 2 shared
# b: 0.10 s
not ok 2 b
"""

MODELS = """# test models
case    fact            old  new  label  claims
a/memfd pc_per_write    1    0    pc/w   C1,C2
a/memfd anon_per_write  1    1    anon/w C1
b/shared events         -    0    ev     C3
"""


def golden(name):
    with open(os.path.join(GOLDEN, name)) as f:
        return f.read()


class TestKtap(unittest.TestCase):
    def test_cases_and_facts(self):
        r = ktap.parse(PASS)
        self.assertEqual(r['plan'], 2)
        a, b = r['scenarios']
        self.assertEqual((a['name'], a['status']), ('a', 'ok'))
        self.assertEqual(a['cases'][0]['facts'],
                         {'pc_per_write': '1.00', 'anon_per_write': '1.00'})
        self.assertEqual(a['cases'][0]['diag'], ['kernel 6.1.192'])
        self.assertEqual(b['cases'][0]['status'], 'skip')
        self.assertEqual(b['cases'][0]['skip_reason'], 'no userfaultfd')
        self.assertEqual(b['cases'][1]['facts'], {'events': '0'})
        self.assertEqual(b['status'], 'not ok')

    def test_facts_belong_to_next_result(self):
        b = ktap.parse(PASS)['scenarios'][1]
        self.assertEqual(b['cases'][0]['facts'], {'events': '1'})

    def test_truncated_guest_output(self):
        r = ktap.parse(golden('truncated/crash-mid-scenario.ktap'))
        self.assertEqual(r['plan'], 3)
        self.assertEqual(len(r['scenarios']), 2)
        dead = r['scenarios'][1]
        self.assertEqual(dead['status'], 'missing')
        self.assertEqual(dead['cases'][0]['status'], 'missing')

    def test_runner_timeout_and_signal(self):
        r = ktap.parse(golden('runner-timeout-signal.ktap'))
        hang, seg = r['scenarios']
        self.assertEqual([c['status'] for c in hang['cases']],
                         ['ok', 'not ok', 'not ok'])
        self.assertIn('hang: timed out after 1 s, killed', hang['diag'])
        self.assertEqual(seg['status'], 'not ok')
        self.assertIn('seg: killed by signal 11 (Segmentation fault)',
                      seg['diag'])

    def test_rejects_non_ktap(self):
        with self.assertRaises(ktap.ParseError):
            ktap.parse('Booting the kernel\n')
        with self.assertRaises(ktap.ParseError):
            ktap.parse('KTAP version 1\nok 1 x\n')


class TestModels(unittest.TestCase):
    def setUp(self):
        fd, self.path = tempfile.mkstemp()
        with os.fdopen(fd, 'w') as f:
            f.write(MODELS)
        self.m = Models(self.path)

    def tearDown(self):
        os.unlink(self.path)

    def doc(self, text, model):
        d = results.collect('k', '6.1', model, text, ['a', 'b'])
        return results.judge(d, self.m)

    def test_names_and_rows(self):
        self.assertEqual(self.m.names, ['old', 'new'])
        self.assertEqual(self.m.cases(), ['a/memfd', 'b/shared'])

    def test_match_and_mismatch(self):
        d = self.doc(PASS, 'old')
        # b/shared failed, so b/shared is listed even though 'old' is '-'.
        self.assertEqual(d['diffs'], [])
        self.assertIn('b/shared', d['failed'])
        self.assertEqual(d['verdict'], 'FAIL')
        d = self.doc(PASS, 'new')
        self.assertEqual(d['diffs'][0][:4],
                         ['a/memfd', 'pc_per_write', '0', '1.00'])

    def test_numeric_comparison(self):
        text = PASS.replace('not ok 2 shared', 'ok 2 shared') \
            .replace('not ok 2 b', 'ok 2 b')
        d = self.doc(text, 'old')
        self.assertEqual(d['verdict'], 'ok')
        self.assertEqual(d['matches'], ['old'])

    def test_missing_scenario_is_named(self):
        names = ['private-write-hole', 'uffd-missing', 'uffd-copy-isolation']
        d = results.collect('k', '6.1', 'old',
                            golden('truncated/crash-mid-scenario.ktap'),
                            names)
        results.judge(d, self.m)
        self.assertEqual([s['name'] for s in d['scenarios']], names)
        self.assertEqual([s['status'] for s in d['scenarios']],
                         ['ok', 'missing', 'missing'])
        self.assertEqual(d['verdict'], 'FAIL')

    def test_skip_is_not_judged(self):
        text = PASS.replace('ok 1 memfd', 'ok 1 memfd # SKIP no memfd') \
            .replace('not ok 2 shared', 'ok 2 shared')
        d = self.doc(text, 'old')
        self.assertEqual(d['diffs'], [])
        # b/shared is judged by 'new' only: 'old' predicts nothing there.
        self.assertEqual(d['matches'], ['new'])

    def test_unknown_model(self):
        from repro.harness.util import KitError
        with self.assertRaises(KitError):
            self.m.check('nonesuch', {})

    def test_table_mentions_every_kernel(self):
        text = results.table([self.doc(PASS, 'old'), self.doc(PASS, 'new')],
                             self.m)
        self.assertIn('pc/w:1 anon/w:1 ok', text)
        self.assertIn('pc/w:1 anon/w:1 MISMATCH', text)
        self.assertIn('a/memfd pc_per_write: expected 0, measured 1.00', text)


class TestRealModels(unittest.TestCase):
    def test_repo_models_parse(self):
        m = Models()
        self.assertIn('stock', m.names)
        self.assertIn('proposed', m.names)
        for r in m.rows:
            self.assertRegex(r['case'], r'^[a-z0-9-]+/[a-z0-9-]+$')


class TestTerminalTable(unittest.TestCase):
    """The table `make repro` prints: judged snapshot documents of
    rfc/results/, as the cover letter quotes them."""

    KERNELS = ['stock', 'patched', 'naive', 'race-no-recheck', 'race-window']

    def setUp(self):
        self.models = Models()
        env = mock.patch.dict(os.environ)
        env.start()
        self.addCleanup(env.stop)
        os.environ.pop('COLUMNS', None)

    def doc(self, name):
        with open(os.path.join(RESULTS, name + '.json')) as f:
            return json.load(f)

    def lines(self, names, width=None):
        docs = [self.doc(n) for n in names]
        return results.terminal_table(docs, self.models, width).split('\n')

    def assertFits(self, lines, width):
        wide = [l for l in lines if len(l) > width]
        self.assertEqual(wide, [], f'lines wider than {width}')

    def test_terminal_stock_patched_fits_120(self):
        lines = self.lines(['stock', 'patched'])
        self.assertFits(lines, 120)
        row = next(l for l in lines
                   if l.startswith('private-write-hole/memfd '))
        self.assertIn('pc/w 1 -> 0', row)
        self.assertEqual(row.split()[1:3], ['ok', 'ok'])

    def test_terminal_five_kernels_fit_120(self):
        lines = self.lines(self.KERNELS)
        self.assertFits(lines, 120)
        text = '\n'.join(lines)
        for name in self.KERNELS:
            self.assertIn(f'7.3.0-rc7-{name}: 7.3.0-rc7', text)
        self.assertIn('SPLAT', text)

    def test_terminal_width_80(self):
        for names in (['stock', 'patched'], self.KERNELS,
                      ['stock', 'host/results', 'naive']):
            lines = self.lines(names, 80)
            self.assertFits(lines, 80)
            # One line per case, long names cut in the middle.
            cases = self.models.cases({s['name'] for n in names
                                       for s in self.doc(n)['scenarios']})
            rows = [l.split()[0] for l in lines[1:]
                    if l and not l.startswith(' ')][:len(cases)]
            self.assertIn('...', ''.join(rows))
            for row, case in zip(rows, cases):
                head, _, tail = row.partition('...')
                self.assertTrue(case.startswith(head) and
                                case.endswith(tail), (row, case))

    def test_terminal_honours_columns(self):
        os.environ['COLUMNS'] = '100'
        lines = self.lines(self.KERNELS)
        self.assertFits(lines, 100)
        self.assertGreater(max(map(len, lines)), 80)
        os.environ['COLUMNS'] = 'wide'
        self.assertEqual(self.lines(self.KERNELS),
                         self.lines(self.KERNELS, 120))
        self.assertFits(self.lines(['stock', 'patched'], 20), 60)

    def test_terminal_mismatch_under_its_case(self):
        stock, bad = self.doc('stock'), copy.deepcopy(self.doc('patched'))
        case = next(c for s in bad['scenarios'] for c in s['cases']
                    if s['name'] == 'private-write-hole'
                    and c['name'] == 'memfd')
        case['facts']['pc_per_write'] = '1.00'
        results.judge(bad, Models())
        self.assertEqual(bad['verdict'], 'FAIL')
        lines = results.terminal_table([stock, bad], self.models).split('\n')
        self.assertFits(lines, 120)
        i = next(i for i, l in enumerate(lines)
                 if l.startswith('private-write-hole/memfd '))
        self.assertEqual(lines[i].split()[1:3], ['ok', 'DIFF'])
        self.assertEqual(lines[i + 1], '    7.3.0-rc7-patched: pc_per_write '
                         'expected 0, measured 1')
        # Only the case that disagrees gets a line under it.
        self.assertFalse(lines[i + 2].startswith(' '))


if __name__ == '__main__':
    unittest.main()


class TestSelftests(unittest.TestCase):
    def doc(self, model, statuses):
        return {'label': model, 'model': model, 'kernel': '6.1.192',
                'scenarios': [{'name': f'selftest-{n}', 'status': st,
                               'cases': []}
                              for n, st in statuses.items()]}

    def test_regression_is_pass_on_stock_fail_elsewhere(self):
        from repro.harness import selftests
        stock = self.doc('stock', {'a': 'ok', 'b': 'not ok', 'c': 'ok'})
        new = self.doc('proposed', {'a': 'not ok', 'b': 'not ok',
                                    'c': 'ok'})
        self.assertEqual(selftests.regressions([stock, new]),
                         [('selftest-a', 'proposed')])

    def test_selftest_failure_is_not_a_model_failure(self):
        text = ('KTAP version 1\n1..1\n# selftest-x: exit status 1\n'
                'not ok 1 selftest-x\n')
        d = results.collect('k', '6.1', None, text, ['selftest-x'])
        results.judge(d, Models())
        self.assertEqual(d['failed'], [])

    def test_repo_table_parses(self):
        from repro.harness import selftests
        names = [t['name'] for t in selftests.load()]
        self.assertIn('selftest-uffd-shmem', names)
        self.assertEqual(len(names), len(set(names)))


class TestStandalone(unittest.TestCase):
    """The one-file reproducer's line is read as facts, and a verdict that
    disagrees with the kit's own measurement fails the kernel."""

    LINE = ('shmem-private-hole: 7.3.0-rc7: pc_per_store=1.00 file_zero=yes '
            'missing=delivered verdict=allocates')

    def ktap(self, line, pc_per_write):
        return '\n'.join([
            'KTAP version 1', '1..2',
            '    KTAP version 1', '    1..1',
            f'    # fact: pc_per_write={pc_per_write}', '    ok 1 memfd',
            'ok 1 private-write-hole',
            f'# {line}', 'ok 2 standalone', ''])

    def test_line_becomes_facts(self):
        doc = results.collect('k', '7.3', None, self.ktap(self.LINE, 1),
                              ['private-write-hole', 'standalone'])
        facts = results.cases_of(doc)['standalone/memfd']['facts']
        self.assertEqual(facts['verdict'], 'allocates')
        self.assertEqual(facts['pc_per_store'], '1.00')
        self.assertEqual(facts['missing'], 'delivered')
        self.assertIsNone(results.standalone_disagrees(doc))

    def test_disagreement_fails(self):
        doc = results.collect('k', '7.3', None, self.ktap(self.LINE, 0),
                              ['private-write-hole', 'standalone'])
        results.judge(doc, Models())
        self.assertTrue(any(f.startswith('standalone/memfd: verdict=allocates')
                            for f in doc['failed']), doc['failed'])
        self.assertEqual(doc['verdict'], 'FAIL')

    def test_uffd_unavailable_is_a_fact(self):
        line = self.LINE.replace('missing=delivered', 'uffd=unavailable(EPERM)')
        doc = results.collect('k', '7.3', None, self.ktap(line, 1),
                              ['private-write-hole', 'standalone'])
        facts = results.cases_of(doc)['standalone/memfd']['facts']
        self.assertEqual(facts['missing'], 'unavailable')
