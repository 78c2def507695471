"""What every works store does, whatever holds the data.

A store keeps every organisation's plan versions ("Fortschreibung"): each
import of an organisation's plan is a new version, numbered 1, 2, 3... per
organisation (whatever the cycle year it is for), and becomes that
organisation's *current* plan; older versions stay readable, comparable and
restorable (a restore is a new version with an earlier version's works).
Versions are never changed after they are written, so a reader that picked
the current version ids always reads a consistent picture, even while
another import runs.

A file may hold the plans of several organisations: :meth:`Store.import_plans`
stores one version per organisation in ONE transaction. A new version that
looks like the wrong file is refused before anything is written
(:class:`~ims_geo.errors.ImportRefusedError`): one with no accepted work,
and one that shares no ``work_id`` with a current plan of more than
:data:`UNRELATED_LIMIT` works, unless the caller says so explicitly.

:class:`Store` implements the public behaviour once (checks, CRS, extra
columns, anonymisation, comparisons); a backend
(:class:`~ims_geo.store.gpkg.GeoPackageStore`,
:class:`~ims_geo.store.postgis.PostGISStore`) only reads and writes rows,
and writes a version in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shlex
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ims_geo import sanity
from ims_geo.errors import ImportRefusedError, InputError, MissingCRSError, StoreError
from ims_geo.redact import redact
from ims_geo.schema import (
    COLUMNS,
    COST,
    DATE_COLUMNS,
    DEPTH_MAX,
    DEPTH_MIN,
    EARLIEST,
    END,
    EXCAVATION,
    FUNDING,
    GEOMETRY,
    LATEST,
    NUMBER_COLUMNS,
    ORG,
    REASON,
    SOURCE_FILE,
    SOURCE_ROW,
    START,
    TITLE,
    VISIBILITY,
    WORK_ID,
)

if TYPE_CHECKING:
    from ims_geo.access.roles import Identity

#: Environment variable with the default store location (path or URL).
STORE_ENV = "IMS_GEO_STORE"
#: Store used when neither an argument nor the environment names one.
DEFAULT_STORE = "data/ims.gpkg"
#: ``org`` shown for another organisation's private works.
PRIVATE_ORG = "private"
#: Prefix of the opaque ``work_id`` of another organisation's private works.
ANONYMOUS_PREFIX = "anon-"
#: A current plan with more works than this is not replaced by a new version
#: that shares none of its ``work_id`` values, unless the caller says ``replace``.
UNRELATED_LIMIT = 10
#: Columns of :func:`organisations_of`.
ORGANISATION_COLUMNS: tuple[str, ...] = (ORG, "works", "rejected", "stored")

VERSION_ID = "version_id"
#: ``version_id`` of an anonymous signal read from a shared store: the database
#: gives none (it would name the owner), and real ids start at 1.
SIGNAL_VERSION = 0
#: Stored text column with a work's extra (non-canonical) columns as JSON.
EXTRA = "extra"

#: Columns of :meth:`Store.plan_versions`.
VERSION_COLUMNS: tuple[str, ...] = (
    VERSION_ID, ORG, "cycle", "version", "uploaded_at", "source", "n_works",
    "n_rejected", "is_current",
)  # fmt: skip
#: Columns of :meth:`Store.summary`.
SUMMARY_COLUMNS: tuple[str, ...] = (
    ORG, "works", "first_start", "last_end", "cycle", "version", VERSION_ID, "uploaded_at",
)  # fmt: skip
#: Columns of :meth:`Store.compare_versions`.
COMPARE_COLUMNS: tuple[str, ...] = (
    WORK_ID, "change", TITLE, "old_start", "old_end", "new_start", "new_end",
    "shift_days", "end_shift_days", GEOMETRY,
)  # fmt: skip
#: Values of ``change`` in :meth:`Store.compare_versions`, in their sort order.
CHANGES: tuple[str, ...] = (
    "added", "dropped", "moved", "geometry changed", "moved, geometry changed",
)  # fmt: skip

#: Stored columns of a work, in the order backends read and write them.
ROW_COLUMNS: tuple[str, ...] = (VERSION_ID, *COLUMNS, EXTRA, GEOMETRY)
#: Columns of the stored version records (``plan_versions`` table).
RECORD_COLUMNS: tuple[str, ...] = (*VERSION_COLUMNS, "first_start", "last_end", "extras")
#: Stored columns of a rejected row.
REJECTED_STORED: tuple[str, ...] = (
    VERSION_ID, ORG, SOURCE_ROW, SOURCE_FILE, REASON, "attributes", "geometry_wkt",
)  # fmt: skip

_TEXT = ("work_id", "org", "discipline", "layer", "status", "visibility")
_OPTIONAL_TEXT = (TITLE, FUNDING)


@dataclass(frozen=True)
class PlanVersion:
    """One imported plan of one organisation.

    ``version`` counts the organisation's versions (1, 2, 3...), whatever
    the ``cycle`` year each is for: ``(org, version)`` names a version, as
    in ``ims-geo compare ORG 1 2`` and ``ims-geo restore ORG 1``.
    ``version_id`` is unique in the whole store and grows with every import.
    """

    version_id: int
    org: str
    cycle: int
    version: int
    uploaded_at: dt.datetime
    source: str
    n_works: int
    n_rejected: int


@dataclass(frozen=True)
class Payload:
    """Everything a backend writes for one new plan version, in the store CRS."""

    org: str
    cycle: int
    crs: CRS
    #: Works in :data:`ROW_COLUMNS` order without ``version_id``; geometry in ``crs``.
    works: gpd.GeoDataFrame
    #: Rejected rows as :data:`REJECTED_STORED` without ``version_id``.
    rejected: pd.DataFrame
    #: JSON list of ``[name, dtype]`` of the plan's extra columns.
    extras: str
    uploaded_at: dt.datetime
    source: str
    first_start: pd.Timestamp | None
    last_end: pd.Timestamp | None


class Store(ABC):
    """Plan versions of every organisation; the current ones make up the works.

    Parameters
    ----------
    acting_org
        The organisation using the store. When set, it may import only its
        own plans, sees only its own rejected rows, and sees other
        organisations' ``private`` works anonymised: ``org`` is
        ``"private"``, ``work_id`` an opaque stable id, title, cost, funding,
        depths and extra columns are blank, dates widened to whole months
        and the geometry to the 50 m grid cells it touches
        (:mod:`ims_geo.access.signals`); discipline, layer, excavation and
        status stay, so they still show as conflict signals. A PostGIS store
        sets it from the verified sign-in and lets the database anonymise.
    """

    #: True when the backend's reads already hide others' private works (PostGIS
    #: with a signed-in user: the database anonymises, Python must not do it twice).
    database_anonymises = False

    def __init__(self, *, acting_org: str | None = None) -> None:
        self.acting_org = acting_org

    # --- what a backend implements ------------------------------------------
    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store lives (file path or URL without password)."""

    @property
    @abstractmethod
    def crs(self) -> CRS | None:
        """The store's CRS: set by the first import, None while empty."""

    @abstractmethod
    def revision(self) -> str:
        """A token that changes with every committed import (a cache key)."""

    @abstractmethod
    def _records(self) -> pd.DataFrame:
        """Every stored version record, :data:`RECORD_COLUMNS`, by version_id."""

    @abstractmethod
    def _fetch_works(
        self, version_ids: Sequence[int], *, signals: bool = False
    ) -> dict[str, Sequence[Any]]:
        """Stored rows of ``version_ids`` as columns (:data:`ROW_COLUMNS`), in
        insertion order; dates as ISO text or dates, geometry as WKB.

        With ``signals``, a backend whose database anonymises (PostGIS) adds
        the anonymous signals of others' private current works, with
        ``version_id`` :data:`SIGNAL_VERSION`, after the other rows."""

    @abstractmethod
    def _fetch_rejected(self, version_ids: Sequence[int]) -> pd.DataFrame:
        """Stored rejected rows of ``version_ids`` (:data:`REJECTED_STORED`)."""

    @abstractmethod
    def _commit(
        self, prepare: Callable[[CRS | None, Mapping[str, int]], Sequence[Payload]]
    ) -> list[PlanVersion]:
        """Write new versions in ONE transaction and make each current for its org.

        ``prepare(store_crs, current)`` builds the payloads (at most one per
        organisation); it is called inside the transaction with the store's
        CRS (None for the first import), so concurrent first imports agree on
        one CRS, and with the ``version_id`` of every organisation's current
        version, so it can refuse when another import changed one since the
        checks. A version's number is the organisation's highest number + 1.
        Nothing is written when anything fails.
        """

    @abstractmethod
    def _salt(self) -> str:
        """The store's 16-character secret for opaque ids."""

    @property
    def identity(self) -> Identity | None:
        """Who the store acts for after a verified sign-in; None without one
        (always for the GeoPackage store, which has no users)."""
        return None

    def close(self) -> None:  # noqa: B027 (optional hook: not every store holds connections)
        """Release connections (the store can be used again afterwards)."""

    def database_error(self, exc: Exception, doing: str) -> StoreError:
        """The product's error for a database error met while ``doing`` something.

        A backend that knows more about its database's refusals (who may not,
        a busy or unreachable server) overrides it.

        Parameters
        ----------
        exc
            The error the database driver raised.
        doing
            What was asked, completing "could not ...", e.g. ``"read the planning cycle"``.

        Returns
        -------
        StoreError
            Names the store, what was asked and the database's reason (passwords masked);
            the caller raises it ``from exc``.
        """
        return StoreError(f"store {self.location}: could not {doing} ({database_cause(exc)})")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        acting = f", acting_org={self.acting_org!r}" if self.acting_org else ""
        return f"{type(self).__name__}({self.location!r}{acting})"

    # --- writing --------------------------------------------------------------
    def import_plan(
        self,
        works: gpd.GeoDataFrame,
        *,
        org: str,
        cycle: int,
        source: str = "",
        rejected: pd.DataFrame | None = None,
        allow_empty: bool = False,
        replace: bool = False,
    ) -> PlanVersion:
        """Store ``works`` as a new plan version of ``org`` and make it current.

        The new version replaces the organisation's current works atomically:
        if anything fails, the previous version stays current and nothing of
        the new one is visible. Works in another CRS than the store's are
        reprojected to it; the first import sets the store's CRS.

        Parameters
        ----------
        works
            Valid works of ``org`` in canonical columns and dtypes (the
            ``valid`` frame of :func:`ims_geo.schema.validate` or
            ``IngestResult.works``); extra columns are kept.
        org
            The organisation whose plan this is; every row's ``org`` must match.
        cycle
            The planning-cycle year the plan is for.
        source
            Where the plan came from (file name), shown in :meth:`plan_versions`.
        rejected
            The rows rejected while reading the plan, with ``reason`` (and
            ``source_row``, ``source_file`` when known); kept with the version.
        allow_empty, replace
            Store a plan that would otherwise be refused, see :meth:`import_plans`.

        Returns
        -------
        PlanVersion

        Raises
        ------
        ImportRefusedError
            The plan has no works, or shares no ``work_id`` with a current
            plan of more than :data:`UNRELATED_LIMIT` works; nothing stored.
        """
        org = str(org).strip()
        if not org:
            raise InputError("import_plan needs the organisation: pass org='...'")
        self._check_acting([org])
        frame = _checked_works(works, org)
        plan = _Plan(org, frame, rejected)
        return self._store_plans([plan], cycle, source, allow_empty, replace, {})[0]

    def import_plans(
        self,
        works: gpd.GeoDataFrame,
        rejected: pd.DataFrame | None = None,
        *,
        cycle: int,
        source: str = "",
        org: str | None = None,
        allow_empty: bool = False,
        replace: bool = False,
    ) -> list[PlanVersion]:
        """Store the plans of every organisation in ``works``, one version each, atomically.

        The works of each organisation (their ``org`` column) become a new
        plan version of that organisation, replacing only its own current
        plan; all versions are written in ONE transaction, so either every
        organisation's new plan is stored or, when anything fails, none and
        every organisation keeps its current plan. :func:`organisations_of`
        gives the same split as a table (for a report before or after).

        Parameters
        ----------
        works
            Valid works in canonical columns and dtypes (``IngestResult.works``),
            of one or several organisations.
        rejected
            The rows rejected while reading (``IngestResult.rejected``); each
            is kept with the version of its ``org``. Rows that name no
            organisation go to the only organisation of the import, or, when
            there are several, are kept with none (report them to the user).
        cycle
            The planning-cycle year of the new versions.
        source
            Where the plans came from (file name), shown in :meth:`plan_versions`.
        org
            Store only this organisation's plan (it may have no works in the
            file: then its plan is empty, see ``allow_empty``); the rows of
            the other organisations are left out (:func:`organisations_of`
            counts them).
        allow_empty
            Store a version with no accepted works (it empties the
            organisation's current plan). Without it such a version is refused.
        replace
            Store a version that shares no ``work_id`` with the
            organisation's current plan of more than :data:`UNRELATED_LIMIT`
            works. Without it such a version is refused: it looks like
            another organisation's file or a file read with the wrong mapping.

        Returns
        -------
        list of PlanVersion
            One per stored organisation, sorted by organisation.

        Raises
        ------
        ImportRefusedError
            Some organisation's new version has no works or looks unrelated
            (``refused`` says which and why); nothing stored.
        StoreError
            ``acting_org`` is set and the file holds other organisations'
            plans, or the store could not be written; nothing stored.

        Examples
        --------
        >>> result = read_works("feed.gpkg", mapping="data/mappings/uk_eton.toml")  # doctest: +SKIP
        >>> versions = store.import_plans(result.works, result.rejected, cycle=2027,
        ...                               source="feed.gpkg")  # doctest: +SKIP
        >>> [(v.org, v.version, v.n_works) for v in versions]  # doctest: +SKIP
        """
        split = _split(works, rejected, org)
        if not split.plans:
            raise InputError(
                "the works name no organisation (no org column, or it is empty in every row); "
                "give the organisation of the file (ims-geo import --org NAME) or map a column "
                "to org in the mapping file"
            )
        self._check_acting([p.org for p in split.plans])
        plans = [_Plan(p.org, _checked_works(p.works, p.org), p.rejected) for p in split.plans]
        return self._store_plans(plans, cycle, source, allow_empty, replace, split.left_out)

    def restore(self, org: str, version: int, *, cycle: int | None = None) -> PlanVersion:
        """Make version ``version`` of ``org`` current again, as a new version.

        The new version holds the earlier version's works (with their extra
        columns) and rejected rows; it is numbered after the organisation's
        newest version, so nothing is lost and the restore itself can be
        undone by restoring again. A restore is never refused for having no
        works or sharing no ids with the current plan: it is the way back.

        Parameters
        ----------
        org
            The organisation.
        version
            Its version number (1, 2, 3..., as in :meth:`plan_versions`).
        cycle
            The cycle year of the new version (default: the restored version's).

        Returns
        -------
        PlanVersion
        """
        org = str(org).strip()
        self._check_acting([org])
        record = self._version_record(org, version)
        if bool(record["is_current"].iloc[0]):
            raise InputError(
                f"version {version} is already the current plan of {org!r}; nothing to restore "
                f"(see {command('versions', '--org', org)})"
            )
        version_id = int(record[VERSION_ID].iloc[0])
        frame = self._read(record)
        kept = decode_rejected(self._fetch_rejected([version_id])).drop(columns=VERSION_ID)
        source = f"restored version {int(version)} ({record['source'].iloc[0]})"
        year = int(record["cycle"].iloc[0]) if cycle is None else cycle
        plan = _Plan(org, frame, kept)
        return self._store_plans([plan], year, source, True, True, {})[0]

    def _check_acting(self, orgs: Iterable[str]) -> None:
        if self.acting_org is None:
            return
        others = sorted(set(orgs) - {self.acting_org})
        if others:
            raise StoreError(
                f"organisation {self.acting_org!r} may only change its own works, "
                f"not the plan of {', '.join(map(repr, others[:5]))} ({self.location})"
            )

    def _store_plans(
        self,
        plans: Sequence[_Plan],
        cycle: int,
        source: str,
        allow_empty: bool,
        replace: bool,
        left_out: Mapping[str, int],
    ) -> list[PlanVersion]:
        """Check the new versions against the current plans, then commit them together."""
        cycle = _checked_cycle(cycle)
        source = str(source or "")
        records = self._records()
        current = records[records["is_current"]].set_index(ORG)
        refused: dict[str, str] = {}
        messages: list[str] = []
        for plan in plans:
            before = current.loc[plan.org] if plan.org in current.index else None
            if len(plan.works) == 0 and not allow_empty:
                refused[plan.org] = "empty"
                messages.append(_empty_message(plan, before, left_out))
            elif (
                before is not None
                and int(before["n_works"]) > UNRELATED_LIMIT
                and not replace
                and len(plan.works)
            ):
                old_ids = pd.Series(self._fetch_works([int(before[VERSION_ID])])[WORK_ID])
                if not plan.works[WORK_ID].isin(old_ids.astype(str)).any():
                    refused[plan.org] = "unrelated"
                    messages.append(_unrelated_message(plan, before, old_ids))
        if refused:
            raise ImportRefusedError("nothing was stored: " + "\n".join(messages), refused)
        expected = {
            p.org: int(current.loc[p.org, VERSION_ID]) for p in plans if p.org in current.index
        }

        def prepare(store_crs: CRS | None, now_current: Mapping[str, int]) -> list[Payload]:
            changed = sorted(p.org for p in plans if now_current.get(p.org) != expected.get(p.org))
            if changed:
                raise StoreError(
                    f"the plan of {', '.join(map(repr, changed))} was changed by another import "
                    "while this one was checked; nothing was stored, import again"
                )
            crs = store_crs
            payloads = []
            for plan in plans:
                payload = _payload(plan, cycle, source, crs)
                crs = payload.crs
                payloads.append(payload)
            return payloads

        return self._commit(prepare)

    # --- reading -------------------------------------------------------------
    def plan_versions(self, org: str | None = None) -> pd.DataFrame:
        """Every plan version (of ``org``), oldest first: :data:`VERSION_COLUMNS`."""
        records = self._records()
        if org is not None:
            records = records[records[ORG] == org]
        return records.loc[:, list(VERSION_COLUMNS)].reset_index(drop=True)

    def works(self, *, orgs: Iterable[str] | None = None) -> gpd.GeoDataFrame:
        """Current works of every organisation (or of ``orgs``).

        Canonical columns in canonical dtypes, then the organisations' extra
        columns, then geometry, in the store CRS; rows in import order.
        Other organisations' private works are anonymised when the store
        has an ``acting_org``.
        """
        records = self._records()
        records = records[records["is_current"]]
        signals = True
        if orgs is not None:
            wanted = {orgs} if isinstance(orgs, str) else set(orgs)
            records = records[records[ORG].isin(wanted)]
            signals = "private" in wanted  # signals have no owner but 'private'
        return self._read(records, signals=signals)

    def version_works(self, version_id: int) -> gpd.GeoDataFrame:
        """Works of one plan version, current or not (same columns as :meth:`works`)."""
        return self._read(self._record(version_id))

    def rejected(self, version_id: int | None = None) -> pd.DataFrame:
        """Rejected rows of one version, or of every current version.

        Columns: ``version_id``, ``org``, ``source_row``, ``source_file``,
        ``reason``, the row's own columns as read, ``geometry`` (WKT text,
        empty when the row had none). With an ``acting_org`` only that
        organisation's rows are returned.
        """
        if version_id is None:
            records = self._records()
            records = records[records["is_current"]]
        else:
            records = self._record(version_id)
        if self.acting_org is not None:
            records = records[records[ORG] == self.acting_org]
        stored = self._fetch_rejected([int(v) for v in records[VERSION_ID]])
        return decode_rejected(stored)

    def summary(self) -> pd.DataFrame:
        """One row per organisation with a current plan: :data:`SUMMARY_COLUMNS`."""
        records = self._records()
        current = records[records["is_current"]].rename(columns={"n_works": "works"})
        return current.sort_values(ORG).loc[:, list(SUMMARY_COLUMNS)].reset_index(drop=True)

    def compare_versions(self, org: str, old_version: int, new_version: int) -> gpd.GeoDataFrame:
        """What changed between two plan versions of ``org`` (by ``work_id``).

        Parameters
        ----------
        org
            The organisation.
        old_version, new_version
            Its version numbers (1, 2, 3..., as in :meth:`plan_versions`).

        Returns
        -------
        geopandas.GeoDataFrame
            :data:`COMPARE_COLUMNS`, one row per work that was added,
            dropped, moved (start or end date changed; ``shift_days`` and
            ``end_shift_days`` are new minus old, in days) or whose geometry
            changed; ``geometry`` is the new one (the old one for dropped
            works). Sorted by :data:`CHANGES` order, then ``work_id``.
            Another organisation's works the reader may no longer name (made
            private or dropped since, see :func:`named_now`) are left out of
            both versions, never shown as dropped; ``attrs["not_shown"]``
            counts them (0 when none). A shared store's database hides such
            works in every version from the start (row-level security), so
            there they are neither shown nor counted.
        """
        old = self._read(self._version_record(org, old_version))
        new = self._read(self._version_record(org, new_version))
        current = None if sees_everything(self) else self.works()
        shown_old, shown_new = named_works(self, old, current), named_works(self, new, current)
        both = pd.concat([old, new])
        # works seen by name in either version (anonymous rows never were)
        every = both.loc[both[ORG] != PRIVATE_ORG, WORK_ID].drop_duplicates()
        shown = pd.concat([shown_old[WORK_ID], shown_new[WORK_ID]])
        result = compare_works(shown_old, shown_new, self.crs)
        result.attrs["not_shown"] = int((~every.isin(shown)).sum())
        return result

    def version_id(self, org: str, version: int) -> int:
        """The store-wide ``version_id`` of version ``version`` of ``org``."""
        return int(self._version_record(org, version)[VERSION_ID].iloc[0])

    # --- shared steps ----------------------------------------------------------
    def _record(self, version_id: int) -> pd.DataFrame:
        records = self._records()
        found = records[records[VERSION_ID] == int(version_id)]
        if found.empty:
            raise StoreError(
                f"no plan version {version_id} in {self.location}; "
                f"see {command('versions')} for the stored versions"
            )
        return found

    def _version_record(self, org: str, version: int) -> pd.DataFrame:
        """The record of version ``version`` of ``org``; a clear error when there is none."""
        records = self._records()
        mine = records[records[ORG] == org]
        if mine.empty:
            raise InputError(unknown_org_message(org, records[ORG], self.location))
        found = mine[mine["version"] == int(version)]
        if len(found) == 1:
            return found
        numbers = ", ".join(str(v) for v in mine["version"].drop_duplicates())
        if found.empty:
            raise InputError(
                f"{org!r} has no plan version {version} (its versions: {numbers}); "
                f"see {command('versions', '--org', org)}"
            )
        raise StoreError(  # stores written before versions were numbered per organisation
            f"{org!r} has {len(found)} plan versions numbered {version} in {self.location} "
            f"(cycles {', '.join(str(c) for c in found['cycle'])}); restore the one you mean "
            "under a new number by importing its file again"
        )

    def _read(self, records: pd.DataFrame, *, signals: bool = False) -> gpd.GeoDataFrame:
        """Works of the versions in ``records`` in canonical form (with ``signals``,
        then others' private current works as anonymous signals where the
        database makes them)."""
        ids = [int(v) for v in records[VERSION_ID]]
        if ids or (signals and self.database_anonymises):
            columns = self._fetch_works(ids, signals=signals)
        else:
            columns = {c: [] for c in ROW_COLUMNS}
        frame = decode_works(columns, self.crs)
        schemas = dict(zip(records[VERSION_ID].astype(int), records["extras"], strict=True))
        frame = attach_extras(frame, schemas)
        if self.acting_org is not None and not self.database_anonymises:
            frame = anonymise(frame, self.acting_org, self._salt(), self.crs)
        return frame


