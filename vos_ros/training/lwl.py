"""Training of LWL (`vos-ros train --method lwl`) on cached frozen-backbone features.

A sample is a mini-sequence of Q frames in temporal order from a window of one video, one
crop (aligned to stride 16, around the first frame's object) for all of them, flipped
horizontally at random. The network learns end to end through the few-shot learner as in
the paper: the first frame's true mask -> labels and weights -> N_init steepest-descent
steps from tau = 0; each later frame is predicted, decoded and scored against its true
mask, then enters the memory with its predicted (detached) probabilities and N_update
steps continue from the current module. Validation tracks the held-out videos with the
run-time loop (engine/methods/lwl/tracker.py) and scores the mean IoU.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass

import numpy as np
import torch

from ..engine.learned.layers import resize
from ..engine.methods.lwl import learner
from ..engine.methods.lwl.network import LWLNet, LWLShape
from ..engine.methods.lwl.params import LWLParams
from ..engine.methods.lwl.tracker import Tracker
from ..evaluation.prompts import mask_box
from .data import Video
from .loop import FitSettings, fit, save_part
from .losses import batch_iou, segmentation_loss


@dataclass
class SequenceSettings:
    frames: int = 4  # Q
    window: int = 12  # frames of the video the Q are drawn from (in order)
    init_steps: int = 5  # N_init
    update_steps: int = 2  # N_update
    flip: float = 0.5  # probability of a horizontal flip of the whole mini-sequence


@dataclass
class MiniSequence:
    levels: dict[int, np.ndarray]  # stride -> (Q, C, h, w) float16 crops
    masks: np.ndarray  # (Q, H, W) float32 {0, 1}


class SequenceSource:
    """Random mini-sequences (seeded) of cached videos; `crop` in pixels, multiples of 16."""

    def __init__(self, videos: list[Video], crop: tuple[int, int], seed: int, settings: SequenceSettings):
        self.videos = [v for v in videos if len(v.frames) >= settings.frames]
        height = min(v.masks.shape[1] for v in self.videos) // 16 * 16
        width = min(v.masks.shape[2] for v in self.videos) // 16 * 16
        self.crop = (min(crop[0], height), min(crop[1], width))
        self.rng = np.random.default_rng(seed)
        self.settings = settings

    def _frames(self, video: Video) -> list[int]:
        q, n = self.settings.frames, len(video.frames)
        window = min(n, max(q, self.settings.window))
        start = int(self.rng.integers(0, n - window + 1))
        rest = np.sort(self.rng.choice(np.arange(start + 1, start + window), q - 1, replace=False))
        return [start] + [int(t) for t in rest]

    def _corner(self, mask: np.ndarray) -> tuple[int, int]:
        height, width = mask.shape
        ch, cw = self.crop
        x, y, bw, bh = mask_box(mask)
        cx, cy = x + bw * self.rng.uniform(0.3, 0.7), y + bh * self.rng.uniform(0.3, 0.7)
        x0 = int(np.clip(cx - cw * self.rng.uniform(0.3, 0.7), 0, width - cw)) // 16 * 16
        y0 = int(np.clip(cy - ch * self.rng.uniform(0.3, 0.7), 0, height - ch)) // 16 * 16
        return y0, x0

    def sample(self) -> MiniSequence:
        ch, cw = self.crop
        for _ in range(50):
            video = self.videos[int(self.rng.integers(len(self.videos)))]
            frames = self._frames(video)
            if video.masks[frames[0]].sum() < 256:
                continue
            y0, x0 = self._corner(video.masks[frames[0]])
            masks = video.masks[frames, y0:y0 + ch, x0:x0 + cw].astype(np.float32)
            if masks[0].sum() >= 64:
                break
        levels = {s: f[frames, :, y0 // s:(y0 + ch) // s, x0 // s:(x0 + cw) // s] for s, f in video.features.items()}
        if self.rng.random() < self.settings.flip:
            levels = {s: f[..., ::-1] for s, f in levels.items()}
            masks = masks[..., ::-1]
        return MiniSequence({s: np.ascontiguousarray(f) for s, f in levels.items()}, np.ascontiguousarray(masks))


def _batch(samples: list[MiniSequence], device: torch.device) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    levels = {s: torch.from_numpy(np.stack([x.levels[s] for x in samples])).to(device).float()
              for s in samples[0].levels}
    return levels, torch.from_numpy(np.stack([x.masks for x in samples])).to(device)


def sequence_loss(net: LWLNet, levels: dict[int, torch.Tensor], masks: torch.Tensor,
                  settings: SequenceSettings) -> torch.Tensor:
    """Mean segmentation loss over frames 1..Q-1 of a batch of mini-sequences: levels
    (B, Q, C, h, w) per stride, masks (B, Q, H, W)."""
    b, q = masks.shape[:2]
    x16 = levels[16]
    size = tuple(x16.shape[-2:])
    x = net.reduce(x16.flatten(0, 1)).unflatten(0, (b, q))
    later = {s: f[:, 1:].flatten(0, 1) for s, f in levels.items()}
    encoded = [g.unflatten(0, (b, q - 1)) for g in net.decoder.encode(later)]
    label, weight = net.mask_encoder(masks[:, :1].flatten(0, 1)[:, None], size)
    labels, weights = [label], [weight]
    tau = learner.steepest_descent(net.zero_module(b, like=x), x[:, :1], label[:, None], weight[:, None],
                                   x.new_ones(b, 1), net.reg, settings.init_steps)
    total = x.new_zeros(())
    for t in range(1, q):
        encoding = learner.apply(tau, x[:, t:t + 1])[:, 0]
        logits = net.decode(tuple(g[:, t - 1] for g in encoded), encoding)
        target = masks[:, t:t + 1]
        total = total + segmentation_loss(resize(logits, target.shape[-2:]), target)
        if t < q - 1:
            label, weight = net.mask_encoder(torch.sigmoid(logits.detach()), size)
            labels.append(label)
            weights.append(weight)
            n = len(labels)
            tau = learner.steepest_descent(tau, x[:, :n], torch.stack(labels, 1), torch.stack(weights, 1),
                                           x.new_full((b, n), 1.0 / n), net.reg, settings.update_steps)
    return total / (q - 1)


def lwl_loss(net: LWLNet, source: SequenceSource, batch: int, device: torch.device) -> torch.Tensor:
    levels, masks = _batch([source.sample() for _ in range(batch)], device)
    return sequence_loss(net, levels, masks, source.settings)


def validate_lwl(net: LWLNet, videos: list[Video], device: torch.device, params: LWLParams | None = None,
                 max_frames: int = 0) -> float:
    """Mean IoU over the later frames of `videos` (each tracked from its first true mask with
    the run-time loop, the first `max_frames` frames; 0 = all)."""
    ious = []
    with torch.no_grad():
        for video in videos:
            tracker = Tracker(net, params or LWLParams())
            n = len(video.frames) if max_frames <= 0 else min(max_frames, len(video.frames))
            for t in range(n):
                levels = {s: torch.from_numpy(f[t:t + 1]).to(device).float() for s, f in video.features.items()}
                if t == 0:
                    tracker.add(1, levels, torch.from_numpy(video.masks[0].astype(np.float32)).to(device))
                    continue
                prob = tracker.predict(levels)[1]
                target = torch.from_numpy(video.masks[t][None, None].astype(np.float32)).to(device)
                ious += batch_iou(torch.logit(resize(prob[None, None], target.shape[-2:]), eps=1e-6), target)
                tracker.update(levels, {1: prob}, [1] if float((prob > 0.5).float().mean()) > 0 else [])
    return float(np.mean(ious))


def jittered_box(rng: np.random.Generator, mask: np.ndarray, jitter: float = 0.05) -> tuple[int, int, int, int]:
    """The mask's box (x0, y0, x1, y1), each side moved by up to `jitter` of its size."""
    x, y, w, h = mask_box(mask)
    j = rng.uniform(-jitter, jitter, 4) * np.array([w, h, w, h])
    height, width = mask.shape
    x0, y0 = int(np.clip(x + j[0], 0, width - 1)), int(np.clip(y + j[1], 0, height - 1))
    return x0, y0, int(np.clip(x + w + j[2], x0 + 1, width)), int(np.clip(y + h + j[3], y0 + 1, height))


