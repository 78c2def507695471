"""The embedded works store: one GeoPackage file, no server.

Layout (every table registered in ``gpkg_contents``, so QGIS and GDAL open
the file as an ordinary GeoPackage):

``works``
    features: every version's works, tagged with ``version_id``; the
    canonical columns with real DATE / BOOLEAN / REAL columns, and the
    organisation's extra columns as one JSON text column ``extra``.
``current_works``
    features (a view): the works of every organisation's current version.
``plan_versions``
    attributes: one row per imported plan (org, cycle, version,
    uploaded_at, source, counts, ``is_current``, extra-column dtypes).
``rejected``
    attributes: the rows rejected at import, their own columns as JSON and
    their geometry as WKT.
``store_meta``
    attributes: schema version, revision token, secret for opaque ids.

Everything is read and written with Python's sqlite3 only. An import is
one SQLite transaction (rows, version records and current flags of every
organisation in it, revision), so a failure leaves every previous version
current and no partial version behind; the file runs in WAL mode, so
readers keep reading the last committed state while an import is being
written. (GDAL is never used on
the store file inside the process: two SQLite libraries in one process do
not see each other's file locks.) The works table has no spatial index:
the store is always read whole, by version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.enums import WktVersion

from ims_geo.errors import StoreError
from ims_geo.schema import COLUMNS, DATE_COLUMNS, EXCAVATION, GEOMETRY, NUMBER_COLUMNS
from ims_geo.store.base import (
    EXTRA,
    RECORD_COLUMNS,
    REJECTED_STORED,
    ROW_COLUMNS,
    VERSION_ID,
    Payload,
    PlanVersion,
    Store,
    decode_records,
    new_revision,
    new_salt,
    storage_columns,
)
from ims_geo.store.cycle_tables import create_sqlite as create_cycle_tables
from ims_geo.store.locks import LOCK_TIMEOUT_ENV, lock_timeout_seconds

SCHEMA_VERSION = "1"
_APPLICATION_ID = 0x47504B47  # "GPKG"
_USER_VERSION = 10400  # GeoPackage 1.4
# bytes of the envelope after the 8-byte GeoPackage geometry header, by envelope code
_ENVELOPE_BYTES = (0, 32, 48, 48, 64, 0, 0, 0)
_HEADER = np.dtype(
    [
        ("magic", "S2"),
        ("version", "u1"),
        ("flags", "u1"),
        ("srs_id", "<i4"),
        ("envelope", "<f8", (4,)),
    ]
)
_CUSTOM_SRS_ID = 100000


def _sql_type(column: str) -> str:
    if column in DATE_COLUMNS:
        return "DATE"
    if column == EXCAVATION:
        return "BOOLEAN"
    if column in NUMBER_COLUMNS:
        return "REAL"
    return "TEXT"


_REQUIRED = {"work_id", "org", "discipline", "layer", "start_date", "end_date", "excavation",
             "status", "visibility"}  # fmt: skip
_WORK_COLUMNS = ",\n  ".join(
    f'"{c}" {_sql_type(c)}{" NOT NULL" if c in _REQUIRED else ""}' for c in COLUMNS
)
_QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)

_CREATE = f"""
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
INSERT INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system');
CREATE TABLE store_meta (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, value TEXT NOT NULL);
CREATE TABLE plan_versions (
  version_id INTEGER PRIMARY KEY AUTOINCREMENT, org TEXT NOT NULL, cycle INTEGER NOT NULL,
  version INTEGER NOT NULL, uploaded_at DATETIME NOT NULL, source TEXT NOT NULL,
  n_works INTEGER NOT NULL, n_rejected INTEGER NOT NULL, is_current BOOLEAN NOT NULL,
  first_start DATE, last_end DATE, extras TEXT NOT NULL, UNIQUE (org, cycle, version));
CREATE TABLE works (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  geometry GEOMETRY NOT NULL,
  version_id INTEGER NOT NULL REFERENCES plan_versions(version_id),
  {_WORK_COLUMNS},
  extra TEXT);
CREATE INDEX works_version_id ON works(version_id);
CREATE VIEW current_works AS
  SELECT w.fid AS fid, w.geometry AS geometry, w.version_id AS version_id,
    {", ".join(f'w."{c}" AS "{c}"' for c in COLUMNS)}, w.extra AS extra
  FROM works w JOIN plan_versions p ON p.version_id = w.version_id WHERE p.is_current = 1;
