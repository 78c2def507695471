"""Map: every organisation's works by discipline, filters, conflicts, search and zoom;
the works after the filters as CSV and GeoPackage files.

The page's address can be shared: ``map?org=ORG&work=WORK_ID`` opens it on
one work (zoomed, highlighted, its details and conflicts shown); a click on
a work writes that address. Values from the URL are compared with the
store's values only.
"""

import pandas as pd
import streamlit as st

from ims_geo import i18n, maps, search
from ims_geo.i18n import N_, _
from ims_geo.i18n.labels import label
from ims_geo.schema import DISCIPLINE, DISCIPLINES, END, LAYERS, ORG, START, TITLE, WORK_ID
from ims_geo.ui import links, state, widgets

CONFLICTS_PAGE = "ims_geo/ui/pages/conflicts.py"
#: ``st.session_state`` keys of what last asked the map to move, and of the last click seen.
INTENT = "map_view_intent"
LAST_CLICK = "map_last_click"
LAST_PICK = "map_last_pick"
#: At most this many search matches are highlighted and listed.
MAX_MATCHES = 500
ALL = "all"
LAYER_BOTH = "both"
LAYER_NAMES = {
    LAYER_BOTH: N_("surface + subsurface"),
    "surface": N_("surface"),
    "subsurface": N_("subsurface"),
}


def _intent(name: str) -> None:
    st.session_state[INTENT] = name


st.title(_("Map of planned works"))

with widgets.user_errors():
    works = state.works()
    widgets.require_works(works)
    places = state.areas()

# --- the sidebar: find, zoom, filter -------------------------------------------------------
with st.sidebar:
    query = st.text_input(
        _("Search"),
        key="map_search",
        max_chars=search.MAX_QUERY,
        placeholder=_("Street, work id, organisation or title"),
        help=_("The map zooms to the matching works and outlines them."),
        on_change=_intent,
        args=("search",),
    )
    org_names = sorted(works[ORG].unique())
    zoom_options = [ALL, *(f"area:{i}" for i in range(len(places)) if len(places) > 1),
                    *(f"org:{i}" for i in range(len(org_names)))]  # fmt: skip

    def zoom_label(option: str) -> str:
        if option == ALL:
            return _("All works")
        kind, _sep, number = option.partition(":")
        if kind == "area" and int(number) < len(places):
            row = places.iloc[int(number)]
            return _("Area: {name} ({n} works)").format(
                name=row[maps.AREA_NAME], n=i18n.fmt_number(row[maps.AREA_WORKS])
            )
        if kind == "org" and int(number) < len(org_names):
            return _("Organisation: {name}").format(name=org_names[int(number)])
        return _("All works")

    # several areas far apart: open on the largest, not on a continent
    zoom = st.selectbox(
        _("Zoom to"),
        zoom_options,
        index=1 if len(places) > 1 else 0,
        format_func=zoom_label,
        key="map_zoom",
        on_change=_intent,
        args=("zoom",),
    )
    orgs = widgets.choose(_("Organisations"), org_names, key="map_orgs")
    present = set(works[DISCIPLINE])
    disciplines = widgets.choose(
        _("Disciplines"),
        [d for d in DISCIPLINES if d in present],
        key="map_disciplines",
        format_func=lambda d: maps.value_name(DISCIPLINE, d),
    )
    layer = st.radio(
        _("Layer"), [LAYER_BOTH, *LAYERS], horizontal=True, key="map_layer",
        format_func=lambda v: _(LAYER_NAMES[v]),
    )  # fmt: skip
    start, end = widgets.period(works, key="map_period")
    kinds = widgets.choose(
        _("Conflicts"),
        list(maps.KIND_COLOURS)[:3],
        default=["clash", "moratorium"],
        key="map_kinds",
        format_func=lambda k: maps.value_name("kind", k),
    )

layers = None if layer == LAYER_BOTH else (layer,)
with widgets.user_errors():
    shown, outside = state.works_layers(
        start=start, end=end, layers=layers, orgs=orgs, disciplines=disciplines
    )
    basemap = state.context()
    conflict_layer, total_conflicts = state.conflict_layer(
        kinds=kinds, orgs=orgs, disciplines=disciplines, start=start, end=end
    )
    protected = state.moratoria_layer(start, end)
    every = state.conflicts()

