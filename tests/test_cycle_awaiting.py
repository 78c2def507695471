"""The planning cycle right after adoption: plans not yet updated to the adopted dates.

The state of every adopted work and project is recomputed by an independent
model (a loop over the works, written from the rules as a coordinator reads
them) and compared with the library on a GeoPackage store and on PostGIS:
adopt, then no re-import (awaiting update), a re-import with the adopted
dates (on programme), a re-import with other dates (a deviation), and
progress reported late (red).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ims_geo import cycle
from ims_geo.store import Store, open_store
from tests.test_cycle import line, plan, progress_frame, work

YEAR = 2030
#: Plans before adoption: org -> [(work_id, discipline, start, end, x, y)].
BEFORE: dict[str, list[tuple[str, str, str, str, float, float]]] = {
    "Water": [("W1", "water", "2030-03-01", "2030-03-20", 0.0, 2.0)],
    "Gas": [("G1", "gas", "2030-04-01", "2030-04-10", 0.0, -2.0)],
    "City": [("R1", "road", "2030-05-01", "2030-05-31", 0.0, 0.0)],
    "Heat": [("H1", "heat", "2030-08-01", "2030-08-31", 3000.0, 0.0)],
}
#: The adopted dates (project C001: W1, G1, R1; H1 on its own, adopted as planned).
ADOPTED: dict[tuple[str, str], tuple[str, str]] = {
    ("Water", "W1"): ("2030-04-15", "2030-05-04"),  # 45 days later: would be "moved"
    ("Gas", "G1"): ("2030-04-20", "2030-04-29"),  # 19 days later: would be "late"
    ("City", "R1"): ("2030-05-01", "2030-05-31"),  # as planned
    ("Heat", "H1"): ("2030-08-01", "2030-08-31"),
}
PROJECT = {("Water", "W1"): 1, ("Gas", "G1"): 2, ("City", "R1"): 3}


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def plan_of(org: str, dates: dict[str, tuple[str, str]] | None = None) -> gpd.GeoDataFrame:
    rows = []
    for wid, disc, start, end, x, y in BEFORE[org]:
        start, end = (dates or {}).get(wid, (start, end))
        rows.append(work(wid, disc, start, end, line(x, y)))
    return plan(org, rows)


def plans_before() -> dict[tuple[str, str], tuple[str, str]]:
    """Every work's dates in the plans the programme was adopted from."""
    return {(o, w): (s, e) for o, rows in BEFORE.items() for w, _, s, e, _, _ in rows}


def right_after_adoption() -> tuple[
    dict[tuple[str, str], tuple[str, int | None]], str, list[tuple[str, str]]
]:
    """The model's states, project state and works awaiting the update right after adoption."""
    states, project = model(plans_before(), {})
    waiting = sorted(k for k, (kind, _) in states.items() if kind == "awaiting_update")
    return states, project, waiting


def adopt(store: Store) -> None:
    for org in BEFORE:
        store.import_plan(plan_of(org), org=org, cycle=YEAR, source=f"{org}.gpkg")
    works = store.works()
    keys = list(zip(works["org"], works["work_id"], strict=True))
    proposal = gpd.GeoDataFrame(
        {
            "org": works["org"],
            "work_id": works["work_id"],
            "proposed_start": [ADOPTED[k][0] for k in keys],
            "proposed_end": [ADOPTED[k][1] for k in keys],
            "cluster_id": ["C001" if k in PROJECT else None for k in keys],
            "exec_order": [PROJECT.get(k) for k in keys],
        },
        geometry=works.geometry,
        crs=works.crs,
    )
    cycle.adopt(store, YEAR, proposal, decision="Council 2030/1", decision_date="2030-01-15")


# --- the independent model -----------------------------------------------------------------
def model(
    current: dict[tuple[str, str], tuple[str, str]],
    actual: dict[tuple[str, str], tuple[str, str | None]],
) -> tuple[dict[tuple[str, str], tuple[str, int | None]], str]:
    """Each adopted work's state and days, and the state of project C001.

    ``current``: the current plan's dates (whenever the plan was imported, a work
    whose dates did not change awaits the update); ``actual``: reported actual dates.
    """
    before = plans_before()
    member = [k for k in ADOPTED if k in PROJECT]
    joint = (min(day(ADOPTED[k][0]) for k in member), max(day(ADOPTED[k][1]) for k in member))
    states: dict[tuple[str, str], tuple[str, int | None]] = {}
    outside_unstarted = False
    for key, (a_start, a_end) in ADOPTED.items():
        started = key in actual
        if started:
            s = day(actual[key][0])
            e_text = actual[key][1]
            e = day(e_text) if e_text else s + (day(a_end) - day(a_start))
        else:
            s, e = day(current[key][0]), day(current[key][1])
        shift = (s - day(a_start)).days
        end_shift = (e - day(a_end)).days
        outside = key in PROJECT and (s < joint[0] or e > joint[1])
        if not started and current[key] == before[key] and current[key] != (a_start, a_end):
            states[key] = ("awaiting_update", shift)
            continue
        if started and outside:
            states[key] = ("not_combined", max((joint[0] - s).days, (e - joint[1]).days))
        elif abs(shift) > 30 or abs(end_shift) > 30:
            states[key] = ("moved", shift if abs(shift) > 30 else end_shift)
        elif shift > 0:
            states[key] = ("late", shift)
        elif shift < 0:
            states[key] = ("early", shift)
        else:
            states[key] = ("", None)
        outside_unstarted |= outside and not started and states[key][0] != ""
    kinds = [states[k][0] for k in member]
    if "not_combined" in kinds or outside_unstarted:
        project = "red"
    elif any(k in ("moved", "late", "early") for k in kinds):
        project = "amber"
    elif "awaiting_update" in kinds:
        project = "awaiting_update"
    else:
        project = "green"
    return states, project


