"""The prompt encoder: a box and/or clicks + backbone features -> a first-frame score map.

Modelled on LWL's box encoder: the prompt, drawn as maps at stride 16 (box mask, positive
and negative click maps), is concatenated with reduced features, passed through two
residual blocks, refined at stride 8, and turned into a score map in [0, 1] that the mask
decoder decodes into the first mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .layers import ResBlock, ShapeRecord, conv3x3, resize

PROMPT_CHANNELS = 3  # box mask, positive clicks, negative clicks


@dataclass(frozen=True)
class PromptShape(ShapeRecord):
    """Architecture of a prompt encoder (stored in its weight file)."""

    feature_channels: tuple[int, int] = (40, 112)  # backbone channels at strides 8, 16
    width16: int = 64
    width8: int = 32
    click_sigma: float = 1.5  # click map spread, in stride-16 cells
    # trained through the mask decoder (its scores are decoded), else its scores are the mask
    decoded: bool = False


@dataclass
class Prompt:
    """A box (x, y, w, h) and/or clicks (x, y), in pixels of an image of `image_size` (H, W)."""

    image_size: tuple[int, int]
    box: tuple[float, float, float, float] | None = None
    positive: tuple[tuple[float, float], ...] = ()
    negative: tuple[tuple[float, float], ...] = ()

    def maps(self, size: tuple[int, int], sigma: float) -> np.ndarray:
        """(3, h, w) float32 prompt maps on a grid of `size` covering the image."""
        h, w = size
        height, width = self.image_size
        sy, sx = h / height, w / width
        out = np.zeros((PROMPT_CHANNELS, h, w), np.float32)
        if self.box is not None:
            x, y, bw, bh = self.box
            x0, y0 = x * sx, y * sy
            x1, y1 = (x + bw) * sx, (y + bh) * sy
            # fractional coverage of each cell by the box
            cx = np.clip(np.minimum(np.arange(w) + 1, x1) - np.maximum(np.arange(w), x0), 0, 1)
            cy = np.clip(np.minimum(np.arange(h) + 1, y1) - np.maximum(np.arange(h), y0), 0, 1)
            out[0] = cy[:, None] * cx[None, :]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
        for channel, points in ((1, self.positive), (2, self.negative)):
            for px, py in points:
                d2 = (xx - px * sx) ** 2 + (yy - py * sy) ** 2
                out[channel] = np.maximum(out[channel], np.exp(-d2 / (2 * sigma ** 2)))
        return out


class PromptEncoder(nn.Module):
    """Prompt maps (N, 3, h16, w16) + features {8, 16} -> score map (N, 1, H/8, W/8) in [0, 1]."""

    kind = "prompt_encoder"

    def __init__(self, shape: PromptShape = PromptShape()):
        super().__init__()
        self.shape = shape
        c8, c16 = shape.feature_channels
        self.project16 = nn.Conv2d(c16, shape.width16, 1)
        self.project8 = nn.Conv2d(c8, shape.width8, 1)
        self.enter16 = conv3x3(shape.width16 + PROMPT_CHANNELS, shape.width16)
        self.blocks16 = nn.Sequential(ResBlock(shape.width16), ResBlock(shape.width16))
        self.enter8 = conv3x3(shape.width16 + shape.width8 + PROMPT_CHANNELS, shape.width8)
        self.block8 = ResBlock(shape.width8)
        self.head = conv3x3(shape.width8, 1)

    def forward(self, levels: dict[int, torch.Tensor], prompt_maps: torch.Tensor) -> torch.Tensor:
        f16, f8 = levels[16], levels[8]
        n = prompt_maps.shape[0]
        if f16.shape[0] != n:
            f16, f8 = f16.expand(n, -1, -1, -1), f8.expand(n, -1, -1, -1)
        x = torch.cat([F.relu(self.project16(f16)), resize(prompt_maps, f16.shape[-2:])], 1)
        x = self.blocks16(F.relu(self.enter16(x)))
        x = resize(x, f8.shape[-2:])
        x = torch.cat([x, F.relu(self.project8(f8)), resize(prompt_maps, f8.shape[-2:])], 1)
        x = self.block8(F.relu(self.enter8(x)))
        return torch.sigmoid(self.head(x))

    def prompt_maps(self, prompts: list[Prompt], levels: dict[int, torch.Tensor]) -> torch.Tensor:
        """The (N, 3, h16, w16) maps of `prompts` on the stride-16 grid of `levels`."""
        size = tuple(levels[16].shape[-2:])
        maps = np.stack([p.maps(size, self.shape.click_sigma) for p in prompts])
        return torch.from_numpy(maps).to(levels[16].device)
