# SPDX-License-Identifier: GPL-2.0
"""Where a linux-source-<ver> package comes from, and fetching it.

Debian 12 carries linux-source-6.1 (and 6.12 through its security suite);
newer kernels are in unstable (7.2) and experimental (7.3).  Those are
fetched without touching the system: apt runs with a configuration of the
kit's own under $KIT_CACHE/apt (its own sources list, lists, package cache
and archive directory, an empty dpkg status), naming only unstable and
experimental at the archive URI the system's own sources already use, with
signatures checked against the system's Debian archive keyring.  The .deb
is downloaded (apt-get download checks it against the signed index) and
unpacked into the cache; nothing is installed, and the system's sources
lists, apt lists and packages stay as they were.

A version the system's apt knows (apt-cache policy shows a candidate) is
installed through the system as before, so that 6.1 and 6.12 keep their
Debian 12 security updates.
"""

import glob
import os
import re
import shutil
import subprocess
import time

from . import cache
from .util import KitError, Phase, cache_dir, log

KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg'
SUITES = ('unstable', 'experimental')
LISTS_MAX_AGE = 86400


def system_candidate(pkg):
    """The version the system's apt would install, or None."""
    r = subprocess.run(['apt-cache', 'policy', pkg], capture_output=True,
                       text=True)
    m = re.search(r'Candidate: (\S+)', r.stdout)
    return m.group(1) if m and m.group(1) != '(none)' else None


def system_archive():
    """The Debian archive URI the system's sources use for its release
    suite (not -security, not -updates), from apt-cache policy."""
    return system_release()[0]


def system_release():
    """(archive URI, release suite) of the system's own sources: the
    first "URI SUITE/main ARCH Packages" line of apt-cache policy whose
    suite is a plain name (bookworm, not bookworm-updates)."""
    r = subprocess.run(['apt-cache', 'policy'], capture_output=True,
                       text=True)
    for line in r.stdout.splitlines():
        m = re.match(r'\s*\d+ (\S+) ([a-z]+)/main \S+ Packages$', line)
        if m and m.group(1).startswith(('http', 'file', 'ftp')):
            return m.group(1), m.group(2)
    raise KitError('apt-cache policy names no Debian archive with a main '
                   'component for the system\'s release: the kit takes the '
                   'archive URI for unstable and experimental from the '
                   'system\'s sources; add the Debian archive there',
                   status=2)


class PrivateApt:
    """apt with every path under $KIT_CACHE/apt.

    With `arch` (a Debian architecture), apt sees only that architecture
    (APT::Architecture and APT::Architectures): cross.py fetches the arm64
    guest's packages so, from `suites` (the system's own release), without
    adding an architecture to the system's dpkg."""

    def __init__(self, root=None, suites=SUITES, arch=None):
        self.root = root or os.path.join(cache_dir(), 'apt')
        self.conf = os.path.join(self.root, 'apt.conf')
        self.suites = tuple(suites)
        self.arch = arch

    def _write_config(self):
        if not os.path.exists(KEYRING):
            raise KitError(f'{KEYRING} not found: the kit checks unstable '
                           f'and experimental against the Debian archive '
                           f'keyring; apt-get install debian-archive-keyring',
                           status=2)
        uri = system_archive()
        r = self.root
        for d in ('etc/sources.list.d', 'etc/preferences.d', 'lists/partial',
                  'cache', 'archives/partial', 'state'):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        status = os.path.join(r, 'state', 'status')
        if not os.path.exists(status):
            open(status, 'w').close()
        sources = ''.join(f'deb [signed-by={KEYRING}] {uri} {s} main\n'
                          for s in self.suites)
        conf = '\n'.join([
            f'Dir::Etc::sourcelist "{r}/etc/sources.list";',
            f'Dir::Etc::sourceparts "{r}/etc/sources.list.d";',
            f'Dir::Etc::preferences "{r}/etc/preferences";',
            f'Dir::Etc::preferencesparts "{r}/etc/preferences.d";',
            f'Dir::State::lists "{r}/lists";',
            f'Dir::State::status "{status}";',
            f'Dir::Cache "{r}/cache";',
            f'Dir::Cache::archives "{r}/archives";',
            'Acquire::Languages "none";',
            # The archive directory is the invoking user's: apt's _apt
            # sandbox user could not write there.
            'APT::Sandbox::User "root";' if os.geteuid() == 0 else '',
            f'APT::Architecture "{self.arch}";' if self.arch else '',
            f'APT::Architectures {{ "{self.arch}"; }};' if self.arch else '',
            ''])
        for path, text in ((os.path.join(r, 'etc', 'sources.list'), sources),
                           (self.conf, conf)):
            if not os.path.exists(path) or open(path).read() != text:
                with open(path, 'w') as f:
                    f.write(text)

    def run(self, args, what, cwd=None):
        env = dict(os.environ, APT_CONFIG=self.conf,
                   DEBIAN_FRONTEND='noninteractive')
        r = subprocess.run(args, env=env, cwd=cwd, capture_output=True,
                           text=True)
        if r.returncode:
            raise KitError(f'{what} ({" ".join(args)} with APT_CONFIG='
                           f'{self.conf}) failed:\n'
                           + (r.stdout + r.stderr).strip()[-1500:],
                           status=2)
        return r.stdout

    def update(self):
        """Refresh the kit's unstable/experimental lists (daily)."""
        self._write_config()
        lists = glob.glob(os.path.join(self.root, 'lists', '*_Packages*'))
        stamp = os.path.join(self.root, 'updated')
        if len(lists) >= len(self.suites) and os.path.exists(stamp) and \
                time.time() - os.path.getmtime(stamp) < LISTS_MAX_AGE:
            return
        what = '/'.join(self.suites) + (f' {self.arch}' if self.arch else '')
        with Phase(f'apt-get update (kit\'s own {what} lists)'):
            out = self.run(['apt-get', 'update', '-q'], 'apt-get update')
        if re.search(r'^(W|E): .*(NO_PUBKEY|not signed|EXPKEYSIG)', out, re.M):
            raise KitError(f'the kit\'s apt lists failed signature checks '
                           f'against {KEYRING}:\n{out.strip()[-800:]}',
                           status=2)
        open(stamp, 'w').close()

    def candidate(self, pkg):
        out = self.run(['apt-cache', 'policy', pkg], f'apt-cache policy {pkg}')
        m = re.search(r'Candidate: (\S+)', out)
        if m and m.group(1) != '(none)':
            return m.group(1)
        # experimental is pinned at 1: a package only it has is still the
        # candidate; a package in neither suite has no version table.
        m = re.search(r'^\s+(?:\*\*\* )?(\S+) \d+$', out, re.M)
        return m.group(1) if m else None

    def fetch(self, pkg, version):
        """The .deb of pkg=version in the kit's archive directory."""
        adir = os.path.join(self.root, 'archives')
        quoted = version.replace(':', '%3a')
        found = glob.glob(os.path.join(adir, f'{pkg}_{quoted}_*.deb'))
        if found:
            return found[0]
        with Phase(f'apt-get download {pkg}={version}'):
            self.run(['apt-get', 'download', '-q', f'{pkg}={version}'],
                     f'apt-get download {pkg}', cwd=adir)
        found = glob.glob(os.path.join(adir, f'{pkg}_{quoted}_*.deb'))
        if not found:
            raise KitError(f'apt-get download {pkg}={version} left no .deb '
                           f'in {adir}', status=2)
        return found[0]


