# SPDX-License-Identifier: GPL-2.0
"""Debian packages and commands the kit needs: checked, installed as root,
else named.

Two checks, because either can pass while the other fails: dpkg must say
the package is installed (not merely known), and the command the build
runs must be on PATH (a diversion or a removed binary leaves the package
"installed" and the command gone).
"""

import glob
import os
import shutil
import subprocess
import time

from .util import KitError, log

# What each target needs.  Names are Debian 12 package names.
NEEDS = {
    'build': ['gcc', 'make', 'libc6-dev', 'libcap-dev', 'python3', 'file'],
    'repro': ['bc', 'flex', 'bison', 'libelf-dev', 'libssl-dev', 'cpio',
              'busybox-static', 'qemu-system-x86', 'git', 'rsync',
              'xz-utils', 'perl', 'binutils', 'ccache', 'e2fsprogs',
              'util-linux', 'python3-ply', 'python3-git',
              'linux-source-{kver}'],
    'htmldocs': ['python3-sphinx', 'python3-sphinx-rtd-theme', 'graphviz'],
    # herd7 itself comes from unstable, unpacked (litmus.py); the kernel's
    # checklitmus.sh times it with /usr/bin/time.
    'litmus': ['time', 'coreutils'],
}

# The commands a target runs, and the package that gives each.
TOOLS = {
    'build': {'gcc': 'gcc', 'make': 'make', 'file': 'file'},
    'repro': {'flex': 'flex', 'bison': 'bison', 'bc': 'bc', 'cpio': 'cpio',
              'perl': 'perl', 'make': 'make', 'gcc': 'gcc', 'ld': 'binutils',
              'objcopy': 'binutils', 'xz': 'xz-utils', 'rsync': 'rsync',
              'git': 'git', 'qemu-system-x86_64': 'qemu-system-x86',
              'busybox': 'busybox-static', 'ccache': 'ccache',
              'mkswap': 'util-linux', 'mkfs.ext4': 'e2fsprogs'},
    'htmldocs': {'sphinx-build': 'python3-sphinx', 'dot': 'graphviz'},
    'litmus': {'time': 'time', 'timeout': 'coreutils'},
}

# What ARCH= adds to (or takes from) a target, by arch (arch.py): the cross
# compiler and its C library, and the QEMU that boots the guest instead of
# qemu-system-x86 (the QEMU clients, which need the x86 one, do not run in an
# arm64 guest).  The guest's own arm64 packages (busybox-static, libcap) are
# not installed: cross.py fetches and unpacks them into the cache.
# (w1 --arch: the compiler the W=1 build of an arch needs; i386 is built
# by the host's gcc with -m32, which needs no C library.)
ARCH_NEEDS = {
    'arm64': {
        'build': ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'],
        'repro': ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross',
                  'qemu-system-arm'],
        'w1': ['gcc-aarch64-linux-gnu'],
    },
    'riscv64': {'w1': ['gcc-riscv64-linux-gnu']},
}
ARCH_DROPS = {'arm64': {'qemu-system-x86'}}
ARCH_TOOLS = {
    'arm64': {
        'build': {'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu'},
        'repro': {'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu',
                  'aarch64-linux-gnu-ld': 'binutils-aarch64-linux-gnu',
                  'qemu-system-aarch64': 'qemu-system-arm'},
        'w1': {'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu'},
    },
    'riscv64': {'w1': {'riscv64-linux-gnu-gcc': 'gcc-riscv64-linux-gnu'}},
}
ARCH_TOOL_DROPS = {'arm64': {'qemu-system-x86_64'}}

# The one dpkg status that means "the package's files are there and it is
# configured": want=install, error=ok, status=installed.  Everything else
# (not-installed, config-files, half-installed, half-configured, unpacked,
# triggers-awaited, a deinstall/purge/hold want, a reinst-required error)
# means it has to be installed.
INSTALLED = 'install ok installed'


def status_installed(status):
    """Whether a dpkg-query ${Status} string means installed."""
    return status.strip() == INSTALLED


def installed(pkg):
    """dpkg says `pkg` is installed; a dpkg-query failure says it is not."""
    try:
        r = subprocess.run(['dpkg-query', '-W', '-f=${Status}', pkg],
                           capture_output=True, text=True)
    except FileNotFoundError:
        raise KitError('dpkg-query not found: the kit needs Debian 12 '
                       '(bookworm) or a derivative', status=2)
    return r.returncode == 0 and status_installed(r.stdout)


