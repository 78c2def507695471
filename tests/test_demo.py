"""The demo plans: generated reproducibly, committed unchanged, imported as documented."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import shapely.ops
from pyproj import CRS

from ims_geo import demo, schema
from ims_geo.conflicts import find_conflicts
from ims_geo.errors import InputError
from ims_geo.ingest import IngestResult, load_mapping, read_works
from ims_geo.store import GeoPackageStore, PlanVersion

from conftest import shared_data

STREETS = ("helsinki_osm_streets", "helsinki_streets.gpkg")
MANIFEST = json.loads((demo.DEMO_DIR / demo.MANIFEST).read_text(encoding="utf-8"))
ENTRIES = {entry["file"]: entry for entry in MANIFEST["files"]}
FILES = demo.demo_files()


# --- independent readers ------------------------------------------------------


def _shapefile_member(path: Path) -> str:
    names = [n for n in zipfile.ZipFile(path).namelist() if n.endswith(".shp")]
    assert len(names) == 1, names
    return names[0]


def _raw(path: Path, layer: str | None = None) -> pd.DataFrame:
    """A demo file's rows as they are in the file, without any mapping or validation."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        return pd.DataFrame(rows[1:], columns=rows[0])
    if path.suffix == ".zip":
        return pyogrio.read_dataframe(f"/vsizip/{path}/{_shapefile_member(path)}")
    return pyogrio.read_dataframe(path, layer=layer)


def _content(path: Path) -> dict[str, object]:
    """What a file holds: per layer its CRS, fields, values and geometries; text as text."""
    if path.suffix in (".gpkg", ".fgb", ".geojson"):
        layers = [name for name, _ in pyogrio.list_layers(path)]
        return {name: _frame_content(pyogrio.read_dataframe(path, layer=name)) for name in layers}
    if path.suffix == ".zip":
        out: dict[str, object] = {}
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.endswith((".prj", ".cpg")):
                    out[name] = zf.read(name)
        out["rows"] = _frame_content(_raw(path))
        return out
    return {"bytes": path.read_bytes()}


def _frame_content(frame: gpd.GeoDataFrame) -> dict[str, object]:
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    return {
        "crs": CRS.from_user_input(frame.crs).to_epsg(),
        "columns": list(frame.columns),
        "dtypes": [str(t) for t in attributes.dtypes],
        "values": attributes.astype(object).where(attributes.notna(), None).values.tolist(),
        "geometry": shapely.to_wkb(frame.geometry.array, hex=True).tolist(),
    }


def _expected_reason(problem: dict[str, str], org: str) -> str:
    """The reason the validation gives for a planted problem (schema's wording)."""
    value = problem["value"]
    return {
        "duplicate_id": f"duplicate work_id '{value}' for org '{org}'",
        "end_before_start": "end_date before start_date",
        "missing_geometry": "missing geometry",
        "missing_work_id": "missing work_id",
        "unparsable_date": f"unparsable start_date '{value}'",
    }[problem["problem"]]


