"""Row-level security over plan history: a work made private is private in every version.

Organisation A publishes its plan (version 1), then uploads version 2 in
which one work (``W1``) is private, one is dropped and one that was private
is public now. Hand-written SQL over the application's own credentials, as
B's planner and as a visitor, must not read any row of ``W1`` in any
version, nor of the dropped work, while A's other shared works stay readable
in both versions and A reads everything of its own. What each reader should
see is worked out here row by row from the plans themselves.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import psycopg
import pytest
from access_data import PASSWORD, line, plan
from test_rls import _libpq, app_sql

from ims_geo.access.admin import Administration
from ims_geo.access.database import ACCESS_VERSION
from ims_geo.store import open_store

pytestmark = pytest.mark.postgis

S = "ims_geo"
SECRET_TITLE = "W1 confidential bypass"
#: Days of W1 found nowhere else in the plans (v1 start/end, v2 start/end).
SECRET_DAYS = ("2027-01-05", "2027-11-26", "2027-02-09", "2027-10-14")
#: The x coordinate W1 starts at (no other work's line starts or ends there).
SECRET_X = "121913"


def _work(work_id: str, title: str, start: str, end: str, visibility: str, dx: float,
          dy: float = 0.0) -> dict[str, Any]:  # fmt: skip
    return {"work_id": work_id, "title": title, "discipline": "water", "start_date": start,
            "end_date": end, "visibility": visibility, "geometry": line(dx, dy)}  # fmt: skip


def a_v1() -> gpd.GeoDataFrame:
    return plan("A", [
        _work("W1", SECRET_TITLE, "2027-01-05", "2027-11-26", "public", 900),
        _work("a-keep", "A road kept", "2027-03-10", "2027-04-20", "public", 0),
        _work("a-part", "A for partners", "2027-05-03", "2027-05-28", "partners", 300),
        _work("a-drop", "A dropped later", "2027-06-02", "2027-06-30", "public", 600),
        _work("a-later", "A public later", "2027-07-01", "2027-07-15", "private", 1200),
    ])  # fmt: skip


def a_v2() -> gpd.GeoDataFrame:
    return plan("A", [
        _work("W1", SECRET_TITLE, "2027-02-09", "2027-10-14", "private", 900, 10),
        _work("a-keep", "A road kept", "2027-03-17", "2027-04-27", "public", 0),
        _work("a-part", "A for partners", "2027-05-03", "2027-05-28", "partners", 300),
        _work("a-later", "A public later", "2027-07-01", "2027-07-15", "public", 1200),
    ])  # fmt: skip


def b_v1() -> gpd.GeoDataFrame:
    return plan("B", [_work("b1", "B public", "2027-08-03", "2027-08-20", "public", 1500)])


@pytest.fixture
def inst(shared_installation: Any) -> Any:
    """A, B and their planners; B's plan, then A's two versions (W1 private in the second)."""
    with Administration.open(shared_installation.owner_url) as adm:
        for org, user in (("A", "a_plan"), ("B", "b_plan")):
            adm.add_org(org)
            adm.add_user(user, org=org, role="planner", password=PASSWORD)
    with open_store(shared_installation.app_url, user="b_plan", password=PASSWORD) as b:
        b.import_plan(b_v1(), org="B", cycle=2027, source="b.gpkg")
    with open_store(shared_installation.app_url, user="a_plan", password=PASSWORD) as a:
        a.import_plan(a_v1(), org="A", cycle=2027, source="a1.gpkg")
        a.import_plan(a_v2(), org="A", cycle=2027, source="a2.gpkg")
    return shared_installation


def owner_versions(inst: Any) -> dict[int, tuple[str, int]]:
    """Every plan version id: its organisation and version number (read by the owner)."""
    with psycopg.connect(_libpq(inst.owner_url)) as con:
        rows = con.execute(f"SELECT version_id, org, version FROM {S}.plan_versions").fetchall()
    return {int(v): (str(o), int(n)) for v, o, n in rows}


def expected_rows(reader_org: str | None) -> set[tuple[str, int, str]]:
    """(org, version, work_id) the reader may read in full, worked out from the plans.

    Own rows always; another organisation's row when it is shared itself and
    the same work is shared in that organisation's latest version.
    """
    shared = {"public", "partners"} if reader_org is not None else {"public"}
    plans = {"A": [a_v1(), a_v2()], "B": [b_v1()]}
    out = set()
    for org, versions in plans.items():
        now = versions[-1]
        shared_now = set(now.loc[now["visibility"].isin(shared), "work_id"])
        for number, frame in enumerate(versions, start=1):
            for work_id, visibility in zip(frame["work_id"], frame["visibility"], strict=True):
                if org == reader_org or (visibility in shared and work_id in shared_now):
                    out.add((org, number, str(work_id)))
    return out


def readable_relations(con: psycopg.Connection) -> dict[str, list[str]]:
    """Every table and view of the store the connection's role may select from: its columns."""
    rows = con.execute(
        "SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p') "
        "AND a.attnum > 0 AND NOT a.attisdropped "
        "AND has_column_privilege(c.oid, a.attnum, 'SELECT') ORDER BY c.relname, a.attnum",
        (S,),
    ).fetchall()
    out: dict[str, list[str]] = {}
    for relation, column in rows:
        out.setdefault(str(relation), []).append(str(column))
    return out


