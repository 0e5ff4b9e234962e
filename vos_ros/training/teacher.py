"""Target scores of the training-free methods on the training videos (the decoder's inputs).

As FRTM-VOS trains its segmentation network with the target model in the loop, the decoder
is trained on the coarse score maps our own methods produce when they track a training
video from its first mask. They are computed once and cached (small: stride 8, float16).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.config import EngineConfig
from ..engine.session import Segmenter
from ..evaluation.davis import DavisSequence

#: cached maps are stored on the stride-8 grid of the 480-line processing resolution
TEACHER_STRIDE = 8


def teacher_scores(config: EngineConfig, sequence: DavisSequence) -> np.ndarray:
    """(T, h, w) float16 coarse scores of the one object of `sequence`, tracked from its
    first mask by the training-free pipeline of `config`; frame 0 holds the mask itself."""
    seg = Segmenter(config)
    frames = sequence.frames()
    first = next(frames)
    seg.add_object(1, first, mask=sequence.first_mask())
    ph, pw = seg.processing_size(*first.shape[:2])
    size = (ph // TEACHER_STRIDE, pw // TEACHER_STRIDE)
    mask0 = torch.from_numpy(sequence.first_mask().astype(np.float32))[None, None]
    out = [F.interpolate(mask0, size=size, mode="area")[0, 0]]
    for frame in frames:
        seg.step(frame)
        raw = seg.last_coarse[1].float().reshape(1, 1, *seg.last_coarse[1].shape[-2:]).cpu()
        out.append(F.interpolate(raw, size=size, mode="bilinear", align_corners=False)[0, 0])
    return torch.stack(out).numpy().astype(np.float16)


def cached_teacher_scores(config: EngineConfig, sequence: DavisSequence, cache_dir: Path) -> np.ndarray:
    """`teacher_scores`, read from / written to `cache_dir` (keyed by method, config and frames)."""
    frames = hashlib.sha256(repr([p.name for p in sequence.frame_paths]).encode()).hexdigest()[:8]
    path = cache_dir / f"{sequence.name}.{config.method}.{config.backbone.name}.{config.resolution or 'native'}.{frames}.npy"
    if path.is_file():
        return np.load(path)
    scores = teacher_scores(config, sequence)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, scores)
    tmp.replace(path)
    return scores


def on_grid(scores: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, h, w) maps resampled (bilinear) to the (T, *size) grid, float16."""
    if tuple(scores.shape[-2:]) == tuple(size):
        return scores
    t = torch.from_numpy(scores.astype(np.float32))[:, None]
    return F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=False)[:, 0].numpy().astype(np.float16)
