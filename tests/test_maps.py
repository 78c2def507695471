"""Tests for ims_geo.maps: GeoJSON preparation, filters, the map click and folium maps."""

from __future__ import annotations

import html
import json
import re
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from ims_geo import maps
from ims_geo.errors import InputError
from ims_geo.schema import validate

RD = 28992  # Dutch national grid, metres


def make_works(rows: list[dict], crs: int | None = RD) -> gpd.GeoDataFrame:
    """Valid works from hand-written rows (geometry in RD metres)."""
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    checked = validate(frame)
    assert checked.rejected.empty, checked.rejected
    return checked.valid


@pytest.fixture
def works() -> gpd.GeoDataFrame:
    line = shapely.LineString([(155000, 463000), (155050, 463000.3), (155100, 463000)])
    return make_works(
        [
            dict(work_id="w1", org="City", title="Main <Street> & co", discipline="road",
                 start_date="2027-01-01", end_date="2027-03-31", cost_eur=1234.567, geometry=line),
            dict(work_id="w2", org="Water", title="Pipe", discipline="water",
                 start_date="2027-03-01", end_date="2027-06-30", geometry=shapely.Point(155050, 463010)),
            dict(work_id="w3", org="Water", title="Square", discipline="sewer",
                 start_date="2028-01-01", end_date="2028-02-15",
                 geometry=shapely.box(155000, 463050, 155040, 463080)),
            dict(work_id="w4", org="Power", title="Cable", discipline="electricity",
                 start_date="2026-11-15", end_date="2027-01-01",
                 geometry=shapely.LineString([(155200, 463000), (155200, 463100)])),
        ]
    )  # fmt: skip


def features(data: maps.MapData) -> list[dict]:
    return json.loads(data.geojson)["features"]


# --- prepare ------------------------------------------------------------------------------
def test_prepare_keeps_only_popup_fields_in_lonlat(works):
    data = maps.prepare(works)
    feats = features(data)
    assert data.count == len(feats) == 4
    assert not data.light
    assert [f["properties"]["work_id"] for f in feats] == ["w1", "w2", "w3", "w4"]
    assert set(feats[0]["properties"]) == set(maps.WORK_FIELDS)
    assert feats[0]["properties"]["start_date"] == "2027-01-01"
    assert feats[0]["properties"]["cost_eur"] == 1234.57
    assert feats[1]["properties"]["cost_eur"] is None
    assert feats[0]["properties"]["title"] == "Main <Street> & co"
    assert [f["geometry"]["type"] for f in feats] == [
        "LineString",
        "Point",
        "Polygon",
        "LineString",
    ]


def test_prepare_text_has_no_markup_characters(works):
    # the GeoJSON is written inside a <script>
    text = maps.prepare(works).geojson
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\\u003cStreet\\u003e" in text


def test_prepare_rounds_to_the_grid_and_matches_a_reprojection(works):
    data = maps.prepare(works, tolerance=0)
    feats = features(data)
    expected = works.to_crs(4326)
    for feat, geom in zip(feats, expected.geometry, strict=True):
        drawn = shapely.from_geojson(json.dumps(feat["geometry"]))
        # every vertex moved by at most half a grid cell in x and in y
        assert shapely.hausdorff_distance(drawn, geom) <= 1e-5 / 2 * np.sqrt(2) + 1e-12
        coords = shapely.get_coordinates(drawn)
        assert np.allclose(coords * 1e5, np.round(coords * 1e5), atol=1e-6)
    west, south, east, north = expected.total_bounds
    assert data.bounds == pytest.approx((west, south, east, north), abs=1e-5)


def test_prepare_simplifies_in_metres(works):
    # the middle vertex of w1 is 0.3 m off the straight line
    assert len(features(maps.prepare(works, tolerance=0))[0]["geometry"]["coordinates"]) == 3
    assert len(features(maps.prepare(works, tolerance=0.5))[0]["geometry"]["coordinates"]) == 2


def test_prepare_switches_to_the_light_representation(works):
    data = maps.prepare(works, fast_threshold=3)
    assert data.light
    assert set(features(data)[0]["properties"]) == set(maps.LIGHT_WORK_FIELDS)
    assert not maps.prepare(works, fast_threshold=4).light


def test_prepare_draws_very_short_lines_as_points(works):
    short = works.copy()
    short.loc[0, "geometry"] = shapely.LineString([(155000, 463000), (155001.5, 463000)])
    short.loc[3, "geometry"] = shapely.MultiLineString([[(155000, 463000), (155000, 463000)]])
    feats = features(maps.prepare(short))
    assert [f["geometry"]["type"] for f in feats] == ["Point", "Point", "Polygon", "Point"]