@pytest.mark.parametrize("user", ["b_plan", None])
def test_no_relation_shows_a_row_of_a_work_made_private(inst: Any, user: str | None) -> None:
    with app_sql(inst, user) as con:
        relations = readable_relations(con)
        assert {"works", "visible_works", "visible_versions"} <= set(relations)
        seen = []
        for relation, columns in relations.items():
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(
                f"SELECT json_build_array({listed})::text FROM {S}.{relation}"
            ).fetchall()
            seen += [(relation, r[0]) for r in rows]
    assert any(relation == "works" for relation, _ in seen)  # the reads did return rows
    leaks = [
        (relation, text)
        for relation, text in seen
        if SECRET_TITLE in text
        or '"W1"' in text
        or SECRET_X in text
        or any(day in text for day in SECRET_DAYS)
    ]
    assert leaks == []


@pytest.mark.parametrize("user, org", [("b_plan", "B"), ("a_plan", "A"), (None, None)])
def test_each_reader_reads_the_rows_shared_then_and_now(
    inst: Any, user: str | None, org: str | None
) -> None:
    versions = owner_versions(inst)
    with app_sql(inst, user) as con:
        table = con.execute(f"SELECT org, version_id, work_id FROM {S}.works").fetchall()
        view = con.execute(
            f"SELECT org, version_id, work_id FROM {S}.visible_works WHERE version_id IS NOT NULL"
        ).fetchall()
    want = expected_rows(org)
    for rows in (table, view):
        got = [(o, versions[int(v)][1], w) for o, v, w in rows]
        assert len(got) == len(set(got))
        assert set(got) == want
    if org == "A":  # everything of its own, in both versions
        assert {(o, n, w) for o, n, w in want if o == "A"} == {
            ("A", n, str(w)) for n, f in ((1, a_v1()), (2, a_v2())) for w in f["work_id"]
        }
    if org == "B":  # A's other shared works of both versions, W1 and the dropped work of none
        assert {(n, w) for o, n, w in want if o == "A"} == {
            (1, "a-keep"),
            (1, "a-part"),
            (2, "a-keep"),
            (2, "a-part"),
            (2, "a-later"),
        }


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def test_others_version_records_count_only_rows_shared_now(inst: Any) -> None:
    with app_sql(inst, "b_plan") as con:
        records = con.execute(
            f"SELECT version, n_works, first_start, last_end FROM {S}.visible_versions "
            "WHERE org = 'A' ORDER BY version"
        ).fetchall()
    want = []
    shown = expected_rows("B")
    for number, frame in ((1, a_v1()), (2, a_v2())):
        keep = frame[[("A", number, str(w)) in shown for w in frame["work_id"]]]
        starts = [dt.date.fromisoformat(str(d)[:10]) for d in keep["start_date"]]
        ends = [dt.date.fromisoformat(str(d)[:10]) for d in keep["end_date"]]
        want.append((number, len(keep), _month_start(min(starts)), _month_end(max(ends))))
    assert [tuple(r) for r in records] == want


def test_an_older_installation_is_upgraded_to_the_policy_over_history(inst: Any) -> None:
    me = f"(SELECT {S}.current_org())"
    with psycopg.connect(_libpq(inst.owner_url), autocommit=True) as con:
        # the policy and version stamp of an installation made before this rule
        con.execute(f"DROP POLICY works_read ON {S}.works")
        con.execute(
            f"CREATE POLICY works_read ON {S}.works FOR SELECT USING (org = {me} "
            f"OR visibility = 'public' OR (visibility = 'partners' AND {me} IS NOT NULL))"
        )
        con.execute(f"UPDATE {S}.store_meta SET value = '2' WHERE key = 'access_version'")
    secret = f"SELECT count(*) FROM {S}.works WHERE work_id = 'W1'"
    with app_sql(inst, "b_plan") as con:
        assert con.execute(secret).fetchone()[0] == 1  # version 1's row, as before the fix
    with open_store(inst.owner_url):  # the owner opening the store upgrades it
        pass
    versions = owner_versions(inst)
    with app_sql(inst, "b_plan") as con:
        assert con.execute(secret).fetchone()[0] == 0
        rows = con.execute(f"SELECT org, version_id, work_id FROM {S}.visible_works").fetchall()
    assert {(o, versions[int(v)][1], w) for o, v, w in rows if v is not None} == expected_rows("B")
    with psycopg.connect(_libpq(inst.owner_url)) as con:
        stamp = con.execute(
            f"SELECT value FROM {S}.store_meta WHERE key = 'access_version'"
        ).fetchone()
    assert stamp == (ACCESS_VERSION,)
