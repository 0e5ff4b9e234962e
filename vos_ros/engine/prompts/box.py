"""A first-frame object mask from a bounding box, from backbone features.

Estimators (`box_init.method`, registered in `BOX_ESTIMATORS`; a learned prompt encoder
plugs in as another entry):
- "target_model" (default): FRTM's target model is fitted to the box as the object and
  everything outside as background; its confident scores (above `relabel_threshold`) inside
  the box become the next labels and the fit is repeated (`iterations`); the last fit's
  scores above 0.5 are the mask. Background-like pixels inside the box
  score low because the same appearance outside is labelled background.
- "clusters": the pixels inside the box are clustered into a few words, the image outside
  into background words. An inside word that resembles the background (its centroid is at
  least as similar to some background word as its own members are to it on average) is
  discarded; each inside pixel is labelled object when its best kept word beats its best
  background word.
Either result is confined to the box and cleaned (largest components, holes).
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..backbone.features import Features
from ..config import BoxInitConfig
from ..methods.common.kmeans import spherical_kmeans
from ..methods.frtm.target_model import TargetModel, fit_full, pixel_weights

#: (features (1, C, h, w), inside (h, w) bool: the cells in the box, settings, seed) -> (h, w)
#: object probability on the feature grid
BoxEstimator = Callable[[torch.Tensor, torch.Tensor, BoxInitConfig, int], torch.Tensor]


def validate_box(box: tuple[float, float, float, float], height: int, width: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) box -> clipped integer (x0, y0, x1, y1); ValueError when it lies outside
    the image or is smaller than 2x2 pixels after clipping."""
    x, y, w, h = (float(v) for v in box)
    if not all(np.isfinite([x, y, w, h])) or w <= 0 or h <= 0:
        raise ValueError(f"box {box} must have finite coordinates and positive width/height")
    x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
    x1, y1 = min(width, int(round(x + w))), min(height, int(round(y + h)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError(f"box {box} (x, y, w, h) lies outside the {width}x{height} image "
                         "or covers less than 2x2 pixels of it")
    return x0, y0, x1, y1


def box_in_image(box: tuple[int, int, int, int], frame_size: tuple[int, int],
                 image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A validated (x0, y0, x1, y1) box on the frame -> the same box in processing pixels
    (at least one pixel wide and high)."""
    (height, width), (ph, pw) = frame_size, image_size
    sx, sy = pw / width, ph / height
    return (int(box[0] * sx), int(box[1] * sy),
            max(int(box[0] * sx) + 1, int(round(box[2] * sx))),
            max(int(box[1] * sy) + 1, int(round(box[3] * sy))))


def box_mask(features: Features, box: tuple[int, int, int, int], config: BoxInitConfig,
             seed: int = 0) -> torch.Tensor:
    """The first mask (H, W) float {0, 1} at processing resolution of a box (x0, y0, x1, y1)
    in processing pixels, from the frame's features at `config.feature_stride` (16 when the
    backbone has no such level)."""
    stride = config.feature_stride if config.feature_stride in features.levels else 16
    return mask_from_box(features.fused(stride), box, features.image_size, config, seed)


def mask_from_box(fused: torch.Tensor, box: tuple[int, int, int, int], image_size: tuple[int, int],
                  config: BoxInitConfig | None = None, seed: int = 0) -> torch.Tensor:
    """Estimate an object mask (H, W) float {0,1} at `image_size` from features (1, C, h, w)
    and a box (x0, y0, x1, y1) in image pixels."""
    cfg = config or BoxInitConfig()
    height, width = image_size
    _, _, h, w = fused.shape
    sy, sx = height / h, width / w
    ys = (torch.arange(h, device=fused.device) + 0.5) * sy
    xs = (torch.arange(w, device=fused.device) + 0.5) * sx
    x0, y0, x1, y1 = box
    inside = ((ys[:, None] >= y0) & (ys[:, None] < y1) & (xs[None, :] >= x0) & (xs[None, :] < x1))
    if int(inside.sum()) < 4:  # tiny box: take the cells it touches
        inside = torch.zeros(h, w, dtype=torch.bool, device=fused.device)
        inside[int(y0 // sy):max(int(y0 // sy) + 1, int(np.ceil(y1 / sy))),
               int(x0 // sx):max(int(x0 // sx) + 1, int(np.ceil(x1 / sx)))] = True
    if cfg.method not in BOX_ESTIMATORS:
        raise ValueError(f"unknown box initialisation method {cfg.method!r}")
    fg = BOX_ESTIMATORS[cfg.method](fused, inside, cfg, seed)
    prob = F.interpolate(fg.reshape(1, 1, h, w), size=image_size, mode="bilinear",
                         align_corners=False)[0, 0]
    mask = np.zeros(image_size, np.uint8)
    mask[y0:y1, x0:x1] = (prob[y0:y1, x0:x1] > 0.5).cpu().numpy()
    return torch.from_numpy(_clean(mask, box)).to(fused.device, torch.float32)


def _fit_box(fused: torch.Tensor, inside: torch.Tensor, cfg: BoxInitConfig, seed: int) -> torch.Tensor:
    """(h, w) target-model scores after `cfg.iterations` fits, the first to the box itself,
    each next one to the pixels in the box that scored above `cfg.relabel_threshold`."""
    x = fused.permute(0, 2, 3, 1).contiguous().float()  # (1, h, w, C) pixel-major
    inside = inside.float()
    labels = inside
    for _ in range(max(1, cfg.iterations)):
        weights = pixel_weights(labels[None], cfg.kappa_min) / labels.numel()
        model = fit_full(TargetModel.from_pca(x, cfg.projection_channels), x, labels[None], weights,
                         cfg.regularization, gn_steps=cfg.gn_steps, cg_iters_first=cfg.cg_iters_first,
                         cg_iters=cfg.cg_iters)
        scores = model(x)[0]
        relabelled = ((scores > cfg.relabel_threshold) & (inside > 0)).float()
        if not bool(relabelled.any()):
            break
        labels = relabelled
    return scores.clamp(0, 1)


def _cluster_box(fused: torch.Tensor, inside: torch.Tensor, cfg: BoxInitConfig, seed: int) -> torch.Tensor:
    """Object probability from feature words inside vs outside the box."""
    feats = F.normalize(fused[0].float().reshape(fused.shape[1], -1), dim=0).T  # (h*w, C)
    inside = inside.reshape(-1)
    n = inside.shape[0]
    gen = torch.Generator().manual_seed(seed)
    fg_x, bg_x = feats[inside], feats[~inside]
    if bg_x.shape[0] == 0:  # box covers the whole image: nothing to contrast with
        fg = torch.ones(n, device=feats.device)
    else:
        if bg_x.shape[0] > cfg.max_background_samples:
            keep = torch.randperm(bg_x.shape[0], generator=gen)[: cfg.max_background_samples]
            bg_x = bg_x[keep.to(bg_x.device)]
        bg_words, _ = spherical_kmeans(bg_x, cfg.background_words, generator=gen)
        in_words, assign = spherical_kmeans(fg_x, cfg.object_words, generator=gen)
        own = torch.zeros(len(in_words), device=feats.device).index_add_(
            0, assign, (fg_x * in_words[assign]).sum(1))
        own = own / torch.bincount(assign, minlength=len(in_words)).clamp(min=1)
        to_bg = (in_words @ bg_words.T).max(dim=1).values
        kept = to_bg < own
        if not bool(kept.any()):  # everything resembles the background: keep the least alike
            kept[torch.argmin(to_bg - own)] = True
        words_bg = torch.cat([bg_words, in_words[~kept]])
        s_fg = (fg_x @ in_words[kept].T).max(dim=1).values
        s_bg = (fg_x @ words_bg.T).max(dim=1).values
        fg = torch.zeros(n, device=feats.device)
        fg[inside] = torch.sigmoid((s_fg - s_bg) * 20.0)
    return fg


BOX_ESTIMATORS: dict[str, BoxEstimator] = {"target_model": _fit_box, "clusters": _cluster_box}


def _clean(mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Keep components holding >= 10 % of the largest one's area, fill holes; if nothing is
    left, fall back to an ellipse inscribed in the box."""
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = np.flatnonzero(areas >= 0.1 * areas.max()) + 1
        mask = np.isin(lab, keep).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(mask, contours, -1, 1, thickness=cv2.FILLED)
    if mask.sum() == 0:
        x0, y0, x1, y1 = box
        cv2.ellipse(mask, ((x0 + x1) / 2, (y0 + y1) / 2), (max(1, x1 - x0), max(1, y1 - y0)),
                    0, 0, 360, 1, thickness=-1)
    return mask
