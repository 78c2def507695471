"""The Upload page under AppTest: a real zipped shapefile through the ingest, into the store."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from ims_geo.errors import InputError
from ims_geo.i18n import messages
from ims_geo.ingest import list_layers, read_works
from ims_geo.store import open_store
from ims_geo.ui.widgets import literal

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
    # as the library wrote it, its values (a file's own text) shown as text, not markdown
    assert shown in {messages.translate(e, escape=literal) for e in expected}


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


# --- real exports: mapping built on the page, organisations from a column ------------------


def _ashford():
    from conftest import shared_data

    return shared_data("uk_eton_kent_roadworks_2018", "htdd_ashford_2018-06.gpkg")


def _editor(at, column: str):
    (found,) = [e for e in at.data_editor if e.key and f"_values_{column}_" in e.key]
    return found


def test_ashford_feed_with_a_suggested_mapping_and_a_translation_edited_on_the_page(
    open_app, tmp_path
):
    import pyogrio

    from ims_geo.conflicts import find_conflicts

    path = _ashford()
    raw = pyogrio.read_dataframe(path)
    store = tmp_path / "empty.gpkg"
    at = open_app("upload", store=store)
    at.file_uploader(key="upload_file").upload(
        path.name, path.read_bytes(), "application/geopackage"
    )
    at.selectbox(key="upload_org").set_value("From the file (org column)")
    at.run()
    assert not at.exception
    # without a mapping the dates are not found: every row rejected, the mapping panel is there
    assert metric(at, "Accepted") == "0"
    labels = {s.label for s in at.selectbox}
    assert {"work_id", "org", "start_date", "end_date", "discipline", "status"} <= labels

    at.button(key="upload_suggest").click().run()
    assert not at.exception
    assert metric(at, "Accepted") == str(len(raw)) == "981"
    (org,) = [s for s in at.selectbox if s.label == "org"]
    assert org.value == "responsible_org_name"
    status = _editor(at, "status").value
    counts = raw["e__works_state"].str.strip().replace("", pd.NA).dropna().value_counts()
    assert dict(zip(status["raw"], status["rows"], strict=True)) == counts.to_dict()
    assert dict(zip(status["raw"], status["canonical"], strict=True)) == {
        "Work completed": "done", "Work cancelled": "cancelled",
        "Work in progress": "in_progress", "Planned work about to start": "planned",
        "Forward planning": "planned",
    }  # fmt: skip
    # the planner corrects one translation in the table
    editor = _editor(at, "status")
    row = status.index[status["raw"] == "Planned work about to start"][0]
    at.session_state[editor.key] = {
        "edited_rows": {int(row): {"canonical": "committed"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    changes = next(d.value for d in at.dataframe if "added" in d.value.columns)
    promoters = raw["responsible_org_name"].value_counts()
    assert changes["org"].tolist() == sorted(promoters.index)
    assert dict(zip(changes["org"], changes["added"], strict=True)) == promoters.to_dict()

    at.button(key="upload_store").click().run()
    assert not at.exception
    stored = open_store(store)
    works = stored.works()
    assert works.groupby("org").size().to_dict() == promoters.to_dict()
    about_to_start = int((raw["e__works_state"] == "Planned work about to start").sum())
    assert int((works["status"] == "committed").sum()) == about_to_start == 14
    assert len(stored.plan_versions()) == len(promoters) == 17
    (message,) = [s.value for s in at.success]
    assert f"Stored {promoters['KENT COUNTY COUNCIL']} works of KENT COUNTY COUNCIL" in message
    # the conflicts between the real promoters, as the engine finds them in the store
    conflicts = find_conflicts(works)
    between = conflicts[conflicts["kind"] != "internal"]
    assert len(between) > 0
    shown = next(d.value for d in at.dataframe if "work_id_a" in d.value.columns)
    assert len(shown) == len(between)
    assert (shown["org_a"] != shown["org_b"]).all()
    caption = [c.value for c in at.caption if "pairs of organisations" in c.value]
    assert caption and caption[0].startswith(f"{len(between)} conflicts")


def test_the_column_mapping_is_shown_when_a_mapping_file_names_a_missing_column(
    open_app, store_copy, zipped_shapefile, sample_plan
):
    at = open_app("upload", store=store_copy)
    at.file_uploader(key="upload_mapping_file").upload(
        "m.toml", b'[columns]\nwork_id = "Kenmerk"\n', "application/toml"
    )
    at = upload(at, "plan.zip", zipped_shapefile(sample_plan()))
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert literal("work_id = 'Kenmerk', but plan.zip has no such column") in error
    (work_id,) = [s for s in at.selectbox if s.label == "work_id"]
    assert "ID" in work_id.options
    work_id.set_value("ID")
    at.run()
    assert not at.error
    assert (metric(at, "Accepted"), metric(at, "Rejected")) == ("4", "1")


def test_unknown_values_are_warned_and_a_translation_removes_the_warning(
    open_app, store_copy, zipped_shapefile, sample_plan
):
    plan = sample_plan().assign(Sparte=["Wasser", "Utility", "Gas", "Utility", "Gas"])
    at = upload(open_app("upload", store=store_copy), "plan.zip", zipped_shapefile(plan))
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert (
        "plan.zip: discipline 'Utility' (2 rows) read as other — add it to "
        "[values.discipline] in a mapping file"
    ) in warnings
    table = _editor(at, "discipline").value
    assert table[["raw", "rows", "proposed"]].to_dict("records") == [
        {"raw": "Gas", "rows": 2, "proposed": "gas"},
        {"raw": "Utility", "rows": 2, "proposed": "other"},
        {"raw": "Wasser", "rows": 1, "proposed": "water"},
    ]
    row = int(table.index[table["raw"] == "Utility"][0])
    at.session_state[_editor(at, "discipline").key] = {
        "edited_rows": {row: {"canonical": "electricity"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not any("Utility" in w.value for w in at.warning)
    at.button(key="upload_store").click().run()
    works = open_store(store_copy).works(orgs=[ORG])
    assert sorted(works["discipline"]) == ["electricity", "electricity", "gas", "water"]


def test_a_plan_that_drops_most_works_needs_a_confirmation(
    open_app, store_copy, zipped_shapefile, sample_plan
):
    current = open_store(store_copy).works(orgs=["Helsinki Water"])
    at = open_app("upload", store=store_copy)
    at.file_uploader(key="upload_file").upload(
        "water.zip", zipped_shapefile(sample_plan()), "application/zip"
    )
    at.selectbox(key="upload_org").set_value("Helsinki Water")
    at.run()
    assert not at.exception
    changes = next(d.value for d in at.dataframe if "dropped" in d.value.columns)
    assert changes.to_dict("records") == [
        {"org": "Helsinki Water", "current": len(current), "new": 4, "added": 4,
         "dropped": len(current), "moved": 0, "geometry_changed": 0},
    ]  # fmt: skip
    assert any(f"{len(current)} of its {len(current)} current works" in w.value for w in at.warning)
    assert at.button(key="upload_store").disabled
    at.checkbox[0].check().run()
    assert not at.button(key="upload_store").disabled
    at.button(key="upload_store").click().run()
    assert not at.exception
    assert len(open_store(store_copy).works(orgs=["Helsinki Water"])) == 4


def test_every_format_of_the_command_line_is_offered(open_app, store_copy):
    from ims_geo.ingest._sources import FORMATS

    at = open_app("upload", store=store_copy)
    offered = {t.lstrip(".") for t in at.file_uploader(key="upload_file").proto.type}
    assert offered == {s.lstrip(".") for s in FORMATS}
    assert {"gml", "fgb", "zip", "gpkg", "csv", "geojson", "json"} <= offered


def test_a_broken_mapping_file_is_reported_and_the_page_reads_without_it(
    open_app, store_copy, zipped_shapefile, sample_plan
):
    at = open_app("upload", store=store_copy)
    at.file_uploader(key="upload_mapping_file").upload("m.toml", b"[columns\n", "application/toml")
    at = upload(at, "plan.zip", zipped_shapefile(sample_plan()))
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("m.toml is not a valid TOML file") and error.endswith("It is not used.")
    assert [s.label for s in at.selectbox if s.label == "work_id"] == ["work_id"]
    assert (metric(at, "Accepted"), metric(at, "Rejected")) == ("4", "1")


@pytest.mark.parametrize("name", ["killer.geojson", "nested.csv"])
def test_hostile_files_are_rejected_rows_and_the_app_lives(open_app, store_copy, name):
    # the 300-byte GeoJSON that aborted PROJ, and a WKT collection nested 100,000 deep
    import fuzz_corpus

    data = fuzz_corpus.killer_geojson() if name == "killer.geojson" else (
        fuzz_corpus.nested_collection(100_000)
    )  # fmt: skip
    at = upload(open_app("upload", store=store_copy), name, data)
    assert not at.exception and not at.error
    assert (metric(at, "Accepted"), metric(at, "Rejected")) == ("0", "1")
    (report,) = [c.value for c in at.code]
    assert ("far outside any map" in report) or ("max_geometry_depth" in report)


@pytest.mark.parametrize(("org", "drawn"), [("Gas", ["G1", "G2"]), ("Elec", []), (None, None)])
def test_the_preview_draws_what_storing_keeps_and_the_rest_dashed(
    open_app, store_copy, folium_args, org, drawn
):
    from ims_geo import maps

    plan = (
        b"work_id,org,start_date,end_date,geometry\n"
        b'G1,Gas,2030-01-01,2030-02-01,"POINT (155000 463000)"\n'
        b'G2,Gas,2030-01-01,2030-02-01,"POINT (155050 463000)"\n'
        b'W1,Water,2030-01-01,2030-02-01,"LINESTRING (155000 463010, 155100 463010)"\n'
    )
    at = open_app("upload", store=store_copy)
    at.text_input(key="upload_crs").input("EPSG:28992")
    if org is None:
        at.selectbox(key="upload_org").set_value("From the file (org column)")
        at.file_uploader(key="upload_file").upload("plan.csv", plan, "text/csv")
        at.run()
    else:
        at = upload(at, "plan.csv", plan, org=org)
    assert not at.exception, [e.value for e in at.exception]
    script = folium_args(at)["script"]
    caption = next(c.value for c in at.caption if " works drawn" in c.value)
    if org is None:  # every organisation is stored: a layer each, nothing dashed
        assert maps.feature_count(script) == 3 and caption.startswith("3 works drawn")
        assert '"Gas" : ims_layer_' in script and '"Water" : ims_layer_' in script
        return
    # the chosen organisation's works only (none when the file has none of them) ...
    assert caption.startswith(f"{len(drawn)} works drawn")
    assert f'"{org}" : ims_layer_' in script and '"Water" : ims_layer_' not in script
    for work in ("G1", "G2", "W1"):
        assert (f'"{work}"' in script) == (work in drawn), work
    # ... and the rest of the file as one dashed context feature
    assert maps.feature_count(script) == len(drawn) + 1
