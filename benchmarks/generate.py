"""Seeded regional data sets of planned street works for the benchmarks.

A region is made of copies of one real street network laid side by side
(tiles): the OpenStreetMap streets of central Helsinki
(``../shared/data/helsinki_osm_streets/helsinki_streets.gpkg``, © OpenStreetMap
contributors, ODbL), reprojected to EPSG:3067 (ETRS-TM35FIN). When that file
is absent a synthetic street grid of the same extent is used instead, and
:attr:`Streets.source` says so.

Eight organisations plan works over five years (2027-2031): one road
authority that resurfaces or rebuilds streets (``road``/``surface``: it
seals the surface) and seven utilities that excavate (sewer, water,
district heat, gas, electricity and two telecom networks). A road work is
the street segment itself; a utility work is a trench along the segment
(a line shifted a few metres off the centreline, as cables and pipes lie
under the footway) or an excavation pit (a rotated rectangle of a few
metres on the segment). Works prefer main streets, start mostly in the
construction season and carry every canonical column, so
:func:`ims_geo.conflicts.find_conflicts` and the programme proposer run on
them as they come out of the GeoPackage.

Everything is vectorised numpy/shapely; the same ``(n, seed)`` and the
same street file give the same works, row for row.

Run ``python benchmarks/generate.py --size 100000 --out works.gpkg`` to
write one data set.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ims_geo import schema as s

ROOT = Path(__file__).resolve().parents[1]
#: The real street network the regions are tiled from.
STREETS_FILE = ROOT.parent / "shared" / "data" / "helsinki_osm_streets" / "helsinki_streets.gpkg"
STREETS_LAYER = "streets"
#: ETRS-TM35FIN, the Finnish national grid (metres).
CRS = "EPSG:3067"
#: Generated works per tile; one tile is one copy of the street network.
WORKS_PER_TILE = 2_500
#: Empty space between tiles, in metres.
TILE_GAP = 100.0
#: Bumped whenever the generator changes, so cached files are regenerated.
VERSION = 1
#: The denser data set of the benchmarks: 2.5 times the works per tile.
DENSE = 2.5

HORIZON_START = np.datetime64("2027-01-01", "D")
HORIZON_DAYS = 5 * 365 + 1  # 2027-01-01 .. 2031-12-31

# Highway classes that are never dug in as streets (indoor, stairs, tracks).
_EXCLUDED_HIGHWAYS = frozenset({"steps", "elevator", "corridor", "platform", "trail", "path"})
# How likely a street of a class carries works (main streets are busiest).
_HIGHWAY_WEIGHT = {
    "primary": 3.0, "primary_link": 2.0, "secondary": 3.0, "tertiary": 2.5,
    "tertiary_link": 2.0, "residential": 2.0, "unclassified": 2.0, "living_street": 1.5,
    "pedestrian": 1.5, "service": 1.0, "footway": 0.6, "cycleway": 0.6,
}  # fmt: skip


@dataclass(frozen=True)
class Org:
    """One organisation of the generated region."""

    name: str
    code: str
    discipline: str
    share: float  # of all works
    pit_share: float  # of its works that are excavation pits (polygons)
    depth: tuple[float, float]  # typical depth range below the surface, metres
    duration: tuple[int, int]  # days of a line work (pits last 1-21 days)
    cost_per_m: float  # euros per metre of a line work


ORGS: tuple[Org, ...] = (
    Org("City Streets", "STR", "road", 0.20, 0.0, (np.nan, np.nan), (20, 150), 400.0),
    Org("Sewer Utility", "SEW", "sewer", 0.10, 0.35, (2.0, 4.0), (20, 120), 1200.0),
    Org("Water Supply", "WAT", "water", 0.12, 0.45, (1.5, 2.2), (10, 90), 700.0),
    Org("District Heat", "DHN", "heat", 0.10, 0.35, (1.0, 1.8), (20, 120), 1500.0),
    Org("Gas Network", "GAS", "gas", 0.08, 0.50, (0.8, 1.2), (10, 60), 500.0),
    Org("Power Grid", "PWR", "electricity", 0.16, 0.45, (0.6, 1.0), (10, 60), 350.0),
    Org("Fibre Net", "FIB", "telecom", 0.14, 0.40, (0.4, 0.8), (5, 45), 150.0),
    Org("Telecom Cable", "TEL", "telecom", 0.10, 0.40, (0.4, 0.8), (5, 45), 150.0),
)
ROAD_AUTHORITY = ORGS[0].name
_KIND_WORDS = {
    "road": "resurfacing", "sewer": "sewer renewal", "water": "water main",
    "heat": "district heat pipe", "gas": "gas main", "electricity": "cable",
    "telecom": "fibre duct",
}  # fmt: skip


@dataclass(frozen=True)
class Streets:
    """The street network one tile is made of, in :data:`CRS`."""

    segments: np.ndarray  # shapely LineStrings
    names: np.ndarray  # street names ("" when unnamed)
    weights: np.ndarray  # relative chance that a work is on a segment
    bounds: tuple[float, float, float, float]
    #: What the network is: the file it came from, or the synthetic fallback.
    source: str


def load_streets(path: Path | str | None = STREETS_FILE) -> Streets:
    """The street segments of one tile, from ``path`` or a synthetic grid.

    Parameters
    ----------
    path
        GeoPackage with a ``streets`` layer of OSM lines (``highway`` and
        ``name`` columns). When it is None or does not exist, a synthetic
        grid of streets of the same extent as central Helsinki is used.
    """
    if path is None or not Path(path).exists():
        return _synthetic_grid(f"synthetic street grid ({path} not found)")
    frame = gpd.read_file(path, layer=STREETS_LAYER, engine="pyogrio").to_crs(CRS)
    highway = frame["highway"].astype("string").fillna("")
    keep = ~highway.isin(_EXCLUDED_HIGHWAYS).to_numpy() & (frame.length.to_numpy() > 1.0)
    frame = frame.loc[keep].reset_index(drop=True)
    weights = highway[keep].map(_HIGHWAY_WEIGHT).fillna(0.5).to_numpy(dtype=float)
    geoms = frame.geometry.to_numpy()
    return Streets(
        segments=geoms,
        names=frame["name"].astype("string").fillna("").to_numpy(dtype=object),
        weights=weights / weights.sum(),
        bounds=tuple(float(v) for v in shapely.total_bounds(geoms)),
        source=f"{Path(path).name} (OpenStreetMap, {len(geoms)} segments, EPSG:3067)",
    )


def _synthetic_grid(source: str) -> Streets:
    """Streets every 80 m on a 1,040 m x 1,680 m block, cut at the crossings."""
    step = 80.0
    xs = np.arange(0.0, 1040.0 + 1, step)
    ys = np.arange(0.0, 1680.0 + 1, step)
    # horizontal segments (x0..x0+step at y) and vertical ones
    hx, hy = np.meshgrid(xs[:-1], ys)
    vx, vy = np.meshgrid(xs, ys[:-1])
    start = np.concatenate([np.c_[hx.ravel(), hy.ravel()], np.c_[vx.ravel(), vy.ravel()]])
    end = start + np.concatenate(
        [np.tile([step, 0.0], (hx.size, 1)), np.tile([0.0, step], (vx.size, 1))]
    )
    origin = np.array([385_000.0, 6_671_000.0])
    coords = np.stack([start, end], axis=1) + origin
    geoms = shapely.linestrings(coords)
    weights = np.full(len(geoms), 1.0 / len(geoms))
    names = np.array([""] * len(geoms), dtype=object)
    return Streets(geoms, names, weights, tuple(shapely.total_bounds(geoms)), source)


def _tile_offsets(n_tiles: int, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """Translation of each tile: a near-square grid of copies, TILE_GAP apart."""
    width = bounds[2] - bounds[0] + TILE_GAP
    height = bounds[3] - bounds[1] + TILE_GAP
    cols = int(np.ceil(np.sqrt(n_tiles * height / width)))
    index = np.arange(n_tiles)
    return np.c_[(index % cols) * width, (index // cols) * height]


def _shift(geoms: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Translate every geometry by its own (dx, dy)."""
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    return shapely.set_coordinates(geoms.copy(), coords + offsets[owner])


