"""The next cycle's targets (Fortschreibung): carried over from last year, then changed;
a target removed. Through ``ims-geo cycle targets`` (click's CliRunner) on a real
GeoPackage store, checked against the store."""

from __future__ import annotations

import math
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