def library(store: Store) -> tuple[dict[tuple[str, str], tuple[str, int | None]], str]:
    """The same as :func:`model`, read from the library (deviations and awaiting apart)."""
    devs, projects, awaiting = cycle.monitoring(store, YEAR)
    states: dict[tuple[str, str], tuple[str, int | None]] = {k: ("", None) for k in ADOPTED}
    for org, wid, kind, days in devs.loc[:, ["org", "work_id", "deviation", "days"]].itertuples(
        index=False
    ):
        states[(org, wid)] = (kind, None if pd.isna(days) else int(days))
    for org, wid, days in awaiting.loc[:, ["org", "work_id", "days"]].itertuples(index=False):
        assert states[(org, wid)] == ("", None), "a work is listed as deviating and awaiting"
        states[(org, wid)] = ("awaiting_update", int(days))
    assert not set(devs["deviation"]) & {"awaiting_update"}
    assert projects["project"].tolist() == ["C001"]
    assert cycle.project_status(store, YEAR)["rag"].tolist() == projects["rag"].tolist()
    return states, str(projects["rag"].iloc[0])


def walk(store: Store) -> None:
    """Adopt, then each step of the brief, comparing the library with the model each time."""
    adopt(store)
    current = plans_before()
    actual: dict[tuple[str, str], tuple[str, str | None]] = {}

    def check(expected_project: str) -> None:
        expected = model(current, actual)
        assert library(store) == expected
        assert expected[1] == expected_project  # the model itself says what the step shows

    # 1. right after adoption: W1 and G1 await the update, nothing deviates
    check("awaiting_update")
    awaiting = cycle.awaiting_update(store, YEAR)
    assert awaiting["work_id"].tolist() == ["G1", "W1"]
    assert cycle.deviations(store, YEAR).empty
    w1 = awaiting.set_index("work_id").loc["W1"]
    assert (w1["start"], w1["adopted_start"]) == (pd.Timestamp("2030-03-01"),
                                                  pd.Timestamp("2030-04-15"))  # fmt: skip
    assert w1["reason"] == (
        "plan not yet updated to the adopted dates: plan 2030-03-01 to 2030-03-20, "
        "adopted 2030-04-15 to 2030-05-04"
    )
    states = cycle.project_status(store, YEAR).set_index("project")
    assert states.loc["C001", "reason"] == (
        "Water W1 awaiting_update (-45 days); Gas G1 awaiting_update (-19 days)"
    )
    # 2. Water imports the adopted dates: W1 on programme, G1 still awaits
    current[("Water", "W1")] = ADOPTED[("Water", "W1")]
    store.import_plan(plan_of("Water", {"W1": ADOPTED[("Water", "W1")]}), org="Water",
                      cycle=YEAR)  # fmt: skip
    check("awaiting_update")
    assert cycle.awaiting_update(store, YEAR)["work_id"].tolist() == ["G1"]
    # 3. Gas imports other dates (3 days after the adopted ones): a real deviation
    current[("Gas", "G1")] = ("2030-04-23", "2030-05-02")
    store.import_plan(plan_of("Gas", {"G1": current[("Gas", "G1")]}), org="Gas", cycle=YEAR)
    check("amber")
    assert cycle.awaiting_update(store, YEAR).empty
    # 4. City reports R1 started after the joint period's end: late progress, red
    actual[("City", "R1")] = ("2030-06-05", None)
    cycle.record_progress(store, YEAR, "City", progress_frame(
        [("R1", "in_progress", "2030-06-05", None, None)]))  # fmt: skip
    check("red")


def test_after_adoption_plans_await_the_update_then_follow_or_deviate(tmp_path: Path) -> None:
    walk(open_store(tmp_path / "cycle.gpkg"))


def test_after_adoption_plans_await_the_update_on_postgis(postgis_url: str) -> None:
    walk(open_store(postgis_url))


def test_the_old_plan_imported_again_after_adoption_still_awaits_the_update(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path / "cycle.gpkg")
    adopt(store)
    store.import_plan(plan_of("Gas"), org="Gas", cycle=YEAR)  # the same dates again
    before = plans_before()
    expected = model(before, {})
    assert library(store) == expected
    assert expected[0][("Gas", "G1")] == ("awaiting_update", -19)


