# SPDX-License-Identifier: GPL-2.0
"""What a fresh Debian machine looks like to the install logic.

A fresh Debian 12 knows flex, bison and cpio as "unknown ok not-installed"
(a suffix test once took that for installed).  A fake dpkg-query on PATH
prints each status dpkg can report, so the decision is tested against
every state, not against the developer's machine.
"""

import os
import stat
import tempfile
import unittest
from unittest import mock

from repro.harness import deps
from repro.harness.util import KitError

# dpkg-query -W -f='${Status}' output, and whether it means installed.
STATUSES = [
    ('install ok installed', True),
    ('unknown ok not-installed', False),
    ('install ok not-installed', False),
    ('deinstall ok config-files', False),
    ('purge ok config-files', False),
    ('install ok half-installed', False),
    ('install ok half-configured', False),
    ('install ok unpacked', False),
    ('install ok triggers-awaited', False),
    ('install reinstreq half-installed', False),
    ('deinstall ok installed', False),
    ('purge ok installed', False),
    ('hold ok installed', False),
    ('install ok installed\n', True),
]

FAKE = '''#!/bin/sh
# dpkg-query -W -f=${Status} PKG: the status of $FAKE_DIR/PKG, or the
# error dpkg-query prints for a package it does not know.
for pkg; do :; done
if [ -f "$FAKE_DIR/$pkg" ]; then cat "$FAKE_DIR/$pkg"; exit 0; fi
echo "dpkg-query: no packages found matching $pkg" >&2
exit 1
'''


class FakeDpkg:
    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        path = os.path.join(self.dir.name, 'dpkg-query')
        with open(path, 'w') as f:
            f.write(FAKE)
        os.chmod(path, stat.S_IRWXU)
        self.env = mock.patch.dict(os.environ, {
            'PATH': self.dir.name + os.pathsep + os.environ['PATH'],
            'FAKE_DIR': self.dir.name})

    def status(self, pkg, text):
        with open(os.path.join(self.dir.name, pkg), 'w') as f:
            f.write(text)

    def __enter__(self):
        self.env.start()
        return self

    def __exit__(self, *exc):
        self.env.stop()
        self.dir.cleanup()


class TestInstalled(unittest.TestCase):
    def test_only_the_exact_triple_is_installed(self):
        for text, want in STATUSES:
            with self.subTest(status=text):
                self.assertEqual(deps.status_installed(text), want)

    def test_each_status_through_a_fake_dpkg_query(self):
        with FakeDpkg() as fake:
            for i, (text, want) in enumerate(STATUSES):
                fake.status(f'pkg{i}', text)
                with self.subTest(status=text):
                    self.assertEqual(deps.installed(f'pkg{i}'), want)

    def test_unknown_package_and_dpkg_error_mean_install_it(self):
        with FakeDpkg():
            self.assertFalse(deps.installed('never-heard-of-it'))

    def test_a_fresh_machine_gets_flex_bison_cpio(self):
        # As on a fresh Debian 12: known to dpkg, not installed.
        with FakeDpkg() as fake:
            for p in deps.wanted(['build', 'repro'], ['6.1']):
                fake.status(p, 'install ok installed')
            for p in ('flex', 'bison', 'cpio'):
                fake.status(p, 'unknown ok not-installed')
            calls = []
            with mock.patch.object(deps, 'run', calls.append), \
                    mock.patch.object(deps, 'lists_fresh', lambda: True), \
                    mock.patch.object(deps.os, 'geteuid', lambda: 0), \
                    mock.patch.object(deps, 'installed',
                                      lambda p, real=deps.installed:
                                      bool(calls) or real(p)), \
                    mock.patch.object(deps, 'check_tools', lambda t: None):
                deps.ensure(['build', 'repro'], ['6.1'])
            self.assertEqual(calls[0][:5], ['apt-get', 'install', '-y', '-q',
                                            '--no-install-recommends'])
            self.assertEqual(calls[0][5:], ['flex', 'bison', 'cpio'])

    def test_not_root_names_the_apt_get_line(self):
        with FakeDpkg() as fake:
            fake.status('flex', 'unknown ok not-installed')
            with mock.patch.object(deps.os, 'geteuid', lambda: 1000), \
                    mock.patch.object(deps, 'wanted',
                                      lambda *a: ['flex']):
                with self.assertRaises(KitError) as cm:
                    deps.ensure(['repro'], ['6.1'])
            self.assertEqual(cm.exception.status, 2)
            self.assertIn('apt-get install -y flex', str(cm.exception))


class TestTools(unittest.TestCase):
    def test_a_missing_command_names_its_package(self):
        with tempfile.TemporaryDirectory() as empty:
            with mock.patch.dict(os.environ, {'PATH': empty}):
                gone = dict(deps.missing_tools(['repro']))
                self.assertEqual(gone['flex'], 'flex')
                self.assertEqual(gone['objcopy'], 'binutils')
                self.assertEqual(gone['qemu-system-x86_64'],
                                 'qemu-system-x86')
                with self.assertRaises(KitError) as cm:
                    deps.check_tools(['repro'])
        self.assertEqual(cm.exception.status, 2)
        self.assertIn('flex: command not found on PATH (Debian package flex',
                      str(cm.exception))

    def test_every_command_the_issue_lists_is_checked(self):
        for c in ('flex', 'bison', 'bc', 'cpio', 'perl', 'make', 'gcc', 'ld',
                  'objcopy', 'xz', 'rsync', 'git', 'qemu-system-x86_64',
                  'busybox'):
            self.assertIn(c, deps.TOOLS['repro'])

    def test_one_removed_command_among_present_ones(self):
        with tempfile.TemporaryDirectory() as d:
            for c in deps.TOOLS['repro']:
                if c != 'bison':
                    os.symlink('/bin/true', os.path.join(d, c))
            with mock.patch.dict(os.environ, {'PATH': d}):
                self.assertEqual(deps.missing_tools(['repro']),
                                 [('bison', 'bison')])


if __name__ == '__main__':
    unittest.main()
