"""FRTM-VOS: one fast target model per object, fitted at run time, plus a sample memory.

First frame: the object's mask and augmented copies (FRTM's cut/inpaint/warp/paste) train
D(x) = w2 * (w1 * x) by Gauss-Newton + CG. Later frames: confident predictions enter the
memory and every `update_interval` frames w2 is refitted on the memory (w1 frozen, its
projections cached). Without trained refiner weights the coarse scores are the
probabilities ("D-only"); the Segmenter upsamples and edge-refines them. With the official
FRTM-VOS refiner checkpoint (`frtm.refiner_weights`, ResNet-18/101 backbones) the target
model runs on stride-16 features as in the paper and the refiner turns its scores plus the
backbone features into full-resolution probabilities.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ...backbone.features import Features
from ...devices import bfloat16_is_fast
from ..base import FeatureExtractor, SegmentationMethod
from ..common.outliers import anchors, unanchored
from .augmentation import augment, inpaint_background
from .memory import SampleMemory, UpdateBatch
from .params import FRTMParams
from .refiner import load_refiner_checkpoint
from .target_model import TargetModel, W2Update, fit_full, pixel_weights, score_models

if TYPE_CHECKING:
    from ...config import EngineConfig


@dataclass
class _Target:
    model: TargetModel
    memory: SampleMemory
    frames_since_update: int = 0
    frames_seen: int = 0  # frames stepped since the object was added
    # offsets the object's memory and update schedule from other objects' (see add_object)
    phase: int = 0
    job: W2Update | None = None  # an update in progress
    job_frames: int = 0  # frames the update in progress has run on
    pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = field(default_factory=list)
    anchor: torch.Tensor | None = None  # previous mask dilated, on the grid (outlier test)
    batch: UpdateBatch = field(default_factory=UpdateBatch)  # the samples the last update read


def downsample_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(H, W) mask/probability -> (1, h, w) area average."""
    return F.adaptive_avg_pool2d(mask.float()[None, None], size)[0]


def spread_iterations(frame: int, cg_iters: int, frames: int) -> int:
    """CG iterations an update spread over `frames` frames should have run after its
    `frame`-th frame (1-based). The update's first frame also computes its gradient, which
    costs about one iteration, so the cg_iters + 1 units are spread evenly: no frame runs
    more than ceil((cg_iters + 1) / frames) of them."""
    return min(cg_iters, math.ceil(frame * (cg_iters + 1) / frames) - 1)


