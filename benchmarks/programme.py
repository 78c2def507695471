"""Benchmark of the programme proposer, :func:`ims_geo.programme.propose`.

Cases:

``synthetic N``
    Seeded regional data sets of :mod:`benchmarks.generate` (``N`` works of
    eight organisations over five years on tiled Helsinki streets),
    proposed with a time limit per size. Each size runs in its own process,
    so its peak memory is its own. Reported: wall time of the whole
    ``propose`` call against the limit, peak memory, new moratorium
    violations and new clashes (both must be 0), moratorium violations fixed
    against the fixable upper bound (pairs whose windows allow a fix for the
    pair alone), combined works against their proven upper bound (the sum
    over the parts of the network of the bound each part's own CP-SAT model
    proves, :func:`ims_geo.programme.schedule.combined_bounds`) and against
    the bound with the violations fixed first; the parts of more than 500
    works with their own bound.
``synthetic N + budgets, max_parallel K``
    The same works with yearly budgets per organisation at 85 % of its
    planned spending in every year (every org-year over as planned), or flat
    at 85 % of its average yearly spending (years with room), and at most
    ``K`` simultaneous occupations
    per 250 m cell: org-years over budget, euros over budget and cells over
    the limit, plan against proposal (never more; euros over go down where
    works can move spending into a year with room).
``boxes``
    Square boxes of the 10,000-work set holding 21 to 40 works, each proposed
    on its own: combined works against the upper bound, and whether the
    solver proved its schedule optimal. Target: combined works at least 90 %
    of the bound in total. Each box is proposed again with every worth of a
    fixed violation of ``--sweep`` (in combined works; ``first``: every fix
    before any combination): combined works and violations fixed.

Usage::

    nice -n 19 python benchmarks/programme.py                       # 1k, 5k, 10k, 30k and boxes
    python benchmarks/programme.py --sizes 1000 --limits 10 --boxes 3

Results go to ``benchmarks/out/programme.json`` and ``benchmarks/out/programme.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ims_geo.conflicts import find_conflicts
from ims_geo.programme import Proposal, propose
from ims_geo.programme.schedule import Weights

from benchmarks import generate

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
#: Boxes hold this many works (inclusive).
BOX_WORKS = (21, 40)
#: Combined works must reach this share of the bound on the boxes.
BOX_TARGET = 0.9
#: Worths of a fixed violation (in combined works) the boxes are proposed with
#: besides the default; ``first`` puts every fix before any combination.
SWEEP = "first,1.2,1.5,1.7,2,3,5"
#: A weight of a fixed violation above any number of combined works.
FIRST = 1_000_000


def sweep_weights(worth: str) -> Weights:
    """The weights of one worth of ``--sweep`` (a number of combined works, or ``first``)."""
    if worth == "first":
        return Weights(violation=FIRST)
    return Weights(violation=round(float(worth) * Weights.combined))


def _machine() -> dict[str, Any]:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "platform": platform.platform(),
        "load_average": [round(v, 1) for v in os.getloadavg()],
    }


def _kpi(proposal: Proposal, name: str) -> list[float]:
    try:
        return list(proposal.kpi(name))
    except KeyError:
        return [float("nan"), float("nan")]


def summarise(
    case: str, works: pd.DataFrame, proposal: Proposal, limit: float, wall: float
) -> dict:
    """The numbers of one proposal."""
    solver = proposal.solver
    over = proposal.infeasible[proposal.infeasible["constraint"] == "budget"]
    return {
        "case": case,
        "works": len(works),
        "time_limit_s": limit,
        "wall_s": round(wall, 2),
        "models": len(solver),
        "optimal_models": int((solver["status"] == "OPTIMAL").sum()),
        "kpis": {k: [b, p] for k, b, p in proposal.kpis.itertuples(index=False)},
        "new_violations": _kpi(proposal, "new moratorium violations")[1],
        "new_clashes": _kpi(proposal, "new clashes")[1],
        "violations": _kpi(proposal, "moratorium violations"),
        "fixed": _kpi(proposal, "moratorium violations fixed")[1],
        "fixable": _kpi(proposal, "fixable violations (upper bound)")[1],
        "combined": _kpi(proposal, "combined works")[1],
        "combined_bound": _kpi(proposal, "combined works (upper bound)")[1],
        "combined_bound_fixing": _kpi(
            proposal, "combined works (upper bound, violations fixed first)"
        )[1],
        "candidate_works": _kpi(proposal, "works in a candidate project")[1],
        "parts": len(proposal.parts()),
        "parts_over_500": int((proposal.parts()["works"] > 500).sum()),
        "bound_proofs": proposal.parts()["bound_proof"].value_counts().to_dict(),
        "large_parts": [
            [int(w), float(c), float(b), str(how)]
            for w, c, b, how in proposal.parts()
            .query("works > 500")[["works", "combined", "combined_bound", "bound_proof"]]
            .itertuples(index=False)
        ],
        "budget_eur_over_plan": _kpi(proposal, "over budget eur"),
        "clashes": _kpi(proposal, "clashes"),
        "budget_years_over": _kpi(proposal, "org-years over budget"),
        "budget_eur_over": float(over["amount"].sum()),
        "cells_over": _kpi(proposal, "cells over max_parallel"),
    }


def budgets_for(works: pd.DataFrame, share: float) -> pd.DataFrame:
    """Yearly budgets of ``share`` of each organisation's planned spending in every year."""
    years = works["start_date"].dt.year
    spend = works.groupby(["org", years])["cost_eur"].sum() * share
    frame = spend.reset_index()
    frame.columns = ["org", "year", "budget_eur"]
    return frame.assign(budget_eur=frame["budget_eur"].round(0))


