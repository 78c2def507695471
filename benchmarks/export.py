"""The answer's table and its files: what ``ims-geo conflicts --out`` spends after the search.

For each size, the works of the project's generator (``benchmarks/generate.py``,
cached as GeoParquet by ``benchmarks/scale.py``) are read, checked as the
import checks them (:func:`ims_geo.schema.validate`) and searched once with
:func:`ims_geo.conflicts.find_conflicts` (not timed here). Then, in this
one process, each step the command takes after the search is timed, with
its peak resident memory above the memory held before it (the kernel's
high-water mark, reset before each step through ``/proc/self/clear_refs``,
after the C library has given back the memory freed before):

``table``
    :func:`ims_geo.export.conflict_table` (both works' titles, metres to
    the centimetre).
``write <format>``
    :func:`ims_geo.export.write` of that table to ``.parquet`` (GeoParquet
    1.1), ``.gpkg``, ``.csv`` (and, when asked, ``.geojson``); XLSX holds at
    most 1,048,576 rows, fewer than the answer's at 1M works.
``free``
    dropping the table, the answer and the works, as the command's frames
    are dropped when it returns (mostly the geometries' own memory).

The files go to ``--folder`` (default ``benchmarks/out/export``); on a
shared disk the write-back of one file can stall the next write, so
``--folder /dev/shm`` times the work of the writers alone.

With ``--before REV`` every step also runs with ``ims_geo/export.py`` as it
was at git revision ``REV`` (loaded from ``git show``, the rest of the
package as it is now), the two alternating step by step, and the files the
two write are compared: GeoParquet by schema with its metadata (``geo`` and
``pandas``), row groups and every value; GeoPackage by its fields, their
types, geometry type, CRS and every row read back; CSV byte for byte.

Every timed run takes the machine-wide lock and a session of its own whose
scheduling group has the priority (see ``benchmarks/scale.py``)::

    flock /tmp/ims_measure.lock setsid bash -c \\
        'echo -15 > /proc/self/autogroup; exec .venv/bin/python benchmarks/export.py \\
         --sizes 100000 1000000 --before 79dda8c --folder /dev/shm/ims_export'

The report is written to ``benchmarks/out/export/export.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import filecmp
import gc
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scale import data, machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "export"
FORMATS = ("parquet", "gpkg", "csv", "geojson")
GB = 1e9


def _status() -> dict[str, int]:
    """Resident memory now and its high-water mark, in bytes (``/proc/self/status``)."""
    found = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":")
                found[key] = int(value.split()[0]) * 1024
    return found


def measure(step: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    """``step()``, its wall time, and resident memory: its peak and what it kept, above before."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # memory freed before the step goes back first
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the high-water mark starts again at the resident memory
    before = _status()["VmRSS"]
    t0 = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - t0
    after = _status()
    return result, {
        "s": round(seconds, 3),
        "peak_gb": round((after["VmHWM"] - before) / GB, 3),
        "kept_gb": round((after["VmRSS"] - before) / GB, 3),
    }


def module_at(rev: str) -> ModuleType:
    """``ims_geo/export.py`` as it was at git revision ``rev``, as a module of its own."""
    text = subprocess.run(
        ["git", "show", f"{rev}:ims_geo/export.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "export_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("export_before", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same_files(fmt: str, a: Path, b: Path) -> bool:
    """Whether two exports of one format hold the same content (see the module's notes)."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    import pyogrio

    if fmt == "parquet":
        one, two = pq.ParquetFile(a), pq.ParquetFile(b)
        return bool(
            one.schema_arrow.equals(two.schema_arrow, check_metadata=True)
            and one.metadata.num_row_groups == two.metadata.num_row_groups
            and one.read().equals(two.read())
        )
    if fmt in ("gpkg", "geojson"):
        one_info, two_info = pyogrio.read_info(a), pyogrio.read_info(b)
        for key in ("fields", "dtypes", "geometry_type", "crs", "features"):
            if not np.array_equal(one_info[key], two_info[key]):
                return False
        pd.testing.assert_frame_equal(
            pyogrio.read_dataframe(a, use_arrow=True), pyogrio.read_dataframe(b, use_arrow=True)
        )
        return True
    return filecmp.cmp(a, b, shallow=False)


def run(
    n: int, seed: int, formats: list[str], before: ModuleType | None, folder: Path
) -> dict[str, Any]:
    """Every step at ``n`` works, with the current module and (given) the one ``before``.

    The files are written to ``folder`` and deleted once compared.
    """
    import geopandas as gpd

    from ims_geo import export
    from ims_geo.conflicts import find_conflicts
    from ims_geo.schema import validate

    t0 = time.perf_counter()
    # only in this dict: dropping an entry frees the frame (the last step times that)
    frames = {"works": validate(gpd.read_parquet(data(n, seed))).valid}
    frames["answer"] = find_conflicts(frames["works"])
    row: dict[str, Any] = {
        "n": n,
        "works": len(frames["works"]),
        "pairs": len(frames["answer"]),
        "search_s": round(time.perf_counter() - t0, 1),
        "load_before": machine()["load_average"],
    }
    print(json.dumps(row), flush=True)
    modules = {"now": export} if before is None else {"before": before, "now": export}
    for name, module in modules.items():
        frames[f"table {name}"], row[f"table {name}"] = measure(
            lambda m=module: m.conflict_table(frames["answer"], frames["works"])
        )
        print(name, "table", row[f"table {name}"], flush=True)
    if before is not None:
        import pandas as pd

        pd.testing.assert_frame_equal(frames["table before"], frames["table now"], check_exact=True)
        row["table equal"] = True
        del frames["table before"]
    folder.mkdir(parents=True, exist_ok=True)
    for i, fmt in enumerate(formats):
        paths = {name: folder / f"{name}.{fmt}" for name in modules}
        order = list(modules.items())
        for name, module in order if i % 2 == 0 else order[::-1]:  # neither always first
            _, row[f"write {fmt} {name}"] = measure(
                lambda m=module, p=paths[name]: m.write(frames["table now"], p, layer="conflicts")
            )
            print(name, fmt, row[f"write {fmt} {name}"], flush=True)
        if before is not None:
            row[f"{fmt} equal"] = same_files(fmt, paths["before"], paths["now"])
            print(fmt, "equal:", row[f"{fmt} equal"], flush=True)
        for path in paths.values():
            path.unlink()
    for name in ("table now", "answer", "works"):  # as the command's frames when it returns
        _, row[f"free {name}"] = measure(lambda k=name: frames.__delitem__(k))
        print("free", name, row[f"free {name}"], flush=True)
    row["load_after"] = machine()["load_average"]
    return row


def main(argv: list[str] | None = None) -> int:
    """Command line: the steps at each size, the report in ``benchmarks/out/export``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=["parquet", "gpkg", "csv"])
    parser.add_argument("--before", metavar="REV", help="also time ims_geo/export.py at REV")
    parser.add_argument("--report", type=Path, default=OUT / "export.json")
    parser.add_argument(
        "--folder",
        type=Path,
        default=OUT,
        help="where the files are written (e.g. /dev/shm: the disk's write-back left out)",
    )
    args = parser.parse_args(argv)
    before = module_at(args.before) if args.before else None
    report: dict[str, Any] = {
        "machine": machine(),
        "before": args.before,
        "folder": str(args.folder),
        "runs": [],
    }
    for n in args.sizes:
        report["runs"].append(run(n, args.seed, args.formats, before, args.folder / str(n)))
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
