"""What the Programme page negotiates with, as plain tables (no Streamlit here).

A coordinator keeps combined projects they agreed on, keeps single works at
their planned dates, leaves works out, and compares proposals. The page
holds those choices; this module turns them into the ``lock`` and
``exclude`` tables of :func:`ims_geo.programme.propose`, writes a proposal as the workbook
``ims-geo propose`` writes (so it can be compared and adopted again), and
compares two proposals with :func:`ims_geo.programme.compare`.

Lock table
----------
One row per locked work: ``org``, ``work_id``, ``lock`` (true), and the
dates it keeps: ``proposed_start``, ``proposed_end`` (and ``cluster_id``,
``exec_order``) of the proposal in which its project was kept, or its own
planned dates for a work kept as planned — the format of an earlier
proposal's works layer, which ``ims-geo propose --lock`` reads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from ims_geo import export
from ims_geo.errors import InputError
from ims_geo.i18n import _, fmt_money, fmt_number
from ims_geo.i18n.headers import headed
from ims_geo.i18n.labels import KPI_NAMES
from ims_geo.programme import (
    CLUSTER_ID,
    EXEC_ORDER,
    LOCK,
    MOVE_REASON,
    PROPOSED_END,
    PROPOSED_START,
    SHIFT_DAYS,
    Proposal,
    compare,
    style_gantt,
)
from ims_geo.schema import END, ORG, START, TITLE, WORK_ID

__all__ = [
    "LOCK_COLUMNS",
    "adopted",
    "asked_rule",
    "compare_with",
    "exclude_table",
    "kpi_name",
    "kpi_table",
    "kpi_value",
    "lock_table",
    "project_members",
    "saved",
    "split_table",
    "work_keys",
    "workbook",
]


def kpi_name(kpi: str) -> str:
    """A KPI's name in words, in the language in use."""
    return _(KPI_NAMES[kpi]) if kpi in KPI_NAMES else _(kpi).capitalize()


def kpi_value(kpi: str, value: float) -> str:
    """A KPI's value as people read it (euros as money)."""
    return fmt_money(value) if kpi.endswith(" eur") else fmt_number(value)


def kpi_table(kpis: pd.DataFrame) -> pd.DataFrame:
    """Every KPI of a proposal in words: its name, baseline, proposal and change, as text."""
    rows = []
    for kpi, base, value in kpis.loc[:, ["kpi", "baseline", "proposal"]].itertuples(index=False):
        change = float(value) - float(base)
        rows.append((kpi_name(kpi), kpi_value(kpi, base), kpi_value(kpi, value),
                     ("+" if change > 0 else "") + kpi_value(kpi, change)))  # fmt: skip
    return pd.DataFrame(rows, columns=["kpi", "baseline", "proposal", "change"], dtype=object)


def asked_rule(rule: str) -> str:
    """The split rule a project asked for (``cost (fallback from trench)`` asked ``trench``)."""
    text = str(rule)
    return text.split("(fallback from ", 1)[1].rstrip(") ") if "(fallback from " in text else text


#: Columns of :func:`lock_table`.
LOCK_COLUMNS: tuple[str, ...] = (
    ORG, WORK_ID, LOCK, CLUSTER_ID, PROPOSED_START, PROPOSED_END, EXEC_ORDER,
)  # fmt: skip
#: Columns of a proposal kept for comparison (:func:`saved`).
SAVED_COLUMNS: tuple[str, ...] = (
    ORG, WORK_ID, TITLE, START, END, PROPOSED_START, PROPOSED_END, CLUSTER_ID, EXEC_ORDER,
    SHIFT_DAYS,
)  # fmt: skip
_SEP = "\x1f"


def work_keys(works: pd.DataFrame) -> pd.Index:
    """``org`` and ``work_id`` of every work as one key (the identity of a work)."""
    return pd.Index(works[ORG].astype(str) + _SEP + works[WORK_ID].astype(str))


