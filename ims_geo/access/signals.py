"""Anonymous conflict signals: what others see of an organisation's private works.

A ``private`` work is shown in full only to its own organisation. Every
other user sees "another organisation has a confidential plan here, in this
period": no owner, title, cost, funding, depths or extra columns; the place
coarsened to the cells of a grid (50 m in a metric CRS) the geometry
touches, dissolved into one polygon; the dates widened to whole months
(start and ``earliest`` to the first day of their month, end and ``latest``
to the last day). Discipline, layer, excavation and status stay, so the
conflict engine still finds clashes, moratorium violations and synergies.

The PostGIS store computes the same signal inside the database
(the ``visible_works`` view in
:mod:`ims_geo.access.database`); this module is the Python version for the
GeoPackage store's ``acting_org`` view and the tests' oracle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

#: Signal grid cell in metres.
CELL_METRES = 50.0
#: Signal grid cell in degrees when the store CRS is geographic (about 55 m).
CELL_DEGREES = 0.0005


def cell_size(crs: CRS | None) -> float:
    """The signal grid cell in the units of ``crs`` (50 m)."""
    if crs is None:
        return CELL_METRES
    if crs.is_geographic:
        return CELL_DEGREES
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return CELL_METRES / factor if factor else CELL_METRES


def coarse_geometry(geoms: np.ndarray, cell: float) -> np.ndarray:
    """Each geometry as the union of the grid cells (size ``cell``) it touches.

    Cells are aligned to the CRS origin: cell (i, j) spans
    ``[i*cell, (i+1)*cell] x [j*cell, (j+1)*cell]``; a geometry's candidate
    cells are those from ``floor(min/cell)`` to ``floor(max/cell)`` on each
    axis, kept when they intersect it, and dissolved (GEOS MakeValid,
    method "structure"), the same steps as the database's
    ``coarse_geometry``.
    """
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size == 0:
        return geoms
    bounds = shapely.bounds(geoms)
    lo = np.floor(bounds[:, :2] / cell).astype(np.int64)
    hi = np.floor(bounds[:, 2:] / cell).astype(np.int64)
    nx, ny = hi[:, 0] - lo[:, 0] + 1, hi[:, 1] - lo[:, 1] + 1
    counts = nx * ny
    owner = np.repeat(np.arange(len(geoms)), counts)
    # position of each candidate inside its geometry's block of cells
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    ix = lo[owner, 0] + offset // ny[owner]
    iy = lo[owner, 1] + offset % ny[owner]
    cells = shapely.box(ix * cell, iy * cell, (ix + 1) * cell, (iy + 1) * cell)
    hit = shapely.intersects(cells, geoms[owner])
    collected = shapely.multipolygons(cells[hit], indices=owner[hit])
    out = np.empty(len(geoms), dtype=object)
    out[np.unique(owner[hit])] = shapely.make_valid(collected, method="structure")
    return out


def month_start(days: pd.Series) -> pd.Series:
    """Dates moved to the first day of their month (missing stays missing)."""
    values = days.to_numpy(dtype="datetime64[D]")
    return pd.Series(values.astype("datetime64[M]").astype("datetime64[s]"), index=days.index)


def month_end(days: pd.Series) -> pd.Series:
    """Dates moved to the last day of their month (missing stays missing)."""
    values = days.to_numpy(dtype="datetime64[D]")
    last = (values.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    return pd.Series(last.astype("datetime64[s]"), index=days.index)
