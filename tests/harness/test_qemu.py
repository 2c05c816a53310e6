# SPDX-License-Identifier: GPL-2.0
"""Console analysis: a splat fails a kernel wherever it appears."""

import os
import tempfile
import unittest

from repro.harness import qemu

CONSOLE = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'golden',
                       'console')


def golden(name):
    return qemu.read(os.path.join(CONSOLE, name))


class TestAnalyse(unittest.TestCase):
    def test_clean_boot(self):
        a = qemu.analyse(golden('clean.log'))
        self.assertEqual(a['status'], 'ok')
        self.assertEqual((a['init_at'], a['done_at']), (0.66, 0.74))
        self.assertEqual(a['splats'], [])
        self.assertEqual(a['cpus'], 2)

    def test_smp_describes_every_cpu(self):
        # One core per socket: QEMU's MP table lists each (no ACPI here).
        self.assertEqual(qemu.smp(4), '4,sockets=4,cores=1,threads=1')

    def test_oops_fails_even_when_run_completes(self):
        a = qemu.analyse(golden('oops.log'))
        self.assertEqual(a['status'], 'splat')
        self.assertTrue(a['splats'][0].startswith('BUG: kernel NULL pointer'))
        self.assertIn('RIP: 0010:__do_fault+0x31/0x100', a['excerpt'])

    def test_each_splat_kind(self):
        for line in ('WARNING: CPU: 0 PID: 1 at mm/shmem.c:2190 shmem_fault',
                     'Kernel panic - not syncing: Fatal exception',
                     'BUG: KASAN: use-after-free in shmem_fault',
                     'WARNING: possible circular locking dependency detected',
                     'general protection fault, probably for non-canonical'):
            text = f'kit: init at 1 s\n{line}\nkit: done at 2 s\n'
            self.assertEqual(qemu.analyse(text)['status'], 'splat', line)

    def test_known_splat_is_listed_not_failed(self):
        line = ('WARNING: CPU: 0 PID: 7713 at include/linux/fs.h:509 '
                'hugetlb_split+0x1d2/0x270')
        text = f'kit: init at 1 s\n{line}\nkit: done at 2 s\n'
        a = qemu.analyse(text)
        self.assertEqual(a['status'], 'ok')
        self.assertTrue(a['known_splats'][0].startswith(line))
        other = text.replace('hugetlb_split', 'shmem_fault')
        self.assertEqual(qemu.analyse(other)['status'], 'splat')

    def test_no_init_and_incomplete(self):
        self.assertEqual(qemu.analyse('Linux version 6.1\n')['status'],
                         'no-init')
        self.assertEqual(qemu.analyse('kit: init at 0.5 s\n')['status'],
                         'incomplete')

    def test_escapes_and_carriage_returns_removed(self):
        fd, path = tempfile.mkstemp()
        with os.fdopen(fd, 'wb') as f:
            f.write(b'\x1bc\x1b[?7l\x1b[2Jkit: init at 0.6 s\r\n')
        try:
            self.assertEqual(qemu.read(path), 'kit: init at 0.6 s\n')
        finally:
            os.unlink(path)


if __name__ == '__main__':
    unittest.main()


class TestFeatures(unittest.TestCase):
    """What a guest gets follows the kernel's cached .config."""

    def scale_of(self, options):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, '.config'), 'w') as f:
                f.write(''.join(f'{o}=y\n' for o in options) +
                        '# CONFIG_NUMA is not set\n')
            image = os.path.join(d, 'bzImage')
            return qemu.features(image), qemu.time_scale(image)

    def test_production_kernel(self):
        self.assertEqual(self.scale_of(['CONFIG_SHMEM']), ([], 1))

    def test_debug_kernel_is_slow_once(self):
        feats, scale = self.scale_of(['CONFIG_KASAN', 'CONFIG_PROVE_LOCKING',
                                      'CONFIG_VIRTIO_BLK'])
        self.assertEqual(feats, ['disks', 'slow'])
        self.assertEqual(scale, qemu.SLOW_FACTOR)