def pixel_major(x: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) -> contiguous (N, h, w, C)."""
    return x.permute(0, 2, 3, 1).contiguous()


class FRTMMethod(SegmentationMethod):
    aggregation = "soft"
    score_calibration = (-12.42, 7.65, 7.74)  # fitted on davis2016-train (docs/RESULTS.md)

    params: FRTMParams  # config.frtm

    def __init__(self, config: "EngineConfig", extract: FeatureExtractor, device: torch.device):
        super().__init__(config, extract, device)
        self.refiner = None
        if self.params.refiner_weights is not None:
            self.refiner = load_refiner_checkpoint(self.params.refiner_weights,
                                                   config.backbone.name).to(device)
        # the official refiner was trained on stride-16 target scores
        self.stride = 16 if self.refiner is not None else self.params.feature_stride
        self.targets: dict[int, _Target] = {}
        self._predicted: list[int] = []  # objects scored by the last predict
        self._grid: tuple[int, int] = (0, 0)  # their feature grid (h, w)
        self._added = 0  # objects added so far (their schedule phases)
        self._rng = np.random.default_rng(config.seed)
        # bfloat16 memory and projections where the hardware multiplies it fast (else float32)
        self._memory_dtype = torch.bfloat16 if self.params.memory_bfloat16 and bfloat16_is_fast(device) \
            else torch.float32

    @classmethod
    def needs_stride32(cls, params: FRTMParams) -> bool:
        # the official refiner refines over strides 32, 16, 8 and 4
        return params.refiner_weights is not None

    def add_object(self, object_id: int, image: torch.Tensor, features: Features,
                   mask: torch.Tensor) -> None:
        prm = self.params
        x0 = pixel_major(features.fused(self.stride))
        size = tuple(x0.shape[1:3])
        images, masks = [], [mask]
        if prm.augment_samples > 1:
            img_np = image[0].permute(1, 2, 0).clamp(0, 255).byte().cpu().numpy()
            mask_np = mask.bool().cpu().numpy()
            background = inpaint_background(img_np, mask_np)
            pairs = augment(img_np, mask_np, prm.augment_samples - 1, self._rng, background)
            images = [torch.from_numpy(a).to(self.device).permute(2, 0, 1).float() for a, _ in pairs]
            masks += [torch.from_numpy(m.astype(np.float32)).to(self.device) for _, m in pairs]
        xs = [x0] + ([pixel_major(self.extract(torch.stack(images)).fused(self.stride))] if images else [])
        x = torch.cat(xs)
        y = torch.cat([downsample_mask(m, size) for m in masks])
        pw = pixel_weights(y, prm.kappa_min)
        raw = torch.tensor([2.0] + [1.0] * (len(masks) - 1), device=self.device)  # original twice
        sample_w = (raw / raw.sum()).view(-1, 1, 1)
        model = TargetModel.from_pca(x, prm.projection_channels)
        model = fit_full(model, x, y, pw * sample_w / (size[0] * size[1]), prm.regularization,
                         prm.init_gn_steps, prm.init_cg_iters_first, prm.init_cg_iters)
        memory = SampleMemory(prm.memory_size, prm.memory_eta)
        projected = model.project(x).to(self._memory_dtype)
        for i in range(len(x)):  # sample 0 is the annotated frame itself
            memory.add(projected[i], y[i], pw[i], weight=float(raw[i]), pin=i == 0)
        # objects added together would otherwise store samples and run updates on the same
        # frames: staggered phases 0, 3, 6, 1, 4, ... (mod the intervals) even out the load
        phase = 3 * self._added
        self._added += 1
        self.targets[object_id] = _Target(model, memory, anchor=self._anchor(mask[None] > 0.5, size)[0],
                                          frames_since_update=phase % prm.update_interval, phase=phase)

    def remove_object(self, object_id: int) -> None:
        del self.targets[object_id]

    def predict(self, features: Features) -> dict[int, torch.Tensor]:
        levels = features.fused_levels(self.stride)
        self._predicted, self._grid = list(self.targets), tuple(levels[0].shape[-2:])
        if not self._predicted:
            return {}
        # scores straight from the features; projections are computed only for the frames
        # that enter the memory (see update)
        scores = score_models([t.model for t in self.targets.values()], levels)
        out = {}
        for (object_id, target), score in zip(self.targets.items(), scores):
            if self.refiner is not None:
                logits = self.refiner(score[None, None], features.levels, features.image_size)
                out[object_id] = torch.sigmoid(logits)[0, 0]
            else:
                out[object_id] = self._drop_outliers((self.params.score_scale * score).clamp(0, 1), target.anchor)
        return out

    def _anchor(self, masks: torch.Tensor, size: tuple[int, int]) -> list[torch.Tensor | None]:
        """Per mask of (K, H, W) bool at processing resolution: its outlier anchor on the grid,
        or None (no outlier test) when the test is off or the mask is empty."""
        if self.params.outlier_dilation <= 0:
            return [None] * len(masks)
        return anchors(masks, size, self.params.outlier_dilation, self.stride)

    @staticmethod
    def _drop_outliers(prob: torch.Tensor, anchor: torch.Tensor | None) -> torch.Tensor:
        """Zero the regions of `prob` > 0.5 that do not touch `anchor`."""
        drop = unanchored(prob > 0.5, anchor)
        if drop is not None and bool(drop.any()):
            prob = prob.masked_fill(drop, 0.0)
        return prob

    def update(self, features: Features, probs: dict[int, torch.Tensor], masks: dict[int, torch.Tensor],
               confidence: dict[int, float]) -> None:
        prm = self.params
        ids = [i for i in self._predicted if i in self.targets]
        if ids:
            # the anchor follows the soft probabilities, not the cleaned label map (docs/RESULTS.md)
            shown = torch.stack([(probs[i] > 0.5) & (confidence.get(i, 0.0) > 0) for i in ids])
            for object_id, anchor in zip(ids, self._anchor(shown, self._grid)):
                self.targets[object_id].anchor = anchor
        if not prm.online_update:
            return
        levels = features.fused_levels(self.stride)
        for object_id, target in self.targets.items():
            target.frames_seen += 1
            if object_id in ids and confidence.get(object_id, 0.0) >= prm.memory_min_confidence \
                    and (target.frames_seen + target.phase) % prm.memory_interval == 0:
                # (h, w, P), w1 is frozen; each level projected at its own resolution
                projected = target.model.project_levels(levels).to(self._memory_dtype).contiguous()
                y = (downsample_mask(probs[object_id], self._grid) > 0.5).float()
                sample = (projected, y[0], pixel_weights(y, prm.kappa_min)[0])
                if target.job is None:
                    target.memory.add(*sample)
                else:  # the running update reads the memory: insert when it completes
                    target.pending.append(sample)
            target.frames_since_update += 1
            if target.job is None and target.frames_since_update >= prm.update_interval:
                target.frames_since_update = 0
                p, y, pw, w = target.memory.batch(prm.update_min_relative_weight, prm.update_max_samples,
                                                  prm.annotated_min_share, reuse=target.batch)
                v2 = pw * w.view(-1, 1, 1) / (y.shape[-1] * y.shape[-2])
                target.job = W2Update(target.model, p, y, v2, prm.regularization, prm.update_cg_iters)
                target.job_frames = 0
            if target.job is not None:
                target.job_frames += 1
                due = spread_iterations(target.job_frames, prm.update_cg_iters, prm.spread_frames())
                target.job.advance(due - target.job.iterations)
                if target.job.finished:
                    target.model = target.job.result()
                    target.job = None
                    for sample in target.pending:
                        target.memory.add(*sample)
                    target.pending.clear()

    def memory_footprint(self) -> dict[int, int]:
        return {object_id: len(t.memory) for object_id, t in self.targets.items()}


Method = FRTMMethod
