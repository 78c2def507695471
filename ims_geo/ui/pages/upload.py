"""Upload: read a plan (or a feed of many organisations), map its columns and values,
preview what it changes, store it as new plan versions."""

import datetime as dt
from pathlib import Path

import streamlit as st

from ims_geo import maps
from ims_geo._mapping import Mapping, dump_toml, loads_mapping, to_dict
from ims_geo._mapping import apply as apply_mapping
from ims_geo._sources import FORMATS
from ims_geo.errors import ImsGeoError, MissingCRSError
from ims_geo.ingest import Limits
from ims_geo.preview import plan_changes
from ims_geo.schema import COLUMNS, GEOMETRY, ORG, REQUIRED, VOCABULARY
from ims_geo.store import organisations_of
from ims_geo.suggest import suggest_for_frame
from ims_geo.ui import state, widgets

TYPES = [suffix.lstrip(".") for suffix in FORMATS]
NEW_ORG = "New organisation…"
FROM_FILE = "From the file (org column)"
AUTOMATIC = "(automatic)"
ENCODINGS = {"automatic": None, "UTF-8": "utf-8", "Windows-1252": "cp1252", "ISO-8859-1": "latin-1"}

st.title("Upload a plan")
st.caption(
    f"{', '.join(sorted(set(FORMATS.values())))}: the formats the command line reads. "
    "Columns are recognised by name (English, Dutch, German); map the others below, "
    "translate their values, or upload a mapping file. A file with an org column holding "
    "several organisations is stored as one plan version per organisation."
)

