"""Pieces several pages share: filters, the map component, downloads, error boxes."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import folium
import pandas as pd
import streamlit as st
from babel import dates as babel_dates
from babel import numbers
from branca.element import MacroElement
from jinja2 import Template
from streamlit_folium import st_folium

from ims_geo import export, i18n, maps
from ims_geo.conflicts.rules import Rules
from ims_geo.errors import ImsGeoError
from ims_geo.i18n import N_, _, messages, ngettext
from ims_geo.i18n.headers import HEADED_FORMATS, headed
from ims_geo.i18n.labels import label
from ims_geo.ingest import IngestResult
from ims_geo.schema import COLUMNS, ENUMS, EXCAVATION, GEOMETRY, REASON, SOURCE_FILE, SOURCE_ROW

MAP_HEIGHT = 560
#: What a map click returns to the script; panning and zooming return nothing (no rerun).
CLICK = ("last_object_clicked", "last_object_clicked_tooltip")
DOWNLOADS = {
    "csv": N_("CSV"),
    "xlsx": N_("Excel"),
    "geojson": N_("GeoJSON"),
    "gpkg": N_("GeoPackage"),
}


# Markdown, Streamlit directives (":red[...]", ":material/x:") and LaTeX ("$")
_MARKDOWN = re.compile(r"([\\`*_~\[\]()!<>:$|#])")


def literal(text: object) -> str:
    """``text`` (an organisation, a title, an id) for st.markdown / st.subheader:
    shown as the characters it holds, never as links, images, emphasis or markup."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def show_error(error: object) -> None:
    """A library error (English) as a message box in the language in use, its values as text."""
    st.error(messages.translate(str(error), escape=literal), icon=":material/error:")


def refused(action: str, what: str, into: Any = st) -> bool:
    """Whether this session may not ``action``; if so, a caption says why, in ``into``.

    A signed-in user whose role may not do ``what`` (English marked with ``N_()``) reads why a
    control is missing or greyed out, instead of meeting one that does nothing.
    """
    from ims_geo.ui import state

    text = state.refusal(action, what)
    if text is not None:
        into.caption(f":material/lock: {literal(text)}")
    return text is not None


@contextlib.contextmanager
def user_errors(reading: str | None = None) -> Iterator[None]:
    """Show an ims_geo error as a message box and stop the page (no traceback).

    With ``reading`` (a file name), any other error is shown too: a file a
    user uploads must never produce a traceback, whatever is in it.
    """
    try:
        yield
    except ImsGeoError as error:
        # the library writes English; known messages are shown in the session's language
        show_error(error)
        st.stop()
    except Exception as error:
        if reading is None:
            raise
        st.error(
            _(
                "{file} could not be read ({error}); check that it is a valid file of one of "
                "the supported formats."
            ).format(file=reading, error=f"{type(error).__name__}: {error}"),
            icon=":material/error:",
        )
        st.stop()


def require_works(works: pd.DataFrame) -> None:
    """Stop the page with a hint when the store holds no works yet."""
    if works.empty:
        st.info(
            _(
                "The store holds no works yet. Upload an organisation's plan on the "
                "**Upload** page, or load the demo with `ims-geo demo`."
            ),
            icon=":material/info:",
        )
        st.stop()


def choose(
    label: str,
    options: Sequence[str],
    *,
    key: str,
    default: Sequence[str] | None = None,
    help: str | None = None,
    format_func: Callable[[Any], str] = str,
) -> tuple[str, ...]:
    """A multiselect that starts with every option (or ``default``) chosen.

    ``label`` and ``help`` are shown as given (translate them with ``_()``);
    ``format_func`` shows an option in words (default: as it is).
    """
    start = list(options) if default is None else list(default)
    return tuple(
        st.multiselect(
            label, list(options), default=start, key=key, help=help, format_func=format_func
        )
    )


