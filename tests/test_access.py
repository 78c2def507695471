"""Sign-in, confidential plans and the audit trail of a shared installation.

Through the library (``open_store`` with a user, a token or nothing), the
real CLI (``ims-geo admin ...`` and store commands signed in) and the files
they write. Every test runs against a fresh database set up like
production: an owner role and a separate application role.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from access_data import (
    B_SECRET_COST,
    B_SECRET_TITLE,
    PASSWORD,
    RD,
    X0,
    Y0,
    Installation,
    plan_a,
    plan_b,
    populate,
    register_b_moratoria,
)
from click.testing import CliRunner

from ims_geo import i18n
from ims_geo.access.admin import Administration
from ims_geo.access.signals import month_end, month_start
from ims_geo.cli import main
from ims_geo.errors import StoreError
from ims_geo.report.words import speaking
from ims_geo.store import PRIVATE_ORG, open_store
from ims_geo.store.base import anonymise

pytestmark = pytest.mark.postgis

#: Where B's private work b2 lies, coarsened: the two 50 m cells its line touches.
B2_CELLS = shapely.box(121_000, 487_000, 121_100, 487_050)


@pytest.fixture
def inst(populated_installation: Any) -> Installation:
    made, versions = populated_installation
    return Installation(made.owner_url, made.app_url, **versions)


def cli(*args: object, env: dict[str, str] | None = None, input: str | None = None) -> Any:
    base = {"IMS_GEO_USER": "", "IMS_GEO_PASSWORD": "", "IMS_GEO_TOKEN": "", "IMS_GEO_STORE": ""}
    result = CliRunner().invoke(
        main, [str(a) for a in args], env={**base, **(env or {})}, input=input
    )
    assert PASSWORD not in result.output, "a password was printed"
    return result


def as_user(user: str) -> dict[str, str]:
    return {"IMS_GEO_USER": user, "IMS_GEO_PASSWORD": PASSWORD}


# --- signing in -------------------------------------------------------------------------
def test_the_store_acts_for_the_verified_user_only(inst: Installation) -> None:
    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as a:
        assert a.identity is not None
        assert (a.identity.user, a.identity.org, a.identity.role) == ("a_plan", "A", "planner")
        token = a.session_token
        assert token is not None and token not in repr(a)
        # another organisation's plan: refused in Python, and by the database without it
        with pytest.raises(StoreError, match="'A' may only change its own works"):
            a.import_plan(plan_b(), org="B", cycle=2027)
        a.acting_org = None  # pretend the Python check was skipped
        with pytest.raises(StoreError, match=r"a_plan \(planner of A\) may not"):
            a.import_plan(plan_b(), org="B", cycle=2027)
        # resume the sign-in elsewhere (the app keeps the session token)
        with open_store(inst.app_url, session=token) as again:
            assert again.identity == a.identity
        a.logout()
        with pytest.raises(StoreError, match="expired or ended"):
            open_store(inst.app_url, session=token)
    with pytest.raises(StoreError, match="takes the organisation from the sign-in"):
        open_store(inst.app_url, acting_org="B")
    for wrong in ({"user": "a_plan", "password": "not the password"}, {"user": "nobody"},
                  {"token": "ims_1_" + "0" * 64}):  # fmt: skip
        with pytest.raises(StoreError, match="sign-in .* refused"):
            open_store(inst.app_url, **wrong)


def test_a_viewer_cannot_write_and_a_disabled_user_cannot_sign_in(inst: Installation) -> None:
    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as planner:
        planner.import_plan(plan_a().iloc[:1], org="A", cycle=2027)  # version 2
    with open_store(inst.app_url, user="a_view", password=PASSWORD) as viewer:
        with pytest.raises(StoreError, match=r"a_view \(viewer of A\) may not import"):
            viewer.import_plan(plan_a(), org="A", cycle=2027)
        with pytest.raises(StoreError, match="may not"):
            viewer.restore("A", 1)
    with Administration(open_store(inst.app_url, user="root", password=PASSWORD)) as adm:
        adm.disable_user("a_plan")
    with pytest.raises(StoreError, match="refused for user 'a_plan'"):
        open_store(inst.app_url, user="a_plan", password=PASSWORD)
    with open_store(inst.app_url, user="b_plan", password=PASSWORD) as b:
        assert len(b.plan_versions()) == 3  # nothing was written by the refused attempts


def test_a_visitor_sees_public_works_only(inst: Installation) -> None:
    with open_store(inst.app_url) as visitor:
        assert visitor.identity is None
        works = visitor.works()
        assert sorted(works["work_id"]) == ["a1", "b3"]
        assert set(works["visibility"]) == {"public"}
        with pytest.raises(StoreError, match="visitor who is not signed in may not"):
            visitor.import_plan(plan_a(), org="A", cycle=2027)


# --- confidential plans ----------------------------------------------------------------
def oracle(everything: gpd.GeoDataFrame, salt: str, crs: Any) -> gpd.GeoDataFrame:
    """What organisation A sees, in the shared store's order: the works it may see
    in import order, then the signals by the database's opaque id (a SHA-256 of
    salt, org and work id; never in import order, which would tie a signal to
    its neighbours of the same plan)."""
    seen = anonymise(everything, "A", salt, crs)
    signal = (seen["org"] == PRIVATE_ORG).to_numpy()
    key = [
        hashlib.sha256(f"{salt}{org}\x1f{work}".encode()).hexdigest()[:16]
        for org, work in zip(everything["org"], everything["work_id"], strict=True)
    ]
    order = np.argsort(np.asarray(key, dtype=object)[signal], kind="stable")
    return pd.concat([seen[~signal], seen[signal].iloc[order]])


def test_private_works_of_others_are_anonymous_signals_equal_to_the_python_oracle(
    inst: Installation,
) -> None:
    with open_store(inst.owner_url) as owner:  # the unrestricted view (administrator)
        everything = owner.works()
        salt = owner._salt()
        crs = owner.crs
    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as a:
        seen = a.works()
    expected = oracle(everything, salt, crs)
    assert list(seen.columns) == list(expected.columns)
    assert seen["work_id"].tolist()[:3] == ["b1", "b3", "a1"]  # then a2, then B's signal
    assert seen["work_id"].iloc[-1].startswith("anon-")
    plain = [c for c in seen.columns if c not in ("work_id", "geometry", "code")]
    pd.testing.assert_frame_equal(
        seen[plain].reset_index(drop=True), expected[plain].reset_index(drop=True)
    )
    assert shapely.equals(seen.geometry.to_numpy(), expected.geometry.to_numpy()).all()
    signal = seen[seen["org"] == PRIVATE_ORG].iloc[0]
    assert shapely.equals(signal.geometry, B2_CELLS)
    assert signal["title"] is None and np.isnan(signal["cost_eur"]) and signal["funding"] is None
    assert np.isnan(signal["depth_min"]) and np.isnan(signal["depth_max"])
    assert pd.isna(signal["code"])
    assert str(signal["start_date"].date()) == "2027-03-01"
    assert str(signal["end_date"].date()) == "2027-04-30"
    assert str(signal["earliest"].date()) == "2027-02-01"
    assert str(signal["latest"].date()) == "2027-05-31"
    # the oracle's own pieces, checked by hand on B's dates
    days = pd.Series(pd.to_datetime(["2027-03-17", "2027-02-28"]))
    assert month_start(days).dt.day.tolist() == [1, 1]
    assert month_end(days).dt.strftime("%m-%d").tolist() == ["03-31", "02-28"]
    # B sees its own private work in full
    with open_store(inst.app_url, user="b_plan", password=PASSWORD) as b:
        own = b.works(orgs=["B"])
        assert own.loc[own["work_id"] == "b2", "title"].tolist() == [B_SECRET_TITLE]


def _written_dates(*days: str) -> list[str]:
    """``days`` as ISO text and as every language and style of the reports writes them."""
    written = list(days)
    for lang in i18n.available():
        with speaking(lang):
            written += [
                i18n.fmt_date(d, style=s) for d in days for s in ("short", "medium", "long")
            ]
    return sorted(set(written))


#: B's private work's dates, as any output could write them.
SECRET_DATES = _written_dates("2027-03-17", "2027-04-09")


def _written_amounts(amount: float) -> list[str]:
    """``amount``'s digits and the amount as every language writes it (whole, cents, euros)."""
    written = [str(int(amount))]
    for lang in i18n.available():
        with speaking(lang):
            written += [i18n.fmt_money(amount), i18n.fmt_number(amount)]
            written.append(i18n.fmt_number(amount, decimals=2))
    return sorted(set(written))


