"""e-OSVOS (Meinhardt & Leal-Taixe, NeurIPS 2020) on our frozen backbone.

Each object gets its own copy of a small segmentation head (head.py), fine-tuned on the
first frame by T steps of plain SGD from a meta-learned initialisation with meta-learned
per-neuron learning rates (`vos-ros train --method eosvos`). The paper propagates the
detector's boxes; here fine-tuning and prediction run in the object's region: the box of
its previous mask on the stride-8 grid, enlarged (region.py), grown while it is lost.
Online adaptation (OnA): every `ona_interval` frames the model restarts from the
first-frame model theta^T and takes `ona_iterations` steps on the first frame plus the last
confident predicted masks (a bounded memory).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from ...backbone.features import Features
from ...learned import weights
from ..base import FeatureExtractor, SegmentationMethod
from .head import EOSVOSHead, HeadShape, Sample, fine_tune
from .params import EOSVOSParams
from .region import Region, mask_region, on_grid

if TYPE_CHECKING:
    from ...config import EngineConfig

STRIDE = 8
weights.register("eosvos", EOSVOSHead, HeadShape, (8, 16),
                 "make it with `vos-ros train --method eosvos --data ../shared/data/davis2016-train --out DIR` "
                 "(see docs/TRAINING.md), or set eosvos.weights to `none` for the plain baseline")


@dataclass
class _Object:
    first: Sample  # the annotated frame's region and target
    theta_first: list[torch.Tensor]  # theta^T, the first-frame model
    theta: list[torch.Tensor]  # the model in use (theta^T or its latest online adaptation)
    region: Region  # where the next frame is predicted
    memory: deque = field(default_factory=deque)  # recent confident samples (OnA)
    frames: int = 0  # frames since the object was added


def load_head(params: EOSVOSParams, backbone: str, channels: dict[int, int], seed: int) -> EOSVOSHead:
    """The meta-learned head of `params.weights`, or with "none" the plain baseline: PyTorch's
    default initialisation (seeded) and every rate at `plain_lr`."""
    path = weights.resolve("eosvos", params.weights)
    if path is not None:
        return weights.load("eosvos", path, backbone, channels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = EOSVOSHead(HeadShape(feature_channels=(channels[8], channels[16])))
    head.set_rate(params.plain_lr)
    return head.eval()


class EOSVOSMethod(SegmentationMethod):
    aggregation = "soft"

    params: EOSVOSParams  # config.eosvos

    def __init__(self, config: "EngineConfig", extract: FeatureExtractor, device: torch.device):
        super().__init__(config, extract, device)
        path = weights.resolve("eosvos", self.params.weights)
        if path is not None:
            weights.require("eosvos", path)
        # built at the first object, when the backbone's channels are known
        self.head: EOSVOSHead | None = None
        self.objects: dict[int, _Object] = {}
        self._predicted: list[int] = []
        self.last_fit_seconds = 0.0  # wall time of the last first-frame fine-tuning (region + T steps)

    def _sample(self, x: torch.Tensor, cells: torch.Tensor, region: Region) -> Sample:
        with torch.inference_mode(False):
            return region.crop(x).clone(), region.crop(cells)[None, None].clone()

    def _rates(self) -> list[torch.Tensor]:
        return [r.detach() for r in self.head.rates()]

    def add_object(self, object_id: int, image: torch.Tensor, features: Features,
                   mask: torch.Tensor) -> None:
        if self.head is None:
            channels = {s: features.levels[s].shape[1] for s in (8, 16)}
            with torch.inference_mode(False):  # its parameters take part in autograd
                self.head = load_head(self.params, self.config.backbone.name, channels,
                                      self.config.seed).to(self.device)
        t0 = time.perf_counter()
        x = features.fused(STRIDE)
        cells = on_grid(mask, tuple(x.shape[-2:]))
        region = mask_region(cells, self.params.region_margin, self.params.region_min_cells)
        first = self._sample(x, cells, region)
        theta = fine_tune([p.detach() for p in self.head.initial()], self._rates(), [first],
                          self.params.iterations)
        self.objects[object_id] = _Object(first, theta, theta, region,
                                          deque(maxlen=self.params.ona_samples))
        self.last_fit_seconds = time.perf_counter() - t0

    def remove_object(self, object_id: int) -> None:
        del self.objects[object_id]

    def predict(self, features: Features) -> dict[int, torch.Tensor]:
        x = features.fused(STRIDE)
        self._predicted = list(self.objects)
        out = {}
        for object_id, obj in self.objects.items():
            prob = x.new_zeros(x.shape[-2:])
            r = obj.region
            prob[r.y0:r.y1, r.x0:r.x1] = torch.sigmoid(EOSVOSHead.run(r.crop(x), obj.theta))[0, 0]
            out[object_id] = prob
        return out

    def update(self, features: Features, probs: dict[int, torch.Tensor], masks: dict[int, torch.Tensor],
               confidence: dict[int, float]) -> None:
        prm = self.params
        x = features.fused(STRIDE)
        size = tuple(x.shape[-2:])
        for object_id in self._predicted:
            obj = self.objects.get(object_id)
            if obj is None:
                continue
            obj.frames += 1
            conf = confidence.get(object_id, 0.0)
            cells = on_grid(masks[object_id], size) if object_id in masks else None
            region = mask_region(cells, prm.region_margin, prm.region_min_cells) \
                if cells is not None and conf > 0 else None
            if region is None:  # lost: search a growing region
                obj.region = obj.region.scaled(prm.region_growth, size)
                continue
            obj.region = region
            if not prm.online_adaptation:
                continue
            if conf >= prm.ona_min_confidence:
                obj.memory.append(self._sample(x, cells, region))
            if obj.frames % prm.ona_interval == 0 and obj.memory:
                # restart from the first-frame model: errors of past adaptations do not add up
                obj.theta = fine_tune(obj.theta_first, self._rates(), [obj.first, *obj.memory],
                                      prm.ona_iterations)

    def memory_footprint(self) -> dict[int, int]:
        return {object_id: 1 + len(obj.memory) for object_id, obj in self.objects.items()}

    def reconfigure(self, config: "EngineConfig") -> None:
        super().reconfigure(config)
        for obj in self.objects.values():
            obj.memory = deque(obj.memory, maxlen=self.params.ona_samples)


Method = EOSVOSMethod
