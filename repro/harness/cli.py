# SPDX-License-Identifier: GPL-2.0
"""python3 -m repro.harness COMMAND: what the Makefile calls.

  validate           check the make variables (one line and exit 2 if wrong)
  deps TARGET...     check (and as root install) the Debian packages
  kernels            build the kernels of $KERNELS (cached), print images
  repro              build, boot each kernel, judge, print the table
  host               run the reproducers on the running kernel, classify it
  cross-root         print where ARCH's guest packages are unpacked
  litmus             check the series' barriers against the kernel memory
                     model (repro/litmus/, herd7)
"""

import argparse
import json
import concurrent.futures
import os
import re
import subprocess
import sys
import textwrap
import time

from . import (arch, bench, cache, clients, cross, deps, initramfs, kernel,
               litmus, qemu, results, selftests, sources, variables)
from .models import Models
from .util import KitError, Phase, log, out_dir

DEFAULT_KERNELS = 'stock patched'


def scenarios(bindir):
    listing = os.path.join(bindir, 'scenarios.list')
    if not os.path.exists(listing):
        raise KitError(f'{listing} missing: run "make" to build the '
                       f'reproducers first')
    names = open(listing).read().split()
    only = os.environ.get('SCENARIOS', '').split()
    cl = os.path.join(bindir, 'clients.list')
    known = names + (open(cl).read().split() if os.path.exists(cl) else [])
    unknown = [n for n in only if n not in known + [results.STANDALONE]]
    if unknown:
        raise KitError(f'SCENARIOS: unknown {", ".join(unknown)}; '
                       f'built: {", ".join(known)}')
    return [n for n in names if n in only] if only else names


def clients_not_run(bindir):
    """{scenario: why} for the client scenarios a foreign ARCH leaves out:
    they start the host's x86 QEMU inside the guest, and an arm64 guest has
    none (CLIENTS=0 is implied); the table shows their cases as not run."""
    a = arch.current()
    listing = os.path.join(bindir, 'clients.list')
    if a.name == 'x86_64' or os.environ.get('CLIENTS', '1') == '0' or \
            not os.path.exists(listing):
        return {}
    only = os.environ.get('SCENARIOS', '').split()
    return {n: f'not run on {a.name}: it starts an x86 QEMU in the guest '
               f'(CLIENTS=0 implied)'
            for n in open(listing).read().split() if not only or n in only}


def client_entries(bindir):
    """The scenarios of clients.list, each with QEMU and what it loads;
    CLIENTS=0 leaves them out (their boot needs no QEMU on the host), and
    so does a foreign ARCH (clients_not_run())."""
    listing = os.path.join(bindir, 'clients.list')
    if os.environ.get('CLIENTS', '1') == '0' or not os.path.exists(listing) \
            or arch.current().name != 'x86_64':
        return []
    names = open(listing).read().split()
    only = os.environ.get('SCENARIOS', '').split()
    names = [n for n in names if not only or n in only]
    if not names:
        return []
    files = clients.loaded_files()
    return [dict(e, files=files)
            for e in scenario_entries(bindir, names, standalone=False)]


def scenario_entries(bindir, names, standalone=True):
    """The reproducers, then the standalone one (its one line is read as
    facts, its exit status is its verdict)."""
    entries = [{'mode': 'ktap', 'name': n, 'path': os.path.join(bindir, n),
                'args': []} for n in names]
    only = os.environ.get('SCENARIOS', '').split()
    if standalone and (not only or results.STANDALONE in only):
        entries.append({'mode': 'exit', 'name': results.STANDALONE,
                        'path': os.path.join(bindir, 'shmem-private-hole'),
                        'args': []})
    return entries


def selftest_entries(src):
    """Plan entries for the kernel's selftests; SELFTESTS=0 leaves them out."""
    if os.environ.get('SELFTESTS', '1') == '0':
        return []
    return selftests.build(src, selftests.load(src.series_ver))


def specs_of(names):
    table = kernel.load_kernels()
    unknown = [n for n in names if n not in table]
    if unknown:
        raise KitError(f'unknown kernel(s) {", ".join(unknown)}: '
                       f'repro/kernels.tsv has {", ".join(table)}')
    return [table[n] for n in names]


def cmd_deps(args):
    deps.ensure(args.targets, [k for k in kernel.kvers() if k != 'KSRC'],
                sources.where)


