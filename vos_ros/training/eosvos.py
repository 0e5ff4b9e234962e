"""Meta-training of e-OSVOS: the head's initialisation and per-neuron learning rates.

A task is one object of one training video: fine-tune the head on one frame (its region
and mask) by T steps of SGD with the learned rates, then measure the loss on other frames
of the same object, each in the region of the object's previous mask (enlarged, jittered),
as the method will see them. The query loss back-propagates through the T steps to the
initialisation and the rates; the inner gradients are constants unless --second-order
(the paper's first-order approximation). Validation tracks the held-out videos with the
method itself (first frame only, no online adaptation) and scores the mean IoU.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.backbone.features import Features
from ..engine.config import EngineConfig
from ..engine.methods.eosvos.head import EOSVOSHead, HeadShape, Sample, fine_tune, samples_loss
from ..engine.methods.eosvos.method import STRIDE, EOSVOSMethod
from ..engine.methods.eosvos.params import EOSVOSParams
from ..engine.methods.eosvos.region import Region, mask_region, on_grid
from .data import Video
from .loop import FitSettings, fit, save_part


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("--method eosvos (meta-training; --iterations, --batch, --lr apply)")
    group.add_argument("--inner-steps", type=int, default=10, help="T: SGD steps of each task's fine-tuning")
    group.add_argument("--queries", type=int, default=3, help="query frames per task")
    group.add_argument("--second-order", action="store_true",
                       help="back-propagate through the inner gradients too (default: first-order)")
    group.add_argument("--head-width", type=int, default=HeadShape.width, help="hidden channels of the head")
    group.add_argument("--plain-lrs", default="0.03,0.1,0.3,1,3", metavar="A,B",
                       help="learning rates tried for the plain baseline on the validation videos; "
                            "the best one is also the rates' starting value")


@dataclass
class MetaSettings:
    inner_steps: int = 10
    queries: int = 3
    batch: int = 4
    second_order: bool = False


def fused(video: Video, t: int, device: torch.device) -> Features:
    """Frame t's cached features as the method reads them (strides 8 and 16)."""
    levels = {s: torch.from_numpy(video.features[s][t:t + 1].astype(np.float32)).to(device) for s in (8, 16)}
    return Features(levels, tuple(video.masks.shape[1:3]))


class TaskSource:
    """Seeded tasks from training videos: (support sample, query samples)."""

    def __init__(self, videos: list[Video], seed: int, params: EOSVOSParams, device: torch.device):
        self.rng = np.random.default_rng(seed)
        self.params, self.device = params, device
        self.cells: dict[str, torch.Tensor] = {}
        for video in videos:
            size = video.features[8].shape[-2:]
            self.cells[video.name] = torch.stack([on_grid(torch.from_numpy(m), size) for m in video.masks])
        self.videos = [v for v in videos if int((self.cells[v.name].flatten(1).amax(1) > 0).sum()) >= 2]

    def _sample(self, video: Video, t: int, region: Region) -> Sample:
        x = fused(video, t, self.device).fused(STRIDE)
        return region.crop(x), region.crop(self.cells[video.name][t].to(self.device))[None, None]

    def _region(self, cells: torch.Tensor, jitter: bool) -> Region:
        region = mask_region(cells, self.params.region_margin, self.params.region_min_cells)
        return region.scaled(float(self.rng.uniform(0.85, 1.25)), tuple(cells.shape)) if jitter else region

    def task(self, queries: int) -> tuple[Sample, list[Sample]]:
        video = self.videos[int(self.rng.integers(len(self.videos)))]
        cells = self.cells[video.name]
        present = np.flatnonzero(cells.flatten(1).amax(1).numpy() > 0)
        support = int(self.rng.choice(present))
        others = [t for t in range(len(cells)) if t != support]
        picked = self.rng.choice(others, size=min(queries, len(others)), replace=False)
        query = []
        for t in picked:
            # the region the method would predict in: the previous frame's mask, enlarged
            prev = int(t) - 1 if int(t) > 0 and cells[int(t) - 1].amax() > 0 else int(t)
            if cells[prev].amax() <= 0:
                prev = support
            query.append(self._sample(video, int(t), self._region(cells[prev], jitter=True)))
        return self._sample(video, support, self._region(cells[support], jitter=False)), query


