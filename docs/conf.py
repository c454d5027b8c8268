"""Sphinx configuration: the user guide and measurements (MyST Markdown), the API
reference from the numpydoc docstrings, and the notebooks in ``notebooks/``,
executed at every build.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (from
the repository's root, with ``NENGO_VISION_DATA`` naming the folder of
``mnist.npz``); ``-D nb_execution_mode=off`` builds without running the
notebooks.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the checkout being documented, even where another copy is installed
sys.path.insert(0, str(ROOT))

import nengo_vision  # noqa: E402  (from ROOT)

project = "nengo_vision"
author = "nengo_vision contributors"
copyright = "2026, nengo_vision contributors"
release = version = nengo_vision.__version__

extensions = [
    "myst_nb",  # Markdown pages and notebooks (includes myst_parser)
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
]

# ``docs/examples`` is a link to ``notebooks/``: the notebooks stay where the
# tests and users find them
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# MyST: ``page.md#heading`` links resolve as they do on GitHub
myst_heading_anchors = 3

# Notebooks run at every build (outputs are never committed), in a temporary
# folder so that nothing is written into the checkout; a failing cell fails the
# build. The data come from NENGO_VISION_DATA, as for the tests.
nb_execution_mode = "force"
nb_execution_in_temp = True
nb_execution_raise_on_error = True
nb_execution_timeout = 1200
nb_execution_show_tb = True

# autodoc: members in source order; numpydoc renders the sections but does not
# add per-member tables (the pages list what is public)
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autosummary_generate = False

html_theme = "alabaster"
html_title = f"nengo_vision {release}"
html_static_path = []
