"""The Planning cycle page's monitoring and KPI tables read in words.

A KPI without a target shows "no target" (not "None"); the works awaiting
the update and the progress editor have their headers in words; a
project awaiting its members' update reads "awaiting update".
"""

from __future__ import annotations

import json
from pathlib import Path

from ims_geo import cycle
from ims_geo.i18n import fmt_number
from ims_geo.store import open_store
from tests.test_cycle_awaiting import YEAR, adopt


def _headers(element) -> dict[str, str]:
    """Column name -> the header st.dataframe shows (its label, else the name)."""
    config = json.loads(element.proto.columns or "{}")
    return {
        name: (value.get("label") or name) if isinstance(value, dict) else name
        for name, value in config.items()
    }


def test_kpi_targets_read_as_numbers_or_no_target(open_app, tmp_path: Path) -> None:
    path = tmp_path / "awaiting.gpkg"
    store = open_store(path)
    adopt(store)
    cycle.set_targets(store, YEAR, {"max_disruption_days": 40})
    at = open_app("cycle", store=path)
    assert not at.exception and not at.error
    (kpis,) = [d.value for d in at.dataframe if {"kpi", "value", "state"} <= set(d.value.columns)]
    targets = cycle.kpis(store, YEAR)["target"]
    expected = ["no target" if t != t or t is None else fmt_number(float(t)) for t in targets]
    assert kpis["target"].tolist() == expected
    assert "None" not in kpis["target"].tolist() and "40" in expected


def test_awaiting_and_progress_headers_in_words(open_app, tmp_path: Path) -> None:
    path = tmp_path / "awaiting.gpkg"
    store = open_store(path)
    adopt(store)
    at = open_app("cycle", store=path)
    assert not at.exception and not at.error
    (awaiting,) = [
        d for d in at.dataframe if {"adopted_start", "uploaded_at"} <= set(d.value.columns)
    ]
    headers = _headers(awaiting)
    assert (headers["adopted_start"], headers["adopted_end"]) == ("Adopted start", "Adopted end")
    (sheet,) = [d for d in at.dataframe if {"remark", "actual_start"} <= set(d.value.columns)]
    assert _headers(sheet)["remark"] == "Remark"