def meta_loss(head: EOSVOSHead, source: TaskSource, settings: MetaSettings) -> torch.Tensor:
    """Mean query loss after fine-tuning, over `settings.batch` tasks."""
    total = 0.0
    for _ in range(settings.batch):
        support, queries = source.task(settings.queries)
        theta = fine_tune(head.initial(), head.rates(), [support], settings.inner_steps, meta=True,
                          second_order=settings.second_order)
        total = total + samples_loss(theta, queries)
    return total / settings.batch


def track_iou(head: EOSVOSHead, videos: list[Video], steps: int, device: torch.device,
              online_adaptation: bool = False) -> float:
    """Mean IoU (480p, threshold 0.5) of the method with `head` tracking each video from its
    first mask; the method's own regions, fine-tuning and prediction."""
    config = EngineConfig(method="eosvos", device=device.type).replace(**{
        "eosvos.weights": "none", "eosvos.iterations": steps, "eosvos.online_adaptation": online_adaptation})
    ious = []
    for video in videos:
        method = EOSVOSMethod(config, None, device)
        method.head = head
        mask0 = torch.from_numpy(video.masks[0].astype(np.float32)).to(device)
        if not mask0.any():
            continue
        method.add_object(1, None, fused(video, 0, device), mask0)
        for t in range(1, len(video.masks)):
            features = fused(video, t, device)
            with torch.no_grad():
                prob = method.predict(features)[1]
            full = F.interpolate(prob[None, None], size=video.masks.shape[1:3], mode="bilinear",
                                 align_corners=False)[0, 0] > 0.5
            truth = torch.from_numpy(video.masks[t]).to(device)
            union = int((full | truth).sum())
            ious.append(1.0 if union == 0 else int((full & truth).sum()) / union)
            shown = prob > 0.5
            method.update(features, {1: prob}, {1: shown}, {1: 1.0 if bool(shown.any()) else 0.0})
    return float(np.mean(ious))


def train(args: argparse.Namespace, train_videos: list[Video], val_videos: list[Video], common: dict,
          device: torch.device, channels: dict[int, int]) -> int:
    """`vos-ros train --method eosvos`: writes OUT/eosvos.pt and OUT/eosvos.json."""
    if args.inner_steps < 1 or args.queries < 1:
        raise ValueError("--inner-steps and --queries must be >= 1")
    out: Path = args.out
    plain_lrs = [float(v) for v in args.plain_lrs.split(",") if v]
    torch.manual_seed(args.seed)
    head = EOSVOSHead(HeadShape(feature_channels=(channels[8], channels[16]), width=args.head_width)).to(device)
    # the plain baseline (this initialisation, one rate for every neuron) on the validation
    # videos; its best rate is where meta-training starts
    plain = {}
    for lr in plain_lrs:
        head.set_rate(lr)
        plain[lr] = track_iou(head, val_videos, args.inner_steps, device)
        print(f"train: eosvos plain initialisation, rate {lr:g}: validation IoU {plain[lr]:.4f}", file=sys.stderr)
    best_lr = max(plain, key=plain.get)
    head.set_rate(best_lr)
    settings = MetaSettings(args.inner_steps, args.queries, args.batch, args.second_order)
    source = TaskSource(train_videos, args.seed, EOSVOSParams(), device)
    result = fit(head, lambda it: meta_loss(head, source, settings),
                 lambda: track_iou(head, val_videos, args.inner_steps, device),
                 FitSettings(args.iterations, lr=args.lr, validate_every=args.validate_every),
                 out / "checkpoints" / "eosvos.ckpt", args.resume, "eosvos",
                 lambda: {"rng": source.rng.bit_generator.state},
                 lambda s: setattr(source.rng.bit_generator, "state", s["rng"]))
    head.load_state_dict(result.best_state)
    rates = torch.cat([r.detach().exp() for r in head.log_lr])
    record = dict(common, part="eosvos", shape=head.shape.to_dict(), iterations=args.iterations,
                  batch=args.batch, lr=args.lr, inner_steps=args.inner_steps, queries=args.queries,
                  second_order=args.second_order, plain_val_iou={f"{k:g}": v for k, v in plain.items()},
                  plain_lr=best_lr, train_seconds=round(result.seconds, 1), best_iteration=result.best_iteration,
                  val_iou=result.best_score, learned_rates={"min": float(rates.min()), "median": float(rates.median()),
                                                            "max": float(rates.max())},
                  history=result.history)
    path = save_part(head, out, args.backbone, record)
    print(f"train: eosvos validation IoU {result.best_score:.4f} (plain, rate {best_lr:g}: {plain[best_lr]:.4f}) "
          f"-> {path}", file=sys.stderr)
    return 0
