"""ims_geo web app: navigation only; each page lives in ims_geo/ui/pages/.

Run with ``streamlit run app.py`` (or ``ims-geo serve``); the works store is
taken from the IMS_GEO_STORE environment variable (default data/ims.gpkg).
The favicon is an emoji (drawn by the browser): a Material icon would be
fetched from fonts.gstatic.com, and the app must work without internet.
The language is chosen in the sidebar of every page (``?lang=nl`` in the URL;
``IMS_GEO_LANG`` for the installation), before any page text is written.
"""

import streamlit as st

from ims_geo.i18n import _
from ims_geo.ui import language, state

st.set_page_config(page_title="ims_geo", page_icon="🧭", layout="wide")
language.selector()

PAGES = "ims_geo/ui/pages"
navigation = st.navigation(
    state.allowed_pages(  # pages this session's role may use (all for a GeoPackage store)
        [
            st.Page(f"{PAGES}/overview.py", title=_("Overview"), default=True),
            st.Page(f"{PAGES}/map.py", title=_("Map"), url_path="map"),
            st.Page(f"{PAGES}/upload.py", title=_("Upload"), url_path="upload"),
            st.Page(f"{PAGES}/conflicts.py", title=_("Conflicts"), url_path="conflicts"),
            st.Page(f"{PAGES}/programme.py", title=_("Programme"), url_path="programme"),
            st.Page(f"{PAGES}/cycle.py", title=_("Planning cycle"), url_path="cycle"),
            st.Page(f"{PAGES}/public.py", title=_("Public view"), url_path="public"),
            # a store without sign-in keeps the page out of the menu, but an old link to it
            # lands on the page that says sign-in is for shared stores (not "Page not found")
            st.Page(
                f"{PAGES}/login.py",
                title=_("Sign in / out"),
                url_path="login",
                visibility="visible" if state.shared() else "hidden",
            ),
        ]
    )
)
navigation.run()
