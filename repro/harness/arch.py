# SPDX-License-Identifier: GPL-2.0
"""The guest architecture of a run: ARCH=x86_64 (the default) or arm64.

Everything that differs between them is a field of one row here: Kbuild's
ARCH and cross compiler, the image Kbuild makes, the QEMU that boots it and
how, the serial console and the device the guest's /init writes results
to, the Debian architecture of the guest's userspace (busybox, libcap) and
the arch's part of the kernel's label.

  x86_64  native: gcc, bzImage, qemu-system-x86_64 (KVM when it works),
          console ttyS0, results on a second 8250 port (/dev/ttyS1).
  arm64   cross: aarch64-linux-gnu-gcc (Debian's gcc-aarch64-linux-gnu),
          Image, qemu-system-aarch64 -machine virt -cpu max under TCG
          (an x86 host's KVM cannot run an arm64 guest), console on the
          PL011 (ttyAMA0), results on a virtio console (/dev/hvc0): virt
          has one PL011 only.  Busybox and libcap for the guest are
          Debian's arm64 packages, fetched and unpacked under the cache
          (cross.py), never installed.
"""

import os

from .util import KitError

DEFAULT = 'x86_64'


class Arch:
    def __init__(self, name, **kw):
        self.name = name
        self.__dict__.update(kw)

    def __repr__(self):
        return f'Arch({self.name})'

    @property
    def native(self):
        return not self.cross_compile


ARCHES = {
    'x86_64': Arch(
        'x86_64',
        kbuild='x86_64', cross_compile='', gnu='x86_64-linux-gnu',
        deb='amd64', image='arch/x86/boot/bzImage', target='bzImage',
        qemu='qemu-system-x86_64', qemu_package='qemu-system-x86',
        console='ttyS0', results_device='/dev/ttyS1',
        # x86 labels stay as they were (7.3.0-rc7-stock), so that the
        # snapshot, its figures and the cache keys do not move.
        label='', bindir='bin', cross_packages=[]),
    'arm64': Arch(
        'arm64',
        kbuild='arm64', cross_compile='aarch64-linux-gnu-',
        gnu='aarch64-linux-gnu', deb='arm64', image='arch/arm64/boot/Image',
        target='Image', qemu='qemu-system-aarch64',
        qemu_package='qemu-system-arm', console='ttyAMA0',
        results_device='/dev/hvc0', label='arm64', bindir='bin-arm64',
        # (The host's packages for it are deps.py's ARCH_NEEDS.)  Debian's arm64 packages the guest's userspace is made of: fetched
        # with apt-get download, unpacked into the cache (cross.py).
        cross_packages=['busybox-static', 'libcap-dev', 'libcap2']),
}


# Arches the kit compiles the series for and never boots: the W=1 coverage
# of "python3 -m repro.harness w1 --arch" (a 32-bit one with HIGHMEM, and
# riscv64).  Their fragments are base-<name>.config.
BUILD_ONLY = {
    'i386': Arch(
        'i386', kbuild='i386', cross_compile='', gnu='i686-linux-gnu',
        deb='i386', image='arch/x86/boot/bzImage', target='bzImage',
        label='i386', cross_packages=[]),
    'riscv64': Arch(
        'riscv64', kbuild='riscv', cross_compile='riscv64-linux-gnu-',
        gnu='riscv64-linux-gnu', deb='riscv64', image='arch/riscv/boot/Image',
        target='Image', label='riscv64', cross_packages=[]),
}


def names():
    return list(ARCHES)


def get(name):
    """A bootable arch or a build-only one, by name."""
    a = ARCHES.get(name) or BUILD_ONLY.get(name)
    if not a:
        raise KitError(f'{name}: not an arch the kit knows; it knows '
                       f'{", ".join(list(ARCHES) + list(BUILD_ONLY))}',
                       status=2)
    return a


def current(env=None):
    """The Arch of ARCH= (validated by variables.py)."""
    env = os.environ if env is None else env
    name = env.get('ARCH') or DEFAULT
    if name not in ARCHES:
        raise KitError(f'ARCH={name!r}: not accepted; ARCH takes '
                       f'{" or ".join(ARCHES)}', status=2)
    return ARCHES[name]


def host():
    """The Arch the host runs, if the kit knows it."""
    m = os.uname().machine
    return {'x86_64': 'x86_64', 'aarch64': 'arm64'}.get(m, m)


def label(version, name, a=None):
    """A kernel's label: 7.3.0-rc7-stock, 7.3.0-rc7-arm64-stock."""
    a = a or current()
    return '-'.join(p for p in (version, a.label, name) if p)


def results_name(series_ver, name, a=None):
    """Its directory under build/results/: 7.3-stock, 7.3-arm64-stock."""
    a = a or current()
    return '-'.join(p for p in (series_ver, a.label, name) if p)
