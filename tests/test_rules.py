"""Tests for ims_geo.conflicts.rules: the Rules dataclass and the TOML rules file."""

from __future__ import annotations

import dataclasses
import pickle
import tomllib
from pathlib import Path

import pytest

from ims_geo.conflicts.rules import FrozenMap, Rules, load_rules
from ims_geo.errors import InputError, RulesError

from conftest import ROOT

EXAMPLE = ROOT / "data" / "rules.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    rules = Rules()
    assert rules.distance == 20.0
    assert rules.window_days == 365
    assert rules.moratorium_years == 3
    assert rules.moratorium_days == 1095
    assert rules.exempt_status == frozenset({"cancelled", "done"})
    assert rules.protecting_status == frozenset({"done"})
    assert rules.internal is False
    assert rules.kind_weight("clash") == 4.0
    assert rules.discipline_weight("sewer") == 1.0


def test_rules_are_frozen_and_hashable() -> None:
    rules = Rules(pair_distance={("sewer", "road"): 30})
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.distance = 5  # type: ignore[misc]
    assert hash(rules) == hash(Rules(pair_distance={("road", "sewer"): 30.0}))
    assert rules == Rules(pair_distance={("road", "sewer"): 30.0})
    assert rules != Rules()


def test_rules_pickle() -> None:
    rules = Rules(pair_distance={("sewer", "road"): 30}, discipline_weights={"gas": 2.0})
    again = pickle.loads(pickle.dumps(rules))
    assert again == rules and hash(again) == hash(rules)
    assert again.distance_for("road", "sewer") == 30.0


def test_pair_distance_lookup_is_symmetric() -> None:
    rules = Rules(distance=20, pair_distance={("sewer", "road"): 30, ("gas", "gas"): 5})
    assert rules.distance_for("sewer", "road") == 30.0
    assert rules.distance_for("road", "sewer") == 30.0
    assert rules.distance_for("gas", "gas") == 5.0
    assert rules.distance_for("gas", "road") == 20.0
    assert rules.max_distance == 30.0
    assert Rules(distance=40, pair_distance={("gas", "gas"): 5}).max_distance == 40.0


def test_replace_validates() -> None:
    with pytest.raises(RulesError, match="distance"):
        dataclasses.replace(Rules(), distance=-1)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"distance": "20"}, "distance"),
        ({"distance": float("nan")}, "distance"),
        ({"distance": True}, "distance"),
        ({"window_days": 10.5}, "window_days"),
        ({"window_days": -1}, "window_days"),
        ({"moratorium_years": -0.5}, "moratorium_years"),
        ({"exempt_status": "cancelled"}, "exempt_status"),
        ({"exempt_status": ["cancelled", "gone"]}, "exempt_status"),
        ({"protecting_status": ["finished!"]}, "protecting_status"),
        ({"exempt_values": [1, 2]}, "exempt_values"),
        ({"exempt_column": 3}, "exempt_column"),
        ({"kind_weights": {"clash": "high"}}, "kind_weights.clash"),
        ({"kind_weights": {"crash": 2}}, "kind_weights.crash"),
        ({"discipline_weights": {"plumbing": 2}}, "discipline_weights.plumbing"),
        ({"pair_distance": {("sewer", "roads"): 30}}, "pair_distance.sewer.roads"),
        ({"pair_distance": {("sewer", "road"): -3}}, "pair_distance.sewer.road"),
        ({"pair_distance": {"sewer": 30}}, "pair_distance.sewer"),
        ({"severity_high": 1.0, "severity_medium": 2.0}, "severity_medium"),
        ({"internal": "yes"}, "internal"),
        ({"overlap_weight": -1}, "overlap_weight"),
    ],
)
def test_bad_values_name_the_key(kwargs: dict, key: str) -> None:
    with pytest.raises(RulesError, match=f"'{key}'") as err:
        Rules(**kwargs)
    assert isinstance(err.value, InputError) and isinstance(err.value, ValueError)


def test_whole_float_window_is_accepted() -> None:
    assert Rules(window_days=30.0).window_days == 30  # type: ignore[arg-type]
    assert isinstance(Rules(window_days=30.0).window_days, int)  # type: ignore[arg-type]