# --- importing: one plan per organisation ---------------------------------------------
def command(*args: object) -> str:
    """An ``ims-geo`` command line to show in a hint, its arguments quoted for a shell."""
    return " ".join(["ims-geo", *(shlex.quote(str(a)) for a in args)])


def database_cause(exc: Exception) -> str:
    """The database's own reason for ``exc`` (the driver's error when there is one), its
    passwords masked."""
    return redact(str(getattr(exc, "orig", None) or exc).strip())


def unknown_org_message(org: str, known: Iterable[str], location: str) -> str:
    """Says that ``org`` has no plan in the store and lists the organisations that have."""
    names = sorted(set(map(str, known)))
    if not names:
        return f"no plans are stored in {location} yet; import one with: ims-geo import FILE"
    close = [n for n in names if n.casefold() == str(org).casefold()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"no plans of {org!r} in {location}{hint}. Known organisations: {', '.join(names)}"


@dataclass(frozen=True)
class _Plan:
    """The works and rejected rows of one organisation in an import."""

    org: str
    works: gpd.GeoDataFrame
    rejected: pd.DataFrame | None


@dataclass(frozen=True)
class _Split:
    plans: list[_Plan]
    #: rows (works and rejected) per organisation that the ``org`` filter leaves out
    left_out: dict[str, int]
    #: :data:`ORGANISATION_COLUMNS`
    table: pd.DataFrame


def _org_text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.where(text != "")


def _split(works: gpd.GeoDataFrame, rejected: pd.DataFrame | None, org: str | None) -> _Split:
    """The works and rejected rows of an import by organisation."""
    if not isinstance(works, gpd.GeoDataFrame) or ORG not in works.columns:
        raise InputError(
            "works must be a GeoDataFrame with an org column; read files with "
            "ims_geo.ingest.read_works (or pass them through ims_geo.schema.validate)"
        )
    work_org = _org_text(works[ORG])
    if work_org.isna().any():
        raise InputError(
            f"{int(work_org.isna().sum())} works have no org; pass them through "
            "ims_geo.schema.validate first (it rejects works without an organisation)"
        )
    rows = rejected if rejected is not None else pd.DataFrame()
    if ORG in rows.columns:
        rejected_org = _org_text(rows[ORG])
    else:
        rejected_org = pd.Series(pd.NA, index=rows.index, dtype="string")
    names = sorted(set(work_org) | set(rejected_org.dropna()))
    chosen = [str(org).strip()] if org is not None else names
    if len(chosen) == 1:  # rows that name no organisation belong to the only one
        rejected_org = rejected_org.fillna(chosen[0])
    work_keys = work_org.to_numpy(dtype=object)
    rejected_keys = rejected_org.to_numpy(dtype=object, na_value=None)
    plans = [
        _Plan(o, works[work_keys == o], rows[rejected_keys == o] if len(rows) else None)
        for o in chosen
    ]
    every: list[str | None] = sorted(set(names) | set(chosen))
    n_works = work_org.value_counts()
    n_rejected = rejected_org.value_counts()
    counts = [(int(n_works.get(o, 0)), int(n_rejected.get(o, 0)), o in chosen) for o in every]
    unowned = int(rejected_org.isna().sum())
    if unowned:  # rows that name no organisation, when there are several
        every.append(None)
        counts.append((0, unowned, False))
    table = pd.DataFrame(
        {
            ORG: pd.Series(every, dtype=object),
            "works": pd.Series([c[0] for c in counts], dtype="int64"),
            "rejected": pd.Series([c[1] for c in counts], dtype="int64"),
            "stored": pd.Series([c[2] for c in counts], dtype=bool),
        }
    )
    left_out = {
        str(o): works_ + rejected_
        for o, (works_, rejected_, stored) in zip(every, counts, strict=True)
        if not stored and o is not None
    }
    return _Split(plans, left_out, table)


def organisations_of(
    works: gpd.GeoDataFrame, rejected: pd.DataFrame | None = None, *, org: str | None = None
) -> pd.DataFrame:
    """The organisations of an import with their counts, as :meth:`Store.import_plans` splits it.

    Returns
    -------
    pandas.DataFrame
        :data:`ORGANISATION_COLUMNS`: one row per organisation (sorted),
        its accepted ``works`` and ``rejected`` rows, and whether its plan is
        ``stored`` (False for those ``org`` leaves out). Rejected rows that
        name no organisation, when there are several, are counted in a last
        row with ``org`` None (stored with no plan).
    """
    return _split(works, rejected, org).table


def _payload(plan: _Plan, cycle: int, source: str, store_crs: CRS | None) -> Payload:
    """The rows of one new version, in the store CRS (``plan.works`` is canonical)."""
    frame = plan.works
    frame_crs = CRS.from_user_input(frame.crs)
    crs = store_crs if store_crs is not None else frame_crs
    geo = frame if frame_crs == crs else frame.to_crs(crs)
    extras = [c for c in frame.columns if c not in COLUMNS and c != GEOMETRY]
    encoded, schema = encode_extras(frame[extras])
    rows = gpd.GeoDataFrame(
        {**{c: frame[c] for c in COLUMNS}, EXTRA: encoded},
        geometry=geo.geometry.to_numpy(),
        crs=crs,
    )
    return Payload(
        org=plan.org,
        cycle=cycle,
        crs=crs,
        works=rows,
        rejected=encode_rejected(plan.rejected, plan.org, crs),
        extras=schema,
        uploaded_at=utc_now(),
        source=source,
        first_start=frame[START].min() if len(frame) else None,
        last_end=frame[END].max() if len(frame) else None,
    )


def _examples(ids: pd.Series) -> str:
    shown = [repr(str(i)) for i in ids.head(3)]
    return ", ".join(shown) + (", ..." if len(ids) > 3 else "")


def _empty_message(plan: _Plan, before: pd.Series | None, left_out: Mapping[str, int]) -> str:
    n_rejected = 0 if plan.rejected is None else len(plan.rejected)
    text = f"the new plan of {plan.org!r} has no accepted works"
    if n_rejected:
        text += f" ({n_rejected} rows rejected: the report says why)"
    if left_out:
        others = ", ".join(f"{o} ({n} rows)" for o, n in sorted(left_out.items())[:5])
        text += f"; the file holds rows of other organisations only: {others}"
    if before is not None:
        text += (
            f"; storing it would empty its current plan (version {int(before['version'])}, "
            f"{int(before['n_works'])} works)"
        )
    return (
        text + ". Fix the file (or choose the right organisation), or store an empty plan on "
        "purpose with: ims-geo import --allow-empty"
    )


def _unrelated_message(plan: _Plan, before: pd.Series, old_ids: pd.Series) -> str:
    version = int(before["version"])
    return (
        f"the new plan of {plan.org!r} ({len(plan.works)} works, ids such as "
        f"{_examples(plan.works[WORK_ID])}) shares no work_id with its current plan "
        f"(version {version}, {int(before['n_works'])} works, ids such as "
        f"{_examples(old_ids)}): that looks like another organisation's file, or ids read "
        "from the wrong column. Check the file and its organisation (--org, the org column "
        "or the mapping); if it really replaces the whole plan, import it with: "
        f"ims-geo import --replace (and {command('restore', plan.org, version)} brings "
        "the current plan back)"
    )


# --- checks and conversions ------------------------------------------------------
def utc_now() -> dt.datetime:
    """Now in UTC, to the millisecond (what both stores keep)."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_salt() -> str:
    """A random 16-character key for :func:`opaque_ids`."""
    return secrets.token_hex(8)


def new_revision() -> str:
    """A fresh revision token."""
    return secrets.token_hex(8)


def _checked_cycle(cycle: object) -> int:
    try:
        value = int(str(cycle).strip())
    except ValueError:
        raise InputError(f"cycle must be a year such as 2027, got {cycle!r}") from None
    return value


def _checked_works(works: gpd.GeoDataFrame, org: str) -> gpd.GeoDataFrame:
    """Canonical copy of ``works`` after the checks an import relies on."""
    if not isinstance(works, gpd.GeoDataFrame):
        raise InputError(
            f"works must be a GeoDataFrame, got {type(works).__name__}; "
            "read files with ims_geo.ingest.read_works"
        )
    missing = [c for c in COLUMNS if c not in works.columns]
    if missing or works.active_geometry_name is None:
        missing += [] if works.active_geometry_name is not None else [GEOMETRY]
        raise InputError(
            f"works for {org!r} lack the columns {', '.join(missing)}; pass them through "
            "ims_geo.schema.validate (or ims_geo.ingest.read_works) first"
        )
    if works.crs is None:
        raise MissingCRSError(
            f"works for {org!r} have no CRS; set it (GeoDataFrame.set_crs) before importing"
        )
    frame = works.reset_index(drop=True)
    if frame.geometry.name != GEOMETRY:
        frame = frame.rename_geometry(GEOMETRY)
    frame = canonical_types(frame)
    # no row that could break a later reader (conflicts, map, exports) is ever stored
    frame = sanity.for_store(frame, org)

    def fail(mask: np.ndarray, problem: str, fix: str) -> None:
        rows = np.flatnonzero(mask)
        if rows.size:
            shown = ", ".join(str(r + 1) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
            raise InputError(f"works for {org!r}: {problem} in rows {shown}; {fix}")

    others = frame[ORG].to_numpy(dtype=object) != org
    fail(
        others,
        f"org is not {org!r} ({', '.join(sorted(set(frame.loc[others, ORG].astype(str)))[:3])})",
        "import each organisation's works separately",
    )
    fail(
        frame[WORK_ID].isna().to_numpy()
        | (frame[WORK_ID].astype(str).str.strip() == "").to_numpy(),
        "missing work_id",
        "validate the works first",
    )
    fail(
        frame[WORK_ID].duplicated(keep=False).to_numpy(),
        "duplicate work_id",
        "ids must be unique per organisation",
    )
    geoms = frame.geometry.to_numpy()
    fail(
        shapely.is_missing(geoms) | shapely.is_empty(geoms),
        "missing or empty geometry",
        "validate the works first",
    )
    fail(
        frame[START].isna().to_numpy() | frame[END].isna().to_numpy(),
        "missing start_date or end_date",
        "validate the works first",
    )
    return frame


def canonical_types(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the canonical columns in the dtypes of ``schema.validate``."""
    out = frame.copy()
    for col in _TEXT:
        out[col] = _text(out[col]).astype(str)
    for col in _OPTIONAL_TEXT:
        values = _text(out[col])
        out[col] = values.astype(object).where(values.notna(), None)
    for col in DATE_COLUMNS:
        out[col] = _days(out[col])
    out[EXCAVATION] = out[EXCAVATION].astype(bool)
    for col in NUMBER_COLUMNS:
        out[col] = pd.to_numeric(out[col]).astype("float64")
    return out


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("string")
    return text.astype(object).where(text.notna(), None)


def _days(values: pd.Series | Sequence[Any]) -> pd.Series:
    """Dates (text, date objects or datetimes) as ``datetime64[s]`` at midnight."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_localize(None)
        return series.dt.floor("D").astype("datetime64[s]")
    days = np.asarray(series.to_numpy(dtype=object), dtype="datetime64[D]")
    return pd.Series(days.astype("datetime64[s]"), index=series.index)


def _date_text(values: pd.Series) -> np.ndarray:
    """Dates as ISO 'YYYY-MM-DD' text, None where missing."""
    days = values.to_numpy(dtype="datetime64[D]")
    text = np.datetime_as_string(days, unit="D").astype(object)
    text[np.isnat(days)] = None
    return text


def storage_columns(works: gpd.GeoDataFrame) -> dict[str, list[Any]]:
    """Payload works as plain Python columns for a database driver (no geometry)."""
    out: dict[str, list[Any]] = {}
    for col in COLUMNS:
        values = works[col]
        if col in DATE_COLUMNS:
            out[col] = _date_text(values).tolist()
        elif col == EXCAVATION:
            out[col] = values.to_numpy(dtype=bool).tolist()
        elif col in NUMBER_COLUMNS:
            arr = values.to_numpy(dtype="float64")
            numbers = arr.astype(object)
            numbers[np.isnan(arr)] = None
            out[col] = numbers.tolist()
        else:
            out[col] = values.astype(object).where(values.notna(), None).tolist()
    out[EXTRA] = works[EXTRA].tolist()
    return out


def decode_works(columns: Mapping[str, Sequence[Any]], crs: CRS | None) -> gpd.GeoDataFrame:
    """Stored columns (as fetched by a backend) back to a canonical works frame."""
    data: dict[str, Any] = {VERSION_ID: np.asarray(columns[VERSION_ID], dtype="int64")}
    for col in COLUMNS:
        values = columns[col]
        if col in DATE_COLUMNS:
            data[col] = np.asarray(values, dtype="datetime64[D]").astype("datetime64[s]")
        elif col == EXCAVATION:
            data[col] = np.asarray(values, dtype=bool)
        elif col in NUMBER_COLUMNS:
            data[col] = np.asarray(values, dtype="float64")
        elif col in _TEXT:
            data[col] = pd.array(list(values), dtype="str")
        else:
            data[col] = pd.Series(list(values), dtype=object)  # None where NULL
    data[EXTRA] = pd.Series(columns[EXTRA], dtype=object)
    geometry = shapely.from_wkb(np.asarray(columns[GEOMETRY], dtype=object))
    frame = pd.DataFrame(data)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)


def decode_records(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Stored version records (rows of :data:`RECORD_COLUMNS`) in their dtypes."""
    raw = pd.DataFrame(rows, columns=list(RECORD_COLUMNS), dtype=object)
    return pd.DataFrame(
        {
            VERSION_ID: raw[VERSION_ID].astype("int64"),
            "org": raw["org"].astype(str),
            "cycle": raw["cycle"].astype("int64"),
            "version": raw["version"].astype("int64"),
            "uploaded_at": pd.to_datetime(raw["uploaded_at"], utc=True, format="ISO8601").astype(
                "datetime64[ms, UTC]"
            ),
            "source": raw["source"].astype(str),
            "n_works": raw["n_works"].astype("int64"),
            "n_rejected": raw["n_rejected"].astype("int64"),
            "is_current": raw["is_current"].astype(bool),
            "first_start": np.asarray(raw["first_start"], dtype="datetime64[D]").astype(
                "datetime64[s]"
            ),
            "last_end": np.asarray(raw["last_end"], dtype="datetime64[D]").astype("datetime64[s]"),
            "extras": raw["extras"].astype(object),
        }
    )


# --- extra columns ------------------------------------------------------------------
def encode_extras(extras: pd.DataFrame) -> tuple[list[str | None], str]:
    """Extra columns as one JSON object per row, and their schema as JSON.

    JSON keeps ints, floats (exactly), bools and text; datetimes go as ISO
    text and come back through the recorded dtype, so the round trip
    restores the columns' values and dtypes. Other objects are kept as text.
    """
    names = [str(c) for c in extras.columns]
    schema = json.dumps(
        [[n, str(extras[c].dtype)] for n, c in zip(names, extras.columns, strict=True)]
    )
    if not names:
        return [None] * len(extras), schema
    columns = []
    for col in extras.columns:
        values = extras[col]
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            if isinstance(values.dtype, pd.DatetimeTZDtype):  # kept as UTC wall time
                values = values.dt.tz_convert("UTC").dt.tz_localize(None)
            stamps = values.to_numpy()
            text = np.datetime_as_string(stamps).astype(object)
            text[np.isnat(stamps)] = None
            columns.append(text.tolist())
        else:
            columns.append(values.astype(object).where(values.notna(), None).tolist())
    rows = [
        json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, default=str)
        for row in zip(*columns, strict=True)
    ]
    return list(rows), schema


