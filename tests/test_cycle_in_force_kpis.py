"""A year without its own adoption measures the programme in force: KPIs and picture.

2026 adopts a programme whose works mostly run in 2027: project P1 (W2, G1),
project P2 (T1, E1), and H1, R1 on their own; W1 ends in 2026. Elec reports
in 2026 that E1 started on 1 November 2026, before P2's joint period (so E1
is not combined and P2 fails); Heat reports H1 started on 1 December 2026.
2027 opens without a programme of its own. Its KPIs and its picture are
computed here by hand from the 2026 programme and those two reports.

A second part checks that a 2026 and a 2027 project of the same name are two
projects when the report matches the conflicts at adoption.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from ims_geo import cycle
from ims_geo.report.assemble import conflict_states
from ims_geo.store import Store, open_store
from tests.test_cycle import brute_disruption, line, plan, progress_frame, work

#: The 2026 plans: work -> (discipline, start, end, x, y); one organisation each.
PLANS: dict[tuple[str, str], tuple[str, str, str, float, float]] = {
    ("Water", "W1"): ("water", "2026-05-01", "2026-05-31", 3000.0, 2.0),
    ("Water", "W2"): ("water", "2027-03-01", "2027-03-31", 0.0, 2.0),
    ("Gas", "G1"): ("gas", "2027-03-10", "2027-04-05", 0.0, -2.0),
    ("Heat", "H1"): ("heat", "2027-06-01", "2027-06-30", 1000.0, 0.0),
    ("City", "R1"): ("road", "2027-08-01", "2027-08-31", 2000.0, 0.0),
    ("Telecom", "T1"): ("telecom", "2027-05-01", "2027-05-20", 500.0, 0.0),
    ("Elec", "E1"): ("electricity", "2027-05-05", "2027-05-25", 500.0, 2.0),
}
#: The 2026 programme: work -> project (None: on its own); adopted at the planned dates.
PROJECT: dict[tuple[str, str], str | None] = {
    ("Water", "W1"): None, ("Water", "W2"): "P1", ("Gas", "G1"): "P1", ("Heat", "H1"): None,
    ("City", "R1"): None, ("Telecom", "T1"): "P2", ("Elec", "E1"): "P2",
}  # fmt: skip
SAVINGS = {"P1": 10_000.0, "P2": 4_000.0}
#: Progress reported in 2026: work -> (status, actual start).
REPORTED: dict[tuple[str, str], tuple[str, str]] = {
    ("Elec", "E1"): ("in_progress", "2026-11-01"),
    ("Heat", "H1"): ("in_progress", "2026-12-01"),
}
EXCAVATING = {"water", "gas", "heat", "telecom", "electricity"}  # R1 resurfaces: no trench


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def programme_frame(store: Store, projects: dict[tuple[str, str], str | None]) -> gpd.GeoDataFrame:
    """The store's works named in ``projects`` as a programme at their planned dates."""
    works = store.works()
    keys = list(zip(works["org"], works["work_id"], strict=True))
    chosen = [k in projects for k in keys]
    works = works[chosen]
    return gpd.GeoDataFrame(
        {
            "org": works["org"],
            "work_id": works["work_id"],
            "proposed_start": works["start_date"],
            "proposed_end": works["end_date"],
            "cluster_id": [projects[k] for k in keys if k in projects],
        },
        geometry=works.geometry,
        crs=works.crs,
    )


def build(store: Store) -> Store:
    """The 2026 plans, programme and reports; 2027 has nothing of its own."""
    for org in sorted({o for o, _ in PLANS}):
        rows = [
            work(w, disc, s, e, line(x, y))
            for (o, w), (disc, s, e, x, y) in PLANS.items()
            if o == org
        ]
        store.import_plan(plan(org, rows), org=org, cycle=2026, source=f"{org}.gpkg")
    cycle.adopt(
        store, 2026, programme_frame(store, PROJECT), decision="Council 2026/1",
        decision_date="2026-02-01", savings=SAVINGS,
    )  # fmt: skip
    for (org, wid), (status, start) in REPORTED.items():
        cycle.record_progress(store, 2026, org, progress_frame([(wid, status, start, None, "")]))
    return store


