"""Fortschreibung: the programme adopted in 2026 is monitored in 2027 until 2027 adopts its own.

2026 adopts a programme running into 2028 (project C001: W2, G1; R1, T1 and
H1 on their own; W1 ends in 2026). In 2027, without a new adoption, the
works still running are monitored with their deviations (the expected
values derived from the dates below); then 2027 adopts a programme that
re-plans W2 and G1 as its own project C001, and those come from 2027 while
the rest still comes from 2026.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ims_geo import cycle
from ims_geo.conflicts import find_conflicts
from ims_geo.report import render_html
from ims_geo.report.assemble import report_data
from ims_geo.store import Store, open_store
from tests.test_cycle import line, plan, progress_frame, work

#: The 2026 plans: org -> [(work_id, discipline, start, end, x, y)].
PLANS_2026: dict[str, list[tuple[str, str, str, str, float, float]]] = {
    "Water": [
        ("W1", "water", "2026-05-01", "2026-05-31", 3000.0, 2.0),
        ("W2", "water", "2027-03-01", "2027-03-31", 0.0, 2.0),
    ],
    "Gas": [("G1", "gas", "2027-03-10", "2027-04-05", 0.0, -2.0)],
    "City": [("R1", "road", "2027-08-15", "2028-05-31", 1000.0, 0.0)],
    "Telecom": [("T1", "telecom", "2027-06-01", "2027-06-30", 2000.0, 0.0)],
    "Heat": [("H1", "heat", "2027-08-01", "2027-08-31", 4000.0, 0.0)],
}
#: The 2026 adoption: work -> (start, end, project, order).
ADOPTED_2026: dict[tuple[str, str], tuple[str, str, str | None, int | None]] = {
    ("Water", "W1"): ("2026-05-01", "2026-05-31", None, None),
    ("Water", "W2"): ("2027-03-01", "2027-03-31", "C001", 1),
    ("Gas", "G1"): ("2027-03-10", "2027-04-05", "C001", 2),
    ("City", "R1"): ("2027-09-01", "2028-05-31", None, None),
    ("Telecom", "T1"): ("2027-06-01", "2027-06-30", None, None),
    ("Heat", "H1"): ("2027-09-01", "2027-09-30", None, None),
}
#: The 2027 plans re-uploaded after the 2026 adoption (Telecom and Heat upload none).
PLANS_2027: dict[str, dict[str, tuple[str, str]]] = {
    "Water": {"W2": ("2027-03-11", "2027-04-10")},
    "Gas": {"G1": ("2027-06-01", "2027-06-26")},
    "City": {"R1": ("2027-08-15", "2028-05-31")},  # its old dates, after the adoption
}
#: Progress reported in the 2026 cycle: work -> (status, actual_start).
REPORTED_2026: dict[tuple[str, str], tuple[str, str]] = {
    ("Gas", "G1"): ("in_progress", "2026-11-01"),
    ("Telecom", "T1"): ("in_progress", "2026-12-01"),
}
#: The 2027 adoption re-plans W2 and G1 as its own project C001 (same name, other cycle).
ADOPTED_2027: dict[tuple[str, str], tuple[str, str, str | None, int | None]] = {
    ("Water", "W2"): ("2027-03-11", "2027-04-10", "C001", 1),
    ("Gas", "G1"): ("2027-04-11", "2027-04-30", "C001", 2),
}


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def between(a: str, b: str) -> int:
    """Days from ``a`` to ``b``."""
    return (day(b) - day(a)).days


def plan_rows(org: str, year: int) -> list[dict]:
    """The works of ``org``'s plan uploaded for ``year``."""
    dates = PLANS_2027.get(org, {}) if year == 2027 else {}
    return [
        work(wid, disc, *dates.get(wid, (start, end)), line(x, y))
        for wid, disc, start, end, x, y in PLANS_2026[org]
        if year == 2026 or wid in dates
    ]


def plans_at(year: int) -> gpd.GeoDataFrame:
    """Every organisation's current plan after the uploads of ``year``."""
    uploaded = {org for org in PLANS_2026 if year == 2026 or org in PLANS_2027}
    frame = pd.concat(
        [plan(org, plan_rows(org, year if org in uploaded else 2026)) for org in PLANS_2026],
        ignore_index=True,
    )
    return gpd.GeoDataFrame(frame, crs=frame.crs)


def upload(store: Store, org: str, year: int) -> None:
    store.import_plan(plan(org, plan_rows(org, year)), org=org, cycle=year, source=f"{org}.gpkg")


