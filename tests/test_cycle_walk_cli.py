"""Tables of ``ims-geo cycle`` on a terminal: text read from the left under its column's
name, long texts (members, reasons) after the short columns, missing text empty."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from ims_geo import cycle
from ims_geo.cli import main
from ims_geo.cli.cycle import _table
from tests.test_cycle import SAVINGS, YEAR, build, hand_programme, monitored


def test_text_left_aligned_long_text_last_missing_empty() -> None:
    frame = pd.DataFrame({
        "project": ["C001", "C010"],
        "members": ["Water W1; Gas G1; City R1; Sewer X1; Heat H1", "Gas G2"],
        "n": [5, 12],
        "lead": ["Water", None],
    })  # fmt: skip
    assert _table(frame).splitlines() == [
        "project  n lead  members",
        "C001     5 Water Water W1; Gas G1; City R1; Sewer X1; Heat H1",
        "C010    12       Gas G2",
    ]


def test_project_states_read_from_the_left(tmp_path: Path) -> None:
    path = tmp_path / "cycle.gpkg"
    store = build(path)
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14", savings=SAVINGS)
    monitored(store)
    result = CliRunner().invoke(
        main, ["cycle", "deviations", "--cycle", str(YEAR), "--store", str(path)]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)
    states = cycle.project_status(store, YEAR)
    header = lines.index("project lead_org rag   reason")
    at = lines[header].index("reason")
    shown = lines[header + 1 : header + 1 + len(states)]
    assert [line[at:] for line in shown] == states["reason"].tolist()
    assert [line.split()[0] for line in shown] == states["project"].tolist()
