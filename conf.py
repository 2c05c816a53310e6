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
    'README.md',
    '**/__pycache__',
]

extensions = [
    'sphinx.ext.graphviz',
]

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
