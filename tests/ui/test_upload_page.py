"""The Upload page under AppTest: a real zipped shapefile through the ingest, into the store."""

from __future__ import annotations

import io
import zipfile

import pytest

from ims_geo.errors import InputError
from ims_geo.ingest import list_layers, read_works
from ims_geo.store import open_store

ORG = "Test Utility"


def upload(at, name: str, data: bytes, org: str = ORG):
    at.file_uploader(key="upload_file").upload(name, data, "application/octet-stream")
    at.text_input(key="upload_org_new").input(org)
    return at.run()


def metric(at, label: str) -> str:
    (found,) = [m.value for m in at.metric if m.label == label]
    return found


def test_upload_shows_the_validation_report_and_stores_a_version(
    open_app, store_copy, zipped_shapefile, sample_plan
):
    at = open_app("upload", store=store_copy)
    at = upload(at, "plan_2027.zip", zipped_shapefile(sample_plan()))
    assert not at.exception and not at.error
    assert (metric(at, "Accepted"), metric(at, "Repaired"), metric(at, "Rejected")) == (
        "4",
        "0",
        "1",
    )
    (report,) = [c.value for c in at.code]
    assert "accepted: 4" in report and "end_date before start_date: 1" in report
    (rejected,) = [d.value for d in at.dataframe if "reason" in d.value.columns]
    assert list(rejected["work_id"]) == ["T5"]
    assert rejected["reason"].iloc[0] == "end_date before start_date"
    assert [b.label for b in at.get("download_button")] == ["Download this mapping", "CSV"]
    assert at.get("component_instance")  # the preview map

    at.button(key="upload_store").click().run()
    assert not at.exception
    assert "Stored 4 works of Test Utility" in at.success[0].value
    versions = open_store(store_copy).plan_versions(ORG)
    assert versions[["n_works", "n_rejected", "source"]].values.tolist() == [
        [4, 1, "plan_2027.zip"]
    ]


def test_column_mapping_fixes_an_unknown_id_column(
    open_app, store_copy, zipped_shapefile, sample_plan
):
    at = open_app("upload", store=store_copy)
    at = upload(at, "plan.zip", zipped_shapefile(sample_plan(id_column="NUMMER")))
    assert metric(at, "Accepted") == "0"
    assert "missing work_id: 5" in at.code[0].value
    (work_id,) = [s for s in at.selectbox if s.label == "work_id"]
    assert "NUMMER" in work_id.options
    work_id.set_value("NUMMER")
    at.run()
    assert not at.exception
    assert (metric(at, "Accepted"), metric(at, "Rejected")) == ("4", "1")


def test_column_mapping_overrides_an_automatic_match(
    open_app, store_copy, zipped_shapefile, sample_plan
):
    # "Beginn" is read as start_date by its German alias; the planner wants "Start_neu"
    plan = sample_plan().assign(
        Start_neu=["2027-04-01", "2027-05-01", "2028-01-10", "2028-03-01", "2029-04-01"]
    )
    at = open_app("upload", store=store_copy)
    at = upload(at, "plan.zip", zipped_shapefile(plan))
    assert (metric(at, "Accepted"), metric(at, "Rejected")) == ("4", "1")
    (start,) = [s for s in at.selectbox if s.label == "start_date"]
    assert start.help == "automatic: Beginn"
    assert {"Beginn", "Ende", "Start_neu", "ID"} <= set(start.options)
    start.set_value("Start_neu")
    at.run()
    assert not at.exception
    assert (metric(at, "Accepted"), metric(at, "Rejected")) == ("5", "0")


def zip_slip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for suffix in (".shp", ".shx", ".dbf"):
            archive.writestr(f"../../evil{suffix}", b"\0" * 100)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("broken.zip", b"this is not a zip archive"),
        ("plan.gpkg", b"SQLite format 3\0" + b"\0" * 200),
        ("evil.zip", zip_slip()),
        ("plan.csv", b"id;start;end\n1;2027-01-01;2027-02-01\n"),
    ],
)
def test_a_broken_file_shows_the_ingest_error(open_app, store_copy, name, data):
    with pytest.raises(InputError) as raised:
        read_works(data, name=name, org=ORG)
    expected = {str(raised.value)}
    try:  # the page lists the layers first: its refusal may come from there
        list_layers(data, name=name)
    except InputError as error:
        expected = {str(error)}
    at = upload(open_app("upload", store=store_copy), name, data)
    assert not at.exception
    (shown,) = [e.value for e in at.error]
    assert shown in expected


def test_a_bare_shp_asks_for_the_zip(open_app, store_copy, zipped_shapefile, sample_plan):
    archive = zipfile.ZipFile(io.BytesIO(zipped_shapefile(sample_plan())))
    at = upload(open_app("upload", store=store_copy), "works.shp", archive.read("works.shp"))
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "works.shp" in error and ".shx" in error and ".zip" in error


def test_a_file_without_crs_asks_for_it(open_app, store_copy, zipped_shapefile, sample_plan):
    archive = zipfile.ZipFile(io.BytesIO(zipped_shapefile(sample_plan())))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as without_prj:
        for member in archive.namelist():
            if not member.endswith(".prj"):
                without_prj.writestr(member, archive.read(member))
    at = upload(open_app("upload", store=store_copy), "no_prj.zip", buffer.getvalue())
    (error,) = [e.value for e in at.error]
    assert "Reading options" in error
    at.text_input(key="upload_crs").input("EPSG:3879").run()
    assert not at.error
    assert metric(at, "Accepted") == "4"


def test_an_unexpected_reader_failure_is_a_message_not_a_traceback(
    open_app, store_copy, zipped_shapefile, sample_plan, monkeypatch
):
    from ims_geo.ui import state

    def explode(*args, **kwargs):
        raise RuntimeError("driver crashed")

    monkeypatch.setattr(state, "read_works", explode)
    at = upload(open_app("upload", store=store_copy), "crash.zip", zipped_shapefile(sample_plan()))
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("crash.zip could not be read (RuntimeError: driver crashed)")
