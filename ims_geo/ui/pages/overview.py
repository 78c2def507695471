"""Overview: what the store holds — organisations, plan versions, conflicts."""

import streamlit as st

from ims_geo.ui import state, widgets

st.title("Integral programming of the public space")
st.caption(
    "Every organisation's planned street works on one map; conflicts between the plans; "
    "combined programmes — dig once, pave once."
)

with widgets.user_errors():
    works = state.works()
    widgets.require_works(works)
    summary, versions = state.summary()
    conflicts = state.conflicts()

kinds = conflicts["kind"].value_counts()
cells = st.columns(5)
cells[0].metric("Organisations", works["org"].nunique())
cells[1].metric("Planned works", f"{len(works):,}")
cells[2].metric("Clashes", int(kinds.get("clash", 0)))
cells[3].metric("Moratorium violations", int(kinds.get("moratorium", 0)))
cells[4].metric("Synergies", int(kinds.get("synergy", 0)))

st.subheader("Plans per organisation")
st.dataframe(widgets.table(summary), hide_index=True, key="summary_table")
st.subheader("Plan versions")
st.dataframe(versions, hide_index=True, key="versions_table")
st.caption(f"Store: `{state.store().location}` · revision `{state.revision()}`")
