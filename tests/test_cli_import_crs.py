"""``ims-geo import`` names the CRS the store keeps the works in, and the file's as their source."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from click.testing import CliRunner
from pyproj import Transformer

from ims_geo.cli import main
from ims_geo.store import open_store


def plan_file(path: Path, org: str, crs: int, start: tuple[float, float]) -> Path:
    x, y = start
    gpd.GeoDataFrame(
        {"work_id": ["A1"], "org": [org], "discipline": ["water"],
         "start_date": ["2027-03-01"], "end_date": ["2027-03-31"]},
        geometry=[shapely.LineString([(x, y), (x + 100, y)])],
        crs=crs,
    ).to_file(path, driver="GPKG")  # fmt: skip
    return path


def run(*args: object) -> list[str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_import_names_the_store_crs_and_the_file_crs(tmp_path: Path) -> None:
    store = tmp_path / "store.gpkg"
    british = plan_file(tmp_path / "gb.gpkg", "Thames", 27700, (530_000.0, 180_000.0))
    lines = run("import", british, "--cycle", "2027", "--store", store)
    assert lines[0] == "Import of gb.gpkg (layer gb) from EPSG:27700"
    assert "Works kept in EPSG:27700, the store's CRS" in lines
    assert not any("->" in line for line in lines)
    swiss = plan_file(tmp_path / "ch.gpkg", "Zurich", 2056, (2_683_000.0, 1_248_000.0))
    lines = run("import", swiss, "--cycle", "2027", "--store", store)
    assert lines[0] == "Import of ch.gpkg (layer ch) from EPSG:2056"
    kept = lines.index(
        "Works kept in EPSG:27700, the store's CRS (converted from the file's EPSG:2056)"
    )
    assert lines[kept + 1].startswith("Stored 1 works of Zurich as plan version 1")
    # the works are where the line says: the file's coordinates converted to the store's CRS
    works = open_store(store).works(orgs=["Zurich"])
    assert works.crs.to_epsg() == 27700
    to_gb = Transformer.from_crs(2056, 27700, always_xy=True)
    x, y = to_gb.transform([2_683_000.0, 2_683_100.0], [1_248_000.0, 1_248_000.0])
    got = shapely.get_coordinates(works.geometry.iloc[0])
    assert np.allclose(got, np.column_stack([x, y]), atol=0.01)