def test_progress_reported_on_a_work_awaiting_the_update_counts(tmp_path: Path) -> None:
    store = open_store(tmp_path / "cycle.gpkg")
    adopt(store)
    cycle.record_progress(store, YEAR, "Water", progress_frame(
        [("W1", "in_progress", "2030-04-17", None, None)]))  # fmt: skip
    before = plans_before()
    expected = model(before, {("Water", "W1"): ("2030-04-17", None)})
    assert library(store) == expected
    assert expected[0][("Water", "W1")] == ("late", 2)


def test_kpis_do_not_count_works_awaiting_the_update_as_failed(tmp_path: Path) -> None:
    store = open_store(tmp_path / "cycle.gpkg")
    adopt(store)
    kpis = cycle.kpis(store, YEAR).set_index("kpi")["value"]
    # every excavating work of the programme is in C001 or alone: W1, G1 combined, H1 alone
    assert kpis["combined_share"] == 2 / 3
    status = cycle.status(store, YEAR)
    assert len(status.awaiting) == 2 and status.deviations.empty
    assert status.projects["rag"].tolist() == ["awaiting_update"]


# --- the command line -----------------------------------------------------------------------
def run(*args: str) -> str:
    from click.testing import CliRunner

    from ims_geo.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_lists_plans_awaiting_the_update_apart_from_deviations(tmp_path: Path) -> None:
    path = tmp_path / "cycle.gpkg"
    store = open_store(path)
    adopt(store)
    states, project, waiting = right_after_adoption()
    out = run("cycle", "deviations", "--cycle", str(YEAR), "--store", str(path))
    lines = out.splitlines()
    assert lines[0] == "No deviations from the adopted programme."
    per_org = ", ".join(f"{o} (1)" for o, _ in waiting)
    assert lines[2] == (
        f"Plans not yet updated to the adopted dates (not deviations): {len(waiting)} works of "
        + per_org
    )
    rows = [line.split() for line in lines[4 : 4 + len(waiting)]]
    assert [(r[0], r[1], int(r[3])) for r in rows] == [
        (o, w, states[(o, w)][1]) for o, w in waiting
    ]
    assert lines[-1].split()[:3] == ["C001", "City", project]
    status = run("cycle", "status", "--cycle", str(YEAR), "--store", str(path))
    assert (
        "0 deviations; projects 0 red, 0 amber, 0 green; works awaiting plans updated to the "
        f"adopted dates: {len(waiting)} (organisations: {len({o for o, _ in waiting})}, "
        "projects: 1)" in status
    )
    assert "Deviations:" not in status and per_org in status
    # Gas imports other dates: a deviation now, the awaiting list shrinks to Water
    store.import_plan(plan_of("Gas", {"G1": ("2030-04-23", "2030-05-02")}), org="Gas", cycle=YEAR)
    out = run("cycle", "deviations", "--cycle", str(YEAR), "--store", str(path))
    assert out.splitlines()[1].split()[:5] == ["Gas", "G1", "C001", "late", "3"]
    assert "works of Water (1)" in out and "Gas (1)" not in out
    assert out.splitlines()[-1].split()[:3] == ["C001", "City", "amber"]


# --- the status report ----------------------------------------------------------------------
def test_status_report_shows_plans_awaiting_the_update_apart(tmp_path: Path) -> None:
    from ims_geo.report import assemble, html, svg, xlsx

    store = open_store(tmp_path / "cycle.gpkg")
    adopt(store)
    states, project, waiting = right_after_adoption()
    data = assemble.report_data(store, YEAR, as_of=dt.date(2030, 2, 1))
    assert list(zip(data.awaiting["org"], data.awaiting["work_id"], strict=True)) == waiting
    assert data.awaiting["days"].tolist() == [states[k][1] for k in waiting]
    assert data.deviations.empty and data.projects["rag"].tolist() == [project]
    page = html.render_html(data, "status", lang="en")
    section = page.split("Plans not yet updated to the adopted dates</h2>")[1].split("<h2")[0]
    assert "Not deviations: these organisations" in section
    for org, wid in waiting:
        assert f"<td>{org}</td><td>{wid}</td>" in section
    assert '<span class="rag rag-awaiting_update">awaiting update</span>' in page
    assert "Water W1 awaiting update (-45 days)" in page
    assert "project awaiting update" in page  # the Gantt chart's legend, in its own colour
    assert svg.rag_colour("awaiting_update") not in {
        svg.rag_colour(k) for k in ("red", "amber", "green", "")
    }
    sheet = xlsx.sheets(data, "status", lang="en")["Awaiting plan update"]
    assert sheet.iloc[:, :2].values.tolist() == [list(k) for k in waiting]
    # once every plan holds the adopted dates, the section says so and the project is green
    for org in ("Water", "Gas"):
        wid = BEFORE[org][0][0]
        store.import_plan(plan_of(org, {wid: ADOPTED[(org, wid)]}), org=org, cycle=YEAR)
    data = assemble.report_data(store, YEAR, as_of=dt.date(2030, 2, 1))
    assert data.awaiting.empty and data.projects["rag"].tolist() == ["green"]
    page = html.render_html(data, "status", lang="en")
    assert "Every programme work&#x27;s plan holds the adopted dates or deviates." in page
