"""The Planning cycle page's baseline says why the proposal counts clashes otherwise."""

from __future__ import annotations

from pathlib import Path

from ims_geo.cycle.baseline import SEALED_CLASH_NOTE
from tests.test_cycle_clash_counts import brute_counts, build


def test_the_baseline_counts_the_engine_s_kinds_and_says_why_the_proposal_differs(
    open_app, tmp_path: Path
) -> None:
    path = tmp_path / "clashes.gpkg"
    build(path)
    at = open_app("cycle", store=path)
    at.number_input(key="cycle_year").set_value(2027).run()
    assert not at.exception, [e.value for e in at.exception]
    engine, _ = brute_counts()
    (counts,) = [d.value for d in at.dataframe if "conflicts" in d.value.columns]
    shown = dict(zip(counts.iloc[:, 0], counts["conflicts"], strict=True))
    assert shown["clash"] == engine["clash"] and shown["moratorium"] == engine["moratorium"]
    assert SEALED_CLASH_NOTE in [c.value for c in at.caption]