CREATE TABLE rejected (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  version_id INTEGER NOT NULL REFERENCES plan_versions(version_id), org TEXT NOT NULL,
  source_row INTEGER, source_file TEXT, reason TEXT NOT NULL, attributes TEXT,
  geometry_wkt TEXT);
CREATE INDEX rejected_version_id ON rejected(version_id);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES
  ('works', 'features', 'works', 'planned works of every plan version', -1),
  ('current_works', 'features', 'current_works', 'works of the current plan versions', -1),
  ('plan_versions', 'attributes', 'plan_versions', 'imported plan versions', NULL),
  ('rejected', 'attributes', 'rejected', 'rows rejected at import', NULL),
  ('store_meta', 'attributes', 'store_meta', 'ims_geo store settings', NULL);
INSERT INTO gpkg_geometry_columns VALUES
  ('works', 'geometry', 'GEOMETRY', -1, 2, 0),
  ('current_works', 'geometry', 'GEOMETRY', -1, 2, 0);
"""


class GeoPackageStore(Store):
    """Works store in one GeoPackage file (the embedded default).

    Parameters
    ----------
    path
        The ``.gpkg`` file; created (with its folders) when missing.
    acting_org
        See :class:`~ims_geo.store.base.Store`.

    Examples
    --------
    >>> store = GeoPackageStore("data/ims.gpkg")  # doctest: +SKIP
    >>> store.import_plan(result.works, org="Waternet", cycle=2027)  # doctest: +SKIP
    >>> store.works()  # doctest: +SKIP
    """

    def __init__(
        self, path: str | Path, *, acting_org: str | None = None, lock_timeout: float | None = None
    ) -> None:
        super().__init__(acting_org=acting_org)
        #: Seconds an import waits for another one (SQLite busy timeout).
        self.lock_timeout = lock_timeout_seconds(lock_timeout)
        self.path = Path(path).expanduser()
        if self.path.suffix.lower() != ".gpkg":
            raise StoreError(
                f"store file {self.path} must be a GeoPackage ending in .gpkg; "
                "give a path such as data/ims.gpkg"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for store {self.path}: {exc}") from exc
        self._crs: CRS | None = None
        self._salt_value: str | None = None
        self._open()

    @property
    def location(self) -> str:
        return str(self.path)

    # --- connection and set-up ---------------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection (one per operation: safe across threads)."""
        try:
            con = sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        try:
            yield con
        except sqlite3.DatabaseError as exc:
            name = str(getattr(exc, "sqlite_errorname", ""))
            if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                raise StoreError(
                    f"store {self.path}: another import is running and did not finish within "
                    f"{self.lock_timeout:g} s; try again when it is done (or raise "
                    f"{LOCK_TIMEOUT_ENV})"
                ) from exc
            if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
                raise StoreError(
                    f"store {self.path} is damaged ({exc}); restore it from a backup or "
                    "start a new store"
                ) from exc
            raise StoreError(f"store {self.path} could not be read or written ({exc})") from exc
        finally:
            con.close()

    def _open(self) -> None:
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as head:
                magic = head.read(16)
            if magic != b"SQLite format 3\x00":
                raise StoreError(
                    f"{self.path} is not a GeoPackage (not an SQLite file); "
                    "give the path of an ims_geo store or of a new .gpkg file"
                )
        with self._connect() as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            if "store_meta" in tables:
                version = con.execute(
                    "SELECT value FROM store_meta WHERE key = 'schema_version'"
                ).fetchone()
                if version is None or version[0] != SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path} was written by another ims_geo store version "
                        f"({version[0] if version else 'unknown'}, this one reads "
                        f"{SCHEMA_VERSION}); upgrade ims_geo or start a new store"
                    )
                create_cycle_tables(con)  # stores written before the planning cycle
                return
            if tables:
                raise StoreError(
                    f"{self.path} is a database but not an ims_geo store; give a new file "
                    "name (the store does not write into other GeoPackages)"
                )
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("BEGIN IMMEDIATE")
            try:
                if con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0:
                    self._create(con)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _create(con: sqlite3.Connection) -> None:
        con.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {_USER_VERSION}")
        for statement in _CREATE.split(";"):
            if statement.strip():
                con.execute(statement)
        con.executemany(
            "INSERT INTO store_meta (key, value) VALUES (?, ?)",
            [
                ("schema_version", SCHEMA_VERSION),
                ("salt", new_salt()),
                ("revision", new_revision()),
            ],
        )
        create_cycle_tables(con)

    # --- reading ---------------------------------------------------------------------
    @property
    def crs(self) -> CRS | None:
        if self._crs is None:  # set once by the first import, never changed
            with self._connect() as con:
                self._crs = _read_crs(con)
        return self._crs

    def revision(self) -> str:
        with self._connect() as con:
            return str(
                con.execute("SELECT value FROM store_meta WHERE key = 'revision'").fetchone()[0]
            )

    def _salt(self) -> str:
        if self._salt_value is None:
            with self._connect() as con:
                row = con.execute("SELECT value FROM store_meta WHERE key = 'salt'").fetchone()
            self._salt_value = str(row[0])
        return self._salt_value

    def _records(self) -> pd.DataFrame:
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {', '.join(RECORD_COLUMNS)} FROM plan_versions ORDER BY version_id"
            ).fetchall()
        return decode_records(rows)

    def _fetch_works(
        self, version_ids: Sequence[int], *, signals: bool = False
    ) -> dict[str, Sequence[Any]]:
        # no signals from the file: a GeoPackage store anonymises in Python (_read)
        marks = ", ".join("?" * len(version_ids))
        with self._connect() as con:
            rows = con.execute(
                f"SELECT version_id, {_QUOTED}, extra, geometry FROM works "
                f"WHERE version_id IN ({marks}) ORDER BY fid",
                list(version_ids),
            ).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(ROW_COLUMNS)
        out: dict[str, Sequence[Any]] = dict(zip(ROW_COLUMNS, columns, strict=True))
        out[GEOMETRY] = _wkb_from_gpkg(out[GEOMETRY])
        return out

    def _fetch_rejected(self, version_ids: Sequence[int]) -> pd.DataFrame:
        marks = ", ".join("?" * len(version_ids))
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {', '.join(REJECTED_STORED)} FROM rejected "
                f"WHERE version_id IN ({marks}) ORDER BY fid",
                list(version_ids),
            ).fetchall()
        return pd.DataFrame(rows, columns=list(REJECTED_STORED), dtype=object)

    # --- writing ----------------------------------------------------------------------
    def _commit(
        self, prepare: Callable[[CRS | None, Mapping[str, int]], Sequence[Payload]]
    ) -> list[PlanVersion]:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")  # one writer at a time; readers go on
            try:
                versions = self._write(con, prepare)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return versions

    def _write(
        self,
        con: sqlite3.Connection,
        prepare: Callable[[CRS | None, Mapping[str, int]], Sequence[Payload]],
    ) -> list[PlanVersion]:
        store_crs = _read_crs(con)
        current = {
            str(org): int(version_id)
            for org, version_id in con.execute(
                "SELECT org, version_id FROM plan_versions WHERE is_current"
            )
        }
        payloads = prepare(store_crs, current)
        if store_crs is None and payloads:
            _set_crs(con, payloads[0].crs)
        versions = [self._write_version(con, payload) for payload in payloads]
        con.execute("UPDATE store_meta SET value = ? WHERE key = 'revision'", (new_revision(),))
        return versions

    def _write_version(self, con: sqlite3.Connection, payload: Payload) -> PlanVersion:
        """One new version of ``payload.org``, made current (inside the transaction)."""
        org, cycle = payload.org, payload.cycle
        number = con.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM plan_versions WHERE org = ?", (org,)
        ).fetchone()[0]
        uploaded = payload.uploaded_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        version_id = con.execute(
            "INSERT INTO plan_versions (org, cycle, version, uploaded_at, source, n_works, "
            "n_rejected, is_current, first_start, last_end, extras) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            (
                org, cycle, number, uploaded, payload.source, len(payload.works),
                len(payload.rejected), _iso_day(payload.first_start), _iso_day(payload.last_end),
                payload.extras,
            ),
        ).lastrowid  # fmt: skip
        assert version_id is not None
        self._insert_works(con, version_id, payload.works)
        rejected = payload.rejected.assign(**{VERSION_ID: version_id})
        con.executemany(
            f"INSERT INTO rejected ({', '.join(REJECTED_STORED)}) "
            f"VALUES ({', '.join('?' * len(REJECTED_STORED))})",
            rejected.loc[:, list(REJECTED_STORED)].itertuples(index=False, name=None),
        )
        con.execute(
            "UPDATE plan_versions SET is_current = (version_id = ?) WHERE org = ?",
            (version_id, org),
        )
        _update_extent(con, payload.works)
        return PlanVersion(
            version_id=int(version_id),
            org=org,
            cycle=cycle,
            version=int(number),
            uploaded_at=payload.uploaded_at,
            source=payload.source,
            n_works=len(payload.works),
            n_rejected=len(payload.rejected),
        )

    def _insert_works(
        self, con: sqlite3.Connection, version_id: int, works: gpd.GeoDataFrame
    ) -> None:
        """Append one version's rows (inside the import transaction)."""
        if works.empty:
            return
        srs_id = con.execute(
            "SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = 'works'"
        ).fetchone()[0]
        columns = storage_columns(works)
        blobs = _gpkg_blobs(works.geometry.to_numpy(), srs_id)
        con.executemany(
            f"INSERT INTO works (version_id, {_QUOTED}, extra, geometry) "
            f"VALUES ({', '.join('?' * (len(COLUMNS) + 3))})",
            zip(
                [version_id] * len(works),
                *(columns[c] for c in COLUMNS),
                columns[EXTRA],
                blobs,
                strict=True,
            ),
        )


