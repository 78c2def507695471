"""Benchmark of the conflict engine against the tools a GIS engineer reaches for.

For every size (default 10k, 100k and 1M works) the script writes a seeded
regional data set to a GeoPackage (:mod:`benchmarks.generate`), then runs
each method of :mod:`benchmarks.peers` on the same pairs task (D = 20 m,
different organisations, gap <= 180 days) in its own process, and records
its time (phases inside the process, imports excluded), its peak resident
memory (the process's ``VmHWM`` at the end of its last timed phase: the
harness's check of its pairs afterwards is not the method's; ``ru_maxrss``
from ``os.wait4`` for a method without phases) and its pair set. Every method that answers the task must find the same pairs (count and
checksum); the script exits with status 1 when they differ. Then the
command line ``ims-geo conflicts`` and the STRtree peer as a whole program
(``peers.py strtree-csv``) are timed end to end, each as its own process,
from start to exit.

Usage::

    python benchmarks/conflicts.py                       # 10k, 100k, 1M
    python benchmarks/conflicts.py --sizes 10000,100000  # or --skip-1m
    python benchmarks/conflicts.py --methods floor,ims_geo,strtree --repeat 3

``--density 2.5`` runs the denser data set (2.5 times the works per street
tile, :data:`benchmarks.generate.DENSE`).

Results go to ``benchmarks/out/conflicts.json`` and ``benchmarks/out/conflicts.md``
(``conflicts_density2.5.*`` for the dense set).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ims_geo.launch import tuned_environ

from benchmarks import _postgis, generate, peers

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PEERS_SCRIPT = HERE / "peers.py"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
#: The CLI must take less than this share of the STRtree program's time.
CLI_TARGET = 0.6


@dataclass
class Run:
    """One process: what it printed, how long it lived, its peak memory."""

    returncode: int | None
    wall: float
    peak_rss_mib: float
    #: User + system CPU seconds of the process (its threads and children included).
    cpu: float
    timed_out: bool
    stderr: str


#: A small process that forks and execs the measured command and reports its
#: ``wait4`` rusage: a child forked straight from this (large) process would
#: inherit its memory high-water mark and report at least that much.
_LAUNCHER = """
import json, os, sys, time
report, cmd = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
with open(report, "w") as f:
    cpu = usage.ru_utime + usage.ru_stime
    json.dump({"code": code, "wall": wall, "cpu": cpu, "maxrss_kib": usage.ru_maxrss}, f)
