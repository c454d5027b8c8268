"""The documentation builds without a warning, with every notebook executed.

One Sphinx build (``docs/conf.py``) per run of the suite: it renders the user
guide and the measurements, the API reference from the docstrings, and runs each
notebook of ``notebooks/`` top to bottom in a fresh kernel (the notebooks'
check that their outputs are not committed is in ``test_notebooks.py``).
"""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

import nengo_vision as nv
from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def built(data_dir, tmp_path_factory):
    """The HTML documentation, built as the README says, into a temporary folder."""
    missing = [m for m in ("sphinx", "myst_nb", "numpydoc") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run pip install -e \".[test]\"")
    tmp = tmp_path_factory.mktemp("docs")
    out, warnings = tmp / "html", tmp / "warnings.txt"
    # the notebooks read MNIST from NENGO_VISION_DATA and train into a cache of
    # their own, as a user's first run would
    env = dict(os.environ, NENGO_VISION_DATA=str(data_dir), NENGO_VISION_CACHE=str(tmp / "cache"))
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         "-w", str(warnings), str(REPO / "docs"), str(out)],
        env=env, capture_output=True, text=True, timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return out, warnings.read_text()


@pytest.mark.slow  # executes the notebooks, which train a model
def test_docs_build_without_warnings(built):
    out, warnings = built
    assert warnings == ""
    pages = {p.stem for p in out.glob("*.html")}
    for page in ("index", "getting_started", "cli", "api", "measurements"):
        assert page in pages


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_executed_by_the_build(built, path):
    out, _ = built
    html = (out / "examples" / f"{path.stem}.html").read_text()
    # the plots were drawn (probe_plots: the digit, rasters, voltages, output traces)
    assert len(re.findall(r'<img [^>]*src="\.\./_images/', html)) >= 3


@pytest.mark.slow
def test_api_reference_documents_the_public_api(built):
    out, _ = built
    ids = set(re.findall(r'id="([^"]+)"', (out / "api.html").read_text()))
    where = {"pipeline": "module-nengo_vision.pipeline", "plots": "module-nengo_vision.report.plots",
             "sweep": "nengo_vision.sweep.sweep"}
    for name in nv.__all__:
        if name.endswith("Error"):
            expected = f"nengo_vision.errors.{name}"
        else:
            expected = where.get(name, f"nengo_vision.{name}")
        assert expected in ids, name
