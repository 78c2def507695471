"""The Overview page says what changed between two plan versions of an organisation
(Fortschreibung: added, dropped, moved), as ``ims-geo compare`` does, under AppTest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.test_cycle import PLANS, YEAR, build, line, plan, work


def test_the_overview_compares_two_versions_of_a_plan(
    open_app: Callable[..., AppTest], tmp_path: Path
) -> None:
    path = tmp_path / "store.gpkg"
    store = build(path)  # version 1 of every plan
    at = open_app("overview", store=path)
    assert "Every organisation has one version: nothing to compare yet." in [
        c.value for c in at.caption
    ]
    (w1, v1) = PLANS["Water"]
    assert (w1["work_id"], v1["work_id"]) == ("W1", "V1")
    moved = {**w1, "start_date": "2027-06-01", "end_date": "2027-06-20"}  # 31 days later
    added = work("N1", "water", "2027-10-01", "2027-10-05", line(3000))
    store.import_plan(plan("Water", [moved, added]), org="Water", cycle=YEAR + 1)  # V1 dropped
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="compare_org").value == "Water"
    assert (at.selectbox(key="compare_new_Water").value,
            at.selectbox(key="compare_old_Water_2").value) == (2, 1)  # fmt: skip
    assert "1 added, 1 dropped, 1 moved" in [c.value for c in at.caption]
    (table,) = [d.value for d in at.dataframe if "change" in d.value.columns]
    shifts = [None if pd.isna(d) else int(d) for d in table["shift_days"]]
    assert list(zip(table["work_id"], table["change"], shifts, strict=True)) == [
        ("N1", "added", None), ("V1", "dropped", None), ("W1", "moved", 31)
    ]  # fmt: skip