"""


#: Children may cache bytecode as an installed package does: without it every
#: process compiles pandas & co. from source again (seconds of start-up).
_CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
#: Each method runs as it ships: ims_geo (and the ``ims-geo`` command, which sets them
#: itself) with the memory settings of :mod:`ims_geo.launch`, the floor and the peers with
#: numpy's and pyarrow's own (README, "The ninth set", also gives the floor with them).
_TUNED_ENV = tuned_environ(_CHILD_ENV) or _CHILD_ENV


def spawn(
    cmd: list[str], timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run ``cmd`` in its own process group; its wall time and peak RSS from ``wait4``.

    A process group, not a session of its own: the kernel schedules sessions as
    groups (``sched_autogroup``), and the child stays in this one's, with the
    priority a timed run gives it (README, "How to run").
    """
    with tempfile.TemporaryDirectory() as tmp:
        report, err = Path(tmp) / "rusage.json", Path(tmp) / "stderr"
        with err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _LAUNCHER, str(report), *cmd],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=cwd,
                process_group=0,
                env=_CHILD_ENV if env is None else env,
            )
            try:
                proc.wait(timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                timed_out = True
        text = err.read_text(errors="replace")[-3000:]
        if timed_out or not report.exists():
            return Run(None, timeout, 0.0, 0.0, timed_out, text)
        usage = json.loads(report.read_text())
    return Run(usage["code"], usage["wall"], usage["maxrss_kib"] / 1024, usage["cpu"], False, text)


@dataclass
class Measured:
    """A method's best run at one size, or why it has none."""

    method: str
    result: dict[str, Any] | None = None
    wall: float = 0.0
    peak_rss_mib: float = 0.0
    skipped: str = ""
    runs: list[float] = field(default_factory=list)
    load: float = 0.0


def measure(
    method: str, path: Path, task: peers.Task, *, repeat: int, timeout: float, url: str | None
) -> Measured:
    """Run one method ``repeat`` times, each in a fresh process; keep the fastest."""
    out = Measured(method)
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "result.json"
            cmd = [
                sys.executable,
                str(PEERS_SCRIPT),
                "run",
                method,
                str(path),
                "--json",
                str(target),
                "--distance",
                str(task.distance),
                "--window-days",
                str(task.window_days),
            ]
            if url:
                cmd += ["--postgis-url", url]
            load = os.getloadavg()[0]
            run = spawn(cmd, timeout, env=_TUNED_ENV if method == "ims_geo" else None)
            if run.timed_out:
                out.skipped = f"skipped: > {timeout / 60:g} min"
                return out
            if run.returncode != 0:
                out.skipped = (
                    f"failed (exit {run.returncode}): {run.stderr.strip().splitlines()[-1:]}"
                )
                return out
            result = json.loads(target.read_text())
        out.runs.append(result["seconds"])
        if out.result is None or result["seconds"] < out.result["seconds"]:
            # the memory the method needed: its high-water mark at the end of its last
            # timed phase (the check of its pairs that follows is the harness's)
            peak = result.get("peak_rss_mib") or run.peak_rss_mib
            out.result, out.wall, out.peak_rss_mib, out.load = result, run.wall, peak, load
    return out


def cli_command() -> list[str]:
    """``ims-geo`` next to this interpreter, else the click group through ``-c``."""
    script = Path(sys.executable).parent / "ims-geo"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from ims_geo.cli import main; main()"]


def _csv_rows(csv: Path, task: peers.Task) -> dict[str, Any]:
    """Rows of a pairs CSV, by kind, and how many lie within the date window."""
    import pandas as pd

    frame = pd.read_csv(csv, usecols=["kind", "gap_days"])
    return {
        "rows": len(frame),
        "kinds": {str(k): int(v) for k, v in frame["kind"].value_counts().items()},
        "within_window": int((frame["gap_days"] <= task.window_days).sum()),
    }


def end_to_end(path: Path, task: peers.Task, *, repeat: int, timeout: float) -> dict[str, Any]:
    """``ims-geo conflicts`` vs the STRtree program, each a whole process, fastest of ``repeat``."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cli = cli_command() + [
            "conflicts",
            str(path),
            "--distance",
            f"{task.distance:g}",
            "--window-days",
            str(task.window_days),
        ]
        commands = {
            "cli": cli + ["--out", f"{tmp}/cli.csv"],
            # the same task as the peers: no moratorium beyond the window
            "cli_moratorium_0": cli + ["--moratorium-years", "0", "--out", f"{tmp}/cli0.csv"],
            "strtree_program": [
                sys.executable,
                str(PEERS_SCRIPT),
                "strtree-csv",
                str(path),
                "--out",
                f"{tmp}/peer.csv",
                "--distance",
                str(task.distance),
                "--window-days",
                str(task.window_days),
            ],
        }
        for name, cmd in commands.items():
            best: dict[str, Any] | None = None
            csv = Path(cmd[cmd.index("--out") + 1])
            for _ in range(repeat):
                run = spawn(cmd, timeout)
                if run.timed_out or run.returncode != 0:
                    why = (
                        f"skipped: > {timeout / 60:g} min"
                        if run.timed_out
                        else (f"failed (exit {run.returncode}): {run.stderr.strip()[-400:]}")
                    )
                    best = {"skipped": why}
                    break
                if best is None or run.wall < best["wall"]:
                    best = {
                        "wall": run.wall,
                        "cpu": run.cpu,
                        "peak_rss_mib": run.peak_rss_mib,
                        **_csv_rows(csv, task),
                    }
            out[name] = best
    peer = out["strtree_program"]
    for name in ("cli", "cli_moratorium_0"):
        if "wall" in out[name] and "wall" in peer:
            out[name]["ratio"] = out[name]["wall"] / peer["wall"]
            # the default CLI also reports moratoria beyond the window (3 years)
            out[name]["same_pairs_within_window"] = out[name]["within_window"] == peer["rows"]
    return out


def environment(postgis_note: str) -> dict[str, Any]:
    """The machine and the library versions the numbers were taken with."""
    import duckdb
    import geopandas
    import numpy
    import pandas
    import psutil
    import pyogrio
    import shapely

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "geopandas": geopandas.__version__,
            "shapely": shapely.__version__,
            "GEOS": shapely.geos_version_string,
            "pyogrio": pyogrio.__version__,
            "GDAL": pyogrio.__gdal_version_string__,
            "numpy": numpy.__version__,
            "pandas": pandas.__version__,
            "duckdb": duckdb.__version__,
            "postgis": postgis_note,
        },
    }


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.2f}" if seconds < 100 else f"{seconds:.0f}"


def summary(report: dict[str, Any]) -> list[str]:
    """One row per size: time (x floor) and peak RSS of every method."""
    names = list(dict.fromkeys(k for s in report["sizes"] for k in s["methods"]))
    lines = [
        "| works | " + " | ".join(names) + " |",
        "|---:|" + "---:|" * len(names),
    ]
    for size in report["sizes"]:
        floor = (size["methods"].get("floor") or {}).get("result")
        cells = []
        for name in names:
            m = size["methods"].get(name) or {}
            r = m.get("result")
            if r is None:
                cells.append(m.get("skipped", "") or "not run")
                continue
            ratio = f" ({r['seconds'] / floor['seconds']:.1f}x)" if floor else ""
            cpu = f", CPU {_fmt_s(r['cpu_seconds'])} s" if "cpu_seconds" in r else ""
            cells.append(f"{_fmt_s(r['seconds'])} s{ratio}{cpu}, {m['peak_rss_mib']:,.0f} MiB")
        lines.append(f"| {size['n']:,} | " + " | ".join(cells) + " |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    density = report.get("density", 1.0)
    lines = [
        f"Data set: {report.get('works_per_tile', generate.WORKS_PER_TILE):,} works per street "
        f"tile (density {density:g}).",
        "",
        "Time in seconds (x the floor), CPU seconds of the process over the same phases "
        "(all its threads), peak RSS of the process.",
        "",
        *summary(report),
        "",
    ]
    for size in report["sizes"]:
        n = size["n"]
        floor = size["methods"].get("floor", {}).get("result")
        base = floor["seconds"] if floor else None
        lines += [
            f"### {n:,} works ({size['pairs']:,} pairs)"
            if size.get("pairs") is not None
            else f"### {n:,} works",
            "",
            "| method | time (s) | x floor | peak RSS (MiB) | pairs | phases (s) | notes |",
            "|---|---:|---:|---:|---:|---|---|",
        ]
        for name, m in size["methods"].items():
            r = m.get("result")
            if r is None:
                lines.append(f"| {name} | {m['skipped']} | | | | | |")
                continue
            ratio = f"{r['seconds'] / base:.1f}" if base else ""
            phases = ", ".join(f"{k} {v:.2f}" for k, v in r["phases"].items())
            notes = list(r["notes"])
            if r.get("server_peak_mib"):
                notes.append(f"server peak ~{r['server_peak_mib']:.0f} MiB")
            if len(m["runs"]) > 1:
                notes.append("best of " + "/".join(_fmt_s(t) for t in m["runs"]))
            notes.append(f"load {m['load']:.1f}")
            lines.append(
                f"| {name} | {_fmt_s(r['seconds'])} | {ratio} | {m['peak_rss_mib']:.0f} | "
                f"{r['pairs']:,} | {phases} | {'; '.join(notes)} |"
            )
        e2e = size.get("end_to_end")
        if e2e:
            lines += [
                "",
                "| end to end (whole process) | wall (s) | / STRtree program | CPU (s) "
                "| peak RSS (MiB) | CSV rows |",
                "|---|---:|---:|---:|---:|---|",
            ]
            for name in ("cli", "cli_moratorium_0", "strtree_program"):
                e = e2e.get(name) or {"skipped": "not run"}
                if "wall" in e:
                    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(e["kinds"].items()))
                    ratio = ""
                    if "ratio" in e:
                        same = "" if e["same_pairs_within_window"] else "; PAIRS DIFFER"
                        ratio = f"{e['ratio']:.2f}{same}"
                    lines.append(
                        f"| {name} | {_fmt_s(e['wall'])} | {ratio} | {_fmt_s(e['cpu'])} "
                        f"| {e['peak_rss_mib']:.0f} | "
                        f"{e['rows']:,} ({kinds}; gap <= window: {e['within_window']:,}) |"
                    )
                else:
                    lines.append(f"| {name} | {e['skipped']} | | | | |")
        lines.append("")
    lines += ["### Targets", ""] + [f"- {v}" for v in report["verdicts"]]
    return "\n".join(lines) + "\n"


def verdicts(report: dict[str, Any]) -> list[str]:
    """Whether find_conflicts meets its targets, in words."""
    out = []
    for size in report["sizes"]:
        ms = size["methods"]
        ims = (ms.get("ims_geo") or {}).get("result")
        if ims is None:
            continue
        n, t = size["n"], ims["seconds"]
        peer_times = {
            k: v["result"]["seconds"]
            for k, v in ms.items()
            if k in peers.ANSWERS and k != "ims_geo" and v.get("result")
        }
        if n == 100_000:
            if peer_times:
                best = min(peer_times, key=peer_times.__getitem__)
                speedup = peer_times[best] / t
                out.append(
                    f"100k: find_conflicts {t:.2f} s is {speedup:.1f}x faster than the fastest peer "
                    f"({best} {peer_times[best]:.2f} s): target >= 3x "
                    f"{'met' if speedup >= 3 else 'MISSED'}"
                )
            floor = (ms.get("floor") or {}).get("result")
            if floor:
                ratio = t / floor["seconds"]
                out.append(
                    f"100k: {ratio:.1f}x the floor: target <= 3x {'met' if ratio <= 3 else 'MISSED'}"
                )
        duck = (ms.get("duckdb") or {}).get("result")
        if duck:
            ahead = t < duck["seconds"]
            out.append(
                f"{n:,}: ims_geo (read + validate + find_conflicts) {t:.2f} s vs duckdb "
                f"{duck['seconds']:.2f} s: target ahead of DuckDB {'met' if ahead else 'MISSED'}"
            )
        floor_1m = (ms.get("floor") or {}).get("result")
        if n == 1_000_000 and floor_1m:
            # the target as stated: "1M works (validate + find_conflicts) within 2x the floor"
            # (the floor reads too: the ratio with ims_geo's read counted is shown beside it)
            phases = ims["phases"]
            own = phases.get("validate", 0.0) + phases.get("find_conflicts", 0.0)
            ratio = own / floor_1m["seconds"]
            out.append(
                f"1M: validate + find_conflicts {own:.2f} s = {ratio:.2f}x the floor "
                f"({floor_1m['seconds']:.2f} s): target <= 2x {'met' if ratio <= 2 else 'MISSED'}"
                f" (with ims_geo's read: {t / floor_1m['seconds']:.2f}x)"
            )
        if n == 1_000_000:
            rss = ms["ims_geo"]["peak_rss_mib"]
            out.append(
                f"1M: {t:.1f} s (target < 30 s {'met' if t < 30 else 'MISSED'}), "
                f"peak RSS {rss / 1024:.2f} GiB (target < 4 GiB {'met' if rss < 4096 else 'MISSED'})"
            )
        e2e = size.get("end_to_end") or {}
        for name in ("cli", "cli_moratorium_0"):
            ratio = (e2e.get(name) or {}).get("ratio")
            if ratio is not None and n == 100_000:
                out.append(
                    f"100k: {name} / STRtree program = {ratio:.2f}: target < {CLI_TARGET} "
                    f"{'met' if ratio < CLI_TARGET else 'MISSED'}"
                )
    for size in report["sizes"]:
        if size.get("disagree"):
            out.append(f"{size['n']:,}: PAIR SETS DIFFER: {size['disagree']}")
    return out


def agreement(methods: dict[str, Measured]) -> tuple[int | None, str]:
    """The common pair count, and a description of any disagreement ("" when none)."""
    found = {
        k: (m.result["pairs"], m.result["checksum"])
        for k, m in methods.items()
        if k in peers.ANSWERS and m.result
    }
    if not found:
        return None, ""
    distinct = set(found.values())
    if len(distinct) == 1:
        return next(iter(distinct))[0], ""
    return None, "; ".join(f"{k} {c:,} ({h})" for k, (c, h) in found.items())


def main(argv: list[str] | None = None) -> int:
    """Command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated numbers of works (default %(default)s)",
    )
    parser.add_argument("--skip-1m", action="store_true", help="leave out sizes >= 1,000,000")
    parser.add_argument(
        "--methods",
        default=",".join(peers.METHODS),
        help="comma-separated methods (default: all: %(default)s)",
    )
    parser.add_argument(
        "--peers-up-to",
        type=int,
        default=1_000_000,
        help="run the peers only up to this size (floor and ims_geo always run)",
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI comparison")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--density",
        type=float,
        default=1.0,
        help=f"works per street tile as a multiple of {generate.WORKS_PER_TILE:,} "
        f"(the dense data set: {generate.DENSE:g}); results go to conflicts_density<D>.*",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per method below 1M works; the fastest is kept",
    )
    parser.add_argument("--repeat-1m", type=int, default=1, help="runs per method at >= 1M works")
    parser.add_argument(
        "--timeout-min", type=float, default=15.0, help="per run (default %(default)s)"
    )
    parser.add_argument("--distance", type=float, default=peers.Task.distance)
    parser.add_argument("--window-days", type=int, default=peers.Task.window_days)
    parser.add_argument("--workdir", type=Path, default=OUT, help="data sets and results")
    args = parser.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.skip_1m:
        sizes = [n for n in sizes if n < 1_000_000]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(peers.METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {sorted(peers.METHODS)}")
    task = peers.Task(args.distance, args.window_days)
    timeout = args.timeout_min * 60
    args.workdir.mkdir(parents=True, exist_ok=True)

    streets = generate.load_streets()
    print(f"street network: {streets.source}", flush=True)
    stem = "conflicts" if args.density == 1.0 else f"conflicts_density{args.density:g}"
    report: dict[str, Any] = {
        "task": {"distance": task.distance, "window_days": task.window_days},
        "seed": args.seed,
        "density": args.density,
        "works_per_tile": generate.works_per_tile(args.density),
        "streets": streets.source,
        "repeat": args.repeat,
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_start": os.getloadavg(),
        "sizes": [],
    }

    # one untimed run of every program on a small file: bytecode cached, files in the page cache
    small = generate.dataset(500, seed=args.seed, directory=args.workdir, streets=streets)
    for method in methods:
        if method != "postgis":
            measure(method, small, task, repeat=1, timeout=timeout, url=None)
    if not args.no_cli:
        end_to_end(small, task, repeat=1, timeout=timeout)

    pg_reason = _postgis.available() if "postgis" in methods else "not requested"
    cluster = _postgis.cluster() if pg_reason is None else contextlib.nullcontext()
    with cluster as url:
        report["environment"] = environment(
            pg_reason or "PostgreSQL 15 + PostGIS (throwaway cluster)"
        )
        for n in sizes:
            start = time.perf_counter()
            path = generate.dataset(
                n, seed=args.seed, directory=args.workdir, streets=streets, density=args.density
            )
            size: dict[str, Any] = {
                "n": n,
                "file": path.name,
                "file_mib": path.stat().st_size / 2**20,
                "prepare_seconds": time.perf_counter() - start,
            }
            print(f"\n{n:,} works: {path} ({size['file_mib']:.0f} MiB)", flush=True)
            repeat = args.repeat if n < 1_000_000 else args.repeat_1m
            measured: dict[str, Measured] = {}
            for method in methods:
                if method not in ("floor", "ims_geo") and n > args.peers_up_to:
                    measured[method] = Measured(
                        method, skipped=f"skipped: peers run up to {args.peers_up_to:,} works"
                    )
                elif method == "postgis" and url is None:
                    measured[method] = Measured(method, skipped=f"skipped: {pg_reason}")
                else:
                    measured[method] = measure(
                        method, path, task, repeat=repeat, timeout=timeout, url=url
                    )
                m = measured[method]
                if m.result:
                    print(
                        f"  {method:14s} {m.result['seconds']:8.2f} s  {m.peak_rss_mib:7.0f} MiB  "
                        f"{m.result['pairs']:>10,} pairs  {m.result['checksum']}",
                        flush=True,
                    )
                else:
                    print(f"  {method:14s} {m.skipped}", flush=True)
            size["pairs"], size["disagree"] = agreement(measured)
            size["methods"] = {
                k: {
                    "result": m.result,
                    "wall": m.wall,
                    "peak_rss_mib": m.peak_rss_mib,
                    "skipped": m.skipped,
                    "runs": m.runs,
                    "load": m.load,
                }
                for k, m in measured.items()
            }
            if not args.no_cli:
                size["end_to_end"] = end_to_end(path, task, repeat=repeat, timeout=timeout)
                print(f"  end to end: {json.dumps(size['end_to_end'])}", flush=True)
            report["sizes"].append(size)
            report["load_end"] = os.getloadavg()
            report["verdicts"] = verdicts(report)
            (args.workdir / f"{stem}.json").write_text(json.dumps(report, indent=1))
            (args.workdir / f"{stem}.md").write_text(markdown(report))

    print("\n" + markdown(report))
    failed = [s for s in report["sizes"] if s["disagree"]]
    if failed:
        print("pair sets differ between methods: " + " | ".join(s["disagree"] for s in failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
