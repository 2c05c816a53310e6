# SPDX-License-Identifier: GPL-2.0
"""The RFC's results snapshot: make it, read it, compare a run with it.

A run of `make repro` leaves one results document per kernel in
$O/results/<kernel>/results.json (and `make repro-host` one per pass in
$O/results/host/).  The RFC is rendered from a copy of those documents
committed in rfc/results/, the snapshot, so that the pages do not depend
on a build directory and every number in them can be traced to a run:

    rfc/results/index.json        kernels in order, host passes, source
    rfc/results/<kernel>.json     one document per kernel of the run
    rfc/results/host/<pass>.json  make repro-host, if it was run
    rfc/results/bench.json        make bench, if it was run: {'runs': [doc
                                  per kernel]}, kept from the previous
                                  snapshot when the build has none
    rfc/results/bench-arm64.json  the same for make bench ARCH=arm64

Machine-local paths (the build directory, the cache, the clone) are
replaced by names relative to them; kernel versions, the machine
description and the dates are kept.

compare() is what `make check` runs after `make repro`: the facts a fresh
run measured against the snapshot's, without timings, dates or paths.
The benchmark is compared only when the build has a `make bench` run, and
only on what does not vary: pages per fault, capacity, case status.
Python 3 standard library only, so that Debian's Sphinx can import it.
"""

import glob
import json
import os
import re
import sys

KIT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
if KIT_ROOT not in sys.path:
    sys.path.insert(0, KIT_ROOT)

from repro.harness.models import Models, same  # noqa: E402
from repro.harness.util import cache_dir  # noqa: E402

SNAPSHOT = os.path.join(KIT_ROOT, 'rfc', 'results')
SELFTEST = 'selftest-'
BENCH = 'bench.json'
# make litmus: the series' barriers against the kernel memory model.
LITMUS = 'litmus.json'
# What compare() holds a bench run to: the timings vary from run to run.
BENCH_FACTS = ('pages_per_fault', 'capacity_fraction')


def fmt(v):
    """A fact as the pages print it: "1.00" -> "1", "0.50" -> "0.50"."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f == int(f) else f'{f:.2f}'


# ------------------------------------------------------------- snapshot

def run_kernels(results):
    """Kernel names of the last `make repro`, in run order.

    summary.json lists the documents of that run; a kernel's name is its
    label without the version ("6.1.192-stock" -> "stock").  Result
    directories of earlier runs with other KERNELS= are not the run.
    """
    path = os.path.join(results, 'summary.json')
    if not os.path.exists(path):
        raise SystemExit(f'{path} not found: run "make repro" first')
    names = []
    for d in load_json(path)['runs']:
        prefix = d['kernel'] + '-'
        if not d['label'].startswith(prefix):
            raise SystemExit(f'{path}: label {d["label"]} does not start '
                             f'with its kernel version {d["kernel"]}')
        names.append(d['label'][len(prefix):])
    return names


def strip_paths(obj, subs):
    """Replace machine-local path prefixes in every string of `obj`."""
    if isinstance(obj, dict):
        return {k: strip_paths(v, subs) for k, v in obj.items()}
    if isinstance(obj, list):
        return [strip_paths(v, subs) for v in obj]
    if isinstance(obj, str):
        for old, new in subs:
            obj = obj.replace(old, new)
        return obj
    return obj


def path_subs(results):
    """Longest prefix first: results dir, kernel cache, cache, clone."""
    cache = cache_dir()
    subs = [(os.path.join(results, ''), ''),
            (os.path.join(cache, 'kernels', ''), ''),
            (os.path.join(cache, ''), '$KIT_CACHE/'),
            (os.path.join(KIT_ROOT, ''), '')]
    return sorted(subs, key=lambda s: -len(s[0]))


def kernel_name(doc):
    """A document's kernel name: its label without the version."""
    prefix = doc['kernel'] + '-'
    label = doc['label']
    return label[len(prefix):] if label.startswith(prefix) else label


def bench_runs(results):
    """The runs of `make bench` in a results directory, by the snapshot
    file each goes to: results/bench/ (x86_64) to bench.json,
    results/bench-<arch>/ to bench-<arch>.json."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(results, 'bench*', BENCH))):
        runs[os.path.basename(os.path.dirname(path)) + '.json'] = \
            load_json(path)
    return runs


def bench_file(name):
    """Whether a snapshot file name is one of bench_runs()'."""
    return re.fullmatch(r'bench(-[a-z0-9_]+)?\.json', name) is not None