# --- the selected work: from the URL (a shared link, or the last click) ----------------------
wanted_org, wanted_work = st.query_params.get(links.ORG), st.query_params.get(links.WORK)
selected: pd.Series | None = None
if wanted_org is not None and wanted_work is not None:
    same = (works[ORG] == wanted_org) & (works[WORK_ID] == wanted_work)
    hits = works[same.to_numpy(dtype=bool)]
    if hits.empty:
        st.warning(
            _("The link names a work that is not in the store (or that you may not see): {work}.")
            .format(work=widgets.literal(f"{wanted_org[:80]} · {wanted_work[:80]}")),
            icon=":material/link_off:",
        )  # fmt: skip
    else:
        selected = hits.iloc[0]

matches = search.search(works, query, index=state.search_index(), limit=MAX_MATCHES)

# --- where the map looks: the last thing that asked it to move -------------------------------
intent = st.session_state.get(INTENT)
if intent is None:
    intent = "work" if selected is not None else ("search" if query else "zoom")
bounds = None
if intent == "search" and not matches.empty:
    bounds = maps.bounds_of(matches)
elif intent == "work" and selected is not None:
    bounds = maps.bounds_of(works.loc[[selected.name]])
elif intent == "zoom":
    kind, _sep, number = zoom.partition(":")
    # a choice kept from before the store changed may point past today's lists
    if kind == "area" and int(number) < len(places):
        bounds = maps.area_bounds(places.iloc[int(number)])
    elif kind == "org" and int(number) < len(org_names):
        bounds = maps.bounds_of(works[works[ORG] == org_names[int(number)]])
    else:  # every area's box (cached), not every work reprojected on each run
        bounds = (
            float(places["west"].min()),
            float(places["south"].min()),
            float(places["east"].max()),
            float(places["north"].max()),
        )
view: dict = {}
if bounds is not None:
    centre, level = maps.view_of(bounds, width=800, height=widgets.MAP_HEIGHT)
    view = {"center": centre, "zoom": min(level, 18)}

outlined = matches if selected is None else pd.concat([matches, works.loc[[selected.name]]])
if not outlined.empty:
    view["feature_group_to_add"] = maps.highlight(
        maps.prepare(outlined.drop(columns=[search.MATCH, search.RANK], errors="ignore")),
        name=_("Selected"),
    )

fmap = maps.works_map(
    shown,
    groups=orgs,
    conflicts=conflict_layer if kinds else None,
    context=basemap,
    outside=outside,
    disciplines=disciplines,
    kinds=kinds,
    tiles=maps.tile_url(),
    moratoria=protected,
    link=links.conflict_prefix(),
    # always in the legend: a legend that changed with the search would be a new
    # map script, and the browser would draw the whole map again
    highlight=True,
)
clicked = widgets.show_map(fmap, key="works_map", **view)
widgets.map_caption(shown, _("works"))
if kinds:
    widgets.map_caption(conflict_layer, _("conflicts"), total=total_conflicts)
if protected.count:
    widgets.map_caption(protected, _("moratoria (protected new surfaces)"))
st.caption(
    _(
        "Solid lines: works, by discipline. Dashed bands and rings: conflicts, by kind. "
        "Thin dashed grey: works outside the filters. Light grey: the streets of every plan."
    )
)

# --- the works shown, as files (as ims-geo export writes them; written when clicked) ---------
shown_works = maps.filter_works(
    works, start=start, end=end, layers=layers, orgs=orgs, disciplines=disciplines
)
st.markdown(
    "**"
    + i18n.ngettext(
        "Download the {n} work shown", "Download the {n} works shown", len(shown_works)
    ).format(n=i18n.fmt_number(len(shown_works)))
    + "**"
)
widgets.downloads(shown_works, "works", key="map_download", formats=["csv", "gpkg"], in_words=False)

# --- a click: a conflict opens in the conflict list, a work becomes the selected work ---------
fresh = bool(clicked) and clicked != st.session_state.get(LAST_CLICK)
if fresh:
    st.session_state[LAST_CLICK] = clicked
drawn = maps.filter_conflicts(
    every, kinds=kinds, orgs=orgs, disciplines=disciplines, start=start, end=end
)
conflict = maps.clicked_conflict(clicked, drawn)
if conflict is not None:
    st.subheader(
        _("Conflict: {kind}").format(kind=maps.value_name("kind", conflict["kind"])) + " · "
        + widgets.literal(f"{conflict['org_a']} · {conflict['work_id_a']} ↔ "
                          f"{conflict['org_b']} · {conflict['work_id_b']}")
    )  # fmt: skip
    st.page_link(
        CONFLICTS_PAGE,
        label=_("Open in the conflict list"),
        icon=":material/open_in_new:",
        query_params={links.CONFLICT: links.conflict_key(conflict)},
    )