def adopt(store: Store, year: int, adopted: dict) -> None:
    works = store.works()
    keys = list(zip(works["org"], works["work_id"], strict=True))
    chosen = [k in adopted for k in keys]
    keys = [k for k in keys if k in adopted]
    proposal = gpd.GeoDataFrame(
        {
            "org": [k[0] for k in keys],
            "work_id": [k[1] for k in keys],
            "proposed_start": [adopted[k][0] for k in keys],
            "proposed_end": [adopted[k][1] for k in keys],
            "cluster_id": [adopted[k][2] for k in keys],
            "exec_order": [adopted[k][3] for k in keys],
        },
        geometry=works.geometry[chosen].to_numpy(),
        crs=works.crs,
    )
    cycle.adopt(store, year, proposal, decision=f"Council {year}/1", decision_date=f"{year}-02-01")


def states(store: Store, year: int) -> dict[tuple[str, str], tuple[str, int | None, int]]:
    """The library's deviation or awaiting state per work: (class, days, adopted in)."""
    devs, _, awaiting = cycle.monitoring(store, year)
    out = {
        (o, w): (d, None if pd.isna(n) else int(n), int(c))
        for o, w, d, n, c in zip(
            devs["org"], devs["work_id"], devs["deviation"], devs["days"], devs["adopted_in"],
            strict=True,
        )
    }  # fmt: skip
    for o, w, n, c in zip(
        awaiting["org"], awaiting["work_id"], awaiting["days"], awaiting["adopted_in"], strict=True
    ):
        out[(o, w)] = ("awaiting_update", int(n), int(c))
    return out


def pairs(conflicts: pd.DataFrame) -> set[tuple[frozenset[tuple[str, str]], str]]:
    """Conflicts as unordered pairs of works with their kind."""
    return {
        (frozenset({(oa, wa), (ob, wb)}), str(k))
        for oa, wa, ob, wb, k in zip(
            conflicts["org_a"], conflicts["work_id_a"], conflicts["org_b"], conflicts["work_id_b"],
            conflicts["kind"], strict=True,
        )
    }  # fmt: skip


def check_report(store: Store, expected: dict, revision: int | None) -> None:
    """The 2027 report shows the monitoring of the programme in force, with the 2026 works."""
    data = report_data(store, 2027, as_of=dt.date(2027, 6, 1))
    assert data.info.revision == revision
    assert data.info.carried_from == (2026,)
    shown = {
        (o, w): (d, int(n))
        for o, w, d, n in zip(
            data.deviations["org"], data.deviations["work_id"], data.deviations["deviation"],
            data.deviations["days"], strict=True,
        )
    }  # fmt: skip
    shown.update(
        {
            (o, w): ("awaiting_update", int(n))
            for o, w, n in zip(
                data.awaiting["org"], data.awaiting["work_id"], data.awaiting["days"], strict=True
            )
        }
    )
    assert shown == {k: v[:2] for k, v in expected.items()}
    # the same works run in 2027 before and after its adoption, which only re-plans some
    assert sorted(zip(data.programme["org"], data.programme["work_id"], strict=True)) == sorted(
        k for k, v in ADOPTED_2026.items() if day(v[1]) >= dt.date(2027, 1, 1)
    )
    # conflicts "at adoption" are those of the plans as they were at the latest adoption in
    # force: 2026's before 2027 adopts (its own plans then), 2027's after
    latest = 2026 if revision is None else 2027
    then = pairs(find_conflicts(plans_at(latest)))
    found = data.conflicts[data.conflicts["status"].isin(["resolved", "open"])]
    assert pairs(found) == then and then
    html = render_html(data, "council")
    if revision is None:
        assert "Monitoring the programme adopted in 2026." in html
    else:
        assert "Works still running from the programme adopted in 2026 are monitored too." in html


def until_2027(store: Store) -> None:
    """2026 plans, adoption and progress, then the 2027 plans (no 2027 adoption yet)."""
    for org in PLANS_2026:
        upload(store, org, 2026)
    adopt(store, 2026, ADOPTED_2026)
    for (org, wid), (status, start) in REPORTED_2026.items():
        cycle.record_progress(store, 2026, org, progress_frame([(wid, status, start, None, "")]))
    for org in PLANS_2027:
        upload(store, org, 2027)


