# SPDX-License-Identifier: GPL-2.0
"""Boot one kernel in QEMU, capture its console and its results.

The kernel console goes to ttyS0 -> console.log; the runner's KTAP goes to
ttyS1 -> results.ktap, a channel of its own so kernel messages can never
corrupt results.  An arm64 guest (ARCH=arm64, QEMU's virt machine) has its
console on the PL011 (ttyAMA0) and its results on a virtio console
(/dev/hvc0), which the command line names to /init (kit.results=).  The
guest reboots when done and -no-reboot turns that into
QEMU's exit.  A guest that outlives TIMEOUT seconds is killed and reported
as TIMEOUT with the last console lines; an oops, BUG, WARNING, panic, KASAN
or lockdep report anywhere in the console fails the kernel.
"""

import fcntl
import os
import re
import shutil
import subprocess
import time

from . import arch
from .util import KIT_ROOT, KitError, cache_dir, digest, log, out_dir

QEMU = 'qemu-system-x86_64'
# Where /init writes the results unless kit.results= says otherwise.
DEFAULT_RESULTS = '/dev/ttyS1'
KVM_GET_API_VERSION = 0xAE00
# What a kernel prints when it is in trouble (see lib/bug.c, kernel/panic.c,
# mm/kasan/report.c, kernel/locking/lockdep.c).
SPLAT = re.compile(r'(Oops|BUG:|WARNING:|Kernel panic|KASAN|'
                   r'general protection fault|possible circular locking|'
                   r'INFO: possible|INFO: task .* blocked|'
                   r'unable to handle)')


