"""``ims-geo conflicts --out answer.parquet``: the geometries go from the search to the file as
WKB, and the file is the one the answer's geometries give."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from test_distributed_cli import assert_same_geoparquet, ims_geo, titled_works

from ims_geo import export
from ims_geo.conflicts import find_conflicts
from ims_geo.ingest import read_works


def test_the_geoparquet_answer_is_the_file_of_the_answers_geometries(tmp_path: Path) -> None:
    works = titled_works(1500, seed=21)
    gpkg = tmp_path / "works.gpkg"
    export.write(works, gpkg, layer="works")
    got = tmp_path / "got.parquet"
    result = ims_geo("conflicts", gpkg, "--out", got, "--internal")
    assert result.exit_code == 0, result.output
    # the works as the command reads them, the answer with its geometries, written by export
    read = read_works(gpkg)
    assert not len(read.rejected)
    answer = find_conflicts(read.works, internal=True)
    assert len(answer) > 300 and answer.geom_type.nunique() >= 2
    want = export.write(export.conflict_table(answer, read.works), tmp_path / "want.parquet")
    assert_same_geoparquet(got, want)
    assert f"{len(answer)} conflicts (" in result.stderr
    assert pq.read_metadata(got).num_rows == len(answer)
