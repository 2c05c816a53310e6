#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""One source for every number: the README's figures from the snapshot.

  figures.py update   rewrite the generated blocks of README.md
  figures.py check    exit 1 if a block is stale, or if README.md or a
                      commit message of the series quotes a measured
                      number the snapshot does not contain

A generated block sits between "<!-- kit:NAME -->" and "<!-- /kit -->"
lines; GENERATORS below make each from rfc/results/ (the run documents,
bench.json, timings.json, cache.json).  Outside the blocks, a number with
a unit of measure (s, min, x, KiB, MiB, GiB, %, pages, faults/s) must be
one the snapshot holds, or one of ALLOWED: constants the kit sets (a
timeout, a width), not measurements.  The commit messages of
kernel-patch/v<KVER>/ are held to the same rule.
"""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), '_ext'))

import kitdata  # noqa: E402
from repro.harness import kernel, results  # noqa: E402

ROOT = kitdata.KIT_ROOT
README = os.path.join(ROOT, 'README.md')
BLOCK = re.compile(r'(<!-- kit:([a-z0-9-]+) -->\n)(.*?)(<!-- /kit -->)',
                   re.S)
# A number followed by a unit of measure: what a reader takes as measured.
MEASURED = re.compile(
    r'(?<![\w.-])(\d+(?:\.\d+)?)\s?(s|min|x|KiB|MiB|GiB|kB|MB|%|pages?'
    r'|faults/s|races/s|ns|instructions)\b')
# Constants of the kit and of the machine, not measurements; each with
# where it is set.
ALLOWED = {
    ('120', 'columns'), ('90', 'min'), ('90', 's'), ('900', 's'),
    ('420', 's'), ('64', 'MiB'), ('96', 'MiB'), ('128', 'MiB'),
    ('1', 'GiB'), ('24', 'GiB'), ('2', 'MiB'), ('4', 'KiB'), ('64', 'KiB'),
    ('8', 'GiB'), ('300', 'ms'), ('256', 'pages'), ('3', 'runs'),
}


def snap():
    return kitdata.Snapshot()


def docs(s, names):
    return [s.doc(n) for n in names]


def fence(lines):
    return '```\n' + '\n'.join(lines).rstrip('\n') + '\n```\n'


# The cases the README's tables show: one or two per question of the debate.
VERDICT_CASES = (
    'private-write-hole/memfd', 'private-write-hole/store-tmpfs-huge',
    'uffd-missing/private-memfd', 'uffd-copy-isolation/private-memfd',
    'uffd-minor-wp/minor-private-memfd', 'thp-amplification/memfd-mthp64',
    'memcg-charge/memfd', 'qemu-private-backend/memfd-private',
    'stress-truncate-race/pair', 'standalone/memfd',
    'private-store-effects/full-tmpfs',
    'private-store-effects/uffd-later-memfd',
    'private-store-effects/sealed-memfd',
    'selftest-shmem-private-cow/exit')


def verdict_table(s, k, width):
    """make repro's table of kernels `k`, cut to VERDICT_CASES."""
    text = results.terminal_table(docs(s, k), s.models, width=width)
    out, last = [], False
    labels = tuple(s.doc(x)['label'] for x in k)
    for line in text.split('\n'):
        head = line.split(' ', 1)[0]
        # A kernel's line wraps: its continuation is indented.
        keep_it = (line.startswith('case ') or head in VERDICT_CASES or
                   line.startswith(labels) or
                   (last and line.startswith('    ')))
        if keep_it:
            out.append(line)
        last = keep_it and (line.startswith(labels) or
                            line.startswith('    '))
    return fence(out)


def gen_verdicts(s):
    """What make repro prints on the RFC's kernel line, a selection."""
    v = kernel.DEFAULT_KVER
    return verdict_table(s, [f'{v}-stock', f'{v}-patched'], 100)


def gen_arches(s):
    """The RFC's kernel line on x86_64 and on arm64, side by side."""
    v = kernel.DEFAULT_KVER
    k = [f'{v}-stock', f'{v}-patched', f'{v}-arm64-stock',
         f'{v}-arm64-patched']
    missing = [x for x in k if x not in s.kernels]
    if missing:
        return fence([f'not in the snapshot: {" ".join(missing)} '
                      f'(make repro ARCH=arm64, then make rfc-snapshot)'])
    return verdict_table(s, k, 120)


def gen_other(s):
    """Every other kernel of the snapshot: what it matched."""
    out = []
    for name in s.kernels + list(s.host):
        d = s.doc(name)
        src = results.where_from(d)
        b = d.get('boot') or {}
        where = (f'{b.get("accel")}, {b.get("cpus_online")} CPUs'
                 if b else 'the host')
        if d.get('outcome') == 'splats':
            what = f'expected to crash: {d["verdict"]}'
        else:
            what = (f'model {d.get("model") or "none"}: {d["verdict"]}; '
                    f'matches {", ".join(d.get("matches") or []) or "none"}')
        out.append(f'{name:24} {d["kernel"]}{src}, {where}; {what}')
    return fence(out)


def gen_races(s):
    """The two-CPU pair race on every kernel that ran it."""
    out = ['kernel                    races   per s  CPUs  beyond EOF']
    for name in s.kernels:
        c = kitdata.case(s.doc(name), 'stress-truncate-race/pair')
        if c is None or c['status'] == 'skip' or not c['facts']:
            continue
        f = c['facts']
        out.append(f'{name:24} {f["pair_iterations"]:>7} '
                   f'{f["pair_per_second"]:>7}  {f["pair_cpus"]:>4}  '
                   f'{f["pair_beyond_eof_hits"]:>10}')
    return fence(out)


