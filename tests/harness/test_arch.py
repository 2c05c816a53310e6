# SPDX-License-Identifier: GPL-2.0
"""ARCH=arm64: what changes, and that x86_64 stays as it was."""

import os
import unittest
from unittest import mock

from repro.harness import arch, deps, kernel, qemu, results, variables
from repro.harness.models import Models
from repro.harness.util import KitError

X86 = arch.ARCHES['x86_64']
ARM64 = arch.ARCHES['arm64']


class TestArch(unittest.TestCase):
    def test_labels(self):
        # x86 labels are what the snapshot has; arm64 names the arch.
        self.assertEqual(arch.label('7.3.0-rc7', 'stock', X86),
                         '7.3.0-rc7-stock')
        self.assertEqual(arch.label('7.3.0-rc7', 'stock', ARM64),
                         '7.3.0-rc7-arm64-stock')
        self.assertEqual(arch.results_name('7.3', 'patched', ARM64),
                         '7.3-arm64-patched')
        self.assertEqual(arch.results_name('7.3', 'patched', X86),
                         '7.3-patched')

    def test_short_labels_keep_the_kernel_names(self):
        docs = [{'label': arch.label('7.3.0-rc7', n, ARM64)}
                for n in ('stock', 'patched')]
        self.assertEqual(results.short_labels(docs), ['stock', 'patched'])

    def test_current_defaults_to_x86_64(self):
        self.assertIs(arch.current({}), X86)
        self.assertIs(arch.current({'ARCH': 'arm64'}), ARM64)


class TestKernel(unittest.TestCase):
    def test_x86_fragments_have_no_arch_variant(self):
        # The cache keys of every x86 kernel stay what they were.
        frags = kernel.fragment_paths(['base'], '7.3', X86)
        self.assertEqual([os.path.basename(f) for f in frags],
                         ['base.config'])

    def test_arm64_fragments_and_key(self):
        frags = kernel.fragment_paths(['base'], '7.3', ARM64)
        self.assertEqual([os.path.basename(f) for f in frags],
                         ['base.config', 'base-arm64.config'])
        self.assertNotEqual(
            kernel.config_digest(frags, ARM64),
            kernel.config_digest(kernel.fragment_paths(['base'], '7.3',
                                                       X86), X86))

    def test_arm64_fragment_turns_off_what_arm64_lacks(self):
        frags = kernel.fragment_paths(['base'], '7.3', ARM64)
        want = {}
        for f in frags:
            want.update(kernel.read_kconfig(f))
        self.assertEqual(want['CONFIG_KERNEL_GZIP'], 'n')
        self.assertEqual(want['CONFIG_SERIAL_8250'], 'n')
        for opt in ('SERIAL_AMBA_PL011_CONSOLE', 'VIRTIO_MMIO',
                    'VIRTIO_CONSOLE', 'SMP', 'KALLSYMS', 'SHMEM', 'TMPFS',
                    'MEMFD_CREATE', 'USERFAULTFD', 'TRANSPARENT_HUGEPAGE',
                    'HUGETLBFS', 'MEMCG', 'PROC_PAGE_MONITOR'):
            self.assertEqual(want[f'CONFIG_{opt}'], 'y', opt)
        self.assertGreaterEqual(int(want['CONFIG_NR_CPUS']), 8)

    def test_kmake_cross_compiles_through_ccache(self):
        class Src:
            path = '/src'
        cmd = kernel.kmake(Src, '/b', 'Image', a=ARM64)
        self.assertIn('ARCH=arm64', cmd)
        self.assertIn('CROSS_COMPILE=aarch64-linux-gnu-', cmd)
        self.assertIn('CC=ccache aarch64-linux-gnu-gcc', cmd)
        x86 = kernel.kmake(Src, '/b', 'bzImage', a=X86)
        self.assertEqual(x86, ['make', '-C', '/src', 'O=/b', 'ARCH=x86_64',
                               'CC=ccache gcc', 'HOSTCC=ccache gcc',
                               'bzImage'])


