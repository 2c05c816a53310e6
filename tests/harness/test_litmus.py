# SPDX-License-Identifier: GPL-2.0
"""make litmus: every test states the result it expects, in the form the
kernel's judgelitmus.sh reads, and covers what the RFC says it covers."""

import glob
import os
import tempfile
import unittest

from repro.harness import litmus, sources


class TestLitmus(unittest.TestCase):
    def test_every_test_states_its_result(self):
        tests = glob.glob(os.path.join(litmus.LITMUS_DIR, '*.litmus'))
        self.assertTrue(tests)
        for t in tests:
            self.assertIn(litmus.expected(t), ('Never', 'Sometimes'), t)

    def test_the_series_and_each_barrier_removed(self):
        # With both barriers the outcome is forbidden; each barrier alone
        # removed must allow it, or the test cannot show it is needed.
        got = {os.path.basename(t)[:-len('.litmus')]: litmus.expected(t)
               for t in glob.glob(os.path.join(litmus.LITMUS_DIR,
                                               '*.litmus'))}
        self.assertEqual(got['hole-fault-vs-truncate'], 'Never')
        self.assertEqual(got['hole-fault-vs-truncate-no-fault-mb'],
                         'Sometimes')
        self.assertEqual(got['hole-fault-vs-truncate-no-setattr-mb'],
                         'Sometimes')

    def test_unpacked_stamp(self):
        with tempfile.TemporaryDirectory() as d:
            v = {'herdtools7': '7.58-2', 'libc6': '2.43-7'}
            self.assertFalse(sources.unpacked(d, '.stamp', v))
            with open(os.path.join(d, '.stamp'), 'w') as f:
                f.write('herdtools7=7.58-2\nlibc6=2.43-7\n')
            self.assertTrue(sources.unpacked(d, '.stamp', v))
            self.assertFalse(sources.unpacked(
                d, '.stamp', dict(v, libc6='2.44-1')))


if __name__ == '__main__':
    unittest.main()
