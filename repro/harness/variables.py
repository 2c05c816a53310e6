# SPDX-License-Identifier: GPL-2.0
"""The make variables the README lists, checked before any work.

Each variable is a row: its name, what it accepts, and the check.  A wrong
value is one line naming the variable, the value and what is accepted, and
exit status 2, before a package is installed, a kernel built or a guest
booted.  The cheap checks run first; KVER's availability (an apt lookup)
last.
"""

import os
import re

from .util import KIT_ROOT, KitError

BUILD_MK = os.path.join(KIT_ROOT, 'repro', 'build.mk')
KVER_RE = re.compile(r'^\d+\.\d+$')


class Bad(Exception):
    """A value a check refuses; the text says why, if more than the row's
    'accepts' does."""


def words(value):
    return value.split()


def boolean(value):
    if value not in ('0', '1'):
        raise Bad()


def integer(lo, hi):
    def check(value):
        if not re.fullmatch(r'\d+', value) or not lo <= int(value) <= hi:
            raise Bad()
    check.accepts = f'an integer from {lo} to {hi}'
    return check


def choice(*values):
    def check(value):
        if value not in values:
            raise Bad()
    check.accepts = ' or '.join(values)
    return check


def known_scenarios():
    """Scenario and client names of repro/build.mk: what `make` builds."""
    names = []
    with open(BUILD_MK) as f:
        for line in f:
            m = re.match(r'^REPRO_(SCENARIOS|CLIENTS) :=(.*)$', line)
            if m:
                names += m.group(2).split()
    return names


def scenarios(value):
    known = known_scenarios() + ['standalone']
    unknown = [n for n in words(value) if n not in known]
    if unknown:
        raise Bad(f'unknown {" ".join(unknown)}')


def guest_env(value):
    bad = [w for w in words(value) if not re.fullmatch(r'KIT_[A-Z0-9_]+=\S+',
                                                       w)]
    if bad:
        raise Bad(f'{" ".join(bad)}')


def kernels(value):
    from . import kernel
    table = kernel.load_kernels()
    names = words(value)
    if not names:
        raise Bad('empty')
    unknown = [n for n in names if n not in table]
    if unknown:
        raise Bad(f'unknown {" ".join(unknown)}')


def kver_format(value):
    bad = [v for v in words(value) if not KVER_RE.match(v)]
    if bad or not words(value):
        raise Bad(f'{" ".join(bad) or "empty"} is not <major>.<minor>')


def kernel_images(value):
    from . import kernel
    for v in words(value):
        if v == 'debian':
            continue
        if not os.path.isfile(v):
            raise Bad(f'{v}: no such file')
        try:
            kernel.image_version(v)
        except KitError as e:
            raise Bad(str(e).split(': ', 1)[-1])


def ksrc(value):
    from . import kernel
    try:
        kernel.Source.check_tree(os.path.abspath(value), 'KSRC')
    except KitError as e:
        raise Bad(str(e).split(' is not ', 1)[-1])


def directory(value):
    """A directory the kit can create and write."""
    path = os.path.abspath(os.path.expanduser(value))
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise Bad(f'{probe} is not a directory')
    if not os.access(probe, os.W_OK | os.X_OK):
        raise Bad(f'{probe} is not writable')


def arch_name(value):
    from . import arch
    if value not in arch.names():
        raise Bad()


arch_name.accepts = 'x86_64 or arm64'

