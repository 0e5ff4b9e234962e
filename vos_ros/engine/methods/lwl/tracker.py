"""LWL's run-time loop over one stream's frames, independent of the session: per object a
target module tau and its sample memory; frames given as backbone levels {4, 8, 16}.

Used by the method (engine) and by training's validation (on cached features).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import learner
from .memory import SampleMemory
from .network import LWLNet
from .params import LWLParams


@dataclass
class _Target:
    tau: torch.Tensor  # (1, D, C, k, k)
    memory: SampleMemory
    first_min_share: float
    frames_since_update: int = 0


class Tracker:
    """Objects tracked by one network; `levels` of a frame are (1, C_s, h_s, w_s) per stride."""

    def __init__(self, net: LWLNet, params: LWLParams):
        self.net, self.params = net, params
        self.targets: dict[int, _Target] = {}
        self._frame: tuple[dict, torch.Tensor] | None = None  # levels -> reduced, of the last frame

    def reduced(self, levels: dict[int, torch.Tensor]) -> torch.Tensor:
        """(1, C, h, w) target-module features of a frame (computed once per frame)."""
        if self._frame is None or self._frame[0] is not levels:
            self._frame = (levels, self.net.reduce(levels[16].float()))
        return self._frame[1]

    def _labels(self, masks: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(K, H, W) masks / probabilities -> labels, weights (K, D, h, w)."""
        return self.net.mask_encoder(masks[:, None].float(), size)

    def _fit(self, target: _Target, steps: int) -> None:
        x, labels, weights, alpha = target.memory.batch(target.first_min_share)
        target.tau = learner.steepest_descent(target.tau, x[None], labels[None], weights[None], alpha[None],
                                              self.net.reg, steps)

    def add(self, object_id: int, levels: dict[int, torch.Tensor], mask: torch.Tensor, from_box: bool = False) -> None:
        """Learn an object from its (H, W) first mask; `from_box`: the mask was made from a box."""
        prm = self.params
        memory = SampleMemory(prm.memory_size, prm.box_memory_eta, keep_first_for=prm.memory_size) if from_box \
            else SampleMemory(prm.memory_size, prm.memory_eta)
        reduced = self.reduced(levels)
        labels, weights = self._labels(mask[None], tuple(reduced.shape[-2:]))
        memory.add(reduced[0], labels[0], weights[0])
        target = _Target(self.net.zero_module(1, like=reduced), memory, 0.0 if from_box else prm.first_min_share)
        self._fit(target, prm.init_iterations)
        self.targets[object_id] = target

    def box_mask(self, levels: dict[int, torch.Tensor], box: tuple[int, int, int, int],
                 image_size: tuple[int, int]) -> torch.Tensor | None:
        """(H, W) first mask of the object in box (x0, y0, x1, y1) by the box encoder, zero
        outside the box; None without a box encoder or when it fills less than
        `box_encoder_min_fill` of the box."""
        if self.net.box_encoder is None or not self.params.box_encoder:
            return None
        prob = self.net.box_mask(levels, box, image_size)
        mask = F.interpolate(prob[None, None], size=image_size, mode="bilinear", align_corners=False)[0, 0] > 0.5
        x0, y0, x1, y1 = box
        inside = torch.zeros_like(mask)
        inside[y0:y1, x0:x1] = True
        mask = (mask & inside).float()
        fill = float(mask.sum()) / max(1, (x1 - x0) * (y1 - y0))
        return mask if fill > 0 and fill >= self.params.box_encoder_min_fill else None

    def remove(self, object_id: int) -> None:
        del self.targets[object_id]

    def predict(self, levels: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        """Per object, (H/4, W/4) foreground probabilities."""
        if not self.targets:
            return {}
        reduced = self.reduced(levels)
        tau = torch.cat([t.tau for t in self.targets.values()])
        k = tau.shape[0]
        encoding = learner.apply(tau, reduced[None].expand(k, -1, -1, -1, -1))[:, 0]
        logits = self.net.decode(self.net.decoder.encode(levels), encoding)
        return dict(zip(self.targets, torch.sigmoid(logits[:, 0])))

    def update(self, levels: dict[int, torch.Tensor], probs: dict[int, torch.Tensor], stored: list[int]) -> None:
        """After a frame: objects `stored` enter the memory with their probabilities `probs`
        ((h, w), any resolution); every object's module is updated on its schedule."""
        prm = self.params
        if not prm.online_update:
            return
        stored = [i for i in stored if i in self.targets]
        if stored:
            reduced = self.reduced(levels)
            labels, weights = self._labels(torch.stack([probs[i] for i in stored]), tuple(reduced.shape[-2:]))
            for k, object_id in enumerate(stored):
                self.targets[object_id].memory.add(reduced[0], labels[k], weights[k])
        for target in self.targets.values():
            target.frames_since_update += 1
            if target.frames_since_update >= prm.update_interval:
                target.frames_since_update = 0
                self._fit(target, prm.update_iterations)

    def memory_footprint(self) -> dict[int, int]:
        return {object_id: len(t.memory) for object_id, t in self.targets.items()}
