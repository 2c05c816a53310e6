# SPDX-License-Identifier: GPL-2.0
"""Kernel source, configuration, patch series and cached builds.

A kernel of the run is a row of repro/kernels.tsv: a name, a patch series
(or '-'), config fragments and the behaviour model it should match.  Builds
are cached outside the clone under $KIT_CACHE, keyed by

    (source version, config fragments, patch contents)

so a second run with nothing changed builds nothing.  All kernels of one
source and config share one source tree (a git repository made from the
unpacked tarball) and one O= build directory: switching from stock to
patched rewrites only the files the series touches, so only those objects
are rebuilt and no second cold build is paid.
"""

import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import time

from . import arch, cache, sources
from .util import (KIT_ROOT, KitError, Phase, cache_dir, digest, file_digest,
                   log, need_space, table_rows)

# The default arch's name; the run's is arch.current() (ARCH=), and its name
# is part of every build's key.
ARCH = arch.DEFAULT
# Bump when the way a kernel is built changes, so cached images are not reused.
RECIPE = 'kbuild-2 LOCALVERSION= ccache'
KERNELS_TSV = os.path.join(KIT_ROOT, 'repro', 'kernels.tsv')
CONFIG_DIR = os.path.join(KIT_ROOT, 'kernel-patch', 'config')
PATCH_DIR = os.path.join(KIT_ROOT, 'kernel-patch')
DEBIAN_TARBALL = '/usr/src/linux-source-{ver}.tar.xz'
DEFAULT_KVER = '7.3'
GIT = ['git', '-c', 'user.name=shmem-rfc-kit',
       '-c', 'user.email=shmem-rfc-kit@localhost',
       '-c', 'core.excludesFile=/dev/null', '-c', 'advice.detachedHead=false']


def patch_digest(patches):
    """A series' key: what its patches change, not how they say it.

    The commit messages carry measured numbers that are rewritten after
    each snapshot; keying builds on them would rebuild kernels whose code
    did not change.  From each patch, the diff (from its first "diff --git"
    up to the signature git format-patch appends) is hashed.
    """
    if not patches:
        return 'stock'
    parts = []
    for p in patches:
        text = open(p, 'rb').read()
        start = text.find(b'\ndiff --git ')
        end = text.rfind(b'\n-- \n')
        parts.append(text[start:end if end > start else None]
                     if start >= 0 else text)
    return digest(*parts)


class KernelSpec:
    """One row of kernels.tsv."""

    def __init__(self, name, series, configs, model, outcome):
        self.name = name
        self.series = series
        self.configs = configs
        self.model = None if model == '-' else model
        if outcome not in ('runs', 'splats'):
            raise KitError(f'{KERNELS_TSV}: {name}: outcome must be runs or '
                           f'splats, not {outcome}')
        self.outcome = outcome

    def __repr__(self):
        return f'KernelSpec({self.name})'


def load_kernels(path=KERNELS_TSV):
    specs = {}
    for lineno, cols in table_rows(path):
        if len(cols) != 5:
            raise KitError(f'{path}:{lineno}: want 5 columns (name series '
                           f'configs model outcome), got {len(cols)}')
        name, series, configs, model, outcome = cols
        specs[name] = KernelSpec(name, series, configs.split(','), model,
                                 outcome)
    return specs