def timings():
    path = os.path.join(kitdata.SNAPSHOT, 'timings.json')
    return kitdata.load_json(path) if os.path.exists(path) else {}


def gen_litmus(s):
    """make litmus: each test, the result it states and the LKMM's."""
    path = os.path.join(kitdata.SNAPSHOT, kitdata.LITMUS)
    if not os.path.exists(path):
        return fence(['no litmus run in the snapshot (make litmus, then '
                      'make rfc-snapshot)'])
    doc = kitdata.load_json(path)
    out = [f'{"test":40} {"stated":10} LKMM']
    for r in doc['tests']:
        out.append(f'{r["name"]:40} {r["expected"] or "-":10} '
                   f'{r["observed"] or "-"}'
                   + ('' if r['ok'] else '   (disagrees)'))
    return fence(out)


def gen_timings(s):
    """The measured times the snapshot keeps (rfc/results/timings.json):
    each kind of run, the newest; a run that built kernels says how long
    each build took."""
    t = timings()
    if not t:
        return fence(['no timings in rfc/results/timings.json yet'])
    out = []
    for label, rec in sorted(t.items()):
        out.append(f'{label}: {fmt_s(rec["total_s"])}')
        for name, sec in rec.get('phases', []):
            if name.endswith(': build'):
                out.append(f'    {name} {fmt_s(sec)}')
    return fence(out)


def fmt_s(sec):
    sec = float(sec)
    if sec < 120:
        return f'{sec:.0f} s'
    return f'{int(sec // 60)} min {int(sec % 60)} s'


def gen_cache(s):
    path = os.path.join(kitdata.SNAPSHOT, 'cache.json')
    if not os.path.exists(path):
        return fence(['no cache sizes in rfc/results/cache.json yet'])
    c = kitdata.load_json(path)
    return fence([f'{k:44} {v}' for k, v in c.items()])


GENERATORS = {
    'verdicts': gen_verdicts,
    'arches': gen_arches,
    'litmus': gen_litmus,
    'other-kernels': gen_other,
    'races': gen_races,
    'timings': gen_timings,
    'cache': gen_cache,
}


def render(text, s):
    def sub(m):
        name = m.group(2)
        if name not in GENERATORS:
            raise SystemExit(f'README.md: unknown block kit:{name}')
        return m.group(1) + GENERATORS[name](s) + m.group(4)
    return BLOCK.sub(sub, text)


def snapshot_numbers(s):
    """Every number the snapshot holds, as text, in the forms the pages
    print it."""
    nums = set()

    def add(v):
        for m in re.finditer(r'\d+(?:\.\d+)?', str(v)):
            x = m.group(0)
            nums.add(x)
            try:
                nums.add(kitdata.fmt(x))
                f = float(x)
                nums.update({f'{f:.0f}', f'{f:.1f}', f'{f:.2f}'})
                for div in (60.0, 1024.0):
                    nums.update({f'{f / div:.0f}', f'{f / div:.1f}'})
            except ValueError:
                pass

    def walk(o):
        if isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
        else:
            add(o)
    for f in glob.glob(os.path.join(kitdata.SNAPSHOT, '**', '*.json'),
                       recursive=True):
        walk(kitdata.load_json(f))
    return nums


def unbacked(text, nums, where):
    """Measured-looking numbers of `text` the snapshot does not hold."""
    out = []
    for i, line in enumerate(text.split('\n'), 1):
        for m in MEASURED.finditer(line):
            n, unit = m.group(1), m.group(2)
            if (n, unit) in ALLOWED or (n, unit.rstrip('s')) in ALLOWED:
                continue
            if n in nums:
                continue
            out.append(f'{where}:{i}: "{m.group(0)}" is not in the '
                       f'snapshot (rfc/results/)')
    return out


def outside_blocks(text):
    return BLOCK.sub(lambda m: m.group(1) + m.group(4), text)


def commit_messages():
    """Every series' commit messages: v7.3's, v7.2's patch 1, and v1 for
    6.1 and 6.12, whose figures the snapshot's 6.1 runs hold."""
    for p in sorted(glob.glob(os.path.join(
            ROOT, 'kernel-patch', 'v*', '*.patch'))):
        text = open(p).read()
        body = text.split('\n---\n', 1)[0]
        yield os.path.relpath(p, ROOT), body


def check():
    s = snap()
    problems = []
    text = open(README).read()
    if render(text, s) != text:
        problems.append('README.md: a generated block is stale: run '
                        '"python3 rfc/tools/figures.py update" (make '
                        'rfc-snapshot does) and commit it')
    nums = snapshot_numbers(s)
    problems += unbacked(outside_blocks(text), nums, 'README.md')
    for where, body in commit_messages():
        problems += unbacked(body, nums, where)
    return problems


def main(argv):
    if len(argv) != 2 or argv[1] not in ('update', 'check'):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if argv[1] == 'update':
        s = snap()
        text = open(README).read()
        new = render(text, s)
        if new != text:
            with open(README, 'w') as f:
                f.write(new)
        print('README.md: generated blocks ' +
              ('rewritten' if new != text else 'already current'))
        return 0
    problems = check()
    for p in problems:
        print(p)
    print(f'{len(problems)} problem(s)' if problems else
          'README.md and the commit messages quote only the snapshot')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