def expected_picture() -> dict[tuple[str, str], tuple[dt.date, dt.date]]:
    """Every work at the dates 2027 expects: a 2026 report on a work in force counts."""
    out = {}
    for key, (_, s, e, _, _) in PLANS.items():
        start, end = day(s), day(e)
        if key in REPORTED:  # started: the planned duration from the actual start
            start, end = day(REPORTED[key][1]), day(REPORTED[key][1]) + (end - start)
        out[key] = (start, end)
    return out


def expected_kpis() -> dict[str, float]:
    """combined_share and savings_eur of 2027 from the 2026 programme, by hand."""
    in_force = [k for k, v in PLANS.items() if day(v[2]) >= dt.date(2027, 1, 1)]
    joint = {
        p: (
            min(day(PLANS[k][1]) for k in PROJECT if PROJECT[k] == p),
            max(day(PLANS[k][2]) for k in PROJECT if PROJECT[k] == p),
        )
        for p in SAVINGS
    }
    # a started member outside its project's joint period is not combined
    not_combined = {
        k
        for k in in_force
        if k in REPORTED and PROJECT[k] is not None
        and not joint[PROJECT[k]][0] <= day(REPORTED[k][1]) <= joint[PROJECT[k]][1]
    }  # fmt: skip
    digging = [k for k in in_force if PLANS[k][0] in EXCAVATING]
    combined = [k for k in digging if PROJECT[k] is not None and k not in not_combined]
    failed = {PROJECT[k] for k in not_combined}
    savings = sum(v for p, v in SAVINGS.items() if p not in failed)
    return {"combined_share": len(combined) / len(digging), "savings_eur": savings}


def check(store: Store) -> None:
    build(store)
    assert cycle.revisions(store, 2027).empty
    got = cycle.kpis(store, 2027).set_index("kpi")["value"]
    want = expected_kpis()
    assert got["combined_share"] == want["combined_share"] == 3 / 5  # W2, G1, T1 of 5 digs
    assert got["savings_eur"] == want["savings_eur"] == 10_000.0  # P2 fails with E1
    picture = cycle.picture(store, 2027)
    shown = {
        (o, w): (s.date(), e.date())
        for o, w, s, e in zip(
            picture["org"], picture["work_id"], picture["start_date"], picture["end_date"],
            strict=True,
        )
    }  # fmt: skip
    assert shown == expected_picture()
    assert shown[("Heat", "H1")] == (day("2026-12-01"), day("2026-12-30"))
    assert got["max_disruption_days"] == max(brute_disruption(picture, 2027).values())
    # T1 (1-20 May) and E1, reported 2026, are no longer in the same squares in 2027
    assert got["max_disruption_days"] == 31.0  # W2 (March) or R1 (August)
    assert got["moratorium_violations"] == 0.0
    # 2026 itself measures the same programme: every work in force, W1 included
    own = cycle.kpis(store, 2026).set_index("kpi")["value"]
    assert own["combined_share"] == 3 / 6 and own["savings_eur"] == 10_000.0


def test_2027_without_a_programme_measures_the_2026_programme(tmp_path: Path) -> None:
    check(open_store(tmp_path / "cycle.gpkg"))


def test_2027_without_a_programme_measures_the_2026_programme_on_postgis(
    postgis_url: str,
) -> None:
    check(open_store(postgis_url))


# --- same project names in two cycles ---------------------------------------------------------
def pair(a: tuple[str, str], b: tuple[str, str], kind: str = "clash") -> dict[str, str]:
    return {"org_a": a[0], "work_id_a": a[1], "org_b": b[0], "work_id_b": b[1], "kind": kind}


