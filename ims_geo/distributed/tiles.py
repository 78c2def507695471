"""Tiles of the plane for the distributed conflict search, and which tile owns a pair.

A :class:`Tiling` is a set of half-open rectangles ``[x0, x1) x [y0, y1)``
(the outer ones reach to infinity) that partition the plane of the working
metric CRS: every point lies in exactly one tile. :func:`kd_tiling` cuts the
plane by a KD split of the works' envelope centres, so that each tile holds
about as many works as the others (a dense city centre gets small tiles,
the countryside large ones); :func:`grid_tiling` cuts it along given lines
(the tests use random grids).

A work is copied to every tile that its envelope grown by the halo touches
(:meth:`Tiling.copies`); a pair of works is kept only by the tile that holds
its reference point (:func:`reference_points`, :meth:`Tiling.owns`). The
proof that this finds every pair exactly once is in
:mod:`ims_geo.distributed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from ims_geo.errors import InputError

#: Metres added to the halo beyond ``D / 2``: covers the rounding of envelopes,
#: distances and reference points (about 1e-9 m at national coordinates), so a pair
#: exactly ``D`` apart is never lost to rounding. Copying a work to one tile
#: too many costs a little time and never changes the answer (ownership deduplicates).
HALO_MARGIN = 1e-3
#: Stands for infinity in the tiles' boxes given to GEOS (a box must be finite).
_FAR = 1e300
#: Up to this many tiles, :meth:`Tiling.copies` compares every work with every tile as
#: numbers (about 8 ms per 100,000 works and 10 tiles, against 100 ms to make their
#: boxes for a tree); beyond it the tree's query costs less than the comparisons.
MATRIX_TILES = 128
#: Work-tile comparisons per block of :meth:`Tiling.copies` (bounds the memory of a block).
_BLOCK = 1 << 22


@dataclass(frozen=True)
class Tiling:
    """Half-open rectangles ``[x0, x1) x [y0, y1)`` that partition the plane.

    Parameters
    ----------
    x0, y0, x1, y1
        Float arrays, one value per tile; the outer edges are ``-inf``/``inf``.
    distance
        ``D``, the largest distance any rule uses (metres).
    """

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    distance: float

    def __post_init__(self) -> None:
        if not np.isfinite(self.distance) or self.distance < 0:
            raise InputError(f"the search distance must be a number >= 0, not {self.distance}")

    def __len__(self) -> int:
        return len(self.x0)

    @property
    def shift(self) -> float:
        """``D / 2``: how far below the envelopes' corner a pair's reference point lies."""
        return self.distance / 2

    @property
    def halo(self) -> float:
        """How far a work's envelope is grown before it is copied to the tiles it touches."""
        return self.distance / 2 + HALO_MARGIN

    def boxes(self) -> np.ndarray:
        """The tiles as closed shapely boxes (infinite edges at +-1e300)."""
        return shapely.box(*(np.clip(v, -_FAR, _FAR) for v in (self.x0, self.y0, self.x1, self.y1)))

    def copies(self, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which work goes to which tile: every tile its grown envelope touches.

        Parameters
        ----------
        bounds
            ``(n, 4)`` envelopes ``minx, miny, maxx, maxy`` of the works (finite).

        Returns
        -------
        tuple of numpy.ndarray
            Positions into ``bounds`` and tile numbers, one pair per copy,
            sorted by work then tile.
        """
        if not len(bounds):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        h = self.halo
        lo_x, lo_y, hi_x, hi_y = (
            bounds[:, 0] - h,
            bounds[:, 1] - h,
            bounds[:, 2] + h,
            bounds[:, 3] + h,
        )
        if len(self) > MATRIX_TILES:  # one tree query per work: log(tiles) each
            grown = shapely.box(lo_x, lo_y, hi_x, hi_y)
            # closed boxes touch on shared edges: a copy too many, never one too few
            work, tile = shapely.STRtree(self.boxes()).query(grown)
            order = np.lexsort((tile, work))
            return work[order].astype(np.int64), tile[order].astype(np.int64)
        # every work against every tile, in blocks of works: no shapely box is made
        # (making them cost more than the test); the same closed boxes, compared as numbers
        step = max(1, _BLOCK // len(self))
        works, tiles = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for at in range(0, len(bounds), step):  # a few blocks per partition, not one per work
            block = slice(at, at + step)
            meets = (
                (lo_x[block, None] <= self.x1)
                & (hi_x[block, None] >= self.x0)
                & (lo_y[block, None] <= self.y1)
                & (hi_y[block, None] >= self.y0)
            )
            work, tile = np.nonzero(meets)  # row-major: sorted by work, then tile
            works.append(work + at)
            tiles.append(tile)
        return np.concatenate(works).astype(np.int64), np.concatenate(tiles).astype(np.int64)

    def owns(self, tile: int, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """True where the point ``(x, y)`` lies in tile ``tile`` (half-open)."""
        return (
            (self.x0[tile] <= x) & (x < self.x1[tile]) & (self.y0[tile] <= y) & (y < self.y1[tile])
        )

    def owner(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The one tile each point ``(x, y)`` lies in."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        points = shapely.points(np.clip(x, -_FAR, _FAR), np.clip(y, -_FAR, _FAR))
        p, t = shapely.STRtree(self.boxes()).query(points)
        inside = (
            (self.x0[t] <= x[p]) & (x[p] < self.x1[t]) & (self.y0[t] <= y[p]) & (y[p] < self.y1[t])
        )
        out = np.full(len(x), -1, dtype=np.int64)
        out[p[inside]] = t[inside]
        return out


def reference_points(
    bounds_a: np.ndarray, bounds_b: np.ndarray, distance: float
) -> tuple[np.ndarray, np.ndarray]:
    """A pair's reference point ``(max(minx) - D/2, max(miny) - D/2)`` (the proof needs it).

    It is the lower-left corner of the intersection of the two envelopes
    grown by ``D / 2``: it lies in both whenever the works are at most ``D`` apart.
    """
    shift = distance / 2
    return (
        np.maximum(bounds_a[:, 0], bounds_b[:, 0]) - shift,
        np.maximum(bounds_a[:, 1], bounds_b[:, 1]) - shift,
    )


def grid_tiling(xs: np.ndarray, ys: np.ndarray, distance: float) -> Tiling:
    """Tiles of a grid cut at the (strictly increasing, finite) lines ``xs`` and ``ys``."""
    ex = np.r_[-np.inf, np.asarray(xs, dtype=float), np.inf]
    ey = np.r_[-np.inf, np.asarray(ys, dtype=float), np.inf]
    if not (np.all(np.diff(ex) > 0) and np.all(np.diff(ey) > 0)):
        raise InputError("grid lines must be finite and strictly increasing")
    gi, gj = np.meshgrid(np.arange(len(ex) - 1), np.arange(len(ey) - 1), indexing="ij")
    i, j = gi.ravel(), gj.ravel()
    return Tiling(ex[i], ey[j], ex[i + 1], ey[j + 1], float(distance))


def kd_tiling(centres: np.ndarray, tiles: int, distance: float) -> Tiling:
    """Count-balanced tiles: a KD split of ``centres`` into at most ``tiles`` tiles.

    Each cell is cut across its longer side (the side along which its points
    spread most) at the quantile that gives its two halves the share of
    points their numbers of tiles ask for; points on the cut go to the upper
    half. A cell whose points cannot be cut (all on one spot) stays whole,
    so fewer tiles may come out than asked for.

    Parameters
    ----------
    centres
        ``(n, 2)`` points (e.g. envelope centres of the works, or a sample).
    tiles
        How many tiles to aim for (>= 1).
    distance
        ``D``, the largest distance any rule uses.
    """
    if tiles < 1:
        raise InputError(f"the number of tiles must be at least 1, not {tiles}")
    centres = np.asarray(centres, dtype=float).reshape(-1, 2)
    centres = centres[np.isfinite(centres).all(axis=1)]
    inf = np.inf
    cells = [(-inf, -inf, inf, inf, centres, int(tiles))]
    leaves: list[tuple[float, float, float, float]] = []
    while cells:  # one step per tile: a few hundred at most, never one per work
        x0, y0, x1, y1, pts, k = cells.pop()
        cut = _cut(pts, k) if k > 1 else None
        if cut is None:
            leaves.append((x0, y0, x1, y1))
            continue
        axis, value, k_low = cut
        low = pts[:, axis] < value
        if axis == 0:
            cells.append((x0, y0, value, y1, pts[low], k_low))
            cells.append((value, y0, x1, y1, pts[~low], k - k_low))
        else:
            cells.append((x0, y0, x1, value, pts[low], k_low))
            cells.append((x0, value, x1, y1, pts[~low], k - k_low))
    edges = np.array(leaves, dtype=float).reshape(-1, 4)
    return Tiling(edges[:, 0], edges[:, 1], edges[:, 2], edges[:, 3], float(distance))


def _cut(pts: np.ndarray, k: int) -> tuple[int, float, int] | None:
    """Axis, value and tiles below of the cut of a cell of ``pts`` into ``k`` tiles."""
    if len(pts) < 2:
        return None
    k_low = k // 2
    spread = pts.max(axis=0) - pts.min(axis=0)
    for axis in np.argsort(-spread, kind="stable"):
        values = np.sort(pts[:, axis])
        at = int(round(len(values) * k_low / k))
        at = min(max(at, 1), len(values) - 1)
        value = float(values[at])
        if value > values[0]:  # both halves hold points
            return int(axis), value, k_low
    return None


__all__ = ["HALO_MARGIN", "Tiling", "grid_tiling", "kd_tiling", "reference_points"]
