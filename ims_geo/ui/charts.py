"""Charts of the app (Altair, drawn by Streamlit with the Vega bundled in its frontend)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from ims_geo.programme import CLUSTER_ID, EXEC_ORDER, PROPOSED_END, PROPOSED_START
from ims_geo.schema import DISCIPLINE, END, ORG, START, WORK_ID

SCHEDULE_COLOURS = {"planned": "#9e9e9e", "proposed": "#1f77b4"}


def gantt_rows(works: pd.DataFrame) -> pd.DataFrame:
    """Two bars per work, planned and proposed, in the order of clusters and execution."""
    ordered = works.sort_values([CLUSTER_ID, EXEC_ORDER, ORG, WORK_ID], kind="stable")
    label = ordered[CLUSTER_ID].fillna("—") + " · " + ordered[ORG] + " · " + ordered[WORK_ID]
    common = {"work": label, CLUSTER_ID: ordered[CLUSTER_ID], ORG: ordered[ORG],
              DISCIPLINE: ordered[DISCIPLINE]}  # fmt: skip
    planned = pd.DataFrame({**common, "schedule": "planned", "start": ordered[START],
                            "end": ordered[END]})  # fmt: skip
    proposed = pd.DataFrame({**common, "schedule": "proposed", "start": ordered[PROPOSED_START],
                             "end": ordered[PROPOSED_END]})  # fmt: skip
    rows = pd.concat([planned, proposed], ignore_index=True)
    # dates are inclusive: a bar covers its last day too
    rows["bar_end"] = rows["end"] + pd.Timedelta(days=1)
    return rows


def gantt(works: pd.DataFrame) -> alt.Chart:
    """Gantt chart of planned against proposed periods of ``works`` (a programme's works)."""
    rows = gantt_rows(works)
    order = list(dict.fromkeys(rows["work"]))
    return (
        alt.Chart(rows)
        .mark_bar(cornerRadius=2)
        .encode(
            x=alt.X("start:T", title=None, axis=alt.Axis(format="%b %Y", orient="top")),
            x2="bar_end:T",
            y=alt.Y("work:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
            yOffset=alt.YOffset("schedule:N", sort=list(SCHEDULE_COLOURS)),
            color=alt.Color(
                "schedule:N",
                scale=alt.Scale(
                    domain=list(SCHEDULE_COLOURS), range=list(SCHEDULE_COLOURS.values())
                ),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=[
                alt.Tooltip("work:N", title="work"),
                alt.Tooltip(f"{DISCIPLINE}:N"),
                alt.Tooltip("schedule:N"),
                alt.Tooltip("start:T", format="%Y-%m-%d"),
                alt.Tooltip("end:T", format="%Y-%m-%d"),
            ],
        )
        .properties(height=max(120, 22 * len(order)))
    )
