"""``ims-geo import`` names the CRS the store keeps the works in, and the file's as their source."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from pyproj import CRS, Transformer

from ims_geo import schema
from ims_geo.cli import main
from ims_geo.ingest import read_works
from ims_geo.store import open_store

#: A line in London in each file's own CRS: (EPSG code, its two vertices).
LINES = {
    "mercator": (3857, [(-14_200.0, 6_711_500.0), (-14_100.0, 6_711_500.0)]),
    "lonlat": (4326, [(-0.1276, 51.5072), (-0.1262, 51.5072)]),
    "utm": (32630, [(699_300.0, 5_710_200.0), (699_400.0, 5_710_200.0)]),
}


def plan_file(path: Path, org: str, crs: int, vertices: list[tuple[float, float]]) -> Path:
    gpd.GeoDataFrame(
        {"work_id": ["A1"], "org": [org], "discipline": ["water"],
         "start_date": ["2027-03-01"], "end_date": ["2027-03-31"]},
        geometry=[shapely.LineString(vertices)],
        crs=crs,
    ).to_file(path, driver="GPKG")  # fmt: skip
    return path


def run(*args: object) -> list[str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def stored_where_pyproj_puts_them(store: Path, org: str, epsg: int, vertices: list) -> None:
    """The stored works are the file's coordinates converted by pyproj to the store's CRS."""
    works = open_store(store).works(orgs=[org])
    assert works.crs.to_epsg() == 27700
    xy = np.array(vertices)
    x, y = Transformer.from_crs(epsg, 27700, always_xy=True).transform(xy[:, 0], xy[:, 1])
    got = shapely.get_coordinates(works.geometry.iloc[0])
    assert np.allclose(got, np.column_stack([x, y]), rtol=0, atol=1e-6)


def test_import_names_the_store_crs_and_the_file_crs(tmp_path: Path) -> None:
    store = tmp_path / "store.gpkg"
    gb = [(530_000.0, 180_000.0), (530_100.0, 180_000.0)]
    british = plan_file(tmp_path / "gb.gpkg", "Thames", 27700, gb)
    lines = run("import", british, "--cycle", "2027", "--store", store)
    assert lines[0] == "Import of gb.gpkg (layer gb) from EPSG:27700"
    assert "Works kept in EPSG:27700, the store's CRS" in lines
    assert not any("->" in line for line in lines)
    stored_where_pyproj_puts_them(store, "Thames", 27700, gb)


@pytest.mark.parametrize("name", sorted(LINES))
def test_a_file_in_another_crs_is_named_by_its_own(tmp_path: Path, name: str) -> None:
    store = tmp_path / "store.gpkg"
    british = [(530_000.0, 180_000.0), (530_100.0, 180_000.0)]
    run("import", plan_file(tmp_path / "gb.gpkg", "Thames", 27700, british), "--store", store)
    epsg, vertices = LINES[name]
    lines = run("import", plan_file(tmp_path / f"{name}.gpkg", "Other", epsg, vertices),
                "--cycle", "2027", "--store", store)  # fmt: skip
    assert lines[0] == f"Import of {name}.gpkg (layer {name}) from EPSG:{epsg}"
    kept = lines.index(
        f"Works kept in EPSG:27700, the store's CRS (converted from the file's EPSG:{epsg})"
    )
    assert lines[kept + 1].startswith("Stored 1 works of Other as plan version 1")
    stored_where_pyproj_puts_them(store, "Other", epsg, vertices)


def test_the_first_import_names_the_file_crs_and_the_one_chosen(tmp_path: Path) -> None:
    """Into an empty store, lon/lat works are kept in the national grid chosen for them."""
    store = tmp_path / "store.gpkg"
    epsg, vertices = LINES["lonlat"]
    lines = run("import", plan_file(tmp_path / "ll.gpkg", "Thames", epsg, vertices),
                "--store", store)  # fmt: skip
    assert lines[0] == "Import of ll.gpkg (layer ll) from EPSG:4326"
    assert (
        "Works kept in EPSG:27700, the store's CRS (converted from the file's EPSG:4326)" in lines
    )
    stored_where_pyproj_puts_them(store, "Thames", epsg, vertices)


def test_works_outside_the_store_crs_area_are_rejected_naming_it(tmp_path: Path) -> None:
    """A Swiss plan read into a British store: its works would lie far outside the grid."""
    store = tmp_path / "store.gpkg"
    british = [(530_000.0, 180_000.0), (530_100.0, 180_000.0)]
    run("import", plan_file(tmp_path / "gb.gpkg", "Thames", 27700, british), "--store", store)
    swiss = [(2_683_000.0, 1_248_000.0), (2_683_100.0, 1_248_000.0)]
    path = plan_file(tmp_path / "ch.gpkg", "Zurich", 2056, swiss)
    result = CliRunner().invoke(main, ["import", str(path), "--store", str(store)])
    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Import of ch.gpkg (layer ch) from EPSG:2056"
    assert lines[1:4] == ["  accepted: 0", "  repaired: 0", "  rejected: 1"]
    # the reason names the first vertex converted by pyproj, and the grid's area
    x, y = Transformer.from_crs(2056, 27700, always_xy=True).transform(*swiss[0])
    area = CRS.from_epsg(27700).area_of_use.name.split(" - ")[0]
    rejected = read_works(path, target_crs="EPSG:27700").rejected
    assert rejected[schema.REASON].tolist() == [
        f"coordinates '{x:.6g} {y:.6g}' outside the area of use of EPSG:27700 ({area})"
    ]
    assert open_store(store).works(orgs=["Zurich"]).empty


def test_a_file_that_cannot_be_read_leaves_no_new_store_behind(tmp_path: Path) -> None:
    store = tmp_path / "new.gpkg"
    broken = tmp_path / "plan.gpkg"
    broken.write_bytes(b"not a GeoPackage")
    result = CliRunner().invoke(main, ["import", str(broken), "--store", str(store)])
    assert result.exit_code != 0
    assert "plan.gpkg" in result.output
    assert not store.exists()
    # and a file that can be read creates it, as before
    run("import", plan_file(tmp_path / "ok.gpkg", "Water", *LINES["utm"]), "--store", store)
    assert open_store(store).works(orgs=["Water"]).work_id.tolist() == ["A1"]


def test_works_the_store_crs_cannot_convert_are_rejected_not_the_import(tmp_path: Path) -> None:
    """Lon/lat works a quarter of the globe from a British store: no finite grid coordinate."""
    store = tmp_path / "store.gpkg"
    british = [(530_000.0, 180_000.0), (530_100.0, 180_000.0)]
    run("import", plan_file(tmp_path / "gb.gpkg", "Thames", 27700, british), "--store", store)
    far = [(88.0, 0.0), (88.01, 0.0)]
    # pyproj itself cannot place them on the British grid
    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(*far[0])
    assert not np.isfinite([x, y]).all()
    path = plan_file(tmp_path / "far.gpkg", "Far", 4326, far)
    result = CliRunner().invoke(main, ["import", str(path), "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert result.stdout.splitlines()[1:4] == ["  accepted: 0", "  repaired: 0", "  rejected: 1"]
    assert "cannot be stored" not in result.output
    rejected = read_works(path, target_crs="EPSG:27700").rejected
    area = CRS.from_epsg(27700).area_of_use.name.split(" - ")[0]
    assert rejected[schema.REASON].tolist() == [
        f"coordinates outside the area of use of EPSG:27700 ({area})"
    ]
    assert open_store(store).works(orgs=["Far"]).empty
