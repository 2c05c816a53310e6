# SPDX-License-Identifier: GPL-2.0
"""make clean-cache: what the last KIT_CACHE_KEEP runs used stays."""

import contextlib
import io
import os
import tempfile
import unittest
from unittest import mock

from repro.harness import cache


class TestPrune(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.env = mock.patch.dict(os.environ, {'KIT_CACHE': self.tmp.name})
        self.env.start()
        for e in ('src/a', 'src/b', 'kernels/k1', 'kernels/k2', 'build/a-x',
                  'apt/lists'):
            os.makedirs(os.path.join(self.tmp.name, e))
            with open(os.path.join(self.tmp.name, e, 'f'), 'w') as f:
                f.write('x' * 1000)

    def tearDown(self):
        self.env.stop()
        self.tmp.cleanup()

    def run_with(self, used):
        cache._used.clear()
        for e in used:
            cache.use(os.path.join(self.tmp.name, e, 'deeper', 'path'))
        cache.record('repro')

    def test_keeps_what_recent_runs_used(self):
        self.run_with(['src/a', 'kernels/k1'])
        self.run_with(['src/b', 'kernels/k2', 'build/a-x'])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            freed = cache.prune(keep=1)
        left = sorted(cache.entries())
        self.assertEqual(left, ['build/a-x', 'kernels/k2', 'src/b'])
        self.assertEqual(freed, 2000)
        self.assertIn('removed', out.getvalue())
        self.assertIn('src/a', out.getvalue())
        # The kit's own apt directory is never pruned.
        self.assertTrue(os.path.isdir(os.path.join(self.tmp.name, 'apt')))

    def test_dry_run_removes_nothing(self):
        self.run_with(['src/a'])
        with contextlib.redirect_stdout(io.StringIO()):
            cache.prune(keep=3, dry_run=True)
        self.assertEqual(len(list(cache.entries())), 5)

    def test_outside_the_cache_is_not_an_entry(self):
        self.assertIsNone(cache.entry('/etc/passwd'))
        self.assertIsNone(cache.entry(os.path.join(self.tmp.name, 'runs')))


if __name__ == '__main__':
    unittest.main()
