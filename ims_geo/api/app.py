"""The FastAPI application: routes, sign-in by API token, errors as clear JSON.

Every request that touches the works signs in to the shared store with the
caller's token (``Authorization: Bearer ims_<id>_<secret>``) and signs out
when it is answered: what the request may read and write is decided by the
database's row-level security for that token's organisation and role, the
same policies the app's users meet. No organisation name a client sends is
ever trusted; filters such as ``org=`` only narrow what the caller already
sees, in Python, never in SQL.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import psycopg
import sqlalchemy as sa
from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from ims_geo import schema as s
from ims_geo.api import geojson
from ims_geo.conflicts.rules import KINDS, load_rules
from ims_geo.errors import ImportRefusedError, InputError, StoreError
from ims_geo.ingest import Limits
from ims_geo.redact import redact
from ims_geo.store import PostGISStore, Store, open_store

#: Where the vendored Swagger UI is served (the docs page works offline).
STATIC = Path(__file__).resolve().parent / "static"
#: Properties of a work in the API's GeoJSON.
WORK_PROPERTIES: list[str] = list(s.COLUMNS)
#: Longest token accepted as such; anything longer is audited as malformed.
MAX_TOKEN_CHARS = 200
_CHUNK = 1 << 20

_bearer = HTTPBearer(
    auto_error=False, description="An organisation's API token: ims-geo admin token"
)


class _Refused(Exception):
    """An error already turned into an HTTP status and a message."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def _cause(exc: BaseException) -> BaseException | None:
    """The database driver's error under ``exc`` (through SQLAlchemy), if any."""
    seen = exc.__cause__
    while seen is not None:
        orig = getattr(seen, "orig", None)
        if isinstance(seen, sa.exc.SQLAlchemyError) and isinstance(orig, BaseException):
            return orig
        if isinstance(seen, psycopg.Error | sa.exc.SQLAlchemyError):
            return seen
        seen = seen.__cause__
    return None


def status_of(exc: StoreError) -> int:
    """The HTTP status of a store error: refused 403, busy or unreachable 503, else 500."""
    orig = _cause(exc)
    if isinstance(orig, psycopg.errors.InsufficientPrivilege):
        return 403
    if isinstance(orig, psycopg.errors.LockNotAvailable):
        return 503
    if isinstance(orig, psycopg.OperationalError | sa.exc.OperationalError):
        return 503
    if orig is None and " may not " in str(exc):
        return 403  # refused in Python before the database was asked (same rule)
    return 500


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Iterator[Store]:
    """The store signed in with the request's bearer token (401 without a valid one)."""
    url = request.app.state.store_url
    token = "" if credentials is None else credentials.credentials
    if len(token) > MAX_TOKEN_CHARS or not token.isascii() or not token.isprintable():
        token = "malformed"  # still asked, so that the attempt is audited
    try:
        store = open_store(url, token=token)
    except StoreError as exc:
        if _cause(exc) is None:
            raise _Refused(
                401,
                "a valid API token is needed: Authorization: Bearer ims_<id>_<secret> "
                "(ask your administrator for one: ims-geo admin token)",
            ) from exc
        raise
    try:
        yield store
    finally:
        try:
            if isinstance(store, PostGISStore):
                store.logout()
        except StoreError:
            pass  # the session expires on its own; never hide the answer
        store.close()


Caller = Annotated[Store, Depends(caller)]


