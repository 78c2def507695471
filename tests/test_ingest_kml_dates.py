"""A KML placemark whose TimeSpan gives no readable date is rejected naming it and the fix."""

from __future__ import annotations

from pathlib import Path

from ims_geo import schema
from ims_geo.ingest import read_works

FIX = (
    "(write <TimeSpan><begin>2027-03-01</begin><end>2027-06-30</end></TimeSpan> in it, "
    "dates as YYYY-MM-DD, or take the dates from other fields with a mapping file)"
)
#: Placemarks: work_id, name, the TimeSpan as written, and which of its dates can be read.
PLACEMARKS = [
    ("K-1", "Kanal Seestrasse", "<begin>2027-01-01</begin><end>2027-03-01</end>", (True, True)),
    ("K-2", "Belag Seestrasse", "", (False, False)),
    ("K-3", "", "<begin>abc</begin><end>2027-03-01</end>", (False, True)),
    ("K-4", "Gas Bahnhofstrasse", "<begin>2027-01-01</begin>", (True, False)),
    ("K-5", "", "<begin>bald</begin><end>später</end>", (False, False)),
]


def kml(path: Path, placemarks: list[tuple[str, str, str, tuple[bool, bool]]]) -> Path:
    body = "".join(
        f"""<Placemark>{f"<name>{title}</name>" if title else ""}
        <TimeSpan>{span}</TimeSpan>
        <ExtendedData><Data name="work_id"><value>{work_id}</value></Data>
        <Data name="von"><value>2027-05-01</value></Data>
        <Data name="bis"><value>2027-05-31</value></Data></ExtendedData>
        <LineString><coordinates>8.50,47.30,0 8.51,47.30,0</coordinates></LineString>
        </Placemark>"""
        for work_id, title, span, _ in placemarks
    )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><name>plan</name>{body}</Document></kml>",
        encoding="utf-8",
    )
    return path


def expected_reason(position: int, title: str, readable: tuple[bool, bool]) -> str:
    """The reason of one placemark, written from what its TimeSpan holds."""
    who = title or f"no. {position}"
    begin, end = readable
    what = (
        "neither a <begin> nor an <end>"
        if not begin and not end
        else ("no <begin>" if not begin else "no <end>")
    )
    missing = [
        f"missing {c}" for c, ok in zip((schema.START, schema.END), readable, strict=True) if not ok
    ]
    first = f"plan.kml: placemark '{who}' has {what} date in its TimeSpan that can be read {FIX}"
    return "; ".join([first, *missing])


def test_each_placemark_without_a_readable_time_span_is_named_with_the_fix(tmp_path):
    result = read_works(kml(tmp_path / "plan.kml", PLACEMARKS), org="Stadt Zürich")
    good = [p for p in PLACEMARKS if all(p[3])]
    assert result.works[schema.WORK_ID].tolist() == [p[0] for p in good]
    bad = [(i, p) for i, p in enumerate(PLACEMARKS, start=1) if not all(p[3])]
    assert result.rejected[schema.WORK_ID].tolist() == [p[0] for _, p in bad]
    assert result.rejected[schema.REASON].tolist() == [
        expected_reason(i, title, readable) for i, (_, title, _, readable) in bad
    ]
    # the report counts them by kind, with the placemarks as examples
    both = [p[1] or f"no. {i}" for i, p in bad if not any(p[3])]
    line = (
        "plan.kml: placemark has neither a <begin> nor an <end> date in its TimeSpan that can "
        f"be read {FIX}: {len(both)} (e.g. {', '.join(repr(b) for b in both)})"
    )
    assert f"    {line}" in result.report().splitlines()


def test_dates_taken_from_other_fields_say_nothing_of_the_time_span(tmp_path):
    toml = tmp_path / "dates.toml"
    toml.write_text('[columns]\nstart_date = "von"\nend_date = "bis"\n', encoding="utf-8")
    result = read_works(kml(tmp_path / "plan.kml", PLACEMARKS), org="Stadt Zürich", mapping=toml)
    assert result.rejected.empty
    assert len(result.works) == len(PLACEMARKS)
