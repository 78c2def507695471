"""Unit costs used to price what combining works saves.

The defaults are rough planning estimates for urban streets in north-west
Europe (the Netherlands, Germany, the United Kingdom), chosen from the
middle of the ranges that municipal reinstatement tariffs, utility unit-rate
schedules and contractors' price lists commonly quote. They are good enough
to rank options and to show orders of magnitude; they are not a cost
estimate of any real project. Replace them with your own rates: pass a
:class:`CostTable` to :func:`ims_geo.programme.propose`, or write a TOML
file like ``data/costs.example.toml`` and read it with :func:`load_costs`.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ims_geo._toml import read_toml
from ims_geo.errors import InputError


@dataclass(frozen=True)
class CostTable:
    """Unit costs and dimensions for the savings of a combined programme.

    Parameters
    ----------
    trench_eur_per_m
        Excavating, shoring and backfilling one metre of utility trench in
        a paved street, before reinstatement. Typical unit rates for a
        0.6-1.0 m wide, 1-2 m deep trench lie around EUR 150-400 per metre;
        default 250. A work laid into a trench another work already opened
        saves this per shared metre.
    reinstatement_eur_per_m2
        Permanent reinstatement of a trench in an asphalt street (cutting
        back, base, binder and surface course). Municipal reinstatement
        tariffs and schedules of rates are commonly in the range
        EUR 60-150 per m²; default 90. Saved for every m² of trench that a
        combined project's final surfacing covers instead of a separate
        reinstatement.
    trench_width_m
        Width of surface reinstated per metre of trench, including the
        cut-back beyond the trench edges that reinstatement specifications
        require (a 0.6-0.8 m trench reinstated about 1 m wide); default 1.0.
    traffic_management_eur_per_day
        Temporary traffic management of one street works site per day
        (signs, barriers, temporary lights, diversions, inspections): about
        EUR 150-1,000 per day depending on the street; default 400.
    site_setup_eur
        Mobilisation, site set-up and removal, permits and pre-start surveys
        of one separate works site: a few thousand euros; default 2,500.
        Combining n works into one project saves n - 1 of them.
    share_distance_m
        Two works' geometries closer than this share a trench, and a trench
        closer than this to a sealing work lies under its new surface
        (about half the width of a street); default 5.0 m.
    """

    trench_eur_per_m: float = 250.0
    reinstatement_eur_per_m2: float = 90.0
    trench_width_m: float = 1.0
    traffic_management_eur_per_day: float = 400.0
    site_setup_eur: float = 2_500.0
    share_distance_m: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"cost table: '{f.name}' must be a number, got {value!r}")
            if not math.isfinite(float(value)) or float(value) < 0:
                raise InputError(
                    f"cost table: '{f.name}' must be a finite number >= 0, got {value!r}"
                )
            object.__setattr__(self, f.name, float(value))


_FIELDS = tuple(f.name for f in fields(CostTable))


def load_costs(path: str | Path, **overrides: Any) -> CostTable:
    """Read a :class:`CostTable` from a TOML file.

    Parameters
    ----------
    path
        TOML file whose keys are fields of :class:`CostTable` (at the top
        level or in a ``[costs]`` table); keys left out keep their default.
    **overrides
        Values that replace the file's; None is ignored.

    Raises
    ------
    InputError
        The file cannot be read, is not TOML, or has an unknown key or a
        value that is not a number >= 0; the message names the file and key.

    Examples
    --------
    >>> from pathlib import Path
    >>> load_costs(Path("data/costs.example.toml")).trench_width_m
    1.0
    """
    where = str(path)
    values = read_toml(path, "cost table")
    if isinstance(values.get("costs"), dict):
        values = {**{k: v for k, v in values.items() if k != "costs"}, **values["costs"]}
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key in values:
        if key not in _FIELDS:
            close = difflib.get_close_matches(str(key), _FIELDS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(_FIELDS)}"
            raise InputError(f"{where}: unknown cost key '{key}' ({hint})")
    try:
        return CostTable(**values)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


__all__ = ["CostTable", "load_costs"]