def attach_extras(frame: gpd.GeoDataFrame, schemas: Mapping[int, str]) -> gpd.GeoDataFrame:
    """Expand the stored JSON of each version back into typed columns.

    Drops ``version_id`` and the JSON column; columns come in canonical
    order, then the extra columns in the order they were first imported.
    Rows of no version in ``schemas`` (anonymous signals, version
    :data:`SIGNAL_VERSION`) get no extra values.
    """
    names: list[str] = []
    decoded: list[pd.DataFrame] = []
    for version_id, schema_text in schemas.items():
        schema = [(str(n), str(d)) for n, d in json.loads(schema_text)]
        if not schema:
            continue
        rows = np.flatnonzero(frame[VERSION_ID].to_numpy() == version_id)
        if rows.size == 0:
            continue
        text = frame[EXTRA].to_numpy(dtype=object)[rows]
        records = json.loads("[" + ",".join(text) + "]")
        part = pd.DataFrame.from_records(records, columns=[n for n, _ in schema])
        part.index = frame.index[rows]
        part = pd.DataFrame({n: _restore(part[n], dtype) for n, dtype in schema})
        decoded.append(part)
        names += [n for n, _ in schema if n not in names]
    out = frame.drop(columns=[VERSION_ID, EXTRA])
    if decoded:
        extras = pd.concat(decoded).reindex(index=frame.index, columns=names)
        out = pd.concat([out.drop(columns=GEOMETRY), extras], axis=1)
        out = gpd.GeoDataFrame(out, geometry=frame.geometry, crs=frame.crs)
    return out


