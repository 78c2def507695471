"""Fixtures of the app tests: the demo store, AppTest pages and a running app."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import geopandas as gpd
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from ims_geo.demo import build_demo_store
from ims_geo.store import STORE_ENV, open_store
from ims_geo.ui.serve import served

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
PAGES = "ims_geo/ui/pages"
#: The st_folium component's name in AppTest's element tree and in the browser.
FOLIUM = "streamlit_folium.st_folium"


# --- data ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo plans imported into a GeoPackage store (built once per session)."""
    path = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    build_demo_store(open_store(path))
    return path


@pytest.fixture
def store_copy(demo_store: Path, tmp_path: Path) -> Path:
    """A copy of the demo store that a test may write to."""
    copy = tmp_path / "store.gpkg"
    shutil.copyfile(demo_store, copy)
    return copy


def _zipped_shapefile(frame: gpd.GeoDataFrame, name: str = "works") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, tempfile.TemporaryDirectory() as tmp:
        frame.to_file(Path(tmp) / f"{name}.shp", engine="pyogrio")
        for member in sorted(Path(tmp).iterdir()):
            archive.write(member, member.name)
    return buffer.getvalue()


def _sample_plan(id_column: str = "ID") -> gpd.GeoDataFrame:
    x0, y0 = 25_496_000, 6_672_800
    return gpd.GeoDataFrame(
        {
            id_column: ["T1", "T2", "T3", "T4", "T5"],
            "name": ["Main", "Branch", "Valve", "Cable", "Backwards"],
            "Sparte": ["Wasser", "Wasser", "Gas", "Strom", "Gas"],
            "Beginn": ["2027-04-01", "2027-05-01", "2028-01-10", "2028-03-01", "2029-06-01"],
            "Ende": ["2027-06-30", "2027-05-31", "2028-02-10", "2028-04-01", "2029-05-01"],
        },
        geometry=[
            shapely.LineString([(x0 + 100 * i, y0), (x0 + 100 * i + 80, y0 + 30)]) for i in range(5)
        ],
        crs="EPSG:3879",
    )


@pytest.fixture
def sample_plan() -> Callable[..., gpd.GeoDataFrame]:
    """``sample_plan(id_column="ID")``: five works of an organisation near the demo streets
    (Helsinki, ETRS-GK25), with German column names; the last one ends before it starts."""
    return _sample_plan


@pytest.fixture
def zipped_shapefile() -> Callable[..., bytes]:
    """``zipped_shapefile(frame)``: the frame as a flat zipped shapefile, as users send it."""
    return _zipped_shapefile


# --- AppTest ------------------------------------------------------------------------------
@pytest.fixture
def open_app(monkeypatch: pytest.MonkeyPatch, demo_store: Path) -> Callable[..., AppTest]:
    """Open a page of the app under AppTest: ``open_app("map")``, ``open_app("upload", store=...)``."""

    def open_page(name: str | None = None, *, store: Path = demo_store) -> AppTest:
        monkeypatch.setenv(STORE_ENV, str(store))
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.run()
        if name is not None:
            at.switch_page(f"{PAGES}/{name}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def _folium_args(at: AppTest, index: int = 0) -> dict:
    maps = [c for c in at.get("component_instance") if c.proto.component_name == FOLIUM]
    return json.loads(maps[index].proto.json_args)


@pytest.fixture
def folium_args() -> Callable[..., dict]:
    """``folium_args(at)``: arguments of a page's st_folium map (``script`` is its Leaflet code)."""
    return _folium_args


@pytest.fixture
def downloaded(monkeypatch: pytest.MonkeyPatch) -> Callable[[AppTest, str], bytes]:
    """``downloaded(at, key)``: the bytes download button ``key`` of the last run gives.

    A button's file is written when it is clicked (``data`` is a function): the
    function the page registered is kept here and called as a click would.
    """
    from streamlit.runtime.media_file_manager import MediaFileManager

    made: dict[str, Callable[[], Any]] = {}
    register = MediaFileManager.add_deferred

    def add_deferred(self: MediaFileManager, data: Callable[[], Any], *args: Any, **kw: Any) -> str:
        file_id = register(self, data, *args, **kw)
        made[file_id] = data
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)

    def read(at: AppTest, key: str) -> bytes:
        (button,) = [b for b in at.get("download_button") if b.proto.id.endswith(f"-{key}")]
        data = made[button.proto.deferred_file_id]()
        return data.encode() if isinstance(data, str) else bytes(data)

    return read


