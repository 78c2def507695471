"""A store's conflicts with its moratoria layer: the proposer, adoption and the revision token.

The store holds City's planned resurfacing R1, Water's W1 beside it a month
earlier, and Water's W7 digging in 2031 inside a moratorium of an imported
register whose source work (REG-9) is no work of any plan.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from shapely import LineString

from ims_geo import cycle
from ims_geo.conflicts import find_conflicts
from ims_geo.conflicts.rules import Rules
from ims_geo.errors import InputError
from ims_geo.programme import propose
from ims_geo.schema import REASON, validate
from ims_geo.store import Store, open_store

RD = "EPSG:28992"
X0, Y0 = 121_000.0, 487_000.0


def line(dy: float) -> LineString:
    return LineString([(X0, Y0 + dy), (X0 + 100.0, Y0 + dy)])


def plan(org: str, rows: list[tuple[str, str, str, str, float]]) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["work_id", "discipline", "start_date", "end_date", "dy"]),
        geometry=[line(r[4]) for r in rows], crs=RD,
    ).drop(columns="dy")  # fmt: skip
    checked = validate(frame, org=org, source=f"{org}.gpkg")
    assert checked.rejected.empty, checked.rejected[REASON].tolist()
    return checked.valid


def register() -> gpd.GeoDataFrame:
    """One moratorium of an existing register: 2030 to 2034 on R1's street."""
    return gpd.GeoDataFrame(
        {"source_org": ["City"], "source_work_id": ["REG-9"],
         "valid_from": [pd.Timestamp("2030-01-01")], "valid_until": [pd.Timestamp("2034-12-31")]},
        geometry=[line(0.0)], crs=RD,
    )  # fmt: skip


def build(store: Store) -> Store:
    store.import_plan(plan("City", [("R1", "road", "2027-06-01", "2027-06-30", 0.0)]),
                      org="City", cycle=2027)  # fmt: skip
    store.import_plan(plan("Water", [("W1", "water", "2027-05-01", "2027-05-20", 2.0),
                                     ("W7", "water", "2031-01-06", "2031-01-15", 3.0)]),
                      org="Water", cycle=2027)  # fmt: skip
    stored, rejected = cycle.import_moratoria(store, register(), org="City", source="register")
    assert len(stored) == 1 and rejected.empty
    return store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return build(open_store(tmp_path / "layered.gpkg"))


def test_store_conflicts_add_the_register_to_the_works_own(store: Store) -> None:
    works = store.works()
    own = find_conflicts(works)
    found = cycle.store_conflicts(store)
    mid = int(cycle.moratoria(store)["moratorium_id"].iloc[0])
    layer = found[found["moratorium_id"].notna()]
    assert layer[["kind", "org_a", "work_id_a", "org_b", "work_id_b"]].values.tolist() == [
        ["moratorium", "City", "REG-9", "Water", "W7"]
    ]
    assert layer["moratorium_id"].tolist() == [mid]
    # W7 starts 371 days (365 to 31 Dec 2030, then 6) after the day before the validity
    gap = (pd.Timestamp("2031-01-06") - pd.Timestamp("2029-12-31")).days
    assert layer["gap_days"].tolist() == [gap] == [371]
    mine = found[found["moratorium_id"].isna()]
    key = ["org_a", "work_id_a", "org_b", "work_id_b", "kind"]
    assert mine[key].values.tolist() == own[key].values.tolist()
    # R1 starts 11 days after W1 ends, 2 m beside it: the works' own conflict, a synergy
    assert own[key].values.tolist() == [["City", "R1", "Water", "W1", "synergy"]]


def test_a_zero_year_rule_still_reads_the_layer(store: Store) -> None:
    """The page's rule "Moratorium (years)" at 0: the plans' surfaces unprotected, the layer not."""
    rules = Rules(moratorium_years=0)
    works = store.works()
    found = cycle.store_conflicts(store, works, rules)
    key = ["org_a", "work_id_a", "org_b", "work_id_b", "kind"]
    # by score: a moratorium weighs 4, a synergy 1
    assert found[key].values.tolist() == [
        ["City", "REG-9", "Water", "W7", "moratorium"],
        ["City", "R1", "Water", "W1", "synergy"],
    ]
    own = found[found["moratorium_id"].isna()].drop(columns="moratorium_id")
    assert own.reset_index(drop=True).equals(find_conflicts(works, rules))
    assert found.loc[found["work_id_a"] == "REG-9", "gap_days"].tolist() == [371]


