# SPDX-License-Identifier: GPL-2.0
"""The one-source rule: a measured-looking number the snapshot does not
hold is named, in the README and in commit messages alike."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), 'rfc', 'tools'))

import figures  # noqa: E402


class TestFigures(unittest.TestCase):
    NUMS = {'2.06', '1.06', '64', '2048', '25853'}

    def test_unbacked_numbers_are_named(self):
        text = ('QEMU holds 2.06x its RAM, patched 1.06x.\n'
                'A cold build takes 37 s and 12.5 MiB.\n')
        got = figures.unbacked(text, self.NUMS, 'README.md')
        self.assertEqual(len(got), 2, got)
        self.assertIn('README.md:2: "37 s"', got[0])
        self.assertIn('"12.5 MiB"', got[1])

    def test_constants_and_backed_numbers_pass(self):
        text = ('at most 120 columns, 25853 races/s, a 96 MiB cgroup, '
                '64 KiB of page cache\n')
        self.assertEqual(figures.unbacked(text, self.NUMS, 'x'), [])

    def test_generated_blocks_are_not_scanned_twice(self):
        text = ('<!-- kit:races -->\n```\n99 s\n```\n<!-- /kit -->\n'
                'outside 98 s\n')
        got = figures.unbacked(figures.outside_blocks(text), self.NUMS, 'x')
        self.assertEqual(len(got), 1)
        self.assertIn('98 s', got[0])

    def test_the_committed_readme_and_series_pass(self):
        self.assertEqual(figures.check(), [])


if __name__ == '__main__':
    unittest.main()
