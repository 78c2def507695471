"""Scale: the conflict search on one machine against Dask distributed, on the same works.

For each size, the works of the project's generator (``benchmarks/generate.py``,
the street network tiled over a larger area) are written once as GeoParquet
1.1 (row groups of 100,000 works, bbox covering column) and then searched
twice, each in its own process so that its peak memory is its own:

``single``
    ``geopandas.read_parquet`` + :func:`ims_geo.conflicts.find_conflicts`
    (two threads, as by default), the answer in memory.
``dask``
    a ``LocalCluster`` of ``--workers`` worker processes (one thread each),
    started as ``ims-geo conflicts --engine dask --workers N`` starts it
    (:func:`ims_geo.distributed.cluster.dask_client`),
    :class:`ims_geo.distributed.Works` read in partitions (and checked as
    the import checks them), :func:`ims_geo.distributed.run` writing the
    answer as partitioned GeoParquet (nothing gathered); the cluster's start
    is timed apart.

Both write one 64-bit hash per row of their answer (every column, the
geometry as WKB) in the answer's order; the two hash files are compared
element by element: equal means the same rows in the same order.

Reported per run: wall time, peak resident memory of each process (the
client and every worker), pairs; for Dask the tiles, the halo copy ratio,
the shuffle volume (bytes of the works' copies) and the kernel's own time
per tile. On the shared machine every timed run takes the machine-wide lock
(so two measurements never overlap) and runs in a session of its own whose
scheduling group has the priority (``nice`` alone does not order processes
of different sessions when the kernel groups them by session,
``/proc/sys/kernel/sched_autogroup_enabled``)::

    flock /tmp/ims_measure.lock setsid bash -c \
        'echo -15 > /proc/self/autogroup; exec .venv/bin/python benchmarks/scale.py --sizes 1000000'
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "scale"
GIB = 1 << 30


def _peak_rss() -> int:
    """Peak resident memory of this process, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _row_hashes(frame: Any) -> np.ndarray:
    """One uint64 per row over every column (geometry as WKB), in the frame's order."""
    plain = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    wkb = pd.Series(frame.geometry.to_wkb().to_numpy(), dtype=object)
    values = pd.util.hash_pandas_object(plain, index=False).to_numpy()
    shapes = pd.util.hash_pandas_object(wkb, index=False).to_numpy()
    return values * np.uint64(1_000_003) ^ shapes


def data(n: int, seed: int) -> Path:
    """GeoParquet of ``n`` generated works (cached in benchmarks/out/scale)."""
    from benchmarks.generate import VERSION, generate

    path = OUT / f"works_{n}_seed{seed}_v{VERSION}.parquet"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        works = generate(n, seed=seed)
        tmp = path.with_suffix(".partial")
        works.to_parquet(
            tmp, index=False, write_covering_bbox=True, schema_version="1.1.0",
            row_group_size=100_000,
        )  # fmt: skip
        tmp.replace(path)
    return path


def run_single(path: Path, hashes: Path) -> dict[str, Any]:
    import geopandas as gpd

    from ims_geo.conflicts import find_conflicts

    t0 = time.perf_counter()
    works = gpd.read_parquet(path)
    t1 = time.perf_counter()
    found = find_conflicts(works)
    t2 = time.perf_counter()
    np.save(hashes, _row_hashes(found))
    return {
        "engine": "single",
        "works": len(works),
        "pairs": len(found),
        "read_s": t1 - t0,
        "search_s": t2 - t1,
        "total_s": t2 - t0,
        "peak_rss": {"process": _peak_rss()},
    }


def run_dask(
    path: Path, hashes: Path, workers: int, memory: str, check: bool = True
) -> dict[str, Any]:
    from ims_geo.distributed import Works, read_conflicts, run
    from ims_geo.distributed.cluster import dask_client

    parts = hashes.with_suffix(".parts")
    t0 = time.perf_counter()
    with dask_client(workers=workers, memory_limit=memory) as client:
        t1 = time.perf_counter()
        source = Works.read_parquet(path)
        result = run(source, client=client, out_dir=parts, gather=False)
        t2 = time.perf_counter()
        peaks = client.run(_peak_rss)
        client_peak = _peak_rss()  # before the answer is gathered for the check below
    if check:  # the answer gathered from its parts (not timed: the check of exactness)
        np.save(hashes, _row_hashes(read_conflicts(parts)))
    copy_bytes = _copy_bytes(source, result.copies, result.works)
    return {
        "engine": "dask",
        "workers": workers,
        "memory_limit": memory,
        "works": result.works,
        "pairs": result.pairs,
        "tiles": result.tiles,
        "copies": result.copies,
        "copy_ratio": result.copy_ratio,
        "shuffle_bytes": copy_bytes,
        "partitions_in": source.frame.npartitions,
        "cluster_start_s": t1 - t0,
        "total_s": t2 - t1,
        "kernel_s": result.kernel_seconds,
        "slowest_tile_s": result.slowest_tile_seconds,
        "peak_rss": {"client": client_peak, **{str(k): v for k, v in peaks.items()}},
        "peak_rss_client_with_gathered_answer": _peak_rss(),
    }


def _copy_bytes(source: Any, copies: int, works: int) -> int:
    """Bytes the shuffle moves: the works' copies (WKB + attributes), from a sample's mean row."""
    sample = source.frame.partitions[0].compute()
    per_row = int(sample.memory_usage(deep=True).sum()) / max(len(sample), 1)
    return int(per_row * copies)


def child(args: argparse.Namespace) -> int:
    hashes = Path(args.hashes)
    if args.engine == "single":
        report = run_single(Path(args.data), hashes)
    else:
        report = run_dask(Path(args.data), hashes, args.workers, args.memory, not args.skip_single)
    print(json.dumps(report))
    return 0


def spawn(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        return {"error": done.stderr[-3000:]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def machine() -> dict[str, Any]:
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(mem / GIB, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": sys.version.split()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", default="4GiB", help="memory limit per Dask worker")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--skip-single", action="store_true", help="Dask only (e.g. at 10M)")
    parser.add_argument("--report", type=Path, default=OUT / "scale.json")
    # the child processes
    parser.add_argument("--engine", choices=["single", "dask"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--hashes", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine:
        return child(args)
    report: dict[str, Any] = {"machine_before": machine(), "runs": []}
    if args.report.exists():
        report = json.loads(args.report.read_text())
        report["machine_before"] = machine()
    for n in args.sizes:
        t0 = time.perf_counter()
        path = data(n, args.seed)
        print(f"{n:,} works: {path} ({time.perf_counter() - t0:.0f} s)", flush=True)
        row: dict[str, Any] = {"n": n, "load_before": machine()["load_average"]}
        engines = ["dask"] if args.skip_single else ["single", "dask"]
        for engine in engines:
            hashes = OUT / f"hashes_{n}_{engine}.npy"
            extra = ["--workers", str(args.workers), "--memory", args.memory]
            extra += ["--skip-single"] if args.skip_single else []
            row[engine] = spawn(
                ["--engine", engine, "--data", str(path), "--hashes", str(hashes), *extra],
                args.timeout,
            )
            print(engine, json.dumps(row[engine]), flush=True)
        if not args.skip_single and all("error" not in row[e] for e in engines):
            a = np.load(OUT / f"hashes_{n}_single.npy")
            b = np.load(OUT / f"hashes_{n}_dask.npy")
            row["equal"] = bool(len(a) == len(b) and (a == b).all())
            print(f"equal row for row: {row['equal']}", flush=True)
        row["load_after"] = machine()["load_average"]
        report["runs"] = [r for r in report["runs"] if r["n"] != n] + [row]
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
