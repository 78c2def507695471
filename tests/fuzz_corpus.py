"""A seeded corpus of broken and hostile works files, and how to judge what a reader did.

:func:`corpus` builds, from a seed, valid plans in every format (written in
code) and then

- mutations of them: flipped bytes, truncations, damaged zip members and
  wrong shapefile sidecars (missing parts, a .dbf or .prj of another
  export, a .cpg that lies about the encoding);
- hand-made hostile files: the 300-byte GeoJSON whose coordinate of 1e200
  aborted PROJ, WKT collections nested 100,000 deep, zip bombs hidden among
  honest members, geometry blobs shapely cannot parse, a GeoPackage layer
  that is an endless recursive view, damaged GeoPackages, mixed ``SRID=``
  rows, implausible dates, a wrong CRS, ...

:func:`through_upload` and :func:`through_cli` read one case the way the
upload page and ``ims-geo import`` do and classify the outcome as
``refused`` (a clear error naming the file), ``accepted`` (works and/or
rejected rows), ``crash`` (a traceback or a dead process), ``hang``, or
``lost`` (fewer rows came back, accepted plus rejected, than the file
holds by an independent count). :func:`store_check` stores what was
accepted and runs every later reader and writer over the store; a failure
there is ``store broken``.

Used by tests/test_hostile.py (a fast sample) and benchmarks/hostile.py
(the full run).
"""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
import struct
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

#: Outcomes, in the order of the results table.
OUTCOMES = ("refused", "accepted", "crash", "hang", "lost", "store broken")
ORG = "Fuzz"
RD = 28992


@dataclass
class Case:
    """One file of the corpus and what a reader may do with it."""

    cls: str
    name: str
    data: bytes
    #: Rows a reader must return (accepted + rejected) when it does not refuse; None: unknown.
    rows: int | None = None
    #: "refused" when any acceptance is wrong; None when either outcome is fine.
    expect: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, float] = field(default_factory=dict)


# --- valid plans, written in code ---------------------------------------------------------


