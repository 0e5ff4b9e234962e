"""Nearest-neighbour upscaling of a working-resolution label map to the camera frame, and
exact mask statistics (area, box, centroid) of the upscaled masks computed at the working
resolution.

Labels are decided on a small grid (the guided filter's working size) and then upscaled
with nearest neighbour: every frame pixel copies one grid pixel. So the frame-size mask of
an object is the grid mask with row i repeated `row_counts[i]` times and column j repeated
`col_counts[j]` times, and its moments are weighted sums over the grid. Computing them there
costs a few grid-size operations instead of full-frame passes per object.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MaskStats:
    """Area (pixels), box (x, y, width, height) and centroid (x, y) of a frame-size mask."""

    area: int
    box: tuple[int, int, int, int] | None
    centroid: tuple[float, float] | None


def _source_indices(src: int, dst: int) -> np.ndarray:
    """For each of `dst` output positions, the input position cv2's INTER_NEAREST copies from
    (read off by resizing an index ramp, so it matches cv2 exactly)."""
    ramp = np.arange(src, dtype=np.float32)[None]
    return cv2.resize(ramp, (dst, 1), interpolation=cv2.INTER_NEAREST)[0].astype(np.int64)


class NearestUpscale:
    """Upscaling from a (h, w) grid to a (H, W) frame, and frame-size statistics of masks
    given on the grid."""

    def __init__(self, grid_size: tuple[int, int], frame_size: tuple[int, int]):
        (h, w), (height, width) = grid_size, frame_size
        self.grid_size, self.frame_size = (h, w), (height, width)
        rows, cols = _source_indices(h, height), _source_indices(w, width)
        # per grid row / column: how many frame rows / columns copy it (0 for some when the
        # frame is smaller than the grid), the sum of their coordinates, the first and last
        self._row_counts = np.bincount(rows, minlength=h).astype(np.float64)
        self._col_counts = np.bincount(cols, minlength=w).astype(np.float64)
        self._row_sums = np.bincount(rows, weights=np.arange(height), minlength=h)
        self._col_sums = np.bincount(cols, weights=np.arange(width), minlength=w)
        self._row_counts_f32 = self._row_counts.astype(np.float32)
        self._col_counts_f32 = self._col_counts.astype(np.float32)
        self._row_first, self._row_last = self._extents(rows, h)
        self._col_first, self._col_last = self._extents(cols, w)

    @staticmethod
    def _extents(source: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        positions = np.arange(len(source))
        first = np.full(n, len(source), np.int64)
        last = np.full(n, -1, np.int64)
        np.minimum.at(first, source, positions)
        np.maximum.at(last, source, positions)
        return first, last

    def upscale(self, grid: np.ndarray) -> np.ndarray:
        """(h, w) map (uint8, uint16, bool ...) -> (H, W), nearest neighbour."""
        if grid.shape != self.grid_size:
            raise ValueError(f"expected a {self.grid_size} grid, got {grid.shape}")
        if self.grid_size == self.frame_size:
            return grid
        height, width = self.frame_size
        if grid.dtype == bool:
            return cv2.resize(grid.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).view(bool)
        return cv2.resize(grid, (width, height), interpolation=cv2.INTER_NEAREST)

    def stats(self, grid_mask: np.ndarray) -> MaskStats:
        """Area, box and centroid of `upscale(grid_mask)` (bool), computed on the grid."""
        m = grid_mask.astype(np.float32)
        per_row = (m @ self._col_counts_f32).astype(np.float64)  # frame columns set, per grid row
        per_col = (self._row_counts_f32 @ m).astype(np.float64)  # frame rows set, per grid column
        area = float(per_row @ self._row_counts)
        if area == 0:
            return MaskStats(0, None, None)
        m10 = float(per_col @ self._col_sums)
        m01 = float(per_row @ self._row_sums)
        rows_on, cols_on = per_row * self._row_counts > 0, per_col * self._col_counts > 0
        i0, i1 = np.flatnonzero(rows_on)[[0, -1]]
        j0, j1 = np.flatnonzero(cols_on)[[0, -1]]
        x0, x1 = int(self._col_first[j0]), int(self._col_last[j1])
        y0, y1 = int(self._row_first[i0]), int(self._row_last[i1])
        return MaskStats(int(round(area)), (x0, y0, x1 - x0 + 1, y1 - y0 + 1), (m10 / area, m01 / area))
