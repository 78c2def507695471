"""``ims-geo mapping suggest``: starter mappings that import real exports unedited.

Expected counts are computed here from the raw files with plain pandas
(rows with a geometry, an id, and start/end dates that parse with end >=
start), never copied from the importer's output.
"""

from __future__ import annotations

import json
import tomllib

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from ims_geo import schema
from ims_geo.cli import main
from ims_geo.errors import ImsGeoError
from ims_geo.ingest import load_mapping, read_works
from ims_geo.ingest.suggest import propose_value, suggest_for_frame
from ims_geo.store import open_store

from conftest import ROOT, shared_data

MAPPINGS = ROOT / "data" / "mappings"


def _run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _suggest(path, tmp_path) -> tuple[dict, object]:
    out = tmp_path / f"{path.stem}.toml"
    result = _run("mapping", "suggest", path, "--out", out)
    assert result.exit_code == 0, result.output
    assert f"written to {out}" in result.stderr
    return tomllib.loads(out.read_text(encoding="utf-8")), out


def _expected(raw: pd.DataFrame, id_col: str, start: str, end: str, fmt: str | None = None) -> int:
    """Rows a correct import accepts, counted with pandas alone."""
    geometry = raw.geometry.notna() & ~raw.geometry.is_empty if hasattr(raw, "geometry") else True

    def day(col: str) -> pd.Series:
        text = raw[col].astype("string").str.strip()
        kwargs = {"format": fmt} if fmt else {"format": "ISO8601", "utc": True}
        return pd.to_datetime(text, errors="coerce", **kwargs).dt.floor("D")

    s, e = day(start), day(end)
    ids = raw[id_col].astype("string").str.strip()
    ok = geometry & s.notna() & e.notna() & (e >= s) & ids.notna() & (ids != "")
    return int((ok & ~ids.duplicated(keep=False)).sum())


CASES = [
    # folder, file, hand-written mapping, columns expected in the suggestion
    ("uk_eton_kent_roadworks_2018", "htdd_ashford_2018-06.gpkg", "uk_eton.toml",
     {"work_id": "id", "org": "responsible_org_name", "title": "description",
      "discipline": "responsible_org_sector", "start_date": "e__start_date",
      "end_date": "e__end_date", "status": "e__works_state", "emergency": "e__works_category"}),
    ("zurich_baustellen_2015", "tiefbaustelle.json", "zurich.toml",
     {"work_id": "Baunummer", "title": "Name", "start_date": "Baubeginn", "end_date": "Bauende"}),
    ("zurich_baustellen_2015", "TbaBaustellenZHWFS.gml", "zurich.toml",
     {"work_id": "gml_id", "title": "beschreibung", "start_date": "datum_baubeginn",
      "end_date": "datum_bauende", "status": "status_baustelle"}),
    ("uk_national_highways_roadworks_2020", "roadworks_points.gpkg", None,
     {"work_id": "rec_id", "title": "description", "discipline": "closureType",
      "start_date": "startDate", "end_date": "endDate", "emergency": "closureType"}),
]  # fmt: skip


@pytest.mark.realdata
@pytest.mark.parametrize(("folder", "file", "hand", "columns"), CASES, ids=[c[1] for c in CASES])
def test_suggested_mapping_imports_the_real_export_unedited(tmp_path, folder, file, hand, columns):
    path = shared_data(folder, file)
    toml, out = _suggest(path, tmp_path)
    assert toml["columns"] == columns
    raw = pyogrio.read_dataframe(path)
    fmt = "%Y%m%d" if file == "tiefbaustelle.json" else None
    expected = _expected(raw, columns["work_id"], columns["start_date"], columns["end_date"], fmt)
    org = None if "org" in columns else "Given Org"
    suggested = read_works(path, mapping=load_mapping(out), org=org)
    assert len(suggested.works) == expected
    assert len(suggested.rejected) == len(raw) - expected
    if hand is not None:
        handwritten = read_works(path, mapping=MAPPINGS / hand)
        assert len(suggested.works) >= len(handwritten.works)
    assert {
        "htdd_ashford_2018-06.gpkg": 981,
        "tiefbaustelle.json": 53,
        "TbaBaustellenZHWFS.gml": 5,
        "roadworks_points.gpkg": 1369,
    }[file] == expected