class Source:
    """A kernel tree under the cache, with a git history we can patch."""

    def __init__(self, kver=None):
        ksrc = os.environ.get('KSRC')
        if ksrc:
            self._from_ksrc(os.path.abspath(ksrc))
        else:
            self._from_debian(kver or kvers()[0])
        cache.use(self.path)
        self.version = make_kernelversion(self.path)
        self.series_ver = '.'.join(self.version.split('.')[:2])

    @staticmethod
    def check_tree(path, what):
        needed = ['Makefile', 'mm/shmem.c', 'arch/x86/Kconfig',
                  'scripts/kconfig/merge_config.sh']
        missing = [n for n in needed if not os.path.exists(os.path.join(path, n))]
        if missing:
            raise KitError(f'{what}={path} is not a kernel tree: missing '
                           f'{", ".join(missing)}')

    def _from_debian(self, kver):
        if sources.where(kver) == 'system':
            tarball = DEBIAN_TARBALL.format(ver=kver)
            if not os.path.exists(tarball):
                raise KitError(f'{tarball} not found: install it with '
                               f'"apt-get install linux-source-{kver}" '
                               f'(make deps does), or set KSRC=/path/to/linux')
            pkgver = subprocess.run(
                ['dpkg-query', '-W', '-f=${Version}', f'linux-source-{kver}'],
                capture_output=True, text=True).stdout.strip() or 'unknown'
        else:
            tarball, pkgver = sources.private_tarball(kver)
        self.pkgver = pkgver
        self.id = f'debian-linux-source-{kver}_{pkgver}'
        self.path = os.path.join(cache_dir(), 'src', self.id)
        if os.path.exists(os.path.join(self.path, '.kit-ready')):
            return
        need_space(cache_dir(), 8)
        with Phase(f'unpack {os.path.basename(tarball)}'):
            tmp = self.path + '.tmp'
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            run(['tar', '-xf', tarball, '-C', tmp, '--strip-components=1'],
                what=f'unpacking {tarball}')
            self._git_init(tmp)
            shutil.rmtree(self.path, ignore_errors=True)
            os.rename(tmp, self.path)
            open(os.path.join(self.path, '.kit-ready'), 'w').close()

    def _from_ksrc(self, ksrc):
        self.check_tree(ksrc, 'KSRC')
        self.pkgver = None
        # The user's tree is never modified: it is mirrored into the cache
        # (rsync keeps mtimes, so an unchanged file is not rebuilt) and the
        # series is applied to the mirror.
        self.id = f'ksrc-{digest(ksrc)}'
        self.path = os.path.join(cache_dir(), 'src', self.id)
        need_space(cache_dir(), 8)
        with Phase(f'mirror KSRC={ksrc}'):
            os.makedirs(self.path, exist_ok=True)
            run(['rsync', '-a', '--delete', '--exclude=/.git',
                 '--exclude=/.kit-ready', ksrc + '/', self.path + '/'],
                what=f'copying KSRC={ksrc}')
            shutil.rmtree(os.path.join(self.path, '.git'), ignore_errors=True)
            if os.path.exists(os.path.join(self.path, '.config')):
                raise KitError(f'KSRC={ksrc} has been configured in place '
                               f'(.config exists); run "make mrproper" there '
                               f'so that O= builds work')
            self._git_init(self.path)
            # Tree content, not its path, keys the builds.
            head = subprocess.run(GIT + ['rev-parse', 'HEAD^{tree}'],
                                  cwd=self.path, capture_output=True,
                                  text=True).stdout.strip()
            self.id = f'ksrc-{head[:16]}'

    @staticmethod
    def _git_init(path):
        # The Debian tarball ships a .gitignore that ignores everything at
        # the top level; excludes are switched off so the whole tree is kept.
        run(GIT + ['init', '-q'], cwd=path, what='git init')
        run(GIT + ['add', '-f', '-A', '.'], cwd=path, what='git add')
        run(GIT + ['commit', '-q', '-m', 'unpacked source'], cwd=path,
            what='git commit')
        run(GIT + ['tag', '-f', 'base'], cwd=path, what='git tag')

    def series_files(self, series):
        """The patch files of a series, in order; [] for '-'."""
        if series == '-':
            return []
        sfile = os.path.join(PATCH_DIR, series.format(ver=self.series_ver))
        if not os.path.exists(sfile):
            raise KitError(f'{os.path.relpath(sfile, KIT_ROOT)} not found: '
                           f'no patch series for linux {self.series_ver}')
        files = []
        with open(sfile) as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if line:
                    p = os.path.join(os.path.dirname(sfile), line)
                    if not os.path.exists(p):
                        raise KitError(f'{os.path.relpath(sfile, KIT_ROOT)} '
                                       f'names {line}, which does not exist')
                    files.append(p)
        return files

    def describe(self):
        """Where the source came from, for every table and the RFC."""
        if self.pkgver:
            return {'package': f'linux-source-{self.series_ver}',
                    'version': self.pkgver, 'id': self.id}
        return {'package': None, 'version': None, 'id': self.id}

    def series_model(self, series):
        """The model a series declares ("# model: NAME" in its series
        file), or None: v1 of the series keeps the double allocation for
        userfaultfd MINOR VMAs, so the 6.1 and 6.12 series are judged
        against model v1 though their kernels.tsv row says proposed."""
        if series == '-':
            return None
        sfile = os.path.join(PATCH_DIR, series.format(ver=self.series_ver))
        if not os.path.exists(sfile):
            return None
        with open(sfile) as f:
            for line in f:
                m = re.match(r'^#\s*model:\s*(\S+)', line)
                if m:
                    return m.group(1)
        return None

    def model_of(self, spec):
        return self.series_model(spec.series) or spec.model

    def checkout(self, series):
        """Make the tree the base plus `series`; return the patch digest."""
        patches = self.series_files(series)
        pdig = patch_digest(patches)
        branch = f'kit-{pdig}'
        if subprocess.run(GIT + ['rev-parse', '-q', '--verify', branch],
                          cwd=self.path, capture_output=True).returncode == 0:
            run(GIT + ['checkout', '-q', '-f', branch], cwd=self.path,
                what=f'git checkout {branch}')
            return pdig
        run(GIT + ['checkout', '-q', '-f', '-B', branch, 'base'],
            cwd=self.path, what='git checkout base')
        for p in patches:
            r = subprocess.run(GIT + ['am', '-q', '--3way', p], cwd=self.path,
                               capture_output=True, text=True)
            if r.returncode:
                subprocess.run(GIT + ['am', '--abort'], cwd=self.path,
                               capture_output=True)
                run(GIT + ['checkout', '-q', '-f', 'base'], cwd=self.path,
                    what='git checkout base')
                subprocess.run(GIT + ['branch', '-D', branch], cwd=self.path,
                               capture_output=True)
                # git am's advice (--continue, --skip) does not apply here.
                why = '\n  '.join(l for l in (r.stdout + r.stderr).splitlines()
                                  if l.startswith('error:'))
                raise KitError(f'{os.path.relpath(p, KIT_ROOT)} does not apply '
                               f'to linux {self.version}:\n  {why}')
        return pdig