def test_statuses_and_values_are_normalised() -> None:
    rules = Rules(exempt_status=["Cancelled "], exempt_values=["Emergency", " URGENT"])
    assert rules.exempt_status == frozenset({"cancelled"})
    assert rules.exempt_values == frozenset({"emergency", "urgent"})
    assert Rules(exempt_column="  ").exempt_column is None
    assert Rules(exempt_column=None).exempt_column is None


def test_contradicting_pair_distances(tmp_path: Path) -> None:
    path = write(tmp_path, "[pair_distance]\nsewer.road = 30\nroad.sewer = 40\n")
    with pytest.raises(RulesError, match="list each pair of disciplines once"):
        load_rules(path)
    # the same value twice is harmless
    path = write(tmp_path, "[pair_distance]\nsewer.road = 30\nroad.sewer = 30\n")
    assert load_rules(path).pair_distance == {("road", "sewer"): 30.0}


def test_load_example_file_documents_every_key() -> None:
    rules = load_rules(EXAMPLE)
    assert rules.distance == 20.0
    assert rules.window_days == 365
    assert rules.moratorium_years == 3.0
    assert rules.distance_for("road", "sewer") == 30.0
    assert rules.distance_for("electricity", "gas") == 25.0
    assert rules.kind_weight("internal") == 0.5
    assert rules.exempt_column == "emergency"
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = set(tomllib.loads(text))
    assert keys == {f.name for f in dataclasses.fields(Rules)}


def test_load_reads_every_kind_of_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
distance = 12
window_days = 90
moratorium_years = 2.5
internal = true
exempt_status = ["cancelled"]
protecting_status = []
exempt_column = "category"
exempt_values = ["Emergency"]
overlap_weight = 0.0
severity_high = 5
severity_medium = 2

[pair_distance]
sewer = { road = 30, water = 15 }

[kind_weights]
synergy = 2

[discipline_weights]
sewer = 1.5
""",
    )
    rules = load_rules(path)
    assert rules.distance == 12.0
    assert rules.window_days == 90
    assert rules.moratorium_days == 912.5
    assert rules.internal is True
    assert rules.exempt_status == frozenset({"cancelled"})
    assert rules.protecting_status == frozenset()
    assert rules.exempt_column == "category"
    assert rules.exempt_values == frozenset({"emergency"})
    assert rules.pair_distance == {("road", "sewer"): 30.0, ("sewer", "water"): 15.0}
    assert rules.kind_weight("synergy") == 2.0
    assert rules.kind_weight("clash") == 4.0  # not given: default
    assert rules.discipline_weight("sewer") == 1.5
    assert (rules.severity_high, rules.severity_medium, rules.overlap_weight) == (5.0, 2.0, 0.0)
    assert isinstance(rules.pair_distance, FrozenMap)


def test_overrides_win_and_none_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "distance = 12\nwindow_days = 90\n")
    rules = load_rules(path, distance=30.0, window_days=None, moratorium_years=1)
    assert rules.distance == 30.0
    assert rules.window_days == 90
    assert rules.moratorium_years == 1.0
    assert load_rules(None, window_days=7).window_days == 7
    assert load_rules() == Rules()


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "distnace = 12\n")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    message = str(err.value)
    assert "'distnace'" in message and str(path) in message and "did you mean 'distance'" in message


def test_unknown_table_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[colours]\nsewer = 2\n")
    with pytest.raises(RulesError, match=r"unknown key 'colours' \(known keys: distance, "):
        load_rules(path)
    path = write(tmp_path, "[weights]\nsewer = 2\n")
    with pytest.raises(RulesError, match="did you mean 'kind_weights'"):
        load_rules(path)


def test_mistyped_value_names_key_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'window_days = "a year"\n')
    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert "'window_days'" in str(err.value) and str(path) in str(err.value)


def test_unknown_override(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="unknown key 'radius'"):
        load_rules(None, radius=3)


def test_bad_override_value() -> None:
    with pytest.raises(RulesError, match="'distance'"):
        load_rules(None, distance="far")


def test_invalid_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "distance = = 3\n")
    with pytest.raises(RulesError, match="not a valid TOML file") as err:
        load_rules(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read the rules file"):
        load_rules(tmp_path / "nope.toml")
