"""Validation of click prompts (x, y pixels on the frame)."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def validate_points(points: Iterable, height: int, width: int, what: str = "point") -> list[tuple[float, float]]:
    """(x, y) clicks -> a list of float pairs; ValueError naming the first one that is not a
    finite pair inside the width x height image."""
    out = []
    for point in points:
        try:
            x, y = (float(v) for v in point)
        except (TypeError, ValueError):
            raise ValueError(f"{what} {point!r} must be an (x, y) pair") from None
        if not (np.isfinite(x) and np.isfinite(y) and 0 <= x < width and 0 <= y < height):
            raise ValueError(f"{what} ({x:g}, {y:g}) lies outside the {width}x{height} image")
        out.append((x, y))
    return out
