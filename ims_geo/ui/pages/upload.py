"""Upload: read an organisation's plan, map its columns, check it, store it as a new version."""

import datetime as dt

import streamlit as st

from ims_geo import maps
from ims_geo.errors import MissingCRSError
from ims_geo.schema import COLUMNS, ORG, REQUIRED
from ims_geo.ui import state, widgets

TYPES = ["zip", "gpkg", "geojson", "json", "fgb", "csv", "shp"]
NEW_ORG = "New organisation…"
AUTOMATIC = "(automatic)"
ENCODINGS = {"automatic": None, "UTF-8": "utf-8", "Windows-1252": "cp1252", "ISO-8859-1": "latin-1"}

st.title("Upload a plan")
st.caption(
    "Zipped shapefile, GeoPackage, GeoJSON, FlatGeobuf or CSV with a WKT `geometry` column "
    "(or x/y, lon/lat coordinate columns). "
    "Columns are recognised by name (English, Dutch, German); map the others below."
)

upload = st.file_uploader("Works file", type=TYPES, key="upload_file", max_upload_size=200)
with widgets.user_errors():
    known = sorted(state.works()[ORG].unique())
left, right = st.columns([2, 1])
choice = left.selectbox("Organisation", [NEW_ORG, *known], key="upload_org")
org = left.text_input("New organisation", key="upload_org_new") if choice == NEW_ORG else choice
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
org = org.strip()
if not org:
    st.info("Which organisation's plan is this? Choose or enter the organisation.")
    st.stop()

with widgets.user_errors(reading=upload.name):
    layers = state.upload_layers(upload)
layer = st.selectbox("Layer", layers, key="upload_layer") if len(layers) > 1 else None
# mapping widgets are keyed by the file: a new file starts with no mapping
prefix = f"upload_map_{upload.file_id}_"
columns = {
    c: st.session_state[prefix + c]
    for c in COLUMNS
    if st.session_state.get(prefix + c, AUTOMATIC) != AUTOMATIC
}
with widgets.user_errors(reading=upload.name):
    try:
        result = state.read_upload(
            upload, org=org, layer=layer, columns=columns, crs=crs.strip() or None,
            encoding=ENCODINGS[encoding],
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

unmapped = widgets.unmapped_columns(result)
candidates = result.source_columns or unmapped
with st.expander("Column mapping", expanded=bool(unmapped) and not result.rejected.empty):
    st.caption(
        "How the file's columns are read: by name and alias (automatic, shown under each "
        "field) unless you choose a column of the file. Not recognised: "
        f"{', '.join(unmapped) or 'none'}. Required: "
        f"{', '.join(c for c in REQUIRED if c != 'geometry')}."
    )
    cells = st.columns(4)
    for i, column in enumerate(c for c in COLUMNS if c != ORG):
        current = columns.get(column)
        options = [
            AUTOMATIC,
            *candidates,
            *([current] if current and current not in candidates else []),
        ]
        automatic = ", ".join(result.columns.get(column, [])) or "not in the file"
        cells[i % 4].selectbox(column, options, key=prefix + column, help=f"automatic: {automatic}")

if not result.rejected.empty:
    st.subheader("Rejected rows")
    st.dataframe(result.reasons(), hide_index=True, key="upload_reasons")
    st.dataframe(widgets.table(result.rejected), hide_index=True, key="upload_rejected")
    widgets.downloads(result.rejected, "rejected", key="upload_rejected_download", formats=["csv"])

if not result.works.empty:
    st.subheader("Preview")
    preview = maps.prepare(result.works)
    widgets.show_map(maps.works_map(preview, groups=[org]), key="upload_map", returned=())
    widgets.map_caption(preview, "works")

if st.button(
    f"Store as a new plan version of {org} ({int(cycle)})",
    type="primary",
    disabled=result.works.empty,
    key="upload_store",
):
    with widgets.user_errors():
        version = state.store().import_plan(
            result.works, org=org, cycle=int(cycle), source=upload.name, rejected=result.rejected
        )
    st.success(
        f"Stored {version.n_works} works of {version.org} as version {version.version} of "
        f"cycle {version.cycle} (plan version {version.version_id}); "
        f"{version.n_rejected} rejected rows kept with it.",
        icon=":material/check_circle:",
    )
