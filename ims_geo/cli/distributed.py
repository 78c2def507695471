"""``ims-geo conflicts --engine dask``: the conflict search on a Dask cluster.

The options live on the ``conflicts`` command (``ims_geo/cli/__init__.py``);
this module runs them. INPUT files that are all GeoParquet (``.parquet``, as
``ims-geo export --out works.parquet`` writes them) are read by the workers
in partitions, never as one frame; other INPUT files go through the ingest
as with the single engine; without INPUT the store's current works are
searched with the store's moratoria layer, as the single engine does.

When INPUT is given and ``--out`` is GeoParquet, the pairs are never
gathered into this process: each tile's task writes its part of the
exported table and the parts are joined into ``--out``
(:mod:`ims_geo.distributed.table`); the parts are kept in ``--parts`` or
written to a temporary folder next to ``--out`` and removed. A cluster of
other machines (``--scheduler``) must then write to a folder this machine
reads: give ``--parts`` on a shared file system.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pandas as pd

from ims_geo import schema


@dataclass(frozen=True)
class DaskOptions:
    """What ``--engine dask`` was given."""

    scheduler: str | None = None
    workers: int | None = None
    tiles: int | None = None
    parts: str | None = None

    def given(self) -> list[str]:
        """The options of the Dask engine given on the command line."""
        names = ("--scheduler", "--workers", "--tiles", "--parts")
        values = (self.scheduler, self.workers, self.tiles, self.parts)
        return [n for n, v in zip(names, values, strict=True) if v is not None]


@dataclass
class DaskAnswer:
    """What ``--engine dask`` found.

    Attributes
    ----------
    conflicts
        The conflicts (as the single engine), or None when the workers
        wrote ``--out`` themselves.
    titles
        The works or, for GeoParquet read in partitions, only their org,
        work_id and title columns (for the titles of the table).
    left
        The sentence of :func:`ims_geo.conflicts.describe_left_out`.
    written
        ``--out`` as the workers' parts made it, when they did.
    """

    conflicts: Any
    titles: pd.DataFrame | None
    left: str
    written: Any = None


def dask_conflicts(
    inputs: Sequence[str],
    orgs: Sequence[str],
    rules: Any,
    internal: bool,
    read: Any,
    store_path: str,
    options: DaskOptions,
    out: str | None = None,
) -> DaskAnswer:
    """The conflicts found on Dask (``--parts`` written), with the works' titles.

    With INPUT and a GeoParquet ``out``, the workers write the exported
    table's parts and ``out`` is joined from them (nothing is gathered).
    """
    from ims_geo import export
    from ims_geo.cli import _fail, _left_out_line, _open_store, _read_inputs
    from ims_geo.conflicts import describe_left_out, empty_conflicts
    from ims_geo.distributed import Works, left_out_dask, run
    from ims_geo.distributed.cluster import dask_client
    from ims_geo.distributed.table import assemble

    partitioned = bool(inputs) and all(Path(p).suffix.lower() == ".parquet" for p in inputs)
    if partitioned and orgs:
        _fail(
            "--org does not apply to GeoParquet INPUT read in partitions: it carries its org column"
        )
    if not inputs and options.parts is not None:
        _fail("--parts writes the answer of INPUT files; the store's answer goes to --out")
    direct = bool(inputs) and out is not None and export.format_of(out) == "parquet"
    folder = options.parts
    if direct and folder is None:  # the parts' temporary folder: on the disk of --out
        assert out is not None
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        folder = tempfile.mkdtemp(prefix=".parts-", dir=Path(out).parent)
    figures: list[Any] = []
    written = None
    try:
        with dask_client(options.scheduler, options.workers) as client:

            def finder(works: Any, rules: Any, *, internal: bool | None = None) -> Any:
                found = run(
                    works, rules, internal=internal, client=client, tiles=options.tiles,
                    out_dir=folder, gather=not direct, table=direct,
                )  # fmt: skip
                figures.append(found)
                return found.conflicts

            where = options.scheduler or f"a local cluster of {len(client.nthreads())} workers"
            click.echo(f"Dask engine on {where}", err=True)
            if partitioned:
                # the titles travel with the works to their tiles when the tiles write --out
                source = Works.read_parquet(list(inputs), rules, (schema.TITLE,) if direct else ())
                conflicts = finder(source, rules, internal=internal or None)
                titles = None if direct else _titles(inputs)
                left = describe_left_out(left_out_dask(source, rules, client), figures[-1].works)
                click.echo(
                    f"Read {figures[-1].works} works in {source.frame.npartitions} partitions",
                    err=True,
                )
            else:
                titles = _read_inputs(inputs, store_path, read, orgs)
                left = _left_out_line(titles, rules)
                if inputs:
                    conflicts = finder(titles, rules, internal=internal or None)
                else:  # the store's works with its moratoria layer, as the single engine
                    from ims_geo.cycle.moratoria import store_conflicts

                    store = _open_store(store_path)
                    conflicts = store_conflicts(
                        store, titles, rules, internal=internal or None, finder=finder
                    )
        if direct:  # the workers' parts joined into --out; no pair: the single engine's table
            assert out is not None
            written = assemble(figures[-1].files, out)
            if written is None:
                conflicts = empty_conflicts(figures[-1].crs)
                titles = _titles(inputs) if partitioned else titles
    finally:
        if direct and options.parts is None:
            shutil.rmtree(folder, ignore_errors=True)  # type: ignore[arg-type]
    if figures:
        last = figures[-1]
        click.echo(f"{last.tiles} tiles, {last.copy_ratio:.3f} copies per work (halo)", err=True)
    if options.parts is not None:
        click.echo(f"Partitioned GeoParquet written to {options.parts}", err=True)
    return DaskAnswer(conflicts, titles, left, written)


def _titles(inputs: Sequence[str]) -> pd.DataFrame | None:
    """org, work_id and title of GeoParquet works (three columns, not the whole file)."""
    import pyarrow.parquet as pq

    names = pq.read_schema(inputs[0]).names
    if schema.TITLE not in names:
        return None
    columns = [schema.ORG, schema.WORK_ID, schema.TITLE]
    return pd.concat([pd.read_parquet(p, columns=columns) for p in inputs], ignore_index=True)


__all__ = ["DaskAnswer", "DaskOptions", "dask_conflicts"]