def test_prepare_drops_empty_geometries_and_handles_empty_frames(works):
    emptied = works.copy()
    emptied.loc[1, "geometry"] = shapely.Point()
    assert [f["properties"]["work_id"] for f in features(maps.prepare(emptied))] == [
        "w1",
        "w3",
        "w4",
    ]
    none = maps.prepare(works.iloc[:0])
    assert (none.count, none.bounds, features(none)) == (0, None, [])


def test_prepare_needs_a_crs(works):
    with pytest.raises(InputError, match="no CRS"):
        maps.prepare(works.set_crs(None, allow_override=True))


def test_context_layer_is_one_multiline_of_lines_and_polygon_rings(works):
    data = maps.context_layer(works, tolerance=0)
    (feat,) = features(data)
    assert data.count == 1
    assert feat["properties"] == {}
    assert feat["geometry"]["type"] == "MultiLineString"
    # w1, the ring of w3 and w4; the point w2 is left out
    assert len(feat["geometry"]["coordinates"]) == 3
    assert maps.context_layer(works.iloc[[1]]).count == 0


# --- filters ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (None, None, ["w1", "w2", "w3", "w4"]),
        ("2027-01-01", "2027-01-01", ["w1", "w4"]),
        ("2027-01-02", "2027-02-28", ["w1"]),
        ("2027-03-31", "2027-12-31", ["w1", "w2"]),
        ("2027-07-01", "2027-12-31", []),
        ("2028-02-15", None, ["w3"]),
        (None, "2026-11-15", ["w4"]),
    ],
)
def test_filter_works_by_period_days_inclusive(works, first, last, expected):
    assert list(maps.filter_works(works, start=first, end=last)["work_id"]) == expected


def test_filter_works_by_sets(works):
    assert list(maps.filter_works(works, layers=["surface"])["work_id"]) == ["w1"]
    assert list(maps.filter_works(works, orgs=["Water", "Power"])["work_id"]) == ["w2", "w3", "w4"]
    assert list(maps.filter_works(works, disciplines=["sewer"], orgs=["Water"])["work_id"]) == [
        "w3"
    ]
    assert maps.filter_works(works, orgs=[]).empty


@pytest.fixture
def conflicts() -> gpd.GeoDataFrame:
    day = pd.Timestamp
    return gpd.GeoDataFrame(
        {
            "work_id_a": ["a1", "a2", "a3", "a4"],
            "org_a": ["City", "City", "Water", "Gas"],
            "work_id_b": ["b1", "b2", "b3", "b4"],
            "org_b": ["Water", "Gas", "Gas", "Power"],
            "discipline_a": ["road", "road", "water", "gas"],
            "discipline_b": ["water", "gas", "gas", "electricity"],
            "kind": ["clash", "moratorium", "synergy", "clash"],
            "severity": ["high", "high", "low", "medium"],
            "score": [9.0, 8.0, 2.0, 5.0],
            "start_a": [day("2027-01-01"), day("2027-01-01"), day("2028-01-01"), day("2029-05-01")],
            "end_a": [day("2027-02-01"), day("2027-02-01"), day("2028-02-01"), day("2029-06-01")],
            "start_b": [day("2027-01-15"), day("2029-01-01"), day("2028-06-01"), day("2029-05-15")],
            "end_b": [day("2027-03-01"), day("2029-03-01"), day("2028-07-01"), day("2029-07-01")],
        },
        geometry=[shapely.Point(155000 + i, 463000) for i in range(4)],
        crs=RD,
    )


