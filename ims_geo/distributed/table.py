"""The exported table of a Dask run written by the tiles' tasks, joined into one GeoParquet file.

``ims-geo conflicts --engine dask --out answer.parquet`` never gathers the
pairs into the client: each tile's task makes its part of the table the
single engine exports (:func:`ims_geo.export.conflict_table`: both works'
titles, metres to the centimetre; :func:`ims_geo.export.geoparquet_table`:
its GeoParquet 1.1 columns and metadata) and writes it as a file, and the
client joins the files with Arrow alone (:func:`assemble`): one table, one
stable sort into the single engine's order, the ``geo`` metadata's extent
and geometry types joined from the parts' own, written as
:func:`ims_geo.export.write` writes ``.parquet``. No value is decoded into
Python objects in the client.

Why the file equals the single engine's: each row of a part is the row
:func:`~ims_geo.export.conflict_table` makes of the same pair (the row's
values depend on the pair and the titles only); the parts hold every pair
once (:mod:`ims_geo.distributed`); a stable sort on the keys of
:data:`~ims_geo.distributed.engine.ORDER`, after joining the parts in tile
order, gives the order :func:`~ims_geo.distributed.engine.find_conflicts_dask`
gives, which is the single engine's; the extent of all rows is the extent
of the parts' extents, and their geometry types the union of the parts'.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyproj import CRS

from ims_geo import export
from ims_geo.distributed.engine import ORDER


def tile_table(
    pairs: pd.DataFrame,
    works: pd.DataFrame | None,
    bounds: np.ndarray | None = None,
    crs: CRS | None = None,
) -> pa.Table:
    """One tile's pairs as the rows of the exported GeoParquet table (its Arrow table).

    ``works`` are the tile's works with their titles (org, work_id, title),
    or None when the works have no titles. With ``bounds``, ``pairs`` is a
    plain frame whose ``geometry`` holds the WKB the kernel wrote
    (:func:`ims_geo.conflicts.find_conflict_rows`), ``bounds`` their
    envelopes and ``crs`` their CRS.
    """
    return export.geoparquet_table(export.conflict_table(pairs, works), bounds=bounds, crs=crs)


@dataclass(frozen=True)
class Assembled:
    """The file :func:`assemble` wrote.

    Attributes
    ----------
    path
        The file.
    rows
        Its rows (the pairs).
    kinds
        Pairs per kind, most first (ties in the order first met), as
        ``pandas.Series.value_counts`` counts the answer's ``kind`` column.
    """

    path: Path
    rows: int
    kinds: pd.Series


def assemble(parts: Sequence[str | Path], out: str | Path) -> Assembled | None:
    """The tiles' table parts joined into the GeoParquet file ``out``, in the answer's order.

    Parameters
    ----------
    parts
        The files the tiles wrote (:class:`TableParts`), in tile order.
    out
        The ``.parquet`` file to write: the file a failed write would
        leave half written is written next to it and moved into place.

    Returns
    -------
    Assembled or None
        None when there is no part (no pair: the caller writes the empty
        table as the single engine does).
    """
    if not parts:
        return None
    tables = [pq.read_table(p) for p in parts]
    # a part whose pairs have no title holds a null column: the others' type wins
    table = pa.concat_tables(tables, promote_options="permissive")
    keys = [(ORDER[0], "descending", "at_end")] + [(k, "ascending", "at_end") for k in ORDER[1:]]
    order = pc.sort_indices(table, sort_keys=keys)  # stable, missing values last (as pandas)
    table = table.take(order)
    table = table.replace_schema_metadata(_metadata(tables, table.schema))
    target = export.write_geoparquet_table(table, out)
    return Assembled(target, table.num_rows, _kinds(table.column("kind")))


def _metadata(tables: Sequence[pa.Table], schema: pa.Schema) -> dict[bytes, bytes]:
    """The joined table's metadata: a part's ``pandas``, the ``geo`` of all parts."""
    plain = schema.remove_metadata()
    alike = [t for t in tables if t.schema.remove_metadata().equals(plain)]
    metadata = dict((alike or tables)[0].schema.metadata)
    geos = [json.loads(t.schema.metadata[b"geo"]) for t in tables]
    geo = geos[0]
    column = geo["columns"][geo["primary_column"]]
    given = [g["columns"][g["primary_column"]].get("bbox") for g in geos]
    boxes = np.array([b for b in given if b is not None], dtype=float).reshape(-1, 4)
    export.with_extent(column, boxes)  # the extent of every row: that of the parts' extents
    types = {t for g in geos for t in g["columns"][g["primary_column"]]["geometry_types"]}
    column["geometry_types"] = sorted(types)
    metadata[b"geo"] = json.dumps(geo).encode("utf-8")
    return metadata


def _kinds(kind: pa.ChunkedArray) -> pd.Series:
    """Pairs per kind, most first, ties in the order first met (as ``value_counts``)."""
    counted = pc.value_counts(kind)  # in the order first met
    values = counted.field("values").to_pylist()
    counts = np.asarray(counted.field("counts"), dtype=np.int64)
    at = np.argsort(-counts, kind="stable")
    return pd.Series(counts[at], index=pd.Index([values[i] for i in at], name="kind"), name="count")


__all__ = ["Assembled", "assemble", "tile_table"]
