"""Languages: catalogues found and merged, formatting per language."""

import io
import re
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from ims_geo import i18n
from ims_geo.errors import InputError
from ims_geo.i18n import messages
from ims_geo.ingest import read_works


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.use("en")


def test_the_shipped_languages_are_english_dutch_and_german():
    assert i18n.available()[0] == "en"
    assert {"nl", "de"} <= set(i18n.available())
    assert dict(i18n.languages())["nl"] == "Nederlands"


@pytest.mark.parametrize(
    ("lang", "when", "money", "number", "days"),
    [
        ("en", "3 Mar 2031", "€1,234,567", "12,345.7", "41 days"),
        ("nl", "3 mrt 2031", "€ 1.234.567", "12.345,7", "41 dagen"),
        ("de", "03.03.2031", "1.234.567\xa0€", "12.345,7", "41 Tage"),
    ],
)
def test_dates_numbers_euros_and_days_are_written_as_each_language_writes_them(
    lang, when, money, number, days
):
    assert i18n.use(lang) == lang
    assert i18n.fmt_date(pd.Timestamp("2031-03-03 00:00:00")) == when
    assert i18n.fmt_date(date(2031, 3, 3)) == when
    assert i18n.fmt_money(1234567.4).replace("\xa0", " ") == money.replace("\xa0", " ")
    assert i18n.fmt_number(12345.678, decimals=1) == number
    assert i18n.fmt_days(41) == days
    assert i18n.fmt_date(None) == i18n.fmt_date(pd.NaT) == i18n.MISSING


def test_metres_are_rounded_to_what_a_planner_reads():
    i18n.use("en")
    assert i18n.fmt_metres(3.456) == "3.46 m"
    assert i18n.fmt_metres(1234.5) == "1,234 m"
    assert i18n.fmt_metres(25_300) == "25.3 km"


def test_an_unknown_language_falls_back_to_the_installation_default(monkeypatch):
    monkeypatch.setenv(i18n.LANG_ENV, "de-DE")
    assert i18n.use("xx") == "de"
    monkeypatch.delenv(i18n.LANG_ENV)
    assert i18n.use("xx") == "en"


