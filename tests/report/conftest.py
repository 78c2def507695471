"""Fixtures of the report tests: a hand-made cycle with every part a report shows.

The case is small enough to check every number by hand: three organisations
(one with a hostile name), two combined projects, one moratorium, one change
of each kind, conflicts in each state. Coordinates are ETRS-GK25
(EPSG:3879, metres), a few hundred metres of Helsinki.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from ims_geo import cycle as cyc
from ims_geo.report import CycleInfo, ReportData
from ims_geo.schema import validate
from ims_geo.store import open_store

#: An organisation name and a title that would run a script if not escaped.
HOSTILE_ORG = 'Stadt <script>alert("org")</script> & Co'
HOSTILE_TITLE = "<script>alert('title')</script><img src=x onerror=alert(1)>"
WATER = "Water Co"
FIBRE = "Fibre Networks"

X0, Y0 = 25_496_000.0, 6_672_800.0


def _line(x: float, y: float, dx: float = 80.0, dy: float = 0.0) -> shapely.LineString:
    return shapely.LineString([(X0 + x, Y0 + y), (X0 + x + dx, Y0 + y + dy)])


def _day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def build_works() -> gpd.GeoDataFrame:
    rows = [
        # org, work_id, title, discipline, layer, start, end, status, cost, geometry
        (HOSTILE_ORG, "A1", HOSTILE_TITLE, "road", "surface", "2027-09-01", "2027-10-31", "planned", 200_000.0, _line(0, 0)),
        (HOSTILE_ORG, "A0", "Resurfacing 2025", "road", "surface", "2025-04-01", "2025-06-30", "done", 150_000.0, _line(0, 300)),
        (WATER, "B1", "Water main", "water", "subsurface", "2027-05-01", "2027-08-31", "in_progress", 120_000.0, _line(0, 2)),
        (WATER, "B2", "Water branch", "water", "subsurface", "2028-03-01", "2028-05-31", "planned", 60_000.0, _line(300, 0)),
        (FIBRE, "C1", "Fibre ring", "telecom", "subsurface", "2027-05-01", "2027-06-30", "planned", 40_000.0, _line(0, -2)),
        (FIBRE, "C2", "Fibre spur", "telecom", "subsurface", "2028-03-01", "2028-04-15", "planned", None, shapely.Point(X0 + 340, Y0 + 3)),
        (FIBRE, "C9", "Unplanned cabinet", "telecom", "subsurface", "2027-02-01", "2027-02-28", "in_progress", 5_000.0, shapely.box(X0 + 600, Y0, X0 + 620, Y0 + 20)),
    ]  # fmt: skip
    frame = pd.DataFrame(
        rows,
        columns=[
            "org",
            "work_id",
            "title",
            "discipline",
            "layer",
            "start_date",
            "end_date",
            "status",
            "cost_eur",
            "geometry",
        ],  # fmt: skip
    )
    for column in ("start_date", "end_date"):
        frame[column] = pd.to_datetime(frame[column])
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:3879")


def build_programme() -> pd.DataFrame:
    rows = [
        # project, org, work_id, start, end, order, cost_eur, cost_share_eur, funding_year
        ("P1", WATER, "B1", "2027-05-01", "2027-08-31", 1, 120_000.0, 110_000.0, 2027),
        ("P1", FIBRE, "C1", "2027-05-01", "2027-06-30", 2, 40_000.0, 30_000.0, 2027),
        ("P1", HOSTILE_ORG, "A1", "2027-09-01", "2027-10-31", 3, 200_000.0, 220_000.0, 2027),
        ("P2", WATER, "B2", "2028-03-01", "2028-05-31", 1, 60_000.0, 45_000.0, 2028),
        ("P2", FIBRE, "C2", "2028-03-01", "2028-04-15", 2, None, 15_000.0, 2028),
        # on its own, and gone from its organisation's current plan
        (None, HOSTILE_ORG, "A7", "2027-11-01", "2027-11-30", None, 10_000.0, 10_000.0, 2027),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "project",
            "org",
            "work_id",
            "start",
            "end",
            "order",
            "cost_eur",
            "cost_share_eur",
            "funding_year",
        ],  # fmt: skip
    )
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column])
    frame["project"] = frame["project"].astype("string")
    frame["order"] = frame["order"].astype("Int64")
    return frame


def kpi_table(last: float) -> pd.DataFrame:
    """Three KPIs in their units (share, euros, days) and one hostile one worth ``last``."""
    return pd.DataFrame(
        {
            "kpi": ["combined_share", "savings_eur", "max_disruption_days", "<i>x</i>"],
            "target": [0.6, 2_000_000.0, 60.0, None],
            "value": [0.325, 2_919_798.4, 154.0, last],
            "state": ["red", "green", "red", "no target"],
            "unit": ["share", "EUR", "days", "<script>"],
        }
    )


def build_data(**overrides: object) -> ReportData:
    parts: dict[str, object] = {
        "info": CycleInfo(
            year=2027,
            revision=2,
            decision=f"Steering group decision 2027/4 ({HOSTILE_ORG})",
            decision_date=dt.date(2027, 3, 15),
            previous_year=2026,
            area="Kallio <b>pilot</b>",
            as_of=dt.date(2027, 6, 30),
        ),
        "kpis": pd.DataFrame(
            {
                "kpi": ["combined_share", "moratorium_violations", "<b>custom</b> trees"],
                "target": [0.5, 0.0, 3.0],
                "value": [0.6, 1.0, 2.0],
                "state": ["green", "red", "amber"],
            }
        ),
        "programme": build_programme(),
        "projects": pd.DataFrame(
            {
                "project": ["P1", "P2"],
                "lead_org": [WATER, FIBRE],
                "joint_start": pd.to_datetime(["2027-05-01", "2028-03-01"]),
                "joint_end": pd.to_datetime(["2027-10-31", "2028-05-31"]),
                "rag": ["red", "green"],
                "reason": [f"C1 of {FIBRE} not combined; <i>late</i>", "on plan"],
            }
        ),
        "deviations": pd.DataFrame(
            {
                "org": [FIBRE, FIBRE, WATER],
                "work_id": ["C1", "C9", "B1"],
                "project": ["P1", None, "P1"],
                "deviation": ["not_combined", "unplanned", "late"],
                "days": [40, None, 10],
            }
        ),
        "moratoria": pd.DataFrame(
            {
                "source_org": [HOSTILE_ORG],
                "source_work_id": ["A0"],
                "valid_from": pd.to_datetime(["2025-06-30"]),
                "valid_until": pd.to_datetime(["2028-06-29"]),
            }
        ),
        "changes": pd.DataFrame(
            {
                "org": [WATER, HOSTILE_ORG, FIBRE, FIBRE],
                "work_id": ["B2", "A7", "C1", "C9"],
                "change": ["added", "dropped", "moved", "added"],
                "days_moved": [None, None, 30, None],
            }
        ),
        "conflicts": pd.DataFrame(
            {
                "org_a": [WATER, WATER, HOSTILE_ORG, FIBRE],
                "work_id_a": ["B1", "B2", "A1", "C9"],
                "org_b": [FIBRE, FIBRE, WATER, WATER],
                "work_id_b": ["C1", "C2", "B1", "B1"],
                "kind": ["clash", "synergy", "synergy", "synergy"],
                "status": ["resolved", "open", "resolved", "new"],
            }
        ),
        "progress": pd.DataFrame(
            {
                "org": [WATER, FIBRE],
                "work_id": ["B1", "C1"],
                "status": ["in_progress", "done"],
                "actual_start": pd.to_datetime(["2027-05-11", "2027-04-01"]),
                "actual_end": pd.to_datetime([None, "2027-04-20"]),
            }
        ),
        "financing": pd.DataFrame(
            {
                "org": [FIBRE, FIBRE, HOSTILE_ORG, WATER, WATER],
                "funding_year": [2027, 2028, 2027, 2027, 2028],
                "cost_share_eur": [30_000.0, 15_000.0, 230_000.0, 110_000.0, 45_000.0],
                "works": [1, 1, 2, 1, 1],
            }
        ),
        "works": build_works(),
    }
    parts.update(overrides)
    return ReportData(**parts)  # type: ignore[arg-type]


@pytest.fixture
def data() -> ReportData:
    """The hand-made cycle (see the module docstring)."""
    return build_data()


def plan(org: str, rows: list[tuple]) -> gpd.GeoDataFrame:
    """Works of one organisation: (work_id, discipline, layer, start, end, x offset)."""
    frame = gpd.GeoDataFrame(
        {
            "work_id": [r[0] for r in rows],
            "org": org,
            "title": [f"{org} {r[0]}" for r in rows],
            "discipline": [r[1] for r in rows],
            "layer": [r[2] for r in rows],
            "start_date": [r[3] for r in rows],
            "end_date": [r[4] for r in rows],
            "cost_eur": 1000.0,
        },
        geometry=[shapely.LineString([(X0 + r[5], Y0), (X0 + r[5] + 100, Y0)]) for r in rows],
        crs="EPSG:3879",
    )
    checked = validate(frame)
    assert checked.rejected.empty
    return checked.valid


@pytest.fixture(scope="session")
def cycle_store(tmp_path_factory: pytest.TempPathFactory):
    """A GeoPackage store holding :func:`fill_cycle` (built once: reports only read it)."""
    return fill_cycle(open_store(tmp_path_factory.mktemp("cycle") / "store.gpkg"))


def fill_cycle(store):
    """Cycle 2026: a clash W1-R1 that the programme combines as P1, a clash W2-T2 left
    alone; after the adoption the road moves R1 behind W1 and telecom adds T3 across
    both, a month after the new surface."""
    store.import_plan(
        plan("Water", [("W1", "water", "subsurface", "2026-05-01", "2026-06-30", 0),
                        ("W2", "water", "subsurface", "2026-05-01", "2026-06-30", 1000)]),
        org="Water", cycle=2026,
    )  # fmt: skip
    store.import_plan(
        plan("Road", [("R1", "road", "surface", "2026-06-01", "2026-07-31", 0)]),
        org="Road", cycle=2026,
    )  # fmt: skip
    store.import_plan(
        plan("Tele", [("T2", "telecom", "subsurface", "2026-06-01", "2026-06-20", 1000)]),
        org="Tele", cycle=2026,
    )  # fmt: skip
    programme = pd.DataFrame(
        {
            "org": ["Water", "Road"],
            "work_id": ["W1", "R1"],
            "proposed_start": ["2026-05-01", "2026-07-01"],
            "proposed_end": ["2026-06-30", "2026-07-31"],
            "project": ["P1", "P1"],
            "exec_order": [1, 2],
        }
    )
    cyc.adopt(store, 2026, programme, decision="Council <b>2026/7</b>", decision_date="2026-03-10")
    store.import_plan(
        plan("Road", [("R1", "road", "surface", "2026-07-01", "2026-07-31", 0)]),
        org="Road", cycle=2026,
    )  # fmt: skip
    store.import_plan(
        plan("Tele", [("T2", "telecom", "subsurface", "2026-06-01", "2026-06-20", 1000),
                       ("T3", "telecom", "subsurface", "2026-09-01", "2026-09-30", 0)]),
        org="Tele", cycle=2026,
    )  # fmt: skip
    return store
