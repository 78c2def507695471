"""Downloads of an empty table: CSV, Excel and GeoPackage with every column, and no GeoJSON
(a GeoJSON file has columns only in its features), said in a caption."""

from __future__ import annotations

import io
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
import pyogrio

# the store of two works 100 m apart, shared with the Conflicts page's own empty tests
from tests.ui.test_conflicts_empty import PLANS, apart  # noqa: F401

NO_GEOJSON = (
    "No GeoJSON file for an empty table: GeoJSON keeps the columns only in its features, so a "
    "file without features has no columns. The other files keep every column."
)
KEY = "conflicts_download"


def offered(at, key: str = KEY) -> list[str]:
    """The formats the download ``key`` of the last run offers."""
    ids = [b.proto.id.rsplit("-", 1)[1] for b in at.get("download_button")]
    return sorted(i.removeprefix(f"{key}_") for i in ids if i.startswith(f"{key}_"))


def gpkg_columns(data: bytes) -> tuple[list[str], int]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "conflicts.gpkg"
        path.write_bytes(data)
        info = pyogrio.read_info(path)
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT count(*) FROM conflicts").fetchone()[0]
    return list(info["fields"]), rows


def files(at, downloaded) -> dict[str, object]:
    """Columns of each download (and its number of rows)."""
    csv = pd.read_csv(io.BytesIO(downloaded(at, f"{KEY}_csv")), dtype=str)
    xlsx = pd.read_excel(io.BytesIO(downloaded(at, f"{KEY}_xlsx")), dtype=str)
    return {
        "csv": (list(csv.columns), len(csv)),
        "xlsx": (list(xlsx.columns), len(xlsx)),
        "gpkg": gpkg_columns(downloaded(at, f"{KEY}_gpkg")),
    }


def test_an_empty_conflict_list_downloads_every_column_and_no_geojson(
    open_app,
    apart,  # noqa: F811 (the fixture imported above)
    downloaded,
):
    at = open_app("conflicts", store=apart)
    assert PLANS.count(b"\n") == 3  # two works 100 m apart: no conflict within 20 m
    assert offered(at) == ["csv", "gpkg", "xlsx"]
    assert NO_GEOJSON in [c.value for c in at.caption]
    empty = files(at, downloaded)

    at.number_input(key="rule_distance").set_value(100.0).run()  # now the two conflict
    assert offered(at) == ["csv", "geojson", "gpkg", "xlsx"]
    assert NO_GEOJSON not in [c.value for c in at.caption]
    one = files(at, downloaded)
    # the empty files carry the very columns the file of one conflict has
    assert empty["csv"] == (one["csv"][0], 0) and one["csv"][1] == 1
    assert empty["xlsx"] == (one["xlsx"][0], 0) and one["xlsx"][1] == 1
    assert empty["gpkg"] == (one["gpkg"][0], 0) and one["gpkg"][1] == 1
    assert {"work_id_a", "org_b", "kind", "gap_days"} <= set(empty["csv"][0]) & set(
        empty["gpkg"][0]
    )
