"""Overview: what the store holds — organisations, plan versions, conflicts; restore a version."""

import pandas as pd
import streamlit as st

from ims_geo.ui import state, widgets

RESTORED = "overview_restored"

st.title("Integral programming of the public space")
st.caption(
    "Every organisation's planned street works on one map; conflicts between the plans; "
    "combined programmes — dig once, pave once."
)

restored = st.session_state.pop(RESTORED, None)
if restored:
    st.success(restored, icon=":material/history:")

with widgets.user_errors():
    works = state.works()
    summary, versions = state.summary()
if versions.empty:
    widgets.require_works(works)

if works.empty:
    st.info(
        "No current plan holds works. Restore an earlier version below, or upload a plan "
        "on the **Upload** page.",
        icon=":material/info:",
    )
else:
    with widgets.user_errors():
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
shown = pd.DataFrame(
    {
        "org": versions["org"],
        "version": versions["version"],
        "cycle": versions["cycle"],
        "current": versions["is_current"],
        "uploaded_at": versions["uploaded_at"],
        "works": versions["n_works"],
        "rejected": versions["n_rejected"],
        "source": versions["source"],
    }
).sort_values(["org", "version"], kind="stable")
st.dataframe(shown, hide_index=True, key="versions_table")

st.subheader("Restore an earlier version")
earlier = versions[~versions["is_current"]]
me = state.identity()
if me is not None:  # a shared store: only the own organisation's plans
    earlier = earlier[earlier["org"] == me.org]
if not state.may("write"):  # hidden for viewers; the database refuses them anyway
    st.caption("Restoring a plan version is for planners and coordinators.")
elif earlier.empty:
    st.caption("Every organisation has only its current version: nothing to restore yet.")
else:
    st.caption(
        "Makes an earlier version the organisation's current plan again, as a new version: "
        "nothing is deleted, so a restore can be undone by restoring again "
        "(`ims-geo restore ORG VERSION` on the command line)."
    )
    left, right = st.columns(2)
    org = left.selectbox("Organisation", sorted(earlier["org"].unique()), key="restore_org")
    mine = earlier[earlier["org"] == org].set_index("version")
    version = right.selectbox(
        "Version",
        list(mine.index[::-1]),
        key="restore_version",
        format_func=lambda v: (
            f"{v} · cycle {mine.at[v, 'cycle']} · {mine.at[v, 'n_works']:,} works · "
            f"{mine.at[v, 'source']} · {mine.at[v, 'uploaded_at']:%Y-%m-%d %H:%M} UTC"
        ),
    )
    if st.button(f"Restore version {version} of {org}", key="restore_button"):
        with widgets.user_errors():
            new = state.store().restore(org, int(version))
        st.session_state[RESTORED] = (
            f"Restored version {version} of {org} as plan version {new.version} "
            f"(cycle {new.cycle}): {new.n_works:,} works."
        )
        st.rerun()

st.caption(f"Store: `{state.store().location}` · revision `{state.revision()}`")
