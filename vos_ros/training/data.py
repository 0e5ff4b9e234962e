"""Training samples from DAVIS-layout videos: cached features, masks, score maps, crops.

The backbone is frozen, so each frame's features are computed once and cached. A sample is a random crop (aligned to stride 16, placed around
the object) of one frame's features, true mask and a coarse score map: a cached teacher
map (a training-free method tracking the video) or a synthetic one (the true mask of a
nearby frame, shifted, blurred, eroded or dilated, with distractor blobs and misses).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..evaluation.davis import DavisSequence, list_sequences, load_sequence
from ..evaluation.prompts import mask_box


@dataclass
class Video:
    name: str
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    masks: np.ndarray  # (T, H, W) bool
    teachers: dict[str, np.ndarray]  # method -> (T, h8, w8) float16 coarse scores on the s8 feature grid
    features: dict[int, np.ndarray] = field(default_factory=dict)  # stride -> (T, C, h, w) float16
    sequence: DavisSequence | None = None  # where the frames came from


def load_videos(root: Path, names: list[str]) -> list[Video]:
    videos = []
    for name in names:
        seq = load_sequence(root, name)
        frames = np.stack(list(seq.frames()))
        masks = np.stack([labels != 0 for labels in seq.annotations()])
        if len(masks) != len(frames):
            raise ValueError(f"{name}: every frame needs a mask for training ({len(masks)} of {len(frames)})")
        videos.append(Video(name, frames, masks, {}, sequence=seq))
    return videos


def data_listing(root: Path, names: list[str]) -> tuple[list[dict], str]:
    """Per-sequence file counts and a SHA-256 over every file's name, size and bytes."""
    digest = hashlib.sha256()
    listing = []
    for name in names:
        seq = load_sequence(root, name)
        for path in list(seq.frame_paths) + list(seq.annotation_paths):
            digest.update(f"{name}/{path.name}:{path.stat().st_size}".encode())
            digest.update(path.read_bytes())
        listing.append({"sequence": name, "frames": len(seq.frame_paths), "masks": len(seq.annotation_paths)})
    return listing, digest.hexdigest()


def split_sequences(root: Path, val: list[str] | None) -> tuple[list[str], list[str]]:
    names = list_sequences(root)
    val = list(val or [])
    unknown = [n for n in val if n not in names]
    if unknown:
        raise ValueError(f"validation sequences not in {root}: {unknown}")
    return [n for n in names if n not in val], val



def synthetic_scores(rng: np.random.Generator, mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A plausible coarse score map (h, w) float32 in [0, 1] from a true mask: shifted,
    eroded or dilated, blurred, contrast-scaled, with distractor blobs and misses."""
    h, w = size
    m = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    shift = rng.normal(0, 1.5, 2)
    m = cv2.warpAffine(m, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (w, h))
    k = int(rng.integers(0, 3))
    if k:
        kernel = np.ones((2 * k + 1, 2 * k + 1), np.uint8)
        m = cv2.dilate(m, kernel) if rng.random() < 0.5 else cv2.erode(m, kernel)
    noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 3)
    noise = (noise - noise.mean()) / (noise.std() + 1e-6)
    distract = np.clip(noise - rng.uniform(1.0, 2.5), 0, None) * rng.uniform(0.3, 1.0)
    miss = np.clip(-noise - rng.uniform(1.0, 2.5), 0, None) * rng.uniform(0.3, 1.0)
    m = np.clip(m + distract - miss * m, 0, 1)
    m = cv2.GaussianBlur(m, (0, 0), rng.uniform(0.5, 2.0))
    lo, hi = rng.uniform(0.0, 0.2), rng.uniform(0.6, 1.0)
    return (lo + (hi - lo) * m).astype(np.float32)


@dataclass
class Sample:
    levels: dict[int, np.ndarray]  # stride -> (C, h, w) float16 feature crop
    mask: np.ndarray  # (H, W) float32 {0, 1} crop at image resolution
    scores: np.ndarray  # (H / 8, W / 8) float32 in [0, 1]


class SampleSource:
    """Random crops (seeded) of cached frames; `crop` in pixels, multiples of 16."""

    def __init__(self, videos: list[Video], crop: tuple[int, int], seed: int, teacher_share: float = 0.7):
        self.videos = videos
        # crops share one size (a batch is stacked): at most the smallest frame, in 16-px steps
        height = min(v.masks.shape[1] for v in videos) // 16 * 16
        width = min(v.masks.shape[2] for v in videos) // 16 * 16
        self.crop = (min(crop[0], height), min(crop[1], width))
        self.rng = np.random.default_rng(seed)
        self.teacher_share = teacher_share

    def _window(self, mask: np.ndarray) -> tuple[int, int]:
        """Top-left corner (multiple of 16) of a crop that holds the object's centre region."""
        height, width = mask.shape
        ch, cw = self.crop
        if mask.any() and self.rng.random() < 0.5:
            x, y, bw, bh = mask_box(mask)
            cx, cy = x + bw * self.rng.uniform(0.2, 0.8), y + bh * self.rng.uniform(0.2, 0.8)
        else:
            cx, cy = self.rng.uniform(0, width), self.rng.uniform(0, height)
        x0 = int(np.clip(cx - cw * self.rng.uniform(0.25, 0.75), 0, width - cw)) // 16 * 16
        y0 = int(np.clip(cy - ch * self.rng.uniform(0.25, 0.75), 0, height - ch)) // 16 * 16
        return y0, x0

    def _crop(self, video: Video, t: int, y0: int, x0: int) -> dict[int, np.ndarray]:
        ch, cw = self.crop
        return {s: f[t, :, y0 // s:(y0 + ch) // s, x0 // s:(x0 + cw) // s] for s, f in video.features.items()}

    def _pick(self, first_allowed: bool) -> tuple[Video, int]:
        video = self.videos[int(self.rng.integers(len(self.videos)))]
        return video, int(self.rng.integers(0 if first_allowed else 1, len(video.frames)))

    def decoder_sample(self) -> Sample:
        video, t = self._pick(first_allowed=False)
        mask = video.masks[t]
        y0, x0 = self._window(mask)
        ch, cw = self.crop
        crop_mask = np.ascontiguousarray(mask[y0:y0 + ch, x0:x0 + cw]).astype(np.float32)
        methods = sorted(video.teachers)
        if methods and self.rng.random() < self.teacher_share:
            coarse = video.teachers[methods[int(self.rng.integers(len(methods)))]][t].astype(np.float32)
            scores = coarse[y0 // 8:(y0 + ch) // 8, x0 // 8:(x0 + cw) // 8]
        else:
            lag = int(np.clip(t - self.rng.integers(0, 3), 0, len(video.frames) - 1))
            lagged = video.masks[lag][y0:y0 + ch, x0:x0 + cw]
            scores = synthetic_scores(self.rng, lagged, (ch // 8, cw // 8))
        return Sample(self._crop(video, t, y0, x0), crop_mask, np.ascontiguousarray(np.clip(scores, 0, 1)))

    def frame_sample(self) -> Sample:
        """A crop with a non-empty object (for the prompt encoder); scores unused (empty)."""
        for _ in range(20):
            video, t = self._pick(first_allowed=True)
            mask = video.masks[t]
            y0, x0 = self._window(mask)
            ch, cw = self.crop
            crop_mask = np.ascontiguousarray(mask[y0:y0 + ch, x0:x0 + cw]).astype(np.float32)
            if crop_mask.sum() >= 64:
                break
        return Sample(self._crop(video, t, y0, x0), crop_mask, np.zeros((0, 0), np.float32))
