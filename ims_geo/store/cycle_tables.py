"""Tables of the planning cycle, the same in the GeoPackage and the PostGIS store.

The works tables (:mod:`ims_geo.store.base`) hold what organisations plan;
these tables hold what the area decided and what happened:

``cycles``
    one row per cycle year: ``full_revision`` (the once-per-election-period
    review in which every organisation re-submits its plan).
``cycle_targets``
    the named target numbers of a cycle (``kpi``, ``target``, ``custom``).
``programme_revisions``
    every adoption of a programme: cycle, revision number (1, 2, ... per
    cycle), decision reference and date, reason.
``programme_projects``
    the combined projects of a revision: lead organisation, joint period,
    cost, savings and the rule the cost was split by.
``programme_members``
    every work of a revision (combined or on its own) with its adopted
    period, execution order, cost share and funding year; ``org`` owns the row.
``progress_reports``
    what organisations reported (status, actual start and end, remark); ``org``.
``moratoria``
    protected new surfaces (``source_org``, ``source_work_id``, validity,
    geometry as hexadecimal WKB in the store CRS); ``org`` registered it.
``moratorium_exemptions``
    works allowed to dig in a moratorium (emergency, a named decision).

Rows are written once and never updated, except ``cycles`` and
``cycle_targets`` (settings). The SQL is written once, with ``:name``
parameters that both sqlite3 and SQLAlchemy understand; :func:`transaction`
hands out one transaction on either backend. The tables are created when a
store is opened (:func:`create_sqlite`, :func:`create_postgres`), so an
older store gets them on its next open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ims_geo.errors import StoreError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ims_geo.store.base import Store

#: Table names, in creation order.
TABLES: tuple[str, ...] = (
    "cycles", "cycle_targets", "programme_revisions", "programme_projects",
    "programme_members", "progress_reports", "moratoria", "moratorium_exemptions",
)  # fmt: skip

_DESCRIPTIONS = {
    "cycles": "planning cycle years (full revision flag)",
    "cycle_targets": "target numbers per cycle",
    "programme_revisions": "adopted programmes (numbered revisions)",
    "programme_projects": "combined projects of adopted programmes",
    "programme_members": "works of adopted programmes",
    "progress_reports": "progress reported per work",
    "moratoria": "protected new surfaces",
    "moratorium_exemptions": "works exempted from a moratorium",
}

# ``{t}`` is the table prefix: "" in a GeoPackage, "<schema>." in PostGIS.
_DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS {t}cycles (
  year INTEGER PRIMARY KEY, full_revision BOOLEAN NOT NULL, note TEXT,
  updated_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {t}cycle_targets (
  cycle INTEGER NOT NULL, kpi TEXT NOT NULL, target DOUBLE PRECISION NOT NULL,
  custom BOOLEAN NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (cycle, kpi))""",
    """CREATE TABLE IF NOT EXISTS {t}programme_revisions (
  revision_id INTEGER PRIMARY KEY, cycle INTEGER NOT NULL, revision INTEGER NOT NULL,
  decision TEXT NOT NULL, decision_date DATE NOT NULL, reason TEXT, source TEXT NOT NULL,
  adopted_at TEXT NOT NULL, crs TEXT, UNIQUE (cycle, revision))""",
    """CREATE TABLE IF NOT EXISTS {t}programme_projects (
  revision_id INTEGER NOT NULL, project TEXT NOT NULL, lead_org TEXT NOT NULL,
  joint_start DATE NOT NULL, joint_end DATE NOT NULL, cost_eur DOUBLE PRECISION NOT NULL,
  savings_eur DOUBLE PRECISION NOT NULL, split_rule TEXT NOT NULL, n_members INTEGER NOT NULL,
  PRIMARY KEY (revision_id, project))""",
    """CREATE TABLE IF NOT EXISTS {t}programme_members (
  revision_id INTEGER NOT NULL, project TEXT, org TEXT NOT NULL, work_id TEXT NOT NULL,
  title TEXT, discipline TEXT NOT NULL, layer TEXT NOT NULL, excavation BOOLEAN NOT NULL,
  planned_start DATE, planned_end DATE, start_date DATE NOT NULL, end_date DATE NOT NULL,
  exec_order INTEGER, cost_eur DOUBLE PRECISION, cost_share_eur DOUBLE PRECISION NOT NULL,
  funding_year INTEGER NOT NULL, length_m DOUBLE PRECISION NOT NULL, geometry_wkb TEXT NOT NULL,
  PRIMARY KEY (revision_id, org, work_id))""",
    """CREATE TABLE IF NOT EXISTS {t}progress_reports (
  report_id INTEGER PRIMARY KEY, cycle INTEGER NOT NULL, org TEXT NOT NULL,
  work_id TEXT NOT NULL, status TEXT NOT NULL, actual_start DATE, actual_end DATE,
  remark TEXT, source TEXT NOT NULL, reported_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {t}moratoria (
  moratorium_id INTEGER PRIMARY KEY, org TEXT NOT NULL, source_org TEXT NOT NULL,
  source_work_id TEXT NOT NULL, valid_from DATE NOT NULL, valid_until DATE NOT NULL,
  source TEXT NOT NULL, created_at TEXT NOT NULL, geometry_wkb TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS {t}moratorium_exemptions (
  exemption_id INTEGER PRIMARY KEY, moratorium_id INTEGER NOT NULL, org TEXT NOT NULL,
  exempt_org TEXT NOT NULL, exempt_work_id TEXT, kind TEXT NOT NULL, decision TEXT,
  granted_at TEXT NOT NULL)""",
)