def accel(image=None, initrd=None):
    """Pick kvm or tcg, and say why.

    /dev/kvm can exist and answer KVM_GET_API_VERSION and still fail to run
    a guest (nested virtualisation: "KVM internal error", or a silent hang).
    So the first time, a short probe boot decides; its verdict is cached per
    host kernel and QEMU version.  ACCEL=kvm|tcg skips the probe.
    """
    forced = os.environ.get('ACCEL')
    a = arch.current()
    if forced:
        if forced not in ('kvm', 'tcg'):
            raise KitError(f'ACCEL={forced}: want kvm or tcg')
        if forced == 'kvm' and a.name != arch.host():
            raise KitError(f'ACCEL=kvm: KVM on this {arch.host()} host '
                           f'cannot run an {a.name} guest')
        return forced, 'ACCEL= set'
    if a.name != arch.host():
        # KVM runs guests of the host's own architecture only; the probe
        # boot below is an x86 one.
        return 'tcg', (f'{a.name} guest on an {arch.host()} host: KVM '
                       f'cannot run it, TCG (multi-threaded) emulates it')
    try:
        fd = os.open('/dev/kvm', os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return 'tcg', f'/dev/kvm: {e.strerror}'
    try:
        ver = fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError as e:
        return 'tcg', f'/dev/kvm: KVM_GET_API_VERSION: {e.strerror}'
    finally:
        os.close(fd)
    if ver != 12:
        return 'tcg', f'/dev/kvm: API version {ver}'
    qver = subprocess.run([QEMU, '--version'], capture_output=True,
                          text=True).stdout.split('\n')[0]
    verdict = os.path.join(cache_dir(), 'accel-' +
                           digest(os.uname().release, qver))
    if os.path.exists(verdict):
        acc, why = open(verdict).read().split(' ', 1)
        return acc, why.strip() + ' (cached probe)'
    if not image:
        return 'tcg', 'no kernel to probe KVM with'
    log('probing KVM with a 20 s test boot')
    r = boot(image, initrd, os.path.join(out_dir(), 'kvm-probe'), 20,
             acc=('kvm', 'probe'))
    if r['init_at'] is not None:
        acc, why = 'kvm', 'KVM probe boot reached /init'
    else:
        err = [l for l in r['qemu_output'].splitlines() if 'KVM' in l]
        acc, why = 'tcg', ('KVM probe boot failed: ' +
                           (err[0] if err else f'status {r["status"]}'))
    with open(verdict, 'w') as f:
        f.write(f'{acc} {why}\n')
    return acc, why


DEFAULT_VCPUS = 2


def vcpus():
    """VCPUS=: the guest's CPUs (validated by cli.validate())."""
    return int(os.environ.get('VCPUS') or DEFAULT_VCPUS)


def smp(n, a=None):
    """-smp for `n` CPUs the guest kernel really brings up.

    The kit's kernels have no ACPI, so the guest learns its CPUs from
    QEMU's MP table, and QEMU 7.2 describes one processor per socket there:
    a plain "-smp 2" boots one CPU.  One core per socket gives all of them
    at no boot cost (ACPI would add its tables' parsing to every boot).

    arm64's virt machine describes every CPU in the device tree it hands
    the kernel (a cpu node each, started through PSCI), whatever the
    topology: a plain "-smp N" brings up N.
    """
    a = a or arch.current()
    if a.name == 'arm64':
        return str(n)
    return f'{n},sockets={n},cores=1,threads=1'


def machine_args(a, acc, console, results, icount=False):
    """What tells one QEMU machine from the other: the board and CPU, the
    accelerator, the console and the results channel.  With `icount` TCG
    stays single-threaded: QEMU refuses -icount with multi-threaded TCG."""
    if a.name == 'arm64':
        # virt with a GICv3 (GICv2 stops at 8 CPUs); -cpu max, its pointer
        # authentication with QEMU's cheap implementation-defined hash
        # instead of the architected QARMA, which TCG computes slowly on
        # every signed return of a kernel built with ARM64_PTR_AUTH (the
        # guest cannot tell the difference).
        # Multi-threaded TCG: one host thread per vCPU, as the race
        # scenarios need.  Results: a virtio console over virtio-mmio,
        # /dev/hvc0 in the guest.
        return ['-machine', 'virt,gic-version=3',
                '-cpu', 'max,pauth-impdef=on',
                '-accel', (f'{acc},thread=multi'
                           if acc == 'tcg' and not icount else acc),
                '-serial', f'file:{console}',
                '-device', 'virtio-serial-device',
                '-chardev', f'file,id=res,path={results}',
                '-device', 'virtconsole,chardev=res']
    return ['-accel', acc, '-serial', f'file:{console}',
            '-serial', f'file:{results}']


FEATURES_TSV = os.path.join(KIT_ROOT, 'repro', 'qemu-features.tsv')


def features(image):
    """What the guest gets besides CPUs and memory: the features of
    repro/qemu-features.tsv whose option the kernel's cached .config has."""
    cfg = os.path.join(os.path.dirname(image), '.config')
    if not os.path.exists(cfg):
        return []
    have = set(re.findall(r'^(CONFIG_\w+)=y$', open(cfg).read(), re.M))
    out = []
    with open(FEATURES_TSV) as f:
        for line in f:
            cols = line.split('#', 1)[0].split('\t')
            if (len(cols) >= 2 and cols[0].strip() in have and
                    cols[1].strip() not in out):
                out.append(cols[1].strip())
    return out


SLOW_FACTOR = 3


def time_scale(image):
    """How much longer than TIMEOUT and SCENARIO_TIMEOUT a guest of this
    kernel is given: SLOW_FACTOR for the 'slow' feature (KASAN, lockdep)."""
    return SLOW_FACTOR if 'slow' in features(image) else 1


def disk_args(outdir):
    """A swap disk and an ext4 disk, fresh for each boot (sparse files,
    made with util-linux's mkswap and e2fsprogs' mkfs.ext4)."""
    args = []
    for name, size, mk in (('swap.img', '256M', ['mkswap', '-q']),
                           ('ext4.img', '512M', ['mkfs.ext4', '-q', '-F'])):
        path = os.path.join(outdir, name)
        if os.path.exists(path):
            os.unlink(path)
        subprocess.run(['truncate', '-s', size, path], check=True)
        r = subprocess.run(mk + [path], capture_output=True, text=True)
        if r.returncode:
            raise KitError(f'{" ".join(mk)} {path}: {r.stderr.strip()}')
        args += ['-drive', f'file={path},if=virtio,format=raw']
    return args


def numa_args(mem_mb, cpus):
    """Two NUMA nodes, half the memory and half the CPUs each."""
    half, c = mem_mb // 2, max(1, cpus // 2)
    first = f'0-{c - 1}' if c > 1 else '0'
    rest = f'{c}-{cpus - 1}' if cpus - c > 1 else str(cpus - 1)
    return ['-object', f'memory-backend-ram,id=m0,size={half}M',
            '-object', f'memory-backend-ram,id=m1,size={mem_mb - half}M',
            '-numa', f'node,nodeid=0,memdev=m0,cpus={first}',
            '-numa', f'node,nodeid=1,memdev=m1,cpus={rest}']


def boot(image, initrd, outdir, timeout, mem_mb=1024, cmdline='', acc=None,
         cpus=None, icount=False):
    """Run one guest; return a dict describing how the boot went.

    A guest that brings up fewer CPUs than it was given fails with status
    "cpus": a race test on one CPU would say nothing."""
    cpus = cpus or vcpus()
    target = arch.current()
    if not shutil.which(target.qemu):
        raise KitError(f'{target.qemu} not found: apt-get install '
                       f'{target.qemu_package} (or run "make deps" as root)')
    os.makedirs(outdir, exist_ok=True)
    console = os.path.join(outdir, 'console.log')
    results = os.path.join(outdir, 'results.ktap')
    for f in (console, results):
        if os.path.exists(f):
            os.unlink(f)
    acc, why = acc or accel(image, initrd)
    results_dev = ('' if target.results_device == DEFAULT_RESULTS else
                   f'kit.results={target.results_device}')
    append = ' '.join(p for p in (f'console={target.console} loglevel=5 '
                                  f'panic=-1', results_dev, cmdline.strip())
                      if p)
    cmd = [target.qemu, '-m', str(mem_mb), '-smp', smp(cpus, target),
           '-nographic', '-no-reboot', '-monitor', 'none', '-nic', 'none',
           '-kernel', image, '-initrd', initrd, '-append', append] + \
        machine_args(target, acc, console, results, icount)
    if icount:
        # The guest's clock counts its instructions (1 ns each): a time
        # measured in the guest is an instruction count, whatever else
        # the host does.  TCG only, one vCPU (icount is single-threaded);
        # sleep=off lets an idle guest skip ahead instead of waiting.
        if acc != 'tcg':
            raise KitError('icount needs TCG: run with ACCEL=tcg')
        cmd += ['-icount', 'shift=0,align=off,sleep=off']
    feats = features(image)
    if 'disks' in feats:
        cmd += disk_args(outdir)
    if 'numa' in feats and cpus >= 2:
        cmd += numa_args(mem_mb, cpus)
    t0 = time.monotonic()
    status = 'ok'
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        qout = p.communicate(timeout=timeout)[0].decode(errors='replace')
    except subprocess.TimeoutExpired:
        p.kill()
        qout = p.communicate()[0].decode(errors='replace')
        status = 'TIMEOUT'
    elapsed = time.monotonic() - t0
    text = read(console)
    if status == 'ok' and p.returncode != 0:
        status = 'qemu-error'
    a = analyse(text)
    if status == 'ok':
        status = a['status']
    if status == 'ok' and a['cpus'] != cpus:
        status = 'cpus'
        a['excerpt'] = [f'the guest brought up {a["cpus"]} CPUs, QEMU was '
                        f'given {cpus} (-smp {smp(cpus, target)})']
    # A device QEMU was given and the guest did not use fails the boot too:
    # the scenarios would skip, and say nothing.
    want = {'disks': ('swap', 'ext4'), 'numa': ('nodes',)}
    lost = [k for f in feats if status == 'ok' for k in want.get(f, ())
            if not a['devices'].get(k)]
    if lost:
        status = 'devices'
        a['excerpt'] = [f'QEMU gave the guest {", ".join(feats)}, and /init '
                        f'reported {a["devices"]}: {", ".join(lost)} missing']
    return {
        'status': status,
        'cpus_requested': cpus, 'cpus_online': a['cpus'],
        'features': feats, 'devices': a['devices'],
        'accel': acc, 'accel_reason': why,
        'seconds': round(elapsed, 2), 'timeout': timeout,
        'init_at': a['init_at'], 'done_at': a['done_at'],
        'console': console, 'results': results,
        'excerpt': a['excerpt'] if status != 'ok' else [],
        'splats': a['splats'],
        'known_splats': a['known_splats'],
        'qemu_output': qout.strip()[-2000:],
        'cmdline': append,
    }


KNOWN_SPLATS = os.path.join(KIT_ROOT, 'repro', 'expect', 'known-splats.tsv')


def known_splats(path=KNOWN_SPLATS):
    """(pattern, why) of repro/expect/known-splats.tsv."""
    known = []
    with open(path) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            pattern, why = line.rstrip('\n').split('\t', 1)
            known.append((re.compile(pattern), why.strip()))
    return known


def analyse(text, known=None):
    """What a console log says: when /init ran, whether it finished, and
    the first kernel splat (with the lines around it) if there is one.
    Splats of known-splats.tsv are listed apart and fail nothing."""
    known = known_splats() if known is None else known
    lines = text.splitlines()
    init_at = re.search(r'kit: init at ([\d.]+) s', text)
    cpus = re.search(r'kit: init at .*, cpus (\d+)', text)
    devices = dict(re.findall(r'kit: device (\w+) (\d+)', text))
    devices = {k: int(v) for k, v in devices.items()}
    done = re.search(r'kit: done at ([\d.]+) s', text)
    splats, seen = [], []
    for i, l in enumerate(lines):
        if not SPLAT.search(l):
            continue
        why = next((w for p, w in known if p.search(l)), None)
        if why:
            seen.append(f'{l.strip()} ({why})')
        else:
            splats.append(i)
    if splats:
        status = 'splat'
    elif not init_at:
        status = 'no-init'
    elif not done:
        status = 'incomplete'
    else:
        status = 'ok'
    i = splats[0] if splats else len(lines) - 23
    return {
        'status': status,
        'init_at': float(init_at.group(1)) if init_at else None,
        'cpus': int(cpus.group(1)) if cpus else None,
        'devices': devices,
        'done_at': float(done.group(1)) if done else None,
        'excerpt': lines[max(0, i - 2):i + 30],
        'splats': [lines[i] for i in splats],
        'known_splats': list(dict.fromkeys(seen)),
    }


ANSI = re.compile(r'\x1b(\[[0-9;?]*[A-Za-z]|c)')


def read(path):
    """A serial log as text: no carriage returns, no SeaBIOS escapes."""
    try:
        with open(path, 'rb') as f:
            text = f.read().decode(errors='replace')
    except FileNotFoundError:
        return ''
    return ANSI.sub('', text.replace('\r', ''))