def load_json(path):
    with open(path) as f:
        return json.load(f)


def save(doc, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write('\n')


def snapshot_kernels(results, snap_dir):
    """Which kernels to snapshot: $SNAPSHOT_KERNELS (result directory names
    such as 7.3-stock), else those the snapshot has, else every kernel the
    build has results for."""
    if os.environ.get('SNAPSHOT_KERNELS'):
        return os.environ['SNAPSHOT_KERNELS'].split()
    index = os.path.join(snap_dir, 'index.json')
    if os.path.exists(index):
        return load_json(index)['kernels']
    return sorted(os.path.basename(os.path.dirname(p)) for p in
                  glob.glob(os.path.join(results, '*', 'results.json'))
                  if os.path.basename(os.path.dirname(p)) != 'host')


def snapshot(out_dir, snap_dir=SNAPSHOT):
    """Copy a run's results into the snapshot; return what was copied."""
    results = os.path.join(os.path.abspath(out_dir), 'results')
    kernels = snapshot_kernels(results, snap_dir)
    missing = [k for k in kernels
               if not os.path.exists(os.path.join(results, k,
                                                  'results.json'))]
    if missing:
        raise SystemExit(f'{results}: no results for {", ".join(missing)}: '
                         f'make repro KERNELS="{" ".join(missing)}" first, '
                         f'or set KERNELS= to the kernels to snapshot')
    subs = path_subs(results)
    for old in glob.glob(os.path.join(snap_dir, '*.json')) + \
            glob.glob(os.path.join(snap_dir, 'host', '*.json')):
        if (os.path.basename(old) not in ('timings.json', 'vcpus.json',
                                          LITMUS) and
                not bench_file(os.path.basename(old))):
            os.unlink(old)
    from repro.harness import results as run_results
    sources = {}
    models = Models()
    for k in kernels:
        doc = load_json(os.path.join(results, k, 'results.json'))
        # The verdict under the committed models: a model row changed after
        # the run (a prediction refined by a measurement) is applied here,
        # as make check's compare() applies it.
        run_results.judge(doc, models)
        src = doc.get('source') or {}
        if src.get('version'):
            sources[src['package']] = src['version']
        save(strip_paths(doc, subs), os.path.join(snap_dir, k + '.json'))
    host = []
    for p in sorted(glob.glob(os.path.join(results, 'host', 'results*.json')),
                    key=len):
        name = os.path.basename(p)
        save(strip_paths(load_json(p), subs),
             os.path.join(snap_dir, 'host', name))
        host.append(name[:-len('.json')])
    save({'kernels': kernels, 'host': host, 'sources': sources},
         os.path.join(snap_dir, 'index.json'))
    save_timings(results, snap_dir)
    save_cache_sizes(snap_dir)
    # make litmus and make bench are runs of their own: without one in the
    # build, the snapshot keeps the one it has.
    lit = os.path.join(results, LITMUS)
    if os.path.exists(lit):
        save(load_json(lit), os.path.join(snap_dir, LITMUS))
    bench = []
    for name, run in bench_runs(results).items():
        save(strip_paths(run, subs), os.path.join(snap_dir, name))
        bench += [kernel_name(d) for d in run['runs']]
    return kernels, host, bench


def timing_label(rec):
    """What ran, with the defaults spelt out, and whether it built."""
    v = dict(rec.get('vars', {}))
    if rec['command'] == 'w1':
        # Not a make target: make check runs it; cold = an arch with no
        # W=1 build yet.
        state = (f'cold: {", ".join(rec["built"])}' if rec.get('built')
                 else 'warm')
        return (f'python3 -m repro.harness w1 --arch '
                f'"{rec.get("arch", "x86_64")}" ({state})')
    cmd = {'host': 'repro-host'}.get(rec['command'], rec['command'])
    if rec['command'] in ('repro', 'kernels', 'bench'):
        v.setdefault('KVER', '7.3')
        v.setdefault('KERNELS', 'stock patched')
    what = ' '.join(f'{k}="{v[k]}"' if ' ' in v[k] else f'{k}={v[k]}'
                    for k in ('KVER', 'KERNELS', 'SCENARIOS', 'VCPUS',
                              'ARCH') if k in v)
    state = (f'cold: built {", ".join(rec["built"])}' if rec.get('built')
             else 'warm')
    return f'make {cmd} {what}'.strip() + f' ({state})'


def save_timings(results, snap_dir):
    """The build's timing records (timings.jsonl, one per harness
    command) merged into the snapshot's timings.json: the newest record of
    each label, where a label says what ran and whether it built."""
    path = os.path.join(results, 'timings.jsonl')
    out = os.path.join(snap_dir, 'timings.json')
    old = load_json(out) if os.path.exists(out) else {}
    # Labels are recomputed: a record keeps its place however the label of
    # its kind of run is spelt.
    kept = {timing_label(r): r for r in old.values()}
    if os.path.exists(path):
        for line in open(path):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            kept[timing_label(rec)] = rec
    if kept:
        save(kept, out)


def snapshot_vcpus(out_dirs, snap_dir=SNAPSHOT):
    """rfc/results/vcpus.json: for each build directory (a run with its
    own VCPUS=), every kernel's race facts: CPUs, races, hits, faults.
    Rows of other kernels or vCPU counts already there are kept."""
    rows = []
    for out in out_dirs:
        for p in sorted(glob.glob(os.path.join(out, 'results', '*',
                                               'results.json'))):
            d = load_json(p)
            pair = case(d, 'stress-truncate-race/pair') or {}
            mem = case(d, 'stress-truncate-race/memfd') or {}
            b = d.get('boot') or {}
            rows.append({
                'kernel': kernel_name(d), 'version': d['kernel'],
                'label': d['label'], 'date': d['date'],
                'machine': d['machine'], 'vcpus': b.get('cpus_requested'),
                'cpus_online': b.get('cpus_online'),
                'pair': pair.get('facts', {}), 'stress': mem.get('facts', {}),
            })
    path = os.path.join(snap_dir, 'vcpus.json')
    new = {(r['label'], r['vcpus']) for r in rows}
    kept = [r for r in (load_json(path)['runs']
                        if os.path.exists(path) else [])
            if (r['label'], r['vcpus']) not in new]
    rows = sorted(kept + rows, key=lambda r: (r['label'], r['vcpus'] or 0))
    save({'runs': rows}, path)
    return rows


def save_cache_sizes(snap_dir):
    """Bytes of $KIT_CACHE per kernel source: its tree, its build
    directories, its images."""
    root = cache_dir()
    sizes = {}
    for top in ('src', 'build', 'kernels', 'headers', 'export'):
        for e in glob.glob(os.path.join(root, top, '*')):
            src = re.sub(r'-[0-9a-f]{16}(-.*)?$', '', os.path.basename(e))
            n = 0
            for r, _, files in os.walk(e):
                for f in files:
                    try:
                        n += os.lstat(os.path.join(r, f)).st_size
                    except OSError:
                        pass
            sizes.setdefault(src, {}).setdefault(top, 0)
            sizes[src][top] += n
    if not sizes:
        return
    out = {src: ', '.join(f'{top} {v / 2**30:.1f} GiB' for top, v in
                          sorted(parts.items()))
           + f'; total {sum(parts.values()) / 2**30:.1f} GiB'
           for src, parts in sorted(sizes.items())}
    save(out, os.path.join(snap_dir, 'cache.json'))


class Snapshot:
    """The committed results, as the pages and the checks read them."""

    def __init__(self, snap_dir=SNAPSHOT, models=None):
        index = os.path.join(snap_dir, 'index.json')
        if not os.path.exists(index):
            raise FileNotFoundError(f'{index} not found: make a run and '
                                    f'"make rfc-snapshot"')
        self.dir = snap_dir
        self.index = load_json(index)
        self.kernels = self.index['kernels']
        self.docs = {k: load_json(os.path.join(snap_dir, k + '.json'))
                     for k in self.kernels}
        self.host = {h: load_json(os.path.join(snap_dir, 'host',
                                                    h + '.json'))
                     for h in self.index.get('host', [])}
        self.models = models or Models()
        # Every bench file's kernels, by name: stock, patched (x86_64),
        # arm64-stock, arm64-patched; and which file each came from.
        self.bench, self.bench_files = {}, {}
        for path in sorted(glob.glob(os.path.join(snap_dir, 'bench*.json'))):
            if not bench_file(os.path.basename(path)):
                continue
            for d in load_json(path)['runs']:
                self.bench[kernel_name(d)] = d
                self.bench_files[kernel_name(d)] = path

    def files(self):
        return [os.path.join(self.dir, 'index.json')] + \
            [os.path.join(self.dir, k + '.json') for k in self.kernels] + \
            [os.path.join(self.dir, 'host', h + '.json') for h in self.host] + \
            sorted(set(self.bench_files.values()))

    def bench_doc(self, kernel):
        if not self.bench:
            raise KeyError(f'no {BENCH} in the snapshot: "make bench" and '
                           f'"make rfc-snapshot"')
        if kernel not in self.bench:
            raise KeyError(f'no kernel "{kernel}" in the snapshot\'s bench '
                           f'(kernels: {", ".join(self.bench)})')
        return self.bench[kernel]

    def doc(self, kernel):
        if kernel in self.docs:
            return self.docs[kernel]
        if kernel in self.host:
            return self.host[kernel]
        raise KeyError(f'no kernel "{kernel}" in the snapshot (kernels: '
                       f'{", ".join(self.kernels)}; host: '
                       f'{", ".join(self.host) or "none"})')

    def running(self):
        """Kernels that ran every reproducer in one boot (not 'splats')."""
        return [k for k in self.kernels
                if self.docs[k].get('outcome', 'runs') == 'runs']

    def line(self):
        """The RFC's kernel line: stock and patched of the default
        version (7.3), the pair most tables show."""
        from repro.harness import kernel
        pair = [f'{kernel.DEFAULT_KVER}-stock', f'{kernel.DEFAULT_KVER}-patched']
        return [k for k in pair if k in self.docs] or self.running()


def scenario(doc, name):
    return next((s for s in doc['scenarios'] if s['name'] == name), None)


def case(doc, name):
    """The case dict of "<scenario>/<case>", or None."""
    scen, _, cname = name.partition('/')
    s = scenario(doc, scen)
    if s is None:
        return None
    return next((c for c in s['cases'] if c['name'] == cname), None)


def bench_case(doc, name):
    """A case of a bench document by its name alone ("memfd"), or None."""
    return next((c for s in doc['scenarios'] for c in s['cases']
                 if c['name'] == name), None)


def bench_fact(doc, case_name, fact_name):
    """A bench case's measured value, or 'missing', 'skip', 'absent'..."""
    c = bench_case(doc, case_name)
    if c is None:
        return 'missing'
    if c['status'] != 'ok':
        return c['status']
    return c['facts'].get(fact_name, 'absent')


def bench_judged(doc):
    """What a bench run of one kernel is compared on: each case's status
    and the facts of BENCH_FACTS it has; not the timings."""
    out = {}
    for s in doc['scenarios']:
        for c in s['cases']:
            if not c['name']:
                continue
            out[f'{c["name"]} status'] = c['status']
            for f in BENCH_FACTS:
                if f in c.get('facts', {}):
                    out[f'{c["name"]} {f}'] = c['facts'][f]
    return out


def compare_bench(results, snap):
    """Differences between the build's bench run and the snapshot's; none
    when the build has no bench run (make check does not run it)."""
    problems = []
    for name, run in bench_runs(results).items():
        want_file = os.path.join(snap.dir, name)
        if want_file not in snap.bench_files.values():
            problems.append(f'bench: the build has a run of make bench, the '
                            f'snapshot none (rfc/results/{name})')
            continue
        problems += compare_bench_run(run, snap, want_file)
    return problems


def compare_bench_run(run, snap, want_file):
    """Differences between one bench run and the snapshot file it goes to."""
    got_docs = {kernel_name(d): d for d in run['runs']}
    # bench-arm64.json: ARCH=arm64, its kernels named arm64-<row>.
    arch = os.path.basename(want_file)[len('bench-'):-len('.json')]
    problems = []
    for k, d in snap.bench.items():
        if snap.bench_files[k] != want_file:
            continue
        if k not in got_docs:
            how = (f'make bench ARCH={arch} KERNELS="... {k[len(arch) + 1:]}"'
                   if arch else f'make bench KERNELS="... {k}"')
            problems.append(f'bench {k}: in the snapshot but not in the run '
                            f'({how})')
            continue
        want, got = bench_judged(d), bench_judged(got_docs[k])
        for key in sorted(set(want) | set(got)):
            w, g = want.get(key, 'absent'), got.get(key, 'absent')
            if not same(w, g):
                problems.append(f'bench {k}: {key}: snapshot {w}, run {g}')
    return problems


def crashed(doc, case_name):
    """The splat that ended the case's scenario, or None."""
    s = scenario(doc, case_name.split('/')[0])
    return s.get('splat') if s else None


def fact(doc, case_name, fact_name):
    """The measured value, or why there is none: 'crash', 'skip', ..."""
    if crashed(doc, case_name):
        return 'crash'
    c = case(doc, case_name)
    if c is None:
        return 'missing'
    if c['status'] == 'skip':
        return 'skip'
    return c['facts'].get(fact_name, 'absent')


def case_verdict(doc, case_name, models):
    """'ok', 'differs', 'skip', 'crash', 'missing', 'not ok' or '' (no model)."""
    if crashed(doc, case_name):
        return 'crash'
    c = case(doc, case_name)
    if c is None:
        return 'missing'
    if c['status'] != 'ok':
        return c['status']
    m = doc.get('model')
    if not m:
        return ''
    bad = [r for r in models.rows_for(case_name)
           if r[m] != '-' and not same(r[m], c['facts'].get(r['fact'],
                                                            'absent'))]
    return 'differs' if bad else 'ok'


# -------------------------------------------------------------- compare

def judged(doc, models):
    """What a run of one kernel is compared on, {key: value}.

    Every fact a row of models.tsv names (the facts the verdicts are made
    of), unless the kernel's own model says '-' for it: those are the
    measurements that vary from run to run (where an OOM kill lands).
    Facts no row names (timings, KiB counters of /proc/meminfo) are kept
    in the snapshot for the pages but not compared.  Also each case's
    status, and for a kernel expected to crash, where each reproducer
    crashed (the splat's first line and the function of its RIP).
    """
    out = {}
    m = doc.get('model')
    ran = {s['name'] for s in doc['scenarios']}
    for r in models.rows:
        scen = r['case'].split('/')[0]
        if scen not in ran:
            continue
        if m and r[m] == '-':
            continue
        if not m and all(r[n] == '-' for n in models.names):
            continue
        out[f'{r["case"]} {r["fact"]}'] = fact(doc, r['case'], r['fact'])
    for s in doc['scenarios']:
        if s['name'].startswith(SELFTEST):
            continue
        if 'splat' in s:
            out[f'{s["name"]} splat'] = re.sub(
                r'address: [0-9a-fx]+', 'address: <addr>', s['splat'] or 'none')
            rip = re.search(r'RIP: \S+:([A-Za-z0-9_.]+)', s.get('rip') or '')
            out[f'{s["name"]} crashed in'] = rip.group(1) if rip else 'none'
        for c in s['cases']:
            if c['name']:
                out[f'{s["name"]}/{c["name"]} status'] = c['status']
    return out


def compare(out_dir, snap_dir=SNAPSHOT, require=None):
    """Differences between the run in out_dir and the snapshot, as lines.

    Every kernel of the snapshot that the build has results for is
    compared; those of `require` (default: all of the snapshot) must be
    there.  The snapshot holds runs make check does not repeat (debug and
    distro kernels, other architectures): they are compared whenever a
    build has them.
    """
    results = os.path.join(os.path.abspath(out_dir), 'results')
    snap = Snapshot(snap_dir)
    models = snap.models
    problems = []
    compared = []
    for k in snap.kernels:
        path = os.path.join(results, k, 'results.json')
        if not os.path.exists(path):
            if require is None or k in require:
                problems.append(f'{k}: in the snapshot but not in the run '
                                f'({os.path.relpath(path, KIT_ROOT)} '
                                f'missing)')
            continue
        compared.append(k)
        run = load_json(path)
        want = judged(snap.docs[k], models)
        got = judged(run, models)
        # A case the run lacks, or the snapshot lacks, is one line.
        only = {}
        for key in set(want) ^ set(got):
            side = 'snapshot' if key in want else 'run'
            only.setdefault((key.split(' ')[0], side), []).append(key)
        for (cname, side), keys in sorted(only.items()):
            problems.append(f'{k}: {cname}: only in the {side} '
                            f'({len(keys)} facts)')
        for key in sorted(set(want) & set(got)):
            if not same(want[key], got[key]):
                problems.append(f'{k}: {key}: snapshot {want[key]}, '
                                f'run {got[key]}')
    problems += compare_bench(results, snap)
    return compared, problems
