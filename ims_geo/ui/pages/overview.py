"""Overview: what the store holds — organisations, plan versions, conflicts; restore a version."""

import pandas as pd
import streamlit as st

from ims_geo.i18n import _, bind, fmt_date, fmt_number, ngettext
from ims_geo.store import CHANGES
from ims_geo.ui import state, widgets

RESTORED = "overview_restored"

st.title(_("Integral programming of the public space"))
st.caption(
    _(
        "Every organisation's planned street works on one map; conflicts between the plans; "
        "combined programmes — dig once, pave once."
    )
)

restored = st.session_state.pop(RESTORED, None)
if restored:
    st.success(
        ngettext(
            "Restored version {version} of {org} as plan version {new} (cycle {cycle}): "
            "{works} work.",
            "Restored version {version} of {org} as plan version {new} (cycle {cycle}): "
            "{works} works.",
            int(restored["works"]),
        ).format(**{**restored, "works": fmt_number(restored["works"])}),
        icon=":material/history:",
    )

with widgets.user_errors():
    works = state.works()
    summary, versions = state.summary()
if versions.empty:
    widgets.require_works(works)

if works.empty:
    st.info(
        _(
            "No current plan holds works. Restore an earlier version below, or upload a plan "
            "on the **Upload** page."
        ),
        icon=":material/info:",
    )
else:
    with widgets.user_errors():
        conflicts = state.conflicts()
    kinds = conflicts["kind"].value_counts()
    cells = st.columns(5)
    cells[0].metric(_("Organisations"), fmt_number(works["org"].nunique()))
    cells[1].metric(_("Planned works"), fmt_number(len(works)))
    cells[2].metric(_("Clashes"), fmt_number(kinds.get("clash", 0)))
    cells[3].metric(_("Moratorium violations"), fmt_number(kinds.get("moratorium", 0)))
    cells[4].metric(_("Synergies"), fmt_number(kinds.get("synergy", 0)))

st.subheader(_("Plans per organisation"))
widgets.show_table(summary, key="summary_table")
st.subheader(_("Plan versions"))
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
widgets.show_table(shown, key="versions_table")

me = state.identity()
st.subheader(_("What changed between two versions"))
# a shared store: the own organisation's versions (another's may hold works gone private)
mine = versions if me is None else versions[versions["org"] == me.org]
several = mine.groupby("org")["version"].nunique()
several = sorted(several[several > 1].index)
if not several:
    st.caption(_("Every organisation has one version: nothing to compare yet."))
else:
    left, middle, right = st.columns(3)
    org = left.selectbox(_("Organisation"), several, key="compare_org")
    numbers = sorted(int(v) for v in mine.loc[mine["org"] == org, "version"])
    new = right.selectbox(_("Newer version"), numbers[:0:-1], key=f"compare_new_{org}")
    old = middle.selectbox(
        _("Older version"), [v for v in numbers if v < new][::-1], key=f"compare_old_{org}_{new}"
    )
    with widgets.user_errors():
        changes = state.store().compare_versions(org, old, new)
    counts = changes["change"].value_counts().reindex(list(CHANGES)).dropna()
    st.caption(
        ", ".join(f"{fmt_number(int(n))} {_(k)}" for k, n in counts.items())
        if len(changes)
        else _("Versions {old} and {new} of {org} hold the same works.").format(
            old=old, new=new, org=widgets.literal(org)
        )
    )
    if changes.attrs.get("not_shown", 0):
        st.caption(
            _(
                "{n} works of {org} are no longer visible to you (made private or dropped): "
                "they are left out."
            ).format(n=fmt_number(int(changes.attrs["not_shown"])), org=widgets.literal(org))
        )
    if len(changes):
        widgets.show_table(changes.drop(columns="geometry"), key="compare_table")

st.subheader(_("Restore an earlier version"))
earlier = versions[~versions["is_current"]]
if me is not None:  # a shared store: only the own organisation's plans
    earlier = earlier[earlier["org"] == me.org]
if not state.may("write"):  # hidden for viewers; the database refuses them anyway
    st.caption(_("Restoring a plan version is for planners and coordinators."))
elif earlier.empty:
    st.caption(_("Every organisation has only its current version: nothing to restore yet."))
else:
    st.caption(
        _(
            "Makes an earlier version the organisation's current plan again, as a new version: "
            "nothing is deleted, so a restore can be undone by restoring again "
            "(`ims-geo restore ORG VERSION` on the command line)."
        )
    )
    left, right = st.columns(2)
    org = left.selectbox(_("Organisation"), sorted(earlier["org"].unique()), key="restore_org")
    mine = earlier[earlier["org"] == org].set_index("version")
    version = right.selectbox(
        _("Version"),
        list(mine.index[::-1]),
        key="restore_version",
        format_func=bind(
            lambda v: _("{version} · cycle {cycle} · {works} · {source} · {uploaded} UTC").format(
                version=v,
                cycle=mine.at[v, "cycle"],
                works=ngettext("{n} work", "{n} works", int(mine.at[v, "n_works"])).format(
                    n=fmt_number(mine.at[v, "n_works"])
                ),
                source=mine.at[v, "source"],
                uploaded=f"{fmt_date(mine.at[v, 'uploaded_at'])} {mine.at[v, 'uploaded_at']:%H:%M}",
            )
        ),
    )
    if st.button(
        _("Restore version {version} of {org}").format(version=version, org=org),
        key="restore_button",
    ):
        with widgets.user_errors():
            new = state.store().restore(org, int(version))
        # kept as the template's values: the message is shown in the language of the next run
        st.session_state[RESTORED] = {
            "version": version,
            "org": org,
            "new": new.version,
            "cycle": new.cycle,
            "works": new.n_works,
        }
        st.rerun()

st.caption(
    _("Store: `{location}` · revision `{revision}`").format(
        location=state.store().location, revision=state.revision()
    )
)
