"""How heavy the works map gets: server-side build time and payload at 1k-10k+ works.

The demo plans (about 1,060 works) are copied side by side (translated by
2 km per copy) to reach each size; each run prepares the GeoJSON the map
page sends (:func:`ims_geo.maps.prepare` + :func:`ims_geo.maps.context_layer`)
and renders the folium map HTML that streamlit-folium ships to the browser.

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

from ims_geo import maps
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
    t0 = time.perf_counter()
    conflicts = find_conflicts(works)
    t1 = time.perf_counter()
    layer = maps.prepare(works)
    context = maps.context_layer(works)
    drawn = conflicts.head(maps.MAX_DRAWN_CONFLICTS)
    conflict_layer = maps.prepare(drawn, maps.CONFLICT_FIELDS)
    t2 = time.perf_counter()
    fmap = maps.works_map(
        layer, groups=sorted(works["org"].unique()), conflicts=conflict_layer, context=context
    )
    html = fmap.get_root().render()
    t3 = time.perf_counter()
    return {
        "works": len(works),
        "conflicts": len(conflicts),
        "find_conflicts_s": round(t1 - t0, 2),
        "prepare_s": round(t2 - t1, 2),
        "render_s": round(t3 - t2, 2),
        "works_layer_MB": round(layer.size / 1e6, 2),
        "light": layer.light,
        "html_MB": round(len(html.encode()) / 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,5,10,20")
    args = parser.parse_args()
    base = demo_works()
    rows = [measure(tiled(base, int(c))) for c in args.copies.split(",")]
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
