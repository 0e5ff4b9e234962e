"""What each learned part trains on and how it is validated.

Decoder: augmented frame crops with teacher or synthetic score maps -> the true mask.
Prompt encoder (decoder frozen): single frames with sampled boxes/clicks -> the true mask,
through the decoder.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.learned.decoder import MaskDecoder
from ..engine.learned.layers import resize
from ..engine.learned.prompt_encoder import Prompt, PromptEncoder
from .data import Sample, SampleSource, Video
from .losses import batch_iou, segmentation_loss
from ..evaluation.prompts import interior_point, mask_box
from .prompts import random_prompt


def _to(x: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(device)


def _levels(samples: list[Sample], device: torch.device) -> dict[int, torch.Tensor]:
    return {s: _to(np.stack([x.levels[s] for x in samples]), device).float() for s in samples[0].levels}


def frame_levels(video: Video, t: int, device: torch.device) -> dict[int, torch.Tensor]:
    return {s: _to(f[t:t + 1], device).float() for s, f in video.features.items()}


def decoder_loss(decoder: MaskDecoder, source: SampleSource, batch: int, device: torch.device) -> torch.Tensor:
    samples = [source.decoder_sample() for _ in range(batch)]
    levels = _levels(samples, device)
    scores = _to(np.stack([s.scores for s in samples])[:, None], device)
    target = _to(np.stack([s.mask for s in samples])[:, None], device)
    logits = resize(decoder(levels, scores), target.shape[-2:])
    return segmentation_loss(logits, target)


def validation_frames(videos: list[Video], step: int) -> list[tuple[Video, int]]:
    return [(v, t) for v in videos for t in range(1, len(v.frames), step)]


def validate_decoder(decoder: MaskDecoder, frames: list[tuple[Video, int]],
                     method: str, device: torch.device) -> float:
    """Mean IoU over validation frames of the decoded teacher scores of `method`."""
    ious = []
    with torch.no_grad():
        for video, t in frames:
            levels = frame_levels(video, t, device)
            scores = _to(video.teachers[method][t:t + 1, None].astype(np.float32), device)
            target = _to(video.masks[t:t + 1, None].astype(np.float32), device)
            ious += batch_iou(resize(decoder(levels, scores), target.shape[-2:]), target)
    return float(np.mean(ious))


def teacher_iou(frames: list[tuple[Video, int]], method: str) -> float:
    """The same frames' IoU of the teacher scores alone (bilinear upsampling, threshold 0.5)."""
    ious = []
    for video, t in frames:
        s = torch.from_numpy(video.teachers[method][t:t + 1, None].astype(np.float32))
        target = torch.from_numpy(video.masks[t:t + 1, None].astype(np.float32))
        ious += batch_iou(torch.logit(resize(s, target.shape[-2:]).clamp(1e-4, 1 - 1e-4)), target)
    return float(np.mean(ious))


def prompt_logits(encoder: PromptEncoder, decoder: MaskDecoder | None, levels: dict[int, torch.Tensor],
                  prompts: list[Prompt]) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores at stride 8, mask logits at stride 4) of a batch of prompts: decoded, or
    without a decoder the scores' log-odds upsampled."""
    scores = encoder(levels, encoder.prompt_maps(prompts, levels))
    if decoder is None:
        return scores, torch.logit(resize(scores, levels[4].shape[-2:]), eps=1e-4)
    return scores, decoder(levels, scores)


def prompt_loss(encoder: PromptEncoder, decoder: MaskDecoder | None, source: SampleSource,
                batch: int, device: torch.device) -> torch.Tensor:
    samples = [source.frame_sample() for _ in range(batch)]
    levels = _levels(samples, device)
    prompts = [random_prompt(source.rng, s.mask > 0.5) for s in samples]
    target = _to(np.stack([s.mask for s in samples])[:, None], device)
    scores, logits = prompt_logits(encoder, decoder, levels, prompts)
    coarse_target = F.adaptive_avg_pool2d(target, scores.shape[-2:])
    aux = F.binary_cross_entropy(scores.clamp(1e-5, 1 - 1e-5), coarse_target)
    return segmentation_loss(resize(logits, target.shape[-2:]), target) + 0.5 * aux


def validate_prompts(encoder: PromptEncoder, decoder: MaskDecoder | None, frames: list[tuple[Video, int]], device: torch.device) -> dict[str, float]:
    """Mean first-mask IoU from the true box and from one click at the interior point."""
    out: dict[str, list[float]] = {"box": [], "click": []}
    with torch.no_grad():
        for video, t in frames:
            mask = video.masks[t]
            if not mask.any():
                continue
            levels = frame_levels(video, t, device)
            target = _to(mask[None, None].astype(np.float32), device)
            prompts = [Prompt(mask.shape, box=mask_box(mask)), Prompt(mask.shape, positive=(interior_point(mask),))]
            _, logits = prompt_logits(encoder, decoder, levels, prompts)
            ious = batch_iou(resize(logits, target.shape[-2:]), target.expand(2, -1, -1, -1))
            out["box"].append(ious[0])
            out["click"].append(ious[1])
    return {k: float(np.mean(v)) for k, v in out.items()}
