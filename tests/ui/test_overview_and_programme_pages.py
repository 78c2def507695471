"""The Overview and Programme pages under AppTest, on the demo store."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ims_geo.conflicts import find_conflicts
from ims_geo.programme import propose
from ims_geo.store import open_store
from ims_geo.ui import state
from ims_geo.ui.negotiate import kpi_name


@pytest.fixture(scope="module")
def works(demo_store):
    return open_store(demo_store).works()


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_counts_the_store(open_app, works):
    at = open_app()
    kinds = find_conflicts(works)["kind"].value_counts()
    assert metrics(at) == {
        "Organisations": str(works["org"].nunique()),
        "Planned works": f"{len(works):,}",
        "Clashes": f"{kinds['clash']:,}",
        "Moratorium violations": f"{kinds['moratorium']:,}",
        "Synergies": f"{kinds['synergy']:,}",
    }
    summary = at.dataframe[0].value
    assert sorted(summary["org"]) == sorted(works["org"].unique())


def test_overview_of_an_empty_store_says_what_to_do(open_app, tmp_path):
    at = open_app(store=tmp_path / "empty.gpkg")
    assert "Upload" in at.info[0].value and not at.metric


def test_programme_runs_with_progress_and_shows_the_proposal(open_app, works):
    at = open_app("programme")
    assert "Propose programme" in at.info[0].value
    at.slider(key="programme_time").set_value(20)  # room for the solver on a busy machine
    at.button(key="programme_run").click().run()
    assert not at.exception
    # the baseline is the planned dates: deterministic (the proposal depends on
    # how far the solver gets within its time limit; the baseline not at all, so
    # the shortest search gives it)
    baseline = propose(works, time_limit=1).kpis
    shown = {m.label: m for m in at.metric}
    # every KPI in words in the table of all figures; the main ones as metrics too
    (figures,) = [d.value for d in at.dataframe if "change" in d.value.columns]
    figures = figures.set_index("kpi")
    assert set(figures.index) == {kpi_name(k) for k in baseline["kpi"]} >= shown.keys()
    for row in baseline.itertuples(index=False):
        base = float(figures.loc[kpi_name(row.kpi), "baseline"].replace(",", "").replace("€", ""))
        assert base == pytest.approx(row.baseline, abs=0.5), row.kpi  # shown whole
    assert float(shown["Clashes"].value) < float(baseline.loc[0, "baseline"])
    (projects,) = [d.value for d in at.dataframe if "savings_eur" in d.value.columns]
    assert len(projects) == int(shown["Combined projects"].value) > 0
    assert projects["savings_eur"].is_monotonic_decreasing
    (gantt,) = at.get("vega_lite_chart")
    assert "proposed" in gantt.proto.spec and "planned" in gantt.proto.spec
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("GeoPackage") == 2 and labels.count("CSV") == 3
    # the page schedules nothing in the past: a moved work starts today or later
    # (the proposals the app keeps in this process: this page's and other tests' alike)
    kept = [p for key, p in state._proposals().items() if key[3] == 20 and key[-1] == date.today()]
    shifts = pd.concat([pd.DataFrame(p.works[["shift_days", "proposed_start"]]) for p in kept])
    moved = shifts[shifts["shift_days"] != 0]
    assert len(moved) > 0
    assert (pd.to_datetime(moved["proposed_start"]).dt.date >= date.today()).all()


def test_restore_button_makes_an_earlier_version_current_again(open_app, store_copy):
    org = "Helsinki Water"
    store = open_store(store_copy)
    full = store.works(orgs=org)
    assert len(full) == 253  # data/demo/manifest.json
    cycle = int(store.plan_versions(org)["cycle"].iloc[0])
    store.import_plan(full.head(50), org=org, cycle=cycle, source="part.gpkg")
    total = len(store.works())

    at = open_app(store=store_copy)
    assert metrics(at)["Planned works"] == f"{total:,}"
    versions = at.dataframe[1].value  # after the plans per organisation
    water = versions[versions["org"] == org]
    assert water[["version", "current", "works"]].values.tolist() == [
        [1, False, 253],
        [2, True, 50],
    ]
    assert at.selectbox(key="restore_org").options == [org]
    assert at.selectbox(key="restore_version").value == 1
    at.button(key="restore_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success[0].value == (
        f"Restored version 1 of {org} as plan version 3 (cycle {cycle}): 253 works."
    )
    assert metrics(at)["Planned works"] == f"{total - 50 + 253:,}"
    after = open_store(store_copy)
    assert after.plan_versions(org)["is_current"].tolist() == [False, False, True]
    assert after.compare_versions(org, 1, 3).empty


def test_restore_is_offered_when_every_current_plan_is_empty(open_app, demo_store, tmp_path):
    org = "Helsinki Sewerage"
    three = open_store(demo_store).works(orgs=org).head(3)
    store = open_store(tmp_path / "emptied.gpkg")
    store.import_plan(three, org=org, cycle=2026)
    store.import_plan(three.iloc[:0], org=org, cycle=2026, allow_empty=True)

    at = open_app(store=tmp_path / "emptied.gpkg")
    assert "No current plan holds works" in at.info[0].value and not at.metric
    at.button(key="restore_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert (
        at.success[0].value
        == f"Restored version 1 of {org} as plan version 3 (cycle 2026): 3 works."
    )
    assert metrics(at)["Planned works"] == "3"