def box_loss(net: LWLNet, source: SequenceSource, batch: int, device: torch.device) -> torch.Tensor:
    """The box encoder's loss on single frames (the first of mini-sequences), the rest frozen."""
    samples = [source.sample() for _ in range(batch)]
    levels, masks = _batch(samples, device)
    first = {s: f[:, 0] for s, f in levels.items()}
    target = masks[:, :1]
    with torch.no_grad():
        reduced = net.reduce(first[16])
        encoded = net.decoder.encode(first)
    boxes = [jittered_box(source.rng, x.masks[0] > 0.5) for x in samples]
    maps = net.box_encoder.box_maps(boxes, tuple(target.shape[-2:]), tuple(reduced.shape[-2:]), device)
    logits = net.decode(encoded, net.box_encoder(reduced, maps))
    return segmentation_loss(resize(logits, target.shape[-2:]), target)


def validate_box(net: LWLNet, videos: list[Video], device: torch.device, step: int = 4) -> float:
    """Mean first-mask IoU from the true box over every `step`-th frame of `videos`."""
    ious = []
    with torch.no_grad():
        for video in videos:
            for t in range(0, len(video.frames), step):
                mask = video.masks[t]
                if not mask.any():
                    continue
                levels = {s: torch.from_numpy(f[t:t + 1]).to(device).float() for s, f in video.features.items()}
                x, y, w, h = mask_box(mask)
                prob = net.box_mask(levels, (x, y, x + w, y + h), mask.shape)
                target = torch.from_numpy(mask[None, None].astype(np.float32)).to(device)
                ious += batch_iou(torch.logit(resize(prob[None, None], target.shape[-2:]), eps=1e-6), target)
    return float(np.mean(ious))


