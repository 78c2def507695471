"""The access layer inside PostgreSQL: users, sessions, row-level security, audit.

Everything here is SQL the schema owner installs once (``ims-geo admin
init``, or the first open of a store by its owner). The application then
connects as a separate PostgreSQL role that is neither the owner nor a
superuser and has no ``BYPASSRLS``; what it may read and write is decided by
the database, whatever the Python code does.

How a session gets its organisation (and why it cannot be forged)
-----------------------------------------------------------------
``login(user, password)`` and ``login_token(token)`` are ``SECURITY
DEFINER`` functions: they verify the bcrypt hash (pgcrypto ``crypt``) or
the SHA-256 of the API token, write a row into ``sessions`` keyed by the
SHA-256 of a fresh random 256-bit session token and return that token (or
NULL after recording the failure in the audit trail). The store puts the
token into the connection's ``ims_geo.session`` setting. Every policy reads
the organisation and role through ``current_org()`` / ``current_app_role()``,
which look the token's hash up in ``sessions`` (a table the application
role cannot read or write), check expiry and that the user is still
enabled. ``SET ims_geo.org = 'B'`` or a made-up session value therefore
gives nothing: only a secret handed out by a verified login names a
session.

Tables the application role may touch
-------------------------------------
``works``, ``rejected``
    INSERT only, own organisation, and only into a plan version created in
    the same transaction (history cannot be appended to); no UPDATE or
    DELETE. Reads of ``works``: own rows; others' ``public`` rows, and
    ``partners`` rows when signed in, of works that are still so in their
    organisation's current plan version (a work made private, or dropped,
    is hidden in every earlier version too; see :func:`_named_now_sql`).
    The store reads ``visible_works`` instead: a security-barrier view that
    adds others' ``private`` works as anonymous signals (see
    :mod:`ims_geo.access.signals`).
``plan_versions``
    INSERT own organisation; UPDATE of ``is_current`` only, own rows; no
    DELETE. Readable when signed in, except the count of works and the
    first and last day, which include private works (``visible_versions``
    shows others' over the works the reader may see, dates by month;
    without sign-in it shows the current versions without file names).
    Signals in ``visible_works`` carry neither ``fid`` nor ``version_id``
    and come from current versions only, so no join names their owner.
``moratoria``, ``moratorium_exemptions``
    INSERT own organisation. Reads of the tables: all rows but others'
    moratoria that protect the surface of a private work (and their
    exemptions); the store reads ``visible_moratoria`` and
    ``visible_moratorium_exemptions``, which add those as anonymous signals.
``store_meta``
    every key but the id salt readable; only ``revision`` writable.
``audit``
    readable by admins; nobody may UPDATE, DELETE or TRUNCATE it (a trigger
    refuses even the owner); rows are written only by triggers and SECURITY
    DEFINER functions, which take the "who" from the verified session.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa

from ims_geo.access.roles import COORDINATORS, ROLES, TOKEN_ROLES, WRITERS
from ims_geo.access.signals import CELL_DEGREES, CELL_METRES
from ims_geo.errors import StoreError
from ims_geo.schema import COLUMNS, DATE_COLUMNS

#: Version of the access layer's tables and functions (``store_meta`` key ``access_version``).
ACCESS_VERSION = "3"
#: Setting that carries a connection's secret session token.
SESSION_SETTING = "ims_geo.session"
#: bcrypt work factor for new password hashes (2^12 rounds, about 0.2 s).
BCRYPT_COST = 12
#: Fewest characters of a password.
MIN_PASSWORD = 10
#: Failed sign-ins of one user name within :data:`LOCKOUT_MINUTES` after which
#: sign-in is refused until the window has passed (store_meta ``max_failed_logins``).
MAX_FAILED_LOGINS = 10
LOCKOUT_MINUTES = 15
#: Hours a sign-in stays valid.
SESSION_HOURS = 12.0
#: Planning-cycle tables (:mod:`ims_geo.store.cycle_tables`): the roles that may
#: write them, whether a row must belong to the writer's organisation (``org``),
#: and whether rows may be changed later (settings) or only added (records).
CYCLE_TABLES: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    "cycles": (COORDINATORS, False, True),
    "cycle_targets": (COORDINATORS, False, True),
    "programme_revisions": (COORDINATORS, False, False),
    "programme_projects": (COORDINATORS, False, False),
    "programme_members": (COORDINATORS, False, False),
    "progress_reports": (WRITERS, True, False),
    "moratoria": (WRITERS, True, False),
    "moratorium_exemptions": (WRITERS, True, False),
    "cycle_reports": (COORDINATORS, False, False),
}
#: Views over works and plan versions the application role reads (made again by
#: :func:`upgrade`): the two the store reads, and the two the policy on works asks.
WORKS_VIEWS: tuple[str, ...] = (
    "visible_works",
    "visible_versions",
    "named_now",
    "current_versions",
)
#: Version of the planning-cycle policies below (raise it when they change).
CYCLE_POLICY_VERSION = "6"
#: Planning-cycle tables read through a security-barrier view ``visible_<table>``:
#: another organisation's moratoria that protect the surface of a private work
#: come as anonymous signals (:func:`_visible_moratoria_sql`).
VIEWED_TABLES: tuple[str, ...] = ("moratoria", "moratorium_exemptions")
#: Planning-cycle tables with one row per work (``org``, ``work_id``): another
#: organisation's rows are readable only when that work is not private.
PER_WORK_TABLES: tuple[str, ...] = ("progress_reports", "programme_members")
#: Audit action recorded for every row written to these planning-cycle tables.
CYCLE_AUDIT: dict[str, str] = {
    "cycle_targets": "targets",
    "programme_revisions": "adoption",
    "progress_reports": "progress report",
    "moratoria": "moratorium",
    "moratorium_exemptions": "moratorium exemption",
    "cycle_reports": "cycle report",
}


# a lone ':' before a word would be read as a bind parameter by sa.text ('[[:cntrl:]]')
_BIND = re.compile(r"(?<![:\w\\]):(?=\w)")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _shared(s: str, w: str) -> str:
    """Whether another organisation's row ``w`` of ``works`` may be read in full.

    Its visibility then and now: it is ``public`` (or ``partners`` to a
    signed-in reader) itself, and the same work (organisation and id) is so
    in that organisation's current plan version (:func:`_named_now_sql`). A
    work made private hides every earlier version of it; one made public
    later does not publish what was private before. Rows of current
    versions are decided by their own visibility, without the look-up.
    """
    me = f"(SELECT {s}.current_org())"
    return (
        f"(({w}.visibility = 'public' OR ({w}.visibility = 'partners' AND {me} IS NOT NULL)) "
        f"AND ({w}.version_id IN (SELECT n.version_id FROM {s}.current_versions n) "
        f"OR EXISTS (SELECT 1 FROM {s}.named_now n WHERE n.org = {w}.org "
        f"AND n.work_id = {w}.work_id)))"
    )


def _named_now_sql(s: str) -> list[str]:
    """The views the policy on ``works`` asks what is shared now (made by the owner).

    ``current_versions`` lists the current plan version of each
    organisation (what ``visible_versions`` shows every reader anyway);
    ``named_now`` the works of those versions the reader sees in full:
    ``public``, or ``partners`` when signed in. Owned by the schema owner,
    they read ``works`` without its policies, so the policy on ``works`` may
    use them without recursing, and show no more than that policy does.

    A work dropped from the current version is in neither: its earlier rows
    are hidden from other organisations as a private one's are. A reader who
    sees no private works cannot tell a dropped work from one made private,
    and must not (the council pack and the version comparison leave both out
    of older versions alike), so no row tells the two apart.
    """
    me = f"(SELECT {s}.current_org())"
    return [
        f"""CREATE VIEW {s}.current_versions WITH (security_barrier) AS