def create_app(store_url: str, *, limits: Limits | None = None) -> FastAPI:
    """The HTTP API over the shared store at ``store_url`` (the application role's URL).

    Parameters
    ----------
    store_url
        ``postgresql://ims_app:...@host/db`` of a shared installation. A
        GeoPackage store has no tokens: it is refused.
    limits
        Upload limits (default :class:`~ims_geo.ingest.Limits`, the app's).
    """
    text = str(store_url)
    if not text.lower().startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise StoreError(
            "the HTTP API serves a shared (PostGIS) store only: API tokens live in its "
            "database; give --store postgresql://... (a GeoPackage store has no users)"
        )
    limits = limits or Limits()
    app = FastAPI(
        title="ims_geo API",
        summary="Planned street works of every organisation, their conflicts, and changes.",
        description=(
            "Sign in with your organisation's API token (`ims-geo admin token`): "
            "`Authorization: Bearer ims_<id>_<secret>`. Geometries are GeoJSON in "
            "EPSG:4326; what you see and may change is decided by the database for "
            "your token's organisation and role. Other organisations' private works "
            "appear only as anonymous signals (organisation `private`, month dates, "
            "grid-cell geometry)."
        ),
        version="1",
        docs_url=None,
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.store_url = text
    app.state.limits = limits

    @app.exception_handler(_Refused)
    def _refused(_request: Request, exc: _Refused) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            {"detail": str(exc), **exc.extra}, status_code=exc.status, headers=headers
        )

    @app.exception_handler(InputError)
    def _input(_request: Request, exc: InputError) -> JSONResponse:
        extra = {"refused": exc.refused} if isinstance(exc, ImportRefusedError) else {}
        return JSONResponse({"detail": redact(str(exc)), **extra}, status_code=422)

    @app.exception_handler(StoreError)
    def _store(_request: Request, exc: StoreError) -> JSONResponse:
        status = status_of(exc)
        headers = {"Retry-After": "30"} if status == 503 else None
        return JSONResponse({"detail": redact(str(exc))}, status_code=status, headers=headers)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        # behind a proxy that serves the API under a prefix (ims-geo api --root-path /api)
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title="ims_geo API",
            swagger_js_url=f"{root}/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{root}/static/swagger-ui/favicon-32x32.png",
        )

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """``{"status": "ok"}`` while the service runs (no sign-in, no database)."""
        return {"status": "ok"}

    @app.get("/whoami", tags=["service"])
    def whoami(store: Caller) -> dict[str, Any]:
        """The organisation and role of the token."""
        ident = store.identity
        assert ident is not None
        return {"org": ident.org, "role": ident.role, "token": ident.user.removeprefix("token:")}

    @app.get("/works", tags=["works"])
    def works(
        store: Caller,
        org: Annotated[list[str] | None, Query(description="Only these organisations.")] = None,
        bbox: Annotated[
            str | None, Query(description="minx,miny,maxx,maxy in longitude/latitude.")
        ] = None,
    ) -> dict[str, Any]:
        """Current works the token may see, as GeoJSON (others' private works as signals)."""
        box = geojson.parse_bbox(bbox)
        found = store.works()
        keep = geojson.in_bbox(found, box)
        if org:
            keep &= found[s.ORG].isin(org).to_numpy()
        return geojson.feature_collection(found[keep], WORK_PROPERTIES)

    @app.get("/conflicts", tags=["conflicts"])
    def conflicts(
        store: Caller,
        org: Annotated[
            str | None, Query(description="Only conflicts with this organisation's works.")
        ] = None,
        kind: Annotated[str | None, Query(description=f"One of {', '.join(KINDS)}.")] = None,
        bbox: Annotated[
            str | None, Query(description="minx,miny,maxx,maxy in longitude/latitude.")
        ] = None,
        since: Annotated[
            str | None,
            Query(description="Only conflicts with a work of a plan version uploaded since then."),
        ] = None,
    ) -> dict[str, Any]:
        """Conflicts between the works the token may see, as GeoJSON.

        Found with the default rules over the current works; others' private
        works take part as anonymous signals (organisation ``private``).
        """
        from ims_geo.conflicts import empty_conflicts, find_conflicts
        from ims_geo.export import conflict_table

        if kind is not None and kind not in KINDS:
            raise InputError(f"kind {kind[:40]!r} is unknown; use one of {', '.join(KINDS)}")
        box = geojson.parse_bbox(bbox)
        moment = _moment(since)
        found_works = store.works()
        found = (
            find_conflicts(found_works, load_rules(None))
            if len(found_works)
            else empty_conflicts(found_works.crs)
        )
        keep = geojson.in_bbox(found, box)
        if org is not None:
            keep &= ((found["org_a"] == org) | (found["org_b"] == org)).to_numpy()
        if kind is not None:
            keep &= (found["kind"] == kind).to_numpy()
        if moment is not None:
            versions = store.plan_versions()
            current = versions[versions["is_current"]]
            fresh = set(
                current.loc[
                    pd.to_datetime(current["uploaded_at"], utc=True) >= moment, s.ORG
                ].astype(str)
            )
            keep &= (found["org_a"].isin(fresh) | found["org_b"].isin(fresh)).to_numpy()
        return geojson.feature_collection(conflict_table(found[keep], found_works))

    @app.get("/changes", tags=["changes"])
    def changes(
        store: Caller,
        since: Annotated[str, Query(description="ISO date or date-time (UTC if no zone).")],
    ) -> dict[str, Any]:
        """What changed since then that concerns the token's organisation, as GeoJSON.

        New, changed and resolved conflicts with its works; other
        organisations' new plan versions near its works; confidential plans
        near its works as anonymous signals (see ``change`` of each feature).
        """
        from ims_geo.api.changes import changes as feed

        moment = _moment(since)
        assert moment is not None
        return geojson.feature_collection(feed(store, moment, load_rules(None)))

    @app.post("/plans", tags=["works"], status_code=201)
    def plans(
        store: Caller,
        file: Annotated[UploadFile, File(description="The plan: any format the CLI imports.")],
        cycle: Annotated[int | None, Form(ge=1900, le=2200)] = None,
        layer: Annotated[str | None, Form(max_length=200)] = None,
        crs: Annotated[str | None, Form(max_length=200)] = None,
        encoding: Annotated[str | None, Form(max_length=40)] = None,
        allow_empty: Annotated[bool, Form()] = False,
        replace: Annotated[bool, Form()] = False,
    ) -> dict[str, Any]:
        """Import a plan file as a new plan version of the token's organisation.

        The file is read and checked as ``ims-geo import`` does (in a
        limited worker process); the answer carries the same validation
        report: accepted, repaired and rejected counts, each rejected row
        with its reasons, and warnings. Rows of other organisations in the
        file are left out. The version is stored in one transaction.
        """
        from ims_geo.ingest import read_works
        from ims_geo.store import organisations_of

        ident = store.identity
        assert ident is not None
        name, data = _read_upload(file, limits)
        result = read_works(
            data, name=name, org=ident.org, layer=layer, crs=crs, encoding=encoding, limits=limits
        )
        table = organisations_of(result.works, result.rejected, org=ident.org)
        versions = store.import_plans(
            result.works,
            result.rejected,
            cycle=cycle if cycle is not None else pd.Timestamp.now().year,
            source=name,
            org=ident.org,
            allow_empty=allow_empty,
            replace=replace,
        )
        left = table[~table["stored"] & table[s.ORG].notna()]
        return {
            "report": result.report(),
            "accepted": len(result.works),
            "repaired": int(result.repaired),
            "rejected": len(result.rejected),
            "rejected_rows": _rejected_rows(result.rejected),
            "warnings": list(result.warnings),
            "stored": [
                {
                    "org": v.org,
                    "version": v.version,
                    "cycle": v.cycle,
                    "works": v.n_works,
                    "rejected": v.n_rejected,
                }
                for v in versions
            ],  # fmt: skip
            "left_out": [
                {"org": r.org, "works": int(r.works), "rejected": int(r.rejected)}
                for r in left.itertuples(index=False)
            ],
        }

    @app.post("/progress", tags=["works"], status_code=201)
    def progress(
        store: Caller,
        file: Annotated[UploadFile, File(description="work_id, status, actual_start, ...")],
        cycle: Annotated[int, Form(ge=1900, le=2200)],
    ) -> dict[str, Any]:
        """Report progress on the token's organisation's works (``ims-geo cycle progress``).

        Unknown work ids and unreadable rows are rejected with their reason;
        a finished resurfacing creates a moratorium. 201 when reports were
        stored (the rejected rows listed with their reasons); 422 when
        nothing was: every row rejected, or a file without rows; the body
        then holds the same report and the reasons.
        """
        from ims_geo.cycle import read_progress, record_progress

        ident = store.identity
        assert ident is not None
        name, data = _read_upload(file, limits)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / ("upload" + Path(name).suffix.lower()[:10])
            path.write_bytes(data)
            reports = read_progress(path, name=name, limits=limits)
        result = record_progress(store, cycle, ident.org, reports, source=name)
        answer = {
            "report": result.report(),
            "accepted": len(result.accepted),
            "rejected": len(result.rejected),
            "rejected_rows": _rejected_rows(result.rejected),
            "moratoria": 0 if result.moratoria is None else len(result.moratoria),
            "warnings": list(result.warnings),
        }
        if result.accepted.empty:
            refusal = (
                f"{name}: nothing was stored: all {len(result.rejected)} rows were rejected "
                "(rejected_rows says why); fix them and send the file again"
                if len(result.rejected)
                else f"{name}: nothing was stored: the file holds no progress rows"
            )
            raise _Refused(422, refusal, **answer)
        return answer

    return app


