"""The conflict search on Dask: works shuffled to tiles, the one kernel run per tile.

:func:`find_conflicts_dask` returns exactly what
:func:`ims_geo.conflicts.find_conflicts` returns on the same works (row for
row, sorted the same way); :func:`run` can also write the answer as
partitioned GeoParquet without gathering it. Why the answers are equal is
proved in :mod:`ims_geo.distributed`.

The works travel as a Dask DataFrame of WKB plus the attributes the rules
read (:class:`Works`: from a GeoDataFrame, or from GeoParquet read in
partitions, never the whole file in one process). The run makes two passes
over them:

1. a summary of each partition: its row count, a regular sample of its
   envelope centres (at most :data:`SAMPLE_PER_PARTITION`), from which the
   client cuts the count-balanced tiles (:func:`~ims_geo.distributed.tiles.kd_tiling`),
   and a hash of each work's (org, work_id), from which the client refuses
   an id used twice in any partitions, as the import does;
   when the works are not in a local metric CRS, a first pass finds their
   extent, from which the working CRS is chosen as the single-machine engine
   chooses it;
2. works read from files are checked as ``ims-geo import`` checks them
   (:func:`ims_geo.schema.validate`, in each partition: a rejected work
   refuses the run); each work is copied to every tile its envelope grown by
   the halo touches,
   the copies go to their tiles, and the task of each tile runs
   :func:`~ims_geo.conflicts.find_conflicts`, keeps the pairs whose reference
   point lies in the tile and writes them from the same task.

How the copies reach their tiles (:data:`SHUFFLES`): up to
:data:`DIRECT_WORKS_PER_THREAD` works per worker thread, the task that made a
partition's copies cuts them by tile and each tile's task takes its piece of
every partition (held in the workers' memory); the tiles are not tied to a
worker: on a cluster each worker thread is given the largest tile left when it
is about to be free (:func:`_largest_first`), so the workers end together. Beyond that, Dask's p2p
shuffle moves them (tile k to output partition k, buffered on disk).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dask
import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import CRS

from ims_geo import schema as s
from ims_geo.conflicts import (
    CONFLICT_COLUMNS,
    LEFT_OUT_COLUMNS,
    empty_conflicts,
    find_conflict_rows,
    left_out,
)
from ims_geo.conflicts.rules import Rules
from ims_geo.crs import check_metric, working_crs
from ims_geo.distributed.tiles import Tiling, kd_tiling, reference_points
from ims_geo.errors import InputError, MissingCRSError
from ims_geo.export import first_rows, geoparquet_table

#: Columns of the works the rules read (plus ``Rules.exempt_column`` when the works have it).
KERNEL_COLUMNS: tuple[str, ...] = (
    s.WORK_ID, s.ORG, s.DISCIPLINE, s.LAYER, s.START, s.END, s.EXCAVATION, s.STATUS,
    s.DEPTH_MIN, s.DEPTH_MAX,
)  # fmt: skip
#: Name of the WKB column while the works travel between processes.
WKB = "_wkb"
#: Tile number of a work's copy.
TILE = "_tile"
#: Envelope centres each partition contributes to the tiling.
SAMPLE_PER_PARTITION = 20_000
#: Works per tile the default tiling aims at (a tile's kernel then needs well under 1 GiB).
WORKS_PER_TILE = 100_000
#: Works per worker thread up to which the copies go to their tiles directly
#: (:data:`SHUFFLES`); above it Dask's p2p shuffle moves them. The direct way holds
#: every copy in the workers' memory until its tile runs (about 230 bytes per copy:
#: 0.35 GB per worker at this size, next to a tile's 0.9 GB), the p2p shuffle
#: keeps them on disk.
DIRECT_WORKS_PER_THREAD = 1_500_000
#: Tiles waiting on each worker thread behind the one it runs (direct way): their
#: pieces are fetched from the other workers while the running tile computes. With
#: none, the next tile is sent only when a thread is free, and the thread waits for
#: its pieces (about 0.5 s per tile of 100,000 works); with one, the next tile is
#: chosen one tile earlier (the tiles are sent largest first, so the last ones,
#: which decide the end, are the smallest).
QUEUED_PER_THREAD = 1
#: How the copies reach their tiles: ``"direct"`` (each partition's copies cut by tile in
#: the task that made them, each tile's task takes its pieces from every partition: no
#: disk, and the next tile, the largest left, goes to whichever worker is about to be
#: free) or ``"p2p"`` (Dask's p2p shuffle, tile k to output partition k; for
#: data beyond the workers' memory).
SHUFFLES: tuple[str, ...] = ("direct", "p2p")
#: Text columns of the answer whose values repeat: dictionary encoded in the tiles' files
#: (the others, such as work ids, are written plain, which is faster).
_REPEATED: tuple[str, ...] = (
    "org_a", "org_b", "discipline_a", "discipline_b", "kind", "severity",
)  # fmt: skip
#: Fields of GeoParquet's bbox covering column, in shapely's bounds order.
_BOX_FIELDS: tuple[str, ...] = ("xmin", "ymin", "xmax", "ymax")
_BOX = set(_BOX_FIELDS)
#: The order of the answer (as :func:`ims_geo.conflicts.find_conflicts` sorts it).
ORDER: tuple[str, ...] = ("score", "org_a", "work_id_a", "org_b", "work_id_b")


@dataclass(frozen=True)
class Works:
    """Works as a Dask DataFrame: attribute columns and the geometry as WKB.

    Attributes
    ----------
    frame
        One row per work; column :data:`WKB` holds the geometry.
    crs
        The CRS of the coordinates.
    boxes
        GeoParquet's bbox covering column (``xmin``... per work) read alone,
        when the files have it: the tiles are balanced on it without
        decoding a geometry (the copies use the geometries' own bounds: a
        file's bbox is never trusted for the answer).
    source
        The file(s) read, named in messages; empty for works handed over
        as a GeoDataFrame.
    checked
        Whether the works were checked by :func:`ims_geo.schema.validate`
        already (a GeoDataFrame is taken as it is, as by
        :func:`~ims_geo.conflicts.find_conflicts`); works read from files are
        checked in each partition as ``ims-geo import`` checks them.
    """

    frame: dd.DataFrame
    crs: CRS
    boxes: dd.DataFrame | None = None
    source: str = ""
    checked: bool = True

    @classmethod
    def from_geodataframe(
        cls,
        works: gpd.GeoDataFrame,
        partitions: int = 1,
        rules: Rules | None = None,
        carry: Sequence[str] = (),
    ) -> Works:
        """``works`` cut into ``partitions`` row ranges (the columns the rules read only).

        ``carry`` names other columns to take along when the works have them
        (e.g. ``title``, for the tiles' part of the exported table).
        """
        if not isinstance(works, gpd.GeoDataFrame):
            raise InputError("works must be a GeoDataFrame (see ims_geo.schema.validate)")
        if works.crs is None:
            raise MissingCRSError(
                "works have no CRS, so distances cannot be measured; set the CRS the "
                "coordinates are in (e.g. works.set_crs('EPSG:28992'))"
            )
        keep = _kernel_columns(works.columns, rules, carry)
        frame = pd.DataFrame(works[keep]).reset_index(drop=True)
        frame[WKB] = _wkb_series(np.asarray(works.geometry.array, dtype=object))
        npart = max(1, min(int(partitions), len(frame) or 1))
        return cls(dd.from_pandas(frame, npartitions=npart, sort=False), _crs(works.crs))

    @classmethod
    def read_parquet(
        cls,
        path: str | Path | Sequence[str | Path],
        rules: Rules | None = None,
        carry: Sequence[str] = (),
    ) -> Works:
        """GeoParquet file(s) or a directory of them, read in partitions (one per row group).

        Only the columns the rules read are loaded (and those of ``carry``
        the files have, as for :meth:`from_geodataframe`); the geometry must be WKB
        (as ``ims-geo export --out works.parquet`` writes it) and the file's
        ``geo`` metadata must name its CRS.
        """
        paths = [str(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
        first = _first_file(paths[0])
        try:
            schema = pq.read_schema(first)
            geo = json.loads((schema.metadata or {}).get(b"geo", b"null") or "null")
        except (OSError, ValueError) as exc:  # not Parquet, or metadata that is not JSON
            raise InputError(f"{first} cannot be read as GeoParquet: {exc}") from None
        if not isinstance(geo, dict) or "primary_column" not in geo:
            raise InputError(
                f"{first} is not GeoParquet (no 'geo' metadata); write the works with "
                "ims-geo export --out works.parquet"
            )
        primary = geo["primary_column"]
        meta = geo.get("columns", {}).get(primary, {})
        if meta.get("encoding", "WKB") != "WKB":
            raise InputError(f"{first}: geometry column {primary} must be WKB encoded")
        if meta.get("crs", {}) is None or "crs" not in meta:
            # GeoParquet: a missing crs means OGC:CRS84; null means unknown
            if "crs" in meta:
                raise MissingCRSError(f"{first} has no CRS; write it with its CRS")
            crs = CRS.from_user_input("OGC:CRS84")
        else:
            try:
                crs = CRS.from_user_input(meta["crs"])
            except Exception:  # pyproj's CRSError, or a value of the wrong type
                raise InputError(f"{first}: the CRS in its 'geo' metadata is not a CRS") from None
        keep = _kernel_columns(schema.names, rules, carry)
        missing = [c for c in KERNEL_COLUMNS[:8] if c not in keep]
        if missing:
            raise InputError(
                f"{first} lacks the column(s) {', '.join(missing)}; write the works with "
                "ims-geo export --out works.parquet"
            )
        source = paths if len(paths) > 1 else paths[0]
        frame = dd.read_parquet(source, columns=[*keep, primary], split_row_groups=True)
        covering = meta.get("covering", {}).get("bbox", {})
        boxes = None
        if covering.get("xmin", [None])[0] in schema.names and set(covering) >= _BOX:
            boxes = dd.read_parquet(
                source,
                columns=[covering["xmin"][0]],
                split_row_groups=True,
                dtype_backend="pyarrow",
            )
        named = ", ".join(paths) if len(paths) <= 3 else f"{paths[0]} and {len(paths) - 1} more"
        return cls(frame.rename(columns={primary: WKB}), crs, boxes, named, checked=False)


@dataclass
class DaskRun:
    """What a distributed run found and how the work was split.

    Attributes
    ----------
    conflicts
        The answer (as :func:`ims_geo.conflicts.find_conflicts`), when gathered.
    files
        The partitioned GeoParquet files written (one per output partition that has pairs).
    crs
        The working metric CRS the distances were measured in.
    tiles
        Number of tiles.
    works
        Number of works read.
    copies
        Works sent to tiles (a work touching k tiles counts k times).
    pairs
        Number of pairs found.
    kernel_seconds
        Seconds the workers spent in the kernel, summed over the tiles.
    slowest_tile_seconds
        The longest one tile's kernel took.
    shuffle
        How the copies reached their tiles (:data:`SHUFFLES`).
    phase_seconds
        Wall time of the run's parts on the client: ``"first pass"`` (the
        sample for the tiles, the count of ids used twice), ``"search"``
        (checks, copies, shuffle, the tiles' kernels and files), of it
        ``"cut"`` when the copies go to their tiles directly on a cluster
        (every partition read, checked and cut by tile), and
        ``"uneven end"`` (how long after the first worker's last tile
        the last one ended); ``"idle between tiles"``: the seconds the workers
        waited between one tile's end and their next one's start, and
        ``"files"``: the seconds the tiles took to write their files, both
        summed over the workers or tiles.
    tiles_per_worker
        How many tiles each worker ran (by its address).
    tile_spans
        Per tile, in the tiles' order: the worker that ran it, when its task
        began and ended (the worker's wall clock, seconds since the epoch)
        and its copies.
    """

    conflicts: gpd.GeoDataFrame | None
    files: list[Path]
    crs: CRS
    tiles: int
    works: int
    copies: int
    pairs: int
    tiling: Tiling = field(repr=False)
    kernel_seconds: float = 0.0
    slowest_tile_seconds: float = 0.0
    shuffle: str = "p2p"
    phase_seconds: dict[str, float] = field(default_factory=dict)
    tiles_per_worker: dict[str, int] = field(default_factory=dict)
    tile_spans: list[tuple[str, float, float, int]] = field(default_factory=list)

    @property
    def copy_ratio(self) -> float:
        """Copies per work: 1.0 when no work is near a tile border."""
        return self.copies / self.works if self.works else 0.0


def find_conflicts_dask(
    works: gpd.GeoDataFrame | Works,
    rules: Rules | None = None,
    *,
    internal: bool | None = None,
    client: Any = None,
    tiles: int | None = None,
    tiling: Tiling | None = None,
    partitions: int | None = None,
) -> gpd.GeoDataFrame:
    """Pairs of works that clash, break a moratorium or could be combined, found on Dask.

    The same answer as :func:`ims_geo.conflicts.find_conflicts` (same rows,
    values, geometries and order); see :func:`run` for the parameters.

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> with LocalCluster(n_workers=2) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     found = find_conflicts_dask(works, client=client)
    """
    result = run(
        works,
        rules,
        internal=internal,
        client=client,
        tiles=tiles,
        tiling=tiling,
        partitions=partitions,
    )
    assert result.conflicts is not None  # gathered by default
    return result.conflicts


def run(
    works: gpd.GeoDataFrame | Works,
    rules: Rules | None = None,
    *,
    internal: bool | None = None,
    client: Any = None,
    tiles: int | None = None,
    tiling: Tiling | None = None,
    partitions: int | None = None,
    out_dir: str | Path | None = None,
    gather: bool = True,
    table: bool = False,
    shuffle: str | None = None,
) -> DaskRun:
    """Run the conflict search on Dask.

    Parameters
    ----------
    works
        Planned works: a GeoDataFrame as for
        :func:`~ims_geo.conflicts.find_conflicts` (cut into ``partitions``),
        or :class:`Works` (e.g. :meth:`Works.read_parquet`).
    rules, internal
        As for :func:`~ims_geo.conflicts.find_conflicts`.
    client
        A ``distributed.Client``; None runs on Dask's default scheduler
        (the current client when there is one).
    tiles
        How many tiles to cut (default: one per :data:`WORKS_PER_TILE`
        works, at least one per worker thread of the client).
    tiling
        Explicit tiles (instead of a KD split); its distance must be at
        least the rules' largest distance.
    partitions
        Partitions a GeoDataFrame is cut into (default: one per tile).
    out_dir
        Directory to write the answer to as partitioned GeoParquet
        (``part-00000.parquet``...; each file in the answer's order, written
        as :func:`ims_geo.export.geoparquet_table` makes GeoParquet: bbox
        covering columns, dates as dates; ``part-*.parquet`` files of an
        earlier run in it are removed first); None writes nothing.
    gather
        Gather the whole answer into :attr:`DaskRun.conflicts` (sorted).
    table
        Write each tile's part of the exported table instead of its pairs
        (:func:`~ims_geo.distributed.table.tile_table`: titles, rounded
        metres, as :func:`ims_geo.export.conflict_table` makes them; needs
        ``out_dir``; :func:`~ims_geo.distributed.table.assemble` joins the
        parts into one file). The titles travel with the works to their
        tiles: :class:`Works` must carry ``title`` (``carry``) when the
        works have titles; a GeoDataFrame's are taken along.
    shuffle
        How the copies reach their tiles (:data:`SHUFFLES`); default
        ``"direct"`` up to :data:`DIRECT_WORKS_PER_THREAD` works per worker
        thread, ``"p2p"`` above. The answer is the same either way.

    Returns
    -------
    DaskRun
        The answer and the figures of the run.
    """
    rules = Rules() if rules is None else rules
    if internal is not None:
        rules = replace(rules, internal=bool(internal))
    distance = float(rules.max_distance)
    if tiling is not None and tiling.distance < distance:
        raise InputError(
            f"the tiling's distance {tiling.distance} m is below the rules' largest "
            f"distance {distance} m; pairs could be missed"
        )
    threads = _threads(client)
    known = None
    if not isinstance(works, Works):
        known = len(works)
        n_guess = tiles or max(threads, math.ceil(len(works) / WORKS_PER_TILE))
        carry = (s.TITLE,) if table else ()
        works = Works.from_geodataframe(works, partitions or n_guess, rules, carry)
    if table and out_dir is None:
        raise InputError("the parts of the exported table need a folder to be written to")
    if shuffle is not None and shuffle not in SHUFFLES:
        raise InputError(f"shuffle must be one of {', '.join(SHUFFLES)}, not {shuffle!r}")
    written = _Written(out_dir, gather, table, shuffle)
    return _run(works, rules, client, tiles, tiling, written, distance, threads, known)


@dataclass(frozen=True)
class _Written:
    """Where and what a run writes: the folder of its parts, the gathered answer, the table."""

    out_dir: str | Path | None
    gather: bool
    table: bool
    shuffle: str | None = None


def _run(
    works: Works,
    rules: Rules,
    client: Any,
    tiles: int | None,
    tiling: Tiling | None,
    written: _Written,
    distance: float,
    threads: int,
    known: int | None,
) -> DaskRun:
    began = time.perf_counter()
    source = works.crs
    target = _target_crs(works, client)
    summary_meta = pd.DataFrame(
        {"x": pd.Series([], dtype="float64"), "y": pd.Series([], dtype="float64"),
         "n": pd.Series([], dtype="int64")}
    )  # fmt: skip
    # the first pass: the sample for the tiles; with the p2p shuffle also a hash of each
    # work's (org, work_id), the hashes met more than once counted where they fall
    # (never all in one process); the direct way counts them in the search's own pass
    keys = works.frame[[s.ORG, s.WORK_ID]].map_partitions(
        _key_hashes, meta=pd.Series([], dtype="uint64")
    )
    counts = keys.value_counts(split_out=max(1, works.frame.npartitions // 4))
    repeated = counts[counts > 1]
    shuffle = written.shuffle
    if shuffle is None and known is not None:
        shuffle = "direct" if known <= DIRECT_WORKS_PER_THREAD * threads else "p2p"
    twice = None
    if tiling is not None and known is not None:  # nothing to sample
        n_works = known
    else:
        if works.boxes is not None and source == target:  # the bbox column alone is read
            sampled = works.boxes.map_partitions(_summary_of_boxes, meta=summary_meta)
        else:
            sampled = works.frame.map_partitions(_summary, source, target, meta=summary_meta)
        if shuffle == "p2p":
            summary, twice = _compute(client, [sampled, repeated])
        else:
            summary = _compute(client, sampled)
        n_works = int(summary["n"].sum())
    if shuffle is None:
        shuffle = "direct" if n_works <= DIRECT_WORKS_PER_THREAD * threads else "p2p"
    if shuffle == "p2p":
        if twice is None:
            twice = _compute(client, repeated)
        _refuse_duplicates(works, twice.index.to_numpy(dtype=np.uint64), client)
    if tiling is None:
        count = tiles or max(threads, math.ceil(n_works / WORKS_PER_TILE))
        sample = summary.loc[summary["n"] == 0, ["x", "y"]].to_numpy()
        tiling = kd_tiling(sample, count, distance)
    check = None if works.checked else works.source
    meta = works.frame._meta if check is None else _canonical(works.frame._meta)
    meta = _copies(meta, source, target, tiling, None)
    guard = dask.delayed(_repeated)([])  # p2p: counted in the first pass
    sizes = None
    if shuffle == "direct":
        n = len(tiling)
        cut = [
            dask.delayed(_cut, nout=n + 2)(part, source, target, tiling, check)
            for part in works.frame.to_delayed()
        ]
        parts: list[Any] = [[pieces[k] for pieces in cut] for k in range(n)]
        # the hashes met more than once, counted once every partition is cut (the
        # tiles wait for that anyway); a tile given any runs nothing
        guard = dask.delayed(_repeated)([pieces[n] for pieces in cut])
        sizes = dask.delayed(_summed)([pieces[n + 1] for pieces in cut])
    else:
        copies = works.frame.map_partitions(_copies, source, target, tiling, check, meta=meta)
        # tile k goes to output partition k (a hash of the tile number would put two or
        # three tiles in some partitions and none in others: the workers would idle)
        shuffled = copies.set_index(TILE, divisions=list(range(len(tiling) + 1)))
        parts = list(shuffled.to_delayed())
    gather = written.gather
    folder = Path(written.out_dir) if written.out_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.parquet"):  # an earlier run's parts are not this answer
            old.unlink()

    crs_json = target.to_json()  # PROJJSON: WKT would lose ids the files' metadata keeps

    def arguments(k: int) -> tuple[Any, ...]:
        path = None if folder is None else str(folder / f"part-{k:05d}.parquet")
        return k, tiling, rules, crs_json, path, gather, written.table

    def tile_tasks(repeated: Any) -> list[Any]:
        return [
            dask.delayed(_run_part)(part, *arguments(k), repeated) for k, part in enumerate(parts)
        ]

    searched = time.perf_counter()
    cut_at = None
    if sizes is not None and client is not None:
        outcomes, cut_at = _largest_first(client, guard, sizes, parts, arguments, works)
    else:
        twice_found, *outcomes = _compute(client, [guard, *tile_tasks(guard)])
        if len(twice_found):  # refused, unless two different keys' hashes collided
            _refuse_duplicates(works, np.asarray(twice_found, dtype=np.uint64), client)
            outcomes = _compute(client, tile_tasks(np.zeros(0, np.uint64)))
    done = time.perf_counter()
    frames = [o[0] for o in outcomes if o[0] is not None and len(o[0])]
    files = [Path(o[1]) for o in outcomes if o[1] is not None]
    n_copies = sum(int(o[2]) for o in outcomes)
    n_pairs = sum(int(o[3]) for o in outcomes)
    seconds = [s for o in outcomes for s in o[4]]
    conflicts = None
    if gather:
        conflicts = _gathered(frames, target)
    spans = [(o[5][0], o[5][3], o[5][1], int(o[2])) for o in outcomes]
    phases = {"first pass": searched - began, "search": done - searched,
              "uneven end": _uneven_end(spans),
              "idle between tiles": _idle(spans),
              "files": sum(o[5][2] for o in outcomes)}  # fmt: skip
    if cut_at is not None:
        phases["cut"] = cut_at - searched
    return DaskRun(
        conflicts, files, target, len(tiling), n_works, n_copies, n_pairs, tiling,
        kernel_seconds=float(sum(seconds)), slowest_tile_seconds=max(seconds, default=0.0),
        shuffle=shuffle, phase_seconds=phases,
        tiles_per_worker=dict(Counter(o[5][0] for o in outcomes)),
        tile_spans=spans,
    )  # fmt: skip


def _largest_first(
    client: Any,
    guard: Any,
    sizes: Any,
    parts: list[list[Any]],
    arguments: Any,
    works: Works,
) -> tuple[list[Any], float]:
    """The tiles' outcomes (as :func:`_run_part`), each tile sent to a worker only when it is free.

    The partitions are cut first (their pieces stay in the workers); then
    every worker thread gets one tile and :data:`QUEUED_PER_THREAD` more
    waiting behind it, the largest (most copies) first, and each tile that
    ends is followed, on the worker that ran it, by the largest tile left.
    Handed out at once, the tiles would be split evenly between the
    workers as soon as they are ready (five and five of ten), and a worker
    given slower tiles would end up to a few tiles' time after the others.

    ``parts[k]`` holds tile k's piece of every partition (delayed),
    ``arguments(k)`` the rest of :func:`_run_part`'s arguments. Also returns
    when (``time.perf_counter``) every partition was cut.
    """
    from distributed import as_completed

    pieces = client.compute([guard, sizes, *(p for part in parts for p in part)])
    twice, counts = pieces[0].result(), pieces[1].result()
    cut_at = time.perf_counter()
    if len(twice):  # refused, unless two different keys' hashes collided
        _refuse_duplicates(works, np.asarray(twice, dtype=np.uint64), client)
    m = len(parts[0]) if parts else 0
    held = [pieces[2 + k * m : 2 + (k + 1) * m] for k in range(len(parts))]
    del pieces
    counts = np.asarray(counts, dtype=np.int64)
    if len(counts) != len(parts):  # no partition at all
        counts = np.zeros(len(parts), np.int64)
    waiting = list(np.argsort(-counts, kind="stable"))
    outcomes: list[Any] = [None] * len(parts)
    tile_of: dict[str, int] = {}

    def submit(worker: str | None) -> Any:
        k = int(waiting.pop(0))
        future = client.submit(
            _run_part, held[k], *arguments(k), None, pure=False,
            workers=None if worker is None else [worker], allow_other_workers=True,
        )  # fmt: skip
        tile_of[future.key] = k
        return future

    threads = [w for w, t in client.nthreads().items() for _ in range(t)]
    slots = threads * (1 + QUEUED_PER_THREAD)  # one round per thread, then the queued ones
    ends = as_completed([submit(w) for w in slots[: len(waiting)]])
    for future in ends:
        outcome = future.result()
        k = tile_of.pop(future.key)
        outcomes[k] = outcome
        held[k] = []  # the tile's pieces are done with
        if waiting:  # the largest tile left, to the worker that is free now
            ends.add(submit(outcome[5][0]))
    return outcomes, cut_at


def _idle(spans: list[tuple[str, float, float, int]]) -> float:
    """Seconds the workers waited between the end of a tile and the start of their next, summed."""
    by_worker: dict[str, list[tuple[float, float]]] = {}
    for worker, start, end, _ in spans:
        by_worker.setdefault(worker, []).append((start, end))
    idle = 0.0
    for runs in by_worker.values():
        ordered = np.array(sorted(runs))
        idle += float(np.clip(ordered[1:, 0] - ordered[:-1, 1], 0.0, None).sum())
    return idle


def _uneven_end(spans: list[tuple[str, float, float, int]]) -> float:
    """Seconds between the first and the last worker's end of its last tile."""
    last: dict[str, float] = {}
    for worker, _, end, _ in spans:
        last[worker] = max(last.get(worker, end), end)
    return max(last.values()) - min(last.values()) if len(last) > 1 else 0.0


def left_out_dask(works: Works, rules: Rules | None = None, client: Any = None) -> pd.DataFrame:
    """:func:`ims_geo.conflicts.left_out` of works in partitions, counted where they lie.

    The counts are summed over the partitions; reasons come in the order
    they are first met.
    """
    rules = Rules() if rules is None else rules
    meta = pd.DataFrame(
        {
            c: pd.Series([], dtype=d)
            for c, d in zip(LEFT_OUT_COLUMNS, ("object", "int64", "object"), strict=True)
        }
    )
    parts = _compute(client, works.frame.map_partitions(_left_out, works.crs, rules, meta=meta))
    if parts.empty:
        return meta
    total = parts.groupby(["reason", "part"], sort=False, as_index=False)["works"].sum()
    return total[list(LEFT_OUT_COLUMNS)].astype(
        {"reason": object, "works": "int64", "part": object}
    )


def read_conflicts(folder: str | Path) -> gpd.GeoDataFrame:
    """The answer a run wrote to ``folder``, gathered and sorted (as ``find_conflicts``)."""
    files = sorted(Path(folder).glob("part-*.parquet"))
    if not files:
        raise InputError(f"{folder} holds no part-*.parquet files of a conflict run")
    parts = [gpd.read_parquet(f) for f in files]
    crs = parts[0].crs
    frames = [pd.DataFrame(p.drop(columns=["bbox"], errors="ignore")) for p in parts]
    for frame in frames:
        frame["geometry"] = np.asarray(frame["geometry"].array, dtype=object)
    return _gathered(frames, _crs(crs) if crs is not None else None)


# --- on the client --------------------------------------------------------------------


def _kernel_columns(
    names: Sequence[str] | pd.Index, rules: Rules | None, carry: Sequence[str] = ()
) -> list[str]:
    wanted = list(KERNEL_COLUMNS)
    if rules is not None and rules.exempt_column is not None:
        wanted.append(rules.exempt_column)
    wanted.extend(carry)
    present = set(names)
    return [c for c in dict.fromkeys(wanted) if c in present]


def _first_file(path: str) -> str:
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*.parquet"))
        if not files:
            raise InputError(f"{path} holds no .parquet files")
        return str(files[0])
    if not p.exists():
        raise InputError(f"{path} does not exist")
    return str(p)


def _crs(value: Any) -> CRS:
    """``value`` as a CRS; a CRS is kept as it is (``CRS(crs)`` may drop ids of its PROJJSON)."""
    return value if isinstance(value, CRS) else CRS(value)


def _threads(client: Any) -> int:
    if client is None:
        return 1
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # a client that cannot tell (e.g. closing): one tile per worker is a guess
        return 1


def _compute(client: Any, work: Any) -> Any:
    """Compute a collection or a list of delayed on the client (or Dask's default scheduler)."""
    if client is None:
        if isinstance(work, list):
            return list(dask.compute(*work))
        return work.compute()
    if isinstance(work, list):
        return client.gather(client.compute(work))
    return client.compute(work).result()


def _refuse_duplicates(works: Works, twice: np.ndarray, client: Any) -> None:
    """Refuse works whose (org, work_id) is used twice, in any partitions, as the import does.

    ``twice`` holds the hashes of (org, work_id) met more than once; only the
    works with those hashes are read again, so that two different works
    whose hashes collide are never taken for one.
    """
    if not len(twice):
        return
    meta = pd.DataFrame(
        {s.ORG: pd.Series([], dtype=object), s.WORK_ID: pd.Series([], dtype=object)}
    )
    found = _compute(
        client,
        works.frame[[s.ORG, s.WORK_ID]].map_partitions(_keys_hashed, twice, meta=meta),
    )
    counts = found.value_counts(sort=False)
    dup = counts[counts > 1]
    if len(dup):
        org, work_id = dup.index[0]
        where = f" in {works.source}" if works.source else ""
        raise InputError(
            f"duplicate work_id '{work_id}' for org '{org}'{where} ({int(dup.iloc[0])} works, "
            f"{len(dup)} duplicated id(s) in all): every work needs its own work_id within its "
            "organisation; correct the works (ims-geo import rejects every duplicated row)"
        )


def _target_crs(works: Works, client: Any) -> CRS:
    """The working metric CRS, chosen from the works' extent as the single-machine engine does."""
    try:
        return check_metric(works.crs)
    except InputError:
        pass
    meta = pd.DataFrame(
        {c: pd.Series([], dtype="float64") for c in ("minx", "miny", "maxx", "maxy")}
    )
    extent = _compute(client, works.frame.map_partitions(_extent, meta=meta))
    if extent.empty or not np.isfinite(extent.to_numpy()).any():
        return _crs(works.crs)  # nothing to measure (as find_conflicts: no metric CRS needed)
    box = [extent["minx"].min(), extent["miny"].min(), extent["maxx"].max(), extent["maxy"].max()]
    corners = gpd.GeoDataFrame(
        geometry=shapely.points([box[0], box[2]], [box[1], box[3]]), crs=works.crs
    )
    return working_crs([corners])


def _gathered(frames: list[pd.DataFrame], crs: CRS | None) -> gpd.GeoDataFrame:
    """One conflicts frame of the parts, in the single-machine engine's order."""
    if not frames:
        return empty_conflicts(crs)
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(
        list(ORDER), ascending=[False, True, True, True, True], kind="stable"
    ).reset_index(drop=True)
    return normalised(frame, crs)


def normalised(frame: pd.DataFrame, crs: CRS | None) -> gpd.GeoDataFrame:
    """Pairs (geometries in column ``geometry``) in the single engine's dtypes and columns.

    Parts read back from Parquet or sent between processes may hold text
    in another string type and dates in milliseconds; ``frame`` is changed.
    """
    for column in CONFLICT_COLUMNS[:8]:
        frame[column] = frame[column].astype("str")
    for column in ("start_a", "end_a", "start_b", "end_b"):  # Parquet may widen to ms
        frame[column] = frame[column].astype("datetime64[s]")
    geometry = gpd.GeoSeries(frame.pop("geometry").to_numpy(dtype=object), crs=crs)
    return gpd.GeoDataFrame(frame[list(CONFLICT_COLUMNS[:-1])], geometry=geometry, crs=crs)


# --- in the workers -----------------------------------------------------------------


def _to_wkb(geoms: np.ndarray) -> np.ndarray:
    """WKB of each geometry (None stays None); keeps Z, and every coordinate bit for bit."""
    return shapely.to_wkb(geoms, output_dimension=3, include_srid=False)


def _wkb_series(geoms: np.ndarray) -> pd.Series:
    """WKB as an Arrow binary column: never mistaken for text when Dask converts strings."""
    return pd.Series(pd.array(_to_wkb(geoms), dtype=pd.ArrowDtype(pa.binary())))


def _geometries(part: pd.DataFrame) -> np.ndarray:
    """The WKB column decoded; bytes that are not WKB are the input's fault, said so."""
    try:
        return shapely.from_wkb(part[WKB].to_numpy(dtype=object, na_value=None))
    except (shapely.errors.GEOSException, TypeError, ValueError) as exc:
        raise InputError(
            f"a geometry of the works is not valid WKB ({exc}); write the works with "
            "ims-geo export --out works.parquet"
        ) from None


def _decode(
    part: pd.DataFrame, source: CRS, target: CRS, geoms: np.ndarray | None = None
) -> np.ndarray:
    """The partition's geometries (``geoms``, decoded already) in the working CRS."""
    geoms = _geometries(part) if geoms is None else geoms
    if source == target or not len(geoms):
        return geoms
    return np.asarray(gpd.GeoSeries(geoms, crs=source).to_crs(target).array, dtype=object)


def _extent(part: pd.DataFrame) -> pd.DataFrame:
    """The partition's envelope (NaN when it has no geometry)."""
    geoms = _geometries(part)
    box = shapely.total_bounds(geoms) if len(geoms) else np.full(4, np.nan)
    return pd.DataFrame([box], columns=["minx", "miny", "maxx", "maxy"])


def _left_out(part: pd.DataFrame, crs: CRS, rules: Rules) -> pd.DataFrame:
    """:func:`ims_geo.conflicts.left_out` of one partition."""
    geoms = _geometries(part)
    frame = gpd.GeoDataFrame(
        part.drop(columns=[WKB]).reset_index(drop=True), geometry=geoms, crs=crs
    )
    return left_out(frame, rules)


def _summary_of_boxes(part: pd.DataFrame) -> pd.DataFrame:
    """:func:`_summary` from a GeoParquet bbox struct column (Arrow-backed)."""
    column = part[part.columns[0]]
    bounds = np.column_stack(
        [column.struct.field(f).to_numpy(dtype=float, na_value=np.nan) for f in _BOX_FIELDS]
    )
    return _sampled(bounds, len(part))


def _summary(part: pd.DataFrame, source: CRS, target: CRS) -> pd.DataFrame:
    """A regular sample of the envelope centres (``n`` 0) and a row with the row count."""
    return _sampled(shapely.bounds(_decode(part, source, target)), len(part))


def _sampled(bounds: np.ndarray, rows: int) -> pd.DataFrame:
    ok = np.flatnonzero(np.isfinite(bounds).all(axis=1))
    step = max(1, math.ceil(len(ok) / SAMPLE_PER_PARTITION))
    b = bounds[ok[::step]]
    return pd.DataFrame(
        {
            "x": np.r_[(b[:, 0] + b[:, 2]) / 2, np.nan],
            "y": np.r_[(b[:, 1] + b[:, 3]) / 2, np.nan],
            "n": np.r_[np.zeros(len(b), np.int64), rows].astype(np.int64),
        }
    )


def _key_hashes(part: pd.DataFrame) -> pd.Series:
    """One 64-bit hash of (org, work_id) per work (missing values hash as missing)."""
    return pd.util.hash_pandas_object(_key_text(part), index=False).astype("uint64")


def _key_text(part: pd.DataFrame) -> pd.DataFrame:
    """(org, work_id) as text, the same whatever the file's string type."""
    return part[[s.ORG, s.WORK_ID]].astype("str")


def _keys_hashed(part: pd.DataFrame, wanted: np.ndarray) -> pd.DataFrame:
    """(org, work_id) of the works whose key hashes to one of ``wanted``."""
    text = _key_text(part)
    hit = np.isin(_key_hashes(part).to_numpy(), wanted)
    return text.loc[hit].astype(object).reset_index(drop=True)


def _checked(
    part: pd.DataFrame, geoms: np.ndarray, crs: CRS, source: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """The partition as :func:`ims_geo.schema.validate` leaves it; any rejected work refused.

    The values the import would store replace the file's (dates, defaults,
    repaired geometries), so the search sees what the single engine sees
    after the import.
    """
    frame = gpd.GeoDataFrame(
        part.drop(columns=[WKB]).reset_index(drop=True), geometry=geoms, crs=crs
    )
    result = s.validate(frame, source=source)
    if len(result.rejected):
        first = result.rejected.iloc[0]
        raise InputError(
            f"{source}: {len(result.rejected)} work(s) fail the checks of ims-geo import, "
            f"first work_id '{first.get(s.WORK_ID)}' of org '{first.get(s.ORG)}': "
            f"{first[s.REASON]}; correct them (ims-geo import lists every rejected row with "
            "its reason) and export the works again"
        )
    valid = result.valid
    # the checked columns as they are (Arrow text stays Arrow text: no Python strings made)
    out = pd.DataFrame({c: valid[c] for c in part.columns if c != WKB})
    checked = np.asarray(valid.geometry.array, dtype=object)
    wkb = part[WKB].array if not result.repaired else _wkb_series(checked).array
    out[WKB] = pd.Series(wkb, index=out.index)
    return _canonical(out[list(part.columns)]), checked


#: dtypes of the checked works' columns the rules read and the title (text columns: ``str``).
_CANONICAL: dict[str, str] = {
    s.START: "datetime64[s]", s.END: "datetime64[s]", s.EXCAVATION: "bool",
    s.DEPTH_MIN: "float64", s.DEPTH_MAX: "float64",
}  # fmt: skip


def _canonical(part: pd.DataFrame) -> pd.DataFrame:
    """The checked columns in the dtypes :func:`ims_geo.schema.validate` gives them.

    Every partition and the collection's meta agree on them, so the shuffle
    never casts a value to a file's own type (a text ``excavation`` column
    holds booleans once checked).
    """
    out = part.copy()
    for column in (c for c in (*KERNEL_COLUMNS, s.TITLE) if c in out):
        out[column] = out[column].astype(_CANONICAL.get(column, "str"))
    return out


def _copies(
    part: pd.DataFrame, source: CRS, target: CRS, tiling: Tiling, check: str | None
) -> pd.DataFrame:
    """One row per (work, tile) its grown envelope touches, with the tile number.

    ``check`` names the file when the works must first pass :func:`_checked`.
    """
    geoms = None
    if check is not None and len(part):
        part, geoms = _checked(part, _geometries(part), source, check)
    geoms = _decode(part, source, target, geoms)
    bounds = shapely.bounds(geoms)
    present = np.flatnonzero(np.isfinite(bounds).all(axis=1))  # no geometry: no part
    work, tile = tiling.copies(bounds[present])
    rows = present[work]
    out = part.iloc[rows].reset_index(drop=True)
    if source != target:
        out[WKB] = _wkb_series(geoms[rows])
    out[TILE] = tile
    return out


def _run_part(
    part: pd.DataFrame | list[pd.DataFrame],
    tile: int,
    tiling: Tiling,
    rules: Rules,
    crs_json: str,
    path: str | None,
    gather: bool,
    table: bool = False,
    twice: np.ndarray | None = None,
) -> tuple[pd.DataFrame | None, str | None, int, int, list[float], tuple[str, float, float, float]]:
    """The owned pairs of tile ``tile`` (the shuffled partition ``part``); written to ``path``.

    ``part`` may be the tile's pieces of every partition (:func:`_cut`). When
    ``twice`` holds any hash of an (org, work_id) met more than once, the run
    is refused (:func:`_refuse_duplicates`) and the tile does nothing.

    With ``table`` the tile writes its part of the exported table instead
    of its pairs, the titles taken from its own works. Returns the pairs (when ``gather``), the file written, the
    copies read, the number of pairs, the seconds of the tile's kernel and where
    and when the task ran (:func:`_ended`).
    """
    started = time.time()
    if twice is not None and len(twice):
        return None, None, 0, 0, [], _ended(began=started)
    if isinstance(part, list):
        part = pd.concat(part) if len(part) > 1 else part[0]
    if len(part) and not (part.index == tile).all():
        raise RuntimeError(f"partition {tile} of the shuffle holds works of another tile")
    crs = CRS.from_json(crs_json)
    titles = None  # the tile's works hold both works of each of its pairs
    if table and s.TITLE in part.columns:
        titles = part[[s.ORG, s.WORK_ID, s.TITLE]].reset_index(drop=True)
    began = time.perf_counter()
    # a tile that only writes its pairs has their geometries written as WKB by the kernel
    as_wkb = path is not None and not gather
    pairs, bounds = _tile_conflicts(part.reset_index(drop=True), tile, tiling, rules, crs, as_wkb)
    seconds = [time.perf_counter() - began]
    copies = len(part)
    del part  # the tile's works are done with: free them before the answer is written
    if not len(pairs):
        return None, None, copies, 0, seconds, _ended(0.0, started)
    written = None
    count = len(pairs)
    began = time.perf_counter()
    if path is not None and table:  # the exported table's rows of this tile
        from ims_geo.distributed.table import tile_table

        if bounds is None:
            written = _write(tile_table(normalised(_plain(pairs), crs), titles), path)
        else:
            written = _write(tile_table(pairs, titles, bounds, crs), path)
    elif path is not None:  # the kept rows keep the kernel's order: each file is sorted
        # the export's GeoParquet table (dates as dates): bounds once, types from the WKB
        written = _write(geoparquet_table(pairs, bounds=bounds, crs=crs), path)
    wrote = time.perf_counter() - began
    plain = _plain(pairs) if gather else None
    del pairs  # freed within the tile's span (hundreds of thousands of geometries)
    return plain, written, copies, count, seconds, _ended(wrote, started)


def _write(table: pa.Table, path: str) -> str:
    """``table`` written to ``path`` (Snappy; dictionaries for the texts that repeat)."""
    repeated = [c for c in _REPEATED if c in table.column_names]
    pq.write_table(table, path, compression="snappy", use_dictionary=repeated)
    return path


def _ended(wrote: float = 0.0, began: float = math.nan) -> tuple[str, float, float, float]:
    """This worker's address (the process id outside a cluster), the wall clock, ``wrote``, ``began``.

    ``wrote``: the seconds the tile took to write its file; ``began``: the
    wall clock when its task began.
    """
    try:
        from distributed import get_worker

        where = str(get_worker().address)
    except (ImportError, ValueError):  # not in a worker: the local scheduler
        import os

        where = str(os.getpid())
    return where, time.time(), wrote, began


def _cut(
    part: pd.DataFrame, source: CRS, target: CRS, tiling: Tiling, check: str | None
) -> tuple[Any, ...]:
    """A partition's copies (:func:`_copies`) cut by tile, and its works' key hashes.

    Piece k holds tile k's copies, indexed by k: row ranges of one reordered
    copy of the partition (a slice is sent without the rest of its arrays).
    The last two items are :func:`_key_hashes` of every work of the partition
    and the number of copies of each tile.
    """
    hashes = _key_hashes(part).to_numpy()
    copies = _copies(part, source, target, tiling, check)
    tile = copies[TILE].to_numpy()
    order = np.argsort(tile, kind="stable")
    edges = np.searchsorted(tile[order], np.arange(len(tiling) + 1))
    frame = copies.drop(columns=[TILE]).take(order)
    frame.index = pd.Index(tile[order], name=TILE)
    pieces = [frame.iloc[edges[k] : edges[k + 1]] for k in range(len(tiling))]
    return (*pieces, hashes, np.diff(edges))


def _summed(counts: list[np.ndarray]) -> np.ndarray:
    """The copies of each tile, summed over the partitions."""
    return np.sum(counts, axis=0) if counts else np.zeros(0, np.int64)


def _repeated(hashes: list[np.ndarray]) -> np.ndarray:
    """The hashes met more than once among all partitions' ``hashes``."""
    values, counts = np.unique(
        np.concatenate([np.zeros(0, np.uint64), *hashes]), return_counts=True
    )
    return values[counts > 1]


def _plain(pairs: gpd.GeoDataFrame) -> pd.DataFrame:
    """The pairs as a new plain frame, the geometries as objects (pickled as WKB: exact)."""
    plain = pd.DataFrame(pairs.drop(columns="geometry"))
    plain["geometry"] = np.asarray(pairs.geometry.array, dtype=object)
    return plain


def tile_conflicts(
    works: gpd.GeoDataFrame, tile: int, tiling: Tiling, rules: Rules
) -> gpd.GeoDataFrame:
    """The pairs among ``works`` (one tile's copies) that tile ``tile`` owns.

    ``works`` must be in a local metric CRS. Runs
    :func:`~ims_geo.conflicts.find_conflicts` unchanged (as
    :func:`~ims_geo.conflicts.find_conflict_rows`, which also tells each
    pair's two works) and keeps the rows
    whose reference point (:func:`~ims_geo.distributed.tiles.reference_points`)
    lies in the tile. The rows keep the kernel's order.
    """
    frame = pd.DataFrame(works.drop(columns=works.geometry.name))
    frame[WKB] = _to_wkb(np.asarray(works.geometry.array, dtype=object))
    pairs, _ = _tile_conflicts(frame, tile, tiling, rules, _crs(works.crs))
    return pairs


def _tile_conflicts(
    frame: pd.DataFrame, tile: int, tiling: Tiling, rules: Rules, crs: CRS, wkb: bool = False
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The owned pairs of one tile, in the kernel's order.

    With ``wkb`` the pairs' geometries are their WKB and their envelopes (n, 4)
    come second (:func:`~ims_geo.conflicts.find_conflict_rows`); else None.
    """
    geoms = _geometries(frame)
    attributes = frame.drop(columns=[WKB]).reset_index(drop=True)
    for column in (s.START, s.END):  # GeoParquet holds dates as dates: the kernel reads datetimes
        dtype = attributes[column].dtype if column in attributes else None
        if dtype is not None and not (
            isinstance(dtype, pd.DatetimeTZDtype)
            or (isinstance(dtype, np.dtype) and dtype.kind == "M")
        ):
            attributes[column] = pd.to_datetime(
                attributes[column].astype(object), errors="coerce"
            ).astype("datetime64[s]")
    works = gpd.GeoDataFrame(attributes, geometry=geoms, crs=crs)
    del frame, attributes
    _refuse_repeated(works)
    rows = find_conflict_rows(works, rules, workers=1, wkb=wkb)
    found = rows.frame
    if not len(found):
        return empty_conflicts(crs), rows.bounds
    bounds = shapely.bounds(geoms)
    px, py = reference_points(bounds[rows.rows_a], bounds[rows.rows_b], tiling.distance)
    own = np.flatnonzero(tiling.owns(tile, px, py))
    if len(own) == len(found):
        return found, rows.bounds
    kept = None if rows.bounds is None else rows.bounds[own]
    return found.take(own).reset_index(drop=True), kept


def _refuse_repeated(works: pd.DataFrame) -> None:
    """Refuse a tile whose works use one (organisation, work_id) twice.

    A pair is told by its works' keys (missing values match missing values,
    as :func:`ims_geo.export.first_rows` matches them): a work whose key an
    earlier work has is a work_id used twice.
    """
    keys = [works[column].astype("str") for column in (s.ORG, s.WORK_ID)]
    (first,) = first_rows(keys, [keys])
    again = np.flatnonzero(first != np.arange(len(works)))
    if len(again):  # the first work, in the works' order, that repeats an earlier key
        dup = int(again[0])
        raise InputError(
            f"duplicate work_id '{works[s.WORK_ID].iloc[dup]}' for org "
            f"'{works[s.ORG].iloc[dup]}': every work needs its own work_id within its "
            "organisation (pass the works through ims_geo.schema.validate)"
        )


__all__ = [
    "KERNEL_COLUMNS",
    "DaskRun",
    "Works",
    "find_conflicts_dask",
    "left_out_dask",
    "read_conflicts",
    "run",
    "tile_conflicts",
]