def brute_force_conflicts(conflicts, kinds, severities, orgs, disciplines, first, last):
    keep = []
    for row in conflicts.itertuples():
        span = (min(row.start_a, row.start_b), max(row.end_a, row.end_b))
        keep.append(
            (kinds is None or row.kind in kinds)
            and (severities is None or row.severity in severities)
            and (orgs is None or row.org_a in orgs or row.org_b in orgs)
            and (
                disciplines is None
                or row.discipline_a in disciplines
                or row.discipline_b in disciplines
            )
            and (first is None or span[1] >= pd.Timestamp(first))
            and (last is None or span[0] <= pd.Timestamp(last))
        )
    return list(conflicts.loc[keep, "work_id_a"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"kinds": ["clash"]},
        {"severities": ["high", "medium"]},
        {"orgs": ["Gas"]},
        {"orgs": ["Power"], "kinds": ["synergy"]},
        {"disciplines": ["gas"]},
        {"start": "2027-03-01", "end": "2027-12-31"},
        {"start": "2028-06-15", "end": "2029-05-01"},
        {"kinds": [], "orgs": ["City"]},
    ],
)
def test_filter_conflicts_matches_brute_force(conflicts, kwargs):
    got = list(maps.filter_conflicts(conflicts, **kwargs)["work_id_a"])
    expected = brute_force_conflicts(
        conflicts,
        kwargs.get("kinds"),
        kwargs.get("severities"),
        kwargs.get("orgs"),
        kwargs.get("disciplines"),
        kwargs.get("start"),
        kwargs.get("end"),
    )
    assert got == expected


def test_conflict_works_and_conflicts_of_a_work(conflicts):
    works = make_works(
        [
            dict(work_id=w, org=o, start_date="2027-01-01", end_date="2027-02-01",
                 geometry=shapely.Point(155000 + i, 463000))
            for i, (o, w) in enumerate([("City", "a1"), ("Water", "b1"), ("Water", "a1"),
                                        ("Gas", "b2"), ("Gas", "a4")])
        ]
    )  # fmt: skip
    pair = maps.conflict_works(conflicts.iloc[0], works)
    assert list(zip(pair["org"], pair["work_id"], strict=True)) == [("City", "a1"), ("Water", "b1")]
    # a2 of City is not a work here, b2 of Gas is
    assert list(maps.conflict_works(conflicts.iloc[1], works)["work_id"]) == ["b2"]
    gas = works.iloc[4]
    assert list(maps.conflicts_of(gas, conflicts)["work_id_a"]) == ["a4"]
    assert list(maps.conflicts_of(works.iloc[3], conflicts)["work_id_a"]) == ["a2"]
    assert maps.conflicts_of(works.iloc[2], conflicts).empty


def test_months_cover_the_plan_period(works):
    got = maps.months(works)
    assert got[0] == pd.Timestamp("2026-11-01")
    assert got[-1] == pd.Timestamp("2028-02-01")
    assert len(got) == 16
    assert maps.month_end(pd.Timestamp("2028-02-01")) == pd.Timestamp("2028-02-29")


# --- the map click ------------------------------------------------------------------------
def test_clicked_work_from_the_tooltip(works):
    returned = {"last_object_clicked": {"lat": 0.0, "lng": 0.0},
                "last_object_clicked_tooltip": " Water · w3 "}  # fmt: skip
    assert maps.clicked_work(returned, works)["work_id"] == "w3"
    assert list(maps.work_labels(works)) == ["City · w1", "Water · w2", "Water · w3", "Power · w4"]


