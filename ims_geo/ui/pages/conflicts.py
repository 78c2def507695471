"""Conflicts: filter, rank, inspect on the map and download the conflicts between plans."""

import streamlit as st

from ims_geo import export, maps
from ims_geo.conflicts import describe_left_out, left_out
from ims_geo.schema import DISCIPLINES
from ims_geo.ui import state, widgets

SEVERITIES = ("high", "medium", "low")
COLUMNS = [
    "kind", "severity", "score", "org_a", "work_id_a", "discipline_a", "org_b", "work_id_b",
    "discipline_b", "distance_m", "gap_days", "overlap_m", "depth_overlap",
    "start_a", "end_a", "start_b", "end_b",
]  # fmt: skip

st.title("Conflicts between plans")

with widgets.user_errors():
    works = state.works()
    widgets.require_works(works)

with st.sidebar:
    kinds = widgets.choose("Kind", list(maps.KIND_COLOURS)[:3], key="conflict_kinds")
    severities = widgets.choose("Severity", SEVERITIES, key="conflict_severities")
    orgs = widgets.choose("Organisations", sorted(works["org"].unique()), key="conflict_orgs",
                          help="Conflicts that involve one of these organisations.")  # fmt: skip
    present = set(works["discipline"])
    disciplines = widgets.choose(
        "Disciplines", [d for d in DISCIPLINES if d in present], key="conflict_disciplines"
    )
    start, end = widgets.period(works, key="conflict_period")
    with st.expander("Rules"):
        distance = st.number_input("Distance (m)", 0.0, 500.0, 20.0, 5.0, key="rule_distance")
        window = st.number_input("Synergy window (days)", 0, 3650, 365, 30, key="rule_window")
        moratorium = st.number_input("Moratorium (years)", 0, 20, 3, 1, key="rule_moratorium")

with widgets.user_errors():
    every = state.conflicts(distance=distance, window_days=window, moratorium_years=moratorium)
found = maps.filter_conflicts(
    every, kinds=kinds, severities=severities, orgs=orgs, disciplines=disciplines,
    start=start, end=end,
).sort_values("score", ascending=False, kind="stable")  # fmt: skip

st.caption(f"{len(found):,} of {len(every):,} conflicts · select a row to show it on the map")
skipped = left_out(works, start=start, end=end)  # the page's rules keep the default exemptions
with st.expander(describe_left_out(skipped, len(works)), expanded=False):
    st.caption(
        "Works that take no part in the conflict search, by the first reason that applies "
        "(exemptions of the rules; the period chosen in the sidebar)."
    )
    st.dataframe(skipped, hide_index=True, key="conflicts_left_out")
heading = st.container()
left, right = st.columns([5, 4], gap="medium")
with left:
    picked = widgets.pick_row(
        found,
        key="conflicts_table",
        columns=COLUMNS,
        height=widgets.MAP_HEIGHT,
        config={"score": st.column_config.NumberColumn(format="%.2f")},
    )
    widgets.downloads(export.conflict_table(found, works), "conflicts", key="conflicts_download")

view: dict = {}
if picked is not None:
    chosen = found.iloc[picked]
    pair = maps.prepare(maps.conflict_works(chosen, works))
    view = widgets.view(pair, maps.prepare(found.iloc[[picked]], maps.CONFLICT_FIELDS))
    view["feature_group_to_add"] = maps.highlight(pair)
    heading.subheader(f"{chosen['kind']}: " + widgets.literal(
        f"{chosen['org_a']} · {chosen['work_id_a']} ↔ {chosen['org_b']} · {chosen['work_id_b']}"
    ))  # fmt: skip

# the highest scores, lowest first: the worst conflicts are drawn on top
drawn = found.head(maps.MAX_DRAWN_CONFLICTS).iloc[::-1]
layer = maps.prepare(drawn, maps.CONFLICT_FIELDS, light_fields=maps.LIGHT_CONFLICT_FIELDS)
fmap = maps.conflicts_map(layer, context=state.context(), kinds=kinds, tiles=maps.tile_url())
with right:
    widgets.show_map(fmap, key="conflicts_map", returned=(), **view)
    widgets.map_caption(layer, "conflicts", total=len(found))
