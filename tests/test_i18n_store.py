"""A store's refusals, built by the library, shown in the user's language on a page."""

from __future__ import annotations

import re
import socket
import sqlite3
from pathlib import Path

import pytest

from ims_geo import i18n
from ims_geo.errors import ImsGeoError
from ims_geo.i18n import messages
from ims_geo.store import open_store
from ims_geo.store.locks import LOCK_TIMEOUT_ENV

#: English words of a store's refusals that no translation keeps.
ENGLISH = re.compile(r"\b(store|could not|may not|cannot|another import|sign in|plans? of)\b")


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.use("en")


def _refused(call, *args, **kwargs) -> str:
    """The message of the library's refusal of ``call(*args, **kwargs)`` (it must refuse)."""
    with pytest.raises(ImsGeoError) as refused:
        call(*args, **kwargs)
    return str(refused.value)


def _shown(english: str, lang: str) -> str:
    i18n.use(lang)
    try:
        return messages.translate(english)
    finally:
        i18n.use("en")


def _water(*ids: str):
    from access_data import line, plan

    return plan("Water", [
        {"work_id": work_id, "discipline": "water", "start_date": "2027-03-01",
         "end_date": "2027-04-01", "geometry": line(60.0 * i)}
        for i, work_id in enumerate(ids)
    ])  # fmt: skip