def test_clicked_work_from_the_clicked_point(works):
    to_lonlat = Transformer.from_crs(RD, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(155199, 463050)  # 1 m west of w4
    returned = {
        "last_object_clicked": {"lat": lat, "lng": lon},
        "last_object_clicked_tooltip": None,
    }
    assert maps.clicked_work(returned, works)["work_id"] == "w4"


@pytest.mark.parametrize(
    "returned",
    [None, {}, {"last_object_clicked": None}, {"last_object_clicked": {"lat": None, "lng": None}}],
)
def test_clicked_work_none_when_nothing_clicked(works, returned):
    assert maps.clicked_work(returned, works) is None


def test_view_of_fits_the_bounds_at_that_zoom_and_not_closer():
    bounds = (5.38, 52.15, 5.40, 52.16)
    (lat, lon), zoom = maps.view_of(bounds, width=700, height=500)
    assert (lat, lon) == pytest.approx((52.155, 5.39))

    def pixels(z: int) -> tuple[float, float]:
        to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
        x0, y0 = to_merc.transform(bounds[0], bounds[1])
        x1, y1 = to_merc.transform(bounds[2], bounds[3])
        metres_per_pixel = 2 * 20037508.342789244 / (256 * 2**z)
        return (x1 - x0) / metres_per_pixel, (y1 - y0) / metres_per_pixel

    w, h = pixels(zoom)
    assert w <= 700 and h <= 500
    w, h = pixels(zoom + 1)
    assert w > 700 or h > 500
    assert maps.view_of((5.0, 52.0, 5.0, 52.0))[1] == 18


# --- folium maps --------------------------------------------------------------------------
def test_works_map_is_offline_and_carries_every_feature(works, conflicts):
    data = maps.prepare(works.iloc[:3])
    context = maps.context_layer(works.iloc[3:])
    fmap = maps.works_map(
        data,
        groups=["City", "Water"],
        conflicts=maps.prepare(conflicts, maps.CONFLICT_FIELDS),
        context=context,
    )
    html = fmap.get_root().render()
    assert re.findall(r"https?://", html) == []
    assert maps.LEAFLET_JS in html and maps.LEAFLET_CSS in html
    assert maps.feature_count(html) == 3 + 4 + 1
    # conflicts under the works, one switchable layer per organisation
    assert re.search(r'"Conflicts" : ims_layer_\w+,\s*"City" : ims_layer_\w+,\s*"Water"', html)
    assert maps.DISCIPLINE_COLOURS["water"] in html and maps.KIND_COLOURS["moratorium"] in html


def test_works_map_tiles_are_optional(works, monkeypatch):
    data = maps.prepare(works)
    monkeypatch.delenv(maps.TILES_ENV, raising=False)
    assert maps.tile_url() is None
    assert "L.tileLayer" not in maps.works_map(data).get_root().render()
    monkeypatch.setenv(maps.TILES_ENV, "/app/static/tiles/{z}/{x}/{y}.png")
    html = maps.works_map(data, tiles=maps.tile_url()).get_root().render()
    assert "L.tileLayer" in html and "/app/static/tiles/{z}/{x}/{y}.png" in html


def test_the_folium_class_defaults_are_left_alone(works):
    before = list(__import__("folium").Map.default_js)
    maps.works_map(maps.prepare(works)).get_root().render()
    assert __import__("folium").Map.default_js == before


def test_conflicts_map_and_highlight(conflicts, works):
    fmap = maps.conflicts_map(maps.prepare(conflicts, maps.CONFLICT_FIELDS), kinds=["clash"])
    html = fmap.get_root().render()
    assert maps.feature_count(html) == 4
    assert ">clash<" in html.replace("\\u003e", ">").replace("\\u003c", "<")
    group = maps.highlight(maps.prepare(works.iloc[:1]))
    fmap.add_child(group)
    assert maps.feature_count(fmap.get_root().render()) == 5


def test_programme_map_outlines_projects_under_their_works(works):
    hull = gpd.GeoDataFrame(
        {"cluster_id": ["C001"], "n_works": [2], "orgs": ["City; Water"], "savings_eur": [1e4]},
        geometry=[works.geometry.iloc[:2].union_all().convex_hull],
        crs=RD,
    )
    html = (
        maps.programme_map(maps.prepare(works.iloc[:2]), maps.prepare(hull, maps.CLUSTER_FIELDS))
        .get_root()
        .render()
    )
    assert maps.feature_count(html) == 3
    assert re.search(r'"Combined projects" : ims_layer_\w+,\s*"Works" : ims_layer_', html)
    assert maps.AREA_COLOUR in html and re.findall(r"https?://", html) == []
    assert "Combined project" in re.search(r"innerHTML = (\".*?\");", html).group(1)


def test_legend_lists_the_chosen_disciplines_and_kinds():
    text = maps.legend_html(["water", "gas"], ["synergy"])
    assert maps.DISCIPLINE_COLOURS["water"] in text and maps.DISCIPLINE_COLOURS["gas"] in text
    assert maps.DISCIPLINE_COLOURS["road"] not in text
    assert maps.KIND_COLOURS["synergy"] in text and maps.KIND_COLOURS["clash"] not in text
    assert text.index(">water<") < text.index(">gas<")  # schema order


def test_ten_thousand_works_stay_light():
    rng = np.random.default_rng(7)
    n = 10_000
    x = rng.uniform(150_000, 160_000, n)
    y = rng.uniform(460_000, 470_000, n)
    # street-like: 8 vertices along a gently bending 100-200 m line
    steps = np.linspace(0, 1, 8)
    length = rng.uniform(100, 200, n)[:, None]
    bend = rng.normal(0, 0.3, n)[:, None] * np.sin(steps * np.pi)[None, :]
    coords = np.stack([x[:, None] + length * steps, y[:, None] + bend], axis=-1)
    frame = gpd.GeoDataFrame(
        {
            "work_id": np.arange(n).astype(str),
            "org": rng.choice(["City", "Water", "Gas", "Power"], n),
            "title": "Renewal of the main",
            "discipline": rng.choice(["road", "water", "gas", "electricity"], n),
            "start_date": pd.Timestamp("2027-01-01")
            + pd.to_timedelta(rng.integers(0, 1000, n), "D"),
        },
        geometry=shapely.linestrings(coords.reshape(-1, 2), indices=np.repeat(np.arange(n), 8)),
        crs=RD,
    )
    frame["end_date"] = frame["start_date"] + pd.Timedelta(days=90)
    frame = validate(frame).valid
    began = time.perf_counter()
    data = maps.prepare(frame)
    html = maps.works_map(data, groups=["City", "Gas", "Power", "Water"]).get_root().render()
    elapsed = time.perf_counter() - began
    assert data.light and data.count == n
    assert maps.feature_count(html) == n
    # light: simplified to the two end points, short properties; under the
    # ~3 MB a folium map stays interactive with
    print(f"10k works: {data.size / 1e6:.2f} MB GeoJSON, map built in {elapsed:.2f} s")
    assert data.size < 3_000_000, data.size
    assert elapsed < 10, elapsed


# --- user strings are text, never markup -----------------------------------------------
PAYLOAD_ORG = '<img src=x onerror="window.__xss=1">'
PAYLOAD_TITLE = "<script>window.__xss=2</script>"


def test_organisation_names_in_the_layer_control_are_escaped():
    line = shapely.LineString([(155000, 463000), (155100, 463000)])
    hostile = make_works(
        [
            dict(work_id="1", org=PAYLOAD_ORG, title=PAYLOAD_TITLE, discipline="water",
                 start_date="2027-01-01", end_date="2027-02-01", geometry=line),
            dict(work_id="2", org="Plain & Simple", title="x", discipline="road",
                 start_date="2027-01-01", end_date="2027-02-01", geometry=line),
        ]
    )  # fmt: skip
    data = maps.prepare(hostile)
    fmap = maps.works_map(data, groups=[PAYLOAD_ORG, "Plain & Simple"])
    html_text = fmap.get_root().render()
    names = [c.layer_name for c in fmap._children.values() if isinstance(c, maps._GeoJsonLayer)]
    assert names == [html.escape(PAYLOAD_ORG), "Plain &amp; Simple"]
    # nothing of the payload reaches the page as markup, in any layer, tooltip or popup
    assert "<img" not in html_text and "<script>window" not in html_text
    # the layer filter still compares with the organisation's own name
    assert json.dumps(PAYLOAD_ORG).replace("<", "\\u003c").replace(">", "\\u003e") in html_text
    group = maps.highlight(data, name=PAYLOAD_ORG)
    assert group.layer_name == html.escape(PAYLOAD_ORG)


# --- one colour scheme: disciplines never confused with conflicts -------------------------
def _linear(hex_colour: str) -> np.ndarray:
    """sRGB channels of ``#rrggbb`` linearised (WCAG 2.x / IEC 61966-2-1)."""
    srgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours."""
    weights = np.array([0.2126, 0.7152, 0.0722])
    la, lb = sorted([float(_linear(a) @ weights), float(_linear(b) @ weights)])
    return (lb + 0.05) / (la + 0.05)


def lab(hex_colour: str) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour."""
    xyz = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    ) @ _linear(hex_colour)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