# --- GeoPackage details --------------------------------------------------------------
def _iso_day(value: pd.Timestamp | None) -> str | None:
    return None if value is None or pd.isna(value) else value.strftime("%Y-%m-%d")


def _read_crs(con: sqlite3.Connection) -> CRS | None:
    row = con.execute(
        "SELECT s.srs_id, s.organization, s.organization_coordsys_id, s.definition "
        "FROM gpkg_geometry_columns g JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id "
        "WHERE g.table_name = 'works'"
    ).fetchone()
    if row is None or row[0] in (-1, 0):
        return None
    if str(row[1]).upper() == "EPSG":
        return CRS.from_epsg(int(row[2]))
    return CRS.from_user_input(row[3])


def _set_crs(con: sqlite3.Connection, crs: CRS) -> None:
    """Register ``crs`` and make it the CRS of the works layers."""
    authority = crs.to_authority(min_confidence=100)
    if authority is not None and authority[0].upper() == "EPSG":
        srs_id, organization, code = int(authority[1]), "EPSG", int(authority[1])
    else:
        srs_id, organization, code = _CUSTOM_SRS_ID, "NONE", _CUSTOM_SRS_ID
    definition = crs.to_wkt(WktVersion.WKT1_GDAL) or crs.to_wkt()
    con.execute(
        "INSERT OR IGNORE INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, "
        "organization_coordsys_id, definition) VALUES (?, ?, ?, ?, ?)",
        (crs.name, srs_id, organization, code, definition),
    )
    con.execute(
        "UPDATE gpkg_geometry_columns SET srs_id = ? "
        "WHERE table_name IN ('works', 'current_works')",
        (srs_id,),
    )
    con.execute(
        "UPDATE gpkg_contents SET srs_id = ? WHERE table_name IN ('works', 'current_works')",
        (srs_id,),
    )


