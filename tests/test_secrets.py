"""A store password is never shown: not by the CLI, the app, a log line or an error.

The throwaway PostGIS cluster trusts every local connection, so a role is
created WITH PASSWORD and the URL carries that password: the commands
really run against the store, and the password is in every URL they get.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner, Result
from streamlit.testing.v1 import AppTest

from ims_geo.cli import main
from ims_geo.errors import StoreError
from ims_geo.redact import MASK, redact, redact_url
from ims_geo.store import STORE_ENV, open_store

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["overview", "map", "upload", "conflicts", "programme"]


@pytest.fixture
def secret(postgis_cluster, postgis_url) -> Iterator[dict[str, str]]:
    """A PostGIS store opened as a role with a password: its URL, masked URL and password."""
    role = f"planner_{uuid.uuid4().hex[:8]}"
    password = f"Pw{uuid.uuid4().hex}"
    database = postgis_url.rsplit("/", 1)[1]
    postgis_cluster.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    postgis_cluster.execute(f"ALTER DATABASE {database} OWNER TO {role}")
    postgis_cluster.execute(f"GRANT CREATE ON SCHEMA public TO {role}", database=database)
    host = f"127.0.0.1:{postgis_cluster.port}/{database}"
    yield {
        "url": f"postgresql://{role}:{password}@{host}",
        "shown": f"postgresql+psycopg://{role}:{MASK}@{host}",
        "password": password,
        "host": host,
        "role": role,
    }


@pytest.fixture
def plans(tmp_path: Path) -> dict[str, Path]:
    """Two organisations' plans that meet in the street (a clash)."""
    paths = {}
    for org, discipline, y in (("Waterworks", "water", 0.0), ("Cityroads", "road", 5.0)):
        frame = gpd.GeoDataFrame(
            {
                "work_id": ["1", "2"],
                "title": [f"{org} main", f"{org} branch"],
                "discipline": [discipline, discipline],
                "start_date": ["2027-03-01", "2027-05-01"],
                "end_date": ["2027-03-31", "2027-04-01"],  # the second ends before it starts
            },
            geometry=[
                shapely.LineString([(121_000, 487_000 + y), (121_100, 487_000 + y)]),
                shapely.LineString([(121_000, 487_500 + y), (121_100, 487_500 + y)]),
            ],
            crs=28992,
        )
        paths[org] = tmp_path / f"{org}.gpkg"
        frame.to_file(paths[org], driver="GPKG")
    return paths


def _run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _assert_hidden(result: Result, password: str) -> None:
    """Neither stdout, stderr nor an exception the command raised holds the password."""
    shown = result.stdout + result.stderr + repr(result.exception)
    assert password not in shown, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), shown


def test_redact_masks_the_password_of_every_url_in_a_text():
    text = (
        "could not open postgresql+psycopg://ann:s3/cr@t@db.example:5432/ims, "
        "nor postgres://bob:x@h/db (host=db password='a b' user=bob)"
    )
    assert redact(text) == (
        "could not open postgresql+psycopg://ann:***@db.example:5432/ims, "
        "nor postgres://bob:***@h/db (host=db password=*** user=bob)"
    )
    assert redact_url("postgresql://ann@db/ims") == "postgresql://ann@db/ims"
    assert redact_url("data/ims.gpkg") == "data/ims.gpkg"
    assert redact_url(Path("C:/plans/ims.gpkg")) == str(Path("C:/plans/ims.gpkg"))