def unpack_tree(apt, versions, dest, stamp, finish=None):
    """Fetch each pkg=version of `versions` with `apt` (a PrivateApt) and
    dpkg-deb -x them all into `dest`: Debian packages' files without
    installing them.  The tree is made beside `dest`, checked or completed
    by finish(tree), marked with `stamp` (a file holding the versions),
    and only then put in place, so an interrupted unpack leaves no tree."""
    tree = dest + '.tmp'
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(tree)
    for pkg, v in versions.items():
        deb = apt.fetch(pkg, v)
        with Phase(f'dpkg-deb -x {os.path.basename(deb)}'):
            r = subprocess.run(['dpkg-deb', '-x', deb, tree],
                               capture_output=True, text=True)
        if r.returncode:
            raise KitError(f'{pkg}: dpkg-deb -x {deb}: {r.stderr.strip()}',
                           status=2)
    if finish:
        finish(tree)
    with open(os.path.join(tree, stamp), 'w') as f:
        f.write(''.join(f'{p}={v}\n' for p, v in sorted(versions.items())))
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tree, dest)
    log(f'{dest}: {", ".join(f"{p} {v}" for p, v in versions.items())}')


def unpacked(dest, stamp, versions):
    """Whether unpack_tree() left `versions` in `dest`."""
    path = os.path.join(dest, stamp)
    return os.path.exists(path) and open(path).read() == ''.join(
        f'{p}={v}\n' for p, v in sorted(versions.items()))


def where(kver):
    """'system' if the system's apt has linux-source-<kver>, else
    'private' (the kit's unstable/experimental lists)."""
    return 'system' if system_candidate(f'linux-source-{kver}') else 'private'


def check_available(kver):
    """One line naming what was looked for and where, for a version that
    neither the system's suites nor unstable/experimental carry."""
    pkg = f'linux-source-{kver}'
    if system_candidate(pkg):
        return
    apt = PrivateApt()
    apt.update()
    if apt.candidate(pkg):
        return
    raise KitError(f'KVER={kver}: Debian has no {pkg}: not in the system\'s '
                   f'apt sources (apt-cache policy {pkg}) nor in unstable or '
                   f'experimental at {system_archive()} (the kit\'s lists in '
                   f'{apt.root}); choose a version Debian carries', status=2)


def private_tarball(kver):
    """(tarball path, package version) of linux-source-<kver> from the
    kit's own apt, downloaded and unpacked under the cache once."""
    pkg = f'linux-source-{kver}'
    apt = PrivateApt()
    apt.update()
    version = apt.candidate(pkg)
    if not version:
        check_available(kver)
    dest = os.path.join(cache_dir(), 'debs', f'{pkg}_{version}')
    tarball = os.path.join(dest, 'usr', 'src', f'{pkg}.tar.xz')
    cache.use(dest)
    if os.path.exists(os.path.join(dest, '.kit-ready')):
        return tarball, version
    deb = apt.fetch(pkg, version)
    with Phase(f'dpkg-deb -x {os.path.basename(deb)}'):
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        r = subprocess.run(['dpkg-deb', '-x', deb, dest], capture_output=True,
                           text=True)
        if r.returncode:
            raise KitError(f'dpkg-deb -x {deb}: {r.stderr.strip()}')
    if not os.path.exists(tarball):
        raise KitError(f'{deb} has no usr/src/{pkg}.tar.xz')
    # The tarball is unpacked again into a git tree; the .deb can go.
    os.unlink(deb)
    open(os.path.join(dest, '.kit-ready'), 'w').close()
    log(f'{pkg} {version} from the kit\'s apt ({", ".join(SUITES)})')
    return tarball, version
