"""The mask decoder: a method's coarse per-object score map + backbone features -> mask logits.

Shaped after FRTM-VOS's segmentation network S: the score map is encoded together with the
backbone's stride-16 features, then refined over strides 8 and 4, each stage mixing in that
stride's features and the score map again, with channel attention at the coarsest stage.
The feature projections are computed once per frame and shared by all objects; only the
stages that see an object's scores run per object (batched).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ChannelAttention, ResBlock, ShapeRecord, conv3x3, resize


@dataclass(frozen=True)
class DecoderShape(ShapeRecord):
    """Architecture of a decoder (stored in its weight file)."""

    feature_channels: tuple[int, int, int] = (24, 40, 112)  # backbone channels at strides 4, 8, 16
    width16: int = 48
    width8: int = 32
    width4: int = 16
    dropout: float = 0.2  # of the feature projections, in training
    # use the stride-16 (semantic) features; off, the coarsest stage sees pooled stride-8
    # features only (less to memorise about the training objects' categories)
    semantic: bool = False
    # the stride-16 stage (wide context, channel attention); off, the decoder is a local
    # refiner over strides 8 and 4 only
    coarse_stage: bool = True
    # channels of the coarse input: 1 = a score map in [0, 1] (the output corrects its
    # log-odds); more = a learned encoding (e.g. LWL's target-module output), no prior
    score_channels: int = 1


class MaskDecoder(nn.Module):
    """Coarse scores (K, 1, h, w) in [0, 1] (or a (K, score_channels, h, w) encoding) +
    features {4, 8, 16} -> logits (K, 1, H/4, W/4)."""

    kind = "decoder"

    def __init__(self, shape: DecoderShape = DecoderShape()):
        super().__init__()
        self.shape = shape
        c4, c8, c16 = shape.feature_channels
        cs = shape.score_channels
        self.project16 = nn.Conv2d(c16 if shape.semantic else shape.width8, shape.width16, 1)
        self.project8 = nn.Conv2d(c8, shape.width8, 1)
        self.project4 = nn.Conv2d(c4, shape.width4, 1)
        self.enter16 = conv3x3(shape.width16 + cs, shape.width16)
        self.block16 = ResBlock(shape.width16)
        self.attention16 = ChannelAttention(shape.width16)
        self.enter8 = conv3x3((shape.width16 if shape.coarse_stage else 0) + shape.width8 + cs, shape.width8)
        self.block8 = ResBlock(shape.width8)
        self.enter4 = conv3x3(shape.width8 + shape.width4 + cs, shape.width4)
        self.block4 = conv3x3(shape.width4, shape.width4)
        self.head = conv3x3(shape.width4, 1)
        # the output is a correction of the input scores' log-odds: at initialisation the
        # decoder returns the (upsampled) scores, and training learns where to change them
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        if cs == 1:
            self.score_gain = nn.Parameter(torch.ones(1))
        self.dropout = nn.Dropout2d(shape.dropout)

    def encode(self, levels: dict[int, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-frame projections of the backbone levels (shared by every object of the frame)."""
        g8 = self.dropout(F.relu(self.project8(levels[8])))
        coarse = levels[16] if self.shape.semantic else F.avg_pool2d(g8, 2, ceil_mode=True)
        return (self.dropout(F.relu(self.project16(coarse))), g8, self.dropout(F.relu(self.project4(levels[4]))))

    def decode(self, encoded: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
               scores: torch.Tensor) -> torch.Tensor:
        """encoded: `encode`'s output for one frame (batch 1) or one per object (batch K);
        scores: (K, 1, h, w) probabilities (or (K, score_channels, h, w) encodings) at any
        resolution. Returns (K, 1, H/4, W/4) logits."""
        g16, g8, g4 = encoded
        k = scores.shape[0]
        if g16.shape[0] != k:
            g16, g8, g4 = (g.expand(k, -1, -1, -1) for g in (g16, g8, g4))
        scores = scores.to(g8.dtype)  # the network's dtype
        parts8 = [g8, resize(scores, g8.shape[-2:])]
        if self.shape.coarse_stage:
            x = F.relu(self.enter16(torch.cat([g16, resize(scores, g16.shape[-2:])], 1)))
            x = self.attention16(self.block16(x))
            parts8.insert(0, resize(x, g8.shape[-2:]))
        x = F.relu(self.enter8(torch.cat(parts8, 1)))
        x = self.block8(x)
        scores4 = resize(scores, g4.shape[-2:])
        x = resize(x, g4.shape[-2:])
        x = F.relu(self.enter4(torch.cat([x, g4, scores4], 1)))
        x = F.relu(self.block4(x))
        if self.shape.score_channels != 1:
            return self.head(x)
        return self.head(x) + self.score_gain * torch.logit(scores4, eps=0.01)

    def forward(self, levels: dict[int, torch.Tensor], scores: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(levels), scores)