def project_members(works: pd.DataFrame, projects: Iterable[str]) -> pd.DataFrame:
    """The rows of a proposal's works (:data:`LOCK_COLUMNS`) that belong to ``projects``,
    with the dates and order they have in that proposal."""
    chosen = works[works[CLUSTER_ID].astype("string").isin(list(projects)).fillna(False)]
    out = pd.DataFrame(
        {
            ORG: chosen[ORG].astype(str),
            WORK_ID: chosen[WORK_ID].astype(str),
            LOCK: True,
            CLUSTER_ID: chosen[CLUSTER_ID].astype(str),
            PROPOSED_START: pd.to_datetime(chosen[PROPOSED_START]),
            PROPOSED_END: pd.to_datetime(chosen[PROPOSED_END]),
            EXEC_ORDER: pd.to_numeric(chosen[EXEC_ORDER], errors="coerce"),
        }
    )
    return out.reset_index(drop=True)


def lock_table(kept: pd.DataFrame, planned: Iterable[str], works: pd.DataFrame) -> pd.DataFrame:
    """The ``lock`` table of :func:`ims_geo.programme.propose` (see the module docstring).

    Parameters
    ----------
    kept
        Members of kept projects (:func:`project_members`).
    planned
        Keys (:func:`work_keys`) of works kept at their planned dates.
    works
        The current works (org, work_id, start_date, end_date).

    Returns
    -------
    pandas.DataFrame
        :data:`LOCK_COLUMNS`; a work of a kept project keeps that project's
        dates even when it is also marked as planned. Works no longer among
        ``works`` are left out.
    """
    keys = work_keys(works)
    mine = kept[work_keys(kept).isin(keys)] if len(kept) else kept
    own = works[keys.isin(list(planned)) & ~keys.isin(work_keys(mine) if len(mine) else [])]
    alone = pd.DataFrame(
        {
            ORG: own[ORG].astype(str),
            WORK_ID: own[WORK_ID].astype(str),
            LOCK: True,
            CLUSTER_ID: pd.Series(pd.NA, index=own.index, dtype="string"),
            PROPOSED_START: pd.to_datetime(own[START]),
            PROPOSED_END: pd.to_datetime(own[END]),
            EXEC_ORDER: pd.Series(float("nan"), index=own.index),
        }
    )
    parts = [p for p in (pd.DataFrame(mine), alone) if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LOCK_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out[CLUSTER_ID] = out[CLUSTER_ID].astype("string")
    return (
        out.loc[:, list(LOCK_COLUMNS)]
        .sort_values([ORG, WORK_ID], kind="stable")
        .reset_index(drop=True)
    )


def exclude_table(excluded: Iterable[str], works: pd.DataFrame) -> pd.DataFrame:
    """The ``exclude`` table (org, work_id) of the works with these keys."""
    keys = work_keys(works)
    chosen = works[keys.isin(list(excluded))]
    return pd.DataFrame(
        {ORG: chosen[ORG].astype(str).to_numpy(), WORK_ID: chosen[WORK_ID].astype(str).to_numpy()}
    )


def split_table(rules: Mapping[str, str], works: pd.DataFrame) -> pd.DataFrame:
    """The ``split`` table of :func:`ims_geo.programme.propose`: ``org``, ``work_id``,
    ``rule`` for the works (:func:`work_keys`) given a rule, those still among ``works``."""
    keys = work_keys(works)
    chosen = works[keys.isin(list(rules))]
    return pd.DataFrame(
        {
            ORG: chosen[ORG].astype(str).to_numpy(),
            WORK_ID: chosen[WORK_ID].astype(str).to_numpy(),
            "rule": [rules[str(k)] for k in work_keys(chosen)],
        }
    )


def saved(proposal: Proposal) -> dict[str, pd.DataFrame]:
    """What is kept of a proposal to compare it later: its KPIs and its works' dates."""
    w = proposal.works
    return {
        "kpis": pd.DataFrame(proposal.kpis).reset_index(drop=True),
        "works": pd.DataFrame(w.loc[:, [c for c in SAVED_COLUMNS if c in w.columns]]).reset_index(
            drop=True
        ),
    }


def adopted(programme: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """An adopted programme (:func:`ims_geo.cycle.programme`) as :func:`saved` has a
    proposal, to compare with: its works' adopted dates and projects (no KPIs are kept
    with an adoption)."""
    works = pd.DataFrame(
        {
            ORG: programme[ORG].astype(str),
            WORK_ID: programme[WORK_ID].astype(str),
            TITLE: programme[TITLE] if TITLE in programme else "",
            PROPOSED_START: pd.to_datetime(programme["start"]),
            PROPOSED_END: pd.to_datetime(programme["end"]),
            CLUSTER_ID: programme["project"].astype("string"),
            EXEC_ORDER: pd.to_numeric(programme["order"], errors="coerce"),
        }
    ).reset_index(drop=True)
    kpis = pd.DataFrame({"kpi": pd.Series(dtype=str), "baseline": pd.Series(dtype=float),
                         "proposal": pd.Series(dtype=float)})  # fmt: skip
    return {"kpis": kpis, "works": works}


def workbook(proposal: Proposal, *, lang: str | None = None) -> bytes:
    """The proposal as ``ims-geo propose --out x.xlsx`` writes it: works, clusters, kpis,
    members, cost_split, solver, unresolved and the Gantt sheet (coloured); with ``lang``,
    every sheet's column headers in words of that language (:func:`headed`)."""
    layers = proposal.layers(gantt_sheet=True)
    if lang is not None:
        layers = {name: headed(frame, lang) for name, frame in layers.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "programme.xlsx"
        export.write_layers(layers, path)
        if "gantt" in layers:
            style_gantt(path)
        return path.read_bytes()


def compare_with(
    current: dict[str, pd.DataFrame], other: dict[str, pd.DataFrame] | bytes, *, name: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Another proposal against the current one, by :func:`ims_geo.programme.compare`.

    Parameters
    ----------
    current
        :func:`saved` of the current proposal.
    other
        :func:`saved` of a kept proposal, or the bytes of a proposal file
        (``.xlsx`` or ``.gpkg`` of ``ims-geo propose`` or :func:`workbook`).
    name
        The other file's name (its suffix says the format).

    Returns
    -------
    tuple of pandas.DataFrame
        The KPIs (kpi, baseline, a = the other, b = the current, b_minus_a)
        and the works the two treat differently (org, work_id, title,
        proposed_start_a/_b, cluster_id_a/_b, moved_days = b - a).

    Raises
    ------
    InputError
        The file is no proposal.
    """
    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp) / "current.xlsx"
        export.write_layers(current, here)
        if isinstance(other, bytes):
            suffix = Path(name).suffix.lower() if name else ".xlsx"
            there = Path(tmp) / f"other{suffix if suffix in ('.xlsx', '.gpkg') else '.xlsx'}"
            there.write_bytes(other)
        else:
            there = Path(tmp) / "other.xlsx"
            export.write_layers(other, there)
        try:
            kpis, differ = compare(there, here)
        except InputError as error:  # named as the user knows it, not by its copy here
            raise InputError(str(error).replace(str(there), name or there.name)) from None
    titles = current["works"].assign(
        **{ORG: current["works"][ORG].astype(str), WORK_ID: current["works"][WORK_ID].astype(str)}
    )
    if TITLE in titles.columns:
        differ = differ.merge(titles[[ORG, WORK_ID, TITLE]], on=[ORG, WORK_ID], how="left")
    a = pd.to_datetime(differ[f"{PROPOSED_START}_a"], errors="coerce")
    b = pd.to_datetime(differ[f"{PROPOSED_START}_b"], errors="coerce")
    differ["moved_days"] = (b - a).dt.days
    order = [ORG, WORK_ID, TITLE, f"{PROPOSED_START}_a", f"{PROPOSED_START}_b", "moved_days",
             f"{CLUSTER_ID}_a", f"{CLUSTER_ID}_b"]  # fmt: skip
    return kpis, differ.loc[:, [c for c in order if c in differ.columns]]


#: Columns of the moved works table on the page (each work's reason last).
MOVED_COLUMNS: tuple[str, ...] = (
    ORG, WORK_ID, TITLE, START, PROPOSED_START, SHIFT_DAYS, CLUSTER_ID, MOVE_REASON,
)  # fmt: skip