def _restore(values: pd.Series, dtype: str) -> pd.Series:
    """JSON-decoded values in their recorded dtype (object when it cannot be)."""
    if dtype == "object":
        return values.astype(object).where(values.notna(), None)
    try:
        if dtype.startswith("datetime64"):
            parsed = pd.to_datetime(values, format="ISO8601", utc="," in dtype)
            return parsed.astype(dtype)
        if dtype.startswith("timedelta64"):
            return pd.to_timedelta(values).astype(dtype)
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values.astype(object)


# --- rejected rows --------------------------------------------------------------------
def encode_rejected(rejected: pd.DataFrame | None, org: str, crs: CRS) -> pd.DataFrame:
    """Rejected rows as stored: their own columns as JSON, geometry as WKT."""
    columns = [c for c in REJECTED_STORED if c != VERSION_ID]
    if rejected is None or len(rejected) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    frame = rejected.reset_index(drop=True)
    geometry_name = frame.active_geometry_name if isinstance(frame, gpd.GeoDataFrame) else None
    if geometry_name is not None:
        geo = frame.geometry
        if geo.crs is not None and not shapely.is_missing(geo.to_numpy()).all():
            geo = geo.to_crs(crs)
        wkt = shapely.to_wkt(geo.to_numpy())
    elif GEOMETRY in frame:
        wkt = frame[GEOMETRY].astype(object).where(frame[GEOMETRY].notna(), None).to_numpy()
        geometry_name = GEOMETRY
    else:
        wkt = np.full(len(frame), None, dtype=object)
    own = [
        c for c in frame.columns if c not in (ORG, REASON, SOURCE_ROW, SOURCE_FILE, geometry_name)
    ]
    encoded, _ = encode_extras(pd.DataFrame(frame[own]))
    reason = frame[REASON] if REASON in frame else pd.Series("rejected", index=frame.index)
    source_row = frame[SOURCE_ROW] if SOURCE_ROW in frame else pd.Series(None, index=frame.index)
    source_file = frame[SOURCE_FILE] if SOURCE_FILE in frame else pd.Series(None, index=frame.index)
    out = pd.DataFrame(
        {
            ORG: org,
            SOURCE_ROW: pd.to_numeric(source_row).astype("Int64"),
            SOURCE_FILE: source_file,
            REASON: reason.astype(str),
            "attributes": pd.Series(encoded if own else [None] * len(frame), dtype=object),
            "geometry_wkt": pd.Series(wkt, dtype=object),
        }
    ).astype(object)
    return out.where(out.notna(), None)


