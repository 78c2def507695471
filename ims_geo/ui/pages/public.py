"""Public view: the works anyone may see (visibility public), no sign-in, read only."""

import streamlit as st

from ims_geo import maps
from ims_geo.i18n import _
from ims_geo.schema import DISCIPLINE, END, ORG, START, TITLE, WORK_ID
from ims_geo.ui import state, widgets

#: What the public view shows of a work (nothing about costs, funding or depths).
PUBLIC_COLUMNS = [ORG, WORK_ID, TITLE, DISCIPLINE, START, END]

st.title(_("Planned street works"))
st.caption(
    _(
        "The citizen's view: every organisation's works that are published as public. "
        "Read only; works planned for partners or kept confidential are not shown."
    )
)

with widgets.user_errors():
    works = state.public_works()
if works.empty:
    st.info(_("No public works are planned at the moment."), icon=":material/info:")
    st.stop()

start, end = widgets.period(works, key="public_period")
shown = maps.filter_works(works, start=start, end=end)
layer = maps.prepare(shown, PUBLIC_COLUMNS, light_fields=PUBLIC_COLUMNS)
fmap = maps.works_map(layer, groups=sorted(shown[ORG].unique()), tiles=maps.tile_url())
widgets.show_map(fmap, key="public_map", returned=())
widgets.map_caption(layer, _("public works"))
widgets.show_table(shown, key="public_table", columns=PUBLIC_COLUMNS)
