"""Small helpers shared by the planning-cycle modules (dates, geometry, checks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ims_geo.errors import InputError, StoreError

if TYPE_CHECKING:
    from ims_geo.store.base import Store

#: Earliest and latest cycle year accepted.
_YEARS = (1900, 2200)


def checked_cycle(cycle: object) -> int:
    """``cycle`` as a year, or an error that says what a cycle is."""
    try:
        year = int(str(cycle).strip())
    except (TypeError, ValueError):
        raise InputError(f"cycle {cycle!r} is not a year; give it as e.g. 2027") from None
    if not _YEARS[0] <= year <= _YEARS[1]:
        raise InputError(f"cycle {year} is not a plausible year ({_YEARS[0]}-{_YEARS[1]})")
    return year


def require_coordinator(store: Store, doing: str) -> None:
    """Refuse a signed-in user whose role may not coordinate, before any work is done.

    The database refuses such a write anyway (row-level security), but only
    at the end, after a proposal has been computed, and in its own words.

    Parameters
    ----------
    store
        The store the cycle is written to.
    doing
        What was asked, completing "may not ...", e.g. ``"adopt a programme"``.
    """
    _require(
        store, doing, "can_coordinate",
        "proposing and adopting programmes and setting cycle targets is for coordinators and "
        "admins",
    )  # fmt: skip


def require_writer(store: Store, doing: str) -> None:
    """Refuse a signed-in user whose role may not write (a viewer), before any work is done.

    The database refuses the write anyway (row-level security), but in its
    own words ("new row violates row-level security policy ...").

    Parameters
    ----------
    store
        The store the cycle is written to.
    doing
        What was asked, completing "may not ...", e.g. ``"report progress"``.
    """
    _require(
        store, doing, "can_write", "a viewer reads, planners, coordinators and admins make changes"
    )


def _require(store: Store, doing: str, right: str, why: str) -> None:
    """Raise when the store's signed-in identity lacks ``right`` (an :class:`Identity` flag)."""
    identity = store.identity
    if identity is not None and not getattr(identity, right):
        raise StoreError(f"store {store.location}: {identity.who} may not {doing}; {why}")


def now_text() -> str:
    """The current UTC time as ISO text (what the tables store)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def day_text(value: Any) -> str | None:
    """A date as 'YYYY-MM-DD' (None when missing)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def days(values: Sequence[Any] | pd.Series) -> pd.Series:
    """Stored dates (text or date objects, None) as ``datetime64[s]``."""
    raw = np.asarray(list(values), dtype=object)
    raw[pd.isna(raw)] = None  # NaN / NA / NaT as missing
    # numpy reads ISO text, date objects and None (NaT) directly, far faster than pandas
    return pd.Series(raw.astype("datetime64[D]").astype("datetime64[s]"))


def day_numbers(values: pd.Series) -> np.ndarray:
    """Dates as whole days since 1970-01-01 (float, NaN where missing)."""
    stamps = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
    out = stamps.astype("int64").astype("float64")
    out[np.isnat(stamps)] = np.nan
    return out


def to_hex(geoms: np.ndarray) -> list[str]:
    """Geometries as hexadecimal WKB (exact, the store keeps them as text)."""
    return [str(h) for h in shapely.to_wkb(geoms, hex=True, output_dimension=2)]


def from_hex(values: Sequence[Any]) -> np.ndarray:
    """Hexadecimal WKB back to geometries."""
    return shapely.from_wkb(np.asarray(list(values), dtype=object))


def flag(value: Any) -> bool:
    """A stored boolean (0/1 in a GeoPackage, true/false in PostgreSQL)."""
    return bool(value) and str(value).lower() not in ("0", "false", "f")


def rows_seen(store: Store, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows about one work each (``org``, ``work_id``) as the reader may see them.

    A shared store's database already shows another organisation's rows only
    while their work is in its current plan and not private; a store read on
    behalf of an organisation without such a database (GeoPackage with an
    acting organisation) applies the same rule here.
    """
    from ims_geo.store.base import named_now

    if store.database_anonymises or store.acting_org is None or frame.empty:
        return frame
    return frame[named_now(store, frame["org"], frame["work_id"])]
