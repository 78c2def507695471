"""Pieces several pages share: filters, the map component, downloads, error boxes."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from ims_geo import export, maps
from ims_geo.errors import ImsGeoError
from ims_geo.ingest import IngestResult
from ims_geo.schema import COLUMNS, ENUMS, EXCAVATION, GEOMETRY, REASON, SOURCE_FILE, SOURCE_ROW

MAP_HEIGHT = 560
#: What a map click returns to the script; panning and zooming return nothing (no rerun).
CLICK = ("last_object_clicked", "last_object_clicked_tooltip")
DOWNLOADS = {"csv": "CSV", "xlsx": "Excel", "geojson": "GeoJSON", "gpkg": "GeoPackage"}


# Markdown, Streamlit directives (":red[...]", ":material/x:") and LaTeX ("$")
_MARKDOWN = re.compile(r"([\\`*_~\[\]()!<>:$|#])")


def literal(text: object) -> str:
    """``text`` (an organisation, a title, an id) for st.markdown / st.subheader:
    shown as the characters it holds, never as links, images, emphasis or markup."""
    return _MARKDOWN.sub(r"\\\1", str(text))


@contextlib.contextmanager
def user_errors(reading: str | None = None) -> Iterator[None]:
    """Show an ims_geo error as a message box and stop the page (no traceback).

    With ``reading`` (a file name), any other error is shown too: a file a
    user uploads must never produce a traceback, whatever is in it.
    """
    try:
        yield
    except ImsGeoError as error:
        st.error(str(error), icon=":material/error:")
        st.stop()
    except Exception as error:
        if reading is None:
            raise
        st.error(
            f"{reading} could not be read ({type(error).__name__}: {error}); check that it is "
            "a valid file of one of the supported formats.",
            icon=":material/error:",
        )
        st.stop()


def require_works(works: pd.DataFrame) -> None:
    """Stop the page with a hint when the store holds no works yet."""
    if works.empty:
        st.info(
            "The store holds no works yet. Upload an organisation's plan on the "
            "**Upload** page, or load the demo with `ims-geo demo`.",
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
) -> tuple[str, ...]:
    """A multiselect that starts with every option (or ``default``) chosen."""
    start = list(options) if default is None else list(default)
    return tuple(st.multiselect(label, list(options), default=start, key=key, help=help))


def period(works: pd.DataFrame, *, key: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """A month range slider over the works' plan period; returns its first and last day."""
    months = maps.months(works)
    if len(months) == 1:
        return months[0], maps.month_end(months[0])
    first, last = st.select_slider(
        "Period",
        options=months,
        value=(months[0], months[-1]),
        format_func=lambda m: m.strftime("%b %Y"),
        key=key,
        help="Show what is planned at some time in these months.",
    )
    return first, maps.month_end(last)


def show_map(
    fmap: folium.Map,
    *,
    key: str,
    returned: Iterable[str] = CLICK,
    height: int = MAP_HEIGHT,
    **kwargs: Any,
) -> dict[str, Any]:
    """Draw a folium map; only a click (not a pan or zoom) reruns the page."""
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
    text = f"{layer.count:,} {what} drawn"
    if total is not None and total > layer.count:
        text += f" (the {layer.count:,} highest scores of {total:,}; filter to see others)"
    text += f" · {layer.size / 1e6:.1f} MB"
    if layer.light:
        text += " · simplified for speed (filter for full detail)"
    st.caption(text)


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame for st.dataframe: no geometry, dates without a time of day."""
    out = pd.DataFrame(frame.drop(columns=[GEOMETRY], errors="ignore"))
    for column in out.columns[[pd.api.types.is_datetime64_any_dtype(t) for t in out.dtypes]]:
        out[column] = out[column].dt.date
    return out


def downloads(
    frame: pd.DataFrame, stem: str, *, key: str, formats: Iterable[str] = DOWNLOADS
) -> None:
    """One download button per export format; the file is written when clicked."""
    row = st.container(horizontal=True, wrap=True)
    for fmt in formats:
        row.download_button(
            DOWNLOADS.get(fmt, fmt),
            data=lambda fmt=fmt: export.to_bytes(frame, fmt, layer=stem),
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
    shown = table(frame)
    if columns is not None:
        shown = shown[[c for c in columns if c in shown.columns]]
    event = st.dataframe(
        shown,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key=key,
        height=height,
        column_config=config,
    )
    rows = event.selection.rows if event is not None else []
    # a selection made before the filters changed may point past the table
    return rows[0] if rows and rows[0] < len(frame) else None


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
        :func:`ims_geo.suggest.value_table`: ``raw``, ``rows``, ``proposed``, ``why``.
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
    st.markdown(f"**{column}** · {len(shown)} values")
    edited = st.data_editor(
        shown,
        key=key,
        hide_index=True,
        disabled=["raw", "rows", "proposed"],
        width="stretch",
        column_config={
            "raw": st.column_config.TextColumn("value in the file"),
            "rows": st.column_config.NumberColumn("rows"),
            "proposed": st.column_config.TextColumn("proposed"),
            "canonical": st.column_config.SelectboxColumn(f"read as ({column})", options=options),
        },
    )
    out: dict[str, Any] = {}
    for raw, value in zip(edited["raw"], edited["canonical"], strict=True):
        if value is None or pd.isna(value) or value == "":
            continue
        out[str(raw)] = value == "true" if boolean else str(value)
    return out


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
    st.subheader("Conflicts of the stored plans")
    counts = mine["kind"].value_counts()
    detail = ", ".join(f"{counts[k]} {k}" for k in counts.index) or "none"
    pairs = mine[["org_a", "org_b"]].drop_duplicates()
    st.caption(
        f"{len(mine)} conflicts ({detail}) between {len(pairs)} pairs of organisations; "
        "see the Conflicts page for filters, the map and downloads."
    )
    st.dataframe(
        table(mine[[c for c in CONFLICT_COLUMNS if c in mine.columns]]), hide_index=True, key=key
    )