def flat_budgets(works: pd.DataFrame, share: float) -> pd.DataFrame:
    """Every year the same budget per organisation: ``share`` of its average yearly spending.

    Years planned above the average are over, the others have room.
    """
    frame = budgets_for(works, share)
    return frame.assign(budget_eur=frame.groupby("org")["budget_eur"].transform("mean").round(0))


def one_size(n: int, limit: float, max_parallel: int | None, kind: str = "year") -> dict[str, Any]:
    """Generate, find conflicts and propose ``n`` works (run in a process of its own)."""
    works = generate.generate(n, seed=1)
    conflicts = find_conflicts(works)
    budgets = None
    if max_parallel:
        budgets = budgets_for(works, 0.85) if kind == "year" else flat_budgets(works, 0.85)
    t0 = time.perf_counter()
    proposal = propose(
        works, conflicts, time_limit=limit, budgets=budgets, max_parallel=max_parallel,
        not_before="2026-01-01",
    )  # fmt: skip
    wall = time.perf_counter() - t0
    what = "budgets 85 % in every year" if kind == "year" else "flat budgets 85 % of the average"
    case = f"synthetic {n}" + (
        f" + {what}, max_parallel {max_parallel}" if budgets is not None else ""
    )
    run = summarise(case, works, proposal, limit, wall)
    run["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return run


def boxes(count: int, limit: float, sweep: list[str]) -> list[dict[str, Any]]:
    """Boxes of 21-40 works of the 10,000-work set, each proposed on its own."""
    works = generate.generate(10_000, seed=1)
    centre = shapely.centroid(works.geometry.to_numpy())
    x, y = shapely.get_x(centre), shapely.get_y(centre)
    runs: list[dict[str, Any]] = []
    for side in (150.0, 200.0, 250.0, 300.0):
        key = pd.Series(list(zip(np.floor(x / side), np.floor(y / side), strict=True)))
        sizes = key.value_counts()
        fit = sizes[(sizes >= BOX_WORKS[0]) & (sizes <= BOX_WORKS[1])]
        # boxes spread over the region (seeded), not the first ones of a tile
        fit = fit.sample(frac=1.0, random_state=len(runs))
        for cell in fit.index[: count - len(runs)]:
            box = works[(key == cell).to_numpy()].reset_index(drop=True)
            t0 = time.perf_counter()
            proposal = propose(box, time_limit=limit, not_before="2026-01-01")
            run = summarise(f"box {len(runs) + 1}", box, proposal, limit, time.perf_counter() - t0)
            parts = proposal.solver[proposal.solver["stage"] == "components"]
            run["optimal"] = bool((parts["status"] == "OPTIMAL").all())
            # other worths of a fixed violation: combined works and fixes
            run["sweep"] = {}
            for worth in sweep:
                other = propose(
                    box, time_limit=limit, not_before="2026-01-01", weights=sweep_weights(worth)
                )
                run["sweep"][worth] = [
                    _kpi(other, "combined works")[1],
                    _kpi(other, "moratorium violations fixed")[1],
                    _kpi(other, "new moratorium violations")[1] + _kpi(other, "new clashes")[1],
                ]
            runs.append(run)
            print(
                f"  box {len(runs)}: {len(box)} works, combined {run['combined']:.0f} of "
                f"{run['combined_bound']:.0f}",
                flush=True,
            )
        if len(runs) >= count:
            break
    return runs


def _f(v: float) -> str:
    return "–" if v != v else f"{v:,.0f}"


def markdown(runs: list[dict[str, Any]], box_runs: list[dict[str, Any]], machine: dict) -> str:
    lines = [
        f"Machine: {machine['cpus']} cores, {machine['memory_gib']} GiB, Python "
        f"{machine['python']}; load average at the start {machine['load_average']}.",
        "",
        "| case | works | limit s | wall s | peak MiB | new violations | new clashes "
        "| violations plan → proposal | fixed / fixable bound | combined / bound (fixing first) "
        "| parts > 500 works: combined / bound | clashes | org-years over budget (EUR over) "
        "| cells over |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        v, c = r["violations"], r["clashes"]
        budget = (
            f"{_f(r['budget_years_over'][0])} → {_f(r['budget_years_over'][1])} "
            f"(EUR {_f(r['budget_eur_over_plan'][0])} → {_f(r['budget_eur_over_plan'][1])})"
            if r["budget_years_over"][0] == r["budget_years_over"][0]
            else "–"
        )
        large = (
            "; ".join(f"{_f(c)} / {_f(b)} ({how})" for _, c, b, how in r["large_parts"]) or "none"
        )
        cells = (
            f"{_f(r['cells_over'][0])} → {_f(r['cells_over'][1])}"
            if r["cells_over"][0] == r["cells_over"][0]
            else "–"
        )
        lines.append(
            f"| {r['case']} | {r['works']:,} | {r['time_limit_s']:g} | {r['wall_s']:.1f} "
            f"| {r.get('peak_rss_mib', 0):,} | {_f(r['new_violations'])} | {_f(r['new_clashes'])} "
            f"| {_f(v[0])} → {_f(v[1])} | {_f(r['fixed'])} / {_f(r['fixable'])} "
            f"| {_f(r['combined'])} / {_f(r['combined_bound'])} "
            f"({_f(r['combined_bound_fixing'])}) | {large} | {_f(c[0])} → {_f(c[1])} "
            f"| {budget} | {cells} |"
        )
    if box_runs:
        lines += ["", *box_table(box_runs), "", *sweep_table(box_runs)]
    return "\n".join(lines) + "\n"


def box_table(box_runs: list[dict[str, Any]]) -> list[str]:
    """One row per box with the default weights, and the boxes together."""
    lines = [
        "| box | works | combined / bound | share | bound with violations fixed first "
        "| share | fixed / fixable | bound proof | schedule proven optimal | wall s "
        "| new violations | fixes first: combined, fixed |",
        "|---|---:|---|---:|---:|---:|---|---|---|---:|---:|---|",
    ]
    for r in box_runs:
        share = r["combined"] / r["combined_bound"] if r["combined_bound"] else 1.0
        fixing = r["combined_bound_fixing"]
        share_f = r["combined"] / fixing if fixing else 1.0
        proofs = ", ".join(f"{k} {v}" for k, v in r["bound_proofs"].items())
        first = r["sweep"].get("first", [float("nan")] * 3)
        lines.append(
            f"| {r['case']} | {r['works']} | {_f(r['combined'])} / {_f(r['combined_bound'])} "
            f"| {share:.0%} | {_f(fixing)} | {share_f:.0%} "
            f"| {_f(r['fixed'])} / {_f(r['fixable'])} | {proofs} "
            f"| {'yes' if r['optimal'] else 'no'} | {r['wall_s']:.1f} "
            f"| {_f(r['new_violations'])} | {_f(first[0])}, {_f(first[1])} |"
        )
    total = sum(r["combined"] for r in box_runs)
    bound = sum(r["combined_bound"] for r in box_runs)
    fixing_all = sum(r["combined_bound_fixing"] for r in box_runs)
    first_all = [
        sum(r["sweep"].get("first", [float("nan")] * 3)[k] for r in box_runs) for k in (0, 1)
    ]
    lines.append(
        f"| all | {sum(r['works'] for r in box_runs)} | {_f(total)} / {_f(bound)} "
        f"| {total / bound if bound else 1.0:.0%} | {_f(fixing_all)} "
        f"| {total / fixing_all if fixing_all else 1.0:.0%} "
        f"| {_f(sum(r['fixed'] for r in box_runs))} / {_f(sum(r['fixable'] for r in box_runs))} "
        f"| | | | {_f(sum(r['new_violations'] for r in box_runs))} "
        f"| {_f(first_all[0])}, {_f(first_all[1])} |"
    )
    return lines


def sweep_table(box_runs: list[dict[str, Any]]) -> list[str]:
    """The boxes together for every worth of a fixed violation of the sweep."""
    bound = sum(r["combined_bound"] for r in box_runs)
    lines = [
        "| a fixed violation is worth (combined works) | combined / bound | share "
        "| violations fixed | new violations and clashes |",
        "|---|---|---:|---:|---:|",
        f"| {Weights().violation / Weights.combined:g} (default) "
        f"| {_f(sum(r['combined'] for r in box_runs))} / {_f(bound)} "
        f"| {sum(r['combined'] for r in box_runs) / bound if bound else 1.0:.1%} "
        f"| {_f(sum(r['fixed'] for r in box_runs))} "
        f"| {_f(sum(r['new_violations'] + r['new_clashes'] for r in box_runs))} |",
    ]
    for worth in box_runs[0]["sweep"]:
        combined, fixed, new = (sum(r["sweep"][worth][k] for r in box_runs) for k in range(3))
        label = "any number (fixes first)" if worth == "first" else worth
        lines.append(
            f"| {label} | {_f(combined)} / {_f(bound)} "
            f"| {combined / bound if bound else 1.0:.1%} | {_f(fixed)} | {_f(new)} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000,30000")
    parser.add_argument("--limits", default="30,30,60,120", help="time limit per size (s)")
    parser.add_argument("--max-parallel", type=int, default=4)
    parser.add_argument("--budget-size", type=int, default=5000, help="size of the budgets run")
    parser.add_argument("--boxes", type=int, default=10)
    parser.add_argument("--box-limit", type=float, default=10.0)
    parser.add_argument(
        "--sweep",
        default=SWEEP,
        help="worths of a fixed violation (combined works, or 'first') the boxes are also "
        "proposed with; '' for none",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--with-limits", choices=["year", "flat"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        run = one_size(
            args.one, args.limit, args.max_parallel if args.with_limits else None,
            args.with_limits or "year",
        )  # fmt: skip
        print("RESULT " + json.dumps(run), flush=True)
        return 0
    machine = _machine()
    sizes = [int(v) for v in args.sizes.split(",")]
    limits = [float(v) for v in args.limits.split(",")]
    jobs: list[tuple[int, float, str | None]] = [
        (n, limit, None) for n, limit in zip(sizes, limits, strict=True)
    ]
    if args.budget_size:
        for kind in ("year", "flat"):
            jobs.append((args.budget_size, limits[min(1, len(limits) - 1)], kind))
    runs: list[dict[str, Any]] = []
    failed: list[str] = []
    for n, limit, with_limits in jobs:
        print(
            f"synthetic {n} (limit {limit:g} s{', budgets and cells' if with_limits else ''})",
            flush=True,
        )
        cmd = [sys.executable, __file__, "--one", str(n), "--limit", str(limit)]
        cmd += ["--max-parallel", str(args.max_parallel)] + (
            ["--with-limits", with_limits] if with_limits else []
        )
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        found = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
        if done.returncode or not found:
            failed.append(f"synthetic {n}: {done.stderr.strip()[-500:]}")
            continue
        run = json.loads(found[-1][len("RESULT ") :])
        runs.append(run)
        print(f"  wall {run['wall_s']} s, peak {run['peak_rss_mib']} MiB", flush=True)
        if run["new_violations"] or run["new_clashes"]:
            failed.append(
                f"{run['case']}: {run['new_violations']} new violations, {run['new_clashes']} new clashes"
            )
        if run["wall_s"] > 1.1 * limit:
            failed.append(f"{run['case']}: {run['wall_s']} s with a limit of {limit:g} s")
    sweep = [v.strip() for v in args.sweep.split(",") if v.strip()]
    box_runs = boxes(args.boxes, args.box_limit, sweep) if args.boxes else []
    if box_runs:
        total = sum(r["combined"] for r in box_runs)
        bound = sum(r["combined_bound"] for r in box_runs)
        if bound and total < BOX_TARGET * bound:
            failed.append(f"boxes: {total:.0f} combined works of a bound of {bound:.0f}")
        for r in box_runs:
            new = r["new_violations"] + r["new_clashes"] + sum(v[2] for v in r["sweep"].values())
            if new:
                failed.append(f"{r['case']}: {new:.0f} new violations or clashes")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "programme.json").write_text(
        json.dumps({"machine": machine, "runs": runs, "boxes": box_runs}, indent=2),
        encoding="utf-8",
    )
    table = markdown(runs, box_runs, machine)
    (OUT / "programme.md").write_text(table, encoding="utf-8")
    print(table)
    for message in failed:
        print(f"TARGET MISSED: {message}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
