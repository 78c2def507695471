"""The rules the conflict engine judges pairs of works by.

:class:`Rules` holds every setting of :func:`ims_geo.conflicts.find_conflicts`:
how close two works must be (``distance``, per discipline pair
``pair_distance``), how close in time (``window_days``,
``moratorium_years``), which works take no part (``exempt_status``,
``exempt_column``/``exempt_values``), and how conflicts are weighed
(``kind_weights``, ``discipline_weights``, ``overlap_weight``,
``severity_high``, ``severity_medium``). :func:`load_rules` reads them from a
TOML file (see ``data/rules.example.toml``, which documents every key);
values given on the command line override the file.

Examples
--------
>>> rules = Rules(distance=25, pair_distance={("road", "sewer"): 30})
>>> rules.distance_for("sewer", "road")
30.0
>>> rules.distance_for("gas", "road")
25.0
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from ims_geo._toml import read_toml
from ims_geo.errors import RulesError
from ims_geo.schema import DISCIPLINES, STATUSES

#: Conflict kinds, in the order the rules are tried (``internal`` is a same-organisation pair).
KINDS: tuple[str, ...] = ("clash", "moratorium", "synergy", "internal")

_K = TypeVar("_K")


class FrozenMap(Mapping[_K, float]):
    """An immutable, hashable mapping (so :class:`Rules` stays hashable)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[_K, float] | Iterable[tuple[_K, float]] = ()) -> None:
        self._data: dict[_K, float] = dict(data)
        self._hash: int | None = None

    def __getitem__(self, key: _K) -> float:
        return self._data[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


DEFAULT_KIND_WEIGHTS: FrozenMap[str] = FrozenMap(
    {"clash": 4.0, "moratorium": 4.0, "synergy": 1.0, "internal": 0.5}
)
DEFAULT_EXEMPT_VALUES: frozenset[str] = frozenset(
    {"true", "yes", "1", "emergency", "urgent", "immediate"}
)


@dataclass(frozen=True)
class Rules:
    """Settings of the conflict engine (DESIGN.md §3).

    Parameters
    ----------
    distance
        Two works meet when they are at most this many metres apart
        (``distance <= D``, measured in a local metric CRS).
    window_days
        A pair that neither clashes nor breaks a moratorium is a synergy
        when the gap between the two periods is at most this many days.
    moratorium_years
        Years (of 365 days) a sealed surface is protected: an excavation
        that starts after a sealing work ends, within
        ``moratorium_years * 365`` days of its end, is a ``moratorium``.
    pair_distance
        Distance for particular discipline pairs, e.g.
        ``{("sewer", "road"): 30}``; the order of the two disciplines does
        not matter. Pairs not listed use ``distance``.
    exempt_status
        Statuses whose works take no part (default ``cancelled`` and
        ``done``) ...
    protecting_status
        ... except that a sealing work (road, surface) with one of these
        statuses (default ``done``) still protects the surface it sealed:
        it takes part as the sealing side of a moratorium, and in nothing
        else.
    exempt_column
        A column marking works that take no part at all, e.g. emergency
        works that cannot be planned (default ``emergency``). A works frame
        without the column exempts nothing; None switches the check off.
    exempt_values
        Values of ``exempt_column`` that exempt a work, compared as text
        without case and surrounding spaces (``True`` is ``"true"``, 1.0 is
        ``"1"``). The default covers a boolean column (true/yes/1) and a
        category column (emergency/urgent/immediate).
    kind_weights
        Base weight of each kind in the score (``clash``, ``moratorium``,
        ``synergy``, ``internal``); kinds not given keep their default.
    discipline_weights
        Weight of each discipline in the score (default 1.0 each).
    overlap_weight
        Weight of the shared length in the score (see
        :mod:`ims_geo.conflicts`).
    severity_high, severity_medium
        Score from which a conflict is ``high`` / ``medium``; below
        ``severity_medium`` it is ``low``.
    internal
        Also report pairs of works of one organisation, as kind ``internal``.
    """

    distance: float = 20.0
    window_days: int = 365
    moratorium_years: float = 3
    pair_distance: Mapping[tuple[str, str], float] = field(default_factory=FrozenMap)
    exempt_status: frozenset[str] = frozenset({"cancelled", "done"})
    protecting_status: frozenset[str] = frozenset({"done"})
    exempt_column: str | None = "emergency"
    exempt_values: frozenset[str] = DEFAULT_EXEMPT_VALUES
    kind_weights: Mapping[str, float] = DEFAULT_KIND_WEIGHTS
    discipline_weights: Mapping[str, float] = field(default_factory=FrozenMap)
    overlap_weight: float = 1.0
    severity_high: float = 4.0
    severity_medium: float = 1.5
    internal: bool = False

    def __post_init__(self) -> None:
        _check_rules(self, "rules")

    @property
    def moratorium_days(self) -> float:
        """Length of the moratorium in days (a year is 365 days)."""
        return self.moratorium_years * 365

    def distance_for(self, discipline_a: str, discipline_b: str) -> float:
        """The distance in metres that applies to a pair of disciplines."""
        key = (
            (discipline_a, discipline_b)
            if discipline_a <= discipline_b
            else (discipline_b, discipline_a)
        )
        return float(self.pair_distance.get(key, self.distance))

    @property
    def max_distance(self) -> float:
        """The largest distance any pair of disciplines may meet at."""
        return max([self.distance, *self.pair_distance.values()])

    def kind_weight(self, kind: str) -> float:
        """The base score weight of a conflict kind."""
        return float(self.kind_weights.get(kind, DEFAULT_KIND_WEIGHTS[kind]))

    def discipline_weight(self, discipline: str) -> float:
        """The score weight of a discipline."""
        return float(self.discipline_weights.get(discipline, 1.0))


# --- checking ----------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: object, key: str, where: str, *, minimum: float = 0.0) -> float:
    if not _is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise RulesError(f"{where}: key '{key}' must be a number, got {value!r}")
    if float(value) < minimum:  # type: ignore[arg-type]
        raise RulesError(f"{where}: key '{key}' must be >= {minimum:g}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _whole(value: object, key: str, where: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RulesError(f"{where}: key '{key}' must be a whole number of days, got {value!r}")
    if value < 0:
        raise RulesError(f"{where}: key '{key}' must be >= 0, got {value!r}")
    return value


def _texts(value: object, key: str, where: str, allowed: tuple[str, ...] | None) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise RulesError(f"{where}: key '{key}' must be a list of text values, got {value!r}")
    items = list(value)
    if not all(isinstance(v, str) for v in items):
        raise RulesError(f"{where}: key '{key}' must be a list of text values, got {value!r}")
    out = frozenset(v.strip().lower() for v in items)
    if allowed is not None:
        unknown = sorted(out - set(allowed))
        if unknown:
            raise RulesError(
                f"{where}: key '{key}' has unknown value(s) {', '.join(unknown)} "
                f"(use: {', '.join(allowed)})"
            )
    return out


def _weights(value: object, key: str, where: str, allowed: tuple[str, ...]) -> FrozenMap[str]:
    if not isinstance(value, Mapping):
        raise RulesError(f"{where}: key '{key}' must be a table of name = number, got {value!r}")
    out: dict[str, float] = {}
    for name, weight in value.items():
        if name not in allowed:
            raise RulesError(f"{where}: key '{key}.{name}' is unknown (use: {', '.join(allowed)})")
        out[name] = _number(weight, f"{key}.{name}", where)
    return FrozenMap(out)


def _pairs(value: object, key: str, where: str) -> FrozenMap[tuple[str, str]]:
    """Pair distances as {(a, b): metres} with a <= b; accepts nested tables too."""
    if not isinstance(value, Mapping):
        raise RulesError(
            f"{where}: key '{key}' must be a table such as sewer.road = 30, got {value!r}"
        )
    flat: list[tuple[tuple[str, str], object, str]] = []
    for first, inner in value.items():
        if isinstance(first, tuple):
            if len(first) != 2:
                raise RulesError(
                    f"{where}: key '{key}' needs pairs of two disciplines, got {first!r}"
                )
            flat.append(((str(first[0]), str(first[1])), inner, f"{key}.{first[0]}.{first[1]}"))
        elif isinstance(inner, Mapping):
            for second, metres in inner.items():
                flat.append(((str(first), str(second)), metres, f"{key}.{first}.{second}"))
        else:
            raise RulesError(
                f"{where}: key '{key}.{first}' must name a second discipline, "
                f"e.g. {key}.{first}.road = 30"
            )
    out: dict[tuple[str, str], float] = {}
    for (a, b), metres, name in flat:
        for d in (a, b):
            if d not in DISCIPLINES:
                raise RulesError(
                    f"{where}: key '{name}' names unknown discipline '{d}' "
                    f"(use: {', '.join(DISCIPLINES)})"
                )
        pair = (a, b) if a <= b else (b, a)
        metres = _number(metres, name, where)
        if out.get(pair, metres) != metres:
            raise RulesError(
                f"{where}: key '{name}' gives {pair[0]}/{pair[1]} a second, different "
                "distance; list each pair of disciplines once"
            )
        out[pair] = metres
    return FrozenMap(out)


def _check_rules(rules: Rules, where: str) -> None:
    """Validate and normalise every field in place (the dataclass is frozen)."""
    set_ = object.__setattr__
    set_(rules, "distance", _number(rules.distance, "distance", where))
    set_(rules, "window_days", _whole(rules.window_days, "window_days", where))
    set_(rules, "moratorium_years", _number(rules.moratorium_years, "moratorium_years", where))
    set_(rules, "pair_distance", _pairs(rules.pair_distance, "pair_distance", where))
    set_(rules, "exempt_status", _texts(rules.exempt_status, "exempt_status", where, STATUSES))
    set_(
        rules,
        "protecting_status",
        _texts(rules.protecting_status, "protecting_status", where, STATUSES),
    )
    column = rules.exempt_column
    if column is not None and not isinstance(column, str):
        raise RulesError(f"{where}: key 'exempt_column' must be a column name, got {column!r}")
    set_(rules, "exempt_column", (column.strip() or None) if column is not None else None)
    set_(rules, "exempt_values", _texts(rules.exempt_values, "exempt_values", where, None))
    set_(rules, "kind_weights", _weights(rules.kind_weights, "kind_weights", where, KINDS))
    set_(
        rules,
        "discipline_weights",
        _weights(rules.discipline_weights, "discipline_weights", where, DISCIPLINES),
    )
    set_(rules, "overlap_weight", _number(rules.overlap_weight, "overlap_weight", where))
    high = _number(rules.severity_high, "severity_high", where)
    medium = _number(rules.severity_medium, "severity_medium", where)
    if medium > high:
        raise RulesError(
            f"{where}: key 'severity_medium' ({medium:g}) must not exceed "
            f"'severity_high' ({high:g})"
        )
    set_(rules, "severity_high", high)
    set_(rules, "severity_medium", medium)
    if not isinstance(rules.internal, bool):
        raise RulesError(f"{where}: key 'internal' must be true or false, got {rules.internal!r}")


# --- loading -------------------------------------------------------------------

_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Rules))