@pytest.mark.realdata
def test_suggested_mapping_for_the_eton_csv_and_its_values(tmp_path):
    path = shared_data("uk_eton_kent_roadworks_2018", "kent10.csv")
    toml, out = _suggest(path, tmp_path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    # WKT columns: the item's line/polygon first, points last
    assert toml["columns"]["geometry"] == [
        "i__location_bng", "e__location_bng", "e__location_point_bng", "i__location_point_bng",
    ]  # fmt: skip
    counts = raw["responsible_org_sector"].str.strip().value_counts().to_dict()
    assert counts == {"Highway Authority": 6, "Telecommunications": 2, "Water": 2}
    assert toml["values"]["discipline"] == {
        "Highway Authority": "road", "Telecommunications": "telecom", "Water": "water",
    }  # fmt: skip
    text = out.read_text(encoding="utf-8")
    assert '"Highway Authority" = "road"  # 6 rows; contains \'highway\'' in text
    suggested = read_works(path, mapping=load_mapping(out))
    handwritten = read_works(path, mapping=MAPPINGS / "uk_eton.toml")
    assert len(suggested.works) == len(handwritten.works) == 10
    assert suggested.warnings == []


@pytest.mark.realdata
def test_eton_suggestion_lists_every_status_and_stores_each_promoters_plan(tmp_path):
    path = shared_data("uk_eton_kent_roadworks_2018", "htdd_ashford_2018-06.gpkg")
    toml, out = _suggest(path, tmp_path)
    raw = pyogrio.read_dataframe(path)
    states = raw["e__works_state"].str.strip()
    states = states[states != ""].value_counts().to_dict()
    assert states == {
        "Work completed": 709, "Work cancelled": 216, "Work in progress": 30,
        "Planned work about to start": 14, "Forward planning": 11,
    }  # fmt: skip
    assert toml["values"]["status"] == {
        "Work completed": "done", "Work cancelled": "cancelled", "Work in progress": "in_progress",
        "Planned work about to start": "planned", "Forward planning": "planned",
    }  # fmt: skip
    # imported unedited through the CLI: one plan version per promoter
    store = tmp_path / "s.gpkg"
    result = _run("import", path, "--mapping", out, "--store", store, "--cycle", 2018)
    assert result.exit_code == 0, result.output
    works = open_store(store).works()
    per_org = works.groupby(schema.ORG).size().to_dict()
    assert per_org == raw["responsible_org_name"].value_counts().to_dict()
    assert works[schema.STATUS].value_counts().to_dict() == {
        "done": 709, "cancelled": 216, "in_progress": 30, "planned": 26,
    }  # fmt: skip
    # the EToN category marks immediate (urgent / emergency) works for the conflict rules
    category = raw["e__works_category"].str.strip()
    immediate = int(category.str.startswith("Immediate").sum())
    assert immediate == 271
    assert toml["values"]["emergency"]["Immediate - Urgent"] is True
    assert toml["values"]["emergency"]["Minor"] is False
    assert int(works["emergency"].astype(bool).sum()) == immediate


def test_suggestion_from_a_frame_built_in_code():
    frame = pd.DataFrame(
        {
            "Projektnummer": ["001", "002", "003", "004"],
            "Träger": ["Stadt", "Stadt", "EWZ", "EWZ"],
            "WorkType": ["Kanal", "kanal ", "Strom", "Utility"],
            "Beginn": ["31/12/2027 10:00", "01.02.2027", "12/31/2027", "2027-03-01"],
            "Ende": ["31.12.2028"] * 4,
            "Zustand": ["geplant", "in preparation", "in Ausführung", "Geplant"],
            "geometry": ["POINT (8.5 47.3)"] * 4,
        }
    )
    s = suggest_for_frame(frame, name="plan.csv", text_geometry=True)
    assert s.columns == {
        "work_id": ["Projektnummer"], "org": ["Träger"], "discipline": ["WorkType"],
        "start_date": ["Beginn"], "end_date": ["Ende"], "status": ["Zustand"],
        "geometry": ["geometry"],
    }  # fmt: skip
    # "31/12/2027 10:00" and "01.02.2027" and ISO are built in; month-first needs a format
    assert s.date_format == ("%m/%d/%Y",)
    table = s.values["discipline"]
    assert table.to_dict("records") == [
        {"raw": "Kanal", "rows": 2, "proposed": "sewer", "why": "known value"},
        {"raw": "Strom", "rows": 1, "proposed": "electricity", "why": "known value"},
        {"raw": "Utility", "rows": 1, "proposed": "other", "why": "no match: the fallback"},
    ]
    assert s.values["status"][["raw", "rows", "proposed"]].to_dict("records") == [
        {"raw": "geplant", "rows": 2, "proposed": "planned"},
        {"raw": "in Ausführung", "rows": 1, "proposed": "in_progress"},
        {"raw": "in preparation", "rows": 1, "proposed": "planned"},
    ]
    mapping = s.mapping()
    assert mapping.values["status"]["in preparation"] == "planned"
    assert tomllib.loads(s.to_toml()) == s.to_dict()


@pytest.mark.parametrize(
    ("column", "raw", "proposed"),
    [
        ("discipline", "Highway Authority", "road"),
        ("discipline", "Rail ", "transit"),
        ("discipline", "Water main renewal", "water"),
        ("discipline", "Utility", "other"),
        ("status", "Work in progress", "in_progress"),
        ("status", "Forward planning", "planned"),
        ("status", "aktiv (Bauzeit)", "in_progress"),
        ("visibility", "Öffentlich", "public"),
        ("excavation", "MINOR WITH EXCAVATION", True),
        ("excavation", "ja", True),
    ],
)
def test_proposed_values(column, raw, proposed):
    assert propose_value(column, raw)[0] == proposed


def test_a_json_object_of_several_record_lists_is_read_raw_by_its_first_list_or_the_one_named():
    from ims_geo.ingest.suggest import read_raw

    tables = {
        "planned": [{"Kenmerk": "P1", "Beheerder": "Waternet"}, {"Kenmerk": "P2"}],
        "done": [{"Nummer": "D1"}],
    }
    data = json.dumps(tables).encode()
    first, text, label = read_raw(data, name="plans.json")
    assert text
    assert first.columns.tolist()[:2] == ["Kenmerk", "Beheerder"]
    assert first["Kenmerk"].tolist() == ["P1", "P2"]
    named, _, _ = read_raw(data, name="plans.json", layer="done")
    assert named["Nummer"].tolist() == ["D1"]
    with pytest.raises(ImsGeoError, match="layer"):
        read_raw(data, name="plans.json", first_layer=False)