elif fresh:
    picked = maps.clicked_work(clicked, shown_works)
    if picked is not None:
        selected = picked
        # the address bar now opens the map on this work; the view stays where it is
        st.query_params[links.ORG] = str(picked[ORG])
        st.query_params[links.WORK] = str(picked[WORK_ID])
        st.session_state[INTENT] = "click"
        st.rerun()  # outline the clicked work

# --- search matches --------------------------------------------------------------------------
if query and search.normalise(pd.Series([query])).iloc[0]:
    st.subheader(
        i18n.ngettext("{n} work matches", "{n} works match", len(matches)).format(
            n=i18n.fmt_number(len(matches))
        )
    )
    if not matches.empty:
        listed = pd.DataFrame(
            {
                _("Organisation"): matches[ORG].astype(str),
                _("Work"): matches[WORK_ID].astype(str),
                _("Title"): matches[TITLE].astype(str) if TITLE in matches else "",
                _("Street"): search.street_names(matches),
                _("Found by"): matches[search.MATCH].map(lambda m: _(search.MATCH_NAMES[m])),
            }
        )
        event = st.dataframe(
            listed,
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key="map_search_results",
            height=min(38 + 35 * len(listed), 300),
        )
        rows = event.selection.rows if event is not None else []
        pick = (query, rows[0]) if rows and rows[0] < len(matches) else None
        # only a new pick selects (a later click on the map must not be undone by it)
        if pick is not None and pick != st.session_state.get(LAST_PICK):
            st.session_state[LAST_PICK] = pick
            choice = matches.iloc[pick[1]]
            st.query_params[links.ORG] = str(choice[ORG])
            st.query_params[links.WORK] = str(choice[WORK_ID])
            st.session_state[INTENT] = "work"
            st.rerun()

# --- the selected work's details and its conflicts -------------------------------------------
if selected is not None:
    st.subheader(widgets.literal(f"{selected[ORG]} · {selected[WORK_ID]}"))
    details = selected.drop(labels=["geometry"], errors="ignore")
    details = details[details.notna()]

    def shown_value(column: str, value: object) -> str:
        if column in (START, END) or isinstance(value, pd.Timestamp):
            return i18n.fmt_date(value)
        if column == "cost_eur":
            return i18n.fmt_money(value)
        return maps.value_name(column, value)

    st.dataframe(
        pd.DataFrame(
            {
                _("Field"): [label(c) for c in details.index],
                _("Value"): [shown_value(c, v) for c, v in details.items()],
            }
        ),
        hide_index=True,
        key="map_selected",
    )
    involved = maps.conflicts_of(selected, every)
    st.markdown(
        "**"
        + i18n.ngettext(
            "{n} conflict with other organisations' works",
            "{n} conflicts with other organisations' works",
            len(involved),
        ).format(n=i18n.fmt_number(len(involved)))
        + "**"
    )
    if not involved.empty:
        side_a = (involved["org_a"] == selected[ORG]) & (involved["work_id_a"] == selected[WORK_ID])
        other = {
            side: involved[f"{side}_b"].where(side_a, involved[f"{side}_a"])
            for side in ("org", "work_id", "title")
            if f"{side}_a" in involved
        }
        kind_names = {k: _(v) for k, v in maps.VALUE_NAMES["kind"].items()}
        table = pd.DataFrame(
            {
                _("Kind"): involved["kind"].map(kind_names).fillna(involved["kind"]),
                _("Other organisation"): other["org"],
                _("Other work"): other["work_id"],
                _("Other title"): other.get("title", pd.Series("", index=involved.index)),
                _("Distance"): involved["distance_m"].map(i18n.fmt_metres),
                _("Gap"): involved["gap_days"].map(i18n.fmt_days),
                _("Conflict list"): [
                    links.conflict_link(row) for row in involved.to_dict("records")
                ],
            }
        )
        st.dataframe(
            table,
            hide_index=True,
            key="map_selected_conflicts",
            column_config={_("Conflict list"): st.column_config.LinkColumn(display_text=_("Open"))},
        )