def create_sqlite(con: sqlite3.Connection) -> None:
    """Create the missing cycle tables in a GeoPackage (registered as attribute tables)."""
    present = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if all(t in present for t in TABLES):
        return
    own = not con.in_transaction
    if own:
        con.execute("BEGIN IMMEDIATE")
    try:
        for statement in _DDL:
            con.execute(statement.format(t=""))
        con.executemany(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) "
            "VALUES (?, 'attributes', ?, ?)",
            [(t, t, _DESCRIPTIONS[t]) for t in TABLES],
        )
        if own:
            con.execute("COMMIT")
    except BaseException:
        if own:
            con.execute("ROLLBACK")
        raise


def create_postgres(conn: sa.Connection, schema: str) -> None:
    """Create the missing cycle tables in the store's PostgreSQL schema."""
    import sqlalchemy as sa

    for statement in _DDL:
        conn.execute(sa.text(statement.format(t=f"{schema}.")))


class Transaction:
    """One transaction on the cycle tables of either backend.

    ``sql`` uses ``{t}`` before every table name and ``:name`` parameters.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _sql(self, sql: str) -> str:
        return sql.replace("{t}", self.prefix)

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a query."""
        raise NotImplementedError

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run one statement."""
        raise NotImplementedError

    def many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement for every row of parameters."""
        raise NotImplementedError

    def next_id(self, table: str, column: str) -> int:
        """The next free id of ``table.column`` (writers are serialised)."""
        return int(self.rows(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {{t}}{table}")[0][0])


class _SqliteTransaction(Transaction):
    def __init__(self, con: sqlite3.Connection) -> None:
        super().__init__("")
        self.con = con

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.con.execute(self._sql(sql), dict(params or {}))]

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self.con.execute(self._sql(sql), dict(params or {}))

    def many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.con.executemany(self._sql(sql), [dict(r) for r in rows])


class _SqlAlchemyTransaction(Transaction):
    def __init__(self, conn: sa.Connection, schema: str) -> None:
        super().__init__(f"{schema}.")
        self.conn = conn

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        import sqlalchemy as sa

        return [tuple(r) for r in self.conn.execute(sa.text(self._sql(sql)), dict(params or {}))]

    def run(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        import sqlalchemy as sa

        self.conn.execute(sa.text(self._sql(sql)), dict(params or {}))

    def many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        import sqlalchemy as sa

        if rows:
            self.conn.execute(sa.text(self._sql(sql)), [dict(r) for r in rows])


@contextmanager
def transaction(store: Store, *, write: bool = False) -> Iterator[Transaction]:
    """One transaction on ``store``'s cycle tables; committed when the block ends.

    With ``write`` the transaction holds the store's writer lock from its
    start, so numbers handed out inside it (revisions, ids) are unique.
    Anything raised inside the block rolls everything back.
    """
    from ims_geo.store.gpkg import GeoPackageStore

    if isinstance(store, GeoPackageStore):
        with store._connect() as con:
            create_sqlite(con)
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _SqliteTransaction(con)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return
    engine = getattr(store, "_engine", None)
    schema = getattr(store, "schema", None)
    if engine is None or schema is None:
        raise StoreError(f"{store!r} keeps no planning-cycle tables")
    import sqlalchemy as sa

    try:
        with engine.begin() as conn:
            if write:
                conn.execute(sa.text(f"LOCK TABLE {schema}.cycles IN EXCLUSIVE MODE"))
            yield _SqlAlchemyTransaction(conn, schema)
    except sa.exc.SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip()
        raise StoreError(
            f"store {store.location}: could not read or write the planning-cycle tables ({cause})"
        ) from exc
