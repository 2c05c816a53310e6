# SPDX-License-Identifier: GPL-2.0
"""A foreign guest's userspace from Debian's own packages (ARCH=arm64).

The guest runs busybox and the static reproducers, which link libcap.  For
an arm64 guest those come from Debian's arm64 packages (busybox-static,
libcap-dev, libcap2 of arch.py's cross_packages), fetched without touching
the system's dpkg: apt runs with a configuration of the kit's own under
$KIT_CACHE/apt-arm64 (APT::Architecture "arm64", the system's own release
suite, bookworm, at the archive URI the system's sources use, signed-by the
system's debian-archive-keyring), apt-get download checks each .deb against
the signed index, and dpkg-deb -x unpacks them all into one tree,
$KIT_CACHE/debs/cross-arm64/.  No architecture is added to dpkg, nothing is
installed.  The tree is unpacked again when a package's version changes.

repro/build.mk compiles the arm64 reproducers with -I and -L into that tree
(python3 -m repro.harness cross-root prints it), initramfs.py takes its
busybox.
"""

import os

from . import arch, cache, sources
from .util import KitError, cache_dir, log

STAMP = '.kit-packages'


def root(a=None):
    """Where the packages of `a` are unpacked (whether or not they are)."""
    a = a or arch.current()
    return os.path.join(cache_dir(), 'debs', f'cross-{a.name}')


def needed(a):
    """Files of the tree the build and the guest use, and their package."""
    return [(os.path.join('usr', 'include', 'sys', 'capability.h'),
             'libcap-dev'),
            (os.path.join('usr', 'lib', a.gnu, 'libcap.a'), 'libcap-dev'),
            (None, 'busybox-static')]


def busybox(a=None):
    """The guest's busybox: /bin/busybox natively, the unpacked one of
    Debian's busybox-static for a foreign arch."""
    a = a or arch.current()
    if a.native:
        return '/bin/busybox'
    r = root(a)
    for p in ('bin/busybox', 'usr/bin/busybox'):
        if os.path.exists(os.path.join(r, p)):
            return os.path.join(r, p)
    return os.path.join(r, 'bin', 'busybox')


def apt(a):
    uri, suite = sources.system_release()
    return sources.PrivateApt(root=os.path.join(cache_dir(), f'apt-{a.deb}'),
                              suites=(suite,), arch=a.deb), uri, suite


def ensure(a=None):
    """Fetch and unpack the guest packages of `a`; return the tree, or None
    for a native arch.  A package Debian does not have for the arch is one
    line naming it, exit 2."""
    a = a or arch.current()
    if not a.cross_packages:
        return None
    dest = root(a)
    cache.use(dest)
    stamp = os.path.join(dest, STAMP)
    ready = os.path.exists(stamp)
    pa, uri, suite = apt(a)
    try:
        pa.update()
    except KitError as e:
        if not ready:
            raise
        # Offline with a tree already unpacked: use it.
        log(f'{a.name} guest packages: keeping {dest} ({str(e)[:200]})')
        return dest
    versions = {}
    for pkg in a.cross_packages:
        v = pa.candidate(pkg)
        if not v:
            raise KitError(f'{pkg}:{a.deb}: Debian {suite} at {uri} has no '
                           f'{pkg} for {a.deb} (the kit\'s {a.deb} lists in '
                           f'{pa.root}); ARCH={a.name} needs it for the '
                           f'guest', status=2)
        versions[pkg] = v
    if ready and sources.unpacked(dest, STAMP, versions) and \
            not missing(a, dest):
        return dest

    def check(tree):
        gone = missing(a, tree)
        if gone:
            raise KitError(f'{gone[0][1]}:{a.deb} {versions[gone[0][1]]} '
                           f'has no {gone[0][0]}', status=2)
    sources.unpack_tree(pa, versions, dest, STAMP, finish=check)
    return dest


def missing(a, tree):
    out = []
    for path, pkg in needed(a):
        if path is None:
            if not any(os.path.exists(os.path.join(tree, p))
                       for p in ('bin/busybox', 'usr/bin/busybox')):
                out.append(('bin/busybox', pkg))
        elif not os.path.exists(os.path.join(tree, path)):
            out.append((path, pkg))
    return out
