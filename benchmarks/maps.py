"""How heavy the works map gets: server-side build time and payload at 1k-10k+ works.

The demo plans (about 1,060 works) are copied side by side (translated by
2 km per copy) to reach each size; each run prepares what the Map page
computes once per store revision and filters (:func:`ims_geo.maps.prepare`
of the works and the top conflicts, the basemap drawn from the plans with
:func:`ims_geo.maps.context_layer`, the areas and the search index), then
what it does on every run: a search, the folium map, and the Leaflet script
streamlit-folium builds from it and ships to the browser (``map_s``).

Run: ``.venv/bin/python benchmarks/maps.py [--copies 1,5,10,20]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from ims_geo import maps, search
from ims_geo.conflicts import find_conflicts
from ims_geo.demo import build_demo_store
from ims_geo.store import open_store


def demo_works() -> gpd.GeoDataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "demo.gpkg")
        build_demo_store(store)
        return store.works()


def tiled(works: gpd.GeoDataFrame, copies: int) -> gpd.GeoDataFrame:
    parts = []
    for k in range(copies):
        part = works.copy()
        part["geometry"] = shapely.transform(
            part.geometry.to_numpy(), lambda xy, k=k: xy + [2000.0 * k, 0.0]
        )
        part["work_id"] = part["work_id"] + f"-{k}"
        parts.append(part)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=works.crs)


def measure(works: gpd.GeoDataFrame) -> dict[str, object]:
    from streamlit_folium import _get_map_string, generate_js_hash

    t0 = time.perf_counter()
    conflicts = find_conflicts(works)
    t1 = time.perf_counter()
    layer = maps.prepare(works)
    context = maps.context_layer(works)
    drawn = conflicts.head(maps.MAX_DRAWN_CONFLICTS)
    conflict_layer = maps.prepare(
        drawn,
        maps.CONFLICT_FIELDS,
        light_fields=maps.LIGHT_CONFLICT_FIELDS,
        fast_threshold=maps.HALO_FAST_THRESHOLD,
    )
    places = maps.areas(works)
    index = search.build_index(works)
    t2 = time.perf_counter()
    matches = search.search(works, "mikonkatu", index=index)
    t3 = time.perf_counter()
    fmap = maps.works_map(
        layer,
        groups=sorted(works["org"].unique()),
        conflicts=conflict_layer,
        context=context,
        link="conflicts?conflict=",
    )
    # what st_folium does with the map on every run of the page
    fmap.get_root().render()
    fmap.render()
    script = _get_map_string(fmap)
    generate_js_hash(script, "works_map", False)
    t4 = time.perf_counter()
    return {
        "works": len(works),
        "conflicts": len(conflicts),
        "find_conflicts_s": round(t1 - t0, 2),
        "prepare_s": round(t2 - t1, 2),
        "search_s": round(t3 - t2, 3),
        "matches": len(matches),
        "areas": len(places),
        "map_s": round(t4 - t3, 2),
        "works_layer_MB": round(layer.size / 1e6, 2),
        "conflicts_MB": round(conflict_layer.size / 1e6, 2),
        "basemap_MB": round(context.size / 1e6, 2),
        "light": layer.light,
        "script_MB": round(len(script.encode()) / 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,10")
    args = parser.parse_args()
    base = demo_works()
    rows = [measure(tiled(base, int(c))) for c in args.copies.split(",")]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
