"""The Planning cycle page's targets in the next cycle (Fortschreibung), under AppTest:
last year's targets taken over with one button; a target emptied in the table is removed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ims_geo import cycle
from ims_geo.store import open_store

LAST_YEAR = {"combined_share": 0.6, "trees_planted": 40.0}


def test_last_years_targets_taken_over_then_one_emptied(
    open_app: Callable[..., AppTest], tmp_path: Path
) -> None:
    path = tmp_path / "store.gpkg"
    cycle.set_targets(open_store(path), 2025, LAST_YEAR, custom=True)
    at = open_app("cycle", store=path)
    at.number_input(key="cycle_year").set_value(2026).run()
    assert [i.value for i in at.info if i.value.startswith("No targets set")] == [
        "No targets set for 2026 yet; 2025 set 2 targets. Take them over, then change what "
        "this year needs."
    ]
    at.button(key="cycle_carry_targets").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert cycle.stored_targets(open_store(path), 2026) == LAST_YEAR
    assert not [
        i.value for i in at.info if i.value.startswith("No targets set")
    ]  # 2026 has its own now
    assert "cycle_carry_targets" not in {b.key for b in at.button}

    # the table's rows: the known KPIs, then the custom one; empty combined_share (row 0)
    shown = cycle.targets(open_store(path), 2026)
    assert list(shown["kpi"]) == [*cycle.KPIS, "trees_planted"]
    at.session_state["cycle_targets_2026"] = {
        "edited_rows": {"0": {"target": None}}, "added_rows": [], "deleted_rows": []
    }  # fmt: skip
    at.button(key="cycle_save_targets").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # what the table then held: moratorium_violations at its default 0, trees_planted 40
    assert cycle.stored_targets(open_store(path), 2026) == {
        "moratorium_violations": 0.0, "trees_planted": 40.0
    }  # fmt: skip
    assert cycle.stored_targets(open_store(path), 2025) == LAST_YEAR
