"""The Gantt chart of a programme: planned against proposed bars."""

from __future__ import annotations

import pandas as pd

from ims_geo.ui import charts


def test_gantt_rows_pair_planned_and_proposed_bars_in_execution_order():
    day = pd.Timestamp
    works = pd.DataFrame(
        {
            "work_id": ["s1", "w1", "r1"],
            "org": ["Sewer", "Water", "City"],
            "discipline": ["sewer", "water", "road"],
            "cluster_id": ["C001", "C001", "C001"],
            "exec_order": [1, 2, 3],
            "start_date": [day("2027-03-01"), day("2027-05-01"), day("2027-01-01")],
            "end_date": [day("2027-03-31"), day("2027-05-31"), day("2027-01-31")],
            "proposed_start": [day("2027-04-01"), day("2027-04-01"), day("2027-05-02")],
            "proposed_end": [day("2027-04-30"), day("2027-04-30"), day("2027-06-01")],
        }
    ).iloc[[2, 0, 1]]
    rows = charts.gantt_rows(works)
    assert list(rows["work"][:3]) == ["C001 · Sewer · s1", "C001 · Water · w1", "C001 · City · r1"]
    assert list(rows["schedule"]) == ["planned"] * 3 + ["proposed"] * 3
    assert rows["start"].iloc[2] == day("2027-01-01") and rows["start"].iloc[5] == day("2027-05-02")
    assert (rows["bar_end"] - rows["end"] == pd.Timedelta(days=1)).all()
    spec = charts.gantt(works).to_dict()
    assert spec["encoding"]["x2"]["field"] == "bar_end"
    assert spec["encoding"]["y"]["sort"] == list(rows["work"][:3])