def cmd_kernels(args):
    src = kernel.Source()
    for spec in specs_of(args.kernels.split()):
        image, _ = kernel.build(spec, src)
        print(f'{spec.name}\t{image}')


def finish(docs, models, outdir):
    """Print the terminal table, keep the full-width one in table.txt."""
    text = results.table(docs, models)
    regressed = selftests.regressions(docs)
    notes = [f'REGRESSION: {test} passed on the stock kernel and failed on '
             f'{label}' for test, label in regressed]
    full = os.path.join(outdir, 'table.txt')
    with open(full, 'w') as f:
        f.write('\n'.join([text] + notes) + '\n')
    width = results.term_width()
    print(results.terminal_table(docs, models))
    for n in notes:
        print(textwrap.fill(n, width, subsequent_indent='    '))
    print(textwrap.fill(f'Every fact of every kernel, side by side: {full}',
                        width))
    results.save({'runs': docs}, os.path.join(outdir, 'summary.json'))
    timings = ', '.join(f'{n} {t:.1f}s' for n, t in Phase.timings)
    log(f'elapsed: {timings}')
    ok = all(d['verdict'] == 'ok' for d in docs) and not regressed
    return 0 if ok else 1


def cmd_repro(args):
    """Every kernel of $KERNELS for every source of $KVER, then one table."""
    models = Models()
    names = scenarios(args.bindir)
    specs = specs_of(args.kernels.split())
    for s in specs:
        if s.model:  # an unknown model fails before any build
            models.check(s.model, {})
    outdir = os.path.join(out_dir(), 'results')
    docs = []
    for kver in kernel.kvers():
        docs += run_source(kernel.Source(None if kver == 'KSRC' else kver),
                           specs, names, models, args, outdir)
    for image in os.environ.get('KERNEL', '').split():
        docs.append(run_prebuilt(image, names, models, args, outdir))
    if os.environ.get('HOST', '0') != '0':
        docs += host_docs(args, models)
    return finish(docs, models, outdir)


def run_prebuilt(image, names, models, args, outdir):
    """KERNEL=/path/to/bzImage (or KERNEL=debian): a kernel the kit did
    not build, booted with the reproducers and classified against every
    model; a feature it lacks shows as the reproducers' SKIPs."""
    image = kernel.debian_image() if image == 'debian' else \
        os.path.abspath(image)
    version = kernel.image_version(image)
    label = f'{version}-prebuilt'
    entries = scenario_entries(args.bindir, names)
    runner = os.path.join(args.bindir, 'runner')
    kdir = os.path.join(outdir, label)
    initrd = initramfs.build(runner, entries, os.path.join(
        out_dir(), 'initramfs-prebuilt.cpio'))
    acc = qemu.accel(image, initrd)
    spec = kernel.KernelSpec(label, '-', [], '-', 'runs')
    extra = client_entries(args.bindir)
    client_initrd = extra and initramfs.build(runner, extra, os.path.join(
        out_dir(), 'initramfs-clients.cpio'))
    doc = run_with_clients(spec, image, version, entries, initrd, extra,
                           client_initrd, acc, args, kdir)
    doc['label'] = label
    doc['image'] = image
    doc['outcome'] = 'runs'
    results.judge(doc, models)
    results.save(doc, os.path.join(kdir, 'results.json'))
    return doc


