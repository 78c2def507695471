"""Pages recompute nothing when nothing changed: results are cached on the store revision
and the page's inputs (``ims_geo/ui/state.py``), and found again after a write."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from ims_geo import cycle, export, maps
from ims_geo.store import open_store


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How often the expensive library functions behind the pages ran."""
    counted: Counter = Counter()

    def counting(module: object, name: str) -> None:
        real: Callable = getattr(module, name)

        def wrapper(*args, **kwargs):
            counted[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counting(export, "conflict_table")
    counting(maps, "filter_conflicts")
    counting(cycle, "status")
    counting(cycle, "baseline")
    return counted


def test_the_conflict_list_is_filtered_and_tabled_once_per_revision_and_filters(
    open_app, store_copy: Path, calls: Counter
) -> None:
    # a store copy of its own: its location is part of every cache key, so nothing of
    # another test's runs is reused
    at = open_app("conflicts", store=store_copy)
    assert calls["conflict_table"] == 1
    at.run()  # a rerun with nothing changed
    at.run()
    assert calls["conflict_table"] == 1
    kinds = at.multiselect(key="conflict_kinds")
    every_kind = list(kinds.value)
    kinds.set_value(["clash"]).run()  # another filter: filtered and tabled again
    assert not at.exception
    assert calls["conflict_table"] == 2
    kinds.set_value(every_kind).run()  # back to the first filter: the first result again
    assert calls["conflict_table"] == 2
    # any commit to the store (here a cycle target) changes the revision: found again
    store = open_store(store_copy)
    before = store.revision()
    cycle.set_targets(store, 2027, {"trees_planted": 40.0}, custom=True)
    assert store.revision() != before
    at.run()
    assert not at.exception
    assert calls["conflict_table"] == 3


def test_the_planning_cycle_is_assessed_once_per_revision(
    open_app, store_copy: Path, calls: Counter
) -> None:
    at = open_app("cycle", store=store_copy)
    assert (calls["status"], calls["baseline"]) == (1, 1)
    at.run()
    assert (calls["status"], calls["baseline"]) == (1, 1)
    year = int(at.number_input(key="cycle_year").value)
    # a cycle write (the full-revision switch) changes the revision: assessed again
    at.toggle(key=f"cycle_full_{year}").set_value(True).run()
    assert not at.exception
    assert cycle.is_full_revision(open_store(store_copy), year)
    assert calls["status"] >= 2 and calls["baseline"] >= 2
    settled = (calls["status"], calls["baseline"])
    at.run()
    assert (calls["status"], calls["baseline"]) == settled