def _gpkg_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every refusal of a GeoPackage store a page can meet, each with the value it names."""
    junk, foreign = tmp_path / "junk.gpkg", tmp_path / "foreign.gpkg"
    junk.write_bytes(b"not a database " * 8)
    with sqlite3.connect(foreign) as con:
        con.execute("CREATE TABLE roads (id INTEGER)")
    refusals = {
        "location": _refused(open_store, "ftp://host/plans"),
        "sign-in": _refused(open_store, tmp_path / "s.gpkg", user="jussi"),
        "suffix": _refused(open_store, tmp_path / "s.sqlite"),
        "junk": _refused(open_store, junk),
        "foreign": _refused(open_store, foreign),
        "timeout": _refused(open_store, tmp_path / "t.gpkg", lock_timeout=-1),
    }
    with monkeypatch.context() as patch:
        patch.setenv(LOCK_TIMEOUT_ENV, "soon")
        refusals["timeout setting"] = _refused(open_store, tmp_path / "t.gpkg")
    empty = open_store(tmp_path / "empty.gpkg")
    refusals["empty"] = _refused(empty.restore, "Water", 1)
    store = open_store(tmp_path / "store.gpkg", lock_timeout=0.1)
    store.import_plan(_water("W1", "W2"), org="Water", cycle=2027)
    store.import_plan(_water("W1", "W3"), org="Water", cycle=2027)
    refusals["current"] = _refused(store.restore, "Water", 2)
    refusals["no version"] = _refused(store.restore, "Water", 7)
    refusals["no version id"] = _refused(store.version_works, 99)
    refusals["close name"] = _refused(store.restore, "water", 1)
    refusals["unknown org"] = _refused(store.restore, "Gas", 1)
    with sqlite3.connect(store.location, isolation_level=None) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the store
        refusals["busy"] = _refused(store.import_plan, _water("W4"), org="Water", cycle=2027)
        other.execute("ROLLBACK")
    refusals["database"] = str(
        store.database_error(sqlite3.OperationalError("disk I/O error"), "read the planning cycle")
    )
    return refusals


#: What each refusal names (kept as it is in every language).
def _values(tmp_path: Path) -> dict[str, list[str]]:
    store = str(tmp_path / "store.gpkg")
    return {
        "location": ["'ftp://host/plans'"],
        "sign-in": [str(tmp_path / "s.gpkg")],
        "suffix": [str(tmp_path / "s.sqlite"), "data/ims.gpkg"],
        "junk": [str(tmp_path / "junk.gpkg")],
        "foreign": [str(tmp_path / "foreign.gpkg")],
        "timeout": ["-1"],
        "timeout setting": [f"{LOCK_TIMEOUT_ENV}='soon'"],
        "empty": [str(tmp_path / "empty.gpkg"), "ims-geo import FILE"],
        "current": ["2", "'Water'", "ims-geo versions --org Water"],
        "no version": ["7", "'Water'", "1, 2", "ims-geo versions --org Water"],
        "no version id": ["99", store, "ims-geo versions"],
        "close name": ["'water'", "'Water'", store],
        "unknown org": ["'Gas'", "Water", store],
        "busy": [store, "0.1 s", LOCK_TIMEOUT_ENV],
        "database": [store, "(disk I/O error)"],
    }


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_every_refusal_of_a_geopackage_store_is_translated_with_what_it_names(
    tmp_path, monkeypatch, lang
):
    refusals = _gpkg_refusals(tmp_path, monkeypatch)
    values = _values(tmp_path)
    assert sorted(refusals) == sorted(values)
    for key, english in refusals.items():
        assert all(v in english for v in values[key]), (key, english)
        shown = _shown(english, lang)
        assert shown != english, (key, english)
        assert all(v in shown for v in values[key]), (key, shown)
        words = shown
        for value in values[key]:
            words = words.replace(value, "")
        assert not ENGLISH.search(words), (key, shown)
    said = {
        "nl": {
            "busy": f"opslag {values['busy'][0]}: een andere import loopt nog en was niet binnen "
            f"0.1 s klaar; probeer het opnieuw als die klaar is (of verhoog {LOCK_TIMEOUT_ENV})",
            "database": f"opslag {values['database'][0]}: het lezen van de planningscyclus is "
            "mislukt (disk I/O error)",
        },
        "de": {
            "busy": f"Speicher {values['busy'][0]}: ein anderer Import läuft noch und war nicht "
            "innerhalb von 0.1 s fertig; versuchen Sie es erneut, wenn er fertig ist (oder "
            f"erhöhen Sie {LOCK_TIMEOUT_ENV})",
            "database": f"Speicher {values['database'][0]}: das Lesen des Planungszyklus ist "
            "fehlgeschlagen (disk I/O error)",
        },
    }[lang]
    for key, expected in said.items():
        assert _shown(refusals[key], lang) == expected


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("nl", "het openen van de opslag is mislukt ("),
        ("de", "das Öffnen des Speichers ist fehlgeschlagen ("),
    ],
)
def test_a_shared_store_that_cannot_be_reached_is_explained_in_its_language(lang, says):
    url = f"postgresql://planner:s3cret@127.0.0.1:{_free_port()}/ims"
    english = _refused(open_store, url)
    assert "could not open the store (" in english and "check that the server runs" in english
    assert "s3cret" not in english
    shown = _shown(english, lang)
    location = english.split(": ", 1)[0].removeprefix("store ")
    assert says in shown and location in shown and not ENGLISH.search(shown), shown
    assert shown.endswith(
        {
            "nl": "; controleer of de server draait en of de URL, gebruikersnaam en wachtwoord "
            "kloppen",
            "de": "; prüfen Sie, ob der Server läuft und URL, Benutzername und Passwort stimmen",
        }[lang]
    )


@pytest.mark.postgis
@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_shared_store_s_refusals_name_what_was_asked_in_its_language(
    populated_installation, lang
):
    import sqlalchemy as sa
    from access_data import PASSWORD

    from ims_geo.access.admin import Administration
    from ims_geo.cycle import set_targets

    made, _versions = populated_installation
    refusals = {}
    with open_store(made.app_url, user="a_plan", password=PASSWORD) as planner:
        refusals["admin"] = _refused(Administration(planner).add_org, "C")
    with open_store(made.app_url, user="root", password=PASSWORD) as root:
        refusals["no org"] = _refused(
            Administration(root).add_user, "newbie", org="Nowhere", role="viewer",
            password=PASSWORD,
        )  # fmt: skip
        refusals["no user"] = _refused(Administration(root).disable_user, "nobody")
    refusals["session"] = _refused(open_store, made.app_url, session="no-such-session")
    owner = sa.create_engine(made.owner_url)
    try:
        with (
            open_store(made.app_url, user="a_coord", password=PASSWORD, lock_timeout=0.2) as coord,
            owner.connect() as holder,
        ):
            holder.execute(sa.text("LOCK TABLE ims_geo.cycles IN EXCLUSIVE MODE"))
            refusals["busy"] = _refused(set_targets, coord, 2027, {"combined_share": 0.9})
            holder.rollback()
    finally:
        owner.dispose()
    location = refusals["busy"].split(": ", 1)[0].removeprefix("store ")
    assert refusals["admin"] == (
        f"store {location}: a_plan (planner of A) may not add organisation 'C' (only an admin "
        "may manage organisations, users and tokens)"
    )
    assert refusals["no org"].startswith("could not add user 'newbie': ")
    assert refusals["no user"] == "could not disable user 'nobody': no user nobody"
    reason = refusals["no org"].removeprefix("could not add user 'newbie': ")
    assert refusals["session"] == (
        f"the session for {location} has expired or ended; sign in again"
    )
    expected = {
        "nl": {
            "admin": f"opslag {location}: a_plan (planner van A) heeft geen toestemming voor het "
            "toevoegen van organisatie 'C' (alleen een beheerder mag organisaties, gebruikers en "
            "tokens beheren)",
            "no org": f"het toevoegen van gebruiker 'newbie' is mislukt: {reason}",
            "no user": "het uitschakelen van gebruiker 'nobody' is mislukt: geen gebruiker nobody",
            "session": f"de sessie voor {location} is verlopen of beëindigd; log opnieuw in",
            "busy": f"opslag {location}: het wijzigen van de planningscyclus is mislukt: een "
            "andere import loopt nog en was niet binnen 0.2 s klaar; probeer het opnieuw als "
            f"die klaar is (of verhoog {LOCK_TIMEOUT_ENV})",
        },
        "de": {
            "admin": f"Speicher {location}: a_plan (Planer von A) hat keine Berechtigung für das "
            "Hinzufügen der Organisation 'C' (nur ein Administrator darf Organisationen, Benutzer "
            "und Tokens verwalten)",
            "no org": f"das Hinzufügen des Benutzers 'newbie' ist fehlgeschlagen: {reason}",
            "no user": "das Deaktivieren des Benutzers 'nobody' ist fehlgeschlagen: kein Benutzer "
            "nobody",
            "session": f"die Sitzung für {location} ist abgelaufen oder beendet; melden Sie sich "
            "erneut an",
            "busy": f"Speicher {location}: das Ändern des Planungszyklus ist fehlgeschlagen: ein "
            "anderer Import läuft noch und war nicht innerhalb von 0.2 s fertig; versuchen Sie es "
            f"erneut, wenn er fertig ist (oder erhöhen Sie {LOCK_TIMEOUT_ENV})",
        },
    }[lang]
    assert {key: _shown(english, lang) for key, english in refusals.items()} == expected
