"""An export of no conflicts: CSV, XLSX and GeoPackage keep every column; GeoJSON cannot.

GeoJSON (RFC 7946) has no schema: a file's columns are its features' properties. GDAL
writes an empty FeatureCollection and reads its fields from the features only, ignoring
any other member, so no GeoJSON of zero features can carry columns (and a placeholder
feature would be a false row). The app therefore offers no GeoJSON for an empty table
(tests/ui/test_empty_downloads.py).
"""

from __future__ import annotations

import json

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import shapely

from ims_geo import export
from ims_geo.conflicts import find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.schema import validate


def _conflicts(distance: float) -> gpd.GeoDataFrame:
    """The export table of two organisations' works 100 m apart, searched within ``distance``."""
    works = gpd.GeoDataFrame(
        {
            "work_id": ["G1", "W1"],
            "org": ["Gas", "Water"],
            "title": ["Main", "Pipe"],
            "discipline": ["gas", "water"],
            "start_date": ["2030-01-01", "2030-01-15"],
            "end_date": ["2030-02-01", "2030-03-01"],
        },
        geometry=[shapely.Point(155_000, 463_000), shapely.Point(155_100, 463_000)],
        crs="EPSG:28992",
    )
    checked = validate(works).valid
    return export.conflict_table(find_conflicts(checked, Rules(distance=distance)), checked)


def _columns(path, fmt: str) -> tuple[list[str], int]:
    if fmt == "csv":
        table = pd.read_csv(path, dtype=str)
        return list(table.columns), len(table)
    if fmt == "xlsx":
        rows = list(openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True))
        return list(rows[0]), len(rows) - 1
    info = pyogrio.read_info(path)
    return [*info["fields"], "geometry"], int(info["features"])


def test_empty_csv_xlsx_and_gpkg_keep_the_columns_of_a_full_export(tmp_path):
    none, one = _conflicts(20.0), _conflicts(150.0)
    assert (len(none), len(one)) == (0, 1)
    assert list(none.columns) == list(one.columns)
    for fmt in ("csv", "xlsx", "gpkg"):
        empty = _columns(export.write(none, tmp_path / f"none.{fmt}"), fmt)
        full = _columns(export.write(one, tmp_path / f"one.{fmt}"), fmt)
        assert empty == (full[0], 0) and full[1] == 1, fmt
        # every column of the conflict table, the geometry (WKT or the layer's) included
        assert sorted(empty[0]) == sorted(none.columns), fmt


def test_an_empty_geojson_is_an_empty_feature_collection_that_reads_back_with_no_column(
    tmp_path,
):
    none, one = _conflicts(20.0), _conflicts(150.0)
    empty = export.write(none, tmp_path / "none.geojson")
    document = json.loads(empty.read_text(encoding="utf-8"))
    assert document["type"] == "FeatureCollection" and document["features"] == []
    assert list(gpd.read_file(empty).columns) == ["geometry"]
    assert list(pyogrio.read_info(empty)["fields"]) == []
    # with one feature the same writer gives every column: it lives in the feature only
    full = export.write(one, tmp_path / "one.geojson")
    (feature,) = json.loads(full.read_text(encoding="utf-8"))["features"]
    assert sorted([*feature["properties"], "geometry"]) == sorted(one.columns)
    # nothing outside the features is read as a schema either
    document["columns"] = list(feature["properties"])
    hinted = tmp_path / "hinted.geojson"
    hinted.write_text(json.dumps(document), encoding="utf-8")
    assert list(pyogrio.read_info(hinted)["fields"]) == []
