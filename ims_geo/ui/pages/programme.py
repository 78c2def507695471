"""Programme: combined works proposed from the conflicts, with savings against the baseline."""

import streamlit as st

from ims_geo import maps
from ims_geo.programme import CLUSTER_ID, SHIFT_DAYS
from ims_geo.ui import charts, state, widgets

#: How a KPI's change is coloured: lower is better (inverse), higher is better (normal).
DELTA_COLOURS = {
    "clashes": "inverse", "moratorium violations": "inverse", "disruption days": "inverse",
    "estimated cost eur": "inverse", "combined works": "normal", "combined projects": "normal",
    "savings eur": "normal",
}  # fmt: skip
GANTT_PROJECTS = 12

st.title("Combined programme")
st.caption(
    "Works that meet in the street are combined into one project inside every member's "
    "flexibility window — deepest first, the new surface last — and the whole area is "
    "rescheduled (OR-Tools CP-SAT) against the uncoordinated baseline."
)

with widgets.user_errors():
    works = state.works()
    widgets.require_works(works)

with st.sidebar:
    time_limit = st.slider("Solver time limit (s)", 5, 120, 20, 5, key="programme_time")
    max_parallel = st.number_input(
        "Simultaneous works per 250 m cell", 0, 50, 0, key="programme_parallel",
        help="0: no limit",
    )  # fmt: skip

asked = (state.location(), state.revision(), time_limit, max_parallel)
if st.button("Propose programme", type="primary", key="programme_run"):
    st.session_state["programme_asked"] = asked
if st.session_state.get("programme_asked") != asked:
    st.info("Press **Propose programme** to combine the conflicting works.")
    st.stop()

bar = st.progress(0.0, text="Starting…")
with widgets.user_errors():
    proposal = state.proposal(
        time_limit=float(time_limit),
        max_parallel=int(max_parallel) or None,
        progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message),
    )
bar.empty()

st.subheader("Against the baseline")
kpis = proposal.kpis
for start in range(0, len(kpis), 5):
    cells = st.columns(5)
    for cell, row in zip(cells, kpis.iloc[start : start + 5].itertuples(index=False), strict=False):
        cell.metric(
            row.kpi.capitalize(),
            f"{row.proposal:,.0f}",
            delta=f"{row.proposal - row.baseline:+,.0f}",
            delta_color=DELTA_COLOURS.get(row.kpi, "off"),
        )
for warning in proposal.warnings:
    st.warning(warning)

projects = proposal.clusters.sort_values("savings_eur", ascending=False, kind="stable")
members = proposal.works[proposal.works[CLUSTER_ID].notna()]
tab_projects, tab_moved, tab_open, tab_solver = st.tabs(
    [f"Combined projects ({len(projects)})", "Moved works", "Unresolved", "Solver"]
)
with tab_projects:
    picked = widgets.pick_row(
        projects, key="programme_projects",
        config={"savings_eur": st.column_config.NumberColumn(format="%.0f")},
    )  # fmt: skip
    shown = projects.head(GANTT_PROJECTS) if picked is None else projects.iloc[[picked]]
    chosen = members[members[CLUSTER_ID].isin(shown[CLUSTER_ID])]
    view = {}
    if picked is not None:
        selected = maps.prepare(chosen)
        view = {**widgets.view(selected), "feature_group_to_add": maps.highlight(selected)}
    fmap = maps.programme_map(
        maps.prepare(members), maps.prepare(projects, maps.CLUSTER_FIELDS),
        context=state.context(), tiles=maps.tile_url(),
    )  # fmt: skip
    widgets.show_map(fmap, key="programme_map", returned=(), **view)
    title = "Schedule" if picked is not None else f"Schedule of the {len(shown)} largest savings"
    st.markdown(f"**{title}** — planned against proposed")
    st.altair_chart(charts.gantt(chosen), width="stretch", key="programme_gantt")
with tab_moved:
    moved = proposal.works[proposal.works[SHIFT_DAYS] != 0]
    st.dataframe(widgets.table(moved), hide_index=True, key="programme_moved")
with tab_open:
    st.dataframe(proposal.infeasible, hide_index=True, key="programme_unresolved")
with tab_solver:
    st.dataframe(proposal.solver, hide_index=True, key="programme_solver")

st.subheader("Downloads")
st.caption("Every work with its proposed dates and project")
widgets.downloads(proposal.works, "programme_works", key="programme_works_download")
st.caption("Combined projects")
widgets.downloads(proposal.clusters, "combined_projects", key="programme_projects_download")
st.caption("KPIs")
widgets.downloads(kpis, "programme_kpis", key="programme_kpis_download", formats=["csv", "xlsx"])
