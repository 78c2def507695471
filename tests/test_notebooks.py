"""The walk-through notebooks are executed, so they never rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # importing streamlit (other tests in this process) sets MPLBACKEND=Agg, which
    # the kernel would inherit and then draw no inline figures
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the map cell drew a figure
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_walkthroughs_exist():
    assert [p.name for p in NOTEBOOKS] == ["conflicts_walkthrough.ipynb", "planning_cycle.ipynb"]
