"""The pairs task solved by ims_geo and by the tools a GIS engineer reaches for.

The task: every unordered pair of works of *different* organisations whose
geometries lie within ``distance`` metres of each other (distance <= D) and
whose periods are at most ``window_days`` apart, gap = max(start) -
min(end) in days <= window (gap <= 0 means they share a day). Every method
reads the works from the same GeoPackage and returns the pairs as row
positions in the file, so the results can be compared pair for pair.

Each method imports its libraries first (not timed), then times its
phases with :class:`Clock`; ``seconds`` is the sum of the phases, from
opening the file to having every pair in memory as row positions (numpy
arrays or a list of tuples).

Methods
-------
floor
    read (pyogrio, Arrow) + build a shapely STRtree + query it with the
    envelopes grown by D: the cheapest possible candidate search, not an
    answer (its count is of candidate pairs).
ims_geo
    read (geopandas/pyogrio, every column) + :func:`ims_geo.schema.validate`
    (dates parsed, canonical dtypes) + :func:`ims_geo.conflicts.find_conflicts`
    with ``Rules(distance=D, window_days=W, moratorium_years=0)``.
buffer_sjoin
    geopandas: buffer by D, ``sjoin(predicate="intersects")``, org and date
    filter, then an exact ``distance <= D`` check (see :func:`buffer_sjoin`).
sjoin_dwithin
    geopandas ``sjoin(predicate="dwithin", distance=D)`` + org and date filter.
strtree
    shapely ``STRtree.query(geoms, predicate="dwithin", distance=D)`` + numpy filter.
duckdb
    DuckDB spatial: ``ST_Read`` into a table, ``ST_DWithin`` self-join
    planned as a ``SPATIAL_JOIN`` (checked with EXPLAIN).
postgis
    PostGIS: ``to_postgis`` (COPY), GiST index + ANALYZE, ``ST_DWithin``
    self-join.

``python benchmarks/peers.py run METHOD WORKS.gpkg --json OUT.json`` runs
one method in its own process; ``python benchmarks/peers.py strtree-csv
WORKS.gpkg --out pairs.csv`` is the STRtree peer as a complete program
(read, pairs, CSV), the end-to-end counterpart of ``ims-geo conflicts``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_PROCESS_START = time.perf_counter()

ORG, START, END, WORK_ID = "org", "start_date", "end_date", "work_id"


@dataclass(frozen=True)
class Task:
    """The pairs task: distance in metres, date window in days."""

    distance: float = 20.0
    window_days: int = 180


@dataclass
class Result:
    """What one method found and how long each phase took."""

    method: str
    #: Unordered pairs found (candidate pairs for ``floor``).
    pairs: int = 0
    #: Digest of the sorted pair list; equal digests mean equal pair sets.
    checksum: str = ""
    #: Seconds per timed phase, in order.
    phases: dict[str, float] = field(default_factory=dict)
    #: Sum of the phases.
    seconds: float = 0.0
    #: CPU seconds of the method's process over the phases (a database server's not included).
    cpu_seconds: float = 0.0
    #: Interpreter start + library imports (not in ``seconds``).
    import_seconds: float = 0.0
    #: Peak resident memory of the process (MiB).
    peak_rss_mib: float = 0.0
    #: Peak memory of a database server the method used (MiB, approximate).
    server_peak_mib: float | None = None
    notes: list[str] = field(default_factory=list)


class Clock:
    """Lap timer: ``lap(name)`` closes a phase that began at the previous lap."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        #: CPU seconds of this process (every thread) over the phases: on a shared
        #: machine it grows far less with the load than the wall time does.
        self.cpu = 0.0
        self.import_seconds = time.perf_counter() - _PROCESS_START
        #: The process's peak resident memory (MiB) at the end of the last phase: what the
        #: method itself needed, not the check of its pairs that follows.
        self.peak_mib = 0.0
        self._last = time.perf_counter()
        self._last_cpu = time.process_time()

    def lap(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.phases[name] = self.phases.get(name, 0.0) + now - self._last
        self.cpu += cpu - self._last_cpu
        self.peak_mib = peak_rss_mib()
        self._last, self._last_cpu = now, cpu

    def skip(self) -> None:
        """Leave the time since the last lap out of every phase."""
        self._last, self._last_cpu = time.perf_counter(), time.process_time()


def checksum(left: np.ndarray, right: np.ndarray, n: int) -> str:
    """Digest of an unordered pair set given as row positions."""
    lo = np.minimum(left, right).astype(np.int64)
    hi = np.maximum(left, right).astype(np.int64)
    codes = np.sort(lo * max(n, 1) + hi)
    return hashlib.sha1(codes.tobytes()).hexdigest()[:12]


def _finish(name: str, clock: Clock, left: np.ndarray, right: np.ndarray, n: int) -> Result:
    return Result(
        method=name,
        pairs=len(left),
        checksum=checksum(np.asarray(left), np.asarray(right), n),
        phases=clock.phases,
        seconds=sum(clock.phases.values()),
        cpu_seconds=clock.cpu,
        import_seconds=clock.import_seconds,
        peak_rss_mib=clock.peak_mib,
    )


def _read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Geometries, org codes and start/end day numbers straight from Arrow."""
    import pyogrio
    import shapely

    meta, table = pyogrio.read_arrow(path, columns=[ORG, START, END])
    geoms = shapely.from_wkb(table[meta["geometry_name"] or "wkb_geometry"])
    _, org = np.unique(table[ORG].to_numpy(zero_copy_only=False), return_inverse=True)
    start = table[START].to_numpy().astype("datetime64[D]").astype(np.int64)
    end = table[END].to_numpy().astype("datetime64[D]").astype(np.int64)
    return geoms, org, start, end


def _keep(
    left: np.ndarray,
    right: np.ndarray,
    org: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    task: Task,
) -> np.ndarray:
    """Mask of pairs that are unordered (left < right), cross-org and within the window."""
    gap = np.maximum(start[left], start[right]) - np.minimum(end[left], end[right])
    return (left < right) & (org[left] != org[right]) & (gap <= task.window_days)


# --- methods -----------------------------------------------------------------
def _import_io() -> None:
    """Import what reading a GeoPackage imports lazily, before a clock starts."""
    import geopandas  # noqa: F401
    import pyarrow  # noqa: F401
    import pyogrio  # noqa: F401
    import shapely  # noqa: F401


def floor(path: Path, task: Task) -> Result:
    """Read + STRtree + bounding-box query: the lower bound of any answer."""
    import shapely

    _import_io()
    clock = Clock()
    geoms, _, _, _ = _read_arrays(path)
    clock.lap("read")
    tree = shapely.STRtree(geoms)
    clock.lap("index")
    b = shapely.bounds(geoms)
    d = task.distance
    boxes = shapely.box(b[:, 0] - d, b[:, 1] - d, b[:, 2] + d, b[:, 3] + d)
    left, right = tree.query(boxes)
    clock.lap("bbox query")
    keep = left < right
    clock.skip()
    result = _finish("floor", clock, left[keep], right[keep], len(geoms))
    result.notes.append("pairs = candidate pairs whose envelopes, grown by D, meet")
    return result


def strtree(path: Path, task: Task) -> Result:
    """shapely STRtree dwithin self-query + numpy filter."""
    import shapely

    _import_io()
    clock = Clock()
    geoms, org, start, end = _read_arrays(path)
    clock.lap("read")
    tree = shapely.STRtree(geoms)
    clock.lap("index")
    left, right = tree.query(geoms, predicate="dwithin", distance=task.distance)
    clock.lap("dwithin query")
    keep = _keep(left, right, org, start, end, task)
    left, right = left[keep], right[keep]
    clock.lap("filter")
    return _finish("strtree", clock, left, right, len(geoms))


def _read_frame(path: Path) -> Any:
    """The columns a geopandas user needs, dates as datetime64."""
    import geopandas as gpd
    import pandas as pd

    frame = gpd.read_file(path, engine="pyogrio", use_arrow=True, columns=[ORG, START, END])
    for col in (START, END):
        frame[col] = pd.to_datetime(frame[col])
    return frame


def _filter_join(joined: Any, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Pandas filter of a self sjoin: one row per unordered cross-org pair in the window."""
    left = joined.index.to_numpy()
    right = joined["index_right"].to_numpy()
    gap = (
        np.maximum(joined[f"{START}_left"], joined[f"{START}_right"])
        - np.minimum(joined[f"{END}_left"], joined[f"{END}_right"])
    ).dt.days.to_numpy()
    keep = (
        (left < right)
        & (joined[f"{ORG}_left"] != joined[f"{ORG}_right"]).to_numpy()
        & (gap <= task.window_days)
    )
    return left[keep], right[keep]


def sjoin_dwithin(path: Path, task: Task) -> Result:
    """geopandas ``sjoin(predicate="dwithin")`` + org/date filter."""
    import geopandas as gpd

    _import_io()
    clock = Clock()
    frame = _read_frame(path)
    clock.lap("read")
    joined = gpd.sjoin(frame, frame, predicate="dwithin", distance=task.distance)
    clock.lap("sjoin")
    left, right = _filter_join(joined, task)
    clock.lap("filter")
    return _finish("sjoin_dwithin", clock, left, right, len(frame))


def buffer_sjoin(path: Path, task: Task) -> Result:
    """geopandas buffer + ``sjoin(predicate="intersects")`` + filter + exact distance check.

    ``buffer(D)`` is a polygon inscribed in the true D-neighbourhood (its
    round caps and joins are chords of the circle, up to D * (1 - cos(pi /
    32)) = 0.1 m inside it with the default 8 segments per quarter circle),
    so a plain ``buffer(D)`` + intersects misses pairs between ~19.9 and
    20 m. The buffer here is grown to circumscribe the circle (D /
    cos(pi / 32)), and the pairs that survive the org/date filter are
    checked with an exact ``distance <= D``: the same pair set as the others.
    """
    import geopandas as gpd
    import shapely

    _import_io()
    quad_segs = 8
    clock = Clock()
    frame = _read_frame(path)
    clock.lap("read")
    grown = task.distance / math.cos(math.pi / (4 * quad_segs)) * (1 + 1e-9)
    buffered = frame.set_geometry(frame.buffer(grown, quad_segs=quad_segs))
    clock.lap("buffer")
    joined = gpd.sjoin(buffered, frame, predicate="intersects")
    clock.lap("sjoin")
    left, right = _filter_join(joined, task)
    clock.lap("filter")
    geoms = frame.geometry.to_numpy()
    dist = shapely.distance(geoms[left], geoms[right])
    exact = dist <= task.distance
    clock.lap("exact distance")
    result = _finish("buffer_sjoin", clock, left[exact], right[exact], len(frame))
    inscribed = task.distance * math.cos(math.pi / (4 * quad_segs))
    at_risk = int((dist[exact] > inscribed).sum())
    result.notes.append(
        f"{int((~exact).sum())} candidates dropped by the exact check; "
        f"a plain buffer({task.distance:g}) could miss up to {at_risk} of the pairs"
    )
    return result


def _load_spatial(con: Any) -> None:
    """Load the spatial extension from the duckdb-extension-spatial wheel (offline)."""
    import duckdb_extension_spatial

    found = sorted(
        Path(duckdb_extension_spatial.__path__[0]).glob("extensions/*/spatial.duckdb_extension")
    )
    if not found:
        raise RuntimeError("duckdb-extension-spatial is installed but holds no extension file")
    con.execute(f"LOAD '{found[-1]}'")


#: DuckDB turns any comparison between the two sides (a.i < b.i, a.org <> b.org)
#: into a comparison join (PIECEWISE_MERGE_JOIN / NESTED_LOOP_JOIN, O(N^2)) that
#: replaces the SPATIAL_JOIN; written as expressions over both sides they stay
#: filters above the spatial join.
DUCKDB_PAIRS_SQL = """
SELECT a.i AS a, b.i AS b
FROM works a JOIN works b ON ST_DWithin(a.geom, b.geom, {distance})
WHERE b.i - a.i > 0
  AND least(a.org, b.org) <> greatest(a.org, b.org)
  AND greatest(a.start_date, b.start_date) - least(a.end_date, b.end_date) <= {window}
"""


def duckdb_spatial(path: Path, task: Task) -> Result:
    """DuckDB spatial ST_DWithin self-join (SPATIAL_JOIN operator)."""
    import duckdb as ddb

    con = ddb.connect()
    _load_spatial(con)
    clock = Clock()
    # a literal path: ST_Read(?) as a prepared statement costs seconds on its first call
    literal = "'" + str(path).replace("'", "''") + "'"
    con.execute(
        "CREATE TABLE works AS SELECT row_number() OVER () - 1 AS i, org, start_date, end_date, geom "
        f"FROM ST_Read({literal})"
    )
    clock.lap("read")
    sql = DUCKDB_PAIRS_SQL.format(distance=float(task.distance), window=int(task.window_days))
    plan = con.sql("EXPLAIN " + sql).fetchall()[0][1]
    clock.skip()
    pairs = con.execute(sql).fetchnumpy()
    clock.lap("spatial join")
    n = con.execute("SELECT count(*) FROM works").fetchone()[0]
    result = _finish("duckdb", clock, pairs["a"], pairs["b"], n)
    operators = [
        w for w in ("SPATIAL_JOIN", "PIECEWISE_MERGE_JOIN", "NESTED_LOOP_JOIN") if w in plan
    ]
    result.notes.append(f"EXPLAIN join operator: {', '.join(operators) or 'none found'}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    result.notes.append(f"duckdb {ddb.__version__}, {threads} threads")
    return result


class _ServerMemory:
    """Samples the memory of a PostgreSQL server's processes while a block runs."""

    def __init__(self, postmaster_pid: int, every: float = 0.1) -> None:
        import psutil

        self._root = psutil.Process(postmaster_pid)
        self._every = every
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        # private memory of every process + the largest shared part once
        private, shared = 0, 0
        for proc in [self._root, *self._root.children(recursive=True)]:
            try:
                info = proc.memory_info()
            except Exception:  # a backend that just exited
                continue
            private += info.rss - info.shared
            shared = max(shared, info.shared)
        return private + shared

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self._every)

    def __enter__(self) -> _ServerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


POSTGIS_PAIRS_SQL = """
SELECT a.row_id, b.row_id
FROM works a JOIN works b ON a.row_id < b.row_id AND ST_DWithin(a.geometry, b.geometry, %(distance)s)
WHERE a.org <> b.org
  AND GREATEST(a.start_date, b.start_date) - LEAST(a.end_date, b.end_date) <= %(window)s
"""


def postgis(path: Path, task: Task, url: str) -> Result:
    """PostGIS: to_postgis (COPY), GiST index, ST_DWithin self-join."""
    import geopandas as gpd
    import psutil
    import psycopg
    import sqlalchemy as sa

    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS works")
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        postmaster = psutil.Process(backend).parent().pid
    _import_io()
    with _ServerMemory(postmaster) as memory:
        clock = Clock()
        frame = gpd.read_file(path, engine="pyogrio", use_arrow=True, columns=[ORG, START, END])
        frame.insert(0, "row_id", np.arange(len(frame), dtype=np.int64))
        clock.lap("read")
        frame.to_postgis(
            "works",
            engine,
            if_exists="replace",
            index=False,
            chunksize=100_000,
            dtype={START: sa.Date(), END: sa.Date()},
        )
        clock.lap("load")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE INDEX works_geom ON works USING GIST (geometry)")
            conn.execute("ANALYZE works")
            clock.lap("index")
            params = {"distance": float(task.distance), "window": int(task.window_days)}
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + POSTGIS_PAIRS_SQL, params))
            clock.skip()
            rows = conn.execute(POSTGIS_PAIRS_SQL, params).fetchall()
            pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
            clock.lap("query")
            version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    result = _finish("postgis", clock, pairs[:, 0], pairs[:, 1], len(frame))
    result.server_peak_mib = memory.peak / 2**20
    used = "GiST index scan" if "works_geom" in plan else "no index in the plan"
    result.notes.append(f"plan: {used}; parallel: {'Gather' in plan}; PostGIS {version}")
    return result


