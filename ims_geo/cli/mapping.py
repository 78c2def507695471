"""``ims-geo mapping``: column mapping files for real exports."""

from __future__ import annotations

from pathlib import Path

import click

from ims_geo.cli import _fail, _handle_errors, _local_limits, main


@main.group("mapping")
def mapping_group() -> None:
    """Column mapping files (TOML): which column of a file is which works column."""


@mapping_group.command("suggest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Write the mapping here (default: print it).",
)
@click.option("--layer", help="Layer of a GeoPackage or zip (default: the first).")
@click.option("--encoding", help="Text encoding of the attributes (default: detected).")
@click.option("--force", is_flag=True, help="Overwrite --out when it exists.")
@_handle_errors
def suggest_cmd(
    file: str, out: str | None, layer: str | None, encoding: str | None, force: bool
) -> None:
    """Write a starter mapping for FILE: matched columns and every raw value to translate.

    Columns are matched by name and alias, then by name hints checked on
    the values; for discipline, layer, status, visibility and excavation
    each distinct raw value is listed with its count and a proposed
    canonical value. Edit it, then: ims-geo import FILE --mapping OUT.
    """
    from ims_geo.ingest.suggest import suggest_mapping

    if out and Path(out).exists() and not force:
        _fail(f"{out} exists; choose another --out or add --force to overwrite it")
    suggestion = suggest_mapping(file, layer=layer, encoding=encoding, limits=_local_limits())
    text = suggestion.to_toml()
    if out is None:
        click.echo(text, nl=False)
        return
    Path(out).write_text(text, encoding="utf-8")
    found = ", ".join(f"{k} <- {' / '.join(v)}" for k, v in suggestion.columns.items())
    click.echo(f"Mapping for {suggestion.source} written to {out}", err=True)
    click.echo(f"  columns: {found or 'none recognised'}", err=True)
    if suggestion.work_id_from:
        parts = ", ".join(suggestion.work_id_from)
        click.echo(f"  work_id: composed from {parts} ([work_id_from])", err=True)
    for column, table in suggestion.values.items():
        click.echo(f"  {column}: {len(table)} raw values to check", err=True)
    click.echo(f"Check it, then: ims-geo import {file} --mapping {out}", err=True)