def plan(n: int = 40, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` street works (lines) in Amsterdam, RD New, with a non-ASCII title."""
    rng = np.random.default_rng(seed)
    x = 120_000 + rng.random(n) * 4_000
    y = 486_000 + rng.random(n) * 4_000
    lines = shapely.linestrings(np.stack([np.stack([x, y], 1), np.stack([x + 80, y + 30], 1)], 1))
    start = pd.Timestamp("2027-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    return gpd.GeoDataFrame(
        {
            "work_id": [f"W{i:04d}" for i in range(n)],
            "org": ORG,
            "discipline": rng.choice(["road", "water", "gas", "sewer"], n),
            "title": [f"Straße é {i}" for i in range(n)],
            "start_date": start.strftime("%Y-%m-%d"),
            "end_date": (start + pd.Timedelta(days=30)).strftime("%Y-%m-%d"),
        },
        geometry=lines,
        crs=RD,
    )


def _written(frame: gpd.GeoDataFrame, suffix: str, **kwargs: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"plan{suffix}"
        frame.to_file(path, **kwargs)
        return path.read_bytes()


def shapefile_parts(frame: gpd.GeoDataFrame, encoding: str = "cp1252") -> dict[str, bytes]:
    """The parts of ``frame`` written as a shapefile (.shp .shx .dbf .prj .cpg)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plan.shp"
        frame.to_file(path, encoding=encoding)
        parts = {p.suffix: p.read_bytes() for p in Path(tmp).iterdir()}
    parts[".cpg"] = b"1252" if encoding == "cp1252" else encoding.encode()
    return parts


def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return buffer.getvalue()


def csv_text(frame: gpd.GeoDataFrame) -> bytes:
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["geometry"] = f"SRID={RD};" + pd.Series(shapely.to_wkt(frame.geometry.to_numpy(), 1))
    return table.to_csv(index=False).encode("utf-8")


def geoparquet(
    frame: gpd.GeoDataFrame,
    *,
    geo: Callable[[dict[str, Any]], Any] | None = None,
    table: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> bytes:
    """``frame`` as GeoParquet 1.1 written by geopandas (bbox covering column), as bytes.

    ``geo`` may change the ``geo`` metadata (a dict; its result, JSON or bytes, is
    written), ``table`` the Arrow table before it is written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    frame.to_parquet(buffer, write_covering_bbox=True, schema_version="1.1.0", **kwargs)
    if geo is None and table is None:
        return buffer.getvalue()
    written = pq.read_table(pa.BufferReader(buffer.getvalue()))
    if geo is not None:
        meta = dict(written.schema.metadata)
        changed = geo(json.loads(meta[b"geo"]))
        if changed is None:
            meta.pop(b"geo")
        else:
            meta[b"geo"] = changed if isinstance(changed, bytes) else json.dumps(changed).encode()
        written = written.replace_schema_metadata(meta)
    if table is not None:
        written = table(written)
    out = io.BytesIO()
    pq.write_table(written, out)
    return out.getvalue()


def _geo_column(geo: dict[str, Any], drop: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    """``geo`` metadata with its geometry column's entries changed, and ``drop`` removed."""
    column = geo["columns"]["geometry"]
    column.update(changes)
    for key in drop:
        column.pop(key)
    return geo


def _with_wkb(table: Any, row: int, wkb: bytes) -> Any:
    """The Arrow table with the WKB of one row replaced."""
    import pyarrow as pa

    values = table.column("geometry").to_pylist()
    values[row] = wkb
    index = table.schema.get_field_index("geometry")
    return table.set_column(index, table.schema.field(index), pa.array(values, pa.binary()))


def _parquet_cases() -> Iterator[Case]:
    """Hostile and odd GeoParquet files."""
    small = plan(20, 9)
    yield Case("parquet", "image.parquet", b"\x89PNG\r\n\x1a\n" + bytes(200), expect="refused")
    yield Case("parquet", "text.parquet", b"work_id,org\n1,A\n", expect="refused")
    whole = geoparquet(small)
    yield Case("parquet", "cut.parquet", whole[: len(whole) // 2], expect="refused")
    yield Case("parquet", "footer_only.parquet", b"PAR1" + whole[-2000:], expect="refused")
    yield Case("parquet", "geo_not_json.parquet", geoparquet(small, geo=lambda g: b"{not json"),
               expect="refused")  # fmt: skip
    yield Case("parquet", "geo_list.parquet", geoparquet(small, geo=lambda g: [1, 2]),
               expect="refused")  # fmt: skip
    missing = geoparquet(small, geo=lambda g: g | {"primary_column": "geom"})
    yield Case("parquet", "geo_missing_column.parquet", missing, expect="refused")
    wkt = geoparquet(small, geo=lambda g: _geo_column(g, encoding="WKT"))
    yield Case("parquet", "encoding_wkt.parquet", wkt, expect="refused")
    yield Case("parquet", "geoarrow.parquet", geoparquet(small, geometry_encoding="geoarrow"),
               rows=20)  # fmt: skip
    yield Case("parquet", "crs_null.parquet", geoparquet(small, geo=lambda g: _geo_column(g, crs=None)),
               expect="refused")  # fmt: skip
    no_crs = geoparquet(
        small, geo=lambda g: _geo_column(g, drop=("crs",))
    )  # lon/lat, says the spec
    yield Case("parquet", "crs_absent.parquet", no_crs, expect="refused")
    bad = geoparquet(small, table=lambda t: _with_wkb(t, 1, b"\x01\x02\x00\x00\x00\xff\xff"))
    yield Case("parquet", "bad_wkb.parquet", bad, rows=20)
    unknown = geoparquet(small, table=lambda t: _with_wkb(t, 2, b"\x01\x63\x00\x00\x00"))
    yield Case("parquet", "unknown_wkb_type.parquet", unknown, rows=20)
    deep = nested_wkb(100_000)
    # GEOS parses WKB recursively: measured first, the deep row is rejected, not parsed
    yield Case("parquet", "deep_wkb.parquet", geoparquet(small, table=lambda t: _with_wkb(t, 0, deep)),
               rows=20)  # fmt: skip
    yield Case("parquet", "rows.parquet", geoparquet(plan(300, 10)), expect="refused",
               limits={"max_rows": 100})  # fmt: skip
    yield Case("parquet", "expanded.parquet", geoparquet(plan(300, 10)), expect="refused",
               limits={"max_expanded_bytes": 10_000})  # fmt: skip
    yield Case("parquet", "odd_types.parquet", geoparquet(small, table=odd_columns), rows=20)


def nested_wkb(depth: int) -> bytes:
    """A GeometryCollection nested ``depth`` deep around one point, as little-endian WKB."""
    point = shapely.to_wkb(shapely.Point(121_000, 487_000), byte_order=1)
    return (b"\x01\x07\x00\x00\x00\x01\x00\x00\x00" * depth) + point


def odd_columns(table: Any) -> Any:
    """``table`` with a column of each Arrow type no writer takes as it is."""
    import datetime as dt
    import decimal

    import pyarrow as pa

    n = table.num_rows
    columns = {
        "price": pa.array([decimal.Decimal("12.50")] * n, pa.decimal128(10, 2)),
        "at": pa.array([dt.time(7, 30)] * n, pa.time64("us")),
        "took": pa.array([dt.timedelta(seconds=90)] * n, pa.duration("s")),
        "kind": pa.array(["x"] * n).dictionary_encode(),
        "info": pa.array([{"a": 1, "b": "c"}] * n),
        "tags": pa.array([[1, 2]] * n),
        "pairs": pa.array([[("k", 1)]] * n, pa.map_(pa.string(), pa.int64())),
        "blob": pa.array([b"\x01\x02"] * n, pa.binary()),
        "half": pa.array(np.full(n, 1.5, np.float16), pa.float16()),
        "stamp": pa.array([dt.datetime(2027, 1, 1, 8)] * n, pa.timestamp("us", tz="UTC")),
        "nothing": pa.nulls(n),
    }
    for name, values in columns.items():
        table = table.append_column(name, values)
    return table


def bases(seed: int = 0) -> dict[str, tuple[bytes, int]]:
    """Valid plans by file name: (bytes, number of features)."""
    small = plan(40, seed)
    big = plan(205, seed + 1)
    parts = shapefile_parts(small)
    return {
        "plan.csv": (csv_text(small), 40),
        "plan.geojson": (_written(small, ".geojson"), 40),
        "plan.gpkg": (_written(big, ".gpkg", layer="works"), 205),
        "plan.fgb": (_written(small, ".fgb"), 40),
        "plan.gml": (_written(small, ".gml"), 40),
        "plan.zip": (zipped({f"plan{s}": d for s, d in parts.items()}), 40),
        "plan_csv.zip": (zipped({"plan.csv": csv_text(plan(400, seed + 2))}), 400),
        "plan.parquet": (geoparquet(small), 40),
    }


# --- independent counts of what a mutated file still holds ------------------------------------


def visible_rows(name: str, data: bytes, original: int) -> int | None:
    """Rows a complete reader must return from ``data`` (None: no independent count).

    CSV: the records Python's csv module sees; GeoJSON: the entries of its
    ``features`` array. Binary formats: every original feature (a reader that
    cannot read all of them must refuse the file).
    """
    if name.endswith(".csv"):
        text = data.decode("utf-8", "replace")
        try:
            records = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
        except csv.Error:
            return None
        return max(len(records) - 1, 0)
    if name.endswith((".geojson", ".json")):
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError):
            return None
        features = parsed.get("features") if isinstance(parsed, dict) else None
        return len(features) if isinstance(features, list) else None
    if name.endswith(".zip") and "csv" in name:
        return None  # a damaged member makes the archive unreadable; see the zip classes
    return original


# --- mutations ----------------------------------------------------------------------------------


def flipped(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncated(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randint(1, len(data) - 1)]


def damaged_member(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Flip bytes inside one member's packed data (the central directory stays intact)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = [i for i in archive.infolist() if i.compress_size > 0]
    info = rng.choice(infos)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[start + rng.randrange(info.compress_size)] ^= 0xFF
    return bytes(out), info.filename


def _shapefile_cases(rng: random.Random, seed: int) -> Iterator[Case]:
    small = plan(40, seed)
    parts = shapefile_parts(small)
    other = shapefile_parts(plan(25, seed + 7))

    def case(kind: str, members: dict[str, bytes], **kw: Any) -> Case:
        return Case(
            f"sidecar: {kind}", f"sidecar_{kind.replace(' ', '_')}.zip", zipped(members), **kw
        )

    base = {f"plan{s}": d for s, d in parts.items()}
    yield case(
        "no shx", {k: v for k, v in base.items() if not k.endswith(".shx")}, expect="refused"
    )
    yield case(
        "no dbf", {k: v for k, v in base.items() if not k.endswith(".dbf")}, expect="refused"
    )
    yield case("dbf of another export", base | {"plan.dbf": other[".dbf"]}, expect="refused")
    yield case("shx of another export", base | {"plan.shx": other[".shx"]}, expect="refused")
    wgs84 = shapefile_parts(small.to_crs(4326))[".prj"]
    yield case("prj of another crs", base | {"plan.prj": wgs84}, expect="refused")
    yield case("cpg says utf-8 on cp1252", base | {"plan.cpg": b"UTF-8"}, expect="refused")
    yield case(
        "cpg garbage", base | {"plan.cpg": bytes(rng.randrange(256) for _ in range(12))}, rows=40
    )
    yield case(
        "no prj", {k: v for k, v in base.items() if not k.endswith(".prj")}, expect="refused"
    )
    dbf = bytearray(parts[".dbf"])
    dbf[4:8] = struct.pack("<I", 1000)  # the header promises more records than it holds
    yield case("dbf count lies", base | {"plan.dbf": bytes(dbf)}, expect="refused")


# --- hand-made hostile classes ------------------------------------------------------------------

_HEADER = "work_id,org,discipline,start_date,end_date,geometry\n"


def _csv(rows: list[str]) -> bytes:
    rows = [r.replace(",A,", f",{ORG},", 1) for r in rows]
    return (_HEADER + "".join(r + "\n" for r in rows)).encode("utf-8")


def killer_geojson(value: str = "1e200", epsg: int = 3879) -> bytes:
    """The 300-byte GeoJSON whose coordinate, put to PROJ's UTM query, aborted the process."""
    return (
        '{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":'
        f'"urn:ogc:def:crs:EPSG::{epsg}"}}}},"features":[{{"type":"Feature","properties":'
        '{"work_id":"1","org":"Fuzz","discipline":"road","start_date":"2027-01-01",'
        f'"end_date":"2027-02-01"}},"geometry":{{"type":"Point","coordinates":[{value},6670000]}}}}]}}'
    ).encode()


def nested_geojson(depth: int, collection: bool) -> bytes:
    """A GeoJSON feature whose geometry nests ``depth`` collections or coordinate arrays."""
    if collection:
        geometry = (
            '{"type":"GeometryCollection","geometries":[' * depth
            + '{"type":"Point","coordinates":[4.9,52.37]}'
            + "]}" * depth
        )
    else:
        geometry = '{"type":"Point","coordinates":' + "[" * depth + "4.9,52.37" + "]" * depth + "}"
    return (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        f'{{"work_id":"1","org":"{ORG}","discipline":"road","start_date":"2027-01-01",'
        f'"end_date":"2027-02-01"}},"geometry":{geometry}}}]}}'
    ).encode()


def nested_collection(depth: int) -> bytes:
    wkt = "GEOMETRYCOLLECTION (" * depth + "POINT (121000 487000)" + ")" * depth
    return _csv([f'1,A,road,2027-01-01,2027-02-01,"SRID={RD};{wkt}"'])


def gpkg_with_blobs(blobs: list[bytes | None]) -> bytes:
    """A GeoPackage whose features carry these raw geometry blobs (GPKG header added)."""
    frame = plan(len(blobs), 3)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blobs.gpkg"
        frame.to_file(path, layer="works")
        with sqlite3.connect(path) as db:
            for (trigger,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
                db.execute(f'DROP TRIGGER "{trigger}"')
            header = b"GP\x00\x01" + struct.pack("<i", RD)
            for fid, blob in enumerate(blobs, start=1):
                value = None if blob is None else header + blob
                db.execute("UPDATE works SET geom = ? WHERE fid = ?", (value, fid))
        return path.read_bytes()


def _wkb(geom: Any) -> bytes:
    return bytes(shapely.to_wkb(geom, include_srid=False))


def _tin() -> bytes:
    triangle = struct.pack("<BII", 1, 17, 1) + struct.pack("<I", 4)
    triangle += struct.pack("<8d", 121000, 487000, 121010, 487000, 121010, 487010, 121000, 487000)
    return struct.pack("<BII", 1, 16, 1) + triangle


def _unclosed_ring() -> bytes:
    coords = struct.pack("<6d", 121000, 487000, 121010, 487000, 121010, 487010)
    return struct.pack("<BIII", 1, 3, 1, 3) + coords


def recursive_view_gpkg() -> bytes:
    """A GeoPackage whose only layer is a view over an endless recursive query."""
    frame = plan(3, 4)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "view.gpkg"
        frame.to_file(path, layer="works")
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE VIEW endless AS WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL "
                "SELECT n + 1 FROM r) SELECT n AS fid, 'x' || n AS work_id, NULL AS geom FROM r"
            )
            db.execute("DELETE FROM gpkg_contents WHERE table_name = 'works'")
            db.execute("DELETE FROM gpkg_geometry_columns WHERE table_name = 'works'")
            db.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) "
                f"VALUES ('endless', 'features', 'endless', {RD})"
            )
            db.execute(
                f"INSERT INTO gpkg_geometry_columns VALUES ('endless', 'geom', 'POINT', {RD}, 0, 0)"
            )
            db.execute("DROP TABLE works")
        return path.read_bytes()


def zip_bomb_among_honest_members() -> bytes:
    """Honest shapefile members plus one member that expands ~500x (4 MB -> 2 GB would be worse)."""
    parts = shapefile_parts(plan(40, 5))
    members = {f"plan{s}": d for s, d in parts.items()} | {"notes.txt": b"\0" * 8_000_000}
    return zipped(members)


def _hostile(seed: int) -> Iterator[Case]:
    rd_point = "POINT (121000 487000)"
    yield Case("killer coordinate", "killer.geojson", killer_geojson(), rows=1)
    for value in ("1e308", "-1e200", "1e30", "NaN", "Infinity"):
        yield Case("killer coordinate", f"killer_{value}.geojson", killer_geojson(value), rows=1)
    yield Case("killer coordinate", "killer_4326.geojson", killer_geojson("1e200", 4326), rows=1)
    for depth in (100_000, 10_000, 100, 9):
        yield Case("nested collection", f"nested_{depth}.csv", nested_collection(depth), rows=1)
    for depth in (100_000, 40):
        for collection in (True, False):
            kind = "collections" if collection else "arrays"
            data = nested_geojson(depth, collection)
            yield Case("nested collection", f"nested_{kind}_{depth}.geojson", data)
    yield Case(
        "mixed SRID",
        "mixed_srid.csv",
        _csv([f"1,A,road,2027-01-01,2027-02-01,SRID={RD};{rd_point}",
              "2,A,road,2027-01-01,2027-02-01,POINT (4.9 52.37)",
              "3,A,road,2027-01-01,2027-02-01,SRID=4326;POINT (4.9 52.37)"]),
        rows=3,
    )  # fmt: skip
    for date in (
        "-0001-01-01",
        "0000-06-01",
        "0001-01-01",
        "1850-05-01",
        "9999-12-31",
        "2300-01-01",
    ):
        yield Case(
            "implausible date",
            f"date_{date}.csv",
            _csv([f"1,A,road,{date},2027-02-01,SRID={RD};{rd_point}"]),
            rows=1,
        )
    rd_rows = _csv(
        [f"{i},A,road,2027-01-01,2027-02-01,POINT (121{i:03d} 487000)" for i in range(5)]
    )
    for crs in ("EPSG:4326", "EPSG:3879", "EPSG:2056"):
        yield Case(
            "wrong crs", f"wrong_crs_{crs[5:]}.csv", rd_rows, expect="refused", options={"crs": crs}
        )
    yield Case(
        "wrong crs", "bad_crs_name.csv", rd_rows, expect="refused", options={"crs": "EPSG:999999"}
    )
    cp1252 = _csv([f"1,A,road,2027-01-01,2027-02-01,SRID={RD};{rd_point}"]).replace(
        b"road", b"r\xf6ad"
    )
    yield Case(
        "wrong encoding",
        "declared_utf8.csv",
        cp1252,
        expect="refused",
        options={"encoding": "utf-8"},
    )
    yield Case("wrong encoding", "undeclared_cp1252.csv", cp1252, rows=1)
    honest = csv_text(plan(400, seed + 9))
    data, _member = damaged_member(zipped({"plan.csv": honest}), random.Random(seed))
    yield Case("damaged zipped csv", "damaged_csv.zip", data, expect="refused")
    stored = zipped({"plan.csv": honest}, zipfile.ZIP_STORED)
    yield Case(
        "damaged zipped csv", "truncated_csv.zip", stored[: len(stored) // 2], expect="refused"
    )
    blobs = [
        ("tin", _tin()),
        ("unclosed ring", _unclosed_ring()),
        ("garbage", bytes(range(40))),
        ("collection", _wkb(shapely.from_wkt(f"GEOMETRYCOLLECTION ({rd_point})"))),
        ("z point", _wkb(shapely.from_wkt("POINT Z (121000 487000 5)"))),
        ("multipoint", _wkb(shapely.from_wkt("MULTIPOINT ((121000 487000), (121010 487010))"))),
        ("nan", _wkb(shapely.points(np.nan, 487000))),
        ("huge", _wkb(shapely.points(7.8e253, 487000))),
    ]
    for label, blob in blobs:
        data = gpkg_with_blobs([blob, _wkb(shapely.from_wkt(rd_point))])
        yield Case("geometry blob", f"blob_{label.replace(' ', '_')}.gpkg", data, rows=2)
    yield Case(
        "geometry blob", "blob_all.gpkg", gpkg_with_blobs([b for _, b in blobs]), rows=len(blobs)
    )
    yield Case(
        "recursive view", "endless_view.gpkg", recursive_view_gpkg(), expect="refused",
        limits={"max_read_seconds": 4},
    )  # fmt: skip
    yield Case("zip bomb", "bomb_member.zip", zip_bomb_among_honest_members(), expect="refused")
    parts = shapefile_parts(plan(40, 6))
    honest_members = {f"plan{s}": d for s, d in parts.items()}
    yield Case(
        "zip bomb",
        "too_many.zip",
        zipped(honest_members | {f"junk/{i}.txt": b"x" for i in range(2100)}),
        expect="refused",
    )
    yield Case(
        "zip bomb", "nested.zip", zipped({"inner.zip": zipped(honest_members)}), expect="refused"
    )
    yield Case(
        "zip bomb",
        "slip.zip",
        zipped(honest_members | {"../../evil.shp": b"payload"}),
        expect="refused",
    )
    yield Case(
        "row limit", "many_rows.csv", csv_text(plan(300, 8)), expect="refused",
        limits={"max_rows": 100},
    )  # fmt: skip
    ring = shapely.linestrings(121_000 + np.arange(300_001) * 0.1, np.full(300_001, 487_000.0))
    yield Case(
        "vertex limit",
        "many_vertices.csv",
        _csv([f'1,A,road,2027-01-01,2027-02-01,"SRID={RD};{shapely.to_wkt(ring, 2)}"',
              f"2,A,road,2027-01-01,2027-02-01,SRID={RD};{rd_point}"]),
        rows=2,
    )  # fmt: skip
    long = "x" * 200_000
    yield Case(
        "long text",
        "long_text.csv",
        _csv([f"1,{long},road,2027-01-01,2027-02-01,SRID={RD};{rd_point}"]),
        rows=1,
    )
    zm = shapely.from_wkt("MULTIPOINT ZM ((121000 487000 1 2), (121010 487010 1 2))")
    yield Case(
        "z and m",
        "zm.csv",
        _csv([f'1,A,road,2027-01-01,2027-02-01,"SRID={RD};{shapely.to_wkt(zm, 1)}"',
              f"2,A,road,2027-01-01,2027-02-01,SRID={RD};POINT Z (121000 487000 3)"]),
        rows=2,
    )  # fmt: skip


# --- the corpus ---------------------------------------------------------------------------------


def corpus(size: int, seed: int = 13) -> list[Case]:
    """Every hand-made hostile file and wrong sidecar, then mutations up to ``size`` files."""
    rng = random.Random(seed)
    cases = list(_hostile(seed)) + list(_shapefile_cases(rng, seed)) + list(_parquet_cases())
    base = bases(seed)
    names = sorted(base)
    kinds: list[tuple[str, Callable[[str, bytes], tuple[bytes, str]]]] = [
        ("flipped bytes", lambda n, d: (flipped(d, rng), "")),
        ("truncated", lambda n, d: (truncated(d, rng), "")),
    ]
    i = 0
    while len(cases) < size:
        name = names[i % len(names)]
        data, count = base[name]
        stem, suffix = name.rsplit(".", 1)
        if suffix == "zip" and i % 3 == 0:
            mutated, member = damaged_member(data, rng)
            cases.append(Case("damaged zip member", f"{stem}_m{i}.zip", mutated, expect="refused"))
        else:
            kind, mutate = kinds[(i // len(names)) % len(kinds)]
            mutated, _ = mutate(name, data)
            rows = visible_rows(name, mutated, count)
            cases.append(Case(f"{kind}: {suffix if 'csv' not in stem or suffix == 'csv' else 'csv.zip'}",
                              f"{stem}_{i}.{suffix}", mutated, rows=rows))  # fmt: skip
        i += 1
    return cases


# --- running a case -----------------------------------------------------------------------------


@dataclass
class Outcome:
    outcome: str
    detail: str = ""
    result: Any = None


def _limits(case: Case, base: dict[str, float]) -> Any:
    from ims_geo.ingest import Limits

    return Limits(**(base | case.limits))


def _judge_rows(case: Case, accepted: int, rejected: int) -> Outcome | None:
    if case.expect == "refused":
        return Outcome("lost", f"accepted a file that must be refused ({accepted} works)")
    if case.rows is not None and accepted + rejected < case.rows:
        return Outcome("lost", f"{accepted} accepted + {rejected} rejected < {case.rows} rows")
    return None


def through_upload(case: Case, limits: dict[str, float] | None = None) -> Outcome:
    """The upload page's reading path: bytes with their name, layers listed, then read."""
    from ims_geo.errors import ImsGeoError
    from ims_geo.ingest import list_layers, read_works

    chosen = _limits(case, limits or {})
    try:
        layers = list_layers(case.data, name=case.name, limits=chosen)
        result = read_works(
            case.data,
            name=case.name,
            org=ORG,
            layer=layers[0] if len(layers) > 1 else None,
            limits=chosen,
            **case.options,
        )
    except ImsGeoError as exc:
        if case.name not in str(exc) and "crs" not in str(exc).lower():
            return Outcome("crash", f"refusal does not name the file: {exc}")
        return Outcome("refused", str(exc))
    except Exception as exc:  # anything else is what we hunt
        return Outcome("crash", f"{type(exc).__name__}: {exc}")
    judged = _judge_rows(case, len(result.works), len(result.rejected))
    return judged or Outcome("accepted", f"{len(result.works)} accepted", result)


def through_cli(case: Case, folder: Path, limits: dict[str, float] | None = None) -> Outcome:
    """``ims-geo import FILE --org Fuzz --store ...`` through click's runner."""
    from click.testing import CliRunner

    from ims_geo.cli import main

    path = folder / case.name
    path.write_bytes(case.data)
    args = ["import", str(path), "--org", ORG, "--store", str(folder / "store.gpkg")]
    if "crs" in case.options:
        args += ["--crs", case.options["crs"]]
    if "encoding" in case.options:
        args += ["--encoding", case.options["encoding"]]
    for key, value in ((limits or {}) | case.limits).items():
        args += ["--limit", f"{key}={value}"]
    result = CliRunner().invoke(main, args, catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return Outcome("crash", f"{type(result.exception).__name__}: {result.exception}")
    if "Traceback" in output:
        return Outcome("crash", output[-300:])
    accepted = _count(output, "accepted")
    rejected = _count(output, "rejected")
    if result.exit_code != 0 or accepted is None:
        return Outcome("refused", output.strip().splitlines()[-1] if output.strip() else "")
    judged = _judge_rows(case, accepted, rejected or 0)
    return judged or Outcome("accepted", f"{accepted} accepted")


def _count(output: str, what: str) -> int | None:
    for line in output.splitlines():
        if line.strip().startswith(f"{what}:"):
            return int(line.split(":")[1])
    return None


def store_check(result: Any, folder: Path) -> Outcome | None:
    """Store an accepted result, then run every reader and writer; None when all work."""
    from ims_geo.errors import ImsGeoError
    from ims_geo.store import open_store

    if result is None or result.works.empty:
        return None
    store = open_store(folder / "check.gpkg")
    try:
        store.import_plan(
            result.works,
            org=ORG,
            cycle=2027,
            rejected=result.rejected,
            allow_empty=True,
            replace=True,
        )
    except ImsGeoError as exc:
        return Outcome("refused", f"store refused: {exc}")
    return readers_check(folder / "check.gpkg", folder, result.rejected)


def readers_check(store_path: Path, folder: Path, rejected: Any = None) -> Outcome | None:
    """Every later reader and writer over a store: conflicts, the map, every export format."""
    from ims_geo import export, maps
    from ims_geo.conflicts import find_conflicts
    from ims_geo.store import open_store

    try:
        works = open_store(store_path).works()
        conflicts = find_conflicts(works)
        maps.prepare(works)
        for suffix in (".csv", ".xlsx", ".geojson", ".gpkg", ".zip"):
            export.write(works, folder / f"works{suffix}", layer="works")
            export.write(conflicts, folder / f"conflicts{suffix}", layer="conflicts")
            if rejected is not None:
                export.write(rejected, folder / f"rejected{suffix}", layer="rejected")
    except Exception as exc:  # anything here means a poisoned store
        return Outcome("store broken", f"{type(exc).__name__}: {exc}")
    return None