# name, check, what it accepts (the README's words)
VARIABLES = [
    ('ARCH', arch_name, None),
    ('KERNELS', kernels, 'rows of repro/kernels.tsv'),
    ('KVER', kver_format, 'Debian linux-source versions such as "7.3" or '
     '"6.1 6.12"'),
    ('KERNEL', kernel_images, '"debian" or paths of x86 bzImages'),
    ('KSRC', ksrc, 'a kernel source tree'),
    ('HOST', boolean, '0 or 1'),
    ('SCENARIOS', scenarios, 'names of REPRO_SCENARIOS and REPRO_CLIENTS in '
     'repro/build.mk'),
    ('SELFTESTS', boolean, '0 or 1'),
    ('CLIENTS', boolean, '0 or 1'),
    ('TIMEOUT', integer(10, 86400), None),
    ('SCENARIO_TIMEOUT', integer(5, 3600), None),
    ('JOBS', integer(1, 64), None),
    ('VCPUS', integer(1, 64), None),
    ('ACCEL', choice('kvm', 'tcg'), None),
    ('O', directory, 'a directory the kit can create and write'),
    ('KIT_CACHE', directory, 'a directory the kit can create and write'),
    ('KIT_CACHE_KEEP', integer(1, 1000), None),
    ('BENCH_BOOTS', integer(1, 50), None),
    ('GUEST_ENV', guest_env, 'KIT_NAME=value words, handed to every '
     'reproducer in the guest'),
]


def check(env=None, available=True):
    """Check every variable set in `env` (default: the environment); with
    `available`, also that Debian carries each KVER."""
    env = os.environ if env is None else env
    for name, fn, accepts in VARIABLES:
        value = env.get(name)
        if value is None or (value == '' and name != 'KERNELS'):
            continue
        try:
            fn(value)
        except Bad as e:
            why = f' ({e})' if str(e) else ''
            raise KitError(f'{name}={value!r}: not accepted{why}; '
                           f'{name} takes {accepts or fn.accepts}', status=2)
    if env.get('KVER') and env.get('KSRC'):
        raise KitError(f'KVER={env["KVER"]!r} and KSRC={env["KSRC"]!r}: '
                       f'give one source, a Debian version or a tree',
                       status=2)
    arch_combinations(env)
    if available and env.get('KVER') and not env.get('KSRC'):
        from . import sources
        for v in words(env['KVER']):
            sources.check_available(v)
    series_exist(env)


def arch_combinations(env):
    """What a foreign ARCH cannot do: a prebuilt KERNEL= is read as an x86
    bzImage, HOST=1 runs the reproducers of the guest's arch on this host,
    and KVM runs only guests of the host's own arch."""
    from . import arch
    a = env.get('ARCH') or arch.DEFAULT
    if a == arch.host():
        return
    for name, bad, why in (
            ('KERNEL', env.get('KERNEL'), 'prebuilt kernels are x86 '
             'bzImages'),
            ('HOST', env.get('HOST', '0') not in ('', '0'), 'the host runs '
             f'{arch.host()}, the reproducers are built for {a}'),
            ('ACCEL', env.get('ACCEL') == 'kvm', f'KVM on a {arch.host()} '
             f'host cannot run an {a} guest; use ACCEL=tcg or leave it '
             f'unset')):
        if bad:
            raise KitError(f'{name}={env[name]!r} with ARCH={a}: not '
                           f'accepted ({why})', status=2)


def series_exist(env):
    """Every kernel of KERNELS has its series for every version of KVER."""
    from . import kernel
    if env.get('KSRC'):
        return
    table = kernel.load_kernels()
    names = words(env.get('KERNELS') or 'stock patched')
    for v in words(env.get('KVER') or kernel.DEFAULT_KVER):
        for n in names:
            series = table[n].series
            if series == '-':
                continue
            path = os.path.join(kernel.PATCH_DIR, series.format(ver=v))
            if not os.path.exists(path):
                raise KitError(f'KERNELS={n} with KVER={v}: '
                               f'{os.path.relpath(path, KIT_ROOT)} does not '
                               f'exist; kernel-patch/ has series for '
                               f'{", ".join(series_versions())}', status=2)


def series_versions():
    d = os.path.join(KIT_ROOT, 'kernel-patch')
    return sorted(n[1:] for n in os.listdir(d)
                  if n.startswith('v') and
                  os.path.exists(os.path.join(d, n, 'series')))