def kbuild_env():
    """The environment for Kbuild, without what our own make passed down.

    A `make repro O=...` puts O= and the jobserver into MAKEFLAGS, and Kbuild
    would take that O= for its own output directory.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES',
                        'O', 'KBUILD_OUTPUT')}
    env['LOCALVERSION'] = ''
    env['CCACHE_DIR'] = os.path.join(cache_dir(), 'ccache')
    env.setdefault('CCACHE_MAXSIZE', '20G')
    return env


def kmake(src, bdir, *args, a=None):
    """make for the kernel tree `src` into `bdir`, for arch `a` (ARCH=).

    Through ccache: stock and patched kernels share one tree and one build
    directory, and a series that touches a header every file includes
    (v2's mm_types.h) makes each switch between them rebuild the kernel;
    the compiler's output for unchanged sources comes from the cache.  A
    foreign arch is cross-compiled (ARCH=arm64
    CROSS_COMPILE=aarch64-linux-gnu-), its CC through ccache too.
    """
    a = a or arch.current()
    cross = [f'CROSS_COMPILE={a.cross_compile}'] if a.cross_compile else []
    return ['make', '-C', src.path, f'O={bdir}', f'ARCH={a.kbuild}'] + \
        cross + [f'CC=ccache {a.cross_compile}gcc',
                 'HOSTCC=ccache gcc'] + list(args)


def kvers():
    """KVER="6.1 6.12": the Debian linux-source versions of a run."""
    if os.environ.get('KSRC'):
        return ['KSRC']
    return os.environ.get('KVER', DEFAULT_KVER).split() or [DEFAULT_KVER]


def run(cmd, what, cwd=None, **kw):
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                           env=kbuild_env(), **kw)
    except FileNotFoundError:
        raise KitError(f'{what}: {cmd[0]} not found (run "make deps")')
    if r.returncode:
        raise KitError(f'{what} failed ({" ".join(cmd[:3])}...):\n'
                       + (r.stdout + r.stderr)[-2000:])
    return r.stdout


def make_kernelversion(path):
    return run(['make', '-s', '-C', path, 'kernelversion'],
               what='make kernelversion').strip()


def read_kconfig(path):
    opts = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'^(CONFIG_\w+)=(.*)$', line.strip())
            if m:
                opts[m.group(1)] = m.group(2)
            m = re.match(r'^# (CONFIG_\w+) is not set$', line.strip())
            if m:
                opts[m.group(1)] = 'n'
    return opts


def fragment_paths(names, ver, a=None):
    """The fragments of `names`, each followed by its <name>-<arch> variant
    (what that arch needs, and the x86 options of <name> it turns off) and
    its <name>-<ver> variant (options that only linux <ver> has), where
    they exist.  x86_64 has no variant: its fragments are the plain ones,
    so its cache keys are what they were before ARCH= existed."""
    a = a or arch.current()
    paths = []
    for n in names:
        p = os.path.join(CONFIG_DIR, n + '.config')
        if not os.path.exists(p):
            raise KitError(f'config fragment {os.path.relpath(p, KIT_ROOT)} '
                           f'not found (kernels.tsv names "{n}")')
        paths.append(p)
        for v in (a.name, ver):
            p = os.path.join(CONFIG_DIR, f'{n}-{v}.config')
            if os.path.exists(p):
                paths.append(p)
    return paths


def config_digest(frags, a=None):
    """The configuration's part of a build's key: the arch, the recipe and
    the fragments' contents."""
    a = a or arch.current()
    return digest(a.name, RECIPE, file_digest(frags))


def configure(src, bdir, frags, a=None):
    """tinyconfig + fragments via merge_config.sh, then verify every option.

    A later fragment's value of an option overrides an earlier one's, in
    the merge and in the check (base-arm64.config turns base.config's
    KERNEL_GZIP off: arm64 has no compressed kernel formats)."""
    a = a or arch.current()
    run(kmake(src, bdir, 'tinyconfig', a=a), what='make tinyconfig')
    # -m: merge only (no make run), so no ARCH is needed here.
    run([os.path.join(src.path, 'scripts/kconfig/merge_config.sh'), '-m',
         '-O', bdir, os.path.join(bdir, '.config')] + frags,
        cwd=src.path, what='merge_config.sh')
    run(kmake(src, bdir, 'olddefconfig', a=a), what='make olddefconfig')
    want = {}
    for fr in frags:
        want.update(read_kconfig(fr))
    have = read_kconfig(os.path.join(bdir, '.config'))
    lost = [f'{k}={v} (got {have.get(k, "unset")})' for k, v in want.items()
            if have.get(k, 'n') != v]
    if lost:
        raise KitError('requested config options did not survive olddefconfig '
                       '(a dependency is missing or the name is wrong):\n  '
                       + '\n  '.join(lost))


def build(spec, src=None, jobs=None, a=None):
    """Return the path of a cached image (bzImage, arm64's Image) for
    `spec`, building if needed."""
    a = a or arch.current()
    src = src or Source()
    frags = fragment_paths(spec.configs, src.series_ver, a)
    cdig = config_digest(frags, a)
    pdig = patch_digest(src.series_files(spec.series))
    key = f'{src.id}-{cdig}-{pdig}'
    kdir = os.path.join(cache_dir(), 'kernels', key)
    image = os.path.join(kdir, os.path.basename(a.image))
    bdir = os.path.join(cache_dir(), 'build', f'{src.id}-{cdig}')
    # The build directory goes with the image: it is what makes the next
    # change to a series an incremental build.
    cache.use(kdir)
    cache.use(bdir)
    if os.path.exists(image):
        log(f'{spec.name}: cached kernel {key}')
        return image, src.version

    os.makedirs(bdir, exist_ok=True)
    need_space(cache_dir(), 2)
    # One tree, one build directory: serialise concurrent runs.
    with open(os.path.join(src.path, '.kit-lock'), 'w') as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        with Phase(f'{spec.name}: patch'):
            src.checkout(spec.series)
        stamp = os.path.join(bdir, '.kit-config')
        if not (os.path.exists(stamp) and open(stamp).read() == cdig):
            with Phase(f'{spec.name}: configure'):
                configure(src, bdir, frags, a)
                with open(stamp, 'w') as f:
                    f.write(cdig)
        logf = os.path.join(bdir, 'build.log')
        with Phase(f'{spec.name}: build'):
            kbuild(src, bdir, logf, jobs or os.cpu_count(), spec.name, a)
        os.makedirs(kdir + '.tmp', exist_ok=True)
        for f in (a.image, '.config', 'System.map'):
            shutil.copy(os.path.join(bdir, f),
                        os.path.join(kdir + '.tmp', os.path.basename(f)))
        shutil.copy(logf, os.path.join(kdir + '.tmp', 'build.log'))
        shutil.rmtree(kdir, ignore_errors=True)
        os.rename(kdir + '.tmp', kdir)
    return image, src.version


def kbuild(src, bdir, logf, jobs, name, a=None):
    """Run Kbuild with a compact progress line; full log to a file."""
    a = a or arch.current()
    cmd = kmake(src, bdir, f'-j{jobs}', a.target, a=a)
    expect = 0
    statf = os.path.join(bdir, '.kit-objects')
    if os.path.exists(statf):
        expect = int(open(statf).read() or 0)
    objs, last = 0, 0.0
    t0 = time.monotonic()
    tty = sys.stderr.isatty()
    with open(logf, 'w') as lf:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=kbuild_env(),
                             stderr=subprocess.STDOUT, text=True)
        for line in p.stdout:
            lf.write(line)
            if line.lstrip().startswith(('CC ', 'AS ', 'LD ', 'AR ')):
                objs += 1
            now = time.monotonic()
            if now - last > (1 if tty else 30):
                last = now
                pct = f' ({min(99, 100 * objs // expect)}%)' if expect else ''
                msg = (f'[kit] {name}: building, {objs} objects{pct}, '
                       f'{now - t0:.0f}s')
                print(('\r' + msg) if tty else msg, end='' if tty else '\n',
                      file=sys.stderr, flush=True)
        rc = p.wait()
    if tty:
        print(file=sys.stderr)
    if rc:
        tail = ''.join(open(logf).readlines()[-25:])
        raise KitError(f'{name}: kernel build failed; last lines of {logf}:\n'
                       f'{tail}')
    if objs > expect:
        with open(statf, 'w') as f:
            f.write(str(objs))


