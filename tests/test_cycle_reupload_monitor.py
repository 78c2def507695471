"""Re-uploading a plan after the programme's adoption: only works whose own dates changed deviate.

Every organisation's plan is written as a real (zipped) shapefile and read
back through the ingest the upload page uses, then stored as a plan version.
After the adoption, the very same files are uploaded again (later upload
times, same dates): no work and no project may change state. Then Water
uploads its plan with one work's dates shifted by 30 days: exactly that work
deviates, by 30 days, and its project takes the state the rules give. The
expected states come from an independent model (a loop over the works,
written from the rules) and from values written out by hand; on a
GeoPackage store and on PostGIS.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import fuzz_corpus as fc
import geopandas as gpd
import pandas as pd
from pandas.testing import assert_frame_equal

from ims_geo import cycle
from ims_geo.ingest import read_works
from ims_geo.store import Store, open_store
from tests.test_cycle import RD, line
from tests.test_cycle_carry import adopt as adopt_in

YEAR = 2030
Key = tuple[str, str]
#: Each work's state (deviation class, awaiting_update or "" on programme) and days.
States = dict[Key, tuple[str, int | None]]
#: Plans before adoption: org -> [(work_id, discipline, start, end, x, y)].
BEFORE: dict[str, list[tuple[str, str, str, str, float, float]]] = {
    "Water": [
        ("W1", "water", "2030-03-01", "2030-03-20", 0.0, 2.0),
        ("W2", "water", "2030-08-01", "2030-08-20", 3000.0, 2.0),
    ],
    "Gas": [("G1", "gas", "2030-04-01", "2030-04-10", 0.0, -2.0)],
    "City": [("R1", "road", "2030-05-01", "2030-05-31", 0.0, 0.0)],
    "Heat": [("H1", "heat", "2030-08-01", "2030-10-31", 3000.0, 0.0)],
}
#: The adopted dates: W1 45 and G1 19 days later than planned, the others as planned.
ADOPTED: dict[Key, tuple[str, str]] = {
    ("Water", "W1"): ("2030-04-15", "2030-05-04"),
    ("Water", "W2"): ("2030-08-01", "2030-08-20"),
    ("Gas", "G1"): ("2030-04-20", "2030-04-29"),
    ("City", "R1"): ("2030-05-01", "2030-05-31"),
    ("Heat", "H1"): ("2030-08-01", "2030-10-31"),
}
#: Combined projects: work -> (project, order).
PROJECT: dict[Key, tuple[str, int]] = {
    ("Water", "W1"): ("C001", 1), ("Gas", "G1"): ("C001", 2), ("City", "R1"): ("C001", 3),
    ("Heat", "H1"): ("C002", 1), ("Water", "W2"): ("C002", 2),
}  # fmt: skip
#: W2 as Water uploads it at the end: 30 days later, start and end.
W2_SHIFTED = ("2030-08-31", "2030-09-19")


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def plans_before() -> dict[Key, tuple[str, str]]:
    """Every work's dates in the plans the programme was adopted from."""
    return {(o, w): (s, e) for o, rows in BEFORE.items() for w, _, s, e, _, _ in rows}


def shapefile(org: str, dates: dict[str, tuple[str, str]] | None = None) -> bytes:
    """The organisation's plan as a zipped shapefile, ``dates`` replacing works' dates."""
    rows = []
    for wid, disc, start, end, x, y in BEFORE[org]:
        start, end = (dates or {}).get(wid, (start, end))
        rows.append({"work_id": wid, "discipline": disc, "start_date": start, "end_date": end,
                     "geometry": line(x, y)})  # fmt: skip
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=RD)
    return fc.zipped({f"{org}{suffix}": data for suffix, data in fc.shapefile_parts(frame).items()})


def upload(store: Store, org: str, data: bytes) -> None:
    """Read the file as the upload page does and store it as a new plan version."""
    result = read_works(data, name=f"{org}.zip", org=org, target_crs=RD)
    assert result.rejected.empty and len(result.works) == len(BEFORE[org])
    store.import_plans(result.works, result.rejected, cycle=YEAR, source=f"{org}.zip", org=org)


def adopt(store: Store) -> None:
    adopt_in(store, YEAR, {k: (*ADOPTED[k], *PROJECT.get(k, (None, None))) for k in ADOPTED})


# --- the independent model -----------------------------------------------------------------
def model(current: dict[Key, tuple[str, str]]) -> tuple[States, dict[str, str]]:
    """Each adopted work's state and days, and each project's state, from the rules.

    ``current``: every work's dates in its organisation's current plan. A work
    whose plan still holds the dates it was adopted from (its dates before the
    adoption), when these differ from the adopted ones, awaits the update,
    however often that plan was uploaded since; otherwise its plan's dates
    are compared with the adopted ones (nothing is reported in this test).
    """
    before = plans_before()
    joint: dict[str, tuple[dt.date, dt.date]] = {}
    for key, (name, _) in PROJECT.items():
        s, e = day(ADOPTED[key][0]), day(ADOPTED[key][1])
        js, je = joint.get(name, (s, e))
        joint[name] = (min(js, s), max(je, e))
    states: States = {}
    flags: dict[str, set[str]] = {name: set() for name in joint}
    for key, (a_start, a_end) in ADOPTED.items():
        s, e = day(current[key][0]), day(current[key][1])
        shift = (s - day(a_start)).days
        end_shift = (e - day(a_end)).days
        if current[key] == before[key] and current[key] != (a_start, a_end):
            states[key] = ("awaiting_update", shift)
        elif abs(shift) > 30 or abs(end_shift) > 30:
            states[key] = ("moved", shift if abs(shift) > 30 else end_shift)
        elif shift != 0:
            states[key] = ("late" if shift > 0 else "early", shift)
        else:
            states[key] = ("", None)
        if key in PROJECT:
            name = PROJECT[key][0]
            kind = states[key][0]
            outside = s < joint[name][0] or e > joint[name][1]
            if kind == "awaiting_update":
                flags[name].add("awaiting")
            elif kind and outside:
                flags[name].add("red")
            elif kind:
                flags[name].add("amber")
    projects = {
        name: next((s for f, s in (("red", "red"), ("amber", "amber"),
                                   ("awaiting", "awaiting_update")) if f in found), "green")
        for name, found in flags.items()
    }  # fmt: skip
    return states, projects


