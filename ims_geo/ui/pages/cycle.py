"""Planning cycle: the five steps of the year, targets and KPIs, the adopted programme,
monitoring, moratoria and the council pack. Everything is computed by ims_geo.cycle."""

import datetime as dt

import pandas as pd
import streamlit as st

from ims_geo import cycle, i18n
from ims_geo.cycle.baseline import SEALED_CLASH_NOTE
from ims_geo.cycle.evaluation import record_report
from ims_geo.cycle.monitor import PROJECT_STATES
from ims_geo.i18n import N_, _, bind, fmt_date, fmt_number, messages, ngettext
from ims_geo.ingest import UPLOAD_TYPES, Limits
from ims_geo.report import words
from ims_geo.schema import STATUSES
from ims_geo.ui import state, widgets

#: A step's state as coloured text (Streamlit colour directives: no emoji font needed).
STATES = {
    "done": (":green[**{}**]", N_("done")),
    "partial": (":orange[**{}**]", N_("partial")),
    "missing": (":red[**{}**]", N_("missing")),
}


def step_line(step: int, name: str, done: str, detail: str) -> str:
    """One step of the cycle as a line of markdown (the detail shown as plain text)."""
    colour, word = STATES[done]
    return (
        f"{colour.format(_(word))}  **{step}. {_(name)}** — "
        f"{widgets.literal(messages.translate(detail))}"
    )


#: What comes next after a step that is not done: who does it, and where in the app.
NEXT_STEPS = {
    1: N_("Planners upload their organisation's {year} plan on the **Upload** page."),
    2: N_("A coordinator sets the targets under **Targets and KPIs** below."),
    3: N_(
        "A coordinator adopts the programme under **Adopted programme** below (or a proposal "
        "on the **Programme** page), with the reference of the decision."
    ),
    4: N_("Planners report their works' progress under **Monitoring** below."),
    5: N_("The council pack for the directors is built under **Council pack** below."),
}


def next_steps(steps: pd.DataFrame, year: int) -> list[str]:
    """What comes next in the cycle (translated): a line per step 1-4 not done (monitoring
    before the adoption only while an earlier programme runs), then the council pack once
    a programme is adopted."""
    state = dict(zip(steps["step"], steps["state"], strict=True))
    due = [n for n in (1, 2, 3, 4) if state.get(n, "done") != "done"]
    if 3 in due:  # no report before the adoption; monitored only while an earlier one runs
        due = [n for n in due if n != 4 or state.get(4) != "missing"]
    else:
        due.append(5)
    return [_(NEXT_STEPS[n]).format(year=year) for n in due]


#: Kinds of report, as the radio shows them.
REPORT_KINDS = {"council": N_("council pack"), "status": N_("six-monthly status report")}


def _in_words(column: str, value: str) -> str:
    """One value the library writes, in words, as the council pack writes it."""
    if column == "reason":
        return words.reason(value)
    if value in words.VOCABULARY:  # identifiers such as not_combined, awaiting_update
        return words.say(value)
    return messages.translate(value)