def list_images():
    return sorted(glob.glob(os.path.join(cache_dir(), 'kernels', '*',
                                         'bzImage')))


def uapi_headers(src, a=None):
    """The source's UAPI headers (make headers) for arch `a`, for building
    selftests: headers/<source> for x86_64, headers/<source>-arm64."""
    a = a or arch.current()
    hdir = os.path.join(cache_dir(), 'headers',
                        '-'.join(p for p in (src.id, a.label) if p))
    inc = os.path.join(hdir, 'usr', 'include')
    cache.use(hdir)
    if os.path.exists(os.path.join(hdir, '.kit-ready')):
        return inc
    os.makedirs(hdir, exist_ok=True)
    with open(os.path.join(src.path, '.kit-lock'), 'w') as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        with Phase('uapi headers'):
            cross = ([f'CROSS_COMPILE={a.cross_compile}']
                     if a.cross_compile else [])
            run(['make', '-s', '-C', src.path, f'O={hdir}',
                 f'ARCH={a.kbuild}'] + cross + ['headers'],
                what='make headers')
    open(os.path.join(hdir, '.kit-ready'), 'w').close()
    return inc


def w1_dir(src, cdig):
    """The W=1 build directory of the config with digest `cdig`."""
    return os.path.join(cache_dir(), 'build', f'{src.id}-{cdig}-W1')