#: B's private work's cost, as any output could write it.
SECRET_AMOUNTS = _written_amounts(B_SECRET_COST)


def _leaks(path: Path) -> list[str]:
    """Which of B's secrets appear in the file at ``path`` (every cell, as text)."""
    if path.suffix == ".xlsx":
        sheets = pd.read_excel(path, sheet_name=None, dtype=str)
        text = "\n".join(s.to_csv(index=False) for s in sheets.values())
    elif path.suffix == ".gpkg":
        import pyogrio

        layers = [name for name, _ in pyogrio.list_layers(path)]
        text = "\n".join(gpd.read_file(path, layer=n).to_csv(index=False) for n in layers)
    else:
        text = path.read_text(encoding="utf-8")
    secrets = [B_SECRET_TITLE, *SECRET_AMOUNTS, "B fund", "K2-secret", *SECRET_DATES]
    found = [s for s in secrets if s in text]
    return found + (["b2"] if '"b2"' in text or ",b2," in text else [])


def test_no_output_of_a_signed_in_cli_leaks_a_private_work(
    inst: Installation, tmp_path: Path
) -> None:
    env = {**as_user("a_plan"), "IMS_GEO_STORE": inst.app_url}
    outputs = []
    for name in ("conflicts.csv", "conflicts.xlsx", "conflicts.geojson"):
        result = cli("conflicts", "--out", tmp_path / name, env=env)
        assert result.exit_code == 0, result.output
        outputs.append(tmp_path / name)
    for name in ("works.csv", "works.xlsx", "works.geojson", "works.gpkg"):
        result = cli("export", "--out", tmp_path / name, env=env)
        assert result.exit_code == 0, result.output
        outputs.append(tmp_path / name)
    result = cli("propose", "--out", tmp_path / "programme.xlsx", "--time-limit", "5", env=env)
    assert result.exit_code == 0, result.output
    outputs.append(tmp_path / "programme.xlsx")
    for lang in i18n.available():
        for suffix in ("html", "xlsx"):
            out = tmp_path / f"report_{lang}.{suffix}"
            result = cli("report", "--cycle", "2027", "--lang", lang, "--out", out, env=env)
            assert result.exit_code == 0, result.output
            outputs.append(out)
    result = cli("works", env=env)
    assert result.exit_code == 0 and B_SECRET_TITLE not in result.output
    for path in outputs:
        assert _leaks(path) == [], path
    conflicts = pd.read_csv(tmp_path / "conflicts.csv")
    # A's public road and B's private sewer meet: the pair is there, B anonymous
    private = conflicts[(conflicts["org_a"] == PRIVATE_ORG) | (conflicts["org_b"] == PRIVATE_ORG)]
    assert len(private) >= 1
    works = gpd.read_file(tmp_path / "works.geojson").to_crs(RD)
    signal = works[works["org"] == PRIVATE_ORG]
    assert len(signal) == 1
    assert signal.geometry.iloc[0].hausdorff_distance(B2_CELLS) < 0.01
    # B's exact line (starting 20 m east, 3 m north of X0, Y0) is not what is shown
    exact = shapely.LineString([(X0 + 20, Y0 + 3), (X0 + 70, Y0 + 10)])
    assert signal.geometry.iloc[0].hausdorff_distance(exact) > 10
    # the same command not signed in: public works only
    result = cli(
        "export", "--out", tmp_path / "public.geojson", env={"IMS_GEO_STORE": inst.app_url}
    )
    assert result.exit_code == 0, result.output
    assert "Not signed in" in result.output
    assert sorted(gpd.read_file(tmp_path / "public.geojson")["work_id"]) == ["a1", "b3"]