def _update_extent(con: sqlite3.Connection, works: gpd.GeoDataFrame) -> None:
    """Grow the layers' extent in gpkg_contents (what GIS zoom-to-layer uses)."""
    if works.empty:
        return
    minx, miny, maxx, maxy = (float(v) for v in works.total_bounds)
    con.execute(
        "UPDATE gpkg_contents SET min_x = MIN(COALESCE(min_x, ?), ?), "
        "min_y = MIN(COALESCE(min_y, ?), ?), max_x = MAX(COALESCE(max_x, ?), ?), "
        "max_y = MAX(COALESCE(max_y, ?), ?), "
        "last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
        "WHERE table_name IN ('works', 'current_works')",
        (minx, minx, miny, miny, maxx, maxx, maxy, maxy),
    )


def _gpkg_blobs(geoms: np.ndarray, srs_id: int) -> list[bytes]:
    """GeoPackage geometry blobs: header with the xy envelope, then ISO WKB."""
    wkb = shapely.to_wkb(geoms, flavor="iso", byte_order=1)
    header = np.zeros(len(geoms), dtype=_HEADER)
    header["magic"] = b"GP"
    header["flags"] = 0b00011  # little endian, envelope [minx, maxx, miny, maxy]
    header["srs_id"] = srs_id
    header["envelope"] = shapely.bounds(geoms)[:, [0, 2, 1, 3]]
    raw = header.tobytes()
    size = _HEADER.itemsize
    return [raw[i * size : (i + 1) * size] + w for i, w in enumerate(wkb.tolist())]


def _wkb_from_gpkg(blobs: Sequence[bytes]) -> list[bytes]:
    """WKB of GeoPackage geometry blobs (header and envelope stripped)."""
    return [b[8 + _ENVELOPE_BYTES[(b[3] >> 1) & 7] :] for b in blobs]