def run_source(src, specs, names, models, args, outdir):
    """Build and boot the kernels of one source tree."""
    a = arch.current()
    images = [kernel.build(spec, src) for spec in specs]
    entries = scenario_entries(args.bindir, names) + selftest_entries(src)
    extra = client_entries(args.bindir)
    not_run = clients_not_run(args.bindir)
    runner = os.path.join(args.bindir, 'runner')
    with Phase('initramfs'):
        initrd = initramfs.build(runner, entries, os.path.join(
            out_dir(), '-'.join(p for p in ('initramfs', src.id, a.label)
                                if p) + '.cpio'))
        client_initrd = extra and initramfs.build(runner, extra, os.path.join(
            out_dir(), 'initramfs-clients.cpio'))
    with Phase('accelerator'):
        acc = qemu.accel(images[0][0], initrd)
    def one(spec, image, version):
        spec = kernel.KernelSpec(spec.name, spec.series, spec.configs,
                                 src.model_of(spec) or '-', spec.outcome)
        # Version first, so that runs of several KVER= keep each other's
        # results: build/results/7.3-stock, build/results/6.1-stock; the
        # arch after it for a foreign one: build/results/7.3-arm64-stock.
        kdir = os.path.join(outdir, arch.results_name(src.series_ver,
                                                      spec.name, a))
        if spec.outcome == 'splats':
            doc = run_crashing(spec, image, version, entries, acc, args, kdir)
        else:
            doc = run_with_clients(spec, image, version, entries, initrd,
                                   extra, client_initrd, acc, args, kdir)
        doc['image'] = image
        doc['outcome'] = spec.outcome
        doc['source'] = src.describe()
        doc['arch'] = a.name
        if not_run:
            doc['not_run'] = not_run
        results.judge(doc, models)
        results.save(doc, os.path.join(kdir, 'results.json'))
        return doc

    jobs = guest_jobs()
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(one, spec, image, version)
                   for spec, (image, version) in zip(specs, images)]
        return [f.result() for f in futures]


def guest_jobs():
    """Guests booted at once: JOBS, default as many as give every vCPU a
    host CPU of its own.

    The race scenarios are evidence only if their threads run at once.
    Measured on 2 host CPUs (7.3 race-no-recheck, one guest at a time):
    the multi-threaded stress made 142,000 private faults/s with 2 vCPUs,
    6,300/s with 4 and 3,000/s with 8, and found beyond-EOF pages only
    with 2; more vCPUs than host CPUs turn the guest's spinning into
    lock-holder preemption.  So on 2 host CPUs, 2-vCPU guests run one at a
    time unless JOBS= says otherwise.
    """
    if os.environ.get('JOBS'):
        return int(os.environ['JOBS'])
    return max(1, (os.cpu_count() or 1) // qemu.vcpus())


def host_tsc_khz():
    """The host's TSC rate: under TCG the guest reads the host's TSC."""
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('cpu MHz'):
                return int(float(line.split(':')[1]) * 1000)
    except (OSError, ValueError):
        pass
    return None


def boot_args(args, extra='', icount=False, scale=1):
    """The guest's command line.

    Under TCG the TSC cannot be calibrated against the PIT, and a tinyconfig
    kernel without ACPI finds no HPET: the guest would fall back to jiffies
    and CLOCK_MONOTONIC would tick in 4 ms steps.  The TSC rate is given
    instead; benchmarks use ratios, so an approximate rate is enough.
    """
    # Under -icount the TSC counts the guest's instructions, one per ns.
    # (x86 only: an arm64 guest reads its generic timer, whose rate the
    # device tree gives.)
    khz = 1000000 if icount else host_tsc_khz()
    if arch.current().name != 'x86_64':
        khz = None
    tsc = f'tsc_early_khz={khz} tsc=reliable' if khz else ''
    # GUEST_ENV="KIT_X=1 ...": the kernel hands parameters it does not
    # know to /init as environment, and the runner to every reproducer.
    env = os.environ.get('GUEST_ENV', '')
    return (f'hugepages=64 kit.timeout={args.scenario_timeout * scale} '
            f'{tsc} {env} '
            f'{extra}').strip()


def run_kernel(spec, image, version, entries, initrd, acc, args, kdir):
    """One boot runs every entry; the document of that run."""
    scale = qemu.time_scale(image)
    with Phase(f'{spec.name}: boot+run'):
        boot = qemu.boot(image, initrd, kdir, args.timeout * scale, acc=acc,
                         cmdline=boot_args(args, scale=scale))
    # Whether every vCPU had a host CPU: what the race results are worth.
    boot['host_cpus'] = os.cpu_count()
    boot['guests_at_once'] = guest_jobs()
    log(f'{spec.name}: {boot["accel"]} ({boot["accel_reason"]}), '
        f'/init at {boot["init_at"]} s, {boot["status"]}')
    return results.collect(arch.label(version, spec.name), version,
                           spec.model, qemu.read(boot['results']),
                           [e['name'] for e in entries], boot)


def run_with_clients(spec, image, version, entries, initrd, extra,
                     client_initrd, acc, args, kdir):
    """The reproducers' boot, then the QEMU clients' boot if there are
    clients: one document, failed by either boot."""
    doc = run_kernel(spec, image, version, entries, initrd, acc, args, kdir)
    if extra:
        more = run_kernel(spec, image, version, extra, client_initrd, acc,
                          args, os.path.join(kdir, 'clients'))
        doc['scenarios'] += more['scenarios']
        doc['clients_boot'] = more['boot']
        if more['boot']['status'] != 'ok':
            doc['boot'] = more['boot']
    return doc


def run_crashing(spec, image, version, entries, acc, args, kdir):
    """A kernel expected to crash: one boot per reproducer, oops=panic.

    An oops in a fault path leaves its task holding mmap_lock, so whatever
    ran after it in the same boot would measure the wreckage.  A boot of
    its own per reproducer, ended by the first oops, records cleanly which
    reproducer crashes the kernel and how.
    """
    runner = os.path.join(args.bindir, 'runner')
    scale = qemu.time_scale(image)
    scen, splats, boots = [], [], []
    for e in entries:
        if e['mode'] != 'ktap':
            continue
        edir = os.path.join(kdir, e['name'])
        initrd = initramfs.build(runner, [e], os.path.join(
            out_dir(), 'initramfs-one', e['name'] + '.cpio'))
        with Phase(f'{spec.name}: {e["name"]}'):
            boot = qemu.boot(image, initrd, edir, args.timeout * scale,
                             acc=acc, cmdline=boot_args(args, 'oops=panic',
                                                        scale=scale))
        d = results.collect('', version, None, qemu.read(boot['results']),
                            [e['name']], boot)
        s = d['scenarios'][0]
        s['splat'] = boot['splats'][0] if boot['splats'] else None
        s['boot_status'] = boot['status']
        # x86's "RIP: 0010:fn+off/len", arm64's "pc : fn+off/len".
        rip = [l for l in boot['excerpt']
               if 'RIP: 0010' in l or l.lstrip().startswith('pc : ')]
        s['rip'] = rip[0].strip() if rip else None
        scen.append(s)
        splats += boot['splats'][:1]
        boots.append(boot)
    summary = dict(boots[0]) if boots else {'status': 'no-init'}
    summary.update(status='splat' if splats else 'ok', splats=splats,
                   seconds=round(sum(b['seconds'] for b in boots), 2))
    doc = results.collect(arch.label(version, spec.name), version,
                          spec.model, '', [], summary)
    doc['scenarios'] = scen
    doc['parse_error'] = None
    return doc


# The unprivileged pass: nobody, no capabilities, so userfaultfd is
# UFFD_USER_MODE_ONLY and whatever needs CAP_SYS_ADMIN skips with its reason.
UNPRIVILEGED = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups',
                '--inh-caps=-all', '--bounding-set=-all']