def test_propose_ignores_the_moratoria_layer_rows(store: Store) -> None:
    works = store.works()
    layered = cycle.store_conflicts(store)
    assert "REG-9" in set(layered["work_id_a"]) | set(layered["work_id_b"])  # no work: ignored
    with_layer = propose(works, layered, time_limit=5.0, workers=1)
    alone = propose(works, find_conflicts(works), time_limit=5.0, workers=1)
    columns = ["org", "work_id", "start_date", "end_date", "cluster_id"]
    assert with_layer.works[columns].equals(alone.works[columns])
    assert with_layer.kpis.equals(alone.kpis)
    # the baseline counts the works' own conflicts only, not the register's moratorium
    kpis = with_layer.kpis.set_index("kpi")
    assert kpis.loc["clashes", "baseline"] == 0
    assert kpis.loc["moratorium violations", "baseline"] == 0


def test_adopt_a_fresh_proposal_with_an_active_moratorium(store: Store) -> None:
    adoption = cycle.adopt(store, 2027, decision="Council 2027/4", decision_date="2027-02-01",
                           time_limit=5.0, workers=1)  # fmt: skip
    assert adoption.revision == 1
    adopted = cycle.programme(store, 2027)
    assert sorted(adopted["work_id"]) == ["R1", "W1", "W7"]


def _changes(store: Store, write: Callable[[], object]) -> bool:
    before = store.revision()
    write()
    return store.revision() != before


def test_every_cycle_write_changes_the_revision_and_a_refused_one_does_not(store: Store) -> None:
    progress = pd.DataFrame([("R1", "done", "2027-06-02", "2027-06-20", None)],
                            columns=list(cycle.PROGRESS_COLUMNS))  # fmt: skip
    mid = int(cycle.moratoria(store)["moratorium_id"].iloc[0])
    writes: dict[str, Callable[[], object]] = {
        "targets": lambda: cycle.set_targets(store, 2027, {"moratorium_violations": 0}),
        "full revision": lambda: cycle.set_full_revision(store, 2027, True),
        "adopt": lambda: cycle.adopt(store, 2027, decision="Council 2027/4", time_limit=5.0),
        "progress": lambda: cycle.record_progress(store, 2027, "City", progress),
        "register": lambda: cycle.import_moratoria(store, register(), org="City"),
        "exemption": lambda: cycle.add_exemption(store, mid, org="Water", kind="emergency"),
    }
    assert {name: _changes(store, write) for name, write in writes.items()} == dict.fromkeys(
        writes, True
    )
    before = store.revision()
    with pytest.raises(InputError):
        cycle.add_exemption(store, mid, org="Water", kind="decision")  # names no decision
    assert store.revision() == before
    # the register imported twice: the exemption lets Water dig in the first one only
    layer = cycle.moratoria(store)
    registered = layer.loc[layer["source_work_id"] == "REG-9", "moratorium_id"].tolist()
    assert registered[0] == mid and len(registered) == 2
    found = cycle.store_conflicts(store)
    assert found.loc[found["work_id_a"] == "REG-9", "moratorium_id"].tolist() == [registered[1]]


@pytest.mark.postgis
def test_revision_changes_on_postgis(postgis_url: str) -> None:
    store = build(open_store(postgis_url))
    mid = int(cycle.moratoria(store)["moratorium_id"].iloc[0])
    assert _changes(store, lambda: cycle.add_exemption(store, mid, org="Water", kind="emergency"))
    assert _changes(store, lambda: cycle.set_targets(store, 2027, {"moratorium_violations": 0}))
    assert cycle.store_conflicts(store)["moratorium_id"].notna().sum() == 0


@pytest.mark.postgis
def test_signed_in_cycle_writes_change_the_revision_everyone_reads(
    populated_installation: Any,
) -> None:
    from access_data import PASSWORD

    made, _ = populated_installation
    visitor = open_store(made.app_url)
    progress = pd.DataFrame(
        {"work_id": ["b1"], "status": ["in_progress"], "actual_start": ["2027-03-02"]}
    )
    with open_store(made.app_url, user="b_plan", password=PASSWORD) as planner:
        assert _changes(visitor, lambda: cycle.record_progress(planner, 2027, "B", progress))
    with open_store(made.app_url, user="a_coord", password=PASSWORD) as coordinator:
        targets = {"moratorium_violations": 0}
        assert _changes(visitor, lambda: cycle.set_targets(coordinator, 2027, targets))
    visitor.close()