def translated(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """``frame`` with the library's words in ``columns`` (states, deviations, reasons, KPI
    descriptions) in the language in use."""
    out = frame.copy()
    for column in columns:
        if column in out:
            out[column] = out[column].map(
                lambda v, c=column: _in_words(c, v) if isinstance(v, str) else v
            )
    return out


def kpi_targets(targets: pd.Series) -> list[str]:
    """KPI targets as the table shows them: the number, or "no target" where none is set."""
    return [words.say("no target") if pd.isna(t) else fmt_number(float(t)) for t in targets]


st.title(_("Planning cycle"))
st.caption(
    _(
        "The yearly cycle of integral programming: baseline, targets, the adopted programme, "
        "implementation and monitoring, evaluation and reporting (the council pack)."
    )
)

store = state.store()
with widgets.user_errors():
    versions = store.plan_versions()
years = sorted({int(y) for y in versions["cycle"]}) if len(versions) else []
with st.sidebar:
    year = int(
        st.number_input(
            _("Cycle year"),
            1900,
            2200,
            years[-1] if years else dt.date.today().year,
            key="cycle_year",
        )  # fmt: skip
    )
    with widgets.user_errors():
        full = state.cycle_read("is_full_revision", year)
    wanted = st.toggle(
        _("Full revision (once per election period)"), value=full, key=f"cycle_full_{year}",
        help=_("Every organisation must re-submit its plan; plans not refreshed are stale."),
        disabled=not state.may("coordinate"),
    )  # fmt: skip
    widgets.refused("coordinate", N_("mark a full revision"))
    if wanted != full:
        with widgets.user_errors():
            cycle.set_full_revision(store, year, wanted)
        st.rerun()

with widgets.user_errors():
    now = state.cycle_status(year)  # once per store revision: every cycle write changes it

st.subheader(
    (
        _("Where {year} stands (full revision)") if now.full_revision else _("Where {year} stands")
    ).format(year=year)
)
for step, name, done, detail in now.steps.itertuples(index=False):
    st.markdown(step_line(step, name, done, detail))
if not versions.empty:
    st.markdown(
        "  \n".join(f":material/arrow_forward: {line}" for line in next_steps(now.steps, year))
    )
else:  # no plan, so no KPI has a value: say what comes first
    st.info(
        _(
            "Nothing to measure yet: the store holds no plan. First upload each organisation's "
            "plan on the **Upload** page; then set the targets under **Targets and KPIs** and "
            "adopt a programme."
        ),
        icon=":material/info:",
    )
if len(now.stale):
    st.warning(
        ngettext(
            "{count} stale plan (not re-submitted in this full revision): {orgs}",
            "{count} stale plans (not re-submitted in this full revision): {orgs}",
            len(now.stale),
        ).format(
            count=len(now.stale), orgs=", ".join(widgets.literal(o) for o in now.stale["org"])
        ),
        icon=":material/history:",
    )

tab_baseline, tab_kpis, tab_programme, tab_monitoring, tab_moratoria, tab_report = st.tabs(
    [_("Baseline"), _("Targets and KPIs"), _("Adopted programme"), _("Monitoring"),
     _("Moratoria"), _("Council pack")]
)  # fmt: skip

with tab_baseline:
    with widgets.user_errors():
        base = state.cycle_baseline(year)
    left, right = st.columns(2)
    left.markdown("**{}**".format(_("Plans")))
    widgets.show_table(base.plans, key="cycle_plans", into=left)
    right.markdown(_("**Conflicts of the current plans** (moratoria layer included)"))
    widgets.show_table(
        translated(base.conflict_counts, "kind"), key="cycle_conflict_counts", into=right,
        config={"conflicts": _("Conflicts")},
    )  # fmt: skip
    right.caption(_(SEALED_CLASH_NOTE))
    st.markdown(
        _(
            "**Disruption days per street segment in {year}** (a `street` column of the plans, "
            "else 100 m squares), most disrupted first"
        ).format(year=year)
    )
    disruption = base.disruption.copy()
    squares = disruption["kind"] == "square"  # street names are the plans' own words
    disruption.loc[squares, "segment"] = disruption.loc[squares, "segment"].map(messages.translate)
    widgets.show_table(translated(disruption, "kind"), key="cycle_disruption")

with tab_kpis:
    kpis = now.kpis
    st.dataframe(
        translated(kpis.loc[:, ["kpi", "target", "value", "state", "description"]]
                   .assign(target=kpi_targets(kpis["target"])),
                   "kpi", "state", "description"),
        hide_index=True, key="cycle_kpis",
        column_config={"kpi": _("KPI"), "target": _("Target"), "value": _("Value"),
                       "state": _("State"), "description": _("Description")},
    )  # fmt: skip
    st.markdown("**{}**".format(_("Targets")))
    with widgets.user_errors():
        current = state.cycle_read("targets", year)
    setter = not widgets.refused("coordinate", N_("set the cycle's targets"))
    with widgets.user_errors():  # the next cycle starts from last year's (Fortschreibung)
        carried = {} if state.cycle_read("stored_targets", year) else (
            state.cycle_read("stored_targets", year - 1)
        )  # fmt: skip
    if setter and carried:
        st.info(
            ngettext(
                "No targets set for {year} yet; {previous} set {count} target. Take it over, "
                "then change what this year needs.",
                "No targets set for {year} yet; {previous} set {count} targets. Take them "
                "over, then change what this year needs.",
                len(carried),
            ).format(year=year, previous=year - 1, count=fmt_number(len(carried))),
            icon=":material/history:",
        )
        if st.button(
            _("Take over the targets of {previous}").format(previous=year - 1),
            key="cycle_carry_targets",
        ):
            with widgets.user_errors():
                cycle.set_targets(store, year, carried, custom=True)
            st.rerun()
    edited = st.data_editor(
        translated(current.loc[:, ["kpi", "target", "description"]], "description"),
        disabled=["kpi", "description"] if setter else True, hide_index=True,
        key=f"cycle_targets_{year}",
        column_config={"kpi": _("KPI"), "target": _("Target"), "description": _("Description")},
    )  # fmt: skip
    if setter and st.button(_("Save targets"), key="cycle_save_targets"):
        given = pd.to_numeric(edited["target"], errors="coerce")
        values = dict(zip(edited["kpi"][given.notna()], given[given.notna()], strict=True))
        # a target emptied in the table is removed (a known KPI back to its default)
        with widgets.user_errors():
            cycle.set_targets(
                store, year, values, custom=True, clear=list(edited["kpi"][given.isna()])
            )
        st.rerun()
    left, right, button = st.columns([2, 1, 1], vertical_alignment="bottom")
    name = left.text_input(
        _("Custom KPI"), key="cycle_custom_name", placeholder=_("e.g. trees_planted"),
        disabled=not setter,
    )  # fmt: skip
    number = right.number_input(
        _("Target"), value=0.0, key="cycle_custom_value", disabled=not setter
    )
    if setter and button.button(_("Add"), key="cycle_custom_add") and name.strip():
        with widgets.user_errors():
            cycle.set_targets(store, year, {name.strip(): number}, custom=True)
        st.rerun()

with tab_programme:
    with widgets.user_errors():
        revisions = state.cycle_read("revisions", year)
    if len(revisions):
        last = revisions.iloc[-1]
        st.markdown(
            _("**Revision {revision}** adopted on {date}: {decision}").format(
                revision=last["revision"],
                date=fmt_date(last["decision_date"]),
                decision=widgets.literal(last["decision"]),
            )
        )
        with widgets.user_errors():
            projects = state.cycle_read("projects", year)
            works = state.cycle_read("programme", year)
        states = now.projects.set_index("project")["rag"] if len(now.projects) else pd.Series()
        projects = projects.assign(rag=projects["project"].map(states))
        widgets.show_table(translated(projects, "rag"), key="cycle_projects")
        widgets.show_table(works, key="cycle_programme")
        widgets.show_table(revisions, key="cycle_revisions")
    else:
        st.info(_("No programme adopted for {year} yet.").format(year=year))
    with st.form("cycle_adopt"):
        st.markdown("**{}**".format(_("Adopt a fresh proposal of the current plans")))
        widgets.refused("coordinate", N_("adopt a programme"))
        decision = st.text_input(_("Decision reference"), key="cycle_decision",
                                 placeholder=_("Council 2027/14"))  # fmt: skip
        decided = st.date_input(
            _("Decision date"), value=dt.date.today(), key="cycle_decided",
            format=widgets.date_input_format(),
        )  # fmt: skip
        reason = st.text_input(_("Reason (for a new revision)"), key="cycle_reason")
        seconds = st.slider(_("Solver time limit (s)"), 5, 120, 20, 5, key="cycle_time")
        if st.form_submit_button(
            _("Adopt"), type="primary", key="cycle_adopt_submit",
            disabled=not state.may("coordinate"),
        ):  # fmt: skip
            with st.spinner(_("Proposing and freezing the programme…")), widgets.user_errors():
                adopted = cycle.adopt(
                    store, year, decision=decision, decision_date=decided,
                    reason=reason or None, time_limit=float(seconds),
                )  # fmt: skip
            st.session_state["cycle_adopted"] = adopted.revision
            st.rerun()
    if "cycle_adopted" in st.session_state:
        st.success(
            _("Adopted revision {revision}.").format(revision=st.session_state["cycle_adopted"])
        )

with tab_monitoring:
    carried = ", ".join(str(y) for y in now.monitored if y != year)
    if carried and year in now.monitored:
        st.info(
            _("Works still running from the programme adopted in {year} are monitored too.")
            .format(year=carried)
        )  # fmt: skip
    elif carried:
        st.info(_("Monitoring the programme adopted in {year}.").format(year=carried))
    if len(now.projects) or len(now.deviations) or len(now.awaiting):
        rag = now.projects["rag"].value_counts() if len(now.projects) else pd.Series(dtype=int)
        counts = st.columns(3)
        counts[0].metric(_("Deviations"), fmt_number(len(now.deviations)))
        counts[1].metric(
            _("Plans not yet updated to the adopted dates"), fmt_number(len(now.awaiting))
        )
        counts[2].metric(
            _("Projects red / amber / awaiting update / green"),
            " / ".join(fmt_number(int(rag.get(k, 0))) for k in PROJECT_STATES),
        )
    if len(now.projects):
        widgets.show_table(translated(now.projects, "rag", "reason"), key="cycle_rag")
    if len(now.deviations):
        widgets.show_table(
            translated(now.deviations, "deviation", "reason"), key="cycle_deviations"
        )
    elif len(now.projects):
        st.success(_("No deviations from the adopted programme."))
    if len(now.awaiting):
        st.info(
            ngettext(
                "{count} work's plan is not yet updated to the adopted dates. This is no "
                "deviation: the organisation's current plan still holds the dates the programme "
                "was adopted from; it clears when the organisation imports its plan with the "
                "adopted dates.",
                "{count} works' plans are not yet updated to the adopted dates. These are no "
                "deviations: the organisations' current plans still hold the dates the programme "
                "was adopted from; they clear when the organisations import their plans with the "
                "adopted dates.",
                len(now.awaiting),
            ).format(count=fmt_number(len(now.awaiting))),
            icon=":material/schedule:",
        )
        widgets.show_table(now.awaiting.drop(columns="reason"), key="cycle_awaiting")
    st.markdown(_("**Report progress** (work_id, status, actual_start, actual_end, remark)"))
    orgs = sorted(set(versions["org"])) if len(versions) else []
    signed_in = state.identity()
    if state.shared():  # an organisation reports its own progress only
        orgs = [signed_in.org] if signed_in is not None else []
    reporter = not widgets.refused("write", N_("report progress"))
    org = st.selectbox(_("Organisation"), orgs, key="cycle_progress_org")
    upload = st.file_uploader(
        _("Progress file"), key="cycle_progress_file", type=UPLOAD_TYPES, disabled=not reporter
    )
    if (
        upload is not None and org and reporter
        and st.button(_("Store progress"), key="cycle_progress_store")
    ):  # fmt: skip
        with widgets.user_errors(reading=upload.name):
            # the upload limits of every page (IMS_GEO_MAX_...), in the limited reader
            reports = cycle.read_progress(upload.getvalue(), name=upload.name, limits=Limits())
            result = cycle.record_progress(store, year, org, reports, source=upload.name)
        st.session_state["cycle_progress_result"] = (result.report(), result.rejected)
        st.rerun()
    if org:
        st.markdown("**{}**".format(_("Or edit the progress of this organisation's works")))
        with widgets.user_errors():
            sheet = state.cycle_read("progress_sheet", year, org)
        editable = widgets.table(sheet)
        edited = st.data_editor(
            editable, hide_index=True, key=f"cycle_progress_sheet_{year}_{org}",
            disabled=["work_id", "title", "start", "end"] if reporter else True,
            # headers in words, dates as the language writes them; the values stay canonical
            column_config=widgets.column_config(editable, {
                "status": st.column_config.SelectboxColumn(options=list(STATUSES)),
                "actual_start": st.column_config.DateColumn(format=widgets.date_format()),
                "actual_end": st.column_config.DateColumn(format=widgets.date_format()),
                "remark": st.column_config.TextColumn(),
            }),
        )  # fmt: skip
        if reporter and st.button(_("Store the edited progress"), key="cycle_progress_edited"):
            changes = cycle.changed_progress(sheet, edited)
            with widgets.user_errors():
                result = cycle.record_progress(
                    store, year, org, changes, source="edited in the app"
                )
            st.session_state["cycle_progress_result"] = (result.report(), result.rejected)
            st.rerun()
    if "cycle_progress_result" in st.session_state:
        text, rejected = st.session_state["cycle_progress_result"]
        # one line per outcome, as the command line prints it (markdown would run them together)
        lines = messages.translate_report(text).splitlines()
        st.info("  \n".join(widgets.literal(line.strip()) for line in lines))
        if len(rejected):
            rejected = rejected.assign(reason=rejected["reason"].map(messages.translate_reasons))
            widgets.show_table(rejected, key="cycle_progress_rejected")

with tab_moratoria:
    with widgets.user_errors():
        layer = state.cycle_read("moratoria")
    active = layer[
        (layer["valid_from"] <= pd.Timestamp.today())
        & (layer["valid_until"] >= pd.Timestamp.today())
    ]
    st.markdown(
        ngettext(
            "**{count} moratorium**, {active} in force today",
            "**{count} moratoria**, {active} in force today",
            len(layer),
        ).format(count=fmt_number(len(layer)), active=fmt_number(len(active)))
    )
    widgets.show_table(layer, key="cycle_moratoria")

with tab_report:
    try:
        from ims_geo.report import assemble, report_bytes
    except ImportError:  # the council pack is an optional part of the package
        st.info(_("The council pack is not installed with this version."))
    else:
        st.caption(_("One self-contained HTML file (works from a USB stick) or an Excel workbook."))
        kind = st.radio(
            _("Kind"), ["council", "status"], horizontal=True, key="cycle_report_kind",
            format_func=bind(lambda k: _(REPORT_KINDS[k])),
        )  # fmt: skip
        # a coordinator's (or admin's) report is the cycle's evaluation: it completes step 5
        records = not widgets.refused(
            "coordinate", N_("record the report as the cycle's evaluation")
        )
        if st.button(_("Build the report"), key="cycle_report_build"):
            with st.spinner(_("Assembling the report…")), widgets.user_errors():
                data = assemble.report_data(store, year)
                st.session_state["cycle_report"] = (
                    year, kind, report_bytes(data, "html", kind=kind, lang=i18n.language()),
                    report_bytes(data, "xlsx", kind=kind, lang=i18n.language()), i18n.language(),
                )  # fmt: skip
                if records:
                    revision = data.info.revision
                    record_report(store, year, kind, ["html", "xlsx"], revision=revision)
        built = st.session_state.get("cycle_report")
        if built is not None and (*built[:2], built[-1]) == (year, kind, i18n.language()):
            left, right = st.columns(2)
            left.download_button(
                _("Download HTML"), built[2], file_name=f"{kind}_report_{year}.html",
                mime="text/html", key="cycle_report_html",
            )  # fmt: skip
            right.download_button(
                _("Download Excel"), built[3], file_name=f"{kind}_report_{year}.xlsx",
                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                key="cycle_report_xlsx",
            )  # fmt: skip
