"""The conflict search on a Dask cluster, with exactly the single-machine answer.

A national register (tens of millions of works) does not fit one machine;
:func:`find_conflicts_dask` / :func:`run` cut the plane into tiles
(:mod:`ims_geo.distributed.tiles`), send each work to the tiles near it,
run the one kernel, :func:`ims_geo.conflicts.find_conflicts`, unchanged in
each tile, and keep each pair in exactly one tile (:mod:`ims_geo.distributed.engine`).
There is no second implementation of the rules.

Why the answer is exact
-----------------------
Notation: ``D`` is the tiling's distance, at least the largest distance any
rule uses (:attr:`ims_geo.conflicts.rules.Rules.max_distance`), so every pair the
kernel reports is at most ``D`` apart; ``env(w)`` is a work's envelope in the
working metric CRS, ``grow(w) = env(w)`` grown by ``h = D/2 + m`` on every
side (``m`` = :data:`~ims_geo.distributed.tiles.HALO_MARGIN`, 1 mm). The
tiles are half-open rectangles ``[x0, x1) x [y0, y1)`` whose outer edges
are infinite and which partition the plane: every point lies in exactly
one tile. A work is copied to every tile whose closed rectangle meets
``grow(w)``. A pair ``(a, b)`` has the reference point
``p = (max(minx_a, minx_b) - D/2, max(miny_a, miny_b) - D/2)``, computed
from the same coordinates with the same operations wherever it is
computed, so every tile computes the same ``p``.

1. *Every reported pair is found in the tile that owns it.* Let the kernel,
   run on all works, report ``(a, b)``: their distance ``d <= D``, and the
   envelopes' gap along x, ``max(minx_a, minx_b) - min(maxx_a, maxx_b)``, is at
   most ``d`` (the geometries lie inside their envelopes). Then
   ``minx_a - D/2 <= p_x`` (as ``p_x >= minx_a - D/2``) and
   ``p_x <= maxx_a + D/2`` (as ``max(minx) <= maxx_a + D``, the gap being at
   most ``D``), and the same for ``b`` and for y: ``p`` lies in the
   intersection of the two envelopes grown by ``D/2``, so in ``grow(a)``
   and ``grow(b)``, with ``m`` to spare for the rounding of the float
   operations (about 1e-9 m at national coordinates). ``p`` lies in one tile
   ``T``; ``T``'s closed rectangle meets ``grow(a)`` and ``grow(b)`` at ``p``, so
   both works were copied to ``T``.
2. *The kernel reports in ``T`` what it reports on all works.* Every measure
   of a pair depends on the two works alone: whether they take part
   (status, exemption column, discipline, layer, excavation), the time
   rules and the gap, the distance between their geometries (GEOS'
   distance is symmetric bit for bit: its segment test swaps to the same
   floating-point operations), the shared length and meeting geometry
   (computed per pair from the two lines' segments in their own order),
   the depth overlap, the score (no normalisation over the set) and the
   severity. Which work is ``a`` follows the order by (organisation,
   work_id), which the kernel derives from the works at hand: the order
   of two works never depends on the others, and (organisation, work_id)
   is unique (:func:`ims_geo.schema.validate` rejects duplicates, and the
   run refuses works whose (organisation, work_id) is used twice, in any
   partitions, before it cuts the tiles). So the row of ``(a, b)`` in ``T`` equals
   its row on all works, value for value and bit for bit.
3. *No tile reports a pair that is not in the answer.* A tile holds a
   subset of the works; by 2 a pair's row does not depend on the other
   works, so any pair a tile reports is reported on all works too.
4. *Each pair is kept once.* A tile keeps a pair only when ``p`` lies in it,
   and ``p`` lies in exactly one tile.

So the union of the kept rows is exactly the single-machine answer. The
order is restored by one sort on (score descending, ``org_a``,
``work_id_a``, ``org_b``, ``work_id_b``), which is the kernel's own order (it
ranks the works by organisation, then work_id, and the score has four
decimals). The works are measured in the one working metric CRS the
single-machine engine would choose (:func:`ims_geo.crs.working_crs` from
the works' whole extent), reprojected point by point in each partition.
Works larger than a tile are copied to every tile they touch; exempt
works travel too (the kernel decides about them, as on one machine);
works without a geometry take no part (as in the kernel).
"""

from __future__ import annotations

from ims_geo.distributed.engine import (
    DaskRun,
    Works,
    find_conflicts_dask,
    left_out_dask,
    read_conflicts,
    run,
    tile_conflicts,
)
from ims_geo.distributed.tiles import Tiling, grid_tiling, kd_tiling, reference_points

__all__ = [
    "DaskRun",
    "Tiling",
    "Works",
    "find_conflicts_dask",
    "grid_tiling",
    "kd_tiling",
    "left_out_dask",
    "read_conflicts",
    "reference_points",
    "run",
    "tile_conflicts",
]
