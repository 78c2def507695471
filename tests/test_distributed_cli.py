"""``ims-geo conflicts --engine dask`` through click's CliRunner, on real files.

The single engine's output file is the oracle: the Dask engine writes the
same file, byte for byte, on a local cluster it starts (``--workers``) and
on the test session's cluster (``--scheduler``, see ``dask_client`` in
tests/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from click.testing import CliRunner, Result
from test_distributed import X0, Y0, assert_same, street_works

from ims_geo import export
from ims_geo.cli import main
from ims_geo.conflicts import find_conflicts
from ims_geo.distributed import read_conflicts


def ims_geo(*args: Any) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_local_cluster_with_workers_writes_the_single_engine_file(tmp_path: Path) -> None:
    works = street_works(1500, seed=11)
    source = tmp_path / "works.gpkg"
    export.write(works, source, layer="works")
    single, dask = tmp_path / "single.csv", tmp_path / "dask.csv"
    assert ims_geo("conflicts", source, "--out", single, "--internal").exit_code == 0
    # the installed command in a process of its own: the local cluster's worker processes
    # start from a clean interpreter, as they do for a user (not from the test process,
    # whose __main__ may be another program's, e.g. the app run by AppTest)
    command = Path(sys.executable).with_name("ims-geo")
    result = subprocess.run(
        [command, "conflicts", source, "--out", dask, "--internal", "--engine", "dask",
         "--workers", "2", "--tiles", "5"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Dask engine on a local cluster of 2 workers" in result.stderr
    assert "5 tiles" in result.stderr
    assert dask.read_bytes() == single.read_bytes()
    assert len(single.read_text().splitlines()) > 500


def test_existing_cluster_reads_geoparquet_in_partitions(dask_client: Any, tmp_path: Path) -> None:
    works = street_works(2500, seed=12)
    gpkg, parquet = tmp_path / "works.gpkg", tmp_path / "works.parquet"
    export.write(works, gpkg, layer="works")
    works.to_parquet(parquet, row_group_size=400, write_covering_bbox=True, schema_version="1.1.0")
    single, dask = tmp_path / "single.gpkg", tmp_path / "dask.gpkg"
    assert ims_geo("conflicts", gpkg, "--out", single).exit_code == 0
    address = dask_client.scheduler.address
    assert address.startswith("tcp://")
    parts = tmp_path / "parts"
    result = ims_geo(
        "conflicts", parquet, "--out", dask, "--engine", "dask", "--scheduler", address,
        "--tiles", 4, "--parts", parts,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Dask engine on {address}" in result.stderr
    assert "Read 2500 works in 7 partitions" in result.stderr
    want, got = gpd.read_file(single), gpd.read_file(dask)
    assert len(want) > 500
    assert_same(got, want)
    # the partitioned answer is the engine's answer before the table's rounding
    assert_same(read_conflicts(parts), find_conflicts(works))
    assert result.stderr.splitlines()[-1] == ims_geo_left_out(gpkg)


def ims_geo_left_out(path: Path) -> str:
    """The left-out sentence the single engine prints for the works in ``path``."""
    out = path.with_suffix(".csv")
    return ims_geo("conflicts", path, "--out", out).stderr.splitlines()[-1]


def test_dask_options_without_the_dask_engine_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "works.gpkg"
    export.write(street_works(20, seed=1), source, layer="works")
    result = ims_geo("conflicts", source, "--out", tmp_path / "x.csv", "--workers", 2)
    assert result.exit_code == 2
    assert "--workers: only with --engine dask" in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_scheduler_and_workers_together_or_a_bad_address_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "works.gpkg"
    export.write(street_works(20, seed=1), source, layer="works")
    both = ims_geo(
        "conflicts", source, "--out", tmp_path / "x.csv", "--engine", "dask",
        "--scheduler", "tcp://127.0.0.1:8786", "--workers", 2,
    )  # fmt: skip
    assert both.exit_code == 2 and "not both" in both.stderr
    bad = ims_geo(
        "conflicts", source, "--out", tmp_path / "x.csv", "--engine", "dask",
        "--scheduler", "127.0.0.1; rm -rf /",
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "is not a Dask scheduler address; give it as tcp://HOST:PORT" in bad.stderr
    assert "Traceback" not in bad.output


def test_store_exported_per_organisation_is_searched_on_the_cluster(
    dask_client: Any, tmp_path: Path
) -> None:
    works = street_works(1200, seed=13)
    store = tmp_path / "store.gpkg"
    for org in sorted(set(works["org"])):
        plan = tmp_path / f"plan-{org}.gpkg"
        export.write(works[works["org"] == org], plan, layer="works")
        assert ims_geo("import", plan, "--store", store).exit_code == 0
    # GeoParquet 1.1 with the bbox covering column, one file per organisation
    out = tmp_path / "works.parquet"
    result = ims_geo("export", "--out", out, "--by-org", "--store", store)
    assert result.exit_code == 0, result.output
    files = [Path(line) for line in result.stdout.splitlines()]
    assert [f.name for f in files] == [f"works.{k:05d}.parquet" for k in range(5)]
    meta = json.loads(pq.read_schema(files[0]).metadata[b"geo"])
    assert meta["version"] == "1.1.0"
    assert meta["columns"]["geometry"]["covering"]["bbox"]["ymax"] == ["bbox", "ymax"]
    # the store's answer on one machine, and on the cluster from the files
    single, dask = tmp_path / "single.csv", tmp_path / "dask.csv"
    assert ims_geo("conflicts", "--out", single, "--store", store).exit_code == 0
    address = dask_client.scheduler.address
    result = ims_geo("conflicts", *files, "--out", dask, "--engine", "dask", "--scheduler", address)
    assert result.exit_code == 0, result.output
    assert "in 5 partitions" in result.stderr
    # the files hold the works, not the store's moratoria layer (empty here): the same rows
    want = pd.read_csv(single, dtype=str, keep_default_na=False)
    assert (want.pop("moratorium_id") == "").all()
    got = pd.read_csv(dask, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got, want)
    # and the store itself, with its moratoria layer, through the Dask engine
    direct = tmp_path / "direct.csv"
    result = ims_geo(
        "conflicts", "--out", direct, "--store", store, "--engine", "dask", "--scheduler", address
    )
    assert result.exit_code == 0, result.output
    assert direct.read_bytes() == single.read_bytes()
    assert len(single.read_text().splitlines()) > 200


def test_by_org_needs_parquet_and_no_other_options(tmp_path: Path) -> None:
    store = tmp_path / "store.gpkg"
    result = ims_geo("export", "--out", tmp_path / "w.gpkg", "--by-org", "--store", store)
    assert result.exit_code == 2 and "give a .parquet path" in result.stderr
    result = ims_geo(
        "export", "--out", tmp_path / "w.parquet", "--by-org", "--org", "Gas", "--store", store
    )
    assert result.exit_code == 2 and "without --org and --lang" in result.stderr


def test_geoparquet_with_a_work_id_used_twice_is_refused_as_the_import_rejects_it(
    dask_client: Any, tmp_path: Path
) -> None:
    works = street_works(50, seed=1)
    works.loc[40, ["org", "work_id"]] = works.loc[3, ["org", "work_id"]].to_numpy()
    gpkg, parquet = tmp_path / "works.gpkg", tmp_path / "works.parquet"
    export.write(works, gpkg, layer="works")
    works.to_parquet(parquet, row_group_size=20, write_covering_bbox=True, schema_version="1.1.0")
    # the import rejects both rows, with this reason each
    rejects = tmp_path / "rejects.csv"
    single = ims_geo("conflicts", gpkg, "--out", tmp_path / "s.csv", "--rejects", rejects)
    assert single.exit_code == 0, single.output
    reasons = pd.read_csv(rejects)["reason"].tolist()
    message = f"duplicate work_id '{works.loc[3, 'work_id']}' for org '{works.loc[3, 'org']}'"
    assert reasons == [message, message]
    # the Dask engine refuses the file (rows 3 and 40 lie in row groups 0 and 2)
    out = tmp_path / "d.csv"
    refused = ims_geo(
        "conflicts", parquet, "--out", out, "--engine", "dask",
        "--scheduler", dask_client.scheduler.address, "--tiles", 3,
    )  # fmt: skip
    assert refused.exit_code == 2
    assert f"Error: {message} in {parquet} (2 works, 1 duplicated id(s) in all)" in refused.stderr
    assert "Traceback" not in refused.output
    assert not out.exists()


def titled_works(n: int, seed: int) -> gpd.GeoDataFrame:
    """:func:`street_works` with titles on the western half only (the east has none)."""
    works = street_works(n, seed=seed)
    west = works.geometry.centroid.x < works.geometry.centroid.x.median()
    works["title"] = np.where(west, "Renewal " + works["work_id"] + " ë", None)
    return works


def geoparquet_input(works: gpd.GeoDataFrame, folder: Path) -> tuple[Path, Path]:
    """``works`` as GeoPackage (for the single engine) and GeoParquet in row groups."""
    gpkg, parquet = folder / "works.gpkg", folder / "works.parquet"
    export.write(works, gpkg, layer="works")
    works.to_parquet(parquet, row_group_size=300, write_covering_bbox=True, schema_version="1.1.0")
    return gpkg, parquet


def assert_same_geoparquet(got: Path, want: Path) -> None:
    """Two GeoParquet files with the same schema, metadata, row groups and rows."""
    a, b = pq.ParquetFile(got), pq.ParquetFile(want)
    assert a.schema_arrow.equals(b.schema_arrow, check_metadata=True)
    assert a.schema_arrow.metadata == b.schema_arrow.metadata
    assert a.metadata.num_row_groups == b.metadata.num_row_groups
    assert a.read().equals(b.read())  # every column, the geometry's WKB, the order


def test_geoparquet_out_is_joined_from_the_workers_parts(dask_client: Any, tmp_path: Path) -> None:
    works = titled_works(2500, seed=14)
    gpkg, parquet = geoparquet_input(works, tmp_path)
    single = tmp_path / "single.parquet"
    want = ims_geo("conflicts", gpkg, "--out", single)
    assert want.exit_code == 0, want.output
    address = dask_client.scheduler.address
    parts, dask = tmp_path / "parts", tmp_path / "out" / "dask.parquet"
    result = ims_geo(
        "conflicts", parquet, "--out", dask, "--engine", "dask", "--scheduler", address,
        "--tiles", 6, "--parts", parts,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_same_geoparquet(dask, single)
    table = pq.read_table(single)
    assert table.num_rows > 500
    titles = table.column("title_a").to_pandas()
    assert titles.notna().any() and titles.isna().any()
    # the summary line and the left-out line are the single engine's
    assert result.stderr.splitlines()[-2] == want.stderr.splitlines()[-2].replace(
        str(single), str(dask)
    )
    assert result.stderr.splitlines()[-1] == want.stderr.splitlines()[-1]
    # the kept parts are the table's rows, tile by tile
    files = sorted(parts.glob("part-*.parquet"))
    assert 1 < len(files) <= 6
    rows = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    key = ["org_a", "work_id_a", "org_b", "work_id_b", "kind"]
    got = rows.drop_columns(["geometry", "bbox"]).to_pandas().sort_values(key)
    expected = table.drop_columns(["geometry", "bbox"]).to_pandas().sort_values(key)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    # without --parts the parts go to a folder next to --out, removed afterwards
    again = tmp_path / "again" / "dask.parquet"
    result = ims_geo(
        "conflicts", parquet, "--out", again, "--engine", "dask", "--scheduler", address,
        "--tiles", 3,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_same_geoparquet(again, single)
    assert [p.name for p in again.parent.iterdir()] == ["dask.parquet"]


def test_geoparquet_out_of_other_input_and_of_no_pair(dask_client: Any, tmp_path: Path) -> None:
    # in Helsinki's metric CRS, whose PROJJSON (in the file's metadata) has ids WKT would lose
    works = titled_works(900, seed=15)
    works = works.set_geometry(works.translate(385_000 - X0, 6_672_000 - Y0)).set_crs(
        "EPSG:3067", allow_override=True
    )
    gpkg, _ = geoparquet_input(works, tmp_path)
    address = dask_client.scheduler.address
    single, dask = tmp_path / "single.parquet", tmp_path / "dask.parquet"
    assert ims_geo("conflicts", gpkg, "--out", single, "--internal").exit_code == 0
    result = ims_geo(
        "conflicts", gpkg, "--out", dask, "--internal", "--engine", "dask",
        "--scheduler", address, "--tiles", 4,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pq.read_metadata(single).num_rows > 100
    assert_same_geoparquet(dask, single)
    # works too far apart for any pair: the empty table, as the single engine writes it
    apart = works.iloc[:12].copy()
    apart["geometry"] = shapely.points(np.arange(12) * 1000.0 + 385_000, 6_672_000.0)
    gpkg, parquet = geoparquet_input(apart, tmp_path / "apart")
    single, dask = tmp_path / "apart" / "single.parquet", tmp_path / "apart" / "dask.parquet"
    want = ims_geo("conflicts", gpkg, "--out", single)
    assert want.exit_code == 0, want.output
    result = ims_geo(
        "conflicts", parquet, "--out", dask, "--engine", "dask", "--scheduler", address
    )
    assert result.exit_code == 0, result.output
    assert pq.read_metadata(single).num_rows == 0
    assert_same_geoparquet(dask, single)
    assert "0 conflicts (none) written to" in result.stderr


def test_headers_in_a_language_through_the_dask_engine(dask_client: Any, tmp_path: Path) -> None:
    works = titled_works(600, seed=16)
    gpkg, parquet = geoparquet_input(works, tmp_path)
    address = dask_client.scheduler.address
    single, dask = tmp_path / "single.csv", tmp_path / "dask.csv"
    assert ims_geo("conflicts", gpkg, "--out", single, "--lang", "nl").exit_code == 0
    result = ims_geo(
        "conflicts", parquet, "--out", dask, "--lang", "nl", "--engine", "dask",
        "--scheduler", address,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert dask.read_bytes() == single.read_bytes()
    assert "work_id_a" not in single.read_text().splitlines()[0]
    # GeoParquet keeps the canonical names: refused before any work, by both engines
    for engine in ("single", "dask"):
        out = tmp_path / f"{engine}.parquet"
        refused = ims_geo("conflicts", parquet, "--out", out, "--lang", "nl", "--engine", engine)
        assert refused.exit_code == 2
        assert "--lang applies to .csv and .xlsx files" in refused.stderr
        assert not out.exists()
