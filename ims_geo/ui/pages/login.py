"""Sign in / out of a shared (PostGIS) store: user name and password, checked by the database."""

import streamlit as st

from ims_geo.errors import StoreError
from ims_geo.i18n import _, fmt_date, messages
from ims_geo.ui import state, widgets

st.title(_("Sign in"))

if not state.shared():
    st.info(
        _(
            "This store has one user and no sign-in (a GeoPackage file, or a PostGIS store "
            "opened by its owner). Shared installations (PostGIS, opened with the application "
            "role) have organisations, users and roles."
        ),
        icon=":material/info:",
    )
    st.stop()

me = state.identity()
if me is not None:
    st.success(
        _("Signed in as {user}, {role} of {org}, until {until} UTC.").format(
            user=widgets.literal(me.user),
            role=_(messages.ROLE_NAMES.get(me.role, me.role)),
            org=widgets.literal(me.org),
            until=f"{fmt_date(me.expires_at)} {me.expires_at:%H:%M}",
        ),
        icon=":material/verified_user:",
    )
    if st.button(_("Sign out"), key="login_sign_out", type="primary"):
        state.sign_out()
        st.rerun()
    st.stop()

if st.session_state.pop(state.ENDED_KEY, False):
    st.warning(
        _(
            "Your session has ended (it expired, or your account was changed or disabled); "
            "sign in again."
        ),
        icon=":material/timer_off:",
    )
st.caption(
    _(
        "Sign in with the user name and password your administrator gave you. Without "
        "signing in you see the public view only."
    )
)
with st.form("login_form"):
    user = st.text_input(_("User name"), key="login_user", max_chars=100)
    password = st.text_input(_("Password"), type="password", key="login_password", max_chars=200)
    submitted = st.form_submit_button(_("Sign in"), type="primary", key="login_submit")
if submitted:
    try:
        state.sign_in(user.strip(), password)
    except StoreError as error:
        # the same words for an unknown user, a wrong password and a disabled account
        widgets.show_error(error)
        st.stop()
    st.rerun()
