"""LWL's trained network: feature reduction, label generator E and weight predictor W, the
learner's regularisation lambda, the decoder, and the optional box encoder B.

All run on our frozen backbone's features. The target module's input is the stride-16 level
reduced to `reduced_channels`; E and W share one mask feature extractor (the mask at stride
4, two strided convolutions to stride 16, a residual block) and map the mask to the
`encoding_channels` labels and positive per-element weights of the learner's loss. The
decoder is our mask decoder (engine/learned/decoder.py) reading the D-channel encoding in
place of a score map. The box encoder (paper Sec. 3.7) maps the box mask at stride 16 and the
reduced features, through two residual blocks, to a D-channel encoding that the decoder
turns into the first mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ...learned.decoder import DecoderShape, MaskDecoder
from ...learned.layers import ResBlock, ShapeRecord, conv3x3


@dataclass(frozen=True)
class LWLShape(ShapeRecord):
    """Architecture of an LWL network (stored in its weight file)."""

    feature_channels: tuple[int, int, int] = (24, 40, 112)  # backbone channels at strides 4, 8, 16
    reduced_channels: int = 64  # C: target-module input
    encoding_channels: int = 16  # D: target-module output, labels and weights
    kernel: int = 3  # of the target module
    mask_width: int = 32  # mask feature extractor
    init_reg: float = 1e-2  # lambda at initialisation (learned, kept positive)
    box_encoder: bool = False  # has a (trained) box encoder
    box_width: int = 64
    # the decoder (DecoderShape fields)
    width16: int = 48
    width8: int = 32
    width4: int = 16
    dropout: float = 0.1
    semantic: bool = False

    def decoder_shape(self) -> DecoderShape:
        return DecoderShape(feature_channels=self.feature_channels, width16=self.width16, width8=self.width8,
                            width4=self.width4, dropout=self.dropout, semantic=self.semantic,
                            score_channels=self.encoding_channels)


class MaskEncoder(nn.Module):
    """Masks (N, 1, H, W) in [0, 1] -> labels and weights (N, D, h, w) on a stride-16 grid."""

    def __init__(self, width: int, channels: int):
        super().__init__()
        self.down8 = nn.Conv2d(1, width // 2, 3, stride=2, padding=1)
        self.down16 = nn.Conv2d(width // 2, width, 3, stride=2, padding=1)
        self.block = ResBlock(width)
        self.label = conv3x3(width, channels)
        self.weight = conv3x3(width, channels)

    def forward(self, masks: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        m = F.adaptive_avg_pool2d(masks.to(self.down8.weight.dtype), (4 * size[0], 4 * size[1]))
        x = self.block(F.relu(self.down16(F.relu(self.down8(m)))))
        return self.label(x), F.softplus(self.weight(x))


class BoxEncoder(nn.Module):
    """Box mask at stride 16 + reduced features -> a D-channel encoding of the object."""

    def __init__(self, reduced: int, width: int, channels: int):
        super().__init__()
        self.enter = conv3x3(reduced + 1, width)
        self.blocks = nn.Sequential(ResBlock(width), ResBlock(width))
        self.out = conv3x3(width, channels)

    @staticmethod
    def box_maps(boxes: list[tuple[int, int, int, int]], image_size: tuple[int, int],
                 grid: tuple[int, int], device: torch.device) -> torch.Tensor:
        """(N, 1, h, w) share of each grid cell inside each box (x0, y0, x1, y1) in pixels
        of an image of `image_size` (H, W)."""
        full = torch.zeros(len(boxes), 1, *image_size, device=device)
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            full[i, 0, y0:y1, x0:x1] = 1
        return F.adaptive_avg_pool2d(full, grid)

    def forward(self, reduced: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """reduced (N, C, h, w); boxes (N, 1, h, w) box maps on the same grid."""
        return self.out(self.blocks(F.relu(self.enter(torch.cat([reduced, boxes], 1)))))


class LWLNet(nn.Module):
    kind = "lwl"

    def __init__(self, shape: LWLShape = LWLShape()):
        super().__init__()
        self.shape = shape
        c16 = shape.feature_channels[2]
        self.reduce1 = nn.Conv2d(c16, shape.reduced_channels, 1)
        self.reduce2 = conv3x3(shape.reduced_channels, shape.reduced_channels)
        self.mask_encoder = MaskEncoder(shape.mask_width, shape.encoding_channels)
        self.log_reg = nn.Parameter(torch.tensor(float(shape.init_reg)).log())
        self.decoder = MaskDecoder(shape.decoder_shape())
        self.box_encoder = BoxEncoder(shape.reduced_channels, shape.box_width, shape.encoding_channels) \
            if shape.box_encoder else None

    @property
    def reg(self) -> torch.Tensor:
        """lambda of the learner's loss."""
        return self.log_reg.exp()

    def reduce(self, stride16: torch.Tensor) -> torch.Tensor:
        """(N, c16, h, w) backbone features -> (N, C, h, w) target-module features."""
        return self.reduce2(F.relu(self.reduce1(stride16)))

    def zero_module(self, *lead: int, like: torch.Tensor) -> torch.Tensor:
        """tau^0 = 0 of shape (*lead, D, C, k, k)."""
        s = self.shape
        return like.new_zeros(*lead, s.encoding_channels, s.reduced_channels, s.kernel, s.kernel)

    def box_mask(self, levels: dict[int, torch.Tensor], box: tuple[int, int, int, int],
                 image_size: tuple[int, int]) -> torch.Tensor:
        """(H/4, W/4) first-mask probability of the object in a box (x0, y0, x1, y1) px of one
        image of `image_size`, by the box encoder and the decoder."""
        reduced = self.reduce(levels[16].float())
        boxes = self.box_encoder.box_maps([box], image_size, tuple(reduced.shape[-2:]), reduced.device)
        logits = self.decode(self.decoder.encode(levels), self.box_encoder(reduced, boxes))
        return torch.sigmoid(logits[0, 0])

    def decode(self, encoded: tuple[torch.Tensor, ...], encoding: torch.Tensor) -> torch.Tensor:
        """Per-frame decoder projections + (K, D, h, w) encodings -> (K, 1, H/4, W/4) logits."""
        return self.decoder.decode(encoded, encoding)
