# SPDX-License-Identifier: GPL-2.0
"""Debian packages the kit needs: checked, installed as root, else named."""

import glob
import os
import subprocess
import time

from .util import KitError, log

# What each target needs.  Names are Debian 12 package names.
NEEDS = {
    'build': ['gcc', 'make', 'libc6-dev', 'libcap-dev', 'python3', 'file'],
    'repro': ['bc', 'flex', 'bison', 'libelf-dev', 'libssl-dev', 'cpio',
              'busybox-static', 'qemu-system-x86', 'git', 'rsync',
              'xz-utils', 'perl', 'linux-source-{kver}'],
    'htmldocs': ['python3-sphinx', 'python3-sphinx-rtd-theme', 'graphviz'],
}


def installed(pkg):
    r = subprocess.run(['dpkg-query', '-W', '-f=${Status}', pkg],
                       capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.endswith('installed')


def lists_fresh():
    lists = glob.glob('/var/lib/apt/lists/*_Packages')
    return lists and time.time() - min(os.path.getmtime(p)
                                       for p in lists) < 7 * 86400


def ensure(targets, kvers):
    """Install (as root) or name the packages `targets` need; `kvers` are
    the linux-source versions of the run."""
    want = []
    for t in targets:
        for p in NEEDS[t]:
            want += [p.format(kver=k) for k in kvers] if '{kver}' in p \
                else [p]
    if os.environ.get('KSRC'):
        want = [p for p in want if not p.startswith('linux-source-')]
    missing = [p for p in dict.fromkeys(want) if not installed(p)]
    if not missing:
        return
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


def run(cmd):
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        raise KitError(f'{" ".join(cmd)} failed:\n{r.stdout[-1500:]}'
                       f'{r.stderr[-1500:]}', status=2)