def test_a_municipality_adds_a_language_and_overrides_a_wording_without_code(tmp_path, monkeypatch):
    header = (
        'msgid ""\nmsgstr ""\n"Language: {lang}\\n"\n'
        '"Content-Type: text/plain; charset=utf-8\\n"\n'
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
    )
    fr = tmp_path / "fr" / "LC_MESSAGES"
    fr.mkdir(parents=True)
    (fr / "ims_geo.po").write_text(
        header.format(lang="fr")
        + 'msgid "{n} day"\nmsgid_plural "{n} days"\nmsgstr[0] "{n} jour"\nmsgstr[1] "{n} jours"\n',
        encoding="utf-8",
    )
    nl = tmp_path / "nl" / "LC_MESSAGES"
    nl.mkdir(parents=True)
    (nl / "ims_geo.po").write_text(
        header.format(lang="nl")
        + 'msgid "{n} day"\nmsgid_plural "{n} days"\nmsgstr[0] "{n} werkdag"\nmsgstr[1] "{n} werkdagen"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv(i18n.LOCALE_DIR_ENV, str(tmp_path))
    assert "fr" in i18n.available()
    i18n.use("fr")
    assert i18n.fmt_days(2) == "2 jours"
    i18n.use("nl")
    assert i18n.fmt_days(2) == "2 werkdagen"  # the installation's wording wins


# --- the catalogues -----------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def _read(path: Path, lang: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


def _ids(catalog: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def _code_ids() -> set[str]:
    """Every message of the code, extracted as ``make catalogues`` does (babel.cfg)."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map=method_map,
        options_map=options_map,
        keywords={"_": None, "N_": None, "ngettext": (1, 2)},
        directory_filter=lambda path: not Path(path).name.startswith("."),
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_every_message_is_translated_with_the_same_placeholders(lang):
    catalog = _read(i18n.PACKAGE_LOCALE / lang / "LC_MESSAGES" / "ims_geo.po", lang)
    assert catalog.plural_forms == "nplurals=2; plural=(n != 1);"
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(("fuzzy", message.id))
        english = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(forms):
            problems.append(("untranslated", message.id))
        wanted = {tuple(sorted(set(PLACEHOLDER.findall(e)))) for e in english}
        for form in forms:
            if form and tuple(sorted(set(PLACEHOLDER.findall(form)))) not in wanted:
                problems.append(("placeholders", message.id, form))
    assert not problems, problems


def test_the_catalogues_hold_every_message_of_the_code():
    template = _ids(_read(i18n.PACKAGE_LOCALE / "ims_geo.pot"))
    missing = _code_ids() - template
    assert not missing, f"run `make catalogues` and translate: {sorted(missing)}"
    for lang in ("nl", "de"):
        path = i18n.PACKAGE_LOCALE / lang / "LC_MESSAGES" / "ims_geo.po"
        assert _ids(_read(path, lang)) == template, lang


# --- the library's messages, translated where they are shown -------------------------------
def _bad_plan() -> bytes:
    rows = [
        "work_id,org,start_date,end_date,status,geometry",
        'A1,Water,2030-01-01,2030-02-01,planned,"LINESTRING (0 0, 10 0)"',
        "A2,Water,2030-01-01,2030-02-01,planned,",
        'A3,Water,2030-13-45,2030-02-01,planned,"LINESTRING (0 5, 10 5)"',
        'A4,Water,2030-03-01,2030-02-01,planned,"LINESTRING (0 9, 10 9)"',
        'A5,Water,2030-01-01,2030-02-01,planned,"POINT (3 3)"',
        'A5,Water,2030-01-01,2030-02-01,planned,"POINT (4 4)"',
        'A6,Water,2030-01-01,2030-02-01,in voorbereiding,"POINT (5 5)"',
        'A7,Water,2030-01-01,2030-02-01,planned,"POINT (5"',
    ]
    return ("\n".join(rows) + "\n").encode()


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_the_upload_report_warnings_and_reasons_are_translated_where_shown(lang):
    result = read_works(_bad_plan(), name="plan.csv", crs="EPSG:28992")
    assert len(result.works) == 2 and len(result.rejected) == 6
    english_report, english_reasons = result.report(), result.reasons()["problem"].tolist()
    i18n.use(lang)
    report = messages.translate_report(english_report)
    assert len(report.splitlines()) == len(english_report.splitlines())
    for line, original in zip(report.splitlines(), english_report.splitlines(), strict=True):
        assert line != original, original  # every line recognised
    for warning in result.warnings:
        assert messages.translate(warning) != warning
    for problem in english_reasons:
        assert messages.translate(problem) != problem
    for reason in result.rejected["reason"]:
        translated = messages.translate_reasons(reason)
        assert all(
            part != original
            for part, original in zip(translated.split("; "), reason.split("; "), strict=True)
        ), reason
    # the values stay as they were: the row's own date and id are quoted unchanged
    assert "'2030-13-45'" in messages.translate_reasons(" ".join(result.rejected["reason"]))
    i18n.use("en")
    assert messages.translate_report(english_report) == english_report


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "kwargs"),
    [
        (b"work_id,org,start_date,end_date,geometry\n"
         b'1,W,2030-01-01,2030-02-01,"POINT (155000 463000)"\n', "plan.csv", {}),
        (_zip({"../evil.csv": b"x"}), "plan.zip", {}),
        (b"", "plan.csv", {}),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "plan.geojson", {}),
        (b"work_id,org,start_date,end_date\n1,W,2030-01-01,2030-02-01\n", "plan.csv", {}),
    ],
    ids=["no-crs", "zip-slip", "empty", "not-vector", "no-geometry"],
)  # fmt: skip
def test_an_upload_refusal_is_translated_where_shown(data, name, kwargs):
    with pytest.raises(InputError) as refused:
        read_works(data, name=name, **kwargs)
    english = str(refused.value)
    for lang in ("nl", "de"):
        i18n.use(lang)
        translated = messages.translate(english)
        assert translated != english and name in translated, (lang, english)


def test_the_planning_cycle_steps_are_translated_where_shown(tmp_path):
    from ims_geo import cycle
    from ims_geo.store import open_store

    steps = cycle.status(open_store(tmp_path / "empty.gpkg"), 2030).steps
    i18n.use("de")
    for name, detail in zip(steps["name"], steps["detail"], strict=True):
        assert messages.translate(name) != name
        assert messages.translate(detail) != detail, detail


# --- exports with headers in words ---------------------------------------------------------
@pytest.fixture
def clashing(tmp_path):
    """A GeoPackage of two organisations' works that clash, and a store holding them."""
    import geopandas as gpd
    import shapely

    from ims_geo.schema import validate
    from ims_geo.store import open_store

    works = gpd.GeoDataFrame(
        {
            "work_id": ["R1", "W1"],
            "org": ["Gemeente", "Waternet"],
            "title": ["Asfalt", "Waterleiding"],
            "discipline": ["road", "water"],
            "start_date": ["2030-03-01", "2030-03-15"],
            "end_date": ["2030-03-31", "2030-04-15"],
            "cost_eur": [1000.0, 2500.0],
        },
        geometry=[
            shapely.LineString([(155000, 463000), (155100, 463000)]),
            shapely.LineString([(155000, 463005), (155100, 463005)]),
        ],
        crs=28992,
    )
    path = tmp_path / "plans.gpkg"
    works.to_file(path, driver="GPKG")
    store = open_store(tmp_path / "store.gpkg")
    for org, plan in validate(works).valid.groupby("org"):
        store.import_plan(plan, org=str(org), cycle=2030, source="plans.gpkg")
    return {"file": path, "store": tmp_path / "store.gpkg"}


def _cli(*args):
    from click.testing import CliRunner

    from ims_geo.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_conflict_and_works_exports_have_headers_in_words_when_asked(clashing, tmp_path):
    from ims_geo.i18n.labels import label

    plain, dutch = tmp_path / "plain.csv", tmp_path / "dutch.csv"
    assert _cli("conflicts", clashing["file"], "--out", plain).exit_code == 0
    result = _cli("conflicts", clashing["file"], "--out", dutch, "--lang", "nl")
    assert result.exit_code == 0, result.output
    machine, people = pd.read_csv(plain), pd.read_csv(dutch)
    assert len(machine) == 1 and machine.loc[0, "kind"] == "clash"
    i18n.use("nl")
    expected = [label(c) for c in machine.columns]
    i18n.use("en")
    assert list(people.columns) == expected
    assert "Organisatie A" in expected and "work_id_a" not in expected
    # only the headers change
    pd.testing.assert_frame_equal(people.set_axis(machine.columns, axis=1), machine)

    sheet = tmp_path / "works.xlsx"
    result = _cli("export", "--out", sheet, "--lang", "de", "--store", clashing["store"])
    assert result.exit_code == 0, result.output
    german = pd.read_excel(sheet)
    assert {"Organisation", "Titel", "Geschätzte Kosten (EUR)"} <= set(german.columns)
    assert sorted(german["Organisation"]) == ["Gemeente", "Waternet"]


@pytest.mark.parametrize(
    ("out", "lang", "says"),
    [("c.gpkg", "nl", "--lang applies to .csv and .xlsx"), ("c.csv", "xx", "not a language")],
)
def test_headers_in_words_are_refused_for_spatial_files_and_unknown_languages(
    clashing, tmp_path, out, lang, says
):
    result = _cli("conflicts", clashing["file"], "--out", tmp_path / out, "--lang", lang)
    assert result.exit_code != 0 and says in result.output
    assert not (tmp_path / out).exists()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_values_of_a_message_are_escaped_for_markdown_but_its_words_are_not(lang):
    from ims_geo.ui.widgets import literal

    english = (
        "p_1.csv: status '![x](http://evil/t.png)' (3 rows) read as planned — add it to "
        "[values.status] in a mapping file"
    )
    i18n.use(lang)
    shown = messages.translate(english, escape=literal)
    assert literal("![x](http://evil/t.png)") in shown and "![x]" not in shown
    assert "p\\_1.csv" in shown and "[values.status]" in shown
    assert messages.translate("<b>no template</b>", escape=literal) == literal("<b>no template</b>")
    assert messages.translate(english) != shown  # without escape: as built (for the CLI/API)


def test_bind_keeps_the_language_of_the_moment_for_a_function_called_later():
    import threading

    i18n.use("de")
    later = i18n.bind(lambda n: i18n.fmt_days(n))
    i18n.use("nl")
    assert later(2) == "2 Tage" and i18n.fmt_days(2) == "2 dagen"
    found: list[str] = []
    thread = threading.Thread(target=lambda: found.append(later(3)))  # a fresh context
    thread.start()
    thread.join()
    assert found == ["3 Tage"] and i18n.language() == "nl"


def test_a_context_without_a_language_follows_the_session_then_the_installation(monkeypatch):
    import threading

    monkeypatch.delenv(i18n.LANG_ENV, raising=False)
    seen: list[str] = []

    def in_a_new_thread() -> None:  # threads start with an empty context: no use() there
        seen.append(i18n.language())

    wanted = {"lang": "de"}
    i18n.follow(lambda: wanted["lang"])
    try:
        for lang in ("de", "<not a language>", None):
            wanted["lang"] = lang
            thread = threading.Thread(target=in_a_new_thread)
            thread.start()
            thread.join()
    finally:
        i18n.follow(None)
    assert seen == ["de", "en", "en"]


# --- a store's refusals and the programme page's input errors, built by the library ------------
def _plan(*rows: str) -> bytes:
    return ("\n".join(["work_id,org,start_date,end_date,geometry", *rows]) + "\n").encode()


def _work(org: str, work_id: str, x: int = 0) -> str:
    return f'{work_id},{org},2030-01-01,2030-02-01,"POINT ({155000 + x} 463000)"'


def _broken(org: str, work_id: str) -> str:
    return f"{work_id},{org},2030-01-01,2030-02-01,"  # no geometry: rejected


def _refused(call, *args, **kwargs) -> str:
    """The message of the library's refusal of ``call(*args, **kwargs)`` (it must refuse)."""
    from ims_geo.errors import ImsGeoError

    with pytest.raises(ImsGeoError) as refused:
        call(*args, **kwargs)
    return str(refused.value)


def _refusal(store, data: bytes, org: str | None) -> str:
    from ims_geo.errors import ImportRefusedError

    result = read_works(data, name="plan.csv", crs="EPSG:28992")
    with pytest.raises(ImportRefusedError) as refused:
        store.import_plans(result.works, result.rejected, cycle=2030, source="plan.csv", org=org)
    return str(refused.value)


@pytest.fixture(scope="module")
def store_refusals(tmp_path_factory) -> list[str]:
    """Every form of a store's refusal: each optional part of "no accepted works" with and
    without the others, a plan unrelated to the current one, and two refusals at once
    (the library's English messages, built once for the languages they are shown in)."""
    from ims_geo.store import open_store

    store = open_store(tmp_path_factory.mktemp("refusals") / "refusals.gpkg")
    found = [
        _refusal(store, _plan(), "New"),
        _refusal(store, _plan(_broken("Water", "B1")), "Water"),
        _refusal(store, _plan(_work("Gas", "G1")), "Elec"),
        _refusal(
            store, _plan(_work("Gas", "G1"), _work("Gas", "G2", 5), _broken("Elec", "E9")), "Elec"
        ),
    ]
    result = read_works(
        _plan(*(_work("Water", f"W{i}", i) for i in range(12))), name="w.csv", crs="EPSG:28992"
    )
    store.import_plans(result.works, cycle=2030, source="w.csv")
    found += [
        _refusal(store, _plan(), "Water"),
        _refusal(store, _plan(_broken("Water", "B1"), _broken("Water", "B2")), "Water"),
        _refusal(store, _plan(_work("Gas", "G1")), "Water"),
        _refusal(store, _plan(_work("Gas", "G1"), _broken("Water", "B1")), "Water"),
        _refusal(store, _plan(*(_work("Water", f"X{i}", i) for i in range(3))), None),
        _refusal(
            store,
            _plan(*(_work("Water", f"X{i}", i) for i in range(3)), _broken("Gas", "B1")),
            None,
        ),
    ]
    return found


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_store_refusal_is_translated_where_shown_in_every_form_it_takes(store_refusals, lang):
    refusals = store_refusals
    assert len(set(refusals)) == len(refusals) == 10
    # the library's own wording, so a changed sentence fails here instead of staying English
    assert sum("; storing it would empty its current plan (version 1, 12 works)" in r
               for r in refusals) == 4  # fmt: skip
    assert sum("the file holds rows of other organisations only: Gas (" in r for r in refusals) == 4
    assert sum("rows rejected: the report says why" in r for r in refusals) == 5
    assert sum("shares no work_id" in r for r in refusals) == 2
    assert "\n" in refusals[-1]
    i18n.use(lang)
    for english in refusals:
        shown = messages.translate(english)
        assert not shown.startswith("nothing was stored"), english
        lines = shown.split("\n")
        assert len(lines) == len(english.split("\n"))
        for line in lines:
            assert "the new plan of" not in line and "Fix the file" not in line, line
            assert "'Water'" in line or "'Elec'" in line or "'New'" in line or "'Gas'" in line
        # the values are kept: the versions, counts and ids of the message
        for value in re.findall(r"'[A-Z]\w*'|(?<=version )\d+|\d+(?= works)", english):
            assert value in shown, (value, shown)
    counted = messages.translate(refusals[3])
    assert ("Gas (2 rijen)" if lang == "nl" else "Gas (2 Zeilen)") in counted
    assert "ims-geo restore Water 1" in messages.translate(refusals[-2])


BUDGET_PROBLEMS = [
    ("org,year,budget_eur\n,2030,100\n", "empty org"),
    ("org,year,budget_eur\nGas,20x0,100\n", "is not a calendar year"),
    ("org,year,budget_eur\nGas,2030,-5\n", "is not an amount >= 0"),
    ("org,year,budget_eur\nGas,2030,1\nGas,2030,2\n", "has more than one budget for"),
    ("org,year,budget_eur,funding\nGas,2030,1,EU\nGas,2030,2,EU\n", "more than one budget line"),
    ("org,budget_eur\nGas,100\n", "missing column(s) year"),
    ("org,year,budget_eur\n" + ",2030,1\n" * 12, "(and 3 more)"),  # 12 empty orgs, one duplicate
    ("org,year,budget_eur\n,20x0,-1\n", "is not a calendar year; line 2: budget_eur"),
]


@pytest.mark.parametrize("lang", ["nl", "de"])
@pytest.mark.parametrize(("text", "says"), BUDGET_PROBLEMS)
def test_the_programme_pages_budget_errors_are_translated_where_shown(lang, text, says):
    from ims_geo.programme import check_budgets

    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    with pytest.raises(InputError) as refused:
        check_budgets(raw, where="budgets.csv", first_line=2)
    english = str(refused.value)
    assert says in english
    i18n.use(lang)
    shown = messages.translate(english)
    assert shown.startswith("budgets.csv: ") and shown != english, shown
    for part in shown.removeprefix("budgets.csv: ").split("; "):
        assert not re.search(r"\b(line|lines|empty|missing|has more than)\b", part), part


@pytest.mark.parametrize("lang", ["nl", "de"])
@pytest.mark.parametrize(
    ("toml", "says"),
    [("trench_eur_per_m = -1\n", "finite number >= 0"), ("trench_eur_per_m = 'x'\n", "a number"),
     ("trench_eur_per = 1\n", "did you mean"), ("zzz = 1\n", "known keys")],
)  # fmt: skip
def test_the_programme_pages_unit_cost_errors_are_translated_where_shown(
    tmp_path, lang, toml, says
):
    from ims_geo.programme.costs import load_costs

    path = tmp_path / "costs.toml"
    path.write_text(toml)
    with pytest.raises(InputError) as refused:
        load_costs(path)
    english = str(refused.value)
    assert says in english
    i18n.use(lang)
    shown = messages.translate(english)
    assert shown != english and str(path) in shown
    assert "cost" not in shown.replace(str(path), "").replace("_eur_per", ""), shown


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_store_refusing_works_of_no_organisation_or_of_another_is_translated(tmp_path, lang):
    from ims_geo.store import open_store

    works = read_works(_plan(_work("Gas", "G1")), name="plan.csv", crs="EPSG:28992").works
    refusals = [
        _refused(open_store(tmp_path / "s.gpkg").import_plans, works.iloc[:0], cycle=2030),
        _refused(
            open_store(tmp_path / "s.gpkg", acting_org="Water").import_plans, works, cycle=2030
        ),
    ]
    assert refusals[0].startswith("the works name no organisation")
    assert refusals[1].startswith("organisation 'Water' may only change its own works")
    i18n.use(lang)
    for english in refusals:
        shown = messages.translate(english)
        assert shown != english and "organisation" not in shown, shown
    assert "'Gas'" in messages.translate(refusals[1])


def test_every_kpi_has_one_wording_wherever_it_is_shown():
    from ims_geo import cycle
    from ims_geo.i18n.labels import KPI_NAMES, label
    from ims_geo.ui import negotiate

    assert set(cycle.KPIS) <= set(KPI_NAMES)
    for kpi, words in KPI_NAMES.items():
        assert label(kpi) == negotiate.kpi_name(kpi) == messages.translate(kpi) == words
    # one name per euro amount, with its unit, in every table and tile
    assert label("savings eur") == label("savings_eur") == "Savings (EUR)"
    assert negotiate.kpi_name("estimated cost eur") == label("cost_eur")


MAPPING_PROBLEMS = [
    ("[columns\n", "is not a valid TOML file"),
    ('[columns]\nwork_id = "Kenmerk"\n', "has no such column"),
    (
        '[keywords.discipline]\nsearch_in = ["Omschrijving"]\nwater = "water"\n',
        "has no such column",
    ),
    ('[columns]\nwrong = "x"\n', "unknown column 'wrong' in [columns]"),
    ("colums = 1\n", "unknown key 'colums'"),
    ('[keywords.discipline]\nwater = {colour = "blue"}\n', "sets unknown column 'colour'"),
    ('crs = "EPSG:0"\n', "is not a known CRS"),
    ('encoding = "klingon"\n', 'is unknown; use e.g. "cp1252"'),
    ("date_format = 3\n", "is not a strftime format"),
    ('timezone = "Mars/Olympus"\n', 'is unknown; use e.g. "Europe/London"'),
    ('keep_extras = "yes"\n', "keep_extras must be true or false"),
    ('flags = ["org"]\n', "is a canonical column, not a flag"),
    ('[extras]\nwork_id = "x"\n', "is not a usable extra column name"),
    ("columns = 3\n", "must be a table of key = value lines"),
    ("[columns]\nwork_id = 3\n", "must be a column name or a list of column names"),
    ("[defaults]\nstatus = [1, 2]\n", "must be a text, number, true/false or date"),
    ('decimal = ";"\n', "decimal = ';' is not a decimal mark; use ',' or '.' (decimal"),
    ('[decimal]\nwork_id = ","\n', "[decimal] 'work_id' is not a number column"),
    ('[decimal]\ncost_eur = "x"\n', "[decimal] cost_eur = 'x' is not a decimal mark"),
]


@pytest.mark.parametrize("lang", ["nl", "de"])
@pytest.mark.parametrize(("toml", "says"), MAPPING_PROBLEMS)
def test_a_mapping_that_does_not_fit_is_translated_where_shown(lang, toml, says):
    from ims_geo.ingest._mapping import apply, loads_mapping

    frame = pd.DataFrame({"ID": ["1"], "name": ["x"], "geometry": ["POINT (0 0)"]})
    with pytest.raises(InputError) as refused:
        apply(frame, loads_mapping(toml, "m.toml"), name="plan.csv", text_geometry=True)
    english = str(refused.value)
    assert says in english and english.startswith("m.toml"), english
    i18n.use(lang)
    shown = messages.translate(english)
    assert shown != english and shown.startswith("m.toml"), english
    # the page's own name of a mapping is translated too
    named = messages.translate(english.replace("m.toml", "the mapping", 1))
    assert not named.startswith("the mapping") and shown.split(": ", 1)[1] in named


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_adopting_and_setting_targets_on_the_cycle_pages_are_refused_in_their_language(
    tmp_path, lang
):
    from ims_geo import cycle
    from ims_geo.store import open_store
    from tests.test_cycle import YEAR, build, hand_programme

    refusals: list[str] = []

    def refused(call, *args, **kwargs) -> None:
        refusals.append(_refused(call, *args, **kwargs))

    store = build(tmp_path / "cycle.gpkg")
    refused(cycle.adopt, store, YEAR, hand_programme(store), decision="")
    cycle.adopt(store, YEAR, hand_programme(store), decision="Council 2027/14")
    refused(cycle.adopt, store, YEAR, hand_programme(store), decision="Council 2027/15")
    refused(cycle.adopt, open_store(tmp_path / "empty.gpkg"), YEAR, decision="Council 1")
    refused(cycle.set_targets, store, YEAR, {"trees planted": 3.0}, custom=True)
    refused(cycle.set_targets, store, YEAR, {"combined_share": 60.0}, custom=True)
    refused(cycle.set_targets, store, YEAR, {"trees": float("nan")}, custom=True)
    refused(cycle.set_targets, store, YEAR, {"trees": "many"}, custom=True)
    # two problems of one table at once, each recognised
    refused(cycle.set_targets, store, YEAR, {"a b": 1.0, "combined_share": 2.0}, custom=True)
    assert refusals[1].startswith(f"cycle {YEAR} already has an adopted programme (revision 1)")
    assert "; " in refusals[-1]
    i18n.use(lang)
    for english in refusals:
        shown = messages.translate(english)
        assert shown != english, english
        assert not re.search(r"\b(needs|already|holds|not a|is a share)\b", shown), shown
    assert "'trees planted'" in messages.translate(refusals[3])
    # a message of which one part is not recognised stays as the library wrote it
    unknown = refusals[5] + "; something new"
    assert messages.translate(unknown) == unknown


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_file_to_compare_that_is_no_proposal_is_named_and_refused_in_its_language(lang):
    from ims_geo import export
    from ims_geo.ui import negotiate

    current = {
        "kpis": pd.DataFrame({"kpi": ["clashes"], "baseline": [2.0], "proposal": [1.0]}),
        "works": pd.DataFrame(
            {"org": ["A"], "work_id": ["1"], "proposed_start": ["2030-01-01"], "cluster_id": [""]}
        ),
    }
    refusals = [
        _refused(negotiate.compare_with, current, data, name="last year.xlsx")
        for data in (
            export.to_bytes({"sheet": pd.DataFrame({"x": [1]})}, "xlsx"),  # no kpis sheet
            export.to_bytes({"kpis": current["kpis"], "works": pd.DataFrame({"x": [1]})}, "xlsx"),
        )
    ]
    assert refusals[0].startswith("last year.xlsx: not a proposal written by ims-geo propose")
    assert refusals[1].startswith("last year.xlsx: missing column(s) org, work_id")
    i18n.use(lang)
    for english in refusals:
        shown = messages.translate(english)
        assert shown != english and shown.startswith("last year.xlsx: "), english


def _shapefile_parts(tmp_path) -> dict[str, bytes]:
    import geopandas as gpd
    import shapely

    frame = gpd.GeoDataFrame(
        {"work_id": ["1", "2"], "org": ["W", "W"], "start_date": ["2030-01-01"] * 2,
         "end_date": ["2030-02-01"] * 2},
        geometry=[shapely.Point(155000, 463000), shapely.Point(155001, 463000)], crs=28992,
    )  # fmt: skip
    frame.to_file(tmp_path / "w.shp")
    frame.to_file(tmp_path / "w.gpkg")
    return {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_file_that_cannot_be_read_whole_is_refused_in_its_language(tmp_path, lang):
    from ims_geo.ingest import Limits

    parts = _shapefile_parts(tmp_path)
    shapefile = {k: v for k, v in parts.items() if k.startswith("w.") and not k.endswith(".gpkg")}
    cases = [
        (_zip({k: v for k, v in shapefile.items() if k != "w.dbf"}), "plan.zip", {}),
        (b"\n\n", "plan.csv", {}),
        (b'work_id,org\n"1,W\n', "plan.csv", {}),
        (parts["w.gpkg"], "plan.gpkg", {"limits": Limits(max_rows=1)}),
    ]
    refusals = [_refused(read_works, data, name=name, **kwargs) for data, name, kwargs in cases]
    assert "w.shp has no .dbf file next to it" in refusals[0]
    assert "has no header line" in refusals[1] and "could not be read as CSV" in refusals[2]
    assert "holds 2 features, more than the limit of 1 (max_rows)" in refusals[3]
    i18n.use(lang)
    for english, (_data, name, _kwargs) in zip(refusals, cases, strict=True):
        shown = messages.translate(english)
        assert shown != english and name in shown, english


# --- GeoParquet: the import's refusals, rows' reasons and warnings --------------------------
def _parquet_case(name: str):
    import fuzz_corpus as fc

    return next(case for case in fc._parquet_cases() if case.name == name)


def _parquet_upload(key: str) -> tuple[bytes, str, dict]:
    """A GeoParquet upload the library refuses: the hostile files' corpus, or built here."""
    import fuzz_corpus as fc
    import pyarrow as pa
    import pyarrow.parquet as pq
    import shapely

    from ims_geo.ingest import Limits

    def written(table: pa.Table) -> bytes:
        out = pa.BufferOutputStream()
        pq.write_table(table, out)
        return out.getvalue().to_pybytes()

    small = fc.plan(20, 9)
    wkt = shapely.to_wkt(small.geometry.to_numpy())
    if key == "ratio":
        return fc.geoparquet(fc.plan(300, 10)), "bomb.parquet", {"limits": Limits(max_ratio=1.01)}
    if key == "zipped":
        return _zip({"plan.parquet": fc.geoparquet(small)}), "plan.zip", {}
    if key == "crs-not-understood":
        odd = fc.geoparquet(small, geo=lambda g: fc._geo_column(g, crs={"type": "nonsense"}))
        return odd, "odd.parquet", {}
    if key == "text-geometry":
        return written(pa.table({"work_id": ["1"], "geometry": [wkt[0]]})), "wkt.parquet", {}
    if key == "no-geo-metadata":
        return written(pa.table({"work_id": ["1"], "shape_wkt": [wkt[0]]})), "plain.parquet", {}
    case = _parquet_case(key)
    return case.data, case.name, {"limits": Limits(**case.limits)} if case.limits else {}


@pytest.mark.parametrize(
    ("key", "nl", "de"),
    [
        ("cut.parquet", "geen vectorbestand (het kon niet als Parquet worden gelezen: ",
         "keine Vektordatei (sie konnte nicht als Parquet gelesen werden: "),
        ("text.parquet", "is geen vectorbestand; ondersteunde formaten zijn ",
         "ist keine Vektordatei; unterstützte Formate sind "),
        ("image.parquet", "geen vectorbestand (het lijkt een PNG-afbeelding)",
         "keine Vektordatei (sie scheint ein PNG-Bild zu sein)"),
        ("zipped", "(het archief bevat geen .shp, .gpkg, .geojson, .fgb, .csv, .gml of .kml "
         "(een .parquet in de zip wordt niet geopend: upload het afzonderlijk))",
         "(das Archiv enthält keine .shp, .gpkg, .geojson, .fgb, .csv, .gml oder .kml "
         "(eine .parquet-Datei im Zip wird nicht geöffnet: laden Sie sie einzeln hoch))"),
        ("geo_not_json.parquet", "de GeoParquet-metadata 'geo' zijn geen JSON (",
         "seine GeoParquet-Metadaten 'geo' sind kein JSON ("),
        ("geo_list.parquet", "het bestand volgt GeoParquet 1.0/1.1 niet",
         "die Datei folgt nicht GeoParquet 1.0/1.1"),
        ("geo_missing_column.parquet", "noemen de geometriekolom 'geom', die het bestand niet heeft",
         "nennen die Geometriespalte 'geom', die die Datei nicht hat"),
        ("encoding_wkt.parquet", "is gecodeerd als 'WKT', wat niet wordt gelezen",
         "ist als 'WKT' kodiert, was nicht gelesen wird"),
        ("text-geometry", "geen WKB-bytes; schrijf de geometrie als WKB (GeoPandas: ",
         "keine WKB-Bytes; schreiben Sie die Geometrie als WKB (GeoPandas: "),
        ("no-geo-metadata", "is Parquet zonder GeoParquet-metadata 'geo' en heeft geen WKB-kolom",
         "ist Parquet ohne GeoParquet-Metadaten 'geo' und hat keine WKB-Spalte"),
        ("crs_null.parquet", "zegt niets over het CRS en de coördinaten",
         "sagt nichts über sein KBS und seine Koordinaten"),
        ("crs_absent.parquet", "geeft als CRS OGC:CRS84 op, maar geen enkele coördinaat ligt",
         "gibt als KBS OGC:CRS84 an, aber keine Koordinate liegt"),
        ("crs-not-understood", "het CRS in de geo-metadata wordt niet begrepen (",
         "das KBS in seinen geo-Metadaten wird nicht verstanden ("),
        ("rows.parquet", "bevat 300 objecten, meer dan de grens van 100 (max_rows)",
         "enthält 300 Objekte, mehr als die Grenze von 100 (max_rows)"),
        ("expanded.parquet", "bytes aan kolomgegevens, meer dan de limiet van 10,000 bytes",
         "Bytes Spaltendaten, mehr als die Grenze von 10,000 Bytes"),
        ("ratio", "de kolomgegevens pakken uit tot 2 keer de ingepakte grootte",
         "seine Spaltendaten entpacken sich auf das 2-Fache ihrer gepackten Größe"),
    ],
)  # fmt: skip
def test_a_refused_geoparquet_upload_is_explained_in_dutch_and_german(key, nl, de):
    data, name, kwargs = _parquet_upload(key)
    english = _refused(read_works, data, name=name, org="W", **kwargs)
    assert english.startswith(name), english
    for lang, says in (("nl", nl), ("de", de)):
        i18n.use(lang)
        shown = messages.translate(english)
        assert shown.startswith(name) and says in shown, (lang, english, shown)
        assert "Project-Id-Version" not in shown  # an empty detail is no catalogue header
    i18n.use("en")
    assert messages.translate(english) == english


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_geoparquet_upload_s_rejected_rows_and_warnings_are_translated(lang):
    import fuzz_corpus as fc

    small = fc.plan(20, 9)
    small["centre"] = small.geometry.centroid
    deep, bad = fc.nested_wkb(100), b"\x01\x02\x00\x00\x00\xff\xff"
    data = fc.geoparquet(small, table=lambda t: fc._with_wkb(fc._with_wkb(t, 0, deep), 1, bad))
    result = read_works(data, name="plan.parquet", crs="EPSG:4326")
    # rows 0 and 1 of 20 were broken: the rest is read, with both further warnings
    assert len(result.works) == 18 and len(result.rejected) == 2
    assert len(result.warnings) == 2
    english_report = result.report()
    i18n.use(lang)
    report = messages.translate_report(english_report)
    for line, original in zip(report.splitlines(), english_report.splitlines(), strict=True):
        assert line != original, original
    for warning in result.warnings:
        shown = messages.translate(warning)
        assert shown != warning and shown.startswith("plan.parquet"), warning
    reasons = [messages.translate_reasons(r) for r in result.rejected["reason"]]
    for shown, reason in zip(reasons, result.rejected["reason"], strict=True):
        assert all(
            part != original
            for part, original in zip(shown.split("; "), reason.split("; "), strict=True)
        ), reason
    expected = {
        "nl": ("diep genest, meer dan max_geometry_depth",
               "onleesbare geometrie (geen geldige WKB: afgekapt of van een onbekend type); "
               "exporteer het bestand opnieuw uit het bronsysteem",
               "de verdere geometriekolommen centre worden weggelaten"),
        "de": ("tief verschachtelten Sammlungen, mehr als max_geometry_depth",
               "nicht lesbare Geometrie (kein gültiges WKB: abgeschnitten oder von unbekanntem "
               "Typ); exportieren Sie die Datei erneut aus dem Quellsystem",
               "die weiteren Geometriespalten centre werden ausgelassen"),
    }[lang]  # fmt: skip
    assert expected[0] in reasons[0] and reasons[1] == expected[1], reasons
    assert any(expected[2] in messages.translate(w) for w in result.warnings)


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_reason_of_two_problems_is_translated_in_the_row_and_in_the_report(lang):
    import fuzz_corpus as fc
    import shapely

    blobs = [fc._wkb(shapely.Point(121_000, 487_000)), fc._tin()]
    result = read_works(fc.gpkg_with_blobs(blobs), name="tin.gpkg", org="W")
    assert len(result.works) == 1 and len(result.rejected) == 1
    (reason,) = result.rejected["reason"]
    english_report = result.report()
    i18n.use(lang)
    shown = messages.translate_reasons(reason)
    assert shown == messages.translate(reason), shown  # the row and its whole reason agree
    for line, original in zip(
        messages.translate_report(english_report).splitlines(),
        english_report.splitlines(),
        strict=True,
    ):
        assert line != original, original


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_reader_stopped_by_its_limits_is_explained_in_dutch_and_german(lang):
    import signal

    from ims_geo.ingest import _worker

    limits = {"name": "big.parquet", "memory": 2**30, "cpu": 60.0, "wall": 120.0}
    refusals = [
        _worker._refusal("big.parquet", 2**30, MemoryError()),
        _worker._refusal("big.parquet", 2**30, RecursionError()),
        _worker._died(None, **limits),
        _worker._died(-signal.SIGXCPU, **limits),
        _worker._died(-signal.SIGKILL, **limits),
        _worker._died(-signal.SIGSEGV, **limits),
        _worker._died(127, **limits),
    ]
    english = [str(refusal) for refusal in refusals]
    assert all(e.startswith("big.parquet") for e in english), english
    i18n.use(lang)
    shown = [messages.translate(e) for e in english]
    for one, original in zip(shown, english, strict=True):
        assert one != original and one.startswith("big.parquet"), original
    limit, cpu, seconds = {
        "nl": ("geheugenlimiet van 1,024 MiB", "CPU-tijd", "na 120 s gestopt"),
        "de": ("Speichergrenze von 1,024 MiB", "CPU-Zeit", "nach 120 s angehalten"),
    }[lang]
    assert limit in shown[0] and cpu in shown[3] and seconds in shown[2], shown
    assert "(SIGSEGV)" in shown[5] and "127" in shown[6], shown


# --- numbers read per column, a file without work_id, the cycle on a shared store -----------
def _costs(*cells: str) -> bytes:
    """A plan whose rows have the cost cells ``cells`` (one work per cell)."""
    rows = [
        f'W{i},Water,2030-01-01,2030-02-01,"{cell}","POINT ({155000 + i} 463000)"'
        for i, cell in enumerate(cells)
    ]
    return ("\n".join(["work_id,org,start_date,end_date,cost_eur,geometry", *rows]) + "\n").encode()


NUMBER_CASES = {
    # both styles in the column: 98.000 fits both and is left empty, the mix is a warning
    "mixed": (_costs("98.000", "1.234,50", "1,234.50"), None),
    # no cell shows a style: 2.500 is 2.5 or 2500
    "undecided": (_costs("2.500", "12"), None),
    # a declared style and a cell written in the other
    "declared comma": (_costs("1,234.50", "1.234,50"), 'decimal = ","\n'),
    "declared point": (_costs("7.654,25", "1,234.50"), 'decimal = "."\n'),
}
#: Each case's warning about its number, as each language shows it.
NUMBERS_SHOWN = {
    "nl": {
        "mixed": "plan.csv: dubbelzinnige cost_eur '98.000' = 98 | 98000 (1 rij) (met een decimale "
        "punt | met een decimale komma), en de kolom toont beide schrijfwijzen — gelezen als "
        "leeg, zie cost_eur_raw; schrijf het zonder scheidingsteken voor duizendtallen of geef "
        'decimal = "," of "." op in een koppelingsbestand',
        "undecided": "plan.csv: dubbelzinnige cost_eur '2.500' = 2.5 | 2500 (1 rij) (met een "
        "decimale punt | met een decimale komma), en geen cel van de kolom laat zien welke — "
        "gelezen als leeg, zie cost_eur_raw; schrijf het zonder scheidingsteken voor "
        'duizendtallen of geef decimal = "," of "." op in een koppelingsbestand',
        "declared comma": "plan.csv: cost_eur '1,234.50' = 1234.5 (1 rij) niet geschreven met de "
        "opgegeven decimale komma (zoals gelezen met een decimale punt) — gelezen als leeg, zie "
        "cost_eur_raw; corrigeer de cellen of de decimal van het koppelingsbestand",
        "declared point": "plan.csv: cost_eur '7.654,25' = 7654.25 (1 rij) niet geschreven met de "
        "opgegeven decimale punt (zoals gelezen met een decimale komma) — gelezen als leeg, zie "
        "cost_eur_raw; corrigeer de cellen of de decimal van het koppelingsbestand",
        "warning": "plan.csv: cost_eur mengt decimale komma's zoals '1.234,50' en decimale "
        "punten zoals '1,234.50': een cel die bij één schrijfwijze past wordt zo gelezen, een "
        "die bij beide past wordt gelezen als leeg",
    },
    "de": {
        "mixed": "plan.csv: mehrdeutiges cost_eur '98.000' = 98 | 98000 (1 Zeile) (mit "
        "Dezimalpunkt | mit Dezimalkomma), und die Spalte zeigt beide Schreibweisen — als leer "
        "gelesen, siehe cost_eur_raw; schreiben Sie die Zahl ohne Tausendertrennzeichen oder "
        'geben Sie decimal = "," oder "." in einer Zuordnungsdatei an',
        "undecided": "plan.csv: mehrdeutiges cost_eur '2.500' = 2.5 | 2500 (1 Zeile) (mit "
        "Dezimalpunkt | mit Dezimalkomma), und keine Zelle der Spalte zeigt, welches — als leer "
        "gelesen, siehe cost_eur_raw; schreiben Sie die Zahl ohne Tausendertrennzeichen oder "
        'geben Sie decimal = "," oder "." in einer Zuordnungsdatei an',
        "declared comma": "plan.csv: cost_eur '1,234.50' = 1234.5 (1 Zeile) nicht mit dem "
        "angegebenen Dezimalkomma geschrieben (wie mit Dezimalpunkt gelesen) — als leer gelesen, "
        "siehe cost_eur_raw; korrigieren Sie die Zellen oder decimal in der Zuordnungsdatei",
        "declared point": "plan.csv: cost_eur '7.654,25' = 7654.25 (1 Zeile) nicht mit dem "
        "angegebenen Dezimalpunkt geschrieben (wie mit Dezimalkomma gelesen) — als leer gelesen, "
        "siehe cost_eur_raw; korrigieren Sie die Zellen oder decimal in der Zuordnungsdatei",
        "warning": "plan.csv: cost_eur mischt Dezimalkommas wie '1.234,50' und Dezimalpunkte wie "
        "'1,234.50': eine Zelle, die nur zu einer Schreibweise passt, wird so gelesen, eine, die "
        "zu beiden passt, wird als leer gelesen",
    },
}


@pytest.mark.parametrize("lang", ["nl", "de"])
@pytest.mark.parametrize("case", list(NUMBER_CASES))
def test_a_number_that_depends_on_its_decimal_style_is_explained_in_its_language(lang, case):
    from ims_geo.ingest._mapping import loads_mapping

    data, toml = NUMBER_CASES[case]
    mapping = loads_mapping(toml, "m.toml") if toml else None
    result = read_works(data, name="plan.csv", crs="EPSG:28992", mapping=mapping)
    # every work kept, the number left empty and its cell kept as written
    assert len(result.rejected) == 0 and len(result.works) == len(data.splitlines()) - 1
    cell = data.decode().split('"')[1]
    assert result.works["cost_eur_raw"].tolist()[0] == cell
    assert pd.isna(result.works["cost_eur"].tolist()[0])
    *mixes, number = result.warnings
    assert len(mixes) == (case == "mixed")
    english_report = result.report()
    i18n.use(lang)
    assert messages.translate(number) == NUMBERS_SHOWN[lang][case], number
    for warning in mixes:
        assert messages.translate(warning).startswith(NUMBERS_SHOWN[lang]["warning"]), warning
    report = messages.translate_report(english_report)
    for line, original in zip(report.splitlines(), english_report.splitlines(), strict=True):
        assert line != original, original


NO_ID_FILES = [
    ("rec_id,org", "R1,W", "R2,W"),
    ("rec_id,Projektnummer,org", "R1,P1,W", "R2,P2,W"),
    ("naam,org", "x,W", "x,W"),
]


@pytest.mark.parametrize("lang", ["nl", "de"])
def test_a_file_without_a_work_id_column_is_explained_in_its_language(lang):
    warnings = []
    for header, *rows in NO_ID_FILES:
        lines = [f"{header},start_date,end_date,geometry"] + [
            f'{row},2030-01-01,2030-02-01,"POINT ({155000 + i} 463000)"'
            for i, row in enumerate(rows)
        ]
        result = read_works(
            ("\n".join(lines) + "\n").encode(), name="my plan.csv", crs="EPSG:28992"
        )
        assert result.works.empty and len(result.rejected) == 2
        (warning,) = result.warnings
        warnings.append(warning)
    assert "'rec_id' looks like an id" in warnings[0]
    assert "'rec_id', 'Projektnummer' look like an id" in warnings[1]
    assert "its columns are: naam, org, start_date, end_date, geometry" in warnings[2]
    i18n.use(lang)
    shown = [messages.translate(w) for w in warnings]
    command = "`ims-geo mapping suggest my plan.csv --out mapping.toml`"
    for one, english in zip(shown, warnings, strict=True):
        assert one != english and one.startswith("my plan.csv ") and command in one, one
        assert "--mapping mapping.toml" in one and "rejected" not in one, one
    looks, look, columns = {
        "nl": ("'rec_id' lijkt een id", "'rec_id', 'Projektnummer' lijken een id",
               "de kolommen zijn: naam, org, start_date, end_date, geometry"),
        "de": ("'rec_id' scheint eine ID zu sein",
               "'rec_id', 'Projektnummer' scheinen eine ID zu sein",
               "ihre Spalten sind: naam, org, start_date, end_date, geometry"),
    }[lang]  # fmt: skip
    assert looks in shown[0] and '[columns] work_id = "rec_id"' in shown[0], shown[0]
    assert look in shown[1] and '[columns] work_id = "rec_id"' in shown[1], shown[1]
    assert columns in shown[2], shown[2]
    compose = {
        "nl": "in een koppelingsbestand, of stel er een samen uit kolommen met [work_id_from] "
        "daarin), importeer",
        "de": "in einer Zuordnungsdatei, oder setzen Sie dort eine aus Spalten mit [work_id_from] "
        "zusammen), importieren",
    }[lang]
    assert all(compose in one for one in shown), shown


#: ``[work_id_from]`` tables that do not fit a file of columns ID, name and geometry.
ID_FROM_PROBLEMS = {
    "not a table": 'work_id_from = "ID"\n',
    "unknown key": '[work_id_from]\ncolumns = ["ID"]\nhash = "md5"\n',
    "no columns": '[work_id_from]\nprefix = "NH-"\n',
    "twice": '[work_id_from]\ncolumns = ["ID", "ID"]\n',
    "prefix": '[work_id_from]\ncolumns = ["ID"]\nprefix = 3\n',
    "both": '[work_id_from]\ncolumns = ["ID"]\n[defaults]\nwork_id = "x"\n',
    "absent": '[work_id_from]\ncolumns = ["ID", "roads", "km"]\n',
}
ID_FROM_SHOWN = {
    "nl": {
        "not a table": "m.toml: [work_id_from] moet een tabel zijn zoals columns = "
        '["roads", "startDate"], niet \'ID\'',
        "unknown key": "m.toml: [work_id_from] heeft een onbekende sleutel 'hash'; gebruik "
        "columns en prefix",
        "no columns": 'm.toml: [work_id_from] heeft columns = ["...", ...] nodig, de kolommen '
        "die een werk identificeren",
        "twice": "m.toml: [work_id_from] columns ['ID', 'ID'] noemt een kolom twee keer",
        "prefix": 'm.toml: [work_id_from] prefix moet tekst zijn, bijv. "NH-", niet 3',
        "both": "m.toml: [defaults] work_id en [work_id_from] geven allebei de work_id; houd "
        "[columns] work_id als het bestand een id-kolom heeft, anders alleen [work_id_from]",
        "absent": "m.toml: [work_id_from] columns noemt 'roads', 'km', maar plan.csv heeft zo'n "
        "kolom niet; de kolommen zijn: ID, name, geometry",
    },
    "de": {
        "not a table": "m.toml: [work_id_from] muss eine Tabelle wie columns = "
        '["roads", "startDate"] sein, nicht \'ID\'',
        "unknown key": "m.toml: [work_id_from] hat den unbekannten Schlüssel 'hash'; verwenden "
        "Sie columns und prefix",
        "no columns": 'm.toml: [work_id_from] braucht columns = ["...", ...], die Spalten, die '
        "eine Maßnahme kennzeichnen",
        "twice": "m.toml: [work_id_from] columns ['ID', 'ID'] nennt eine Spalte zweimal",
        "prefix": 'm.toml: [work_id_from] prefix muss Text sein, z. B. "NH-", nicht 3',
        "both": "m.toml: [defaults] work_id und [work_id_from] geben beide die work_id an; "
        "behalten Sie [columns] work_id, wenn die Datei eine ID-Spalte hat, sonst nur "
        "[work_id_from]",
        "absent": "m.toml: [work_id_from] columns nennt 'roads', 'km', aber plan.csv hat keine "
        "solche Spalte; ihre Spalten sind: ID, name, geometry",
    },
}


@pytest.mark.parametrize("lang", ["nl", "de"])
@pytest.mark.parametrize("case", list(ID_FROM_PROBLEMS))
def test_a_work_id_from_table_that_does_not_fit_is_explained_in_its_language(lang, case):
    from ims_geo.ingest._mapping import apply, loads_mapping

    frame = pd.DataFrame({"ID": ["1"], "name": ["x"], "geometry": ["POINT (0 0)"]})
    with pytest.raises(InputError) as refused:
        apply(
            frame,
            loads_mapping(ID_FROM_PROBLEMS[case], "m.toml"),
            name="plan.csv",
            text_geometry=True,
        )
    english = str(refused.value)
    assert english.startswith("m.toml: [") and "[work_id_from]" in english, english
    i18n.use(lang)
    assert messages.translate(english) == ID_FROM_SHOWN[lang][case], english
    # on the page a mapping built there is named in the page's language too
    built = messages.translate(english.replace("m.toml", "the mapping built here", 1))
    assert built.split(": ", 1)[1] == ID_FROM_SHOWN[lang][case].split(": ", 1)[1], built
    assert not built.startswith("the mapping"), built


@pytest.mark.parametrize("lang", ["nl", "de"])
@pytest.mark.parametrize("repeats", [1, 1001])
def test_ids_composed_with_a_suffix_are_explained_in_their_language(lang, repeats):
    from ims_geo.ingest._mapping import loads_mapping

    # one first row, then ``repeats`` rows repeating it in road and km, then a row of its own
    rows = [f'A2,{12 + (i > repeats)},2030-01-01,2030-02-01,"POINT ({155000 + i} 463000)"'
            for i in range(repeats + 2)]  # fmt: skip
    data = ("\n".join(["road,km,start_date,end_date,geometry", *rows]) + "\n").encode()
    mapping = loads_mapping(
        '[work_id_from]\ncolumns = ["road", "km"]\n[defaults]\norg = "W"\n', "m.toml"
    )
    result = read_works(data, name="my plan.csv", crs="EPSG:28992", mapping=mapping)
    assert len(result.works) == repeats + 2 and len(result.rejected) == 0
    (warning,) = [w for w in result.warnings if "got a suffix" in w]
    count = f"{repeats:,}"
    assert warning.startswith(f"my plan.csv: {count} work_id"), warning
    i18n.use(lang)
    shown = messages.translate(warning)
    expected = {
        ("nl", 1): f"my plan.csv: {count} work_id samengesteld uit road, km kreeg een "
        "achtervoegsel (-2, -3, ... in bestandsvolgorde) omdat de rij een eerdere rij in al die "
        "kolommen herhaalt; zulke ids blijven alleen gelijk zolang het bestand zijn rijvolgorde "
        "houdt — voeg een kolom die de rijen onderscheidt toe aan [work_id_from] columns",
        ("nl", 1001): f"my plan.csv: {count} work_ids samengesteld uit road, km kregen een "
        "achtervoegsel (-2, -3, ... in bestandsvolgorde) omdat hun rijen een eerdere rij in al "
        "die kolommen herhalen; zulke ids blijven alleen gelijk zolang het bestand zijn "
        "rijvolgorde houdt — voeg een kolom die de rijen onderscheidt toe aan [work_id_from] "
        "columns",
        ("de", 1): f"my plan.csv: {count} aus road, km zusammengesetzte work_id erhielt ein "
        "Suffix (-2, -3, ... in Dateireihenfolge), weil ihre Zeile eine frühere Zeile in all "
        "diesen Spalten wiederholt; solche IDs bleiben nur gleich, solange die Datei ihre "
        "Zeilenreihenfolge behält — fügen Sie [work_id_from] columns eine Spalte hinzu, die die "
        "Zeilen unterscheidet",
        ("de", 1001): f"my plan.csv: {count} aus road, km zusammengesetzte work_ids erhielten ein "
        "Suffix (-2, -3, ... in Dateireihenfolge), weil ihre Zeilen eine frühere Zeile in all "
        "diesen Spalten wiederholen; solche IDs bleiben nur gleich, solange die Datei ihre "
        "Zeilenreihenfolge behält — fügen Sie [work_id_from] columns eine Spalte hinzu, die die "
        "Zeilen unterscheidet",
    }[lang, repeats]
    assert shown == expected, warning


@pytest.mark.postgis
@pytest.mark.parametrize("lang", ["nl", "de"])
def test_the_planning_cycle_refused_on_a_shared_store_names_who_in_its_language(
    populated_installation, lang
):
    from access_data import PASSWORD

    from ims_geo.cycle import adopt, set_full_revision, set_targets
    from ims_geo.store import open_store

    made, _versions = populated_installation
    refusals = []
    with open_store(made.app_url, user="a_plan", password=PASSWORD) as planner:
        refusals.append(_refused(adopt, planner, 2027, decision="Council 1"))
        refusals.append(_refused(set_targets, planner, 2027, {"combined_share": 0.9}))
        refusals.append(_refused(set_full_revision, planner, 2027))
    with open_store(made.app_url) as visitor:
        refusals.append(_refused(set_targets, visitor, 2027, {"combined_share": 0.9}))
    works = read_works(_plan(_work("A", "V1")), name="plan.csv", crs="EPSG:28992").works
    with open_store(made.app_url, user="a_view", password=PASSWORD) as viewer:
        refusals.append(_refused(viewer.import_plans, works, cycle=2027))
    doing = ["adopt a programme", "set the cycle's targets", "mark a full revision"]
    for english, what in zip(refusals, doing, strict=False):
        assert f"a_plan (planner of A) may not {what}; proposing and adopting" in english
    assert "a visitor who is not signed in may not change the planning cycle (" in refusals[3]
    assert refusals[4].endswith("a_view (viewer of A) may not import the plans")
    location = refusals[0].split(": ", 1)[0].removeprefix("store ")
    i18n.use(lang)
    shown = [messages.translate(english) for english in refusals]
    store_word, planner, visitor, viewer = {
        "nl": ("opslag", "a_plan (planner van A) mag ", "een bezoeker die niet is ingelogd mag ",
               "a_view (kijker van A) mag de plannen niet importeren"),
        "de": ("Speicher", "a_plan (Planer von A) darf ", "ein nicht angemeldeter Besucher darf ",
               "a_view (Betrachter von A) darf die Pläne nicht importieren"),
    }[lang]  # fmt: skip
    for one, english in zip(shown, refusals, strict=True):
        assert one != english and one.startswith(f"{store_word} {location}: "), one
        assert not re.search(r"\b(may not|coordinators|store)\b", one), one
    assert all(planner in one for one in shown[:3]), shown
    assert len(set(shown[:3])) == 3  # each names what was asked
    assert visitor in shown[3] and shown[3].endswith(refusals[3][refusals[3].index(" (") :])
    assert shown[4].endswith(viewer), shown[4]
    # the sign-in's own refusal names its user otherwise, and stays recognised
    signing_in = _refused(open_store, made.app_url, user="a_plan", password="wrong")
    assert signing_in.startswith("sign-in to ") and "a_plan" in signing_in, signing_in
    assert messages.translate(signing_in) != signing_in and "a_plan" in messages.translate(
        signing_in
    )


def _workbook(*rows: list, formula: tuple[str, str] | None = None) -> bytes:
    """An Excel workbook of one sheet, Works, holding ``rows`` (and a formula without a value)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Works"
    for row in rows:
        sheet.append(row)
    if formula is not None:
        sheet[formula[0]] = formula[1]
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_HEAD = ["work_id", "org", "start_date", "end_date", "geometry"]
_ROW = ["A1", "W", "2030-01-01", "2030-02-01", "POINT (155000 463000)"]


def _table_upload(key: str) -> tuple[bytes, str, dict]:
    """An upload of a JSON record list or an Excel workbook that the library refuses."""
    import json

    from ims_geo.ingest import Limits

    record, two = dict(zip(_HEAD, _ROW, strict=True)), {"limits": Limits(max_rows=2)}
    return {
        "xls": (b"x", "plan.xls", {}),
        "extension": (b"x", "plan.abc", {}),
        "bad json": (b"[1", "plan.json", {}),
        "no records": (b'{"a": 1}', "plan.json", {}),
        "deep": (b"[" * 5000 + b"]" * 5000, "plan.json", {}),
        "named table rows": (json.dumps({"tbl": [record] * 3}).encode(), "plan.json", two),
        "empty list": (b"[]", "plan.json", {}),
        "not a record": (json.dumps([record, [1]]).encode(), "plan.json", {}),
        "no workbook": (_zip({"a.txt": b"x"}), "plan.xlsx", {}),
        "sheet rows": (_workbook(_HEAD, *[_ROW] * 3), "plan.xlsx", two),
        "empty sheet": (_workbook(), "plan.xlsx", {}),
        "value in header": (_workbook([1, "org"], _ROW), "plan.xlsx", {}),
        "unnamed column": (_workbook(["work_id", None, "org"], ["A1", "x", "W"]), "plan.xlsx", {}),
        "named twice": (_workbook(["work_id", "Work_ID", "org"], ["A1", "x", "W"]), "plan.xlsx",
                        {}),
        "formula": (_workbook([*_HEAD, "cost_eur"], [*_ROW, None], formula=("F2", "=1+2")),
                    "plan.xlsx", {}),
        "zipped workbook": (_zip({"a.xlsx": _workbook(_HEAD, _ROW)}), "plan.zip", {}),
    }[key]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "english", "nl", "de"),
    [
        ("xls", ".xls spreadsheets are not read", ".xls-spreadsheets worden niet gelezen",
         ".xls-Tabellen werden nicht gelesen"),
        ("extension", "files ending in '.abc' are not read",
         "bestanden die eindigen op '.abc' worden niet gelezen",
         "Dateien mit der Endung '.abc' werden nicht gelesen"),
        ("bad json", "(it is no valid JSON: Expecting", "(het is geen geldige JSON: Expecting",
         "(sie ist kein gültiges JSON: Expecting"),
        ("no records", "holds no list of records", "geen lijst met records bevat",
         "keine Liste von Datensätzen enthält"),
        ("deep", "nests its values more deeply", "nest zijn waarden dieper",
         "verschachtelt seine Werte tiefer"),
        ("named table rows", "plan.json: tbl holds 3 records, more than the limit of 2",
         "plan.json: tbl bevat 3 records, meer dan de grens van 2",
         "plan.json: tbl enthält 3 Datensätze, mehr als die Grenze von 2"),
        ("empty list", "plan.json holds no records", "plan.json bevat geen records",
         "plan.json enthält keine Datensätze"),
        ("not a record", "record 2 is a JSON list", "record 2 is een JSON-list",
         "Datensatz 2 ist ein JSON-list"),
        ("no workbook", "(it could not be opened as an Excel workbook: ",
         "(het kon niet als Excel-werkmap worden geopend: ",
         "(sie konnte nicht als Excel-Arbeitsmappe geöffnet werden: "),
        ("sheet rows", "plan.xlsx, sheet 'Works' holds more than 2 rows",
         "plan.xlsx, werkblad 'Works' bevat meer dan 2 rijen",
         "plan.xlsx, Tabellenblatt 'Works' enthält mehr als 2 Zeilen"),
        ("empty sheet", "plan.xlsx, sheet 'Works' is empty", "plan.xlsx, werkblad 'Works' is leeg",
         "plan.xlsx, Tabellenblatt 'Works' ist leer"),
        ("value in header", "but cell A1 holds the value 1", "maar cel A1 bevat de waarde 1",
         "aber Zelle A1 enthält den Wert 1"),
        ("unnamed column", "column B holds values but has no name",
         "kolom B bevat waarden maar heeft geen naam", "Spalte B enthält Werte, hat aber keinen"),
        ("named twice", "more than once ('work_id' in A1, B1)",
         "meer dan eens ('work_id' in A1, B1)", "mehr als einmal ('work_id' in A1, B1)"),
        ("formula", "cell F2 holds the formula '=1+2' without its value",
         "cel F2 bevat de formule '=1+2' zonder haar waarde",
         "Zelle F2 enthält die Formel '=1+2' ohne ihren Wert"),
        ("zipped workbook", "(a .xlsx inside the zip is not opened: upload it on its own)",
         "(een .xlsx in de zip wordt niet geopend: upload het afzonderlijk)",
         "(eine .xlsx-Datei im Zip wird nicht geöffnet: laden Sie sie einzeln hoch)"),
    ],
)  # fmt: skip
def test_a_refused_json_or_excel_upload_is_explained_in_dutch_and_german(key, english, nl, de):
    data, name, kwargs = _table_upload(key)
    refusal = _refused(read_works, data, name=name, crs="EPSG:28992", **kwargs)
    assert refusal.startswith(name) and english in refusal, refusal
    for lang, says in (("nl", nl), ("de", de)):
        i18n.use(lang)
        shown = messages.translate(refusal)
        assert shown.startswith(name) and says in shown, (lang, refusal, shown)
    i18n.use("en")
    assert messages.translate(refusal) == refusal


@pytest.mark.parametrize(("lang", "words"), [("nl", "Excel-werkmap"), ("de", "Excel-Arbeitsmappe")])
def test_every_format_the_upload_page_lists_has_words_in_each_language(lang, words):
    from ims_geo.ingest._sources import FORMATS, JSON_RECORDS

    i18n.use(lang)
    named = {kind for kind in FORMATS.values() if " " in kind} | {JSON_RECORDS}
    assert all(messages.translate(kind) != kind for kind in named), named
    assert messages.translate(FORMATS[".xlsx"]) == words