def w1_configured(src, spec, a):
    """Whether the W=1 build directory of `spec` for arch `a` has been
    configured (a W=1 build ran)."""
    cdig = config_digest(fragment_paths(spec.configs, src.series_ver, a), a)
    return os.path.exists(os.path.join(w1_dir(src, cdig), '.kit-config'))


def w1_warnings(src, spec, files, a=None):
    """Compiler warnings with W=1 for `files` (objects) of kernel `spec`,
    built for arch `a` (ARCH=, or a build-only arch of arch.BUILD_ONLY).

    Built in a build directory of its own, so the W=1 flags never leak into
    the cached kernels' objects.  Returns the warning lines, with the
    object path, in the order the compiler printed them.
    """
    a = a or arch.current()
    frags = fragment_paths(spec.configs, src.series_ver, a)
    cdig = config_digest(frags, a)
    bdir = w1_dir(src, cdig)
    cache.use(bdir)
    os.makedirs(bdir, exist_ok=True)
    with open(os.path.join(src.path, '.kit-lock'), 'w') as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        src.checkout(spec.series)
        stamp = os.path.join(bdir, '.kit-config')
        if not (os.path.exists(stamp) and open(stamp).read() == cdig):
            configure(src, bdir, frags, a)
            with open(stamp, 'w') as f:
                f.write(cdig)
        for f in files:
            obj = os.path.join(bdir, f)
            if os.path.exists(obj):
                os.unlink(obj)
        r = subprocess.run(kmake(src, bdir, 'W=1', f'-j{os.cpu_count()}',
                                 *files, a=a), capture_output=True,
                           text=True, env=kbuild_env())
    if r.returncode:
        raise KitError(f'W=1 build of {" ".join(files)} for {spec.name} '
                       f'({a.name}) failed:\n'
                       f'{(r.stdout + r.stderr)[-2000:]}')
    return [l for l in r.stderr.splitlines() if 'warning:' in l]


DEBIAN_IMAGE = 'linux-image-amd64'


def debian_image():
    """Debian's own kernel image, unpacked (never installed) in the cache.

    The metapackage names the current image package; apt-get download and
    dpkg-deb -x put its vmlinuz under $KIT_CACHE/prebuilt/.
    """
    dep = subprocess.run(['apt-cache', 'depends', DEBIAN_IMAGE],
                         capture_output=True, text=True).stdout
    m = re.search(r'Depends: (linux-image-\S+)', dep)
    if not m:
        raise KitError(f'apt-cache depends {DEBIAN_IMAGE} names no image '
                       f'package: run apt-get update')
    pkg = m.group(1)
    pdir = os.path.join(cache_dir(), 'prebuilt', pkg)
    cache.use(pdir)
    found = glob.glob(os.path.join(pdir, 'root', 'boot', 'vmlinuz-*'))
    if found:
        return found[0]
    os.makedirs(pdir, exist_ok=True)
    with Phase(f'download {pkg}'):
        run(['apt-get', 'download', pkg], cwd=pdir, what=f'apt-get download '
            f'{pkg}')
        deb = glob.glob(os.path.join(pdir, f'{pkg}_*.deb'))[0]
        run(['dpkg-deb', '-x', deb, os.path.join(pdir, 'root')],
            what=f'dpkg-deb -x {deb}')
        os.unlink(deb)
    return glob.glob(os.path.join(pdir, 'root', 'boot', 'vmlinuz-*'))[0]


def image_version(image):
    """The release a bzImage announces (file(1) reads its header)."""
    if not os.path.exists(image):
        raise KitError(f'KERNEL={image}: no such file')
    out = subprocess.run(['file', '-bL', image], capture_output=True,
                         text=True).stdout
    m = re.search(r'version (\S+)', out)
    if 'Linux kernel x86 boot executable' not in out or not m:
        raise KitError(f'KERNEL={image} is not an x86 bzImage: {out.strip()}')
    return m.group(1)


def export(src, series, paths):
    """Files of `paths` as the tree reads with `series` applied.

    For what is built from the source besides the kernel (the selftests,
    which a series may extend): a copy under the cache, keyed by the
    series, so the shared tree's checkout never matters.
    """
    pdig = patch_digest(src.series_files(series))
    dest = os.path.join(cache_dir(), 'export', f'{src.id}-{pdig}')
    cache.use(dest)
    if os.path.exists(os.path.join(dest, '.kit-ready')):
        return dest
    with open(os.path.join(src.path, '.kit-lock'), 'w') as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        branch = f'kit-{pdig}'
        if subprocess.run(GIT + ['rev-parse', '-q', '--verify', branch],
                          cwd=src.path, capture_output=True).returncode:
            src.checkout(series)
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        arch = subprocess.run(GIT + ['archive', branch] + paths,
                              cwd=src.path, capture_output=True)
        if arch.returncode:
            raise KitError(f'git archive {branch} {" ".join(paths)}: '
                           f'{arch.stderr.decode().strip()}')
        subprocess.run(['tar', '-x', '-C', dest], input=arch.stdout,
                       check=True)
    open(os.path.join(dest, '.kit-ready'), 'w').close()
    return dest