def month_name(month: pd.Timestamp) -> str:
    """A month as the language in use writes it (``Mar 2031``, ``mrt 2031``, ``März 2031``)."""
    return babel_dates.format_date(month, format="MMM y", locale=_cldr_locale())


def period(works: pd.DataFrame, *, key: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """A month range slider over the works' plan period; returns its first and last day."""
    months = maps.months(works)
    if len(months) == 1:
        return months[0], maps.month_end(months[0])
    first, last = st.select_slider(
        _("Period"),
        options=months,
        value=(months[0], months[-1]),
        format_func=month_name,
        key=key,
        help=_("Show what is planned at some time in these months."),
    )
    return first, maps.month_end(last)


class _Focus(MacroElement):
    """Set a map's view after the browser has drawn it (a child of the highlight group)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(map) {
            // again once the frame has its size and the map its first fit (a second later)
            var focus = function() { map.setView({{ this.centre|tojson }}, {{ this.zoom }}); };
            setTimeout(focus, 0);
            setTimeout(focus, 1000);
        })({{ this._parent._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, centre: Sequence[float], zoom: int):
        super().__init__()
        self._name = "ImsFocus"
        self.centre = [float(centre[0]), float(centre[1])]
        self.zoom = int(zoom)


def show_map(
    fmap: folium.Map,
    *,
    key: str,
    returned: Iterable[str] = CLICK,
    height: int = MAP_HEIGHT,
    **kwargs: Any,
) -> dict[str, Any]:
    """Draw a folium map; only a click (not a pan or zoom) reruns the page.

    With ``center`` and ``zoom`` and a ``feature_group_to_add`` (a highlight),
    the view is set again once the browser has drawn the map: on a map's first
    drawing (a page opened by a link) st_folium's own view is undone by the
    map's fit to its layers.
    """
    group = kwargs.get("feature_group_to_add")
    if isinstance(group, folium.FeatureGroup) and kwargs.get("zoom") and kwargs.get("center"):
        _Focus(kwargs["center"], int(kwargs["zoom"])).add_to(group)
    result = st_folium(
        fmap,
        key=key,
        height=height,
        use_container_width=True,
        returned_objects=list(returned),
        **kwargs,
    )
    return result or {}


def map_caption(layer: maps.MapData, what: str, *, total: int | None = None) -> None:
    """How much is drawn (of how many), and whether the light representation was used."""
    text = _("{n} {what} drawn").format(n=i18n.fmt_number(layer.count), what=what)
    if total is not None and total > layer.count:
        text += " " + _("(the {n} highest scores of {total}; filter to see others)").format(
            n=i18n.fmt_number(layer.count), total=i18n.fmt_number(total)
        )
    text += " · " + _("{size} MB").format(size=i18n.fmt_number(layer.size / 1e6, decimals=1))
    if layer.light:
        text += " · " + _("simplified for speed (filter for full detail)")
    st.caption(text)


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame for st.dataframe: no geometry, dates without a time of day.

    Values stay what they are (numbers stay numbers, so a column sorts as
    numbers); :func:`column_config` says how each column reads.
    """
    out = pd.DataFrame(frame.drop(columns=[GEOMETRY], errors="ignore"))
    for column in out.columns[[pd.api.types.is_datetime64_any_dtype(t) for t in out.dtypes]]:
        values = out[column].dropna()
        # a date is a date; a moment (an upload, an adoption) keeps its time of day
        if (values == values.dt.normalize()).all():
            out[column] = out[column].dt.date
    return out


# --- how a table's columns read -------------------------------------------------------------
#: Columns of whole euros (besides every ``*_eur`` column).
_EUROS = frozenset({"amount_eur"})
#: Lengths in whole metres (besides every ``*_m`` column not listed in :data:`_FINE_METRES`).
_FINE_METRES = frozenset({"distance_m", "depth_min", "depth_max", "depth_overlap"})
#: Counts of days (besides every ``*_days`` column).
_DAYS = frozenset({"days", "days_moved"})
#: Counts shown with thousands separators.
_COUNTS = frozenset({
    "works", "n_works", "n_rejected", "rejected", "n_members", "resurfacing_avoided_n",
    "projects", "pairs", "clusters",
})  # fmt: skip
_CLDR_TOKENS = re.compile(r"y+|M+|d+|'[^']*'|[^yMd']+")


def _cldr_locale() -> str:
    return "en_GB" if i18n.language() == i18n.DEFAULT_LANGUAGE else i18n.language()


#: How a date is typed in each language (the formats st.date_input offers; others: day first).
_DATE_INPUT = {"de": "DD.MM.YYYY", "nl": "DD-MM-YYYY"}


def date_input_format() -> str:
    """The ``format`` of an ``st.date_input`` in the language in use (day first but in
    Dutch and German, whose own separators it keeps)."""
    return _DATE_INPUT.get(i18n.language(), "DD/MM/YYYY")


def date_format() -> str:
    """The momentJS pattern of a date column in the language in use (``D MMM YYYY``,
    ``DD-MM-YYYY``, ``DD.MM.YYYY``): CLDR's medium date, or the short one where the
    medium one names the month (the table's browser writes month names in English only)."""
    locale = _cldr_locale()
    pattern = babel_dates.get_date_format("medium", locale=locale).pattern
    if "MMM" in pattern and not locale.startswith("en"):
        pattern = babel_dates.get_date_format("short", locale=locale).pattern
    out = []
    for token in _CLDR_TOKENS.findall(pattern):
        if token.startswith("y"):
            out.append("YYYY")
        elif token.startswith("d"):
            out.append("DD" if len(token) > 1 else "D")
        elif token.startswith("M"):
            out.append(token if len(token) <= 3 else "MMMM")
        elif token.startswith("'"):
            out.append("[" + token.strip("'") + "]")
        else:
            out.append(token)
    return "".join(out)


def number_format(kind: str) -> str:
    """The printf pattern (Streamlit's sprintf) of a number column in the language in use.

    ``kind`` is ``euros`` (whole, the language's separator and symbol place),
    ``metres`` (whole), ``fine_metres`` (one decimal), ``days``, ``count`` or
    ``score`` (two decimals).
    """
    grouping = "," if numbers.get_group_symbol(_cldr_locale()) == "," else "'.,"
    whole = f"%{grouping}.0f"
    if kind == "euros":
        sample = i18n.fmt_money(1)
        return sample.replace("1", whole, 1)
    return {
        "metres": whole,
        "fine_metres": "%.1f",
        "days": f"%{grouping}d",
        "count": f"%{grouping}d",
        "score": "%.2f",
    }[kind]


def _number_kind(column: str) -> str | None:
    if column.endswith("_eur") or column in _EUROS:
        return "euros"
    if column in _FINE_METRES:
        return "fine_metres"
    if column.endswith("_m"):
        return "metres"
    if column.endswith("_days") or column in _DAYS:
        return "days"
    if column in _COUNTS:
        return "count"
    if column == "score":
        return "score"
    return None


def _is_date(values: pd.Series) -> bool:
    if values.dtype != object:
        return False
    present = values.dropna()
    return len(present) > 0 and all(isinstance(v, dt.date) for v in present.head(20))


def column_config(frame: pd.DataFrame, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """``column_config`` for st.dataframe / st.data_editor: every column's header in words
    (:func:`ims_geo.i18n.labels.label`), dates as dates, euros with thousands separators,
    metres rounded. The values are not touched, so each column sorts by its values.

    Parameters
    ----------
    frame
        The frame as shown (after :func:`table`).
    config
        The page's own column configs; they win (a page's label is kept, and
        gets this module's format when it has none).
    """
    out: dict[str, Any] = {}
    for column in frame.columns:
        name = str(column)
        values = frame[column]
        words = label(name)
        if pd.api.types.is_bool_dtype(values):
            out[name] = st.column_config.CheckboxColumn(words)
        elif pd.api.types.is_datetime64_any_dtype(values):
            out[name] = st.column_config.DatetimeColumn(words, format=date_format() + " HH:mm")
        elif _is_date(values):
            out[name] = st.column_config.DateColumn(words, format=date_format())
        elif pd.api.types.is_numeric_dtype(values) and (kind := _number_kind(name)):
            out[name] = st.column_config.NumberColumn(words, format=number_format(kind))
        elif name in maps.VALUE_NAMES and not pd.api.types.is_numeric_dtype(values):
            # the stored code stays the value (it sorts and filters); the cell reads in words
            present = sorted({str(v) for v in values.dropna()})
            out[name] = st.column_config.SelectboxColumn(
                words, options=present, format_func=functools.partial(maps.value_name, name)
            )
        else:
            out[name] = words
    for name, own in (config or {}).items():
        base = out.get(name)
        if isinstance(own, dict) and isinstance(base, dict):
            merged = {**base, **{k: v for k, v in own.items() if v is not None}}
            if own.get("label") is None:
                merged["label"] = base.get("label")
            out[name] = merged
        elif isinstance(own, dict) and isinstance(base, str) and own.get("label") is None:
            out[name] = {**own, "label": base}  # a page's format keeps the header in words
        else:
            out[name] = own
    return out


def show_table(
    frame: pd.DataFrame,
    *,
    key: str,
    config: dict[str, Any] | None = None,
    columns: Sequence[str] | None = None,
    into: Any = None,
    **kwargs: Any,
) -> Any:
    """``st.dataframe`` of ``frame`` as people read it (see :func:`column_config`).

    ``columns`` picks and orders the columns shown; ``into`` is the container
    to draw in (default: where the page is); other keyword arguments go to
    st.dataframe (``height``, ``on_select``, ...).
    """
    shown = table(frame)
    if columns is not None:
        shown = shown[[c for c in columns if c in shown.columns]]
    kwargs.setdefault("hide_index", True)
    return (into or st).dataframe(
        shown, key=key, column_config=column_config(shown, config), **kwargs
    )


def header_language(*, key: str, default: bool) -> str | None:
    """A checkbox "Column headers in <language>" for a download's CSV and Excel files.

    Hidden in English (the canonical names are English already). Returns the
    language in use when the headers are to be in words
    (:func:`ims_geo.i18n.headers.headed`), None for the canonical names that
    ``ims-geo import`` and this app read back.

    Parameters
    ----------
    key
        Widget key.
    default
        Ticked at first: on for tables people read, off for files read back.
    """
    lang = i18n.language()
    if lang == i18n.DEFAULT_LANGUAGE:
        return None
    ticked = st.checkbox(
        _("Column headers in {language}").format(language=i18n.language_name(lang)),
        value=default,
        key=key,
        help=_(
            "Only the CSV and Excel files' column headers; the values stay as they are. "
            "Untick for the canonical column names (work_id, start_date...) that ims-geo "
            "import and this app read back."
        ),
    )
    return lang if ticked else None


#: ``downloads(..., lang=ASK)``: the download shows its own :func:`header_language` checkbox.
ASK = "ask"


def downloads(
    frame: pd.DataFrame,
    stem: str,
    *,
    key: str,
    formats: Iterable[str] = DOWNLOADS,
    lang: str | None = ASK,
    in_words: bool = True,
) -> None:
    """One download button per export format; the file is written when clicked.

    Parameters
    ----------
    frame
        The table to export, in canonical columns.
    stem
        The file name without its suffix (and the layer's name).
    key
        Widget key prefix.
    formats
        Formats offered (keys of :data:`DOWNLOADS`); GeoJSON not for an empty ``frame``.
    lang
        Headers of the CSV and Excel files in words of this language; None: the
        canonical names; :data:`ASK`: a :func:`header_language` checkbox decides.
    in_words
        The checkbox's first state (with ``lang=ASK``).
    """
    formats = list(formats)
    if frame.empty and "geojson" in formats:
        # GeoJSON holds its columns only in its features (export.py): an empty file would
        # say nothing of the table, where CSV, Excel and GeoPackage keep every column
        formats.remove("geojson")
        st.caption(
            _(
                "No GeoJSON file for an empty table: GeoJSON keeps the columns only in its "
                "features, so a file without features has no columns. The other files keep "
                "every column."
            )
        )
    if lang == ASK:
        asked = any(f in HEADED_FORMATS for f in formats)
        lang = header_language(key=f"{key}_headers", default=in_words) if asked else None
    row = st.container(horizontal=True, wrap=True)

    def writer(fmt: str) -> Callable[[], bytes]:
        words = lang is not None and fmt in HEADED_FORMATS
        return lambda: export.to_bytes(headed(frame, lang) if words else frame, fmt, layer=stem)

    for fmt in formats:
        row.download_button(
            _(DOWNLOADS[fmt]) if fmt in DOWNLOADS else fmt,
            data=writer(fmt),
            file_name=f"{stem}{export.SUFFIXES[fmt]}",
            mime=export.MEDIA_TYPES[fmt],
            key=f"{key}_{fmt}",
            icon=":material/download:",
            on_click="ignore",
        )


def unmapped_columns(result: IngestResult) -> list[str]:
    """Columns of an uploaded file that no canonical column was matched to."""
    seen = [*result.works.columns, *result.rejected.columns]
    skip = {*COLUMNS, GEOMETRY, REASON, SOURCE_ROW, SOURCE_FILE}
    return list(dict.fromkeys(c for c in seen if c not in skip))


def pick_row(
    frame: pd.DataFrame,
    *,
    key: str,
    columns: Sequence[str] | None = None,
    height: int = 320,
    config: dict[str, Any] | None = None,
) -> int | None:
    """A table where one row can be selected; returns the selected row's position."""
    event = show_table(
        frame,
        key=key,
        columns=columns,
        config=config,
        on_select="rerun",
        selection_mode="single-row",
        height=height,
    )
    rows = event.selection.rows if event is not None else []
    # a selection made before the filters changed may point past the table
    return rows[0] if rows and rows[0] < len(frame) else None


def select_row(key: str, position: int | None) -> None:
    """Select row ``position`` of the table with widget ``key`` (None: none); call it
    before the table is drawn in the run."""
    rows = [] if position is None else [int(position)]
    st.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}


def selected_rows(key: str) -> list[int]:
    """The rows selected in the table with widget ``key`` (as the last run left them)."""
    state = st.session_state.get(key)
    try:
        return [int(r) for r in state["selection"]["rows"]]  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return []


def clicked_key(returned: Mapping[str, Any] | None, field: str = maps.KEY_FIELD) -> str | None:
    """The ``field`` property (a conflict's link key) of the feature clicked on a map.

    ``st_folium`` returns the clicked feature as ``last_active_drawing``
    (GeoJSON, with the properties it was drawn with); None when nothing with
    that property was clicked. The value is untrusted: compare it with the
    store's keys only.
    """
    if not returned:
        return None
    feature = returned.get("last_active_drawing")
    if not isinstance(feature, Mapping):
        return None
    properties = feature.get("properties")
    if not isinstance(properties, Mapping):
        return None
    value = properties.get(field)
    return value if isinstance(value, str) and value else None


def view(*layers: maps.MapData) -> dict[str, Any]:
    """``st_folium`` arguments that centre and zoom the map on ``layers``."""
    bounds = maps.union_bounds(*layers)
    if bounds is None:
        return {}
    centre, zoom = maps.view_of(bounds, width=800, height=MAP_HEIGHT)
    return {"center": centre, "zoom": zoom}


def translation_editor(
    table: pd.DataFrame,
    column: str,
    *,
    given: dict[str, Any],
    proposals: bool,
    key: str,
) -> dict[str, Any]:
    """A table of a vocabulary column's raw values where the canonical value is chosen.

    Parameters
    ----------
    table
        :func:`ims_geo.ingest.suggest.value_table`: ``raw``, ``rows``, ``proposed``, ``why``.
    column
        The vocabulary column.
    given
        Translations of an uploaded mapping file (raw values casefolded).
    proposals
        Start from every proposed value (else only from known values and ``given``).
    key
        Widget key.

    Returns
    -------
    dict
        Raw value -> canonical value, for the rows that have one.
    """
    boolean = column == EXCAVATION
    options = ["true", "false"] if boolean else list(ENUMS[column][0])

    def text(value: Any) -> str | None:
        if value is None or value == "":
            return None
        return str(value).lower() if isinstance(value, bool) else str(value)

    starts = []
    for raw, proposed, why in zip(table["raw"], table["proposed"], table["why"], strict=True):
        chosen = given.get(str(raw).strip().casefold())
        if chosen is None and (proposals or why == "known value"):
            chosen = proposed
        starts.append(text(chosen))
    shown = pd.DataFrame(
        {
            "raw": table["raw"].astype(str),
            "rows": table["rows"].astype("int64"),
            "proposed": [text(p) for p in table["proposed"]],
            "canonical": pd.Series(starts, dtype=object),
        }
    )
    st.markdown(
        "**"
        + literal(column)
        + "** · "
        + ngettext("{n} value", "{n} values", len(shown)).format(n=len(shown))
    )
    edited = st.data_editor(
        shown,
        key=key,
        hide_index=True,
        disabled=["raw", "rows", "proposed"],
        width="stretch",
        column_config={
            "raw": st.column_config.TextColumn(_("value in the file")),
            "rows": st.column_config.NumberColumn(_("rows")),
            "proposed": st.column_config.TextColumn(_("proposed")),
            "canonical": st.column_config.SelectboxColumn(
                _("read as ({column})").format(column=column), options=options
            ),
        },
    )
    out: dict[str, Any] = {}
    for raw, value in zip(edited["raw"], edited["canonical"], strict=True):
        if value is None or pd.isna(value) or value == "":
            continue
        out[str(raw)] = value == "true" if boolean else str(value)
    return out


# --- works that took no part in the conflict search ---------------------------------------
_LEFT_OUT_REASONS = (
    (re.compile(r"no geometry"), N_("no geometry")),
    (re.compile(r"exempt by column (?P<column>.+)"), N_("exempt by column {column}")),
    (
        re.compile(r"status (?P<status>[a-z_]+), a finished resurfacing"),
        N_("status {status}, a finished resurfacing"),
    ),
    (re.compile(r"status (?P<status>[a-z_]+)"), N_("status {status}")),
    (re.compile(r"outside the period"), N_("outside the period")),
)
_LEFT_OUT_PARTS = {"none": N_("none"), "protects its surface only": N_("protects its surface only")}


def _left_out_reason(reason: str) -> str:
    for pattern, words in _LEFT_OUT_REASONS:
        found = pattern.fullmatch(reason)
        if found is not None:
            values = found.groupdict()
            if "status" in values:
                values["status"] = maps.value_name("status", values["status"])
            return _(words).format(**values)
    return reason  # a reason this page does not know: as the library wrote it


def left_out_words(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`ims_geo.conflicts.left_out` with its reasons and parts in the language in use."""
    out = table.copy()
    out["reason"] = [_left_out_reason(str(r)) for r in table["reason"]]
    out["part"] = [_(_LEFT_OUT_PARTS[p]) if p in _LEFT_OUT_PARTS else p for p in table["part"]]
    return out


def left_out_sentence(table: pd.DataFrame, total: int) -> str:
    """:func:`ims_geo.conflicts.describe_left_out` in the language in use."""
    if table.empty:
        return _("All {total} works took part.").format(total=i18n.fmt_number(total))
    none = table[table["part"] == "none"]

    def listed(rows: pd.DataFrame) -> str:
        return ", ".join(
            f"{i18n.fmt_number(n)} {_left_out_reason(str(r))}"
            for r, n in zip(rows["reason"], rows["works"], strict=True)
        )

    line = _("{n} of {total} works took no part").format(
        n=i18n.fmt_number(int(none["works"].sum())), total=i18n.fmt_number(total)
    )
    if len(none):
        line += ": " + listed(none)
    partly = table[table["part"] != "none"]
    if len(partly):
        line += "; " + _("only as a protected surface: {works}").format(works=listed(partly))
    return line + "."


def no_conflicts_sentence(rules: Rules) -> str:
    """What an empty answer under ``rules`` says: the distances, window and moratorium searched.

    The default distance, and the largest (or a smaller) one some discipline
    pairs have; no moratorium clause when the moratorium is 0 years (none is
    searched for).
    """
    distance = i18n.fmt_metres(rules.distance)
    if rules.max_distance > rules.distance:
        distance = _("{distance} (up to {largest} for some discipline pairs)").format(
            distance=distance, largest=i18n.fmt_metres(rules.max_distance)
        )
    elif any(metres < rules.distance for metres in rules.pair_distance.values()):
        distance = _("{distance} (less for some discipline pairs)").format(distance=distance)
    window = i18n.fmt_days(rules.window_days)
    years = float(rules.moratorium_years)
    if years <= 0:
        return _(
            "No conflicts under these rules: no two works of different organisations within "
            "{distance} of each other are planned at most {window} apart. Widen the **Rules** "
            "in the sidebar to look further."
        ).format(distance=distance, window=window)
    whole = years.is_integer()
    return ngettext(
        "No conflicts under these rules: no two works of different organisations within "
        "{distance} of each other are planned at most {window} apart, and none digs "
        "within {years} year of the other's new surface. Widen the **Rules** in the "
        "sidebar to look further.",
        "No conflicts under these rules: no two works of different organisations within "
        "{distance} of each other are planned at most {window} apart, and none digs "
        "within {years} years of the other's new surface. Widen the **Rules** in the "
        "sidebar to look further.",
        int(years) if whole else 2,
    ).format(
        distance=distance,
        window=window,
        years=i18n.fmt_number(years, decimals=0 if whole else 1),
    )


#: Columns of the conflicts listed after an upload.
CONFLICT_COLUMNS = (
    "kind", "severity", "org_a", "work_id_a", "title_a", "org_b", "work_id_b", "title_b",
    "distance_m", "gap_days",
)  # fmt: skip


def conflicts_of(orgs: Sequence[str], *, key: str) -> None:
    """The conflicts between organisations that involve ``orgs`` (e.g. just stored)."""
    from ims_geo.ui import state

    with user_errors():
        conflicts = state.conflicts()
    mine = conflicts[conflicts["org_a"].isin(orgs) | conflicts["org_b"].isin(orgs)]
    mine = mine[mine["kind"] != "internal"]
    st.subheader(_("Conflicts of the stored plans"))
    counts = mine["kind"].value_counts()
    detail = ", ".join(f"{counts[k]} {maps.value_name('kind', k)}" for k in counts.index) or _(
        "none"
    )
    pairs = mine[["org_a", "org_b"]].drop_duplicates()
    st.caption(
        _(
            "{n} conflicts ({detail}) between {pairs} pairs of organisations; "
            "see the Conflicts page for filters, the map and downloads."
        ).format(n=len(mine), detail=detail, pairs=len(pairs))
    )
    listed = export.conflict_table(mine, state.works())
    show_table(listed, key=key, columns=CONFLICT_COLUMNS)
