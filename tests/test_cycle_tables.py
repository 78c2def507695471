"""A failed transaction on the planning-cycle tables: the product's error, nothing changed."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import sqlalchemy as sa

from ims_geo import cycle
from ims_geo.errors import StoreError
from ims_geo.store import open_store
from ims_geo.store.cycle_tables import TABLES, transaction
from ims_geo.store.locks import LOCK_TIMEOUT_ENV

SCHEMA = "ims_geo"


def _tables(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every cycle table and the store's revision, in a fixed order."""
    with engine.connect() as conn:
        rows = {
            table: sorted(
                (tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {SCHEMA}.{table}"))),
                key=repr,
            )
            for table in TABLES
        }
        rows["revision"] = list(
            conn.execute(sa.text(f"SELECT value FROM {SCHEMA}.store_meta WHERE key = 'revision'"))
        )
    return rows


@pytest.mark.postgis
def test_a_failed_cycle_write_on_postgis_is_the_stores_error_and_changes_nothing(
    postgis_url: str,
) -> None:
    store = open_store(postgis_url)
    cycle.set_targets(store, 2027, {"combined_share": 0.5})
    engine = sa.create_engine(postgis_url)
    try:
        before = _tables(engine)
        assert len(before["cycle_targets"]) == 1
        # a row written, then one the database refuses: the whole transaction is undone
        insert = "INSERT INTO {t}cycles VALUES (:y, false, NULL, 'now')"
        with pytest.raises(StoreError) as refused:
            with transaction(store, write=True) as tx:
                tx.run(insert, {"y": 2031})
                tx.run(insert, {"y": 2031})
        said = str(refused.value)
        assert said.startswith(
            f"store {store.location}: could not change the planning cycle (duplicate key value "
            'violates unique constraint "cycles_pkey"'
        ), said
        assert isinstance(refused.value.__cause__, sa.exc.IntegrityError)
        assert _tables(engine) == before
        # another writer holds the cycle tables: the lock is not granted in time
        waiting = open_store(postgis_url, lock_timeout=0.2)
        with engine.connect() as holder:
            holder.execute(sa.text(f"LOCK TABLE {SCHEMA}.cycles IN EXCLUSIVE MODE"))
            with pytest.raises(StoreError) as busy:
                cycle.set_targets(waiting, 2027, {"combined_share": 0.9})
            holder.rollback()
        assert str(busy.value) == (
            f"store {store.location}: could not change the planning cycle: another import is "
            "running and did not finish within 0.2 s; try again when it is done (or raise "
            f"{LOCK_TIMEOUT_ENV})"
        )
        assert _tables(engine) == before
        waiting.close()
    finally:
        store.close()
        engine.dispose()


def test_every_store_turns_a_database_error_into_its_own_naming_what_was_asked(tmp_path) -> None:
    """The stores' hook: the store, what was asked and the database's reason, no password."""
    store = open_store(tmp_path / "s.gpkg")
    cause = sqlite3.OperationalError("no route to postgresql://planner:s3cret@db/ims")
    error = store.database_error(cause, "read the planning cycle")
    assert isinstance(error, StoreError)
    assert str(error) == (
        f"store {store.location}: could not read the planning cycle "
        "(no route to postgresql://planner:***@db/ims)"
    )
