"""The Overview and Programme pages under AppTest, on the demo store."""

from __future__ import annotations

import pytest

from ims_geo.conflicts import find_conflicts
from ims_geo.programme import propose
from ims_geo.store import open_store


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
        "Clashes": str(kinds["clash"]),
        "Moratorium violations": str(kinds["moratorium"]),
        "Synergies": str(kinds["synergy"]),
    }
    summary = at.dataframe[0].value
    assert sorted(summary["org"]) == sorted(works["org"].unique())


def test_overview_of_an_empty_store_says_what_to_do(open_app, tmp_path):
    at = open_app(store=tmp_path / "empty.gpkg")
    assert "Upload" in at.info[0].value and not at.metric


def test_programme_runs_with_progress_and_shows_the_proposal(open_app, works):
    at = open_app("programme")
    assert "Propose programme" in at.info[0].value
    at.slider(key="programme_time").set_value(5)
    at.button(key="programme_run").click().run()
    assert not at.exception
    # the baseline is the planned dates: deterministic (the proposal depends on
    # how far the solver gets within its time limit)
    baseline = propose(works, time_limit=5).kpis
    shown = {m.label: m for m in at.metric}
    assert shown.keys() == {k.capitalize() for k in baseline["kpi"]}
    for row in baseline.itertuples(index=False):
        value = float(shown[row.kpi.capitalize()].value.replace(",", ""))
        change = float(shown[row.kpi.capitalize()].delta.replace(",", ""))
        assert value - change == pytest.approx(row.baseline), row.kpi
    assert float(shown["Clashes"].value) < float(baseline.loc[0, "baseline"])
    (projects,) = [d.value for d in at.dataframe if "savings_eur" in d.value.columns]
    assert len(projects) == int(shown["Combined projects"].value) > 0
    assert projects["savings_eur"].is_monotonic_decreasing
    (gantt,) = at.get("vega_lite_chart")
    assert "proposed" in gantt.proto.spec and "planned" in gantt.proto.spec
    labels = [b.label for b in at.get("download_button")]
    assert labels.count("GeoPackage") == 2 and labels.count("CSV") == 3