class TestQemu(unittest.TestCase):
    def test_smp(self):
        self.assertEqual(qemu.smp(4, X86), '4,sockets=4,cores=1,threads=1')
        self.assertEqual(qemu.smp(4, ARM64), '4')

    def test_arm64_machine(self):
        args = qemu.machine_args(ARM64, 'tcg', 'c.log', 'r.ktap')
        self.assertIn('virt,gic-version=3', args)
        self.assertIn('tcg,thread=multi', args)
        self.assertIn('file,id=res,path=r.ktap', args)
        self.assertIn('virtconsole,chardev=res', args)
        # make bench: QEMU refuses -icount with multi-threaded TCG.
        self.assertIn('tcg', qemu.machine_args(ARM64, 'tcg', 'c.log',
                                               'r.ktap', icount=True))
        self.assertNotIn('tcg,thread=multi',
                         qemu.machine_args(ARM64, 'tcg', 'c.log', 'r.ktap',
                                           icount=True))
        self.assertEqual(qemu.machine_args(X86, 'kvm', 'c.log', 'r.ktap'),
                         ['-accel', 'kvm', '-serial', 'file:c.log',
                          '-serial', 'file:r.ktap'])

    def test_arm64_is_tcg_and_says_why(self):
        with mock.patch.dict(os.environ, {'ARCH': 'arm64'}):
            os.environ.pop('ACCEL', None)
            with mock.patch.object(arch, 'host', lambda: 'x86_64'):
                acc, why = qemu.accel()
                self.assertEqual(acc, 'tcg')
                self.assertIn('KVM cannot run it', why)
                os.environ['ACCEL'] = 'kvm'
                with self.assertRaises(KitError):
                    qemu.accel()


class TestDeps(unittest.TestCase):
    def test_arm64_packages(self):
        want = deps.wanted(['build', 'repro'], ['6.1'], arch='arm64')
        for p in ('gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross',
                  'qemu-system-arm'):
            self.assertIn(p, want)
        self.assertNotIn('qemu-system-x86', want)
        self.assertIn('qemu-system-x86',
                      deps.wanted(['repro'], ['6.1'], arch='x86_64'))

    def test_arm64_tools(self):
        t = deps.tools('repro', 'arm64')
        self.assertEqual(t['qemu-system-aarch64'], 'qemu-system-arm')
        self.assertEqual(t['aarch64-linux-gnu-gcc'], 'gcc-aarch64-linux-gnu')
        self.assertNotIn('qemu-system-x86_64', t)
        self.assertEqual(deps.tools('repro', 'x86_64'), deps.TOOLS['repro'])


class TestVariables(unittest.TestCase):
    def test_what_arm64_cannot_do_is_one_line(self):
        for name, value in (('HOST', '1'), ('KERNEL', 'debian'),
                            ('ACCEL', 'kvm')):
            with self.subTest(name=name):
                with mock.patch.object(arch, 'host', lambda: 'x86_64'):
                    with self.assertRaises(KitError) as cm:
                        variables.check({'ARCH': 'arm64', name: value},
                                        available=False)
                self.assertEqual(cm.exception.status, 2)
                self.assertNotIn('\n', str(cm.exception))
                self.assertIn('ARCH=arm64', str(cm.exception))


class TestNotRun(unittest.TestCase):
    def test_clients_left_out_show_as_not_run(self):
        models = Models()
        case = next(c for c in models.cases()
                    if c.startswith('qemu-private-backend/'))
        doc = {'label': '7.3.0-rc7-arm64-stock', 'kernel': '7.3.0-rc7',
               'model': 'stock', 'scenarios': [], 'boot': None,
               'parse_error': None,
               'not_run': {'qemu-private-backend': 'not run on arm64'}}
        results.judge(doc, models)
        self.assertEqual(doc['failed'], [])
        self.assertEqual(doc['diffs'], [])
        self.assertEqual(results.mark(doc, case), 'n/a')
        self.assertEqual(results.cell(doc, case, models), 'n/a')
        text = results.terminal_table([doc], models)
        self.assertIn(case, text)
        self.assertIn('not run on arm64', text)


if __name__ == '__main__':
    unittest.main()
