"""Reading real third-party works data with the mapping files in data/mappings.

The expected numbers are computed here with plain pandas/geopandas over the
raw files (see each folder's SOURCE.md in ../shared/data), never copied from
the output of the importer.
"""

from __future__ import annotations

import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from ims_geo import schema
from ims_geo.ingest import Mapping, load_mapping, read_many, read_works

from conftest import ROOT, shared_data

pytestmark = pytest.mark.realdata

UK_TOML = ROOT / "data" / "mappings" / "uk_eton.toml"
ZURICH_TOML = ROOT / "data" / "mappings" / "zurich.toml"
ENGINES = ["pyogrio", "fiona"]


def _toml(path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _lookup(values: pd.Series, table: dict[str, str]) -> pd.Series:
    """The mapping's [values] table applied by hand: trimmed, case-insensitive, else as is."""
    folded = {k.strip().casefold(): v for k, v in table.items()}
    return pd.Series([folded.get(str(v).strip().casefold(), v) for v in values], index=values.index)


def _uk_expected(raw: pd.DataFrame, geoms: gpd.GeoSeries, work_id: str = "item_id") -> pd.Series:
    """Per raw row: would the uk_eton mapping accept it? (rules of DESIGN.md §2, by hand)."""
    toml = _toml(UK_TOML)
    org = _lookup(raw["responsible_org_name"], toml["values"]["org"])
    sector = raw["responsible_org_sector"].str.strip().str.casefold()
    known = {k.casefold() for k in toml["values"]["discipline"]}
    known |= set(schema.DISCIPLINES) | set(schema.DISCIPLINE_ALIASES)
    start = pd.to_datetime(raw["i__start_date"], errors="coerce").dt.normalize()
    end = pd.to_datetime(raw["i__end_date"], errors="coerce").dt.normalize()
    ids = raw[work_id].astype(str).str.strip()
    bad = (
        geoms.isna().to_numpy()
        | geoms.is_empty.to_numpy()
        | start.isna().to_numpy()
        | end.isna().to_numpy()
        | (end < start).to_numpy()
        | (ids == "").to_numpy()
        | pd.DataFrame({"o": org, "i": ids}).duplicated(keep=False).to_numpy()
        | ~sector.isin(known).to_numpy()
    )
    return pd.Series(~bad, index=raw.index)


# --- UK: EToN street works, Ashford (GeoPackage) and Kent (CSV with EWKT) ------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_uk_eton_geopackage(engine):
    path = shared_data("uk_eton_kent_roadworks_2018", "htdd_ashford_2018-06.gpkg")
    raw = gpd.read_file(path, layer="htdd_ashford")
    assert len(raw) == 981  # SOURCE.md
    accepted = _uk_expected(raw, raw.geometry)

    result = read_works(path, mapping=UK_TOML, engine=engine)
    works = result.works
    assert len(works) == accepted.sum() == 981
    assert len(result.rejected) == (~accepted).sum() == 0
    assert result.crs.to_epsg() == 27700  # British National Grid: already metric, kept

    ok = raw[accepted.to_numpy()].reset_index(drop=True)
    assert works[schema.WORK_ID].tolist() == ok["item_id"].astype(str).tolist()
    assert works.geometry.geom_equals_exact(ok.geometry, tolerance=1e-6).all()
    start = pd.to_datetime(ok["i__start_date"]).dt.normalize()
    assert (works[schema.START] == start).all()

    sector = ok["responsible_org_sector"].str.strip()
    expected_disciplines = {
        "road": (sector == "Highway Authority").sum(),
        "water": (sector == "Water").sum(),
        "telecom": (sector == "Telecommunications").sum(),
        "electricity": (sector == "Electricity").sum(),
        "gas": (sector == "Gas").sum(),
        "transit": (sector == "Rail").sum(),
    }
    assert works[schema.DISCIPLINE].value_counts().to_dict() == expected_disciplines
    subsurface = ok["responsible_org_sector"].str.strip() != "Highway Authority"
    subsurface &= ok["responsible_org_sector"].str.strip() != "Rail"
    assert (works[schema.LAYER] == "subsurface").sum() == subsurface.sum()

    state = ok["e__works_state"]
    assert (works[schema.STATUS] == "cancelled").sum() == (state == "Work cancelled").sum() == 216
    assert (works[schema.STATUS] == "done").sum() == (state == "Work completed").sum()
    assert (works[schema.STATUS] == "planned").sum() == state.isin(["Forward planning", ""]).sum()

    # both spellings of the county council are one organisation
    kcc = ok["responsible_org_name"].str.casefold() == "kent county council"
    assert (works[schema.ORG] == "Kent County Council").sum() == kcc.sum() == 529
    assert (works[schema.VISIBILITY] == "public").all()
    assert works["category"].tolist() == ok["e__works_category"].tolist()
    assert works["works_ref"].tolist() == ok["works_ref"].tolist()
    assert "e__impact_score" not in works  # keep_extras = false


def test_uk_eton_works_ref_as_id_rejects_the_repeated_reference():
    path = shared_data("uk_eton_kent_roadworks_2018", "htdd_ashford_2018-06.gpkg")
    raw = gpd.read_file(path, layer="htdd_ashford")
    toml = _toml(UK_TOML)
    mapping = Mapping.from_dict(
        {**toml, "columns": {**toml["columns"], "work_id": "works_ref"}}, source="variant"
    )
    accepted = _uk_expected(raw, raw.geometry, work_id="works_ref")
    result = read_works(path, mapping=mapping)
    assert len(result.works) == accepted.sum()
    # one Highways England works with 4 items, and the one traffic-management row without a ref
    assert len(result.rejected) == (~accepted).sum() == 5
    org = _lookup(raw["responsible_org_name"], toml["values"]["org"])
    blank = raw["works_ref"].str.strip() == ""
    expected = {
        f"duplicate work_id '{w}' for org '{o}'"
        for w, o in zip(raw["works_ref"][~accepted & ~blank], org[~accepted & ~blank], strict=True)
    }
    expected |= {"missing work_id"} if blank.any() else set()
    assert set(result.rejected[schema.REASON]) == expected
    assert sorted(result.rejected[schema.SOURCE_ROW]) == list(np.flatnonzero(~accepted) + 1)
    assert "missing work_id: 1" in result.report()
    assert "duplicate work_id for org: 4" in result.report()


def _kent10() -> tuple[pd.DataFrame, gpd.GeoSeries]:
    raw = pd.read_csv(shared_data("uk_eton_kent_roadworks_2018", "kent10.csv"), dtype=str)
    ewkt = raw["i__location_bng"].fillna(raw["i__location_point_bng"])
    assert ewkt.str.startswith("SRID=27700;").all()
    geoms = gpd.GeoSeries(shapely.from_wkt(ewkt.str.split(";", n=1).str[1]), crs=27700)
    return raw, geoms


def test_uk_eton_csv_with_ewkt():
    raw, geoms = _kent10()
    accepted = _uk_expected(raw, geoms)
    result = read_works(shared_data("uk_eton_kent_roadworks_2018", "kent10.csv"), mapping=UK_TOML)
    works = result.works
    assert len(works) == accepted.sum() == 10
    assert result.rejected.empty
    assert works.crs.to_epsg() == 27700
    assert works[schema.WORK_ID].tolist() == raw["item_id"].tolist()
    assert works.geometry.geom_equals_exact(geoms, tolerance=1e-6).all()
    assert works.geom_type.value_counts().to_dict() == geoms.geom_type.value_counts().to_dict()
    assert (works[schema.STATUS] == "cancelled").sum() == (
        raw["e__works_state"] == "Work cancelled"
    ).sum()
    assert works[schema.END].tolist() == pd.to_datetime(raw["i__end_date"]).dt.normalize().tolist()


def test_uk_eton_geopackage_and_csv_together():
    gpkg = shared_data("uk_eton_kent_roadworks_2018", "htdd_ashford_2018-06.gpkg")
    csv = shared_data("uk_eton_kent_roadworks_2018", "kent10.csv")
    raw_gpkg = gpd.read_file(gpkg, layer="htdd_ashford")
    raw_csv, _ = _kent10()
    orgs = _toml(UK_TOML)["values"]["org"]
    keys_gpkg = set(
        zip(
            _lookup(raw_gpkg["responsible_org_name"], orgs),
            raw_gpkg["item_id"].astype(str),
            strict=True,
        )
    )
    keys_csv = list(
        zip(_lookup(raw_csv["responsible_org_name"], orgs), raw_csv["item_id"], strict=True)
    )
    both = keys_gpkg & set(keys_csv)
    in_gpkg = sum(
        k in both
        for k in zip(
            _lookup(raw_gpkg["responsible_org_name"], orgs),
            raw_gpkg["item_id"].astype(str),
            strict=True,
        )
    )
    in_csv = sum(k in both for k in keys_csv)

    result = read_many([gpkg, csv], mapping=load_mapping(UK_TOML))
    assert result.crs.to_epsg() == 27700
    assert len(result.rejected) == in_gpkg + in_csv == 2
    assert len(result.works) == len(raw_gpkg) + len(raw_csv) - in_gpkg - in_csv
    assert result.rejected[schema.REASON].str.contains("in several files").all()
    assert sorted(result.rejected[schema.SOURCE_FILE]) == [
        "htdd_ashford_2018-06.gpkg",
        "kent10.csv",
    ]


# --- Switzerland: City and Canton of Zurich construction sites --------------------------------


def _keyword_oracle(text: str, rules: dict[str, str]) -> str:
    """The first [keywords] entry contained in ``text`` (case-insensitive), by brute force."""
    for keyword, value in rules.items():
        if keyword.casefold() in text.casefold():
            return value
    return text


@pytest.mark.parametrize("engine", ENGINES)
def test_zurich_city_and_canton_in_one_working_crs(engine):
    city_path = shared_data("zurich_baustellen_2015", "tiefbaustelle.json")
    canton_path = shared_data("zurich_baustellen_2015", "TbaBaustellenZHWFS.gml")
    city = gpd.read_file(city_path)
    canton = gpd.read_file(canton_path)
    assert (len(city), len(canton)) == (53, 5)  # SOURCE.md
    toml = _toml(ZURICH_TOML)

    start = pd.to_datetime(city["Baubeginn"], format="%Y%m%d", errors="coerce")
    end = pd.to_datetime(city["Bauende"], format="%Y%m%d", errors="coerce")
    city_ok = (
        start.notna()
        & end.notna()
        & (end >= start)
        & city["Baunummer"].str.strip().ne("")
        & ~city["Baunummer"].duplicated(keep=False)
        & ~city.geometry.is_empty
        & city.geometry.notna()
    )
    canton_ok = (
        (canton["datum_bauende"] >= canton["datum_baubeginn"])
        & ~canton["gml_id"].duplicated(keep=False)
        & ~canton.geometry.is_empty
    )

    result = read_many([city_path, canton_path], mapping=ZURICH_TOML, engine=engine)
    works = result.works
    assert result.crs.to_epsg() == 2056  # Swiss LV95 for both EPSG:4326 and EPSG:21781 inputs
    assert len(works) == city_ok.sum() + canton_ok.sum() == 58
    assert len(result.rejected) == (~city_ok).sum() + (~canton_ok).sum() == 0

    is_city = works[schema.ORG] == toml["defaults"]["org"]
    assert is_city.sum() == city_ok.sum()
    assert (works.loc[~is_city, schema.ORG] == "Kanton Zürich, Tiefbauamt").all()
    # project numbers keep their leading zeros ("05090", "00321")
    assert works.loc[is_city, schema.WORK_ID].tolist() == city.loc[city_ok, "Baunummer"].tolist()
    assert works.loc[is_city, schema.START].tolist() == start[city_ok].tolist()

    rules = toml["keywords"]["discipline"]
    expected = [_keyword_oracle(t, rules) for t in city["Projektbeschrieb"]]
    expected += [_keyword_oracle(t, rules) for t in canton["beschreibung"]]
    assert works[schema.DISCIPLINE].tolist() == expected
    cancelled = city["Projektbeschrieb"].str.contains("nicht realisiert", case=False).sum()
    assert (works[schema.STATUS] == "cancelled").sum() == cancelled == 1
    canton_status = canton["status_baustelle"].map(toml["values"]["status"])
    assert works.loc[~is_city, schema.STATUS].tolist() == canton_status.tolist()

    # areas in the working CRS are true square metres: compare with geodesic areas
    geod = Geod(ellps="WGS84")
    geodesic = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in city.geometry])
    planar = works.loc[is_city].geometry.area.to_numpy()
    assert np.allclose(planar, geodesic, rtol=1e-3)
    assert "ansprechperson" not in works and "Tel" not in works  # personal data dropped
    assert works.loc[is_city, "descr"].tolist() == city["Projektbeschrieb"].tolist()


def test_the_national_highways_points_of_all_england_stay_on_the_british_grid():
    """A feed over all of England in EPSG:27700 is measured in it, not in UTM 30N."""
    path = shared_data("uk_national_highways_roadworks_2020", "roadworks_points.gpkg")
    raw = gpd.read_file(path)
    assert raw.crs.to_epsg() == 27700 and raw.to_crs(4326).total_bounds[2] < 1.8
    mapping = Mapping(columns={"work_id": "rec_id"}, defaults={"org": "Highways England"})
    result = read_works(path, mapping=mapping)
    assert result.works.crs.to_epsg() == 27700
    assert len(result.works) == len(raw)
