"""Synthetic video with known ground truth, for tests that must run without dataset files:
textured discs moving over a textured background (real texture statistics matter for
ImageNet features, so both are band-limited noise rather than flat colours)."""
from __future__ import annotations

import cv2
import numpy as np


def _texture(rng: np.random.Generator, h: int, w: int, colour: tuple[int, int, int], scale: int) -> np.ndarray:
    noise = rng.random((h // scale + 2, w // scale + 2, 3)).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(np.array(colour, np.float32) + 90 * (noise - 0.5), 0, 255)


def moving_discs(frames: int = 8, size: tuple[int, int] = (120, 160), discs: int = 1,
                 seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames (H, W, 3) uint8 RGB and label maps (H, W) uint8 (disc k has id k+1)."""
    rng = np.random.default_rng(seed)
    h, w = size
    background = _texture(rng, h, w, (70, 120, 60), 6)
    colours = [(220, 60, 50), (50, 80, 220), (230, 210, 40)]
    textures = [_texture(rng, h, w, colours[k % 3], 3) for k in range(discs)]
    radius = max(6, min(h, w) // 6)
    images, labels = [], []
    for t in range(frames):
        img = background.copy()
        lab = np.zeros((h, w), np.uint8)
        for k in range(discs):
            cx = int(w * (0.25 + 0.5 * k / max(1, discs - 1 if discs > 1 else 1)) * 0.8 + 2 * t + radius * 0.5)
            cy = int(h * 0.5 + (k % 2) * radius * 0.4 + t)
            disc = np.zeros((h, w), np.uint8)
            cv2.circle(disc, (cx, cy), radius, 1, -1)
            img[disc > 0] = textures[k][disc > 0]
            lab[disc > 0] = k + 1
        images.append(img.astype(np.uint8))
        labels.append(lab)
    return images, labels


def foreign_frames(frames: int, size: tuple[int, int] = (120, 160), seed: int = 99) -> list[np.ndarray]:
    """Frames of another scene (a differently coloured texture, drifting): the tracked
    object is not in them."""
    rng = np.random.default_rng(seed)
    h, w = size
    scene = _texture(rng, h, w + frames * 2, (150, 140, 170), 5).astype(np.uint8)
    return [np.ascontiguousarray(scene[:, 2 * t:2 * t + w]) for t in range(frames)]


def discs_on_paths(frames: int, centres, size: tuple[int, int] = (120, 160), radius: int = 14,
                   seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Discs of one and the same texture (look-alikes) on given paths: `centres(t)` -> a
    list of (x, y) per disc; label map ids 1.. in that order."""
    rng = np.random.default_rng(seed)
    h, w = size
    background = _texture(rng, h, w, (70, 120, 60), 6)
    texture = _texture(rng, h, w, (220, 60, 50), 3)
    images, labels = [], []
    for t in range(frames):
        img, lab = background.copy(), np.zeros((h, w), np.uint8)
        for k, (cx, cy) in enumerate(centres(t)):
            disc = np.zeros((h, w), np.uint8)
            cv2.circle(disc, (int(cx), int(cy)), radius, 1, -1)
            img[disc > 0] = texture[disc > 0]
            lab[disc > 0] = k + 1
        images.append(img.astype(np.uint8))
        labels.append(lab)
    return images, labels
