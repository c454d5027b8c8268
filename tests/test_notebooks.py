"""The notebooks: outputs are not committed, and the documentation runs each.

The docs build (``tests/test_docs.py``) executes every notebook top to bottom
in a fresh kernel and checks its plots, so they are not run a second time here.
"""


import nbformat
import pytest

from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_no_committed_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_in_the_docs(path):
    """The docs build executes what its table of contents lists (docs/examples
    is a link to notebooks/)."""
    assert (REPO / "docs" / "examples" / path.name).resolve() == path.resolve()
    assert f"examples/{path.stem}\n" in (REPO / "docs" / "index.md").read_text()
