"""The HTML council pack and status report: self-contained, escaped, exact tables."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from ims_geo.errors import InputError
from ims_geo.report import report_bytes, write_report
from ims_geo.report.html import render_html
from ims_geo.report.svg import Layer, gantt_svg, map_svg

from .conftest import FIBRE, HOSTILE_ORG, HOSTILE_TITLE, WATER, build_data, build_works, kpi_table
from .htmltree import Node, parse

#: Attributes through which a document could load or link something.
URL_ATTRIBUTES = {
    "src", "href", "xlink:href", "action", "formaction", "data", "poster", "srcset",
    "background", "cite", "manifest", "ping", "longdesc", "codebase",
}  # fmt: skip


def external_references(text: str) -> list[str]:
    """Every http(s) reference in a src/href-like attribute, a url( ) or an @import."""
    root, _ = parse(text)
    found = []
    for node in root.iter():
        for name, value in node.attrs.items():
            value = value or ""
            if name in URL_ATTRIBUTES and re.search(r"^\s*(https?:)?//", value, re.I):
                found.append(f"{node.tag} {name}={value}")
            if name == "style":
                found += re.findall(r"url\([^)]*\)|@import[^;]*", value, re.I)
        if node.tag == "style":
            found += re.findall(r"url\([^)]*\)|@import[^;]*", node.text, re.I)
    found += re.findall(r"https?://[^\s\"'<>]*", text, re.I)
    return found


def by_heading(root: Node, heading: str) -> Node:
    """The first table after the ``h2`` whose text is ``heading``."""
    seen = False
    for node in root.iter():
        if node.tag == "h2":
            seen = node.text.strip() == heading
        elif seen and node.tag == "table":
            return node
    raise AssertionError(f"no table under {heading!r}")


def test_council_pack_is_self_contained(data, tmp_path: Path) -> None:
    path = write_report(data, tmp_path / "council.html")
    text = path.read_text("utf-8")
    assert external_references(text) == []
    root, tags = parse(text)
    # no script of any kind, and a policy that would block one
    assert "script" not in tags
    csp = [m for m in root.iter("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0].attrs["content"] or "")
    # the maps are drawn: the overview map plus one small map per measure sheet
    maps = root.find_all("svg", class_="map")
    assert len(maps) == 3
    assert all(len(m.find_all("path")) >= 2 for m in maps)


def test_every_user_string_is_escaped(data) -> None:
    text = render_html(data)
    root, tags = parse(text)
    # the payloads are shown as text, never as markup
    assert not {"script", "img", "b"} & set(tags)
    assert HOSTILE_ORG not in text and HOSTILE_TITLE not in text
    visible = root.text
    assert HOSTILE_ORG in visible
    assert HOSTILE_TITLE in visible
    assert "<b>custom</b> trees" in visible
    assert "Kallio <b>pilot</b>" in visible
    assert "<i>late</i>" in visible
    status = render_html(data, "status")
    assert HOSTILE_ORG not in status and "script" not in parse(status)[1]


def test_kpis_with_their_state(data) -> None:
    root, _ = parse(render_html(data))
    table = root.find_all("table", class_="kpis")[0]
    assert table.rows() == [
        ["Indicator", "Target", "Value", "State"],
        ["Share of excavating works combined", "0.50", "0.60", "green"],
        ["Moratorium violations", "0.00", "1.00", "red"],
        ["<b>custom</b> trees", "3.00", "2.00", "amber"],
    ]
    states = [s.attrs["class"] for s in table.find_all("span", class_="rag")]
    assert states == ["rag rag-green", "rag rag-red", "rag rag-amber"]


def test_conflicts_found_and_resolved(data) -> None:
    root, _ = parse(render_html(data))
    table = by_heading(root, "Conflicts found and resolved since adoption")
    assert table.rows()[1:] == [
        ["clash", "1", "0", "0", "1"],
        ["synergy", "1", "1", "1", "3"],
        ["all", "2", "1", "1", "4"],
    ]


def test_gantt_per_organisation(data) -> None:
    root, _ = parse(render_html(data))
    charts = root.find_all("svg", class_="gantt")
    titles = [c.find_all("title")[0].text for c in charts]
    assert titles == [f"Programme of {org}" for org in sorted([FIBRE, HOSTILE_ORG, WATER])]
    bars = [len(c.find_all("rect", class_="bar")) for c in charts]
    actual = [len(c.find_all("rect", class_="actual")) for c in charts]
    assert bars == [2, 2, 2]
    assert actual == [1, 0, 1]
    # P1 is red, P2 green: Fibre's C1 (P1) first, then C2 (P2)
    fills = [r.attrs["fill"] for r in charts[0].find_all("rect", class_="bar")]
    assert fills == ["#d7191c", "#1a9641"]
    # the hostile organisation: A1 in P1, then A7 on its own
    labels = [t.text for t in charts[1].find_all("text") if not t.text.isdigit()]
    assert labels == ["A1 (P1)", "A7"]
    fills = [r.attrs["fill"] for r in charts[1].find_all("rect", class_="bar")]
    assert fills == ["#d7191c", "#7f9fbf"]


def test_financing_per_organisation_and_year(data) -> None:
    root, _ = parse(render_html(data))
    table = by_heading(root, "Cost and financing per organisation and year")
    assert table.rows() == [
        ["Organisation", "2027", "2028", "total"],
        [FIBRE, "€30,000", "€15,000", "€45,000"],
        [HOSTILE_ORG, "€230,000", "", "€230,000"],
        [WATER, "€110,000", "€45,000", "€155,000"],
        ["all organisations", "€370,000", "€60,000", "€430,000"],
    ]


def test_changes_since_previous_cycle(data) -> None:
    root, _ = parse(render_html(data))
    table = by_heading(root, "Changes since the previous cycle")
    assert table.rows() == [
        ["Organisation", "added", "dropped", "moved"],
        [FIBRE, "1", "0", "1"],
        [HOSTILE_ORG, "0", "1", "0"],
        [WATER, "1", "0", "0"],
        ["all", "2", "1", "1"],
    ]


def test_one_measure_sheet_per_project(data) -> None:
    root, _ = parse(render_html(data))
    sheets = root.find_all("section", class_="sheet")
    assert [s.attrs["id"] for s in sheets] == ["project-P1", "project-P2"]
    p1 = sheets[0]
    facts = dict(r for r in p1.find_all("table", class_="facts")[0].rows())
    assert facts["Lead organisation"] == WATER
    assert facts["Joint period"] == "1 May 2027 – 31 Oct 2027"
    assert facts["Members"] == "3 works of 3 organisations"
    assert facts["Cost"] == "€360,000 separately, €360,000 combined"
    assert facts["Status"] == "red"
    members = p1.find_all("table")[1].rows()
    assert [r[:3] for r in members[1:]] == [
        ["1", WATER, "B1"],
        ["2", FIBRE, "C1"],
        ["3", HOSTILE_ORG, "A1"],
    ]
    assert members[3][3] == HOSTILE_TITLE and members[1][-1] == "in progress"
    split = p1.find_all("table")[2].rows()
    assert split[1:] == [
        [FIBRE, "€30,000", "2027"],
        [HOSTILE_ORG, "€220,000", "2027"],
        [WATER, "€110,000", "2027"],
        ["project", "€360,000", ""],
    ]
    # the execution order is written on the small map, one label per member
    labels = [t.text for t in p1.find_all("svg", class_="map")[0].find_all("text", class_="label")]
    assert sorted(labels) == ["1", "2", "3"]


def test_status_report_is_the_monitoring_part(data) -> None:
    root, _ = parse(render_html(data, "status"))
    headings = [h.text for h in root.find_all("h2")]
    assert headings == [
        "State of the combined projects",
        "Progress reported",
        "Deviations from the adopted programme",
        "Plans not yet updated to the adopted dates",
        "The programme and what was reported",
    ]
    assert not root.find_all("section", class_="sheet")
    projects = by_heading(root, "State of the combined projects").rows()
    assert [r[0] for r in projects[1:]] == ["P1", "P2"] and projects[1][5] == "red"
    progress = by_heading(root, "Progress reported").rows()
    assert progress == [
        ["Organisation", "in progress", "done", "not reported", "programme works"],
        [FIBRE, "0", "1", "1", "2"],
        [HOSTILE_ORG, "0", "0", "2", "2"],
        [WATER, "1", "0", "1", "2"],
        ["all", "1", "1", "4", "6"],
    ]
    deviations = by_heading(root, "Deviations from the adopted programme").rows()
    assert deviations[1:] == [["late", "1"], ["not combined", "1"], ["unplanned", "1"]]


def test_map_svg_coordinates() -> None:
    # 100 m x 100 m drawn 200 px wide: 2 px per metre, y pointing down
    line = shapely.LineString([(0, 0), (100, 50)])
    point = shapely.Point(50, 100)
    text = map_svg(
        [Layer(np.array([line]), "#123456", 2.0), Layer(np.array([point]), "#abcdef", 1.0)],
        bounds=(0, 0, 100, 100),
        width=200,
        max_height=400,
    )
    root, _ = parse(text)
    svg = root.find_all("svg")[0]
    assert (svg.attrs["width"], svg.attrs["height"]) == ("200", "220")  # + scale bar strip
    paths = svg.find_all("path")
    assert paths[0].attrs["d"] == "M0.0 200.0L200.0 100.0"
    assert paths[0].attrs["stroke"] == "#123456"
    # a point is a circle of at least 2 px radius centred on (100, 0)
    assert paths[1].attrs["d"] == "M98.0 0.0a2.0 2.0 0 1 0 4.0 0a2.0 2.0 0 1 0 -4.0 0"
    # the scale bar: a quarter of 100 m rounds down to 20 m = 40 px
    assert svg.find_all("g", class_="scale")[0].find_all("text")[0].text == "20 m"


def test_gantt_svg_positions() -> None:
    # two years (730 days) over 700 px after a 200 px label column
    bars = pd.DataFrame(
        {
            "label": ["w1", "w2"],
            "start": pd.to_datetime(["2027-01-01", "2028-01-01"]),
            "end": pd.to_datetime(["2027-12-31", "2028-01-31"]),
            "colour": ["#010203", "#040506"],
            "tooltip": ["one", "two <x>"],
            "actual_start": pd.to_datetime(["2027-07-01", None]),
            "actual_end": pd.to_datetime([None, None]),
        }
    )
    text = gantt_svg(
        bars,
        today=dt.date(2027, 12, 31),
        span=(dt.date(2027, 3, 1), dt.date(2028, 6, 1)),
        width=910,
        label_width=200,
    )
    root, _ = parse(text)
    bar, second = root.find_all("rect", class_="bar")
    assert float(bar.attrs["x"]) == 200.0
    assert float(bar.attrs["width"]) == pytest.approx(365 / 731 * 700, abs=0.05)
    assert float(second.attrs["x"]) == pytest.approx(200 + 365 / 731 * 700, abs=0.05)
    assert second.find_all("title")[0].text == "two <x>"
    # still running: the actual line runs from its start up to today (184 days)
    (actual,) = root.find_all("rect", class_="actual")
    assert float(actual.attrs["x"]) == pytest.approx(200 + 181 / 731 * 700, abs=0.05)
    assert float(actual.attrs["width"]) == pytest.approx(184 / 731 * 700, abs=0.05)
    years = [t.text for t in root.find_all("text") if t.text.isdigit()]
    assert years == ["2027", "2028"]


def test_works_in_degrees_are_drawn_in_metres(data) -> None:
    works = build_works().to_crs(4326)
    root, _ = parse(render_html(build_data(works=works)))
    assert len(root.find_all("svg", class_="map")) == 3


def test_a_missing_column_is_named() -> None:
    with pytest.raises(InputError, match="kpis table lacks the column.s. state"):
        build_data(kpis=build_data().kpis.drop(columns="state"))


def test_unknown_kind_and_suffix(data, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown report kind 'yearly'"):
        write_report(data, tmp_path / "r.html", kind="yearly")
    with pytest.raises(InputError, match=r"unknown file type '\.docx'"):
        write_report(data, tmp_path / "r.docx")
    assert not list(tmp_path.iterdir())


def test_report_bytes_for_downloads(data, tmp_path: Path) -> None:
    written = write_report(data, tmp_path / "r.html", kind="status").read_bytes()
    assert report_bytes(data, "html", kind="status") == written
    assert report_bytes(data, "xlsx")[:2] == b"PK"
    with pytest.raises(InputError, match="unknown report format 'docx'"):
        report_bytes(data, "docx")


def test_kpis_read_in_their_units(data) -> None:
    kpis = kpi_table(7.5)
    root, tags = parse(render_html(build_data(kpis=kpis)))
    assert "script" not in tags
    assert root.find_all("table", class_="kpis")[0].rows()[1:] == [
        ["Share of excavating works combined", "60 %", "32 %", "red"],
        ["Savings (EUR)", "€2,000,000", "€2,919,798", "green"],
        ["Most disruption days on a street segment", "60 days", "154 days", "red"],
        ["<i>x</i>", "", "7.50", "no target"],
    ]
