"""Row-level security, proven with hand-written SQL over the application's own credentials.

Every test connects as the application role of a shared installation
(``ims-geo admin init``), exactly what the app, the API and the planners'
CLI hold, and tries what an attacker with that password would try.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import sqlalchemy as sa
from access_data import (
    B2_SURFACE,
    B_SECRET_COST,
    B_SECRET_TITLE,
    PASSWORD,
    Installation,
    line,
    plan,
    register_b_moratoria,
)

from ims_geo.access.database import ACCESS_VERSION
from ims_geo.store import open_store

pytestmark = pytest.mark.postgis

S = "ims_geo"


@pytest.fixture
def inst(populated_installation: Any) -> Installation:
    made, versions = populated_installation
    return Installation(made.owner_url, made.app_url, **versions)


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def app_sql(inst: Installation, user: str | None = "a_plan") -> Iterator[psycopg.Connection]:
    """A raw connection with the application's credentials, signed in as ``user``."""
    with psycopg.connect(_libpq(inst.app_url), autocommit=True) as con:
        con.execute("SET jit = off")  # as the store's own connections (speed only)
        if user is not None:
            token = con.execute(f"SELECT {S}.login(%s, %s)", (user, PASSWORD)).fetchone()[0]
            assert token is not None
            con.execute("SELECT set_config('ims_geo.session', %s, false)", (token,))
        yield con