SIGNALS = {
    **{f"conflict {k}": c for k, c in maps.KIND_COLOURS.items()},
    "moratoria": maps.MORATORIA_COLOUR,
    "outside the filters": maps.OUTSIDE_COLOUR,
    "context streets": maps.CONTEXT_COLOUR,
    "highlight": maps.HIGHLIGHT_COLOUR,
    "basemap": maps.BASEMAP_COLOUR,
}


def test_every_discipline_has_a_colour_of_its_own():
    from ims_geo.schema import DISCIPLINES

    assert set(maps.DISCIPLINE_COLOURS) == set(DISCIPLINES)
    colours = [c.lower() for c in maps.DISCIPLINE_COLOURS.values()]
    assert len(set(colours)) == len(colours)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in [*colours, *SIGNALS.values()])


def test_no_colour_is_shared_between_disciplines_and_conflicts_moratoria_or_context():
    disciplines = {c.lower() for c in maps.DISCIPLINE_COLOURS.values()}
    signals = [c.lower() for c in SIGNALS.values()]
    assert disciplines.isdisjoint(signals)
    assert len(set(signals)) == len(signals)
    # and not merely different strings: every discipline is far (CIELAB distance) from
    # every conflict, moratoria and outside colour, and the conflict kinds from each other
    for name, signal in SIGNALS.items():
        for discipline, colour in maps.DISCIPLINE_COLOURS.items():
            assert np.linalg.norm(lab(colour) - lab(signal)) >= 15, (name, discipline)
    kinds = list(maps.KIND_COLOURS.values())
    for i, a in enumerate(kinds):
        for b in kinds[i + 1 :]:
            assert np.linalg.norm(lab(a) - lab(b)) >= 30, (a, b)


