# SPDX-License-Identifier: GPL-2.0
"""make bench: fault costs that hold still, and where the cost goes.

Each kernel boots BENCH_BOOTS times with only repro/bench/fault-bench in
two modes:

  icount  QEMU -icount shift=0, one vCPU: the guest's clock counts the
          instructions it executes, so a "ns" the benchmark measures is an
          instruction count, the same whatever the host is doing
  wall    plain TCG, one vCPU: emulated time, which varies with the host

For every case and fact, the median of each boot (the benchmark's own
median over its repetitions) is reduced to min/median/max across boots.
The icount boots also sample the kernel with profile= (/proc/profile): the
buckets fault-bench prints are mapped to functions with the kernel's
System.map, giving per case the functions its faults spend instructions
in, and the difference between the hole fault and the anonymous fault.
"""

import bisect
import os
import re
import statistics

from . import arch, initramfs, kernel, qemu, results
from .util import KitError, Phase, out_dir

BENCH = 'fault-bench'
BENCH_BOOTS = 5
MODES = ('icount', 'wall')
PROFILE_SHIFT = 2
# Facts reduced across boots; the others are taken from the first boot.
SPREAD = ('ns_per_fault', 'ratio_to_anon', 'ratio_to_hugetlb_shared',
          'pages_per_fault', 'faults_per_mib', 'capacity_fraction')
PROFILE = re.compile(r'^profile ([\w-]+): (\d+) (\d+)$')


PROFILE_SECONDS = 4


def profile_args(mode, n):
    """The first icount boot also profiles: profile= on the kernel's
    command line, and the time the benchmark's profile phase runs (the
    kernel hands KIT_PROFILE_SECONDS to it as environment)."""
    if mode == 'icount' and n == 0:
        return (f'profile={PROFILE_SHIFT} '
                f'KIT_PROFILE_SECONDS={PROFILE_SECONDS}')
    return ''


def boots():
    return int(os.environ.get('BENCH_BOOTS') or BENCH_BOOTS)


def run(specs, src, args, boot_args):
    """Boot every kernel BENCH_BOOTS times per mode; one doc per kernel."""
    images = [kernel.build(spec, src) for spec in specs]
    entries = [{'mode': 'ktap', 'name': BENCH,
                'path': os.path.join(args.bindir, BENCH), 'args': []}]
    initrd = initramfs.build(os.path.join(args.bindir, 'runner'), entries,
                             os.path.join(out_dir(), 'initramfs-bench.cpio'))
    # An arm64 bench goes beside the x86 one (results/bench-arm64/), not
    # over it: the snapshot's bench.json is x86_64's.
    a = arch.current()
    outdir = os.path.join(out_dir(), 'results',
                          '-'.join(p for p in ('bench', a.label) if p))
    docs = []
    for spec, (image, version) in zip(specs, images):
        per_mode = {}
        for mode in MODES:
            runs = []
            for n in range(boots()):
                kdir = os.path.join(outdir, spec.name, f'{mode}-{n}')
                with Phase(f'{spec.name}: bench {mode} {n + 1}/{boots()}'):
                    boot = qemu.boot(
                        image, initrd, kdir, args.timeout, acc=('tcg', mode),
                        cpus=1, icount=mode == 'icount',
                        cmdline=boot_args(args, icount=mode == 'icount',
                                          extra=profile_args(mode, n)))
                d = results.collect(arch.label(version, spec.name), version,
                                    spec.model, qemu.read(boot['results']),
                                    [BENCH], boot)
                if boot['status'] != 'ok' or d['parse_error']:
                    raise KitError(f'{spec.name}: bench boot {mode} {n} '
                                   f'ended {boot["status"]}: '
                                   f'{boot["console"]}')
                runs.append(d)
            per_mode[mode] = runs
        doc = reduce(per_mode, spec, version, src)
        doc['profile'] = profile(per_mode['icount'][0], image)
        docs.append(doc)
    return docs, outdir


def cases(doc):
    return {c['name']: c for s in doc['scenarios'] for c in s['cases']
            if c['name']}


def spread(values):
    nums = sorted(float(v) for v in values)
    return {'min': nums[0], 'median': statistics.median(nums),
            'max': nums[-1], 'n': len(nums)}


