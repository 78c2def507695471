"""Cycles and their targets: named numbers a cycle is measured against.

A cycle is a year (DESIGN.md §5). Its row in ``cycles`` says whether it is a
*full revision* (the once-per-election-period review in which every
organisation re-submits its plan); its targets live in ``cycle_targets``.

The known KPIs (:data:`KPIS`) are computed by :func:`ims_geo.cycle.kpis`;
any other name is a *custom* KPI, accepted only when asked for (so that a
typo such as ``combined_shar`` is an error that lists the known names). A
custom KPI has a target but no computed value.

State of a KPI against its target (:func:`kpi_state`): for a KPI where
higher is better, ``green`` when value >= target, ``amber`` when value >=
90 % of the target, else ``red``; where lower is better, ``green`` when
value <= target, ``amber`` when value <= 110 % of a positive target, else
``red`` (so any moratorium violation against a target of 0 is red).
``no target`` when none is set, ``no data`` when the value cannot be
computed yet (e.g. no programme adopted).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ims_geo._toml import read_toml
from ims_geo.cycle._common import checked_cycle, flag, now_text, require_coordinator
from ims_geo.errors import InputError
from ims_geo.store.base import Store
from ims_geo.store.cycle_tables import transaction


@dataclass(frozen=True)
class Kpi:
    """A KPI the cycle computes: its name, which way is better, its unit."""

    name: str
    better: str  # "higher" or "lower"
    unit: str
    description: str


#: The KPIs computed for every cycle, by name.
KPIS: dict[str, Kpi] = {
    k.name: k
    for k in (
        Kpi("combined_share", "higher", "share",
            "share of the programme's excavating works executed combined"),
        Kpi("moratorium_violations", "lower", "conflicts",
            "moratorium conflicts (dig after pave, moratoria layer included)"),
        Kpi("max_disruption_days", "lower", "days",
            "most days any street segment is occupied in the cycle year"),
        Kpi("savings_eur", "higher", "EUR",
            "savings of the adopted combined projects that still combine"),
        Kpi("submitted_share", "higher", "share",
            "share of organisations that submitted a plan for the cycle"),
    )
}  # fmt: skip
#: Targets every cycle starts with (the issue's "moratorium violations = 0").
DEFAULT_TARGETS: dict[str, float] = {"moratorium_violations": 0.0}
#: Columns of :func:`targets`.
TARGET_COLUMNS: tuple[str, ...] = ("kpi", "target", "custom", "better", "description")
#: Columns of :func:`cycles`.
CYCLE_COLUMNS: tuple[str, ...] = ("year", "full_revision", "note", "updated_at")
#: States of a KPI against its target.
STATES: tuple[str, ...] = ("green", "amber", "red", "no target", "no data")

_AMBER = 0.1


def cycles(store: Store) -> pd.DataFrame:
    """Every cycle year the store knows settings of: :data:`CYCLE_COLUMNS`."""
    with transaction(store) as tx:
        rows = tx.rows("SELECT year, full_revision, note, updated_at FROM {t}cycles ORDER BY year")
    frame = pd.DataFrame(rows, columns=list(CYCLE_COLUMNS))
    return frame.assign(
        year=frame["year"].astype("int64"),
        full_revision=[flag(v) for v in frame["full_revision"]],
    )


def set_full_revision(
    store: Store, cycle: int, full_revision: bool = True, *, note: str | None = None
) -> None:
    """Mark ``cycle`` as a full revision (or not): every plan must then be re-submitted."""
    year = checked_cycle(cycle)
    require_coordinator(store, "mark a full revision")
    with transaction(store, write=True) as tx:
        tx.run("DELETE FROM {t}cycles WHERE year = :y", {"y": year})
        tx.run(
            "INSERT INTO {t}cycles (year, full_revision, note, updated_at) VALUES (:y, :f, :n, :u)",
            {"y": year, "f": bool(full_revision), "n": note, "u": now_text()},
        )


def is_full_revision(store: Store, cycle: int) -> bool:
    """Whether ``cycle`` is marked a full revision."""
    year = checked_cycle(cycle)
    with transaction(store) as tx:
        rows = tx.rows("SELECT full_revision FROM {t}cycles WHERE year = :y", {"y": year})
    return bool(rows) and flag(rows[0][0])


def targets(store: Store, cycle: int) -> pd.DataFrame:
    """The targets of ``cycle``: :data:`TARGET_COLUMNS`, known KPIs first.

    Every known KPI has a row (target NaN when none is set, except the
    defaults of :data:`DEFAULT_TARGETS`), then the custom KPIs by name.
    """
    year = checked_cycle(cycle)
    with transaction(store) as tx:
        rows = tx.rows(
            "SELECT kpi, target, custom FROM {t}cycle_targets WHERE cycle = :y ORDER BY kpi",
            {"y": year},
        )
    stored = {str(k): (float(v), flag(c)) for k, v, c in rows}
    out = []
    for name, kpi in KPIS.items():
        value = stored.get(name, (DEFAULT_TARGETS.get(name, math.nan), False))[0]
        out.append((name, value, False, kpi.better, kpi.description))
    for name, (value, _) in sorted(stored.items()):
        if name not in KPIS:
            out.append((name, value, True, "", "custom KPI"))
    frame = pd.DataFrame(out, columns=list(TARGET_COLUMNS))
    return frame.astype({"target": "float64", "custom": bool})


def stored_targets(store: Store, cycle: int) -> dict[str, float]:
    """The targets stored for ``cycle`` (KPI name -> number), without the defaults.

    What a cycle set itself, e.g. to carry over into the next cycle
    (Fortschreibung): :func:`set_targets` of the next year with ``custom=True``.
    """
    year = checked_cycle(cycle)
    with transaction(store) as tx:
        rows = tx.rows(
            "SELECT kpi, target FROM {t}cycle_targets WHERE cycle = :y ORDER BY kpi", {"y": year}
        )
    return {str(k): float(v) for k, v in rows}


def set_targets(
    store: Store,
    cycle: int,
    values: Mapping[str, Any],
    *,
    custom: bool = False,
    clear: Iterable[str] = (),
) -> pd.DataFrame:
    """Store targets of ``cycle`` (replacing those of the same names).

    Parameters
    ----------
    values
        KPI name -> number.
    custom
        Accept names that are not known KPIs as custom KPIs; otherwise an
        unknown name is an error listing the known names.
    clear
        Names whose stored target is removed: a known KPI is back to its
        default (:data:`DEFAULT_TARGETS`) or to no target, a custom KPI is gone.

    Returns
    -------
    pandas.DataFrame
        The cycle's targets after the change (see :func:`targets`).
    """
    year = checked_cycle(cycle)
    checked = check_targets(values, custom=custom)
    cleared = sorted({str(name).strip() for name in clear} - set(checked))
    if not checked and not cleared:
        raise InputError("no targets given; set e.g. combined_share=0.6")
    unknown = [n for n in cleared if n not in KPIS and n not in stored_targets(store, year)]
    if unknown:
        raise InputError(
            f"no target {', '.join(map(repr, unknown))} in cycle {year} to remove; its targets: "
            + ", ".join(targets(store, year)["kpi"])
        )
    require_coordinator(store, "set the cycle's targets")
    stamp = now_text()
    with transaction(store, write=True) as tx:
        tx.many(
            "DELETE FROM {t}cycle_targets WHERE cycle = :y AND kpi = :k",
            [{"y": year, "k": name} for name in [*checked, *cleared]],
        )
        tx.many(
            "INSERT INTO {t}cycle_targets (cycle, kpi, target, custom, updated_at) "
            "VALUES (:y, :k, :v, :c, :u)",
            [
                {"y": year, "k": n, "v": v, "c": n not in KPIS, "u": stamp}
                for n, v in checked.items()
            ],
        )
    return targets(store, year)


def check_targets(values: Mapping[str, Any], *, custom: bool = False) -> dict[str, float]:
    """Target names and numbers checked: every problem reported at once."""
    problems: list[str] = []
    out: dict[str, float] = {}
    for raw_name, raw_value in values.items():
        name = str(raw_name).strip()
        if not name or len(name) > 64 or any(ch.isspace() for ch in name):
            problems.append(f"{raw_name!r} is not a KPI name (one word, up to 64 characters)")
            continue
        if name not in KPIS and not custom:
            close = difflib.get_close_matches(name, list(KPIS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(
                f"unknown KPI {name!r}{hint}; known KPIs: {', '.join(KPIS)} "
                "(add --custom to store it as a custom KPI)"
            )
            continue
        try:
            number = float(str(raw_value).strip()) if isinstance(raw_value, str) else raw_value
            number = float(number)
        except (TypeError, ValueError):
            problems.append(f"target {name}={raw_value!r} is not a number")
            continue
        if isinstance(raw_value, bool) or not math.isfinite(number):
            problems.append(f"target {name}={raw_value!r} is not a finite number")
            continue
        if name.endswith("_share") and name in KPIS and not 0 <= number <= 1:
            problems.append(f"target {name}={number} is a share: give it between 0 and 1")
            continue
        out[name] = number
    if problems:
        raise InputError("; ".join(problems))
    return out


def parse_assignments(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``NAME=VALUE`` texts (from the command line) as a mapping."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set {item!r}: write it as NAME=VALUE, e.g. combined_share=0.6")
        out[name.strip()] = value.strip()
    return out


def load_targets(path: str | Path) -> dict[str, Any]:
    """Targets from a TOML file: ``name = number`` lines (a ``[targets]`` table also works)."""
    data = read_toml(path, "targets file")
    table = data.get("targets", data)
    if not isinstance(table, dict):
        raise InputError(f"{path}: write targets as name = number lines")
    nested = [k for k, v in table.items() if isinstance(v, dict)]
    if nested:
        raise InputError(f"{path}: [{nested[0]}] is not a target; write name = number lines")
    return dict(table)


def kpi_state(value: float, target: float, better: str) -> str:
    """The state of one KPI against its target (see the module docstring)."""
    if target is None or math.isnan(target):
        return "no target"
    if value is None or math.isnan(value):
        return "no data"
    if better == "higher":
        if value >= target:
            return "green"
        return "amber" if value >= target * (1 - _AMBER) else "red"
    if better == "lower":
        if value <= target:
            return "green"
        return "amber" if target > 0 and value <= target * (1 + _AMBER) else "red"
    return "no data"
