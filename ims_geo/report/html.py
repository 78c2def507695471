"""The council pack and the status report as ONE self-contained HTML file.

No script, no font, no image and no style is loaded from anywhere: maps and
Gantt charts are inline SVG drawn from the works' own geometries, the style
is inline, and a Content-Security-Policy forbids every fetch, so the file
opens from a USB stick and prints as shown. Every text that comes from a
user (organisation names, titles, decision references, KPI names...) is
HTML-escaped where it is written.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ims_geo import schema as S
from ims_geo.crs import ensure_metric
from ims_geo.errors import InputError
from ims_geo.i18n import N_, _, fmt_date, fmt_days, fmt_money, fmt_number, language, ngettext
from ims_geo.i18n.labels import label
from ims_geo.maps import DISCIPLINE_COLOURS, value_name
from ims_geo.report import svg
from ims_geo.report.data import CONFLICT_STATUSES, KINDS, RAG, ReportData
from ims_geo.report.words import CONFLICT_STATES, TITLES, reason, say, speaking

#: Table rows shown in the HTML before it points to the .xlsx for the rest.
MAX_ROWS = 500

#: Turns a cell value into escaped HTML text.
Formatter = Callable[[object], str]

_CSS = """
:root { --red: #d7191c; --amber: #f0a202; --green: #1a9641; }
* { box-sizing: border-box; }
body { font: 13px/1.4 "DejaVu Sans", Arial, Helvetica, sans-serif; color: #222;
       margin: 24px auto; max-width: 960px; padding: 0 12px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px;
  border-bottom: 2px solid #333; padding-bottom: 2px; } h3 { font-size: 14px; margin: 16px 0 6px; }
p.meta { color: #555; margin: 2px 0; }
table { border-collapse: collapse; margin: 6px 0 12px; width: 100%; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eee; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; background: #f6f6f6; }
.rag { display: inline-block; min-width: 4.5em; padding: 0 6px; border-radius: 3px;
       color: #fff; font-weight: bold; text-align: center; }
.rag-red { background: var(--red); } .rag-amber { background: var(--amber); color: #222; }
.rag-green { background: var(--green); } .rag-none { background: #999; }
.rag-awaiting_update { background: #8073ac; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 18px; height: 4px; margin-right: 4px;
            vertical-align: middle; }
svg { max-width: 100%; height: auto; display: block; margin: 6px 0; }
svg text.label { font: bold 11px sans-serif; fill: #111; stroke: #fff; stroke-width: 3px;
                 paint-order: stroke; }
.note { color: #555; font-style: italic; }
.sheet-head { display: flex; gap: 16px; align-items: flex-start; }
.sheet-head > div { flex: 1; }
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 11px; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, svg { break-inside: avoid; page-break-inside: avoid; }
}
section.sheet { break-before: page; page-break-before: always; }
"""

#: Forbids every fetch: the file must work with no network and load nothing.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# --- formatting ----------------------------------------------------------------------------


def _text(value: object) -> str:
    """A cell as escaped text: dates as the language writes them, missing as empty."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date | np.datetime64):
        day = svg.as_date(value)
        return "" if day is None else escape(fmt_date(day))
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return ""
    except (TypeError, ValueError):
        pass
    return escape(str(value))


def _number(value: object, decimals: int = 0) -> str:
    """A number as the language writes it (``1,234`` / ``1.234``); missing as empty."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _text(value)
    if not math.isfinite(number):
        return ""
    return escape(fmt_number(number, decimals=decimals))


def _money(value: object) -> str:
    """Whole euros as the language writes them (``€30,000``, ``€ 30.000``, ``30.000 €``)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _text(value)
    return "" if not math.isfinite(number) else escape(fmt_money(number))


def _count(value: object) -> str:
    """A count (an integer) as the language writes it, for a total row."""
    return escape(fmt_number(int(value)))  # type: ignore[call-overload]


def _rag(state: object) -> str:
    text = _text(state)
    key = text.lower() if text.lower() in RAG else "none"
    shown = escape(say(str(state))) if text else text
    return f'<span class="rag rag-{key}">{shown or "–"}</span>'


def _words(column: str) -> Formatter:
    """Formatter of an enum ``column`` (status, kind, discipline...): its value in words."""

    def shown(value: object) -> str:
        text = _text(value)
        return escape(value_name(column, value)) if text else text

    return shown


def _vocabulary(value: object) -> str:
    """:func:`~ims_geo.report.words.say` of a cell, escaped; missing as empty."""
    return escape(say(str(value))) if _text(value) else ""


def _reason(value: object) -> str:
    """A reason the cycle library wrote, in words of the language (:func:`reason`), escaped."""
    return escape(reason(str(value))) if _text(value) else ""


def _table(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    headers: Sequence[str] | None = None,
    formats: Mapping[str, Formatter] | None = None,
    numeric: Sequence[str] = (),
    total: dict[str, str] | None = None,
    css_class: str = "",
    limit: int | None = MAX_ROWS,
) -> str:
    """An HTML table of ``columns`` of ``frame``; every cell escaped (or formatted).

    ``formats`` maps a column to a :data:`Formatter` (which must escape);
    ``total`` is a last row of texts this module built itself (numbers and
    fixed labels), written as given.
    """
    formats = formats or {}
    heads = headers or [label(c) for c in columns]
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if c in numeric else f"<th>{escape(h)}</th>"
        for c, h in zip(columns, heads, strict=True)
    )
    shown = frame if limit is None else frame.iloc[:limit]
    cells = []
    for column in columns:
        fmt = formats.get(column, _number if column in numeric else _text)
        values = shown[column].tolist() if column in shown.columns else [None] * len(shown)
        td = '<td class="num">' if column in numeric else "<td>"
        cells.append([f"{td}{fmt(v)}</td>" for v in values])
    body = "".join(f"<tr>{''.join(row)}</tr>" for row in zip(*cells, strict=True))
    if total:
        body += (
            '<tr class="total">'
            + "".join(
                f'<td class="num">{total.get(c, "")}</td>'
                if c in numeric
                else f"<td>{total.get(c, '')}</td>"
                for c in columns
            )
            + "</tr>"
        )
    more = ""
    if limit is not None and len(frame) > limit:
        rest = len(frame) - limit
        words = ngettext(
            "{count} more row in the spreadsheet version of this report.",
            "{count} more rows in the spreadsheet version of this report.",
            rest,
        ).format(count=fmt_number(rest))
        more = f'<p class="note">{escape(words)}</p>'
    cls = f' class="{css_class}"' if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _element(tag: str, text: str, attributes: str = "") -> str:
    """``<tag attributes>text</tag>`` with ``text`` escaped (``attributes`` written as given)."""
    opening = f"{tag} {attributes}" if attributes else tag
    return f"<{opening}>{escape(text)}</{tag}>"


def _empty_note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


# --- geometry ------------------------------------------------------------------------------


def _keys(frame: pd.DataFrame) -> pd.Series:
    return frame[S.ORG].astype(str) + "\x1f" + frame[S.WORK_ID].astype(str)


def _works(data: ReportData) -> gpd.GeoDataFrame:
    works = data.works
    if works.crs is None and len(works):
        raise InputError("report data: the works have no CRS; the maps need one")
    return ensure_metric(works) if len(works) else works


def _geoms_of(frame: pd.DataFrame, works: gpd.GeoDataFrame) -> np.ndarray:
    """Geometries of ``frame``'s rows: their own when they have one, else their work's."""
    if isinstance(frame, gpd.GeoDataFrame) and frame.active_geometry_name is not None:
        own = frame.to_crs(works.crs) if works.crs is not None and frame.crs is not None else frame
        return np.asarray(own.geometry.to_numpy(), dtype=object)
    if not len(frame) or not len(works):
        return np.full(len(frame), None, dtype=object)
    lookup = pd.Series(works.geometry.to_numpy(), index=_keys(works))
    lookup = lookup[~lookup.index.duplicated()]
    found = np.array(lookup.reindex(_keys(frame)).to_numpy(), dtype=object)
    found[pd.isna(found)] = None  # a work gone from the current plans has no geometry here
    return found


def _moratoria_geoms(data: ReportData, works: gpd.GeoDataFrame) -> np.ndarray:
    mor = data.moratoria
    if isinstance(mor, gpd.GeoDataFrame) and mor.active_geometry_name is not None:
        return _geoms_of(mor, works)
    renamed = mor.rename(columns={"source_org": S.ORG, "source_work_id": S.WORK_ID})
    return _geoms_of(renamed, works)


# --- sections ------------------------------------------------------------------------------


def _header(data: ReportData, kind: str) -> str:
    info = data.info
    area = f" — {escape(info.area)}" if info.area else ""
    title = _("{report}: planning cycle {year}").format(report=_(TITLES[kind]), year=info.year)
    lines = [f"<h1>{escape(title)}{area}</h1>"]
    years = ", ".join(str(y) for y in info.carried_from)
    if info.revision is None:
        lines.append(_element("p", _("No programme adopted for this cycle yet."), 'class="meta"'))
        if years:
            monitored = _("Monitoring the programme adopted in {year}.").format(year=years)
            lines.append(_element("p", monitored, 'class="meta"'))
    else:
        revision = _("Adopted programme, revision {revision}").format(revision=info.revision)
        decision = f": {escape(info.decision)}" if info.decision else ""
        decided = (
            escape(" " + _("of {date}").format(date=fmt_date(info.decision_date)))
            if info.decision_date
            else ""
        )
        lines.append(f'<p class="meta">{escape(revision)}{decision}{decided}.</p>')
        if years:
            also = _("Works still running from the programme adopted in {year} are monitored too.")
            lines.append(_element("p", also.format(year=years), 'class="meta"'))
    sentences = [_("State as of {date}.").format(date=fmt_date(info.as_of))]
    if info.previous_year is not None and kind == "council":
        sentences.append(
            _("Changes counted since the {year} cycle.").format(year=info.previous_year)
        )
    if info.full_revision:
        sentences.append(_("This cycle is a full revision: every plan is re-submitted."))
    lines.append(f'<p class="meta">{escape(" ".join(sentences))}</p>')
    return "".join(lines)


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f'<span><i style="background:{escape(colour)}"></i>{escape(label)}</span>'
        for label, colour in entries
    )
    return f'<p class="legend">{items}</p>'


def _project_state(data: ReportData) -> pd.Series:
    projects = data.projects.drop_duplicates("project")
    return pd.Series(projects["rag"].to_numpy(), index=projects["project"].astype(str))


def _overview_map(data: ReportData, works: gpd.GeoDataFrame) -> str:
    prog_geoms = _geoms_of(data.programme, works)
    mor_geoms = _moratoria_geoms(data, works)
    everything = np.concatenate(
        [np.asarray(works.geometry.to_numpy(), dtype=object), prog_geoms, mor_geoms]
    )
    if not len(everything) or shapely.is_missing(everything).all():
        return _empty_note(_("No works to draw."))
    layers = [svg.Layer(works.geometry.to_numpy(), svg.CONTEXT_COLOUR, 1.0, title=_("works"))]
    legend = [(_("current works"), svg.CONTEXT_COLOUR)]
    if len(mor_geoms):
        layers.append(
            svg.Layer(mor_geoms, svg.MORATORIUM_COLOUR, 3.0, dash="6 3", css_class="moratoria")
        )
        legend.append((_("moratorium (protected new surface)"), svg.MORATORIUM_COLOUR))
    project = data.programme["project"].astype("string").reset_index(drop=True)
    combined = project.notna().to_numpy()
    state = project.map(_project_state(data)).fillna("").astype(str).str.lower().to_numpy()
    if (~combined).any():
        layers.append(
            svg.Layer(prog_geoms[~combined], svg.SOLO_COLOUR, 2.0, css_class="programme solo")
        )
        legend.append((_("programme work on its own"), svg.SOLO_COLOUR))
    for key in (*RAG, ""):
        mask = combined & ((state == key) if key else ~np.isin(state, RAG))
        if mask.any():
            colour = svg.rag_colour(key)
            layers.append(svg.Layer(prog_geoms[mask], colour, 3.5, css_class="programme"))
            state_words = say(key) if key else _("no state")
            legend.append((_("combined project: {state}").format(state=state_words), colour))
    labels = []
    if combined.any():
        centre = shapely.centroid(prog_geoms[combined])
        xy = pd.DataFrame(
            {
                "project": project[combined].astype(str).to_numpy(),
                "x": shapely.get_x(centre),
                "y": shapely.get_y(centre),
            }
        ).dropna()
        # one label per combined project (a council-sized list)
        for name, row in xy.groupby("project", sort=True)[["x", "y"]].mean().iterrows():
            labels.append(svg.Label(float(row["x"]), float(row["y"]), str(name)))
    drawing = svg.map_svg(
        layers,
        bounds=svg.padded_bounds(everything),
        labels=labels,
        title=_("Overview map, planning cycle {year}").format(year=data.info.year),
    )
    return drawing + _legend(legend)


#: Decimals of a KPI by its unit (the cycle library's ``unit`` column); a share is a percentage.
_UNIT_DECIMALS: dict[str, int] = {"EUR": 0, "days": 0, "conflicts": 0, "works": 0}


def _kpi_number(value: object, unit: object) -> str:
    """A KPI value or target in its unit: shares as percentages, counts and euros whole."""
    unit = "" if unit is None or (isinstance(unit, float) and math.isnan(unit)) else str(unit)
    if unit == "share":
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return _text(value)
        return "" if math.isnan(number) else escape(f"{fmt_number(number * 100)} %")
    text = _number(value, _UNIT_DECIMALS.get(unit, 2))
    if not text or unit not in ("EUR", "days"):
        return text
    return _money(value) if unit == "EUR" else escape(fmt_days(round(float(value))))  # type: ignore[arg-type]


def _kpis(data: ReportData) -> str:
    if data.kpis.empty:
        return _empty_note(_("No KPIs for this cycle."))
    kpis = pd.DataFrame(data.kpis).reset_index(drop=True)
    units = kpis["unit"] if "unit" in kpis.columns else pd.Series([None] * len(kpis))
    # the unit decides how a number reads; formatted here, escaped by _kpi_number
    shown = kpis.assign(
        target=[_kpi_number(v, u) for v, u in zip(kpis["target"], units, strict=True)],
        value=[_kpi_number(v, u) for v, u in zip(kpis["value"], units, strict=True)],
    )
    return _table(
        shown,
        ["kpi", "target", "value", "state"],
        numeric=["target", "value"],
        formats={"kpi": lambda k: escape(label(k)), "target": str, "value": str, "state": _rag},
        css_class="kpis",
        limit=None,
    )


def _conflicts(data: ReportData) -> str:
    conflicts = data.conflicts
    if conflicts.empty:
        return _empty_note(_("No conflicts between organisations at adoption or now."))
    counts = (
        pd.crosstab(conflicts["kind"], conflicts["status"])
        .reindex(columns=list(CONFLICT_STATUSES), fill_value=0)
        .reset_index()
    )
    counts["total"] = counts[list(CONFLICT_STATUSES)].sum(axis=1)
    summary = _table(
        counts,
        ["kind", *CONFLICT_STATUSES, "total"],
        headers=[label("kind"), *(say(c, CONFLICT_STATES) for c in CONFLICT_STATUSES), _("total")],
        numeric=[*CONFLICT_STATUSES, "total"],
        formats={"kind": _words("kind")},
        total={
            "kind": escape(_("all")),
            **{c: _count(counts[c].sum()) for c in (*CONFLICT_STATUSES, "total")},
        },
        limit=None,
    )
    # synergies are opportunities, not conflicts: the list names what still needs a decision
    pending = conflicts[
        (conflicts["status"] != "resolved") & conflicts["kind"].isin(["clash", "moratorium"])
    ].sort_values(["status", "kind"])
    detail = ""
    if len(pending):
        heading = escape(_("Clashes and moratorium conflicts still open or new"))
        detail = f"<h3>{heading}</h3>" + _table(
            pending,
            ["org_a", "work_id_a", "org_b", "work_id_b", "kind", "status"],
            formats={
                "kind": _words("kind"),
                "status": lambda s: escape(say(str(s), CONFLICT_STATES)),
            },
        )
    return summary + detail


def _members(data: ReportData) -> pd.DataFrame:
    """The programme rows with their work's title and discipline, and their reported status."""
    prog = pd.DataFrame(data.programme).reset_index(drop=True)
    if S.GEOMETRY in prog.columns:
        prog = prog.drop(columns=S.GEOMETRY)
    for column in (S.TITLE, S.DISCIPLINE):
        if column not in prog.columns:
            if len(data.works) and column in data.works.columns:
                lookup = pd.Series(data.works[column].to_numpy(), index=_keys(data.works))
                lookup = lookup[~lookup.index.duplicated()]
                prog[column] = lookup.reindex(_keys(prog)).to_numpy() if len(prog) else []
            else:
                prog[column] = None
    reported = data.progress.drop_duplicates([S.ORG, S.WORK_ID])
    status = pd.Series(reported["status"].to_numpy(), index=_keys(reported))
    prog["reported"] = status.reindex(_keys(prog)).to_numpy() if len(prog) else []
    return prog


def _span(programme: pd.DataFrame) -> tuple[dt.date, dt.date] | None:
    starts = pd.to_datetime(programme["start"], errors="coerce")
    ends = pd.to_datetime(programme["end"], errors="coerce")
    if starts.isna().all() or ends.isna().all():
        return None
    return starts.min().date(), ends.max().date()


def _days(values: pd.Series) -> pd.Series:
    """Days as the language writes them, each distinct day formatted once; missing as empty."""
    stamps = pd.to_datetime(values, errors="coerce")
    distinct = stamps.dropna().unique()
    words = pd.Series([fmt_date(d) for d in distinct], index=distinct, dtype=object)
    return pd.Series(stamps.map(words).fillna("").astype(str).to_numpy(), index=values.index)


def _gantt(data: ReportData) -> str:
    prog = pd.DataFrame(data.programme).reset_index(drop=True)
    span = _span(prog) if len(prog) else None
    if span is None:
        return _empty_note(_("No programme adopted for this cycle."))
    project = prog["project"].astype("string")
    combined = project.notna().to_numpy()
    state = project.map(_project_state(data)).astype(object).where(combined, None)
    colours = np.where(combined, state.map(svg.rag_colour).to_numpy(), svg.SOLO_COLOUR)
    work = prog["work_id"].astype(str)
    start = pd.to_datetime(prog["start"], errors="coerce")
    end = pd.to_datetime(prog["end"], errors="coerce")
    period = _days(start) + " – " + _days(end)
    actual = data.progress.drop_duplicates([S.ORG, S.WORK_ID])
    actual = actual.set_index(_keys(actual)) if len(actual) else actual
    keys = _keys(prog)
    bars = pd.DataFrame(
        {
            "org": prog["org"].astype(str),
            "label": np.where(combined, work + " (" + project.fillna("") + ")", work),
            "start": start,
            "end": end,
            "colour": colours,
            "tooltip": np.where(
                combined,
                work + ", " + _("project") + " " + project.fillna("") + ": " + period,
                work + " (" + _("on its own") + "): " + period,
            ),
            "actual_start": pd.to_datetime(
                actual["actual_start"].reindex(keys).to_numpy() if len(actual) else pd.NaT,
                errors="coerce",
            ),
            "actual_end": pd.to_datetime(
                actual["actual_end"].reindex(keys).to_numpy() if len(actual) else pd.NaT,
                errors="coerce",
            ),
            "_project": project.fillna("\uffff"),
        }
    )
    bars = bars[bars["start"].notna() & bars["end"].notna()]
    out = []
    # one chart per organisation (a handful of organisations by definition)
    for org, rows in bars.sort_values(["org", "start", "_project", "label"]).groupby(
        "org", sort=True
    ):
        out.append(
            f"<h3>{escape(str(org))}</h3>"
            + svg.gantt_svg(
                rows.loc[:, list(svg.BAR_COLUMNS)],
                span=span,
                today=data.info.as_of,
                title=_("Programme of {org}").format(org=org),
            )
        )
    legend = _legend(
        [(_("project {state}").format(state=say(k)), svg.rag_colour(k)) for k in RAG]
        + [(_("on its own (not combined)"), svg.SOLO_COLOUR)]
        + [(_("actual period (reported)"), "#222"), (_("today"), "#d7191c")]
    )
    return legend + "".join(out)


def _financing(data: ReportData) -> str:
    fin = data.financing
    if fin.empty:
        return _empty_note(_("No programme costs to show."))
    years = sorted({int(y) for y in fin["funding_year"].dropna()})
    no_year = _("no year")
    fin = fin.assign(
        year=fin["funding_year"].map(lambda y: str(int(y)) if pd.notna(y) else no_year)
    )
    table = fin.pivot_table(
        index="org", columns="year", values="cost_share_eur", aggfunc="sum", dropna=False
    )
    order = [str(y) for y in years] + ([no_year] if no_year in table.columns else [])
    table = table.reindex(columns=order)
    table["total"] = table.sum(axis=1, min_count=1)
    table = table.reset_index()
    total = {c: _money(table[c].sum(min_count=1)) for c in [*order, "total"]}
    total["org"] = escape(_("all organisations"))
    return _table(
        table,
        ["org", *order, "total"],
        headers=[label("org"), *order, _("total")],
        numeric=[*order, "total"],
        formats={c: _money for c in [*order, "total"]},
        total=total,
        limit=None,
    )


def _changes(data: ReportData) -> str:
    changes = data.changes
    if data.info.previous_year is None and changes.empty:
        return _empty_note(_("No earlier cycle to compare with."))
    if changes.empty:
        return _empty_note(_("No works added, dropped or moved since the previous cycle."))
    kinds = sorted(changes["change"].astype(str).unique())
    counts = pd.crosstab(changes["org"], changes["change"].astype(str)).reindex(
        columns=kinds, fill_value=0
    )
    counts = counts.reset_index()
    summary = _table(
        counts,
        ["org", *kinds],
        headers=[label("org"), *(say(k) for k in kinds)],
        numeric=kinds,
        total={"org": escape(_("all")), **{k: _count(counts[k].sum()) for k in kinds}},
        limit=None,
    )
    detail = _table(
        changes.sort_values(["org", "change", "work_id"]),
        ["org", "work_id", "change", "days_moved"],
        numeric=["days_moved"],
        formats={"change": _vocabulary},
    )
    return summary + _element("h3", _("Works")) + detail


def _sheet_map(members: pd.DataFrame, geoms: np.ndarray, works: gpd.GeoDataFrame) -> str:
    present = ~shapely.is_missing(geoms)
    if not present.any():
        return _empty_note(_("No geometry for this project's works."))
    bounds = svg.padded_bounds(geoms[present], pad=0.25, min_size=150.0)
    nearby = works.geometry.to_numpy()
    if len(works):
        nearby = nearby[works.sindex.query(shapely.box(*bounds), predicate="intersects")]
    layers = [svg.Layer(nearby, svg.CONTEXT_COLOUR, 1.0)]
    disciplines = members[S.DISCIPLINE].fillna(S.DEFAULT_DISCIPLINE).astype(str).to_numpy()
    kinds = sorted(set(disciplines))
    for i, discipline in enumerate(kinds):
        colour = DISCIPLINE_COLOURS.get(discipline, DISCIPLINE_COLOURS["other"])
        # works in one trench lie on one line: each drawn narrower than the one below it
        width = 3.0 + 2.5 * (len(kinds) - 1 - i)
        title = value_name(S.DISCIPLINE, discipline)
        layers.append(svg.Layer(geoms[disciplines == discipline], colour, width, title=title))
    points = shapely.point_on_surface(geoms[present])
    labels = [
        svg.Label(float(x), float(y), str(order))
        for x, y, order in zip(
            shapely.get_x(points),
            shapely.get_y(points),
            members.loc[present, "order"].tolist(),
            strict=True,
        )
    ]
    return svg.map_svg(
        layers, bounds=bounds, labels=labels, width=440, max_height=340, css_class="map sheet-map"
    ) + _legend(
        [
            (value_name(S.DISCIPLINE, d), DISCIPLINE_COLOURS.get(d, DISCIPLINE_COLOURS["other"]))
            for d in kinds
        ]
    )


_MEMBER_COLUMNS = (
    "order", "org", "work_id", S.TITLE, S.DISCIPLINE, "start", "end", "cost_eur",
    "cost_share_eur", "funding_year", "reported",
)  # fmt: skip
_MEMBER_HEADERS = (
    N_("Order of execution"), N_("Organisation"), N_("Work"), N_("Title"), N_("Discipline"),
    N_("Start"), N_("End"), N_("Estimated cost"), N_("Cost share"), N_("Funding year"),
    N_("Reported status"),
)  # fmt: skip


def _splits(members: pd.DataFrame) -> pd.DataFrame:
    """Per project and organisation: the cost share and the funding years (one pass)."""
    grouped = members.groupby(["_project", "org"], sort=True)
    shares = grouped["cost_share_eur"].sum(min_count=1)
    years = (
        members.dropna(subset=["funding_year"])
        .assign(_year=lambda f: f["funding_year"].astype("int64").astype(str))
        .drop_duplicates(["_project", "org", "_year"])
        .sort_values("_year")
        .groupby(["_project", "org"], sort=True)["_year"]
        .agg(", ".join)
    )
    out = shares.to_frame().join(years.rename("funding_year")).reset_index()
    out["funding_year"] = out["funding_year"].fillna("")
    return out


def _facts(info: pd.Series | None, rows: pd.DataFrame) -> str:
    period = lead = reason = ""
    state = _rag("")
    if info is not None:
        period = f"{_text(info['joint_start'])} – {_text(info['joint_end'])}"
        lead, reason, state = _text(info["lead_org"]), _reason(info["reason"]), _rag(info["rag"])
    separately = rows["cost_eur"].sum(min_count=1)
    combined = rows["cost_share_eur"].sum(min_count=1)
    parts = []
    if pd.notna(separately):
        parts.append(_("{amount} separately").format(amount=fmt_money(separately)))
    if pd.notna(combined):
        parts.append(_("{amount} combined").format(amount=fmt_money(combined)))
    cost = escape(", ".join(parts) if parts else _("not estimated"))
    n_works, n_orgs = len(rows), int(rows["org"].nunique())
    members = (
        ngettext("{count} work", "{count} works", n_works).format(count=fmt_number(n_works))
        + " "
        + ngettext("of {count} organisation", "of {count} organisations", n_orgs).format(
            count=fmt_number(n_orgs)
        )
    )
    facts = [
        (_("Lead organisation"), lead),
        (_("Members"), escape(members)),
        (_("Joint period"), period),
        (_("Cost"), cost),
        (_("Status"), state),
        (_("Reason"), reason),
    ]
    return "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in facts)


def _measure_sheets(data: ReportData, works: gpd.GeoDataFrame) -> str:
    members = _members(data)
    geoms = _geoms_of(data.programme, works)
    members["_pos"] = np.arange(len(members))
    members["_project"] = members["project"].astype("string")
    members = members[members["_project"].notna()]
    if members.empty:
        return ""
    members = members.sort_values(["_project", "order", "org", "work_id"])
    splits = dict(tuple(_splits(members).groupby("_project", sort=False)))
    unique = data.projects.drop_duplicates("project")
    projects = unique.set_index(unique["project"].astype(str))
    out = []
    # one sheet per combined project (a council-sized list by definition)
    for project, rows in members.groupby("_project", sort=True):
        project = str(project)
        info = projects.loc[project] if project in projects.index else None
        split = splits[project]
        drawing = _sheet_map(rows, geoms[rows["_pos"].to_numpy()], works)
        heading = _("Measure sheet: project {project}").format(project=project)
        out.append(
            f'<section class="sheet" id="project-{escape(project)}">'
            + _element("h2", heading)
            + f'<div class="sheet-head"><div>{drawing}</div>'
            f'<div><table class="facts">{_facts(info, rows)}</table></div></div>'
            + _element("h3", _("Members in execution order"))
            + _table(
                rows,
                _MEMBER_COLUMNS,
                headers=[_(h) for h in _MEMBER_HEADERS],
                numeric=["order", "cost_eur", "cost_share_eur"],
                formats={
                    "funding_year": _year,
                    "cost_eur": _money,
                    "cost_share_eur": _money,
                    S.DISCIPLINE: _words(S.DISCIPLINE),
                    "reported": _words(S.STATUS),
                },
                limit=None,
            )
            + _element("h3", _("Cost split"))
            + _table(
                split,
                ["org", "cost_share_eur", "funding_year"],
                headers=[_("Organisation"), _("Cost share"), _("Funding years")],
                numeric=["cost_share_eur"],
                formats={"cost_share_eur": _money},
                total={
                    "org": escape(_("project")),
                    "cost_share_eur": _money(split["cost_share_eur"].sum(min_count=1)),
                },
                limit=None,
            )
            + "</section>"
        )
    return "".join(out)


def _year(value: object) -> str:
    try:
        return str(int(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _text(value)


def _projects(data: ReportData) -> str:
    if data.projects.empty:
        return _empty_note(_("No combined projects in the adopted programme."))
    members = _members(data)
    size = members.groupby(members["project"].astype(str)).size()
    rank = {k: i for i, k in enumerate(RAG)}
    table = data.projects.assign(
        n_works=data.projects["project"].astype(str).map(size).fillna(0).astype(int),
        _rank=data.projects["rag"].astype(str).str.lower().map(rank).fillna(len(RAG)),
    ).sort_values(["_rank", "project"])
    return _table(
        table,
        ["project", "lead_org", "joint_start", "joint_end", "n_works", "rag", "reason"],
        numeric=["n_works"],
        formats={"rag": _rag, "reason": _reason},
        limit=None,
    )


def _deviations(data: ReportData) -> str:
    dev = data.deviations
    if dev.empty:
        return _empty_note(_("No deviations from the adopted programme."))
    counts = dev.groupby("deviation").size().rename("works").reset_index()
    formats = {"deviation": _vocabulary}
    return _table(
        counts, ["deviation", "works"], numeric=["works"], formats=formats, limit=None
    ) + _table(
        dev.sort_values(["org", "project", "work_id"]),
        ["org", "work_id", "project", "deviation", "days"],
        numeric=["days"],
        formats=formats,
    )


def _awaiting(data: ReportData) -> str:
    waiting = data.awaiting
    if waiting.empty:
        return _empty_note(_("Every programme work's plan holds the adopted dates or deviates."))
    note = _empty_note(
        _(
            "Not deviations: these organisations' current plans still hold the dates the "
            "programme was adopted from. Each clears when its organisation imports the adopted "
            "dates."
        )
    )
    return note + _table(
        waiting.sort_values(["org", "work_id"]),
        ["org", "work_id", "project", "start", "end", "adopted_start", "adopted_end", "days"],
        numeric=["days"],
    )


def _progress(data: ReportData) -> str:
    members = _members(data)
    if members.empty:
        return _empty_note(_("No programme works to report progress on."))
    reported = members["reported"].fillna("not reported").astype(str)
    table = pd.crosstab(members["org"], reported)
    order = [s for s in (*S.STATUSES, "not reported") if s in table.columns]
    table = table.reindex(columns=order, fill_value=0)
    table["works"] = table.sum(axis=1)
    table = table.reset_index()
    return _table(
        table,
        ["org", *order, "works"],
        headers=[
            label("org"),
            *(value_name(S.STATUS, s) if s in S.STATUSES else say(s) for s in order),
            _("programme works"),
        ],
        numeric=[*order, "works"],
        total={"org": escape(_("all")), **{c: _count(table[c].sum()) for c in [*order, "works"]}},
        limit=None,
    )


#: Sections of each kind of report: heading and the function that writes its body.
SECTIONS: dict[str, tuple[tuple[str, Callable[[ReportData, gpd.GeoDataFrame], str]], ...]] = {
    "council": (
        (N_("Overview map"), _overview_map),
        (N_("KPIs against targets"), lambda data, works: _kpis(data)),
        (N_("Conflicts found and resolved since adoption"), lambda data, works: _conflicts(data)),
        (N_("Combined projects"), lambda data, works: _projects(data)),
        (N_("The adopted programme per organisation"), lambda data, works: _gantt(data)),
        (N_("Cost and financing per organisation and year"), lambda data, works: _financing(data)),
        (N_("Changes since the previous cycle"), lambda data, works: _changes(data)),
    ),
    "status": (
        (N_("State of the combined projects"), lambda data, works: _projects(data)),
        (N_("Progress reported"), lambda data, works: _progress(data)),
        (N_("Deviations from the adopted programme"), lambda data, works: _deviations(data)),
        (
            N_("Plans not yet updated to the adopted dates"),
            lambda data, works: _awaiting(data),
        ),
        (N_("The programme and what was reported"), lambda data, works: _gantt(data)),
    ),
}


def render_html(data: ReportData, kind: str = "council", *, lang: str | None = None) -> str:
    """The report as one self-contained HTML document, in a language.

    Parameters
    ----------
    data
        What the report shows.
    kind
        ``council``: the yearly council pack (overview map, KPIs against
        targets, conflicts resolved, the programme as a Gantt chart per
        organisation, cost and financing, changes since the previous cycle,
        one measure sheet per combined project). ``status``: the six-monthly
        status report (state per project, progress, deviations).
    lang
        The language of every heading, label, number and date (``en``, ``nl``,
        ``de``...); default the language in use (:func:`ims_geo.i18n.language`).
        Values from users (titles, organisation names) are shown as they are.

    Returns
    -------
    str
        The HTML text (UTF-8); it references nothing outside itself.

    Raises
    ------
    InputError
        Unknown kind or language.
    """
    if kind not in KINDS:
        raise InputError(f"unknown report kind {kind!r}; use one of {', '.join(KINDS)}")
    with speaking(lang):
        return _document(data, kind)


def _document(data: ReportData, kind: str) -> str:
    """:func:`render_html` in the language in use."""
    works = _works(data)
    title = f"{_(TITLES[kind])} {data.info.year}"
    parts = [_header(data, kind)]
    for heading, body in SECTIONS[kind]:
        parts += [f"<h2>{escape(_(heading))}</h2>", body(data, works)]
    if kind == "council":
        parts.append(_measure_sheets(data, works))
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(language())}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )
