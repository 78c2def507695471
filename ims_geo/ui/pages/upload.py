"""Upload: read a plan (or a feed of many organisations), map its columns and values,
preview what it changes, store it as new plan versions."""

import datetime as dt
from pathlib import Path

import streamlit as st

from ims_geo import maps
from ims_geo.errors import ImsGeoError, MissingCRSError
from ims_geo.i18n import N_, _, bind, fmt_number, messages, ngettext
from ims_geo.ingest import UPLOAD_TYPES, Limits
from ims_geo.ingest._mapping import Mapping, dump_toml, loads_mapping, to_dict
from ims_geo.ingest._mapping import apply as apply_mapping
from ims_geo.ingest._sources import FORMATS
from ims_geo.ingest.preview import plan_changes
from ims_geo.ingest.suggest import suggest_for_frame
from ims_geo.schema import COLUMNS, GEOMETRY, ORG, REASON, REQUIRED, VOCABULARY
from ims_geo.store import organisations_of
from ims_geo.ui import state, widgets

# choices kept as English codes in the session (a language switch keeps them); shown translated
NEW_ORG = N_("New organisation…")
FROM_FILE = N_("From the file (org column)")
AUTOMATIC = N_("(automatic)")
#: Coordinate columns the page lets the user name: the extra's name -> the field's label.
COORDINATES = {"x": N_("x (easting, longitude)"), "y": N_("y (northing, latitude)")}
ENCODINGS = {
    N_("automatic"): None, "UTF-8": "utf-8", "Windows-1252": "cp1252", "ISO-8859-1": "latin-1"
}  # fmt: skip


def shown(option: object) -> str:
    """An option as the user reads it: the page's own choices translated, file values as is."""
    text = str(option)
    return _(text) if text in (NEW_ORG, FROM_FILE, AUTOMATIC, *ENCODINGS) else text


st.title(_("Upload a plan"))
st.caption(
    _(
        "{formats}: the formats the command line reads. "
        "Columns are recognised by name (English, Dutch, German); map the others below, "
        "translate their values, or upload a mapping file. A file with an org column holding "
        "several organisations is stored as one plan version per organisation."
    ).format(formats=", ".join(sorted({messages.translate(f) for f in FORMATS.values()})))
)

state.refuse_unless("write", N_("import plans"))  # hidden from them; the database refuses too
# the same cap as the HTTP API and the reader (IMS_GEO_MAX_UPLOAD_BYTES, default 200 MiB)
MAX_MB = max(1, int(Limits().max_upload_bytes // 2**20))
upload = st.file_uploader(
    _("Works file"), type=UPLOAD_TYPES, key="upload_file", max_upload_size=MAX_MB
)
mapping_file = st.file_uploader(
    _("Mapping file (optional)"),
    type=["toml"],
    key="upload_mapping_file",
    help=_(
        "A column mapping (TOML, see data/mappings/README.md), e.g. one downloaded here "
        "last year. The choices below are made on top of it."
    ),
)
with widgets.user_errors():
    known = sorted(state.works()[ORG].unique())
left, right = st.columns([2, 1])
me = state.identity()  # signed in to a shared store: plans of the own organisation only
choices = [me.org, FROM_FILE] if me is not None else [NEW_ORG, FROM_FILE, *known]
choice = left.selectbox(_("Organisation"), choices, key="upload_org", format_func=bind(shown))
org: str | None = None
if choice == NEW_ORG:
    org = left.text_input(_("New organisation"), key="upload_org_new").strip()
elif choice != FROM_FILE:
    org = choice
cycle = right.number_input(_("Cycle year"), 2000, 2100, dt.date.today().year, key="upload_cycle")
with st.expander(_("Reading options")):
    crs = st.text_input(
        _("CRS of a file that has none"), placeholder="EPSG:28992", key="upload_crs"
    )
    encoding = st.selectbox(
        _("Text encoding"), list(ENCODINGS), key="upload_encoding", format_func=bind(shown)
    )

if upload is None:
    st.stop()
if upload.name.lower().endswith(".shp"):
    st.error(
        _(
            "{file}: a .shp file alone has no attributes (.dbf), index (.shx) or CRS (.prj). "
            "Put the .shp, .shx, .dbf, .prj (and .cpg) files in one .zip and upload that."
        ).format(file=upload.name),
        icon=":material/error:",
    )
    st.stop()
if choice == NEW_ORG and not org:
    st.info(
        _(
            "Which organisation's plan is this? Choose or enter the organisation, or take it "
            "from a column of the file ({from_file})."
        ).format(from_file=_(FROM_FILE))
    )
    st.stop()

base = Mapping()
if mapping_file is not None:
    try:
        base = loads_mapping(mapping_file.getvalue().decode("utf-8", "replace"), mapping_file.name)
    except ImsGeoError as error:  # read without it; the mapping can be built below instead
        st.error(
            _("{error} It is not used.").format(
                error=messages.translate(str(error), escape=widgets.literal)
            ),
            icon=":material/error:",
        )
text_encoding = ENCODINGS[encoding] or base.encoding
with widgets.user_errors(reading=upload.name):
    layers = state.upload_layers(upload)
layer = st.selectbox(_("Layer"), layers, key="upload_layer") if len(layers) > 1 else None
if layer is not None:  # the command line refuses such a file without --layer: say what is read
    st.caption(
        _(
            "{file} holds {count} layers ({names}): only the one chosen here is read and "
            "stored. Upload the file again for each other layer that holds works."
        ).format(
            file=widgets.literal(upload.name),
            count=fmt_number(len(layers)),
            names=", ".join(widgets.literal(name) for name in layers),
        )
    )
with widgets.user_errors(reading=upload.name):
    raw, text_geometry = state.upload_frame(upload, layer=layer, encoding=text_encoding)
native = raw.geometry.name if hasattr(raw, "geometry") and not text_geometry else None
source_columns = [str(c) for c in raw.columns if c != native]
try:
    automatic = apply_mapping(
        raw, base, name=upload.name, text_geometry=text_geometry, org_given=org is not None
    )[2]  # (not unpacked into "_": that name is the translation function)
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
    _("Suggest a mapping"),
    key="upload_suggest",
    icon=":material/auto_fix:",
    on_click=use_suggestion,
    help=_(
        "Match the columns by name hints checked on the values, and propose a canonical "
        "value for every raw value (as ims-geo mapping suggest does); then check the choices."
    ),
)
with st.expander(_("Column mapping"), expanded=True):
    st.caption(
        _(
            "How the file's columns are read: by name and alias (automatic, shown under each "
            "field) or the mapping file, unless you choose a column of the file. Required: "
            "{required}."
        ).format(required=", ".join(c for c in REQUIRED if c != GEOMETRY))
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
        found = ", ".join(automatic.get(column, [])) or _("not in the file")
        picked = cells[i % 4].selectbox(
            column,
            options,
            key=prefix + column,
            help=_("automatic: {found}").format(found=found),
            format_func=bind(shown),
        )
        if picked != AUTOMATIC:
            chosen[column] = picked
    # a table of points without WKT: its coordinate columns, kept under the names the reader
    # takes points from (x/y) when their own names are none of the known pairs
    coordinates: dict[str, str] = {}
    for i, (axis, name) in enumerate(COORDINATES.items() if text_geometry else ()):
        picked = cells[(len(mapped) + i) % 4].selectbox(
            _(name),
            [AUTOMATIC, *source_columns],
            key=prefix + axis,
            help=_(
                "For a file without a WKT geometry column: the column of the points' "
                "coordinates (their CRS under **Reading options** unless longitude/latitude)."
            ),
            format_func=bind(shown),
        )
        if picked != AUTOMATIC:
            coordinates[axis] = picked

translations: dict[str, dict[str, object]] = {}
proposals = bool(st.session_state.get(prefix + "proposals"))
with st.expander(_("Value translation"), expanded=True):
    st.caption(
        _(
            "Each raw value of a vocabulary column with its rows: choose the canonical value it "
            "means. Left empty, a value the built-in aliases do not know is read as its fallback "
            "(and reported as a warning)."
        )
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
        st.caption(_("The file has no discipline, layer, status, visibility or excavation column."))

data = to_dict(base)
extra = st.session_state.get(prefix + "extra", {})
for key, value in extra.items():
    if isinstance(value, dict):  # the mapping file's own entries win
        data[key] = {**value, **data.get(key, {})}
    else:
        data.setdefault(key, value)
data["columns"] = {**data.get("columns", {}), **chosen}
# the reading options mean what the mapping's keys mean: next year's file reads the same
if crs.strip():
    data["crs"] = crs.strip()
if ENCODINGS[encoding]:
    data["encoding"] = ENCODINGS[encoding]
if len(coordinates) == len(COORDINATES):  # one column alone places nothing
    data["extras"] = {**data.get("extras", {}), **coordinates}
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
    _("Download this mapping"),
    data=mapping_toml,
    file_name=f"{Path(upload.name).stem}_mapping.toml",
    mime="application/toml",
    key="upload_mapping_download",
    icon=":material/download:",
    help=_(
        "Save the column mapping and value translations for next year's file "
        "(ims-geo import FILE --mapping this.toml reads it too)."
    ),
)

with widgets.user_errors(reading=upload.name):
    try:
        result = state.read_upload(
            upload, org=org, layer=layer, crs=crs.strip() or None, encoding=ENCODINGS[encoding],
            mapping=mapping_toml,
        )  # fmt: skip
    except MissingCRSError as error:
        # the library's message ends without a full stop (it is also a CLI line)
        said = messages.translate(str(error), escape=widgets.literal).rstrip()
        said += "" if said.endswith((".", "!", "?")) else "."
        st.error(
            _("{error} Enter it under **Reading options**.").format(error=said),
            icon=":material/error:",
        )
        st.stop()

st.subheader(_("Validation report"))
cells = st.columns(3)
cells[0].metric(_("Accepted"), fmt_number(len(result.works)))
cells[1].metric(_("Repaired"), fmt_number(result.repaired))
cells[2].metric(_("Rejected"), fmt_number(len(result.rejected)))
for warning in result.warnings:
    # the file's own values (names, cells) shown as text, never as markdown
    st.warning(messages.translate(warning, escape=widgets.literal), icon=":material/warning:")
with st.expander(_("Report"), expanded=not result.rejected.empty):
    st.code(messages.translate_report(result.report()), language=None)

if not result.rejected.empty:
    st.subheader(_("Rejected rows"))
    reasons = result.reasons()
    reasons["problem"] = reasons["problem"].map(messages.translate)
    st.dataframe(
        reasons,
        hide_index=True,
        key="upload_reasons",
        column_config={
            "problem": _("Problem"), "rows": _("Rows"), "examples": _("Examples")
        },
    )  # fmt: skip
    rejected = result.rejected.copy()
    rejected[REASON] = rejected[REASON].map(messages.translate_reasons)
    widgets.show_table(rejected, key="upload_rejected")
    # canonical headers at first: the rows are fixed and uploaded again
    widgets.downloads(
        result.rejected, "rejected", key="upload_rejected_download", formats=["csv"],
        in_words=False,
    )  # fmt: skip

if result.works.empty:  # the store button would be greyed out without a word: say why
    if result.rejected.empty:
        nothing = _(
            "{file} holds no works: it has no row below its header (or the layer is empty), "
            "so there is nothing to store. Export the plan again with its works."
        )
        if len(layers) > 1:
            nothing += " " + _("Or choose another layer of the file under **Layer**.")
    else:
        nothing = _(
            "No row of {file} was accepted, so there is nothing to store: the report and the "
            "rejected rows above say why. Fix those rows (or the column mapping, or the "
            "organisation) and upload the file again."
        )
    st.info(nothing.format(file=widgets.literal(upload.name)), icon=":material/info:")
    st.stop()

organisations = organisations_of(result.works, result.rejected, org=org)
stored = organisations.loc[organisations["stored"].astype(bool), ORG].dropna().tolist()
st.subheader(_("Preview"))
# what storing keeps, a layer per organisation; the works of the organisations left out
# (another one was chosen) dashed grey, so the map says what the button stores
storing = result.works[ORG].isin(stored).to_numpy()
preview = maps.prepare(result.works[storing])
left_out = maps.context_layer(result.works[~storing]) if not storing.all() else None
widgets.show_map(
    maps.works_map(preview, groups=stored, outside=left_out), key="upload_map", returned=()
)
widgets.map_caption(preview, _("works"))

st.subheader(_("What storing changes"))
with widgets.user_errors():
    changes = plan_changes(state.store(), result.works, orgs=stored)
st.dataframe(
    changes.drop(columns="drops_most"),
    hide_index=True,
    key="upload_changes",
    column_config={
        "org": _("Organisation"),
        "current": _("works now"),
        "new": _("works in the file"),
        "added": _("added"),
        "dropped": _("dropped"),
        "moved": _("moved"),
        "geometry_changed": _("geometry changed"),
    },
)
risky = changes[changes["drops_most"]]
confirmed = True
if len(risky):
    lines = "; ".join(
        _("{org}: {dropped} of its {current} current works dropped").format(
            org=widgets.literal(r.org),
            dropped=fmt_number(r.dropped),
            current=fmt_number(r.current),
        )
        for r in risky.itertuples(index=False)
    )
    st.warning(
        _(
            "The new plan drops more than half of the current works ({lines}). Is this the "
            "right file, read with the right mapping?"
        ).format(lines=lines),
        icon=":material/warning:",
    )
    confirmed = st.checkbox(_("Yes, replace these plans"), key=f"{prefix}confirm")

label = (
    _("Store as a new plan version of {org} ({cycle})").format(org=stored[0], cycle=int(cycle))
    if len(stored) == 1
    else _("Store as new plan versions of {count} organisations ({cycle})").format(
        count=len(stored), cycle=int(cycle)
    )
)
if st.button(
    label,
    type="primary",
    disabled=not stored or not confirmed,
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
            ngettext(
                "Stored {works} work of {org} as version {version} of cycle {cycle}; "
                "{rejected} rejected rows kept with it.",
                "Stored {works} works of {org} as version {version} of cycle {cycle}; "
                "{rejected} rejected rows kept with it.",
                v.n_works,
            ).format(
                works=fmt_number(v.n_works),
                org=widgets.literal(v.org),
                version=v.version,
                cycle=v.cycle,
                rejected=fmt_number(v.n_rejected),
            )
            for v in versions
        ),
        icon=":material/check_circle:",
    )
    widgets.conflicts_of([v.org for v in versions], key="upload_conflicts")
