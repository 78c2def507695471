"""Why two works conflict, and what would resolve it.

:func:`explain` takes one conflict row (of :func:`ims_geo.conflicts.find_conflicts`
or :func:`ims_geo.cycle.store_conflicts`), the two works and the
:class:`~ims_geo.conflicts.rules.Rules` it was found with, and returns an
:class:`Explanation`: which rule made the pair this kind, with its numbers
(distance against the distance rule, the gap against the synergy window or
the moratorium), and every move of one work, keeping its duration, that
removes the conflict altogether — the smallest one in each direction:

* **later**: the moved work starts the day after ``boundary``: past the other
  work's end by more than the synergy window, and, when it digs after the
  other seals the surface, by more than the moratorium;
* **earlier**: the moved work ends the day before ``boundary``: before the other
  work's start by the same margins (the sealing side now follows the digging).

A move is proposed only for a work whose status still allows a change
(:data:`ims_geo.schema.CHANGEABLE_STATUSES`), and says whether it stays inside
the work's flexibility window (``earliest`` / ``latest``, by default the
planned dates). Combining the two works into one project is the other way out,
always offered (for a moratorium: dig first, then seal).

Why these moves are exactly right: for one work shifted in time by ``t`` days,
the pair conflicts for a single run of consecutive shifts (the clash in the
middle, the synergy window on both sides, the moratorium after the sealing),
so the conflict-free shifts are two rays and each move is the first day of a
ray. A surface already sealed (a ``done`` road work, or a registered
moratorium) cannot be dug under first: only the later move is offered
against it, and a registered moratorium is cleared after its last protected
day (``protected_until``).

Examples
--------
>>> import pandas as pd
>>> from ims_geo.conflicts.rules import Rules
>>> works = pd.DataFrame({
...     "org": ["City", "Water"], "work_id": ["R1", "W1"],
...     "discipline": ["road", "water"], "layer": ["surface", "subsurface"],
...     "excavation": [False, True], "status": ["planned", "planned"],
...     "start_date": pd.to_datetime(["2030-03-01", "2031-01-10"]),
...     "end_date": pd.to_datetime(["2030-03-31", "2031-01-20"]),
...     "earliest": pd.to_datetime([None, None]), "latest": pd.to_datetime([None, "2035-12-31"])})
>>> conflict = {"kind": "moratorium", "org_a": "City", "work_id_a": "R1",
...             "org_b": "Water", "work_id_b": "W1", "distance_m": 3.0, "gap_days": 285,
...             "discipline_a": "road", "discipline_b": "water"}
>>> found = explain(conflict, works, Rules())
>>> for move in found.moves:
...     print(move.work_id, move.direction, move.boundary, move.within_window)
W1 later 2033-03-30 True
R1 later 2032-01-20 False
W1 earlier 2029-03-01 False
R1 earlier 2028-01-11 False
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from ims_geo import schema as s
from ims_geo.conflicts.rules import Rules
from ims_geo.errors import InputError
from ims_geo.i18n import _, fmt_date, fmt_days, fmt_metres, fmt_number

__all__ = ["Explanation", "Move", "explain", "sentences"]

#: Directions of a move.
LATER, EARLIER = "later", "earlier"


@dataclass(frozen=True)
class Move:
    """One work moved (same duration) so that the pair no longer conflicts.

    Attributes
    ----------
    org, work_id
        The work that moves.
    direction
        ``later``: it starts the day after ``boundary``; ``earlier``: it ends
        the day before ``boundary``.
    boundary
        The last day the move must clear.
    start, end
        The moved work's new period (both days inclusive).
    shift_days
        Days it moves (positive: later).
    within_window
        Whether the new period lies inside the work's flexibility window.
    other_org, other_work_id
        The work it no longer conflicts with.
    """

    org: str
    work_id: str
    direction: str
    boundary: date
    start: date
    end: date
    shift_days: int
    within_window: bool
    other_org: str
    other_work_id: str


@dataclass(frozen=True)
class Explanation:
    """Why a conflict is of its kind, and what would resolve it.

    Attributes
    ----------
    kind
        The conflict's kind (``clash``, ``moratorium``, ``synergy``, ``internal``).
    rule
        The rule that decided it: the kind, or for ``internal`` the kind the
        pair would have between two organisations.
    distance_m, distance_limit_m
        How far apart the works are, and the distance rule for their disciplines.
    gap_days
        ``max(start_a, start_b) - min(end_a, end_b)`` (<= 0: shared days).
    shared_days
        Days both works are in the street (0 unless a clash).
    window_days, moratorium_days
        The synergy window and the moratorium length of the rules.
    sealing, digging
        ``(org, work_id)`` of the sealing and the digging side of a
        moratorium (None for other kinds).
    moratorium_id
        The registered moratorium of the row, if any.
    overlap_m, depth_overlap
        Shared length and shared depth range (NaN when not measured).
    moves
        Every move that removes the conflict: inside a window first, then
        by the days moved.
    combine
        ``(org, work_id)`` of both works: combining them is always an option.
    """

    kind: str
    rule: str
    distance_m: float
    distance_limit_m: float
    gap_days: int
    shared_days: int
    window_days: int
    moratorium_days: float
    sealing: tuple[str, str] | None
    digging: tuple[str, str] | None
    moratorium_id: int | None
    overlap_m: float
    depth_overlap: float
    moves: tuple[Move, ...]
    combine: tuple[tuple[str, str], tuple[str, str]]


@dataclass(frozen=True)
class _Side:
    org: str
    work_id: str
    start: date
    end: date
    earliest: date
    latest: date
    seals: bool
    digs: bool
    movable: bool
    protecting_only: bool


def _day(value: object) -> date | None:
    if value is None:
        return None
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    return pd.Timestamp(value).date()  # type: ignore[arg-type]


def _number(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return number


def _side(
    conflict: Mapping[str, Any], works: pd.DataFrame, side: str, rules: Rules, registered: bool
) -> _Side:
    """One side of the pair: its work, or the row alone for a registered moratorium's
    surface and for a work that is not in ``works`` (another organisation's private work)."""
    org, work_id = str(conflict[f"org_{side}"]), str(conflict[f"work_id_{side}"])
    start = _day(conflict.get(f"start_{side}"))
    end = _day(conflict.get(f"end_{side}"))
    match = works[(works[s.ORG] == org) & (works[s.WORK_ID] == work_id)] if len(works) else works
    if registered or len(match) == 0:
        if start is None or end is None:
            raise InputError(f"the conflict row has no period for {org} · {work_id}")
        # a registered surface protects and nothing else; an unknown work stays where it is
        return _Side(org, work_id, start, end, start, end, registered, False, False, registered)
    work = match.iloc[0]
    start = _day(work[s.START]) or start
    end = _day(work[s.END]) or end
    if start is None or end is None:
        raise InputError(f"the work {org} · {work_id} has no period")
    earliest = _day(work.get(s.EARLIEST)) or start
    latest = _day(work.get(s.LATEST)) or end
    frame = match.iloc[[0]]
    seals = bool(s.seals_surface(frame)[0])
    digs = bool(s.excavates(frame)[0])
    status = str(work.get(s.STATUS, s.DEFAULT_STATUS))
    return _Side(
        org, work_id, start, end, earliest, latest, seals, digs,
        movable=status in s.CHANGEABLE_STATUSES,
        protecting_only=status in rules.exempt_status and status in rules.protecting_status,
    )  # fmt: skip


def _later(moved: _Side, other: _Side, rules: Rules, protected_until: date | None) -> date:
    """The last start day of ``moved`` that still conflicts when it follows ``other``."""
    if other.protecting_only and protected_until is not None:
        return protected_until
    margin = 0 if other.protecting_only else rules.window_days
    if other.seals and moved.digs:
        margin = max(margin, math.floor(rules.moratorium_days))
    return other.end + timedelta(days=margin)


def _earlier(moved: _Side, other: _Side, rules: Rules) -> date:
    """The first end day of ``moved`` that still conflicts when it precedes ``other``."""
    margin = rules.window_days
    if moved.seals and other.digs:
        margin = max(margin, math.floor(rules.moratorium_days))
    return other.start - timedelta(days=margin)


def _moves(
    a: _Side, b: _Side, rules: Rules, protected_until: date | None, not_before: date | None
) -> list[Move]:
    moves = []
    for moved, other in ((a, b), (b, a)):
        if not moved.movable or moved.protecting_only:
            continue
        duration = moved.end - moved.start
        options = [(LATER, _later(moved, other, rules, protected_until))]
        if not other.protecting_only:  # a surface already sealed cannot be dug under first
            options.append((EARLIER, _earlier(moved, other, rules)))
        for direction, boundary in options:
            if direction == LATER:
                start = boundary + timedelta(days=1)
                end = start + duration
            else:
                end = boundary - timedelta(days=1)
                start = end - duration
            if not_before is not None and start < not_before:
                continue  # nothing is moved into the past
            moves.append(
                Move(
                    moved.org,
                    moved.work_id,
                    direction,
                    boundary,
                    start,
                    end,
                    shift_days=(start - moved.start).days,
                    within_window=moved.earliest <= start and end <= moved.latest,
                    other_org=other.org,
                    other_work_id=other.work_id,
                )  # fmt: skip
            )
    moves.sort(key=lambda m: (not m.within_window, abs(m.shift_days)))
    return moves


def _rule(conflict: Mapping[str, Any], gap: int, a: _Side, b: _Side, rules: Rules) -> str:
    kind = str(conflict["kind"])
    if kind != "internal":
        return kind
    if gap <= 0:
        return "clash"
    for seal, dig in ((a, b), (b, a)):
        if seal.seals and dig.digs and dig.start > seal.end and gap <= rules.moratorium_days:
            return "moratorium"
    return "synergy"


def explain(
    conflict: Mapping[str, Any],
    works: pd.DataFrame,
    rules: Rules | None = None,
    *,
    protected_until: object = None,
    not_before: object = None,
) -> Explanation:
    """Why ``conflict`` is of its kind, and the moves that would resolve it.

    Parameters
    ----------
    conflict
        One row of the conflicts frame (a pandas Series or a dict) with at
        least ``kind``, ``org_a``, ``work_id_a``, ``org_b``, ``work_id_b``;
        ``start_*``/``end_*`` are used for a side that is not in ``works``.
    works
        The works the conflict was found in (their windows, statuses and
        whether they seal or dig); only the pair's two rows are read.
    rules
        The rules the conflict was found with (default :class:`Rules`).
    protected_until
        For a row of a registered moratorium (``moratorium_id``): its last
        protected day. Without it the moratorium length of ``rules`` from
        the sealing day is taken.
    not_before
        No move starts before this day (e.g. today: nothing is moved into
        the past, as the programme proposer does); None: no limit.

    Returns
    -------
    Explanation
    """
    rules = Rules() if rules is None else rules
    mid = conflict.get("moratorium_id")
    moratorium_id = None if mid is None or pd.isna(mid) else int(mid)
    # a registered moratorium's row: its surface is the side sealed before the other starts
    end_a, start_b = _day(conflict.get("end_a")), _day(conflict.get("start_b"))
    sealed_a = moratorium_id is not None and end_a is not None and start_b is not None
    sealed_a = sealed_a and end_a < start_b  # type: ignore[operator]
    sealed_b = moratorium_id is not None and not sealed_a
    a = _side(conflict, works, "a", rules, sealed_a)
    b = _side(conflict, works, "b", rules, sealed_b)
    gap = (max(a.start, b.start) - min(a.end, b.end)).days
    rule = _rule(conflict, gap, a, b, rules)
    sealing = digging = None
    if rule == "moratorium":
        seal, dig = (a, b) if b.start > a.end else (b, a)
        sealing, digging = (seal.org, seal.work_id), (dig.org, dig.work_id)
    discipline_a = str(conflict.get("discipline_a", s.DEFAULT_DISCIPLINE))
    discipline_b = str(conflict.get("discipline_b", s.DEFAULT_DISCIPLINE))
    distance = _number(conflict.get("distance_m"))
    return Explanation(
        kind=str(conflict["kind"]),
        rule=rule,
        distance_m=distance,
        distance_limit_m=rules.distance_for(discipline_a, discipline_b),
        gap_days=gap,
        shared_days=max(0, 1 - gap),
        window_days=rules.window_days,
        moratorium_days=rules.moratorium_days,
        sealing=sealing,
        digging=digging,
        moratorium_id=moratorium_id,
        overlap_m=_number(conflict.get("overlap_m")),
        depth_overlap=_number(conflict.get("depth_overlap")),
        moves=tuple(_moves(a, b, rules, _day(protected_until), _day(not_before))),
        combine=((a.org, a.work_id), (b.org, b.work_id)),
    )


# --- in words ------------------------------------------------------------------------------
def _work(pair: tuple[str, str]) -> str:
    return f"{pair[0]} · {pair[1]}"


def sentences(found: Explanation) -> dict[str, list[str]]:
    """The explanation in the language in use: ``why`` (the rule and its numbers)
    and ``resolve`` (the moves and the combination), as plain text lines.

    Organisations and ids are put in as they are: the caller shows the lines
    as text (never as markup).
    """
    first, second = found.combine
    if found.distance_m < 0.005:  # what rounds to 0.00 m: they touch or cross
        apart = _("{a} and {b} touch or cross; works of these disciplines meet within {limit}.")
    else:
        apart = _("{a} and {b} are {distance} apart; works of these disciplines meet within "
                  "{limit}.")  # fmt: skip
    why = [
        apart.format(a=_work(first), b=_work(second), distance=fmt_metres(found.distance_m),
                     limit=fmt_metres(found.distance_limit_m))
    ]  # fmt: skip
    if found.kind == "internal":
        why.append(_("Both works belong to one organisation; between organisations this "
                     "would be a {kind}.").format(kind=_(found.rule)))  # fmt: skip
    if found.rule == "clash":
        why.append(
            _("Clash: both are in the street at the same time, for {days}.").format(
                days=fmt_days(found.shared_days)
            )
        )
    elif found.rule == "moratorium":
        assert found.sealing is not None and found.digging is not None
        years = fmt_number(found.moratorium_days / 365, decimals=1).removesuffix(".0")
        years = years.removesuffix(",0")
        if found.moratorium_id is not None:
            why.append(
                _("Moratorium: {dig} digs {gap} after {seal} sealed the surface, which "
                  "registered moratorium {id} protects.").format(
                    dig=_work(found.digging), gap=fmt_days(found.gap_days),
                    seal=_work(found.sealing), id=found.moratorium_id)
            )  # fmt: skip
        else:
            why.append(
                _("Moratorium (dig after pave): {dig} digs {gap} after {seal} sealed the "
                  "surface; a new surface is protected for {years} years ({days}).").format(
                    dig=_work(found.digging), gap=fmt_days(found.gap_days),
                    seal=_work(found.sealing), years=years,
                    days=fmt_days(math.floor(found.moratorium_days)))
            )  # fmt: skip
    else:
        why.append(
            _("Synergy: the periods are {gap} apart, within the synergy window of {window}: "
              "the street could be opened once.").format(
                gap=fmt_days(found.gap_days), window=fmt_days(found.window_days))
        )  # fmt: skip
    if not math.isnan(found.overlap_m) and found.overlap_m > 0:
        why.append(_("They share {length} of street.").format(length=fmt_metres(found.overlap_m)))
    if not math.isnan(found.depth_overlap) and found.depth_overlap > 0:
        why.append(_("Their depth ranges overlap by {depth}.").format(
            depth=fmt_metres(found.depth_overlap)))  # fmt: skip
    resolve = []
    for move in found.moves:
        if move.direction == LATER:
            text = _("Move {work} to start after {date} ({start} to {end}, {shift} later)")
        else:
            text = _("Move {work} to end before {date} ({start} to {end}, {shift} earlier)")
        text = text.format(
            work=_work((move.org, move.work_id)), date=fmt_date(move.boundary),
            start=fmt_date(move.start), end=fmt_date(move.end),
            shift=fmt_days(abs(move.shift_days)),
        )  # fmt: skip
        suffix = (
            _("inside its flexibility window")
            if move.within_window
            else _("outside its flexibility window")
        )
        resolve.append(f"{text}: {suffix}.")
    if found.rule == "moratorium" and found.sealing is not None and found.digging is not None:
        resolve.append(
            _("Or combine {dig} with {seal}: dig first, then lay the new surface.").format(
                dig=_work(found.digging), seal=_work(found.sealing))
        )  # fmt: skip
    elif found.rule == "synergy":  # an opportunity: combining comes first
        resolve.insert(0, _("Combine {a} with {b} into one project: the street is opened once.")
                       .format(a=_work(first), b=_work(second)))  # fmt: skip
    else:
        resolve.append(_("Or combine {a} with {b} into one project.").format(
            a=_work(first), b=_work(second)))  # fmt: skip
    return {"why": why, "resolve": resolve}