SELECT p.version_id FROM {s}.plan_versions p WHERE p.is_current""",
        f"""CREATE VIEW {s}.named_now WITH (security_barrier) AS
SELECT w.org, w.work_id FROM {s}.works w JOIN {s}.plan_versions p
  ON p.version_id = w.version_id AND p.is_current
WHERE w.visibility = 'public' OR (w.visibility = 'partners' AND {me} IS NOT NULL)""",
    ]


def _visible_works_sql(s: str) -> str:
    """The security-barrier view the store reads works through.

    Two parts: the rows the reader may see in full (own, public, partners
    when signed in), then others' private works of current plan versions as
    anonymous signals. A signal carries no ``fid`` and no ``version_id``
    (either would name the owner: ``plan_versions`` is readable, and fids are
    sequential per import) and comes sorted by its opaque work id, so not
    even the order of the rows ties it to a plan.
    """
    me = f"(SELECT {s}.current_org())"
    full = f"(w.org = {me} OR {_shared(s, 'w')})"
    salt = f"(SELECT value FROM {s}.store_meta WHERE key = 'salt')"
    cell = f"COALESCE((SELECT value::float8 FROM {s}.store_meta WHERE key = 'signal_cell'), {CELL_METRES})"
    hidden = {
        "work_id": f"'anon-' || left(encode(sha256(convert_to({salt} || w.org || chr(31) || w.work_id, 'UTF8')), 'hex'), 16)",
        "org": "'private'::text",
        "start_date": "date_trunc('month', w.start_date)::date",
        "earliest": "date_trunc('month', w.earliest)::date",
        "end_date": "(date_trunc('month', w.end_date) + interval '1 month' - interval '1 day')::date",
        "latest": "(date_trunc('month', w.latest) + interval '1 month' - interval '1 day')::date",
        "title": None, "funding": None, "cost_eur": None, "depth_min": None, "depth_max": None,
    }  # fmt: skip
    assert set(DATE_COLUMNS) <= set(hidden)
    # a NULL of the column's own type (the two parts of the UNION must agree)
    typed = {c: hidden[c] or f'CASE WHEN false THEN w."{c}" END' for c in hidden}
    signal = [f'{typed[c]} AS "{c}"' if c in typed else f'w."{c}"' for c in COLUMNS]
    by_work_id = 3 + COLUMNS.index("work_id")  # fid, version_id, then COLUMNS
    # the UNION inside a subquery: a top-level UNION ALL would be flattened into
    # the reader's query, and a leaky function in its WHERE would see every row
    return f"""CREATE VIEW {s}.visible_works WITH (security_barrier) AS
SELECT * FROM (
SELECT w.fid, w.version_id, {", ".join(f'w."{c}"' for c in COLUMNS)}, w.extra, w.geometry
FROM {s}.works w WHERE {full}
UNION ALL
SELECT * FROM (
  SELECT NULL::bigint AS fid, NULL::bigint AS version_id, {", ".join(signal)},
    CASE WHEN w.extra IS NULL THEN NULL ELSE '{{}}' END AS extra, cells.geometry
  FROM {s}.works w JOIN {s}.plan_versions p ON p.version_id = w.version_id AND p.is_current
  LEFT JOIN LATERAL ({_coarse_sql("w.geometry", cell)}) cells ON true
  WHERE w.visibility = 'private' AND w.org IS DISTINCT FROM {me} AND {me} IS NOT NULL
  ORDER BY {by_work_id}) signals) v"""


def _coarse_sql(g: str, cell: str) -> str:
    """A subquery: the grid cells (side ``cell``) geometry ``g`` touches, dissolved.

    The same steps as :func:`ims_geo.access.signals.coarse_geometry`. Written
    into the view rather than called as a function: a function with a fixed
    search_path is planned anew at every call (about 0.5 s per work).
    """
    return f"""SELECT ST_MakeValid(ST_Collect(c.box), 'method=structure') AS geometry
  FROM generate_series(floor(ST_XMin({g}::box3d) / {cell})::bigint,
                       floor(ST_XMax({g}::box3d) / {cell})::bigint) AS i
  CROSS JOIN generate_series(floor(ST_YMin({g}::box3d) / {cell})::bigint,
                             floor(ST_YMax({g}::box3d) / {cell})::bigint) AS j
  CROSS JOIN LATERAL (SELECT ST_MakeEnvelope(i * {cell}, j * {cell}, (i + 1) * {cell},
                                             (j + 1) * {cell}, ST_SRID({g})) AS box) c
  WHERE ST_Intersects(c.box, {g})"""


def _visible_versions_sql(s: str) -> str:
    """Plan version records as the store reads them.

    Another organisation's count of works, first and last day are taken
    over the works the reader may see of that version (never its private
    ones: a count or a date range that includes them would tell that the
    organisation has a confidential plan, and when), dates by month.
    """
    me = f"(SELECT {s}.current_org())"
    seen = _shared(s, "w")
    return f"""CREATE VIEW {s}.visible_versions WITH (security_barrier) AS
SELECT p.version_id, p.org, p.cycle, p.version, p.uploaded_at,
  CASE WHEN {me} IS NULL THEN '' ELSE p.source END AS source,
  CASE WHEN p.org = {me} THEN p.n_works ELSE o.n_works END AS n_works,
  CASE WHEN {me} IS NULL THEN 0 ELSE p.n_rejected END AS n_rejected, p.is_current,
  CASE WHEN p.org = {me} THEN p.first_start
    ELSE date_trunc('month', o.first_start)::date END AS first_start,
  CASE WHEN p.org = {me} THEN p.last_end
    ELSE (date_trunc('month', o.last_end) + interval '1 month' - interval '1 day')::date END
    AS last_end,
  p.extras
FROM {s}.plan_versions p
LEFT JOIN LATERAL (
  SELECT count(*)::integer AS n_works, min(w.start_date) AS first_start,
         max(w.end_date) AS last_end
  FROM {s}.works w
  WHERE p.org IS DISTINCT FROM {me} AND w.version_id = p.version_id AND {seen}) o ON true