def walk(store: Store) -> None:
    until_2027(store)

    # --- 2027 without its own adoption: the 2026 works still running ---------------------
    running = cycle.in_force(store, 2027)
    assert sorted(zip(running["org"], running["work_id"], strict=True)) == sorted(
        k for k, v in ADOPTED_2026.items() if day(v[1]) >= dt.date(2027, 1, 1)
    )
    assert set(running["adopted_in"]) == {2026}
    a = ADOPTED_2026
    # G1 started (2026 report) before the joint period of C001 (W2's start to G1's end)
    joint = (a[("Water", "W2")][0], a[("Gas", "G1")][1])
    g1_start = REPORTED_2026[("Gas", "G1")][1]
    t1_start = REPORTED_2026[("Telecom", "T1")][1]
    expected = {
        ("Water", "W2"): ("late", between(a[("Water", "W2")][0], PLANS_2027["Water"]["W2"][0]),
                          2026),
        ("Gas", "G1"): ("not_combined", between(g1_start, joint[0]), 2026),
        # City's 2027 plan keeps R1's dates from before the adoption: not yet updated
        ("City", "R1"): ("awaiting_update",
                         between(a[("City", "R1")][0], PLANS_2027["City"]["R1"][0]), 2026),
        ("Telecom", "T1"): ("moved", between(a[("Telecom", "T1")][0], t1_start), 2026),
        ("Heat", "H1"): ("awaiting_update",
                         between(a[("Heat", "H1")][0], PLANS_2026["Heat"][0][2]), 2026),
    }  # fmt: skip
    assert states(store, 2027) == expected
    assert expected[("Water", "W2")][1] == 10 and expected[("Gas", "G1")][1] == 120
    assert expected[("City", "R1")][1] == -17 and expected[("Telecom", "T1")][1] == -182
    projects = cycle.project_status(store, 2027)
    assert projects[["project", "rag", "adopted_in"]].values.tolist() == [["C001", "red", 2026]]
    check_report(store, expected, None)
    steps = cycle.status(store, 2027).steps.set_index("step")
    assert steps.loc[3, "state"] == "missing"
    assert steps.loc[4, "state"] == "partial"  # Water, City and Heat reported nothing
    assert steps.loc[4, "detail"].endswith("; monitoring the programme adopted in 2026")
    # a report filed in 2027 on a carried work is accepted
    kept = cycle.record_progress(store, 2027, "City", progress_frame([("R1", "planned", None,
                                                                        None, "on track")]))  # fmt: skip
    assert kept.rejected.empty

    # --- 2027 adopts its own programme: W2 and G1 from 2027, the rest from 2026 ----------
    adopt(store, 2027, ADOPTED_2027)
    running = cycle.in_force(store, 2027)
    assert dict(zip(zip(running["org"], running["work_id"], strict=True), running["adopted_in"],
                    strict=True)) == {
        ("Water", "W2"): 2027, ("Gas", "G1"): 2027, ("City", "R1"): 2026,
        ("Telecom", "T1"): 2026, ("Heat", "H1"): 2026,
    }  # fmt: skip
    b = ADOPTED_2027
    # G1's 2026 report no longer counts (before its row's cycle); its 2027 plan still holds
    # the dates 2027 adopted it from and was uploaded before that adoption: awaiting
    expected = {
        ("Gas", "G1"): ("awaiting_update",
                        between(b[("Gas", "G1")][0], PLANS_2027["Gas"]["G1"][0]), 2027),
        ("City", "R1"): expected[("City", "R1")],
        ("Telecom", "T1"): expected[("Telecom", "T1")],
        ("Heat", "H1"): expected[("Heat", "H1")],
    }  # fmt: skip
    assert states(store, 2027) == expected
    assert expected[("Gas", "G1")][1] == 51
    projects = cycle.project_status(store, 2027)
    assert projects[["project", "rag", "adopted_in"]].values.tolist() == [
        ["C001", "awaiting_update", 2027]
    ]
    check_report(store, expected, 1)
    steps = cycle.status(store, 2027).steps.set_index("step")
    assert steps.loc[3, "state"] == "done"
    carried = sum(1 for k in expected if k not in ADOPTED_2027)
    assert steps.loc[4, "detail"].endswith(
        f"; works still running from the programme adopted in 2026: {carried}"
    )
    # 2028: only R1 still runs, from 2026
    running = cycle.in_force(store, 2028)
    assert running[["org", "work_id", "adopted_in"]].values.tolist() == [["City", "R1", 2026]]
    # 2025: nothing adopted yet
    assert cycle.in_force(store, 2025).empty


def test_programme_of_2026_is_monitored_in_2027_until_2027_adopts(tmp_path: Path) -> None:
    walk(open_store(tmp_path / "cycle.gpkg"))


def test_programme_of_2026_is_monitored_in_2027_on_postgis(postgis_url: str) -> None:
    walk(open_store(postgis_url))
