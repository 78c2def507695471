"""The language of this browser session: chosen in the sidebar, kept in the URL.

Precedence on every run: the sidebar selector's value (``st.session_state``
key :data:`~ims_geo.ui.state.LANGUAGE_KEY`), else the URL's ``?lang=`` (a
shared link opens in the sender's language), else the installation's
``IMS_GEO_LANG``, else English. The chosen code is written back to the URL so
the address bar can be copied as it is. A ``lang`` value from the URL is
untrusted: it is used only when it equals one of :func:`ims_geo.i18n.available`.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ims_geo import i18n
from ims_geo.i18n import _
from ims_geo.ui.state import LANGUAGE_KEY, LANGUAGE_PARAM

__all__ = ["apply", "selector"]


def _session_choice() -> str | None:
    """The session's chosen language, for code running outside the page's own run."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    chosen = st.session_state.get(LANGUAGE_KEY)
    return chosen if isinstance(chosen, str) else None


def apply() -> str:
    """Decide this run's language, remember it in the session and use it from now on.

    Returns
    -------
    str
        The language code in use.
    """
    codes = i18n.available()
    chosen = st.session_state.get(LANGUAGE_KEY)
    if chosen not in codes:
        wanted = st.query_params.get(LANGUAGE_PARAM)
        chosen = wanted if wanted in codes else i18n.default_language()
        st.session_state[LANGUAGE_KEY] = chosen
    i18n.follow(_session_choice)
    return i18n.use(chosen)


def selector() -> str:
    """The language selector in the sidebar (every page); returns the language in use."""
    lang = apply()
    st.sidebar.selectbox(
        _("Language"),
        i18n.available(),
        key=LANGUAGE_KEY,
        format_func=i18n.language_name,
        help=_("The language of the app; a copied link opens in the same language."),
    )
    if st.query_params.get(LANGUAGE_PARAM) != lang:
        st.query_params[LANGUAGE_PARAM] = lang
    return lang
