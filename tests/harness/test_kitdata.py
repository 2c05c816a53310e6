# SPDX-License-Identifier: GPL-2.0
"""The snapshot's bench files: x86_64's and arm64's side by side."""

import json
import os
import sys
import tempfile
import unittest

from repro.harness.util import KIT_ROOT

sys.path.insert(0, os.path.join(KIT_ROOT, 'rfc', '_ext'))
import kitdata  # noqa: E402


def bench_doc(label, pages):
    return {'kernel': '7.3', 'label': label, 'scenarios': [
        {'name': 'fault-bench', 'cases': [
            {'name': 'memfd', 'status': 'ok',
             'facts': {'pages_per_fault': pages}}]}]}


def write(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(doc, f)


class TestBenchFiles(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.snap = os.path.join(self.tmp.name, 'snap')
        self.res = os.path.join(self.tmp.name, 'results')
        write(os.path.join(self.snap, 'index.json'), {'kernels': []})
        write(os.path.join(self.snap, 'bench.json'),
              {'runs': [bench_doc('7.3-stock', 2)]})
        write(os.path.join(self.snap, 'bench-arm64.json'),
              {'runs': [bench_doc('7.3-arm64-stock', 2)]})

    def tearDown(self):
        self.tmp.cleanup()

    def test_both_arches_by_kernel_name(self):
        s = kitdata.Snapshot(self.snap)
        self.assertEqual(sorted(s.bench), ['arm64-stock', 'stock'])
        self.assertTrue(s.bench_files['arm64-stock'].endswith(
            'bench-arm64.json'))

    def test_a_run_is_held_to_its_own_file(self):
        # An arm64 run alone says nothing about the x86_64 bench.
        write(os.path.join(self.res, 'bench-arm64', 'bench.json'),
              {'runs': [bench_doc('7.3-arm64-stock', 1)]})
        s = kitdata.Snapshot(self.snap)
        self.assertEqual(kitdata.compare_bench(self.res, s),
                         ['bench arm64-stock: memfd pages_per_fault: '
                          'snapshot 2, run 1'])

    def test_a_missing_kernel_names_its_arch(self):
        write(os.path.join(self.res, 'bench-arm64', 'bench.json'),
              {'runs': []})
        s = kitdata.Snapshot(self.snap)
        self.assertIn('make bench ARCH=arm64 KERNELS="... stock"',
                      kitdata.compare_bench(self.res, s)[0])

    def test_only_bench_files(self):
        self.assertTrue(kitdata.bench_file('bench-arm64.json'))
        self.assertFalse(kitdata.bench_file('bench.json.orig'))
        self.assertFalse(kitdata.bench_file('7.3-stock.json'))