def decode_rejected(stored: pd.DataFrame) -> pd.DataFrame:
    """Stored rejected rows with their own columns expanded."""
    head = pd.DataFrame(
        {
            VERSION_ID: stored[VERSION_ID].astype("int64").to_numpy(),
            ORG: pd.array(stored[ORG].tolist(), dtype="str"),
            SOURCE_ROW: pd.array(stored[SOURCE_ROW].tolist(), dtype="Int64"),
            SOURCE_FILE: pd.Series(stored[SOURCE_FILE].tolist(), dtype=object),
            REASON: pd.array(stored[REASON].tolist(), dtype="str"),
        }
    )
    text = [t if isinstance(t, str) else "{}" for t in stored["attributes"]]
    own = pd.DataFrame.from_records(json.loads("[" + ",".join(text) + "]"), nrows=len(text))
    own = (
        own.astype(object)
        .where(own.notna(), None)
        .drop(columns=[c for c in own.columns if c in head.columns], errors="ignore")
    )
    own.index = head.index
    wkt = pd.Series(stored["geometry_wkt"].tolist(), dtype=object, index=head.index)
    return pd.concat([head, own, wkt.rename(GEOMETRY)], axis=1)


# --- anonymisation ---------------------------------------------------------------------
def opaque_ids(orgs: pd.Series, work_ids: pd.Series, salt: str) -> np.ndarray:
    """Stable opaque ids: a keyed hash (SipHash, key ``salt``) of org and work_id."""
    keys = (orgs.astype(str) + "\x1f" + work_ids.astype(str)).to_numpy(dtype=object)
    hashed = pd.util.hash_array(keys, hash_key=salt, categorize=False)
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = ((hashed[:, None] >> shifts) & np.uint64(15)).astype(np.intp)
    digits = np.array(list("0123456789abcdef"))[nibbles]
    return np.char.add(ANONYMOUS_PREFIX, np.ascontiguousarray(digits).view("<U16").ravel())


