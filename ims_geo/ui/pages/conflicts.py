"""Conflicts: the list planners work from — filter, sort, pick columns, see it on the map,
and read why a conflict is what it is and what would resolve it.

One conflict is "selected" by its link key (:func:`ims_geo.ui.links.conflict_key`), never by
its row number: the key survives sorting and filtering, comes in from a URL
(``conflicts?conflict=KEY``) or from a click on the map, and goes out to the URL again so
the selection can be shared.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from ims_geo import i18n, maps
from ims_geo.conflicts import left_out
from ims_geo.conflicts.explain import explain, sentences
from ims_geo.conflicts.rules import load_rules
from ims_geo.cycle.moratoria import moratoria
from ims_geo.i18n import _
from ims_geo.i18n.labels import label
from ims_geo.schema import DISCIPLINES, ORG
from ims_geo.ui import links, state, widgets

SEVERITIES = ("high", "medium", "low")
KINDS = ("clash", "moratorium", "synergy")
#: Every column the list can show, in this order.
COLUMNS = [
    "kind", "severity", "score", "org_a", "work_id_a", "title_a", "discipline_a", "start_a",
    "end_a", "org_b", "work_id_b", "title_b", "discipline_b", "start_b", "end_b", "distance_m",
    "gap_days", "overlap_m", "depth_overlap", "moratorium_id",
]  # fmt: skip
#: The columns shown until the user picks others.
DEFAULT_COLUMNS = [
    "kind", "severity", "score", "org_a", "work_id_a", "title_a", "start_a", "end_a",
    "org_b", "work_id_b", "title_b", "start_b", "end_b", "distance_m", "gap_days", "overlap_m",
]  # fmt: skip
TABLE = "conflicts_table"
MAP = "conflicts_map"
#: Session keys: the table's row order of the last run, a selection waiting for the table,
#: the last map click and URL value acted on.
_ORDER, _PENDING, _CLICK, _URL = (
    "conflicts_order", "conflicts_pending", "conflicts_click_seen", "conflicts_url_seen",
)  # fmt: skip

st.title(_("Conflicts between plans"))

with widgets.user_errors():
    works = state.works()
    widgets.require_works(works)

with st.sidebar:
    kinds = widgets.choose(_("Kind"), KINDS, key="conflict_kinds",
                           format_func=lambda k: maps.value_name("kind", k))  # fmt: skip
    severities = widgets.choose(_("Severity"), SEVERITIES, key="conflict_severities",
                                format_func=lambda v: maps.value_name("severity", v))  # fmt: skip
    orgs = widgets.choose(_("Organisations"), sorted(works[ORG].unique()), key="conflict_orgs",
                          help=_("Conflicts that involve one of these organisations."))  # fmt: skip
    present = set(works["discipline"])
    disciplines = widgets.choose(
        _("Disciplines"), [d for d in DISCIPLINES if d in present], key="conflict_disciplines",
        format_func=lambda d: maps.value_name("discipline", d),
    )  # fmt: skip
    start, end = widgets.period(works, key="conflict_period")
    with st.expander(_("Rules")):
        distance = st.number_input(_("Distance (m)"), 0.0, 500.0, 20.0, 5.0, key="rule_distance")
        window = st.number_input(_("Synergy window (days)"), 0, 3650, 365, 30, key="rule_window")
        moratorium = st.number_input(_("Moratorium (years)"), 0, 20, 3, 1, key="rule_moratorium")

with widgets.user_errors():
    every = state.conflicts(distance=distance, window_days=window, moratorium_years=moratorium)
    rules = load_rules(None, distance=distance, window_days=window, moratorium_years=moratorium)
    # filtered and tabled once per revision, rules and filters (not on a row pick)
    found, listed = state.conflict_list(
        rules={"distance": distance, "window_days": window, "moratorium_years": moratorium},
        kinds=kinds, severities=severities, orgs=orgs, disciplines=disciplines,
        start=start, end=end,
    )  # fmt: skip

# --- sorting and columns -----------------------------------------------------------------
shown_columns = [c for c in COLUMNS if c in listed.columns]
with st.expander(_("Columns and order"), expanded=False):
    chosen = st.multiselect(
        _("Columns"), shown_columns, default=[c for c in DEFAULT_COLUMNS if c in shown_columns],
        format_func=label, key="conflicts_columns",
    )  # fmt: skip
    left_sort, right_sort = st.columns([3, 2])
    sort_by = left_sort.selectbox(_("Sort by"), shown_columns, index=shown_columns.index("score"),
                                  format_func=label, key="conflicts_sort")  # fmt: skip
    descending = right_sort.toggle(_("Largest first"), value=True, key="conflicts_descending")
# the chosen order, then the worst first among equals; the table's own headers sort too
order = [sort_by] if sort_by == "score" else [sort_by, "score"]
listed = listed.sort_values(
    order, ascending=[not descending] + [False] * (len(order) - 1), kind="stable",
    na_position="last",
)  # fmt: skip
found = found.loc[listed.index]
keys = links.conflict_keys(found).tolist()
position = {k: i for i, k in enumerate(keys)}

# --- which conflict is selected: a link, a click on the map, or the table ----------------
asked = st.query_params.get(links.CONFLICT)
if asked is not None and asked != st.session_state.get(_URL):
    st.session_state[_URL] = asked
    st.session_state[_PENDING] = asked
    if asked not in position:  # compared with the store's keys only: never shown as markup
        st.warning(
            _("The linked conflict is not in the list: it was resolved, or the filters hide it."),
            icon=":material/link_off:",
        )
previous = st.session_state.get(_ORDER) or []
before = [previous[r] for r in widgets.selected_rows(TABLE) if r < len(previous)]
wanted = st.session_state.pop(_PENDING, None) or (before[0] if before else None)
target = position.get(wanted) if wanted is not None else None
if widgets.selected_rows(TABLE) != ([] if target is None else [target]):
    widgets.select_row(TABLE, target)
st.session_state[_ORDER] = keys

st.caption(
    _("{n} of {total} conflicts · select a row to show it on the map and explain it").format(
        n=i18n.fmt_number(len(found)), total=i18n.fmt_number(len(every))
    )
)
if every.empty:  # an empty table and empty downloads alone would look like a fault
    st.info(widgets.no_conflicts_sentence(rules), icon=":material/info:")
elif found.empty:
    st.info(
        i18n.ngettext(
            "The {total} conflict does not match the filters in the sidebar.",
            "None of the {total} conflicts matches the filters in the sidebar.",
            len(every),
        ).format(total=i18n.fmt_number(len(every))),
        icon=":material/filter_alt_off:",
    )
skipped = left_out(works, start=start, end=end)  # the page's rules keep the default exemptions
with st.expander(widgets.left_out_sentence(skipped, len(works)), expanded=False):
    st.caption(
        _(
            "Works that take no part in the conflict search, by the first reason that applies "
            "(exemptions of the rules; the period chosen in the sidebar)."
        )
    )
    widgets.show_table(widgets.left_out_words(skipped), key="conflicts_left_out")
heading = st.container()
left, right = st.columns([5, 4], gap="medium")
with left:
    picked = widgets.pick_row(listed, key=TABLE, columns=chosen, height=widgets.MAP_HEIGHT)
    widgets.downloads(listed, "conflicts", key="conflicts_download")

chosen_row: pd.Series | None = None
view: dict = {}
if picked is not None:
    chosen_row = found.iloc[picked]
    key = keys[picked]
    if st.query_params.get(links.CONFLICT) != key:  # the URL names the selection: shareable
        st.query_params[links.CONFLICT] = key
    st.session_state[_URL] = key
    pair = maps.prepare(maps.conflict_works(chosen_row, works))
    view = widgets.view(pair, maps.prepare(found.iloc[[picked]], maps.CONFLICT_FIELDS))
    view["feature_group_to_add"] = maps.highlight(pair)
    heading.subheader(
        f"{maps.value_name('kind', chosen_row['kind'])}: "
        + widgets.literal(
            f"{chosen_row['org_a']} · {chosen_row['work_id_a']} ↔ "
            f"{chosen_row['org_b']} · {chosen_row['work_id_b']}"
        )
    )
elif links.CONFLICT in st.query_params and st.query_params.get(
    links.CONFLICT
) == st.session_state.get(_URL):
    # nothing selected (cleared in the table, filtered out, or an unknown link): the address
    # names no conflict either
    del st.query_params[links.CONFLICT]
    st.session_state[_URL] = None

# the highest scores, lowest first: the worst conflicts are drawn on top; the selected
# conflict is drawn even when it is not among them
drawn = found.head(maps.MAX_DRAWN_CONFLICTS)
if chosen_row is not None and picked is not None and picked >= maps.MAX_DRAWN_CONFLICTS:
    drawn = pd.concat([drawn, found.iloc[[picked]]])
drawn = drawn.iloc[::-1]
drawn = drawn.assign(**{maps.KEY_FIELD: links.conflict_keys(drawn)})
layer = state.layer(
    drawn, [*maps.CONFLICT_FIELDS, maps.KEY_FIELD], light_fields=maps.LIGHT_CONFLICT_FIELDS,
    key=("conflicts", distance, window, moratorium, tuple(drawn[maps.KEY_FIELD])),
)  # fmt: skip
fmap = maps.conflicts_map(layer, context=state.context(), kinds=kinds, tiles=maps.tile_url())
with right:
    returned = widgets.show_map(fmap, key=MAP, returned=("last_active_drawing",), **view)
    widgets.map_caption(layer, _("conflicts"), total=len(found))

# a conflict clicked on the map selects its row (once per click)
clicked = widgets.clicked_key(returned)
if clicked != st.session_state.get(_CLICK):
    st.session_state[_CLICK] = clicked
    if clicked is not None and clicked in position and position[clicked] != picked:
        st.session_state[_PENDING] = clicked
        st.rerun()

# --- why, and what would resolve it ------------------------------------------------------
if chosen_row is not None:
    until = None
    mid = chosen_row.get("moratorium_id")
    if mid is not None and not pd.isna(mid):
        with widgets.user_errors():
            layer_rows = moratoria(state.store())
        match = layer_rows[layer_rows["moratorium_id"] == int(mid)]
        until = match["valid_until"].iloc[0] if len(match) else None
    with widgets.user_errors():
        # nothing moved into the past: the same default as the programme proposer
        explained = explain(
            chosen_row, works, rules, protected_until=until, not_before=dt.date.today()
        )
    lines = sentences(explained)
    with st.expander(_("Why, and how to resolve it"), expanded=True, key="conflicts_explain"):
        st.markdown("**" + _("Why") + "**")
        st.markdown("\n".join("- " + widgets.literal(line) for line in lines["why"]))
        st.markdown("**" + _("What would resolve it") + "**")
        st.markdown("\n".join("- " + widgets.literal(line) for line in lines["resolve"]))
