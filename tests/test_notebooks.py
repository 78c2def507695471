"""The walk-through notebooks are executed, so they never rot."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Values given to a notebook's ``parameters`` cell for the run (papermill's convention: a
#: cell tagged ``injected-parameters`` right after it). The planning cycle's proposer
#: searches 12 s instead of 20 for each programme: every cell still runs and every check in
#: it holds. Its limit counts the clustering before the search too (about 5 s on a loaded
#: machine): with 5 or 8 s a loaded run found almost no combined project (none once),
#: with 10 s 146 of them.
PARAMETERS = {"planning_cycle": "time_limit = 12"}


def _assigned(source: str) -> set[str]:
    """The names the cell's top-level statements assign."""
    body = ast.parse(source).body
    return {
        t.id
        for n in body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }


def with_parameters(nb: nbformat.NotebookNode, source: str) -> None:
    """Run ``source`` right after the notebook's ``parameters`` cell, which must assign the
    same names (a parameter renamed in the notebook fails here, not silently unused)."""
    (index,) = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert _assigned(source) == _assigned(nb.cells[index].source), nb.cells[index].source
    nb.cells.insert(index + 1, new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # importing streamlit (other tests in this process) sets MPLBACKEND=Agg, which
    # the kernel would inherit and then draw no inline figures
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(path, as_version=4)
    if path.stem in PARAMETERS:
        with_parameters(nb, PARAMETERS[path.stem])
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    # every cell ran, in order
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    outputs = [o for cell in code for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the map cell drew a figure
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_walkthroughs_exist():
    assert [p.name for p in NOTEBOOKS] == ["conflicts_walkthrough.ipynb", "planning_cycle.ipynb"]
