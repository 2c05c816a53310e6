# SPDX-License-Identifier: GPL-2.0
#
# Sphinx configuration of the shmem MAP_PRIVATE hole RFC kit.
#
# Written for Sphinx 5.3 as Debian packages it (python3-sphinx).  Build:
#
#	sphinx-build -W -b html . build/html
#
# -W turns every warning into an error: the documentation is expected to
# build without any.

project = 'shmem MAP_PRIVATE hole RFC kit'
author = 'the shmem MAP_PRIVATE hole RFC kit authors'
copyright = '2026, ' + author
language = 'en'

root_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}

# Only the RFC (rfc/) and the user guide (Documentation/) are documents.
# The rest of the tree is code, data or build output.
exclude_patterns = [
    'build',
    '.git',
    '.ci',
    'kernel-patch',
    'repro',
    'tests',
    'rfc/results',
    'rfc/_ext',
    'rfc/tools',
    'README.md',
    '**/__pycache__',
]

import os
import sys

from sphinx.errors import ConfigError

KIT_ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, KIT_ROOT)
sys.path.insert(0, os.path.join(KIT_ROOT, 'rfc', '_ext'))


def kernel_source():
    """The kernel tree the kit builds, found the way the harness finds it.

    KSRC= names a tree directly.  Otherwise it is Debian's linux-source
    tarball unpacked under $KIT_CACHE by the harness (make repro, make
    kernels), which this unpacks on first use if the package is installed.
    """
    from repro.harness import kernel, util
    ksrc = os.environ.get('KSRC')
    try:
        if ksrc:
            kernel.Source.check_tree(os.path.abspath(ksrc), 'KSRC')
            return os.path.abspath(ksrc)
        return kernel.Source().path
    except util.KitError as e:
        raise ConfigError(f'kernel source for kernel-doc not found: {e}')


KSRC = kernel_source()
for need in ('scripts/kernel-doc', 'Documentation/sphinx/kerneldoc.py'):
    if not os.path.exists(os.path.join(KSRC, need)):
        raise ConfigError(f'{KSRC} has no {need}: the user guide renders '
                          f'repro/lib/ with the kernel\'s own kernel-doc')
# The kernel's Sphinx extensions (kerneldoc.py imports kernellog.py on 6.x;
# on 7.x it imports the Python kernel-doc of tools/lib/python, found through
# the srctree variable its Makefile sets).
sys.path.append(os.path.join(KSRC, 'Documentation', 'sphinx'))
os.environ.setdefault('srctree', KSRC)

extensions = [
    'sphinx.ext.graphviz',
    'kerneldoc',
    'kitresults',
]

# kernel-doc: the script from the kernel tree, the files from the kit.  A
# kernel-doc warning (an undocumented parameter, a misnamed member) fails
# the directive, and so the build.
kerneldoc_bin = os.path.join(KSRC, 'scripts', 'kernel-doc')
kerneldoc_srctree = KIT_ROOT
os.environ['KDOC_WERROR'] = '1'

graphviz_output_format = 'svg'

# Literal blocks are commands, C and kernel output: do not guess a lexer.
highlight_language = 'none'

# No measured number is typed into these pages; see Documentation/results.rst.
# Keep the build reproducible: no "last updated" stamp.
html_last_updated_fmt = None

try:
    import sphinx_rtd_theme  # noqa: F401
    html_theme = 'sphinx_rtd_theme'
except ImportError:
    html_theme = 'alabaster'

html_title = project
html_show_sourcelink = False
html_static_path = ['rfc/_static']
html_css_files = ['kit.css']
