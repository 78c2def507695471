"""The Planning cycle page through the year and into the next (Fortschreibung), under
AppTest: what comes next and who does it; last year's targets taken over with one button;
a target emptied in the table is removed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ims_geo import cycle
from ims_geo.store import open_store
from tests.test_cycle import YEAR, build, hand_programme, line, plan, work

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


def _next_lines(at: AppTest) -> list[str]:
    """The page's "what comes next" lines, without their arrow."""
    arrow = ":material/arrow_forward: "
    (shown,) = [m.value for m in at.markdown if m.value.startswith(arrow)]
    return [line.removeprefix(arrow) for line in shown.split("  \n")]


def test_the_page_says_what_comes_next_and_who_does_it(
    open_app: Callable[..., AppTest], tmp_path: Path
) -> None:
    path = tmp_path / "store.gpkg"
    store = build(path)  # every organisation's 2027 plan; no targets but the default
    at = open_app("cycle", store=path)
    assert int(at.number_input(key="cycle_year").value) == YEAR
    assert _next_lines(at) == [
        "A coordinator sets the targets under **Targets and KPIs** below.",
        "A coordinator adopts the programme under **Adopted programme** below (or a proposal "
        "on the **Programme** page), with the reference of the decision.",
    ]
    cycle.set_targets(store, YEAR, {k: 1.0 for k in cycle.KPIS})
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14",
                decision_date="2027-02-01")  # fmt: skip
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _next_lines(at) == [
        "Planners report their works' progress under **Monitoring** below.",
        "The council pack for the directors is built under **Council pack** below.",
    ]
    # the steps name no command line: the app has a tab for each
    steps = [m.value for m in at.markdown if m.value.startswith((":green[", ":orange[", ":red["))]
    assert len(steps) == 5 and not [s for s in steps if "ims-geo" in s]
    telecom = plan("Telecom", [work("T1", "telecom", "2028-03-01", "2028-03-10", line(1000))])
    store.import_plan(telecom, org="Telecom", cycle=YEAR + 1)
    at.number_input(key="cycle_year").set_value(YEAR + 1).run()
    assert _next_lines(at) == [  # the 2028 cycle: one plan of six, nothing set or adopted
        "Planners upload their organisation's 2028 plan on the **Upload** page.",
        "A coordinator sets the targets under **Targets and KPIs** below.",
        "A coordinator adopts the programme under **Adopted programme** below (or a proposal "
        "on the **Programme** page), with the reference of the decision.",
    ]