def ims_geo_conflicts(path: Path, task: Task) -> Result:
    """ims_geo.conflicts.find_conflicts on the works read from the GeoPackage."""
    import dataclasses

    import geopandas as gpd
    import pandas as pd

    from ims_geo import schema
    from ims_geo.conflicts import find_conflicts
    from ims_geo.conflicts.rules import Rules
    from ims_geo.ingest._sources import ARROW_READ

    fields = {f.name for f in dataclasses.fields(Rules)}
    settings: dict[str, Any] = {"distance": task.distance, "window_days": task.window_days}
    if "moratorium_years" in fields:
        settings["moratorium_years"] = 0
    rules = Rules(**settings)

    _import_io()
    clock = Clock()
    # as every reader of ims_geo reads a GeoPackage: through Arrow, DATE columns as datetime64
    works = gpd.read_file(path, engine="pyogrio", **ARROW_READ)
    clock.lap("read")
    # as every reader of ims_geo does: canonical dtypes, dates parsed, bad rows set apart
    checked = schema.validate(works, source=path.name)
    if len(checked.rejected):
        raise RuntimeError(f"validate rejected {len(checked.rejected)} generated works")
    works = checked.valid
    clock.lap("validate")
    conflicts = find_conflicts(works, rules)
    clock.lap("find_conflicts")

    notes = [f"rules: {settings}"]
    kinds = conflicts["kind"].value_counts().to_dict()
    notes.append("kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    beyond = conflicts["gap_days"].to_numpy() > task.window_days
    if beyond.any():
        notes.append(f"{int(beyond.sum())} pairs with gap_days > {task.window_days} left out")
        conflicts = conflicts.loc[~beyond]
    key = pd.Index(works[ORG].astype(str) + "\x1f" + works[WORK_ID].astype(str))
    left = key.get_indexer(
        conflicts["org_a"].astype(str) + "\x1f" + conflicts["work_id_a"].astype(str)
    )
    right = key.get_indexer(
        conflicts["org_b"].astype(str) + "\x1f" + conflicts["work_id_b"].astype(str)
    )
    if (left < 0).any() or (right < 0).any():
        raise RuntimeError("find_conflicts returned a work_id/org pair that is not in the input")
    result = _finish("ims_geo", clock, left, right, len(works))
    result.notes.extend(notes)
    return result


METHODS: dict[str, Callable[..., Result]] = {
    "floor": floor,
    "ims_geo": ims_geo_conflicts,
    "buffer_sjoin": buffer_sjoin,
    "sjoin_dwithin": sjoin_dwithin,
    "strtree": strtree,
    "duckdb": duckdb_spatial,
    "postgis": postgis,
}
#: Methods that answer the pairs task (the floor only bounds it).
ANSWERS: tuple[str, ...] = (
    "ims_geo",
    "buffer_sjoin",
    "sjoin_dwithin",
    "strtree",
    "duckdb",
    "postgis",
)


def run(method: str, path: Path, task: Task, *, postgis_url: str | None = None) -> Result:
    """Run one method in this process and record its peak memory."""
    if method == "postgis":
        if not postgis_url:
            raise ValueError("the postgis method needs a postgresql:// URL (--postgis-url)")
        result = postgis(path, task, postgis_url)
    else:
        result = METHODS[method](path, task)
    # a method without phases: the peak of the whole run
    result.peak_rss_mib = result.peak_rss_mib or peak_rss_mib()
    return result


def peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM) in MiB.

    ``getrusage`` is not used: a process started from a large parent inherits
    the parent's high-water mark through fork/exec on Linux.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def strtree_csv(path: Path, out: Path, task: Task) -> int:
    """The STRtree peer as a whole program: read, find pairs, write a CSV."""
    import pandas as pd
    import pyogrio
    import shapely

    meta, table = pyogrio.read_arrow(path, columns=[WORK_ID, ORG, START, END])
    geoms = shapely.from_wkb(table[meta["geometry_name"] or "wkb_geometry"])
    org_names, org = np.unique(table[ORG].to_numpy(zero_copy_only=False), return_inverse=True)
    work_id = table[WORK_ID].to_numpy(zero_copy_only=False)
    start = table[START].to_numpy().astype("datetime64[D]").astype(np.int64)
    end = table[END].to_numpy().astype("datetime64[D]").astype(np.int64)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=task.distance)
    keep = _keep(left, right, org, start, end, task)
    left, right = left[keep], right[keep]
    gap = np.maximum(start[left], start[right]) - np.minimum(end[left], end[right])
    pd.DataFrame(
        {
            "work_id_a": work_id[left],
            "org_a": org_names[org[left]],
            "work_id_b": work_id[right],
            "org_b": org_names[org[right]],
            "kind": np.where(gap <= 0, "clash", "synergy"),
            "distance_m": shapely.distance(geoms[left], geoms[right]).round(2),
            "gap_days": gap,
        }
    ).to_csv(out, index=False)
    return len(left)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``run`` one method (JSON result) or ``strtree-csv``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run", help="run one method, write its result as JSON")
    one.add_argument("method", choices=sorted(METHODS))
    one.add_argument("works", type=Path)
    one.add_argument("--json", type=Path, required=True)
    one.add_argument("--postgis-url")
    csv = sub.add_parser("strtree-csv", help="the STRtree peer end to end, pairs to CSV")
    csv.add_argument("works", type=Path)
    csv.add_argument("--out", type=Path, required=True)
    for p in (one, csv):
        p.add_argument("--distance", type=float, default=Task.distance)
        p.add_argument("--window-days", type=int, default=Task.window_days)
    args = parser.parse_args(argv)
    task = Task(args.distance, args.window_days)
    if args.command == "run":
        result = run(args.method, args.works, task, postgis_url=args.postgis_url)
        args.json.write_text(json.dumps(asdict(result), indent=1))
    else:
        count = strtree_csv(args.works, args.out, task)
        print(f"{count} pairs written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
