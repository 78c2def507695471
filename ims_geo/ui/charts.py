"""Charts of the app (Altair, drawn by Streamlit with the Vega bundled in its frontend).

The programme's Gantt chart shows every work it is given, one row per work
(its id and title), each row as high as :data:`ROW_PX` whatever the number of
works: a chart of three works and one of a thousand read alike, the page
puts the tall one in a scrolling box. Works are grouped (by combined project
or by organisation) under a heading row; the planned period is drawn as a
grey bar above the proposed one. The time axis has a tick per week, month
or quarter (by the period drawn: :data:`WEEKLY_DAYS`, :data:`MONTHLY_DAYS`)
and zooms and pans with the mouse wheel and drag.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ims_geo.i18n import N_, _, fmt_date, fmt_days
from ims_geo.programme import (
    CLUSTER_ID,
    EXEC_ORDER,
    MOVE_REASON,
    PROPOSED_END,
    PROPOSED_START,
    SHIFT_DAYS,
)
from ims_geo.schema import END, ORG, START, TITLE, WORK_ID

#: The two bars of a work: its own plan and the proposal (field values; shown translated).
SCHEDULES: tuple[str, str] = (N_("planned"), N_("proposed"))
SCHEDULE_COLOURS = {"planned": "#8a8a8a", "proposed": "#1f6fb4"}
#: How the works are grouped under heading rows.
GROUPINGS: dict[str, str] = {"project": N_("Combined project"), "org": N_("Organisation")}
#: Height of one work's row in pixels (two bars).
ROW_PX = 24
#: Pixels of a chart besides its rows: the legend and the time axis above them.
FRAME_PX = 140
#: Longest title shown in a row label (characters; the tooltip has the whole title).
TITLE_CHARS = 48
#: Charts spanning at most this many days get a tick per week, per month, longer ones per
#: quarter.
WEEKLY_DAYS = 100
MONTHLY_DAYS = 400
QUARTER_LABEL = "'Q' + quarter(datum.value) + ' ' + year(datum.value)"
#: Marks a heading row's label (the group's name).
HEADING = "▸ "


def _title(works: pd.DataFrame) -> pd.Series:
    if TITLE not in works.columns:
        return pd.Series("", index=works.index, dtype=object)
    text = works[TITLE].astype("string").fillna("").str.strip()
    long = text.str.len() > TITLE_CHARS
    return text.where(~long, text.str.slice(0, TITLE_CHARS - 1) + "…").astype(object)


def _periods(*pairs: tuple[pd.Series, pd.Series]) -> list[np.ndarray]:
    """Each (start, end) pair as text ``3 Mar 2031 – 20 Apr 2031`` (every distinct date
    formatted once, in the language in use)."""
    columns = [pd.to_datetime(c) for pair in pairs for c in pair]
    distinct = pd.DatetimeIndex(pd.concat(columns, ignore_index=True).dropna()).unique()
    text = {d: fmt_date(d) for d in distinct}
    shown = [c.map(text).fillna(fmt_date(None)).astype(object) for c in columns]
    return [
        (shown[i] + " – " + shown[i + 1]).to_numpy(dtype=object) for i in range(0, len(shown), 2)
    ]


def gantt_rows(works: pd.DataFrame, *, group_by: str = "project") -> pd.DataFrame:
    """The bars of a programme's Gantt chart, two per work, in the order they are drawn.

    Parameters
    ----------
    works
        Works of a proposal (``Proposal.works`` or part of it): org, work_id,
        title, start_date, end_date, proposed_start, proposed_end, cluster_id,
        exec_order, shift_days, move_reason (the last four optional).
    group_by
        ``project``: one group per combined project (by its joint start), works
        in their execution order, then the works combined with no other;
        ``org``: one group per organisation, works by proposed start.

    Returns
    -------
    pandas.DataFrame
        One row per bar and per group heading: ``group``, ``row`` (the label of
        the chart row: id and title, unique in the chart), ``heading`` (True
        for a group's heading row, which has no bar), ``schedule`` (planned or
        proposed), ``start``, ``end``, ``bar_end`` (the day after ``end``: dates
        are inclusive), ``org``, ``work_id``, ``title``, ``planned``,
        ``proposed`` (both periods as text), ``shift`` and ``reason``.
    """
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}, got {group_by!r}")
    w = pd.DataFrame(works).copy()
    if w.empty:
        return pd.DataFrame(
            columns=["group", "row", "heading", "schedule", "start", "end", "bar_end", ORG,
                     WORK_ID, TITLE, "planned", "proposed", "shift", "reason"]
        )  # fmt: skip
    cluster = w[CLUSTER_ID].astype("string") if CLUSTER_ID in w else pd.Series(pd.NA, index=w.index)
    w["_cluster"] = cluster.fillna("")
    w["_order"] = pd.to_numeric(w.get(EXEC_ORDER), errors="coerce") if EXEC_ORDER in w else np.nan
    w[ORG] = w[ORG].astype(str)
    w[WORK_ID] = w[WORK_ID].astype(str)
    if group_by == "project":
        joint = w[w["_cluster"] != ""].groupby("_cluster")[PROPOSED_START].min()
        w["_rank"] = w["_cluster"].map(joint.rank(method="first")).astype(float).fillna(np.inf)
        w["_alone"] = w["_cluster"] == ""
        w = w.sort_values(
            ["_alone", "_rank", "_cluster", "_order", PROPOSED_START, ORG, WORK_ID],
            kind="stable",
        )
        # a project's heading names its organisations
        orgs = w[~w["_alone"]].groupby("_cluster")[ORG].agg(lambda o: ", ".join(sorted(set(o))))
        named = w["_cluster"] + " · " + w["_cluster"].map(orgs).fillna("")
        group = named.where(~w["_alone"], _("Not combined"))
    else:
        w = w.sort_values([ORG, PROPOSED_START, WORK_ID], kind="stable")
        group = w[ORG]
    title = _title(w)
    label = w[WORK_ID] + np.where(title != "", " · " + title, "")
    # the row label is unique in the chart: two organisations may use the same id
    clash = label.duplicated(keep=False)
    label = label.where(~clash, label + " (" + w[ORG] + ")")
    clash = label.duplicated(keep=False)
    label = label.where(
        ~clash, label + " #" + pd.Series(np.arange(len(w)), index=w.index).astype(str)
    )
    shift = pd.to_numeric(w.get(SHIFT_DAYS), errors="coerce") if SHIFT_DAYS in w else None
    reason = (
        w[MOVE_REASON].astype("string").fillna("").astype(object)
        if MOVE_REASON in w
        else pd.Series("", index=w.index, dtype=object)
    )
    planned, proposed = _periods((w[START], w[END]), (w[PROPOSED_START], w[PROPOSED_END]))
    common = pd.DataFrame(
        {
            "group": group.astype(str).to_numpy(),
            "row": label.to_numpy(dtype=object),
            "heading": False,
            ORG: w[ORG].to_numpy(),
            WORK_ID: w[WORK_ID].to_numpy(),
            TITLE: w[TITLE].astype("string").fillna("").to_numpy() if TITLE in w else "",
            "planned": planned,
            "proposed": proposed,
            "shift": shift.map({d: fmt_days(d) for d in shift.dropna().unique()}).fillna("")
            if shift is not None
            else "",
            "reason": reason.to_numpy(),
        }
    )
    bars = []
    for schedule, first, last in (
        ("planned", w[START], w[END]),
        ("proposed", w[PROPOSED_START], w[PROPOSED_END]),
    ):
        part = common.copy()
        part["schedule"] = schedule
        part["start"] = pd.to_datetime(first).to_numpy()
        part["end"] = pd.to_datetime(last).to_numpy()
        part["_pos"] = np.arange(len(part))
        bars.append(part)
    rows = pd.concat(bars, ignore_index=True).sort_values(["_pos", "schedule"], kind="stable")
    # a heading row before each group's first work: the group's name, no bar
    first_of_group = ~common["group"].duplicated()
    headings = common.loc[first_of_group, ["group"]].copy()
    headings["row"] = HEADING + headings["group"]
    headings["heading"] = True
    headings["_pos"] = np.flatnonzero(first_of_group.to_numpy()) - 0.5
    out = pd.concat([rows, headings], ignore_index=True).sort_values("_pos", kind="stable")
    out = out.drop(columns="_pos").reset_index(drop=True)
    out["bar_end"] = out["end"] + pd.Timedelta(days=1)
    return out[
        ["group", "row", "heading", "schedule", "start", "end", "bar_end", ORG, WORK_ID, TITLE,
         "planned", "proposed", "shift", "reason"]
    ]  # fmt: skip


def gantt(works: pd.DataFrame, *, group_by: str = "project") -> alt.Chart:
    """Gantt chart of planned against proposed periods of ``works`` (see :func:`gantt_rows`).

    One row of :data:`ROW_PX` pixels per work and per group heading; month or
    quarter ticks on a time axis at the top; zoom and pan along time with the wheel
    and drag; a tooltip per bar with both periods, the shift and the reason.
    """
    return _gantt_chart(gantt_rows(works, group_by=group_by))


def gantt_spec(works: pd.DataFrame, *, group_by: str = "project") -> tuple[dict, pd.DataFrame, int]:
    """The chart of :func:`gantt` as a Vega-Lite spec without its data, the data, and
    the pixels it needs: for ``st.vega_lite_chart(data, spec)``, which draws a spec a
    page keeps from run to run without validating the chart again."""
    rows = gantt_rows(works, group_by=group_by)
    spec = _gantt_chart(rows, inline=False).to_dict()
    spec.pop("data", None)
    spec.pop("datasets", None)
    return spec, _bars(rows), ROW_PX * int(rows["row"].nunique()) + FRAME_PX


def _bars(rows: pd.DataFrame) -> pd.DataFrame:
    bars = rows[~rows["heading"].astype(bool)].copy()
    bars["schedule_label"] = bars["schedule"].map(lambda s: _(s))
    return bars


def _gantt_chart(rows: pd.DataFrame, *, inline: bool = True) -> alt.Chart:
    order = list(dict.fromkeys(rows["row"]))
    bars = _bars(rows) if inline else alt.Data(values=[])
    names = [_(s) for s in SCHEDULES]
    zoom = alt.selection_interval(bind="scales", encodings=["x"])
    # a tick per week over up to WEEKLY_DAYS (labelled 06/04/2028), per month over up to
    # MONTHLY_DAYS (04/2028), else per quarter (Q2 2028): numbers, read alike in every language
    span = (rows["bar_end"].max() - rows["start"].min()) if rows["start"].notna().any() else None
    days = span.days if span is not None else 0
    interval, step, label = (
        ("week", 1, "timeFormat(datum.value, '%d/%m/%Y')") if days <= WEEKLY_DAYS
        else ("month", 1, "timeFormat(datum.value, '%m/%Y')") if days <= MONTHLY_DAYS
        else ("month", 3, QUARTER_LABEL)
    )  # fmt: skip
    return (
        alt.Chart(bars)
        .mark_bar(cornerRadius=2)
        .encode(
            x=alt.X(
                "start:T",
                title=None,
                scale=alt.Scale(padding=12),  # bars at the edges stay whole
                axis=alt.Axis(
                    orient="top",
                    tickCount={"interval": interval, "step": step},
                    labelExpr=label,
                    labelOverlap=True,
                    grid=True,
                ),
            ),  # fmt: skip
            x2="bar_end:T",
            y=alt.Y(
                "row:N",
                sort=order,
                title=None,
                scale=alt.Scale(domain=order),
                axis=alt.Axis(
                    labelLimit=360,
                    labelFontWeight=alt.ExprRef(
                        f"indexof(datum.value, '{HEADING.strip()}') == 0 ? 'bold' : 'normal'"
                    ),
                ),
            ),
            yOffset=alt.YOffset("schedule_label:N", sort=names),
            color=alt.Color(
                "schedule_label:N",
                scale=alt.Scale(domain=names, range=list(SCHEDULE_COLOURS.values())),
                legend=alt.Legend(orient="top", title=None),
            ),
            tooltip=[
                alt.Tooltip(f"{WORK_ID}:N", title=_("Work")),
                alt.Tooltip(f"{TITLE}:N", title=_("Title")),
                alt.Tooltip(f"{ORG}:N", title=_("Organisation")),
                alt.Tooltip("group:N", title=_("Group")),
                alt.Tooltip("planned:N", title=_("Planned")),
                alt.Tooltip("proposed:N", title=_("Proposed")),
                alt.Tooltip("shift:N", title=_("Shift")),
                alt.Tooltip("reason:N", title=_("Why it moved")),
            ],
        )
        .properties(height=alt.Step(ROW_PX, **{"for": "position"}))
        .add_params(zoom)
    )


def gantt_height(works: pd.DataFrame, *, group_by: str = "project") -> int:
    """Pixels the chart of ``works`` needs (its rows plus the axis and legend)."""
    rows = gantt_rows(works, group_by=group_by)
    return ROW_PX * int(rows["row"].nunique()) + FRAME_PX
