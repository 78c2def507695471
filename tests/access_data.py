"""A small shared installation built in code, for the access and RLS tests.

Organisations A and B; users per role; B's plan has one work of each
visibility, A's one public and one private work. Passwords are for tests only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString

from ims_geo.access.admin import Administration
from ims_geo.schema import REASON, validate
from ims_geo.store import open_store

RD = "EPSG:28992"
X0, Y0 = 121_013.0, 487_007.0
PASSWORD = "correct horse battery"
USERS = {
    "a_plan": ("A", "planner"),
    "a_view": ("A", "viewer"),
    "a_coord": ("A", "coordinator"),
    "b_plan": ("B", "planner"),
    "root": ("A", "admin"),
}
B_SECRET_TITLE = "B secret main renewal"
B_SECRET_COST = 987_654.5


def line(dx: float, dy: float = 0.0, length: float = 50.0) -> LineString:
    return LineString([(X0 + dx, Y0 + dy), (X0 + dx + length, Y0 + dy + 7.0)])


def plan(org: str, rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=RD)
    checked = validate(frame, org=org, source=f"{org}.gpkg")
    assert checked.rejected.empty, checked.rejected[REASON].tolist()
    return checked.valid


def plan_a() -> gpd.GeoDataFrame:
    return plan("A", [
        {"work_id": "a1", "title": "A public road", "discipline": "road", "layer": "surface",
         "start_date": "2027-03-10", "end_date": "2027-04-20", "visibility": "public",
         "geometry": line(0)},
        {"work_id": "a2", "title": "A secret", "discipline": "water", "start_date": "2027-05-03",
         "end_date": "2027-05-28", "visibility": "private", "cost_eur": 11.0,
         "geometry": line(300)},
    ])  # fmt: skip


def plan_b() -> gpd.GeoDataFrame:
    return plan("B", [
        {"work_id": "b1", "title": "B for partners", "discipline": "gas",
         "start_date": "2027-03-05", "end_date": "2027-04-01", "cost_eur": 10.0,
         "visibility": "partners", "geometry": line(0, 5)},
        {"work_id": "b2", "title": B_SECRET_TITLE, "discipline": "sewer",
         "start_date": "2027-03-17", "end_date": "2027-04-09", "earliest": "2027-02-11",
         "latest": "2027-05-13", "cost_eur": B_SECRET_COST, "funding": "B fund",
         "depth_min": 1.5, "depth_max": 2.75, "visibility": "private", "code": "K2-secret-code",
         "geometry": line(20, 3)},
        {"work_id": "b3", "title": "B public", "discipline": "telecom",
         "start_date": "2027-06-01", "end_date": "2027-06-20", "visibility": "public",
         "geometry": line(600)},
    ])  # fmt: skip


@dataclass
class Installation:
    owner_url: str
    app_url: str
    b_version: int
    a_version: int


def populate(owner_url: str, app_url: str) -> Installation:
    """Organisations, users of every role, and A's and B's plans (imported by their planners)."""
    with Administration.open(owner_url) as adm:
        adm.add_org("A")
        adm.add_org("B")
        for user, (org, role) in USERS.items():
            adm.add_user(user, org=org, role=role, password=PASSWORD)
    with open_store(app_url, user="b_plan", password=PASSWORD) as b:
        vb = b.import_plan(plan_b(), org="B", cycle=2027, source="b.gpkg")
    with open_store(app_url, user="a_plan", password=PASSWORD) as a:
        va = a.import_plan(plan_a(), org="A", cycle=2027, source="a.gpkg")
    return Installation(owner_url, app_url, vb.version_id, va.version_id)


#: B's register: a moratorium on the new surface of its private work b2 (with an
#: exemption for A's a1 by B's board) and one on its partners' work b1.
B2_SURFACE = (121_030.0, 487_005.0, 121_090.0, 487_020.0)
B1_SURFACE = (121_010.0, 487_010.0, 121_070.0, 487_020.0)


def register_b_moratoria(app_url: str) -> None:
    """B registers its moratoria (signed in as b_plan)."""
    from shapely.geometry import box

    from ims_geo.cycle.moratoria import import_moratoria

    register = gpd.GeoDataFrame(
        {
            "source_org": ["B", "B"],
            "source_work_id": ["b2", "b1"],
            "valid_from": ["2027-04-10", "2027-04-02"],
            "valid_until": ["2030-04-09", "2030-04-01"],
            "exempt_org": ["A", None],
            "exempt_work_id": ["a1", None],
            "exemption": ["decision", None],
            "decision": ["B board 7/2027", None],
        },
        geometry=[box(*B2_SURFACE), box(*B1_SURFACE)],
        crs=RD,
    )
    with open_store(app_url, user="b_plan", password=PASSWORD) as b:
        stored, rejected = import_moratoria(b, register, org="B", source="b-register.gpkg")
    assert rejected.empty and len(stored) == 2
