"""The Upload page with files that hold nothing to store, or lack their CRS: each says why."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import CRS

from ims_geo.errors import MissingCRSError
from ims_geo.i18n import messages
from ims_geo.ingest import read_works
from ims_geo.ingest._mapping import loads_mapping
from ims_geo.store import open_store
from ims_geo.ui.widgets import literal

ORG = "Test Utility"
HEADER = b"work_id,title,start_date,end_date,geometry\n"


def upload(at, name: str, data: bytes):
    at.file_uploader(key="upload_file").upload(name, data, "application/octet-stream")
    at.text_input(key="upload_org_new").input(ORG)
    return at.run()


def metrics(at) -> tuple[str, str, str]:
    shown = {m.label: m.value for m in at.metric}
    return shown["Accepted"], shown["Repaired"], shown["Rejected"]


def nothing_to_store(at, counts: tuple[str, str, str]) -> str:
    """The one message of a page that has no store button, after the report's ``counts``."""
    assert not at.exception and not at.error
    assert metrics(at) == counts
    assert not [b for b in at.button if b.key == "upload_store"]  # no greyed-out button
    (info,) = [i.value for i in at.info]
    return info


def two_layers(tmp_path: Path) -> bytes:
    """A GeoPackage whose first layer is empty and whose second holds one work."""
    path = tmp_path / "plan.gpkg"
    one = gpd.GeoDataFrame(
        {"work_id": ["A1"], "start_date": ["2030-01-01"], "end_date": ["2030-02-01"]},
        geometry=[shapely.Point(155_000, 463_000)],
        crs="EPSG:28992",
    )
    one.iloc[:0].to_file(path, layer="a_empty", engine="pyogrio")
    one.to_file(path, layer="b_works", engine="pyogrio", mode="a")
    return path.read_bytes()


def test_a_csv_with_only_a_header_says_there_is_nothing_to_store(open_app, store_copy):
    at = upload(open_app("upload", store=store_copy), "plan.csv", HEADER)
    assert nothing_to_store(at, ("0", "0", "0")) == (
        "plan.csv holds no works: it has no row below its header (or the layer is empty), so "
        "there is nothing to store. Export the plan again with its works."
    )


def test_a_file_of_several_layers_says_which_is_read_and_an_empty_one_points_to_the_others(
    open_app, store_copy, tmp_path
):
    at = upload(open_app("upload", store=store_copy), "plan.gpkg", two_layers(tmp_path))
    layer = at.selectbox(key="upload_layer")
    assert layer.options == ["a_empty", "b_works"] and layer.value == "a_empty"
    assert (
        "plan.gpkg holds 2 layers (a\\_empty, b\\_works): only the one chosen here is read "
        "and stored. Upload the file again for each other layer that holds works."
    ) in [c.value for c in at.caption]
    assert nothing_to_store(at, ("0", "0", "0")).endswith(
        "Export the plan again with its works. Or choose another layer of the file under **Layer**."
    )
    layer.set_value("b_works")
    at.run()
    assert not at.exception and not at.info
    assert metrics(at) == ("1", "0", "0")
    assert not at.button(key="upload_store").disabled


def test_a_file_of_rejected_rows_only_says_why_nothing_is_stored(open_app, store_copy):
    plan = HEADER + (
        b'R1,Backwards,2030-03-01,2030-02-01,"POINT (155000 463000)"\n'
        b'R2,No date,,2030-02-01,"POINT (155050 463000)"\n'
    )
    at = open_app("upload", store=store_copy)
    at.text_input(key="upload_crs").input("EPSG:28992")
    at = upload(at, "plan.csv", plan)
    assert nothing_to_store(at, ("0", "0", "2")) == (
        "No row of plan.csv was accepted, so there is nothing to store: the report and the "
        "rejected rows above say why. Fix those rows (or the column mapping, or the "
        "organisation) and upload the file again."
    )
    # the rows to fix can still be downloaded
    assert [b.label for b in at.get("download_button")] == ["Download this mapping", "CSV"]


def test_a_file_without_crs_is_one_sentence_then_where_to_enter_it(open_app, store_copy):
    plan = HEADER + b'A1,Main,2030-01-01,2030-02-01,"POINT (155000 463000)"\n'
    with pytest.raises(MissingCRSError) as raised:
        read_works(plan, name="plan.csv", org=ORG)
    said = messages.translate(str(raised.value), escape=literal)
    assert not said.endswith(".")  # the library's line: the page ends the sentence
    at = upload(open_app("upload", store=store_copy), "plan.csv", plan)
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error == said + ". Enter it under **Reading options**."
    at.text_input(key="upload_crs").input("EPSG:28992").run()
    assert not at.error and metrics(at) == ("1", "0", "0")


def test_coordinate_columns_of_other_names_are_chosen_on_the_page(open_app, store_copy):
    plan = (
        b"work_id,start_date,end_date,Ost,Nord\n"
        b"P1,2030-01-01,2030-02-01,155000,463000\n"
        b"P2,2030-03-01,2030-04-01,155010.5,463020.25\n"
    )
    at = open_app("upload", store=store_copy)
    at.text_input(key="upload_crs").input("EPSG:28992")
    at = upload(at, "points.csv", plan)
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("points.csv has no geometry column")
    fields = {s.label: s for s in at.selectbox}
    fields["x (easting, longitude)"].set_value("Ost")
    at.run()
    assert [e.value for e in at.error] == [error]  # one column alone places nothing
    fields = {s.label: s for s in at.selectbox}
    fields["y (northing, latitude)"].set_value("Nord")
    at.run()
    assert not at.exception and not at.error
    assert metrics(at) == ("2", "0", "0")
    at.button(key="upload_store").click().run()
    works = open_store(store_copy).works()
    stored = works[works["org"] == ORG].set_index("work_id").geometry.to_crs("EPSG:28992")
    expected = shapely.points([155_000, 155_010.5], [463_000, 463_020.25])
    # kept in the store's CRS: back in the file's own CRS to a millimetre
    assert shapely.equals_exact(stored.loc[["P1", "P2"]].to_numpy(), expected, 1e-3).all()


def test_the_downloaded_mapping_keeps_the_reading_options(open_app, store_copy, monkeypatch):
    from streamlit.runtime.media_file_manager import MediaFileManager

    files: dict[str, bytes] = {}
    add = MediaFileManager.add

    def kept(self, data, *args, **kwargs):
        url = add(self, data, *args, **kwargs)
        files[url] = data.encode() if isinstance(data, str) else bytes(data)
        return url

    monkeypatch.setattr(MediaFileManager, "add", kept)
    plan = HEADER + b'A1,Main,2030-01-01,2030-02-01,"POINT (155000 463000)"\n'
    at = open_app("upload", store=store_copy)
    at.text_input(key="upload_crs").input(" EPSG:28992 ")
    at.selectbox(key="upload_encoding").set_value("Windows-1252")
    at = upload(at, "plan.csv", plan)
    assert not at.exception and not at.error
    (button,) = [
        b for b in at.get("download_button") if b.proto.id.endswith("-upload_mapping_download")
    ]
    saved = loads_mapping(files[button.proto.url].decode(), "plan_mapping.toml")
    assert (saved.crs, saved.encoding) == (CRS.from_user_input("EPSG:28992"), "cp1252")
    # read with it alone, as next year's file is, the file gives the same works
    again = read_works(plan, name="plan.csv", org=ORG, mapping=saved)
    assert again.works["geometry"].to_wkt().tolist() == ["POINT (155000 463000)"]
    assert again.works.crs == "EPSG:28992"