def cmd_host(args):
    """Run the reproducers on the running kernel, classify it."""
    models = Models()
    docs = host_docs(args, models)
    return finish(docs, models, os.path.join(out_dir(), 'results', 'host'))


def host_docs(args, models):
    """The host's documents.

    As root there are two passes: as root, and as nobody with every
    capability dropped, to show what an unprivileged user observes.
    """
    names = scenarios(args.bindir) + [e['name'] for e in
                                      client_entries(args.bindir)]
    hdir = os.path.join(out_dir(), 'results', 'host')
    os.makedirs(hdir, exist_ok=True)
    plan = os.path.join(hdir, 'plan')
    with open(plan, 'w') as f:
        f.write(initramfs.plan_text(scenario_entries(args.bindir, names),
                                    lambda e: e['path']))
    os.chmod(hdir, 0o755)
    os.chmod(plan, 0o644)
    release = os.uname().release
    passes = [('', [])]
    if os.geteuid() == 0:
        passes.append(('-nobody', UNPRIVILEGED))
    docs = []
    for suffix, prefix in passes:
        cmd = prefix + [os.path.join(args.bindir, 'runner'), '-t',
                        str(args.scenario_timeout), plan]
        with Phase(f"host run{suffix or ' (uid %d)' % os.geteuid()}"):
            r = subprocess.run(cmd, capture_output=True, text=True,
                               cwd='/')
        if r.returncode not in (0, 1):
            raise KitError(f'{" ".join(cmd)}: exit {r.returncode}: '
                           f'{r.stderr.strip()}')
        with open(os.path.join(hdir, f'results{suffix}.ktap'), 'w') as f:
            f.write(r.stdout)
        doc = results.collect(f'host-{release}{suffix}', release, None,
                              r.stdout, names)
        results.judge(doc, models)
        results.save(doc, os.path.join(hdir, f'results{suffix}.json'))
        docs.append(doc)
    return docs


