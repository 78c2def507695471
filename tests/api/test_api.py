"""The HTTP API over real HTTP: ``ims-geo api`` in a subprocess, a real shared PostGIS store.

Organisations A and B (``tests/access_data.py``) hold public, partners and
private works next to each other; C and D plan far from them and are the
ones that write here. Every answer given to someone other than B is checked
for B's private work (owner, title, cost, funding, code, exact dates and
exact place), and every answer given to someone other than A for A's.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
import sqlalchemy as sa
from access_data import B_SECRET_TITLE, RD, line

from ims_geo.conflicts import find_conflicts
from ims_geo.ingest import read_works
from ims_geo.store import open_store

from .conftest import IMS_GEO, ApiServer, multipart, restart_cluster, start_api, stop_api

# one worker runs them all: one API server and one installation per test run
pytestmark = [pytest.mark.postgis, pytest.mark.xdist_group("api")]

S = "ims_geo"
#: What nobody but B may ever read of B's private work b2.
B_SECRETS = (B_SECRET_TITLE, "987654", "B fund", "K2-secret-code", "2027-03-17", "2027-04-09",
             "2027-02-11", "2027-05-13", '"b2"')  # fmt: skip
#: What nobody but A may ever read of A's private work a2.
A_SECRETS = ("A secret", "2027-05-03", "2027-05-28", '"a2"')


def places(geom: shapely.Geometry) -> set[str]:
    """A geometry's vertices as the API writes them (EPSG:4326, 7 decimals)."""
    xy = gpd.GeoSeries([geom], crs=RD).to_crs(4326).get_coordinates()
    return {f"[{round(x, 7)},{round(y, 7)}]" for x, y in xy.itertuples(index=False)}


#: B's private work exactly where it is: nobody but B may see these coordinates.
B_PLACES = places(line(20, 3))
PAYLOADS = (
    "' OR '1'='1",
    "x'; DROP TABLE ims_geo.works; --",
    'Robert"); DELETE FROM ims_geo.plan_versions; --',
    "$$; DROP SCHEMA ims_geo CASCADE; $$",
    "1; SELECT pg_sleep(5); --",
    "<script>alert(1)</script>",
)