def test_every_command_hides_the_password(secret, plans, tmp_path):
    url, password = secret["url"], secret["password"]
    for org, path in plans.items():
        rejects = tmp_path / f"{org}_rejects.csv"
        result = _run("import", path, "--org", org, "--rejects", rejects, "--store", url)
        _assert_hidden(result, password)
        assert result.exit_code == 0, result.output
        assert f"in {secret['shown']}" in result.stdout  # the masked URL is what is shown
        assert password not in rejects.read_text()
    again = _run("import", plans["Waterworks"], "--org", "Waterworks", "--store", url)
    _assert_hidden(again, password)
    outputs = {
        "works": _run("works", "--store", url),
        "no works": _run("works", "--org", "Nobody", "--store", url),
        "versions": _run("versions", "--store", url),
        "compare": _run("compare", "Waterworks", "1", "2", "--store", url),
        "conflicts": _run("conflicts", "--out", tmp_path / "c.xlsx", "--store", url),
        "export": _run("export", "--out", tmp_path / "w.csv", "--store", url),
        "propose": _run(
            "propose", "--out", tmp_path / "p.gpkg", "--time-limit", "5", "--store", url
        ),
    }
    for name, result in outputs.items():
        _assert_hidden(result, password)
        assert result.exit_code == 0, (name, result.output)
    assert "Read 2 works from " + secret["shown"] in outputs["conflicts"].stderr
    conflicts = pd.read_excel(tmp_path / "c.xlsx", dtype=str)
    assert sorted(conflicts["kind"]) == ["clash"]
    assert password not in (tmp_path / "w.csv").read_text()


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("nodb_{uuid}", "does not exist"),  # a database that does not exist
        ("port", "could not open the store"),  # nothing listens there
        ("badport", "port"),  # a port that is not a number
        ("at", "%40"),  # an '@' in the password would split the URL there
        ("scheme", "unknown store location"),  # not a store URL at all
    ],
)
def test_failures_to_open_the_store_hide_the_password(secret, where, expected):
    password, role = secret["password"], secret["role"]
    port = secret["host"].split(":")[1].split("/")[0]
    url = {
        "nodb_{uuid}": f"postgresql://{role}:{password}@127.0.0.1:{port}/nodb_{uuid.uuid4().hex}",
        "port": f"postgresql://{role}:{password}@127.0.0.1:1/ims",
        "badport": f"postgresql://{role}:{password}@127.0.0.1:5x/ims",
        "at": f"postgresql://{role}:{password}@x@127.0.0.1:{port}/ims",
        "scheme": f"mysql://{role}:{password}@127.0.0.1:{port}/ims",
    }[where]
    with pytest.raises(StoreError, match=expected) as raised:
        open_store(url)
    chain = []
    error: BaseException | None = raised.value
    while error is not None:
        chain.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    assert password not in str(raised.value)
    assert password not in "\n".join(chain)  # nor in the errors it was raised from
    result = _run("works", "--store", url)
    _assert_hidden(result, password)
    assert result.exit_code != 0
    assert result.stderr.startswith("Error: ")


def test_the_store_object_shows_no_password(secret):
    with open_store(secret["url"]) as store:
        assert store.location == secret["shown"]
        assert secret["password"] not in repr(store)


def _page_text(at: AppTest) -> str:
    """Every element's protobuf as text: everything the browser would be sent."""
    texts = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            texts.append(str(proto))
        children = getattr(node, "children", None) or {}
        for child in children.values():
            walk(child)

    walk(at._tree)
    return "\n".join(texts)


def test_app_pages_hide_the_password(secret, plans, monkeypatch):
    url, password = secret["url"], secret["password"]
    for org, path in plans.items():
        assert _run("import", path, "--org", org, "--store", url).exit_code == 0
    monkeypatch.setenv(STORE_ENV, url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    seen = []
    for page in PAGES:
        at.switch_page(f"ims_geo/ui/pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        text = _page_text(at)
        assert password not in text, page
        seen.append(text)
    assert secret["shown"] in seen[0]  # the overview names the store, masked


def test_a_password_given_as_a_query_parameter_is_hidden_too(secret, plans):
    url = f"postgresql://{secret['role']}@{secret['host']}?password={secret['password']}"
    with open_store(url) as store:
        assert store.location == (
            f"postgresql+psycopg://{secret['role']}@{secret['host']}?password={MASK}"
        )
    result = _run("import", plans["Waterworks"], "--org", "Waterworks", "--store", url)
    _assert_hidden(result, secret["password"])
    assert result.exit_code == 0, result.output
    assert redact(f"{url}&sslmode=prefer").endswith(f"?password={MASK}&sslmode=prefer")
