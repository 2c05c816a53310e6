# SPDX-License-Identifier: GPL-2.0
"""Real clients in the guest: QEMU and exactly the files it loads.

The scenarios of build/bin/clients.list run a Debian program (QEMU) inside
the guest.  They boot with an initramfs of their own, so that the other
scenarios keep their small, fast one.  What QEMU needs is found, not
listed: QEMU is started once on the host the way the scenario starts it,
with the dynamic loader's LD_DEBUG=libs, and every object whose
initialiser the loader calls (shared libraries, the loader itself and the
modules QEMU dlopen()s, such as its TCG accelerator) goes into the
initramfs at the same path.
"""

import os
import re
import subprocess

from .util import KitError, log

QEMU = '/usr/bin/qemu-system-x86_64'
PROBE = [QEMU, '-machine', 'none', '-display', 'none', '-nodefaults',
         '-qmp', 'stdio', '-object',
         'memory-backend-memfd,id=ram,size=4M,share=off,prealloc=on']
QMP_QUIT = (b'{"execute":"qmp_capabilities"}\n'
            b'{"execute":"quit"}\n')
LOADED = re.compile(r'calling init: (/\S+)')


def loaded_files(cmd=PROBE):
    """The binary, its loader and every object the loader maps for `cmd`."""
    if not os.access(cmd[0], os.X_OK):
        raise KitError(f'{cmd[0]} not found: apt-get install qemu-system-x86')
    env = dict(os.environ, LD_DEBUG='libs')
    try:
        r = subprocess.run(cmd, input=QMP_QUIT, capture_output=True,
                           env=env, timeout=60)
    except subprocess.TimeoutExpired:
        raise KitError(f'{" ".join(cmd)} did not quit within 60 s')
    found = LOADED.findall(r.stderr.decode(errors='replace'))
    if not found:
        raise KitError(f'could not tell what {cmd[0]} loads: LD_DEBUG=libs '
                       f'printed no "calling init" line')
    files = list(dict.fromkeys([cmd[0]] + [os.path.normpath(f)
                                           for f in found]))
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        raise KitError(f'{cmd[0]} loads {", ".join(missing)}, which do not '
                       f'exist here')
    log(f'clients: {cmd[0]} loads {len(files) - 1} objects')
    return files