def cmd_bench(args):
    """make bench: fault-bench alone in each guest, BENCH_BOOTS boots per
    mode (icount, wall), one table; bench.json for the snapshot."""
    specs = specs_of(args.kernels.split())
    src = kernel.Source()
    docs, outdir = bench.run(specs, src, args, boot_args)
    text = bench.table(docs)
    print(text)
    with open(os.path.join(outdir, 'bench.txt'), 'w') as f:
        f.write(text + '\n')
    results.save({'runs': docs}, os.path.join(outdir, 'bench.json'))
    log('elapsed: ' + ', '.join(f'{n} {t:.1f}s' for n, t in Phase.timings))
    bad = [c for d in docs for s in d['scenarios'] for c in s['cases']
           if c['status'] not in ('ok', 'skip')]
    return 1 if bad else 0


def cmd_w1(args):
    """W=1 warnings in the files a series touches: none may be new.

    --arch (default: ARCH, else x86_64) lists the arches to build for,
    bootable or build-only (arch.BUILD_ONLY: i386 with HIGHMEM, riscv64);
    each has its own W=1 build directory and its own line per kernel,
    prefixed with its name unless it is x86_64 alone."""
    src = kernel.Source()
    specs = specs_of(args.kernels.split())
    base = next((s for s in specs if s.series == '-'), None)
    if not base:
        raise KitError('w1: KERNELS= needs a kernel without a series to '
                       'compare with')
    names = (args.arch or os.environ.get('ARCH') or arch.DEFAULT)
    arches = [arch.get(n) for n in names.replace(',', ' ').split()]
    # Arches no W=1 build has configured yet: a cold run prepares a tree
    # for each.  make check (--cached-only) names them and leaves them out.
    cold = [a for a in arches if not kernel.w1_configured(src, base, a)]
    if args.cached_only:
        for a in cold:
            print(f'{a.name}: no W=1 build in the cache yet, not checked: '
                  f'python3 -m repro.harness w1 --arch {a.name} builds it '
                  f'(see the README for how long)', flush=True)
        arches = [a for a in arches if a not in cold]
    # For the timing record: which arches ran, and which of them cold.
    RUN_INFO['arch'] = ' '.join(a.name for a in arches)
    RUN_INFO['built'] = [a.name for a in arches if a in cold]
    for a in arches:  # every compiler is there before any build
        deps.ensure_w1(a.name)
    bad = 0
    for a in arches:
        prefix = '' if [x.name for x in arches] == ['x86_64'] else \
            f'{a.name} '
        for spec in specs:
            if spec is base:
                continue
            # Kernel objects only: a selftest the series adds is built
            # (with -Wall -Wextra) by the selftests' own Makefile, not by
            # Kbuild.
            objs = sorted({re.sub(r'\.c$', '.o', f)
                           for p in src.series_files(spec.series)
                           for f in touched(p) if f.endswith('.c')
                           and not f.startswith(('tools/', 'scripts/',
                                                 'samples/'))})
            if not objs:
                continue
            with Phase(f'{a.name}: w1 {base.name}'):
                before = kernel.w1_warnings(src, base, objs, a)
            with Phase(f'{a.name}: w1 {spec.name}'):
                after = kernel.w1_warnings(src, spec, objs, a)
            new = [w for w in after if strip_line(w) not in
                   {strip_line(b) for b in before}]
            print(f'{prefix}{spec.name}: W=1 {" ".join(objs)}: '
                  f'{len(before)} warnings before, {len(after)} after, '
                  f'{len(new)} new', flush=True)
            for w in new:
                print(f'    {w}')
            bad += len(new)
    return 1 if bad else 0


def touched(patch):
    with open(patch) as f:
        return re.findall(r'^\+\+\+ b/(\S+)', f.read(), re.M)


def strip_line(w):
    """A warning without its line and column, which a patch may move."""
    return re.sub(r':\d+:\d+:', ':', w)


TIMED = ('repro', 'bench', 'kernels', 'host', 'w1')
# What a command knows of its own run beyond the environment (w1: its
# arches and the cold ones), for record_timings().
RUN_INFO = {}