def test_contrast_against_the_light_basemap_is_at_least_three_to_one():
    assert contrast("#ffffff", "#000000") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    drawn = {
        **maps.DISCIPLINE_COLOURS,
        **maps.KIND_COLOURS,
        "moratoria": maps.MORATORIA_COLOUR,
        "outside": maps.OUTSIDE_COLOUR,
    }
    for name, colour in drawn.items():
        assert contrast(colour, maps.BASEMAP_COLOUR) >= 3.0, name
    # the basemap streets are meant to recede: light, below 3:1, but visible
    assert 1.1 < contrast(maps.CONTEXT_COLOUR, maps.BASEMAP_COLOUR) < 3.0
    # the works outside the filters stand out from the basemap streets they lie on
    assert contrast(maps.OUTSIDE_COLOUR, maps.CONTEXT_COLOUR) >= 3.0


def test_conflicts_are_dashed_and_works_solid():
    for style in (maps.WORK_STYLE, maps.CONTEXT_STYLE, maps.HIGHLIGHT_STYLE):
        assert "dashArray" not in style.line
    for style in (maps.CONFLICT_STYLE, maps.HALO_STYLE, maps.MORATORIUM_STYLE, maps.OUTSIDE_STYLE):
        assert "dashArray" in style.line
    # a conflict at a point is a ring (not a filled dot like a work at a point)
    assert maps.CONFLICT_STYLE.point["fillOpacity"] == maps.HALO_STYLE.point["fillOpacity"] == 0
    assert maps.WORK_STYLE.point["fillOpacity"] > 0
    # dash patterns differ between conflicts, moratoria and works outside the filters
    dashes = {
        s.line["dashArray"] for s in (maps.HALO_STYLE, maps.MORATORIUM_STYLE, maps.OUTSIDE_STYLE)
    }
    assert len(dashes) == 3


def test_legend_explains_everything_drawn():
    text = maps.legend_html(
        ["water"], ["clash"], moratoria=True, outside=True, context=True, highlight=True
    )
    for colour in (
        maps.DISCIPLINE_COLOURS["water"],
        maps.KIND_COLOURS["clash"],
        maps.MORATORIA_COLOUR,
        maps.OUTSIDE_COLOUR,
        maps.CONTEXT_COLOUR,
        maps.HIGHLIGHT_COLOUR,
    ):
        assert f'stroke="{colour}"' in text
    for label in (
        ">water<",
        ">clash<",
        ">Protected new surface (moratorium)<",
        ">Works outside the filters<",
        ">Streets (drawn from the plans)<",
        ">Selected work or search match<",
    ):
        assert label in text
    # conflicts dashed in the legend too, works solid
    assert re.search(rf'stroke="{maps.KIND_COLOURS["clash"]}"[^>]*stroke-dasharray', text)
    assert not re.search(rf'stroke="{maps.DISCIPLINE_COLOURS["water"]}"[^>]*dasharray', text)
    plain = maps.legend_html(["water"])
    assert maps.OUTSIDE_COLOUR not in plain and "Conflicts" not in plain


def test_legend_and_names_follow_the_language(monkeypatch):
    from ims_geo import i18n

    monkeypatch.setattr(
        i18n, "_", lambda message: {"water": "WATER-NL", "Conflicts": "C<&>"}.get(message, message)
    )
    monkeypatch.setattr(maps, "_", i18n._)
    text = maps.legend_html(["water"], ["clash"])
    assert ">WATER-NL<" in text
    # a translation is text too: escaped
    assert "C&lt;&amp;&gt;" in text and "C<&>" not in text
    assert maps.value_name("discipline", "water") == "WATER-NL"
    assert maps.value_name("discipline", "Wasserleitung") == "Wasserleitung"