def reduce(per_mode, spec, version, src):
    """One document: the first icount boot's cases, each fact of SPREAD
    replaced by {mode: {min, median, max, n}} over the boots."""
    first = per_mode['icount'][0]
    doc = {k: first[k] for k in ('label', 'kernel', 'model', 'date',
                                 'machine')}
    doc['source'] = src.describe()
    doc['boots'] = {m: [r['boot'] for r in runs]
                    for m, runs in per_mode.items()}
    out = []
    for name, c in cases(first).items():
        case = {'name': name, 'status': c['status'],
                'facts': dict(c.get('facts', {})), 'spread': {}}
        for mode, runs in per_mode.items():
            for f in SPREAD:
                vals = [cases(r).get(name, {}).get('facts', {}).get(f)
                        for r in runs]
                if all(v is not None for v in vals) and vals:
                    case['spread'].setdefault(f, {})[mode] = spread(vals)
        # The fact compare() and the pages read: the icount median.
        for f, modes in case['spread'].items():
            m = modes.get('icount') or modes.get('wall')
            case['facts'][f] = f'{m["median"]:.2f}'
        bad = [r for r in (per_mode['icount'] + per_mode['wall'])
               if cases(r).get(name, {}).get('status') not in ('ok', 'skip')]
        if bad:
            case['status'] = 'not ok'
        out.append(case)
    doc['scenarios'] = [{'name': BENCH, 'status': 'ok', 'cases': out,
                         'diag': []}]
    return doc


def symbols(system_map):
    """(sorted addresses, names) of the text symbols of a System.map."""
    addrs, names = [], []
    with open(system_map) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[1] in 'tTwW':
                addrs.append(int(parts[0], 16))
                names.append(parts[2])
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order]


def profile(doc, image):
    """{case: [(function, samples), ...]} from the buckets fault-bench
    printed, mapped with the System.map cached next to the image."""
    smap = os.path.join(os.path.dirname(image), 'System.map')
    if not os.path.exists(smap):
        return {}
    addrs, names = symbols(smap)
    stext = next((a for a, n in zip(addrs, names) if n == '_stext'), None)
    if stext is None:
        return {}
    shift = PROFILE_SHIFT
    out = {}
    for s in doc['scenarios']:
        for c in s['cases']:
            for d in c.get('diag', []):
                m = PROFILE.match(d)
                if not m:
                    continue
                case, bucket, count = m.group(1), int(m.group(2)), \
                    int(m.group(3))
                if 'profile_shift' in c.get('facts', {}):
                    shift = int(c['facts']['profile_shift'])
                addr = stext + (bucket << shift)
                i = bisect.bisect_right(addrs, addr) - 1
                fn = names[i] if i >= 0 else '?'
                out.setdefault(case, {})
                out[case][fn] = out[case].get(fn, 0) + count
    return {case: sorted(fns.items(), key=lambda x: -x[1])
            for case, fns in out.items()}


def fmt_spread(sp, digits=0):
    if not sp:
        return '-'
    f = f'{{:.{digits}f}}'
    return (f'{f.format(sp["median"])} '
            f'[{f.format(sp["min"])}-{f.format(sp["max"])}]')


def table(docs):
    """Per case: instructions per fault (icount) with its spread over the
    boots, the ratio to the anonymous fault, the wall-clock ratio, pages
    per fault; then capacity; then the profiles."""
    head = ['case'] + [d['label'] for d in docs]
    names = []
    for d in docs:
        names += [n for n in cases(d) if n not in names]
    rows = []
    for n in names:
        row = [n]
        for d in docs:
            c = cases(d).get(n)
            if not c:
                row.append('missing')
                continue
            if c['status'] == 'skip':
                row.append('SKIP')
                continue
            sp = c['spread']
            if 'capacity_fraction' in sp:
                row.append('fits ' + fmt_spread(
                    sp['capacity_fraction'].get('icount'), 2) +
                    ' of memory.max')
                continue
            ratio = sp.get('ratio_to_anon') or sp.get(
                'ratio_to_hugetlb_shared') or {}
            cell = [fmt_spread(sp.get('ns_per_fault', {}).get('icount')) +
                    ' instr']
            if ratio:
                cell.append(f'{fmt_spread(ratio.get("icount"), 2)}x ' +
                            ('anon' if 'ratio_to_anon' in sp else
                             'shared hugetlb'))
                if ratio.get('wall'):
                    cell.append(f'wall {fmt_spread(ratio["wall"], 2)}x')
            cell.append(f'{c["facts"].get("pages_per_fault", "?")} pages')
            fpm = c['facts'].get('faults_per_mib')
            if fpm and float(fpm) not in (256, 0):
                cell.append(f'{float(fpm):.1f} faults/MiB')
            row.append(', '.join(cell))
        rows.append(row)
    out = results.columns(head, rows)
    out.append('')
    out.append(f'instr: guest instructions per fault under QEMU -icount '
               f'shift=0 (median [min-max] of {boots()} boots, each the '
               f'median of its repetitions); x: against the anonymous '
               f'fault of the same boot; wall: the same ratio in plain TCG '
               f'time.')
    for d in docs:
        prof = d.get('profile') or {}
        for case in ('memfd', 'anon'):
            if case in prof:
                top = ', '.join(f'{fn} {n}' for fn, n in prof[case][:8])
                out.append(f'{d["label"]} profile {case}: {top}')
    return '\n'.join(out)