def record_timings(cmd, total):
    """Append this command's phases to $O/results/timings.jsonl: the
    README's times are generated from these records (make rfc-snapshot
    keeps them in rfc/results/timings.json), not typed in."""
    if cmd not in TIMED or not Phase.timings:
        return
    built = [n.split(':')[0] for n, _ in Phase.timings
             if n.endswith(': build')]
    rec = {'date': results.now(), 'command': cmd,
           'vars': {k: os.environ[k] for k in
                    ('KVER', 'KERNELS', 'SCENARIOS', 'SELFTESTS', 'CLIENTS',
                     'VCPUS', 'JOBS', 'ARCH') if os.environ.get(k)},
           'built': RUN_INFO.get('built', built), 'total_s': round(total, 1),
           'phases': [[n, round(t, 1)] for n, t in Phase.timings],
           'machine': results.machine()}
    if 'arch' in RUN_INFO:
        rec['arch'] = RUN_INFO['arch']
    path = os.path.join(out_dir(), 'results', 'timings.jsonl')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'a') as f:
        f.write(json.dumps(rec, sort_keys=True) + '\n')


def cmd_litmus(args):
    """One line per litmus test: the result it states, the LKMM's."""
    with Phase('litmus'):
        rows = litmus.run()
    for r in rows:
        print(f'{"ok    " if r["ok"] else "FAIL  "}{r["name"]:40} '
              f'stated {r["expected"]}, LKMM {r["observed"]} '
              f'({r["positive"]} of {(r["positive"] or 0) + (r["negative"] or 0)} '
              f'states match the exists clause)')
    return 0 if all(r['ok'] for r in rows) else 1


def cmd_validate(args):
    variables.check(available=True)


def cmd_cross_root(args):
    """Where ARCH's guest packages are (for repro/build.mk's -I and -L)."""
    print(cross.root())


def cmd_prune(args):
    cache.prune(dry_run=args.dry_run)


def main(argv=None):
    # Every command reads the variables: a wrong one is one line, before
    # anything (argparse's defaults below included) uses it.
    try:
        variables.check(available=False)
    except KitError as e:
        print(f'error: {e}', file=sys.stderr)
        return e.status
    ap = argparse.ArgumentParser(prog='python3 -m repro.harness')
    sub = ap.add_subparsers(dest='cmd', required=True)
    sub.add_parser('validate').set_defaults(fn=cmd_validate)
    sub.add_parser('cross-root').set_defaults(fn=cmd_cross_root)
    sub.add_parser('litmus').set_defaults(fn=cmd_litmus)
    p = sub.add_parser('prune')
    p.add_argument('--dry-run', action='store_true')
    p.set_defaults(fn=cmd_prune)
    p = sub.add_parser('deps')
    p.add_argument('targets', nargs='+', choices=sorted(deps.NEEDS))
    p.set_defaults(fn=cmd_deps)
    for name, fn in (('kernels', cmd_kernels), ('repro', cmd_repro),
                     ('host', cmd_host), ('w1', cmd_w1),
                     ('bench', cmd_bench)):
        p = sub.add_parser(name)
        p.add_argument('--kernels',
                       default=os.environ.get('KERNELS') or DEFAULT_KERNELS)
        p.add_argument('--bindir', default=os.path.join(
            out_dir(), arch.current().bindir))
        p.add_argument('--timeout', type=int,
                       default=int(os.environ.get("TIMEOUT") or 900),
                       help='seconds before a guest is killed (TIMEOUT=)')
        p.add_argument('--scenario-timeout', type=int,
                       default=int(os.environ.get('SCENARIO_TIMEOUT') or 90),
                       help='seconds before one reproducer is killed')
        if name == 'w1':
            p.add_argument('--arch', help='arches to build for, e.g. '
                           '"x86_64 i386 arm64 riscv64" (default: ARCH)')
            p.add_argument('--cached-only', action='store_true',
                           help='leave out, and name, the arches with no '
                           'W=1 build in the cache')
        p.set_defaults(fn=fn)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    try:
        return args.fn(args) or 0
    except KitError as e:
        print(f'error: {e}', file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    finally:
        # What this command used of the cache, for make clean-cache.
        cache.record(args.cmd)
        record_timings(args.cmd, time.monotonic() - t0)
