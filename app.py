"""ims_geo web app: navigation only; each page lives in ims_geo/ui/pages/.

Run with ``streamlit run app.py`` (or ``ims-geo serve``); the works store is
taken from the IMS_GEO_STORE environment variable (default data/ims.gpkg).
The favicon is an emoji (drawn by the browser): a Material icon would be
fetched from fonts.gstatic.com, and the app must work without internet.
"""

import streamlit as st

from ims_geo.ui import state

st.set_page_config(page_title="ims_geo", page_icon="🧭", layout="wide")

PAGES = "ims_geo/ui/pages"
navigation = st.navigation(
    state.allowed_pages(  # pages this session's role may use (all for a GeoPackage store)
        [
            st.Page(f"{PAGES}/overview.py", title="Overview", default=True),
            st.Page(f"{PAGES}/map.py", title="Map", url_path="map"),
            st.Page(f"{PAGES}/upload.py", title="Upload", url_path="upload"),
            st.Page(f"{PAGES}/conflicts.py", title="Conflicts", url_path="conflicts"),
            st.Page(f"{PAGES}/programme.py", title="Programme", url_path="programme"),
            st.Page(f"{PAGES}/cycle.py", title="Planning cycle", url_path="cycle"),
            st.Page(f"{PAGES}/public.py", title="Public view", url_path="public"),
            st.Page(f"{PAGES}/login.py", title="Sign in / out", url_path="login"),
        ]
    )
)
navigation.run()