def test_the_map_payload_carries_no_private_attributes(inst: Installation) -> None:
    from ims_geo import maps

    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as a:
        works = a.works()
    payload = maps.prepare(works, fields=list(works.columns.drop("geometry"))).geojson
    features = json.loads(payload)["features"]
    assert len(features) == len(works) == 5
    assert B_SECRET_TITLE not in payload and "987654" not in payload and '"b2"' not in payload


# --- administration through the CLI ------------------------------------------------------
def test_admin_cli_manages_users_tokens_and_the_audit_trail(
    shared_installation: Any, tmp_path: Path
) -> None:
    owner, app = shared_installation.owner_url, shared_installation.app_url
    # set-up again is harmless; roles that could bypass the policies are refused
    result = cli("admin", "init", "--owner-url", owner, "--app-role", "ims_app")
    assert result.exit_code == 0, result.output
    for bad in ("ims_owner", "postgres"):
        result = cli("admin", "init", "--owner-url", owner, "--app-role", bad)
        assert result.exit_code != 0 and "bypass row-level security" in result.output
    # the first admin, created with the owner's URL; everything after signed in as admin
    assert cli("admin", "org", "add", "A", "--store", owner).exit_code == 0
    result = cli("admin", "user", "add", "root", "--org", "A", "--role", "admin",
                 "--password-stdin", "--store", owner, input=PASSWORD + "\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    admin = {**as_user("root"), "IMS_GEO_STORE": app}
    assert cli("admin", "org", "add", "B", env=admin).exit_code == 0
    result = cli("admin", "user", "add", "bea", "--org", "B", "--role", "planner",
                 env={**admin, "IMS_GEO_NEW_PASSWORD": PASSWORD})  # fmt: skip
    assert result.exit_code == 0, result.output
    result = cli("admin", "user", "add", "weak", "--org", "B", "--role", "planner",
                 env={**admin, "IMS_GEO_NEW_PASSWORD": "short"})  # fmt: skip
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    listed = cli("admin", "user", "list", env=admin)
    assert listed.exit_code == 0 and "bea" in listed.output and "$2" not in listed.output
    # bea works, changes her password, is disabled and is refused
    bea = {**as_user("bea"), "IMS_GEO_STORE": app}
    plan_file = tmp_path / "b.geojson"
    plan_b().to_file(plan_file, driver="GeoJSON")
    result = cli("import", plan_file, "--org", "B", "--cycle", "2027", env=bea)
    assert result.exit_code == 0, result.output
    result = cli("admin", "user", "passwd", "bea", "--password-stdin", env=bea,
                 input="a brand new password\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert cli("works", env=bea).exit_code != 0  # the old password no longer works
    assert cli("admin", "user", "disable", "bea", env=admin).exit_code == 0
    refused = cli("works", env={**bea, "IMS_GEO_PASSWORD": "a brand new password"})
    assert refused.exit_code != 0 and "refused for user 'bea'" in refused.output
    # a planner is no admin
    assert cli("admin", "user", "add", "x", "--org", "B", "--role", "admin",
               env={**as_user("root"), "IMS_GEO_STORE": app, "IMS_GEO_USER": "bea"}
               ).exit_code != 0  # fmt: skip
    # a token for B: shown once, then it signs in; revoked, it is refused
    result = cli("admin", "token", "B", "--label", "asset system", env=admin)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("ims_") and len(token) > 60
    listed = cli("admin", "tokens", env=admin)
    assert token not in listed.output and "asset system" in listed.output
    with_token = {"IMS_GEO_STORE": app, "IMS_GEO_TOKEN": token}
    result = cli("export", "--out", tmp_path / "b.csv", env=with_token)
    assert result.exit_code == 0, result.output
    assert B_SECRET_TITLE in (tmp_path / "b.csv").read_text()  # B's own works, in full
    name = "_".join(token.split("_")[:2])
    assert cli("admin", "revoke-token", name, env=admin).exit_code == 0
    assert cli("works", env={"IMS_GEO_STORE": app, "IMS_GEO_TOKEN": token}).exit_code != 0
    # the audit trail has a row for each of these actions, with who did it
    result = cli("admin", "audit", "--out", tmp_path / "audit.csv", env=admin)
    assert result.exit_code == 0, result.output
    trail = pd.read_csv(tmp_path / "audit.csv", dtype=str, keep_default_na=False)
    by_action = trail.groupby("action")["username"].apply(list).to_dict()
    assert by_action["organisation added"] == ["", "root"]  # the owner, then root
    assert by_action["user added"] == ["", "root"]
    assert by_action["import"] == ["bea"]
    assert by_action["password changed"] == ["bea"]
    assert by_action["user disabled"] == ["root"]
    assert by_action["token created"] == ["root"] and by_action["token revoked"] == ["root"]
    failed = trail[trail["action"] == "login failed"]
    assert set(failed["detail"]) >= {"wrong password", "account disabled"}
    assert (trail["action"] == "token rejected").sum() == 1
    assert (trail["db_user"].iloc[:2] == "ims_owner").all()
    assert PASSWORD not in (tmp_path / "audit.csv").read_text()
    assert "a brand new password" not in (tmp_path / "audit.csv").read_text()
    # only admins read it
    assert cli("admin", "audit", env={**as_user("b_plan"), "IMS_GEO_STORE": app}).exit_code != 0


def test_restore_and_progress_reports_are_audited(inst: Installation) -> None:
    from ims_geo.cycle.monitor import record_progress

    with open_store(inst.app_url, user="b_plan", password=PASSWORD) as b:
        b.import_plan(plan_b().iloc[:2], org="B", cycle=2027, source="b2.gpkg")
        b.restore("B", 1)
        record_progress(b, 2027, "B", pd.DataFrame(
            {"work_id": ["b1"], "status": ["in_progress"], "actual_start": ["2027-03-02"]}
        ))  # fmt: skip
    with Administration(open_store(inst.owner_url)) as adm:
        trail = adm.audit()
    rows = trail[trail["username"] == "b_plan"]
    assert rows["action"].tolist() == [
        "login", "import", "login", "import", "restore", "progress report",
    ]  # fmt: skip
    assert rows["target"].tolist()[-2] == "B version 3"
    assert "b1" in rows["detail"].iloc[-1] and (rows["org"] == "B").all()


def test_versions_offer_a_restore_only_to_those_who_may_restore(inst: Installation) -> None:
    """Everyone is told what changed; only B's own writers how to restore B's plan."""
    with open_store(inst.app_url, user="b_plan", password=PASSWORD) as b:
        b.import_plan(plan_b().iloc[:2], org="B", cycle=2027, source="b2.gpkg")
    hints = {}
    for user in ("b_plan", "a_plan", "a_coord"):
        env = {**as_user(user), "IMS_GEO_STORE": inst.app_url}
        listed = cli("versions", "--org", "B", env=env)
        assert listed.exit_code == 0, listed.output
        assert "What changed: ims-geo compare B 1 2" in listed.output
        hints[user] = "ims-geo restore B 1" in listed.output
    assert hints == {"b_plan": True, "a_plan": False, "a_coord": False}
    refused = cli("restore", "B", 1, env={**as_user("a_coord"), "IMS_GEO_STORE": inst.app_url})
    assert refused.exit_code != 0 and "may only change its own works" in refused.output


def test_admin_init_can_create_the_application_role(postgis_url: str, postgis_cluster: Any) -> None:
    import uuid

    import psycopg
    import sqlalchemy as sa

    role = f"app_{uuid.uuid4().hex[:8]}"
    secret = "a-role-password-of-the-test"
    database = sa.make_url(postgis_url).database
    result = cli("admin", "init", "--owner-url", postgis_url, "--app-role", role, "--create-role",
                 env={"IMS_GEO_APP_PASSWORD": secret})  # fmt: skip
    try:
        assert result.exit_code == 0, result.output
        assert secret not in result.output
        url = f"postgresql+psycopg://{role}:{secret}@127.0.0.1:{postgis_cluster.port}/{database}"
        with open_store(url) as visitor:  # the new role signs on with its password
            assert visitor.identity is None and not visitor.is_owner  # type: ignore[attr-defined]
        libpq = f"postgresql://{role}:{secret}@127.0.0.1:{postgis_cluster.port}/{database}"
        with psycopg.connect(libpq) as con:
            row = con.execute(
                "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
                "WHERE rolname = current_user"
            ).fetchone()
            assert row == (False, False, False, False)
        wrong = f"postgresql://{role}:wrong@127.0.0.1:{postgis_cluster.port}/{database}"
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong)
    finally:
        postgis_cluster.execute(f"DROP OWNED BY {role}", database=database)
        postgis_cluster.execute(f"DROP ROLE IF EXISTS {role}")


def test_only_a_coordinator_adopts_and_the_adoption_keeps_private_works_anonymous(
    inst: Installation,
) -> None:
    import psycopg
    import sqlalchemy as sa

    from ims_geo.cycle.adopt import adopt

    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as planner:
        with pytest.raises(StoreError, match=r"a_plan \(planner of A\) may not adopt"):
            adopt(planner, 2027, decision="council 1", decision_date="2027-01-10", time_limit=5)
    with open_store(inst.app_url, user="a_coord", password=PASSWORD) as coordinator:
        adoption = adopt(
            coordinator, 2027, decision="council 1", decision_date="2027-01-10", time_limit=5
        )
    assert adoption.revision == 1 and adoption.n_works == 5
    libpq = sa.make_url(inst.owner_url).set(drivername="postgresql")
    with psycopg.connect(libpq.render_as_string(hide_password=False)) as con:
        members = con.execute(
            "SELECT org, work_id, title, cost_eur FROM ims_geo.programme_members ORDER BY org"
        ).fetchall()
        audited = con.execute(
            "SELECT username, action FROM ims_geo.audit WHERE action = 'adoption'"
        ).fetchall()
    assert [m[0] for m in members] == ["A", "A", "B", "B", PRIVATE_ORG]
    assert all(B_SECRET_TITLE != m[2] and m[3] != B_SECRET_COST for m in members)
    assert members[-1][1].startswith("anon-") and members[-1][2] is None
    assert audited == [("a_coord", "adoption")]


def test_who_may_not_coordinate_is_told_so_before_any_work_and_nothing_changes(
    inst: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planner's adoption stops before a programme is proposed; targets, a full revision
    and a visitor's write are refused naming who asked and who may, never in the
    database's words."""
    import ims_geo.programme
    from ims_geo.cycle import is_full_revision, targets

    def no_proposal(*args: object, **kwargs: object) -> None:
        raise AssertionError("a programme was proposed for a user who may not adopt it")

    monkeypatch.setattr(ims_geo.programme, "propose", no_proposal)
    for user in ("a_plan", "a_view"):
        role = {"a_plan": "planner", "a_view": "viewer"}[user]
        env = {**as_user(user), "IMS_GEO_STORE": inst.app_url}
        refused = cli("cycle", "adopt", "--cycle", 2027, "--decision", "Council 1", env=env)
        assert refused.exit_code != 0 and "Traceback" not in refused.output
        said = " ".join(refused.output.split())
        assert f"{user} ({role} of A) may not adopt a programme; proposing and adopting" in said
        assert "for coordinators and admins" in said and "row-level security" not in said
        for args, doing in (
            (("targets", "--set", "combined_share=0.9"), "set the cycle's targets"),
            (("full-revision",), "mark a full revision"),
        ):
            refused = cli("cycle", *args, "--cycle", 2027, env=env)
            said = " ".join(refused.output.split())
            assert refused.exit_code != 0 and f"{user} ({role} of A) may not {doing}" in said
            assert "row-level security" not in said
    with open_store(inst.app_url) as visitor:
        from ims_geo.cycle import set_targets

        with pytest.raises(StoreError) as refusal:
            set_targets(visitor, 2027, {"combined_share": 0.9})
        assert "a visitor who is not signed in may not change the planning cycle" in str(
            refusal.value
        )
    with open_store(inst.app_url, user="a_coord", password=PASSWORD) as coordinator:
        assert np.isnan(targets(coordinator, 2027).set_index("kpi").at["combined_share", "target"])
        assert not is_full_revision(coordinator, 2027)
    env = {**as_user("a_coord"), "IMS_GEO_STORE": inst.app_url}
    done = cli("cycle", "targets", "--cycle", 2027, "--set", "combined_share=0.9", env=env)
    assert done.exit_code == 0, done.output
    with open_store(inst.app_url, user="a_view", password=PASSWORD) as viewer:
        assert targets(viewer, 2027).set_index("kpi").at["combined_share", "target"] == 0.9


def test_signed_in_reads_of_many_private_works_are_fast_and_match_the_oracle(
    shared_installation: Any,
) -> None:
    import time

    from access_data import line, plan

    inst = populate(shared_installation.owner_url, shared_installation.app_url)
    rng = np.random.default_rng(7)
    n = 400
    rows = [
        {"work_id": f"p{i}", "title": f"secret {i}", "discipline": "water",
         "start_date": f"2027-{1 + i % 12:02d}-{1 + i % 27:02d}", "end_date": "2028-01-31",
         "visibility": "private", "geometry": line(float(x), float(y), float(length))}
        for i, (x, y, length) in enumerate(
            zip(rng.uniform(-3000, 3000, n), rng.uniform(-3000, 3000, n),
                rng.uniform(5, 400, n), strict=True)
        )
    ]  # fmt: skip
    with open_store(inst.app_url, user="b_plan", password=PASSWORD) as b:
        b.import_plan(plan("B", rows), org="B", cycle=2027)
    with open_store(inst.owner_url) as owner:
        expected = oracle(owner.works(), owner._salt(), owner.crs)
    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as a:
        a.works()  # warm the connection
        started = time.perf_counter()
        seen = a.works()
        took = time.perf_counter() - started
    assert took < 5, f"{n} private works read in {took:.1f} s"
    assert (seen["org"] == PRIVATE_ORG).sum() == n
    assert shapely.equals(seen.geometry.to_numpy(), expected.geometry.to_numpy()).all()
    pd.testing.assert_series_equal(
        seen["start_date"].reset_index(drop=True), expected["start_date"].reset_index(drop=True)
    )
    pd.testing.assert_series_equal(
        seen["end_date"].reset_index(drop=True), expected["end_date"].reset_index(drop=True)
    )


def test_moratoria_of_others_private_works_reach_a_as_signals_in_python_and_cli(
    inst: Installation,
) -> None:
    from ims_geo.cycle import moratoria

    register_b_moratoria(inst.app_url)
    with open_store(inst.app_url, user="a_plan", password=PASSWORD) as a:
        layer = moratoria(a)
        signal_id = a.works().query("org == 'private'")["work_id"].tolist()
    assert len(layer) == 2
    private = layer[layer["source_org"] == PRIVATE_ORG]
    assert len(private) == 1
    row = private.iloc[0]
    assert row["org"] == PRIVATE_ORG and [row["source_work_id"]] == signal_id
    assert str(row["valid_from"].date()) == "2027-04-01"
    assert str(row["valid_until"].date()) == "2030-04-30"
    assert row["source"] == PRIVATE_ORG and row["exemptions"] == "A a1 (decision)"
    assert shapely.equals(row.geometry, B2_CELLS)
    other = layer[layer["source_org"] == "B"]
    assert other["source_work_id"].tolist() == ["b1"]
    # the CLI as A: no trace of B's private moratorium but the signal
    out = cli("moratoria", "--store", inst.app_url, env=as_user("a_plan"))
    assert out.exit_code == 0, out.output
    assert "b2" not in out.output.split() and "B board" not in out.output
    assert "private" in out.output and "b1" in out.output
    # B sees its own in full
    with open_store(inst.app_url, user="b_plan", password=PASSWORD) as b:
        own = moratoria(b)
    assert sorted(own["source_work_id"]) == ["b1", "b2"]
    assert "B board 7/2027" in own.loc[own["source_work_id"] == "b2", "exemptions"].iloc[0]
