"""Frozen-backbone features of training frames, cached on disk."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..engine.backbone.models import Backbone


def backbone_levels(backbone: Backbone, images: np.ndarray, device: torch.device) -> dict[int, torch.Tensor]:
    """Features of (N, H, W, 3) uint8 RGB images, one image at a time (faster on CPU)."""
    parts = []
    with torch.inference_mode():
        for image in images:
            x = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float()
            parts.append(backbone.run(x, channels_last=True))
    return {s: torch.cat([p[s] for p in parts]) for s in parts[0]}


def cached_features(backbone: Backbone, backbone_name: str, name: str, frames: np.ndarray,
                    device: torch.device, cache_dir: Path) -> dict[int, np.ndarray]:
    """stride -> (T, C, h, w) float16 features of `frames`."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{name}.{backbone_name}.{frames.shape[0]}x{frames.shape[1]}x{frames.shape[2]}"
    paths = {s: cache_dir / f"{tag}.s{s}.npy" for s in (4, 8, 16)}
    if all(p.is_file() for p in paths.values()):
        return {s: np.load(p) for s, p in paths.items()}
    out: dict[int, list[np.ndarray]] = {s: [] for s in paths}
    for frame in frames:
        levels = backbone_levels(backbone, frame[None], device)
        for s in paths:
            out[s].append(levels[s][0].cpu().numpy().astype(np.float16))
    arrays = {s: np.stack(v) for s, v in out.items()}
    for s, path in paths.items():
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, arrays[s])
        tmp.replace(path)
    return arrays
