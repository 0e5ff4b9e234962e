"""Random box and click prompts from true masks, for training the prompt encoder."""
from __future__ import annotations

import cv2
import numpy as np

from ..engine.learned.prompt_encoder import Prompt
from ..evaluation.prompts import interior_point, mask_box


def random_prompt(rng: np.random.Generator, mask: np.ndarray) -> Prompt:
    """A box (jittered), clicks (positive inside, negative outside near the object), or both."""
    size = mask.shape
    kind = rng.choice(["box", "clicks", "both"], p=[0.4, 0.4, 0.2])
    box = None
    if kind in ("box", "both"):
        x, y, w, h = mask_box(mask)
        j = rng.uniform(-0.08, 0.08, 4) * np.array([w, h, w, h])
        x0, y0 = max(0.0, x + j[0]), max(0.0, y + j[1])
        x1 = min(float(size[1]), x + w + j[2])
        y1 = min(float(size[0]), y + h + j[3])
        box = (x0, y0, max(1.0, x1 - x0), max(1.0, y1 - y0))
    positive, negative = [], []
    if kind in ("clicks", "both"):
        dist = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
        n_pos = 1 + int(rng.integers(0, 3)) if kind == "clicks" else int(rng.integers(0, 2))
        for i in range(n_pos):
            if i == 0 and rng.random() < 0.5:
                positive.append(interior_point(mask))
                continue
            weights = (dist ** 2).ravel()
            if weights.sum() <= 0:
                break
            k = int(rng.choice(weights.size, p=weights / weights.sum()))
            positive.append((k % size[1] + 0.5, k // size[1] + 0.5))
        near = cv2.dilate(mask.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool) & ~mask.astype(bool)
        candidates = np.flatnonzero(near.ravel())
        for _ in range(int(rng.integers(0, 3))):
            if candidates.size == 0:
                break
            k = int(rng.choice(candidates))
            negative.append((k % size[1] + 0.5, k // size[1] + 0.5))
        if not positive:
            positive.append(interior_point(mask))
    return Prompt(size, box, tuple(positive), tuple(negative))