state.refuse_unless("write", "import plans")  # hidden from them; the database refuses too
# the same cap as the HTTP API and the reader (IMS_GEO_MAX_UPLOAD_BYTES, default 200 MiB)
MAX_MB = max(1, int(Limits().max_upload_bytes // 2**20))
upload = st.file_uploader("Works file", type=TYPES, key="upload_file", max_upload_size=MAX_MB)
mapping_file = st.file_uploader(
    "Mapping file (optional)",
    type=["toml"],
    key="upload_mapping_file",
    help="A column mapping (TOML, see data/mappings/README.md), e.g. one downloaded here "
    "last year. The choices below are made on top of it.",
)
with widgets.user_errors():
    known = sorted(state.works()[ORG].unique())
left, right = st.columns([2, 1])
me = state.identity()  # signed in to a shared store: plans of the own organisation only
choices = [me.org, FROM_FILE] if me is not None else [NEW_ORG, FROM_FILE, *known]
choice = left.selectbox("Organisation", choices, key="upload_org")
org: str | None = None
if choice == NEW_ORG:
    org = left.text_input("New organisation", key="upload_org_new").strip()
elif choice != FROM_FILE:
    org = choice
cycle = right.number_input("Cycle year", 2000, 2100, dt.date.today().year, key="upload_cycle")
with st.expander("Reading options"):
    crs = st.text_input("CRS of a file that has none", placeholder="EPSG:28992", key="upload_crs")
    encoding = st.selectbox("Text encoding", list(ENCODINGS), key="upload_encoding")

if upload is None:
    st.stop()
if upload.name.lower().endswith(".shp"):
    st.error(
        f"{upload.name}: a .shp file alone has no attributes (.dbf), index (.shx) or CRS (.prj). "
        "Put the .shp, .shx, .dbf, .prj (and .cpg) files in one .zip and upload that.",
        icon=":material/error:",
    )
    st.stop()
if choice == NEW_ORG and not org:
    st.info(
        "Which organisation's plan is this? Choose or enter the organisation, or take it "
        f"from a column of the file ({FROM_FILE})."
    )
    st.stop()

base = Mapping()
if mapping_file is not None:
    try:
        base = loads_mapping(mapping_file.getvalue().decode("utf-8", "replace"), mapping_file.name)
    except ImsGeoError as error:  # read without it; the mapping can be built below instead
        st.error(f"{error} It is not used.", icon=":material/error:")
text_encoding = ENCODINGS[encoding] or base.encoding
with widgets.user_errors(reading=upload.name):
    layers = state.upload_layers(upload)
layer = st.selectbox("Layer", layers, key="upload_layer") if len(layers) > 1 else None
with widgets.user_errors(reading=upload.name):
    raw, text_geometry = state.upload_frame(upload, layer=layer, encoding=text_encoding)
native = raw.geometry.name if hasattr(raw, "geometry") and not text_geometry else None
source_columns = [str(c) for c in raw.columns if c != native]
try:
    _, _, automatic = apply_mapping(
        raw, base, name=upload.name, text_geometry=text_geometry, org_given=org is not None
    )
except ImsGeoError:  # the mapping file does not fit: its error is shown by the read below
    automatic = {}

# mapping widgets are keyed by the file: a new file starts with no choices
prefix = f"upload_map_{upload.file_id}_"
mapped = [c for c in COLUMNS if c != ORG or org is None] + ([GEOMETRY] if text_geometry else [])


def use_suggestion() -> None:
    """Fill the column choices and value translations from a suggested mapping."""
    suggestion = suggest_for_frame(raw, name=upload.name, text_geometry=text_geometry)
    for column, found in suggestion.columns.items():
        if column in mapped or column == ORG:
            st.session_state[prefix + column] = found[0]
    if ORG in suggestion.columns and st.session_state.get("upload_org") == NEW_ORG:
        st.session_state["upload_org"] = FROM_FILE
    st.session_state[prefix + "proposals"] = True
    # what the panels do not show: date formats, time zone, the emergency flag
    whole = suggestion.to_dict()
    extra = {k: v for k, v in whole.items() if k in ("date_format", "timezone")}
    flags = [f for f in Mapping().flags if f in whole["columns"]]
    extra["columns"] = {f: whole["columns"][f] for f in flags}
    extra["values"] = {f: whole["values"][f] for f in flags if f in whole.get("values", {})}
    st.session_state[prefix + "extra"] = extra


st.button(
    "Suggest a mapping",
    key="upload_suggest",
    icon=":material/auto_fix:",
    on_click=use_suggestion,
    help="Match the columns by name hints checked on the values, and propose a canonical "
    "value for every raw value (as ims-geo mapping suggest does); then check the choices.",
)
with st.expander("Column mapping", expanded=True):
    st.caption(
        "How the file's columns are read: by name and alias (automatic, shown under each "
        "field) or the mapping file, unless you choose a column of the file. Required: "
        f"{', '.join(c for c in REQUIRED if c != GEOMETRY)}."
    )
    chosen: dict[str, str] = {}
    cells = st.columns(4)
    for i, column in enumerate(mapped):
        current = st.session_state.get(prefix + column)
        options = [
            AUTOMATIC,
            *source_columns,
            *([current] if current and current not in (AUTOMATIC, *source_columns) else []),
        ]
        found = ", ".join(automatic.get(column, [])) or "not in the file"
        picked = cells[i % 4].selectbox(
            column, options, key=prefix + column, help=f"automatic: {found}"
        )
        if picked != AUTOMATIC:
            chosen[column] = picked

translations: dict[str, dict[str, object]] = {}
proposals = bool(st.session_state.get(prefix + "proposals"))
with st.expander("Value translation", expanded=True):
    st.caption(
        "Each raw value of a vocabulary column with its rows: choose the canonical value it "
        "means. Left empty, a value the built-in aliases do not know is read as its fallback "
        "(and reported as a warning)."
    )
    for column in VOCABULARY:
        sources = [chosen[column]] if column in chosen else automatic.get(column, [])
        if not sources:
            continue
        with widgets.user_errors(reading=upload.name):
            table = state.upload_values(
                upload, column, sources, layer=layer, encoding=text_encoding
            )
        translations[column] = widgets.translation_editor(
            table,
            column,
            given=base.values.get(column, {}),
            proposals=proposals,
            key=f"{prefix}values_{column}_{'+'.join(sources)}_{int(proposals)}",
        )
    if not translations:
        st.caption("The file has no discipline, layer, status, visibility or excavation column.")

data = to_dict(base)
extra = st.session_state.get(prefix + "extra", {})
for key, value in extra.items():
    if isinstance(value, dict):  # the mapping file's own entries win
        data[key] = {**value, **data.get(key, {})}
    else:
        data.setdefault(key, value)
data["columns"] = {**data.get("columns", {}), **chosen}
values = {k: dict(v) for k, v in data.get("values", {}).items()}
for column, table in translations.items():
    values[column] = {**values.get(column, {}), **table}
data["values"] = {k: v for k, v in values.items() if v}
with widgets.user_errors():
    mapping_toml = dump_toml(
        to_dict(Mapping.from_dict(data, source="the mapping built here")),
        header=f"Mapping for {upload.name}, built on the upload page of ims_geo",
    )
st.download_button(
    "Download this mapping",
    data=mapping_toml,
    file_name=f"{Path(upload.name).stem}_mapping.toml",
    mime="application/toml",
    key="upload_mapping_download",
    icon=":material/download:",
    help="Save the column mapping and value translations for next year's file "
    "(ims-geo import FILE --mapping this.toml reads it too).",
)

with widgets.user_errors(reading=upload.name):
    try:
        result = state.read_upload(
            upload, org=org, layer=layer, crs=crs.strip() or None, encoding=ENCODINGS[encoding],
            mapping=mapping_toml,
        )  # fmt: skip
    except MissingCRSError as error:
        st.error(f"{error} Enter it under **Reading options**.", icon=":material/error:")
        st.stop()

st.subheader("Validation report")
cells = st.columns(3)
cells[0].metric("Accepted", len(result.works))
cells[1].metric("Repaired", result.repaired)
cells[2].metric("Rejected", len(result.rejected))
for warning in result.warnings:
    st.warning(warning, icon=":material/warning:")
with st.expander("Report", expanded=not result.rejected.empty):
    st.code(result.report(), language=None)

if not result.rejected.empty:
    st.subheader("Rejected rows")
    st.dataframe(result.reasons(), hide_index=True, key="upload_reasons")
    st.dataframe(widgets.table(result.rejected), hide_index=True, key="upload_rejected")
    widgets.downloads(result.rejected, "rejected", key="upload_rejected_download", formats=["csv"])

organisations = organisations_of(result.works, result.rejected, org=org)
stored = organisations.loc[organisations["stored"].astype(bool), ORG].dropna().tolist()
if not result.works.empty:
    st.subheader("Preview")
    preview = maps.prepare(result.works)
    widgets.show_map(maps.works_map(preview, groups=stored or None), key="upload_map", returned=())
    widgets.map_caption(preview, "works")

st.subheader("What storing changes")
with widgets.user_errors():
    changes = plan_changes(state.store(), result.works, orgs=stored)
st.dataframe(
    changes.drop(columns="drops_most"),
    hide_index=True,
    key="upload_changes",
    column_config={"current": "works now", "new": "works in the file"},
)
risky = changes[changes["drops_most"]]
confirmed = True
if len(risky):
    lines = "; ".join(
        f"{widgets.literal(r.org)}: {r.dropped} of its {r.current} current works dropped"
        for r in risky.itertuples(index=False)
    )
    st.warning(
        f"The new plan drops more than half of the current works ({lines}). Is this the "
        "right file, read with the right mapping?",
        icon=":material/warning:",
    )
    confirmed = st.checkbox("Yes, replace these plans", key=f"{prefix}confirm")

label = (
    f"Store as a new plan version of {stored[0]} ({int(cycle)})"
    if len(stored) == 1
    else f"Store as new plan versions of {len(stored)} organisations ({int(cycle)})"
)
if st.button(
    label,
    type="primary",
    disabled=result.works.empty or not stored or not confirmed,
    key="upload_store",
):
    with widgets.user_errors():
        versions = state.store().import_plans(
            result.works,
            result.rejected,
            cycle=int(cycle),
            source=upload.name,
            org=org,
            replace=len(risky) > 0 and confirmed,
        )
    st.success(
        "\n\n".join(
            f"Stored {v.n_works} works of {widgets.literal(v.org)} as version {v.version} of "
            f"cycle {v.cycle}; "
            f"{v.n_rejected} rejected rows kept with it."
            for v in versions
        ),
        icon=":material/check_circle:",
    )
    widgets.conflicts_of([v.org for v in versions], key="upload_conflicts")
