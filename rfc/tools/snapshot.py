#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The RFC's results snapshot (rfc/results/): make it, or check a run.

  snapshot.py make [O]     copy the last run's results into rfc/results/
  snapshot.py vcpus O...   summarise runs of the race scenarios made with
                           different VCPUS= (one build directory each) into
                           rfc/results/vcpus.json
  snapshot.py compare [O] [--require K,K]
                           compare the run in O with rfc/results/: exit 1
                           and name every fact that differs (and, if O has
                           a make bench run, its pages per fault and
                           capacity); the kernels of --require must be in
                           the run, the snapshot's others are compared if
                           they are

O is the build directory (default $O, else build/).  See rfc/_ext/kitdata.py
for what is copied and what is compared.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), '_ext'))

import kitdata  # noqa: E402


def main(argv):
    require = None
    if '--require' in argv:
        i = argv.index('--require')
        require = argv[i + 1].split(',')
        argv = argv[:i] + argv[i + 2:]
    if len(argv) > 2 and argv[1] == 'vcpus':
        rows = kitdata.snapshot_vcpus(argv[2:])
        print(f'{os.path.relpath(kitdata.SNAPSHOT)}/vcpus.json: '
              f'{len(rows)} runs')
        return 0
    if len(argv) < 2 or argv[1] not in ('make', 'compare'):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = argv[2] if len(argv) > 2 else (
        os.environ.get('O') or os.path.join(kitdata.KIT_ROOT, 'build'))
    snap = os.path.relpath(kitdata.SNAPSHOT, os.getcwd())
    if argv[1] == 'make':
        kernels, host, bench = kitdata.snapshot(out)
        print(f'{snap}: kernels {" ".join(kernels)}'
              + (f'; host {" ".join(host)}' if host else '; no host run')
              + (f'; bench {" ".join(bench)}' if bench else
                 '; no bench run in the build (bench*.json kept as they '
                 'were)'))
        return 0
    kernels, problems = kitdata.compare(out, require=require)
    for p in problems:
        print(p)
    if problems:
        print(f'{len(problems)} difference(s) between the run in {out} and '
              f'{snap}: if the change is intended, "make rfc-snapshot" and '
              f're-read the pages it changes')
        return 1
    bench = kitdata.bench_runs(os.path.join(os.path.abspath(out),
                                            'results'))
    print(f'the run matches {snap} for {" ".join(kernels)}'
          + (f'; bench ({", ".join(bench)}): pages per fault and capacity'
             if bench else '; no bench run to compare'))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