def add_arguments(parser: argparse.ArgumentParser, size: type) -> None:
    """The options of `vos-ros train --method lwl` (`size`: the HxW parser of the command)."""
    group = parser.add_argument_group("--method lwl")
    group.add_argument("--lwl-iterations", type=int, default=1800, help="iterations of the end-to-end stage")
    group.add_argument("--lwl-box-iterations", type=int, default=400,
                       help="iterations of the box encoder stage (0 = no box encoder)")
    group.add_argument("--lwl-crop", type=size, default=(320, 576), metavar="HxW", help="mini-sequence crop")
    group.add_argument("--lwl-val-frames", type=int, default=0,
                       help="frames of each validation video tracked (0 = all)")


def _fit_stage(net: LWLNet, loss, validate, args: argparse.Namespace, iterations: int, name: str,
               source: SequenceSource):
    return fit(net, lambda it: loss(net, source, args.batch, source_device(net)), validate,
               FitSettings(iterations, lr=args.lr, validate_every=args.validate_every),
               args.out / "checkpoints" / f"{name}.ckpt", args.resume, name,
               lambda: {"rng": source.rng.bit_generator.state},
               lambda st: setattr(source.rng.bit_generator, "state", st["rng"]))


def source_device(net: LWLNet) -> torch.device:
    return net.log_reg.device


def run(args: argparse.Namespace, train_videos: list[Video], val_videos: list[Video], channels: dict[int, int],
        device: torch.device, common: dict) -> int:
    """Train LWL end to end, then (optionally) its box encoder; writes OUT/lwl.pt and OUT/lwl.json."""
    if args.lwl_iterations < 1 or args.lwl_box_iterations < 0 or args.batch < 1:
        raise ValueError("--lwl-iterations and --batch must be >= 1, --lwl-box-iterations >= 0")
    settings = SequenceSettings()
    shape = LWLShape(feature_channels=(channels[4], channels[8], channels[16]), box_encoder=args.lwl_box_iterations > 0)
    net = LWLNet(shape).to(device)
    source = SequenceSource(train_videos, args.lwl_crop, args.seed, settings)
    result = _fit_stage(net, lwl_loss, lambda: validate_lwl(net, val_videos, device, max_frames=args.lwl_val_frames),
                        args, args.lwl_iterations, "lwl", source)
    net.load_state_dict(result.best_state)
    record = dict(common, part="lwl", shape=shape.to_dict(), sequence=dataclasses.asdict(settings),
                  iterations=args.lwl_iterations, batch=args.batch, crop=list(args.lwl_crop), lr=args.lr,
                  train_seconds=round(result.seconds, 1), best_iteration=result.best_iteration,
                  val_iou=result.best_score, val_frames=args.lwl_val_frames, history=result.history,
                  learned_reg=float(net.reg.detach()))
    print(f"train: lwl validation IoU {result.best_score:.4f} (iteration {result.best_iteration})", file=sys.stderr)
    if net.box_encoder is not None:
        for name, p in net.named_parameters():
            p.requires_grad_(name.startswith("box_encoder."))
        box_source = SequenceSource(train_videos, args.lwl_crop, args.seed + 1, dataclasses.replace(settings, flip=0.5))
        box = _fit_stage(net, box_loss, lambda: validate_box(net, val_videos, device), args,
                         args.lwl_box_iterations, "lwl_box", box_source)
        net.load_state_dict(box.best_state)
        record.update(box_iterations=args.lwl_box_iterations, box_train_seconds=round(box.seconds, 1),
                      box_best_iteration=box.best_iteration, box_val_iou=box.best_score, box_history=box.history)
        print(f"train: lwl box encoder validation IoU {box.best_score:.4f}", file=sys.stderr)
    path = save_part(net, args.out, args.backbone, record)
    print(f"train: -> {path}", file=sys.stderr)
    return 0