def test_works_map_draws_the_basemap_and_the_works_outside_the_filters(works, monkeypatch):
    monkeypatch.delenv(maps.TILES_ENV, raising=False)
    shown = maps.prepare(works.iloc[:2])
    fmap = maps.works_map(
        shown,
        context=maps.context_layer(works),
        outside=maps.context_layer(works.iloc[2:]),
    )
    page = fmap.get_root().render()
    assert maps.feature_count(page) == 2 + 1 + 1
    assert f"style.background = {json.dumps(maps.BASEMAP_COLOUR)}" in page
    # the basemap lies under the outside works, both under the works; neither is clickable
    assert page.index(maps.CONTEXT_COLOUR) < page.index(maps.OUTSIDE_COLOUR)
    assert page.count("interactive: false") == 2
    assert "L.tileLayer" not in page
    legend = re.search(r"innerHTML = (\".*?\");", page).group(1)
    assert "Works outside the filters" in legend and "Streets (drawn from the plans)" in legend


def test_with_raster_tiles_the_streets_from_the_data_are_the_other_base_layer(works):
    fmap = maps.works_map(
        maps.prepare(works),
        context=maps.context_layer(works),
        tiles="/app/static/tiles/{z}/{x}/{y}.png",
    )
    page = fmap.get_root().render()
    assert "L.tileLayer" in page
    base = re.search(r"base_layers\s*:\s*\{(.*?)\}", page, re.S).group(1)
    assert '"Raster tiles"' in base and '"Streets from the plans (offline)"' in base
    # the tiles are shown first; the streets from the data wait in the layer control
    layer = re.search(r'"Streets from the plans \(offline\)" : (ims_layer_\w+)', base).group(1)
    assert f"{layer}.addTo(" not in page


def test_a_conflict_popup_links_the_conflict_list(conflicts):
    from ims_geo.ui import links

    data = maps.prepare(conflicts, maps.CONFLICT_FIELDS)
    # the browser joins these properties into the key: the key of the link contract
    keys = [
        maps.KEY_SEPARATOR.join(str(f["properties"][c]) for c in maps.CONFLICT_TOOLTIP)
        for f in features(data)
    ]
    assert keys == [links.conflict_key(row) for row in conflicts.to_dict("records")]
    # the popup's prefix is that of the contract's link
    row = conflicts.iloc[0].to_dict()
    assert links.conflict_link(row).startswith("conflicts?conflict=")
    page = maps.conflicts_map(data, link="conflicts?conflict=").get_root().render()
    # a new tab: the map sits in a sandboxed frame that may not navigate the app itself
    assert "target='_blank'" in page and '"conflicts?conflict="' in page
    assert "encodeURIComponent" in page and "Open in the conflict list" in page
    assert json.dumps(list(maps.CONFLICT_TOOLTIP)) in page
    assert f".join({json.dumps(maps.KEY_SEPARATOR)})" in page
    assert "target='_blank'" not in maps.conflicts_map(data).get_root().render()


def test_clicked_conflict_by_its_tooltip(conflicts):
    labels = maps.conflict_labels(conflicts)
    expected = [
        f"{k} · {oa} · {wa} · {ob} · {wb}"
        for k, oa, wa, ob, wb in zip(
            conflicts["kind"], conflicts["org_a"], conflicts["work_id_a"],
            conflicts["org_b"], conflicts["work_id_b"], strict=True,
        )
    ]  # fmt: skip
    assert list(labels) == expected
    returned = {"last_object_clicked": {"lat": 1.0, "lng": 2.0},
                "last_object_clicked_tooltip": expected[2]}  # fmt: skip
    assert maps.clicked_conflict(returned, conflicts)["work_id_a"] == "a3"
    assert maps.clicked_conflict({"last_object_clicked_tooltip": "City · w1"}, conflicts) is None
    assert maps.clicked_conflict(None, conflicts) is None
    assert maps.clicked_conflict(returned, conflicts.iloc[:0]) is None


# --- areas: zoom to a place when the works lie far apart ------------------------------------
def far_apart() -> gpd.GeoDataFrame:
    """Three places: two towns 50 km apart and a hamlet 3 km from the first town."""
    rows = []
    for town, (x0, y0), plan in (
        ("A", (150_000, 460_000), [("City", "Main St"), ("City", "Main St"), ("Water", "Side St")]),
        ("B", (200_000, 460_000), [("Water", "High St"), ("Water", None), ("Gas", "High St")]),
        ("C", (150_000, 463_000), [("City", "Lane")]),
    ):
        for i, (org, street) in enumerate(plan):
            rows.append(
                dict(work_id=f"{town}{i}", org=org, start_date="2027-01-01",
                     end_date="2027-02-01", street=street,
                     geometry=shapely.LineString([(x0 + 300 * i, y0), (x0 + 300 * i + 200, y0)]))
            )  # fmt: skip
    return make_works(rows)