def checked(server: ApiServer, who: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    """A request with ``who``'s token; fails on any leak of others' private works."""
    token = server.tokens.get(who, who)
    status, body, _ = server.call(method, path, token=token, **kw)
    text = body.decode("utf-8", errors="replace")
    org = who.split("_")[0]
    for secret in (B_SECRETS if org != "B" else ()) + (A_SECRETS if org != "A" else ()):
        assert secret not in text, f"{secret!r} leaked to {who} by {method} {path}"
    if org != "B":
        assert not any(p in text.replace(" ", "") for p in B_PLACES), f"b2's place leaked to {who}"
    assert status != 500, text
    return status, json.loads(body) if body else None


def features(answer: dict) -> list[dict]:
    assert answer["type"] == "FeatureCollection"
    return answer["features"]


def gpkg_bytes(frame: gpd.GeoDataFrame) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.gpkg"
        frame.to_file(path, engine="pyogrio")
        return path.read_bytes()


def c_plan() -> gpd.GeoDataFrame:
    """C's plan far from A and B: two good works and one that ends before it starts."""
    return gpd.GeoDataFrame(
        {
            "work_id": ["c1", "c2", "c3"],
            "title": ["C road", "C water", "C backwards"],
            "discipline": ["road", "water", "gas"],
            "start_date": ["2027-05-01", "2027-07-01", "2027-09-01"],
            "end_date": ["2027-06-30", "2027-08-31", "2027-08-01"],
            "visibility": ["public", "public", "public"],
        },
        geometry=[line(5000), line(5300), line(5600)],
        crs=RD,
    )


def post_plan(
    server: ApiServer, who: str, frame: gpd.GeoDataFrame, name: str = "plan.gpkg", **fields: str
) -> tuple[int, Any]:
    body, ctype = multipart({"cycle": "2027", **fields}, {"file": (name, gpkg_bytes(frame))})
    return checked(server, who, "POST", "/plans", body=body, headers={"Content-Type": ctype})


def owner_scalar(server: ApiServer, sql: str) -> Any:
    url = sa.make_url(server.owner_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as con:
        return con.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def c_imported(api_server: ApiServer) -> dict:
    """C's plan, posted once through the API (the answer is kept for the tests)."""
    status, answer = post_plan(api_server, "C", c_plan(), name="c plan.gpkg")
    assert status == 201, answer
    return answer


# --- the service ----------------------------------------------------------------------------
def test_docs_are_served_offline_and_the_openapi_document_lists_every_endpoint(
    api_server: ApiServer,
) -> None:
    status, body, _ = api_server.call("GET", "/docs")
    html = body.decode()
    assert status == 200 and "/static/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        status, body, _ = api_server.call("GET", f"/static/swagger-ui/{asset}")
        assert status == 200 and len(body) > 100_000
    status, spec = api_server.json("GET", "/openapi.json")
    assert status == 200
    assert {"/works", "/conflicts", "/changes", "/plans", "/progress"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


@pytest.mark.parametrize(
    "token", [None, "", "ims_999_deadbeef", "not a token", "ims_1_" + "0" * 64, "x" * 500]
)
def test_a_bad_token_gets_401_and_is_audited(api_server: ApiServer, token: str | None) -> None:
    before = owner_scalar(
        api_server, f"SELECT count(*) FROM {S}.audit WHERE action = 'token rejected'"
    )
    for path in ("/works", "/conflicts", "/changes?since=2020-01-01"):
        status, body, headers = api_server.call("GET", path, token=token)
        assert status == 401, body
        assert headers.get("www-authenticate") == "Bearer"
        assert b"ims_1_000" not in body
    after = owner_scalar(
        api_server, f"SELECT count(*) FROM {S}.audit WHERE action = 'token rejected'"
    )
    assert after - before == 3
    if token == "ims_999_deadbeef":
        last = owner_scalar(
            api_server, f"SELECT target FROM {S}.audit ORDER BY audit_id DESC LIMIT 1"
        )
        assert last == "ims_999"


def test_a_revoked_token_gets_401(api_server: ApiServer) -> None:
    from ims_geo.access.admin import Administration

    with Administration.open(api_server.owner_url) as adm:
        token = adm.new_token("A", role="viewer", label="to revoke")
        assert checked(api_server, token, "GET", "/whoami")[0] == 200
        adm.revoke_token(token)
    assert api_server.call("GET", "/whoami", token=token)[0] == 401


# --- reading --------------------------------------------------------------------------------
def test_works_as_each_organisation_may_see_them(api_server: ApiServer) -> None:
    status, answer = checked(api_server, "A", "GET", "/works?org=A&org=B&org=private")
    assert status == 200
    rows = {(f["properties"]["org"], f["properties"]["work_id"]) for f in features(answer)}
    signal = [f for f in features(answer) if f["properties"]["org"] == "private"]
    assert rows - {("private", signal[0]["properties"]["work_id"])} == {
        ("A", "a1"), ("A", "a2"), ("B", "b1"), ("B", "b3")
    }  # fmt: skip
    (hidden,) = signal
    props = hidden["properties"]
    assert props["work_id"].startswith("anon-")
    assert (props["start_date"], props["end_date"]) == ("2027-03-01", "2027-04-30")
    assert (props["earliest"], props["latest"]) == ("2027-02-01", "2027-05-31")
    for column in ("title", "cost_eur", "funding", "depth_min", "depth_max"):
        assert props[column] is None
    # the place is whole 50 m grid cells of the store's CRS, not the work's line
    coords = np.array(shapely.get_coordinates(shapely.from_geojson(json.dumps(hidden["geometry"]))))
    rd = gpd.GeoSeries(shapely.points(coords), crs=4326).to_crs(RD)
    xy = shapely.get_coordinates(rd.to_numpy())
    assert np.allclose(xy / 50.0, np.round(xy / 50.0), atol=0.002)
    # A's own private work exactly where it is, written as the leak check looks for it
    assert all(p in json.dumps(answer).replace(" ", "") for p in places(line(300)))
    # A's own private work in full
    (a2,) = [f for f in features(answer) if f["properties"]["work_id"] == "a2"]
    assert a2["properties"]["title"] == "A secret" and a2["properties"]["cost_eur"] == 11.0

    status, answer = checked(api_server, "B", "GET", "/works?org=A&org=B")
    assert {(f["properties"]["org"], f["properties"]["work_id"]) for f in features(answer)} == {
        ("A", "a1"), ("B", "b1"), ("B", "b2"), ("B", "b3")
    }  # fmt: skip
    status, answer = checked(api_server, "B", "GET", "/works?org=private")
    assert len(features(answer)) == 1  # A's a2, anonymous


def test_works_in_a_bounding_box(api_server: ApiServer) -> None:
    lonlat = gpd.GeoSeries([line(600).centroid], crs=RD).to_crs(4326).iloc[0]
    box = f"{lonlat.x - 0.0002},{lonlat.y - 0.0002},{lonlat.x + 0.0002},{lonlat.y + 0.0002}"
    status, answer = checked(api_server, "A", "GET", f"/works?bbox={box}")
    assert status == 200
    assert [f["properties"]["work_id"] for f in features(answer)] == ["b3"]


def _expected_conflicts(server: ApiServer, token: str) -> set[tuple[str, str, str, str, str]]:
    """The pairs the library finds over what the token may read (independent of the API)."""
    with open_store(server.app_url, token=token) as store:
        found = find_conflicts(store.works())
    return set(
        zip(found["org_a"], found["work_id_a"], found["org_b"], found["work_id_b"], found["kind"],
            strict=True)
    )  # fmt: skip


def _pairs(answer: dict) -> set[tuple[str, str, str, str, str]]:
    return {
        (p["org_a"], p["work_id_a"], p["org_b"], p["work_id_b"], p["kind"])
        for p in (f["properties"] for f in features(answer))
    }


def test_conflicts_with_filters(api_server: ApiServer) -> None:
    status, answer = checked(api_server, "A", "GET", "/conflicts")
    assert status == 200
    every = _pairs(answer)
    assert every == _expected_conflicts(api_server, api_server.tokens["A"])
    # A's road a1 and B's partners gas b1, 5 m apart in overlapping weeks: a clash;
    # and a1 against B's private sewer, seen only as an anonymous signal
    a1_b1 = {p for p in every if {("A", "a1"), ("B", "b1")} == {p[:2], p[2:4]}}
    assert {p[4] for p in a1_b1} == {"clash"}
    assert any(("A", "a1") in (p[:2], p[2:4]) and "private" in (p[0], p[2]) for p in every)
    titles = {f["properties"].get("title_a") for f in features(answer)} | {
        f["properties"].get("title_b") for f in features(answer)
    }
    assert "A public road" in titles
    for f in features(answer):
        if f["properties"]["org_a"] == "private":
            assert f["properties"]["title_a"] is None

    status, answer = checked(api_server, "A", "GET", "/conflicts?kind=clash&org=B")
    assert _pairs(answer) == {p for p in every if p[4] == "clash" and "B" in (p[0], p[2])}
    status, answer = checked(api_server, "A", "GET", "/conflicts?bbox=10,10,10.001,10.001")
    assert _pairs(answer) == set()
    status, answer = checked(api_server, "A", "GET", "/conflicts?since=2100-01-01")
    assert _pairs(answer) == set()
    status, answer = checked(api_server, "A", "GET", "/conflicts?since=2000-01-01T00:00:00Z")
    assert _pairs(answer) == every


@pytest.mark.parametrize(
    ("path", "word"),
    [("/conflicts?kind=bogus", "kind"), ("/conflicts?bbox=1,2,3", "bbox"),
     ("/works?bbox=nan,0,1,1", "bbox"), ("/conflicts?since=yesterday", "since"),
     ("/changes", "since")],
)  # fmt: skip
def test_bad_query_parameters_get_a_clear_422(api_server: ApiServer, path: str, word: str) -> None:
    status, answer = checked(api_server, "A", "GET", path)
    assert status == 422
    assert word in json.dumps(answer["detail"])


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sql_injection_through_every_query_parameter_is_harmless(
    api_server: ApiServer, payload: str
) -> None:
    works_before = owner_scalar(api_server, f"SELECT count(*) FROM {S}.works")
    q = quote(payload)
    for path in (f"/works?org={q}", f"/works?bbox={q}", f"/conflicts?org={q}",
                 f"/conflicts?kind={q}", f"/conflicts?bbox={q}", f"/conflicts?since={q}",
                 f"/changes?since={q}"):  # fmt: skip
        started = time.monotonic()
        status, answer = checked(api_server, "A", "GET", path)
        assert time.monotonic() - started < 4.5  # pg_sleep never ran
        if "org=" in path:
            assert status == 200 and features(answer) == []
        else:
            assert status == 422
    status, _, _ = api_server.call("GET", "/works", token=payload)
    assert status == 401
    assert owner_scalar(api_server, f"SELECT count(*) FROM {S}.works") == works_before


# --- writing --------------------------------------------------------------------------------
def test_post_plans_gives_the_cli_validation_report_and_stores_the_version(
    api_server: ApiServer, c_imported: dict
) -> None:
    answer = c_imported
    assert (answer["accepted"], answer["rejected"]) == (2, 1)
    (row,) = answer["rejected_rows"]
    assert row["source_row"] == 3 and row["work_id"] == "c3"
    assert "end" in row["reason"].lower()
    assert answer["stored"] == [
        {"org": "C", "version": 1, "cycle": 2027, "works": 2, "rejected": 1}
    ]
    assert "accepted: 2" in answer["report"] and "rejected: 1" in answer["report"]
    # the very report `ims-geo import` prints for the same file
    same = read_works(gpkg_bytes(c_plan()), name="c plan.gpkg", org="C")
    assert answer["report"] == same.report()
    assert answer["warnings"] == same.warnings
    assert isinstance(answer["warnings"], list)
    status, works = checked(api_server, "A", "GET", "/works?org=C")
    assert sorted(f["properties"]["work_id"] for f in features(works)) == ["c1", "c2"]
    assert (
        owner_scalar(api_server, f"SELECT source FROM {S}.plan_versions WHERE org = 'C'")
        == "c plan.gpkg"
    )


def test_a_token_writes_only_its_own_organisation(api_server: ApiServer, c_imported: dict) -> None:
    a_versions = f"SELECT count(*) FROM {S}.plan_versions WHERE org = 'A'"
    before = owner_scalar(api_server, a_versions)
    # a file that names A in its org column, posted with C's token
    forged = c_plan().iloc[:2].assign(org="A")
    status, answer = post_plan(api_server, "C", forged)
    assert status == 422  # nothing of C in it: an empty plan for C is refused
    assert "empty" in json.dumps(answer).lower()
    status, answer = post_plan(api_server, "C", forged, allow_empty="true")
    assert status == 201
    assert answer["left_out"] == [{"org": "A", "works": 2, "rejected": 0}]
    assert [s["org"] for s in answer["stored"]] == ["C"]
    assert owner_scalar(api_server, a_versions) == before
    # C's plan back as it was
    status, _ = post_plan(api_server, "C", c_plan(), allow_empty="true")
    assert status == 201


def test_a_viewer_token_cannot_write(api_server: ApiServer) -> None:
    versions = f"SELECT count(*) FROM {S}.plan_versions"
    before = owner_scalar(api_server, versions)
    status, answer = post_plan(api_server, "A_viewer", c_plan().iloc[:2])
    assert status == 403, answer
    assert "viewer" in answer["detail"]
    body, ctype = multipart(
        {"cycle": "2027"},
        {"file": ("p.csv", b"work_id,status,actual_start\na1,in_progress,2027-03-12\n")},
    )
    status, answer = checked(
        api_server, "A_viewer", "POST", "/progress", body=body, headers={"Content-Type": ctype}
    )
    assert status == 403, answer
    assert owner_scalar(api_server, versions) == before
    assert (
        owner_scalar(api_server, f"SELECT count(*) FROM {S}.progress_reports WHERE org = 'A'") == 0
    )


def test_post_progress_reports_on_own_works(api_server: ApiServer, c_imported: dict) -> None:
    csv = b"work_id,status,actual_start\nc1,in_progress,2027-05-02\nnope,done,\n"
    body, ctype = multipart({"cycle": "2027"}, {"file": ("progress.csv", csv)})
    status, answer = checked(
        api_server, "C", "POST", "/progress", body=body, headers={"Content-Type": ctype}
    )
    assert status == 201, answer
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert answer["rejected_rows"][0]["work_id"] == "nope"
    assert (
        owner_scalar(
            api_server,
            f"SELECT status || ' ' || actual_start FROM {S}.progress_reports WHERE org = 'C'",
        )
        == "in_progress 2027-05-02"
    )


@pytest.mark.parametrize("payload", PAYLOADS[:4])
def test_sql_injection_through_every_text_field_of_an_upload_is_harmless(
    api_server: ApiServer, c_imported: dict, payload: str
) -> None:
    plan = c_plan().iloc[:2].assign(title=[payload, "C water"])
    plan.loc[0, "work_id"] = "c1"
    status, answer = post_plan(api_server, "C", plan, name=f"{payload[:20]}.gpkg")
    assert status in (201, 422), answer
    for field_name in ("layer", "crs", "encoding"):
        status, answer = post_plan(api_server, "C", plan, **{field_name: payload})
        assert status == 422, answer
    status, works = checked(api_server, "C", "GET", "/works?org=C")
    titles = {f["properties"]["work_id"]: f["properties"]["title"] for f in features(works)}
    assert titles["c1"] in (payload, "C road")
    assert owner_scalar(api_server, f"SELECT count(*) FROM {S}.works WHERE org = 'B'") == 3
    status, _ = post_plan(api_server, "C", c_plan())
    assert status == 201


def test_uploads_have_the_apps_size_limit(api_server: ApiServer, tmp_path: Path) -> None:
    from ims_geo.ingest import LIMITS_ENV

    proc, url = start_api(
        api_server.app_url, tmp_path, env={f"{LIMITS_ENV}MAX_UPLOAD_BYTES": "4096"}
    )
    try:
        small = ApiServer(
            url=url, owner_url="", app_url="", database="", cluster=api_server.cluster
        )
        body, ctype = multipart({"cycle": "2027"}, {"file": ("big.gpkg", b"x" * 10_000)})
        status, data, _ = small.call(
            "POST", "/plans", token=api_server.tokens["C"], body=body,
            headers={"Content-Type": ctype},
        )  # fmt: skip
        assert status == 413
        assert b"upload limit" in data
    finally:
        stop_api(proc)


# --- the feed of changes ----------------------------------------------------------------------
def test_changes_feed_new_conflicts_and_new_plans_near_own_works(
    api_server: ApiServer, c_imported: dict
) -> None:
    time.sleep(0.05)
    since = pd.Timestamp.now(tz="UTC")
    time.sleep(0.05)
    status, answer = checked(api_server, "C", "GET", f"/changes?since={quote(since.isoformat())}")
    assert features(answer) == []
    # D plans gas 3 m from C's road c1, in the same weeks, and something far away
    d_plan = gpd.GeoDataFrame(
        {"work_id": ["d1", "d2"], "title": ["D gas", "D far"], "discipline": ["gas", "gas"],
         "start_date": ["2027-05-10", "2027-05-10"], "end_date": ["2027-06-10", "2027-06-10"],
         "visibility": ["public", "private"]},
        geometry=[line(5000, 3), line(9000)], crs=RD,
    )  # fmt: skip
    assert post_plan(api_server, "D", d_plan)[0] == 201
    status, answer = checked(api_server, "C", "GET", f"/changes?since={quote(since.isoformat())}")
    assert status == 200
    rows = [f["properties"] for f in features(answer)]
    with open_store(api_server.app_url, token=api_server.tokens["C"]) as store:
        found = find_conflicts(store.works())
    with_d = found[(found["org_a"] == "D") | (found["org_b"] == "D")]
    expected = {
        frozenset([(r.org_a, r.work_id_a), (r.org_b, r.work_id_b)]) for r in with_d.itertuples()
    }
    assert expected == {frozenset([("C", "c1"), ("D", "d1")])}
    new = [r for r in rows if r["change"] == "new conflict"]
    assert {
        frozenset([(r["org_a"], r["work_id_a"]), (r["org_b"], r["work_id_b"])]) for r in new
    } == expected
    (version,) = [r for r in rows if r["change"] == "plan version"]
    assert (version["org"], version["version"], version["works_near"]) == ("D", 1, 1)
    assert {r["change"] for r in rows} == {"new conflict", "plan version"}
    # D shifts d1 by a week: the conflict with c1 changed since D's first plan
    time.sleep(0.05)
    second = pd.Timestamp.now(tz="UTC")
    time.sleep(0.05)
    shifted = d_plan.assign(start_date=["2027-05-17", "2027-05-10"])
    assert post_plan(api_server, "D", shifted)[0] == 201
    status, answer = checked(api_server, "C", "GET", f"/changes?since={quote(second.isoformat())}")
    rows = [f["properties"] for f in features(answer)]
    assert sorted(r["change"] for r in rows) == ["changed conflict", "plan version"]
    (changed,) = [r for r in rows if r["change"] == "changed conflict"]
    assert "2027-05-17" in (changed["start_a"], changed["start_b"])
    # D moves d1 away: resolved since D's first plan; since before it, nothing ever happened
    moved = d_plan.assign(geometry=[line(7000), line(9000)])
    assert post_plan(api_server, "D", moved)[0] == 201
    status, answer = checked(api_server, "C", "GET", f"/changes?since={quote(second.isoformat())}")
    assert [f["properties"]["change"] for f in features(answer)] == ["resolved conflict"]
    status, answer = checked(api_server, "C", "GET", f"/changes?since={quote(since.isoformat())}")
    assert [f["properties"]["change"] for f in features(answer)] == []


def test_changes_show_confidential_plans_only_as_signals(api_server: ApiServer) -> None:
    from access_data import plan_b

    since = pd.Timestamp.now(tz="UTC")
    time.sleep(0.05)
    with open_store(api_server.app_url, user="b_plan", password="correct horse battery") as b:
        b.import_plan(plan_b(), org="B", cycle=2027, source="b again.gpkg")
    status, answer = checked(api_server, "A", "GET", f"/changes?since={quote(since.isoformat())}")
    assert status == 200
    rows = [f["properties"] for f in features(answer)]
    kinds = sorted(r["change"] for r in rows)
    assert kinds == ["confidential plan", "plan version"]
    (version,) = [r for r in rows if r["change"] == "plan version"]
    assert (version["org"], version["works_near"]) == ("B", 1)  # b1 next to a1; b3 is 600 m off
    (signal,) = [r for r in rows if r["change"] == "confidential plan"]
    assert signal["org"] is None and signal["version"] is None
    assert (signal["start_a"], signal["end_a"]) == ("2027-03-01", "2027-04-30")


# --- faults ---------------------------------------------------------------------------------
def test_the_api_answers_again_after_the_database_server_restarts(api_server: ApiServer) -> None:
    status, first = checked(api_server, "A", "GET", "/works?org=A&org=B")
    assert status == 200
    restart_cluster(api_server.cluster)
    status, again = checked(api_server, "A", "GET", "/works?org=A&org=B")
    assert status == 200
    assert again == first


def test_ims_geo_api_refuses_a_geopackage_store(tmp_path: Path) -> None:
    done = subprocess.run(
        [*IMS_GEO, "api", "--store", str(tmp_path / "x.gpkg")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "shared (PostGIS) store only" in done.stderr