def _read(f: demo.DemoFile) -> IngestResult:
    mapping = load_mapping(f.mapping) if f.mapping else None
    return read_works(f.path, org=f.org, layer=f.layer, mapping=mapping)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo folder generated anew from the street source."""
    out = tmp_path_factory.mktemp("fresh")
    demo.generate(out, streets=shared_data(*STREETS))
    return out


@pytest.fixture(scope="module")
def imported() -> dict[str, IngestResult]:
    """Every committed demo file read with the ingest, keyed by file name."""
    return {f.path.name: _read(f) for f in FILES}


@pytest.fixture(scope="module")
def demo_store(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[GeoPackageStore, list[tuple[PlanVersion, IngestResult]], list]]:
    """A GeoPackage store built from the committed demo files, with the progress calls."""
    path = tmp_path_factory.mktemp("store") / "demo.gpkg"
    calls: list[tuple[float, str]] = []
    with GeoPackageStore(path) as store:
        results = demo.build_demo_store(store, progress=lambda f, m: calls.append((f, m)))
        yield store, results, calls


# --- generation -------------------------------------------------------------------


def test_generate_twice_gives_byte_identical_files(fresh, tmp_path):
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    again = demo.generate(tmp_path, streets=shared_data(*STREETS))
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") == before
    assert sorted(p.name for p in again) == sorted(p.name for p in fresh.iterdir())
    for path in again:
        assert path.read_bytes() == (fresh / path.name).read_bytes(), path.name


def test_committed_files_equal_a_fresh_generation(fresh):
    generated = sorted(p.name for p in fresh.iterdir())
    committed = sorted(
        p.name for p in demo.DEMO_DIR.iterdir() if p.is_file() and p.name != "generate.py"
    )
    assert committed == generated
    for name in generated:
        assert _content(demo.DEMO_DIR / name) == _content(fresh / name), name


def test_generate_without_street_source_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "streets.gpkg"
    with pytest.raises(InputError, match=re.escape(str(missing))):
        demo.generate(tmp_path / "out", streets=missing)


def test_substrings_match_shapely_substring():
    rng = np.random.default_rng(7)
    lines = np.array(
        [shapely.LineString(np.cumsum(rng.uniform(-20, 40, size=(k, 2)), axis=0)) for k in
         (2, 3, 5, 8, 13, 21) * 5]
    )  # fmt: skip
    length = shapely.length(lines)
    a, b = np.sort(rng.uniform(0, 1, size=(2, len(lines))), axis=0) * length
    a[:3], b[:3] = 0.0, length[:3]  # whole lines
    got = demo._substrings(lines, a, b)
    want = [shapely.ops.substring(g, s, e) for g, s, e in zip(lines, a, b, strict=True)]
    assert shapely.equals_exact(got, want, tolerance=1e-9).all()


# --- the committed files --------------------------------------------------------


def test_demo_files_describe_the_committed_files():
    assert [f.path.name for f in FILES] == list(ENTRIES)
    assert len({f.org for f in FILES}) == 6
    for f in FILES:
        entry = ENTRIES[f.path.name]
        assert f.path.exists() and f.path.parent == demo.DEMO_DIR
        assert (f.org, f.cycle, f.layer) == (entry["org"], 2026, entry["layer"])
        assert (f.mapping.name if f.mapping else None) == entry["mapping"]
    suffixes = sorted(f.path.suffix for f in FILES)
    assert suffixes == [".csv", ".fgb", ".geojson", ".gpkg", ".zip", ".zip"]
    total = sum(p.stat().st_size for p in demo.DEMO_DIR.iterdir())
    assert total < 3_000_000
    readme = (demo.DEMO_DIR / "README.md").read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in readme and "ODbL" in readme


@pytest.mark.parametrize("f", FILES, ids=lambda f: f.path.name)
def test_file_crs_and_row_count_as_documented(f):
    entry = ENTRIES[f.path.name]
    raw = _raw(f.path, f.layer)
    assert len(raw) == entry["rows"]
    if f.path.suffix == ".csv":  # WKT in lon/lat: the CSV default CRS
        xy = shapely.get_coordinates(shapely.from_wkt(raw.loc[raw["WKT"] != "", "WKT"].to_numpy()))
        assert (xy[:, 0] > 24.9).all() and (xy[:, 0] < 25.0).all()
        assert (xy[:, 1] > 60.1).all() and (xy[:, 1] < 60.2).all()
    else:
        assert CRS.from_user_input(raw.crs) == CRS.from_user_input(entry["crs"])


@pytest.mark.parametrize("f", FILES, ids=lambda f: f.path.name)
def test_planted_errors_are_in_the_raw_file(f):
    raw = _raw(f.path, f.layer)
    columns = {
        ".csv": {"id": "Project_ID", "start": "Proposed_Start", "end": "Proposed_End"},
        ".zip": {"id": "tunnus", "start": "alkaa", "end": "paattyy"} if f.mapping else {},
    }.get(f.path.suffix, {})
    id_col = columns.get("id", "work_id")
    start_col, end_col = columns.get("start", "start_date"), columns.get("end", "end_date")
    for problem in ENTRIES[f.path.name]["planted_errors"]:
        row = raw.iloc[problem["row"] - 1]
        assert str(row[id_col]) == problem["work_id"]
        kind = problem["problem"]
        if kind == "duplicate_id":
            assert (raw[id_col] == problem["value"]).sum() == 2
        elif kind == "missing_geometry":
            assert row["WKT"] == "" if f.path.suffix == ".csv" else row.geometry is None
        elif kind == "end_before_start":
            start, end = (pd.to_datetime(row[c], dayfirst=True) for c in (start_col, end_col))
            assert end < start
        elif kind == "missing_work_id":
            assert row[id_col] == ""
        elif kind == "unparsable_date":
            assert row[start_col] == problem["value"] and pd.isna(
                pd.to_datetime(row[start_col], errors="coerce", dayfirst=True)
            )
        else:
            column = {"unknown_discipline": ["discipline", "Sector"], "unknown_status": ["tila"]}
            assert [row[c] for c in column[kind] if c in raw] == [problem["value"]]


@pytest.mark.parametrize("f", FILES, ids=lambda f: f.path.name)
def test_ingest_accepts_all_but_the_planted_rows(f, imported):
    entry = ENTRIES[f.path.name]
    result = imported[f.path.name]
    planted = [p for p in entry["planted_errors"] if p["problem"] not in demo.WARNED_PROBLEMS]
    warned = [p for p in entry["planted_errors"] if p["problem"] in demo.WARNED_PROBLEMS]
    assert len(result.works) == entry["rows"] - len(planted) == entry["valid"]
    assert (result.works[schema.ORG] == f.org).all()
    assert result.works[schema.WORK_ID].is_unique
    got = sorted(
        zip(result.rejected[schema.SOURCE_ROW], result.rejected[schema.REASON], strict=True)
    )
    want = sorted((p["row"], _expected_reason(p, f.org)) for p in planted)
    assert got == want
    assert (result.rejected[schema.ORG] == f.org).all()
    assert len(entry["planted_errors"]) <= 0.02 * entry["rows"]
    assert result.repaired == 0
    # an unknown discipline or status keeps the work, with the fallback and a warning
    column = {"unknown_discipline": schema.DISCIPLINE, "unknown_status": schema.STATUS}
    assert result.warnings == [
        f"{f.path.name}: {column[p['problem']]} '{p['value']}' (1 row) read as "
        f"{schema.FALLBACKS[column[p['problem']]]} — add it to [values.{column[p['problem']]}] "
        "in a mapping file"
        for p in warned
    ]
    for p in warned:
        row = result.works[result.works[schema.WORK_ID] == p["work_id"]].iloc[0]
        name = column[p["problem"]]
        assert row[name] == schema.FALLBACKS[name]
        assert row[schema.raw_column(name)] == p["value"]


def test_every_organisation_and_format_shows_its_realistic_features(imported):
    sewer = imported["helsinki_sewerage_2026.zip"].works
    titles = "".join(sewer[schema.TITLE])
    assert all(ch in titles for ch in "äöå–€")
    assert sewer[schema.WORK_ID].str.fullmatch(r"0\d{5}").all()  # leading zeros kept
    relining = sewer[schema.TITLE].str.contains("Sukkasujitus|Relining")
    assert relining.any() and not sewer.loc[relining, schema.EXCAVATION].any()

    header = next(csv.reader(demo.DEMO_DIR.joinpath("uusimaa_energy_networks_2026.csv").open()))
    aliased = [c for c in header if c not in ("Voltage_kV", "Street")]
    assert all(schema.canonical_column(c) not in (None, c) for c in aliased)
    grid = imported["uusimaa_energy_networks_2026.csv"].works
    assert set(grid[schema.DISCIPLINE]) == {"gas", "electricity"}

    fibre = next(f for f in FILES if f.mapping)
    assert schema.canonical_column("tunnus") is None
    unmapped = read_works(fibre.path, org=fibre.org)  # Finnish columns need the mapping
    assert unmapped.works.empty and len(unmapped.rejected) == ENTRIES[fibre.path.name]["rows"]
    assert set(imported[fibre.path.name].works[schema.DISCIPLINE]) == {"telecom"}

    crs = {CRS.from_user_input(e["crs"]).to_epsg() for e in MANIFEST["files"]}
    assert crs == {3067, 3879, 4326}


def test_plans_look_like_real_multi_year_plans(imported):
    works = pd.concat([r.works.to_crs(3067) for r in imported.values()], ignore_index=True)
    assert 1000 <= len(works) <= 3000
    assert works[schema.START].dt.year.between(2026, 2033).all()
    assert set(works[schema.START].dt.year) == set(range(2026, 2034))
    status = works[schema.STATUS].value_counts()
    assert status.index[0] == "planned" and status["planned"] > len(works) / 2
    assert {"idea", "committed", "cancelled", "done"} <= set(status.index)
    assert status["cancelled"] + status["done"] < 0.1 * len(works)
    flexible = (works[schema.EARLIEST] < works[schema.START]) | (
        works[schema.LATEST] > works[schema.END]
    )
    assert 0.2 < flexible.mean() < 0.6
    subsurface = works[schema.LAYER] == "subsurface"
    assert works.loc[subsurface, [schema.DEPTH_MIN, schema.DEPTH_MAX]].notna().all().all()
    sealing = schema.seals_surface(works) & ~schema.excavates(works)
    assert sealing.any() and works.loc[sealing, schema.DEPTH_MIN].isna().all()
    assert works[schema.COST].notna().mean() > 0.8 and (works[schema.COST] > 0).any()
    assert set(works.geometry.geom_type) == {"Point", "LineString", "MultiLineString", "Polygon"}
    assert len(set(works[schema.DISCIPLINE])) >= 8
    assert works.geometry.is_valid.all()


# --- the demo store and its conflicts --------------------------------------------


def test_build_demo_store_imports_one_version_per_organisation(demo_store):
    store, results, calls = demo_store
    counts = store.works().groupby(schema.ORG).size().to_dict()
    assert counts == {e["org"]: e["valid"] for e in MANIFEST["files"]}
    assert [(v.org, v.cycle, v.version, v.source) for v, _ in results] == [
        (f.org, 2026, 1, f.path.name) for f in FILES
    ]
    for version, result in results:
        entry = ENTRIES[version.source]
        assert (version.n_works, version.n_rejected) == (
            entry["valid"],
            entry["rows"] - entry["valid"],
        )
        assert len(store.rejected(version.version_id)) == entry["rows"] - entry["valid"]
        assert len(result.works) == entry["valid"]
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(calls) == len(FILES) + 1


def test_build_demo_store_without_files_says_how_to_regenerate(tmp_path):
    store = GeoPackageStore(tmp_path / "empty.gpkg")
    with pytest.raises(InputError, match="generate.py"):
        demo.build_demo_store(store, demo_dir=tmp_path / "no-demo")


def test_planted_conflicts_are_found_with_their_kind(demo_store):
    store, _, _ = demo_store
    found = find_conflicts(store.works())
    kinds = {}
    for row in found.itertuples(index=False):
        pair = frozenset([(row.org_a, row.work_id_a), (row.org_b, row.work_id_b)])
        kinds[pair] = row.kind
    planted = MANIFEST["planted_conflicts"]
    assert {p["kind"] for p in planted} == {"moratorium", "clash", "synergy"}
    for p in planted:
        assert p["org_a"] != p["org_b"]
        pair = frozenset([(p["org_a"], p["work_id_a"]), (p["org_b"], p["work_id_b"])])
        assert kinds.get(pair) == p["kind"], p
