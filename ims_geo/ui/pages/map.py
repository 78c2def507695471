"""Map: every organisation's works by discipline, a period filter, conflicts on top."""

import streamlit as st

from ims_geo import maps
from ims_geo.cycle import moratoria as cycle_moratoria
from ims_geo.schema import DISCIPLINES, LAYERS
from ims_geo.ui import state, widgets

st.title("Map of planned works")

with widgets.user_errors():
    works = state.works()
    widgets.require_works(works)

with st.sidebar:
    orgs = widgets.choose("Organisations", sorted(works["org"].unique()), key="map_orgs")
    present = set(works["discipline"])
    disciplines = widgets.choose(
        "Disciplines", [d for d in DISCIPLINES if d in present], key="map_disciplines"
    )
    layer = st.radio(
        "Layer", ["both", *LAYERS], horizontal=True, key="map_layer",
        format_func=lambda v: "surface + subsurface" if v == "both" else v,
    )  # fmt: skip
    start, end = widgets.period(works, key="map_period")
    kinds = widgets.choose(
        "Conflicts", list(maps.KIND_COLOURS)[:3], default=["clash", "moratorium"], key="map_kinds"
    )

layers = None if layer == "both" else (layer,)
with widgets.user_errors():
    shown, context = state.works_layers(
        start=start, end=end, layers=layers, orgs=orgs, disciplines=disciplines
    )
    every = state.conflicts()
conflicts = maps.filter_conflicts(
    every, kinds=kinds, orgs=orgs, disciplines=disciplines, start=start, end=end
)
# the highest scores, lowest first: the worst conflicts are drawn on top
drawn = conflicts.head(maps.MAX_DRAWN_CONFLICTS).iloc[::-1]
conflict_layer = maps.prepare(drawn, maps.CONFLICT_FIELDS, light_fields=maps.LIGHT_CONFLICT_FIELDS)

with widgets.user_errors():
    protected = cycle_moratoria(state.store())
protected = protected[(protected["valid_from"] <= end) & (protected["valid_until"] >= start)]
moratoria_layer = maps.prepare(protected, maps.MORATORIUM_FIELDS, light_fields=None)

fmap = maps.works_map(
    shown,
    groups=orgs,
    conflicts=conflict_layer if kinds else None,
    context=context,
    disciplines=disciplines,
    kinds=kinds,
    tiles=maps.tile_url(),
    moratoria=moratoria_layer,
)
clicked = widgets.show_map(fmap, key="works_map")
widgets.map_caption(shown, "works")
if kinds:
    widgets.map_caption(conflict_layer, "conflicts", total=len(conflicts))
if moratoria_layer.count:
    widgets.map_caption(moratoria_layer, "moratoria (protected new surfaces)")
st.caption("Grey: works outside the filters.")

selected = maps.clicked_work(
    clicked,
    maps.filter_works(
        works, start=start, end=end, layers=layers, orgs=orgs, disciplines=disciplines
    ),
)
if selected is not None:
    st.subheader(widgets.literal(f"{selected['org']} · {selected['work_id']}"))
    st.dataframe(widgets.table(selected.to_frame().T), hide_index=True, key="map_selected")
    involved = maps.conflicts_of(selected, every)
    st.markdown(f"**{len(involved)} conflicts** with other organisations' works")
    st.dataframe(widgets.table(involved), hide_index=True, key="map_selected_conflicts")