@pytest.mark.parametrize("flip", [False, True])
def test_same_named_projects_of_two_cycles_are_two_projects(flip: bool) -> None:
    """A conflict between a 2026 P1 member and a 2027 P1 member stays a conflict."""
    programme = pd.DataFrame(
        {
            "project": pd.array(["P1", "P1", "P1", "P1", None], dtype="string"),
            "org": ["Water", "Gas", "Heat", "Telecom", "City"],
            "work_id": ["W2", "G1", "H1", "T1", "R1"],
            "adopted_in": [2026, 2026, 2027, 2027, 2026],
        }
    )
    works = list(zip(programme["org"], programme["work_id"], strict=True))
    found = [pair(a, b) for i, a in enumerate(works) for b in works[i + 1 :]]
    if flip:  # the order a pair is listed in does not matter
        found = [pair((f["org_b"], f["work_id_b"]), (f["org_a"], f["work_id_a"])) for f in found]
    now = pd.DataFrame(found)
    got = conflict_states(now.iloc[:0], now, programme)
    # brute force: a pair is that project itself only when both are of one cycle's project
    member = {
        (o, w): (c, p)
        for o, w, c, p in zip(programme["org"], programme["work_id"], programme["adopted_in"],
                              programme["project"], strict=True)
        if not pd.isna(p)
    }  # fmt: skip
    want = {
        frozenset({a, b})
        for i, a in enumerate(works)
        for b in works[i + 1 :]
        if not (a in member and b in member and member[a] == member[b])
    }
    shown = {
        frozenset({(oa, wa), (ob, wb)})
        for oa, wa, ob, wb in zip(got["org_a"], got["work_id_a"], got["org_b"], got["work_id_b"],
                                  strict=True)
    }  # fmt: skip
    assert shown == want and len(want) == 10 - 2
    assert set(got["status"]) == {"new"}


# --- what the files say of the programme in force ---------------------------------------------
def run(*args: str) -> None:
    from click.testing import CliRunner

    from ims_geo.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_files_of_2027_name_the_cycle_that_adopted_each_work(tmp_path: Path) -> None:
    """The deviations export has ``adopted_in``; the XLSX's cycle sheet ``carried_from``."""
    import openpyxl

    from tests.test_cycle_carry import ADOPTED_2026, ADOPTED_2027, adopt, until_2027

    path = tmp_path / "cycle.gpkg"
    store = open_store(path)
    until_2027(store)
    target = tmp_path / "deviations.csv"
    run("cycle", "deviations", "--cycle", "2027", "--store", str(path), "--out", str(target))
    table = pd.read_csv(target, dtype=str, keep_default_na=False)
    # the works of 2026 still running in 2027, each adopted by 2026
    running = {k for k, v in ADOPTED_2026.items() if day(v[1]) >= dt.date(2027, 1, 1)}
    assert set(zip(table["org"], table["work_id"], strict=True)) == running
    assert set(table["adopted_in"]) == {"2026"}
    book = tmp_path / "pack.xlsx"

    def about(year: int) -> dict[str, object]:
        run("report", "--cycle", str(year), "--store", str(path), "--out", str(book),
            "--as-of", f"{year}-06-01", "--lang", "en")  # fmt: skip
        sheet = openpyxl.load_workbook(book)["Cycle"]
        return {str(k): v for k, v in sheet.iter_rows(min_row=2, values_only=True)}

    assert about(2027)["Programme carried from"] == "2026"  # text, as it may name several
    assert about(2026)["Programme carried from"] in ("", None)  # its own programme only
    adopt(store, 2027, ADOPTED_2027)
    cells = about(2027)
    assert cells["Programme carried from"] == "2026" and cells["Programme revision"] == 1
    run("cycle", "deviations", "--cycle", "2027", "--store", str(path), "--out", str(target))
    table = pd.read_csv(target, dtype=str, keep_default_na=False)
    by_work = dict(zip(zip(table["org"], table["work_id"], strict=True), table["adopted_in"],
                       strict=True))  # fmt: skip
    assert by_work == {k: "2027" if k in ADOPTED_2027 else "2026" for k in by_work}
    assert set(by_work) >= running - set(ADOPTED_2027)


# --- the baseline file keeps its shape ----------------------------------------------------------
def sheets_and_headers(path: Path) -> dict[str, list[object]]:
    import openpyxl

    book = openpyxl.load_workbook(path)
    return {n: [c.value for c in next(book[n].iter_rows(max_row=1))] for n in book.sheetnames}