def load_rules(path: str | Path | None = None, **overrides: Any) -> Rules:
    """Read rules from a TOML file; ``overrides`` (e.g. command-line flags) win.

    Parameters
    ----------
    path
        TOML file with any of the keys of :class:`Rules` (see
        ``data/rules.example.toml``); None reads no file (defaults).
    **overrides
        Values that replace the file's, by key; a value of None is ignored
        (a command-line flag that was not given).

    Returns
    -------
    Rules

    Raises
    ------
    RulesError
        The file is not valid TOML, or has an unknown key or a value of the
        wrong kind; the message names the key and the file.

    Examples
    --------
    >>> load_rules(None, distance=30, window_days=None).distance
    30.0
    """
    where = "rules"
    values: dict[str, Any] = {}
    if path is not None:
        where = str(path)
        values = read_toml(path, "rules file", RulesError)
        _known(values, where)
    given = {k: v for k, v in overrides.items() if v is not None}
    _known(given, "rules overrides")
    values.update(given)
    rules = Rules.__new__(Rules)
    defaults = Rules()
    for name in _FIELDS:
        object.__setattr__(rules, name, values.get(name, getattr(defaults, name)))
    _check_rules(rules, where)
    return rules


def _known(values: Mapping[str, Any], where: str) -> None:
    for key in values:
        if key not in _FIELDS:
            close = difflib.get_close_matches(str(key), _FIELDS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(_FIELDS)}"
            raise RulesError(f"{where}: unknown key '{key}' ({hint})")


__all__ = ["KINDS", "FrozenMap", "Rules", "load_rules"]