# --- a running app and a browser ----------------------------------------------------------
@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@contextlib.contextmanager
def serve_app(store: Path | str, folder: Path) -> Iterator[str]:
    """The app served on 127.0.0.1 over ``store``; yields its URL (log in ``folder``)."""
    with served(store, folder / "streamlit.log") as url:
        yield url


def idle(page: Any, timeout: float = 60_000) -> None:
    """Wait until the page's script run has finished (Streamlit's own run state)."""
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(
        state="attached", timeout=timeout
    )


def block_remote(page: Any) -> list[str]:
    """Abort every request of ``page`` beyond 127.0.0.1; the list of aborted URLs (must stay empty)."""
    aborted: list[str] = []

    def local_only(route: Any) -> None:
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    return aborted


@pytest.fixture(scope="session")
def app_server(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """``streamlit run app.py`` on 127.0.0.1 over a copy of the demo store."""
    folder = tmp_path_factory.mktemp("served")
    store = folder / "store.gpkg"
    shutil.copyfile(demo_store, store)
    with serve_app(store, folder) as url:
        yield {"url": url, "store": store}


#: Script payloads planted in every user string of :func:`hostile_app`: each
#: sets a window flag (or opens a dialog) if it ever runs as markup.
HOSTILE_ORGS = (
    '<img src=x onerror="window.__xss_org=1">',
    "<script>window.__xss_script=1</script>Evil & Co",
)
HOSTILE_TITLE = "<img src=x onerror=\"alert('title')\">"
HOSTILE_ID = "<svg onload=window.__xss_id=1>"
HOSTILE_COLUMN = "<img src=x onerror=window.__xss_col=1>"


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The app over a store whose two organisations, titles, ids and extra column
    are script payloads; their works clash in the street."""
    from ims_geo.schema import validate

    folder = tmp_path_factory.mktemp("hostile")
    store = open_store(folder / "store.gpkg")
    x0, y0 = 25_496_000, 6_672_800
    for i, org in enumerate(HOSTILE_ORGS):
        plan = gpd.GeoDataFrame(
            {
                "work_id": [HOSTILE_ID, f"{i}-2"],
                "org": [org, org],
                "title": [HOSTILE_TITLE, f"**bold** [link](javascript:alert(1)) {i}"],
                "discipline": ["water", "gas"] if i else ["road", "road"],
                "start_date": ["2027-04-01", "2027-06-01"],
                "end_date": ["2027-05-31", "2027-07-31"],
                HOSTILE_COLUMN: [HOSTILE_TITLE, "plain"],
            },
            geometry=[
                shapely.LineString([(x0, y0 + 5 * i), (x0 + 200, y0 + 5 * i)]),
                shapely.LineString([(x0 + 500, y0 + 5 * i), (x0 + 600, y0 + 5 * i)]),
            ],
            crs="EPSG:3879",
        )
        store.import_plan(validate(plan).valid, org=org, cycle=2027, source="hostile.gpkg")
    with serve_app(folder / "store.gpkg", folder) as url:
        yield {
            "url": url,
            "store": folder / "store.gpkg",
            "orgs": HOSTILE_ORGS,
            "title": HOSTILE_TITLE,
            "work_id": HOSTILE_ID,
        }


@pytest.fixture
def empty_app_server(tmp_path: Path) -> Iterator[dict]:
    """The app over a new, empty store (a test that imports a real feed into it)."""
    store = tmp_path / "empty.gpkg"
    with serve_app(store, tmp_path) as url:
        yield {"url": url, "store": store}