def test_baseline_file_has_every_sheet_even_when_empty(tmp_path: Path) -> None:
    """No moratorium, no conflict, no disruption: every sheet is there with its header."""
    import pyogrio

    from tests.test_cycle import build as build_scenario

    full = tmp_path / "full.gpkg"
    build_scenario(full)  # conflicts and disruption in 2027, no moratorium
    lone = tmp_path / "lone.gpkg"
    open_store(lone).import_plan(
        plan("City", [work("R1", "road", "2027-06-01", "2027-06-30", line(0))]), org="City",
        cycle=2027,
    )  # fmt: skip
    empty = tmp_path / "empty.gpkg"
    open_store(empty)  # no plan at all yet
    shapes = {}
    for name, store, year in (("full", full, "2027"), ("lone", lone, "2030"),
                              ("empty", empty, "2027")):  # fmt: skip
        out = tmp_path / f"{name}.xlsx"
        run("cycle", "baseline", "--cycle", year, "--store", str(store), "--out", str(out))
        shapes[name] = sheets_and_headers(out)
        layers = tmp_path / f"{name}-layers.gpkg"
        run("cycle", "baseline", "--cycle", year, "--store", str(store), "--out", str(layers))
        assert sorted(pyogrio.list_layers(layers)[:, 0]) == sorted(shapes[name])
    lone_store = cycle.baseline(open_store(lone), 2030)
    assert lone_store.conflicts.empty and lone_store.moratoria.empty
    assert lone_store.disruption.empty
    assert list(shapes["lone"]) == ["plans", "conflicts", "moratoria", "disruption"]
    assert shapes["lone"] == shapes["full"] == shapes["empty"]
    assert shapes["lone"]["moratoria"][:4] == list(cycle.MORATORIUM_COLUMNS)


def test_the_report_keeps_same_named_projects_of_two_cycles_apart(tmp_path: Path) -> None:
    """2027 adopts its own P1 (H1, T1) while 2026's P1 (W2, G1) still runs."""
    from ims_geo.report import render_html
    from ims_geo.report.assemble import report_data
    from ims_geo.report.xlsx import sheets

    store = build(open_store(tmp_path / "cycle.gpkg"))
    replanned = {("Heat", "H1"): "P1", ("Telecom", "T1"): "P1"}
    cycle.adopt(store, 2027, programme_frame(store, replanned), decision="Council 2027/1",
                decision_date="2027-02-01", reason="H1 and T1 combined")  # fmt: skip
    # by hand: each in-force work's project within the cycle that adopted it
    in_force = {k for k, v in PLANS.items() if day(v[2]) >= dt.date(2027, 1, 1)}
    adopted = {k: (2027, replanned[k]) if k in replanned else (2026, PROJECT[k]) for k in in_force}
    names = {p for _, p in adopted.values() if p is not None}
    cycles_of = {p: {c for c, q in adopted.values() if q == p} for p in names}
    label = {
        k: None if p is None else (f"{p} ({c})" if len(cycles_of[p]) > 1 else p)
        for k, (c, p) in adopted.items()
    }
    members = {
        name: sorted(k for k, v in label.items() if v == name)
        for name in {v for v in label.values() if v}
    }
    assert sorted(members) == ["P1 (2026)", "P1 (2027)", "P2"]
    data = report_data(store, 2027, as_of=dt.date(2027, 6, 1))
    shown = {
        (o, w): (None if pd.isna(p) else str(p))
        for o, w, p in zip(data.programme["org"], data.programme["work_id"],
                           data.programme["project"], strict=True)
    }  # fmt: skip
    assert shown == label
    assert sorted(data.projects["project"]) == sorted(members)
    html = render_html(data, "council")
    for name in members:
        assert f"Measure sheet: project {name}" in html
    assert html.count("Measure sheet: project") == len(members)
    table = sheets(data, "council", lang="en")["Combined projects"]
    assert sorted(table.iloc[:, 0]) == sorted(members)
