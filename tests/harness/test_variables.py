# SPDX-License-Identifier: GPL-2.0
"""Every make variable the README lists: a wrong value is one line naming
the variable, the value and what is accepted, exit status 2."""

import tempfile
import unittest

from repro.harness import variables
from repro.harness.util import KitError

# variable, a value it refuses, words the one line must contain
BAD = [
    ('KERNELS', 'foo', 'unknown foo'),
    ('KERNELS', '', 'empty'),
    ('KVER', '9', 'not <major>.<minor>'),
    ('KVER', '6.1 latest', 'latest is not'),
    ('KERNEL', '/etc/passwd', 'x86 bzImages'),
    ('KERNEL', '/nonexistent/bzImage', 'no such file'),
    ('KSRC', '/tmp', 'missing Makefile'),
    ('HOST', '2', '0 or 1'),
    ('SCENARIOS', 'private-write-hole nope', 'unknown nope'),
    ('SELFTESTS', 'yes', '0 or 1'),
    ('CLIENTS', 'no', '0 or 1'),
    ('TIMEOUT', 'abc', 'integer from 10'),
    ('TIMEOUT', '0', 'integer from 10'),
    ('SCENARIO_TIMEOUT', '-5', 'integer from 5'),
    ('JOBS', '0', 'integer from 1'),
    ('VCPUS', '1.5', 'integer from 1'),
    ('ACCEL', 'xen', 'kvm or tcg'),
    ('O', '/etc/passwd/sub', 'not a directory'),
    ('KIT_CACHE', '/proc/self/x', 'not writable'),
    ('KIT_CACHE_KEEP', '0', 'integer from 1'),
    ('ARCH', 'aarch64', 'x86_64 or arm64'),
]

GOOD = [
    ('KERNELS', 'stock patched'), ('KVER', '6.1 6.12'), ('HOST', '1'),
    ('SCENARIOS', 'private-write-hole uffd-missing'), ('TIMEOUT', '300'),
    ('JOBS', '2'), ('VCPUS', '4'), ('ACCEL', 'tcg'), ('KERNEL', 'debian'),
    ('O', '/tmp/kit-test-new/sub'), ('ARCH', 'arm64'), ('ARCH', 'x86_64'),
]


class TestVariables(unittest.TestCase):
    def test_every_bad_value_is_one_line_and_exit_2(self):
        for name, value, words in BAD:
            with self.subTest(name=name, value=value):
                with self.assertRaises(KitError) as cm:
                    variables.check({name: value}, available=False)
                msg = str(cm.exception)
                self.assertEqual(cm.exception.status, 2)
                self.assertNotIn('\n', msg)
                self.assertTrue(msg.startswith(f'{name}={value!r}'), msg)
                self.assertIn(words, msg)

    def test_good_values_pass(self):
        for name, value in GOOD:
            with self.subTest(name=name):
                variables.check({name: value}, available=False)

    def test_every_readme_variable_has_a_row(self):
        names = {n for n, _, _ in variables.VARIABLES}
        for n in ('KERNELS', 'KVER', 'KERNEL', 'KSRC', 'HOST', 'SCENARIOS',
                  'SELFTESTS', 'CLIENTS', 'TIMEOUT', 'SCENARIO_TIMEOUT',
                  'JOBS', 'ACCEL', 'O', 'KIT_CACHE'):
            self.assertIn(n, names)

    def test_a_series_missing_for_a_version_is_named(self):
        with self.assertRaises(KitError) as cm:
            variables.check({'KVER': '5.4', 'KERNELS': 'patched'},
                            available=False)
        self.assertIn('kernel-patch/v5.4/series does not exist',
                      str(cm.exception))
        variables.check({'KVER': '5.4', 'KERNELS': 'stock'},
                        available=False)

    def test_a_file_without_a_kernel_version_is_refused(self):
        # A boot header without a version string is no kernel to boot.
        with tempfile.NamedTemporaryFile(suffix='bzImage') as f:
            f.write(b'\0' * 0x202 + b'HdrS' + b'\0' * 0x400)
            f.flush()
            with self.assertRaises(KitError):
                variables.check({'KERNEL': f.name}, available=False)


if __name__ == '__main__':
    unittest.main()