def arch_name(arch=None):
    return arch or os.environ.get('ARCH') or 'x86_64'


def tools(target, arch=None):
    """{command: package} a target runs for ARCH (default: $ARCH)."""
    a = arch_name(arch)
    out = {c: p for c, p in TOOLS.get(target, {}).items()
           if c not in ARCH_TOOL_DROPS.get(a, ())}
    out.update(ARCH_TOOLS.get(a, {}).get(target, {}))
    return out


def missing_tools(targets, arch=None):
    """(command, package) for each command a target runs that is not on
    PATH."""
    seen, out = set(), []
    for t in targets:
        for cmd, pkg in tools(t, arch).items():
            if cmd not in seen and not shutil.which(cmd):
                out.append((cmd, pkg))
            seen.add(cmd)
    return out


def check_tools(targets):
    """Fail before any work, one line per command, if a command is gone."""
    gone = missing_tools(targets)
    if gone:
        lines = [f'{c}: command not found on PATH (Debian package {p}; '
                 f'apt-get install --reinstall {p})' for c, p in gone]
        raise KitError('\n  '.join(['commands the build needs are missing:']
                                   + lines), status=2)


def lists_fresh():
    """apt-get update ran in the last week.  The lists keep the archive's
    Last-Modified time, and some systems keep no pkgcache.bin; every update
    works in lists/partial, whose time says when one last ran."""
    lists = '/var/lib/apt/lists'
    if not glob.glob(os.path.join(lists, '*_Packages*')):
        return False
    times = [os.path.getmtime(p) for p in
             (os.path.join(lists, 'partial'), '/var/cache/apt/pkgcache.bin')
             if os.path.exists(p)]
    return bool(times) and time.time() - max(times) < 7 * 86400


def wanted(targets, kvers, sources=None, arch=None):
    """The system packages `targets` need for linux-source `kvers` and
    ARCH (default: $ARCH).

    `sources` maps a version to where its linux-source comes from: versions
    the system's own suites do not carry (7.2, 7.3) are fetched into the
    cache by sources.py and never installed, so they are left out here.
    """
    a = arch_name(arch)
    want = []
    for t in targets:
        for p in NEEDS[t] + ARCH_NEEDS.get(a, {}).get(t, []):
            if p in ARCH_DROPS.get(a, ()):
                continue
            if '{kver}' not in p:
                want.append(p)
                continue
            want += [p.format(kver=k) for k in kvers
                     if sources is None or sources(k) == 'system']
    if os.environ.get('KSRC'):
        want = [p for p in want if not p.startswith('linux-source-')]
    return list(dict.fromkeys(want))


def ensure(targets, kvers, sources=None):
    """Install (as root) or name the packages `targets` need, then check
    that the commands they give are there; for a foreign ARCH, fetch the
    guest's Debian packages into the cache (cross.py)."""
    install([p for p in wanted(targets, kvers, sources) if not installed(p)])
    check_tools(targets)
    if any(t in ('build', 'repro') for t in targets):
        from . import cross
        cross.ensure()


def ensure_w1(arch):
    """The compiler W=1 builds the kernel for `arch` with (w1 --arch)."""
    need = ARCH_NEEDS.get(arch, {}).get('w1', [])
    install([p for p in need if not installed(p)])
    gone = [(c, p) for c, p in ARCH_TOOLS.get(arch, {}).get('w1', {}).items()
            if not shutil.which(c)]
    if gone:
        raise KitError(f'{gone[0][0]}: command not found on PATH (Debian '
                       f'package {gone[0][1]}; apt-get install --reinstall '
                       f'{gone[0][1]})', status=2)


def install(missing):
    """apt-get install `missing` as root; else name them and exit 2."""
    if missing:
        line = 'apt-get install -y ' + ' '.join(missing)
        if os.geteuid() != 0:
            raise KitError(f'missing Debian packages: {" ".join(missing)}\n'
                           f'  run as root: {line}', status=2)
        if not lists_fresh():
            log('apt-get update')
            run(['apt-get', 'update', '-q'])
        log(line)
        run(['apt-get', 'install', '-y', '-q', '--no-install-recommends']
            + missing)
        still = [p for p in missing if not installed(p)]
        if still:
            raise KitError(f'apt-get install reported success but dpkg does '
                           f'not list as installed: {" ".join(still)}',
                           status=2)


def run(cmd):
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        raise KitError(f'{" ".join(cmd)} failed:\n{r.stdout[-1500:]}'
                       f'{r.stderr[-1500:]}', status=2)