WHERE {me} IS NOT NULL OR p.is_current"""


def upgrade(conn: sa.Connection, schema: str) -> bool:
    """Bring an existing installation's views and grants to :data:`ACCESS_VERSION`.

    Run by the owner whenever it opens the store (so ``ims-geo admin init``
    run again upgrades); nothing happens when the installation is current.
    The views and the policy on reading ``works`` are dropped and created
    again, the views' readers granted again, and ``plan_versions.n_works``
    (which counts others' private works) is no longer readable by them.
    Returns whether anything changed.
    """
    done = conn.execute(
        sa.text(f"SELECT value FROM {schema}.store_meta WHERE key = 'access_version'")
    ).scalar()
    if done == ACCESS_VERSION:
        return False
    readers = [
        str(r[0])
        for r in conn.execute(
            sa.text(
                "SELECT DISTINCT grantee FROM information_schema.role_table_grants "
                "WHERE table_schema = :s AND table_name = 'visible_works' "
                "AND privilege_type = 'SELECT' AND grantee <> current_user"
            ),
            {"s": schema},
        )
    ]
    # the policy on works reads the views of what is shared now: dropped with them
    for statement in (
        f"DROP VIEW IF EXISTS {schema}.visible_works",
        f"DROP VIEW IF EXISTS {schema}.visible_versions",
        f"DROP POLICY IF EXISTS works_read ON {schema}.works",
        f"DROP VIEW IF EXISTS {schema}.named_now",
        f"DROP VIEW IF EXISTS {schema}.current_versions",
        # the policy looks works up by organisation and id: without this index,
        # a scan of the whole table per row read
        f"CREATE INDEX IF NOT EXISTS works_org_work_id ON {schema}.works (org, work_id)",
        *_named_now_sql(schema),
        _visible_works_sql(schema),
        _visible_versions_sql(schema),
        _works_read(schema),
    ):
        conn.execute(sa.text(_BIND.sub(r"\\:", statement)))
    for reader in readers:
        role = _quote(reader)
        views = ", ".join(f"{schema}.{v}" for v in WORKS_VIEWS)
        conn.execute(sa.text(f"GRANT SELECT ON {views} TO {role}"))
        conn.execute(sa.text(f"REVOKE SELECT (n_works) ON {schema}.plan_versions FROM {role}"))
    conn.execute(
        sa.text(
            f"INSERT INTO {schema}.store_meta (key, value) VALUES ('access_version', :v) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        ),
        {"v": ACCESS_VERSION},
    )
    return True


def access_ddl(s: str, owner: str, search_path: str) -> list[str]:
    """Statements that create the access layer in schema ``s`` (run by ``owner``)."""
    safe = f"SET search_path = {search_path}"
    definer = f"SECURITY DEFINER {safe}"
    session_hash = f"sha256(convert_to(current_setting('{SESSION_SETTING}', true), 'UTF8'))"
    audit_insert = f"INSERT INTO {s}.audit (username, org, role, action, target, detail)"
    return [
        f"""CREATE TABLE {s}.organisations (
  name text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200 AND name = btrim(name)
    AND name <> 'private' AND name !~ '[[:cntrl:]]'),
  created_at timestamptz NOT NULL DEFAULT now())""",
        f"""CREATE TABLE {s}.users (
  username text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{{0,99}}$'),
  org text NOT NULL REFERENCES {s}.organisations(name),
  role text NOT NULL CHECK (role IN {_in(ROLES)}),
  password_hash text NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  changed_at timestamptz NOT NULL DEFAULT now())""",
        f"""CREATE TABLE {s}.api_tokens (
  token_id bigserial PRIMARY KEY,
  org text NOT NULL REFERENCES {s}.organisations(name),
  role text NOT NULL CHECK (role IN {_in(TOKEN_ROLES)}),
  token_hash bytea NOT NULL UNIQUE,
  label text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked boolean NOT NULL DEFAULT false)""",
        f"""CREATE TABLE {s}.sessions (
  token_hash bytea PRIMARY KEY,
  username text NOT NULL, org text NOT NULL, role text NOT NULL,
  token_id bigint REFERENCES {s}.api_tokens(token_id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL)""",
        f"""CREATE TABLE {s}.audit (
  audit_id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  username text, org text, role text,
  action text NOT NULL, target text NOT NULL DEFAULT '', detail text NOT NULL DEFAULT '',
  db_user text NOT NULL DEFAULT session_user)""",
        f"CREATE INDEX audit_at ON {s}.audit (at)",
        f"CREATE INDEX audit_failed ON {s}.audit (target, at) WHERE action = 'login failed'",
        # also what the policy on works looks a work's current visibility up by
        # (without it, a scan of the whole table per row read)
        f"CREATE INDEX IF NOT EXISTS works_org_work_id ON {s}.works (org, work_id)",
        # who made an import: the transaction that created the version
        f"ALTER TABLE {s}.plan_versions ADD COLUMN IF NOT EXISTS created_txid xid8 "
        "NOT NULL DEFAULT pg_current_xact_id()",
        # --- identity ------------------------------------------------------------------
        f"""CREATE FUNCTION {s}._session() RETURNS {s}.sessions LANGUAGE sql STABLE {definer} AS $$
  SELECT x.* FROM {s}.sessions x
  WHERE x.token_hash = {session_hash} AND x.expires_at > now()
    AND CASE WHEN x.token_id IS NULL
      THEN EXISTS (SELECT 1 FROM {s}.users u WHERE u.username = x.username AND NOT u.disabled
                   AND u.org = x.org AND u.role = x.role)
      ELSE EXISTS (SELECT 1 FROM {s}.api_tokens t WHERE t.token_id = x.token_id AND NOT t.revoked)
    END
$$""",
        f"""CREATE FUNCTION {s}.current_org() RETURNS text LANGUAGE sql STABLE {safe} AS $$
  SELECT x.org FROM {s}._session() x $$""",
        f"""CREATE FUNCTION {s}.current_app_role() RETURNS text LANGUAGE sql STABLE {safe} AS $$
  SELECT x.role FROM {s}._session() x $$""",
        f"""CREATE FUNCTION {s}.can_write() RETURNS boolean LANGUAGE sql STABLE {safe} AS $$
  SELECT COALESCE({s}.current_app_role() IN {_in(WRITERS)}, false) $$""",
        f"""CREATE FUNCTION {s}.can_coordinate() RETURNS boolean LANGUAGE sql STABLE {safe} AS $$
  SELECT COALESCE({s}.current_app_role() IN {_in(COORDINATORS)}, false) $$""",
        f"""CREATE FUNCTION {s}.is_owner() RETURNS boolean LANGUAGE sql STABLE {definer} AS $$
  SELECT pg_has_role(session_user, '{owner.replace("'", "''")}', 'MEMBER') $$""",
        f"""CREATE FUNCTION {s}.is_admin() RETURNS boolean LANGUAGE sql STABLE {safe} AS $$
  SELECT COALESCE({s}.current_app_role() = 'admin', false) OR {s}.is_owner() $$""",
        f"""CREATE FUNCTION {s}.whoami()
  RETURNS TABLE (username text, org text, role text, expires_at timestamptz)
  LANGUAGE sql STABLE {safe} AS $$
  SELECT x.username, x.org, x.role, x.expires_at FROM {s}._session() x
  WHERE x.token_hash IS NOT NULL $$""",
        # --- audit ------------------------------------------------------------------------
        f"""CREATE FUNCTION {s}.record(p_action text, p_target text, p_detail text)
  RETURNS void LANGUAGE sql VOLATILE {definer} AS $$
  {audit_insert}
  SELECT x.username, x.org, x.role, left(p_action, 100), left(COALESCE(p_target, ''), 500),
         left(COALESCE(p_detail, ''), 4000)
  FROM {s}._session() x WHERE x.token_hash IS NOT NULL OR {s}.is_owner() $$""",
        f"""CREATE FUNCTION {s}._refuse_change() RETURNS trigger LANGUAGE plpgsql {safe} AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP USING ERRCODE = '42501';
END $$""",
        f"""CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {s}.audit
  FOR EACH ROW EXECUTE FUNCTION {s}._refuse_change()""",
        f"""CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {s}.audit
  FOR EACH STATEMENT EXECUTE FUNCTION {s}._refuse_change()""",
        f"""CREATE FUNCTION {s}._audit_version() RETURNS trigger LANGUAGE plpgsql {definer} AS $$
BEGIN
  PERFORM {s}.record(
    CASE WHEN NEW.source LIKE 'restore%' THEN 'restore' ELSE 'import' END,
    NEW.org || ' version ' || NEW.version,
    format('version_id=%s cycle=%s works=%s rejected=%s source=%s',
           NEW.version_id, NEW.cycle, NEW.n_works, NEW.n_rejected, NEW.source));
  RETURN NULL;
END $$""",
        f"""CREATE TRIGGER plan_versions_audit AFTER INSERT ON {s}.plan_versions
  FOR EACH ROW EXECUTE FUNCTION {s}._audit_version()""",
        f"""CREATE FUNCTION {s}._audit_row() RETURNS trigger LANGUAGE plpgsql {definer} AS $$
BEGIN
  PERFORM {s}.record(TG_ARGV[0], TG_TABLE_NAME || ' ' || TG_OP,
                     left(to_jsonb(NEW)::text, 4000));
  RETURN NULL;
END $$""",
        # --- sign-in ---------------------------------------------------------------------
        f"""CREATE FUNCTION {s}.login(p_user text, p_password text) RETURNS text
  LANGUAGE plpgsql VOLATILE {definer} AS $$
DECLARE
  u {s}.users;
  tok text;
  cost int := COALESCE((SELECT value::int FROM {s}.store_meta WHERE key = 'bcrypt_cost'), {BCRYPT_COST});
  hours float8 := COALESCE((SELECT value::float8 FROM {s}.store_meta WHERE key = 'session_hours'), {SESSION_HOURS});
  failures int := COALESCE((SELECT value::int FROM {s}.store_meta WHERE key = 'max_failed_logins'), {MAX_FAILED_LOGINS});
BEGIN
  DELETE FROM {s}.sessions WHERE expires_at < now();
  -- password guessing: after too many failures in the window, even the right one is refused
  IF (SELECT count(*) FROM {s}.audit WHERE action = 'login failed' AND target = left(p_user, 200)
      AND at > now() - interval '{LOCKOUT_MINUTES} minutes') >= failures THEN
    {audit_insert} VALUES (left(p_user, 200), NULL, NULL, 'login locked', left(COALESCE(p_user, ''), 200),
      'too many failed sign-ins in {LOCKOUT_MINUTES} minutes');
    RETURN NULL;
  END IF;
  SELECT * INTO u FROM {s}.users WHERE username = p_user;
  IF NOT FOUND THEN
    PERFORM crypt(COALESCE(p_password, ''), gen_salt('bf', cost));  -- as slow as a known user
    {audit_insert} VALUES (left(p_user, 200), NULL, NULL, 'login failed', left(COALESCE(p_user, ''), 200), 'unknown user');
    RETURN NULL;
  END IF;
  IF u.password_hash IS DISTINCT FROM crypt(COALESCE(p_password, ''), u.password_hash) THEN
    {audit_insert} VALUES (u.username, u.org, u.role, 'login failed', u.username, 'wrong password');
    RETURN NULL;
  END IF;
  IF u.disabled THEN
    {audit_insert} VALUES (u.username, u.org, u.role, 'login failed', u.username, 'account disabled');
    RETURN NULL;
  END IF;
  tok := encode(gen_random_bytes(32), 'hex');
  INSERT INTO {s}.sessions (token_hash, username, org, role, expires_at)
  VALUES (sha256(convert_to(tok, 'UTF8')), u.username, u.org, u.role,
          now() + make_interval(secs => hours * 3600));
  {audit_insert} VALUES (u.username, u.org, u.role, 'login', u.username, '');
  RETURN tok;
END $$""",
        f"""CREATE FUNCTION {s}.login_token(p_token text) RETURNS text
  LANGUAGE plpgsql VOLATILE {definer} AS $$
DECLARE
  t {s}.api_tokens;
  tok text;
  hours float8 := COALESCE((SELECT value::float8 FROM {s}.store_meta WHERE key = 'session_hours'), {SESSION_HOURS});
BEGIN
  DELETE FROM {s}.sessions WHERE expires_at < now();
  SELECT * INTO t FROM {s}.api_tokens
  WHERE token_hash = sha256(convert_to(COALESCE(p_token, ''), 'UTF8')) AND NOT revoked;
  IF NOT FOUND THEN
    {audit_insert} VALUES (NULL, NULL, NULL, 'token rejected',
      COALESCE(substring(p_token FROM '^ims_[0-9]{{1,18}}'), 'malformed token'), '');
    RETURN NULL;
  END IF;
  tok := encode(gen_random_bytes(32), 'hex');
  INSERT INTO {s}.sessions (token_hash, username, org, role, token_id, expires_at)
  VALUES (sha256(convert_to(tok, 'UTF8')), 'token:' || t.token_id, t.org, t.role, t.token_id,
          now() + make_interval(secs => hours * 3600));
  RETURN tok;
END $$""",
        f"""CREATE FUNCTION {s}.logout() RETURNS void LANGUAGE sql VOLATILE {definer} AS $$
  DELETE FROM {s}.sessions WHERE token_hash = {session_hash} $$""",
        # --- administration --------------------------------------------------------------
        f"""CREATE FUNCTION {s}._require_admin() RETURNS void LANGUAGE plpgsql STABLE {safe} AS $$
BEGIN
  IF NOT {s}.is_admin() THEN
    RAISE EXCEPTION 'only an admin may manage organisations, users and tokens'
      USING ERRCODE = '42501';
  END IF;
END $$""",
        f"""CREATE FUNCTION {s}.add_org(p_name text) RETURNS void LANGUAGE plpgsql VOLATILE {definer} AS $$
BEGIN
  PERFORM {s}._require_admin();
  INSERT INTO {s}.organisations (name) VALUES (p_name);
  PERFORM {s}.record('organisation added', p_name, '');
END $$""",
        f"""CREATE FUNCTION {s}.list_orgs()
  RETURNS TABLE (name text, created_at timestamptz, users bigint, tokens bigint)
  LANGUAGE plpgsql STABLE {definer} AS $$
BEGIN
  PERFORM {s}._require_admin();
  RETURN QUERY SELECT o.name, o.created_at,
    (SELECT count(*) FROM {s}.users u WHERE u.org = o.name),
    (SELECT count(*) FROM {s}.api_tokens t WHERE t.org = o.name AND NOT t.revoked)
  FROM {s}.organisations o ORDER BY o.name;
END $$""",
        f"""CREATE FUNCTION {s}.add_user(p_user text, p_org text, p_role text, p_password text)
  RETURNS void LANGUAGE plpgsql VOLATILE {definer} AS $$
DECLARE
  cost int := COALESCE((SELECT value::int FROM {s}.store_meta WHERE key = 'bcrypt_cost'), {BCRYPT_COST});
BEGIN
  PERFORM {s}._require_admin();
  IF p_password IS NULL OR length(p_password) < {MIN_PASSWORD} OR octet_length(p_password) > 72 THEN
    RAISE EXCEPTION 'a password needs at least {MIN_PASSWORD} characters and at most 72 bytes'
      USING ERRCODE = '22023';
  END IF;
  INSERT INTO {s}.users (username, org, role, password_hash)
  VALUES (p_user, p_org, p_role, crypt(p_password, gen_salt('bf', cost)));
  PERFORM {s}.record('user added', p_user, format('org=%s role=%s', p_org, p_role));
END $$""",
        f"""CREATE FUNCTION {s}.set_password(p_user text, p_password text)
  RETURNS void LANGUAGE plpgsql VOLATILE {definer} AS $$
DECLARE
  cost int := COALESCE((SELECT value::int FROM {s}.store_meta WHERE key = 'bcrypt_cost'), {BCRYPT_COST});
  me {s}.sessions := {s}._session();
BEGIN
  IF NOT ({s}.is_admin() OR (me.token_id IS NULL AND me.username = p_user)) THEN
    RAISE EXCEPTION 'only an admin or the user themself may change a password'
      USING ERRCODE = '42501';
  END IF;
  IF p_password IS NULL OR length(p_password) < {MIN_PASSWORD} OR octet_length(p_password) > 72 THEN
    RAISE EXCEPTION 'a password needs at least {MIN_PASSWORD} characters and at most 72 bytes'
      USING ERRCODE = '22023';
  END IF;
  UPDATE {s}.users SET password_hash = crypt(p_password, gen_salt('bf', cost)), changed_at = now()
  WHERE username = p_user;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no user %', p_user USING ERRCODE = 'P0002';
  END IF;
  DELETE FROM {s}.sessions WHERE username = p_user AND token_id IS NULL
    AND token_hash IS DISTINCT FROM me.token_hash;
  PERFORM {s}.record('password changed', p_user, '');
END $$""",
        f"""CREATE FUNCTION {s}.set_disabled(p_user text, p_disabled boolean)
  RETURNS void LANGUAGE plpgsql VOLATILE {definer} AS $$
BEGIN
  PERFORM {s}._require_admin();
  UPDATE {s}.users SET disabled = p_disabled, changed_at = now() WHERE username = p_user;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no user %', p_user USING ERRCODE = 'P0002';
  END IF;
  DELETE FROM {s}.sessions WHERE username = p_user AND token_id IS NULL;
  PERFORM {s}.record(CASE WHEN p_disabled THEN 'user disabled' ELSE 'user enabled' END, p_user, '');
END $$""",
        f"""CREATE FUNCTION {s}.list_users()
  RETURNS TABLE (username text, org text, role text, disabled boolean,
                 created_at timestamptz, changed_at timestamptz)
  LANGUAGE plpgsql STABLE {definer} AS $$
BEGIN
  PERFORM {s}._require_admin();
  RETURN QUERY SELECT u.username, u.org, u.role, u.disabled, u.created_at, u.changed_at
  FROM {s}.users u ORDER BY u.org, u.username;
END $$""",
        f"""CREATE FUNCTION {s}.new_token(p_org text, p_role text, p_label text)
  RETURNS text LANGUAGE plpgsql VOLATILE {definer} AS $$
DECLARE
  id bigint;
  tok text;
BEGIN
  PERFORM {s}._require_admin();
  id := nextval(pg_get_serial_sequence('{s}.api_tokens', 'token_id'));
  tok := 'ims_' || id || '_' || encode(gen_random_bytes(32), 'hex');
  INSERT INTO {s}.api_tokens (token_id, org, role, token_hash, label)
  VALUES (id, p_org, p_role, sha256(convert_to(tok, 'UTF8')), COALESCE(p_label, ''));
  PERFORM {s}.record('token created', p_org, format('token ims_%s role=%s label=%s', id, p_role, p_label));
  RETURN tok;
END $$""",
        f"""CREATE FUNCTION {s}.revoke_token(p_id bigint) RETURNS void
  LANGUAGE plpgsql VOLATILE {definer} AS $$
BEGIN
  PERFORM {s}._require_admin();
  UPDATE {s}.api_tokens SET revoked = true WHERE token_id = p_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no token ims_%', p_id USING ERRCODE = 'P0002';
  END IF;
  DELETE FROM {s}.sessions WHERE token_id = p_id;
  PERFORM {s}.record('token revoked', 'ims_' || p_id, '');
END $$""",
        f"""CREATE FUNCTION {s}.list_tokens()
  RETURNS TABLE (token text, org text, role text, label text, created_at timestamptz,
                 revoked boolean)
  LANGUAGE plpgsql STABLE {definer} AS $$
BEGIN
  PERFORM {s}._require_admin();
  RETURN QUERY SELECT 'ims_' || t.token_id, t.org, t.role, t.label, t.created_at, t.revoked
  FROM {s}.api_tokens t ORDER BY t.token_id;
END $$""",
        # --- the store's CRS, set once by the first import ----------------------------------
        f"""CREATE FUNCTION {s}.claim_srid(p_srid integer) RETURNS void
  LANGUAGE plpgsql VOLATILE {definer} AS $$
DECLARE
  proj text := (SELECT proj4text FROM spatial_ref_sys WHERE srid = p_srid);
BEGIN
  IF NOT ({s}.can_write() OR {s}.is_owner()) THEN
    RAISE EXCEPTION 'only a planner may import the first plan' USING ERRCODE = '42501';
  END IF;
  IF EXISTS (SELECT 1 FROM {s}.store_meta WHERE key = 'srid') THEN
    RETURN;
  END IF;
  IF proj IS NULL THEN
    RAISE EXCEPTION 'EPSG:% is not known to PostGIS', p_srid USING ERRCODE = '22023';
  END IF;
  EXECUTE format('ALTER TABLE {s}.works ADD CONSTRAINT works_srid CHECK (ST_SRID(geometry) = %s)', p_srid);
  INSERT INTO {s}.store_meta (key, value) VALUES
    ('srid', p_srid::text),
    ('signal_cell', CASE WHEN proj LIKE '%+proj=longlat%' THEN {CELL_DEGREES}
                         WHEN proj LIKE '%+units=us-ft%' THEN {CELL_METRES} / 0.3048006096012192
                         WHEN proj LIKE '%+units=ft%' THEN {CELL_METRES} / 0.3048
                         ELSE {CELL_METRES} END::text);
END $$""",
        # --- anonymous conflict signals ----------------------------------------------------
        *_named_now_sql(s),
        _visible_works_sql(s),
        _visible_versions_sql(s),
        # --- row-level security -------------------------------------------------------------
        *_policies(s),
    ]


def _works_read(s: str) -> str:
    """The policy on reading ``works``: own rows, and others' shared then and now."""
    me = f"(SELECT {s}.current_org())"
    return f"""CREATE POLICY works_read ON {s}.works FOR SELECT USING (
  org = {me} OR {_shared(s, "works")})"""


def _policies(s: str) -> list[str]:
    me = f"(SELECT {s}.current_org())"
    write = f"(SELECT {s}.can_write())"
    same_tx = (
        f"EXISTS (SELECT 1 FROM {s}.plan_versions p WHERE p.version_id = {{t}}.version_id "
        f"AND p.org = {{t}}.org AND p.created_txid = pg_current_xact_id())"
    )
    return [
        f"ALTER TABLE {s}.works ENABLE ROW LEVEL SECURITY",
        _works_read(s),
        f"""CREATE POLICY works_insert ON {s}.works FOR INSERT WITH CHECK (
  {write} AND org = {me} AND {same_tx.format(t="works")})""",
        f"ALTER TABLE {s}.rejected ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY rejected_read ON {s}.rejected FOR SELECT USING (org = {me})",
        f"""CREATE POLICY rejected_insert ON {s}.rejected FOR INSERT WITH CHECK (
  {write} AND org = {me} AND {same_tx.format(t="rejected")})""",
        f"ALTER TABLE {s}.plan_versions ENABLE ROW LEVEL SECURITY",
        f"""CREATE POLICY versions_read ON {s}.plan_versions FOR SELECT USING ({me} IS NOT NULL)""",
        f"""CREATE POLICY versions_insert ON {s}.plan_versions FOR INSERT WITH CHECK (
  {write} AND org = {me})""",
        f"""CREATE POLICY versions_current ON {s}.plan_versions FOR UPDATE
  USING ({write} AND org = {me}) WITH CHECK ({write} AND org = {me})""",
        f"ALTER TABLE {s}.store_meta ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY meta_read ON {s}.store_meta FOR SELECT USING (key <> 'salt')",
        f"""CREATE POLICY meta_revision ON {s}.store_meta FOR UPDATE
  USING (key = 'revision' AND {write}) WITH CHECK (key = 'revision' AND {write})""",
        f"ALTER TABLE {s}.audit ENABLE ROW LEVEL SECURITY",
        f"CREATE POLICY audit_read ON {s}.audit FOR SELECT USING ((SELECT {s}.is_admin()))",
        *(f"ALTER TABLE {s}.{t} ENABLE ROW LEVEL SECURITY"
          for t in ("organisations", "users", "api_tokens", "sessions")),
    ]  # fmt: skip


def _full_moratorium(s: str, m: str) -> str:
    """Whether the reader may see moratorium row ``m`` in full (inside a view run by
    the owner, where the works table shows every row): registered by or about the
    reader's organisation, or its source work was never private."""
    me = f"(SELECT {s}.current_org())"
    return (
        f"({m}.org = {me} OR {m}.source_org = {me} OR {s}.is_owner() OR NOT EXISTS "
        f"(SELECT 1 FROM {s}.works pw WHERE pw.org = {m}.source_org "
        f"AND pw.work_id = {m}.source_work_id AND pw.visibility = 'private'))"
    )


def _visible_moratoria_sql(s: str) -> list[str]:
    """The views the store reads moratoria and their exemptions through.

    A moratorium that protects the new surface of another organisation's
    private work (in any of its plan versions) is a signal: registering and
    source organisation ``private``, the source work id as the same opaque id
    its signal has, the source text without file names, validity by whole
    months, the geometry as the grid cells it touches. Its exemptions name no
    granting organisation and no decision. Such rows carry an opaque negative
    number instead of the moratorium's and the exemption's (numbers count up
    per registration: a neighbour of a visible row would name the owner); of
    a finished resurfacing reported more than once only the latest row shows,
    under the number of the first (as :func:`ims_geo.cycle.moratoria.moratoria`
    shows the others' own).
    """
    me = f"(SELECT {s}.current_org())"
    salt = f"(SELECT value FROM {s}.store_meta WHERE key = 'salt')"

    def opaque(number: str, kind: str) -> str:
        digest = f"sha256(convert_to({salt} || '{kind}' || chr(31) || {number}::text, 'UTF8'))"
        return f"(-1 - ('x' || left(encode({digest}, 'hex'), 7))::bit(28)::integer)"

    derived = "m.source LIKE 'finished resurfacing%'"
    cell = f"COALESCE((SELECT value::float8 FROM {s}.store_meta WHERE key = 'signal_cell'), {CELL_METRES})"
    seen = f"({me} IS NOT NULL OR {s}.is_owner())"
    anon = f"'anon-' || left(encode(sha256(convert_to({salt} || m.source_org || chr(31) || m.source_work_id, 'UTF8')), 'hex'), 16)"
    return [
        f"""CREATE VIEW {s}.visible_moratoria WITH (security_barrier) AS
SELECT CASE WHEN f.full THEN m.moratorium_id
    ELSE {opaque("COALESCE(g.first_id, m.moratorium_id)", "m")} END AS moratorium_id,
  CASE WHEN f.full THEN m.org ELSE 'private' END AS org,
  CASE WHEN f.full THEN m.source_org ELSE 'private' END AS source_org,
  CASE WHEN f.full THEN m.source_work_id ELSE {anon} END AS source_work_id,
  CASE WHEN f.full THEN m.valid_from ELSE date_trunc('month', m.valid_from)::date END
    AS valid_from,
  CASE WHEN f.full THEN m.valid_until
    ELSE (date_trunc('month', m.valid_until) + interval '1 month' - interval '1 day')::date END
    AS valid_until,
  CASE WHEN f.full THEN m.source WHEN m.source LIKE 'finished resurfacing%'
    THEN 'finished resurfacing' ELSE 'private' END AS source,
  CASE WHEN f.full THEN m.created_at ELSE left(m.created_at, 7) END AS created_at,
  CASE WHEN f.full THEN m.geometry_wkb
    ELSE upper(encode(ST_AsBinary(cells.geometry), 'hex')) END AS geometry_wkb
FROM {s}.moratoria m CROSS JOIN LATERAL (SELECT {_full_moratorium(s, "m")} AS full) f
CROSS JOIN LATERAL (SELECT ST_GeomFromWKB(decode(m.geometry_wkb, 'hex')) AS g) src
LEFT JOIN LATERAL ({_coarse_sql("src.g", cell)} AND NOT f.full) cells ON true
LEFT JOIN LATERAL (SELECT min(d.moratorium_id) AS first_id, max(d.moratorium_id) AS last_id
  FROM {s}.moratoria d WHERE d.source_org = m.source_org
  AND d.source_work_id = m.source_work_id AND d.source LIKE 'finished resurfacing%') g
  ON {derived} AND NOT f.full
WHERE {seen} AND (f.full OR g.last_id IS NULL OR g.last_id = m.moratorium_id)""",
        f"""CREATE VIEW {s}.visible_moratorium_exemptions WITH (security_barrier) AS
SELECT CASE WHEN f.full THEN e.exemption_id ELSE {opaque("e.exemption_id", "e")} END
    AS exemption_id,
  CASE WHEN f.full THEN e.moratorium_id ELSE {opaque("e.moratorium_id", "m")} END
    AS moratorium_id,
  CASE WHEN f.full THEN e.org ELSE 'private' END AS org, e.exempt_org, e.exempt_work_id,
  e.kind, CASE WHEN f.full THEN e.decision END AS decision,
  CASE WHEN f.full THEN e.granted_at ELSE left(e.granted_at, 7) END AS granted_at
FROM {s}.moratorium_exemptions e
CROSS JOIN LATERAL (SELECT COALESCE((SELECT {_full_moratorium(s, "m")} FROM {s}.moratoria m
  WHERE m.moratorium_id = e.moratorium_id), true) AS full) f
WHERE {seen}""",
    ]


def cycle_table_ddl(s: str, table: str, existing: set[str]) -> list[str]:
    """Policies (and audit trigger) for one planning-cycle table.

    Every signed-in user reads the rows; the roles of :data:`CYCLE_TABLES`
    add them (their own organisation's where the table says so) and, for
    settings tables only, change and delete them.
    """
    allowed, own, changeable = CYCLE_TABLES[table]
    me = f"(SELECT {s}.current_org())"
    may = f"COALESCE((SELECT {s}.current_app_role()) IN {_in(allowed)}, false)"
    check = f"{may} AND org = {me}" if own else may
    if table == "moratorium_exemptions":  # only the moratorium's own organisation grants one
        check += (
            f" AND EXISTS (SELECT 1 FROM {s}.moratoria m WHERE m.moratorium_id = "
            "moratorium_exemptions.moratorium_id AND m.org = moratorium_exemptions.org)"
        )
    read = f"{me} IS NOT NULL"
    if table == "moratoria":  # others' from private works: only via visible_moratoria
        read += (
            f" AND (org = {me} OR source_org = {me} OR NOT {s}._private_moratorium(moratorium_id))"
        )
    elif table == "moratorium_exemptions":  # only where the moratorium itself is readable
        read += (
            f" AND (org = {me} OR EXISTS (SELECT 1 FROM {s}.moratoria m "
            "WHERE m.moratorium_id = moratorium_exemptions.moratorium_id))"
        )
    if table in PER_WORK_TABLES:
        # rows about one work: others see them only when that work is not private
        # (the policies on works hide others' private rows from this EXISTS)
        read += (
            f" AND (org = {me} OR org = 'private' OR EXISTS (SELECT 1 FROM {s}.works w "
            f"JOIN {s}.plan_versions p ON p.version_id = w.version_id WHERE p.is_current "
            f"AND w.org = {table}.org AND w.work_id = {table}.work_id "
            "AND w.visibility <> 'private'))"
        )
    wanted = {
        f"{table}_read": f"CREATE POLICY {table}_read ON {s}.{table} FOR SELECT USING ({read})",
        f"{table}_insert": f"CREATE POLICY {table}_insert ON {s}.{table} FOR INSERT WITH CHECK ({check})",
    }  # fmt: skip
    if changeable:
        wanted[f"{table}_update"] = (
            f"CREATE POLICY {table}_update ON {s}.{table} FOR UPDATE USING ({check}) "
            f"WITH CHECK ({check})"
        )
        wanted[f"{table}_delete"] = (
            f"CREATE POLICY {table}_delete ON {s}.{table} FOR DELETE USING ({check})"
        )
    out = [f"ALTER TABLE {s}.{table} ENABLE ROW LEVEL SECURITY"]
    if table == "moratoria":
        out += [
            f"DROP VIEW IF EXISTS {s}.visible_moratorium_exemptions",
            f"DROP VIEW IF EXISTS {s}.visible_moratoria",
            # the policy asks about works the reader may not see: as the owner, and
            # only per moratorium (what visible_moratoria shows anyway), so it cannot
            # be asked whether some organisation has a private work of some id
            f"""CREATE OR REPLACE FUNCTION {s}._private_moratorium(p_id integer)
  RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM {s}.moratoria m JOIN {s}.works w ON w.org = m.source_org
                 AND w.work_id = m.source_work_id
                 WHERE m.moratorium_id = p_id AND w.visibility = 'private');
END $$""",
        ]
    for name, sql in wanted.items():  # re-created: a newer version's rules take over
        if name in existing:
            out.append(f"DROP POLICY {name} ON {s}.{table}")
        out.append(sql)
    if table == "moratoria":  # of an earlier version of these rules
        out.append(f"DROP FUNCTION IF EXISTS {s}._private_work(text, text)")
    if table in VIEWED_TABLES:
        # the next free number over every row, also those the reader may not see
        # (it tells how many there are, nothing else)
        key = "moratorium_id" if table == "moratoria" else "exemption_id"
        out.append(
            f"""CREATE OR REPLACE FUNCTION {s}.next_{table}_id() RETURNS integer
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT COALESCE(MAX({key}), 0) + 1 FROM {s}.{table} $$"""
        )
    if table == "moratorium_exemptions":  # both tables exist: the views over them
        out += _visible_moratoria_sql(s)
    if table in CYCLE_AUDIT and f"{table}_audit" not in existing:
        out.append(
            f"CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE ON {s}.{table} "
            f"FOR EACH ROW EXECUTE FUNCTION {s}._audit_row('{CYCLE_AUDIT[table]}')"
        )
    return out


# --- installing ---------------------------------------------------------------------------
def _extension_schema(conn: sa.Connection, name: str) -> str | None:
    row = conn.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = :n"
        ),
        {"n": name},
    ).first()
    return None if row is None else str(row[0])