def anonymise(
    works: gpd.GeoDataFrame, acting_org: str, salt: str, crs: CRS | None = None
) -> gpd.GeoDataFrame:
    """Other organisations' private works as anonymous conflict signals.

    ``org`` becomes ``"private"``, ``work_id`` a stable opaque id; title,
    cost, funding, depths and extra columns are blanked; dates widen to
    whole months and the geometry to the grid cells it touches (see
    :mod:`ims_geo.access.signals`). Discipline, layer, excavation and status
    stay, so they still show as conflict signals.
    """
    from ims_geo.access.signals import cell_size, coarse_geometry, month_end, month_start

    hide = (works[VISIBILITY] == "private").to_numpy() & (works[ORG] != acting_org).to_numpy()
    if not hide.any():
        return works
    out = works.copy()
    ids = opaque_ids(out.loc[hide, ORG], out.loc[hide, WORK_ID], salt)
    out[WORK_ID] = out[WORK_ID].where(~hide, pd.Series(ids, index=out.index[hide]))
    out[ORG] = out[ORG].where(~hide, PRIVATE_ORG)
    for col in (TITLE, FUNDING):
        out[col] = out[col].where(~hide, None)
    for col in (COST, DEPTH_MIN, DEPTH_MAX):
        out[col] = out[col].where(~hide)
    for col, widen in ((START, month_start), (EARLIEST, month_start), (END, month_end),
                       (LATEST, month_end)):  # fmt: skip
        out.loc[hide, col] = widen(out.loc[hide, col])
    geometry = out.geometry.to_numpy().copy()
    geometry[hide] = coarse_geometry(geometry[hide], cell_size(crs or works.crs))
    out = out.set_geometry(gpd.GeoSeries(geometry, index=out.index, crs=out.crs))
    extras = [c for c in out.columns if c not in COLUMNS and c != out.geometry.name]
    for col in extras:
        out[col] = out[col].where(~hide)
    return out


