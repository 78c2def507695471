"""What a planner is told about a file that cannot give works, written and read back for real.

Each file is written into ``tmp_path`` as a source system would write it;
the expected messages and coordinates are spelled out here from the data
built here.
"""

from __future__ import annotations

import io
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from ims_geo.cli import EXIT_INPUT, main
from ims_geo.errors import InputError, MissingCRSError
from ims_geo.ingest import COORDINATE_PAIRS, read_works

#: A local engineering grid, as a CAD or survey package writes it into a shapefile's .prj.
SITE_GRID = (
    'LOCAL_CS["Maasvlakte site grid",LOCAL_DATUM["Site datum",0],UNIT["metre",1],'
    'AXIS["X",EAST],AXIS["Y",NORTH]]'
)
XY = np.array([[61000.0, 443000.0], [61250.5, 443100.25]])


def _site_grid_shapefile(tmp_path):  # type: ignore[no-untyped-def]
    frame = gpd.GeoDataFrame(
        {
            "work_id": ["A1", "A2"],
            "org": ["Port", "Port"],
            "start_date": ["2030-01-01", "2030-03-01"],
            "end_date": ["2030-02-01", "2030-04-01"],
        },
        geometry=shapely.points(XY),
        crs=28992,
    )
    path = tmp_path / "quay.shp"
    frame.to_file(path)
    path.with_suffix(".prj").write_text(SITE_GRID)
    return path


def test_a_shapefile_in_a_local_site_grid_names_its_crs_and_asks_for_an_epsg_one(tmp_path):
    path = _site_grid_shapefile(tmp_path)
    with pytest.raises(MissingCRSError) as refused:
        read_works(path)
    assert str(refused.value) == (
        "quay.shp declares its CRS as 'Maasvlakte site grid' (a local engineering or site "
        "grid), which cannot be converted to a map CRS; export the file in an EPSG CRS (e.g. "
        "EPSG:28992), or if its coordinates are in one, say which: crs='EPSG:28992' in "
        'Python, --crs EPSG:28992 on the command line, or crs = "EPSG:28992" in the '
        "mapping file"
    )


def test_a_site_grid_shapefile_is_read_in_the_crs_given_instead(tmp_path):
    path = _site_grid_shapefile(tmp_path)
    result = read_works(path, crs="EPSG:28992", target_crs=28992)
    assert result.works["work_id"].tolist() == ["A1", "A2"]
    assert result.works.crs.to_epsg() == 28992 and result.source_crs.to_epsg() == 28992
    got = shapely.get_coordinates(result.works.geometry.to_numpy())
    np.testing.assert_array_equal(got, XY)
    assert (
        "quay.shp declares its CRS as 'Maasvlakte site grid', which cannot be converted to a "
        "map CRS; its coordinates are read in the given crs EPSG:28992"
    ) in result.warnings


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    return buffer.getvalue()


def test_an_empty_zip_is_said_to_be_empty_on_upload_and_on_the_command_line(tmp_path):
    said = (
        "plan.zip is an empty archive (it holds no files); put the plan's files in it (for a "
        "shapefile its .shp, .shx, .dbf and .prj) and upload it again"
    )
    with pytest.raises(InputError) as refused:
        read_works(_empty_zip(), name="plan.zip")
    assert str(refused.value) == said
    path = tmp_path / "plan.zip"
    path.write_bytes(_empty_zip())
    ran = CliRunner().invoke(main, ["import", str(path), "--store", str(tmp_path / "s.gpkg")])
    assert ran.exit_code == EXIT_INPUT and said in ran.output, ran.output
    assert not (tmp_path / "s.gpkg").exists()


def test_no_geometry_column_lists_the_coordinate_column_names_it_would_read(tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text("work_id,org,start_date,end_date,Ost,Nord\n1,W,2030-01-01,2030-02-01,1,2\n")
    with pytest.raises(InputError) as refused:
        read_works(path)
    said = str(refused.value)
    pairs = ", ".join(f"{x}/{y}" for x, y in COORDINATE_PAIRS)
    assert f"a pair of point coordinate columns named {pairs}, or name them" in said, said
    for x, y in [("x", "y"), ("lon", "lat"), ("easting", "northing"), ("x_coord", "y_coord")]:
        assert f"{x}/{y}" in said, said
    assert "[extras] x = ... and y = ... for coordinates" in said, said
    assert said.endswith("its columns are: work_id, org, start_date, end_date, Ost, Nord"), said


def test_the_extras_the_message_names_do_place_the_points(tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text(
        "work_id,org,start_date,end_date,Ost,Nord\n1,W,2030-01-01,2030-02-01,155000,463000\n"
    )
    mapping = tmp_path / "plan.toml"
    mapping.write_text('[extras]\nx = "Ost"\ny = "Nord"\n')
    result = read_works(path, mapping=mapping, crs="EPSG:28992", target_crs=28992)
    assert shapely.get_coordinates(result.works.geometry.to_numpy()).tolist() == [[155000, 463000]]


def test_importing_a_csv_of_only_a_header_says_the_file_has_no_rows(tmp_path):
    path = tmp_path / "plan.csv"
    path.write_text("work_id,org,start_date,end_date,geometry\n")
    ran = CliRunner().invoke(main, ["import", str(path), "--store", str(tmp_path / "s.gpkg")])
    assert ran.exit_code == EXIT_INPUT, ran.output
    assert (
        "Error: nothing was stored: plan.csv has no rows (at most a header), so no works; "
        "check that it is the right file, or store an empty plan on purpose with: "
        "ims-geo import --org NAME --allow-empty"
    ) in ran.output
    assert "no organisation" not in ran.output
    assert not (tmp_path / "s.gpkg").exists()