def install(conn: sa.Connection, schema: str) -> None:
    """Create the access layer in ``schema`` (inside the caller's transaction, as its owner)."""
    if _extension_schema(conn, "pgcrypto") is None:
        try:
            with conn.begin_nested():
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pgcrypto"))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"the pgcrypto extension is missing and could not be created "
                f"({getattr(exc, 'orig', exc)}); ask the database administrator to run "
                "CREATE EXTENSION pgcrypto in this database"
            ) from exc
    path = [schema, _extension_schema(conn, "postgis"), _extension_schema(conn, "pgcrypto")]
    search_path = ", ".join(["pg_catalog", *dict.fromkeys(p for p in path if p), "pg_temp"])
    owner = str(conn.execute(sa.text("SELECT current_user")).scalar_one())
    for statement in access_ddl(schema, owner, search_path):
        conn.execute(sa.text(_BIND.sub(r"\\:", statement)))
    conn.execute(sa.text(f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {schema} FROM PUBLIC"))
    conn.execute(sa.text(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC"))
    conn.execute(
        sa.text(
            f"INSERT INTO {schema}.store_meta (key, value) VALUES "
            "('access_version', :v), ('bcrypt_cost', :c), ('session_hours', :h) "
            "ON CONFLICT (key) DO NOTHING"
        ),
        {"v": ACCESS_VERSION, "c": str(BCRYPT_COST), "h": str(SESSION_HOURS)},
    )
    secure_cycle_tables(conn, schema)


def secure_cycle_tables(conn: sa.Connection, schema: str) -> list[str]:
    """Policies and audit triggers on the planning-cycle tables that exist; their names.

    Run again whenever a store is opened by its owner, so tables added by a
    later version get their policies.
    """
    rows = conn.execute(
        sa.text(
            "SELECT c.table_name FROM information_schema.tables c "
            "WHERE c.table_schema = :s AND c.table_name = ANY(:t)"
        ),
        {"s": schema, "t": list(CYCLE_TABLES)},
    ).fetchall()
    tables = sorted(str(r[0]) for r in rows)
    stamp = f"{CYCLE_POLICY_VERSION}:{','.join(tables)}"
    done = conn.execute(
        sa.text(f"SELECT value FROM {schema}.store_meta WHERE key = 'cycle_policies'")
    ).scalar()
    if done == stamp:  # nothing new: no DDL (it would lock the tables)
        return tables
    existing = {
        str(r[0])
        for r in conn.execute(
            sa.text(
                "SELECT policyname FROM pg_policies WHERE schemaname = :s UNION ALL "
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s"
            ),
            {"s": schema},
        )
    }
    readers = [
        str(r[0])
        for r in conn.execute(
            sa.text(
                "SELECT DISTINCT grantee FROM information_schema.role_table_grants "
                "WHERE table_schema = :s AND table_name = 'moratoria' "
                "AND privilege_type = 'SELECT' AND grantee <> current_user"
            ),
            {"s": schema},
        )
    ]
    for table in tables:
        for statement in cycle_table_ddl(schema, table, existing):
            conn.execute(sa.text(_BIND.sub(r"\\:", statement)))
    for reader in readers:  # a table added by a later version: the application's rights on it
        for statement in _cycle_grants(conn, schema, tables, _quote(reader)):
            conn.execute(sa.text(statement))
    if set(VIEWED_TABLES) <= set(tables):
        for reader in readers:  # the views were made anew: their readers again
            conn.execute(sa.text(_view_grants(schema, _quote(reader))))
    conn.execute(
        sa.text(
            f"INSERT INTO {schema}.store_meta (key, value) VALUES ('cycle_policies', :v) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        ),
        {"v": stamp},
    )
    return tables


def _cycle_grants(conn: sa.Connection, schema: str, tables: list[str], role: str) -> list[str]:
    """The application role's rights on the planning-cycle tables ``tables`` (the policies
    decide which rows) and on the numbers they draw."""
    statements = [
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {schema}.{table} TO {role}" for table in tables
    ]
    sequences = conn.execute(
        sa.text(
            "SELECT pg_get_serial_sequence(quote_ident(c.table_schema) || '.' || "
            "quote_ident(c.table_name), c.column_name) FROM information_schema.columns c "
            "WHERE c.table_schema = :s AND c.table_name = ANY(:t)"
        ),
        {"s": schema, "t": list(tables)},
    ).fetchall()
    statements += [f"GRANT USAGE ON SEQUENCE {seq} TO {role}" for (seq,) in sequences if seq]
    return statements


def _view_grants(schema: str, role: str) -> str:
    views = ", ".join(f"{schema}.visible_{t}" for t in VIEWED_TABLES)
    return f"GRANT SELECT ON {views} TO {role}"


def grant_app_role(conn: sa.Connection, schema: str, app_role: str) -> None:
    """Give ``app_role`` exactly the rights the application needs (nothing more).

    Refuses a role that could bypass the policies: a superuser, a role with
    ``BYPASSRLS``, the schema owner or a member of the owner's role.
    """
    row = conn.execute(
        sa.text(
            "SELECT r.rolsuper, r.rolbypassrls, pg_has_role(r.oid, n.nspowner, 'MEMBER') "
            "FROM pg_roles r, pg_namespace n WHERE r.rolname = :r AND n.nspname = :s"
        ),
        {"r": app_role, "s": schema},
    ).first()
    if row is None:
        raise StoreError(
            f"no PostgreSQL role {app_role!r} (or no schema {schema}); create it first: "
            f"CREATE ROLE {_quote(app_role)} LOGIN PASSWORD '...' NOSUPERUSER NOBYPASSRLS"
        )
    if row[0] or row[1] or row[2]:
        raise StoreError(
            f"the application role {app_role!r} would bypass row-level security "
            "(superuser, BYPASSRLS, or owner of the store schema); use a plain role"
        )
    role = _quote(app_role)
    tables = ("works", "rejected", "store_meta", *WORKS_VIEWS, "audit")
    insert_works = ", ".join(f'"{c}"' for c in ("version_id", *COLUMNS, "extra", "geometry"))
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT ON {', '.join(f'{schema}.{t}' for t in tables)} TO {role}",
        # not n_works, first_start, last_end: they include others' private works
        # (visible_versions shows them over the works the reader may see)
        f"GRANT SELECT (version_id, org, cycle, version, uploaded_at, source, "
        f"n_rejected, is_current, extras, created_txid) ON {schema}.plan_versions TO {role}",
        f"GRANT INSERT ({insert_works}) ON {schema}.works TO {role}",
        f"GRANT INSERT (org, cycle, version, uploaded_at, source, n_works, "
        f"n_rejected, is_current, first_start, last_end, extras) ON {schema}.plan_versions TO {role}",
        f"GRANT UPDATE (is_current) ON {schema}.plan_versions TO {role}",
        f"GRANT INSERT (version_id, org, source_row, source_file, reason, attributes, "
        f"geometry_wkt) ON {schema}.rejected TO {role}",
        f"GRANT UPDATE (value) ON {schema}.store_meta TO {role}",
        f"GRANT USAGE ON SEQUENCE {schema}.works_fid_seq, {schema}.plan_versions_version_id_seq, "
        f"{schema}.rejected_fid_seq TO {role}",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {role}",
    ]
    # PostgreSQL 15+: the GIS view then runs with the reader's rights (and policies)
    if int(conn.execute(sa.text("SHOW server_version_num")).scalar_one()) >= 150000:
        statements += [
            f"ALTER VIEW {schema}.current_works SET (security_invoker = true)",
            f"GRANT SELECT ON {schema}.current_works TO {role}",
        ]
    cycle_tables = secure_cycle_tables(conn, schema)
    statements += _cycle_grants(conn, schema, cycle_tables, role)
    if set(VIEWED_TABLES) <= set(cycle_tables):
        statements.append(_view_grants(schema, role))
    for statement in statements:
        conn.execute(sa.text(statement))