def refused(con: psycopg.Connection, sql: str, params: tuple = ()) -> str:
    """The error the database raises for ``sql`` (the test fails when it runs)."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
        con.execute(sql, params)
    return str(info.value)


def count(con: psycopg.Connection, sql: str, params: tuple = ()) -> int:
    return int(con.execute(f"SELECT count(*) FROM ({sql}) q", params).fetchone()[0])


def owner_count(inst: Installation, sql: str) -> int:
    with psycopg.connect(_libpq(inst.owner_url)) as con:
        return int(con.execute(sql).fetchone()[0])


def test_the_application_role_cannot_bypass_the_policies(inst: Installation) -> None:
    with app_sql(inst, None) as con:
        row = con.execute(
            "SELECT rolsuper, rolbypassrls, pg_has_role(current_user, "
            "(SELECT nspowner FROM pg_namespace WHERE nspname = %s), 'MEMBER') "
            "FROM pg_roles WHERE rolname = current_user",
            (S,),
        ).fetchone()
        assert row == (False, False, False)
        tables = con.execute(
            "SELECT relname, relrowsecurity, pg_get_userbyid(relowner) FROM pg_class "
            "WHERE relnamespace = %s::regnamespace AND relkind = 'r' ORDER BY relname",
            (S,),
        ).fetchall()
    owners = {t[2] for t in tables}
    assert owners == {"ims_owner"}
    unprotected = {t[0] for t in tables if not t[1]}
    assert unprotected == {"gpkg_spatial_ref_sys"} or unprotected <= {"cycles"}, unprotected


def test_organisation_a_cannot_change_or_delete_bs_rows(inst: Installation) -> None:
    before = owner_count(inst, f"SELECT count(*) FROM {S}.works WHERE org = 'B'")
    with app_sql(inst) as con:
        refused(con, f"UPDATE {S}.works SET title = 'hacked' WHERE org = 'B'")
        refused(con, f"DELETE FROM {S}.works WHERE org = 'B'")
        refused(con, f"DELETE FROM {S}.rejected WHERE org = 'B'")
        refused(con, f"TRUNCATE {S}.works")
        # taking B's plan off the map: the policy hides B's version records from the UPDATE
        cur = con.execute(f"UPDATE {S}.plan_versions SET is_current = false WHERE org = 'B'")
        assert cur.rowcount == 0
        # a version "of B" or rows "of B", written by A
        assert "row-level security" in refused(
            con,
            f"INSERT INTO {S}.plan_versions (org, cycle, version, uploaded_at, source, n_works, "
            "n_rejected, is_current, extras) VALUES ('B', 2027, 9, now(), 'x', 0, 0, true, '[]')",
        )
        assert "row-level security" in refused(
            con,
            f"INSERT INTO {S}.works (version_id, work_id, org, discipline, layer, start_date, "
            "end_date, excavation, status, visibility, geometry) VALUES (%s, 'evil', 'B', "
            "'gas', 'subsurface', '2027-01-01', '2027-02-01', true, 'planned', 'public', "
            "ST_SetSRID(ST_MakePoint(121000, 487000), 28992))",
            (inst.b_version,),
        )
    assert owner_count(inst, f"SELECT count(*) FROM {S}.works WHERE org = 'B'") == before
    assert (
        owner_count(inst, f"SELECT count(*) FROM {S}.plan_versions WHERE org = 'B' AND is_current")
        == 1
    )
    assert owner_count(inst, f"SELECT count(*) FROM {S}.works WHERE title = 'hacked'") == 0


def test_plan_version_history_cannot_be_rewritten(inst: Installation) -> None:
    with app_sql(inst) as con:
        # not even A's own history: records are immutable, rows never change
        refused(con, f"UPDATE {S}.plan_versions SET source = 'forged', n_works = 0")
        refused(con, f"UPDATE {S}.plan_versions SET org = 'B' WHERE org = 'A'")
        refused(con, f"DELETE FROM {S}.plan_versions WHERE org = 'A'")
        refused(con, f"UPDATE {S}.works SET start_date = '2030-01-01' WHERE org = 'A'")
        refused(con, f"DELETE FROM {S}.works WHERE org = 'A'")
        # appending rows to an old version of one's own (outside the transaction
        # that created it) is refused too
        assert "row-level security" in refused(
            con,
            f"INSERT INTO {S}.works (version_id, work_id, org, discipline, layer, start_date, "
            "end_date, excavation, status, visibility, geometry) VALUES (%s, 'late', 'A', "
            "'gas', 'subsurface', '2027-01-01', '2027-02-01', true, 'planned', 'public', "
            "ST_SetSRID(ST_MakePoint(121000, 487000), 28992))",
            (inst.a_version,),
        )
        cur = con.execute(f"UPDATE {S}.store_meta SET value = '4326' WHERE key = 'srid'")
        assert cur.rowcount == 0  # only the revision key may change
        assert con.execute(f"SELECT value FROM {S}.store_meta WHERE key = 'salt'").fetchall() == []
    assert owner_count(inst, f"SELECT count(*) FROM {S}.works WHERE work_id = 'late'") == 0
    assert owner_count(inst, f"SELECT count(*) FROM {S}.store_meta WHERE value = '4326'") == 0
    assert owner_count(inst, f"SELECT count(*) FROM {S}.plan_versions") == 2


def test_bs_private_rows_cannot_be_read(inst: Installation) -> None:
    with app_sql(inst) as con:
        rows = con.execute(f"SELECT work_id, title FROM {S}.works WHERE org = 'B' ORDER BY 1")
        assert rows.fetchall() == [("b1", "B for partners"), ("b3", "B public")]
        assert count(con, f"SELECT 1 FROM {S}.works WHERE visibility = 'private'") == 1  # A's own
        assert count(con, f"SELECT 1 FROM {S}.rejected WHERE org = 'B'") == 0
        # B's first and last day (which could be a private work's): by month only
        refused(con, f"SELECT first_start FROM {S}.plan_versions")
        refused(con, f"SELECT * FROM {S}.plan_versions")
        days = con.execute(
            f"SELECT org, first_start::text, last_end::text FROM {S}.visible_versions ORDER BY org"
        ).fetchall()
        assert days == [("A", "2027-03-10", "2027-05-28"), ("B", "2027-03-01", "2027-06-30")]
        # the GIS view reads with the reader's rights (security_invoker)
        assert count(con, f"SELECT 1 FROM {S}.current_works WHERE visibility = 'private'") == 1
        signal = con.execute(
            f"SELECT work_id, org, title, cost_eur, funding, depth_min, depth_max, start_date, "
            f"end_date, earliest, latest, extra, ST_AsText(geometry) FROM {S}.visible_works "
            "WHERE visibility = 'private' AND org <> 'A'"
        ).fetchall()
        assert len(signal) == 1
        work_id, org, title, cost, funding, dmin, dmax, start, end, early, late, extra, geom = (
            signal[0]
        )
        assert work_id.startswith("anon-") and org == "private"
        assert (title, cost, funding, dmin, dmax) == (None, None, None, None, None)
        assert [str(d) for d in (start, end, early, late)] == [
            "2027-03-01", "2027-04-30", "2027-02-01", "2027-05-31",
        ]  # fmt: skip
        assert extra == "{}"
        # B's exact coordinates (x + 20.0 = 121033.0) are nowhere in the signal
        assert "121033" not in geom and "121083" not in geom
        # a leaky function in the WHERE clause runs only on rows the view lets through
        con.execute(
            "CREATE FUNCTION pg_temp.leak(t text, c float8) RETURNS boolean LANGUAGE plpgsql "
            "COST 0.0000001 AS $$ BEGIN RAISE NOTICE 'seen % %', t, c; RETURN true; END $$"
        )
        notices: list[str] = []
        con.add_notice_handler(lambda d: notices.append(str(d.message_primary)))
        con.execute(f"SELECT * FROM {S}.visible_works WHERE pg_temp.leak(title, cost_eur)")
        con.execute(f"SELECT * FROM {S}.works WHERE pg_temp.leak(title, cost_eur)")
        assert notices, "the leak function never ran"
        assert not any(B_SECRET_TITLE in n or str(B_SECRET_COST) in n for n in notices)
        for table in ("users", "sessions", "api_tokens", "organisations"):
            refused(con, f"SELECT * FROM {S}.{table}")


def test_the_organisation_cannot_be_forged(inst: Installation) -> None:
    with app_sql(inst, None) as con:
        # without a sign-in: public works only, no version history, no writes
        assert count(con, f"SELECT 1 FROM {S}.works") == 2
        assert count(con, f"SELECT 1 FROM {S}.plan_versions") == 0
        current = con.execute(f"SELECT org, source FROM {S}.visible_versions ORDER BY org")
        assert current.fetchall() == [("A", ""), ("B", "")]  # no file names
        assert con.execute(f"SELECT {S}.current_org()").fetchone() == (None,)
        for attempt in (
            "SET ims_geo.org = 'B'",
            "SET ims_geo.role = 'admin'",
            "SET ims_geo.session = 'B'",
            "SET ims_geo.session = '00000000000000000000000000000000'",
        ):
            con.execute(attempt)
            assert con.execute(f"SELECT {S}.current_org()").fetchone() == (None,), attempt
            assert count(con, f"SELECT 1 FROM {S}.works WHERE org = 'B'") == 1  # public only
            assert count(con, f"SELECT 1 FROM {S}.visible_works WHERE org = 'private'") == 0
        # knowing B's session *hash* does not help either: the token is the secret
        b_token = con.execute(f"SELECT {S}.login('b_plan', %s)", (PASSWORD,)).fetchone()[0]
        import hashlib

        con.execute(
            "SELECT set_config('ims_geo.session', %s, false)",
            (hashlib.sha256(b_token.encode()).hexdigest(),),
        )
        assert con.execute(f"SELECT {S}.current_org()").fetchone() == (None,)
        refused(
            con,
            f"INSERT INTO {S}.plan_versions (org, cycle, version, uploaded_at, source, n_works, "
            "n_rejected, is_current, extras) VALUES ('B', 2027, 9, now(), 'x', 0, 0, true, '[]')",
        )
        # a wrong password gives no session
        assert con.execute(f"SELECT {S}.login('b_plan', 'wrong password!')").fetchone() == (None,)
        # the real sign-in works (the functions are the only door)
        con.execute("SELECT set_config('ims_geo.session', %s, false)", (b_token,))
        assert con.execute(f"SELECT {S}.current_org()").fetchone() == ("B",)


def test_a_viewer_cannot_write_and_a_disabled_user_cannot_sign_in(inst: Installation) -> None:
    with app_sql(inst, "a_view") as con:
        assert "row-level security" in refused(
            con,
            f"INSERT INTO {S}.plan_versions (org, cycle, version, uploaded_at, source, n_works, "
            "n_rejected, is_current, extras) VALUES ('A', 2027, 9, now(), 'x', 0, 0, true, '[]')",
        )
        assert con.execute(f"UPDATE {S}.plan_versions SET is_current = false").rowcount == 0
        refused(con, f"SELECT {S}.add_user('mallory', 'A', 'admin', 'long enough pw')")
    with app_sql(inst, "root") as con:
        con.execute(f"SELECT {S}.set_disabled('a_plan', true)")
    with psycopg.connect(_libpq(inst.app_url), autocommit=True) as con:
        assert con.execute(f"SELECT {S}.login('a_plan', %s)", (PASSWORD,)).fetchone() == (None,)


def test_a_session_ends_when_its_user_is_disabled(inst: Installation) -> None:
    with app_sql(inst, "a_plan") as con:
        assert con.execute(f"SELECT {S}.current_org()").fetchone() == ("A",)
        with app_sql(inst, "root") as admin:
            admin.execute(f"SELECT {S}.set_disabled('a_plan', true)")
        assert con.execute(f"SELECT {S}.current_org()").fetchone() == (None,)
        assert count(con, f"SELECT 1 FROM {S}.works WHERE visibility = 'private'") == 0


def test_the_audit_trail_is_append_only(inst: Installation) -> None:
    with app_sql(inst, "root") as con:
        n = count(con, f"SELECT 1 FROM {S}.audit")
        assert n > 0
        refused(con, f"UPDATE {S}.audit SET detail = 'nothing happened'")
        refused(con, f"DELETE FROM {S}.audit")
        refused(con, f"TRUNCATE {S}.audit")
        refused(con, f"INSERT INTO {S}.audit (username, action) VALUES ('b_plan', 'confession')")
    with app_sql(inst, "a_plan") as con:
        assert count(con, f"SELECT 1 FROM {S}.audit") == 0  # only admins read it
    # even the owner's connection cannot change history (trigger)
    with psycopg.connect(_libpq(inst.owner_url), autocommit=True) as con:
        for sql in (f"UPDATE {S}.audit SET detail = ''", f"DELETE FROM {S}.audit"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                con.execute(sql)
    assert owner_count(inst, f"SELECT count(*) FROM {S}.audit") == n + 1  # + a_plan's sign-in


PAYLOADS = (
    "' OR '1'='1",
    "x'; DROP TABLE ims_geo.works; --",
    'Robert"); DELETE FROM ims_geo.plan_versions; --',
    "$$; DROP SCHEMA ims_geo CASCADE; $$",
    "b_plan' --",
    "\\'; SELECT pg_sleep(5); --",
)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sql_injection_through_sign_in_and_admin_fields_is_harmless(
    inst: Installation, payload: str
) -> None:
    from ims_geo.access.admin import Administration
    from ims_geo.errors import ImsGeoError

    with psycopg.connect(_libpq(inst.app_url), autocommit=True) as con:
        assert con.execute(f"SELECT {S}.login(%s, %s)", (payload, payload)).fetchone() == (None,)
        assert con.execute(f"SELECT {S}.login('b_plan', %s)", (payload,)).fetchone() == (None,)
        assert con.execute(f"SELECT {S}.login_token(%s)", (payload,)).fetchone() == (None,)
    with Administration(open_store(inst.app_url, user="root", password=PASSWORD)) as adm:
        adm.add_org(payload)  # any text is a valid organisation name, stored as text
        with pytest.raises(ImsGeoError):
            adm.add_user(payload, org="A", role="viewer", password=PASSWORD)
        adm.add_user("p_user", org=payload, role="planner", password=PASSWORD + payload[:20])
        token = adm.new_token(payload, label=payload)
        assert payload in set(adm.orgs()["name"])
        assert adm.tokens()["label"].tolist()[-1] == payload
    with open_store(inst.app_url, token=token) as store:
        assert store.identity is not None and store.identity.org == payload
    # the payload as every text field of an imported work, read back as it was
    hostile = plan(payload, [
        {"work_id": payload, "title": payload, "funding": payload, "discipline": "gas",
         "start_date": "2027-01-01", "end_date": "2027-02-01", "visibility": "partners",
         "remark": payload, "geometry": line(900)},
    ])  # fmt: skip
    pw = PASSWORD + payload[:20]
    with open_store(inst.app_url, user="p_user", password=pw) as store:
        store.import_plan(hostile, org=payload, cycle=2027, source=payload)
        back = store.works(orgs=[payload])
        assert (
            back[["work_id", "org", "title", "funding", "remark"]].iloc[0].tolist() == [payload] * 5
        )
        assert store.plan_versions(payload)["source"].tolist() == [payload]
    with open_store(inst.app_url, user="b_plan", password=PASSWORD) as store:
        assert store.works(orgs=[payload])["title"].tolist() == [payload]
    assert owner_count(inst, f"SELECT count(*) FROM {S}.works") == 6
    assert owner_count(inst, f"SELECT count(*) FROM {S}.plan_versions") == 3


PROGRESS = (
    f"INSERT INTO {S}.progress_reports (report_id, cycle, org, work_id, status, source, "
    "reported_at) VALUES (%s, 2027, %s, %s, 'in_progress', 'raw sql', '2027-03-02')"
)
ADOPTION = (
    f"INSERT INTO {S}.programme_revisions (revision_id, cycle, revision, decision, "
    "decision_date, source, adopted_at) VALUES (%s, 2027, %s, 'council 12/2027', "
    "'2027-01-15', 'raw sql', '2027-01-15')"
)


def test_planning_cycle_tables_follow_the_same_rules(inst: Installation) -> None:
    with app_sql(inst, "a_plan") as con:
        con.execute(PROGRESS, (1, "A", "a1"))  # own public work
        con.execute(PROGRESS, (2, "A", "a2"))  # own private work
        assert "row-level security" in refused(con, PROGRESS, (3, "B", "b1"))
        assert con.execute(f"UPDATE {S}.progress_reports SET status = 'done'").rowcount == 0
        assert con.execute(f"DELETE FROM {S}.progress_reports").rowcount == 0
        assert "row-level security" in refused(con, ADOPTION, (1, 1))  # planners do not adopt
        assert count(con, f"SELECT 1 FROM {S}.progress_reports") == 2
    with app_sql(inst, "a_view") as con:
        assert "row-level security" in refused(con, PROGRESS, (4, "A", "a1"))
    with app_sql(inst, "a_coord") as con:
        con.execute(ADOPTION, (1, 1))
        assert con.execute(f"DELETE FROM {S}.programme_revisions").rowcount == 0  # frozen
    with app_sql(inst, "b_plan") as con:
        # B reads A's progress on A's public work, not on A's private one
        rows = con.execute(f"SELECT work_id FROM {S}.progress_reports").fetchall()
        assert rows == [("a1",)]
        assert count(con, f"SELECT 1 FROM {S}.programme_revisions") == 1
    with app_sql(inst, None) as con:
        assert count(con, f"SELECT 1 FROM {S}.progress_reports") == 0
        assert count(con, f"SELECT 1 FROM {S}.programme_revisions") == 0
    assert owner_count(inst, f"SELECT count(*) FROM {S}.progress_reports") == 2
    with psycopg.connect(_libpq(inst.owner_url)) as con:
        audited = con.execute(
            f"SELECT username, org, action FROM {S}.audit "
            "WHERE action IN ('progress report', 'adoption') ORDER BY audit_id"
        ).fetchall()
    assert audited == [
        ("a_plan", "A", "progress report"),
        ("a_plan", "A", "progress report"),
        ("a_coord", "A", "adoption"),
    ]


def test_password_guessing_locks_the_user_name(inst: Installation) -> None:
    with psycopg.connect(_libpq(inst.app_url), autocommit=True) as con:
        for i in range(10):
            guess = con.execute(f"SELECT {S}.login('b_plan', %s)", (f"guess number {i}",))
            assert guess.fetchone() == (None,)
        # the right password now is refused too, and that is recorded
        assert con.execute(f"SELECT {S}.login('b_plan', %s)", (PASSWORD,)).fetchone() == (None,)
        # other users are not affected
        assert con.execute(f"SELECT {S}.login('a_plan', %s)", (PASSWORD,)).fetchone()[0]
    with psycopg.connect(_libpq(inst.owner_url)) as con:
        actions = con.execute(
            f"SELECT action, count(*) FROM {S}.audit WHERE target = 'b_plan' "
            "AND action LIKE 'login%%' GROUP BY action ORDER BY action"
        ).fetchall()
        assert actions == [("login", 1), ("login failed", 10), ("login locked", 1)]
        # after the window the user signs in again (moved back in time by the owner)
        con.execute(f"ALTER TABLE {S}.audit DISABLE TRIGGER audit_append_only")
        con.execute(f"UPDATE {S}.audit SET at = at - interval '16 minutes'")
        con.execute(f"ALTER TABLE {S}.audit ENABLE TRIGGER audit_append_only")
        con.commit()
    with psycopg.connect(_libpq(inst.app_url), autocommit=True) as con:
        assert con.execute(f"SELECT {S}.login('b_plan', %s)", (PASSWORD,)).fetchone()[0]


def test_a_session_expires(inst: Installation) -> None:
    with psycopg.connect(_libpq(inst.owner_url), autocommit=True) as con:
        con.execute(f"UPDATE {S}.store_meta SET value = '0.0005' WHERE key = 'session_hours'")
    with app_sql(inst, "a_plan") as con:  # a session of 1.8 seconds
        assert con.execute(f"SELECT {S}.current_org()").fetchone() == ("A",)
        time.sleep(2.0)
        assert con.execute(f"SELECT {S}.current_org()").fetchone() == (None,)
        assert count(con, f"SELECT 1 FROM {S}.works WHERE visibility = 'private'") == 0


def test_a_signal_names_neither_its_owner_nor_its_plan_version(inst: Installation) -> None:
    with app_sql(inst) as con:
        # plan_versions is readable: a real version_id on a signal would name B
        owners = con.execute(
            f"SELECT p.org FROM {S}.visible_works v JOIN {S}.plan_versions p USING (version_id) "
            "WHERE v.org = 'private'"
        ).fetchall()
        assert owners == []
        # fids are sequential per import: B's signal would sit among B's b1 and b3
        ids = con.execute(f"SELECT fid, version_id FROM {S}.visible_works WHERE org = 'private'")
        assert ids.fetchall() == [(None, None)]
        # B's count of works and its date range: over the works A may see only
        refused(con, f"SELECT n_works FROM {S}.plan_versions")
        counts = con.execute(f"SELECT org, n_works FROM {S}.visible_versions ORDER BY org")
        assert counts.fetchall() == [("A", 2), ("B", 2)]  # B has 3 works, one private


def test_signals_come_from_current_plans_only_and_hide_the_plans_dates(
    inst: Installation,
) -> None:
    # B's new plan: the private works are its earliest and latest, three of them
    new_b = plan("B", [
        {"work_id": "b1", "title": "B for partners", "discipline": "gas",
         "start_date": "2027-03-05", "end_date": "2027-04-01", "visibility": "partners",
         "geometry": line(0, 5)},
        *({"work_id": f"p{i}", "title": B_SECRET_TITLE, "discipline": "sewer",
           "start_date": "2027-01-12", "end_date": "2027-09-09", "visibility": "private",
           "cost_eur": B_SECRET_COST, "geometry": line(100 * i, 3)} for i in range(1, 4)),
    ])  # fmt: skip
    with open_store(inst.app_url, user="b_plan", password=PASSWORD) as store:
        store.import_plan(new_b, org="B", cycle=2027, source="b2.gpkg")
    with app_sql(inst) as con:
        signals = con.execute(
            f"SELECT work_id, start_date::text, end_date::text FROM {S}.visible_works "
            "WHERE org = 'private'"
        ).fetchall()
        # three signals of B's current plan (not the old b2), by opaque id, month dates
        assert len(signals) == 3
        assert [s[0] for s in signals] == sorted(s[0] for s in signals)
        assert {s[1:] for s in signals} == {("2027-01-01", "2027-09-30")}
        # B's version records: first and last day of b1, the only work A may see
        # (b3, public in the first version, is dropped from the current one)
        days = con.execute(
            f"SELECT n_works, first_start::text, last_end::text FROM {S}.visible_versions "
            "WHERE org = 'B' ORDER BY version"
        ).fetchall()
        assert days == [(1, "2027-03-01", "2027-04-30")] * 2
    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as store:
        works = store.works()
        private = works[works["org"] == "private"]
        assert sorted(private["work_id"]) == sorted(s[0] for s in signals)
        assert private["title"].isna().all() and private["cost_eur"].isna().all()
        assert sorted(works.loc[works["org"] != "private", "work_id"]) == ["a1", "a2", "b1"]
        # an organisation's own works only: no signals (they would tell whose they are)
        assert store.works(orgs=["B"])["work_id"].tolist() == ["b1"]
        versions = store.plan_versions("B")
        assert versions["n_works"].tolist() == [1, 1]


def test_an_older_installation_gets_the_safe_views_when_init_runs_again(
    inst: Installation,
) -> None:
    from click.testing import CliRunner

    from ims_geo.cli import main

    # as an installation of the previous version: signals with their version_id
    # and fid, n_works readable
    with psycopg.connect(_libpq(inst.owner_url), autocommit=True) as con:
        con.execute(f"DROP VIEW {S}.visible_works")
        con.execute(
            f"CREATE VIEW {S}.visible_works WITH (security_barrier) AS SELECT * FROM {S}.works"
        )
        con.execute(f"GRANT SELECT ON {S}.visible_works TO ims_app")
        con.execute(f"GRANT SELECT (n_works) ON {S}.plan_versions TO ims_app")
        con.execute(f"UPDATE {S}.store_meta SET value = '1' WHERE key = 'access_version'")
    leak = (
        f"SELECT DISTINCT p.org FROM {S}.visible_works v "
        f"JOIN {S}.plan_versions p USING (version_id) WHERE v.visibility = 'private'"
    )
    with app_sql(inst) as con:
        assert sorted(r[0] for r in con.execute(leak)) == ["A", "B"]  # the old hole
    result = CliRunner().invoke(
        main, ["admin", "init", "--owner-url", inst.owner_url, "--app-role", "ims_app"]
    )
    assert result.exit_code == 0, result.output
    with app_sql(inst) as con:
        assert [r[0] for r in con.execute(leak)] == ["A"]  # own private work only
        assert count(con, f"SELECT 1 FROM {S}.visible_works WHERE org = 'private'") == 1
        refused(con, f"SELECT n_works FROM {S}.plan_versions")
    assert (
        owner_count(
            inst,
            f"SELECT count(*) FROM {S}.store_meta WHERE key = 'access_version' "
            f"AND value = '{ACCESS_VERSION}'",
        )
        == 1
    )
    # and again: nothing left to do, nothing changes
    result = CliRunner().invoke(
        main, ["admin", "init", "--owner-url", inst.owner_url, "--app-role", "ims_app"]
    )
    assert result.exit_code == 0, result.output
    with app_sql(inst) as con:
        assert count(con, f"SELECT 1 FROM {S}.visible_works WHERE org = 'private'") == 1


def test_moratoria_of_others_private_works_are_anonymous_signals(inst: Installation) -> None:
    import shapely

    from ims_geo.access.signals import coarse_geometry

    register_b_moratoria(inst.app_url)
    with app_sql(inst) as con:
        # the table: B's moratorium on its private b2 is not there for A
        rows = con.execute(f"SELECT source_org, source_work_id, org FROM {S}.moratoria")
        assert rows.fetchall() == [("B", "b1", "B")]
        assert con.execute(f"SELECT org, decision FROM {S}.moratorium_exemptions").fetchall() == []
        # the view: as a signal
        shown = con.execute(
            f"SELECT org, source_org, source_work_id, valid_from::text, valid_until::text, "
            f"source, created_at, geometry_wkb FROM {S}.visible_moratoria ORDER BY moratorium_id"
        ).fetchall()
        assert len(shown) == 2
        org, source_org, work, start, until, source, created, wkb = shown[0]
        assert (org, source_org, start, until, source) == (
            "private", "private", "2027-04-01", "2030-04-30", "private",
        )  # fmt: skip
        assert len(created) == 7  # the month only
        # the same opaque id as the signal of b2
        (signal_id,) = con.execute(
            f"SELECT work_id FROM {S}.visible_works WHERE org = 'private'"
        ).fetchone()
        assert work == signal_id
        geometry = shapely.from_wkb(wkb)
        exact = shapely.box(*B2_SURFACE)
        assert shapely.equals(geometry, coarse_geometry(np.array([exact]), 50.0)[0])
        assert not shapely.equals(geometry, exact)
        assert shown[1][:3] == ("B", "B", "b1") and shown[1][3:5] == ("2027-04-02", "2030-04-01")
        exempt = con.execute(
            f"SELECT org, exempt_org, exempt_work_id, kind, decision "
            f"FROM {S}.visible_moratorium_exemptions"
        ).fetchall()
        assert exempt == [("private", "A", "a1", "decision", None)]
        # no join names the owner
        named = con.execute(
            f"SELECT e.org FROM {S}.moratorium_exemptions e JOIN {S}.visible_moratoria m "
            "USING (moratorium_id) WHERE m.source_org = 'private'"
        )
        assert named.fetchall() == []
        # numbers count up per registration: the signal's is opaque, so it is no
        # neighbour of B's b1 (2); its exemption points at the same opaque number
        ids = con.execute(f"SELECT moratorium_id FROM {S}.visible_moratoria ORDER BY 1")
        (hidden_id,), (b1_id,) = ids.fetchall()
        assert hidden_id < 0 and b1_id == 2
        exempt_ids = con.execute(
            f"SELECT exemption_id, moratorium_id FROM {S}.visible_moratorium_exemptions"
        ).fetchall()
        assert len(exempt_ids) == 1 and exempt_ids[0][0] < 0 and exempt_ids[0][1] == hidden_id
        # nothing answers "has B a private work of this id?"
        with pytest.raises(psycopg.errors.UndefinedFunction):
            con.execute(f"SELECT {S}._private_work('B', 'b2')")
        text = str(shown[0])
        assert "'b2'" not in text and "b-register" not in text and "'B'" not in text
    with app_sql(inst, "b_plan") as con:  # B sees its own in full
        rows = con.execute(f"SELECT source_work_id FROM {S}.visible_moratoria ORDER BY 1")
        assert rows.fetchall() == [("b1",), ("b2",)]
        # B's next one, on b2 again: number 3, which A cannot see
        con.execute(
            f"INSERT INTO {S}.moratoria (moratorium_id, org, source_org, source_work_id, "
            "valid_from, valid_until, source, created_at, geometry_wkb) SELECT 3, org, "
            "source_org, source_work_id, valid_from, valid_until, source, created_at, "
            f"geometry_wkb FROM {S}.moratoria WHERE moratorium_id = 1"
        )
        exempt = con.execute(f"SELECT org, decision FROM {S}.visible_moratorium_exemptions")
        assert exempt.fetchall() == [("B", "B board 7/2027")]
    # A's next registration gets a free number all the same (4, not the hidden 3)
    from shapely.geometry import box

    from ims_geo.cycle.moratoria import import_moratoria

    mine = gpd.GeoDataFrame(
        {"source_work_id": ["a1"], "valid_from": ["2027-05-01"], "valid_until": ["2030-04-30"]},
        geometry=[box(121_000, 487_000, 121_050, 487_010)],
        crs="EPSG:28992",
    )
    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as a:
        stored, _ = import_moratoria(a, mine, org="A")
    assert stored["moratorium_id"].tolist() == [4]


def test_only_a_moratoriums_own_organisation_grants_an_exemption(inst: Installation) -> None:
    register_b_moratoria(inst.app_url)
    insert = (
        f"INSERT INTO {S}.moratorium_exemptions (exemption_id, moratorium_id, org, exempt_org, "
        "exempt_work_id, kind, decision, granted_at) VALUES (%s, %s, %s, 'A', 'a1', "
        "'decision', 'self-granted', '2027-01-01')"
    )
    with app_sql(inst, "a_plan") as con:
        # B's moratorium on its public b1 (number 2) is readable by A, not A's to exempt:
        # neither in A's name nor in B's
        assert con.execute(f"SELECT org FROM {S}.moratoria WHERE moratorium_id = 2").fetchall() == [
            ("B",)
        ]
        assert "row-level security" in refused(con, insert, (90, 2, "A"))
        assert "row-level security" in refused(con, insert, (91, 2, "B"))
    with app_sql(inst, "b_plan") as con:  # B grants it
        con.execute(insert, (92, 2, "B"))
    assert (
        owner_count(
            inst, f"SELECT count(*) FROM {S}.moratorium_exemptions WHERE decision = 'self-granted'"
        )
        == 1
    )