def test_areas_are_spatial_clusters_named_by_their_largest_organisation():
    works = far_apart()
    got = maps.areas(works)
    # brute force: chains of works whose extents are within the gap
    box = works.geometry.envelope
    near = [[box.iloc[i].distance(box.iloc[j]) <= maps.AREA_GAP_M for j in range(len(works))]
            for i in range(len(works))]  # fmt: skip
    label = list(range(len(works)))
    for _ in works.index:
        for i in range(len(works)):
            for j in range(len(works)):
                if near[i][j]:
                    label[i] = label[j] = min(label[i], label[j])
    groups = pd.Series(label).value_counts()
    assert sorted(got["works"], reverse=True) == sorted(groups, reverse=True) == [3, 3, 1]
    # town A and the hamlet are both mostly City: the street tells them apart;
    # town B is Water's; the larger areas come first
    assert list(got["name"]) == ["City – Main St", "Water", "City – Lane"]
    town_b = works[works["work_id"].str.startswith("B")].to_crs(4326).total_bounds
    assert maps.area_bounds(got.iloc[1]) == pytest.approx(tuple(town_b))
    assert maps.bounds_of(works[works["work_id"].str.startswith("B")]) == pytest.approx(
        tuple(town_b), abs=1e-4
    )


def test_areas_from_a_municipality_column_and_a_single_area():
    works = far_apart()
    works["Gemeente"] = np.where(works["work_id"].str.startswith("B"), "Zwolle", "Deventer")
    got = maps.areas(works)
    assert list(zip(got["name"], got["works"], strict=True)) == [("Deventer", 4), ("Zwolle", 3)]
    # a column with gaps does not name the areas
    works.loc[0, "Gemeente"] = None
    assert list(maps.areas(works)["works"]) == [3, 3, 1]
    one = maps.areas(works[works["work_id"].str.startswith("A")])
    assert list(one["works"]) == [3]
    assert maps.areas(works.iloc[:0]).empty


def test_big_layers_are_sent_compact_and_decode_to_the_same_features(works):
    data = maps.prepare(works, fast_threshold=3)
    assert data.light and data.compact is not None and not maps.prepare(works).compact
    count, body = re.fullmatch(r"/\* ims features: (\d+) \*/ (.*)", data.compact, re.S).groups()
    assert int(count) == data.count == 4
    assert "<" not in body and ">" not in body and "&" not in body
    compact = json.loads(body)
    # what the browser builds from it (the decoder in the map's script), feature by feature
    rebuilt = [
        {"type": "Feature", "properties": dict(zip(compact["k"], values, strict=True)),
         "geometry": geometry}
        for values, geometry in zip(compact["p"], compact["g"], strict=True)
    ]  # fmt: skip
    assert rebuilt == features(data)
    assert data.size == len(data.compact.encode()) < len(data.geojson.encode())
    page = maps.works_map(data).get_root().render()
    assert maps.feature_count(page) == 4 and data.compact in page
    assert "properties: p, geometry: d.g[i]" in page


def test_ten_thousand_works_are_sent_a_third_smaller():
    rng = np.random.default_rng(3)
    n = 10_000
    starts = rng.uniform(0, 10_000, (n, 2)) + [150_000, 460_000]
    frame = make_works(
        [
            dict(work_id=f"W{i:05d}", org=f"Organisation {i % 6}", title="Renewal",
                 discipline="water", start_date="2027-01-01", end_date="2027-02-01",
                 geometry=shapely.LineString([xy, xy + [120.0, 35.0], xy + [240.0, 0.0]]))
            for i, xy in enumerate(starts)
        ]
    )  # fmt: skip
    data = maps.prepare(frame)
    assert data.compact is not None
    assert data.size < 0.75 * len(data.geojson.encode())


def test_bounds_of_works_without_a_place_or_a_crs(works):
    assert maps.bounds_of(works.iloc[:0]) is None
    emptied = works.copy()
    emptied["geometry"] = shapely.Point()
    assert maps.bounds_of(emptied) is None
    with pytest.raises(InputError, match="no CRS"):
        maps.bounds_of(works.set_crs(None, allow_override=True))
    expected = tuple(works.to_crs(4326).total_bounds)
    assert maps.bounds_of(works) == pytest.approx(expected, abs=1e-12)