def sees_everything(store: Store) -> bool:
    """Whether the reader of ``store`` sees every organisation's works in full.

    True for a GeoPackage store without an acting organisation and for the
    owner of a PostGIS schema; False for a signed-in user or a visitor.
    """
    if store.acting_org is not None:
        return False
    return not store.database_anonymises or bool(getattr(store, "is_owner", False))


def named_now(
    store: Store, orgs: pd.Series, work_ids: pd.Series, current: pd.DataFrame | None = None
) -> np.ndarray:
    """Which works the reader may name by organisation, id and title.

    Another organisation's work is named only while it is in that
    organisation's current plan as a work the reader sees in full: a work
    it has made private since (or dropped: a reader who sees no private
    works cannot tell the two apart, and must not) is named in no older
    plan version, programme or report either. The reader's own works and
    rows already anonymous (``org`` :data:`PRIVATE_ORG`) are always kept.

    Parameters
    ----------
    store
        The store read from (its reader decides what is seen).
    orgs, work_ids
        The works, aligned.
    current
        The store's current works as the reader sees them (read when None).

    Returns
    -------
    numpy.ndarray
        One bool per work.
    """
    keep = np.ones(len(orgs), dtype=bool)
    if sees_everything(store) or not len(orgs):
        return keep
    now = store.works() if current is None else current
    seen = now[now[ORG] != PRIVATE_ORG]
    seen_keys = pd.Index(seen[ORG].astype(str) + "\x1f" + seen[WORK_ID].astype(str))
    org_text = orgs.astype(str).to_numpy(dtype=object)
    keys = org_text + "\x1f" + work_ids.astype(str).to_numpy(dtype=object)
    own = org_text == store.acting_org  # a visitor (None) owns nothing
    return own | (org_text == PRIVATE_ORG) | pd.Index(keys).isin(seen_keys)