def _pits(segments: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotated rectangles (1.5-5 m x 3-10 m) centred on a random point of each segment."""
    n = len(segments)
    length = shapely.length(segments)
    at = rng.random(n) * length
    centre = shapely.get_coordinates(shapely.line_interpolate_point(segments, at))
    ahead = shapely.get_coordinates(
        shapely.line_interpolate_point(segments, np.minimum(at + 0.5, length))
    )
    behind = shapely.get_coordinates(
        shapely.line_interpolate_point(segments, np.maximum(at - 0.5, 0))
    )
    along = ahead - behind
    norm = np.hypot(along[:, 0], along[:, 1])
    along = np.where(norm[:, None] > 0, along / np.where(norm > 0, norm, 1)[:, None], [1.0, 0.0])
    across = np.c_[-along[:, 1], along[:, 0]]
    half_len = rng.uniform(1.5, 5.0, n)[:, None] * along
    half_wid = rng.uniform(0.75, 2.5, n)[:, None] * across
    ring = np.stack(
        [
            centre - half_len - half_wid,
            centre + half_len - half_wid,
            centre + half_len + half_wid,
            centre - half_len + half_wid,
            centre - half_len - half_wid,
        ],
        axis=1,
    )
    return shapely.polygons(ring)


def _dates(n: int, rng: np.random.Generator, duration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start mostly in the season (April-October) of one of the five years; end inclusive."""
    year = rng.integers(0, 5, n)
    in_season = rng.random(n) < 0.8
    day = np.where(in_season, rng.integers(90, 290, n), rng.integers(0, 365, n))
    start = HORIZON_START + (year * 365 + day).astype("timedelta64[D]")
    last = HORIZON_START + np.timedelta64(HORIZON_DAYS - 1, "D")
    end = np.minimum(start + (duration - 1).astype("timedelta64[D]"), last)
    return start, end


def generate(
    n: int, *, seed: int = 0, streets: Streets | None = None, density: float = 1.0
) -> gpd.GeoDataFrame:
    """Planned works of eight organisations over five years on a tiled street network.

    Parameters
    ----------
    n
        Number of works.
    seed
        Seed of the random generator; the same seed gives the same works.
    streets
        Street network of one tile (default: :func:`load_streets`).
    density
        Works per tile as a multiple of :data:`WORKS_PER_TILE` (default 1):
        ``density=2.5`` puts 6,250 works on each copy of the network, so the
        same ``n`` covers 2.5 times less ground and every work has about 2.5
        times as many neighbours (see :data:`DENSE`).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per work with the canonical columns (see
        :mod:`ims_geo.schema`) in EPSG:3067, ordered by organisation and
        ``work_id``: dates ``datetime64[s]``, ``excavation`` bool, depths and
        cost float64. ``street`` (the OSM name) and ``tile`` are extra columns.

    Examples
    --------
    >>> works = generate(1_000, seed=1)
    >>> sorted(works["org"].unique())[:2]
    ['City Streets', 'District Heat']
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not density > 0:
        raise ValueError(f"density must be > 0, got {density}")
    streets = streets if streets is not None else load_streets()
    rng = np.random.default_rng(seed)
    n_tiles = max(1, int(np.ceil(n / works_per_tile(density))))

    shares = np.array([o.share for o in ORGS])
    org_ix = np.sort(rng.choice(len(ORGS), size=n, p=shares / shares.sum()))
    tile = rng.integers(0, n_tiles, n)
    seg = rng.choice(len(streets.segments), size=n, p=streets.weights)

    pit_share = np.array([o.pit_share for o in ORGS])[org_ix]
    is_pit = rng.random(n) < pit_share
    is_road = org_ix == 0
    base = streets.segments[seg]

    geoms = base.copy()
    if is_pit.any():
        geoms[is_pit] = _pits(base[is_pit], rng)
    # utility trenches lie under the footway: shift them 1.5-6 m off the centreline
    trench = ~is_pit & ~is_road
    angle = rng.uniform(0, 2 * np.pi, n)
    offset = rng.uniform(1.5, 6.0, n)
    offsets = np.c_[offset * np.cos(angle), offset * np.sin(angle)] * trench[:, None]
    offsets = offsets + _tile_offsets(n_tiles, streets.bounds)[tile]
    geoms = _shift(geoms, offsets)

    lo, hi = np.array([o.duration for o in ORGS]).T
    duration = np.where(is_pit, rng.integers(1, 22, n), rng.integers(lo[org_ix], hi[org_ix] + 1))
    start, end = _dates(n, rng, duration)

    status = rng.choice(np.array(["committed", "planned", "idea"]), size=n, p=[0.3, 0.55, 0.15])
    flexible = status != "committed"
    slack_before = (rng.integers(0, 366, n) * flexible).astype("timedelta64[D]")
    slack_after = (rng.integers(0, 366, n) * flexible).astype("timedelta64[D]")

    d_lo, d_hi = np.array([o.depth for o in ORGS]).T
    depth_min = d_lo[org_ix] + rng.random(n) * 0.3
    depth_max = np.maximum(depth_min + 0.2, d_hi[org_ix] - rng.random(n) * 0.3)

    rate = np.array([o.cost_per_m for o in ORGS])[org_ix]
    cost = np.where(
        is_pit,
        rng.uniform(5_000, 30_000, n),
        shapely.length(base) * rate * rng.uniform(0.8, 1.25, n),
    )
    discipline = np.array([o.discipline for o in ORGS])[org_ix]
    # a sixth of the road authority's works rebuild the street: they seal and excavate
    excavation = ~is_road | (rng.random(n) < 1 / 6)

    codes = np.array([o.code for o in ORGS])[org_ix]
    counter = np.arange(n) - np.searchsorted(org_ix, org_ix)  # 0.. within each org
    work_id = (
        pd.Series(codes, dtype="str") + "-" + pd.Series(counter + 1).astype("str").str.zfill(7)
    )
    street = pd.Series(streets.names[seg], dtype="str")
    kind = pd.Series(discipline, dtype="str").map(_KIND_WORDS)
    kind = kind.where(~is_pit, "excavation pit")
    kind = kind.where(~(is_road & excavation), "street reconstruction")
    title = kind + " " + street.where(street != "", "unnamed street")

    frame = pd.DataFrame(
        {
            s.WORK_ID: work_id,
            s.ORG: pd.Series(np.array([o.name for o in ORGS])[org_ix], dtype="str"),
            s.TITLE: title.astype("str"),
            s.DISCIPLINE: pd.Series(discipline, dtype="str"),
            s.LAYER: pd.Series(np.where(is_road, "surface", "subsurface"), dtype="str"),
            s.START: start.astype("datetime64[s]"),
            s.END: end.astype("datetime64[s]"),
            s.EARLIEST: (start - slack_before).astype("datetime64[s]"),
            s.LATEST: (end + slack_after).astype("datetime64[s]"),
            s.EXCAVATION: excavation,
            s.DEPTH_MIN: np.where(is_road, np.nan, depth_min.round(2)),
            s.DEPTH_MAX: np.where(is_road, np.nan, depth_max.round(2)),
            s.STATUS: pd.Series(status, dtype="str"),
            s.COST: cost.round(-2),
            s.VISIBILITY: pd.Series(
                np.where(rng.random(n) < 0.9, "partners", "public"), dtype="str"
            ),
            "street": street,
            "tile": tile.astype("int32"),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=CRS), crs=CRS)


def works_per_tile(density: float = 1.0) -> int:
    """Works generated on one copy of the street network at ``density``."""
    return max(1, round(WORKS_PER_TILE * density))


def write(works: gpd.GeoDataFrame, path: Path | str, layer: str = "works") -> Path:
    """Write works to a GeoPackage with real DATE fields (the way a planning office would)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = works.copy()
    for col in s.DATE_COLUMNS:
        out[col] = out[col].dt.date
    if path.exists():
        path.unlink()
    out.to_file(path, layer=layer, driver="GPKG", engine="pyogrio", use_arrow=True)
    return path


def dataset(
    n: int,
    *,
    seed: int = 0,
    directory: Path | str,
    streets: Streets | None = None,
    density: float = 1.0,
) -> Path:
    """Path of the GeoPackage with ``n`` works for ``seed``, generated when not cached."""
    dense = "" if density == 1.0 else f"_density{density:g}"
    path = Path(directory) / f"works_{n}_seed{seed}{dense}_v{VERSION}.gpkg"
    if not path.exists():
        tmp = path.with_suffix(".partial.gpkg")
        write(generate(n, seed=seed, streets=streets, density=density), tmp)
        tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: write one generated data set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="number of works")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--density",
        type=float,
        default=1.0,
        help=f"works per tile as a multiple of {WORKS_PER_TILE:,} (the dense set: {DENSE:g})",
    )
    parser.add_argument("--streets", type=Path, default=STREETS_FILE, help="street GeoPackage")
    parser.add_argument("--out", type=Path, required=True, help="GeoPackage to write")
    args = parser.parse_args(argv)
    streets = load_streets(args.streets)
    works = generate(args.size, seed=args.seed, streets=streets, density=args.density)
    write(works, args.out)
    print(f"{len(works)} works on {streets.source} written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