def library(store: Store) -> tuple[States, dict[str, str]]:
    """The same as :func:`model`, read from the library's monitoring."""
    devs, projects, awaiting = cycle.monitoring(store, YEAR)
    states: States = {k: ("", None) for k in ADOPTED}
    for org, wid, kind, n in devs.loc[:, ["org", "work_id", "deviation", "days"]].itertuples(
        index=False
    ):
        states[(org, wid)] = (kind, None if pd.isna(n) else int(n))
    for org, wid, n in awaiting.loc[:, ["org", "work_id", "days"]].itertuples(index=False):
        assert states[(org, wid)] == ("", None), "a work is listed as deviating and awaiting"
        states[(org, wid)] = ("awaiting_update", int(n))
    return states, dict(zip(projects["project"], projects["rag"], strict=True))


def without_upload_times(awaiting: pd.DataFrame) -> pd.DataFrame:
    return awaiting.drop(columns="uploaded_at")


def walk(store: Store) -> None:
    files = {org: shapefile(org) for org in BEFORE}
    for org, data in files.items():
        upload(store, org, data)
    adopt(store)
    current = plans_before()

    # right after the adoption: W1 and G1 await the update, nothing deviates
    after_adoption = cycle.monitoring(store, YEAR)
    expected = model(current)
    assert library(store) == expected
    assert expected == (
        {
            ("Water", "W1"): ("awaiting_update", -45), ("Water", "W2"): ("", None),
            ("Gas", "G1"): ("awaiting_update", -19), ("City", "R1"): ("", None),
            ("Heat", "H1"): ("", None),
        },
        {"C001": "awaiting_update", "C002": "green"},
    )  # fmt: skip
    status_before = cycle.status(store, YEAR).projects
    adopted_at = pd.Timestamp(cycle.revisions(store, YEAR)["adopted_at"].iloc[-1])

    # every organisation uploads the very same file again, after the adoption
    for org, data in files.items():
        upload(store, org, data)
    versions = store.plan_versions()
    current_versions = versions[versions["is_current"]]
    assert sorted(current_versions["org"]) == sorted(BEFORE)
    assert (current_versions["version"] == 2).all()
    uploaded = pd.to_datetime(current_versions["uploaded_at"], utc=True)
    assert (uploaded > pd.to_datetime(adopted_at, utc=True)).all()
    devs, projects, awaiting = cycle.monitoring(store, YEAR)
    assert_frame_equal(devs, after_adoption[0])
    assert_frame_equal(projects, after_adoption[1])
    assert_frame_equal(without_upload_times(awaiting), without_upload_times(after_adoption[2]))
    # the list names the plans now current, uploaded after the adoption
    assert awaiting["uploaded_at"].tolist() == [
        uploaded[current_versions["org"] == org].iloc[0] for org in awaiting["org"]
    ]
    assert library(store) == expected
    assert_frame_equal(cycle.status(store, YEAR).projects, status_before)

    # Water uploads its plan with W2 30 days later, W1 still at its old dates
    upload(store, "Water", shapefile("Water", {"W2": W2_SHIFTED}))
    current[("Water", "W2")] = W2_SHIFTED
    expected = model(current)
    assert library(store) == expected
    # by hand: W2 starts and ends 30 days late (not more than 30: late, not moved), inside
    # C002's joint period (1 August to 31 October, H1's): C002 amber; W1 still awaits
    assert expected == (
        {
            ("Water", "W1"): ("awaiting_update", -45), ("Water", "W2"): ("late", 30),
            ("Gas", "G1"): ("awaiting_update", -19), ("City", "R1"): ("", None),
            ("Heat", "H1"): ("", None),
        },
        {"C001": "awaiting_update", "C002": "amber"},
    )  # fmt: skip
    devs, projects, awaiting = cycle.monitoring(store, YEAR)
    assert devs.loc[:, ["org", "work_id", "project", "deviation", "days"]].values.tolist() == [
        ["Water", "W2", "C002", "late", 30]
    ]
    assert devs["reason"].tolist() == ["starts 2030-08-31, adopted 2030-08-01 (+30 days)"]
    assert projects.set_index("project").loc["C002", "reason"] == "Water W2 late (+30 days)"
    assert_frame_equal(without_upload_times(awaiting), without_upload_times(after_adoption[2]))


def test_an_unchanged_plan_uploaded_again_changes_no_state(tmp_path: Path) -> None:
    walk(open_store(tmp_path / "cycle.gpkg"))


def test_an_unchanged_plan_uploaded_again_changes_no_state_on_postgis(postgis_url: str) -> None:
    walk(open_store(postgis_url))