def named_works(
    store: Store, works: gpd.GeoDataFrame, current: pd.DataFrame | None = None
) -> gpd.GeoDataFrame:
    """Works of a plan version without those the reader may not name.

    Drops another organisation's works it may no longer name (see
    :func:`named_now`) and anonymous rows (which would tie a private work to
    the version's owner); unchanged for a reader who sees everything.
    """
    if sees_everything(store) or works.empty:
        return works
    keep = named_now(store, works[ORG], works[WORK_ID], current)
    return works[keep & (works[ORG] != PRIVATE_ORG).to_numpy()]


# --- comparing versions --------------------------------------------------------------
#: Metres a work's geometry may differ by between two plans and still count as the same.
#: A plan that went out and came back through a text format (GeoJSON, CSV or Excel WKT
#: in longitude/latitude, rounded to 6-8 decimals: up to about 7 cm at 52°N) and was
#: projected back differs from the stored one by such amounts; no planner draws a
#: street work that precisely, and a work re-drawn by a metre is still flagged.
GEOMETRY_TOLERANCE_M = 0.1
#: A metre in degrees of latitude, for a store kept in a geographic CRS.
_DEGREES_PER_METRE = 1 / 111_320


def redrawn(old: np.ndarray, new: np.ndarray, crs: CRS | None) -> np.ndarray:
    """Which geometries of ``new`` differ from those of ``old`` (aligned) beyond a tolerance.

    A geometry is the same when it is topologically equal to the old one
    (vertex order and start aside), or when no point of either outline is
    farther than :data:`GEOMETRY_TOLERANCE_M` from the other (the Hausdorff
    distance of the outlines, their segments densified so that the same
    vertices in another order still differ; a polygon's rings, so that a new
    hole counts).

    Parameters
    ----------
    old, new
        Arrays of shapely geometries, aligned.
    crs
        Their CRS (metric; a geographic CRS takes the tolerance in degrees of
        latitude, no CRS in coordinate units).

    Returns
    -------
    numpy.ndarray
        One bool per geometry: True where the geometry really changed.
    """
    changed = ~shapely.equals(old, new)
    if changed.any():
        far = shapely.hausdorff_distance(
            _outline(old[changed]), _outline(new[changed]), densify=0.25
        )
        # NaN (an empty geometry on one side) compares False: changed
        changed[changed] = ~(far <= _tolerance(crs))
    return changed


def _outline(geoms: np.ndarray) -> np.ndarray:
    """Polygons as their rings (a point inside a polygon is at distance 0 from it)."""
    out = geoms.copy()
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    out[polygonal] = shapely.boundary(geoms[polygonal])
    return out


def _tolerance(crs: CRS | None) -> float:
    """:data:`GEOMETRY_TOLERANCE_M` in the units of ``crs``."""
    if crs is None:
        return GEOMETRY_TOLERANCE_M
    crs = CRS.from_user_input(crs)
    if crs.is_geographic:
        return GEOMETRY_TOLERANCE_M * _DEGREES_PER_METRE
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return GEOMETRY_TOLERANCE_M / (unit or 1.0)


def compare_works(
    old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, crs: CRS | None
) -> gpd.GeoDataFrame:
    """Works added, dropped, moved or changed in geometry between two plans.

    A geometry counts as changed when it differs from the old one by more
    than :data:`GEOMETRY_TOLERANCE_M` (:func:`redrawn`): a plan exported and
    imported again through any format is the same plan.
    """
    keep = [WORK_ID, TITLE, START, END, GEOMETRY]
    pair = pd.merge(
        old[keep].rename(columns=lambda c: f"old_{c}" if c != WORK_ID else c),
        new[keep].rename(columns=lambda c: f"new_{c}" if c != WORK_ID else c),
        on=WORK_ID,
        how="outer",
        indicator=True,
    )
    added = (pair["_merge"] == "right_only").to_numpy()
    dropped = (pair["_merge"] == "left_only").to_numpy()
    both = ~added & ~dropped
    old_geom = pair[f"old_{GEOMETRY}"].to_numpy(dtype=object)
    new_geom = pair[f"new_{GEOMETRY}"].to_numpy(dtype=object)
    moved = both & (
        (pair[f"old_{START}"] != pair[f"new_{START}"]).to_numpy()
        | (pair[f"old_{END}"] != pair[f"new_{END}"]).to_numpy()
    )
    reshaped = both.copy()
    reshaped[both] = redrawn(old_geom[both], new_geom[both], crs)
    change = np.select(
        [added, dropped, moved & reshaped, moved, reshaped],
        ["added", "dropped", "moved, geometry changed", "moved", "geometry changed"],
        default="",
    )
    day = np.timedelta64(1, "D")
    shift = (pair[f"new_{START}"] - pair[f"old_{START}"]).to_numpy() / day
    end_shift = (pair[f"new_{END}"] - pair[f"old_{END}"]).to_numpy() / day
    result = pd.DataFrame(
        {
            WORK_ID: pair[WORK_ID].astype(str),
            "change": change,
            TITLE: pair[f"new_{TITLE}"].where(~dropped, pair[f"old_{TITLE}"]),
            "old_start": pair[f"old_{START}"],
            "old_end": pair[f"old_{END}"],
            "new_start": pair[f"new_{START}"],
            "new_end": pair[f"new_{END}"],
            "shift_days": pd.array(np.where(both, shift, np.nan), dtype="Float64").astype("Int64"),
            "end_shift_days": pd.array(np.where(both, end_shift, np.nan), dtype="Float64").astype(
                "Int64"
            ),
        }
    )
    result[TITLE] = result[TITLE].astype(object).where(result[TITLE].notna(), None)
    geometry = np.where(dropped, old_geom, new_geom)
    result = gpd.GeoDataFrame(result, geometry=gpd.GeoSeries(geometry, crs=crs), crs=crs)
    result = result[change != ""]
    order = pd.Categorical(result["change"], categories=list(CHANGES), ordered=True)
    result = result.assign(_order=order).sort_values(["_order", WORK_ID], kind="stable")
    return result.drop(columns="_order").reset_index(drop=True).loc[:, list(COMPARE_COLUMNS)]
