"""The Map page's download of the works shown: CSV and GeoPackage of the works after the
page's filters, byte for byte as the store's export writes them, text kept as text."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from pandas.testing import assert_frame_equal

from ims_geo import export
from ims_geo.ingest import read_works
from ims_geo.store import open_store
from tests.ui.test_empty_downloads import offered

#: Three works of two organisations; ids with leading zeros, titles a spreadsheet would run.
PLANS = (
    b"work_id,org,title,discipline,start_date,end_date,geometry\n"
    b'00017,Gas,"=HYPERLINK(""http://evil/"",""x"")",gas,2030-01-01,2030-02-01,'
    b'"LINESTRING (155000 463000, 155050 463000)"\n'
    b"G2,Gas,+31 resurfacing,road,2030-03-01,2030-04-01,"
    b'"LINESTRING (155000 463100, 155050 463100)"\n'
    b'0100,Water,-3.5,water,2030-05-01,2030-06-01,"POINT (155200 463000)"\n'
)
KEY = "map_download"


@pytest.fixture
def plans(tmp_path: Path) -> Path:
    path = tmp_path / "plans.gpkg"
    result = read_works(PLANS, name="plans.csv", crs="EPSG:28992")
    assert result.rejected.empty
    open_store(path).import_plans(result.works, result.rejected, cycle=2030, source="plans.csv")
    return path


def gpkg(data: bytes) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "works.gpkg"
        path.write_bytes(data)
        assert pyogrio.list_layers(path)[:, 0].tolist() == ["works"]
        return pyogrio.read_dataframe(path)


def expected(store: Path, keep) -> tuple[bytes, pd.DataFrame]:
    """What ``ims-geo export`` writes of the store's works that ``keep`` selects."""
    works = open_store(store).works()
    chosen = works[keep(works)]
    with tempfile.TemporaryDirectory() as tmp:
        csv = export.write(chosen, Path(tmp) / "works.csv", layer="works").read_bytes()
        layer = pyogrio.read_dataframe(export.write(chosen, Path(tmp) / "works.gpkg"))
    return csv, layer


def heading(at) -> str:
    (text,) = [m.value for m in at.markdown if m.value.startswith("**Download the")]
    return text


def test_the_map_downloads_the_works_after_its_filters_as_the_export_writes_them(
    open_app, plans, downloaded
):
    at = open_app("map", store=plans)
    assert offered(at, KEY) == ["csv", "gpkg"]
    assert heading(at) == "**Download the 3 works shown**"
    csv, layer = expected(plans, lambda w: w["org"].notna())
    assert downloaded(at, f"{KEY}_csv") == csv
    assert_frame_equal(gpkg(downloaded(at, f"{KEY}_gpkg")), layer)

    at.multiselect(key="map_orgs").set_value(["Gas"]).run()
    assert heading(at) == "**Download the 2 works shown**"
    csv, layer = expected(plans, lambda w: w["org"] == "Gas")
    assert downloaded(at, f"{KEY}_csv") == csv
    assert_frame_equal(gpkg(downloaded(at, f"{KEY}_gpkg")), layer)

    at.radio(key="map_layer").set_value("subsurface").run()
    assert heading(at) == "**Download the 1 work shown**"
    csv, layer = expected(plans, lambda w: (w["org"] == "Gas") & (w["layer"] == "subsurface"))
    got = downloaded(at, f"{KEY}_csv")
    assert got == csv
    assert_frame_equal(gpkg(downloaded(at, f"{KEY}_gpkg")), layer)
    # text as text: the id keeps its zeros, the formula is written as text (OWASP quote)
    table = pd.read_csv(io.BytesIO(got), dtype=str, keep_default_na=False)
    assert table["work_id"].tolist() == ["00017"]
    assert table["title"].tolist() == ['\'=HYPERLINK("http://evil/","x")']
    assert export.csv_text(table["title"]).tolist() == ['=HYPERLINK("http://evil/","x")']
    assert gpkg(downloaded(at, f"{KEY}_gpkg"))["title"].tolist() == [
        '=HYPERLINK("http://evil/","x")'
    ]


def test_the_map_offers_files_of_no_work_when_the_filters_hide_every_work(
    open_app, plans, downloaded
):
    at = open_app("map", store=plans)
    at.multiselect(key="map_orgs").set_value([]).run()
    assert heading(at) == "**Download the 0 works shown**"
    table = pd.read_csv(io.BytesIO(downloaded(at, f"{KEY}_csv")), dtype=str)
    full = pd.read_csv(io.BytesIO(expected(plans, lambda w: w["org"].notna())[0]), dtype=str)
    assert table.empty and list(table.columns) == list(full.columns)
