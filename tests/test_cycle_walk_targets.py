"""The cycle on the command line, read as its users would: the next cycle's targets
(Fortschreibung) carried over from last year, changed and removed; the baseline's counts
in the singular; the council pack's command said on the terminal only. Through click's
CliRunner on real GeoPackage stores, checked against the store."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from ims_geo import cycle
from ims_geo.cli import EXIT_INPUT, main
from ims_geo.store import open_store


def run(store: Path, *args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*map(str, args), "--store", str(store)])
    return result.exit_code, result.stdout, result.stderr


def test_last_years_targets_carried_changed_and_removed(tmp_path: Path) -> None:
    store = tmp_path / "targets.gpkg"
    code, _, err = run(store, "cycle", "targets", "--cycle", 2026, "--set", "combined_share=0.6",
                       "--set", "trees_planted=40", "--custom")  # fmt: skip
    assert code == 0, err
    code, _, err = run(store, "cycle", "targets", "--cycle", 2027, "--carry-from", 2026,
                       "--set", "combined_share=0.7")  # fmt: skip
    assert code == 0, err
    assert err.splitlines() == ["Stored 2 targets for cycle 2027"]
    assert cycle.stored_targets(open_store(store), 2027) == {
        "combined_share": 0.7, "trees_planted": 40.0
    }  # fmt: skip
    assert cycle.stored_targets(open_store(store), 2026) == {
        "combined_share": 0.6, "trees_planted": 40.0
    }  # fmt: skip

    code, _, err = run(store, "cycle", "targets", "--cycle", 2027, "--clear", "trees_planted",
                       "--clear", "combined_share", "--clear", "moratorium_violations")  # fmt: skip
    assert code == 0, err
    assert err.splitlines() == [
        "Removed the targets of trees_planted, combined_share, moratorium_violations for cycle 2027"
    ]
    assert cycle.stored_targets(open_store(store), 2027) == {}
    table = cycle.targets(open_store(store), 2027).set_index("kpi")["target"]
    assert list(table.index) == list(cycle.KPIS)  # the custom KPI is gone
    assert table["moratorium_violations"] == 0.0  # back to its default
    assert math.isnan(table["combined_share"])


def test_nothing_to_carry_or_to_remove_is_said(tmp_path: Path) -> None:
    store = tmp_path / "targets.gpkg"
    code, _, err = run(store, "cycle", "targets", "--cycle", 2027, "--carry-from", 2026)
    assert code == EXIT_INPUT
    assert err.splitlines() == ["Error: cycle 2026 has no targets stored; nothing to carry over"]
    code, _, err = run(store, "cycle", "targets", "--cycle", 2027, "--clear", "trees_planted")
    assert code == EXIT_INPUT
    assert err.splitlines() == [
        "Error: no target 'trees_planted' in cycle 2027 to remove; its targets: "
        + ", ".join(cycle.KPIS)
    ]
    assert cycle.stored_targets(open_store(store), 2027) == {}


def test_baseline_counts_read_in_the_singular(tmp_path: Path) -> None:
    from tests.test_cycle import PLANS, YEAR, plan, progress_frame

    path = tmp_path / "one.gpkg"
    store = open_store(path)
    (road,) = PLANS["City"]
    store.import_plan(plan("City", [road]), org="City", cycle=YEAR)
    cycle.record_progress(store, YEAR, "City", progress_frame(
        [("R1", "done", "2027-06-01", "2027-06-28", None)]))  # fmt: skip
    code, out, err = run(path, "cycle", "baseline", "--cycle", YEAR)
    assert code == 0, err
    # the 100 m road crosses two squares, each occupied the same days by the one work
    segments = cycle.baseline(open_store(path), YEAR).disruption
    assert segments["works"].tolist() == [1, 1]
    segment = segments["segment"].iloc[0]
    # the baseline measures the current plans (planned dates), both days inclusive
    days = (date.fromisoformat(road["end_date"]) - date.fromisoformat(road["start_date"])).days + 1
    assert out.splitlines()[-2:] == [
        f"1 moratorium in force during {YEAR}",
        f"Most disrupted street segment in {YEAR}: {segment} ({days} days, 1 work)",
    ]


def test_the_council_pack_command_is_said_on_the_terminal_only(tmp_path: Path) -> None:
    from tests.test_cycle import YEAR, build, hand_programme

    store = build(tmp_path / "cycle.gpkg")
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14",
                decision_date="2027-02-01")  # fmt: skip
    now = cycle.status(store, YEAR)
    states = now.kpis["state"].value_counts()
    counts = ", ".join(f"{states.get(k, 0)} {k}" for k in ("green", "amber", "red"))
    step = now.steps.set_index("step").loc[5]
    # measured, but the year's evaluation report is not produced yet
    detail = f"KPIs against targets: {counts}; council pack not produced yet"
    assert (step["state"], step["detail"]) == ("partial", detail)
    (line,) = [t for t in now.text().splitlines() if t.startswith("5. ")]
    assert line.endswith(f"{detail}; council pack: ims-geo report --cycle {YEAR} --out pack.html")
