"""First-frame augmentation (FRTM-VOS): cut the object out, inpaint the background, and paste
the object back after a random affine warp and blur, so the target model sees the object at
slightly different poses and the background without it."""
from __future__ import annotations

import cv2
import numpy as np


def inpaint_background(image: np.ndarray, mask: np.ndarray, work_height: int = 120) -> np.ndarray:
    """The image with the (dilated) object region filled from its surroundings (Telea).
    Inpainting runs at `work_height` rows and is upsampled into the hole, which keeps it
    fast for large objects."""
    h, w = mask.shape
    hole = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8))
    scale = min(1.0, work_height / h)
    sw, sh = max(8, int(w * scale)), max(8, int(h * scale))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    small_hole = (cv2.resize(hole, (sw, sh), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    filled = cv2.inpaint(small, small_hole, 3, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    out[hole > 0] = filled[hole > 0]
    return out


def augment(image: np.ndarray, mask: np.ndarray, count: int, rng: np.random.Generator,
            background: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` (image, mask) pairs: the object warped by a random rotation (+-12 deg), scale
    (0.9-1.1), translation (+-6 % of its size) and Gaussian blur, pasted on the inpainted
    background. image (H, W, 3) uint8, mask (H, W) bool."""
    if background is None:
        background = inpaint_background(image, mask)
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    cx, cy = float(xs.mean()), float(ys.mean())
    size = max(float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1))
    out = []
    for _ in range(count):
        angle = rng.uniform(-12, 12)
        scale = rng.uniform(0.9, 1.1)
        tx, ty = rng.uniform(-0.06, 0.06, size=2) * size
        m = cv2.getRotationMatrix2D((cx, cy), angle, scale)
        m[:, 2] += (tx, ty)
        warped = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        alpha = cv2.warpAffine(mask.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR)
        sigma = rng.uniform(0.0, 1.5)
        if sigma > 0.3:
            warped = cv2.GaussianBlur(warped, (0, 0), sigma)
            alpha = cv2.GaussianBlur(alpha, (0, 0), sigma)
        a = alpha[..., None]
        composite = (a * warped + (1 - a) * background).astype(np.uint8)
        out.append((composite, alpha > 0.5))
    return out