def _moment(text: str | None) -> pd.Timestamp | None:
    if text is None or not text.strip():
        return None
    text = text.strip()
    if re.search(r"T\d\d:\d\d(:\d\d(\.\d+)?)? \d\d:?\d\d$", text):
        # an unencoded '+' of a zone read as a space
        text = text[:-6] + "+" + text[-5:] if text[-3] == ":" else text[:-5] + "+" + text[-4:]
    try:
        moment = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        moment = pd.NaT
    if pd.isna(moment):
        raise InputError(
            f"since {text[:60]!r} is not a date; give an ISO date or date-time, "
            "e.g. since=2027-03-01 or since=2027-03-01T08:00:00Z"
        )
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def _read_upload(file: UploadFile, limits: Limits) -> tuple[str, bytes]:
    """The upload's name and bytes; refused (413) past the upload limit, never read in full."""
    name = Path(str(file.filename or "upload")).name[:200] or "upload"
    cap = int(limits.max_upload_bytes)
    chunks, size = [], 0
    while chunk := file.file.read(_CHUNK):
        size += len(chunk)
        if size > cap:
            raise _Refused(
                413,
                f"{name} is larger than the upload limit of {cap / 2**20:.0f} MiB; send a "
                "smaller file (or ask the administrator to raise IMS_GEO_MAX_UPLOAD_BYTES)",
            )
        chunks.append(chunk)
    return name, b"".join(chunks)


def _rejected_rows(rejected: pd.DataFrame) -> list[dict[str, Any]]:
    """Rejected rows as JSON: their row number, file, reason and own values (as text)."""
    if rejected is None or rejected.empty:
        return []
    frame = pd.DataFrame(rejected).drop(columns=["geometry"], errors="ignore")
    first = [c for c in (s.SOURCE_ROW, s.SOURCE_FILE, s.REASON) if c in frame.columns]
    frame = frame.loc[:, first + [c for c in frame.columns if c not in first]]
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{str(k): geojson._plain(v) for k, v in r.items()} for r in records]
